"""Decisions against the indexed ledger: the facts a decision needs, read
from the database, and the ``decisions`` rows it writes. No web3 here.

Exposure (what the limits count) of a financier in one currency is what it
is still due, not face amounts:

* its book: of every financed receivable it holds (a seller is recorded,
  holder = the financier), its outstanding due (``financier_due -
  financier_paid``; the seller's reserve is not the financier's risk), plus
* its pending decisions: the priced gross advance (the due it would have) of
  invoices it has an approved, unexpired decision on, or an executed
  decision the indexer has not yet seen financed, while the invoice is still
  unfinanced in the database. Each invoice counts once.

So a quote sees every earlier approval that may still be executed, whatever
the order in which they are executed; a cancelled, declined, expired or
failed decision counts nowhere. (Concentration takes the buyer's share of
that same book less the other buyers' approvals not yet executed, the worst
case for the buyer: see :func:`ledger.finance.rules.limit_rules`.)

Multi-tier: a part carries its root's buyer, so the buyer's credit line and
concentration count every financed part of its trees; a Split node is never
financed (only unfinanced receivables are split) and, its open amount being 0
and its status Split, counts in no exposure. The supplier limit and KYC are
the seller's: the holder a receivable is financed from (``invoices.seller``
once financed, the decision's ``holder`` while pending), which for a part is
the tier-2 supplier it was paid to, not the root's supplier. Execution re-checks the limits
against the exposure of that moment. A quote evaluates and stores its
decision in one transaction holding the financier's lock (SQLite: the
database write lock, PostgreSQL: an advisory lock), so two quotes cannot both
use the same headroom.

Time: a decision is computed at the last indexed block (stored as its block
number and hash) but taken at the decision time, the later of that block's
time and the wall clock (UTC): an idle chain's last block can be hours old,
and a decision dated then would be born expired and judge tenor, KYC and
listings on a stale day. Its expiry is the decision time plus the policy's
``valid_minutes``; execution checks it against the chain's time
(``Ledger.chain_time()``, likewise never before the wall clock).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, Table, and_, or_, select, text, update

from ledger.business_time import business_date
from ledger.db.models import Cursor, Invoice, Participant
from ledger.errors import DatabaseError, UnknownInvoice
from ledger.finance.facts import DilutionFacts, Exposure, InvoiceFacts, PartyFacts
from ledger.finance.grading import buyer_history, payment_stats
from ledger.finance.models import APPROVED, DECLINED, EXECUTED, EXPIRED, FAILED
from ledger.finance.policy import Policy
from ledger.finance.records import (
    DECISIONS,
    cancel_decision,
    decision_record,
    decision_terms,
    get_decision,
    list_decisions,
    mark,
    mark_failed,
)
from ledger.finance.rules import Evaluation, evaluate
from ledger.names import FINANCEABLE_STATUS_NAMES
from ledger.queries import Scope, block_time, deployment_grace_period

#: Statuses of a financed receivable with something open (financed itself is ``seller IS NOT NULL``:
#: a partly paid invoice is PartiallyPaid whether financed or not). A disputed, defaulted or
#: written-off one is still owed by the buyer and counts: a write-off books the financier's loss
#: (the portfolio report shows it, and what is recovered of it) but must not free the buyer's
#: credit line or the supplier's limit for new financing while the debt is unpaid.
FINANCED_STATUSES = ("Financed", "PartiallyPaid", "Disputed", "Defaulted", "WrittenOff")
#: The invoices table (Core: the indexer's columns seller, financier_due, financier_paid, ...).
INVOICES = cast(Table, Invoice.__table__)


#: One deployment on one chain: where decisions are taken (the scope the queries use).
LedgerScope = Scope


@dataclass(frozen=True)
class IndexedPoint:
    """A decision's "now": the last indexed block (the decision is computed
    "at block" ``block_number``), and the decision time, the later of that
    block's time and the wall clock (UTC). An idle chain's last block can be
    hours old; a decision taken then must not be stale or born expired."""

    block_number: int
    block_hash: str
    block_time: dt.datetime
    time: dt.datetime


def decision_time(block_time: dt.datetime, now: dt.datetime | None = None) -> dt.datetime:
    """max(block time, wall clock UTC): the time decisions and reports use."""
    return max(block_time, now or dt.datetime.now(dt.UTC))


def indexed_point(conn: Connection, scope: LedgerScope, now: dt.datetime | None = None) -> IndexedPoint:
    """The last indexed block of ``scope``, and the decision time (``now``:
    the wall clock, given by tests)."""
    cursors = conn.execute(
        select(Cursor.block_number, Cursor.block_hash, Cursor.updated_at).where(
            Cursor.chain_id == scope.chain_id, Cursor.invoice_contract == scope.invoice_contract
        )
    ).all()
    cursors = [c for c in cursors if c.block_number is not None]
    if not cursors:
        raise DatabaseError(
            f"the invoices of {scope.invoice_contract} on chain {scope.chain_id} are not indexed yet; "
            "run `scf index sync`"
        )
    epoch = dt.datetime.min.replace(tzinfo=dt.UTC)
    best = max(cursors, key=lambda c: (c.block_number, c.updated_at or epoch))
    when = block_time(conn, scope.chain_id, int(best.block_number))
    if when is None:
        raise DatabaseError(f"no time known for indexed block {best.block_number}; run `scf index sync`")
    return IndexedPoint(int(best.block_number), str(best.block_hash), when, decision_time(when, now))


def lock_financier(conn: Connection, financier: str) -> None:
    """Serialise decisions of one financier (PostgreSQL; SQLite writers already
    hold the database's write lock from BEGIN IMMEDIATE)."""
    if conn.dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"scf-finance:{financier.lower()}".encode()).digest()[:8], "big") >> 1
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


