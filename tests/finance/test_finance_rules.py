"""Rule by rule: eligibility, consent, limits, buyer grades and the whole
evaluation, on hand-made facts with hand-computed figures (no chain, no DB)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ledger.config import REPO_ROOT
from ledger.finance.grading import InvoiceRecord, PaymentStats, grade_buyer, payment_stats
from ledger.finance.policy import load_policy
from ledger.finance.rules import (
    Exposure,
    InvoiceFacts,
    PartyFacts,
    RuleResult,
    evaluate,
    limit_rules,
    lines_for,
    rule_consent,
)

POLICY = load_policy(REPO_ROOT / "examples" / "policy.toml")
AS_OF = dt.datetime(2026, 1, 1, 9, 30, tzinfo=dt.UTC)
HONG_KONG = ZoneInfo("Asia/Hong_Kong")  # the default business time zone
FAR = dt.datetime(2029, 1, 1, tzinfo=dt.UTC)
SUPPLIER = PartyFacts("0x" + "51" * 20, "Kowloon Precision Parts Ltd", True, False, FAR, roles=1)
SUPPLIER2 = PartyFacts("0x" + "52" * 20, "Sham Shui Po Textiles Ltd", True, False, FAR, roles=1)
BUYER = PartyFacts("0x" + "b1" * 20, "Tsuen Wan Electronics Ltd", True, False, FAR, roles=2)
BUYER2 = PartyFacts("0x" + "b2" * 20, "Kwai Chung Logistics Ltd", True, False, FAR, roles=2)
FINANCIER = "0x" + "f1" * 20
FINANCIER_PARTY = PartyFacts(FINANCIER, "Harbour Trade Finance Ltd", True, False, FAR, roles=4)
OTHER = "0x" + "f2" * 20
NO_HISTORY = PaymentStats(0, 0, 0, 0, 0, 0, 0, 0)
NONE_USED = Exposure(0, 0, 0)
WEEK = 7 * 86_400  # the deployment's grace period (seconds)

# HKD 100,000.00 due 60 days after AS_OF (31 + 28 + 1), listed for any financier asking HKD 80,000.00.
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


def run(
    invoice: InvoiceFacts = INVOICE,
    supplier: PartyFacts = SUPPLIER,
    buyer: PartyFacts = BUYER,
    stats: PaymentStats = NO_HISTORY,
    exposure: Exposure = NONE_USED,
    financier: str = FINANCIER,
    as_of: dt.datetime = AS_OF,
) -> dict[str, RuleResult]:
    ev = evaluate(
        policy=POLICY,
        invoice=invoice,
        supplier=supplier,
        buyer=buyer,
        financier=financier,
        stats=stats,
        exposure=exposure,
        as_of=as_of,
        deployment_grace=WEEK,
    )
    rules = {r.name: r for r in ev.rules}
    assert ev.approved == all(r.passed for r in ev.rules)
    return rules


def failed(rules: dict[str, RuleResult]) -> dict[str, str]:
    return {n: r.reason for n, r in rules.items() if not r.passed}


def test_finance_rules_approves_a_good_invoice_with_hand_computed_price() -> None:
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
    )
    assert ev.approved, ev.summary()
    assert ev.grade == "B"  # no history -> grading.no_history
    assert ev.price is not None
    # 90% of 10,000,000 = 9,000,000; 9,000,000 x 7% x 60/365 = 103,561.64 -> 103,562;
    # fees 25,000 + 0.1% x 9,000,000 = 34,000; net 8,862,438.
    assert (ev.price.advance, ev.price.discount, ev.price.fees, ev.price.net_advance) == (
        9_000_000,
        103_562,
        34_000,
        8_862_438,
    )
    assert [r.name for r in ev.rules] == [
        "confirmed_by_buyer",
        "not_disputed_defaulted_or_cancelled",
        "not_financed",
        "supplier_kyc",
        "buyer_kyc",
        "tenor",
        "amount",
        "currency",
        "seller_dilution",
        "buyer_grade",
        "price",
        "not_self_financing",
        "holder_consent",
        "financing_terms",
        "book_limit",
        "buyer_limit",
        "supplier_limit",
        "concentration",
    ]
    price_rule = next(r for r in ev.rules if r.name == "price")
    assert price_rule.reason == (
        "advance HKD 90,000.00 (90.00% of HKD 100,000.00), discount HKD 1,035.62 at 7.00% for 60 days ACT/365, "
        "fees HKD 340.00: pays HKD 88,624.38"
    )
    assert price_rule.inputs["net_advance"] == "88624.38"
    rules = {r.name: r for r in ev.rules}
    assert rules["holder_consent"].reason == (
        "the holder listed it for any financier until 2026-01-08 08:00 HKT, asking at least HKD 80,000.00"
    )
    # The limits count what the financier would be due (the gross advance), not the face amount.
    assert rules["buyer_limit"].inputs["this_invoice"] == "90000.00"
    assert rules["not_financed"].inputs["paid"] == "0.00" and rules["not_self_financing"].passed


@pytest.mark.parametrize(
    ("change", "rule", "reason"),
    [
        (
            {"status": "Issued"},
            "confirmed_by_buyer",
            "the buyer has not confirmed the invoice: it is Issued, not yet confirmed",
        ),
        ({"status": "Cancelled"}, "not_disputed_defaulted_or_cancelled", "the invoice is cancelled"),
        (
            {"status": "Disputed"},
            "not_disputed_defaulted_or_cancelled",
            "the invoice is disputed: the buyer contests it (it cannot be financed until the dispute ends)",
        ),
        (
            {"status": "Financed", "financier": OTHER, "seller": SUPPLIER.address},
            "not_financed",
            f"the invoice was already financed (by {OTHER}): one financing per invoice, ever",
        ),
        # Financed, then partly paid: PartiallyPaid like an unfinanced one, but the seller is recorded.
        (
            {
                "status": "PartiallyPaid",
                "outstanding": 5_000_000,
                "holder": OTHER,
                "financier": OTHER,
                "seller": SUPPLIER.address,
            },
            "not_financed",
            f"the invoice was already financed (by {OTHER}): one financing per invoice, ever",
        ),
        # Partly paid and never financed: eligible against its open amount.
        (
            {"status": "PartiallyPaid", "outstanding": 5_000_000},
            "not_financed",
            "the invoice has never been financed; HKD 50,000.00 of HKD 100,000.00 is paid, HKD 50,000.00 is open to "
            "finance",
        ),
        ({"status": "Paid", "outstanding": 0}, "not_financed", "the invoice is paid: nothing is open to finance"),
        (
            {"holder": FINANCIER},
            "not_self_financing",
            f"the financier is the holder {FINANCIER}: nobody finances its own receivable",
        ),
        ({"due_date": dt.date(2026, 1, 7)}, "tenor", "due in 6 day(s), sooner than the 7 day(s) the policy needs"),
        ({"due_date": dt.date(2025, 12, 30)}, "tenor", "it fell due 2 day(s) ago"),
        ({"due_date": dt.date(2026, 6, 30)}, "tenor", "due in 180 days, inside 7 to 180 days"),
        ({"due_date": dt.date(2026, 7, 1)}, "tenor", "due in 181 days, later than the 180 days the policy allows"),
        (
            {"amount": 999_999, "outstanding": 999_999},
            "amount",
            "open amount HKD 9,999.99 is below the minimum HKD 10,000.00",
        ),
        (
            {"amount": 300_000_001, "outstanding": 300_000_001},
            "amount",
            "open amount HKD 3,000,000.01 is above the maximum HKD 3,000,000.00",
        ),
        ({"currency": "USD"}, "currency", "USD is not a currency the policy accepts (HKD)"),
        (
            {"offer_expires": None, "offer_min_advance": None},
            "holder_consent",
            f"the holder {SUPPLIER.address} has not offered it to this financier (it needs `scf invoice offer` first)",
        ),
        (
            {"offer_financier": OTHER},
            "holder_consent",
            f"the holder {SUPPLIER.address} has not offered it to this financier (listed only for {OTHER})",
        ),
        (
            {"offer_expires": dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC)},
            "holder_consent",
            "the holder's listing lapsed on 2026-01-01 17:00 HKT",
        ),
        (
            {"offer_min_advance": 8_862_439},
            "holder_consent",
            "the holder asks at least HKD 88,624.39 but the price pays HKD 88,624.38",
        ),
    ],
)
def test_finance_rules_each_eligibility_rule(change: dict[str, object], rule: str, reason: str) -> None:
    rules = run(dataclasses.replace(INVOICE, **change))  # type: ignore[arg-type]
    assert rules[rule].reason == reason
    expect_pass = reason.startswith(("due in 180", "the invoice has never been financed"))
    assert rules[rule].passed is expect_pass
    # The other rules still run and are explained.
    assert len(rules) == 18


def test_finance_rules_partly_paid_unfinanced_is_priced_on_its_open_amount() -> None:
    """A partly paid invoice never financed is eligible: priced, limited and
    consented against its open amount; the paid amount is in the inputs."""
    partly = dataclasses.replace(INVOICE, status="PartiallyPaid", outstanding=6_000_000, offer_min_advance=5_000_000)
    ev = evaluate(
        policy=POLICY,
        invoice=partly,
        supplier=SUPPLIER,
        buyer=BUYER,
        financier=FINANCIER,
        stats=NO_HISTORY,
        exposure=NONE_USED,
        as_of=AS_OF,
        deployment_grace=WEEK,
    )
    assert ev.approved, ev.summary()
    assert ev.price is not None
    # 90% of 6,000,000 = 5,400,000; 5,400,000 x 7% x 60/365 = 62,136.98... ; fees 25,000 + 5,400.
    # net* = 5,400,000 - 62,136.986... - 30,400 = 5,307,463.01... -> 5,307,463; discount = the rest, 62,137.
    assert (
        ev.price.open_amount,
        ev.price.advance,
        ev.price.discount,
        ev.price.fees,
        ev.price.net_advance,
        ev.price.reserve,
    ) == (6_000_000, 5_400_000, 62_137, 30_400, 5_307_463, 600_000)
    rules = {r.name: r for r in ev.rules}
    assert rules["not_financed"].inputs == {
        "status": "PartiallyPaid",
        "financier": None,
        "seller": None,
        "amount": "100000.00",
        "paid": "40000.00",
        "open_amount": "60000.00",
    }
    assert rules["buyer_limit"].inputs["this_invoice"] == "54000.00"


def test_finance_rules_self_financing_is_declined() -> None:
    """The holder quoting its own receivable: declined (the contract refuses it), the other rules still explained."""
    own = dataclasses.replace(INVOICE, holder=FINANCIER, holder_name="Harbour Trade Finance Ltd")
    ev = evaluate(
        policy=POLICY,
        invoice=own,
        supplier=SUPPLIER,
        buyer=BUYER,
        financier=FINANCIER,
        stats=NO_HISTORY,
        exposure=NONE_USED,
        as_of=AS_OF,
        deployment_grace=WEEK,
    )
    assert not ev.approved
    # Consent says what is wrong too: the financier holds it already (not "has not offered it to this financier").
    assert [(r.name, r.reason) for r in ev.failures] == [
        (
            "not_self_financing",
            "the financier is the holder Harbour Trade Finance Ltd: nobody finances its own receivable",
        ),
        (
            "holder_consent",
            "the financier Harbour Trade Finance Ltd already holds it: there is no other holder to consent, and "
            "nobody finances its own holding",
        ),
    ]
    assert ev.summary().startswith(
        "declined: the financier is the holder Harbour Trade Finance Ltd: nobody finances its own receivable; "
    )


def test_finance_rules_consent_only_by_a_live_listing() -> None:
    """Contracts v2: consent is a live listing for this financier (or any)
    whose ask the net advance meets; nothing else (an ERC-721 approval is not
    consent to a price, and a listing without an ask is no listing)."""
    exact = rule_consent(dataclasses.replace(INVOICE, offer_min_advance=8_862_438), FINANCIER, 8_862_438, AS_OF)
    assert exact.passed
    assert exact.reason == (
        "the holder listed it for any financier until 2026-01-08 08:00 HKT, asking at least HKD 88,624.38"
    )
    assert "approved" not in exact.inputs
    unlisted = rule_consent(
        dataclasses.replace(INVOICE, offer_expires=None, offer_min_advance=None), FINANCIER, 1, AS_OF
    )
    assert not unlisted.passed
    no_ask = rule_consent(dataclasses.replace(INVOICE, offer_min_advance=0), FINANCIER, 1, AS_OF)
    assert not no_ask.passed and no_ask.reason == unlisted.reason
    # Live through the expiry second; lapsed one second after.
    at_expiry = dataclasses.replace(INVOICE, offer_expires=AS_OF)
    assert rule_consent(at_expiry, FINANCIER, 8_862_438, AS_OF).passed
    assert not rule_consent(at_expiry, FINANCIER, 8_862_438, AS_OF + dt.timedelta(seconds=1)).passed
    # A listing for this very financier counts; for another, not.
    assert run(dataclasses.replace(INVOICE, offer_financier=FINANCIER))["holder_consent"].passed
    assert not run(dataclasses.replace(INVOICE, offer_financier=OTHER))["holder_consent"].passed


def test_finance_rules_kyc_suspension_and_unknown_parties() -> None:
    expired = dataclasses.replace(BUYER, kyc_expiry=dt.datetime(2026, 1, 1, tzinfo=HONG_KONG))
    assert failed(run(buyer=expired)) == {
        "buyer_kyc": "the buyer Tsuen Wan Electronics Ltd's KYC expired (valid until 2025-12-31)"
    }
    suspended = dataclasses.replace(SUPPLIER, suspended=True)
    assert failed(run(supplier=suspended)) == {"supplier_kyc": "the supplier Kowloon Precision Parts Ltd is suspended"}
    unknown = PartyFacts("0x" + "99" * 20, None, False, False, None)
    assert (
        failed(run(supplier=unknown))["supplier_kyc"] == f"the supplier {unknown.address} is not an admitted "
        "participant"
    )
    # Valid through the last day: expiry at 00:00 (Hong Kong) the next day is still fine at 09:30 the day before.
    last_day = dataclasses.replace(BUYER, kyc_expiry=dt.datetime(2026, 1, 2, tzinfo=HONG_KONG))
    assert (
        run(buyer=last_day)["buyer_kyc"].reason == "the buyer Tsuen Wan Electronics Ltd's KYC is valid until 2026-01-01"
    )


def test_finance_rules_each_party_needs_its_role() -> None:
    """A buyer quoting as financier, a supplier without the supplier role, a
    suspended financier: each fails its party rule in plain words."""

    def party_rules(
        supplier: PartyFacts = SUPPLIER, buyer: PartyFacts = BUYER, financier: PartyFacts = FINANCIER_PARTY
    ) -> dict[str, str]:
        ev = evaluate(
            policy=POLICY,
            invoice=INVOICE,
            supplier=supplier,
            buyer=buyer,
            financier=financier.address,
            stats=NO_HISTORY,
            exposure=NONE_USED,
            as_of=AS_OF,
            deployment_grace=WEEK,
            financier_party=financier,
        )
        return failed({r.name: r for r in ev.rules})

    assert party_rules() == {}
    buyer_as_financier = dataclasses.replace(BUYER, address=FINANCIER)
    assert party_rules(financier=buyer_as_financier) == {
        "financier_kyc": "Tsuen Wan Electronics Ltd is not an admitted financier"
    }
    assert party_rules(supplier=dataclasses.replace(SUPPLIER, roles=2 | 4)) == {
        "supplier_kyc": "Kowloon Precision Parts Ltd is not an admitted supplier"
    }
    assert party_rules(buyer=dataclasses.replace(BUYER, roles=1)) == {
        "buyer_kyc": "Tsuen Wan Electronics Ltd is not an admitted buyer"
    }
    # Several roles at once are fine; suspension fails whatever the roles.
    assert party_rules(buyer=dataclasses.replace(BUYER, roles=1 | 2 | 4)) == {}
    assert party_rules(financier=dataclasses.replace(FINANCIER_PARTY, suspended=True)) == {
        "financier_kyc": "the financier Harbour Trade Finance Ltd is suspended"
    }
    rule = evaluate(
        policy=POLICY,
        invoice=INVOICE,
        supplier=SUPPLIER,
        buyer=BUYER,
        financier=FINANCIER,
        stats=NO_HISTORY,
        exposure=NONE_USED,
        as_of=AS_OF,
        deployment_grace=WEEK,
        financier_party=buyer_as_financier,
    ).rules[5]
    assert (rule.inputs["role"], rule.inputs["roles"]) == ("financier", ["buyer"])


def test_finance_rules_uint256_amounts_are_exact() -> None:
    """Amounts beyond the default 28-digit decimal context (>= 10**28 minor
    units) are stored and shown exactly, not an internal error."""
    huge = 10**30 + 7
    rules = run(dataclasses.replace(INVOICE, amount=huge, outstanding=huge))
    assert rules["amount"].inputs["open_amount"] == "10000000000000000000000000000.07"
    assert rules["amount"].reason.startswith("open amount HKD 10,000,000,000,000,000,000,000,000,000.07 is above")
    assert rules["price"].inputs["open_amount"] == "10000000000000000000000000000.07"


def test_finance_rules_limits_with_hand_computed_headroom() -> None:
    lines = lines_for(POLICY, INVOICE, SUPPLIER, BUYER)
    # Named lines beat defaults: buyer HKD 8M, supplier HKD 3M; book HKD 20M.
    assert (lines.book, lines.buyer, lines.supplier) == (2_000_000_000, 800_000_000, 300_000_000)
    assert lines_for(POLICY, INVOICE, SUPPLIER2, BUYER2).buyer == 500_000_000
    assert lines_for(POLICY, INVOICE, SUPPLIER2, BUYER2).supplier == 200_000_000

    ok = {r.name: r for r in limit_rules(INVOICE, Exposure(100_000_000, 50_000_000, 20_000_000), lines)}
    assert all(r.passed for r in ok.values())
    assert ok["buyer_limit"].reason == (
        "the buyer's credit line HKD 8,000,000.00: HKD 600,000.00 used after this, HKD 7,400,000.00 left"
    )
    assert ok["concentration"].reason == (
        "the book after this, HKD 1,100,000.00, is not above HKD 5,000,000.00, where concentration starts to count"
    )

    # Exactly at the line passes; one unit above fails.
    at_line = Exposure(0, 800_000_000 - 10_000_000, 0)
    assert {r.name: r for r in limit_rules(INVOICE, at_line, lines)}["buyer_limit"].passed
    over = Exposure(0, 800_000_000 - 10_000_000 + 1, 0)
    result = {r.name: r for r in limit_rules(INVOICE, over, lines)}["buyer_limit"]
    assert not result.passed
    assert result.reason == (
        "the buyer's credit line HKD 8,000,000.00 would be exceeded: HKD 7,900,000.01 used + "
        "HKD 100,000.00 = HKD 8,000,000.01"
    )
    assert result.inputs == {
        "used": "7900000.01",
        "this_invoice": "100000.00",
        "after": "8000000.01",
        "limit": "8000000.00",
    }

    book = {r.name: r for r in limit_rules(INVOICE, Exposure(1_995_000_000, 0, 0), lines)}["book_limit"]
    assert book.reason == (
        "the book limit HKD 20,000,000.00 would be exceeded: HKD 19,950,000.00 used + "
        "HKD 100,000.00 = HKD 20,050,000.00"
    )
    supplier = {r.name: r for r in limit_rules(INVOICE, Exposure(0, 0, 295_000_000), lines)}["supplier_limit"]
    assert not supplier.passed

    # Concentration: book after 7,000,000.00 (> 5,000,000.00); buyer 3,000,000.00 of it = 42.86% > 40%.
    conc = {r.name: r for r in limit_rules(INVOICE, Exposure(690_000_000, 290_000_000, 0), lines)}["concentration"]
    assert conc.reason == ("the buyer would be 42.86% of the book (HKD 3,000,000.00 of HKD 7,000,000.00), above 40.00%")
    # 2,700,000.00 of 7,000,000.00 = 38.57%: fine.
    conc = {r.name: r for r in limit_rules(INVOICE, Exposure(690_000_000, 260_000_000, 0), lines)}["concentration"]
    assert conc.passed and conc.reason == "the buyer would be 38.57% of the book, within 40.00%"


def test_finance_rules_concentration_counts_only_the_held_book_as_the_whole() -> None:
    lines = lines_for(POLICY, INVOICE, SUPPLIER, BUYER)
    # Book 6,900,000.00 of which 1,000,000.00 are other buyers' pending approvals (they may expire);
    # this buyer 2,600,000.00. Counted with the pending: 2.7M / 7.0M = 38.57%; held only: 2.7M / 6.0M = 45%.
    exposure = Exposure(690_000_000, 260_000_000, 0, held_book=590_000_000)
    conc = {r.name: r for r in limit_rules(INVOICE, exposure, lines)}["concentration"]
    assert conc.reason == (
        "the buyer would be 45.00% of the book (HKD 2,700,000.00 of HKD 6,000,000.00: the book after this, "
        "HKD 7,000,000.00, less HKD 1,000,000.00 of other buyers' approvals not yet executed), above 40.00%"
    )
    # One book: the concentration rule shows the book the book limit counts.
    rules = {r.name: r for r in limit_rules(INVOICE, exposure, lines)}
    assert rules["book_limit"].inputs["after"] == conc.inputs["book_after"] == "7000000.00"
    assert (conc.inputs["others_pending"], conc.inputs["share_of"]) == ("1000000.00", "6000000.00")
    # The threshold is on the held book too: 4,900,000.00 held + 100,000.00 is not above 5,000,000.00.
    small = Exposure(690_000_000, 260_000_000, 0, held_book=490_000_000)
    assert {r.name: r for r in limit_rules(INVOICE, small, lines)}["concentration"].passed


def test_finance_rules_no_line_for_unlisted_party_without_default() -> None:
    policy = dataclasses.replace(POLICY, limits=dataclasses.replace(POLICY.limits, supplier_default=None))
    lines = lines_for(policy, INVOICE, SUPPLIER2, BUYER)
    assert lines.supplier is None
    result = {r.name: r for r in limit_rules(INVOICE, NONE_USED, lines)}["supplier_limit"]
    assert result.reason == (
        "the policy gives this supplier no limit (add it under [limits.suppliers] or set limits.supplier_default)"
    )
    assert not result.passed


# -- grading -------------------------------------------------------------------------------------------

D = dt.date


def rec(i: int, due: dt.date, settled: dt.date | None, outstanding: int = 0, status: str = "Paid") -> InvoiceRecord:
    return InvoiceRecord(i, 1000, outstanding, due, settled, status)


def test_finance_rules_payment_stats_hand_computed() -> None:
    as_of = D(2026, 6, 1)
    records = [
        rec(1, D(2026, 1, 31), D(2026, 1, 30)),  # early: 0 dpd, on time
        rec(2, D(2026, 2, 28), D(2026, 3, 3)),  # 3 dpd: on time with 3 grace days
        rec(3, D(2026, 3, 31), D(2026, 4, 10)),  # 10 dpd: late
        rec(4, D(2026, 5, 1), None, 400, "PartiallyPaid"),  # open, 31 dpd now, overdue
        rec(5, D(2026, 7, 1), None, 1000, "Financed"),  # not due: not in the history
        rec(6, D(2026, 5, 1), None, 1000, "Cancelled"),  # cancelled: never counts
        rec(7, D(2025, 12, 1), D(2026, 3, 15)),  # 104 dpd: a default, settled late
    ]
    stats = payment_stats(records, as_of, grace_days=3, default_after_days=90)
    assert (stats.invoices, stats.settled, stats.on_time) == (5, 4, 2)
    assert stats.total_days_past_due == 0 + 3 + 10 + 31 + 104
    assert stats.worst_days_past_due == 104
    assert stats.defaults == 1
    assert (stats.overdue_invoices, stats.overdue_amount) == (1, 400)
    assert stats.as_dict()["on_time_ratio"] == "0.4000"
    assert stats.as_dict()["avg_days_past_due"] == "29.60"
    assert payment_stats(records, as_of, grace_days=10).on_time == 3


def test_finance_rules_open_invoice_within_grace_is_not_late_yet() -> None:
    """A buyer who may still pay within the grace period is not marked down:
    an open invoice counts (late, overdue now) only once its grace is over."""
    as_of = D(2026, 6, 1)
    paid_on_time = rec(1, D(2026, 1, 31), D(2026, 1, 30))
    for days_late in (1, 5):
        within = rec(2, as_of - dt.timedelta(days=days_late), None, 700, "Financed")
        stats = payment_stats([paid_on_time, within], as_of, grace_days=5)
        assert (stats.invoices, stats.on_time, stats.overdue_invoices, stats.overdue_amount) == (1, 1, 0, 0)
        assert stats.worst_days_past_due == 0
        assert grade_buyer(stats, POLICY).grade.name == "A"  # type: ignore[union-attr]
    # Grace over: late and overdue now.
    after = rec(2, as_of - dt.timedelta(days=6), None, 700, "Financed")
    stats = payment_stats([paid_on_time, after], as_of, grace_days=5)
    assert (stats.invoices, stats.on_time, stats.overdue_invoices, stats.worst_days_past_due) == (2, 1, 1, 6)


def test_finance_rules_grade_is_first_grade_met_with_reasons() -> None:
    perfect = PaymentStats(10, 10, 10, 5, 2, 0, 0, 0)
    g = grade_buyer(perfect, POLICY)
    assert g.grade is not None and g.grade.name == "A"
    assert g.reason == "grade A (10 of 10 invoice(s) paid on time, worst 2 days past due, 0 default(s), 0 overdue now)"
    # 9 of 10 on time = 90%: below A's 95%, meets B's 80%.
    good = PaymentStats(10, 10, 9, 20, 9, 0, 0, 0)
    g = grade_buyer(good, POLICY)
    assert g.grade is not None and g.grade.name == "B"
    assert g.reason.endswith("; not A: on-time ratio 90.00% is below 95.00%")
    # Exactly at A's thresholds still earns A (avg 2.0 = max 2, worst 10 = max 10, 95% = 95%).
    edge = PaymentStats(20, 20, 19, 40, 10, 0, 0, 0)
    g = grade_buyer(edge, POLICY)
    assert g.grade is not None and g.grade.name == "A"
    # One default rules out A and B; C allows one.
    g = grade_buyer(PaymentStats(10, 9, 8, 150, 95, 1, 1, 500), POLICY)
    assert g.grade is not None and g.grade.name == "C"
    bad = PaymentStats(4, 2, 1, 400, 200, 2, 2, 900)
    g = grade_buyer(bad, POLICY)
    assert g.grade is None
    assert g.reason.startswith("the buyer's payment history meets no grade (A: on-time ratio 25.00% is below 95.00%")
    assert (
        "C: on-time ratio 25.00% is below 60.00%, average 100.00 days past due is above 20, worst 200 days past "
        "due is above 120, 2 default(s) is above 1" in g.reason
    )


def test_finance_rules_ungraded_buyer_is_declined_with_reason() -> None:
    rules = run(stats=PaymentStats(4, 2, 1, 400, 200, 2, 2, 900))
    assert set(failed(rules)) == {"buyer_grade", "price"}
    assert rules["price"].reason == "no price without a buyer grade"
    # Consent is still checked (without the asking price).
    assert rules["holder_consent"].passed
    no_history_policy = dataclasses.replace(POLICY, grading=dataclasses.replace(POLICY.grading, no_history=None))
    ev = evaluate(
        policy=no_history_policy,
        invoice=INVOICE,
        supplier=SUPPLIER,
        buyer=BUYER,
        financier=FINANCIER,
        stats=NO_HISTORY,
        exposure=NONE_USED,
        as_of=AS_OF,
        deployment_grace=WEEK,
    )
    assert not ev.approved
    assert ev.failures[0].reason == "the buyer has no payment history and the policy grades no such buyer"


def test_finance_rules_grade_a_prices_better_than_b() -> None:
    a = evaluate(
        policy=POLICY,
        invoice=INVOICE,
        supplier=SUPPLIER,
        buyer=BUYER,
        financier=FINANCIER,
        stats=PaymentStats(10, 10, 10, 0, 0, 0, 0, 0),
        exposure=NONE_USED,
        as_of=AS_OF,
        deployment_grace=WEEK,
    )
    assert a.grade == "A" and a.price is not None
    # 95% of 10,000,000 = 9,500,000; x (4.5% + 1.25%) x 60/365 = 89,794.52... -> 89,795; fees 25,000 + 9,500.
    assert (a.price.advance, a.price.discount, a.price.fees) == (9_500_000, 89_795, 34_500)
    assert a.price.annual_rate == Decimal("0.0575")


def test_finance_rules_net_advance_must_be_positive() -> None:
    tiny = dataclasses.replace(INVOICE, amount=1_000_000, outstanding=1_000_000)
    policy = dataclasses.replace(
        POLICY,
        pricing=dataclasses.replace(POLICY.pricing, fee_fixed=Decimal("20000")),
        eligibility=dataclasses.replace(POLICY.eligibility, min_amount=Decimal(0)),
    )
    ev = evaluate(
        policy=policy,
        invoice=tiny,
        supplier=SUPPLIER,
        buyer=BUYER,
        financier=FINANCIER,
        stats=NO_HISTORY,
        exposure=NONE_USED,
        as_of=AS_OF,
        deployment_grace=WEEK,
    )
    assert [r.name for r in ev.failures] == ["price"]
    assert ev.failures[0].reason == (
        "discount HKD 103.57 and fees HKD 20,009.00 leave nothing of the advance HKD 9,000.00, HKD 11,112.57 "
        "short: no net advance to pay"
    )
