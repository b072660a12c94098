"""Crashes and following the head: a sync killed at random moments loses and
repeats nothing; `follow` hands off from the backfill without duplicates or
gaps, and rides out node and database outages."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select, text
from support.indexer import (  # noqa: F401 - fixtures
    LONG,
    Actions,
    Follower,
    RpcProxy,
    actions_fixture,
    assert_matches_chain,
    cursor_block,
    fresh_snapshot,
    head,
    issue_many,
    leftover_processes,
    proxy_fixture,
    read_scalar,
    scf,
    settings_fixture,
    snapshot,
    wait_for,
)

from ledger.config import REPO_ROOT, Settings
from ledger.db.engine import describe_url
from ledger.db.models import Event


def test_indexer_killed_at_random_moments_loses_and_repeats_nothing(
    settings: Settings, ledger: Any, acct: Any, actions: Actions, proxy: RpcProxy, tmp_path: Path
) -> None:
    """SIGKILL `scf index sync` again and again during a backfill (small
    ranges, forced by a refusing node, so kills land between and inside
    transactions); the final database equals one clean run."""
    url = settings.rpc_url
    issue_many(ledger, acct, url, 3000 if LONG else 1200, per_block=20)
    for stop in ("paid", "financed"):
        actions.lifecycle(actions.issue(), stop)
    proxy.max_logs = 200 if LONG else 60
    rng = random.Random(1234)
    kills = 0
    mirrored: list[int] = []  # events in the database after each round
    for round_ in range(12 if LONG else 6):
        # Alternate the fetching between a thread and a forked child process.
        workers = "process" if round_ % 2 else "thread"
        answered = len(proxy.spans)
        proc = subprocess.Popen(
            scf("index", "sync", "--workers", workers, settings=settings, rpc_url=proxy.url),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=REPO_ROOT,
        )
        # Kill at a moment tied to the run's progress, not to the clock: once
        # the node has answered a random number of this run's log requests,
        # after a random pause. A fixed clock raced the start-up time and the
        # sync speed: a fast sync finished the backfill before the kills began.
        count = answered + rng.randint(1, 8 if LONG else 30)
        try:
            wait_for(lambda p=proc, n=count: len(proxy.spans) >= n or p.poll() is not None, 60)
        except AssertionError:
            proc.kill()
            raise
        time.sleep(rng.uniform(0.0, 0.05))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            kills += 1
        proc.wait(30)
        mirrored.append(read_scalar(settings.database_url, select(func.count()).select_from(Event)) or 0)
    finish = subprocess.run(
        scf("index", "sync", "--json", settings=settings, rpc_url=proxy.url),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
    )

    assert finish.returncode == 0, finish.stderr
    total = read_scalar(settings.database_url, select(func.count()).select_from(Event))
    assert kills >= 2, "no kill landed during the backfill: the test proves nothing"
    assert len([n for n in mirrored if 0 < n < total]) >= 2, f"kills did not land mid-backfill: {mirrored} of {total}"
    assert leftover_processes(settings.database_url) == [], "a fetch process outlived its killed parent"
    assert json.loads(finish.stdout)["to_block"] == head(url)
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)


def test_indexer_follow_hands_off_from_backfill_without_duplicates_or_gaps(
    settings: Settings, ledger: Any, acct: Any, actions: Actions, proxy: RpcProxy, tmp_path: Path
) -> None:
    url = settings.rpc_url
    issue_many(ledger, acct, url, 600, per_block=10)
    proxy.max_logs = 80  # a backfill of many ranges, so new blocks arrive during it
    follower = subprocess.Popen(
        scf("index", "follow", "--poll-interval", "0.1", settings=settings, rpc_url=proxy.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    try:
        for i in range(8):  # events while it backfills, at the hand-off, and while it follows
            invoice_id = actions.issue()
            if i % 2:
                actions.lifecycle(invoice_id, "financed")
            time.sleep(0.2)
        target = head(url)
        wait_for(lambda: (cursor_block(settings.database_url) or -1) >= target)
        assert cursor_block(settings.database_url) == target, "the follower went past the head"
    finally:
        follower.send_signal(signal.SIGTERM)
        out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    assert out.strip().endswith("stopped following"), out
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)
    assert_matches_chain(settings.database_url, ledger)


@pytest.mark.parametrize("workers", ["thread", "process"])
def test_indexer_follow_rides_out_node_outages(
    settings: Settings, ledger: Any, acct: Any, actions: Actions, proxy: RpcProxy, tmp_path: Path, workers: str
) -> None:
    """A follower keeps going through a node that answers HTTP 503 in the
    middle of the backfill (seen by the fetch thread or process) and through
    a node whose port is closed while it follows; it retries with a one-line
    message and ends equal to a clean index."""
    url = settings.rpc_url
    issue_many(ledger, acct, url, 400, per_block=10)
    proxy.max_logs = 40  # a backfill of many ranges
    proxy.outage_after = len(proxy.spans) + 5  # the gateway fails mid-backfill

    with Follower(replace(settings, rpc_url=proxy.url), chain_url=url, workers=workers) as follower:
        follower.wait(lambda: bool(follower.retries))
        proxy.outage = None
        actions.lifecycle(actions.issue(), "financed")
        follower.wait(follower.caught_up)
        proxy.close()  # the node's port closes: connection refused
        actions.issue()
        seen = len(follower.retries)
        follower.wait(lambda: len(follower.retries) > seen)
        proxy.resume()
        follower.wait(follower.caught_up)
    retries = follower.retries
    assert not follower.failures, follower.failures
    assert any("HTTP 503" in r for r in retries[:seen]), retries
    assert any("connection refused" in r for r in retries[seen:]), retries
    assert all("\n" not in r for r in retries)
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_indexer_follow_rides_out_a_database_outage(
    settings: Settings, actions: Actions, pg_admin_url: str, tmp_path: Path
) -> None:
    """The PostgreSQL server drops the follower's connections and refuses
    new ones for a while (as in a restart or a failover): the follower
    retries with a one-line message, then catches up, losing nothing."""
    from sqlalchemy.engine import make_url

    name = make_url(settings.database_url).database
    admin = create_engine(pg_admin_url, isolation_level="AUTOCOMMIT")

    def accept_connections(allow: bool) -> None:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}'))
            if not allow:
                conn.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"), {"name": name}
                )

    actions.lifecycle(actions.issue(), "financed")
    try:
        with Follower(settings) as follower:
            follower.wait(follower.caught_up)
            accept_connections(False)
            actions.lifecycle(actions.issue(), "paid")
            follower.wait(lambda: len(follower.retries) >= 2)
            accept_connections(True)
            follower.wait(follower.caught_up)
    finally:
        accept_connections(True)
        admin.dispose()
    retries = follower.retries
    assert not follower.failures, follower.failures
    assert retries and all(
        r.startswith(f"the database {describe_url(settings.database_url)} is unavailable: ") and "\n" not in r
        for r in retries
    ), retries
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)


def test_database_unavailable_tells_passing_failures_from_permanent_ones(db_url: str) -> None:
    """What `follow` retries: a refused connection, yes; a statement that
    fails the same way every time (a timeout on PostgreSQL, a missing table
    on SQLite), no: retrying it would loop for ever."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    from ledger.db import create_db_engine
    from ledger.db.engine import database_unavailable
    from ledger.evm.node import free_port

    sqlite = db_url.startswith("sqlite")
    permanent = "SELECT * FROM no_such_table" if sqlite else "SET statement_timeout = 1; SELECT pg_sleep(1)"
    engine = create_db_engine(db_url)
    try:
        with pytest.raises(OperationalError) as failed, engine.connect() as conn:
            conn.exec_driver_sql(permanent)
    finally:
        engine.dispose()
    assert database_unavailable(db_url, failed.value) is None, failed.value
    if sqlite:
        return  # no server to come back
    url = make_url(db_url)
    nobody = url.set(port=free_port()).render_as_string(hide_password=False)  # no server there (yet)
    no_database = url.set(database="scf_no_such_database").render_as_string(hide_password=False)  # for good
    failures = []
    for target in (nobody, no_database):
        other = create_db_engine(target)
        try:
            with pytest.raises(OperationalError) as refused, other.connect():
                pass
        finally:
            other.dispose()
        failures.append(refused.value)
    assert database_unavailable(nobody, failures[0]) is not None, failures[0]
    assert database_unavailable(no_database, failures[1]) is None, failures[1]
