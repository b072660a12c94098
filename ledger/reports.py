"""Portfolio reports from the indexed ledger (database only: no web3).

* :func:`exposure_report`: open financed receivables grouped by buyer,
  supplier or financier (holder), with the pending decisions that already use
  limits, and the limits, use and headroom of a policy when one is given.
* :func:`aging_report`: open confirmed receivables in days-past-due buckets
  (not due, 1-30, 31-60, 61-90, 90+), per buyer and in total.
* :func:`portfolio_report`: one financier's book: advanced, outstanding,
  collected, realised and expected income and yield, overdue and defaults.

Amounts are exact: integer minor units summed in Python, shown as decimal
strings in major units. Figures are per currency. "As of" defaults to the
decision time that decisions use: the later of the last indexed block's
time and the wall clock (UTC), so an idle chain does not age receivables on
a stale day (see :mod:`ledger.finance.store`).

Income and yield of a financing: the financier paid ``cash`` (the on-chain
advance) for a receivable with open amount ``face``. If a stored decision
priced it, the financier keeps at most the decision's gross advance of what
the buyer pays (the rest, the reserve, is owed to the seller); without one it
keeps everything (gross = face). Realised income of a paid receivable is
``min(collected, gross) - cash``; expected income of an open one is
``gross - cash``. Yields are simple annual rates on ACT/365:
``income / sum(cash x days) x 365``, days from financing to the final
payment (realised) or to the due date (expected), at least one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, and_, select

from ledger.db.models import Financing, Invoice, Repayment
from ledger.exceptions import InputError
from ledger.finance.models import APPROVED, EXECUTED, Decision
from ledger.finance.numbers import percent
from ledger.finance.policy import Policy
from ledger.finance.pricing import major_to_minor_floor
from ledger.finance.store import (
    FINANCED_STATUSES,
    LedgerScope,
    indexed_point,
    participant_names,
    pending_positions,
)
from ledger.money import from_minor_units

OPEN_STATUSES = ("Confirmed", "Financed", "PartiallyPaid")
BUCKETS = ("not_due", "1-30", "31-60", "61-90", "90+")


def _as_of(conn: Connection, scope: LedgerScope, as_of: dt.date | None) -> dt.date:
    """The given date, else the decision time's date (UTC), as decisions use."""
    if as_of is not None:
        return as_of
    return indexed_point(conn, scope).time.astimezone(dt.UTC).date()


def _invoices_where(scope: LedgerScope, statuses: Sequence[str], holder: str | None) -> list[Any]:
    """The scope's invoices in ``statuses`` (held by ``holder`` when given)."""
    where = [Invoice.chain_id == scope.chain_id, Invoice.contract == scope.invoice_contract,
             Invoice.status.in_(statuses)]
    if holder is not None:
        where.append(Invoice.holder == holder)
    return where


class _Money:
    def __init__(self, scope: LedgerScope) -> None:
        self.scope = scope

    def symbol(self, currency: str) -> str:
        return self.scope.currency(currency).symbol

    def __call__(self, units: int, currency: str) -> str:
        return str(from_minor_units(units, self.scope.currency(currency).decimals))


def _pct(num: int | Fraction, den: int | Fraction) -> str | None:
    return percent(Fraction(num) / Fraction(den)) if den else None


# -- exposure ---------------------------------------------------------------------------------------------


@dataclass
class _Group:
    invoices: int = 0
    outstanding: int = 0
    advanced: int = 0
    pending_invoices: int = 0
    pending: int = 0


