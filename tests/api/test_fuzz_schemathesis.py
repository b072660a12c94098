"""Schema-driven fuzzing of the whole API with schemathesis: every operation
of the app's own OpenAPI schema (``/openapi.json``), requests made from it
(the schema's examples, the boundaries of every parameter: the coverage
phase, and random ones; valid and invalid), sent to the real app over the
indexed scenario (SQLite) with a key; no response is a server error, and
every response conforms to the schema: a documented content type, a body of
the documented shape.

The fast run (an operator key) takes a few random examples per operation;
the long one (SCF_LONG=1, marked slow) many more, as each kind of party."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from click.testing import CliRunner
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from ledger.cli import main
from ledger.config import REPO_ROOT

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
#: The operations of the read API the fuzz must reach (a route left out of the schema would escape it).
OPERATIONS = {
    "GET /api/health",
    "GET /api/status",
    "GET /api/me",
    "GET /api/invoices",
    "GET /api/invoices/{invoice_id}",
    "GET /api/invoices/{invoice_id}/history",
    "GET /api/invoices/{invoice_id}/tree",
    "GET /api/participants",
    "GET /api/decisions",
    "GET /api/decisions/{decision_id}",
    "GET /api/reports/exposure",
    "GET /api/reports/aging",
    "GET /api/reports/portfolio",
    "GET /api/events",
}


@pytest.fixture()
def fuzz_who() -> str:
    """Whose key the fuzz sends (parametrised by the long run)."""
    return "operator"


@pytest.fixture()
def fuzz_schema(api: Any, fuzz_who: str, request: pytest.FixtureRequest) -> Any:
    """The app's schema, loaded from the app over the indexed scenario (and a
    financing decision on invoice 2, so that decisions have a record to show),
    set up to fuzz it."""
    env = api.env
    quoted = CliRunner().invoke(
        main,
        ["--home", str(env.home), "--rpc-url", env.rpc_url, "--db-url", str(env.settings.db_url)]
        + ["finance", "quote", "2", "--as", "financier", "--policy", str(REPO_ROOT / "examples" / "policy.toml")],
    )
    assert quoted.exit_code == 0, quoted.output
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert labels >= OPERATIONS, sorted(OPERATIONS - labels)
    long = request.node.get_closest_marker("slow") is not None
    config = schema.config
    config.update(headers=api.headers(fuzz_who))
    config.phases.update(phases=["examples", "coverage", "fuzzing"])
    config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=120 if long else 10,
        deterministic=not long,
        no_shrink=not long,
        database="none",
    )
    return schema


def fuzz(schema: Any) -> tuple[list[str], set[str]]:
    """Run every operation's test (its examples, coverage and fuzzing phases,
    as schemathesis' pytest plugin builds them: its `@schema.parametrize()`
    itself does not run under pytest 9). What failed, one report each; and
    the operations that answered 2xx at least once (the key got through)."""
    failures, answered = [], set()

    def check(case: Any) -> None:
        response = case.call_and_validate(checks=CHECKS)
        if 200 <= response.status_code < 300:
            answered.add(case.operation.label)

    for result in get_all_tests(schema=schema, test_func=check, settings=None, given_kwargs={}):
        operation, test = result.ok()
        try:
            test()
        except Exception as exc:  # noqa: BLE001 - every operation's failure is reported
            failures.append(f"{operation.label}: {exc}")
    return failures, answered


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_fuzz_schemathesis_api(fuzz_schema: Any) -> None:
    failures, answered = fuzz(fuzz_schema)
    assert not failures, "\n\n".join(failures)
    assert answered == OPERATIONS, sorted(OPERATIONS - answered)


@pytest.mark.slow
@pytest.mark.parametrize("fuzz_who", ["operator", "supplier", "buyer2", "financier"])
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_fuzz_schemathesis_api_long(fuzz_schema: Any) -> None:
    failures, answered = fuzz(fuzz_schema)
    assert not failures, "\n\n".join(failures)
    assert {"GET /api/me", "GET /api/invoices", "GET /api/events"} <= answered, sorted(answered)
