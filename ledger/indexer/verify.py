"""`scf verify`: the indexed ledger compared with the contracts.

Reads every invoice (``getInvoice``, ``ownerOf``, ``getListing`` and, on
contracts with multi-tier parts, ``getLineage``) and
every indexed participant (``participant``) from the contracts at the
database's last indexed block, in JSON-RPC batches of ``eth_call``, and
compares them field by field with the projections. Comparing at the indexed
block (not the head) means events mined since the last sync are not reported
as differences. Then the stored events themselves: their number per contract
and event is compared with the logs ``eth_getLogs`` returns for the indexed
range, counted by topic0 (a lost or doubled event row shows there even when
the projections agree with the contracts).

Trees: each invoice's lineage (parent, root, depth) is compared like its
other fields, and every Split invoice of the database must add up: its
``paid`` plus its parts' amounts (as the database holds them) equal its
amount on chain (kind ``tree``, one line per invoice that does not).

Contracts version 4 (when things go wrong): ``getInvoice`` also gives the
financing's recourse, the grace period that applies (the financing's, else
the deployment's: the database's is the last GracePeriodChanged event), the
status a dispute interrupted and a proposed due date, compared like the
other fields; a part's face amount at its split is its ``amount`` plus its
``credited`` (credit notes lower the amount afterwards).

What no view function tells (credit notes so far, extensions, the default's
block and time, write-offs, recoveries, the timestamps and records of
every step), the chain's logs do: the logs fetched for the count are mapped
and folded in memory by the indexer's own code, from nothing, and every
other projection column (kind ``invoice``) and every ``financings``,
``repayments`` and ``incidents`` row (kinds ``financing``, ``repayment``,
``incident``, key ``invoice@block:log``) is compared with that replay. A
tampered projection row shows there even when the events table is intact.

Times past year 9999 (a uint64 due date or listing expiry can lie there) are
compared as the projections store them, clamped
(:func:`ledger.db.timestamps.utc_from_timestamp`), and shown as numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak, to_checksum_address

from ledger.config import Settings
from ledger.db.models import FINANCINGS, INCIDENTS, INVOICES, REPAYMENTS, Cursor, Event, Participant
from ledger.db.scope import grace_period_at
from ledger.db.session import read_connection
from ledger.db.timestamps import utc_from_timestamp
from ledger.deployment import Deployment, load_deployment
from ledger.errors import ChainError, DatabaseError
from ledger.evm.abi import LogDecoder, abi_type
from ledger.evm.rpc import RpcClient, RpcError, is_range_refusal
from ledger.format import iso_time
from ledger.indexer import projections
from ledger.indexer.loop import contract_kind
from ledger.indexer.mappers import UNKNOWN_EVENT, build_targets, log_timestamp, logs_to_rows
from ledger.money import from_minor_units
from ledger.names import STATUS_NAMES, InvoiceStatus, status_name

SPLIT = int(InvoiceStatus.SPLIT)

INVOICE_FIELDS = (
    "status",
    "supplier",
    "buyer",
    "holder",
    "currency",
    "amount",
    "paid",
    "outstanding",
    "due_at",
    "seller",
    "financier_due",
    "financier_paid",
    "offer_financier",
    "offer_min_advance",
    "offer_expires_at",
    "parent_id",
    "root_id",
    "depth",
)
#: ``getInvoice`` fields of contracts version 4, compared when the ABI has them.
REMEDY_FIELDS = ("recourse", "grace_period", "disputed_from", "proposed_due_at")
PARTICIPANT_FIELDS = ("name", "roles", "kyc_expiry", "suspended")
MONEY_FIELDS = frozenset(
    {
        "amount",
        "paid",
        "outstanding",
        "financier_due",
        "financier_paid",
        "offer_min_advance",
        "advance",
        "reserve_released",
        "credited",
        "written_off",
        "recovered",
        "due",
        "to_payee",
        "to_seller",
        "total_paid",
        "paid_to_holder",
    }
)
TIME_FIELDS = frozenset(
    {
        "due_at",
        "kyc_expiry",
        "offer_expires_at",
        "proposed_due_at",
        "issued_at",
        "confirmed_at",
        "financed_at",
        "paid_at",
        "cancelled_at",
        "last_repaid_at",
        "defaulted_at",
        "updated_at",
        "block_time",
        "old_due_at",
        "new_due_at",
    }
)
#: The projection tables of records, by the kind their mismatches are reported as.
RECORD_TABLES = {"financing": FINANCINGS, "repayment": REPAYMENTS, "incident": INCIDENTS}
_KEY_COLUMNS = frozenset({"id", "chain_id", "contract", "invoice_id"})
#: Blocks per eth_getLogs call when counting the logs (halved when the node refuses).
LOG_SPAN = 10_000


@dataclass
class Mismatch:
    # "invoice", "participant", "tree", "block", "events" (key: Contract.Event), or a record
    # of the replay: "financing", "repayment", "incident" (key: invoice@block:log)
    kind: str
    key: str
    field: str
    database: Any
    chain: Any

    def line(self) -> str:
        return f"{self.kind} {self.key} {self.field}: database {self.database}, chain {self.chain}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "field": self.field, "database": self.database, "chain": self.chain}


@dataclass
class VerifyReport:
    chain_id: int
    block: int
    invoices: int
    participants: int
    mismatches: list[Mismatch] = field(default_factory=list)
    #: Stored events compared with the chain's logs.
    events: int = 0

    def summary(self) -> str:
        checked = (
            f"{self.invoices} invoice{'s' if self.invoices != 1 else ''}, {self.participants} "
            f"participant{'s' if self.participants != 1 else ''} and {self.events} "
            f"event{'s' if self.events != 1 else ''} at block {self.block} of chain {self.chain_id}"
        )
        if not self.mismatches:
            return f"verified: the database matches the contracts ({checked})"
        n = len(self.mismatches)
        kinds = {m.kind for m in self.mismatches}
        if "block" in kinds:
            advice = "the chain reorganised since the last sync; run `scf index sync`, then verify again"
        elif "events" in kinds:
            advice = (
                "the stored events differ from the chain's logs; index the chain again into a new database "
                "(--db-url), then verify again"
            )
        else:
            advice = "run `scf index rebuild` (replays the stored events), then verify again"
        return (
            f"MISMATCH: {n} difference{'s' if n != 1 else ''} between the database and the contracts "
            f"({checked}); {advice}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": not self.mismatches,
            "chain_id": self.chain_id,
            "block": self.block,
            "invoices": self.invoices,
            "participants": self.participants,
            "events": self.events,
            "mismatches": [m.to_dict() for m in self.mismatches],
        }


class ContractFunction:
    """Encoder/decoder of one view function from a deployment record's ABI."""

    def __init__(self, abi: list[dict[str, Any]], name: str) -> None:
        entry = next((e for e in abi if e.get("type") == "function" and e.get("name") == name), None)
        if entry is None:
            raise ChainError(f"the deployment record's ABI has no function {name}; redeploy with `scf deploy --force`")
        self.inputs = [abi_type(p) for p in entry["inputs"]]
        self.outputs = [abi_type(p) for p in entry["outputs"]]
        self.output_params = entry["outputs"]
        self.selector = keccak(text=f"{name}({','.join(self.inputs)})")[:4]

    def data(self, *args: Any) -> str:
        return "0x" + (self.selector + abi_encode(self.inputs, list(args))).hex()

    def decode(self, result: str) -> tuple[Any, ...]:
        return tuple(abi_decode(self.outputs, bytes.fromhex(result.removeprefix("0x"))))


