"""When things go wrong (contract v4), the money legs: credit notes (dilution),
buy-backs under recourse and recoveries after a default or a write-off, settled
to the minor unit (financier, seller and buyer balances before and after), plus
reentrancy through a malicious ERC-20 and a property test over random sequences.

Every rule is tried by calling the contract directly (``net.send(fn, who)`` of
``support.contracts``). Every revert is checked by its custom error and the values
it carries; the base scenario is restored after each test by the ``chain``
fixture. Tests named ``..._attack_...`` reproduce an attack and show it repelled.

The usual financing below: face 1,000.00 (100,000 units), advance 800.00 to the
seller, the financier due 900.00 of the buyer's payments, reserve 100.00.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak
from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st
from support.contracts import (
    AMOUNT,
    CANCELLED,
    CONFIRMED,
    DAY,
    DEFAULTED,
    DISPUTED,
    FINANCED,
    FINANCIER,
    GRACE,
    ISSUED,
    PAID,
    PARTIALLY_PAID,
    SPLIT,
    WRITTEN_OFF,
    ZERO_ADDRESS,
    Net,
    compile_test_contract,
    reverts,
)
from web3 import Web3

from ledger.errors import TransactionReverted
from ledger.names import STATUS_NAMES

NOTE = Web3.keccak(text="Credit note CN-2026-0007: 40 bearings returned")
PARTIES = ("financier", "supplier", "buyer")


def _seller_funds(net: Net, units: int) -> None:
    """The seller holds `units` and lets the token contract draw them (it starts with no HKD)."""
    net.fund("supplier", units)
    net.approve_hkd("supplier", units)


def _repay(net: Net, invoice_id: int, units: int) -> Any:
    net.approve_hkd("buyer", units)
    return net.send(net.invoices.functions.repay(invoice_id, units), "buyer")


def _delta(net: Net, start: dict[str, int]) -> dict[str, int]:
    now = net.balances(*start)
    return {who: now[who] - start[who] for who in start}


def _contract_holds_nothing(net: Net) -> None:
    assert net.token.functions.balanceOf(net.invoices.address).call() == 0


# -- credit notes ------------------------------------------------------------------------------------


def test_contracts_credit_note_on_an_unfinanced_receivable(net: Net) -> None:
    invoice_id = net.confirmed()
    start = net.balances(*PARTIES)
    before = net.invoice(invoice_id)
    receipt = net.send(net.credit_note_fn(invoice_id, 10_000, NOTE), "supplier")
    (note,) = net.events(receipt, "CreditNoteIssued")
    assert dict(note) == {
        "invoiceId": invoice_id,
        "issuer": net.addr("supplier"),
        "holder": net.addr("supplier"),
        "credit": 10_000,
        "newAmount": 90_000,
        "toHolder": 0,
        "noteHash": NOTE,
        "status": CONFIRMED,
    }
    assert net.invoice(invoice_id) == {**before, "amount": 90_000}
    assert _delta(net, start) == {"financier": 0, "supplier": 0, "buyer": 0}
    with reverts("InvalidRepayment", invoiceId=invoice_id, amount=90_001, outstanding=90_000):
        _repay(net, invoice_id, 90_001)
    _repay(net, invoice_id, 90_000)
    assert net.invoice(invoice_id)["status"] == PAID
    assert _delta(net, start) == {"financier": 0, "supplier": 90_000, "buyer": -90_000}


def test_contracts_credit_note_ends_a_dispute(net: Net) -> None:
    invoice_id = net.confirmed()
    net.repay(invoice_id, "200.00")
    net.send(net.dispute_fn(invoice_id), "buyer")
    receipt = net.send(net.credit_note_fn(invoice_id, 30_000, NOTE), "supplier")
    (note,) = net.events(receipt, "CreditNoteIssued")
    assert (note["newAmount"], note["toHolder"], note["status"]) == (70_000, 0, PARTIALLY_PAID)
    inv = net.invoice(invoice_id)
    assert (inv["status"], inv["disputedFrom"], inv["amount"], inv["paid"]) == (PARTIALLY_PAID, 0, 70_000, 20_000)
    with reverts("InvoiceNotDisputed", invoiceId=invoice_id, status=PARTIALLY_PAID):
        net.send(net.withdraw_dispute_fn(invoice_id), "buyer")


def test_contracts_credit_note_absorbed_by_the_reserve(net: Net) -> None:
    """Credit 100 of 1,000: the open 900 still covers the financier's 900; the seller pays 0
    (it loses its reserve) and needs no allowance."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000)
    start = net.balances(*PARTIES)
    receipt = net.send(net.credit_note_fn(invoice_id, 10_000, NOTE), "supplier")
    (note,) = net.events(receipt, "CreditNoteIssued")
    assert dict(note) == {
        "invoiceId": invoice_id,
        "issuer": net.addr("supplier"),
        "holder": net.addr("financier"),
        "credit": 10_000,
        "newAmount": 90_000,
        "toHolder": 0,
        "noteHash": NOTE,
        "status": FINANCED,
    }
    inv = net.invoice(invoice_id)
    assert (inv["amount"], inv["paid"], inv["financierDue"], inv["financierPaid"]) == (90_000, 0, 90_000, 0)
    assert _delta(net, start) == {"financier": 0, "supplier": 0, "buyer": 0}
    receipt = _repay(net, invoice_id, 90_000)
    (repaid,) = net.events(receipt, "InvoiceRepaid")
    assert (repaid["toHolder"], repaid["totalPaid"]) == (90_000, 90_000)
    assert net.events(receipt, "ReserveReleased") == []
    assert net.invoice(invoice_id)["status"] == PAID
    # Financier +900 (its due, in full); seller nothing more than its advance; buyer -900.
    assert _delta(net, start) == {"financier": 90_000, "supplier": 0, "buyer": -90_000}
    _contract_holds_nothing(net)


