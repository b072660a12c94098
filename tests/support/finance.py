"""The financing-decisions driver of ``tests/finance/``: ``Book`` (built on
``support.lifecycle``), the example policy, and a tight variant of it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from ledger.business_time import business_date
from ledger.config import REPO_ROOT
from ledger.finance.policy import Policy, load_policy, parse_policy
from ledger.money import from_minor_units
from support.lifecycle import Lifecycle

EXAMPLE = REPO_ROOT / "examples" / "policy.toml"
POLICY = load_policy(EXAMPLE)
BUYER_NAME = "Tsuen Wan Electronics Ltd"
SUPPLIER_NAME = "Kowloon Precision Parts Ltd"


def tight_policy(buyer_line: str = "150000.00") -> Policy:
    """The example policy with a small credit line for the test buyer."""
    text = EXAMPLE.read_text().replace(
        '"Tsuen Wan Electronics Ltd" = "8000000.00"', f'"Tsuen Wan Electronics Ltd" = "{buyer_line}"'
    )
    return parse_policy(text, "tight.toml")


class Book(Lifecycle):
    """Drives the lifecycle on chain for a test (``Book(ledger, acct)``)."""

    def today(self) -> dt.date:
        return business_date(self.ledger.chain_time())

    def issue(
        self,
        amount: str = "100000.00",
        days: int = 60,
        supplier: str = "supplier",
        buyer: str = "buyer",
        confirm: bool = True,
        offer: bool = True,
        to: str | None = None,
        ask: str = "10000.00",
    ) -> int:
        """Issue (and confirm, and list for ``to`` or any financier, asking ``ask``) an invoice."""
        due = self.today() + dt.timedelta(days=days)
        r = self.issue_invoice(f"INV-{uuid.uuid4().hex[:10]}", amount, due, supplier, buyer)
        invoice_id = int(r["invoice_id"])
        if confirm:
            self.confirm(invoice_id, buyer)
        if offer:
            self.offer(invoice_id, to, ask, 7, holder=supplier)
        return invoice_id

    def onchain(self, invoice_id: int) -> dict[str, Any]:
        """getInvoice, with the holder."""
        return {**self.ledger.invoice_state(invoice_id).as_dict(), "holder": self.ledger.holder_of(invoice_id)}

    def units(self, who: str) -> int:
        return self.balance(who)


def hkd(units: int) -> str:
    return str(from_minor_units(units, 2))
