"""Quote, execute and auto-finance: the financing desk, between the chain
(through :class:`ledger.lifecycle.Ledger`), the indexer and the decisions.

* :func:`quote` syncs the indexer, evaluates the policy from the database and
  stores the decision (:func:`ledger.finance.store.quote_in_db`).
* :func:`execute` refuses declined, executed, expired, failed and cancelled
  decisions; checks on
  chain that the invoice is still what the decision saw and, from the freshly
  synced database, that the limits still hold; then sends the financing on
  exactly the terms priced: the net advance paid now to the holder, the gross
  advance as the financier's due (the rest of the open amount is the
  seller's reserve, which the contract pays it as the buyer pays; see
  :mod:`ledger.finance.pricing`), pinned to the seller (holder), amount, paid
  amount and due date the decision saw and with the decision's expiry as the
  on-chain deadline, so an invoice that changed in between reverts instead of
  being financed; with the recourse and grace period the decision recorded
  (not the deployment's grace of the moment: an operator's change after the
  quote does not change the decided terms); and links the decision to the
  transaction and its InvoiceFinanced event.
* :func:`auto` quotes every open invoice the holder listed for the financier
  (or for any), soonest due first, and executes the approved ones; an
  approval it fails to execute, having sent nothing that may still be mined
  (:func:`ledger.errors.sent_nothing`), is marked ``failed``, so it no longer
  uses limit headroom. One whose financing may still be mined (the node lost
  after sending it, not mined in time) stays approved, and the run stops
  there with that error's line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select

from ledger.errors import DatabaseError, DecisionRefused, LedgerError, TransactionReverted, sent_nothing
from ledger.finance import store
from ledger.finance.facts import Exposure
from ledger.finance.models import APPROVED, CANCELLED, DECLINED, EXECUTED, EXPIRED, FAILED
from ledger.finance.policy import Policy
from ledger.finance.rules import Lines, limit_rules
from ledger.format import Money, text_time
from ledger.money import to_minor_units
from ledger.names import FINANCEABLE_STATUS_NAMES
from ledger.queries import listing_live

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from ledger.config import Settings
    from ledger.lifecycle import Ledger


@dataclass
class Desk:
    """A financing desk on one deployment: the chain, the settings and the database."""

    settings: Settings
    ledger: Ledger
    #: Index the chain into the database (default: ledger.indexer.sync); tests may wrap it.
    syncer: Callable[[], Any] | None = None

    @property
    def scope(self) -> store.LedgerScope:
        return store.LedgerScope.of(self.ledger.deployment, self.settings.keystore_dir)

    @property
    def engine(self) -> Engine:
        from ledger.db import get_engine

        return get_engine(self.settings.database_url)

    def sync(self) -> None:
        if self.syncer is not None:
            self.syncer()
            return
        from ledger.indexer import sync

        sync(self.settings, self.ledger.deployment)

    # -- quote ---------------------------------------------------------------------------------
    def quote(self, invoice_id: int, financier: str, policy: Policy, *, sync: bool = True) -> dict[str, Any]:
        if sync:
            self.sync()
        with self.engine.begin() as conn:
            decision_id = store.quote_in_db(conn, self.scope, invoice_id, financier, policy)
            row = store.get_decision(conn, decision_id)
            names = store.participant_names(conn, self.scope)
        return store.decision_record(row, names)

    # -- execute -------------------------------------------------------------------------------
    def _refuse_unless_executable(self, row: Mapping[str, Any], signer_address: str | None) -> None:
        decision_id = int(row["id"])
        scope = self.scope
        if int(row["chain_id"]) != scope.chain_id or str(row["contract"]) != scope.invoice_contract:
            raise DecisionRefused(
                f"decision {decision_id} was taken on chain {row['chain_id']} for contract {row['contract']}, not on "
                "the connected deployment; use the --rpc-url and --home it was taken with"
            )
        if row["status"] == DECLINED:
            raise DecisionRefused(
                f"decision {decision_id} was declined, so it cannot be executed "
                f"({str(row['reason']).removeprefix('declined: ')})"
            )
        if row["status"] == EXECUTED:
            raise DecisionRefused(f"decision {decision_id} was already executed in transaction {row['tx_hash']}")
        invoice_id = int(row["invoice_id"])
        if row["status"] == EXPIRED:
            raise self._expired(row)
        if row["status"] == FAILED:
            raise DecisionRefused(
                f"decision {decision_id} failed to execute before and no longer counts; quote "
                f"invoice {invoice_id} again with `scf finance quote {invoice_id}`"
            )
        if row["status"] == CANCELLED:
            raise DecisionRefused(
                f"decision {decision_id} was cancelled ({row['cancel_reason'] or 'no reason given'}); quote "
                f"invoice {invoice_id} again with `scf finance quote {invoice_id}`"
            )
        if signer_address is not None and signer_address != row["financier"]:
            raise DecisionRefused(
                f"decision {decision_id} is for financier {row['financier']}, not {signer_address}; sign with "
                "--as the financier's account"
            )
        assert row["status"] == APPROVED, f"unknown decision status {row['status']} for invoice {invoice_id}"

    def _expired(self, row: Mapping[str, Any]) -> DecisionRefused:
        return DecisionRefused(
            f"decision {row['id']} expired at {text_time(row['expires_at'])} (chain time); "
            f"quote invoice {row['invoice_id']} again with `scf finance quote {row['invoice_id']}`"
        )

    def recheck_on_chain(self, row: Mapping[str, Any]) -> None:
        """Refuse unless the invoice on chain is what the decision saw."""
        invoice_id = int(row["invoice_id"])
        state = self.ledger.invoice_state(invoice_id)
        money = _money_of(row)
        holder = None if state.cancelled else self.ledger.holder_of(invoice_id)
        seen_paid = int(row["amount"]) - int(row["open_amount"])
        changes: list[str] = []
        if state.status_name != row["invoice_status"]:
            changes.append(f"status {row['invoice_status']} -> {state.status_name}")
        if state.seller is not None:
            who = holder if holder is not None else state.seller
            changes.append(f"financed by {self.ledger.name_of(who) or who}")
        if state.paid != seen_paid:
            changes.append(f"paid {money(seen_paid)} -> {money(state.paid)}")
        if state.amount != int(row["amount"]):
            changes.append(f"amount {money(int(row['amount']))} -> {money(state.amount)}")
        if state.due_ts != int(row["due_at"].timestamp()):
            changes.append("due date changed")
        if holder != row["holder"] and state.seller is None:
            changes.append(f"holder {row['holder']} -> {holder}")
        if (state.supplier, state.buyer, state.currency) != (row["supplier"], row["buyer"], row["currency"]):
            changes.append("parties or currency changed")
        if changes:
            raise DecisionRefused(
                f"invoice {invoice_id} changed since decision {row['id']} was taken ({'; '.join(changes)}); "
                f"quote it again with `scf finance quote {invoice_id}`"
            )

    def recheck_limits(self, conn: Any, row: Mapping[str, Any]) -> None:
        """Refuse if the limits the decision was approved under no longer hold
        with today's exposure (this decision's invoice excluded)."""
        point = store.indexed_point(conn, self.scope)
        positions = store.positions(conn, self.scope, str(row["financier"]), point.time)
        exposure = store.exposure_of(
            positions,
            str(row["currency"]),
            str(row["buyer"]),
            str(row["holder"] or row["supplier"]),  # the seller: the holder the decision saw
            exclude_invoice=int(row["invoice_id"]),
        )
        lines = lines_of_decision(row)
        from ledger.finance.facts import InvoiceFacts

        facts = InvoiceFacts(
            invoice_id=int(row["invoice_id"]),
            status=str(row["invoice_status"]),
            supplier=str(row["supplier"]),
            buyer=str(row["buyer"]),
            holder=row["holder"],
            financier=None,
            currency=str(row["currency_symbol"]),
            decimals=int(row["decimals"]),
            amount=int(row["amount"]),
            outstanding=int(row["open_amount"]),
            due_date=row["due_at"].date(),
        )
        due = None if row["advance"] is None else int(row["advance"])
        failing = [r for r in limit_rules(facts, exposure, lines, due) if not r.passed]
        if failing:
            raise DecisionRefused(
                f"decision {row['id']} no longer fits the limits ({'; '.join(r.reason for r in failing)}); "
                f"quote invoice {row['invoice_id']} again"
            )

    def execute(self, decision_id: int, signer: LocalAccount, *, recheck: bool = True) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = store.get_decision(conn, decision_id)
        self._refuse_unless_executable(row, signer.address)
        recourse, grace_seconds = terms_of_decision(row)
        expires = int(row["expires_at"].timestamp())
        if self.ledger.chain_time() >= expires:
            with self.engine.begin() as conn:
                store.mark(conn, decision_id, status=EXPIRED)
            raise self._expired(row)
        if recheck:
            self.recheck_on_chain(row)
            self.sync()
            with self.engine.begin() as conn:
                store.lock_financier(conn, str(row["financier"]))
                row = store.get_decision(conn, decision_id)
                self._refuse_unless_executable(row, signer.address)
                self.recheck_limits(conn, row)
        invoice_id = int(row["invoice_id"])
        try:
            # The terms priced (ledger.finance.pricing): the net advance now; the gross advance is the
            # financier's due, the rest of the open amount the seller's reserve. Pinned to what was seen.
            result = self.ledger.finance(
                signer,
                invoice_id,
                advance_units=int(row["net_advance"]),
                due_units=int(row["advance"]),
                expected_amount=int(row["amount"]),
                expected_paid=int(row["amount"]) - int(row["open_amount"]),
                expected_due=int(row["due_at"].timestamp()),
                expected_seller=str(row["holder"]),
                deadline=expires,
                # The decision's terms, never the deployment's grace of the moment: an operator's
                # setGracePeriod after the quote must not change what was decided.
                recourse=recourse,
                grace_seconds=grace_seconds,
            )
        except TransactionReverted as exc:
            raise TransactionReverted(
                f"decision {decision_id} was not executed: {exc.rule}", exc.error_name, exc.error_args
            ) from None
        block_time = dt.datetime.fromtimestamp(int(self.ledger.w3.eth.get_block(result["block"])["timestamp"]), dt.UTC)
        with self.engine.begin() as conn:
            store.mark(
                conn,
                decision_id,
                status=EXECUTED,
                tx_hash=result["tx_hash"],
                executed_block=result["block"],
                executed_at=block_time,
            )
        self.link_event(decision_id)
        with self.engine.connect() as conn:
            record = store.decision_record(
                store.get_decision(conn, decision_id), store.participant_names(conn, self.scope)
            )
        record["transaction"] = result
        return record

    def link_event(self, decision_id: int) -> None:
        """Sync, then point the decision at the InvoiceFinanced event of its transaction."""
        from ledger.db.models import Event

        self.sync()
        with self.engine.begin() as conn:
            row = store.get_decision(conn, decision_id)
            ev = conn.execute(
                select(Event.id, Event.block_hash, Event.log_index).where(
                    Event.chain_id == row["chain_id"],
                    Event.contract == row["contract"],
                    Event.invoice_id == row["invoice_id"],  # ix_events_invoice, not a scan
                    Event.tx_hash == row["tx_hash"],
                    Event.event == "InvoiceFinanced",
                )
            ).first()
            if ev is not None:
                store.mark(
                    conn,
                    decision_id,
                    event_id=int(ev.id),
                    event_block_hash=str(ev.block_hash),
                    event_log_index=int(ev.log_index),
                )

    # -- auto ----------------------------------------------------------------------------------
    def candidates(self, financier: str) -> tuple[list[int], int]:
        """Open invoices (confirmed or partly paid, never financed, not yet
        due) that their holder listed for ``financier`` or for any financier
        (a live listing: the only consent the contract takes), soonest due
        first; and how many open invoices were left out for lack of one."""
        i = store.INVOICES
        scope = self.scope
        with self.engine.connect() as conn:
            point = store.indexed_point(conn, scope)
            rows = (
                conn.execute(
                    select(i)
                    .where(
                        i.c.chain_id == scope.chain_id,
                        i.c.contract == scope.invoice_contract,
                        i.c.status.in_(FINANCEABLE_STATUS_NAMES),
                        i.c.seller.is_(None),
                        i.c.outstanding > 0,
                        i.c.due_at > point.time,
                    )
                    .order_by(i.c.due_date, i.c.invoice_id)
                )
                .mappings()
                .all()
            )
        chosen = [
            int(row["invoice_id"])
            for row in rows
            if listing_live(row, point.time)
            and row["offer_financier"] in (None, financier)
            and row["holder"] != financier
        ]
        return chosen, len(rows) - len(chosen)

    def auto(
        self,
        financier: str,
        signer: LocalAccount | None,
        policy: Policy,
        *,
        max_count: int | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        self.sync()
        ids, skipped = self.candidates(financier)
        results: list[dict[str, Any]] = []
        financed = 0
        extra: list[store.Position] = []
        for invoice_id in ids:
            if max_count is not None and financed >= max_count:
                break
            if dry_run:
                entry, approved = self._would_decide(invoice_id, financier, policy, extra)
            else:
                entry, approved = self._decide_and_execute(invoice_id, financier, signer, policy)
            financed += approved
            results.append(entry)
        return {
            "financier": financier,
            "dry_run": dry_run,
            "candidates": len(ids),
            "not_offered": skipped,
            "financed": financed,
            "results": results,
        }

    def _would_decide(
        self, invoice_id: int, financier: str, policy: Policy, extra: list[store.Position]
    ) -> tuple[dict[str, Any], bool]:
        """``auto --dry-run`` for one invoice: assess it (nothing written) and
        show it through the very record a quote stores (:func:`store.decision_values`),
        so both show the same figures; an approval joins ``extra``, the pending
        positions of the later ones, as a stored approval would."""
        with self.engine.connect() as conn:
            a = store.assess(conn, self.scope, invoice_id, financier, policy, extra=extra)
            names = store.participant_names(conn, self.scope)
        values = {c.name: None for c in store.DECISIONS.columns} | store.decision_values(self.scope, a, policy)
        record = store.decision_record(values, names)
        approved = a.evaluation.approved
        if approved:
            extra.append(a.position())
        entry = {
            "invoice_id": invoice_id,
            "decision_id": None,
            "status": "would approve" if approved else "would decline",
            "net_advance": None if record["price"] is None else record["price"]["net_advance"],
            "currency": record["currency"],
            "reason": record["reason"],
        }
        return entry, approved

    def _decide_and_execute(
        self, invoice_id: int, financier: str, signer: LocalAccount | None, policy: Policy
    ) -> tuple[dict[str, Any], bool]:
        """``auto`` for one invoice: quote it and execute an approval; True if it was financed."""
        decision = self.quote(invoice_id, financier, policy, sync=False)
        entry: dict[str, Any] = {
            "invoice_id": invoice_id,
            "decision_id": decision["decision_id"],
            "status": decision["status"],
            "net_advance": None if decision["price"] is None else decision["price"]["net_advance"],
            "currency": decision["currency"],
            "reason": decision["reason"],
        }
        if decision["status"] != APPROVED:
            return entry, False
        assert signer is not None
        try:
            executed = self.execute(decision["decision_id"], signer)
        except LedgerError as exc:
            if not sent_nothing(exc):
                # The financing may still be mined (a node lost after sending, a transaction not
                # mined in time): the approval keeps its limit headroom, and the run stops here,
                # as later approvals must not spend headroom this one may be using.
                exc.args = (
                    f"finance auto stopped at invoice {invoice_id}: decision {decision['decision_id']} stays "
                    f"approved (still counted against the limits), as its financing may still be mined: {exc}",
                )
                raise
            # Nothing was sent: a failed execution must not keep using limit headroom until the approval expires.
            with self.engine.begin() as conn:
                failed = store.mark_failed(conn, decision["decision_id"])
            note = (
                f"; decision {decision['decision_id']} marked failed: it no longer uses limit headroom"
                if failed
                else ""
            )
            entry.update(status=FAILED, reason=f"{exc}{note}")
            return entry, False
        entry.update(status=EXECUTED, tx_hash=executed["tx_hash"])
        return entry, True


def _money_of(row: Mapping[str, Any]) -> Money:
    """Amounts of a stored decision's currency, in sentences."""
    return Money(str(row["currency_symbol"]), int(row["decimals"]))


