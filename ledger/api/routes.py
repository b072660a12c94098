"""The JSON API under ``/api``: the indexed ledger, read-only, as each key's
party may see it (:mod:`ledger.api.access`).

Lists are paged by keyset: ``next_cursor`` names the last id of a page, so a
page never repeats or skips an invoice when new ones are indexed meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from dataclasses import replace
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Request

from ledger.api import schemas
from ledger.api.deps import Reader, open_reader, settings_of
from ledger.api.problems import Problem
from ledger.db.models import INVOICES
from ledger.format import iso_time
from ledger.history import EventFilter, invoice_history, ledger_events
from ledger.money import parse_date
from ledger.queries import (
    BIGINT_MAX,
    currency_address,
    invoice_tree,
    list_invoices,
    overdue_day,
    participants,
    party_shaped,
    resolve_filter,
    show_invoice,
)

router = APIRouter(prefix="/api", responses=schemas.PROBLEMS)
ReaderDep = Annotated[Reader, Depends(open_reader)]
#: An invoice id in a path (any integer is taken: one that cannot exist is unknown, 404).
InvoiceId = Annotated[int, Path(description="The invoice's id (the token id on chain).", examples=[1])]
#: A decision id in a path.
DecisionId = Annotated[int, Path(description="The decision's id (`scf finance list`).", examples=[1])]

#: Page sizes of the lists.
DEFAULT_LIMIT, MAX_LIMIT = 50, 500


# -- cursors ---------------------------------------------------------------------------------------
def encode_cursor(last_id: int) -> str:
    """An opaque cursor after invoice ``last_id``."""
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The id a cursor of :func:`encode_cursor` continues after (a 400 problem otherwise)."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        after = int(value)
        if kind != "after" or not 0 <= after <= BIGINT_MAX:
            raise ValueError(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Problem(400, "cursor: not a cursor this API gave; pass next_cursor from the previous page") from None
    return after


def _date(text: str | None, what: str) -> dt.date | None:
    return None if text is None else parse_date(text, what)


# -- endpoints -------------------------------------------------------------------------------------
@router.get("/health", response_model=schemas.Health, tags=["status"])
def health() -> dict[str, str]:
    """Whether the server answers (no key needed, no database read)."""
    return {"status": "ok"}


@router.get("/status", response_model=list[schemas.IndexStatus], tags=["status"])
def index_status(reader: ReaderDep) -> list[dict[str, Any]]:
    """How far the index is: per indexed deployment, the last indexed block
    and its time, the head last seen and how far behind it, seconds since
    the last indexed block, and how many events are stored."""
    from ledger.indexer.progress import status_rows

    now = dt.datetime.now(dt.UTC)
    rows = status_rows(reader.conn)  # in the request's snapshot
    out = []
    for row in rows:
        t = _block_time(reader, int(row["chain_id"]), row["block"])
        out.append(
            {
                **row,
                "block_time": iso_time(t),
                "lag_seconds": None if t is None else round(max(0.0, (now - t).total_seconds()), 3),
            }
        )
    return out


def _block_time(reader: Reader, chain_id: int, block: int | None) -> dt.datetime | None:
    from ledger.scope import block_time

    return None if block is None else block_time(reader.conn, chain_id, int(block))


@router.get("/me", response_model=schemas.Me, tags=["status"])
def me(reader: ReaderDep) -> dict[str, object]:
    """The party this key speaks for, its roles now, and whether it sees the whole ledger."""
    return reader.viewer.record()


@router.get("/invoices", response_model=schemas.InvoicePage, tags=["invoices"])
def invoices(
    reader: ReaderDep,
    status: Annotated[str | None, Query(description="Statuses, comma-separated (e.g. Confirmed,Financed).")] = None,
    supplier: Annotated[str | None, Query(description="A participant name or address.")] = None,
    buyer: Annotated[str | None, Query(description="A participant name or address.")] = None,
    holder: Annotated[str | None, Query(description="A participant name or address.")] = None,
    financier: Annotated[str | None, Query(description="Who financed it (name or address).")] = None,
    currency: Annotated[str | None, Query(description="A currency symbol, e.g. HKD.")] = None,
    number: Annotated[str | None, Query(description="An invoice number, in any spelling.")] = None,
    due_after: Annotated[str | None, Query(description="Due strictly after this date (YYYY-MM-DD).")] = None,
    due_before: Annotated[str | None, Query(description="Due strictly before this date (YYYY-MM-DD).")] = None,
    overdue: Annotated[bool, Query(description="Only open receivables past due today.")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> dict[str, Any]:
    """Invoices the key may see, by id, with every filter of `scf invoice list`,
    a page at a time (`limit`, and `cursor` from the previous page)."""
    conn, scope = reader.conn, reader.scope
    flt = resolve_filter(
        reader.names,
        status,
        supplier,
        buyer,
        holder,
        _date(due_before, "due_before"),
        limit + 1,
        number,
        financier=financier,
        currency=None if currency is None else currency_address(scope, currency),
        due_after=_date(due_after, "due_after"),
        overdue_on=overdue_day(conn, scope) if overdue else None,
    )
    flt = replace(flt, after_id=None if cursor is None else decode_cursor(cursor))
    rows = list_invoices(conn, scope, flt, names=reader.names, now=reader.at, where=reader.visibility)
    page = rows[:limit]
    more = len(rows) > limit
    return {
        "items": [party_shaped(r) for r in page],
        "next_cursor": encode_cursor(page[-1]["invoice_id"]) if more else None,
    }


def require_visible(reader: Reader, invoice_id: int) -> None:
    """404, as for an unknown id, unless the key may see the invoice."""
    if not 1 <= invoice_id <= BIGINT_MAX:  # no such id can be stored: as unknown
        raise Problem(404, f"no invoice {invoice_id} that this key may see")
    i = INVOICES.c
    query = sa.select(i.invoice_id).where(
        i.chain_id == reader.scope.chain_id, i.contract == reader.scope.invoice_contract, i.invoice_id == invoice_id
    )
    if reader.visibility is not None:
        query = query.where(reader.visibility)
    if reader.conn.execute(query).first() is None:
        raise Problem(404, f"no invoice {invoice_id} that this key may see")


def visible_tree(reader: Reader, invoice_id: int) -> dict[str, Any] | None:
    """The invoice's multi-tier tree, None for a lone invoice; nodes the key
    may not see show only their id and place (``hidden``)."""
    tree = invoice_tree(reader.conn, reader.scope, invoice_id)
    if tree["nodes"] <= 1:
        return None
    if reader.visibility is not None:
        i = INVOICES.c
        seen = {
            int(r.invoice_id)
            for r in reader.conn.execute(
                sa.select(i.invoice_id).where(
                    i.chain_id == reader.scope.chain_id,
                    i.contract == reader.scope.invoice_contract,
                    i.root_id == tree["root_id"],
                    reader.visibility,
                )
            )
        }
        tree["tree"] = _redact(tree["tree"], seen)
        if len(seen) < tree["nodes"]:
            # Totals over the whole tree would tell what is owed on the nodes it may not see.
            tree |= {"outstanding": None, "open_leaves": None}
            if tree["root_id"] not in seen:
                tree["number"] = None
    return tree


def _redact(node: dict[str, Any], seen: set[int]) -> dict[str, Any]:
    children = [_redact(c, seen) for c in node["children"]]
    if node["invoice_id"] in seen:
        return {**node, "children": children}
    keep = ("invoice_id", "parent_id", "depth", "tier")
    return {**{k: node[k] for k in keep}, "hidden": True, "children": children}


@router.get("/invoices/{invoice_id}", response_model=schemas.InvoiceDetail, tags=["invoices"])
def invoice(reader: ReaderDep, invoice_id: InvoiceId) -> dict[str, Any]:
    """One invoice as `scf invoice show` gives it, with its history (every
    event, described) and its multi-tier tree when it has one."""
    require_visible(reader, invoice_id)
    shown = show_invoice(reader.conn, reader.scope, invoice_id)
    return {
        **shown,
        "history": invoice_history(reader.conn, reader.scope, invoice_id),
        "tree": visible_tree(reader, invoice_id),
    }


@router.get("/invoices/{invoice_id}/history", response_model=list[dict[str, Any]], tags=["invoices"])
def invoice_events(reader: ReaderDep, invoice_id: InvoiceId) -> list[dict[str, Any]]:
    """Every event of one invoice, oldest first (`scf invoice history`)."""
    require_visible(reader, invoice_id)
    return invoice_history(reader.conn, reader.scope, invoice_id)


@router.get("/invoices/{invoice_id}/tree", response_model=dict[str, Any], tags=["invoices"])
def tree(reader: ReaderDep, invoice_id: InvoiceId) -> dict[str, Any]:
    """The multi-tier tree the invoice belongs to (`scf invoice tree`); a lone invoice is a tree of one."""
    require_visible(reader, invoice_id)
    found = visible_tree(reader, invoice_id)
    return found if found is not None else invoice_tree(reader.conn, reader.scope, invoice_id)


@router.get("/participants", response_model=list[schemas.Participant], tags=["participants"])
def participant_list(reader: ReaderDep) -> list[dict[str, Any]]:
    """The network's participants: names, roles, KYC valid until, suspended, active now."""
    return participants(reader.conn, reader.scope, now=reader.at)


