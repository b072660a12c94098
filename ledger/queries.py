"""Queries on the indexed ledger: invoices (filtered, with their listing
for financing), the overdue receivables, one invoice's history, and
participants, now or as they were at a past block.

Reads the database only. This module and what it imports never import web3,
so `scf invoice list` and friends start fast; a test enforces it. Amounts come
out as exact decimal strings with the currency's number of places (from the
deployment record), never floats.

"As of block N" replays the stored events up to N through the indexer's own
projection code (``ledger.indexer.projections``), so a past view and the live
projections cannot disagree about what an event means.

Time-bound states (a listing's expiry, past due) are judged at
:func:`ledger_time`: at block N its time, else the later of the indexed
head's block time and the wall clock, as decisions and reports do. Past due
is judged on business dates (:func:`overdue_day`): a due date is the end of
that day in the business time zone, so an open receivable due D is 1 day
past due on D+1.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, Connection

from ledger.business_time import business_date, kyc_last_day
from ledger.db.scope import grace_period_at
from ledger.db.session import read_connection as read_connection
from ledger.db.tables import INCIDENTS, INVOICES, PARTICIPANTS
from ledger.errors import InputError
from ledger.format import date_text, grace_days, party
from ledger.history import invoice_history as invoice_history
from ledger.history import normalised_number as normalised_number
from ledger.history import shown_number as shown_number
from ledger.invoice_numbers import normalise_invoice_number
from ledger.names import DEFAULTED_STATUS_NAMES, FINANCEABLE_STATUS_NAMES, OPEN_STATUS_NAMES, checksum, role_names
from ledger.names import ROLE_BITS as ROLE_BITS
from ledger.names import STATUS_NAMES as STATUS_NAMES
from ledger.scope import BIGINT_MAX as BIGINT_MAX
from ledger.scope import Directory as Directory
from ledger.scope import Scope as Scope
from ledger.scope import _iso, _missing
from ledger.scope import block_time as block_time
from ledger.scope import check_block as check_block
from ledger.scope import find_scope as find_scope
from ledger.scope import read_db as read_db


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


# -- participants --------------------------------------------------------------------------
def _participant_rows(conn: Connection, scope: Scope, as_of_block: int | None) -> list[dict[str, Any]]:
    if as_of_block is None:
        rows = (
            conn.execute(
                sa.select(PARTICIPANTS).where(
                    PARTICIPANTS.c.chain_id == scope.chain_id, PARTICIPANTS.c.contract == scope.registry_contract
                )
            )
            .mappings()
            .all()
        )
        return [dict(r) for r in rows]
    from ledger.indexer.projections import replay_participants

    replayed = replay_participants(conn, scope.chain_id, scope.registry_contract, to_block=as_of_block)
    return [dict(r) for r in replayed.values()]


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
                "kyc_until": date_text(kyc_last_day(int(kyc_expiry.timestamp()))),
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


# -- the ledger's "now" ----------------------------------------------------------------------
def ledger_time(
    conn: Connection, scope: Scope, as_of_block: int | None = None, now: dt.datetime | None = None
) -> dt.datetime:
    """The moment a query judges time-bound states at (a listing's expiry,
    past due): at block N, that block's time; else the later of the indexed
    head's block time and the wall clock (``now``, given by tests), as
    decisions and reports take it: an idle chain's last block can be hours
    old, and a private chain's clock can run ahead of the wall clock."""
    at = dt.datetime.now(dt.UTC) if now is None else now
    if as_of_block is not None:
        return block_time(conn, scope.chain_id, as_of_block) or at
    if scope.indexed_block is None:
        return at
    return max(at, block_time(conn, scope.chain_id, scope.indexed_block) or at)


def overdue_day(
    conn: Connection,
    scope: Scope,
    as_of: dt.date | None = None,
    as_of_block: int | None = None,
    now: dt.datetime | None = None,
) -> dt.date:
    """The business date overdue is judged on: ``as_of`` when given, else
    the business date of :func:`ledger_time`."""
    return as_of if as_of is not None else business_date(ledger_time(conn, scope, as_of_block, now))


