"""Helpers and fixtures shared by the indexer and database tests
(``tests/indexer/``, ``tests/db/``): a JSON-RPC helper, a
database snapshot to compare, a lifecycle driver, a refusing JSON-RPC proxy.

Fixtures are named through ``name=`` so that a test module imports
``settings_fixture`` and its tests ask for ``settings``::

    from support.indexer import actions_fixture, proxy_fixture, settings_fixture  # noqa: F401 - fixtures
"""

from __future__ import annotations

import datetime as dt
import json
import os
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
from sqlalchemy import create_engine, select, update
from sqlalchemy.exc import DBAPIError

from ledger.business_time import due_timestamp
from ledger.config import Settings
from ledger.db.models import Cursor, Event, Financing, Incident, Invoice, Participant, Repayment
from ledger.format import iso_time
from support.jsonrpc import send_json
from support.lifecycle import Lifecycle

#: Long profile of the crash loop (more events, more kills): SCF_INDEXER_LONG=1.
LONG = os.environ.get("SCF_INDEXER_LONG", "") not in ("", "0")


DUE = dt.date.today() + dt.timedelta(days=90)


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
                "incidents": rows(Incident, ["chain_id", "block_number", "log_index"]),
                "cursors": [
                    tuple(r)
                    for r in conn.execute(
                        select(Cursor.chain_id, Cursor.key, Cursor.block_number, Cursor.block_hash).order_by(Cursor.id)
                    )
                ],
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
            rows = {
                r.invoice_id: r
                for r in conn.execute(select(Invoice.__table__).where(Invoice.contract == ledger.invoices.address))
            }
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
            chain["status"],
            chain["supplier"]["address"],
            chain["buyer"]["address"],
        ), invoice_id
        assert row.holder == (chain["holder"] or {}).get("address"), invoice_id
        assert row.seller == (chain["seller"] or {}).get("address"), invoice_id
        # A Split invoice owes nothing itself: its open amount lives in its parts.
        assert (row.amount, row.paid, row.outstanding) == (
            money(chain["amount"]),
            money(chain["paid"]),
            0 if row.status == "Split" else money(chain["outstanding"]),
        ), invoice_id
        assert (row.financier_due, row.financier_paid if row.seller else None) == (
            maybe(chain["financier_due"]),
            maybe(chain["financier_paid"]),
        ), invoice_id
        if row.seller is not None:
            reserve_open = row.outstanding - (row.financier_due - row.financier_paid)
            assert reserve_open == money(chain["reserve_open"]), invoice_id
        assert (row.number, row.number_normalised) == (chain["number"], chain["normalised_number"])
        assert row.due_date.isoformat() == chain["due"]
        lineage = ledger.lineage(invoice_id)
        assert (row.parent_id, row.root_id, row.depth) == (
            lineage["parent_id"],
            lineage["root_id"],
            lineage["depth"],
        ), invoice_id
        if row.parent_id is None:  # a part has no InvoiceIssued: it carries its root's document
            assert iso_time(row.issued_at) == chain["issued_at"]
            assert row.doc_hash == chain["document_hash"]
        else:
            assert row.doc_hash == rows[row.parent_id].doc_hash, invoice_id
        listing = ledger.listing(invoice_id)
        assert (row.offer_min_advance, row.offer_financier) == (
            (listing["min_advance"], listing["financier"]) if listing else (None, None)
        ), invoice_id
    for invoice_id, row in rows.items():  # every tree adds up: paid + parts (at split: before credit notes) = amount
        if row.status == "Split":
            parts = [r.amount + r.credited for r in rows.values() if r.parent_id == invoice_id]
            assert len(parts) >= 2 and row.paid + sum(parts) == row.amount, invoice_id
    return count


