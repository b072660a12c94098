"""Intake at ERP scale (contract v5): ``issueBatch``, ``confirmBatch``, confirmations
signed offline by the buyer (EIP-712) and submitted by anyone with
``confirmWithSignatures``, nonce revocation, ERC-1271 contract wallets as buyers,
and the EIP-712 domain (ERC-5267).

Every rule is tried by calling the contract directly (``net.send(fn, who)`` of
``support.contracts``), never through a client that checks first. Every revert is
checked by its custom error and the values it carries; the base scenario is
restored after each test by the ``chain`` fixture. Tests named ``..._attack_...``
reproduce an attack and show that it is repelled. Signatures are made with
``ledger.evm.confirmations`` (the client's own code), so the happy paths also show
that the Python digest is the contract's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from unittest.mock import ANY

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys.datatypes import Signature
from eth_utils import keccak
from support.contracts import (
    AMOUNT,
    AUDITOR,
    BUYER,
    CANCELLED,
    CONFIRMED,
    DAY,
    FINANCIER,
    ISSUED,
    SUPPLIER,
    ZERO32,
    ZERO_ADDRESS,
    Net,
    compile_test_contract,
    reverts,
)

from ledger.business_time import due_timestamp
from ledger.errors import TransactionReverted
from ledger.evm.confirmations import CONFIRMATION_TYPES, Confirmation, Domain, sign

#: The order of the secp256k1 curve (for the high-s twin of a signature).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
#: ERC-1271's magic value: ``IERC1271.isValidSignature.selector``.
ERC1271_MAGIC = keccak(text="isValidSignature(bytes32,bytes)")[:4]


@pytest.fixture(scope="session")
def wallet_artifact(session_env: Any) -> dict[str, Any]:
    """ABI and bytecode of tests/contracts/ContractWallet.sol (a minimal ERC-1271 wallet)."""
    artifact: dict[str, Any] = compile_test_contract(session_env.settings, "ContractWallet")
    return artifact


# -- helpers -----------------------------------------------------------------------------------


def _due(net: Net, days: int = 30) -> int:
    return due_timestamp(net.due(days))


def _request(
    net: Net,
    number: str,
    buyer: str = "buyer",
    amount: int = AMOUNT,
    due_ts: int | None = None,
    currency: str | None = None,
    doc_hash: bytes = ZERO32,
) -> tuple[Any, ...]:
    """An ``IssueRequest`` (buyer, number, amount, currency, dueDate, docHash); ``buyer`` is an
    account name or an address."""
    return (
        buyer if buyer.startswith("0x") else net.addr(buyer),
        number,
        amount,
        currency or net.hkd.address,
        _due(net) if due_ts is None else due_ts,
        doc_hash,
    )


def _issue_batch(net: Net, requests: list[tuple[Any, ...]], supplier: str = "supplier") -> Any:
    return net.send(net.invoices.functions.issueBatch(requests), supplier)


def _logs(receipt: Any) -> list[tuple[str, tuple[bytes, ...], bytes]]:
    """A receipt's logs as (emitter, topics, data): what an indexer reads."""
    return [(log["address"], tuple(bytes(t) for t in log["topics"]), bytes(log["data"])) for log in receipt["logs"]]


def _event_names(net: Net, receipt: Any) -> list[str]:
    """The names of a receipt's events of the invoice token, in log order."""
    by_topic = {
        keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})"): e["name"]
        for e in net.invoices.abi
        if e["type"] == "event"
    }
    return [by_topic[bytes(log["topics"][0])] for log in receipt["logs"]]


@contextmanager
def _rolled_back(net: Net) -> Iterator[None]:
    """Run the block, then put the chain back as it was (to compare two ways of doing one thing)."""
    snapshot = net.rpc("evm_snapshot", [])
    try:
        yield
    finally:
        assert net.rpc("evm_revert", [snapshot]) is True


def _number_of(net: Net, invoice_id: int) -> str:
    """The invoice number as issued (from its ``InvoiceIssued`` event: only the event holds it)."""
    (log,) = net.invoices.events.InvoiceIssued().get_logs(from_block=0, argument_filters={"invoiceId": invoice_id})
    return str(log["args"]["number"])


def _domain(net: Net) -> Domain:
    return Domain(chain_id=int(net.ledger.w3.eth.chain_id), contract=net.invoices.address)


def _confirmation(net: Net, invoice_id: int, **overrides: Any) -> Confirmation:
    """The confirmation of ``invoice_id`` as the buyer's payables know it (the invoice's number,
    supplier and terms as they are now), nonce = the invoice id, deadline a day ahead; any
    field of ``Confirmation`` overridden."""
    inv = net.invoice(invoice_id)
    fields: dict[str, Any] = {
        "buyer": inv["buyer"],
        "supplier": inv["supplier"],
        "number": _number_of(net, invoice_id),
        "currency": inv["currency"],
        "amount": inv["amount"],
        "due_date": inv["dueDate"],
        "nonce": invoice_id,
        "deadline": net.now() + DAY,
    }
    fields.update(overrides)
    return Confirmation(**fields)


def sign_for(
    net: Net, invoice_id: int, who: str = "buyer", domain: Domain | None = None, **overrides: Any
) -> tuple[Any, ...]:
    """A ``SignedConfirmation`` of ``invoice_id`` signed by ``who`` (see :func:`_confirmation`)."""
    confirmation = _confirmation(net, invoice_id, **overrides)
    return confirmation.signed(sign(net.acct(who), domain or _domain(net), confirmation))


def _with(signed: tuple[Any, ...], **changed: Any) -> tuple[Any, ...]:
    """A ``SignedConfirmation`` tuple with fields changed after signing (what an attacker can do)."""
    names = ("buyer", "supplier", "number", "currency", "amount", "dueDate", "nonce", "deadline", "signature")
    fields = dict(zip(names, signed, strict=True))
    fields.update(changed)
    return tuple(fields.values())


def _submit_fn(net: Net, items: list[tuple[Any, ...]]) -> Any:
    return net.invoices.functions.confirmWithSignatures(items)


def _submit(net: Net, items: list[tuple[Any, ...]], relayer: str = "financier") -> Any:
    return net.send(_submit_fn(net, items), relayer)


def _nonce_word(net: Net, nonce: int, buyer: str = "buyer") -> int:
    """The bitmap word of ``buyer`` (a name or an address) that holds ``nonce``."""
    account = buyer if buyer.startswith("0x") else net.addr(buyer)
    return int(net.invoices.functions.confirmationNonces(account, nonce >> 8).call())


def _used(net: Net, nonce: int, buyer: str = "buyer") -> bool:
    return bool(_nonce_word(net, nonce, buyer) >> (nonce & 0xFF) & 1)