def terms_of_decision(row: Mapping[str, Any]) -> tuple[bool, int]:
    """The recourse and grace period (seconds) a decision priced (:func:`store.decision_terms`),
    which its execution sends; refused for a decision that recorded none."""
    terms = store.decision_terms(row)
    if terms is None or terms["grace_seconds"] is None:
        raise DecisionRefused(
            f"decision {row['id']} recorded no financing terms (recourse, grace period), so it cannot be executed "
            f"on them; quote invoice {row['invoice_id']} again with `scf finance quote {row['invoice_id']}`"
        )
    return bool(terms["recourse"]), int(terms["grace_seconds"])


def lines_of_decision(row: Mapping[str, Any]) -> Lines:
    """The limits a decision was approved under, from its stored rules."""
    from decimal import Decimal

    rules = {r["name"]: r for r in row["rules"]}
    d = int(row["decimals"])

    def units(value: str | None) -> int | None:
        return None if value is None else to_minor_units(value, d, "stored limit")

    try:
        book = units(rules["book_limit"]["inputs"]["limit"])
        conc = rules["concentration"]["inputs"]
        return Lines(
            book=book if book is not None else 0,
            buyer=units(rules["buyer_limit"]["inputs"]["limit"]),
            supplier=units(rules["supplier_limit"]["inputs"]["limit"]),
            concentration=None if conc.get("max_share") is None else Decimal(conc["max_share"]),
            concentration_above=units(conc["applies_above"]) or 0,
        )
    except (KeyError, TypeError) as exc:
        raise DatabaseError(f"decision {row['id']} has no stored limits ({exc}); quote the invoice again") from None


__all__ = ["DecisionRefused", "Desk", "Exposure", "lines_of_decision", "terms_of_decision"]
