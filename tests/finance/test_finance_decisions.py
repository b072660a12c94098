"""Financing decisions end to end on the real chain, the real indexer and
both databases, through the decision desk: quote -> execute -> index -> report
with the figures checked against the chain; every refusal of execute; limits
that hold whatever the order of quotes and executions; auto-financing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from support.finance import BUYER_NAME, EXAMPLE, POLICY, SUPPLIER_NAME, Book, hkd, tight_policy

from ledger.business_time import business_date
from ledger.finance.policy import parse_policy
from ledger.finance.pricing import price
from ledger.format import text_time


def test_finance_decisions_quote_execute_index_report_match_the_chain(desk: Any, book: Book, acct: Any) -> None:
    from ledger.db.models import Event
    from ledger.finance.reports import aging_report, exposure_report, portfolio_report

    financier = acct("financier").address
    invoice_id = book.issue("100000.00", days=60)
    decision = desk.quote(invoice_id, financier, POLICY)
    assert decision["status"] == "approved", decision["reason"]
    assert decision["grade"] == "B" and decision["reason"] == "approved: every rule passed"
    p = decision["price"]
    days = p["days"]
    as_of = dt.date.fromisoformat(decision["as_of"][:10])
    assert days == (dt.date.fromisoformat(decision["due"]) - as_of).days == 60
    # Grade B: 90% advance; 4.50% + 2.50% on ACT/365; fees 250.00 + 0.10% of the advance.
    # 9,000,000 x 0.07 x 60 / 365 = 103,561.64 -> 103,562; fees 25,000 + 9,000.
    assert (p["advance"], p["discount"], p["fees"], p["net_advance"], p["reserve"]) == (
        "90000.00",
        "1035.62",
        "340.00",
        "88624.38",
        "10000.00",
    )
    assert decision["policy_hash"] == POLICY.hash
    assert [r["outcome"] for r in decision["rules"]] == ["pass"] * 19
    assert decision["rules"][5]["reason"].startswith("the financier Harbour Trade Finance Ltd's KYC is valid until ")

    supplier_before, financier_before = book.units("supplier"), book.units("financier")
    done = desk.execute(decision["decision_id"], acct("financier"))
    assert done["status"] == "executed" and done["tx_hash"].startswith("0x")
    # The chain has exactly the decided terms: the net advance paid, the gross advance due to the financier.
    state = book.onchain(invoice_id)
    assert (state["financier_due"], state["financier_paid"], state["seller"], state["holder"], state["status"]) == (
        9_000_000,
        0,
        acct("supplier").address,
        financier,
        3,
    )
    assert book.units("supplier") - supplier_before == 8_862_438
    assert financier_before - book.units("financier") == 8_862_438
    # The decision links to the indexed InvoiceFinanced event of its transaction.
    with desk.engine.connect() as conn:
        ev = conn.execute(select(Event.__table__).where(Event.id == done["event_id"])).first()
    assert ev is not None and ev.event == "InvoiceFinanced" and ev.tx_hash == done["tx_hash"]
    assert (int(ev.args["advance"]), int(ev.args["due"])) == (8_862_438, 9_000_000)
    assert ev.block_number == done["executed_block"]
    assert (done["event_block_hash"], done["event_log_index"]) == (ev.block_hash, ev.log_index)

    # Reports from the database, checked against the chain.
    book.ledger.repay(acct("buyer"), invoice_id, "40000.00")
    desk.sync()
    with desk.engine.connect() as conn:
        exp = exposure_report(conn, desk.scope, "buyer", POLICY)
        mine = portfolio_report(conn, desk.scope, financier)
        aging = aging_report(conn, desk.scope)
    state = book.onchain(invoice_id)
    assert (state["amount"] - state["paid"], state["financier_due"] - state["financier_paid"]) == (6_000_000, 5_000_000)
    [row] = exp["rows"]
    # Exposure is the financier's outstanding due (90,000.00 - 40,000.00), not the open face amount;
    # the other 10,000.00 open is the seller's reserve.
    assert (row["buyer"], row["name"], row["outstanding"], row["advanced"], row["open"], row["reserve_held"]) == (
        acct("buyer").address,
        BUYER_NAME,
        "50000.00",
        "88624.38",
        "60000.00",
        "10000.00",
    )
    # 50,000.00 / 8,000,000.00 = 0.625% -> 0.62 (half-even).
    assert (row["limit"], row["used"], row["used_pct"], row["headroom"]) == (
        "8000000.00",
        "50000.00",
        "0.62",
        "7950000.00",
    )
    [pf] = mine["rows"]
    assert (
        pf["advanced"],
        pf["due"],
        pf["received"],
        pf["outstanding"],
        pf["collected"],
        pf["open"],
        pf["closed"],
    ) == ("88624.38", "90000.00", "40000.00", "50000.00", "40000.00", 1, 0)
    assert (pf["reserve_at_financing"], pf["reserve_released"], pf["reserve_held"]) == ("10000.00", "0.00", "10000.00")
    # Expected income = gross advance - cash = discount + fees = 1,375.62 over 60 days on 88,624.38:
    # 137,562 x 365 / (8,862,438 x 60) = 9.4424...%
    assert pf["expected_income"] == "1375.62" and pf["expected_yield_pct"] == "9.44"
    assert (aging["rows"][0]["not_due"], aging["rows"][0]["reserve"], aging["rows"][0]["to_holders"]) == (
        "60000.00",
        "10000.00",
        "50000.00",
    )
    assert aging["totals"][0]["total"] == "60000.00"

    # The last 60,000.00: 50,000.00 completes the financier's due, 10,000.00 is the seller's reserve.
    supplier_before, financier_before = book.units("supplier"), book.units("financier")
    paid = book.ledger.repay(acct("buyer"), invoice_id, "60000.00")
    assert (paid["to_payee"], paid["reserve_released"]) == ("50000.00", "10000.00")
    assert (book.units("financier") - financier_before, book.units("supplier") - supplier_before) == (
        5_000_000,
        1_000_000,
    )
    state = book.onchain(invoice_id)
    assert (state["financier_paid"], state["paid"], state["status"]) == (9_000_000, 10_000_000, 5)
    desk.sync()
    with desk.engine.connect() as conn:
        [pf] = portfolio_report(conn, desk.scope, financier)["rows"]
        assert exposure_report(conn, desk.scope, "buyer")["rows"] == []
    # Paid in full: the financier received its due, the gross advance (90,000.00) of the 100,000.00 the buyer
    # paid; the 10,000.00 reserve went to the seller; income 90,000.00 - 88,624.38 = 1,375.62.
    assert (
        pf["collected"],
        pf["received"],
        pf["outstanding"],
        pf["closed"],
        pf["realised_income"],
        pf["reserve_released"],
        pf["reserve_held"],
    ) == ("100000.00", "90000.00", "0.00", 1, "1375.62", "10000.00", "0.00")
    # Repaid within minutes: a yield a year over that says nothing; the return over the period is shown
    # instead, 137,562 / 8,862,438 = 1.5522% (issue 12).
    assert (pf["realised_yield_pct"], pf["realised_return_pct"]) == (None, "1.55")


def test_finance_decisions_declined_without_consent_and_refused(desk: Any, book: Book, acct: Any) -> None:
    from ledger.finance.service import DecisionRefused

    invoice_id = book.issue(offer=False)
    d = desk.quote(invoice_id, acct("financier").address, POLICY)
    assert d["status"] == "declined"
    failing = [r for r in d["rules"] if r["outcome"] == "fail"]
    assert [r["name"] for r in failing] == ["holder_consent"]
    assert failing[0]["reason"] == (
        f"the holder {SUPPLIER_NAME} has not offered it to this financier (it needs `scf invoice offer` first)"
    )
    with pytest.raises(DecisionRefused) as info:
        desk.execute(d["decision_id"], acct("financier"))
    assert str(info.value) == (
        f"decision {d['decision_id']} was declined, so it cannot be executed (the holder "
        f"{SUPPLIER_NAME} has not offered it to this financier (it needs "
        "`scf invoice offer` first))"
    )
    # Listed only for another financier: still no consent for this one.
    other = book.issue(offer=True, to="financier2")
    d2 = desk.quote(other, acct("financier").address, POLICY)
    assert d2["status"] == "declined"
    assert "listed only for" in next(r for r in d2["rules"] if r["name"] == "holder_consent")["reason"]
    assert book.onchain(invoice_id)["status"] == 2 and book.onchain(other)["status"] == 2


def test_finance_decisions_expired_by_time_travel(desk: Any, book: Book, acct: Any) -> None:
    from ledger.finance.service import DecisionRefused

    invoice_id = book.issue()
    d = desk.quote(invoice_id, acct("financier").address, POLICY)
    assert d["status"] == "approved"
    book.travel(15 * 60 + 1)
    with pytest.raises(DecisionRefused) as info:
        desk.execute(d["decision_id"], acct("financier"))
    assert str(info.value) == (
        f"decision {d['decision_id']} expired at {text_time(d['expires_at'])} (chain time); quote invoice "
        f"{invoice_id} again with `scf finance quote {invoice_id}`"
    )
    with desk.engine.connect() as conn:
        from ledger.finance.store import get_decision

        assert get_decision(conn, d["decision_id"])["status"] == "expired"
    assert book.onchain(invoice_id)["status"] == 2  # nothing financed


def test_finance_decisions_changed_invoice_is_refused_or_reverts(desk: Any, book: Book, acct: Any) -> None:
    from ledger.errors import TransactionReverted
    from ledger.finance.service import DecisionRefused
    from ledger.finance.store import get_decision

    financier = acct("financier").address
    # Partly repaid between quote and execute.
    repaid = book.issue()
    d = desk.quote(repaid, financier, POLICY)
    assert d["status"] == "approved"
    book.ledger.repay(acct("buyer"), repaid, "1000.00")
    with pytest.raises(DecisionRefused) as info:
        desk.execute(d["decision_id"], acct("financier"))
    assert str(info.value) == (
        f"invoice {repaid} changed since decision {d['decision_id']} was taken (status "
        "Confirmed -> PartiallyPaid; paid HKD 0.00 -> HKD 1,000.00); quote it again with "
        f"`scf finance quote {repaid}`"
    )
    # Without the off-chain re-check, the chain itself refuses the stale terms: the paid amount is pinned
    # (a partly paid invoice can be financed, but only on terms priced for what is open now).
    with pytest.raises(TransactionReverted) as reverted:
        desk.execute(d["decision_id"], acct("financier"), recheck=False)
    assert str(reverted.value).startswith(f"decision {d['decision_id']} was not executed: ")
    assert reverted.value.error_name == "FinancingTermsChanged"
    assert book.onchain(repaid)["seller"] is None

    # Financed by someone else between quote and execute.
    taken = book.issue()
    d2 = desk.quote(taken, financier, POLICY)
    book.ledger.finance(acct("financier2"), taken, advance_rate="0.5")
    with pytest.raises(DecisionRefused) as info:
        desk.execute(d2["decision_id"], acct("financier"))
    assert "financed by Victoria Peak Capital Ltd" in str(info.value)
    with pytest.raises(TransactionReverted) as reverted:
        desk.execute(d2["decision_id"], acct("financier"), recheck=False)
    assert reverted.value.error_name == "InvoiceAlreadyFinanced"
    assert book.onchain(taken)["holder"] == acct("financier2").address
    with desk.engine.connect() as conn:
        assert get_decision(conn, d["decision_id"])["status"] == "approved"
        assert get_decision(conn, d2["decision_id"])["status"] == "approved"


def test_finance_decisions_refuses_executed_and_wrong_signer(desk: Any, book: Book, acct: Any) -> None:
    from ledger.finance.service import DecisionRefused

    invoice_id = book.issue()
    d = desk.quote(invoice_id, acct("financier").address, POLICY)
    with pytest.raises(DecisionRefused) as info:
        desk.execute(d["decision_id"], acct("financier2"))
    assert str(info.value) == (
        f"decision {d['decision_id']} is for financier {acct('financier').address}, not "
        f"{acct('financier2').address}; sign with --as the financier's account"
    )
    done = desk.execute(d["decision_id"], acct("financier"))
    with pytest.raises(DecisionRefused) as info:
        desk.execute(d["decision_id"], acct("financier"))
    assert str(info.value) == f"decision {d['decision_id']} was already executed in transaction {done['tx_hash']}"


def test_finance_decisions_pending_approvals_use_the_limits(desk: Any, book: Book, acct: Any) -> None:
    """Buyer line 150,000.00: after one approved decision on a 100,000.00
    invoice (due 90,000.00 to the financier), a second is declined, in
    whatever order they are executed; an expired approval no longer counts,
    and an executed one counts through the book (its outstanding due)."""
    from ledger.finance.service import DecisionRefused

    policy = tight_policy("150000.00")
    financier = acct("financier").address
    first, second = book.issue(), book.issue()
    a = desk.quote(first, financier, policy)
    assert a["status"] == "approved" and a["exposure"]["buyer"] == "0.00"
    b = desk.quote(second, financier, policy)
    assert b["status"] == "declined"
    assert b["exposure"]["buyer"] == "90000.00"
    assert [r["reason"] for r in b["rules"] if r["outcome"] == "fail"] == [
        "the buyer's credit line HKD 150,000.00 would be exceeded: HKD 90,000.00 used + HKD 90,000.00 = HKD 180,000.00"
    ]
    # Re-quoting the same invoice does not count its own pending approval.
    a2 = desk.quote(first, financier, policy)
    assert a2["status"] == "approved" and a2["exposure"]["buyer"] == "0.00"
    # The first approvals expire; now the second invoice fits.
    book.travel(15 * 60 + 1)
    b2 = desk.quote(second, financier, policy)
    assert b2["status"] == "approved", b2["reason"]
    # Executing it puts it in the book: the first one no longer fits, whether quoted or executed.
    desk.execute(b2["decision_id"], acct("financier"))
    a3 = desk.quote(first, financier, policy)
    assert a3["status"] == "declined" and a3["exposure"]["buyer"] == "90000.00"
    with pytest.raises(DecisionRefused):
        desk.execute(a2["decision_id"], acct("financier"))
    assert book.onchain(first)["seller"] is None


def test_finance_decisions_execute_rechecks_limits(desk: Any, book: Book, acct: Any) -> None:
    """An approval made under the limits is refused at execution if the book
    grew meanwhile outside the decisions (a manual financing)."""
    from ledger.finance.service import DecisionRefused

    policy = tight_policy("150000.00")
    first, second = book.issue(), book.issue()
    a = desk.quote(first, acct("financier").address, policy)
    assert a["status"] == "approved"
    # Not through a decision: discounting, the financier is due the whole 100,000.00.
    book.ledger.finance(acct("financier"), second, advance_rate="0.9")
    with pytest.raises(DecisionRefused) as info:
        desk.execute(a["decision_id"], acct("financier"))
    assert str(info.value) == (
        f"decision {a['decision_id']} no longer fits the limits (the buyer's credit line HKD 150,000.00 would be "
        f"exceeded: HKD 100,000.00 used + HKD 90,000.00 = HKD 190,000.00); quote invoice {first} again"
    )


def test_finance_decisions_grade_from_indexed_payment_history(desk: Any, book: Book, acct: Any) -> None:
    """A buyer that paid an invoice 10 days late (past the 3 grace days) has
    1 of 1 on time = 0%: it meets no grade of the example policy."""
    late = book.issue(days=8, offer=False)
    book.travel(18 * 86400)
    book.ledger.repay(acct("buyer"), late, "100000.00")
    invoice_id = book.issue()
    d = desk.quote(invoice_id, acct("financier").address, POLICY)
    grade = next(r for r in d["rules"] if r["name"] == "buyer_grade")
    assert grade["inputs"]["invoices"] == 1 and grade["inputs"]["worst_days_past_due"] == 10
    assert grade["inputs"]["on_time"] == 0 and grade["outcome"] == "fail"
    assert grade["reason"].startswith(
        "the buyer's payment history meets no grade (A: on-time ratio 0.00% is below 95.00%"
    )
    # An on-time payer (paid before the due date) gets A.
    early = book.issue(buyer="buyer2", days=30, offer=False)
    book.ledger.repay(acct("buyer2"), early, "100000.00")
    other = book.issue(buyer="buyer2")
    d2 = desk.quote(other, acct("financier").address, POLICY)
    assert d2["grade"] == "A" and d2["price"]["advance"] == "95000.00"


def test_finance_decisions_auto_finances_soonest_due_within_limits(desk: Any, book: Book, acct: Any) -> None:
    policy = tight_policy("250000.00")
    financier = acct("financier").address
    late = book.issue(days=90)
    soon = book.issue(days=30)
    mid = book.issue(days=60)
    unoffered = book.issue(days=20, offer=False)
    dry = desk.auto(financier, None, policy, dry_run=True)
    assert [(r["invoice_id"], r["status"]) for r in dry["results"]] == [
        (soon, "would approve"),
        (mid, "would approve"),
        (late, "would decline"),
    ]
    assert dry["not_offered"] == 1 and dry["financed"] == 2
    with desk.engine.connect() as conn:
        from ledger.finance.store import list_decisions

        assert list_decisions(conn, desk.scope) == []  # a dry run stores nothing
    assert book.onchain(soon)["status"] == 2

    one = desk.auto(financier, acct("financier"), policy, max_count=1)
    assert [(r["invoice_id"], r["status"]) for r in one["results"]] == [(soon, "executed")]
    rest = desk.auto(financier, acct("financier"), policy)
    assert [(r["invoice_id"], r["status"]) for r in rest["results"]] == [(mid, "executed"), (late, "declined")]
    assert "the buyer's credit line HKD 250,000.00 would be exceeded" in rest["results"][1]["reason"]
    assert [book.onchain(i)["status"] for i in (soon, mid, late, unoffered)] == [3, 3, 2, 2]


def test_finance_decisions_time_is_never_before_the_wall_clock(desk: Any, book: Book, acct: Any) -> None:
    """On an idle chain (last block hours old) a decision is taken at the wall
    clock: not born expired, tenor counted from today; still "computed at" the
    last indexed block."""
    from ledger.finance import store
    from ledger.finance.reports import aging_report

    invoice_id = book.issue(days=60)
    desk.sync()
    before = dt.datetime.now(dt.UTC)
    d = desk.quote(invoice_id, acct("financier").address, POLICY, sync=False)
    assert dt.datetime.fromisoformat(d["as_of"]) >= before.replace(microsecond=0)  # JSON times: whole seconds
    assert dt.datetime.fromisoformat(d["expires_at"]) > dt.datetime.now(dt.UTC)
    # The wall clock three days after the last block: an idle chain.
    with desk.engine.connect() as conn:
        point = store.indexed_point(conn, desk.scope)
        later = point.block_time + dt.timedelta(days=3)
        assert store.indexed_point(conn, desk.scope, later).time == later
        assert store.indexed_point(conn, desk.scope, later).block_number == point.block_number
    with desk.engine.begin() as conn:
        decision_id = store.quote_in_db(conn, desk.scope, invoice_id, acct("financier").address, POLICY, now=later)
        row = store.get_decision(conn, decision_id)
        assert row["status"] == "approved", row["reason"]
        assert (row["as_of"], row["expires_at"]) == (later, later + dt.timedelta(minutes=15))
        assert row["block_number"] == point.block_number
        # Days between business dates (the time zone's), as decisions count them.
        assert row["days"] == (business_date(row["due_at"]) - business_date(later)).days
        assert aging_report(conn, desk.scope)["as_of"] >= business_date(before).isoformat()


def test_finance_decisions_auto_marks_a_failed_execution(desk: Any, book: Book, acct: Any) -> None:
    """An approval that auto could not execute (here: signed by another
    account) is marked failed and stops using the limits."""
    from ledger.finance import store
    from ledger.finance.service import DecisionRefused

    financier = acct("financier").address
    invoice_id = book.issue()
    result = desk.auto(financier, acct("financier2"), POLICY)
    [entry] = result["results"]
    assert entry["status"] == "failed" and result["financed"] == 0
    assert entry["reason"].endswith(
        f"; decision {entry['decision_id']} marked failed: it no longer uses limit headroom"
    )
    with desk.engine.connect() as conn:
        assert store.get_decision(conn, entry["decision_id"])["status"] == "failed"
        point = store.indexed_point(conn, desk.scope)
        assert store.pending_positions(conn, desk.scope, financier, point.time) == []
    with pytest.raises(DecisionRefused) as info:
        desk.execute(entry["decision_id"], acct("financier"))
    assert str(info.value) == (
        f"decision {entry['decision_id']} failed to execute before and no longer counts; "
        f"quote invoice {invoice_id} again with `scf finance quote {invoice_id}`"
    )


def test_finance_decisions_only_what_sent_nothing_is_marked_failed() -> None:
    """What auto marks failed (freeing limit headroom): only an execution that sent
    nothing that may still be mined."""
    from ledger.errors import (
        AccountBusy,
        ChainError,
        DecisionRefused,
        NodeLost,
        NonceConflict,
        TransactionReverted,
        TransactionTimeout,
        sent_nothing,
    )

    tx = "0x" + "ab" * 32
    assert sent_nothing(NodeLost("http://node", "connection refused"))
    assert sent_nothing(NodeLost("http://node", "connection refused", tx, sent=False))
    assert not sent_nothing(NodeLost("http://node", "timed out", tx, sent=None))
    assert not sent_nothing(NodeLost("http://node", "connection lost", tx, sent=True))
    assert sent_nothing(TransactionTimeout(tx, 30, dropped=True))
    assert not sent_nothing(TransactionTimeout(tx, 30))
    assert not sent_nothing(TransactionTimeout(tx, 30, why="its nonce was used since", gone=True))
    assert not sent_nothing(TransactionTimeout(tx, 30, why="held", held_back=True))
    assert not sent_nothing(ChainError("the node kept answering eth_getTransactionReceipt with an error"))
    for nothing in (TransactionReverted("refused"), DecisionRefused("expired"), NonceConflict(tx, 1, "x", "used")):
        assert sent_nothing(nothing)
    assert sent_nothing(AccountBusy("another scf command is sending"))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_finance_decisions_auto_never_frees_headroom_a_financing_sent_may_still_use(
    desk: Any, book: Book, acct: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node goes away while auto executes its first approval (a buyer line that
    fits one financing), after the financing was sent (here it was even mined): it
    may still land, so it stays approved, still counted against the line, and the
    run stops with the one line. It used to be marked failed, and the run approved
    the next invoice past the line."""
    from ledger.errors import NodeLost
    from ledger.finance import store

    policy = tight_policy("150000.00")
    financier = acct("financier").address
    first, second = book.issue(days=30), book.issue(days=60)
    finance = book.ledger.finance

    def node_lost(*args: Any, **kwargs: Any) -> Any:
        result = finance(*args, **kwargs)  # the node took it and mined it; its answer was lost
        raise NodeLost("http://node", "timed out", result["tx_hash"], sent=None)

    monkeypatch.setattr(book.ledger, "finance", node_lost)
    with pytest.raises(NodeLost) as stopped:
        desk.auto(financier, acct("financier"), policy)
    with desk.engine.connect() as conn:
        [decision] = store.list_decisions(conn, desk.scope)
    assert (decision["invoice_id"], decision["status"]) == (first, "approved")
    tx = stopped.value.tx_hash
    assert str(stopped.value) == (
        f"finance auto stopped at invoice {first}: decision {decision['id']} stays approved (still counted "
        "against the limits), as its financing may still be mined: the node at http://node went away while "
        f"transaction {tx} was being sent (timed out): it may or may not have reached it; once the node is "
        f"back, see `scf tx show {tx}` before sending it again"
    )
    assert [book.onchain(i)["status"] for i in (first, second)] == [3, 2]  # the second was never financed
    again = desk.auto(financier, acct("financier"), policy)  # the line is used: nothing more is financed
    assert [(r["invoice_id"], r["status"]) for r in again["results"]] == [(second, "declined")]