def _statuses(net: Net, *ids: int) -> list[int]:
    return [net.invoice(i)["status"] for i in ids]


def _issued(net: Net, count: int, buyer: str = "buyer", supplier: str = "supplier") -> list[int]:
    """``count`` invoices (numbers ``INV-1``...) issued singly by ``supplier`` to ``buyer``."""
    return [net.issue_raw(f"INV-{n}", supplier=supplier, buyer=buyer) for n in range(1, count + 1)]


def _wallet(net: Net, artifact: dict[str, Any], owner: str = "dev8", name: str = "Yuen Long Holdings Ltd") -> Any:
    """A ContractWallet of ``owner``, admitted as a buyer."""
    wallet = net.deploy(artifact["abi"], artifact["bytecode"], net.addr(owner))
    admit = net.registry.functions.admit(wallet.address, name, BUYER, net.now() + 365 * DAY)
    net.send(admit, "operator")
    return wallet


def _sign_as_wallet_owner(net: Net, confirmation: Confirmation, owner: str = "dev8") -> tuple[Any, ...]:
    """What a wallet's owner does: sign the confirmation's EIP-712 digest with its key."""
    signature = Account.unsafe_sign_hash(confirmation.digest(_domain(net)), net.acct(owner).key).signature
    return confirmation.signed(bytes(signature))


def _execute(net: Net, wallet: Any, fn: Any, who: str = "dev8") -> Any:
    """``fn`` (a call of the invoice token) made by ``wallet`` through ``execute``, as ``who``."""
    data = fn._encode_transaction_data()  # noqa: SLF001 - the calldata the wallet forwards
    return net.send(wallet.functions.execute(net.invoices.address, data), who)


# -- issueBatch ----------------------------------------------------------------------------------


def test_contracts_issue_batch_ids_are_consecutive_from_the_returned_id(net: Net) -> None:
    assert net.issue_raw("INV-0") == 1
    requests = [
        _request(net, "INV-1", amount=10_000),
        _request(net, "INV-2", buyer="buyer2", amount=20_000, due_ts=_due(net, 60)),
        _request(net, "發票-3", amount=30_000, doc_hash=b"\3" * 32),
    ]
    assert net.call(net.invoices.functions.issueBatch(requests), "supplier") == 2
    receipt = _issue_batch(net, requests)
    assert [e["invoiceId"] for e in net.events(receipt, "InvoiceIssued")] == [2, 3, 4]
    assert net.next_id() == 5
    for invoice_id, (buyer, number, amount, currency, due, _doc) in zip([2, 3, 4], requests, strict=True):
        assert net.invoice_id_of(number) == invoice_id
        assert net.owner(invoice_id) == net.addr("supplier")
        inv = net.invoice(invoice_id)
        assert (inv["supplier"], inv["buyer"], inv["amount"], inv["currency"], inv["dueDate"], inv["status"]) == (
            net.addr("supplier"),
            buyer,
            amount,
            currency,
            due,
            ISSUED,
        )
    assert net.invoices.functions.balanceOf(net.addr("supplier")).call() == 4


def test_contracts_issue_batch_logs_are_those_of_single_issues(net: Net) -> None:
    """Each item emits exactly what ``issue`` emits (Transfer, then InvoiceIssued, same args),
    so an indexer cannot tell a batch from single issues."""
    net.issue_raw("INV-0")
    requests = [
        _request(net, "INV-1", amount=10_000, doc_hash=b"\1" * 32),
        _request(net, "inv 0002", buyer="buyer2", amount=20_000, due_ts=_due(net, 60), doc_hash=b"\2" * 32),
        _request(net, "ＩＮＶ－３", amount=30_000),
    ]
    with _rolled_back(net):
        singles = []
        for buyer, number, amount, currency, due, doc in requests:
            fn = net.invoices.functions.issue(buyer, number, amount, currency, due, doc)
            singles += _logs(net.send(fn, "supplier"))
    receipt = _issue_batch(net, requests)
    assert _logs(receipt) == singles
    assert _event_names(net, receipt) == ["Transfer", "InvoiceIssued"] * 3
    (first_issued, *_) = net.events(receipt, "InvoiceIssued")
    assert dict(first_issued) == {
        "invoiceId": 2,
        "supplier": net.addr("supplier"),
        "buyer": net.addr("buyer"),
        "number": "INV-1",
        "currency": net.hkd.address,
        "amount": 10_000,
        "dueDate": requests[0][4],
        "docHash": b"\1" * 32,
    }


def _bad_item(net: Net, case: str) -> tuple[str, tuple[Any, ...], str, dict[str, Any]]:
    """(the issuing supplier, the bad request, the error, its args) for each way an item can be
    wrong; the batch around it is ``INV-1`` (id 2 if issued), the bad item, ``INV-3``."""
    supplier, past, far = net.addr("supplier"), _due(net, -1), 2**64 - 1
    if case == "buyer-suspended":
        net.suspend("buyer2")
    if case == "buyer-is-supplier":
        # A participant that is both supplier and buyer cannot issue to itself.
        net.admit("dev8", "Tai Po Trading Ltd", SUPPLIER | BUYER)
        return "dev8", _request(net, "INV-2", buyer="dev8"), "InvalidBuyer", {"buyer": net.addr("dev8")}
    bad: dict[str, tuple[tuple[Any, ...], str, dict[str, Any]]] = {
        # Another spelling of the batch's own first item.
        "duplicate-in-batch": (
            _request(net, "inv 0001"),
            "DuplicateInvoice",
            {"supplier": supplier, "normalisedNumber": b"INV1", "existingInvoiceId": 2},
        ),
        # Another spelling of INV-0, issued before.
        "already-issued": (
            _request(net, "INV_00"),
            "DuplicateInvoice",
            {"supplier": supplier, "normalisedNumber": b"INV0", "existingInvoiceId": 1},
        ),
        "invalid-number": (_request(net, "INV\n2"), "InvalidInvoiceNumber", {"number": "INV\n2"}),
        "zero-amount": (_request(net, "INV-2", amount=0), "InvalidAmount", {"amount": 0}),
        "amount-above-uint96": (_request(net, "INV-2", amount=2**96), "InvalidAmount", {"amount": 2**96}),
        "due-date-past": (
            _request(net, "INV-2", due_ts=past),
            "InvalidDueDate",
            {"dueDate": past, "nowTimestamp": ANY, "latestDueDate": ANY},
        ),
        "due-date-beyond-tenor": (
            _request(net, "INV-2", due_ts=far),
            "InvalidDueDate",
            {"dueDate": far, "nowTimestamp": ANY, "latestDueDate": ANY},
        ),
        "unaccepted-currency": (
            _request(net, "INV-2", currency=net.registry.address),
            "CurrencyNotAccepted",
            {"currency": net.registry.address},
        ),
        "buyer-not-a-buyer": (
            _request(net, "INV-2", buyer="financier"),
            "ParticipantLacksRole",
            {"account": net.addr("financier"), "role": BUYER, "roles": FINANCIER},
        ),
        "buyer-not-admitted": (
            _request(net, "INV-2", buyer="dev9"),
            "ParticipantNotAdmitted",
            {"account": net.addr("dev9")},
        ),
        "buyer-suspended": (
            _request(net, "INV-2", buyer="buyer2"),
            "ParticipantIsSuspended",
            {"account": net.addr("buyer2")},
        ),
    }
    return ("supplier", *bad[case])


