"""Financing in InvoiceToken (version 2): delivery versus payment on the terms
priced, and every way to finance what must not be financed.

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
    FINANCED,
    FINANCIER,
    ISSUED,
    PAID,
    PARTIALLY_PAID,
    SUPPLIER,
    ZERO_ADDRESS,
    Net,
    reverts,
    transfer,
)

from ledger.business_time import due_timestamp
from ledger.errors import TransactionReverted

# -- financing: delivery versus payment on the terms priced ----------------------------------------


def test_contracts_finance_delivery_versus_payment(net: Net) -> None:
    net.offered(min_advance="900.00")
    before = net.balances("supplier", "financier")
    result = net.ledger.finance(net.acct("financier"), 1, advance="950.00", due="980.00")
    receipt = net.receipt(result)

    assert net.balances("supplier", "financier") == {
        "supplier": before["supplier"] + 95_000,
        "financier": before["financier"] - 95_000,
    }
    assert net.owner(1) == net.addr("financier")
    (financed,) = net.events(receipt, "InvoiceFinanced")
    assert dict(financed) == {
        "invoiceId": 1,
        "financier": net.addr("financier"),
        "seller": net.addr("supplier"),
        "advance": 95_000,
        "due": 98_000,
        "recourse": False,
        "gracePeriod": 7 * 86400,
    }
    (moved,) = net.events(receipt, "Transfer")
    assert dict(moved) == {"from": net.addr("supplier"), "to": net.addr("financier"), "tokenId": 1}
    # The listing is consumed by the financing, not withdrawn.
    assert net.events(receipt, "FinancingOfferWithdrawn") == []
    inv = net.invoice(1)
    assert (inv["status"], inv["seller"], inv["financierDue"], inv["financierPaid"], inv["paid"]) == (
        FINANCED,
        net.addr("supplier"),
        98_000,
        0,
        0,
    )
    assert (result["status"], result["seller"]["name"], result["reserve"]) == (
        "Financed",
        "Kowloon Precision Parts Ltd",
        "20.00",
    )
    # The financier approved exactly the advance, and all of it was taken.
    assert net.token.functions.allowance(net.addr("financier"), net.invoices.address).call() == 0


def test_contracts_attack_finance_twice_refused(net: Net) -> None:
    net.financed()
    supplier = net.addr("supplier")
    net.approve_hkd("financier2", AMOUNT)
    with reverts("InvoiceAlreadyFinanced", invoiceId=1, seller=supplier):
        net.send(net.finance_fn(1, 90_000), "financier2")
    # The financier lists what it bought: refused, and so is financing by anyone.
    with reverts("InvoiceAlreadyFinanced", invoiceId=1, seller=supplier):
        net.send(net.offer_fn(1), "financier")
    # Sold on to another financier, who tries to raise money on it again.
    transfer(net, 1, "financier", "financier2")
    with reverts("InvoiceAlreadyFinanced", invoiceId=1, seller=supplier):
        net.send(net.offer_fn(1), "financier2")
    net.approve_hkd("financier", AMOUNT)
    with reverts("InvoiceAlreadyFinanced", invoiceId=1, seller=supplier):
        net.send(net.finance_fn(1, 90_000), "financier")
    # Even after a partial repayment (status PartiallyPaid).
    net.ledger.repay(net.acct("buyer"), 1, "1.00")
    with reverts("InvoiceAlreadyFinanced", invoiceId=1, seller=supplier):
        net.send(net.finance_fn(1, 90_000), "financier")


def test_contracts_attack_seller_swapped_between_quote_and_finance_refused(net: Net) -> None:
    net.offered()
    net.approve_hkd("financier", 90_000)
    priced = net.terms(1, 90_000)  # priced on supplier as the seller
    # The holder passes the receivable to supplier2, which lists it at once.
    transfer(net, 1, "supplier", "supplier2")
    net.send(net.offer_fn(1), "supplier2")
    with reverts(
        "FinancingSellerChanged", invoiceId=1, expectedSeller=net.addr("supplier"), holder=net.addr("supplier2")
    ):
        net.send(net.invoices.functions.finance(1, priced), "financier")
    assert net.owner(1) == net.addr("supplier2")


@pytest.mark.parametrize("change", ["amount", "paid", "due_date", "all"])
def test_contracts_attack_stale_terms_refused(net: Net, change: str) -> None:
    net.offered()
    net.approve_hkd("financier", 90_000)
    due = net.invoice(1)["dueDate"]
    expected = {
        "amount": AMOUNT + 1 if change in ("amount", "all") else AMOUNT,
        "paid": 5 if change in ("paid", "all") else 0,
        "due_date": due - DAY if change in ("due_date", "all") else due,
    }
    with reverts(
        "FinancingTermsChanged",
        invoiceId=1,
        expectedAmount=expected["amount"],
        amount=AMOUNT,
        expectedPaid=expected["paid"],
        paid=0,
        expectedDueDate=expected["due_date"],
        dueDate=due,
    ):
        net.send(net.finance_fn(1, 90_000, **expected), "financier")


def test_contracts_attack_one_cent_repayment_cannot_block_financing(net: Net) -> None:
    """A buyer pays HKD 0.01 on a listed, unfinanced invoice to make it PartiallyPaid:
    it can still be listed and financed against its open amount; a financier that
    priced it before the payment (paid = 0) is refused, not financed on stale terms."""
    net.offered(min_advance="500.00")
    net.approve_hkd("financier", 90_000)
    stale = net.terms(1, 90_000)
    assert stale[4] == 0
    net.ledger.repay(net.acct("buyer"), 1, "0.01")
    inv = net.invoice(1)
    assert (inv["status"], inv["paid"]) == (PARTIALLY_PAID, 1)
    with reverts(
        "FinancingTermsChanged",
        invoiceId=1,
        expectedAmount=AMOUNT,
        amount=AMOUNT,
        expectedPaid=0,
        paid=1,
        expectedDueDate=inv["dueDate"],
        dueDate=inv["dueDate"],
    ):
        net.send(net.invoices.functions.finance(1, stale), "financier")
    # The due of the stale price would now be above the open amount.
    with reverts("InvalidFinancierDue", invoiceId=1, due=AMOUNT, outstanding=AMOUNT - 1):
        net.send(net.finance_fn(1, 90_000, due=AMOUNT), "financier")
    # The holder can list it again against its open amount...
    with reverts("InvalidAsk", invoiceId=1, minAdvance=AMOUNT, outstanding=AMOUNT - 1):
        net.send(net.offer_fn(1, min_advance=AMOUNT), "supplier")
    net.send(net.offer_fn(1, min_advance=AMOUNT - 1), "supplier")
    # ...and a financier pricing the invoice as it is now finances it.
    before = net.balances("supplier", "financier")
    net.approve_hkd("financier", AMOUNT - 1)
    receipt = net.send(net.finance_fn(1, AMOUNT - 1), "financier")
    (financed,) = net.events(receipt, "InvoiceFinanced")
    assert (financed["advance"], financed["due"]) == (AMOUNT - 1, AMOUNT - 1)
    assert net.balances("supplier", "financier") == {
        "supplier": before["supplier"] + AMOUNT - 1,
        "financier": before["financier"] - AMOUNT + 1,
    }
    inv = net.invoice(1)
    assert (inv["status"], inv["paid"], inv["financierDue"], inv["seller"]) == (
        FINANCED,
        1,
        AMOUNT - 1,
        net.addr("supplier"),
    )
    # The rest of the buyer's debt goes to the financier.
    result = net.ledger.repay(net.acct("buyer"), 1, "999.99")
    assert (result["to_payee"], result["status"]) == ("999.99", "Paid")
    assert net.balance("financier") == before["financier"]


def test_contracts_attack_self_financing_refused(net: Net) -> None:
    # A supplier that is also a financier lists its own receivable and "buys" it.
    net.admit("dev8", "Tai Po Trading Ltd", SUPPLIER | FINANCIER)
    net.ledger.mint(net.acct("operator"), net.addr("dev8"), "10000.00", "HKD")
    invoice_id = net.issue_raw("TP-1", supplier="dev8")
    net.send(net.invoices.functions.confirm(invoice_id), "buyer")
    net.send(net.offer_fn(invoice_id), "dev8")
    net.approve_hkd("dev8", 90_000)
    with reverts("SelfFinancing", invoiceId=invoice_id, account=net.addr("dev8")):
        net.send(net.finance_fn(invoice_id, 90_000), "dev8")
    assert net.invoice(invoice_id)["seller"] == ZERO_ADDRESS
    # A financier that acquired an unfinanced receivable cannot finance it to itself either.
    other = net.confirmed(number="INV-2")
    transfer(net, other, "supplier", "financier")
    net.send(net.offer_fn(other), "financier")
    net.approve_hkd("financier", 90_000)
    with reverts("SelfFinancing", invoiceId=other, account=net.addr("financier")):
        net.send(net.finance_fn(other, 90_000), "financier")


@pytest.mark.parametrize(("advance", "due"), [(80_001, 80_000), (0, 80_000), (0, 0), (AMOUNT + 1, AMOUNT)])
def test_contracts_attack_advance_above_due_refused(net: Net, advance: int, due: int) -> None:
    net.offered(min_advance="1.00")
    net.approve_hkd("financier", AMOUNT + 1)
    with reverts("InvalidAdvance", invoiceId=1, advance=advance, due=due):
        net.send(net.finance_fn(1, advance, due=due), "financier")


def test_contracts_attack_due_above_open_amount_refused(net: Net) -> None:
    net.offered()
    net.approve_hkd("financier", 90_000)
    with reverts("InvalidFinancierDue", invoiceId=1, due=AMOUNT + 1, outstanding=AMOUNT):
        net.send(net.finance_fn(1, 90_000, due=AMOUNT + 1), "financier")
    with reverts("InvalidFinancierDue", invoiceId=1, due=2**256 - 1, outstanding=AMOUNT):
        net.send(net.finance_fn(1, 90_000, due=2**256 - 1), "financier")
    # After a payment of HKD 100 the open amount is HKD 900.
    net.ledger.repay(net.acct("buyer"), 1, "100.00")
    with reverts("InvalidFinancierDue", invoiceId=1, due=90_001, outstanding=90_000):
        net.send(net.finance_fn(1, 80_000, due=90_001), "financier")
    net.send(net.finance_fn(1, 80_000, due=90_000), "financier")


def test_contracts_finance_full_face_advance(net: Net) -> None:
    net.offered()
    net.ledger.finance(net.acct("financier"), 1, advance_units=AMOUNT)
    assert net.invoice(1)["financierDue"] == AMOUNT


def test_contracts_finance_unconfirmed(net: Net) -> None:
    net.issue()
    net.send(net.invoices.functions.approve(net.addr("financier"), 1), "supplier")
    net.approve_hkd("financier", 90_000)
    with reverts("InvoiceNotConfirmed", invoiceId=1, status=ISSUED):
        net.send(net.finance_fn(1, 90_000), "financier")


def test_contracts_finance_cancelled(net: Net) -> None:
    net.issue()
    net.ledger.cancel(net.acct("supplier"), 1)
    terms = (90_000, AMOUNT, net.addr("supplier"), AMOUNT, 0, due_timestamp(net.due(30)), net.now() + 3600, False, 0)
    with reverts("InvoiceNotConfirmed", invoiceId=1, status=CANCELLED):
        net.send(net.invoices.functions.finance(1, terms), "financier")


def test_contracts_finance_paid_invoice(net: Net) -> None:
    net.offered()
    net.ledger.repay(net.acct("buyer"), 1, "1000.00")
    net.approve_hkd("financier", 90_000)
    with reverts("InvoiceNotConfirmed", invoiceId=1, status=PAID):
        net.send(net.finance_fn(1, 90_000, due=0), "financier")


def test_contracts_finance_while_paused(net: Net) -> None:
    net.offered()
    net.set_paused(True)
    with reverts("EnforcedPause"):
        net.ledger.finance(net.acct("financier"), 1, advance="900.00")
    net.set_paused(False)
    net.ledger.finance(net.acct("financier"), 1, advance="900.00")
    assert net.owner(1) == net.addr("financier")


def test_contracts_attack_expired_terms_deadline_refused(net: Net) -> None:
    net.offered()
    net.approve_hkd("financier", 90_000)
    deadline = net.now() - 1
    with reverts("FinancingDeadlinePassed", invoiceId=1, deadline=deadline, nowTimestamp=ANY) as info:
        net.send(net.finance_fn(1, 90_000, deadline=deadline), "financier")
    assert info.value.error_args["nowTimestamp"] > deadline
    # The deadline second itself is still in time.
    net.mine_at(net.now() + 10)
    net.call(net.finance_fn(1, 90_000, deadline=net.now()), "financier")
    with reverts("FinancingDeadlinePassed", invoiceId=1, deadline=net.now() - 1, nowTimestamp=net.now()):
        net.call(net.finance_fn(1, 90_000, deadline=net.now() - 1), "financier")


def test_contracts_finance_matured_invoice(net: Net) -> None:
    net.offered(days=10, offer_days=60)
    due = net.invoice(1)["dueDate"]
    net.advance_time(11 * DAY)
    assert net.now() > due
    net.approve_hkd("financier", 90_000)
    with reverts("InvoiceMatured", invoiceId=1, dueDate=due):
        net.send(net.finance_fn(1, 90_000), "financier")


def test_contracts_finance_matured_at_due_second(net: Net) -> None:
    net.offered(days=10, offer_days=60)
    net.approve_hkd("financier", 90_000)
    due = net.invoice(1)["dueDate"]
    net.mine_at(due - 1)
    net.call(net.finance_fn(1, 90_000), "financier")  # one second before: still financeable
    net.mine_at(due)
    with reverts("InvoiceMatured", invoiceId=1, dueDate=due):
        net.call(net.finance_fn(1, 90_000), "financier")


def test_contracts_finance_by_non_financier(net: Net) -> None:
    net.offered()
    with reverts("ParticipantLacksRole", account=net.addr("supplier2"), role=FINANCIER, roles=SUPPLIER):
        net.send(net.finance_fn(1, 90_000), "supplier2")
    with reverts("ParticipantNotAdmitted", account=net.addr("dev9")):
        net.send(net.finance_fn(1, 90_000), "dev9")


def test_contracts_finance_insufficient_balance(net: Net) -> None:
    net.admit("dev8", "Lantau Factoring Ltd", FINANCIER)
    net.ledger.mint(net.acct("operator"), net.addr("dev8"), "100.00", "HKD")
    net.offered()
    # Through the Ledger: refused before any approval is sent.
    with pytest.raises(TransactionReverted) as info:
        net.ledger.finance(net.acct("dev8"), 1, advance="900.00")
    assert str(info.value) == f"{net.addr('dev8')} has HKD 100.00 but needs HKD 900.00"
    assert net.token.functions.allowance(net.addr("dev8"), net.invoices.address).call() == 0
    # The contract itself: the payment leg fails, so the delivery leg does not happen.
    net.approve_hkd("dev8", 90_000)
    with reverts("ERC20InsufficientBalance", sender=net.addr("dev8"), balance=10_000, needed=90_000):
        net.send(net.finance_fn(1, 90_000), "dev8")


def test_contracts_failed_finance_changes_nothing(net: Net) -> None:
    """A finance transaction mined and reverted on chain (simulation skipped):
    neither leg of the DvP happened, and the listing is still there."""
    net.admit("dev8", "Lantau Factoring Ltd", FINANCIER)
    net.ledger.mint(net.acct("operator"), net.addr("dev8"), "100.00", "HKD")
    net.offered()
    net.approve_hkd("dev8", 90_000)
    before = (net.balances("supplier", "dev8"), net.owner(1), net.invoice(1), net.listing(1))

    fn = net.finance_fn(1, 90_000)
    signer = net.acct("dev8")
    w3 = net.ledger.w3
    tx = fn.build_transaction(
        {
            "from": signer.address,
            "gas": 500_000,
            "chainId": net.ledger.sender.chain_id,
            "nonce": w3.eth.get_transaction_count(signer.address),
            "maxFeePerGas": 0,
            "maxPriorityFeePerGas": 0,
        }
    )
    tx_hash = w3.eth.send_raw_transaction(signer.sign_transaction(tx).raw_transaction)
    # Sender.wait replays a mined revert to name the rule.
    with reverts("ERC20InsufficientBalance", sender=signer.address, balance=10_000, needed=90_000):
        net.ledger.sender.wait(tx_hash, fn, signer.address)
    assert w3.eth.get_transaction_receipt(tx_hash)["status"] == 0
    assert (net.balances("supplier", "dev8"), net.owner(1), net.invoice(1), net.listing(1)) == before
    assert before[2]["status"] == CONFIRMED and before[2]["seller"] == ZERO_ADDRESS


def test_contracts_refused_finance_changes_nothing(net: Net) -> None:
    net.offered(min_advance="950.00")
    before = (net.balances("supplier", "financier"), net.owner(1), net.invoice(1))
    block = net.ledger.w3.eth.block_number
    for kwargs in ({"advance": "900.00"}, {"advance": "950.00", "expected_amount": AMOUNT - 1}):
        with pytest.raises(TransactionReverted):
            net.ledger.finance(net.acct("financier"), 1, **kwargs)
    assert (net.balances("supplier", "financier"), net.owner(1), net.invoice(1)) == before
    assert net.ledger.w3.eth.block_number == block  # simulated, never sent
