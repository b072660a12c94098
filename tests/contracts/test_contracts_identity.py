"""The rules of ParticipantRegistry and InvoiceToken (version 2), on the real session Anvil.

Every rule the contracts enforce has a test that tries to break it by calling
the contract directly (``contract.functions.X(...)`` through ``Net.send``), not
through ``Ledger`` helpers that may check first. Every revert is checked by its
custom error and by the values it carries (decoded by ``ledger.evm.chain``); the
base scenario of ``conftest.py`` (admitted, funded participants) is restored
after each test by the ``chain`` fixture. Tests named ``..._attack_...``
reproduce an attack and show that it is repelled.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3
from web3.logs import DISCARD

from ledger.config import REPO_ROOT
from ledger.deployment import Currency
from ledger.errors import TransactionReverted
from ledger.evm.compiler import Build
from ledger.lifecycle import Ledger
from ledger.money import date_to_timestamp, timestamp_to_date

DAY = 86_400
ZERO_ADDRESS = "0x" + "00" * 20
ZERO32 = b"\0" * 32
# Role bits of the registry.
SUPPLIER, BUYER, FINANCIER, AUDITOR = 1, 2, 4, 8
# IInvoiceToken.Status.
ISSUED, CONFIRMED, FINANCED, PARTIALLY_PAID, PAID, CANCELLED = range(1, 7)
OPERATOR_ROLE = keccak(text="OPERATOR_ROLE")
CURRENCY_MANAGER_ROLE = keccak(text="CURRENCY_MANAGER_ROLE")
MINTER_ROLE = keccak(text="MINTER_ROLE")
DEFAULT_ADMIN_ROLE = ZERO32
UINT96_MAX = 2**96 - 1
#: The default invoice: HKD 1,000.00.
AMOUNT = 100_000
#: IInvoiceToken.Invoice, in ABI order.
INVOICE_FIELDS = (
    "supplier",
    "buyer",
    "currency",
    "dueDate",
    "status",
    "amount",
    "paid",
    "seller",
    "financierDue",
    "financierPaid",
)
VECTORS = json.loads((Path(__file__).parent / "vectors" / "invoice_numbers.json").read_text())["vectors"]
TEST_CONTRACTS_DIR = Path(__file__).parent / "contracts"
ARTIFACT_CACHE = REPO_ROOT / ".pytest_cache" / "scf-artifacts"


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

    def balance(self, name: str, token: Any = None) -> int:
        return int((token or self.token).functions.balanceOf(self.addr(name)).call())

    def balances(self, *names: str, token: Any = None) -> dict[str, int]:
        return {n: self.balance(n, token) for n in names}

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

    def deploy(self, abi: list[dict[str, Any]], bytecode: str, *args: Any, who: str = "operator") -> Any:
        factory = self.ledger.w3.eth.contract(abi=abi, bytecode=bytecode)
        receipt = self.send(factory.constructor(*args), who)
        return self.ledger.w3.eth.contract(address=receipt["contractAddress"], abi=abi)

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

    def issue_fn(
        self,
        number: str = "INV-1",
        buyer: str = "buyer",
        amount: int = AMOUNT,
        due_ts: int | None = None,
        currency: str | None = None,
        doc_hash: bytes = ZERO32,
    ) -> Any:
        """A raw v2 ``issue(buyer, number, amount, currency, dueDate, docHash)``."""
        return self.invoices.functions.issue(
            self.addr(buyer),
            number,
            amount,
            currency or self.hkd.address,
            date_to_timestamp(self.due(30)) if due_ts is None else due_ts,
            doc_hash,
        )

    def issue_raw(self, number: str = "INV-1", supplier: str = "supplier", **kw: Any) -> int:
        receipt = self.send(self.issue_fn(number, **kw), supplier)
        (issued,) = self.events(receipt, "InvoiceIssued")
        return int(issued["invoiceId"])

    def confirmed(self, buyer: str = "buyer", **kw: Any) -> int:
        invoice_id = self.issue(buyer=buyer, **kw)
        self.ledger.confirm(self.acct(buyer), invoice_id)
        return invoice_id

    def offered(self, financier: str | None = None, min_advance: str = "500.00", offer_days: int = 7, **kw: Any) -> int:
        invoice_id = self.confirmed(**kw)
        self.ledger.offer(self.acct("supplier"), invoice_id, financier, min_advance, offer_days)
        return invoice_id

    def financed(self, advance: str = "900.00", due: str | None = None, financier: str = "financier", **kw: Any) -> int:
        invoice_id = self.offered(**kw)
        self.ledger.finance(self.acct(financier), invoice_id, advance=advance, due=due)
        return invoice_id

    def offer_fn(
        self, invoice_id: int, financier: str | None = None, min_advance: int = 50_000, expiry: int | None = None
    ) -> Any:
        return self.invoices.functions.offerForFinancing(
            invoice_id,
            self.addr(financier) if financier else ZERO_ADDRESS,
            min_advance,
            self.now() + 7 * DAY if expiry is None else expiry,
        )

    def terms(
        self,
        invoice_id: int,
        advance: int,
        due: int | None = None,
        seller: str | None = None,
        amount: int | None = None,
        paid: int | None = None,
        due_date: int | None = None,
        deadline: int | None = None,
    ) -> tuple[Any, ...]:
        """IInvoiceToken.FinancingTerms priced on the invoice as it is now, unless overridden
        (``due`` defaults to the open amount: no reserve)."""
        inv = self.invoice(invoice_id)
        return (
            advance,
            inv["amount"] - inv["paid"] if due is None else due,
            self.owner(invoice_id) if seller is None else seller,
            inv["amount"] if amount is None else amount,
            inv["paid"] if paid is None else paid,
            inv["dueDate"] if due_date is None else due_date,
            self.now() + 3600 if deadline is None else deadline,
        )

    def finance_fn(self, invoice_id: int, advance: int, **kw: Any) -> Any:
        return self.invoices.functions.finance(invoice_id, self.terms(invoice_id, advance, **kw))

    def invoice(self, invoice_id: int) -> dict[str, Any]:
        return dict(zip(INVOICE_FIELDS, self.call(self.invoices.functions.getInvoice(invoice_id)), strict=True))

    def listing(self, invoice_id: int) -> tuple[str, int, int]:
        financier, expiry, min_advance = self.call(self.invoices.functions.getListing(invoice_id))
        return (financier, int(expiry), int(min_advance))

    def owner(self, invoice_id: int) -> str:
        return str(self.invoices.functions.ownerOf(invoice_id).call())

    def invoice_id_of(self, number: str, supplier: str = "supplier") -> int:
        return int(self.call(self.invoices.functions.invoiceIdOf(self.addr(supplier), number)))

    def next_id(self) -> int:
        return int(self.invoices.functions.nextInvoiceId().call())

    # -- registry and operator ---------------------------------------------------
    def admit(self, who: str, name: str, roles: int, kyc_expiry: int | None = None) -> None:
        expiry = self.now() + 365 * DAY if kyc_expiry is None else kyc_expiry
        self.send(self.registry.functions.admit(self.addr(who), name, roles, expiry), "operator")

    def kyc_expiry(self, who: str) -> int:
        return int(self.registry.functions.participant(self.addr(who)).call()[2])

    def set_paused(self, paused: bool) -> None:
        self.ledger.set_paused(self.acct("operator"), paused)

    def suspend(self, who: str, suspended: bool = True) -> None:
        self.ledger.set_suspended(self.acct("operator"), self.addr(who), suspended)


@pytest.fixture()
def net(ledger: Ledger, acct: Callable[[str], LocalAccount]) -> Net:
    return Net(ledger, acct)


@pytest.fixture(scope="session")
def build(session_env: Any, base_deployment: object) -> Build:
    """The project's compiled contracts (from the cache the session deployment filled)."""
    from ledger.evm.compiler import compile_contracts

    return compile_contracts(session_env.settings)[0]


