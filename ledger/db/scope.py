"""The ledger scope: which contracts on which chain a ledger is folded from,
and the cursors that record them (one per indexed deployment).

The indexer writes a cursor per deployment (chain id and the set of its
contract addresses); everything that replays or reads the projections finds
its scope there. No chain access: the read side uses this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select

from ledger.db.tables import CURSORS, EVENTS


@dataclass(frozen=True)
class Scope:
    """The contracts whose events feed the projections, on one chain."""

    chain_id: int
    invoice_contract: str
    registry_contract: str

    @classmethod
    def of_cursor(cls, cursor: Mapping[str, Any]) -> Scope:
        return cls(int(cursor["chain_id"]), str(cursor["invoice_contract"]), str(cursor["registry_contract"]))


def load_cursor(conn: Connection, chain_id: int, key: str) -> dict[str, Any] | None:
    """The cursor of the contract set ``key`` on ``chain_id`` (None: not indexed yet)."""
    t = CURSORS
    row = conn.execute(select(t).where(t.c.chain_id == chain_id, t.c.key == key)).mappings().first()
    return None if row is None else dict(row)


def load_cursors(conn: Connection, chain_id: int | None = None) -> list[dict[str, Any]]:
    """Every cursor (of ``chain_id`` only, when given), oldest first."""
    stmt = select(CURSORS).order_by(CURSORS.c.id)
    if chain_id is not None:
        stmt = stmt.where(CURSORS.c.chain_id == chain_id)
    return [dict(r) for r in conn.execute(stmt).mappings()]


def grace_period_at(conn: Connection, chain_id: int, invoice_contract: str, block: int | None = None) -> int | None:
    """The deployment's grace period in seconds (for unfinanced receivables,
    and the default offered to new financings) as of ``block`` (None: the
    latest indexed): its last GracePeriodChanged event (the constructor emits
    the first). None for contracts before version 4 (no such event)."""
    query = (
        select(EVENTS.c.args)
        .where(
            EVENTS.c.chain_id == chain_id,
            EVENTS.c.contract == invoice_contract,
            EVENTS.c.event == "GracePeriodChanged",
        )
        .order_by(EVENTS.c.block_number.desc(), EVENTS.c.log_index.desc())
        .limit(1)
    )
    if block is not None:
        query = query.where(EVENTS.c.block_number <= block)
    args = conn.execute(query).scalar()
    return None if args is None else int(dict(args)["gracePeriod"])
