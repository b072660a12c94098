"""The portfolio report (database only: no web3): one financier's book, per
financed invoice and per currency. See :mod:`ledger.finance.reports` for the
figures, their identities, income and yield.

Multi-tier: each financed receivable, invoice or part, is one line with its
tier (1 for an invoice, 2 for a part of it, ...: depth + 1) and its root;
each currency's figures are also subtotalled by tier (``by_tier``: one row
per currency and tier), and the tiers add up to the currency's total to the
minor unit.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, and_, select

from ledger.business_time import business_date
from ledger.finance.numbers import decimal_text
from ledger.finance.report_common import FINANCINGS, REPAYMENTS, as_of_day, pct, signed
from ledger.finance.store import INVOICES, LedgerScope, participant_names


@dataclass
class _Line:
    """One financing of the financier, from the ledger (minor units)."""

    invoice_id: int
    currency: str
    #: The advance it paid (on chain).
    cash: int
    face: int
    #: What it is due of the buyer's payments after financing (InvoiceFinanced.due).
    due: int
    #: The buyer's open amount when it was financed.
    open_at_financing: int
    #: Paid to this financier as holder, since the financing.
    received: int
    #: Paid to whoever held it (the financier side of the waterfall), since the financing.
    side_received: int
    #: Paid to the seller (ReserveReleased), since the financing.
    reserve_released: int
    status: str
    financed_on: dt.date
    due_date: dt.date
    #: Date of the payment that completed the due; None while something of it is open.
    settled_on: dt.date | None
    held: bool
    #: 1 for an invoice, 2 for a part of it, ... (depth + 1); and the invoice it was split from.
    tier: int = 1
    root_id: int = 0

    @property
    def reserve_at_financing(self) -> int:
        return self.open_at_financing - self.due

    @property
    def reserve_held(self) -> int:
        return self.reserve_at_financing - self.reserve_released

    @property
    def outstanding(self) -> int:
        """What the financier is still due (0 once it no longer holds it)."""
        return self.due - self.side_received if self.held else 0

    @property
    def sold_due(self) -> int:
        """Due it neither received nor holds any more (sold on)."""
        return self.due - self.received - self.outstanding

    @property
    def kind(self) -> str:
        if not self.held:
            return "sold"
        return "open" if self.outstanding > 0 else "closed"


def _financing_rows(conn: Connection, scope: LedgerScope, financier: str) -> Sequence[Any]:
    """The financier's financings, with their invoices as they are now."""
    f, i = FINANCINGS, INVOICES
    return conn.execute(
        select(
            f.c.invoice_id,
            f.c.advance,
            f.c.due,
            f.c.currency,
            f.c.block_time,
            f.c.block_number,
            f.c.log_index,
            i.c.amount,
            i.c.outstanding,
            i.c.status,
            i.c.due_date,
            i.c.holder,
            i.c.depth,
            i.c.root_id,
        )
        .join(i, and_(i.c.chain_id == f.c.chain_id, i.c.contract == f.c.contract, i.c.invoice_id == f.c.invoice_id))
        .where(f.c.chain_id == scope.chain_id, f.c.contract == scope.invoice_contract, f.c.financier == financier)
    ).all()


def _repayments_of(conn: Connection, scope: LedgerScope, invoice_ids: list[int]) -> dict[int, list[Any]]:
    """The repayments of ``invoice_ids``, per invoice, in chain order."""
    rp = REPAYMENTS
    repayments: dict[int, list[Any]] = defaultdict(list)
    for rep in conn.execute(
        select(
            rp.c.invoice_id,
            rp.c.amount,
            rp.c.payee,
            rp.c.to_payee,
            rp.c.to_seller,
            rp.c.block_number,
            rp.c.log_index,
            rp.c.block_time,
        )
        .where(
            rp.c.chain_id == scope.chain_id,
            rp.c.contract == scope.invoice_contract,
            rp.c.invoice_id.in_(invoice_ids),
        )
        .order_by(rp.c.block_number, rp.c.log_index)
    ).all():
        repayments[int(rep.invoice_id)].append(rep)
    return repayments


