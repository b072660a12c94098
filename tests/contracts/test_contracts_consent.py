"""The holder's consent in InvoiceToken (version 2): confirm and cancel, the
listing that financing needs, and approvals.

Every rule the contracts enforce has a test that tries to break it by calling
the contract directly (``contract.functions.X(...)`` through ``Net.send`` of
``support.contracts``), not through ``Ledger`` helpers that may check first.
Every revert is checked by its custom error and by the values it carries; the
base scenario of ``conftest.py`` is restored after each test by the ``chain``
fixture. Tests named ``..._attack_...`` reproduce an attack and show that it is
repelled.
"""

from __future__ import annotations

from unittest.mock import ANY

import pytest
from support.contracts import (
    AMOUNT,
    CANCELLED,
    CONFIRMED,
    DAY,
    ISSUED,
    UINT96_MAX,
    ZERO_ADDRESS,
    Net,
    reverts,
    transfer,
)

# -- confirm and cancel --------------------------------------------------------------------


def test_contracts_confirm_by_buyer(net: Net) -> None:
    net.issue()
    receipt = net.receipt(net.ledger.confirm(net.acct("buyer"), 1))
    (confirmed,) = net.events(receipt, "InvoiceConfirmed")
    assert dict(confirmed) == {"invoiceId": 1, "buyer": net.addr("buyer")}
    assert net.invoice(1)["status"] == CONFIRMED


@pytest.mark.parametrize("who", ["buyer2", "supplier", "financier"])
def test_contracts_confirm_by_non_buyer(net: Net, who: str) -> None:
    net.issue()
    with reverts("NotInvoiceBuyer", invoiceId=1, account=net.addr(who), buyer=net.addr("buyer")):
        net.send(net.invoices.functions.confirm(1), who)
    assert net.invoice(1)["status"] == ISSUED


def test_contracts_confirm_twice(net: Net) -> None:
    net.confirmed()
    with reverts("InvoiceNotIssued", invoiceId=1, status=CONFIRMED):
        net.send(net.invoices.functions.confirm(1), "buyer")


@pytest.mark.parametrize("who", ["supplier2", "buyer"])
def test_contracts_cancel_by_non_supplier(net: Net, who: str) -> None:
    net.issue()
    with reverts("NotInvoiceSupplier", invoiceId=1, account=net.addr(who), supplier=net.addr("supplier")):
        net.send(net.invoices.functions.cancel(1), who)
    assert net.invoice(1)["status"] == ISSUED


def test_contracts_cancel_after_confirm(net: Net) -> None:
    net.confirmed()
    with reverts("InvoiceNotIssued", invoiceId=1, status=CONFIRMED):
        net.send(net.invoices.functions.cancel(1), "supplier")
    assert net.owner(1) == net.addr("supplier")


def test_contracts_cancel_burns_token(net: Net) -> None:
    net.issue()
    receipt = net.receipt(net.ledger.cancel(net.acct("supplier"), 1))
    (cancelled,) = net.events(receipt, "InvoiceCancelled")
    assert dict(cancelled) == {"invoiceId": 1, "supplier": net.addr("supplier")}
    (burnt,) = net.events(receipt, "Transfer")
    assert dict(burnt) == {"from": net.addr("supplier"), "to": ZERO_ADDRESS, "tokenId": 1}
    with reverts("ERC721NonexistentToken", tokenId=1):
        net.call(net.invoices.functions.ownerOf(1))
    assert net.invoices.functions.balanceOf(net.addr("supplier")).call() == 0
    assert net.invoice(1)["status"] == CANCELLED
    with reverts("InvoiceNotIssued", invoiceId=1, status=CANCELLED):
        net.send(net.invoices.functions.cancel(1), "supplier")
    with reverts("InvoiceNotIssued", invoiceId=1, status=CANCELLED):
        net.send(net.invoices.functions.confirm(1), "buyer")


# -- listing: the holder's consent ------------------------------------------------------------


