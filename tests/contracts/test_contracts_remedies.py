"""When things go wrong (contract v4), without money at stake: disputes, maturity
extensions, defaults and write-offs, their roles, pause and KYC rules, parts of a
split, and the attacks on them. Money legs (credit notes, buy-backs, recoveries)
are in ``test_contracts_recourse.py``.

Every rule is tried by calling the contract directly (``net.send(fn, who)`` of
``support.contracts``), never through a client that checks first. Every revert is
checked by its custom error and the values it carries; the base scenario is
restored after each test by the ``chain`` fixture. Tests named ``..._attack_...``
reproduce an attack and show that it is repelled.
"""

from __future__ import annotations

from typing import Any
from unittest.mock import ANY

import pytest
from support.contracts import (
    AMOUNT,
    CANCELLED,
    CONFIRMED,
    DAY,
    DEFAULTED,
    DISPUTED,
    FINANCED,
    GRACE,
    ISSUED,
    MAX_GRACE_PERIOD,
    OPERATOR_ROLE,
    PAID,
    PARTIALLY_PAID,
    SPLIT,
    UINT64_MAX,
    WRITTEN_OFF,
    ZERO32,
    ZERO_ADDRESS,
    Net,
    reverts,
)
from web3 import Web3

REASON = Web3.keccak(text="Goods received damaged: 40 of 5,000 bearings (GRN 2026-118)")
NONE = 0  # IInvoiceToken.Status.None: disputedFrom when not disputed


def _state(net: Net, invoice_id: int) -> tuple[Any, ...]:
    """What a refused call must leave as it was: the chain head, the invoice, its holder and listing."""
    return (net.ledger.w3.eth.block_number, net.invoice(invoice_id), net.owner(invoice_id), net.listing(invoice_id))


