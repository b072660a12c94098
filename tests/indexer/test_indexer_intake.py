"""The mirror of contract version 5's intake (issue 15): invoices issued in
one ``issueBatch`` and confirmed with ``confirmBatch`` or on the buyer's
EIP-712 signatures (``confirmWithSignatures``, sent by a relayer) are indexed
exactly like invoices issued and confirmed one call at a time, on both fold
paths (the writer's, and the fetch process's for invoices minted within a
range); a nonce revocation is kept as an event of no invoice; verify passes.

The chain is driven with direct contract calls (``support.contracts.Net``)
and signatures of ``ledger.evm.confirmations``, not the intake service, so
these tests depend on the contract and the indexer only."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from sqlalchemy import select
from support.contracts import DAY, ZERO32, Net
from support.indexer import (  # noqa: F401 - fixtures
    assert_matches_chain,
    fresh_snapshot,
    rpc,
    settings_fixture,
    snapshot,
)

from ledger.business_time import due_timestamp
from ledger.config import Settings
from ledger.db import create_db_engine
from ledger.db.models import Event, Financing, Incident, Invoice, Repayment
from ledger.evm.confirmations import Confirmation, Domain, sign

#: Invoices per set: the single set (``issue``) and the batch set (one ``issueBatch``).
N = 8
#: How each index's invoice is confirmed, in the single set and in the batch set: every
#: way of confirming meets every other across a pair; the last two stay Issued.
HOW = [
    ("single", "batch"),
    ("batch", "single"),
    ("signed", "batch"),
    ("batch", "signed"),
    ("single", "signed"),
    ("signed", "single"),
    (None, None),
    (None, None),
]
#: Invoice columns that tell two invoices with the same terms apart: ids (its own, and its
#: tree's root: itself), numbers, and the blocks (and their times) of the transactions that
#: made them.
WHERE_AND_WHEN = (
    "invoice_id",
    "root_id",
    "number",
    "number_normalised",
    "issued_block",
    "issued_at",
    "confirmed_block",
    "confirmed_at",
    "updated_block",
    "updated_at",
)
#: Event arguments that name the invoice.
NAMING_ARGS = ("invoiceId", "tokenId", "number")


@pytest.fixture(name="net")
def net_fixture(ledger: Any, acct: Any) -> Net:
    return Net(ledger, acct)


def sync(settings: Settings, **options: Any) -> Any:
    from ledger.indexer import sync as run

    return run(settings, **options)


def table_rows(settings: Settings, model: Any, *where: Any) -> list[dict[str, Any]]:
    engine = create_db_engine(settings.database_url, write=False)
    t = model.__table__
    order = [t.c.block_number, t.c.log_index] if "log_index" in t.c else [t.c.invoice_id]
    try:
        with engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(t).where(*where).order_by(*order))]
    finally:
        engine.dispose()


def terms(net: Net, i: int) -> dict[str, Any]:
    """The terms of index ``i`` (the same in both sets): amounts, due dates and documents differ by index."""
    return {
        "amount": 100_000 + 1_111 * i,
        "due_ts": due_timestamp(net.due(30 + i)),
        "doc_hash": keccak(text=f"delivery note {i}") if i % 2 else ZERO32,
    }


def issue_both_sets(net: Net) -> tuple[list[int], list[int], dict[str, Any]]:
    """The single set (``SINGLE-i``, one ``issue`` each) and the batch set
    (``BATCH-i``, one ``issueBatch``), same buyer and terms by index; their ids
    and the batch's receipt."""
    singles = [net.issue_raw(f"SINGLE-{i}", **terms(net, i)) for i in range(N)]
    first = int(net.invoices.functions.nextInvoiceId().call())
    requests = [
        (net.addr("buyer"), f"BATCH-{i}", t["amount"], net.hkd.address, t["due_ts"], t["doc_hash"])
        for i, t in ((i, terms(net, i)) for i in range(N))
    ]
    receipt = net.send(net.invoices.functions.issueBatch(requests), "supplier")
    batch = list(range(first, first + N))
    assert [int(e["invoiceId"]) for e in net.events(receipt, "InvoiceIssued")] == batch
    return singles, batch, receipt


