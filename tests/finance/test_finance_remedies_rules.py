"""When things go wrong (issue 14), rule by rule on hand-made facts (no chain,
no database): the policy's new fields (defaults, validation, hash of an old
file), troubled statuses declined, the buyer's grade counting defaults,
write-offs, disputes and extensions, and the seller's dilution rule."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.config import REPO_ROOT
from ledger.finance.facts import DilutionFacts, Exposure, InvoiceFacts, PartyFacts
from ledger.finance.grading import InvoiceRecord, PaymentStats, grade_buyer, payment_stats
from ledger.finance.policy import PolicyError, load_policy, parse_policy
from ledger.finance.rules import evaluate, rule_not_disputed_defaulted_or_cancelled, rule_seller_dilution

EXAMPLE = REPO_ROOT / "examples" / "policy.toml"
POLICY = load_policy(EXAMPLE)
AS_OF = dt.datetime(2026, 1, 1, 9, 30, tzinfo=dt.UTC)
AS_OF_DAY = dt.date(2026, 1, 1)
FAR = dt.datetime(2029, 1, 1, tzinfo=dt.UTC)
SUPPLIER = PartyFacts("0x" + "51" * 20, "Kowloon Precision Parts Ltd", True, False, FAR, roles=1)
BUYER = PartyFacts("0x" + "b1" * 20, "Tsuen Wan Electronics Ltd", True, False, FAR, roles=2)
FINANCIER = "0x" + "f1" * 20
NO_HISTORY = PaymentStats(0, 0, 0, 0, 0, 0, 0, 0)
NONE_USED = Exposure(0, 0, 0)
WEEK = 7 * 86_400  # the deployment's grace period (seconds)
# HKD 100,000.00 due 60 days after AS_OF, listed for any financier asking HKD 80,000.00 (as test_finance_rules).
INVOICE = InvoiceFacts(
    invoice_id=7,
    status="Confirmed",
    supplier=SUPPLIER.address,
    buyer=BUYER.address,
    holder=SUPPLIER.address,
    financier=None,
    currency="HKD",
    decimals=2,
    amount=10_000_000,
    outstanding=10_000_000,
    due_date=dt.date(2026, 3, 2),
    offer_financier=None,
    offer_min_advance=8_000_000,
    offer_expires=dt.datetime(2026, 1, 8, tzinfo=dt.UTC),
)
#: A policy file of before issue 14 (as test_finance_policy's minimal one).
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


# -- policy fields ------------------------------------------------------------------------------------


def test_finance_remedies_policy_example_has_the_new_fields() -> None:
    assert POLICY.eligibility.max_seller_dilution == Decimal("0.05")
    a, b, c = POLICY.grades
    assert (a.max_write_offs, a.max_disputes, a.max_extensions) == (0, 1, 1)
    assert (b.max_write_offs, b.max_disputes, b.max_extensions) == (0, 3, 3)
    assert (c.max_write_offs, c.max_disputes, c.max_extensions) == (1, 6, 6)
    canonical = POLICY.canonical()
    assert canonical["eligibility"]["max_seller_dilution"] == "0.05"
    assert canonical["grades"][2]["max_disputes"] == "6"


def test_finance_remedies_policy_old_file_loads_with_defaults_and_its_old_hash() -> None:
    """A policy written before issue 14 leaves the new keys out: no dilution limit, no caps on
    write-offs, disputes or extensions, and its canonical content (so its hash) has none of the
    new keys: it hashes as it did."""
    old = parse_policy(MINIMAL)
    assert old.eligibility.max_seller_dilution is None
    g = old.grades[0]
    assert (g.max_write_offs, g.max_disputes, g.max_extensions) == (None, None, None)
    canonical = old.canonical()
    assert sorted(canonical["eligibility"]) == [
        "currencies",
        "max_amount",
        "max_tenor_days",
        "min_amount",
        "min_tenor_days",
    ]
    assert sorted(canonical["grades"][0]) == [
        "advance_rate",
        "max_avg_days_past_due",
        "max_defaults",
        "max_overdue_invoices",
        "max_worst_days_past_due",
        "min_on_time_ratio",
        "name",
        "spread",
    ]
    # Setting one changes the meaning, so the hash.
    capped = parse_policy(MINIMAL.replace('spread = "0.01"', 'spread = "0.01"\nmax_disputes = 2'))
    assert capped.grades[0].max_disputes == 2 and capped.hash != old.hash
    diluted = parse_policy(MINIMAL.replace("max_tenor_days = 90", 'max_tenor_days = 90\nmax_seller_dilution = "2.5%"'))
    assert diluted.eligibility.max_seller_dilution == Decimal("0.025") and diluted.hash != old.hash


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'max_seller_dilution = "0.05"',
            'max_seller_dilution = "1.5"',
            'eligibility.max_seller_dilution must be at least 0 and at most 1, got "1.5"',
        ),
        (
            'max_seller_dilution = "0.05"',
            'max_seller_dilution = "lots"',
            'eligibility.max_seller_dilution must be a rate such as "0.045" or "4.5%", got "lots"',
        ),
        (
            "max_write_offs = 1",
            "max_write_offs = -1",
            "grades.C.max_write_offs must be a whole number, at least 0, got -1",
        ),
        ("max_disputes = 6", 'max_disputes = "6"', 'grades.C.max_disputes must be a whole number, at least 0, got "6"'),
        (
            "max_extensions = 6",
            "max_extensions = 1.5",
            "grades.C.max_extensions must be a whole number, at least 0, got 1.5",
        ),
    ],
)
def test_finance_remedies_policy_bad_new_field_gives_its_one_line_error(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    text = EXAMPLE.read_text()
    assert old in text
    path = tmp_path / "policy.toml"
    path.write_text(text.replace(old, new) if "grades.C" not in message else _in_grade_c(text, old, new))
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert str(info.value) == f"{path}: {message}"


def _in_grade_c(text: str, old: str, new: str) -> str:
    head, _, grade_c = text.partition("[grades.C]")
    return head + "[grades.C]" + grade_c.replace(old, new)


# -- troubled statuses --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("Disputed", "the invoice is disputed: the buyer contests it (it cannot be financed until the dispute ends)"),
        (
            "Defaulted",
            "the invoice is in default: its holder declared it unpaid after the due date and grace period",
        ),
        ("WrittenOff", "the invoice was written off after a default"),
        ("Cancelled", "the invoice is cancelled"),
    ],
)
def test_finance_remedies_troubled_status_is_declined(status: str, reason: str) -> None:
    invoice = dataclasses.replace(INVOICE, status=status)
    rule = rule_not_disputed_defaulted_or_cancelled(invoice)
    assert (rule.passed, rule.reason, rule.inputs) == (False, reason, {"status": status})
    ev = evaluate(
        policy=POLICY,
        invoice=invoice,
        supplier=SUPPLIER,
        buyer=BUYER,
        financier=FINANCIER,
        stats=NO_HISTORY,
        exposure=NONE_USED,
        as_of=AS_OF,
        deployment_grace=WEEK,
    )
    assert not ev.approved and reason in ev.summary()
    # A defaulted or written-off invoice was confirmed: only the trouble rule (and not_financed) say no.
    failing = {r.name for r in ev.failures}
    assert failing == {"not_disputed_defaulted_or_cancelled", "not_financed"} | (
        {"confirmed_by_buyer"} if status == "Cancelled" else set()
    )


# -- the buyer's grade --------------------------------------------------------------------------------


def _record(invoice_id: int, **kw: object) -> InvoiceRecord:
    base = {
        "invoice_id": invoice_id,
        "amount": 10_000_000,
        "outstanding": 0,
        "due_date": dt.date(2025, 11, 1),
        "settled_on": dt.date(2025, 11, 1),
        "status": "Paid",
    }
    return InvoiceRecord(**{**base, **kw})  # type: ignore[arg-type]


def test_finance_remedies_grade_counts_declared_defaults_write_offs_disputes_extensions() -> None:
    """Five invoices of one buyer, as of 2026-01-01 (grace 3 days, default after 90):

    1. paid on its due date, after one accepted extension and one dispute (withdrawn): on time;
    2. declared in default 20 days past due, then recovered and paid 30 days past due: a default
       (declared, though only 30 days late), settled, not on time;
    3. defaulted and written off, still open, due 2025-12-01: 31 days past due, overdue, a default;
    4. disputed and still open, due 2025-12-01: out of the history while contested (its dispute
       counts: 1);
    5. open, due 2025-12-30: 2 days past due, within grace: not in the history yet.

    In the history: 1, 2, 3 -> invoices 3, settled 2, on time 1; days past due 0 + 30 + 31 = 61,
    worst 31; defaults 2 (both declared); overdue 1 (HKD 100,000.00); write-offs 1; disputes
    1 + 1 = 2; extensions 1."""
    records = [
        _record(1, disputes=1, extensions=1),
        _record(2, settled_on=dt.date(2025, 12, 1), defaulted=True),
        _record(
            3,
            outstanding=10_000_000,
            settled_on=None,
            status="WrittenOff",
            due_date=dt.date(2025, 12, 1),
            defaulted=True,
            written_off=True,
        ),
        _record(
            4, outstanding=10_000_000, settled_on=None, status="Disputed", due_date=dt.date(2025, 12, 1), disputes=1
        ),
        _record(5, outstanding=10_000_000, settled_on=None, status="Confirmed", due_date=dt.date(2025, 12, 30)),
    ]
    stats = payment_stats(records, AS_OF_DAY, grace_days=3, default_after_days=90)
    assert stats.as_dict() == {
        "invoices": 3,
        "settled": 2,
        "on_time": 1,
        "on_time_ratio": "0.3333",
        "avg_days_past_due": "20.33",  # 61 / 3 = 20.333...
        "worst_days_past_due": 31,
        "defaults": 2,
        "overdue_invoices": 1,
        "overdue_amount": 10_000_000,
        "declared_defaults": 2,
        "write_offs": 1,
        "disputes": 2,
        "extensions": 1,
    }
    # No grade: A and B allow no default and no write-off; C allows one default, one write-off.
    graded = grade_buyer(stats, POLICY)
    assert graded.grade is None
    assert graded.reason == (
        "the buyer's payment history meets no grade ("
        "A: on-time ratio 33.33% is below 95.00%, average 20.33 days past due is above 2, worst 31 days past due "
        "is above 10, 2 default(s) is above 0, 1 invoice(s) overdue now is above 0, 1 write-off(s) is above 0, "
        "2 dispute(s) is above 1; "
        "B: on-time ratio 33.33% is below 80.00%, average 20.33 days past due is above 7, worst 31 days past due "
        "is above 30, 2 default(s) is above 0, 1 write-off(s) is above 0; "
        "C: on-time ratio 33.33% is below 60.00%, average 20.33 days past due is above 20, 2 default(s) is above 1)"
    )


def test_finance_remedies_grade_caps_disputes_and_extensions_alone() -> None:
    """A buyer that always paid on time but disputed 4 times and needed 2 extensions: A allows 1
    of each, B 3 disputes (not 4), so C (up to 6 of each)."""
    records = [_record(1, disputes=2, extensions=1), _record(2, disputes=2, extensions=1)]
    stats = payment_stats(records, AS_OF_DAY, grace_days=3)
    assert (stats.invoices, stats.on_time, stats.disputes, stats.extensions, stats.defaults) == (2, 2, 4, 2, 0)
    graded = grade_buyer(stats, POLICY)
    assert graded.grade is not None and graded.grade.name == "C"
    assert graded.reason == (
        "grade C (2 of 2 invoice(s) paid on time, worst 0 days past due, 0 default(s), 0 overdue now, "
        "4 dispute(s), 2 extension(s)); not A: 4 dispute(s) is above 1, 2 extension(s) is above 1; "
        "not B: 4 dispute(s) is above 3"
    )


def test_finance_remedies_grade_fully_credited_invoice_is_not_in_the_history() -> None:
    """A receivable a credit note closed without any payment (Cancelled) or whose settlement day
    is unknown says nothing about paying on time."""
    records = [
        _record(1, status="Cancelled", settled_on=None),
        _record(2, status="Paid", settled_on=None),
        _record(3),
    ]
    stats = payment_stats(records, AS_OF_DAY)
    assert (stats.invoices, stats.on_time) == (1, 1)


# -- the seller's dilution ------------------------------------------------------------------------------


def test_finance_remedies_seller_dilution_rule() -> None:
    """Credit notes took HKD 10,000.00 off HKD 320,000.00 of the seller's receivables:
    1,000,000 / 32,000,000 = 3.125% -> 3.12% (half-even), within 5.00%, above 3.00%."""
    facts = DilutionFacts(SUPPLIER.address, SUPPLIER.name, 6, 1, 32_000_000, 1_000_000)
    rule = rule_seller_dilution(INVOICE, facts, POLICY)
    assert rule.passed
    assert rule.reason == (
        "the seller Kowloon Precision Parts Ltd: credit notes took HKD 10,000.00 off HKD 320,000.00 of its "
        "receivables (3.12%), within 5.00%"
    )
    assert rule.inputs == {
        "seller": SUPPLIER.address,
        "seller_name": "Kowloon Precision Parts Ltd",
        "receivables": 6,
        "credited_receivables": 1,
        "face": "320000.00",
        "credited": "10000.00",
        "dilution": "3.12%",
        "max_dilution": "0.05",
    }
    strict = parse_policy(EXAMPLE.read_text().replace('max_seller_dilution = "0.05"', 'max_seller_dilution = "3%"'))
    refused = rule_seller_dilution(INVOICE, facts, strict)
    assert not refused.passed
    assert refused.reason == (
        "the seller Kowloon Precision Parts Ltd's dilution is too high: credit notes took HKD 10,000.00 off "
        "HKD 320,000.00 of its receivables (3.12%), above 3.00%"
    )
    # Exactly at the limit passes (exact comparison: 3,200 / 320,000 = 1.00%, limit 1%).
    at_limit = parse_policy(EXAMPLE.read_text().replace('max_seller_dilution = "0.05"', 'max_seller_dilution = "1%"'))
    assert rule_seller_dilution(INVOICE, dataclasses.replace(facts, credited=320_000), at_limit).passed
    assert not rule_seller_dilution(INVOICE, dataclasses.replace(facts, credited=320_001), at_limit).passed
    # No limit in the policy: passes, the history still recorded.
    free = parse_policy(MINIMAL)
    free_rule = rule_seller_dilution(INVOICE, facts, free)
    assert free_rule.passed and free_rule.inputs["dilution"] == "3.12%" and free_rule.inputs["max_dilution"] is None
    assert free_rule.reason.endswith("(3.12%); the policy sets no dilution limit")
    # No receivables yet: nothing to judge.
    empty = rule_seller_dilution(INVOICE, DilutionFacts(SUPPLIER.address, None, 0, 0, 0, 0), POLICY)
    assert empty.passed and empty.reason == f"the seller {SUPPLIER.address} has no receivables yet: no dilution history"


def test_finance_remedies_evaluate_declines_a_diluting_seller() -> None:
    facts = DilutionFacts(SUPPLIER.address, SUPPLIER.name, 2, 1, 20_000_000, 2_000_000)  # 10.00%
    ev = evaluate(
        policy=POLICY,
        invoice=INVOICE,
        supplier=SUPPLIER,
        buyer=BUYER,
        financier=FINANCIER,
        stats=NO_HISTORY,
        exposure=NONE_USED,
        as_of=AS_OF,
        deployment_grace=WEEK,
        dilution=facts,
    )
    assert not ev.approved
    assert [r.name for r in ev.failures] == ["seller_dilution"]
    assert ev.summary() == (
        "declined: the seller Kowloon Precision Parts Ltd's dilution is too high: credit notes took HKD 20,000.00 "
        "off HKD 200,000.00 of its receivables (10.00%), above 5.00%"
    )
