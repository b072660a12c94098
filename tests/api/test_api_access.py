"""Who sees what through the API (SQLite and PostgreSQL), table-driven over
the scenario of tests/support/scenario.py and a key per party: invoices
(list and one: 200 or 404, never 403), events (a participant's name it),
decisions (a financier's own), reports (by role), authentication (401 for
anything but an active key, `X-API-Key` too), keys never echoed or logged,
roles judged as indexed now, and financiers seeing what is listed to them
only while the listing stands.

Scenario: 1 supplier -> buyer, financed by the financier (holder) and partly
repaid; 2 supplier -> buyer2, confirmed (held by the supplier); 3 supplier2
-> buyer, cancelled (no holder); 4 supplier -> buyer, paid (held by the
supplier)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

from click.testing import CliRunner
from support.api import assert_problem, ids
from support.lifecycle import Lifecycle
from support.scenario import BUYER, BUYER2, FINANCIER, SUPPLIER, SUPPLIER2, index

from ledger.api.keys import create_key, revoke_key
from ledger.cli import main
from ledger.config import REPO_ROOT
from ledger.db.session import get_engine
from ledger.lifecycle_inputs import parse_roles
from ledger.names import DEV_ADDRESSES as ADDR

FINANCIER2 = "Victoria Peak Capital Ltd"
AUDITOR = "Central Audit Partners"
POLICY = REPO_ROOT / "examples" / "policy.toml"

#: Invoice ids each key may see.
VISIBLE: dict[str, set[int]] = {
    "operator": {1, 2, 3, 4},
    "auditor": {1, 2, 3, 4},
    "supplier": {1, 2, 4},  # issued all three; sold 1 (its reserve is in it), holds 2 and 4
    "supplier2": {3},  # issued it
    "buyer": {1, 3, 4},  # owes them
    "buyer2": {2},
    "financier": {1},  # its book
    "financier2": set(),
}
#: Registered name and roles behind each key (the operator key has no party).
PARTY: dict[str, tuple[str | None, list[str]]] = {
    "operator": (None, ["operator"]),
    "auditor": (AUDITOR, ["auditor"]),
    "supplier": (SUPPLIER, ["supplier"]),
    "supplier2": (SUPPLIER2, ["supplier"]),
    "buyer": (BUYER, ["buyer"]),
    "buyer2": (BUYER2, ["buyer"]),
    "financier": (FINANCIER, ["financier"]),
    "financier2": (FINANCIER2, ["financier"]),
}
SEES_ALL = ("operator", "auditor")
PARTICIPANTS = [who for who in VISIBLE if who not in SEES_ALL]
UNKNOWN_ID = 99


def engine_of(api: Any) -> Any:
    return get_engine(api.env.settings.database_url)


# -- invoices ----------------------------------------------------------------------------------------------
def test_access_matrix_invoices(api: Any) -> None:
    for who, visible in VISIBLE.items():
        assert ids(api.get(who, "/api/invoices")) == sorted(visible), who
        assert ids(api.get(who, "/api/invoices", limit=1)) == sorted(visible)[:1], who
        for invoice_id in (1, 2, 3, 4, UNKNOWN_ID):
            for suffix in ("", "/history", "/tree"):
                got = api.get(who, f"/api/invoices/{invoice_id}{suffix}")
                if invoice_id in visible:
                    assert got.status_code == 200, (who, invoice_id, suffix, got.text)
                else:
                    # Never 403: another party's invoice is as unknown as an id never issued.
                    body = assert_problem(got, 404)
                    assert body["detail"] == f"no invoice {invoice_id} that this key may see", (who, body)
            events = api.get(who, "/api/events", invoice_id=invoice_id)
            if invoice_id in visible:
                assert events.status_code == 200 and events.json(), (who, invoice_id)
                assert {e["invoice_id"] for e in events.json()} == {invoice_id}
            else:
                assert_problem(events, 404)
    # Filters narrow what a key sees; they never widen it.
    assert ids(api.get("buyer2", "/api/invoices", supplier=SUPPLIER)) == [2]
    assert ids(api.get("buyer", "/api/invoices", buyer=BUYER2)) == []
    assert ids(api.get("financier2", "/api/invoices", status="Confirmed,PartiallyPaid,Paid,Cancelled")) == []
    assert ids(api.get("supplier2", "/api/invoices", supplier=SUPPLIER)) == []
    assert ids(api.get("supplier", "/api/invoices", holder=FINANCIER)) == [1]
    assert ids(api.get("financier", "/api/invoices", number="INV-Q-2")) == []


def test_access_me_per_key(api: Any) -> None:
    for who, (name, roles) in PARTY.items():
        me = api.get(who, "/api/me").json()
        assert me["key_id"] == api.key_ids[who]
        assert me["roles"] == roles and me["sees_all"] is (who in SEES_ALL), (who, me)
        if who == "operator":
            assert (me["kind"], me["party"], me["name"]) == ("operator", None, "operator key")
        else:
            assert me["kind"] == "participant"
            assert me["party"] == {"address": ADDR[who], "name": name} and me["name"] == name


# -- events ------------------------------------------------------------------------------------------------
def test_access_events_name_the_party(api: Any) -> None:
    everything = api.get("operator", "/api/events", limit=500).json()
    assert api.get("auditor", "/api/events", limit=500).json() == everything
    for who in PARTICIPANTS:
        me = ADDR[who]
        got = api.get(who, "/api/events", limit=500)
        assert got.status_code == 200, (who, got.text)
        events = got.json()
        assert events, who
        for event in events:
            assert me in [p["address"] for p in event["parties"]], (who, event["event"], event["parties"])
        naming = [e for e in everything if me in [p["address"] for p in e["parties"]]]
        assert events == naming, who
        # Its own party, by name or address, is the same list; anyone else's is refused.
        name = PARTY[who][0]
        assert api.get(who, "/api/events", limit=500, party=name).json() == events
        assert api.get(who, "/api/events", limit=500, party=me.lower()).json() == events
        other = "buyer" if who != "buyer" else "supplier"
        assert_problem(api.get(who, "/api/events", party=ADDR[other]), 403, "its own party")
        assert_problem(api.get(who, "/api/events", party=PARTY[other][0]), 403)
    # The operator and auditors may ask for anyone's.
    for who in SEES_ALL:
        financed = api.get(who, "/api/events", party=FINANCIER, limit=500).json()
        assert financed and all(ADDR["financier"] in [p["address"] for p in e["parties"]] for e in financed)
    # Nothing names financier2 but its admission and its funding.
    assert {e["event"] for e in api.get("financier2", "/api/events", limit=500).json()} <= {
        "ParticipantAdmitted",
        "RoleGranted",
        "Transfer",
        "Approval",
    }


# -- decisions -------------------------------------------------------------------------------------------
def _quote(api: Any, invoice_id: int, who: str) -> int:
    """`scf finance quote ID --as WHO --json` on the API's database; the decision id."""
    env = api.env
    result = CliRunner().invoke(
        main,
        ["--home", str(env.home), "--rpc-url", env.rpc_url, "--db-url", str(env.settings.db_url)]
        + ["finance", "quote", str(invoice_id), "--as", who, "--policy", str(POLICY), "--json"],
    )
    assert result.exit_code == 0, result.output
    return int(json.loads(result.output)["decision_id"])


