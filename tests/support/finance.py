"""The financing-decisions driver of ``tests/finance/``: ``Book`` (built on
``support.lifecycle``), the example policy, and a tight variant of it; and
issue 14's story (:func:`remedies_story`: defaults, a buy-back, disputes, a
credit note, an extension) for the decision and report tests."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
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
        recourse: bool = False,
    ) -> int:
        """Issue (and confirm, and list for ``to`` or any financier, asking ``ask``, accepting
        recourse if ``recourse``) an invoice."""
        due = self.today() + dt.timedelta(days=days)
        r = self.issue_invoice(f"INV-{uuid.uuid4().hex[:10]}", amount, due, supplier, buyer)
        invoice_id = int(r["invoice_id"])
        if confirm:
            self.confirm(invoice_id, buyer)
        if offer:
            self.offer(invoice_id, to, ask, 7, holder=supplier, recourse=recourse)
        return invoice_id

    def onchain(self, invoice_id: int) -> dict[str, Any]:
        """getInvoice, with the holder."""
        return {**self.ledger.invoice_state(invoice_id).as_dict(), "holder": self.ledger.holder_of(invoice_id)}

    def units(self, who: str) -> int:
        return self.balance(who)


def hkd(units: int) -> str:
    return str(from_minor_units(units, 2))


# -- when things go wrong (issue 14) ---------------------------------------------------------------
DAY = 86_400


@dataclass
class Story:
    """The invoices of the scenario and the business days things happened on."""

    x1: int  # 100,000.00 financed 80,000.00 / due 90,000.00 without recourse: defaulted, written off, recovered
    x2: int  # 50,000.00 financed 40,000.00 / due 45,000.00 with recourse: part paid, defaulted, bought back
    x3: int  # 40,000.00 financed 30,000.00 / due 36,000.00: disputed, credit note 10,000.00, paid
    x4: int  # 20,000.00 unfinanced: disputed, withdrawn; extended by 10 days
    x5: int  # 10,000.00 unfinanced: disputed, still open
    start: dt.date  # the day of the financings, payments, disputes and the credit note
    due: dt.date  # x1's and x2's due date
    later: dt.date  # the day of the defaults, the write-off, the buy-back and the late payments


def remedies_story(book: Book, acct: Any, desk: Any) -> Story:
    """Issue 14's story on chain, indexed by ``desk``: see :class:`Story` (figures in
    ``tests/finance/test_finance_remedies.py``)."""
    ledger = book.ledger
    financier, supplier, buyer = acct("financier"), acct("supplier"), acct("buyer")
    x1 = book.issue("100000.00", days=30)
    x2 = book.issue("50000.00", days=30, recourse=True)  # the seller accepts recourse in its listing
    x3 = book.issue("40000.00", days=60)
    x4 = book.issue("20000.00", days=60, offer=False)
    x5 = book.issue("10000.00", days=60, offer=False)
    start = book.today()
    ledger.finance(financier, x1, advance="80000.00", due="90000.00")
    ledger.finance(financier, x2, advance="40000.00", due="45000.00", recourse=True)
    ledger.finance(financier, x3, advance="30000.00", due="36000.00")
    ledger.repay(buyer, x2, "15000.00")  # all to the financier (due 45,000.00): it is owed 30,000.00 more
    # x3: disputed while financed; the seller credits 10,000.00: open 40,000.00 -> 30,000.00, below the
    # financier's 36,000.00 due, so the seller pays it 36,000.00 - 30,000.00 = 6,000.00 in the same transaction.
    ledger.dispute(buyer, x3, "short delivery: 25 of 100 cartons missing")
    note = ledger.credit_note(supplier, x3, "10000.00", "CN-0001")
    assert (note["to_holder"], note["outstanding"], note["status"]) == ("6000.00", "30000.00", "Financed")
    ledger.repay(buyer, x3, "30000.00")  # the financier's remaining 30,000.00; the reserve (4,000.00) was diluted
    ledger.dispute(buyer, x4, "wrong colour")
    ledger.withdraw_dispute(buyer, x4)
    ledger.propose_extension(buyer, x4, start + dt.timedelta(days=70))
    ledger.accept_extension(supplier, x4)
    ledger.dispute(buyer, x5, "not ordered")
    # 39 days on: past x1's and x2's due date (day 30) plus the 7 days of grace.
    book.travel(39 * DAY)
    later = book.today()
    assert ledger.declare_default(financier, x1)["holder_claim"] == "90000.00"
    assert ledger.declare_default(financier, x2)["holder_claim"] == "30000.00"
    assert ledger.write_off(financier, x1)["written_off"] == "90000.00"
    ledger.repay(buyer, x1, "20000.00")  # a recovery: all to the financier (its due first)
    assert ledger.buy_back(supplier, x2)["amount"] == "30000.00"
    ledger.repay(buyer, x2, "35000.00")  # after the buy-back all to the seller: x2 is paid
    desk.sync()
    return Story(x1, x2, x3, x4, x5, start, start + dt.timedelta(days=30), later)
