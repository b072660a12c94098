"""The portfolio report (database only: no web3): one financier's book, per
financed invoice and per currency. See :mod:`ledger.finance.reports` for the
figures, their identities, income and yield.

Multi-tier: each financed receivable, invoice or part, is one line with its
tier (1 for an invoice, 2 for a part of it, ...: depth + 1) and its root;
each currency's figures are also subtotalled by tier (``by_tier``: one row
per currency and tier), and the tiers add up to the currency's total to the
minor unit.

When things go wrong (contracts version 4), from the ``incidents`` and
``repayments`` tables, for the financier F and one financing, since it:

* ``received``: the buyer's payments to F (recoveries included);
  ``recoveries``: those paid after the receivable's default;
* ``dilution``: credit notes issued while F held it (what they took off the
  amount), and ``dilution_paid``: what the seller paid F for them in the
  same transaction (the part of F's due the credit notes would otherwise
  have cut); the rest of a credit note comes off the seller's reserve
  (``reserve_diluted``), so ``reserve at financing = released + diluted +
  held``;
* ``recourse``: what the seller paid F to buy the receivable back;
* ``written_off``: the claims F wrote off; ``loss``: what of them is still
  unpaid (the written-off receivable's outstanding due: later recoveries
  reduce it); ``recovered_after_write_off`` = written_off - loss.

So, per financing, exactly: ``due = received + dilution_paid + recourse +
outstanding + sold_due`` (``sold_due``: the due of a receivable F sold on).
A buy-back ends the financing: the seller holds the whole receivable again,
the buyer's later payments are its own (not in ``collected``), and the
reserve still in the receivable then counts as released to it.
A financing is *closed* when F has its whole due (by payments, credit-note
payments or a buy-back; a bought-back one is shown as ``bought_back``),
*written off* while a written-off claim is unpaid, *open* otherwise while F
holds it, *sold* when F no longer holds it.

Net of losses: ``net_income = sum over closed, bought-back and written-off
financings of (received + dilution_paid + recourse - cash)``, so a write-off
counts as the cash F got back less the cash it paid, recoveries included.
Its return is ``net_income / sum(cash)`` and its yield ``net_income x 365 /
sum(cash x days)`` (ACT/365) over the same financings, days from financing
to the payment that completed the due, or to the write-off; annualised only
when those days, weighted by cash, are at least 30. Percentages and days are
rounded half-even to two places; every amount is exact (integer minor units
summed in Python).

Without a financier (``financier=None``) the report covers every financier
with a financing: one report each (``financiers``) and ``totals``, the
figures of all their financings together per currency.
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
from ledger.finance.report_common import FINANCINGS, INCIDENTS, REPAYMENTS, as_of_day, pct, signed
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
    #: The financier's address (one report covers several without --as).
    financier: str = ""
    #: Contracts version 4, since the financing (see the module docstring).
    recoveries: int = 0
    dilution: int = 0
    dilution_paid: int = 0
    side_dilution_paid: int = 0
    recourse: int = 0
    side_recourse: int = 0
    written_off: int = 0
    #: Credit notes since the financing until it ended (a buy-back), whoever held it.
    credited_since: int = 0
    #: What the buyer paid since the financing until it ended (to holders and seller).
    collected: int = 0
    #: Defaults F declared: count and its claim at the default.
    defaults_declared: int = 0
    claim_at_default: int = 0
    written_off_on: dt.date | None = None

    @property
    def reserve_at_financing(self) -> int:
        return self.open_at_financing - self.due

    @property
    def reserve_diluted(self) -> int:
        """The reserve credit notes took: what they took off the open amount less what the seller
        paid the holder for them (the part of the holder's due they would have cut)."""
        return self.credited_since - self.side_dilution_paid

    @property
    def reserve_held(self) -> int:
        return self.reserve_at_financing - self.reserve_released - self.reserve_diluted

    @property
    def outstanding(self) -> int:
        """What the financier is still due (0 once it no longer holds it)."""
        return self.due - self.side_received - self.side_dilution_paid - self.side_recourse if self.held else 0

    @property
    def cash_in(self) -> int:
        """What came back to the financier: the buyer's payments, the seller's for credit notes and a buy-back."""
        return self.received + self.dilution_paid + self.recourse

    @property
    def sold_due(self) -> int:
        """Due it neither received nor holds any more (sold on)."""
        return self.due - self.cash_in - self.outstanding

    @property
    def loss(self) -> int:
        """What of the claims written off is still unpaid (0 once recovered, or if none)."""
        return self.outstanding if self.written_off else 0

    @property
    def kind(self) -> str:
        if self.recourse:
            return "bought_back"
        if not self.held:
            return "sold"
        if self.outstanding <= 0:
            return "closed"
        return "written_off" if self.written_off else "open"


def _financing_rows(conn: Connection, scope: LedgerScope, financier: str | None) -> Sequence[Any]:
    """The financier's financings (None: every financier's), with their invoices as they are now."""
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
            f.c.financier,
        )
        .join(i, and_(i.c.chain_id == f.c.chain_id, i.c.contract == f.c.contract, i.c.invoice_id == f.c.invoice_id))
        .where(
            f.c.chain_id == scope.chain_id,
            f.c.contract == scope.invoice_contract,
            *([] if financier is None else [f.c.financier == financier]),
        )
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
            rp.c.recovery,
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


