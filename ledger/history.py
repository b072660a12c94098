"""One invoice's history: every event of it, oldest first, described in
words with its parties named as they were registered at the time.

Reads the database only, never web3 (the read side; ``lint-imports`` checks it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from ledger.db.models import Event
from ledger.db.timestamps import utc_text
from ledger.format import symbol_amount
from ledger.invoice_numbers import InvalidInvoiceNumber, normalise_invoice_number
from ledger.names import ZERO_ADDRESS
from ledger.scope import BIGINT_MAX, Directory, Scope, _iso, _missing, check_block


def shown_number(number: str) -> str:
    """An invoice number for a terminal: as written, or escaped (``ascii``)
    when it holds characters a terminal could misread."""
    return number if number.isprintable() else ascii(number)


@dataclass(frozen=True)
class _Phrase:
    """What an event's description is made of: its arguments, amounts in its
    invoice's currency and parties by the names they had then."""

    args: Mapping[str, Any]
    currency: str | None
    scope: Scope
    names: Directory

    def money(self, key: str) -> str:
        units = int(self.args[key])
        if self.currency is None:
            return f"{units} minor units"
        cur = self.scope.currency(self.currency)
        return symbol_amount(units, cur.decimals, cur.symbol)

    def who(self, key: str) -> str:
        address = self.args.get(key)
        return self.names.label(None if address in (None, ZERO_ADDRESS) else str(address))


def _issued(p: _Phrase) -> str:
    number = str(p.args.get("number", ""))
    normal = normalised_number(number)
    spelled = shown_number(number) + ("" if normal is None or normal == number else f" (normalised {normal})")
    return (
        f"issued as number {spelled} by {p.who('supplier')} to {p.who('buyer')}: {p.money('amount')} "
        f"due {utc_text(int(p.args['dueDate']))}"
    )


def _offered(p: _Phrase) -> str:
    to = "any financier" if p.args.get("financier") in (None, ZERO_ADDRESS) else p.who("financier")
    until = utc_text(int(p.args["expiry"]), "%Y-%m-%d %H:%M UTC")
    return f"listed for financing by {p.who('holder')} to {to}, min advance {p.money('minAdvance')}, until {until}"


def _financed(p: _Phrase) -> str:
    return (
        f"financed by {p.who('financier')}: advance {p.money('advance')} paid to {p.who('seller')}, "
        f"financier due {p.money('due')} of the buyer's payments"
    )


def _repaid(p: _Phrase) -> str:
    to_holder, amount = int(p.args["toHolder"]), int(p.args["amount"])
    split = "" if to_holder == amount else f", {p.money('toHolder')} of it"
    return (
        f"repaid {p.money('amount')} by {p.who('payer')} to {p.who('payee')}{split} (total paid {p.money('totalPaid')})"
    )


def _transfer(p: _Phrase) -> str:
    if p.args.get("from") in (None, ZERO_ADDRESS):
        return f"receivable minted to {p.who('to')}"
    if p.args.get("to") in (None, ZERO_ADDRESS):
        return f"receivable burnt (held by {p.who('from')})"
    return f"receivable transferred from {p.who('from')} to {p.who('to')}"


#: Event name -> its description, one short function each.
_DESCRIPTIONS: dict[str, Callable[[_Phrase], str]] = {
    "InvoiceIssued": _issued,
    "InvoiceConfirmed": lambda p: f"confirmed by the buyer {p.who('buyer')}",
    "InvoiceCancelled": lambda p: f"cancelled by the supplier {p.who('supplier')}",
    "FinancingOffered": _offered,
    "FinancingOfferWithdrawn": lambda p: f"listing withdrawn by {p.who('holder')}",
    "InvoiceFinanced": _financed,
    "InvoiceRepaid": _repaid,
    "ReserveReleased": lambda p: f"reserve {p.money('amount')} released to the seller {p.who('seller')}",
    "ParticipantRenamed": lambda p: f"{p.who('account')} renamed to {shown_number(str(p.args['name']))}",
    "Transfer": _transfer,
}


