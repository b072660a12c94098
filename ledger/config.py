"""One typed settings object, resolved from (highest first) command-line
flags, ``SCF_*`` environment variables, ``<home>/config.toml`` and defaults.

Everything scf-ledger keeps lives under one data directory (``--home`` /
``SCF_HOME``, default ``.scf`` in the working directory)::

    config.toml          optional settings (same keys as below)
    artifacts/           compiled contracts, keyed by content hash
    deployments/         one JSON record per chain id
    keystore/            encrypted account keystores
    node/                the local node: Anvil's pid, port, log and state; clique/ for a Clique network
    ledger.db            the indexed ledger (SQLite default)
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ledger.business_time import DEFAULT_TIMEZONE, parse_zone, use_zone
from ledger.errors import ConfigError

#: Where the project's npm packages live (solc-js, Anvil, OpenZeppelin).
REPO_ROOT = Path(__file__).resolve().parent.parent

DEV_CHAIN_ID = 31337
#: The contract's MAX_GRACE_PERIOD, in days.
MAX_GRACE_PERIOD_DAYS = 365
DEFAULT_PORT = 8545
#: The setting ``ws_url`` that turns the new-heads subscription off.
WS_OFF = "off"


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".scf")
    rpc_url: str = f"http://127.0.0.1:{DEFAULT_PORT}"
    #: EVM version the contracts are compiled for. London runs on the older
    #: private networks (Besu/Quorum/Clique) as well as on Anvil.
    evm_version: str = "london"
    optimizer_runs: int = 200
    #: Seconds to wait for a transaction to be mined.
    tx_timeout: float = 30.0
    #: Port of the local Anvil started by `scf node start`.
    node_port: int = DEFAULT_PORT
    #: Database URL for the indexed ledger; default SQLite under home.
    db_url: str | None = None
    node_modules: Path = field(default_factory=lambda: REPO_ROOT / "node_modules")
    #: Longest time from issue to due date that `scf deploy` sets on chain, in days (10 years).
    max_tenor_days: int = 3653
    #: Days after the due date before the holder of an unfinanced receivable may
    #: declare a default, set on chain by `scf deploy`; also the grace a financing
    #: agrees unless `scf invoice finance --grace-days` says otherwise (0 to 365).
    grace_period_days: int = 7
    #: Seconds a new default admin of the contracts waits before it can accept (two-step transfer).
    admin_delay: int = 86400
    #: The business time zone (IANA name): dates typed and shown are dates
    #: there; a due date is the end of that day (see :mod:`ledger.business_time`).
    #: Changing it needs `scf index rebuild` (the database stores business dates).
    timezone: str = DEFAULT_TIMEZONE
    #: Blocks the indexer stays behind the head, so a short reorg never reaches
    #: the database; None: 0 on the local dev chain, 6 elsewhere. A change is
    #: indexed by `--sync` once it has this many blocks on top of it.
    confirmations: int | None = None
    #: Index each change into the database after it is mined (`--sync`); None:
    #: on for the local dev chain only (elsewhere `scf index follow` does it).
    sync: bool | None = None
    #: Where `scf index follow` (and `scf serve --follow`) subscribes to new
    #: heads: a ws:// or wss:// URL, or "off" to poll only; None: the RPC URL
    #: over WebSocket (Anvil and Hardhat serve both on one port), polling
    #: when the node offers no subscription there.
    ws_url: str | None = None

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def deployments_dir(self) -> Path:
        return self.home / "deployments"

    @property
    def keystore_dir(self) -> Path:
        return self.home / "keystore"

    @property
    def node_dir(self) -> Path:
        return self.home / "node"

    @property
    def zone(self) -> ZoneInfo:
        return parse_zone(self.timezone)

    @property
    def database_url(self) -> str:
        return self.db_url or f"sqlite:///{(self.home / 'ledger.db').resolve()}"


_ENV = {
    "home": "SCF_HOME",
    "rpc_url": "SCF_RPC_URL",
    "evm_version": "SCF_EVM_VERSION",
    "optimizer_runs": "SCF_OPTIMIZER_RUNS",
    "tx_timeout": "SCF_TX_TIMEOUT",
    "node_port": "SCF_NODE_PORT",
    "db_url": "SCF_DB_URL",
    "node_modules": "SCF_NODE_MODULES",
    "max_tenor_days": "SCF_MAX_TENOR_DAYS",
    "grace_period_days": "SCF_GRACE_PERIOD_DAYS",
    "admin_delay": "SCF_ADMIN_DELAY",
    "timezone": "SCF_TIMEZONE",
    "confirmations": "SCF_CONFIRMATIONS",
    "sync": "SCF_SYNC",
    "ws_url": "SCF_WS_URL",
}

#: The environment variable holding the keystore password (the one place it is read: :func:`env_password`).
PASSWORD_ENV = "SCF_PASSWORD"


def env_password() -> str | None:
    """The keystore password from ``$SCF_PASSWORD`` (None if unset). Not a
    setting: it never comes from config.toml and is never stored."""
    return os.environ.get(PASSWORD_ENV)


_EVM_VERSIONS = {"london", "paris", "shanghai", "cancun", "prague"}


_FLAGS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}


def _flag(value: Any) -> bool | None:
    if isinstance(value, bool) or value is None:
        return value
    if str(value).strip().lower() not in _FLAGS:
        raise ValueError(value)
    return _FLAGS[str(value).strip().lower()]


#: What a value of each kind looks like, in the error that refuses one.
_EXPECTED = {
    "int": "a whole number",
    "float": "a number",
    "int | None": "a whole number, or nothing for the default",
    "bool | None": "on or off (1/0, true/false, yes/no), or nothing for the default",
}


def _coerce(name: str, value: Any, source: str) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    try:
        if kind in ("Path",):
            return Path(str(value)).expanduser()
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "int | None":
            return None if value in (None, "") else int(value)
        if kind == "bool | None":
            return _flag(value)
        return None if value in (None, "") else str(value)
    except (TypeError, ValueError) as exc:
        expected = _EXPECTED.get(str(kind), kind)
        raise ConfigError(f"invalid value {value!r} for {name} in {source}: expected {expected}") from exc


def is_ws_url(value: str) -> bool:
    """Whether ``value`` may be the setting ``ws_url``: ``off``, or a ws:// or wss:// URL with a host."""
    from urllib.parse import urlsplit

    if value.strip().lower() == WS_OFF:
        return True
    parts = urlsplit(value)
    return parts.scheme.lower() in ("ws", "wss") and bool(parts.hostname)


