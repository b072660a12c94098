"""The facts a financing decision looks at (an invoice, its parties, the
financier's exposure) and the result of one rule, as plain frozen data. The
rules themselves: :mod:`ledger.finance.rules`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

PASS = "pass"
FAIL = "fail"


def require_financier(roles: int, who: str, why: str) -> None:
    """:func:`ledger.names.require_role` for the financier role (exit 1)."""
    from ledger.names import require_role

    require_role(roles, "financier", who, why)


@dataclass(frozen=True)
class RuleResult:
    name: str
    inputs: dict[str, Any]
    outcome: str
    reason: str

    @property
    def passed(self) -> bool:
        return self.outcome == PASS

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "inputs": self.inputs, "outcome": self.outcome, "reason": self.reason}


def rule_result(name: str, ok: bool, inputs: dict[str, Any], yes: str, no: str) -> RuleResult:
    return RuleResult(name, inputs, PASS if ok else FAIL, yes if ok else no)


@dataclass(frozen=True)
class PartyFacts:
    """A participant as the indexed registry holds it (None fields: unknown)."""

    address: str
    name: str | None
    admitted: bool
    suspended: bool
    kyc_expiry: dt.datetime | None
    #: Registry role bits (ledger.names.ROLE_BITS: supplier 1, buyer 2, financier 4, auditor 8).
    roles: int = 0

    @property
    def label(self) -> str:
        return self.name or self.address


@dataclass(frozen=True)
class InvoiceFacts:
    invoice_id: int
    status: str
    supplier: str
    buyer: str
    holder: str | None
    #: Who financed it (None: never financed).
    financier: str | None
    currency: str
    decimals: int
    amount: int
    #: Open amount: amount less what the buyer paid so far.
    outstanding: int
    due_date: dt.date
    #: Open listing for financing (offer_expires None: no listing; offer_financier None: any financier).
    offer_financier: str | None = None
    offer_min_advance: int | None = None
    offer_expires: dt.datetime | None = None
    #: Whether the listing accepts a financing with recourse to the holder (None: no listing).
    offer_recourse: bool | None = None
    holder_name: str | None = None
    #: The holder it was financed from (receives the reserve); None: never financed.
    seller: str | None = None
    #: Registered names of the financier and the seller (None: unnamed or none), for reasons.
    financier_name: str | None = None
    seller_name: str | None = None
    offer_financier_name: str | None = None
    #: Where it sits in its tree (multi-tier): a root (an issued invoice) has no parent, root = itself,
    #: depth 0; a part has its parent, its root and depth 1 to 3. Its buyer is the root's buyer.
    parent_id: int | None = None
    root_id: int | None = None
    depth: int = 0
    #: The parts a Split node was split into (ids, in order); empty otherwise.
    parts: tuple[int, ...] = ()

    @property
    def tier(self) -> int:
        """1 for an invoice, 2 for a part of it, and so on (depth + 1)."""
        return self.depth + 1

    @property
    def seller_to_be(self) -> str:
        """Who sells it if it is financed now: its holder (the tier-2 supplier of a part; the
        supplier of an invoice it still holds), else the supplier (burnt: cancelled)."""
        return self.holder or self.supplier

    @property
    def paid(self) -> int:
        """What the buyer paid so far (the financier pins it)."""
        return self.amount - self.outstanding

    @property
    def financed(self) -> bool:
        """Financed once, ever: the contract records the seller (not the status, since a financed
        invoice that is partly paid is PartiallyPaid, like an unfinanced one)."""
        return self.seller is not None


@dataclass(frozen=True)
class Exposure:
    """The financier's current exposure in the invoice's currency, this
    invoice excluded: what it is still due (minor units), not face amounts:
    of a financed receivable it holds, its due less what it received; of a
    pending decision (approved, not yet seen financed), the priced gross
    advance (the due it would have). ``book``, ``buyer`` and ``supplier``
    include the pending decisions; ``held_book`` is the financed book alone
    (None: same as book) and ``buyer_pending`` the part of ``buyer`` that is
    pending decisions."""

    book: int
    buyer: int
    supplier: int
    held_book: int | None = None
    buyer_pending: int = 0

    @property
    def held(self) -> int:
        return self.book if self.held_book is None else self.held_book

    @property
    def others_pending(self) -> int:
        """Pending decisions on other buyers: in the book, but they may never be executed."""
        return self.book - self.held - self.buyer_pending


@dataclass(frozen=True)
class DilutionFacts:
    """A seller's dilution history (contracts version 4): over the receivables it is the creditor
    of (those it sold, by ``invoices.seller``, and those it holds unfinanced; a Split node is left
    out, its parts count), their face amounts (the amount at issue or split: ``amount +
    credited``) and what credit notes took off them. Minor units of one currency."""

    seller: str
    seller_name: str | None
    #: Receivables counted, and how many of them carry a credit note.
    receivables: int
    credited_receivables: int
    face: int
    credited: int

    @property
    def label(self) -> str:
        return self.seller_name or self.seller
