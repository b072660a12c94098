"""Every error of the API is an RFC 9457 problem document (SQLite and
PostgreSQL): ``application/problem+json`` with type, title, status, a one-line
detail and the request path as instance; bad parameters 400, no key 401, a
report outside the key's roles 403, unknown paths and ids 404 (ids beyond a
64-bit integer too), other methods 405; never a traceback; and a bad request
changes nothing in the database."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ledger.db.session import get_engine

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}
TITLES = {
    400: "Bad request",
    401: "Missing or invalid API key",
    403: "Not allowed for this key",
    404: "Not found",
    405: "Method not allowed",
}
#: Text that would betray an unhandled error.
LEAKS = ("Traceback", 'File "', "sqlalchemy", "psycopg", "sqlite3", "Exception", "ledger/")

#: (path, query parameters, a word the detail names) answered 400.
BAD_REQUESTS: list[tuple[str, dict[str, Any], str]] = [
    ("/api/invoices", {"limit": "0"}, "limit"),
    ("/api/invoices", {"limit": "501"}, "limit"),
    ("/api/invoices", {"limit": "-1"}, "limit"),
    ("/api/invoices", {"limit": "ten"}, "limit"),
    ("/api/invoices", {"limit": "1e3"}, "limit"),
    ("/api/invoices", {"status": "bogus"}, "bogus"),
    ("/api/invoices", {"status": "Confirmed,bogus"}, "bogus"),
    ("/api/invoices", {"status": ""}, "status"),
    ("/api/invoices", {"due_after": "2026-13-01"}, "due_after"),
    ("/api/invoices", {"due_before": "2026-02-30"}, "due_before"),
    ("/api/invoices", {"due_before": "tomorrow"}, "due_before"),
    ("/api/invoices", {"due_after": "2098-06-29", "due_before": "2098-06-30"}, "widen the range"),
    ("/api/invoices", {"currency": "EUR"}, "EUR"),
    ("/api/invoices", {"supplier": "Nobody Trading Ltd"}, "Nobody Trading Ltd"),
    ("/api/invoices", {"buyer": "0x123"}, "0x123"),
    ("/api/invoices", {"holder": "no such holder"}, "no such holder"),
    ("/api/invoices", {"financier": "Nobody Capital"}, "Nobody Capital"),
    ("/api/invoices", {"number": "--"}, "invoice number"),
    ("/api/invoices", {"overdue": "maybe"}, "overdue"),
    ("/api/invoices", {"cursor": "garbage"}, "cursor"),
    ("/api/invoices/abc", {}, "invoice_id"),
    ("/api/invoices/1.5/history", {}, "invoice_id"),
    ("/api/events", {"from_block": "30", "to_block": "20"}, "swap them"),
    ("/api/events", {"from_block": "-1"}, "from_block"),
    ("/api/events", {"from_block": str(2**63)}, "from_block"),
    ("/api/events", {"from_block": "0", "to_block": str(2**64)}, "to_block"),
    ("/api/events", {"limit": "0"}, "limit"),
    ("/api/events", {"limit": "501"}, "limit"),
    ("/api/events", {"invoice_id": "0"}, "invoice_id"),
    ("/api/events", {"party": "Nobody Trading Ltd"}, "Nobody Trading Ltd"),
    ("/api/decisions", {"status": "bogus"}, "bogus"),
    ("/api/decisions", {"limit": "501"}, "limit"),
    ("/api/decisions", {"invoice_id": str(2**63)}, "invoice_id"),
    ("/api/decisions", {"financier": "Nobody Capital"}, "Nobody Capital"),
    ("/api/decisions/x", {}, "decision_id"),
    ("/api/reports/exposure", {"by": "country"}, "by"),
    ("/api/reports/aging", {"as_of": "2026-13-01"}, "as_of"),
    ("/api/reports/portfolio", {"as_of": "someday"}, "as_of"),
]


def assert_problem(response: Any, status: int, needle: str | None = None) -> dict[str, Any]:
    case = (response.request.method, str(response.request.url), response.status_code, response.text)
    assert response.status_code == status, case
    assert response.headers["content-type"] == "application/problem+json", case
    body = response.json()
    assert set(body) >= PROBLEM_KEYS, case
    assert body["status"] == status and body["title"] == TITLES[status], case
    assert body["type"].startswith("/problems/") and body["instance"] == response.request.url.path, case
    assert isinstance(body["detail"], str) and body["detail"].strip(), case
    assert "\n" not in body["detail"] and "\r" not in body["detail"], case
    for leak in LEAKS:
        assert leak not in response.text, (leak, case)
    if needle is not None:
        assert needle in body["detail"], case
    return dict(body)


def counts(api: Any) -> dict[str, int]:
    with get_engine(api.env.settings.database_url).connect() as conn:
        return {
            table: int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
            for table in ("invoices", "events", "api_keys", "participants", "decisions", "blocks")
        }


def test_problems_bad_parameters_are_400(api: Any) -> None:
    before = counts(api)
    for path, params, needle in BAD_REQUESTS:
        for who in ("operator", "financier"):
            body = assert_problem(api.get(who, path, **params), 400, needle)
            assert body["type"] == "/problems/bad-request"
    # Validation problems also list every parameter at fault.
    body = api.get("operator", "/api/invoices", limit="0", overdue="maybe").json()
    assert sorted(e["location"] for e in body["errors"]) == ["query.limit", "query.overdue"]
    assert counts(api) == before


def test_problems_401_403_404_405(api: Any) -> None:
    before = counts(api)
    client = api.client
    # 401: every endpoint but health, with a challenge.
    for path in ("/api/status", "/api/me", "/api/invoices", "/api/invoices/1", "/api/participants", "/api/events"):
        for headers in ({}, {"Authorization": "Bearer scf_00000000_" + "A" * 43}, {"X-API-Key": "x"}):
            got = client.get(path, headers=headers)
            assert_problem(got, 401)
            assert got.headers["www-authenticate"] == 'Bearer realm="scf-ledger"'
    assert client.get("/api/health").status_code == 200
    # 403: a report or decisions outside the key's roles.
    for who, path, params in (
        ("supplier", "/api/reports/exposure", {}),
        ("buyer", "/api/reports/portfolio", {}),
        ("buyer2", "/api/decisions", {}),
        ("supplier2", "/api/decisions/1", {}),
        ("supplier", "/api/events", {"party": "Tsuen Wan Electronics Ltd"}),
        ("financier", "/api/decisions", {"financier": "Victoria Peak Capital Ltd"}),
    ):
        assert assert_problem(api.get(who, path, **params), 403)["type"] == "/problems/forbidden"
    # 404: unknown paths, unknown ids (also beyond any stored integer), another party's invoice.
    for who, path in (
        ("operator", "/api/nope"),
        ("operator", "/api/invoices/1/nope"),
        ("operator", "/nope"),
        ("operator", "/api/invoices/99"),
        ("operator", "/api/invoices/0"),
        ("operator", "/api/invoices/-5"),
        ("operator", f"/api/invoices/{2**63 - 1}"),
        ("operator", f"/api/invoices/{2**63}"),
        ("operator", f"/api/invoices/{2**64}/history"),
        ("operator", f"/api/invoices/{10**40}/tree"),
        ("operator", f"/api/decisions/{2**63}"),
        ("operator", "/api/decisions/99"),
        ("buyer2", "/api/invoices/1"),
        ("financier2", "/api/invoices/2/tree"),
    ):
        assert assert_problem(api.get(who, path), 404)["type"] == "/problems/not-found"
    assert_problem(api.get("operator", "/api/events", invoice_id=str(2**63)), 404)
    # An unknown id and another party's read the same (no enumeration).
    unknown = api.get("buyer2", "/api/invoices/99").json()["detail"]
    theirs = api.get("buyer2", "/api/invoices/1").json()["detail"]
    assert unknown.replace("99", "1") == theirs
    # 405: the API reads only.
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        for path in ("/api/invoices", "/api/invoices/1", "/api/me"):
            got = client.request(method, path, headers=api.headers("operator"))
            assert assert_problem(got, 405)["type"] == "/problems/method-not-allowed"
            assert got.headers["allow"] == "GET"
    assert counts(api) == before


def test_problems_odd_requests_answer_without_error(api: Any) -> None:
    """Odd but well-formed input is a 200 or a problem, never a 500."""
    before = counts(api)
    odd = [
        ("/api/invoices", {"number": "x" * 10_000}),
        ("/api/invoices", {"number": "'; DROP TABLE invoices; --"}),
        ("/api/invoices", {"supplier": "'; DROP TABLE invoices; --"}),
        ("/api/invoices", {"status": "Confirmed" + ",Confirmed" * 200}),
        ("/api/invoices", {"number": "\u202einv\u0000q1"}),
        ("/api/invoices", {"currency": "%"}),
        ("/api/invoices", {"due_after": "0001-01-01", "due_before": "9999-12-31"}),
        ("/api/invoices", {"cursor": "YWZ0ZXI6MA"}),  # after:0
        ("/api/events", {"type": "'; DROP TABLE events; --"}),
        ("/api/events", {"from_block": str(2**63), "to_block": str(2**64)}),
        ("/api/events", {"party": "%"}),
        ("/api/decisions", {"invoice_id": str(2**64)}),
        ("/api/reports/aging", {"as_of": "0001-01-01"}),
        ("/api/reports/portfolio", {"as_of": "9999-12-31"}),
    ]
    for path, params in odd:
        for who in ("operator", "supplier", "financier"):
            got = api.get(who, path, **params)
            assert got.status_code < 500, (who, path, params, got.text)
            if got.status_code >= 400:
                assert_problem(got, got.status_code)
            else:
                assert got.headers["content-type"] == "application/json"
    assert counts(api) == before