# -- invoices ------------------------------------------------------------------------------
#: The statuses of a confirmed receivable the buyer owes on its terms (an
#: unconfirmed invoice is no receivable yet): it can be disputed, extended,
#: moved, and defaulted once past due plus grace.
OPEN_STATUSES = OPEN_STATUS_NAMES
#: Statuses after a default (payments then are recoveries).
DEFAULTED_STATUSES = DEFAULTED_STATUS_NAMES
#: The statuses that can be overdue (past due and not fully paid): open ones and
#: defaulted ones. A disputed receivable is not: what it owes is in question.
OVERDUE_STATUSES = OPEN_STATUSES + DEFAULTED_STATUSES


def days_past_due(due_date: dt.date, day: dt.date) -> int:
    """Whole days ``day`` is past ``due_date`` (0 or less: not past due). A
    due date is the end of that business day, so an invoice due D is 1 day
    past due on D+1."""
    return (day - due_date).days


def is_overdue(row: Mapping[str, Any], day: dt.date) -> bool:
    """An open receivable with something unpaid, past due on business date ``day``."""
    return row["status"] in OVERDUE_STATUSES and int(row["outstanding"]) > 0 and days_past_due(row["due_date"], day) > 0


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
    #: Who financed it.
    financier: str | None = None
    #: The address of its currency (the settlement token).
    currency: str | None = None
    due_after: dt.date | None = None
    #: Only open receivables past due on this business date (:func:`is_overdue`).
    overdue_on: dt.date | None = None
    #: Only ids above this one (keyset pagination: the last id of the page before).
    after_id: int | None = None

    def matches(self, row: Mapping[str, Any]) -> bool:
        return (
            (not self.statuses or row["status"] in self.statuses)
            and (self.supplier is None or row["supplier"] == self.supplier)
            and (self.buyer is None or row["buyer"] == self.buyer)
            and (self.holder is None or row["holder"] == self.holder)
            and (self.financier is None or row["financier"] == self.financier)
            and (self.currency is None or str(row["currency"]).lower() == self.currency.lower())
            and (self.due_before is None or row["due_date"] < self.due_before)
            and (self.due_after is None or row["due_date"] > self.due_after)
            and (self.number is None or row["number_normalised"] == self.number)
            and (self.overdue_on is None or is_overdue(row, self.overdue_on))
            and (self.after_id is None or int(row["invoice_id"]) > self.after_id)
        )


def _invoice_query(
    scope: Scope, flt: InvoiceFilter, invoice_ids: Sequence[int] | None, where: ColumnElement[bool] | None
) -> Any:
    """:func:`_invoice_rows`' SQL on the live projection."""
    query = sa.select(INVOICES).where(
        INVOICES.c.chain_id == scope.chain_id, INVOICES.c.contract == scope.invoice_contract
    )
    if invoice_ids is not None:
        query = query.where(INVOICES.c.invoice_id.in_(list(invoice_ids)))
    if flt.number is not None:
        query = query.where(INVOICES.c.number_normalised == flt.number)
    if flt.statuses:
        query = query.where(INVOICES.c.status.in_(list(flt.statuses)))
    for column, value in (
        (INVOICES.c.supplier, flt.supplier),
        (INVOICES.c.buyer, flt.buyer),
        (INVOICES.c.holder, flt.holder),
        (INVOICES.c.financier, flt.financier),
        (INVOICES.c.currency, flt.currency),
    ):
        if value is not None:
            query = query.where(column == value)
    if flt.due_before is not None:
        query = query.where(INVOICES.c.due_date < flt.due_before)
    if flt.due_after is not None:
        query = query.where(INVOICES.c.due_date > flt.due_after)
    if flt.overdue_on is not None:
        query = query.where(
            INVOICES.c.status.in_(OVERDUE_STATUSES), INVOICES.c.outstanding > 0, INVOICES.c.due_date < flt.overdue_on
        )
    if flt.after_id is not None:
        query = query.where(INVOICES.c.invoice_id > flt.after_id)
    if where is not None:
        query = query.where(where)
    query = query.order_by(INVOICES.c.invoice_id)
    if flt.limit is not None:
        query = query.limit(min(flt.limit, BIGINT_MAX))
    return query


