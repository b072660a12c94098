"""The indexer reproduces the ledger: a sync equals the chain and a fresh
index, re-runs, replays and rebuilds change nothing, confirmations keep it
behind the head, and only the recent window of block headers is kept.

The yardstick is always a fresh index of the same chain into a new SQLite
database, and the chain itself (`Ledger.show` for every invoice)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from support.indexer import (  # noqa: F401 - fixtures
    DUE,
    Actions,
    actions_fixture,
    assert_matches_chain,
    count_starts,
    head,
    issue_many,
    rewind_cursor,
    rpc,
    settings_fixture,
    snapshot,
    two_idle_cores,
)

from ledger.business_time import due_timestamp
from ledger.config import Settings
from ledger.db.models import Block, Event, Financing, Invoice, Participant, Repayment


def test_indexer_sync_reproduces_the_lifecycle(settings: Settings, actions: Actions, ledger: Any, acct: Any) -> None:
    from ledger.indexer import sync

    for stop in ("paid", "part-paid", "financed", "offered", "confirmed", "transferred", "prepaid-financed"):
        actions.lifecycle(actions.issue(), stop)
    actions.issue()
    cancelled = actions.issue()
    ledger.cancel(acct("supplier"), cancelled)
    ledger.set_suspended(acct("operator"), acct("auditor").address, True)
    actions.rename()

    stats = sync(settings)

    assert stats.events > 0 and stats.block == head(settings.rpc_url), stats
    assert assert_matches_chain(settings.database_url, ledger) == 9
    engine = create_engine(settings.database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        people = {r.address: r for r in conn.execute(select(Participant.__table__))}
        fin = conn.execute(select(Financing.__table__)).all()
        rep = conn.execute(select(Repayment.__table__)).all()
        paid = conn.execute(select(Invoice.__table__).where(Invoice.invoice_id == 1)).one()
        moved, prepaid = (conn.execute(select(Invoice.__table__).where(Invoice.invoice_id == i)).one() for i in (6, 7))
        cleared = conn.execute(
            select(Event.__table__).where(Event.invoice_id == 6, Event.event == "FinancingOfferWithdrawn")
        ).all()
    engine.dispose()
    on_chain = {p["address"]: p for p in ledger.participants()}
    assert set(people) == set(on_chain)
    for address, person in on_chain.items():
        assert (people[address].name, people[address].suspended) == (person["name"], person["suspended"])
    assert people[acct("auditor").address].suspended is True
    assert people[acct("auditor").address].name.startswith("Central Audit Partners "), "renamed"
    assert len(fin) == 4 and {r.invoice_id for r in fin} == {1, 2, 3, 7}
    assert {r.invoice_id: r.due for r in fin} == {1: 95000, 2: 95000, 3: 95000, 7: 85000}
    supplier = acct("supplier").address
    # (invoice, amount, to the payee, to the seller, seller): the reserve goes to the seller once the financier's
    # due is met; a payment before financing has no seller.
    assert sorted((r.invoice_id, r.amount, r.to_payee, r.to_seller, r.seller) for r in rep) == [
        (1, 40000, 40000, 0, supplier),
        (1, 60000, 55000, 5000, supplier),
        (2, 40000, 40000, 0, supplier),
        (7, 10000, 10000, 0, None),
        (7, 90000, 85000, 5000, supplier),
    ]
    assert paid.status == "Paid" and paid.paid_at is not None and paid.financed_block < paid.paid_block
    assert (paid.seller, paid.financier_due, paid.financier_paid, paid.reserve_released) == (
        supplier,
        95000,
        95000,
        5000,
    )
    assert paid.number.startswith("INV-") and paid.number_normalised == paid.number.replace("-", "")
    assert (moved.holder, moved.offer_expires_at, moved.seller, len(cleared)) == (
        acct("supplier2").address,
        None,
        None,
        1,
    ), "a transfer clears the listing"
    assert (
        prepaid.status,
        prepaid.financed_block is not None,
        prepaid.financier_due,
        prepaid.financier_paid,
        prepaid.reserve_released,
    ) == ("Paid", True, 85000, 85000, 5000)


def test_indexer_sync_twice_changes_nothing(settings: Settings, actions: Actions) -> None:
    from ledger.indexer import sync

    actions.lifecycle(actions.issue(), "part-paid")
    first = sync(settings)
    before = snapshot(settings.database_url)
    second = sync(settings)

    assert first.events > 0
    assert (second.events, second.batches) == (0, 0)
    assert snapshot(settings.database_url) == before


def test_indexer_replaying_stored_blocks_is_idempotent(settings: Settings, actions: Actions) -> None:
    """Rows already stored are neither inserted nor folded again, even when the
    cursor is moved back over them."""
    from ledger.indexer import sync

    actions.lifecycle(actions.issue(), "paid")
    sync(settings)
    before = snapshot(settings.database_url)
    rewind_cursor(settings)

    again = sync(settings)

    assert again.events == 0 and again.blocks > 0
    assert snapshot(settings.database_url) == before


def test_indexer_auto_over_stored_events_makes_progress(
    settings: Settings, ledger: Any, acct: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long backlog over events already stored (the cursor moved back): mode
    auto starts a fetch process, its first range overlaps, and the writer
    takes the stored stretch over in a thread, starting no other fetch
    process before the last stored block. (It used to start one per range,
    and with a fetch process from the start it would start them forever.)"""
    from ledger.indexer import fetchers, sync

    issue_many(ledger, acct, settings.rpc_url, 60, per_block=3)
    sync(settings)
    before = snapshot(settings.database_url)
    rewind_cursor(settings)
    two_idle_cores(monkeypatch)
    starts = count_starts(monkeypatch, fetchers.ProcessFetcher, most=3)

    again = sync(settings, workers="auto", initial_span=1, target_logs=1)  # ranges of one block

    assert starts, "the long backlog should have started a fetch process"
    assert again.events == 0 and again.blocks > 0
    assert snapshot(settings.database_url) == before


