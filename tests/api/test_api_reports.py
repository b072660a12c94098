"""Index status, participants, reports and the event log through the API
(SQLite and PostgreSQL) against the same figures from the CLI's ``--json`` on
the same database: the API and `scf` cannot disagree."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from click.testing import CliRunner
from support.scenario import BUYER, FINANCIER, SUPPLIER

from ledger.cli import main
from ledger.names import DEV_ADDRESSES as ADDR

OFFSET_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d$")


def cli(api: Any, *args: str) -> Any:
    """`scf <args> --json` on the API's data directory and database, parsed."""
    env = api.env
    result = CliRunner().invoke(
        main,
        ["--home", str(env.home), "--rpc-url", env.rpc_url, "--db-url", str(env.settings.db_url), *args, "--json"],
    )
    assert result.exit_code == 0, (args, result.output)
    return json.loads(result.output)


def ok(api: Any, who: str, path: str, **params: Any) -> Any:
    got = api.get(who, path, **params)
    assert got.status_code == 200, (who, path, params, got.text)
    assert got.headers["content-type"] == "application/json"
    return got.json()


def timeless(report: dict[str, Any]) -> dict[str, Any]:
    """A report without the wall-clock moment it was made at."""
    assert OFFSET_TIME.match(report["as_of"]), report["as_of"]
    return {k: v for k, v in report.items() if k != "as_of"}


def test_status_is_the_indexed_block(api: Any, scenario: Any) -> None:
    (status,) = ok(api, "operator", "/api/status")
    (indexed,) = cli(api, "index", "status")
    assert status["block"] == scenario.end == indexed["block"]
    assert status["head"] == indexed["head"] and status["behind"] == 0
    assert status["chain_id"] == indexed["chain_id"] == 31337
    assert status["events"] == indexed["events"] and status["events"] > 0
    assert status["contracts"] == indexed["contracts"]
    assert isinstance(status["lag_seconds"], int | float) and not isinstance(status["lag_seconds"], bool)
    assert status["lag_seconds"] >= 0
    assert OFFSET_TIME.match(status["block_time"]), status["block_time"]
    block_time = dt.datetime.fromisoformat(status["block_time"])
    assert block_time.utcoffset() is not None
    # lag_seconds is the age of the last indexed block, now (within the test's own duration).
    age = (dt.datetime.now(dt.UTC) - block_time).total_seconds()
    assert status["lag_seconds"] == pytest.approx(max(age, 0.0), abs=120)
    # Any key may ask how far the index is.
    assert [s["block"] for s in ok(api, "buyer2", "/api/status")] == [scenario.end]


def test_participants_equal_the_cli(api: Any) -> None:
    listed = cli(api, "participant", "list")
    for who in ("operator", "auditor", "supplier", "financier2"):
        assert ok(api, who, "/api/participants") == listed, who
    names = [p["name"] for p in listed]
    assert names == sorted(names, key=str.casefold) and SUPPLIER in names and len(names) == 7
    supplier = next(p for p in listed if p["name"] == SUPPLIER)
    assert (supplier["address"], supplier["roles"], supplier["active"]) == (ADDR["supplier"], ["supplier"], True)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", supplier["kyc_until"])


def test_reports_equal_the_cli(api: Any) -> None:
    # Exposure: every book for the operator and auditors, its own for a financier.
    for by in ("buyer", "supplier", "financier"):
        expected = timeless(cli(api, "report", "exposure", "--by", by))
        for who in ("operator", "auditor"):
            assert timeless(ok(api, who, "/api/reports/exposure", by=by)) == expected, (who, by)
        own = timeless(cli(api, "report", "exposure", "--by", by, "--financier", FINANCIER))
        assert timeless(ok(api, "financier", "/api/reports/exposure", by=by)) == own, by
        none = timeless(cli(api, "report", "exposure", "--by", by, "--financier", "financier2"))
        assert timeless(ok(api, "financier2", "/api/reports/exposure", by=by)) == none, by
    exposure = ok(api, "operator", "/api/reports/exposure")
    assert [(r["name"], r["outstanding"], r["reserve_held"]) for r in exposure["rows"]] == [
        (BUYER, "93749.90", "6250.00")
    ]
    # Aging: everything for the operator, what the key's party holds for the others.
    for as_of in (None, "2099-02-15", "2100-12-31"):
        extra = () if as_of is None else ("--as-of", as_of)
        params = {} if as_of is None else {"as_of": as_of}
        assert ok(api, "operator", "/api/reports/aging", **params) == cli(api, "report", "aging", *extra), as_of
        for who in ("supplier", "financier", "buyer"):
            mine = cli(api, "report", "aging", "--holder", ADDR[who], *extra)
            assert ok(api, who, "/api/reports/aging", **params) == mine, (who, as_of)
    late = ok(api, "financier", "/api/reports/aging", as_of="2099-02-15")
    assert [(t["1-30"], t["total"]) for t in late["totals"]] == [("99999.90", "99999.90")]
    # Portfolio: every financier's for the operator, its own for a financier.
    for as_of in (None, "2099-02-15"):
        extra = () if as_of is None else ("--as-of", as_of)
        params = {} if as_of is None else {"as_of": as_of}
        assert ok(api, "operator", "/api/reports/portfolio", **params) == cli(
            api, "report", "portfolio", "--all", *extra
        )
        for who in ("financier", "financier2"):
            mine = cli(api, "report", "portfolio", "--as", who, *extra)
            assert ok(api, who, "/api/reports/portfolio", **params) == mine, (who, as_of)
    book = ok(api, "financier", "/api/reports/portfolio")
    assert [(r["advanced"], r["received"], r["outstanding"]) for r in book["rows"]] == [
        ("112500.00", "25000.10", "93749.90")
    ]


