"""The front door's listings (issue 12): `scf invoice list` filters and its
listing column, `scf invoice overdue`, `scf events`, `scf status`, `scf token
transfer` and `scf invoice withdraw-offer`: output in the three formats,
and bad values as one line with the exit code of their family (2 input,
1 a rule, 3 the environment), nothing sent."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner
from support.scenario import BUYER, BUYER2, FINANCIER, SUPPLIER, Scenario
from web3 import Web3

from ledger.cli import main

UNREACHABLE = "http://127.0.0.1:9"


@pytest.fixture()
def db_cli(indexed: Any) -> Any:
    """`scf` in-process on the indexed scenario (database-only commands)."""

    def run(*args: str, rpc: str | None = None) -> Any:
        return CliRunner().invoke(
            main,
            [
                "--home",
                str(indexed.home),
                "--rpc-url",
                rpc or indexed.rpc_url,
                "--db-url",
                str(indexed.settings.db_url),
                *args,
            ],
        )

    return run


def ok(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return result


def one_line_error(result: Any, code: int, message: str | None = None) -> str:
    """The single line of a refusal (exit ``code``), no traceback; checked against ``message`` when given."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    line = result.output.removeprefix("Error: ").rstrip("\n")
    if message is not None:
        assert line == message
    return line


def rows_of(result: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(ok(result).output)))


# -- invoice list ------------------------------------------------------------------------------------------
def test_cli_listing_list_filters_and_money_in_the_table(db_cli: Any) -> None:
    def ids(*args: str) -> list[int]:
        return [r["invoice_id"] for r in json.loads(ok(db_cli("invoice", "list", *args, "--json")).output)]

    assert ids("--financier", FINANCIER) == [1]
    assert ids("--financier", "financier") == [1], "a local account name works too"
    assert ids("--currency", "hkd", "--due-after", "2098-06-30") == [1, 3]
    assert ids("--due-after", "2098-01-01", "--due-before", "2099-02-01", "--status", "Confirmed") == [2]
    assert ids("--overdue") == [], "nothing is due before 2097"
    assert ids("--holder", FINANCIER, "--number", "inv q 1", "--due-after", "2099-01-30") == [1], "old filters stay"

    table = ok(db_cli("invoice", "list", "--financier", FINANCIER)).output
    assert "HKD 125,000.00" in table and "HKD 99,999.90" in table and "1 invoice" in table
    assert "125000.00" not in table, "tables group the thousands"
    rows = rows_of(db_cli("invoice", "list", "--csv"))
    assert [(r["invoice_id"], r["amount"], r["listed"], r["offer_to"]) for r in rows][:2] == [
        ("1", "125000.00", "false", ""),
        ("2", "80000.00", "false", ""),
    ], "CSV: exact amounts and booleans as true/false"
    listing_columns = ["listed", "offer_to", "offer_to_name", "offer_until", "offer_asking"]
    start = list(rows[0]).index("listed")
    assert list(rows[0])[start : start + 5] == listing_columns


def test_cli_listing_list_shows_a_live_listing(db_cli: Any, scenario: Scenario) -> None:
    at = str(scenario.financed - 2)  # invoice 1 was listed to the financier then
    table = ok(db_cli("invoice", "list", "--number", "INV-Q-1", "--as-of-block", at)).output
    assert f"to {FINANCIER}, asks HKD 100,000.00, until 20" in table, table
    [row] = json.loads(ok(db_cli("invoice", "list", "--number", "INV-Q-1", "--as-of-block", at, "--json")).output)
    assert (row["listed"], row["offer_to"]["name"], row["offer_asking"]) == (True, FINANCIER, "100000.00")
    assert row["offer_until"].endswith("+08:00")
    [flat] = rows_of(db_cli("invoice", "list", "--number", "INV-Q-1", "--as-of-block", at, "--csv"))
    assert (flat["listed"], flat["offer_to_name"], flat["offer_asking"]) == ("true", FINANCIER, "100000.00")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--currency", "USD"], "unknown currency 'USD'; this deployment settles in: HKD"),
        (["--due-after", "31/01/2099"], "invalid due date '31/01/2099': use YYYY-MM-DD, for example 2027-01-31"),
        (
            ["--due-after", "2099-01-31", "--due-before", "2099-01-31"],
            "no due date is after 2099-01-31 and before 2099-01-31 (both are strict); widen the range",
        ),
        (["--financier", "0x1234"], "invalid financier address '0x1234': expected 0x and 40 hex digits"),
        (["--overdue", "yes"], None),
        (["--status", "Overdue"], None),
    ],
)
def test_cli_listing_list_bad_filter_values_are_one_line(db_cli: Any, args: list[str], message: str | None) -> None:
    one_line_error(db_cli("invoice", "list", *args), 2, message)