def _recorded_node_port(home: Path) -> int | None:
    """The RPC port the data directory's running node recorded, or None: the
    record of Anvil (``ledger.evm.node``) or of a Clique network's node 1
    (``ledger.evm.clique``); at most one engine of a data directory runs."""
    for record in ("anvil.json", "clique/running.json"):
        try:
            return int(json.loads((home / "node" / record).read_text())["port"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def _check(settings: Settings) -> None:
    """ConfigError for values no deployment accepts."""
    if settings.evm_version not in _EVM_VERSIONS:
        raise ConfigError(
            f"unknown EVM version {settings.evm_version!r}; use one of {', '.join(sorted(_EVM_VERSIONS))}"
        )
    if settings.confirmations is not None and settings.confirmations < 0:
        raise ConfigError(f"invalid confirmations {settings.confirmations}: use 0 or more blocks")
    if settings.ws_url is not None and not is_ws_url(settings.ws_url):
        raise ConfigError(f"invalid ws_url {settings.ws_url!r}: use a ws:// or wss:// URL, or off")
    if not 0 <= settings.grace_period_days <= MAX_GRACE_PERIOD_DAYS:
        raise ConfigError(
            f"invalid grace_period_days {settings.grace_period_days}: use 0 to {MAX_GRACE_PERIOD_DAYS} days"
        )


def load_settings(**overrides: Any) -> Settings:
    """Resolve settings; ``overrides`` are command-line values (None = unset).
    Also makes the settings' time zone this process's business time zone
    (:func:`ledger.business_time.use_zone`)."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    home_raw = overrides.get("home") or os.environ.get("SCF_HOME") or ".scf"
    home = Path(home_raw).expanduser()
    config_file = home / "config.toml"
    if config_file.exists():
        try:
            data = tomllib.loads(config_file.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"cannot parse {config_file}: {exc}; fix or remove the file") from exc
        except (OSError, UnicodeDecodeError) as exc:  # unreadable: environment (exit 3), not a bug
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise ConfigError(f"cannot read {config_file}: {reason}; fix its permissions or remove it") from None
        known = {f.name for f in fields(Settings)} - {"home"}
        for key, value in data.items():
            if key not in known:
                raise ConfigError(f"unknown key {key!r} in {config_file}; known keys: {', '.join(sorted(known))}")
            values[key] = _coerce(key, value, str(config_file))
            sources[key] = str(config_file)
    for name, env in _ENV.items():
        if name != "home" and os.environ.get(env):
            values[name] = _coerce(name, os.environ[env], f"${env}")
            sources[name] = f"${env}"
    for name, value in overrides.items():
        if value is not None and name != "home":
            values[name] = _coerce(name, value, f"--{name.replace('_', '-')}")
            sources[name] = f"--{name.replace('_', '-')}"
    if "rpc_url" not in values:
        # The default endpoint is the local node, wherever it listens: the
        # port given, else the port the running node recorded, else 8545.
        port = values.get("node_port") or _recorded_node_port(home) or DEFAULT_PORT
        values["rpc_url"] = f"http://127.0.0.1:{port}"
    settings = replace(Settings(), home=home, **values)
    _check(settings)
    use_zone(parse_zone(settings.timezone, sources.get("timezone", "timezone")))
    return settings
