"""The dashboard through the ASGI test client (SQLite and PostgreSQL): logging
in with a key (and not with a bad one), the session cookie's flags, CSRF,
pages per role with the API's access rules (another party's invoice: 404;
decisions: 403 for a non-financier), the overview's figures against the
API's and the CLI's reports (exact strings, also past 64 bits), policy
limits, KYC expiry, the multi-tier tree, paging and filters by the API's
query (no query per row), local assets only; and, on a real uvicorn, the
live stream of indexed blocks and a shutdown it does not hold up.

Scenario (tests/support/scenario.py): 1 supplier -> buyer, financed by the
financier and partly repaid; 2 supplier -> buyer2, confirmed; 3 supplier2
-> buyer, cancelled; 4 supplier -> buyer, paid."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil
import threading
import time
from decimal import Decimal
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from browser import serve
from click.testing import CliRunner
from support.lifecycle import Lifecycle
from support.scenario import BUYER2, FINANCIER, SUPPLIER2, index

from ledger.api.keys import revoke_key
from ledger.business_time import business_date
from ledger.cli import main
from ledger.config import REPO_ROOT
from ledger.db.models import INVOICES
from ledger.db.session import get_engine
from ledger.names import DEV_ADDRESSES as ADDR

POLICY = REPO_ROOT / "examples" / "policy.toml"
#: Invoice ids each key may see (as tests/api/test_api_access.py has them).
VISIBLE: dict[str, set[int]] = {
    "operator": {1, 2, 3, 4},
    "auditor": {1, 2, 3, 4},
    "supplier": {1, 2, 4},
    "supplier2": {3},
    "buyer": {1, 3, 4},
    "buyer2": {2},
    "financier": {1},
    "financier2": set(),
}
ROLES = tuple(VISIBLE)
DECIDERS = ("operator", "auditor", "financier", "financier2")


# -- helpers ---------------------------------------------------------------------------------------------
def client(api: Any) -> Any:
    """A browser of its own (its own cookie jar) on the test's app."""
    from fastapi.testclient import TestClient

    return TestClient(api.client.app)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def log_in(api: Any, who: str, next_: str = "/") -> Any:
    """A client logged in as ``who`` through the login form."""
    c = client(api)
    form = c.get("/login")
    r = c.post("/login", data={"csrf": csrf_of(form.text), "key": api.secrets[who], "next": next_})
    assert r.status_code == 200 and r.url.path == next_.split("?")[0], (r.status_code, r.url, r.text[-500:])
    return c


def page(c: Any, path: str, status: int = 200) -> str:
    r = c.get(path, follow_redirects=False)
    assert r.status_code == status, (path, r.status_code, r.text[-2000:])
    assert r.headers["content-type"].startswith("text/html")
    return str(r.text)


def kpi(text: str, name: str, currency: str = "hkd") -> str:
    found = re.search(rf'id="kpi-{name}-{currency}">.*?<data value="([^"]+)"', text, re.S)
    assert found, text
    return found.group(1)


def charts(text: str) -> dict[str, dict[str, Any]]:
    """The page's charts by id, from their JSON islands."""
    found = re.findall(r'<script type="application/json" id="(chart-[^"]+)-data">(.*?)</script>', text, re.S)
    return {key: json.loads(body) for key, body in found}


