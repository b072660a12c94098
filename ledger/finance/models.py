"""The ``decisions`` table: every financing decision, with what it saw and why.

A decision is written once by ``scf finance quote`` (status ``approved`` or
``declined``) and later changes only its status (``executed``, ``expired``,
``failed`` when `finance auto` could not execute it, or ``cancelled`` by
`scf finance cancel`, with who, when and why: either way it then no longer
uses limit headroom) and its execution link (transaction, block, the
InvoiceFinanced event).
Money is integer minor units (:class:`Uint256`), rates exact decimals
(:class:`ExactDecimal`), times timezone-aware UTC; ``as_of`` and
``expires_at`` are decision time (the later of the indexed block's time and
the wall clock), ``created_at`` wall time.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, Numeric, SmallInteger, String, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from ledger.db.models import (
    Address,
    Amount,
    Base,
    BigId,
    BlockNumber,
    ChainId,
    Hash32,
    JSONDocument,
    Uint256,
    UtcTime,
)

APPROVED, DECLINED, EXECUTED, EXPIRED, FAILED = "approved", "declined", "executed", "expired", "failed"
CANCELLED = "cancelled"
STATUSES = (APPROVED, DECLINED, EXECUTED, EXPIRED, FAILED, CANCELLED)


class ExactDecimal(TypeDecorator[Decimal]):
    """A rate as an exact Decimal: ``numeric(30, 12)`` on PostgreSQL; on SQLite
    the decimal text (a NUMERIC column there would turn it into a float)."""

    impl = Numeric(30, 12).with_variant(String(40), "sqlite")
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return format(Decimal(value), "f") if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(str(value)).normalize() if not isinstance(value, Decimal) else value.normalize()


class Decision(Base):
    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_financier", "chain_id", "financier", "status"),
        Index("ix_decisions_invoice", "chain_id", "contract", "invoice_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    chain_id: Mapped[ChainId]
    #: The InvoiceToken contract.
    contract: Mapped[Address]
    invoice_id: Mapped[int] = mapped_column(BigInteger)
    financier: Mapped[Address]
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[UtcTime]
    #: The indexed block the decision was computed at, and its time (the decision's "now").
    block_number: Mapped[BlockNumber]
    block_hash: Mapped[Hash32]
    as_of: Mapped[UtcTime]
    #: Chain time after which the decision can no longer be executed.
    expires_at: Mapped[UtcTime]
    policy_hash: Mapped[str] = mapped_column(String(64))
    policy_source: Mapped[str] = mapped_column(Text)
    policy: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    grade: Mapped[str | None] = mapped_column(String(8))
    #: What the decision saw of the invoice.
    currency: Mapped[Address]
    currency_symbol: Mapped[str] = mapped_column(String(12))
    decimals: Mapped[int] = mapped_column(SmallInteger)
    supplier: Mapped[Address]
    buyer: Mapped[Address]
    holder: Mapped[Address | None]
    amount: Mapped[Amount]
    open_amount: Mapped[Amount]
    due_at: Mapped[UtcTime]
    invoice_status: Mapped[str] = mapped_column(String(16))
    #: The price (None when no price could be computed).
    advance: Mapped[int | None] = mapped_column(Uint256)
    discount: Mapped[int | None] = mapped_column(Uint256)
    fees: Mapped[int | None] = mapped_column(Uint256)
    net_advance: Mapped[int | None] = mapped_column(Uint256)
    reserve: Mapped[int | None] = mapped_column(Uint256)
    days: Mapped[int | None] = mapped_column(Integer)
    day_count: Mapped[str | None] = mapped_column(String(8))
    advance_rate: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    annual_rate: Mapped[Decimal | None] = mapped_column(ExactDecimal)
    #: The exposure the limits saw (this invoice excluded, pending decisions included).
    exposure_book: Mapped[Amount]
    exposure_buyer: Mapped[Amount]
    exposure_supplier: Mapped[Amount]
    #: Every rule: [{name, inputs, outcome, reason}], in evaluation order. The inputs of
    #: ``financing_terms`` are the financing's terms the execution sends (recourse, grace_seconds;
    #: see ledger.finance.records.decision_terms), as the limit rules' are the limits it rechecks.
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    reason: Mapped[str] = mapped_column(Text)
    #: Execution: the financing transaction and the InvoiceFinanced event it emitted.
    tx_hash: Mapped[Hash32 | None]
    executed_block: Mapped[BlockNumber | None]
    executed_at: Mapped[UtcTime | None]
    #: ``events.id`` of the InvoiceFinanced row (no foreign key: a reorg may delete and re-insert the
    #: event, and its natural key (block hash, log index) is kept too).
    event_id: Mapped[int | None] = mapped_column(BigInteger)
    event_block_hash: Mapped[Hash32 | None]
    event_log_index: Mapped[int | None] = mapped_column(Integer)
    #: Cancellation (`scf finance cancel`) of an approval that will not be executed: when (wall
    #: clock, UTC), by whom (the operating system user who ran the command) and why.
    cancelled_at: Mapped[UtcTime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(128))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
