"""`scf verify`: the indexed ledger compared with the contracts.

Reads every invoice (``getInvoice`` and ``ownerOf``) and every indexed
participant (``participant``) from the contracts at the database's last
indexed block, in JSON-RPC batches of ``eth_call``, and compares them field by
field with the projections. Comparing at the indexed block (not the head)
means events mined since the last sync are not reported as differences.
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
from ledger.contracts import Deployment, load_deployment
from ledger.db.models import Cursor, Invoice, Participant
from ledger.exceptions import ChainError, DatabaseError
from ledger.indexer.decode import abi_type
from ledger.indexer.rpc import RpcClient
from ledger.money import from_minor_units
from ledger.queries import STATUS_NAMES, read_connection

INVOICE_FIELDS = ("status", "supplier", "buyer", "holder", "financier", "currency", "amount", "paid", "outstanding",
                  "advance", "due_at", "issued_at", "fingerprint", "doc_hash")
PARTICIPANT_FIELDS = ("name", "roles", "kyc_expiry", "suspended")


@dataclass
class Mismatch:
    kind: str  # "invoice", "participant" or "block"
    key: str
    field: str
    database: Any
    chain: Any

    def line(self) -> str:
        return f"{self.kind} {self.key} {self.field}: database {self.database}, chain {self.chain}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "key": self.key, "field": self.field, "database": self.database,
                "chain": self.chain}


@dataclass
class VerifyReport:
    chain_id: int
    block: int
    invoices: int
    participants: int
    mismatches: list[Mismatch] = field(default_factory=list)

    def summary(self) -> str:
        checked = (f"{self.invoices} invoice{'s' if self.invoices != 1 else ''} and {self.participants} "
                   f"participant{'s' if self.participants != 1 else ''} at block {self.block} of chain {self.chain_id}")
        if not self.mismatches:
            return f"verified: the database matches the contracts ({checked})"
        n = len(self.mismatches)
        if any(m.kind == "block" for m in self.mismatches):
            advice = "the chain reorganised since the last sync; run `scf index sync`, then verify again"
        else:
            advice = "run `scf index rebuild` (replays the stored events), then verify again"
        return (f"MISMATCH: {n} difference{'s' if n != 1 else ''} between the database and the contracts "
                f"({checked}); {advice}")

    def to_dict(self) -> dict[str, Any]:
        return {"ok": not self.mismatches, "chain_id": self.chain_id, "block": self.block,
                "invoices": self.invoices, "participants": self.participants,
                "mismatches": [m.to_dict() for m in self.mismatches]}


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
        chunk = datas[start:start + batch_size]
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


def _ts(value: dt.datetime | int | None) -> int | None:
    if value is None:
        return None
    return int(value.timestamp()) if isinstance(value, dt.datetime) else int(value)


def _show_time(ts: int | None) -> str:
    return "-" if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _chain_invoice(fields: dict[str, Any], holder: str | None) -> dict[str, Any]:
    status = int(fields["status"])
    return {
        "status": STATUS_NAMES[status] if status < len(STATUS_NAMES) else str(status),
        "supplier": _address(fields["supplier"]),
        "buyer": _address(fields["buyer"]),
        "holder": holder,
        "financier": _address(fields["financier"]),
        "currency": _address(fields["currency"]),
        "amount": int(fields["amount"]),
        "paid": int(fields["paid"]),
        "outstanding": int(fields["amount"]) - int(fields["paid"]),
        "advance": int(fields["advance"]),
        "due_at": int(fields["dueDate"]),
        "issued_at": int(fields["issuedAt"]),
        "fingerprint": "0x" + bytes(fields["fingerprint"]).hex(),
        "doc_hash": "0x" + bytes(fields["docHash"]).hex(),
    }


def _db_invoice(row: Any) -> dict[str, Any]:
    return {
        "status": row.status, "supplier": row.supplier, "buyer": row.buyer, "holder": row.holder,
        "financier": row.financier, "currency": row.currency, "amount": int(row.amount), "paid": int(row.paid),
        "outstanding": int(row.outstanding), "advance": int(row.advance), "due_at": _ts(row.due_at),
        "issued_at": _ts(row.issued_at), "fingerprint": str(row.fingerprint).lower(),
        "doc_hash": str(row.doc_hash).lower(),
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    return bool(a == b)


def _shown(name: str, value: Any, deployment: Deployment, currency: str | None) -> Any:
    if value is None:
        return "-"
    if name in ("amount", "paid", "outstanding", "advance") and currency is not None:
        cur = deployment.currency_by_address(currency)
        if cur is not None:
            return f"{cur.symbol} {from_minor_units(int(value), cur.decimals)}"
    if name in ("due_at", "issued_at", "kyc_expiry"):
        return _show_time(int(value))
    return value


def compare(kind: str, key: str, db: dict[str, Any] | None, chain: dict[str, Any] | None, names: Iterable[str],
            deployment: Deployment) -> list[Mismatch]:
    if db is None and chain is None:
        return []
    if db is None:
        return [Mismatch(kind, key, "presence", "missing", "exists")]
    if chain is None:
        return [Mismatch(kind, key, "presence", "exists", "missing")]
    currency = chain.get("currency") or db.get("currency")
    return [
        Mismatch(kind, key, name, _shown(name, db[name], deployment, currency),
                 _shown(name, chain[name], deployment, currency))
        for name in names if not _same(db[name], chain[name])
    ]


# -- the check ---------------------------------------------------------------------------------
def verify(settings: Settings, batch_size: int = 500) -> VerifyReport:
    with RpcClient(settings.rpc_url) as rpc:
        return _verify(settings, rpc, batch_size)


def _verify(settings: Settings, rpc: RpcClient, batch_size: int) -> VerifyReport:
    chain_id = rpc.chain_id()
    deployment = load_deployment(settings, chain_id)
    invoice_contract = to_checksum_address(deployment.contracts["InvoiceToken"].address)
    registry_contract = to_checksum_address(deployment.contracts["ParticipantRegistry"].address)

    with read_connection(settings.database_url) as conn:
        cursor = conn.execute(
            sa.select(Cursor).where(Cursor.chain_id == chain_id, Cursor.invoice_contract == invoice_contract)
            .order_by(Cursor.id.desc())
        ).first()
        if cursor is None or cursor.block_number is None:
            raise DatabaseError(
                f"the database has not indexed the contracts of chain {chain_id} (InvoiceToken "
                f"{invoice_contract}); run `scf index sync` first"
            )
        db_invoices = {
            int(r.invoice_id): _db_invoice(r) for r in conn.execute(
                sa.select(Invoice).where(Invoice.chain_id == chain_id, Invoice.contract == invoice_contract)
            )
        }
        db_participants = {
            str(r.address): {"name": r.name, "roles": int(r.roles), "kyc_expiry": _ts(r.kyc_expiry),
                             "suspended": bool(r.suspended)}
            for r in conn.execute(
                sa.select(Participant).where(Participant.chain_id == chain_id,
                                             Participant.contract == registry_contract)
            )
        }
    block = int(cursor.block_number)
    report = VerifyReport(chain_id, block, 0, len(db_participants))

    head = rpc.block_number()
    if head < block:
        raise ChainError(
            f"the database is indexed up to block {block} but the chain's head is {head}: the chain lost blocks "
            "or was reset; run `scf index sync` (it rolls back what the chain no longer has)"
        )
    chain_block = rpc.call("eth_getBlockByNumber", [hex(block), False])
    if cursor.block_hash and chain_block and str(chain_block["hash"]).lower() != str(cursor.block_hash).lower():
        report.mismatches.append(Mismatch("block", str(block), "hash", cursor.block_hash, chain_block["hash"]))

    invoice_abi = deployment.contracts["InvoiceToken"].abi
    next_id = ContractFunction(invoice_abi, "nextInvoiceId")
    get_invoice = ContractFunction(invoice_abi, "getInvoice")
    owner_of = ContractFunction(invoice_abi, "ownerOf")
    (count,) = next_id.decode(_calls(rpc, invoice_contract, block, [next_id.data()], 1)[0]["result"])
    ids = sorted(set(range(1, int(count))) | set(db_invoices))
    report.invoices = len(ids)
    answers = _calls(rpc, invoice_contract, block,
                     [d for i in ids for d in (get_invoice.data(i), owner_of.data(i))], batch_size)
    component_names = [c["name"] for c in get_invoice.output_params[0]["components"]]
    for n, invoice_id in enumerate(ids):
        got, owner = answers[2 * n], answers[2 * n + 1]
        chain_state = None
        if "result" in got:
            (struct,) = get_invoice.decode(got["result"])
            holder = _address(owner_of.decode(owner["result"])[0]) if "result" in owner else None
            chain_state = _chain_invoice(dict(zip(component_names, struct, strict=True)), holder)
        report.mismatches += compare("invoice", str(invoice_id), db_invoices.get(invoice_id), chain_state,
                                     INVOICE_FIELDS, deployment)

    participant_fn = ContractFunction(deployment.contracts["ParticipantRegistry"].abi, "participant")
    addresses = sorted(db_participants)
    answers = _calls(rpc, registry_contract, block, [participant_fn.data(a) for a in addresses], batch_size)
    for address, answer in zip(addresses, answers, strict=True):
        chain_state = None
        if "result" in answer:
            name, roles, kyc, admitted, suspended = participant_fn.decode(answer["result"])
            if admitted:
                chain_state = {"name": name, "roles": int(roles), "kyc_expiry": int(kyc), "suspended": bool(suspended)}
        report.mismatches += compare("participant", address, db_participants[address], chain_state,
                                     PARTICIPANT_FIELDS, deployment)
    return report


__all__ = ["Mismatch", "VerifyReport", "verify"]