def test_finance_decisions_price_matches_pricing_module(desk: Any, book: Book, acct: Any) -> None:
    """ACT/360 policy: the stored price equals the pure pricing function's."""
    policy = parse_policy(EXAMPLE.read_text().replace('day_count = "ACT/365"', 'day_count = "ACT/360"'), "p.toml")
    invoice_id = book.issue("123456.78", days=45)
    d = desk.quote(invoice_id, acct("financier").address, policy)
    expected = price(
        12_345_678,
        45,
        advance_rate=Decimal("0.90"),
        base_rate=Decimal("0.045"),
        spread=Decimal("0.025"),
        day_count="ACT/360",
        fee_fixed_units=25_000,
        fee_rate=Decimal("0.001"),
    )
    # advance* 11,111,110.2 -> 11,111,110; discount* 11,111,110.2 x 0.07 x 45 / 360 = 97,222.21425;
    # fees* 25,000 + 11,111.1102; net* 10,977,776.87555 -> 10,977,776; fees 36,112; discount the rest, 97,222.
    assert (expected.advance, expected.discount, expected.fees) == (11_111_110, 97_222, 25_000 + 11_112)
    assert d["price"]["net_advance"] == hkd(expected.net_advance) == "109777.76"
    assert d["price"]["day_count"] == "ACT/360"


