"""The indexed ledger database: models, engines and migrations."""

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
    Invoice,
    Participant,
    Repayment,
    Uint256,
    UTCDateTime,
)

__all__ = [
    "SCHEMA_REVISION",
    "Base",
    "Block",
    "Cursor",
    "Event",
    "Financing",
    "Invoice",
    "Participant",
    "Repayment",
    "UTCDateTime",
    "Uint256",
    "create_db_engine",
    "current_revision",
    "ensure_schema",
    "open_engine",
    "upgrade",
]
