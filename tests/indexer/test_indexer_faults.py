"""Faults on the storage side, each checked against the chain and the
database: SQLite locked by another writer (every command that writes the
ledger database), a full disk while indexing, an Anvil killed with SIGKILL
and restarted from its saved state (the blocks it lost come back with new
hashes: a reorg the indexer rolls back), and a real PostgreSQL restart
under `follow`. (`scf serve` through a restart: tests/api/test_serve_faults.py.)"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.bad_input import db_digest
from support.finance import EXAMPLE, Book
from support.indexer import (  # noqa: F401 - fixtures
    DUE,
    Actions,
    Follower,
    RpcProxy,
    actions_fixture,
    assert_matches_chain,
    cursor_block,
    fresh_snapshot,
    head,
    issue_many,
    proxy_fixture,
    rpc,
    scf,
    settings_fixture,
    snapshot,
)
from support.postgres import own_postgres

from ledger.cli import main
from ledger.config import REPO_ROOT, Settings


# -- SQLite locked by another writer -------------------------------------------------------------------
@pytest.fixture()
def locked_home(home_copy: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The settings of a private data directory with a SQLite ledger of its
    own, whose writers give up on a held lock after 50 ms instead of 60 s
    (no engine of this process is left open with the old timeout)."""
    from ledger.db import dispose_engines
    from ledger.db import engine as db_engine

    settings = replace(home_copy.settings, db_url=f"sqlite:///{tmp_path / 'ledger.db'}")
    dispose_engines()
    monkeypatch.setattr(db_engine, "SQLITE_BUSY_SECONDS", 0.05)
    yield settings
    dispose_engines()


def _cli(settings: Settings, *args: str) -> Any:
    return CliRunner().invoke(
        main, ["--home", str(settings.home), "--rpc-url", settings.rpc_url, "--db-url", settings.database_url, *args]
    )


def test_indexer_faults_every_writer_of_a_locked_sqlite_database_says_who_holds_it(
    locked_home: Settings, ledger: Any, acct: Any
) -> None:
    """Another process holds SQLite's write lock (as a running `scf index
    follow` does during a range): each command that writes the ledger
    database ends with one line naming the lock and what to do, exit 3,
    and neither the database nor the chain changed."""
    settings = locked_home
    invoice_id = Book(ledger, acct).issue()
    quoted = _cli(settings, "finance", "quote", str(invoice_id), "--as", "financier", "--policy", str(EXAMPLE))
    assert quoted.exit_code == 0, quoted.output
    created = _cli(settings, "api-key", "create", "--operator", "--label", "ops", "--json")
    assert created.exit_code == 0, created.output
    key_id = json.loads(created.stdout)["key_id"]

    message = (
        f"database error on {settings.database_url}: database is locked; another process (such as "
        "`scf index follow`) holds the write lock; retry, or stop that process"
    )
    writers = [
        ("finance", "quote", str(invoice_id), "--as", "financier", "--policy", str(EXAMPLE)),
        ("finance", "execute", "1"),
        ("finance", "cancel", "1", "--reason", "withdrawn"),
        ("api-key", "create", "--for", "buyer"),
        ("api-key", "revoke", key_id),
        ("index", "rebuild"),
        ("index", "sync"),
    ]
    before = (head(settings.rpc_url), db_digest(settings.database_url))
    holder = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the write lock, held as another writer holds it
        results = {args[:2]: _cli(settings, *args) for args in writers}
    finally:
        holder.rollback()
        holder.close()
    said = {command: (r.exit_code, r.stdout, r.stderr) for command, r in results.items()}
    assert said == {command: (3, "", f"Error: {message}\n") for command in said}
    assert (head(settings.rpc_url), db_digest(settings.database_url)) == before
    # Once the lock is free, the same command goes through.
    assert _cli(settings, "finance", "cancel", "1").exit_code == 0


