"""Portfolio reports from the indexed ledger (database only: no web3).

* :func:`exposure_report`: financed receivables grouped by buyer, supplier
  or financier (holder): what the holders are still due (the exposure), the
  sellers' reserves still held in the same receivables, with the pending
  decisions that already use limits, and the limits, use and headroom of a
  policy when one is given.
* :func:`aging_report`: open confirmed receivables in days-past-due buckets
  (not due, 1-30, 31-60, 61-90, 90+), per buyer and in total, with how much
  of the open amount is the sellers' reserve (paid to the seller, not the
  holder, when the buyer pays). A disputed receivable is in the ``disputed``
  bucket and a defaulted or written-off one (still open: recoveries may
  come) in ``defaulted``, whatever their days past due: neither is current.
* :func:`ledger.finance.incidents.defaults_report` and
  :func:`ledger.finance.incidents.disputes_report`: every receivable
  declared in default, and every dispute, with what became of them.
* :func:`portfolio_report`: one financier's book, per financed invoice and
  per currency: advanced, due, received, outstanding; the sellers' reserves
  at financing, released and still held; realised and expected income and
  yield; overdue and defaults; per tier too (1: invoices, 2: parts of them).
* :func:`ledger.finance.tiers.tiers_report`: per buyer and tier, how far
  its credit reached down the supply chain and what of it was financed.

Multi-tier: a part of a split invoice is a receivable of its own, with its
root's buyer; a Split receivable is never financed and has nothing open (its
open amount lives in its parts), so exposure, aging and the portfolio count
the leaves, once (the tiers report shows every level of the tree).

Everything is read from the ledger, nothing assumed: since contracts version
2 a financing records what the financier is due (``financings.due``,
``invoices.financier_due``); the buyer's payments go to the holder up to
that due and the rest, the seller's reserve, to the seller
(``repayments.to_payee`` / ``repayments.to_seller``, the ReserveReleased
events). For one financed invoice, in minor units:

    open at financing     = due + reserve at financing
    due                   = received + outstanding + due of receivables sold on
    reserve at financing  = reserve released + reserve still held

and the open amount now is the holder's outstanding due plus the reserve
still held. Exposure of a holder is its outstanding due, never the face.

Amounts are exact: integer minor units summed in Python (so the totals add
up to the unit), shown as decimal strings in major units. Figures are per
currency. "As of" defaults to the decision time that decisions use: the
later of the last indexed block's time and the wall clock (UTC), so an idle
chain does not age receivables on a stale day (see
:mod:`ledger.finance.store`).

Income and yield: the financier paid ``cash`` (the on-chain advance) and is
due ``due``; a financing is closed for it once it received the whole due.
Realised income of a closed one is ``received - cash``; expected income of
an open one ``due - cash``. Each is shown as a period return,
``income / sum(cash)``, over the holding period, the days from financing to
the payment that completed the due (realised) or to the due date (expected),
weighted by cash: ``sum(cash x days) / sum(cash)``. It is annualised, as a
simple annual rate on ACT/365 (``income x 365 / sum(cash x days)``), only
when that period is at least 30 days (``portfolio.MIN_ANNUALISED_DAYS``);
a yield over a holding of minutes says nothing about a year, so it is then
left out (None). Percentages and days are rounded half-even to two places. A receivable the financier
sold on (holds no more) counts in ``sold`` and in neither income: its sale
price is not on the ledger.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, literal_column, select

from ledger.finance.exposure import exposure_report
from ledger.finance.portfolio import portfolio_report
from ledger.finance.report_common import (
    FINANCINGS,
    REPAYMENTS,
    as_of_day,
    holder_owed,
    invoices_where,
    reserve_held,
)
from ledger.finance.store import INVOICES, LedgerScope, participant_names

OPEN_STATUSES = ("Confirmed", "Financed", "PartiallyPaid")
#: Open, but not current: each has a bucket of its own whatever its days past due.
TROUBLED_BUCKETS = {"Disputed": "disputed", "Defaulted": "defaulted", "WrittenOff": "defaulted"}
DAYS_BUCKETS = ("not_due", "1-30", "31-60", "61-90", "90+")
BUCKETS = (*DAYS_BUCKETS, "disputed", "defaulted")


# -- aging ------------------------------------------------------------------------------------------------


def bucket_of(days_past_due: int) -> str:
    if days_past_due <= 0:
        return "not_due"
    if days_past_due <= 30:
        return "1-30"
    if days_past_due <= 60:
        return "31-60"
    if days_past_due <= 90:
        return "61-90"
    return "90+"


def aging_report(
    conn: Connection, scope: LedgerScope, as_of: dt.date | None = None, holder: str | None = None
) -> dict[str, Any]:
    """Open confirmed receivables by buyer, in days-past-due buckets of the
    buyer's open amount, disputed and defaulted (or written-off) ones in
    buckets of their own; ``reserve`` is the part of it owed to sellers (the
    reserve of financed receivables), ``to_holders`` the rest."""
    day = as_of_day(conn, scope, as_of)
    names = participant_names(conn, scope)
    money = scope.amount
    i = INVOICES
    # Only what is still owed: the written-off receivables with nothing left
    # stay in the troubled statuses for ever, and the history must not grow
    # the query. A literal 0, so the planner can use the partial index on
    # open receivables (``ix_invoices_open``, migration 0010).
    where = [*invoices_where(scope, (*OPEN_STATUSES, *TROUBLED_BUCKETS), holder), i.c.outstanding > literal_column("0")]
    rows = conn.execute(
        select(
            i.c.buyer,
            i.c.currency,
            i.c.outstanding,
            i.c.due_date,
            i.c.seller,
            i.c.financier_due,
            i.c.financier_paid,
            i.c.status,
        ).where(*where)
    ).all()
    keys = (*BUCKETS, "count", "reserve")
    per: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(keys, 0))
    total: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(keys, 0))
    for r in rows:
        amount = int(r.outstanding)
        b = TROUBLED_BUCKETS.get(str(r.status)) or bucket_of((day - r.due_date).days)
        reserve = reserve_held(amount, r.seller, r.financier_due, r.financier_paid)
        for acc in (per[(str(r.buyer), str(r.currency))], total[str(r.currency)]):
            acc[b] += amount
            acc["count"] += 1
            acc["reserve"] += reserve

    def shaped(acc: Mapping[str, int], currency: str) -> dict[str, Any]:
        whole = sum(acc[b] for b in BUCKETS)
        return {
            "currency": scope.symbol(currency),
            "invoices": acc["count"],
            **{b: money(acc[b], currency) for b in BUCKETS},
            "total": money(whole, currency),
            "to_holders": money(whole - acc["reserve"], currency),
            "reserve": money(acc["reserve"], currency),
        }

    out = [
        {"buyer": buyer, "name": names.get(buyer), **shaped(acc, cur)}
        for (buyer, cur), acc in sorted(
            per.items(), key=lambda kv: (names.get(kv[0][0], kv[0][0]).casefold(), kv[0][1])
        )
    ]
    return {
        "as_of": day.isoformat(),
        "holder": holder,
        "buckets": list(BUCKETS),
        "rows": out,
        "totals": [shaped(acc, cur) for cur, acc in total.items()],
    }


__all__ = [
    "BUCKETS",
    "DAYS_BUCKETS",
    "TROUBLED_BUCKETS",
    "FINANCINGS",
    "OPEN_STATUSES",
    "REPAYMENTS",
    "aging_report",
    "bucket_of",
    "exposure_report",
    "holder_owed",
    "portfolio_report",
    "reserve_held",
]
