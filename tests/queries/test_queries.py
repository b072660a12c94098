"""Queries on the indexed ledger (`scf invoice list/history/show --as-of-block`,
`scf participant list`), on SQLite and PostgreSQL, against a real chain
indexed by the real indexer. The queries read the database only."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from support.scenario import BUYER, BUYER2, FINANCIER, SUPPLIER, SUPPLIER2, Scenario, index

from ledger.business_time import today as business_today
from ledger.cli import main


@pytest.fixture()
def cli(indexed: Any) -> Any:
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(
            main,
            [
                "--home",
                str(indexed.home),
                "--rpc-url",
                indexed.rpc_url,
                "--db-url",
                str(indexed.settings.db_url),
                *args,
            ],
        )

    return run


def _json(cli: Any, *args: str) -> Any:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _ids(cli: Any, *args: str) -> list[int]:
    return [r["invoice_id"] for r in _json(cli, "invoice", "list", *args)]


def test_queries_list_shows_every_invoice_with_exact_amounts(cli: Any) -> None:
    rows = {r["invoice_id"]: r for r in _json(cli, "invoice", "list")}
    assert sorted(rows) == [1, 2, 3, 4]
    assert {i: r["status"] for i, r in rows.items()} == {1: "PartiallyPaid", 2: "Confirmed", 3: "Cancelled", 4: "Paid"}
    one = rows[1]
    assert (one["currency"], one["amount"], one["paid"], one["outstanding"], one["advance"]) == (
        "HKD",
        "125000.00",
        "25000.10",
        "99999.90",
        "112500.00",
    )
    assert (one["supplier"]["name"], one["buyer"]["name"], one["holder"]["name"], one["financier"]["name"]) == (
        SUPPLIER,
        BUYER,
        FINANCIER,
        FINANCIER,
    )
    assert one["due"] == "2099-01-31"
    assert (one["number"], one["normalised_number"]) == ("INV-Q-1", "INVQ1")
    # Financed with a due of 118,750.00 on an open 125,000.00: a reserve of 6,250.00, all still open (the
    # 25,000.10 paid went to the financier).
    assert (
        one["seller"]["name"],
        one["financier_due"],
        one["financier_paid"],
        one["reserve_open"],
        one["reserve_released"],
    ) == (SUPPLIER, "118750.00", "25000.10", "6250.00", "0.00")
    assert {i: r["seller"] for i, r in rows.items() if i != 1} == {2: None, 3: None, 4: None}
    assert (rows[4]["financier_due"], rows[4]["reserve_open"], rows[4]["number"]) == (None, None, "INV-Q-4")
    assert rows[3]["holder"] is None and rows[3]["outstanding"] == "5000.00"
    assert rows[4]["holder"]["name"] == SUPPLIER and rows[4]["outstanding"] == "0.00"


def test_queries_list_filters(cli: Any) -> None:
    assert _ids(cli, "--status", "financed,partiallypaid") == [1]
    assert _ids(cli, "--status", "Paid") == [4]
    assert _ids(cli, "--status", "Issued") == []
    assert _ids(cli, "--supplier", SUPPLIER) == [1, 2, 4]
    supplier_address = _json(cli, "invoice", "list")[0]["supplier"]["address"]
    assert _ids(cli, "--supplier", supplier_address.lower()) == [1, 2, 4]
    assert _ids(cli, "--buyer", BUYER.upper()) == [1, 3, 4]
    assert _ids(cli, "--holder", FINANCIER) == [1]
    # Local account names work too (dev accounts: no key derivation, no eth_account import).
    assert _ids(cli, "--holder", "financier") == [1]
    assert _ids(cli, "--supplier", "supplier2", "--status", "Cancelled") == [3]
    assert _ids(cli, "--due-before", "2098-12-31") == [2, 4]
    assert _ids(cli, "--due-before", "2097-12-31") == [], "due-before is strict"
    assert _ids(cli, "--limit", "2") == [1, 2]
    assert _ids(cli, "--buyer", BUYER, "--status", "Paid,Cancelled", "--limit", "1") == [3]


def test_queries_list_table_and_csv(cli: Any) -> None:
    table = cli("invoice", "list", "--status", "PartiallyPaid")
    assert table.exit_code == 0, table.output
    assert "1 invoice" in table.output
    assert FINANCIER in table.output and "HKD 125,000.00" in table.output and "HKD 99,999.90" in table.output
    empty = cli("invoice", "list", "--status", "Issued")
    assert (empty.exit_code, empty.output) == (0, "no invoices match\n")

    result = cli("invoice", "list", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert [r["invoice_id"] for r in rows] == ["1", "2", "3", "4"]
    assert (rows[0]["amount"], rows[0]["paid"], rows[0]["holder_name"]) == ("125000.00", "25000.10", FINANCIER)
    assert rows[2]["holder"] == "", "no holder (burnt) is an empty CSV field"
    assert (rows[0]["number"], rows[0]["normalised_number"], rows[0]["reserve_open"]) == ("INV-Q-1", "INVQ1", "6250.00")
    assert (rows[1]["financier_due"], rows[1]["seller"]) == ("", "")
    header = cli("invoice", "list", "--csv", "--status", "Issued")
    assert header.output.startswith("invoice_id,number,normalised_number,status,supplier,")
    assert header.output.count("\n") == 1
    assert "INV-Q-1" in table.output, "the table has a number column"


def test_queries_history_lists_every_event_with_block_and_time(cli: Any, scenario: Scenario) -> None:
    events = _json(cli, "invoice", "history", "1")
    assert [e["event"] for e in events] == [
        "Transfer",
        "InvoiceIssued",
        "InvoiceConfirmed",
        "FinancingOffered",
        "InvoiceFinanced",  # contracts version 4: the financing is announced before the token moves
        "Transfer",
        "InvoiceRepaid",
    ]
    blocks = [e["block"] for e in events]
    assert blocks == sorted(blocks)
    assert blocks[1] == scenario.issued and blocks[2] == scenario.confirmed
    assert blocks[5] == scenario.financed and blocks[6] == scenario.repaid
    for e in events:
        assert dt.datetime.fromisoformat(e["time"]).tzinfo is not None
        assert e["tx_hash"].startswith("0x") and len(e["tx_hash"]) == 66
    assert events[1]["details"] == (
        f"issued as number INV-Q-1 (normalised INVQ1) by {SUPPLIER} to {BUYER}: HKD 125,000.00 due 2099-01-31"
    )
    assert events[5]["details"] == f"receivable transferred from {SUPPLIER} to {FINANCIER}"
    assert events[4]["details"] == (
        f"financed by {FINANCIER}: advance HKD 112,500.00 paid to {SUPPLIER}, "
        "financier due HKD 118,750.00 of the buyer's payments, without recourse, grace 7 days after the due date"
    )
    assert events[6]["amount"] == "25000.10"
    assert events[6]["details"] == f"repaid HKD 25,000.10 by {BUYER} to {FINANCIER} (total paid HKD 25,000.10)"

    cancelled = _json(cli, "invoice", "history", "3")
    assert [e["event"] for e in cancelled] == ["Transfer", "InvoiceIssued", "Transfer", "InvoiceCancelled"]
    assert cancelled[2]["details"] == f"receivable burnt (held by {SUPPLIER2})"

    text = cli("invoice", "history", "1")
    assert text.exit_code == 0, text.output
    assert "invoice 1 (number INV-Q-1): 7 events" in text.output and "InvoiceRepaid" in text.output
    rows = list(csv.DictReader(io.StringIO(cli("invoice", "history", "1", "--csv").output)))
    assert [int(r["block"]) for r in rows] == blocks and rows[6]["amount"] == "25000.10"


def test_queries_as_of_block_replays_the_past(cli: Any, scenario: Scenario) -> None:
    at_confirm = {r["invoice_id"]: r for r in _json(cli, "invoice", "list", "--as-of-block", str(scenario.confirmed))}
    assert list(at_confirm) == [1], "invoices issued later did not exist yet"
    assert (at_confirm[1]["status"], at_confirm[1]["holder"]["name"], at_confirm[1]["outstanding"]) == (
        "Confirmed",
        SUPPLIER,
        "125000.00",
    )
    assert _ids(cli, "--as-of-block", str(scenario.issued - 1)) == []
    assert _ids(cli, "--as-of-block", str(scenario.issued), "--status", "Issued") == [1]

    shown = _json(cli, "invoice", "show", "1", "--as-of-block", str(scenario.financed))
    assert (
        shown["status"],
        shown["holder"]["name"],
        shown["financier"]["name"],
        shown["advance"],
        shown["paid"],
        shown["as_of_block"],
    ) == ("Financed", FINANCIER, FINANCIER, "112500.00", "0.00", scenario.financed)
    assert (
        shown["number"],
        shown["normalised_number"],
        shown["seller"]["name"],
        shown["financier_due"],
        shown["financier_paid"],
        shown["reserve_open"],
        shown["reserve_released"],
    ) == ("INV-Q-1", "INVQ1", SUPPLIER, "118750.00", "0.00", "6250.00", "0.00")
    before = _json(cli, "invoice", "show", "1", "--as-of-block", str(scenario.financed - 1))
    assert before["status"] == "Confirmed" and before["financier"] is None
    assert (before["seller"], before["financier_due"], before["reserve_open"], before["advance"]) == (
        None,
        None,
        None,
        None,
    )
    text = cli("invoice", "show", "1", "--as-of-block", str(scenario.financed))
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    for line in (
        "number       INV-Q-1",
        "normalised   INVQ1",
        "fin. due     HKD 118,750.00",
        "reserve      HKD 6,250.00",
        f"seller       {SUPPLIER} (",
    ):
        assert any(got.startswith(line) for got in lines), (line, text.output)

    history = _json(cli, "invoice", "history", "1", "--as-of-block", str(scenario.confirmed))
    assert [e["event"] for e in history] == ["Transfer", "InvoiceIssued", "InvoiceConfirmed"]

    # The past replayed up to the last indexed block is the present projection.
    assert _json(cli, "invoice", "list", "--as-of-block", str(scenario.end)) == _json(cli, "invoice", "list")
    assert _ids(cli, "--as-of-block", str(scenario.end), "--holder", FINANCIER, "--due-before", "2099-02-01") == [1]


def test_queries_participants_from_the_database(cli: Any, indexed: Any, ledger: Any, acct: Any) -> None:
    rows = {r["name"]: r for r in _json(cli, "participant", "list")}
    assert len(rows) == 7
    assert rows[FINANCIER]["roles"] == ["financier"] and rows[FINANCIER]["active"] is True
    kyc = dt.date.today() + dt.timedelta(days=3 * 365)
    assert rows[BUYER]["kyc_until"] == kyc.isoformat()

    block = int(ledger.w3.eth.block_number)
    ledger.set_suspended(acct("operator"), rows[BUYER2]["address"], True)
    index(indexed.settings)
    now = {r["name"]: r for r in _json(cli, "participant", "list")}
    assert (now[BUYER2]["suspended"], now[BUYER2]["active"]) == (True, False)
    then = {r["name"]: r for r in _json(cli, "participant", "list", "--as-of-block", str(block))}
    assert (then[BUYER2]["suspended"], then[BUYER2]["active"]) == (False, True)

    table = cli("participant", "list")
    assert table.exit_code == 0, table.output
    assert "suspended" in table.output and FINANCIER in table.output
    parsed = list(csv.DictReader(io.StringIO(cli("participant", "list", "--csv").output)))
    assert {r["name"]: r["roles"] for r in parsed}[FINANCIER] == "financier"
    assert {r["name"]: r["suspended"] for r in parsed}[BUYER2] == "true"


def test_queries_participant_expired_by_chain_time_is_inactive_until_renewed(
    cli: Any, indexed: Any, ledger: Any, acct: Any
) -> None:
    """KYC expires by the chain's clock, which can run ahead of the wall clock:
    the list says inactive as soon as the indexed chain is past the expiry,
    and active again after the operator renews it."""
    until = business_today()  # today in the business time zone: KYC expires at its end there
    ledger.add_participant(acct("operator"), "Lantau Metals Ltd", acct("dev9").address, 1, until)
    ledger.w3.provider.make_request("evm_increaseTime", [3 * 86400])
    ledger.w3.provider.make_request("evm_mine", [])
    index(indexed.settings)
    rows = {r["name"]: r for r in _json(cli, "participant", "list")}
    assert (rows["Lantau Metals Ltd"]["kyc_until"], rows["Lantau Metals Ltd"]["active"]) == (until.isoformat(), False)

    ledger.update_participant(acct("operator"), acct("dev9").address, kyc_until=until + dt.timedelta(days=365))
    index(indexed.settings)
    rows = {r["name"]: r for r in _json(cli, "participant", "list")}
    assert rows["Lantau Metals Ltd"]["active"] is True


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (
            ["invoice", "list", "--status", "Bogus"],
            "unknown status 'Bogus'; use one of Issued, Confirmed, Financed, PartiallyPaid, Paid, Cancelled, Split, "
            "Disputed, Defaulted, WrittenOff (comma-separated)",
            2,
        ),
        (
            ["invoice", "list", "--due-before", "31/01/2099"],
            "invalid due date '31/01/2099': use YYYY-MM-DD, for example 2027-01-31",
            2,
        ),
        (
            ["invoice", "list", "--supplier", "Nobody Ltd"],
            "unknown supplier 'Nobody Ltd': no participant or local account has that name; give a registered name, an "
            "account name or an address (see `scf participant list`)",
            2,
        ),
        (
            ["invoice", "list", "--holder", "0x1234"],
            "invalid holder address '0x1234': expected 0x and 40 hex digits",
            2,
        ),
        (
            ["invoice", "list", "--as-of-block", "999999"],
            "block 999999 is not indexed yet (indexed up to block {end}); run `scf index sync` or pick a lower block",
            2,
        ),
        (
            ["invoice", "history", "99"],
            "invoice 99 does not exist in the indexed ledger (indexed up to block {end}); see `scf invoice list`, "
            "or run `scf index sync` if it is new",
            2,
        ),
        (
            ["invoice", "show", "2", "--as-of-block", "1"],
            "invoice 2 does not exist at block 1; see `scf invoice list`",
            2,
        ),
        (["invoice", "list", "--csv", "--json"], "--json and --csv cannot be combined; choose one", 2),
    ],
)
def test_queries_bad_input_is_one_line_with_what_to_do(
    cli: Any, scenario: Scenario, args: list[str], message: str, code: int
) -> None:
    result = cli(*args)
    assert result.exit_code == code, result.output
    assert result.output == f"Error: {message.format(end=scenario.end)}\n"


def test_queries_empty_database_says_to_sync(home_copy: Any, db_url: str) -> None:
    result = CliRunner().invoke(main, ["--home", str(home_copy.home), "--db-url", db_url, "invoice", "list"])
    assert result.exit_code == 3, result.output
    if db_url.startswith("sqlite:///"):
        # A reader never creates the SQLite file (a typo must not look like an empty ledger).
        path = db_url.removeprefix("sqlite:///")
        assert result.output == (
            f"Error: no ledger database at {path}; check --home / --db-url, or run `scf index sync` to create it\n"
        )
    else:
        assert result.output == "Error: nothing is indexed in the ledger database yet; run `scf index sync`\n"


@pytest.mark.parametrize(
    "args",
    [
        ["invoice", "list", "--csv", "--json"],
        ["invoice", "list", "--json", "--csv"],
        ["report", "aging", "--csv", "--json"],
    ],
)
def test_json_and_csv_together_are_refused_before_the_database_is_opened(tmp_path: Path, args: list[str]) -> None:
    missing = tmp_path / "typo.db"
    result = CliRunner().invoke(main, ["--home", str(tmp_path / "home"), "--db-url", f"sqlite:///{missing}", *args])

    assert result.exit_code == 2, result.output
    assert result.output == "Error: --json and --csv cannot be combined; choose one\n"


def test_queries_do_not_import_web3(indexed: Any, scenario: Scenario) -> None:
    """The read-only commands never import web3 (it costs ~0.7 s a start)."""
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
        "SCF_RPC_URL": "http://127.0.0.1:9",
    }
    for args in (
        ["invoice", "list", "--json"],
        ["invoice", "history", "1", "--csv"],
        ["invoice", "show", "1", "--as-of-block", str(scenario.confirmed), "--json"],
        ["participant", "list"],
        ["invoice", "list", "--as-of-block", str(scenario.confirmed)],
        ["invoice", "list", "--holder", "financier"],
    ):
        done = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert "WEB3 False" in done.stderr, (args, done.stderr)


def test_queries_status_and_role_constants_mirror_the_chain_module() -> None:
    from ledger import names, queries
    from ledger.evm import chain

    assert queries.STATUS_NAMES == chain.STATUS_NAMES
    assert queries.ROLE_BITS is names.ROLE_BITS


def test_queries_list_filters_by_invoice_number_in_any_spelling(cli: Any, scenario: Scenario) -> None:
    """--number matches the normal form, as the contract's identity does."""
    for spelling in ("INV-Q-1", "inv q 0001", "ＩＮＶ－Ｑ－１", "I/N/V/Q/01"):
        assert _ids(cli, "--number", spelling) == [1], spelling
    assert _ids(cli, "--number", "INV-Q-4", "--status", "Paid") == [4]
    assert _ids(cli, "--number", "INV-Q-4", "--status", "Confirmed") == []
    assert _ids(cli, "--number", "INV-Q-5") == []
    assert _ids(cli, "--number", "inv-q-2", "--as-of-block", str(scenario.confirmed)) == [], "not issued yet"
    assert _ids(cli, "--number", "inv-q-1", "--as-of-block", str(scenario.confirmed)) == [1]
    assert _ids(cli, "--number", "INVQ3", "--supplier", SUPPLIER2) == [3]
    assert _ids(cli, "--number", "INVQ3", "--supplier", SUPPLIER) == []


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("--/ .", "it needs at least one letter, digit or non-ASCII character"),
        ("INV\t1", "it contains a control character"),
        ("X" * 65, "it is 65 bytes long; the limit is 64"),
    ],
)
def test_queries_list_refuses_an_invalid_number_in_one_line(cli: Any, number: str, reason: str) -> None:
    result = cli("invoice", "list", "--number", number)
    assert result.exit_code == 2, result.output
    assert result.output == f"Error: invalid invoice number {number!r}: {reason}\n"


