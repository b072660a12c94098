"""Portfolio reports from the indexed ledger (database only: no web3).

* :func:`exposure_report`: financed receivables grouped by buyer, supplier
  or financier (holder): what the holders are still due (the exposure), the
  sellers' reserves still held in the same receivables, with the pending
  decisions that already use limits, and the limits, use and headroom of a
  policy when one is given.
* :func:`aging_report`: open confirmed receivables in days-past-due buckets
  (not due, 1-30, 31-60, 61-90, 90+), per buyer and in total, with how much
  of the open amount is the sellers' reserve (paid to the seller, not the
  holder, when the buyer pays).
* :func:`portfolio_report`: one financier's book, per financed invoice and
  per currency: advanced, due, received, outstanding; the sellers' reserves
  at financing, released and still held; realised and expected income and
  yield; overdue and defaults.

Everything is read from the ledger, nothing assumed: since contracts version
2 a financing records what the financier is due (``financings.due``,
``invoices.financier_due``); the buyer's payments go to the holder up to
that due and the rest, the seller's reserve, to the seller
(``repayments.to_payee`` / ``repayments.to_seller``, the ReserveReleased
events). For one financed invoice, in minor units:

    open at financing     = due + reserve at financing
    due                   = received + outstanding + due of receivables sold on
    reserve at financing  = reserve released + reserve still held

and the open amount now is the holder's outstanding due plus the reserve
still held. Exposure of a holder is its outstanding due, never the face.

Amounts are exact: integer minor units summed in Python (so the totals add
up to the unit), shown as decimal strings in major units. Figures are per
currency. "As of" defaults to the decision time that decisions use: the
later of the last indexed block's time and the wall clock (UTC), so an idle
chain does not age receivables on a stale day (see
:mod:`ledger.finance.store`).

Income and yield: the financier paid ``cash`` (the on-chain advance) and is
due ``due``; a financing is closed for it once it received the whole due.
Realised income of a closed one is ``received - cash``; expected income of
an open one ``due - cash``. Yields are simple annual rates on ACT/365:
``income x 365 / sum(cash x days)``, days from financing to the payment that
completed the due (realised) or to the due date (expected), at least one;
percentages are rounded half-even to two places. A receivable the financier
sold on (holds no more) counts in ``sold`` and in neither income: its sale
price is not on the ledger.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, select

from ledger.db.models import Financing, Repayment
from ledger.errors import InputError
from ledger.finance.models import APPROVED, EXECUTED, Decision
from ledger.finance.numbers import percent
from ledger.finance.policy import Policy
from ledger.finance.pricing import major_to_minor_floor
from ledger.finance.store import (
    FINANCED_STATUSES,
    INVOICES,
    LedgerScope,
    indexed_point,
    participant_names,
    pending_positions,
)
from ledger.format import signed_amount

OPEN_STATUSES = ("Confirmed", "Financed", "PartiallyPaid")
BUCKETS = ("not_due", "1-30", "31-60", "61-90", "90+")
FINANCINGS = cast(Table, Financing.__table__)
REPAYMENTS = cast(Table, Repayment.__table__)


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


def _as_of(conn: Connection, scope: LedgerScope, as_of: dt.date | None) -> dt.date:
    """The given date, else the decision time's date (UTC), as decisions use."""
    if as_of is not None:
        return as_of
    return indexed_point(conn, scope).time.astimezone(dt.UTC).date()


def _invoices_where(scope: LedgerScope, statuses: Sequence[str], holder: str | None) -> list[Any]:
    """The scope's invoices in ``statuses`` (held by ``holder`` when given)."""
    i = INVOICES
    where = [i.c.chain_id == scope.chain_id, i.c.contract == scope.invoice_contract, i.c.status.in_(statuses)]
    if holder is not None:
        where.append(i.c.holder == holder)
    return where


def _pct(num: int | Fraction, den: int | Fraction) -> str | None:
    return percent(Fraction(num) / Fraction(den)) if den else None