def _incidents_of(conn: Connection, scope: LedgerScope, invoice_ids: list[int]) -> dict[int, list[Any]]:
    """The money incidents (credit notes, buy-backs, defaults, write-offs) of ``invoice_ids``, per
    invoice, in chain order."""
    n = INCIDENTS
    out: dict[int, list[Any]] = defaultdict(list)
    for row in conn.execute(
        select(
            n.c.invoice_id,
            n.c.kind,
            n.c.actor,
            n.c.counterparty,
            n.c.amount,
            n.c.paid_to_holder,
            n.c.block_number,
            n.c.log_index,
            n.c.block_time,
        )
        .where(
            n.c.chain_id == scope.chain_id,
            n.c.contract == scope.invoice_contract,
            n.c.invoice_id.in_(invoice_ids),
            n.c.kind.in_(("credit_note", "bought_back", "defaulted", "written_off")),
        )
        .order_by(n.c.block_number, n.c.log_index)
    ).all():
        out[int(row.invoice_id)].append(row)
    return out


@dataclass
class _Tally:
    """The money moves of one financing, summed in chain order (see :func:`_line_of`)."""

    financier: str
    due: int
    paid_since: int = 0  # all the buyer's payments since the financing: rebuild the open amount at financing
    credited: int = 0  # all credit notes since the financing, likewise
    paid_until: int = 0  # until the financing ended (a buy-back)
    credited_until: int = 0
    received: int = 0
    side: int = 0
    released: int = 0
    recoveries: int = 0
    dilution: int = 0
    dilution_paid: int = 0
    side_dilution_paid: int = 0
    recourse: int = 0
    side_recourse: int = 0
    written_off: int = 0
    declared: int = 0
    claim_at_default: int = 0
    written_off_on: dt.date | None = None
    settled_on: dt.date | None = None
    ended: bool = False

    def add(self, kind: str, x: Any) -> None:
        self.paid_since += int(x.amount) if kind == "repaid" else 0
        self.credited += int(x.amount or 0) if kind == "credit_note" else 0
        if self.ended:
            return
        getattr(self, f"_{kind}")(x)
        paid_in = kind in ("repaid", "credit_note", "bought_back")
        if self.settled_on is None and paid_in and self.side + self.side_dilution_paid + self.side_recourse >= self.due:
            self.settled_on = business_date(x.block_time)

    def _repaid(self, x: Any) -> None:
        self.paid_until += int(x.amount)
        self.side += int(x.to_payee)
        self.released += int(x.to_seller)
        if x.payee == self.financier:
            self.received += int(x.to_payee)
            self.recoveries += int(x.to_payee) if x.recovery else 0

    def _credit_note(self, x: Any) -> None:
        self.credited_until += int(x.amount or 0)
        self.side_dilution_paid += int(x.paid_to_holder or 0)
        if x.counterparty == self.financier:
            self.dilution += int(x.amount or 0)
            self.dilution_paid += int(x.paid_to_holder or 0)

    def _bought_back(self, x: Any) -> None:
        self.side_recourse += int(x.amount or 0)
        self.ended = True
        if x.counterparty == self.financier:
            self.recourse += int(x.amount or 0)

    def _defaulted(self, x: Any) -> None:
        if x.actor == self.financier:
            self.declared += 1
            self.claim_at_default += int(x.amount or 0)

    def _written_off(self, x: Any) -> None:
        if x.actor == self.financier:
            self.written_off += int(x.amount or 0)
            self.written_off_on = business_date(x.block_time)


