"""API keys: made, listed, revoked (by `scf api-key`) and checked (by every
request of `scf serve`).

A key's secret is ``scf_<key id>_<43 URL-safe characters>``: the key id (8
hex digits) finds the row, the rest is 256 random bits. Only the SHA-256 of
the whole secret is stored (:mod:`ledger.api.models` says why that is
enough) and compared in constant time. Secrets are shown once and never
logged; the key id is what lists, logs and the dashboard show.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy import Connection, Table

from ledger.api.models import OPERATOR, PARTICIPANT, ApiKey
from ledger.errors import InputError
from ledger.format import iso_time

API_KEYS = cast(Table, ApiKey.__table__)
_SECRET = re.compile(r"scf_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class KeyRow:
    """A stored key (never its secret)."""

    key_id: str
    kind: str
    participant: str | None
    label: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None

    def state(self, now: dt.datetime) -> str:
        """``active``, ``expired`` or ``revoked``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def record(self, now: dt.datetime, name: str | None = None) -> dict[str, Any]:
        """The key as plain data (for `scf api-key list --json`)."""
        return {
            "key_id": self.key_id,
            "kind": self.kind,
            "participant": None if self.participant is None else {"address": self.participant, "name": name},
            "label": self.label,
            "created_at": iso_time(self.created_at),
            "expires_at": iso_time(self.expires_at),
            "revoked_at": iso_time(self.revoked_at),
            "state": self.state(now),
        }


def _row(r: Any) -> KeyRow:
    return KeyRow(r.key_id, r.kind, r.participant, r.label, r.created_at, r.expires_at, r.revoked_at)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(
    conn: Connection,
    *,
    participant: str | None,
    label: str,
    expires_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> tuple[KeyRow, str]:
    """A new key for ``participant`` (an address), or an operator key when
    it is None; returns the stored row and the secret (shown once)."""
    now = now or dt.datetime.now(dt.UTC)
    if expires_at is not None and expires_at <= now:
        raise InputError(f"the expiry {iso_time(expires_at)} is not in the future; give a later --expires date")
    while True:
        key_id = secrets.token_hex(4)
        taken = conn.execute(sa.select(API_KEYS.c.id).where(API_KEYS.c.key_id == key_id)).first()
        if taken is None:
            break
    secret = f"scf_{key_id}_{secrets.token_urlsafe(32)}"
    kind = PARTICIPANT if participant is not None else OPERATOR
    values = {
        "key_id": key_id,
        "secret_hash": _digest(secret),
        "kind": kind,
        "participant": participant,
        "label": label,
        "created_at": now,
        "expires_at": expires_at,
        "revoked_at": None,
    }
    conn.execute(sa.insert(API_KEYS).values(**values))
    return KeyRow(key_id, kind, participant, label, now, expires_at, None), secret


def list_keys(conn: Connection) -> list[KeyRow]:
    """Every key, oldest first (revoked and expired ones too)."""
    return [_row(r) for r in conn.execute(sa.select(API_KEYS).order_by(API_KEYS.c.id)).all()]


def key_id_of(text: str) -> str:
    """The key id in ``text``: a key id, or a whole secret (its id part)."""
    text = text.strip()
    found = _SECRET.fullmatch(text)
    if found:
        return found.group(1)
    if re.fullmatch(r"(scf_)?[0-9a-f]{8}", text):
        return text.removeprefix("scf_")
    raise InputError(f"{text[:12]!r}... is not an API key id; give the 8 hex digits `scf api-key list` shows")


def revoke_key(conn: Connection, key_id: str, now: dt.datetime | None = None) -> KeyRow:
    """Stamp the key revoked (from now on every request with it gets 401);
    revoking a revoked key changes nothing."""
    found = conn.execute(sa.select(API_KEYS).where(API_KEYS.c.key_id == key_id)).first()
    if found is None:
        raise InputError(f"no API key {key_id}; see `scf api-key list`")
    if found.revoked_at is None:
        conn.execute(
            sa.update(API_KEYS).where(API_KEYS.c.key_id == key_id).values(revoked_at=now or dt.datetime.now(dt.UTC))
        )
        found = conn.execute(sa.select(API_KEYS).where(API_KEYS.c.key_id == key_id)).one()
    return _row(found)


def find_key(conn: Connection, key_id: str) -> KeyRow | None:
    found = conn.execute(sa.select(API_KEYS).where(API_KEYS.c.key_id == key_id)).first()
    return None if found is None else _row(found)


def authenticate(conn: Connection, secret: str, now: dt.datetime | None = None) -> KeyRow | None:
    """The active key whose secret this is; None for anything else (malformed,
    unknown, wrong secret, expired, revoked), all alike to the caller."""
    found = _SECRET.fullmatch(secret.strip())
    if not found:
        return None
    row = conn.execute(sa.select(API_KEYS).where(API_KEYS.c.key_id == found.group(1))).first()
    if row is None or not hmac.compare_digest(row.secret_hash, _digest(secret.strip())):
        return None
    key = _row(row)
    return key if key.state(now or dt.datetime.now(dt.UTC)) == "active" else None