# -- disk full while indexing ----------------------------------------------------------------------------
FULL = (
    "Error: database error on {url}: database or disk is full; free space where the database is stored, "
    "then run the command again (nothing was half-written)\n"
)


def _as_indexed_to(settings: Settings, block: int, tmp_path: Path) -> dict[str, Any]:
    """A clean index of the chain up to ``block`` only, snapshotted."""
    from ledger.indexer import sync

    url = f"sqlite:///{tmp_path / f'clean-{block}-{time.monotonic_ns()}.db'}"
    sync(replace(settings, db_url=url), to_block=block)
    return snapshot(url)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_indexer_faults_disk_full_while_indexing_keeps_whole_ranges(
    settings: Settings, ledger: Any, acct: Any, actions: Actions, proxy: RpcProxy, tmp_path: Path
) -> None:
    """The database file cannot grow (SQLite's max_page_count: SQLITE_FULL,
    as a full disk gives) in the middle of a backfill of many ranges: the
    sync stops with one line (exit 3), the database holds exactly the ranges
    committed before (equal to a clean index up to its cursor); once there
    is room again the same command finishes and `scf verify` passes."""
    from sqlalchemy import event

    from ledger.db import dispose_engines, get_engine

    url = settings.rpc_url
    actions.lifecycle(actions.issue(), "financed")
    assert _cli(settings, "index", "sync").exit_code == 0
    start = cursor_block(settings.database_url)
    issue_many(ledger, acct, url, 240, per_block=10)
    actions.lifecycle(actions.issue(), "paid")
    proxy.max_logs = 40  # many ranges: one transaction each
    engine = get_engine(settings.database_url)  # the engine the command (in this process) writes with
    with engine.connect() as conn:
        pages = int(conn.exec_driver_sql("PRAGMA page_count").scalar_one())
    event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute(f"PRAGMA max_page_count={pages + 4}"))
    engine.dispose()  # every connection from now on has the cap
    try:
        full = _cli(replace(settings, rpc_url=proxy.url), "index", "sync")
    finally:
        dispose_engines()  # room again: new connections have no cap
    stopped = cursor_block(settings.database_url)

    assert (full.exit_code, full.stdout, full.stderr) == (3, "", FULL.format(url=settings.database_url))
    assert start is not None and stopped is not None and start < stopped < head(url), (start, stopped)
    assert snapshot(settings.database_url) == _as_indexed_to(settings, stopped, tmp_path)

    again = _cli(settings, "index", "sync")
    verified = _cli(settings, "verify")

    assert again.exit_code == 0, again.output
    assert verified.exit_code == 0 and verified.stdout.startswith("verified: "), verified.output
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)


@contextmanager
def small_disk(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``path`` (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (CI runs the tests as root)")
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {' '.join(mounted.stderr.split())}")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", str(path)], check=True)


def _free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_indexer_faults_a_really_full_disk_stops_the_sync_in_one_line(
    settings: Settings, ledger: Any, acct: Any, actions: Actions, proxy: RpcProxy, tmp_path: Path
) -> None:
    """The same on a real file system that runs out of space (a small
    tmpfs nearly filled by another file), `scf index sync` and `scf verify`
    run as processes: one line, exit 3, whole ranges only; once the other
    file is deleted the same command finishes and `scf verify` passes."""
    url = settings.rpc_url
    with small_disk(tmp_path / "disk", "16m") as disk:
        settings = replace(settings, db_url=f"sqlite:///{disk / 'ledger.db'}")
        actions.lifecycle(actions.issue(), "financed")
        first = subprocess.run(scf("index", "sync", settings=settings), capture_output=True, text=True, cwd=REPO_ROOT)
        assert first.returncode == 0, first.stderr
        start = cursor_block(settings.database_url)
        issue_many(ledger, acct, url, 400, per_block=10)
        ballast = disk / "ballast"
        # Room for a few ranges' pages (16 KiB each, written to the WAL), not for all of them.
        ballast.write_bytes(b"\0" * (_free_bytes(disk) - 1024 * 1024))
        proxy.max_logs = 40

        full = subprocess.run(
            scf("index", "sync", settings=settings, rpc_url=proxy.url), capture_output=True, text=True, cwd=REPO_ROOT
        )
        stopped = cursor_block(settings.database_url)

        assert (full.returncode, full.stdout, full.stderr) == (3, "", FULL.format(url=settings.database_url))
        assert start is not None and stopped is not None and start < stopped < head(url), (start, stopped)
        assert snapshot(settings.database_url) == _as_indexed_to(settings, stopped, tmp_path)

        ballast.unlink()
        again = subprocess.run(scf("index", "sync", settings=settings), capture_output=True, text=True, cwd=REPO_ROOT)
        verified = subprocess.run(scf("verify", settings=settings), capture_output=True, text=True, cwd=REPO_ROOT)

        assert again.returncode == 0, again.stderr
        assert verified.returncode == 0 and verified.stdout.startswith("verified: "), verified.stderr
        assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)


