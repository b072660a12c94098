"""The indexer against a real Anvil and real databases (SQLite, and
PostgreSQL through the `db_url` fixture): it must equal the chain, exactly
once, through re-runs, reorgs, crashes, refusing nodes and the hand-off from
backfill to following.

The yardstick is always a fresh index of the same chain into a new SQLite
database, and the chain itself (`Ledger.show` for every invoice)."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, func, select, text, update
from sqlalchemy.exc import DBAPIError

from ledger.config import REPO_ROOT, Settings
from ledger.db.engine import describe_url
from ledger.db.models import Block, Cursor, Event, Financing, Invoice, Participant, Repayment

#: Long profile of the crash loop (more events, more kills): SCF_INDEXER_LONG=1.
LONG = os.environ.get("SCF_INDEXER_LONG", "") not in ("", "0")

DUE = dt.date.today() + dt.timedelta(days=90)


# -- helpers -------------------------------------------------------------------------------------


def rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


def head(url: str) -> int:
    return int(rpc(url, "eth_blockNumber"), 16)


def snapshot(url: str) -> dict[str, Any]:
    """Everything the indexer owns, in a comparable form (surrogate ids and
    bookkeeping times left out)."""
    from ledger.db import create_db_engine

    engine = create_db_engine(url, write=False)
    try:
        with engine.connect() as conn:
            def rows(model: Any, order: list[str], skip: tuple[str, ...] = ("id",)) -> list[tuple[Any, ...]]:
                t = model.__table__
                cols = [c for c in t.columns if c.name not in skip]
                result = conn.execute(select(*cols).order_by(*[t.c[o] for o in order]))
                return [tuple(json.dumps(v, sort_keys=True) if isinstance(v, dict) else v for v in r) for r in result]

            return {
                "events": rows(Event, ["chain_id", "block_number", "log_index"]),
                "invoices": rows(Invoice, ["chain_id", "contract", "invoice_id"]),
                "participants": rows(Participant, ["chain_id", "contract", "address"]),
                "financings": rows(Financing, ["chain_id", "block_number", "log_index"]),
                "repayments": rows(Repayment, ["chain_id", "block_number", "log_index"]),
                "cursors": [tuple(r) for r in conn.execute(
                    select(Cursor.chain_id, Cursor.key, Cursor.block_number, Cursor.block_hash).order_by(Cursor.id)
                )],
            }
    finally:
        engine.dispose()


def fresh_snapshot(settings: Settings, tmp_path: Path, name: str = "fresh") -> dict[str, Any]:
    """Index the chain from scratch into a new SQLite file and snapshot it."""
    from ledger.indexer import sync

    url = f"sqlite:///{tmp_path / f'{name}-{time.monotonic_ns()}.db'}"
    sync(replace(settings, db_url=url))
    return snapshot(url)


def assert_matches_chain(db_url: str, ledger: Any) -> int:
    """Every invoice on chain equals its projection row; returns how many."""
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            rows = {r.invoice_id: r for r in conn.execute(select(Invoice.__table__).where(
                Invoice.contract == ledger.invoices.address))}
    finally:
        engine.dispose()
    count = ledger.invoices.functions.nextInvoiceId().call() - 1
    assert sorted(rows) == list(range(1, count + 1))
    for invoice_id in range(1, count + 1):
        chain, row = ledger.show(invoice_id), rows[invoice_id]
        decimals = ledger.deployment.currency(chain["currency"]).decimals

        def money(value: str, decimals: int = decimals) -> int:
            return int(Decimal(value).scaleb(decimals))

        def maybe(value: str | None) -> int | None:
            return None if value is None else money(value)

        assert (row.status, row.supplier, row.buyer) == (
            chain["status"], chain["supplier"]["address"], chain["buyer"]["address"]), invoice_id
        assert row.holder == (chain["holder"] or {}).get("address"), invoice_id
        assert row.seller == (chain["seller"] or {}).get("address"), invoice_id
        assert (row.amount, row.paid, row.outstanding) == (
            money(chain["amount"]), money(chain["paid"]), money(chain["outstanding"]))
        assert (row.financier_due, row.financier_paid if row.seller else None) == (
            maybe(chain["financier_due"]), maybe(chain["financier_paid"])), invoice_id
        if row.seller is not None:
            reserve_open = row.outstanding - (row.financier_due - row.financier_paid)
            assert reserve_open == money(chain["reserve_open"]), invoice_id
        assert (row.number, row.number_normalised) == (chain["number"], chain["normalised_number"])
        assert row.due_date.isoformat() == chain["due"]
        assert row.issued_at.isoformat() == chain["issued_at"]
        assert row.doc_hash == chain["document_hash"]
        listing = ledger.listing(invoice_id)
        assert (row.offer_min_advance, row.offer_financier) == (
            (listing["min_advance"], listing["financier"]) if listing else (None, None)), invoice_id
    return count


class Actions:
    """Lifecycle steps on the chain, each returning the blocks it mined."""

    def __init__(self, ledger: Any, acct: Callable[[str], Any], url: str) -> None:
        self.ledger, self.acct, self.url = ledger, acct, url
        self.n = 0

    def _mined(self, step: Callable[[], Any]) -> int:
        before = head(self.url)
        step()
        return head(self.url) - before

    def issue(self, amount: str = "1000.00") -> int:
        self.n += 1
        number = f"INV-{os.getpid()}-{time.monotonic_ns()}-{self.n}"
        before = self.ledger.invoices.functions.nextInvoiceId().call()
        self.ledger.issue(self.acct("supplier"), "buyer", number, amount, "HKD", DUE)
        return int(before)

    def lifecycle(self, invoice_id: int, stop_after: str = "paid") -> None:
        """confirm -> offer -> finance (due 950: a reserve of 50) -> repay part
        -> repay rest, releasing the reserve (stopping early if asked). Two
        other paths: "transferred" (listed, then sold to another supplier,
        which clears the listing) and "prepaid-financed" (partly paid, then
        financed, then paid, releasing the reserve)."""
        ledger, acct = self.ledger, self.acct
        if stop_after == "transferred":
            ledger.confirm(acct("buyer"), invoice_id)
            ledger.offer(acct("supplier"), invoice_id, "financier", "1", 7)
            ledger.sender.transact(ledger.invoices.functions.transferFrom(
                acct("supplier").address, acct("supplier2").address, invoice_id), acct("supplier"))
            return
        if stop_after == "prepaid-financed":
            ledger.confirm(acct("buyer"), invoice_id)
            ledger.repay(acct("buyer"), invoice_id, "100")
            ledger.offer(acct("supplier"), invoice_id, None, "700", 7)
            ledger.finance(acct("financier"), invoice_id, advance="800", due="850")
            ledger.repay(acct("buyer"), invoice_id, "900")
            return
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("confirmed", lambda: ledger.confirm(acct("buyer"), invoice_id)),
            ("offered", lambda: ledger.offer(acct("supplier"), invoice_id, "financier", "1", 7)),
            ("financed", lambda: ledger.finance(acct("financier"), invoice_id, advance="900", due="950")),
            ("part-paid", lambda: ledger.repay(acct("buyer"), invoice_id, "400")),
            ("paid", lambda: ledger.repay(acct("buyer"), invoice_id, "600")),
        ]
        for name, step in steps:
            step()
            if name == stop_after:
                return

    def rename(self) -> None:
        """Rename the auditor (ParticipantRenamed)."""
        self.n += 1
        self.ledger.update_participant(self.acct("operator"), self.acct("auditor").address,
                                       name=f"Central Audit Partners {os.getpid()}-{self.n}")

    def blocks_of_activity(self, count: int) -> None:
        """At least `count` blocks of mixed lifecycle events."""
        start = head(self.url)
        stops = ["paid", "financed", "confirmed", "part-paid", "offered", "transferred", "prepaid-financed"]
        while head(self.url) - start < count:
            invoice_id = self.issue()
            self.lifecycle(invoice_id, stops[invoice_id % len(stops)])
            if invoice_id % 3 == 0:
                self.rename()


def issue_many(ledger: Any, acct: Callable[[str], Any], url: str, count: int, per_block: int = 50) -> None:
    """`count` invoices from pre-signed transactions sent in JSON-RPC batches
    (2 events each), `per_block` per mined block."""
    from eth_account import Account
    from eth_utils import keccak

    supplier = acct("supplier")
    buyer = acct("buyer").address
    currency = ledger.deployment.currency("HKD").address
    due = int(dt.datetime.combine(DUE, dt.time(), tzinfo=dt.UTC).timestamp())
    nonce = int(rpc(url, "eth_getTransactionCount", [supplier.address, "pending"]), 16)
    salt = f"{os.getpid()}-{time.monotonic_ns()}"
    raw = []
    for i in range(count):
        data = ledger.invoices.encode_abi(
            "issue", args=[buyer, f"BULK-{salt}-{i}", 1_000 + i, currency, due, keccak(text=f"bulk-{salt}-{i}")])
        tx = {"type": 2, "chainId": 31337, "nonce": nonce + i, "to": ledger.invoices.address, "value": 0,
              "data": data, "gas": 400_000, "maxFeePerGas": 10**9, "maxPriorityFeePerGas": 0}
        raw.append("0x" + Account.sign_transaction(tx, supplier.key).raw_transaction.hex())
    rpc(url, "evm_setAutomine", [False])
    try:
        for start in range(0, count, per_block):
            body = [{"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [r]}
                    for i, r in enumerate(raw[start:start + per_block])]
            request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as response:
                replies = json.loads(response.read())
            assert not [r for r in replies if "error" in r], replies[:2]
            rpc(url, "evm_mine")
    finally:
        rpc(url, "evm_setAutomine", [True])


class _HttpRefusal(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class RpcProxy:
    """A JSON-RPC proxy in front of Anvil (a thread of this process, on
    loopback) that can refuse big eth_getLogs answers like hosted providers
    do, play a lagging node, answer HTTP errors like a gateway in front of a
    restarting node (``outage``, or from the ``outage_after``-th eth_getLogs
    call on), and close its port (``close``, then ``resume`` on the same port). Records the block
    spans it was asked for."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.max_logs: int | None = None  # refuse answers with more logs
        self.max_blocks: int | None = None  # refuse ranges of more blocks
        self.refusal = "query returned more than {n} results"
        self.lag = 0
        self.outage: int | None = None  # an HTTP status to answer every request with
        self.outage_after: int | None = None  # ... once this many eth_getLogs calls were answered
        self.spans: list[tuple[int, bool]] = []  # (blocks asked, refused)
        self.served_max = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if proxy.outage_after is not None and len(proxy.spans) >= proxy.outage_after:
                    proxy.outage, proxy.outage_after = 503, None
                if proxy.outage is not None:
                    self.send_error(proxy.outage)
                    return
                try:
                    reply = [proxy.handle(b) for b in body] if isinstance(body, list) else proxy.handle(body)
                except _HttpRefusal as refusal:
                    self.send_error(refusal.status)
                    return
                data = json.dumps(reply).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.handler = Handler
        self.port = 0
        self.resume()

    def resume(self) -> None:
        """Listen (again, on the same port after :meth:`close`)."""
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, call: dict[str, Any]) -> dict[str, Any]:
        method, params = call["method"], call.get("params", [])
        answer = {"jsonrpc": "2.0", "id": call.get("id")}
        real_head = head(self.upstream)
        if self.lag and method == "eth_blockNumber":
            return {**answer, "result": hex(real_head - self.lag)}
        if (self.lag and method == "eth_getBlockByNumber" and params[0] not in ("latest", "pending")
                and int(params[0], 16) > real_head - self.lag):
            return {**answer, "result": None}
        try:
            result = rpc(self.upstream, method, params)
        except RuntimeError as exc:
            return {**answer, "error": {"code": -32000, "message": str(exc)}}
        if method == "eth_getLogs":
            span = int(params[0]["toBlock"], 16) - int(params[0]["fromBlock"], 16) + 1
            if self.max_blocks is not None and span > self.max_blocks:
                self.spans.append((span, True))
                message = self.refusal.format(n=self.max_blocks, asked=span)
                return {**answer, "error": {"code": -32602, "message": message}}
            if self.max_logs is not None and len(result) > self.max_logs:
                self.spans.append((span, True))
                if self.refusal.startswith("HTTP "):  # a gateway answering the oversized query so
                    raise _HttpRefusal(int(self.refusal.split()[1]))
                return {**answer, "error": {"code": -32005, "message": self.refusal.format(n=self.max_logs)}}
            self.spans.append((span, False))
            self.served_max = max(self.served_max, len(result))
        return {**answer, "result": result}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def proxy(chain: Any) -> Iterator[RpcProxy]:
    p = RpcProxy(chain.rpc_url)
    yield p
    p.close()


