"""ERP intake through the `scf` command line (issue 15): `scf invoice import`
of an export in batches (and again, after which nothing is sent twice),
`invoice approve` of a buyer's payables file, `invoice sign-confirmation`
and `invoice confirm --signatures` (signed offline, sent by anyone), and
`invoice confirm ID...` in one transaction. A bad file exits 2 with every
bad line named at once and nothing sent; the chain head, the database and
the data directory stay as they were. The new commands' bad input is a table
at the end, checked as tests/cli/test_bad_input_table.py checks its own."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from eth_utils import keccak
from support.bad_input import db_digest, home_digest
from support.cli import SUPPLIER, chain_head, cli_issue
from web3 import Web3

BUYER = "Tsuen Wan Electronics Ltd"
BUYER_ADDRESS = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
EXPORT = "number,buyer,amount,due_date\n"
PAYABLES = "supplier,number,amount,due_date\n"
RESULT = ["line", "number", "status", "invoice_id", "tx_hash", "block", "note"]
CONFIRMED_TOPIC = "0x" + keccak(text="InvoiceConfirmed(uint256,address)").hex()
DOWN = "http://127.0.0.1:9"  # the discard port: nothing listens there


# -- helpers ---------------------------------------------------------------------------------
def _ok(result: Any) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    assert "Traceback" not in result.output, result.output
    return str(result.stdout)


def _json(result: Any) -> Any:
    return json.loads(_ok(result))


def _file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _result(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == RESULT
        return list(reader)


def _status(cli: Any, invoice_id: int) -> str:
    return str(_json(cli("invoice", "show", str(invoice_id), "--json"))["status"])


def _statuses(cli: Any, *ids: int) -> list[str]:
    return [_status(cli, i) for i in ids]


def _refused_with_lines(result: Any, code: int, message: str) -> None:
    """Exit ``code`` with exactly ``message`` (its lines kept) on stderr, nothing on stdout, no traceback."""
    shown = f"exit {result.exit_code}: {result.output!r}"
    assert result.exit_code == code, shown
    assert "Traceback" not in result.output, shown
    assert result.stdout == "", shown
    assert result.stderr == f"Error: {message}\n", shown


def _db(home_copy: Any) -> dict[str, str]:
    path = home_copy.home / "ledger.db"
    assert path.exists()
    return db_digest(f"sqlite:///{path}")


def _export(tmp_path: Path, count: int, name: str = "march.csv") -> Path:
    """``count`` good rows INV-001... to the buyer, amounts 1001.50..., due 2099."""
    rows = "".join(f"INV-{i:03d},{BUYER},{1000 + i}.50,2099-{1 + i % 12:02d}-15\n" for i in range(1, count + 1))
    return _file(tmp_path / name, EXPORT + rows)


# -- import ----------------------------------------------------------------------------------
def test_cli_intake_import_issues_every_row_in_batches_then_nothing_twice(cli, home_copy, tmp_path):
    export = _export(tmp_path, 25)
    out = tmp_path / "result.csv"
    head = chain_head(home_copy)
    run = _json(cli("invoice", "import", str(export), "--as", "supplier", "--batch-size", "10", "--result", str(out),
                    "--json"))  # fmt: skip
    assert run == {
        "file": str(export),
        "rows": 25,
        "issued": 25,
        "already_issued": 0,
        "bad": 0,
        "failed": 0,
        "transactions": 3,
        "result": str(out),
        "bad_rows": [],
        "notes": [],
    }
    assert chain_head(home_copy) == head + 3
    rows = _result(out)
    assert [(r["line"], r["number"], r["status"], r["invoice_id"], r["note"]) for r in rows] == [
        (str(i + 1), f"INV-{i:03d}", "issued", str(i), "") for i in range(1, 26)
    ]
    batches = [[r["tx_hash"] for r in rows[i : i + 10]] for i in (0, 10, 20)]
    assert [len(set(b)) for b in batches] == [1, 1, 1]
    assert len({b[0] for b in batches}) == 3
    assert [int(r["block"]) for r in rows[::10]] == [head + 1, head + 2, head + 3]

    listed = _json(cli("invoice", "list", "--json"))  # the database, after the default sync
    assert [(i["invoice_id"], i["number"], i["status"], i["amount"], i["buyer"]["name"]) for i in listed] == [
        (i, f"INV-{i:03d}", "Issued", f"{1000 + i}.50", BUYER) for i in range(1, 26)
    ]
    assert listed[11]["due"] == "2099-01-15" and listed[0]["supplier"]["name"] == SUPPLIER

    again_out = tmp_path / "again.csv"
    head = chain_head(home_copy)
    again = cli("invoice", "import", str(export), "--as", "supplier", "--result", str(again_out))
    assert _ok(again) == f"{export}: 25 rows: 25 already issued\nresult: {again_out}\n"
    assert chain_head(home_copy) == head
    assert [(r["status"], r["invoice_id"], r["tx_hash"], r["note"]) for r in _result(again_out)] == [
        ("already issued", r["invoice_id"], r["tx_hash"], "") for r in rows
    ]


def test_cli_intake_import_with_bad_rows_names_every_line_and_sends_nothing(cli, home_copy, tmp_path):
    cli_issue(cli, number="INV-CLI-1")  # a database to compare (the issue syncs it)
    export = _file(
        tmp_path / "bad.csv",
        EXPORT
        + f"A-1,{BUYER},100.00,2099-01-31\n"  # 2: good
        + "A-2,Harbour Trade Finance Ltd,100.00,2099-01-31\n"  # 3: not a buyer
        + "A-3,supplier,100.00,2020-01-31\n"  # 4: itself, and past due
        + "A-4,buyer,100.00,2200-01-31\n"  # 5: beyond the longest tenor
        + "A-5,buyer,1.001,31/01/2099\n"  # 6: two reasons
        + "a 1,buyer2,5.00,2099-03-31\n"  # 7: line 2's number in another spelling
        + "A-7,Nobody Ltd,5.00,2099-03-31\n"  # 8
        + "A-8,buyer2,5.00,2099-03-31\n"  # 9: good
        + f"A-9,buyer2,{10**28}.00,2099-03-31\n",  # 10: above the contract's uint96
    )
    out = tmp_path / "result.csv"
    head, tables, files = chain_head(home_copy), _db(home_copy), home_digest(home_copy.home)
    result = cli("invoice", "import", str(export), "--as", "supplier", "--result", str(out))
    _refused_with_lines(
        result,
        2,
        f"{export} has 7 bad rows; nothing was sent (fix them, or --skip-bad to issue the rest):\n"
        "  line 3: Harbour Trade Finance Ltd is not an active buyer (see `scf participant list`)\n"
        "  line 4: the buyer is the supplier itself; due date 2020-01-31 has passed\n"
        "  line 5: due date 2200-01-31 is more than the longest tenor (36525 days) away\n"
        "  line 6: invalid amount '1.001': at most 2 decimal places for this currency; "
        "invalid due date '31/01/2099': use YYYY-MM-DD, for example 2027-01-31\n"
        "  line 7: invoice number 'a 1' repeats line 2 (same number once normalised)\n"
        "  line 8: unknown participant 'Nobody Ltd': no participant or local account has that name; "
        "give a registered name, an account name or an address (see `scf participant list`)\n"
        f"  line 10: amount {10**30} minor units is above the contract's limit",
    )
    assert (chain_head(home_copy), _db(home_copy), home_digest(home_copy.home)) == (head, tables, files)
    rows = _result(out)  # every row, in line order, with why
    assert [(r["line"], r["status"], r["invoice_id"], r["tx_hash"]) for r in rows if r["status"] != "bad"] == [
        ("2", "not sent", "", ""),
        ("9", "not sent", "", ""),
    ]
    assert [(r["line"], r["note"][:30]) for r in rows if r["status"] == "bad"] == [
        ("3", "Harbour Trade Finance Ltd is n"),
        ("4", "the buyer is the supplier itse"),
        ("5", "due date 2200-01-31 is more th"),
        ("6", "invalid amount '1.001': at mos"),
        ("7", "invoice number 'a 1' repeats l"),
        ("8", "unknown participant 'Nobody Lt"),
        ("10", f"amount {10**30} minor units is"[:30]),
    ]

    skipped = cli("invoice", "import", str(export), "--as", "supplier", "--skip-bad", "--result", str(out))
    text = _ok(skipped)
    assert text.startswith(f"{export}: 9 rows: 2 issued, 7 bad (skipped)\n1 transaction\n  line 3: Harbour"), text
    assert [f"  line {n}: " in text for n in (3, 4, 5, 6, 7, 8, 10)] == [True] * 7
    assert chain_head(home_copy) == head + 1
    assert [(r["line"], r["number"], r["status"], r["invoice_id"]) for r in _result(out) if r["status"] != "bad"] == [
        ("2", "A-1", "issued", "2"),
        ("9", "A-8", "issued", "3"),
    ]
    assert _statuses(cli, 2, 3) == ["Issued", "Issued"]


def test_cli_intake_import_names_the_first_50_bad_rows_and_keeps_all_in_the_result(cli, home_copy, tmp_path):
    export = _file(
        tmp_path / "many.csv",
        EXPORT + f"OK-1,{BUYER},1.00,2099-01-31\n" + "".join(f"B-{i},{BUYER},x,2099-01-31\n" for i in range(260)),
    )
    out = tmp_path / "result.csv"
    result = cli("invoice", "import", str(export), "--as", "supplier", "--result", str(out))
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert (
        lines[0] == f"Error: {export} has 260 bad rows; nothing was sent (fix them, or --skip-bad to issue the rest):"
    )
    assert lines[1] == "  line 3: invalid amount 'x': use a positive decimal number such as 125000.00"
    assert lines[50].startswith("  line 52: ") and lines[51:] == ["  ... and 210 more"]
    rows = _result(out)
    assert len(rows) == 261 and [r["line"] for r in rows] == [str(n) for n in range(2, 263)]
    assert sum(r["status"] == "bad" for r in rows) == 260


def test_cli_intake_import_finds_numbers_issued_by_hand_in_another_spelling(cli, home_copy, tmp_path):
    first = cli_issue(cli, number="INV-CLI-1")  # HKD 125,000.00 due 2099-01-31
    second = cli_issue(cli, number="INV-CLI-2")
    export = _file(
        tmp_path / "e.csv",
        EXPORT
        + f"inv cli 0001,{BUYER},125000.00,2099-01-31\n"  # the same invoice
        + f"ＩＮＶ－ＣＬＩ－２,{BUYER},125000.01,2099-02-01\n"  # the same number, other terms
        + f"INV-CLI-3,{BUYER},3.00,2099-01-31\n",
    )
    out = tmp_path / "result.csv"
    text = _ok(cli("invoice", "import", str(export), "--as", "supplier", "--result", str(out)))
    assert text == (
        f"{export}: 3 rows: 1 issued, 2 already issued\n1 transaction\n"
        "  line 3: already issued: the file differs: HKD 125,000.00 on chain; due 2099-01-31 on chain\n"
        f"result: {out}\n"
    )
    assert [(r["status"], r["invoice_id"], r["note"]) for r in _result(out)] == [
        ("already issued", str(first), ""),
        ("already issued", str(second), "the file differs: HKD 125,000.00 on chain; due 2099-01-31 on chain"),
        ("issued", str(second + 1), ""),
    ]
    shown = _json(cli("invoice", "show", str(second), "--json"))
    assert (shown["amount"], shown["due"]) == ("125000.00", "2099-01-31")  # the chain keeps its terms


def test_cli_intake_import_reads_json_lines_with_exact_amounts(cli, home_copy, tmp_path):
    export = _file(
        tmp_path / "march.jsonl",
        '{"number": "J-1", "buyer": "buyer", "amount": 0.1, "due_date": "2099-01-31"}\n'
        "\n"
        '{"number": "J-2", "buyer": "buyer2", "amount": 12345678901234567.89, "due_date": "2099-02-28",'
        ' "currency": "HKD"}\n'
        '{"number": 3, "buyer": "buyer", "amount": 125000, "due_date": "2099-03-31", "document": null}\n',
    )
    run = _json(cli("invoice", "import", str(export), "--as", "supplier", "--json"))
    assert (run["rows"], run["issued"], run["bad"], run["transactions"]) == (3, 3, 0, 1)
    listed = _json(cli("invoice", "list", "--json"))
    assert [(i["number"], i["amount"], i["buyer"]["name"]) for i in listed] == [
        ("J-1", "0.10", BUYER),
        ("J-2", "12345678901234567.89", "Kwai Chung Logistics Ltd"),
        ("3", "125000.00", BUYER),
    ]


def test_cli_intake_import_reads_documents_relative_to_the_file(cli, home_copy, tmp_path, monkeypatch):
    folder = tmp_path / "exports"
    (folder / "pdf").mkdir(parents=True)
    (folder / "pdf" / "inv-1.pdf").write_bytes(b"%PDF-1.7 invoice 1")
    monkeypatch.chdir(tmp_path)  # not the file's folder
    _file(
        folder / "e.csv",
        "number,buyer,amount,due_date,document\n"
        f"D-1,{BUYER},1.00,2099-01-31,pdf/inv-1.pdf\n"
        f"D-2,{BUYER},1.00,2099-01-31,0x{'ab' * 32}\n"
        f"D-3,{BUYER},1.00,2099-01-31,\n",
    )
    _ok(cli("invoice", "import", "exports/e.csv", "--as", "supplier"))
    assert [i["document_hash"] for i in _json(cli("invoice", "list", "--json"))] == [
        "0x" + hashlib.sha256(b"%PDF-1.7 invoice 1").hexdigest(),
        "0x" + "ab" * 32,
        "0x" + "00" * 32,
    ]
    missing = _file(folder / "m.csv", "number,buyer,amount,due_date,document\n" + f"D-4,{BUYER},1,2099-01-31,x.pdf\n")
    _refused_with_lines(
        cli("invoice", "import", str(missing), "--as", "supplier"),
        2,
        f"{missing} has 1 bad row; nothing was sent (fix them, or --skip-bad to issue the rest):\n"
        "  line 2: cannot read document x.pdf (No such file or directory); "
        "give a readable path or 0x and 64 hex digits",
    )


def test_cli_intake_import_as_a_suspended_supplier_sends_nothing(cli, home_copy, tmp_path):
    _ok(cli("participant", "suspend", "supplier"))
    head = chain_head(home_copy)
    result = cli("invoice", "import", str(_export(tmp_path, 2)), "--as", "supplier")
    assert (result.exit_code, result.stdout, chain_head(home_copy)) == (1, "", head), result.output
    assert result.stderr == (
        "Error: participant Kowloon Precision Parts Ltd (0x70997970C51812dc3A010C7d01b50e0d17dc79C8) is suspended\n"
    )


def test_cli_intake_import_an_unwritable_result_file_is_refused_before_sending(cli, home_copy, tmp_path):
    export = _export(tmp_path, 3)
    out = tmp_path / "no-such-folder" / "result.csv"
    head = chain_head(home_copy)
    result = cli("invoice", "import", str(export), "--as", "supplier", "--result", str(out))
    assert (result.exit_code, chain_head(home_copy)) == (2, head), result.output


# -- approve ---------------------------------------------------------------------------------
def test_cli_intake_approve_confirms_only_exact_matches(cli, home_copy, tmp_path):
    export = _file(
        tmp_path / "issued.csv",
        EXPORT
        + "".join(
            f"{n},{BUYER},{a},{d}\n"
            for n, a, d in [
                ("E-1", "100.00", "2099-01-31"),
                ("E-2", "200.00", "2099-02-28"),
                ("D-1", "300.00", "2099-03-31"),
                ("D-2", "400.00", "2099-04-30"),
                ("C-1", "500.00", "2099-05-31"),
                ("X-1", "600.00", "2099-06-30"),
                ("K-1", "700.00", "2099-07-31"),
            ]
        ),
    )
    _ok(cli("invoice", "import", str(export), "--as", "supplier"))
    _ok(cli("invoice", "confirm", "5", "--as", "buyer"))
    _ok(cli("invoice", "confirm", "6", "--as", "buyer"))
    _ok(cli("invoice", "dispute", "6", "--reason", "short delivery", "--as", "buyer"))
    _ok(cli("invoice", "cancel", "7", "--as", "supplier"))
    payables = _file(
        tmp_path / "approved.csv",
        PAYABLES
        + f"{SUPPLIER},e 1,100.00,2099-01-31\n"  # 2: exact, in another spelling
        + "supplier,E-2,200,2099-02-28\n"  # 3: exact
        + "supplier,D-1,300.01,2099-03-31\n"  # 4: a cent more
        + "supplier,D-2,400.00,2099-05-01\n"  # 5: a day later
        + "supplier,U-1,1.00,2099-01-31\n"  # 6: no such number
        + "supplier,C-1,500.00,2099-05-31\n"  # 7: confirmed already
        + "supplier,X-1,600.00,2099-06-30\n"  # 8: disputed
        + "supplier,K-1,700.00,2099-07-31\n"  # 9: cancelled
        + "supplier2,E-1,100.00,2099-01-31\n",  # 10: another supplier's number
    )
    out = tmp_path / "result.csv"
    head = chain_head(home_copy)
    text = _ok(cli("invoice", "approve", str(payables), "--as", "buyer", "--result", str(out)))
    lines = text.splitlines()
    assert lines[:2] == [
        f"{payables}: 9 rows: 2 confirmed, 1 already confirmed, 2 mismatched, 2 unknown, 1 disputed, 1 cancelled",
        "1 transaction",
    ]
    # Each row not confirmed says why (the first 20; all are in the result file).
    assert lines[2:5] == [
        "  line 4: mismatch: HKD 300.00 on chain, HKD 300.01 approved",
        "  line 5: mismatch: due 2099-04-30 on chain, 2099-05-01 approved",
        "  line 6: unknown: no invoice 'U-1' of Kowloon Precision Parts Ltd is addressed to you",
    ]
    assert lines[-1] == f"result: {out}"
    assert chain_head(home_copy) == head + 1
    assert _statuses(cli, *range(1, 8)) == [
        "Confirmed",
        "Confirmed",
        "Issued",
        "Issued",
        "Confirmed",
        "Disputed",
        "Cancelled",
    ]
    rows = _result(out)
    assert [(r["line"], r["number"], r["status"], r["invoice_id"], r["note"]) for r in rows] == [
        ("2", "e 1", "confirmed", "1", ""),
        ("3", "E-2", "confirmed", "2", ""),
        ("4", "D-1", "mismatch", "3", "HKD 300.00 on chain, HKD 300.01 approved"),
        ("5", "D-2", "mismatch", "4", "due 2099-04-30 on chain, 2099-05-01 approved"),
        ("6", "U-1", "unknown", "", f"no invoice 'U-1' of {SUPPLIER} is addressed to you"),
        ("7", "C-1", "already confirmed", "5", "invoice 5 is Confirmed"),
        ("8", "X-1", "disputed", "6", "invoice 6 is Disputed"),
        ("9", "K-1", "cancelled", "7", "invoice 7 is Cancelled"),
        ("10", "E-1", "unknown", "", "no invoice 'E-1' of Sham Shui Po Textiles Ltd is addressed to you"),
    ]
    assert rows[0]["tx_hash"] == rows[1]["tx_hash"] != "" and rows[0]["block"] == str(head + 1)

    head = chain_head(home_copy)
    again = _json(cli("invoice", "approve", str(payables), "--as", "buyer", "--json"))
    assert again == {
        "file": str(payables),
        "rows": 9,
        "confirmed": 0,
        "already_confirmed": 3,
        "mismatch": 2,
        "unknown": 2,
        "disputed": 1,
        "cancelled": 1,
        "bad": 0,
        "failed": 0,
        "transactions": 0,
        "result": None,
        "bad_rows": [],
        "notes": again["notes"],
    }
    assert (
        len(again["notes"]) == 6 and again["notes"][0] == "line 4: mismatch: HKD 300.00 on chain, HKD 300.01 approved"
    )
    assert chain_head(home_copy) == head


def test_cli_intake_approve_with_bad_rows_confirms_nothing(cli, home_copy, tmp_path):
    cli_issue(cli, number="E-1", amount="100.00")
    payables = _file(
        tmp_path / "approved.csv",
        PAYABLES + "supplier,E-1,100.00,2099-01-31\nNobody Ltd,E-2,1,2099-01-31\nsupplier,e 1,100.00,2099-01-31\n",
    )
    head = chain_head(home_copy)
    _refused_with_lines(
        cli("invoice", "approve", str(payables), "--as", "buyer"),
        2,
        f"{payables} has 1 bad row; nothing was confirmed (fix them, or --skip-bad):\n"
        "  line 4: 'e 1' of this supplier repeats line 2",
    )
    assert (chain_head(home_copy), _status(cli, 1)) == (head, "Issued")
    text = _ok(cli("invoice", "approve", str(payables), "--as", "buyer", "--skip-bad"))
    # A supplier the network does not know is not a bad file: the row is reported as unknown.
    assert text.startswith(f"{payables}: 3 rows: 1 confirmed, 1 unknown, 1 bad (skipped)\n"), text
    assert "  line 3: unknown: no participant is named 'Nobody Ltd': no invoice of theirs is on chain" in text
    assert _status(cli, 1) == "Confirmed"


# -- signed confirmations ---------------------------------------------------------------------
def test_cli_intake_signed_confirmations_are_sent_by_anyone_once(cli, home_copy, tmp_path):
    _ok(cli("invoice", "import", str(_export(tmp_path, 3)), "--as", "supplier"))
    signed = tmp_path / "signed.jsonl"
    head = chain_head(home_copy)
    made = _json(cli("invoice", "sign-confirmation", "1", "2", "--as", "buyer", "--out", str(signed), "--json"))
    assert chain_head(home_copy) == head  # signing sends nothing
    assert (made["signed"], made["file"], made["buyer"], made["chain_id"]) == (
        2,
        str(signed),
        {"address": BUYER_ADDRESS, "name": BUYER},
        31337,
    )
    records = [json.loads(line) for line in signed.read_text().splitlines()]
    assert [(r["invoice_id"], r["number"], r["amount"], r["buyer"]) for r in records] == [
        (1, "INV-001", "100150", BUYER_ADDRESS),
        (2, "INV-002", "100250", BUYER_ADDRESS),
    ]

    out = tmp_path / "result.csv"
    run = _json(cli("invoice", "confirm", "--signatures", str(signed), "--as", "financier", "--result", str(out),
                    "--json"))  # fmt: skip
    assert (run["rows"], run["confirmed"], run["transactions"]) == (2, 1 + 1, 1)
    assert chain_head(home_copy) == head + 1
    assert _statuses(cli, 1, 2, 3) == ["Confirmed", "Confirmed", "Issued"]
    rows = _result(out)
    assert [(r["line"], r["number"], r["status"], r["invoice_id"]) for r in rows] == [
        ("1", "INV-001", "confirmed", "1"),
        ("2", "INV-002", "confirmed", "2"),
    ]
    receipt = Web3(Web3.HTTPProvider(home_copy.rpc_url)).eth.get_transaction_receipt(rows[0]["tx_hash"])
    confirmed = [log for log in receipt["logs"] if "0x" + log["topics"][0].hex().removeprefix("0x") == CONFIRMED_TOPIC]
    assert [int(log["topics"][1].hex(), 16) for log in confirmed] == [1, 2]
    assert {"0x" + log["topics"][2].hex()[-40:].lower() for log in confirmed} == {BUYER_ADDRESS.lower()}

    head = chain_head(home_copy)
    text = _ok(cli("invoice", "confirm", "--signatures", str(signed), "--as", "financier", "--result", str(out)))
    assert text == (
        f"{signed}: 2 rows: 2 skipped\n"
        "  line 1: skipped: invoice 1 is Confirmed, not Issued\n"
        "  line 2: skipped: invoice 2 is Confirmed, not Issued\n"
        f"result: {out}\n"
    )
    assert chain_head(home_copy) == head
    assert [(r["status"], r["note"]) for r in _result(out)] == [
        ("skipped", "invoice 1 is Confirmed, not Issued"),
        ("skipped", "invoice 2 is Confirmed, not Issued"),
    ]


def test_cli_intake_submit_says_why_a_signature_was_skipped(cli, home_copy, tmp_path):
    _ok(cli("invoice", "import", str(_export(tmp_path, 1)), "--as", "supplier"))
    signed = tmp_path / "signed.jsonl"
    _ok(cli("invoice", "sign-confirmation", "1", "--as", "buyer", "--out", str(signed)))
    _ok(cli("invoice", "confirm", "1", "--as", "buyer"))
    text = _ok(cli("invoice", "confirm", "--signatures", str(signed), "--as", "financier"))
    assert "invoice 1 is Confirmed, not Issued" in text


def test_cli_intake_submit_skips_what_changed_since_signing_and_sends_the_rest(cli, home_copy, tmp_path):
    _ok(cli("invoice", "import", str(_export(tmp_path, 4)), "--as", "supplier"))
    signed = tmp_path / "signed.jsonl"
    _ok(cli("invoice", "sign-confirmation", "1", "2", "3", "4", "--as", "buyer", "--out", str(signed)))
    _ok(cli("invoice", "confirm", "2", "--as", "buyer"))  # confirmed meanwhile
    _ok(cli("invoice", "cancel", "3", "--as", "supplier"))  # cancelled meanwhile
    records = [json.loads(line) for line in signed.read_text().splitlines()]
    records[3]["signature"] = records[0]["signature"]  # invoice 1's signature on invoice 4's terms
    signed.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = tmp_path / "result.csv"
    text = _ok(cli("invoice", "confirm", "--signatures", str(signed), "--as", "supplier2", "--result", str(out)))
    assert text == (
        f"{signed}: 4 rows: 1 confirmed, 3 skipped\n1 transaction\n"
        "  line 2: skipped: invoice 2 is Confirmed, not Issued\n"
        "  line 3: skipped: invoice 3 is Cancelled, not Issued\n"
        "  line 4: skipped: the signature is not the buyer's\n"
        f"result: {out}\n"
    )
    assert [(r["status"], r["invoice_id"], r["note"]) for r in _result(out)] == [
        ("confirmed", "1", ""),
        ("skipped", "2", "invoice 2 is Confirmed, not Issued"),
        ("skipped", "3", "invoice 3 is Cancelled, not Issued"),
        ("skipped", "4", "the signature is not the buyer's"),
    ]
    assert _statuses(cli, 1, 4) == ["Confirmed", "Issued"]


def test_cli_intake_submit_skips_a_suspended_buyers_signatures_and_sends_the_rest(cli, home_copy, tmp_path):
    export = _file(tmp_path / "e.csv", EXPORT + f"S-1,{BUYER},1.00,2099-01-31\nS-2,buyer2,2.00,2099-01-31\n")
    _ok(cli("invoice", "import", str(export), "--as", "supplier"))
    first, second = tmp_path / "buyer.jsonl", tmp_path / "buyer2.jsonl"
    _ok(cli("invoice", "sign-confirmation", "1", "--as", "buyer", "--out", str(first)))
    _ok(cli("invoice", "sign-confirmation", "2", "--as", "buyer2", "--out", str(second)))
    signed = _file(tmp_path / "signed.jsonl", first.read_text() + second.read_text())
    _ok(cli("participant", "suspend", "buyer"))
    out = tmp_path / "result.csv"
    result = cli("invoice", "confirm", "--signatures", str(signed), "--as", "financier", "--result", str(out))
    assert result.exit_code == 0, result.output
    assert [(r["status"], r["invoice_id"]) for r in _result(out)] == [("skipped", "1"), ("confirmed", "2")]
    assert _statuses(cli, 1, 2) == ["Issued", "Confirmed"]


def test_cli_intake_signatures_of_another_chain_are_refused(cli, home_copy, tmp_path):
    _ok(cli("invoice", "import", str(_export(tmp_path, 2)), "--as", "supplier"))
    signed = tmp_path / "signed.jsonl"
    _ok(cli("invoice", "sign-confirmation", "1", "2", "--as", "buyer", "--out", str(signed)))
    records = [json.loads(line) for line in signed.read_text().splitlines()]
    contract = records[0]["contract"]
    records[1]["chain_id"] = 1
    signed.write_text("".join(json.dumps(r) + "\n" for r in records))
    head = chain_head(home_copy)
    result = cli("invoice", "confirm", "--signatures", str(signed), "--as", "financier")
    _refused_with_lines(
        result,
        2,
        f"{signed} line 2 was signed for chain 1, contract {contract}; this deployment is chain 31337, "
        f"contract {contract}: nothing was sent",
    )
    assert (chain_head(home_copy), _statuses(cli, 1, 2)) == (head, ["Issued", "Issued"])


def test_cli_intake_an_expired_signature_is_skipped(cli, home_copy, tmp_path):
    _ok(cli("invoice", "import", str(_export(tmp_path, 1)), "--as", "supplier"))
    signed = tmp_path / "signed.jsonl"
    made = _json(cli("invoice", "sign-confirmation", "1", "--as", "buyer", "--out", str(signed), "--valid-days", "1",
                     "--json"))  # fmt: skip
    _ok(cli("node", "advance", "--days", "2"))
    head = chain_head(home_copy)
    out = tmp_path / "result.csv"
    text = _ok(cli("invoice", "confirm", "--signatures", str(signed), "--as", "financier", "--result", str(out)))
    lines = text.splitlines()
    assert (lines[0], lines[-1]) == (f"{signed}: 1 rows: 1 skipped", f"result: {out}")
    assert lines[1].startswith("  line 1: skipped: expired ") and lines[1].endswith(": ask the buyer to sign again")
    from ledger.format import date_text

    assert [(r["status"], r["note"]) for r in _result(out)] == [
        ("skipped", f"expired {date_text(dt.datetime.fromisoformat(made['deadline']))}: ask the buyer to sign again")
    ]
    assert (chain_head(home_copy), _status(cli, 1)) == (head, "Issued")


def test_cli_intake_sign_confirmation_of_a_foreign_invoice_signs_nothing(cli, home_copy, tmp_path):
    cli_issue(cli, number="INV-CLI-1")  # to the buyer, not to buyer2
    signed = tmp_path / "signed.jsonl"
    result = cli("invoice", "sign-confirmation", "1", "--as", "buyer2", "--out", str(signed))
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("Error: invoice 1 is not addressed to "), result.output
    assert result.stderr.endswith(": nothing was signed\n") and result.stderr.count("\n") == 1, result.output
    assert not signed.exists()


def test_cli_intake_sign_confirmation_names_the_buyer_and_a_missing_invoice(cli, home_copy, tmp_path):
    cli_issue(cli, number="INV-CLI-1")
    signed = str(tmp_path / "signed.jsonl")
    foreign = cli("invoice", "sign-confirmation", "1", "--as", "buyer2", "--out", signed)
    assert foreign.stderr == (
        "Error: invoice 1 is not addressed to Kwai Chung Logistics Ltd "
        "(0x976EA74026E726554dB657fA54763abd0C3a0aa9): nothing was signed\n"
    )
    missing = cli("invoice", "sign-confirmation", "999", "--as", "buyer", "--out", signed)
    assert missing.stderr == "Error: invoice 999 does not exist; see `scf invoice list`\n"


def test_cli_intake_sign_confirmation_of_a_confirmed_invoice_is_refused(cli, home_copy, tmp_path):
    cli_issue(cli, number="INV-CLI-1")
    cli_issue(cli, number="INV-CLI-2")
    _ok(cli("invoice", "confirm", "2", "--as", "buyer"))
    signed = tmp_path / "signed.jsonl"
    result = cli("invoice", "sign-confirmation", "1", "2", "--as", "buyer", "--out", str(signed))
    assert (result.exit_code, result.stdout) == (1, ""), result.output
    assert result.stderr == "Error: invoice 2 is Confirmed, not Issued: nothing was signed\n"
    assert not signed.exists()


def test_cli_intake_sign_confirmation_of_a_payables_file(cli, home_copy, tmp_path):
    _ok(cli("invoice", "import", str(_export(tmp_path, 2)), "--as", "supplier"))
    payables = _file(
        tmp_path / "approved.csv",
        PAYABLES + "supplier,inv 1,1001.50,2099-02-15\nsupplier,INV-002,1002.50,2099-03-16\n",  # the second: a day late
    )
    signed = tmp_path / "signed.jsonl"
    _ok(cli("invoice", "sign-confirmation", "--payables", str(payables), "--as", "buyer", "--out", str(signed)))
    assert [json.loads(line)["line"] for line in signed.read_text().splitlines()] == [2, 3]
    out = tmp_path / "result.csv"
    _ok(cli("invoice", "confirm", "--signatures", str(signed), "--as", "financier", "--result", str(out)))
    assert [(r["status"], r["invoice_id"], r["note"]) for r in _result(out)] == [
        ("confirmed", "1", ""),
        ("skipped", "2", "invoice 2 does not match what was signed: due 2099-03-15 on chain, 2099-03-16 signed"),
    ]
    assert _statuses(cli, 1, 2) == ["Confirmed", "Issued"]


def test_cli_intake_revoked_signatures_cannot_be_submitted(cli, home_copy, tmp_path):
    for n in (1, 2):
        cli_issue(cli, number=f"R-{n}")
    signed, first = tmp_path / "signed.jsonl", tmp_path / "first.jsonl"
    _ok(cli("invoice", "sign-confirmation", "1", "2", "--as", "buyer", "--out", str(signed)))
    first.write_text(signed.read_text().splitlines()[0] + "\n")
    _ok(cli("invoice", "confirm", "--signatures", str(first), "--as", "financier"))  # invoice 1's is used
    head = chain_head(home_copy)
    foreign = cli("invoice", "revoke-signatures", str(signed), "--as", "buyer2")
    assert (foreign.exit_code, foreign.stdout, chain_head(home_copy)) == (2, "", head), foreign.output
    assert foreign.stderr.endswith(": a buyer revokes only its own; nothing was revoked\n"), foreign.output
    revoked = _json(cli("invoice", "revoke-signatures", str(signed), "--as", "buyer", "--json"))
    assert (revoked["signatures"], revoked["revoked"], revoked["already_used"]) == (2, 1, 1)
    assert len(revoked["transactions"]) == 1 and chain_head(home_copy) == head + 1
    out = tmp_path / "result.csv"
    _ok(cli("invoice", "confirm", "--signatures", str(signed), "--as", "financier", "--result", str(out)))
    nonce = json.loads(signed.read_text().splitlines()[1])["nonce"]
    assert [(r["status"], r["note"]) for r in _result(out)] == [
        ("skipped", "invoice 1 is Confirmed, not Issued"),
        ("skipped", f"nonce {nonce} was used or revoked"),
    ]
    assert (chain_head(home_copy), _status(cli, 2)) == (head + 1, "Issued")


# -- confirm ID... in one transaction ------------------------------------------------------------
def test_cli_intake_confirm_several_ids_is_one_transaction(cli, home_copy):
    for n in (1, 2, 3):
        cli_issue(cli, number=f"INV-CLI-{n}")
    head = chain_head(home_copy)
    done = _json(cli("invoice", "confirm", "1", "2", "3", "--as", "buyer", "--json"))
    assert (done["invoice_ids"], done["status"], done["block"]) == ([1, 2, 3], "Confirmed", head + 1)
    assert chain_head(home_copy) == head + 1
    receipt = Web3(Web3.HTTPProvider(home_copy.rpc_url)).eth.get_transaction_receipt(done["tx_hash"])
    topics = [log["topics"] for log in receipt["logs"]]
    assert [int(t[1].hex(), 16) for t in topics if "0x" + t[0].hex().removeprefix("0x") == CONFIRMED_TOPIC] == [1, 2, 3]
    assert _statuses(cli, 1, 2, 3) == ["Confirmed"] * 3
    text = _ok(cli("invoice", "list", "--status", "Confirmed"))
    assert "INV-CLI-3" in text  # the default sync saw the batch


def test_cli_intake_confirm_several_ids_with_a_foreign_one_confirms_none(cli, home_copy):
    cli_issue(cli, number="INV-CLI-1")
    cli_issue(cli, number="INV-CLI-2")
    foreign = _issue_to_buyer2(cli)
    head = chain_head(home_copy)
    result = cli("invoice", "confirm", "1", "2", str(foreign), "--as", "buyer")
    assert (result.exit_code, result.stdout) == (1, ""), result.output
    assert result.stderr == (
        f"Error: {BUYER} ({BUYER_ADDRESS}) is not the buyer of invoice {foreign} "
        "(the buyer is Kwai Chung Logistics Ltd (0x976EA74026E726554dB657fA54763abd0C3a0aa9))\n"
    )
    assert chain_head(home_copy) == head
    assert _statuses(cli, 1, 2, foreign) == ["Issued"] * 3


def _issue_to_buyer2(cli: Any) -> int:
    issued = cli("invoice", "issue", "--buyer", "buyer2", "--number", "INV-CLI-B2", "--amount", "1.00",
                 "--due", "2099-01-31", "--json")  # fmt: skip
    return int(_json(issued)["invoice_id"])


# -- the new commands' bad input --------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    code: int
    says: str = ""  # a text stderr must hold ({tmp}: the folder of FILES)
    #: Bad rows the error names: a file's bad rows are each named on a line of their own under
    #: the error's one line (ledger.intake.BadRows), so a user fixes them all in one go.
    rows: int = 0


def case(name: str, code: int, *argv: str, says: str = "", rows: int = 0) -> Any:
    return pytest.param(Case(argv, code, says, rows), id=name)


GOOD = "{tmp}/good.csv"
SIGN = ("invoice", "sign-confirmation", "--as", "buyer")
#: Files each case may name ({tmp}/NAME): the same every time.
FILES = {
    "good.csv": EXPORT + f"INV-T-1,{BUYER},1.00,2099-01-31\n",
    "empty.csv": "",
    "header-only.csv": EXPORT,
    "wrong-columns.csv": "number,buyer,total,due,colour\nA,buyer,1,2099-01-31,red\n",
    "payables.csv": PAYABLES + "supplier,INV-T-1,1.00,2099-01-31\n",
    "empty.jsonl": "",
    "other-chain.jsonl": json.dumps(
        {
            "chain_id": 1,
            "contract": "0x5FC8d32690cc91D4c39d9d3abcBD16989F875707",
            "buyer": BUYER_ADDRESS,
            "supplier": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
            "number": "INV-T-1",
            "currency": "0x0165878A594ca255338adfa4d48449f69242Eb8F",
            "amount": "100",
            "due_date": 4073990399,
            "nonce": "1",
            "deadline": 4073990399,
            "signature": "0x" + "11" * 65,
        }
    )
    + "\n",
}
BINARY_FILES = {
    "utf16.csv": (EXPORT + "A,buyer,1,2099-01-31\n").encode("utf-16"),
    "latin1.csv": (EXPORT + "A,Café Ltd,1,2099-01-31\n").encode("latin-1"),
    # issue 18: what spreadsheets and ERPs write by mistake
    "bom-semicolons.csv": ("\ufeff" + EXPORT.replace(",", ";") + "A;buyer;1.00;2099-01-31\n").encode("utf-8"),
    "cp1252-quotes.csv": (EXPORT + "A,\u201cbuyer\u201d,1.00,2099-01-31\n").encode("cp1252"),
}
#: Exports with one bad row each (line 2), for `invoice import` (issue 18).
ONE_BAD_ROW = {
    "amount-three-places": "A-1,buyer,1.001,2099-01-31",
    "amount-negative": "A-1,buyer,-5.00,2099-01-31",
    "amount-zero": "A-1,buyer,0.00,2099-01-31",
    "amount-exponent": "A-1,buyer,1e5,2099-01-31",
    "amount-90-digits": f"A-1,buyer,{'9' * 90},2099-01-31",
    "due-day-first": "A-1,buyer,1.00,31/01/2099",
    "due-month-first": "A-1,buyer,1.00,01/31/2099",
    "due-with-a-time": "A-1,buyer,1.00,2099-01-31T00:00:00",
    "due-february-30": "A-1,buyer,1.00,2099-02-30",
    "due-past": "A-1,buyer,1.00,2020-01-31",
    "buyer-unknown": "A-1,Nobody Ltd,1.00,2099-01-31",
    "buyer-empty": "A-1,,1.00,2099-01-31",
    "number-500-chars": f"{'N' * 500},buyer,1.00,2099-01-31",
    "number-empty": ",buyer,1.00,2099-01-31",
    "too-few-fields": "A-1,buyer,1.00",
    "header-again": EXPORT.strip(),
}
FILES |= {f"row-{name}.csv": EXPORT + row + "\n" for name, row in ONE_BAD_ROW.items()}
FILES |= {
    "tabs.csv": EXPORT.replace(",", "\t") + "A\tbuyer\t1.00\t2099-01-31\n",
    "no-header.csv": "A-1,buyer,1.00,2099-01-31\n",
    "repeated-column.csv": "number,buyer,amount,due_date,amount\nA-1,buyer,1.00,2099-01-31,2.00\n",
    "unclosed-quote.csv": EXPORT + 'A-1,"buyer,1.00,2099-01-31\n',
    "payables-amount-negative.csv": PAYABLES + "supplier,INV-T-1,-1.00,2099-01-31\n",
    "payables-semicolons.csv": PAYABLES.replace(",", ";") + "supplier;INV-T-1;1.00;2099-01-31\n",
    # Past the 4300 digits Python's int() reads from text (a JSON parser's error, not a field's).
    "chain-id-5000-digits.jsonl": FILES["other-chain.jsonl"].replace('"chain_id": 1,', f'"chain_id": {"9" * 5000},'),
}

CASES = [
    case("import-no-file", 2, "invoice", "import", "--as", "supplier"),
    case("import-missing-file", 2, "invoice", "import", "{tmp}/no-such.csv"),
    case("import-a-directory", 2, "invoice", "import", "{tmp}"),
    case("import-unknown-option", 2, "invoice", "import", GOOD, "--bogus"),
    case("import-batch-size-zero", 2, "invoice", "import", GOOD, "--batch-size", "0"),
    case("import-batch-size-201", 2, "invoice", "import", GOOD, "--batch-size", "201"),
    case("import-batch-size-text", 2, "invoice", "import", GOOD, "--batch-size", "ten"),
    case("import-as-unknown-account", 2, "invoice", "import", GOOD, "--as", "mallory"),
    case("import-as-a-buyer", 1, "invoice", "import", GOOD, "--as", "buyer"),
    case("import-empty-file", 2, "invoice", "import", "{tmp}/empty.csv"),
    case("import-header-only", 2, "invoice", "import", "{tmp}/header-only.csv"),
    case("import-wrong-columns", 2, "invoice", "import", "{tmp}/wrong-columns.csv"),
    case("import-payables-file", 2, "invoice", "import", "{tmp}/payables.csv"),
    case("import-utf16", 2, "invoice", "import", "{tmp}/utf16.csv"),
    case("import-latin1", 2, "invoice", "import", "{tmp}/latin1.csv"),
    case("import-empty-json-lines", 2, "invoice", "import", "{tmp}/empty.jsonl"),
    case("import-node-unreachable", 3, "--rpc-url", DOWN, "invoice", "import", GOOD),
    case("approve-no-file", 2, "invoice", "approve"),
    case("approve-missing-file", 2, "invoice", "approve", "{tmp}/no-such.csv"),
    case("approve-as-a-supplier", 1, "invoice", "approve", "{tmp}/payables.csv", "--as", "supplier"),
    case("approve-an-export", 2, "invoice", "approve", GOOD),
    case("approve-empty-file", 2, "invoice", "approve", "{tmp}/empty.csv"),
    case("approve-latin1", 2, "invoice", "approve", "{tmp}/latin1.csv"),
    case("sign-nothing", 2, *SIGN, "--out", "{tmp}/s.jsonl"),
    case("sign-missing-out", 2, *SIGN, "1"),
    case("sign-id-zero", 2, *SIGN, "0", "--out", "{tmp}/s.jsonl"),
    case("sign-id-text", 2, *SIGN, "first", "--out", "{tmp}/s.jsonl"),
    case("sign-valid-days-zero", 2, *SIGN, "1", "--out", "{tmp}/s.jsonl", "--valid-days", "0"),
    case("sign-valid-days-366", 2, *SIGN, "1", "--out", "{tmp}/s.jsonl", "--valid-days", "366"),
    case("sign-valid-days-text", 2, *SIGN, "1", "--out", "{tmp}/s.jsonl", "--valid-days", "week"),
    case("sign-unknown-invoice", 2, *SIGN, "999", "--out", "{tmp}/s.jsonl"),
    case("sign-payables-missing", 2, *SIGN, "--payables", "{tmp}/no-such.csv", "--out", "{tmp}/s.jsonl"),
    case("sign-payables-wrong-columns", 2, *SIGN, "--payables", GOOD, "--out", "{tmp}/s.jsonl"),
    case("sign-payables-empty", 2, *SIGN, "--payables", "{tmp}/empty.csv", "--out", "{tmp}/s.jsonl"),
    case("sign-as-unknown-account", 2, "invoice", "sign-confirmation", "1", "--as", "mallory", "--out", "{tmp}/s"),
    case("confirm-nothing", 2, "invoice", "confirm"),
    case("confirm-ids-and-signatures", 2, "invoice", "confirm", "1", "--signatures", "{tmp}/other-chain.jsonl"),
    case("confirm-signatures-missing", 2, "invoice", "confirm", "--signatures", "{tmp}/no-such.jsonl"),
    case("confirm-signatures-empty", 2, "invoice", "confirm", "--signatures", "{tmp}/empty.jsonl"),
    case("confirm-signatures-other-chain", 2, "invoice", "confirm", "--signatures", "{tmp}/other-chain.jsonl"),
    case("confirm-signatures-utf16", 2, "invoice", "confirm", "--signatures", "{tmp}/utf16.csv"),
    case("revoke-no-file", 2, "invoice", "revoke-signatures"),
    case("revoke-missing-file", 2, "invoice", "revoke-signatures", "{tmp}/no-such.jsonl"),
    case("revoke-empty-file", 2, "invoice", "revoke-signatures", "{tmp}/empty.jsonl"),
    case("revoke-other-chain", 2, "invoice", "revoke-signatures", "{tmp}/other-chain.jsonl"),
    case("revoke-as-unknown-account", 2, "invoice", "revoke-signatures", "{tmp}/empty.jsonl", "--as", "mallory"),
    case("confirm-unknown-ids", 2, "invoice", "confirm", "999998", "999999"),
    case("confirm-id-zero-among-others", 2, "invoice", "confirm", "1", "0"),
    # issue 18: files as spreadsheets and ERPs get them wrong
    case("import-bom-and-semicolons", 2, "invoice", "import", "{tmp}/bom-semicolons.csv",
         says="unknown column 'number;buyer;amount;due_date'; the columns are number, buyer, amount, due_date"),
    case("import-tab-separated", 2, "invoice", "import", "{tmp}/tabs.csv", says="missing column number, buyer"),
    case("import-no-header", 2, "invoice", "import", "{tmp}/no-header.csv", says="unknown column 'a_1'"),
    case("import-repeated-column", 2, "invoice", "import", "{tmp}/repeated-column.csv",
         says="repeated column amount"),
    case("import-unclosed-quote", 2, "invoice", "import", "{tmp}/unclosed-quote.csv",
         says="line 2: has 2 fields, the header has 4", rows=1),
    case("import-windows-1252", 2, "invoice", "import", "{tmp}/cp1252-quotes.csv",
         says="line 2 is not UTF-8 text (byte 0x93 at column 3)"),
    *(
        case(f"import-{name}", 2, "invoice", "import", f"{{tmp}}/row-{name}.csv", says=says, rows=1)
        for name, says in [
            ("amount-three-places", "line 2: invalid amount '1.001': at most 2 decimal places"),
            ("amount-negative", "line 2: invalid amount '-5.00'"),
            ("amount-zero", "line 2: invalid amount '0.00': must be more than 0"),
            ("amount-exponent", "line 2: invalid amount '1e5'"),
            ("amount-90-digits", f"line 2: invalid amount '{'9' * 90}': use a positive decimal number"),
            ("due-day-first", "line 2: invalid due date '31/01/2099': use YYYY-MM-DD"),
            ("due-month-first", "line 2: invalid due date '01/31/2099': use YYYY-MM-DD"),
            ("due-with-a-time", "line 2: invalid due date '2099-01-31T00:00:00'"),
            ("due-february-30", "line 2: invalid due date '2099-02-30'"),
            ("due-past", "line 2: due date 2020-01-31 has passed"),
            ("buyer-unknown", "line 2: unknown participant 'Nobody Ltd'"),
            ("buyer-empty", "line 2: no buyer"),
            ("number-500-chars", "line 2: invalid invoice number 'NNN"),
            ("number-empty", "line 2: invalid invoice number ''"),
            ("too-few-fields", "line 2: has 3 fields, the header has 4"),
            ("header-again", "line 2: invalid amount 'amount': use a positive decimal number such as"),
        ]
    ),
    case("approve-bad-row", 2, "invoice", "approve", "{tmp}/payables-amount-negative.csv", "--as", "buyer",
         says="line 2: invalid amount '-1.00'", rows=1),
    case("approve-semicolons", 2, "invoice", "approve", "{tmp}/payables-semicolons.csv", "--as", "buyer",
         says="it looks separated by semicolons"),
    case("sign-payables-semicolons", 2, *SIGN, "--payables", "{tmp}/payables-semicolons.csv", "--out",
         "{tmp}/s.jsonl", says="it looks separated by semicolons"),
    case("confirm-signatures-number-5000-digits", 2, "invoice", "confirm", "--signatures",
         "{tmp}/chain-id-5000-digits.jsonl", says="line 1: is not a signed confirmation: chain_id is out of range",
         rows=1),
    case("revoke-number-5000-digits", 2, "invoice", "revoke-signatures", "{tmp}/chain-id-5000-digits.jsonl",
         says="line 1: is not a signed confirmation: chain_id is out of range", rows=1),
]  # fmt: skip


@pytest.fixture()
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "files"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    for name, data in BINARY_FILES.items():
        (folder / name).write_bytes(data)
    return folder


@pytest.mark.parametrize("bad", CASES)
def test_cli_intake_bad_input_is_one_line_and_changes_nothing(bad: Case, cli, home_copy, files: Path) -> None:
    argv = [arg.format(tmp=files) for arg in bad.argv]
    head, home, folder = chain_head(home_copy), home_digest(home_copy.home), home_digest(files)
    result = cli(*argv)
    shown = f"exit {result.exit_code}: {result.output.strip()[:400]!r}"
    assert "Traceback" not in result.output, shown
    assert result.exit_code == bad.code, shown
    assert result.stdout == "", shown
    line = result.stderr
    assert line.startswith("Error: ") and line.endswith("\n") and line.count("\n") == 1 + bad.rows, shown
    if bad.rows:  # the one line says how many rows are bad; each is named on a line below it
        first, *rows = line.splitlines()
        assert first.endswith(":") and f"has {bad.rows} bad row" in first, shown
        assert all(row.startswith("  line ") for row in rows), shown
    assert "None" not in line, shown
    assert bad.says.format(tmp=files) in line, shown
    assert chain_head(home_copy) == head, shown
    assert home_digest(home_copy.home) == home, shown  # no database made, nothing written
    assert home_digest(files) == folder, shown  # no --out or --result file left behind


def test_cli_intake_bad_input_messages(cli, home_copy, files: Path) -> None:
    """The exact one-liners of the table's file cases."""

    def error(*argv: str) -> str:
        result = cli(*[arg.format(tmp=files) for arg in argv])
        assert result.exit_code == 2, result.output
        return str(result.stderr).removeprefix("Error: ").removesuffix("\n")

    assert error("invoice", "import", "{tmp}/empty.csv") == (
        f"{files}/empty.csv is empty: give a CSV file with a header row (number, buyer, amount, due_date, ...)"
    )
    assert error("invoice", "import", "{tmp}/header-only.csv") == (
        f"{files}/header-only.csv has no rows: give a file with a header and at least one row"
    )
    assert error("invoice", "approve", GOOD) == (
        f"{files}/good.csv: missing column supplier; unknown column 'buyer'; "
        "the columns are supplier, number, amount, due_date and optionally currency"
    )
    assert error("invoice", "import", "{tmp}/utf16.csv") == (
        f'{files}/utf16.csv is UTF-16 text; save it as UTF-8 ("CSV UTF-8") and run again'
    )
    assert error("invoice", "import", "{tmp}/latin1.csv") == (
        f"{files}/latin1.csv line 2 is not UTF-8 text (byte 0xe9 at column 6); save the file as UTF-8 and run again"
    )
    assert error("invoice", "confirm", "--signatures", "{tmp}/empty.jsonl") == (
        f"{files}/empty.jsonl holds no signed confirmation; make one with `scf invoice sign-confirmation`"
    )
    assert error("invoice", "sign-confirmation", "--as", "buyer", "--out", "{tmp}/s.jsonl") == (
        "nothing to sign: give invoice ids or --payables FILE"
    )
    assert error("invoice", "sign-confirmation", "1", "--as", "buyer", "--out", "{tmp}/s", "--valid-days", "0") == (
        "invalid --valid-days 0: use 1 to 365 days"
    )
    assert error("invoice", "confirm", "1", "--signatures", "{tmp}/empty.jsonl") == (
        "give invoice ids or --signatures FILE, not both"
    )
    assert error("invoice", "confirm") == "no invoice to confirm: give one or more ids, or --signatures FILE"


