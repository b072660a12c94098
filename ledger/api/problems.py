"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the API returns has ``type`` (a stable URI naming the kind of
problem, under ``/problems/``), ``title`` (that kind in words), ``status``,
``detail`` (this occurrence, one line: what was wrong and what to do) and
``instance`` (the request path). The ledger's own errors keep their one-line
messages, by family: bad input 400, an unknown invoice 404, a refusal 409,
the environment (database away, nothing indexed) 503. A database that is
away, locked or full when a request reads it is a 503 too. What names the
server's setting (the database's URL or path, the driver's words, the
node's URL, which may hold a provider's key, and the operator's remedy) goes
to the server log only: a client, with or without a key, gets a generic
detail (:data:`DATABASE_AWAY`, :data:`NODE_AWAY`) and a Retry-After. Any
other failure is a 500 whose traceback goes to the server log only.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.db.engine import setting_database_error
from ledger.errors import (
    ChainError,
    DatabaseError,
    EnvironmentProblem,
    InputError,
    LedgerError,
    Refused,
    UnknownInvoice,
)

log = logging.getLogger("ledger.api")

MEDIA_TYPE = "application/problem+json"
#: The detail a client gets when the ledger database is away, locked or full.
DATABASE_AWAY = "the ledger database is unavailable; retry later"
#: The detail a client gets when the server's node is away or failed.
NODE_AWAY = "the ledger's node is unavailable; retry later"
#: Seconds a client is asked to wait (Retry-After) before trying again.
RETRY_AFTER = "5"

#: status -> (type slug, title)
_KINDS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Missing or invalid API key"),
    403: ("forbidden", "Not allowed for this key"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("refused", "Refused by the ledger's rules"),
    413: ("too-large", "Request body too large"),
    422: ("invalid-parameters", "Invalid parameters"),
    500: ("internal", "Internal error"),
    503: ("unavailable", "The ledger is not available"),
}


class Problem(Exception):
    """An error the API answers with a problem document."""

    def __init__(self, status: int, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers


def problem_response(
    status: int, detail: str, path: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    slug, title = _KINDS.get(status, ("error", "Error"))
    body = {"type": f"/problems/{slug}", "title": title, "status": status, "detail": detail, "instance": path}
    return JSONResponse(body | extra, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def status_of(exc: LedgerError) -> int:
    """The HTTP status of a ledger error's family."""
    if isinstance(exc, UnknownInvoice):
        return 404
    if isinstance(exc, InputError):
        return 400
    if isinstance(exc, Refused):
        return 409
    if isinstance(exc, EnvironmentProblem):
        return 503
    return 500


def _one_line(text: str) -> str:
    return " ".join(text.split())


def unavailable(request: Request, detail: str, line: str) -> JSONResponse:
    """A 503 with the generic ``detail`` and a Retry-After for the client; the full
    ``line`` (the server's setting named, the operator's remedy) to the server log."""
    log.warning("%s %s: %s", request.method, request.url.path, line)
    return problem_response(503, detail, request.url.path, {"Retry-After": RETRY_AFTER})


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` with a problem document."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.detail, request.url.path, exc.headers)

    @app.exception_handler(LedgerError)
    async def _ledger(request: Request, exc: LedgerError) -> JSONResponse:
        private = {DatabaseError: DATABASE_AWAY, ChainError: NODE_AWAY}
        for kind, generic in private.items():
            if isinstance(exc, kind):
                return unavailable(request, generic, _one_line(str(exc)))
        return problem_response(status_of(exc), _one_line(str(exc)), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else _KINDS.get(exc.status_code, ("", "Error"))[1]
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such resource {request.url.path}; see /docs for the API"
        return problem_response(exc.status_code, detail, request.url.path, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": ".".join(str(p) for p in e.get("loc", ())), "message": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"location": "request", "message": "invalid"}
        detail = f"{first['location']}: {first['message']}"
        return problem_response(400, _one_line(detail), request.url.path, errors=errors)

    @app.exception_handler(SQLAlchemyError)
    async def _database(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # A server restarting or a held lock passes: say so (and log it) in one line, no traceback.
        found = setting_database_error(request.app.state.settings.database_url, exc)
        if found is None:
            return await _unexpected(request, exc)
        return unavailable(request, DATABASE_AWAY, _one_line(str(found)))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(500, "an unexpected error; the server log has the details", request.url.path)
