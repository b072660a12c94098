"""The figures of the dashboard's overview (:mod:`ledger.api.pages`): the
headline amounts and the data of its four charts, as the viewer may see them.

Read side only (SQLAlchemy Core on the indexed ledger; no web3). Money stays
exact: integer minor units are summed in SQL (:func:`grouped_sums`) and shown
as decimal strings with the currency's places; a chart gets those strings and
turns them into coordinates itself, its table shows them as they are.

Whose figures (:func:`view_of`): the operator and auditors see the whole
ledger; a financier its book, the receivables it holds (as the API's
exposure, aging and portfolio reports count it), and the advances it paid;
anyone else the invoices it may see (:func:`ledger.api.access.invoice_visibility`).

The headline amounts, per currency:

* outstanding: what buyers still owe on open receivables (confirmed,
  financed, partly paid, disputed, defaulted, written off): the aging
  report's total;
* financed: what financiers are still due of financed receivables (their
  exposure, never the face): the exposure report's total;
* overdue: the open or defaulted receivables past due (as ``overdue=true``
  of the invoice list judges it), what the buyer still owes on them;
* defaulted: the open amount of receivables declared in default (or
  written off): the aging report's ``defaulted`` bucket.

Months are months of the business time zone (``settings.timezone``).
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Connection, Table
from sqlalchemy.exc import OperationalError

from ledger.api.access import invoice_visibility
from ledger.api.deps import Reader
from ledger.business_time import business_date
from ledger.db.models import INVOICES, Financing, Repayment
from ledger.finance.reports import BUCKETS, DAYS_BUCKETS, OPEN_STATUSES, TROUBLED_BUCKETS
from ledger.finance.store import FINANCED_STATUSES, indexed_point
from ledger.queries import DEFAULTED_STATUSES, OVERDUE_STATUSES

FINANCINGS = cast(Table, Financing.__table__)
REPAYMENTS = cast(Table, Repayment.__table__)

#: Open receivables, as the aging report takes them.
AGING_STATUSES = (*OPEN_STATUSES, *TROUBLED_BUCKETS)
#: Receivables the buyer confirmed and owes or owed on their due date (not
#: unconfirmed, cancelled, or split: a split one's amount lives in its parts).
DUE_STATUSES = (*AGING_STATUSES, "Paid")
#: How the buckets read in a chart.
BUCKET_LABELS = {
    "not_due": "not yet due",
    "1-30": "1-30 days",
    "31-60": "31-60 days",
    "61-90": "61-90 days",
    "90+": "over 90 days",
    "disputed": "disputed",
    "defaulted": "defaulted",
}


# -- whose figures -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class View:
    """Whose overview it is: what of the invoices it covers, and how to say so."""

    #: In words, for the page ("the whole ledger", ...).
    title: str
    #: The condition on ``invoices`` rows (None: all of them).
    invoices: ColumnElement[bool] | None
    #: The financier whose book it is (None: not a financier's view).
    financier: str | None
    sees_all: bool


def view_of(reader: Reader) -> View:
    """The operator and auditors: the whole ledger; a financier: its book
    (the receivables it holds; its advances); anyone else: what it may see."""
    viewer = reader.viewer
    if viewer.sees_all:
        return View("the whole ledger", None, None, True)
    i = INVOICES.c
    if "financier" in viewer.roles and viewer.address is not None:
        return View(
            f"the book of {viewer.name} (the receivables it holds)", i.holder == viewer.address, viewer.address, False
        )
    return View(f"what {viewer.name} may see", invoice_visibility(viewer, reader.at), None, False)


# -- exact sums ------------------------------------------------------------------------------------------------
#: A measure: the amounts of ``column`` (a Uint256 column) in the rows where ``condition`` holds (None: all).
Measure = tuple[ColumnElement[bool] | None, ColumnElement[Any]]


def grouped_sums(
    conn: Connection,
    keys: Sequence[ColumnElement[Any]],
    measures: Mapping[str, Measure],
    where: Sequence[ColumnElement[bool]],
    select_from: sa.FromClause | None = None,
) -> dict[tuple[Any, ...], dict[str, int]]:
    """Per group of ``keys``: each measure's sum (minor units) and, under
    ``<name>#``, how many rows it counted; groups with no row in any measure
    are left out.

    Summed in SQL, exactly: PostgreSQL's ``numeric`` sums are exact; on
    SQLite an amount above 2**63 - 1 is stored as text (see
    :class:`ledger.db.models.Uint256`) and a sum past 64 bits overflows, so
    either case is summed again in Python, row by row (a ledger of such
    amounts belongs on PostgreSQL, which never needs it)."""
    values = {name: col if cond is None else sa.case((cond, col)) for name, (cond, col) in measures.items()}
    columns: list[Any] = list(keys)
    for name, value in values.items():
        columns += [sa.func.sum(value).label(name), sa.func.count(value).label(f"{name}#")]
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        big = sa.or_(*(sa.func.typeof(col) == "text" for _, col in measures.values()))
        columns.append(sa.func.max(sa.case((big, 1), else_=0)).label("_big"))
    query = sa.select(*columns).where(*where).group_by(*keys)
    if select_from is not None:
        query = query.select_from(select_from)
    try:
        rows = conn.execute(query).all()
    except OperationalError as exc:
        if not (sqlite and "integer overflow" in str(exc)):
            raise
        rows = None
    if rows is None or (sqlite and any(r._mapping["_big"] for r in rows)):
        return _python_sums(conn, keys, values, where, select_from)
    out: dict[tuple[Any, ...], dict[str, int]] = {}
    for r in rows:
        m = r._mapping
        sums = {name: int(m[name] or 0) for name in values} | {f"{name}#": int(m[f"{name}#"]) for name in values}
        if any(sums[f"{name}#"] for name in values):
            out[tuple(r[: len(keys)])] = sums
    return out


def _python_sums(
    conn: Connection,
    keys: Sequence[ColumnElement[Any]],
    values: Mapping[str, ColumnElement[Any]],
    where: Sequence[ColumnElement[bool]],
    select_from: sa.FromClause | None,
) -> dict[tuple[Any, ...], dict[str, int]]:
    """:func:`grouped_sums` in Python, each amount read through its column type (exact at any size)."""
    query = sa.select(*keys, *(v.label(name) for name, v in values.items())).where(*where)
    if select_from is not None:
        query = query.select_from(select_from)
    out: dict[tuple[Any, ...], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys([*values, *(f"{n}#" for n in values)], 0)
    )
    for r in conn.execute(query):
        group = out[tuple(r[: len(keys)])]
        for name in values:
            amount = r._mapping[name]
            if amount is not None:
                group[name] += int(amount)
                group[f"{name}#"] += 1
    return {k: v for k, v in out.items() if any(v[f"{n}#"] for n in values)}


# -- months of the business time zone ----------------------------------------------------------------------
#: The months the monthly charts show: this many before the current one, and (dues) after it.
MONTHS_BEFORE, MONTHS_AFTER = 11, 12


def _add_months(day: dt.date, months: int) -> dt.date:
    n = day.year * 12 + day.month - 1 + months
    return dt.date(n // 12, n % 12 + 1, 1)


def month_window(day: dt.date, before: int, after: int) -> list[str]:
    """``YYYY-MM`` of the months from ``before`` months before ``day``'s to ``after`` months after it."""
    return [_add_months(day, n).strftime("%Y-%m") for n in range(-before, after + 1)]


