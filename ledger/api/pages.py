"""The dashboard: server-rendered pages (Jinja2, autoescaped) over the same
read side and access rules as the API (:mod:`ledger.api.deps`,
:mod:`ledger.api.access`).

* ``/login`` takes an API key; the session cookie (signed, HttpOnly,
  SameSite=Lax; :mod:`ledger.api.app`) then holds the key's id, and every
  page checks the key again (revoked or expired: back to the login page).
  ``/logout`` ends the session. Both forms carry a CSRF token kept in the
  session.
* ``/`` the overview (:mod:`ledger.api.charts`), ``/invoices`` the list (the
  API's query, keyset-paged), ``/invoices/{id}`` one invoice with its
  timeline and tree, ``/decisions`` (a financier's own; the operator's and
  auditors' all), ``/participants`` (KYC expiry highlighted).
* ``/live``: server-sent events of newly indexed blocks (:mod:`ledger.api.live`);
  ``static/live.js`` refreshes the parts of a page marked ``data-live``.

Nothing comes from a CDN: Chart.js is served from the pinned npm package
(``settings.node_modules``), the rest from ``ledger/api/static``. Every page
works without scripts (each chart has its figures in a table).
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

import jinja2
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, PlainTextResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool

from ledger.api import charts, live, routes
from ledger.api.access import Viewer
from ledger.api.deps import SESSION_KEY, Reader, engine_of, open_reader, session_key, settings_of
from ledger.api.keys import authenticate
from ledger.api.problems import Problem, status_of
from ledger.business_time import business_date
from ledger.errors import LedgerError
from ledger.format import money_text
from ledger.queries import BIGINT_MAX, OVERDUE_STATUSES, STATUS_NAMES, overdue_day

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
#: Chart.js inside the pinned npm package (package-lock.json).
CHART_JS = Path("chart.js") / "dist" / "chart.umd.js"
#: Files served under /static/vendor/, from the pinned npm packages (never a CDN):
#: Chart.js for the charts, Swagger UI for the API's docs page.
VENDOR: dict[str, tuple[Path, str]] = {
    "chart.umd.js": (CHART_JS, "text/javascript"),
    "swagger-ui-bundle.js": (Path("swagger-ui-dist") / "swagger-ui-bundle.js", "text/javascript"),
    "swagger-ui.css": (Path("swagger-ui-dist") / "swagger-ui.css", "text/css"),
    "swagger-favicon.png": (Path("swagger-ui-dist") / "favicon-32x32.png", "image/png"),
}
#: The session's CSRF token (forms send it back in ``csrf``).
CSRF_KEY = "csrf"
#: Days before a KYC expiry the participants page warns of it.
KYC_WARNING_DAYS = 30
#: Headers of every page: nothing but this origin's own scripts and styles.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
NAV = (
    ("overview", "/", "Overview"),
    ("invoices", "/invoices", "Invoices"),
    ("decisions", "/decisions", "Decisions"),
    ("participants", "/participants", "Participants"),
)

router = APIRouter(include_in_schema=False)


def _is_number(text: str) -> bool:
    """ASCII digits, at most 19 (``str.isdigit`` takes "²" and any length, which ``int`` refuses)."""
    return re.fullmatch(r"[0-9]{1,19}", text) is not None


# -- templates -------------------------------------------------------------------------------------------
def _party(p: Mapping[str, Any] | None) -> str:
    if not p:
        return "-"
    return str(p.get("name") or p.get("address") or "-")


def _money(value: str | None, symbol: str) -> str:
    return money_text(symbol, value)


def _nonzero(value: str | None) -> bool:
    return value is not None and Decimal(value) != 0


def _shown(value: Any) -> str:
    """A rule input as text: scalars as they are, lists and objects as JSON."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(party=_party, money=_money, shown=_shown, nonzero=_nonzero)
    return env


templates = Jinja2Templates(env=_environment())


