"""Cancelled decisions (`scf finance cancel`): when, by whom and why an
approved decision that will not be executed was cancelled, so it no longer
counts against the financier's limits. Its status becomes ``cancelled``
(the status column already holds it). Only ALTER TABLE ADD / DROP COLUMN.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decisions", sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("decisions", sa.Column("cancelled_by", sa.String(length=128), nullable=True))
    op.add_column("decisions", sa.Column("cancel_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    # Statuses stay ``cancelled``: no version counts them as approvals.
    for column in ("cancel_reason", "cancelled_by", "cancelled_at"):
        op.drop_column("decisions", column)