def exposure_report(
    conn: Connection, scope: LedgerScope, by: str = "buyer", policy: Policy | None = None,
    financier: str | None = None,
) -> dict[str, Any]:
    """Open financed receivables (held by ``financier`` when given), grouped
    by ``by``; with pending decisions and, given a policy, limits and headroom."""
    if by not in ("buyer", "supplier", "financier"):
        raise InputError(f"invalid --by {by!r}: use buyer, supplier or financier")
    point = indexed_point(conn, scope)
    names = participant_names(conn, scope)
    money = _Money(scope)
    where = _invoices_where(scope, FINANCED_STATUSES, financier)
    rows = conn.execute(
        select(Invoice.holder, Invoice.buyer, Invoice.supplier, Invoice.currency, Invoice.outstanding,
               Invoice.advance).where(*where)
    ).all()
    groups: dict[tuple[str, str], _Group] = defaultdict(_Group)
    key_of = {"buyer": 1, "supplier": 2, "financier": 0}[by]
    for r in rows:
        if int(r.outstanding) <= 0:
            continue
        g = groups[(str(r[key_of]), str(r.currency))]
        g.invoices += 1
        g.outstanding += int(r.outstanding)
        g.advanced += int(r.advance)
    # Pending decisions use limits too (see ledger.finance.store).
    financiers = [financier] if financier is not None else sorted({
        str(f) for f in conn.execute(
            select(Decision.financier).where(Decision.chain_id == scope.chain_id,
                                             Decision.contract == scope.invoice_contract,
                                             Decision.status.in_((APPROVED, EXECUTED))).distinct()
        ).scalars()
    })
    for f in financiers:
        for p in pending_positions(conn, scope, f, point.time):
            key = {"buyer": p.buyer, "supplier": p.supplier, "financier": f}[by]
            g = groups[(key, p.currency)]
            g.pending_invoices += 1
            g.pending += p.amount

    def limit_for(address: str, currency: str) -> int | None:
        if policy is None:
            return None
        d = scope.currency(currency).decimals
        lim = policy.limits
        amount = {"buyer": lambda: lim.buyer_line(address, names.get(address)),
                  "supplier": lambda: lim.supplier_line(address, names.get(address)),
                  "financier": lambda: lim.book}[by]()
        return None if amount is None else major_to_minor_floor(amount, d)

    out_rows: list[dict[str, Any]] = []
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for (address, currency), g in sorted(groups.items(), key=lambda kv: (money.symbol(kv[0][1]),
                                                                         -(kv[1].outstanding + kv[1].pending))):
        used = g.outstanding + g.pending
        limit = limit_for(address, currency)
        out_rows.append({
            by: address, "name": names.get(address), "currency": money.symbol(currency),
            "invoices": g.invoices, "outstanding": money(g.outstanding, currency),
            "advanced": money(g.advanced, currency), "pending_invoices": g.pending_invoices,
            "pending": money(g.pending, currency), "used": money(used, currency),
            "limit": None if limit is None else money(limit, currency),
            "used_pct": None if limit is None else _pct(used, limit),
            "headroom": None if limit is None else ("-" if limit < used else "") + money(abs(limit - used), currency),
        })
        t = totals[currency]
        t[0] += g.invoices
        t[1] += g.outstanding
        t[2] += g.advanced
        t[3] += g.pending
        t[4] += g.pending_invoices
    total_rows = [{
        "currency": money.symbol(c), "invoices": t[0], "outstanding": money(t[1], c), "advanced": money(t[2], c),
        "pending_invoices": t[4], "pending": money(t[3], c), "used": money(t[1] + t[3], c),
    } for c, t in totals.items()]
    return {"by": by, "as_of_block": point.block_number, "as_of": point.time.isoformat(),
            "financier": financier, "policy_hash": None if policy is None else policy.hash,
            "rows": out_rows, "totals": total_rows}


# -- aging ------------------------------------------------------------------------------------------------


def bucket_of(days_past_due: int) -> str:
    if days_past_due <= 0:
        return "not_due"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"


def aging_report(conn: Connection, scope: LedgerScope, as_of: dt.date | None = None,
                 holder: str | None = None) -> dict[str, Any]:
    """Open confirmed receivables by buyer, in days-past-due buckets."""
    day = _as_of(conn, scope, as_of)
    names = participant_names(conn, scope)
    money = _Money(scope)
    where = _invoices_where(scope, OPEN_STATUSES, holder)
    rows = conn.execute(select(Invoice.buyer, Invoice.currency, Invoice.outstanding, Invoice.due_date)
                        .where(*where)).all()
    per: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys((*BUCKETS, "count"), 0))
    total: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys((*BUCKETS, "count"), 0))
    for r in rows:
        amount = int(r.outstanding)
        if amount <= 0:
            continue
        b = bucket_of((day - r.due_date).days)
        for acc in (per[(str(r.buyer), str(r.currency))], total[str(r.currency)]):
            acc[b] += amount
            acc["count"] += 1

    def shaped(acc: Mapping[str, int], currency: str) -> dict[str, Any]:
        return {"currency": money.symbol(currency), "invoices": acc["count"],
                **{b: money(acc[b], currency) for b in BUCKETS},
                "total": money(sum(acc[b] for b in BUCKETS), currency)}

    out = [{"buyer": buyer, "name": names.get(buyer), **shaped(acc, cur)}
           for (buyer, cur), acc in sorted(per.items(), key=lambda kv: (names.get(kv[0][0], kv[0][0]).casefold(),
                                                                        kv[0][1]))]
    return {"as_of": day.isoformat(), "holder": holder, "buckets": list(BUCKETS), "rows": out,
            "totals": [shaped(acc, cur) for cur, acc in total.items()]}


# -- portfolio --------------------------------------------------------------------------------------------


@dataclass
class _Line:
    invoice_id: int
    currency: str
    cash: int
    face: int
    gross: int
    collected: int
    outstanding: int
    status: str
    financed_on: dt.date
    due_date: dt.date
    paid_on: dt.date | None
    held: bool