def test_queries_reserve_released_and_a_renamed_buyer(cli: Any, indexed: Any, ledger: Any, acct: Any) -> None:
    """A payment beyond what the financier is still due releases part of the
    seller's reserve (InvoiceRepaid, then ReserveReleased); a renamed buyer
    is named as it was at each event of the history, and the rename shows."""
    buyer = _json(cli, "invoice", "show", "1", "--as-of-block", str(ledger.w3.eth.block_number))["buyer"]
    renamed = ledger.update_participant(acct("operator"), buyer["address"], name="Tsuen Wan Holdings Ltd")
    # Open 99,999.90, of which the financier is still due 93,749.90: 1,250.10 of the reserve is released.
    ledger.repay(acct("buyer"), 1, "95000.00")
    index(indexed.settings)

    (one,) = _json(cli, "invoice", "list", "--number", "INV-Q-1")
    assert (one["status"], one["paid"], one["outstanding"]) == ("PartiallyPaid", "120000.10", "4999.90")
    assert (one["financier_due"], one["financier_paid"], one["reserve_open"], one["reserve_released"]) == (
        "118750.00",
        "118750.00",
        "4999.90",
        "1250.10",
    )
    assert one["buyer"]["name"] == "Tsuen Wan Holdings Ltd"

    events = _json(cli, "invoice", "history", "1")
    assert [e["event"] for e in events][-4:] == [
        "InvoiceRepaid",
        "ParticipantRenamed",
        "InvoiceRepaid",
        "ReserveReleased",
    ]
    assert events[1]["details"].endswith(f"by {SUPPLIER} to {BUYER}: HKD 125,000.00 due 2099-01-31"), "as it was"
    assert events[-3]["details"] == f"{BUYER} renamed to Tsuen Wan Holdings Ltd"
    assert events[-3]["block"] == renamed["block"] and events[-3]["amount"] is None
    assert events[-2]["details"] == (
        f"repaid HKD 95,000.00 by Tsuen Wan Holdings Ltd to {FINANCIER}, HKD 93,749.90 of it "
        "(total paid HKD 120,000.10)"
    )
    assert events[-1]["details"] == f"reserve HKD 1,250.10 released to the seller {SUPPLIER}"
    assert events[-1]["amount"] == "1250.10"
    assert events[-1]["tx_hash"] == events[-2]["tx_hash"]

    names = {r["name"] for r in _json(cli, "participant", "list")}
    assert "Tsuen Wan Holdings Ltd" in names and BUYER not in names
    assert _ids(cli, "--buyer", "Tsuen Wan Holdings Ltd") == [1, 3, 4]