@pytest.fixture()
def settings(chain: Any, db_url: str) -> Iterator[Settings]:
    """The session chain's settings, indexing into this test's database."""
    from ledger.indexer import dispose_engines

    yield replace(chain.settings, db_url=db_url)
    dispose_engines()


@pytest.fixture()
def actions(ledger: Any, acct: Any, chain: Any) -> Actions:
    return Actions(ledger, acct, chain.rpc_url)


def scf(*args: str, settings: Settings, rpc_url: str | None = None) -> list[str]:
    return [sys.executable, "-c", "from ledger.cli import main; main()", "--home", str(settings.home),
            "--rpc-url", rpc_url or settings.rpc_url, "--db-url", settings.database_url, *args]


# -- sync reproduces the ledger --------------------------------------------------------------------


def test_indexer_sync_reproduces_the_lifecycle(settings: Settings, actions: Actions, ledger: Any,
                                               acct: Any) -> None:
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
        moved, prepaid = (conn.execute(select(Invoice.__table__).where(Invoice.invoice_id == i)).one()
                          for i in (6, 7))
        cleared = conn.execute(select(Event.__table__).where(
            Event.invoice_id == 6, Event.event == "FinancingOfferWithdrawn")).all()
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
        (1, 40000, 40000, 0, supplier), (1, 60000, 55000, 5000, supplier), (2, 40000, 40000, 0, supplier),
        (7, 10000, 10000, 0, None), (7, 90000, 85000, 5000, supplier),
    ]
    assert paid.status == "Paid" and paid.paid_at is not None and paid.financed_block < paid.paid_block
    assert (paid.seller, paid.financier_due, paid.financier_paid, paid.reserve_released) == (
        supplier, 95000, 95000, 5000)
    assert paid.number.startswith("INV-") and paid.number_normalised == paid.number.replace("-", "")
    assert (moved.holder, moved.offer_expires_at, moved.seller, len(cleared)) == (
        acct("supplier2").address, None, None, 1), "a transfer clears the listing"
    assert (prepaid.status, prepaid.financed_block is not None, prepaid.financier_due, prepaid.financier_paid,
            prepaid.reserve_released) == ("Paid", True, 85000, 85000, 5000)


def test_indexer_sync_twice_changes_nothing(settings: Settings, actions: Actions) -> None:
    from ledger.indexer import sync

    actions.lifecycle(actions.issue(), "part-paid")
    first = sync(settings)
    before = snapshot(settings.database_url)
    second = sync(settings)

    assert first.events > 0
    assert (second.events, second.batches) == (0, 0)
    assert snapshot(settings.database_url) == before


def _rewind_cursor(settings: Settings) -> None:
    """Move the cursor back to the block before the deployment, over every stored event."""
    from ledger.indexer import get_engine

    with get_engine(settings.database_url).begin() as conn:
        cursor = conn.execute(select(Cursor.__table__)).one()
        origin = cursor.start_block - 1
        origin_hash = rpc(settings.rpc_url, "eth_getBlockByNumber", [hex(origin), False])["hash"]
        conn.execute(update(Cursor.__table__).values(block_number=origin, block_hash=origin_hash))


