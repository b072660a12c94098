"""Exact money parsing and formatting."""

from decimal import Decimal

import pytest

from ledger.errors import InputError
from ledger.money import format_money, from_minor_units, to_minor_units


@pytest.mark.parametrize(
    ("text", "units"),
    [("125000.00", 12500000), ("0.01", 1), ("1,250,000.50", 125000050), ("7", 700), (" 3.5 ", 350),
     ("9" * 36, int("9" * 36) * 100)],
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
