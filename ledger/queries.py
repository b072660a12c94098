"""Queries on the indexed ledger: invoices, one invoice's history, and
participants, now or as they were at a past block.

Reads the database only. This module and what it imports never import web3,
so `scf invoice list` and friends start fast; a test enforces it. Amounts come
out as exact decimal strings with the currency's number of places (from the
deployment record), never floats.

"As of block N" replays the stored events up to N through the indexer's own
projection code (``ledger.indexer.projections``), so a past view and the live
projections cannot disagree about what an event means.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from ledger.config import Settings
from ledger.db.models import Cursor, Event, Invoice, Participant
from ledger.db.session import read_connection as read_connection
from ledger.db.timestamps import utc_text as utc_text
from ledger.deployment import Currency, Deployment
from ledger.errors import DatabaseError, DeploymentError, InputError, UnknownCurrency
from ledger.format import amount, label, party, symbol_amount
from ledger.invoice_numbers import InvalidInvoiceNumber, normalise_invoice_number
from ledger.names import ROLE_BITS as ROLE_BITS
from ledger.names import STATUS_NAMES as STATUS_NAMES
from ledger.names import ZERO_ADDRESS, checksum, resolve, role_names

#: The largest invoice id (and SQL LIMIT) the database can hold: a BIGINT.
#: Ids above it are not projected (their events keep them in ``args``).
BIGINT_MAX = 2**63 - 1


def parse_statuses(text: str) -> list[str]:
    """ "financed,partiallypaid" -> ["Financed", "PartiallyPaid"] (case-insensitive)."""
    known = {name.casefold(): name for name in STATUS_NAMES[1:]}
    out: list[str] = []
    for part in re.split(r"[,\s]+", text.strip()):
        if not part:
            continue
        name = known.get(part.casefold())
        if name is None:
            raise InputError(f"unknown status {part!r}; use one of {', '.join(STATUS_NAMES[1:])} (comma-separated)")
        if name not in out:
            out.append(name)
    if not out:
        raise InputError(f"no status given; use one of {', '.join(STATUS_NAMES[1:])}")
    return out


# -- scope: which deployment on which chain ------------------------------------------------
@dataclass(frozen=True)
class Scope:
    """One deployment on one chain, whose ledger is shown or decided on: its
    contracts, the currencies (symbol, decimals) from its deployment record,
    the indexed block (when read from a cursor) and where the local keystores
    are (to resolve account names)."""

    chain_id: int
    invoice_contract: str
    registry_contract: str
    indexed_block: int | None = None
    #: lower-case address -> currency of the deployment record.
    currencies: Mapping[str, Currency] = field(default_factory=dict)
    keystore_dir: Path | None = None

    @classmethod
    def of(cls, deployment: Deployment, keystore_dir: Path | None = None) -> Scope:
        c = deployment.contracts
        return cls(
            deployment.chain_id,
            checksum(c["InvoiceToken"].address),
            checksum(c["ParticipantRegistry"].address),
            currencies={cur.address.lower(): cur for cur in deployment.currencies.values()},
            keystore_dir=keystore_dir,
        )

    def currency(self, address: str) -> Currency:
        found = self.currencies.get(address.lower())
        if found is None:
            raise UnknownCurrency(address, self.chain_id)
        return found

    def symbol(self, currency: str) -> str:
        """The symbol of the currency at address ``currency``."""
        return self.currency(currency).symbol

    def amount(self, units: int, currency: str) -> str:
        """Minor units of the currency at address ``currency`` as exact major units (:func:`ledger.format.amount`)."""
        return amount(int(units), self.currency(currency).decimals)

    def money(self, units: int | None, currency: str) -> str | None:
        """:meth:`amount`, None for None."""
        return None if units is None else self.amount(units, currency)


def _deployment_record(settings: Settings, chain_id: int) -> Deployment | None:
    path = settings.deployments_dir / f"{chain_id}.json"
    try:
        return Deployment.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DeploymentError(f"unreadable deployment record {path}: {exc}") from None


def find_scope(conn: Connection, settings: Settings, chain_id: int | None = None) -> Scope:
    """The indexed deployment to query: the one whose InvoiceToken matches a
    deployment record of this data directory (most recently synced first),
    else the most recently synced cursor in the database."""
    query = sa.select(Cursor)
    if chain_id is not None:
        query = query.where(Cursor.chain_id == chain_id)
    cursors = list(conn.execute(query).all())
    if not cursors:
        where = f" for chain {chain_id}" if chain_id is not None else ""
        raise DatabaseError(f"nothing is indexed{where} in the ledger database yet; run `scf index sync`")
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    cursors.sort(key=lambda c: (c.updated_at or epoch, c.id), reverse=True)
    records = {c.chain_id: _deployment_record(settings, c.chain_id) for c in cursors}
    matching = [
        c
        for c in cursors
        if (d := records[c.chain_id]) is not None
        and "InvoiceToken" in d.contracts
        and d.contracts["InvoiceToken"].address.lower() == c.invoice_contract.lower()
    ]
    cursor = (matching or cursors)[0]
    record = records[cursor.chain_id]
    currencies = {c.address.lower(): c for c in record.currencies.values()} if record else {}
    return Scope(
        cursor.chain_id,
        cursor.invoice_contract,
        cursor.registry_contract,
        cursor.block_number,
        currencies,
        settings.keystore_dir,
    )


@contextmanager
def read_db(settings: Settings) -> Iterator[tuple[Connection, Scope]]:
    """A read transaction on the ledger database, and the deployment it shows."""
    with read_connection(settings.database_url) as conn:
        yield conn, find_scope(conn, settings)


def check_block(scope: Scope, block: int | None) -> None:
    if block is None:
        return
    if scope.indexed_block is None or block > scope.indexed_block:
        upto = "nothing yet" if scope.indexed_block is None else f"up to block {scope.indexed_block}"
        raise InputError(
            f"block {block} is not indexed yet (indexed {upto}); run `scf index sync` or pick a lower block"
        )


# -- participants --------------------------------------------------------------------------
def _participant_rows(conn: Connection, scope: Scope, as_of_block: int | None) -> list[dict[str, Any]]:
    if as_of_block is None:
        rows = (
            conn.execute(
                sa.select(Participant).where(
                    Participant.chain_id == scope.chain_id, Participant.contract == scope.registry_contract
                )
            )
            .mappings()
            .all()
        )
        return [dict(r) for r in rows]
    from ledger.indexer.projections import replay_participants

    replayed = replay_participants(conn, scope.chain_id, scope.registry_contract, to_block=as_of_block)
    return [dict(r) for r in replayed.values()]


def block_time(conn: Connection, chain_id: int, block: int) -> dt.datetime | None:
    """Time of `block` from the stored block hashes, else of the last stored
    event at or below it (None if neither has it)."""
    from ledger.db.models import Block

    found = conn.execute(sa.select(Block.timestamp).where(Block.chain_id == chain_id, Block.number == block)).scalar()
    if found is None:
        found = conn.execute(
            sa.select(Event.block_time)
            .where(Event.chain_id == chain_id, Event.block_number <= block)
            .order_by(Event.block_number.desc())
            .limit(1)
        ).scalar()
    return found


class Directory:
    """Participant names by address, and resolution of user input (an
    address, a registered name, case-insensitive, or a local account name) to
    an address (:func:`ledger.names.resolve`)."""

    def __init__(self, rows: Iterable[Mapping[str, Any]], keystore_dir: Path | None = None) -> None:
        self.names: dict[str, str] = {str(r["address"]): str(r["name"]) for r in rows}
        self.keystore_dir = keystore_dir

    def name(self, address: str | None) -> str | None:
        return None if address is None else self.names.get(address)

    def label(self, address: str | None) -> str:
        return label(address, self.name(address))

    def party(self, address: str | None) -> dict[str, str | None] | None:
        return party(address, self.name(address))

    def resolve(self, text: str, what: str) -> str:
        return resolve(text, self.names, what, self.keystore_dir)


def participants(
    conn: Connection, scope: Scope, as_of_block: int | None = None, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """Participants as the registry held them (now, or at `as_of_block`), by name."""
    check_block(scope, as_of_block)
    at = dt.datetime.now(dt.UTC) if now is None else now
    if as_of_block is not None:
        at = block_time(conn, scope.chain_id, as_of_block) or at
    elif now is None and scope.indexed_block is not None:
        # As the contracts see it: the chain's clock can run ahead of the wall
        # clock (a private chain's block times), and KYC expires by chain time.
        at = max(at, block_time(conn, scope.chain_id, scope.indexed_block) or at)
    out = []
    for r in sorted(_participant_rows(conn, scope, as_of_block), key=lambda r: (r["name"].casefold(), r["address"])):
        kyc_expiry: dt.datetime = r["kyc_expiry"]
        out.append(
            {
                "name": r["name"],
                "address": r["address"],
                "roles": role_names(int(r["roles"])),
                "kyc_until": (kyc_expiry.date() - dt.timedelta(days=1)).isoformat(),
                "suspended": bool(r["suspended"]),
                "active": bool(not r["suspended"] and at < kyc_expiry),
                "admitted_block": int(r["admitted_block"]),
            }
        )
    return out


def directory(conn: Connection, scope: Scope) -> Directory:
    """Today's names. The operator can rename a participant, so a past state
    shown with them names its parties as they are called now (an invoice's
    history names them as they were; see :func:`invoice_history`)."""
    return Directory(_participant_rows(conn, scope, None), scope.keystore_dir)


# -- invoices ------------------------------------------------------------------------------
@dataclass
class InvoiceFilter:
    statuses: Sequence[str] = ()
    supplier: str | None = None
    buyer: str | None = None
    holder: str | None = None
    due_before: dt.date | None = None
    limit: int | None = None
    #: The normal form of an invoice number (any spelling of it matches).
    number: str | None = None

    def matches(self, row: Mapping[str, Any]) -> bool:
        return (
            (not self.statuses or row["status"] in self.statuses)
            and (self.supplier is None or row["supplier"] == self.supplier)
            and (self.buyer is None or row["buyer"] == self.buyer)
            and (self.holder is None or row["holder"] == self.holder)
            and (self.due_before is None or row["due_date"] < self.due_before)
            and (self.number is None or row["number_normalised"] == self.number)
        )


def _invoice_rows(
    conn: Connection,
    scope: Scope,
    flt: InvoiceFilter,
    as_of_block: int | None,
    invoice_ids: Sequence[int] | None = None,
) -> list[dict[str, Any]]:
    if invoice_ids is not None:
        invoice_ids = [i for i in invoice_ids if i <= BIGINT_MAX]  # larger ids are never projected
    if as_of_block is not None:
        from ledger.indexer.projections import replay_invoices

        replayed = replay_invoices(
            conn,
            scope.chain_id,
            scope.invoice_contract,
            to_block=as_of_block,
            invoice_ids=list(invoice_ids) if invoice_ids is not None else None,
        )
        rows = sorted((dict(r) for r in replayed.values() if flt.matches(r)), key=lambda r: int(r["invoice_id"]))
        return rows[: flt.limit] if flt.limit is not None else rows
    query = sa.select(Invoice).where(Invoice.chain_id == scope.chain_id, Invoice.contract == scope.invoice_contract)
    if invoice_ids is not None:
        query = query.where(Invoice.invoice_id.in_(list(invoice_ids)))
    if flt.number is not None:
        query = query.where(Invoice.number_normalised == flt.number)
    if flt.statuses:
        query = query.where(Invoice.status.in_(list(flt.statuses)))
    for column, value in ((Invoice.supplier, flt.supplier), (Invoice.buyer, flt.buyer), (Invoice.holder, flt.holder)):
        if value is not None:
            query = query.where(column == value)
    if flt.due_before is not None:
        query = query.where(Invoice.due_date < flt.due_before)
    query = query.order_by(Invoice.invoice_id)
    if flt.limit is not None:
        query = query.limit(min(flt.limit, BIGINT_MAX))
    return [dict(r) for r in conn.execute(query).mappings().all()]


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.UTC).isoformat()


def financing_figures(row: Mapping[str, Any]) -> dict[str, int | None]:
    """The financing of an invoice row in minor units (None when it was never
    financed): the financier's due and what it received of it, and the
    seller's reserve still open (what the buyer still owes beyond the
    financier's open due) and released so far."""
    if row["seller"] is None:
        return dict.fromkeys(("financier_due", "financier_paid", "reserve_open", "reserve_released"))
    due, paid = int(row["financier_due"] or 0), int(row["financier_paid"] or 0)
    return {
        "financier_due": due,
        "financier_paid": paid,
        "reserve_open": int(row["outstanding"]) - (due - paid),
        "reserve_released": int(row["reserve_released"] or 0),
    }


