"""Shared fixtures: one real Anvil per test session (per xdist worker), the
contracts compiled and deployed once, participants admitted and funded, then
an EVM snapshot that every test reverts to when it ends."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from ledger.config import REPO_ROOT, Settings, load_settings

#: Compiled artifacts shared by test sessions (keyed by content hash, so safe).
ARTIFACT_CACHE = REPO_ROOT / ".pytest_cache" / "scf-artifacts"

#: Participants of the base scenario: account name -> (registered name, roles).
PARTICIPANTS = {
    "supplier": ("Kowloon Precision Parts Ltd", "supplier"),
    "supplier2": ("Sham Shui Po Textiles Ltd", "supplier"),
    "buyer": ("Tsuen Wan Electronics Ltd", "buyer"),
    "buyer2": ("Kwai Chung Logistics Ltd", "buyer"),
    "financier": ("Harbour Trade Finance Ltd", "financier"),
    "financier2": ("Victoria Peak Capital Ltd", "financier"),
    "auditor": ("Central Audit Partners", "auditor"),
}
FUNDING = {"financier": "10000000.00", "financier2": "10000000.00", "buyer": "5000000.00", "buyer2": "5000000.00"}


@dataclass
class Env:
    settings: Settings
    rpc_url: str
    port: int
    home: Path


@pytest.fixture(scope="session")
def anvil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from ledger.evm.node import spawn_anvil

    log = tmp_path_factory.mktemp("anvil") / "anvil.log"
    proc = spawn_anvil(REPO_ROOT / "node_modules", log_file=log)
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def session_env(anvil: object, tmp_path_factory: pytest.TempPathFactory) -> Env:
    home = tmp_path_factory.mktemp("scf-home")
    if ARTIFACT_CACHE.exists():
        shutil.copytree(ARTIFACT_CACHE, home / "artifacts", dirs_exist_ok=True)
    port = anvil.port  # type: ignore[attr-defined]
    url = f"http://127.0.0.1:{port}"
    # Many tests use far due dates (2097-2099); the session deployment allows a
    # 100-year tenor. The 10-year default is tested on a deployment of its own.
    settings = load_settings(home=str(home), rpc_url=url, max_tenor_days=36_525)
    return Env(settings, url, port, home)


@pytest.fixture(scope="session")
def base_deployment(session_env: Env) -> object:
    """Deploy, admit the standard participants, fund them; return the deployment."""
    from ledger.evm.accounts import DEV_NAMES, dev_account
    from ledger.evm.chain import connect
    from ledger.evm.compiler import compile_contracts
    from ledger.evm.deploy import deploy
    from ledger.lifecycle import Ledger, parse_roles

    settings = session_env.settings
    build, _ = compile_contracts(settings)
    ARTIFACT_CACHE.mkdir(parents=True, exist_ok=True)
    for f in settings.artifacts_dir.glob("*.json"):
        if not (ARTIFACT_CACHE / f.name).exists():
            shutil.copy(f, ARTIFACT_CACHE / f"{f.name}.{os.getpid()}")
            os.replace(ARTIFACT_CACHE / f"{f.name}.{os.getpid()}", ARTIFACT_CACHE / f.name)
    w3 = connect(session_env.rpc_url)
    operator = dev_account(DEV_NAMES.index("operator"))
    deployment = deploy(settings, w3, build, operator)
    ledger = Ledger(settings, w3, deployment)
    until = dt.date.today() + dt.timedelta(days=3 * 365)
    for account, (name, roles) in PARTICIPANTS.items():
        address = dev_account(DEV_NAMES.index(account)).address
        ledger.add_participant(operator, name, address, parse_roles(roles), until)
    for account, amount in FUNDING.items():
        ledger.mint(operator, dev_account(DEV_NAMES.index(account)).address, amount, "HKD")
    return deployment


@pytest.fixture()
def chain(session_env: Env, base_deployment: object) -> Iterator[Env]:
    """The base scenario, reverted to its snapshot after the test."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(session_env.rpc_url))
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    try:
        yield session_env
    finally:
        reverted = w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
        # anvil_reorg invalidates snapshots; a silent failure here would leak
        # this test's chain state into every later test of the worker.
        assert reverted.get("result") is True, (
            f"evm_revert failed ({reverted}); tests that reorg must use their own Anvil"
        )


@pytest.fixture()
def ledger(chain: Env, base_deployment: object) -> object:
    """A fresh Ledger binding on the base scenario."""
    from ledger.evm.chain import connect
    from ledger.lifecycle import Ledger

    return Ledger(chain.settings, connect(chain.rpc_url), base_deployment)  # type: ignore[arg-type]


@pytest.fixture()
def acct() -> object:
    """Dev accounts by name: acct('supplier')."""
    from ledger.evm.accounts import DEV_NAMES, dev_account

    return lambda name: dev_account(DEV_NAMES.index(name))


@pytest.fixture()
def home_copy(chain: Env, tmp_path: Path) -> Env:
    """A private copy of the data directory (for CLI tests that write to it)."""
    home = tmp_path / "home"
    shutil.copytree(chain.home, home, ignore=shutil.ignore_patterns("ledger.db*"))
    return replace(chain, home=home, settings=replace(chain.settings, home=home))


