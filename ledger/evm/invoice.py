"""One invoice as the contract holds it: ``IInvoiceToken.getInvoice``'s
struct, unpacked in one place (:meth:`ChainInvoice.from_struct`).

The lifecycle service (:meth:`ledger.lifecycle.Ledger.invoice_state`), the
financing desk's re-check before executing a decision and the indexer's
``verify`` all read an invoice through this type. No web3 import: the
struct comes decoded, from web3 or from ``ledger.evm.abi``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.format import someone
from ledger.names import InvoiceStatus, status_name

#: The struct's components, in ABI order (``IInvoiceToken.Invoice``; a test checks them against the ABI).
STRUCT_FIELDS = (
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
    "recourse",
    "gracePeriod",
    "disputedFrom",
    "proposedDueDate",
)


@dataclass(frozen=True)
class ChainInvoice:
    """``getInvoice`` of one invoice: amounts in minor units, ``due_ts`` unix
    seconds, ``status`` the contract's value (see :class:`InvoiceStatus`),
    ``seller`` None while it was never financed. Addresses as the node
    returned them."""

    supplier: str
    buyer: str
    currency: str
    due_ts: int
    status: int
    amount: int
    paid: int
    seller: str | None
    financier_due: int
    financier_paid: int
    #: Contract v4: the financing's recourse; the grace period in seconds (the
    #: financing's, else the deployment's); the status a dispute interrupted
    #: (0 when not disputed); a proposed due date (unix seconds, 0 for none).
    recourse: bool = False
    grace_period: int = 0
    disputed_from: int = 0
    proposed_due_ts: int = 0

    @classmethod
    def from_struct(cls, struct: Sequence[Any]) -> ChainInvoice:
        """From the decoded tuple, in :data:`STRUCT_FIELDS` order."""
        (supplier, buyer, currency, due, status, amount, paid, seller, financier_due, financier_paid) = struct[:10]
        recourse, grace, disputed_from, proposed = struct[10:14]
        return cls(
            supplier=str(supplier),
            buyer=str(buyer),
            currency=str(currency),
            due_ts=int(due),
            status=int(status),
            amount=int(amount),
            paid=int(paid),
            seller=someone(str(seller)),
            financier_due=int(financier_due),
            financier_paid=int(financier_paid),
            recourse=bool(recourse),
            grace_period=int(grace),
            disputed_from=int(disputed_from),
            proposed_due_ts=int(proposed),
        )

    @property
    def status_name(self) -> str:
        """The status as the ledger names it (``"PartiallyPaid"``); an unknown value as its number."""
        return status_name(self.status)

    @property
    def cancelled(self) -> bool:
        return self.status == InvoiceStatus.CANCELLED

    @property
    def split(self) -> bool:
        """Closed by a split (contract v3): its open amount lives in its parts."""
        return self.status == InvoiceStatus.SPLIT

    @property
    def financed(self) -> bool:
        """Financed once, ever (a seller is recorded)."""
        return self.seller is not None

    @property
    def outstanding(self) -> int:
        """What the buyer still owes on this receivable itself: 0 once it is
        split (``amount`` and ``paid`` stay as they were; its open amount moved
        to its parts), as the ledger's projection keeps it."""
        return 0 if self.split else self.amount - self.paid

    @property
    def defaultable_after(self) -> int:
        """Unix time after which the holder may declare a default (due date plus grace)."""
        return self.due_ts + self.grace_period

    def holder_claim(self, holder: str | None) -> int:
        """What of the open amount is owed to ``holder``: all of it unless a
        financier (not the seller) holds it, which is owed the rest of its due
        (``ReceivableRules.holderClaim``)."""
        if self.seller is None or self.seller == holder:
            return self.outstanding
        return self.financier_open

    @property
    def financier_open(self) -> int:
        """What the holder of a financed invoice is still due."""
        return self.financier_due - self.financier_paid

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (``status`` as its int value)."""
        return {
            "supplier": self.supplier,
            "buyer": self.buyer,
            "currency": self.currency,
            "due_ts": self.due_ts,
            "status": self.status,
            "amount": self.amount,
            "paid": self.paid,
            "seller": self.seller,
            "financier_due": self.financier_due,
            "financier_paid": self.financier_paid,
            "recourse": self.recourse,
            "grace_period": self.grace_period,
            "disputed_from": self.disputed_from,
            "proposed_due_ts": self.proposed_due_ts,
        }