def _two_idle_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mode auto sees two idle cores, whatever the machine running the tests is doing."""
    from ledger.indexer import core

    monkeypatch.setattr(core.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(core.os, "getloadavg", lambda: (0.0, 0.0, 0.0))


def _count_starts(monkeypatch: pytest.MonkeyPatch, fetcher: type[Any], most: int | None = None) -> list[object]:
    """The fetchers of class ``fetcher`` the writer starts from now on (in
    this process); more than ``most`` raises, to stop a sync that makes no
    progress."""
    starts: list[object] = []
    init = fetcher.__init__

    def counting_init(self: Any, *args: Any, **kwargs: Any) -> None:
        starts.append(self)
        if most is not None and len(starts) > most:
            raise RuntimeError(f"{fetcher.__name__} after {fetcher.__name__}: the sync makes no progress")
        init(self, *args, **kwargs)

    monkeypatch.setattr(fetcher, "__init__", counting_init)
    return starts


def test_indexer_replaying_stored_blocks_is_idempotent(settings: Settings, actions: Actions) -> None:
    """Rows already stored are neither inserted nor folded again, even when the
    cursor is moved back over them."""
    from ledger.indexer import sync

    actions.lifecycle(actions.issue(), "paid")
    sync(settings)
    before = snapshot(settings.database_url)
    _rewind_cursor(settings)

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
    from ledger.indexer import core, sync

    issue_many(ledger, acct, settings.rpc_url, 60, per_block=3)
    sync(settings)
    before = snapshot(settings.database_url)
    _rewind_cursor(settings)
    _two_idle_cores(monkeypatch)
    starts = _count_starts(monkeypatch, core._ProcessFetcher, most=3)

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


# -- reorgs ---------------------------------------------------------------------------------------


def _reorg_txs(ledger: Any, acct: Any, salt: str) -> list[list[Any]]:
    """Replacement transactions: a different invoice (it takes over the id of
    the first invoice the reorg removed) and a settlement-token mint."""
    from eth_utils import keccak

    due = int(dt.datetime.combine(DUE, dt.time(), tzinfo=dt.UTC).timestamp())
    currency = ledger.deployment.currency("HKD")
    issue = ledger.invoices.encode_abi("issue", args=[
        acct("buyer2").address, f"REORG-{salt}", 777_00, currency.address, due, keccak(text=f"reorg-{salt}")])
    token = ledger.token(currency)
    mint = token.encode_abi("mint", args=[acct("supplier2").address, 5_00])
    return [
        [{"from": acct("supplier").address, "to": ledger.invoices.address, "data": issue, "gas": hex(600_000)}, 0],
        [{"from": acct("operator").address, "to": token.address, "data": mint, "gas": hex(200_000)}, 0],
    ]


def test_indexer_reorgs_of_depth_1_to_10_equal_a_fresh_index(
    settings: Settings, actions: Actions, ledger: Any, acct: Any, tmp_path: Path
) -> None:
    """Invoices issued, financed and repaid inside the reorganised blocks;
    after each reorg the database equals a fresh index of the chain."""
    from ledger.indexer import sync

    url = settings.rpc_url
    sync(settings)
    for depth in range(1, 11):
        actions.blocks_of_activity(depth + 1)
        sync(settings)
        rpc(url, "anvil_reorg", [depth, _reorg_txs(ledger, acct, f"{depth}-{time.monotonic_ns()}")])

        stats = sync(settings)

        assert stats.reorgs == 1 and stats.reorged_blocks >= depth, (depth, stats)
        assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path), depth
        assert_matches_chain(settings.database_url, ledger)


@pytest.mark.parametrize("depth", [1, 4, 10])
def test_indexer_rollback_waits_then_follows_the_new_blocks(
    settings: Settings, actions: Actions, ledger: Any, acct: Any, tmp_path: Path, depth: int
) -> None:
    """anvil_rollback lowers the head with the remaining hashes unchanged: a
    lagging node, nothing is deleted. Once different blocks are mined over
    the same heights, that is a reorg and it is rolled back."""
    from ledger.indexer import sync

    url = settings.rpc_url
    actions.blocks_of_activity(depth + 2)
    sync(settings)
    before = snapshot(settings.database_url)
    rpc(url, "anvil_rollback", [depth])

    lagging = sync(settings)

    assert lagging.lagging and (lagging.events, lagging.reorgs) == (0, 0)
    assert snapshot(settings.database_url) == before

    actions.blocks_of_activity(depth + 1)
    after = sync(settings)

    assert after.reorgs == 1, after
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)
    assert_matches_chain(settings.database_url, ledger)


def test_indexer_reorg_of_the_v2_events_equals_a_fresh_index(
    settings: Settings, actions: Actions, ledger: Any, acct: Any, tmp_path: Path
) -> None:
    """Blocks holding a partly paid invoice financed with a reserve, a payment
    that releases a reserve (ReserveReleased), a listing cleared by a transfer
    and a renamed participant are reorganised away: the database equals a
    fresh index, before and after. The invoices are prepared before the
    reorganised blocks so that the reorg stays under ten blocks deep: deeper
    reorgs on the session Anvil, after other tests' snapshots and reverts,
    have rebuilt the chain without the contracts."""
    from ledger.indexer import sync

    url = settings.rpc_url
    ledger_, buyer, supplier = actions.ledger, acct("buyer"), acct("supplier")
    released = actions.issue()
    actions.lifecycle(released, "part-paid")  # financed, due 950 (reserve 50), 400 paid
    cleared = actions.issue()
    actions.lifecycle(cleared, "offered")
    prepaid = actions.issue()
    ledger_.confirm(buyer, prepaid)
    ledger_.repay(buyer, prepaid, "100")
    sync(settings)
    start = head(url)
    ledger_.repay(buyer, released, "600")  # 550 to the financier, the 50 reserve to the supplier
    ledger_.sender.transact(ledger_.invoices.functions.transferFrom(
        supplier.address, acct("supplier2").address, cleared), supplier)
    ledger_.offer(supplier, prepaid, None, "700", 7)
    ledger_.finance(acct("financier"), prepaid, advance="800", due="850")
    actions.rename()
    sync(settings)
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path, "before")
    depth = head(url) - start
    assert depth <= 10, depth
    rpc(url, "anvil_reorg", [depth, _reorg_txs(ledger, acct, f"v2-{time.monotonic_ns()}")])

    stats = sync(settings)

    assert stats.reorgs == 1 and stats.reorged_blocks >= depth - 1, stats
    after = snapshot(settings.database_url)
    assert after == fresh_snapshot(settings, tmp_path, "after")
    names = [e for e in after["events"] if e[8] in ("ReserveReleased", "ParticipantRenamed")]
    assert names == [], "the reorg removed them"
    assert_matches_chain(settings.database_url, ledger)


def test_indexer_sync_rewind_rolls_back_blocks_the_chain_lost(
    settings: Settings, actions: Actions, ledger: Any, tmp_path: Path
) -> None:
    """A chain restarted from an older state (evm_revert here) has a lower
    head and the same hashes below it, which is also what a lagging node
    shows: a plain sync changes nothing and warns in one line; `--rewind`
    rolls back what the chain no longer has (every projection with it) and
    syncs; the blocks mined again over those heights then index as usual."""
    from click.testing import CliRunner

    from ledger.cli import main
    from ledger.indexer import sync

    url = settings.rpc_url
    actions.lifecycle(actions.issue(), "financed")
    sync(settings)
    kept = head(url)
    saved = rpc(url, "evm_snapshot")
    actions.lifecycle(actions.issue(), "prepaid-financed")
    actions.rename()
    sync(settings)
    lost = head(url) - kept
    assert rpc(url, "evm_revert", [saved]) is True
    before = snapshot(settings.database_url)
    base = ["--home", str(settings.home), "--rpc-url", url, "--db-url", settings.database_url, "index", "sync"]

    plain = CliRunner().invoke(main, base)

    assert plain.exit_code == 0, plain.output
    assert plain.stderr == (
        f"warning: the node's head {kept} is below the indexed block {kept + lost}: nothing changed, as for a node "
        "that is lagging; if the chain lost blocks (a node restarted from an older state), run "
        "`scf index sync --rewind`\n"
    )
    assert plain.stdout == f"nothing indexed: the node's head {kept} is below the indexed block {kept + lost}\n"
    assert snapshot(settings.database_url) == before

    rewound = CliRunner().invoke(main, [*base, "--rewind", "--json"])

    assert rewound.exit_code == 0, rewound.output
    stats = json.loads(rewound.stdout)
    assert (stats["rewound_blocks"], stats["reorgs"], stats["lagging"], stats["to_block"]) == (lost, 0, False, kept)
    assert rewound.stderr == ""
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path, "rewound")
    assert_matches_chain(settings.database_url, ledger)

    again = sync(settings, rewind=True)  # nothing lost now: a plain sync
    assert (again.rewound_blocks, again.events) == (0, 0)
    actions.lifecycle(actions.issue(), "paid")  # new blocks over the lost heights
    assert sync(settings).reorgs == 0
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path, "after")


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
    due = int(dt.datetime.combine(DUE, dt.time(), tzinfo=dt.UTC).timestamp())
    currency = ledger.deployment.currency("HKD").address
    selector = keccak(text="issue(address,string,uint256,address,uint64,bytes32)")[:4]
    data = selector + abi_encode(["address", "bytes", "uint256", "address", "uint64", "bytes32"],
                                 [acct("buyer").address, raw, 123_45, currency, due, b"\7" * 32])
    tx = ledger.w3.eth.send_transaction({"from": acct("supplier").address, "to": ledger.invoices.address,
                                         "data": "0x" + data.hex(), "gas": 1_000_000})
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
        number, "INV\ufffd\ufffd" + number.rsplit("-", 1)[1], 12345)
    assert events == ["Transfer", "InvoiceIssued"]
    base = ["--home", str(settings.home), "--rpc-url", settings.rpc_url, "--db-url", settings.database_url]
    found = CliRunner().invoke(main, [*base, "invoice", "list", "--number", number, "--json"])
    assert found.exit_code == 0, found.output
    assert [(r["invoice_id"], r["number"]) for r in json.loads(found.output)] == [(invoice_id, number)]
    table = CliRunner().invoke(main, [*base, "invoice", "history", str(invoice_id)])
    assert table.exit_code == 0 and "\ufffd" in table.output, table.output
    verified = CliRunner().invoke(main, [*base, "verify"])
    assert verified.exit_code == 0, verified.output


def test_indexer_lagging_node_is_not_a_reorg(settings: Settings, actions: Actions, proxy: RpcProxy) -> None:
    from ledger.indexer import sync

    actions.blocks_of_activity(6)
    sync(settings)
    before = snapshot(settings.database_url)
    proxy.lag = 4

    stats = sync(replace(settings, rpc_url=proxy.url))

    assert stats.lagging and stats.reorgs == 0 and stats.events == 0
    assert stats.head == head(settings.rpc_url) - 4
    assert snapshot(settings.database_url) == before

    proxy.lag = 0
    actions.blocks_of_activity(2)
    caught_up = sync(replace(settings, rpc_url=proxy.url))
    assert not caught_up.lagging and caught_up.events > 0 and caught_up.reorgs == 0


# -- refusing nodes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("refusal", [
    "query returned more than {n} results",
    "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range",
    "HTTP 502",  # no JSON-RPC answer at all: a gateway giving up on the query
])
def test_indexer_shrinks_refused_ranges_and_grows_them_again(
    settings: Settings, ledger: Any, acct: Any, proxy: RpcProxy, tmp_path: Path, refusal: str
) -> None:
    """A node that refuses answers of more than 24 logs."""
    from ledger.indexer import sync

    url = settings.rpc_url
    issue_many(ledger, acct, url, 120, per_block=2)  # dense: 4 events per block
    rpc(url, "anvil_mine", [hex(400)])  # then a long quiet stretch
    issue_many(ledger, acct, url, 10, per_block=2)
    proxy.max_logs, proxy.refusal = 24, refusal

    stats = sync(replace(settings, rpc_url=proxy.url))

    refused = [span for span, no in proxy.spans if no]
    served = [span for span, no in proxy.spans if not no]
    assert refused, "the proxy never refused: the test proves nothing"
    assert proxy.served_max <= 24
    assert max(served) >= 4 * min(served), "the range never grew back after the refusals"
    if "{n} results" in refusal:
        # The refusal states the cap: the indexer aims below it from then on.
        assert len(refused) <= len(served) // 4, proxy.spans
    assert stats.block == head(url)
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)


@pytest.mark.parametrize("refusal", [
    "Requested range exceeds maximum range limit",  # Besu: no number
    "block range is too wide",
    "exceed maximum block range: {n}",  # Geth
    "range {asked} exceeds limit of {n}",  # Infura
])
def test_indexer_learns_a_block_range_limit(
    settings: Settings, ledger: Any, acct: Any, proxy: RpcProxy, tmp_path: Path, refusal: str
) -> None:
    """A node that refuses ranges of more than 10 blocks, however few logs
    they hold: a few refusals teach the indexer the limit, then its ranges
    stay at it (a limit the message states is taken at once)."""
    from ledger.indexer import sync

    url = settings.rpc_url
    issue_many(ledger, acct, url, 40, per_block=2)
    rpc(url, "anvil_mine", [hex(200)])  # a quiet stretch, where ranges would grow
    issue_many(ledger, acct, url, 10, per_block=2)
    proxy.max_blocks, proxy.refusal = 10, refusal

    stats = sync(replace(settings, rpc_url=proxy.url), initial_span=25)

    refused = [span for span, no in proxy.spans if no]
    served = [span for span, no in proxy.spans if not no]
    assert refused, "the proxy never refused: the test proves nothing"
    assert len(refused) <= (1 if "{n}" in refusal else 4), proxy.spans
    assert max(served) == 10 and served[-2] == 10, proxy.spans  # the last range may be short
    assert stats.block == head(url)
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)


def test_indexer_fetch_process_hands_back_what_it_learnt_of_the_node(
    settings: Settings, ledger: Any, acct: Any, proxy: RpcProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit a fetch process learnt reaches the writer's indexer, so the
    next run (a `follow` round, a restart) does not learn it again."""
    from ledger.indexer import core, indexer_for

    monkeypatch.setattr(core, "PROBE_AGAIN_AFTER", 10**9)
    url = settings.rpc_url
    issue_many(ledger, acct, url, 40, per_block=2)
    rpc(url, "anvil_mine", [hex(100)])
    proxy.max_blocks, proxy.refusal = 10, "Requested range exceeds maximum range limit"
    indexer = indexer_for(replace(settings, rpc_url=proxy.url), workers="process", initial_span=25)
    try:
        first = indexer.sync()
        learnt = len(proxy.spans)
        rpc(url, "anvil_mine", [hex(100)])
        second = indexer.sync()
    finally:
        indexer.close()

    assert first.fetch_process and second.fetch_process
    assert any(refused for _, refused in proxy.spans[:learnt]), "the proxy never refused: the test proves nothing"
    assert [span for span, refused in proxy.spans[learnt:] if refused] == [], proxy.spans[learnt:]