def _is_revert(error: dict[str, Any]) -> bool:
    message = str(error.get("message", "")).lower()
    return error.get("code") == 3 or "revert" in message


def _calls(rpc: RpcClient, to: str, block: int, datas: Sequence[str], batch_size: int) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    tag = hex(block)
    for start in range(0, len(datas), batch_size):
        chunk = datas[start : start + batch_size]
        out.extend(rpc.answers([("eth_call", [{"to": to, "data": d}, tag]) for d in chunk]))
    for answer in out:
        if "error" in answer and not _is_revert(answer["error"]):
            raise ChainError(f"eth_call at block {block} failed: {answer['error'].get('message', answer['error'])}")
    return out


# -- comparison --------------------------------------------------------------------------------
def _address(value: str | None) -> str | None:
    if value is None or int(value, 16) == 0:
        return None
    return str(to_checksum_address(value))


def _ts(value: dt.datetime | None) -> int | None:
    """A stored time as unix seconds."""
    return None if value is None else int(value.timestamp())


def _chain_ts(value: int) -> int:
    """A time from the chain as the projections store it (clamped to year 9999)."""
    return int(utc_from_timestamp(int(value)).timestamp())


def _show_time(ts: int) -> str:
    return str(iso_time(ts))


def _amount(value: Any) -> int | None:
    return None if value is None else int(value)