def test_access_decisions(api: Any) -> None:
    mine = _quote(api, 2, "financier")
    theirs = _quote(api, 2, "financier2")
    for who in SEES_ALL:
        got = api.get(who, "/api/decisions")
        assert got.status_code == 200, got.text
        assert sorted(d["decision_id"] for d in got.json()) == [mine, theirs]
        assert [d["decision_id"] for d in api.get(who, "/api/decisions", financier=FINANCIER2).json()] == [theirs]
        assert api.get(who, f"/api/decisions/{mine}").json()["financier"]["name"] == FINANCIER
    own = api.get("financier", "/api/decisions").json()
    assert [d["decision_id"] for d in own] == [mine]
    assert own[0]["financier"] == {"address": ADDR["financier"], "name": FINANCIER}
    assert own[0]["invoice_id"] == 2 and own[0]["status"] in ("approved", "declined")
    assert [d["decision_id"] for d in api.get("financier", "/api/decisions", financier=FINANCIER).json()] == [mine]
    assert [d["decision_id"] for d in api.get("financier2", "/api/decisions").json()] == [theirs]
    assert api.get("financier", f"/api/decisions/{mine}").status_code == 200
    assert_problem(api.get("financier", "/api/decisions", financier=FINANCIER2), 403)
    assert_problem(api.get("financier", f"/api/decisions/{theirs}"), 404)
    assert_problem(api.get("financier2", f"/api/decisions/{mine}"), 404)
    assert_problem(api.get("operator", f"/api/decisions/{UNKNOWN_ID}"), 404)
    for who in ("supplier", "supplier2", "buyer", "buyer2"):
        assert_problem(api.get(who, "/api/decisions"), 403, "financier")
        assert_problem(api.get(who, f"/api/decisions/{mine}"), 403)


