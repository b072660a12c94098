"""Fetchers: ``eth_getLogs`` for the next ranges while the writer stores the
previous one.

A fetch thread asks the node for the next range while the main thread writes
the previous one; for a big backlog, a forked fetch process instead (its
thread waits on the node while it decodes and folds, so the writer only
inserts). Either way each range is checked to be one chain: the range's last
block (or, when the node cut its answer short, the block first asked up to)
has the same hash before and after its logs were fetched, the previous
range's last block is unchanged, and every log's block hash is the chain's.
One range is ready while one is written and the next fetched: memory stays
at a few ranges whatever the backlog.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ledger.errors import ChainError, NodeUnavailable
from ledger.evm.rpc import Header, RpcClient, RpcError, is_range_refusal
from ledger.indexer import projections
from ledger.indexer.batch import Batch, Restart
from ledger.indexer.mappers import log_timestamp
from ledger.indexer.writer import EVENTS_INSERT

if TYPE_CHECKING:
    from ledger.indexer.loop import Indexer

_DONE = object()


def fetch_ranges(
    indexer: Indexer,
    rpc: RpcClient,
    prev: tuple[int, str],
    target: int,
    head: int,
    stop: threading.Event,
    map_rows: bool = False,
) -> Iterator[Batch]:
    """Ranges from ``prev`` up to ``target``, each checked to be one chain
    (:func:`_check_range`); with ``map_rows`` their logs already turned into
    rows (see :meth:`Indexer.rows_of`). Spans come from, and refusals teach,
    the indexer's :class:`~ledger.indexer.planner.RangePlanner`."""
    planner = indexer.planner
    prev_number = prev[0]
    span = planner.span
    window_floor = head - indexer.reorg_window
    while prev_number < target and not stop.is_set():
        start = prev_number + 1
        end = min(target, prev_number + span)
        end_before = rpc.headers([end])[end]
        if end_before is None:
            raise Restart()
        try:
            logs, through = rpc.logs_through(indexer.addresses, start, end)
        except (RpcError, ChainError) as exc:
            if not is_range_refusal(exc):
                raise
            if end == start:
                # A node or gateway failing like this for one block is
                # away, not refusing: `follow` waits and tries again.
                failure = NodeUnavailable if isinstance(exc, NodeUnavailable) else ChainError
                raise failure(f"the node refuses eth_getLogs even for the single block {start}: {exc}") from None
            span = planner.refused(exc, start, end)
            continue
        anchor = None
        if through < end:  # the node cut its answer short: this range ends where its logs are whole
            # The block asked up to, read before the logs, still anchors the chain: a reorg
            # at or below `through` during the fetch changes its hash too.
            anchor = (end, end_before)
            end = through
            end_before = rpc.headers([end])[end]
            if end_before is None:
                raise Restart()
        window = range(max(start, window_floor + 1), end + 1)
        batch = _check_range(rpc, prev, end, end_before, logs, window, anchor)
        yield indexer.rows_of(batch) if map_rows else batch
        span = planner.next_span(span, end - start + 1, len(logs))
        prev_number, prev = end, (end, batch.end.hash)


def _check_range(
    rpc: RpcClient,
    prev: tuple[int, str],
    end: int,
    end_before: Header,
    logs: list[dict[str, Any]],
    window: range,
    anchor: tuple[int, Header] | None = None,
) -> Batch:
    """The range after ``prev`` up to ``end`` (``end_before``: that block as
    read before the logs, or, for an answer the node cut short, just after:
    then ``anchor`` is the block first asked up to, as read before the logs),
    with the headers of its blocks within the reorg ``window``; raises
    :class:`Restart` unless the logs and the headers are of one chain, the one
    ``prev`` is on."""
    prev_number, prev_hash = prev
    start = prev_number + 1
    blocks = _log_blocks(logs)
    missing = {int(number_hex, 16) for (number_hex, _), stamped in blocks.items() if not stamped}
    wanted = [prev_number, end, *window, *sorted(missing), *([anchor[0]] if anchor else [])]
    headers = rpc.headers(wanted)
    before = headers.get(prev_number)
    after = headers.get(end)
    if before is None or before.hash != prev_hash or after is None or after.hash != end_before.hash:
        raise Restart()
    anchored = headers.get(anchor[0]) if anchor else None
    if anchor is not None and (anchored is None or anchored.hash != anchor[1].hash):
        raise Restart()
    # Every log must come from the chain the headers were read from.
    for number_hex, block_hash in blocks:
        known = headers.get(int(number_hex, 16))
        if known is not None and known.hash != block_hash.lower():
            raise Restart()
    timestamps = {n: h.timestamp for n, h in headers.items() if h is not None}
    kept = [h for h in (headers.get(n) for n in window) if h is not None]
    if not kept or kept[-1].number != end:
        kept.append(after)
    return Batch(start, end, after, kept, logs, timestamps)


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


