#!/usr/bin/env python3
"""Gas used per lifecycle step, on a fresh Anvil that this script starts and
stops, next to a plain OpenZeppelin ERC-721 mint measured in the same run.

Prints one line per figure: gas_erc721_mint (a plain ERC-721 mint to an owner
that already holds a token: the yardstick), gas_issue (to a supplier that
already holds an invoice, with a document hash), issue_vs_mint (their ratio;
target at most 2.75), then confirm, offer, approve (the financier's one-off
ERC-20 approval), finance, repay_partial (all to the financier), repay (the
last payment: the financier's rest and the seller's reserve), the first issue
of a supplier, then the multi-tier steps of contract v3: split into 2 and into
5 parts (each with its gas per part, and the marginal gas of one more part),
transferWithReference of a part, repayRoot across 5 leaves, then the
transitions of contract v4 (when things go wrong): dispute, withdrawDispute,
proposeExtension, acceptExtension, a credit note the reserve absorbs and one
the seller pays the financier for, declareDefault, writeOff, buyBack (drawn on
the seller's allowance), a recovery after a buy-back (all to the seller) and
after a write-off, setGracePeriod; then the intake of contract v5: issueBatch of
100 invoices, confirmBatch of 100 and confirmWithSignatures of 100 (each with
its gas per invoice), one signed confirmation; and the deployments (the
libraries included).
Run: .venv/bin/python scripts/gas.py
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from web3.logs import DISCARD  # noqa: E402

from ledger.config import load_settings  # noqa: E402
from ledger.evm.accounts import DEV_NAMES, dev_account  # noqa: E402
from ledger.evm.chain import connect  # noqa: E402
from ledger.evm.compiler import compile_contracts  # noqa: E402
from ledger.evm.deploy import deploy  # noqa: E402
from ledger.evm.node import spawn_anvil  # noqa: E402
from ledger.lifecycle import Ledger, parse_roles  # noqa: E402

#: Compiled artifacts shared with the test runs (tests/conftest.py's ARTIFACT_CACHE).
CACHE = ROOT / ".pytest_cache" / "scf-artifacts"
#: Target of the receivables v2 issue: issue at most this many plain mints.
ISSUE_TARGET = 2.75


def _plain_mint_gas(ledger: Ledger, settings: object, signer: object) -> int:
    """Gas of a plain ERC-721 mint to an owner that already holds one token."""
    build, _ = compile_contracts(
        settings,
        contracts_dir=ROOT / "scripts" / "contracts",  # type: ignore[arg-type]
        required=("PlainERC721",),
    )
    artifact = build.artifact("PlainERC721")
    factory = ledger.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = ledger.sender.transact(factory.constructor(), signer)  # type: ignore[arg-type]
    plain = ledger.w3.eth.contract(address=receipt["contractAddress"], abi=artifact.abi)
    owner = dev_account(DEV_NAMES.index("dev8")).address
    ledger.sender.transact(plain.functions.mint(owner, 1), signer)  # type: ignore[arg-type]
    return int(ledger.sender.transact(plain.functions.mint(owner, 2), signer)["gasUsed"])  # type: ignore[arg-type]


def _multi_tier(ledger: Ledger, acct: object, due: dt.date) -> None:
    """Split into 2 and into 5 parts, a transfer with a reference, and a repayment across 5 leaves."""
    a = acct  # type: ignore[assignment]
    gas: dict[int, int] = {}
    roots: dict[int, int] = {}
    for n in (2, 5):
        root = ledger.issue(a("supplier"), "buyer", f"INV-GAS-SPLIT-{n}", "125000.00", "HKD", due)["invoice_id"]
        ledger.confirm(a("buyer"), root)
        each = f"{125000 / n:.2f}"
        holders = ["supplier2" if i % 2 else "supplier" for i in range(n)]
        parts = [(h, each, f"PO-T2-{i}" if h == "supplier2" else None) for i, h in enumerate(holders)]
        gas[n] = int(ledger.split(a("supplier"), root, parts)["gas_used"])
        roots[n] = root
        print(f"gas_split_{n}={gas[n]} ({gas[n] // n} per part)")
    print(f"gas_split_marginal_part={(gas[5] - gas[2]) // 3}")
    part = ledger.parts_of(roots[2])[0]
    moved = ledger.transfer_receivable(a("supplier"), part, "Supplier2", "INV-T2-0042")
    print(f"gas_transfer_with_reference={moved['gas_used']}")
    paid = ledger.repay(a("buyer"), roots[5], "125000.00")
    print(f"gas_repay_root_5_leaves={paid['gas_used']} ({len(paid['leaves'])} leaves)")


def _remedies(ledger: Ledger, acct: object, due: dt.date) -> None:
    """Gas of the v4 transitions, raw contract calls on financed receivables (125,000.00
    face, 110,000.00 advance, 112,500.00 due to the financier: 12,500.00 reserve)."""
    a = acct  # type: ignore[assignment]
    f = ledger.invoices.functions

    def gas(fn: object, who: str) -> int:
        return int(ledger.sender.transact(fn, a(who))["gasUsed"])  # type: ignore[operator]

    def financed(number: str, recourse: bool) -> int:
        invoice_id = int(ledger.issue(a("supplier"), "buyer", number, "125000.00", "HKD", due)["invoice_id"])
        ledger.confirm(a("buyer"), invoice_id)
        ledger.offer(a("supplier"), invoice_id, "financier", "100000", 7, recourse)
        ledger.finance(a("financier"), invoice_id, advance="110000.00", due="112500.00", recourse=recourse)
        return invoice_id

    ledger.mint(a("operator"), a("supplier").address, "1000000", "HKD")
    token = ledger.token(ledger.deployment.currency("HKD"))
    ledger.sender.transact(token.functions.approve(ledger.invoices.address, 2**256 - 1), a("supplier"))
    disputed = financed("INV-GAS-DISPUTE", recourse=False)
    reason, note, note2 = (bytes([n]) * 32 for n in (0x11, 0x22, 0x33))
    print(f"gas_dispute={gas(f.dispute(disputed, reason), 'buyer')}")
    print(f"gas_withdraw_dispute={gas(f.withdrawDispute(disputed), 'buyer')}")
    new_due = int(f.getInvoice(disputed).call()[3]) + 30 * 86_400
    print(f"gas_propose_extension={gas(f.proposeExtension(disputed, new_due), 'buyer')}")
    print(f"gas_accept_extension={gas(f.acceptExtension(disputed, new_due), 'financier')}")
    # 5,000.00 of credit: the open 120,000.00 still covers the 112,500.00 due; the seller pays nothing.
    print(f"gas_credit_note_absorbed={gas(f.issueCreditNote(disputed, 500_000, note), 'supplier')}")
    # 20,000.00 more: the open 100,000.00 covers 100,000.00 of it; the seller pays the financier 12,500.00.
    print(f"gas_credit_note_seller_pays={gas(f.issueCreditNote(disputed, 2_000_000, note2), 'supplier')}")
    recourse = financed("INV-GAS-RECOURSE", recourse=True)
    written = financed("INV-GAS-WRITE-OFF", recourse=False)
    invoice = f.getInvoice(recourse).call()
    after = int(invoice[3]) + int(invoice[11]) + 1  # dueDate + gracePeriod + 1
    ledger.w3.provider.make_request("evm_setNextBlockTimestamp", [after])  # type: ignore[arg-type]
    ledger.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    print(f"gas_declare_default={gas(f.declareDefault(recourse), 'financier')}")
    gas(f.declareDefault(written), "financier")
    print(f"gas_write_off={gas(f.writeOff(written), 'financier')}")
    print(f"gas_buy_back={gas(f.buyBack(recourse), 'financier')}")
    print(f"gas_repay_after_buy_back={gas(f.repay(recourse, 5_000_000), 'buyer')}")
    print(f"gas_repay_after_write_off={gas(f.repay(written, 5_000_000), 'buyer')}")
    print(f"gas_set_grace_period={gas(f.setGracePeriod(3 * 86_400), 'operator')}")


def _intake(ledger: Ledger, acct: object, due: dt.date, n: int = 100) -> None:
    """Gas of contract v5's batches: n invoices issued, confirmed, signed and confirmed."""
    from ledger.business_time import business_date, due_timestamp
    from ledger.evm.confirmations import Confirmation, Domain, sign

    a = acct  # type: ignore[assignment]
    f = ledger.invoices.functions
    buyer, currency = a("buyer").address, ledger.deployment.currency("HKD").address  # type: ignore[operator]
    # The remedies above moved the chain's clock past `due`.
    due_ts = due_timestamp(max(due, business_date(ledger.chain_time()) + dt.timedelta(days=60)))

    def batch(prefix: str) -> list[int]:
        requests = [(buyer, f"{prefix}-{i}", 100_000 + i, currency, due_ts, b"\0" * 32) for i in range(n)]
        receipt = ledger.sender.transact(f.issueBatch(requests), a("supplier"))  # type: ignore[operator]
        first = ledger.invoices.events.InvoiceIssued().process_receipt(receipt, errors=DISCARD)[0]["args"]["invoiceId"]
        if prefix == "BATCH":
            print(f"gas_issue_batch_{n}={receipt['gasUsed']} ({receipt['gasUsed'] // n} per invoice)")
        return list(range(first, first + n))

    ids = batch("BATCH")
    receipt = ledger.sender.transact(f.confirmBatch(ids), a("buyer"))  # type: ignore[operator]
    print(f"gas_confirm_batch_{n}={receipt['gasUsed']} ({receipt['gasUsed'] // n} per invoice)")
    batch("SIGNED")
    domain = Domain(ledger.sender.chain_id, ledger.invoices.address)
    deadline = ledger.chain_time() + 86_400
    confs = [Confirmation(buyer, a("supplier").address, f"SIGNED-{i}", currency, 100_000 + i, due_ts, i, deadline)  # type: ignore[operator]
             for i in range(n)]  # fmt: skip
    signed = [c.signed(sign(a("buyer"), domain, c)) for c in confs]  # type: ignore[operator]
    one = ledger.sender.transact(f.confirmWithSignatures(signed[:1]), a("financier"))  # type: ignore[operator]
    print(f"gas_confirm_signed_1={one['gasUsed']}")
    receipt = ledger.sender.transact(f.confirmWithSignatures(signed[1:n]), a("financier"))  # type: ignore[operator]
    print(f"gas_confirm_signed_{n - 1}={receipt['gasUsed']} ({receipt['gasUsed'] // (n - 1)} per invoice)")


