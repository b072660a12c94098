"""Settlement in InvoiceToken (version 2): repayment and the reserve waterfall,
a fee-on-transfer settlement token, and transfers of the receivable.

Every rule the contracts enforce has a test that tries to break it by calling
the contract directly (``contract.functions.X(...)`` through ``Net.send`` of
``support.contracts``), not through ``Ledger`` helpers that may check first.
Every revert is checked by its custom error and by the values it carries; the
base scenario of ``conftest.py`` is restored after each test by the ``chain``
fixture. Tests named ``..._attack_...`` reproduce an attack and show that it is
repelled.
"""

from __future__ import annotations

from typing import Any
from unittest.mock import ANY

import pytest
from support.contracts import (
    AMOUNT,
    BUYER,
    CANCELLED,
    DAY,
    ISSUED,
    PAID,
    PARTIALLY_PAID,
    Net,
    reverts,
    transfer,
)

# -- repayment and the reserve waterfall ------------------------------------------------------------


def _repay(net: Net, amount: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A raw repay by the buyer: its InvoiceRepaid and ReserveReleased events."""
    net.approve_hkd("buyer", amount)
    receipt = net.send(net.invoices.functions.repay(1, amount), "buyer")
    (repaid,) = net.events(receipt, "InvoiceRepaid")
    return dict(repaid), [dict(e) for e in net.events(receipt, "ReserveReleased")]


def test_contracts_repay_reserve_waterfall_partial_late_multi_part(net: Net) -> None:
    """Financed at 800 with the financier due 900 of 1,000: reserve 100 for the seller.
    Four payments, the last two after the due date; every minor unit accounted for."""
    net.financed(advance="800.00", due="900.00", days=30, offer_days=7)
    parties = ("supplier", "financier", "buyer")
    start = net.balances(*parties)
    steps = [
        # amount, toHolder, reserve released, totalPaid, late
        (30_000, 30_000, 0, 30_000, False),
        (50_000, 50_000, 0, 80_000, False),
        (15_000, 10_000, 5_000, 95_000, True),  # straddles the financier's due
        (5_000, 0, 5_000, AMOUNT, True),  # only reserve left
    ]
    to_financier = to_seller = paid = 0
    for amount, to_holder, reserve, total, late in steps:
        if late and net.now() <= net.invoice(1)["dueDate"]:
            net.advance_time(net.invoice(1)["dueDate"] - net.now() + 3 * DAY)
        repaid, released = _repay(net, amount)
        assert repaid == {
            "invoiceId": 1,
            "payer": net.addr("buyer"),
            "payee": net.addr("financier"),
            "amount": amount,
            "toHolder": to_holder,
            "totalPaid": total,
        }
        assert released == ([{"invoiceId": 1, "seller": net.addr("supplier"), "amount": reserve}] if reserve else [])
        to_financier += to_holder
        to_seller += reserve
        paid += amount
        assert net.balances(*parties) == {
            "supplier": start["supplier"] + to_seller,
            "financier": start["financier"] + to_financier,
            "buyer": start["buyer"] - paid,
        }
        inv = net.invoice(1)
        assert (inv["paid"], inv["financierPaid"], inv["financierDue"]) == (total, to_financier, 90_000)
        assert inv["status"] == (PAID if total == AMOUNT else PARTIALLY_PAID)
    assert (to_financier, to_seller, paid) == (90_000, 10_000, AMOUNT)
    assert net.token.functions.balanceOf(net.invoices.address).call() == 0
    with reverts("InvoiceNotPayable", invoiceId=1, status=PAID):
        net.send(net.invoices.functions.repay(1, 1), "buyer")


def test_contracts_repay_one_payment_straddles_financier_due(net: Net) -> None:
    net.financed(advance="800.00", due="900.00")
    start = net.balances("supplier", "financier")
    net.approve_hkd("buyer", 95_000)
    repaid, released = _repay(net, 95_000)
    assert (repaid["toHolder"], repaid["totalPaid"]) == (90_000, 95_000)
    assert released == [{"invoiceId": 1, "seller": net.addr("supplier"), "amount": 5_000}]
    assert net.balances("supplier", "financier") == {
        "supplier": start["supplier"] + 5_000,
        "financier": start["financier"] + 90_000,
    }
    # Through the Ledger, the rest: reserve only.
    result = net.ledger.repay(net.acct("buyer"), 1, "50.00")
    assert (result["to_payee"], result["reserve_released"], result["status"]) == ("0.00", "50.00", "Paid")
    assert result["seller"]["name"] == "Kowloon Precision Parts Ltd"


def test_contracts_repay_after_resale_pays_new_financier(net: Net) -> None:
    """The financier sells the receivable on: the buyer then pays the new holder
    what is left of the financier's due, and the original seller its reserve."""
    net.financed(advance="800.00", due="900.00")
    parties = ("supplier", "financier", "financier2")
    start = net.balances(*parties)
    repaid, _ = _repay(net, 20_000)
    assert (repaid["payee"], repaid["toHolder"]) == (net.addr("financier"), 20_000)
    transfer(net, 1, "financier", "financier2")
    repaid, released = _repay(net, 80_000)
    assert (repaid["payee"], repaid["toHolder"], repaid["totalPaid"]) == (net.addr("financier2"), 70_000, AMOUNT)
    assert released == [{"invoiceId": 1, "seller": net.addr("supplier"), "amount": 10_000}]
    assert net.balances(*parties) == {
        "supplier": start["supplier"] + 10_000,
        "financier": start["financier"] + 20_000,
        "financier2": start["financier2"] + 70_000,
    }
    inv = net.invoice(1)
    assert (inv["status"], inv["seller"], inv["financierPaid"]) == (PAID, net.addr("supplier"), 90_000)


def test_contracts_repay_due_equal_open_amount_no_reserve(net: Net) -> None:
    net.financed(advance="900.00")  # due defaults to the open amount: discounting
    assert net.invoice(1)["financierDue"] == AMOUNT
    start = net.balances("supplier", "financier")
    for amount in (40_000, 60_000):
        repaid, released = _repay(net, amount)
        assert (repaid["toHolder"], released) == (amount, [])
    assert net.balances("supplier", "financier") == {
        "supplier": start["supplier"],
        "financier": start["financier"] + AMOUNT,
    }
    assert net.invoice(1)["status"] == PAID


def test_contracts_repay_unfinanced_goes_to_holder(net: Net) -> None:
    net.confirmed()
    before = net.balances("supplier", "buyer")
    first = net.ledger.repay(net.acct("buyer"), 1, "400.00")
    assert (first["status"], first["payee"]["name"], first["outstanding"]) == (
        "PartiallyPaid",
        "Kowloon Precision Parts Ltd",
        "600.00",
    )
    (repaid,) = net.events(net.receipt(first), "InvoiceRepaid")
    assert dict(repaid) == {
        "invoiceId": 1,
        "payer": net.addr("buyer"),
        "payee": net.addr("supplier"),
        "amount": 40_000,
        "toHolder": 40_000,
        "totalPaid": 40_000,
    }
    assert net.events(net.receipt(first), "ReserveReleased") == []
    assert (net.invoice(1)["status"], net.invoice(1)["paid"]) == (PARTIALLY_PAID, 40_000)
    transfer(net, 1, "supplier", "supplier2")
    second = net.ledger.repay(net.acct("buyer"), 1, "600.00")
    (repaid,) = net.events(net.receipt(second), "InvoiceRepaid")
    assert (repaid["payee"], repaid["amount"], repaid["totalPaid"]) == (net.addr("supplier2"), 60_000, AMOUNT)
    assert (net.invoice(1)["status"], net.invoice(1)["paid"]) == (PAID, AMOUNT)
    assert net.balances("supplier", "buyer") == {
        "supplier": before["supplier"] + 40_000,
        "buyer": before["buyer"] - AMOUNT,
    }


def test_contracts_repay_by_suspended_buyer_succeeds(net: Net) -> None:
    # Settlement is never blocked by the registry: buyer, holder and seller all suspended.
    net.financed(advance="800.00", due="900.00")
    for who in ("buyer", "financier", "supplier"):
        net.suspend(who)
    start = net.balances("supplier", "financier")
    repaid, released = _repay(net, AMOUNT)
    assert (repaid["toHolder"], released[0]["amount"]) == (90_000, 10_000)
    assert net.balances("supplier", "financier") == {
        "supplier": start["supplier"] + 10_000,
        "financier": start["financier"] + 90_000,
    }
    assert net.invoice(1)["status"] == PAID


def test_contracts_repay_by_kyc_expired_buyer_succeeds(net: Net) -> None:
    net.confirmed(days=5 * 365)  # due after everyone's KYC (3 years) lapses
    buyer_expiry = net.kyc_expiry("buyer")
    net.advance_time(buyer_expiry - net.now() + DAY)
    assert net.registry.functions.isActive(net.addr("buyer"), BUYER).call() is False
    before = net.balance("supplier")
    net.ledger.repay(net.acct("buyer"), 1, "100.00")
    assert net.invoice(1)["paid"] == 10_000
    assert net.balance("supplier") == before + 10_000
    # But new business is refused: the supplier (KYC expired too) cannot issue.
    supplier_expiry = net.kyc_expiry("supplier")
    with reverts("ParticipantKycExpired", account=net.addr("supplier"), kycExpiry=supplier_expiry, nowTimestamp=ANY):
        net.issue(number="INV-2", days=30)


@pytest.mark.parametrize("who", ["buyer2", "supplier", "financier"])
def test_contracts_attack_repay_by_non_buyer_refused(net: Net, who: str) -> None:
    # A payment by another party must not be recorded as the buyer's.
    net.financed()
    net.approve_hkd(who, AMOUNT)
    with reverts("NotInvoiceBuyer", invoiceId=1, account=net.addr(who), buyer=net.addr("buyer")):
        net.send(net.invoices.functions.repay(1, 100), who)
    assert net.invoice(1)["paid"] == 0


def test_contracts_repay_over_outstanding(net: Net) -> None:
    net.confirmed()
    with reverts("InvalidRepayment", invoiceId=1, amount=AMOUNT + 1, outstanding=AMOUNT):
        net.ledger.repay(net.acct("buyer"), 1, "1000.01")
    net.ledger.repay(net.acct("buyer"), 1, "300.00")
    with reverts("InvalidRepayment", invoiceId=1, amount=70_001, outstanding=70_000):
        net.ledger.repay(net.acct("buyer"), 1, "700.01")
    net.approve_hkd("buyer", AMOUNT)
    with reverts("InvalidRepayment", invoiceId=1, amount=0, outstanding=70_000):
        net.send(net.invoices.functions.repay(1, 0), "buyer")
    with reverts("InvalidRepayment", invoiceId=1, amount=2**256 - 1, outstanding=70_000):
        net.send(net.invoices.functions.repay(1, 2**256 - 1), "buyer")


def test_contracts_repay_not_payable(net: Net) -> None:
    net.issue("INV-1")
    net.approve_hkd("buyer", AMOUNT)
    with reverts("InvoiceNotPayable", invoiceId=1, status=ISSUED):
        net.send(net.invoices.functions.repay(1, 100), "buyer")
    net.ledger.cancel(net.acct("supplier"), 1)
    with reverts("InvoiceNotPayable", invoiceId=1, status=CANCELLED):
        net.send(net.invoices.functions.repay(1, 100), "buyer")
    net.confirmed(number="INV-2")
    net.ledger.repay(net.acct("buyer"), 2, "1000.00")
    with reverts("InvoiceNotPayable", invoiceId=2, status=PAID):
        net.send(net.invoices.functions.repay(2, 100), "buyer")


# -- a fee-on-transfer settlement token --------------------------------------------------------------


def test_contracts_attack_fee_on_transfer_token_settlement_refused(
    net: Net, fee_token_artifact: dict[str, Any]
) -> None:
    """The currency manager accepts a token that burns 1% per transfer: financing
    and repayment in it revert with SettlementShortfall and change nothing."""
    fot = net.deploy(fee_token_artifact["abi"], fee_token_artifact["bytecode"])
    for who in ("financier", "buyer"):
        net.send(fot.functions.mint(net.addr(who), 10 * AMOUNT), who)
        net.send(fot.functions.approve(net.invoices.address, 10 * AMOUNT), who)
    net.send(net.invoices.functions.setCurrencyAccepted(fot.address, True), "operator")
    invoice_id = net.issue_raw("FOT-1", currency=fot.address)
    net.send(net.invoices.functions.confirm(invoice_id), "buyer")
    net.send(net.offer_fn(invoice_id), "supplier")
    parties = ("supplier", "financier", "buyer")

    def state() -> Any:
        return (
            net.balances(*parties, token=fot),
            net.owner(invoice_id),
            net.invoice(invoice_id),
            net.listing(invoice_id),
        )

    before = state()
    assert before[2]["currency"] == fot.address
    with reverts(
        "SettlementShortfall", currency=fot.address, to=net.addr("supplier"), expected=90_000, received=89_100
    ):
        net.send(net.finance_fn(invoice_id, 90_000), "financier")
    assert state() == before
    with reverts(
        "SettlementShortfall", currency=fot.address, to=net.addr("supplier"), expected=AMOUNT, received=99_000
    ):
        net.send(net.invoices.functions.repay(invoice_id, AMOUNT), "buyer")
    assert state() == before


# -- transfers -------------------------------------------------------------------------------


def test_contracts_transfer_between_participants(net: Net) -> None:
    net.confirmed()
    transfer(net, 1, "supplier", "supplier2")
    assert net.owner(1) == net.addr("supplier2")
    before = net.balance("supplier2")
    result = net.ledger.repay(net.acct("buyer"), 1, "1000.00")
    assert result["payee"]["name"] == "Sham Shui Po Textiles Ltd"
    assert net.balance("supplier2") == before + AMOUNT


def test_contracts_transfer_to_non_participant(net: Net) -> None:
    net.financed()
    with reverts("ParticipantNotAdmitted", account=net.addr("dev9")):
        transfer(net, 1, "financier", "dev9")
    assert net.owner(1) == net.addr("financier")


def test_contracts_transfer_to_suspended_participant(net: Net) -> None:
    net.confirmed()
    net.suspend("supplier2")
    with reverts("ParticipantIsSuspended", account=net.addr("supplier2")):
        transfer(net, 1, "supplier", "supplier2")


def test_contracts_transfer_unconfirmed_or_paid(net: Net) -> None:
    net.issue("INV-1")
    with reverts("InvoiceNotTransferable", invoiceId=1, status=ISSUED):
        transfer(net, 1, "supplier", "supplier2")
    net.confirmed(number="INV-2")
    net.ledger.repay(net.acct("buyer"), 2, "1000.00")
    with reverts("InvoiceNotTransferable", invoiceId=2, status=PAID):
        transfer(net, 2, "supplier", "supplier2")


def test_contracts_transfer_while_paused(net: Net) -> None:
    net.confirmed()
    net.set_paused(True)
    with reverts("EnforcedPause"):
        transfer(net, 1, "supplier", "supplier2")
    with reverts("EnforcedPause"):
        net.send(net.invoices.functions.safeTransferFrom(net.addr("supplier"), net.addr("supplier2"), 1), "supplier")
    assert net.owner(1) == net.addr("supplier")