def test_contracts_credit_note_beyond_the_reserve_is_paid_by_the_seller(net: Net) -> None:
    """Credit 250: the open 750 covers 750 of the financier's 900; the seller pays it 150 now."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000)
    _seller_funds(net, 15_000)
    start = net.balances(*PARTIES)
    receipt = net.send(net.credit_note_fn(invoice_id, 25_000, NOTE), "supplier")
    (note,) = net.events(receipt, "CreditNoteIssued")
    assert (note["credit"], note["newAmount"], note["toHolder"], note["status"]) == (25_000, 75_000, 15_000, FINANCED)
    transfers = net.events(receipt, "Transfer", net.token)
    assert [(t["from"], t["to"], t["value"]) for t in transfers] == [
        (net.addr("supplier"), net.addr("financier"), 15_000)
    ]
    inv = net.invoice(invoice_id)
    assert (inv["amount"], inv["paid"], inv["financierDue"], inv["financierPaid"]) == (75_000, 0, 90_000, 15_000)
    assert _delta(net, start) == {"financier": 15_000, "supplier": -15_000, "buyer": 0}
    receipt = _repay(net, invoice_id, 75_000)
    assert net.events(receipt, "InvoiceRepaid")[0]["toHolder"] == 75_000
    assert net.invoice(invoice_id)["status"] == PAID
    # The financier's due is whole: 150 from the seller + 750 from the buyer = 900.
    assert _delta(net, start) == {"financier": 90_000, "supplier": -15_000, "buyer": -75_000}
    _contract_holds_nothing(net)


def test_contracts_credit_note_after_a_partial_payment(net: Net) -> None:
    """300 paid (to the financier: 600 of its due left). Credit 500: the open 700 becomes 200,
    which covers 200 of the 600; the seller pays the financier 400."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000)
    _repay(net, invoice_id, 30_000)
    _seller_funds(net, 40_000)
    start = net.balances(*PARTIES)
    receipt = net.send(net.credit_note_fn(invoice_id, 50_000, NOTE), "supplier")
    (note,) = net.events(receipt, "CreditNoteIssued")
    assert (note["newAmount"], note["toHolder"], note["status"]) == (50_000, 40_000, PARTIALLY_PAID)
    inv = net.invoice(invoice_id)
    assert (inv["amount"], inv["paid"], inv["financierPaid"]) == (50_000, 30_000, 70_000)
    _repay(net, invoice_id, 20_000)
    assert net.invoice(invoice_id)["status"] == PAID
    assert _delta(net, start) == {"financier": 40_000 + 20_000, "supplier": -40_000, "buyer": -20_000}
    _contract_holds_nothing(net)


def test_contracts_credit_note_closing_a_financed_receivable(net: Net) -> None:
    """Credit of the whole open amount: nothing paid, it is Cancelled (the token stays with the
    financier), and the seller pays the financier its whole due (900) at once."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000)
    _seller_funds(net, 90_000)
    start = net.balances(*PARTIES)
    receipt = net.send(net.credit_note_fn(invoice_id, AMOUNT, NOTE), "supplier")
    (note,) = net.events(receipt, "CreditNoteIssued")
    assert (note["newAmount"], note["toHolder"], note["status"]) == (0, 90_000, CANCELLED)
    inv = net.invoice(invoice_id)
    assert (inv["status"], inv["amount"], inv["paid"], inv["financierPaid"]) == (CANCELLED, 0, 0, 90_000)
    assert net.owner(invoice_id) == net.addr("financier")
    assert _delta(net, start) == {"financier": 90_000, "supplier": -90_000, "buyer": 0}
    with reverts("InvoiceNotPayable", invoiceId=invoice_id, status=CANCELLED):
        _repay(net, invoice_id, 1)
    with reverts("InvoiceNotTransferable", invoiceId=invoice_id, status=CANCELLED):
        net.transfer(invoice_id, "financier", "financier2")
    with reverts("CreditNoteNotAllowed", invoiceId=invoice_id, status=CANCELLED):
        net.send(net.credit_note_fn(invoice_id, 1), "supplier")


def test_contracts_credit_note_closing_a_part_paid_receivable_makes_it_paid(net: Net) -> None:
    invoice_id = net.financed_raw(advance=80_000, due=90_000)
    _repay(net, invoice_id, 30_000)
    net.send(net.dispute_fn(invoice_id), "buyer")
    _seller_funds(net, 60_000)
    start = net.balances(*PARTIES)
    receipt = net.send(net.credit_note_fn(invoice_id, 70_000, NOTE), "supplier")
    (note,) = net.events(receipt, "CreditNoteIssued")
    assert (note["newAmount"], note["toHolder"], note["status"]) == (30_000, 60_000, PAID)
    inv = net.invoice(invoice_id)
    assert (inv["status"], inv["disputedFrom"], inv["paid"], inv["financierPaid"]) == (PAID, 0, 30_000, 90_000)
    assert _delta(net, start) == {"financier": 60_000, "supplier": -60_000, "buyer": 0}


def test_contracts_credit_note_closing_an_unfinanced_listed_receivable(net: Net) -> None:
    invoice_id = net.offered()
    receipt = net.send(net.credit_note_fn(invoice_id, AMOUNT, NOTE), "supplier")
    assert [dict(e) for e in net.events(receipt, "FinancingOfferWithdrawn")] == [
        {"invoiceId": invoice_id, "holder": net.addr("supplier")}
    ]
    assert net.events(receipt, "CreditNoteIssued")[0]["status"] == CANCELLED
    assert net.listing(invoice_id) == (ZERO_ADDRESS, 0, 0)
    # Not burnt: the receivable and its holder stay on record.
    assert net.owner(invoice_id) == net.addr("supplier")
    assert net.invoice(invoice_id)["status"] == CANCELLED


def test_contracts_attack_credit_note_larger_than_the_open_amount(net: Net) -> None:
    invoice_id = net.financed_raw()
    _repay(net, invoice_id, 30_000)
    before = (net.ledger.w3.eth.block_number, net.invoice(invoice_id))
    for credit in (70_001, 2**256 - 1, 0):
        with reverts("InvalidCreditNote", invoiceId=invoice_id, credit=credit, outstanding=70_000):
            net.send(net.credit_note_fn(invoice_id, credit), "supplier")
    assert (net.ledger.w3.eth.block_number, net.invoice(invoice_id)) == before


def test_contracts_attack_credit_note_by_anyone_but_the_creditor(net: Net) -> None:
    financed = net.financed_raw(number="INV-F")
    # The financier cannot dilute its own claim onto the seller, nor the buyer reduce its debt.
    for who in ("financier", "buyer", "financier2"):
        with reverts("NotCreditor", invoiceId=financed, account=net.addr(who), creditor=net.addr("supplier")):
            net.send(net.credit_note_fn(financed, 1), who)
    moved = net.confirmed(number="INV-M")
    net.transfer(moved, "supplier", "supplier2")
    # Unfinanced: the holder is the creditor, not the issuer who sold it on.
    with reverts("NotCreditor", invoiceId=moved, account=net.addr("supplier"), creditor=net.addr("supplier2")):
        net.send(net.credit_note_fn(moved, 1), "supplier")
    receipt = net.send(net.credit_note_fn(moved, 1), "supplier2")
    assert net.events(receipt, "CreditNoteIssued")[0]["issuer"] == net.addr("supplier2")


def test_contracts_credit_note_refused_unless_open_or_disputed(net: Net) -> None:
    issued = net.issue(number="INV-I")
    paid = net.confirmed(number="INV-P")
    net.repay(paid, "1000.00")
    split = net.confirmed(number="INV-S")
    net.split(split, [("supplier", 50_000), ("supplier2", 50_000)])
    defaulted = net.confirmed(number="INV-D")
    net.defaulted(defaulted)
    written = net.confirmed(number="INV-W")
    net.defaulted(written)
    net.send(net.write_off_fn(written), "supplier")
    for invoice_id, status in (
        (issued, ISSUED),
        (paid, PAID),
        (split, SPLIT),
        (defaulted, DEFAULTED),
        (written, WRITTEN_OFF),
    ):
        with reverts("CreditNoteNotAllowed", invoiceId=invoice_id, status=status):
            net.send(net.credit_note_fn(invoice_id, 1), "supplier")


def test_contracts_credit_note_refused_when_the_seller_cannot_pay(net: Net) -> None:
    """The seller owes the financier 150 for this credit and has no allowance: nothing happens."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000)
    before = (net.ledger.w3.eth.block_number, net.invoice(invoice_id), net.balances(*PARTIES))
    with reverts("ERC20InsufficientAllowance", spender=net.invoices.address, allowance=0, needed=15_000):
        net.send(net.credit_note_fn(invoice_id, 25_000), "supplier")
    assert (net.ledger.w3.eth.block_number, net.invoice(invoice_id), net.balances(*PARTIES)) == before


