"""The conventions every command follows (issue 12; the README's
"Conventions"): parties in JSON are {"address", "name"}; amounts in JSON
are strings with the currency's places; times in JSON carry an offset (the
business time zone's); booleans in CSV are true/false; the global options
work after the subcommand; a due date is the end of that business day."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from support.cli import cli_issue
from support.finance import EXAMPLE

from ledger.business_time import business_date, due_timestamp, use_zone
from ledger.cli import main

SUPPLIER = "Kowloon Precision Parts Ltd"
BUYER = "Tsuen Wan Electronics Ltd"
FINANCIER = "Harbour Trade Finance Ltd"

#: An amount in JSON: an exact decimal string with HKD's two places.
AMOUNT = re.compile(r"^-?\d+\.\d{2}$")
#: A time in JSON: ISO 8601 with the offset of Hong Kong (the default zone).
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+08:00$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

#: Keys that hold an amount in the JSON of an invoice (where present and not null).
AMOUNT_KEYS = ("amount", "paid", "outstanding", "advance", "financier_due", "financier_paid", "reserve_open")

#: No command needs these from the test process's environment.
NO_ENV = {"SCF_HOME": None, "SCF_RPC_URL": None, "SCF_DB_URL": None, "SCF_TIMEZONE": None}


@pytest.fixture(autouse=True)
def _hong_kong_afterwards() -> Iterator[None]:
    """A command run with another SCF_TIMEZONE leaves it as this process's zone: reset it."""
    yield
    use_zone(ZoneInfo("Asia/Hong_Kong"))


def _json(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _is_party(value: Any, name: str | None = None) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"address", "name"}
        and bool(re.fullmatch(r"0x[0-9a-fA-F]{40}", value["address"]))
        and (name is None or value["name"] == name)
    )


def _issue_due(cli: Any, due: dt.date, number: str) -> int:
    result = cli(
        "invoice",
        "issue",
        "--buyer",
        BUYER,
        "--number",
        number,
        "--amount",
        "100000.00",
        "--due",
        due.isoformat(),
        "--json",
    )
    return int(_json(result)["invoice_id"])


def _chain_today(ledger: Any) -> dt.date:
    return business_date(int(ledger.w3.eth.get_block("latest")["timestamp"]))


def _mine_at(ledger: Any, timestamp: int) -> None:
    ledger.w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    ledger.w3.provider.make_request("evm_mine", [])


# -- JSON: parties, amounts, times -------------------------------------------------------------
def test_cli_conventions_invoice_show_json(cli: Any) -> None:
    invoice_id = cli_issue(cli, number="INV-CONV-1")
    assert cli("invoice", "confirm", str(invoice_id), "--as", "buyer").exit_code == 0
    shown = _json(cli("invoice", "show", str(invoice_id), "--json"))
    assert _is_party(shown["supplier"], SUPPLIER) and _is_party(shown["buyer"], BUYER), shown
    assert _is_party(shown["holder"], SUPPLIER), shown
    assert shown["seller"] is None  # nobody: null, never a half-empty party
    assert shown["amount"] == "125000.00" and shown["paid"] == "0.00"
    assert all(AMOUNT.match(shown[k]) for k in AMOUNT_KEYS if shown.get(k) is not None), shown
    assert shown["due"] == "2099-01-31"
    assert TIME.match(shown["issued_at"]), shown["issued_at"]
    offered = _json(cli("invoice", "offer", str(invoice_id), "--min-advance", "100000", "--days", "7", "--json"))
    assert TIME.match(offered["expires"]) and offered["min_advance"] == "100000.00", offered
    events = _json(cli("invoice", "history", str(invoice_id), "--json"))
    assert events and all(TIME.match(e["time"]) for e in events), events
    [status] = _json(cli("index", "status", "--json"))
    assert TIME.match(status["updated_at"]), status


def test_cli_conventions_invoice_list_json(cli: Any) -> None:
    invoice_id = cli_issue(cli, number="INV-CONV-1")
    [row] = [r for r in _json(cli("invoice", "list", "--json")) if r["invoice_id"] == invoice_id]
    for key in ("supplier", "buyer", "holder"):
        assert _is_party(row[key]), (key, row)
    assert row["buyer"]["name"] == BUYER
    assert not [k for k in row if k.endswith("_name")], row  # names live inside the parties
    assert all(AMOUNT.match(row[k]) for k in AMOUNT_KEYS if row.get(k) is not None), row
    assert row["due"] == "2099-01-31" and TIME.match(row["issued_at"]), row


