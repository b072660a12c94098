"""A buyer's grade, from its payment history.

Two steps, kept apart so the first can be tested on hand-made histories:

* :func:`payment_stats` folds a buyer's invoices (pure: no database) into
  :class:`PaymentStats`: how many invoices are in its history, how many were
  paid on time, the average and worst days past due, defaults, and what is
  overdue now;
* :func:`grade_buyer` applies the policy's grades (best first) to the stats.

:func:`buyer_history` reads the records from the indexed ledger (the
``invoices`` and ``repayments`` tables): every invoice of the buyer, the one
being quoted included, so a grade is the buyer's and every quote at one
point grades a buyer alike, whichever of its invoices is quoted.

Multi-tier: the history has one record per invoice the buyer confirmed (a
root), whatever became of it: a split invoice is its tree, open for what its
leaves have open, settled when its last leaf is settled, on that day. So
splitting neither multiplies a buyer's record (ten parts paid on time are
one invoice paid on time) nor counts the Split node beside its parts.

Definitions (``as_of`` is the decision date, a business date):

* an invoice is *in the history* once it is settled (fully paid), or open
  and past its due date by more than ``grace_days`` (not cancelled); an open
  invoice still within its grace period says nothing yet: the buyer may pay
  it on time;
* days past due: of a settled invoice, from the due date to the day of its
  final payment; of an open one, from the due date to ``as_of``; never below 0;
* on time: settled within ``grace_days`` of the due date;
* a default: more than ``default_after_days`` past due (settled late or still open);
* overdue now: open (something outstanding) and past its due date by more
  than ``grace_days``.

When things go wrong (contracts version 4), from the ledger:

* a receivable its holder declared in default (``invoices.defaulted_at``) is
  a default whatever its days past due, and in the history from then on
  (also once recovered or bought back);
* a receivable the buyer disputes is not overdue while the dispute is open
  (the buyer is not in arrears on a debt it contests, and the contract lets
  nobody declare it in default): it stays out of the history until the
  dispute ends, and its dispute counts instead;
* write-offs: the buyer's receivables (roots) with something written off;
  disputes: every dispute the buyer raised (``incidents`` of kind
  ``disputed``, on any node of the tree, however it ended); extensions:
  every maturity extension accepted (``invoices.extensions``). Grades cap
  them with ``max_write_offs``, ``max_disputes`` and ``max_extensions``.
  An extension moves the due date, so days past due count from the new
  one: the count is what shows the buyer needed more time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from ledger.business_time import business_date
from ledger.finance.numbers import decimal_text as _dec
from ledger.finance.numbers import percent_sign as _pct
from ledger.finance.policy import Grade, Policy


@dataclass(frozen=True)
class InvoiceRecord:
    """What grading needs to know about one of the buyer's invoices."""

    invoice_id: int
    amount: int
    outstanding: int
    due_date: dt.date
    #: Date of the payment that settled it in full; None while something is outstanding.
    settled_on: dt.date | None
    status: str
    #: Contracts version 4: declared in default (ever), something written off, disputes raised,
    #: maturity extensions accepted (over the tree: any node).
    defaulted: bool = False
    written_off: bool = False
    disputes: int = 0
    extensions: int = 0


@dataclass(frozen=True)
class PaymentStats:
    invoices: int
    settled: int
    on_time: int
    total_days_past_due: int
    worst_days_past_due: int
    defaults: int
    overdue_invoices: int
    overdue_amount: int
    #: Contracts version 4, from the ledger: of ``defaults``, those declared by their holder; and
    #: receivables written off, disputes raised, extensions accepted (whole history).
    declared_defaults: int = 0
    write_offs: int = 0
    disputes: int = 0
    extensions: int = 0

    @property
    def has_history(self) -> bool:
        return self.invoices > 0

    @property
    def on_time_ratio(self) -> Fraction | None:
        return Fraction(self.on_time, self.invoices) if self.invoices else None

    @property
    def avg_days_past_due(self) -> Fraction:
        return Fraction(self.total_days_past_due, self.invoices) if self.invoices else Fraction(0)

    def as_dict(self) -> dict[str, Any]:
        ratio = self.on_time_ratio
        return {
            "invoices": self.invoices,
            "settled": self.settled,
            "on_time": self.on_time,
            "on_time_ratio": None if ratio is None else _dec(ratio, 4),
            "avg_days_past_due": _dec(self.avg_days_past_due, 2),
            "worst_days_past_due": self.worst_days_past_due,
            "defaults": self.defaults,
            "overdue_invoices": self.overdue_invoices,
            "overdue_amount": self.overdue_amount,
            "declared_defaults": self.declared_defaults,
            "write_offs": self.write_offs,
            "disputes": self.disputes,
            "extensions": self.extensions,
        }


