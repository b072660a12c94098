"""The rules of InvoiceToken (version 2) on issue: the session fixture, the
invoice's identity (supplier, normalised number) computed on chain, the
shared normalisation vectors and the other issue rules.

Every rule the contracts enforce has a test that tries to break it by calling
the contract directly (``contract.functions.X(...)`` through ``Net.send`` of
``support.contracts``), not through ``Ledger`` helpers that may check first.
Every revert is checked by its custom error and by the values it carries; the
base scenario of ``conftest.py`` is restored after each test by the ``chain``
fixture. Tests named ``..._attack_...`` reproduce an attack and show that it is
repelled.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
from support.contracts import (
    AMOUNT,
    AUDITOR,
    BUYER,
    CANCELLED,
    DAY,
    FINANCIER,
    INVOICE_FIELDS,
    ISSUED,
    OPERATOR_ROLE,
    SUPPLIER,
    UINT96_MAX,
    VECTORS,
    ZERO_ADDRESS,
    Net,
    reverts,
)

from ledger.business_time import due_timestamp, start_of_day
from ledger.errors import InputError, TransactionReverted
from ledger.evm.compiler import Build

# -- the fixture itself ------------------------------------------------------------------


def test_contracts_snapshot_revert_restores_chain_time(net: Net) -> None:
    # The `chain` fixture relies on evm_revert also undoing evm_increaseTime.
    before = net.now()
    snapshot = net.rpc("evm_snapshot", [])
    net.advance_time(1000 * DAY)
    assert net.now() >= before + 1000 * DAY
    net.rpc("evm_revert", [snapshot])
    net.rpc("evm_mine", [])
    assert net.now() < before + 1000 * DAY


def test_contracts_version_is_4(net: Net) -> None:
    assert net.invoices.functions.version().call() == 5


def test_contracts_chain_invoice_unpacks_get_invoice(net: Net) -> None:
    """ChainInvoice reads getInvoice's struct in ABI order, the one place it is unpacked."""
    from ledger.evm.invoice import STRUCT_FIELDS, ChainInvoice
    from ledger.names import InvoiceStatus

    [fn] = [x for x in net.invoices.abi if x.get("name") == "getInvoice"]
    assert tuple(c["name"] for c in fn["outputs"][0]["components"]) == STRUCT_FIELDS == INVOICE_FIELDS
    invoice_id = net.issue()
    raw = net.invoice(invoice_id)
    inv = ChainInvoice.from_struct([raw[name] for name in STRUCT_FIELDS])
    assert inv == net.ledger.invoice_state(invoice_id)
    assert (inv.supplier, inv.amount, inv.paid, inv.due_ts, inv.seller) == (
        raw["supplier"],
        raw["amount"],
        0,
        raw["dueDate"],
        None,
    )
    assert (inv.status, inv.status_name, inv.outstanding) == (InvoiceStatus.ISSUED, "Issued", raw["amount"])


# -- issue -------------------------------------------------------------------------------


def test_contracts_issue_mints_token_and_registers_number(net: Net, tmp_path: Path) -> None:
    document = tmp_path / "INV-2026-001.pdf"
    document.write_bytes(b"%PDF-1.7 invoice INV-2026/001")
    due = net.due(45)
    result = net.ledger.issue(net.acct("supplier"), "buyer", "INV-2026/001", "1234.56", "HKD", due, document)
    receipt = net.receipt(result)
    doc_hash = hashlib.sha256(document.read_bytes()).digest()

    assert result["invoice_id"] == 1
    (issued,) = net.events(receipt, "InvoiceIssued")
    assert dict(issued) == {
        "invoiceId": 1,
        "supplier": net.addr("supplier"),
        "buyer": net.addr("buyer"),
        "number": "INV-2026/001",
        "currency": net.hkd.address,
        "amount": 123_456,
        "dueDate": due_timestamp(due),
        "docHash": doc_hash,
    }
    (minted,) = net.events(receipt, "Transfer")
    assert dict(minted) == {"from": ZERO_ADDRESS, "to": net.addr("supplier"), "tokenId": 1}
    assert net.owner(1) == net.addr("supplier")
    assert net.invoices.functions.balanceOf(net.addr("supplier")).call() == 1
    assert net.invoice_id_of("INV-2026/001") == 1
    assert net.invoice_id_of("inv 2026 001") == 1
    assert net.next_id() == 2
    assert net.invoice(1) == {
        "supplier": net.addr("supplier"),
        "buyer": net.addr("buyer"),
        "currency": net.hkd.address,
        "dueDate": due_timestamp(due),
        "status": ISSUED,
        "amount": 123_456,
        "paid": 0,
        "seller": ZERO_ADDRESS,
        "financierDue": 0,
        "financierPaid": 0,
        "recourse": False,
        "gracePeriod": 7 * 86400,
        "disputedFrom": 0,
        "proposedDueDate": 0,
    }
    assert net.listing(1) == (ZERO_ADDRESS, 0, 0)