def test_indexer_rebuild_replays_the_same_projections(settings: Settings, actions: Actions) -> None:
    from ledger.indexer import rebuild, sync

    for stop in ("paid", "financed", "confirmed"):
        actions.lifecycle(actions.issue(), stop)
    sync(settings)
    before = snapshot(settings.database_url)

    replayed = rebuild(settings)

    assert replayed > 0
    assert snapshot(settings.database_url) == before


def test_indexer_confirmations_keep_it_behind_the_head(settings: Settings, actions: Actions) -> None:
    from ledger.indexer import sync

    actions.blocks_of_activity(5)
    top = head(settings.rpc_url)

    behind = sync(settings, confirmations=3)
    caught_up = sync(settings, confirmations=0)

    assert (behind.block, behind.target, behind.head) == (top - 3, top - 3, top)
    assert caught_up.block == top and caught_up.events > 0


def test_indexer_invoice_number_that_is_not_utf8_is_indexed(settings: Settings, ledger: Any, acct: Any) -> None:
    """The contract takes any bytes as an invoice number: one that is not
    UTF-8 reads as U+FFFD, and the invoice is indexed, listed, found by
    --number and verified like any other."""
    from click.testing import CliRunner
    from eth_abi import encode as abi_encode
    from eth_utils import keccak

    from ledger.cli import main
    from ledger.indexer import sync

    raw = b"INV-\xff\xfe-" + str(time.monotonic_ns()).encode()
    due = due_timestamp(DUE)  # the end of DUE in the business time zone
    currency = ledger.deployment.currency("HKD").address
    selector = keccak(text="issue(address,string,uint256,address,uint64,bytes32)")[:4]
    data = selector + abi_encode(
        ["address", "bytes", "uint256", "address", "uint64", "bytes32"],
        [acct("buyer").address, raw, 123_45, currency, due, b"\7" * 32],
    )
    tx = ledger.w3.eth.send_transaction(
        {"from": acct("supplier").address, "to": ledger.invoices.address, "data": "0x" + data.hex(), "gas": 1_000_000}
    )
    assert ledger.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    invoice_id = ledger.invoices.functions.nextInvoiceId().call() - 1
    number = raw.decode("utf-8", errors="replace")

    sync(settings)

    engine = create_engine(settings.database_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        row = conn.execute(select(Invoice.__table__).where(Invoice.invoice_id == invoice_id)).one()
        events = [r.event for r in conn.execute(select(Event.event).where(Event.invoice_id == invoice_id))]
    engine.dispose()
    assert (row.number, row.number_normalised, row.amount) == (
        number,
        "INV\ufffd\ufffd" + number.rsplit("-", 1)[1],
        12345,
    )
    assert events == ["Transfer", "InvoiceIssued"]
    base = ["--home", str(settings.home), "--rpc-url", settings.rpc_url, "--db-url", settings.database_url]
    found = CliRunner().invoke(main, [*base, "invoice", "list", "--number", number, "--json"])
    assert found.exit_code == 0, found.output
    assert [(r["invoice_id"], r["number"]) for r in json.loads(found.output)] == [(invoice_id, number)]
    table = CliRunner().invoke(main, [*base, "invoice", "history", str(invoice_id)])
    assert table.exit_code == 0 and "\ufffd" in table.output, table.output
    verified = CliRunner().invoke(main, [*base, "verify"])
    assert verified.exit_code == 0, verified.output


def test_indexer_blocks_table_keeps_only_the_recent_window(settings: Settings, chain: Any) -> None:
    from ledger.indexer import get_engine, sync
    from ledger.indexer.reorg import REORG_WINDOW

    rpc(settings.rpc_url, "anvil_mine", [hex(REORG_WINDOW + 50)])
    sync(settings)

    with get_engine(settings.database_url).connect() as conn:
        numbers = [r[0] for r in conn.execute(select(Block.number).order_by(Block.number))]
        tables = {
            r[0]
            for r in conn.execute(
                text(
                    "SELECT name FROM sqlite_master WHERE type='table'"
                    if settings.database_url.startswith("sqlite")
                    else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                )
            )
        }
    top = head(settings.rpc_url)
    assert numbers == list(range(top - REORG_WINDOW + 1, top + 1))
    assert {"events", "blocks", "cursors", "invoices", "participants", "financings", "repayments"} <= tables