def test_contracts_credit_note_by_a_suspended_seller(net: Net) -> None:
    """Dilution is settled even when the seller may no longer do new business."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000)
    _seller_funds(net, 15_000)
    net.suspend("supplier")
    net.suspend("financier")
    receipt = net.send(net.credit_note_fn(invoice_id, 25_000), "supplier")
    assert net.events(receipt, "CreditNoteIssued")[0]["toHolder"] == 15_000


def test_contracts_attack_refinancing_after_a_credit_note(net: Net) -> None:
    """One financing ever: a credit note does not reopen the receivable to financing."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000)
    net.send(net.credit_note_fn(invoice_id, 10_000), "supplier")
    net.transfer(invoice_id, "financier", "supplier")  # even back in the seller's hands
    with reverts("InvoiceAlreadyFinanced", invoiceId=invoice_id, seller=net.addr("supplier")):
        net.send(net.offer_fn(invoice_id), "supplier")
    net.approve_hkd("financier2", AMOUNT)
    with reverts("InvoiceAlreadyFinanced", invoiceId=invoice_id, seller=net.addr("supplier")):
        net.send(net.finance_fn(invoice_id, 50_000), "financier2")


# -- buy-back under recourse -------------------------------------------------------------------------


@pytest.mark.parametrize("caller", ["financier", "supplier"], ids=["demanded-by-holder", "by-seller"])
def test_contracts_buy_back_settles_the_financier_and_returns_the_token(net: Net, caller: str) -> None:
    """Recourse; the buyer paid 300 (to the financier), then defaulted. The seller pays the
    financier the 600 left of its due and takes the receivable; the buyer's late 700 all go
    to the seller. Financier: -800 + 300 + 600 = +100; seller: +800 - 600 + 700 = +900."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000, recourse=True)
    start = net.balances(*PARTIES)
    _repay(net, invoice_id, 30_000)
    net.defaulted(invoice_id)
    _seller_funds(net, 60_000)
    mid = net.balances(*PARTIES)
    before = net.invoice(invoice_id)
    receipt = net.send(net.buy_back_fn(invoice_id), caller)
    (bought,) = net.events(receipt, "InvoiceBoughtBack")
    assert dict(bought) == {
        "invoiceId": invoice_id,
        "seller": net.addr("supplier"),
        "holder": net.addr("financier"),
        "amount": 60_000,
    }
    (moved,) = net.events(receipt, "Transfer")
    assert dict(moved) == {"from": net.addr("financier"), "to": net.addr("supplier"), "tokenId": invoice_id}
    assert net.owner(invoice_id) == net.addr("supplier")
    assert net.invoice(invoice_id) == {**before, "financierPaid": 90_000}
    assert net.invoice(invoice_id)["status"] == DEFAULTED
    assert _delta(net, mid) == {"financier": 60_000, "supplier": -60_000, "buyer": 0}
    assert net.token.functions.allowance(net.addr("supplier"), net.invoices.address).call() == 0
    # The buyer's later payment goes wholly to the seller.
    receipt = _repay(net, invoice_id, 70_000)
    (repaid,) = net.events(receipt, "InvoiceRepaid")
    assert dict(repaid) == {
        "invoiceId": invoice_id,
        "payer": net.addr("buyer"),
        "payee": net.addr("supplier"),
        "amount": 70_000,
        "toHolder": 0,
        "totalPaid": AMOUNT,
    }
    assert [dict(e) for e in net.events(receipt, "ReserveReleased")] == [
        {"invoiceId": invoice_id, "seller": net.addr("supplier"), "amount": 70_000}
    ]
    assert net.invoice(invoice_id)["status"] == PAID
    funded = 60_000  # minted to the seller for the buy-back
    assert _delta(net, start) == {"financier": 30_000 + 60_000, "supplier": funded - 60_000 + 70_000, "buyer": -AMOUNT}
    _contract_holds_nothing(net)


def test_contracts_buy_back_after_recoveries_paid_the_financier_is_refused(net: Net) -> None:
    """Defaulted with 900 owed; the buyer's recoveries pay the financier's 900 but not the 100
    reserve: nothing is owed to the holder, so there is nothing to buy back (a buy-back for 0
    would end a financing that was paid in full); the last 100 still reaches the seller."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000, recourse=True)
    net.defaulted(invoice_id)
    _repay(net, invoice_id, 90_000)
    start = net.balances(*PARTIES)
    for who in ("financier", "supplier"):
        with reverts("NothingOwed", invoiceId=invoice_id):
            net.send(net.buy_back_fn(invoice_id), who)
    assert net.owner(invoice_id) == net.addr("financier")
    _repay(net, invoice_id, 10_000)
    assert net.invoice(invoice_id)["status"] == PAID
    assert _delta(net, start) == {"financier": 0, "supplier": 10_000, "buyer": -10_000}


