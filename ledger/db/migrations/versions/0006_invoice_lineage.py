"""Multi-tier receivables (contracts version 3): where an invoice sits in
its tree.

``invoices`` gains ``parent_id`` (NULL for a root: an issued invoice),
``root_id`` (the invoice itself for a root) and ``depth`` (0 for a root; a
part is its parent's depth + 1), and an index on (chain_id, root_id) that
finds a whole tree. Rows indexed before are all roots, and carried over as
such. Only ALTER TABLE ADD COLUMN is used, also on SQLite (see 0004): the
server default of ``root_id`` only serves those carried-over rows until the
UPDATE below sets it; the indexer always writes it.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ROOT_INDEX = ("ix_invoices_root", ["chain_id", "root_id"])


def upgrade() -> None:
    op.add_column("invoices", sa.Column("parent_id", sa.BigInteger(), nullable=True))
    op.add_column("invoices", sa.Column("root_id", sa.BigInteger(), nullable=False, server_default=sa.text("0")))
    op.add_column("invoices", sa.Column("depth", sa.SmallInteger(), nullable=False, server_default=sa.text("0")))
    op.execute("UPDATE invoices SET root_id = invoice_id")
    op.create_index(ROOT_INDEX[0], "invoices", ROOT_INDEX[1])


def downgrade() -> None:
    op.drop_index(ROOT_INDEX[0], table_name="invoices")
    for column in ("depth", "root_id", "parent_id"):
        op.drop_column("invoices", column)