def _invoice_rows(
    conn: Connection,
    scope: Scope,
    flt: InvoiceFilter,
    as_of_block: int | None,
    invoice_ids: Sequence[int] | None = None,
    where: ColumnElement[bool] | None = None,
) -> list[dict[str, Any]]:
    """The rows ``flt`` matches, by id; ``where`` (an SQL condition on
    ``invoices``, the API's visibility) applies to the live projection only."""
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
    query = _invoice_query(scope, flt, invoice_ids, where)
    return [dict(r) for r in conn.execute(query).mappings().all()]


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


def listing_live(row: Mapping[Any, Any], at: dt.datetime) -> bool:
    """Whether the listing ``row`` (an invoices row) stores is live at ``at``, as the
    contract judges it: stored, not expired, and the receivable still financeable (a
    repayment in full leaves the listing stored but ends it for good).
    :func:`listing_live_clause` is the same in SQL."""
    expires = row.get("offer_expires_at")
    return (
        expires is not None
        and bool(row.get("offer_min_advance"))
        and at <= expires
        and row.get("status") in FINANCEABLE_STATUS_NAMES
    )


def listing_live_clause(at: dt.datetime) -> ColumnElement[bool]:
    """:func:`listing_live` as a condition on ``invoices`` rows."""
    i = INVOICES.c
    return sa.and_(i.offer_expires_at >= at, i.offer_min_advance > 0, i.status.in_(FINANCEABLE_STATUS_NAMES))


def listing_figures(row: Mapping[str, Any], scope: Scope, names: Directory, at: dt.datetime | None) -> dict[str, Any]:
    """The holder's listing of a receivable for financing, as it stands at
    ``at`` (None: the wall clock): ``listed`` (:func:`listing_live`), and while listed
    to whom (``offer_to`` None: any financier), until when and the minimum
    advance asked; otherwise those are None."""
    expires = row.get("offer_expires_at")
    listed = listing_live(row, dt.datetime.now(dt.UTC) if at is None else at)
    return {
        "listed": listed,
        "offer_to": row["offer_financier"] if listed else None,
        "offer_to_name": names.name(row["offer_financier"]) if listed else None,
        "offer_until": _iso(expires) if listed else None,
        "offer_asking": scope.money(row["offer_min_advance"], row["currency"]) if listed else None,
        "offer_recourse": bool(row.get("offer_recourse")) if listed else None,
    }


def invoice_record(
    row: Mapping[str, Any], scope: Scope, names: Directory, at: dt.datetime | None = None
) -> dict[str, Any]:
    """One invoice for printing: flat, amounts as exact decimal strings; its
    listing as it stands at ``at`` (:func:`listing_figures`)."""
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
        **listing_figures(row, scope, names, at),
        **lineage(row),
        **remedy_figures(row, scope),
    }


def remedy_figures(row: Mapping[str, Any], scope: Scope) -> dict[str, Any]:
    """What went wrong with an invoice row (contracts version 4), for
    printing: credit notes (``credited``), the financing's default terms
    (``recourse`` and ``grace_days``, the grace in days, None while
    unfinanced: the deployment's applies, see :func:`deployment_grace_period`),
    the status a dispute interrupted, a proposed due date not yet accepted,
    accepted extensions, when it was declared in default, what its holder
    wrote off and what the buyer paid after the default (``recovered``)."""
    cur = row["currency"]
    grace = row.get("grace_period")
    proposed = row.get("proposed_due_at")
    financed = row["seller"] is not None
    return {
        "credited": scope.amount(row.get("credited") or 0, cur),
        "recourse": bool(row.get("recourse")) if financed else None,
        "grace_days": None if grace is None or not financed else grace_days(int(grace)),
        "disputed_from": row.get("disputed_from"),
        "proposed_due": None if proposed is None else business_date(proposed).isoformat(),
        "extensions": int(row.get("extensions") or 0),
        "defaulted_at": _iso(row.get("defaulted_at")),
        "defaulted_block": None if row.get("defaulted_block") is None else int(row["defaulted_block"]),
        "written_off": scope.amount(row.get("written_off") or 0, cur),
        "recovered": scope.amount(row.get("recovered") or 0, cur),
    }