# -- Anvil killed with SIGKILL, restarted from its saved state ---------------------------------------------
#: The parties of the lifecycle up to "paid" (support.indexer.Actions): account -> (name, roles, HKD minted).
PARTIES = {
    "supplier": ("Kowloon Precision Parts Ltd", "supplier", None),
    "buyer": ("Tsuen Wan Electronics Ltd", "buyer", "5000000.00"),
    "financier": ("Harbour Trade Finance Ltd", "financier", "10000000.00"),
}
#: Compiled artifacts the test sessions share (tests/conftest.py): the node's deploy skips the compiler.
ARTIFACT_CACHE = REPO_ROOT / ".pytest_cache" / "scf-artifacts"


class OwnNode:
    """`scf node start` in a data directory of its own (its own port and
    state file); :meth:`deploy` puts the contracts and the parties on it."""

    def __init__(self, home: Path, db_url: str) -> None:
        from ledger.config import load_settings
        from ledger.evm.node import free_port

        self.home = home
        self.port = free_port()
        self.env = {**os.environ, "SCF_HOME": str(home), "SCF_NODE_PORT": str(self.port)}
        self.settings = load_settings(home=str(home), rpc_url=f"http://127.0.0.1:{self.port}", db_url=db_url)
        self.state = home / "node" / "state.json"

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            scf(*args, settings=self.settings), capture_output=True, text=True, cwd=REPO_ROOT, env=self.env,
            timeout=timeout,
        )  # fmt: skip

    def start(self) -> None:
        started = self.run("node", "start")
        assert started.returncode == 0, started.stderr

    def pid(self) -> int:
        return int(json.loads((self.home / "node" / "anvil.json").read_text())["pid"])

    def deploy(self) -> Any:
        """Deploy, admit the parties of :data:`PARTIES` and fund them (as
        tests/conftest.py does for the session chain); a Ledger on it."""
        import datetime as dt

        from ledger.evm.accounts import DEV_NAMES, dev_account
        from ledger.evm.chain import connect
        from ledger.evm.compiler import compile_contracts
        from ledger.evm.deploy import deploy
        from ledger.lifecycle import Ledger, parse_roles

        if ARTIFACT_CACHE.exists():
            shutil.copytree(ARTIFACT_CACHE, self.settings.artifacts_dir, dirs_exist_ok=True)
        w3 = connect(self.settings.rpc_url)
        operator = dev_account(DEV_NAMES.index("operator"))
        build, _ = compile_contracts(self.settings)
        ledger = Ledger(self.settings, w3, deploy(self.settings, w3, build, operator))
        until = dt.date.today() + dt.timedelta(days=3 * 365)
        for account, (name, roles, funds) in PARTIES.items():
            address = dev_account(DEV_NAMES.index(account)).address
            ledger.add_participant(operator, name, address, parse_roles(roles), until)
            if funds:
                ledger.mint(operator, address, funds, "HKD")
        return ledger

    def await_state_write(self, timeout: float = 20.0) -> None:
        """Until Anvil has written its state file after this call (every 5 s)."""
        since = time.time()
        deadline = time.monotonic() + timeout
        while not (self.state.exists() and self.state.stat().st_mtime > since + 0.05):
            assert time.monotonic() < deadline, f"no state write within {timeout:g}s"
            time.sleep(0.02)
        time.sleep(0.2)  # the write itself takes a moment; a kill must not cut it

    def stop(self) -> None:
        self.run("node", "stop")