def test_cli_listing_list_unknown_financier_names_what_to_give(db_cli: Any) -> None:
    line = one_line_error(db_cli("invoice", "list", "--financier", "Nobody Ltd"), 2)
    assert line.startswith("unknown financier 'Nobody Ltd'") and "scf participant list" in line


# -- invoice overdue ---------------------------------------------------------------------------------------
def test_cli_listing_overdue_in_three_formats(db_cli: Any) -> None:
    table = ok(db_cli("invoice", "overdue", "--as-of", "2099-02-15")).output
    assert "2 receivables past due as of 2099-02-15" in table
    lines = [line for line in table.splitlines() if "INV-Q-" in line]
    assert ["INV-Q-2" in lines[0], "INV-Q-1" in lines[1]] == [True, True], "most days past due first"
    assert "230" in lines[0] and "HKD 80,000.00" in lines[0] and BUYER2 in lines[0] and SUPPLIER in lines[0]
    assert "HKD 99,999.90" in lines[1] and FINANCIER in lines[1] and BUYER in lines[1]

    data = json.loads(ok(db_cli("invoice", "overdue", "--as-of", "2099-02-15", "--json")).output)
    assert data["as_of"] == "2099-02-15"
    assert [(r["invoice_id"], r["days_past_due"], r["outstanding"]) for r in data["invoices"]] == [
        (2, 230, "80000.00"),
        (1, 15, "99999.90"),
    ]
    assert set(data["invoices"][1]["holder"]) == {"address", "name"}
    assert data["invoices"][1]["holder"]["name"] == FINANCIER

    rows = rows_of(db_cli("invoice", "overdue", "--as-of", "2099-02-15", "--csv"))
    assert [(r["as_of"], r["invoice_id"], r["days_past_due"], r["financed"]) for r in rows] == [
        ("2099-02-15", "2", "230", "false"),
        ("2099-02-15", "1", "15", "true"),
    ]
    assert rows[1]["holder_name"] == FINANCIER and rows[1]["buyer_name"] == BUYER

    assert ok(db_cli("invoice", "overdue")).output.startswith("no receivable is past due as of 20")
    header = ok(db_cli("invoice", "overdue", "--csv")).output
    assert header.startswith("as_of,invoice_id,number,status,days_past_due,") and header.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--as-of", "tomorrow"], "invalid as-of date 'tomorrow': use YYYY-MM-DD, for example 2027-01-31"),
        (["--as-of"], None),
        (["--csv", "--json"], "--json and --csv cannot be combined; choose one"),
    ],
)
def test_cli_listing_overdue_bad_values_are_one_line(db_cli: Any, args: list[str], message: str | None) -> None:
    one_line_error(db_cli("invoice", "overdue", *args), 2, message)


