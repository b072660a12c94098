"""The rules of ParticipantRegistry and InvoiceToken, on the real session Anvil.

Every revert is checked by its custom error and by the values it carries
(decoded by ``ledger.chain``); the base scenario of ``conftest.py`` (admitted,
funded participants) is restored after each test by the ``chain`` fixture.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.logs import DISCARD

from ledger.contracts import Currency
from ledger.exceptions import TransactionReverted
from ledger.lifecycle import Ledger, invoice_fingerprint
from ledger.money import date_to_timestamp, timestamp_to_date

DAY = 86_400
ZERO_ADDRESS = "0x" + "00" * 20
ZERO32 = b"\0" * 32
# Role bits of the registry.
SUPPLIER, BUYER, FINANCIER, AUDITOR = 1, 2, 4, 8
# IInvoiceToken.Status.
ISSUED, CONFIRMED, FINANCED, PARTIALLY_PAID, PAID, CANCELLED = range(1, 7)
OPERATOR_ROLE = keccak(text="OPERATOR_ROLE")
MINTER_ROLE = keccak(text="MINTER_ROLE")
#: The default invoice: HKD 1,000.00.
AMOUNT = 100_000
INVOICE_FIELDS = (
    "supplier", "dueDate", "status", "buyer", "issuedAt", "currency", "financier",
    "amount", "paid", "advance", "fingerprint", "docHash",
)


@contextmanager
def reverts(error: str, **args: Any) -> Iterator[pytest.ExceptionInfo[TransactionReverted]]:
    """Expect TransactionReverted with custom error `error` carrying exactly `args`
    (use ``unittest.mock.ANY`` for a value the test checks itself)."""
    with pytest.raises(TransactionReverted) as info:
        yield info
    exc = info.value
    assert exc.error_name == error, str(exc)
    assert exc.error_args == args, str(exc)
    assert "\n" not in str(exc)


@dataclass
class Net:
    """The base scenario with short-hands for the tests below."""

    ledger: Ledger
    acct: Callable[[str], LocalAccount]

    # -- parties and money ---------------------------------------------------
    def addr(self, name: str) -> str:
        return str(self.acct(name).address)

    @property
    def invoices(self) -> Any:
        return self.ledger.invoices

    @property
    def registry(self) -> Any:
        return self.ledger.registry

    @property
    def hkd(self) -> Currency:
        return self.ledger.deployment.currency("HKD")

    @property
    def token(self) -> Any:
        return self.ledger.token(self.hkd)

    def balance(self, name: str) -> int:
        return int(self.token.functions.balanceOf(self.addr(name)).call())

    def balances(self, *names: str) -> dict[str, int]:
        return {n: self.balance(n) for n in names}

    def approve_hkd(self, who: str, units: int) -> None:
        self.send(self.token.functions.approve(self.invoices.address, units), who)

    # -- chain ---------------------------------------------------------------
    def send(self, fn: Any, who: str) -> Any:
        return self.ledger.sender.transact(fn, self.acct(who))

    def call(self, fn: Any, who: str | None = None) -> Any:
        return self.ledger.sender.call(fn, self.addr(who) if who else None)

    def receipt(self, result: dict[str, Any]) -> Any:
        return self.ledger.w3.eth.get_transaction_receipt(result["tx_hash"])

    def events(self, receipt: Any, name: str, contract: Any = None) -> list[Any]:
        event = getattr((contract or self.invoices).events, name)()
        return [e["args"] for e in event.process_receipt(receipt, errors=DISCARD)]

    def rpc(self, method: str, params: list[Any]) -> Any:
        response = self.ledger.w3.provider.make_request(method, params)  # type: ignore[arg-type]
        assert "error" not in response, response
        return response["result"]

    def now(self) -> int:
        """The latest block's time (Ledger.chain_time is never before the wall
        clock, and after evm_revert the chain's own time can be behind it)."""
        return int(self.ledger.w3.eth.get_block("latest")["timestamp"])

    def advance_time(self, seconds: int) -> None:
        self.rpc("evm_increaseTime", [seconds])
        self.rpc("evm_mine", [])

    def mine_at(self, timestamp: int) -> None:
        """Mine an empty block at exactly `timestamp`; views at "latest" then see it."""
        self.rpc("evm_setNextBlockTimestamp", [timestamp])
        self.rpc("evm_mine", [])
        assert self.now() == timestamp

    def due(self, days: int = 30) -> dt.date:
        return timestamp_to_date(self.now()) + dt.timedelta(days=days)

    # -- invoices --------------------------------------------------------------
    def issue(
        self,
        number: str = "INV-1",
        amount: str = "1000.00",
        days: int = 30,
        supplier: str = "supplier",
        buyer: str = "buyer",
        document: Path | None = None,
    ) -> int:
        result = self.ledger.issue(self.acct(supplier), buyer, number, amount, "HKD", self.due(days), document)
        return int(result["invoice_id"])

    def _old_issue_fn(
        self,
        fingerprint: bytes,
        buyer: str = "buyer",
        amount: int = AMOUNT,
        due_ts: int | None = None,
        currency: str | None = None,
    ) -> Any:
        return self.invoices.functions.issue(
            self.addr(buyer),
            amount,
            currency or self.hkd.address,
            date_to_timestamp(self.due(30)) if due_ts is None else due_ts,
            fingerprint,
            ZERO32,
        )

    def confirmed(self, buyer: str = "buyer", **kw: Any) -> int:
        invoice_id = self.issue(buyer=buyer, **kw)
        self.ledger.confirm(self.acct(buyer), invoice_id)
        return invoice_id

    def offered(
        self, financier: str | None = None, min_advance: str | None = None, offer_days: int = 7, **kw: Any
    ) -> int:
        invoice_id = self.confirmed(**kw)
        self.ledger.offer(self.acct("supplier"), invoice_id, financier, min_advance, offer_days)
        return invoice_id

    def financed(self, advance: str = "900.00", financier: str = "financier", **kw: Any) -> int:
        invoice_id = self.offered(**kw)
        self.ledger.finance(self.acct(financier), invoice_id, advance=advance)
        return invoice_id

    def finance_fn(
        self,
        invoice_id: int,
        advance: int,
        expected_amount: int | None = None,
        expected_due: int | None = None,
        deadline: int | None = None,
    ) -> Any:
        inv = self.invoice(invoice_id)
        return self.invoices.functions.finance(
            invoice_id,
            advance,
            inv["amount"] if expected_amount is None else expected_amount,
            inv["dueDate"] if expected_due is None else expected_due,
            self.now() + 3600 if deadline is None else deadline,
        )

    def invoice(self, invoice_id: int) -> dict[str, Any]:
        return dict(zip(INVOICE_FIELDS, self.call(self.invoices.functions.getInvoice(invoice_id)), strict=True))

    def owner(self, invoice_id: int) -> str:
        return str(self.invoices.functions.ownerOf(invoice_id).call())

    def fingerprint(self, number: str = "INV-1", supplier: str = "supplier", days: int = 30) -> bytes:
        return invoice_fingerprint(
            number, self.addr(supplier), self.addr("buyer"), AMOUNT, self.hkd.address,
            date_to_timestamp(self.due(days)),
        )

    # -- registry and operator ---------------------------------------------------
    def admit(self, who: str, name: str, roles: int, kyc_expiry: int | None = None) -> None:
        expiry = self.now() + 365 * DAY if kyc_expiry is None else kyc_expiry
        self.send(self.registry.functions.admit(self.addr(who), name, roles, expiry), "operator")

    def kyc_expiry(self, who: str) -> int:
        return int(self.registry.functions.participant(self.addr(who)).call()[2])

    def set_paused(self, paused: bool) -> None:
        self.ledger.set_paused(self.acct("operator"), paused)


