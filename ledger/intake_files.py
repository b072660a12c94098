"""The files of ERP intake, read without a chain: a supplier's invoice export
(``scf invoice import``) and a buyer's approved-payables file (``scf invoice
approve``, ``scf invoice sign-confirmation --payables``).

A file is CSV with a header row, or JSON Lines (one object per line: a name
ending ``.jsonl`` or ``.ndjson``). It is read as a stream, one row at a time,
so a file of any size is read in the same memory; a UTF-8 byte-order mark is
dropped, and any other encoding is refused with the line where it shows.
Header problems (missing or unknown columns, an empty file) are one
``InputError``; a bad row is a :class:`RowError` that names the line (the
physical line of the file, the header being line 1) and every reason, so a
whole file's problems are reported at once.

Duplicates are found in a :class:`Staging` store: an SQLite file on disk, so
memory stays flat in the number of rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.deployment import Currency, Deployment
from ledger.errors import InputError
from ledger.invoice_numbers import normalise_invoice_number
from ledger.lifecycle_inputs import positive_units
from ledger.money import parse_date

#: The columns of an invoice export: required, then optional.
IMPORT_COLUMNS = (("number", "buyer", "amount", "due_date"), ("currency", "document"))
#: The columns of an approved-payables file: required, then optional.
PAYABLES_COLUMNS = (("supplier", "number", "amount", "due_date"), ("currency",))
#: A document given as its hash already: 0x and 64 hex digits (else it is a path).
_HASH_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")
_NO_DOCUMENT = b"\0" * 32


@dataclass(frozen=True)
class RowError:
    """A bad row: its line in the file and what is wrong with it."""

    line: int
    reason: str
    #: The row's invoice number as the file gives it (for the result file), if it has one.
    number: str = ""

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class InvoiceRow:
    """One parsed row: an invoice as the file gives it. ``party`` is the buyer of an
    export, the supplier of a payables file (an address); ``units`` minor units of
    ``currency``; ``due_ts`` the due date's end in the business time zone (unix)."""

    line: int
    number: str
    normalised: str
    party: str
    units: int
    currency: Currency
    due: dt.date
    due_ts: int
    doc_hash: bytes = _NO_DOCUMENT


def is_json_lines(path: Path) -> bool:
    return path.suffix.lower() in (".jsonl", ".ndjson")


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The file's lines as text with their numbers (from 1): UTF-8, a BOM dropped."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1:
                if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw:
                    raise InputError(f'{path} is UTF-16 text; save it as UTF-8 ("CSV UTF-8") and run again')
                raw = raw.removeprefix(b"\xef\xbb\xbf")
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path} line {number} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}); "
                    "save the file as UTF-8 and run again"
                ) from None


