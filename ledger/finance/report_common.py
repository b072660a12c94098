"""What the portfolio reports share (database only: no web3): the receivable
figures of a holder and a seller, the reports' "as of" day, the invoices of a
scope, and the shaping of percentages and signed amounts. The reports
themselves: :mod:`ledger.finance.reports` (aging), :mod:`ledger.finance.exposure`
and :mod:`ledger.finance.portfolio`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from fractions import Fraction
from typing import Any, cast

from sqlalchemy import Connection, Table

from ledger.business_time import business_date
from ledger.db.models import Financing, Incident, Repayment
from ledger.finance.numbers import percent
from ledger.finance.store import INVOICES, LedgerScope, indexed_point
from ledger.format import signed_amount

FINANCINGS = cast(Table, Financing.__table__)
REPAYMENTS = cast(Table, Repayment.__table__)
INCIDENTS = cast(Table, Incident.__table__)


def holder_owed(financier_due: int | None, financier_paid: int | None) -> int:
    """What the holder of a financed receivable is still due (0 if never financed)."""
    return int(financier_due or 0) - int(financier_paid or 0)


def reserve_held(outstanding: int, seller: str | None, financier_due: int | None, financier_paid: int | None) -> int:
    """The part of a receivable's open amount that is the seller's reserve:
    the open amount less the holder's outstanding due (0 if never financed).
    The waterfall pays the holder first, so this is what the seller still gets."""
    if seller is None:
        return 0
    return outstanding - holder_owed(financier_due, financier_paid)


def as_of_day(conn: Connection, scope: LedgerScope, as_of: dt.date | None) -> dt.date:
    """The given date, else the decision time's business date, as decisions use."""
    if as_of is not None:
        return as_of
    return business_date(indexed_point(conn, scope).time)


def invoices_where(scope: LedgerScope, statuses: Sequence[str], holder: str | None) -> list[Any]:
    """The scope's invoices in ``statuses`` (held by ``holder`` when given)."""
    i = INVOICES
    where = [i.c.chain_id == scope.chain_id, i.c.contract == scope.invoice_contract, i.c.status.in_(statuses)]
    if holder is not None:
        where.append(i.c.holder == holder)
    return where


def pct(num: int | Fraction, den: int | Fraction) -> str | None:
    return percent(Fraction(num) / Fraction(den)) if den else None


def signed(units: int, currency: str, scope: LedgerScope) -> str:
    return signed_amount(units, scope.currency(currency).decimals)
