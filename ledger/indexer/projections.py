"""Projections: the current state of participants and invoices, and the
financing and repayment records, folded from ``events`` rows.

The fold functions (:mod:`ledger.indexer.folds`, re-exported here) are pure
(state, event row) -> state, and are the only definition of what an event
means for the ledger. The indexer applies them
per batch (one SELECT of the touched rows, one bulk INSERT and one bulk
UPDATE per table), a rebuild replays them over the stored events, and
:func:`replay_invoices` / :func:`replay_participants` run them in memory up
to any block for ``--as-of-block`` queries.

Event rows are dicts with the ``events`` columns (``args`` decoded from
JSON: integers as decimal strings), whether they come from the indexer or
from the database. Importing this module does not import web3 or eth_abi.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, or_, select

from ledger.db.models import EVENTS, FINANCINGS, INCIDENT_KINDS, INCIDENTS, INVOICES, PARTICIPANTS, REPAYMENTS
from ledger.db.scope import Scope
from ledger.indexer.bulk import BulkInsert
from ledger.indexer.folds import _INVOICE_COLUMNS, _PARTICIPANT_COLUMNS
from ledger.indexer.folds import CANCELLED as CANCELLED
from ledger.indexer.folds import CONFIRMED as CONFIRMED
from ledger.indexer.folds import FINANCED as FINANCED
from ledger.indexer.folds import INVOICE_EVENTS as INVOICE_EVENTS
from ledger.indexer.folds import ISSUED as ISSUED
from ledger.indexer.folds import PAID as PAID
from ledger.indexer.folds import PARTIALLY_PAID as PARTIALLY_PAID
from ledger.indexer.folds import PARTICIPANT_EVENTS as PARTICIPANT_EVENTS
from ledger.indexer.folds import SPLIT as SPLIT
from ledger.indexer.folds import event_args as event_args
from ledger.indexer.folds import financing_row as financing_row
from ledger.indexer.folds import fold_into as fold_into
from ledger.indexer.folds import fold_invoice as fold_invoice
from ledger.indexer.folds import fold_participant as fold_participant
from ledger.indexer.folds import incident_row as incident_row
from ledger.indexer.folds import new_invoice_state as new_invoice_state
from ledger.indexer.folds import normalised_number as normalised_number
from ledger.indexer.folds import parent_of as parent_of
from ledger.indexer.folds import repayment_row as repayment_row
from ledger.names import ZERO_ADDRESS

_CHUNK = 500
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
_INCIDENTS_INSERT = BulkInsert(INCIDENTS, [c.name for c in INCIDENTS.columns if c.name != "id"])
#: The record tables folded from invoice events, in the order they are stored
#: (after the invoices they reference).
_RECORD_INSERTS = {"financings": _FINANCINGS_INSERT, "repayments": _REPAYMENTS_INSERT, "incidents": _INCIDENTS_INSERT}


def _record_rows(ev: Mapping[str, Any], state: Mapping[str, Any], records: dict[str, list[dict[str, Any]]]) -> None:
    """Add the record row ``ev`` makes (a financing, a repayment or an
    incident), if any, to ``records`` (``state``: the invoice's, folded with ``ev``)."""
    name = ev["event"]
    if name == "InvoiceFinanced":
        records["financings"].append(financing_row(ev, state))
    elif name == "InvoiceRepaid":
        records["repayments"].append(repayment_row(ev, state))
    elif name in INCIDENT_KINDS:
        records["incidents"].append(incident_row(ev, state))


def _no_records() -> dict[str, list[dict[str, Any]]]:
    return {table: [] for table in _RECORD_INSERTS}


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
    where = {"chain_id": scope.chain_id, "contract": scope.invoice_contract}
    existing = _load(conn, table, where, "invoice_id", [i for i in first if i not in minted])
    # The stored parents of parts made here whose parent has no event here
    # (a rebuild of some invoices only): read for the fold, not written back.
    parents = {p for ev in events if (p := parent_of(ev)) is not None and p not in first}
    states: dict[int, dict[str, Any]] = {
        i: dict(row) for i, row in (_load(conn, table, where, "invoice_id", list(parents)) | existing).items()
    }
    records = _no_records()
    for ev in events:
        state = fold_into(states, ev)
        if state is not None:
            _record_rows(ev, state, records)
    # Only complete invoices are stored (a mint without InvoiceIssued cannot
    # come from this contract).
    inserts = [s for i, s in states.items() if i in first and i not in existing and s["supplier"] is not None]
    updates = [s for i, s in states.items() if i in existing]
    _INVOICES_INSERT.execute(conn, inserts)
    _INVOICES_UPSERT.execute(conn, updates)
    stored = {s["invoice_id"] for s in inserts} | set(existing)
    for kind, bulk in _RECORD_INSERTS.items():
        bulk.execute(conn, [r for r in records[kind] if r["invoice_id"] in stored])


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
    their rows, financings, repayments and incidents, as INSERT parameters
    for ``dialect``."""
    states: dict[int, dict[str, Any]] = {}
    older: set[int] = set()  # invoices whose first event here is not their mint
    records = _no_records()
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
        parent_id = parent_of(ev)
        if parent_id is not None and parent_id not in states:
            # A part of an invoice minted before this batch: the writer folds
            # it, with the parent's stored row (the split is among its events).
            del states[invoice_id]
            older.add(invoice_id)
            continue
        fold_into(states, ev)
        _record_rows(ev, state, records)
    complete = {i for i, st in states.items() if st["supplier"] is not None}
    params = {"invoices": _INVOICES_INSERT.params(dialect, [states[i] for i in sorted(complete)])}
    for kind, bulk in _RECORD_INSERTS.items():
        params[kind] = bulk.params(dialect, [r for r in records[kind] if r["invoice_id"] in complete])
    return NewInvoices(set(states), params)


def fold_rows(events: Iterable[Mapping[str, Any]]) -> tuple[dict[int, dict[str, Any]], dict[str, list[dict[str, Any]]]]:
    """Fold invoice events (chain order; one contract's) in memory, from
    nothing: the invoice states (complete ones only) and the record rows
    (``financings``, ``repayments``, ``incidents``) they make, as the
    indexer stores them. `scf verify` folds the chain's own logs with it."""
    states: dict[int, dict[str, Any]] = {}
    records = _no_records()
    for ev in events:
        if ev["invoice_id"] is None or ev["event"] not in INVOICE_EVENTS:
            continue
        state = fold_into(states, ev)
        if state is not None:
            _record_rows(ev, state, records)
    complete = {i: st for i, st in states.items() if st["supplier"] is not None}
    return complete, {kind: [r for r in rows if r["invoice_id"] in complete] for kind, rows in records.items()}


def insert_new_invoices(conn: Connection, new: NewInvoices) -> None:
    """Store what :func:`fold_new_invoices` prepared (invoices before the rows
    that reference them)."""
    _INVOICES_INSERT.execute_params(conn, new.params["invoices"], known_new=True)
    for kind, bulk in _RECORD_INSERTS.items():
        bulk.execute_params(conn, new.params[kind], known_new=True)


def prepare_plans(dialect: Any) -> None:
    """Compile the bulk statements for ``dialect`` (before forking a fetch process)."""
    for bulk in (_INVOICES_INSERT, *_RECORD_INSERTS.values()):
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
        for t in (FINANCINGS, REPAYMENTS, INCIDENTS, INVOICES):
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
    rows. Invoices not issued (or split off) by then are absent. With
    ``invoice_ids``, only those are returned, their ancestors replayed too
    (a part takes its supplier, buyer and due date from its parent)."""
    wanted = None if invoice_ids is None else set(invoice_ids)
    replayed = None if invoice_ids is None else with_ancestors(conn, chain_id, contract, invoice_ids)
    states: dict[int, dict[str, Any]] = {}
    for page in iter_events(conn, chain_id, [contract], to_block=to_block, invoice_ids=replayed):
        for ev in page:
            if ev["invoice_id"] is not None:
                fold_into(states, ev)
    return {i: s for i, s in sorted(states.items()) if s["supplier"] is not None and (wanted is None or i in wanted)}


def with_ancestors(conn: Connection, chain_id: int, contract: str, invoice_ids: Iterable[int]) -> list[int]:
    """``invoice_ids`` and every invoice they were split from, up to their
    roots, by the stored lineage (fixed when a part is made, so today's rows
    tell it for any past block)."""
    t = INVOICES
    found = set(invoice_ids)
    frontier = set(found)
    while frontier:
        parents: set[int] = set()
        for part in _chunks(sorted(frontier)):
            parents.update(
                int(p)
                for (p,) in conn.execute(
                    select(t.c.parent_id).where(
                        t.c.chain_id == chain_id,
                        t.c.contract == contract,
                        t.c.invoice_id.in_(part),
                        t.c.parent_id.is_not(None),
                    )
                )
            )
        frontier = parents - found
        found |= parents
    return sorted(found)


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