def confirm_both_sets(net: Net, singles: list[int], batch: list[int]) -> dict[int, int]:
    """Confirm each index's invoices as :data:`HOW` says: one ``confirm`` per
    invoice, one ``confirmBatch`` for all the batch ones, one
    ``confirmWithSignatures`` (sent by the financier, a relayer) for all the
    signed ones; then the buyer revokes the rest of its signing word. Returns
    the block that confirmed each invoice."""
    plan: dict[str, list[int]] = {"single": [], "batch": [], "signed": []}
    for i, (single_way, batch_way) in enumerate(HOW):
        for way, invoice_id in ((single_way, singles[i]), (batch_way, batch[i])):
            if way:
                plan[way].append(invoice_id)
    block: dict[int, int] = {}
    for invoice_id in plan["single"]:
        block[invoice_id] = int(net.send(net.invoices.functions.confirm(invoice_id), "buyer")["blockNumber"])
    receipt = net.send(net.invoices.functions.confirmBatch(plan["batch"]), "buyer")
    block.update(dict.fromkeys(plan["batch"], int(receipt["blockNumber"])))
    domain = Domain(int(net.ledger.w3.eth.chain_id), net.invoices.address)
    word = 0x15 << 16
    signed = []
    for nonce, invoice_id in enumerate(plan["signed"], start=word << 8):
        inv = net.invoice(invoice_id)
        (log,) = net.invoices.events.InvoiceIssued().get_logs(from_block=0, argument_filters={"invoiceId": invoice_id})
        conf = Confirmation(
            buyer=net.addr("buyer"),
            supplier=inv["supplier"],
            number=log["args"]["number"],
            currency=inv["currency"],
            amount=inv["amount"],
            due_date=inv["dueDate"],
            nonce=nonce,
            deadline=net.now() + DAY,
        )
        signed.append(conf.signed(sign(net.acct("buyer"), domain, conf)))
    receipt = net.send(net.invoices.functions.confirmWithSignatures(signed), "financier")
    assert [int(e["invoiceId"]) for e in net.events(receipt, "InvoiceConfirmed")] == plan["signed"]
    block.update(dict.fromkeys(plan["signed"], int(receipt["blockNumber"])))
    unused = ((1 << 256) - 1) ^ ((1 << len(plan["signed"])) - 1)
    net.send(net.invoices.functions.revokeConfirmationNonces(word, unused), "buyer")
    return block


def invoice_rows(settings: Settings, ids: list[int]) -> list[dict[str, Any]]:
    by_id = {r["invoice_id"]: r for r in table_rows(settings, Invoice, Invoice.invoice_id.in_(ids))}
    assert sorted(by_id) == sorted(ids)
    return [by_id[i] for i in ids]


def history(settings: Settings, invoice_id: int) -> list[tuple[Any, ...]]:
    """An invoice's events rows in chain order, without what names the invoice or places it."""
    return [
        (
            e["event"],
            e["contract"],
            e["account"],
            e["amount"],
            {k: v for k, v in e["args"].items() if k not in NAMING_ARGS},
        )
        for e in table_rows(settings, Event, Event.invoice_id == invoice_id)
    ]


def without(row: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in columns}


