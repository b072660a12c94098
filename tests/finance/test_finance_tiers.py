"""Financing decisions and reports on trees of receivables (multi-tier, issue
13), on the real chain, indexer and both databases: a part is quoted with its
root's buyer and its holder as the seller (the seller's KYC and supplier
limit, the buyer's credit line through the tree); a Split node is declined
with the parts to quote instead and counts in no exposure and no payment
history; exposure, aging, the portfolio by tier and the tiers report count
the leaves."""

from __future__ import annotations

import datetime as dt
from typing import Any

from support.finance import EXAMPLE, POLICY, Book, tight_policy

from ledger.finance.policy import parse_policy

SSP = "Sham Shui Po Textiles Ltd"


def split(book: Book, invoice_id: int, *parts: tuple[str, str]) -> list[int]:
    """Split ``invoice_id`` as its holder, the supplier: (account name, amount) per part; the part ids."""
    result = book.ledger.split(
        book.acct("supplier"), invoice_id, [(book.addr(who), amount, None) for who, amount in parts]
    )
    return [int(p["invoice_id"]) for p in result["parts"]]


def tree(book: Book) -> tuple[int, int, int]:
    """A confirmed HKD 100,000.00 invoice of the supplier, split into HKD 30,000.00 paid to
    supplier2 (listed by it for any financier) and HKD 70,000.00 kept; (root, part 1, part 2)."""
    root = book.issue("100000.00", days=60, offer=False)
    to_ssp, kept = split(book, root, ("supplier2", "30000.00"), ("supplier", "70000.00"))
    book.offer(to_ssp, None, "10000.00", 7, holder="supplier2")
    return root, to_ssp, kept


def rule(decision: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in decision["rules"] if r["name"] == name)


def test_finance_tiers_part_is_quoted_with_root_buyer_and_holder_as_seller(desk: Any, book: Book, acct: Any) -> None:
    from ledger.finance.reports import exposure_report, portfolio_report
    from ledger.finance.tiers import tiers_report

    financier = acct("financier").address
    root, to_ssp, kept = tree(book)
    decision = desk.quote(to_ssp, financier, POLICY)
    assert decision["status"] == "approved", decision["reason"]
    # The buyer is the root's; the seller whose KYC and limit apply is the holder, supplier2.
    assert decision["buyer"]["address"] == acct("buyer").address
    assert decision["holder"] == {"address": acct("supplier2").address, "name": SSP}
    assert rule(decision, "supplier_kyc")["inputs"]["address"] == acct("supplier2").address
    assert rule(decision, "supplier_kyc")["reason"].startswith(f"the supplier {SSP}'s KYC is valid")
    # supplier_default 2,000,000.00 (Kowloon's own line is 3,000,000.00): the seller's line is used.
    assert rule(decision, "supplier_limit")["inputs"]["limit"] == "2000000.00"
    assert decision["price"]["advance"] == "27000.00"  # grade B: 90% of the part's 30,000.00
    done = desk.execute(decision["decision_id"], acct("financier"))
    assert done["status"] == "executed"
    assert book.onchain(to_ssp)["seller"] == acct("supplier2").address

    desk.sync()
    with desk.engine.connect() as conn:
        by_buyer = exposure_report(conn, desk.scope, "buyer")
        by_supplier = exposure_report(conn, desk.scope, "supplier")
        mine = portfolio_report(conn, desk.scope, financier)
        tiers = tiers_report(conn, desk.scope)
    # Exposure: the financed leaf, under the root's buyer and its seller supplier2; the Split root counts nothing.
    [b] = by_buyer["rows"]
    assert (b["buyer"], b["invoices"], b["outstanding"], b["open"]) == (
        acct("buyer").address,
        1,
        "27000.00",
        "30000.00",
    )
    [s] = by_supplier["rows"]
    assert (s["supplier"], s["name"], s["outstanding"]) == (acct("supplier2").address, SSP, "27000.00")
    # The portfolio: the part at tier 2 with its root, and a tier subtotal equal to the currency's total.
    [line] = mine["invoices"]
    assert (line["invoice_id"], line["tier"], line["root_id"], line["due"]) == (to_ssp, 2, root, "27000.00")
    [t2] = mine["by_tier"]
    [cur] = mine["rows"]
    assert (t2["tier"], t2["financed"], t2["face"], t2["advanced"], t2["outstanding"]) == (
        2,
        1,
        "30000.00",
        cur["advanced"],
        cur["outstanding"],
    )
    # How far the buyer's credit reached: tier 1 the split invoice (open 0), tier 2 both parts,
    # two suppliers holding them, one of them financed.
    rows = {r["tier"]: r for r in tiers["rows"] if r["buyer"]["address"] == acct("buyer").address}
    assert rows[1]["receivables"] == 1 and rows[1]["face"] == "100000.00" and rows[1]["open"] == "0.00"
    assert (rows[1]["financed_receivables"], rows[1]["holders"]) == (0, 1)
    assert (
        rows[2]["receivables"],
        rows[2]["face"],
        rows[2]["open"],
        rows[2]["financed_receivables"],
        rows[2]["financed"],
        rows[2]["advanced"],
        rows[2]["holders"],
        rows[2]["suppliers_financed"],
    ) == (2, "100000.00", "100000.00", 1, "30000.00", done["price"]["net_advance"], 2, 1)
    assert kept == to_ssp + 1  # the parts of one split have consecutive ids