# -- errors and redirects ------------------------------------------------------------------------------
class PageError(Exception):
    """An error a page answers with an HTML page (not a problem document)."""

    def __init__(self, status: int, title: str, detail: str, viewer: Viewer | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.viewer = status, title, detail, viewer


class LoginRequired(Exception):
    """No (valid) session: the page sends the browser to the login page."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


_TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 503: "The ledger is not available"}


def _render(
    request: Request, name: str, context: dict[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    context = {"viewer": None, "active": None, "block": None, "csrf": csrf_token(request), "nav": NAV, **context}
    return templates.TemplateResponse(
        request, name, context, status_code=status, headers={**PAGE_HEADERS, **(headers or {})}
    )


def _error_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    context = {"title": exc.title, "detail": exc.detail, "status": exc.status, "viewer": exc.viewer}
    return _render(request, "error.html", context, exc.status)


def _to_login(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(f"/login?{urlencode({'next': exc.target})}", status_code=303)


# -- sessions ------------------------------------------------------------------------------------------------
def csrf_token(request: Request) -> str:
    """The session's CSRF token (made on first use)."""
    token = request.session.get(CSRF_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_KEY] = token
    return token


def check_csrf(request: Request, sent: object) -> None:
    """Refuse a form whose token is not the session's, or that comes from another origin."""
    token = request.session.get(CSRF_KEY)
    origin = request.headers.get("origin")
    # The host, not the scheme: behind a TLS proxy the app may see http while the browser says https.
    if origin is not None and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
        raise PageError(403, "Not allowed", "This form was sent from another site; it was not acted on.")
    if not isinstance(token, str) or not isinstance(sent, str) or not hmac.compare_digest(token, sent):
        raise PageError(
            403, "The form has expired", "The form's security token did not match this session; reload and try again."
        )


def _safe_next(target: object) -> str:
    """Where to go after logging in: a path of this site, never another site."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def page_reader(request: Request) -> Iterator[Reader]:
    """:func:`ledger.api.deps.open_reader` for a page: no session sends the
    browser to the login page, other errors are HTML pages."""
    with ExitStack() as stack:
        try:
            reader = stack.enter_context(contextmanager(open_reader)(request))
        except Problem as exc:
            if exc.status == 401:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                raise LoginRequired(target) from None
            raise PageError(exc.status, _TITLES.get(exc.status, "Error"), exc.detail) from None
        except LedgerError as exc:
            raise _page_error(exc) from None
        try:
            yield reader
        except LedgerError as exc:  # the ledger's own errors, as pages (the API answers them with problems)
            raise _page_error(exc, reader.viewer) from None


def _page_error(exc: LedgerError, viewer: Viewer | None = None) -> PageError:
    status = status_of(exc)
    return PageError(status, _TITLES.get(status, "Error"), " ".join(str(exc).split()), viewer)


PageReader = Annotated[Reader, Depends(page_reader)]


def _base(reader: Reader, active: str) -> dict[str, Any]:
    return {"viewer": reader.viewer, "active": active, "block": reader.scope.indexed_block}


# -- log in and out ------------------------------------------------------------------------------------------
@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The login page: an API key (`scf api-key create`)."""
    return _render(request, "login.html", {"next": _safe_next(next), "error": None})


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form.get("csrf"))
    target = _safe_next(form.get("next"))
    secret = form.get("key")
    key = None
    if isinstance(secret, str) and secret.strip():
        key = await run_in_threadpool(_authenticate, request, secret.strip())
    if key is None:
        error = "That key is unknown, expired or revoked. Ask the operator for a key (`scf api-key create`)."
        return _render(request, "login.html", {"next": target, "error": error}, 401)
    request.session.clear()  # a new session: nothing of the one before carries over
    request.session[SESSION_KEY] = key
    request.session[CSRF_KEY] = secrets.token_urlsafe(32)
    return RedirectResponse(target, status_code=303)


def _authenticate(request: Request, secret: str) -> str | None:
    with engine_of(request).connect() as conn:
        key = authenticate(conn, secret)
    return None if key is None else key.key_id


@router.post("/logout")
async def logout(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form.get("csrf"))
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


# -- pages -------------------------------------------------------------------------------------------------------
@router.get("/")
def overview(request: Request, reader: PageReader) -> Response:
    """The headline amounts and the charts, as the viewer may see them."""
    settings = settings_of(request)
    cache: charts.FigureCache = request.app.state.figures
    key = charts.view_key(reader, settings.home)
    data = cache.get(key, lambda: charts.overview(reader, settings.zone, settings.home))
    return _render(request, "overview.html", {**_base(reader, "overview"), **data})