@pytest.fixture()
def net(ledger: Ledger, acct: Callable[[str], LocalAccount]) -> Net:
    return Net(ledger, acct)


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


# -- issue -------------------------------------------------------------------------------


def test_contracts_issue_mints_token_and_registers_fingerprint(net: Net, tmp_path: Path) -> None:
    document = tmp_path / "INV-2026-001.pdf"
    document.write_bytes(b"%PDF-1.7 invoice INV-2026/001")
    due = net.due(45)
    result = net.ledger.issue(net.acct("supplier"), "buyer", "INV-2026/001", "1234.56", "HKD", due, document)
    receipt = net.receipt(result)
    fingerprint = invoice_fingerprint(
        "INV-2026/001", net.addr("supplier"), net.addr("buyer"), 123_456, net.hkd.address, date_to_timestamp(due)
    )
    doc_hash = hashlib.sha256(document.read_bytes()).digest()

    assert result["invoice_id"] == 1
    (issued,) = net.events(receipt, "InvoiceIssued")
    assert dict(issued) == {
        "invoiceId": 1,
        "supplier": net.addr("supplier"),
        "buyer": net.addr("buyer"),
        "currency": net.hkd.address,
        "amount": 123_456,
        "dueDate": date_to_timestamp(due),
        "fingerprint": fingerprint,
        "docHash": doc_hash,
    }
    (minted,) = net.events(receipt, "Transfer")
    assert dict(minted) == {"from": ZERO_ADDRESS, "to": net.addr("supplier"), "tokenId": 1}
    assert net.owner(1) == net.addr("supplier")
    assert net.invoices.functions.balanceOf(net.addr("supplier")).call() == 1
    assert net.invoices.functions.invoiceByFingerprint(fingerprint).call() == 1
    assert net.invoices.functions.nextInvoiceId().call() == 2
    block_time = net.ledger.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert net.invoice(1) == {
        "supplier": net.addr("supplier"),
        "dueDate": date_to_timestamp(due),
        "status": ISSUED,
        "buyer": net.addr("buyer"),
        "issuedAt": block_time,
        "currency": net.hkd.address,
        "financier": ZERO_ADDRESS,
        "amount": 123_456,
        "paid": 0,
        "advance": 0,
        "fingerprint": fingerprint,
        "docHash": doc_hash,
    }


def test_contracts_issue_ids_count_from_one(net: Net) -> None:
    assert [net.issue(number=f"INV-{n}") for n in range(3)] == [1, 2, 3]


def test_contracts_issue_duplicate_by_same_supplier(net: Net) -> None:
    net.issue("INV-2026/001")
    with reverts("DuplicateInvoice", fingerprint=net.fingerprint("INV-2026/001"), existingInvoiceId=1):
        net.issue("INV-2026/001")
    # The same invoice written differently is the same invoice.
    with reverts("DuplicateInvoice", fingerprint=net.fingerprint("INV-2026/001"), existingInvoiceId=1):
        net.issue("inv 2026 001")
    assert net.invoices.functions.nextInvoiceId().call() == 2


def test_contracts_issue_duplicate_by_another_supplier(net: Net) -> None:
    net.issue("INV-A")
    net.issue("INV-B")
    fingerprint = net.fingerprint("INV-B")
    # The registry is global: another supplier (to another buyer, for another
    # amount) cannot register the same fingerprint.
    with reverts("DuplicateInvoice", fingerprint=fingerprint, existingInvoiceId=2):
        net.send(net.issue_fn(fingerprint, buyer="buyer2", amount=5), "supplier2")


def test_contracts_issue_duplicate_after_cancellation(net: Net) -> None:
    net.issue("INV-7")
    net.ledger.cancel(net.acct("supplier"), 1)
    fingerprint = net.fingerprint("INV-7")
    with reverts("DuplicateInvoice", fingerprint=fingerprint, existingInvoiceId=1):
        net.issue("INV-7")
    assert net.invoices.functions.invoiceByFingerprint(fingerprint).call() == 1


def test_contracts_issue_zero_fingerprint(net: Net) -> None:
    with reverts("InvalidFingerprint", fingerprint=ZERO32):
        net.send(net.issue_fn(ZERO32), "supplier")


@pytest.mark.parametrize("amount", [0, 2**128, 2**256 - 1])
def test_contracts_issue_invalid_amount(net: Net, amount: int) -> None:
    with reverts("InvalidAmount", amount=amount):
        net.send(net.issue_fn(b"\1" * 32, amount=amount), "supplier")


def test_contracts_issue_amount_above_uint128_message(net: Net) -> None:
    # Amounts beyond 28 digits are shown exactly, not rounded by the default decimal context.
    with pytest.raises(TransactionReverted) as info:
        net.send(net.issue_fn(b"\1" * 32, amount=2**128), "supplier")
    assert str(info.value) == (
        "invalid amount HKD 3,402,823,669,209,384,634,633,746,074,317,682,114.56: "
        "must be positive and below 2^128 minor units"
    )


def test_contracts_issue_largest_amount(net: Net) -> None:
    net.send(net.issue_fn(b"\1" * 32, amount=2**128 - 1), "supplier")
    assert net.invoice(1)["amount"] == 2**128 - 1