def test_finance_tiers_split_node_is_declined_naming_its_parts(desk: Any, book: Book, acct: Any) -> None:
    root, to_ssp, kept = tree(book)
    decision = desk.quote(root, acct("financier").address, POLICY)
    assert decision["status"] == "declined"
    assert decision["reason"] == f"declined: invoice {root} was split into parts {to_ssp}-{kept}; quote a part"
    assert [r["name"] for r in decision["rules"]] == ["not_split"]
    assert decision["price"] is None and decision["open_amount"] == "0.00"


def test_finance_tiers_seller_kyc_and_limit_are_the_part_holders(desk: Any, book: Book, acct: Any) -> None:
    """The part's seller is supplier2: its own supplier line (not the root supplier's) and its KYC."""
    text = EXAMPLE.read_text().replace(
        '"Kowloon Precision Parts Ltd" = "3000000.00"',
        f'"Kowloon Precision Parts Ltd" = "3000000.00"\n"{SSP}" = "20000.00"',
    )
    policy = parse_policy(text, "ssp.toml")
    _root, to_ssp, _kept = tree(book)
    decision = desk.quote(to_ssp, acct("financier").address, policy)
    assert decision["status"] == "declined"
    assert rule(decision, "supplier_limit")["reason"] == (
        "the supplier's limit HKD 20,000.00 would be exceeded: HKD 0.00 used + HKD 27,000.00 = HKD 27,000.00"
    )
    book.ledger.set_suspended(acct("operator"), acct("supplier2").address, True)
    decision = desk.quote(to_ssp, acct("financier").address, POLICY)
    assert decision["status"] == "declined"
    assert rule(decision, "supplier_kyc")["reason"] == f"the supplier {SSP} is suspended"


def test_finance_tiers_buyer_line_applies_through_the_tree(desk: Any, book: Book, acct: Any) -> None:
    """A financed part uses its root buyer's credit line; an approval on an invoice that is then
    split stops counting (a Split node is never exposure), and the parts are quoted instead."""
    financier = acct("financier").address
    policy = tight_policy("50000.00")
    root = book.issue("100000.00", days=60, offer=False)
    book.offer(root, None, "10000.00", 7)
    first = desk.quote(root, financier, policy)
    assert rule(first, "buyer_limit")["outcome"] == "fail"  # 90,000.00 due > the 50,000.00 line
    small = book.issue("20000.00", days=60)
    approved = desk.quote(small, financier, policy)
    assert approved["status"] == "approved", approved["reason"]  # pending: 18,000.00 of the line
    to_ssp, kept = split(book, root, ("supplier2", "30000.00"), ("supplier", "70000.00"))
    book.offer(to_ssp, None, "10000.00", 7, holder="supplier2")
    book.offer(kept, None, "10000.00", 7)
    part = desk.quote(to_ssp, financier, policy)
    assert part["status"] == "approved", part["reason"]
    assert rule(part, "buyer_limit")["inputs"]["used"] == "18000.00"  # the other invoice's approval
    desk.execute(part["decision_id"], acct("financier"))
    other = desk.quote(kept, financier, policy)
    # 18,000.00 pending + 27,000.00 of the financed part + 63,000.00 of this one > 50,000.00.
    assert rule(other, "buyer_limit")["reason"] == (
        "the buyer's credit line HKD 50,000.00 would be exceeded: HKD 45,000.00 used + HKD 63,000.00 = HKD 108,000.00"
    )
    assert rule(other, "buyer_limit")["outcome"] == "fail"


def test_finance_tiers_history_has_one_record_per_root_and_aging_counts_leaves(
    desk: Any, book: Book, acct: Any
) -> None:
    from ledger.finance.grading import buyer_history
    from ledger.finance.reports import aging_report

    root, to_ssp, kept = tree(book)
    desk.sync()
    with desk.engine.connect() as conn:
        scope = desk.scope
        [record] = [
            r
            for r in buyer_history(conn, scope.chain_id, scope.invoice_contract, acct("buyer").address)
            if r.invoice_id == root
        ]
        aging = aging_report(conn, scope)
    assert (record.amount, record.outstanding, record.settled_on, record.status) == (
        10_000_000,
        10_000_000,
        None,
        "Split",
    )
    [row] = [r for r in aging["rows"] if r["buyer"] == acct("buyer").address]
    assert (row["invoices"], row["not_due"], row["total"]) == (2, "100000.00", "100000.00")

    # The buyer pays the root across its leaves: the tree is one settled invoice in its history.
    paid = book.ledger.repay(acct("buyer"), root, "100000.00")
    assert [leaf["invoice_id"] for leaf in paid["leaves"]] == [to_ssp, kept]
    assert [leaf["amount"] for leaf in paid["leaves"]] == ["30000.00", "70000.00"]
    desk.sync()
    with desk.engine.connect() as conn:
        records = [
            r
            for r in buyer_history(conn, scope.chain_id, scope.invoice_contract, acct("buyer").address)
            if r.invoice_id in (root, to_ssp, kept)
        ]
        aging = aging_report(conn, scope)
    [record] = records
    assert (record.invoice_id, record.outstanding, record.settled_on) == (root, 0, book.today())
    assert [r for r in aging["rows"] if r["buyer"] == acct("buyer").address] == []