#: The list's filters, as the API's GET /api/invoices takes them.
_FILTERS = ("supplier", "buyer", "holder", "financier", "currency", "number", "due_after", "due_before")
_LIMITS = (25, 50, 100, 200, 500)


def _limit(text: str | None) -> int:
    """A page size from the URL: 1 to the API's largest, else the API's default."""
    if text is None or not _is_number(text) or not 1 <= int(text) <= routes.MAX_LIMIT:
        return routes.DEFAULT_LIMIT
    return int(text)


@router.get("/invoices")
def invoice_list(request: Request, reader: PageReader) -> Response:
    """The invoices the viewer may see, filtered, a page at a time (the API's query)."""
    q = request.query_params
    statuses = [s for s in q.getlist("status") for s in s.split(",") if s.strip()]
    chosen: dict[str, str] = {name: q[name].strip() for name in _FILTERS if q.get(name, "").strip()}
    overdue = q.get("overdue") in ("1", "true", "on")
    limit = _limit(q.get("limit"))
    cursor = q.get("cursor") or None
    error: str | None = None
    page: dict[str, Any] = {"items": [], "next_cursor": None}
    try:
        page = routes.invoices(
            reader,
            status=",".join(statuses) or None,
            overdue=overdue,
            limit=limit,
            cursor=cursor,
            **chosen,  # type: ignore[arg-type]
        )
    except Problem as exc:
        error = exc.detail
    except LedgerError as exc:
        error = " ".join(str(exc).split())
    params: dict[str, Any] = {**chosen, "limit": limit}
    if statuses:
        params["status"] = ",".join(statuses)
    if overdue:
        params["overdue"] = "1"
    next_url = None
    if page["next_cursor"]:
        next_url = "/invoices?" + urlencode({**params, "cursor": page["next_cursor"]})
    day = overdue_day(reader.conn, reader.scope)
    context = {
        **_base(reader, "invoices"),
        "items": page["items"],
        "overdue_ids": {
            item["invoice_id"]
            for item in page["items"]
            if item["status"] in OVERDUE_STATUSES and _nonzero(item["outstanding"]) and item["due"] < day.isoformat()
        },
        "error": error,
        "chosen": chosen,
        "statuses": statuses,
        "all_statuses": STATUS_NAMES[1:],
        "overdue": overdue,
        "limit": limit,
        "limits": sorted({*_LIMITS, limit}),
        "currencies": sorted(c.symbol for c in reader.scope.currencies.values()),
        "names": sorted({str(r["name"]) for r in _participant_rows(reader)}),
        "first_url": ("/invoices?" + urlencode(params)) if cursor else None,
        "next_url": next_url,
    }
    return _render(request, "invoices.html", context, 400 if error else 200)


def _participant_rows(reader: Reader) -> list[dict[str, Any]]:
    from ledger.queries import participants

    return participants(reader.conn, reader.scope, now=reader.at)


@router.get("/invoices/{invoice_id}")
def invoice_page(request: Request, reader: PageReader, invoice_id: str) -> Response:
    """One invoice: its fields, its timeline of events and its multi-tier tree."""
    from ledger.queries import invoice_history, show_invoice

    shown_id = invoice_id if len(invoice_id) <= 40 else invoice_id[:40] + "..."
    missing = PageError(404, "Not found", f"There is no invoice {shown_id} that you may see.", reader.viewer)
    if not _is_number(invoice_id) or int(invoice_id) < 1:
        raise missing
    number = int(invoice_id)
    try:
        routes.require_visible(reader, number)
    except Problem:
        raise missing from None
    invoice = show_invoice(reader.conn, reader.scope, number)
    tree = routes.visible_tree(reader, number)
    context = {
        **_base(reader, "invoices"),
        "invoice": invoice,
        "history": invoice_history(reader.conn, reader.scope, number),
        "tree": tree,
        "hidden": set() if tree is None else _hidden_nodes(tree["tree"]),
    }
    return _render(request, "invoice.html", context)


