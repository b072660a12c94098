"""ERP intake's files read without a chain (ledger/intake_files.py): the
header, every bad row named with its physical line and all its reasons at
once, JSON Lines kept exact, encodings, documents, duplicates in the staging
store, the result file, and a 100 MB export read in flat memory."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ledger.business_time import due_timestamp
from ledger.deployment import Currency, Deployment
from ledger.errors import InputError
from ledger.intake import RESULT_COLUMNS
from ledger.intake_files import (
    IMPORT_COLUMNS,
    PAYABLES_COLUMNS,
    InvoiceRow,
    RowContext,
    RowError,
    Staging,
    chunks,
    is_json_lines,
    parse_rows,
    read_records,
    write_result,
)

HKD = Currency("HKD", "0x" + "11" * 20, 2, 1)
JPY = Currency("JPY", "0x" + "33" * 20, 0, 1)
BUYER = "0x" + "22" * 20
BUYER2 = "0x" + "44" * 20
#: What the resolver knows: participant names (as `scf` would resolve them) to addresses.
PARTIES = {"Tsuen Wan Electronics Ltd": BUYER, "buyer": BUYER, "buyer2": BUYER2}
HEADER = "number,buyer,amount,due_date\n"
NONE = b"\0" * 32


def deployment() -> Deployment:
    return Deployment(
        chain_id=31337,
        deployed_at="2026-01-01T00:00:00Z",
        deployer="0x" + "00" * 20,
        build_key="test",
        compiler="0.8.28",
        evm_version="cancun",
        contracts={},
        currencies={"HKD": HKD, "JPY": JPY},
        version=5,
    )


def resolve(text: str) -> str:
    try:
        return PARTIES[text]
    except KeyError:
        raise InputError(f"unknown participant {text!r}") from None


def context(base: Path) -> RowContext:
    return RowContext(deployment(), resolve, base)


def parsed(path: Path, columns=IMPORT_COLUMNS, party: str = "buyer") -> list[InvoiceRow | RowError]:
    return list(parse_rows(path, columns, party, context(path.parent)))


def write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


def due(y: int, m: int, d: int) -> dt.date:
    return dt.date(y, m, d)


def errors(items: list[InvoiceRow | RowError]) -> list[str]:
    return [str(i) for i in items if isinstance(i, RowError)]


def good(items: list[InvoiceRow | RowError]) -> list[InvoiceRow]:
    return [i for i in items if isinstance(i, InvoiceRow)]


# -- the header ------------------------------------------------------------------------------
def test_intake_files_reads_a_good_export(tmp_path: Path) -> None:
    doc = tmp_path / "inv-1.pdf"
    doc.write_bytes(b"%PDF invoice 1")
    path = write(
        tmp_path / "march.csv",
        "number,buyer,amount,currency,due_date,document\n"
        'INV-1,Tsuen Wan Electronics Ltd,"125,000.00",HKD,2099-01-31,inv-1.pdf\n'
        "INV-2,buyer2,7,jpy,2099-02-28,\n",
    )
    assert parsed(path) == [
        InvoiceRow(
            2,
            "INV-1",
            "INV1",
            BUYER,
            12_500_000,
            HKD,
            due(2099, 1, 31),
            due_timestamp(due(2099, 1, 31)),
            hashlib.sha256(b"%PDF invoice 1").digest(),
        ),
        InvoiceRow(3, "INV-2", "INV2", BUYER2, 7, JPY, due(2099, 2, 28), due_timestamp(due(2099, 2, 28)), NONE),
    ]


def test_intake_files_header_names_are_forgiving_in_case_spaces_and_dashes(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", " Number ,BUYER,Amount,Due Date,Currency\nA1,buyer,1.00,2099-01-31,\n")
    (row,) = parsed(path)
    assert isinstance(row, InvoiceRow) and (row.number, row.units, row.currency) == ("A1", 100, HKD)


def test_intake_files_wrong_columns_are_one_error_naming_each(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "number,amount,colour,due date,amount,size\nA1,1,red,2099-01-31,1,L\n")
    with pytest.raises(InputError) as caught:
        parsed(path)
    assert str(caught.value) == (
        f"{path}: missing column buyer; unknown column 'colour', 'size'; repeated column amount; "
        "the columns are number, buyer, amount, due_date and optionally currency, document"
    )


def test_intake_files_payables_columns_are_their_own(tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "number,buyer,amount,due_date\nA1,buyer,1,2099-01-31\n")
    with pytest.raises(InputError) as caught:
        parsed(path, PAYABLES_COLUMNS, "supplier")
    assert str(caught.value) == (
        f"{path}: missing column supplier; unknown column 'buyer'; "
        "the columns are supplier, number, amount, due_date and optionally currency"
    )


@pytest.mark.parametrize("text", ["", "\n\n", " , ,\n"], ids=["empty", "blank-lines", "blank-cells"])
def test_intake_files_an_empty_file_is_refused(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "e.csv", text)
    with pytest.raises(InputError) as caught:
        parsed(path)
    assert str(caught.value) == (
        f"{path} is empty: give a CSV file with a header row (number, buyer, amount, due_date, ...)"
    )


def test_intake_files_a_header_without_rows_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", HEADER + "\n\n")
    with pytest.raises(InputError) as caught:
        parsed(path)
    assert str(caught.value) == f"{path} has no rows: give a file with a header and at least one row"


def test_intake_files_an_empty_json_lines_file_is_not_asked_for_a_header(tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", "\n")
    with pytest.raises(InputError) as caught:
        parsed(path)
    assert str(caught.value).startswith(f"{path} has no rows")
    assert "header" not in str(caught.value)


def test_intake_files_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        parsed(tmp_path / "missing.csv")
    assert str(caught.value) == f"cannot read {tmp_path / 'missing.csv'}: No such file or directory"


# -- bad rows ----------------------------------------------------------------------------------
def test_intake_files_every_bad_row_is_named_with_its_physical_line(tmp_path: Path) -> None:
    """Bad amounts, dates, currencies, numbers and buyers on several lines, all
    at once; blank lines and a quoted field over two lines still count."""
    path = write(
        tmp_path / "e.csv",
        "number,buyer,amount,currency,due_date\n"  # 1
        "A1,buyer,10.00,HKD,2099-01-31\n"  # 2
        "A2,buyer,-5,HKD,2099-01-31\n"  # 3
        "\n"  # 4
        'A3,buyer,"12.50\n",HKD,2099-01-31\n'  # 5-6: a good row over two lines, named by its first
        "A4,buyer,1.00,HKD,31/01/2099\n"  # 7
        "A5,buyer,1.00,USD,2099-01-31\n"  # 8
        "---,buyer,1.00,HKD,2099-01-31\n"  # 9
        "A6,Nobody Ltd,1.00,HKD,2099-01-31\n"  # 10
        "A7,,1.00,HKD,2099-01-31\n"  # 11
        "A8,buyer,1.001,HKD,2099-01-31\n"  # 12
        "A9,buyer,1.00,HKD,2099-01-31,extra\n"  # 13
        "A10,buyer,0,HKD,2099-02-30\n",  # 14
    )
    items = parsed(path)
    assert [(r.line, r.number) for r in good(items)] == [(2, "A1"), (5, "A3")]
    assert errors(items) == [
        "line 3: invalid amount '-5': use a positive decimal number such as 125000.00",
        "line 7: invalid due date '31/01/2099': use YYYY-MM-DD, for example 2027-01-31",
        "line 8: unknown currency 'USD'; this deployment settles in: HKD, JPY",
        "line 9: invalid invoice number '---': it needs at least one letter, digit or non-ASCII character",
        "line 10: unknown participant 'Nobody Ltd'",
        "line 11: no buyer",
        "line 12: invalid amount '1.001': at most 2 decimal places for this currency",
        "line 13: has 6 fields, the header has 5",
        "line 14: invalid amount '0': must be more than 0; invalid due date '2099-02-30': use YYYY-MM-DD, "
        "for example 2027-01-31",
    ]


def test_intake_files_several_reasons_on_one_row_are_joined(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", HEADER + ",Nobody Ltd,lots,tomorrow\n")
    assert errors(parsed(path)) == [
        "line 2: invalid invoice number '': it is empty; unknown participant 'Nobody Ltd'; "
        "invalid amount 'lots': use a positive decimal number such as 125000.00; "
        "invalid due date 'tomorrow': use YYYY-MM-DD, for example 2027-01-31"
    ]


def test_intake_files_windows_line_ends_keep_the_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", "number,buyer,amount,due_date\r\nA1,buyer,1,2099-01-31\r\n\r\nA2,x,1,2099-01-31")
    items = parsed(path)
    assert [r.line for r in good(items)] == [2]
    assert errors(items) == ["line 4: unknown participant 'x'"]


def test_intake_files_a_bad_row_over_two_lines_is_named_by_its_first(tmp_path: Path) -> None:
    path = write(tmp_path / "e.csv", HEADER + 'A1,buyer,1,2099-01-31\n"A\n2",buyer,1,2099-01-31\nA3,x,1,2099-01-31\n')
    assert errors(parsed(path)) == [
        "line 3: invalid invoice number 'A\\n2': it contains a control character",
        "line 5: unknown participant 'x'",
    ]


def test_intake_files_an_unclosed_quote_in_a_large_file_is_bad_input(tmp_path: Path) -> None:
    """A stray quote swallows the rest of the file into one field: past csv's
    field limit (128 KiB) that must still be a bad file, named by its line."""
    rows = "".join(f"A{i},buyer,1.00,2099-01-31\n" for i in range(10_000))
    path = write(tmp_path / "e.csv", HEADER + '"A0,buyer,1.00,2099-01-31\n' + rows)
    with pytest.raises(InputError) as caught:
        parsed(path)
    assert "line 2" in str(caught.value)


def test_intake_files_cr_only_line_ends_are_read_or_refused_as_input(tmp_path: Path) -> None:
    path = tmp_path / "mac.csv"
    path.write_bytes(b"number,buyer,amount,due_date\rA1,buyer,1,2099-01-31\rA2,x,1,2099-01-31\r")
    try:
        items = parsed(path)
    except InputError:
        return
    assert [r.line for r in good(items)] == [2]
    assert errors(items) == ["line 3: unknown participant 'x'"]


# -- duplicates and the staging store --------------------------------------------------------
def test_intake_files_a_number_repeated_in_another_spelling_names_the_earlier_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "e.csv",
        HEADER
        + "INV-2026/001,buyer,1,2099-01-31\nB1,buyer,2,2099-01-31\nｉｎｖ　２０２６－００１,buyer2,3,2099-03-31\n",
    )
    rows = good(parsed(path))
    with Staging() as staging:
        assert [staging.add(r.normalised, r) for r in rows] == [None, None, 2]
        assert [r["line"] for r in staging.rows()] == [2, 3]
        assert staging.get("INV2026001", deployment()) == rows[0]  # the first one stays


def test_intake_files_staging_keeps_outcomes_in_line_order(tmp_path: Path) -> None:
    path = write(
        tmp_path / "e.csv", HEADER + "".join(f"N{i},buyer,{i}2345678901234567.25,2099-01-31\n" for i in range(1, 6))
    )
    rows = good(parsed(path))
    with Staging() as staging:
        for row in reversed(rows):
            assert staging.add(row.normalised, row) is None
        staging.set("N2", "issued", 7, "0xabc", 12)
        staging.set("N4", "failed", note="reverted")
        staging.set("NOPE", "issued")  # no such row: nothing happens
        staging.set("N1", "issued", only="failed")  # N1 is pending: left as it is
        listed = list(staging.rows(deployment=deployment()))
        assert [r["row"] for r in listed] == rows  # exact round trip: 20-digit units stay integers
        assert [(r["line"], r["status"], r["invoice_id"], r["tx_hash"], r["block"], r["note"]) for r in listed] == [
            (2, "pending", None, None, None, None),
            (3, "issued", 7, "0xabc", 12, None),
            (4, "pending", None, None, None, None),
            (5, "failed", None, None, None, "reverted"),
            (6, "pending", None, None, None, None),
        ]
        assert [r["key"] for r in staging.rows("pending")] == ["N1", "N3", "N5"]
        assert staging.counts() == {"pending": 3, "issued": 1, "failed": 1}


def test_intake_files_chunks_are_in_order_and_the_last_is_shorter() -> None:
    assert list(chunks(range(7), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunks([], 3)) == []


# -- JSON Lines --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["e.jsonl", "e.JSONL", "e.ndjson"])
def test_intake_files_json_lines_is_known_by_its_name(tmp_path: Path, name: str) -> None:
    assert is_json_lines(tmp_path / name)
    assert not is_json_lines(tmp_path / "e.json")


def test_intake_files_json_lines_numbers_stay_exact(tmp_path: Path) -> None:
    """A JSON number is never a float: 12345678901234567.89 would round as one,
    0.1 + 0.2 style values keep their digits and are judged as written."""
    path = write(
        tmp_path / "e.jsonl",
        '{"number": "J1", "buyer": "buyer", "amount": 0.1, "due_date": "2099-01-31"}\n'
        '{"number": "J2", "buyer": "buyer", "amount": 12345678901234567.89, "due_date": "2099-01-31"}\n'
        '{"number": 3, "buyer": "buyer", "amount": 125000, "due_date": "2099-01-31", "currency": null}\n'
        '{"number": "J4", "buyer": "buyer", "amount": 0.30000000000000004, "due_date": "2099-01-31"}\n'
        '{"number": "J5", "buyer": "buyer", "amount": 1e3, "due_date": "2099-01-31"}\n',
    )
    items = parsed(path)
    assert [(r.line, r.number, r.units, r.currency) for r in good(items)] == [
        (1, "J1", 10, HKD),
        (2, "J2", 1234567890123456789, HKD),
        (3, "3", 12_500_000, HKD),
    ]
    assert errors(items) == [
        "line 4: invalid amount '0.30000000000000004': at most 2 decimal places for this currency",
        "line 5: invalid amount '1e3': use a positive decimal number such as 125000.00",
    ]


def test_intake_files_json_lines_bad_lines_are_each_named(tmp_path: Path) -> None:
    path = write(
        tmp_path / "e.jsonl",
        '{"number": "J1", "buyer": "buyer", "amount": "1.00", "due_date": "2099-01-31"}\n'  # 1
        "\n"  # 2
        '{"number": "J2", "buyer": "buyer",\n'  # 3
        '["J3", "buyer", "1.00", "2099-01-31"]\n'  # 4
        '"J4"\n'  # 5
        '{"number": "J5", "amount": "1.00"}\n'  # 6
        '{"number": "J6", "buyer": "buyer", "amount": "1", "due_date": "2099-01-31", "colour": "red"}\n'  # 7
        '{"number": true, "buyer": "buyer", "amount": {"v": 1}, "due_date": "2099-01-31"}\n'  # 8
        '{"number": "J9", "buyer": "buyer", "amount": null, "due_date": "2099-01-31"}\n',  # 9
    )
    items = parsed(path)
    assert [r.line for r in good(items)] == [1]
    assert errors(items) == [
        "line 3: is not a JSON object (Expecting property name enclosed in double quotes at column 35)",
        "line 4: is not a JSON object",
        "line 5: is not a JSON object",
        "line 6: missing buyer; missing due_date",
        "line 7: unknown field 'colour'",
        "line 8: number is not a string or number; amount is not a string or number",
        "line 9: invalid amount '': use a positive decimal number such as 125000.00",
    ]


def test_intake_files_json_lines_a_truncated_object_names_the_column_where_it_ends(tmp_path: Path) -> None:
    path = write(tmp_path / "e.jsonl", '{"number": "J2", "buyer": "buyer",\n')
    assert errors(parsed(path)) == [
        "line 1: is not a JSON object (Expecting property name enclosed in double quotes at column 35)"
    ]


def test_intake_files_json_lines_a_repeated_field_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path / "e.jsonl",
        '{"number": "J1", "buyer": "buyer", "amount": "1.00", "amount": "1000.00", "due_date": "2099-01-31"}\n',
    )
    (item,) = parsed(path)
    assert isinstance(item, RowError) and item.line == 1 and "amount" in item.reason


# -- encodings ---------------------------------------------------------------------------------
def test_intake_files_a_utf8_byte_order_mark_is_dropped(tmp_path: Path) -> None:
    csv_path = tmp_path / "bom.csv"
    csv_path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "A1,buyer,1,2099-01-31\n").encode())
    jsonl = tmp_path / "bom.jsonl"
    jsonl.write_bytes(
        b"\xef\xbb\xbf" + b'{"number": "J1", "buyer": "buyer", "amount": "1", "due_date": "2099-01-31"}\n'
    )
    assert [(r.line, r.number) for r in good(parsed(csv_path)) + good(parsed(jsonl))] == [(2, "A1"), (1, "J1")]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252"])
def test_intake_files_a_latin1_or_cp1252_file_names_the_line_and_utf8(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes((HEADER + "A1,buyer,1,2099-01-31\nA2,Café Ltd,1,2099-01-31\n").encode(encoding))
    with pytest.raises(InputError) as caught:
        parsed(path)
    assert str(caught.value) == (
        f"{path} line 3 is not UTF-8 text (byte 0xe9 at column 7); save the file as UTF-8 and run again"
    )


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_intake_files_a_utf16_file_is_refused_clearly(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "e.csv"
    text = HEADER + "A1,buyer,1,2099-01-31\n"
    path.write_bytes(("\ufeff" if encoding == "utf-16-be" else "").encode(encoding) + text.encode(encoding))
    with pytest.raises(InputError) as caught:
        parsed(path)
    assert str(caught.value) == f'{path} is UTF-16 text; save it as UTF-8 ("CSV UTF-8") and run again'


def test_intake_files_a_utf16_file_without_a_byte_order_mark_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes((HEADER + "A1,buyer,1,2099-01-31\n").encode("utf-16-le"))
    with pytest.raises(InputError) as caught:
        parsed(path)
    assert "UTF-8" in str(caught.value) and "\\x00" not in str(caught.value)


# -- documents ----------------------------------------------------------------------------------
def test_intake_files_a_document_path_is_relative_to_the_file(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "exports"
    (folder / "docs").mkdir(parents=True)
    (folder / "docs" / "a1.pdf").write_bytes(b"invoice A1")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "docs").mkdir(parents=True)
    (elsewhere / "docs" / "a1.pdf").write_bytes(b"not this one")
    monkeypatch.chdir(elsewhere)
    absolute = tmp_path / "abs.pdf"
    absolute.write_bytes(b"absolute")
    path = write(
        folder / "e.csv",
        "number,buyer,amount,due_date,document\n"
        "A1,buyer,1,2099-01-31,docs/a1.pdf\n"
        f"A2,buyer,1,2099-01-31,{absolute}\n"
        f"A3,buyer,1,2099-01-31,0x{'Ab' * 32}\n"
        "A4,buyer,1,2099-01-31,\n",
    )
    assert [r.doc_hash for r in good(parsed(path))] == [
        hashlib.sha256(b"invoice A1").digest(),
        hashlib.sha256(b"absolute").digest(),
        bytes.fromhex("ab" * 32),
        NONE,
    ]


def test_intake_files_a_missing_document_is_a_row_error(tmp_path: Path) -> None:
    (tmp_path / "a-folder").mkdir()
    path = write(
        tmp_path / "e.csv",
        "number,buyer,amount,due_date,document\n"
        "A1,buyer,1,2099-01-31,missing.pdf\n"
        f"A2,buyer,1,2099-01-31,0x{'ab' * 31}\n"  # 62 hex digits: not a hash, so a path
        "A3,buyer,1,2099-01-31,a-folder\n"
        "A4,buyer,1,2099-01-31,0x" + "ab" * 32 + "\n",
    )
    items = parsed(path)
    assert [r.number for r in good(items)] == ["A4"]
    assert errors(items) == [
        "line 2: cannot read document missing.pdf (No such file or directory); "
        "give a readable path or 0x and 64 hex digits",
        f"line 3: cannot read document 0x{'ab' * 31} (No such file or directory); "
        "give a readable path or 0x and 64 hex digits",
        "line 4: cannot read document a-folder (Is a directory); give a readable path or 0x and 64 hex digits",
    ]


# -- the result file ------------------------------------------------------------------------
def test_intake_files_the_result_lists_bad_rows_among_the_others_in_line_order(tmp_path: Path) -> None:
    path = write(
        tmp_path / "e.csv",
        HEADER
        + "A1,buyer,1,2099-01-31\n"  # 2
        + "A2,buyer,x,2099-01-31\n"  # 3
        + "A3,buyer,3,2099-01-31\n"  # 4
        + "A1,buyer,4,2099-01-31\n"  # 5: repeats line 2
        + "A5,nobody,5,2099-01-31\n",  # 6
    )
    with Staging() as staging:
        for item in parsed(path):
            if isinstance(item, InvoiceRow) and (earlier := staging.add(item.normalised, item)) is not None:
                item = RowError(item.line, f"repeats line {earlier}")
            if isinstance(item, RowError):
                staging.add_bad(item)
        staging.set("A1", "issued", 1, "0xabc", 7)
        staging.set("A3", "already issued", 9, note="the file differs: due 2099-02-01 on chain")
        out = tmp_path / "result.csv"
        assert write_result(out, staging.rows(), RESULT_COLUMNS) == 5
        assert staging.counts() == {"issued": 1, "already issued": 1, "bad": 3}
    with out.open(newline="", encoding="utf-8") as handle:
        table = list(csv.reader(handle))
    assert table == [
        list(RESULT_COLUMNS),
        ["2", "A1", "issued", "1", "0xabc", "7", ""],
        ["3", "", "bad", "", "", "", "invalid amount 'x': use a positive decimal number such as 125000.00"],
        ["4", "A3", "already issued", "9", "", "", "the file differs: due 2099-02-01 on chain"],
        ["5", "", "bad", "", "", "", "repeats line 2"],
        ["6", "", "bad", "", "", "", "unknown participant 'nobody'"],
    ]


def test_intake_files_a_result_file_that_cannot_be_written_is_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        write_result(tmp_path / "no" / "such" / "r.csv", [], ("line",))
    assert str(caught.value) == (
        f"cannot write the result file {tmp_path / 'no' / 'such' / 'r.csv'}: No such file or directory"
    )


def test_intake_files_records_are_a_stream(tmp_path: Path) -> None:
    """The first row arrives before the rest is read: a reader that loaded the
    file first would fail on the broken last line before yielding anything."""
    path = tmp_path / "e.csv"
    path.write_bytes((HEADER + "A1,buyer,1,2099-01-31\n").encode() + b"A2,\xff,1,2099-01-31\n")
    records = read_records(path, IMPORT_COLUMNS)
    assert next(records) == (2, {"number": "A1", "buyer": "buyer", "amount": "1", "due_date": "2099-01-31"})
    with pytest.raises(InputError, match="line 3 is not UTF-8"):
        next(records)


# -- a large export in flat memory --------------------------------------------------------------
_STREAM_PROBE = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from ledger.deployment import Currency
    from ledger.intake_files import IMPORT_COLUMNS, InvoiceRow, RowContext, parse_rows

    class Deployment:
        hkd = Currency("HKD", "0x" + "11" * 20, 2, 1)
        def currency(self, symbol):
            return self.hkd

    ctx = RowContext(Deployment(), lambda text: text, Path(sys.argv[1]).parent)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rows = units = 0
    for row in parse_rows(Path(sys.argv[1]), IMPORT_COLUMNS, "buyer", ctx):
        assert isinstance(row, InvoiceRow), row
        rows += 1
        units += row.units
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(rows, units, (after - before) * 1024)
    """
)