def lineage(row: Mapping[str, Any]) -> dict[str, int | None]:
    """Where an invoice row sits in its tree: ``parent_id`` (None for a root),
    ``root_id`` and ``depth`` (0 for a root; its tier is depth + 1)."""
    parent = row.get("parent_id")
    return {
        "parent_id": None if parent is None else int(parent),
        "root_id": int(row.get("root_id") or row["invoice_id"]),
        "depth": int(row.get("depth") or 0),
    }


#: The parties of an :func:`invoice_record`, each a pair of columns (``x`` and ``x_name``).
INVOICE_PARTIES = ("supplier", "buyer", "holder", "financier", "seller", "offer_to")
_PARTY_NAME_KEYS = frozenset(f"{p}_name" for p in INVOICE_PARTIES)


def party_shaped(row: Mapping[str, Any]) -> dict[str, Any]:
    """A flat invoice record (CSV's shape) in JSON's shape: each party one
    ``{"address", "name"}`` object (None for no one), in place of the pair of
    columns."""
    out = {key: value for key, value in row.items() if key not in _PARTY_NAME_KEYS}
    for role in INVOICE_PARTIES:
        if role in row:
            out[role] = party(row[role], row.get(f"{role}_name"))
    return out


def list_invoices(
    conn: Connection,
    scope: Scope,
    flt: InvoiceFilter,
    as_of_block: int | None = None,
    names: Directory | None = None,
    now: dt.datetime | None = None,
    where: ColumnElement[bool] | None = None,
) -> list[dict[str, Any]]:
    """The invoices ``flt`` matches, by id; listings judged at
    :func:`ledger_time`; ``where``: an SQL condition on ``invoices`` (live
    projection only: an InputError with ``as_of_block``)."""
    check_block(scope, as_of_block)
    if where is not None and as_of_block is not None:
        raise InputError("a past block cannot be read with a visibility condition")
    names = names or directory(conn, scope)
    at = ledger_time(conn, scope, as_of_block, now)
    rows = _invoice_rows(conn, scope, flt, as_of_block, where=where)
    return [invoice_record(r, scope, names, at) for r in rows]


def currency_address(scope: Scope, symbol: str) -> str:
    """The address of the settlement token ``symbol`` (any case) of the
    deployment; an InputError naming the known ones otherwise."""
    for currency in scope.currencies.values():
        if currency.symbol.casefold() == symbol.strip().casefold():
            return checksum(currency.address)
    known = ", ".join(sorted(c.symbol for c in scope.currencies.values())) or "none"
    raise InputError(f"unknown currency {symbol!r}; this deployment settles in: {known}")


def resolve_filter(
    names: Directory,
    statuses: str | None,
    supplier: str | None,
    buyer: str | None,
    holder: str | None,
    due_before: dt.date | None,
    limit: int | None,
    number: str | None = None,
    *,
    financier: str | None = None,
    currency: str | None = None,
    due_after: dt.date | None = None,
    overdue_on: dt.date | None = None,
) -> InvoiceFilter:
    """The filter of `scf invoice list`: names resolved to addresses, and an
    invoice number in its normal form (an InputError if it has none, as the
    contract would refuse it). ``currency`` is the token's address
    (:func:`currency_address`). A due range with no date in it
    (``--due-after`` not at least two days before ``--due-before``: both
    are strict) is an InputError, not an empty list."""
    if due_after is not None and due_before is not None and (due_before - due_after).days < 2:
        raise InputError(
            f"no due date is after {due_after.isoformat()} and before {due_before.isoformat()} (both are "
            "strict); widen the range"
        )
    parties = {
        role: None if text is None else names.resolve(text, role)
        for role, text in (("supplier", supplier), ("buyer", buyer), ("holder", holder), ("financier", financier))
    }
    return InvoiceFilter(
        statuses=parse_statuses(statuses) if statuses is not None else (),
        supplier=parties["supplier"],
        buyer=parties["buyer"],
        holder=parties["holder"],
        financier=parties["financier"],
        due_before=due_before,
        due_after=due_after,
        currency=currency,
        overdue_on=overdue_on,
        limit=limit,
        number=None if number is None else normalise_invoice_number(number),
    )


