"""A small ledger built on the session chain, shared by the database test
modules (queries, verify, finance decisions): four invoices in four states,
indexed into a fresh database of each backend per test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from support.lifecycle import Lifecycle

SUPPLIER = "Kowloon Precision Parts Ltd"
SUPPLIER2 = "Sham Shui Po Textiles Ltd"
BUYER = "Tsuen Wan Electronics Ltd"
BUYER2 = "Kwai Chung Logistics Ltd"
FINANCIER = "Harbour Trade Finance Ltd"


@dataclass
class Scenario:
    """Blocks at which invoice 1 changed, and the last block of the scenario."""

    issued: int
    confirmed: int
    financed: int
    repaid: int
    end: int


@contextmanager
def built_scenario(session_env: Any, base_deployment: Any) -> Iterator[Scenario]:
    """1 financed (with a reserve of 6,250.00) and partly repaid, 2 confirmed,
    3 cancelled, 4 paid in full;
    the chain is reverted to where it was afterwards."""
    from ledger.evm.accounts import DEV_NAMES, dev_account
    from ledger.evm.chain import connect
    from ledger.lifecycle import Ledger

    w3 = connect(session_env.rpc_url)
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    book = Lifecycle(Ledger(session_env.settings, w3, base_deployment), lambda name: dev_account(DEV_NAMES.index(name)))
    try:
        issued = book.issue_invoice("INV-Q-1", "125000.00", dt.date(2099, 1, 31), buyer=BUYER)["block"]
        confirmed = book.confirm(1)["block"]
        book.issue_invoice("INV-Q-2", "80000.00", dt.date(2098, 6, 30), buyer=BUYER2)
        book.confirm(2, buyer="buyer2")
        book.issue_invoice("INV-Q-3", "5000.00", dt.date(2099, 3, 1), supplier="supplier2", buyer=BUYER)
        book.cancel(3, supplier="supplier2")
        book.offer(1, FINANCIER, "100000", 7)
        # The financier is due 118,750.00 of the buyer's payments; 6,250.00 is the seller's reserve.
        financed = book.finance(1, advance="112500.00", due="118750.00")["block"]
        book.issue_invoice("INV-Q-4", "1000.00", dt.date(2097, 12, 31), buyer=BUYER)
        book.confirm(4)
        book.repay(4, "1000.00")
        repaid = book.repay(1, "25000.10")["block"]
        yield Scenario(issued, confirmed, financed, repaid, int(w3.eth.block_number))
    finally:
        w3.provider.make_request("evm_revert", [snapshot])


def index(settings: Any) -> Any:
    """Run the indexer once, as `scf index sync` does."""
    from ledger.indexer import sync

    return sync(settings)


def split_invoice_2(ledger: Any, acct: Any) -> int:
    """Invoice 2 of the scenario split into 48,250.50 kept by the supplier,
    20,000.00 to Sham Shui Po Textiles (ref PO-7781; financed: advance
    19,000.00, due 19,500.00) and 11,749.50 to Sham Shui Po, passed back to the
    supplier (ref INV-T2-9); then 30,000.00 paid across the leaves. Returns the
    first part's id (the others follow it)."""
    supplier, supplier2 = acct("supplier"), acct("supplier2")
    first = int(ledger.invoices.functions.nextInvoiceId().call())
    ledger.split(
        supplier,
        2,
        [
            (supplier.address, "48250.50", None),
            (supplier2.address, "20000.00", "PO-7781"),
            (supplier2.address, "11749.50", None),
        ],
    )
    ledger.transfer_receivable(supplier2, first + 2, supplier.address, "INV-T2-9")
    ledger.offer(supplier2, first + 1, "financier", "18000", 7)
    ledger.finance(acct("financier"), first + 1, advance="19000.00", due="19500.00")
    ledger.repay(acct("buyer2"), 2, "30000.00")
    return first
