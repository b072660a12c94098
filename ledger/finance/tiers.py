"""The tiers report (database only: no web3): how far each buyer's credit
reached down its supply chain.

A buyer confirms an invoice to its tier-1 supplier (tier 1: a root, depth 0);
the holder splits it and pays its own suppliers with the parts (tier 2:
depth 1), who may split again (tier 3, 4). Per buyer, currency and tier
(depth + 1), over the receivables the buyer confirmed (not Issued, not
Cancelled):

* ``receivables``: how many there are at that tier, Split ones included;
* ``face``: their amounts (a Split node's amount includes what its parts
  carry on to the next tier: tiers are levels of one tree, not shares of it);
* ``open``: what the buyer still owes on them (a Split node: 0, its open
  amount lives in its parts);
* ``financed_receivables``, ``financed`` and ``advanced``: how many of them
  were financed, their face amounts and the advances paid for them;
* ``holders``: the distinct suppliers holding them (of a financed one, the
  seller it was financed from, not the financier that holds it now);
* ``suppliers_financed``: the distinct sellers among the financed ones.

Amounts are exact: integer minor units summed in Python, shown as decimal
strings in major units.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from ledger.finance.store import INVOICES, LedgerScope, indexed_point, participant_names
from ledger.format import iso_time, party_of

#: Statuses of a receivable the buyer confirmed (a Split one was confirmed, then split; a disputed,
#: defaulted or written-off one was confirmed and stays reached).
REACHED_STATUSES = ("Confirmed", "Financed", "PartiallyPaid", "Paid", "Split", "Disputed", "Defaulted", "WrittenOff")


@dataclass
class _Tier:
    receivables: int = 0
    face: int = 0
    open: int = 0
    financed_receivables: int = 0
    financed: int = 0
    advanced: int = 0
    holders: set[str] = field(default_factory=set)
    sellers: set[str] = field(default_factory=set)


def tiers_report(conn: Connection, scope: LedgerScope, buyer: str | None = None) -> dict[str, Any]:
    """Per buyer (only ``buyer`` when given), currency and tier: the
    receivables the buyer's credit reached and what of them was financed
    (see the module's docstring)."""
    point = indexed_point(conn, scope)
    names = participant_names(conn, scope)
    i = INVOICES
    where = [i.c.chain_id == scope.chain_id, i.c.contract == scope.invoice_contract, i.c.status.in_(REACHED_STATUSES)]
    if buyer is not None:
        where.append(i.c.buyer == buyer)
    rows = conn.execute(
        select(
            i.c.buyer, i.c.currency, i.c.depth, i.c.amount, i.c.outstanding, i.c.holder, i.c.seller, i.c.advance
        ).where(*where)
    ).all()
    groups: dict[tuple[str, str, int], _Tier] = defaultdict(_Tier)
    for r in rows:
        g = groups[(str(r.buyer), str(r.currency), int(r.depth or 0) + 1)]
        g.receivables += 1
        g.face += int(r.amount)
        g.open += int(r.outstanding)
        supplier = r.seller if r.seller is not None else r.holder
        if supplier is not None:
            g.holders.add(str(supplier))
        if r.seller is not None:
            g.financed_receivables += 1
            g.financed += int(r.amount)
            g.advanced += int(r.advance or 0)
            g.sellers.add(str(r.seller))
    money = scope.amount

    def key(kv: tuple[tuple[str, str, int], _Tier]) -> tuple[str, str, int]:
        (address, currency, tier), _ = kv
        return (names.get(address, address).casefold(), scope.symbol(currency), tier)

    out = [
        {
            "buyer": party_of(address, names),
            "currency": scope.symbol(currency),
            "tier": tier,
            "receivables": g.receivables,
            "face": money(g.face, currency),
            "open": money(g.open, currency),
            "financed_receivables": g.financed_receivables,
            "financed": money(g.financed, currency),
            "advanced": money(g.advanced, currency),
            "holders": len(g.holders),
            "suppliers_financed": len(g.sellers),
        }
        for (address, currency, tier), g in sorted(groups.items(), key=key)
    ]
    return {
        "as_of_block": point.block_number,
        "as_of": iso_time(point.time),
        "buyer": None if buyer is None else party_of(buyer, names),
        "rows": out,
    }


__all__ = ["REACHED_STATUSES", "tiers_report"]
