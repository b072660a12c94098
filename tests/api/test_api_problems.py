"""Every error of the API is an RFC 9457 problem document (SQLite and
PostgreSQL): ``application/problem+json`` with type, title, status, a one-line
detail and the request path as instance; bad parameters 400, no key 401, a
report outside the key's roles 403, unknown paths and ids 404 (ids beyond a
64-bit integer too), other methods 405, a signed confirmation nothing could be
done with 409, a body too large 413; never a traceback, in the answer or in
the server's log; and a bad request changes neither the chain head nor any
table of the database (checked, support.bad_input.Unchanged). The dashboard's
forms (/login, /logout) answer a bad form with an HTML page of the right status.

The tables here (BAD_REQUESTS, ENDPOINT_CASES, RELAY_CASES) count towards
issue 18's 300 bad inputs (tests/cli/test_bad_input_table.py counts them all)."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from typing import Any

import pytest
from support.bad_input import Unchanged

from ledger.api.keys import create_key
from ledger.db.session import get_engine
from ledger.names import DEV_ADDRESSES

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}
TITLES = {
    400: "Bad request",
    401: "Missing or invalid API key",
    403: "Not allowed for this key",
    404: "Not found",
    405: "Method not allowed",
    409: "Refused by the ledger's rules",
    413: "Request body too large",
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
    # issue 18: the tree's id
    ("/api/invoices/abc/tree", {}, "invoice_id"),
    ("/api/invoices/1.5/tree", {}, "invoice_id"),
    ("/api/invoices/1e3/tree", {}, "invoice_id"),
    ("/api/invoices/ /tree", {}, "invoice_id"),
]


#: Leaves a field out of RECORD in a RELAY_CASES body.
DROP = object()
#: A signed confirmation as `scf invoice sign-confirmation` writes one, for this deployment
#: ({contract} and {currency} filled in), signed by no one: whatever is wrong with a case's
#: body is what the case changes.
RECORD: dict[str, Any] = {
    "chain_id": 31337, "contract": "{contract}", "buyer": DEV_ADDRESSES["buyer2"],
    "supplier": DEV_ADDRESSES["supplier"], "number": "INV-Q-2", "currency": "{currency}", "amount": "8000000",
    "due_date": 4073990399, "nonce": "7", "deadline": 4073990399, "signature": "0x" + "11" * 65,
}  # fmt: skip
_RECORD_LINE = json.dumps(RECORD)
#: Bad documents for POST /api/confirmations (issue 18), beyond tests/api/test_relay.py's:
#: (name, body, status, a text the detail holds). A dict body is RECORD with those fields
#: changed; a str or bytes body is sent as it is. Nothing is sent to the chain for any.
RELAY_CASES: list[tuple[str, Any, int, str]] = [
    ("empty", "", 400, "the body is empty"),
    ("not-json", "{", 400, "line 1 is not JSON (one signed confirmation per line)"),
    ("a-number", "42", 400, "line 1 is not a signed confirmation: not a JSON object"),
    ("null", "null", 400, "line 1 is not a signed confirmation: not a JSON object"),
    ("a-string", '"confirm INV-Q-2"', 400, "line 1 is not a signed confirmation: not a JSON object"),
    ("array-of-null", "[null]", 400, "line 1 is not a signed confirmation: not a JSON object"),
    ("empty-array", "[]", 400, "the array is empty"),
    ("repeated-key", '{"chain_id": 31337, "chain_id": 1}', 400, "missing field number"),
    ("nan", '{"chain_id": NaN}', 400, "missing field number"),
    ("not-utf8", b"\xff\xfe{}", 400, "the body is not UTF-8 text"),
    ("deep", "[" * 1000, 400, "nests JSON more than 16 levels deep"),
    ("missing-signature", {"signature": DROP}, 400, "line 1 is not a signed confirmation: missing field signature"),
    ("amount-a-fraction", {"amount": 1.5}, 400, "amount is not a whole number"),
    ("amount-a-boolean", {"amount": True}, 400, "amount is not a whole number"),
    ("amount-negative", {"amount": "-1"}, 400, "amount is out of range"),
    ("due-date-a-date", {"due_date": "2099-01-31"}, 400, "due_date is not a whole number"),
    ("nonce-300-bits", {"nonce": str(2**300)}, 400, "nonce is out of range"),
    # Past the 4300 digits int() reads from text: the JSON parser itself refuses it (a 500 before issue 18).
    ("chain-id-5000-digits", _RECORD_LINE.replace('"chain_id": 31337', '"chain_id": ' + "9" * 5000), 400,
     "line 1 is not a signed confirmation: chain_id is out of range"),
    ("signature-not-hex", {"signature": "0xzz"}, 400, "signature is not hex"),
    ("contract-not-an-address", {"contract": "0x12"}, 400, "contract is not an address"),
    ("buyer-not-hex", {"buyer": "0x" + "zz" * 20}, 400, "buyer is not an address"),
    ("supplier-missing", {"supplier": DROP}, 400, "missing field supplier"),
    ("number-empty", {"number": ""}, 400, "number is not a non-empty string"),
    ("number-a-number", {"number": 42}, 400, "number is not a non-empty string"),
    ("number-with-newline", {"number": "INV\nQ-2"}, 400, "invalid invoice number"),
    ("another-chain", {"chain_id": 1}, 400, "line 1 was signed for chain 1"),
    ("second-line-not-json", _RECORD_LINE + "\nnot json\n", 400, "line 2 is not JSON"),
    ("over-8-mib", b"[" + b" " * (8 * 2**20) + b"]", 413, "the body is over 8 MiB"),
    # Well-formed but no good: judged by its signed fields (an extra one is not signed, and ignored).
    ("forged-signature", {}, 409, "nothing was confirmed: line 1"),
    ("unknown-field", {"memo": "pay me"}, 409, "nothing was confirmed: line 1"),
]  # fmt: skip


def _key(who: str) -> str:
    """A header value that stands for ``who``'s key in ENDPOINT_CASES (see :func:`_headers`)."""
    return f"{{{who}}}"