def invoice_record(row: Mapping[str, Any], scope: Scope, names: Directory) -> dict[str, Any]:
    """One invoice for printing: flat, amounts as exact decimal strings."""
    cur = row["currency"]
    money = scope.money
    figures = financing_figures(row)
    return {
        "invoice_id": int(row["invoice_id"]),
        "number": row["number"],
        "normalised_number": row["number_normalised"],
        "status": row["status"],
        "supplier": row["supplier"],
        "supplier_name": names.name(row["supplier"]),
        "buyer": row["buyer"],
        "buyer_name": names.name(row["buyer"]),
        "holder": row["holder"],
        "holder_name": names.name(row["holder"]),
        "financier": row["financier"],
        "financier_name": names.name(row["financier"]),
        "seller": row["seller"],
        "seller_name": names.name(row["seller"]),
        "currency": scope.currency(cur).symbol,
        "amount": money(row["amount"], cur),
        "paid": money(row["paid"], cur),
        "outstanding": money(row["outstanding"], cur),
        "advance": money(row["advance"], cur),
        **{key: money(value, cur) for key, value in figures.items()},
        "due": row["due_date"].isoformat(),
        "issued_at": _iso(row["issued_at"]),
        "issued_block": int(row["issued_block"]),
        "updated_block": int(row["updated_block"]),
        "document_hash": row["doc_hash"],
    }


