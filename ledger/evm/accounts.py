"""Signing accounts: encrypted eth-account keystores under ``<home>/keystore``,
plus Anvil's well-known dev accounts under fixed names, usable only on the dev
chain (chain id 31337). Private keys are never printed, and never written
unencrypted.

Errors follow the families of :mod:`ledger.errors`: a name, password or key
the user gives that cannot be used is an ``InputError`` (exit 2); a dev key
off the dev chain is ``Refused`` (1); a keystore file that cannot be read or
is corrupt is an ``AccountError`` (3) that names the file and says how to
recover it. Listing never fails on one bad file: it is listed as unreadable."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from ledger.config import DEV_CHAIN_ID, Settings, env_password
from ledger.errors import AccountError, InputError, Refused, UnreadableKeystore
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
    address: str | None  # None: the keystore file is unreadable (see ``problem``)
    kind: str  # "dev" or "keystore"
    problem: str | None = None  # why the keystore file cannot be used, if it cannot


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
        raise InputError(f"invalid account name {name!r}: use lower-case letters, digits, '.', '_' or '-' (at most 64)")


class Keystore:
    def __init__(self, settings: Settings) -> None:
        self.dir = settings.keystore_dir

    def path(self, name: str) -> Path:
        return self.dir / f"{name}.json"

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.dir.glob("*.json")) if self.dir.exists() else []

    def read(self, name: str) -> dict[str, Any]:
        """The keystore file of ``name`` as JSON, checked to look like a key
        file: an ``InputError`` if there is none, an ``AccountError`` naming
        the file if it cannot be read or is corrupt."""
        path = self.path(name)
        try:
            raw = _read_bytes(path)
        except FileNotFoundError:
            raise InputError(f"unknown account {name!r}; see `scf account list`") from None
        except OSError as exc:
            raise self._broken(name, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
        if not raw.strip():
            raise self._broken(name, "is empty")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise self._broken(name, "is not a JSON key file") from None
        if not isinstance(data, dict):
            raise self._broken(name, "is not a JSON key file")
        for key in ("address", "version", "crypto"):
            if key not in data:
                raise self._broken(name, f"is corrupt (it lacks {key!r})")
        try:
            data["address"] = str(to_checksum_address("0x" + str(data["address"]).removeprefix("0x")))
        except ValueError:
            raise self._broken(name, "is corrupt (its address is not 20 bytes of hex)") from None
        return data

    def _broken(self, name: str, problem: str) -> UnreadableKeystore:
        return UnreadableKeystore(self.path(name), name, problem)

    def address(self, name: str) -> str:
        return str(self.read(name)["address"])

    def create(self, name: str, password: str, private_key: str | None = None) -> str:
        _check_name(name)
        if name in DEV_NAMES:
            raise InputError(f"account name {name!r} is reserved for a dev account; choose another name")
        if self.path(name).exists():
            raise InputError(f"account {name!r} already exists; choose another name")
        if not password:
            raise InputError("an empty password is not allowed; set SCF_PASSWORD or answer the prompt")
        try:
            account = Account.from_key(private_key) if private_key else Account.create()
        except (ValueError, TypeError):
            raise InputError("invalid private key: expected 32 bytes as 64 hex digits") from None
        keystore = Account.encrypt(account.key, password)
        self.dir.mkdir(parents=True, exist_ok=True)
        # Create with 0600 from the start: the file is encrypted, but private anyway.
        fd = os.open(self.path(name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(keystore, handle)
        return str(account.address)

    def unlock(self, name: str, password: str) -> LocalAccount:
        data = self.read(name)
        try:
            key = Account.decrypt(data, password)
        except Exception as exc:  # noqa: BLE001 - eth-keyfile raises KeyError, TypeError, ... on a corrupt file
            if isinstance(exc, ValueError) and "MAC mismatch" in str(exc):
                raise InputError(f"wrong password for account {name!r}") from None
            raise self._broken(name, f"is corrupt ({type(exc).__name__}: {exc})") from None
        account: LocalAccount = Account.from_key(key)
        if account.address != data["address"]:
            raise self._broken(name, f"is corrupt (its key is not that of its address {data['address']})")
        return account


def _read_bytes(path: Path) -> bytes:
    """The bytes of a keystore file (a function of its own, so tests can make it fail)."""
    return path.read_bytes()


def _listed(store: Keystore, name: str) -> AccountInfo:
    try:
        return AccountInfo(name, store.address(name), "keystore")
    except (AccountError, InputError) as exc:  # removed while listing: InputError
        return AccountInfo(name, None, "keystore", str(exc))


def list_accounts(settings: Settings) -> list[AccountInfo]:
    """The dev accounts, then every keystore file by name; a file that cannot
    be read or is corrupt is listed too, with no address and its ``problem``."""
    store = Keystore(settings)
    found = [AccountInfo(n, dev_address(n), "dev") for n in DEV_NAMES]
    found += [_listed(store, n) for n in store.names()]
    return found


def load_signer(settings: Settings, name: str, chain_id: int, password: str | None) -> LocalAccount:
    """Unlock `name` for signing on `chain_id`; dev keys only on the dev chain."""
    store = Keystore(settings)
    if store.path(name).exists():
        if password is None:
            password = env_password()
        if password is None:
            raise InputError(f"account {name!r} is encrypted: set SCF_PASSWORD or run interactively")
        return store.unlock(name, password)
    if name in DEV_NAMES:
        if chain_id != DEV_CHAIN_ID:
            raise Refused(
                f"{name!r} is a public dev key and is refused on chain {chain_id}; "
                "create a real account with `scf account new`"
            )
        return dev_account(DEV_NAMES.index(name))
    raise InputError(f"unknown account {name!r}; see `scf account list`")