#: Bad requests to the endpoints that take no parameters, the tree and the dashboard's forms
#: (issue 18): (method, path, headers, form or raw body, status, a text the answer holds).
#: A header value "{who}" is the key of ``who``; a form's "csrf" "{csrf}" the session's token.
#: /login and /logout are pages: their form errors are HTML pages of the status (a body the
#: form parser cannot read is a problem document, 400).
ENDPOINT_CASES: list[tuple[str, str, dict[str, str], Any, int, str]] = [
    ("GET", "/api/participants", {"Authorization": "Bearer"}, None, 401, "Authorization: Bearer <API key>"),
    ("GET", "/api/participants", {"Authorization": "Basic dXNlcjpwYXNz"}, None, 401, "Bearer <API key>"),
    ("GET", "/api/participants", {"Authorization": "Bearer " + "A" * 100_000}, None, 401, "unknown, expired"),
    ("GET", "/api/participants", {"X-API-Key": ""}, None, 401, "unknown, expired or revoked"),
    ("GET", "/api/participants/1", {"X-API-Key": _key("operator")}, None, 404, "no such resource"),
    ("GET", "/api/participants/x/y", {"X-API-Key": _key("auditor")}, None, 404, "no such resource"),
    ("POST", "/api/participants", {"X-API-Key": _key("operator")}, None, 405, "Method Not Allowed"),
    ("DELETE", "/api/participants", {"X-API-Key": _key("operator")}, None, 405, "Method Not Allowed"),
    ("GET", "/api/me", {"Authorization": "Bearer "}, None, 401, "Authorization: Bearer <API key>"),
    ("GET", "/api/me", {"Authorization": "Token abc"}, None, 401, "Bearer <API key>"),
    ("GET", "/api/me", {"Authorization": "Bearer scf_00000000_" + "A" * 43}, None, 401, "unknown, expired"),
    ("GET", "/api/me", {"Authorization": "Bearer {operator}x"}, None, 401, "unknown, expired or revoked"),
    ("GET", "/api/me", {"Authorization": "Bearer \u00e9\u00ff"}, None, 401, "unknown, expired or revoked"),
    ("GET", "/api/me/x", {"X-API-Key": _key("buyer")}, None, 404, "no such resource /api/me/x"),
    ("GET", "/api/invoices/0/tree", {"X-API-Key": _key("operator")}, None, 404, "no invoice 0"),
    ("GET", "/api/invoices/-1/tree", {"X-API-Key": _key("operator")}, None, 404, "no invoice -1"),
    ("GET", "/api/invoices/99/tree", {"X-API-Key": _key("operator")}, None, 404, "no invoice 99"),
    ("GET", "/api/invoices/3/tree", {"X-API-Key": _key("buyer2")}, None, 404, "no invoice 3"),
    ("GET", "/api/invoices//tree", {"X-API-Key": _key("operator")}, None, 404, "no such resource"),
    ("GET", "/api/invoices/1/tree", {}, None, 401, "an API key is needed: send `Authorization: Bearer <key>`"),
    ("POST", "/api/invoices/1/tree", {"X-API-Key": _key("operator")}, None, 405, "Method Not Allowed"),
    ("POST", "/login", {}, {"key": "x"}, 403, "security token did not match"),
    ("POST", "/login", {}, {"key": "x", "csrf": "forged"}, 403, "security token did not match"),
    ("POST", "/login", {"Origin": "https://elsewhere.example"}, {"key": "x", "csrf": "{csrf}"}, 403,
     "sent from another site"),
    ("POST", "/login", {}, {"key": "nope", "csrf": "{csrf}"}, 401, "That key is unknown, expired or revoked"),
    ("POST", "/login", {}, {"key": "", "csrf": "{csrf}"}, 401, "That key is unknown, expired or revoked"),
    ("POST", "/login", {}, {"key": "scf_" + "A" * 100_000, "csrf": "{csrf}"}, 401, "unknown, expired or revoked"),
    ("POST", "/login", {"Content-Type": "application/json"}, '{"key": "x", "csrf": "{csrf}"}', 403,
     "security token did not match"),
    ("POST", "/login", {"Content-Type": "multipart/form-data"}, "--x\r\n", 400, "Missing boundary in multipart"),
    ("POST", "/login", {"Content-Type": "multipart/form-data; boundary=zz"}, "garbage", 400, "Invalid multipart"),
    ("POST", "/login", {"Content-Type": "application/x-www-form-urlencoded"}, "key=" + "A" * 1_100_000, 400,
     "Field exceeded maximum size"),
    ("PUT", "/login", {}, None, 405, "Method Not Allowed"),
    ("POST", "/logout", {}, {}, 403, "security token did not match"),
    ("POST", "/logout", {}, {"csrf": "forged"}, 403, "security token did not match"),
    ("POST", "/logout", {"Origin": "null2://x"}, {"csrf": "{csrf}"}, 403, "sent from another site"),
    ("GET", "/logout", {}, None, 405, "Method Not Allowed"),
]  # fmt: skip