def _line_of(r: Any, repayments: Sequence[Any], financier: str) -> _Line:
    """One financing row and its invoice's repayments as a :class:`_Line`."""
    due = int(r.due)
    paid_since = received = side = released = 0
    settled_on: dt.date | None = None
    for rep in repayments:
        if (int(rep.block_number), int(rep.log_index)) < (int(r.block_number), int(r.log_index)):
            continue  # paid before the financing: part of what was not financed
        paid_since += int(rep.amount)
        side += int(rep.to_payee)
        released += int(rep.to_seller)
        if rep.payee == financier:
            received += int(rep.to_payee)
        if settled_on is None and side >= due:
            settled_on = business_date(rep.block_time)
    return _Line(
        invoice_id=int(r.invoice_id),
        currency=str(r.currency),
        cash=int(r.advance),
        face=int(r.amount),
        due=due,
        open_at_financing=int(r.outstanding) + paid_since,
        received=received,
        side_received=side,
        reserve_released=released,
        status=str(r.status),
        financed_on=business_date(r.block_time),
        due_date=r.due_date,
        settled_on=settled_on,
        held=r.holder == financier,
        tier=int(r.depth or 0) + 1,
        root_id=int(r.root_id or r.invoice_id),
    )


def _portfolio_lines(conn: Connection, scope: LedgerScope, financier: str) -> list[_Line]:
    rows = _financing_rows(conn, scope, financier)
    if not rows:
        return []
    repayments = _repayments_of(conn, scope, [int(r.invoice_id) for r in rows])
    out = [_line_of(r, repayments[int(r.invoice_id)], financier) for r in rows]
    return sorted(out, key=lambda x: x.invoice_id)


#: The shortest holding period (days, weighted by the cash advanced) over which a yield is annualised.
MIN_ANNUALISED_DAYS = 30


def _income_figures(name: str, income: int, spans: list[tuple[int, int]]) -> dict[str, str | None]:
    """Income as a yield over ``spans`` ((cash, days) per financing): the period
    return ``income / sum(cash)`` always; the simple annual yield
    ``income x 365 / sum(cash x days)`` (ACT/365) only when the holding
    period, the days weighted by cash, is at least :data:`MIN_ANNUALISED_DAYS`
    (else None: a yield over minutes or days says nothing about a year).
    Percentages and days rounded half-even to two places."""
    cash = sum(c for c, _ in spans)
    base = sum(c * d for c, d in spans)
    long_enough = bool(cash) and base >= MIN_ANNUALISED_DAYS * cash
    return {
        f"{name}_return_pct": pct(income, cash),
        f"{name}_days": None if not cash else decimal_text(Fraction(base, cash), 2),
        f"{name}_yield_pct": pct(income * 365, base) if long_enough else None,
    }


def _currency_row(
    scope: LedgerScope, currency: str, group: list[_Line], day: dt.date, default_after_days: int
) -> dict[str, Any]:
    """The figures of one currency's financings."""
    money = scope.amount
    closed = [x for x in group if x.kind == "closed"]
    open_ = [x for x in group if x.kind == "open"]
    sold = [x for x in group if x.kind == "sold"]
    realised = sum(x.received - x.cash for x in closed)
    realised_spans = [(x.cash, max(0, ((x.settled_on or day) - x.financed_on).days)) for x in closed]
    expected = sum(x.due - x.cash for x in open_)
    expected_spans = [(x.cash, max(0, (x.due_date - x.financed_on).days)) for x in open_]
    overdue = [x for x in open_ if (day - x.due_date).days > 0]
    defaults = [x for x in overdue if (day - x.due_date).days > default_after_days]

    def total(figure: str, of: list[_Line] = group) -> str:
        return money(sum(int(getattr(x, figure)) for x in of), currency)

    return {
        "currency": scope.symbol(currency),
        "financed": len(group),
        "open": len(open_),
        "closed": len(closed),
        "sold": len(sold),
        "advanced": total("cash"),
        "face": total("face"),
        "open_at_financing": total("open_at_financing"),
        "due": total("due"),
        "received": total("received"),
        "outstanding": total("outstanding"),
        "sold_due": total("sold_due"),
        "collected": money(sum(x.side_received + x.reserve_released for x in group), currency),
        "reserve_at_financing": total("reserve_at_financing"),
        "reserve_released": total("reserve_released"),
        "reserve_held": total("reserve_held"),
        "realised_income": signed(realised, currency, scope),
        **_income_figures("realised", realised, realised_spans),
        "expected_income": signed(expected, currency, scope),
        **_income_figures("expected", expected, expected_spans),
        "overdue_invoices": len(overdue),
        "overdue": total("outstanding", overdue),
        "defaults": len(defaults),
        "defaulted": total("outstanding", defaults),
    }