def test_cli_conventions_participant_and_finance_list_json(cli: Any, ledger: Any) -> None:
    assert cli("index", "sync").exit_code == 0
    participants = _json(cli("participant", "list", "--json"))
    assert participants and all(_is_party({"address": p["address"], "name": p["name"]}) for p in participants)
    assert all(DATE.match(p["kyc_until"]) for p in participants)

    invoice_id = _issue_due(cli, _chain_today(ledger) + dt.timedelta(days=60), "INV-CONV-2")
    assert cli("invoice", "confirm", str(invoice_id), "--as", "buyer").exit_code == 0
    assert cli("invoice", "offer", str(invoice_id), "--min-advance", "80000").exit_code == 0
    quoted = cli("finance", "quote", str(invoice_id), "--as", "financier", "--policy", str(EXAMPLE), "--json")
    decision = _json(quoted)
    [row] = _json(cli("finance", "list", "--json"))
    assert row["decision_id"] == decision["decision_id"]
    assert _is_party(row["financier"], FINANCIER), row
    for key in ("as_of", "expires_at", "created_at"):
        assert TIME.match(row[key]), (key, row[key])
    assert _is_party(row["buyer"], BUYER) and _is_party(row["holder"], SUPPLIER), row
    for value in (row["amount"], row["open_amount"], row["price"]["net_advance"], row["exposure"]["book"]):
        assert AMOUNT.match(value), (value, row)
    assert row["due"] == (_chain_today(ledger) + dt.timedelta(days=60)).isoformat()


# -- CSV: booleans ------------------------------------------------------------------------------
def test_cli_conventions_csv_booleans_are_true_and_false(cli: Any) -> None:
    assert cli("participant", "suspend", BUYER).exit_code == 0
    result = cli("participant", "list", "--csv")
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(result.output))}
    assert (rows[BUYER]["suspended"], rows[BUYER]["active"]) == ("true", "false")
    assert (rows[FINANCIER]["suspended"], rows[FINANCIER]["active"]) == ("false", "true")
    assert {r["suspended"] for r in rows.values()} | {r["active"] for r in rows.values()} == {"true", "false"}


# -- global options anywhere --------------------------------------------------------------------
def test_cli_conventions_global_options_after_the_subcommand(cli: Any, home_copy: Any, tmp_path: Any) -> None:
    invoice_id = cli_issue(cli, number="INV-CONV-3")
    runner = CliRunner()
    home, url = str(home_copy.home), home_copy.rpc_url

    def run(*args: str, env: dict[str, Any] | None = None) -> Any:
        return runner.invoke(main, list(args), env={**NO_ENV, **(env or {})})

    # --home and --rpc-url after `invoice show ID`, --json after the subcommand and before it.
    shown = _json(run("invoice", "show", str(invoice_id), "--home", home, "--rpc-url", url, "--json"))
    assert shown["invoice_id"] == invoice_id
    assert _json(run("--json", "invoice", "show", str(invoice_id), "--home", home, "--rpc-url", url)) == shown
    listed = _json(run("--json", "invoice", "list", "--home", home))
    assert invoice_id in [r["invoice_id"] for r in listed]
    assert _json(run("invoice", "list", "--home", home, "--json")) == listed
    # --db-url after the subcommand is the database read.
    missing = tmp_path / "nothing.db"
    result = run("invoice", "list", "--home", home, "--db-url", f"sqlite:///{missing}")
    assert result.exit_code == 3, result.output
    assert (
        result.output
        == f"Error: no ledger database at {missing}; check --home / --db-url, or run `scf index sync` to create it\n"
    )
    # After a subgroup's name too; and a value after the subcommand beats the environment.
    assert _json(run("invoice", "--home", home, "list", "--json")) == listed
    assert _json(run("invoice", "list", "--home", home, "--json", env={"SCF_HOME": str(tmp_path)})) == listed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--db-url", "sqlite:///a.db", "invoice", "list", "--db-url", "sqlite:///b.db"],
            "Error: --db-url given twice with different values ('sqlite:///a.db' and 'sqlite:///b.db'); give it once",
        ),
        (
            ["--home", "h1", "invoice", "--home", "h2", "list"],
            "Error: --home given twice with different values ('h1' and 'h2'); give it once",
        ),
        (["--json", "invoice", "list", "--csv"], "Error: --json and --csv cannot be combined; choose one"),
    ],
)
def test_cli_conventions_global_option_given_twice_differently_is_refused(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args, env=NO_ENV)
    assert result.exit_code == 2, result.output
    assert result.output == message + "\n"
    assert "Traceback" not in result.output


def test_cli_conventions_global_option_repeated_with_the_same_value_is_fine(cli: Any, home_copy: Any) -> None:
    cli_issue(cli, number="INV-CONV-4")
    result = cli("invoice", "list", "--home", str(home_copy.home), "--json")
    assert result.exit_code == 0, result.output