def test_contracts_issue_zero_amount_through_ledger(net: Net) -> None:
    with reverts("InvalidAmount", amount=0):
        net.issue(amount="0.00")


def test_contracts_issue_due_date_not_in_future(net: Net) -> None:
    # Today 00:00 UTC is already past.
    today = date_to_timestamp(net.due(0))
    with reverts("InvalidDueDate", dueDate=today, nowTimestamp=ANY) as info:
        net.issue(days=0)
    assert info.value.error_args["nowTimestamp"] >= net.now() >= today
    # The due date must be strictly after the block's time.
    net.mine_at(net.now() + 100)
    now = net.now()
    with reverts("InvalidDueDate", dueDate=now, nowTimestamp=ANY):
        net.send(net.issue_fn(b"\1" * 32, due_ts=now), "supplier")


def test_contracts_issue_buyer_is_supplier(net: Net) -> None:
    net.admit("dev8", "Tai Po Trading Ltd", SUPPLIER | BUYER)
    with reverts("InvalidBuyer", buyer=net.addr("dev8")):
        net.send(net.issue_fn(b"\1" * 32, buyer="dev8"), "dev8")


def test_contracts_issue_buyer_not_a_buyer(net: Net) -> None:
    with reverts("ParticipantLacksRole", account=net.addr("financier"), role=BUYER, roles=FINANCIER):
        net.issue(buyer="financier")
    with reverts("ParticipantNotAdmitted", account=net.addr("dev9")):
        net.send(net.issue_fn(b"\1" * 32, buyer="dev9"), "supplier")


def test_contracts_issue_unaccepted_currency(net: Net) -> None:
    other = net.registry.address
    with reverts("CurrencyNotAccepted", currency=other):
        net.send(net.issue_fn(b"\1" * 32, currency=other), "supplier")
    # The operator can stop accepting a currency for new invoices.
    receipt = net.send(net.invoices.functions.setCurrencyAccepted(net.hkd.address, False), "operator")
    (changed,) = net.events(receipt, "CurrencyAcceptanceChanged")
    assert dict(changed) == {"currency": net.hkd.address, "accepted": False}
    assert net.invoices.functions.currencyAccepted(net.hkd.address).call() is False
    with reverts("CurrencyNotAccepted", currency=net.hkd.address):
        net.issue()


def test_contracts_issue_by_non_participant(net: Net) -> None:
    with reverts("ParticipantNotAdmitted", account=net.addr("dev9")):
        net.send(net.issue_fn(b"\1" * 32), "dev9")
    with reverts("ParticipantLacksRole", account=net.addr("auditor"), role=SUPPLIER, roles=AUDITOR):
        net.send(net.issue_fn(b"\1" * 32), "auditor")
    assert net.invoices.functions.nextInvoiceId().call() == 1


def test_contracts_unknown_invoice(net: Net) -> None:
    with reverts("InvoiceNotFound", invoiceId=99):
        net.ledger.confirm(net.acct("buyer"), 99)
    with reverts("InvoiceNotFound", invoiceId=99):
        net.invoice(99)


# -- fingerprint ---------------------------------------------------------------------------


def test_contracts_fingerprint_normalises_invoice_number(net: Net) -> None:
    def fp(number: str, supplier: str = "supplier") -> bytes:
        return invoice_fingerprint(
            number, net.addr(supplier), net.addr("buyer"), AMOUNT, net.hkd.address, 1_800_000_000
        )

    assert fp("INV-2026/001") == fp("inv 2026 001") == fp("ＩＮＶ２０２６００１") == fp(" Inv_2026.001 ")
    assert fp("INV-2026/001") != fp("INV-2026/002")
    assert fp("INV-2026/001") != fp("INV-2026/001", supplier="supplier2")


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
        net.ledger.confirm(net.acct(who), 1)
    assert net.invoice(1)["status"] == ISSUED


def test_contracts_confirm_twice(net: Net) -> None:
    net.confirmed()
    with reverts("InvoiceNotIssued", invoiceId=1, status=CONFIRMED):
        net.ledger.confirm(net.acct("buyer"), 1)


@pytest.mark.parametrize("who", ["supplier2", "buyer"])
def test_contracts_cancel_by_non_supplier(net: Net, who: str) -> None:
    net.issue()
    with reverts("NotInvoiceSupplier", invoiceId=1, account=net.addr(who), supplier=net.addr("supplier")):
        net.ledger.cancel(net.acct(who), 1)
    assert net.invoice(1)["status"] == ISSUED


def test_contracts_cancel_after_confirm(net: Net) -> None:
    net.confirmed()
    with reverts("InvoiceNotIssued", invoiceId=1, status=CONFIRMED):
        net.ledger.cancel(net.acct("supplier"), 1)
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
        net.ledger.cancel(net.acct("supplier"), 1)
    with reverts("InvoiceNotIssued", invoiceId=1, status=CANCELLED):
        net.ledger.confirm(net.acct("buyer"), 1)


# -- finance -------------------------------------------------------------------------------


def test_contracts_finance_delivery_versus_payment(net: Net) -> None:
    net.offered(min_advance="900.00")
    before = net.balances("supplier", "financier")
    result = net.ledger.finance(net.acct("financier"), 1, advance="950.00")
    receipt = net.receipt(result)

    assert net.balances("supplier", "financier") == {
        "supplier": before["supplier"] + 95_000,
        "financier": before["financier"] - 95_000,
    }
    assert net.owner(1) == net.addr("financier")
    (financed,) = net.events(receipt, "InvoiceFinanced")
    assert dict(financed) == {
        "invoiceId": 1, "financier": net.addr("financier"), "seller": net.addr("supplier"), "advance": 95_000,
    }
    (moved,) = net.events(receipt, "Transfer")
    assert dict(moved) == {"from": net.addr("supplier"), "to": net.addr("financier"), "tokenId": 1}
    inv = net.invoice(1)
    assert (inv["status"], inv["financier"], inv["advance"], inv["paid"]) == (
        FINANCED, net.addr("financier"), 95_000, 0
    )
    assert result["status"] == "Financed" and result["seller"] == "Kowloon Precision Parts Ltd"
    # The financier approved exactly the advance, and all of it was taken.
    assert net.token.functions.allowance(net.addr("financier"), net.invoices.address).call() == 0


