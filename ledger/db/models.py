"""The indexed ledger's tables as SQLAlchemy 2 typed ORM models, and what
each table and column means.

The schema itself (columns, types, indexes, constraints) is
:mod:`ledger.db.tables`, in SQLAlchemy Core; each model here is mapped onto
its table (``__table__``), so ``Invoice.status`` and ``INVOICES.c.status``
are the same column and ``Base.metadata`` is :data:`ledger.db.tables.METADATA`
(migrations compare against it). The read side builds on the tables and
never imports this module or ``sqlalchemy.orm``: commands that only read
start fast (DESIGN section 7). Writers, the decisions and the API keys
(``ledger.finance.models``, ``ledger.api.models``) use the models.

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
floats), times timezone-aware UTC (:class:`UTCDateTime`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, ClassVar

from sqlalchemy import BigInteger, FromClause, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The schema, re-exported: the writers and the tests name them from here.
from ledger.db.tables import BLOCKS as BLOCKS
from ledger.db.tables import CURSORS as CURSORS
from ledger.db.tables import EVENTS as EVENTS
from ledger.db.tables import FINANCINGS as FINANCINGS
from ledger.db.tables import INCIDENT_KINDS as INCIDENT_KINDS
from ledger.db.tables import INCIDENTS as INCIDENTS
from ledger.db.tables import INVOICE_NUMBER_LENGTH as INVOICE_NUMBER_LENGTH
from ledger.db.tables import INVOICES as INVOICES
from ledger.db.tables import METADATA as METADATA
from ledger.db.tables import NAMING_CONVENTION as NAMING_CONVENTION
from ledger.db.tables import PARTICIPANTS as PARTICIPANTS
from ledger.db.tables import REPAYMENTS as REPAYMENTS
from ledger.db.tables import BigId as BigId
from ledger.db.tables import CalendarDate as CalendarDate
from ledger.db.tables import JSONDocument as JSONDocument
from ledger.db.tables import Uint256 as Uint256
from ledger.db.tables import UTCDateTime as UTCDateTime

# The column types of annotated models (``ledger.finance.models``, ``ledger.api.models``).
ChainId = Annotated[int, mapped_column(BigInteger)]
BlockNumber = Annotated[int, mapped_column(BigInteger)]
Address = Annotated[str, mapped_column(String(42))]
Hash32 = Annotated[str, mapped_column(String(66))]
Amount = Annotated[int, mapped_column(Uint256)]
UtcTime = Annotated[dt.datetime, mapped_column(UTCDateTime)]


class Base(DeclarativeBase):
    metadata = METADATA


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

    # Typed as DeclarativeBase types it (a FromClause); the Table itself is ledger.db.tables.EVENTS.
    __table__: ClassVar[FromClause] = EVENTS

    id: Mapped[int]
    chain_id: Mapped[ChainId]
    contract: Mapped[Address]
    block_number: Mapped[BlockNumber]
    block_hash: Mapped[Hash32]
    block_time: Mapped[UtcTime]
    tx_hash: Mapped[Hash32]
    tx_index: Mapped[int]
    log_index: Mapped[int]
    event: Mapped[str]
    invoice_id: Mapped[int | None]
    account: Mapped[Address | None]
    amount: Mapped[Amount | None]
    args: Mapped[dict[str, Any]]


class Block(Base):
    """A block the indexer has seen and that may still be reorganised away
    (plus the cursor blocks): the hashes reorg detection compares against."""

    __table__: ClassVar[FromClause] = BLOCKS

    chain_id: Mapped[ChainId]
    number: Mapped[BlockNumber]
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

    __table__: ClassVar[FromClause] = CURSORS

    id: Mapped[int]
    chain_id: Mapped[ChainId]
    key: Mapped[str]
    contracts: Mapped[dict[str, str]]
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

    __table__: ClassVar[FromClause] = PARTICIPANTS

    chain_id: Mapped[ChainId]
    #: The ParticipantRegistry contract.
    contract: Mapped[Address]
    address: Mapped[Address]
    name: Mapped[str]
    roles: Mapped[int]
    kyc_expiry: Mapped[UtcTime]
    suspended: Mapped[bool]
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

    __table__: ClassVar[FromClause] = INVOICES

    chain_id: Mapped[ChainId]
    contract: Mapped[Address]
    invoice_id: Mapped[int]
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
    financier_paid: Mapped[Amount]
    reserve_released: Mapped[Amount]
    status: Mapped[str]
    due_at: Mapped[UtcTime]
    due_date: Mapped[dt.date]
    number: Mapped[str | None]
    number_normalised: Mapped[str | None]
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
    offer_recourse: Mapped[bool | None]
    #: Lineage (contracts version 3): the invoice split to make this part
    #: (None for a root, an issued invoice), the root of its tree (itself for
    #: a root) and its depth (0 for a root; tier = depth + 1).
    parent_id: Mapped[int | None]
    root_id: Mapped[int]
    depth: Mapped[int]
    #: When things go wrong (contracts version 4; see :class:`Incident` for each event).
    #: Credit notes so far (the face amount at issue or split is ``amount + credited``).
    credited: Mapped[Amount]
    #: The financing's terms: recourse to the seller after a default, and its grace
    #: period in seconds (None while unfinanced: the deployment's applies).
    recourse: Mapped[bool]
    grace_period: Mapped[int | None]
    #: While Disputed: the status the dispute interrupted.
    disputed_from: Mapped[str | None]
    #: A due date the buyer proposed that the holder has not accepted.
    proposed_due_at: Mapped[UtcTime | None]
    #: Maturity extensions accepted.
    extensions: Mapped[int]
    defaulted_block: Mapped[BlockNumber | None]
    defaulted_at: Mapped[UtcTime | None]
    #: The holder's claim written off (InvoiceWrittenOff.amount).
    written_off: Mapped[Amount]
    #: What the buyer paid after the default (recoveries, to holder and seller together).
    recovered: Mapped[Amount]
    updated_block: Mapped[BlockNumber]
    updated_at: Mapped[UtcTime]


class Financing(Base):
    """One InvoiceFinanced event: the advance paid by ``financier`` to
    ``seller``, and ``due``, what the financier side is owed of the buyer's
    later payments (the open amount at financing less ``due`` is the
    seller's reserve)."""

    __table__: ClassVar[FromClause] = FINANCINGS

    id: Mapped[int]
    chain_id: Mapped[ChainId]
    contract: Mapped[Address]
    invoice_id: Mapped[int]
    financier: Mapped[Address]
    seller: Mapped[Address]
    advance: Mapped[Amount]
    due: Mapped[Amount]
    #: Contracts version 4: recourse to the seller after a default; grace period in seconds.
    recourse: Mapped[bool]
    grace_period: Mapped[int]
    currency: Mapped[Address]
    block_number: Mapped[BlockNumber]
    block_hash: Mapped[Hash32]
    block_time: Mapped[UtcTime]
    tx_hash: Mapped[Hash32]
    log_index: Mapped[int]


class Repayment(Base):
    """One InvoiceRepaid event: ``payer`` (the buyer) paid ``amount``:
    ``to_payee`` of it to the holder ``payee``, ``to_seller`` (the reserve
    released by it, also a ReserveReleased event) to ``seller``, the holder
    at financing (None: the invoice was not financed when paid)."""

    __table__: ClassVar[FromClause] = REPAYMENTS

    id: Mapped[int]
    chain_id: Mapped[ChainId]
    contract: Mapped[Address]
    invoice_id: Mapped[int]
    payer: Mapped[Address]
    payee: Mapped[Address]
    amount: Mapped[Amount]
    to_payee: Mapped[Amount]
    to_seller: Mapped[Amount]
    seller: Mapped[Address | None]
    total_paid: Mapped[Amount]
    #: Paid while the invoice was Defaulted or WrittenOff (a recovery).
    recovery: Mapped[bool]
    currency: Mapped[Address]
    block_number: Mapped[BlockNumber]
    block_hash: Mapped[Hash32]
    block_time: Mapped[UtcTime]
    tx_hash: Mapped[Hash32]
    log_index: Mapped[int]


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

    __table__: ClassVar[FromClause] = INCIDENTS

    id: Mapped[int]
    chain_id: Mapped[ChainId]
    contract: Mapped[Address]
    invoice_id: Mapped[int]
    kind: Mapped[str]
    actor: Mapped[Address]
    counterparty: Mapped[Address | None]
    amount: Mapped[Amount | None]
    paid_to_holder: Mapped[Amount | None]
    outstanding: Mapped[Amount | None]
    reference: Mapped[Hash32 | None]
    old_due_at: Mapped[UtcTime | None]
    new_due_at: Mapped[UtcTime | None]
    status: Mapped[str | None]
    block_number: Mapped[BlockNumber]
    block_hash: Mapped[Hash32]
    block_time: Mapped[UtcTime]
    tx_hash: Mapped[Hash32]
    log_index: Mapped[int]
