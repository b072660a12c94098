#!/usr/bin/env python3
"""A throw-away PostgreSQL server for tests and benchmarks.

Standard library plus psycopg (for creating databases) and the process helpers
of ``ledger.evm.node``; tests, ``scripts/test.sh`` and the benchmarks share it:

    from pgtmp import temporary_postgres
    with temporary_postgres() as pg:          # initdb + pg_ctl start, free port
        url = pg.create_database("bench")     # postgresql+psycopg://...
        ...
                                              # stopped by PID, directory removed

From a shell (what ``scripts/test.sh`` does)::

    eval "$(python scripts/pgtmp.py start --install)"   # exports SCF_TEST_PG_*
    eval "$(python scripts/pgtmp.py restart --pid "$SCF_TEST_PG_PID" --dir "$SCF_TEST_PG_DIR")"  # new PID
    python scripts/pgtmp.py stop --pid "$SCF_TEST_PG_PID" --dir "$SCF_TEST_PG_DIR"

The server is a fresh cluster in a temporary directory (``initdb``), listening
only on 127.0.0.1 on a free port, trust authentication, durability off
(``fsync=off``: a crash loses the cluster, which is thrown away anyway). Run as
root, the cluster belongs to the ``postgres`` system user (the server refuses
to run as root). The binaries come from Debian's ``postgresql`` package,
installed with apt-get when missing and allowed (root, or password-less sudo).
It is stopped by the PID in its ``postmaster.pid``, never by process name.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ledger.evm.node import free_port, pid_alive

#: Superuser of the throw-away cluster (trust authentication on 127.0.0.1).
SUPERUSER = "postgres"
#: Debian installs each major version's binaries here.
DEBIAN_LIB = Path("/usr/lib/postgresql")
#: Settings for a disposable test server: fast, not durable.
SERVER_OPTIONS = {
    "listen_addresses": "127.0.0.1",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "shared_buffers": "128MB",
}
_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be installed or started here; the message says why and what to do."""


# -- binaries ------------------------------------------------------------------------------
def find_bindir(use_env: bool = True) -> Path | None:
    """Directory holding initdb, pg_ctl and postgres: $PG_BINDIR, the newest
    Debian version under /usr/lib/postgresql, or wherever `initdb` is on PATH."""
    env = os.environ.get("PG_BINDIR") if use_env else None
    if env:
        return Path(env) if (Path(env) / "initdb").exists() else None
    if DEBIAN_LIB.is_dir():
        versions = sorted(
            (d for d in DEBIAN_LIB.iterdir() if d.name.isdigit() and (d / "bin" / "initdb").exists()),
            key=lambda d: int(d.name),
        )
        if versions:
            return versions[-1] / "bin"
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def can_install() -> tuple[bool, list[str]]:
    """Whether apt-get may be run, and the prefix to run it with."""
    if shutil.which("apt-get") is None:
        return False, []
    if os.geteuid() == 0:
        return True, []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode == 0:
        return True, ["sudo", "-n"]
    return False, []