# -- events ------------------------------------------------------------------------------------------------
def test_cli_listing_events_in_three_formats(db_cli: Any, scenario: Scenario) -> None:
    data = json.loads(ok(db_cli("events", "--json")).output)
    assert [(e["block"], e["log_index"]) for e in data] == sorted((e["block"], e["log_index"]) for e in data)
    financed = next(e for e in data if e["event"] == "InvoiceFinanced")
    assert financed["contract"]["name"] == "InvoiceToken" and financed["invoice_id"] == 1
    assert financed["parties"] == [financed["args"]["seller"], financed["args"]["financier"]]
    assert [p["name"] for p in financed["parties"]] == [SUPPLIER, FINANCIER]
    assert financed["amount"] == "112500.00"

    rows = rows_of(db_cli("events", "--csv", "--type", "invoicefinanced,InvoiceRepaid"))
    assert [(r["event"], r["invoice_id"]) for r in rows] == [
        ("InvoiceFinanced", "1"),
        ("InvoiceRepaid", "4"),
        ("InvoiceRepaid", "1"),
    ]
    assert rows[0]["parties"] == f"{SUPPLIER}; {FINANCIER}" and rows[0]["amount"] == "112500.00"
    assert rows[0]["contract"] == "InvoiceToken" and len(rows[0]["tx_hash"]) == 66
    assert rows[0]["summary"].startswith(f"financed by {FINANCIER}: advance HKD 112,500.00 paid to {SUPPLIER}")

    table = ok(db_cli("events", "--party", FINANCIER, "--from-block", str(scenario.financed))).output
    assert "InvoiceFinanced" in table and "InvoiceRepaid" in table and "ParticipantAdmitted" not in table
    assert f"HKD 112,500.00 paid by {FINANCIER} to {SUPPLIER}" in table
    limited = json.loads(ok(db_cli("events", "--invoice", "1", "--limit", "2", "--json")).output)
    assert [e["event"] for e in limited] == ["Transfer", "InvoiceIssued"]
    window = json.loads(
        ok(db_cli("events", "--from-block", str(scenario.issued), "--to-block", str(scenario.issued), "--json")).output
    )
    assert {e["block"] for e in window} == {scenario.issued}
    assert ok(db_cli("events", "--invoice", "99")).output == "no events match\n"


def _is_iso_time(value: Any) -> bool:
    return isinstance(value, str) and dt.datetime.fromisoformat(value).utcoffset() is not None


def test_cli_listing_events_json_args_follow_the_conventions(db_cli: Any) -> None:
    """`scf events --json` gives each event's arguments by their meaning:
    times ISO 8601 with the offset, amounts exact decimal strings of the
    event's currency, addresses parties (nobody null), ids numbers, the
    document hash 0x hex; never a raw Unix time or minor units."""
    data = json.loads(ok(db_cli("events", "--json")).output)
    by = {(e["event"], e["invoice_id"]): e["args"] for e in data if e["contract"]["name"] == "InvoiceToken"}
    issued = by[("InvoiceIssued", 1)]
    assert issued["invoiceId"] == 1 and issued["number"] == "INV-Q-1" and issued["amount"] == "125000.00"
    assert issued["dueDate"] == "2099-01-31T23:59:59+08:00"
    assert issued["supplier"]["name"] == SUPPLIER and issued["buyer"]["name"] == BUYER
    assert issued["currency"]["symbol"] == "HKD" and Web3.is_checksum_address(issued["currency"]["address"])
    assert issued["docHash"].startswith("0x") and len(issued["docHash"]) == 66
    offered = by[("FinancingOffered", 1)]
    assert offered["minAdvance"] == "100000.00" and _is_iso_time(offered["expiry"])
    assert offered["holder"]["name"] == SUPPLIER and offered["financier"]["name"] == FINANCIER
    financed = by[("InvoiceFinanced", 1)]
    assert (financed["advance"], financed["due"]) == ("112500.00", "118750.00")
    repaid = by[("InvoiceRepaid", 1)]
    assert (repaid["amount"], repaid["toHolder"], repaid["totalPaid"]) == ("25000.10", "25000.10", "25000.10")
    minted = next(e for e in data if e["event"] == "Transfer" and e["invoice_id"] == 1)
    assert minted["args"]["from"] is None and minted["args"]["to"]["name"] == SUPPLIER, "a mint: from nobody"
    token = next(e for e in data if e["event"] == "Transfer" and e["contract"]["name"] == "SettlementToken:HKD")
    assert token["args"]["value"] == "10000000.00" and token["args"]["from"] is None
    admitted = next(e for e in data if e["event"] == "ParticipantAdmitted")
    assert _is_iso_time(admitted["args"]["kycExpiry"]) and isinstance(admitted["args"]["roles"], int)
    assert admitted["args"]["account"]["address"] == admitted["parties"][0]["address"]
    for e in data:
        for value in e["args"].values():
            assert not isinstance(value, str) or not value.isdigit(), (e["event"], e["args"])