def test_indexer_probes_an_unstated_block_limit_again_later(
    settings: Settings, ledger: Any, acct: Any, proxy: RpcProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One refusal must not cap the ranges for the life of a follower: after
    PROBE_AGAIN_AFTER ranges the indexer tries wider ones again (and, the
    limit being real, learns it again)."""
    from ledger.indexer import sync
    from ledger.indexer.core import PROBE_AGAIN_AFTER

    monkeypatch.setattr("ledger.indexer.core.PROBE_AGAIN_AFTER", 8)
    assert PROBE_AGAIN_AFTER >= 50  # the real value keeps refusals rare
    url = settings.rpc_url
    rpc(url, "anvil_mine", [hex(400)])
    proxy.max_blocks, proxy.refusal = 10, "block range is too wide"

    sync(replace(settings, rpc_url=proxy.url), workers="thread", initial_span=25)

    marks = [i for i, (_, refused) in enumerate(proxy.spans) if refused]
    assert marks and marks[-1] > marks[0] + 8, f"never probed again: {proxy.spans}"
    assert len(marks) <= len(proxy.spans) // 3, proxy.spans


def test_indexer_range_refusal_messages_are_recognised() -> None:
    from ledger.evm.rpc import (
        RefusalLimit,
        RpcBusy,
        RpcError,
        RpcTimeout,
        is_range_refusal,
        refusal_limit,
        suggested_range,
    )

    refusals = [
        "query returned more than 10000 results",
        "Log response size exceeded. this block range should work: [0x10, 0x1f]",
        "block range is too wide",
        "exceed maximum block range: 50000",
        "Requested range exceeds maximum range limit",
        "eth_getLogs is limited to a 10,000 range",
        "query timeout exceeded",
        "too many blocks requested",
    ]
    for message in refusals:
        assert is_range_refusal(RpcError("eth_getLogs", -32000, message)), message
    assert is_range_refusal(RpcTimeout("eth_getLogs", "http://x", 5))
    assert not is_range_refusal(RpcError("eth_getLogs", -32602, "invalid argument 0: hex string without 0x prefix"))
    assert suggested_range(RpcError("eth_getLogs", -32000, refusals[1])) == (16, 31)

    alchemy = ("Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range "
               "and no limit on the response size, or you can request any block range with a cap of 10K logs "
               "in the response.")
    limits = {
        refusals[0]: RefusalLimit("logs", 10_000),
        "query returned more than 2,500 results": RefusalLimit("logs", 2_500),
        alchemy: RefusalLimit("logs", 10_000),
        refusals[1]: RefusalLimit("logs"),
        "query returns too many logs, narrow your filter: 20000": RefusalLimit("logs", 20_000),
        refusals[2]: RefusalLimit("blocks"),
        refusals[3]: RefusalLimit("blocks", 50_000),
        refusals[4]: RefusalLimit("blocks"),
        refusals[5]: RefusalLimit("blocks", 10_000),
        "range 1000000 exceeds limit of 10000": RefusalLimit("blocks", 10_000),
        "block range too large, max range: 5000": RefusalLimit("blocks", 5_000),
        "block range is larger than max block range, block range = 5120, max block range = 5000":
            RefusalLimit("blocks", 5_000),
        "query block range exceeds server limit, narrow your filter: 1000": RefusalLimit("blocks", 1_000),
        "eth_getLogs is limited to a 10,000 blocks range": RefusalLimit("blocks", 10_000),
        "query exceeds max block range 100000": RefusalLimit("blocks", 100_000),
        "logs limit exceeded": RefusalLimit("logs"),
        refusals[6]: None,  # a timeout: could be either
    }
    for message, limit in limits.items():
        assert is_range_refusal(RpcError("eth_getLogs", -32602, message)), message
        assert refusal_limit(RpcError("eth_getLogs", -32602, message)) == limit, message
    assert refusal_limit(RpcTimeout("eth_getLogs", "http://x", 5)) is None
    # Bare HTTP errors: a gateway giving up on the query shrinks it; a rate limit or a node away does not.
    for status, shrink in ((500, True), (502, True), (504, True), (429, False), (503, False)):
        assert is_range_refusal(RpcBusy("eth_getLogs", status, f"HTTP {status}")) is shrink, status


def test_indexer_rpc_client_words_odd_answers_in_one_line() -> None:
    """Answers that are not JSON-RPC: one-line errors, never an AttributeError."""
    from ledger.errors import ChainError
    from ledger.evm.rpc import RefusalLimit, RpcClient, RpcError, refusal_limit

    answers = {
        "/404": (404, b"<html>\n<h1>Not Found</h1>\n</html>"),
        "/string-error": (200, b'{"jsonrpc": "2.0", "id": 1, "error": "Unauthorized:\\n bad key"}'),
        "/batch-string-error": (200, b'{"jsonrpc": "2.0", "error": "batches are not allowed"}'),
        "/error-with-500": (500, b'{"jsonrpc": "2.0", "id": 1, "error": {"code": -32005, '
                                 b'"message": "query returned more than 10000 results"}}'),
    }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server API
            self.rfile.read(int(self.headers["Content-Length"]))
            status, body = answers[self.path]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        def failure(path: str, batch: bool = False) -> Exception:
            client = RpcClient(base + path)
            with pytest.raises(ChainError) as caught:
                client.batch([("eth_blockNumber", [])] * 2) if batch else client.call("eth_blockNumber")
            client.close()
            return caught.value

        not_found = failure("/404")
        string_error = failure("/string-error")
        batch_error = failure("/batch-string-error", batch=True)
        with_500 = failure("/error-with-500")
    finally:
        server.shutdown()
        server.server_close()

    assert str(not_found) == (f"{base}/404 answered eth_blockNumber with HTTP 404 Not Found, not JSON-RPC; "
                              "check --rpc-url")
    assert str(string_error) == "the node refused eth_blockNumber: Unauthorized: bad key (code None)"
    assert str(batch_error) == "the node refused eth_blockNumber: batches are not allowed (code None)"
    # A JSON-RPC error sent with an HTTP error status is read, so a limit it states is learnt.
    assert isinstance(with_500, RpcError) and refusal_limit(with_500) == RefusalLimit("logs", 10_000)


def test_indexer_single_block_refused_by_a_gateway_is_an_outage(
    settings: Settings, ledger: Any, acct: Any, proxy: RpcProxy
) -> None:
    """A gateway that fails even one block's logs: the node is unusable for
    now, which `follow` waits out (NodeUnavailable), in one line."""
    from ledger.errors import NodeUnavailable
    from ledger.indexer import sync

    issue_many(ledger, acct, settings.rpc_url, 10, per_block=5)  # blocks of 10 logs
    proxy.max_logs, proxy.refusal = 3, "HTTP 502"

    with pytest.raises(NodeUnavailable, match="even for the single block") as caught:
        sync(replace(settings, rpc_url=proxy.url))
    assert "\n" not in str(caught.value) and "HTTP 502 Bad Gateway" in str(caught.value)


# -- crashes ------------------------------------------------------------------------------------------


def test_indexer_killed_at_random_moments_loses_and_repeats_nothing(
    settings: Settings, ledger: Any, acct: Any, actions: Actions, proxy: RpcProxy, tmp_path: Path
) -> None:
    """SIGKILL `scf index sync` again and again during a backfill (small
    ranges, forced by a refusing node, so kills land between and inside
    transactions); the final database equals one clean run."""
    url = settings.rpc_url
    issue_many(ledger, acct, url, 3000 if LONG else 1200, per_block=20)
    for stop in ("paid", "financed"):
        actions.lifecycle(actions.issue(), stop)
    proxy.max_logs = 200 if LONG else 60
    rng = random.Random(1234)
    kills = 0
    mirrored: list[int] = []  # events in the database after each round
    for round_ in range(12 if LONG else 6):
        # Alternate the fetching between a thread and a forked child process.
        workers = "process" if round_ % 2 else "thread"
        answered = len(proxy.spans)
        proc = subprocess.Popen(scf("index", "sync", "--workers", workers, settings=settings, rpc_url=proxy.url),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO_ROOT)
        # Kill at a moment tied to the run's progress, not to the clock: once
        # the node has answered a random number of this run's log requests,
        # after a random pause. A fixed clock raced the start-up time and the
        # sync speed: a fast sync finished the backfill before the kills began.
        count = answered + rng.randint(1, 8 if LONG else 30)
        try:
            _wait_for(lambda p=proc, n=count: len(proxy.spans) >= n or p.poll() is not None, 60)
        except AssertionError:
            proc.kill()
            raise
        time.sleep(rng.uniform(0.0, 0.05))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(30)
        mirrored.append(_read_scalar(settings.database_url, select(func.count()).select_from(Event)) or 0)
    finish = subprocess.run(scf("index", "sync", "--json", settings=settings, rpc_url=proxy.url),
                            capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)

    assert finish.returncode == 0, finish.stderr
    total = _read_scalar(settings.database_url, select(func.count()).select_from(Event))
    assert kills >= 2, "no kill landed during the backfill: the test proves nothing"
    assert len([n for n in mirrored if 0 < n < total]) >= 2, f"kills did not land mid-backfill: {mirrored} of {total}"
    assert _leftover_processes(settings.database_url) == [], "a fetch process outlived its killed parent"
    assert json.loads(finish.stdout)["to_block"] == head(url)
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)


def _read_scalar(url: str, statement: Any) -> Any:
    """One value read from the test's database; None before the database or
    its schema exists."""
    from ledger.db import create_db_engine
    from ledger.errors import DatabaseError

    try:
        engine = create_db_engine(url, write=False)
    except DatabaseError:  # no SQLite file yet
        return None
    try:
        with engine.connect() as conn:
            return conn.execute(statement).scalar()
    except DBAPIError:  # no schema yet
        return None
    finally:
        engine.dispose()


def _wait_for(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:g}s"
        time.sleep(0.02)


def _leftover_processes(marker: str, grace: float = 10.0) -> list[int]:
    """PIDs of processes whose command line contains `marker` (our test's
    database URL), once a grace period for them to notice has passed."""
    deadline = time.monotonic() + grace
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                try:
                    cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    state = (entry / "stat").read_text().split(") ", 1)[1][0]
                except OSError:
                    continue
                if marker in cmdline and state != "Z":
                    found.append(int(entry.name))
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def test_indexer_fetch_process_gives_the_same_database(
    settings: Settings, ledger: Any, acct: Any, actions: Actions, tmp_path: Path
) -> None:
    from ledger.indexer import sync

    issue_many(ledger, acct, settings.rpc_url, 300, per_block=3)
    actions.lifecycle(actions.issue(), "paid")

    stats = sync(settings, workers="process", target_logs=40, initial_span=3)

    assert stats.batches > 3, stats
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the WAL is SQLite's
def test_indexer_fetch_process_sync_checkpoints_the_sqlite_wal_itself(
    settings: Settings, ledger: Any, acct: Any, actions: Actions
) -> None:
    """A backfill with a fetch process checkpoints the WAL in a thread of its
    own and once more at its end: the database file holds every page when the
    sync returns, though the backfill is far below wal_autocheckpoint and a
    second connection keeps closing the engine from checkpointing."""
    from ledger.db.engine import create_db_engine
    from ledger.indexer import sync

    issue_many(ledger, acct, settings.rpc_url, 120, per_block=3)
    sync(settings, to_block=1)  # creates the database
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    other = create_db_engine(settings.database_url, write=False)
    try:
        with other.connect() as held:
            stats = sync(settings, workers="process", target_logs=40, initial_span=3)
            page_size = held.exec_driver_sql("PRAGMA page_size").scalar_one()
            pages = held.exec_driver_sql("PRAGMA page_count").scalar_one()
            assert stats.fetch_process and stats.events > 200, stats
            assert path.stat().st_size == page_size * pages
            assert Path(f"{path}-wal").stat().st_size > 0  # the WAL was used, and kept open by `held`
    finally:
        other.dispose()


@pytest.mark.parametrize("initial_span", [10, 3])
def test_indexer_auto_hands_a_big_backlog_to_a_fetch_process_without_gaps(
    settings: Settings, ledger: Any, acct: Any, actions: Actions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    initial_span: int,
) -> None:
    """Mode auto gives a backlog of PROCESS_MIN_RANGES spans of blocks or
    more to a fetch process from the start (span 3: about 110 blocks); a
    shorter one starts in a thread and, once a full range shows a big
    backlog, hands the rest to a fetch process before writing that range
    (span 10). Either way the database is the same as a plain index."""
    from ledger.indexer import core, sync

    issue_many(ledger, acct, settings.rpc_url, 300, per_block=3)
    actions.lifecycle(actions.issue(), "paid")
    _two_idle_cores(monkeypatch)
    threads = _count_starts(monkeypatch, core._ThreadFetcher)  # the writer's (the child's are not seen here)
    from ledger.config import DEV_CHAIN_ID
    from ledger.deployment import load_deployment
    from ledger.evm.rpc import RpcClient

    with RpcClient(settings.rpc_url) as rpc:
        backlog = int(rpc.call("eth_blockNumber"), 16) - (load_deployment(settings, DEV_CHAIN_ID).start_block - 1)
    long_backlog = backlog >= core.PROCESS_MIN_RANGES * initial_span
    assert long_backlog == (initial_span == 3), backlog  # the two paths this test is about

    stats = sync(settings, workers="auto", target_logs=40, initial_span=initial_span)

    assert stats.fetch_process and stats.batches > 3, stats
    assert len(threads) == (0 if long_backlog else 1), (backlog, initial_span)
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)


# -- following the head ------------------------------------------------------------------------------


def test_indexer_follow_hands_off_from_backfill_without_duplicates_or_gaps(
    settings: Settings, ledger: Any, acct: Any, actions: Actions, proxy: RpcProxy, tmp_path: Path
) -> None:
    url = settings.rpc_url
    issue_many(ledger, acct, url, 600, per_block=10)
    proxy.max_logs = 80  # a backfill of many ranges, so new blocks arrive during it
    follower = subprocess.Popen(scf("index", "follow", "--poll-interval", "0.1", settings=settings,
                                    rpc_url=proxy.url),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    try:
        for i in range(8):  # events while it backfills, at the hand-off, and while it follows
            invoice_id = actions.issue()
            if i % 2:
                actions.lifecycle(invoice_id, "financed")
            time.sleep(0.2)
        target = head(url)
        _wait_for(lambda: (_cursor_block(settings.database_url) or -1) >= target)
        assert _cursor_block(settings.database_url) == target, "the follower went past the head"
    finally:
        follower.send_signal(signal.SIGTERM)
        out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    assert out.strip().endswith("stopped following"), out
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)
    assert_matches_chain(settings.database_url, ledger)


@pytest.mark.parametrize("workers", ["thread", "process"])
def test_indexer_follow_rides_out_node_outages(
    settings: Settings, ledger: Any, acct: Any, actions: Actions, proxy: RpcProxy, tmp_path: Path, workers: str
) -> None:
    """A follower keeps going through a node that answers HTTP 503 in the
    middle of the backfill (seen by the fetch thread or process) and through
    a node whose port is closed while it follows; it retries with a one-line
    message and ends equal to a clean index."""
    url = settings.rpc_url
    issue_many(ledger, acct, url, 400, per_block=10)
    proxy.max_logs = 40  # a backfill of many ranges
    proxy.outage_after = len(proxy.spans) + 5  # the gateway fails mid-backfill

    with _Follower(replace(settings, rpc_url=proxy.url), chain_url=url, workers=workers) as follower:
        follower.wait(lambda: bool(follower.retries))
        proxy.outage = None
        actions.lifecycle(actions.issue(), "financed")
        follower.wait(follower.caught_up)
        proxy.close()  # the node's port closes: connection refused
        actions.issue()
        seen = len(follower.retries)
        follower.wait(lambda: len(follower.retries) > seen)
        proxy.resume()
        follower.wait(follower.caught_up)
    retries = follower.retries
    assert not follower.failures, follower.failures
    assert any("HTTP 503" in r for r in retries[:seen]), retries
    assert any("connection refused" in r for r in retries[seen:]), retries
    assert all("\n" not in r for r in retries)
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_indexer_follow_rides_out_a_database_outage(
    settings: Settings, actions: Actions, pg_admin_url: str, tmp_path: Path
) -> None:
    """The PostgreSQL server drops the follower's connections and refuses
    new ones for a while (as in a restart or a failover): the follower
    retries with a one-line message, then catches up, losing nothing."""
    from sqlalchemy.engine import make_url

    name = make_url(settings.database_url).database
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")

    def accept_connections(allow: bool) -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}'))
            if not allow:
                conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                             {"name": name})

    actions.lifecycle(actions.issue(), "financed")
    try:
        with _Follower(settings) as follower:
            follower.wait(follower.caught_up)
            accept_connections(False)
            actions.lifecycle(actions.issue(), "paid")
            follower.wait(lambda: len(follower.retries) >= 2)
            accept_connections(True)
            follower.wait(follower.caught_up)
    finally:
        accept_connections(True)
        admin.dispose()
    retries = follower.retries
    assert not follower.failures, follower.failures
    assert retries and all(r.startswith(f"the database {describe_url(settings.database_url)} is unavailable: ")
                           and "\n" not in r for r in retries), retries
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)


def test_database_unavailable_tells_passing_failures_from_permanent_ones(db_url: str) -> None:
    """What `follow` retries: a refused connection, yes; a statement that
    fails the same way every time (a timeout on PostgreSQL, a missing table
    on SQLite), no: retrying it would loop for ever."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from ledger.db import create_db_engine
    from ledger.db.engine import database_unavailable
    from ledger.evm.node import free_port

    sqlite = db_url.startswith("sqlite")
    permanent = "SELECT * FROM no_such_table" if sqlite else "SET statement_timeout = 1; SELECT pg_sleep(1)"
    engine = create_db_engine(db_url)
    try:
        with pytest.raises(OperationalError) as failed, engine.connect() as conn:
            conn.exec_driver_sql(permanent)
    finally:
        engine.dispose()
    assert database_unavailable(db_url, failed.value) is None, failed.value
    if sqlite:
        return  # no server to come back
    url = make_url(db_url)
    nobody = url.set(port=free_port()).render_as_string(hide_password=False)  # no server there (yet)
    no_database = url.set(database="scf_no_such_database").render_as_string(hide_password=False)  # for good
    failures = []
    for target in (nobody, no_database):
        other = create_db_engine(target)
        try:
            with pytest.raises(OperationalError) as refused, other.connect():
                pass
        finally:
            other.dispose()
        failures.append(refused.value)
    assert database_unavailable(nobody, failures[0]) is not None, failures[0]
    assert database_unavailable(no_database, failures[1]) is None, failures[1]


class _Follower:
    """`follow` in a thread of this test (polling every 0.05 s), collecting
    its one-line retry messages and any exception; stopped on exit."""

    def __init__(self, settings: Settings, chain_url: str | None = None, **options: Any) -> None:
        from ledger.indexer import follow

        self.settings = settings
        self.chain_url = chain_url or settings.rpc_url  # where the head is read, past any proxy
        self.retries: list[str] = []
        self.failures: list[BaseException] = []
        self.stop = threading.Event()

        def run() -> None:
            try:
                follow(settings, poll_interval=0.05, stop=self.stop,
                       on_error=lambda exc, _seconds: self.retries.append(str(exc)), **options)
            except BaseException as exc:  # noqa: BLE001 - asserted by the tests
                self.failures.append(exc)

        self.thread = threading.Thread(target=run, daemon=True)

    def __enter__(self) -> _Follower:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(60)

    def caught_up(self) -> bool:
        return _cursor_block(self.settings.database_url) == head(self.chain_url)

    def wait(self, condition: Callable[[], bool]) -> None:
        """Until ``condition`` holds, or the follower has stopped (failed)."""
        _wait_for(lambda: condition() or not self.thread.is_alive())


def _cursor_block(url: str) -> int | None:
    return _read_scalar(url, select(Cursor.block_number))  # type: ignore[no-any-return]


# -- the command line ----------------------------------------------------------------------------------


def test_indexer_cli_sync_status_rebuild(settings: Settings, actions: Actions) -> None:
    from click.testing import CliRunner

    from ledger.cli import main

    actions.lifecycle(actions.issue(), "financed")
    base = ["--home", str(settings.home), "--rpc-url", settings.rpc_url, "--db-url", settings.database_url]
    runner = CliRunner()

    synced = runner.invoke(main, [*base, "index", "sync", "--json"])
    status = runner.invoke(main, [*base, "index", "status", "--json"])
    rebuilt = runner.invoke(main, [*base, "index", "rebuild"])
    upgraded = runner.invoke(main, [*base, "db", "upgrade"])

    assert synced.exit_code == 0, synced.output
    stats = json.loads(synced.output)
    assert stats["to_block"] == head(settings.rpc_url) and stats["events"] > 0
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)[0]["events"] == stats["events"]
    assert rebuilt.exit_code == 0, rebuilt.output
    assert rebuilt.output.startswith("projections rebuilt from ")
    assert upgraded.exit_code == 0, upgraded.output
    assert " at schema " in upgraded.output