def bad_input_counts() -> Counter[str]:
    """This module's tables of bad requests by family (the HTTP status), for
    the count of every table (tests/cli/test_bad_input_table.py)."""
    counts = Counter({"http 400": len(BAD_REQUESTS)})
    counts.update(f"http {status}" for *_, status, _says in ENDPOINT_CASES)
    counts.update(f"http {status}" for _name, _body, status, _says in RELAY_CASES)
    return counts


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


def unchanged(api: Any) -> Unchanged:
    """The chain head and every table of the API's database, checked unchanged at the end of the block."""
    return Unchanged(api.env.rpc_url, api.env.settings.database_url)


@pytest.fixture()
def quiet_log(caplog: pytest.LogCaptureFixture) -> Any:
    """The server's log, which must hold no traceback and no error of the requests made."""
    caplog.set_level(logging.WARNING)
    yield
    bad = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR or "Traceback" in r.getMessage()]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


def test_problems_bad_parameters_are_400(api: Any, quiet_log: Any) -> None:
    with unchanged(api):
        for path, params, needle in BAD_REQUESTS:
            for who in ("operator", "financier"):
                body = assert_problem(api.get(who, path, **params), 400, needle)
                assert body["type"] == "/problems/bad-request"
        # Validation problems also list every parameter at fault.
        body = api.get("operator", "/api/invoices", limit="0", overdue="maybe").json()
        assert sorted(e["location"] for e in body["errors"]) == ["query.limit", "query.overdue"]


