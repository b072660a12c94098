"""Multi-tier receivables (contract v3): ``split``, ``transferWithReference``,
``repayRoot``, ``getLineage`` and ``partsOf``, called on the contract directly
(the rules are the contract's), plus the code size limit and a property test
over random sequences of split / transfer / finance / repay / repayRoot."""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st
from support.contracts import (
    CANCELLED,
    CONFIRMED,
    DAY,
    EIP170_LIMIT,
    FINANCED,
    ISSUED,
    MAX_DEPTH,
    MAX_PARTS,
    MAX_TREE_PARTS,
    PAID,
    PARTIALLY_PAID,
    SPLIT,
    ZERO32,
    ZERO_ADDRESS,
    Net,
    reverts,
)
from web3 import Web3

from ledger.errors import TransactionReverted
from ledger.lifecycle import reference_hash

REF = Web3.keccak(text="PO-2026-0042")


def test_contracts_split_constants_match_the_design(net: Net) -> None:
    f = net.invoices.functions
    assert (f.MAX_PARTS().call(), f.MAX_DEPTH().call(), f.MAX_TREE_PARTS().call()) == (
        MAX_PARTS,
        MAX_DEPTH,
        MAX_TREE_PARTS,
    )


def test_contracts_code_size_below_eip170(net: Net) -> None:
    """The deployed runtime code (eth_getCode) of every contract fits EIP-170."""
    for name in ("InvoiceToken", "InvoiceNumbers", "Settlement", "Remedies", "Intake", "ParticipantRegistry"):
        address = net.ledger.deployment.contract(name).address
        size = len(net.ledger.w3.eth.get_code(Web3.to_checksum_address(address)))
        assert 0 < size < EIP170_LIMIT, f"{name} runtime code is {size:,} bytes; EIP-170 allows {EIP170_LIMIT:,}"


# -- split ------------------------------------------------------------------------------


def test_contracts_split_odd_minor_units(net: Net) -> None:
    root = net.confirmed()
    face = net.invoice(root)
    first = net.next_id()
    receipt = net.send(
        net.split_fn(root, [("supplier", 33_333), ("supplier2", 33_333), ("buyer2", 33_334)], [REF, ZERO32, REF]),
        "supplier",
    )
    parts = [first, first + 1, first + 2]
    assert net.next_id() == first + 3
    (split,) = net.events(receipt, "InvoiceSplit")
    assert dict(split) == {"parentId": root, "rootId": root, "holder": net.addr("supplier"), "parts": 3}
    created = net.events(receipt, "PartCreated")
    assert [dict(e) for e in created] == [
        {
            "partId": part,
            "parentId": root,
            "rootId": root,
            "holder": net.addr(who),
            "amount": units,
            "depth": 1,
            "ref": ref,
        }
        for part, who, units, ref in zip(
            parts, ("supplier", "supplier2", "buyer2"), (33_333, 33_333, 33_334), (REF, ZERO32, REF), strict=True
        )
    ]
    mints = net.events(receipt, "Transfer")
    assert [(m["from"], m["to"], m["tokenId"]) for m in mints] == [
        (ZERO_ADDRESS, net.addr(w), p) for w, p in zip(("supplier", "supplier2", "buyer2"), parts, strict=True)
    ]
    # The parent is closed as it was; the parts carry its buyer, supplier, currency and due date.
    parent = net.invoice(root)
    assert parent["status"] == SPLIT and (parent["amount"], parent["paid"]) == (face["amount"], 0)
    assert net.owner(root) == net.addr("supplier")
    for part, units in zip(parts, (33_333, 33_333, 33_334), strict=True):
        inv = net.invoice(part)
        assert inv["status"] == CONFIRMED and (inv["amount"], inv["paid"]) == (units, 0)
        assert (inv["supplier"], inv["buyer"], inv["currency"], inv["dueDate"]) == (
            face["supplier"],
            face["buyer"],
            face["currency"],
            face["dueDate"],
        )
        assert inv["seller"] == ZERO_ADDRESS
        assert net.lineage(part) == (root, root, 1)
    assert sum(net.invoice(p)["amount"] for p in parts) == face["amount"]
    assert net.lineage(root) == (0, root, 0)
    assert net.parts_of(root) == parts
    # Identity stays at the root: the number still names the root, parts have none.
    assert net.invoice_id_of("INV-1") == root


def test_contracts_split_a_part_paid_receivable_splits_its_open_amount(net: Net) -> None:
    root = net.confirmed()
    net.repay(root, "0.01")
    assert net.invoice(root)["status"] == PARTIALLY_PAID
    a, b = net.split(root, [("supplier", 49_999), ("supplier2", 50_000)])
    parent = net.invoice(root)
    assert parent["paid"] + net.invoice(a)["amount"] + net.invoice(b)["amount"] == parent["amount"]
    with reverts("InvalidSplit", invoiceId=b, parts=2, sum=50_001, outstanding=50_000):
        net.split(b, [("supplier2", 25_001), ("supplier2", 25_000)], holder="supplier2")


