"""`scf verify`: the indexed ledger compared with the contracts (batched
eth_calls at the last indexed block), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from ledger_scenario import BUYER, BUYER2, Scenario

from ledger.cli import main


@pytest.fixture()
def verify(indexed: Any) -> Any:
    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["--home", str(indexed.home), "--rpc-url", indexed.rpc_url,
                                         "--db-url", str(indexed.settings.db_url), "verify", *args])

    return run


def _tamper(settings: Any, sql: str, **params: Any) -> None:
    engine = sa.create_engine(settings.db_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text(sql), params).rowcount == 1
    finally:
        engine.dispose()


def test_verify_clean_database_matches_the_contracts(verify: Any, scenario: Scenario) -> None:
    result = verify()
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"verified: the database matches the contracts (4 invoices and 7 participants at block {scenario.end} "
        "of chain 31337)\n"
    )
    data = json.loads(verify("--json").output)
    assert (data["ok"], data["invoices"], data["participants"], data["mismatches"]) == (True, 4, 7, [])


def test_verify_reports_a_tampered_invoice_and_exits_non_zero(verify: Any, indexed: Any, scenario: Scenario) -> None:
    _tamper(indexed.settings, "UPDATE invoices SET status = 'Paid', paid = 12500000, outstanding = 0 "
                              "WHERE invoice_id = 1")
    result = verify("--batch-size", "3")
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        f"MISMATCH: 3 differences between the database and the contracts (4 invoices and 7 participants at block "
        f"{scenario.end} of chain 31337); run `scf index rebuild` (replays the stored events), then verify again",
        "  invoice 1 status: database Paid, chain PartiallyPaid",
        "  invoice 1 paid: database HKD 125000.00, chain HKD 25000.10",
        "  invoice 1 outstanding: database HKD 0.00, chain HKD 99999.90",
    ]


def test_verify_reports_missing_rows_holders_and_participants(verify: Any, indexed: Any) -> None:
    engine = sa.create_engine(indexed.settings.db_url)
    with engine.connect() as conn:
        people = dict(conn.execute(sa.text("SELECT name, address FROM participants")).all())
    engine.dispose()
    _tamper(indexed.settings, "DELETE FROM invoices WHERE invoice_id = 2")
    _tamper(indexed.settings, "UPDATE invoices SET holder = :buyer WHERE invoice_id = 4", buyer=people[BUYER])
    _tamper(indexed.settings, "UPDATE participants SET suspended = :yes WHERE name = :name", yes=True, name=BUYER2)
    expiry = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    _tamper(indexed.settings, "UPDATE participants SET kyc_expiry = :expiry WHERE name = :name",
            expiry=expiry if indexed.settings.db_url.startswith("postgresql") else expiry.replace(tzinfo=None),
            name=BUYER)
    result = verify("--json")
    assert result.exit_code == 1, result.output
    found = {(m["kind"], m["key"], m["field"]): (m["database"], m["chain"]) for m in json.loads(result.output)[
        "mismatches"]}
    kyc_chain = found[("participant", people[BUYER], "kyc_expiry")][1]
    assert found == {
        ("invoice", "2", "presence"): ("missing", "exists"),
        ("invoice", "4", "holder"): (people[BUYER], people["Kowloon Precision Parts Ltd"]),
        ("participant", people[BUYER2], "suspended"): (True, False),
        ("participant", people[BUYER], "kyc_expiry"): ("2030-01-01T00:00:00Z", kyc_chain),
    }
    assert kyc_chain == f"{dt.date.today() + dt.timedelta(days=3 * 365 + 1)}T00:00:00Z"


def test_verify_checks_at_the_indexed_block_not_the_head(verify: Any, scenario: Scenario, ledger: Any,
                                                         acct: Any) -> None:
    """Events mined after the last sync are not differences: they are not indexed yet."""
    ledger.issue(acct("supplier"), BUYER, "INV-V-NEW", "10.00", "HKD", dt.date(2099, 5, 1))
    ledger.repay(acct("buyer"), 1, "1.00")
    result = verify()
    assert result.exit_code == 0, result.output
    assert f"4 invoices and 7 participants at block {scenario.end} " in result.output


def test_verify_reports_an_indexed_block_the_chain_no_longer_has(verify: Any, indexed: Any,
                                                                   scenario: Scenario) -> None:
    """A cursor whose block hash is not the chain's (a reorg since the last sync)
    is reported with the advice to sync. (A real anvil_reorg would invalidate
    the EVM snapshots the shared test chain is reverted with.)"""
    stale = "0x" + "ab" * 32
    _tamper(indexed.settings, "UPDATE cursors SET block_hash = :stale", stale=stale)
    result = verify()
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        f"MISMATCH: 1 difference between the database and the contracts (4 invoices and 7 participants at block "
        f"{scenario.end} of chain 31337); the chain reorganised since the last sync; run `scf index sync`, then "
        "verify again"
    )
    assert lines[1].startswith(f"  block {scenario.end} hash: database {stale}, chain 0x") and len(lines) == 2


def test_verify_unindexed_database_says_to_sync(home_copy: Any, db_url: str, chain: Any) -> None:
    result = CliRunner().invoke(main, ["--home", str(home_copy.home), "--rpc-url", home_copy.rpc_url,
                                       "--db-url", db_url, "verify"])
    assert result.exit_code == 1, result.output
    address = json.loads((home_copy.home / "deployments" / "31337.json").read_text())["contracts"]["InvoiceToken"][
        "address"]
    if db_url.startswith("sqlite:///"):
        path = db_url.removeprefix("sqlite:///")
        assert result.output == (
            f"Error: no ledger database at {path}; check --home / --db-url, or run `scf index sync` to create it\n"
        )
        return
    assert result.output == (
        f"Error: the database has not indexed the contracts of chain 31337 (InvoiceToken {address}); "
        "run `scf index sync` first\n"
    )