def test_contracts_issue_ids_count_from_one(net: Net) -> None:
    assert [net.issue(number=f"INV-{n}") for n in range(1, 4)] == [1, 2, 3]


# -- identity: (supplier, normalised number), computed on chain ----------------------------

#: "INV-2026/001" in its normal form.
INV_2026_001 = b"INV2026001"


def _attack_same_number(net: Net, **changed: Any) -> None:
    """Issue INV-2026/001, then try it again directly with one term changed."""
    assert net.issue_raw("INV-2026/001") == 1
    with reverts("DuplicateInvoice", supplier=net.addr("supplier"), normalisedNumber=INV_2026_001, existingInvoiceId=1):
        net.send(net.issue_fn("INV-2026/001", **changed), "supplier")
    assert net.next_id() == 2
    assert net.invoice_id_of("INV-2026/001") == 1
    assert net.invoice(1)["amount"] == AMOUNT


def test_contracts_attack_same_number_other_amount_refused(net: Net) -> None:
    # One cent more does not make a new invoice.
    _attack_same_number(net, amount=AMOUNT + 1)


def test_contracts_attack_same_number_other_due_date_refused(net: Net) -> None:
    _attack_same_number(net, due_ts=due_timestamp(net.due(31)))


def test_contracts_attack_same_number_other_buyer_refused(net: Net) -> None:
    _attack_same_number(net, buyer="buyer2")


def test_contracts_attack_same_number_other_currency_refused(net: Net, build: Build) -> None:
    artifact = build.artifact("SettlementToken")
    usd = net.deploy(
        artifact.abi, artifact.bytecode, "US Dollar (test)", "USD", 2, net.addr("operator"), net.addr("operator")
    )
    receipt = net.send(net.invoices.functions.setCurrencyAccepted(usd.address, True), "operator")
    # A second currency gets the next currency id.
    assert [dict(e) for e in net.events(receipt, "CurrencyAcceptanceChanged")] == [
        {"currency": usd.address, "currencyId": 2, "accepted": True}
    ]
    _attack_same_number(net, currency=usd.address)
    # The currency is not part of the identity, so a new number in it is fine.
    invoice_id = net.issue_raw("INV-2026/002", currency=usd.address)
    assert net.invoice(invoice_id)["currency"] == usd.address


def test_contracts_attack_same_number_all_terms_changed_refused(net: Net) -> None:
    _attack_same_number(net, buyer="buyer2", amount=1, due_ts=due_timestamp(net.due(90)), doc_hash=b"\1" * 32)


@pytest.mark.parametrize("variant", ["INV-01", "INV 0001", "inv1", "ＩＮＶ０１", "ｉｎｖ－０１", "INV#1", "Inv_0_1"])
def test_contracts_attack_number_variant_refused_as_duplicate(net: Net, variant: str) -> None:
    assert net.issue_raw("INV-1") == 1
    with reverts("DuplicateInvoice", supplier=net.addr("supplier"), normalisedNumber=b"INV1", existingInvoiceId=1):
        net.send(net.issue_fn(variant, amount=AMOUNT + 1), "supplier")
    assert net.invoice_id_of(variant) == 1
    assert net.next_id() == 2