class Fetcher:
    """Fetches and decodes ranges ahead of the writer."""

    def get(self) -> Batch | None:
        """The next range (None when done); raises what the fetching raised."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class ThreadFetcher(Fetcher):
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
            for batch in fetch_ranges(indexer, rpc, prev, target, head, self.halt, map_rows=map_rows):
                if not self._put(batch):
                    return
            self._put(_DONE)
        except BaseException as exc:  # noqa: BLE001 - handed to the writer
            self._put(exc)
        finally:
            rpc.close()

    def get(self, abandon: Callable[[], bool] | None = None) -> Batch | None:
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


class ProcessFetcher(Fetcher):
    """The fetch loop in a forked child, so fetching, JSON parsing and
    decoding use another core than the writer. The child inherits the
    prepared decoders, opens its own HTTP session, never touches the
    database, and exits if the parent goes away."""

    def __init__(self, indexer: Indexer, prev: tuple[int, str], target: int, head: int) -> None:
        # Compile the bulk statements once, before forking.
        EVENTS_INSERT.params(indexer.engine.dialect, [])
        projections.prepare_plans(indexer.engine.dialect)
        context = multiprocessing.get_context("fork")
        self.indexer = indexer
        self.out: Any = context.Queue(maxsize=1)
        self.halt: Any = context.Event()
        self.process = context.Process(
            target=_fetch_in_child,
            args=(indexer, prev, target, head, self.out, self.halt, os.getpid()),
            name="scf-index-fetch",
            daemon=True,
        )
        self.process.start()

    def get(self) -> Batch | None:
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
            raise Restart()
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


class _ToParent:
    """The child's end of the queue to the writer."""

    def __init__(self, indexer: Indexer, out: Any, halt: Any, parent: int) -> None:
        self.indexer, self.out, self.halt, self.parent = indexer, out, halt, parent

    def orphaned(self) -> bool:
        return os.getppid() != self.parent

    def put(self, kind: str, payload: Any) -> bool:
        """Send (kind, payload) with what this process learnt of the node so far."""
        while not self.halt.is_set():
            if self.orphaned():
                os._exit(0)  # the writer is gone (killed): nothing to fetch for
            try:
                self.out.put((kind, payload, self.indexer.learned), timeout=0.2)
                return True
            except queue.Full:
                continue
        return False


def _fetch_in_child(
    indexer: Indexer, prev: tuple[int, str], target: int, head: int, out: Any, halt: Any, parent: int
) -> None:
    to_parent = _ToParent(indexer, out, halt, parent)
    # A thread of the child fetches the next range (waiting on the node)
    # while its main thread works on this one.
    fetcher = ThreadFetcher(indexer, prev, target, head, map_rows=False)
    try:
        dialect = indexer.engine.dialect
        while True:
            if halt.is_set():
                return
            batch = fetcher.get(abandon=lambda: halt.is_set() or to_parent.orphaned())
            if to_parent.orphaned():
                os._exit(0)  # killed writer: stop while the thread still waits on the node
            if batch is None:
                if halt.is_set():
                    return
                break
            if not to_parent.put("batch", _prepare(indexer, batch, dialect)):
                return
        to_parent.put("done", None)
    except Restart:
        to_parent.put("restart", None)
    except NodeUnavailable as exc:
        to_parent.put("unavailable", str(exc))
    except ChainError as exc:
        to_parent.put("chain", str(exc))
    except BaseException as exc:  # noqa: BLE001 - reported to the writer
        to_parent.put("internal", f"{type(exc).__name__}: {exc}")
    finally:
        fetcher.close()


def _prepare(indexer: Indexer, batch: Batch, dialect: Any) -> Batch:
    """The fetch process's work on a range, so that the writer only inserts.

    Decoding here, in the child, is the point of the child; so is turning
    rows into INSERT parameters. Decoded args travel as their JSON text
    (shared with the parameters): unpickling thousands of small dicts would
    cost the writer more than parsing the few it folds. Invoices minted in a
    range are folded here too (they cannot have stored rows yet); the writer
    folds only the events of older ones."""
    rows = indexer.rows_of(batch).rows or []
    batch.params = EVENTS_INSERT.params(dialect, rows)
    batch.new_invoices = projections.fold_new_invoices(indexer.scope, rows, dialect)
    handled = batch.new_invoices.handled
    batch.rows = [
        row
        for row in rows
        if row["invoice_id"] not in handled and (row["invoice_id"] is not None or row["account"] is not None)
    ]
    for row in batch.rows:
        if row["args_json"] is not None:
            row.pop("args", None)
    return batch