def _shares(amount: int, open_amounts: list[int]) -> list[int]:
    """repayRoot's documented rule: floor pro rata, then one unit each to leaves with room, in id order."""
    total = sum(open_amounts)
    shares = [amount * o // total for o in open_amounts]
    left = amount - sum(shares)
    for i, o in enumerate(open_amounts):
        if left and shares[i] < o:
            shares[i] += 1
            left -= 1
    return shares


def _part_paid(net: Net) -> int:
    """Financed at 800 with the financier due 900 of 1,000, then 300 paid (all to the financier)."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000)
    net.approve_hkd("buyer", 30_000)
    net.send(net.invoices.functions.repay(invoice_id, 30_000), "buyer")
    return invoice_id


# -- disputes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("previous", [CONFIRMED, FINANCED, PARTIALLY_PAID])
def test_contracts_dispute_and_withdraw_restore_the_status(net: Net, previous: int) -> None:
    invoice_id = {CONFIRMED: net.confirmed, FINANCED: net.financed_raw, PARTIALLY_PAID: lambda: _part_paid(net)}[
        previous
    ]()
    before = net.invoice(invoice_id)
    assert (before["status"], before["disputedFrom"]) == (previous, NONE)
    receipt = net.send(net.dispute_fn(invoice_id, REASON), "buyer")
    (disputed,) = net.events(receipt, "InvoiceDisputed")
    assert dict(disputed) == {
        "invoiceId": invoice_id,
        "buyer": net.addr("buyer"),
        "reason": REASON,
        "previous": previous,
    }
    assert net.invoice(invoice_id) == {**before, "status": DISPUTED, "disputedFrom": previous}
    receipt = net.send(net.withdraw_dispute_fn(invoice_id), "buyer")
    (withdrawn,) = net.events(receipt, "DisputeWithdrawn")
    assert dict(withdrawn) == {"invoiceId": invoice_id, "buyer": net.addr("buyer"), "restored": previous}
    assert net.invoice(invoice_id) == before


def test_contracts_dispute_clears_the_listing(net: Net) -> None:
    invoice_id = net.offered()
    receipt = net.send(net.dispute_fn(invoice_id, REASON), "buyer")
    assert [dict(e) for e in net.events(receipt, "FinancingOfferWithdrawn")] == [
        {"invoiceId": invoice_id, "holder": net.addr("supplier")}
    ]
    assert net.listing(invoice_id) == (ZERO_ADDRESS, 0, 0)
    # Withdrawing the dispute does not revive the consent.
    net.send(net.withdraw_dispute_fn(invoice_id), "buyer")
    assert net.listing(invoice_id) == (ZERO_ADDRESS, 0, 0)


def test_contracts_dispute_refused_unless_open(net: Net) -> None:
    issued = net.issue(number="INV-I")
    cancelled = net.issue(number="INV-C")
    net.cancel(cancelled)
    paid = net.confirmed(number="INV-P")
    net.repay(paid, "1000.00")
    split = net.confirmed(number="INV-S")
    net.split(split, [("supplier", 50_000), ("supplier2", 50_000)])
    disputed = net.confirmed(number="INV-D")
    net.send(net.dispute_fn(disputed), "buyer")
    defaulted = net.confirmed(number="INV-X")
    net.defaulted(defaulted)
    for invoice_id, status in (
        (issued, ISSUED),
        (cancelled, CANCELLED),
        (paid, PAID),
        (split, SPLIT),
        (disputed, DISPUTED),
        (defaulted, DEFAULTED),
    ):
        with reverts("InvoiceNotOpen", invoiceId=invoice_id, status=status):
            net.send(net.dispute_fn(invoice_id, REASON), "buyer")
    net.send(net.write_off_fn(defaulted), "supplier")
    with reverts("InvoiceNotOpen", invoiceId=defaulted, status=WRITTEN_OFF):
        net.send(net.dispute_fn(defaulted, REASON), "buyer")
    with reverts("InvoiceNotFound", invoiceId=999):
        net.send(net.dispute_fn(999, REASON), "buyer")


@pytest.mark.parametrize("who", ["supplier", "financier", "buyer2", "operator"])
def test_contracts_dispute_and_withdraw_only_by_the_buyer(net: Net, who: str) -> None:
    invoice_id = net.financed_raw()
    with reverts("NotInvoiceBuyer", invoiceId=invoice_id, account=net.addr(who), buyer=net.addr("buyer")):
        net.send(net.dispute_fn(invoice_id, REASON), who)
    net.send(net.dispute_fn(invoice_id, REASON), "buyer")
    before = _state(net, invoice_id)
    with reverts("NotInvoiceBuyer", invoiceId=invoice_id, account=net.addr(who), buyer=net.addr("buyer")):
        net.send(net.withdraw_dispute_fn(invoice_id), who)
    assert _state(net, invoice_id) == before


def test_contracts_attack_withdraw_a_dispute_that_is_not_disputed(net: Net) -> None:
    invoice_id = net.confirmed()
    with reverts("InvoiceNotDisputed", invoiceId=invoice_id, status=CONFIRMED):
        net.send(net.withdraw_dispute_fn(invoice_id), "buyer")
    net.send(net.dispute_fn(invoice_id), "buyer")
    net.send(net.withdraw_dispute_fn(invoice_id), "buyer")
    # Twice: the second finds nothing to withdraw.
    with reverts("InvoiceNotDisputed", invoiceId=invoice_id, status=CONFIRMED):
        net.send(net.withdraw_dispute_fn(invoice_id), "buyer")
    net.repay(invoice_id, "1000.00")
    with reverts("InvoiceNotDisputed", invoiceId=invoice_id, status=PAID):
        net.send(net.withdraw_dispute_fn(invoice_id), "buyer")


def test_contracts_attack_disputed_receivable_is_frozen(net: Net) -> None:
    """While disputed: no financing, split, transfer, listing, payment, default or extension."""
    invoice_id = net.offered()
    net.send(net.dispute_fn(invoice_id, REASON), "buyer")
    before = _state(net, invoice_id)
    net.approve_hkd("financier", AMOUNT)
    terms = net.terms(invoice_id, 90_000)
    with reverts("InvoiceNotConfirmed", invoiceId=invoice_id, status=DISPUTED):
        net.send(net.invoices.functions.finance(invoice_id, terms), "financier")
    with reverts("InvoiceNotConfirmed", invoiceId=invoice_id, status=DISPUTED):
        net.send(net.offer_fn(invoice_id), "supplier")
    with reverts("InvoiceNotConfirmed", invoiceId=invoice_id, status=DISPUTED):
        net.split(invoice_id, [("supplier", 50_000), ("supplier2", 50_000)])
    with reverts("InvoiceNotTransferable", invoiceId=invoice_id, status=DISPUTED):
        net.transfer(invoice_id, "supplier", "supplier2")
    with reverts("InvoiceNotTransferable", invoiceId=invoice_id, status=DISPUTED):
        net.send(net.transfer_ref_fn(invoice_id, "supplier2"), "supplier")
    safe = net.invoices.functions.safeTransferFrom(net.addr("supplier"), net.addr("supplier2"), invoice_id)
    with reverts("InvoiceNotTransferable", invoiceId=invoice_id, status=DISPUTED):
        net.send(safe, "supplier")
    net.approve_hkd("buyer", AMOUNT)
    with reverts("InvoiceNotPayable", invoiceId=invoice_id, status=DISPUTED):
        net.send(net.invoices.functions.repay(invoice_id, 1), "buyer")
    with reverts("InvoiceNotPayable", invoiceId=invoice_id, status=DISPUTED):
        net.send(net.repay_root_fn(invoice_id, 1), "buyer")
    with reverts("InvoiceNotOpen", invoiceId=invoice_id, status=DISPUTED):
        net.send(net.propose_fn(invoice_id, before[1]["dueDate"] + DAY), "buyer")
    after = net.defaultable_after(invoice_id) + 1
    net.mine_at(after)
    before = _state(net, invoice_id)
    with reverts("InvoiceNotOpen", invoiceId=invoice_id, status=DISPUTED):
        net.send(net.default_fn(invoice_id), "supplier")
    assert _state(net, invoice_id) == before


# -- maturity extensions -------------------------------------------------------------------------


def test_contracts_extension_proposed_then_accepted_by_the_financier(net: Net) -> None:
    invoice_id = net.financed_raw()
    old = net.invoice(invoice_id)["dueDate"]
    first, new = old + 10 * DAY, old + 30 * DAY
    receipt = net.send(net.propose_fn(invoice_id, first), "buyer")
    (proposed,) = net.events(receipt, "ExtensionProposed")
    assert dict(proposed) == {
        "invoiceId": invoice_id,
        "buyer": net.addr("buyer"),
        "dueDate": old,
        "proposedDueDate": first,
    }
    assert net.invoice(invoice_id)["proposedDueDate"] == first
    # A new proposal replaces the first; the due date is unchanged until accepted.
    net.send(net.propose_fn(invoice_id, new), "buyer")
    before = net.invoice(invoice_id)
    assert (before["dueDate"], before["proposedDueDate"]) == (old, new)
    receipt = net.send(net.accept_fn(invoice_id, new), "financier")
    (extended,) = net.events(receipt, "MaturityExtended")
    assert dict(extended) == {
        "invoiceId": invoice_id,
        "holder": net.addr("financier"),
        "oldDueDate": old,
        "newDueDate": new,
    }
    assert net.invoice(invoice_id) == {**before, "dueDate": new, "proposedDueDate": 0}
    # The default window moves with it: the old one no longer allows a default.
    net.mine_at(old + GRACE + 1)
    with reverts(
        "DefaultBeforeGrace", invoiceId=invoice_id, defaultableAfter=new + GRACE, nowTimestamp=old + GRACE + 1
    ):
        net.call(net.default_fn(invoice_id), "financier")
    # The accepted proposal is spent: accepting it again is refused.
    with reverts("ExtensionNotProposed", invoiceId=invoice_id, dueDate=new, proposedDueDate=0):
        net.send(net.accept_fn(invoice_id, new), "financier")


def test_contracts_attack_extension_to_an_earlier_or_too_late_date(net: Net) -> None:
    invoice_id = net.confirmed()
    due = net.invoice(invoice_id)["dueDate"]
    now = net.now()  # eth_call runs on the latest block: block.timestamp == now
    latest = now + int(net.invoices.functions.maxTenor().call())
    for date in (due - 1, due, 0):
        with reverts("InvalidExtension", invoiceId=invoice_id, proposedDueDate=date, dueDate=due, latestDueDate=latest):
            net.call(net.propose_fn(invoice_id, date), "buyer")
    with reverts(
        "InvalidExtension", invoiceId=invoice_id, proposedDueDate=latest + 1, dueDate=due, latestDueDate=latest
    ):
        net.call(net.propose_fn(invoice_id, latest + 1), "buyer")
    assert net.call(net.propose_fn(invoice_id, latest), "buyer") == []
    # A uint64 at its largest is beyond any tenor, not an overflow.
    with reverts(
        "InvalidExtension", invoiceId=invoice_id, proposedDueDate=UINT64_MAX, dueDate=due, latestDueDate=latest
    ):
        net.call(net.propose_fn(invoice_id, UINT64_MAX), "buyer")
    assert net.invoice(invoice_id)["proposedDueDate"] == 0


def test_contracts_attack_extension_accepted_by_the_wrong_party_or_date(net: Net) -> None:
    invoice_id = net.financed_raw()
    due = net.invoice(invoice_id)["dueDate"]
    with reverts("ExtensionNotProposed", invoiceId=invoice_id, dueDate=due + DAY, proposedDueDate=0):
        net.send(net.accept_fn(invoice_id, due + DAY), "financier")
    for who in ("supplier", "financier", "buyer2"):
        with reverts("NotInvoiceBuyer", invoiceId=invoice_id, account=net.addr(who), buyer=net.addr("buyer")):
            net.send(net.propose_fn(invoice_id, due + DAY), who)
    net.send(net.propose_fn(invoice_id, due + 20 * DAY), "buyer")
    before = _state(net, invoice_id)
    # The buyer cannot accept its own proposal; the seller is no longer the holder.
    for who in ("buyer", "supplier", "financier2"):
        with reverts("NotInvoiceHolder", invoiceId=invoice_id, account=net.addr(who), holder=net.addr("financier")):
            net.send(net.accept_fn(invoice_id, due + 20 * DAY), who)
    # The holder accepts exactly the date proposed, not one it prefers.
    for date in (due + 20 * DAY - 1, due + 20 * DAY + 1, due + 60 * DAY):
        with reverts("ExtensionNotProposed", invoiceId=invoice_id, dueDate=date, proposedDueDate=due + 20 * DAY):
            net.send(net.accept_fn(invoice_id, date), "financier")
    assert _state(net, invoice_id) == before


def test_contracts_extension_needs_active_parties(net: Net) -> None:
    """Extending is new business: a suspended buyer cannot propose nor a suspended holder
    accept; but a suspended buyer can still dispute and pay (enforcement of terms)."""
    invoice_id = net.confirmed()
    due = net.invoice(invoice_id)["dueDate"]
    net.suspend("buyer")
    with reverts("ParticipantIsSuspended", account=net.addr("buyer")):
        net.send(net.propose_fn(invoice_id, due + DAY), "buyer")
    net.send(net.dispute_fn(invoice_id, REASON), "buyer")
    net.send(net.withdraw_dispute_fn(invoice_id), "buyer")
    net.approve_hkd("buyer", 100)
    net.send(net.invoices.functions.repay(invoice_id, 100), "buyer")
    net.suspend("buyer", False)
    net.send(net.propose_fn(invoice_id, due + DAY), "buyer")
    net.suspend("supplier")
    with reverts("ParticipantIsSuspended", account=net.addr("supplier")):
        net.send(net.accept_fn(invoice_id, due + DAY), "supplier")
    net.suspend("supplier", False)
    net.send(net.accept_fn(invoice_id, due + DAY), "supplier")
    inv = net.invoice(invoice_id)
    assert (inv["status"], inv["paid"], inv["dueDate"]) == (PARTIALLY_PAID, 100, due + DAY)


def test_contracts_extension_refused_unless_open_and_cleared_by_default(net: Net) -> None:
    invoice_id = net.confirmed()
    due = net.invoice(invoice_id)["dueDate"]
    net.send(net.propose_fn(invoice_id, due + 5 * DAY), "buyer")
    receipt = net.defaulted(invoice_id)
    assert net.events(receipt, "InvoiceDefaulted")
    # A default drops the pending proposal: the holder cannot revive the receivable by accepting it.
    assert net.invoice(invoice_id)["proposedDueDate"] == 0
    with reverts("InvoiceNotOpen", invoiceId=invoice_id, status=DEFAULTED):
        net.send(net.accept_fn(invoice_id, due + 5 * DAY), "supplier")
    with reverts("InvoiceNotOpen", invoiceId=invoice_id, status=DEFAULTED):
        net.send(net.propose_fn(invoice_id, net.now() + 30 * DAY), "buyer")
    paid = net.confirmed(number="INV-P")
    net.repay(paid, "1000.00")
    with reverts("InvoiceNotOpen", invoiceId=paid, status=PAID):
        net.send(net.propose_fn(paid, net.invoice(paid)["dueDate"] + DAY), "buyer")


# -- defaults --------------------------------------------------------------------------------------


@pytest.mark.parametrize("financed", [False, True], ids=["unfinanced", "financed"])
def test_contracts_default_exactly_at_grace_refused_one_second_after_allowed(net: Net, financed: bool) -> None:
    """Unfinanced: the deployment's grace (7 days); financed: the financing's (3 days here)."""
    if financed:
        invoice_id = net.financed_raw(advance=80_000, due=90_000, grace=3 * DAY)
        holder, grace, claim = "financier", 3 * DAY, 90_000
    else:
        invoice_id = net.confirmed()
        holder, grace, claim = "supplier", GRACE, AMOUNT
    before = net.invoice(invoice_id)
    assert before["gracePeriod"] == grace
    limit = before["dueDate"] + grace
    assert net.defaultable_after(invoice_id) == limit
    for moment in (before["dueDate"], limit - 1, limit):
        net.mine_at(moment)
        with reverts("DefaultBeforeGrace", invoiceId=invoice_id, defaultableAfter=limit, nowTimestamp=moment):
            net.call(net.default_fn(invoice_id), holder)
    net.mine_at(limit + 1)
    assert net.call(net.default_fn(invoice_id), holder) == []
    receipt = net.send(net.default_fn(invoice_id), holder)
    (defaulted,) = net.events(receipt, "InvoiceDefaulted")
    assert dict(defaulted) == {
        "invoiceId": invoice_id,
        "holder": net.addr(holder),
        "outstanding": AMOUNT,
        "holderClaim": claim,
    }
    assert net.invoice(invoice_id) == {**before, "status": DEFAULTED}
    assert net.owner(invoice_id) == net.addr(holder)
    with reverts("InvoiceNotOpen", invoiceId=invoice_id, status=DEFAULTED):
        net.send(net.default_fn(invoice_id), holder)


def test_contracts_default_clears_a_listing(net: Net) -> None:
    invoice_id = net.offered()
    receipt = net.defaulted(invoice_id)
    assert [dict(e) for e in net.events(receipt, "FinancingOfferWithdrawn")] == [
        {"invoiceId": invoice_id, "holder": net.addr("supplier")}
    ]
    assert net.listing(invoice_id) == (ZERO_ADDRESS, 0, 0)
    net.approve_hkd("financier", AMOUNT)
    with reverts("InvoiceNotConfirmed", invoiceId=invoice_id, status=DEFAULTED):
        net.send(net.finance_fn(invoice_id, 50_000), "financier")


def test_contracts_default_before_grace_through_a_transaction_changes_nothing(net: Net) -> None:
    invoice_id = net.confirmed()
    limit = net.defaultable_after(invoice_id)
    net.mine_at(limit - 10)
    before = _state(net, invoice_id)
    with reverts("DefaultBeforeGrace", invoiceId=invoice_id, defaultableAfter=limit, nowTimestamp=ANY):
        net.send(net.default_fn(invoice_id), "supplier")
    assert _state(net, invoice_id) == before


def test_contracts_default_of_a_part_paid_financed_receivable_names_both_figures(net: Net) -> None:
    """1,000 financed, due to the financier 900, 300 paid: the buyer owes 700, the financier is owed 600."""
    invoice_id = _part_paid(net)
    receipt = net.defaulted(invoice_id)
    (defaulted,) = net.events(receipt, "InvoiceDefaulted")
    assert (defaulted["outstanding"], defaulted["holderClaim"]) == (70_000, 60_000)
    inv = net.invoice(invoice_id)
    assert (inv["status"], inv["paid"], inv["financierPaid"], inv["financierDue"]) == (
        DEFAULTED,
        30_000,
        30_000,
        90_000,
    )


@pytest.mark.parametrize("who", ["buyer", "supplier", "financier2", "operator"])
def test_contracts_attack_default_by_a_non_holder(net: Net, who: str) -> None:
    invoice_id = net.financed_raw()
    net.mine_at(net.defaultable_after(invoice_id) + 1)
    before = _state(net, invoice_id)
    with reverts("NotInvoiceHolder", invoiceId=invoice_id, account=net.addr(who), holder=net.addr("financier")):
        net.send(net.default_fn(invoice_id), who)
    assert _state(net, invoice_id) == before


def test_contracts_attack_default_after_full_payment(net: Net) -> None:
    invoice_id = net.financed_raw()
    net.repay(invoice_id, "1000.00")
    net.mine_at(net.defaultable_after(invoice_id) + 1)
    with reverts("InvoiceNotOpen", invoiceId=invoice_id, status=PAID):
        net.send(net.default_fn(invoice_id), "financier")
    issued = net.issue(number="INV-I")
    net.mine_at(net.defaultable_after(issued) + 1)
    with reverts("InvoiceNotOpen", invoiceId=issued, status=ISSUED):
        net.send(net.default_fn(issued), "supplier")
    with reverts("InvoiceNotFound", invoiceId=999):
        net.send(net.default_fn(999), "supplier")


def test_contracts_grace_period_set_by_the_operator(net: Net) -> None:
    """The deployment's grace applies to unfinanced receivables as it is now; a financing keeps its own."""
    f = net.invoices.functions
    assert f.gracePeriod().call() == GRACE and f.MAX_GRACE_PERIOD().call() == MAX_GRACE_PERIOD
    deployed = net.ledger.w3.eth.get_transaction_receipt(net.ledger.deployment.contract("InvoiceToken").tx_hash)
    assert [dict(e) for e in net.events(deployed, "GracePeriodChanged")] == [{"gracePeriod": GRACE}]
    unfinanced = net.confirmed(number="INV-U")
    financed = net.financed_raw(number="INV-F")
    assert net.invoice(financed)["gracePeriod"] == GRACE
    receipt = net.send(f.setGracePeriod(2 * DAY), "operator")
    assert [dict(e) for e in net.events(receipt, "GracePeriodChanged")] == [{"gracePeriod": 2 * DAY}]
    assert f.gracePeriod().call() == 2 * DAY
    assert net.invoice(unfinanced)["gracePeriod"] == 2 * DAY
    assert net.invoice(financed)["gracePeriod"] == GRACE
    with reverts("InvalidGracePeriod", gracePeriod=MAX_GRACE_PERIOD + 1):
        net.send(f.setGracePeriod(MAX_GRACE_PERIOD + 1), "operator")
    for who in ("supplier", "financier"):
        with reverts("AccessControlUnauthorizedAccount", account=net.addr(who), neededRole=OPERATOR_ROLE):
            net.send(f.setGracePeriod(0), who)
    receipt = net.send(f.setGracePeriod(0), "operator")
    assert net.events(receipt, "GracePeriodChanged")[0]["gracePeriod"] == 0
    # Zero grace: a default the second after the due date.
    due = net.invoice(unfinanced)["dueDate"]
    net.mine_at(due)
    with reverts("DefaultBeforeGrace", invoiceId=unfinanced, defaultableAfter=due, nowTimestamp=due):
        net.call(net.default_fn(unfinanced), "supplier")
    net.mine_at(due + 1)
    net.send(net.default_fn(unfinanced), "supplier")
    assert net.invoice(unfinanced)["status"] == DEFAULTED


def test_contracts_financing_records_recourse_and_grace(net: Net) -> None:
    invoice_id = net.confirmed()
    net.send(net.offer_fn(invoice_id, None, 1, recourse=True), "supplier")
    net.approve_hkd("financier", 80_000)
    with reverts("InvalidGracePeriod", gracePeriod=MAX_GRACE_PERIOD + 1):
        net.send(net.finance_fn(invoice_id, 80_000, due=90_000, recourse=True, grace=MAX_GRACE_PERIOD + 1), "financier")
    receipt = net.send(
        net.finance_fn(invoice_id, 80_000, due=90_000, recourse=True, grace=MAX_GRACE_PERIOD), "financier"
    )
    (financed,) = net.events(receipt, "InvoiceFinanced")
    assert dict(financed) == {
        "invoiceId": invoice_id,
        "financier": net.addr("financier"),
        "seller": net.addr("supplier"),
        "advance": 80_000,
        "due": 90_000,
        "recourse": True,
        "gracePeriod": MAX_GRACE_PERIOD,
    }
    inv = net.invoice(invoice_id)
    assert (inv["status"], inv["recourse"], inv["gracePeriod"], inv["financierDue"]) == (
        FINANCED,
        True,
        MAX_GRACE_PERIOD,
        90_000,
    )
    # The deployment's grace changing later does not touch the financing's.
    net.send(net.invoices.functions.setGracePeriod(0), "operator")
    assert net.invoice(invoice_id)["gracePeriod"] == MAX_GRACE_PERIOD


def test_contracts_attack_due_date_plus_grace_does_not_overflow(net: Net) -> None:
    """A due date at the top of uint64 and the longest grace: dueDate + grace is above 2^64
    and is computed without overflow (a clean DefaultBeforeGrace, never a panic)."""
    net.send(net.invoices.functions.setMaxTenor(UINT64_MAX), "operator")
    invoice_id = net.issue_raw("INV-FAR", due_ts=UINT64_MAX)
    net.send(net.invoices.functions.confirm(invoice_id), "buyer")
    net.send(net.offer_fn(invoice_id, None, 1, recourse=True), "supplier")
    net.approve_hkd("financier", 80_000)
    net.send(net.finance_fn(invoice_id, 80_000, recourse=True, grace=MAX_GRACE_PERIOD), "financier")
    now = net.now()
    with reverts(
        "DefaultBeforeGrace", invoiceId=invoice_id, defaultableAfter=UINT64_MAX + MAX_GRACE_PERIOD, nowTimestamp=now
    ):
        net.call(net.default_fn(invoice_id), "financier")
    latest = now + UINT64_MAX
    with reverts(
        "InvalidExtension", invoiceId=invoice_id, proposedDueDate=UINT64_MAX, dueDate=UINT64_MAX, latestDueDate=latest
    ):
        net.call(net.propose_fn(invoice_id, UINT64_MAX), "buyer")


# -- write-offs --------------------------------------------------------------------------------------


def test_contracts_write_off_of_an_unfinanced_receivable(net: Net) -> None:
    invoice_id = net.confirmed()
    net.repay(invoice_id, "250.00")
    net.defaulted(invoice_id)
    before = net.invoice(invoice_id)
    receipt = net.send(net.write_off_fn(invoice_id), "supplier")
    (written,) = net.events(receipt, "InvoiceWrittenOff")
    assert dict(written) == {"invoiceId": invoice_id, "holder": net.addr("supplier"), "amount": 75_000}
    assert net.invoice(invoice_id) == {**before, "status": WRITTEN_OFF}
    # The receivable stays: its token and holder, and nothing else can be done to it but payment.
    assert net.owner(invoice_id) == net.addr("supplier")
    with reverts("InvoiceNotDefaulted", invoiceId=invoice_id, status=WRITTEN_OFF):
        net.send(net.write_off_fn(invoice_id), "supplier")


def test_contracts_write_off_of_a_financed_receivable_is_the_financiers_claim(net: Net) -> None:
    invoice_id = _part_paid(net)
    net.defaulted(invoice_id)
    receipt = net.send(net.write_off_fn(invoice_id), "financier")
    # Due 900, paid to it 300: it writes off 600 (the buyer still owes 700; the 100 reserve is the seller's).
    assert [dict(e) for e in net.events(receipt, "InvoiceWrittenOff")] == [
        {"invoiceId": invoice_id, "holder": net.addr("financier"), "amount": 60_000}
    ]
    assert net.invoice(invoice_id)["status"] == WRITTEN_OFF


def test_contracts_write_off_refusals(net: Net) -> None:
    invoice_id = net.financed_raw()
    with reverts("InvoiceNotDefaulted", invoiceId=invoice_id, status=FINANCED):
        net.send(net.write_off_fn(invoice_id), "financier")
    net.defaulted(invoice_id)
    for who in ("supplier", "buyer", "financier2"):
        with reverts("NotInvoiceHolder", invoiceId=invoice_id, account=net.addr(who), holder=net.addr("financier")):
            net.send(net.write_off_fn(invoice_id), who)
    with reverts("InvoiceNotFound", invoiceId=999):
        net.send(net.write_off_fn(999), "financier")


def test_contracts_default_with_nothing_owed_to_the_holder(net: Net) -> None:
    """The buyer paid the financier's due (900) but not the reserve: the financier has no claim
    to declare in default (the unpaid reserve is the seller's); the seller is not the holder."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000)
    net.repay(invoice_id, "900.00")
    net.mine_at(net.defaultable_after(invoice_id) + 1)
    with reverts("NothingOwed", invoiceId=invoice_id):
        net.send(net.default_fn(invoice_id), "financier")
    with reverts("NotInvoiceHolder", invoiceId=invoice_id, account=net.addr("supplier"), holder=net.addr("financier")):
        net.send(net.default_fn(invoice_id), "supplier")
    assert net.invoice(invoice_id)["status"] == PARTIALLY_PAID


def test_contracts_write_off_after_recoveries_paid_the_holder(net: Net) -> None:
    """Defaulted with 900 owed; recoveries pay the financier's 900: nothing is left to write off."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000)
    receipt = net.defaulted(invoice_id)
    (defaulted,) = net.events(receipt, "InvoiceDefaulted")
    assert (defaulted["outstanding"], defaulted["holderClaim"]) == (100_000, 90_000)
    net.repay(invoice_id, "900.00")
    with reverts("NothingOwed", invoiceId=invoice_id):
        net.send(net.write_off_fn(invoice_id), "financier")


# -- roles and rules ---------------------------------------------------------------------------------


def test_contracts_remedies_refused_while_paused(net: Net) -> None:
    disputed = net.confirmed(number="INV-D")
    net.send(net.dispute_fn(disputed), "buyer")
    open_ = net.financed_raw(number="INV-O", recourse=True)
    due = net.invoice(open_)["dueDate"]
    net.send(net.propose_fn(open_, due + DAY), "buyer")
    defaulted = net.financed_raw(number="INV-X", recourse=True)
    net.defaulted(defaulted)
    net.set_paused(True)
    calls = [
        (net.dispute_fn(open_, REASON), "buyer"),
        (net.withdraw_dispute_fn(disputed), "buyer"),
        (net.credit_note_fn(open_, 1), "supplier"),
        (net.propose_fn(open_, due + 2 * DAY), "buyer"),
        (net.accept_fn(open_, due + DAY), "financier"),
        (net.default_fn(open_), "financier"),
        (net.write_off_fn(defaulted), "financier"),
        (net.buy_back_fn(defaulted), "financier"),
        (net.invoices.functions.repay(defaulted, 1), "buyer"),
    ]
    block = net.ledger.w3.eth.block_number
    for fn, who in calls:
        with reverts("EnforcedPause"):
            net.send(fn, who)
    assert net.ledger.w3.eth.block_number == block
    # setGracePeriod is the operator's and works while paused (as setMaxTenor does).
    net.send(net.invoices.functions.setGracePeriod(GRACE), "operator")


def test_contracts_remedies_open_to_suspended_parties_except_extensions(net: Net) -> None:
    """Enforcement of terms never waits for KYC: a suspended holder defaults and writes off,
    a suspended buyer disputes and withdraws it."""
    invoice_id = net.confirmed()
    net.suspend("buyer")
    net.send(net.dispute_fn(invoice_id, REASON), "buyer")
    net.send(net.withdraw_dispute_fn(invoice_id), "buyer")
    net.suspend("supplier")
    net.defaulted(invoice_id, "supplier")
    net.send(net.write_off_fn(invoice_id), "supplier")
    assert net.invoice(invoice_id)["status"] == WRITTEN_OFF


# -- parts of a split ---------------------------------------------------------------------------------


def test_contracts_split_parts_disputed_and_defaulted_under_repay_root(net: Net) -> None:
    """Root 1,000 split 300 / 300 / 400 (holders supplier, supplier2, buyer2). Part b is disputed:
    repayRoot pays a and c pro rata and skips b. Part c defaults: it still gets its share, a recovery."""
    root = net.confirmed()
    a, b, c = net.split(root, [("supplier", 30_000), ("supplier2", 30_000), ("buyer2", 40_000)])
    receipt = net.send(net.dispute_fn(b, REASON), "buyer")
    assert net.events(receipt, "InvoiceDisputed")[0]["previous"] == CONFIRMED
    assert net.invoice(root)["status"] == SPLIT and net.invoice(b)["status"] == DISPUTED
    net.approve_hkd("buyer", AMOUNT)
    before = net.balances("buyer", "supplier", "supplier2", "buyer2")
    # 7,001 across a (30,000 open) and c (40,000 open): floor 3,000 and 4,000, the unit left to a.
    receipt = net.send(net.repay_root_fn(root, 7_001), "buyer")
    assert _shares(7_001, [30_000, 40_000]) == [3_001, 4_000]
    assert [(r["invoiceId"], r["payee"], r["amount"]) for r in net.events(receipt, "InvoiceRepaid")] == [
        (a, net.addr("supplier"), 3_001),
        (c, net.addr("buyer2"), 4_000),
    ]
    assert dict(net.events(receipt, "RootRepaid")[0]) == {
        "rootId": root,
        "payer": net.addr("buyer"),
        "amount": 7_001,
        "leaves": 2,
    }
    # What the disputed part leaves out of reach: at most a's and c's open amounts (26,999 + 36,000).
    with reverts("InvalidRepayment", invoiceId=root, amount=62_999 + 1, outstanding=62_999):
        net.send(net.repay_root_fn(root, 63_000), "buyer")
    # Part c's holder declares a default after the grace period; the buyer pays across again.
    receipt = net.defaulted(c, "buyer2")
    assert dict(net.events(receipt, "InvoiceDefaulted")[0]) == {
        "invoiceId": c,
        "holder": net.addr("buyer2"),
        "outstanding": 36_000,
        "holderClaim": 36_000,
    }
    receipt = net.send(net.repay_root_fn(root, 62_999), "buyer")
    assert [(r["invoiceId"], r["amount"], r["totalPaid"]) for r in net.events(receipt, "InvoiceRepaid")] == [
        (a, 26_999, 30_000),
        (c, 36_000, 40_000),
    ]
    assert [net.invoice(x)["status"] for x in (a, b, c)] == [PAID, DISPUTED, PAID]
    # The dispute withdrawn, b is paid on its own.
    net.send(net.withdraw_dispute_fn(b), "buyer")
    receipt = net.send(net.repay_root_fn(root, 30_000), "buyer")
    assert [(r["invoiceId"], r["amount"]) for r in net.events(receipt, "InvoiceRepaid")] == [(b, 30_000)]
    assert net.balances("buyer", "supplier", "supplier2", "buyer2") == {
        "buyer": before["buyer"] - AMOUNT,
        "supplier": before["supplier"] + 30_000,
        "supplier2": before["supplier2"] + 30_000,
        "buyer2": before["buyer2"] + 40_000,
    }


def test_contracts_split_part_written_off_still_receives_its_share(net: Net) -> None:
    root = net.confirmed()
    a, b = net.split(root, [("supplier", 60_000), ("supplier2", 40_000)])
    net.defaulted(b, "supplier2")
    net.send(net.write_off_fn(b), "supplier2")
    net.approve_hkd("buyer", AMOUNT)
    before = net.balances("supplier", "supplier2")
    receipt = net.send(net.repay_root_fn(root, 50_000), "buyer")
    assert [(r["invoiceId"], r["amount"]) for r in net.events(receipt, "InvoiceRepaid")] == [(a, 30_000), (b, 20_000)]
    assert [net.invoice(x)["status"] for x in (a, b)] == [PARTIALLY_PAID, WRITTEN_OFF]
    assert net.balances("supplier", "supplier2") == {
        "supplier": before["supplier"] + 30_000,
        "supplier2": before["supplier2"] + 20_000,
    }


# -- attacks ----------------------------------------------------------------------------------------


def test_contracts_attack_buyer_disputes_to_escape_a_default_then_pays(net: Net) -> None:
    """After the grace period the buyer disputes to stop the default. The dispute holds the
    default off (as the issue requires), but does not restart the clock: withdrawn, the
    holder defaults at once; and the buyer cannot pay while its own dispute stands."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000)
    net.mine_at(net.defaultable_after(invoice_id) + 1)
    net.send(net.dispute_fn(invoice_id, REASON), "buyer")
    with reverts("InvoiceNotOpen", invoiceId=invoice_id, status=DISPUTED):
        net.send(net.default_fn(invoice_id), "financier")
    net.approve_hkd("buyer", AMOUNT)
    with reverts("InvoiceNotPayable", invoiceId=invoice_id, status=DISPUTED):
        net.send(net.invoices.functions.repay(invoice_id, AMOUNT), "buyer")
    net.send(net.withdraw_dispute_fn(invoice_id), "buyer")
    assert net.invoice(invoice_id)["status"] == FINANCED
    net.send(net.default_fn(invoice_id), "financier")
    before = net.balances("financier", "supplier", "buyer")
    receipt = net.send(net.invoices.functions.repay(invoice_id, AMOUNT), "buyer")
    (repaid,) = net.events(receipt, "InvoiceRepaid")
    assert (repaid["toHolder"], repaid["totalPaid"]) == (90_000, AMOUNT)
    assert net.invoice(invoice_id)["status"] == PAID
    assert net.balances("financier", "supplier", "buyer") == {
        "financier": before["financier"] + 90_000,
        "supplier": before["supplier"] + 10_000,
        "buyer": before["buyer"] - AMOUNT,
    }


@pytest.mark.parametrize("written_off", [False, True], ids=["defaulted", "written-off"])
def test_contracts_attack_holder_moves_a_defaulted_receivable(net: Net, written_off: bool) -> None:
    invoice_id = net.financed_raw()
    net.defaulted(invoice_id)
    status = DEFAULTED
    if written_off:
        net.send(net.write_off_fn(invoice_id), "financier")
        status = WRITTEN_OFF
    before = _state(net, invoice_id)
    with reverts("InvoiceNotTransferable", invoiceId=invoice_id, status=status):
        net.transfer(invoice_id, "financier", "financier2")
    with reverts("InvoiceNotTransferable", invoiceId=invoice_id, status=status):
        net.send(net.transfer_ref_fn(invoice_id, "financier2"), "financier")
    safe = net.invoices.functions.safeTransferFrom(net.addr("financier"), net.addr("financier2"), invoice_id)
    with reverts("InvoiceNotTransferable", invoiceId=invoice_id, status=status):
        net.send(safe, "financier")
    # Nor relisted, refinanced or split.
    with reverts("InvoiceAlreadyFinanced", invoiceId=invoice_id, seller=net.addr("supplier")):
        net.send(net.offer_fn(invoice_id), "financier")
    with reverts("SplitFinanced", invoiceId=invoice_id, seller=net.addr("supplier")):
        net.split(invoice_id, [("financier", 50_000), ("financier2", 50_000)], holder="financier")
    assert _state(net, invoice_id) == before


def test_contracts_attack_approved_operator_cannot_move_a_defaulted_receivable(net: Net) -> None:
    """An approval is still granted on a Defaulted token (ERC-721 consent, no business), but it
    moves nothing: every transfer checks the status."""
    invoice_id = net.confirmed()
    net.defaulted(invoice_id)
    f = net.invoices.functions
    net.send(f.approve(net.addr("supplier2"), invoice_id), "supplier")
    net.send(f.setApprovalForAll(net.addr("financier2"), True), "supplier")
    assert f.getApproved(invoice_id).call() == net.addr("supplier2")
    for operator in ("supplier2", "financier2"):
        with reverts("InvoiceNotTransferable", invoiceId=invoice_id, status=DEFAULTED):
            net.send(f.transferFrom(net.addr("supplier"), net.addr(operator), invoice_id), operator)
    assert net.owner(invoice_id) == net.addr("supplier")


def test_contracts_remedies_on_a_receivable_that_does_not_exist(net: Net) -> None:
    for fn, who in (
        (net.dispute_fn(77, ZERO32), "buyer"),
        (net.withdraw_dispute_fn(77), "buyer"),
        (net.propose_fn(77, net.now() + DAY), "buyer"),
        (net.accept_fn(77, net.now() + DAY), "supplier"),
        (net.default_fn(77), "supplier"),
        (net.write_off_fn(77), "supplier"),
        (net.credit_note_fn(77, 1), "supplier"),
        (net.buy_back_fn(77), "supplier"),
    ):
        with reverts("InvoiceNotFound", invoiceId=77):
            net.send(fn, who)