def test_contracts_finance_twice(net: Net) -> None:
    net.financed()
    financier = net.addr("financier")
    # The new holder even approves another financier: still one financing, ever.
    net.send(net.invoices.functions.approve(net.addr("financier2"), 1), "financier")
    with reverts("InvoiceAlreadyFinanced", invoiceId=1, financier=financier):
        net.ledger.finance(net.acct("financier2"), 1, advance="900.00")
    with reverts("InvoiceAlreadyFinanced", invoiceId=1, financier=financier):
        net.ledger.finance(net.acct("financier"), 1, advance="900.00")


def test_contracts_finance_unconfirmed(net: Net) -> None:
    net.issue()
    net.send(net.invoices.functions.approve(net.addr("financier"), 1), "supplier")
    with reverts("InvoiceNotConfirmed", invoiceId=1, status=ISSUED):
        net.ledger.finance(net.acct("financier"), 1, advance="900.00")


def test_contracts_finance_cancelled(net: Net) -> None:
    net.issue()
    net.ledger.cancel(net.acct("supplier"), 1)
    with reverts("InvoiceNotConfirmed", invoiceId=1, status=CANCELLED):
        net.ledger.finance(net.acct("financier"), 1, advance="900.00")


def test_contracts_finance_while_paused(net: Net) -> None:
    net.offered()
    net.set_paused(True)
    with reverts("EnforcedPause"):
        net.ledger.finance(net.acct("financier"), 1, advance="900.00")
    net.set_paused(False)
    net.ledger.finance(net.acct("financier"), 1, advance="900.00")
    assert net.owner(1) == net.addr("financier")


@pytest.mark.parametrize("change", ["amount", "due", "both"])
def test_contracts_finance_stale_terms(net: Net, change: str) -> None:
    net.offered()
    due = net.invoice(1)["dueDate"]
    expected_amount = AMOUNT + 1 if change in ("amount", "both") else AMOUNT
    expected_due = due - DAY if change in ("due", "both") else due
    with reverts(
        "FinancingTermsChanged",
        invoiceId=1, expectedAmount=expected_amount, amount=AMOUNT, expectedDueDate=expected_due, dueDate=due,
    ):
        net.ledger.finance(
            net.acct("financier"), 1, advance="900.00", expected_amount=expected_amount, expected_due=expected_due
        )


def test_contracts_finance_deadline_passed(net: Net) -> None:
    net.offered()
    net.approve_hkd("financier", 90_000)
    deadline = net.now() - 1
    with reverts("FinancingDeadlinePassed", invoiceId=1, deadline=deadline, nowTimestamp=ANY) as info:
        net.send(net.finance_fn(1, 90_000, deadline=deadline), "financier")
    assert info.value.error_args["nowTimestamp"] > deadline
    # The deadline second itself is still in time.
    net.mine_at(net.now() + 10)
    net.call(net.finance_fn(1, 90_000, deadline=net.now()), "financier")


def test_contracts_finance_matured_invoice(net: Net) -> None:
    net.offered(days=10, offer_days=60)
    due = net.invoice(1)["dueDate"]
    net.advance_time(11 * DAY)
    assert net.now() > due
    with reverts("InvoiceMatured", invoiceId=1, dueDate=due):
        net.ledger.finance(net.acct("financier"), 1, advance="900.00")


def test_contracts_finance_matured_at_due_second(net: Net) -> None:
    net.offered(days=10, offer_days=60)
    net.approve_hkd("financier", 90_000)
    due = net.invoice(1)["dueDate"]
    net.mine_at(due - 1)
    net.call(net.finance_fn(1, 90_000), "financier")  # one second before: still financeable
    net.mine_at(due)
    with reverts("InvoiceMatured", invoiceId=1, dueDate=due):
        net.call(net.finance_fn(1, 90_000), "financier")


@pytest.mark.parametrize("advance", [0, AMOUNT + 1])
def test_contracts_finance_invalid_advance(net: Net, advance: int) -> None:
    net.offered()
    with reverts("InvalidAdvance", invoiceId=1, advance=advance, outstanding=AMOUNT):
        net.ledger.finance(net.acct("financier"), 1, advance_units=advance)


def test_contracts_finance_full_face_advance(net: Net) -> None:
    net.offered()
    net.ledger.finance(net.acct("financier"), 1, advance_units=AMOUNT)
    assert net.invoice(1)["advance"] == AMOUNT


def test_contracts_finance_without_consent(net: Net) -> None:
    net.confirmed()
    with reverts("FinancingNotAuthorized", invoiceId=1, holder=net.addr("supplier"), financier=net.addr("financier")):
        net.ledger.finance(net.acct("financier"), 1, advance="900.00")
    assert net.owner(1) == net.addr("supplier")


def test_contracts_finance_with_erc721_approval(net: Net) -> None:
    net.confirmed()
    net.send(net.invoices.functions.approve(net.addr("financier2"), 1), "supplier")
    # The approval names one financier only.
    with reverts("FinancingNotAuthorized", invoiceId=1, holder=net.addr("supplier"), financier=net.addr("financier")):
        net.ledger.finance(net.acct("financier"), 1, advance="900.00")
    before = net.balances("supplier", "financier2")
    net.ledger.finance(net.acct("financier2"), 1, advance="990.00")
    assert net.owner(1) == net.addr("financier2")
    assert net.balances("supplier", "financier2") == {
        "supplier": before["supplier"] + 99_000, "financier2": before["financier2"] - 99_000,
    }


def test_contracts_finance_with_operator_approval(net: Net) -> None:
    net.confirmed()
    net.send(net.invoices.functions.setApprovalForAll(net.addr("financier"), True), "supplier")
    net.ledger.finance(net.acct("financier"), 1, advance="900.00")
    assert net.owner(1) == net.addr("financier")


def test_contracts_finance_listing_for_another_financier(net: Net) -> None:
    net.offered(financier="financier2")
    with reverts("FinancingNotAuthorized", invoiceId=1, holder=net.addr("supplier"), financier=net.addr("financier")):
        net.ledger.finance(net.acct("financier"), 1, advance="900.00")
    net.ledger.finance(net.acct("financier2"), 1, advance="900.00")
    assert net.invoice(1)["financier"] == net.addr("financier2")


def test_contracts_finance_advance_below_ask(net: Net) -> None:
    net.offered(min_advance="950.00")
    with reverts("AdvanceBelowAsk", invoiceId=1, advance=94_999, minAdvance=95_000):
        net.ledger.finance(net.acct("financier"), 1, advance="949.99")
    net.ledger.finance(net.acct("financier"), 1, advance="950.00")