@pytest.fixture()
def own_node(tmp_path: Path) -> Iterator[OwnNode]:
    from ledger.db import dispose_engines
    from ledger.evm.node import pid_alive

    node = OwnNode(tmp_path / "home", f"sqlite:///{tmp_path / 'ledger.db'}")
    node.start()
    try:
        yield node
    finally:
        dispose_engines()
        node.stop()
        with contextlib.suppress(OSError, ValueError):  # stopped already, or never recorded
            if pid_alive(node.pid()):
                os.kill(node.pid(), signal.SIGKILL)


@pytest.mark.slow
def test_indexer_faults_anvil_killed_and_restarted_from_its_state_is_rolled_back(
    own_node: OwnNode, acct: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`scf node start` runs Anvil with --state-interval 5: a SIGKILL loses
    the blocks mined since its last state write. The database had indexed
    them; after the restart the head is lower (a sync then changes nothing
    and says so, as for a lagging node). A transaction whose nonce was read
    before the kill is ahead of the node's: the command ends in one line
    naming it, nothing is mined, and a clean restart of the node drops it.
    Once new blocks are mined where the lost ones were,
    with new hashes, `scf index sync` rolls the lost ones back as a reorg:
    `scf verify` passes and the database equals a fresh index of the chain."""
    from web3.eth import Eth

    from ledger.indexer import sync

    node = own_node
    settings = node.settings
    url = settings.rpc_url
    ledger = node.deploy()
    actions = Actions(ledger, acct, url)
    actions.lifecycle(actions.issue(), "financed")
    kept = node.run("index", "sync")
    assert kept.returncode == 0, kept.stderr
    node.await_state_write()
    saved = head(url)
    # Quickly, before the next write: blocks the kill will lose, indexed.
    lost_invoice = actions.issue("2500.00")
    actions.lifecycle(lost_invoice, "paid")
    assert sync(settings).block == head(url) > saved
    indexed = snapshot(settings.database_url)
    supplier = acct("supplier").address
    nonce_before = ledger.w3.eth.get_transaction_count(supplier, "pending")
    os.kill(node.pid(), signal.SIGKILL)
    node.start()

    assert head(url) == saved, "a state write landed after the blocks meant to be lost"
    nonce_after = ledger.w3.eth.get_transaction_count(supplier, "pending")
    assert nonce_after < nonce_before
    lagging = node.run("index", "sync", "--json")
    assert lagging.returncode == 0, lagging.stderr
    assert lagging.stderr.startswith(f"warning: the node's head {saved} is below the indexed block ")
    assert lagging.stderr.endswith("run `scf index sync --rewind`\n")
    assert snapshot(settings.database_url) == indexed

    # A signing command that read its nonce before the kill and sends after the restart.
    # Only the sending's own read is stale: later reads (why it is not mined) ask the node.
    read_nonce = Eth.get_transaction_count
    stale_reads = [nonce_before]

    def read_before_the_kill(self: Any, account: Any, block_identifier: Any = None) -> Any:
        if (account, block_identifier) == (supplier, "pending") and stale_reads:
            return stale_reads.pop()
        return read_nonce(self, account, block_identifier)

    monkeypatch.setattr(Eth, "get_transaction_count", read_before_the_kill)
    issue = ["invoice", "issue", "--as", "supplier", "--buyer", "buyer", "--number", "INV-AFTER-KILL",
             "--amount", "700.00", "--due", DUE.isoformat()]  # fmt: skip
    stale = CliRunner().invoke(main, ["--home", str(node.home), *issue], env={"SCF_TX_TIMEOUT": "1"})
    monkeypatch.undo()

    assert (stale.exit_code, stale.stdout) == (3, ""), stale.output
    # One line that names the transaction (exit 3): the node holds it back, as its nonce is ahead of
    # the node's; it would be mined once other transactions used the nonces before it.
    assert stale.stderr.startswith("Error: transaction 0x") and stale.stderr.count("\n") == 1, stale.stderr
    assert " was not mined within 1s: its nonce " in stale.stderr, stale.stderr
    assert "so the node holds it back (did the node lose blocks" in stale.stderr, stale.stderr
    # What fills the gap, and that a rerun would have both mined (no promise that a restart empties a pool).
    rerun = "running this command again would send it a second time and, once the gap is filled, both would be mined"
    assert rerun in stale.stderr and "empty its pool" not in stale.stderr, stale.stderr
    assert "scf tx replace" not in stale.stderr, "a replacement at the same nonce would be held back too"
    queued = rpc(url, "txpool_content")["queued"]
    assert [int(tx["nonce"], 16) for tx in queued[supplier.lower()].values()] == [nonce_before], queued
    assert head(url) == saved
    node.stop()  # a node restarted cleanly starts with an empty pool: the stale transaction is gone
    node.start()
    assert rpc(url, "txpool_content") == {"pending": {}, "queued": {}}

    # New blocks where the lost ones were: the same heights, other hashes.
    issued = node.run(*issue, "--no-sync", "--json")  # indexed below, by `scf index sync`
    assert issued.returncode == 0, issued.stderr
    assert json.loads(issued.stdout)["invoice_id"] == lost_invoice  # the lost invoice's id, taken again
    rolled = node.run("index", "sync", "--json")
    verified = node.run("verify")

    assert rolled.returncode == 0, rolled.stderr
    assert json.loads(rolled.stdout)["reorgs"] == 1, rolled.stdout
    assert verified.returncode == 0 and verified.stdout.startswith("verified: "), verified.stderr
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)
    assert_matches_chain(settings.database_url, ledger)
    assert ledger.w3.eth.get_transaction_count(supplier, "pending") == nonce_after + 1  # the stale one is gone


# -- PostgreSQL restarted under `scf index follow` ---------------------------------------------------------
@pytest.mark.postgres
def test_indexer_faults_postgres_restarted_under_follow_is_waited_for(
    chain: Any, ledger: Any, actions: Actions, tmp_path: Path
) -> None:
    """A real restart of the PostgreSQL server (fast shutdown by PID, which
    ends the follower's sessions, then the same port again; a cluster of the
    test's own) under `follow`: it says in one line that the database is
    unavailable and retries, then catches up with the blocks mined
    meanwhile, and the database equals a fresh index of the chain."""
    from ledger.db import dispose_engines

    actions.lifecycle(actions.issue(), "financed")
    with own_postgres() as server:
        settings = replace(chain.settings, db_url=server.create_database("followed"))
        try:
            with Follower(settings) as follower:
                follower.wait(follower.caught_up)
                server.stop(remove=False)
                try:
                    actions.lifecycle(actions.issue(), "paid")  # mined while the database is down
                    follower.wait(lambda: bool(follower.retries))
                finally:
                    server.start_again()
                follower.wait(follower.caught_up)
            retries = follower.retries

            assert not follower.failures, follower.failures
            unavailable = f"the database {settings.database_url} is unavailable: "
            assert retries and all(r.startswith(unavailable) and "\n" not in r for r in retries), retries
            assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)
            assert_matches_chain(settings.database_url, ledger)
        finally:
            dispose_engines()