def overdue_invoices(
    conn: Connection, scope: Scope, day: dt.date, names: Directory | None = None
) -> list[dict[str, Any]]:
    """Receivables past due on business date ``day`` (:func:`is_overdue`:
    open or defaulted, something unpaid), most days past due first (then by
    id): days past due, what the buyer still owes (``outstanding``), the
    holder it is owed to and the buyer (parties as ``{"address", "name"}``),
    and for an open one ``default_from``: the moment after which its holder
    may declare a default (due plus the grace that applies, the financing's
    or the deployment's; :func:`defaultable_after`)."""
    names = names or directory(conn, scope)
    rows = _invoice_rows(conn, scope, InvoiceFilter(overdue_on=day), None)
    deployment_grace = deployment_grace_period(conn, scope)

    def default_from(r: Mapping[str, Any]) -> str | None:
        if r["status"] not in OPEN_STATUSES:
            return None
        after = defaultable_after(r, effective_grace_period(r, deployment_grace=deployment_grace))
        return None if after is None else _iso(after)

    out = [
        {
            "invoice_id": int(r["invoice_id"]),
            "number": r["number"],
            "status": r["status"],
            "days_past_due": days_past_due(r["due_date"], day),
            "due": r["due_date"].isoformat(),
            "currency": scope.symbol(r["currency"]),
            "outstanding": scope.amount(r["outstanding"], r["currency"]),
            "holder": names.party(r["holder"]),
            "buyer": names.party(r["buyer"]),
            "supplier": names.party(r["supplier"]),
            "financed": r["seller"] is not None,
            "default_from": default_from(r),
        }
        for r in rows
    ]
    return sorted(out, key=lambda r: (-r["days_past_due"], r["invoice_id"]))


def show_invoice(conn: Connection, scope: Scope, invoice_id: int, as_of_block: int | None = None) -> dict[str, Any]:
    """One invoice, shaped like `scf invoice show` (parties as {address, name})."""
    check_block(scope, as_of_block)
    rows = _invoice_rows(conn, scope, InvoiceFilter(), as_of_block, invoice_ids=[invoice_id])
    if not rows:
        raise _missing(invoice_id, scope, as_of_block)
    row, names = rows[0], directory(conn, scope)
    record = invoice_record(row, scope, names)
    financed = row["seller"] is not None
    # The grace that applies: the financing's, else the deployment's at that block.
    grace = effective_grace_period(row, conn, scope, as_of_block)
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
        **lineage(row),
        **{key: record[key] for key in REMEDY_KEYS},
        "grace_days": None if grace is None else grace_days(grace),
        "as_of_block": as_of_block if as_of_block is not None else scope.indexed_block,
    }


# -- trees (multi-tier receivables) ------------------------------------------------------------
def _root_of(conn: Connection, scope: Scope, invoice_id: int) -> int | None:
    """The root of the tree ``invoice_id`` belongs to, by its stored lineage
    (fixed when a part is made, so it holds for any past block too)."""
    if invoice_id > BIGINT_MAX:
        return None
    found = conn.execute(
        sa.select(INVOICES.c.root_id).where(
            INVOICES.c.chain_id == scope.chain_id,
            INVOICES.c.contract == scope.invoice_contract,
            INVOICES.c.invoice_id == invoice_id,
        )
    ).scalar()
    return None if found is None else int(found)