def test_contracts_finance_expired_listing(net: Net) -> None:
    net.offered(offer_days=1)
    net.advance_time(2 * DAY)
    with reverts("FinancingNotAuthorized", invoiceId=1, holder=net.addr("supplier"), financier=net.addr("financier")):
        net.ledger.finance(net.acct("financier"), 1, advance="900.00")


def test_contracts_finance_withdrawn_listing(net: Net) -> None:
    net.offered()
    receipt = net.send(net.invoices.functions.withdrawOffer(1), "supplier")
    (withdrawn,) = net.events(receipt, "FinancingOfferWithdrawn")
    assert dict(withdrawn) == {"invoiceId": 1, "holder": net.addr("supplier")}
    with reverts("FinancingNotAuthorized", invoiceId=1, holder=net.addr("supplier"), financier=net.addr("financier")):
        net.ledger.finance(net.acct("financier"), 1, advance="900.00")


def test_contracts_finance_listing_by_previous_holder_lapses(net: Net) -> None:
    net.offered()
    net.send(net.invoices.functions.transferFrom(net.addr("supplier"), net.addr("supplier2"), 1), "supplier")
    # The old holder's listing does not bind the new holder.
    with reverts(
        "FinancingNotAuthorized", invoiceId=1, holder=net.addr("supplier2"), financier=net.addr("financier")
    ):
        net.ledger.finance(net.acct("financier"), 1, advance="900.00")


def test_contracts_offer_rules(net: Net) -> None:
    net.issue()
    offer = net.invoices.functions.offerForFinancing
    future = net.now() + DAY
    with reverts("InvoiceNotConfirmed", invoiceId=1, status=ISSUED):
        net.send(offer(1, ZERO_ADDRESS, 0, future), "supplier")
    net.ledger.confirm(net.acct("buyer"), 1)
    with reverts("NotInvoiceHolder", invoiceId=1, account=net.addr("buyer"), holder=net.addr("supplier")):
        net.send(offer(1, ZERO_ADDRESS, 0, future), "buyer")
    with reverts("InvalidOfferExpiry", invoiceId=1, expiry=net.now()):
        net.send(offer(1, ZERO_ADDRESS, 0, net.now()), "supplier")
    receipt = net.send(offer(1, net.addr("financier"), 90_000, future), "supplier")
    (offered,) = net.events(receipt, "FinancingOffered")
    assert dict(offered) == {
        "invoiceId": 1, "holder": net.addr("supplier"), "financier": net.addr("financier"),
        "minAdvance": 90_000, "expiry": future,
    }
    with reverts("NotInvoiceHolder", invoiceId=1, account=net.addr("buyer"), holder=net.addr("supplier")):
        net.send(net.invoices.functions.withdrawOffer(1), "buyer")
    net.ledger.finance(net.acct("financier"), 1, advance="900.00")
    with reverts("InvoiceAlreadyFinanced", invoiceId=1, financier=net.addr("financier")):
        net.send(offer(1, ZERO_ADDRESS, 0, future), "financier")


