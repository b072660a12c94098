"""The contract-rules driver of ``tests/contracts/``: ``Net`` (the base scenario
with short-hands for raw contract calls, built on ``support.lifecycle``), the
``reverts`` check of custom errors, and the contracts' constants."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.logs import DISCARD

from ledger.business_time import business_date, due_timestamp
from ledger.config import REPO_ROOT
from ledger.deployment import Currency
from ledger.errors import TransactionReverted
from ledger.evm.invoice import STRUCT_FIELDS
from ledger.lifecycle import Ledger
from support.lifecycle import Lifecycle

DAY = 86_400
ZERO_ADDRESS = "0x" + "00" * 20
ZERO32 = b"\0" * 32
# Role bits of the registry.
SUPPLIER, BUYER, FINANCIER, AUDITOR = 1, 2, 4, 8
# IInvoiceToken.Status.
ISSUED, CONFIRMED, FINANCED, PARTIALLY_PAID, PAID, CANCELLED, SPLIT = range(1, 8)
# IInvoiceToken.Status of contract v4 (appended): when things go wrong.
DISPUTED, DEFAULTED, WRITTEN_OFF = 8, 9, 10
#: The session deployment's grace period (config grace_period_days, default 7), and the most a financing may agree.
GRACE = 7 * 86_400
MAX_GRACE_PERIOD = 365 * 86_400
UINT64_MAX = 2**64 - 1
# InvoiceToken's bounds on splitting.
MAX_PARTS, MAX_DEPTH, MAX_TREE_PARTS = 10, 3, 64
#: EIP-170: the most runtime code a contract may have.
EIP170_LIMIT = 24_576
OPERATOR_ROLE = keccak(text="OPERATOR_ROLE")
CURRENCY_MANAGER_ROLE = keccak(text="CURRENCY_MANAGER_ROLE")
MINTER_ROLE = keccak(text="MINTER_ROLE")
DEFAULT_ADMIN_ROLE = ZERO32
UINT96_MAX = 2**96 - 1
#: The default invoice: HKD 1,000.00.
AMOUNT = 100_000
#: IInvoiceToken.Invoice, in ABI order: the one definition, in the ChainInvoice type.
INVOICE_FIELDS = STRUCT_FIELDS
VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "invoice_numbers.json").read_text())["vectors"]
TEST_CONTRACTS_DIR = Path(__file__).parents[1] / "contracts"
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


class Net(Lifecycle):
    """The base scenario with short-hands for the contract-rule tests
    (``Net(ledger, acct)``; parties, balances and the lifecycle steps come from
    ``Lifecycle``)."""

    ledger: Ledger
    acct: Callable[[str], LocalAccount]

    # -- parties and money ---------------------------------------------------
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

    def balances(self, *names: str, token: Any = None) -> dict[str, int]:
        return {n: self.balance(n, token) for n in names}

    def approve_hkd(self, who: str, units: int) -> None:
        self.send(self.token.functions.approve(self.invoices.address, units), who)

    def fund(self, who: str, units: int) -> None:
        """Mint ``units`` minor units of HKD to ``who`` (the operator mints)."""
        self.send(self.token.functions.mint(self.addr(who), units), "operator")

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
        return business_date(self.now()) + dt.timedelta(days=days)

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
        result = self.issue_invoice(number, amount, self.due(days), supplier, buyer, document)
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
            due_timestamp(self.due(30)) if due_ts is None else due_ts,
            doc_hash,
        )

    def issue_raw(self, number: str = "INV-1", supplier: str = "supplier", **kw: Any) -> int:
        receipt = self.send(self.issue_fn(number, **kw), supplier)
        (issued,) = self.events(receipt, "InvoiceIssued")
        return int(issued["invoiceId"])

    def confirmed(self, buyer: str = "buyer", **kw: Any) -> int:
        invoice_id = self.issue(buyer=buyer, **kw)
        self.confirm(invoice_id, buyer)
        return invoice_id

    def offered(self, financier: str | None = None, min_advance: str = "500.00", offer_days: int = 7, **kw: Any) -> int:
        invoice_id = self.confirmed(**kw)
        self.offer(invoice_id, financier, min_advance, offer_days)
        return invoice_id

    def financed(self, advance: str = "900.00", due: str | None = None, financier: str = "financier", **kw: Any) -> int:
        invoice_id = self.offered(**kw)
        self.finance(invoice_id, advance, due, financier)
        return invoice_id

    def offer_fn(
        self,
        invoice_id: int,
        financier: str | None = None,
        min_advance: int = 50_000,
        expiry: int | None = None,
        recourse: bool = False,
    ) -> Any:
        return self.invoices.functions.offerForFinancing(
            invoice_id,
            self.addr(financier) if financier else ZERO_ADDRESS,
            min_advance,
            self.now() + 7 * DAY if expiry is None else expiry,
            recourse,
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
        recourse: bool = False,
        grace: int | None = None,
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
            recourse,
            inv["gracePeriod"] if grace is None else grace,
        )

    def finance_fn(self, invoice_id: int, advance: int, **kw: Any) -> Any:
        return self.invoices.functions.finance(invoice_id, self.terms(invoice_id, advance, **kw))

    def invoice(self, invoice_id: int) -> dict[str, Any]:
        return dict(zip(INVOICE_FIELDS, self.call(self.invoices.functions.getInvoice(invoice_id)), strict=True))

    def listing(self, invoice_id: int) -> tuple[str, int, int]:
        """(financier, expiry, min advance) of the stored listing (see :meth:`listing_recourse`)."""
        financier, expiry, min_advance, _recourse = self.call(self.invoices.functions.getListing(invoice_id))
        return (financier, int(expiry), int(min_advance))

    def listing_recourse(self, invoice_id: int) -> bool:
        """Whether the stored listing accepts a financing with recourse."""
        return bool(self.call(self.invoices.functions.getListing(invoice_id))[3])

    def owner(self, invoice_id: int) -> str:
        return str(self.invoices.functions.ownerOf(invoice_id).call())

    def invoice_id_of(self, number: str, supplier: str = "supplier") -> int:
        return int(self.call(self.invoices.functions.invoiceIdOf(self.addr(supplier), number)))

    def next_id(self) -> int:
        return int(self.invoices.functions.nextInvoiceId().call())

    # -- multi-tier parts --------------------------------------------------------
    def split_fn(self, invoice_id: int, parts: list[tuple[str, int]], refs: list[bytes] | None = None) -> Any:
        """A raw ``split(invoiceId, parts)``; ``parts`` as (holder account name, minor units)."""
        refs = refs or [ZERO32] * len(parts)
        return self.invoices.functions.split(
            invoice_id, [(self.addr(who), units, ref) for (who, units), ref in zip(parts, refs, strict=True)]
        )

    def split(
        self, invoice_id: int, parts: list[tuple[str, int]], holder: str = "supplier", refs: list[bytes] | None = None
    ) -> list[int]:
        """Split as ``holder``; the new parts' ids (from its PartCreated events)."""
        receipt = self.send(self.split_fn(invoice_id, parts, refs), holder)
        return [int(e["partId"]) for e in self.events(receipt, "PartCreated")]

    def lineage(self, invoice_id: int) -> tuple[int, int, int]:
        parent, root, depth = self.call(self.invoices.functions.getLineage(invoice_id))
        return (int(parent), int(root), int(depth))

    def parts_of(self, root_id: int) -> list[int]:
        return [int(i) for i in self.call(self.invoices.functions.partsOf(root_id))]

    def transfer_ref_fn(self, invoice_id: int, to: str, ref: bytes = ZERO32) -> Any:
        return self.invoices.functions.transferWithReference(invoice_id, self.addr(to), ref)

    def repay_root_fn(self, root_id: int, amount: int) -> Any:
        return self.invoices.functions.repayRoot(root_id, amount)

    def open_amount(self, invoice_id: int) -> int:
        inv = self.invoice(invoice_id)
        return int(inv["amount"] - inv["paid"])

    # -- when things go wrong (contract v4) ----------------------------------------------
    def dispute_fn(self, invoice_id: int, reason: bytes = ZERO32) -> Any:
        return self.invoices.functions.dispute(invoice_id, reason)

    def withdraw_dispute_fn(self, invoice_id: int) -> Any:
        return self.invoices.functions.withdrawDispute(invoice_id)

    def credit_note_fn(self, invoice_id: int, credit: int, note: bytes = ZERO32) -> Any:
        return self.invoices.functions.issueCreditNote(invoice_id, credit, note)

    def propose_fn(self, invoice_id: int, new_due: int) -> Any:
        return self.invoices.functions.proposeExtension(invoice_id, new_due)

    def accept_fn(self, invoice_id: int, new_due: int) -> Any:
        return self.invoices.functions.acceptExtension(invoice_id, new_due)

    def default_fn(self, invoice_id: int) -> Any:
        return self.invoices.functions.declareDefault(invoice_id)

    def write_off_fn(self, invoice_id: int) -> Any:
        return self.invoices.functions.writeOff(invoice_id)

    def buy_back_fn(self, invoice_id: int) -> Any:
        return self.invoices.functions.buyBack(invoice_id)

    def financed_raw(
        self,
        advance: int = 80_000,
        due: int | None = 90_000,
        recourse: bool = False,
        grace: int | None = None,
        financier: str = "financier",
        **kw: Any,
    ) -> int:
        """A confirmed invoice (``confirmed(**kw)``) listed for any financier and financed by a raw
        ``finance`` with these terms (``due`` None: the open amount; ``grace`` None: the deployment's)."""
        invoice_id = self.confirmed(**kw)
        self.send(self.offer_fn(invoice_id, None, 1, recourse=recourse), "supplier")
        self.approve_hkd(financier, advance)
        self.send(self.finance_fn(invoice_id, advance, due=due, recourse=recourse, grace=grace), financier)
        return invoice_id

    def defaultable_after(self, invoice_id: int) -> int:
        """The last second a default is refused: the due date plus the grace period."""
        inv = self.invoice(invoice_id)
        return int(inv["dueDate"] + inv["gracePeriod"])

    def defaulted(self, invoice_id: int, holder: str | None = None) -> Any:
        """Mine a block one second after the grace period (unless later already) and declare
        the default as ``holder`` (default: the token's holder); the receipt."""
        after = self.defaultable_after(invoice_id) + 1
        if self.now() < after:
            self.mine_at(after)
        who = holder or self.name_of(self.owner(invoice_id))
        return self.send(self.default_fn(invoice_id), who)

    def name_of(self, address: str) -> str:
        """The dev-account name of a base-scenario party's address."""
        for name in ("supplier", "supplier2", "buyer", "buyer2", "financier", "financier2", "auditor", "operator"):
            if self.addr(name) == address:
                return name
        raise AssertionError(f"{address} is not a named party")

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


