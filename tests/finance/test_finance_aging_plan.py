"""The aging report reads the open book only: receivables with something
outstanding, through the partial index ``ix_invoices_open`` (migration
0010), so the settled history (written-off receivables with nothing left
keep a troubled status for ever) does not grow it. scripts/bench_growth.py
times it (`aging_growth`); this pins the plan without timing anything."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ledger.config import REPO_ROOT, load_settings
from ledger.finance.reports import aging_report
from ledger.queries import read_db


def _small_ledger(tmp_path: Path) -> tuple[Path, str]:
    """60 invoices of every status, straight through the schema (no node), as the benchmarks write them."""
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    try:
        from bench_api import Parties, fill_ledger
    finally:
        sys.path.remove(str(REPO_ROOT / "scripts"))
    home, url = tmp_path / "home", f"sqlite:///{tmp_path / 'ledger.db'}"
    home.mkdir()
    fill_ledger(url, home, 60, Parties.make())
    return home, url


def test_finance_aging_reads_the_open_book_through_its_index(tmp_path: Path) -> None:
    home, url = _small_ledger(tmp_path)
    seen: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    with read_db(load_settings(home=str(home), db_url=url)) as (conn, scope):
        sa.event.listen(conn.engine, "before_cursor_execute", keep)
        try:
            report = aging_report(conn, scope)
        finally:
            sa.event.remove(conn.engine, "before_cursor_execute", keep)
        [(statement, parameters)] = [(s, p) for s, p in seen if "FROM invoices" in s and "status IN" in s]
        plan = " ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters))
    assert "invoices.outstanding > 0" in statement
    assert "USING INDEX ix_invoices_open " in plan, plan
    assert report["totals"] and report["totals"][0]["invoices"] > 0
