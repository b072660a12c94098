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
    from ledger.node import spawn_anvil

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
    settings = load_settings(home=str(home), rpc_url=url)
    return Env(settings, url, port, home)


@pytest.fixture(scope="session")
def base_deployment(session_env: Env) -> object:
    """Deploy, admit the standard participants, fund them; return the deployment."""
    from ledger.accounts import dev_account, DEV_NAMES
    from ledger.chain import connect
    from ledger.compiler import compile_contracts
    from ledger.deploy import deploy
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
        w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]


@pytest.fixture()
def ledger(chain: Env, base_deployment: object) -> object:
    """A fresh Ledger binding on the base scenario."""
    from ledger.chain import connect
    from ledger.lifecycle import Ledger

    return Ledger(chain.settings, connect(chain.rpc_url), base_deployment)  # type: ignore[arg-type]


@pytest.fixture()
def acct() -> object:
    """Dev accounts by name: acct('supplier')."""
    from ledger.accounts import DEV_NAMES, dev_account

    return lambda name: dev_account(DEV_NAMES.index(name))


@pytest.fixture()
def home_copy(chain: Env, tmp_path: Path) -> Env:
    """A private copy of the data directory (for CLI tests that write to it)."""
    home = tmp_path / "home"
    shutil.copytree(chain.home, home, ignore=shutil.ignore_patterns("ledger.db*"))
    return replace(chain, home=home, settings=replace(chain.settings, home=home))