# -- exposure ---------------------------------------------------------------------------------------------


@dataclass
class _Group:
    invoices: int = 0
    #: What the holders are still due (the exposure).
    outstanding: int = 0
    advanced: int = 0
    #: The buyer's open amount on these receivables = outstanding + reserve_held.
    open: int = 0
    reserve_held: int = 0
    pending_invoices: int = 0
    pending: int = 0


def exposure_report(
    conn: Connection,
    scope: LedgerScope,
    by: str = "buyer",
    policy: Policy | None = None,
    financier: str | None = None,
) -> dict[str, Any]:
    """Financed receivables on which the holder (``financier`` when given)
    is still due something, grouped by ``by``: the outstanding due (the
    exposure), the advance paid, the buyer's open amount and the sellers'
    reserve within it; with pending decisions and, given a policy, limits
    and headroom (limits count outstanding dues, as decisions do)."""
    if by not in ("buyer", "supplier", "financier"):
        raise InputError(f"invalid --by {by!r}: use buyer, supplier or financier")
    point = indexed_point(conn, scope)
    names = participant_names(conn, scope)
    money = scope.amount
    i = INVOICES
    where = [*_invoices_where(scope, FINANCED_STATUSES, financier), i.c.seller.is_not(None)]
    rows = conn.execute(
        select(
            i.c.holder,
            i.c.buyer,
            i.c.supplier,
            i.c.currency,
            i.c.outstanding,
            i.c.advance,
            i.c.seller,
            i.c.financier_due,
            i.c.financier_paid,
        ).where(*where)
    ).all()
    groups: dict[tuple[str, str], _Group] = defaultdict(_Group)
    key_of = {"buyer": 1, "supplier": 2, "financier": 0}[by]
    for r in rows:
        owed = holder_owed(r.financier_due, r.financier_paid)
        if owed <= 0:
            continue  # the holder has received its due: the rest is the seller's, no exposure
        g = groups[(str(r[key_of]), str(r.currency))]
        g.invoices += 1
        g.outstanding += owed
        g.advanced += int(r.advance)
        g.open += int(r.outstanding)
        g.reserve_held += reserve_held(int(r.outstanding), r.seller, r.financier_due, r.financier_paid)
    # Pending decisions use limits too, with the due they would have (see ledger.finance.store).
    financiers = (
        [financier]
        if financier is not None
        else sorted(
            {
                str(f)
                for f in conn.execute(
                    select(Decision.financier)
                    .where(
                        Decision.chain_id == scope.chain_id,
                        Decision.contract == scope.invoice_contract,
                        Decision.status.in_((APPROVED, EXECUTED)),
                    )
                    .distinct()
                ).scalars()
            }
        )
    )
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
        lines: dict[str, Callable[[], Decimal | None]] = {
            "buyer": lambda: lim.buyer_line(address, names.get(address)),
            "supplier": lambda: lim.supplier_line(address, names.get(address)),
            "financier": lambda: lim.book,
        }
        amount = lines[by]()
        return None if amount is None else major_to_minor_floor(amount, d)

    out_rows: list[dict[str, Any]] = []
    totals: dict[str, _Group] = defaultdict(_Group)
    for (address, currency), g in sorted(
        groups.items(), key=lambda kv: (scope.symbol(kv[0][1]), -(kv[1].outstanding + kv[1].pending))
    ):
        used = g.outstanding + g.pending
        limit = limit_for(address, currency)
        out_rows.append(
            {
                by: address,
                "name": names.get(address),
                "currency": scope.symbol(currency),
                "invoices": g.invoices,
                "outstanding": money(g.outstanding, currency),
                "advanced": money(g.advanced, currency),
                "open": money(g.open, currency),
                "reserve_held": money(g.reserve_held, currency),
                "pending_invoices": g.pending_invoices,
                "pending": money(g.pending, currency),
                "used": money(used, currency),
                "limit": None if limit is None else money(limit, currency),
                "used_pct": None if limit is None else _pct(used, limit),
                "headroom": None if limit is None else _signed(limit - used, currency, scope),
            }
        )
        t = totals[currency]
        t.invoices += g.invoices
        t.outstanding += g.outstanding
        t.advanced += g.advanced
        t.open += g.open
        t.reserve_held += g.reserve_held
        t.pending += g.pending
        t.pending_invoices += g.pending_invoices
    total_rows = [
        {
            "currency": scope.symbol(c),
            "invoices": t.invoices,
            "outstanding": money(t.outstanding, c),
            "advanced": money(t.advanced, c),
            "open": money(t.open, c),
            "reserve_held": money(t.reserve_held, c),
            "pending_invoices": t.pending_invoices,
            "pending": money(t.pending, c),
            "used": money(t.outstanding + t.pending, c),
        }
        for c, t in totals.items()
    ]
    return {
        "by": by,
        "as_of_block": point.block_number,
        "as_of": point.time.isoformat(),
        "financier": financier,
        "policy_hash": None if policy is None else policy.hash,
        "rows": out_rows,
        "totals": total_rows,
    }


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


