"""GET /api/invoices and /api/invoices/{id} over the indexed scenario of
tests/support/scenario.py (SQLite and PostgreSQL): every filter of `scf
invoice list`, keyset pages chained to the end and stable while new invoices
are issued on the chain and indexed, forged cursors, one invoice with its
history, and a multi-tier tree redacted for a key that may not see all of it.

Scenario: 1 INV-Q-1 supplier -> buyer, due 2099-01-31, financed by the
financier and partly repaid; 2 INV-Q-2 supplier -> buyer2, due 2098-06-30,
confirmed; 3 INV-Q-3 supplier2 -> buyer, due 2099-03-01, cancelled; 4 INV-Q-4
supplier -> buyer, due 2097-12-31, paid."""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from typing import Any

from click.testing import CliRunner
from support.api import assert_problem, ids
from support.lifecycle import Lifecycle
from support.scenario import BUYER, BUYER2, FINANCIER, SUPPLIER, SUPPLIER2, index, split_invoice_2

from ledger.business_time import business_date
from ledger.cli import main
from ledger.names import DEV_ADDRESSES as ADDR

MONEY = re.compile(r"^-?[0-9]+\.[0-9]{2}$")
OFFSET_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")
MONEY_KEYS = ("amount", "paid", "outstanding", "advance", "credited", "written_off", "recovered")
PARTY_KEYS = ("supplier", "buyer", "holder", "financier", "seller", "offer_to")