def _csrf(client: Any) -> str:
    """The session's CSRF token, as the login page's form carries it."""
    found = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text)
    assert found, "no CSRF token on the login page"
    return found.group(1)


# Keys, forms and documents are read the same on either backend (test_problems_bad_parameters_are_400
# runs on both): SQLite only, to spare CI a PostgreSQL ledger per test.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_problems_every_endpoint_refuses_bad_input_changing_nothing(api: Any, quiet_log: Any) -> None:
    """ENDPOINT_CASES: the status, a one-line problem document (a page for the
    forms' own errors) that says what was wrong, no traceback; nothing changed."""
    client = api.client
    token = _csrf(client)
    with unchanged(api):
        for method, path, headers, body, status, says in ENDPOINT_CASES:
            sent = {k: v.format(**api.secrets).encode("latin-1") for k, v in headers.items()}
            if isinstance(body, dict):
                form = {k: v.format(csrf=token) for k, v in body.items()}
                got = client.request(method, path, headers=sent, data=form)
            else:
                content = None if body is None else body.replace("{csrf}", token)
                got = client.request(method, path, headers=sent, content=content)
            case = (method, path, status, got.status_code, got.text[:300])
            if got.headers["content-type"].startswith("text/html"):
                assert got.status_code == status and path in ("/login", "/logout"), case
                assert says in got.text, case
                for leak in LEAKS:
                    assert leak not in got.text, (leak, case)
            else:
                assert_problem(got, status, says)
    # The forms changed no session either: the operator's key still reads, the token is the same.
    assert api.get("operator", "/api/me").status_code == 200
    assert _csrf(client) == token
    # And the check sees what it checks: a block mined, a row written.
    with pytest.raises(AssertionError, match="blocks mined: 1"), unchanged(api) as guard:
        guard.w3.provider.make_request("evm_mine", [])
    engine = get_engine(api.env.settings.database_url)
    with pytest.raises(AssertionError, match=r"tables changed: \['api_keys'\]"), unchanged(api), engine.begin() as conn:
        create_key(conn, participant=None, label="one more")


def _relay_body(body: Any, contract: str, currency: str) -> bytes:
    if isinstance(body, dict):
        record = {k: v for k, v in {**RECORD, **body}.items() if v is not DROP}
        body = json.dumps(record)
    if isinstance(body, str):
        body = body.replace("{contract}", contract).replace("{currency}", currency).encode()
    assert isinstance(body, bytes)
    return body


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_problems_signed_confirmations_bad_documents_send_nothing(
    api: Any, base_deployment: Any, quiet_log: Any
) -> None:
    """RELAY_CASES against a server with a relayer: the status and a one-line
    detail naming the line and field; the chain head and database unchanged."""
    from fastapi.testclient import TestClient

    from ledger.api.app import create_app

    contract = base_deployment.contracts["InvoiceToken"].address
    currency = base_deployment.currency("HKD").address
    headers = {**api.headers("buyer"), "Content-Type": "application/json"}
    with unchanged(api), TestClient(create_app(api.env.settings, relayer="financier")) as client:
        for name, body, status, says in RELAY_CASES:
            got = client.post("/api/confirmations", content=_relay_body(body, contract, currency), headers=headers)
            try:
                assert_problem(got, status, says)
            except AssertionError as exc:
                raise AssertionError(f"{name}: {exc}") from None
        assert_problem(client.post("/api/confirmations", content=_RECORD_LINE), 401)
        assert_problem(client.get("/api/confirmations", headers=headers), 405)


def test_problems_401_403_404_405(api: Any) -> None:
    with unchanged(api):
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


def test_problems_odd_requests_answer_without_error(api: Any) -> None:
    """Odd but well-formed input is a 200 or a problem, never a 500."""
    with unchanged(api):
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