def test_cli_listing_invoice_history_json_args_follow_the_conventions(db_cli: Any) -> None:
    """`scf invoice history --json` formats the arguments as `scf events` does; CSV and the table leave them out."""
    events = json.loads(ok(db_cli("invoice", "history", "1", "--json")).output)
    args = {e["event"]: e["args"] for e in events}
    assert args["InvoiceIssued"]["dueDate"] == "2099-01-31T23:59:59+08:00"
    assert args["InvoiceIssued"]["amount"] == "125000.00" and args["InvoiceIssued"]["buyer"]["name"] == BUYER
    assert args["FinancingOffered"]["minAdvance"] == "100000.00" and _is_iso_time(args["FinancingOffered"]["expiry"])
    assert (args["InvoiceFinanced"]["advance"], args["InvoiceFinanced"]["due"]) == ("112500.00", "118750.00")
    assert args["InvoiceFinanced"]["financier"] == {
        "address": args["InvoiceFinanced"]["financier"]["address"],
        "name": FINANCIER,
    }
    trail = json.loads(ok(db_cli("events", "--invoice", "1", "--json")).output)
    assert [e["args"] for e in trail] == [e["args"] for e in events], "one formatting for both"
    rows = rows_of(db_cli("invoice", "history", "1", "--csv"))
    assert list(rows[0]) == ["block", "time", "tx_hash", "log_index", "event", "amount", "details"]
    assert "invoice 1 (number INV-Q-1)" in ok(db_cli("invoice", "history", "1")).output


def test_cli_listing_events_unknown_type_lists_the_valid_names(db_cli: Any) -> None:
    line = one_line_error(db_cli("events", "--type", "InvoiceFinanced,Financed"), 2)
    assert line.startswith("unknown event type 'Financed'; use one of Approval, ApprovalForAll, ")
    names = line.split("use one of ", 1)[1].split(", ")
    assert {"InvoiceFinanced", "Paused", "ParticipantSuspended", "Transfer"} <= set(names)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from-block", "20", "--to-block", "10"], "--from-block 20 is after --to-block 10; swap them"),
        (["--from-block", "-1"], None),
        (["--limit", "0"], None),
        (["--invoice", "0"], None),
        (["--invoice", "9" * 80], None),
        (["--party", "0x1234"], "invalid party address '0x1234': expected 0x and 40 hex digits"),
        (["--type", ","], None),
    ],
)
def test_cli_listing_events_bad_values_are_one_line(db_cli: Any, args: list[str], message: str | None) -> None:
    one_line_error(db_cli("events", *args), 2, message)


def test_cli_listing_events_unknown_party_is_bad_input(db_cli: Any) -> None:
    assert one_line_error(db_cli("events", "--party", "Nobody Ltd"), 2).startswith("unknown party 'Nobody Ltd'")


def test_cli_listing_database_only_commands_do_not_import_web3(indexed: Any) -> None:
    probe = (
        "import sys\n"
        "from ledger.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:], prog_name='scf')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "print('WEB3', any(m in sys.modules for m in ('web3', 'eth_account')), file=sys.stderr)\n"
    )
    env = {
        **os.environ,
        "SCF_HOME": str(indexed.home),
        "SCF_DB_URL": str(indexed.settings.db_url),
        "SCF_RPC_URL": UNREACHABLE,
    }
    for args in (
        ["invoice", "list", "--overdue", "--financier", "financier", "--currency", "HKD", "--due-after", "2090-01-01"],
        ["invoice", "overdue", "--json"],
        ["events", "--type", "InvoiceIssued", "--party", FINANCIER, "--csv"],
        ["events"],
    ):
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "WEB3 False" in done.stderr, (args, done.stderr)