def test_contracts_buy_back_after_resale_pays_the_holder(net: Net) -> None:
    invoice_id = net.financed_raw(advance=80_000, due=90_000, recourse=True)
    net.transfer(invoice_id, "financier", "financier2")
    net.defaulted(invoice_id)  # by the holder, financier2
    _seller_funds(net, 90_000)
    start = net.balances("financier", "financier2", "supplier")
    receipt = net.send(net.buy_back_fn(invoice_id), "financier2")
    assert net.events(receipt, "InvoiceBoughtBack")[0]["holder"] == net.addr("financier2")
    assert _delta(net, start) == {"financier": 0, "financier2": 90_000, "supplier": -90_000}
    # The first financier sold its claim: it has no say any more.
    with reverts("NotInvoiceHolder", invoiceId=invoice_id, account=net.addr("financier"), holder=net.addr("supplier")):
        net.send(net.buy_back_fn(invoice_id), "financier")


def test_contracts_attack_buy_back_without_recourse(net: Net) -> None:
    invoice_id = net.financed_raw(recourse=False)
    net.defaulted(invoice_id)
    _seller_funds(net, 90_000)
    before = net.balances(*PARTIES)
    for who in ("financier", "supplier"):
        with reverts("NoRecourse", invoiceId=invoice_id):
            net.send(net.buy_back_fn(invoice_id), who)
    unfinanced = net.confirmed(number="INV-U")
    net.defaulted(unfinanced)
    with reverts("NoRecourse", invoiceId=unfinanced):
        net.send(net.buy_back_fn(unfinanced), "supplier")
    assert net.balances(*PARTIES) == before
    assert net.owner(invoice_id) == net.addr("financier")


def test_contracts_attack_buy_back_refusals(net: Net) -> None:
    invoice_id = net.financed_raw(advance=80_000, due=90_000, recourse=True)
    _seller_funds(net, 90_000)
    with reverts("InvoiceNotDefaulted", invoiceId=invoice_id, status=FINANCED):
        net.send(net.buy_back_fn(invoice_id), "financier")
    net.defaulted(invoice_id)
    for who in ("buyer", "financier2", "supplier2"):
        with reverts("NotInvoiceHolder", invoiceId=invoice_id, account=net.addr(who), holder=net.addr("financier")):
            net.send(net.buy_back_fn(invoice_id), who)
    net.send(net.buy_back_fn(invoice_id), "supplier")
    # Twice: the seller already holds it; nothing is owed to anyone.
    with reverts("NothingOwed", invoiceId=invoice_id):
        net.send(net.buy_back_fn(invoice_id), "supplier")
    # A written-off receivable is not bought back (the holder chose to write it off).
    written = net.financed_raw(number="INV-W", recourse=True)
    net.defaulted(written)
    net.send(net.write_off_fn(written), "financier")
    with reverts("InvoiceNotDefaulted", invoiceId=written, status=WRITTEN_OFF):
        net.send(net.buy_back_fn(written), "financier")


def test_contracts_buy_back_refused_when_the_seller_cannot_pay(net: Net) -> None:
    invoice_id = net.financed_raw(advance=80_000, due=90_000, recourse=True)
    net.defaulted(invoice_id)
    net.fund("supplier", 90_000)
    net.approve_hkd("supplier", 89_999)
    before = (net.ledger.w3.eth.block_number, net.invoice(invoice_id), net.owner(invoice_id), net.balances(*PARTIES))
    with reverts("ERC20InsufficientAllowance", spender=net.invoices.address, allowance=89_999, needed=90_000):
        net.send(net.buy_back_fn(invoice_id), "financier")
    assert (
        net.ledger.w3.eth.block_number,
        net.invoice(invoice_id),
        net.owner(invoice_id),
        net.balances(*PARTIES),
    ) == before