def test_finance_decisions_consent_only_by_a_live_listing(desk: Any, book: Book, acct: Any) -> None:
    """Contracts v2: an ERC-721 approval of the financier is no consent (the
    contract would refuse it); a listing is, when the net advance meets its ask."""
    ledger = book.ledger
    invoice_id = book.issue(offer=False)
    ledger.sender.transact(ledger.invoices.functions.approve(acct("financier").address, invoice_id), acct("supplier"))
    d = desk.quote(invoice_id, acct("financier").address, POLICY)
    assert d["status"] == "declined"
    assert [r["name"] for r in d["rules"] if r["outcome"] == "fail"] == ["holder_consent"]
    assert desk.candidates(acct("financier").address) == ([], 1)
    # Listed asking more than the price pays (88,624.38): declined on the ask.
    ledger.offer(acct("supplier"), invoice_id, None, "88624.39", 7)
    d = desk.quote(invoice_id, acct("financier").address, POLICY)
    assert [r["reason"] for r in d["rules"] if r["outcome"] == "fail"] == [
        "the holder asks at least HKD 88,624.39 but the price pays HKD 88,624.38"
    ]
    # Asking exactly what it pays: approved and executed.
    ledger.offer(acct("supplier"), invoice_id, "financier", "88624.38", 7)
    d = desk.quote(invoice_id, acct("financier").address, POLICY)
    assert d["status"] == "approved", d["reason"]
    assert desk.quote(invoice_id, acct("financier2").address, POLICY)["status"] == "declined"
    desk.execute(d["decision_id"], acct("financier"))
    assert book.onchain(invoice_id)["holder"] == acct("financier").address