def test_indexer_status_reads_while_a_writer_holds_the_database(settings: Settings, actions: Actions) -> None:
    """`scf index status` is a reader: on SQLite it must not queue behind the
    write lock a running `scf index follow` holds between its ranges."""
    from ledger.db import create_db_engine
    from ledger.indexer import status, sync

    actions.lifecycle(actions.issue(), "financed")
    synced = sync(settings)
    writer = create_db_engine(settings.database_url)  # BEGIN IMMEDIATE on SQLite, as the indexer's
    try:
        with writer.begin() as conn:
            conn.execute(update(Cursor).values(head_number=Cursor.head_number))  # hold the write lock
            rows = status(settings)
    finally:
        writer.dispose()

    assert [(r["block"], r["events"]) for r in rows] == [(synced.block, synced.events)]


def test_indexer_locked_sqlite_database_says_who_holds_it(tmp_path: Path) -> None:
    from ledger.db import create_db_engine
    from ledger.db.engine import database_errors
    from ledger.errors import DatabaseError

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    holder, waiter = create_db_engine(url), create_db_engine(url)
    # Give up on the lock after 50 ms instead of 60 s (runs after the engine's own connect setup).
    event.listen(waiter, "connect", lambda dbapi_connection, _record: dbapi_connection.execute(
        "PRAGMA busy_timeout=50"))
    try:
        with holder.begin() as held:
            held.execute(text("CREATE TABLE t (x INTEGER)"))  # BEGIN IMMEDIATE: the write lock is held
            with pytest.raises(DatabaseError) as caught, database_errors(url), waiter.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        holder.dispose()
        waiter.dispose()

    assert "database is locked; another process (such as `scf index follow`) holds the write lock" in str(caught.value)