def list_invoices(
    conn: Connection, scope: Scope, flt: InvoiceFilter, as_of_block: int | None = None, names: Directory | None = None
) -> list[dict[str, Any]]:
    check_block(scope, as_of_block)
    names = names or directory(conn, scope)
    return [invoice_record(r, scope, names) for r in _invoice_rows(conn, scope, flt, as_of_block)]


def resolve_filter(
    names: Directory,
    statuses: str | None,
    supplier: str | None,
    buyer: str | None,
    holder: str | None,
    due_before: dt.date | None,
    limit: int | None,
    number: str | None = None,
) -> InvoiceFilter:
    """The filter of `scf invoice list`: names resolved to addresses, and an
    invoice number in its normal form (an InputError if it has none, as the
    contract would refuse it)."""
    parties = {
        role: None if text is None else names.resolve(text, role)
        for role, text in (("supplier", supplier), ("buyer", buyer), ("holder", holder))
    }
    return InvoiceFilter(
        statuses=parse_statuses(statuses) if statuses is not None else (),
        **parties,
        due_before=due_before,
        limit=limit,
        number=None if number is None else normalise_invoice_number(number),
    )


def _missing(invoice_id: int, scope: Scope, as_of_block: int | None) -> InputError:
    if as_of_block is not None:
        return InputError(f"invoice {invoice_id} did not exist at block {as_of_block}")
    upto = "nothing yet" if scope.indexed_block is None else f"up to block {scope.indexed_block}"
    return InputError(
        f"invoice {invoice_id} is not in the indexed ledger (indexed {upto}); run `scf index sync` if it is new"
    )


