"""The deployment record and contract bindings.

A deployment record (``<home>/deployments/<chain id>.json``) is how every
command finds the contracts: addresses, deployment blocks, artifact hashes and
the ABIs they were deployed with (so later source edits cannot desynchronise
the bindings from what is on chain)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ledger.config import Settings
from ledger.errors import DeploymentError, InputError, MissingContract

#: The version of the contracts (IInvoiceToken.version()) this scf deploys and drives.
CONTRACT_VERSION = 5


@dataclass
class DeployedContract:
    address: str
    block: int
    tx_hash: str
    artifact_hash: str
    abi: list[dict[str, Any]] = field(repr=False)


@dataclass
class Currency:
    symbol: str
    address: str
    decimals: int
    block: int


@dataclass
class Deployment:
    chain_id: int
    deployed_at: str
    deployer: str
    build_key: str
    compiler: str
    evm_version: str
    contracts: dict[str, DeployedContract]
    currencies: dict[str, Currency]
    #: IInvoiceToken.version() of the deployed contracts (records before v2 carry none: 1).
    version: int = 1
    #: Who holds each administrative role: admin, operator, currency_manager, minter.
    roles: dict[str, str] = field(default_factory=dict)

    @property
    def start_block(self) -> int:
        return min(c.block for c in self.contracts.values())

    def contract(self, name: str) -> DeployedContract:
        """The deployed contract ``name`` (``"InvoiceToken"``, ``"ParticipantRegistry"``, ...)."""
        try:
            return self.contracts[name]
        except KeyError:
            raise MissingContract(name, self.chain_id) from None

    def currency(self, symbol: str) -> Currency:
        try:
            return self.currencies[symbol.upper()]
        except KeyError:
            known = ", ".join(sorted(self.currencies)) or "none"
            raise InputError(f"unknown currency {symbol!r}; this deployment settles in: {known}") from None

    def currency_by_address(self, address: str) -> Currency | None:
        for currency in self.currencies.values():
            if currency.address.lower() == address.lower():
                return currency
        return None

    def abis(self) -> list[list[dict[str, Any]]]:
        return [c.abi for c in self.contracts.values()]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deployment:
        return cls(
            chain_id=int(data["chain_id"]),
            deployed_at=data["deployed_at"],
            deployer=data["deployer"],
            build_key=data["build_key"],
            compiler=data["compiler"],
            evm_version=data["evm_version"],
            contracts={k: DeployedContract(**v) for k, v in data["contracts"].items()},
            currencies={k: Currency(**v) for k, v in data["currencies"].items()},
            version=int(data.get("version", 1)),
            roles=dict(data.get("roles", {})),
        )


def artifact_hash(bytecode: str) -> str:
    return hashlib.sha256(bytes.fromhex(bytecode.removeprefix("0x"))).hexdigest()


def deployment_path(settings: Settings, chain_id: int) -> Path:
    return settings.deployments_dir / f"{chain_id}.json"


def load_deployment(settings: Settings, chain_id: int) -> Deployment:
    path = deployment_path(settings, chain_id)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DeploymentError(
            f"no contracts deployed on chain {chain_id} from {settings.home}; run `scf deploy`"
        ) from None
    except (OSError, ValueError) as exc:
        raise DeploymentError(
            f"unreadable deployment record {path}: {exc}; redeploy with `scf deploy --force`"
        ) from None
    deployment = Deployment.from_dict(data)
    if deployment.version != CONTRACT_VERSION:
        raise DeploymentError(
            f"the contracts on chain {chain_id} are version {deployment.version}; this scf drives version "
            f"{CONTRACT_VERSION}: deploy a new set with `scf deploy --force`"
        )
    return deployment


def save_deployment(settings: Settings, deployment: Deployment) -> Path:
    path = deployment_path(settings, deployment.chain_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(deployment.to_json())
    tmp.replace(path)
    return path


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
