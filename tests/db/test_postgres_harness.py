"""The database test harness: per-test databases on both backends, and the
throw-away PostgreSQL server (scripts/pgtmp.py) started and stopped by PID."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from ledger.config import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "scripts"))
import pgtmp  # noqa: E402


def _start_or_skip() -> pgtmp.PgServer:
    try:
        return pgtmp.start_server()
    except pgtmp.PostgresUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and no PostgreSQL server could be started: {exc}", pytrace=False)
        pytest.skip(f"no PostgreSQL server: {exc}")


def test_postgres_harness_db_url_is_fresh_and_writable(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            assert sa.inspect(conn).get_table_names() == [], "a test's database must start empty"
            t = sa.Table("t", sa.MetaData(), sa.Column("amount", sa.BigInteger))
            t.create(conn)
            conn.execute(t.insert(), [{"amount": 2**63 - 1}])
            assert conn.execute(sa.select(t.c.amount)).scalar_one() == 2**63 - 1
        assert engine.dialect.name == ("postgresql" if db_url.startswith("postgresql") else "sqlite")
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_harness_server_starts_and_stops_by_pid() -> None:
    server = _start_or_skip()
    try:
        assert pgtmp.pid_alive(server.pid)
        assert (server.datadir / "postmaster.pid").read_text().split("\n")[0] == str(server.pid)
        url = server.create_database("harness_check")
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            assert conn.execute(sa.text("select current_database()")).scalar_one() == "harness_check"
            assert conn.execute(sa.text("show fsync")).scalar_one() == "off"
            assert conn.execute(sa.text("show listen_addresses")).scalar_one() == "127.0.0.1"
        engine.dispose()
    finally:
        server.stop()
    assert not pgtmp.pid_alive(server.pid)
    assert not server.base.exists()


def test_postgres_harness_stop_refuses_a_pid_that_is_not_the_clusters(tmp_path: Path) -> None:
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        datadir = tmp_path / "data"
        datadir.mkdir()
        (datadir / "postmaster.pid").write_text(f"{other.pid + 1}\n{datadir}\n")
        with pytest.raises(pgtmp.PostgresUnavailable, match=f"names PID {other.pid + 1}, not {other.pid}"):
            pgtmp.stop_server(other.pid, datadir)
        (datadir / "postmaster.pid").unlink()
        assert pgtmp.stop_server(other.pid, datadir) is False, "no pid file: the PID is not ours to signal"
        assert other.poll() is None, "the unrelated process must still run"
    finally:
        other.kill()
        other.wait()


@pytest.mark.postgres
def test_postgres_harness_command_line_exports_url_and_stops(tmp_path: Path) -> None:
    script = str(REPO_ROOT / "scripts" / "pgtmp.py")
    started = subprocess.run(
        [sys.executable, script, "start", "--database", "cli_check"], capture_output=True, text=True
    )
    if started.returncode == 3 and os.environ.get("CI", "").lower() != "true":
        pytest.skip(f"no PostgreSQL server: {started.stderr.strip()}")
    assert started.returncode == 0, started.stderr
    env = dict(shlex.split(line)[1].split("=", 1) for line in started.stdout.splitlines())
    pid, base = int(env["SCF_TEST_PG_PID"]), Path(env["SCF_TEST_PG_DIR"])
    try:
        assert env["SCF_TEST_PG_URL"].startswith("postgresql+psycopg://postgres@127.0.0.1:")
        assert env["SCF_TEST_PG_URL"].endswith("/cli_check")
        engine = sa.create_engine(env["SCF_TEST_PG_URL"])
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
        engine.dispose()
    finally:
        stopped = subprocess.run(
            [sys.executable, script, "stop", "--pid", str(pid), "--dir", str(base)], capture_output=True, text=True
        )
    assert stopped.returncode == 0, stopped.stderr
    assert not pgtmp.pid_alive(pid)
    assert not base.exists()


@pytest.mark.postgres
def test_postgres_harness_watchdog_stops_the_server_when_its_owner_dies() -> None:
    """A run killed before its teardown (timeout, SIGKILL) leaves no server behind."""
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    server = None
    try:
        try:
            server = pgtmp.start_server(watch_pid=owner.pid)
        except pgtmp.PostgresUnavailable as exc:
            if os.environ.get("CI", "").lower() == "true":
                raise
            pytest.skip(f"no PostgreSQL server: {exc}")
        assert pgtmp.pid_alive(server.pid) and server.watchdog is not None
        owner.kill()
        owner.wait()
        server.watchdog.wait(timeout=60)  # it exits once it has stopped the server
        assert not pgtmp.pid_alive(server.pid)
        assert not server.base.exists()
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.wait()
        if server is not None and pgtmp.pid_alive(server.pid):
            server.stop()