def test_contracts_offer_rules(net: Net) -> None:
    net.issue()
    future = net.now() + DAY
    with reverts("InvoiceNotConfirmed", invoiceId=1, status=ISSUED):
        net.send(net.offer_fn(1, expiry=future), "supplier")
    net.ledger.confirm(net.acct("buyer"), 1)
    with reverts("NotInvoiceHolder", invoiceId=1, account=net.addr("buyer"), holder=net.addr("supplier")):
        net.send(net.offer_fn(1, expiry=future), "buyer")
    net.mine_at(net.now() + 10)
    with reverts("InvalidOfferExpiry", invoiceId=1, expiry=net.now()):
        net.call(net.offer_fn(1, expiry=net.now()), "supplier")
    receipt = net.send(net.offer_fn(1, "financier", 90_000, future), "supplier")
    (offered,) = net.events(receipt, "FinancingOffered")
    assert dict(offered) == {
        "invoiceId": 1,
        "holder": net.addr("supplier"),
        "financier": net.addr("financier"),
        "minAdvance": 90_000,
        "expiry": future,
        "recourse": False,
    }
    assert net.listing(1) == (net.addr("financier"), future, 90_000)
    assert net.listing_recourse(1) is False
    with reverts("NotInvoiceHolder", invoiceId=1, account=net.addr("buyer"), holder=net.addr("supplier")):
        net.send(net.invoices.functions.withdrawOffer(1), "buyer")
    net.ledger.finance(net.acct("financier"), 1, advance="900.00")
    assert net.listing(1) == (ZERO_ADDRESS, 0, 0)  # consumed by the financing
    with reverts("InvoiceAlreadyFinanced", invoiceId=1, seller=net.addr("supplier")):
        net.send(net.offer_fn(1), "financier")


@pytest.mark.parametrize("ask", [0, AMOUNT + 1, UINT96_MAX, 2**256 - 1])
def test_contracts_attack_listing_with_invalid_ask_refused(net: Net, ask: int) -> None:
    net.confirmed()
    with reverts("InvalidAsk", invoiceId=1, minAdvance=ask, outstanding=AMOUNT):
        net.send(net.offer_fn(1, min_advance=ask), "supplier")
    assert net.listing(1) == (ZERO_ADDRESS, 0, 0)
    # The whole open amount is a valid ask.
    net.send(net.offer_fn(1, min_advance=AMOUNT), "supplier")


def test_contracts_attack_finance_without_listing_refused(net: Net) -> None:
    net.confirmed()
    net.approve_hkd("financier", 90_000)
    with reverts("FinancingNotAuthorized", invoiceId=1, holder=net.addr("supplier"), financier=net.addr("financier")):
        net.send(net.finance_fn(1, 90_000), "financier")
    assert net.owner(1) == net.addr("supplier")


def test_contracts_attack_finance_with_erc721_approval_only_refused(net: Net) -> None:
    # An ERC-721 approval lets the financier move the token, but it is no consent to a price.
    net.confirmed()
    net.send(net.invoices.functions.approve(net.addr("financier"), 1), "supplier")
    assert net.invoices.functions.getApproved(1).call() == net.addr("financier")
    net.approve_hkd("financier", 1)
    before = (net.balances("supplier", "financier"), net.invoice(1))
    with reverts("FinancingNotAuthorized", invoiceId=1, holder=net.addr("supplier"), financier=net.addr("financier")):
        net.send(net.finance_fn(1, 1, due=1), "financier")
    assert (net.balances("supplier", "financier"), net.invoice(1)) == before
    assert net.owner(1) == net.addr("supplier")


def test_contracts_attack_finance_with_operator_approval_only_refused(net: Net) -> None:
    net.confirmed()
    net.send(net.invoices.functions.setApprovalForAll(net.addr("financier"), True), "supplier")
    assert net.invoices.functions.isApprovedForAll(net.addr("supplier"), net.addr("financier")).call() is True
    net.approve_hkd("financier", 1)
    with reverts("FinancingNotAuthorized", invoiceId=1, holder=net.addr("supplier"), financier=net.addr("financier")):
        net.send(net.finance_fn(1, 1, due=1), "financier")
    assert net.owner(1) == net.addr("supplier")