def days_past_due(record: InvoiceRecord, as_of: dt.date, grace_days: int = 0) -> int | None:
    """Days past due counted in the history, or None if not in the history
    (an open invoice enters it only once its grace period is over)."""
    if record.status in ("Cancelled", "Issued"):
        return None
    if record.outstanding == 0:
        if record.settled_on is None:
            return None  # closed by a credit note, never paid in full: no payment to date
        return max(0, (record.settled_on - record.due_date).days)
    if record.status == "Disputed":
        return None  # contested: not in arrears while the dispute is open
    late = (as_of - record.due_date).days
    if late > grace_days or record.defaulted:
        return max(0, late)
    return None


def payment_stats(
    records: Iterable[InvoiceRecord], as_of: dt.date, *, grace_days: int = 0, default_after_days: int = 90
) -> PaymentStats:
    invoices = settled = on_time = total = worst = defaults = overdue = overdue_amount = 0
    declared = write_offs = disputes = extensions = 0
    for record in records:
        write_offs += int(record.written_off)
        disputes += record.disputes
        extensions += record.extensions
        dpd = days_past_due(record, as_of, grace_days)
        if dpd is None:
            continue
        invoices += 1
        total += dpd
        worst = max(worst, dpd)
        if record.defaulted or dpd > default_after_days:
            defaults += 1
            declared += int(record.defaulted)
        if record.outstanding == 0:
            settled += 1
            if dpd <= grace_days:
                on_time += 1
        else:
            overdue += 1
            overdue_amount += record.outstanding
    return PaymentStats(
        invoices,
        settled,
        on_time,
        total,
        worst,
        defaults,
        overdue,
        overdue_amount,
        declared,
        write_offs,
        disputes,
        extensions,
    )


@dataclass(frozen=True)
class GradeResult:
    grade: Grade | None
    #: Plain-words reason: which grade and why not the better ones.
    reason: str
    stats: PaymentStats


def grade_failures(grade: Grade, stats: PaymentStats) -> list[str]:
    """Why ``stats`` miss ``grade`` (empty: they meet it)."""
    out: list[str] = []
    ratio = stats.on_time_ratio
    if grade.min_on_time_ratio is not None and ratio is not None and ratio < Fraction(grade.min_on_time_ratio):
        out.append(f"on-time ratio {_pct(ratio)} is below {_pct(grade.min_on_time_ratio)}")
    if grade.max_avg_days_past_due is not None and stats.avg_days_past_due > Fraction(grade.max_avg_days_past_due):
        out.append(f"average {_dec(stats.avg_days_past_due, 2)} days past due is above {grade.max_avg_days_past_due}")
    if grade.max_worst_days_past_due is not None and stats.worst_days_past_due > grade.max_worst_days_past_due:
        out.append(f"worst {stats.worst_days_past_due} days past due is above {grade.max_worst_days_past_due}")
    if grade.max_defaults is not None and stats.defaults > grade.max_defaults:
        out.append(f"{stats.defaults} default(s) is above {grade.max_defaults}")
    if grade.max_overdue_invoices is not None and stats.overdue_invoices > grade.max_overdue_invoices:
        out.append(f"{stats.overdue_invoices} invoice(s) overdue now is above {grade.max_overdue_invoices}")
    if grade.max_write_offs is not None and stats.write_offs > grade.max_write_offs:
        out.append(f"{stats.write_offs} write-off(s) is above {grade.max_write_offs}")
    if grade.max_disputes is not None and stats.disputes > grade.max_disputes:
        out.append(f"{stats.disputes} dispute(s) is above {grade.max_disputes}")
    if grade.max_extensions is not None and stats.extensions > grade.max_extensions:
        out.append(f"{stats.extensions} extension(s) is above {grade.max_extensions}")
    return out


def _incidents_text(stats: PaymentStats) -> str:
    """``, 1 write-off(s), 2 dispute(s)``: the version-4 counts that are not 0 (none: nothing)."""
    counts = ((stats.write_offs, "write-off(s)"), (stats.disputes, "dispute(s)"), (stats.extensions, "extension(s)"))
    return "".join(f", {n} {what}" for n, what in counts if n)


