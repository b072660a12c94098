"""The indexed ledger's tables, as SQLAlchemy 2 typed models.

Two kinds of tables:

* chain facts, written by the indexer only: ``events`` (append-only, one row
  per contract log, decoded), ``blocks`` (hashes of the recent, not yet final
  blocks, for reorg detection) and ``cursors`` (how far each deployment's
  contracts are indexed);
* projections, derived from ``events`` alone and rebuilt from it at will:
  ``participants``, ``invoices`` (current state), ``financings`` and
  ``repayments``.

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
from typing import Annotated, Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
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
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator, TypeEngine, UserDefinedType

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

ChainId = Annotated[int, mapped_column(BigInteger)]
BlockNumber = Annotated[int, mapped_column(BigInteger)]
Address = Annotated[str, mapped_column(String(42))]
Hash32 = Annotated[str, mapped_column(String(66))]
Amount = Annotated[int, mapped_column(Uint256)]
UtcTime = Annotated[dt.datetime, mapped_column(UTCDateTime)]
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


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# -- chain facts ------------------------------------------------------------------------


class Event(Base):
    """One decoded contract log. Append-only: rows are only ever inserted,
    and deleted when a reorg removes their block.

    ``args`` holds every decoded argument by its ABI name: integers as decimal
    strings (JSON numbers lose precision above 2^53), addresses checksummed,
    bytes as ``0x`` hex, bools as bools. The typed columns repeat what the
    queries filter on:

    * ``invoice_id``: the invoice (token id) of InvoiceToken events;
    * ``account``: the participant of ParticipantRegistry events;
    * ``amount``: the money of the event (InvoiceIssued.amount,
      InvoiceFinanced.advance, InvoiceRepaid.amount, FinancingOffered.minAdvance,
      ReserveReleased.amount, PartCreated.amount, RootRepaid.amount,
      CreditNoteIssued.credit, InvoiceDefaulted.holderClaim,
      InvoiceBoughtBack.amount, InvoiceWrittenOff.amount, ERC-20
      Transfer/Approval value), in minor units.
    """

    __tablename__ = "events"
    __table_args__ = (
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

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chain_id: Mapped[ChainId]
    contract: Mapped[Address]
    block_number: Mapped[BlockNumber]
    block_hash: Mapped[Hash32]
    block_time: Mapped[UtcTime]
    tx_hash: Mapped[Hash32]
    tx_index: Mapped[int] = mapped_column(Integer)
    log_index: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(64))
    invoice_id: Mapped[int | None] = mapped_column(BigInteger)
    account: Mapped[Address | None]
    amount: Mapped[Amount | None]
    args: Mapped[dict[str, Any]] = mapped_column(JSONDocument)


class Block(Base):
    """A block the indexer has seen and that may still be reorganised away
    (plus the cursor blocks): the hashes reorg detection compares against."""

    __tablename__ = "blocks"

    chain_id: Mapped[ChainId] = mapped_column(primary_key=True)
    number: Mapped[BlockNumber] = mapped_column(primary_key=True)
    hash: Mapped[Hash32]
    parent_hash: Mapped[Hash32]
    timestamp: Mapped[UtcTime]


class Cursor(Base):
    """How far the contracts of one deployment are indexed on one chain.

    ``key`` identifies the contract set (a hash of its sorted addresses), so a
    redeployment gets its own cursor; ``contracts`` maps contract names of the
    deployment record to addresses. ``block_number``/``block_hash`` are the
    last block fully indexed (None before the first batch); they advance in
    the same transaction as the rows of that block range.
    """

    __tablename__ = "cursors"
    __table_args__ = (UniqueConstraint("chain_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain_id: Mapped[ChainId]
    key: Mapped[str] = mapped_column(String(64))
    contracts: Mapped[dict[str, str]] = mapped_column(JSONDocument)
    invoice_contract: Mapped[Address]
    registry_contract: Mapped[Address]
    start_block: Mapped[BlockNumber]
    block_number: Mapped[BlockNumber | None]
    block_hash: Mapped[Hash32 | None]
    head_number: Mapped[BlockNumber | None]
    updated_at: Mapped[UtcTime | None]


# -- projections ------------------------------------------------------------------------


class Participant(Base):
    """A participant as the registry holds it now (from its events)."""

    __tablename__ = "participants"
    __table_args__ = (Index("ix_participants_name", "chain_id", "name"),)

    chain_id: Mapped[ChainId] = mapped_column(primary_key=True)
    #: The ParticipantRegistry contract.
    contract: Mapped[Address] = mapped_column(primary_key=True)
    address: Mapped[Address] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    roles: Mapped[int] = mapped_column(SmallInteger)
    kyc_expiry: Mapped[UtcTime]
    suspended: Mapped[bool] = mapped_column(Boolean)
    admitted_block: Mapped[BlockNumber]
    admitted_at: Mapped[UtcTime]
    updated_block: Mapped[BlockNumber]
    updated_at: Mapped[UtcTime]


class Invoice(Base):
    """An invoice's current state, folded from its events.

    ``status`` is the contract's Status name (Issued, Confirmed, Financed,
    PartiallyPaid, Paid, Cancelled, Split, Disputed, Defaulted, WrittenOff): a
    financed invoice that is partly or fully paid is PartiallyPaid or Paid, so
    whether it was financed is ``seller IS NOT NULL``. ``number`` is the invoice number as the supplier
    wrote it (from InvoiceIssued; bytes that are not UTF-8 read as U+FFFD),
    ``number_normalised`` its normal form
    (:func:`ledger.invoice_numbers.normalise_invoice_number`; None if it has
    none, and for a part, which has no number of its own). ``holder`` is None
    once burnt (cancelled). ``outstanding`` = ``amount`` - ``paid``, except for
    a Split invoice: 0, its open amount lives in its parts (for every Split
    invoice, ``paid`` + the sum of its parts' face amounts at split,
    ``amount + credited``, = ``amount``). A part
    (``parent_id`` set) has its root's supplier, buyer, currency, due date,
    document hash and confirmation. ``due_at`` is the on-chain due timestamp (the last
    second of ``due_date`` in the business time zone for invoices issued by
    scf; clamped to year 9999); ``due_date`` is its business date
    (:mod:`ledger.business_time`; after a zone change, `scf index rebuild`).

    Financing: ``seller`` is the holder that sold the receivable (None: never
    financed), ``financier``/``advance`` who paid it how much,
    ``financier_due`` what the financier side is due of the buyer's later
    payments, ``financier_paid`` what it received of that so far (the
    ``toHolder`` parts of the payments after financing); the seller's reserve
    is the open amount at financing less ``financier_due``, and
    ``reserve_released`` what of it the buyer's payments sent the seller. The
    reserve still open is ``outstanding - (financier_due - financier_paid)``.

    The ``offer_*`` columns mirror the stored listing (``getListing``):
    ``offer_expires_at`` None: none; ``offer_financier`` None: any financier.
    A listing ends when withdrawn, financed, or when the receivable changes
    hands; it is live while the chain's time is at most ``offer_expires_at``.

    When things go wrong (contracts version 4): a credit note lowers
    ``amount`` (``credited`` adds up the notes) and, when it closes the
    receivable, sets ``paid_*`` (Paid: something was paid) or
    ``cancelled_*`` (Cancelled; the token is not burnt, ``holder`` stays); the
    seller's payment to a financier holding it counts in ``financier_paid``.
    A buy-back sets ``financier_paid`` to ``financier_due`` (the token's move
    to the seller is its Transfer). ``defaulted_block`` set means every later
    payment is a recovery (``recovered``; ``repayments.recovery``): the
    status stays Defaulted or WrittenOff until the invoice is fully paid.
    """

    __tablename__ = "invoices"
    __table_args__ = (
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
    )

    chain_id: Mapped[ChainId] = mapped_column(primary_key=True)
    contract: Mapped[Address] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    supplier: Mapped[Address]
    buyer: Mapped[Address]
    holder: Mapped[Address | None]
    currency: Mapped[Address]
    amount: Mapped[Amount]
    paid: Mapped[Amount]
    outstanding: Mapped[Amount]
    advance: Mapped[Amount]
    financier: Mapped[Address | None]
    seller: Mapped[Address | None]
    financier_due: Mapped[Amount | None]
    financier_paid: Mapped[Amount] = mapped_column(default=0, server_default=text("0"))
    reserve_released: Mapped[Amount] = mapped_column(default=0, server_default=text("0"))
    status: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[UtcTime]
    due_date: Mapped[dt.date] = mapped_column(CalendarDate)
    number: Mapped[str | None] = mapped_column(String(INVOICE_NUMBER_LENGTH))
    number_normalised: Mapped[str | None] = mapped_column(String(INVOICE_NUMBER_LENGTH))
    doc_hash: Mapped[Hash32]
    issued_block: Mapped[BlockNumber]
    issued_at: Mapped[UtcTime]
    confirmed_block: Mapped[BlockNumber | None]
    confirmed_at: Mapped[UtcTime | None]
    financed_block: Mapped[BlockNumber | None]
    financed_at: Mapped[UtcTime | None]
    paid_block: Mapped[BlockNumber | None]
    paid_at: Mapped[UtcTime | None]
    cancelled_block: Mapped[BlockNumber | None]
    cancelled_at: Mapped[UtcTime | None]
    last_repaid_at: Mapped[UtcTime | None]
    offer_financier: Mapped[Address | None]
    offer_min_advance: Mapped[Amount | None]
    offer_expires_at: Mapped[UtcTime | None]
    #: Whether the listing accepts a financing with recourse (contracts version 4; None: no listing).
    offer_recourse: Mapped[bool | None] = mapped_column(Boolean)
    #: Lineage (contracts version 3): the invoice split to make this part
    #: (None for a root, an issued invoice), the root of its tree (itself for
    #: a root) and its depth (0 for a root; tier = depth + 1).
    parent_id: Mapped[int | None] = mapped_column(BigInteger)
    root_id: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    depth: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))
    #: When things go wrong (contracts version 4; see :class:`Incident` for each event).
    #: Credit notes so far (the face amount at issue or split is ``amount + credited``).
    credited: Mapped[Amount] = mapped_column(default=0, server_default=text("0"))
    #: The financing's terms: recourse to the seller after a default, and its grace
    #: period in seconds (None while unfinanced: the deployment's applies).
    recourse: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    grace_period: Mapped[int | None] = mapped_column(Integer)
    #: While Disputed: the status the dispute interrupted.
    disputed_from: Mapped[str | None] = mapped_column(String(16))
    #: A due date the buyer proposed that the holder has not accepted.
    proposed_due_at: Mapped[UtcTime | None]
    #: Maturity extensions accepted.
    extensions: Mapped[int] = mapped_column(SmallInteger, default=0, server_default=text("0"))
    defaulted_block: Mapped[BlockNumber | None]
    defaulted_at: Mapped[UtcTime | None]
    #: The holder's claim written off (InvoiceWrittenOff.amount).
    written_off: Mapped[Amount] = mapped_column(default=0, server_default=text("0"))
    #: What the buyer paid after the default (recoveries, to holder and seller together).
    recovered: Mapped[Amount] = mapped_column(default=0, server_default=text("0"))
    updated_block: Mapped[BlockNumber]
    updated_at: Mapped[UtcTime]


class Financing(Base):
    """One InvoiceFinanced event: the advance paid by ``financier`` to
    ``seller``, and ``due``, what the financier side is owed of the buyer's
    later payments (the open amount at financing less ``due`` is the
    seller's reserve)."""

    __tablename__ = "financings"
    __table_args__ = (
        UniqueConstraint("chain_id", "block_hash", "log_index"),
        Index("ix_financings_invoice", "chain_id", "contract", "invoice_id"),
        Index("ix_financings_financier", "chain_id", "financier"),
        ForeignKeyConstraint(
            ["chain_id", "contract", "invoice_id"],
            ["invoices.chain_id", "invoices.contract", "invoices.invoice_id"],
            ondelete="CASCADE",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chain_id: Mapped[ChainId]
    contract: Mapped[Address]
    invoice_id: Mapped[int] = mapped_column(BigInteger)
    financier: Mapped[Address]
    seller: Mapped[Address]
    advance: Mapped[Amount]
    due: Mapped[Amount] = mapped_column(server_default=text("0"))
    #: Contracts version 4: recourse to the seller after a default; grace period in seconds.
    recourse: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    grace_period: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    currency: Mapped[Address]
    block_number: Mapped[BlockNumber]
    block_hash: Mapped[Hash32]
    block_time: Mapped[UtcTime]
    tx_hash: Mapped[Hash32]
    log_index: Mapped[int] = mapped_column(Integer)


class Repayment(Base):
    """One InvoiceRepaid event: ``payer`` (the buyer) paid ``amount``:
    ``to_payee`` of it to the holder ``payee``, ``to_seller`` (the reserve
    released by it, also a ReserveReleased event) to ``seller``, the holder
    at financing (None: the invoice was not financed when paid)."""

    __tablename__ = "repayments"
    __table_args__ = (
        UniqueConstraint("chain_id", "block_hash", "log_index"),
        Index("ix_repayments_invoice", "chain_id", "contract", "invoice_id"),
        Index("ix_repayments_payer", "chain_id", "payer"),
        ForeignKeyConstraint(
            ["chain_id", "contract", "invoice_id"],
            ["invoices.chain_id", "invoices.contract", "invoices.invoice_id"],
            ondelete="CASCADE",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chain_id: Mapped[ChainId]
    contract: Mapped[Address]
    invoice_id: Mapped[int] = mapped_column(BigInteger)
    payer: Mapped[Address]
    payee: Mapped[Address]
    amount: Mapped[Amount]
    to_payee: Mapped[Amount] = mapped_column(server_default=text("0"))
    to_seller: Mapped[Amount] = mapped_column(server_default=text("0"))
    seller: Mapped[Address | None]
    total_paid: Mapped[Amount]
    #: Paid while the invoice was Defaulted or WrittenOff (a recovery).
    recovery: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    currency: Mapped[Address]
    block_number: Mapped[BlockNumber]
    block_hash: Mapped[Hash32]
    block_time: Mapped[UtcTime]
    tx_hash: Mapped[Hash32]
    log_index: Mapped[int] = mapped_column(Integer)


class Incident(Base):
    """One event of when things go wrong (contracts version 4), by ``kind``:

    ========================  ==============  ==============  =========================================
    kind (event)              actor           counterparty    amounts, reference, dates, status
    ========================  ==============  ==============  =========================================
    ``disputed``              buyer           holder          ``reference`` reason hash; ``status``
    (InvoiceDisputed)                                         the status interrupted (``previous``)
    ``dispute_withdrawn``     buyer           None            ``status`` restored
    ``credit_note``           issuer          holder          ``amount`` credit, ``paid_to_holder``
    (CreditNoteIssued)        (creditor)                      (seller to financier), ``outstanding``
                                                              open after, ``reference`` note hash,
                                                              ``status`` after
    ``extension_proposed``    buyer           None            ``old_due_at``, ``new_due_at`` proposed
    ``extended``              holder          None            ``old_due_at``, ``new_due_at``
    (MaturityExtended)
    ``defaulted``             holder          None            ``amount`` holder's claim,
                                                              ``outstanding`` buyer's open amount
    ``bought_back``           seller          holder          ``amount`` paid by the seller to holder
    ``written_off``           holder          None            ``amount`` written off
    ========================  ==============  ==============  =========================================
    """

    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("chain_id", "block_hash", "log_index"),
        Index("ix_incidents_invoice", "chain_id", "contract", "invoice_id"),
        Index("ix_incidents_kind", "chain_id", "kind"),
        ForeignKeyConstraint(
            ["chain_id", "contract", "invoice_id"],
            ["invoices.chain_id", "invoices.contract", "invoices.invoice_id"],
            ondelete="CASCADE",
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chain_id: Mapped[ChainId]
    contract: Mapped[Address]
    invoice_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(24))
    actor: Mapped[Address]
    counterparty: Mapped[Address | None]
    amount: Mapped[Amount | None]
    paid_to_holder: Mapped[Amount | None]
    outstanding: Mapped[Amount | None]
    reference: Mapped[Hash32 | None]
    old_due_at: Mapped[UtcTime | None]
    new_due_at: Mapped[UtcTime | None]
    status: Mapped[str | None] = mapped_column(String(16))
    block_number: Mapped[BlockNumber]
    block_hash: Mapped[Hash32]
    block_time: Mapped[UtcTime]
    tx_hash: Mapped[Hash32]
    log_index: Mapped[int] = mapped_column(Integer)


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


# The tables as Core ``Table`` objects (``Model.__table__`` is typed as a
# plain FromClause), for bulk statements.
EVENTS = cast(Table, Event.__table__)
BLOCKS = cast(Table, Block.__table__)
CURSORS = cast(Table, Cursor.__table__)
PARTICIPANTS = cast(Table, Participant.__table__)
INVOICES = cast(Table, Invoice.__table__)
FINANCINGS = cast(Table, Financing.__table__)
REPAYMENTS = cast(Table, Repayment.__table__)
INCIDENTS = cast(Table, Incident.__table__)
