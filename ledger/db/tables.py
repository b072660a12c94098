"""The indexed ledger's tables, as SQLAlchemy Core ``Table`` objects, and
their column types: the schema itself, without the ORM.

The read side (:mod:`ledger.queries`, :mod:`ledger.history`, the scope) builds
its statements on these, so `scf invoice list` and friends start without
importing ``sqlalchemy.orm`` (a third of SQLAlchemy's import time, DESIGN
section 7: the read side starts fast). :mod:`ledger.db.models` maps its typed
classes onto these same tables (``Invoice.status`` is ``INVOICES.c.status``);
what each table and column means is written there, on each class.

Two kinds of tables:

* chain facts, written by the indexer only: ``events`` (append-only, one row
  per contract log, decoded), ``blocks`` (hashes of the recent, not yet final
  blocks, for reorg detection) and ``cursors`` (how far each deployment's
  contracts are indexed);
* projections, derived from ``events`` alone and rebuilt from it at will:
  ``participants``, ``invoices`` (current state), ``financings``,
  ``repayments`` and ``incidents``.

Conventions: addresses are EIP-55 checksummed strings, hashes ``0x`` + 64 hex
digits, amounts integer minor units in :class:`Uint256` columns (exact, never
floats), times timezone-aware UTC (:class:`UTCDateTime`). Constraint names come
from the naming convention so migrations stay stable across databases (the
pattern of pypi/warehouse ``warehouse/db.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

__all__ = [
    "BLOCKS",
    "CURSORS",
    "EVENTS",
    "FINANCINGS",
    "INCIDENTS",
    "INCIDENT_KINDS",
    "INVOICES",
    "INVOICE_NUMBER_LENGTH",
    "METADATA",
    "NAMING_CONVENTION",
    "PARTICIPANTS",
    "REPAYMENTS",
    "BigId",
    "CalendarDate",
    "JSONDocument",
    "UTCDateTime",
    "Uint256",
]

# -- column types ------------------------------------------------------------------

#: Largest integer SQLite stores exactly as an INTEGER.
_SQLITE_MAX = 2**63 - 1
#: Width of the zero-padded text form of larger values on SQLite.
_UINT256_DIGITS = 78


class _SQLiteNative(UserDefinedType[Any]):
    """A column type SQLAlchemy passes to sqlite3 untouched (no bind or result
    processors): the TypeDecorators below do the one conversion needed."""

    cache_ok = True

    def __init__(self, spec: str) -> None:
        self.spec = spec

    def get_col_spec(self, **_kw: Any) -> str:
        return self.spec


class Uint256(TypeDecorator[int]):
    """An EVM ``uint256`` (amounts in minor units, token ids) as a Python int.

    PostgreSQL: ``numeric(78, 0)``, exact for every value. SQLite: values that
    fit 64 bits are plain INTEGERs (numeric comparison, SUM and ORDER BY work);
    larger ones are stored as ``'x'`` + 78 zero-padded digits, which SQLite
    keeps as TEXT instead of rounding to a float: still exact and still
    ordered correctly (TEXT sorts after every INTEGER), but SQL arithmetic on
    them is wrong, so aggregate such amounts in Python or use PostgreSQL.
    (SQLAlchemy's own Numeric would pass every value through float on SQLite.)
    """

    impl = Numeric(78, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return _SQLiteNative("NUMERIC(78, 0)")
        return dialect.type_descriptor(Numeric(78, 0))

    def process_bind_param(self, value: int | Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        number = int(value)
        if number != value:
            raise ValueError(f"Uint256 cannot hold the fraction {value}")
        if number < 0:
            raise ValueError(f"Uint256 cannot hold negative value {number}")
        if number > _SQLITE_MAX and dialect.name == "sqlite":
            return "x" + str(number).zfill(_UINT256_DIGITS)
        return number

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        if isinstance(value, str):
            return int(value[1:] if value.startswith("x") else value)
        return int(value)

    def bulk_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """The bind conversion for trusted Python ints (the indexer's bulk
        inserts): none on PostgreSQL, the large-value text form on SQLite."""
        if dialect.name != "sqlite":
            return None

        def convert(value: int) -> Any:
            return value if value <= _SQLITE_MAX else "x" + str(value).zfill(_UINT256_DIGITS)

        return convert


@lru_cache(maxsize=16384)
def _sqlite_datetime_text(value: dt.datetime) -> str:
    # The layout SQLAlchemy's own SQLite DATETIME uses, so SQL date functions
    # and text comparisons keep working.
    utc = value.astimezone(dt.UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d} "
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}"
    )


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timezone-aware UTC datetime; naive values are refused on the way in.

    PostgreSQL stores ``timestamptz``; SQLite stores naive UTC text
    (``YYYY-MM-DD HH:MM:SS.ffffff``) and the zone is put back on the way out."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return _SQLiteNative("DATETIME")
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware UTC datetime")
        if dialect.name == "sqlite":
            return _sqlite_datetime_text(value)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        stamp: dt.datetime = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
        if stamp.tzinfo is None:
            return stamp.replace(tzinfo=dt.UTC)
        return stamp.astimezone(dt.UTC)

    def bulk_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """The bind conversion for trusted aware datetimes (bulk inserts)."""
        return _sqlite_datetime_text if dialect.name == "sqlite" else None


class CalendarDate(TypeDecorator[dt.date]):
    """A calendar date (SQLAlchemy's ``Date``), with a fast bind conversion
    for the indexer's bulk inserts: on SQLite the same ``YYYY-MM-DD`` text
    SQLAlchemy writes, from ``date.isoformat`` (C) instead of a format string."""

    impl = Date
    cache_ok = True

    def bulk_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        return dt.date.isoformat if dialect.name == "sqlite" else None


#: JSON everywhere, JSONB on PostgreSQL (indexable, compact).
JSONDocument = JSON().with_variant(postgresql.JSONB(), "postgresql")
#: A 64-bit surrogate key that is still SQLite's rowid alias (autoincrement).
BigId = BigInteger().with_variant(Integer(), "sqlite")

#: Room for an invoice number, in characters: the contract takes 1 to 64
#: bytes of UTF-8 (at most 64 characters, also when bytes that are not UTF-8
#: read as U+FFFD); the rest is to spare, so no log can fail an insert.
INVOICE_NUMBER_LENGTH = 256

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Every table of the ledger database (the ORM models of :mod:`ledger.db.models`,
#: ``decisions`` and ``api_keys`` included, are declared on it).
METADATA = MetaData(naming_convention=NAMING_CONVENTION)


# Column factories: the domain types, named once (NOT NULL unless ``nullable``).
def _chain_id(name: str = "chain_id", **kw: Any) -> Column[int]:
    return Column(name, BigInteger, nullable=kw.pop("nullable", False), **kw)


def _block_number(name: str, **kw: Any) -> Column[int]:
    return Column(name, BigInteger, nullable=kw.pop("nullable", False), **kw)


def _address(name: str, **kw: Any) -> Column[str]:
    return Column(name, String(42), nullable=kw.pop("nullable", False), **kw)


def _hash32(name: str, **kw: Any) -> Column[str]:
    return Column(name, String(66), nullable=kw.pop("nullable", False), **kw)


def _amount(name: str, **kw: Any) -> Column[int]:
    return Column(name, Uint256, nullable=kw.pop("nullable", False), **kw)


def _utc_time(name: str, **kw: Any) -> Column[dt.datetime]:
    return Column(name, UTCDateTime, nullable=kw.pop("nullable", False), **kw)


def _column(name: str, type_: Any, **kw: Any) -> Column[Any]:
    return Column(name, type_, nullable=kw.pop("nullable", False), **kw)


def _big_id() -> Column[int]:
    return Column("id", BigId, primary_key=True, autoincrement=True)


# -- chain facts ------------------------------------------------------------------------

EVENTS = Table(
    "events",
    METADATA,
    _big_id(),
    _chain_id(),
    _address("contract"),
    _block_number("block_number"),
    _hash32("block_hash"),
    _utc_time("block_time"),
    _hash32("tx_hash"),
    _column("tx_index", Integer),
    _column("log_index", Integer),
    _column("event", String(64)),
    _column("invoice_id", BigInteger, nullable=True),
    _address("account", nullable=True),
    _amount("amount", nullable=True),
    _column("args", JSONDocument),
    # Idempotency and chain order in one index: a block hash names one
    # block number, so this admits the same rows as (chain_id, block_hash,
    # log_index), and a backfill appends to it in order (migration 0002).
    UniqueConstraint("chain_id", "block_number", "block_hash", "log_index"),
    # Partial: most events have no invoice or no account, and indexing
    # their NULLs would cost a fifth of the insert time. Without the
    # contract: a chain's ledger has one invoice contract (migration 0003).
    Index(
        "ix_events_invoice",
        "chain_id",
        "invoice_id",
        sqlite_where=text("invoice_id IS NOT NULL"),
        postgresql_where=text("invoice_id IS NOT NULL"),
    ),
    Index(
        "ix_events_account",
        "chain_id",
        "account",
        sqlite_where=text("account IS NOT NULL"),
        postgresql_where=text("account IS NOT NULL"),
    ),
)

BLOCKS = Table(
    "blocks",
    METADATA,
    _chain_id(primary_key=True),
    _block_number("number", primary_key=True),
    _hash32("hash"),
    _hash32("parent_hash"),
    _utc_time("timestamp"),
)

CURSORS = Table(
    "cursors",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _chain_id(),
    _column("key", String(64)),
    _column("contracts", JSONDocument),
    _address("invoice_contract"),
    _address("registry_contract"),
    _block_number("start_block"),
    _block_number("block_number", nullable=True),
    _hash32("block_hash", nullable=True),
    _block_number("head_number", nullable=True),
    _utc_time("updated_at", nullable=True),
    UniqueConstraint("chain_id", "key"),
)

# -- projections ------------------------------------------------------------------------

PARTICIPANTS = Table(
    "participants",
    METADATA,
    _chain_id(primary_key=True),
    #: The ParticipantRegistry contract.
    _address("contract", primary_key=True),
    _address("address", primary_key=True),
    _column("name", String(200)),
    _column("roles", SmallInteger),
    _utc_time("kyc_expiry"),
    _column("suspended", Boolean),
    _block_number("admitted_block"),
    _utc_time("admitted_at"),
    _block_number("updated_block"),
    _utc_time("updated_at"),
    Index("ix_participants_name", "chain_id", "name"),
)

INVOICES = Table(
    "invoices",
    METADATA,
    _chain_id(primary_key=True),
    _address("contract", primary_key=True),
    _column("invoice_id", BigInteger, primary_key=True),
    _address("supplier"),
    _address("buyer"),
    _address("holder", nullable=True),
    _address("currency"),
    _amount("amount"),
    _amount("paid"),
    _amount("outstanding"),
    _amount("advance"),
    _address("financier", nullable=True),
    _address("seller", nullable=True),
    _amount("financier_due", nullable=True),
    _amount("financier_paid", default=0, server_default=text("0")),
    _amount("reserve_released", default=0, server_default=text("0")),
    _column("status", String(16)),
    _utc_time("due_at"),
    _column("due_date", CalendarDate),
    _column("number", String(INVOICE_NUMBER_LENGTH), nullable=True),
    _column("number_normalised", String(INVOICE_NUMBER_LENGTH), nullable=True),
    _hash32("doc_hash"),
    _block_number("issued_block"),
    _utc_time("issued_at"),
    _block_number("confirmed_block", nullable=True),
    _utc_time("confirmed_at", nullable=True),
    _block_number("financed_block", nullable=True),
    _utc_time("financed_at", nullable=True),
    _block_number("paid_block", nullable=True),
    _utc_time("paid_at", nullable=True),
    _block_number("cancelled_block", nullable=True),
    _utc_time("cancelled_at", nullable=True),
    _utc_time("last_repaid_at", nullable=True),
    _address("offer_financier", nullable=True),
    _amount("offer_min_advance", nullable=True),
    _utc_time("offer_expires_at", nullable=True),
    _column("offer_recourse", Boolean, nullable=True),
    _column("parent_id", BigInteger, nullable=True),
    _column("root_id", BigInteger, server_default=text("0")),
    _column("depth", SmallInteger, default=0, server_default=text("0")),
    _amount("credited", default=0, server_default=text("0")),
    _column("recourse", Boolean, default=False, server_default=text("false")),
    _column("grace_period", Integer, nullable=True),
    _column("disputed_from", String(16), nullable=True),
    _utc_time("proposed_due_at", nullable=True),
    _column("extensions", SmallInteger, default=0, server_default=text("0")),
    _block_number("defaulted_block", nullable=True),
    _utc_time("defaulted_at", nullable=True),
    _amount("written_off", default=0, server_default=text("0")),
    _amount("recovered", default=0, server_default=text("0")),
    _block_number("updated_block"),
    _utc_time("updated_at"),
    # The API's keyset pages (WHERE ... AND invoice_id > ? ORDER BY
    # invoice_id LIMIT ?): invoice_id last, so a page of a status or a
    # party is read in order, 50 rows for 50 shown (migration 0009).
    Index("ix_invoices_status", "chain_id", "contract", "status", "invoice_id"),
    # `scf invoice list --number` (and per supplier): the contract's identity key.
    Index("ix_invoices_number", "chain_id", "contract", "number_normalised", "supplier"),
    Index("ix_invoices_supplier", "chain_id", "supplier", "invoice_id"),
    Index("ix_invoices_buyer", "chain_id", "buyer", "invoice_id"),
    Index("ix_invoices_holder", "chain_id", "holder", "invoice_id"),
    # Partial: only financed invoices have a seller and a financier, only
    # listed ones an expiry. With these, every term of a party's
    # visibility (ledger.api.access) is indexed.
    Index(
        "ix_invoices_seller",
        "chain_id",
        "seller",
        "invoice_id",
        sqlite_where=text("seller IS NOT NULL"),
        postgresql_where=text("seller IS NOT NULL"),
    ),
    Index(
        "ix_invoices_financier",
        "chain_id",
        "financier",
        "invoice_id",
        sqlite_where=text("financier IS NOT NULL"),
        postgresql_where=text("financier IS NOT NULL"),
    ),
    Index(
        "ix_invoices_listed",
        "chain_id",
        "offer_expires_at",
        sqlite_where=text("offer_expires_at IS NOT NULL"),
        postgresql_where=text("offer_expires_at IS NOT NULL"),
    ),
    Index("ix_invoices_due_date", "chain_id", "due_date"),
    # `scf invoice tree`, verify and reports: every node of a tree.
    Index("ix_invoices_root", "chain_id", "root_id"),
    # Partial: the open book only (the aging report), so the settled history,
    # written-off receivables with nothing left included, is never read
    # however long it grows (migration 0010).
    Index(
        "ix_invoices_open",
        "chain_id",
        "contract",
        "status",
        sqlite_where=text("outstanding > 0"),
        postgresql_where=text("outstanding > 0"),
    ),
)

FINANCINGS = Table(
    "financings",
    METADATA,
    _big_id(),
    _chain_id(),
    _address("contract"),
    _column("invoice_id", BigInteger),
    _address("financier"),
    _address("seller"),
    _amount("advance"),
    _amount("due", server_default=text("0")),
    _column("recourse", Boolean, default=False, server_default=text("false")),
    _column("grace_period", Integer, default=0, server_default=text("0")),
    _address("currency"),
    _block_number("block_number"),
    _hash32("block_hash"),
    _utc_time("block_time"),
    _hash32("tx_hash"),
    _column("log_index", Integer),
    UniqueConstraint("chain_id", "block_hash", "log_index"),
    Index("ix_financings_invoice", "chain_id", "contract", "invoice_id"),
    Index("ix_financings_financier", "chain_id", "financier"),
    ForeignKeyConstraint(
        ["chain_id", "contract", "invoice_id"],
        ["invoices.chain_id", "invoices.contract", "invoices.invoice_id"],
        ondelete="CASCADE",
    ),
)

REPAYMENTS = Table(
    "repayments",
    METADATA,
    _big_id(),
    _chain_id(),
    _address("contract"),
    _column("invoice_id", BigInteger),
    _address("payer"),
    _address("payee"),
    _amount("amount"),
    _amount("to_payee", server_default=text("0")),
    _amount("to_seller", server_default=text("0")),
    _address("seller", nullable=True),
    _amount("total_paid"),
    _column("recovery", Boolean, default=False, server_default=text("false")),
    _address("currency"),
    _block_number("block_number"),
    _hash32("block_hash"),
    _utc_time("block_time"),
    _hash32("tx_hash"),
    _column("log_index", Integer),
    UniqueConstraint("chain_id", "block_hash", "log_index"),
    Index("ix_repayments_invoice", "chain_id", "contract", "invoice_id"),
    Index("ix_repayments_payer", "chain_id", "payer"),
    ForeignKeyConstraint(
        ["chain_id", "contract", "invoice_id"],
        ["invoices.chain_id", "invoices.contract", "invoices.invoice_id"],
        ondelete="CASCADE",
    ),
)

INCIDENTS = Table(
    "incidents",
    METADATA,
    _big_id(),
    _chain_id(),
    _address("contract"),
    _column("invoice_id", BigInteger),
    _column("kind", String(24)),
    _address("actor"),
    _address("counterparty", nullable=True),
    _amount("amount", nullable=True),
    _amount("paid_to_holder", nullable=True),
    _amount("outstanding", nullable=True),
    _hash32("reference", nullable=True),
    _utc_time("old_due_at", nullable=True),
    _utc_time("new_due_at", nullable=True),
    _column("status", String(16), nullable=True),
    _block_number("block_number"),
    _hash32("block_hash"),
    _utc_time("block_time"),
    _hash32("tx_hash"),
    _column("log_index", Integer),
    UniqueConstraint("chain_id", "block_hash", "log_index"),
    Index("ix_incidents_invoice", "chain_id", "contract", "invoice_id"),
    Index("ix_incidents_kind", "chain_id", "kind"),
    ForeignKeyConstraint(
        ["chain_id", "contract", "invoice_id"],
        ["invoices.chain_id", "invoices.contract", "invoices.invoice_id"],
        ondelete="CASCADE",
    ),
)

#: Incident kinds, by the event that records each.
INCIDENT_KINDS: dict[str, str] = {
    "InvoiceDisputed": "disputed",
    "DisputeWithdrawn": "dispute_withdrawn",
    "CreditNoteIssued": "credit_note",
    "ExtensionProposed": "extension_proposed",
    "MaturityExtended": "extended",
    "InvoiceDefaulted": "defaulted",
    "InvoiceBoughtBack": "bought_back",
    "InvoiceWrittenOff": "written_off",
}
