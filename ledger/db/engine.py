"""Engines for the indexed ledger, and its schema migrations.

SQLite (the default, ``<home>/ledger.db``) runs in WAL mode so readers never
block the indexer; writer engines take the write lock when a transaction
begins (``BEGIN IMMEDIATE``) so two writers queue instead of failing half-way,
and use ``synchronous=NORMAL`` (in WAL mode a killed process loses nothing
committed; only a power cut can lose the last commits, never consistency).
New SQLite databases get 16 KiB pages (bulk indexing writes fewer, bigger
pages); existing ones keep theirs.
PostgreSQL is used through psycopg 3 (``postgresql+psycopg://``).

Migrations are Alembic scripts shipped in ``ledger/db/migrations`` and run
programmatically: no ``alembic.ini`` is needed. :func:`open_engine` applies
them on first use; when the database is already at :data:`SCHEMA_REVISION`
it costs one query and does not import Alembic.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError, SQLAlchemyError

from ledger.errors import DatabaseError, InputError

#: The newest migration; :func:`upgrade` is skipped when the database has it.
#: A test checks this equals the head of ``ledger/db/migrations/versions``.
SCHEMA_REVISION = "0010"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: PostgreSQL advisory lock key that serialises concurrent migrations.
MIGRATION_LOCK_KEY = 0x5CF1ED6E

#: Page size of new SQLite databases (SQLite's default is 4 KiB).
SQLITE_PAGE_SIZE = 16384
#: WAL size at which a SQLite commit checkpoints (when no checkpointer did).
WAL_CHECKPOINT_BYTES = 40 * 1024 * 1024
#: Seconds a SQLite writer waits for another's write lock before giving up
#: (read when a connection opens: the fault tests shorten it).
SQLITE_BUSY_SECONDS = 60.0

_upgraded: set[str] = set()
_upgrade_lock = threading.Lock()


def describe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


def _normalise(url: str) -> str:
    # psycopg 3 is the PostgreSQL driver we ship; plain postgresql:// would
    # ask SQLAlchemy for psycopg2.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def create_db_engine(url: str, *, write: bool = True, **kwargs: Any) -> Engine:
    """An engine for ``url``. ``write`` engines take SQLite's write lock at
    BEGIN; read-only users pass ``write=False`` so they never wait for it."""
    url = _normalise(url)
    try:
        parsed = make_url(url)
    except ArgumentError:  # a malformed URL is bad input (exit 2); a database that is away is not
        raise InputError(
            f"invalid database URL {url!r}: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"
        ) from None
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise DatabaseError(
            f"unsupported database {parsed.get_backend_name()!r} in {parsed.render_as_string(hide_password=True)}: "
            "scf stores its ledger in SQLite (sqlite:///PATH) or PostgreSQL (postgresql+psycopg://USER@HOST/DB)"
        )
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            path = Path(database).expanduser().resolve()
            parent = path.parent
            if not write and not path.exists():
                # A reader never creates a database: a typo in --home or
                # --db-url must not silently produce an empty ledger.
                raise DatabaseError(
                    f"no ledger database at {path}; check --home / --db-url, or run `scf index sync` to create it"
                )
            if not parent.is_dir():
                try:
                    parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise DatabaseError(
                        f"cannot create the directory {parent} for the SQLite database: {exc.strerror}; "
                        "check --home or --db-url"
                    ) from None
        kwargs.setdefault("connect_args", {}).setdefault("timeout", SQLITE_BUSY_SECONDS)
    else:
        # A long-running `scf index follow` outlives server restarts: test a
        # pooled connection before use (one round trip per transaction)
        # rather than fail a range on a connection the server dropped.
        kwargs.setdefault("pool_pre_ping", True)
    # Compact JSON, the same text the indexer's decoders produce.
    kwargs.setdefault("json_serializer", _compact_json)
    try:
        engine = create_engine(url, **kwargs)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise DatabaseError(f"cannot use database URL {describe_url(url)}: {exc}") from None
    if engine.dialect.name == "sqlite":
        _sqlite_setup(engine, write)
    return engine


def _sqlite_setup(engine: Engine, write: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event (below) issue BEGIN, not pysqlite.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # A new database gets 16 KiB pages (before WAL mode writes its
            # header; an existing one keeps its own). A backfill writes every
            # page twice, to the WAL and at the checkpoint, one system call
            # per page: with 4 KiB pages the writer spent a third more system
            # time (0.36-0.48 s against 0.22-0.35 s per 100,000-event sync).
            cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.execute("PRAGMA temp_store=MEMORY")
            if write:
                # Checkpoint the WAL every ~40 MB rather than every 1,000
                # pages: bulk indexing commits big transactions.
                page_size = int(cursor.execute("PRAGMA page_size").fetchone()[0])
                cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_BYTES // page_size}")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def current_revision(engine: Engine) -> str | None:
    """The schema revision recorded in the database, or None if it has none."""
    try:
        with engine.connect() as conn:
            if not engine.dialect.has_table(conn, "alembic_version"):
                return None
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
            return None if row is None else str(row[0])
    except DBAPIError as exc:  # also SQLite's "file is not a database" (a DatabaseError, not an OperationalError)
        raise DatabaseError(
            f"cannot open the database {describe_url(str(engine.url))}: {_reason(exc)}; check --db-url / SCF_DB_URL"
        ) from None


def _reason(exc: SQLAlchemyError) -> str:
    orig = getattr(exc, "orig", None)
    return " ".join(str(orig or exc).split())[:300]


#: PostgreSQL SQLSTATEs of a server that is away for now (connection
#: exceptions, shutting down, starting up, too many connections) and of a
#: transaction that lost a race (serialization failure, deadlock).
_AWAY_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")
_RACE_SQLSTATES = ("40001", "40P01")
#: A connection the server refuses for good (psycopg gives these no SQLSTATE).
_REFUSED_LOGIN = re.compile(
    r"password authentication failed|no pg_hba\.conf entry|(?:database|role) \S+ does not exist"
    r"|permission denied for database|authentication failed",
)


def _failure(exc: SQLAlchemyError) -> str | None:
    """What kind of passing failure ``exc`` is: "connection" (lost or
    refused), "locked" (SQLite's write lock still held after the busy
    timeout), "race" (PostgreSQL serialization failure or deadlock); None
    for anything else (a bad statement, a full disk, a wrong password...)."""
    if not isinstance(exc, DBAPIError):
        return None
    if exc.connection_invalidated:
        return "connection"
    if "database is locked" in _reason(exc):
        return "locked"
    if hasattr(exc.orig, "sqlstate"):  # psycopg
        state: str | None = getattr(exc.orig, "sqlstate")  # noqa: B009 - typed as Exception
        if state is None:  # psycopg could not connect: no SQLSTATE, only the server's text
            if not isinstance(exc, OperationalError) or _REFUSED_LOGIN.search(_reason(exc)):
                return None
            return "connection"
        if state.startswith(_AWAY_SQLSTATES):
            return "connection"
        if state in _RACE_SQLSTATES:
            return "race"
    return None


def _disk_full(exc: SQLAlchemyError) -> bool:
    """Whether the database's disk (or quota) is full: SQLITE_FULL, or
    PostgreSQL's disk_full (53100). Not a passing failure: nothing frees the
    space by itself, so `follow` stops rather than wait."""
    state = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return state == "53100" or "database or disk is full" in _reason(exc)


def database_unavailable(url: str, exc: SQLAlchemyError) -> DatabaseError | None:
    """``exc`` as a one-line error if it is a passing failure (see
    :func:`_failure`: a server restarting, failing over or not accepting
    connections, a held lock, a lost race), so that running the transaction
    again later is worth it; None for anything else."""
    if _failure(exc) is None:
        return None
    return DatabaseError(f"the database {describe_url(url)} is unavailable: {_reason(exc)}")


def database_error(url: str, exc: SQLAlchemyError) -> DatabaseError:
    """``exc`` as the one-line DatabaseError that says what to check."""
    reason = _reason(exc)
    failure = _failure(exc)
    if failure == "connection" or "connect" in reason.lower():
        hint = "check --db-url / SCF_DB_URL and that the database server accepts connections"
    elif failure == "locked":  # SQLite, after the busy timeout (SQLITE_BUSY_SECONDS)
        hint = "another process (such as `scf index follow`) holds the write lock; retry, or stop that process"
    elif failure == "race":
        hint = "another transaction changed the same rows at the same time; run the command again"
    elif _disk_full(exc):
        hint = "free space where the database is stored, then run the command again (nothing was half-written)"
    else:
        hint = "run `scf index rebuild` if the projections are damaged, or report it"
    return DatabaseError(f"database error on {describe_url(url)}: {reason}; {hint}")


def setting_database_error(url: str, exc: BaseException) -> DatabaseError | None:
    """:func:`database_error` for a failure of the setting met outside
    :func:`database_errors`: a passing one (a server away, a held lock, a
    lost race: see :func:`_failure`) or a full disk; None for anything
    else, which is a bug to report."""
    if not isinstance(exc, SQLAlchemyError) or (_failure(exc) is None and not _disk_full(exc)):
        return None
    return database_error(url, exc)


@contextlib.contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Database failures as one-line DatabaseErrors that say what to check."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise database_error(url, exc) from None


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (in one transaction)."""
    from alembic import command

    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            command.upgrade(_alembic_config(conn), revision)
    except DBAPIError as exc:
        raise DatabaseError(
            f"cannot migrate the database {describe_url(str(engine.url))}: {_reason(exc)}; "
            "check the URL and that the server accepts connections"
        ) from None


def ensure_schema(engine: Engine) -> None:
    """Upgrade unless this process already checked the database is current."""
    key = str(engine.url)
    if key in _upgraded:
        return
    with _upgrade_lock:
        if key in _upgraded:
            return
        revision = current_revision(engine)
        if revision != SCHEMA_REVISION:
            upgrade(engine)
        _upgraded.add(key)


def open_engine(url: str, *, write: bool = True, **kwargs: Any) -> Engine:
    """An engine on an up-to-date schema: what every command that needs the
    database calls."""
    engine = create_db_engine(url, write=write, **kwargs)
    ensure_schema(engine)
    return engine