def _raw_tx(ledger: Any, sender: Any, data: str, to: str | None = None) -> int:
    """Send ``data`` to the invoice contract from an unlocked dev account; the block it was mined in."""
    tx = ledger.w3.eth.send_transaction(
        {"from": sender.address, "to": to or ledger.invoices.address, "data": data, "gas": 1_000_000}
    )
    receipt = ledger.w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 1, receipt
    return int(receipt["blockNumber"])


def test_queries_and_verify_survive_times_past_year_9999(
    cli: Any, indexed: Any, ledger: Any, acct: Any, scenario: Scenario
) -> None:
    """An operator may allow any tenor (setMaxTenor), and a listing may run to
    the end of uint64 time: such times are beyond Python's datetime. They are
    stored clamped, shown as numbers where shown, and never crash a command."""
    end = 2**64 - 1
    ledger.sender.transact(ledger.invoices.functions.setMaxTenor(end), acct("operator"))
    currency = ledger.deployment.currency("HKD").address
    buyer = acct("buyer").address
    ledger.sender.transact(
        ledger.invoices.functions.issue(buyer, "INV-FAR", 100, currency, end, b"\0" * 32), acct("supplier")
    )
    ledger.confirm(acct("buyer"), 5)
    ledger.sender.transact(
        ledger.invoices.functions.offerForFinancing(5, "0x" + "00" * 20, 50, end, False), acct("supplier")
    )
    index(indexed.settings)

    rows = {r["invoice_id"]: r for r in _json(cli, "invoice", "list")}
    assert rows[5]["due"] == "9999-12-31" and rows[5]["number"] == "INV-FAR"
    block = str(ledger.w3.eth.block_number)
    shown = _json(cli, "invoice", "show", "5", "--as-of-block", block)
    assert (shown["due"], shown["status"]) == ("9999-12-31", "Confirmed")
    assert cli("invoice", "show", "5", "--as-of-block", block).exit_code == 0
    history = _json(cli, "invoice", "history", "5")
    assert history[1]["details"].endswith(f"due unix time {end} (after 9999-12-31)")
    assert history[3]["details"].endswith(f"until unix time {end} (after 9999-12-31)")
    for args in (
        ["invoice", "list"],
        ["invoice", "list", "--csv"],
        ["invoice", "history", "5"],
        ["invoice", "list", "--as-of-block", block, "--due-before", "9999-12-31"],
    ):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.output)
    verified = cli("verify")
    assert verified.exit_code == 0, verified.output
    assert verified.output.startswith("verified: the database matches the contracts (5 invoices,")


@pytest.mark.parametrize(
    "args",
    [
        ["invoice", "history", str(2**63)],
        ["invoice", "history", str(2**256 - 1)],
        ["invoice", "show", str(2**64), "--as-of-block", "1"],
    ],
)
def test_queries_ids_past_64_bits_are_not_in_the_ledger(cli: Any, scenario: Scenario, args: list[str]) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"Error: invoice {args[2]} ") and result.output.count("\n") == 1


def test_queries_ids_past_uint256_are_bad_input(cli: Any, scenario: Scenario) -> None:
    """No contract id is above 2^256-1: such a number is refused as bad input before any lookup."""
    result = cli("invoice", "history", str(2**256))
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: Invalid value for 'ID': ") and result.output.count("\n") == 1


def test_queries_huge_limit_is_all(cli: Any) -> None:
    assert _ids(cli, "--limit", str(2**64)) == [1, 2, 3, 4]
