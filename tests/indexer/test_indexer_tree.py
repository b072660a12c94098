"""Multi-tier receivables in the mirror: splits, parts passed on with a
reference, a financed part and payments across the leaves are indexed with
their lineage on every backend; the fetch process and the writer fold them
alike; a reorg through a split and a repayRoot leaves the database equal to
the chain; `scf verify` checks trees; `--as-of-block` shows a tree as it was.

The yardsticks are the chain (`assert_matches_chain`: every invoice, its
lineage and every tree's sum) and a fresh index of it."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner
from support.indexer import (  # noqa: F401 - fixtures
    Actions,
    actions_fixture,
    assert_matches_chain,
    fresh_snapshot,
    head,
    reorg_txs,
    rpc,
    settings_fixture,
    snapshot,
)

from ledger.config import Settings
from ledger.db.models import Event, Invoice, Repayment


def _rows(url: str) -> dict[int, Any]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return {r.invoice_id: r for r in conn.execute(sa.select(Invoice.__table__))}
    finally:
        engine.dispose()


def _select(url: str, statement: Any) -> list[Any]:
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return list(conn.execute(statement))
    finally:
        engine.dispose()


def test_indexer_tree_splits_parts_and_payments_across_leaves(
    settings: Settings, actions: Actions, ledger: Any, acct: Any
) -> None:
    """A tree two levels deep, a financed part, a part passed on, a leaf
    paid alone and a payment across the leaves: every node equals the
    chain, lineage included, and every Split node adds up."""
    from ledger.indexer import sync

    ids = actions.tree()
    actions.tree_business(ids)

    sync(settings)

    assert assert_matches_chain(settings.database_url, ledger) == ids["e"]
    rows = _rows(settings.database_url)
    root, a, b, c, d, e = (rows[ids[k]] for k in ("root", "a", "b", "c", "d", "e"))
    supplier, supplier2 = acct("supplier").address, acct("supplier2").address
    assert (root.status, root.amount, root.paid, root.outstanding, root.offer_expires_at) == (
        "Split",
        100000,
        0,
        0,
        None,
    )
    assert (root.parent_id, root.root_id, root.depth) == (None, ids["root"], 0)
    assert [(r.parent_id, r.root_id, r.depth) for r in (a, b, c, d, e)] == [
        (ids["root"], ids["root"], 1),
        (ids["root"], ids["root"], 1),
        (ids["root"], ids["root"], 1),
        (ids["a"], ids["root"], 2),
        (ids["a"], ids["root"], 2),
    ]
    assert (a.status, a.outstanding, a.holder) == ("Split", 0, supplier)
    # Parts carry the root's parties, currency, due date and document; no number of their own.
    for part in (a, b, c, d, e):
        assert (part.supplier, part.buyer, part.currency, part.due_date, part.doc_hash, part.number) == (
            root.supplier,
            root.buyer,
            root.currency,
            root.due_date,
            root.doc_hash,
            None,
        )
    # 500.00 across 900.00 open: b 185.19 (185.18 + the leftover unit, first in id order), c 129.63,
    # d 111.11, e 74.07.
    assert (b.status, b.seller, b.holder != supplier2, b.paid, b.financier_paid) == (
        "PartiallyPaid",
        supplier2,
        True,
        18519,
        18519,
    )
    assert [(r.paid, r.outstanding) for r in (c, d, e)] == [(10000 + 12963, 10371), (11111, 8889), (7407, 5926)]
    assert e.holder == supplier
    repayments = _select(
        settings.database_url, sa.select(Repayment.invoice_id, Repayment.amount).order_by(Repayment.id)
    )
    assert [tuple(r) for r in repayments] == [
        (ids["c"], 10000),
        (ids["b"], 18519),
        (ids["c"], 12963),
        (ids["d"], 11111),
        (ids["e"], 7407),
    ]
    events = {
        (r.event, r.invoice_id)
        for r in _select(
            settings.database_url,
            sa.select(Event.event, Event.invoice_id).where(
                Event.event.in_(["InvoiceSplit", "PartCreated", "ReceivableTransferred", "RootRepaid"])
            ),
        )
    }
    assert events == {
        ("InvoiceSplit", ids["root"]),
        ("InvoiceSplit", ids["a"]),
        *(("PartCreated", ids[k]) for k in ("a", "b", "c", "d", "e")),
        ("ReceivableTransferred", ids["e"]),
        ("RootRepaid", ids["root"]),
    }


def test_indexer_tree_fetch_process_and_writer_fold_alike(
    settings: Settings, actions: Actions, ledger: Any, tmp_path: Path
) -> None:
    """The same tree indexed by the writer alone (a thread), by a fetch
    process in one range (parts minted with their parent: folded ahead by the
    child) and in ranges of one block (every part's parent older than its
    range: folded by the writer from the stored parent) gives one database."""
    from ledger.indexer import sync

    ids = actions.tree()
    actions.tree_business(ids)
    more = actions.issue()  # an invoice issued, confirmed and split within one block range
    actions.confirm(more)
    actions.split(more, [("supplier2", "999.99", "PO-3"), ("supplier", "0.01", None)])

    sync(settings, workers="process")
    by_process = snapshot(settings.database_url)
    threaded = replace(settings, db_url=f"sqlite:///{tmp_path / 'thread.db'}")
    sync(threaded, workers="thread")
    one_block = replace(settings, db_url=f"sqlite:///{tmp_path / 'one-block.db'}")
    stats = sync(one_block, workers="process", initial_span=1, target_logs=1)

    assert stats.fetch_process and stats.batches > 10, stats
    assert snapshot(threaded.database_url) == by_process
    assert snapshot(one_block.database_url) == by_process
    assert assert_matches_chain(settings.database_url, ledger) == more + 2


def test_indexer_tree_reorg_through_a_split_and_a_repay_root(
    settings: Settings, actions: Actions, ledger: Any, acct: Any, tmp_path: Path
) -> None:
    """Blocks holding a split of a part (its parts' ids then go to another
    invoice), a part passed on with a reference and a payment across the
    leaves are reorganised away: the database equals a fresh index and the
    chain, before and after. At most ten blocks deep (the session Anvil)."""
    from ledger.indexer import sync

    url = settings.rpc_url
    ids = actions.tree()
    sync(settings)
    start = head(url)
    c1, _c2 = actions.split(
        ids["c"], [("supplier2", "300.00", "PO-9"), ("supplier", "33.34", None)], holder="supplier2"
    )
    actions.pass_on(ids["b"], "supplier2", "supplier", "INV-T2-1")
    actions.repay(ids["root"], "450.00")
    sync(settings)
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path, "before")
    assert _rows(settings.database_url)[ids["c"]].status == "Split"
    depth = head(url) - start
    assert depth <= 10, depth
    rpc(url, "anvil_reorg", [depth, reorg_txs(ledger, acct, f"tree-{time.monotonic_ns()}")])

    stats = sync(settings)

    assert stats.reorgs == 1 and stats.reorged_blocks >= depth - 1, stats
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path, "after")
    assert assert_matches_chain(settings.database_url, ledger) == c1, "the new invoice took the first part's id"
    rows = _rows(settings.database_url)
    assert (rows[ids["c"]].status, rows[ids["c"]].outstanding) == ("Confirmed", 33334)
    assert (rows[c1].parent_id, rows[c1].root_id, rows[c1].depth, rows[c1].amount) == (None, c1, 0, 77700)
    assert [rows[ids[k]].paid for k in ("b", "c", "d", "e")] == [0, 0, 0, 0]


def _verify(settings: Settings, *args: str) -> Any:
    from ledger.cli import main

    return CliRunner().invoke(
        main,
        [
            "--home",
            str(settings.home),
            "--rpc-url",
            settings.rpc_url,
            "--db-url",
            settings.database_url,
            "verify",
            *args,
        ],
    )


def _tamper(settings: Settings, sql: str, **params: Any) -> None:
    engine = sa.create_engine(settings.database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text(sql), params).rowcount == 1
    finally:
        engine.dispose()


def test_indexer_tree_verify_checks_lineage_and_sums(settings: Settings, actions: Actions) -> None:
    """A clean tree verifies; a part's amount and another's depth tampered
    with are reported one line each, and so is the Split node whose parts
    no longer add up to its amount."""
    from ledger.indexer import sync

    ids = actions.tree()
    actions.tree_business(ids)
    sync(settings)

    clean = _verify(settings)

    assert clean.exit_code == 0, clean.output
    assert clean.output.startswith("verified: the database matches the contracts (")

    _tamper(settings, "UPDATE invoices SET amount = amount + 1 WHERE invoice_id = :id", id=ids["e"])
    _tamper(settings, "UPDATE invoices SET depth = 1 WHERE invoice_id = :id", id=ids["d"])
    result = _verify(settings)

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("MISMATCH: 3 differences between the database and the contracts (")
    assert lines[1:] == [
        f"  invoice {ids['d']} depth: database 1, chain 2",
        f"  invoice {ids['e']} amount: database HKD 133.34, chain HKD 133.33",
        f"  tree {ids['a']} paid + parts: database HKD 333.34, chain HKD 333.33",
    ]
    found = json.loads(_verify(settings, "--json").output)["mismatches"]
    assert {"kind": "tree", "key": str(ids["a"]), "field": "paid + parts"}.items() <= found[-1].items()


def test_indexer_tree_as_of_block_before_and_after_a_split(settings: Settings, actions: Actions) -> None:
    """`--as-of-block` replays a tree: before the split one Confirmed invoice
    (its parts unknown), after it a Split root with its parts, later a part
    split again; `scf invoice tree` from any part finds the root."""
    from ledger.cli import main
    from ledger.errors import UnknownInvoice
    from ledger.indexer import sync
    from ledger.queries import invoice_tree, read_db, show_invoice

    root = actions.issue()
    actions.confirm(root)
    before = head(settings.rpc_url)
    a, b = actions.split(root, [("supplier", "600.00", None), ("supplier2", "400.00", "PO-1")])
    after = head(settings.rpc_url)
    actions.split(a, [("supplier", "599.99", None), ("supplier2", "0.01", None)])
    sync(settings)

    def shape(node: dict[str, Any]) -> tuple[Any, ...]:
        return (
            node["invoice_id"],
            node["tier"],
            node["status"],
            node["outstanding"],
            [shape(c) for c in node["children"]],
        )

    with read_db(settings) as (conn, scope):
        then = invoice_tree(conn, scope, root, as_of_block=before)
        split_once = invoice_tree(conn, scope, b, as_of_block=after)
        now = invoice_tree(conn, scope, a)
        try:
            show_invoice(conn, scope, b, as_of_block=before)
            raise AssertionError("a part does not exist before its split")
        except UnknownInvoice:
            pass
        part_then = show_invoice(conn, scope, b, as_of_block=after)

    assert shape(then["tree"]) == (root, 1, "Confirmed", "1000.00", [])
    assert shape(split_once["tree"]) == (
        root,
        1,
        "Split",
        "0.00",
        [(a, 2, "Confirmed", "600.00", []), (b, 2, "Confirmed", "400.00", [])],
    )
    assert (split_once["root_id"], split_once["invoice_id"], split_once["as_of_block"]) == (root, b, after)
    assert shape(now["tree"])[4][0] == (
        a,
        2,
        "Split",
        "0.00",
        [(a + 2, 3, "Confirmed", "599.99", []), (a + 3, 3, "Confirmed", "0.01", [])],
    )
    assert (now["nodes"], now["leaves"], now["open_leaves"], now["outstanding"]) == (5, 3, 3, "1000.00")
    assert (part_then["parent_id"], part_then["root_id"], part_then["depth"], part_then["number"]) == (
        root,
        root,
        1,
        None,
    )

    base = ["--home", str(settings.home), "--db-url", settings.database_url, "invoice"]
    shown = CliRunner().invoke(main, [*base, "tree", str(b), "--as-of-block", str(before), "--json"])
    assert shown.exit_code == 2, shown.output
    assert shown.output == f"Error: invoice {b} does not exist at block {before}; see `scf invoice list`\n"
    listed = CliRunner().invoke(main, [*base, "list", "--as-of-block", str(after), "--json"])
    assert listed.exit_code == 0, listed.output
    by_id = {r["invoice_id"]: r for r in json.loads(listed.output)}
    assert set(by_id) >= {root, a, b} and a + 2 not in by_id
    assert [
        (by_id[i]["status"], by_id[i]["parent_id"], by_id[i]["root_id"], by_id[i]["depth"]) for i in (root, a, b)
    ] == [
        ("Split", None, root, 0),
        ("Confirmed", root, root, 1),
        ("Confirmed", root, root, 1),
    ]