# -- databases: SQLite and a real PostgreSQL ----------------------------------------------
# The PostgreSQL server is SCF_TEST_PG_URL when set (scripts/test.sh starts one
# throw-away server for the whole run and stops it by PID), else a throw-away
# server started by this session (per xdist worker) through scripts/pgtmp.py.
# Each test gets its own database (CREATE DATABASE ... TEMPLATE template0).
# Under CI=true a server that cannot be started fails the run; elsewhere the
# postgres tests are skipped with the reason.

#: Per backend: tests that ran on it; and why PostgreSQL was skipped, if it was.
_BACKENDS: dict[str, int] = {}
_PG_SKIPPED: list[str] = []
#: Operations a stateful test ran (its user property "operations"), shown at the end: a worker's
#: own output is not shown under xdist, and the issue's totals are counted from these lines.
_OPERATIONS: dict[str, int] = {}


@pytest.fixture(scope="module")
def scenario(session_env: Env, base_deployment: object) -> Iterator[object]:
    """The small ledger of tests/support/scenario.py, built once per module on
    the session chain and reverted when the module ends."""
    from support.scenario import built_scenario

    with built_scenario(session_env, base_deployment) as built:
        yield built


@pytest.fixture()
def indexed(scenario: object, chain: Env, home_copy: Env, db_url: str) -> Env:
    """The scenario indexed into a fresh database of each backend; returns a
    private copy of the data directory whose settings point at it."""
    from support.scenario import index

    settings = replace(home_copy.settings, db_url=db_url)
    assert index(settings).block == scenario.end  # type: ignore[attr-defined]
    return replace(home_copy, settings=settings)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _pgtmp() -> object:
    import sys

    scripts = str(REPO_ROOT / "scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)
    import pgtmp

    return pgtmp


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """SQLAlchemy URL of an existing database on a real PostgreSQL server
    (use it to CREATE DATABASE; tests get their own through `db_url`)."""
    pgtmp = _pgtmp()
    unavailable = os.environ.get("SCF_TEST_PG_UNAVAILABLE")
    url = os.environ.get("SCF_TEST_PG_URL")
    if url:
        yield url
        return
    server = None
    if not unavailable:
        try:
            # The watchdog stops it if this run is killed before the teardown.
            server = pgtmp.start_server(watch_pid=os.getpid())  # type: ignore[attr-defined]
        except pgtmp.PostgresUnavailable as exc:  # type: ignore[attr-defined]
            unavailable = str(exc)
    if server is None:
        if _in_ci():
            pytest.fail(f"CI=true and no PostgreSQL server could be started: {unavailable}", pytrace=False)
        hint = "" if os.environ.get("SCF_TEST_PG_UNAVAILABLE") else "; ./scripts/test.sh installs and starts one"
        pytest.skip(f"no PostgreSQL server ({unavailable}){hint}")
    try:
        yield server.url()
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database per test, once per backend: a SQLite file in
    tmp_path, or a new PostgreSQL database dropped afterwards."""
    backend = request.param
    request.node.user_properties.append(("db_backend", backend))
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    admin = request.getfixturevalue("pg_admin_url")
    pgtmp = _pgtmp()
    name = f"scf_t{os.getpid()}_{os.urandom(6).hex()}"
    url = pgtmp.create_database(admin, name, template="template0")  # type: ignore[attr-defined]
    try:
        yield url
    finally:
        from sqlalchemy.engine import make_url

        pgtmp.drop_database(admin, make_url(url).database or name)  # type: ignore[attr-defined]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # Runs in the controller for reports from xdist workers too.
    if report.when == "call" and "operations" in dict(report.user_properties):
        _OPERATIONS[report.nodeid] = int(dict(report.user_properties)["operations"])
    backend = dict(report.user_properties).get("db_backend")
    if backend is None:
        return
    if report.when == "call" and report.outcome != "skipped":
        _BACKENDS[backend] = _BACKENDS.get(backend, 0) + 1
    elif report.skipped and backend == "postgresql" and not _PG_SKIPPED:
        longrepr = report.longrepr
        reason = str(longrepr[2]) if isinstance(longrepr, tuple) else str(longrepr)
        _PG_SKIPPED.append(reason.removeprefix("Skipped: "))


def pytest_terminal_summary(terminalreporter: object) -> None:
    for nodeid, count in _OPERATIONS.items():
        terminalreporter.write_line(f"operations: {count} in {nodeid}")  # type: ignore[attr-defined]
    if not _BACKENDS and not _PG_SKIPPED:
        return
    ordered = sorted(_BACKENDS.items(), key=lambda kv: kv[0] != "sqlite")
    tested = ", ".join(f"{b} ({n} test{'s' if n != 1 else ''})" for b, n in ordered)
    line = f"database backends tested: {tested or 'none'}"
    if "postgresql" not in _BACKENDS and _PG_SKIPPED:
        line += f"; postgresql SKIPPED: {_PG_SKIPPED[0]}"
    terminalreporter.write_line(line)  # type: ignore[attr-defined]
