"""Gasless confirmation over HTTP: ``POST /api/confirmations`` takes a buyer's
EIP-712 signed confirmations and submits them with the server's relayer
account (served only when `scf serve --relayer ACCOUNT` names one).

The signature is the authority, not the API key: any active key may submit
(the key id is logged and returned), and the contract confirms an invoice
only for its buyer's valid signature. The server never holds a buyer's key.
Submission is exactly `scf invoice confirm --signatures`'s
(:meth:`ledger.intake.Intake.submit_confirmations`): the same checks, the same
reasons for a skipped signature, the same batches.

The body is the signatures document `scf invoice sign-confirmation` writes
(JSON Lines, one signed confirmation per line), or one signed confirmation as
a JSON object, or a JSON array of them (then "line N" in messages is item N).
Answers: 200 with what was confirmed and skipped; 400 for a bad document
(nothing sent; the first bad line and field named); 401 without a key; 409
when nothing could be confirmed (every reason listed); 413 for a body over
:data:`MAX_BODY`; 503 when the node is away or the relayer is busy (retry).

The one module of :mod:`ledger.api` that signs, so the one that imports web3
(lazily: the app's read side starts without it).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from ledger.api import schemas
from ledger.api.deps import CHALLENGE, NO_KEY, engine_of, header_key, settings_of
from ledger.api.keys import KeyRow
from ledger.api.problems import RETRY_AFTER, Problem, problem_response
from ledger.config import DEV_CHAIN_ID, Settings, env_password
from ledger.errors import ChainError, InputError, LedgerError, NodeUnavailable, Refused, sent_nothing

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from ledger.lifecycle import Ledger

log = logging.getLogger("ledger.api.relay")

router = APIRouter(prefix="/api", responses=schemas.PROBLEMS)

#: The relayer's keystore password (else SCF_PASSWORD, as for every command that signs).
PASSWORD_ENV = "SCF_RELAYER_PASSWORD"
#: The largest body taken (about 16,000 signed confirmations).
MAX_BODY = 8 * 1024 * 1024
#: The deepest JSON nesting taken (a signed confirmation in an array is 2 levels deep).
MAX_DEPTH = 16
#: Seconds a request waits for the relayer while another request submits
#: (then 503 with Retry-After: a waiting request holds a worker thread).
BUSY_WAIT = 2.0
#: The most signed confirmations one document may hold (what one CLI batch takes, and more).
MAX_CONFIRMATIONS = 500
#: A client's detail when the node is away and nothing of its document was sent.
NODE_AWAY_NOTHING_SENT = "the ledger's node is unavailable and nothing was sent; post the document again later"
#: What the messages of a submission call the posted document.
DOCUMENT = Path("the posted document")
#: The shapes of a signed confirmation a client posts (as `scf invoice sign-confirmation` writes them).
_SIGNED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["chain_id", "contract", "buyer", "supplier", "number", "currency", "amount", "due_date"]
    + ["nonce", "deadline", "signature"],
    "properties": {
        "chain_id": {"type": "integer", "examples": [31337]},
        "contract": {"type": "string", "description": "The InvoiceToken (the EIP-712 verifying contract)."},
        "buyer": {"type": "string", "description": "The signer (the invoice's buyer)."},
        "supplier": {"type": "string"},
        "number": {"type": "string", "examples": ["INV-2027-0042"]},
        "currency": {"type": "string", "description": "The settlement token's address."},
        "amount": {"type": "string", "description": "Minor units, as a whole number.", "examples": ["12500000"]},
        "due_date": {"type": "integer", "description": "The due date as the unix time on chain."},
        "nonce": {"type": "string", "description": "A whole number, as text (it may exceed 2^53)."},
        "deadline": {"type": "integer", "description": "Unix time after which the signature is void."},
        "signature": {"type": "string", "description": "65 bytes (r, s, v) as 0x-prefixed hex."},
    },
}


class Skipped(BaseModel):
    line: int = Field(description="The line of the document (the item of an array, from 1).")
    invoice: int | None = Field(description="The invoice the signature names, when there is one.")
    number: str
    reason: str


class Relayed(BaseModel):
    """What a submission did."""

    transaction: str | None = Field(description="The transaction that confirmed them (the last, if several).")
    block: int | None
    transactions: list[str] = Field(description="Every transaction sent, in order.")
    confirmed: list[int] = Field(description="The invoices confirmed.")
    skipped: list[Skipped] = Field(description="Signatures not sent, each with why.")
    failed: list[Skipped] = Field(description="Signatures whose batch the contracts refused, with the rule.")
    relayer: schemas.Party
    submitted_by: str = Field(description="The id of the API key that submitted them.")


class Relayer:
    """The local account that pays for buyers' signed confirmations, unlocked once
    (when `scf serve` starts, or at the first submission of an app made by
    :func:`ledger.api.app.create_app` alone). One submission at a time."""

    def __init__(self, settings: Settings, name: str, password: str | None = None) -> None:
        from ledger.evm.accounts import DEV_NAMES, Keystore, load_signer

        self.settings = settings
        self.name = name
        encrypted = Keystore(settings).path(name).exists()
        #: A dev account (a public key): usable on the local dev chain only, checked against the node.
        self.dev = name in DEV_NAMES and not encrypted
        if password is None:
            password = relayer_password()
        if encrypted and password is None:
            raise InputError(
                f"the relayer account {name!r} is encrypted: set {PASSWORD_ENV} (or SCF_PASSWORD), "
                "or start scf serve on a terminal to be asked"
            )
        self.account: LocalAccount = load_signer(settings, name, DEV_CHAIN_ID, password)
        self.lock = threading.Lock()

    @property
    def address(self) -> str:
        return str(self.account.address)

    def ledger(self) -> Ledger:
        """The chain side, on the node as it is now (a new binding per submission, so
        a restarted node or a renamed participant is seen at once)."""
        from ledger.deployment import load_deployment
        from ledger.evm.accounts import load_signer
        from ledger.evm.chain import connect
        from ledger.lifecycle import Ledger

        w3 = connect(self.settings.rpc_url)
        chain_id = int(w3.eth.chain_id)
        if self.dev and chain_id != DEV_CHAIN_ID:
            load_signer(self.settings, self.name, chain_id, None)  # refuses a dev key off the dev chain
        return Ledger(self.settings, w3, load_deployment(self.settings, chain_id))

    def check(self) -> str | None:
        """At the start of `scf serve`: None when the node answers and the relayer may
        sign for it; the reason it cannot submit yet when the node is away. A dev
        key on another chain, or no deployment there, is an error."""
        try:
            self.ledger()
        except NodeUnavailable as exc:
            return str(exc)
        return None

    def submit(self, lines: list[tuple[int, str]]) -> list[dict[str, str]]:
        """Submit the document's signed confirmations as :meth:`Intake.submit_confirmations`
        does; every line's outcome (the columns of its result file)."""
        from ledger.intake import Intake

        if not self.lock.acquire(timeout=BUSY_WAIT):
            raise Problem(
                503,
                f"the relayer is still submitting another document after {BUSY_WAIT:g}s; retry in a moment",
                headers={"Retry-After": "5"},
            )
        try:
            try:
                intake = Intake(self.ledger())
            except NodeUnavailable as exc:  # before anything is signed
                log.warning("relay: %s", " ".join(str(exc).split()))  # the node's URL: for the log only
                raise Problem(503, NODE_AWAY_NOTHING_SENT, headers={"Retry-After": RETRY_AFTER}) from None
            with tempfile.TemporaryDirectory(prefix="scf-relay-") as folder:
                result = Path(folder) / "result.csv"
                intake.submit_confirmations(self.account, DOCUMENT, result, lines=lines)
                with result.open(newline="", encoding="utf-8") as handle:
                    return list(csv.DictReader(handle))
        finally:
            self.lock.release()


