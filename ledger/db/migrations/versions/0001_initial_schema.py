"""Initial schema: events, blocks, cursors and the projections.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# Plain types here (not the models' TypeDecorators), so this migration never
# changes when the Python-side conversions do.
UINT256 = sa.Numeric(78, 0)
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blocks",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("parent_hash", sa.String(length=66), nullable=False),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "number", name=op.f("pk_blocks")),
    )
    op.create_table(
        "cursors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("contracts", JSON_DOCUMENT, nullable=False),
        sa.Column("invoice_contract", sa.String(length=42), nullable=False),
        sa.Column("registry_contract", sa.String(length=42), nullable=False),
        sa.Column("start_block", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=True),
        sa.Column("block_hash", sa.String(length=66), nullable=True),
        sa.Column("head_number", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cursors")),
        sa.UniqueConstraint("chain_id", "key", name=op.f("uq_cursors_chain_id_key")),
    )
    op.create_table(
        "events",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("tx_index", sa.Integer(), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=True),
        sa.Column("account", sa.String(length=42), nullable=True),
        sa.Column("amount", UINT256, nullable=True),
        sa.Column("args", JSON_DOCUMENT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
        sa.UniqueConstraint(
            "chain_id", "block_hash", "log_index", name=op.f("uq_events_chain_id_block_hash_log_index")
        ),
    )
    op.create_index(
        "ix_events_account",
        "events",
        ["chain_id", "account"],
        sqlite_where=sa.text("account IS NOT NULL"),
        postgresql_where=sa.text("account IS NOT NULL"),
    )
    op.create_index("ix_events_chain_block", "events", ["chain_id", "block_number", "log_index"])
    op.create_index(
        "ix_events_invoice",
        "events",
        ["chain_id", "contract", "invoice_id"],
        sqlite_where=sa.text("invoice_id IS NOT NULL"),
        postgresql_where=sa.text("invoice_id IS NOT NULL"),
    )

    op.create_table(
        "invoices",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("supplier", sa.String(length=42), nullable=False),
        sa.Column("buyer", sa.String(length=42), nullable=False),
        sa.Column("holder", sa.String(length=42), nullable=True),
        sa.Column("currency", sa.String(length=42), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("paid", UINT256, nullable=False),
        sa.Column("outstanding", UINT256, nullable=False),
        sa.Column("advance", UINT256, nullable=False),
        sa.Column("financier", sa.String(length=42), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("fingerprint", sa.String(length=66), nullable=False),
        sa.Column("doc_hash", sa.String(length=66), nullable=False),
        sa.Column("issued_block", sa.BigInteger(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_block", sa.BigInteger(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("financed_block", sa.BigInteger(), nullable=True),
        sa.Column("financed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paid_block", sa.BigInteger(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_block", sa.BigInteger(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_repaid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("offer_financier", sa.String(length=42), nullable=True),
        sa.Column("offer_min_advance", UINT256, nullable=True),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "contract", "invoice_id", name=op.f("pk_invoices")),
    )
    op.create_index("ix_invoices_buyer", "invoices", ["chain_id", "buyer"])
    op.create_index("ix_invoices_due_date", "invoices", ["chain_id", "due_date"])
    op.create_index("ix_invoices_holder", "invoices", ["chain_id", "holder"])
    op.create_index("ix_invoices_status", "invoices", ["chain_id", "contract", "status"])
    op.create_index("ix_invoices_supplier", "invoices", ["chain_id", "supplier"])

    op.create_table(
        "participants",
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("address", sa.String(length=42), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.SmallInteger(), nullable=False),
        sa.Column("kyc_expiry", sa.DateTime(timezone=True), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("admitted_block", sa.BigInteger(), nullable=False),
        sa.Column("admitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("chain_id", "contract", "address", name=op.f("pk_participants")),
    )
    op.create_index("ix_participants_name", "participants", ["chain_id", "name"])

    op.create_table(
        "financings",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("financier", sa.String(length=42), nullable=False),
        sa.Column("seller", sa.String(length=42), nullable=False),
        sa.Column("advance", UINT256, nullable=False),
        sa.Column("currency", sa.String(length=42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chain_id", "contract", "invoice_id"],
            ["invoices.chain_id", "invoices.contract", "invoices.invoice_id"],
            name=op.f("fk_financings_chain_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_financings")),
        sa.UniqueConstraint(
            "chain_id", "block_hash", "log_index", name=op.f("uq_financings_chain_id_block_hash_log_index")
        ),
    )
    op.create_index("ix_financings_financier", "financings", ["chain_id", "financier"])
    op.create_index("ix_financings_invoice", "financings", ["chain_id", "contract", "invoice_id"])

    op.create_table(
        "repayments",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(length=42), nullable=False),
        sa.Column("invoice_id", sa.BigInteger(), nullable=False),
        sa.Column("payer", sa.String(length=42), nullable=False),
        sa.Column("payee", sa.String(length=42), nullable=False),
        sa.Column("amount", UINT256, nullable=False),
        sa.Column("total_paid", UINT256, nullable=False),
        sa.Column("currency", sa.String(length=42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(length=66), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("tx_hash", sa.String(length=66), nullable=False),
        sa.Column("log_index", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["chain_id", "contract", "invoice_id"],
            ["invoices.chain_id", "invoices.contract", "invoices.invoice_id"],
            name=op.f("fk_repayments_chain_id_invoices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_repayments")),
        sa.UniqueConstraint(
            "chain_id", "block_hash", "log_index", name=op.f("uq_repayments_chain_id_block_hash_log_index")
        ),
    )
    op.create_index("ix_repayments_invoice", "repayments", ["chain_id", "contract", "invoice_id"])
    op.create_index("ix_repayments_payer", "repayments", ["chain_id", "payer"])


def downgrade() -> None:
    op.drop_index("ix_repayments_payer", table_name="repayments")
    op.drop_index("ix_repayments_invoice", table_name="repayments")

    op.drop_table("repayments")
    op.drop_index("ix_financings_invoice", table_name="financings")
    op.drop_index("ix_financings_financier", table_name="financings")

    op.drop_table("financings")
    op.drop_index("ix_participants_name", table_name="participants")

    op.drop_table("participants")
    op.drop_index("ix_invoices_supplier", table_name="invoices")
    op.drop_index("ix_invoices_status", table_name="invoices")
    op.drop_index("ix_invoices_holder", table_name="invoices")
    op.drop_index("ix_invoices_due_date", table_name="invoices")
    op.drop_index("ix_invoices_buyer", table_name="invoices")

    op.drop_table("invoices")
    op.drop_index("ix_events_invoice", table_name="events")
    op.drop_index("ix_events_chain_block", table_name="events")
    op.drop_index("ix_events_account", table_name="events")

    op.drop_table("events")
    op.drop_table("cursors")
    op.drop_table("blocks")
