"""Projections: the current state of participants and invoices, and the
financing and repayment records, folded from ``events`` rows.

The fold functions are pure (state, event row) -> state, and are the only
definition of what an event means for the ledger. The indexer applies them
per batch (one SELECT of the touched rows, one bulk INSERT and one bulk
UPDATE per table), a rebuild replays them over the stored events, and
:func:`replay_invoices` / :func:`replay_participants` run them in memory up
to any block for ``--as-of-block`` queries.

Event rows are dicts with the ``events`` columns (``args`` decoded from
JSON: integers as decimal strings), whether they come from the indexer or
from the database. Importing this module does not import web3 or eth_abi.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, or_, select

from ledger.db.models import EVENTS, FINANCINGS, INVOICES, PARTICIPANTS, REPAYMENTS
from ledger.db.scope import Scope
from ledger.db.timestamps import utc_from_timestamp
from ledger.indexer.bulk import BulkInsert
from ledger.invoice_numbers import MAX_NUMBER_BYTES, InvalidInvoiceNumber, normalise_invoice_number
from ledger.names import STATUS_NAMES, ZERO_ADDRESS

_, ISSUED, CONFIRMED, FINANCED, PARTIALLY_PAID, PAID, CANCELLED = STATUS_NAMES
INVOICE_EVENTS = frozenset(
    {
        "Transfer",
        "InvoiceIssued",
        "InvoiceConfirmed",
        "InvoiceCancelled",
        "FinancingOffered",
        "FinancingOfferWithdrawn",
        "InvoiceFinanced",
        "InvoiceRepaid",
        "ReserveReleased",
    }
)
PARTICIPANT_EVENTS = frozenset(
    {
        "ParticipantAdmitted",
        "ParticipantUpdated",
        "ParticipantRenamed",
        "ParticipantSuspended",
        "ParticipantReinstated",
    }
)
_CHUNK = 500
_INVOICE_COLUMNS = tuple(c.name for c in INVOICES.columns)
_PARTICIPANT_COLUMNS = tuple(c.name for c in PARTICIPANTS.columns)
_INVOICE_KEY = ("chain_id", "contract", "invoice_id")
_PARTICIPANT_KEY = ("chain_id", "contract", "address")
_INVOICES_INSERT = BulkInsert(INVOICES, _INVOICE_COLUMNS)
_PARTICIPANTS_INSERT = BulkInsert(PARTICIPANTS, _PARTICIPANT_COLUMNS)
# Changed rows are written back as upserts on the primary key: one bulk
# statement (COPY + merge on PostgreSQL) instead of an UPDATE per row.
_INVOICES_UPSERT = BulkInsert(INVOICES, _INVOICE_COLUMNS, "update", _INVOICE_KEY)
_PARTICIPANTS_UPSERT = BulkInsert(PARTICIPANTS, _PARTICIPANT_COLUMNS, "update", _PARTICIPANT_KEY)
_FINANCINGS_INSERT = BulkInsert(FINANCINGS, [c.name for c in FINANCINGS.columns if c.name != "id"])
_REPAYMENTS_INSERT = BulkInsert(REPAYMENTS, [c.name for c in REPAYMENTS.columns if c.name != "id"])


#: The json module's C scanner, without json.loads' Python wrapper around it
#: (our own decoders wrote the text: one object, no surrounding space).
_scan_json: Callable[[str, int], tuple[Any, int]] = getattr(json.JSONDecoder(), "scan_once")  # noqa: B009


def event_args(ev: Mapping[str, Any]) -> dict[str, Any]:
    """The decoded args of an event row (parsed from ``args_json`` when the
    row travelled without its dict, and kept on the row)."""
    args = ev.get("args")
    if args is None:
        args = _scan_json(ev["args_json"], 0)[0]
        if isinstance(ev, dict):
            ev["args"] = args
    return args  # type: ignore[no-any-return]


def _address(value: str) -> str | None:
    return None if value == ZERO_ADDRESS else value


def _touch(state: dict[str, Any], ev: Mapping[str, Any]) -> None:
    state["updated_block"] = ev["block_number"]
    state["updated_at"] = ev["block_time"]


#: What the normal form drops of a printable ASCII number, and the leading
#: zeros of its runs of digits (a run of zeros keeps one).
_ASCII_SEPARATORS = re.compile(r"[^0-9A-Za-z]+")
_LEADING_ZEROS = re.compile(r"(?<![0-9])0+(?=[0-9])")


def normalised_number(number: str) -> str | None:
    """The normal form of an invoice number from a log, or None if it has
    none (the contract refuses such numbers, so a log cannot carry one; a
    number with bytes that are not UTF-8, read as U+FFFD, can be too long).

    Printable ASCII numbers, nearly all of them, take a fast path with the
    same result as :func:`ledger.invoice_numbers.normalise_invoice_number`
    (a test holds the two to each other) in a sixth of the time, which counts
    when a backfill folds tens of thousands of issues."""
    if number.isascii() and number.isprintable() and len(number) <= MAX_NUMBER_BYTES:
        compact = _ASCII_SEPARATORS.sub("", number).upper()
        return _LEADING_ZEROS.sub("", compact) if compact else None
    try:
        return normalise_invoice_number(number)
    except InvalidInvoiceNumber:
        return None


def _clear_offer(state: dict[str, Any]) -> None:
    state["offer_financier"] = None
    state["offer_min_advance"] = None
    state["offer_expires_at"] = None


_BLANK_INVOICE: dict[str, Any] = dict.fromkeys(_INVOICE_COLUMNS)


def new_invoice_state(chain_id: int, contract: str, invoice_id: int) -> dict[str, Any]:
    state = _BLANK_INVOICE.copy()
    state["chain_id"] = chain_id
    state["contract"] = contract
    state["invoice_id"] = invoice_id
    return state


def fold_invoice(state: dict[str, Any] | None, ev: Mapping[str, Any]) -> dict[str, Any] | None:
    """Apply one InvoiceToken event to an invoice's state (None: not seen yet).
    Returns the new state; events that do not change an invoice return it as is.

    The contract's rules, as its events show them: a financing records the
    seller and the financier's due and consumes the listing; a payment goes
    to the holder up to what the financier side is still due (``toHolder``)
    and the rest to the seller (ReserveReleased, in the same transaction); a
    listing ends when withdrawn or when the receivable changes hands (then
    FinancingOfferWithdrawn is emitted too), never by a payment."""
    name = ev["event"]
    if name not in INVOICE_EVENTS:
        return state
    args = event_args(ev)
    if state is None:
        state = new_invoice_state(ev["chain_id"], ev["contract"], ev["invoice_id"])
    if name == "Transfer":
        # Mint (before InvoiceIssued, same transaction), sale to a financier, burn on cancel.
        state["holder"] = _address(args["to"])
    elif name == "InvoiceIssued":
        _issued(state, ev, args)
    elif name == "InvoiceConfirmed":
        state.update(status=CONFIRMED, confirmed_block=ev["block_number"], confirmed_at=ev["block_time"])
    elif name == "InvoiceCancelled":
        state.update(status=CANCELLED, cancelled_block=ev["block_number"], cancelled_at=ev["block_time"])
        _clear_offer(state)
    elif name == "FinancingOffered":
        state.update(
            offer_financier=_address(args["financier"]),
            offer_min_advance=int(args["minAdvance"]),
            offer_expires_at=utc_from_timestamp(int(args["expiry"])),
        )
    elif name == "FinancingOfferWithdrawn":
        _clear_offer(state)
    elif name == "InvoiceFinanced":
        state.update(
            status=FINANCED,
            financier=args["financier"],
            advance=int(args["advance"]),
            seller=args["seller"],
            financier_due=int(args["due"]),
            financier_paid=0,
            financed_block=ev["block_number"],
            financed_at=ev["block_time"],
        )
        _clear_offer(state)  # consumed by the financing
    elif name == "InvoiceRepaid":
        _repaid(state, ev, args)
    elif name == "ReserveReleased":
        state["reserve_released"] = (state["reserve_released"] or 0) + int(args["amount"])
    _touch(state, ev)
    return state


def _issued(state: dict[str, Any], ev: Mapping[str, Any], args: Mapping[str, Any]) -> None:
    amount = int(args["amount"])
    due_at = utc_from_timestamp(int(args["dueDate"]))
    state.update(
        supplier=args["supplier"],
        buyer=args["buyer"],
        currency=args["currency"],
        amount=amount,
        paid=0,
        outstanding=amount,
        advance=0,
        financier=None,
        status=ISSUED,
        due_at=due_at,
        due_date=due_at.date(),
        number=args["number"],
        number_normalised=normalised_number(args["number"]),
        doc_hash=args["docHash"],
        seller=None,
        financier_due=None,
        financier_paid=0,
        reserve_released=0,
        issued_block=ev["block_number"],
        issued_at=ev["block_time"],
    )


def _repaid(state: dict[str, Any], ev: Mapping[str, Any], args: Mapping[str, Any]) -> None:
    """A payment: ``toHolder`` of it went to the financier side (when financed)."""
    paid = int(args["totalPaid"])
    state.update(paid=paid, last_repaid_at=ev["block_time"])
    if state["seller"] is not None:
        state["financier_paid"] = (state["financier_paid"] or 0) + int(args["toHolder"])
    if state["amount"] is not None:
        state["outstanding"] = state["amount"] - paid
        if paid >= state["amount"]:
            state.update(status=PAID, paid_block=ev["block_number"], paid_at=ev["block_time"])
        else:
            state["status"] = PARTIALLY_PAID


def fold_participant(state: dict[str, Any] | None, ev: Mapping[str, Any]) -> dict[str, Any] | None:
    """Apply one ParticipantRegistry event to a participant's state."""
    name = ev["event"]
    if name not in PARTICIPANT_EVENTS:
        return state
    args = event_args(ev)
    if name == "ParticipantAdmitted":
        state = dict.fromkeys(_PARTICIPANT_COLUMNS)
        state.update(
            chain_id=ev["chain_id"],
            contract=ev["contract"],
            address=args["account"],
            name=args["name"],
            roles=int(args["roles"]),
            kyc_expiry=utc_from_timestamp(int(args["kycExpiry"])),
            suspended=False,
            admitted_block=ev["block_number"],
            admitted_at=ev["block_time"],
        )
    elif state is None:
        return None  # the registry refuses these for accounts never admitted
    elif name == "ParticipantUpdated":
        state.update(roles=int(args["roles"]), kyc_expiry=utc_from_timestamp(int(args["kycExpiry"])))
    elif name == "ParticipantRenamed":
        state["name"] = args["name"]
    elif name == "ParticipantSuspended":
        state["suspended"] = True
    elif name == "ParticipantReinstated":
        state["suspended"] = False
    _touch(state, ev)
    return state


