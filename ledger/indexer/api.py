"""The indexer's Python API: what `scf index ...`, the lifecycle commands'
``--sync`` and the financing desk call.

Nothing heavy is imported here at module level (the chain side is imported
when a function runs), so that ``ledger.indexer`` and its projections stay
cheap to import for the read-only commands.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ledger.db.session import get_engine
from ledger.indexer.progress import status as status

if TYPE_CHECKING:
    from ledger.config import Settings
    from ledger.deployment import Deployment
    from ledger.evm.heads import NewHeads
    from ledger.indexer.loop import Indexer, SyncStats


def indexer_for(
    settings: Settings,
    deployment: Deployment | None = None,
    confirmations: int | None = None,
    **options: Any,
) -> Indexer:
    """An Indexer on ``settings`` (the deployment record of the connected chain by default)."""
    from ledger.deployment import load_deployment
    from ledger.evm.rpc import RpcClient
    from ledger.indexer.loop import Indexer

    if deployment is None:
        rpc = RpcClient(settings.rpc_url, timeout=10.0)
        try:
            chain_id = rpc.chain_id()
        finally:
            rpc.close()
        deployment = load_deployment(settings, chain_id)
    if confirmations is None:
        confirmations = settings.confirmations
    return Indexer(get_engine(settings.database_url), settings.rpc_url, deployment, confirmations, **options)


def sync(
    settings: Settings,
    deployment: Deployment | None = None,
    confirmations: int | None = None,
    to_block: int | None = None,
    rewind: bool = False,
    through: int | None = None,
    **options: Any,
) -> SyncStats:
    """Index the deployment's contracts up to the head (less ``confirmations``)
    or ``to_block``, and return what was done; with ``through``, first wait
    (up to the settings' ``tx_timeout`` plus 5 s per confirmation) until that
    block has its confirmations. Cheap when there is little to do:
    a few JSON-RPC calls and one transaction per range. A head below the
    indexed block is a lagging node (nothing changes, ``lagging`` is set),
    unless ``rewind``: then the chain lost blocks, and what the database
    holds above the newest block the chain still has is rolled back first."""
    from ledger.db.engine import database_errors

    with database_errors(settings.database_url):
        indexer = indexer_for(settings, deployment, confirmations, **options)
        try:
            if through is not None:
                indexer.await_confirmed(through, settings.tx_timeout)
            return indexer.sync(to_block, rewind=rewind)
        finally:
            indexer.close()


def follow(
    settings: Settings,
    poll_interval: float = 1.0,
    confirmations: int | None = None,
    deployment: Deployment | None = None,
    stop: threading.Event | None = None,
    on_sync: Callable[[SyncStats], None] | None = None,
    on_error: Callable[[Exception, float], None] | None = None,
    on_notice: Callable[[str], None] | None = None,
    ws_url: str | None = None,
    **options: Any,
) -> None:
    """Keep the database following the head until ``stop`` is set (or Ctrl-C).
    The backfill and the following are the same cursor-driven loop, so the
    hand-off between them can neither repeat nor skip a block. Once caught
    up it looks at the head again when the node announces a block (a
    ``newHeads`` subscription at ``ws_url``, else the setting ``ws_url``,
    else the RPC URL over WebSocket; ``off`` for none) and at least every
    ``poll_interval`` seconds; without a subscription it polls at that
    interval (see :class:`HeadWaiter`; ``on_notice`` is told which, in one
    line, whenever that changes). A node that stops answering, answers HTTP
    429/5xx or closes its port, and a database connection that is lost or
    refused, are retried (``on_error(exc, seconds)`` is told), with the
    wait doubling up to 30 s: a range is one transaction, so a retry repeats
    or loses nothing. A database unreachable at the start is an error, and
    so is a node when the deployment is read from it (``deployment`` not
    given, as from the CLI): a wrong URL fails at once instead of being
    retried."""
    from sqlalchemy.exc import SQLAlchemyError

    from ledger.db.engine import database_errors, database_unavailable
    from ledger.errors import NodeUnavailable
    from ledger.evm.heads import ws_url_for

    stop = stop or threading.Event()
    with database_errors(settings.database_url):
        indexer = indexer_for(settings, deployment, confirmations, **options)
        waiter = HeadWaiter(ws_url_for(settings.rpc_url, ws_url or settings.ws_url), stop, poll_interval, on_notice)
        try:
            backoff = poll_interval
            while not stop.is_set():
                # Announcements so far are answered by this sync's look at the head.
                waiter.before_sync()
                try:
                    stats = indexer.sync(stop=stop)
                except (NodeUnavailable, SQLAlchemyError) as caught:
                    exc = (
                        caught
                        if isinstance(caught, NodeUnavailable)
                        else (database_unavailable(settings.database_url, caught))
                    )
                    if exc is None:
                        raise
                    backoff = min(max(backoff * 2, 1.0), 30.0)
                    if on_error is not None:
                        on_error(exc, backoff)
                    if stop.wait(backoff):
                        break
                    continue
                backoff = poll_interval
                if on_sync is not None:
                    on_sync(stats)
                if waiter.wait(poll_interval if stats.events == 0 or stats.lagging else 0):
                    break
        finally:
            try:
                waiter.close()
            finally:
                indexer.close()


#: Longest a follower waiting on a subscription goes without looking at its
#: ``stop`` event (a plain Event, set by a signal handler or another thread,
#: cannot wake a wait on the socket).
STOP_CHECK_SECONDS = 0.1
#: Seconds before subscribing again after a refusal or a lost connection,
#: doubling up to RESUBSCRIBE_MOST (a node without WebSocket costs one
#: refused handshake a minute).
RESUBSCRIBE_FIRST = 1.0
RESUBSCRIBE_MOST = 60.0


class HeadWaiter:
    """How :func:`follow` waits between looks at the head.

    With a ``newHeads`` subscription at ``ws_url`` it wakes as soon as the
    node announces a block (Anvil: within milliseconds of the receipt), and
    still looks every ``poll_interval`` seconds when none is announced, so a
    quiet chain's reorg checks run as often as before; without one (no
    ``ws_url``, a node that serves no WebSocket there or refuses the
    subscription, a connection lost) it polls every ``poll_interval`` and
    tries to subscribe again, RESUBSCRIBE_FIRST to RESUBSCRIBE_MOST seconds
    apart (never, when the endpoint answered without a WebSocket or refused
    the subscription before any worked). The subscription only says *when* to look: the head, the reorg
    checks and the confirmations are read over JSON-RPC as always. ``stop``
    ends a wait within STOP_CHECK_SECONDS. ``notice`` (else the log
    ``ledger.indexer``, at INFO) is told in one line when it starts or stops
    following announcements."""

    def __init__(
        self,
        ws_url: str | None,
        stop: threading.Event,
        poll_interval: float,
        notice: Callable[[str], None] | None = None,
    ) -> None:
        self.ws_url = ws_url
        self.stop = stop
        self.poll_interval = poll_interval
        self.notice = notice or logging.getLogger("ledger.indexer").info
        self.heads: NewHeads | None = None
        self.retry_at = 0.0
        self.backoff = RESUBSCRIBE_FIRST
        self.failures = 0
        #: Once subscribed, a later refusal is taken for a passing one (a node restarting).
        self.subscribed_once = False
        if ws_url is None:  # which way it follows, as the notices of _subscribe say theirs
            self.notice(f"polling the head every {poll_interval:g}s (new-heads subscription off)")

    def _subscribe(self) -> bool:
        """Try to subscribe (when one is due); whether it worked."""
        from ledger.evm.heads import HeadsUnavailable, NewHeads, shown

        if self.ws_url is None or time.monotonic() < self.retry_at:
            return False
        try:
            self.heads = NewHeads(self.ws_url)
        except HeadsUnavailable as exc:
            if self.failures == 0:
                self.notice(
                    f"no new-heads subscription at {shown(self.ws_url)} ({exc}); "
                    f"polling the head every {self.poll_interval:g}s"
                )
            self._retry_later()
            if exc.lasting and not self.subscribed_once:
                # The endpoint answered, and not with a subscription: no WebSocket there (an
                # HTTP-only node such as ethereumjs). Asking again would only cost a handshake.
                self.retry_at = math.inf
            return False
        self.failures, self.backoff, self.subscribed_once = 0, RESUBSCRIBE_FIRST, True
        self.notice(f"following new heads at {shown(self.ws_url)} (and polling every {self.poll_interval:g}s)")
        return True

    def _retry_later(self) -> None:
        self.failures += 1
        self.retry_at = time.monotonic() + self.backoff
        self.backoff = min(self.backoff * 2, RESUBSCRIBE_MOST)

    def _lost(self, reason: Exception) -> None:
        from ledger.evm.heads import shown

        assert self.heads is not None and self.ws_url is not None
        self.heads.close()
        self.heads = None
        self.notice(
            f"lost the new-heads subscription at {shown(self.ws_url)} ({reason}); "
            f"polling the head every {self.poll_interval:g}s until it is back"
        )
        self._retry_later()

    def before_sync(self) -> None:
        """Forget the blocks announced so far: the sync about to run reads the head."""
        from ledger.evm.heads import HeadsUnavailable

        if self.heads is not None:
            try:
                self.heads.drain()
            except HeadsUnavailable as exc:
                self._lost(exc)

    def wait(self, seconds: float) -> bool:
        """Until a block is announced, ``seconds`` pass, or ``stop`` is set
        (then True). Right after subscribing it returns at once: a block may
        have come since the last look, and none of it was announced."""
        from ledger.evm.heads import HeadsUnavailable

        if self.heads is None and self._subscribe():
            return self.stop.is_set()
        if self.heads is None:
            return self.stop.wait(seconds)
        deadline = time.monotonic() + seconds
        while not self.stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                if self.heads.wait(min(left, STOP_CHECK_SECONDS)):
                    return False
            except HeadsUnavailable as exc:
                self._lost(exc)
                return self.stop.wait(max(0.0, deadline - time.monotonic()))
        return True

    def close(self) -> None:
        if self.heads is not None:
            self.heads.close()
            self.heads = None


def rebuild(settings: Settings, chain_id: int | None = None) -> int:
    """Drop the projections and replay them from the stored events (every
    indexed deployment, or those of ``chain_id``). No chain access. Returns the
    number of events replayed."""
    from ledger.db.engine import database_errors
    from ledger.db.scope import Scope, load_cursors
    from ledger.indexer import projections

    with database_errors(settings.database_url):
        engine = get_engine(settings.database_url)
        replayed = 0
        with engine.begin() as conn:
            for cursor in load_cursors(conn, chain_id):
                replayed += projections.rebuild_projections(conn, Scope.of_cursor(cursor))
        return replayed
