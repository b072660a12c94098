"""Pricing a financing: advance, discount, fees, what the holder receives and
the seller's reserve.

All amounts are integer minor units of the invoice's currency; rates are
``Decimal``. The figures are first computed exactly (as rational numbers):

    advance*  = advance_rate(grade) x open amount
    discount* = advance* x (base_rate + spread(grade)) x days / day_base
    fees*     = fee_fixed + fee_rate x advance*
    net*      = advance* - discount* - fees*

``days`` is the actual number of days from the value date (the decision's
business date, :mod:`ledger.business_time`) to the due date; ``day_base`` is 360 for ACT/360 and 365 for
ACT/365.

Rounding rule: the cash the holder receives on chain is rounded once, down:
``net = floor(net*)``, less than one minor unit below the exact amount, in
the financier's favour (never more than that). The shown figures add up to
it exactly:

    advance  = floor(advance*)                 (the financier lends at most the exact amount)
    fees     = ceil(fees*), but at most advance - net
    discount = advance - net - fees            (the rest of the charges)
    reserve  = open amount - advance           (the seller's, paid to it as the buyer pays)

So advance = discount + fees + net, open amount = advance + reserve, every
figure is a whole number of minor units, none is negative, and a figure that
is already whole is never moved. (Rounding the advance, the discount and the
fees each on its own would pay up to three minor units less than the exact
net.)

Settlement on chain (``InvoiceToken.finance``, version 2) takes exactly
these figures: the terms' ``advance`` is ``net`` (paid now by the financier
to the seller, the current holder) and the terms' ``due`` is the gross
``advance``: the financier gets back what it paid plus its discount and fees
(net + discount + fees = advance) from the buyer's payments, which go first
to the holder up to that due; the rest of the open amount, the ``reserve``,
the contract pays to the seller as the buyer pays it. So the seller receives
``net`` now and ``reserve`` later, open amount - discount - fees in all, and
the contract's bounds hold: 0 < net <= advance <= open amount (a price whose
net is not above zero is declined; the advance rate is at most 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from ledger.finance.policy import DAY_COUNTS

#: Day count of the quick discount of `scf invoice finance --discount-rate`.
QUICK_DAY_COUNT = "ACT/365"


@dataclass(frozen=True)
class Price:
    """The terms of one financing, in minor units."""

    open_amount: int
    days: int
    day_count: str
    advance_rate: Decimal
    #: base rate + spread of the buyer's grade, annual.
    annual_rate: Decimal
    #: The gross advance: what the financier is due of the buyer's payments (the contract's ``due``).
    advance: int
    discount: int
    fees: int
    #: What the holder receives now, on chain (the contract's ``advance``): advance - discount - fees.
    net_advance: int
    #: Open amount above the gross advance: the seller's, paid to it by the contract as the buyer pays.
    reserve: int

    def as_dict(self) -> dict[str, str | int]:
        return {
            "open_amount": self.open_amount,
            "days": self.days,
            "day_count": self.day_count,
            "advance_rate": str(self.advance_rate),
            "annual_rate": str(self.annual_rate),
            "advance": self.advance,
            "discount": self.discount,
            "fees": self.fees,
            "net_advance": self.net_advance,
            "reserve": self.reserve,
        }


def floor_units(value: Fraction) -> int:
    return math.floor(value)


def ceil_units(value: Fraction) -> int:
    return math.ceil(value)


def major_to_minor_ceil(amount: Decimal, decimals: int) -> int:
    """A policy amount in major units as minor units, rounded up (for fees)."""
    return ceil_units(Fraction(amount) * 10**decimals)


def major_to_minor_floor(amount: Decimal, decimals: int) -> int:
    """A policy amount in major units as minor units, rounded down (for limits)."""
    return floor_units(Fraction(amount) * 10**decimals)


def day_base(day_count: str) -> int:
    try:
        return DAY_COUNTS[day_count]
    except KeyError:
        raise ValueError(f"unknown day count {day_count!r}; use ACT/360 or ACT/365") from None


def advance_exact(open_amount: int, advance_rate: Decimal) -> Fraction:
    return Fraction(advance_rate) * open_amount


def advance_amount(open_amount: int, advance_rate: Decimal) -> int:
    """advance_rate x open amount, rounded down (`scf invoice finance --advance-rate`)."""
    return floor_units(advance_exact(open_amount, advance_rate))


def discounted_advance(open_amount: int, annual_rate: Decimal, days: int, day_count: str = "ACT/365") -> int:
    """The open amount less its discount at ``annual_rate`` for ``days``, the
    discount rounded up (`scf invoice finance --discount-rate`: no reserve,
    no fees, the whole open amount advanced and due)."""
    return open_amount - ceil_units(discount_exact(Fraction(open_amount), annual_rate, days, day_count))


def discount_exact(advance: Fraction, annual_rate: Decimal, days: int, day_count: str) -> Fraction:
    """advance x annual_rate x days / day base, exactly."""
    return advance * Fraction(annual_rate) * days / day_base(day_count)


def fees_exact(advance: Fraction, fee_fixed_units: int, fee_rate: Decimal) -> Fraction:
    """fee_fixed + fee_rate x advance, exactly."""
    return fee_fixed_units + Fraction(fee_rate) * advance


def price(
    open_amount: int,
    days: int,
    *,
    advance_rate: Decimal,
    base_rate: Decimal,
    spread: Decimal,
    day_count: str,
    fee_fixed_units: int = 0,
    fee_rate: Decimal = Decimal(0),
) -> Price:
    """Price financing ``open_amount`` minor units for ``days`` days (see the
    module's rounding rule). A net below zero is kept: the price rule declines it."""
    if open_amount < 0 or days < 0 or fee_fixed_units < 0:
        raise ValueError("amounts and days cannot be negative")
    annual = base_rate + spread
    exact_advance = advance_exact(open_amount, advance_rate)
    exact_fees = fees_exact(exact_advance, fee_fixed_units, fee_rate)
    exact_net = exact_advance - discount_exact(exact_advance, annual, days, day_count) - exact_fees
    advance = floor_units(exact_advance)
    net = floor_units(exact_net)
    charges = advance - net
    fees = max(0, min(ceil_units(exact_fees), charges))
    return Price(
        open_amount=open_amount,
        days=days,
        day_count=day_count,
        advance_rate=advance_rate,
        annual_rate=annual,
        advance=advance,
        discount=charges - fees,
        fees=fees,
        net_advance=net,
        reserve=open_amount - advance,
    )
