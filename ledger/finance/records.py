"""Stored decisions: reading, listing and marking the ``decisions`` rows, and
showing one as plain data (:func:`decision_record`). No web3 here; the
decisions themselves are taken in :mod:`ledger.finance.store`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import ColumnElement, Connection, Table, and_, or_, select, update

from ledger.errors import DecisionRefused, InputError
from ledger.finance.models import APPROVED, CANCELLED, DECLINED, EXECUTED, EXPIRED, FAILED, Decision
from ledger.format import Money, date_text, iso_time, party_of
from ledger.queries import Scope

#: The decisions table, typed for Core statements.
DECISIONS = cast(Table, Decision.__table__)


def get_decision(conn: Connection, decision_id: int) -> dict[str, Any]:
    row = conn.execute(select(DECISIONS).where(DECISIONS.c.id == decision_id)).mappings().first()
    if row is None:
        raise InputError(f"no decision {decision_id}; list them with `scf finance list`")
    return {str(k): v for k, v in row.items()}


def list_decisions(
    conn: Connection,
    scope: Scope,
    financier: str | None = None,
    statuses: Sequence[str] = (),
    invoice_id: int | None = None,
    limit: int | None = None,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Stored decisions, newest first. Given ``now`` (chain time), the
    statuses are those :func:`decision_record` shows: an approval past its
    expiry is expired, whether or not a command has marked it so yet."""
    d = DECISIONS
    stmt = select(d).where(d.c.chain_id == scope.chain_id, d.c.contract == scope.invoice_contract)
    if financier is not None:
        stmt = stmt.where(d.c.financier == financier)
    if statuses and now is None:
        stmt = stmt.where(d.c.status.in_(list(statuses)))
    elif statuses:
        wanted = set(statuses)
        matches: list[ColumnElement[bool]] = [d.c.status.in_(sorted(wanted - {APPROVED}))]
        if APPROVED in wanted:
            matches.append(and_(d.c.status == APPROVED, d.c.expires_at >= now))
        if EXPIRED in wanted:
            matches.append(and_(d.c.status == APPROVED, d.c.expires_at < now))
        stmt = stmt.where(or_(*matches))
    if invoice_id is not None:
        stmt = stmt.where(d.c.invoice_id == invoice_id)
    stmt = stmt.order_by(d.c.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return [{str(k): v for k, v in r.items()} for r in conn.execute(stmt).mappings().all()]


def mark(conn: Connection, decision_id: int, **values: Any) -> None:
    conn.execute(update(DECISIONS).where(DECISIONS.c.id == decision_id).values(**values))


def mark_failed(conn: Connection, decision_id: int) -> bool:
    """An approved decision whose execution failed: ``failed``, so it no
    longer counts in the financier's exposure. False if it is no longer
    approved (executed or expired meanwhile)."""
    d = DECISIONS
    result = conn.execute(update(d).where(d.c.id == decision_id, d.c.status == APPROVED).values(status=FAILED))
    return bool(result.rowcount)


def cancel_decision(
    conn: Connection, decision_id: int, by: str, reason: str | None, now: dt.datetime, chain_now: dt.datetime
) -> None:
    """Cancel approved decision ``decision_id`` that will not be executed: it
    becomes ``cancelled``, with who (``by``), when (``now``, wall clock UTC)
    and why, and no longer counts against the financier's limits. Refused
    (:class:`DecisionRefused`) unless it is approved and unexpired at
    ``chain_now`` (the decision time of the indexed ledger); an unknown id is
    bad input. The update is conditional, so an execution marked meanwhile
    wins."""
    row = get_decision(conn, decision_id)
    status = _shown_status(row, chain_now)
    if status != APPROVED:
        why = {
            DECLINED: "it was declined, so it never counted against the limits",
            EXECUTED: f"it was executed in transaction {row['tx_hash']}; the financing is on chain",
            EXPIRED: "it expired, so it no longer counts against the limits",
            FAILED: "its execution failed, so it no longer counts against the limits",
            CANCELLED: f"it was already cancelled at {_iso(row['cancelled_at'])} by {row['cancelled_by']}",
        }.get(str(status), f"it is {status}")
        raise DecisionRefused(f"decision {decision_id} cannot be cancelled: {why}")
    d = DECISIONS
    done = conn.execute(
        update(d)
        .where(d.c.id == decision_id, d.c.status == APPROVED)
        .values(status=CANCELLED, cancelled_at=now, cancelled_by=by, cancel_reason=reason)
    )
    if not done.rowcount:
        raise DecisionRefused(f"decision {decision_id} changed while it was being cancelled; see `scf finance show`")


def _iso(value: dt.datetime | None) -> str | None:
    return iso_time(value)


def _shown_status(row: Mapping[str, Any], now: dt.datetime | None) -> Any:
    """The stored status, or expired for an approval past its expiry at ``now``."""
    return EXPIRED if now is not None and row["status"] == APPROVED and row["expires_at"] < now else row["status"]


def _price_record(row: Mapping[str, Any], money: Callable[[Any], str | None]) -> dict[str, Any] | None:
    """The priced terms of a decision (None if it has no price)."""
    if row["advance"] is None:
        return None
    return {
        "advance": money(row["advance"]),
        "discount": money(row["discount"]),
        "fees": money(row["fees"]),
        "net_advance": money(row["net_advance"]),
        "due": money(row["advance"]),
        "reserve": money(row["reserve"]),
        "days": row["days"],
        "day_count": row["day_count"],
        "advance_rate": str(row["advance_rate"]),
        "annual_rate": str(row["annual_rate"]),
    }


def decision_terms(row: Mapping[str, Any]) -> dict[str, Any] | None:
    """The financing terms a decision priced, from its ``financing_terms`` rule
    (:func:`ledger.finance.rules.rule_terms`): ``recourse``, ``grace_seconds`` (None
    when it could not be known) and ``grace_days`` (exact decimal days); what its
    execution sends. None for a decision that recorded none (taken before decisions
    did, or a Split node's, which has only its one rule)."""
    for rule in row["rules"] or ():
        if rule.get("name") == "financing_terms":
            inputs = rule.get("inputs") or {}
            grace = inputs.get("grace_seconds")
            return {
                "recourse": bool(inputs.get("recourse")),
                "grace_seconds": None if grace is None else int(grace),
                "grace_days": inputs.get("grace_days"),
            }
    return None


def _trail_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """Where and when a decision was taken, under which policy, and its execution."""
    return {
        "block": int(row["block_number"]),
        "block_hash": row["block_hash"],
        "as_of": _iso(row["as_of"]),
        "expires_at": _iso(row["expires_at"]),
        "created_at": _iso(row["created_at"]),
        "policy_hash": row["policy_hash"],
        "policy_source": row["policy_source"],
        "reason": row["reason"],
        "rules": row["rules"],
        "tx_hash": row["tx_hash"],
        "executed_block": row["executed_block"],
        "executed_at": _iso(row["executed_at"]),
        "event_id": row["event_id"],
        "event_block_hash": row["event_block_hash"],
        "event_log_index": row["event_log_index"],
        "cancelled_at": _iso(row.get("cancelled_at")),
        "cancelled_by": row.get("cancelled_by"),
        "cancel_reason": row.get("cancel_reason"),
    }


def decision_record(
    row: Mapping[str, Any], names: Mapping[str, str] | None = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    """A decision as plain JSON-able data (amounts as exact major-unit strings).
    Given ``now`` (chain time), an approval past its expiry shows as expired
    even before a quote or execute has marked it so."""
    names = names or {}
    money = Money(str(row["currency_symbol"]), int(row["decimals"])).optional

    def party(address: str | None) -> dict[str, str | None] | None:
        return party_of(address, names)

    return {
        "decision_id": None if row.get("id") is None else int(row["id"]),
        "invoice_id": int(row["invoice_id"]),
        "status": _shown_status(row, now),
        "financier": party(row["financier"]),
        "supplier": party(row["supplier"]),
        "buyer": party(row["buyer"]),
        "holder": party(row["holder"]),
        "invoice_status": row["invoice_status"],
        "currency": row["currency_symbol"],
        "amount": money(row["amount"]),
        "paid": money(int(row["amount"]) - int(row["open_amount"])),
        "open_amount": money(row["open_amount"]),
        "due": date_text(row["due_at"]),
        "grade": row["grade"],
        "price": _price_record(row, money),
        "terms": decision_terms(row),
        "exposure": {
            "book": money(row["exposure_book"]),
            "buyer": money(row["exposure_buyer"]),
            "supplier": money(row["exposure_supplier"]),
        },
        **_trail_record(row),
    }


__all__ = [
    "DECISIONS",
    "cancel_decision",
    "decision_record",
    "decision_terms",
    "get_decision",
    "list_decisions",
    "mark",
    "mark_failed",
]
