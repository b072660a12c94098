"""Issue 12's wrong figures in financing decisions and reports: one book for
concentration and the book limit; parties named in reasons; the holder that
is the financier; one grade per buyer whatever invoice is quoted; a quote and
a dry run that show the same net advance (never clamped); yields annualised
only over a meaningful holding period; cancelled decisions that stop counting;
exposure by financier of financed receivables only."""

from __future__ import annotations

import dataclasses
import datetime as dt
from fractions import Fraction
from typing import Any

import pytest
from sqlalchemy import select
from support.finance import BUYER_NAME, EXAMPLE, POLICY, Book

from ledger.errors import DecisionRefused, InputError, Refused
from ledger.finance.facts import Exposure, InvoiceFacts, require_financier
from ledger.finance.policy import parse_policy
from ledger.finance.rules import limit_rules, lines_for, rule_consent, rule_not_financed

FAR = dt.datetime(2029, 1, 1, tzinfo=dt.UTC)
AS_OF = dt.datetime(2026, 1, 1, 9, 30, tzinfo=dt.UTC)
SUPPLIER = "0x" + "51" * 20
BUYER = "0x" + "b1" * 20
FINANCIER = "0x" + "f1" * 20
INVOICE = InvoiceFacts(
    invoice_id=7,
    status="Confirmed",
    supplier=SUPPLIER,
    buyer=BUYER,
    holder=SUPPLIER,
    financier=None,
    currency="HKD",
    decimals=2,
    amount=10_000_000,
    outstanding=10_000_000,
    due_date=dt.date(2026, 3, 2),
)


# -- rules (pure) --------------------------------------------------------------------------------------


def test_finance_front_door_concentration_and_book_limit_count_one_book() -> None:
    from support.finance import POLICY

    from ledger.finance.facts import PartyFacts

    supplier = PartyFacts(SUPPLIER, "Kowloon Precision Parts Ltd", True, False, FAR, roles=1)
    buyer = PartyFacts(BUYER, BUYER_NAME, True, False, FAR, roles=2)
    lines = lines_for(POLICY, INVOICE, supplier, buyer)
    # Held: 5,000,000.00 of other buyers; pending: 6,000,000.00 of this buyer's own approvals; this invoice
    # would be due 100,000.00. The book limit counts 11,100,000.00 after this; the share is of that book
    # (no other buyer has a pending approval): 6,100,000.00 of 11,100,000.00 = 54.95%, never above 100%.
    exposure = Exposure(1_100_000_000, 600_000_000, 0, held_book=500_000_000, buyer_pending=600_000_000)
    rules = {r.name: r for r in limit_rules(INVOICE, exposure, lines)}
    book, conc = rules["book_limit"], rules["concentration"]
    assert book.inputs["after"] == conc.inputs["book_after"] == conc.inputs["share_of"] == "11100000.00"
    assert conc.inputs["share"] == "54.95%" and not conc.passed
    assert conc.reason == (
        "the buyer would be 54.95% of the book (HKD 6,100,000.00 of HKD 11,100,000.00), above 40.00%"
    )
    # The share checked is the worst case for the buyer: whichever approvals are executed, the
    # share of the held book is never above it.
    worst = Fraction(6_100, 11_100)
    for executed_own in range(0, 600_000_001, 100_000_000):
        held_share = Fraction(executed_own + 10_000_000, 500_000_000 + executed_own + 10_000_000)
        assert held_share <= worst


def test_finance_front_door_not_financed_names_the_financier() -> None:
    financed = dataclasses.replace(
        INVOICE,
        status="PartiallyPaid",
        financier=FINANCIER,
        financier_name="Harbour Trade Finance Ltd",
        seller=SUPPLIER,
        seller_name="Kowloon Precision Parts Ltd",
        holder=FINANCIER,
    )
    result = rule_not_financed(financed)
    assert result.reason == (
        "the invoice was already financed (by Harbour Trade Finance Ltd): one financing per invoice, ever"
    )
    # An unnamed party is shown by its address, as everywhere.
    unnamed = rule_not_financed(dataclasses.replace(financed, financier_name=None))
    assert f"(by {FINANCIER})" in unnamed.reason
    # So is the financier a listing is for.
    listed = rule_consent(
        dataclasses.replace(
            INVOICE,
            offer_financier="0x" + "f2" * 20,
            offer_financier_name="Victoria Peak Capital Ltd",
            offer_min_advance=1,
            offer_expires=FAR,
        ),
        FINANCIER,
        2,
        AS_OF,
    )
    assert listed.reason.endswith("(listed only for Victoria Peak Capital Ltd)")


