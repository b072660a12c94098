#!/usr/bin/env python3
"""Growth benchmark: do the read side's queries cost the same on a ledger of
1,000,000 invoices as on one of 10,000, when the work asked for is the same?

It writes two SQLite ledgers straight through the real schema, as
scripts/bench_api.py does (its `fill_ledger`, parties and invoice rows; no
chain, no indexer): the small one holds --small invoices issued over the
last two years, with bench_api's statuses by age; the large one holds the
very same invoices (ids shifted) after --large minus --small invoices of
the two years before them, all settled (paid, cancelled or written off), so
that it has a longer history but the same open book. Then, in interleaved
rounds (--rounds), it times on each ledger, one right after the other, the
queries of the read side as a command or the API runs them, in this
process, on an open read of the database (the scope already found):

  list_page  the first page of the filtered invoice list (status Financed,
             50 invoices; `GET /api/invoices?status=Financed&limit=50`,
             `scf invoice list --status Financed --limit 50`):
             ledger.queries.list_invoices;
  aging      the aging of the whole open book (`scf report aging`):
             ledger.finance.reports.aging_report.

Each query runs --repeat times per ledger and round (after one untimed
run); a round's figure is the median of those, and its growth the large
ledger's over the small one's. Each figure is the median of the rounds'
growths (target: at most 2). The run ends with `list_page_growth=<x>` and
`aging_growth=<x>`; with other sizes than 10,000 and 1,000,000 the names
carry them (`list_page_growth_100k_vs_10k`).

    .venv/bin/python scripts/bench_growth.py            # 10,000 and 1,000,000 invoices, 3 rounds
    .venv/bin/python scripts/bench_growth.py --quick    # 10,000 and 100,000 invoices, 2 rounds
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_api import SPAN, InvoiceMaker, Parties, fill_ledger, log, size_label  # noqa: E402

#: Statuses an invoice of the large ledger's history may keep: all settled.
SETTLED = ("Paid", "Cancelled", "WrittenOff")


class HistoryMaker:
    """Invoices 1..``count``: ``count - recent`` of history (issued in the two
    years before the recent ones, all settled), then exactly the rows of
    ``InvoiceMaker(parties, recent, now)``, their ids and blocks shifted."""

    def __init__(self, parties: Parties, count: int, recent: int, now: dt.datetime) -> None:
        self.history = count - recent
        self.recent = InvoiceMaker(parties, recent, now)
        self.old = InvoiceMaker(parties, max(self.history, 1), now - SPAN, seed=17)

    def rows(self, first: int, last: int) -> list[dict[str, Any]]:
        return [self.row(i) for i in range(first, last + 1)]

    def row(self, i: int) -> dict[str, Any]:
        if i > self.history:
            row = self.recent.row(i - self.history)
            for key in ("invoice_id", "root_id"):
                row[key] = i
            for key in ("issued_block", "confirmed_block", "financed_block", "paid_block", "cancelled_block",
                        "defaulted_block", "updated_block"):  # fmt: skip
                if row[key] is not None:
                    row[key] += self.history
            row["doc_hash"] = f"0x{i:064x}"
            return row
        row = self.old.row(i)
        row["number"] = f"OLD-{row['number']}"
        row["number_normalised"] = row["number"].replace("-", "")
        if row["status"] not in SETTLED:  # settled long ago: paid in full
            row.update(
                status="Paid", paid=row["amount"], outstanding=0, paid_block=row["issued_block"] + 50,
                paid_at=row["due_at"], last_repaid_at=row["due_at"], disputed_from=None, defaulted_block=None,
                defaulted_at=None, offer_financier=None, offer_min_advance=None, offer_expires_at=None,
                offer_recourse=None,
            )  # fmt: skip
            if row["financier"] is not None:
                row["financier_paid"] = row["financier_due"]
        return row


def queries() -> dict[str, Callable[[Any, Any], Any]]:
    """The read side's queries, by name: each takes an open connection and the scope."""
    from ledger.finance.reports import aging_report
    from ledger.queries import InvoiceFilter, list_invoices

    page = InvoiceFilter(statuses=("Financed",), limit=50)
    return {
        "list_page": lambda conn, scope: list_invoices(conn, scope, page),
        "aging": lambda conn, scope: aging_report(conn, scope),
    }


def timed(home: Path, url: str, query: Callable[[Any, Any], Any], repeat: int) -> tuple[float, Any]:
    """The median seconds of ``repeat`` runs of ``query`` (after one untimed), and its answer."""
    from ledger.config import load_settings
    from ledger.queries import read_db

    settings = load_settings(home=str(home), db_url=url)
    with read_db(settings) as (conn, scope):
        answer = query(conn, scope)
        seconds = []
        for _ in range(repeat):
            began = time.perf_counter()
            query(conn, scope)
            seconds.append(time.perf_counter() - began)
    return statistics.median(seconds), answer


def _shape(answer: Any) -> Any:
    """What must be equal on both ledgers: the page's invoice numbers, the aging's figures."""
    if isinstance(answer, list):
        return [r["number"] for r in answer]
    return answer["totals"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=10_000, help="invoices of the small ledger (default 10000)")
    parser.add_argument("--large", type=int, default=1_000_000, help="invoices of the large one (default 1000000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each query per ledger and round (default 5)")
    parser.add_argument("--quick", action="store_true", help="10,000 and 100,000 invoices, 2 rounds")
    args = parser.parse_args()
    if args.quick:
        args.large, args.rounds = 100_000, 2
    if not 1_000 <= args.small < args.large or args.rounds < 1 or args.repeat < 1:
        parser.error("--small must be at least 1000 and below --large; --rounds and --repeat at least 1")

    work = Path(tempfile.mkdtemp(prefix="scf-bench-growth-"))
    try:
        parties = Parties.make()
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        ledgers: dict[int, tuple[Path, str]] = {}
        for count in (args.small, args.large):
            home = work / f"home-{size_label(count)}"
            home.mkdir()
            url = f"sqlite:///{work / f'ledger-{size_label(count)}.db'}"
            maker = None if count == args.small else HistoryMaker(parties, count, args.small, now)
            filled = fill_ledger(url, home, count, parties, maker=maker, now=now)
            log(f"SQLite, {count:,} invoices: written in {filled['seconds']:.1f}s")
            ledgers[count] = (home, url)
        growth: dict[str, list[float]] = {name: [] for name in queries()}
        for number in range(1, args.rounds + 1):
            for name, query in queries().items():
                (small, a), (large, b) = (timed(*ledgers[n], query, args.repeat) for n in (args.small, args.large))
                if _shape(a) != _shape(b):
                    raise SystemExit(f"{name}: the two ledgers' answers differ; the comparison would mean nothing")
                growth[name].append(large / small)
                log(
                    f"round {number}: {name}: {small * 1000:.2f} ms at {args.small:,}, {large * 1000:.2f} ms at "
                    f"{args.large:,} ({growth[name][-1]:.2f})"
                )
        standard = (args.small, args.large) == (10_000, 1_000_000)
        suffix = "" if standard else f"_{size_label(args.large)}_vs_{size_label(args.small)}"
        for name, ratios in growth.items():
            log(f"{name}_growth{suffix}={statistics.median(ratios):.2f}")
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