@pytest.mark.parametrize(
    "case",
    [
        "duplicate-in-batch",
        "already-issued",
        "invalid-number",
        "zero-amount",
        "amount-above-uint96",
        "due-date-past",
        "due-date-beyond-tenor",
        "unaccepted-currency",
        "buyer-not-a-buyer",
        "buyer-not-admitted",
        "buyer-suspended",
        "buyer-is-supplier",
    ],
)
def test_contracts_attack_issue_batch_with_one_bad_item_issues_nothing(net: Net, case: str) -> None:
    assert net.issue_raw("INV-0") == 1
    supplier, bad, error, args = _bad_item(net, case)
    requests = [_request(net, "INV-1"), bad, _request(net, "INV-3")]
    balance = net.invoices.functions.balanceOf(net.addr(supplier)).call()
    with reverts(error, **args):
        _issue_batch(net, requests, supplier)
    assert net.next_id() == 2
    assert net.invoices.functions.balanceOf(net.addr(supplier)).call() == balance
    assert [net.invoice_id_of(n, supplier) for n in ("INV-1", "INV-2", "INV-3")] == [0, 0, 0]
    # The good items alone go through: nothing of the refused batch stuck.
    receipt = _issue_batch(net, [requests[0], requests[2]], supplier)
    assert [e["invoiceId"] for e in net.events(receipt, "InvoiceIssued")] == [2, 3]


def test_contracts_issue_batch_empty_refused(net: Net) -> None:
    with reverts("EmptyBatch"):
        _issue_batch(net, [])
    assert net.next_id() == 1


def test_contracts_issue_batch_only_by_an_active_supplier_while_not_paused(net: Net) -> None:
    requests = [_request(net, "INV-1"), _request(net, "INV-2")]
    with reverts("ParticipantLacksRole", account=net.addr("buyer2"), role=SUPPLIER, roles=BUYER):
        _issue_batch(net, requests, "buyer2")
    with reverts("ParticipantLacksRole", account=net.addr("auditor"), role=SUPPLIER, roles=AUDITOR):
        _issue_batch(net, requests, "auditor")
    with reverts("ParticipantNotAdmitted", account=net.addr("dev9")):
        _issue_batch(net, requests, "dev9")
    net.suspend("supplier")
    with reverts("ParticipantIsSuspended", account=net.addr("supplier")):
        _issue_batch(net, requests)
    net.suspend("supplier", False)
    expiry = net.now() + 60
    net.send(net.registry.functions.updateParticipant(net.addr("supplier"), SUPPLIER, expiry), "operator")
    net.mine_at(expiry)
    with reverts("ParticipantKycExpired", account=net.addr("supplier"), kycExpiry=expiry, nowTimestamp=ANY):
        _issue_batch(net, requests)
    net.send(net.registry.functions.updateParticipant(net.addr("supplier"), SUPPLIER, expiry + DAY), "operator")
    net.set_paused(True)
    with reverts("EnforcedPause"):
        _issue_batch(net, requests)
    assert net.next_id() == 1
    net.set_paused(False)
    assert net.call(net.invoices.functions.issueBatch(requests), "supplier") == 1


# -- confirmBatch --------------------------------------------------------------------------------


def test_contracts_confirm_batch_logs_are_those_of_single_confirms(net: Net) -> None:
    ids = _issued(net, 3)
    order = [3, 1, 2]
    with _rolled_back(net):
        singles = []
        for invoice_id in order:
            singles += _logs(net.send(net.invoices.functions.confirm(invoice_id), "buyer"))
    receipt = net.send(net.invoices.functions.confirmBatch(order), "buyer")
    assert _logs(receipt) == singles
    assert [dict(e) for e in net.events(receipt, "InvoiceConfirmed")] == [
        {"invoiceId": i, "buyer": net.addr("buyer")} for i in order
    ]
    assert _statuses(net, *ids) == [CONFIRMED] * 3


def test_contracts_attack_confirm_batch_with_a_foreign_invoice_confirms_nothing(net: Net) -> None:
    (mine,) = _issued(net, 1)
    foreign = net.issue_raw("INV-2", buyer="buyer2")
    with reverts("NotInvoiceBuyer", invoiceId=foreign, account=net.addr("buyer"), buyer=net.addr("buyer2")):
        net.send(net.invoices.functions.confirmBatch([mine, foreign]), "buyer")
    # Nor can the supplier confirm its own invoices in a batch.
    with reverts("NotInvoiceBuyer", invoiceId=mine, account=net.addr("supplier"), buyer=net.addr("buyer")):
        net.send(net.invoices.functions.confirmBatch([mine]), "supplier")
    assert _statuses(net, mine, foreign) == [ISSUED, ISSUED]


def test_contracts_confirm_batch_refused_unless_every_invoice_is_issued(net: Net) -> None:
    first, cancelled, confirmed = _issued(net, 3)
    net.cancel(cancelled)
    net.confirm(confirmed)
    cases = [
        ([first, cancelled], "InvoiceNotIssued", {"invoiceId": cancelled, "status": CANCELLED}),
        ([first, confirmed], "InvoiceNotIssued", {"invoiceId": confirmed, "status": CONFIRMED}),
        # The same id twice: the second is no longer Issued.
        ([first, first], "InvoiceNotIssued", {"invoiceId": first, "status": CONFIRMED}),
        ([first, 99], "InvoiceNotFound", {"invoiceId": 99}),
        ([first, 0], "InvoiceNotFound", {"invoiceId": 0}),
    ]
    for ids, error, args in cases:
        with reverts(error, **args):
            net.send(net.invoices.functions.confirmBatch(ids), "buyer")
    assert _statuses(net, first, cancelled, confirmed) == [ISSUED, CANCELLED, CONFIRMED]


