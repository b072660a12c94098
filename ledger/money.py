"""Exact money: parse user input into integer minor units and format it
back, never floats; and parse the dates users type (what a date means on
chain is :mod:`ledger.business_time`'s)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Context, Decimal, InvalidOperation

from ledger.errors import InputError

# Plain digits, or thousands groups with commas ("1,250,000.50"); a comma
# anywhere else (a decimal comma such as "12,34") is refused, never dropped.
_AMOUNT_RE = re.compile(r"^(\d{1,36}|\d{1,3}(,\d{3}){1,11})(\.\d+)?$")


def to_minor_units(text: str | Decimal, decimals: int, what: str = "amount") -> int:
    """Parse a decimal amount ("125000.00", "1,250.5") into minor units.

    Refuses negatives, zero-free garbage, exponents and more fractional digits
    than the currency has: rounding money silently is never right.
    """
    raw = str(text).strip()
    if not _AMOUNT_RE.match(raw):
        raise InputError(f"invalid {what} {str(text)!r}: use a positive decimal number such as 125000.00")
    raw = raw.replace(",", "")
    try:
        value = Decimal(raw)
    except InvalidOperation as exc:  # pragma: no cover - the regex guards this
        raise InputError(f"invalid {what} {text!r}") from exc
    # The default context keeps 28 digits and would round larger amounts silently.
    scaled = value.scaleb(decimals, _exact(len(raw)))
    if scaled != scaled.to_integral_value():
        raise InputError(f"invalid {what} {text!r}: at most {decimals} decimal places for this currency")
    return int(scaled)


def from_minor_units(units: int, decimals: int) -> Decimal:
    """Minor units as an exact Decimal with the currency's number of places."""
    exact = _exact(len(str(abs(units))) + decimals)
    return Decimal(units).scaleb(-decimals, exact).quantize(Decimal(1).scaleb(-decimals), context=exact)


def _exact(digits: int) -> Context:
    """A context wide enough for `digits` digits: uint256 amounts (78 digits)
    exceed the default precision of 28, which would round them."""
    return Context(prec=digits + 2)


def format_money(units: int, decimals: int, currency: str = "") -> str:
    """``12500000, 2, "HKD"`` -> ``"HKD 125,000.00"``."""
    text = f"{from_minor_units(units, decimals):,.{decimals}f}"
    return f"{currency} {text}".strip()


# A decimal number as users and policy files write it: digits with optional
# thousands groups, an optional fraction, an optional exponent ("1.5e-2").
_DECIMAL_RE = re.compile(r"^[+-]?((\d+|\d{1,3}(,\d{3})+)(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def parse_decimal(raw: object, *, allow_percent: bool = False) -> Decimal | None:
    """A number (int, Decimal, or text such as ``"0.045"``, ``"1,250.5"``,
    ``"4.5%"`` when ``allow_percent``) as an exact finite Decimal; None if it
    is none. Commas only as thousands groups: a decimal comma such as
    ``"12,34"`` is refused, never read as 1234. Underscores are ignored."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, Decimal):
        value = raw
    elif isinstance(raw, str):
        text = raw.strip().replace("_", "")
        percent = allow_percent and text.endswith("%")
        if percent:
            text = text[:-1].strip()
        if not _DECIMAL_RE.match(text):
            return None
        try:
            value = Decimal(text.replace(",", ""))
        except InvalidOperation:  # pragma: no cover - the regex guards this
            return None
        if percent:
            value = value / 100
    else:
        return None
    return value if value.is_finite() else None


def parse_rate(text: str, what: str = "rate") -> Decimal:
    """A rate given by the user as a fraction ("0.9") or a percentage
    ("90%"), above 0 and at most 1 (:func:`parse_decimal`'s grammar)."""
    value = parse_decimal(text, allow_percent=True)
    if value is None:
        raise InputError(f"invalid {what} {text!r}: use a fraction such as 0.9 or a percentage such as 90%")
    if value <= 0 or value > 1:
        raise InputError(f"invalid {what} {text!r}: must be above 0 and at most 1 (100%)")
    return value


def parse_date(text: str, what: str = "date") -> dt.date:
    """An ISO date (YYYY-MM-DD)."""
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputError(f"invalid {what} {text!r}: use YYYY-MM-DD, for example 2027-01-31") from exc