def test_indexer_status_never_creates_a_missing_database(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ledger.cli import main

    missing = tmp_path / "typo" / "ledger.db"
    result = CliRunner().invoke(main, ["--home", str(tmp_path / "home"), "--db-url", f"sqlite:///{missing}",
                                       "index", "status"])

    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: no ledger database at {missing}; ") and result.output.count("\n") == 1
    assert not missing.parent.exists()


def test_indexer_cli_unreachable_node_is_one_line(settings: Settings) -> None:
    from click.testing import CliRunner

    from ledger.cli import main
    from ledger.evm.node import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(main, ["--home", str(settings.home), "--rpc-url", url,
                                       "--db-url", settings.database_url, "index", "sync"])

    assert result.exit_code == 1, result.output
    assert result.output == (f"Error: cannot reach the JSON-RPC endpoint {url} (connection refused); "
                             "start the local chain with `scf node start` or pass --rpc-url\n")


def test_indexer_cli_bad_database_url_is_one_line(chain: Any) -> None:
    from click.testing import CliRunner

    from ledger.cli import main

    result = CliRunner().invoke(main, ["--home", str(chain.home), "--rpc-url", chain.rpc_url,
                                       "--db-url", "nosuchdb://x", "index", "status"])

    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: cannot use database URL nosuchdb://x: ")
    assert result.output.count("\n") == 1


def test_indexer_schema_revision_is_the_migrations_head() -> None:
    from alembic.script import ScriptDirectory

    from ledger.db.engine import MIGRATIONS_DIR, SCHEMA_REVISION, _alembic_config

    assert ScriptDirectory.from_config(_alembic_config(None)).get_current_head() == SCHEMA_REVISION
    assert MIGRATIONS_DIR.is_dir()


@pytest.mark.parametrize("existing_page_size", [None, 4096])
def test_indexer_sqlite_page_size_is_16_kib_for_new_databases_only(tmp_path: Path, existing_page_size: int | None
                                                                   ) -> None:
    """New SQLite databases get 16 KiB pages; one made with other pages keeps
    them (SQLite cannot change them in WAL mode) and still works. Either way
    a commit checkpoints at about 40 MB of WAL."""
    import sqlite3

    from ledger.db.engine import WAL_CHECKPOINT_BYTES, open_engine

    path = tmp_path / "ledger.db"
    if existing_page_size is not None:
        made = sqlite3.connect(path)
        made.execute(f"PRAGMA page_size={existing_page_size}")
        made.execute("PRAGMA journal_mode=WAL")
        made.close()
    engine = open_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            page_size = conn.exec_driver_sql("PRAGMA page_size").scalar_one()
            checkpoint = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one()
            tables = conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name = 'events'").scalar_one()
        assert page_size == (existing_page_size or 16384)
        assert checkpoint * page_size == WAL_CHECKPOINT_BYTES
        assert tables == 1  # migrated on open
    finally:
        engine.dispose()


def test_indexer_schema_matches_the_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from ledger.db import open_engine
    from ledger.db.models import Base

    engine = open_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    ours = {t.name for t in Base.metadata.sorted_tables}
    relevant = [d for d in diff if getattr(d[1], "name", None) in ours or getattr(getattr(d[1], "table", None),
                                                                                 "name", None) in ours]
    assert relevant == []


def test_indexer_uint256_is_exact_on_every_backend(db_url: str) -> None:
    from ledger.db import open_engine

    engine = open_engine(db_url)
    values = [0, 1, 2**53 + 1, 2**63 - 1, 2**63, 2**128 - 1, 2**256 - 1]
    try:
        with engine.begin() as conn:
            conn.execute(Event.__table__.insert(), [
                {"chain_id": 1, "contract": "0x" + "00" * 20, "block_number": 1, "block_hash": f"0x{i:064x}",
                 "block_time": dt.datetime(2026, 1, 1, tzinfo=dt.UTC), "tx_hash": "0x" + "00" * 32,
                 "tx_index": 0, "log_index": 0, "event": "T", "invoice_id": None, "account": None,
                 "amount": v, "args": {}}
                for i, v in enumerate(values)
            ])
            got = [r[0] for r in conn.execute(select(Event.amount).order_by(Event.amount))]
            above = [r[0] for r in conn.execute(select(Event.amount).where(Event.amount > 2**63 - 1))]
            times = {r[0] for r in conn.execute(select(Event.block_time))}
    finally:
        engine.dispose()
    assert got == values
    assert sorted(above) == [2**63, 2**128 - 1, 2**256 - 1]
    assert times == {dt.datetime(2026, 1, 1, tzinfo=dt.UTC)}


def _event_row(block: int, log_index: int, **values: Any) -> dict[str, Any]:
    row = {"chain_id": 1, "contract": "0x" + "11" * 20, "block_number": block, "block_hash": f"0x{block:064x}",
           "block_time": dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC), "tx_hash": "0x" + "22" * 32, "tx_index": 0,
           "log_index": log_index, "event": "Transfer", "invoice_id": None, "account": None, "amount": None,
           "args": {"a": "1"}, "args_json": None}
    row.update(values)
    return row