def aging_report(
    conn: Connection, scope: LedgerScope, as_of: dt.date | None = None, holder: str | None = None
) -> dict[str, Any]:
    """Open confirmed receivables by buyer, in days-past-due buckets of the
    buyer's open amount; ``reserve`` is the part of it owed to sellers (the
    reserve of financed receivables), ``to_holders`` the rest."""
    day = _as_of(conn, scope, as_of)
    names = participant_names(conn, scope)
    money = scope.amount
    i = INVOICES
    where = _invoices_where(scope, OPEN_STATUSES, holder)
    rows = conn.execute(
        select(
            i.c.buyer, i.c.currency, i.c.outstanding, i.c.due_date, i.c.seller, i.c.financier_due, i.c.financier_paid
        ).where(*where)
    ).all()
    keys = (*BUCKETS, "count", "reserve")
    per: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(keys, 0))
    total: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(keys, 0))
    for r in rows:
        amount = int(r.outstanding)
        if amount <= 0:
            continue
        b = bucket_of((day - r.due_date).days)
        reserve = reserve_held(amount, r.seller, r.financier_due, r.financier_paid)
        for acc in (per[(str(r.buyer), str(r.currency))], total[str(r.currency)]):
            acc[b] += amount
            acc["count"] += 1
            acc["reserve"] += reserve

    def shaped(acc: Mapping[str, int], currency: str) -> dict[str, Any]:
        whole = sum(acc[b] for b in BUCKETS)
        return {
            "currency": scope.symbol(currency),
            "invoices": acc["count"],
            **{b: money(acc[b], currency) for b in BUCKETS},
            "total": money(whole, currency),
            "to_holders": money(whole - acc["reserve"], currency),
            "reserve": money(acc["reserve"], currency),
        }

    out = [
        {"buyer": buyer, "name": names.get(buyer), **shaped(acc, cur)}
        for (buyer, cur), acc in sorted(
            per.items(), key=lambda kv: (names.get(kv[0][0], kv[0][0]).casefold(), kv[0][1])
        )
    ]
    return {
        "as_of": day.isoformat(),
        "holder": holder,
        "buckets": list(BUCKETS),
        "rows": out,
        "totals": [shaped(acc, cur) for cur, acc in total.items()],
    }


# -- portfolio --------------------------------------------------------------------------------------------


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


