"""Pricing a financing: advance, discount, fees and what the holder receives.

All amounts are integer minor units of the invoice's currency; rates are
``Decimal``. Each figure is computed exactly (as a rational number) and then
rounded once, to a whole minor unit:

    advance  = advance_rate(grade) x open amount                      rounded DOWN
    discount = advance x (base_rate + spread(grade)) x days / day_base rounded UP
    fees     = fee_fixed + fee_rate x advance                          rounded UP
    net      = advance - discount - fees        (what the holder receives on chain)
    reserve  = open amount - advance            (returned to the seller once the buyer pays)

``days`` is the actual number of days from the value date (the date of the
decision, UTC) to the due date; ``day_base`` is 360 for ACT/360 and 365 for
ACT/365.

Rounding rule: every rounding favours the financier, and by less than one
minor unit per figure: the advance is rounded down (the financier lends at
most the exact amount), the discount and the fees are rounded up (it charges
at least the exact amount). A figure that is already a whole number of minor
units is never moved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from ledger.finance.policy import DAY_COUNTS


@dataclass(frozen=True)
class Price:
    """The terms of one financing, in minor units."""

    open_amount: int
    days: int
    day_count: str
    advance_rate: Decimal
    #: base rate + spread of the buyer's grade, annual.
    annual_rate: Decimal
    advance: int
    discount: int
    fees: int
    #: What the holder receives on chain (the contract's ``advance`` argument).
    net_advance: int
    #: Open amount above the advance: owed to the seller when the buyer pays.
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


def advance_amount(open_amount: int, advance_rate: Decimal) -> int:
    """advance_rate x open amount, rounded down."""
    return floor_units(Fraction(advance_rate) * open_amount)


def discount_amount(advance: int, annual_rate: Decimal, days: int, day_count: str) -> int:
    """advance x annual_rate x days / day base, rounded up."""
    return ceil_units(Fraction(advance) * Fraction(annual_rate) * days / day_base(day_count))


def fee_amount(advance: int, fee_fixed_units: int, fee_rate: Decimal) -> int:
    """fee_fixed + fee_rate x advance, rounded up."""
    return fee_fixed_units + ceil_units(Fraction(fee_rate) * advance)


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
    """Price financing ``open_amount`` minor units for ``days`` days."""
    if open_amount < 0 or days < 0 or fee_fixed_units < 0:
        raise ValueError("amounts and days cannot be negative")
    advance = advance_amount(open_amount, advance_rate)
    annual = base_rate + spread
    discount = discount_amount(advance, annual, days, day_count)
    fees = fee_amount(advance, fee_fixed_units, fee_rate)
    return Price(
        open_amount=open_amount,
        days=days,
        day_count=day_count,
        advance_rate=advance_rate,
        annual_rate=annual,
        advance=advance,
        discount=discount,
        fees=fees,
        net_advance=advance - discount - fees,
        reserve=open_amount - advance,
    )
