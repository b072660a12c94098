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


# -- waking on new heads (issue 18) ----------------------------------------------------------------
class FakeHeads:
    """A WebSocket JSON-RPC endpoint on loopback (a thread of this test) that
    answers ``eth_subscribe`` as ``mode`` says: "announce" (a subscription;
    :meth:`announce` sends a new head to every subscriber), "refuse" (an
    error, as a node without the method) or "close" (a subscription, then
    the first connection is closed)."""

    def __init__(self, mode: str) -> None:
        import threading

        from websockets.sync.server import serve

        self.mode = mode
        self.subscribers: list[Any] = []
        self.connections = 0
        self.subscribed = threading.Event()

        def handler(conn: Any) -> None:
            self.connections += 1
            first = self.connections == 1
            for message in conn:
                call = json.loads(message)
                if self.mode == "refuse":
                    conn.send(json.dumps({"jsonrpc": "2.0", "id": call["id"],
                                          "error": {"code": -32601, "message": "Method not found"}}))  # fmt: skip
                    continue
                conn.send(json.dumps({"jsonrpc": "2.0", "id": call["id"], "result": "0xfeed"}))
                if self.mode == "close" and first:
                    conn.close()
                    return
                self.subscribers.append(conn)
                self.subscribed.set()

        self.server = serve(handler, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def announce(self, number: int = 7) -> None:
        head = {"number": hex(number), "hash": "0x" + "ab" * 32}
        note = {"jsonrpc": "2.0", "method": "eth_subscription", "params": {"subscription": "0xfeed", "result": head}}
        for conn in self.subscribers:
            conn.send(json.dumps(note))

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(10)


@pytest.fixture(name="fake_heads")
def fake_heads_fixture(request: pytest.FixtureRequest) -> Any:
    node = FakeHeads(getattr(request, "param", "announce"))
    yield node
    node.close()


def _waiting(waiter: Any, seconds: float) -> tuple[Any, list[bool]]:
    """``waiter.wait(seconds)`` in a thread; the thread and where its answer goes."""
    import threading

    answer: list[bool] = []
    thread = threading.Thread(target=lambda: answer.append(waiter.wait(seconds)), daemon=True)
    thread.start()
    return thread, answer


def test_head_waiter_wakes_on_an_announced_block_long_before_its_poll(fake_heads: FakeHeads) -> None:
    """Subscribed, a wait of an hour ends when the node announces a block
    (the thread would still be waiting at the join's limit otherwise)."""
    import threading

    from ledger.indexer.api import HeadWaiter

    notices: list[str] = []
    waiter = HeadWaiter(fake_heads.url, threading.Event(), 3600.0, notices.append)
    try:
        # Just subscribed: it looks once more at once (a short wait, so that a broken subscription fails fast).
        assert waiter.wait(0.5) is False and waiter.heads is not None
        assert fake_heads.subscribed.wait(30)
        thread, answer = _waiting(waiter, 3600)
        fake_heads.announce(42)
        thread.join(30)
        assert not thread.is_alive(), "an announced block did not end the wait"
        assert answer == [False]
        assert waiter.heads is not None and waiter.heads.head == 42
    finally:
        waiter.close()
    assert notices == [f"following new heads at {fake_heads.url} (and polling every 3600s)"]


def test_head_waiter_stops_within_a_wait_on_the_subscription(fake_heads: FakeHeads) -> None:
    """`stop` (set by SIGTERM's handler or another thread) ends a wait on the
    socket, though nothing is announced."""
    import threading

    from ledger.indexer.api import HeadWaiter

    stop = threading.Event()
    waiter = HeadWaiter(fake_heads.url, stop, 3600.0, lambda _line: None)
    try:
        waiter.wait(0.5)
        assert waiter.heads is not None
        thread, answer = _waiting(waiter, 3600)
        stop.set()
        thread.join(30)
        assert not thread.is_alive(), "stop did not end the wait"
        assert answer == [True]
    finally:
        waiter.close()


def test_head_waiter_subscription_off_polls_and_says_so_once() -> None:
    """`--ws-url off` (or an RPC URL with no WebSocket to derive): no subscription is
    tried, and one notice says that follow polls, as the other ways say theirs."""
    import threading

    from ledger.evm.heads import ws_url_for
    from ledger.indexer.api import HeadWaiter

    assert ws_url_for("http://127.0.0.1:8545", "off") is None
    notices: list[str] = []
    waiter = HeadWaiter(ws_url_for("http://127.0.0.1:8545", "OFF "), threading.Event(), 0.05, notices.append)
    try:
        assert [waiter.wait(0.01) for _ in range(3)] == [False, False, False]
        assert waiter.heads is None
    finally:
        waiter.close()
    assert notices == ["polling the head every 0.05s (new-heads subscription off)"]


@pytest.mark.parametrize("kind", ["refused", "no websocket", "nothing listening"])
def test_head_waiter_polls_when_no_subscription_is_offered(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A node that refuses eth_subscribe, an HTTP-only endpoint (as the test
    proxy and ethereumjs), or a closed port: follow polls and says so once;
    it tries to subscribe again later (not at every wait) only where the
    refusal may pass (a closed port), not where the endpoint answered."""
    import threading

    from ledger.evm.node import free_port
    from ledger.indexer import api

    node = FakeHeads("refuse") if kind == "refused" else None
    proxy = RpcProxy("http://127.0.0.1:1") if kind == "no websocket" else None
    url = node.url if node else f"ws://127.0.0.1:{proxy.port if proxy else free_port()}"
    reason = {
        "refused": "the node refused eth_subscribe newHeads: Method not found",
        "no websocket": "no WebSocket there: it answered HTTP/1.0 501 Unsupported method ('GET')",
        "nothing listening": "connection refused",
    }[kind]
    attempts: list[str] = []
    real = api.HeadWaiter._subscribe
    monkeypatch.setattr(api.HeadWaiter, "_subscribe", lambda self: attempts.append("try") or real(self))
    notices: list[str] = []
    stop = threading.Event()
    waiter = api.HeadWaiter(url, stop, 0.05, notices.append)
    try:
        assert waiter.wait(0.05) is False
        assert waiter.heads is None
        assert waiter.retry_at > time.monotonic() + 0.5  # not due for a second: the next waits only poll
        assert waiter.wait(0.05) is False and waiter.wait(0.05) is False
        stop.set()
        assert waiter.wait(30) is True  # a poll's wait ends at stop too (at once: it is set)
    finally:
        waiter.close()
        if node:
            node.close()
        if proxy:
            proxy.close()
    assert notices == [f"no new-heads subscription at {url} ({reason}); polling the head every 0.05s"]
    assert attempts == ["try", "try", "try", "try"]  # each wait asks; only the first one was due
    assert waiter.failures == 1
    assert (waiter.retry_at == float("inf")) == (kind != "nothing listening"), waiter.retry_at


@pytest.mark.parametrize("fake_heads", ["close"], indirect=True)
def test_head_waiter_subscribes_again_after_losing_the_connection(
    fake_heads: FakeHeads, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A subscription whose connection closes: follow says so, polls, and
    subscribes again once the retry is due; the new one wakes it."""
    import threading

    from ledger.indexer import api

    notices: list[str] = []
    waiter = api.HeadWaiter(fake_heads.url, threading.Event(), 0.05, notices.append)
    try:
        assert waiter.wait(0.5) is False and waiter.heads is not None
        # The node closed it right after answering: seen before the next sync, or in the wait.
        wait_for(lambda: (waiter.before_sync(), waiter.heads is None)[1], 30)
        assert waiter.wait(0.05) is False and waiter.heads is None  # polled: the retry is 1 s away
        monkeypatch.setattr(waiter, "retry_at", 0.0)
        assert waiter.wait(0.5) is False and waiter.heads is not None  # subscribed again
        assert fake_heads.subscribed.wait(30)
        thread, answer = _waiting(waiter, 3600)
        fake_heads.announce()
        thread.join(30)
        assert answer == [False], "the new subscription did not wake the wait"
    finally:
        waiter.close()
    assert notices == [
        f"following new heads at {fake_heads.url} (and polling every 0.05s)",
        f"lost the new-heads subscription at {fake_heads.url} (the connection closed); "
        "polling the head every 0.05s until it is back",
        f"following new heads at {fake_heads.url} (and polling every 0.05s)",
    ]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_indexer_follow_indexes_a_new_block_without_waiting_for_its_poll(
    settings: Settings, actions: Actions, chain: Any
) -> None:
    """`scf index follow --poll-interval 3600` on Anvil: a new invoice is in
    the database long before the next poll, because Anvil announces the
    block over WebSocket on its HTTP port; SIGTERM stops it at once all the
    same (the test's wait would otherwise run out, not the poll)."""
    follower = subprocess.Popen(
        scf("index", "follow", "--poll-interval", "3600", settings=settings),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    try:
        wait_for(lambda: (cursor_block(settings.database_url) or -1) >= head(settings.rpc_url), 60)
        invoice_id = actions.issue()
        query = select(func.count()).select_from(Event).where(Event.invoice_id == invoice_id)
        wait_for(lambda: (read_scalar(settings.database_url, query) or 0) > 0 or follower.poll() is not None, 60)
        assert follower.poll() is None, follower.communicate()
    finally:
        follower.send_signal(signal.SIGTERM)
        out, err = follower.communicate(timeout=30)
    assert follower.returncode == 0, err
    assert out.strip().endswith("stopped following"), out
    assert err == f"following new heads at ws://127.0.0.1:{chain.port} (and polling every 3600s)\n"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("given", "code", "message"),
    [
        (["--ws-url", "http://127.0.0.1:8545"], 2,
         "invalid --ws-url 'http://127.0.0.1:8545': give a ws:// or wss:// URL, or off"),
        (["env", "ws//127.0.0.1:8546"], 3,
         "invalid ws_url 'ws//127.0.0.1:8546': use a ws:// or wss:// URL, or off"),
    ],
)  # fmt: skip
def test_indexer_follow_refuses_a_ws_url_that_is_not_one(
    settings: Settings, chain: Any, given: list[str], code: int, message: str
) -> None:
    """One line, the family's exit code, nothing followed, nothing written."""
    from support.bad_input import db_digest

    env = {**os.environ, "SCF_WS_URL": given[1]} if given[0] == "env" else None
    options = [] if env else given
    before = (head(settings.rpc_url), db_digest(settings.database_url))
    done = subprocess.run(
        scf("index", "follow", *options, settings=settings),
        capture_output=True, text=True, cwd=REPO_ROOT, env=env, timeout=60,
    )  # fmt: skip
    assert (done.returncode, done.stdout, done.stderr) == (code, "", f"Error: {message}\n")
    assert (head(settings.rpc_url), db_digest(settings.database_url)) == before
