"""Who is asking, and what they may see.

A request's :class:`Viewer` comes from its API key and the registry as
indexed now: a participant key sees through the participant's roles of the
moment (granted or taken later counts at once); an operator key and an
auditor see everything. What a participant sees of the invoices:

* anyone: what it holds, and what it sold to a financier (its reserve is in it);
* a supplier: the invoices it issued;
* a buyer: its payables (the invoices it owes);
* a financier: its book (what it financed) and the invoices offered to it
  (listed to it by name, or to any financier, while the listing stands).

Anything else is, to that viewer, as if it did not exist (404, never 403:
no enumeration of other parties' ids).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Connection

from ledger.api.keys import KeyRow
from ledger.api.models import OPERATOR
from ledger.db.models import INVOICES, Participant
from ledger.names import role_names
from ledger.queries import listing_live_clause
from ledger.scope import Scope


@dataclass(frozen=True)
class Viewer:
    """The party behind a request."""

    key_id: str
    kind: str
    #: The participant's address (None for an operator key).
    address: str | None
    #: The participant's registered name now (else the key's label).
    name: str
    roles: frozenset[str]

    @property
    def sees_all(self) -> bool:
        """The operator and auditors see the whole ledger."""
        return self.kind == OPERATOR or "auditor" in self.roles

    def has(self, *roles: str) -> bool:
        return self.sees_all or any(r in self.roles for r in roles)

    def record(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "kind": self.kind,
            "party": None if self.address is None else {"address": self.address, "name": self.name},
            "name": self.name,
            "roles": sorted(self.roles),
            "sees_all": self.sees_all,
        }


def viewer_of(conn: Connection, scope: Scope, key: KeyRow) -> Viewer:
    """The viewer of ``key`` in the ledger ``scope`` shows."""
    if key.participant is None:
        return Viewer(key.key_id, key.kind, None, key.label, frozenset({"operator"}))
    p = Participant.__table__.c
    row = conn.execute(
        sa.select(p.name, p.roles).where(
            p.chain_id == scope.chain_id, p.contract == scope.registry_contract, p.address == key.participant
        )
    ).first()
    if row is None:  # not (or no longer) registered: sees only what it holds or sold
        return Viewer(key.key_id, key.kind, key.participant, key.label, frozenset())
    return Viewer(key.key_id, key.kind, key.participant, str(row.name), frozenset(role_names(int(row.roles))))


def invoice_visibility(viewer: Viewer, at: dt.datetime) -> ColumnElement[bool] | None:
    """The SQL condition on ``invoices`` rows the viewer may see (None: all),
    listings judged at ``at`` (the ledger's time)."""
    if viewer.sees_all:
        return None
    i, me = INVOICES.c, viewer.address
    if me is None:
        return sa.false()
    seen: list[ColumnElement[bool]] = [i.holder == me, i.seller == me]
    if "supplier" in viewer.roles:
        seen.append(i.supplier == me)
    if "buyer" in viewer.roles:
        seen.append(i.buyer == me)
    if "financier" in viewer.roles:
        listed = listing_live_clause(at)
        seen += [
            i.financier == me,
            sa.and_(i.offer_financier == me, listed),
            sa.and_(i.offer_financier.is_(None), listed),
        ]
    return sa.or_(*seen)
