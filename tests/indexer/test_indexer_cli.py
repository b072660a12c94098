"""`scf index ...` on the command line, and the database errors it words:
sync, status and rebuild; status as a reader; one-line errors for an
unreachable node, a bad URL and a locked SQLite database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text, update
from support.indexer import Actions, actions_fixture, head, rpc, scf, settings_fixture  # noqa: F401 - fixtures

from ledger.config import Settings
from ledger.db.models import Cursor


def test_indexer_cli_sync_status_rebuild(settings: Settings, actions: Actions) -> None:
    from click.testing import CliRunner

    from ledger.cli import main

    actions.lifecycle(actions.issue(), "financed")
    base = ["--home", str(settings.home), "--rpc-url", settings.rpc_url, "--db-url", settings.database_url]
    runner = CliRunner()

    synced = runner.invoke(main, [*base, "index", "sync", "--json"])
    status = runner.invoke(main, [*base, "index", "status", "--json"])
    rebuilt = runner.invoke(main, [*base, "index", "rebuild"])
    upgraded = runner.invoke(main, [*base, "db", "upgrade"])

    assert synced.exit_code == 0, synced.output
    stats = json.loads(synced.output)
    assert stats["to_block"] == head(settings.rpc_url) and stats["events"] > 0
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)[0]["events"] == stats["events"]
    assert rebuilt.exit_code == 0, rebuilt.output
    assert rebuilt.output.startswith("projections rebuilt from ")
    assert upgraded.exit_code == 0, upgraded.output
    assert " at schema " in upgraded.output


def test_indexer_status_reads_while_a_writer_holds_the_database(settings: Settings, actions: Actions) -> None:
    """`scf index status` is a reader: on SQLite it must not queue behind the
    write lock a running `scf index follow` holds between its ranges."""
    from ledger.db import create_db_engine
    from ledger.indexer import status, sync

    actions.lifecycle(actions.issue(), "financed")
    synced = sync(settings)
    writer = create_db_engine(settings.database_url)  # BEGIN IMMEDIATE on SQLite, as the indexer's
    try:
        with writer.begin() as conn:
            conn.execute(update(Cursor).values(head_number=Cursor.head_number))  # hold the write lock
            rows = status(settings)
    finally:
        writer.dispose()

    assert [(r["block"], r["events"]) for r in rows] == [(synced.block, synced.events)]


def test_indexer_locked_sqlite_database_says_who_holds_it(tmp_path: Path) -> None:
    from ledger.db import create_db_engine
    from ledger.db.engine import database_errors
    from ledger.errors import DatabaseError

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    holder, waiter = create_db_engine(url), create_db_engine(url)
    # Give up on the lock after 50 ms instead of 60 s (runs after the engine's own connect setup).
    event.listen(
        waiter, "connect", lambda dbapi_connection, _record: dbapi_connection.execute("PRAGMA busy_timeout=50")
    )
    try:
        with holder.begin() as held:
            held.execute(text("CREATE TABLE t (x INTEGER)"))  # BEGIN IMMEDIATE: the write lock is held
            with pytest.raises(DatabaseError) as caught, database_errors(url), waiter.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES (1)"))
    finally:
        holder.dispose()
        waiter.dispose()

    assert "database is locked; another process (such as `scf index follow`) holds the write lock" in str(caught.value)


def test_indexer_status_never_creates_a_missing_database(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from ledger.cli import main

    missing = tmp_path / "typo" / "ledger.db"
    result = CliRunner().invoke(
        main, ["--home", str(tmp_path / "home"), "--db-url", f"sqlite:///{missing}", "index", "status"]
    )

    assert result.exit_code == 3, result.output
    assert result.output.startswith(f"Error: no ledger database at {missing}; ") and result.output.count("\n") == 1
    assert not missing.parent.exists()


def test_indexer_cli_unreachable_node_is_one_line(settings: Settings) -> None:
    from click.testing import CliRunner

    from ledger.cli import main
    from ledger.evm.node import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(
        main, ["--home", str(settings.home), "--rpc-url", url, "--db-url", settings.database_url, "index", "sync"]
    )

    assert result.exit_code == 3, result.output
    assert result.output == (
        f"Error: cannot reach the JSON-RPC endpoint {url} (connection refused); "
        "start the local chain with `scf node start` or pass --rpc-url\n"
    )


def test_indexer_cli_bad_database_url_is_one_line(chain: Any) -> None:
    from click.testing import CliRunner

    from ledger.cli import main

    result = CliRunner().invoke(
        main, ["--home", str(chain.home), "--rpc-url", chain.rpc_url, "--db-url", "nosuchdb://x", "index", "status"]
    )

    assert result.exit_code == 3, result.output
    assert result.output.startswith("Error: unsupported database 'nosuchdb' in nosuchdb://x: scf stores its ledger in ")
    assert result.output.count("\n") == 1
