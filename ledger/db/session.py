"""The one owner of the ledger database's engines in a process.

Writers (the indexer, the financing desk) share one engine per URL, made on
an up-to-date schema the first time it is asked for; readers open a
short-lived read-only engine per transaction, so that a read never waits for
SQLite's write lock (held by a running `scf index follow`) and never creates
a missing database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from ledger.db.engine import open_engine

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(url: str) -> Engine:
    """A writer engine on an up-to-date schema, shared within the process."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = open_engine(url)
        return engine


def dispose_engines() -> None:
    """Close the pooled connections of every engine :func:`get_engine` made
    (tests with one database each call this; long-running processes need not)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """One read transaction on ``engine``: several statements, one snapshot
    (REPEATABLE READ on PostgreSQL; a SQLite transaction is one already)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        transaction = conn.begin()
        try:
            yield conn
        finally:
            # A read keeps nothing: rolled back. Ending it is the one step that can fail after the
            # reads were answered (the API's happens after the response is sent): a server restarted
            # meanwhile ended the session. Not the reader's error: the pool drops that connection.
            if transaction.is_active:
                try:
                    transaction.rollback()
                except DBAPIError:
                    conn.invalidate()


@contextmanager
def read_connection(database_url: str) -> Iterator[Connection]:
    """One read transaction (:func:`snapshot`) on the ledger database, migrated
    on first use, through a short-lived read-only engine."""
    engine = open_engine(database_url, write=False)
    try:
        with snapshot(engine) as conn:
            yield conn
    finally:
        engine.dispose()