class Actions(Lifecycle):
    """Lifecycle steps on the chain (of ``support.lifecycle``) in the mixes the
    indexer tests need."""

    def __init__(self, ledger: Any, acct: Callable[[str], Any], url: str) -> None:
        super().__init__(ledger, acct)
        self.url = url
        self.n = 0

    def _mined(self, step: Callable[[], Any]) -> int:
        before = head(self.url)
        step()
        return head(self.url) - before

    def issue(self, amount: str = "1000.00") -> int:
        self.n += 1
        number = f"INV-{os.getpid()}-{time.monotonic_ns()}-{self.n}"
        before = self.ledger.invoices.functions.nextInvoiceId().call()
        self.issue_invoice(number, amount, DUE)
        return int(before)

    def lifecycle(self, invoice_id: int, stop_after: str = "paid") -> None:
        """confirm -> offer -> finance (due 950: a reserve of 50) -> repay part
        -> repay rest, releasing the reserve (stopping early if asked). Two
        other paths: "transferred" (listed, then sold to another supplier,
        which clears the listing) and "prepaid-financed" (partly paid, then
        financed, then paid, releasing the reserve)."""
        if stop_after == "transferred":
            self.confirm(invoice_id)
            self.offer(invoice_id, "financier", "1", 7)
            self.transfer(invoice_id, "supplier", "supplier2")
            return
        if stop_after == "prepaid-financed":
            self.confirm(invoice_id)
            self.repay(invoice_id, "100")
            self.offer(invoice_id, None, "700", 7)
            self.finance(invoice_id, advance="800", due="850")
            self.repay(invoice_id, "900")
            return
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("confirmed", lambda: self.confirm(invoice_id)),
            ("offered", lambda: self.offer(invoice_id, "financier", "1", 7)),
            ("financed", lambda: self.finance(invoice_id, advance="900", due="950")),
            ("part-paid", lambda: self.repay(invoice_id, "400")),
            ("paid", lambda: self.repay(invoice_id, "600")),
        ]
        for name, step in steps:
            step()
            if name == stop_after:
                return

    def split(self, invoice_id: int, parts: list[tuple[str, str, str | None]], holder: str = "supplier") -> list[int]:
        """Split ``invoice_id`` as ``holder`` into ``parts`` (account name of the
        part's holder, amount, payment reference or None); returns the parts' ids."""
        first = int(self.ledger.invoices.functions.nextInvoiceId().call())
        self.ledger.split(self.acct(holder), invoice_id, [(self.addr(who), amount, ref) for who, amount, ref in parts])
        return list(range(first, first + len(parts)))

    def pass_on(self, invoice_id: int, frm: str, to: str, ref: str | None) -> Any:
        """Transfer a receivable as payment (``transferWithReference``)."""
        return self.ledger.transfer_receivable(self.acct(frm), invoice_id, self.addr(to), ref)

    def tree(self) -> dict[str, int]:
        """A confirmed 1,000.00 invoice (listed, so the split clears the
        listing) split by the supplier into 333.33 (kept: ``a``), 333.33
        (``b``, to supplier2, ref PO-1) and 333.34 (``c``, to supplier2); ``a``
        split again into 200.00 (``d``, kept) and 133.33 (``e``, to supplier2,
        ref PO-2). Returns the ids by those names and ``root``."""
        root = self.issue()
        self.confirm(root)
        self.offer(root, "financier", "1", 7)
        a, b, c = self.split(
            root, [("supplier", "333.33", None), ("supplier2", "333.33", "PO-1"), ("supplier2", "333.34", None)]
        )
        d, e = self.split(a, [("supplier", "200.00", None), ("supplier2", "133.33", "PO-2")])
        return {"root": root, "a": a, "b": b, "c": c, "d": d, "e": e}

    def tree_business(self, ids: dict[str, int]) -> None:
        """On a :meth:`tree`: ``b`` financed by its holder supplier2 (advance
        300.00, due 320.00: a reserve of 13.33), ``e`` passed on to the
        supplier with a reference, 100.00 paid on ``c`` alone, then 500.00 paid
        across the open leaves (pro rata, rounded as the contract does)."""
        self.offer(ids["b"], "financier", "300", 7, holder="supplier2")
        self.finance(ids["b"], advance="300.00", due="320.00")
        self.pass_on(ids["e"], "supplier2", "supplier", "INV-T2-9")
        self.repay(ids["c"], "100.00")
        self.repay(ids["root"], "500.00")

    def rename(self) -> None:
        """Rename the auditor (ParticipantRenamed)."""
        self.n += 1
        self.ledger.update_participant(
            self.acct("operator"), self.acct("auditor").address, name=f"Central Audit Partners {os.getpid()}-{self.n}"
        )

    def blocks_of_activity(self, count: int) -> None:
        """At least `count` blocks of mixed lifecycle events."""
        start = head(self.url)
        stops = ["paid", "financed", "confirmed", "part-paid", "offered", "transferred", "prepaid-financed"]
        while head(self.url) - start < count:
            invoice_id = self.issue()
            self.lifecycle(invoice_id, stops[invoice_id % len(stops)])
            if invoice_id % 3 == 0:
                self.rename()