def show_invoice(conn: Connection, scope: Scope, invoice_id: int, as_of_block: int | None = None) -> dict[str, Any]:
    """One invoice, shaped like `scf invoice show` (parties as {address, name})."""
    check_block(scope, as_of_block)
    rows = _invoice_rows(conn, scope, InvoiceFilter(), as_of_block, invoice_ids=[invoice_id])
    if not rows:
        raise _missing(invoice_id, scope, as_of_block)
    row, names = rows[0], directory(conn, scope)
    record = invoice_record(row, scope, names)
    financed = row["seller"] is not None
    return {
        "invoice_id": record["invoice_id"],
        "number": record["number"],
        "normalised_number": record["normalised_number"],
        "status": record["status"],
        "supplier": names.party(row["supplier"]),
        "buyer": names.party(row["buyer"]),
        "holder": names.party(row["holder"]),
        "seller": names.party(row["seller"]),
        "financier": names.party(row["financier"]),
        "currency": record["currency"],
        "amount": record["amount"],
        "paid": record["paid"],
        "outstanding": record["outstanding"],
        "advance": record["advance"] if financed else None,
        "financier_due": record["financier_due"],
        "financier_paid": record["financier_paid"],
        "reserve_open": record["reserve_open"],
        "reserve_released": record["reserve_released"],
        "due": record["due"],
        "issued_at": record["issued_at"],
        "document_hash": record["document_hash"],
        "as_of_block": as_of_block if as_of_block is not None else scope.indexed_block,
    }


