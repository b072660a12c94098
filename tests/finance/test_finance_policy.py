"""Policy files: the example loads into typed values, the hash follows the
meaning (not the layout), and every bad key gives its exact one-line error."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ledger.config import REPO_ROOT
from ledger.finance.policy import PolicyError, load_policy, parse_policy

EXAMPLE = REPO_ROOT / "examples" / "policy.toml"

MINIMAL = """
[eligibility]
currencies = ["HKD"]
max_tenor_days = 90

[limits]
book = "1000000.00"

[pricing]
day_count = "ACT/360"
base_rate = "5%"

[grades.A]
advance_rate = 0.9
spread = "0.01"
"""


def test_finance_policy_example_loads_typed_values() -> None:
    policy = load_policy(EXAMPLE)
    assert policy.eligibility.currencies == ("HKD",)
    assert (policy.eligibility.min_tenor_days, policy.eligibility.max_tenor_days) == (7, 180)
    assert policy.eligibility.min_amount == Decimal("10000.00")
    assert policy.limits.book == Decimal("20000000.00")
    assert policy.limits.buyer_line("0x" + "11" * 20, "tsuen wan electronics ltd") == Decimal("8000000.00")
    assert policy.limits.buyer_line("0x" + "11" * 20, "Someone Else") == Decimal("5000000.00")
    assert policy.limits.concentration == Decimal("0.40")
    assert policy.pricing.day_count == "ACT/365" and policy.pricing.day_base == 365
    assert policy.pricing.base_rate == Decimal("0.0450")
    assert [g.name for g in policy.grades] == ["A", "B", "C"]
    assert policy.grade("B").advance_rate == Decimal("0.90")
    assert policy.grade("C").max_defaults == 1
    assert policy.grading.no_history == "B"
    assert policy.valid_minutes == 15
    assert len(policy.hash) == 64


def test_finance_policy_minimal_file_takes_defaults() -> None:
    policy = parse_policy(MINIMAL)
    assert policy.eligibility.min_tenor_days == 1
    assert policy.eligibility.max_amount is None
    assert policy.pricing.base_rate == Decimal("0.05")
    # TOML floats are read as Decimal, never binary floats.
    assert policy.grades[0].advance_rate == Decimal("0.9")
    assert isinstance(policy.grades[0].advance_rate, Decimal)
    assert policy.limits.buyer_default is None and policy.grading.no_history is None
    assert policy.valid_minutes == 15 and policy.grading.default_after_days == 90


def test_finance_policy_hash_follows_meaning_not_layout() -> None:
    base = parse_policy(MINIMAL)
    relaid = parse_policy(
        "# a comment\n"
        + MINIMAL.replace('base_rate = "5%"', "base_rate = 0.050").replace("advance_rate = 0.9", 'advance_rate = "90%"')
    )
    assert relaid.hash == base.hash
    changed = parse_policy(MINIMAL.replace('spread = "0.01"', 'spread = "0.011"'))
    assert changed.hash != base.hash
    # Grade order is meaning (best first), so it changes the hash.
    two = MINIMAL + '\n[grades.B]\nadvance_rate = "0.8"\nspread = "0.02"\n'
    swapped = MINIMAL.replace("[grades.A]", "[grades.B]") + '\n[grades.A]\nadvance_rate = "0.8"\nspread = "0.02"\n'
    assert parse_policy(two).hash != parse_policy(swapped).hash


def _bad(old: str, new: str) -> str:
    text = EXAMPLE.read_text()
    assert old in text, old
    return text.replace(old, new, 1)


BAD = [
    ('day_count = "ACT/365"', 'day_count = "30/360"', 'pricing.day_count must be "ACT/360" or "ACT/365", got "30/360"'),
    ('day_count = "ACT/365"', "day_count = 365", 'pricing.day_count must be "ACT/360" or "ACT/365", got 365'),
    (
        'day_count = "ACT/365"',
        'daycount = "ACT/365"',
        "unknown key pricing.daycount; expected one of day_count, base_rate, fee_fixed, fee_rate, recourse, grace_days",
    ),
    (
        'base_rate = "0.0450"',
        'base_rate = "four"',
        'pricing.base_rate must be a rate such as "0.045" or "4.5%", got "four"',
    ),
    ('base_rate = "0.0450"', 'base_rate = "145%"', 'pricing.base_rate must be at least 0 and at most 1, got "145%"'),
    ('base_rate = "0.0450"', "", 'pricing.base_rate is missing; expected a rate such as "0.045" or "4.5%"'),
    (
        'base_rate = "0.0450"',
        'base_rate = "0.04500000001"',
        'pricing.base_rate must have at most 10 decimal places, got "0.04500000001"',
    ),
    (
        'base_rate = "0.0450"',
        'base_rate = "4.500000001%"',
        'pricing.base_rate must have at most 10 decimal places, got "4.500000001%"',
    ),
    (
        'fee_fixed = "250.00"',
        'fee_fixed = "-1"',
        'pricing.fee_fixed must be an amount in major units such as "5000000.00", got "-1"',
    ),
    (
        'book = "20000000.00"',
        "book = true",
        'limits.book must be an amount in major units such as "5000000.00", got true',
    ),
    (
        'book = "20000000.00"',
        'book = "20000000.00"\nbook_size = 1',
        "unknown key limits.book_size; expected one of book, buyer_default, supplier_default, buyers, suppliers, "
        "concentration, concentration_above",
    ),
    ('concentration = "0.40"', 'concentration = "0"', 'limits.concentration must be above 0 and at most 1, got "0"'),
    (
        '"Tsuen Wan Electronics Ltd" = "8000000.00"',
        '"Tsuen Wan Electronics Ltd" = "lots"',
        'limits.buyers."Tsuen Wan Electronics Ltd" must be an amount in major units such as "5000000.00", got "lots"',
    ),
    (
        '"Tsuen Wan Electronics Ltd" = "8000000.00"',
        '"Tsuen Wan Electronics Ltd" = "8000,00"',
        'limits.buyers."Tsuen Wan Electronics Ltd" must be an amount in major units such as "5000000.00", '
        'got "8000,00"',
    ),
    (
        'currencies = ["HKD"]',
        'currencies = "HKD"',
        'eligibility.currencies must be a list of currency symbols such as ["HKD"], got "HKD"',
    ),
    (
        'currencies = ["HKD"]',
        "currencies = []",
        'eligibility.currencies must be a list of currency symbols such as ["HKD"], got []',
    ),
    (
        "max_tenor_days = 180",
        "max_tenor_days = 5",
        "eligibility.max_tenor_days must be at least min_tenor_days (7), got 5",
    ),
    (
        "min_tenor_days = 7 ",
        "min_tenor_days = 0 ",
        "eligibility.min_tenor_days must be a whole number of days, at least 1, got 0",
    ),
    (
        "max_tenor_days = 180",
        'max_tenor_days = "180"',
        'eligibility.max_tenor_days must be a whole number of days, at least 1, got "180"',
    ),
    (
        'max_amount = "3000000.00"',
        'max_amount = "5000.00"',
        'eligibility.max_amount must be at least min_amount (10000.00), got "5000.00"',
    ),
    (
        "valid_minutes = 15",
        "valid_minutes = 0",
        "decision.valid_minutes must be a whole number of minutes from 1 to 10080, got 0",
    ),
    ('no_history = "B"', 'no_history = "Z"', 'grading.no_history must name one of the grades (A, B, C), got "Z"'),
    (
        "default_after_days = 90",
        "default_after_days = -3",
        "grading.default_after_days must be a whole number of days, at least 1, got -3",
    ),
    ('advance_rate = "0.95"', 'advance_rate = "0"', 'grades.A.advance_rate must be above 0 and at most 1, got "0"'),
    ('advance_rate = "0.95"', 'advance_rate = "1.5"', 'grades.A.advance_rate must be above 0 and at most 1, got "1.5"'),
    ('advance_rate = "0.90"', "", 'grades.B.advance_rate is missing; expected a rate such as "0.045" or "4.5%"'),
    ("max_defaults = 1", "max_defaults = 1.5", "grades.C.max_defaults must be a whole number, at least 0, got 1.5"),
    (
        "max_worst_days_past_due = 10",
        "max_worst_day_past_due = 10",
        "unknown key grades.A.max_worst_day_past_due; expected one of advance_rate, spread, min_on_time_ratio, "
        "max_avg_days_past_due, max_worst_days_past_due, max_defaults, max_overdue_invoices, max_write_offs, "
        "max_disputes, max_extensions",
    ),
    (
        "[grades.A]",
        '[grades."A grade"]',
        "grades.A grade is not a valid grade name; use 1 to 8 letters, digits, + or -",
    ),
    (
        "[pricing]",
        "[pricingg]",
        "unknown key pricingg; expected one of decision, eligibility, limits, pricing, grading, grades",
    ),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD, ids=[b[2].split(" ")[0] + f"-{i}" for i, b in enumerate(BAD)])
def test_finance_policy_bad_key_gives_its_one_line_error(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(_bad(old, new))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value) == f"{path}: {message}"
    assert "\n" not in str(info.value)


def test_finance_policy_missing_tables_and_grades() -> None:
    without_limits = MINIMAL.replace('[limits]\nbook = "1000000.00"\n', "")
    with pytest.raises(PolicyError) as info:
        parse_policy(without_limits, "p.toml")
    assert str(info.value) == (
        "p.toml: [limits] is missing; expected a table with book, buyer_default, "
        "supplier_default, buyers, suppliers, concentration, concentration_above"
    )
    without_grades = MINIMAL.split("[grades.A]")[0]
    with pytest.raises(PolicyError) as info:
        parse_policy(without_grades, "p.toml")
    assert str(info.value) == (
        "p.toml: [grades.NAME] is missing; expected at least one grade, e.g. [grades.A] with advance_rate and spread"
    )
    with pytest.raises(PolicyError) as info:
        parse_policy(MINIMAL.replace("[limits]", "limits = 5\n[limitz]"), "p.toml")
    assert str(info.value).startswith("p.toml: unknown key limitz")


def test_finance_policy_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path / "nope.toml")
    assert (
        str(info.value) == f"{tmp_path / 'nope.toml'}: no such policy file; pass --policy FILE (see "
        "examples/policy.toml)"
    )
    bad = tmp_path / "bad.toml"
    bad.write_text("[pricing\nday_count = 1\n")
    with pytest.raises(PolicyError) as info:
        load_policy(bad)
    assert str(info.value).startswith(f"{bad}: not valid TOML: ")
    assert "\n" not in str(info.value)