def relayer_password() -> str | None:
    """The relayer's keystore password: ``$SCF_RELAYER_PASSWORD``, else ``$SCF_PASSWORD`` (None: neither)."""
    return os.environ.get(PASSWORD_ENV) or env_password() or None


def relayer_of(request: Request) -> Relayer:
    """The app's relayer, unlocked on first use if `scf serve` has not done it."""
    state = request.app.state
    found: Relayer | None = getattr(state, "relay", None)
    if found is None:
        with _first_use:
            found = getattr(state, "relay", None)
            if found is None:
                found = state.relay = Relayer(settings_of(request), str(state.relayer))
    return found


_first_use = threading.Lock()


# -- the request ---------------------------------------------------------------------------
def _submitter(request: Request) -> KeyRow:
    """The API key of the request: a header only (``Authorization: Bearer`` or
    ``X-API-Key``), never the dashboard's cookie, so no page of another site can
    make a browser submit."""
    with engine_of(request).connect() as conn:
        key = header_key(conn, request)
    if key is None:
        raise Problem(401, NO_KEY, headers=CHALLENGE)
    return key


async def _body(request: Request) -> str:
    """The body as text (UTF-8, a byte-order mark dropped), at most :data:`MAX_BODY` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise Problem(413, f"the body is over {MAX_BODY // 2**20} MiB: send the signatures in several documents")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise Problem(413, f"the body is over {MAX_BODY // 2**20} MiB: send the signatures in several documents")
        chunks.append(chunk)
    raw = b"".join(chunks).removeprefix(b"\xef\xbb\xbf")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Problem(400, f"the body is not UTF-8 text (byte {exc.start + 1}); send the document as UTF-8") from None


def document_lines(text: str) -> list[tuple[int, str]]:
    """The signed confirmations of a posted document as (line, JSON text): the lines of
    JSON Lines, or the items of a JSON array, or one JSON object as line 1; at most
    :data:`MAX_CONFIRMATIONS` (each supplier named costs the relayer a log scan)."""
    lines = _document_lines(text)
    if sum(1 for _, t in lines if t.strip()) > MAX_CONFIRMATIONS:
        raise Problem(
            413,
            f"more than {MAX_CONFIRMATIONS} signed confirmations in one document; post them in parts "
            "(each part is checked and submitted on its own)",
        )
    return lines


def _document_lines(text: str) -> list[tuple[int, str]]:
    if not text.strip():
        raise Problem(
            400,
            "the body is empty: send the signatures document of `scf invoice sign-confirmation` "
            "(JSON Lines), one signed confirmation (a JSON object) or a JSON array of them",
        )
    if too_deep(text):
        raise Problem(400, f"the body nests JSON more than {MAX_DEPTH} levels deep: it holds no signed confirmation")
    try:
        whole = json.loads(text)
    except ValueError:  # not one JSON document (or a number too long to read): JSON Lines, each line judged on its own
        return list(enumerate(text.splitlines(), start=1))
    if isinstance(whole, list):
        if not whole:
            raise Problem(400, "the array is empty: send at least one signed confirmation")
        return [(i, json.dumps(item)) for i, item in enumerate(whole, start=1)]
    return [(1, json.dumps(whole))]


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_AS_PARENS = str.maketrans("[{]}", "(())")


def too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether ``text`` may nest JSON arrays and objects (strings left out) more
    than about ``limit`` levels deep (at most twice that passes). Checked before
    any parse: importing web3 raises the interpreter's recursion limit to 100,000
    (py_ecc does it), so the JSON parser would overflow the C stack on a deep
    enough document and crash the server. In fast passes: each removes the
    innermost bracket pairs (one level), so a document ``limit`` deep is gone
    after ``limit`` passes, and what is left then holds only unclosed brackets."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)).translate(_AS_PARENS)
    for _ in range(limit):
        shorter = brackets.replace("()", "")
        if len(shorter) == len(brackets):
            break
        brackets = shorter
    else:
        if "()" in brackets:
            return True
    return brackets.count("(") > limit


def _outcome(row: dict[str, str]) -> dict[str, Any]:
    """A skipped or failed line as the poster sees it: a signature that is not
    the buyer's names no invoice (whoever posts it holds no authority of the
    buyer, and learns nothing of its invoices: not even which id a number has)."""
    from ledger.intake import NOT_THE_BUYERS

    forged = row["note"] == NOT_THE_BUYERS
    return {
        "line": int(row["line"]),
        "invoice": int(row["invoice_id"]) if row["invoice_id"] and not forged else None,
        "number": row["number"],
        "reason": row["note"],
    }


def _listing(rows: list[dict[str, Any]]) -> str:
    shown = [f"line {r['line']}" + (f" (invoice {r['invoice']})" if r["invoice"] else "") + f": {r['reason']}"
             for r in rows[:10]]  # fmt: skip
    more = f"; and {len(rows) - 10} more" if len(rows) > 10 else ""
    return "; ".join(shown) + more


@router.post(
    "/confirmations",
    response_model=Relayed,
    tags=["confirmations"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "The signatures document of `scf invoice sign-confirmation`.",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string", "description": "JSON Lines"}},
                "application/json": {"schema": {"oneOf": [_SIGNED_SCHEMA, {"type": "array", "items": _SIGNED_SCHEMA}]}},
            },
        }
    },
)
async def post_confirmations(request: Request) -> Any:
    """Submit buyers' signed confirmations (EIP-712, made offline with `scf invoice
    sign-confirmation` or any wallet) with the server's relayer account, so the
    buyer pays no gas. Every signature is checked first (for this chain and
    contract, the buyer's own, unexpired, its nonce unused, the invoice still
    Issued on the terms signed); those that cannot work are skipped with why,
    the rest are sent in one transaction (or a few, for many). 200: at least
    one invoice confirmed; 409: none could be (the reasons listed); 400: a bad
    document (nothing sent); 503: the node is away or the relayer busy, retry.

    Any API key may submit: the buyer's signature is what the contract checks.
    """
    from ledger.intake import AccountBusy, BadRows

    key = await run_in_threadpool(_submitter, request)
    lines = await run_in_threadpool(document_lines, await _body(request))
    try:
        relayer = await run_in_threadpool(relayer_of, request)
    except LedgerError as exc:  # the server's setting (a keystore password), not the request
        raise Problem(503, f"the relayer cannot submit: {' '.join(str(exc).split())}") from None
    try:
        rows = await run_in_threadpool(relayer.submit, lines)
    except BadRows as exc:
        first = exc.errors[0]
        errors = [{"line": e.line, "reason": e.reason} for e in exc.errors]
        count = len(exc.errors)
        detail = f"line {first.line} {first.reason}" + (f" (and {count - 1} more bad)" if count > 1 else "")
        return problem_response(400, f"{detail}; nothing was sent", request.url.path, errors=errors)
    except AccountBusy:
        detail = f"the relayer {relayer.address} is sending other transactions to this node (another scf command); "
        raise Problem(503, detail + "retry in a moment", headers={"Retry-After": "5"}) from None
    except Refused as exc:  # a dev key off the dev chain: the server's setting, not the request
        raise Problem(503, f"the relayer cannot submit: {exc}") from None
    except InputError:
        raise
    except (ChainError, OSError) as exc:  # the node away or failing, before or while sending
        # The full line names the node's URL (which may hold a provider's key) and the CLI's
        # remedies: the server log has it; the client gets what it can do about it.
        line = " ".join(str(exc).split()) or type(exc).__name__
        log.warning("POST %s by API key %s through relayer %s: %s", request.url.path, key.key_id, relayer.address, line)
        if isinstance(exc, LedgerError) and sent_nothing(exc):
            detail = NODE_AWAY_NOTHING_SENT
        else:
            detail = (
                "the ledger's node stopped answering while the confirmations were being sent: some may be "
                "confirmed all the same; look the invoices up (GET /api/invoices/{id}) before posting the "
                "document again (a signature already used is refused, never used twice)"
            )
        raise Problem(503, detail, headers={"Retry-After": RETRY_AFTER}) from None
    confirmed = [r for r in rows if r["status"] == "confirmed"]
    skipped = [_outcome(r) for r in rows if r["status"] == "skipped"]
    failed = [_outcome(r) for r in rows if r["status"] == "failed"]
    txs = list(dict.fromkeys(r["tx_hash"] for r in rows if r["tx_hash"]))
    log.info(
        "API key %s submitted %d signed confirmation(s) through relayer %s: %d confirmed, %d skipped, %d failed%s",
        key.key_id, len(rows), relayer.address, len(confirmed), len(skipped), len(failed),
        f" (transaction {', '.join(txs)})" if txs else "",
    )  # fmt: skip
    party = {"address": relayer.address, "name": _name_of(request, relayer.address)}
    if not confirmed:
        detail = "nothing was confirmed: " + _listing(failed + skipped)
        return problem_response(
            409, detail, request.url.path, skipped=skipped, failed=failed, transactions=txs, submitted_by=key.key_id
        )
    last = confirmed[-1]
    return {
        "transaction": last["tx_hash"],
        "block": int(last["block"]),
        "transactions": txs,
        "confirmed": [int(r["invoice_id"]) for r in confirmed],
        "skipped": skipped,
        "failed": failed,
        "relayer": party,
        "submitted_by": key.key_id,
    }


def _name_of(request: Request, address: str) -> str | None:
    """The relayer's participant name in the indexed registry, if it has one."""
    from ledger.db.models import Participant

    p = Participant.__table__.c
    try:
        with engine_of(request).connect() as conn:
            name = conn.execute(sa.select(p.name).where(p.address == address).limit(1)).scalar()
    except sa.exc.SQLAlchemyError:
        return None
    return None if name is None else str(name)