def test_contracts_confirm_batch_empty_paused_or_suspended_buyer_refused(net: Net) -> None:
    ids = _issued(net, 2)
    with reverts("EmptyBatch"):
        net.send(net.invoices.functions.confirmBatch([]), "buyer")
    net.set_paused(True)
    with reverts("EnforcedPause"):
        net.send(net.invoices.functions.confirmBatch(ids), "buyer")
    net.set_paused(False)
    net.suspend("buyer")
    with reverts("ParticipantIsSuspended", account=net.addr("buyer")):
        net.send(net.invoices.functions.confirmBatch(ids), "buyer")
    assert _statuses(net, *ids) == [ISSUED, ISSUED]


# -- confirmWithSignatures: the happy paths ------------------------------------------------------------


@pytest.mark.parametrize("relayer", ["financier", "operator", "supplier", "dev9"])
def test_contracts_signed_confirmation_submitted_by_anyone_is_a_confirm(net: Net, relayer: str) -> None:
    """The relayer (even one that is no participant) pays the gas; the buyer confirms: the
    logs are exactly those of the buyer's own ``confirm``."""
    (invoice_id,) = _issued(net, 1)
    signed = sign_for(net, invoice_id)
    with _rolled_back(net):
        single = _logs(net.send(net.invoices.functions.confirm(invoice_id), "buyer"))
    receipt = _submit(net, [signed], relayer)
    assert _logs(receipt) == single
    assert [dict(e) for e in net.events(receipt, "InvoiceConfirmed")] == [
        {"invoiceId": invoice_id, "buyer": net.addr("buyer")}
    ]
    assert net.invoice(invoice_id)["status"] == CONFIRMED
    assert _nonce_word(net, invoice_id) == 1 << invoice_id


def test_contracts_signed_confirmations_of_several_buyers_in_one_batch(net: Net) -> None:
    a = net.issue_raw("INV-1")
    b = net.issue_raw("INV-2", buyer="buyer2")
    c = net.issue_raw("S2-1", supplier="supplier2")
    items = [sign_for(net, b, "buyer2"), sign_for(net, a, nonce=5), sign_for(net, c, nonce=2**255 + 7)]
    receipt = _submit(net, items)
    assert [dict(e) for e in net.events(receipt, "InvoiceConfirmed")] == [
        {"invoiceId": b, "buyer": net.addr("buyer2")},
        {"invoiceId": a, "buyer": net.addr("buyer")},
        {"invoiceId": c, "buyer": net.addr("buyer")},
    ]
    assert _statuses(net, a, b, c) == [CONFIRMED] * 3
    # Each buyer's nonces are its own.
    assert (_used(net, 5), _used(net, 2**255 + 7), _used(net, b, "buyer2"), _used(net, b)) == (True, True, True, False)


def test_contracts_signed_confirmation_from_typed_data_accepted(net: Net) -> None:
    """A wallet that signs EIP-712 typed data (eth_account's encoder, not the project's
    digest) makes a signature the contract accepts: the type string and domain agree."""
    (invoice_id,) = _issued(net, 1)
    confirmation = _confirmation(net, invoice_id)
    domain = _domain(net)
    message = encode_typed_data(
        domain_data=domain.as_dict(), message_types=CONFIRMATION_TYPES, message_data=confirmation.message()
    )
    signature = bytes(net.acct("buyer").sign_message(message).signature)
    assert signature == sign(net.acct("buyer"), domain, confirmation)
    _submit(net, [confirmation.signed(signature)])
    assert net.invoice(invoice_id)["status"] == CONFIRMED


@pytest.mark.parametrize("spelling", ["inv 0001", "ＩＮＶ０１", "Inv#1", "INV\u200b0001"])
def test_contracts_signed_number_in_another_spelling_matches(net: Net, spelling: str) -> None:
    # The buyer's payables spell the supplier's number their own way: the contract normalises.
    (invoice_id,) = _issued(net, 1)
    _submit(net, [sign_for(net, invoice_id, number=spelling)])
    assert net.invoice(invoice_id)["status"] == CONFIRMED


def test_contracts_signed_confirmation_deadline_is_inclusive(net: Net) -> None:
    (invoice_id,) = _issued(net, 1)
    deadline = net.now() + 600
    early = sign_for(net, invoice_id, deadline=deadline)
    # In a block of the deadline's second it is still valid, one second later it is void.
    net.mine_at(deadline)
    net.call(_submit_fn(net, [early]), "financier")
    net.rpc("evm_setNextBlockTimestamp", [deadline + 1])
    with reverts(
        "ConfirmationExpired",
        supplier=net.addr("supplier"),
        number="INV-1",
        deadline=deadline,
        nowTimestamp=deadline + 1,
    ):
        _submit(net, [early])
    # A transaction mined exactly at its deadline confirms.
    late = sign_for(net, invoice_id, nonce=2, deadline=deadline + 10)
    net.rpc("evm_setNextBlockTimestamp", [deadline + 10])
    receipt = _submit(net, [late])
    assert net.ledger.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == deadline + 10
    assert net.invoice(invoice_id)["status"] == CONFIRMED


def test_contracts_signed_confirmation_expired_after_time_passes(net: Net) -> None:
    (invoice_id,) = _issued(net, 1)
    signed = sign_for(net, invoice_id, number="inv-1", deadline=net.now() + DAY)
    net.advance_time(DAY + 1)
    with reverts(
        "ConfirmationExpired", supplier=net.addr("supplier"), number="inv-1", deadline=signed[7], nowTimestamp=ANY
    ) as info:
        _submit(net, [signed])
    assert info.value.error_args["nowTimestamp"] > signed[7]
    assert net.invoice(invoice_id)["status"] == ISSUED
    assert not _used(net, invoice_id)


# -- confirmWithSignatures: replays and nonces -----------------------------------------------------


def test_contracts_attack_signed_confirmation_replayed(net: Net) -> None:
    (invoice_id,) = _issued(net, 1)
    signed = sign_for(net, invoice_id, nonce=42)
    _submit(net, [signed])
    with reverts("ConfirmationNonceUsed", buyer=net.addr("buyer"), nonce=42):
        _submit(net, [signed], "operator")


def test_contracts_attack_signed_confirmation_replayed_in_the_same_batch(net: Net) -> None:
    (invoice_id,) = _issued(net, 1)
    signed = sign_for(net, invoice_id, nonce=42)
    with reverts("ConfirmationNonceUsed", buyer=net.addr("buyer"), nonce=42):
        _submit(net, [signed, signed])
    assert net.invoice(invoice_id)["status"] == ISSUED
    assert _nonce_word(net, 42) == 0