def _tree_rows(conn: Connection, scope: Scope, root_id: int, as_of_block: int | None) -> list[dict[str, Any]]:
    """Every node of the tree of ``root_id``: as stored, or replayed to ``as_of_block``."""
    ids = [
        int(i)
        for i in conn.execute(
            sa.select(INVOICES.c.invoice_id).where(
                INVOICES.c.chain_id == scope.chain_id,
                INVOICES.c.contract == scope.invoice_contract,
                INVOICES.c.root_id == root_id,
            )
        ).scalars()
    ]
    return _invoice_rows(conn, scope, InvoiceFilter(), as_of_block, invoice_ids=ids or [root_id])


def invoice_tree(conn: Connection, scope: Scope, invoice_id: int, as_of_block: int | None = None) -> dict[str, Any]:
    """The whole tree of receivables ``invoice_id`` belongs to (any node finds
    its root), from the root down, now or as it was at ``as_of_block``: each
    node with its id, depth and tier (depth + 1), status, holder, supplier and
    buyer (``{"address", "name"}``, today's names), amount, paid and
    outstanding (exact strings; a Split node owes nothing itself: its open
    amount is in its children), due date, the financier, advance and seller
    when financed (else None), and its children by id. ``leaves`` and
    ``open_leaves`` count the nodes without children and those still owed
    something; ``outstanding`` is what the buyer still owes on the tree."""
    check_block(scope, as_of_block)
    root_id = _root_of(conn, scope, invoice_id)
    rows = [] if root_id is None else _tree_rows(conn, scope, root_id, as_of_block)
    by_id = {int(r["invoice_id"]): r for r in rows}
    if invoice_id not in by_id or root_id not in by_id:
        raise _missing(invoice_id, scope, as_of_block)
    names = directory(conn, scope)
    children: dict[int, list[int]] = {}
    for i, r in sorted(by_id.items()):
        if r.get("parent_id") is not None and int(r["parent_id"]) in by_id:
            children.setdefault(int(r["parent_id"]), []).append(i)
    root = by_id[root_id]
    cur = root["currency"]

    def node(i: int) -> dict[str, Any]:
        r = by_id[i]
        financed = r["seller"] is not None
        depth = int(r.get("depth") or 0)
        return {
            "invoice_id": i,
            "parent_id": None if r.get("parent_id") is None else int(r["parent_id"]),
            "depth": depth,
            "tier": depth + 1,
            "status": r["status"],
            "holder": names.party(r["holder"]),
            "supplier": names.party(r["supplier"]),
            "buyer": names.party(r["buyer"]),
            "amount": scope.amount(r["amount"], cur),
            "paid": scope.amount(r["paid"], cur),
            "outstanding": scope.amount(r["outstanding"], cur),
            "due": r["due_date"].isoformat(),
            "financed": financed,
            "financier": names.party(r["financier"]) if financed else None,
            "seller": names.party(r["seller"]) if financed else None,
            "advance": scope.amount(r["advance"], cur) if financed else None,
            "children": [node(c) for c in children.get(i, [])],
        }

    leaves = [r for i, r in by_id.items() if i not in children]
    return {
        "invoice_id": invoice_id,
        "root_id": root_id,
        "number": root["number"],
        "currency": scope.symbol(cur),
        "nodes": len(by_id),
        "leaves": len(leaves),
        "open_leaves": sum(1 for r in leaves if int(r["outstanding"]) > 0 and r["status"] in OVERDUE_STATUSES),
        "outstanding": scope.amount(sum(int(r["outstanding"]) for r in by_id.values()), cur),
        "as_of_block": as_of_block if as_of_block is not None else scope.indexed_block,
        "tree": node(root_id),
    }


# -- when things go wrong (contracts version 4) -------------------------------------------------
#: The keys :func:`remedy_figures` adds to an invoice record.
REMEDY_KEYS = (
    "credited",
    "recourse",
    "grace_days",
    "disputed_from",
    "proposed_due",
    "extensions",
    "defaulted_at",
    "defaulted_block",
    "written_off",
    "recovered",
)


def deployment_grace_period(conn: Connection, scope: Scope, as_of_block: int | None = None) -> int | None:
    """The deployment's grace period in seconds as of ``as_of_block`` (None:
    the latest indexed): :func:`ledger.db.scope.grace_period_at` of ``scope``."""
    return grace_period_at(conn, scope.chain_id, scope.invoice_contract, as_of_block)