def test_contracts_buy_back_enforced_on_a_suspended_seller(net: Net) -> None:
    """Recourse is enforcement of agreed terms: it works when the seller (and the holder) are
    suspended, and the token returns to the suspended seller past the transfer rules."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000, recourse=True)
    net.defaulted(invoice_id)
    _seller_funds(net, 90_000)
    net.suspend("supplier")
    net.suspend("financier")
    start = net.balances(*PARTIES)
    net.send(net.buy_back_fn(invoice_id), "financier")
    assert net.owner(invoice_id) == net.addr("supplier")
    assert _delta(net, start) == {"financier": 90_000, "supplier": -90_000, "buyer": 0}


def test_contracts_attack_refinancing_after_buy_back(net: Net) -> None:
    invoice_id = net.financed_raw(advance=80_000, due=90_000, recourse=True)
    net.defaulted(invoice_id)
    _seller_funds(net, 90_000)
    net.send(net.buy_back_fn(invoice_id), "supplier")
    with reverts("InvoiceAlreadyFinanced", invoiceId=invoice_id, seller=net.addr("supplier")):
        net.send(net.offer_fn(invoice_id), "supplier")
    net.approve_hkd("financier2", AMOUNT)
    with reverts("InvoiceAlreadyFinanced", invoiceId=invoice_id, seller=net.addr("supplier")):
        net.send(net.finance_fn(invoice_id, 50_000), "financier2")
    with reverts("InvoiceNotTransferable", invoiceId=invoice_id, status=DEFAULTED):
        net.transfer(invoice_id, "supplier", "supplier2")


def test_contracts_buy_back_clears_approvals(net: Net) -> None:
    """An operator the financier approved must not keep a hold on the token once it is the seller's."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000, recourse=True)
    f = net.invoices.functions
    net.send(f.approve(net.addr("financier2"), invoice_id), "financier")
    net.defaulted(invoice_id)
    _seller_funds(net, 90_000)
    net.send(net.buy_back_fn(invoice_id), "financier")
    assert f.getApproved(invoice_id).call() == ZERO_ADDRESS


def test_contracts_seller_writes_off_after_buy_back(net: Net) -> None:
    """Back with the seller, the whole open amount is its claim: it may write it off, and a
    later recovery is still its own."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000, recourse=True)
    _repay(net, invoice_id, 30_000)
    net.defaulted(invoice_id)
    _seller_funds(net, 60_000)
    net.send(net.buy_back_fn(invoice_id), "supplier")
    receipt = net.send(net.write_off_fn(invoice_id), "supplier")
    assert [dict(e) for e in net.events(receipt, "InvoiceWrittenOff")] == [
        {"invoiceId": invoice_id, "holder": net.addr("supplier"), "amount": 70_000}
    ]
    start = net.balances(*PARTIES)
    _repay(net, invoice_id, 5_000)
    assert net.invoice(invoice_id)["status"] == WRITTEN_OFF
    assert _delta(net, start) == {"financier": 0, "supplier": 5_000, "buyer": -5_000}


# -- recoveries ---------------------------------------------------------------------------------------


def test_contracts_recovery_after_default_follows_the_waterfall(net: Net) -> None:
    """No recourse; defaulted with nothing paid. The buyer pays 500 then 500: the financier
    gets its 900 first, the seller the 100 reserve; the status stays Defaulted until Paid."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000)
    start = net.balances(*PARTIES)
    net.defaulted(invoice_id)
    receipt = _repay(net, invoice_id, 50_000)
    (repaid,) = net.events(receipt, "InvoiceRepaid")
    assert (repaid["payee"], repaid["toHolder"], repaid["totalPaid"]) == (net.addr("financier"), 50_000, 50_000)
    inv = net.invoice(invoice_id)
    assert (inv["status"], inv["paid"], inv["financierPaid"]) == (DEFAULTED, 50_000, 50_000)
    receipt = _repay(net, invoice_id, 50_000)
    (repaid,) = net.events(receipt, "InvoiceRepaid")
    assert (repaid["toHolder"], repaid["totalPaid"]) == (40_000, AMOUNT)
    assert [e["amount"] for e in net.events(receipt, "ReserveReleased")] == [10_000]
    assert net.invoice(invoice_id)["status"] == PAID
    assert _delta(net, start) == {"financier": 90_000, "supplier": 10_000, "buyer": -AMOUNT}
    _contract_holds_nothing(net)