@pytest.mark.parametrize(
    "variant",
    ["INV\u200b1", "INV\u00a01", "INV\u00ad1", "\ufeffINV-1", "INV\u20101", "INV\u22121", "INV\u202e1"],
    ids=["zero-width-space", "no-break-space", "soft-hyphen", "bom", "hyphen", "minus", "bidi-override"],
)
def test_contracts_attack_invisible_character_variant_refused_as_duplicate(net: Net, variant: str) -> None:
    assert net.issue_raw("INV-1") == 1
    with reverts("DuplicateInvoice", supplier=net.addr("supplier"), normalisedNumber=b"INV1", existingInvoiceId=1):
        net.send(net.issue_fn(variant), "supplier")


def test_contracts_attack_number_squatting_by_another_supplier_fails(net: Net) -> None:
    # supplier2 issues "INV-1" first (even to the same buyer, for the same amount):
    # that does not occupy supplier's number, and each supplier's invoice stays its own.
    assert net.issue_raw("INV-1", supplier="supplier2") == 1
    assert net.invoice_id_of("INV-1") == 0
    assert net.issue_raw("INV-1", supplier="supplier") == 2
    assert (net.invoice_id_of("inv-01", "supplier"), net.invoice_id_of("inv-01", "supplier2")) == (2, 1)
    # Nor can supplier2 use supplier's number again.
    with reverts("DuplicateInvoice", supplier=net.addr("supplier2"), normalisedNumber=b"INV1", existingInvoiceId=1):
        net.send(net.issue_fn("INV 01"), "supplier2")


def test_contracts_attack_cancel_to_free_number_refused(net: Net) -> None:
    net.issue_raw("INV-7")
    net.send(net.invoices.functions.cancel(1), "supplier")
    with reverts("DuplicateInvoice", supplier=net.addr("supplier"), normalisedNumber=b"INV7", existingInvoiceId=1):
        net.send(net.issue_fn("INV-7", amount=AMOUNT - 1), "supplier")
    with reverts("DuplicateInvoice", supplier=net.addr("supplier"), normalisedNumber=b"INV7", existingInvoiceId=1):
        net.send(net.issue_fn("inv 0007"), "supplier")
    assert net.invoice_id_of("INV-7") == 1
    assert net.invoice(1)["status"] == CANCELLED


@pytest.mark.parametrize(
    "number",
    [
        "",
        "x" * 65,
        "發" * 21 + "xx",
        "INV\n01",
        "INV\x1b[31m1",
        "INV\x7f1",
        "INV\t1",
        "\x00",
        "   ",
        "---",
        "／－",
        "\u3000",
    ],
    ids=[
        "empty",
        "65-bytes",
        "65-bytes-utf8",
        "newline",
        "escape",
        "delete",
        "tab",
        "nul",
        "spaces",
        "dashes",
        "full-width-separators",
        "ideographic-space",
    ],
)
def test_contracts_attack_invalid_invoice_number_refused(net: Net, number: str) -> None:
    with reverts("InvalidInvoiceNumber", number=number):
        net.send(net.issue_fn(number), "supplier")
    with reverts("InvalidInvoiceNumber", number=number):
        net.call(net.invoices.functions.normaliseNumber(number))
    assert net.next_id() == 1


def test_contracts_issue_number_of_64_bytes_accepted(net: Net) -> None:
    number = "發" * 21 + "x"  # 64 bytes of UTF-8
    assert len(number.encode()) == 64
    assert net.issue_raw(number) == 1
    assert net.invoice_id_of(number) == 1


# -- the shared normalisation vectors --------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=[f"{i}-{v['number'][:12]!r}" for i, v in enumerate(VECTORS)])
def test_contracts_normalise_number_matches_vectors(net: Net, vector: dict[str, Any]) -> None:
    fn = net.invoices.functions.normaliseNumber(vector["number"])
    if vector["normalised"] is None:
        with reverts("InvalidInvoiceNumber", number=vector["number"]):
            net.call(fn)
    else:
        assert net.call(fn) == vector["normalised"].encode("utf-8")