def reorg_txs(ledger: Any, acct: Callable[[str], Any], salt: str) -> list[list[Any]]:
    """Replacement transactions for ``anvil_reorg``: a different invoice (it
    takes over the id of the first invoice the reorg removed) and a
    settlement-token mint."""
    from eth_utils import keccak

    due = due_timestamp(DUE)  # the end of DUE in the business time zone
    currency = ledger.deployment.currency("HKD")
    issue = ledger.invoices.encode_abi(
        "issue",
        args=[acct("buyer2").address, f"REORG-{salt}", 777_00, currency.address, due, keccak(text=f"reorg-{salt}")],
    )
    token = ledger.token(currency)
    mint = token.encode_abi("mint", args=[acct("supplier2").address, 5_00])
    return [
        [{"from": acct("supplier").address, "to": ledger.invoices.address, "data": issue, "gas": hex(600_000)}, 0],
        [{"from": acct("operator").address, "to": token.address, "data": mint, "gas": hex(200_000)}, 0],
    ]


def issue_many(ledger: Any, acct: Callable[[str], Any], url: str, count: int, per_block: int = 50) -> None:
    """`count` invoices from pre-signed transactions sent in JSON-RPC batches
    (2 events each), `per_block` per mined block."""
    from eth_account import Account
    from eth_utils import keccak

    supplier = acct("supplier")
    buyer = acct("buyer").address
    currency = ledger.deployment.currency("HKD").address
    due = due_timestamp(DUE)  # the end of DUE in the business time zone
    nonce = int(rpc(url, "eth_getTransactionCount", [supplier.address, "pending"]), 16)
    salt = f"{os.getpid()}-{time.monotonic_ns()}"
    raw = []
    for i in range(count):
        data = ledger.invoices.encode_abi(
            "issue", args=[buyer, f"BULK-{salt}-{i}", 1_000 + i, currency, due, keccak(text=f"bulk-{salt}-{i}")]
        )
        tx = {
            "type": 2,
            "chainId": 31337,
            "nonce": nonce + i,
            "to": ledger.invoices.address,
            "value": 0,
            "data": data,
            "gas": 400_000,
            "maxFeePerGas": 10**9,
            "maxPriorityFeePerGas": 0,
        }
        raw.append("0x" + Account.sign_transaction(tx, supplier.key).raw_transaction.hex())
    rpc(url, "evm_setAutomine", [False])
    try:
        for start in range(0, count, per_block):
            body = [
                {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [r]}
                for i, r in enumerate(raw[start : start + per_block])
            ]
            request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as response:
                replies = json.loads(response.read())
            assert not [r for r in replies if "error" in r], replies[:2]
            rpc(url, "evm_mine")
    finally:
        rpc(url, "evm_setAutomine", [True])


class HttpRefusal(Exception):
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
                except HttpRefusal as refusal:
                    self.send_error(refusal.status)
                    return
                send_json(self, reply)

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
        if (
            self.lag
            and method == "eth_getBlockByNumber"
            and params[0] not in ("latest", "pending")
            and int(params[0], 16) > real_head - self.lag
        ):
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
                    raise HttpRefusal(int(self.refusal.split()[1]))
                return {**answer, "error": {"code": -32005, "message": self.refusal.format(n=self.max_logs)}}
            self.spans.append((span, False))
            self.served_max = max(self.served_max, len(result))
        return {**answer, "result": result}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(name="proxy")
def proxy_fixture(chain: Any) -> Iterator[RpcProxy]:
    p = RpcProxy(chain.rpc_url)
    yield p
    p.close()


@pytest.fixture(name="settings")
def settings_fixture(chain: Any, db_url: str) -> Iterator[Settings]:
    """The session chain's settings, indexing into this test's database."""
    from ledger.indexer import dispose_engines

    yield replace(chain.settings, db_url=db_url)
    dispose_engines()


@pytest.fixture(name="actions")
def actions_fixture(ledger: Any, acct: Any, chain: Any) -> Actions:
    return Actions(ledger, acct, chain.rpc_url)


def scf(*args: str, settings: Settings, rpc_url: str | None = None) -> list[str]:
    return [
        sys.executable,
        "-c",
        "from ledger.cli import main; main()",
        "--home",
        str(settings.home),
        "--rpc-url",
        rpc_url or settings.rpc_url,
        "--db-url",
        settings.database_url,
        *args,
    ]


def rewind_cursor(settings: Settings) -> None:
    """Move the cursor back to the block before the deployment, over every stored event."""
    from ledger.indexer import get_engine

    with get_engine(settings.database_url).begin() as conn:
        cursor = conn.execute(select(Cursor.__table__)).one()
        origin = cursor.start_block - 1
        origin_hash = rpc(settings.rpc_url, "eth_getBlockByNumber", [hex(origin), False])["hash"]
        conn.execute(update(Cursor.__table__).values(block_number=origin, block_hash=origin_hash))