# -- the business time zone at the day boundary -------------------------------------------------
def test_cli_conventions_due_date_is_the_end_of_the_business_day(cli: Any, ledger: Any) -> None:
    """An invoice due D is not overdue at 23:59:58 of D in Hong Kong and is at
    00:00:00 of D+1 there (chain time); D is stored and shown as D."""
    due = _chain_today(ledger) + dt.timedelta(days=30)
    invoice_id = _issue_due(cli, due, "INV-CONV-5")
    assert cli("invoice", "confirm", str(invoice_id), "--as", "buyer").exit_code == 0
    end_of_day = due_timestamp(due)
    assert ledger.invoice_state(invoice_id).due_ts == end_of_day
    assert dt.datetime.fromtimestamp(end_of_day, dt.UTC).strftime("%H:%M:%S") == "15:59:59"  # 23:59:59 +08:00
    assert _json(cli("invoice", "show", str(invoice_id), "--json"))["due"] == due.isoformat()

    def overdue_ids() -> list[int]:
        assert cli("index", "sync").exit_code == 0
        return [r["invoice_id"] for r in _json(cli("invoice", "list", "--overdue", "--json"))]

    def aging_not_due() -> str:
        return str(_json(cli("report", "aging", "--json"))["totals"][0]["not_due"])

    _mine_at(ledger, end_of_day - 1)  # 23:59:58 on D in Hong Kong
    assert invoice_id not in overdue_ids()
    [row] = [r for r in _json(cli("invoice", "list", "--json")) if r["invoice_id"] == invoice_id]
    assert row["due"] == due.isoformat()  # the indexed due date is the business date
    assert aging_not_due() == "100000.00"

    _mine_at(ledger, end_of_day + 1)  # 00:00:00 on D+1 in Hong Kong
    assert invoice_id in overdue_ids()
    assert aging_not_due() == "0.00"

    # Another zone: the stored due dates follow after `scf index rebuild` (23:59:59 in Hong Kong is
    # 00:59:59 of D+1 in Tokyo), and times show with that zone's offset.
    tokyo = {"SCF_TIMEZONE": "Asia/Tokyo"}
    assert cli("index", "rebuild", env=tokyo).exit_code == 0
    [row] = [r for r in _json(cli("invoice", "list", "--json", env=tokyo)) if r["invoice_id"] == invoice_id]
    assert row["due"] == (due + dt.timedelta(days=1)).isoformat()
    assert row["issued_at"].endswith("+09:00")


def test_cli_conventions_kyc_today_is_today_in_the_configured_zone(cli: Any) -> None:
    """`--kyc-until` today is judged in the configured zone, not the default
    one: a day behind Hong Kong (UTC-12), "today" there is not in the past."""
    zone = "Etc/GMT+12"  # UTC-12: the date there is Hong Kong's or the day before
    today = dt.datetime.now(ZoneInfo(zone)).date().isoformat()
    try:
        result = cli(
            "participant",
            "add",
            "Western Date Traders Ltd",
            "--address",
            "0x00000000000000000000000000000000000000a1",
            "--role",
            "supplier",
            "--kyc-until",
            today,
            "--json",
            env={"SCF_TIMEZONE": zone},
        )
    finally:
        use_zone(ZoneInfo("Asia/Hong_Kong"))  # the process-wide zone, as the other tests expect it
    assert result.exit_code == 0, result.output
    assert _json(result)["kyc_until"] == today


def test_cli_conventions_write_commands_give_parties_as_objects(cli: Any, ledger: Any) -> None:
    """issue, offer, finance, repay and mint print their parties in JSON as
    {address, name} too, and their amounts as exact strings."""
    due = _chain_today(ledger) + dt.timedelta(days=60)
    issued = _json(
        cli("invoice", "issue", "--buyer", BUYER, "--number", "INV-CONV-W", "--amount", "1000.00", "--due", str(due),
            "--json")
    )  # fmt: skip
    assert _is_party(issued["buyer"], BUYER) and AMOUNT.match(issued["amount"]), issued
    invoice_id = str(issued["invoice_id"])
    assert cli("invoice", "confirm", invoice_id, "--as", "buyer").exit_code == 0
    offered = _json(cli("invoice", "offer", invoice_id, "--min-advance", "800.00", "--json"))
    assert offered["financier"] is None, "listed for any financier: nobody in particular"
    assert TIME.match(offered["expires"]), offered
    to_one = _json(cli("invoice", "offer", invoice_id, "--min-advance", "800.00", "--to", FINANCIER, "--json"))
    assert _is_party(to_one["financier"], FINANCIER), to_one
    financed = _json(
        cli("invoice", "finance", invoice_id, "--advance", "900.00", "--due", "950.00", "--as", "financier", "--json")
    )
    assert _is_party(financed["seller"], SUPPLIER) and AMOUNT.match(financed["advance"]), financed
    repaid = _json(cli("invoice", "repay", invoice_id, "--amount", "1000.00", "--as", "buyer", "--json"))
    assert _is_party(repaid["payee"], FINANCIER) and _is_party(repaid["seller"], SUPPLIER), repaid
    minted = _json(cli("token", "mint", "--to", "buyer", "--amount", "1.00", "--json"))
    assert _is_party(minted["to"], BUYER) and "name" not in minted, minted