def test_indexer_bulk_insert_converts_each_column_and_ignores_stored_rows(db_url: str) -> None:
    """The generated parameter builder: None stays NULL (also when a column is
    NULL in every row and left out), large amounts stay exact, ready-made JSON
    text is stored as is, a dict is serialised, and a row already stored
    under (chain, block, hash, log index) is skipped."""
    from ledger.db import open_engine
    from ledger.indexer.core import _EVENTS_INSERT

    engine = open_engine(db_url)
    rows = [
        _event_row(1, 0),
        _event_row(1, 1, amount=2**256 - 1, invoice_id=7, args_json='{"b":"2"}', args=None),
        _event_row(2, 0, amount=5, account="0x" + "33" * 20, args={"c": ["x", True]}),
    ]
    try:
        with engine.begin() as conn:
            _EVENTS_INSERT.execute(conn, rows)
        with engine.begin() as conn:
            # Again, plus one new row: the stored ones are ignored, not doubled.
            _EVENTS_INSERT.execute(conn, [*rows, _event_row(3, 0)])
        with engine.begin() as conn:
            # Columns NULL in every row are left out of the statement: still NULL.
            _EVENTS_INSERT.execute(conn, [_event_row(4, 0), _event_row(4, 1, args=None, args_json='{"d":"4"}')])
        with engine.connect() as conn:
            got = [tuple(r) for r in conn.execute(
                select(Event.block_number, Event.log_index, Event.amount, Event.invoice_id, Event.account,
                       Event.args, Event.block_time).order_by(Event.block_number, Event.log_index)
            )]
    finally:
        engine.dispose()
    noon = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    assert got == [
        (1, 0, None, None, None, {"a": "1"}, noon),
        (1, 1, 2**256 - 1, 7, None, {"b": "2"}, noon),
        (2, 0, 5, None, "0x" + "33" * 20, {"c": ["x", True]}, noon),
        (3, 0, None, None, None, {"a": "1"}, noon),
        (4, 0, None, None, None, {"a": "1"}, noon),
        (4, 1, None, None, None, {"d": "4"}, noon),
    ]


@pytest.mark.parametrize("known_new", [True, False])
def test_indexer_bulk_copy_stores_what_row_inserts_store(
    db_url: str, monkeypatch: pytest.MonkeyPatch, known_new: bool
) -> None:
    """On PostgreSQL 70 rows go through COPY in binary format (straight into
    the table, or through the staging table when conflicts are ignored);
    the same rows inserted one statement per batch under another chain id
    read back the same: exact amounts past 64 bits, NULLs, times, JSON from
    ready text (unicode, quotes) and from dicts."""
    from ledger.db import open_engine
    from ledger.indexer import bulk
    from ledger.indexer.core import _EVENTS_INSERT

    def rows(chain_id: int) -> list[dict[str, Any]]:
        return [
            _event_row(
                10 + i // 7, i % 7, chain_id=chain_id,
                amount=2**256 - 1 if i % 5 == 0 else (i if i % 3 else None),
                invoice_id=i if i % 2 else None, account="0x" + f"{i:02x}" * 20 if i % 6 == 0 else None,
                block_time=dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC) + dt.timedelta(seconds=i, microseconds=i),
                args_json=f'{{"n":"{i}","s":"香港 \\"q\\""}}' if i % 4 else None,
                args={"i": str(i), "ok": True} if i % 4 == 0 else None,
            )
            for i in range(70)
        ]

    engine = open_engine(db_url)
    try:
        with engine.begin() as conn:
            _EVENTS_INSERT.execute(conn, rows(1), known_new=known_new)
            if not known_new:
                _EVENTS_INSERT.execute(conn, rows(1))  # stored already: ignored
        monkeypatch.setattr(bulk, "COPY_MIN_ROWS", 10**9)
        with engine.begin() as conn:
            _EVENTS_INSERT.execute(conn, rows(2), known_new=known_new)
        with engine.connect() as conn:
            got = {chain: [tuple(r) for r in conn.execute(
                select(Event.block_number, Event.log_index, Event.amount, Event.invoice_id, Event.account,
                       Event.args, Event.block_time, Event.block_hash, Event.tx_hash, Event.event)
                .where(Event.chain_id == chain).order_by(Event.block_number, Event.log_index)
            )] for chain in (1, 2)}
    finally:
        engine.dispose()
    assert len(got[1]) == 70
    assert got[1] == got[2]
    assert got[1][0][2] == 2**256 - 1 and got[1][1][5] == {"n": "1", "s": '香港 "q"'}
    assert got[1][4][5] == {"i": "4", "ok": True}


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_indexer_failed_copy_is_a_sqlalchemy_error(db_url: str) -> None:
    """COPY goes through psycopg's own API; its failures must still arrive as
    SQLAlchemy errors, which `database_errors` turns into one line and
    `follow` sorts into retryable or not."""
    from sqlalchemy.exc import IntegrityError

    from ledger.db import open_engine
    from ledger.db.engine import database_errors
    from ledger.errors import DatabaseError
    from ledger.indexer.bulk import COPY_MIN_ROWS
    from ledger.indexer.core import _EVENTS_INSERT

    engine = open_engine(db_url)
    rows = [_event_row(1, i) for i in range(COPY_MIN_ROWS)]
    try:
        with engine.begin() as conn:
            _EVENTS_INSERT.execute(conn, rows, known_new=True)
        with pytest.raises(IntegrityError) as raised, engine.begin() as conn:
            _EVENTS_INSERT.execute(conn, rows, known_new=True)  # wrongly claimed new: COPY hits the unique key
        with pytest.raises(DatabaseError) as wrapped, database_errors(db_url), engine.begin() as conn:
            _EVENTS_INSERT.execute(conn, rows, known_new=True)
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(Event)).scalar_one()
    finally:
        engine.dispose()
    assert "duplicate key value violates unique constraint" in str(raised.value)
    assert "duplicate key value" in str(wrapped.value) and "\n" not in str(wrapped.value)
    assert stored == COPY_MIN_ROWS