def effective_grace_period(
    row: Mapping[str, Any],
    conn: Connection | None = None,
    scope: Scope | None = None,
    as_of_block: int | None = None,
    deployment_grace: int | None = None,
) -> int | None:
    """The grace period in seconds after an invoice's due date before its
    holder may declare a default, as the contract takes it: the financing's
    when financed, else the deployment's (``deployment_grace``, or read with
    :func:`deployment_grace_period` when ``conn`` and ``scope`` are given)."""
    if row["seller"] is not None:
        return None if row.get("grace_period") is None else int(row["grace_period"])
    if deployment_grace is None and conn is not None and scope is not None:
        deployment_grace = deployment_grace_period(conn, scope, as_of_block)
    return deployment_grace


def defaultable_after(row: Mapping[str, Any], grace: int | None) -> dt.datetime | None:
    """The moment after which the holder may declare a default: the due
    timestamp plus the grace period (the contract allows it when the block's
    time is strictly later); None without a known grace period."""
    if grace is None:
        return None
    due_at: dt.datetime = row["due_at"]
    return due_at + dt.timedelta(seconds=grace)


def holder_claim(row: Mapping[str, Any]) -> int:
    """What the buyer's open amount owes the holder, in minor units, as the
    contract's ``holderClaim`` reckons it: all of it unless a financier (not
    the seller) holds it, which is owed the rest of its due."""
    if row["seller"] is None or row["seller"] == row["holder"]:
        return int(row["outstanding"])
    return int(row["financier_due"] or 0) - int(row["financier_paid"] or 0)


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents :func:`incidents` returns: all the given conditions hold."""

    invoice_id: int | None = None
    #: The invoice's buyer.
    buyer: str | None = None
    #: The invoice's supplier (its issuer; a part's is its root's).
    supplier: str | None = None
    #: The holder that sold the invoice to a financier (``invoices.seller``).
    seller: str | None = None
    #: Incident kinds (:data:`ledger.db.models.INCIDENT_KINDS` values).
    kinds: Sequence[str] = ()


def incidents(
    conn: Connection, scope: Scope, flt: IncidentFilter | None = None, as_of_block: int | None = None
) -> list[dict[str, Any]]:
    """The incidents (disputes, credit notes, extensions, defaults,
    buy-backs, write-offs: one per event, see :class:`ledger.db.models.Incident`)
    that ``flt`` selects, up to ``as_of_block`` (None: all indexed), oldest
    first: the ``incidents`` columns as stored (amounts in minor units,
    times aware UTC) plus the invoice's ``currency``, ``buyer``,
    ``supplier`` and ``seller`` (as the invoice row holds them now: they
    never change, except ``seller``, set once by the financing)."""
    flt = flt or IncidentFilter()
    check_block(scope, as_of_block)
    i, inv = INCIDENTS, INVOICES
    columns = [c for c in i.columns if c.name != "id"]
    query = (
        sa.select(*columns, inv.c.currency, inv.c.buyer, inv.c.supplier, inv.c.seller)
        .join(
            inv,
            sa.and_(inv.c.chain_id == i.c.chain_id, inv.c.contract == i.c.contract, inv.c.invoice_id == i.c.invoice_id),
        )
        .where(i.c.chain_id == scope.chain_id, i.c.contract == scope.invoice_contract)
        .order_by(i.c.block_number, i.c.log_index)
    )
    if as_of_block is not None:
        query = query.where(i.c.block_number <= as_of_block)
    if flt.invoice_id is not None:
        query = query.where(i.c.invoice_id == min(flt.invoice_id, BIGINT_MAX))
    for column, value in ((inv.c.buyer, flt.buyer), (inv.c.supplier, flt.supplier), (inv.c.seller, flt.seller)):
        if value is not None:
            query = query.where(column == value)
    if flt.kinds:
        query = query.where(i.c.kind.in_(list(flt.kinds)))
    return [dict(r) for r in conn.execute(query).mappings()]
