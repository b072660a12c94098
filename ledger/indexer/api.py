"""The indexer's Python API: what `scf index ...`, the lifecycle commands'
``--sync`` and the financing desk call.

Nothing heavy is imported here at module level (the chain side is imported
when a function runs), so that ``ledger.indexer`` and its projections stay
cheap to import for the read-only commands.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ledger.db.session import get_engine
from ledger.indexer.progress import status as status

if TYPE_CHECKING:
    from ledger.config import Settings
    from ledger.deployment import Deployment
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
    **options: Any,
) -> None:
    """Keep the database following the head until ``stop`` is set (or Ctrl-C).
    The backfill and the following are the same cursor-driven loop, so the
    hand-off between them can neither repeat nor skip a block. A node that
    stops answering, answers HTTP 429/5xx or closes its port, and a
    database connection that is lost or refused, are retried
    (``on_error(exc, seconds)`` is told), with the wait doubling up to 30 s:
    a range is one transaction, so a retry repeats or loses nothing. A
    database unreachable at the start is an error, and so is a node when the
    deployment is read from it (``deployment`` not given, as from the CLI):
    a wrong URL fails at once instead of being retried."""
    from sqlalchemy.exc import SQLAlchemyError

    from ledger.db.engine import database_errors, database_unavailable
    from ledger.errors import NodeUnavailable

    stop = stop or threading.Event()
    with database_errors(settings.database_url):
        indexer = indexer_for(settings, deployment, confirmations, **options)
        try:
            backoff = poll_interval
            while not stop.is_set():
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
                if stop.wait(poll_interval if stats.events == 0 or stats.lagging else 0):
                    break
        finally:
            indexer.close()


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