def install_postgres(log: TextIO = sys.stderr) -> Path:
    """Install Debian's `postgresql` package (apt-get update + install) and
    return its binary directory."""
    allowed, prefix = can_install()
    if not allowed:
        raise PostgresUnavailable(
            "PostgreSQL is not installed and this user cannot install it (needs root or password-less sudo "
            "and apt-get); install the Debian package `postgresql` as root, or set PG_BINDIR to a directory "
            "holding initdb and pg_ctl"
        )
    print("pgtmp: installing PostgreSQL (apt-get install postgresql)", file=log)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "postgresql"]):
        done = subprocess.run(prefix + cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            tail = " ".join((done.stderr or done.stdout).split())[-400:]
            raise PostgresUnavailable(f"`{' '.join(cmd)}` failed (exit {done.returncode}): {tail}")
    bindir = find_bindir(use_env=False)
    if bindir is None:
        raise PostgresUnavailable("apt-get installed postgresql but no initdb was found under /usr/lib/postgresql")
    return bindir


# -- processes -----------------------------------------------------------------------------
def _postmaster_pid(datadir: Path) -> int | None:
    try:
        first = (datadir / "postmaster.pid").read_text().split("\n", 1)[0].strip()
    except OSError:
        return None
    return int(first) if first.isdigit() else None


def _postmaster_port(datadir: Path) -> int | None:
    """The port the running cluster listens on (line 4 of ``postmaster.pid``)."""
    try:
        lines = (datadir / "postmaster.pid").read_text().split("\n")
    except OSError:
        return None
    return int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None


def stop_server(pid: int, datadir: Path | None = None, timeout: float = 30.0) -> bool:
    """Stop the postmaster with this PID: SIGINT (fast shutdown: ends sessions,
    no waiting for clients), SIGQUIT if it hangs, SIGKILL last. When `datadir`
    is given, refuse to signal a PID that is not that cluster's postmaster
    (the PID may have been reused). Returns whether a process was signalled."""
    if datadir is not None:
        recorded = _postmaster_pid(datadir)
        if recorded is not None and recorded != pid:
            raise PostgresUnavailable(f"{datadir}/postmaster.pid names PID {recorded}, not {pid}; not stopping {pid}")
        if recorded is None and pid_alive(pid):
            # No pid file: the server is gone; whatever runs under this PID now is not ours.
            return False
    if not pid_alive(pid):
        return False
    for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return True
            time.sleep(0.05)
    return True


# -- the server ----------------------------------------------------------------------------
@dataclass
class PgServer:
    """A running throw-away cluster that this process started."""

    base: Path
    port: int
    pid: int
    host: str = "127.0.0.1"
    user: str = SUPERUSER
    #: The watchdog process that stops the server if its owner dies first.
    watchdog: subprocess.Popen[bytes] | None = None
    #: The process the watchdog watches (None: no watchdog).
    watch_pid: int | None = None

    @property
    def datadir(self) -> Path:
        return self.base / "data"

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        return f"{driver}://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """CREATE DATABASE `name` (optionally from `template`); returns its SQLAlchemy URL."""
        return create_database(self.url(), name, template)

    def drop_database(self, name: str) -> None:
        drop_database(self.url(), name)

    def stop(self, remove: bool = True) -> None:
        """Stop by PID and (by default) delete the cluster's directory."""
        stop_server(self.pid, self.datadir)
        if self.watchdog is not None:
            # It exits by itself once the server is gone; reap it.
            try:
                self.watchdog.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.watchdog.terminate()
                self.watchdog.wait()
        if remove:
            shutil.rmtree(self.base, ignore_errors=True)

    def start_again(self) -> None:
        """Start the cluster stopped with ``stop(remove=False)`` again, on the
        same port (clients reconnect to the same URL); a new PID and watchdog."""
        self.pid = start_cluster(self.base, self.port)
        if self.watch_pid is not None:
            self.watchdog = start_watchdog(self.watch_pid, self)

    def restart(self, down: float = 0.0) -> None:
        """A real restart: stop by PID (fast shutdown: sessions are ended),
        stay down ``down`` seconds, start again on the same port."""
        self.stop(remove=False)
        time.sleep(down)
        self.start_again()


def _run_as(user: str | None) -> dict[str, object]:
    """subprocess arguments that drop root to `user` (the server refuses root)."""
    if user is None:
        return {}
    import pwd

    entry = pwd.getpwnam(user)
    return {
        "user": entry.pw_uid,
        "group": entry.pw_gid,
        "extra_groups": [],
        "env": {**os.environ, "HOME": entry.pw_dir, "USER": user, "LOGNAME": user},
    }


def start_server(
    base: Path | None = None, install: bool = False, attempts: int = 3, watch_pid: int | None = None
) -> PgServer:
    """initdb a new cluster under `base` (default: a new temporary directory)
    and start it with pg_ctl on a free 127.0.0.1 port. The caller stops it
    (`PgServer.stop`, or `stop_server(pid)`). With `watch_pid`, a watchdog
    process stops the server by PID and removes its directory if that process
    dies first (a test run killed by a timeout or SIGKILL leaves nothing)."""
    bindir = find_bindir()
    if bindir is None:
        if not install:
            raise PostgresUnavailable(
                "PostgreSQL is not installed (no initdb under /usr/lib/postgresql or on PATH); "
                "run ./scripts/test.sh (it installs it) or `apt-get install -y postgresql` as root"
            )
        bindir = install_postgres()
    run_as = None
    if os.geteuid() == 0:
        run_as = os.environ.get("PG_RUN_AS", "postgres")
        try:
            import pwd

            pwd.getpwnam(run_as)
        except KeyError:
            raise PostgresUnavailable(
                f"running as root, but there is no system user {run_as!r} to own the cluster "
                "(the server refuses to run as root); install the Debian package postgresql, which creates it"
            ) from None
    owned = base is None
    base = Path(tempfile.mkdtemp(prefix="scf-pg-")) if base is None else base
    base.mkdir(parents=True, exist_ok=True)
    try:
        extra = _run_as(run_as)
        if run_as is not None:
            import pwd

            entry = pwd.getpwnam(run_as)
            os.chown(base, entry.pw_uid, entry.pw_gid)
        datadir = base / "data"
        initdb = subprocess.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(datadir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--no-locale",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            capture_output=True,
            text=True,
            **extra,  # type: ignore[call-overload]
        )
        if initdb.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {' '.join((initdb.stderr or initdb.stdout).split())[-400:]}")
        log = base / "server.log"
        last_error = ""
        for _ in range(attempts):
            port = free_port()
            options = {**SERVER_OPTIONS, "port": str(port), "unix_socket_directories": str(base)}
            opts = " ".join(f"-c {k}={shlex.quote(v)}" for k, v in options.items())
            started = subprocess.run(
                [str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(log), "-w", "-t", "60", "-o", opts, "start"],
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                **extra,  # type: ignore[call-overload]
            )
            pid = _postmaster_pid(datadir)
            if started.returncode == 0 and pid is not None:
                server = PgServer(base=base, port=port, pid=pid, watch_pid=watch_pid)
                if watch_pid is not None:
                    server.watchdog = start_watchdog(watch_pid, server)
                return server
            if pid is not None:  # half-started: stop what we started before retrying
                stop_server(pid, datadir)
            try:
                last_error = " ".join(log.read_text().split())[-400:]
            except OSError:
                last_error = " ".join((started.stderr or started.stdout).split())[-400:]
        raise PostgresUnavailable(f"PostgreSQL did not start after {attempts} attempts: {last_error}")
    except BaseException:
        if owned:
            shutil.rmtree(base, ignore_errors=True)
        raise


def start_cluster(base: Path, port: int) -> int:
    """Start the stopped cluster under ``base`` (made by :func:`start_server`)
    on ``port`` with the same settings, as the owner of its directory;
    returns the postmaster's PID."""
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable("PostgreSQL is not installed (no initdb under /usr/lib/postgresql or on PATH)")
    datadir = base / "data"
    owner = None
    if os.geteuid() == 0:
        import pwd

        owner = pwd.getpwuid(datadir.stat().st_uid).pw_name
    options = {**SERVER_OPTIONS, "port": str(port), "unix_socket_directories": str(base)}
    opts = " ".join(f"-c {k}={shlex.quote(v)}" for k, v in options.items())
    log = base / "server.log"
    started = subprocess.run(
        [str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(log), "-w", "-t", "60", "-o", opts, "start"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        **_run_as(owner),  # type: ignore[call-overload]
    )
    pid = _postmaster_pid(datadir)
    if started.returncode != 0 or pid is None:
        tail = " ".join((started.stderr or started.stdout).split())[-400:]
        raise PostgresUnavailable(f"PostgreSQL did not start again on port {port}: {tail}")
    return pid


@contextlib.contextmanager
def temporary_postgres(install: bool = False) -> Iterator[PgServer]:
    """A running throw-away server for the duration of the block; stopped by
    PID and its directory removed afterwards, even on errors."""
    server = start_server(install=install, watch_pid=os.getpid())
    try:
        yield server
    finally:
        server.stop()


def start_watchdog(owner_pid: int, server: PgServer) -> subprocess.Popen[bytes]:
    """A detached process that stops `server` (by PID) when `owner_pid` exits
    without having stopped it, and exits as soon as the server is gone."""
    return subprocess.Popen(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "watch",
            "--owner",
            str(owner_pid),
            "--pid",
            str(server.pid),
            "--dir",
            str(server.base),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def watch(owner_pid: int, pid: int, base: Path, interval: float = 0.5) -> None:
    datadir = base / "data"
    while pid_alive(pid) and _postmaster_pid(datadir) == pid:
        if not pid_alive(owner_pid):
            stop_server(pid, datadir)
            if base.name.startswith("scf-pg-"):
                shutil.rmtree(base, ignore_errors=True)
            return
        time.sleep(interval)


# -- databases -----------------------------------------------------------------------------
def _admin_dsn(url: str) -> str:
    """libpq connection string for a postgresql[+driver]:// URL."""
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def _check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError(f"invalid database name {name!r}: lower-case letters, digits and _ only")
    return name


def create_database(admin_url: str, name: str, template: str | None = None) -> str:
    """CREATE DATABASE through `admin_url` (a URL to any database of the
    server); returns the SQLAlchemy URL of the new database."""
    import psycopg

    sql = f'CREATE DATABASE "{_check_name(name)}"'
    if template:
        sql += f' TEMPLATE "{_check_name(template)}"'
    with psycopg.connect(_admin_dsn(admin_url), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]
    return re.sub(r"/[^/]*$", f"/{name}", admin_url)


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_admin_dsn(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{_check_name(name)}" WITH (FORCE)')  # type: ignore[arg-type]


# -- command line ----------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start a server; print shell `export` lines (SCF_TEST_PG_URL/PID/DIR)")
    start.add_argument("--install", action="store_true", help="apt-get install postgresql when it is missing")
    start.add_argument("--database", default="scf_test", help="database to create (default scf_test)")
    start.add_argument(
        "--watch-pid", type=int, help="stop the server (by PID) if this process exits without stopping it"
    )
    stop = sub.add_parser("stop", help="stop a server by its PID and remove its directory")
    stop.add_argument("--pid", type=int, required=True)
    stop.add_argument("--dir", type=Path, required=True)
    restart = sub.add_parser(
        "restart", help="stop a server by its PID and start it again on its port; print the new SCF_TEST_PG_PID"
    )
    restart.add_argument("--pid", type=int, required=True)
    restart.add_argument("--dir", type=Path, required=True)
    restart.add_argument("--down", type=float, default=0.0, help="seconds to stay stopped (default 0)")
    watchdog = sub.add_parser("watch", help="(internal) stop the server when --owner exits")
    watchdog.add_argument("--owner", type=int, required=True)
    watchdog.add_argument("--pid", type=int, required=True)
    watchdog.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.command == "watch":
        watch(args.owner, args.pid, args.dir)
        return 0
    if args.command == "start":
        try:
            server = start_server(install=args.install, watch_pid=args.watch_pid)
        except PostgresUnavailable as exc:
            print(f"pgtmp: {exc}", file=sys.stderr)
            return 3
        try:
            url = server.create_database(args.database)
        except Exception as exc:
            server.stop()
            print(f"pgtmp: server started but CREATE DATABASE failed: {exc}", file=sys.stderr)
            return 3
        for key, value in (
            ("SCF_TEST_PG_URL", url),
            ("SCF_TEST_PG_PID", str(server.pid)),
            ("SCF_TEST_PG_DIR", str(server.base)),
        ):
            print(f"export {key}={shlex.quote(value)}")
        return 0
    datadir = args.dir / "data"
    if args.command == "restart":
        return _restart(args.pid, args.dir, args.down)
    try:
        stop_server(args.pid, datadir)
    except PostgresUnavailable as exc:
        print(f"pgtmp: {exc}", file=sys.stderr)
        return 1
    if args.dir.name.startswith("scf-pg-"):
        shutil.rmtree(args.dir, ignore_errors=True)
    return 0


def _restart(pid: int, base: Path, down: float) -> int:
    """`pgtmp.py restart`: the same cluster, stopped by PID and started again
    on its port (a watchdog of the first start, which exits with the old
    PID, is not carried over)."""
    datadir = base / "data"
    port = _postmaster_port(datadir)  # read while it runs: the file goes with the server
    try:
        if port is None or _postmaster_pid(datadir) != pid or not stop_server(pid, datadir):
            raise PostgresUnavailable(f"no server with PID {pid} runs on {datadir}; nothing restarted")
        time.sleep(down)
        new_pid = start_cluster(base, port)
    except PostgresUnavailable as exc:
        print(f"pgtmp: {exc}", file=sys.stderr)
        return 3
    print(f"export SCF_TEST_PG_PID={new_pid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