def two_idle_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """Mode auto sees two idle cores, whatever the machine running the tests is doing."""
    from ledger.indexer import loop

    monkeypatch.setattr(loop.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(loop.os, "getloadavg", lambda: (0.0, 0.0, 0.0))


def count_starts(monkeypatch: pytest.MonkeyPatch, fetcher: type[Any], most: int | None = None) -> list[object]:
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


def read_scalar(url: str, statement: Any) -> Any:
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


def wait_for(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout:g}s"
        time.sleep(0.02)


def leftover_processes(marker: str, grace: float = 10.0) -> list[int]:
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


class Follower:
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
                follow(
                    settings,
                    poll_interval=0.05,
                    stop=self.stop,
                    on_error=lambda exc, _seconds: self.retries.append(str(exc)),
                    **options,
                )
            except BaseException as exc:  # noqa: BLE001 - asserted by the tests
                self.failures.append(exc)

        self.thread = threading.Thread(target=run, daemon=True)

    def __enter__(self) -> Follower:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join(60)

    def caught_up(self) -> bool:
        return cursor_block(self.settings.database_url) == head(self.chain_url)

    def wait(self, condition: Callable[[], bool]) -> None:
        """Until ``condition`` holds, or the follower has stopped (failed)."""
        wait_for(lambda: condition() or not self.thread.is_alive())


def cursor_block(url: str) -> int | None:
    return read_scalar(url, select(Cursor.block_number))  # type: ignore[no-any-return]


def event_row(block: int, log_index: int, **values: Any) -> dict[str, Any]:
    row = {
        "chain_id": 1,
        "contract": "0x" + "11" * 20,
        "block_number": block,
        "block_hash": f"0x{block:064x}",
        "block_time": dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC),
        "tx_hash": "0x" + "22" * 32,
        "tx_index": 0,
        "log_index": log_index,
        "event": "Transfer",
        "invoice_id": None,
        "account": None,
        "amount": None,
        "args": {"a": "1"},
        "args_json": None,
    }
    row.update(values)
    return row