# -- facts -------------------------------------------------------------------------------------------


def party_facts(conn: Connection, scope: LedgerScope, address: str) -> PartyFacts:
    row = conn.execute(
        select(Participant.name, Participant.roles, Participant.suspended, Participant.kyc_expiry).where(
            Participant.chain_id == scope.chain_id,
            Participant.contract == scope.registry_contract,
            Participant.address == address,
        )
    ).first()
    if row is None:
        return PartyFacts(address, None, False, False, None)
    return PartyFacts(address, str(row.name), True, bool(row.suspended), row.kyc_expiry, int(row.roles))


def participant_names(conn: Connection, scope: LedgerScope) -> dict[str, str]:
    rows = conn.execute(
        select(Participant.address, Participant.name).where(
            Participant.chain_id == scope.chain_id, Participant.contract == scope.registry_contract
        )
    ).all()
    return {str(r.address): str(r.name) for r in rows}


def resolve_participant(
    conn: Connection, scope: LedgerScope, text_: str, what: str, account_first: bool = False
) -> str:
    """An address, a registered participant name (case-insensitive) or a
    local account name (:func:`ledger.names.resolve`)."""
    from ledger.names import resolve

    return resolve(text_, participant_names(conn, scope), what, scope.keystore_dir, account_first)


def invoice_row(conn: Connection, scope: LedgerScope, invoice_id: int) -> dict[str, Any]:
    row = (
        conn.execute(
            select(Invoice.__table__).where(
                Invoice.chain_id == scope.chain_id,
                Invoice.contract == scope.invoice_contract,
                Invoice.invoice_id == invoice_id,
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise UnknownInvoice(
            invoice_id, " in the indexed ledger", "see `scf invoice list`, or run `scf index sync` if it is new"
        )
    return {str(k): v for k, v in row.items()}


def dilution_facts(conn: Connection, scope: LedgerScope, seller: str, currency: str) -> DilutionFacts:
    """``seller``'s dilution history in ``currency`` (:class:`DilutionFacts`): the receivables it
    is the creditor of, those it sold (``seller``) and those it holds unfinanced, issued ones
    only (confirmed at least) and no Split node (its parts count); their face amounts (``amount
    + credited``) and credit notes (``credited``), summed exactly in Python."""
    i = INVOICES
    rows = conn.execute(
        select(i.c.amount, i.c.credited).where(
            i.c.chain_id == scope.chain_id,
            i.c.contract == scope.invoice_contract,
            i.c.currency == currency,
            i.c.status.not_in(("Issued", "Split")),
            or_(i.c.seller == seller, and_(i.c.seller.is_(None), i.c.holder == seller)),
        )
    ).all()
    credited = [int(r.credited or 0) for r in rows]
    return DilutionFacts(
        seller=seller,
        seller_name=participant_names(conn, scope).get(seller),
        receivables=len(rows),
        credited_receivables=sum(1 for c in credited if c > 0),
        face=sum(int(r.amount) + c for r, c in zip(rows, credited, strict=True)),
        credited=sum(credited),
    )


def invoice_facts(conn: Connection, scope: LedgerScope, row: Mapping[str, Any]) -> InvoiceFacts:
    """The invoice as the rules see it, with its parties' registered names (reasons name parties)."""
    currency = scope.currency(str(row["currency"]))
    names = participant_names(conn, scope)

    def name(address: Any) -> str | None:
        return None if address is None else names.get(str(address))

    invoice_id = int(row["invoice_id"])
    parts: tuple[int, ...] = ()
    if str(row["status"]) == "Split":
        i = INVOICES
        parts = tuple(
            int(x)
            for x in conn.execute(
                select(i.c.invoice_id)
                .where(
                    i.c.chain_id == scope.chain_id,
                    i.c.contract == scope.invoice_contract,
                    i.c.parent_id == invoice_id,
                )
                .order_by(i.c.invoice_id)
            ).scalars()
        )
    return InvoiceFacts(
        invoice_id=invoice_id,
        status=str(row["status"]),
        supplier=str(row["supplier"]),
        buyer=str(row["buyer"]),
        holder=row["holder"],
        financier=row["financier"],
        currency=currency.symbol,
        decimals=currency.decimals,
        amount=int(row["amount"]),
        outstanding=int(row["outstanding"]),
        due_date=row["due_date"],
        offer_financier=row["offer_financier"],
        offer_min_advance=None if row["offer_min_advance"] is None else int(row["offer_min_advance"]),
        offer_expires=row["offer_expires_at"],
        offer_recourse=None if row.get("offer_recourse") is None else bool(row["offer_recourse"]),
        holder_name=name(row["holder"]),
        seller=row["seller"],
        financier_name=name(row["financier"]),
        seller_name=name(row["seller"]),
        offer_financier_name=name(row["offer_financier"]),
        parent_id=None if row.get("parent_id") is None else int(row["parent_id"]),
        root_id=int(row.get("root_id") or invoice_id),
        depth=int(row.get("depth") or 0),
        parts=parts,
    )


# -- exposure ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """One invoice in a financier's exposure."""

    invoice_id: int
    #: The buyer (of a part: its root's buyer).
    buyer: str
    #: The seller, whose supplier limit it uses: the holder it was (or would be) financed from.
    seller: str
    currency: str
    #: What the financier is (or would be) due of it, still outstanding, in minor units.
    amount: int
    #: "book" (financed, held) or "pending" (a decision not yet seen financed).
    kind: str


def book_positions(conn: Connection, scope: LedgerScope, financier: str | None = None) -> list[Position]:
    """Financed receivables held by ``financier`` (or by anyone) on which the
    holder is still due something: amount = financier_due - financier_paid;
    the seller is the holder it was financed from."""
    i = INVOICES
    where = [
        i.c.chain_id == scope.chain_id,
        i.c.contract == scope.invoice_contract,
        i.c.status.in_(FINANCED_STATUSES),
        i.c.seller.is_not(None),
    ]
    if financier is not None:
        where.append(i.c.holder == financier)
    rows = conn.execute(
        select(i.c.invoice_id, i.c.buyer, i.c.seller, i.c.currency, i.c.financier_due, i.c.financier_paid).where(*where)
    ).all()
    out = []
    for r in rows:
        owed = int(r.financier_due or 0) - int(r.financier_paid or 0)
        if owed > 0:
            out.append(Position(int(r.invoice_id), str(r.buyer), str(r.seller), str(r.currency), owed, "book"))
    return out


def pending_positions(conn: Connection, scope: LedgerScope, financier: str, as_of: dt.datetime) -> list[Position]:
    """Invoices with an approved, unexpired (or executed, not yet indexed)
    decision of ``financier`` that the database still shows unfinanced; each
    counts the due it would have (the decision's gross advance; its open
    amount if it has no price); the seller is the holder the decision saw."""
    d, i = DECISIONS, INVOICES
    rows = conn.execute(
        select(d.c.invoice_id, d.c.buyer, d.c.supplier, d.c.holder, d.c.currency, d.c.open_amount, d.c.advance)
        .join(i, and_(i.c.chain_id == d.c.chain_id, i.c.contract == d.c.contract, i.c.invoice_id == d.c.invoice_id))
        .where(
            d.c.chain_id == scope.chain_id,
            d.c.contract == scope.invoice_contract,
            d.c.financier == financier,
            or_(and_(d.c.status == APPROVED, d.c.expires_at >= as_of), d.c.status == EXECUTED),
            i.c.status.in_(FINANCEABLE_STATUS_NAMES),
            i.c.seller.is_(None),
        )
    ).all()
    seen: dict[int, Position] = {}
    for r in rows:
        amount = int(r.open_amount) if r.advance is None else int(r.advance)
        if int(r.invoice_id) not in seen or seen[int(r.invoice_id)].amount < amount:
            seen[int(r.invoice_id)] = Position(
                int(r.invoice_id), str(r.buyer), str(r.holder or r.supplier), str(r.currency), amount, "pending"
            )
    return list(seen.values())


def exposure_of(
    positions: Iterable[Position], currency: str, buyer: str, seller: str, exclude_invoice: int | None = None
) -> Exposure:
    """The exposure in ``currency``: the whole book, on ``buyer`` (every tier) and on
    ``seller`` (the supplier limit's party), ``exclude_invoice`` left out."""
    book = held = by_buyer = buyer_pending = by_supplier = 0
    for p in positions:
        if p.invoice_id == exclude_invoice or p.currency.lower() != currency.lower():
            continue
        book += p.amount
        if p.kind == "book":
            held += p.amount
        if p.buyer == buyer:
            by_buyer += p.amount
            if p.kind != "book":
                buyer_pending += p.amount
        if p.seller == seller:
            by_supplier += p.amount
    return Exposure(book, by_buyer, by_supplier, held, buyer_pending)


def positions(
    conn: Connection, scope: LedgerScope, financier: str, as_of: dt.datetime, extra: Sequence[Position] = ()
) -> list[Position]:
    book = book_positions(conn, scope, financier)
    held = {p.invoice_id for p in book}
    pending = [p for p in pending_positions(conn, scope, financier, as_of) if p.invoice_id not in held]
    ids = held | {p.invoice_id for p in pending}
    return book + pending + [p for p in extra if p.invoice_id not in ids]


# -- evaluating and storing -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Assessment:
    """One evaluated invoice: what was seen and what the policy said."""

    point: IndexedPoint
    invoice: InvoiceFacts
    row: Mapping[str, Any]
    financier: str
    exposure: Exposure
    evaluation: Evaluation

    def position(self) -> Position:
        """This invoice as a pending position: the due it would have (the gross advance priced)."""
        p = self.evaluation.price
        return Position(
            self.invoice.invoice_id,
            self.invoice.buyer,
            self.invoice.seller_to_be,
            str(self.row["currency"]),
            self.invoice.outstanding if p is None else p.advance,
            "pending",
        )


def assess(
    conn: Connection,
    scope: LedgerScope,
    invoice_id: int,
    financier: str,
    policy: Policy,
    extra: Sequence[Position] = (),
    point: IndexedPoint | None = None,
) -> Assessment:
    """Evaluate ``policy`` for one invoice from the database (nothing written)."""
    point = point or indexed_point(conn, scope)
    row = invoice_row(conn, scope, invoice_id)
    facts = invoice_facts(conn, scope, row)
    # The seller (KYC, supplier limit) is the holder: of a part, the tier-2 supplier it was paid to.
    supplier = party_facts(conn, scope, facts.seller_to_be)
    buyer = party_facts(conn, scope, facts.buyer)
    as_of_date = business_date(point.time)
    # The buyer's whole history as of the decision, the quoted invoice included: a grade is the
    # buyer's, so every quote at one point grades it alike, whichever of its invoices is quoted.
    history = buyer_history(conn, scope.chain_id, scope.invoice_contract, facts.buyer)
    stats = payment_stats(
        history, as_of_date, grace_days=policy.grading.grace_days, default_after_days=policy.grading.default_after_days
    )
    exposure = exposure_of(
        positions(conn, scope, financier, point.time, extra),
        str(row["currency"]),
        facts.buyer,
        facts.seller_to_be,
        exclude_invoice=invoice_id,
    )
    evaluation = evaluate(
        policy=policy,
        invoice=facts,
        supplier=supplier,
        buyer=buyer,
        financier=financier,
        stats=stats,
        exposure=exposure,
        as_of=point.time,
        # The financing's grace period defaults to the deployment's as of the decision's block.
        deployment_grace=deployment_grace_period(conn, scope, point.block_number),
        financier_party=party_facts(conn, scope, financier),
        dilution=dilution_facts(conn, scope, facts.seller_to_be, str(row["currency"])),
    )
    return Assessment(point, facts, row, financier, exposure, evaluation)


def expire_decisions(conn: Connection, scope: LedgerScope, now: dt.datetime, financier: str | None = None) -> int:
    """Mark approved decisions whose expiry has passed (chain time) as expired."""
    d = DECISIONS
    where = [
        d.c.chain_id == scope.chain_id,
        d.c.contract == scope.invoice_contract,
        d.c.status == APPROVED,
        d.c.expires_at < now,
    ]
    if financier is not None:
        where.append(d.c.financier == financier)
    return int(conn.execute(update(d).where(*where).values(status=EXPIRED)).rowcount or 0)


def decision_values(
    scope: LedgerScope, a: Assessment, policy: Policy, now: dt.datetime | None = None
) -> dict[str, Any]:
    """The ``decisions`` row of an assessment (without its id): what :func:`store` writes and
    what ``finance auto --dry-run`` shows, so a quote and a dry run show the same figures.

    Net advance: what the holder would receive now. A price whose discount and fees take the
    whole advance (net not above zero) is declined and has no net advance: NULL here, ``null``
    in JSON, "pays nothing" in text; the exact (negative) figure stays in the price rule's
    inputs and its reason says by how much the charges exceed the advance. Never clamped."""
    ev, p = a.evaluation, a.evaluation.price
    currency = scope.currency(str(a.row["currency"]))
    values: dict[str, Any] = {
        "chain_id": scope.chain_id,
        "contract": scope.invoice_contract,
        "invoice_id": a.invoice.invoice_id,
        "financier": a.financier,
        "status": APPROVED if ev.approved else DECLINED,
        "created_at": now or dt.datetime.now(dt.UTC),
        "block_number": a.point.block_number,
        "block_hash": a.point.block_hash,
        "as_of": a.point.time,
        "expires_at": a.point.time + dt.timedelta(minutes=policy.valid_minutes),
        "policy_hash": policy.hash,
        "policy_source": policy.source,
        "policy": policy.canonical(),
        "grade": ev.grade,
        "currency": str(a.row["currency"]),
        "currency_symbol": currency.symbol,
        "decimals": currency.decimals,
        "supplier": a.invoice.supplier,
        "buyer": a.invoice.buyer,
        "holder": a.invoice.holder,
        "amount": a.invoice.amount,
        "open_amount": a.invoice.outstanding,
        "due_at": a.row["due_at"],
        "invoice_status": a.invoice.status,
        "advance": None if p is None else p.advance,
        "discount": None if p is None else p.discount,
        "fees": None if p is None else p.fees,
        "net_advance": None if p is None or p.net_advance <= 0 else p.net_advance,
        "reserve": None if p is None else p.reserve,
        "days": None if p is None else p.days,
        "day_count": None if p is None else p.day_count,
        "advance_rate": None if p is None else p.advance_rate,
        "annual_rate": None if p is None else p.annual_rate,
        "exposure_book": a.exposure.book,
        "exposure_buyer": a.exposure.buyer,
        "exposure_supplier": a.exposure.supplier,
        "rules": [r.as_dict() for r in ev.rules],
        "reason": ev.summary(),
    }
    return values


def store(conn: Connection, scope: LedgerScope, a: Assessment, policy: Policy, now: dt.datetime | None = None) -> int:
    """Write the decision of an assessment (:func:`decision_values`); returns its id."""
    result = conn.execute(DECISIONS.insert().returning(DECISIONS.c.id), decision_values(scope, a, policy, now))
    return int(result.scalar_one())


def quote_in_db(
    conn: Connection,
    scope: LedgerScope,
    invoice_id: int,
    financier: str,
    policy: Policy,
    now: dt.datetime | None = None,
) -> int:
    """Evaluate and store one decision in the caller's transaction, under the
    financier's lock. Returns the decision id. The decision is computed at the
    last indexed block, at the decision time (:func:`decision_time`; ``now``:
    the wall clock), and expires ``policy.valid_minutes`` after that time."""
    lock_financier(conn, financier)
    point = indexed_point(conn, scope, now)
    expire_decisions(conn, scope, point.time, financier)
    assessment = assess(conn, scope, invoice_id, financier, policy, point=point)
    return store(conn, scope, assessment, policy)


__all__ = [
    "APPROVED",
    "DECISIONS",
    "DECLINED",
    "EXECUTED",
    "EXPIRED",
    "FAILED",
    "Assessment",
    "IndexedPoint",
    "LedgerScope",
    "Position",
    "assess",
    "book_positions",
    "cancel_decision",
    "decision_record",
    "decision_terms",
    "decision_time",
    "decision_values",
    "dilution_facts",
    "expire_decisions",
    "exposure_of",
    "get_decision",
    "indexed_point",
    "list_decisions",
    "lock_financier",
    "mark",
    "mark_failed",
    "pending_positions",
    "positions",
    "quote_in_db",
    "store",
]
