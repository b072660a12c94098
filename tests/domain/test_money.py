"""Exact money parsing and formatting."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InputError
from ledger.money import format_money, from_minor_units, to_minor_units


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("125000.00", 12500000),
        ("0.01", 1),
        ("1,250,000.50", 125000050),
        ("7", 700),
        (" 3.5 ", 350),
        ("9" * 36, int("9" * 36) * 100),
    ],
)
def test_money_parses_exact_minor_units(text, units):
    assert to_minor_units(text, 2) == units


@pytest.mark.parametrize("text", ["12,34", "1,2,3", "1,25,000", "-5", "1e3", "12_000", "", "1.234", "NaN", "0x10"])
def test_money_refuses_ambiguous_or_inexact_amounts(text):
    with pytest.raises(InputError):
        to_minor_units(text, 2)


def test_money_formats_back_exactly():
    assert from_minor_units(2**128, 2) == Decimal("3402823669209384634633746074317682114.56")
    assert format_money(12500000, 2, "HKD") == "HKD 125,000.00"


def test_money_format_spellings_of_one_amount() -> None:
    from ledger import format as fmt

    assert fmt.amount(12500000, 2) == "125000.00"
    assert fmt.money(12500000, 2, "HKD") == "HKD 125,000.00"
    assert fmt.symbol_amount(12500000, 2, "HKD") == "HKD 125000.00"
    assert fmt.signed_amount(-1250, 2) == "-12.50"
    assert fmt.Money("HKD", 2)(5) == "HKD 0.05" and fmt.Money("HKD", 2).optional(None) is None
    assert fmt.party(None, "x") is None
    assert fmt.party("0xabc", {"0xabc": "Acme"}.get) == {"address": "0xabc", "name": "Acme"}
    assert fmt.someone("0x" + "00" * 20) is None and fmt.label(None, None) == "-"


@pytest.mark.parametrize(
    ("text", "rate"), [("0.9", "0.9"), ("90%", "0.9"), (" 6.5 %", "0.065"), ("1", "1"), (".5", "0.5"), ("1e-1", "0.1")]
)
def test_money_parse_rate_fraction_or_percentage(text: str, rate: str) -> None:
    from ledger.money import parse_rate

    assert parse_rate(text, "advance rate") == Decimal(rate)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0", "invalid advance rate '0': must be above 0 and at most 1 (100%)"),
        ("101%", "invalid advance rate '101%': must be above 0 and at most 1 (100%)"),
        ("0,9", "invalid advance rate '0,9': use a fraction such as 0.9 or a percentage such as 90%"),
        ("nan", "invalid advance rate 'nan': use a fraction such as 0.9 or a percentage such as 90%"),
    ],
)
def test_money_parse_rate_refusals(text: str, message: str) -> None:
    from ledger.money import parse_rate

    with pytest.raises(InputError) as caught:
        parse_rate(text, "advance rate")
    assert str(caught.value) == message


@given(units=st.integers(min_value=-(2**256), max_value=2**256), decimals=st.integers(min_value=0, max_value=24))
def test_money_amount_text_is_exact_and_never_exponent_form(units: int, decimals: int) -> None:
    """``format.amount`` (integer division, on every row the API lists) says
    exactly :func:`from_minor_units`' value, in plain notation with the
    currency's places: ``Decimal`` alone would print ``0E-18`` for zero of an
    18-decimal token."""
    from ledger.format import amount

    text = amount(units, decimals)
    assert Decimal(text) == from_minor_units(units, decimals)
    assert "E" not in text.upper()
    assert len(text.partition(".")[2]) == decimals