# -- reports -----------------------------------------------------------------------------------------------
def test_access_reports(api: Any) -> None:
    for who in SEES_ALL:
        exposure = api.get(who, "/api/reports/exposure").json()
        assert exposure["financier"] is None and [r["name"] for r in exposure["rows"]] == [BUYER]
        assert [f["name"] for f in api.get(who, "/api/reports/portfolio").json()["financiers"]] == [FINANCIER]
        aging = api.get(who, "/api/reports/aging").json()
        assert aging["holder"] is None and [t["total"] for t in aging["totals"]] == ["179999.90"]
    # A financier: its own book.
    exposure = api.get("financier", "/api/reports/exposure", by="supplier").json()
    assert exposure["financier"] == ADDR["financier"]
    assert [(r["name"], r["outstanding"]) for r in exposure["rows"]] == [(SUPPLIER, "93749.90")]
    portfolio = api.get("financier", "/api/reports/portfolio").json()
    assert portfolio["financier"] == ADDR["financier"]
    assert [t["advanced"] for t in portfolio["rows"]] == ["112500.00"]
    assert api.get("financier2", "/api/reports/exposure").json()["rows"] == []
    assert api.get("financier2", "/api/reports/portfolio").json()["rows"] == []
    # Aging is of what the key's party holds.
    aging = {who: api.get(who, "/api/reports/aging").json() for who in PARTICIPANTS}
    assert aging["financier"]["holder"] == ADDR["financier"]
    assert [t["total"] for t in aging["financier"]["totals"]] == ["99999.90"]
    assert [t["total"] for t in aging["supplier"]["totals"]] == ["80000.00"]
    assert [r["name"] for r in aging["supplier"]["rows"]] == [BUYER2]
    for who in ("supplier2", "buyer", "buyer2", "financier2"):
        assert aging[who]["holder"] == ADDR[who] and aging[who]["rows"] == [], who
    # Suppliers and buyers have no book: 403.
    for who in ("supplier", "supplier2", "buyer", "buyer2"):
        for report in ("exposure", "portfolio"):
            assert_problem(api.get(who, f"/api/reports/{report}"), 403)


