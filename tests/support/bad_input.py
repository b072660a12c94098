"""What a refused command must leave as it found it, checked rather than
assumed: the chain head, every table of the ledger database and the files of
the data directory; and a way back when a command changed them anyway.

Used by tests/cli/test_bad_input_table.py (issue 12's table of bad inputs) and
the tables of issue 18 (tests/cli/test_cli_intake.py, tests/api/test_api_problems.py)."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Files of the data directory that no command reads as state (compiler cache).
_NOT_STATE = ("artifacts",)


def db_digest(url: str) -> dict[str, str]:
    """Per table of the database at ``url``: its row count and a SHA-256 of
    its rows in primary-key order (any change of any row changes it)."""
    path = _sqlite_file(url)
    if path is not None:
        return _sqlite_digest(path)
    from sqlalchemy import create_engine, inspect, select, text

    engine = create_engine(url)
    try:
        tables = inspect(engine)
        digest: dict[str, str] = {}
        with engine.connect() as conn:
            for name in sorted(tables.get_table_names()):
                columns = [c["name"] for c in tables.get_columns(name)]
                key = tables.get_pk_constraint(name).get("constrained_columns") or columns
                rows = conn.execute(
                    select(*(text(f'"{c}"') for c in columns))
                    .select_from(text(f'"{name}"'))
                    .order_by(*(text(f'"{c}"') for c in key))
                ).all()
                sha = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()[:16]
                digest[name] = f"{len(rows)} rows {sha}"
        return digest
    finally:
        engine.dispose()


def _sqlite_file(url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL that exists, else None."""
    for scheme in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(scheme) and "?" not in url:
            path = Path(url.removeprefix(scheme))
            return path if path.is_file() else None
    return None


def _sqlite_digest(path: Path) -> dict[str, str]:
    """:func:`db_digest` of a SQLite file through sqlite3 itself, read-only: the
    same digests (the same raw values, in the same order) about 15 times faster
    than reflecting the schema with SQLAlchemy each time, which made up most of
    a bad-input case's cost (tests/cli/test_bad_input_table.py takes three per case)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        digest: dict[str, str] = {}
        names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        for (name,) in sorted(names.fetchall()):
            info = conn.execute(f'PRAGMA table_info("{name}")').fetchall()  # cid, name, type, notnull, default, pk
            columns = [c[1] for c in info]
            key = [c[1] for c in sorted((c for c in info if c[5]), key=lambda c: c[5])] or columns
            rows = conn.execute(f'SELECT {_quoted(columns)} FROM "{name}" ORDER BY {_quoted(key)}').fetchall()
            sha = hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()[:16]
            digest[name] = f"{len(rows)} rows {sha}"
        return digest
    finally:
        conn.close()


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


def home_digest(home: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    """SHA-256 of every file of the data directory but the compiler cache and ``skip``."""
    found: dict[str, str] = {}
    for path in sorted(home.rglob("*")):
        rel = path.relative_to(home).as_posix()
        if path.is_file() and rel.split("/")[0] not in _NOT_STATE + skip:
            found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return found


@dataclass
class State:
    """The chain head, the database and the data directory at one moment."""

    block: int
    tables: dict[str, str]
    files: dict[str, str]


class Guard:
    """Takes the state before a command and puts it back after: an EVM
    snapshot reverted, the SQLite file and the data directory restored from a
    pristine copy when they differ (so one command that wrongly changed
    something cannot spill into the next case)."""

    def __init__(self, w3: Any, home: Path, db_file: Path, pristine: Path) -> None:
        self.w3 = w3
        self.home = home
        self.db_file = db_file
        self.pristine = pristine
        self.url = f"sqlite:///{db_file}"
        self.snapshot: str | None = None
        first = self.state()  # the directory is its pristine copy now
        self.clean = (first.tables, first.files)

    def state(self) -> State:
        """Now: the head, the tables, and the files but the database's own (compared as tables)."""
        skip = tuple(f"{self.db_file.name}{end}" for end in ("", "-journal", "-wal", "-shm"))
        return State(int(self.w3.eth.block_number), db_digest(self.url), home_digest(self.home, skip))

    def __enter__(self) -> State:
        self.snapshot = self.w3.provider.make_request("evm_snapshot", [])["result"]
        return self.state()

    def __exit__(self, *exc: object) -> None:
        reverted = self.w3.provider.make_request("evm_revert", [self.snapshot])
        assert reverted.get("result") is True, f"evm_revert failed: {reverted}"
        now = self.state()
        if (now.tables, now.files) != self.clean:
            shutil.rmtree(self.home)
            shutil.copytree(self.pristine, self.home)


class Unchanged:
    """The chain head and every table of a database, taken when the block starts
    and checked when it ends without an error: for requests that must change
    neither (the API's bad requests), where nothing is put back afterwards."""

    def __init__(self, rpc_url: str, db_url: str) -> None:
        from web3 import Web3

        self.w3 = Web3(Web3.HTTPProvider(rpc_url))
        self.db_url = db_url
        self.before: tuple[int, dict[str, str]] = (-1, {})

    def state(self) -> tuple[int, dict[str, str]]:
        return int(self.w3.eth.block_number), db_digest(self.db_url)

    def __enter__(self) -> Unchanged:
        self.before = self.state()
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is not None:
            return
        (head, tables), (was_head, was_tables) = self.state(), self.before
        assert head == was_head, f"blocks mined: {head - was_head}"
        changed = sorted(t for t in tables.keys() | was_tables.keys() if tables.get(t) != was_tables.get(t))
        assert not changed, f"tables changed: {changed}"


def save_pristine(home: Path, pristine: Path) -> None:
    """Copy the data directory (database included) to ``pristine``."""
    shutil.copytree(home, pristine)
