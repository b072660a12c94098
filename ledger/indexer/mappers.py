"""Raw log -> ``events`` row, in small pure functions (the shape of
ethereum-etl's ``mappers/``): no I/O, no database, easy to test alone.

Everything that depends only on the emitting contract and the event (its
decoder, which arguments fill the typed columns) is resolved once per
(contract, topic0) into a :class:`LogTarget`; mapping a log is then one
dictionary lookup and straight-line code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ledger.db.timestamps import MAX_TIMESTAMP as MAX_TIMESTAMP
from ledger.db.timestamps import utc_from_timestamp as utc_from_timestamp
from ledger.evm.abi import EventDecoder, LogDecoder, checksum
from ledger.indexer.folds import INVOICE_ID_ARGS

#: Contract kinds of a deployment, by the role their events play.
INVOICES = "invoices"
REGISTRY = "registry"
TOKEN = "token"

#: Which argument of an invoice event is "the money of the event".
INVOICE_AMOUNT_ARG = {
    "InvoiceIssued": "amount",
    "InvoiceFinanced": "advance",
    "InvoiceRepaid": "amount",
    "FinancingOffered": "minAdvance",
    "ReserveReleased": "amount",
    "PartCreated": "amount",
    "RootRepaid": "amount",
    "CreditNoteIssued": "credit",
    "InvoiceDefaulted": "holderClaim",
    "InvoiceBoughtBack": "amount",
    "InvoiceWrittenOff": "amount",
}
TOKEN_AMOUNT_ARG = {"Transfer": "value", "Approval": "value"}
#: Name stored for logs no ABI of the deployment describes (kept, raw).
UNKNOWN_EVENT = "(unknown)"

BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True)
class TypedSpec:
    """The arguments that fill the typed columns of an event's rows."""

    invoice_arg: str | None = None
    account_arg: str | None = None
    amount_arg: str | None = None


def typed_spec(kind: str | None, event: str, arg_names: Iterable[str]) -> TypedSpec:
    """Which arguments give ``invoice_id``, ``account`` and ``amount``, by the
    kind of the emitting contract (see the ``events`` model)."""
    names = set(arg_names)
    if kind == INVOICES:
        invoice = next((arg for arg in INVOICE_ID_ARGS if arg in names), None)
        amount = INVOICE_AMOUNT_ARG.get(event)
        return TypedSpec(invoice, None, amount if amount in names else None)
    if kind == REGISTRY:
        return TypedSpec(None, "account" if "account" in names else None, None)
    if kind == TOKEN:
        amount = TOKEN_AMOUNT_ARG.get(event)
        return TypedSpec(None, None, amount if amount in names else None)
    return TypedSpec()


def _small_int(value: str) -> int | None:
    number = int(value)
    return number if number <= BIGINT_MAX else None


@dataclass(frozen=True)
class LogTarget:
    """What a log of one event of one contract becomes."""

    contract: str  # checksummed
    decoder: EventDecoder
    spec: TypedSpec


def build_targets(decoder: LogDecoder, kinds: Mapping[str, str | None]) -> dict[tuple[str, str], LogTarget]:
    """(lower-case address, topic0) -> LogTarget for every decodable event;
    ``kinds`` maps lower-case addresses to contract kinds."""
    targets = {}
    for (address, topic0), event_decoder in decoder.decoders.items():
        spec = typed_spec(kinds.get(address), event_decoder.name, event_decoder.arg_names)
        targets[(address, topic0)] = LogTarget(checksum(address), event_decoder, spec)
    return targets


def decode_log(target: LogTarget | None, log: Mapping[str, Any]) -> tuple[str, dict[str, Any], str | None]:
    """(event name, JSON-ready args, args as JSON text or None). Logs the ABIs
    do not describe, or that do not decode, keep their raw topics and data."""
    if target is not None:
        try:
            args, text = target.decoder.decode(log["topics"], log["data"])
            return target.decoder.name, args, text
        except Exception as exc:  # noqa: BLE001 - a malformed log is kept raw, not fatal
            return (
                UNKNOWN_EVENT,
                {"topics": log["topics"], "data": log["data"], "error": f"{type(exc).__name__}: {exc}"},
                None,
            )
    return UNKNOWN_EVENT, {"topics": log["topics"], "data": log["data"]}, None


def log_to_row(
    log: Mapping[str, Any],
    target: LogTarget | None,
    chain_id: int,
    block_number: int,
    block_hash: str,
    block_time: dt.datetime,
) -> dict[str, Any]:
    """One ``events`` row (column -> value) for a raw eth_getLogs entry of
    the given block. ``args_json`` carries the args already as JSON text when
    the decoder made it (the bulk insert stores it as is)."""
    event, args, text = decode_log(target, log)
    invoice_id = account = amount = None
    if target is not None and text is not None:
        spec = target.spec
        if spec.invoice_arg is not None:
            invoice_id = _small_int(args[spec.invoice_arg])
        if spec.account_arg is not None:
            account = args[spec.account_arg]
        if spec.amount_arg is not None:
            amount = int(args[spec.amount_arg])
    return {
        "chain_id": chain_id,
        "contract": target.contract if target is not None else checksum(log["address"]),
        "block_number": block_number,
        "block_hash": block_hash,
        "block_time": block_time,
        "tx_hash": log["transactionHash"].lower(),
        "tx_index": int(log["transactionIndex"], 16),
        "log_index": int(log["logIndex"], 16),
        "event": event,
        "invoice_id": invoice_id,
        "account": account,
        "amount": amount,
        "args": args,
        "args_json": text,
    }


def logs_to_rows(
    logs: Iterable[Mapping[str, Any]],
    targets: Mapping[tuple[str, str], LogTarget],
    chain_id: int,
    timestamps: Mapping[int, int],
) -> list[dict[str, Any]]:
    """``events`` rows for an eth_getLogs answer (in its order). Block times
    come from the logs' ``blockTimestamp`` or else from ``timestamps`` (by
    block number); the per-block fields are worked out once per block."""
    rows = []
    current = None
    number, block_hash, block_time = 0, "", utc_from_timestamp(0)
    for log in logs:
        if log.get("removed"):
            continue
        if log["blockHash"] != current:
            current = log["blockHash"]
            number = int(log["blockNumber"], 16)
            block_hash = current.lower()
            stamp = log_timestamp(log)
            block_time = utc_from_timestamp(stamp if stamp is not None else timestamps.get(number, 0))
        topics = log["topics"]
        address = log["address"]
        target = targets.get((address, topics[0])) if topics else None
        if target is None and topics:
            target = targets.get((address.lower(), topics[0].lower()))
        rows.append(log_to_row(log, target, chain_id, number, block_hash, block_time))
    return rows


def log_timestamp(log: Mapping[str, Any]) -> int | None:
    """The block timestamp some nodes (Anvil, recent Geth and Reth) put in each log."""
    value = log.get("blockTimestamp")
    return int(value, 16) if isinstance(value, str) else None
