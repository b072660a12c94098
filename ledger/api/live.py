"""Live pages: the dashboard's ``/live`` server-sent events.

One :class:`LiveHub` per app (``app.state.live``): while at least one page
listens, a small poller reads the indexed block (the cursor the pages show,
:func:`ledger.queries.find_scope`) about once a second and pushes
``event: block`` with ``{"block": n}`` to every stream when it changes; with
no one listening it stops. A page's ``static/live.js`` then fetches the page
again and swaps its live parts.

Streams end by themselves: when the client goes, after ``max_seconds`` (the
browser reconnects by itself, ``retry``), and at once on :meth:`LiveHub.close`.
A server must call :func:`close_streams` when it begins to shut down: uvicorn's
graceful shutdown waits for open responses to finish *before* it runs the
app's lifespan shutdown, so an endless stream would hold it up.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from sqlalchemy import Engine

from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.queries import find_scope

log = logging.getLogger("ledger.api.live")

#: Seconds between two reads of the indexed block.
POLL_SECONDS = 1.0
#: Seconds between two comments on an idle stream (so a dead client is noticed).
HEARTBEAT_SECONDS = 15.0
#: A stream's longest life in seconds; the browser then reconnects (``retry`` milliseconds later).
MAX_STREAM_SECONDS = 300.0
RETRY_MS = 2000


class LiveHub:
    """Tells the ``/live`` streams of one app the indexed block."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        interval: float = POLL_SECONDS,
        max_seconds: float = MAX_STREAM_SECONDS,
    ) -> None:
        self.engine, self.settings = engine, settings
        self.interval, self.max_seconds = interval, max_seconds
        #: The last block told (None before the first read).
        self.block: int | None = None
        self.closed = False
        self._queues: set[asyncio.Queue[int | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def listeners(self) -> int:
        return len(self._queues)

    @property
    def polling(self) -> bool:
        return self._task is not None

    def read_block(self) -> int | None:
        """The indexed block the pages show (None: nothing indexed yet). Runs in a worker thread."""
        with self.engine.connect() as conn:
            try:
                return find_scope(conn, self.settings).indexed_block
            except LedgerError:
                return None

    async def _poll(self) -> None:
        try:
            while self._queues and not self.closed:
                try:
                    block = await to_thread.run_sync(self.read_block)
                except Exception:  # the database away for a moment: try again at the next tick
                    log.warning("live: cannot read the indexed block", exc_info=True)
                    block = None
                if block is not None and block != self.block:
                    self.publish(block)
                await asyncio.sleep(self.interval)
        finally:
            self._task = None

    def publish(self, block: int) -> None:
        """Tell every stream ``block`` (call it on the app's event loop;
        :meth:`publish_threadsafe` from another thread, e.g. an indexer in
        the same process)."""
        self.block = block
        for queue in self._queues:
            queue.put_nowait(block)

    def publish_threadsafe(self, block: int) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.publish, block)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[int | None]]:
        """A queue of the blocks to come (the current one first, when known);
        None in it means the hub closed. Starts the poller if it is not running."""
        queue: asyncio.Queue[int | None] = asyncio.Queue()
        if self.closed:
            queue.put_nowait(None)
            yield queue
            return
        self._loop = asyncio.get_running_loop()
        self._queues.add(queue)
        if self.block is not None:
            queue.put_nowait(self.block)
        if self._task is None:
            self._task = self._loop.create_task(self._poll())
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    def _close_now(self) -> None:
        self.closed = True
        for queue in self._queues:
            queue.put_nowait(None)
        if self._task is not None:
            self._task.cancel()

    def close(self) -> None:
        """End every stream and the poller, and refuse new ones (server
        shutdown). Safe from any thread."""
        self.closed = True
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._close_now()
        else:
            loop.call_soon_threadsafe(self._close_now)

    async def stream(self) -> AsyncIterator[str]:
        """The text of one ``text/event-stream`` response."""
        yield f"retry: {RETRY_MS}\n\n"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_seconds
        async with self.subscribe() as queue:
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    return
                try:
                    block = await asyncio.wait_for(queue.get(), min(HEARTBEAT_SECONDS, left))
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if block is None:
                    return
                yield f"event: block\ndata: {json.dumps({'block': block})}\n\n"


def hub_of(app: Any) -> LiveHub:
    """The app's hub (made by :func:`install` if the app has none yet)."""
    hub: LiveHub = app.state.live
    return hub


def install(app: Any) -> LiveHub:
    """Give ``app`` its hub (``app.state.live``), unless it was given one."""
    hub = getattr(app.state, "live", None)
    if not isinstance(hub, LiveHub):
        hub = LiveHub(app.state.engine, app.state.settings)
        app.state.live = hub
    return hub


def close_streams(app: Any) -> None:
    """End the app's live streams now: what a server calls when it begins
    to shut down (before it waits for open responses to finish)."""
    hub = getattr(app.state, "live", None)
    if isinstance(hub, LiveHub):
        hub.close()
