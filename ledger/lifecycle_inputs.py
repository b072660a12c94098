"""The inputs of the lifecycle's operations that need no chain: an invoice
document's hash, participant roles from text, and a resolved party.
Re-exported by :mod:`ledger.lifecycle`."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ledger.config import MAX_GRACE_PERIOD_DAYS
from ledger.errors import InputError
from ledger.money import to_minor_units
from ledger.names import ROLE_BITS


def positive_units(text: str, decimals: int, what: str = "amount") -> int:
    """An amount the user gives for a transaction, in minor units: zero is
    bad input like a negative (exit 2), refused before anything is sent,
    not left for the contracts to refuse as a rule."""
    units = to_minor_units(text, decimals, what)
    if units == 0:
        raise InputError(f"invalid {what} {text!r}: must be more than 0")
    return units


def document_hash(path: Path | None) -> bytes:
    """SHA-256 of the invoice document (which itself stays off chain)."""
    if path is None:
        return b"\0" * 32
    try:
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError as exc:
        raise InputError(f"cannot read document {path}: {exc.strerror}") from None


def parse_roles(text: str) -> int:
    bits = 0
    for part in re.split(r"[,+ ]+", text.strip().lower()):
        if not part:
            continue
        if part not in ROLE_BITS:
            raise InputError(f"unknown role {part!r}; use supplier, buyer, financier or auditor (comma-separated)")
        bits |= ROLE_BITS[part]
    if not bits:
        raise InputError("no role given; use supplier, buyer, financier or auditor")
    return bits


def grace_seconds(days: int | None) -> int | None:
    """``--grace-days`` in seconds (None: the deployment's); 0 to 365 days, else bad input (exit 2)."""
    if days is None:
        return None
    if not 0 <= days <= MAX_GRACE_PERIOD_DAYS:
        raise InputError(f"invalid grace period {days} days: use 0 to {MAX_GRACE_PERIOD_DAYS} days")
    return days * 86400


@dataclass(frozen=True)
class Party:
    address: str
    name: str | None