def test_indexer_intake_batch_issued_and_confirmed_invoices_index_like_single_ones(
    settings: Settings, net: Net, ledger: Any, tmp_path: Path
) -> None:
    """Eight invoices issued one by one and eight with the same terms in one
    issueBatch, synced; then confirmed crosswise (one by one, in a
    confirmBatch, on signatures a relayer submits; two of each left Issued)
    and synced again: each batch invoice's row equals its single twin's but
    for ids, numbers and blocks, which are the blocks of its own
    transactions; its events are the same kinds with the same values, a
    batch's in request order (Transfer then InvoiceIssued per invoice); every
    log of the token is one events row; the database equals the chain
    (verify) and a fresh index, in a thread and with a fetch process."""
    from ledger.indexer.verify import verify

    singles, batch, issued = issue_both_sets(net)
    sync(settings)
    for single, twin in zip(invoice_rows(settings, singles), invoice_rows(settings, batch), strict=True):
        assert without(twin, WHERE_AND_WHEN) == without(single, WHERE_AND_WHEN), twin["invoice_id"]
        assert twin["status"] == "Issued" and twin["issued_block"] == issued["blockNumber"], twin
        assert (single["root_id"], twin["root_id"]) == (single["invoice_id"], twin["invoice_id"])

    confirmed_in = confirm_both_sets(net, singles, batch)
    sync(settings)

    rows = dict(zip(singles + batch, invoice_rows(settings, singles + batch), strict=True))
    for i in range(N):
        single, twin = rows[singles[i]], rows[batch[i]]
        assert without(twin, WHERE_AND_WHEN) == without(single, WHERE_AND_WHEN), (i, HOW[i])
        assert (twin["number"], twin["number_normalised"]) == (f"BATCH-{i}", f"BATCH{i}")
        assert twin["issued_block"] == issued["blockNumber"]
        for invoice_id in (singles[i], batch[i]):
            row = rows[invoice_id]
            assert row["status"] == ("Confirmed" if HOW[i][0] else "Issued"), (i, row)
            assert row["confirmed_block"] == confirmed_in.get(invoice_id), (i, invoice_id)
            assert (row["confirmed_at"] is None) == (row["confirmed_block"] is None), (i, invoice_id)
        assert history(settings, batch[i]) == history(settings, singles[i]), (i, HOW[i])
        kinds = [e[0] for e in history(settings, batch[i])]
        assert kinds == ["Transfer", "InvoiceIssued", *(["InvoiceConfirmed"] if HOW[i][0] else [])], (i, kinds)

    # The batch: one transaction, each invoice's Transfer then InvoiceIssued, in request order.
    in_batch = table_rows(settings, Event, Event.tx_hash == issued["transactionHash"].to_0x_hex())
    assert [(e["event"], e["invoice_id"]) for e in in_batch] == [
        (name, invoice_id) for invoice_id in batch for name in ("Transfer", "InvoiceIssued")
    ]
    assert [e["log_index"] for e in in_batch] == list(range(2 * N))
    # Every log of the token is one events row; the revocation names no invoice.
    token = net.invoices.address
    logs = rpc(settings.rpc_url, "eth_getLogs", [{"address": token, "fromBlock": "0x0", "toBlock": "latest"}])
    stored = table_rows(settings, Event, Event.contract == token)
    assert sorted((e["tx_hash"], e["log_index"]) for e in stored) == sorted(
        (log["transactionHash"], int(log["logIndex"], 16)) for log in logs
    )
    (revoked,) = [e for e in stored if e["event"] == "ConfirmationNoncesRevoked"]
    assert (revoked["invoice_id"], revoked["args"]["buyer"]) == (None, net.addr("buyer"))
    assert int(revoked["args"]["word"]) == 0x15 << 16
    # No records of other kinds came out of intake.
    assert [table_rows(settings, m) for m in (Financing, Repayment, Incident)] == [[], [], []]

    assert assert_matches_chain(settings.database_url, ledger) == 2 * N
    report = verify(settings)
    assert report.mismatches == [], report.summary()
    incremental = snapshot(settings.database_url)
    assert incremental == fresh_snapshot(settings, tmp_path, "thread")
    process_url = f"sqlite:///{tmp_path / 'process.db'}"
    stats = sync(replace(settings, db_url=process_url), workers="process")
    assert stats.fetch_process, stats
    assert snapshot(process_url) == incremental