def test_contracts_attack_same_nonce_for_two_invoices(net: Net) -> None:
    a, b = _issued(net, 2)
    first, second = sign_for(net, a, nonce=7), sign_for(net, b, nonce=7)
    with reverts("ConfirmationNonceUsed", buyer=net.addr("buyer"), nonce=7):
        _submit(net, [first, second])
    assert _statuses(net, a, b) == [ISSUED, ISSUED]
    _submit(net, [first])
    with reverts("ConfirmationNonceUsed", buyer=net.addr("buyer"), nonce=7):
        _submit(net, [second])
    assert _statuses(net, a, b) == [CONFIRMED, ISSUED]


def test_contracts_nonces_are_unordered_bits_of_words(net: Net) -> None:
    """Nonces are used in any order, each once; word ``nonce >> 8``, bit ``nonce & 255``."""
    ids = _issued(net, 3)
    word = 2**248 - 1  # the last word: nonces up to 2^256 - 1
    nonces = [(word << 8) | 255, (word << 8) | 0, 300]
    _submit(net, [sign_for(net, ids[0], nonce=nonces[0])])
    _submit(net, [sign_for(net, ids[2], nonce=nonces[2]), sign_for(net, ids[1], nonce=nonces[1])])
    buyer = net.addr("buyer")
    assert net.invoices.functions.confirmationNonces(buyer, word).call() == (1 << 255) | 1
    assert net.invoices.functions.confirmationNonces(buyer, 1).call() == 1 << (300 - 256)
    assert net.invoices.functions.confirmationNonces(buyer, 0).call() == 0


def test_contracts_revoked_nonce_refuses_the_signature(net: Net) -> None:
    a, b = _issued(net, 2)
    word = 2**200 + 3
    revoked, kept = (word << 8) | 9, (word << 8) | 10
    signed = sign_for(net, a, nonce=revoked)
    mask = (1 << 9) | (1 << 200)
    receipt = net.send(net.invoices.functions.revokeConfirmationNonces(word, mask), "buyer")
    assert [dict(e) for e in net.events(receipt, "ConfirmationNoncesRevoked")] == [
        {"buyer": net.addr("buyer"), "word": word, "mask": mask}
    ]
    assert net.invoices.functions.confirmationNonces(net.addr("buyer"), word).call() == mask
    with reverts("ConfirmationNonceUsed", buyer=net.addr("buyer"), nonce=revoked):
        _submit(net, [signed])
    assert net.invoice(a)["status"] == ISSUED
    # A nonce of the same word outside the mask still works; revoking again only adds bits.
    _submit(net, [sign_for(net, b, nonce=kept)])
    net.send(net.invoices.functions.revokeConfirmationNonces(word, 1 << 9), "buyer")
    assert net.invoices.functions.confirmationNonces(net.addr("buyer"), word).call() == mask | (1 << 10)


def test_contracts_attack_revoking_touches_only_the_callers_own_nonces(net: Net) -> None:
    """The supplier (or anyone) cannot void the buyer's signatures by revoking their nonces."""
    (invoice_id,) = _issued(net, 1)
    signed = sign_for(net, invoice_id, nonce=3)
    for who in ("supplier", "financier", "dev9"):
        receipt = net.send(net.invoices.functions.revokeConfirmationNonces(0, 2**256 - 1), who)
        (event,) = net.events(receipt, "ConfirmationNoncesRevoked")
        assert event["buyer"] == net.addr(who)
    assert _nonce_word(net, 3) == 0
    _submit(net, [signed])
    assert net.invoice(invoice_id)["status"] == CONFIRMED


def test_contracts_revoking_nonces_allowed_while_paused_and_suspended(net: Net) -> None:
    """Taking consent back is never new business (as withdrawing a listing for a suspended
    holder): a buyer may void signatures it gave while the network is paused or it is suspended,
    so they cannot be submitted once the pause is lifted."""
    (invoice_id,) = _issued(net, 1)
    signed = sign_for(net, invoice_id, nonce=4)
    net.set_paused(True)
    net.send(net.invoices.functions.revokeConfirmationNonces(0, 1 << 4), "buyer")
    net.set_paused(False)
    net.suspend("buyer")
    net.send(net.invoices.functions.revokeConfirmationNonces(0, 1 << 5), "buyer")
    net.suspend("buyer", False)
    assert _nonce_word(net, 4) == (1 << 4) | (1 << 5)
    with reverts("ConfirmationNonceUsed", buyer=net.addr("buyer"), nonce=4):
        _submit(net, [signed])


# -- confirmWithSignatures: forged, moved and stale signatures -------------------------------------


@pytest.mark.parametrize(
    "domain_change",
    [{"chain_id": 1}, {"contract": "registry"}, {"name": "SCF Invoice"}, {"version": "4"}],
    ids=["other-chain", "other-contract", "other-name", "other-version"],
)
def test_contracts_attack_signature_for_another_domain(net: Net, domain_change: dict[str, Any]) -> None:
    (invoice_id,) = _issued(net, 1)
    if domain_change.get("contract") == "registry":
        domain_change = {"contract": net.registry.address}
    signed = sign_for(net, invoice_id, domain=replace(_domain(net), **domain_change))
    with reverts("InvalidConfirmationSignature", invoiceId=invoice_id, buyer=net.addr("buyer")):
        _submit(net, [signed])
    assert net.invoice(invoice_id)["status"] == ISSUED


@pytest.mark.parametrize("signer", ["supplier", "buyer2", "financier", "operator"])
def test_contracts_attack_signature_by_someone_other_than_the_buyer(net: Net, signer: str) -> None:
    # E.g. the supplier signs a confirmation of its own invoice and submits it.
    (invoice_id,) = _issued(net, 1)
    with reverts("InvalidConfirmationSignature", invoiceId=invoice_id, buyer=net.addr("buyer")):
        _submit(net, [sign_for(net, invoice_id, signer)], "supplier")
    assert net.invoice(invoice_id)["status"] == ISSUED
    assert not _used(net, invoice_id)


@pytest.mark.parametrize("field", ["amount-more", "amount-less", "due-date", "currency"])
def test_contracts_signed_terms_differ_from_the_invoice(net: Net, field: str) -> None:
    """The buyer signs its own figures; an invoice issued with others is not confirmed."""
    (invoice_id,) = _issued(net, 1)
    inv = net.invoice(invoice_id)
    changed: dict[str, Any] = {
        "amount-more": {"amount": AMOUNT + 1},
        "amount-less": {"amount": AMOUNT - 1},
        "due-date": {"due_date": inv["dueDate"] - DAY},
        "currency": {"currency": net.registry.address},
    }[field]
    signed = sign_for(net, invoice_id, **changed)
    with reverts(
        "ConfirmationTermsChanged",
        invoiceId=invoice_id,
        currency=changed.get("currency", inv["currency"]),
        amount=changed.get("amount", AMOUNT),
        dueDate=changed.get("due_date", inv["dueDate"]),
    ):
        _submit(net, [signed])
    assert net.invoice(invoice_id)["status"] == ISSUED