def test_contracts_invoice_id_of_finds_every_vector_spelling(net: Net) -> None:
    ids: dict[str, int] = {}
    for vector in VECTORS:
        normal = vector["normalised"]
        if normal is None:
            continue
        if normal not in ids:
            ids[normal] = net.issue_raw(vector["number"])
        else:
            # Another spelling of an issued number: a duplicate, whatever else changes.
            with reverts(
                "DuplicateInvoice",
                supplier=net.addr("supplier"),
                normalisedNumber=normal.encode(),
                existingInvoiceId=ids[normal],
            ):
                net.send(net.issue_fn(vector["number"], amount=7), "supplier")
    for vector in VECTORS:
        if vector["normalised"] is not None:
            assert net.invoice_id_of(vector["number"]) == ids[vector["normalised"]], vector
            assert net.invoice_id_of(vector["number"], "supplier2") == 0, vector
    assert net.next_id() == len(ids) + 1


# -- other issue rules ------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [0, 2**96, 2**128, 2**256 - 1])
def test_contracts_attack_issue_amount_out_of_range_refused(net: Net, amount: int) -> None:
    with reverts("InvalidAmount", amount=amount):
        net.send(net.issue_fn(amount=amount), "supplier")
    assert net.next_id() == 1


def test_contracts_issue_largest_amount(net: Net) -> None:
    net.issue_raw(amount=UINT96_MAX)
    assert net.invoice(1)["amount"] == UINT96_MAX


def test_contracts_issue_amount_above_uint96_message(net: Net) -> None:
    # Amounts beyond 28 digits are shown exactly, not rounded by the default decimal context.
    with pytest.raises(TransactionReverted) as info:
        net.send(net.issue_fn(amount=2**96), "supplier")
    assert str(info.value) == (
        "invalid amount HKD 792,281,625,142,643,375,935,439,503.36: must be positive and below 2^96 minor units"
    )


def test_contracts_issue_zero_amount_through_ledger(net: Net) -> None:
    # The Ledger refuses zero as bad input before sending (the contract's own rule is tested above).
    with pytest.raises(InputError, match=r"^invalid amount '0.00': must be more than 0$"):
        net.issue(amount="0.00")
    assert net.next_id() == 1


def test_contracts_issue_due_date_not_in_future(net: Net) -> None:
    # Due yesterday: its end (in the business time zone) is already past.
    yesterday = due_timestamp(net.due(-1))
    assert yesterday == start_of_day(net.due(0)) - 1
    with reverts("InvalidDueDate", dueDate=yesterday, nowTimestamp=ANY, latestDueDate=ANY) as info:
        net.issue(days=-1)
    args = info.value.error_args
    assert args["nowTimestamp"] >= net.now() > yesterday
    assert args["latestDueDate"] == args["nowTimestamp"] + net.invoices.functions.maxTenor().call()
    # The due date must be strictly after the block's time.
    net.mine_at(net.now() + 100)
    now = net.now()
    with reverts("InvalidDueDate", dueDate=now, nowTimestamp=now, latestDueDate=ANY):
        net.call(net.issue_fn(due_ts=now), "supplier")


def test_contracts_attack_due_date_beyond_max_tenor_refused(net: Net) -> None:
    tenor = int(net.invoices.functions.maxTenor().call())
    assert tenor == net.ledger.settings.max_tenor_days * DAY
    net.mine_at(net.now() + 100)
    now = net.now()
    with reverts("InvalidDueDate", dueDate=now + tenor + 1, nowTimestamp=now, latestDueDate=now + tenor):
        net.call(net.issue_fn(due_ts=now + tenor + 1), "supplier")
    net.call(net.issue_fn(due_ts=now + tenor), "supplier")  # the last second of the window is fine
    with reverts("InvalidDueDate", dueDate=2**64 - 1, nowTimestamp=ANY, latestDueDate=ANY):
        net.send(net.issue_fn(due_ts=2**64 - 1), "supplier")
    # The operator shortens the window to 90 days: a 91-day invoice is refused.
    receipt = net.send(net.invoices.functions.setMaxTenor(90 * DAY), "operator")
    assert [dict(e) for e in net.events(receipt, "MaxTenorChanged")] == [{"maxTenor": 90 * DAY}]
    assert net.invoices.functions.maxTenor().call() == 90 * DAY
    due = due_timestamp(net.due(91))
    with reverts("InvalidDueDate", dueDate=due, nowTimestamp=ANY, latestDueDate=ANY) as info:
        net.send(net.issue_fn(due_ts=due), "supplier")
    args = info.value.error_args
    assert args["latestDueDate"] == args["nowTimestamp"] + 90 * DAY < due
    net.send(net.issue_fn(due_ts=due_timestamp(net.due(89))), "supplier")


