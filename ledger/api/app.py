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
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from starlette.middleware.sessions import SessionMiddleware

from ledger.api import pages, problems, routes, schemas
from ledger.api.live import close_streams
from ledger.config import Settings
from ledger.db.engine import open_engine
from ledger.errors import ConfigError

#: Seconds a dashboard session lasts (re-checked against the key at every request).
SESSION_SECONDS = 8 * 3600
#: The fewest characters a session key may have (one made here has 43: 256 bits).
MIN_SECRET = 32


def session_secret(home: Path) -> str:
    """The secret that signs dashboard session cookies: ``<home>/api-session.key``,
    made (mode 0600) the first time, whole or not at all (written to a private
    temporary file, then linked into place); a file too short to be one (cut
    short, edited) is refused, never used. Delete it to log every session out."""
    path = home / "api-session.key"
    try:
        home.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            fd, temporary = tempfile.mkstemp(dir=home, prefix=".api-session.")
            try:
                with os.fdopen(fd, "w") as out:
                    out.write(secrets.token_urlsafe(32))
                os.link(temporary, path)  # fails if another server made it first: theirs stands
            except FileExistsError:
                pass
            finally:
                os.unlink(temporary)
        secret = path.read_text().strip()
    except OSError as exc:
        raise ConfigError(f"cannot make or read the session key {path}: {exc.strerror}; check --home") from None
    if len(secret) < MIN_SECRET:
        raise ConfigError(
            f"the session key {path} holds {len(secret)} characters, fewer than {MIN_SECRET}; delete it "
            "(a new one is made at the next start, and every dashboard session ends)"
        )
    return secret


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
            close_streams(app)  # the dashboard's live streams, and their poller
            engine.dispose()

    app = FastAPI(
        title="scf-ledger",
        summary="The supply-chain financing ledger, as indexed from the chain",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's own loads Swagger UI from a CDN: ours is vendored (below)
        redoc_url=None,
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
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """The API's docs page: Swagger UI from the pinned npm package, offline."""
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="scf-ledger API",
            swagger_js_url="/static/vendor/swagger-ui-bundle.js",
            swagger_css_url="/static/vendor/swagger-ui.css",
            swagger_favicon_url="/static/vendor/swagger-favicon.png",
        )

    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, made true to what the API does: errors are problem
    documents (``application/problem+json``; invalid parameters are 400, not
    422), and every endpoint but ``/api/health`` and the public pages needs an
    API key (bearer, or the ``X-API-Key`` header)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    components = schema.setdefault("components", {})
    components.setdefault("schemas", {})["ProblemDoc"] = schemas.ProblemDoc.model_json_schema()
    components["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "An API key from `scf api-key create`."},
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    }
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/ProblemDoc"}}}
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            for code, response in responses.items():
                if code[0] in "45":
                    response["content"] = problem
            if path != "/api/health":
                operation["security"] = [{"bearer": []}, {"apiKey": []}]
                responses.setdefault("401", {"description": "Unauthorized", "content": problem})
            responses.setdefault("400", {"description": "Bad Request", "content": problem})
    for name in ("HTTPValidationError", "ValidationError"):
        components["schemas"].pop(name, None)
    app.openapi_schema = schema
    return schema
