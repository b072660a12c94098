#!/usr/bin/env python3
"""Gas used per lifecycle step, on a fresh Anvil that this script starts and stops.

Prints one line per step (gas_issue=N, gas_confirm=N, gas_offer=N,
gas_finance=N, gas_repay_partial=N, gas_repay=N) plus the deployments. The
finance figure is the financing transaction alone; the financier's one-off
ERC-20 approval is printed as gas_approve. Run: .venv/bin/python scripts/gas.py
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.accounts import DEV_NAMES, dev_account  # noqa: E402
from ledger.chain import connect  # noqa: E402
from ledger.compiler import compile_contracts  # noqa: E402
from ledger.config import load_settings  # noqa: E402
from ledger.deploy import deploy  # noqa: E402
from ledger.lifecycle import Ledger, parse_roles  # noqa: E402
from ledger.node import spawn_anvil  # noqa: E402


def main() -> None:
    acct = lambda name: dev_account(DEV_NAMES.index(name))  # noqa: E731
    with tempfile.TemporaryDirectory() as home:
        anvil = spawn_anvil(ROOT / "node_modules")
        try:
            settings = load_settings(home=home, rpc_url=anvil.url)
            build, _ = compile_contracts(settings)
            w3 = connect(anvil.url)
            deployment = deploy(settings, w3, build, acct("operator"))
            for name, contract in deployment.contracts.items():
                receipt = w3.eth.get_transaction_receipt(contract.tx_hash)
                print(f"gas_deploy_{name.split(':')[0]}={receipt['gasUsed']}")
            ledger = Ledger(settings, w3, deployment)
            until = dt.date.today() + dt.timedelta(days=365)
            for who in ("supplier", "buyer", "financier"):
                ledger.add_participant(acct("operator"), who.title(), acct(who).address, parse_roles(who), until)
            ledger.mint(acct("operator"), acct("financier").address, "1000000", "HKD")
            ledger.mint(acct("operator"), acct("buyer").address, "1000000", "HKD")
            due = dt.date.today() + dt.timedelta(days=60)
            issued = ledger.issue(acct("supplier"), "buyer", "INV-GAS-1", "125000.00", "HKD", due)
            invoice_id = issued["invoice_id"]
            print(f"gas_issue={issued['gas_used']}")
            print(f"gas_confirm={ledger.confirm(acct('buyer'), invoice_id)['gas_used']}")
            print(f"gas_offer={ledger.offer(acct('supplier'), invoice_id, 'financier', '100000', 7)['gas_used']}")
            token = ledger.token(deployment.currency("HKD"))
            approve = ledger.sender.transact(
                token.functions.approve(ledger.invoices.address, 2**256 - 1), acct("financier")
            )
            print(f"gas_approve={approve['gasUsed']}")
            print(f"gas_finance={ledger.finance(acct('financier'), invoice_id, advance='112500.00')['gas_used']}")
            ledger.sender.transact(token.functions.approve(ledger.invoices.address, 2**256 - 1), acct("buyer"))
            print(f"gas_repay_partial={ledger.repay(acct('buyer'), invoice_id, '25000.00')['gas_used']}")
            print(f"gas_repay={ledger.repay(acct('buyer'), invoice_id, '100000.00')['gas_used']}")
        finally:
            anvil.stop()


if __name__ == "__main__":
    main()
