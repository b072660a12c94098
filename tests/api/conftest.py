"""Fixtures of the HTTP API tests: the scenario ledger (tests/support/scenario.py)
indexed into a fresh database of each backend, an API key for every party of
it, and an ASGI test client of the real app (``create_app``) over it.

Invoices of the scenario: 1 INV-Q-1 supplier -> buyer, financed by the
financier and partly repaid; 2 INV-Q-2 supplier -> buyer2, confirmed;
3 INV-Q-3 supplier2 -> buyer, cancelled; 4 INV-Q-4 supplier -> buyer, paid.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ledger.names import DEV_ADDRESSES

#: The parties of the scenario that get a key, by local account name (operator: an operator key).
ROLES = ("operator", "auditor", "supplier", "supplier2", "buyer", "buyer2", "financier", "financier2")


@dataclass
class Api:
    """The app over the indexed scenario, and a secret per party."""

    env: Any  # tests/conftest.py Env
    client: object  # fastapi.testclient.TestClient
    secrets: dict[str, str]
    key_ids: dict[str, str]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[who]}"}

    def get(self, who: str | None, path: str, **params: object) -> object:
        """GET ``path`` as ``who`` (None: without a key)."""
        headers = {} if who is None else self.headers(who)
        return self.client.get(path, headers=headers, params=params)  # type: ignore[attr-defined]


def make_keys(env: Any) -> tuple[dict[str, str], dict[str, str]]:
    """A key per party of :data:`ROLES`, made as `scf api-key create` makes them."""
    from ledger.api.keys import create_key
    from ledger.db.session import get_engine

    secrets, ids = {}, {}
    with get_engine(env.settings.database_url).begin() as conn:
        for who in ROLES:
            participant = None if who == "operator" else DEV_ADDRESSES[who]
            key, secret = create_key(conn, participant=participant, label=f"{who} key")
            secrets[who], ids[who] = secret, key.key_id
    return secrets, ids


@pytest.fixture()
def api(indexed: Any) -> Iterator[Api]:
    """The real app over the indexed scenario (both backends), with a key per party."""
    from fastapi.testclient import TestClient

    from ledger.api.app import create_app

    secrets, ids = make_keys(indexed)
    with TestClient(create_app(indexed.settings)) as client:
        yield Api(indexed, client, secrets, ids)