def test_contracts_attack_listing_revived_by_transfer_round_trip_refused(net: Net) -> None:
    net.offered(min_advance="500.00")
    assert net.listing(1)[2] == 50_000
    # The holder sells to X off the listing's terms...
    receipt = transfer(net, 1, "supplier", "supplier2")
    assert [dict(e) for e in net.events(receipt, "FinancingOfferWithdrawn")] == [
        {"invoiceId": 1, "holder": net.addr("supplier")}
    ]
    assert net.listing(1) == (ZERO_ADDRESS, 0, 0)
    # ...and X hands it back: the old consent must not come back with it.
    receipt = transfer(net, 1, "supplier2", "supplier")
    assert net.events(receipt, "FinancingOfferWithdrawn") == []
    assert net.owner(1) == net.addr("supplier")
    assert net.listing(1) == (ZERO_ADDRESS, 0, 0)
    net.approve_hkd("financier", 50_000)
    with reverts("FinancingNotAuthorized", invoiceId=1, holder=net.addr("supplier"), financier=net.addr("financier")):
        net.send(net.finance_fn(1, 50_000), "financier")


def test_contracts_attack_listing_for_another_financier_refused(net: Net) -> None:
    net.offered(financier="financier2")
    net.approve_hkd("financier", 90_000)
    with reverts("FinancingNotAuthorized", invoiceId=1, holder=net.addr("supplier"), financier=net.addr("financier")):
        net.send(net.finance_fn(1, 90_000), "financier")
    net.ledger.finance(net.acct("financier2"), 1, advance="900.00")
    assert net.owner(1) == net.addr("financier2")


def test_contracts_attack_advance_below_ask_refused(net: Net) -> None:
    net.offered(min_advance="950.00")
    net.approve_hkd("financier", 95_000)
    with reverts("AdvanceBelowAsk", invoiceId=1, advance=94_999, minAdvance=95_000):
        net.send(net.finance_fn(1, 94_999), "financier")
    net.send(net.finance_fn(1, 95_000), "financier")
    assert net.owner(1) == net.addr("financier")


def test_contracts_attack_expired_listing_refused(net: Net) -> None:
    net.confirmed()
    expiry = net.now() + DAY
    net.send(net.offer_fn(1, expiry=expiry), "supplier")
    net.approve_hkd("financier", 90_000)
    net.mine_at(expiry)
    net.call(net.finance_fn(1, 90_000, deadline=expiry + 60), "financier")  # the expiry second is still live
    net.mine_at(expiry + 1)
    with reverts("FinancingNotAuthorized", invoiceId=1, holder=net.addr("supplier"), financier=net.addr("financier")):
        net.call(net.finance_fn(1, 90_000), "financier")
    net.advance_time(DAY)
    with reverts("FinancingNotAuthorized", invoiceId=1, holder=net.addr("supplier"), financier=net.addr("financier")):
        net.send(net.finance_fn(1, 90_000), "financier")


def test_contracts_attack_finance_withdrawn_listing_refused(net: Net) -> None:
    net.offered()
    receipt = net.send(net.invoices.functions.withdrawOffer(1), "supplier")
    (withdrawn,) = net.events(receipt, "FinancingOfferWithdrawn")
    assert dict(withdrawn) == {"invoiceId": 1, "holder": net.addr("supplier")}
    assert net.listing(1) == (ZERO_ADDRESS, 0, 0)
    net.approve_hkd("financier", 90_000)
    with reverts("FinancingNotAuthorized", invoiceId=1, holder=net.addr("supplier"), financier=net.addr("financier")):
        net.send(net.finance_fn(1, 90_000), "financier")


def test_contracts_withdraw_without_a_listing_refused(net: Net) -> None:
    """A withdrawal event always ends a real listing: never listed, or already
    withdrawn, is refused; a lapsed listing can still be cleared."""
    net.offered()
    net.send(net.invoices.functions.withdrawOffer(1), "supplier")
    with reverts("NotListed", invoiceId=1):
        net.send(net.invoices.functions.withdrawOffer(1), "supplier")
    net.send(net.offer_fn(1), "supplier")
    (_, expiry, _) = net.listing(1)
    net.mine_at(expiry + 1)
    receipt = net.send(net.invoices.functions.withdrawOffer(1), "supplier")
    assert len(net.events(receipt, "FinancingOfferWithdrawn")) == 1
    assert net.listing(1) == (ZERO_ADDRESS, 0, 0)


def test_contracts_listing_by_previous_holder_does_not_bind_new_holder(net: Net) -> None:
    net.offered()
    transfer(net, 1, "supplier", "supplier2")
    net.approve_hkd("financier", 90_000)
    with reverts("FinancingNotAuthorized", invoiceId=1, holder=net.addr("supplier2"), financier=net.addr("financier")):
        net.send(net.finance_fn(1, 90_000), "financier")
    # The new holder lists it itself: now it can be financed, and it is the seller.
    net.send(net.offer_fn(1), "supplier2")
    net.send(net.finance_fn(1, 90_000), "financier")
    assert net.invoice(1)["seller"] == net.addr("supplier2")


