"""Contracts version 2: invoice numbers, the seller's reserve and the
financier's due.

``invoices``: ``number`` and ``number_normalised`` (the identity is now
(supplier, normalised number), computed on chain) replace ``fingerprint``;
``seller``, ``financier_due``, ``financier_paid`` and ``reserve_released``
follow the reserve waterfall. ``financings`` gets ``due``; ``repayments``
gets ``to_payee``, ``to_seller`` and ``seller``.

Rows indexed from version 1 contracts are carried over as version 1 worked:
an invoice was financed with nothing paid, its financier due the whole
amount and paid every later payment, no reserve; their numbers are unknown
(NULL). Only ALTER TABLE ADD / DROP COLUMN are used, also on SQLite (3.35 or
later): a batch copy of ``invoices`` would drop the table, and with foreign
keys on that deletes its financings and repayments.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Plain types here (not the models' TypeDecorators), so this migration never
# changes when the Python-side conversions do.
UINT256 = sa.Numeric(78, 0)
ADDRESS = sa.String(length=42)
NUMBER = sa.String(length=256)
ZERO = sa.text("0")
NUMBER_INDEX = ("ix_invoices_number", ["chain_id", "contract", "number_normalised", "supplier"])

#: The invoice row of a financing or repayment row (correlated subqueries work on both databases).
_OF_INVOICE = (
    "FROM invoices i WHERE i.chain_id = {t}.chain_id AND i.contract = {t}.contract AND i.invoice_id = {t}.invoice_id"
)


def upgrade() -> None:
    op.add_column("invoices", sa.Column("number", NUMBER, nullable=True))
    op.add_column("invoices", sa.Column("number_normalised", NUMBER, nullable=True))
    op.add_column("invoices", sa.Column("seller", ADDRESS, nullable=True))
    op.add_column("invoices", sa.Column("financier_due", UINT256, nullable=True))
    op.add_column("invoices", sa.Column("financier_paid", UINT256, nullable=False, server_default=ZERO))
    op.add_column("invoices", sa.Column("reserve_released", UINT256, nullable=False, server_default=ZERO))
    op.create_index(NUMBER_INDEX[0], "invoices", NUMBER_INDEX[1])
    op.drop_column("invoices", "fingerprint")
    op.add_column("financings", sa.Column("due", UINT256, nullable=False, server_default=ZERO))
    op.add_column("repayments", sa.Column("to_payee", UINT256, nullable=False, server_default=ZERO))
    op.add_column("repayments", sa.Column("to_seller", UINT256, nullable=False, server_default=ZERO))
    op.add_column("repayments", sa.Column("seller", ADDRESS, nullable=True))

    # Version 1 rows, as version 1 contracts settled them.
    op.execute(f"UPDATE financings SET due = (SELECT i.amount {_OF_INVOICE.format(t='financings')})")
    op.execute(
        "UPDATE invoices SET seller = (SELECT f.seller FROM financings f WHERE f.chain_id = invoices.chain_id "
        "AND f.contract = invoices.contract AND f.invoice_id = invoices.invoice_id), "
        "financier_due = amount, financier_paid = paid WHERE financed_block IS NOT NULL"
    )
    op.execute(
        "UPDATE repayments SET to_payee = amount, seller = (SELECT i.seller "
        f"{_OF_INVOICE.format(t='repayments')} AND i.financed_block <= repayments.block_number)"
    )


def downgrade() -> None:
    op.drop_column("repayments", "seller")
    op.drop_column("repayments", "to_seller")
    op.drop_column("repayments", "to_payee")
    op.drop_column("financings", "due")
    op.add_column(
        "invoices", sa.Column("fingerprint", sa.String(length=66), nullable=False, server_default="0x" + "00" * 32)
    )
    op.drop_index(NUMBER_INDEX[0], table_name="invoices")
    for column in ("reserve_released", "financier_paid", "financier_due", "seller", "number_normalised", "number"):
        op.drop_column("invoices", column)
