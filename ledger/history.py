"""One invoice's history: every event of it, oldest first, described in
words with its parties named as they were registered at the time; and the
ledger-wide audit trail of `scf events` (:func:`ledger_events`): every
stored event of the deployment's contracts, described with the same words.

Reads the database only, never web3 (the read side; ``lint-imports`` checks it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from ledger.business_time import kyc_last_day
from ledger.db.tables import CURSORS, EVENTS, INVOICES, REPAYMENTS
from ledger.errors import InputError
from ledger.format import date_text, grace_text, iso_time, money, text_time
from ledger.indexer.folds import INVOICE_ID_ARGS
from ledger.invoice_numbers import InvalidInvoiceNumber, normalise_invoice_number
from ledger.names import ZERO_ADDRESS, role_names, status_name
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
        return money(units, cur.decimals, cur.symbol)

    def who(self, key: str) -> str:
        address = self.args.get(key)
        return self.names.label(None if address in (None, ZERO_ADDRESS) else str(address))


def _issued(p: _Phrase) -> str:
    number = str(p.args.get("number", ""))
    normal = normalised_number(number)
    spelled = shown_number(number) + ("" if normal is None or normal == number else f" (normalised {normal})")
    return (
        f"issued as number {spelled} by {p.who('supplier')} to {p.who('buyer')}: {p.money('amount')} "
        f"due {date_text(int(p.args['dueDate']))}"
    )


def _offered(p: _Phrase) -> str:
    to = "any financier" if p.args.get("financier") in (None, ZERO_ADDRESS) else p.who("financier")
    until = text_time(int(p.args["expiry"]))
    recourse = ", recourse accepted" if p.args.get("recourse") else ""
    return (
        f"listed for financing by {p.who('holder')} to {to}, min advance {p.money('minAdvance')}, "
        f"until {until}{recourse}"
    )


def _financed(p: _Phrase) -> str:
    terms = ""
    if "recourse" in p.args:  # contracts version 4: the financing's default terms
        recourse = "with recourse to the seller" if p.args["recourse"] else "without recourse"
        terms = f", {recourse}, grace {grace_text(int(p.args['gracePeriod']))} after the due date"
    return (
        f"financed by {p.who('financier')}: advance {p.money('advance')} paid to {p.who('seller')}, "
        f"financier due {p.money('due')} of the buyer's payments{terms}"
    )


def _status(p: _Phrase, key: str) -> str:
    return status_name(int(p.args[key]))


def _disputed(p: _Phrase) -> str:
    reason = short_ref(p.args.get("reason"))
    return f"disputed by the buyer {p.who('buyer')} (was {_status(p, 'previous')})" + (
        "" if reason is None else f", statement {reason}"
    )


def _credit_note(p: _Phrase) -> str:
    to_holder = int(p.args["toHolder"])
    paid = "" if to_holder == 0 else f"; {p.money('toHolder')} of it paid by the issuer to the holder {p.who('holder')}"
    note = short_ref(p.args.get("noteHash"))
    status = _status(p, "status")
    after = f"closed as {status}" if status in ("Paid", "Cancelled") else f"now {status}"
    return (
        f"credit note of {p.money('credit')} by {p.who('issuer')}: amount now {p.money('newAmount')}{paid}"
        + ("" if note is None else f", note {note}")
        + f" ({after})"
    )


def _extension_proposed(p: _Phrase) -> str:
    return (
        f"extension proposed by the buyer {p.who('buyer')}: due {date_text(int(p.args['dueDate']))} "
        f"-> {date_text(int(p.args['proposedDueDate']))}"
    )


def _extended(p: _Phrase) -> str:
    return (
        f"maturity extended by the holder {p.who('holder')}: due {date_text(int(p.args['oldDueDate']))} "
        f"-> {date_text(int(p.args['newDueDate']))}"
    )


def _defaulted(p: _Phrase) -> str:
    return (
        f"declared in default by the holder {p.who('holder')}: {p.money('outstanding')} outstanding, "
        f"{p.money('holderClaim')} of it owed to the holder"
    )


def _bought_back(p: _Phrase) -> str:
    return f"bought back under recourse by the seller {p.who('seller')}: {p.money('amount')} paid to {p.who('holder')}"


def _repaid(p: _Phrase) -> str:
    to_holder, amount = int(p.args["toHolder"]), int(p.args["amount"])
    if to_holder == amount:
        split = ""
    elif to_holder == 0:  # the financier side is paid (or bought out): all of it is the seller's reserve
        split = ", all of it released to the seller"
    else:
        split = f", {p.money('toHolder')} of it"
    return (
        f"repaid {p.money('amount')} by {p.who('payer')} to {p.who('payee')}{split} (total paid {p.money('totalPaid')})"
    )


def _transfer(p: _Phrase) -> str:
    if p.args.get("from") in (None, ZERO_ADDRESS):
        return f"receivable minted to {p.who('to')}"
    if p.args.get("to") in (None, ZERO_ADDRESS):
        return f"receivable burnt (held by {p.who('from')})"
    return f"receivable transferred from {p.who('from')} to {p.who('to')}"


def short_ref(value: Any) -> str | None:
    """A payment reference (bytes32) in a sentence: ``0x12ab…`` (its first two
    bytes); None for none (zero)."""
    text = str(value or "")
    if not text.startswith("0x") or int(text, 16) == 0:
        return None
    return f"{text[:6]}…"


def _split(p: _Phrase) -> str:
    n = int(p.args["parts"])
    return f"split into {n} part{'s' if n != 1 else ''} by {p.who('holder')}"


def _part(p: _Phrase) -> str:
    ref = short_ref(p.args.get("ref"))
    return (
        f"part of invoice {int(p.args['parentId'])} (tier {int(p.args['depth']) + 1}): {p.money('amount')} "
        f"to {p.who('holder')}" + ("" if ref is None else f", ref {ref}")
    )


def _receivable_transferred(p: _Phrase) -> str:
    ref = short_ref(p.args.get("ref"))
    return f"transferred by {p.who('from')} to {p.who('to')} as payment" + ("" if ref is None else f", ref {ref}")


def _root_repaid(p: _Phrase) -> str:
    n = int(p.args["leaves"])
    return f"paid {p.money('amount')} across {n} lea{'ves' if n != 1 else 'f'} by {p.who('payer')}"


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
    "InvoiceSplit": _split,
    "PartCreated": _part,
    "ReceivableTransferred": _receivable_transferred,
    "RootRepaid": _root_repaid,
    "InvoiceDisputed": _disputed,
    "DisputeWithdrawn": lambda p: f"dispute withdrawn by the buyer {p.who('buyer')}: back to {_status(p, 'restored')}",
    "CreditNoteIssued": _credit_note,
    "ExtensionProposed": _extension_proposed,
    "MaturityExtended": _extended,
    "InvoiceDefaulted": _defaulted,
    "InvoiceBoughtBack": _bought_back,
    "InvoiceWrittenOff": lambda p: f"{p.money('amount')} written off by the holder {p.who('holder')}",
}


#: Role hashes of the contracts (keccak256 of the role's constant name) by the
#: name messages use; a test checks them against the hashes.
ROLE_NAMES = {
    "0x" + "00" * 32: "default admin",
    "0x97667070c54ef182b0f5858b034beac1b6f3089aa2d3188bb1e8929f4fa9b929": "operator",
    "0xf2e6b59adc120070507d72dc820b8357b5ee2605f29546d8d525c4eaecddad66": "currency manager",
    "0x9f2df0fed2c77648de5860a4cc508cd0818c85b8b8a1ab4ceeef8d981c8956a6": "minter",
}


def _role(p: _Phrase) -> str:
    role = str(p.args.get("role", ""))
    return ROLE_NAMES.get(role.lower(), role)


def _roles_and_kyc(p: _Phrase) -> str:
    roles = ", ".join(role_names(int(p.args["roles"]))) or "no roles"
    return f"roles {roles}, KYC valid through {date_text(kyc_last_day(int(p.args['kycExpiry'])))}"


def _admitted(p: _Phrase) -> str:
    return f"{p.args['account']} admitted as {shown_number(str(p.args['name']))}: {_roles_and_kyc(p)}"


def _currency_accepted(p: _Phrase) -> str:
    address = str(p.args.get("currency"))
    known = p.scope.currencies.get(address.lower())
    shown = address if known is None else f"{known.symbol} ({address})"
    return f"currency {shown} {'accepted' if p.args.get('accepted') else 'no longer accepted'} for new invoices"


def _tenor(p: _Phrase) -> str:
    seconds = int(p.args["maxTenor"])
    return f"longest tenor set to {seconds // 86400:,} days" + ("" if seconds % 86400 == 0 else f" ({seconds:,} s)")


#: The other events of the ledger's contracts (registry, access control, pause), for `scf events`.
_LEDGER_DESCRIPTIONS: dict[str, Callable[[_Phrase], str]] = {
    "ParticipantAdmitted": _admitted,
    "ParticipantUpdated": lambda p: f"{p.who('account')} updated: {_roles_and_kyc(p)}",
    "ParticipantSuspended": lambda p: f"{p.who('account')} suspended",
    "ParticipantReinstated": lambda p: f"{p.who('account')} reinstated",
    "RoleGranted": lambda p: f"{_role(p)} role granted to {p.who('account')} by {p.who('sender')}",
    "RoleRevoked": lambda p: f"{_role(p)} role revoked from {p.who('account')} by {p.who('sender')}",
    "Paused": lambda p: f"network paused by {p.who('account')}: invoice state changes stopped",
    "Unpaused": lambda p: f"network resumed by {p.who('account')}",
    "CurrencyAcceptanceChanged": _currency_accepted,
    "MaxTenorChanged": _tenor,
    "GracePeriodChanged": lambda p: (
        f"grace period before a default set to {grace_text(int(p.args['gracePeriod']))} after the due date "
        "(unfinanced receivables, and the default for new financings)"
    ),
    "Approval": lambda p: f"{p.who('owner')} approved {p.who('approved')} to transfer the receivable",
    "ApprovalForAll": lambda p: (
        f"{p.who('owner')} {'approved' if p.args.get('approved') else 'revoked'} {p.who('operator')} "
        "as operator of all its receivables"
    ),
}


def _token_transfer(p: _Phrase) -> str:
    if p.args.get("from") in (None, ZERO_ADDRESS):
        return f"{p.money('value')} minted to {p.who('to')}"
    if p.args.get("to") in (None, ZERO_ADDRESS):
        return f"{p.money('value')} burnt by {p.who('from')}"
    return f"{p.money('value')} paid by {p.who('from')} to {p.who('to')}"


#: The settlement tokens' events (ERC-20), amounts in the token's currency.
_TOKEN_DESCRIPTIONS: dict[str, Callable[[_Phrase], str]] = {
    "Transfer": _token_transfer,
    "Approval": lambda p: f"{p.who('owner')} allowed {p.who('spender')} to move up to {p.money('value')}",
    "RoleGranted": _LEDGER_DESCRIPTIONS["RoleGranted"],
    "RoleRevoked": _LEDGER_DESCRIPTIONS["RoleRevoked"],
}


def _describe(
    event: str,
    args: Mapping[str, Any],
    currency: str | None,
    scope: Scope,
    names: Directory,
    table: Mapping[str, Callable[[_Phrase], str]] = _DESCRIPTIONS,
) -> str:
    describe = table.get(event)
    if describe is not None:
        return describe(_Phrase(args, currency, scope, names))
    shown = ", ".join(f"{k}={v}" for k, v in args.items())
    return f"{event}({shown})"


#: Arguments that hold a chain time (Unix seconds): shown as :func:`ledger.format.iso_time`.
_TIME_ARGS = frozenset({"dueDate", "expiry", "kycExpiry", "proposedDueDate", "oldDueDate", "newDueDate"})
#: Arguments that hold an amount in minor units of the event's currency: shown as an exact decimal string.
_AMOUNT_ARGS = frozenset(
    {
        "amount",
        "minAdvance",
        "advance",
        "due",
        "toHolder",
        "totalPaid",
        "value",
        "credit",
        "newAmount",
        "outstanding",
        "holderClaim",
    }
)
#: Whole-number arguments shown as JSON numbers: ids, the registry's role bits, seconds of a tenor or grace.
_NUMBER_ARGS = frozenset(
    {*INVOICE_ID_ARGS, "parts", "depth", "leaves", "currencyId", "roles", "maxTenor", "gracePeriod"}
)
#: Arguments that hold an invoice status (IInvoiceToken.Status): shown by its name.
_STATUS_ARGS = frozenset({"previous", "restored", "status"})


def _is_address(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 42 and value.startswith("0x")


def shown_args(args: Mapping[str, Any], currency: str | None, scope: Scope, names: Directory) -> dict[str, Any]:
    """An event's arguments for JSON, each by its meaning and exact: times
    (due dates, proposed and extended ones too, listing expiry, KYC expiry)
    as ISO 8601 with the business zone's offset; statuses (a dispute's
    previous and restored one, a credit note's) by name; amounts in the event's currency (known to the scope) as
    exact decimal strings in major units (without a known currency they stay
    minor units, as stored); ids, role bits, the tenor and grace periods in
    seconds as numbers; a ``currency`` as ``{"address", "symbol"}``; other addresses as
    parties ``{"address", "name"}`` named as they were then, the zero address
    (nobody: a mint's sender, a listing to any financier) as null; bytes as
    0x hex, strings and booleans as they are."""
    known = currency is not None and currency.lower() in scope.currencies
    out: dict[str, Any] = {}
    for key, value in args.items():
        if key in _TIME_ARGS and str(value).isdigit():
            out[key] = iso_time(int(value))
        elif key in _AMOUNT_ARGS and known and currency is not None and str(value).isdigit():
            out[key] = scope.amount(int(value), currency)
        elif key in _NUMBER_ARGS and str(value).isdigit():
            out[key] = int(value)
        elif key in _STATUS_ARGS and str(value).isdigit():
            out[key] = status_name(int(value))
        elif key == "currency" and _is_address(value):
            found = scope.currencies.get(str(value).lower())
            out[key] = {"address": value, "symbol": None if found is None else found.symbol}
        elif _is_address(value):
            out[key] = None if value == ZERO_ADDRESS else names.party(str(value))
        else:
            out[key] = value
    return out


def normalised_number(number: str) -> str | None:
    """The normal form of an invoice number, None if it has none."""
    try:
        return normalise_invoice_number(number)
    except InvalidInvoiceNumber:
        return None


def _next_in_tx(events: Sequence[Any], index: int, name: str) -> Any | None:
    """The log right after ``events[index]`` in the same transaction, if it is a ``name`` event."""
    if index + 1 >= len(events):
        return None
    here, following = events[index], events[index + 1]
    same_tx = following.tx_hash == here.tx_hash and following.log_index == here.log_index + 1
    return following if same_tx and following.event == name else None


#: Why the contract cleared a listing, by the invoice event that follows its
#: FinancingOfferWithdrawn in the same transaction (a transfer: see
#: :func:`_cleared_by_transfer`).
_CLEARED_BY = {
    "InvoiceSplit": "the receivable was split",
    "InvoiceDisputed": "the receivable was disputed",
    "InvoiceDefaulted": "the receivable was declared in default",
    "CreditNoteIssued": "a credit note closed the receivable",
}


def _cleared_reason(events: Sequence[Any], index: int) -> str | None:
    """Why the FinancingOfferWithdrawn at ``index`` was emitted, when the
    contract cleared the listing itself (the receivable changed hands, was
    split, disputed, declared in default or closed by a credit note: that
    event's own log follows in the same transaction); None for a withdrawal
    by the holder."""
    if _cleared_by_transfer(events, index):
        return "the receivable changed hands"
    for name, reason in _CLEARED_BY.items():
        if _next_in_tx(events, index, name) is not None:
            return reason
    return None


def _cleared_by_transfer(events: Sequence[Any], index: int) -> bool:
    """Whether the FinancingOfferWithdrawn at ``index`` is the contract
    clearing a listing because the receivable changed hands: the transfer's
    own log follows it in the same transaction."""
    following = _next_in_tx(events, index, "Transfer")
    return (
        following is not None
        and following.args.get("from") == events[index].args.get("holder")
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
    EVENTS.c.block_number,
    EVENTS.c.block_time,
    EVENTS.c.tx_hash,
    EVENTS.c.log_index,
    EVENTS.c.event,
    EVENTS.c.amount,
    EVENTS.c.args,
)


def _invoice_events(conn: Connection, scope: Scope, invoice_id: int, as_of_block: int | None) -> Sequence[Any]:
    """The invoice's own events (its transfers included), oldest first."""
    query = (
        sa.select(*_COLUMNS)
        .where(
            EVENTS.c.chain_id == scope.chain_id,
            EVENTS.c.contract == scope.invoice_contract,
            EVENTS.c.invoice_id == invoice_id,
        )
        .order_by(EVENTS.c.block_number, EVENTS.c.log_index)
    )
    if as_of_block is not None:
        query = query.where(EVENTS.c.block_number <= as_of_block)
    return conn.execute(query).all()


def _registry_events(conn: Connection, scope: Scope, parties: list[str], to_block: int) -> Sequence[Any]:
    """The admissions and renames of ``parties`` up to ``to_block``, in chain order."""
    if not parties:
        return []
    return conn.execute(
        sa.select(*_COLUMNS)
        .where(
            EVENTS.c.chain_id == scope.chain_id,
            EVENTS.c.contract == scope.registry_contract,
            EVENTS.c.account.in_(parties),
            EVENTS.c.event.in_(["ParticipantAdmitted", "ParticipantRenamed"]),
            EVENTS.c.block_number <= to_block,
        )
        .order_by(EVENTS.c.block_number, EVENTS.c.log_index)
    ).all()


def _entry(ordered: Sequence[Any], n: int, names: _NameHistory, scope: Scope, currency: str) -> dict[str, Any]:
    """The ``n``-th event of the history, described."""
    e = ordered[n]
    args = dict(e.args)
    names_then = names.at((int(e.block_number), int(e.log_index)), scope.keystore_dir)
    cleared = _cleared_reason(ordered, n) if e.event == "FinancingOfferWithdrawn" else None
    if cleared is not None:
        details = f"listing by {names_then.label(args.get('holder'))} cleared: {cleared}"
    else:
        details = _describe(e.event, args, currency, scope, names_then)
        if e.event == "InvoiceRepaid" and any(x.event == "InvoiceDefaulted" for x in ordered[:n]):
            details = f"recovery after the default: {details}"
    return {
        "block": int(e.block_number),
        "time": _iso(e.block_time),
        "tx_hash": e.tx_hash,
        "log_index": int(e.log_index),
        "event": e.event,
        "amount": scope.money(e.amount, currency) if e.event not in ("Transfer", "ParticipantRenamed") else None,
        "details": details,
        "args": shown_args(args, currency, scope, names_then),
    }


def invoice_history(
    conn: Connection, scope: Scope, invoice_id: int, as_of_block: int | None = None
) -> list[dict[str, Any]]:
    """Every event of one invoice (its ERC-721 transfers included), oldest
    first, and the renames of its parties between its first and last event.
    Parties are named as they were registered at each event's block; each
    event's arguments are shown by their meaning (:func:`shown_args`)."""
    check_block(scope, as_of_block)
    if invoice_id > BIGINT_MAX:  # never projected: the id column is a BIGINT
        raise _missing(invoice_id, scope, as_of_block)
    events = _invoice_events(conn, scope, invoice_id, as_of_block)
    made = next((e for e in events if e.event in ("InvoiceIssued", "PartCreated")), None)
    if made is None:
        raise _missing(invoice_id, scope, as_of_block)
    # A part's currency is its root's (PartCreated does not repeat it).
    currency = str(made.args.get("currency") or _invoice_currencies(conn, scope, [invoice_id]).get(invoice_id, ""))
    parties = sorted(_parties(events))
    names = _NameHistory(_registry_events(conn, scope, parties, events[-1].block_number))
    first, last = (events[0].block_number, events[0].log_index), (events[-1].block_number, events[-1].log_index)
    renames = [e for e in names.renames if first < (e.block_number, e.log_index) < last]
    ordered = sorted([*events, *renames], key=lambda e: (e.block_number, e.log_index))
    return [_entry(ordered, n, names, scope, currency) for n in range(len(ordered))]


# -- the ledger-wide audit trail (`scf events`) ------------------------------------------------
@dataclass(frozen=True)
class EventFilter:
    """Which stored events :func:`ledger_events` returns: all the given conditions hold."""

    from_block: int | None = None
    to_block: int | None = None
    #: Event names, as the contracts spell them (see :func:`event_types`).
    types: Sequence[str] = ()
    #: An address the event names (any argument but a currency).
    party: str | None = None
    invoice_id: int | None = None
    limit: int | None = None


#: Arguments that hold an address but name no party (the settlement token of an invoice).
_NOT_PARTIES = frozenset({"currency"})


def _contracts(conn: Connection, scope: Scope) -> dict[str, str]:
    """Address -> name (``InvoiceToken``, ``ParticipantRegistry``,
    ``SettlementToken:HKD``) of the contracts of the scope's deployment, from
    its indexer cursors."""
    found: dict[str, str] = {}
    for (contracts,) in conn.execute(
        sa.select(CURSORS.c.contracts).where(
            CURSORS.c.chain_id == scope.chain_id, CURSORS.c.invoice_contract == scope.invoice_contract
        )
    ):
        found.update({str(address): str(name) for name, address in dict(contracts).items()})
    found.setdefault(scope.invoice_contract, "InvoiceToken")
    found.setdefault(scope.registry_contract, "ParticipantRegistry")
    return found


def parse_event_types(given: tuple[str, ...], valid: list[str]) -> list[str]:
    """``--type`` values (repeatable, comma-separated, any case) as the
    contracts spell them; an unknown one is an InputError listing the valid
    names on one line."""
    known = {name.casefold(): name for name in valid}
    out: list[str] = []
    for part in (p for text in given for p in re.split(r"[,\s]+", text.strip()) if p):
        name = known.get(part.casefold())
        if name is None:
            raise InputError(f"unknown event type {part!r}; use one of {', '.join(valid)}")
        if name not in out:
            out.append(name)
    if given and not out:
        raise InputError(f"no event type given; use one of {', '.join(valid)}")
    return out


def event_types(conn: Connection, scope: Scope, abis: Iterable[Sequence[Mapping[str, Any]]] = ()) -> list[str]:
    """The event names `scf events --type` takes: those the contracts' ABIs
    declare (``abis``, from the deployment record) and those stored for the
    scope's contracts, sorted."""
    declared = {str(item["name"]) for abi in abis for item in abi if item.get("type") == "event"}
    stored = conn.execute(
        sa.select(EVENTS.c.event)
        .where(EVENTS.c.chain_id == scope.chain_id, EVENTS.c.contract.in_(list(_contracts(conn, scope))))
        .distinct()
    ).scalars()
    return sorted(declared | {str(name) for name in stored}, key=str.casefold)


#: The order parties are listed in: by the argument that names them (the
#: stored arguments keep no order on PostgreSQL, whose JSONB sorts keys), others after, by name.
_PARTY_ORDER = {
    key: n
    for n, key in enumerate(
        (
            "supplier",
            "buyer",
            "holder",
            "seller",
            "financier",
            "payer",
            "payee",
            "from",
            "to",
            "owner",
            "spender",
            "approved",
            "operator",
            "account",
            "sender",
        )
    )
}


def event_parties(args: Mapping[str, Any]) -> list[str]:
    """The addresses an event's arguments name (no currency, no zero
    address), once each, in a fixed order of the arguments (:data:`_PARTY_ORDER`)."""
    found: list[str] = []
    for key, value in sorted(args.items(), key=lambda kv: (_PARTY_ORDER.get(kv[0], len(_PARTY_ORDER)), kv[0])):
        if (
            key not in _NOT_PARTIES
            and isinstance(value, str)
            and len(value) == 42
            and value.startswith("0x")
            and value != ZERO_ADDRESS
            and value not in found
        ):
            found.append(value)
    return found


class _NamesAsOf:
    """Participant names as they were just before each position (block, log
    index) asked for, positions asked in chain order: one pass over the
    registry's admissions and renames. Contracts are named too."""

    def __init__(self, changes: Sequence[Any], contracts: Mapping[str, str], keystore_dir: Path | None) -> None:
        self.changes = changes
        self.next = 0
        self.keystore_dir = keystore_dir
        self.current = {address: f"the {name} contract" for address, name in contracts.items()}
        self.directory = self._directory()

    def _directory(self) -> Directory:
        return Directory([{"address": a, "name": n} for a, n in self.current.items()], self.keystore_dir)

    def at(self, position: tuple[int, int]) -> Directory:
        moved = False
        while self.next < len(self.changes):
            change = self.changes[self.next]
            if (int(change.block_number), int(change.log_index)) >= position:
                break
            self.current[str(change.args["account"])] = str(change.args["name"])
            self.next += 1
            moved = True
        if moved:
            self.directory = self._directory()
        return self.directory


def _name_changes(conn: Connection, scope: Scope, to_block: int) -> Sequence[Any]:
    """Every admission and rename of the registry up to ``to_block``, in chain order."""
    return conn.execute(
        sa.select(*_COLUMNS)
        .where(
            EVENTS.c.chain_id == scope.chain_id,
            EVENTS.c.contract == scope.registry_contract,
            EVENTS.c.event.in_(["ParticipantAdmitted", "ParticipantRenamed"]),
            EVENTS.c.block_number <= to_block,
        )
        .order_by(EVENTS.c.block_number, EVENTS.c.log_index)
    ).all()


def _event_query(scope: Scope, contracts: Sequence[str], flt: EventFilter) -> Any:
    query = sa.select(*_COLUMNS, EVENTS.c.contract, EVENTS.c.invoice_id).where(
        EVENTS.c.chain_id == scope.chain_id, EVENTS.c.contract.in_(list(contracts))
    )
    if flt.from_block is not None:
        query = query.where(EVENTS.c.block_number >= flt.from_block)
    if flt.to_block is not None:
        query = query.where(EVENTS.c.block_number <= flt.to_block)
    if flt.types:
        query = query.where(EVENTS.c.event.in_(list(flt.types)))
    if flt.invoice_id is not None:
        query = query.where(EVENTS.c.contract == scope.invoice_contract, EVENTS.c.invoice_id == flt.invoice_id)
    if flt.party is not None:
        # A coarse cut in SQL (the address anywhere in the stored arguments);
        # the exact test is on the decoded arguments (event_parties).
        query = query.where(sa.cast(EVENTS.c.args, sa.Text).contains(flt.party, autoescape=True))
    query = query.order_by(EVENTS.c.block_number, EVENTS.c.log_index)
    if flt.limit is not None and flt.party is None:
        query = query.limit(min(flt.limit, BIGINT_MAX))
    return query


def _invoice_currencies(conn: Connection, scope: Scope, ids: Iterable[int]) -> dict[int, str]:
    wanted = sorted({i for i in ids if i <= BIGINT_MAX})
    if not wanted:
        return {}
    rows = conn.execute(
        sa.select(INVOICES.c.invoice_id, INVOICES.c.currency).where(
            INVOICES.c.chain_id == scope.chain_id,
            INVOICES.c.contract == scope.invoice_contract,
            INVOICES.c.invoice_id.in_(wanted),
        )
    ).all()
    return {int(i): str(c) for i, c in rows}


def _transfers_after(conn: Connection, scope: Scope, withdrawn: Sequence[Any]) -> dict[tuple[str, int], Any]:
    """The invoice events of the transactions of these listing withdrawals
    that can clear a listing (a transfer, a split, a dispute, a default, a
    credit note), by (tx hash, log index)."""
    if not withdrawn:
        return {}
    rows = conn.execute(
        sa.select(*_COLUMNS).where(
            EVENTS.c.chain_id == scope.chain_id,
            EVENTS.c.contract == scope.invoice_contract,
            EVENTS.c.event.in_(["Transfer", *_CLEARED_BY]),
            EVENTS.c.tx_hash.in_(sorted({e.tx_hash for e in withdrawn})),
        )
    ).all()
    return {(r.tx_hash, int(r.log_index)): r for r in rows}


def _recoveries(conn: Connection, scope: Scope, repaid: Sequence[Any]) -> set[tuple[str, int]]:
    """The (tx hash, log index) of the InvoiceRepaid rows among ``repaid`` that
    were recoveries (paid after a default; ``repayments.recovery``)."""
    hashes = sorted({e.tx_hash for e in repaid})
    found: set[tuple[str, int]] = set()
    for start in range(0, len(hashes), 500):  # bounded IN lists (SQLite's variable limit)
        rows = conn.execute(
            sa.select(REPAYMENTS.c.tx_hash, REPAYMENTS.c.log_index).where(
                REPAYMENTS.c.chain_id == scope.chain_id,
                REPAYMENTS.c.contract == scope.invoice_contract,
                REPAYMENTS.c.recovery.is_(True),
                REPAYMENTS.c.tx_hash.in_(hashes[start : start + 500]),
            )
        ).all()
        found.update((str(t), int(i)) for t, i in rows)
    return found


def ledger_events(conn: Connection, scope: Scope, flt: EventFilter) -> list[dict[str, Any]]:
    """The stored events of the scope's contracts that ``flt`` selects,
    oldest first: where (block, time, transaction, log index, contract), what
    (the event, its invoice when it has one, the money of it in its currency),
    who (the parties it names, as ``{"address", "name"}`` with the names they
    had then), a one-line summary (invoice events described as
    :func:`invoice_history` describes them) and the event's arguments by
    their meaning (:func:`shown_args`)."""
    contracts = _contracts(conn, scope)
    rows: list[Any] = []
    for row in conn.execute(_event_query(scope, list(contracts), flt)):
        if flt.party is not None and flt.party not in event_parties(dict(row.args)):
            continue
        rows.append(row)
        if flt.limit is not None and len(rows) >= flt.limit:
            break
    if not rows:
        return []
    names = _NamesAsOf(_name_changes(conn, scope, int(rows[-1].block_number)), contracts, scope.keystore_dir)
    invoice_ids = [_invoice_id(r, scope) for r in rows]
    currencies = _invoice_currencies(conn, scope, (i for i in invoice_ids if i is not None))
    following = _transfers_after(conn, scope, [r for r in rows if r.event == "FinancingOfferWithdrawn"])
    recoveries = _recoveries(conn, scope, [r for r in rows if r.event == "InvoiceRepaid"])
    out = []
    for row, invoice_id in zip(rows, invoice_ids, strict=True):
        args = dict(row.args)
        kind = _kind(row.contract, contracts, scope)
        currency: str | None = None
        if kind == "token":
            currency = str(row.contract)
        elif kind == "invoices":
            currency = str(args.get("currency") or currencies.get(invoice_id or 0) or "") or None
        named = names.at((int(row.block_number), int(row.log_index)))
        cleared = _cleared_in(row, following) if kind == "invoices" else None
        if cleared is not None:
            summary = f"listing by {named.label(args.get('holder'))} cleared: {cleared}"
        else:
            summary = _describe(row.event, args, currency, scope, named, _BY_KIND[kind])
            if kind == "invoices" and row.event == "InvoiceRepaid" and (row.tx_hash, int(row.log_index)) in recoveries:
                summary = f"recovery after the default: {summary}"
        known_currency = currency is not None and currency.lower() in scope.currencies
        out.append(
            {
                "block": int(row.block_number),
                "time": _iso(row.block_time),
                "tx_hash": row.tx_hash,
                "log_index": int(row.log_index),
                "contract": {"address": row.contract, "name": contracts.get(row.contract)},
                "event": row.event,
                "invoice_id": invoice_id,
                "parties": [named.party(a) for a in event_parties(args)],
                "currency": scope.symbol(currency) if known_currency and currency else None,
                "amount": scope.money(row.amount, currency) if known_currency and currency else None,
                "summary": summary,
                "args": shown_args(args, currency if known_currency else None, scope, named),
            }
        )
    return out


#: The descriptions of each kind of contract's events.
_BY_KIND: dict[str, Mapping[str, Callable[[_Phrase], str]]] = {
    "invoices": {**_LEDGER_DESCRIPTIONS, **_DESCRIPTIONS},
    "registry": {**_DESCRIPTIONS, **_LEDGER_DESCRIPTIONS},
    "token": _TOKEN_DESCRIPTIONS,
    "other": {},
}


def _kind(contract: str, contracts: Mapping[str, str], scope: Scope) -> str:
    if contract == scope.invoice_contract:
        return "invoices"
    if contract == scope.registry_contract:
        return "registry"
    return "token" if contracts.get(contract, "").startswith("SettlementToken") else "other"


def _invoice_id(row: Any, scope: Scope) -> int | None:
    """The invoice of an InvoiceToken event (also past 64 bits, from its arguments)."""
    if row.contract != scope.invoice_contract:
        return None
    if row.invoice_id is not None:
        return int(row.invoice_id)
    args = dict(row.args)
    raw = next((args[key] for key in INVOICE_ID_ARGS if key in args), None)
    return None if raw is None else int(raw)


def _cleared_in(row: Any, following: Mapping[tuple[str, int], Any]) -> str | None:
    """Why the contract cleared a listing, for a FinancingOfferWithdrawn
    ``row`` (:func:`_cleared_reason`); None for any other row, or a
    withdrawal by the holder."""
    if row.event != "FinancingOfferWithdrawn":
        return None
    nxt = following.get((row.tx_hash, int(row.log_index) + 1))
    return None if nxt is None else _cleared_reason([row, nxt], 0)