def _chain_invoice(
    invoice_id: int,
    fields: dict[str, Any],
    holder: str | None,
    listing: tuple[Any, ...] | None,
    lineage: tuple[Any, ...] | None,
) -> dict[str, Any]:
    """``getInvoice``, ``ownerOf``, ``getListing`` and ``getLineage`` as the
    projection row holds them: the financing figures None (due) and 0 (paid)
    for an invoice never financed, the listing None where none is stored,
    nothing outstanding on a Split invoice, a root's parent None (contracts
    without parts: every invoice is a root)."""
    status = int(fields["status"])
    parent, root, depth = lineage if lineage is not None else (0, invoice_id, 0)
    seller = _address(fields["seller"])
    stored = listing is not None and int(listing[1]) != 0
    financier, expiry, min_advance = listing[:3] if listing is not None and stored else (None, 0, None)
    remedies = {}
    if "recourse" in fields:  # contracts version 4
        proposed = int(fields["proposedDueDate"])
        disputed_from = int(fields["disputedFrom"])
        remedies = {
            "recourse": bool(fields["recourse"]),
            "grace_period": int(fields["gracePeriod"]),
            "disputed_from": status_name(disputed_from) if disputed_from else None,
            "proposed_due_at": _chain_ts(proposed) if proposed else None,
        }
        if listing is not None and len(listing) > 3:
            remedies["offer_recourse"] = bool(listing[3]) if stored else None
    return {
        **remedies,
        "status": STATUS_NAMES[status] if status < len(STATUS_NAMES) else str(status),
        "supplier": _address(fields["supplier"]),
        "buyer": _address(fields["buyer"]),
        "holder": holder,
        "currency": _address(fields["currency"]),
        "amount": int(fields["amount"]),
        "paid": int(fields["paid"]),
        "outstanding": 0 if status == SPLIT else int(fields["amount"]) - int(fields["paid"]),
        "due_at": _chain_ts(fields["dueDate"]),
        "seller": seller,
        "financier_due": None if seller is None else int(fields["financierDue"]),
        "financier_paid": int(fields["financierPaid"]),
        "offer_financier": _address(financier),
        "offer_min_advance": None if min_advance is None else int(min_advance),
        "offer_expires_at": _chain_ts(expiry) if int(expiry) else None,
        "parent_id": int(parent) or None,
        "root_id": int(root) or invoice_id,
        "depth": int(depth),
    }