def test_finance_tiers_approval_on_an_invoice_then_split_stops_counting(desk: Any, book: Book, acct: Any) -> None:
    """An approval on an invoice that its holder then splits can never be executed: it leaves the
    financier's pending exposure at once, and the parts are quoted on the buyer's whole line."""
    from ledger.finance.store import indexed_point, positions

    financier = acct("financier").address
    root = book.issue("100000.00", days=60)
    approved = desk.quote(root, financier, POLICY)
    assert approved["status"] == "approved", approved["reason"]
    with desk.engine.connect() as conn:
        point = indexed_point(conn, desk.scope)
        assert [p.invoice_id for p in positions(conn, desk.scope, financier, point.time)] == [root]
    to_ssp, kept = split(book, root, ("supplier2", "30000.00"), ("supplier", "70000.00"))
    book.offer(to_ssp, None, "10000.00", 7, holder="supplier2")
    part = desk.quote(to_ssp, financier, POLICY)
    assert part["status"] == "approved", part["reason"]
    assert rule(part, "buyer_limit")["inputs"]["used"] == "0.00"
    assert part["exposure"] == {"book": "0.00", "buyer": "0.00", "supplier": "0.00"}
    with desk.engine.connect() as conn:
        point = indexed_point(conn, desk.scope)
        assert [p.invoice_id for p in positions(conn, desk.scope, financier, point.time)] == [to_ssp]
    assert kept == to_ssp + 1


def test_finance_tiers_a_part_split_again_reaches_tier_3(desk: Any, book: Book, acct: Any) -> None:
    from ledger.finance.tiers import tiers_report

    root, to_ssp, kept = tree(book)
    deeper = split(book, kept, ("supplier2", "45000.00"), ("supplier", "25000.00"))
    decision = desk.quote(kept, acct("financier").address, POLICY)
    assert decision["reason"] == f"declined: invoice {kept} was split into parts {deeper[0]}-{deeper[1]}; quote a part"
    with desk.engine.connect() as conn:
        rows = {r["tier"]: r for r in tiers_report(conn, desk.scope, acct("buyer").address)["rows"]}
    assert sorted(rows) == [1, 2, 3]
    assert (rows[2]["receivables"], rows[2]["face"], rows[2]["open"]) == (2, "100000.00", "30000.00")
    assert (rows[3]["receivables"], rows[3]["face"], rows[3]["open"], rows[3]["holders"]) == (
        2,
        "70000.00",
        "70000.00",
        2,
    )
    assert root < to_ssp


def test_finance_tiers_history_sees_each_leafs_dispute_and_extension(desk: Any, book: Book, acct: Any) -> None:
    """A tree is one record in the buyer's history, but its leaves speak for themselves: the
    buyer disputes the 30,000.00 part and gets the 70,000.00 part extended by 20 days. Past the
    root's due date the tree is not in arrears (the open, undisputed leaf is due 20 days later);
    past the new date it is, by the days since that date; once every open leaf is disputed the
    tree is contested and out of the arrears."""
    from ledger.finance.grading import buyer_history, days_past_due

    ledger, buyer, supplier = book.ledger, acct("buyer"), acct("supplier")
    root, to_ssp, kept = tree(book)

    def record() -> Any:
        desk.sync()
        with desk.engine.connect() as conn:
            scope = desk.scope
            history = buyer_history(conn, scope.chain_id, scope.invoice_contract, buyer.address)
        [found] = [r for r in history if r.invoice_id == root]
        return found

    first_due = record().due_date
    ledger.dispute(buyer, to_ssp, "short delivery")
    new_due = first_due + dt.timedelta(days=20)
    ledger.propose_extension(buyer, kept, new_due)
    ledger.accept_extension(supplier, kept)
    r = record()
    assert (r.status, r.due_date, r.disputes, r.extensions) == ("Split", new_due, 1, 1)
    assert days_past_due(r, first_due + dt.timedelta(days=10)) is None  # before the new due date
    assert days_past_due(r, new_due + dt.timedelta(days=3)) == 3
    ledger.dispute(buyer, kept, "wrong colour")
    r = record()
    assert (r.status, r.disputes) == ("Disputed", 2)
    assert days_past_due(r, new_due + dt.timedelta(days=3)) is None