def _check_columns(path: Path, found: Sequence[str], columns: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
    required, optional = columns
    missing = [c for c in required if c not in found]
    unknown = [c for c in found if c not in required + optional]
    duplicated = sorted({c for c in found if found.count(c) > 1})
    if missing or unknown or duplicated:
        problems = []
        if missing:
            problems.append("missing column " + ", ".join(missing))
        if unknown:
            problems.append("unknown column " + ", ".join(repr(c) for c in unknown))
        if duplicated:
            problems.append("repeated column " + ", ".join(duplicated))
        hint = (
            "; it looks separated by semicolons: save it as comma-separated CSV" if any(";" in c for c in found) else ""
        )
        raise InputError(
            f"{path}: {'; '.join(problems)}; the columns are {', '.join(required)} and optionally {', '.join(optional)}"
            + hint
        )


def _header_name(text: str) -> str:
    return text.strip().lower().replace(" ", "_").replace("-", "_")


def read_records(
    path: Path, columns: tuple[tuple[str, ...], tuple[str, ...]]
) -> Iterator[tuple[int, dict[str, str] | RowError]]:
    """Each row of ``path`` as (line, {column: text}) or (line, RowError), streamed.
    InputError for an unreadable or empty file or a bad header."""
    seen = False
    reader = _json_records(path, columns) if is_json_lines(path) else _csv_records(path, columns)
    for line, record in reader:
        seen = True
        yield line, record
    if not seen:
        shape = "one JSON object per line" if is_json_lines(path) else "a header and at least one row"
        raise InputError(f"{path} has no rows: give a file with {shape}")


def _csv_records(
    path: Path, columns: tuple[tuple[str, ...], tuple[str, ...]]
) -> Iterator[tuple[int, dict[str, str] | RowError]]:
    lines = text_lines(path)
    position = {"line": 0}

    def text() -> Iterator[str]:
        for number, line in lines:
            position["line"] = number
            yield line

    reader = csv.reader(text())
    header: list[str] | None = None
    end = 0  # the line the previous record ended on: a record starts on the next
    while True:
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            raise InputError(
                f"{path} line {end + 1} cannot be read as CSV ({exc}); check for an unclosed quote, "
                "and save the file with Windows or Unix line ends"
            ) from None
        if cells is None:
            break
        line, end = end + 1, position["line"]
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = [_header_name(c) for c in cells]
            _check_columns(path, header, columns)
            continue
        if len(cells) != len(header):
            yield line, RowError(line, f"has {len(cells)} fields, the header has {len(header)}")
            continue
        yield line, {name: cell.strip() for name, cell in zip(header, cells, strict=True)}
    if header is None:
        raise InputError(f"{path} is empty: give a CSV file with a header row ({', '.join(columns[0])}, ...)")


def _json_records(
    path: Path, columns: tuple[tuple[str, ...], tuple[str, ...]]
) -> Iterator[tuple[int, dict[str, str] | RowError]]:
    required, optional = columns
    for line, text in text_lines(path):
        if not text.strip():
            continue
        try:
            # Numbers keep their text: an amount is never a float.
            obj = json.loads(text.rstrip("\r\n"), parse_float=str, parse_int=str, object_pairs_hook=_no_repeats)
        except json.JSONDecodeError as exc:
            yield line, RowError(line, f"is not a JSON object ({exc.msg} at column {exc.colno})")
            continue
        except _RepeatedField as exc:
            yield line, RowError(line, f"repeats field {exc}")
            continue
        if not isinstance(obj, dict):
            yield line, RowError(line, "is not a JSON object")
            continue
        record = {_header_name(k): v for k, v in obj.items()}
        missing = [c for c in required if c not in record]
        unknown = [c for c in record if c not in required + optional]
        bad = [k for k, v in record.items() if v is not None and not isinstance(v, str)]
        if missing or unknown or bad:
            reasons = [f"missing {c}" for c in missing] + [f"unknown field {c!r}" for c in unknown]
            reasons += [f"{k} is not a string or number" for k in bad]
            yield line, RowError(line, "; ".join(reasons))
            continue
        yield line, {k: ("" if v is None else v.strip()) for k, v in record.items()}


class _RepeatedField(ValueError):
    """A JSON object names a field twice (as a CSV header may not)."""


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        name = _header_name(key)
        if name in out:
            raise _RepeatedField(name)
        out[name] = value
    return out


@dataclass
class RowContext:
    """What parsing a row needs from around it: the deployment's currencies, a
    resolver of names to addresses (participants, accounts) and the file's folder
    (documents are read relative to it)."""

    deployment: Deployment
    resolve: Callable[[str], str]
    base_dir: Path
    default_currency: str = "HKD"


def _document(text: str, base_dir: Path) -> bytes:
    import hashlib

    if not text:
        return _NO_DOCUMENT
    if _HASH_RE.match(text):
        return bytes.fromhex(text[2:])
    path = Path(text)
    path = path if path.is_absolute() else base_dir / path
    try:
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError as exc:
        raise InputError(
            f"cannot read document {text} ({exc.strerror}); give a readable path or 0x and 64 hex digits"
        ) from None


def parse_row(line: int, record: dict[str, str], party_column: str, ctx: RowContext) -> InvoiceRow | RowError:
    """A record as an :class:`InvoiceRow`, or a RowError naming every bad field."""
    reasons: list[str] = []

    def field(what: Callable[[], Any]) -> Any:
        try:
            return what()
        except InputError as exc:
            reasons.append(str(exc))
            return None

    number = record.get("number", "")
    normalised = field(lambda: normalise_invoice_number(number))
    party_text = record.get(party_column, "")
    if party_text:
        party = field(lambda: ctx.resolve(party_text))
    else:
        party = None
        reasons.append(f"no {party_column}")
    currency = field(lambda: ctx.deployment.currency(record.get("currency") or ctx.default_currency))
    units = field(lambda: positive_units(record.get("amount", ""), currency.decimals)) if currency else None
    due = field(lambda: parse_date(record.get("due_date", ""), "due date"))
    doc = field(lambda: _document(record.get("document", ""), ctx.base_dir))
    if reasons or party is None or units is None:
        return RowError(line, "; ".join(reasons), number)
    from ledger.business_time import due_timestamp

    return InvoiceRow(line, number, normalised, party, units, currency, due, due_timestamp(due), doc)


def parse_rows(
    path: Path, columns: tuple[tuple[str, ...], tuple[str, ...]], party_column: str, ctx: RowContext
) -> Iterator[InvoiceRow | RowError]:
    """Every row of ``path``, parsed, streamed."""
    for line, record in read_records(path, columns):
        yield record if isinstance(record, RowError) else parse_row(line, record, party_column, ctx)


class Staging:
    """The rows of one run in SQLite's private temporary database (on disk, beyond a
    small page cache; SQLite deletes it itself, also when the process is killed):
    finds duplicates and keeps each row's outcome, in memory flat in the number of rows.

    A row's ``key`` is what makes it unique in the file (the normalised number
    for an export; supplier and normalised number for a payables file)."""

    def __init__(self) -> None:
        # "": a temporary on-disk database that SQLite unlinks as soon as it opens it.
        self.db = sqlite3.connect("")
        self.db.execute("PRAGMA journal_mode=OFF")
        self.db.execute("PRAGMA synchronous=OFF")
        self.db.execute(
            "CREATE TABLE rows (line INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, number TEXT NOT NULL, "
            "row TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'pending', invoice_id INTEGER, tx_hash TEXT, "
            "block INTEGER, note TEXT)"
        )
        self.db.execute("CREATE INDEX rows_tx ON rows (tx_hash)")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def add(self, key: str, row: InvoiceRow) -> int | None:
        """Stage ``row``; returns the line of an earlier row with the same key (then nothing is staged)."""
        try:
            self.db.execute(
                "INSERT INTO rows (line, key, number, row) VALUES (?, ?, ?, ?)", (row.line, key, row.number, _dump(row))
            )
        except sqlite3.IntegrityError:
            found = self.db.execute("SELECT line FROM rows WHERE key = ?", (key,)).fetchone()
            return int(found[0])
        return None

    def set(
        self,
        key: str,
        status: str,
        invoice_id: int | None = None,
        tx_hash: str | None = None,
        block: int | None = None,
        note: str | None = None,
        only: str | None = None,
    ) -> None:
        """Record a staged row's outcome (nothing when no row has ``key``, or when ``only``
        is given and the row's status is another)."""
        self.db.execute(
            "UPDATE rows SET status = ?, invoice_id = ?, tx_hash = ?, block = ?, note = ? "
            "WHERE key = ? AND status = coalesce(?, status)",
            (status, invoice_id, tx_hash, block, note, key, only),
        )

    def rows(
        self, status: str | None = None, deployment: Deployment | None = None, after: int = 0, limit: int = -1
    ) -> Iterator[dict[str, Any]]:
        """Staged rows in line order (with ``status`` only, if given; after line ``after``; at
        most ``limit``): their outcome columns and, with ``deployment``, the row itself as
        ``row`` (an InvoiceRow)."""
        cursor = self.db.execute(
            "SELECT line, key, number, row, status, invoice_id, tx_hash, block, note FROM rows "
            "WHERE status = coalesce(?, status) AND line > ? ORDER BY line LIMIT ?",
            (status, after, limit),
        )
        for line, key, number, row, st, invoice_id, tx_hash, block, note in cursor.fetchall():
            out = {"line": line, "key": key, "number": number, "status": st, "invoice_id": invoice_id}
            out.update({"tx_hash": tx_hash, "block": block, "note": note})
            if deployment is not None and row != "null":
                out["row"] = _load(row, deployment, line)
            yield out

    def batches(self, status: str, size: int, deployment: Deployment | None = None) -> Iterator[list[dict[str, Any]]]:
        """The rows with ``status`` in pages of ``size``, in line order, read a page at a time
        (so rows may change status between pages)."""
        last = 0
        while page := list(self.rows(status, deployment, after=last, limit=size)):
            yield page
            last = page[-1]["line"]

    def rows_of(self, tx_hash: str) -> list[dict[str, Any]]:
        """The rows sent in transaction ``tx_hash``, in line order (the order of its items)."""
        cursor = self.db.execute("SELECT line, key, invoice_id FROM rows WHERE tx_hash = ? ORDER BY line", (tx_hash,))
        return [{"line": line, "key": key, "invoice_id": invoice_id} for line, key, invoice_id in cursor]

    def add_bad(self, error: RowError, number: str = "") -> None:
        """Keep a bad row for the result file (status ``bad``); it is never sent."""
        self.db.execute(
            "INSERT OR REPLACE INTO rows (line, key, number, row, status, note) VALUES (?, ?, ?, 'null', 'bad', ?)",
            (error.line, f"bad:{error.line}", number, error.reason),
        )

    def mark_unsent(self) -> None:
        """Rows still pending when a run stops before sending: ``not sent``."""
        self.db.execute("UPDATE rows SET status = 'not sent' WHERE status = 'pending'")

    def notes(self, statuses: Sequence[str], limit: int) -> list[str]:
        """The first ``limit`` rows with one of ``statuses`` and a note, as "line N: status: note"."""
        marks = ",".join("?" * len(statuses))
        cursor = self.db.execute(
            f"SELECT line, status, note FROM rows WHERE status IN ({marks}) AND note IS NOT NULL ORDER BY line LIMIT ?",
            (*statuses, limit),
        )
        return [f"line {line}: {status}: {note}" for line, status, note in cursor]

    def get(self, key: str, deployment: Deployment, status: str | None = None) -> InvoiceRow | None:
        """The staged row with ``key`` (and ``status``, if given), or None."""
        found = self.db.execute(
            "SELECT line, row FROM rows WHERE key = ? AND status = coalesce(?, status)", (key, status)
        ).fetchone()
        return None if found is None or found[1] == "null" else _load(found[1], deployment, int(found[0]))

    def counts(self) -> dict[str, int]:
        return {str(s): int(n) for s, n in self.db.execute("SELECT status, count(*) FROM rows GROUP BY status")}


def _dump(row: InvoiceRow) -> str:
    return json.dumps(
        [
            row.number,
            row.normalised,
            row.party,
            row.units,
            row.currency.symbol,
            row.due.isoformat(),
            row.due_ts,
            row.doc_hash.hex(),
        ]
    )


def _load(text: str, deployment: Deployment, line: int) -> InvoiceRow:
    number, normalised, party, units, symbol, due, due_ts, doc = json.loads(text)
    return InvoiceRow(
        line,
        number,
        normalised,
        party,
        int(units),
        deployment.currency(symbol),
        dt.date.fromisoformat(due),
        int(due_ts),
        bytes.fromhex(doc),
    )


def chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``items`` in lists of ``size`` (the last may be shorter)."""
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def write_result(path: Path, rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> int:
    """Write the run's outcome per row as CSV (``columns`` of each row); returns the rows written."""
    count = 0
    try:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(columns)
            for row in rows:
                writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
                count += 1
    except OSError as exc:
        raise InputError(f"cannot write the result file {path}: {exc.strerror}") from None
    return count