@pytest.fixture(scope="session")
def fee_token_artifact(session_env: Any) -> dict[str, Any]:
    """ABI and bytecode of tests/contracts/FeeOnTransferToken.sol, compiled with the
    project's compiler and settings and cached by content hash as the project does."""
    import solcx

    from ledger.evm.compiler import build_key, collect_sources, compile_settings, compiler_version, solc_binary

    settings = session_env.settings
    binary = solc_binary(settings)
    version = compiler_version(binary, settings)
    sources = collect_sources(settings, TEST_CONTRACTS_DIR)
    solc_settings = compile_settings(settings)
    key = build_key(sources, version, solc_settings)
    cache = ARTIFACT_CACHE / f"test-contracts-{key}.json"
    if cache.exists():
        return dict(json.loads(cache.read_text()))
    output = solcx.compile_standard(
        {
            "language": "Solidity",
            "sources": {unit: {"content": text} for unit, text in sources.items()},
            "settings": solc_settings,
        },
        solc_binary=binary,
        base_path=str(TEST_CONTRACTS_DIR.parent),
    )
    data = output["contracts"]["contracts/FeeOnTransferToken.sol"]["FeeOnTransferToken"]
    artifact = {"abi": data["abi"], "bytecode": "0x" + data["evm"]["bytecode"]["object"]}
    ARTIFACT_CACHE.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(artifact))
    tmp.replace(cache)
    return artifact


