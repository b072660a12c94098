"""When things go wrong (contracts version 4): the defaults and disputes
reports, from the indexed ledger (database only: no web3).

* :func:`defaults_report`: every receivable its holder declared in default
  (``invoices.defaulted_block``), whatever became of it since: its buyer,
  holder and seller, due date, days past due, the buyer's open amount, the
  holder's claim now and at the default, what was written off, what the
  buyer paid after the default (``recovered``: to holder and seller
  together) and the recourse to the seller.
* :func:`disputes_report`: every dispute the buyer raised (an ``incidents``
  row of kind ``disputed``), open or resolved: withdrawn by the buyer, or
  ended by a credit note (its amount, and what the seller paid the
  financier holding it).

Definitions, in integer minor units summed exactly in Python:

* the holder's claim (:func:`ledger.queries.holder_claim`): of a receivable
  financed and held by someone other than its seller, ``financier_due -
  financier_paid`` (what the contract writes off); otherwise the buyer's
  open amount;
* days past due: from the due date to the as-of day (a business date), or
  to the day it was settled when nothing is open; never below 0;
* recourse: ``not financed``; ``without recourse``; ``bought back`` (the
  seller paid ``recourse_paid`` to the holder); ``available`` (with
  recourse, Defaulted, held by a financier: the holder can make the seller
  buy it back); ``not exercised`` (with recourse, but written off or paid
  without a buy-back: the contract allows a buy-back only while Defaulted).

A dispute pairs with the next DisputeWithdrawn or CreditNoteIssued of the
same receivable (a credit note ends a dispute); none yet: it is open, for
``days`` from its day to the as-of day.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, and_, select

from ledger.business_time import business_date
from ledger.finance.report_common import as_of_day
from ledger.finance.store import INVOICES, LedgerScope, participant_names
from ledger.format import party_of
from ledger.queries import IncidentFilter, holder_claim, incidents

#: The recourse states of a defaulted receivable (see the module docstring).
NOT_FINANCED, WITHOUT_RECOURSE, BOUGHT_BACK, AVAILABLE, NOT_EXERCISED = (
    "not financed",
    "without recourse",
    "bought back",
    "available",
    "not exercised",
)


def _days_past_due(row: Any, day: dt.date) -> int:
    end = business_date(row.paid_at) if int(row.outstanding) == 0 and row.paid_at is not None else day
    return max(0, int((end - row.due_date).days))


def _recourse(row: Any, bought_back: int | None) -> str:
    if row.seller is None:
        return NOT_FINANCED
    if bought_back is not None:
        return BOUGHT_BACK
    if not row.recourse:
        return WITHOUT_RECOURSE
    if str(row.status) == "Defaulted" and row.holder != row.seller:
        return AVAILABLE
    return NOT_EXERCISED


@dataclass
class _Totals:
    invoices: int = 0
    outstanding: int = 0
    holder_claim: int = 0
    claim_at_default: int = 0
    written_off: int = 0
    recovered: int = 0
    recourse_paid: int = 0


def _incidents(conn: Connection, scope: LedgerScope, kinds: tuple[str, ...]) -> dict[int, list[Any]]:
    """The scope's incidents of ``kinds`` (:func:`ledger.queries.incidents`), per invoice, in chain
    order, as rows with attributes."""
    out: dict[int, list[Any]] = defaultdict(list)
    for row in incidents(conn, scope, IncidentFilter(kinds=kinds)):
        out[int(row["invoice_id"])].append(SimpleNamespace(**row))
    return out


def defaults_report(
    conn: Connection,
    scope: LedgerScope,
    as_of: dt.date | None = None,
    holder: str | None = None,
    buyer: str | None = None,
) -> dict[str, Any]:
    """Every receivable declared in default (held by ``holder`` / owed by ``buyer`` when given),
    oldest default first, with per-currency totals."""
    day = as_of_day(conn, scope, as_of)
    names = participant_names(conn, scope)
    i = INVOICES
    where = [i.c.chain_id == scope.chain_id, i.c.contract == scope.invoice_contract, i.c.defaulted_block.is_not(None)]
    if holder is not None:
        where.append(i.c.holder == holder)
    if buyer is not None:
        where.append(i.c.buyer == buyer)
    rows = conn.execute(select(i).where(*where).order_by(i.c.defaulted_block, i.c.invoice_id)).all()
    found = _incidents(conn, scope, ("defaulted", "bought_back"))
    money = scope.amount
    totals: dict[str, _Totals] = defaultdict(_Totals)
    out: list[dict[str, Any]] = []
    for r in rows:
        mine = found.get(int(r.invoice_id), [])
        defaulted = [x for x in mine if x.kind == "defaulted"]
        bought = [x for x in mine if x.kind == "bought_back"]
        claim_at_default = int(defaulted[-1].amount or 0) if defaulted else 0
        recourse_paid = sum(int(x.amount or 0) for x in bought) if bought else None
        claim = holder_claim(dict(r._mapping))
        currency = str(r.currency)
        t = totals[currency]
        t.invoices += 1
        t.outstanding += int(r.outstanding)
        t.holder_claim += claim
        t.claim_at_default += claim_at_default
        t.written_off += int(r.written_off or 0)
        t.recovered += int(r.recovered or 0)
        t.recourse_paid += recourse_paid or 0
        out.append(
            {
                "invoice_id": int(r.invoice_id),
                "tier": int(r.depth or 0) + 1,
                "status": str(r.status),
                "currency": scope.symbol(currency),
                "buyer": party_of(str(r.buyer), names),
                "holder": party_of(r.holder, names),
                "seller": party_of(r.seller, names),
                "due_date": r.due_date.isoformat(),
                "defaulted_on": business_date(r.defaulted_at).isoformat(),
                "days_past_due": _days_past_due(r, day),
                "outstanding": money(int(r.outstanding), currency),
                "holder_claim": money(claim, currency),
                "claim_at_default": money(claim_at_default, currency),
                "written_off": money(int(r.written_off or 0), currency),
                "recovered": money(int(r.recovered or 0), currency),
                "recourse": _recourse(r, recourse_paid),
                "recourse_paid": None if recourse_paid is None else money(recourse_paid, currency),
            }
        )
    return {
        "as_of": day.isoformat(),
        "holder": holder,
        "buyer": buyer,
        "rows": out,
        "totals": [
            {
                "currency": scope.symbol(c),
                "invoices": t.invoices,
                **{
                    k: money(getattr(t, k), c)
                    for k in (
                        "outstanding",
                        "holder_claim",
                        "claim_at_default",
                        "written_off",
                        "recovered",
                        "recourse_paid",
                    )
                },
            }
            for c, t in sorted(totals.items(), key=lambda kv: scope.symbol(kv[0]))
        ],
    }


#: The states of a dispute.
OPEN, WITHDRAWN, CREDIT_NOTE = "open", "withdrawn", "credit note"


def _resolve(disputes: list[Any]) -> list[tuple[Any, Any | None]]:
    """Each dispute of one receivable (chain order) with the incident that ended it (None: open)."""
    pairs: list[tuple[Any, Any | None]] = []
    current: Any | None = None
    for x in disputes:
        if x.kind == "disputed":
            if current is not None:  # cannot happen on chain: a dispute needs an undisputed receivable
                pairs.append((current, None))
            current = x
        elif current is not None and x.kind in ("dispute_withdrawn", "credit_note"):
            pairs.append((current, x))
            current = None
    if current is not None:
        pairs.append((current, None))
    return pairs


def _dispute_row(
    scope: LedgerScope, names: Mapping[str, str], inv: Any, raised: Any, ended: Any | None, day: dt.date
) -> dict[str, Any]:
    money = scope.amount
    currency = str(inv.currency)
    since = business_date(raised.block_time)
    resolved_on = None if ended is None else business_date(ended.block_time)
    state = OPEN if ended is None else (WITHDRAWN if ended.kind == "dispute_withdrawn" else CREDIT_NOTE)
    note = ended if ended is not None and ended.kind == "credit_note" else None
    return {
        "invoice_id": int(inv.invoice_id),
        "currency": scope.symbol(currency),
        "buyer": party_of(str(raised.actor), names),
        # The creditor: the seller of a financed receivable, else the holder when it was disputed.
        "seller": party_of(inv.seller or raised.counterparty, names),
        "holder": party_of(raised.counterparty, names),
        "since": since.isoformat(),
        "reason": raised.reference,
        "interrupted": raised.status,
        "state": state,
        "resolved_on": None if resolved_on is None else resolved_on.isoformat(),
        "days": max(0, ((resolved_on or day) - since).days),
        "credit": None if note is None else money(int(note.amount or 0), currency),
        "paid_to_holder": None if note is None else money(int(note.paid_to_holder or 0), currency),
        "open_after": None if note is None else money(int(note.outstanding or 0), currency),
        "note": None if note is None else note.reference,
    }


def disputes_report(
    conn: Connection,
    scope: LedgerScope,
    as_of: dt.date | None = None,
    buyer: str | None = None,
    open_only: bool = False,
) -> dict[str, Any]:
    """Every dispute (of ``buyer`` when given; only the open ones with ``open_only``), oldest first,
    with per-currency totals: how many, open, withdrawn, ended by a credit note, and the credits."""
    day = as_of_day(conn, scope, as_of)
    names = participant_names(conn, scope)
    found = _incidents(conn, scope, ("disputed", "dispute_withdrawn", "credit_note"))
    ids = [k for k, v in found.items() if any(x.kind == "disputed" for x in v)]
    i = INVOICES
    invoices = {
        int(r.invoice_id): r
        for r in conn.execute(
            select(i.c.invoice_id, i.c.currency, i.c.seller).where(
                and_(i.c.chain_id == scope.chain_id, i.c.contract == scope.invoice_contract),
                i.c.invoice_id.in_(ids),
            )
        ).all()
    }
    pairs = [
        (invoices[invoice_id], raised, ended)
        for invoice_id in ids
        if invoice_id in invoices
        for raised, ended in _resolve(found[invoice_id])
        if (buyer is None or raised.actor == buyer) and (not open_only or ended is None)
    ]
    pairs.sort(key=lambda p: (int(p[1].block_number), int(p[1].log_index)))
    rows = [_dispute_row(scope, names, inv, raised, ended, day) for inv, raised, ended in pairs]
    counts: dict[str, dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("disputes", OPEN, WITHDRAWN, CREDIT_NOTE, "credit"), 0)
    )
    for inv, _raised, ended in pairs:
        acc = counts[str(inv.currency)]
        acc["disputes"] += 1
        state = OPEN if ended is None else (WITHDRAWN if ended.kind == "dispute_withdrawn" else CREDIT_NOTE)
        acc[state] += 1
        if state == CREDIT_NOTE and ended is not None:
            acc["credit"] += int(ended.amount or 0)
    return {
        "as_of": day.isoformat(),
        "buyer": buyer,
        "rows": rows,
        "totals": [
            {
                "currency": scope.symbol(c),
                "disputes": acc["disputes"],
                "open": acc[OPEN],
                "withdrawn": acc[WITHDRAWN],
                "credit_notes": acc[CREDIT_NOTE],
                "credit": scope.amount(acc["credit"], c),
            }
            for c, acc in sorted(counts.items(), key=lambda kv: scope.symbol(kv[0]))
        ],
    }


__all__ = ["defaults_report", "disputes_report"]
