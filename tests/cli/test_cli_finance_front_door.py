"""Issue 12 through `scf finance` and `scf report`: names where every other
line prints names, one grade per buyer, the financier that already holds an
invoice, one net advance in quote and auto, amounts as ``HKD 48,250.50``,
yields only over a meaningful holding period, a portfolio only of a
financier, and `finance cancel`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from support.finance import BUYER_NAME, EXAMPLE, Book

FINANCIER_NAME = "Harbour Trade Finance Ltd"
POLICY = str(EXAMPLE)


@pytest.fixture()
def book(ledger: Any, acct: Any) -> Book:
    return Book(ledger, acct)


def _head(book: Book) -> int:
    return int(book.ledger.w3.eth.block_number)


def _one_line_error(result: Any, code: int, text: str) -> None:
    assert result.exit_code == code, result.output
    assert result.output == f"Error: {text}\n"
    assert "Traceback" not in result.output


def _rule(output: str, name: str) -> str:
    [line] = [x for x in output.splitlines() if x.startswith(("  ok   ", "  FAIL ")) and f" {name}: " in x]
    return line


def test_cli_finance_front_door_the_demo_quotes_name_parties_and_grade_alike(cli: Any, book: Book) -> None:
    """The demo: invoice X financed and paid; quote Y (graded on X), then quote X again."""
    x = book.issue("100000.00", days=60)
    assert cli("finance", "quote", str(x), "--as", "financier", "--policy", POLICY).exit_code == 0
    executed = cli("finance", "execute", "1")
    assert executed.exit_code == 0, executed.output
    book.repay(x, "100000.00")
    y = book.issue("50000.00", days=30)
    first = cli("finance", "quote", str(y), "--as", "financier", "--policy", POLICY)
    assert first.exit_code == 0, first.output
    book.travel(5)
    book.travel(5)
    second = cli("finance", "quote", str(x), "--as", "financier", "--policy", POLICY)
    assert second.exit_code == 0, second.output
    # One grade for the buyer at one point, whichever of its invoices is quoted.
    for out in (first.output, second.output):
        assert _rule(out, "buyer_grade").startswith("  ok   buyer_grade: grade A (1 of 1 invoice(s) paid on time")
    # Names, not addresses; and the financier that holds X is told so.
    assert _rule(second.output, "not_financed") == (
        f"  FAIL not_financed: the invoice was already financed (by {FINANCIER_NAME}): one financing per invoice, ever"
    )
    assert _rule(second.output, "holder_consent") == (
        f"  FAIL holder_consent: the financier {FINANCIER_NAME} already holds it: there is no other holder to "
        "consent, and nobody finances its own holding"
    )
    # Amounts in text: HKD 48,250.50.
    assert "  invoice: HKD 50,000.00 open of HKD 50,000.00, due " in first.output


def test_cli_finance_front_door_portfolio_yield_and_financier_only(cli: Any, book: Book) -> None:
    invoice_id = book.issue("100000.00", days=60)
    assert cli("finance", "quote", str(invoice_id), "--as", "financier", "--policy", POLICY).exit_code == 0
    assert cli("finance", "execute", "1").exit_code == 0
    book.repay(invoice_id, "100000.00")
    assert cli("index", "sync").exit_code == 0
    portfolio = cli("report", "portfolio", "--as", FINANCIER_NAME)
    assert portfolio.exit_code == 0, portfolio.output
    [realised] = [x for x in portfolio.output.splitlines() if x.startswith("  realised ")]
    # Financed and repaid within minutes: 1,375.62 on 88,624.38 is 1.55% over the period, not thousands a year.
    assert re.fullmatch(
        r"  realised     HKD 1,375\.62 income, 1\.55% over \d+\.\d\d days \(too short to annualise\)", realised
    ), realised
    data = json.loads(cli("report", "portfolio", "--as", FINANCIER_NAME, "--json").output)
    assert (data["rows"][0]["realised_yield_pct"], data["rows"][0]["realised_return_pct"]) == (None, "1.55")
    head = _head(book)
    refused = cli("report", "portfolio", "--as", "buyer")
    why = "a portfolio is a financier's book; name one with --as"
    _one_line_error(refused, 1, f"{BUYER_NAME} does not have the financier role; {why}")
    assert _head(book) == head


def _fee_policy(tmp_path: Path) -> str:
    path = tmp_path / "fees.toml"
    path.write_text(
        EXAMPLE.read_text()
        .replace('fee_fixed = "250.00"', 'fee_fixed = "20000.00"')
        .replace('min_amount = "10000.00"', 'min_amount = "0"')
    )
    return str(path)


def test_cli_finance_front_door_quote_and_auto_pay_the_same(cli: Any, book: Book, tmp_path: Path) -> None:
    policy = _fee_policy(tmp_path)
    invoice_id = book.issue("10000.00", days=30, ask="1.00")
    dry = cli("finance", "auto", "--as", "financier", "--policy", policy, "--dry-run")
    assert dry.exit_code == 0, dry.output
    quote = cli("finance", "quote", str(invoice_id), "--as", "financier", "--policy", policy)
    assert quote.exit_code == 0, quote.output
    # Once `pays HKD 0.00` in the quote and `pays HKD -156.42`-like in the dry run; now one figure.
    assert dry.output.startswith(f"invoice {invoice_id}: would decline (not stored), pays nothing (no net advance): ")
    assert "fees HKD 20,009.00, pays nothing (no net advance) now; " in quote.output
    assert "HKD 11,060.79 short: no net advance to pay" in _rule(quote.output, "price")
    dry_json = json.loads(cli("finance", "auto", "--as", "financier", "--policy", policy, "--dry-run", "--json").output)
    shown = json.loads(cli("finance", "show", "1", "--json").output)
    assert dry_json["results"][0]["net_advance"] is None and shown["price"]["net_advance"] is None
    # auto is a financier's too: refused before anything, as quote is.
    _one_line_error(
        cli("finance", "auto", "--as", "supplier", "--policy", policy, "--dry-run"),
        1,
        "Kowloon Precision Parts Ltd does not have the financier role; "
        "only a financier auto-finances; name one with --as",
    )


def test_cli_finance_front_door_cancel(cli: Any, book: Book) -> None:
    first, second = book.issue("100000.00", days=60), book.issue("100000.00", days=60, offer=False)
    assert cli("finance", "quote", str(first), "--as", "financier", "--policy", POLICY).exit_code == 0  # 1 approved
    assert cli("finance", "quote", str(second), "--as", "financier", "--policy", POLICY).exit_code == 0  # 2 declined
    done = cli("finance", "cancel", "1", "--reason", "the supplier withdrew  the invoice")
    assert done.exit_code == 0, done.output
    assert done.output == (
        f"decision 1 cancelled: invoice {first} for {FINANCIER_NAME} no longer counts against its limits "
        "(the supplier withdrew the invoice)\n"
    )
    shown = json.loads(cli("finance", "show", "1", "--json").output)
    assert (shown["status"], shown["cancel_reason"]) == ("cancelled", "the supplier withdrew the invoice")
    assert shown["cancelled_by"] and shown["cancelled_at"]
    text = cli("finance", "show", "1").output
    assert text.startswith(f"decision 1: CANCELLED invoice {first} for {FINANCIER_NAME}")
    assert f" by {shown['cancelled_by']}: the supplier withdrew the invoice\n" in text
    listed = cli("finance", "list", "--status", "cancelled", "--csv").output.splitlines()
    assert len(listed) == 2 and listed[1].startswith(f"1,{first},cancelled,")
    table = cli("finance", "list").output
    assert "cancelled by " in table and ": the supplier withdrew the invoice" in table
    assert "HKD 100,000.00" in table and "HKD 88,624.38" in table
    # It no longer counts: a new quote of another invoice sees nothing used.
    third = book.issue("100000.00", days=60)
    quoted = json.loads(cli("finance", "quote", str(third), "--as", "financier", "--policy", POLICY, "--json").output)
    assert {r["name"]: r for r in quoted["rules"]}["book_limit"]["inputs"]["used"] == "0.00"
    # Refusals: one line, exit 1 (a rule) or 2 (no such decision); nothing sent.
    head = _head(book)
    cases = [
        (["finance", "cancel", "1"], 1, "decision 1 cannot be cancelled: it was already cancelled at "),
        (["finance", "cancel", "2"], 1, "decision 2 cannot be cancelled: it was declined, so it never counted"),
        (["finance", "cancel", "999"], 2, "no decision 999; list them with `scf finance list`"),
        (["finance", "cancel", "0"], 2, "Invalid value for 'DECISION_ID': 0 is not in the range x>=1."),
        (["finance", "cancel", "3", "--reason", " "], 2, "--reason must be printable text of 1 to 500 characters"),
        (["finance", "execute", "1"], 1, "decision 1 was cancelled (the supplier withdrew the invoice); quote "),
    ]
    for args, code, start in cases:
        result = cli(*args)
        assert result.exit_code == code, (args, result.output)
        assert result.output.startswith(f"Error: {start}"), (args, result.output)
        assert result.output.count("\n") == 1 and "Traceback" not in result.output, (args, result.output)
    assert _head(book) == head
    executed = cli("finance", "execute", "3")
    assert executed.exit_code == 0, executed.output
    refused = cli("finance", "cancel", "3")
    assert refused.exit_code == 1 and refused.output.startswith(
        "Error: decision 3 cannot be cancelled: it was executed in transaction 0x"
    ), refused.output
    help_text = cli("finance", "cancel", "--help").output
    assert 'scf finance cancel 2 --reason "the supplier withdrew the invoice"' in help_text


def test_cli_finance_front_door_exposure_by_financier_lists_financiers(cli: Any, book: Book) -> None:
    part_paid = book.issue("30000.00", days=30, supplier="supplier2", offer=False)
    book.repay(part_paid, "1000.00")
    financed = book.issue("100000.00", days=60)
    assert cli("finance", "quote", str(financed), "--as", "financier", "--policy", POLICY).exit_code == 0
    assert cli("finance", "execute", "1").exit_code == 0
    assert cli("index", "sync").exit_code == 0
    data = json.loads(cli("report", "exposure", "--by", "financier", "--json").output)
    assert [(r["name"], r["outstanding"]) for r in data["rows"]] == [(FINANCIER_NAME, "90000.00")]
    text = cli("report", "exposure", "--by", "financier", "--policy", POLICY).output
    assert "Sham Shui Po" not in text and "Kowloon" not in text
    assert "HKD 90,000.00" in text and "HKD 20,000,000.00" in text and "HKD 19,910,000.00" in text
    aging = cli("report", "aging").output
    # One buyer: 29,000.00 + 100,000.00 open, 10,000.00 of it the seller's reserve.
    assert "│ HKD 129,000.00 │" in aging and "│ HKD 10,000.00 │" in aging