# -- approvals ---------------------------------------------------------------------------------


def test_contracts_attack_approvals_while_paused_refused(net: Net) -> None:
    net.confirmed()
    net.send(net.invoices.functions.setApprovalForAll(net.addr("financier"), True), "supplier")
    net.set_paused(True)
    with reverts("EnforcedPause"):
        net.send(net.invoices.functions.approve(net.addr("financier2"), 1), "supplier")
    with reverts("EnforcedPause"):
        net.send(net.invoices.functions.setApprovalForAll(net.addr("financier2"), True), "supplier")
    assert net.invoices.functions.getApproved(1).call() == ZERO_ADDRESS
    # Revoking is always allowed, even while paused.
    net.send(net.invoices.functions.setApprovalForAll(net.addr("financier"), False), "supplier")
    net.send(net.invoices.functions.approve(ZERO_ADDRESS, 1), "supplier")
    assert net.invoices.functions.isApprovedForAll(net.addr("supplier"), net.addr("financier")).call() is False


def test_contracts_attack_approvals_by_suspended_owner_refused(net: Net) -> None:
    net.confirmed()
    net.send(net.invoices.functions.approve(net.addr("financier"), 1), "supplier")
    net.send(net.invoices.functions.setApprovalForAll(net.addr("financier"), True), "supplier")
    net.send(net.offer_fn(1), "supplier")
    net.suspend("supplier")
    with reverts("ParticipantIsSuspended", account=net.addr("supplier")):
        net.send(net.invoices.functions.approve(net.addr("financier2"), 1), "supplier")
    with reverts("ParticipantIsSuspended", account=net.addr("supplier")):
        net.send(net.invoices.functions.setApprovalForAll(net.addr("financier2"), True), "supplier")
    # The approved operator cannot move the token of a suspended holder either.
    with reverts("ParticipantIsSuspended", account=net.addr("supplier")):
        net.send(net.invoices.functions.transferFrom(net.addr("supplier"), net.addr("financier"), 1), "financier")
    # Taking consent back is allowed: revoking approvals and withdrawing the listing.
    net.send(net.invoices.functions.approve(ZERO_ADDRESS, 1), "supplier")
    net.send(net.invoices.functions.setApprovalForAll(net.addr("financier"), False), "supplier")
    receipt = net.send(net.invoices.functions.withdrawOffer(1), "supplier")
    assert [dict(e) for e in net.events(receipt, "FinancingOfferWithdrawn")] == [
        {"invoiceId": 1, "holder": net.addr("supplier")}
    ]
    assert net.invoices.functions.getApproved(1).call() == ZERO_ADDRESS
    assert net.invoices.functions.isApprovedForAll(net.addr("supplier"), net.addr("financier")).call() is False
    assert net.listing(1) == (ZERO_ADDRESS, 0, 0)


def test_contracts_attack_approvals_by_kyc_expired_owner_refused(net: Net) -> None:
    net.confirmed(days=5 * 365)
    net.send(net.offer_fn(1, expiry=net.now() + 4 * 365 * DAY), "supplier")
    net.send(net.invoices.functions.setApprovalForAll(net.addr("financier"), True), "supplier")
    expiry = net.kyc_expiry("supplier")
    net.mine_at(expiry + DAY)
    now = net.now()
    with reverts("ParticipantKycExpired", account=net.addr("supplier"), kycExpiry=expiry, nowTimestamp=now):
        net.call(net.invoices.functions.approve(net.addr("financier2"), 1), "supplier")
    with reverts("ParticipantKycExpired", account=net.addr("supplier"), kycExpiry=expiry, nowTimestamp=ANY):
        net.send(net.invoices.functions.setApprovalForAll(net.addr("financier2"), True), "supplier")
    net.send(net.invoices.functions.setApprovalForAll(net.addr("financier"), False), "supplier")
    net.send(net.invoices.functions.withdrawOffer(1), "supplier")
    assert net.listing(1) == (ZERO_ADDRESS, 0, 0)
