"""One checked block range on its way from a fetcher to the writer, and the
two signals that interrupt a run (a restart, a switch back to a thread)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.evm.rpc import Header
from ledger.indexer import projections


@dataclass
class Batch:
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


class UseThread(Exception):
    """A range prepared by the fetch process overlaps stored events: redo it
    with the writer doing all the work (only after a cursor was moved back)."""


class Restart(Exception):
    """The chain changed under a fetch: check for a reorg and start again."""