def test_contracts_attack_signed_number_unknown_or_of_another_supplier(net: Net) -> None:
    (invoice_id,) = _issued(net, 1)
    with reverts("UnknownInvoiceNumber", supplier=net.addr("supplier"), number="INV-2"):
        _submit(net, [sign_for(net, invoice_id, number="INV-2")])
    # supplier2 has no INV-1: the number is the supplier's own.
    with reverts("UnknownInvoiceNumber", supplier=net.addr("supplier2"), number="INV-1"):
        _submit(net, [sign_for(net, invoice_id, supplier=net.addr("supplier2"))])
    with reverts("UnknownInvoiceNumber", supplier=ZERO_ADDRESS, number="INV-1"):
        _submit(net, [sign_for(net, invoice_id, supplier=ZERO_ADDRESS)])
    # A number that is no invoice number at all is refused as such (not a panic).
    with reverts("InvalidInvoiceNumber", number=""):
        _submit(net, [sign_for(net, invoice_id, number="")])
    assert net.invoice(invoice_id)["status"] == ISSUED


def test_contracts_attack_signature_moved_to_another_invoice(net: Net) -> None:
    """A signature covers the supplier and the number as signed: moved to another invoice of
    the same buyer and terms (another number, another supplier's same number, even another
    spelling of the same number), it is no signature of the buyer."""
    a, b = _issued(net, 2)
    c = net.issue_raw("INV-1", supplier="supplier2")
    signed = sign_for(net, a)
    buyer = net.addr("buyer")
    for moved, target in (
        (_with(signed, number="INV-2"), b),
        (_with(signed, supplier=net.addr("supplier2")), c),
        (_with(signed, number="inv 1"), a),
    ):
        with reverts("InvalidConfirmationSignature", invoiceId=target, buyer=buyer):
            _submit(net, [moved])
    for field, value in (("nonce", 1234), ("deadline", signed[7] + 1)):
        with reverts("InvalidConfirmationSignature", invoiceId=a, buyer=buyer):
            _submit(net, [_with(signed, **{field: value})])
    assert _statuses(net, a, b, c) == [ISSUED] * 3


def _high_s(signature: bytes) -> bytes:
    """The other valid signature of the same key and digest: s -> n - s, v flipped."""
    s = int.from_bytes(signature[32:64], "big")
    return signature[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - signature[64]])


def _compact(signature: bytes) -> bytes:
    """EIP-2098's 64-byte form (r, yParity << 255 | s) of a 65-byte signature."""
    s = int.from_bytes(signature[32:64], "big")
    return signature[:32] + (((signature[64] - 27) << 255) | s).to_bytes(32, "big")


MALFORMED: dict[str, Callable[[bytes], bytes]] = {
    "empty": lambda sig: b"",
    "64-random-bytes": lambda sig: keccak(b"a") + keccak(b"b"),
    "65-random-bytes": lambda sig: keccak(b"a") + keccak(b"b") + b"\x1b",
    "eip2098-compact": _compact,
    "extra-byte": lambda sig: sig + b"\0",
    "v-0-1": lambda sig: sig[:64] + bytes([sig[64] - 27]),
    "v-29": lambda sig: sig[:64] + b"\x1d",
    "zero-r-s": lambda sig: b"\0" * 64 + sig[64:],
    "high-s": _high_s,
}


@pytest.mark.parametrize("kind", list(MALFORMED))
def test_contracts_attack_malformed_signature_refused_without_panic(net: Net, kind: str) -> None:
    (invoice_id,) = _issued(net, 1)
    signed = sign_for(net, invoice_id)
    with reverts("InvalidConfirmationSignature", invoiceId=invoice_id, buyer=net.addr("buyer")):
        _submit(net, [_with(signed, signature=MALFORMED[kind](signed[8]))])
    assert net.invoice(invoice_id)["status"] == ISSUED
    assert not _used(net, invoice_id)


def test_contracts_high_s_twin_is_the_buyers_signature_yet_refused(net: Net) -> None:
    """The high-s twin recovers to the buyer by plain ecrecover: it is refused because OpenZeppelin's
    ECDSA accepts only low s (one signature per message), not because it is garbage."""
    (invoice_id,) = _issued(net, 1)
    confirmation = _confirmation(net, invoice_id)
    twin = _high_s(sign(net.acct("buyer"), _domain(net), confirmation))
    r, s, v = int.from_bytes(twin[:32], "big"), int.from_bytes(twin[32:64], "big"), twin[64] - 27
    recovered = Signature(vrs=(v, r, s)).recover_public_key_from_msg_hash(confirmation.digest(_domain(net)))
    assert recovered.to_checksum_address() == net.addr("buyer")
    with reverts("InvalidConfirmationSignature", invoiceId=invoice_id, buyer=net.addr("buyer")):
        _submit(net, [confirmation.signed(twin)])


# -- confirmWithSignatures: the invoice's and the buyer's state ------------------------------------------


def test_contracts_signed_confirmation_of_an_invoice_not_issued(net: Net) -> None:
    cancelled, confirmed = _issued(net, 2)
    net.cancel(cancelled)
    for invoice_id, status in ((cancelled, CANCELLED), (confirmed, CONFIRMED)):
        signed = sign_for(net, invoice_id, nonce=100 + invoice_id)
        if status == CONFIRMED:
            net.confirm(invoice_id)
        with reverts("InvoiceNotIssued", invoiceId=invoice_id, status=status):
            _submit(net, [signed])
        assert not _used(net, 100 + invoice_id)


def test_contracts_signed_confirmation_needs_an_active_buyer(net: Net) -> None:
    (invoice_id,) = _issued(net, 1)
    signed = sign_for(net, invoice_id, deadline=net.now() + 30 * DAY)
    net.suspend("buyer")
    with reverts("ParticipantIsSuspended", account=net.addr("buyer")):
        _submit(net, [signed])
    net.suspend("buyer", False)
    expiry = net.now() + 60
    net.send(net.registry.functions.updateParticipant(net.addr("buyer"), BUYER, expiry), "operator")
    net.mine_at(expiry)
    with reverts("ParticipantKycExpired", account=net.addr("buyer"), kycExpiry=expiry, nowTimestamp=ANY):
        _submit(net, [signed])
    # The buyer lost its buyer role: no confirmation on its old signature either.
    net.send(net.registry.functions.updateParticipant(net.addr("buyer"), FINANCIER, expiry + DAY), "operator")
    with reverts("ParticipantLacksRole", account=net.addr("buyer"), role=BUYER, roles=FINANCIER):
        _submit(net, [signed])
    assert net.invoice(invoice_id)["status"] == ISSUED
    assert not _used(net, invoice_id)