def _describe(event: str, args: Mapping[str, Any], currency: str | None, scope: Scope, names: Directory) -> str:
    describe = _DESCRIPTIONS.get(event)
    if describe is not None:
        return describe(_Phrase(args, currency, scope, names))
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


_COLUMNS = (
    Event.block_number,
    Event.block_time,
    Event.tx_hash,
    Event.log_index,
    Event.event,
    Event.amount,
    Event.args,
)


def _invoice_events(conn: Connection, scope: Scope, invoice_id: int, as_of_block: int | None) -> Sequence[Any]:
    """The invoice's own events (its transfers included), oldest first."""
    query = (
        sa.select(*_COLUMNS)
        .where(
            Event.chain_id == scope.chain_id, Event.contract == scope.invoice_contract, Event.invoice_id == invoice_id
        )
        .order_by(Event.block_number, Event.log_index)
    )
    if as_of_block is not None:
        query = query.where(Event.block_number <= as_of_block)
    return conn.execute(query).all()


def _registry_events(conn: Connection, scope: Scope, parties: list[str], to_block: int) -> Sequence[Any]:
    """The admissions and renames of ``parties`` up to ``to_block``, in chain order."""
    if not parties:
        return []
    return conn.execute(
        sa.select(*_COLUMNS)
        .where(
            Event.chain_id == scope.chain_id,
            Event.contract == scope.registry_contract,
            Event.account.in_(parties),
            Event.event.in_(["ParticipantAdmitted", "ParticipantRenamed"]),
            Event.block_number <= to_block,
        )
        .order_by(Event.block_number, Event.log_index)
    ).all()


def _entry(ordered: Sequence[Any], n: int, names: _NameHistory, scope: Scope, currency: str) -> dict[str, Any]:
    """The ``n``-th event of the history, described."""
    e = ordered[n]
    args = dict(e.args)
    names_then = names.at((int(e.block_number), int(e.log_index)), scope.keystore_dir)
    if e.event == "FinancingOfferWithdrawn" and _cleared_by_transfer(ordered, n):
        details = f"listing by {names_then.label(args.get('holder'))} cleared: the receivable changed hands"
    else:
        details = _describe(e.event, args, currency, scope, names_then)
    return {
        "block": int(e.block_number),
        "time": _iso(e.block_time),
        "tx_hash": e.tx_hash,
        "log_index": int(e.log_index),
        "event": e.event,
        "amount": scope.money(e.amount, currency) if e.event not in ("Transfer", "ParticipantRenamed") else None,
        "details": details,
        "args": args,
    }


def invoice_history(
    conn: Connection, scope: Scope, invoice_id: int, as_of_block: int | None = None
) -> list[dict[str, Any]]:
    """Every event of one invoice (its ERC-721 transfers included), oldest
    first, and the renames of its parties between its first and last event.
    Parties are named as they were registered at each event's block."""
    check_block(scope, as_of_block)
    if invoice_id > BIGINT_MAX:  # never projected: the id column is a BIGINT
        raise _missing(invoice_id, scope, as_of_block)
    events = _invoice_events(conn, scope, invoice_id, as_of_block)
    if not any(e.event == "InvoiceIssued" for e in events):
        raise _missing(invoice_id, scope, as_of_block)
    issued = next(e for e in events if e.event == "InvoiceIssued")
    currency = str(issued.args["currency"])
    parties = sorted(_parties(events))
    names = _NameHistory(_registry_events(conn, scope, parties, events[-1].block_number))
    first, last = (events[0].block_number, events[0].log_index), (events[-1].block_number, events[-1].log_index)
    renames = [e for e in names.renames if first < (e.block_number, e.log_index) < last]
    ordered = sorted([*events, *renames], key=lambda e: (e.block_number, e.log_index))
    return [_entry(ordered, n, names, scope, currency) for n in range(len(ordered))]
