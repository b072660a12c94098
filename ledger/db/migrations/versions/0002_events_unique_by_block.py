"""Events: one unique index in chain order instead of two.

The unique key (chain_id, block_hash, log_index) grew in random order (block
hashes are random), and a second index (chain_id, block_number, log_index)
served the range scans. One unique index on (chain_id, block_number,
block_hash, log_index) does both: a block hash names one block number, so it
admits exactly the same rows, and a backfill appends to it in order instead
of writing all over it. The indexer's bulk insert measured about a sixth
faster on SQLite (scripts/bench_indexer.py).

Revision ID: 0002
Revises: f001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "f001"
branch_labels = None
depends_on = None

OLD_UNIQUE = ("uq_events_chain_id_block_hash_log_index", ["chain_id", "block_hash", "log_index"])
NEW_UNIQUE = (
    "uq_events_chain_id_block_number_block_hash_log_index",
    ["chain_id", "block_number", "block_hash", "log_index"],
)
CHAIN_ORDER = ("ix_events_chain_block", ["chain_id", "block_number", "log_index"])


def _partial_indexes(create: bool) -> None:
    """SQLite's batch mode copies the table; its partial indexes are dropped
    before and created again after, so they keep their WHERE clauses."""
    if create:
        op.create_index(
            "ix_events_invoice",
            "events",
            ["chain_id", "contract", "invoice_id"],
            sqlite_where=sa.text("invoice_id IS NOT NULL"),
            postgresql_where=sa.text("invoice_id IS NOT NULL"),
        )
        op.create_index(
            "ix_events_account",
            "events",
            ["chain_id", "account"],
            sqlite_where=sa.text("account IS NOT NULL"),
            postgresql_where=sa.text("account IS NOT NULL"),
        )
    else:
        op.drop_index("ix_events_account", table_name="events")
        op.drop_index("ix_events_invoice", table_name="events")


def _swap(drop: tuple[str, list[str]], add: tuple[str, list[str]]) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _partial_indexes(create=False)
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint(drop[0], type_="unique")
        batch.create_unique_constraint(add[0], add[1])
    if sqlite:
        _partial_indexes(create=True)


def upgrade() -> None:
    op.drop_index(CHAIN_ORDER[0], table_name="events")
    _swap(OLD_UNIQUE, NEW_UNIQUE)


def downgrade() -> None:
    _swap(NEW_UNIQUE, OLD_UNIQUE)
    op.create_index(CHAIN_ORDER[0], "events", CHAIN_ORDER[1])
