"""The read side of contracts version 4 (issue 14): an invoice's history and
`scf events` describe disputes, credit notes, extensions, defaults,
buy-backs, write-offs, recoveries and the deployment's grace period in
words; the queries the decisions and reports read (the deployment's grace
as of a block, incidents by invoice, buyer, supplier and seller, overdue and
defaultable receivables). Against a real chain driven by direct contract
calls, indexed by the real indexer, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from support.indexer import remedies_driver, settings_fixture  # noqa: F401 - fixtures

from ledger.business_time import business_date
from ledger.config import Settings

DAY = 86_400
BUYER, SUPPLIER, FINANCIER = "Tsuen Wan Electronics Ltd", "Kowloon Precision Parts Ltd", "Harbour Trade Finance Ltd"


@pytest.fixture(name="built")
def built_fixture(settings: Settings, ledger: Any, acct: Any) -> tuple[Any, dict[str, int]]:
    """The remedies ledger (``support.indexer`` ``remedies_ledger``), indexed."""
    from ledger.indexer import sync

    net = remedies_driver(ledger, acct)
    ids = net.remedies_ledger()
    sync(settings)
    return net, ids


def _history(settings: Settings, invoice_id: int) -> list[tuple[str, str]]:
    from ledger.queries import find_scope, invoice_history, read_connection

    with read_connection(settings.database_url) as conn:
        scope = find_scope(conn, settings)
        return [(e["event"], e["details"]) for e in invoice_history(conn, scope, invoice_id)]


def test_queries_remedies_history_describes_each_new_event(settings: Settings, built: Any) -> None:
    net, ids = built
    b = _history(settings, ids["b"])
    assert b[4:] == [
        (
            "InvoiceFinanced",
            f"financed by {FINANCIER}: advance HKD 900.00 paid to {SUPPLIER}, financier due HKD 950.00 of the "
            "buyer's payments, without recourse, grace 7 days after the due date",
        ),
        ("Transfer", f"receivable transferred from {SUPPLIER} to {FINANCIER}"),
        ("InvoiceRepaid", f"repaid HKD 100.00 by {BUYER} to {FINANCIER} (total paid HKD 100.00)"),
        (
            "InvoiceDisputed",
            f"disputed by the buyer {BUYER} (was PartiallyPaid), statement 0x{net.reason('goods damaged').hex()[:4]}…",
        ),
        (
            "CreditNoteIssued",
            f"credit note of HKD 300.00 by {SUPPLIER}: amount now HKD 700.00; HKD 250.00 of it paid by the issuer "
            f"to the holder {FINANCIER}, note 0x{net.reason('CN-B').hex()[:4]}… (now PartiallyPaid)",
        ),
        (
            "InvoiceDefaulted",
            f"declared in default by the holder {FINANCIER}: HKD 600.00 outstanding, HKD 600.00 of it owed to "
            "the holder",
        ),
        ("InvoiceWrittenOff", f"HKD 600.00 written off by the holder {FINANCIER}"),
        (
            "InvoiceRepaid",
            f"recovery after the default: repaid HKD 150.00 by {BUYER} to {FINANCIER} (total paid HKD 250.00)",
        ),
    ]
    c = _history(settings, ids["c"])
    due = business_date(net.due_ts(ids["c"]) - 5 * DAY)  # before the extension
    later, latest = due.toordinal() + 5, due.toordinal() + 9
    from datetime import date

    d1, d2 = date.fromordinal(later).isoformat(), date.fromordinal(latest).isoformat()
    assert c[4][1].endswith("with recourse to the seller, grace 3 days after the due date")
    assert c[6:11] == [
        ("ExtensionProposed", f"extension proposed by the buyer {BUYER}: due {due.isoformat()} -> {d1}"),
        ("MaturityExtended", f"maturity extended by the holder {FINANCIER}: due {due.isoformat()} -> {d1}"),
        ("ExtensionProposed", f"extension proposed by the buyer {BUYER}: due {d1} -> {d2}"),
        (
            "InvoiceDefaulted",
            f"declared in default by the holder {FINANCIER}: HKD 1,000.00 outstanding, HKD 900.00 of it owed to "
            "the holder",
        ),
        ("InvoiceBoughtBack", f"bought back under recourse by the seller {SUPPLIER}: HKD 900.00 paid to {FINANCIER}"),
    ]
    assert c[11] == ("Transfer", f"receivable transferred from {FINANCIER} to {SUPPLIER}")
    assert c[12][1] == (
        f"recovery after the default: repaid HKD 400.00 by {BUYER} to {SUPPLIER}, all of it released to the seller "
        "(total paid HKD 400.00)"
    )
    a = _history(settings, ids["a"])
    assert a[4] == ("DisputeWithdrawn", f"dispute withdrawn by the buyer {BUYER}: back to Confirmed")
    assert a[6][1].endswith("(now Confirmed)") and a[6][1].startswith(f"credit note of HKD 200.00 by {SUPPLIER}: ")
    assert _history(settings, ids["e"])[-1][1].endswith("(closed as Paid)")
    assert _history(settings, ids["f"])[-1][1].startswith("credit note of HKD 200.00 by")
    assert _history(settings, ids["f"])[-1][1].endswith(
        "amount now HKD 0.00, " + _note(net, "CN-F") + " (closed as Cancelled)"
    )


def _note(net: Any, text: str) -> str:
    return f"note 0x{net.reason(text).hex()[:4]}…"


def test_queries_remedies_listing_cleared_by_a_dispute_and_by_a_default_is_said_so(
    settings: Settings, ledger: Any, acct: Any
) -> None:
    from ledger.history import EventFilter, ledger_events
    from ledger.indexer import sync
    from ledger.queries import find_scope, read_connection

    net = remedies_driver(ledger, acct)
    disputed = net.confirmed(number="CLR-1")
    net.offer(disputed, None, "500.00", 60)
    net.dispute(disputed)
    defaulted = net.confirmed(number="CLR-2")
    net.travel(40 * DAY)
    net.offer(defaulted, None, "500.00", 60)
    net.default(defaulted, "supplier")
    sync(settings)
    cleared = f"listing by {SUPPLIER} cleared: "
    assert _history(settings, disputed)[4] == ("FinancingOfferWithdrawn", cleared + "the receivable was disputed")
    assert _history(settings, defaulted)[4] == (
        "FinancingOfferWithdrawn",
        cleared + "the receivable was declared in default",
    )
    with read_connection(settings.database_url) as conn:
        scope = find_scope(conn, settings)
        summaries = [e["summary"] for e in ledger_events(conn, scope, EventFilter(types=["FinancingOfferWithdrawn"]))]
    assert summaries == [cleared + "the receivable was disputed", cleared + "the receivable was declared in default"]


def test_queries_remedies_events_describe_the_grace_period_recoveries_and_show_statuses(
    settings: Settings, built: Any
) -> None:
    from ledger.history import EventFilter, ledger_events
    from ledger.queries import find_scope, read_connection

    _net, ids = built
    with read_connection(settings.database_url) as conn:
        scope = find_scope(conn, settings)
        grace = ledger_events(conn, scope, EventFilter(types=["GracePeriodChanged"]))
        repaid = ledger_events(conn, scope, EventFilter(types=["InvoiceRepaid"]))
        notes = ledger_events(conn, scope, EventFilter(types=["CreditNoteIssued"], invoice_id=ids["b"]))
        extended = ledger_events(conn, scope, EventFilter(types=["MaturityExtended"]))
    tail = " after the due date (unfinanced receivables, and the default for new financings)"
    assert [e["summary"] for e in grace] == [
        "grace period before a default set to 7 days" + tail,
        "grace period before a default set to 3 days" + tail,
    ]
    assert [e["args"] for e in grace] == [{"gracePeriod": 604_800}, {"gracePeriod": 259_200}]
    assert [(e["invoice_id"], e["summary"].startswith("recovery after the default: ")) for e in repaid] == [
        (ids["b"], False),
        (ids["b"], True),
        (ids["c"], True),
        (ids["d"], True),
        (ids["e"], False),
    ]
    (note,) = notes
    assert {k: v for k, v in note["args"].items() if k not in ("issuer", "holder", "noteHash")} == {
        "invoiceId": ids["b"],
        "credit": "300.00",
        "newAmount": "700.00",
        "toHolder": "250.00",
        "status": "PartiallyPaid",
    }
    assert (note["amount"], note["currency"], [p["name"] for p in note["parties"]]) == (
        "300.00",
        "HKD",
        [FINANCIER, SUPPLIER],
    )
    (ext,) = extended
    assert ext["args"]["oldDueDate"].endswith("T23:59:59+08:00") and ext["args"]["newDueDate"].endswith("+08:00")


def test_queries_remedies_deployment_grace_and_incidents_by_invoice_buyer_supplier_and_seller(
    settings: Settings, built: Any
) -> None:
    from ledger.queries import IncidentFilter, deployment_grace_period, find_scope, incidents, read_connection

    net, ids = built
    with read_connection(settings.database_url) as conn:
        scope = find_scope(conn, settings)
        assert deployment_grace_period(conn, scope) == 3 * DAY
        assert deployment_grace_period(conn, scope, ids["before_grace_change"]) == 7 * DAY  # as deployed
        of_b = incidents(conn, scope, IncidentFilter(invoice_id=ids["b"]))
        of_buyer = incidents(conn, scope, IncidentFilter(buyer=net.addr("buyer")))
        notes = incidents(conn, scope, IncidentFilter(supplier=net.addr("supplier"), kinds=["credit_note"]))
        sold = incidents(conn, scope, IncidentFilter(seller=net.addr("supplier")))
        none = incidents(conn, scope, IncidentFilter(buyer=net.addr("buyer2")))
        before = incidents(conn, scope, IncidentFilter(invoice_id=ids["b"]), as_of_block=ids["before_default"])
    assert [i["kind"] for i in of_b] == ["disputed", "credit_note", "defaulted", "written_off"]
    assert [(i["amount"], i["outstanding"]) for i in of_b] == [
        (None, None),
        (30_000, 60_000),
        (60_000, 60_000),
        (60_000, None),
    ]
    assert {i["currency"] for i in of_b} == {net.hkd.address}
    assert (of_b[0]["seller"], of_b[0]["buyer"], of_b[0]["supplier"]) == (
        net.addr("supplier"),
        net.addr("buyer"),
        net.addr("supplier"),
    )
    # a: 4, b: 4, c: 5, d: 1, e: 1, f: 1, g: 2, t1: 1.
    assert len(of_buyer) == 19
    # Dilution of the supplier's invoices: a 200.00, b 300.00, t1 100.00 (a part keeps its root's supplier), e, f.
    assert [(i["invoice_id"], i["amount"]) for i in notes] == [
        (ids["a"], 20_000),
        (ids["b"], 30_000),
        (ids["t1"], 10_000),
        (ids["e"], 20_000),
        (ids["f"], 20_000),
    ]
    assert {i["invoice_id"] for i in sold} == {ids["b"], ids["c"]}
    assert none == []
    assert [i["kind"] for i in before] == ["disputed", "credit_note"]


def test_queries_remedies_overdue_lists_open_and_defaulted_with_when_a_default_may_be_declared(
    settings: Settings, built: Any
) -> None:
    """After the travel, past due and not fully paid: a (800.00 open), t1 (500.00 after its credit
    note) and t2 (400.00), all unfinanced, open, each defaultable from its due date plus the
    deployment's grace (3 days); b (written off: 700.00 - 100.00 - 150.00 = 450.00 open) and c
    (defaulted, bought back: 1,000.00 - 400.00 = 600.00 open), already in default (no
    ``default_from``). g is disputed and d paid: neither is overdue."""
    from ledger.format import iso_time
    from ledger.queries import find_scope, ledger_time, overdue_day, overdue_invoices, read_connection

    net, ids = built
    with read_connection(settings.database_url) as conn:
        scope = find_scope(conn, settings)
        day = overdue_day(conn, scope, None)
        rows = overdue_invoices(conn, scope, day)
        at = ledger_time(conn, scope)
    by_id = {r["invoice_id"]: r for r in rows}
    assert sorted(by_id) == sorted([ids["a"], ids["b"], ids["c"], ids["t1"], ids["t2"]])
    assert [(by_id[i]["status"], by_id[i]["outstanding"]) for i in (ids["a"], ids["b"], ids["c"])] == [
        ("Confirmed", "800.00"),
        ("WrittenOff", "450.00"),
        ("Defaulted", "600.00"),
    ]
    assert by_id[ids["b"]]["default_from"] is None and by_id[ids["c"]]["default_from"] is None
    for i in (ids["a"], ids["t1"], ids["t2"]):
        due = business_date(net.due_ts(i))
        assert by_id[i]["default_from"] == iso_time(net.due_ts(i) + 3 * DAY)
        assert by_id[i]["days_past_due"] == (business_date(at) - due).days
    assert by_id[ids["t2"]]["holder"]["name"] == "Sham Shui Po Textiles Ltd"