@pytest.mark.slow  # about 20 s
def test_intake_files_a_100_mb_export_is_read_in_flat_memory(tmp_path: Path) -> None:
    """1.2 million rows (about 100 MB) parsed one by one: the reader's peak
    memory (maxrss, in a process of its own) grows by less than 50 MB."""
    path = tmp_path / "big.csv"
    count = 1_200_000
    line = "INV-2099-{:09d},0x{:040x},{}.{:02d},HKD,2099-{:02d}-{:02d}\n"
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write("number,buyer,amount,currency,due_date\n")
        handle.writelines(line.format(i, i, 1000 + i, i % 100, i % 12 + 1, i % 28 + 1) for i in range(count))
    size = path.stat().st_size
    assert size > 100_000_000
    expected = sum((1000 + i) * 100 + i % 100 for i in range(count))
    try:
        probe = subprocess.run(
            [sys.executable, "-c", _STREAM_PROBE, str(path)], capture_output=True, text=True, timeout=300, check=False
        )
    finally:
        path.unlink()  # pytest keeps the last runs' tmp_path: not 100 MB of them
    assert probe.returncode == 0, probe.stderr[-2000:]
    rows, units, growth = (int(v) for v in probe.stdout.split())
    assert (rows, units) == (count, expected)
    assert growth < 50_000_000, f"peak memory grew by {growth / 1e6:.0f} MB reading a {size / 1e6:.0f} MB file"