def test_contracts_recovery_after_write_off_follows_the_waterfall(net: Net) -> None:
    """The financier wrote off 900; the buyer later pays 950 (900 to the financier, 50 of the
    reserve to the seller; still WrittenOff), then the last 50 (reserve): Paid."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000)
    net.defaulted(invoice_id)
    net.send(net.write_off_fn(invoice_id), "financier")
    start = net.balances(*PARTIES)
    receipt = _repay(net, invoice_id, 95_000)
    (repaid,) = net.events(receipt, "InvoiceRepaid")
    assert (repaid["payee"], repaid["toHolder"], repaid["totalPaid"]) == (net.addr("financier"), 90_000, 95_000)
    assert [dict(e) for e in net.events(receipt, "ReserveReleased")] == [
        {"invoiceId": invoice_id, "seller": net.addr("supplier"), "amount": 5_000}
    ]
    assert net.invoice(invoice_id)["status"] == WRITTEN_OFF
    assert _delta(net, start) == {"financier": 90_000, "supplier": 5_000, "buyer": -95_000}
    _repay(net, invoice_id, 5_000)
    assert net.invoice(invoice_id)["status"] == PAID
    assert _delta(net, start) == {"financier": 90_000, "supplier": 10_000, "buyer": -AMOUNT}
    with reverts("InvoiceNotPayable", invoiceId=invoice_id, status=PAID):
        _repay(net, invoice_id, 1)


def test_contracts_recovery_after_write_off_of_an_unfinanced_receivable(net: Net) -> None:
    invoice_id = net.confirmed()
    net.defaulted(invoice_id)
    net.send(net.write_off_fn(invoice_id), "supplier")
    start = net.balances(*PARTIES)
    receipt = _repay(net, invoice_id, 12_345)
    (repaid,) = net.events(receipt, "InvoiceRepaid")
    assert (repaid["payee"], repaid["toHolder"]) == (net.addr("supplier"), 12_345)
    assert _delta(net, start) == {"financier": 0, "supplier": 12_345, "buyer": -12_345}
    assert net.invoice(invoice_id)["status"] == WRITTEN_OFF


# -- reentrancy through a malicious settlement token --------------------------------------------------


@pytest.fixture(scope="session")
def reentrant_artifact(session_env: Any) -> dict[str, Any]:
    return compile_test_contract(session_env.settings, "ReentrantToken")


def _error(name: str, *args: tuple[str, Any]) -> bytes:
    types = [t for t, _ in args]
    return keccak(text=f"{name}({','.join(types)})")[:4] + abi_encode(types, [v for _, v in args])


def _reentrant_setup(net: Net, artifact: dict[str, Any], holder_is_token: bool) -> tuple[Any, int]:
    """A REN-denominated receivable financed with recourse (advance 800, due 900). With
    ``holder_is_token`` the financier is the token contract itself (admitted as a financier),
    acting through ``exec``; otherwise the financier account."""
    ren = net.deploy(artifact["abi"], artifact["bytecode"])
    net.send(net.invoices.functions.setCurrencyAccepted(ren.address, True), "operator")
    for who in ("buyer", "supplier", "financier"):
        net.send(ren.functions.mint(net.addr(who), 10 * AMOUNT), who)
        net.send(ren.functions.approve(net.invoices.address, 10 * AMOUNT), who)
    invoice_id = net.issue_raw("REN-1", currency=ren.address)
    net.send(net.invoices.functions.confirm(invoice_id), "buyer")
    net.send(net.offer_fn(invoice_id, None, 1, recourse=True), "supplier")
    terms = net.terms(invoice_id, 80_000, due=90_000, recourse=True)
    finance = net.invoices.functions.finance(invoice_id, terms)
    if holder_is_token:
        expiry = net.now() + 365 * DAY
        net.send(net.registry.functions.admit(ren.address, "Reentrant Capital (test)", FINANCIER, expiry), "operator")
        net.send(ren.functions.mint(ren.address, AMOUNT), "operator")
        net.send(
            ren.functions.exec(ren.address, ren.encode_abi("approve", args=[net.invoices.address, AMOUNT])), "operator"
        )
        net.send(ren.functions.exec(net.invoices.address, finance._encode_transaction_data()), "operator")
    else:
        net.send(finance, "financier")
    return ren, invoice_id


@pytest.mark.parametrize("reentered", ["repay", "repayRoot", "issueCreditNote", "buyBack", "finance"])
def test_contracts_attack_reentrancy_into_guarded_settlement(
    net: Net, reentrant_artifact: dict[str, Any], reentered: str
) -> None:
    """The token calls back into a guarded money leg in the middle of a repayment: refused by
    the guard (ReentrancyGuardReentrantCall), and the whole repayment with it."""
    ren, invoice_id = _reentrant_setup(net, reentrant_artifact, holder_is_token=False)
    f = net.invoices.functions
    inner = {
        "repay": lambda: f.repay(invoice_id, 1),
        "repayRoot": lambda: f.repayRoot(invoice_id, 1),
        "issueCreditNote": lambda: f.issueCreditNote(invoice_id, 1, NOTE),
        "buyBack": lambda: f.buyBack(invoice_id),
        "finance": lambda: f.finance(invoice_id, net.terms(invoice_id, 1)),
    }[reentered]()
    net.send(ren.functions.arm(net.invoices.address, inner._encode_transaction_data(), True), "operator")
    before = (net.invoice(invoice_id), net.balances(*PARTIES, token=ren))
    with reverts("ReentrancyGuardReentrantCall"):
        net.send(f.repay(invoice_id, 50_000), "buyer")
    assert (net.invoice(invoice_id), net.balances(*PARTIES, token=ren)) == before


@pytest.mark.parametrize("reentered", ["writeOff", "buyBack", "transferFrom", "issueCreditNote"])
def test_contracts_attack_reentrancy_by_the_holder_during_buy_back(
    net: Net, reentrant_artifact: dict[str, Any], reentered: str
) -> None:
    """The holder is a contract that reenters as the seller's buy-back money arrives: to write
    its claim off, buy back again, move the receivable away or dilute it. The state is settled
    before the payment (financierPaid = due), so every reentry is refused and the buy-back
    completes once, exactly."""
    ren, invoice_id = _reentrant_setup(net, reentrant_artifact, holder_is_token=True)
    f = net.invoices.functions
    assert net.owner(invoice_id) == ren.address
    net.mine_at(net.defaultable_after(invoice_id) + 1)
    net.send(
        ren.functions.exec(net.invoices.address, f.declareDefault(invoice_id)._encode_transaction_data()), "operator"
    )
    inner, expected = {
        "writeOff": (f.writeOff(invoice_id), _error("NothingOwed", ("uint256", invoice_id))),
        "buyBack": (f.buyBack(invoice_id), _error("ReentrancyGuardReentrantCall")),
        "transferFrom": (
            f.transferFrom(ren.address, net.addr("financier2"), invoice_id),
            _error("InvoiceNotTransferable", ("uint256", invoice_id), ("uint8", DEFAULTED)),
        ),
        "issueCreditNote": (f.issueCreditNote(invoice_id, 1, NOTE), _error("ReentrancyGuardReentrantCall")),
    }[reentered]
    net.send(ren.functions.arm(net.invoices.address, inner._encode_transaction_data(), False), "operator")
    start = net.balances("supplier", "buyer", token=ren)
    holder_start = int(ren.functions.balanceOf(ren.address).call())
    receipt = net.send(f.buyBack(invoice_id), "supplier")
    assert ren.functions.hookFired().call() is True
    assert bytes(ren.functions.hookRevert().call()) == expected
    assert [dict(e) for e in net.events(receipt, "InvoiceBoughtBack")] == [
        {"invoiceId": invoice_id, "seller": net.addr("supplier"), "holder": ren.address, "amount": 90_000}
    ]
    assert net.events(receipt, "InvoiceWrittenOff") == net.events(receipt, "CreditNoteIssued") == []
    inv = net.invoice(invoice_id)
    assert (inv["status"], inv["amount"], inv["financierPaid"]) == (DEFAULTED, AMOUNT, 90_000)
    assert net.owner(invoice_id) == net.addr("supplier")
    assert net.balances("supplier", "buyer", token=ren) == {
        "supplier": start["supplier"] - 90_000,
        "buyer": start["buyer"],
    }
    assert int(ren.functions.balanceOf(ren.address).call()) == holder_start + 90_000
    assert int(ren.functions.balanceOf(net.invoices.address).call()) == 0


# -- the property ---------------------------------------------------------------------------------------

ACCOUNTS = ("buyer", "supplier", "financier")
#: Refusals a random step may meet; anything else fails the property.
EXPECTED_REFUSALS = {
    "InvoiceNotPayable",
    "InvalidRepayment",
    "InvalidCreditNote",
    "CreditNoteNotAllowed",
    "InvoiceNotOpen",
    "InvoiceNotDefaulted",
    "InvoiceNotDisputed",
    "NoRecourse",
    "NothingOwed",
}
STEP = st.one_of(
    st.tuples(st.just("repay"), st.integers(1, 100)),
    st.tuples(st.just("repay"), st.integers(1, 100)),
    st.tuples(st.just("credit"), st.integers(1, 100)),
    st.tuples(st.just("default")),
    st.tuples(st.just("default")),
    st.tuples(st.just("buy_back"), st.sampled_from(["holder", "seller"])),
    st.tuples(st.just("buy_back"), st.sampled_from(["holder", "seller"])),
    st.tuples(st.just("write_off")),
    st.tuples(st.just("dispute")),
    st.tuples(st.just("withdraw")),
)
#: More examples, with shrinking: SCF_LONG=1 or SCF_HYPOTHESIS_PROFILE=long.
LONG = os.environ.get("SCF_LONG") == "1" or os.environ.get("SCF_HYPOTHESIS_PROFILE") == "long"


@settings(
    # CI runs 8 generated examples (it ran 25) plus the 3 explicit ones: tests/contracts/
    # test_system_state_machine.py drives repay, credit note, default, buy-back, write-off and disputes
    # through the services in random order, with conservation, financierDue never changed, financierPaid
    # <= due, the dispute's status and nothing left in the contract checked after every step. Long: unchanged.
    max_examples=200 if LONG else 8,
    deadline=None,
    derandomize=not LONG,
    phases=[Phase.explicit, Phase.reuse, Phase.generate] + ([Phase.shrink] if LONG else []),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(  # recovery after a default, then a buy-back of what is left of the due, then the rest to the seller
    face=100_000,
    paid_first=0,
    due_percent=90,
    advance_percent=89,
    recourse=True,
    steps=[("repay", 30), ("credit", 20), ("default",), ("repay", 10), ("buy_back", "holder"), ("repay", 100)],
    default_at=None,
)
@example(  # a write-off, a recovery, and a buy-back refused after the write-off
    face=99_999,
    paid_first=10,
    due_percent=100,
    advance_percent=95,
    recourse=True,
    steps=[
        ("dispute",),
        ("credit", 5),
        ("default",),
        ("write_off",),
        ("repay", 50),
        ("buy_back", "seller"),
        ("repay", 100),
    ],
    default_at=None,
)
@example(  # a credit note closing it while disputed, after a part payment
    face=7,
    paid_first=50,
    due_percent=100,
    advance_percent=100,
    recourse=False,
    steps=[("dispute",), ("credit", 100), ("repay", 100)],
    default_at=None,
)
@given(
    face=st.integers(2, 10**8),
    paid_first=st.integers(0, 50),
    due_percent=st.integers(1, 100),
    advance_percent=st.integers(1, 100),
    recourse=st.booleans(),
    steps=st.lists(STEP, min_size=2, max_size=10),
    default_at=st.one_of(st.none(), st.integers(0, 4)),
)
def test_contracts_remedies_property_conserves_every_minor_unit(
    net: Net,
    face: int,
    paid_first: int,
    due_percent: int,
    advance_percent: int,
    recourse: bool,
    steps: list[Any],
    default_at: int | None,
) -> None:
    """Random sequences of repay / credit note / default / buy-back / write-off / dispute on a
    financed receivable (recoveries are repayments after a default); ``default_at`` puts a
    default early in most sequences, so that what follows a default is well explored.
    Allowances and the seller's funds are granted once, before the per-example snapshots."""
    if default_at is not None:
        steps = [*steps[:default_at], ("default",), *steps[default_at:]]
    if not getattr(net, "remedies_allowances", False):
        net.fund("supplier", 10**9)
        for who in ACCOUNTS:
            net.approve_hkd(who, 2**256 - 1)
        net.remedies_allowances = True  # type: ignore[attr-defined]
    snapshot = net.rpc("evm_snapshot", [])
    try:
        _run_property(net, face, paid_first, due_percent, advance_percent, recourse, steps)
    finally:
        assert net.rpc("evm_revert", [snapshot]) is True