def test_contracts_set_max_tenor_by_operator_only(net: Net) -> None:
    for who in ("supplier", "buyer", "dev9"):
        with reverts("AccessControlUnauthorizedAccount", account=net.addr(who), neededRole=OPERATOR_ROLE):
            net.send(net.invoices.functions.setMaxTenor(365 * DAY), who)
    for tenor in (0, DAY - 1):
        with reverts("InvalidMaxTenor", maxTenor=tenor):
            net.send(net.invoices.functions.setMaxTenor(tenor), "operator")
    net.send(net.invoices.functions.setMaxTenor(DAY), "operator")
    assert net.invoices.functions.maxTenor().call() == DAY


def test_contracts_issue_buyer_is_supplier(net: Net) -> None:
    net.admit("dev8", "Tai Po Trading Ltd", SUPPLIER | BUYER)
    with reverts("InvalidBuyer", buyer=net.addr("dev8")):
        net.send(net.issue_fn(buyer="dev8"), "dev8")


def test_contracts_issue_buyer_not_a_buyer(net: Net) -> None:
    with reverts("ParticipantLacksRole", account=net.addr("financier"), role=BUYER, roles=FINANCIER):
        net.issue(buyer="financier")
    with reverts("ParticipantNotAdmitted", account=net.addr("dev9")):
        net.send(net.issue_fn(buyer="dev9"), "supplier")


def test_contracts_issue_unaccepted_currency(net: Net) -> None:
    other = net.registry.address
    with reverts("CurrencyNotAccepted", currency=other):
        net.send(net.issue_fn(currency=other), "supplier")
    # The currency manager can stop accepting a currency for new invoices; its id stays.
    receipt = net.send(net.invoices.functions.setCurrencyAccepted(net.hkd.address, False), "operator")
    (changed,) = net.events(receipt, "CurrencyAcceptanceChanged")
    assert dict(changed) == {"currency": net.hkd.address, "currencyId": 1, "accepted": False}
    assert net.invoices.functions.currencyAccepted(net.hkd.address).call() is False
    with reverts("CurrencyNotAccepted", currency=net.hkd.address):
        net.issue()


def test_contracts_unaccepted_currency_still_settles(net: Net) -> None:
    # Invoices already issued in a currency settle in it after it is no longer accepted.
    net.confirmed()
    net.send(net.invoices.functions.setCurrencyAccepted(net.hkd.address, False), "operator")
    before = net.balance("supplier")
    net.ledger.repay(net.acct("buyer"), 1, "1000.00")
    assert net.balance("supplier") == before + AMOUNT
    assert net.invoice(1)["currency"] == net.hkd.address


def test_contracts_issue_by_non_participant(net: Net) -> None:
    with reverts("ParticipantNotAdmitted", account=net.addr("dev9")):
        net.send(net.issue_fn(), "dev9")
    with reverts("ParticipantLacksRole", account=net.addr("auditor"), role=SUPPLIER, roles=AUDITOR):
        net.send(net.issue_fn(), "auditor")
    assert net.next_id() == 1


def test_contracts_unknown_invoice(net: Net) -> None:
    with reverts("InvoiceNotFound", invoiceId=99):
        net.ledger.confirm(net.acct("buyer"), 99)
    with reverts("InvoiceNotFound", invoiceId=99):
        net.invoice(99)
    for fn, who in (
        (net.invoices.functions.cancel(99), "supplier"),
        (net.invoices.functions.offerForFinancing(99, ZERO_ADDRESS, 1, net.now() + DAY, False), "supplier"),
        (net.invoices.functions.withdrawOffer(99), "supplier"),
        (net.invoices.functions.repay(99, 1), "buyer"),
    ):
        with reverts("InvoiceNotFound", invoiceId=99):
            net.send(fn, who)