def compile_test_contract(settings: Any, name: str) -> dict[str, Any]:
    """ABI and bytecode of the test contract ``name`` of tests/contracts/ (``name``.sol),
    compiled with the project's compiler and settings and cached by content hash. The
    folder is compiled once for all its contracts (a solc-js run costs seconds)."""
    import os

    import solcx

    from ledger.evm.compiler import build_key, collect_sources, compile_settings, compiler_version, solc_binary

    binary = solc_binary(settings)
    version = compiler_version(binary, settings)
    sources = collect_sources(settings, TEST_CONTRACTS_DIR)
    solc_settings = compile_settings(settings)
    key = build_key(sources, version, solc_settings)
    cache = ARTIFACT_CACHE / f"test-contract-set-{key}.json"
    if cache.exists():
        return dict(json.loads(cache.read_text())[name])
    output = solcx.compile_standard(
        {
            "language": "Solidity",
            "sources": {unit: {"content": text} for unit, text in sources.items()},
            "settings": solc_settings,
        },
        solc_binary=binary,
        base_path=str(TEST_CONTRACTS_DIR.parent),
    )
    # Each test contract X is the contract X of contracts/X.sol (a unit name relative to tests/).
    artifacts = {
        path.stem: {"abi": data["abi"], "bytecode": "0x" + data["evm"]["bytecode"]["object"]}
        for path in TEST_CONTRACTS_DIR.glob("*.sol")
        if (data := output["contracts"].get(f"contracts/{path.name}", {}).get(path.stem))
    }
    ARTIFACT_CACHE.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(artifacts))
    tmp.replace(cache)
    return dict(artifacts[name])


def transfer(net: Net, invoice_id: int, frm: str, to: str) -> Any:
    return net.transfer(invoice_id, frm, to)