def test_contracts_signed_confirmation_refused_while_paused_or_empty(net: Net) -> None:
    (invoice_id,) = _issued(net, 1)
    signed = sign_for(net, invoice_id)
    with reverts("EmptyBatch"):
        _submit(net, [])
    net.set_paused(True)
    with reverts("EnforcedPause"):
        _submit(net, [signed])
    net.set_paused(False)
    _submit(net, [signed])
    assert net.invoice(invoice_id)["status"] == CONFIRMED


@pytest.mark.parametrize("bad", ["expired", "wrong-signer", "terms-changed", "unknown-number", "not-issued"])
def test_contracts_attack_signed_batch_with_one_bad_item_confirms_nothing(net: Net, bad: str) -> None:
    a, b, c = _issued(net, 3)
    if bad == "not-issued":
        net.cancel(c)
    overrides: dict[str, Any] = {
        "expired": {"deadline": net.now() - 1},
        "wrong-signer": {"who": "supplier"},
        "terms-changed": {"amount": 1},
        "unknown-number": {"number": "INV-404"},
        "not-issued": {},
    }[bad]
    good = [sign_for(net, a), sign_for(net, b)]
    items = [good[0], sign_for(net, c, **overrides), good[1]]
    with pytest.raises(TransactionReverted) as info:
        _submit(net, items)
    assert (
        info.value.error_name
        == {
            "expired": "ConfirmationExpired",
            "wrong-signer": "InvalidConfirmationSignature",
            "terms-changed": "ConfirmationTermsChanged",
            "unknown-number": "UnknownInvoiceNumber",
            "not-issued": "InvoiceNotIssued",
        }[bad]
    ), str(info.value)
    assert _statuses(net, a, b) == [ISSUED, ISSUED]
    assert _nonce_word(net, a) == 0
    # The good signatures were not burnt: they go through on their own.
    _submit(net, good)
    assert _statuses(net, a, b) == [CONFIRMED, CONFIRMED]


def test_contracts_signature_given_before_the_invoice_is_issued(net: Net) -> None:
    """A buyer approves from its payables before the supplier issues: the signature names the
    supplier's number and terms, not an id, and confirms the invoice once it is issued, and only
    to this buyer."""
    due = _due(net)
    approval = Confirmation(
        buyer=net.addr("buyer"),
        supplier=net.addr("supplier"),
        number="inv-2026-9",
        currency=net.hkd.address,
        amount=AMOUNT,
        due_date=due,
        nonce=9,
        deadline=net.now() + 7 * DAY,
    )
    signed = approval.signed(sign(net.acct("buyer"), _domain(net), approval))
    with reverts("UnknownInvoiceNumber", supplier=net.addr("supplier"), number="inv-2026-9"):
        _submit(net, [signed])
    with _rolled_back(net):
        # Issued to another buyer, the approval is not that buyer's signature.
        to_other = net.issue_raw("INV-2026/9", buyer="buyer2", due_ts=due)
        with reverts("InvalidConfirmationSignature", invoiceId=to_other, buyer=net.addr("buyer2")):
            _submit(net, [signed])
    # supplier2's invoice of the same number to this buyer is another invoice: not approved.
    net.issue_raw("INV-2026/9", supplier="supplier2", due_ts=due)
    with reverts("UnknownInvoiceNumber", supplier=net.addr("supplier"), number="inv-2026-9"):
        _submit(net, [signed])
    mine = net.issue_raw("INV-2026/9", due_ts=due)
    receipt = _submit(net, [signed])
    assert [dict(e) for e in net.events(receipt, "InvoiceConfirmed")] == [
        {"invoiceId": mine, "buyer": net.addr("buyer")}
    ]
    assert _statuses(net, 1, mine) == [ISSUED, CONFIRMED]


def test_contracts_batches_of_forty_cost_less_than_forty_single_calls(net: Net) -> None:
    """ERP scale: forty invoices issued in one transaction and confirmed on forty signatures in
    another, each at less gas than a transaction of its own."""
    n = 40
    requests = [_request(net, f"ERP-{i}", amount=1_000 + i) for i in range(n)]
    with _rolled_back(net):
        single_issue = net.send(net.issue_fn("ERP-X"), "supplier")["gasUsed"]
        single_confirm = net.send(net.invoices.functions.confirm(1), "buyer")["gasUsed"]
    issued = _issue_batch(net, requests)
    assert [e["invoiceId"] for e in net.events(issued, "InvoiceIssued")] == list(range(1, n + 1))
    confirmed = _submit(net, [sign_for(net, i) for i in range(1, n + 1)])
    assert [e["invoiceId"] for e in net.events(confirmed, "InvoiceConfirmed")] == list(range(1, n + 1))
    assert issued["gasUsed"] < n * single_issue
    # A signed confirmation costs more than a plain confirm (a recovery and a nonce), but not twice.
    assert confirmed["gasUsed"] < 2 * n * single_confirm


def test_contracts_one_item_submitted_first_fails_the_relayers_batch(net: Net) -> None:
    """All or none has a price: anyone who sees a relayer's batch can submit one of its
    signatures first, and the batch then reverts (the invoice is confirmed all the same, as the
    buyer wished). A relayer drops the items whose nonces are used and submits the rest."""
    a, b = _issued(net, 2)
    items = [sign_for(net, a), sign_for(net, b)]
    _submit(net, [items[1]], "dev9")
    with reverts("ConfirmationNonceUsed", buyer=net.addr("buyer"), nonce=b):
        _submit(net, items)
    unused = [item for item in items if not _used(net, item[6])]
    _submit(net, unused)
    assert _statuses(net, a, b) == [CONFIRMED, CONFIRMED]


# -- ERC-1271: a contract wallet as the buyer -------------------------------------------------------


def _issue_to_wallet(net: Net, wallet: Any, number: str = "INV-1") -> int:
    fn = net.invoices.functions.issue(wallet.address, number, AMOUNT, net.hkd.address, _due(net), ZERO32)
    (issued,) = net.events(net.send(fn, "supplier"), "InvoiceIssued")
    return int(issued["invoiceId"])