def _line_of(r: Any, repayments: Sequence[Any], financier: str, incidents: Sequence[Any] = ()) -> _Line:
    """One financing row, its invoice's repayments and incidents as a :class:`_Line`.

    A buy-back ends the financing: the seller holds the whole receivable again, so the buyer's
    later payments and credit notes are its own, and the reserve still in the receivable then
    (its open amount less what the seller paid for the holder's due) counts as released to it."""
    t = _Tally(financier, int(r.due))
    since = (int(r.block_number), int(r.log_index))
    # One pass in chain order over what moved money or the claim, so the day the due was completed is known.
    moves = sorted(
        [("repaid", x) for x in repayments] + [(str(x.kind), x) for x in incidents],
        key=lambda kx: (int(kx[1].block_number), int(kx[1].log_index)),
    )
    for kind, x in moves:
        if (int(x.block_number), int(x.log_index)) >= since:  # before: part of what was not financed
            t.add(kind, x)
    open_at_financing = int(r.outstanding) + t.paid_since + t.credited
    released = t.released
    if t.ended:
        # The reserve the seller took back with the receivable: what was open then less the holder's due it paid.
        released += open_at_financing - t.paid_until - t.credited_until - t.side_recourse
    return _Line(
        invoice_id=int(r.invoice_id),
        currency=str(r.currency),
        cash=int(r.advance),
        face=int(r.amount) + t.credited,
        due=t.due,
        open_at_financing=open_at_financing,
        received=t.received,
        side_received=t.side,
        reserve_released=released,
        status=str(r.status),
        financed_on=business_date(r.block_time),
        due_date=r.due_date,
        settled_on=t.settled_on,
        held=r.holder == financier,
        tier=int(r.depth or 0) + 1,
        root_id=int(r.root_id or r.invoice_id),
        financier=financier,
        recoveries=t.recoveries,
        dilution=t.dilution,
        dilution_paid=t.dilution_paid,
        side_dilution_paid=t.side_dilution_paid,
        recourse=t.recourse,
        side_recourse=t.side_recourse,
        written_off=t.written_off,
        credited_since=t.credited_until,
        defaults_declared=t.declared,
        claim_at_default=t.claim_at_default,
        written_off_on=t.written_off_on,
        collected=t.paid_until,
    )


