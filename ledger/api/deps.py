"""What every request of the API gets: one read transaction on the ledger
database, the deployment it shows, and who is asking (:class:`Reader`).

The app holds one pooled read-only engine for its life (a reader never takes
SQLite's write lock, so a running `scf index follow` never blocks a page);
each request reads one snapshot (REPEATABLE READ on PostgreSQL).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property

from fastapi import Request
from sqlalchemy import ColumnElement, Connection, Engine

from ledger.api.access import Viewer, invoice_visibility, viewer_of
from ledger.api.keys import KeyRow, authenticate, find_key
from ledger.api.problems import Problem
from ledger.config import Settings
from ledger.db.session import snapshot
from ledger.queries import Directory, Scope, directory, find_scope, ledger_time

#: The session cookie of the dashboard (a signed key id; see ledger.api.pages).
SESSION_KEY = "key_id"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="scf-ledger"'}
NO_KEY = "an API key is needed: send `Authorization: Bearer <key>` (make one with `scf api-key create`)"


@dataclass
class Reader:
    """One request's view of the ledger."""

    conn: Connection
    scope: Scope
    viewer: Viewer

    @cached_property
    def at(self) -> dt.datetime:
        """The ledger's time (listings and past due are judged at it)."""
        return ledger_time(self.conn, self.scope)

    @cached_property
    def names(self) -> Directory:
        return directory(self.conn, self.scope)

    @cached_property
    def visibility(self) -> ColumnElement[bool] | None:
        return invoice_visibility(self.viewer, self.at)


def engine_of(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def header_key(conn: Connection, request: Request) -> KeyRow | None:
    """The active key the request's headers carry (``Authorization: Bearer``,
    else ``X-API-Key``); None when they carry none; a 401 problem for a
    malformed header or a key that is unknown, expired or revoked."""
    secret = request.headers.get("x-api-key")
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Problem(
                401, "use `Authorization: Bearer <API key>`; make a key with `scf api-key create`", headers=CHALLENGE
            )
        secret = value.strip()
    if secret is None:
        return None
    key = authenticate(conn, secret)
    if key is None:
        raise Problem(
            401, "the API key is unknown, expired or revoked; ask the operator for a new one", headers=CHALLENGE
        )
    return key


def session_key(conn: Connection, request: Request) -> KeyRow | None:
    """The active key of the request's dashboard session (None without one; a
    session of a key since revoked or expired is cleared)."""
    key_id = request.session.get(SESSION_KEY) if "session" in request.scope else None
    if not isinstance(key_id, str):
        return None
    found = find_key(conn, key_id)
    if found is not None and found.state(dt.datetime.now(dt.UTC)) == "active":
        return found
    request.session.clear()
    return None


def _key(conn: Connection, request: Request) -> KeyRow:
    key = header_key(conn, request) or session_key(conn, request)
    if key is None:
        raise Problem(401, NO_KEY, headers=CHALLENGE)
    return key


def open_reader(request: Request) -> Iterator[Reader]:
    """The :class:`Reader` of a request that needs a key (401 without one)."""
    with snapshot(engine_of(request)) as conn:
        key = _key(conn, request)
        scope = find_scope(conn, settings_of(request))
        yield Reader(conn, scope, viewer_of(conn, scope, key))