def test_cli_intake_a_garbled_signatures_file_names_each_line(cli, home_copy, tmp_path):
    signed = _file(tmp_path / "signed.jsonl", '{"chain_id": 31337}\n\nnot json\n')
    head = chain_head(home_copy)
    result = cli("invoice", "confirm", "--signatures", str(signed), "--as", "financier")
    assert (result.exit_code, result.stdout) == (2, ""), result.output
    lines = result.stderr.splitlines()
    assert lines[0] == f"Error: {signed} has 2 bad rows; nothing was sent:"
    assert lines[1:] == [
        "  line 1: is not a signed confirmation: missing field number",
        "  line 3: is not JSON (one signed confirmation per line)",
    ]
    assert chain_head(home_copy) == head


# -- two runs at once, and numbers that are not UTF-8 -----------------------------------------
def _ledger(home_copy: Any) -> Any:
    from ledger.deployment import load_deployment
    from ledger.evm.chain import connect
    from ledger.lifecycle import Ledger

    w3 = connect(home_copy.rpc_url)
    settings = replace(home_copy.settings, rpc_url=home_copy.rpc_url)
    return Ledger(settings, w3, load_deployment(settings, int(w3.eth.chain_id)))


def test_cli_intake_a_second_run_as_the_same_account_is_refused_while_one_sends(cli, home_copy, tmp_path):
    """Two bulk commands as one account would take the same nonces: while one holds the
    account (here, in this process), another is refused (exit 3) and sends nothing."""
    from ledger.intake import Intake

    export = _export(tmp_path, 2)
    head = chain_head(home_copy)
    ledger = _ledger(home_copy)
    with Intake(ledger)._sending_as(ledger.resolve("supplier", account_first=True).address):
        result = cli("invoice", "import", str(export), "--as", "supplier")
        assert result.exit_code == 3, result.output
        assert result.stderr == (
            "Error: another scf command is sending transactions as Kowloon Precision Parts Ltd to this node; "
            "wait for it to finish and run this one again\n"
        )
        assert chain_head(home_copy) == head
    # Released with the run that held it: the same command now goes through.
    assert _json(cli("invoice", "import", str(export), "--as", "supplier", "--json"))["issued"] == 2