def _record(ev: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "chain_id": ev["chain_id"],
        "contract": ev["contract"],
        "invoice_id": ev["invoice_id"],
        "block_number": ev["block_number"],
        "block_hash": ev["block_hash"],
        "block_time": ev["block_time"],
        "tx_hash": ev["tx_hash"],
        "log_index": ev["log_index"],
    }


def financing_row(ev: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    """The ``financings`` row of an InvoiceFinanced event (``state``: the invoice's, folded)."""
    args = event_args(ev)
    return {
        **_record(ev),
        "financier": args["financier"],
        "seller": args["seller"],
        "advance": int(args["advance"]),
        "due": int(args["due"]),
        "currency": state["currency"],
    }


def repayment_row(ev: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    """The ``repayments`` row of an InvoiceRepaid event: ``toHolder`` went to
    the payee, the rest to the seller of a financed invoice (``state``)."""
    args = event_args(ev)
    amount, to_payee = int(args["amount"]), int(args["toHolder"])
    return {
        **_record(ev),
        "payer": args["payer"],
        "payee": args["payee"],
        "amount": amount,
        "to_payee": to_payee,
        "to_seller": amount - to_payee,
        "seller": state["seller"],
        "total_paid": int(args["totalPaid"]),
        "currency": state["currency"],
    }


# -- applying a batch of events to the database ----------------------------------------------


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _load(
    conn: Connection, table: Any, scope_cols: dict[str, Any], key: str, ids: Sequence[Any]
) -> dict[Any, dict[str, Any]]:
    found: dict[Any, dict[str, Any]] = {}
    conditions = [table.c[name] == value for name, value in scope_cols.items()]
    for part in _chunks(sorted(ids)):
        for row in conn.execute(select(table).where(*conditions, table.c[key].in_(part))).mappings():
            found[row[key]] = dict(row)
    return found


def apply_events(conn: Connection, scope: Scope, events: Iterable[Mapping[str, Any]]) -> None:
    """Fold a batch of events (in chain order) into the projection tables.

    Touched rows are read once, folded in memory, and written back with one
    bulk INSERT (new rows) and one bulk upsert (changed rows) per table; an
    invoice whose first event in the batch is its mint is new, so a backfill
    reads nothing back."""
    invoice_events: list[Mapping[str, Any]] = []
    participant_events: list[Mapping[str, Any]] = []
    for ev in events:
        if ev["chain_id"] != scope.chain_id:
            continue
        if ev["contract"] == scope.invoice_contract and ev["invoice_id"] is not None:
            if ev["event"] in INVOICE_EVENTS:
                invoice_events.append(ev)
        elif ev["contract"] == scope.registry_contract and ev["event"] in PARTICIPANT_EVENTS:
            participant_events.append(ev)
    if invoice_events:
        _apply_invoices(conn, scope, invoice_events)
    if participant_events:
        _apply_participants(conn, scope, participant_events)


def _apply_invoices(conn: Connection, scope: Scope, events: list[Mapping[str, Any]]) -> None:
    table = INVOICES
    first: dict[int, Mapping[str, Any]] = {}
    for ev in events:
        first.setdefault(ev["invoice_id"], ev)
    minted = {i for i, ev in first.items() if _is_mint(ev)}
    existing = _load(
        conn,
        table,
        {"chain_id": scope.chain_id, "contract": scope.invoice_contract},
        "invoice_id",
        [i for i in first if i not in minted],
    )
    states: dict[int, dict[str, Any]] = {i: dict(row) for i, row in existing.items()}
    financings: list[dict[str, Any]] = []
    repayments: list[dict[str, Any]] = []
    for ev in events:
        invoice_id = ev["invoice_id"]
        state = fold_invoice(states.get(invoice_id), ev)
        if state is None:
            continue
        states[invoice_id] = state
        if ev["event"] == "InvoiceFinanced":
            financings.append(financing_row(ev, state))
        elif ev["event"] == "InvoiceRepaid":
            repayments.append(repayment_row(ev, state))
    # Only complete invoices are stored (a mint without InvoiceIssued cannot
    # come from this contract).
    inserts = [s for i, s in states.items() if i not in existing and s["supplier"] is not None]
    updates = [s for i, s in states.items() if i in existing]
    _INVOICES_INSERT.execute(conn, inserts)
    _INVOICES_UPSERT.execute(conn, updates)
    stored = {s["invoice_id"] for s in inserts} | set(existing)
    _FINANCINGS_INSERT.execute(conn, [r for r in financings if r["invoice_id"] in stored])
    _REPAYMENTS_INSERT.execute(conn, [r for r in repayments if r["invoice_id"] in stored])


@dataclass
class NewInvoices:
    """The projection rows of invoices minted within one batch of events,
    folded without the database (an invoice whose first event is its mint
    cannot have a stored row yet): what the fetch process can do ahead of
    the writer. ``params`` holds them as INSERT parameters for one dialect."""

    handled: set[int]
    params: dict[str, list[tuple[Any, ...]]]


def _is_mint(ev: Mapping[str, Any]) -> bool:
    return ev["event"] == "Transfer" and event_args(ev).get("from") == ZERO_ADDRESS


def fold_new_invoices(scope: Scope, events: Sequence[Mapping[str, Any]], dialect: Any) -> NewInvoices:
    """Fold the invoices of ``scope`` minted in ``events`` (chain order) into
    their rows, financings and repayments, as INSERT parameters for ``dialect``."""
    states: dict[int, dict[str, Any]] = {}
    older: set[int] = set()  # invoices whose first event here is not their mint
    financings: list[dict[str, Any]] = []
    repayments: list[dict[str, Any]] = []
    chain_id, contract = scope.chain_id, scope.invoice_contract
    for ev in events:
        invoice_id = ev["invoice_id"]
        if invoice_id is None or ev["contract"] != contract or ev["chain_id"] != chain_id:
            continue
        state = states.get(invoice_id)
        if state is None:
            if invoice_id in older:
                continue
            if not _is_mint(ev):
                older.add(invoice_id)
                continue
            state = states[invoice_id] = new_invoice_state(chain_id, contract, invoice_id)
        name = ev["event"]
        if name not in INVOICE_EVENTS:
            continue
        fold_invoice(state, ev)
        if name == "InvoiceFinanced":
            financings.append(financing_row(ev, state))
        elif name == "InvoiceRepaid":
            repayments.append(repayment_row(ev, state))
    complete = {i for i, st in states.items() if st["supplier"] is not None}
    return NewInvoices(
        set(states),
        {
            "invoices": _INVOICES_INSERT.params(dialect, [states[i] for i in sorted(complete)]),
            "financings": _FINANCINGS_INSERT.params(dialect, [r for r in financings if r["invoice_id"] in complete]),
            "repayments": _REPAYMENTS_INSERT.params(dialect, [r for r in repayments if r["invoice_id"] in complete]),
        },
    )


def insert_new_invoices(conn: Connection, new: NewInvoices) -> None:
    """Store what :func:`fold_new_invoices` prepared (invoices before the rows
    that reference them)."""
    _INVOICES_INSERT.execute_params(conn, new.params["invoices"], known_new=True)
    _FINANCINGS_INSERT.execute_params(conn, new.params["financings"], known_new=True)
    _REPAYMENTS_INSERT.execute_params(conn, new.params["repayments"], known_new=True)


def prepare_plans(dialect: Any) -> None:
    """Compile the bulk statements for ``dialect`` (before forking a fetch process)."""
    for bulk in (_INVOICES_INSERT, _FINANCINGS_INSERT, _REPAYMENTS_INSERT):
        bulk.params(dialect, [])


def _apply_participants(conn: Connection, scope: Scope, events: list[Mapping[str, Any]]) -> None:
    table = PARTICIPANTS
    accounts = {event_args(ev)["account"] for ev in events}
    existing = _load(
        conn, table, {"chain_id": scope.chain_id, "contract": scope.registry_contract}, "address", list(accounts)
    )
    states: dict[str, dict[str, Any] | None] = {a: dict(row) for a, row in existing.items()}
    for ev in events:
        account = event_args(ev)["account"]
        states[account] = fold_participant(states.get(account), ev)
    inserts = [s for a, s in states.items() if s is not None and a not in existing]
    updates = [s for a, s in states.items() if s is not None and a in existing]
    _PARTICIPANTS_INSERT.execute(conn, inserts)
    _PARTICIPANTS_UPSERT.execute(conn, updates)


# -- reading events back ------------------------------------------------------------------------


def iter_events(
    conn: Connection,
    chain_id: int,
    contracts: Sequence[str],
    *,
    from_block: int | None = None,
    to_block: int | None = None,
    invoice_ids: Sequence[int] | None = None,
    accounts: Sequence[str] | None = None,
    page: int = 5000,
) -> Iterator[list[dict[str, Any]]]:
    """Stored events of ``contracts`` in chain order, in pages (keyset
    pagination on (block_number, log_index), so memory stays bounded)."""
    t = EVENTS
    conditions = [t.c.chain_id == chain_id, t.c.contract.in_(list(contracts))]
    if from_block is not None:
        conditions.append(t.c.block_number >= from_block)
    if to_block is not None:
        conditions.append(t.c.block_number <= to_block)
    if invoice_ids is not None or accounts is not None:
        either = []
        if invoice_ids:
            either.append(t.c.invoice_id.in_(list(invoice_ids)))
        if accounts:
            either.append(t.c.account.in_(list(accounts)))
        if not either:
            return
        conditions.append(or_(*either))
    last: tuple[int, int] | None = None
    while True:
        stmt = select(t).where(*conditions)
        if last is not None:
            stmt = stmt.where(
                or_(t.c.block_number > last[0], and_(t.c.block_number == last[0], t.c.log_index > last[1]))
            )
        rows = [dict(r) for r in conn.execute(stmt.order_by(t.c.block_number, t.c.log_index).limit(page)).mappings()]
        if not rows:
            return
        yield rows
        last = (rows[-1]["block_number"], rows[-1]["log_index"])
        if len(rows) < page:
            return


def delete_projections(
    conn: Connection, scope: Scope, invoice_ids: Sequence[int] | None = None, accounts: Sequence[str] | None = None
) -> None:
    """Delete the projection rows of ``scope`` (all of them when no ids/accounts are given)."""
    everything = invoice_ids is None and accounts is None
    if everything or invoice_ids:
        for t in (FINANCINGS, REPAYMENTS, INVOICES):
            cond = [t.c.chain_id == scope.chain_id, t.c.contract == scope.invoice_contract]
            if everything:
                conn.execute(delete(t).where(*cond))
            else:
                for part in _chunks(sorted(invoice_ids or [])):
                    conn.execute(delete(t).where(*cond, t.c.invoice_id.in_(part)))
    if everything or accounts:
        t = PARTICIPANTS
        cond = [t.c.chain_id == scope.chain_id, t.c.contract == scope.registry_contract]
        if everything:
            conn.execute(delete(t).where(*cond))
        else:
            for part in _chunks(sorted(accounts or [])):
                conn.execute(delete(t).where(*cond, t.c.address.in_(part)))


def rebuild_projections(
    conn: Connection, scope: Scope, invoice_ids: Sequence[int] | None = None, accounts: Sequence[str] | None = None
) -> int:
    """Drop and replay the projections of ``scope`` from the stored events
    (only the given invoices / participants when any are given). Returns the
    number of events replayed."""
    if invoice_ids is not None and accounts is not None and not invoice_ids and not accounts:
        return 0
    delete_projections(conn, scope, invoice_ids, accounts)
    replayed = 0
    for page in iter_events(
        conn,
        scope.chain_id,
        [scope.invoice_contract, scope.registry_contract],
        invoice_ids=invoice_ids,
        accounts=accounts,
    ):
        apply_events(conn, scope, page)
        replayed += len(page)
    return replayed


# -- as of a block, in memory -------------------------------------------------------------------


def replay_invoices(
    conn: Connection,
    chain_id: int,
    contract: str,
    to_block: int | None = None,
    invoice_ids: Sequence[int] | None = None,
) -> dict[int, dict[str, Any]]:
    """Invoice states as of the end of ``to_block`` (None: the latest indexed),
    folded in memory from the stored events: dicts shaped like ``invoices``
    rows. Invoices not issued by then are absent."""
    states: dict[int, dict[str, Any]] = {}
    for page in iter_events(conn, chain_id, [contract], to_block=to_block, invoice_ids=invoice_ids):
        for ev in page:
            if ev["invoice_id"] is None:
                continue
            state = fold_invoice(states.get(ev["invoice_id"]), ev)
            if state is not None:
                states[ev["invoice_id"]] = state
    return {i: s for i, s in sorted(states.items()) if s["supplier"] is not None}


def replay_participants(
    conn: Connection, chain_id: int, contract: str, to_block: int | None = None
) -> dict[str, dict[str, Any]]:
    """Participant states as of the end of ``to_block``, shaped like ``participants`` rows."""
    states: dict[str, dict[str, Any] | None] = {}
    for page in iter_events(conn, chain_id, [contract], to_block=to_block):
        for ev in page:
            account = ev["args"].get("account")
            if isinstance(account, str):
                states[account] = fold_participant(states.get(account), ev)
    return {a: s for a, s in states.items() if s is not None}
