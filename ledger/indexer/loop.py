"""The indexer: mirror every log of a deployment's contracts into the
database, exactly once, through crashes and reorgs.

One sync run, for the contracts of one deployment record:

1. Check the chain still has the block the cursor points at (its hash); if
   not, roll back to the newest block it still has (:mod:`.reorg`, which
   also tells a lagging node, and a rewind, from a reorg).
2. Backfill in block ranges (:mod:`.planner` sizes them and learns the
   node's limits): a fetch thread asks ``eth_getLogs`` for the next range
   while the main thread writes the previous one; for a big backlog, a fetch
   process instead (:mod:`.fetchers`). Each range is checked to be one chain.
3. Write each range in ONE transaction, cursor included (:mod:`.writer`): a
   crash at any moment leaves the database as of the end of some range.

The backfill and following the head (``follow``) are the same cursor-driven
loop, so the hand-off between them can neither repeat nor skip a block.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from ledger.config import DEV_CHAIN_ID
from ledger.db.models import CURSORS, EVENTS
from ledger.db.scope import Scope, load_cursor
from ledger.deployment import Deployment
from ledger.errors import ChainError
from ledger.evm.abi import LogDecoder, checksum
from ledger.evm.rpc import RpcClient
from ledger.indexer.batch import Batch, Restart, UseThread
from ledger.indexer.bulk import dialect_insert
from ledger.indexer.fetchers import Fetcher, ProcessFetcher, ThreadFetcher
from ledger.indexer.mappers import INVOICES, REGISTRY, TOKEN, build_targets, logs_to_rows
from ledger.indexer.planner import INITIAL_SPAN, MAX_SPAN, TARGET_LOGS, Learned, RangePlanner
from ledger.indexer.reorg import REORG_WINDOW, Reorgs
from ledger.indexer.writer import Checkpointer, Writer

#: Confirmations waited for on chains other than the local dev chain.
DEFAULT_CONFIRMATIONS = 6
#: Mode "auto": a backlog of this many spans of blocks (at the span the run
#: starts with) goes to a fetch process from the start.
PROCESS_MIN_RANGES = 16

#: Allocations between collections of the youngest generation while syncing
#: (Python's default is 700).
GC_THRESHOLD = 100_000

ProgressCallback = Callable[["SyncStats"], None]


def default_confirmations(chain_id: int) -> int:
    """0 on the local dev chain (instant, reorgs only on purpose), else a few blocks."""
    return 0 if chain_id == DEV_CHAIN_ID else DEFAULT_CONFIRMATIONS


def contract_kind(name: str) -> str | None:
    if name == "InvoiceToken":
        return INVOICES
    if name == "ParticipantRegistry":
        return REGISTRY
    if name.startswith("SettlementToken"):
        return TOKEN
    return None


def contract_set_key(addresses: Sequence[str]) -> str:
    joined = ",".join(sorted(a.lower() for a in addresses))
    return hashlib.sha256(joined.encode()).hexdigest()[:32]


@dataclass
class SyncStats:
    """What one sync run did."""

    chain_id: int
    start_block: int | None = None  # first block this run indexed
    block: int | None = None  # the cursor at the end: last block indexed
    target: int | None = None  # the block this run aimed for
    head: int | None = None  # the chain head seen
    events: int = 0
    blocks: int = 0
    batches: int = 0
    reorgs: int = 0
    reorged_blocks: int = 0
    lagging: bool = False  # the node's head is below the cursor (not a reorg)
    rewound_blocks: int = 0  # blocks rolled back because the head was below the cursor (rewind)
    fetch_process: bool = False  # ranges were fetched and decoded by a child process
    seconds: float = 0.0

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "chain_id": self.chain_id,
            "from_block": self.start_block,
            "to_block": self.block,
            "target": self.target,
            "head": self.head,
            "events": self.events,
            "blocks": self.blocks,
            "batches": self.batches,
            "reorgs": self.reorgs,
            "reorged_blocks": self.reorged_blocks,
            "lagging": self.lagging,
            "rewound_blocks": self.rewound_blocks,
            "fetch_process": self.fetch_process,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
        }


class Indexer:
    """Indexes the contracts of ``deployment`` into ``engine`` from ``rpc_url``."""

    def __init__(
        self,
        engine: Engine,
        rpc_url: str,
        deployment: Deployment,
        confirmations: int | None = None,
        *,
        reorg_window: int = REORG_WINDOW,
        target_logs: int = TARGET_LOGS,
        initial_span: int = INITIAL_SPAN,
        max_span: int = MAX_SPAN,
        rpc_timeout: float = 60.0,
        progress: ProgressCallback | None = None,
        workers: str = "auto",
    ) -> None:
        if confirmations is not None and confirmations < 0:
            raise ChainError(f"invalid confirmations {confirmations}: must be 0 or more")
        if workers not in ("auto", "thread", "process"):
            raise ValueError(f"workers must be auto, thread or process, not {workers!r}")
        self.engine = engine
        self.rpc_url = rpc_url
        self.rpc_timeout = rpc_timeout
        self.rpc = RpcClient(rpc_url, rpc_timeout)
        self.deployment = deployment
        self.chain_id = deployment.chain_id
        self.confirmations = default_confirmations(self.chain_id) if confirmations is None else confirmations
        self.reorg_window = reorg_window
        self.planner = RangePlanner(target_logs, initial_span, max_span)
        self.progress = progress
        #: Where ranges are fetched and decoded while batches are written:
        #: a thread, a forked child process (two cores for big backfills), or
        #: "auto" (a process for a backlog of many blocks; else a thread,
        #: switching to a process once a range shows the backlog is big).
        self.workers = workers if hasattr(os, "fork") else "thread"
        self.contracts = {name: checksum(c.address) for name, c in deployment.contracts.items()}
        self.addresses = sorted(self.contracts.values())
        self.kinds = {address.lower(): contract_kind(name) for name, address in self.contracts.items()}
        self.decoder = LogDecoder((c.address, c.abi) for c in deployment.contracts.values())
        self.targets = build_targets(self.decoder, self.kinds)
        self.key = contract_set_key(self.addresses)
        invoice = checksum(deployment.contract("InvoiceToken").address)
        registry = checksum(deployment.contract("ParticipantRegistry").address)
        self.scope = Scope(self.chain_id, invoice, registry)
        self.start_block = deployment.start_block
        self.reorgs = Reorgs(engine, self.rpc, self.chain_id, self.start_block)
        self.writer = Writer(engine, self.chain_id, self.key, self.scope, reorg_window)

    # -- cursor ----------------------------------------------------------------------------
    def cursor(self) -> dict[str, Any]:
        """This deployment's cursor, created at the block before the deployment."""
        with self.engine.connect() as conn:
            row = load_cursor(conn, self.chain_id, self.key)
        if row is not None:
            return row
        origin = max(self.start_block - 1, 0)
        header = self.rpc.headers([origin])[origin]
        if header is None:
            raise ChainError(
                f"the node has no block {origin} (the deployment record says the contracts were deployed at "
                f"block {self.start_block}); check --rpc-url points at the chain of the deployment"
            )
        with self.engine.begin() as conn:
            stmt = dialect_insert(conn.dialect.name, CURSORS)
            values = {
                "chain_id": self.chain_id,
                "key": self.key,
                "contracts": self.contracts,
                "invoice_contract": self.scope.invoice_contract,
                "registry_contract": self.scope.registry_contract,
                "start_block": self.start_block,
                "block_number": origin,
                "block_hash": header.hash,
                "head_number": None,
                "updated_at": None,
            }
            if hasattr(stmt, "on_conflict_do_nothing"):
                stmt = stmt.on_conflict_do_nothing(index_elements=["chain_id", "key"])
            conn.execute(stmt, values)
            row = load_cursor(conn, self.chain_id, self.key)
        assert row is not None
        return row

    # -- reorgs (see ledger.indexer.reorg) -------------------------------------------------
    def check_chain(self, cursor: dict[str, Any], head: int, rewind: bool = False) -> str:
        """ "ok", "lagging", "reorg" or "rewound": see :meth:`Reorgs.check_chain`."""
        return self.reorgs.check_chain(cursor, head, rewind)

    def rollback(self, number: int, block_hash: str) -> int:
        """Forget everything above block ``number``: see :meth:`Reorgs.rollback`."""
        return self.reorgs.rollback(number, block_hash)

    # -- ranges ----------------------------------------------------------------------------
    def rows_of(self, batch: Batch) -> Batch:
        """Decode and map the batch's logs into ``events`` rows (once)."""
        if batch.rows is None:
            batch.rows = logs_to_rows(batch.logs or [], self.targets, self.chain_id, batch.timestamps)
            batch.logs = None
        return batch

    @property
    def learned(self) -> Learned:
        """What fetching learnt of the node's limits (see :mod:`.planner`), to
        carry from the fetch process back to the writer's indexer."""
        return self.planner.learned

    @learned.setter
    def learned(self, state: Learned) -> None:
        self.planner.learned = state

    def await_confirmed(self, block: int, timeout: float, poll: float = 0.5) -> None:
        """Wait until ``block`` has :attr:`confirmations` blocks on top of it
        (at once with none, and on the dev chain, whose automine never adds
        a block by itself), polling the head; ChainError if it has not within
        ``timeout`` seconds plus 5 s per confirmation."""
        if self.confirmations == 0 or self.chain_id == DEV_CHAIN_ID:
            return
        deadline = time.monotonic() + timeout + 5.0 * self.confirmations
        while (head := self.rpc.block_number()) < block + self.confirmations:
            if time.monotonic() >= deadline:
                raise ChainError(
                    f"block {block} has {max(0, head - block)} of the {self.confirmations} confirmations the "
                    "indexer waits for; run `scf index sync` once the chain has moved on"
                )
            time.sleep(poll)

    # -- the run -------------------------------------------------------------------------------
    def sync(self, to_block: int | None = None, stop: threading.Event | None = None, rewind: bool = False) -> SyncStats:
        """Catch up to the head (less the confirmations), or ``to_block``, and
        return. ``rewind``: a head below the cursor is a chain that lost
        blocks, not a lagging node (see :mod:`.reorg`)."""
        with rare_collections():
            return self._sync(to_block, stop, rewind)

    def _sync(self, to_block: int | None, stop: threading.Event | None, rewind: bool = False) -> SyncStats:
        began = time.perf_counter()
        stats = SyncStats(self.chain_id)
        cursor = self.cursor()
        stop = stop or threading.Event()
        restarts = 0
        use_process = self.workers == "process"
        # A range a fetch process prepared that overlaps stored events is
        # redone by the writer in a thread (see UseThread); mode auto then
        # starts or switches to a fetch process only past the last block with
        # stored events, not once per range over them.
        process_after = -1
        while not stop.is_set():
            head = self.rpc.block_number()
            stats.head = head
            target = head - self.confirmations if to_block is None else min(to_block, head - self.confirmations)
            stats.target = target
            state = self.check_chain(cursor, head, rewind)
            if state in ("reorg", "rewound"):
                cursor = self._rolled_back(cursor, state, stats)
                continue
            if state == "lagging":
                stats.lagging = True
                break
            if int(cursor["block_number"]) >= target:
                break
            try:
                use_process = self._run(cursor, target, head, stats, stop, use_process, process_after)
            except UseThread:
                use_process = False
                process_after = self._last_stored_block()
            except Restart:
                restarts += 1
                if restarts > 100:
                    raise ChainError("the chain keeps changing under the indexer; try again later") from None
            cursor = self.cursor()
            if int(cursor["block_number"]) >= target:
                break
        stats.block = int(cursor["block_number"])
        stats.seconds = time.perf_counter() - began
        return stats

    def _rolled_back(self, cursor: dict[str, Any], state: str, stats: SyncStats) -> dict[str, Any]:
        """The cursor after a reorg or a rewind, counted in ``stats``."""
        before = int(cursor["block_number"])
        cursor = self.cursor()
        if state == "rewound":
            stats.rewound_blocks += max(0, before - int(cursor["block_number"]))
        else:
            stats.reorgs += 1
            stats.reorged_blocks += max(0, before - int(cursor["block_number"]))
        return cursor

    def _run(
        self,
        cursor: dict[str, Any],
        target: int,
        head: int,
        stats: SyncStats,
        stop: threading.Event,
        use_process: bool,
        process_after: int = -1,
    ) -> bool:
        """Index from the cursor to ``target``. Returns whether the fetching
        went to a child process (mode "auto" starts a run of many blocks in
        one; any other in a thread, switching as soon as a range shows the
        backlog is big), so that a restart keeps it there."""
        prev = (int(cursor["block_number"]), str(cursor["block_hash"]))
        auto = self.workers == "auto"
        if not use_process and auto and prev[0] >= process_after and self._long_backlog(prev[0], target):
            use_process = True
        fetcher: Fetcher = (
            ProcessFetcher(self, prev, target, head) if use_process else ThreadFetcher(self, prev, target, head)
        )
        checkpointer: Checkpointer | None = None
        try:
            if use_process:
                checkpointer = Checkpointer.start(self.engine)
            while True:
                batch = fetcher.get()
                stats.fetch_process = stats.fetch_process or use_process
                if batch is None:
                    return use_process
                if not use_process and auto and batch.to_block >= process_after and self._big_backlog(batch, target):
                    # The rest goes to a fetch process, started before this
                    # range is written so that it fetches the next one meanwhile
                    # (the thread's range in flight is dropped).
                    fetcher.close()
                    use_process = True
                    fetcher = ProcessFetcher(self, (batch.to_block, batch.end.hash), target, head)
                    checkpointer = Checkpointer.start(self.engine)
                # In the thread mode the fetch thread only waits on the node and
                # parses JSON (C code); decoding here keeps the two threads from
                # fighting over the GIL on every row SQLite writes.
                stored = self.writer.write(self.rows_of(batch), prev, head)
                if checkpointer is not None:
                    checkpointer.nudge()
                prev = (batch.to_block, batch.end.hash)
                self._count(stats, batch, stored)
                if stop.is_set():
                    return use_process
        finally:
            try:
                fetcher.close()
            finally:
                if checkpointer is not None:
                    checkpointer.close()

    def _count(self, stats: SyncStats, batch: Batch, stored: int) -> None:
        """Add a written range to ``stats`` and tell the progress callback."""
        if stats.start_block is None:
            stats.start_block = batch.from_block
        stats.events += stored
        stats.blocks += batch.to_block - batch.from_block + 1
        stats.batches += 1
        stats.block = batch.to_block
        if self.progress is not None:
            self.progress(stats)

    def _last_stored_block(self) -> int:
        """The highest block with stored events on this chain (-1: none)."""
        e = EVENTS
        with self.engine.connect() as conn:
            last = conn.execute(select(func.max(e.c.block_number)).where(e.c.chain_id == self.chain_id)).scalar()
        return -1 if last is None else int(last)

    def _long_backlog(self, indexed: int, target: int) -> bool:
        """Whether a run from block ``indexed`` to ``target`` is a backfill
        worth a fetch process from its start: PROCESS_MIN_RANGES initial
        spans of blocks or more, and a core to spare. Starting in a thread and
        switching costs the thread's range in flight and the first range's
        decoding on the writer (a third of a second of a 100,000-event sync)."""
        return target - indexed >= PROCESS_MIN_RANGES * self.planner.span and self._spare_core()

    def _big_backlog(self, batch: Batch, target: int) -> bool:
        """Whether the rest looks like a backfill worth a fetch process: full
        ranges, several more of them to go, and a core to spare."""
        logs = len(batch.rows) if batch.rows is not None else len(batch.logs or [])
        if logs < self.planner.target_logs // 2 or target - batch.to_block <= 2 * self.planner.span:
            return False
        return self._spare_core()

    @staticmethod
    def _spare_core() -> bool:
        """More than one core, not already saturated (then a fetch process's
        pickling costs more than it gives)."""
        cores = os.cpu_count() or 1
        return cores > 1 and os.getloadavg()[0] < cores

    def close(self) -> None:
        self.rpc.close()


@contextlib.contextmanager
def rare_collections() -> Iterator[None]:
    """Run the cyclic garbage collector rarely. A sync allocates millions of
    short-lived, acyclic objects (parsed JSON, rows, parameter tuples); at the
    default thresholds the collector runs every 700 allocations and its older
    generations rescan every live range: parsing, decoding and folding the
    benchmark's 100,000 events took 2.8 s instead of 1.9 s. Reference
    counting frees all of it anyway."""
    before = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD, *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
