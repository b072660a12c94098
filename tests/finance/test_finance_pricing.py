"""Pricing with hand-computed figures: advance, discount (ACT/360, ACT/365),
fees, and the rounding rule (the net cash paid is the exact net rounded down
once, by less than one minor unit; advance down, fees up within the charges,
the discount the rest; nothing moved when the figures are already whole)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from ledger.finance.pricing import (
    advance_amount,
    discount_exact,
    fees_exact,
    major_to_minor_ceil,
    major_to_minor_floor,
    price,
)
from ledger.finance.rules import InvoiceFacts, tenor_days


def test_finance_pricing_act365_worked_example() -> None:
    # HKD 100,000.00 open, grade B: 90% advance, 4.50% + 2.50% = 7.00% a year, 60 days ACT/365,
    # fees HKD 250.00 + 0.10% of the advance.
    p = price(
        10_000_000,
        60,
        advance_rate=Decimal("0.90"),
        base_rate=Decimal("0.045"),
        spread=Decimal("0.025"),
        day_count="ACT/365",
        fee_fixed_units=25_000,
        fee_rate=Decimal("0.001"),
    )
    assert p.advance == 9_000_000  # HKD 90,000.00 exactly
    # 9,000,000 x 0.07 x 60 / 365 = 37,800,000 / 365 = 103,561.64... -> up to 103,562
    assert p.discount == 103_562
    assert p.fees == 25_000 + 9_000  # 0.10% of 9,000,000 = 9,000 exactly
    assert p.net_advance == 9_000_000 - 103_562 - 34_000 == 8_862_438
    assert p.reserve == 1_000_000
    assert p.annual_rate == Decimal("0.070")


def test_finance_pricing_act360_is_exact_where_act365_rounds() -> None:
    # Same financing on ACT/360: 37,800,000 / 360 = 105,000 exactly, so nothing is rounded.
    p = price(
        10_000_000,
        60,
        advance_rate=Decimal("0.90"),
        base_rate=Decimal("0.045"),
        spread=Decimal("0.025"),
        day_count="ACT/360",
    )
    assert p.discount == 105_000
    assert p.fees == 0
    assert p.net_advance == 8_895_000
    # ACT/360 charges more than ACT/365 for the same days.
    assert p.discount > discount_exact(Fraction(9_000_000), Decimal("0.07"), 60, "ACT/365")


def test_finance_pricing_advance_rounds_down_by_less_than_a_unit() -> None:
    assert advance_amount(100_001, Decimal("0.9")) == 90_000  # 90,000.9 -> 90,000
    assert advance_amount(100_000, Decimal("0.9")) == 90_000  # whole: unchanged
    assert advance_amount(99_999, Decimal("0.95")) == 94_999  # 94,999.05 -> 94,999
    assert advance_amount(1, Decimal("0.99")) == 0
    assert advance_amount(12_345, Decimal(1)) == 12_345


def test_finance_pricing_net_is_the_exact_net_rounded_down_once() -> None:
    # HKD 1,000.21 at 90%: advance* 900.189; 7% for 61 days ACT/365: discount* 10.530978...;
    # fees* 250.00 + 0.15% x 900.189 = 251.3502835; net* 638.307738... -> 638.30 (63,830 units).
    # Rounding each figure on its own (advance down, discount and fees up) paid 63,828: 2.77 units short.
    p = price(
        100_021,
        61,
        advance_rate=Decimal("0.9"),
        base_rate=Decimal("0.07"),
        spread=Decimal(0),
        day_count="ACT/365",
        fee_fixed_units=25_000,
        fee_rate=Decimal("0.0015"),
    )
    assert p.net_advance == 63_830
    assert (p.advance, p.fees, p.discount) == (90_018, 25_136, 1_052)  # fees up; the discount is the rest
    assert p.advance == p.discount + p.fees + p.net_advance


def test_finance_pricing_whole_figures_are_not_moved() -> None:
    # 36,500 x 10% x 1 / 365 = 10 exactly, fees 0.15% x 90,000 = 135 exactly: nothing rounded.
    p = price(36_500, 1, advance_rate=Decimal(1), base_rate=Decimal("0.10"), spread=Decimal(0), day_count="ACT/365")
    assert (p.advance, p.discount, p.fees, p.net_advance) == (36_500, 10, 0, 36_490)
    p = price(
        90_000,
        0,
        advance_rate=Decimal(1),
        base_rate=Decimal("0.05"),
        spread=Decimal(0),
        day_count="ACT/360",
        fee_rate=Decimal("0.0015"),
    )
    assert (p.discount, p.fees, p.net_advance) == (0, 135, 89_865)
    # A tiny charge still costs the holder a whole unit of the net: 1 unit x 1% x 1/360 -> net 0.
    p = price(1, 1, advance_rate=Decimal(1), base_rate=Decimal("0.01"), spread=Decimal(0), day_count="ACT/360")
    assert (p.advance, p.discount, p.fees, p.net_advance) == (1, 1, 0, 0)
    assert fees_exact(Fraction(90_001), 25_000, Decimal(0)) == 25_000


def test_finance_pricing_leap_year_days_are_actual_days() -> None:
    inv = InvoiceFacts(1, "Confirmed", "0xS", "0xB", "0xS", None, "HKD", 2, 100, 100, dt.date(2028, 3, 1))
    feb_first = dt.datetime(2028, 2, 1, 15, 59, tzinfo=dt.UTC)  # 23:59 on 1 February in Hong Kong, the business date
    assert tenor_days(inv, feb_first) == 29  # 2028 is a leap year
    inv2 = InvoiceFacts(1, "Confirmed", "0xS", "0xB", "0xS", None, "HKD", 2, 100, 100, dt.date(2027, 3, 1))
    assert tenor_days(inv2, dt.datetime(2027, 2, 1, tzinfo=dt.UTC)) == 28
    # 366 actual days on ACT/365 charge more than a year's rate: 1,000,000 x 5% x 366/365 = 50,136.98... -> 50,137
    assert math.ceil(discount_exact(Fraction(1_000_000), Decimal("0.05"), 366, "ACT/365")) == 50_137


def test_finance_pricing_policy_amounts_to_minor_units() -> None:
    assert major_to_minor_ceil(Decimal("250.00"), 2) == 25_000
    assert major_to_minor_ceil(Decimal("250.001"), 2) == 25_001  # fees round up
    assert major_to_minor_floor(Decimal("250.009"), 2) == 25_000  # limits round down
    assert major_to_minor_floor(Decimal("5000000"), 0) == 5_000_000


def test_finance_pricing_exact_at_uint128_scale() -> None:
    big = 2**128 - 1
    p = price(
        big, 180, advance_rate=Decimal("0.9"), base_rate=Decimal("0.05"), spread=Decimal("0.0125"), day_count="ACT/360"
    )
    assert p.advance == big * 9 // 10
    exact_advance = Fraction(big) * Fraction("0.9")
    assert p.net_advance == math.floor(exact_advance - exact_advance * Fraction("0.0625") * 180 / 360)
    assert p.advance == p.discount + p.fees + p.net_advance


@given(
    open_amount=st.integers(min_value=0, max_value=10**20),
    days=st.integers(min_value=0, max_value=400),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(1), places=4),
    annual=st.decimals(min_value=Decimal(0), max_value=Decimal("0.5"), places=5),
    fee_rate=st.decimals(min_value=Decimal(0), max_value=Decimal("0.01"), places=5),
    day_count=st.sampled_from(["ACT/360", "ACT/365"]),
    fee_fixed=st.integers(min_value=0, max_value=10**6),
)
def test_finance_pricing_rounding_favours_financier_by_less_than_one_unit(
    open_amount: int, days: int, rate: Decimal, annual: Decimal, fee_rate: Decimal, day_count: str, fee_fixed: int
) -> None:
    p = price(
        open_amount,
        days,
        advance_rate=rate,
        base_rate=annual,
        spread=Decimal(0),
        day_count=day_count,
        fee_rate=fee_rate,
        fee_fixed_units=fee_fixed,
    )
    base = 360 if day_count == "ACT/360" else 365
    exact_advance = Fraction(rate) * open_amount
    exact_discount = exact_advance * Fraction(annual) * days / base
    exact_fees = fee_fixed + Fraction(fee_rate) * exact_advance
    exact_net = exact_advance - exact_discount - exact_fees
    # The cash paid: at most one minor unit (strictly less) below the exact net, never above it.
    assert 0 <= exact_net - p.net_advance < 1
    assert 0 <= exact_advance - p.advance < 1
    # The shown figures add up exactly, none negative; fees rounded up unless the charges are smaller.
    assert p.advance == p.discount + p.fees + p.net_advance
    assert p.discount >= 0 and 0 <= p.fees <= math.ceil(exact_fees)
    assert abs((p.discount + p.fees) - (exact_discount + exact_fees)) < 1
    assert p.reserve == open_amount - p.advance
