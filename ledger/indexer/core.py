"""The indexer: mirror every log of a deployment's contracts into the
database, exactly once, through crashes and reorgs.

One sync run, for the contracts of one deployment record:

1. Check the chain still has the block the cursor points at (its hash). If
   not, walk back over the stored hashes (recent blocks, event blocks) to
   the newest block the chain still has, delete everything above it,
   replay the projections it touched, and continue from there. A node whose
   head is merely lower, with the hashes it has still matching, is lagging,
   not reorganised: wait for it. Unless told to rewind (``scf index sync
   --rewind``): a chain that lost blocks (an Anvil restarted from an older
   state, a private chain reset to a backup) also has a lower head and
   matching hashes below it, and only the user knows which it is; a rewind
   rolls back everything above the newest stored block the chain still has
   (at most its head), as for a reorg, then syncs.
2. Backfill in block ranges: a fetch thread asks ``eth_getLogs`` for the
   next range while the main thread writes the previous one (for a big
   backlog, a fetch process instead: its thread waits on the node while it
   decodes and folds, and the writer only inserts). Ranges aim at
   ``TARGET_LOGS`` logs, moving at most 4x per range; they halve when the
   node refuses (too many results, range too wide, timeouts). What a refusal
   says is learnt: a stated result cap lowers the aim to half that cap; a
   stated block limit caps the span; an unstated block limit makes later
   ranges probe halfway below the smallest refused span (forgotten after
   ``PROBE_AGAIN_AFTER`` ranges without a refusal). A fetch process hands
   what it learnt back to the writer with each message, for the next run.
   Each range is checked to be one chain: the
   range's last block has the same hash before and after its logs were
   fetched, and the previous range's last block is unchanged.
3. Each range is written in ONE transaction: its events (bulk Core INSERT,
   idempotent on (chain_id, block_hash, log_index): the unique key also
   leads with block_number, so it grows in chain order), the headers of blocks
   still within the reorg window, the projections, and the cursor. A crash
   at any moment leaves the database as of the end of some range. With a
   fetch process on SQLite, a thread checkpoints the WAL after each commit,
   and once more before the sync returns.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, update

from ledger.config import DEV_CHAIN_ID
from ledger.db.models import BLOCKS, CURSORS, EVENTS
from ledger.deployment import Deployment
from ledger.errors import ChainError, DatabaseError, NodeUnavailable
from ledger.evm.abi import LogDecoder, checksum
from ledger.evm.rpc import Header, RpcClient, RpcError, is_range_refusal, refusal_limit, suggested_range
from ledger.indexer import projections
from ledger.indexer.bulk import BulkInsert, dialect_insert
from ledger.indexer.mappers import (
    INVOICES,
    REGISTRY,
    TOKEN,
    build_targets,
    log_timestamp,
    logs_to_rows,
    utc_from_timestamp,
)

#: Blocks below the head whose hashes are kept for reorg detection.
REORG_WINDOW = 128
#: Confirmations waited for on chains other than the local dev chain.
DEFAULT_CONFIRMATIONS = 6
#: Logs one eth_getLogs answer should carry; ranges adapt towards it. Half
#: the common provider cap of 10,000 results, so a denser stretch of blocks
#: is rarely refused; and a smaller first and last range shortens the time
#: the writer and the fetch process wait for each other.
TARGET_LOGS = 5_000
INITIAL_SPAN = 25
MAX_SPAN = 1_000_000
#: Ranges after which a block limit the node did not state is probed again.
PROBE_AGAIN_AFTER = 100
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
            "chain_id": self.chain_id, "from_block": self.start_block, "to_block": self.block,
            "target": self.target, "head": self.head, "events": self.events, "blocks": self.blocks,
            "batches": self.batches, "reorgs": self.reorgs, "reorged_blocks": self.reorged_blocks,
            "lagging": self.lagging, "rewound_blocks": self.rewound_blocks, "fetch_process": self.fetch_process,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second, 1),
        }


@dataclass
class _Batch:
    """One checked block range: its raw logs until mapped, then its rows."""

    from_block: int
    to_block: int
    end: Header
    headers: list[Header] = field(default_factory=list)
    logs: list[dict[str, Any]] | None = None
    timestamps: dict[int, int] = field(default_factory=dict)
    rows: list[dict[str, Any]] | None = None
    #: The rows as ``events`` INSERT parameters, when the fetch process made them
    #: (``rows`` then keeps only the events the writer still has to fold).
    params: list[tuple[Any, ...]] | None = None
    #: Invoices minted in this range, folded by the fetch process.
    new_invoices: projections.NewInvoices | None = None


class _UseThread(Exception):
    """A range prepared by the fetch process overlaps stored events: redo it
    with the writer doing all the work (only after a cursor was moved back)."""


class _Restart(Exception):
    """The chain changed under a fetch: check for a reorg and start again."""


_DONE = object()
_EVENT_COLUMNS = tuple(c.name for c in EVENTS.columns if c.name != "id")
_EVENTS_INSERT = BulkInsert(
    EVENTS, _EVENT_COLUMNS, "ignore", ("chain_id", "block_number", "block_hash", "log_index"), {"args": "args_json"}
)
_BLOCKS_UPSERT = BulkInsert(
    BLOCKS, tuple(c.name for c in BLOCKS.columns), "update", ("chain_id", "number")
)


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
        self.engine = engine
        self.rpc_url = rpc_url
        self.rpc_timeout = rpc_timeout
        self.rpc = RpcClient(rpc_url, rpc_timeout)
        self.deployment = deployment
        self.chain_id = deployment.chain_id
        self.confirmations = default_confirmations(self.chain_id) if confirmations is None else confirmations
        self.reorg_window = reorg_window
        self.target_logs = target_logs
        self.span = initial_span
        self.max_span = max_span
        #: The smallest span a node limiting the blocks per query refused
        #: without saying its limit: later ranges probe below it, until
        #: PROBE_AGAIN_AFTER ranges later (the refusal may have been a
        #: passing one).
        self.refused_span: int | None = None
        self._ranges_since_refusal = 0
        self.progress = progress
        if workers not in ("auto", "thread", "process"):
            raise ValueError(f"workers must be auto, thread or process, not {workers!r}")
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
        try:
            invoice = self.contracts["InvoiceToken"]
            registry = self.contracts["ParticipantRegistry"]
        except KeyError as exc:
            raise DatabaseError(
                f"the deployment record lacks {exc.args[0]}; redeploy with `scf deploy --force`"
            ) from None
        self.scope = projections.Scope(self.chain_id, invoice, registry)
        self.start_block = deployment.start_block

    # -- cursor ----------------------------------------------------------------------------
    def _load_cursor(self, conn: Connection) -> dict[str, Any] | None:
        t = CURSORS
        row = conn.execute(select(t).where(t.c.chain_id == self.chain_id, t.c.key == self.key)).mappings().first()
        return None if row is None else dict(row)

    def cursor(self) -> dict[str, Any]:
        """This deployment's cursor, created at the block before the deployment."""
        with self.engine.connect() as conn:
            row = self._load_cursor(conn)
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
                "chain_id": self.chain_id, "key": self.key, "contracts": self.contracts,
                "invoice_contract": self.scope.invoice_contract, "registry_contract": self.scope.registry_contract,
                "start_block": self.start_block, "block_number": origin, "block_hash": header.hash,
                "head_number": None, "updated_at": None,
            }
            if hasattr(stmt, "on_conflict_do_nothing"):
                stmt = stmt.on_conflict_do_nothing(index_elements=["chain_id", "key"])
            conn.execute(stmt, values)
            row = self._load_cursor(conn)
        assert row is not None
        return row

    # -- reorgs ----------------------------------------------------------------------------
    def _stored_below(self, conn: Connection, number: int, limit: int | None) -> list[tuple[int, str]]:
        """Stored (number, hash) pairs below ``number``, newest first."""
        b, e = BLOCKS, EVENTS
        q1 = select(b.c.number, b.c.hash).where(b.c.chain_id == self.chain_id, b.c.number < number)
        q2 = (
            select(e.c.block_number, e.c.block_hash)
            .where(e.c.chain_id == self.chain_id, e.c.block_number < number)
            .group_by(e.c.block_number, e.c.block_hash)
        )
        if limit is not None:
            q1 = q1.order_by(b.c.number.desc()).limit(limit)
            q2 = q2.order_by(e.c.block_number.desc()).limit(limit)
        pairs = {(int(n), str(h)) for n, h in conn.execute(q1)} | {(int(n), str(h)) for n, h in conn.execute(q2)}
        ordered = sorted(pairs, reverse=True)
        return ordered[:limit] if limit is not None else ordered

    def _matches(self, pairs: Sequence[tuple[int, str]]) -> list[bool]:
        headers = self.rpc.headers([n for n, _ in pairs])
        return [headers.get(n) is not None and headers[n].hash == h for n, h in pairs]  # type: ignore[union-attr]

    def _fork_base(self, below: int) -> tuple[int, str] | None:
        """The newest stored block below ``below`` that the chain still has."""
        with self.engine.connect() as conn:
            recent = self._stored_below(conn, below, 32)
        if not recent:
            return None
        flags = self._matches(recent)
        if any(flags):
            return recent[flags.index(True)]
        with self.engine.connect() as conn:
            pairs = self._stored_below(conn, recent[-1][0], None)
        # Matching is monotone along one chain (a block that matches has
        # matching ancestors): binary search for the newest match.
        lo, hi, best = 0, len(pairs) - 1, None
        while lo <= hi:
            mid = (lo + hi) // 2
            if self._matches([pairs[mid]])[0]:
                best, hi = pairs[mid], mid - 1
            else:
                lo = mid + 1
        return best

    def check_chain(self, cursor: dict[str, Any], head: int, rewind: bool = False) -> str:
        """"ok", "lagging" (head below the cursor, hashes match), "reorg"
        (rolled back to the fork point; reload the cursor) or, with
        ``rewind`` and the head below the cursor, "rewound" (rolled back to
        the newest stored block at or below the head that the chain still
        has; reload the cursor)."""
        number = int(cursor["block_number"])
        if rewind and head < number:
            self._roll_back_to_base(head + 1)
            return "rewound"
        probe = min(head, number)
        with self.engine.connect() as conn:
            if probe == number:
                newest = [(number, str(cursor["block_hash"]))]
            else:
                newest = self._stored_below(conn, probe + 1, 1)
        stored = newest[0] if newest else None
        if stored is None:
            return "lagging" if head < number else "ok"
        header = self.rpc.headers([stored[0]])[stored[0]]
        if header is None:
            return "lagging"  # the node went lower still; look again later
        if header.hash == stored[1]:
            return "lagging" if head < number else "ok"
        return "reorg" if self._roll_back_to_base(stored[0]) else "lagging"

    def _roll_back_to_base(self, below: int) -> bool:
        """Roll back to the newest stored block below ``below`` that the
        chain still has (else to the block before the deployment). False if
        the node has not even that block (it went lower still: look again
        later)."""
        base = self._fork_base(below)
        if base is None:
            origin = max(self.start_block - 1, 0)
            origin_header = self.rpc.headers([origin])[origin]
            if origin_header is None:
                return False
            base = (origin, origin_header.hash)
        self.rollback(base[0], base[1])
        return True

    def rollback(self, number: int, block_hash: str) -> int:
        """Forget everything above block ``number`` on this chain (its hash on
        the chain now is ``block_hash``) and replay the projections it touched.
        Returns how many events were deleted."""
        e = EVENTS
        with self.engine.begin() as conn:
            cursors = [dict(r) for r in conn.execute(
                select(CURSORS).where(CURSORS.c.chain_id == self.chain_id)
            ).mappings()]
            touched: list[tuple[projections.Scope, list[int], list[str]]] = []
            for cur in cursors:
                scope = projections.Scope.of_cursor(cur)
                ids = [int(r[0]) for r in conn.execute(
                    select(e.c.invoice_id).distinct().where(
                        e.c.chain_id == self.chain_id, e.c.contract == scope.invoice_contract,
                        e.c.block_number > number, e.c.invoice_id.is_not(None),
                    )
                )]
                accounts = [str(r[0]) for r in conn.execute(
                    select(e.c.account).distinct().where(
                        e.c.chain_id == self.chain_id, e.c.contract == scope.registry_contract,
                        e.c.block_number > number, e.c.account.is_not(None),
                    )
                )]
                touched.append((scope, ids, accounts))
            deleted = conn.execute(
                delete(e).where(e.c.chain_id == self.chain_id, e.c.block_number > number)
            ).rowcount or 0
            b = BLOCKS
            conn.execute(delete(b).where(b.c.chain_id == self.chain_id, b.c.number > number))
            c = CURSORS
            conn.execute(
                update(c).where(c.c.chain_id == self.chain_id, c.c.block_number > number)
                .values(block_number=number, block_hash=block_hash)
            )
            for scope, ids, accounts in touched:
                if len(ids) + len(accounts) > 5000:
                    projections.rebuild_projections(conn, scope)
                elif ids or accounts:
                    projections.rebuild_projections(conn, scope, ids, accounts)
        return int(deleted)

    # -- fetching ----------------------------------------------------------------------------
    def _fetch(
        self, rpc: RpcClient, prev: tuple[int, str], target: int, head: int, stop: threading.Event,
        map_rows: bool = False,
    ) -> Iterator[_Batch]:
        """Ranges from ``prev`` up to ``target``, each checked to be one chain;
        with ``map_rows`` their logs already turned into rows (see :meth:`rows_of`)."""
        prev_number, prev_hash = prev
        span = self.span
        window_floor = head - self.reorg_window
        while prev_number < target and not stop.is_set():
            start = prev_number + 1
            end = min(target, prev_number + span)
            end_before = rpc.headers([end])[end]
            if end_before is None:
                raise _Restart()
            try:
                logs = rpc.get_logs(self.addresses, start, end)
            except (RpcError, ChainError) as exc:
                if not is_range_refusal(exc):
                    raise
                if end == start:
                    # A node or gateway failing like this for one block is
                    # away, not refusing: `follow` waits and tries again.
                    failure = NodeUnavailable if isinstance(exc, NodeUnavailable) else ChainError
                    raise failure(f"the node refuses eth_getLogs even for the single block {start}: {exc}") from None
                asked = end - start + 1
                limit = refusal_limit(exc)
                block_limit = limit is not None and limit.unit == "blocks"
                stated = (limit.most if limit is not None and limit.most and (not block_limit or limit.most < asked)
                          else None)
                if stated and not block_limit:
                    # Aim at half the node's cap, as TARGET_LOGS does for the
                    # common cap, so later ranges are rarely refused again.
                    self.target_logs = max(1, min(self.target_logs, stated // 2))
                elif stated:
                    self.max_span = min(self.max_span, stated)
                elif block_limit:
                    self.refused_span = min(self.refused_span or asked, asked)
                    self._ranges_since_refusal = 0
                hint = suggested_range(exc)
                if hint is not None and hint[0] == start and start <= hint[1] < end:
                    span = hint[1] - start + 1
                elif stated and block_limit:
                    span = stated
                else:
                    span = max(1, asked // 2)
                self.span = span
                continue
            blocks = _log_blocks(logs)
            missing = {int(number_hex, 16) for (number_hex, _), stamped in blocks.items() if not stamped}
            window = range(max(start, window_floor + 1), end + 1)
            wanted = [prev_number, end, *window, *sorted(missing)]
            headers = rpc.headers(wanted)
            before = headers.get(prev_number)
            after = headers.get(end)
            if before is None or before.hash != prev_hash or after is None or after.hash != end_before.hash:
                raise _Restart()
            # Every log must come from the chain the headers were read from.
            for number_hex, block_hash in blocks:
                known = headers.get(int(number_hex, 16))
                if known is not None and known.hash != block_hash.lower():
                    raise _Restart()
            timestamps = {n: h.timestamp for n, h in headers.items() if h is not None}
            kept = [h for h in (headers.get(n) for n in window) if h is not None]
            if not kept or kept[-1].number != end:
                kept.append(after)
            batch = _Batch(start, end, after, kept, logs, timestamps)
            yield self.rows_of(batch) if map_rows else batch
            span = self._next_span(span, end - start + 1, len(logs))
            self.span = span
            prev_number, prev_hash = end, after.hash

    def rows_of(self, batch: _Batch) -> _Batch:
        """Decode and map the batch's logs into ``events`` rows (once)."""
        if batch.rows is None:
            batch.rows = logs_to_rows(batch.logs or [], self.targets, self.chain_id, batch.timestamps)
            batch.logs = None
        return batch

    def _next_span(self, span: int, blocks: int, logs: int) -> int:
        """Aim the next range at ``target_logs`` logs, moving at most 4x either
        way; below a span the node refused for its number of blocks, probe
        halfway between that span and this one, which worked."""
        ideal = span * 4 if logs == 0 else blocks * self.target_logs // logs
        following = max(1, span // 4, min(ideal, span * 4, self.max_span))
        if self.refused_span is not None:
            self._ranges_since_refusal += 1
            if self._ranges_since_refusal >= PROBE_AGAIN_AFTER:
                self.refused_span = None
            elif following >= self.refused_span:
                following = max(span, (span + self.refused_span) // 2)
        return following

    @property
    def learned(self) -> tuple[int, int, int, int | None, int]:
        """What fetching learnt of the node's limits (see :meth:`_fetch`), to
        carry from the fetch process back to the writer's indexer."""
        return self.span, self.target_logs, self.max_span, self.refused_span, self._ranges_since_refusal

    @learned.setter
    def learned(self, state: tuple[int, int, int, int | None, int]) -> None:
        self.span, self.target_logs, self.max_span, self.refused_span, self._ranges_since_refusal = state

    # -- writing -----------------------------------------------------------------------------
    def _write(self, batch: _Batch, expect: tuple[int, str], head: int) -> int:
        """Store one range in one transaction; returns the events newly stored."""
        c = CURSORS
        with self.engine.begin() as conn:
            current = conn.execute(
                select(c.c.block_number, c.c.block_hash)
                .where(c.c.chain_id == self.chain_id, c.c.key == self.key)
                .with_for_update()
            ).first()
            if current is None or (int(current[0]), str(current[1])) != expect:
                raise _Restart()  # another indexer moved the cursor, or a rollback did
            rows = batch.rows or []
            if rows or batch.params:
                e = EVENTS
                # Idempotent: rows already stored (same block hash and log
                # index) are neither inserted again nor folded twice.
                present = set(conn.execute(
                    select(e.c.block_hash, e.c.log_index).where(
                        e.c.chain_id == self.chain_id, e.c.block_number.between(batch.from_block, batch.to_block)
                    )
                ))
                if present:
                    if batch.params is not None:
                        raise _UseThread()  # prepared rows cannot be partly skipped
                    rows = [r for r in rows if (r["block_hash"], r["log_index"]) not in present]
                if batch.params is None:
                    _EVENTS_INSERT.execute(conn, rows, known_new=True)
            if batch.headers:
                _BLOCKS_UPSERT.execute(conn, [
                    {"chain_id": self.chain_id, "number": h.number, "hash": h.hash, "parent_hash": h.parent_hash,
                     "timestamp": utc_from_timestamp(h.timestamp)}
                    for h in batch.headers
                ])
            if batch.params is not None:
                _EVENTS_INSERT.execute_params(conn, batch.params, known_new=True)
            if batch.new_invoices is not None:
                projections.insert_new_invoices(conn, batch.new_invoices)
            projections.apply_events(conn, self.scope, rows)
            conn.execute(
                update(c).where(c.c.chain_id == self.chain_id, c.c.key == self.key).values(
                    block_number=batch.to_block, block_hash=batch.end.hash, head_number=head,
                    updated_at=_utcnow(),
                )
            )
            b = BLOCKS
            conn.execute(delete(b).where(
                b.c.chain_id == self.chain_id, b.c.number < min(batch.to_block, head - self.reorg_window)
            ))
        return len(batch.params) if batch.params is not None else len(rows)

    # -- the run -------------------------------------------------------------------------------
    def sync(
        self, to_block: int | None = None, stop: threading.Event | None = None, rewind: bool = False
    ) -> SyncStats:
        """Catch up to the head (less the confirmations), or ``to_block``, and
        return. ``rewind``: a head below the cursor is a chain that lost
        blocks, not a lagging node (see the module docstring)."""
        with _rare_collections():
            return self._sync(to_block, stop, rewind)

    def _sync(self, to_block: int | None, stop: threading.Event | None, rewind: bool = False) -> SyncStats:
        began = time.perf_counter()
        stats = SyncStats(self.chain_id)
        cursor = self.cursor()
        stop = stop or threading.Event()
        restarts = 0
        use_process = self.workers == "process"
        # A range a fetch process prepared that overlaps stored events is
        # redone by the writer in a thread (see _UseThread); mode auto then
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
                before = int(cursor["block_number"])
                cursor = self.cursor()
                if state == "rewound":
                    stats.rewound_blocks += max(0, before - int(cursor["block_number"]))
                else:
                    stats.reorgs += 1
                    stats.reorged_blocks += max(0, before - int(cursor["block_number"]))
                continue
            if state == "lagging":
                stats.lagging = True
                break
            if int(cursor["block_number"]) >= target:
                break
            try:
                use_process = self._run(cursor, target, head, stats, stop, use_process, process_after)
            except _UseThread:
                use_process = False
                process_after = self._last_stored_block()
            except _Restart:
                restarts += 1
                if restarts > 100:
                    raise ChainError("the chain keeps changing under the indexer; try again later") from None
            cursor = self.cursor()
            if int(cursor["block_number"]) >= target:
                break
        stats.block = int(cursor["block_number"])
        stats.seconds = time.perf_counter() - began
        return stats

    def _run(
        self, cursor: dict[str, Any], target: int, head: int, stats: SyncStats, stop: threading.Event,
        use_process: bool, process_after: int = -1,
    ) -> bool:
        """Index from the cursor to ``target``. Returns whether the fetching
        went to a child process (mode "auto" starts a run of many blocks in
        one; any other in a thread, switching as soon as a range shows the
        backlog is big), so that a restart keeps it there."""
        prev = (int(cursor["block_number"]), str(cursor["block_hash"]))
        auto = self.workers == "auto"
        if not use_process and auto and prev[0] >= process_after and self._long_backlog(prev[0], target):
            use_process = True
        fetcher: _Fetcher = (
            _ProcessFetcher(self, prev, target, head) if use_process else _ThreadFetcher(self, prev, target, head)
        )
        checkpointer: _Checkpointer | None = None
        try:
            if use_process:
                checkpointer = _Checkpointer.start(self.engine)
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
                    fetcher = _ProcessFetcher(self, (batch.to_block, batch.end.hash), target, head)
                    checkpointer = _Checkpointer.start(self.engine)
                # In the thread mode the fetch thread only waits on the node and
                # parses JSON (C code); decoding here keeps the two threads from
                # fighting over the GIL on every row SQLite writes.
                stored = self._write(self.rows_of(batch), prev, head)
                if checkpointer is not None:
                    checkpointer.nudge()
                prev = (batch.to_block, batch.end.hash)
                if stats.start_block is None:
                    stats.start_block = batch.from_block
                stats.events += stored
                stats.blocks += batch.to_block - batch.from_block + 1
                stats.batches += 1
                stats.block = batch.to_block
                if self.progress is not None:
                    self.progress(stats)
                if stop.is_set():
                    return use_process
        finally:
            try:
                fetcher.close()
            finally:
                if checkpointer is not None:
                    checkpointer.close()

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
        return target - indexed >= PROCESS_MIN_RANGES * self.span and self._spare_core()

    def _big_backlog(self, batch: _Batch, target: int) -> bool:
        """Whether the rest looks like a backfill worth a fetch process: full
        ranges, several more of them to go, and a core to spare."""
        logs = len(batch.rows) if batch.rows is not None else len(batch.logs or [])
        if logs < self.target_logs // 2 or target - batch.to_block <= 2 * self.span:
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


class _Fetcher:
    """Fetches and decodes ranges ahead of the writer."""

    def get(self) -> _Batch | None:
        """The next range (None when done); raises what the fetching raised."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _ThreadFetcher(_Fetcher):
    """The fetch loop in a thread: it waits on the node (and parses the JSON)
    while the caller works on the previous range. ``map_rows``: decode here
    too (None: only when the writer waits on a database server, see below)."""

    def __init__(
        self, indexer: Indexer, prev: tuple[int, str], target: int, head: int, map_rows: bool | None = None
    ) -> None:
        # One range ready while one is written and the next fetched: memory
        # stays at a few ranges whatever the backlog.
        self.out: queue.Queue[Any] = queue.Queue(maxsize=1)
        self.halt = threading.Event()
        if map_rows is None:
            # SQLite does its work in this process, releasing the GIL on
            # every row, so decoding in the fetch thread would make the
            # threads convoy; the writer decodes instead. A server database
            # leaves the writer waiting on a socket, so decoding here overlaps.
            map_rows = indexer.engine.dialect.name != "sqlite"
        self.thread = threading.Thread(
            target=self._main, args=(indexer, prev, target, head, map_rows), name="scf-index-fetch", daemon=True
        )
        self.thread.start()

    def _put(self, item: Any) -> bool:
        while not self.halt.is_set():
            try:
                self.out.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def _main(self, indexer: Indexer, prev: tuple[int, str], target: int, head: int, map_rows: bool) -> None:
        rpc = RpcClient(indexer.rpc_url, indexer.rpc_timeout)
        try:
            for batch in indexer._fetch(rpc, prev, target, head, self.halt, map_rows=map_rows):
                if not self._put(batch):
                    return
            self._put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the writer
            self._put(exc)
        finally:
            rpc.close()

    def get(self, abandon: Callable[[], bool] | None = None) -> _Batch | None:
        """The next range; None when done, or as soon as ``abandon()`` says
        nobody wants it any more (checked while waiting)."""
        while True:
            try:
                # Without ``abandon`` (the writer) nothing needs a wake-up.
                item = self.out.get() if abandon is None else self.out.get(timeout=0.2)
                break
            except queue.Empty:
                if abandon is not None and abandon():
                    return None
        if item is _DONE:
            return None
        if isinstance(item, BaseException):
            raise item
        return item  # type: ignore[no-any-return]

    def close(self) -> None:
        self.halt.set()
        while self.thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self.out.get(timeout=0.05)
            self.thread.join(0.05)


class _ProcessFetcher(_Fetcher):
    """The fetch loop in a forked child, so fetching, JSON parsing and
    decoding use another core than the writer. The child inherits the
    prepared decoders, opens its own HTTP session, never touches the
    database, and exits if the parent goes away."""

    def __init__(self, indexer: Indexer, prev: tuple[int, str], target: int, head: int) -> None:
        # Compile the bulk statements once, before forking.
        _EVENTS_INSERT.params(indexer.engine.dialect, [])
        projections.prepare_plans(indexer.engine.dialect)
        context = multiprocessing.get_context("fork")
        self.indexer = indexer
        self.out: Any = context.Queue(maxsize=1)
        self.halt: Any = context.Event()
        self.process = context.Process(
            target=_fetch_in_child, args=(indexer, prev, target, head, self.out, self.halt, os.getpid()),
            name="scf-index-fetch", daemon=True,
        )
        self.process.start()

    def get(self) -> _Batch | None:
        while True:
            try:
                kind, payload, learned = self.out.get(timeout=1.0)
                break
            except queue.Empty:
                if not self.process.is_alive():
                    raise ChainError(
                        f"the indexer's fetch process exited unexpectedly (code {self.process.exitcode}); "
                        "run the sync again"
                    ) from None
        self.indexer.learned = learned  # what the child learnt of the node's limits, for the next run
        if kind == "batch":
            return payload  # type: ignore[no-any-return]
        if kind == "done":
            return None
        if kind == "restart":
            raise _Restart()
        if kind == "unavailable":
            raise NodeUnavailable(payload)
        raise ChainError(payload) if kind == "chain" else RuntimeError(payload)

    def close(self) -> None:
        self.halt.set()
        deadline = time.monotonic() + 10
        while self.process.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                self.out.get(timeout=0.05)
            self.process.join(0.05)
        if self.process.is_alive():
            self.process.terminate()  # our own child, by its PID
            self.process.join(5)
        self.out.close()
        self.out.join_thread()


class _Checkpointer:
    """Checkpoints a SQLite database's WAL in a thread while the writer goes
    on with the next range: copying a backfill's pages from the WAL into the
    database (and the fsync after) then no longer stalls a commit every
    ~40 MB (``wal_autocheckpoint``), and the fsync waits overlap the writer's
    work. ``close`` checkpoints what is committed one last time and stops,
    so a sync's checkpointing stays inside the sync."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.wake = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self._main, name="scf-index-checkpoint", daemon=True)
        self.thread.start()

    @classmethod
    def start(cls, engine: Engine) -> _Checkpointer | None:
        return cls(engine) if engine.dialect.name == "sqlite" else None

    def nudge(self) -> None:
        """A range was committed: checkpoint it when the last checkpoint is done."""
        self.wake.set()

    def _main(self) -> None:
        # Its own connection, outside any transaction (SQLAlchemy's begin
        # would take the write lock): a PASSIVE checkpoint waits for nobody.
        try:
            connection = self.engine.raw_connection()
        except Exception:  # noqa: BLE001 - then the commits checkpoint, as without this thread
            return
        try:
            while True:
                self.wake.wait()
                self.wake.clear()
                # Read before checkpointing: a close() during this checkpoint
                # (after a last commit) wakes the loop for one more.
                last = self.stopping
                cursor = connection.cursor()
                try:
                    cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                finally:
                    cursor.close()
                if last:
                    return
        except Exception:  # noqa: BLE001, S110 - the pages stay in the WAL: nothing is lost
            pass
        finally:
            connection.close()

    def close(self) -> None:
        self.stopping = True
        self.wake.set()
        self.thread.join()


def _fetch_in_child(
    indexer: Indexer, prev: tuple[int, str], target: int, head: int, out: Any, halt: Any, parent: int
) -> None:
    def orphaned() -> bool:
        return os.getppid() != parent

    def put(item: tuple[str, Any]) -> bool:
        """Send (kind, payload) with what this process learnt of the node so far."""
        while not halt.is_set():
            if orphaned():
                os._exit(0)  # the writer is gone (killed): nothing to fetch for
            try:
                out.put((*item, indexer.learned), timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    # A thread of the child fetches the next range (waiting on the node)
    # while its main thread works on this one.
    fetcher = _ThreadFetcher(indexer, prev, target, head, map_rows=False)
    try:
        # Decoding here, in the child, is the point of the child; so is
        # turning rows into INSERT parameters. Decoded args travel as their
        # JSON text (shared with the parameters): unpickling thousands of
        # small dicts would cost the writer more than parsing the few it folds.
        # Invoices minted in a range are folded here too (they cannot have
        # stored rows yet); the writer folds only the events of older ones.
        dialect = indexer.engine.dialect
        while True:
            if halt.is_set():
                return
            batch = fetcher.get(abandon=lambda: halt.is_set() or orphaned())
            if orphaned():
                os._exit(0)  # killed writer: stop while the thread still waits on the node
            if batch is None:
                if halt.is_set():
                    return
                break
            rows = indexer.rows_of(batch).rows or []
            batch.params = _EVENTS_INSERT.params(dialect, rows)
            batch.new_invoices = projections.fold_new_invoices(indexer.scope, rows, dialect)
            handled = batch.new_invoices.handled
            batch.rows = [
                row for row in rows
                if row["invoice_id"] not in handled and (row["invoice_id"] is not None or row["account"] is not None)
            ]
            for row in batch.rows:
                if row["args_json"] is not None:
                    row.pop("args", None)
            if not put(("batch", batch)):
                return
        put(("done", None))
    except _Restart:
        put(("restart", None))
    except NodeUnavailable as exc:
        put(("unavailable", str(exc)))
    except ChainError as exc:
        put(("chain", str(exc)))
    except BaseException as exc:  # noqa: BLE001 - reported to the writer
        put(("internal", f"{type(exc).__name__}: {exc}"))
    finally:
        fetcher.close()


def _log_blocks(logs: Sequence[dict[str, Any]]) -> dict[tuple[str, str], bool]:
    """The (blockNumber, blockHash) pairs of ``logs`` (as the node wrote them),
    each with whether its logs carry ``blockTimestamp``. A node lists a block's
    logs together, so each log costs two string comparisons."""
    found: dict[tuple[str, str], bool] = {}
    last_number = last_hash = None
    for log in logs:
        number, block_hash = log["blockNumber"], log["blockHash"]
        if block_hash != last_hash or number != last_number:
            key = (number, block_hash)
            found[key] = found.get(key, True) and log_timestamp(log) is not None
            last_number, last_hash = number, block_hash
    return found


@contextlib.contextmanager
def _rare_collections() -> Iterator[None]:
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


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
