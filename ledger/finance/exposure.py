"""The exposure report (database only: no web3): financed receivables on
which the holder is still due something, grouped by buyer, supplier or
financier, with pending decisions and a policy's limits. See
:mod:`ledger.finance.reports` for the figures and their identities.

Multi-tier: every financed leaf counts once, under its root's buyer (a part
has the root's buyer); a Split node is never financed and counts nothing.
"Supplier" is the seller, the holder a receivable was financed from (of a
part: the tier-2 supplier), as the supplier limits count it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from ledger.errors import InputError
from ledger.finance.models import APPROVED, EXECUTED, Decision
from ledger.finance.policy import Policy
from ledger.finance.pricing import major_to_minor_floor
from ledger.finance.report_common import holder_owed, invoices_where, pct, reserve_held, signed
from ledger.finance.store import (
    FINANCED_STATUSES,
    INVOICES,
    LedgerScope,
    indexed_point,
    participant_names,
    pending_positions,
)
from ledger.format import iso_time


@dataclass
class _Group:
    invoices: int = 0
    #: What the holders are still due (the exposure).
    outstanding: int = 0
    advanced: int = 0
    #: The buyer's open amount on these receivables = outstanding + reserve_held.
    open: int = 0
    reserve_held: int = 0
    pending_invoices: int = 0
    pending: int = 0

    def add(self, other: _Group) -> None:
        """Add ``other``'s figures to these."""
        self.invoices += other.invoices
        self.outstanding += other.outstanding
        self.advanced += other.advanced
        self.open += other.open
        self.reserve_held += other.reserve_held
        self.pending += other.pending
        self.pending_invoices += other.pending_invoices


_Groups = dict[tuple[str, str], _Group]


def _book_groups(conn: Connection, scope: LedgerScope, by: str, financier: str | None) -> _Groups:
    """The financed receivables the holder is still due something of, per (``by`` key, currency)."""
    i = INVOICES
    where = [*invoices_where(scope, FINANCED_STATUSES, financier), i.c.seller.is_not(None)]
    rows = conn.execute(
        select(
            i.c.holder,
            i.c.buyer,
            i.c.currency,
            i.c.outstanding,
            i.c.advance,
            i.c.seller,
            i.c.financier_due,
            i.c.financier_paid,
        ).where(*where)
    ).all()
    groups: _Groups = defaultdict(_Group)
    key_of = {"buyer": "buyer", "supplier": "seller", "financier": "holder"}[by]
    for r in rows:
        owed = holder_owed(r.financier_due, r.financier_paid)
        if owed <= 0:
            continue  # the holder has received its due: the rest is the seller's, no exposure
        g = groups[(str(getattr(r, key_of)), str(r.currency))]
        g.invoices += 1
        g.outstanding += owed
        g.advanced += int(r.advance)
        g.open += int(r.outstanding)
        g.reserve_held += reserve_held(int(r.outstanding), r.seller, r.financier_due, r.financier_paid)
    return groups


def _deciding_financiers(conn: Connection, scope: LedgerScope, financier: str | None) -> list[str]:
    """``financier`` when given, else every financier with an approved or executed decision."""
    if financier is not None:
        return [financier]
    return sorted(
        {
            str(f)
            for f in conn.execute(
                select(Decision.financier)
                .where(
                    Decision.chain_id == scope.chain_id,
                    Decision.contract == scope.invoice_contract,
                    Decision.status.in_((APPROVED, EXECUTED)),
                )
                .distinct()
            ).scalars()
        }
    )


def _add_pending(
    groups: _Groups, conn: Connection, scope: LedgerScope, by: str, financier: str | None, point_time: dt.datetime
) -> None:
    """Pending decisions use limits too, with the due they would have (see ledger.finance.store)."""
    for f in _deciding_financiers(conn, scope, financier):
        for p in pending_positions(conn, scope, f, point_time):
            key = {"buyer": p.buyer, "supplier": p.seller, "financier": f}[by]
            g = groups[(key, p.currency)]
            g.pending_invoices += 1
            g.pending += p.amount


def _limit_for(
    policy: Policy | None, scope: LedgerScope, names: Mapping[str, str], by: str, address: str, currency: str
) -> int | None:
    """The policy's limit for the group's key, in minor units (None without a policy or line)."""
    if policy is None:
        return None
    d = scope.currency(currency).decimals
    lim = policy.limits
    lines: dict[str, Callable[[], Decimal | None]] = {
        "buyer": lambda: lim.buyer_line(address, names.get(address)),
        "supplier": lambda: lim.supplier_line(address, names.get(address)),
        "financier": lambda: lim.book,
    }
    amount = lines[by]()
    return None if amount is None else major_to_minor_floor(amount, d)


def _group_row(
    scope: LedgerScope, by: str, names: Mapping[str, str], address: str, currency: str, g: _Group, limit: int | None
) -> dict[str, Any]:
    money = scope.amount
    used = g.outstanding + g.pending
    return {
        by: address,
        "name": names.get(address),
        "currency": scope.symbol(currency),
        "invoices": g.invoices,
        "outstanding": money(g.outstanding, currency),
        "advanced": money(g.advanced, currency),
        "open": money(g.open, currency),
        "reserve_held": money(g.reserve_held, currency),
        "pending_invoices": g.pending_invoices,
        "pending": money(g.pending, currency),
        "used": money(used, currency),
        "limit": None if limit is None else money(limit, currency),
        "used_pct": None if limit is None else pct(used, limit),
        "headroom": None if limit is None else signed(limit - used, currency, scope),
    }


def _total_row(scope: LedgerScope, c: str, t: _Group) -> dict[str, Any]:
    money = scope.amount
    return {
        "currency": scope.symbol(c),
        "invoices": t.invoices,
        "outstanding": money(t.outstanding, c),
        "advanced": money(t.advanced, c),
        "open": money(t.open, c),
        "reserve_held": money(t.reserve_held, c),
        "pending_invoices": t.pending_invoices,
        "pending": money(t.pending, c),
        "used": money(t.outstanding + t.pending, c),
    }


def exposure_report(
    conn: Connection,
    scope: LedgerScope,
    by: str = "buyer",
    policy: Policy | None = None,
    financier: str | None = None,
) -> dict[str, Any]:
    """Financed receivables on which the holder (``financier`` when given)
    is still due something, grouped by ``by``: the outstanding due (the
    exposure), the advance paid, the buyer's open amount and the sellers'
    reserve within it; with pending decisions and, given a policy, limits
    and headroom (limits count outstanding dues, as decisions do)."""
    if by not in ("buyer", "supplier", "financier"):
        raise InputError(f"invalid --by {by!r}: use buyer, supplier or financier")
    point = indexed_point(conn, scope)
    names = participant_names(conn, scope)
    groups = _book_groups(conn, scope, by, financier)
    _add_pending(groups, conn, scope, by, financier, point.time)
    out_rows: list[dict[str, Any]] = []
    totals: dict[str, _Group] = defaultdict(_Group)
    for (address, currency), g in sorted(
        groups.items(), key=lambda kv: (scope.symbol(kv[0][1]), -(kv[1].outstanding + kv[1].pending))
    ):
        limit = _limit_for(policy, scope, names, by, address, currency)
        out_rows.append(_group_row(scope, by, names, address, currency, g, limit))
        totals[currency].add(g)
    return {
        "by": by,
        "as_of_block": point.block_number,
        "as_of": iso_time(point.time),
        "financier": financier,
        "policy_hash": None if policy is None else policy.hash,
        "rows": out_rows,
        "totals": [_total_row(scope, c, t) for c, t in totals.items()],
    }