# -- history -------------------------------------------------------------------------------
def shown_number(number: str) -> str:
    """An invoice number for a terminal: as written, or escaped (``ascii``)
    when it holds characters a terminal could misread."""
    return number if number.isprintable() else ascii(number)


def _describe(event: str, args: Mapping[str, Any], currency: str | None, scope: Scope, names: Directory) -> str:
    def money(key: str) -> str:
        units = int(args[key])
        if currency is None:
            return f"{units} minor units"
        cur = scope.currency(currency)
        return symbol_amount(units, cur.decimals, cur.symbol)

    def who(key: str) -> str:
        address = args.get(key)
        return names.label(None if address in (None, ZERO_ADDRESS) else str(address))

    if event == "InvoiceIssued":
        number = str(args.get("number", ""))
        normal = normalised_number(number)
        spelled = shown_number(number) + ("" if normal is None or normal == number else f" (normalised {normal})")
        return (
            f"issued as number {spelled} by {who('supplier')} to {who('buyer')}: {money('amount')} "
            f"due {utc_text(int(args['dueDate']))}"
        )
    if event == "InvoiceConfirmed":
        return f"confirmed by the buyer {who('buyer')}"
    if event == "InvoiceCancelled":
        return f"cancelled by the supplier {who('supplier')}"
    if event == "FinancingOffered":
        to = "any financier" if args.get("financier") in (None, ZERO_ADDRESS) else who("financier")
        until = utc_text(int(args["expiry"]), "%Y-%m-%d %H:%M UTC")
        return f"listed for financing by {who('holder')} to {to}, min advance {money('minAdvance')}, until {until}"
    if event == "FinancingOfferWithdrawn":
        return f"listing withdrawn by {who('holder')}"
    if event == "InvoiceFinanced":
        return (
            f"financed by {who('financier')}: advance {money('advance')} paid to {who('seller')}, "
            f"financier due {money('due')} of the buyer's payments"
        )
    if event == "InvoiceRepaid":
        to_holder, amount = int(args["toHolder"]), int(args["amount"])
        split = "" if to_holder == amount else f", {money('toHolder')} of it"
        return f"repaid {money('amount')} by {who('payer')} to {who('payee')}{split} (total paid {money('totalPaid')})"
    if event == "ReserveReleased":
        return f"reserve {money('amount')} released to the seller {who('seller')}"
    if event == "ParticipantRenamed":
        return f"{who('account')} renamed to {shown_number(str(args['name']))}"
    if event == "Transfer":
        if args.get("from") in (None, ZERO_ADDRESS):
            return f"receivable minted to {who('to')}"
        if args.get("to") in (None, ZERO_ADDRESS):
            return f"receivable burnt (held by {who('from')})"
        return f"receivable transferred from {who('from')} to {who('to')}"
    shown = ", ".join(f"{k}={v}" for k, v in args.items())
    return f"{event}({shown})"


def normalised_number(number: str) -> str | None:
    """The normal form of an invoice number, None if it has none."""
    try:
        return normalise_invoice_number(number)
    except InvalidInvoiceNumber:
        return None


def _cleared_by_transfer(events: Sequence[Any], index: int) -> bool:
    """Whether the FinancingOfferWithdrawn at ``index`` is the contract
    clearing a listing because the receivable changed hands: the transfer's
    own log follows it in the same transaction."""
    withdrawn = events[index]
    following = events[index + 1] if index + 1 < len(events) else None
    return (
        following is not None
        and following.event == "Transfer"
        and following.tx_hash == withdrawn.tx_hash
        and following.log_index == withdrawn.log_index + 1
        and following.args.get("from") == withdrawn.args.get("holder")
        and following.args.get("to") not in (None, ZERO_ADDRESS)
    )