def test_finance_decisions_partly_paid_invoice_and_self_financing(desk: Any, book: Book, acct: Any) -> None:
    """A partly paid invoice never financed is financed against its open
    amount (paid pinned); the holder quoting its own receivable is declined."""
    invoice_id = book.issue("123456.78", offer=False)
    book.ledger.repay(acct("buyer"), invoice_id, "3456.78")
    book.ledger.offer(acct("supplier"), invoice_id, None, "100000.00", 7)
    own = desk.quote(invoice_id, acct("supplier").address, POLICY)
    assert own["status"] == "declined"
    assert "not_self_financing" in [r["name"] for r in own["rules"] if r["outcome"] == "fail"]
    d = desk.quote(invoice_id, acct("financier").address, POLICY)
    assert d["status"] == "approved", d["reason"]
    assert (d["invoice_status"], d["paid"], d["open_amount"]) == ("PartiallyPaid", "3456.78", "120000.00")
    assert d["price"]["advance"] == "108000.00" and d["price"]["reserve"] == "12000.00"
    before = book.units("supplier")
    desk.execute(d["decision_id"], acct("financier"))
    state = book.onchain(invoice_id)
    assert (state["paid"], state["financier_due"], state["seller"]) == (345_678, 10_800_000, acct("supplier").address)
    net = int(Decimal(d["price"]["net_advance"]) * 100)
    assert book.units("supplier") - before == net