def _keep_artifacts(artifacts: Path) -> None:
    """Add this run's compiled artifacts to the shared cache (written aside, then renamed)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    for f in artifacts.glob("*.json"):
        if not (CACHE / f.name).exists():
            shutil.copy(f, CACHE / f"{f.name}.{os.getpid()}")
            os.replace(CACHE / f"{f.name}.{os.getpid()}", CACHE / f.name)


def main() -> None:
    acct = lambda name: dev_account(DEV_NAMES.index(name))  # noqa: E731
    with tempfile.TemporaryDirectory() as home:
        # The test runs' compiled artifacts (keyed by content hash, so safe to share): solc-js
        # compiling the contracts and the plain ERC-721 again took 25 s of a 30 s run.
        if CACHE.is_dir():
            shutil.copytree(CACHE, Path(home) / "artifacts")
        anvil = spawn_anvil(ROOT / "node_modules")
        try:
            settings = load_settings(home=home, rpc_url=anvil.url)
            build, _ = compile_contracts(settings)
            w3 = connect(anvil.url)
            deployment = deploy(settings, w3, build, acct("operator"))
            ledger = Ledger(settings, w3, deployment)
            mint = _plain_mint_gas(ledger, settings, acct("operator"))
            _keep_artifacts(settings.artifacts_dir)
            until = dt.date.today() + dt.timedelta(days=365)
            for who in ("supplier", "supplier2", "buyer", "financier"):
                roles = parse_roles(who.rstrip("2"))
                ledger.add_participant(acct("operator"), who.title(), acct(who).address, roles, until)
            ledger.mint(acct("operator"), acct("financier").address, "1000000", "HKD")
            ledger.mint(acct("operator"), acct("buyer").address, "1000000", "HKD")
            due = dt.date.today() + dt.timedelta(days=60)
            document = Path(home) / "INV-GAS.txt"
            document.write_text("Purchase order 4471: 5,000 precision bearings\n")
            first = ledger.issue(acct("supplier"), "buyer", "INV-GAS-0", "125000.00", "HKD", due, document)
            issued = ledger.issue(acct("supplier"), "buyer", "INV-GAS-1", "125000.00", "HKD", due, document)
            invoice_id = issued["invoice_id"]
            print(f"gas_erc721_mint={mint}")
            print(f"gas_issue={issued['gas_used']}")
            print(f"issue_vs_mint={issued['gas_used'] / mint:.2f} (target <= {ISSUE_TARGET})")
            print(f"gas_confirm={ledger.confirm(acct('buyer'), invoice_id)['gas_used']}")
            print(f"gas_offer={ledger.offer(acct('supplier'), invoice_id, 'financier', '100000', 7)['gas_used']}")
            token = ledger.token(deployment.currency("HKD"))
            approve = ledger.sender.transact(
                token.functions.approve(ledger.invoices.address, 2**256 - 1), acct("financier")
            )
            print(f"gas_approve={approve['gasUsed']}")
            financed = ledger.finance(acct("financier"), invoice_id, advance="110000.00", due="112500.00")
            print(f"gas_finance={financed['gas_used']}")
            ledger.sender.transact(token.functions.approve(ledger.invoices.address, 2**256 - 1), acct("buyer"))
            print(f"gas_repay_partial={ledger.repay(acct('buyer'), invoice_id, '25000.00')['gas_used']}")
            print(f"gas_repay={ledger.repay(acct('buyer'), invoice_id, '100000.00')['gas_used']}")
            print(f"gas_issue_first_of_supplier={first['gas_used']}")
            _multi_tier(ledger, acct, due)
            _remedies(ledger, acct, due)
            _intake(ledger, acct, due)
            for name, contract in deployment.contracts.items():
                receipt = w3.eth.get_transaction_receipt(contract.tx_hash)
                print(f"gas_deploy_{name.split(':')[0]}={receipt['gasUsed']}")
        finally:
            anvil.stop()


if __name__ == "__main__":
    main()