def test_indexer_migration_0002_keeps_events_and_their_uniqueness(db_url: str) -> None:
    """A database indexed before migration 0002 keeps its events; afterwards
    the same (chain, block hash, log index) is still refused, and the
    downgrade gives the old key back."""
    from alembic import command
    from sqlalchemy.exc import IntegrityError

    from ledger.db import current_revision, open_engine
    from ledger.db.engine import SCHEMA_REVISION, _alembic_config, create_db_engine, upgrade

    engine = create_db_engine(db_url)
    table = Event.__table__
    row = {k: v for k, v in _event_row(4, 2, amount=9).items() if k != "args_json"}
    try:
        upgrade(engine, "f001")
        with engine.begin() as conn:
            conn.execute(table.insert(), [row])
        upgrade(engine)
        assert current_revision(engine) == SCHEMA_REVISION
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(select(Event.block_number, Event.log_index, Event.amount))] == [
                (4, 2, 9)
            ]
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(table.insert(), [row])
        with engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "f001")
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(table.insert(), [{**row, "block_number": 5}])  # the old key: hash and log index
        open_engine(db_url).dispose()  # and up again, as every command does on first use
        assert current_revision(engine) == SCHEMA_REVISION
    finally:
        engine.dispose()


def test_indexer_migration_0003_narrows_the_invoice_index(db_url: str) -> None:
    """0003 rebuilds ix_events_invoice without the contract (keeping the
    events and the partial WHERE); an invoice's history still reads through
    it; the downgrade gives the wide index back."""
    from alembic import command
    from sqlalchemy import inspect

    from ledger.db.engine import _alembic_config, create_db_engine, upgrade

    engine = create_db_engine(db_url)

    def invoice_index() -> list[str]:
        with engine.connect() as conn:
            [index] = [i for i in inspect(conn).get_indexes("events") if i["name"] == "ix_events_invoice"]
        return list(index["column_names"])

    try:
        upgrade(engine, "0002")
        with engine.begin() as conn:
            conn.execute(Event.__table__.insert(), [
                {k: v for k, v in _event_row(4, 2, invoice_id=7).items() if k != "args_json"}])
        assert invoice_index() == ["chain_id", "contract", "invoice_id"]
        upgrade(engine)
        assert invoice_index() == ["chain_id", "invoice_id"]
        with engine.connect() as conn:
            assert [tuple(r) for r in conn.execute(select(Event.block_number, Event.invoice_id))] == [(4, 7)]
            history = select(Event.log_index).where(
                Event.chain_id == 1, Event.contract == "0x" + "11" * 20, Event.invoice_id == 7)
            if conn.dialect.name == "sqlite":
                compiled = history.compile(conn, compile_kwargs={"literal_binds": True})
                plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
                assert "ix_events_invoice" in plan, plan
        with engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "0002")
        assert invoice_index() == ["chain_id", "contract", "invoice_id"]
    finally:
        engine.dispose()


def test_indexer_migration_0004_carries_version_1_rows_over(db_url: str) -> None:
    """0004 (contracts v2) keeps the projections of a database indexed from
    version 1 contracts, settled as version 1 did: the financier due the
    whole amount and paid every payment, no reserve, no number; the
    downgrade gives the fingerprint column back."""
    from alembic import command
    from sqlalchemy import inspect

    from ledger.db.engine import _alembic_config, create_db_engine, upgrade

    engine = create_db_engine(db_url)
    day = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    key = {"chain_id": 1, "contract": "0x" + "11" * 20}
    record = {**key, "block_hash": "0x" + "22" * 32, "block_time": day, "tx_hash": "0x" + "33" * 32,
              "currency": "0x" + "44" * 20}
    try:
        upgrade(engine, "0003")
        with engine.begin() as conn:
            old = sa_table(conn, "invoices")
            conn.execute(old.insert(), [{
                **key, "invoice_id": n, "supplier": "0x" + "55" * 20, "buyer": "0x" + "66" * 20,
                "holder": "0x" + "77" * 20, "currency": record["currency"], "amount": 100_000, "paid": paid,
                "outstanding": 100_000 - paid, "advance": 90_000 if financed else 0,
                "financier": "0x" + "77" * 20 if financed else None, "status": status, "due_at": day,
                "due_date": day.date(), "fingerprint": "0x" + "88" * 32, "doc_hash": "0x" + "99" * 32,
                "issued_block": 1, "issued_at": day, "financed_block": 5 if financed else None,
                "updated_block": 9, "updated_at": day,
            } for n, paid, financed, status in ((1, 40_000, True, "PartiallyPaid"), (2, 0, False, "Confirmed"))])
            conn.execute(sa_table(conn, "financings").insert(), [{
                **record, "invoice_id": 1, "financier": "0x" + "77" * 20, "seller": "0x" + "55" * 20,
                "advance": 90_000, "block_number": 5, "log_index": 0}])
            conn.execute(sa_table(conn, "repayments").insert(), [{
                **record, "invoice_id": 1, "payer": "0x" + "66" * 20, "payee": "0x" + "77" * 20, "amount": 40_000,
                "total_paid": 40_000, "block_number": 7, "log_index": 0}])
        upgrade(engine)
        with engine.connect() as conn:
            invoices = {r.invoice_id: r for r in conn.execute(select(Invoice.__table__))}
            financing = conn.execute(select(Financing.__table__)).one()
            repayment = conn.execute(select(Repayment.__table__)).one()
        assert (invoices[1].seller, invoices[1].financier_due, invoices[1].financier_paid,
                invoices[1].reserve_released, invoices[1].number) == ("0x" + "55" * 20, 100_000, 40_000, 0, None)
        assert (invoices[2].seller, invoices[2].financier_due, invoices[2].financier_paid) == (None, None, 0)
        assert financing.due == 100_000
        assert (repayment.to_payee, repayment.to_seller, repayment.seller) == (40_000, 0, "0x" + "55" * 20)
        with engine.begin() as conn:
            command.downgrade(_alembic_config(conn), "0003")
        with engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("invoices")}
            kept = conn.execute(select(func.count()).select_from(Repayment.__table__)).scalar_one()
        assert "fingerprint" in columns and "number" not in columns and kept == 1
        upgrade(engine)
    finally:
        engine.dispose()


def sa_table(conn: Any, name: str) -> Any:
    """A table as the database has it now (older migrations' columns)."""
    from sqlalchemy import MetaData, Table

    return Table(name, MetaData(), autoload_with=conn)


def test_indexer_blocks_table_keeps_only_the_recent_window(settings: Settings, chain: Any) -> None:
    from ledger.indexer import get_engine, sync
    from ledger.indexer.core import REORG_WINDOW

    rpc(settings.rpc_url, "anvil_mine", [hex(REORG_WINDOW + 50)])
    sync(settings)

    with get_engine(settings.database_url).connect() as conn:
        numbers = [r[0] for r in conn.execute(select(Block.number).order_by(Block.number))]
        tables = {r[0] for r in conn.execute(text(
            "SELECT name FROM sqlite_master WHERE type='table'" if settings.database_url.startswith("sqlite")
            else "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))}
    top = head(settings.rpc_url)
    assert numbers == list(range(top - REORG_WINDOW + 1, top + 1))
    assert {"events", "blocks", "cursors", "invoices", "participants", "financings", "repayments"} <= tables
