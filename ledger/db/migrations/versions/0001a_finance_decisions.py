"""Financing decisions (scf finance quote/execute/auto): one row per decision.

Revision ID: f001
Revises: 0001

The file sorts where the migration applies (after 0001, before 0002); its
revision id stays "f001", as databases already record it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Plain types (not the models' TypeDecorators), so this migration never changes
# when the Python-side conversions do.
UINT256 = sa.Numeric(78, 0)
#: Exact rates: numeric on PostgreSQL, decimal text on SQLite (whose NUMERIC would make them floats).
RATE = sa.Numeric(30, 12).with_variant(sa.String(length=40), "sqlite")
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "f001"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decisions",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("financier", sa.String(length=42), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy_hash", sa.String(length=64), nullable=False),
        sa.Column("policy_source", sa.Text(), nullable=False),
        sa.Column("policy", JSON_DOCUMENT, nullable=False),
        sa.Column("grade", sa.String(length=8), nullable=True),
        sa.Column("currency", sa.String(length=42), nullable=False),
        sa.Column("currency_symbol", sa.String(length=12), nullable=False),
        sa.Column("decimals", sa.SmallInteger(), nullable=False),
        sa.Column("supplier", sa.String(length=42), nullable=False),
        sa.Column("buyer", sa.String(length=42), nullable=False),
        sa.Column("holder", sa.String(length=42), nullable=True),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("open_amount", UINT256, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("invoice_status", sa.String(length=16), nullable=False),
        sa.Column("advance", UINT256, nullable=True),
        sa.Column("discount", UINT256, nullable=True),
        sa.Column("fees", UINT256, nullable=True),
        sa.Column("net_advance", UINT256, nullable=True),
        sa.Column("reserve", UINT256, nullable=True),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("day_count", sa.String(length=8), nullable=True),
        sa.Column("advance_rate", RATE, nullable=True),
        sa.Column("annual_rate", RATE, nullable=True),
        sa.Column("exposure_book", UINT256, nullable=False),
        sa.Column("exposure_buyer", UINT256, nullable=False),
        sa.Column("exposure_supplier", UINT256, nullable=False),
        sa.Column("rules", JSON_DOCUMENT, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=True),
        sa.Column("executed_block", sa.BigInteger(), nullable=True),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("event_block_hash", sa.String(length=66), nullable=True),
        sa.Column("event_log_index", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
    )
    op.create_index("ix_decisions_financier", "decisions", ["chain_id", "financier", "status"])
    op.create_index("ix_decisions_invoice", "decisions", ["chain_id", "contract", "invoice_id"])


def downgrade() -> None:
    op.drop_index("ix_decisions_invoice", table_name="decisions")
    op.drop_index("ix_decisions_financier", table_name="decisions")
    op.drop_table("decisions")
