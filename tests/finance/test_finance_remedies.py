"""When things go wrong (issue 14), end to end on the real chain, the real
indexer and both databases: a default written off and recovered late, a
default bought back by the seller under recourse, a dispute ended by a
credit note on a financed receivable, a dispute withdrawn, one still open and
an extension; then the decision rules and the reports (portfolio, defaults,
disputes, aging) with figures computed by hand in the comments."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction
from typing import Any

from support.finance import BUYER_NAME, EXAMPLE, POLICY, SUPPLIER_NAME, Book, remedies_story

from ledger.business_time import business_date
from ledger.finance.numbers import decimal_text, percent
from ledger.finance.policy import parse_policy

FINANCIER_NAME = "Harbour Trade Finance Ltd"


def test_finance_remedies_reports_portfolio_defaults_disputes_aging(desk: Any, book: Book, acct: Any) -> None:
    from ledger.finance.incidents import defaults_report, disputes_report
    from ledger.finance.reports import aging_report, portfolio_report

    s = remedies_story(book, acct, desk)
    financier, supplier = acct("financier").address, acct("supplier").address
    days = (s.later - s.start).days  # 39 (business days between the two moments; 40 across an HKT midnight)
    assert days in (39, 40)
    with desk.engine.connect() as conn:
        book_ = portfolio_report(conn, desk.scope, financier, s.later)
        everyone = portfolio_report(conn, desk.scope, None, s.later)
        defaults = defaults_report(conn, desk.scope, s.due + dt.timedelta(days=10))
        disputes = disputes_report(conn, desk.scope, s.later)
        open_disputes = disputes_report(conn, desk.scope, s.later, open_only=True)
        aging = aging_report(conn, desk.scope, s.later)

    # -- portfolio ----------------------------------------------------------------------------------
    [pf] = book_["rows"]
    lines = {x["invoice_id"]: x for x in book_["invoices"]}
    # advanced 80,000 + 40,000 + 30,000 = 150,000; due 90,000 + 45,000 + 36,000 = 171,000;
    # received from the buyer 20,000 (x1, a recovery) + 15,000 (x2) + 30,000 (x3) = 65,000;
    # outstanding: x1 90,000 - 20,000 = 70,000 (still written off), x2 0 (bought back), x3 0 (closed);
    # due = received 65,000 + credit-note payment 6,000 + recourse 30,000 + outstanding 70,000 + sold 0.
    assert (pf["advanced"], pf["due"], pf["received"], pf["outstanding"], pf["sold_due"]) == (
        "150000.00",
        "171000.00",
        "65000.00",
        "70000.00",
        "0.00",
    )
    assert (pf["financed"], pf["open"], pf["closed"], pf["bought_back"], pf["written_off_invoices"]) == (3, 0, 1, 1, 1)
    assert (lines[s.x1]["position"], lines[s.x2]["position"], lines[s.x3]["position"]) == (
        "written_off",
        "bought_back",
        "closed",
    )
    # Losses: 90,000 written off on x1, 20,000 recovered since, 70,000 still lost; recoveries to the financier
    # 20,000 (x2's late 35,000 went to the seller, who had bought it back); recourse 30,000 (x2);
    # dilution 10,000 of credit notes on x3, of which the seller paid the financier 6,000.
    assert (pf["written_off"], pf["recovered_after_write_off"], pf["loss"], pf["recoveries"]) == (
        "90000.00",
        "20000.00",
        "70000.00",
        "20000.00",
    )
    assert (pf["recourse"], pf["dilution"], pf["dilution_paid"]) == ("30000.00", "10000.00", "6000.00")
    # Defaults declared: x1 (claim 90,000) and x2 (45,000 - 15,000 = 30,000).
    assert (pf["declared_defaults"], pf["claim_at_default"]) == (2, "120000.00")
    # Reserves at financing: x1 10,000 + x2 5,000 + x3 4,000 = 19,000. x2's went back to the seller with the
    # receivable at the buy-back (open 35,000 less the 30,000 it paid for the financier's due): released 5,000;
    # the buyer's 35,000 after it is the seller's own (the financing had ended), so collected is 15,000 on x2.
    # x3's credit note took 10,000 - 6,000 = 4,000 of its reserve. Held: x1's 10,000.
    # 19,000 = released 5,000 + diluted 4,000 + held 10,000.
    assert (pf["reserve_at_financing"], pf["reserve_released"], pf["reserve_diluted"], pf["reserve_held"]) == (
        "19000.00",
        "5000.00",
        "4000.00",
        "10000.00",
    )
    assert lines[s.x3]["reserve_held"] == "0.00" and lines[s.x3]["reserve_diluted"] == "4000.00"
    assert (lines[s.x2]["reserve_released"], lines[s.x2]["reserve_held"]) == ("5000.00", "0.00")
    # Collected from the buyer since financing (until a buy-back ended it): 20,000 + 15,000 + 30,000 = 65,000.
    assert pf["collected"] == "65000.00"
    # Realised (closed and bought back): x3 36,000 - 30,000 = 6,000; x2 15,000 + 30,000 - 40,000 = 5,000.
    assert pf["realised_income"] == "11000.00"
    # x3 closed the day it was financed (0 days), x2 on the buy-back day: (30,000 x 0 + 40,000 x d) / 70,000 days.
    # Net of losses: 11,000 + (x1: 20,000 - 80,000) = -49,000 on 150,000 advanced: -32.666...% -> -32.67.
    assert (pf["net_income"], pf["net_return_pct"]) == ("-49000.00", "-32.67")
    # Days, weighted by cash: (30,000 x 0 + 40,000 x d + 80,000 x d) / 150,000 = 0.8 d (31.2 for d = 39: at
    # least 30, so annualised): -49,000 x 365 / (120,000 x d) = -3.8216 for d = 39 (-382.16%).
    assert pf["net_days"] == decimal_text(Fraction(120_000 * days, 150_000), 2)
    assert pf["net_yield_pct"] == percent(Fraction(-49_000 * 365, 120_000 * days))
    assert days != 39 or (pf["net_days"], pf["net_yield_pct"]) == ("31.20", "-382.16")
    # Every financier, and the total: only one financed here, so the total is its figures.
    assert [f["financier"] for f in everyone["financiers"]] == [financier]
    [total] = everyone["totals"]
    assert {k: total[k] for k in pf} == pf

    # -- defaults ---------------------------------------------------------------------------------------------
    rows = {r["invoice_id"]: r for r in defaults["rows"]}
    assert list(rows) == [s.x1, s.x2]  # in the order declared
    r1, r2 = rows[s.x1], rows[s.x2]
    # x1: the buyer owes 100,000 - 20,000 = 80,000; the financier's claim 90,000 - 20,000 = 70,000 (the other
    # 10,000 is the seller's reserve); 10 days past due as of due + 10.
    assert (r1["status"], r1["holder"]["name"], r1["seller"]["name"], r1["buyer"]["name"]) == (
        "WrittenOff",
        FINANCIER_NAME,
        SUPPLIER_NAME,
        BUYER_NAME,
    )
    assert (r1["days_past_due"], r1["due_date"], r1["defaulted_on"]) == (10, s.due.isoformat(), s.later.isoformat())
    assert (r1["outstanding"], r1["holder_claim"], r1["claim_at_default"], r1["written_off"], r1["recovered"]) == (
        "80000.00",
        "70000.00",
        "90000.00",
        "90000.00",
        "20000.00",
    )
    assert (r1["recourse"], r1["recourse_paid"]) == ("without recourse", None)
    # x2: bought back for 30,000 by the seller, then paid 35,000 by the buyer (a recovery, to the seller): paid in
    # full on the later day, so its days past due stop there.
    assert (r2["status"], r2["holder"]["address"], r2["outstanding"], r2["holder_claim"]) == (
        "Paid",
        supplier,
        "0.00",
        "0.00",
    )
    assert (r2["claim_at_default"], r2["written_off"], r2["recovered"], r2["recourse"], r2["recourse_paid"]) == (
        "30000.00",
        "0.00",
        "35000.00",
        "bought back",
        "30000.00",
    )
    assert r2["days_past_due"] == (s.later - s.due).days
    [dt_] = defaults["totals"]
    assert (dt_["invoices"], dt_["outstanding"], dt_["holder_claim"], dt_["claim_at_default"]) == (
        2,
        "80000.00",
        "70000.00",
        "120000.00",
    )
    assert (dt_["written_off"], dt_["recovered"], dt_["recourse_paid"]) == ("90000.00", "55000.00", "30000.00")

    # -- disputes ---------------------------------------------------------------------------------------------
    got = [(r["invoice_id"], r["state"], r["interrupted"], r["credit"]) for r in disputes["rows"]]
    assert got == [
        (s.x3, "credit note", "Financed", "10000.00"),
        (s.x4, "withdrawn", "Confirmed", None),
        (s.x5, "open", "Confirmed", None),
    ]
    d3, d4, d5 = disputes["rows"]
    assert (d3["paid_to_holder"], d3["open_after"], d3["holder"]["name"], d3["seller"]["name"]) == (
        "6000.00",
        "30000.00",
        FINANCIER_NAME,
        SUPPLIER_NAME,
    )
    assert (d3["since"], d3["resolved_on"], d3["days"]) == (s.start.isoformat(), s.start.isoformat(), 0)
    assert d3["reason"].startswith("0x") and len(d3["reason"]) == 66 and d3["note"] != d3["reason"]
    assert (d4["seller"]["name"], d4["holder"]["name"], d4["resolved_on"]) == (
        SUPPLIER_NAME,
        SUPPLIER_NAME,
        s.start.isoformat(),
    )
    assert (d5["resolved_on"], d5["days"], d5["buyer"]["name"]) == (None, days, BUYER_NAME)
    assert disputes["totals"] == [
        {"currency": "HKD", "disputes": 3, "open": 1, "withdrawn": 1, "credit_notes": 1, "credit": "10000.00"}
    ]
    assert [r["invoice_id"] for r in open_disputes["rows"]] == [s.x5]

    # -- aging --------------------------------------------------------------------------------------------------
    # Open on the later day: x1 80,000 written off (defaulted bucket; of it 10,000 the seller's reserve),
    # x4 20,000 not due (extended to day 70), x5 10,000 disputed (not current though not due); x2, x3 paid.
    [total_aging] = aging["totals"]
    assert (
        total_aging["not_due"],
        total_aging["1-30"],
        total_aging["disputed"],
        total_aging["defaulted"],
        total_aging["total"],
        total_aging["reserve"],
        total_aging["invoices"],
    ) == ("20000.00", "0.00", "10000.00", "80000.00", "110000.00", "10000.00", 3)


def test_finance_remedies_decisions_decline_troubled_and_grade_the_buyer(desk: Any, book: Book, acct: Any) -> None:
    s = remedies_story(book, acct, desk)
    financier = acct("financier").address
    fresh = book.issue("100000.00", days=60)
    # A disputed, a written-off and a defaulted-then-paid invoice are not financed.
    open_dispute = desk.quote(s.x5, financier, POLICY)
    rule = next(r for r in open_dispute["rules"] if r["name"] == "not_disputed_defaulted_or_cancelled")
    assert (open_dispute["status"], rule["outcome"], rule["inputs"]) == ("declined", "fail", {"status": "Disputed"})
    written = desk.quote(s.x1, financier, POLICY)
    assert "the invoice was written off after a default" in written["reason"]

    # The buyer's grade, from the ledger, as of the later day (grace 3 days, default after 90):
    # x1: defaulted (declared), open: days past due = later - due (9 or 10), overdue; written off.
    # x2: defaulted (declared), paid in full on the later day, late; x3: paid on the start day, before its due.
    # x4: open, not due (extended: 1 extension; 1 dispute, withdrawn); x5: disputed, open: out of the history.
    # The fresh invoice: not due. History: x1, x2, x3 -> 3 invoices, 2 settled, 1 on time, 2 defaults (both
    # declared), 1 overdue (x1's open 80,000.00), 1 write-off, 3 disputes (x3, x4, x5), 1 extension.
    d = desk.quote(fresh, financier, POLICY)
    grade = next(r for r in d["rules"] if r["name"] == "buyer_grade")
    late = (s.later - s.due).days
    inputs = grade["inputs"]
    assert (inputs["invoices"], inputs["settled"], inputs["on_time"], inputs["defaults"]) == (3, 2, 1, 2)
    assert (inputs["declared_defaults"], inputs["write_offs"], inputs["disputes"], inputs["extensions"]) == (2, 1, 3, 1)
    assert (inputs["overdue_invoices"], inputs["overdue_amount"], inputs["worst_days_past_due"]) == (1, 8_000_000, late)
    # C allows 1 default: 2 is above it; no grade, no price.
    assert grade["outcome"] == "fail" and grade["reason"].endswith(
        "C: on-time ratio 33.33% is below 60.00%, 2 default(s) is above 1)"
    )
    assert d["status"] == "declined" and d["grade"] is None

    # The seller's dilution: its receivables x1 100,000, x2 50,000, x3 40,000 (30,000 + 10,000 credited), x4 20,000,
    # x5 10,000 and the fresh 100,000 = 320,000 face; credited 10,000: 3.125% -> 3.12%, within the example's 5%.
    dilution = next(r for r in d["rules"] if r["name"] == "seller_dilution")
    assert (dilution["outcome"], dilution["inputs"]["face"], dilution["inputs"]["credited"]) == (
        "pass",
        "320000.00",
        "10000.00",
    )
    assert (dilution["inputs"]["receivables"], dilution["inputs"]["credited_receivables"]) == (6, 1)
    strict = parse_policy(
        EXAMPLE.read_text().replace('max_seller_dilution = "0.05"', 'max_seller_dilution = "3%"'), "strict.toml"
    )
    refused = desk.quote(fresh, financier, strict)
    rule = next(r for r in refused["rules"] if r["name"] == "seller_dilution")
    assert rule["reason"] == (
        f"the seller {SUPPLIER_NAME}'s dilution is too high: credit notes took HKD 10,000.00 off HKD 320,000.00 of "
        "its receivables (3.12%), above 3.00%"
    )
    assert business_date(dt.datetime.fromisoformat(d["as_of"])) >= s.later


def test_finance_remedies_exposure_counts_disputed_defaulted_and_written_off(desk: Any, book: Book, acct: Any) -> None:
    """A financed receivable stays in the financier's exposure (what it is still due) while
    disputed, in default and written off: a write-off books the loss (the portfolio report
    shows it and any recovery) but the buyer still owes the debt, so no limit is freed until
    it is paid."""
    from ledger.finance.reports import aging_report, exposure_report
    from ledger.finance.store import book_positions

    ledger, financier, buyer = book.ledger, acct("financier"), acct("buyer")
    x = book.issue("100000.00", days=30)
    ledger.finance(financier, x, advance="80000.00", due="90000.00")

    def exposure() -> tuple[list[tuple[int, int]], list[str], dict[str, str]]:
        desk.sync()
        with desk.engine.connect() as conn:
            held = [(p.invoice_id, p.amount) for p in book_positions(conn, desk.scope, financier.address)]
            rows = [r["outstanding"] for r in exposure_report(conn, desk.scope, "buyer")["rows"]]
            [total] = aging_report(conn, desk.scope)["totals"]
        return held, rows, {k: total[k] for k in ("not_due", "disputed", "defaulted")}

    # Due 90,000.00 to the financier of the 100,000.00 open (10,000.00 the seller's reserve).
    assert exposure() == (
        [(x, 9_000_000)],
        ["90000.00"],
        {"not_due": "100000.00", "disputed": "0.00", "defaulted": "0.00"},
    )
    ledger.dispute(buyer, x, "late delivery")
    assert exposure() == (
        [(x, 9_000_000)],
        ["90000.00"],
        {"not_due": "0.00", "disputed": "100000.00", "defaulted": "0.00"},
    )
    ledger.withdraw_dispute(buyer, x)
    book.travel(39 * 86_400)
    ledger.declare_default(financier, x)
    assert exposure() == (
        [(x, 9_000_000)],
        ["90000.00"],
        {"not_due": "0.00", "disputed": "0.00", "defaulted": "100000.00"},
    )
    ledger.write_off(financier, x)
    # Written off: the loss is booked, but the buyer still owes it: it stays in the exposure (no
    # credit line is freed by a write-off) and in aging's defaulted bucket.
    assert exposure() == (
        [(x, 9_000_000)],
        ["90000.00"],
        {"not_due": "0.00", "disputed": "0.00", "defaulted": "100000.00"},
    )
    # A recovery of 30,000.00 (all to the financier: its due first) lowers it.
    ledger.repay(buyer, x, "30000.00")
    assert exposure() == (
        [(x, 6_000_000)],
        ["60000.00"],
        {"not_due": "0.00", "disputed": "0.00", "defaulted": "70000.00"},
    )


def test_finance_remedies_portfolio_per_financier_and_total(desk: Any, book: Book, acct: Any) -> None:
    """Two financiers: Harbour finances A (advance 80,000.00, due 90,000.00), Victoria Peak
    finances B (40,000.00, due 45,000.00, with recourse); A's buyer pays 90,000.00 (all to
    Harbour: its due first) and B's credits 5,000.00 off B: open 50,000.00 -> 45,000.00, not below
    Victoria Peak's 45,000.00 due, so the seller pays it nothing and the reserve takes it all."""
    from ledger.finance.reports import portfolio_report

    ledger, supplier = book.ledger, acct("supplier")
    a = book.issue("100000.00", days=60)
    b = book.issue("50000.00", days=60, buyer="buyer2", recourse=True)
    ledger.finance(acct("financier"), a, advance="80000.00", due="90000.00")
    ledger.finance(acct("financier2"), b, advance="40000.00", due="45000.00", recourse=True)
    ledger.repay(acct("buyer"), a, "90000.00")
    assert ledger.credit_note(supplier, b, "5000.00")["to_holder"] == "0.00"
    desk.sync()
    with desk.engine.connect() as conn:
        every = portfolio_report(conn, desk.scope, None)
    books = {f["name"]: f["rows"][0] for f in every["financiers"]}
    assert sorted(books) == ["Harbour Trade Finance Ltd", "Victoria Peak Capital Ltd"]
    harbour, peak = books["Harbour Trade Finance Ltd"], books["Victoria Peak Capital Ltd"]
    assert (harbour["received"], harbour["outstanding"], harbour["realised_income"], harbour["closed"]) == (
        "90000.00",
        "0.00",
        "10000.00",  # 90,000 - 80,000
        1,
    )
    # Victoria Peak: nothing received, 45,000 outstanding; dilution 5,000, all from the seller's reserve
    # (50,000 open at financing - 45,000 due = 5,000): none of it is left.
    assert (peak["outstanding"], peak["dilution"], peak["dilution_paid"], peak["reserve_diluted"]) == (
        "45000.00",
        "5000.00",
        "0.00",
        "5000.00",
    )
    assert (peak["reserve_at_financing"], peak["reserve_held"], peak["open"]) == ("5000.00", "0.00", 1)
    # The total: advanced 80,000 + 40,000; due 90,000 + 45,000; received 90,000; outstanding 45,000;
    # net income (closed ones only) 10,000 on 80,000 = 12.50%.
    [total] = every["totals"]
    assert (total["financed"], total["advanced"], total["due"], total["received"], total["outstanding"]) == (
        2,
        "120000.00",
        "135000.00",
        "90000.00",
        "45000.00",
    )
    assert (total["net_income"], total["net_return_pct"], total["dilution"]) == ("10000.00", "12.50", "5000.00")


def test_finance_remedies_expected_income_leaves_out_declared_defaults(desk: Any, book: Book, acct: Any) -> None:
    """Two open financings of Harbour, each advance 80,000.00 for a due of 90,000.00: expected
    income 10,000.00 each, 20,000.00. Once the holder declares one in default it is a claim in
    recovery, not income to expect: 10,000.00 is left (the other, not yet due, still performs)."""
    from ledger.finance.reports import portfolio_report

    ledger, financier = book.ledger, acct("financier")
    late = book.issue("100000.00", days=30)
    later = book.issue("100000.00", days=120)
    for invoice_id in (late, later):
        ledger.finance(financier, invoice_id, advance="80000.00", due="90000.00")

    def expected() -> tuple[str, int]:
        desk.sync()
        with desk.engine.connect() as conn:
            [row] = portfolio_report(conn, desk.scope, financier.address)["rows"]
        return row["expected_income"], row["open"]

    assert expected() == ("20000.00", 2)
    book.travel(39 * 86_400)  # past the first's due date plus the 7 days of grace
    ledger.declare_default(financier, late)
    assert expected() == ("10000.00", 2)