def test_contracts_wallet_signed_confirmation_confirms_for_the_wallet(
    net: Net, wallet_artifact: dict[str, Any]
) -> None:
    wallet = _wallet(net, wallet_artifact)
    invoice_id = _issue_to_wallet(net, wallet)
    confirmation = _confirmation(net, invoice_id)
    signed = _sign_as_wallet_owner(net, confirmation)
    # The wallet answers ERC-1271 as the token will ask it.
    assert wallet.functions.isValidSignature(confirmation.digest(_domain(net)), signed[8]).call() == ERC1271_MAGIC
    receipt = _submit(net, [signed], "operator")
    assert [dict(e) for e in net.events(receipt, "InvoiceConfirmed")] == [
        {"invoiceId": invoice_id, "buyer": wallet.address}
    ]
    assert net.invoice(invoice_id)["status"] == CONFIRMED
    assert _used(net, invoice_id, wallet.address)
    with reverts("ConfirmationNonceUsed", buyer=wallet.address, nonce=invoice_id):
        _submit(net, [signed])


@pytest.mark.parametrize("kind", ["non-owner", "owners-high-s", "malformed", "empty"])
def test_contracts_attack_wallet_signature_not_by_its_owner(
    net: Net, wallet_artifact: dict[str, Any], kind: str
) -> None:
    """Only what the wallet accepts confirms for it; a wallet that reverts on a malformed
    signature is a refusal too, not an error passed on."""
    wallet = _wallet(net, wallet_artifact)
    invoice_id = _issue_to_wallet(net, wallet)
    confirmation = _confirmation(net, invoice_id)
    if kind == "non-owner":
        signed = _sign_as_wallet_owner(net, confirmation, owner="dev9")
    elif kind == "owners-high-s":
        owners = _sign_as_wallet_owner(net, confirmation)
        signed = _with(owners, signature=_high_s(owners[8]))
    else:
        signed = confirmation.signed(b"\1" * 64 if kind == "malformed" else b"")
    with reverts("InvalidConfirmationSignature", invoiceId=invoice_id, buyer=wallet.address):
        _submit(net, [signed])
    assert net.invoice(invoice_id)["status"] == ISSUED


def test_contracts_wallet_revokes_a_nonce_through_execute(net: Net, wallet_artifact: dict[str, Any]) -> None:
    wallet = _wallet(net, wallet_artifact)
    invoice_id = _issue_to_wallet(net, wallet)
    signed = _sign_as_wallet_owner(net, _confirmation(net, invoice_id, nonce=77))
    revoke = net.invoices.functions.revokeConfirmationNonces(0, 1 << 77)
    # Only the owner drives the wallet.
    with pytest.raises(TransactionReverted, match=r"unknown error 0x") as info:  # the wallet's own error
        _execute(net, wallet, revoke, who="dev9")
    assert keccak(text="NotWalletOwner(address)")[:4].hex() in str(info.value)
    receipt = _execute(net, wallet, revoke)
    assert [dict(e) for e in net.events(receipt, "ConfirmationNoncesRevoked")] == [
        {"buyer": wallet.address, "word": 0, "mask": 1 << 77}
    ]
    assert _nonce_word(net, 77, wallet.address) == 1 << 77
    with reverts("ConfirmationNonceUsed", buyer=wallet.address, nonce=77):
        _submit(net, [signed])
    assert net.invoice(invoice_id)["status"] == ISSUED


def test_contracts_wallet_confirms_directly_through_execute(net: Net, wallet_artifact: dict[str, Any]) -> None:
    wallet = _wallet(net, wallet_artifact)
    a = _issue_to_wallet(net, wallet, "INV-1")
    b = _issue_to_wallet(net, wallet, "INV-2")
    c = _issue_to_wallet(net, wallet, "INV-3")
    receipt = _execute(net, wallet, net.invoices.functions.confirm(a))
    assert [dict(e) for e in net.events(receipt, "InvoiceConfirmed")] == [{"invoiceId": a, "buyer": wallet.address}]
    receipt = _execute(net, wallet, net.invoices.functions.confirmBatch([b, c]))
    assert [e["invoiceId"] for e in net.events(receipt, "InvoiceConfirmed")] == [b, c]
    # The token's own error comes back through the wallet.
    with reverts("InvoiceNotIssued", invoiceId=a, status=CONFIRMED):
        _execute(net, wallet, net.invoices.functions.confirm(a))
    # Its owner is not the buyer: confirming as itself is refused.
    with reverts("NotInvoiceBuyer", invoiceId=a, account=net.addr("dev8"), buyer=wallet.address):
        net.send(net.invoices.functions.confirm(a), "dev8")


def test_contracts_attack_wallet_owners_signature_used_for_another_wallet(
    net: Net, wallet_artifact: dict[str, Any]
) -> None:
    """One treasurer key owns the wallets of two group companies. Company A's payables hold the
    supplier's INV-1 for HKD 1,000; the treasurer signs its confirmation for A. The supplier
    issues INV-1 to company B instead (same terms) and submits A's signature: B must not be
    made the debtor of an invoice it never approved."""
    wallet_a = _wallet(net, wallet_artifact, name="Yuen Long Holdings Ltd")
    wallet_b = _wallet(net, wallet_artifact, name="Yuen Long Trading Ltd")
    invoice_id = _issue_to_wallet(net, wallet_b)
    # The signature names the buyer it is for (A): it is not B's.
    meant_for_a = _sign_as_wallet_owner(net, _confirmation(net, invoice_id, buyer=wallet_a.address))
    with reverts("InvalidConfirmationSignature", invoiceId=invoice_id, buyer=wallet_b.address):
        _submit(net, [meant_for_a], "supplier")
    # Relabelled as B's after signing, it no longer verifies (the buyer is in the signed hash).
    with reverts("InvalidConfirmationSignature", invoiceId=invoice_id, buyer=wallet_b.address):
        _submit(net, [_with(meant_for_a, buyer=wallet_b.address)], "supplier")
    assert net.invoice(invoice_id)["status"] == ISSUED


# -- the EIP-712 domain (ERC-5267) ----------------------------------------------------------------------


def test_contracts_eip712_domain_answers_the_signing_domain(net: Net) -> None:
    fields, name, version, chain_id, contract, salt, extensions = net.invoices.functions.eip712Domain().call()
    assert fields == b"\x0f"  # name, version, chainId, verifyingContract
    assert (name, version, chain_id, contract) == (
        "SCF Invoice Receivable",
        "5",
        net.ledger.w3.eth.chain_id,
        net.invoices.address,
    )
    assert (salt, extensions) == (ZERO32, [])
    # The client's Domain is built from these answers, and its signatures are accepted.
    domain = Domain(chain_id=chain_id, contract=contract, name=name, version=version)
    assert domain == _domain(net)
    (invoice_id,) = _issued(net, 1)
    _submit(net, [sign_for(net, invoice_id, domain=domain)])
    assert net.invoice(invoice_id)["status"] == CONFIRMED
