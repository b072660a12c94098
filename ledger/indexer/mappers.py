"""Raw log -> ``events`` row, in small pure functions (the shape of
ethereum-etl's ``mappers/``): no I/O, no database, easy to test alone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from ledger.indexer.decode import LogDecoder, checksum

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
}
TOKEN_AMOUNT_ARG = {"Transfer": "value", "Approval": "value"}
#: Name stored for logs no ABI of the deployment describes (kept, raw).
UNKNOWN_EVENT = "(unknown)"

_BIGINT_MAX = 2**63 - 1
_MAX_TIMESTAMP = int(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp())


@lru_cache(maxsize=4096)
def utc_from_timestamp(timestamp: int) -> dt.datetime:
    """Unix seconds as an aware UTC datetime; values past year 9999 (a uint64
    can hold them) are clamped to its last second, the raw value staying in
    the event's args."""
    return dt.datetime.fromtimestamp(min(max(timestamp, 0), _MAX_TIMESTAMP), tz=dt.UTC)


def _small_int(value: Any) -> int | None:
    number = int(value)
    return number if number <= _BIGINT_MAX else None


def typed_columns(kind: str | None, event: str, args: Mapping[str, Any]) -> tuple[int | None, str | None, int | None]:
    """(invoice_id, account, amount) of an event, by the kind of its contract."""
    if kind == INVOICES:
        raw_id = args.get("invoiceId", args.get("tokenId"))
        arg = INVOICE_AMOUNT_ARG.get(event)
        return (
            None if raw_id is None else _small_int(raw_id),
            None,
            None if arg is None else int(args[arg]),
        )
    if kind == REGISTRY:
        account = args.get("account")
        return None, account if isinstance(account, str) else None, None
    if kind == TOKEN:
        arg = TOKEN_AMOUNT_ARG.get(event)
        return None, None, None if arg is None or arg not in args else int(args[arg])
    return None, None, None


def decode_log(decoder: LogDecoder, log: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(event name, JSON-ready args). Logs the ABIs do not describe, or that
    do not decode, keep their raw topics and data."""
    topics = log["topics"]
    event_decoder = decoder.lookup(log["address"], topics[0]) if topics else None
    if event_decoder is not None:
        try:
            return event_decoder.name, event_decoder.decode(topics, log["data"])
        except Exception as exc:  # noqa: BLE001 - a malformed log is kept raw, not fatal
            return UNKNOWN_EVENT, {"topics": topics, "data": log["data"], "error": f"{type(exc).__name__}: {exc}"}
    return UNKNOWN_EVENT, {"topics": topics, "data": log["data"]}


def log_to_row(
    log: Mapping[str, Any],
    event: str,
    args: dict[str, Any],
    chain_id: int,
    kind: str | None,
    block_time: dt.datetime,
) -> dict[str, Any]:
    """One ``events`` row (column -> value) for a raw eth_getLogs entry."""
    invoice_id, account, amount = typed_columns(kind, event, args)
    return {
        "chain_id": chain_id,
        "contract": checksum(log["address"]),
        "block_number": int(log["blockNumber"], 16),
        "block_hash": log["blockHash"].lower(),
        "block_time": block_time,
        "tx_hash": log["transactionHash"].lower(),
        "tx_index": int(log["transactionIndex"], 16),
        "log_index": int(log["logIndex"], 16),
        "event": event,
        "invoice_id": invoice_id,
        "account": account,
        "amount": amount,
        "args": args,
    }


def log_timestamp(log: Mapping[str, Any]) -> int | None:
    """The block timestamp some nodes (Anvil, recent Geth and Reth) put in each log."""
    value = log.get("blockTimestamp")
    return int(value, 16) if isinstance(value, str) else None