def grade_buyer(stats: PaymentStats, policy: Policy) -> GradeResult:
    """The first grade (best first) whose thresholds the stats meet."""
    if not stats.has_history:
        if policy.grading.no_history is None:
            return GradeResult(None, "the buyer has no payment history and the policy grades no such buyer", stats)
        grade = policy.grade(policy.grading.no_history)
        return GradeResult(grade, f"grade {grade.name}: the buyer has no payment history yet", stats)
    missed: list[str] = []
    for grade in policy.grades:
        failures = grade_failures(grade, stats)
        if not failures:
            summary = (
                f"{stats.on_time} of {stats.invoices} invoice(s) paid on time, worst "
                f"{stats.worst_days_past_due} days past due, {stats.defaults} default(s), "
                f"{stats.overdue_invoices} overdue now{_incidents_text(stats)}"
            )
            why = f"; not {'; not '.join(missed)}" if missed else ""
            return GradeResult(grade, f"grade {grade.name} ({summary}){why}", stats)
        missed.append(f"{grade.name}: {', '.join(failures)}")
    return GradeResult(None, f"the buyer's payment history meets no grade ({'; '.join(missed)})", stats)


# -- from the indexed ledger -----------------------------------------------------------------


def buyer_history(conn: Any, chain_id: int, contract: str, buyer: str) -> list[InvoiceRecord]:
    """The buyer's invoices from the database, one record per root (an issued
    invoice with all its parts), with the date each was settled (``paid_at``:
    the block date of the repayment that brought a receivable's total to its
    amount, as the projection records it; of a tree, its last leaf's)."""
    from sqlalchemy import func, select

    from ledger.db.models import Incident, Invoice

    rows = conn.execute(
        select(
            Invoice.invoice_id,
            Invoice.root_id,
            Invoice.amount,
            Invoice.outstanding,
            Invoice.due_date,
            Invoice.status,
            Invoice.paid_at,
            Invoice.defaulted_at,
            Invoice.written_off,
            Invoice.extensions,
        )
        .where(Invoice.chain_id == chain_id, Invoice.contract == contract, Invoice.buyer == buyer)
        .order_by(Invoice.invoice_id)
    ).all()
    # Disputes the buyer raised, per receivable (the buyer is the only one who can dispute).
    disputes: dict[int, int] = {
        int(invoice_id): int(n)
        for invoice_id, n in conn.execute(
            select(Incident.invoice_id, func.count())
            .where(
                Incident.chain_id == chain_id,
                Incident.contract == contract,
                Incident.kind == "disputed",
                Incident.actor == buyer,
            )
            .group_by(Incident.invoice_id)
        ).all()
    }
    trees: dict[int, list[Any]] = {}
    for r in rows:
        trees.setdefault(int(r.root_id or r.invoice_id), []).append(r)
    out = []
    for root_id, nodes in trees.items():
        root = next((n for n in nodes if int(n.invoice_id) == root_id), nodes[0])
        # A Split node's outstanding is 0 (its open amount lives in its parts): the tree's open amount
        # is what its nodes have outstanding; it is settled when that is 0, on its last leaf's day.
        outstanding = sum(int(n.outstanding) for n in nodes)
        leaves = [n for n in nodes if n.status != "Split"]
        leaves_paid = [n.paid_at for n in leaves if n.paid_at is not None]
        settled = max(leaves_paid) if outstanding == 0 and leaves_paid else None
        # Each leaf keeps its own due date (an extension moves one part's) and status: the tree is
        # in arrears from the earliest due date of its open, undisputed leaves, and contested (not
        # in arrears) only when every open leaf is disputed; a settled tree is judged against its
        # latest leaf due date.
        open_leaves = [n for n in leaves if int(n.outstanding) > 0]
        undisputed = [n for n in open_leaves if n.status != "Disputed"]
        if undisputed:
            due_date = min(n.due_date for n in undisputed)
        else:
            due_date = max((n.due_date for n in leaves), default=root.due_date)
        status = "Disputed" if open_leaves and not undisputed else str(root.status)
        out.append(
            InvoiceRecord(
                invoice_id=root_id,
                amount=int(root.amount),
                outstanding=outstanding,
                due_date=due_date,
                status=status,
                settled_on=None if settled is None else business_date(settled),
                defaulted=any(n.defaulted_at is not None for n in nodes),
                written_off=any(int(n.written_off or 0) > 0 for n in nodes),
                disputes=sum(disputes.get(int(n.invoice_id), 0) for n in nodes),
                extensions=sum(int(n.extensions or 0) for n in nodes),
            )
        )
    return out