# -- authentication ---------------------------------------------------------------------------------------
def test_access_authentication(api: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    client = api.client
    seen: list[str] = []

    def get(path: str, headers: dict[str, str]) -> Any:
        response = client.get(path, headers=headers)
        seen.append(response.text + json.dumps(dict(response.headers)))
        return response

    supplier = api.secrets["supplier"]
    key_id = api.key_ids["supplier"]
    with engine_of(api).begin() as conn:
        revoked, revoked_secret = create_key(conn, participant=ADDR["buyer"], label="revoked")
        revoke_key(conn, revoked.key_id)
        past = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
        _, expired_secret = create_key(
            conn, participant=ADDR["buyer"], label="expired", expires_at=past + dt.timedelta(days=1), now=past
        )
        _, later_secret = create_key(
            conn,
            participant=ADDR["buyer"],
            label="expires later",
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
        )
    bad = {
        "no key": {},
        "empty bearer": {"Authorization": "Bearer "},
        "other scheme": {"Authorization": f"Basic {supplier}"},
        "no scheme": {"Authorization": supplier},
        "garbled": {"Authorization": "Bearer not-a-key"},
        "unknown id": {"Authorization": f"Bearer scf_00000000_{supplier[-43:]}"},
        "wrong secret": {"Authorization": f"Bearer scf_{key_id}_{'A' * 43}"},
        "truncated": {"Authorization": f"Bearer {supplier[:-1]}"},
        "extended": {"Authorization": f"Bearer {supplier}x"},
        "revoked": {"Authorization": f"Bearer {revoked_secret}"},
        "expired": {"Authorization": f"Bearer {expired_secret}"},
        "bad x-api-key": {"X-API-Key": "scf_zzzz"},
        "revoked x-api-key": {"X-API-Key": revoked_secret},
    }
    for case, headers in bad.items():
        for path in ("/api/me", "/api/invoices", "/api/invoices/1", "/api/reports/aging", "/api/events"):
            got = get(path, headers)
            assert got.status_code == 401, (case, path, got.text)
            assert_problem(got, 401)
            assert got.headers["www-authenticate"].startswith("Bearer"), case
    # The good ways in.
    me = get("/api/me", {"Authorization": f"Bearer {supplier}"}).json()
    assert me["key_id"] == key_id
    assert get("/api/me", {"Authorization": f"bearer  {supplier} "}).json() == me
    assert get("/api/me", {"X-API-Key": supplier}).json() == me
    assert ids(get("/api/invoices", {"X-API-Key": supplier})) == [1, 2, 4]
    assert ids(get("/api/invoices", {"Authorization": f"Bearer {later_secret}"})) == [1, 3, 4]
    # Health needs no key.
    assert client.get("/api/health").json() == {"status": "ok"}
    # No response and no log line carries a secret.
    secrets = [*api.secrets.values(), revoked_secret, expired_secret, later_secret]
    for who in api.secrets:
        for path in ("/api/me", "/api/invoices", "/api/events?limit=500", "/api/status", "/api/participants"):
            get(path, api.headers(who))
    get("/openapi.json", {})
    for text in seen:
        for secret in secrets:
            assert secret not in text and secret[len("scf_12345678_") :] not in text
    for secret in secrets:
        assert secret[len("scf_12345678_") :] not in caplog.text


def test_access_key_of_an_unregistered_address_sees_nothing(api: Any) -> None:
    with engine_of(api).begin() as conn:
        _, secret = create_key(conn, participant=ADDR["dev8"], label="dev8 key")
    headers = {"Authorization": f"Bearer {secret}"}

    def get(path: str, **params: Any) -> Any:
        return api.client.get(path, headers=headers, params=params)

    me = get("/api/me").json()
    assert (me["kind"], me["roles"], me["sees_all"], me["name"]) == ("participant", [], False, "dev8 key")
    assert me["party"] == {"address": ADDR["dev8"], "name": "dev8 key"}
    assert ids(get("/api/invoices")) == []
    for invoice_id in (1, 2, 3, 4):
        assert_problem(get(f"/api/invoices/{invoice_id}"), 404)
        assert_problem(get("/api/events", invoice_id=invoice_id), 404)
    assert get("/api/events").json() == []
    assert_problem(get("/api/events", party=SUPPLIER), 403)
    assert_problem(get("/api/decisions"), 403)
    assert_problem(get("/api/reports/exposure"), 403)
    assert_problem(get("/api/reports/portfolio"), 403)
    assert get("/api/reports/aging").json()["rows"] == []


# -- judged now ---------------------------------------------------------------------------------------------
def test_access_roles_judged_as_indexed_now(api: Any, ledger: Any, acct: Any) -> None:
    """The same keys, after the operator changes roles on chain and the index catches up."""
    operator = acct("operator")
    ledger.update_participant(operator, ADDR["supplier2"], roles=parse_roles("buyer"))
    ledger.update_participant(operator, ADDR["buyer2"], roles=parse_roles("buyer,auditor"))
    # Not yet indexed: still judged by the roles as indexed.
    assert ids(api.get("supplier2", "/api/invoices")) == [3]
    assert ids(api.get("buyer2", "/api/invoices")) == [2]
    index(api.env.settings)
    me = api.get("supplier2", "/api/me").json()
    assert (me["roles"], me["sees_all"]) == (["buyer"], False)
    # No longer a supplier: its issued (and burnt) invoice is gone; it buys nothing.
    assert ids(api.get("supplier2", "/api/invoices")) == []
    assert_problem(api.get("supplier2", "/api/invoices/3"), 404)
    # An auditor now: the whole ledger.
    me = api.get("buyer2", "/api/me").json()
    assert (sorted(me["roles"]), me["sees_all"]) == (["auditor", "buyer"], True)
    assert ids(api.get("buyer2", "/api/invoices")) == [1, 2, 3, 4]
    assert api.get("buyer2", "/api/decisions").status_code == 200
    assert api.get("buyer2", "/api/reports/exposure").json()["rows"]
    assert api.get("buyer2", "/api/events", party=FINANCIER).status_code == 200


def test_access_financier_sees_listings_while_they_stand(api: Any, ledger: Any, acct: Any) -> None:
    book = Lifecycle(ledger, acct)

    def seen() -> dict[str, list[int]]:
        index(api.env.settings)
        return {who: ids(api.get(who, "/api/invoices")) for who in ("financier", "financier2", "buyer", "supplier2")}

    # Listed to financier2 by name: financier2 sees it, the other financier does not.
    book.offer(2, FINANCIER2, "1000.00", 7)
    assert seen() == {"financier": [1], "financier2": [2], "buyer": [1, 3, 4], "supplier2": [3]}
    assert api.get("financier2", "/api/invoices/2").status_code == 200
    (listed,) = api.get("financier2", "/api/invoices").json()["items"]
    assert listed["listed"] is True
    assert listed["offer_to"] == {"address": ADDR["financier2"], "name": FINANCIER2}
    assert listed["offer_asking"] == "1000.00" and re.search(r"[+-]\d\d:\d\d$", listed["offer_until"])
    assert_problem(api.get("financier", "/api/invoices/2"), 404)
    # Withdrawn: gone again.
    ledger.withdraw_offer(acct("supplier"), 2)
    assert seen()["financier2"] == []
    assert_problem(api.get("financier2", "/api/invoices/2"), 404)
    # Listed to any financier for a day: every financier sees it, no one else.
    book.offer(2, None, "1000.00", 1)
    assert seen() == {"financier": [1, 2], "financier2": [2], "buyer": [1, 3, 4], "supplier2": [3]}
    assert api.get("financier", "/api/invoices/2").status_code == 200
    (listed,) = api.get("financier", "/api/invoices", status="Confirmed").json()["items"]
    assert (listed["invoice_id"], listed["listed"], listed["offer_to"]) == (2, True, None)
    assert [e["event"] for e in api.get("financier2", "/api/events", invoice_id=2).json()].count(
        "FinancingOffered"
    ) == 2
    # The receivable changes hands: the listing ends with it.
    book.transfer(2, "supplier", "supplier2")
    assert seen() == {"financier": [1], "financier2": [], "buyer": [1, 3, 4], "supplier2": [2, 3]}
    # Listed again by its new holder, to any financier, for a day.
    book.offer(2, None, "1000.00", 1, holder="supplier2")
    assert seen() == {"financier": [1, 2], "financier2": [2], "buyer": [1, 3, 4], "supplier2": [2, 3]}
    # Expired: gone, though the listing is still stored.
    book.travel(2 * 86_400)
    assert seen() == {"financier": [1], "financier2": [], "buyer": [1, 3, 4], "supplier2": [2, 3]}
    assert_problem(api.get("financier", "/api/invoices/2"), 404)
    (stored,) = api.get("operator", "/api/invoices", number="INV-Q-2").json()["items"]
    assert (stored["listed"], stored["offer_until"]) == (False, None)


def test_access_a_listing_ends_when_the_receivable_is_paid_in_full(api: Any, ledger: Any, acct: Any) -> None:
    """The contract keeps a listing stored when a repayment pays the receivable in full (finance is refused
    from then on): the ledger shows it as no longer listed, and the financiers it was open to no longer
    see the invoice, though the stored columns still equal the chain's."""
    book = Lifecycle(ledger, acct)
    book.offer(2, None, "1000.00", 7)
    index(api.env.settings)
    assert ids(api.get("financier", "/api/invoices")) == [1, 2]
    (before,) = api.get("operator", "/api/invoices", number="INV-Q-2").json()["items"]
    assert (before["status"], before["listed"]) == ("Confirmed", True)
    book.repay(2, before["outstanding"], buyer="buyer2")
    index(api.env.settings)
    (paid,) = api.get("operator", "/api/invoices", number="INV-Q-2").json()["items"]
    assert (paid["status"], paid["outstanding"]) == ("Paid", "0.00")
    assert (paid["listed"], paid["offer_to"], paid["offer_until"], paid["offer_asking"]) == (False, None, None, None)
    assert ids(api.get("financier", "/api/invoices")) == [1]
    assert_problem(api.get("financier", "/api/invoices/2"), 404)
    # Still stored on chain, and mirrored as stored: the database equals the chain.
    from ledger.indexer.verify import verify

    assert ledger.invoices.functions.getListing(2).call()[1] > 0, "the contract keeps the stored listing"
    report = verify(api.env.settings)
    assert report.mismatches == [], report.summary()
