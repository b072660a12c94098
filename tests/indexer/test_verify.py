"""`scf verify`: the indexed ledger compared with the contracts (batched
eth_calls at the last indexed block), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from support.scenario import BUYER, BUYER2, Scenario

from ledger.cli import main


@pytest.fixture()
def verify(indexed: Any) -> Any:
    def run(*args: str) -> Any:
        return CliRunner().invoke(
            main,
            [
                "--home",
                str(indexed.home),
                "--rpc-url",
                indexed.rpc_url,
                "--db-url",
                str(indexed.settings.db_url),
                "verify",
                *args,
            ],
        )

    return run


def _tamper(settings: Any, sql: str, **params: Any) -> None:
    engine = sa.create_engine(settings.db_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(sa.text(sql), params).rowcount == 1
    finally:
        engine.dispose()


def _scalar(settings: Any, sql: str) -> Any:
    engine = sa.create_engine(settings.db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar_one()
    finally:
        engine.dispose()


def _checked(scenario: Scenario, events: int, invoices: int = 4) -> str:
    return f"{invoices} invoices, 7 participants and {events} events at block {scenario.end} of chain 31337"


def test_verify_clean_database_matches_the_contracts(verify: Any, indexed: Any, scenario: Scenario) -> None:
    events = _scalar(indexed.settings, "SELECT count(*) FROM events")
    result = verify()
    assert result.exit_code == 0, result.output
    assert result.output == f"verified: the database matches the contracts ({_checked(scenario, events)})\n"
    data = json.loads(verify("--json").output)
    assert (data["ok"], data["invoices"], data["participants"], data["events"], data["mismatches"]) == (
        True,
        4,
        7,
        events,
        [],
    )


def test_verify_reports_a_tampered_invoice_and_exits_non_zero(verify: Any, indexed: Any, scenario: Scenario) -> None:
    _tamper(
        indexed.settings, "UPDATE invoices SET status = 'Paid', paid = 12500000, outstanding = 0 WHERE invoice_id = 1"
    )
    events = _scalar(indexed.settings, "SELECT count(*) FROM events")
    result = verify("--batch-size", "3")
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        f"MISMATCH: 3 differences between the database and the contracts ({_checked(scenario, events)}); "
        "run `scf index rebuild` (replays the stored events), then verify again",
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
    _tamper(
        indexed.settings,
        "UPDATE participants SET kyc_expiry = :expiry WHERE name = :name",
        expiry=expiry if indexed.settings.db_url.startswith("postgresql") else expiry.replace(tzinfo=None),
        name=BUYER,
    )
    result = verify("--json")
    assert result.exit_code == 1, result.output
    found = {
        (m["kind"], m["key"], m["field"]): (m["database"], m["chain"]) for m in json.loads(result.output)["mismatches"]
    }
    kyc_chain = found[("participant", people[BUYER], "kyc_expiry")][1]
    assert found == {
        ("invoice", "2", "presence"): ("missing", "exists"),
        ("invoice", "4", "holder"): (people[BUYER], people["Kowloon Precision Parts Ltd"]),
        ("participant", people[BUYER2], "suspended"): (True, False),
        ("participant", people[BUYER], "kyc_expiry"): ("2030-01-01T08:00:00+08:00", kyc_chain),
    }
    # KYC valid through a day expires at the start of the next day in the business time zone.
    assert kyc_chain == f"{dt.date.today() + dt.timedelta(days=3 * 365 + 1)}T00:00:00+08:00"


def test_verify_checks_at_the_indexed_block_not_the_head(
    verify: Any, indexed: Any, scenario: Scenario, ledger: Any, acct: Any
) -> None:
    """Events mined after the last sync are not differences: they are not indexed yet."""
    events = _scalar(indexed.settings, "SELECT count(*) FROM events")
    ledger.issue(acct("supplier"), BUYER, "INV-V-NEW", "10.00", "HKD", dt.date(2099, 5, 1))
    ledger.repay(acct("buyer"), 1, "1.00")
    result = verify()
    assert result.exit_code == 0, result.output
    assert f"({_checked(scenario, events)})" in result.output


def test_verify_reports_an_indexed_block_the_chain_no_longer_has(verify: Any, indexed: Any, scenario: Scenario) -> None:
    """A cursor whose block hash is not the chain's (a reorg since the last sync)
    is reported with the advice to sync. (A real anvil_reorg would invalidate
    the EVM snapshots the shared test chain is reverted with.)"""
    stale = "0x" + "ab" * 32
    _tamper(indexed.settings, "UPDATE cursors SET block_hash = :stale", stale=stale)
    events = _scalar(indexed.settings, "SELECT count(*) FROM events")
    result = verify()
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        f"MISMATCH: 1 difference between the database and the contracts ({_checked(scenario, events)}); "
        "the chain reorganised since the last sync; run `scf index sync`, then verify again"
    )
    assert lines[1].startswith(f"  block {scenario.end} hash: database {stale}, chain 0x") and len(lines) == 2


def test_verify_unindexed_database_says_to_sync(home_copy: Any, db_url: str, chain: Any) -> None:
    result = CliRunner().invoke(
        main, ["--home", str(home_copy.home), "--rpc-url", home_copy.rpc_url, "--db-url", db_url, "verify"]
    )
    assert result.exit_code == 3, result.output
    address = json.loads((home_copy.home / "deployments" / "31337.json").read_text())["contracts"]["InvoiceToken"][
        "address"
    ]
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


def test_verify_compares_the_financing_and_the_listing(
    verify: Any, indexed: Any, ledger: Any, acct: Any, scenario: Scenario
) -> None:
    """Every field of getInvoice (the seller, the financier's due and paid),
    and getListing against the offer_* columns: a listing stays stored
    through a payment (it is no longer cleared by one)."""
    from support.scenario import FINANCIER, index

    ledger.offer(acct("supplier"), 2, FINANCIER, "70000.00", 7)
    ledger.repay(acct("buyer2"), 2, "100.00")
    index(indexed.settings)
    clean = verify()
    assert clean.exit_code == 0, clean.output
    assert _scalar(indexed.settings, "SELECT offer_min_advance FROM invoices WHERE invoice_id = 2") == 7000000

    _tamper(
        indexed.settings,
        "UPDATE invoices SET financier_due = 11875001, financier_paid = 0, seller = NULL WHERE invoice_id = 1",
    )
    _tamper(indexed.settings, "UPDATE invoices SET offer_min_advance = 1, offer_financier = NULL WHERE invoice_id = 2")
    result = verify("--json")
    assert result.exit_code == 1, result.output
    found = {(m["key"], m["field"]): (m["database"], m["chain"]) for m in json.loads(result.output)["mismatches"]}
    seller = _scalar(indexed.settings, "SELECT supplier FROM invoices WHERE invoice_id = 1")
    financier = _scalar(indexed.settings, "SELECT financier FROM invoices WHERE invoice_id = 1")
    assert found == {
        ("1", "seller"): ("-", seller),
        ("1", "financier_due"): ("HKD 118750.01", "HKD 118750.00"),
        ("1", "financier_paid"): ("HKD 0.00", "HKD 25000.10"),
        ("2", "offer_min_advance"): ("HKD 0.01", "HKD 70000.00"),
        ("2", "offer_financier"): ("-", financier),
    }


def test_verify_counts_the_stored_events_against_the_chains_logs(verify: Any, indexed: Any, scenario: Scenario) -> None:
    """A lost event row leaves the projections right (they were folded before
    it went) but the events table short: the count per contract and event,
    against eth_getLogs by topic0, finds it."""
    events = _scalar(indexed.settings, "SELECT count(*) FROM events")
    repaid = _scalar(indexed.settings, "SELECT count(*) FROM events WHERE event = 'InvoiceRepaid'")
    lost = _scalar(indexed.settings, "SELECT max(id) FROM events WHERE event = 'InvoiceRepaid'")
    _tamper(indexed.settings, "DELETE FROM events WHERE id = :lost", lost=lost)

    result = verify()

    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [
        f"MISMATCH: 1 difference between the database and the contracts ({_checked(scenario, events - 1)}); "
        "the stored events differ from the chain's logs; index the chain again into a new database (--db-url), "
        "then verify again",
        f"  events InvoiceToken.InvoiceRepaid count: database {repaid - 1}, chain {repaid}",
    ]


def test_verify_a_head_below_the_indexed_block_says_to_rewind(verify: Any, indexed: Any) -> None:
    _tamper(indexed.settings, "UPDATE cursors SET block_number = 1000000")
    result = verify()
    assert result.exit_code == 3, result.output
    assert result.output.startswith("Error: the database is indexed up to block 1000000 but the chain's head is ")
    assert (
        result.output.endswith(
            ": the chain lost blocks or was reset; run `scf index sync --rewind` (it rolls back what the chain no "
            "longer has)\n"
        )
        and result.output.count("\n") == 1
    )