def _month_case(column: ColumnElement[Any], months: Sequence[str], zone: ZoneInfo) -> ColumnElement[Any]:
    """An SQL expression naming the business month (``YYYY-MM``) of a
    timestamp column, exact in any zone on either backend: a CASE over the
    months' starts (rows before the first month or after the last are NULL)."""

    def start(month: str) -> dt.datetime:
        first = dt.date.fromisoformat(f"{month}-01")
        return dt.datetime(first.year, first.month, 1, tzinfo=zone).astimezone(dt.UTC)

    ends = [start(m) for m in months[1:]] + [
        start(_add_months(dt.date.fromisoformat(f"{months[-1]}-01"), 1).strftime("%Y-%m"))
    ]
    return sa.case(*((column < end, month) for month, end in zip(months, ends, strict=True)), else_=None)


def _month_range(column: ColumnElement[Any], months: Sequence[str], zone: ZoneInfo) -> list[ColumnElement[bool]]:
    first = dt.date.fromisoformat(f"{months[0]}-01")
    after = _add_months(dt.date.fromisoformat(f"{months[-1]}-01"), 1)
    return [
        column >= dt.datetime(first.year, first.month, 1, tzinfo=zone).astimezone(dt.UTC),
        column < dt.datetime(after.year, after.month, 1, tzinfo=zone).astimezone(dt.UTC),
    ]


