"""When things go wrong (contracts version 4): disputes, credit notes,
extensions, defaults, write-offs, recourse and buy-backs.

``invoices`` gains ``credited`` (credit notes so far: the face amount at issue
or split is ``amount + credited``), ``recourse`` and ``grace_period`` (the
financing's terms; ``grace_period`` NULL while unfinanced: the deployment's
applies), ``disputed_from`` (while Disputed, the status the dispute
interrupted), ``proposed_due_at`` (a due date the buyer proposed and the holder
has not accepted), ``extensions`` (accepted ones), ``defaulted_at`` /
``defaulted_block``, ``written_off`` (the holder's claim written off) and
``recovered`` (what the buyer paid after the default) and ``offer_recourse``
(whether the listing accepts recourse). ``financings`` gains
``recourse`` and ``grace_period``; ``repayments`` gains ``recovery`` (paid
while Defaulted or WrittenOff). The new table ``incidents`` holds one row per
event of these kinds. Only ALTER TABLE ADD COLUMN on existing tables, also on
SQLite (see 0004).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Plain types here (not the models' TypeDecorators), so this migration never
# changes when the Python-side conversions do.
UINT256 = sa.Numeric(78, 0)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ZERO = sa.text("0")
FALSE = sa.false()


def invoice_columns() -> tuple[sa.Column[Any], ...]:
    """The new ``invoices`` columns (new objects each call: a Column belongs to one table)."""
    return (
        sa.Column("credited", UINT256, nullable=False, server_default=ZERO),
        sa.Column("recourse", sa.Boolean(), nullable=False, server_default=FALSE),
        sa.Column("grace_period", sa.Integer(), nullable=True),
        sa.Column("disputed_from", sa.String(length=16), nullable=True),
        sa.Column("proposed_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("extensions", sa.SmallInteger(), nullable=False, server_default=ZERO),
        sa.Column("defaulted_block", sa.BigInteger(), nullable=True),
        sa.Column("defaulted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("written_off", UINT256, nullable=False, server_default=ZERO),
        sa.Column("recovered", UINT256, nullable=False, server_default=ZERO),
        sa.Column("offer_recourse", sa.Boolean(), nullable=True),
    )


def upgrade() -> None:
    for column in invoice_columns():
        op.add_column("invoices", column)
    op.add_column("financings", sa.Column("recourse", sa.Boolean(), nullable=False, server_default=FALSE))
    op.add_column("financings", sa.Column("grace_period", sa.Integer(), nullable=False, server_default=ZERO))
    op.add_column("repayments", sa.Column("recovery", sa.Boolean(), nullable=False, server_default=FALSE))
    op.create_table(
        "incidents",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("actor", sa.String(length=42), nullable=False),
        sa.Column("counterparty", sa.String(length=42), nullable=True),
        sa.Column("amount", UINT256, nullable=True),
        sa.Column("paid_to_holder", UINT256, nullable=True),
        sa.Column("outstanding", UINT256, nullable=True),
        sa.Column("reference", sa.String(length=66), nullable=True),
        sa.Column("old_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("new_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chain_id", "contract", "invoice_id"],
            ["invoices.chain_id", "invoices.contract", "invoices.invoice_id"],
            name=op.f("fk_incidents_chain_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
        sa.UniqueConstraint(
            "chain_id", "block_hash", "log_index", name=op.f("uq_incidents_chain_id_block_hash_log_index")
        ),
    )
    op.create_index("ix_incidents_invoice", "incidents", ["chain_id", "contract", "invoice_id"])
    op.create_index("ix_incidents_kind", "incidents", ["chain_id", "kind"])


def downgrade() -> None:
    op.drop_index("ix_incidents_kind", table_name="incidents")
    op.drop_index("ix_incidents_invoice", table_name="incidents")
    op.drop_table("incidents")
    op.drop_column("repayments", "recovery")
    for column in ("grace_period", "recourse"):
        op.drop_column("financings", column)
    for column in reversed(invoice_columns()):
        op.drop_column("invoices", column.name)