def _run_property(
    net: Net, face: int, paid_first: int, due_percent: int, advance_percent: int, recourse: bool, steps: list[Any]
) -> None:
    invoice_id = net.issue_raw(number="R-1", amount=face)
    net.send(net.invoices.functions.confirm(invoice_id), "buyer")
    start = net.balances(*ACCOUNTS)
    model = dict.fromkeys(ACCOUNTS, 0)  # expected balance changes, from the events
    by_address = {net.addr(a): a for a in ACCOUNTS}
    buyer_paid = {"financier": 0, "supplier": 0}  # the buyer's payments, by who received them

    def book(receipt: Any) -> None:
        for e in net.events(receipt, "InvoiceFinanced"):
            model[by_address[e["financier"]]] -= e["advance"]
            model[by_address[e["seller"]]] += e["advance"]
        for e in net.events(receipt, "InvoiceRepaid"):
            model["buyer"] -= e["amount"]
            model[by_address[e["payee"]]] += e["toHolder"]
            buyer_paid[by_address[e["payee"]]] += e["toHolder"]
        for e in net.events(receipt, "ReserveReleased"):
            model[by_address[e["seller"]]] += e["amount"]
            buyer_paid[by_address[e["seller"]]] += e["amount"]
        for e in net.events(receipt, "CreditNoteIssued"):
            model[by_address[e["issuer"]]] -= e["toHolder"]
            model[by_address[e["holder"]]] += e["toHolder"]
        for e in net.events(receipt, "InvoiceBoughtBack"):
            model[by_address[e["seller"]]] -= e["amount"]
            model[by_address[e["holder"]]] += e["amount"]

    if paid_first and face > 1:
        book(net.send(net.invoices.functions.repay(invoice_id, max(1, face * paid_first // 100)), "buyer"))
    open_units = net.open_amount(invoice_id)
    due = max(1, open_units * due_percent // 100)
    advance = max(1, due * advance_percent // 100)
    net.send(net.offer_fn(invoice_id, None, 1, recourse=True), "supplier")
    book(net.send(net.finance_fn(invoice_id, advance, due=due, recourse=recourse), "financier"))
    assert net.invoice(invoice_id)["financierDue"] == due

    for step in steps:
        kind = step[0]
        inv = net.invoice(invoice_id)
        holder = by_address[net.owner(invoice_id)]
        open_now = inv["amount"] - inv["paid"]
        try:
            if kind == "repay":
                units = max(1, open_now * step[1] // 100)
                book(net.send(net.invoices.functions.repay(invoice_id, units), "buyer"))
            elif kind == "credit":
                units = max(1, open_now * step[1] // 100)
                book(net.send(net.credit_note_fn(invoice_id, units), "supplier"))
            elif kind == "default":
                after = net.defaultable_after(invoice_id) + 1
                if net.now() < after:
                    net.mine_at(after)
                book(net.send(net.default_fn(invoice_id), holder))
            elif kind == "buy_back":
                book(net.send(net.buy_back_fn(invoice_id), holder if step[1] == "holder" else "supplier"))
            elif kind == "write_off":
                book(net.send(net.write_off_fn(invoice_id), holder))
            elif kind == "dispute":
                book(net.send(net.dispute_fn(invoice_id), "buyer"))
            else:
                book(net.send(net.withdraw_dispute_fn(invoice_id), "buyer"))
            event(f"{kind}: done")
        except TransactionReverted as exc:
            assert exc.error_name in EXPECTED_REFUSALS, str(exc)
            event(f"{kind}: refused ({exc.error_name})")
        _check_invariants(net, invoice_id, due)
    inv = net.invoice(invoice_id)
    event(f"ends {STATUS_NAMES[inv['status']]}")
    end = net.balances(*ACCOUNTS)
    delta = {a: end[a] - start[a] for a in ACCOUNTS}
    # Every account moved exactly as the events say, and no unit was created or lost.
    assert delta == model
    assert sum(delta.values()) == 0
    _contract_holds_nothing(net)
    # What the buyer paid is what it owes less what is open, and it went to the financier or the seller.
    assert -delta["buyer"] == inv["paid"] == buyer_paid["financier"] + buyer_paid["supplier"]
    # The financier side received exactly financierPaid (from the buyer, credit notes and buy-back).
    assert delta["financier"] + advance == inv["financierPaid"]


def _check_invariants(net: Net, invoice_id: int, due: int) -> None:
    inv = net.invoice(invoice_id)
    assert inv["financierDue"] == due  # never reduced, by a credit note or anything else
    assert inv["paid"] <= inv["amount"]
    assert inv["financierPaid"] <= inv["financierDue"]
    # The financier's rest is always covered by the buyer's open amount (dilution is settled),
    # unless the seller bought it back (then nothing is owed to the financier side).
    assert inv["financierDue"] - inv["financierPaid"] <= inv["amount"] - inv["paid"]
    if inv["status"] in (PAID, CANCELLED):
        assert inv["financierPaid"] == inv["financierDue"]
    if inv["status"] == DISPUTED:
        assert inv["disputedFrom"] in (FINANCED, PARTIALLY_PAID)
    else:
        assert inv["disputedFrom"] == 0
    _contract_holds_nothing(net)


# -- recourse needs the seller's consent ------------------------------------------------


def test_contracts_recourse_needs_a_listing_that_accepts_it(net: Net) -> None:
    """A financier cannot impose recourse: a listing without it is taken only without recourse;
    the seller's consent is on chain (getListing, FinancingOffered)."""
    invoice_id = net.confirmed(number="INV-CONSENT")
    receipt = net.send(net.offer_fn(invoice_id, None, 1), "supplier")
    (offered,) = net.events(receipt, "FinancingOffered")
    assert offered["recourse"] is False and net.listing_recourse(invoice_id) is False
    net.approve_hkd("financier", 80_000)
    before = (net.balances("supplier", "financier"), net.invoice(invoice_id))
    with reverts("RecourseNotAccepted", invoiceId=invoice_id, holder=net.addr("supplier")):
        net.send(net.finance_fn(invoice_id, 80_000, due=90_000, recourse=True, grace=GRACE), "financier")
    assert (net.balances("supplier", "financier"), net.invoice(invoice_id)) == before
    # The same listing is taken without recourse.
    net.send(net.finance_fn(invoice_id, 80_000, due=90_000, recourse=False, grace=0), "financier")
    assert net.invoice(invoice_id)["recourse"] is False


def test_contracts_recourse_gives_at_least_the_networks_grace(net: Net) -> None:
    """With recourse the grace period is at least the deployment's: one second less is refused,
    exactly the deployment's is taken; without recourse a financier may agree a shorter one."""
    invoice_id = net.confirmed(number="INV-GRACE")
    receipt = net.send(net.offer_fn(invoice_id, None, 1, recourse=True), "supplier")
    (offered,) = net.events(receipt, "FinancingOffered")
    assert offered["recourse"] is True and net.listing_recourse(invoice_id) is True
    net.approve_hkd("financier", 80_000)
    with reverts("RecourseGraceTooShort", invoiceId=invoice_id, gracePeriod=GRACE - 1, minimum=GRACE):
        net.send(net.finance_fn(invoice_id, 80_000, due=90_000, recourse=True, grace=GRACE - 1), "financier")
    net.send(net.finance_fn(invoice_id, 80_000, due=90_000, recourse=True, grace=GRACE), "financier")
    inv = net.invoice(invoice_id)
    assert (inv["recourse"], inv["gracePeriod"]) == (True, GRACE)
    other = net.confirmed(number="INV-GRACE-0")
    net.send(net.offer_fn(other, None, 1, recourse=True), "supplier")
    net.approve_hkd("financier", 80_000)
    net.send(net.finance_fn(other, 80_000, due=90_000, recourse=False, grace=0), "financier")
    assert (net.invoice(other)["recourse"], net.invoice(other)["gracePeriod"]) == (False, 0)
