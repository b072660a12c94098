"""Invoices: indexes in invoice id order for the API's keyset pages.

`GET /api/invoices` reads a page as ``WHERE chain_id = ? AND contract = ?
[AND filters] [AND the viewer's visibility] AND invoice_id > ? ORDER BY
invoice_id LIMIT ?``. An index whose last column is ``invoice_id`` after
the equalities serves it in order, 50 rows read for 50 shown, however big
the ledger; without one, the planner either walks the primary key and
filters (as long as it takes to meet 50 matches: the whole table for a
party or status with few invoices, or whose invoices are all recent) or
reads every match through a narrower index and sorts them.

* ``ix_invoices_status``, ``ix_invoices_supplier``, ``ix_invoices_buyer``
  and ``ix_invoices_holder`` gain ``invoice_id`` as their last column
  (same names; every query the narrower ones served, these serve too).
* ``ix_invoices_seller`` and ``ix_invoices_financier`` are new, partial
  (only financed invoices have either): with them every party term of the
  visibility condition of a supplier or buyer is indexed, so PostgreSQL can
  answer a party with few invoices by a bitmap OR instead of a scan of the
  table, and filter by financier in order.
* ``ix_invoices_listed`` (partial: invoices listed for financing) does the
  same for the listing terms of a financier's visibility.

Measured by scripts/bench_api.py and docs/benchmarks.md ("HTTP API"),
1,000,000 invoices: a page of a status whose invoices are all recent took
290 ms on PostgreSQL (844,000 rows read and dropped), 1 ms after; of a
financier with no financings, 419 ms on SQLite and 315 ms on PostgreSQL,
0.1 and 0.5 ms after.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

#: name -> (columns before, columns now).
WIDENED = {
    "ix_invoices_status": (["chain_id", "contract", "status"], ["chain_id", "contract", "status", "invoice_id"]),
    "ix_invoices_supplier": (["chain_id", "supplier"], ["chain_id", "supplier", "invoice_id"]),
    "ix_invoices_buyer": (["chain_id", "buyer"], ["chain_id", "buyer", "invoice_id"]),
    "ix_invoices_holder": (["chain_id", "holder"], ["chain_id", "holder", "invoice_id"]),
}
#: name -> (columns, partial index condition).
PARTIAL = {
    "ix_invoices_seller": (["chain_id", "seller", "invoice_id"], "seller IS NOT NULL"),
    "ix_invoices_financier": (["chain_id", "financier", "invoice_id"], "financier IS NOT NULL"),
    "ix_invoices_listed": (["chain_id", "offer_expires_at"], "offer_expires_at IS NOT NULL"),
}


def upgrade() -> None:
    for name, (_, columns) in WIDENED.items():
        op.drop_index(name, table_name="invoices")
        op.create_index(name, "invoices", columns)
    for name, (columns, where) in PARTIAL.items():
        op.create_index(name, "invoices", columns, sqlite_where=sa.text(where), postgresql_where=sa.text(where))


def downgrade() -> None:
    for name in reversed(PARTIAL):
        op.drop_index(name, table_name="invoices")
    for name, (columns, _) in WIDENED.items():
        op.drop_index(name, table_name="invoices")
        op.create_index(name, "invoices", columns)