def _portfolio_lines(conn: Connection, scope: LedgerScope, financier: str) -> list[_Line]:
    f, i = Financing.__table__, Invoice.__table__
    rows = conn.execute(
        select(f.c.invoice_id, f.c.advance, f.c.currency, f.c.block_time, f.c.block_number, f.c.log_index,
               i.c.amount, i.c.outstanding, i.c.status, i.c.due_date, i.c.paid_at, i.c.holder)
        .join(i, and_(i.c.chain_id == f.c.chain_id, i.c.contract == f.c.contract, i.c.invoice_id == f.c.invoice_id))
        .where(f.c.chain_id == scope.chain_id, f.c.contract == scope.invoice_contract, f.c.financier == financier)
    ).all()
    if not rows:
        return []
    ids = [int(r.invoice_id) for r in rows]
    collected: dict[int, int] = defaultdict(int)
    for rep in conn.execute(
        select(Repayment.invoice_id, Repayment.amount, Repayment.payee)
        .where(Repayment.chain_id == scope.chain_id, Repayment.contract == scope.invoice_contract,
               Repayment.invoice_id.in_(ids), Repayment.payee == financier)
    ).all():
        collected[int(rep.invoice_id)] += int(rep.amount)
    gross: dict[int, int] = {}
    for d in conn.execute(
        select(Decision.invoice_id, Decision.advance).where(
            Decision.chain_id == scope.chain_id, Decision.contract == scope.invoice_contract,
            Decision.financier == financier, Decision.status == EXECUTED, Decision.invoice_id.in_(ids))
    ).all():
        if d.advance is not None:
            gross[int(d.invoice_id)] = int(d.advance)
    out = []
    for r in rows:
        iid = int(r.invoice_id)
        face = int(r.amount)
        out.append(_Line(
            invoice_id=iid, currency=str(r.currency), cash=int(r.advance), face=face, gross=gross.get(iid, face),
            collected=collected[iid], outstanding=int(r.outstanding) if r.holder == financier else 0,
            status=str(r.status), financed_on=r.block_time.astimezone(dt.UTC).date(), due_date=r.due_date,
            paid_on=None if r.paid_at is None else r.paid_at.astimezone(dt.UTC).date(), held=r.holder == financier,
        ))
    return out


def portfolio_report(conn: Connection, scope: LedgerScope, financier: str, as_of: dt.date | None = None,
                     default_after_days: int = 90) -> dict[str, Any]:
    day = _as_of(conn, scope, as_of)
    names = participant_names(conn, scope)
    money = _Money(scope)
    by_currency: dict[str, list[_Line]] = defaultdict(list)
    for line in _portfolio_lines(conn, scope, financier):
        by_currency[line.currency].append(line)
    out = []
    for currency, lines in sorted(by_currency.items(), key=lambda kv: money.symbol(kv[0])):
        closed = [x for x in lines if x.status == "Paid"]
        open_ = [x for x in lines if x.status in FINANCED_STATUSES and x.held]
        realised = sum(min(x.collected, x.gross) - x.cash for x in closed)
        realised_base = sum(x.cash * max(1, ((x.paid_on or day) - x.financed_on).days) for x in closed)
        expected = sum(x.gross - x.cash for x in open_)
        expected_base = sum(x.cash * max(1, (x.due_date - x.financed_on).days) for x in open_)
        overdue = [x for x in open_ if x.outstanding > 0 and (day - x.due_date).days > 0]
        defaults = [x for x in overdue if (day - x.due_date).days > default_after_days]
        out.append({
            "currency": money.symbol(currency),
            "financed": len(lines), "open": len(open_), "closed": len(closed),
            "advanced": money(sum(x.cash for x in lines), currency),
            "face": money(sum(x.face for x in lines), currency),
            "outstanding": money(sum(x.outstanding for x in open_), currency),
            "collected": money(sum(x.collected for x in lines), currency),
            "realised_income": ("-" if realised < 0 else "") + money(abs(realised), currency),
            "realised_yield_pct": _pct(realised * 365, realised_base),
            "expected_income": money(expected, currency),
            "expected_yield_pct": _pct(expected * 365, expected_base),
            "reserve_released": money(sum(max(0, x.collected - x.gross) for x in lines), currency),
            "overdue_invoices": len(overdue),
            "overdue": money(sum(x.outstanding for x in overdue), currency),
            "defaults": len(defaults),
            "defaulted": money(sum(x.outstanding for x in defaults), currency),
        })
    return {"financier": financier, "name": names.get(financier), "as_of": day.isoformat(),
            "default_after_days": default_after_days, "rows": out}

