"""How far the index is (`scf index status`, the API's ``/api/status``):
database only, no chain access, so the read side can import it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from ledger.config import Settings
from ledger.format import iso_time


def status(settings: Settings) -> list[dict[str, Any]]:
    """Every cursor with its event count (database only, no chain access).
    A reader: it does not wait for SQLite's write lock held by a running
    `scf index follow`, and never creates a missing database (one on an
    older schema is migrated first, as by every command)."""
    from ledger.db.engine import database_errors
    from ledger.db.session import read_connection

    with database_errors(settings.database_url), read_connection(settings.database_url) as conn:
        return status_rows(conn)


def status_rows(conn: Connection) -> list[dict[str, Any]]:
    """:func:`status` in a read transaction the caller holds (the API's request snapshot)."""
    from sqlalchemy import func, select

    from ledger.db.scope import load_cursors
    from ledger.db.tables import EVENTS

    e = EVENTS
    rows = []
    for cursor in load_cursors(conn):
        count = conn.execute(
            select(func.count())
            .select_from(e)
            .where(e.c.chain_id == cursor["chain_id"], e.c.contract.in_(list(cursor["contracts"].values())))
        ).scalar_one()
        head, block = cursor["head_number"], cursor["block_number"]
        rows.append(
            {
                "chain_id": cursor["chain_id"],
                "contracts": cursor["contracts"],
                "start_block": cursor["start_block"],
                "block": block,
                "block_hash": cursor["block_hash"],
                "head": head,
                "behind": None if head is None or block is None else max(0, head - block),
                "events": int(count),
                "updated_at": iso_time(cursor["updated_at"]),
            }
        )
    return rows
