"""A PostgreSQL cluster of a test's own, for the fault tests that restart it
(tests/indexer/test_indexer_faults.py, tests/api/test_serve_faults.py): the
run's shared cluster (``pg_admin_url``) must never go down under the other
tests. Started and stopped by PID through scripts/pgtmp.py."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from ledger.config import REPO_ROOT


def pgtmp() -> Any:
    """scripts/pgtmp.py, imported."""
    scripts = str(REPO_ROOT / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    import pgtmp as module

    return module


@contextmanager
def own_postgres() -> Iterator[Any]:
    """A throw-away cluster (a ``pgtmp.PgServer``: ``restart``, ``stop(remove=False)``,
    ``start_again``), stopped by PID afterwards; the test is skipped with the
    reason when none can be started (failed under CI=true, as the shared one)."""
    module = pgtmp()
    unavailable = os.environ.get("SCF_TEST_PG_UNAVAILABLE")  # scripts/test.sh found none to start
    server = None
    if not unavailable:
        try:
            server = module.start_server(watch_pid=os.getpid())
        except module.PostgresUnavailable as exc:
            unavailable = str(exc)
    if server is None:
        if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true and no PostgreSQL server could be started: {unavailable}", pytrace=False)
        pytest.skip(f"no PostgreSQL server ({unavailable})")
    try:
        yield server
    finally:
        server.stop()