# -- status ------------------------------------------------------------------------------------------------
def test_cli_listing_status_reports_node_contracts_index_and_database(db_cli: Any, scenario: Scenario) -> None:
    data = json.loads(ok(db_cli("status", "--json")).output)
    assert data["node"]["reachable"] is True and data["node"]["chain_id"] == 31337
    head = data["node"]["head"]
    assert head >= scenario.end and data["paused"] is False and data["problems"] == []
    [deployment] = data["deployments"]
    assert deployment["version"] == 5 and set(deployment["contracts"]) >= {
        "InvoiceToken",
        "ParticipantRegistry",
        "Settlement",
        "Remedies",
        "Intake",
    }
    [index] = data["index"]
    assert (index["block"], index["head"], index["lag"], index["head_is_live"]) == (
        scenario.end,
        head,
        head - scenario.end,
        True,
    )
    assert data["database"]["readable"] is True
    text = ok(db_cli("status")).output
    assert "reachable, chain 31337" in text and "running (not paused)" in text
    lag = head - scenario.end
    assert f"block {scenario.end}, {lag} block{'s' if lag != 1 else ''} behind the head" in text, text


def test_cli_listing_status_without_the_node_prints_the_rest_and_exits_3(db_cli: Any, scenario: Scenario) -> None:
    result = db_cli("status", rpc=UNREACHABLE)
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("warning: node unreachable: cannot reach")
    assert f"{UNREACHABLE}: UNREACHABLE" in result.stdout and "unknown (node unreachable)" in result.stdout
    assert f"block {scenario.end}" in result.stdout, "the index is known from the database"
    assert "InvoiceToken" in result.stdout, "the addresses are known from the deployment record"

    as_json = db_cli("status", "--json", rpc=UNREACHABLE)
    assert as_json.exit_code == 3
    parsed = json.loads(as_json.stdout)
    assert parsed["node"]["reachable"] is False and parsed["paused"] is None
    assert parsed["index"][0]["block"] == scenario.end and parsed["index"][0]["head_is_live"] is False


def test_cli_listing_status_node_up_nothing_deployed_says_so(home_copy: Any, tmp_path: Any) -> None:
    """A reachable node and no deployment recorded: the network line says why its state is
    unknown (not that the node is unreachable, which the line above it contradicts)."""
    result = CliRunner().invoke(main, ["--home", str(tmp_path / "empty"), "--rpc-url", home_copy.rpc_url, "status"])
    assert "Traceback" not in result.output
    assert "reachable, chain 31337" in result.stdout, result.output
    assert "network     unknown (no contracts deployed on this chain)" in result.stdout, result.output
    assert "node unreachable" not in result.output


def test_cli_listing_status_masks_the_database_password(home_copy: Any) -> None:
    url = "postgresql+psycopg://scf:s3cret-pw@127.0.0.1:9/ledger"
    result = CliRunner().invoke(
        main, ["--home", str(home_copy.home), "--rpc-url", home_copy.rpc_url, "--db-url", url, "status"]
    )
    assert result.exit_code == 3, result.output
    assert "s3cret-pw" not in result.output
    assert "postgresql+psycopg://scf:***@127.0.0.1:9/ledger: UNREADABLE" in result.stdout
    assert result.stderr.startswith("warning: database unreadable: ") and result.stderr.count("\n") == 1
    assert "reachable, chain 31337" in result.stdout, "the node part is still shown"


# -- token transfer ----------------------------------------------------------------------------------------
def balance(cli: Any, who: str) -> Decimal:
    return Decimal(json.loads(ok(cli("token", "balance", who, "--json")).output)["balance"])