def _portfolio_lines(conn: Connection, scope: LedgerScope, financier: str) -> list[_Line]:
    f, i, rp = FINANCINGS, INVOICES, REPAYMENTS
    rows = conn.execute(
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
        )
        .join(i, and_(i.c.chain_id == f.c.chain_id, i.c.contract == f.c.contract, i.c.invoice_id == f.c.invoice_id))
        .where(f.c.chain_id == scope.chain_id, f.c.contract == scope.invoice_contract, f.c.financier == financier)
    ).all()
    if not rows:
        return []
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
            rp.c.invoice_id.in_([int(r.invoice_id) for r in rows]),
        )
        .order_by(rp.c.block_number, rp.c.log_index)
    ).all():
        repayments[int(rep.invoice_id)].append(rep)
    out = []
    for r in rows:
        iid = int(r.invoice_id)
        due = int(r.due)
        paid_since = received = side = released = 0
        settled_on: dt.date | None = None
        for rep in repayments[iid]:
            if (int(rep.block_number), int(rep.log_index)) < (int(r.block_number), int(r.log_index)):
                continue  # paid before the financing: part of what was not financed
            paid_since += int(rep.amount)
            side += int(rep.to_payee)
            released += int(rep.to_seller)
            if rep.payee == financier:
                received += int(rep.to_payee)
            if settled_on is None and side >= due:
                settled_on = rep.block_time.astimezone(dt.UTC).date()
        out.append(
            _Line(
                invoice_id=iid,
                currency=str(r.currency),
                cash=int(r.advance),
                face=int(r.amount),
                due=due,
                open_at_financing=int(r.outstanding) + paid_since,
                received=received,
                side_received=side,
                reserve_released=released,
                status=str(r.status),
                financed_on=r.block_time.astimezone(dt.UTC).date(),
                due_date=r.due_date,
                settled_on=settled_on,
                held=r.holder == financier,
            )
        )
    return sorted(out, key=lambda x: x.invoice_id)


def _signed(units: int, currency: str, scope: LedgerScope) -> str:
    return signed_amount(units, scope.currency(currency).decimals)


def portfolio_report(
    conn: Connection, scope: LedgerScope, financier: str, as_of: dt.date | None = None, default_after_days: int = 90
) -> dict[str, Any]:
    """One financier's financings: per currency (``rows``) and per invoice
    (``invoices``), with the identities of the module docstring holding to
    the minor unit in both."""
    day = _as_of(conn, scope, as_of)
    names = participant_names(conn, scope)
    money = scope.amount
    by_currency: dict[str, list[_Line]] = defaultdict(list)
    lines = _portfolio_lines(conn, scope, financier)
    for line in lines:
        by_currency[line.currency].append(line)
    out = []
    for currency, group in sorted(by_currency.items(), key=lambda kv: scope.symbol(kv[0])):
        closed = [x for x in group if x.kind == "closed"]
        open_ = [x for x in group if x.kind == "open"]
        sold = [x for x in group if x.kind == "sold"]
        realised = sum(x.received - x.cash for x in closed)
        realised_base = sum(x.cash * max(1, ((x.settled_on or day) - x.financed_on).days) for x in closed)
        expected = sum(x.due - x.cash for x in open_)
        expected_base = sum(x.cash * max(1, (x.due_date - x.financed_on).days) for x in open_)
        overdue = [x for x in open_ if (day - x.due_date).days > 0]
        defaults = [x for x in overdue if (day - x.due_date).days > default_after_days]

        def total(figure: str, of: list[_Line] = group, cur: str = currency) -> str:
            return money(sum(int(getattr(x, figure)) for x in of), cur)

        out.append(
            {
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
                "realised_income": _signed(realised, currency, scope),
                "realised_yield_pct": _pct(realised * 365, realised_base),
                "expected_income": _signed(expected, currency, scope),
                "expected_yield_pct": _pct(expected * 365, expected_base),
                "overdue_invoices": len(overdue),
                "overdue": total("outstanding", overdue),
                "defaults": len(defaults),
                "defaulted": total("outstanding", defaults),
            }
        )
    invoices = [
        {
            "invoice_id": x.invoice_id,
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
        for x in lines
    ]
    return {
        "financier": financier,
        "name": names.get(financier),
        "as_of": day.isoformat(),
        "default_after_days": default_after_days,
        "rows": out,
        "invoices": invoices,
    }