def listed(text: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="invoice-(\d+)">', text)]


def api_ids(api: Any, who: str, **params: Any) -> list[int]:
    r = api.get(who, "/api/invoices", limit=500, **params)
    assert r.status_code == 200, r.text
    return [item["invoice_id"] for item in r.json()["items"]]


def engine_of(api: Any) -> Any:
    return get_engine(api.env.settings.database_url)


# -- logging in and out ----------------------------------------------------------------------------------
def test_dashboard_login_with_a_key_sets_a_signed_http_only_lax_cookie(api: Any) -> None:
    c = client(api)
    form = c.get("/login?next=/invoices%3Fstatus%3DPaid")
    assert form.status_code == 200 and 'name="key"' in form.text and 'type="password"' in form.text
    token = csrf_of(form.text)
    bad = c.post("/login", data={"csrf": token, "key": "scf_00000000_" + "A" * 43, "next": "/"})
    assert bad.status_code == 401 and "unknown, expired or revoked" in bad.text
    assert c.get("/", follow_redirects=False).status_code == 303  # still logged out
    empty = c.post("/login", data={"csrf": token, "key": "  ", "next": "/"})
    assert empty.status_code == 401

    r = c.post(
        "/login",
        data={"csrf": token, "key": api.secrets["buyer"], "next": "/invoices?status=Paid"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/invoices?status=Paid"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("scf_session=")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=lax", "path=/"} <= flags, cookie
    assert api.secrets["buyer"] not in cookie  # the session holds the key id, signed, never the secret
    assert listed(page(c, "/invoices?status=Paid")) == [4]
    assert "Tsuen Wan Electronics Ltd" in page(c, "/")

    # A session cookie tampered with is no session; a login never goes to another site.
    forged = client(api)
    value = cookie.split(";")[0].split("=", 1)[1]
    forged.cookies.set("scf_session", value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB"))
    assert forged.get("/", follow_redirects=False).status_code == 303
    other = client(api)
    t = csrf_of(other.get("/login").text)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        r = other.post("/login", data={"csrf": t, "key": api.secrets["buyer"], "next": target}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/", target
        t = csrf_of(other.get("/login").text)


def test_dashboard_pages_without_a_session_go_to_the_login_page(api: Any) -> None:
    c = client(api)
    for path in ("/", "/invoices?status=Paid&limit=25", "/invoices/1", "/decisions", "/participants"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303, (path, r.status_code)
        assert r.headers["location"] == "/login?" + httpx.QueryParams({"next": path}).__str__()
    assert c.get("/live").status_code == 401
    # The API's answer stays a problem document, not a redirect.
    assert c.get("/api/invoices").status_code == 401


def test_dashboard_logout_and_a_revoked_key_end_the_session(api: Any) -> None:
    c = log_in(api, "financier")
    text = page(c, "/")
    r = c.post("/logout", data={"csrf": csrf_of(text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"
    assert c.get("/", follow_redirects=False).status_code == 303

    c = log_in(api, "buyer")
    page(c, "/invoices")
    with engine_of(api).begin() as conn:
        revoke_key(conn, api.key_ids["buyer"])
    r = c.get("/invoices", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert c.get("/live").status_code == 401


def test_dashboard_forms_refuse_a_missing_or_foreign_csrf_token(api: Any) -> None:
    c = log_in(api, "operator")
    token = csrf_of(page(c, "/"))
    for data in ({}, {"csrf": "x" + token}, {"csrf": ""}):
        r = c.post("/logout", data=data)
        assert r.status_code == 403 and "security token" in r.text, data
    r = c.post("/logout", data={"csrf": token}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "another site" in r.text
    page(c, "/")  # none of those logged it out

    # A login form posted with another session's token (login CSRF) is refused too.
    other = client(api)
    r = other.post("/login", data={"csrf": token, "key": api.secrets["operator"], "next": "/"})
    assert r.status_code == 403
    assert other.get("/", follow_redirects=False).status_code == 303


# -- access, per role -----------------------------------------------------------------------------------------
def test_dashboard_pages_per_role_follow_the_api_access_rules(api: Any) -> None:
    with engine_of(api).begin() as conn:
        from support.finance import POLICY as EXAMPLE_POLICY

        from ledger.finance.store import quote_in_db
        from ledger.queries import find_scope

        quote_in_db(conn, find_scope(conn, api.env.settings), 2, ADDR["financier"], EXAMPLE_POLICY)
    for who in ROLES:
        c = log_in(api, who)
        text = page(c, "/")
        assert 'aria-current="page">Overview' in text and 'id="who"' in text
        shown = listed(page(c, "/invoices"))
        assert shown == api_ids(api, who) == sorted(VISIBLE[who]), who
        for invoice_id in (1, 2, 3, 4):
            if invoice_id in VISIBLE[who]:
                assert f"Invoice {invoice_id} · INV-Q-{invoice_id}" in page(c, f"/invoices/{invoice_id}")
            else:  # as if it did not exist: the same page as for an id nobody has
                assert "no invoice" in page(c, f"/invoices/{invoice_id}", 404).lower()
        assert f"There is no invoice {99} that you may see." in page(c, "/invoices/99", 404)
        assert "There is no invoice abc" in page(c, "/invoices/abc", 404)
        for junk in ("-1", "0", str(2**64)):
            page(c, f"/invoices/{junk}", 404)
        participants = page(c, "/participants")
        assert participants.count('<tr class="kyc-') == len(api.get(who, "/api/participants").json())
        if who in DECIDERS:
            decisions = page(c, "/decisions")
            expected = api.get(who, "/api/decisions").json()
            assert re.findall(r'id="decision-(\d+)"', decisions) == [str(d["decision_id"]) for d in expected], who
        else:
            forbidden = page(c, "/decisions", 403)
            assert "Decisions are a financier&#39;s" in forbidden and "is not a financier" in forbidden
            assert api.get(who, "/api/decisions").status_code == 403


def test_dashboard_decisions_show_every_rule_with_inputs_and_reasons(api: Any) -> None:
    from support.finance import POLICY as EXAMPLE_POLICY

    from ledger.api.pages import _shown as shown
    from ledger.finance.store import quote_in_db
    from ledger.queries import find_scope

    with engine_of(api).begin() as conn:
        decision = quote_in_db(conn, find_scope(conn, api.env.settings), 2, ADDR["financier"], EXAMPLE_POLICY)
    record = api.get("financier", f"/api/decisions/{decision}").json()
    c = log_in(api, "financier")
    text = html.unescape(page(c, "/decisions"))
    article = text[text.index(f'id="decision-{decision}"') :]
    assert f"Decision {decision}:" in article and record["status"] in article and record["reason"] in article
    assert len(record["rules"]) > 5
    for rule in record["rules"]:
        assert f'<th scope="row">{rule["name"]}</th>' in article, rule["name"]
        assert rule["reason"] in article
        for key, value in rule["inputs"].items():
            assert f"<dt>{key}</dt><dd>{shown(value)}</dd>" in article, (rule["name"], key)
    # The tenor in days counts from the chain's clock (today), so it is read from the record, not fixed here.
    [days] = {rule["inputs"]["days"] for rule in record["rules"] if "days" in rule["inputs"]}
    assert isinstance(days, int) and days > 0
    assert f"<dt>days</dt><dd>{days}</dd>" in article and '<dt>accepted</dt><dd>["HKD"]</dd>' in article
    assert record["price"]["advance"] == "72000.00" and "HKD 72,000.00" in article
    # Filters: by status and invoice; a bad invoice id is a message, not a crash.
    assert f'id="decision-{decision}"' in page(c, f"/decisions?status={record['status']}&invoice_id=2")
    assert 'id="no-decisions"' in page(c, "/decisions?status=executed")
    assert "not an invoice id" in html.unescape(page(c, "/decisions?invoice_id=x2", 400))
    assert not re.search(r'id="decision-\d+"', page(log_in(api, "financier2"), "/decisions"))


# -- the overview ---------------------------------------------------------------------------------------------
def test_dashboard_overview_figures_equal_the_api_and_cli_reports(api: Any) -> None:
    for who in ("operator", "auditor", "financier"):
        text = page(log_in(api, who), "/")
        aging = api.get(who, "/api/reports/aging").json()
        exposure = api.get(who, "/api/reports/exposure").json()
        (aging_total,) = aging["totals"]
        (exposure_total,) = exposure["totals"]
        assert kpi(text, "outstanding") == aging_total["total"]
        assert kpi(text, "defaulted") == aging_total["defaulted"]
        assert kpi(text, "financed") == exposure_total["outstanding"] == "93749.90"
        overdue = [i for i in api.get(who, "/api/invoices", overdue="true").json()["items"]]
        assert kpi(text, "overdue") == str(sum((Decimal(i["outstanding"]) for i in overdue), Decimal("0.00")))
        drawn = charts(text)
        bars = drawn["chart-aging-hkd"]
        assert bars["datasets"][0]["values"] == [aging_total[b] for b in aging["buckets"]]
        assert bars["total"] == aging_total["total"]
        bars = drawn["chart-exposure-hkd"]
        assert bars["labels"] == [r["name"] for r in exposure["rows"]]
        assert bars["datasets"][0]["values"] == [r["outstanding"] for r in exposure["rows"]]
        assert [d["label"] for d in bars["datasets"]] == ["due to financiers", "pending decisions"]  # no policy
        assert sum(Decimal(v) for v in drawn["chart-financing-hkd"]["datasets"][0]["values"]) == Decimal("112500.00")
        due, paid = drawn["chart-collections-hkd"]["datasets"]
        # The scenario's invoices fall due in 2097-2099, beyond the chart's months; its payments are
        # this month's: 1,000.00 on 4 and 25,000.10 on 1 (the financier's book: 1 only).
        assert set(due["values"]) == {"0.00"} and len(due["values"]) == 24
        assert paid["values"][11] == ("26000.10" if who != "financier" else "25000.10")
        assert set(paid["values"][:11] + paid["values"][12:]) == {"0.00"}
    assert kpi(text, "outstanding") == "99999.90"  # the financier's book: what it holds

    # The CLI reports the same (scf report aging / exposure --json).
    env = api.env
    base = ["--home", str(env.home), "--rpc-url", env.rpc_url, "--db-url", str(env.settings.db_url), "report"]
    operator = page(log_in(api, "operator"), "/")
    result = CliRunner().invoke(main, [*base, "aging", "--json"])
    assert result.exit_code == 0, result.output
    assert kpi(operator, "outstanding") == json.loads(result.output)["totals"][0]["total"] == "179999.90"
    result = CliRunner().invoke(main, [*base, "exposure", "--json"])
    assert result.exit_code == 0, result.output
    assert kpi(operator, "financed") == json.loads(result.output)["totals"][0]["outstanding"]

    # Anyone else: what it may see. The buyer owes 1 (99,999.90 open); 3 is cancelled, 4 paid.
    buyer = page(log_in(api, "buyer"), "/")
    assert kpi(buyer, "outstanding") == "99999.90" and kpi(buyer, "financed") == "93749.90"
    assert "Exposure is a financier&#39;s figure" in buyer and "chart-exposure" not in buyer
    assert kpi(page(log_in(api, "buyer2"), "/"), "outstanding") == "80000.00"
    assert 'id="kpis-empty"' in page(log_in(api, "financier2"), "/")


def test_dashboard_collections_set_due_months_against_payments(api: Any, ledger: Any, acct: Any) -> None:
    """An invoice due next month and one due in five months, against this month's payment on it."""
    book = Lifecycle(ledger, acct)
    today = business_date(ledger.chain_time())
    soon = (today.replace(day=1) + dt.timedelta(days=40)).replace(day=10)
    later = (today.replace(day=1) + dt.timedelta(days=160)).replace(day=10)
    for number, amount, due in (("INV-W-1", "3000.00", soon), ("INV-W-2", "700.50", later)):
        invoice_id = book.issue_invoice(number, amount, due, buyer="Kwai Chung Logistics Ltd")["invoice_id"]
        book.confirm(invoice_id, buyer="buyer2")
    book.repay(invoice_id, "200.25", buyer="buyer2")
    index(api.env.settings)
    for who in ("operator", "buyer2", "supplier"):
        chart = charts(page(log_in(api, who), "/"))["chart-collections-hkd"]
        due, paid = chart["datasets"]
        by_month = dict(zip(chart["labels"], zip(due["values"], paid["values"], strict=True), strict=True))
        assert chart["labels"][11] == today.strftime("%Y-%m") and len(chart["labels"]) == 24
        assert by_month[soon.strftime("%Y-%m")] == ("3000.00", "0.00")
        assert by_month[later.strftime("%Y-%m")] == ("700.50", "0.00")
        this_month = "26200.35" if who != "buyer2" else "200.25"  # buyer2 sees its own payables only
        assert by_month[today.strftime("%Y-%m")] == ("0.00", this_month), who
    assert "chart-collections" not in page(log_in(api, "financier2"), "/")


def test_dashboard_overview_is_computed_once_per_view_and_block(api: Any) -> None:
    cache = api.client.app.state.figures
    before = cache.computed
    first = kpi(page(log_in(api, "operator"), "/"), "outstanding")
    for who in ("auditor", "operator"):  # the same view of the whole ledger, at the same block
        assert kpi(page(log_in(api, who), "/"), "outstanding") == first
    assert cache.computed == before + 1
    page(log_in(api, "financier"), "/")
    assert cache.computed == before + 2


def test_dashboard_overview_sums_are_exact_past_64_bits(api: Any) -> None:
    """Amounts above 2**63 - 1 minor units (stored as text on SQLite) and
    sums past 64 bits are summed exactly on both backends."""
    huge = 2**70 + 7
    with engine_of(api).begin() as conn:
        i = INVOICES.c
        conn.execute(sa.update(INVOICES).where(i.invoice_id == 2).values(amount=huge, outstanding=huge))
    text = page(log_in(api, "operator"), "/")
    assert kpi(text, "outstanding") == "11805916207174213034.21"  # (2**70 + 7 + 9,999,990) / 100
    assert charts(text)["chart-aging-hkd"]["total"] == kpi(text, "outstanding")
    assert api.get("operator", "/api/reports/aging").json()["totals"][0]["total"] == kpi(text, "outstanding")


def test_dashboard_overview_draws_a_financiers_policy_limits(api: Any) -> None:
    policies = api.env.home / "policies"
    policies.mkdir(exist_ok=True)
    shutil.copy(POLICY, policies / f"{FINANCIER}.toml")
    exposure = charts(page(log_in(api, "financier"), "/"))["chart-exposure-hkd"]
    limit = next(d for d in exposure["datasets"] if d["label"] == "limit")
    assert limit["type"] == "line" and limit["values"] == ["8000000.00"]  # examples/policy.toml: Tsuen Wan's line
    assert exposure["policy"] is not None
    # The operator has no one policy: no limit line.
    operator = charts(page(log_in(api, "operator"), "/"))["chart-exposure-hkd"]
    assert [d["label"] for d in operator["datasets"]] == ["due to financiers", "pending decisions"]
    # A broken policy is a note, not a broken page.
    (policies / f"{FINANCIER}.toml").write_text("this is not toml [")
    text = page(log_in(api, "financier"), "/")
    assert "could not be read" in text and "chart-exposure-hkd" in text


# -- invoices ---------------------------------------------------------------------------------------------------
def test_dashboard_invoice_list_filters_and_pages_as_the_api_does(api: Any) -> None:
    c = log_in(api, "operator")
    seen, path = [], "/invoices?limit=1"
    while path:
        text = page(c, path)
        seen += listed(text)
        found = re.search(r'<a href="([^"]+)" id="next-page"', text)
        path = html.unescape(found.group(1)) if found else ""
        assert len(seen) <= 4
    assert seen == [1, 2, 3, 4]
    cases = {
        "status=Confirmed": {"status": "Confirmed"},
        "status=Confirmed&status=Paid": {"status": "Confirmed,Paid"},
        "buyer=Tsuen+Wan+Electronics+Ltd&supplier=Kowloon+Precision+Parts+Ltd": {
            "buyer": "Tsuen Wan Electronics Ltd",
            "supplier": "Kowloon Precision Parts Ltd",
        },
        f"holder={FINANCIER.replace(' ', '+')}": {"holder": FINANCIER},
        "financier=financier": {"financier": "financier"},
        "currency=HKD&number=inv-q-3": {"currency": "HKD", "number": "inv-q-3"},
        "due_after=2098-01-01&due_before=2099-02-01": {"due_after": "2098-01-01", "due_before": "2099-02-01"},
        "overdue=1": {"overdue": "true"},
        "supplier=&buyer=&status=": {},
    }
    for query, params in cases.items():
        assert listed(page(c, f"/invoices?{query}")) == api_ids(api, "operator", **params), query
    assert listed(page(c, "/invoices?status=Confirmed")) == [2]
    for query, message in (
        ("supplier=Nobody+Ltd", "unknown supplier"),
        ("due_after=2099-01-01&due_before=2099-01-02", "widen the range"),
        ("status=Sold", "unknown status"),
        ("cursor=bm9wZQ", "not a cursor"),
        ("due_before=tomorrow", "due_before"),
    ):
        text = page(c, f"/invoices?{query}", 400)
        assert message in html.unescape(text) and 'id="filter-error"' in text, query
    # The filters stay in the form, escaped.
    text = page(c, "/invoices?number=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert "<script>alert(1)" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_dashboard_invoice_list_runs_the_api_query_without_a_query_per_row(api: Any) -> None:
    from sqlalchemy import event

    engine = api.client.app.state.engine
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    c = log_in(api, "operator")
    event.listen(engine, "before_cursor_execute", count)
    try:
        runs = {}
        for limit in (1, 4):
            statements.clear()
            assert len(listed(page(c, f"/invoices?limit={limit}"))) == limit
            runs[limit] = list(statements)
        statements.clear()
        assert len(api.get("operator", "/api/invoices", limit=4).json()["items"]) == 4
        api_statements = list(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(runs[1]) == len(runs[4]), (runs[1], runs[4])
    # The page runs the API's statements plus a fixed few (the session's key, the names for the form, the day).
    assert len(runs[4]) <= len(api_statements) + 4, (runs[4], api_statements)
    invoice_selects = [s for s in runs[4] if "FROM invoices" in s]
    assert len(invoice_selects) == 1 and "ORDER BY invoices.invoice_id" in invoice_selects[0]
    assert "count(" not in " ".join(runs[4]).lower()


def test_dashboard_invoice_page_shows_the_timeline_and_the_tree(api: Any, ledger: Any, acct: Any) -> None:
    book = Lifecycle(ledger, acct)
    # Split 2 (held by the supplier): 30,000.00 to supplier2 (tier 2), 50,000.00 kept.
    split = ledger.split(acct("supplier"), 2, [(SUPPLIER2, "30000.00", "PO-1"), ("supplier", "50000.00", None)])
    part_ids = [p["invoice_id"] for p in split["parts"]]
    book.repay(1, "100.00")
    index(api.env.settings)

    c = log_in(api, "operator")
    text = html.unescape(page(c, "/invoices/1"))
    history = api.get("operator", "/api/invoices/1/history").json()
    assert text.count('<li class="event ') == len(history) == 8
    for event in history:
        assert event["details"] in text
    assert 'id="invoice-tree"' not in text  # a lone invoice has no tree
    text = page(c, f"/invoices/{part_ids[0]}")
    tree = re.search(r'<ul class="tree">(.*)</ul>\s*</section>', text, re.S)
    assert tree, text
    nodes = re.findall(r'data-invoice="(\d+)"', tree.group(1))
    assert nodes == ["2", *map(str, part_ids)]
    assert 'class="node current"' in text and "tier 2" in text
    assert "2 of 2 leaves still open; the buyer still owes HKD 80,000.00 on it" in html.unescape(text)
    # supplier2 sees its part, not the root it was split from (shown without its figures).
    text = page(log_in(api, "supplier2"), f"/invoices/{part_ids[0]}")
    assert "invoice 2 · tier 1 · not yours to see" in text
    assert "still owes" not in text and "shown without their figures" in text  # no totals over hidden nodes
    assert f'<a href="/invoices/{part_ids[1]}"' not in text  # nor the other part
    assert "not yours to see" in text and 'href="/invoices/2"' not in text
    page(log_in(api, "supplier2"), "/invoices/2", 404)


def test_dashboard_participants_highlight_kyc_expiring_within_30_days(api: Any, ledger: Any, acct: Any) -> None:
    today = business_date(ledger.chain_time())
    operator = acct("operator")
    ledger.update_participant(operator, ADDR["supplier2"], kyc_until=today + dt.timedelta(days=10))
    ledger.update_participant(operator, ADDR["buyer2"], kyc_until=today + dt.timedelta(days=31))
    ledger.update_participant(operator, ADDR["financier2"], kyc_until=today)
    index(api.env.settings)
    text = page(log_in(api, "buyer"), "/participants")
    rows = re.findall(r'<tr class="kyc-(\w+)" data-kyc="\w+">\s*<th scope="row">([^<]+)</th>', text)
    states = {name: state for state, name in rows}
    assert states[SUPPLIER2] == "expiring" and "expires in 10 days" in text
    assert states["Victoria Peak Capital Ltd"] == "expiring" and "last day today" in text
    assert states[BUYER2] == "valid"
    assert states["Tsuen Wan Electronics Ltd"] == "valid"


# -- assets, headers ----------------------------------------------------------------------------------------------
def test_dashboard_serves_its_assets_itself(api: Any) -> None:
    c = log_in(api, "operator")
    chart = c.get("/static/vendor/chart.umd.js")
    assert chart.status_code == 200 and chart.headers["content-type"].startswith("text/javascript")
    assert "Chart.js v4.6.1" in chart.text[:400]
    lock = json.loads((REPO_ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/chart.js"]["version"] == "4.6.1"
    for asset in ("dashboard.css", "dashboard.js", "live.js"):
        assert c.get(f"/static/{asset}").status_code == 200
    r = c.get("/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and r.headers["cache-control"] == "no-store"
    # Nothing from elsewhere: no URL of another host in the pages, templates, styles or scripts.
    from ledger.api import pages

    sources = [p.read_text() for p in (*pages.TEMPLATES.iterdir(), *pages.STATIC.iterdir())]
    for text in (*sources, r.text, page(c, "/invoices"), page(c, "/invoices/1")):
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I), re.search(
            r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text, re.I
        )
    assert "@import" not in sources[0] and "font-face" not in " ".join(sources)


def test_dashboard_live_stream_tells_new_blocks_and_ends_at_shutdown(api: Any, ledger: Any, acct: Any) -> None:
    """On a real uvicorn: /live sends the indexed block, then each newly indexed
    one; shutting the server down ends the open stream at once."""
    from ledger.api.app import create_app

    app = create_app(api.env.settings)
    events: list[int] = []
    ended = threading.Event()
    with serve(app) as served:
        http = httpx.Client(base_url=served.url, timeout=10)
        form = http.get("/login")
        http.post("/login", data={"csrf": csrf_of(form.text), "key": api.secrets["buyer2"], "next": "/"})
        start = app.state.live.read_block()

        def listen() -> None:
            with http.stream("GET", "/live", timeout=httpx.Timeout(10, read=60)) as r:
                assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
                for line in r.iter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:])["block"])
            ended.set()

        thread = threading.Thread(target=listen, daemon=True)
        thread.start()
        wait_for(lambda: events == [start])
        assert app.state.live.listeners == 1 and app.state.live.polling
        Lifecycle(ledger, acct).repay(2, "1000.00", buyer="buyer2")
        stats = index(api.env.settings)
        wait_for(lambda: events[-1:] == [stats.block])
        assert stats.block > start
    assert ended.wait(5) and served.shutdown_seconds is not None and served.shutdown_seconds < 3
    thread.join(5)
    http.close()
    assert app.state.live.closed and not app.state.live.polling


def wait_for(condition: Any, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting")
        time.sleep(0.05)


def test_dashboard_pages_never_import_web3(api: Any) -> None:
    """Every page, rendered in a fresh interpreter, leaves web3 and eth_account unimported (the read side)."""
    import os
    import subprocess
    import sys

    probe = (
        "import re, sys\n"
        "from fastapi.testclient import TestClient\n"
        "from ledger.api.app import create_app\n"
        "from ledger.config import load_settings\n"
        "with TestClient(create_app(load_settings())) as c:\n"
        '    token = re.search(r\'name="csrf" value="([^"]+)"\', c.get(\'/login\').text).group(1)\n'
        "    c.post('/login', data={'csrf': token, 'key': sys.argv[1], 'next': '/participants'})\n"
        "    for path in ('/', '/invoices', '/invoices?overdue=1', '/invoices/1', '/decisions', '/participants'):\n"
        "        r = c.get(path, follow_redirects=False)\n"
        "        assert r.status_code == 200, (path, r.status_code)\n"
        "print('WEB3', sorted(m for m in sys.modules if m.split('.')[0] in ('web3', 'eth_account')), file=sys.stderr)\n"
    )
    env = {**os.environ, "SCF_HOME": str(api.env.home), "SCF_DB_URL": str(api.env.settings.db_url)}
    env["SCF_RPC_URL"] = "http://127.0.0.1:9"
    done = subprocess.run(
        [sys.executable, "-c", probe, api.secrets["operator"]], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "WEB3 []" in done.stderr, done.stderr


def test_dashboard_ledger_errors_are_pages_not_problem_documents(api: Any) -> None:
    """A ledger whose cursor has no block yet (made, nothing indexed): the
    overview says so as a page (503), the API as a problem document."""
    from ledger.db.models import Cursor

    c = log_in(api, "operator")
    with engine_of(api).begin() as conn:
        conn.execute(sa.update(Cursor.__table__).values(block_number=None, block_hash=None))
    text = page(c, "/", 503)
    assert "The ledger is not available" in text and "not indexed yet" in text and 'id="who"' in text
    assert api.get("operator", "/api/reports/exposure").headers["content-type"] == "application/problem+json"