# -- contracts version 4: when things go wrong ------------------------------------------------------
def remedies_driver(ledger: Any, acct: Callable[[str], Any]) -> Any:
    """A :class:`support.contracts.Net` with the version 4 transitions as raw
    contract calls (imported here lazily: ``support.contracts`` imports web3)."""
    from support.contracts import Net

    DAY = 86_400  # noqa: N806 - the constant of support.contracts

    class Remedies(Net):
        def reason(self, text: str) -> bytes:
            from eth_utils import keccak

            return bytes(keccak(text=text))

        def dispute(self, invoice_id: int, reason: str = "goods damaged", buyer: str = "buyer") -> Any:
            return self.send(self.invoices.functions.dispute(invoice_id, self.reason(reason)), buyer)

        def withdraw_dispute(self, invoice_id: int, buyer: str = "buyer") -> Any:
            return self.send(self.invoices.functions.withdrawDispute(invoice_id), buyer)

        def credit_note(self, invoice_id: int, credit: int, who: str = "supplier", note: str = "CN-1") -> Any:
            self.approve_hkd(who, 10**15)
            return self.send(self.invoices.functions.issueCreditNote(invoice_id, credit, self.reason(note)), who)

        def propose(self, invoice_id: int, new_due: int, buyer: str = "buyer") -> Any:
            return self.send(self.invoices.functions.proposeExtension(invoice_id, new_due), buyer)

        def accept(self, invoice_id: int, new_due: int, holder: str) -> Any:
            return self.send(self.invoices.functions.acceptExtension(invoice_id, new_due), holder)

        def default(self, invoice_id: int, holder: str) -> Any:
            return self.send(self.invoices.functions.declareDefault(invoice_id), holder)

        def write_off(self, invoice_id: int, holder: str) -> Any:
            return self.send(self.invoices.functions.writeOff(invoice_id), holder)

        def buy_back(self, invoice_id: int, who: str, seller: str = "supplier") -> Any:
            self.approve_hkd(seller, 10**15)
            return self.send(self.invoices.functions.buyBack(invoice_id), who)

        def pay(self, invoice_id: int, units: int, buyer: str = "buyer") -> Any:
            self.approve_hkd(buyer, units)
            return self.send(self.invoices.functions.repay(invoice_id, units), buyer)

        def set_grace(self, seconds: int) -> Any:
            return self.send(self.invoices.functions.setGracePeriod(seconds), "operator")

        def finance_raw(
            self, invoice_id: int, advance: int, due: int, recourse: bool, grace: int, financier: str = "financier"
        ) -> Any:
            self.send(self.offer_fn(invoice_id, financier, 1, recourse=recourse), "supplier")
            self.approve_hkd(financier, advance)
            return self.send(self.finance_fn(invoice_id, advance, due=due, recourse=recourse, grace=grace), financier)

        def due_ts(self, invoice_id: int) -> int:
            return int(self.invoice(invoice_id)["dueDate"])

        def remedies_ledger(self, tag: str = "") -> dict[str, int]:
            """Every version 4 transition, on invoices (HKD, due in 30 days) named by letter:

            * ``a`` 1,000.00 unfinanced: disputed, withdrawn, disputed again, 200.00 credit note
              by its holder (Confirmed, amount 800.00);
            * ``b`` 1,000.00 financed without recourse (advance 900.00, due 950.00, grace 7 days),
              100.00 paid, disputed, 300.00 credit note by the seller, which pays the financier
              250.00; after the due date: defaulted (claim 600.00), written off, 150.00 recovered;
            * ``c`` 1,000.00 financed with recourse (advance 800.00, due 900.00, grace 3 days: the
              deployment's by then, the least a financing with recourse may agree), due
              date extended by 5 days, a second proposal left open; defaulted (claim 900.00),
              bought back on the financier's demand (900.00), 400.00 recovered by the seller;
            * ``d`` 500.00 unfinanced: defaulted by the supplier, then paid in full (Paid);
            * ``e`` 300.00: 100.00 paid, then a 200.00 credit note closes it (Paid);
              ``f`` 200.00: a 200.00 credit note closes it (Cancelled);
            * ``g`` 1,000.00 confirmed after the travel: an extension proposed, then disputed;
            * ``t`` 1,000.00 split into ``t1`` 600.00 (kept) and ``t2`` 400.00 (to supplier2);
              ``t1`` then credited 100.00.

            Before ``c`` is financed the operator sets the deployment's grace to 3 days; then
            the chain travels 40 days. Returns the ids by letter and the blocks
            ``before_grace_change``, ``before_default`` (the last block before b's default) and
            ``after_default``."""
            ids: dict[str, int] = {}
            for letter, amount in (("a", "1000.00"), ("b", "1000.00"), ("c", "1000.00"), ("d", "500.00")):
                ids[letter] = self.confirmed(number=f"REM{tag}-{letter}", amount=amount)
            a, b, c, d = ids["a"], ids["b"], ids["c"], ids["d"]
            self.dispute(a)
            self.withdraw_dispute(a)
            self.dispute(a, "wrong quantity")
            self.credit_note(a, 20_000)
            self.finance_raw(b, 90_000, 95_000, recourse=False, grace=7 * DAY)
            self.pay(b, 10_000)
            self.dispute(b)
            self.credit_note(b, 30_000, note="CN-B")
            ids["before_grace_change"] = int(self.ledger.w3.eth.block_number)
            self.set_grace(3 * DAY)
            self.finance_raw(c, 80_000, 90_000, recourse=True, grace=3 * DAY)
            old_due = self.due_ts(c)
            self.propose(c, old_due + 5 * DAY)
            self.accept(c, old_due + 5 * DAY, "financier")
            self.propose(c, old_due + 9 * DAY)
            ids["t"] = self.confirmed(number=f"REM{tag}-t")
            ids["t1"], ids["t2"] = self.split(ids["t"], [("supplier", 60_000), ("supplier2", 40_000)])
            self.credit_note(ids["t1"], 10_000, note="CN-T1")
            self.travel(40 * DAY)
            ids["before_default"] = int(self.ledger.w3.eth.block_number)
            self.default(b, "financier")
            ids["after_default"] = int(self.ledger.w3.eth.block_number)
            self.write_off(b, "financier")
            self.pay(b, 15_000)
            self.default(c, "financier")
            self.buy_back(c, "financier")
            self.pay(c, 40_000)
            self.default(d, "supplier")
            self.pay(d, 50_000)
            ids["e"] = self.confirmed(number=f"REM{tag}-e", amount="300.00")
            ids["f"] = self.confirmed(number=f"REM{tag}-f", amount="200.00")
            self.pay(ids["e"], 10_000)
            self.credit_note(ids["e"], 20_000, note="CN-E")
            self.credit_note(ids["f"], 20_000, note="CN-F")
            ids["g"] = self.confirmed(number=f"REM{tag}-g")
            self.propose(ids["g"], self.due_ts(ids["g"]) + 10 * DAY)
            self.dispute(ids["g"])
            return ids

    return Remedies(ledger, acct)