class _NameHistory:
    """The registered names of some accounts over time, from the registry's
    ParticipantAdmitted and ParticipantRenamed events (in chain order)."""

    def __init__(self, events: Iterable[Any]) -> None:
        self.changes: dict[str, list[tuple[tuple[int, int], str]]] = {}
        self.renames: list[Any] = []
        for e in events:
            account = e.args.get("account")
            if isinstance(account, str) and isinstance(e.args.get("name"), str):
                self.changes.setdefault(account, []).append(((int(e.block_number), int(e.log_index)), e.args["name"]))
                if e.event == "ParticipantRenamed":
                    self.renames.append(e)

    def at(self, position: tuple[int, int], keystore_dir: Path | None) -> Directory:
        """The names as they were just before ``position`` (block, log index)."""
        names = {}
        for account, changes in self.changes.items():
            before = [name for at, name in changes if at < position]
            if before:
                names[account] = before[-1]
        return Directory([{"address": a, "name": n} for a, n in names.items()], keystore_dir)


def _parties(events: Iterable[Any]) -> set[str]:
    """Every address an invoice's events name."""
    found = set()
    for e in events:
        for value in dict(e.args).values():
            if isinstance(value, str) and len(value) == 42 and value.startswith("0x") and value != ZERO_ADDRESS:
                found.add(value)
    return found


def invoice_history(
    conn: Connection, scope: Scope, invoice_id: int, as_of_block: int | None = None
) -> list[dict[str, Any]]:
    """Every event of one invoice (its ERC-721 transfers included), oldest
    first, and the renames of its parties between its first and last event.
    Parties are named as they were registered at each event's block."""
    check_block(scope, as_of_block)
    if invoice_id > BIGINT_MAX:  # never projected: the id column is a BIGINT
        raise _missing(invoice_id, scope, as_of_block)
    columns = (
        Event.block_number,
        Event.block_time,
        Event.tx_hash,
        Event.log_index,
        Event.event,
        Event.amount,
        Event.args,
    )
    query = (
        sa.select(*columns)
        .where(
            Event.chain_id == scope.chain_id, Event.contract == scope.invoice_contract, Event.invoice_id == invoice_id
        )
        .order_by(Event.block_number, Event.log_index)
    )
    if as_of_block is not None:
        query = query.where(Event.block_number <= as_of_block)
    events = conn.execute(query).all()
    if not any(e.event == "InvoiceIssued" for e in events):
        raise _missing(invoice_id, scope, as_of_block)
    issued = next(e for e in events if e.event == "InvoiceIssued")
    currency = str(issued.args["currency"])
    parties = sorted(_parties(events))
    registry = (
        conn.execute(
            sa.select(*columns)
            .where(
                Event.chain_id == scope.chain_id,
                Event.contract == scope.registry_contract,
                Event.account.in_(parties),
                Event.event.in_(["ParticipantAdmitted", "ParticipantRenamed"]),
                Event.block_number <= events[-1].block_number,
            )
            .order_by(Event.block_number, Event.log_index)
        ).all()
        if parties
        else []
    )
    names = _NameHistory(registry)
    first, last = (events[0].block_number, events[0].log_index), (events[-1].block_number, events[-1].log_index)
    renames = [e for e in names.renames if first < (e.block_number, e.log_index) < last]
    ordered = sorted([*events, *renames], key=lambda e: (e.block_number, e.log_index))
    out = []
    for n, e in enumerate(ordered):
        args = dict(e.args)
        names_then = names.at((int(e.block_number), int(e.log_index)), scope.keystore_dir)
        if e.event == "FinancingOfferWithdrawn" and _cleared_by_transfer(ordered, n):
            details = f"listing by {names_then.label(args.get('holder'))} cleared: the receivable changed hands"
        else:
            details = _describe(e.event, args, currency, scope, names_then)
        out.append(
            {
                "block": int(e.block_number),
                "time": _iso(e.block_time),
                "tx_hash": e.tx_hash,
                "log_index": int(e.log_index),
                "event": e.event,
                "amount": scope.money(e.amount, currency)
                if e.event not in ("Transfer", "ParticipantRenamed")
                else None,
                "details": details,
                "args": args,
            }
        )
    return out
