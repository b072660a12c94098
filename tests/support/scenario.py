"""A small ledger built on the session chain, shared by the database test
modules (queries, verify): four invoices in four states, indexed into a fresh
database of each backend per test."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

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
    lg = Ledger(session_env.settings, w3, base_deployment)

    def acct(name: str) -> Any:
        return dev_account(DEV_NAMES.index(name))

    try:
        issued = lg.issue(acct("supplier"), BUYER, "INV-Q-1", "125000.00", "HKD", dt.date(2099, 1, 31))["block"]
        confirmed = lg.confirm(acct("buyer"), 1)["block"]
        lg.issue(acct("supplier"), BUYER2, "INV-Q-2", "80000.00", "HKD", dt.date(2098, 6, 30))
        lg.confirm(acct("buyer2"), 2)
        lg.issue(acct("supplier2"), BUYER, "INV-Q-3", "5000.00", "HKD", dt.date(2099, 3, 1))
        lg.cancel(acct("supplier2"), 3)
        lg.offer(acct("supplier"), 1, FINANCIER, "100000", 7)
        # The financier is due 118,750.00 of the buyer's payments; 6,250.00 is the seller's reserve.
        financed = lg.finance(acct("financier"), 1, advance="112500.00", due="118750.00")["block"]
        lg.issue(acct("supplier"), BUYER, "INV-Q-4", "1000.00", "HKD", dt.date(2097, 12, 31))
        lg.confirm(acct("buyer"), 4)
        lg.repay(acct("buyer"), 4, "1000.00")
        repaid = lg.repay(acct("buyer"), 1, "25000.10")["block"]
        yield Scenario(issued, confirmed, financed, repaid, int(w3.eth.block_number))
    finally:
        w3.provider.make_request("evm_revert", [snapshot])


def index(settings: Any) -> Any:
    """Run the indexer once, as `scf index sync` does."""
    from ledger.indexer import sync

    return sync(settings)


def travel(w3: Any, seconds: int) -> int:
    """Mine a block ``seconds`` after "now" as decisions see it: the later of
    the last block's time and the wall clock (the session chain can lag the
    wall clock after evm_revert). Returns the new block's timestamp."""
    import time

    latest = int(w3.eth.get_block("latest")["timestamp"])
    target = max(latest, int(time.time()) + 1) + seconds
    w3.provider.make_request("evm_setNextBlockTimestamp", [target])
    w3.provider.make_request("evm_mine", [])
    return target
