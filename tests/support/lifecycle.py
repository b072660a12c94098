"""The one lifecycle driver the test modules share: parties by dev-account name
and the invoice lifecycle on chain (issue, confirm, offer, finance, repay,
transfer), each step one call of ``ledger.lifecycle.Ledger``.

The drivers of the test families build on it rather than repeat it:
``support.contracts.Net`` (contract rules), ``support.finance.Book`` (financing
decisions), ``support.indexer.Actions`` (indexer activity) and
``support.scenario.built_scenario`` (the small indexed ledger)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def travel(w3: Any, seconds: int) -> int:
    """Mine a block ``seconds`` after "now" as decisions see it: the later of
    the last block's time and the wall clock (the session chain can lag the
    wall clock after evm_revert). Returns the new block's timestamp."""
    latest = int(w3.eth.get_block("latest")["timestamp"])
    target = max(latest, int(time.time()) + 1) + seconds
    w3.provider.make_request("evm_setNextBlockTimestamp", [target])
    w3.provider.make_request("evm_mine", [])
    return target


class Lifecycle:
    """A ledger binding and the dev accounts (``acct("supplier")``)."""

    def __init__(self, ledger: Any, acct: Callable[[str], Any]) -> None:
        self.ledger = ledger
        self.acct = acct

    # -- parties and money -------------------------------------------------------------
    def addr(self, name: str) -> str:
        return str(self.acct(name).address)

    def balance(self, name: str, token: Any = None) -> int:
        """``name``'s balance in minor units of ``token`` (default: the HKD token)."""
        token = token or self.ledger.token(self.ledger.deployment.currency("HKD"))
        return int(token.functions.balanceOf(self.addr(name)).call())

    # -- the lifecycle, one Ledger call a step --------------------------------------------
    def issue_invoice(
        self,
        number: str,
        amount: str,
        due: dt.date,
        supplier: str = "supplier",
        buyer: str = "buyer",
        document: Path | None = None,
    ) -> Any:
        """Issue in HKD as ``supplier`` (an account name); ``buyer`` is any party
        reference the Ledger resolves. Returns the Ledger's result."""
        return self.ledger.issue(self.acct(supplier), buyer, number, amount, "HKD", due, document)

    def confirm(self, invoice_id: int, buyer: str = "buyer") -> Any:
        return self.ledger.confirm(self.acct(buyer), invoice_id)

    def cancel(self, invoice_id: int, supplier: str = "supplier") -> Any:
        return self.ledger.cancel(self.acct(supplier), invoice_id)

    def offer(
        self,
        invoice_id: int,
        financier: str | None,
        min_advance: str,
        days: int = 7,
        holder: str = "supplier",
        recourse: bool = False,
    ) -> Any:
        """List for ``financier`` (any party reference; None: any financier), accepting
        recourse if ``recourse``."""
        return self.ledger.offer(self.acct(holder), invoice_id, financier, min_advance, days, recourse)

    def finance(self, invoice_id: int, advance: str, due: str | None = None, financier: str = "financier") -> Any:
        return self.ledger.finance(self.acct(financier), invoice_id, advance=advance, due=due)

    def repay(self, invoice_id: int, amount: str, buyer: str = "buyer") -> Any:
        return self.ledger.repay(self.acct(buyer), invoice_id, amount)

    def transfer(self, invoice_id: int, frm: str, to: str) -> Any:
        """ERC-721 ``transferFrom`` by the holder ``frm`` to ``to`` (account names)."""
        fn = self.ledger.invoices.functions.transferFrom(self.addr(frm), self.addr(to), invoice_id)
        return self.ledger.sender.transact(fn, self.acct(frm))

    def travel(self, seconds: int) -> int:
        return travel(self.ledger.w3, seconds)
