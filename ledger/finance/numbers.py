"""Exact numbers as text: rationals rounded half-even to a number of places
(for ratios, averages and percentages in reasons, stored inputs and reports)."""

from __future__ import annotations

from decimal import Context, Decimal
from fractions import Fraction


def decimal_text(value: Fraction | Decimal | int, places: int) -> str:
    """``value`` rounded to ``places`` decimal places, as text."""
    f = Fraction(value)
    digits = len(str(abs(f.numerator) // f.denominator)) + places + 4
    exact = Context(prec=digits)
    return str(
        exact.divide(Decimal(f.numerator), Decimal(f.denominator)).quantize(Decimal(1).scaleb(-places), context=exact)
    )


def percent(ratio: Fraction | Decimal | int, places: int = 2) -> str:
    """A ratio as a percentage without the sign: Fraction(1, 8) -> "12.50"."""
    return decimal_text(Fraction(ratio) * 100, places)


def percent_sign(ratio: Fraction | Decimal | int, places: int = 2) -> str:
    """A ratio as a percentage with the sign: Fraction(1, 8) -> "12.50%"."""
    return percent(ratio, places) + "%"
