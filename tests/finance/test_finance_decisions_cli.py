"""Financing decisions through the CLI on the real chain and both databases:
quote, execute, list and report; one-line errors; the read side without web3;
the decisions migration; the shared scenario's reserve in the reports."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from support.finance import BUYER_NAME, EXAMPLE, SUPPLIER_NAME, Book

from ledger.cli import main
from ledger.config import REPO_ROOT

# -- the CLI ---------------------------------------------------------------------------------------------


@pytest.fixture()
def cli(home_copy: Any, db_url: str) -> Any:
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(
            main, ["--home", str(home_copy.home), "--rpc-url", home_copy.rpc_url, "--db-url", db_url, *args]
        )

    return run


def test_finance_decisions_cli_quote_execute_list_report(cli: Any, book: Book, acct: Any) -> None:
    invoice_id = book.issue()
    result = cli("finance", "quote", str(invoice_id), "--as", "financier", "--policy", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"decision 1: APPROVED invoice {invoice_id} for Harbour Trade Finance Ltd (grade B")
    assert "  ok   holder_consent: the holder listed it for any financier until " in result.output
    assert (
        "  price: advance HKD 90,000.00, discount HKD 1,035.62 (60 days ACT/365 at 7.00%), fees HKD 340.00, pays "
        "HKD 88,624.38 now; due HKD 90,000.00 of the buyer's payments, the seller's reserve HKD 10,000.00"
        in result.output
    )
    shown = cli("finance", "show", "1", "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["price"]["net_advance"] == "88624.38"
    done = cli("finance", "execute", "1")
    assert done.exit_code == 0, done.output
    assert done.output.startswith(
        f"decision 1 executed: invoice {invoice_id} financed, HKD 88,624.38 paid to {SUPPLIER_NAME} in 0x"
    )
    assert done.output.rstrip().endswith("; due to you HKD 90,000.00, reserve for the seller HKD 10,000.00")
    listed = cli("finance", "list", "--csv")
    assert listed.exit_code == 0, listed.output
    header, row = listed.output.splitlines()[:2]
    assert header.startswith("decision_id,invoice_id,status,financier,financier_name,grade,currency")
    assert row.startswith(f"1,{invoice_id},executed,{acct('financier').address},Harbour Trade Finance Ltd,B,HKD")
    exposure = cli("report", "exposure", "--by", "financier", "--json", "--policy", str(EXAMPLE))
    assert exposure.exit_code == 0, exposure.output
    [erow] = json.loads(exposure.output)["rows"]
    assert (erow["name"], erow["outstanding"], erow["reserve_held"], erow["limit"], erow["headroom"]) == (
        "Harbour Trade Finance Ltd",
        "90000.00",
        "10000.00",
        "20000000.00",
        "19910000.00",
    )
    aging = cli("report", "aging", "--csv")
    assert aging.exit_code == 0, aging.output
    assert aging.output.splitlines()[0] == (
        "buyer,name,currency,invoices,not_due,1-30,31-60,61-90,90+,disputed,defaulted,total,to_holders,reserve"
    )
    portfolio = cli("report", "portfolio", "--as", "Harbour Trade Finance Ltd")
    assert portfolio.exit_code == 0, portfolio.output
    assert (
        "  advanced     HKD 88,624.38 against HKD 100,000.00 open at financing (HKD 100,000.00 face)"
        in portfolio.output
    )
    assert "  due          HKD 90,000.00: received HKD 0.00, outstanding HKD 90,000.00" in portfolio.output
    assert (
        "  reserve      HKD 10,000.00 at financing: released to sellers HKD 0.00, still held HKD 10,000.00"
        in portfolio.output
    )
    assert "  expected     HKD 1,375.62 income, " in portfolio.output
    second = book.issue("50000.00", days=30)
    dry = cli("finance", "auto", "--as", "financier", "--policy", str(EXAMPLE), "--dry-run")
    assert dry.exit_code == 0, dry.output
    # 45,000.00 advance; discount 4,500,000 x 7% x 30 / 365 = 25,890.41 -> 25,891; fees 250.00 + 45.00.
    assert dry.output.splitlines() == [
        f"invoice {second}: would approve (not stored), pays HKD 44,446.09: approved: every rule passed",
        "would finance 1 of 1 invoice(s) offered to you",
    ]
    auto = cli("finance", "auto", "--as", "financier", "--policy", str(EXAMPLE), "--max", "1", "--json")
    assert auto.exit_code == 0, auto.output
    assert [(r["invoice_id"], r["status"], r["decision_id"]) for r in json.loads(auto.output)["results"]] == [
        (second, "executed", 2)
    ]


def test_finance_decisions_cli_errors_are_one_line(cli: Any, book: Book, tmp_path: Path) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text(EXAMPLE.read_text().replace('day_count = "ACT/365"', 'day_count = "30/360"'))
    invoice_id = book.issue(offer=False)
    cases: list[tuple[list[str], int, str]] = [
        (
            ["finance", "quote", str(invoice_id), "--policy", str(bad)],
            2,  # a bad policy file is bad input, as a missing one is (issue 12)
            f'Error: {bad}: pricing.day_count must be "ACT/360" or "ACT/365", got "30/360"',
        ),
        (
            ["finance", "quote", str(invoice_id)],
            2,
            "Error: no policy for financier 'financier': pass --policy FILE or put one at ",
        ),
        (
            ["finance", "quote", "999", "--policy", str(EXAMPLE)],
            2,
            "Error: invoice 999 does not exist in the indexed ledger; "
            "see `scf invoice list`, or run `scf index sync` if it is new",
        ),
        (["finance", "execute", "42"], 2, "Error: no decision 42; list them with `scf finance list`"),
        (
            ["finance", "list", "--status", "won"],
            2,
            "Error: unknown decision status 'won'; use approved, declined, executed, expired, failed, cancelled",
        ),
        (
            ["report", "aging", "--as-of", "31/12/2026"],
            2,
            "Error: invalid --as-of date '31/12/2026': use YYYY-MM-DD, for example 2027-01-31",
        ),
        (
            ["report", "portfolio", "--as", "Nobody Ltd"],
            2,
            "Error: unknown financier 'Nobody Ltd': no participant or local account has that name; give a registered "
            "name, an account name or an address (see `scf participant list`)",
        ),
        (["report", "exposure", "--csv", "--json"], 2, "Error: --json and --csv cannot be combined; choose one"),
    ]
    for args, code, message in cases:
        result = cli(*args)
        assert result.exit_code == code, (args, result.output)
        assert result.output.startswith(message), (args, result.output)
        assert len(result.output.strip().splitlines()) == 1, result.output
    declined = cli("finance", "quote", str(invoice_id), "--policy", str(EXAMPLE))
    assert declined.exit_code == 0 and "DECLINED" in declined.output
    refused = cli("finance", "execute", "1")
    assert refused.exit_code == 1
    assert refused.output == (
        "Error: decision 1 was declined, so it cannot be executed (the holder "
        f"{SUPPLIER_NAME} has not offered it to this financier (it needs `scf invoice offer` "
        "first))\n"
    )
    assert len(refused.output.strip().splitlines()) == 1


def test_finance_decisions_financier_role_is_checked(cli: Any, book: Book) -> None:
    """`finance quote --as buyer`: the buyer is no financier, so the quote is
    refused before anything is stored (it used to store a declined decision)."""
    invoice_id = book.issue()
    result = cli("finance", "quote", str(invoice_id), "--as", "buyer", "--policy", str(EXAMPLE))
    assert result.exit_code == 1, result.output
    assert result.output == (
        f"Error: {BUYER_NAME} does not have the financier role; a quote is a financier's decision\n"
    )
    assert cli("index", "sync").exit_code == 0
    listed = cli("finance", "list", "--financier", "buyer", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output) == []


def test_finance_decisions_dev_addresses_match_the_derived_keys() -> None:
    from ledger.evm.accounts import DEV_NAMES, dev_address
    from ledger.names import DEV_ADDRESSES, checksum

    assert tuple(DEV_ADDRESSES) == DEV_NAMES
    assert {n: dev_address(n) for n in DEV_NAMES} == DEV_ADDRESSES
    assert all(checksum(a.lower()) == a for a in DEV_ADDRESSES.values())


def test_finance_decisions_reports_do_not_import_web3(cli: Any, book: Book, home_copy: Any, db_url: str) -> None:
    invoice_id = book.issue()
    assert cli("finance", "quote", str(invoice_id), "--policy", str(EXAMPLE)).exit_code == 0
    assert cli("finance", "execute", "1").exit_code == 0
    code = (
        "import sys\n"
        "from ledger.cli import main\n"
        "for args in (['report', 'exposure', '--json'], ['report', 'aging', '--json'],\n"
        "             ['report', 'portfolio', '--as', 'Harbour Trade Finance Ltd', '--json'],\n"
        "             ['report', 'portfolio', '--as', 'financier', '--json'],\n"
        "             ['report', 'exposure', '--as', 'financier', '--json'],\n"
        "             ['finance', 'list', '--as', 'financier', '--json'], ['finance', 'show', '1', '--json']):\n"
        "    try:\n"
        f"        main(['--home', {str(home_copy.home)!r}, '--db-url', {db_url!r}, *args])\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code == 0, (args, exc.code)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('web3', 'eth_account', 'eth_abi'))\n"
        "print('IMPORTED', bad)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "IMPORTED []"
    assert '"outstanding": "90000.00"' in proc.stdout and '"reserve_held": "10000.00"' in proc.stdout


def test_finance_decisions_list_shows_lapsed_approvals_as_expired(cli: Any, book: Book) -> None:
    invoice_id = book.issue()
    assert cli("finance", "quote", str(invoice_id), "--policy", str(EXAMPLE)).exit_code == 0
    approved = cli("finance", "list", "--status", "approved", "--json")
    assert [d["status"] for d in json.loads(approved.output)] == ["approved"]
    book.travel(15 * 60 + 1)
    assert cli("index", "sync").exit_code == 0
    assert json.loads(cli("finance", "list", "--status", "approved", "--json").output) == []
    assert [d["status"] for d in json.loads(cli("finance", "list", "--status", "expired", "--json").output)] == [
        "expired"
    ]
    assert json.loads(cli("finance", "show", "1", "--json").output)["status"] == "expired"
    # A fresh approval beside the lapsed one: each status filter, and --limit, count what is shown.
    assert cli("finance", "quote", str(book.issue()), "--policy", str(EXAMPLE)).exit_code == 0

    def listed(*args: str) -> list[tuple[int, str]]:
        return [(d["decision_id"], d["status"]) for d in json.loads(cli("finance", "list", *args, "--json").output)]

    assert listed("--status", "approved") == [(2, "approved")]
    assert listed("--status", "expired") == [(1, "expired")]
    assert listed("--status", "expired,approved") == [(2, "approved"), (1, "expired")]
    assert listed("--status", "expired,approved", "--limit", "1") == [(2, "approved")]
    assert listed("--status", "expired", "--limit", "1") == [(1, "expired")]


def test_finance_decisions_migration_is_the_schema_head(db_url: str) -> None:
    """The decisions migration sits on the indexer's head, is the newest revision,
    and stores rates and amounts exactly on both backends."""
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    from ledger.db import SCHEMA_REVISION, current_revision, open_engine
    from ledger.db.engine import _alembic_config
    from ledger.finance.models import Decision

    engine = open_engine(db_url)
    try:
        assert current_revision(engine) == SCHEMA_REVISION
        with engine.connect() as conn:
            assert ScriptDirectory.from_config(_alembic_config(conn)).get_heads() == [SCHEMA_REVISION]
            columns = {c["name"] for c in inspect(conn).get_columns("decisions")}
        assert {"rules", "policy_hash", "net_advance", "annual_rate", "tx_hash", "event_id", "expires_at"} <= columns
        now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
        values = {c.name: None for c in Decision.__table__.columns if c.name != "id"}
        values.update(
            chain_id=1,
            contract="0x" + "11" * 20,
            invoice_id=1,
            financier="0x" + "22" * 20,
            status="approved",
            created_at=now,
            block_number=1,
            block_hash="0x" + "ab" * 32,
            as_of=now,
            expires_at=now,
            policy_hash="0" * 64,
            policy_source="p.toml",
            policy={"k": "v"},
            currency="0x" + "33" * 20,
            currency_symbol="HKD",
            decimals=2,
            supplier="0x" + "44" * 20,
            buyer="0x" + "55" * 20,
            amount=2**62 + 1,
            open_amount=2**62 + 1,
            due_at=now,
            invoice_status="Confirmed",
            advance_rate=Decimal("0.9"),
            annual_rate=Decimal("0.057500000001"),
            exposure_book=0,
            exposure_buyer=0,
            exposure_supplier=0,
            rules=[{"name": "x"}],
            reason="r",
        )
        with engine.begin() as conn:
            conn.execute(Decision.__table__.insert(), values)
            row = conn.execute(select(Decision.__table__)).mappings().one()
        assert (row["amount"], row["annual_rate"], row["advance_rate"], row["expires_at"]) == (
            2**62 + 1,
            Decimal("0.057500000001"),
            Decimal("0.9"),
            now,
        )
    finally:
        engine.dispose()


def test_finance_decisions_reports_show_the_scenarios_reserve(indexed: Any) -> None:
    """The shared scenario's invoice 1 (HKD 125,000.00) was financed by hand with advance 112,500.00 and due
    118,750.00 (the seller's reserve 6,250.00), then 25,000.10 was repaid: all of it to the financier. The
    reports read these from the ledger, to the cent."""
    runner = CliRunner()

    def report(*args: str) -> Any:
        result = runner.invoke(
            main, ["--home", str(indexed.home), "--db-url", str(indexed.settings.db_url), "report", *args, "--json"]
        )
        assert result.exit_code == 0, result.output
        return json.loads(result.output)

    portfolio = report("portfolio", "--as", "Harbour Trade Finance Ltd")
    [row] = portfolio["rows"]
    assert {
        k: row[k]
        for k in (
            "financed",
            "open",
            "closed",
            "sold",
            "advanced",
            "face",
            "open_at_financing",
            "due",
            "received",
            "outstanding",
            "collected",
            "reserve_at_financing",
            "reserve_released",
            "reserve_held",
            "expected_income",
        )
    } == {
        "financed": 1,
        "open": 1,
        "closed": 0,
        "sold": 0,
        "advanced": "112500.00",
        "face": "125000.00",
        "open_at_financing": "125000.00",
        "due": "118750.00",
        "received": "25000.10",
        "outstanding": "93749.90",
        "collected": "25000.10",
        "reserve_at_financing": "6250.00",
        "reserve_released": "0.00",
        "reserve_held": "6250.00",
        "expected_income": "6250.00",
    }
    [line] = portfolio["invoices"]
    assert (line["invoice_id"], line["position"], line["reserve_held"], line["outstanding"]) == (
        1,
        "open",
        "6250.00",
        "93749.90",
    )
    [exposure] = report("exposure", "--by", "financier")["rows"]
    assert (exposure["name"], exposure["outstanding"], exposure["open"], exposure["reserve_held"]) == (
        "Harbour Trade Finance Ltd",
        "93749.90",
        "99999.90",
        "6250.00",
    )
    [total] = report("aging", "--as-of", "2026-01-01")["totals"]
    # Open: invoice 1 (99,999.90, of it the 6,250.00 reserve) and invoice 2 (80,000.00, not financed).
    assert (total["invoices"], total["total"], total["reserve"], total["to_holders"]) == (
        2,
        "179999.90",
        "6250.00",
        "173749.90",
    )