def test_finance_front_door_consent_when_the_financier_is_the_holder() -> None:
    # After financing the listing is consumed: the financier holds it and nothing is listed.
    held = dataclasses.replace(INVOICE, holder=FINANCIER, holder_name="Harbour Trade Finance Ltd")
    result = rule_consent(held, FINANCIER, None, AS_OF)
    assert not result.passed
    assert result.reason == (
        "the financier Harbour Trade Finance Ltd already holds it: there is no other holder to consent, "
        "and nobody finances its own holding"
    )
    assert "has not offered it" not in result.reason


def test_finance_front_door_require_financier_is_a_rule() -> None:
    require_financier(4, "Harbour Trade Finance Ltd", "why")  # the financier bit
    with pytest.raises(Refused) as caught:
        require_financier(2, BUYER_NAME, "a portfolio is a financier's book; name one with --as")
    assert str(caught.value) == (
        f"{BUYER_NAME} does not have the financier role; a portfolio is a financier's book; name one with --as"
    )
    assert caught.value.exit_code == 1


def test_finance_front_door_yield_is_annualised_over_30_days_or_more() -> None:
    from ledger.finance.portfolio import MIN_ANNUALISED_DAYS, _income_figures

    assert MIN_ANNUALISED_DAYS == 30
    # A holding of minutes (0 days): the period return only, no 4,000% a year.
    short = _income_figures("realised", 1_250_000, [(30_000_000, 0)])
    assert short == {"realised_return_pct": "4.17", "realised_days": "0.00", "realised_yield_pct": None}
    # Weighted by amount: 10,000 for 10 days and 30,000 for 36 days = 29.5 days: still the period return.
    mixed = _income_figures("realised", 400_000, [(1_000_000, 10), (3_000_000, 36)])
    assert mixed == {"realised_return_pct": "10.00", "realised_days": "29.50", "realised_yield_pct": None}
    # 30 days exactly: annualised, 10% x 365 / 30 = 121.67%.
    month = _income_figures("realised", 400_000, [(1_000_000, 30), (3_000_000, 30)])
    assert month == {"realised_return_pct": "10.00", "realised_days": "30.00", "realised_yield_pct": "121.67"}
    assert _income_figures("expected", 0, []) == {
        "expected_return_pct": None,
        "expected_days": None,
        "expected_yield_pct": None,
    }


# -- against the ledger ---------------------------------------------------------------------------------


def test_finance_front_door_grade_is_the_buyers_whatever_invoice_is_quoted(desk: Any, book: Book, acct: Any) -> None:
    """The demo's flip: quoting invoice 2 graded the buyer A on invoice 1 paid on time; quoting invoice 1
    (paid) left invoice 1 out of its own history and graded the buyer B, "no payment history yet"."""
    financier = acct("financier").address
    paid = book.issue("20000.00", days=30, offer=False)
    book.repay(paid, "20000.00")
    other = book.issue("50000.00", days=30)
    first = desk.quote(other, financier, POLICY)
    book.travel(5)  # blocks later
    book.travel(5)
    second = desk.quote(paid, financier, POLICY)
    grades = [
        next(r for r in d["rules"] if r["name"] == "buyer_grade")["reason"].split(" (")[0] for d in (first, second)
    ]
    assert (first["grade"], second["grade"]) == ("A", "A"), grades
    assert grades == ["grade A", "grade A"]
    assert "1 of 1 invoice(s) paid on time" in next(r for r in second["rules"] if r["name"] == "buyer_grade")["reason"]


def _fee_policy() -> Any:
    """The example policy with a fixed fee above a small invoice's advance."""
    text = (
        EXAMPLE.read_text()
        .replace('fee_fixed = "250.00"', 'fee_fixed = "20000.00"')
        .replace('min_amount = "10000.00"', 'min_amount = "0"')
    )
    return parse_policy(text, "fees.toml")


def test_finance_front_door_quote_and_dry_run_show_one_net_advance(desk: Any, book: Book, acct: Any) -> None:
    financier = acct("financier").address
    policy = _fee_policy()
    invoice_id = book.issue("10000.00", days=30, ask="1.00")
    dry = desk.auto(financier, None, policy, dry_run=True)
    [entry] = [r for r in dry["results"] if r["invoice_id"] == invoice_id]
    quoted = desk.quote(invoice_id, financier, policy)
    price_rule = next(r for r in quoted["rules"] if r["name"] == "price")
    # 9,000.00 advance (grade B 90%); 20,009.00 of fees and 51.7808... of discount: the exact net
    # -11,060.7808... rounds down to -11,060.79. Never clamped to 0.00 in one place and shown negative in
    # another: no net advance, in both.
    assert quoted["status"] == "declined" and entry["status"] == "would decline"
    assert quoted["price"]["net_advance"] is None and entry["net_advance"] is None
    assert entry["reason"] == quoted["reason"]
    assert price_rule["inputs"]["net_advance"] == "-11060.79"
    assert price_rule["reason"].endswith("HKD 11,060.79 short: no net advance to pay")


