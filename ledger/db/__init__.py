"""The indexed ledger database: models, engines (one owner: :mod:`ledger.db.session`),
migrations, and the ledger scope (:mod:`ledger.db.scope`)."""

from ledger.db.engine import (
    SCHEMA_REVISION,
    create_db_engine,
    current_revision,
    ensure_schema,
    open_engine,
    upgrade,
)
from ledger.db.models import (
    Base,
    Block,
    Cursor,
    Event,
    Financing,
    Incident,
    Invoice,
    Participant,
    Repayment,
    Uint256,
    UTCDateTime,
)
from ledger.db.scope import Scope, load_cursor, load_cursors
from ledger.db.session import dispose_engines, get_engine, read_connection

__all__ = [
    "SCHEMA_REVISION",
    "Base",
    "Block",
    "Cursor",
    "Event",
    "Financing",
    "Incident",
    "Invoice",
    "Participant",
    "Repayment",
    "Scope",
    "UTCDateTime",
    "Uint256",
    "create_db_engine",
    "current_revision",
    "dispose_engines",
    "ensure_schema",
    "get_engine",
    "load_cursor",
    "load_cursors",
    "open_engine",
    "read_connection",
    "upgrade",
]