def transfer(net: Net, invoice_id: int, frm: str, to: str) -> Any:
    return net.send(net.invoices.functions.transferFrom(net.addr(frm), net.addr(to), invoice_id), frm)


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


def test_contracts_version_is_2(net: Net) -> None:
    assert net.invoices.functions.version().call() == 2


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
        "dueDate": date_to_timestamp(due),
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
        "dueDate": date_to_timestamp(due),
        "status": ISSUED,
        "amount": 123_456,
        "paid": 0,
        "seller": ZERO_ADDRESS,
        "financierDue": 0,
        "financierPaid": 0,
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
    _attack_same_number(net, due_ts=date_to_timestamp(net.due(31)))


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
    _attack_same_number(net, buyer="buyer2", amount=1, due_ts=date_to_timestamp(net.due(90)), doc_hash=b"\1" * 32)


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
    with reverts("InvalidAmount", amount=0):
        net.issue(amount="0.00")


def test_contracts_issue_due_date_not_in_future(net: Net) -> None:
    # Today 00:00 UTC is already past.
    today = date_to_timestamp(net.due(0))
    with reverts("InvalidDueDate", dueDate=today, nowTimestamp=ANY, latestDueDate=ANY) as info:
        net.issue(days=0)
    args = info.value.error_args
    assert args["nowTimestamp"] >= net.now() >= today
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
    due = date_to_timestamp(net.due(91))
    with reverts("InvalidDueDate", dueDate=due, nowTimestamp=ANY, latestDueDate=ANY) as info:
        net.send(net.issue_fn(due_ts=due), "supplier")
    args = info.value.error_args
    assert args["latestDueDate"] == args["nowTimestamp"] + 90 * DAY < due
    net.send(net.issue_fn(due_ts=date_to_timestamp(net.due(89))), "supplier")


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
        (net.invoices.functions.offerForFinancing(99, ZERO_ADDRESS, 1, net.now() + DAY), "supplier"),
        (net.invoices.functions.withdrawOffer(99), "supplier"),
        (net.invoices.functions.repay(99, 1), "buyer"),
    ):
        with reverts("InvoiceNotFound", invoiceId=99):
            net.send(fn, who)


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
    }
    assert net.listing(1) == (net.addr("financier"), future, 90_000)
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
    assert (result["status"], result["seller"], result["reserve"]) == (
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
    terms = (90_000, AMOUNT, net.addr("supplier"), AMOUNT, 0, date_to_timestamp(net.due(30)), net.now() + 3600)
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
    assert result["seller"] == "Kowloon Precision Parts Ltd"


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
    assert (first["status"], first["payee"], first["outstanding"]) == (
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
    assert result["payee"] == "Sham Shui Po Textiles Ltd"
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


# -- registry --------------------------------------------------------------------------------


def test_contracts_registry_admit(net: Net) -> None:
    expiry = net.now() + 30 * DAY
    receipt = net.send(
        net.registry.functions.admit(net.addr("dev8"), "Tai Po Trading Ltd", SUPPLIER | BUYER, expiry), "operator"
    )
    (admitted,) = net.events(receipt, "ParticipantAdmitted", net.registry)
    assert dict(admitted) == {
        "account": net.addr("dev8"),
        "name": "Tai Po Trading Ltd",
        "roles": SUPPLIER | BUYER,
        "kycExpiry": expiry,
    }
    assert tuple(net.registry.functions.participant(net.addr("dev8")).call()) == (
        "Tai Po Trading Ltd",
        SUPPLIER | BUYER,
        expiry,
        True,
        False,
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
            net.call(net.registry.functions.admit(net.addr("dev8"), "Tai Po Trading Ltd", SUPPLIER, expiry), "operator")
        with reverts("InvalidKycExpiry", kycExpiry=expiry):
            net.call(net.registry.functions.updateParticipant(net.addr("supplier"), SUPPLIER, expiry), "operator")


def test_contracts_registry_unknown_participant(net: Net) -> None:
    dev9 = net.addr("dev9")
    for fn in (
        net.registry.functions.updateParticipant(dev9, SUPPLIER, net.now() + DAY),
        net.registry.functions.rename(dev9, "Nobody Ltd"),
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


def test_contracts_registry_rename(net: Net) -> None:
    new_name = "Kowloon Precision Holdings Ltd"
    receipt = net.send(net.registry.functions.rename(net.addr("supplier"), new_name), "operator")
    (renamed,) = net.events(receipt, "ParticipantRenamed", net.registry)
    assert dict(renamed) == {"account": net.addr("supplier"), "name": "Kowloon Precision Holdings Ltd"}
    name, roles, _, admitted, suspended = net.registry.functions.participant(net.addr("supplier")).call()
    assert (name, roles, admitted, suspended) == ("Kowloon Precision Holdings Ltd", SUPPLIER, True, False)
    assert net.ledger.participant_names(refresh=True)[net.addr("supplier")] == "Kowloon Precision Holdings Ltd"
    # 128 bytes is the limit, counted in UTF-8 bytes; non-ASCII names are fine.
    for longest in ("N" * 128, "九龍精密零件有限公司" * 4 + "Ltd" + "x" * 5):
        assert len(longest.encode()) == 128
        net.send(net.registry.functions.rename(net.addr("supplier"), longest), "operator")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "N" * 129,
        "九" * 43,
        "Evil\nLtd",
        "Evil\x1b[2JLtd",
        "Evil\rLtd",
        "Evil\x00Ltd",
        "Evil\x7fLtd",
        "\t",
        "Evil\x9b2JLtd",
        "Evil\x85Ltd",
    ],
    ids=[
        "empty",
        "129-bytes",
        "129-bytes-utf8",
        "newline",
        "escape",
        "carriage-return",
        "nul",
        "delete",
        "tab",
        "c1-csi",
        "c1-next-line",
    ],
)
def test_contracts_attack_registry_invalid_name_refused(net: Net, name: str) -> None:
    with reverts("InvalidName", name=name):
        net.send(net.registry.functions.rename(net.addr("supplier"), name), "operator")
    with reverts("InvalidName", name=name):
        net.admit("dev8", name, SUPPLIER)
    assert net.registry.functions.participant(net.addr("supplier")).call()[0] == "Kowloon Precision Parts Ltd"


def test_contracts_registry_renew_expired_kyc_restores_active(net: Net) -> None:
    expiry = net.kyc_expiry("supplier")
    net.mine_at(expiry + DAY)
    assert net.registry.functions.isActive(net.addr("supplier"), SUPPLIER).call() is False
    with reverts("ParticipantKycExpired", account=net.addr("supplier"), kycExpiry=expiry, nowTimestamp=ANY):
        net.send(net.issue_fn(due_ts=net.now() + 30 * DAY), "supplier")
    renewed = net.now() + 365 * DAY
    receipt = net.send(net.registry.functions.updateParticipant(net.addr("supplier"), SUPPLIER, renewed), "operator")
    assert [dict(e) for e in net.events(receipt, "ParticipantUpdated", net.registry)] == [
        {"account": net.addr("supplier"), "roles": SUPPLIER, "kycExpiry": renewed}
    ]
    assert net.registry.functions.isActive(net.addr("supplier"), SUPPLIER).call() is True
    # The buyer's KYC lapsed too: renew it, then business goes on.
    net.send(net.registry.functions.updateParticipant(net.addr("buyer"), BUYER, renewed), "operator")
    assert net.issue_raw(due_ts=net.now() + 30 * DAY) == 1


def _suspend_then(net: Net, who: str, action: Callable[[], Any]) -> None:
    operator = net.acct("operator")
    receipt = net.receipt(net.ledger.set_suspended(operator, net.addr(who), True))
    assert [dict(e) for e in net.events(receipt, "ParticipantSuspended", net.registry)] == [{"account": net.addr(who)}]
    assert net.registry.functions.isActive(net.addr(who), 0).call() is False
    with reverts("ParticipantIsSuspended", account=net.addr(who)):
        action()
    receipt = net.receipt(net.ledger.set_suspended(operator, net.addr(who), False))
    assert [dict(e) for e in net.events(receipt, "ParticipantReinstated", net.registry)] == [{"account": net.addr(who)}]
    action()


def test_contracts_suspended_supplier_cannot_issue(net: Net) -> None:
    _suspend_then(net, "supplier", lambda: net.send(net.issue_fn(), "supplier"))
    assert net.invoice(1)["status"] == ISSUED


def test_contracts_suspended_buyer_cannot_confirm(net: Net) -> None:
    net.issue()
    _suspend_then(net, "buyer", lambda: net.send(net.invoices.functions.confirm(1), "buyer"))
    assert net.invoice(1)["status"] == CONFIRMED


def test_contracts_suspended_supplier_cannot_cancel(net: Net) -> None:
    net.issue()
    _suspend_then(net, "supplier", lambda: net.send(net.invoices.functions.cancel(1), "supplier"))
    assert net.invoice(1)["status"] == CANCELLED


def test_contracts_suspended_financier_cannot_finance(net: Net) -> None:
    net.offered()
    net.approve_hkd("financier", 90_000)
    _suspend_then(net, "financier", lambda: net.send(net.finance_fn(1, 90_000), "financier"))
    assert net.invoice(1)["status"] == FINANCED


def test_contracts_suspended_holder_cannot_list(net: Net) -> None:
    net.confirmed()
    _suspend_then(net, "supplier", lambda: net.send(net.offer_fn(1), "supplier"))
    assert net.listing(1)[2] == 50_000


def test_contracts_suspended_holder_cannot_sell(net: Net) -> None:
    net.offered()
    net.approve_hkd("financier", 90_000)
    _suspend_then(net, "supplier", lambda: net.send(net.finance_fn(1, 90_000), "financier"))


def test_contracts_suspended_buyer_cannot_receive_invoices(net: Net) -> None:
    _suspend_then(net, "buyer", lambda: net.send(net.issue_fn(), "supplier"))


def test_contracts_kyc_expired_cannot_act(net: Net) -> None:
    net.issue("INV-1", days=5 * 365)  # due after everyone's KYC (3 years) lapses
    buyer_expiry = net.kyc_expiry("buyer")
    net.advance_time(buyer_expiry - net.now() + DAY)
    with reverts("ParticipantKycExpired", account=net.addr("buyer"), kycExpiry=buyer_expiry, nowTimestamp=ANY) as info:
        net.send(net.invoices.functions.confirm(1), "buyer")
    assert info.value.error_args["nowTimestamp"] >= buyer_expiry + DAY
    supplier_expiry = net.kyc_expiry("supplier")
    with reverts("ParticipantKycExpired", account=net.addr("supplier"), kycExpiry=supplier_expiry, nowTimestamp=ANY):
        net.send(net.invoices.functions.cancel(1), "supplier")
    # The operator renews the buyer's KYC: it can act again.
    net.send(net.registry.functions.updateParticipant(net.addr("buyer"), BUYER, net.now() + 365 * DAY), "operator")
    net.send(net.invoices.functions.confirm(1), "buyer")
    assert net.invoice(1)["status"] == CONFIRMED


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
        net.send(net.invoices.functions.confirm(1), "buyer")
    with reverts("ParticipantLacksRole", account=net.addr("financier"), role=SUPPLIER, roles=FINANCIER):
        net.send(net.issue_fn("INV-2", buyer="buyer2"), "financier")


# -- roles and governance ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("action", "role"),
    [
        ("admit", OPERATOR_ROLE),
        ("update", OPERATOR_ROLE),
        ("rename", OPERATOR_ROLE),
        ("suspend", OPERATOR_ROLE),
        ("reinstate", OPERATOR_ROLE),
        ("pause", OPERATOR_ROLE),
        ("unpause", OPERATOR_ROLE),
        ("max_tenor", OPERATOR_ROLE),
        ("accept_currency", CURRENCY_MANAGER_ROLE),
        ("mint", MINTER_ROLE),
    ],
)
@pytest.mark.parametrize("who", ["supplier", "dev9"])
def test_contracts_non_operator_refused(net: Net, action: str, role: bytes, who: str) -> None:
    dev8 = net.addr("dev8")
    fns = {
        "admit": lambda: net.registry.functions.admit(dev8, "Tai Po Trading Ltd", SUPPLIER, net.now() + DAY),
        "update": lambda: net.registry.functions.updateParticipant(net.addr("supplier"), 15, net.now() + DAY),
        "rename": lambda: net.registry.functions.rename(net.addr("supplier"), "Mine Now Ltd"),
        "suspend": lambda: net.registry.functions.suspend(net.addr("buyer")),
        "reinstate": lambda: net.registry.functions.reinstate(net.addr("buyer")),
        "pause": lambda: net.invoices.functions.pause(),
        "unpause": lambda: net.invoices.functions.unpause(),
        "max_tenor": lambda: net.invoices.functions.setMaxTenor(100 * 365 * DAY),
        "accept_currency": lambda: net.invoices.functions.setCurrencyAccepted(net.registry.address, True),
        "mint": lambda: net.token.functions.mint(net.addr(who), 10**9),
    }
    with reverts("AccessControlUnauthorizedAccount", account=net.addr(who), neededRole=role):
        net.send(fns[action](), who)


def test_contracts_attack_grant_default_admin_directly_refused(net: Net) -> None:
    # Even the default admin cannot hand the role over (or add a second admin) in one step.
    for contract in (net.invoices, net.registry):
        with reverts("AccessControlEnforcedDefaultAdminRules"):
            net.send(contract.functions.grantRole(DEFAULT_ADMIN_ROLE, net.addr("dev9")), "operator")
        assert contract.functions.hasRole(DEFAULT_ADMIN_ROLE, net.addr("dev9")).call() is False
        with reverts("AccessControlUnauthorizedAccount", account=net.addr("dev9"), neededRole=DEFAULT_ADMIN_ROLE):
            net.send(contract.functions.grantRole(OPERATOR_ROLE, net.addr("dev9")), "dev9")


def _second_deployment(net: Net, tmp_path: Path) -> tuple[Ledger, dict[str, LocalAccount]]:
    """A second set of contracts whose roles are held by four distinct fresh accounts,
    deployed with ``ledger.evm.deploy.deploy`` on a private copy of the settings."""
    from ledger.evm.compiler import compile_contracts
    from ledger.evm.deploy import deploy

    settings = dataclasses.replace(net.ledger.settings, home=tmp_path)
    shutil.copytree(net.ledger.settings.artifacts_dir, settings.artifacts_dir)
    built, ran = compile_contracts(settings)
    assert ran is False  # the copied cache is used
    holders = {k: Account.create() for k in ("admin", "operator", "currency_manager", "minter", "successor")}
    deployment = deploy(
        settings,
        net.ledger.w3,
        built,
        holders["admin"],
        force=True,
        roles={k: holders[k].address for k in ("admin", "operator", "currency_manager", "minter")},
    )
    assert deployment.roles == {k: holders[k].address for k in ("admin", "operator", "currency_manager", "minter")}
    return Ledger(settings, net.ledger.w3, deployment), holders


def test_contracts_roles_held_by_distinct_accounts(net: Net, tmp_path: Path) -> None:
    second, who = _second_deployment(net, tmp_path)
    inv, reg = second.invoices.functions, second.registry.functions
    hkd = second.token(second.deployment.currency("HKD")).functions
    expected = [
        (inv, OPERATOR_ROLE, "operator"),
        (inv, CURRENCY_MANAGER_ROLE, "currency_manager"),
        (inv, DEFAULT_ADMIN_ROLE, "admin"),
        (reg, OPERATOR_ROLE, "operator"),
        (reg, DEFAULT_ADMIN_ROLE, "admin"),
        (hkd, MINTER_ROLE, "minter"),
        (hkd, DEFAULT_ADMIN_ROLE, "admin"),
    ]
    for functions, role, holder in expected:
        for name, account in who.items():
            assert functions.hasRole(role, account.address).call() is (name == holder), (role, name)

    def refused(fn: Any, name: str, role: bytes) -> None:
        with reverts("AccessControlUnauthorizedAccount", account=who[name].address, neededRole=role):
            second.sender.transact(fn, who[name])

    # A currency manager cannot pause or set the tenor; an operator cannot accept currencies.
    refused(inv.pause(), "currency_manager", OPERATOR_ROLE)
    refused(inv.setMaxTenor(DAY), "currency_manager", OPERATOR_ROLE)
    refused(inv.setCurrencyAccepted(net.hkd.address, True), "operator", CURRENCY_MANAGER_ROLE)
    # The admin grants roles but exercises none of them.
    refused(inv.pause(), "admin", OPERATOR_ROLE)
    refused(inv.setCurrencyAccepted(net.hkd.address, True), "admin", CURRENCY_MANAGER_ROLE)
    refused(reg.admit(net.addr("dev8"), "Tai Po Trading Ltd", SUPPLIER, net.now() + DAY), "admin", OPERATOR_ROLE)
    # Only the minter mints.
    for name in ("admin", "operator", "currency_manager"):
        refused(hkd.mint(who[name].address, 1), name, MINTER_ROLE)
    # Each does its own job.
    second.sender.transact(hkd.mint(net.addr("buyer"), 1), who["minter"])
    second.sender.transact(inv.setCurrencyAccepted(net.hkd.address, True), who["currency_manager"])
    second.sender.transact(
        reg.admit(net.addr("dev8"), "Tai Po Trading Ltd", SUPPLIER, net.now() + DAY), who["operator"]
    )
    second.sender.transact(inv.setMaxTenor(30 * DAY), who["operator"])
    second.sender.transact(inv.pause(), who["operator"])
    assert inv.paused().call() is True
    second.sender.transact(inv.unpause(), who["operator"])


def test_contracts_default_admin_two_step_transfer_with_delay(net: Net, tmp_path: Path) -> None:
    second, who = _second_deployment(net, tmp_path)
    inv = second.invoices.functions
    admin, successor = who["admin"], who["successor"]
    delay = int(inv.defaultAdminDelay().call())
    assert delay == net.ledger.settings.admin_delay == DAY
    with reverts("AccessControlEnforcedDefaultAdminRules"):
        second.sender.transact(inv.grantRole(DEFAULT_ADMIN_ROLE, successor.address), admin)
    with reverts("AccessControlUnauthorizedAccount", account=successor.address, neededRole=DEFAULT_ADMIN_ROLE):
        second.sender.transact(inv.beginDefaultAdminTransfer(successor.address), successor)
    receipt = second.sender.transact(inv.beginDefaultAdminTransfer(successor.address), admin)
    started = int(second.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    pending, schedule = inv.pendingDefaultAdmin().call()
    assert (pending, schedule) == (successor.address, started + delay)
    # Accepting before the delay is refused, and only the named successor may accept.
    with reverts("AccessControlEnforcedDefaultAdminDelay", schedule=schedule):
        second.sender.transact(inv.acceptDefaultAdminTransfer(), successor)
    with reverts("AccessControlInvalidDefaultAdmin", defaultAdmin=who["operator"].address):
        second.sender.transact(inv.acceptDefaultAdminTransfer(), who["operator"])
    net.mine_at(schedule)
    with reverts("AccessControlEnforcedDefaultAdminDelay", schedule=schedule):
        second.sender.call(inv.acceptDefaultAdminTransfer(), successor.address)
    net.mine_at(schedule + 1)
    second.sender.transact(inv.acceptDefaultAdminTransfer(), successor)
    assert inv.defaultAdmin().call() == successor.address
    assert inv.hasRole(DEFAULT_ADMIN_ROLE, admin.address).call() is False
    # The new admin grants roles; the old one no longer can.
    second.sender.transact(inv.grantRole(OPERATOR_ROLE, net.addr("dev9")), successor)
    with reverts("AccessControlUnauthorizedAccount", account=admin.address, neededRole=DEFAULT_ADMIN_ROLE):
        second.sender.transact(inv.grantRole(OPERATOR_ROLE, net.addr("dev8")), admin)


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
    net.offered(number="INV-2")  # Confirmed and listed: offer, withdraw, finance, repay, transfer, approvals
    net.approve_hkd("financier", AMOUNT)
    net.approve_hkd("buyer", AMOUNT)
    inv = net.invoices.functions
    supplier, supplier2 = net.addr("supplier"), net.addr("supplier2")
    attempts: list[tuple[str, Any, str]] = [
        ("issue", net.issue_fn("INV-3"), "supplier"),
        ("confirm", inv.confirm(1), "buyer"),
        ("cancel", inv.cancel(1), "supplier"),
        ("offer", net.offer_fn(2), "supplier"),
        ("withdraw", inv.withdrawOffer(2), "supplier"),
        ("finance", net.finance_fn(2, 90_000), "financier"),
        ("repay", inv.repay(2, 100), "buyer"),
        ("transfer", inv.transferFrom(supplier, supplier2, 2), "supplier"),
        ("safe transfer", inv.safeTransferFrom(supplier, supplier2, 2), "supplier"),
        ("approve", inv.approve(net.addr("financier2"), 2), "supplier"),
        ("approve all", inv.setApprovalForAll(net.addr("financier2"), True), "supplier"),
    ]
    # Every attempt is valid while running...
    for _, fn, who in attempts:
        net.call(fn, who)

    def state() -> Any:
        return (
            net.invoice(1),
            net.invoice(2),
            net.owner(2),
            net.listing(2),
            net.next_id(),
            inv.getApproved(2).call(),
            net.balances("supplier", "financier", "buyer"),
        )

    before = state()
    net.set_paused(True)
    refused = []
    for name, fn, who in attempts:
        with reverts("EnforcedPause"):
            net.send(fn, who)
        refused.append(name)
    assert len(refused) == len(attempts)
    assert state() == before
    net.set_paused(False)
    for _, fn, who in attempts:
        net.call(fn, who)


# -- revert messages ------------------------------------------------------------------------


def test_contracts_message_duplicate_invoice(net: Net) -> None:
    net.issue("INV-2026/001")
    with pytest.raises(TransactionReverted) as info:
        net.issue("inv 2026 001", amount="1000.01")
    assert str(info.value) == (
        f"duplicate invoice: Kowloon Precision Parts Ltd ({net.addr('supplier')}) already issued invoice number "
        "'INV2026001' (in any spelling) as invoice 1; an invoice number is used once, ever"
    )


def test_contracts_message_already_financed(net: Net) -> None:
    net.financed()
    with pytest.raises(TransactionReverted) as info:
        net.ledger.finance(net.acct("financier2"), 1, advance="900.00")
    assert str(info.value) == (
        f"invoice 1 is already financed (sold by Kowloon Precision Parts Ltd ({net.addr('supplier')})); "
        "one financing, ever"
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
    assert str(info.value) == (
        "advance HKD 1,000.01 for invoice 1 must be positive and at most the financier's due HKD 1,000.00"
    )
    net.issue(number="INV-2")
    with pytest.raises(TransactionReverted) as info:
        net.ledger.finance(net.acct("financier"), 2, advance="900.00")
    assert str(info.value) == (
        "invoice 2 cannot be listed or financed in status Issued; it must be Confirmed or PartiallyPaid"
    )


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