def _by_tier(group: list[_Line]) -> list[tuple[int, list[_Line]]]:
    tiers: dict[int, list[_Line]] = defaultdict(list)
    for x in group:
        tiers[x.tier].append(x)
    return sorted(tiers.items())


def _tier_row(scope: LedgerScope, currency: str, tier: int, group: list[_Line]) -> dict[str, Any]:
    """The subtotal of one tier of a currency's financings."""

    def total(figure: str) -> str:
        return scope.amount(sum(int(getattr(x, figure)) for x in group), currency)

    return {
        "currency": scope.symbol(currency),
        "tier": tier,
        "financed": len(group),
        "open": sum(1 for x in group if x.kind == "open"),
        "face": total("face"),
        "advanced": total("cash"),
        "due": total("due"),
        "received": total("received"),
        "outstanding": total("outstanding"),
        "reserve_held": total("reserve_held"),
    }


def _invoice_row(scope: LedgerScope, x: _Line) -> dict[str, Any]:
    """The figures of one financed invoice."""
    money = scope.amount
    return {
        "invoice_id": x.invoice_id,
        "tier": x.tier,
        "root_id": x.root_id,
        "currency": scope.symbol(x.currency),
        "status": x.status,
        "position": x.kind,
        "financed_on": x.financed_on.isoformat(),
        "due_date": x.due_date.isoformat(),
        "advanced": money(x.cash, x.currency),
        "open_at_financing": money(x.open_at_financing, x.currency),
        "due": money(x.due, x.currency),
        "received": money(x.received, x.currency),
        "outstanding": money(x.outstanding, x.currency),
        "sold_due": money(x.sold_due, x.currency),
        "reserve_at_financing": money(x.reserve_at_financing, x.currency),
        "reserve_released": money(x.reserve_released, x.currency),
        "reserve_held": money(x.reserve_held, x.currency),
    }


def portfolio_report(
    conn: Connection, scope: LedgerScope, financier: str, as_of: dt.date | None = None, default_after_days: int = 90
) -> dict[str, Any]:
    """One financier's financings: per currency (``rows``) and per invoice
    (``invoices``), with the identities of :mod:`ledger.finance.reports` holding to
    the minor unit in both."""
    day = as_of_day(conn, scope, as_of)
    names = participant_names(conn, scope)
    by_currency: dict[str, list[_Line]] = defaultdict(list)
    lines = _portfolio_lines(conn, scope, financier)
    for line in lines:
        by_currency[line.currency].append(line)
    currencies = sorted(by_currency.items(), key=lambda kv: scope.symbol(kv[0]))
    out = [_currency_row(scope, currency, group, day, default_after_days) for currency, group in currencies]
    by_tier = [
        _tier_row(scope, currency, tier, tier_lines)
        for currency, group in currencies
        for tier, tier_lines in _by_tier(group)
    ]
    return {
        "financier": financier,
        "name": names.get(financier),
        "as_of": day.isoformat(),
        "default_after_days": default_after_days,
        "rows": out,
        "by_tier": by_tier,
        "invoices": [_invoice_row(scope, x) for x in lines],
    }
