"""The indexed ledger database: the schema (:mod:`ledger.db.tables`, SQLAlchemy
Core) and its ORM models (:mod:`ledger.db.models`), engines (one owner:
:mod:`ledger.db.session`), migrations, and the ledger scope (:mod:`ledger.db.scope`).

The models are imported on first use of one of their names here, not with
the package: importing ``ledger.db.anything`` must not import
``sqlalchemy.orm``, so commands that only read start fast (the read side
builds on the Core tables).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ledger.db.engine import (
    SCHEMA_REVISION,
    create_db_engine,
    current_revision,
    ensure_schema,
    open_engine,
    upgrade,
)
from ledger.db.scope import Scope, load_cursor, load_cursors
from ledger.db.session import dispose_engines, get_engine, read_connection
from ledger.db.tables import Uint256, UTCDateTime

if TYPE_CHECKING:
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
    )

#: The names of :mod:`ledger.db.models` this package hands out on first use.
_MODELS = frozenset(
    {"Base", "Block", "Cursor", "Event", "Financing", "Incident", "Invoice", "Participant", "Repayment"}
)

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


def __getattr__(name: str) -> Any:
    if name in _MODELS:
        from ledger.db import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