@pytest.mark.parametrize(
    ("parts", "count", "total"),
    [
        pytest.param([100_000], 1, 0, id="one-part"),
        pytest.param([10_000] * 9 + [5_000, 5_000], 11, 0, id="eleven-parts"),
        pytest.param([100_000, 0], 2, 100_000, id="zero-part"),
        pytest.param([50_001, 50_000], 2, 100_001, id="one-unit-over"),
        pytest.param([49_999, 50_000], 2, 99_999, id="one-unit-under"),
        pytest.param([100_001, 1], 2, 0, id="part-above-open"),
    ],
)
def test_contracts_split_refuses_bad_parts(net: Net, parts: list[int], count: int, total: int) -> None:
    root = net.confirmed()
    block = net.ledger.w3.eth.block_number
    with reverts("InvalidSplit", invoiceId=root, parts=count, sum=total, outstanding=100_000):
        net.split(root, [("supplier2", units) for units in parts])
    assert net.ledger.w3.eth.block_number == block
    assert net.invoice(root)["status"] == CONFIRMED


def test_contracts_split_ten_parts_is_the_most(net: Net) -> None:
    root = net.confirmed()
    parts = net.split(root, [("supplier2", 10_000)] * MAX_PARTS)
    assert len(parts) == MAX_PARTS and net.parts_of(root) == parts


def test_contracts_split_depth_bound(net: Net) -> None:
    root = net.confirmed()
    node = root
    for depth in range(1, MAX_DEPTH + 1):
        parent = node
        node, _ = net.split(node, _halves(net.open_amount(node)))
        assert net.lineage(node) == (parent, root, depth)
    # Budgets down a chain of halves: 64 at the root, then (64 - 2) // 2 = 31, 14, 6.
    with reverts("SplitLimit", invoiceId=node, depth=MAX_DEPTH + 1, parts=2, budget=6):
        net.split(node, _halves(net.open_amount(node)))
    assert net.invoice(node)["status"] == CONFIRMED


