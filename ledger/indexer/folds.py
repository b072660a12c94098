"""The fold functions of the projections: pure (state, event row) -> state,
the only definition of what an event means for the ledger (current invoice
and participant state, and the financing and repayment records).
:mod:`ledger.indexer.projections` applies them to the database per batch and
replays them in memory; nothing here touches a database.

Event rows are dicts with the ``events`` columns (``args`` decoded from
JSON: integers as decimal strings), whether they come from the indexer or
from the database. Importing this module does not import web3 or eth_abi.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from ledger.business_time import business_date
from ledger.db.tables import INCIDENT_KINDS, INVOICES, PARTICIPANTS
from ledger.db.timestamps import utc_from_timestamp
from ledger.invoice_numbers import MAX_NUMBER_BYTES, InvalidInvoiceNumber, normalise_invoice_number
from ledger.names import DEFAULTED_STATUS_NAMES, STATUS_NAMES, ZERO_ADDRESS, status_name

_, ISSUED, CONFIRMED, FINANCED, PARTIALLY_PAID, PAID, CANCELLED, SPLIT = STATUS_NAMES[:8]
DISPUTED, DEFAULTED, WRITTEN_OFF = STATUS_NAMES[8:11]
#: The events that change an invoice's state. ReceivableTransferred (the
#: reference of a transfer whose ERC-721 Transfer moved the holder) and
#: RootRepaid (the sum of the leaves' own InvoiceRepaid) change none;
#: GracePeriodChanged names no invoice (it stays in ``events``, read by
#: :func:`ledger.queries.deployment_grace_period`).
INVOICE_EVENTS = frozenset(
    {
        *INCIDENT_KINDS,
        "Transfer",
        "InvoiceIssued",
        "InvoiceConfirmed",
        "InvoiceCancelled",
        "FinancingOffered",
        "FinancingOfferWithdrawn",
        "InvoiceFinanced",
        "InvoiceRepaid",
        "ReserveReleased",
        "InvoiceSplit",
        "PartCreated",
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
#: Which argument of an InvoiceToken event names its invoice (the ``events``
#: row's ``invoice_id``), by preference: a part's own id before its parent's,
#: a split's parent before its root.
INVOICE_ID_ARGS = ("invoiceId", "tokenId", "partId", "parentId", "rootId")
_INVOICE_COLUMNS = tuple(c.name for c in INVOICES.columns)
_PARTICIPANT_COLUMNS = tuple(c.name for c in PARTICIPANTS.columns)


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
    state["offer_recourse"] = None


_BLANK_INVOICE: dict[str, Any] = dict.fromkeys(_INVOICE_COLUMNS)


def new_invoice_state(chain_id: int, contract: str, invoice_id: int) -> dict[str, Any]:
    state = _BLANK_INVOICE.copy()
    state["chain_id"] = chain_id
    state["contract"] = contract
    state["invoice_id"] = invoice_id
    return state


def parent_of(ev: Mapping[str, Any]) -> int | None:
    """The invoice whose state folding ``ev`` needs besides its own: a
    PartCreated's parent (the part takes its supplier, buyer, currency and
    due date); None for every other event."""
    return int(event_args(ev)["parentId"]) if ev["event"] == "PartCreated" else None


def fold_into(states: dict[int, dict[str, Any]], ev: Mapping[str, Any]) -> dict[str, Any] | None:
    """Fold ``ev`` into ``states`` (invoice id -> state, updated in place),
    the parent of a new part read from there too; returns the invoice's new
    state (None: not an invoice yet). The one way every path (a batch, a
    rebuild, a replay in memory, the fetch process) folds an event."""
    invoice_id = ev["invoice_id"]
    parent_id = parent_of(ev)
    state = fold_invoice(states.get(invoice_id), ev, None if parent_id is None else states.get(parent_id))
    if state is not None:
        states[invoice_id] = state
    return state


def fold_invoice(
    state: dict[str, Any] | None, ev: Mapping[str, Any], parent: Mapping[str, Any] | None = None
) -> dict[str, Any] | None:
    """Apply one InvoiceToken event to an invoice's state (None: not seen yet).
    Returns the new state; events that do not change an invoice return it as is.
    ``parent``: for a PartCreated, the state of the split invoice (without it
    the part stays incomplete, ``supplier`` None, and is not stored).

    The contract's rules, as its events show them: a financing records the
    seller and the financier's due and consumes the listing; a payment goes
    to the holder up to what the financier side is still due (``toHolder``)
    and the rest to the seller (ReserveReleased, in the same transaction); a
    listing ends when withdrawn or when the receivable changes hands (then
    FinancingOfferWithdrawn is emitted too), never by a payment.

    Multi-tier: a split closes the parent as Split with nothing outstanding
    (its open amount moved to its parts; ``amount`` and ``paid`` stay); each
    part (minted by a Transfer just before its PartCreated) is Confirmed, with
    the parent's supplier, buyer, currency, due date, document hash and
    confirmation, no number, and its lineage."""
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
    elif name in ("FinancingOffered", "FinancingOfferWithdrawn"):
        _listing(state, name, args)
    elif name == "InvoiceFinanced":
        _financed(state, ev, args)
    elif name in ("InvoiceRepaid", "ReserveReleased"):
        _payment(state, ev, args)
    elif name in ("InvoiceSplit", "PartCreated"):
        _tree_event(state, ev, args, parent)
    elif name in INCIDENT_KINDS:
        _remedy(state, ev, args)
    _touch(state, ev)
    return state


def _financed(state: dict[str, Any], ev: Mapping[str, Any], args: Mapping[str, Any]) -> None:
    """A financing: the seller, the financier's due, and (contracts version 4)
    its default terms, recourse and grace period; it consumes the listing."""
    state.update(
        status=FINANCED,
        financier=args["financier"],
        advance=int(args["advance"]),
        seller=args["seller"],
        financier_due=int(args["due"]),
        financier_paid=0,
        recourse=bool(args.get("recourse", False)),
        grace_period=int(args.get("gracePeriod", 0)),
        financed_block=ev["block_number"],
        financed_at=ev["block_time"],
    )
    _clear_offer(state)


def _remedy(state: dict[str, Any], ev: Mapping[str, Any], args: Mapping[str, Any]) -> None:
    """When things go wrong (contracts version 4): a dispute raised or
    withdrawn, a credit note, an extension proposed or accepted, a default, a
    buy-back (the token's move back to the seller is the Transfer that
    follows) or a write-off. The contract clears a listing on a dispute, a
    default and a credit note that closes the receivable, announcing it with
    FinancingOfferWithdrawn; it is cleared here as well (no listing survives
    those statuses)."""
    name = ev["event"]
    if name == "InvoiceDisputed":
        state.update(status=DISPUTED, disputed_from=status_name(int(args["previous"])))
        _clear_offer(state)
    elif name == "DisputeWithdrawn":
        state.update(status=status_name(int(args["restored"])), disputed_from=None)
    elif name == "CreditNoteIssued":
        _credit_note(state, ev, args)
    elif name == "ExtensionProposed":
        state["proposed_due_at"] = utc_from_timestamp(int(args["proposedDueDate"]))
    elif name == "MaturityExtended":
        due_at = utc_from_timestamp(int(args["newDueDate"]))
        state.update(
            due_at=due_at,
            due_date=business_date(due_at),
            extensions=(state["extensions"] or 0) + 1,
            proposed_due_at=None,
        )
    elif name == "InvoiceDefaulted":
        state.update(
            status=DEFAULTED,
            defaulted_block=ev["block_number"],
            defaulted_at=ev["block_time"],
            proposed_due_at=None,
        )
        _clear_offer(state)
    elif name == "InvoiceBoughtBack":
        # The financing is settled in full: later payments go wholly to the seller.
        state["financier_paid"] = state["financier_due"]
    elif name == "InvoiceWrittenOff":
        state.update(status=WRITTEN_OFF, written_off=(state["written_off"] or 0) + int(args["amount"]))


def _credit_note(state: dict[str, Any], ev: Mapping[str, Any], args: Mapping[str, Any]) -> None:
    """Dilution: the amount falls by ``credit`` to ``newAmount``; ``toHolder``
    is what the seller paid the financier holding it (counted as paid to the
    financier side); a dispute ends (``status`` is the status after); a
    credit of the whole open amount closes the receivable: Paid (settled now)
    if anything was paid, else Cancelled (the token is not burnt)."""
    credit, new_amount = int(args["credit"]), int(args["newAmount"])
    status = status_name(int(args["status"]))
    paid = state["paid"] or 0
    state.update(
        amount=new_amount,
        credited=(state["credited"] or 0) + credit,
        outstanding=new_amount - paid,
        status=status,
        disputed_from=None,
    )
    to_holder = int(args["toHolder"])
    if to_holder:
        state["financier_paid"] = (state["financier_paid"] or 0) + to_holder
    if status == PAID:
        state.update(paid_block=ev["block_number"], paid_at=ev["block_time"])
        _clear_offer(state)
    elif status == CANCELLED:
        state.update(cancelled_block=ev["block_number"], cancelled_at=ev["block_time"])
        _clear_offer(state)


def _listing(state: dict[str, Any], name: str, args: Mapping[str, Any]) -> None:
    """A listing stored (FinancingOffered) or ended (FinancingOfferWithdrawn)."""
    if name == "FinancingOfferWithdrawn":
        _clear_offer(state)
        return
    state.update(
        offer_financier=_address(args["financier"]),
        offer_min_advance=int(args["minAdvance"]),
        offer_expires_at=utc_from_timestamp(int(args["expiry"])),
        offer_recourse=bool(args.get("recourse", False)),
    )


def _new_receivable(amount: int, ev: Mapping[str, Any]) -> dict[str, Any]:
    """The figures of a receivable made by ``ev`` (issued, or a part created):
    ``amount`` open, nothing paid, never financed."""
    return {
        "amount": amount,
        "paid": 0,
        "outstanding": amount,
        "advance": 0,
        "financier": None,
        "seller": None,
        "financier_due": None,
        "financier_paid": 0,
        "reserve_released": 0,
        "credited": 0,
        "recourse": False,
        "grace_period": None,
        "disputed_from": None,
        "proposed_due_at": None,
        "extensions": 0,
        "defaulted_block": None,
        "defaulted_at": None,
        "written_off": 0,
        "recovered": 0,
        "issued_block": ev["block_number"],
        "issued_at": ev["block_time"],
    }


def _issued(state: dict[str, Any], ev: Mapping[str, Any], args: Mapping[str, Any]) -> None:
    due_at = utc_from_timestamp(int(args["dueDate"]))
    state.update(
        _new_receivable(int(args["amount"]), ev),
        supplier=args["supplier"],
        buyer=args["buyer"],
        currency=args["currency"],
        status=ISSUED,
        due_at=due_at,
        due_date=business_date(due_at),  # the business date (ledger.business_time): rebuild after a zone change
        number=args["number"],
        number_normalised=normalised_number(args["number"]),
        doc_hash=args["docHash"],
        parent_id=None,
        root_id=ev["invoice_id"],
        depth=0,
    )


#: What a part takes from the invoice it was split from.
_INHERITED = ("supplier", "buyer", "currency", "due_at", "due_date", "doc_hash", "confirmed_block", "confirmed_at")


def _tree_event(
    state: dict[str, Any], ev: Mapping[str, Any], args: Mapping[str, Any], parent: Mapping[str, Any] | None
) -> None:
    """A split closes the invoice (nothing outstanding: its open amount moved
    to its parts); a PartCreated makes a part of ``parent``."""
    if ev["event"] == "InvoiceSplit":
        state.update(status=SPLIT, outstanding=0)
        _clear_offer(state)  # the contract clears it (FinancingOfferWithdrawn) as well
        return
    state.update(
        _new_receivable(int(args["amount"]), ev),
        holder=args["holder"],
        status=CONFIRMED,
        number=None,
        number_normalised=None,
        parent_id=int(args["parentId"]),
        root_id=int(args["rootId"]),
        depth=int(args["depth"]),
    )
    if parent is not None and parent.get("supplier") is not None:
        state.update({key: parent[key] for key in _INHERITED})


def _payment(state: dict[str, Any], ev: Mapping[str, Any], args: Mapping[str, Any]) -> None:
    """A payment (InvoiceRepaid): ``toHolder`` of it went to the financier
    side (when financed). After a default it is a recovery: the receivable
    stays Defaulted or WrittenOff until fully paid, and ``recovered`` counts
    it. The reserve part of it, if any (ReserveReleased), went to the seller."""
    if ev["event"] == "ReserveReleased":
        state["reserve_released"] = (state["reserve_released"] or 0) + int(args["amount"])
        return
    paid = int(args["totalPaid"])
    state.update(paid=paid, last_repaid_at=ev["block_time"])
    if state["seller"] is not None:
        state["financier_paid"] = (state["financier_paid"] or 0) + int(args["toHolder"])
    if state.get("defaulted_block") is not None:
        state["recovered"] = (state["recovered"] or 0) + int(args["amount"])
    if state["amount"] is not None:
        state["outstanding"] = state["amount"] - paid
        if paid >= state["amount"]:
            state.update(status=PAID, paid_block=ev["block_number"], paid_at=ev["block_time"])
        elif state["status"] not in DEFAULTED_STATUS_NAMES:
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
        "recourse": bool(args.get("recourse", False)),
        "grace_period": int(args.get("gracePeriod", 0)),
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
        # Paid after the default (the fold keeps ``defaulted_block`` from then on).
        "recovery": state.get("defaulted_block") is not None,
        "currency": state["currency"],
    }


def _due(value: Any) -> Any:
    return utc_from_timestamp(int(value))


def incident_row(ev: Mapping[str, Any], state: Mapping[str, Any]) -> dict[str, Any]:
    """The ``incidents`` row of an event of :data:`INCIDENT_KINDS` (``state``:
    the invoice's, folded with it); the columns each kind fills are those of
    the :class:`~ledger.db.models.Incident` docstring, the others None."""
    args = event_args(ev)
    name = ev["event"]
    row: dict[str, Any] = {
        **_record(ev),
        "kind": INCIDENT_KINDS[name],
        "actor": None,
        "counterparty": None,
        "amount": None,
        "paid_to_holder": None,
        "outstanding": None,
        "reference": None,
        "old_due_at": None,
        "new_due_at": None,
        "status": None,
    }
    if name == "InvoiceDisputed":
        row.update(
            actor=args["buyer"],
            counterparty=state["holder"],
            reference=args["reason"],
            status=status_name(int(args["previous"])),
        )
    elif name == "DisputeWithdrawn":
        row.update(actor=args["buyer"], status=status_name(int(args["restored"])))
    elif name == "CreditNoteIssued":
        row.update(
            actor=args["issuer"],
            counterparty=args["holder"],
            amount=int(args["credit"]),
            paid_to_holder=int(args["toHolder"]),
            outstanding=int(args["newAmount"]) - (state["paid"] or 0),
            reference=args["noteHash"],
            status=status_name(int(args["status"])),
        )
    elif name == "ExtensionProposed":
        row.update(actor=args["buyer"], old_due_at=_due(args["dueDate"]), new_due_at=_due(args["proposedDueDate"]))
    elif name == "MaturityExtended":
        row.update(actor=args["holder"], old_due_at=_due(args["oldDueDate"]), new_due_at=_due(args["newDueDate"]))
    elif name == "InvoiceDefaulted":
        row.update(actor=args["holder"], amount=int(args["holderClaim"]), outstanding=int(args["outstanding"]))
    elif name == "InvoiceBoughtBack":
        row.update(actor=args["seller"], counterparty=args["holder"], amount=int(args["amount"]))
    elif name == "InvoiceWrittenOff":
        row.update(actor=args["holder"], amount=int(args["amount"]))
    return row