def walk(api: Any, who: str, **params: Any) -> list[list[int]]:
    """Every page of /api/invoices with ``params``, following next_cursor to the end."""
    pages: list[list[int]] = []
    cursor = None
    while True:
        got = api.get(who, "/api/invoices", **params, **({} if cursor is None else {"cursor": cursor}))
        pages.append(ids(got))
        cursor = got.json()["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "the cursor chain does not end"


# -- filters -------------------------------------------------------------------------------------------
FILTERS: list[tuple[dict[str, Any], list[int]]] = [
    ({}, [1, 2, 3, 4]),
    ({"status": "Confirmed"}, [2]),
    ({"status": "confirmed,PAID"}, [2, 4]),
    ({"status": "partiallypaid cancelled"}, [1, 3]),
    ({"status": "Financed"}, []),
    ({"supplier": SUPPLIER}, [1, 2, 4]),
    ({"supplier": SUPPLIER.upper()}, [1, 2, 4]),
    ({"supplier": ADDR["supplier2"]}, [3]),
    ({"supplier": ADDR["supplier"].lower()}, [1, 2, 4]),
    ({"buyer": BUYER}, [1, 3, 4]),
    ({"buyer": ADDR["buyer2"]}, [2]),
    ({"holder": FINANCIER}, [1]),
    ({"holder": ADDR["supplier"]}, [2, 4]),
    ({"holder": SUPPLIER2}, []),
    ({"financier": FINANCIER}, [1]),
    ({"financier": ADDR["financier"]}, [1]),
    ({"financier": "Victoria Peak Capital Ltd"}, []),
    ({"currency": "HKD"}, [1, 2, 3, 4]),
    ({"currency": "hkd"}, [1, 2, 3, 4]),
    ({"number": "INV-Q-1"}, [1]),
    ({"number": "inv q 1"}, [1]),
    ({"number": "ｉｎｖ／ｑ．２"}, [2]),
    ({"number": "INV_Q_04"}, [4]),
    ({"number": "INV-Q-9"}, []),
    ({"due_after": "2098-12-31"}, [1, 3]),
    ({"due_before": "2098-07-01"}, [2, 4]),
    ({"due_before": "2098-06-30"}, [4]),
    ({"due_after": "2098-06-30"}, [1, 3]),
    ({"due_after": "2098-06-29", "due_before": "2098-07-01"}, [2]),
    ({"overdue": "true"}, []),
    ({"overdue": "false"}, [1, 2, 3, 4]),
    ({"supplier": SUPPLIER, "status": "Paid"}, [4]),
    ({"buyer": BUYER, "holder": FINANCIER, "currency": "HKD", "due_after": "2099-01-01"}, [1]),
    ({"supplier": SUPPLIER, "buyer": BUYER2, "number": "inv-q-2"}, [2]),
]


def test_invoices_every_filter(api: Any) -> None:
    for params, expected in FILTERS:
        got = api.get("operator", "/api/invoices", **params)
        assert ids(got) == expected, params
        assert got.json()["next_cursor"] is None, params
    # An empty due range is a mistake, not an empty list.
    assert_problem(
        api.get("operator", "/api/invoices", due_after="2098-06-29", due_before="2098-06-30"), 400, "widen the range"
    )
    assert_problem(
        api.get("operator", "/api/invoices", due_after="2099-01-01", due_before="2098-01-01"), 400, "widen the range"
    )


def test_invoices_shape_money_parties_times(api: Any) -> None:
    items = {i["invoice_id"]: i for i in api.get("operator", "/api/invoices").json()["items"]}
    one = items[1]
    assert (one["number"], one["status"], one["currency"], one["due"]) == (
        "INV-Q-1",
        "PartiallyPaid",
        "HKD",
        "2099-01-31",
    )
    assert (one["amount"], one["paid"], one["outstanding"], one["advance"]) == (
        "125000.00",
        "25000.10",
        "99999.90",
        "112500.00",
    )
    assert (one["financier_due"], one["financier_paid"], one["reserve_open"]) == ("118750.00", "25000.10", "6250.00")
    assert one["supplier"] == {"address": ADDR["supplier"], "name": SUPPLIER}
    assert one["buyer"] == {"address": ADDR["buyer"], "name": BUYER}
    assert one["holder"] == one["financier"] == {"address": ADDR["financier"], "name": FINANCIER}
    assert one["seller"] == {"address": ADDR["supplier"], "name": SUPPLIER}
    assert (one["listed"], one["offer_to"]) == (False, None)
    assert items[3]["holder"] is None and items[3]["financier"] is None and items[3]["status"] == "Cancelled"
    assert (items[4]["paid"], items[4]["outstanding"]) == ("1000.00", "0.00")
    for item in items.values():
        for key in MONEY_KEYS:
            assert isinstance(item[key], str) and MONEY.match(item[key]), (key, item[key])
        for key in PARTY_KEYS:
            assert item[key] is None or set(item[key]) == {"address", "name"}, (key, item[key])
        assert OFFSET_TIME.match(item["issued_at"]), item["issued_at"]
        assert not any(k.endswith("_name") for k in item), sorted(item)
        assert isinstance(item["invoice_id"], int) and isinstance(item["depth"], int)
    # No float anywhere: money is never a JSON number.
    raw = api.get("operator", "/api/invoices").text
    assert not re.search(r'"(amount|paid|outstanding|advance)":\s*[0-9]', raw)


def test_invoices_list_equals_the_cli_json(api: Any) -> None:
    env = api.env
    cli = CliRunner().invoke(
        main,
        ["--home", str(env.home), "--rpc-url", env.rpc_url, "--db-url", str(env.settings.db_url)]
        + ["invoice", "list", "--status", "Confirmed,PartiallyPaid", "--json"],
    )
    assert cli.exit_code == 0, cli.output
    got = api.get("operator", "/api/invoices", status="Confirmed,PartiallyPaid").json()["items"]
    assert got == json.loads(cli.output) and [i["invoice_id"] for i in got] == [1, 2]


# -- pagination ------------------------------------------------------------------------------------------
def test_invoices_pages_chain_to_the_end(api: Any) -> None:
    assert walk(api, "operator", limit=1) == [[1], [2], [3], [4]]
    assert walk(api, "operator", limit=3) == [[1, 2, 3], [4]]
    assert walk(api, "operator", limit=4) == [[1, 2, 3, 4]]
    assert walk(api, "operator", limit=500) == [[1, 2, 3, 4]]
    assert walk(api, "operator") == [[1, 2, 3, 4]]  # default limit 50
    # With a filter, and through a participant's visibility.
    assert walk(api, "operator", limit=1, buyer=BUYER) == [[1], [3], [4]]
    assert walk(api, "supplier", limit=2) == [[1, 2], [4]]
    assert walk(api, "buyer", limit=1, status="Paid,Cancelled") == [[3], [4]]
    assert walk(api, "financier2", limit=1) == [[]]
    first = api.get("operator", "/api/invoices", limit=2).json()
    assert isinstance(first["next_cursor"], str) and first["next_cursor"]
    assert not first["next_cursor"].isdigit(), "an opaque cursor, not an id"
    # A cursor of one filter under another filter continues after the same id.
    assert ids(api.get("operator", "/api/invoices", cursor=first["next_cursor"], buyer=BUYER)) == [3, 4]


def test_invoices_pages_stable_under_inserts(api: Any, ledger: Any, acct: Any) -> None:
    book = Lifecycle(ledger, acct)
    seen: list[int] = []
    page = api.get("operator", "/api/invoices", limit=2).json()
    seen += [i["invoice_id"] for i in page["items"]]
    assert seen == [1, 2]
    # New invoices issued on the chain and indexed between the pages.
    five = int(book.issue_invoice("INV-P-5", "1234.56", dt.date(2099, 5, 5))["invoice_id"])
    index(api.env.settings)
    page = api.get("operator", "/api/invoices", limit=2, cursor=page["next_cursor"]).json()
    seen += [i["invoice_id"] for i in page["items"]]
    six = int(book.issue_invoice("INV-P-6", "7.01", dt.date(2099, 6, 6), buyer=BUYER2)["invoice_id"])
    book.confirm(six, buyer="buyer2")
    index(api.env.settings)
    while page["next_cursor"] is not None:
        page = api.get("operator", "/api/invoices", limit=2, cursor=page["next_cursor"]).json()
        seen += [i["invoice_id"] for i in page["items"]]
    assert (five, six) == (5, 6)
    assert seen == [1, 2, 3, 4, 5, 6], "no repeats, no gaps"
    assert len(seen) == len(set(seen))
    # The new ones as indexed, through the same filters.
    got = api.get("operator", "/api/invoices", number="inv p 6").json()["items"]
    assert [(i["invoice_id"], i["status"], i["amount"], i["buyer"]["name"]) for i in got] == [
        (6, "Confirmed", "7.01", BUYER2)
    ]
    # A key's pages see the inserts through its visibility only.
    assert walk(api, "buyer2", limit=1) == [[2], [6]]


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_invoices_forged_cursor_is_a_400(api: Any) -> None:
    forged = [
        "garbage",
        "!!!!",
        "%00",
        "YWZ0ZXI6",  # "after:"
        _cursor("after:-1"),
        _cursor("after:abc"),
        _cursor("before:1"),
        _cursor("after:1:2"),
        _cursor("after:99999999999999999999"),
        _cursor(f"after:{2**63}"),
        base64.urlsafe_b64encode(b"\xff\xfe\x00after").decode(),
        "x" * 5000,
    ]
    for cursor in forged:
        assert_problem(api.get("operator", "/api/invoices", cursor=cursor), 400, "cursor")
    # A forged but well-formed cursor is only a position: visibility still applies.
    assert ids(api.get("financier2", "/api/invoices", cursor=_cursor("after:0"))) == []
    assert ids(api.get("supplier", "/api/invoices", cursor=_cursor("after:1"))) == [2, 4]
    assert ids(api.get("operator", "/api/invoices", cursor=_cursor(f"after:{2**63 - 1}"))) == []


def test_invoices_overdue(api: Any, ledger: Any, acct: Any) -> None:
    book = Lifecycle(ledger, acct)
    due = business_date(ledger.chain_time()) + dt.timedelta(days=3)
    confirmed = int(book.issue_invoice("INV-OD-1", "500.00", due)["invoice_id"])
    book.confirm(confirmed)
    unconfirmed = int(book.issue_invoice("INV-OD-2", "600.00", due)["invoice_id"])
    index(api.env.settings)
    assert ids(api.get("operator", "/api/invoices", overdue="true")) == []
    book.travel(6 * 86_400)
    index(api.env.settings)
    assert ids(api.get("operator", "/api/invoices", overdue="true")) == [confirmed]
    assert ids(api.get("operator", "/api/invoices", overdue="1", buyer=BUYER2)) == []
    assert ids(api.get("buyer", "/api/invoices", overdue="true")) == [confirmed]
    assert ids(api.get("buyer2", "/api/invoices", overdue="true")) == []
    assert unconfirmed not in ids(api.get("operator", "/api/invoices", overdue="true"))


# -- one invoice -------------------------------------------------------------------------------------------
def test_invoice_detail_history_and_lone_tree(api: Any) -> None:
    got = api.get("buyer", "/api/invoices/1")
    assert got.status_code == 200, got.text
    one = got.json()
    assert (one["invoice_id"], one["number"], one["status"], one["amount"], one["outstanding"]) == (
        1,
        "INV-Q-1",
        "PartiallyPaid",
        "125000.00",
        "99999.90",
    )
    assert one["supplier"] == {"address": ADDR["supplier"], "name": SUPPLIER}
    assert one["holder"] == {"address": ADDR["financier"], "name": FINANCIER}
    assert (one["root_id"], one["parent_id"], one["depth"]) == (1, None, 0)
    assert one["tree"] is None
    events = [e["event"] for e in one["history"]]
    for name in ("InvoiceIssued", "InvoiceConfirmed", "FinancingOffered", "InvoiceFinanced", "InvoiceRepaid"):
        assert name in events, events
    assert events.index("InvoiceIssued") < events.index("InvoiceConfirmed") < events.index("InvoiceFinanced")
    blocks = [(e["block"], e["log_index"]) for e in one["history"]]
    assert blocks == sorted(blocks), "oldest first"
    assert all(OFFSET_TIME.match(e["time"]) for e in one["history"])
    repaid = [e for e in one["history"] if e["event"] == "InvoiceRepaid"]
    assert [e["amount"] for e in repaid] == ["25000.10"]
    assert repaid[0]["args"]["payer"] == {"address": ADDR["buyer"], "name": BUYER}
    assert api.get("buyer", "/api/invoices/1/history").json() == one["history"]
    lone = api.get("buyer", "/api/invoices/1/tree").json()
    assert (lone["root_id"], lone["nodes"], lone["leaves"], lone["outstanding"]) == (1, 1, 1, "99999.90")
    assert lone["tree"]["children"] == [] and "hidden" not in lone["tree"]
    # Every scenario invoice stands alone.
    for invoice_id in (2, 3, 4):
        assert api.get("operator", f"/api/invoices/{invoice_id}").json()["tree"] is None


# -- multi-tier trees ----------------------------------------------------------------------------------
def _split_invoice_2(api: Any, ledger: Any, acct: Any) -> tuple[int, int, int]:
    """As tests/queries/test_invoice_tree.py: invoice 2 split into 5 (48,250.50,
    kept by the supplier), 6 (20,000.00 to Sham Shui Po Textiles; financed by
    the financier: advance 19,000.00) and 7 (11,749.50 to Sham Shui Po, passed
    back to the supplier); then 30,000.00 paid across the leaves."""
    first = split_invoice_2(ledger, acct)
    index(api.env.settings)
    return first, first + 1, first + 2


#: Figures of the nodes a part holder may not see (root 2, parts 5 and 7).
HIDDEN_FIGURES = ("80000.00", "48250.50", "18093.94", "30156.56", "11749.50", "4406.06", "7343.44", "INV-T2-9")
HIDDEN_KEYS = {"invoice_id", "parent_id", "depth", "tier", "hidden", "children"}


def _nodes(tree: dict[str, Any]) -> dict[int, dict[str, Any]]:
    out = {tree["invoice_id"]: tree}
    for child in tree["children"]:
        out |= _nodes(child)
    return out


def test_invoice_tree_redacts_nodes_the_key_may_not_see(api: Any, ledger: Any, acct: Any) -> None:
    five, six, seven = _split_invoice_2(api, ledger, acct)
    # The operator, the buyer and the issuing supplier see every node.
    for who in ("operator", "auditor", "buyer2", "supplier"):
        tree = api.get(who, f"/api/invoices/{six}").json()["tree"]
        nodes = _nodes(tree["tree"])
        assert sorted(nodes) == [2, five, six, seven], who
        assert not any(n.get("hidden") for n in nodes.values()), who
        assert (tree["root_id"], tree["nodes"], tree["outstanding"]) == (2, 4, "50000.00"), who
        assert nodes[2]["status"] == "Split" and nodes[five]["amount"] == "48250.50"
    # The part's seller and its financier see their node and only the shape of the rest.
    for who in ("supplier2", "financier"):
        got = api.get(who, f"/api/invoices/{six}")
        assert got.status_code == 200, (who, got.text)
        detail = got.json()
        assert (detail["invoice_id"], detail["root_id"], detail["parent_id"], detail["depth"]) == (six, 2, 2, 1)
        assert (detail["amount"], detail["outstanding"]) == ("20000.00", "12500.00")
        nodes = _nodes(detail["tree"]["tree"])
        assert sorted(nodes) == [2, five, six, seven], who
        for hidden in (2, five, seven):
            assert nodes[hidden]["hidden"] is True, (who, hidden)
            assert set(nodes[hidden]) == HIDDEN_KEYS, (who, sorted(nodes[hidden]))
        assert [c["invoice_id"] for c in nodes[2]["children"]] == [five, six, seven]
        mine = nodes[six]
        assert "hidden" not in mine
        assert (mine["amount"], mine["paid"], mine["outstanding"], mine["advance"]) == (
            "20000.00",
            "7500.00",
            "12500.00",
            "19000.00",
        )
        assert mine["seller"] == {"address": ADDR["supplier2"], "name": SUPPLIER2}
        node_text = json.dumps(detail["tree"]["tree"])
        for figure in HIDDEN_FIGURES:
            assert figure not in node_text, (who, figure)
        assert api.get(who, f"/api/invoices/{six}/tree").json() == detail["tree"]
        # The hidden nodes themselves are 404 to it, as any unknown id.
        for hidden in (2, five, seven):
            assert_problem(api.get(who, f"/api/invoices/{hidden}"), 404)
            assert_problem(api.get(who, f"/api/invoices/{hidden}/tree"), 404)
    assert ids(api.get("supplier2", "/api/invoices")) == [3, six]
    assert ids(api.get("financier", "/api/invoices")) == [1, six]
    # A buyer of other invoices sees nothing of this tree.
    assert_problem(api.get("buyer", f"/api/invoices/{six}"), 404)
    assert_problem(api.get("buyer", f"/api/invoices/{six}/tree"), 404)


def test_invoice_tree_totals_reveal_no_hidden_amounts(api: Any, ledger: Any, acct: Any) -> None:
    _, six, _ = _split_invoice_2(api, ledger, acct)
    tree = api.get("supplier2", f"/api/invoices/{six}/tree").json()
    # What the buyer owes on the parts it may not see (37,500.00) must not be derivable.
    assert tree["outstanding"] in (None, "12500.00"), tree["outstanding"]
    assert tree["open_leaves"] in (None, 1), tree["open_leaves"]
