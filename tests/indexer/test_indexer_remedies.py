"""The mirror of contracts version 4 (issue 14): disputes, credit notes,
extensions, defaults, buy-backs, write-offs and recoveries indexed exactly
once, on both fold paths (the writer's, and the fetch process's for invoices
minted within a range), reorg-safe, verified against the chain, and replayed
as of any block.

The chain is driven with direct contract calls (``support.contracts.Net``),
not the Ledger's new commands, so these tests depend on the contract only."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from support.contracts import DAY
from support.indexer import (  # noqa: F401 - fixtures
    assert_matches_chain,
    fresh_snapshot,
    head,
    remedies_driver,
    reorg_txs,
    rpc,
    settings_fixture,
    snapshot,
)

from ledger.config import Settings
from ledger.db import create_db_engine
from ledger.db.models import Financing, Incident, Invoice, Repayment
from ledger.db.timestamps import utc_from_timestamp

#: The deployment's grace period in the session deployment (config default: 7 days).
WEEK = 7 * DAY


@pytest.fixture(name="net")
def net_fixture(ledger: Any, acct: Any) -> Any:
    return remedies_driver(ledger, acct)


def row(settings: Settings, invoice_id: int) -> Any:
    engine = create_db_engine(settings.database_url, write=False)
    try:
        with engine.connect() as conn:
            return conn.execute(select(Invoice.__table__).where(Invoice.invoice_id == invoice_id)).one()
    finally:
        engine.dispose()


def rows(settings: Settings, model: Any, invoice_id: int | None = None) -> list[Any]:
    engine = create_db_engine(settings.database_url, write=False)
    t = model.__table__
    try:
        with engine.connect() as conn:
            stmt = select(t).order_by(t.c.block_number, t.c.log_index)
            if invoice_id is not None:
                stmt = stmt.where(t.c.invoice_id == invoice_id)
            return list(conn.execute(stmt))
    finally:
        engine.dispose()


def new_columns(r: Any) -> dict[str, Any]:
    return {
        "status": r.status,
        "amount": r.amount,
        "paid": r.paid,
        "outstanding": r.outstanding,
        "credited": r.credited,
        "recourse": r.recourse,
        "grace_period": r.grace_period,
        "disputed_from": r.disputed_from,
        "proposed_due_at": r.proposed_due_at,
        "extensions": r.extensions,
        "defaulted": r.defaulted_block is not None,
        "written_off": r.written_off,
        "recovered": r.recovered,
        "financier_paid": r.financier_paid,
    }


def sync(settings: Settings, **options: Any) -> Any:
    from ledger.indexer import sync as run

    return run(settings, **options)


def test_indexer_remedies_every_new_column_after_each_transition(settings: Settings, net: Any, tmp_path: Path) -> None:
    """One transition at a time, indexed after each: the invoice's new
    columns, its incidents and its repayments' recovery flag are what the
    contract's rules give, figures hand-computed; the incremental database
    equals a fresh index done in a thread and one done by a fetch process."""
    sync(settings)
    base = {
        "status": "Confirmed",
        "amount": 100_000,
        "paid": 0,
        "outstanding": 100_000,
        "credited": 0,
        "recourse": False,
        "grace_period": None,
        "disputed_from": None,
        "proposed_due_at": None,
        "extensions": 0,
        "defaulted": False,
        "written_off": 0,
        "recovered": 0,
        "financier_paid": 0,
    }

    def check(invoice_id: int, **changes: Any) -> None:
        sync(settings)
        base_of[invoice_id].update(changes)
        assert new_columns(row(settings, invoice_id)) == base_of[invoice_id], invoice_id

    # A: unfinanced; disputed, withdrawn, disputed again, settled by a 200.00 credit note of its holder.
    a = net.confirmed(number="REM-A")
    b = net.confirmed(number="REM-B")
    c = net.confirmed(number="REM-C")
    d = net.confirmed(number="REM-D", amount="500.00")
    base_of = {a: dict(base), b: dict(base), c: dict(base), d: dict(base, amount=50_000, outstanding=50_000)}
    net.dispute(a)
    check(a, status="Disputed", disputed_from="Confirmed")
    net.withdraw_dispute(a)
    check(a, status="Confirmed", disputed_from=None)
    net.dispute(a, "wrong quantity")
    net.credit_note(a, 20_000)  # holder = creditor: nothing paid to anyone
    check(a, status="Confirmed", amount=80_000, outstanding=80_000, credited=20_000)

    # B: financed without recourse (advance 900.00, due 950.00: a reserve of 50.00), 100.00 paid,
    # disputed, then a 300.00 credit note by the seller: open 900.00 -> 600.00 while the financier
    # is owed 950.00 - 100.00 = 850.00, so the seller pays it 850.00 - 600.00 = 250.00.
    net.finance_raw(b, 90_000, 95_000, recourse=False, grace=WEEK)
    check(b, status="Financed", recourse=False, grace_period=WEEK)
    net.pay(b, 10_000)
    check(b, status="PartiallyPaid", paid=10_000, outstanding=90_000, financier_paid=10_000)
    net.dispute(b)
    check(b, status="Disputed", disputed_from="PartiallyPaid")
    supplier_before = net.balance("supplier")
    net.credit_note(b, 30_000, note="CN-B")
    assert supplier_before - net.balance("supplier") == 25_000
    check(
        b,
        status="PartiallyPaid",
        disputed_from=None,
        amount=70_000,
        outstanding=60_000,
        credited=30_000,
        financier_paid=35_000,
    )

    # The operator shortens the deployment's grace to 3 days (GracePeriodChanged: no invoice).
    net.set_grace(3 * DAY)
    # C: financed with recourse and a 3-day grace (the least recourse may agree: the deployment's);
    # the buyer proposes 5 days more, the financier accepts.
    net.finance_raw(c, 80_000, 90_000, recourse=True, grace=3 * DAY)
    check(c, status="Financed", recourse=True, grace_period=3 * DAY)
    old_due = net.due_ts(c)
    net.propose(c, old_due + 5 * DAY)
    check(c, proposed_due_at=utc_from_timestamp(old_due + 5 * DAY))
    net.accept(c, old_due + 5 * DAY, "financier")
    check(c, proposed_due_at=None, extensions=1)
    assert row(settings, c).due_at == utc_from_timestamp(old_due + 5 * DAY)
    net.propose(c, old_due + 9 * DAY)  # a proposal left open: the default clears it
    check(c, proposed_due_at=utc_from_timestamp(old_due + 9 * DAY))

    net.travel(40 * DAY)  # past every due date plus its grace

    # B: defaulted by the financier (claim 950.00 - 350.00 = 600.00), written off, 150.00 recovered.
    net.default(b, "financier")
    check(b, status="Defaulted", defaulted=True)
    net.write_off(b, "financier")
    check(b, status="WrittenOff", written_off=60_000)
    net.pay(b, 15_000)
    check(b, paid=25_000, outstanding=45_000, recovered=15_000, financier_paid=50_000)

    # C: defaulted (claim 900.00), bought back on the financier's demand: the seller pays 900.00 and
    # holds it again; 400.00 paid later all goes to the seller (the financing is settled).
    net.default(c, "financier")
    check(c, status="Defaulted", defaulted=True, proposed_due_at=None)
    financier_before = net.balance("financier")
    net.buy_back(c, "financier")
    assert net.balance("financier") - financier_before == 90_000
    check(c, financier_paid=90_000)
    assert row(settings, c).holder == net.addr("supplier")
    net.pay(c, 40_000)
    check(c, paid=40_000, outstanding=60_000, recovered=40_000)
    assert row(settings, c).reserve_released == 40_000

    # D: unfinanced, defaulted by the supplier, then paid in full: Paid, all of it a recovery.
    net.default(d, "supplier")
    check(d, status="Defaulted", defaulted=True)
    net.pay(d, 50_000)
    check(d, status="Paid", paid=50_000, outstanding=0, recovered=50_000)

    # E, F: credit notes of the whole open amount close the receivable (Paid / Cancelled, not burnt).
    e = net.confirmed(number="REM-E", amount="300.00")
    f = net.confirmed(number="REM-F", amount="200.00")
    net.pay(e, 10_000)
    net.credit_note(e, 20_000, note="CN-E")
    net.credit_note(f, 20_000, note="CN-F")
    sync(settings)
    re, rf = row(settings, e), row(settings, f)
    assert (re.status, re.amount, re.credited, re.outstanding, re.paid_block is not None) == (
        "Paid",
        10_000,
        20_000,
        0,
        True,
    )
    assert (rf.status, rf.amount, rf.credited, rf.outstanding, rf.holder) == (
        "Cancelled",
        0,
        20_000,
        0,
        net.addr("supplier"),
    )

    # Incidents: one row per event, with the columns of its kind.
    incidents = rows(settings, Incident)
    kinds = [(i.invoice_id, i.kind) for i in incidents]
    assert kinds == [
        (a, "disputed"),
        (a, "dispute_withdrawn"),
        (a, "disputed"),
        (a, "credit_note"),
        (b, "disputed"),
        (b, "credit_note"),
        (c, "extension_proposed"),
        (c, "extended"),
        (c, "extension_proposed"),
        (b, "defaulted"),
        (b, "written_off"),
        (c, "defaulted"),
        (c, "bought_back"),
        (d, "defaulted"),
        (e, "credit_note"),
        (f, "credit_note"),
    ]
    by = {(i.invoice_id, i.kind): i for i in incidents}
    supplier, buyer, financier = net.addr("supplier"), net.addr("buyer"), net.addr("financier")
    cn_b = by[(b, "credit_note")]
    assert (cn_b.actor, cn_b.counterparty, cn_b.amount, cn_b.paid_to_holder, cn_b.outstanding, cn_b.status) == (
        supplier,
        financier,
        30_000,
        25_000,
        60_000,
        "PartiallyPaid",
    )
    assert cn_b.reference == "0x" + net.reason("CN-B").hex()
    disputed_b = by[(b, "disputed")]
    assert (disputed_b.actor, disputed_b.counterparty, disputed_b.status, disputed_b.amount) == (
        buyer,
        financier,
        "PartiallyPaid",
        None,
    )
    assert (by[(a, "dispute_withdrawn")].actor, by[(a, "dispute_withdrawn")].status) == (buyer, "Confirmed")
    ext = by[(c, "extended")]
    assert (ext.actor, ext.old_due_at, ext.new_due_at) == (
        financier,
        utc_from_timestamp(old_due),
        utc_from_timestamp(old_due + 5 * DAY),
    )
    proposed = [i for i in incidents if i.kind == "extension_proposed"]
    assert [(p.actor, p.old_due_at, p.new_due_at) for p in proposed] == [
        (buyer, utc_from_timestamp(old_due), utc_from_timestamp(old_due + 5 * DAY)),
        (buyer, utc_from_timestamp(old_due + 5 * DAY), utc_from_timestamp(old_due + 9 * DAY)),
    ]
    dflt_b, dflt_c = by[(b, "defaulted")], by[(c, "defaulted")]
    assert (dflt_b.actor, dflt_b.amount, dflt_b.outstanding) == (financier, 60_000, 60_000)
    assert (dflt_c.actor, dflt_c.amount, dflt_c.outstanding) == (financier, 90_000, 100_000)
    assert (by[(d, "defaulted")].actor, by[(d, "defaulted")].amount) == (supplier, 50_000)
    bb = by[(c, "bought_back")]
    assert (bb.actor, bb.counterparty, bb.amount) == (supplier, financier, 90_000)
    wo = by[(b, "written_off")]
    assert (wo.actor, wo.counterparty, wo.amount) == (financier, None, 60_000)
    assert (by[(e, "credit_note")].status, by[(f, "credit_note")].status) == ("Paid", "Cancelled")

    # Financings keep the terms; repayments after a default are recoveries.
    terms = [(r.invoice_id, r.recourse, r.grace_period) for r in rows(settings, Financing)]
    assert terms == [(b, False, WEEK), (c, True, 3 * DAY)]
    recoveries = [(r.invoice_id, r.amount, r.recovery) for r in rows(settings, Repayment)]
    assert recoveries == [
        (b, 10_000, False),
        (b, 15_000, True),
        (c, 40_000, True),
        (d, 50_000, True),
        (e, 10_000, False),
    ]

    # The same ledger indexed from scratch: by the writer alone, and with a fetch process.
    incremental = snapshot(settings.database_url)
    assert incremental == fresh_snapshot(settings, tmp_path, "thread")
    process_url = f"sqlite:///{tmp_path / 'process.db'}"
    stats = sync(replace(settings, db_url=process_url), workers="process")
    assert stats.fetch_process, stats
    assert snapshot(process_url) == incremental


def test_indexer_remedies_reorg_through_a_dispute_credit_note_default_buy_back_and_write_off(
    settings: Settings, net: Any, ledger: Any, acct: Any, tmp_path: Path
) -> None:
    """Blocks holding a dispute, a credit note, two defaults, a buy-back and a
    write-off are reorganised away (at most 10 blocks deep): the database
    equals a fresh index and the chain, and verify passes; done again on the
    new chain, the same holds."""
    from ledger.indexer.verify import verify

    url = settings.rpc_url
    x = net.confirmed(number="REORG-X")
    y = net.confirmed(number="REORG-Y")
    z = net.confirmed(number="REORG-Z", amount="500.00")
    net.finance_raw(y, 80_000, 90_000, recourse=True, grace=WEEK)
    net.approve_hkd("supplier", 10**15)  # the buy-back needs no approval in the window
    net.ledger.mint(net.acct("operator"), net.addr("supplier"), "1000.00", "HKD")  # to pay the buy-back twice
    net.travel(40 * DAY)
    sync(settings)

    def go_wrong() -> int:
        start = head(url)
        net.send(net.invoices.functions.dispute(x, net.reason("late")), "buyer")
        net.send(net.invoices.functions.issueCreditNote(x, 25_000, net.reason("CN-X")), "supplier")
        net.default(y, "financier")
        net.send(net.invoices.functions.buyBack(y), "financier")
        net.default(z, "supplier")
        net.write_off(z, "supplier")
        return head(url) - start

    depth = go_wrong()
    assert depth <= 10, depth
    sync(settings)
    kinds = [r.kind for r in rows(settings, Incident)]
    assert kinds == ["disputed", "credit_note", "defaulted", "bought_back", "defaulted", "written_off"]
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path, "before")

    rpc(url, "anvil_reorg", [depth, reorg_txs(ledger, acct, f"remedies-{time.monotonic_ns()}")])
    stats = sync(settings)

    assert stats.reorgs == 1 and stats.reorged_blocks >= depth - 1, stats
    after = snapshot(settings.database_url)
    assert after == fresh_snapshot(settings, tmp_path, "after")
    assert after["incidents"] == []
    assert (row(settings, x).status, row(settings, y).status, row(settings, z).status) == (
        "Confirmed",
        "Financed",
        "Confirmed",
    )
    assert (row(settings, x).credited, row(settings, y).holder) == (0, net.addr("financier"))
    assert_matches_chain(settings.database_url, ledger)
    report = verify(settings)
    assert report.mismatches == [], report.summary()

    go_wrong()
    sync(settings)
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path, "again")
    assert (row(settings, x).amount, row(settings, y).holder, row(settings, z).written_off) == (
        75_000,
        net.addr("supplier"),
        50_000,
    )
    report = verify(settings)
    assert report.mismatches == [], report.summary()


#: Tampering with each new column, and the (kind, field) verify then reports.
TAMPERING = [
    ("invoices", "credited", "t1", 1, {("invoice", "credited"), ("tree", "paid + parts")}),
    ("invoices", "recourse", "b", True, {("invoice", "recourse")}),
    ("invoices", "grace_period", "c", 1, {("invoice", "grace_period")}),
    ("invoices", "disputed_from", "g", "PartiallyPaid", {("invoice", "disputed_from")}),
    ("invoices", "proposed_due_at", "g", None, {("invoice", "proposed_due_at")}),
    ("invoices", "extensions", "c", 2, {("invoice", "extensions")}),
    ("invoices", "defaulted_block", "b", 1, {("invoice", "defaulted_block")}),
    ("invoices", "defaulted_at", "d", dt.datetime(2030, 1, 1, tzinfo=dt.UTC), {("invoice", "defaulted_at")}),
    ("invoices", "written_off", "b", 1, {("invoice", "written_off")}),
    ("invoices", "recovered", "c", 1, {("invoice", "recovered")}),
    ("invoices", "offer_recourse", "a", True, {("invoice", "offer_recourse")}),
    ("financings", "recourse", "c", False, {("financing", "recourse")}),
    ("financings", "grace_period", "b", 0, {("financing", "grace_period")}),
    ("repayments", "recovery", "d", False, {("repayment", "recovery")}),
    ("incidents", "amount", "b", 1, {("incident", "amount")}),
    ("incidents", "paid_to_holder", "b", 1, {("incident", "paid_to_holder")}),
    ("incidents", "outstanding", "d", 1, {("incident", "outstanding")}),
    ("incidents", "actor", "d", "0x" + "ab" * 20, {("incident", "actor")}),
    ("incidents", "counterparty", "b", None, {("incident", "counterparty")}),
    ("incidents", "reference", "g", "0x" + "00" * 32, {("incident", "reference")}),
    ("incidents", "old_due_at", "c", dt.datetime(2030, 1, 1, tzinfo=dt.UTC), {("incident", "old_due_at")}),
    ("incidents", "new_due_at", "c", dt.datetime(2030, 1, 1, tzinfo=dt.UTC), {("incident", "new_due_at")}),
    ("incidents", "status", "a", "Paid", {("incident", "status")}),
    ("incidents", "kind", "f", "written_off", {("incident", "kind")}),
]


def test_indexer_remedies_verify_passes_and_detects_tampering_of_each_new_column(settings: Settings, net: Any) -> None:
    """verify compares recourse, the grace that applies, the dispute's
    previous status, the proposed due date and the amount after credit notes
    with getInvoice, the tree with credit notes on a part, and every other
    new column (invoices, financings, repayments, incidents) with a replay of
    the chain's logs: one tampered value at a time is reported."""
    from ledger.indexer.verify import verify

    ids = net.remedies_ledger()
    sync(settings)
    clean = verify(settings)
    assert clean.mismatches == [], clean.summary()
    assert assert_matches_chain(settings.database_url, net.ledger) == ids["g"]
    engine = create_db_engine(settings.database_url)
    try:
        for table_name, column, letter, value, expected in TAMPERING:
            t = {"invoices": Invoice, "financings": Financing, "repayments": Repayment, "incidents": Incident}[
                table_name
            ].__table__
            with engine.begin() as conn:
                key = conn.execute(select(t.c[column]).where(t.c.invoice_id == ids[letter])).first()
                assert key is not None, (table_name, letter)
                where = [t.c.invoice_id == ids[letter]]
                if "id" in t.c:  # one record row: the invoice's first
                    first = conn.execute(
                        select(t.c.id).where(*where).order_by(t.c.block_number, t.c.log_index).limit(1)
                    ).scalar_one()
                    where = [t.c.id == first]
                original = conn.execute(select(t.c[column]).where(*where)).scalar_one()
                assert original != value, (table_name, column, letter)
                conn.execute(update(t).where(*where).values({column: value}))
            try:
                found = {(m.kind, m.field) for m in verify(settings).mismatches}
            finally:
                with engine.begin() as conn:
                    conn.execute(update(t).where(*where).values({column: original}))
            assert found == expected, (table_name, column, found)
    finally:
        engine.dispose()
    assert verify(settings).mismatches == []