def _hidden_nodes(node: Mapping[str, Any]) -> set[int]:
    """The ids of a tree's nodes the viewer may not see (shown without their figures)."""
    found = {int(node["invoice_id"])} if node.get("hidden") else set()
    for child in node["children"]:
        found |= _hidden_nodes(child)
    return found


@router.get("/decisions")
def decision_list(request: Request, reader: PageReader) -> Response:
    """Financing decisions with every rule's inputs and reasons: a
    financier's own, or all of them for the operator and auditors."""
    from ledger.finance.models import STATUSES

    q = request.query_params
    status = q.get("status") or None
    invoice = q.get("invoice_id", "").strip()
    limit = _limit(q.get("limit"))
    error = None
    rows: list[dict[str, Any]] = []
    try:
        if invoice and (not _is_number(invoice) or not 1 <= int(invoice) <= BIGINT_MAX):
            raise Problem(400, f"invoice: {invoice[:40]!r} is not an invoice id")
        rows = routes.decisions(
            reader, financier=None, status=status, invoice_id=int(invoice) if invoice else None, limit=limit
        )
    except Problem as exc:
        if exc.status == 403:
            roles = ", ".join(sorted(reader.viewer.roles)) or "no role"
            detail = (
                f"Financing decisions are a financier's own records; {reader.viewer.name} ({roles}) is not a "
                "financier, so there are none to show. The operator and auditors see all of them."
            )
            raise PageError(403, "Decisions are a financier's", detail, reader.viewer) from None
        error = exc.detail
    except LedgerError as exc:
        error = " ".join(str(exc).split())
    context = {
        **_base(reader, "decisions"),
        "decisions": rows,
        "error": error,
        "status": status,
        "statuses": STATUSES,
        "invoice_id": invoice,
        "limit": limit,
        "limits": sorted({*_LIMITS, limit}),
    }
    return _render(request, "decisions.html", context, 400 if error else 200)


@router.get("/participants")
def participant_list(request: Request, reader: PageReader) -> Response:
    """The network's participants, KYC expiry highlighted (expired, or within :data:`KYC_WARNING_DAYS`)."""
    today = business_date(reader.at)
    rows = []
    for p in _participant_rows(reader):
        until = dt.date.fromisoformat(p["kyc_until"]) if p["kyc_until"] else None
        days = None if until is None else (until - today).days
        kyc = (
            "expired"
            if days is not None and days < 0
            else "expiring"
            if days is not None and days <= KYC_WARNING_DAYS
            else "valid"
        )
        rows.append({**p, "kyc": kyc, "kyc_days": days})
    context = {**_base(reader, "participants"), "participants": rows, "today": today.isoformat()}
    return _render(request, "participants.html", context)


# -- live updates and static files ------------------------------------------------------------------------------
@router.get("/live")
async def live_events(request: Request) -> Response:
    """Server-sent events: ``event: block`` with ``{"block": n}`` whenever a new block is indexed."""
    if not await run_in_threadpool(_session_active, request):
        return PlainTextResponse("log in first (/login)", status_code=401, headers={"Cache-Control": "no-store"})
    hub = live.hub_of(request.app)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(hub.stream(), media_type="text/event-stream", headers=headers)


def _session_active(request: Request) -> bool:
    with engine_of(request).connect() as conn:
        return session_key(conn, request) is not None


@router.get("/static/vendor/{name}")
def vendor(request: Request, name: str) -> Response:
    """Chart.js and Swagger UI, from the pinned npm packages (never a CDN)."""
    if name not in VENDOR:
        return PlainTextResponse(f"no vendored file {name!r}", status_code=404)
    relative, media_type = VENDOR[name]
    path = settings_of(request).node_modules / relative
    if not path.is_file():
        return PlainTextResponse(
            f"{relative} is not installed at {path}; run `npm ci` (the pages work without it, as tables)",
            status_code=404,
        )
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=3600"})


def mount_static(app: FastAPI) -> None:
    """Serve the dashboard's own scripts and styles (nothing from a CDN),
    answer page errors with pages, and give the app its live hub and its
    cache of overview figures."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_exception_handler(PageError, _error_page)
    app.add_exception_handler(LoginRequired, _to_login)
    app.state.figures = charts.FigureCache()
    live.install(app)