def _portfolio_lines(conn: Connection, scope: LedgerScope, financier: str | None) -> list[_Line]:
    """The financings of ``financier`` (None: of every financier), by invoice."""
    rows = _financing_rows(conn, scope, financier)
    if not rows:
        return []
    ids = sorted({int(r.invoice_id) for r in rows})
    repayments = _repayments_of(conn, scope, ids)
    incidents = _incidents_of(conn, scope, ids)
    out = [_line_of(r, repayments[int(r.invoice_id)], str(r.financier), incidents[int(r.invoice_id)]) for r in rows]
    return sorted(out, key=lambda x: (x.invoice_id, x.financed_on, x.financier))


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
    closed = [x for x in group if x.kind in ("closed", "bought_back")]
    open_ = [x for x in group if x.kind == "open"]
    sold = [x for x in group if x.kind == "sold"]
    written = [x for x in group if x.kind == "written_off"]
    realised = sum(x.cash_in - x.cash for x in closed)
    realised_spans = [(x.cash, max(0, ((x.settled_on or day) - x.financed_on).days)) for x in closed]
    # Expected income counts only the healthy open financings: one its holder declared in default
    # is a claim in recovery (reported with the defaults), not income to be expected.
    performing = [x for x in open_ if x.status != "Defaulted"]
    expected = sum(x.due - x.cash for x in performing)
    expected_spans = [(x.cash, max(0, (x.due_date - x.financed_on).days)) for x in performing]
    # Net of losses: the closed financings and the written-off ones at what came back of them.
    net = realised + sum(x.cash_in - x.cash for x in written)
    net_spans = realised_spans + [(x.cash, max(0, ((x.written_off_on or day) - x.financed_on).days)) for x in written]
    overdue = [x for x in open_ + written if (day - x.due_date).days > 0]
    defaults = [x for x in overdue if (day - x.due_date).days > default_after_days]
    ever_written = [x for x in group if x.written_off]

    def total(figure: str, of: list[_Line] = group) -> str:
        return money(sum(int(getattr(x, figure)) for x in of), currency)

    return {
        "currency": scope.symbol(currency),
        "financed": len(group),
        "open": len(open_),
        "closed": sum(1 for x in closed if x.kind == "closed"),
        "bought_back": sum(1 for x in closed if x.kind == "bought_back"),
        "written_off_invoices": len(written),
        "sold": len(sold),
        "advanced": total("cash"),
        "face": total("face"),
        "open_at_financing": total("open_at_financing"),
        "due": total("due"),
        "received": total("received"),
        "outstanding": total("outstanding"),
        "sold_due": total("sold_due"),
        "collected": total("collected"),
        "reserve_at_financing": total("reserve_at_financing"),
        "reserve_released": total("reserve_released"),
        "reserve_diluted": total("reserve_diluted"),
        "reserve_held": total("reserve_held"),
        "realised_income": signed(realised, currency, scope),
        **_income_figures("realised", realised, realised_spans),
        "expected_income": signed(expected, currency, scope),
        **_income_figures("expected", expected, expected_spans),
        "overdue_invoices": len(overdue),
        "overdue": total("outstanding", overdue),
        "defaults": len(defaults),
        "defaulted": total("outstanding", defaults),
        "declared_defaults": sum(x.defaults_declared for x in group),
        "claim_at_default": total("claim_at_default"),
        "written_off": total("written_off"),
        "loss": total("loss"),
        "recovered_after_write_off": money(sum(x.written_off - x.loss for x in ever_written), currency),
        "recoveries": total("recoveries"),
        "recourse": total("recourse"),
        "dilution": total("dilution"),
        "dilution_paid": total("dilution_paid"),
        "net_income": signed(net, currency, scope),
        **_income_figures("net", net, net_spans),
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
        "reserve_diluted": money(x.reserve_diluted, x.currency),
        "reserve_held": money(x.reserve_held, x.currency),
        "financier": x.financier,
        "recoveries": money(x.recoveries, x.currency),
        "dilution": money(x.dilution, x.currency),
        "dilution_paid": money(x.dilution_paid, x.currency),
        "recourse": money(x.recourse, x.currency),
        "written_off": money(x.written_off, x.currency),
        "loss": money(x.loss, x.currency),
    }


def _by_currency(scope: LedgerScope, lines: list[_Line]) -> list[tuple[str, list[_Line]]]:
    by_currency: dict[str, list[_Line]] = defaultdict(list)
    for line in lines:
        by_currency[line.currency].append(line)
    return sorted(by_currency.items(), key=lambda kv: scope.symbol(kv[0]))


def portfolio_report(
    conn: Connection,
    scope: LedgerScope,
    financier: str | None,
    as_of: dt.date | None = None,
    default_after_days: int = 90,
) -> dict[str, Any]:
    """One financier's financings: per currency (``rows``) and per invoice
    (``invoices``), with the identities of :mod:`ledger.finance.reports` holding to
    the minor unit in both. ``financier`` None: every financier's, one report each
    (``financiers``), and ``totals``: all their financings together, per currency."""
    day = as_of_day(conn, scope, as_of)
    if financier is None:
        lines = _portfolio_lines(conn, scope, None)
        who = sorted({x.financier for x in lines})
        return {
            "financier": None,
            "as_of": day.isoformat(),
            "default_after_days": default_after_days,
            "financiers": [_one_portfolio(conn, scope, f, day, default_after_days) for f in who],
            "totals": [
                _currency_row(scope, c, group, day, default_after_days) for c, group in _by_currency(scope, lines)
            ],
        }
    return _one_portfolio(conn, scope, financier, day, default_after_days)


def _one_portfolio(
    conn: Connection, scope: LedgerScope, financier: str, day: dt.date, default_after_days: int
) -> dict[str, Any]:
    names = participant_names(conn, scope)
    lines = _portfolio_lines(conn, scope, financier)
    currencies = _by_currency(scope, lines)
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
