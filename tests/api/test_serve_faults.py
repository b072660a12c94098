"""`scf serve` through a real PostgreSQL restart: while the server is down
every request that reads the ledger gets a 503 problem document (one line,
no traceback, in the response or the log) and /api/health still answers;
once it is back the same process serves again, without a restart of its own.
The cluster is the test's own (support.postgres), never the run's shared one."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.api import assert_problem, ids
from support.cli import SCF
from support.postgres import own_postgres

LISTENING = re.compile(r"^scf serve: http://127\.0\.0\.1:(\d+) ")


@pytest.fixture()
def restartable(scenario: Any, chain: Any, home_copy: Any) -> Iterator[tuple[Any, Any]]:
    """The scenario indexed into a database of a cluster of this test's own:
    (the PgServer, the data directory's settings pointing at it)."""
    from support.scenario import index

    from ledger.db import dispose_engines

    with own_postgres() as server:
        settings = replace(home_copy.settings, db_url=server.create_database("served"))
        assert index(settings).block == scenario.end
        try:
            yield server, settings
        finally:
            dispose_engines()


def _operator_key(settings: Any) -> str:
    from ledger.api.keys import create_key
    from ledger.db.session import get_engine

    with get_engine(settings.database_url).begin() as conn:
        _row, secret = create_key(conn, participant=None, label="faults")
    return secret


@pytest.mark.postgres
def test_serve_faults_postgres_restarted_under_serve_is_503_then_serves_again(
    restartable: tuple[Any, Any], tmp_path: Path
) -> None:
    server, settings = restartable
    secret = _operator_key(settings)
    log = tmp_path / "serve.log"
    argv = [SCF, "--home", str(settings.home), "--rpc-url", settings.rpc_url, "--db-url", settings.database_url,
            "serve", "--port", "0"]  # fmt: skip
    with log.open("w") as stderr:
        served = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        assert served.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(served.stdout, selectors.EVENT_READ)
            assert sel.select(30), log.read_text()
        listening = LISTENING.match(served.stdout.readline())
        assert listening, log.read_text()
        base = f"http://127.0.0.1:{listening.group(1)}"

        def get(path: str) -> httpx.Response:
            return httpx.get(base + path, headers={"Authorization": f"Bearer {secret}"}, timeout=30)

        assert ids(get("/api/invoices")) == [1, 2, 3, 4]
        server.stop(remove=False)  # fast shutdown by PID: the server's pooled connections are cut
        try:
            down = [get(path) for path in ("/api/invoices", "/api/invoices/1", "/api/status")]
            health = get("/api/health")
        finally:
            server.start_again()  # the same port: the URL the server was given works again
        back = get("/api/invoices")
        stopped = (os.kill(served.pid, signal.SIGTERM), served.wait(30))[1]
    finally:
        if served.poll() is None:
            os.kill(served.pid, signal.SIGKILL)
            served.wait()
        if served.stdout is not None:
            served.stdout.close()

    for response in down:
        # The client learns nothing of the server's setting (URL, driver, remedy): the log has it.
        assert assert_problem(response, 503)["detail"] == "the ledger database is unavailable; retry later"
        assert response.headers["retry-after"] == "5"
    logged = log.read_text()
    assert f"GET /api/invoices: database error on {settings.database_url}: " in logged, logged
    assert "check --db-url / SCF_DB_URL and that the database server accepts connections" in logged, logged
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert ids(back) == [1, 2, 3, 4]
    assert stopped == 0
    assert "Traceback" not in logged, logged


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("who", [None, "auditor"], ids=["no key", "a key"])
def test_serve_faults_database_away_tells_the_client_nothing_of_the_setting(
    who: str | None, api: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The database locked (as by another writer) when a request opens its read,
    before its key is checked: a 503 with a generic detail and a Retry-After, to
    a client with a key or without; the line the CLI would print (the database's
    path, the driver's words, the operator's remedy) goes to the server log only."""
    import logging
    import sqlite3
    from contextlib import contextmanager

    from sqlalchemy.exc import OperationalError

    from ledger.api import deps

    @contextmanager
    def locked(_engine: Any) -> Iterator[Any]:
        raise OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))
        yield  # pragma: no cover - a generator for contextmanager

    monkeypatch.setattr(deps, "snapshot", locked)
    with caplog.at_level(logging.WARNING, "ledger.api"):
        response = api.get(who, "/api/invoices")
    problem = assert_problem(response, 503)
    assert problem["detail"] == "the ledger database is unavailable; retry later"
    assert response.headers["retry-after"] == "5"
    url = api.env.settings.database_url
    assert url not in response.text and "locked" not in response.text
    assert caplog.messages == [
        f"GET /api/invoices: database error on {url}: database is locked; another process (such as `scf index "
        "follow`) holds the write lock; retry, or stop that process"
    ]