def _due_month(conn: Connection) -> ColumnElement[Any]:
    """The month (``YYYY-MM``) of ``invoices.due_date`` (a business date)."""
    due = INVOICES.c.due_date
    if conn.dialect.name == "postgresql":
        return sa.func.to_char(due, "YYYY-MM")
    return sa.func.substr(due, 1, 7)


# -- the overview -------------------------------------------------------------------------------------------
def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def _chart(
    key: str, title: str, currency: str, labels: list[str], datasets: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    """A chart as the page draws it (``static/dashboard.js``) and tabulates it:
    ``labels`` along x, each dataset's ``values`` exact decimal strings (None: no point)."""
    return {
        "id": f"chart-{key}-{_slug(currency)}",
        "title": title,
        "currency": currency,
        "labels": labels,
        "datasets": datasets,
        **extra,
    }


#: Sums of one group of open receivables (currency, buyer, status, days bucket), minor units.
Sums = Mapping[str, int]


class Overview:
    """The figures of one viewer's overview, read in the request's transaction.

    The open receivables are read once (:meth:`open_groups`: one scan of the
    open statuses, grouped by currency, buyer, status and days past due) and
    the headline amounts, the aging buckets and the exposure by buyer are all
    taken from those sums."""

    def __init__(self, reader: Reader, zone: ZoneInfo, home: Any) -> None:
        self.reader, self.zone, self.home = reader, zone, home
        self.conn, self.scope = reader.conn, reader.scope
        self.view = view_of(reader)
        self.point = indexed_point(self.conn, self.scope)
        self.day = business_date(self.point.time)
        i = INVOICES.c
        self.where: list[ColumnElement[bool]] = [
            i.chain_id == self.scope.chain_id,
            i.contract == self.scope.invoice_contract,
        ]
        if self.view.invoices is not None:
            self.where.append(self.view.invoices)
        self._groups: dict[tuple[Any, ...], dict[str, int]] | None = None

    def money(self, units: int, currency: str) -> str:
        return self.scope.amount(units, currency)

    def symbol(self, currency: str) -> str:
        return self.scope.symbol(currency)

    # -- the open receivables, once --------------------------------------------------------------------
    def open_groups(self) -> dict[tuple[Any, ...], dict[str, int]]:
        """(currency, buyer, status, days bucket) -> sums: ``open`` (the buyer's
        open amount), and of the financed ones the holder is still due
        something of: ``due`` and ``received`` (the financier's due and what it
        received), ``advance`` and ``financed_open``; each with its count (``#``)."""
        if self._groups is None:
            i = INVOICES.c
            # days past due = (day - due_date).days: not due <= 0 < 1-30 <= 30 < ...
            limits = {"not_due": 0, "1-30": 30, "31-60": 60, "61-90": 90}
            days = sa.case(
                *((i.due_date >= self.day - dt.timedelta(days=n), b) for b, n in limits.items()), else_="90+"
            )
            assert {*limits, "90+"} == set(DAYS_BUCKETS)
            financed = sa.and_(
                i.seller.is_not(None), i.status.in_(FINANCED_STATUSES), i.financier_due > i.financier_paid
            )
            self._groups = grouped_sums(
                self.conn,
                [i.currency, i.buyer, i.status, days],
                {
                    "open": (i.outstanding > 0, i.outstanding),
                    "due": (financed, i.financier_due),
                    "received": (financed, i.financier_paid),
                    "advance": (financed, i.advance),
                    "financed_open": (financed, i.outstanding),
                },
                [*self.where, i.status.in_(AGING_STATUSES)],
            )
        return self._groups

    # -- headline amounts ----------------------------------------------------------------------------
    def kpis(self) -> list[dict[str, Any]]:
        """Per currency: outstanding, financed, overdue, defaulted (exact strings) and how many invoices each."""
        names = ("outstanding", "financed", "overdue", "defaulted")
        per: dict[str, dict[str, list[int]]] = defaultdict(lambda: {n: [0, 0] for n in names})
        for (currency, _buyer, status, days), s in self.open_groups().items():
            acc = per[str(currency)]
            figures = {
                "outstanding": (s["open"], s["open#"]),
                "financed": (s["due"] - s["received"], s["due#"]),
                "overdue": (s["open"], s["open#"]) if status in OVERDUE_STATUSES and days != "not_due" else (0, 0),
                "defaulted": (s["open"], s["open#"]) if status in DEFAULTED_STATUSES else (0, 0),
            }
            for name, (units, count) in figures.items():
                acc[name][0] += units
                acc[name][1] += count
        return [
            {
                "currency": self.symbol(currency),
                **{n: {"value": self.money(acc[n][0], currency), "count": acc[n][1]} for n in names},
            }
            for currency, acc in sorted(per.items(), key=lambda kv: self.symbol(kv[0]))
            if acc["outstanding"][1] or acc["financed"][1]
        ]

    # -- aging -----------------------------------------------------------------------------------------------
    def aging(self) -> list[dict[str, Any]]:
        """Per currency, the open amount in each bucket of
        :func:`ledger.finance.reports.aging_report` (the same rows, the same buckets)."""
        per: dict[str, dict[str, list[int]]] = defaultdict(lambda: {b: [0, 0] for b in BUCKETS})
        for (currency, _buyer, status, days), s in self.open_groups().items():
            bucket = TROUBLED_BUCKETS.get(str(status)) or str(days)
            per[str(currency)][bucket][0] += s["open"]
            per[str(currency)][bucket][1] += s["open#"]
        charts = []
        for currency, buckets in sorted(per.items(), key=lambda kv: self.symbol(kv[0])):
            if not any(count for _, count in buckets.values()):
                continue
            symbol = self.symbol(currency)
            charts.append(
                _chart(
                    "aging",
                    f"Open receivables by days past due ({symbol})",
                    symbol,
                    [BUCKET_LABELS[b] for b in BUCKETS],
                    [
                        {
                            "label": "open amount",
                            "type": "bar",
                            "values": [self.money(buckets[b][0], currency) for b in BUCKETS],
                            "counts": [buckets[b][1] for b in BUCKETS],
                        }
                    ],
                    total=self.money(sum(units for units, _ in buckets.values()), currency),
                    buckets=list(BUCKETS),
                )
            )
        return charts

    # -- exposure by buyer -----------------------------------------------------------------------------------
    def exposure(self) -> tuple[list[dict[str, Any]], str | None]:
        """Per currency, the rows of :func:`ledger.finance.exposure.exposure_report`
        by buyer (what financiers are still due, and pending decisions), from
        the open receivables already read; with the financier's policy limits
        when it has a policy. And a note when there is something to say."""
        from ledger.errors import LedgerError
        from ledger.finance.exposure import _add_pending, _Group, _group_row, _limit_for
        from ledger.finance.policy import Policy, policy_for
        from ledger.finance.store import participant_names

        if not self.view.sees_all and self.view.financier is None:
            return [], "Exposure is a financier's figure: it shows on a financier's overview and the operator's."
        note = "Limits are per financier's policy; a financier's overview draws its own."
        policy: Policy | None = None
        if self.view.financier is not None:
            note = "No policy file for this financier, so no limits are drawn."
            try:
                policy = policy_for(self.home, None, self.reader.viewer.name)
            except LedgerError as exc:
                note = f"The financier's policy could not be read, so no limits are drawn: {' '.join(str(exc).split())}"
            if policy is not None:
                note = ""
        groups: dict[tuple[str, str], _Group] = defaultdict(_Group)
        for (currency, buyer, _status, _days), s in self.open_groups().items():
            if s["due#"]:
                g = groups[(str(buyer), str(currency))]
                owed = s["due"] - s["received"]
                g.add(_Group(s["due#"], owed, s["advance"], s["financed_open"], s["financed_open"] - owed))
        _add_pending(groups, self.conn, self.scope, "buyer", self.view.financier, self.point.time)
        names = participant_names(self.conn, self.scope)
        per: dict[str, list[dict[str, Any]]] = defaultdict(list)
        ordered = sorted(
            groups.items(),
            key=lambda kv: (self.symbol(kv[0][1]), -(kv[1].outstanding + kv[1].pending), names.get(kv[0][0], kv[0][0])),
        )
        for (buyer, currency), g in ordered:
            limit = _limit_for(policy, self.scope, names, "buyer", buyer, currency)
            per[self.symbol(currency)].append(_group_row(self.scope, "buyer", names, buyer, currency, g, limit))
        charts = []
        for symbol, rows in sorted(per.items()):
            datasets: list[dict[str, Any]] = [
                {
                    "label": "due to financiers",
                    "type": "bar",
                    "stack": "used",
                    "values": [r["outstanding"] for r in rows],
                },
                {"label": "pending decisions", "type": "bar", "stack": "used", "values": [r["pending"] for r in rows]},
            ]
            if any(r["limit"] is not None for r in rows):
                datasets.append({"label": "limit", "type": "line", "values": [r["limit"] for r in rows]})
            labels = [r["name"] or r["buyer"] for r in rows]
            charts.append(
                _chart(
                    "exposure",
                    f"Exposure by buyer ({symbol})",
                    symbol,
                    labels,
                    datasets,
                    rows=rows,
                    policy=None if policy is None else policy.hash,
                )  # fmt: skip
            )
        return charts, note or None

    # -- financing volume -----------------------------------------------------------------------------------
    def financing(self) -> list[dict[str, Any]]:
        """Per currency and business month (the last twelve): the advances paid
        (``financings``) and how many; a financier's view counts its own advances."""
        f = FINANCINGS.c
        months = month_window(self.day, MONTHS_BEFORE, 0)
        if self.view.financier is not None:
            where, joined = self._in_months(FINANCINGS, months, scoped=False)
            where.append(f.financier == self.view.financier)
        else:
            where, joined = self._in_months(FINANCINGS, months)
        month = _month_case(f.block_time, months, self.zone)
        sums = grouped_sums(self.conn, [f.currency, month], {"advance": (None, f.advance)}, where, joined)
        return self._monthly(
            "financing", "Financing volume by month", months, sums, [("advance", "advances paid", "bar")]
        )

    # -- collections against due dates ------------------------------------------------------------------
    def collections(self) -> list[dict[str, Any]]:
        """Per currency and business month (the last twelve and the next
        twelve): the face amount of confirmed receivables due that month,
        against the buyers' payments made in it (``repayments``, recoveries
        included)."""
        r, i = REPAYMENTS.c, INVOICES.c
        months = month_window(self.day, MONTHS_BEFORE, MONTHS_AFTER)
        first = dt.date.fromisoformat(f"{months[0]}-01")
        after = _add_months(dt.date.fromisoformat(f"{months[-1]}-01"), 1)
        due = grouped_sums(
            self.conn,
            [i.currency, _due_month(self.conn)],
            {"due": (None, i.amount)},
            [*self.where, i.due_date >= first, i.due_date < after, i.status.in_(DUE_STATUSES)],
        )
        paid_months = months[: MONTHS_BEFORE + 1]
        where, joined = self._in_months(REPAYMENTS, paid_months)
        month = _month_case(r.block_time, paid_months, self.zone)
        paid = grouped_sums(self.conn, [r.currency, month], {"paid": (None, r.amount)}, where, joined)
        merged: dict[tuple[Any, ...], dict[str, int]] = defaultdict(dict)
        for source in (due, paid):
            for (currency, m), s in source.items():
                merged[(str(currency).lower(), m)].update(s)
        series = [("due", "due (confirmed receivables)", "bar"), ("paid", "collected (buyers' payments)", "bar")]
        return self._monthly("collections", "Collections against due dates", months, merged, series)

    def _in_months(
        self, table: Table, months: list[str], *, scoped: bool = True
    ) -> tuple[list[ColumnElement[bool]], Any]:
        """The conditions on this deployment's rows of ``table`` (``financings``
        or ``repayments``) made in ``months``, and with ``scoped`` those of the
        invoices the view may see (then the join to ``invoices`` they need)."""
        t, i = table.c, INVOICES.c
        where: list[ColumnElement[bool]] = [
            t.chain_id == self.scope.chain_id,
            t.contract == self.scope.invoice_contract,
            *_month_range(t.block_time, months, self.zone),
        ]
        if not scoped or self.view.invoices is None:
            return where, None
        joined = table.join(
            INVOICES, sa.and_(i.chain_id == t.chain_id, i.contract == t.contract, i.invoice_id == t.invoice_id)
        )
        return [*where, self.view.invoices], joined

    def _monthly(
        self,
        key: str,
        title: str,
        months: Sequence[str],
        sums: Mapping[tuple[Any, ...], Mapping[str, int]],
        series: Sequence[tuple[str, str, str]],
    ) -> list[dict[str, Any]]:
        per: dict[str, dict[str, Mapping[str, int]]] = defaultdict(dict)
        for (currency, month), s in sums.items():
            per[str(currency).lower()][str(month)] = s
        charts = []
        for currency, by_month in sorted(per.items(), key=lambda kv: self.symbol(kv[0])):
            symbol = self.symbol(currency)
            datasets = [
                {
                    "label": label,
                    "type": kind,
                    "values": [self.money(by_month.get(m, {}).get(name, 0), currency) for m in months],
                    "counts": [by_month.get(m, {}).get(f"{name}#", 0) for m in months],
                }
                for name, label, kind in series
            ]
            charts.append(_chart(key, f"{title} ({symbol})", symbol, list(months), datasets))
        return charts


def overview(reader: Reader, zone: ZoneInfo, home: Any) -> dict[str, Any]:
    """Everything the overview page shows, for ``reader``'s viewer."""
    o = Overview(reader, zone, home)
    exposure, exposure_note = o.exposure()
    return {
        "view": o.view,
        "block": o.point.block_number,
        "as_of": o.day.isoformat(),
        "kpis": o.kpis(),
        "aging": o.aging(),
        "exposure": exposure,
        "exposure_note": exposure_note,
        "financing": o.financing(),
        "collections": o.collections(),
        "months": (MONTHS_BEFORE, MONTHS_AFTER),
    }


# -- one computation per view and block ------------------------------------------------------------------
def view_key(reader: Reader, home: Path) -> tuple[Any, ...]:
    """What an overview depends on besides the database: the deployment, the
    indexed block, the day, whose view it is, and a financier's policy file
    (its path, size and time: an edited policy is read again)."""
    viewer, scope = reader.viewer, reader.scope
    if viewer.sees_all:
        who: tuple[Any, ...] = ("all",)
    elif "financier" in viewer.roles:
        from ledger.finance.policy import policy_paths

        stamps = []
        for path in policy_paths(home, viewer.name):
            try:
                stat = path.stat()
            except OSError:
                continue
            stamps.append((str(path), stat.st_mtime_ns, stat.st_size))
        who = ("book", viewer.address, viewer.name, tuple(stamps))
    else:
        who = ("sees", viewer.address, viewer.name, tuple(sorted(viewer.roles)))
    day = business_date(reader.at)
    return (scope.chain_id, scope.invoice_contract, scope.indexed_block, day, who)


class FigureCache:
    """The overviews of one app, by :func:`view_key`: each computed once per
    view and indexed block (another request for it meanwhile waits for that
    one), kept at most ``seconds`` (pending decisions change without a
    block), the ``size`` most recent."""

    def __init__(self, size: int = 32, seconds: float = 10.0) -> None:
        self.size, self.seconds = size, seconds
        self._lock = threading.Lock()
        self._figures: OrderedDict[tuple[Any, ...], tuple[float, dict[str, Any]]] = OrderedDict()
        self._computing: dict[tuple[Any, ...], threading.Lock] = {}
        self.computed = 0

    def _fresh(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        found = self._figures.get(key)
        if found is None or time.monotonic() - found[0] > self.seconds:
            return None
        self._figures.move_to_end(key)
        return found[1]

    def get(self, key: tuple[Any, ...], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self._lock:
            found = self._fresh(key)
            if found is not None:
                return found
            lock = self._computing.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                found = self._fresh(key)
            if found is not None:
                return found
            figures = compute()
            with self._lock:
                self.computed += 1
                self._figures[key] = (time.monotonic(), figures)
                self._figures.move_to_end(key)
                while len(self._figures) > self.size:
                    old, _ = self._figures.popitem(last=False)
                    self._computing.pop(old, None)
            return figures
