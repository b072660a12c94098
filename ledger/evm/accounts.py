"""Signing accounts: encrypted eth-account keystores under ``<home>/keystore``,
plus Anvil's well-known dev accounts under fixed names, usable only on the dev
chain (chain id 31337). Private keys are never printed, and never written
unencrypted."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from ledger.config import DEV_CHAIN_ID, Settings, env_password
from ledger.errors import AccountError
from ledger.names import DEV_ADDRESSES

#: Anvil's default mnemonic; its keys are public knowledge, hence dev-chain only.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
#: Names the demo and tests use for Anvil's accounts 0..9.
DEV_NAMES = (
    "operator",
    "supplier",
    "buyer",
    "financier",
    "auditor",
    "supplier2",
    "buyer2",
    "financier2",
    "dev8",
    "dev9",
)
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class AccountInfo:
    name: str
    address: str
    kind: str  # "dev" or "keystore"


@cache
def dev_account(index: int) -> LocalAccount:
    Account.enable_unaudited_hdwallet_features()
    account: LocalAccount = Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")
    return account


@cache
def dev_address(name: str) -> str:
    # The well-known addresses, without deriving keys (tests check they match).
    return DEV_ADDRESSES[name]


def _check_name(name: str) -> None:
    if not _NAME_RE.match(name):
        raise AccountError(
            f"invalid account name {name!r}: use lower-case letters, digits, '.', '_' or '-' (at most 64)"
        )


class Keystore:
    def __init__(self, settings: Settings) -> None:
        self.dir = settings.keystore_dir

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.json"

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.dir.glob("*.json")) if self.dir.exists() else []

    def address(self, name: str) -> str:
        data = json.loads(self.path(name).read_text())
        return str(to_checksum_address("0x" + data["address"]))

    def create(self, name: str, password: str, private_key: str | None = None) -> str:
        _check_name(name)
        if name in DEV_NAMES:
            raise AccountError(f"account name {name!r} is reserved for a dev account; choose another name")
        if self.path(name).exists():
            raise AccountError(f"account {name!r} already exists; choose another name")
        if not password:
            raise AccountError("an empty password is not allowed; set SCF_PASSWORD or answer the prompt")
        try:
            account = Account.from_key(private_key) if private_key else Account.create()
        except (ValueError, TypeError):
            raise AccountError("invalid private key: expected 32 bytes as 64 hex digits") from None
        keystore = Account.encrypt(account.key, password)
        self.dir.mkdir(parents=True, exist_ok=True)
        # Create with 0600 from the start: the file is encrypted, but private anyway.
        fd = os.open(self.path(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(keystore, handle)
        return str(account.address)

    def unlock(self, name: str, password: str) -> LocalAccount:
        try:
            data = json.loads(self.path(name).read_text())
        except OSError:
            raise AccountError(f"unknown account {name!r}; see `scf account list`") from None
        try:
            key = Account.decrypt(data, password)
        except ValueError:
            raise AccountError(f"wrong password for account {name!r}") from None
        account: LocalAccount = Account.from_key(key)
        return account


def list_accounts(settings: Settings) -> list[AccountInfo]:
    store = Keystore(settings)
    found = [AccountInfo(n, dev_address(n), "dev") for n in DEV_NAMES]
    found += [AccountInfo(n, store.address(n), "keystore") for n in store.names()]
    return found


def load_signer(settings: Settings, name: str, chain_id: int, password: str | None) -> LocalAccount:
    """Unlock `name` for signing on `chain_id`; dev keys only on the dev chain."""
    store = Keystore(settings)
    if store.path(name).exists():
        if password is None:
            password = env_password()
        if password is None:
            raise AccountError(f"account {name!r} is encrypted: set SCF_PASSWORD or run interactively")
        return store.unlock(name, password)
    if name in DEV_NAMES:
        if chain_id != DEV_CHAIN_ID:
            raise AccountError(
                f"{name!r} is a public dev key and is refused on chain {chain_id}; "
                "create a real account with `scf account new`"
            )
        return dev_account(DEV_NAMES.index(name))
    raise AccountError(f"unknown account {name!r}; see `scf account list`")