def _halves(units: int, holder: str = "supplier") -> list[tuple[str, int]]:
    return [(holder, units // 2), ("supplier2", units - units // 2)]


def test_contracts_split_tree_size_bound(net: Net) -> None:
    """A root may have MAX_TREE_PARTS parts below it; each split shares what it
    leaves equally among its parts: (64 - 10) // 10 = 5 each here, then 0."""
    root = net.confirmed()
    tier1 = net.split(root, [("supplier", 10_000)] * 10)
    with reverts("SplitLimit", invoiceId=tier1[0], depth=2, parts=6, budget=5):
        net.split(tier1[0], [("supplier", 1_000)] * 4 + [("supplier", 3_000)] * 2)
    for part in tier1:
        net.split(part, [("supplier", 2_000)] * 5)
    assert len(net.parts_of(root)) == 60 <= MAX_TREE_PARTS
    leaf = net.parts_of(root)[-1]
    with reverts("SplitLimit", invoiceId=leaf, depth=3, parts=2, budget=0):
        net.split(leaf, _halves(2_000))


def test_contracts_attack_small_part_holder_cannot_use_up_another_branch(net: Net) -> None:
    """The holder of a dust part splits it as far as it can: the tier-1 supplier
    can still split its own part fully (each branch has its own budget)."""
    root = net.confirmed()
    kept, dust = net.split(root, [("supplier", 99_900), ("supplier2", 100)])
    budget = (MAX_TREE_PARTS - 2) // 2  # 31 each
    tier2 = net.split(dust, [("supplier2", 10)] * MAX_PARTS, holder="supplier2")
    child = (budget - MAX_PARTS) // MAX_PARTS  # 2 each
    for part in tier2:
        net.split(part, [("supplier2", 5)] * child, holder="supplier2")
    with reverts("SplitLimit", invoiceId=net.parts_of(root)[-1], depth=4, parts=2, budget=0):
        net.split(net.parts_of(root)[-1], [("supplier2", 2), ("supplier2", 3)], holder="supplier2")
    mine = net.split(kept, [("supplier", 9_990)] * MAX_PARTS)
    assert len(mine) == MAX_PARTS
    assert len(net.parts_of(root)) == 2 + MAX_PARTS + MAX_PARTS * child + MAX_PARTS


def test_contracts_split_of_a_matured_receivable_refused(net: Net) -> None:
    """A receivable past due is not split into new payment instruments."""
    root = net.confirmed()
    due = net.invoice(root)["dueDate"]
    net.mine_at(due)
    with reverts("InvoiceMatured", invoiceId=root, dueDate=due):
        net.split(root, _halves(100_000))


def test_contracts_split_only_by_an_active_holder_while_live(net: Net) -> None:
    root = net.confirmed()
    with reverts("NotInvoiceHolder", invoiceId=root, account=net.addr("supplier2"), holder=net.addr("supplier")):
        net.split(root, _halves(100_000), holder="supplier2")
    net.suspend("supplier")
    with reverts("ParticipantIsSuspended", account=net.addr("supplier")):
        net.split(root, _halves(100_000))
    net.suspend("supplier", False)
    net.set_paused(True)
    with reverts("EnforcedPause"):
        net.split(root, _halves(100_000))
    net.set_paused(False)
    net.split(root, _halves(100_000))


def test_contracts_split_refuses_closed_and_financed_receivables(net: Net) -> None:
    issued = net.issue(number="INV-I")
    with reverts("InvoiceNotConfirmed", invoiceId=issued, status=ISSUED):
        net.split(issued, _halves(100_000))
    cancelled = net.issue(number="INV-C")
    net.cancel(cancelled)
    with reverts("NotInvoiceHolder", invoiceId=cancelled, account=net.addr("supplier"), holder=ZERO_ADDRESS):
        net.split(cancelled, _halves(100_000))
    paid = net.confirmed(number="INV-P")
    net.repay(paid, "1000.00")
    with reverts("InvoiceNotConfirmed", invoiceId=paid, status=PAID):
        net.split(paid, _halves(100_000))
    split = net.confirmed(number="INV-S")
    net.split(split, _halves(100_000))
    with reverts("InvoiceNotConfirmed", invoiceId=split, status=SPLIT):
        net.split(split, _halves(100_000))
    financed = net.financed(number="INV-F", due="950.00")
    with reverts("SplitFinanced", invoiceId=financed, seller=net.addr("supplier")):
        net.split(financed, _halves(100_000), holder="financier")
    net.repay(financed, "100.00")  # financed and part paid: still refused
    assert net.invoice(financed)["status"] == PARTIALLY_PAID
    with reverts("SplitFinanced", invoiceId=financed, seller=net.addr("supplier")):
        net.split(financed, _halves(90_000), holder="financier")


def test_contracts_split_parts_only_to_active_participants(net: Net) -> None:
    root = net.confirmed()
    with reverts("ParticipantNotAdmitted", account=net.addr("dev8")):
        net.split(root, [("supplier", 50_000), ("dev8", 50_000)])
    net.suspend("supplier2")
    with reverts("ParticipantIsSuspended", account=net.addr("supplier2")):
        net.split(root, _halves(100_000))
    assert net.invoice(root)["status"] == CONFIRMED


def test_contracts_split_parent_is_closed(net: Net) -> None:
    root = net.offered()
    assert net.listing(root)[1] != 0
    receipt = net.send(net.split_fn(root, _halves(100_000)), "supplier")
    # The listing is cleared, announced before the split.
    withdrawn = net.events(receipt, "FinancingOfferWithdrawn")
    assert [dict(w) for w in withdrawn] == [{"invoiceId": root, "holder": net.addr("supplier")}]
    assert net.listing(root) == (ZERO_ADDRESS, 0, 0)
    net.approve_hkd("buyer", 100_000)
    with reverts("InvoiceNotPayable", invoiceId=root, status=SPLIT):
        net.send(net.invoices.functions.repay(root, 1), "buyer")
    with reverts("InvoiceNotTransferable", invoiceId=root, status=SPLIT):
        net.transfer(root, "supplier", "supplier2")
    with reverts("InvoiceNotTransferable", invoiceId=root, status=SPLIT):
        net.send(net.transfer_ref_fn(root, "supplier2", REF), "supplier")
    with reverts("InvoiceNotConfirmed", invoiceId=root, status=SPLIT):
        net.send(net.offer_fn(root), "supplier")
    net.approve_hkd("financier", 90_000)
    terms = (
        90_000,
        100_000,
        net.addr("supplier"),
        100_000,
        0,
        net.invoice(root)["dueDate"],
        net.now() + 3600,
        False,
        0,
    )
    with reverts("InvoiceNotConfirmed", invoiceId=root, status=SPLIT):
        net.send(net.invoices.functions.finance(root, terms), "financier")


# -- transferWithReference --------------------------------------------------------------------


def test_contracts_transfer_with_reference_records_the_reference(net: Net) -> None:
    root = net.confirmed()
    a, _ = net.split(root, _halves(100_000))
    net.send(net.offer_fn(a), "supplier")
    receipt = net.send(net.transfer_ref_fn(a, "supplier2", REF), "supplier")
    assert [(t["from"], t["to"], t["tokenId"]) for t in net.events(receipt, "Transfer")] == [
        (net.addr("supplier"), net.addr("supplier2"), a)
    ]
    (moved,) = net.events(receipt, "ReceivableTransferred")
    assert dict(moved) == {"invoiceId": a, "from": net.addr("supplier"), "to": net.addr("supplier2"), "ref": REF}
    # A listing never survives a change of hands.
    assert [w["invoiceId"] for w in net.events(receipt, "FinancingOfferWithdrawn")] == [a]
    assert net.owner(a) == net.addr("supplier2")
    # A whole (unsplit) receivable moves the same way; the reference text is hashed as the CLI hashes it.
    whole = net.confirmed(number="INV-W")
    receipt = net.send(net.transfer_ref_fn(whole, "supplier2", reference_hash("PO-2026-0042")), "supplier")
    assert net.events(receipt, "ReceivableTransferred")[0]["ref"] == REF


def test_contracts_transfer_with_reference_follows_transfer_rules(net: Net) -> None:
    root = net.confirmed()
    a, _ = net.split(root, _halves(100_000))
    with reverts("NotInvoiceHolder", invoiceId=a, account=net.addr("supplier2"), holder=net.addr("supplier")):
        net.send(net.transfer_ref_fn(a, "supplier2", REF), "supplier2")
    with reverts("ParticipantNotAdmitted", account=net.addr("dev8")):
        net.send(net.transfer_ref_fn(a, "dev8", REF), "supplier")
    net.suspend("supplier2")
    with reverts("ParticipantIsSuspended", account=net.addr("supplier2")):
        net.send(net.transfer_ref_fn(a, "supplier2", REF), "supplier")
    net.suspend("supplier2", False)
    net.set_paused(True)
    with reverts("EnforcedPause"):
        net.send(net.transfer_ref_fn(a, "supplier2", REF), "supplier")
    net.set_paused(False)
    issued = net.issue(number="INV-I")
    with reverts("InvoiceNotTransferable", invoiceId=issued, status=ISSUED):
        net.send(net.transfer_ref_fn(issued, "supplier2", REF), "supplier")
    with reverts("InvoiceNotFound", invoiceId=999):
        net.send(net.transfer_ref_fn(999, "supplier2", REF), "supplier")
    net.repay(a, "500.00")
    assert net.invoice(a)["status"] == PAID
    with reverts("InvoiceNotTransferable", invoiceId=a, status=PAID):
        net.send(net.transfer_ref_fn(a, "supplier2", REF), "supplier")


# -- financing a part -----------------------------------------------------------------------


def test_contracts_financing_a_part_pays_its_holder_and_reserve(net: Net) -> None:
    root = net.confirmed()
    a, b = net.split(root, [("supplier", 70_000), ("supplier2", 30_000)])
    # The tier-2 supplier lists its part and a financier buys it, delivery versus payment.
    net.send(net.offer_fn(b, "financier", 20_000), "supplier2")
    before = net.balances("financier", "supplier2", "buyer", "supplier")
    net.approve_hkd("financier", 27_000)
    receipt = net.send(net.finance_fn(b, 27_000, due=28_500), "financier")
    (financed,) = net.events(receipt, "InvoiceFinanced")
    assert (financed["seller"], financed["advance"], financed["due"]) == (net.addr("supplier2"), 27_000, 28_500)
    inv = net.invoice(b)
    assert (inv["status"], inv["seller"], inv["financierDue"]) == (FINANCED, net.addr("supplier2"), 28_500)
    assert net.owner(b) == net.addr("financier")
    mid = net.balances("financier", "supplier2")
    assert mid == {"financier": before["financier"] - 27_000, "supplier2": before["supplier2"] + 27_000}
    # A financed part is not split again; its sibling is untouched.
    with reverts("SplitFinanced", invoiceId=b, seller=net.addr("supplier2")):
        net.split(b, _halves(30_000), holder="financier")
    assert net.invoice(a)["status"] == CONFIRMED
    # The buyer pays the part directly before the due date: the financier's due first, then the reserve.
    net.approve_hkd("buyer", 30_000)
    receipt = net.send(net.invoices.functions.repay(b, 30_000), "buyer")
    (repaid,) = net.events(receipt, "InvoiceRepaid")
    assert (repaid["payee"], repaid["amount"], repaid["toHolder"], repaid["totalPaid"]) == (
        net.addr("financier"),
        30_000,
        28_500,
        30_000,
    )
    (reserve,) = net.events(receipt, "ReserveReleased")
    assert (reserve["invoiceId"], reserve["seller"], reserve["amount"]) == (b, net.addr("supplier2"), 1_500)
    after = net.balances("financier", "supplier2", "buyer", "supplier")
    assert after == {
        "financier": before["financier"] - 27_000 + 28_500,
        "supplier2": before["supplier2"] + 27_000 + 1_500,
        "buyer": before["buyer"] - 30_000,
        "supplier": before["supplier"],
    }
    assert net.invoice(b)["status"] == PAID


# -- repayRoot --------------------------------------------------------------------------------


def expected_shares(amount: int, open_amounts: list[int]) -> list[int]:
    """The documented rule: floor pro rata, then one unit each to leaves with room, in id order."""
    total = sum(open_amounts)
    shares = [amount * o // total for o in open_amounts]
    left = amount - sum(shares)
    for i, o in enumerate(open_amounts):
        if left and shares[i] < o:
            shares[i] += 1
            left -= 1
    assert left == 0
    return shares


def test_contracts_repay_root_pro_rata_with_leftover_units(net: Net) -> None:
    root = net.confirmed()
    holders = ("supplier", "supplier2", "buyer2")
    leaves = net.split(root, list(zip(holders, (33_333, 33_333, 33_334), strict=True)))
    net.approve_hkd("buyer", 100_000)
    before = net.balances("buyer", *holders)
    receipt = net.send(net.repay_root_fn(root, 10_000), "buyer")
    # floor(10,000 * 33,333 / 100,000) = 3,333 twice and 3,333 (of 3,333.4): 9,999; the unit left to the first.
    repaid = net.events(receipt, "InvoiceRepaid")
    assert [(r["invoiceId"], r["payee"], r["amount"], r["toHolder"]) for r in repaid] == [
        (leaves[0], net.addr("supplier"), 3_334, 3_334),
        (leaves[1], net.addr("supplier2"), 3_333, 3_333),
        (leaves[2], net.addr("buyer2"), 3_333, 3_333),
    ]
    assert expected_shares(10_000, [33_333, 33_333, 33_334]) == [3_334, 3_333, 3_333]
    (root_repaid,) = net.events(receipt, "RootRepaid")
    assert dict(root_repaid) == {"rootId": root, "payer": net.addr("buyer"), "amount": 10_000, "leaves": 3}
    assert not net.events(receipt, "ReserveReleased")
    after = net.balances("buyer", *holders)
    assert after == {
        "buyer": before["buyer"] - 10_000,
        "supplier": before["supplier"] + 3_334,
        "supplier2": before["supplier2"] + 3_333,
        "buyer2": before["buyer2"] + 3_333,
    }
    assert [net.invoice(leaf)["status"] for leaf in leaves] == [PARTIALLY_PAID] * 3
    # A second partial payment: shares of what is open now (29,999, 30,000, 30,001).
    opens = [net.open_amount(leaf) for leaf in leaves]
    assert opens == [29_999, 30_000, 30_001]
    receipt = net.send(net.repay_root_fn(root, 7), "buyer")
    assert [r["amount"] for r in net.events(receipt, "InvoiceRepaid")] == expected_shares(7, opens) == [3, 2, 2]
    # Above what is open across the leaves, or nothing: refused, nothing sent.
    total = sum(net.open_amount(leaf) for leaf in leaves)
    block = net.ledger.w3.eth.block_number
    with reverts("InvalidRepayment", invoiceId=root, amount=total + 1, outstanding=total):
        net.send(net.repay_root_fn(root, total + 1), "buyer")
    with reverts("InvalidRepayment", invoiceId=root, amount=0, outstanding=total):
        net.send(net.repay_root_fn(root, 0), "buyer")
    assert net.ledger.w3.eth.block_number == block
    # The rest, exactly: every leaf Paid, every holder got exactly its part.
    net.send(net.repay_root_fn(root, total), "buyer")
    assert [net.invoice(leaf)["status"] for leaf in leaves] == [PAID] * 3
    final = net.balances("buyer", *holders)
    assert final == {
        "buyer": before["buyer"] - 100_000,
        "supplier": before["supplier"] + 33_333,
        "supplier2": before["supplier2"] + 33_333,
        "buyer2": before["buyer2"] + 33_334,
    }
    assert net.invoice(root)["status"] == SPLIT
    with reverts("InvalidRepayment", invoiceId=root, amount=1, outstanding=0):
        net.send(net.repay_root_fn(root, 1), "buyer")


def test_contracts_repay_root_only_by_the_buyer(net: Net) -> None:
    root = net.confirmed()
    net.split(root, _halves(100_000))
    net.approve_hkd("buyer2", 1_000)
    with reverts("NotInvoiceBuyer", invoiceId=root, account=net.addr("buyer2"), buyer=net.addr("buyer")):
        net.send(net.repay_root_fn(root, 1_000), "buyer2")
    net.set_paused(True)
    with reverts("EnforcedPause"):
        net.send(net.repay_root_fn(root, 1_000), "buyer")


def test_contracts_repay_root_after_a_leaf_paid_early(net: Net) -> None:
    root = net.confirmed(days=60)
    a, b = net.split(root, [("supplier", 40_000), ("supplier2", 60_000)])
    c, d, e = net.split(b, [("supplier2", 20_000), ("buyer2", 25_000), ("supplier", 15_000)], holder="supplier2")
    assert net.lineage(d) == (b, root, 2) and net.parts_of(root) == [a, b, c, d, e]
    # Leaf d is paid in full well before the root's due date, directly.
    assert net.now() < net.invoice(root)["dueDate"] - 30 * DAY
    net.repay(d, "250.00")
    assert net.invoice(d)["status"] == PAID
    net.approve_hkd("buyer", 75_000)
    before = net.balances("buyer", "supplier", "supplier2", "buyer2")
    # Across the leaves of a sub-tree: only c and e lie below b.
    receipt = net.send(net.repay_root_fn(b, 35_000), "buyer")
    assert [(r["invoiceId"], r["amount"]) for r in net.events(receipt, "InvoiceRepaid")] == [(c, 20_000), (e, 15_000)]
    # The rest of the tree: a alone is open.
    receipt = net.send(net.repay_root_fn(root, 40_000), "buyer")
    assert [(r["invoiceId"], r["amount"]) for r in net.events(receipt, "InvoiceRepaid")] == [(a, 40_000)]
    after = net.balances("buyer", "supplier", "supplier2", "buyer2")
    assert after == {
        "buyer": before["buyer"] - 75_000,
        "supplier": before["supplier"] + 15_000 + 40_000,
        "supplier2": before["supplier2"] + 20_000,
        "buyer2": before["buyer2"],
    }
    assert [net.invoice(x)["status"] for x in (a, c, d, e)] == [PAID] * 4
    assert sum(net.invoice(x)["paid"] for x in (a, c, d, e)) == net.invoice(root)["amount"]


def test_contracts_repay_root_settles_financed_leaves_with_their_reserve(net: Net) -> None:
    root = net.confirmed()
    a, b = net.split(root, [("supplier", 50_001), ("supplier2", 49_999)])
    net.send(net.offer_fn(b, None, 40_000), "supplier2")
    net.approve_hkd("financier", 45_000)
    net.send(net.finance_fn(b, 45_000, due=48_000), "financier")
    net.approve_hkd("buyer", 100_000)
    before = net.balances("supplier", "supplier2", "financier")
    receipt = net.send(net.repay_root_fn(root, 100_000), "buyer")
    repaid = {r["invoiceId"]: r for r in net.events(receipt, "InvoiceRepaid")}
    assert (repaid[b]["payee"], repaid[b]["toHolder"], repaid[b]["amount"]) == (net.addr("financier"), 48_000, 49_999)
    (reserve,) = net.events(receipt, "ReserveReleased")
    assert (reserve["invoiceId"], reserve["seller"], reserve["amount"]) == (b, net.addr("supplier2"), 1_999)
    assert net.balances("supplier", "supplier2", "financier") == {
        "supplier": before["supplier"] + 50_001,
        "supplier2": before["supplier2"] + 1_999,
        "financier": before["financier"] + 48_000,
    }
    assert net.invoice(b)["financierPaid"] == 48_000


def test_contracts_repay_root_on_an_unsplit_invoice_is_repay(net: Net) -> None:
    root = net.confirmed()
    net.approve_hkd("buyer", 100_000)
    receipt = net.send(net.repay_root_fn(root, 40_000), "buyer")
    (repaid,) = net.events(receipt, "InvoiceRepaid")
    assert (repaid["invoiceId"], repaid["amount"], repaid["totalPaid"]) == (root, 40_000, 40_000)
    assert dict(net.events(receipt, "RootRepaid")[0]) == {
        "rootId": root,
        "payer": net.addr("buyer"),
        "amount": 40_000,
        "leaves": 1,
    }
    with reverts("InvalidRepayment", invoiceId=root, amount=60_001, outstanding=60_000):
        net.send(net.repay_root_fn(root, 60_001), "buyer")
    issued = net.issue(number="INV-I")
    with reverts("InvoiceNotPayable", invoiceId=issued, status=ISSUED):
        net.send(net.repay_root_fn(issued, 1), "buyer")
    cancelled = net.issue(number="INV-C")
    net.cancel(cancelled)
    with reverts("InvoiceNotPayable", invoiceId=cancelled, status=CANCELLED):
        net.send(net.repay_root_fn(cancelled, 1), "buyer")


# -- the property ---------------------------------------------------------------------------

HOLDERS = ("supplier", "supplier2", "buyer2", "auditor")
FINANCIERS = ("financier", "financier2")
ACCOUNTS = ("buyer", *HOLDERS, *FINANCIERS)
#: Refusals a random step may meet; anything else fails the property.
EXPECTED_REFUSALS = {
    "SplitFinanced",
    "SplitLimit",
    "InvoiceNotConfirmed",
    "InvoiceNotTransferable",
    "InvoiceAlreadyFinanced",
    "InvoiceNotPayable",
    "SelfFinancing",
    "InvalidRepayment",
}
SPLIT_STEP = st.tuples(
    st.just("split"),
    st.integers(0, 63),
    st.lists(st.tuples(st.integers(1, 9), st.sampled_from(HOLDERS)), min_size=2, max_size=4),
)
STEP = st.one_of(
    SPLIT_STEP,
    SPLIT_STEP,
    st.tuples(st.just("transfer"), st.integers(0, 63), st.sampled_from(HOLDERS)),
    st.tuples(st.just("finance"), st.integers(0, 63), st.sampled_from(FINANCIERS), st.integers(50, 100)),
    st.tuples(st.just("repay"), st.integers(0, 63), st.integers(1, 100)),
    st.tuples(st.just("repay_root"), st.integers(1, 100)),
)
#: More examples, with shrinking: SCF_LONG=1 or SCF_HYPOTHESIS_PROFILE=long.
LONG = os.environ.get("SCF_LONG") == "1" or os.environ.get("SCF_HYPOTHESIS_PROFILE") == "long"


def _weights_to_units(units: int, weights: list[int]) -> list[int]:
    """``units`` in parts proportional to ``weights``, each at least 1, summing exactly."""
    total = sum(weights)
    out = [max(1, units * w // total) for w in weights]
    out[-1] = units - sum(out[:-1])
    if out[-1] < 1:  # the ones given to tiny weights took it all
        out = [1] * (len(weights) - 1) + [units - len(weights) + 1]
    return out


@settings(
    # CI runs 10 examples (it ran 30): tests/contracts/test_system_state_machine.py drives split, transfer,
    # finance, repay and repayRoot through the services in random order, with the same invariants after
    # every step (conservation, leaves sum to the root, paid <= amount, financierPaid <= due, depth) and
    # the database checked against the chain; this keeps a fast, focused tree-only run. Long: unchanged.
    max_examples=200 if LONG else 10,
    deadline=None,
    derandomize=not LONG,
    phases=[Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if LONG else []),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(face=st.integers(2, 10**8), first=SPLIT_STEP, steps=st.lists(STEP, min_size=3, max_size=8))
def test_contracts_split_property_conserves_every_minor_unit(net: Net, face: int, first: Any, steps: list[Any]) -> None:
    """Sequences start with a split (a tree to work on), then any steps. The
    allowances are granted once (unlimited), before the per-example snapshots."""
    if not getattr(net, "property_allowances", False):
        for who in ("buyer", *FINANCIERS):
            net.approve_hkd(who, 2**256 - 1)
        net.property_allowances = True  # type: ignore[attr-defined]
    snapshot = net.rpc("evm_snapshot", [])
    try:
        _run_property(net, face, [first, *steps])
    finally:
        assert net.rpc("evm_revert", [snapshot]) is True


def _run_property(net: Net, face: int, steps: list[Any]) -> None:
    root = net.issue_raw(number="P-1", amount=face)
    net.send(net.invoices.functions.confirm(root), "buyer")
    start = net.balances(*ACCOUNTS)
    model = dict.fromkeys(ACCOUNTS, 0)  # expected balance changes, from the events
    received: dict[int, int] = {}  # what each node's payees received of the buyer's payments
    by_address = {net.addr(a): a for a in ACCOUNTS}

    leaves = [root]  # the nodes not split, as the steps made them (checked against the chain at the end)

    def book_repayments(receipt: Any) -> None:
        for r in net.events(receipt, "InvoiceRepaid"):
            model["buyer"] -= r["amount"]
            model[by_address[r["payee"]]] += r["toHolder"]
            received[r["invoiceId"]] = received.get(r["invoiceId"], 0) + r["amount"]
        for r in net.events(receipt, "ReserveReleased"):
            model[by_address[r["seller"]]] += r["amount"]

    for step in steps:
        kind = step[0]
        try:
            if kind == "split":
                _, index, spec = step
                target = leaves[index % len(leaves)]
                units = net.open_amount(target)
                if units < len(spec) or net.invoice(target)["status"] == PAID:
                    continue
                amounts = _weights_to_units(units, [w for w, _ in spec])
                parts = [(who, a) for (_, who), a in zip(spec, amounts, strict=True)]
                leaves[leaves.index(target) : leaves.index(target) + 1] = net.split(
                    target, parts, by_address[net.owner(target)]
                )
            elif kind == "transfer":
                _, index, to = step
                target = leaves[index % len(leaves)]
                net.send(net.transfer_ref_fn(target, to, REF), by_address[net.owner(target)])
            elif kind == "finance":
                _, index, financier, percent = step
                target = leaves[index % len(leaves)]
                holder = by_address[net.owner(target)]
                if holder in FINANCIERS or net.invoice(target)["status"] not in (CONFIRMED, PARTIALLY_PAID):
                    continue
                open_units = net.open_amount(target)
                due = max(1, open_units * percent // 100)
                advance = max(1, due * 9 // 10)
                net.send(net.offer_fn(target, None, 1), holder)
                receipt = net.send(net.finance_fn(target, advance, due=due), financier)
                model[financier] -= advance
                model[holder] += advance
                assert net.events(receipt, "InvoiceFinanced")[0]["seller"] == net.addr(holder)
            elif kind == "repay":
                _, index, percent = step
                target = leaves[index % len(leaves)]
                units = max(1, net.open_amount(target) * percent // 100)
                book_repayments(net.send(net.invoices.functions.repay(target, units), "buyer"))
            else:
                _, percent = step
                opens = [(leaf, o) for leaf in sorted(leaves) if (o := net.open_amount(leaf))]  # id order
                total = sum(o for _, o in opens)
                units = max(1, total * percent // 100)
                receipt = net.send(net.repay_root_fn(root, units), "buyer")
                shares = [s for s in expected_shares(units, [o for _, o in opens]) if s] if total else []
                assert [r["amount"] for r in net.events(receipt, "InvoiceRepaid")] == shares
                book_repayments(receipt)
            event(f"{kind}: done")
        except TransactionReverted as exc:
            assert exc.error_name in EXPECTED_REFUSALS, str(exc)
            event(f"{kind}: refused ({exc.error_name})")
    parts, depth = _check_tree(net, root, face, received)
    assert sorted(leaves) == [i for i in [root, *net.parts_of(root)] if net.invoice(i)["status"] != SPLIT]
    event(f"tree of {parts} parts, depth {depth}")
    # Tokens are conserved, and every account moved exactly as the events say.
    end = net.balances(*ACCOUNTS)
    assert {a: end[a] - start[a] for a in ACCOUNTS} == model
    assert sum(model.values()) == 0


def _check_tree(net: Net, root: int, face: int, received: dict[int, int]) -> tuple[int, int]:
    """The tree's invariants; returns its number of parts and its depth."""
    ids = [root, *net.parts_of(root)]
    invoices = {i: net.invoice(i) for i in ids}
    children: dict[int, list[int]] = {}
    deepest = 0
    for i in ids[1:]:
        parent, tree_root, depth = net.lineage(i)
        assert tree_root == root and 1 <= depth <= MAX_DEPTH
        assert depth == (0 if parent == root else net.lineage(parent)[2]) + 1
        children.setdefault(parent, []).append(i)
        deepest = max(deepest, depth)
    for i, inv in invoices.items():
        assert inv["paid"] <= inv["amount"]
        assert received.get(i, 0) == inv["paid"]  # nobody is paid more than its part says
        assert inv["financierPaid"] <= inv["financierDue"]
        if inv["status"] == SPLIT:
            assert inv["paid"] + sum(invoices[c]["amount"] for c in children[i]) == inv["amount"]
        else:
            assert i not in children
    # Leaves' paid and open, plus what was paid on nodes before they were split, is the root's face.
    leaves = [inv for inv in invoices.values() if inv["status"] != SPLIT]
    before_split = sum(inv["paid"] for inv in invoices.values() if inv["status"] == SPLIT)
    assert sum(inv["paid"] + (inv["amount"] - inv["paid"]) for inv in leaves) + before_split == face
    assert sum(inv["amount"] for inv in leaves) + before_split == face
    return len(ids) - 1, deepest


# -- the Ledger's calls (ledger.lifecycle) ------------------------------------------------------


def test_contracts_ledger_split_transfer_and_repay_across(net: Net) -> None:
    led = net.ledger
    root = net.confirmed()
    out = led.split(net.acct("supplier"), root, [("supplier", "600.01", "PO-1"), ("supplier2", "399.99", None)])
    a, b = (p["invoice_id"] for p in out["parts"])
    assert out["status"] == "Split" and out["root_id"] == root and out["amount"] == "1000.00"
    assert out["parts"][0] == {
        "invoice_id": a,
        "holder": {"address": net.addr("supplier"), "name": "Kowloon Precision Parts Ltd"},
        "amount": "600.01",
        "depth": 1,
        "reference": "0x" + reference_hash("PO-1").hex(),
    }
    assert out["parts"][1]["reference"] is None
    assert led.lineage(root) == {"invoice_id": root, "parent_id": None, "root_id": root, "depth": 0}
    assert led.lineage(a) == {"invoice_id": a, "parent_id": root, "root_id": root, "depth": 1}
    assert led.parts_of(root) == [a, b] and led.parts_of(a) == []
    assert led.invoice_state(root).outstanding == 0 and led.invoice_state(root).split
    moved = led.transfer_receivable(net.acct("supplier"), a, "Sham Shui Po Textiles Ltd", "INV-T2-7")
    assert moved["to"] == {"address": net.addr("supplier2"), "name": "Sham Shui Po Textiles Ltd"}
    assert moved["reference"] == "0x" + reference_hash("INV-T2-7").hex()
    assert net.owner(a) == net.addr("supplier2")
    # repay on a split id pays across its leaves.
    paid = led.repay(net.acct("buyer"), root, "100.00")
    assert [(x["invoice_id"], x["amount"], x["outstanding"]) for x in paid["leaves"]] == [
        (a, "60.01", "540.00"),
        (b, "39.99", "360.00"),
    ]
    assert paid["outstanding"] == "900.00" and led.open_below(root) == 90_000
    led.repay(net.acct("buyer"), root, "900.00")
    assert led.open_below(root) == 0
    assert [led.invoice_state(x).status_name for x in (root, a, b)] == ["Split", "Paid", "Paid"]


def test_contracts_ledger_reference_hash() -> None:
    assert reference_hash(None) == ZERO32
    assert reference_hash("0x" + "ab" * 32) == bytes.fromhex("ab" * 32)
    assert reference_hash("PO-2026-0042") == bytes(REF)
    with pytest.raises(Exception, match="empty reference"):
        reference_hash("  ")


# -- the linked library ---------------------------------------------------------------------


def test_contracts_invoice_token_is_linked_to_its_libraries(net: Net, build: Any) -> None:
    """InvoiceToken calls four linked libraries (numbers, settlement, remedies, intake): each
    placeholder is linked to the recorded library, and a missing one is refused."""
    from ledger.errors import DeploymentError
    from ledger.evm.deploy import LIBRARIES, link, link_placeholder

    unlinked = build.artifact("InvoiceToken").bytecode
    units = LIBRARIES["InvoiceToken"]
    assert set(units) == {"InvoiceNumbers", "Settlement", "Remedies", "Intake"}
    addresses = {name: net.ledger.deployment.contract(name).address for name in units}
    for name, unit in units.items():
        assert unlinked.count(link_placeholder(unit, name)) >= 1, name
    linked = link(unlinked, addresses, units)
    assert "__$" not in linked
    for name in units:
        with pytest.raises(DeploymentError, match="unlinked library"):
            link(unlinked, {k: v for k, v in addresses.items() if k != name}, units)
    # The deployed token calls the recorded libraries.
    code = net.ledger.w3.eth.get_code(Web3.to_checksum_address(net.ledger.deployment.contract("InvoiceToken").address))
    for address in addresses.values():
        assert bytes.fromhex(address[2:]) in bytes(code)
