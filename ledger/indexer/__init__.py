"""The off-chain indexer: every log of the deployed contracts, decoded, in the
database, exactly once; plus the projections the queries read.

The rooms, by job:

- :mod:`.api`: the Python API (``sync``, ``follow``, ``rebuild``, ``status``),
  re-exported here; the CLI's `scf index ...` and ``--sync`` call it.
- :mod:`.loop`: the :class:`~ledger.indexer.loop.Indexer` and its sync loop.
- :mod:`.planner`: range sizes, and what a node's refusals teach.
- :mod:`.reorg`: reorg (and rewind) detection and rollback.
- :mod:`.fetchers`: fetch thread and fetch process, each range checked to be one chain.
- :mod:`.writer`: one transaction per range; the SQLite WAL checkpointer.
- :mod:`.mappers`, :mod:`.bulk`, :mod:`.projections`: log -> row, bulk
  inserts, rows -> the ledger's state (the read side replays these too).
- :mod:`.verify`: the database compared with the chain.

Submodules are imported lazily so that ``ledger.indexer.projections`` can be
used by read-only commands without importing the fetching machinery (nor
web3 or ``ledger.evm``). Engines belong to :mod:`ledger.db.session`;
``get_engine`` and ``dispose_engines`` are re-exported here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ledger.db.session import dispose_engines, get_engine
from ledger.indexer.api import follow, indexer_for, rebuild, status, sync

if TYPE_CHECKING:
    from ledger.indexer.loop import SyncStats

__all__ = ["SyncStats", "dispose_engines", "follow", "get_engine", "indexer_for", "rebuild", "status", "sync"]


def __getattr__(name: str) -> Any:
    if name == "SyncStats":
        from ledger.indexer.loop import SyncStats

        return SyncStats
    raise AttributeError(name)