def test_contracts_finance_by_non_financier(net: Net) -> None:
    net.offered()
    with reverts("ParticipantLacksRole", account=net.addr("supplier2"), role=FINANCIER, roles=SUPPLIER):
        net.ledger.finance(net.acct("supplier2"), 1, advance="900.00")
    with reverts("ParticipantNotAdmitted", account=net.addr("dev9")):
        net.ledger.finance(net.acct("dev9"), 1, advance="900.00")


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
    neither leg of the DvP happened."""
    net.admit("dev8", "Lantau Factoring Ltd", FINANCIER)
    net.ledger.mint(net.acct("operator"), net.addr("dev8"), "100.00", "HKD")
    net.offered()
    net.approve_hkd("dev8", 90_000)
    before = (net.balances("supplier", "dev8"), net.owner(1), net.invoice(1))

    fn = net.finance_fn(1, 90_000)
    signer = net.acct("dev8")
    w3 = net.ledger.w3
    tx = fn.build_transaction({
        "from": signer.address, "gas": 500_000, "chainId": net.ledger.sender.chain_id,
        "nonce": w3.eth.get_transaction_count(signer.address), "maxFeePerGas": 0, "maxPriorityFeePerGas": 0,
    })
    tx_hash = w3.eth.send_raw_transaction(signer.sign_transaction(tx).raw_transaction)
    # Sender.wait replays a mined revert to name the rule.
    with reverts("ERC20InsufficientBalance", sender=signer.address, balance=10_000, needed=90_000):
        net.ledger.sender.wait(tx_hash, fn, signer.address)
    assert w3.eth.get_transaction_receipt(tx_hash)["status"] == 0
    assert (net.balances("supplier", "dev8"), net.owner(1), net.invoice(1)) == before
    assert before[2]["status"] == CONFIRMED and before[2]["financier"] == ZERO_ADDRESS


def test_contracts_refused_finance_changes_nothing(net: Net) -> None:
    net.offered(min_advance="950.00")
    before = (net.balances("supplier", "financier"), net.owner(1), net.invoice(1))
    block = net.ledger.w3.eth.block_number
    for kwargs in ({"advance": "900.00"}, {"advance": "950.00", "expected_amount": AMOUNT - 1}):
        with pytest.raises(TransactionReverted):
            net.ledger.finance(net.acct("financier"), 1, **kwargs)
    assert (net.balances("supplier", "financier"), net.owner(1), net.invoice(1)) == before
    assert net.ledger.w3.eth.block_number == block  # simulated, never sent


# -- repay -----------------------------------------------------------------------------------


def test_contracts_repay_by_non_buyer(net: Net) -> None:
    net.confirmed()
    net.approve_hkd("buyer2", AMOUNT)
    with reverts("NotInvoiceBuyer", invoiceId=1, account=net.addr("buyer2"), buyer=net.addr("buyer")):
        net.send(net.invoices.functions.repay(1, 100), "buyer2")


def test_contracts_repay_unfinanced_goes_to_supplier(net: Net) -> None:
    net.confirmed()
    before = net.balances("supplier", "buyer")
    first = net.ledger.repay(net.acct("buyer"), 1, "400.00")
    assert (first["status"], first["payee"], first["outstanding"]) == (
        "PartiallyPaid", "Kowloon Precision Parts Ltd", "600.00"
    )
    (repaid,) = net.events(net.receipt(first), "InvoiceRepaid")
    assert dict(repaid) == {
        "invoiceId": 1, "payer": net.addr("buyer"), "payee": net.addr("supplier"), "amount": 40_000,
        "totalPaid": 40_000,
    }
    assert (net.invoice(1)["status"], net.invoice(1)["paid"]) == (PARTIALLY_PAID, 40_000)
    second = net.ledger.repay(net.acct("buyer"), 1, "600.00")
    (repaid,) = net.events(net.receipt(second), "InvoiceRepaid")
    assert (repaid["amount"], repaid["totalPaid"]) == (60_000, AMOUNT)
    assert (net.invoice(1)["status"], net.invoice(1)["paid"]) == (PAID, AMOUNT)
    assert net.balances("supplier", "buyer") == {
        "supplier": before["supplier"] + AMOUNT, "buyer": before["buyer"] - AMOUNT,
    }


def test_contracts_repay_financed_goes_to_financier(net: Net) -> None:
    net.financed()
    before = net.balances("supplier", "financier", "buyer")
    result = net.ledger.repay(net.acct("buyer"), 1, "250.00")
    assert result["payee"] == "Harbour Trade Finance Ltd"
    net.ledger.repay(net.acct("buyer"), 1, "750.00")
    assert net.balances("supplier", "financier", "buyer") == {
        "supplier": before["supplier"],
        "financier": before["financier"] + AMOUNT,
        "buyer": before["buyer"] - AMOUNT,
    }
    inv = net.invoice(1)
    assert (inv["status"], inv["paid"], inv["financier"]) == (PAID, AMOUNT, net.addr("financier"))
    assert net.owner(1) == net.addr("financier")


def test_contracts_repay_after_due_date(net: Net) -> None:
    net.financed(days=5)
    net.advance_time(40 * DAY)
    assert net.now() > net.invoice(1)["dueDate"]
    net.ledger.repay(net.acct("buyer"), 1, "1000.00")
    assert net.invoice(1)["status"] == PAID


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


def test_contracts_repay_not_payable(net: Net) -> None:
    net.issue("INV-1")
    with reverts("InvoiceNotPayable", invoiceId=1, status=ISSUED):
        net.ledger.repay(net.acct("buyer"), 1, "1.00")
    net.ledger.cancel(net.acct("supplier"), 1)
    with reverts("InvoiceNotPayable", invoiceId=1, status=CANCELLED):
        net.ledger.repay(net.acct("buyer"), 1, "1.00")
    net.confirmed(number="INV-2")
    net.ledger.repay(net.acct("buyer"), 2, "1000.00")
    with reverts("InvoiceNotPayable", invoiceId=2, status=PAID):
        net.ledger.repay(net.acct("buyer"), 2, "1.00")


def test_contracts_partly_paid_invoice_cannot_be_financed(net: Net) -> None:
    net.offered()
    net.ledger.repay(net.acct("buyer"), 1, "100.00")
    with reverts("InvoiceNotConfirmed", invoiceId=1, status=PARTIALLY_PAID):
        net.ledger.finance(net.acct("financier"), 1, advance="800.00")


# -- transfers -------------------------------------------------------------------------------


def transfer(net: Net, invoice_id: int, frm: str, to: str) -> Any:
    return net.send(net.invoices.functions.transferFrom(net.addr(frm), net.addr(to), invoice_id), frm)


def test_contracts_transfer_between_participants(net: Net) -> None:
    net.confirmed()
    transfer(net, 1, "supplier", "supplier2")
    assert net.owner(1) == net.addr("supplier2")
    before = net.balance("supplier2")
    result = net.ledger.repay(net.acct("buyer"), 1, "1000.00")
    assert result["payee"] == "Sham Shui Po Textiles Ltd"
    assert net.balance("supplier2") == before + AMOUNT


def test_contracts_transfer_to_non_participant(net: Net) -> None:
    net.financed()
    with reverts("ParticipantNotAdmitted", account=net.addr("dev9")):
        transfer(net, 1, "financier", "dev9")
    assert net.owner(1) == net.addr("financier")


def test_contracts_transfer_to_suspended_participant(net: Net) -> None:
    net.confirmed()
    net.ledger.set_suspended(net.acct("operator"), net.addr("supplier2"), True)
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
        net.send(
            net.invoices.functions.safeTransferFrom(net.addr("supplier"), net.addr("supplier2"), 1), "supplier"
        )
    assert net.owner(1) == net.addr("supplier")


# -- registry --------------------------------------------------------------------------------


def test_contracts_registry_admit(net: Net) -> None:
    expiry = net.now() + 30 * DAY
    receipt = net.send(
        net.registry.functions.admit(net.addr("dev8"), "Tai Po Trading Ltd", SUPPLIER | BUYER, expiry), "operator"
    )
    (admitted,) = net.events(receipt, "ParticipantAdmitted", net.registry)
    assert dict(admitted) == {
        "account": net.addr("dev8"), "name": "Tai Po Trading Ltd", "roles": SUPPLIER | BUYER, "kycExpiry": expiry,
    }
    assert tuple(net.registry.functions.participant(net.addr("dev8")).call()) == (
        "Tai Po Trading Ltd", SUPPLIER | BUYER, expiry, True, False,
    )
    assert net.registry.functions.isActive(net.addr("dev8"), SUPPLIER | BUYER).call() is True
    assert net.registry.functions.isActive(net.addr("dev8"), FINANCIER).call() is False


def test_contracts_registry_admit_twice(net: Net) -> None:
    with reverts("ParticipantAlreadyAdmitted", account=net.addr("supplier")):
        net.admit("supplier", "Another Name Ltd", SUPPLIER)


def test_contracts_registry_zero_address(net: Net) -> None:
    with reverts("InvalidParticipant", account=ZERO_ADDRESS):
        net.send(net.registry.functions.admit(ZERO_ADDRESS, "Nobody", SUPPLIER, net.now() + DAY), "operator")


@pytest.mark.parametrize("roles", [0, 16, 255])
def test_contracts_registry_invalid_roles(net: Net, roles: int) -> None:
    with reverts("InvalidRoles", roles=roles):
        net.admit("dev8", "Tai Po Trading Ltd", roles)
    with reverts("InvalidRoles", roles=roles):
        net.send(net.registry.functions.updateParticipant(net.addr("supplier"), roles, net.now() + DAY), "operator")


def test_contracts_registry_kyc_expiry_not_in_future(net: Net) -> None:
    net.mine_at(net.now() + 10)
    now = net.now()
    for expiry in (now, now - DAY, 0):
        with reverts("InvalidKycExpiry", kycExpiry=expiry):
            net.admit("dev8", "Tai Po Trading Ltd", SUPPLIER, kyc_expiry=expiry)
        with reverts("InvalidKycExpiry", kycExpiry=expiry):
            net.send(net.registry.functions.updateParticipant(net.addr("supplier"), SUPPLIER, expiry), "operator")


def test_contracts_registry_unknown_participant(net: Net) -> None:
    dev9 = net.addr("dev9")
    for fn in (
        net.registry.functions.updateParticipant(dev9, SUPPLIER, net.now() + DAY),
        net.registry.functions.suspend(dev9),
        net.registry.functions.reinstate(dev9),
    ):
        with reverts("ParticipantNotAdmitted", account=dev9):
            net.send(fn, "operator")


def test_contracts_registry_update_participant(net: Net) -> None:
    expiry = net.now() + 10 * DAY
    receipt = net.send(
        net.registry.functions.updateParticipant(net.addr("supplier"), SUPPLIER | BUYER, expiry), "operator"
    )
    (updated,) = net.events(receipt, "ParticipantUpdated", net.registry)
    assert dict(updated) == {"account": net.addr("supplier"), "roles": SUPPLIER | BUYER, "kycExpiry": expiry}
    assert net.kyc_expiry("supplier") == expiry


def _suspend_then(net: Net, who: str, action: Callable[[], Any]) -> None:
    operator = net.acct("operator")
    receipt = net.receipt(net.ledger.set_suspended(operator, net.addr(who), True))
    assert [dict(e) for e in net.events(receipt, "ParticipantSuspended", net.registry)] == [
        {"account": net.addr(who)}
    ]
    assert net.registry.functions.isActive(net.addr(who), 0).call() is False
    with reverts("ParticipantIsSuspended", account=net.addr(who)):
        action()
    receipt = net.receipt(net.ledger.set_suspended(operator, net.addr(who), False))
    assert [dict(e) for e in net.events(receipt, "ParticipantReinstated", net.registry)] == [
        {"account": net.addr(who)}
    ]
    action()


def test_contracts_suspended_supplier_cannot_issue(net: Net) -> None:
    _suspend_then(net, "supplier", lambda: net.issue())
    assert net.invoice(1)["status"] == ISSUED


def test_contracts_suspended_buyer_cannot_confirm(net: Net) -> None:
    net.issue()
    _suspend_then(net, "buyer", lambda: net.ledger.confirm(net.acct("buyer"), 1))
    assert net.invoice(1)["status"] == CONFIRMED


def test_contracts_suspended_financier_cannot_finance(net: Net) -> None:
    net.offered()
    _suspend_then(net, "financier", lambda: net.ledger.finance(net.acct("financier"), 1, advance="900.00"))
    assert net.invoice(1)["status"] == FINANCED


def test_contracts_suspended_buyer_cannot_repay(net: Net) -> None:
    net.confirmed()
    _suspend_then(net, "buyer", lambda: net.ledger.repay(net.acct("buyer"), 1, "1000.00"))
    assert net.invoice(1)["status"] == PAID


def test_contracts_suspended_holder_cannot_sell(net: Net) -> None:
    net.offered()
    _suspend_then(net, "supplier", lambda: net.ledger.finance(net.acct("financier"), 1, advance="900.00"))


def test_contracts_suspended_buyer_cannot_receive_invoices(net: Net) -> None:
    _suspend_then(net, "buyer", lambda: net.issue())


def test_contracts_kyc_expired_cannot_act(net: Net) -> None:
    net.confirmed(days=5 * 365)  # due after everyone's KYC (3 years) lapses
    buyer_expiry = net.kyc_expiry("buyer")
    net.advance_time(buyer_expiry - net.now() + DAY)
    with reverts("ParticipantKycExpired", account=net.addr("buyer"), kycExpiry=buyer_expiry, nowTimestamp=ANY) as info:
        net.ledger.repay(net.acct("buyer"), 1, "100.00")
    assert info.value.error_args["nowTimestamp"] >= buyer_expiry + DAY
    supplier_expiry = net.kyc_expiry("supplier")
    with reverts("ParticipantKycExpired", account=net.addr("supplier"), kycExpiry=supplier_expiry, nowTimestamp=ANY):
        net.issue(number="INV-2", days=30)
    # The operator renews the KYC: the buyer can act again.
    net.send(net.registry.functions.updateParticipant(net.addr("buyer"), BUYER, net.now() + 365 * DAY), "operator")
    net.ledger.repay(net.acct("buyer"), 1, "100.00")
    assert net.invoice(1)["paid"] == 10_000


def test_contracts_kyc_valid_strictly_before_expiry(net: Net) -> None:
    expiry = net.now() + 1000
    net.send(net.registry.functions.updateParticipant(net.addr("financier"), FINANCIER, expiry), "operator")
    require = net.registry.functions.requireActive(net.addr("financier"), FINANCIER)
    net.mine_at(expiry - 1)
    net.call(require)
    assert net.registry.functions.isActive(net.addr("financier"), FINANCIER).call() is True
    net.mine_at(expiry)
    with reverts("ParticipantKycExpired", account=net.addr("financier"), kycExpiry=expiry, nowTimestamp=expiry):
        net.call(require)
    assert net.registry.functions.isActive(net.addr("financier"), FINANCIER).call() is False


def test_contracts_lacking_role_cannot_act(net: Net) -> None:
    net.issue()
    # The buyer loses its buyer role (kept as auditor): it can no longer confirm.
    net.send(net.registry.functions.updateParticipant(net.addr("buyer"), AUDITOR, net.now() + DAY), "operator")
    with reverts("ParticipantLacksRole", account=net.addr("buyer"), role=BUYER, roles=AUDITOR):
        net.ledger.confirm(net.acct("buyer"), 1)
    with reverts("ParticipantLacksRole", account=net.addr("financier"), role=SUPPLIER, roles=FINANCIER):
        net.send(net.issue_fn(b"\2" * 32), "financier")


@pytest.mark.parametrize(
    ("action", "role"),
    [
        ("admit", OPERATOR_ROLE),
        ("update", OPERATOR_ROLE),
        ("suspend", OPERATOR_ROLE),
        ("reinstate", OPERATOR_ROLE),
        ("pause", OPERATOR_ROLE),
        ("unpause", OPERATOR_ROLE),
        ("accept_currency", OPERATOR_ROLE),
        ("mint", MINTER_ROLE),
    ],
)
@pytest.mark.parametrize("who", ["supplier", "dev9"])
def test_contracts_non_operator_refused(net: Net, action: str, role: bytes, who: str) -> None:
    dev8 = net.addr("dev8")
    fns = {
        "admit": lambda: net.registry.functions.admit(dev8, "Tai Po Trading Ltd", SUPPLIER, net.now() + DAY),
        "update": lambda: net.registry.functions.updateParticipant(net.addr("supplier"), 15, net.now() + DAY),
        "suspend": lambda: net.registry.functions.suspend(net.addr("buyer")),
        "reinstate": lambda: net.registry.functions.reinstate(net.addr("buyer")),
        "pause": lambda: net.invoices.functions.pause(),
        "unpause": lambda: net.invoices.functions.unpause(),
        "accept_currency": lambda: net.invoices.functions.setCurrencyAccepted(net.registry.address, True),
        "mint": lambda: net.token.functions.mint(net.addr(who), 10**9),
    }
    with reverts("AccessControlUnauthorizedAccount", account=net.addr(who), neededRole=role):
        net.send(fns[action](), who)


# -- pause ---------------------------------------------------------------------------------


def test_contracts_pause_and_unpause(net: Net) -> None:
    receipt = net.receipt(net.ledger.set_paused(net.acct("operator"), True))
    assert [dict(e) for e in net.events(receipt, "Paused")] == [{"account": net.addr("operator")}]
    assert net.invoices.functions.paused().call() is True
    with reverts("EnforcedPause"):
        net.set_paused(True)
    receipt = net.receipt(net.ledger.set_paused(net.acct("operator"), False))
    assert [dict(e) for e in net.events(receipt, "Unpaused")] == [{"account": net.addr("operator")}]
    assert net.invoices.functions.paused().call() is False
    with reverts("ExpectedPause"):
        net.set_paused(False)


def test_contracts_pause_blocks_every_state_change(net: Net) -> None:
    net.issue("INV-1")  # Issued: confirm, cancel
    net.offered(number="INV-2")  # Confirmed and listed: offer, withdraw, finance, repay, transfer
    net.approve_hkd("financier", AMOUNT)
    net.approve_hkd("buyer", AMOUNT)
    inv = net.invoices.functions
    far = net.now() + 7 * DAY
    attempts: list[tuple[str, Any, str]] = [
        ("issue", net.issue_fn(b"\3" * 32), "supplier"),
        ("confirm", inv.confirm(1), "buyer"),
        ("cancel", inv.cancel(1), "supplier"),
        ("offer", inv.offerForFinancing(2, ZERO_ADDRESS, 0, far), "supplier"),
        ("withdraw", inv.withdrawOffer(2), "supplier"),
        ("finance", net.finance_fn(2, 90_000), "financier"),
        ("repay", inv.repay(2, 100), "buyer"),
        ("transfer", inv.transferFrom(net.addr("supplier"), net.addr("supplier2"), 2), "supplier"),
    ]
    # Every attempt is valid while running...
    for _, fn, who in attempts:
        net.call(fn, who)
    before = (net.invoice(1), net.invoice(2), net.owner(2), net.balances("supplier", "financier", "buyer"))
    net.set_paused(True)
    refused = []
    for name, fn, who in attempts:
        with reverts("EnforcedPause"):
            net.send(fn, who)
        refused.append(name)
    assert len(refused) == len(attempts)
    assert (net.invoice(1), net.invoice(2), net.owner(2), net.balances("supplier", "financier", "buyer")) == before
    net.set_paused(False)
    for _, fn, who in attempts:
        net.call(fn, who)


# -- revert messages ------------------------------------------------------------------------


def test_contracts_message_already_financed(net: Net) -> None:
    net.financed()
    with pytest.raises(TransactionReverted) as info:
        net.ledger.finance(net.acct("financier2"), 1, advance="900.00")
    assert str(info.value) == (
        f"invoice 1 is already financed (by Harbour Trade Finance Ltd ({net.addr('financier')}))"
    )


def test_contracts_message_not_buyer(net: Net) -> None:
    net.issue()
    with pytest.raises(TransactionReverted) as info:
        net.ledger.confirm(net.acct("buyer2"), 1)
    assert str(info.value) == (
        f"Kwai Chung Logistics Ltd ({net.addr('buyer2')}) is not the buyer of invoice 1 "
        f"(the buyer is Tsuen Wan Electronics Ltd ({net.addr('buyer')}))"
    )


def test_contracts_message_money_and_status(net: Net) -> None:
    net.offered()
    with pytest.raises(TransactionReverted) as info:
        net.ledger.finance(net.acct("financier"), 1, advance="1000.01")
    assert str(info.value) == "advance HKD 1,000.01 for invoice 1 must be positive and at most HKD 1,000.00"
    net.issue(number="INV-2")
    with pytest.raises(TransactionReverted) as info:
        net.ledger.finance(net.acct("financier"), 2, advance="900.00")
    assert str(info.value) == "invoice 2 is not confirmed by its buyer (status Issued)"


def test_contracts_message_roles_and_dates(net: Net) -> None:
    net.offered(days=10, offer_days=60)
    with pytest.raises(TransactionReverted) as info:
        net.ledger.finance(net.acct("supplier2"), 1, advance="900.00")
    assert str(info.value) == (
        f"participant Sham Shui Po Textiles Ltd ({net.addr('supplier2')}) lacks the financier role (has supplier)"
    )
    due = net.invoice(1)["dueDate"]
    net.advance_time(11 * DAY)
    with pytest.raises(TransactionReverted) as info:
        net.ledger.finance(net.acct("financier"), 1, advance="900.00")
    day = timestamp_to_date(due).isoformat()
    assert str(info.value) == f"invoice 1 matured on {day} 00:00 UTC and can no longer be financed"


def test_contracts_message_pause(net: Net) -> None:
    net.set_paused(True)
    with pytest.raises(TransactionReverted) as info:
        net.issue()
    assert str(info.value) == "the network is paused by the operator"


def test_contracts_revert_checksum_addresses(net: Net) -> None:
    # error_args carry checksummed addresses, comparable with LocalAccount.address.
    net.issue()
    with pytest.raises(TransactionReverted) as info:
        net.ledger.confirm(net.acct("buyer2"), 1)
    assert info.value.error_args["account"] == net.acct("buyer2").address
    assert Web3.is_checksum_address(info.value.error_args["buyer"])