def test_finance_decisions_aging_and_overdue_by_as_of_date(desk: Any, book: Book, acct: Any) -> None:
    from ledger.finance.reports import aging_report, portfolio_report

    financier = acct("financier").address
    a = book.issue("100000.00", days=30)
    b = book.issue("50000.00", days=60, buyer="buyer2")
    c = book.issue("20000.00", days=90, offer=False)
    book.ledger.repay(acct("buyer"), c, "5000.00")  # partly paid, still open
    for invoice_id in (a, b):
        d = desk.quote(invoice_id, financier, POLICY)
        desk.execute(d["decision_id"], acct("financier"))
    due_a = book.today() + dt.timedelta(days=30)
    with desk.engine.connect() as conn:
        # 45 days after A's due date: A is 31-60 past due, B 15 days past due, C not due.
        aging = aging_report(conn, desk.scope, due_a + dt.timedelta(days=45))
        late = portfolio_report(conn, desk.scope, financier, due_a + dt.timedelta(days=91))
        held_only = aging_report(conn, desk.scope, due_a, holder=financier)
    rows = {r["name"]: r for r in aging["rows"]}
    assert (rows[BUYER_NAME]["31-60"], rows[BUYER_NAME]["not_due"], rows[BUYER_NAME]["invoices"]) == (
        "100000.00",
        "15000.00",
        2,
    )
    assert rows["Kwai Chung Logistics Ltd"]["1-30"] == "50000.00"
    [total] = aging["totals"]
    assert (total["not_due"], total["1-30"], total["31-60"], total["90+"], total["total"]) == (
        "15000.00",
        "50000.00",
        "100000.00",
        "0.00",
        "165000.00",
    )
    # Of the open amounts, the sellers' reserves of A and B (10% each) are owed to the seller, not the holder.
    assert (total["reserve"], total["to_holders"]) == ("15000.00", "150000.00")
    # C is the supplier's, not the financier's.
    assert (held_only["totals"][0]["total"], held_only["totals"][0]["to_holders"]) == ("150000.00", "135000.00")
    [pf] = late["rows"]
    # 91 days after A's due date: A is a default (> 90 days past due), B is 61 days overdue; what is overdue
    # to the financier is its outstanding due (90,000.00 + 45,000.00), not the face amounts.
    assert (pf["overdue_invoices"], pf["overdue"], pf["defaults"], pf["defaulted"]) == (2, "135000.00", 1, "90000.00")