def test_indexer_remedies_as_of_block_before_and_after_a_default(settings: Settings, net: Any) -> None:
    """`scf invoice show --as-of-block` (queries.show_invoice) replays the new
    states: before b's default it is PartiallyPaid with its credit note and
    financing terms, after it Defaulted with the claim still open; now
    WrittenOff with the recovery."""
    from click.testing import CliRunner

    from ledger.cli import main
    from ledger.queries import find_scope, read_connection, show_invoice

    ids = net.remedies_ledger()
    sync(settings)
    b = ids["b"]
    with read_connection(settings.database_url) as conn:
        scope = find_scope(conn, settings)
        before = show_invoice(conn, scope, b, ids["before_default"])
        after = show_invoice(conn, scope, b, ids["after_default"])
        now = show_invoice(conn, scope, b)
    keys = ("status", "amount", "credited", "outstanding", "recourse", "grace_days", "defaulted_block", "written_off")
    assert {k: before[k] for k in keys} == {
        "status": "PartiallyPaid",
        "amount": "700.00",
        "credited": "300.00",
        "outstanding": "600.00",
        "recourse": False,
        "grace_days": "7",
        "defaulted_block": None,
        "written_off": "0.00",
    }
    assert {k: after[k] for k in keys} == {
        **{k: before[k] for k in keys},
        "status": "Defaulted",
        "defaulted_block": ids["after_default"],
    }
    assert (after["financier_paid"], after["recovered"]) == ("350.00", "0.00")
    assert {k: now[k] for k in ("status", "written_off", "recovered", "outstanding", "financier_paid")} == {
        "status": "WrittenOff",
        "written_off": "600.00",
        "recovered": "150.00",
        "outstanding": "450.00",
        "financier_paid": "500.00",
    }
    # Unfinanced: the deployment's grace at that block (7 days, then 3 after GracePeriodChanged).
    with read_connection(settings.database_url) as conn:
        assert show_invoice(conn, scope, ids["a"], ids["before_default"])["grace_days"] == "3"
        assert show_invoice(conn, scope, ids["a"], ids["a"] and scope.indexed_block)["recourse"] is None

    result = CliRunner().invoke(
        main,
        [
            "--home",
            str(settings.home),
            "--rpc-url",
            settings.rpc_url,
            "--db-url",
            settings.database_url,
            "invoice",
            "show",
            str(b),
            "--as-of-block",
            str(ids["after_default"]),
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "status       Defaulted" in lines
    assert "recourse     no" in lines
    assert "grace        7 days after the due date" in lines
    assert "credited     HKD 300.00" in lines
    assert "recovered    HKD 0.00" in lines
    assert any(line.startswith("defaulted    ") for line in lines)