def _db_invoice(row: Any, deployment_grace: int | None) -> dict[str, Any]:
    """An ``invoices`` row as :func:`_chain_invoice` shapes the chain's: the
    grace period that applies (the financing's, else ``deployment_grace``)."""
    return {
        "recourse": bool(row.recourse),
        "grace_period": deployment_grace if row.seller is None else row.grace_period,
        "disputed_from": row.disputed_from,
        "proposed_due_at": _ts(row.proposed_due_at),
        "offer_recourse": row.offer_recourse,
        "credited": int(row.credited),
        "status": row.status,
        "supplier": row.supplier,
        "buyer": row.buyer,
        "holder": row.holder,
        "currency": row.currency,
        "amount": int(row.amount),
        "paid": int(row.paid),
        "outstanding": int(row.outstanding),
        "due_at": _ts(row.due_at),
        "seller": row.seller,
        "financier_due": _amount(row.financier_due),
        "financier_paid": int(row.financier_paid or 0),
        "offer_financier": row.offer_financier,
        "offer_min_advance": _amount(row.offer_min_advance),
        "offer_expires_at": _ts(row.offer_expires_at),
        "parent_id": None if row.parent_id is None else int(row.parent_id),
        "root_id": int(row.root_id),
        "depth": int(row.depth),
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return bool(a == b)


def _shown(name: str, value: Any, deployment: Deployment, currency: str | None) -> Any:
    if value is None:
        return "-"
    if name in MONEY_FIELDS and currency is not None:
        cur = deployment.currency_by_address(currency)
        if cur is not None:
            return f"{cur.symbol} {from_minor_units(int(value), cur.decimals)}"
    if name in TIME_FIELDS:
        return _show_time(int(value))
    return value


def compare(
    kind: str,
    key: str,
    db: dict[str, Any] | None,
    chain: dict[str, Any] | None,
    names: Iterable[str],
    deployment: Deployment,
) -> list[Mismatch]:
    if db is None and chain is None:
        return []
    if db is None:
        return [Mismatch(kind, key, "presence", "missing", "exists")]
    if chain is None:
        return [Mismatch(kind, key, "presence", "exists", "missing")]
    currency = chain.get("currency") or db.get("currency")
    return [
        Mismatch(
            kind,
            key,
            name,
            _shown(name, db[name], deployment, currency),
            _shown(name, chain[name], deployment, currency),
        )
        for name in names
        if not _same(db[name], chain[name])
    ]


# -- the check ---------------------------------------------------------------------------------
def verify(settings: Settings, batch_size: int = 500) -> VerifyReport:
    with RpcClient(settings.rpc_url) as rpc:
        return _verify(settings, rpc, batch_size)


@dataclass
class _Stored:
    """What the database holds for one deployment, read in one transaction."""

    cursor: Any
    contracts: dict[str, str]
    invoices: dict[int, dict[str, Any]]
    participants: dict[str, dict[str, Any]]
    events: dict[tuple[str, str, str | None], int]
    #: The ``invoices`` rows as stored (every column), by id.
    invoice_rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: The record rows as stored, by kind (RECORD_TABLES) and (invoice, tx hash, log index).
    records: dict[str, dict[tuple[int, str, int], dict[str, Any]]] = field(default_factory=dict)


def _verify(settings: Settings, rpc: RpcClient, batch_size: int) -> VerifyReport:
    chain_id = rpc.chain_id()
    deployment = load_deployment(settings, chain_id)
    invoice_contract = to_checksum_address(deployment.contracts["InvoiceToken"].address)
    registry_contract = to_checksum_address(deployment.contracts["ParticipantRegistry"].address)
    db = _read_stored(settings, chain_id, invoice_contract, registry_contract)
    cursor = db.cursor
    block = int(cursor.block_number)
    report = VerifyReport(chain_id, block, 0, len(db.participants))

    head = rpc.block_number()
    if head < block:
        raise ChainError(
            f"the database is indexed up to block {block} but the chain's head is {head}: the chain lost blocks "
            "or was reset; run `scf index sync --rewind` (it rolls back what the chain no longer has)"
        )
    chain_block = rpc.call("eth_getBlockByNumber", [hex(block), False])
    if cursor.block_hash and chain_block and str(chain_block["hash"]).lower() != str(cursor.block_hash).lower():
        report.mismatches.append(Mismatch("block", str(block), "hash", cursor.block_hash, chain_block["hash"]))
    _check_invoices(rpc, deployment, invoice_contract, block, batch_size, db, report)
    _check_participants(rpc, deployment, registry_contract, block, batch_size, db, report)
    logs: list[dict[str, Any]] = []
    _check_events(rpc, deployment, int(cursor.start_block), block, db, report, keep=(invoice_contract, logs))
    _check_replay(rpc, deployment, chain_id, invoice_contract, logs, db, report)
    return report


def _read_stored(settings: Settings, chain_id: int, invoice_contract: str, registry_contract: str) -> _Stored:
    """The newest cursor of the deployment, its invoices, participants and event counts."""
    with read_connection(settings.database_url) as conn:
        cursor = conn.execute(
            sa.select(Cursor)
            .where(Cursor.chain_id == chain_id, Cursor.invoice_contract == invoice_contract)
            .order_by(Cursor.id.desc())
        ).first()
        if cursor is None or cursor.block_number is None:
            raise DatabaseError(
                f"the database has not indexed the contracts of chain {chain_id} (InvoiceToken "
                f"{invoice_contract}); run `scf index sync` first"
            )
        grace = grace_period_at(conn, chain_id, invoice_contract, int(cursor.block_number))
        i = INVOICES
        invoice_rows = {
            int(r.invoice_id): r
            for r in conn.execute(sa.select(i).where(i.c.chain_id == chain_id, i.c.contract == invoice_contract))
        }
        db_invoices = {invoice_id: _db_invoice(r, grace) for invoice_id, r in invoice_rows.items()}
        records = {
            kind: {
                (int(r["invoice_id"]), str(r["tx_hash"]), int(r["log_index"])): dict(r)
                for r in conn.execute(
                    sa.select(t).where(t.c.chain_id == chain_id, t.c.contract == invoice_contract)
                ).mappings()
            }
            for kind, t in RECORD_TABLES.items()
        }
        db_participants = {
            str(r.address): {
                "name": r.name,
                "roles": int(r.roles),
                "kyc_expiry": _ts(r.kyc_expiry),
                "suspended": bool(r.suspended),
            }
            for r in conn.execute(
                sa.select(Participant).where(
                    Participant.chain_id == chain_id, Participant.contract == registry_contract
                )
            )
        }
        contracts = {str(name): str(to_checksum_address(address)) for name, address in dict(cursor.contracts).items()}
        db_events = _stored_event_counts(conn, chain_id, contracts, int(cursor.start_block), int(cursor.block_number))
    stored = {invoice_id: dict(r._mapping) for invoice_id, r in invoice_rows.items()}
    return _Stored(cursor, contracts, db_invoices, db_participants, db_events, stored, records)


def _check_invoices(
    rpc: RpcClient,
    deployment: Deployment,
    invoice_contract: str,
    block: int,
    batch_size: int,
    db: _Stored,
    report: VerifyReport,
) -> None:
    """Every invoice the contract has, or the database has, compared field by field."""
    invoice_abi = deployment.contracts["InvoiceToken"].abi
    next_id = ContractFunction(invoice_abi, "nextInvoiceId")
    get_invoice = ContractFunction(invoice_abi, "getInvoice")
    owner_of = ContractFunction(invoice_abi, "ownerOf")
    get_listing = ContractFunction(invoice_abi, "getListing")
    has_parts = any(e.get("type") == "function" and e.get("name") == "getLineage" for e in invoice_abi)
    calls = [get_invoice, owner_of, get_listing]
    if has_parts:
        calls.append(ContractFunction(invoice_abi, "getLineage"))
    (count,) = next_id.decode(_calls(rpc, invoice_contract, block, [next_id.data()], 1)[0]["result"])
    ids = sorted(set(range(1, int(count))) | set(db.invoices))
    report.invoices = len(ids)
    answers = _calls(rpc, invoice_contract, block, [fn.data(i) for i in ids for fn in calls], batch_size)
    component_names = [c["name"] for c in get_invoice.output_params[0]["components"]]
    names = INVOICE_FIELDS + (REMEDY_FIELDS if "recourse" in component_names else ())
    chain: dict[int, dict[str, Any]] = {}
    for n, invoice_id in enumerate(ids):
        got, owner, listed, *lineage_answer = answers[len(calls) * n : len(calls) * (n + 1)]
        chain_state = None
        if "result" in got:
            (struct,) = get_invoice.decode(got["result"])
            holder = _address(owner_of.decode(owner["result"])[0]) if "result" in owner else None
            listing = tuple(get_listing.decode(listed["result"])[0]) if "result" in listed else None
            lineage = None
            if lineage_answer and "result" in lineage_answer[0]:
                lineage = tuple(calls[3].decode(lineage_answer[0]["result"])[0])
            fields = dict(zip(component_names, struct, strict=True))
            chain_state = chain[invoice_id] = _chain_invoice(invoice_id, fields, holder, listing, lineage)
        report.mismatches += compare(
            "invoice", str(invoice_id), db.invoices.get(invoice_id), chain_state, names, deployment
        )
    report.mismatches += check_trees(db.invoices, chain, deployment)


def check_trees(
    db_invoices: dict[int, dict[str, Any]], chain: dict[int, dict[str, Any]], deployment: Deployment
) -> list[Mismatch]:
    """Every Split invoice of the database adds up: its paid plus its parts'
    face amounts at the split (by the database's lineage, amounts and credit
    notes: ``amount + credited``) equals its amount on chain (its amount in
    the database when the chain has no such invoice)."""
    parts: dict[int, int] = {}
    for row in db_invoices.values():
        if row["parent_id"] is not None:
            face = int(row["amount"]) + int(row.get("credited") or 0)
            parts[row["parent_id"]] = parts.get(row["parent_id"], 0) + face
    found = []
    for invoice_id in sorted(db_invoices):
        row = db_invoices[invoice_id]
        if row["status"] != STATUS_NAMES[SPLIT] and invoice_id not in parts:
            continue
        on_chain = chain.get(invoice_id, row)
        total, amount = int(row["paid"]) + parts.get(invoice_id, 0), int(on_chain["amount"])
        if total != amount:
            currency = on_chain.get("currency") or row.get("currency")
            found.append(
                Mismatch(
                    "tree",
                    str(invoice_id),
                    "paid + parts",
                    _shown("amount", total, deployment, currency),
                    _shown("amount", amount, deployment, currency),
                )
            )
    return found


def _check_participants(
    rpc: RpcClient,
    deployment: Deployment,
    registry_contract: str,
    block: int,
    batch_size: int,
    db: _Stored,
    report: VerifyReport,
) -> None:
    """Every indexed participant compared with the registry."""
    participant_fn = ContractFunction(deployment.contracts["ParticipantRegistry"].abi, "participant")
    addresses = sorted(db.participants)
    answers = _calls(rpc, registry_contract, block, [participant_fn.data(a) for a in addresses], batch_size)
    for address, answer in zip(addresses, answers, strict=True):
        chain_state = None
        if "result" in answer:
            name, roles, kyc, admitted, suspended = participant_fn.decode(answer["result"])
            if admitted:
                chain_state = {
                    "name": name,
                    "roles": int(roles),
                    "kyc_expiry": _chain_ts(kyc),
                    "suspended": bool(suspended),
                }
        report.mismatches += compare(
            "participant", address, db.participants[address], chain_state, PARTICIPANT_FIELDS, deployment
        )


def _check_events(
    rpc: RpcClient,
    deployment: Deployment,
    start: int,
    block: int,
    db: _Stored,
    report: VerifyReport,
    keep: tuple[str, list[dict[str, Any]]] | None = None,
) -> None:
    """The stored events counted per contract and event against the chain's
    logs (``keep``: a contract and a list to append its logs to, in chain order)."""
    decoder = LogDecoder((c.address, c.abi) for c in deployment.contracts.values())
    chain_events = _chain_event_counts(rpc, decoder, list(db.contracts.values()), start, block, keep)
    stored: dict[tuple[str, str], int] = {}
    for (contract, event, topic0), n in db.events.items():
        key = (contract, _event_name(decoder, contract, event, topic0))
        stored[key] = stored.get(key, 0) + n
    report.events = sum(stored.values())
    labels = {address: name for name, address in db.contracts.items()}
    for contract, event in sorted(set(stored) | set(chain_events)):
        in_db, on_chain = stored.get((contract, event), 0), chain_events.get((contract, event), 0)
        if in_db != on_chain:
            report.mismatches.append(
                Mismatch("events", f"{labels.get(contract, contract)}.{event}", "count", in_db, on_chain)
            )


# -- stored events against the chain's logs -----------------------------------------------------
def _event_name(decoder: LogDecoder, contract: str, event: str, topic0: str | None) -> str:
    """The name a log of ``contract`` with ``topic0`` has by the deployment's
    ABIs (an event the indexer could not decode keeps its raw topic0)."""
    if event != UNKNOWN_EVENT or topic0 is None:
        return event
    found = decoder.lookup(contract, topic0)
    return UNKNOWN_EVENT if found is None else found.name


def _stored_event_counts(
    conn: sa.Connection, chain_id: int, contracts: dict[str, str], start: int, end: int
) -> dict[tuple[str, str, str | None], int]:
    """(contract, event, raw topic0 of a log kept undecoded) -> stored events
    in blocks ``start``..``end``."""
    e = Event
    where = (e.chain_id == chain_id, e.contract.in_(list(contracts.values())), e.block_number.between(start, end))
    counts: dict[tuple[str, str, str | None], int] = {}
    for contract, event, n in conn.execute(
        sa.select(e.contract, e.event, sa.func.count())
        .where(*where, e.event != UNKNOWN_EVENT)
        .group_by(e.contract, e.event)
    ):
        counts[(to_checksum_address(contract), str(event), None)] = int(n)
    for contract, args in conn.execute(sa.select(e.contract, e.args).where(*where, e.event == UNKNOWN_EVENT)):
        topics = args.get("topics") or [None]
        key = (to_checksum_address(contract), UNKNOWN_EVENT, str(topics[0]).lower() if topics[0] else None)
        counts[key] = counts.get(key, 0) + 1
    return counts


def _chain_event_counts(
    rpc: RpcClient,
    decoder: LogDecoder,
    addresses: Sequence[str],
    start: int,
    end: int,
    keep: tuple[str, list[dict[str, Any]]] | None = None,
) -> dict[tuple[str, str], int]:
    """(contract, event name by topic0) -> logs the chain has in blocks
    ``start``..``end``, fetched in ranges that halve when the node refuses
    (``keep``: a contract whose logs are appended to a list, in chain order)."""
    kept = None if keep is None else keep[0].lower()
    counts: dict[tuple[str, str], int] = {}
    span = LOG_SPAN
    low = start
    while low <= end:
        high = min(end, low + span - 1)
        try:
            logs, high = rpc.logs_through(addresses, low, high)
        except (RpcError, ChainError) as exc:
            if not is_range_refusal(exc) or high == low:
                raise
            span = max(1, (high - low + 1) // 2)
            continue
        for log in logs:
            if log.get("removed"):
                continue
            topics = log.get("topics") or []
            found = decoder.lookup(log["address"], topics[0]) if topics else None
            key = (to_checksum_address(log["address"]), UNKNOWN_EVENT if found is None else found.name)
            counts[key] = counts.get(key, 0) + 1
            if keep is not None and str(log["address"]).lower() == kept:
                keep[1].append(log)
        low = high + 1
    return counts


# -- the projections against a replay of the chain's logs ---------------------------------------
def _check_replay(
    rpc: RpcClient,
    deployment: Deployment,
    chain_id: int,
    invoice_contract: str,
    logs: list[dict[str, Any]],
    db: _Stored,
    report: VerifyReport,
) -> None:
    """The chain's logs of the invoice contract, mapped and folded in memory
    by the indexer's own code, against the stored projections: every
    ``invoices`` column that ``getInvoice`` does not give, and every record
    row. Invoices missing on either side are left to the presence check."""
    decoder = LogDecoder((c.address, c.abi) for c in deployment.contracts.values())
    kinds = {address.lower(): contract_kind(name) for name, address in db.contracts.items()}
    targets = build_targets(decoder, kinds)
    untimed = sorted({int(log["blockNumber"], 16) for log in logs if log_timestamp(log) is None})
    timestamps = {n: h.timestamp for n, h in rpc.headers(untimed).items() if h is not None} if untimed else {}
    rows = logs_to_rows(logs, targets, chain_id, timestamps)
    states, records = projections.fold_rows(r for r in rows if r["contract"] == invoice_contract)
    compared = set(INVOICE_FIELDS) | set(REMEDY_FIELDS) | _KEY_COLUMNS
    columns = [c.name for c in INVOICES.columns if c.name not in compared]
    for invoice_id in sorted(set(states) & set(db.invoice_rows)):
        stored, replayed = db.invoice_rows[invoice_id], states[invoice_id]
        report.mismatches += compare(
            "invoice",
            str(invoice_id),
            {"currency": stored["currency"], **{name: _plain(stored[name]) for name in columns}},
            {"currency": replayed["currency"], **{name: _plain(replayed[name]) for name in columns}},
            columns,
            deployment,
        )
    for kind, table in RECORD_TABLES.items():
        names = [c.name for c in table.columns if c.name not in _KEY_COLUMNS]
        chain_rows = {(int(r["invoice_id"]), str(r["tx_hash"]), int(r["log_index"])): r for r in records[table.name]}
        stored_rows = db.records.get(kind, {})
        for key in sorted(set(chain_rows) | set(stored_rows)):
            if key[0] not in db.invoice_rows or key[0] not in states:
                continue
            stored_row, chain_row = stored_rows.get(key), chain_rows.get(key)
            currency = states[key[0]]["currency"]
            report.mismatches += compare(
                kind,
                f"{key[0]}@{(stored_row or chain_row or {}).get('block_number')}:{key[2]}",
                None if stored_row is None else {"currency": currency, **{n: _plain(stored_row[n]) for n in names}},
                None if chain_row is None else {"currency": currency, **{n: _plain(chain_row[n]) for n in names}},
                names,
                deployment,
            )


def _plain(value: Any) -> Any:
    """A projection value as compared: times as unix seconds, dates as ISO text."""
    if isinstance(value, dt.datetime):
        return _ts(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


__all__ = ["Mismatch", "VerifyReport", "verify"]
