"""The ``api_keys`` table: who may read the ledger over HTTP (`scf serve`).

A key belongs to one participant (it sees what that participant's roles
cover, judged from the registry at each request, so a role granted or taken
later counts at once) or to the operator (it sees everything). Only the
SHA-256 of the secret is stored: the secret is 256 random bits, so a fast
hash is enough (a slow one protects low-entropy passwords, not these), and
the secret is shown once, when the key is made. A key is never deleted:
revoking stamps ``revoked_at``, so an auditor can still see who held it.
Not a projection: `scf index rebuild` leaves it alone.
"""

from __future__ import annotations

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ledger.db.models import Address, Base, UtcTime

#: Who a key speaks for.
PARTICIPANT, OPERATOR = "participant", "operator"


class ApiKey(Base):
    """One API key: its public id (the ``scf_<id>_`` prefix of the secret),
    the hash of the secret, whose it is, and its life."""

    __tablename__ = "api_keys"
    __table_args__ = (UniqueConstraint("key_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: 8 hex digits, the public part of the secret (shown by `scf api-key list`).
    key_id: Mapped[str] = mapped_column(String(16))
    #: SHA-256 of the whole secret, hex.
    secret_hash: Mapped[str] = mapped_column(String(64))
    #: ``participant`` or ``operator``.
    kind: Mapped[str] = mapped_column(String(16))
    #: The participant's address (None for an operator key).
    participant: Mapped[Address | None]
    #: The participant's name when the key was made, or the operator key's label.
    label: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[UtcTime]
    expires_at: Mapped[UtcTime | None]
    revoked_at: Mapped[UtcTime | None]