def test_cli_listing_token_transfer_pays_and_prints_both_balances(cli: Any, home_copy: Any) -> None:
    payer, payee = balance(cli, "buyer"), balance(cli, "supplier")
    result = ok(
        cli("token", "transfer", "--as", "buyer", "--to", SUPPLIER, "--amount", "48,250.50", "--no-sync", "--json")
    )
    data = json.loads(result.output)
    assert (data["amount"], data["currency"], data["from"]["name"], data["to"]["name"]) == (
        "48250.50",
        "HKD",
        BUYER,
        SUPPLIER,
    )
    assert set(data["from"]) == {"address", "name"} and data["tx_hash"].startswith("0x") and len(data["tx_hash"]) == 66
    assert Decimal(data["balances"]["from"]) == payer - Decimal("48250.50") == balance(cli, "buyer")
    assert Decimal(data["balances"]["to"]) == payee + Decimal("48250.50") == balance(cli, "supplier")
    text = ok(cli("token", "transfer", "--as", "buyer", "--to", "supplier", "--amount", "0.50", "--no-sync")).output
    lines = text.splitlines()
    assert lines[0].startswith(f"transferred HKD 0.50 from {BUYER} to {SUPPLIER} (tx 0x")
    assert lines[2] == f"  {SUPPLIER}: HKD {payee + Decimal('48251.00'):,.2f}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--amount", "0"],
            "invalid amount '0': a transfer of nothing sends a transaction for nothing; give more than 0",
        ),
        (["--amount", "-5"], "invalid amount '-5': use a positive decimal number such as 125000.00"),
        (["--amount", "1.00", "--currency", "USD"], "unknown currency 'USD'; this deployment settles in: HKD"),
        (["--amount", "1.001"], "invalid amount '1.001': at most 2 decimal places for this currency"),
    ],
)
def test_cli_listing_token_transfer_bad_input_is_refused_before_sending(
    cli: Any, home_copy: Any, args: list[str], message: str | None
) -> None:
    w3 = Web3(Web3.HTTPProvider(home_copy.rpc_url))
    block = w3.eth.block_number
    result = cli("token", "transfer", "--as", "buyer", "--to", SUPPLIER, *args)
    one_line_error(result, 2, message)
    assert w3.eth.block_number == block, "nothing was sent"


def test_cli_listing_token_transfer_above_the_balance_is_refused_by_rule(cli: Any, home_copy: Any) -> None:
    w3 = Web3(Web3.HTTPProvider(home_copy.rpc_url))
    held = balance(cli, "buyer")
    block = w3.eth.block_number
    result = cli("token", "transfer", "--as", "buyer", "--to", SUPPLIER, "--amount", str(held + Decimal("0.01")))
    one_line_error(
        result,
        1,
        f"{BUYER} holds HKD {held:,.2f}, less than the HKD {held + Decimal('0.01'):,.2f} to transfer; "
        "transfer at most what it holds",
    )
    assert w3.eth.block_number == block, "nothing was sent"
    assert balance(cli, "buyer") == held


def test_cli_listing_token_transfer_needs_a_payer_and_a_known_payee(cli: Any, home_copy: Any) -> None:
    w3 = Web3(Web3.HTTPProvider(home_copy.rpc_url))
    block = w3.eth.block_number
    line = one_line_error(cli("token", "transfer", "--to", SUPPLIER, "--amount", "1.00"), 2)
    assert line.startswith("Missing option '--as'")
    line = one_line_error(cli("token", "transfer", "--as", "buyer", "--to", "Nobody Ltd", "--amount", "1.00"), 2)
    assert line.startswith("unknown recipient 'Nobody Ltd'")
    line = one_line_error(cli("token", "transfer", "--as", "buyer", "--to", "0x1234", "--amount", "1.00"), 2)
    assert line == "invalid recipient address '0x1234': expected 0x and 40 hex digits"
    assert w3.eth.block_number == block


# -- withdraw-offer ----------------------------------------------------------------------------------------
def test_cli_listing_withdraw_offer_is_withdraw_under_the_name_users_look_for(cli: Any) -> None:
    listing = ok(cli("invoice", "--help")).output
    assert "withdraw-offer" in listing
    assert "scf invoice withdraw 1" in ok(cli("invoice", "withdraw-offer", "--help")).output
    for name in ("status", "events"):
        assert "Example:" in ok(cli(name, "--help")).output
    for args in (["invoice", "overdue"], ["token", "transfer"]):
        assert "Example:" in ok(cli(*args, "--help")).output