def test_events_filters_equal_the_cli(api: Any, scenario: Any) -> None:
    cases: list[tuple[dict[str, Any], list[str]]] = [
        ({"limit": 500}, ["--limit", "500"]),
        ({}, ["--limit", "50"]),
        ({"limit": 3}, ["--limit", "3"]),
        ({"type": "InvoiceRepaid"}, ["--type", "InvoiceRepaid"]),
        ({"type": "InvoiceRepaid,InvoiceConfirmed"}, ["--type", "InvoiceRepaid,InvoiceConfirmed"]),
        ({"invoice_id": 1}, ["--invoice", "1", "--limit", "50"]),
        ({"invoice_id": 3, "type": "InvoiceCancelled"}, ["--invoice", "3", "--type", "InvoiceCancelled"]),
        ({"party": FINANCIER, "limit": 500}, ["--party", FINANCIER]),
        ({"from_block": scenario.financed}, ["--from-block", str(scenario.financed), "--limit", "50"]),
        (
            {"from_block": scenario.financed, "to_block": scenario.financed},
            ["--from-block", str(scenario.financed), "--to-block", str(scenario.financed)],
        ),
        ({"to_block": scenario.issued, "limit": 500}, ["--to-block", str(scenario.issued)]),
        ({"from_block": scenario.end + 1}, ["--from-block", str(scenario.end + 1)]),
    ]
    for params, args in cases:
        expected = cli(api, "events", *args)
        assert ok(api, "operator", "/api/events", **params) == expected, params
    repaid = ok(api, "operator", "/api/events", type="InvoiceRepaid")
    assert [(e["invoice_id"], e["amount"], e["currency"]) for e in repaid] == [
        (4, "1000.00", "HKD"),
        (1, "25000.10", "HKD"),
    ]
    at_financing = ok(api, "operator", "/api/events", from_block=scenario.financed, to_block=scenario.financed)
    assert at_financing and {e["block"] for e in at_financing} == {scenario.financed}
    assert "InvoiceFinanced" in [e["event"] for e in at_financing]
    everything = ok(api, "operator", "/api/events", limit=500)
    assert len(everything) == ok(api, "operator", "/api/status")[0]["events"]
    assert all(OFFSET_TIME.match(e["time"]) for e in everything)
    assert [(e["block"], e["log_index"]) for e in everything] == sorted(
        (e["block"], e["log_index"]) for e in everything
    )
    # An invoice's events are its history.
    history = ok(api, "operator", "/api/invoices/1/history")
    assert [(e["block"], e["log_index"], e["event"]) for e in ok(api, "operator", "/api/events", invoice_id=1)] == [
        (e["block"], e["log_index"], e["event"]) for e in history
    ]
    # A participant's filters narrow its own events.
    mine = ok(api, "supplier", "/api/events", type="InvoiceIssued", limit=500)
    assert sorted(e["invoice_id"] for e in mine) == [1, 2, 4]
    # A backwards block range is a mistake.
    got = api.get("operator", "/api/events", from_block=30, to_block=20)
    assert got.status_code == 400 and got.headers["content-type"] == "application/problem+json"
    assert got.json()["detail"] == "to_block 20 is before from_block 30; swap them"


def test_events_type_as_the_cli_takes_it(api: Any) -> None:
    expected = cli(api, "events", "--type", "invoicerepaid")
    assert ok(api, "operator", "/api/events", type="invoicerepaid") == expected and len(expected) == 2
    for bogus in ("Bogus", "InvoiceRepaid,Bogus", "\x00"):
        got = api.get("operator", "/api/events", type=bogus)
        assert got.status_code == 400, (bogus, got.status_code, got.text)
        assert "unknown event type" in got.json()["detail"]