def test_finance_front_door_cancel_stops_counting_against_the_limits(desk: Any, book: Book, acct: Any) -> None:
    from ledger.finance import store
    from ledger.finance.models import Decision

    financier = acct("financier").address
    first, second = book.issue("100000.00", days=60), book.issue("100000.00", days=60)
    approved = desk.quote(first, financier, POLICY)
    assert approved["status"] == "approved", approved["reason"]
    before = desk.quote(second, financier, POLICY)
    book_rule = {r["name"]: r for r in before["rules"]}["book_limit"]
    assert book_rule["inputs"]["used"] == "90000.00"  # the first approval's due counts
    now = dt.datetime.now(dt.UTC)
    with desk.engine.begin() as conn:
        point = store.indexed_point(conn, desk.scope)
        store.cancel_decision(conn, approved["decision_id"], "ops", "supplier withdrew", now, point.time)
    with desk.engine.connect() as conn:
        row = conn.execute(select(Decision.__table__).where(Decision.id == approved["decision_id"])).mappings().one()
        pending = store.pending_positions(conn, desk.scope, financier, point.time)
    assert [p.invoice_id for p in pending] == [second]  # the first no longer counts
    assert (row["status"], row["cancelled_by"], row["cancel_reason"]) == ("cancelled", "ops", "supplier withdrew")
    assert row["cancelled_at"] is not None
    after = desk.quote(second, financier, POLICY)
    rules = {r["name"]: r for r in after["rules"]}
    assert rules["book_limit"]["inputs"]["used"] == "0.00"  # the invoice's own earlier approval is left out
    assert rules["buyer_limit"]["inputs"]["used"] == "0.00"
    # A cancelled decision cannot be executed, nor cancelled again; nor can a declined or an executed one.
    with pytest.raises(DecisionRefused, match="was cancelled \\(supplier withdrew\\)"):
        desk.execute(approved["decision_id"], acct("financier"))
    with (
        desk.engine.begin() as conn,
        pytest.raises(DecisionRefused, match="cannot be cancelled: it was already cancelled at "),
    ):
        store.cancel_decision(conn, approved["decision_id"], "ops", None, now, point.time)
    desk.execute(after["decision_id"], acct("financier"))
    with desk.engine.begin() as conn:
        with pytest.raises(DecisionRefused, match="cannot be cancelled: it was executed in transaction 0x"):
            store.cancel_decision(conn, after["decision_id"], "ops", None, now, point.time)
        with pytest.raises(InputError, match="no decision 999"):
            store.cancel_decision(conn, 999, "ops", None, now, point.time)


def test_finance_front_door_cancel_refuses_expired_and_declined(desk: Any, book: Book, acct: Any) -> None:
    from ledger.finance import store

    financier = acct("financier").address
    approved = desk.quote(book.issue(), financier, POLICY)
    declined = desk.quote(book.issue(offer=False), financier, POLICY)
    assert (approved["status"], declined["status"]) == ("approved", "declined")
    now = dt.datetime.now(dt.UTC)
    later = now + dt.timedelta(minutes=POLICY.valid_minutes + 1)
    with desk.engine.begin() as conn:
        with pytest.raises(DecisionRefused, match="it was declined, so it never counted against the limits"):
            store.cancel_decision(conn, declined["decision_id"], "ops", None, now, now)
        with pytest.raises(DecisionRefused, match="it expired, so it no longer counts against the limits"):
            store.cancel_decision(conn, approved["decision_id"], "ops", None, now, later)


def test_finance_front_door_exposure_by_financier_only_financed(desk: Any, book: Book, acct: Any) -> None:
    """An unfinanced, part-paid invoice is no financier's exposure: only the financier is listed."""
    from ledger.finance.reports import exposure_report

    financier = acct("financier").address
    part_paid = book.issue("30000.00", days=30, offer=False, supplier="supplier2")
    book.repay(part_paid, "1000.00")
    financed = book.issue("100000.00", days=60)
    decision = desk.quote(financed, financier, POLICY)
    desk.execute(decision["decision_id"], acct("financier"))
    desk.sync()
    with desk.engine.connect() as conn:
        report = exposure_report(conn, desk.scope, "financier")
    assert [(r["financier"], r["name"], r["outstanding"]) for r in report["rows"]] == [
        (financier, "Harbour Trade Finance Ltd", "90000.00")
    ]