# -- decisions -----------------------------------------------------------------------------------------
def _financier_scope(reader: Reader, what: str) -> str | None:
    """None for a key that sees all; the financier's own address; else 403."""
    if reader.viewer.sees_all:
        return None
    if "financier" in reader.viewer.roles and reader.viewer.address is not None:
        return reader.viewer.address
    raise Problem(403, f"{what} are a financier's; this key's party is not one")


@router.get("/decisions", response_model=list[schemas.Decision], tags=["decisions"])
def decisions(
    reader: ReaderDep,
    financier: Annotated[str | None, Query(description="Only this financier's (name or address).")] = None,
    status: Annotated[str | None, Query(description="approved, declined, executed, expired, failed, cancelled")] = None,
    invoice_id: Annotated[int | None, Query(ge=1, le=BIGINT_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> list[dict[str, Any]]:
    """Financing decisions, newest first, each with every rule's inputs and reasons."""
    from ledger.finance import store
    from ledger.finance.models import STATUSES

    own = _financier_scope(reader, "financing decisions")
    who = own if financier is None else reader.names.resolve(financier, "financier")
    if own is not None and who != own:
        raise Problem(403, "this key sees only its own financier's decisions")
    statuses = [] if status is None else [s.strip().lower() for s in status.split(",") if s.strip()]
    unknown = [s for s in statuses if s not in STATUSES]
    if unknown:
        raise Problem(400, f"status: unknown decision status {unknown[0]!r}; use one of {', '.join(STATUSES)}")
    now = store.indexed_point(reader.conn, reader.scope).time
    rows = store.list_decisions(reader.conn, reader.scope, who, statuses, invoice_id, limit, now)
    names = store.participant_names(reader.conn, reader.scope)
    return [store.decision_record(row, names, now) for row in rows]


@router.get("/decisions/{decision_id}", response_model=schemas.Decision, tags=["decisions"])
def decision(reader: ReaderDep, decision_id: DecisionId) -> dict[str, Any]:
    """One financing decision with its rules, inputs and reasons."""
    from ledger.errors import InputError
    from ledger.finance import store

    own = _financier_scope(reader, "financing decisions")
    try:
        row = store.get_decision(reader.conn, decision_id) if 1 <= decision_id <= BIGINT_MAX else None
    except InputError:
        row = None
    if row is None or (own is not None and row["financier"] != own) or row["chain_id"] != reader.scope.chain_id:
        raise Problem(404, f"no decision {decision_id} that this key may see")
    now = store.indexed_point(reader.conn, reader.scope).time
    return store.decision_record(row, store.participant_names(reader.conn, reader.scope), now)


# -- reports ---------------------------------------------------------------------------------------------
@router.get("/reports/exposure", response_model=dict[str, Any], tags=["reports"])
def exposure(
    reader: ReaderDep,
    by: Annotated[str, Query(pattern="^(buyer|supplier|financier)$")] = "buyer",
) -> dict[str, Any]:
    """Financed receivables still due to their financier, grouped by buyer,
    supplier or financier (`scf report exposure`): a financier's own book, or
    every book for the operator and auditors."""
    from ledger.finance.exposure import exposure_report

    return exposure_report(reader.conn, reader.scope, by, financier=_financier_scope(reader, "exposure reports"))


@router.get("/reports/aging", response_model=dict[str, Any], tags=["reports"])
def aging(
    reader: ReaderDep,
    as_of: Annotated[str | None, Query(description="Age as of this date (YYYY-MM-DD).")] = None,
) -> dict[str, Any]:
    """Open receivables by buyer in days-past-due buckets (`scf report aging`):
    what the key's party holds, or everything for the operator and auditors."""
    from ledger.finance.reports import aging_report

    holder = None if reader.viewer.sees_all else reader.viewer.address
    if holder is None and not reader.viewer.sees_all:
        raise Problem(403, "an aging report is of a holder's receivables; this key has no party")
    return aging_report(reader.conn, reader.scope, _date(as_of, "as_of"), holder)


@router.get("/reports/portfolio", response_model=dict[str, Any], tags=["reports"])
def portfolio(
    reader: ReaderDep,
    as_of: Annotated[str | None, Query(description="As of this date (YYYY-MM-DD).")] = None,
) -> dict[str, Any]:
    """A financier's financings, income and performance (`scf report
    portfolio`): its own, or every financier's for the operator and auditors."""
    from ledger.finance.portfolio import portfolio_report

    return portfolio_report(reader.conn, reader.scope, _financier_scope(reader, "portfolios"), _date(as_of, "as_of"))


# -- events ------------------------------------------------------------------------------------------------
def _event_types(reader: Reader, request: Request, text: str) -> list[str]:
    """``type`` as `scf events --type` takes it: any case, comma-separated; an
    unknown name is a 400 naming the known ones."""
    from ledger.deployment import load_deployment
    from ledger.errors import DeploymentError
    from ledger.history import event_types, parse_event_types

    try:
        abis = load_deployment(settings_of(request), reader.scope.chain_id).abis()
    except DeploymentError:
        abis = []
    return parse_event_types((text,), event_types(reader.conn, reader.scope, abis))


@router.get("/events", response_model=list[schemas.EventRecord], tags=["events"])
def events(
    reader: ReaderDep,
    request: Request,
    type: Annotated[str | None, Query(description="Event names, comma-separated (e.g. InvoiceFinanced).")] = None,
    invoice_id: Annotated[int | None, Query(ge=1)] = None,
    party: Annotated[str | None, Query(description="Only events naming this party (name or address).")] = None,
    from_block: Annotated[int | None, Query(ge=0, le=BIGINT_MAX)] = None,
    to_block: Annotated[int | None, Query(ge=0, le=BIGINT_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> list[dict[str, Any]]:
    """The audit trail (`scf events`): stored events, oldest first, described.
    A participant's key sees the events that name its party (with
    ``invoice_id``: every event of an invoice it may see)."""
    who = None if party is None else reader.names.resolve(party, "party")
    if invoice_id is not None:
        require_visible(reader, invoice_id)
    elif not reader.viewer.sees_all:
        if who is not None and who != reader.viewer.address:
            raise Problem(403, "this key sees only the events that name its own party; drop `party`")
        who = reader.viewer.address
    types = [] if type is None else _event_types(reader, request, type)
    if from_block is not None and to_block is not None and to_block < from_block:
        raise Problem(400, f"to_block {to_block} is before from_block {from_block}; swap them")
    flt = EventFilter(from_block, to_block, types, who, invoice_id, limit)
    return ledger_events(reader.conn, reader.scope, flt)
