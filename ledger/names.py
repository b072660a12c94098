"""Names of parties, for commands that read the database: participant names,
local account names and addresses, resolved to checksummed addresses without
importing web3, eth_account or eth_utils (together ~0.7 s at start-up).

* :data:`DEV_ADDRESSES`: Anvil's well-known accounts 0..9 of the default
  mnemonic under the names of ``ledger.evm.accounts.DEV_NAMES`` (a test checks
  them against the keys ``ledger.evm.accounts`` derives).
* :func:`keystore_address`: the address field of ``<keystore>/<name>.json``,
  read as JSON (nothing is decrypted).
* :func:`checksum`: EIP-55 checksumming with pycryptodome's Keccak.
* :func:`resolve`: user input -> address: an address; else a registered
  participant name (case-insensitive); else a local account name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from enum import IntEnum
from pathlib import Path

from ledger.errors import InputError, Refused, UnreadableKeystore

#: Anvil's default-mnemonic accounts 0..9, by the names ledger.evm.accounts.DEV_NAMES gives them.
DEV_ADDRESSES: dict[str, str] = {
    "operator": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "supplier": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "buyer": "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC",
    "financier": "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
    "auditor": "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65",
    "supplier2": "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc",
    "buyer2": "0x976EA74026E726554dB657fA54763abd0C3a0aa9",
    "financier2": "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
    "dev8": "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    "dev9": "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
}
#: The zero address: no holder (burnt), or any financier (an open listing).
ZERO_ADDRESS = "0x" + "00" * 20
#: IInvoiceToken.Status by value (the contract's enum; append only).
STATUS_NAMES = (
    "None",
    "Issued",
    "Confirmed",
    "Financed",
    "PartiallyPaid",
    "Paid",
    "Cancelled",
    "Split",
    "Disputed",
    "Defaulted",
    "WrittenOff",
)


class InvoiceStatus(IntEnum):
    """IInvoiceToken.Status: the on-chain value; :attr:`label` is its name in
    :data:`STATUS_NAMES` (what the database and the CLI show)."""

    NONE = 0
    ISSUED = 1
    CONFIRMED = 2
    FINANCED = 3
    PARTIALLY_PAID = 4
    PAID = 5
    CANCELLED = 6
    SPLIT = 7
    DISPUTED = 8
    DEFAULTED = 9
    WRITTEN_OFF = 10

    @property
    def label(self) -> str:
        return STATUS_NAMES[self.value]


#: Statuses a receivable is open in: moved, disputed, extended and declared in default from
#: (``ReceivableRules.isOpen`` on chain).
OPEN_STATUSES = (InvoiceStatus.CONFIRMED, InvoiceStatus.FINANCED, InvoiceStatus.PARTIALLY_PAID)
#: Statuses after a default: a buyer's payment then is a recovery, and keeps the status until paid in full.
DEFAULTED_STATUSES = (InvoiceStatus.DEFAULTED, InvoiceStatus.WRITTEN_OFF)
#: Statuses a receivable can be financed (and so is offered by a listing) in: the contract refuses
#: ``finance`` in any other. A listing can outlive them in storage (a repayment in full leaves it), so
#: the read side counts a stored listing as listed only in these.
FINANCEABLE_STATUSES = (InvoiceStatus.CONFIRMED, InvoiceStatus.PARTIALLY_PAID)
#: The same, by the names the database and the CLI show.
OPEN_STATUS_NAMES = tuple(s.label for s in OPEN_STATUSES)
DEFAULTED_STATUS_NAMES = tuple(s.label for s in DEFAULTED_STATUSES)
FINANCEABLE_STATUS_NAMES = tuple(s.label for s in FINANCEABLE_STATUSES)


def status_name(value: int) -> str:
    """The name of an on-chain status value; a value this scf does not know as its number."""
    return STATUS_NAMES[value] if 0 <= value < len(STATUS_NAMES) else str(value)


#: ParticipantRegistry role bits (the one definition; ledger.evm.chain imports it).
ROLE_BITS: dict[str, int] = {"supplier": 1, "buyer": 2, "financier": 4, "auditor": 8}

_ADDRESS_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def role_names(bits: int) -> list[str]:
    return [name for name, bit in ROLE_BITS.items() if bits & bit]


def require_role(roles: int, role: str, who: str, why: str) -> None:
    """Refuse, before anything is sent or stored, a party without ``role``
    (``roles``: its registry role bits) where one with it must be named;
    ``why`` says what needs it. A rule of the ledger's state (exit 1), as when
    the contracts refuse a party without the role: once the operator grants
    it, the same command succeeds."""
    if not roles & ROLE_BITS[role]:
        raise Refused(f"{who} does not have the {role} role; {why}")


def checksum(address: str) -> str:
    """``address`` (0x and 40 hex digits, any case) in EIP-55 mixed case."""
    if not _ADDRESS_RE.match(address):
        raise ValueError(f"not an address: {address!r}")
    from Crypto.Hash import keccak  # pycryptodome: eth-hash's backend here, ~20 ms to import

    hexits = address[2:].lower()
    digest = keccak.new(digest_bits=256, data=hexits.encode()).hexdigest()
    return "0x" + "".join(c.upper() if int(d, 16) >= 8 else c for c, d in zip(hexits, digest[:40], strict=True))


#: The longest participant name the registry accepts, in bytes of UTF-8.
MAX_NAME_BYTES = 128


def check_participant_name(name: str) -> None:
    """A name is printable, 1 to 128 bytes, and never parses as an address
    (every command reads text starting with 0x as one)."""
    clean = name.strip()
    if not clean:
        raise InputError("a participant needs a non-empty name")
    if not clean.isprintable():
        raise InputError(f"invalid participant name {clean!r}: it contains a line break or control character")
    if len(clean.encode()) > MAX_NAME_BYTES:
        raise InputError(
            f"invalid participant name: it is {len(clean.encode())} bytes long; the limit is {MAX_NAME_BYTES}"
        )
    if clean[:2].lower() == "0x":
        raise InputError(f"invalid participant name {clean!r}: a name starting with 0x would be read as an address")


def keystore_address(keystore_dir: Path | None, name: str) -> str | None:
    """The address of keystore account ``name`` (None if there is none)."""
    if keystore_dir is None or not _NAME_RE.match(name):
        return None
    path = keystore_dir / f"{name}.json"
    try:
        data = json.loads(path.read_text())
        return checksum("0x" + str(data["address"]).removeprefix("0x"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UnreadableKeystore(path, name, f"cannot be read or is corrupt ({type(exc).__name__}: {exc})") from None


def account_address(name: str, keystore_dir: Path | None = None) -> str | None:
    """Address of a local account (a keystore, else a dev account), not unlocked."""
    return DEV_ADDRESSES.get(name) or keystore_address(keystore_dir, name)


def resolve(
    text: str, names: Mapping[str, str], what: str, keystore_dir: Path | None = None, account_first: bool = False
) -> str:
    """An address, a registered participant name (``names``: address -> name,
    case-insensitive) or a local account name, as a checksummed address. A
    name that is a participant and a local account of another address is
    refused, unless ``account_first`` (for ``--as``, which names an account)
    says the local account is meant. Every command resolves names here."""
    raw = text.strip()
    address = raw.lower().startswith("0x")
    local = account_address(raw, keystore_dir) if account_first or not address else None
    if account_first and local is not None:
        return local
    if address:
        if not _ADDRESS_RE.match(raw):
            raise InputError(f"invalid {what} address {text!r}: expected 0x and 40 hex digits")
        hexits = raw[2:]
        if hexits != hexits.lower() and hexits != hexits.upper() and checksum(raw) != raw:
            # Mixed case is an EIP-55 checksum; a wrong one is a typo, not an address to "correct".
            raise InputError(
                f"invalid {what} address {text!r}: its EIP-55 checksum is wrong (a typo?); "
                "check it, or give it in lower case"
            )
        return checksum(raw)
    matches = [a for a, n in names.items() if n.casefold() == raw.casefold()]
    if len(matches) > 1:
        raise InputError(f"{what} name {text!r} is ambiguous; use the address")
    if matches and local is not None and local != matches[0]:
        # Neither may win silently: money would go to whichever came first.
        raise InputError(
            f"{what} name {text!r} is both the participant {matches[0]} and the local account {local}; use the address"
        )
    if matches:
        return matches[0]
    if local is not None:
        return local
    raise InputError(
        f"unknown {what} {text!r}: no participant or local account has that name; give a registered name, "
        "an account name or an address (see `scf participant list`)"
    )
