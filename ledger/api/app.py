"""The ASGI application of `scf serve`: the JSON API (:mod:`ledger.api.routes`),
the dashboard (:mod:`ledger.api.pages`) and, when a relayer account is
given, gasless confirmations (:mod:`ledger.api.relay`, the one part that
signs and so imports web3, lazily).

The app holds one pooled read-only engine on the ledger database for its
life; the indexer (`scf index follow`, or `scf serve --follow` in the same
process) writes, the app only reads (API keys excepted, which `scf api-key`
writes). OpenAPI schema at ``/openapi.json``, its docs page at ``/docs``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.sessions import SessionMiddleware

from ledger.api import pages, problems, routes
from ledger.config import Settings
from ledger.db.engine import open_engine
from ledger.errors import ConfigError

#: Seconds a dashboard session lasts (re-checked against the key at every request).
SESSION_SECONDS = 8 * 3600


def session_secret(home: Path) -> str:
    """The secret that signs dashboard session cookies: ``<home>/api-session.key``,
    made (mode 0600) the first time; delete it to log every session out."""
    path = home / "api-session.key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    try:
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot write the session key {path}: {exc.strerror}; check --home") from None
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def create_app(settings: Settings, *, relayer: str | None = None, secure_cookies: bool = False) -> FastAPI:
    """The app over ``settings``' ledger database. ``relayer``: the local
    account that submits buyers' signed confirmations (POST
    /api/confirmations); without it that endpoint is not served.
    ``secure_cookies``: mark the session cookie Secure (behind HTTPS)."""
    engine = open_engine(settings.database_url, write=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="scf-ledger",
        summary="The supply-chain financing ledger, as indexed from the chain",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.relayer = relayer
    app.add_middleware(
        SessionMiddleware,
        secret_key=session_secret(settings.home),
        session_cookie="scf_session",
        max_age=SESSION_SECONDS,
        same_site="lax",
        https_only=secure_cookies,
    )
    problems.install(app)
    app.include_router(routes.router)
    if relayer is not None:
        from ledger.api.relay import router as relay_router

        app.include_router(relay_router)
    app.include_router(pages.router)
    pages.mount_static(app)
    return app