def test_cli_intake_an_invoice_number_that_is_not_utf8_breaks_no_command(cli, home_copy, tmp_path):
    """The contract takes any bytes from 0x80 up in a number, not only UTF-8: such an invoice
    (issued by calling the contract directly) must not break the commands that read the
    supplier's or the buyer's invoices."""
    from eth_abi import encode

    from ledger.business_time import due_timestamp
    from ledger.money import parse_date

    ledger = _ledger(home_copy)
    supplier = ledger.resolve("supplier", account_first=True).address
    buyer = ledger.resolve("buyer", account_first=True).address
    selector = keccak(text="issue(address,string,uint256,address,uint64,bytes32)")[:4]
    currency = ledger.deployment.currency("HKD").address
    due = due_timestamp(parse_date("2099-01-31"))
    data = selector + encode(
        ["address", "bytes", "uint256", "address", "uint64", "bytes32"],
        [buyer, b"Z\xff1", 100, currency, due, b"\0" * 32],
    )
    w3 = ledger.w3
    tx = w3.eth.send_transaction({"from": supplier, "to": ledger.invoices.address, "data": data})
    assert w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    export = _file(tmp_path / "e.csv", EXPORT + f"Z1,{BUYER},1.00,2099-01-31\n")
    assert _json(cli("invoice", "import", str(export), "--as", "supplier", "--json"))["issued"] == 1
    payables = _file(tmp_path / "p.csv", PAYABLES + "supplier,Z1,1.00,2099-01-31\n")
    assert _json(cli("invoice", "approve", str(payables), "--as", "buyer", "--json"))["confirmed"] == 1
    refused = cli("invoice", "sign-confirmation", "1", "--as", "buyer", "--out", str(tmp_path / "s.jsonl"))
    assert (refused.exit_code, refused.stderr) == (
        1,
        "Error: invoice 1's number is not UTF-8 text, which a signature cannot name; confirm it with "
        "`scf invoice confirm 1`: nothing was signed\n",
    ), refused.output
