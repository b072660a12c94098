"""The whole system under random operation: a Hypothesis rule-based state
machine that drives the session Anvil through the project's own services
(``Ledger``, ``Intake``, the financing ``Desk``), indexes what happened into
SQLite with the real indexer and checks, after every step, what must always
hold, and, every few steps and at the end, that the database equals the chain
(every 5th step the indexed invoices and financings; every 15th and at the
end ``ledger.indexer.verify``, as ``scf verify`` runs it).

Rules: issue, import (an intake batch), confirm, signed confirmation (signed
offline, submitted by anyone, then replayed), cancel, split, transfer, offer,
withdraw the offer, finance (the desk's quote and execution, or direct terms
with a reserve and recourse), repay, repay across a tree, default (after a
jump past the due date and grace), buy-back, write-off, dispute and resolve,
credit note, extension (proposed and accepted), time jumps, a paused window,
KYC lapses and renewals, role changes, and calls by parties who may not make
them (each refused with the contract's own error, naming the caller).

Invariants: the settlement token is conserved to the minor unit (every
account moved exactly as the contract's events say; nothing created, nothing
left in the contract); each receivable is financed at most once; statuses move
only along the allowed transitions (:data:`ALLOWED`, from the contracts and
DESIGN §2); a tree's leaves, with what was paid on and credited to its nodes,
sum to its root; nobody is paid more than their due; a refused call, and
anything tried while paused, changes nothing; the events tell the same
amounts as the contract's state; and the database after indexing equals the
chain.

Each example runs on an EVM snapshot of the session chain (reverted at its
end) with a copy of a database indexed up to that snapshot, and starts from a
supplier's intake batch, confirmed, listed and (mostly) financed. Hypothesis
enables a random subset of the rules in each example (swarm testing), so
examples differ in kind, not only in order. Profiles: CI (default) a fixed,
derandomized budget of 10 examples of 30 steps (about 20 s); ``SCF_LONG=1``
(or ``SCF_HYPOTHESIS_PROFILE=long``) 200 examples of 50 steps, with
shrinking. The test prints how many operations it ran (and each kind's
outcomes with ``-v``); the count is also a user property that
tests/conftest.py shows at the end of the run (under xdist too).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import shutil
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from support.lifecycle import travel
from web3 import Web3

from ledger.business_time import business_date
from ledger.db.models import INVOICES
from ledger.errors import InputError, Refused, TransactionReverted
from ledger.evm.abi import Calldata
from ledger.evm.invoice import ChainInvoice
from ledger.evm.rpc import RpcClient
from ledger.finance.policy import parse_policy
from ledger.names import STATUS_NAMES, InvoiceStatus

# -- the profiles ------------------------------------------------------------------------------
#: More examples and steps, with shrinking: SCF_LONG=1 or SCF_HYPOTHESIS_PROFILE=long.
LONG = os.environ.get("SCF_LONG") == "1" or os.environ.get("SCF_HYPOTHESIS_PROFILE") == "long"
#: CI: a fixed budget (derandomized, so every run is the same), no shrinking (a failure prints
#: its unshrunk steps at once; shrink it with the long profile). About 300 steps and 300-400
#: operations, 15-20 s of CPU on one worker (it let the fast budgets of the split and remedies
#: property tests shrink: see their settings).
FAST = settings(
    max_examples=10,
    stateful_step_count=30,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
LONG_SETTINGS = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
#: Every this many steps the chain is indexed into the example's database and the invoices and
#: financings indexed are compared with the chain; every VERIFY_EVERY steps, and at the end,
#: `scf verify` compares everything (invoices, participants, events, records).
DB_EVERY = 5
VERIFY_EVERY = 15

# -- the parties ------------------------------------------------------------------------------
S = InvoiceStatus
DAY = 86_400
SUPPLIER, BUYER, FINANCIER, AUDITOR = 1, 2, 4, 8
OPERATOR_ROLE = Web3.keccak(text="OPERATOR_ROLE")
MINTER_ROLE = Web3.keccak(text="MINTER_ROLE")
#: The admitted participants of the session scenario (tests/conftest.py) and their roles.
BASE_ROLES = {
    "supplier": SUPPLIER,
    "supplier2": SUPPLIER,
    "buyer": BUYER,
    "buyer2": BUYER,
    "financier": FINANCIER,
    "financier2": FINANCIER,
    "auditor": AUDITOR,
}
PARTIES = tuple(BASE_ROLES)
SUPPLIERS = ("supplier", "supplier2")
BUYERS = ("buyer", "buyer2")
FINANCIERS = ("financier", "financier2")
#: Never admitted: any call of its that needs a participant is refused.
OUTSIDER = "dev8"
#: Every account whose settlement-token balance the machine watches.
ACCOUNTS = (*PARTIES, "operator", OUTSIDER)
#: What each participant is funded with before the examples (minor units): sellers pay credit
#: notes' dilution and buy-backs; buyers and financiers already hold millions.
SELLER_FUNDS = 100_000_000

#: InvoiceToken's bound on a tree's depth.
MAX_DEPTH = 3
OPEN = frozenset({S.CONFIRMED, S.FINANCED, S.PARTIALLY_PAID})
PAYABLE = OPEN | {S.DEFAULTED, S.WRITTEN_OFF}
#: Status changes a single step may make (besides none), from the contracts
#: (InvoiceToken, Intake, Settlement, Remedies): confirm and cancel an issued
#: invoice; finance, repay, split, dispute, default an open one; a credit note
#: of everything open closes it (Cancelled if nothing was paid, else Paid) and
#: one on a disputed invoice ends the dispute; a financing of a partly paid
#: invoice makes it Financed; a defaulted one is written off or recovered in full.
ALLOWED: dict[int, frozenset[int]] = {
    S.NONE: frozenset({S.ISSUED, S.CONFIRMED}),  # issued, or created Confirmed by a split
    S.ISSUED: frozenset({S.CONFIRMED, S.CANCELLED}),
    S.CONFIRMED: frozenset({S.FINANCED, S.PARTIALLY_PAID, S.PAID, S.SPLIT, S.DISPUTED, S.DEFAULTED, S.CANCELLED}),
    S.FINANCED: frozenset({S.PARTIALLY_PAID, S.PAID, S.DISPUTED, S.DEFAULTED, S.CANCELLED}),
    S.PARTIALLY_PAID: frozenset({S.FINANCED, S.PAID, S.SPLIT, S.DISPUTED, S.DEFAULTED}),
    S.DISPUTED: frozenset({S.CONFIRMED, S.FINANCED, S.PARTIALLY_PAID, S.PAID, S.CANCELLED}),
    S.DEFAULTED: frozenset({S.WRITTEN_OFF, S.PAID}),
    S.WRITTEN_OFF: frozenset({S.PAID}),
    S.PAID: frozenset(),
    S.CANCELLED: frozenset(),
    S.SPLIT: frozenset(),
}


def _reachable(status: int, moves: int) -> frozenset[int]:
    """The statuses ``status`` may reach in at most ``moves`` allowed transitions."""
    seen, frontier = {status}, {status}
    for _ in range(moves):
        frontier = {n for s in frontier for n in ALLOWED[s]} - seen
        seen |= frontier
    return frozenset(seen)


#: The desk's policies: everything eligible, wide limits, priced; one finances with recourse.
POLICY_TEXT = """
[eligibility]
currencies = ["HKD"]
min_tenor_days = 1
max_tenor_days = 3650

[limits]
book = "500000000.00"
buyer_default = "500000000.00"
supplier_default = "500000000.00"

[pricing]
day_count = "ACT/365"
base_rate = "0.0450"
fee_fixed = "0.00"
fee_rate = "0.0010"
{recourse}

[grading]
no_history = "A"

[grades.A]
advance_rate = "0.90"
spread = "0.0125"
"""
POLICIES = {
    False: parse_policy(POLICY_TEXT.format(recourse=""), "system.toml"),
    True: parse_policy(POLICY_TEXT.format(recourse="recourse = true"), "system-recourse.toml"),
}

# -- strategies ---------------------------------------------------------------------------------
PICK = st.integers(0, 255)
PERCENT = st.integers(1, 100)
#: Minor units: small amounts (rounding at every division) and large ones.
UNITS = st.one_of(st.integers(2, 500), st.integers(10_000, 5_000_000))
DUE_DAYS = st.sampled_from([1, 3, 10, 30, 90])
ROW = st.tuples(st.sampled_from(BUYERS), UNITS, DUE_DAYS)
ANYONE = st.sampled_from(ACCOUNTS)
#: The calls the unauthorised-caller rule makes (see :meth:`SystemMachine.unauthorised`).
UNAUTHORISED = (
    "confirm",
    "cancel",
    "offer",
    "withdraw",
    "split",
    "transfer",
    "finance",
    "repay",
    "dispute",
    "resolve",
    "credit",
    "propose",
    "accept",
    "default",
    "write_off",
    "buy_back",
    "issue",
    "pause",
    "admit",
    "mint",
)
#: Steps tried while paused (each through the services; each must be refused).
PAUSED_STEP = st.tuples(
    st.sampled_from(["issue", "confirm", "offer", "split", "transfer", "repay", "dispute", "credit", "default"]),
    PICK,
)


def _major(units: int) -> str:
    return f"{units // 100}.{units % 100:02d}"


@dataclass
class World:
    """The contracts' state at one moment, read in one JSON-RPC batch."""

    invoices: dict[int, ChainInvoice]
    holders: dict[int, str | None]
    #: (financier, expiry, min advance, recourse), expiry 0 when not listed.
    listings: dict[int, tuple[str, int, int, bool]]
    #: (parent, root, depth); a root's parent is 0 and its root itself.
    lineage: dict[int, tuple[int, int, int]]
    balances: dict[str, int]
    supply: int
    #: What the invoice contract itself holds of the settlement token.
    escrow: int
    paused: bool
    next_id: int
    #: Participant -> (roles, KYC expiry).
    parties: dict[str, tuple[int, int]]
    time: int

    def business(self) -> tuple[Any, ...]:
        """Everything the token and settlement keep (not the registry, not the clock)."""
        return (
            self.invoices,
            self.holders,
            self.listings,
            self.lineage,
            self.balances,
            self.supply,
            self.escrow,
            self.next_id,
        )


@dataclass
class Book:
    """What the contract's events told, folded step by step."""

    #: Expected balance change of each account since the example started.
    delta: Counter[str] = field(default_factory=Counter)
    financed: Counter[int] = field(default_factory=Counter)
    amount: dict[int, int] = field(default_factory=dict)
    paid: dict[int, int] = field(default_factory=dict)
    credited: Counter[int] = field(default_factory=Counter)
    #: Financed receivables: the open amount at financing and the financier's due.
    open_at_financing: dict[int, int] = field(default_factory=dict)
    due: dict[int, int] = field(default_factory=dict)
    #: Financed receivables: what the buyer paid after the financing, what of it went to the
    #: financier's side, the reserve released to the seller, and what the seller paid the
    #: holder (credit notes' dilution, buy-backs).
    paid_after: Counter[int] = field(default_factory=Counter)
    to_financier: Counter[int] = field(default_factory=Counter)
    reserve: Counter[int] = field(default_factory=Counter)
    seller_paid: Counter[int] = field(default_factory=Counter)


class SystemMachine(RuleBasedStateMachine):
    """One example: a snapshot of the session chain, a fresh database, random steps."""

    # Set by the test before the examples run.
    ctx: Any = None
    stats: Counter[str] = Counter()
    #: How each kind of operation ended, over all examples (shown with pytest -v).
    outcomes: Counter[str] = Counter()

    def __init__(self) -> None:
        super().__init__()
        ctx = self.ctx
        self.ledger = ctx.ledger
        self.acct = ctx.acct
        self.w3 = self.ledger.w3
        self.addr = {name: str(ctx.acct(name).address) for name in ACCOUNTS}
        self.name = {a: n for n, a in self.addr.items()}
        self.snapshot = self.w3.provider.make_request("evm_snapshot", [])["result"]
        self.workdir = Path(tempfile.mkdtemp(prefix="scf-system-"))
        from ledger.finance.service import Desk
        from ledger.indexer.api import indexer_for
        from ledger.intake import Intake

        # The database as the indexer left it at the snapshot (copied: no migration, no backfill per example);
        # one indexer per example, synced whenever the desk or a check asks, as `scf index follow` does.
        shutil.copy(ctx.template, self.workdir / "ledger.db")
        self.settings = replace(ctx.settings, db_url=f"sqlite:///{self.workdir / 'ledger.db'}")
        self.indexer = indexer_for(self.settings, self.ledger.deployment)
        self.desk = Desk(self.settings, self.ledger, syncer=self.indexer.sync)
        self.intake = Intake(self.ledger)
        self.rpc = RpcClient(ctx.settings.rpc_url)
        self.book = Book()
        self.steps = 0
        self.numbers = 0
        self.fresh = True
        self.clean = True
        self.done = 0  # operations done in this step
        self.block = int(self.w3.eth.block_number)
        self.nonces = self._nonces()
        #: The invoices this example makes (the snapshot has none; any there were are left alone).
        self.first_id = self._chain_next_id()
        self.world = self.initial = self._read_world(self.first_id)
        self.stats["examples"] += 1

    # -- reading the chain -------------------------------------------------------------------
    def _nonces(self) -> int:
        calls = [("eth_getTransactionCount", [self.addr[n], "latest"]) for n in ACCOUNTS]
        return sum(int(x, 16) for x in self.rpc.batch(calls))

    def _read_world(self, next_id: int) -> World:
        c = self.ctx.calldata
        inv, reg, tok = self.ctx.invoice_address, self.ctx.registry_address, self.ctx.token_address
        ids = list(range(self.first_id, next_id))
        calls: list[tuple[str, list[Any]]] = []

        def call(to: str, fn: Calldata, *args: Any) -> None:
            calls.append(("eth_call", [{"to": to, "data": "0x" + fn(*args).hex()}, "latest"]))

        for i in ids:
            call(inv, c["getInvoice"], i)
            call(inv, c["ownerOf"], i)
            call(inv, c["getListing"], i)
            call(inv, c["getLineage"], i)
        for name in ACCOUNTS:
            call(tok, c["balanceOf"], self.addr[name])
        call(tok, c["totalSupply"])
        call(tok, c["balanceOf"], inv)
        call(inv, c["paused"])
        call(inv, c["nextInvoiceId"])
        for name in PARTIES:
            call(reg, c["participant"], self.addr[name])
        calls.append(("eth_getBlockByNumber", ["latest", False]))
        answers = self.rpc.answers(calls)

        def value(fn: str, answer: dict[str, Any]) -> tuple[Any, ...]:
            assert "error" not in answer, (fn, answer)
            return c[fn].decode(bytes.fromhex(answer["result"][2:]))

        it = iter(answers)
        invoices, holders, listings, lineage = {}, {}, {}, {}
        for i in ids:
            invoices[i] = ChainInvoice.from_struct(value("getInvoice", next(it))[0])
            owner = next(it)
            holders[i] = None if "error" in owner else str(value("ownerOf", owner)[0])
            f, expiry, ask, recourse = value("getListing", next(it))[0]
            listings[i] = (str(f), int(expiry), int(ask), bool(recourse))
            parent, root, depth = value("getLineage", next(it))[0]
            lineage[i] = (int(parent), int(root), int(depth))
        balances = {name: int(value("balanceOf", next(it))[0]) for name in ACCOUNTS}
        supply = int(value("totalSupply", next(it))[0])
        escrow = int(value("balanceOf", next(it))[0])
        paused = bool(value("paused", next(it))[0])
        chain_next = int(value("nextInvoiceId", next(it))[0])
        parties = {}
        for name in PARTIES:
            _n, roles, kyc, _admitted, _suspended = value("participant", next(it))
            parties[name] = (int(roles), int(kyc))
        block = next(it)["result"]
        world = World(
            invoices, holders, listings, lineage, balances, supply, escrow, paused, chain_next, parties,
            int(block["timestamp"], 16),
        )  # fmt: skip
        assert chain_next == next_id, f"the events name invoices up to {next_id - 1}, the chain {chain_next - 1}"
        return world

    def _fold_events(self) -> None:
        """Fold the invoice contract's events of the blocks mined since the last step into the book."""
        head = int(self.w3.eth.block_number)
        if head <= self.block:
            return
        logs = self.w3.eth.get_logs({"address": self.ctx.invoice_address, "fromBlock": self.block + 1, "toBlock": head})
        self.block = head
        b = self.book
        for log in logs:
            ev = self.ctx.events.get(log["topics"][0].hex().removeprefix("0x"))
            if ev is None:
                continue
            a = ev.process_log(log)["args"]
            name = ev.event_name
            if name == "InvoiceIssued":
                b.amount[a["invoiceId"]], b.paid[a["invoiceId"]] = int(a["amount"]), 0
            elif name == "PartCreated":
                b.amount[a["partId"]], b.paid[a["partId"]] = int(a["amount"]), 0
            elif name == "InvoiceFinanced":
                i = a["invoiceId"]
                b.financed[i] += 1
                b.delta[self.name[a["financier"]]] -= a["advance"]
                b.delta[self.name[a["seller"]]] += a["advance"]
                b.open_at_financing[i] = b.amount[i] - b.paid[i]
                b.due[i] = int(a["due"])
            elif name == "InvoiceRepaid":
                i = a["invoiceId"]
                b.delta[self.name[a["payer"]]] -= a["amount"]
                b.delta[self.name[a["payee"]]] += a["toHolder"]
                assert a["totalPaid"] == b.paid[i] + a["amount"], ("InvoiceRepaid totalPaid", i, a)
                b.paid[i] = int(a["totalPaid"])
                if i in b.due:
                    b.paid_after[i] += a["amount"]
                    b.to_financier[i] += a["toHolder"]
            elif name == "ReserveReleased":
                i = a["invoiceId"]
                b.delta[self.name[a["seller"]]] += a["amount"]
                b.reserve[i] += a["amount"]
            elif name == "CreditNoteIssued":
                i = a["invoiceId"]
                b.delta[self.name[a["issuer"]]] -= a["toHolder"]
                b.delta[self.name[a["holder"]]] += a["toHolder"]
                b.credited[i] += a["credit"]
                assert a["newAmount"] == b.amount[i] - a["credit"], ("CreditNoteIssued newAmount", i, a)
                b.amount[i] = int(a["newAmount"])
                if i in b.due:
                    b.to_financier[i] += a["toHolder"]
                    b.seller_paid[i] += a["toHolder"]
            elif name == "InvoiceBoughtBack":
                i = a["invoiceId"]
                b.delta[self.name[a["seller"]]] -= a["amount"]
                b.delta[self.name[a["holder"]]] += a["amount"]
                b.to_financier[i] += a["amount"]
                b.seller_paid[i] += a["amount"]

    # -- the invariants, after every step ------------------------------------------------------
    @invariant()
    def everything_holds(self) -> None:
        before = self.world
        self._fold_events()
        next_id = max([self.first_id - 1, *self.book.amount]) + 1
        world = self._read_world(next_id)
        self.world = world
        self._check_conservation(world)
        self._check_financed_once(world)
        self._check_transitions(before, world)
        self._check_dues(world)
        self._check_trees(world)
        if self.steps and self.steps % DB_EVERY == 0:
            self.desk.sync()
            if self.steps % VERIFY_EVERY == 0:
                self._verify()
            else:
                self._check_projection(world)
        self.clean = True

    def _check_conservation(self, w: World) -> None:
        moved = {n: w.balances[n] - self.initial.balances[n] for n in ACCOUNTS}
        expected = {n: self.book.delta.get(n, 0) for n in ACCOUNTS}
        assert moved == expected, f"balances moved {moved}, the events say {expected}"
        assert sum(moved.values()) == 0 and w.supply == self.initial.supply and w.escrow == 0, (moved, w.escrow)

    def _check_financed_once(self, w: World) -> None:
        twice = {i: n for i, n in self.book.financed.items() if n > 1}
        assert not twice, f"financed more than once: {twice}"
        for i, inv in w.invoices.items():
            # A seller is set by the one financing and never changes.
            assert (inv.seller is not None) == (i in self.book.due), (i, inv)
            if i in self.book.due:
                assert inv.financier_due == self.book.due[i], (i, inv)

    def _check_transitions(self, before: World, after: World) -> None:
        # A step of several operations (the first one; a listing then a financing) may take as many moves.
        moves = max(1, self.done)
        for i, inv in after.invoices.items():
            was = before.invoices[i].status if i in before.invoices else S.NONE
            if inv.status != was:
                assert inv.status in _reachable(was, moves), f"invoice {i}: {S(was).name} -> {S(inv.status).name}"
                event(f"transition {S(was).name} -> {S(inv.status).name}")
        self.done = 0

    def _check_dues(self, w: World) -> None:
        b = self.book
        for i, inv in w.invoices.items():
            # The events tell what the state holds.
            assert (inv.amount, inv.paid) == (b.amount[i], b.paid[i]), (i, inv, b.amount[i], b.paid[i])
            assert inv.paid <= inv.amount, (i, inv)
            # A dispute remembers the open status it interrupted, and only a dispute does.
            assert (inv.disputed_from in OPEN) if inv.status == S.DISPUTED else (inv.disputed_from == 0), (i, inv)
            if i not in b.due:
                continue
            # The financier's side: what the buyer paid it, the seller's dilution and buy-back.
            assert inv.financier_paid == b.to_financier[i] <= inv.financier_due, (i, inv, b.to_financier[i])
            # The seller: exactly the rest of the buyer's payments since the financing, and never more
            # than its reserve plus what it paid in itself.
            assert b.reserve[i] == b.paid_after[i] - (b.to_financier[i] - b.seller_paid[i]), i
            assert b.reserve[i] <= b.open_at_financing[i] - b.due[i] + b.seller_paid[i], (i, b.reserve[i])

    def _check_trees(self, w: World) -> None:
        b = self.book
        children: dict[int, list[int]] = defaultdict(list)
        for i, (parent, _root, _depth) in w.lineage.items():
            if parent:
                children[parent].append(i)
        for i, (parent, root, depth) in w.lineage.items():
            # A part sits one level below its parent, at most MAX_DEPTH below its root, in its parent's tree.
            if parent:
                assert 1 <= depth <= MAX_DEPTH and depth == w.lineage[parent][2] + 1, (i, w.lineage[i])
                assert root == w.lineage[parent][1] and w.invoices[i].buyer == w.invoices[root].buyer, i
            else:
                assert (root, depth) == (i, 0), (i, w.lineage[i])
        for i, inv in w.invoices.items():
            if inv.status == S.SPLIT:
                # What was paid before the split, and the parts at their face (credit notes lower it later).
                face = sum(w.invoices[c].amount + b.credited[c] for c in children[i])
                assert inv.paid + face == inv.amount, f"split {i}: paid {inv.paid} + parts {face} != {inv.amount}"
            else:
                assert not children[i], (i, children[i])
        for root in {r for (_p, r, _d) in w.lineage.values() if children[r]}:
            below = [i for i, (_p, r, _d) in w.lineage.items() if r == root and i != root]
            leaves = [i for i in below if w.invoices[i].status != S.SPLIT]
            nodes = [root, *(i for i in below if w.invoices[i].status == S.SPLIT)]
            # The root's amount: its leaves' open and paid amounts, what was paid on split nodes before
            # they were split, and what credit notes took off any part.
            total = (
                sum(w.invoices[i].amount for i in leaves)
                + sum(w.invoices[n].paid for n in nodes)
                + sum(b.credited[i] for i in below)
            )
            assert total == w.invoices[root].amount, f"tree {root}: leaves, payments and credits {total}"

    def _check_projection(self, w: World) -> None:
        """The indexed invoices and financings, as the database holds them, against the chain and the
        events (the cheap check between two runs of verify)."""
        from sqlalchemy import func, select

        from ledger.db.models import Financing, Invoice

        b, contract = self.book, self.ctx.invoice_address
        with self.desk.engine.connect() as conn:
            rows = {
                r.invoice_id: r
                for r in conn.execute(
                    select(INVOICES).where(Invoice.contract == contract, Invoice.invoice_id >= self.first_id)
                )
            }
            financings = dict(
                conn.execute(
                    select(Financing.invoice_id, func.count())
                    .where(Financing.contract == contract, Financing.invoice_id >= self.first_id)
                    .group_by(Financing.invoice_id)
                ).all()
            )
        self.stats["database checks"] += 1
        assert sorted(rows) == sorted(w.invoices), "the database holds other invoices than the chain"
        assert financings == dict(b.financed), f"financings in the database {financings}, on chain {dict(b.financed)}"
        for i, inv in w.invoices.items():
            r, (parent, root, depth) = rows[i], w.lineage[i]
            database = (
                r.status, r.holder, int(r.amount), int(r.paid), r.seller, r.financier_due, int(r.financier_paid),
                int(r.credited), int(r.reserve_released), r.parent_id, r.root_id, r.depth,
            )  # fmt: skip
            chain = (
                STATUS_NAMES[inv.status], w.holders[i], inv.amount, inv.paid, inv.seller,
                inv.financier_due if inv.seller else None, inv.financier_paid, b.credited[i], b.reserve[i],
                parent or None, root, depth,
            )  # fmt: skip
            assert database == chain, f"invoice {i}: the database has {database}, the chain {chain}"

    def _verify(self) -> None:
        """``scf verify``: every invoice, participant, event and record of the database against the chain."""
        from ledger.indexer.verify import verify

        report = verify(self.settings)
        self.stats["database checks"] += 1
        self.stats["verify runs"] += 1
        assert not report.mismatches, "\n".join([report.summary(), *(m.line() for m in report.mismatches[:10])])
        assert report.invoices == self.world.next_id - 1, report.summary()  # every invoice was compared

    def teardown(self) -> None:
        try:
            # At the end the database equals the chain (unless a step failed: its error is the report).
            if self.clean and not (self.steps and self.steps % VERIFY_EVERY == 0):
                self.desk.sync()
                self._verify()
            self.stats["transactions"] += self._nonces() - self.nonces
        finally:
            self.indexer.close()
            self.desk.engine.dispose()
            self.rpc.close()
            shutil.rmtree(self.workdir, ignore_errors=True)
            reverted = self.w3.provider.make_request("evm_revert", [self.snapshot])
            assert reverted.get("result") is True, reverted

    # -- doing things --------------------------------------------------------------------------
    def _begin(self) -> None:
        self.steps += 1
        self.clean = False
        self.fresh = True  # self.world is the ledger as this step finds it
        self.stats["steps"] += 1

    def _do(
        self,
        kind: str,
        action: Any,
        expected: tuple[str, ...] = (),
        raw: Any = None,
        raw_error: str | None = None,
        compare: bool = True,
    ) -> Any:
        """Run one operation through the services. A refusal must be one of ``expected``
        (or a party's lapsed KYC or missing role, checked against the registry); the
        services' own refusals before sending must be refusals of the contract too
        (``raw``: (contract call, account name); ``raw_error``: the contract's error
        it must be), and a refused call changes nothing (unless not ``compare``: the
        caller compares)."""
        self.stats["operations"] += 1
        before = self._now() if compare else None
        try:
            result = action()
        except TransactionReverted as exc:
            self._refusal_ok(kind, exc, expected)
            if before is not None:
                self._unchanged(kind, before)
            self.stats["refused"] += 1
            self.outcomes[f"{kind}: refused ({exc.error_name})"] += 1
            event(f"{kind}: refused ({exc.error_name})")
            return None
        except (Refused, InputError) as exc:
            # Judged by the service before sending (or a desk decision not taken, which no contract judges).
            if raw is not None:
                fn, who = raw
                with pytest.raises(TransactionReverted) as info:
                    self.ledger.sender.call(fn, self.addr[who])
                assert raw_error in (None, info.value.error_name), f"{kind}: {exc}; the contract: {info.value}"
            if before is not None:
                self._unchanged(kind, before)
            self.stats["refused"] += 1
            self.outcomes[f"{kind}: refused by the service ({type(exc).__name__})"] += 1
            event(f"{kind}: refused by the service ({type(exc).__name__})")
            return None
        self.fresh = False
        self.done += 1
        self.outcomes[f"{kind}: done"] += 1
        event(f"{kind}: done")
        return result

    def _now(self) -> World:
        """The ledger now: the step's world until an operation of the step changed it."""
        return self.world if self.fresh else self._read_world(self._chain_next_id())

    def _chain_next_id(self) -> int:
        fn = self.ctx.calldata["nextInvoiceId"]
        data = self.rpc.call("eth_call", [{"to": self.ctx.invoice_address, "data": "0x" + fn().hex()}, "latest"])
        return int(fn.decode(bytes.fromhex(data[2:]))[0])

    def _unchanged(self, kind: str, before: World) -> None:
        """A refused call changes nothing (an allowance a service approved first is restored)."""
        after = self._read_world(self._chain_next_id())
        assert after.business() == before.business(), f"{kind} was refused but changed the ledger"

    def _refusal_ok(self, kind: str, exc: TransactionReverted, expected: tuple[str, ...]) -> None:
        name, args = exc.error_name, exc.error_args or {}
        if name == "ParticipantKycExpired":
            who = self.name[args["account"]]
            assert args["kycExpiry"] == self.world.parties[who][1] <= args["nowTimestamp"], (kind, str(exc))
        elif name == "ParticipantLacksRole":
            who = self.name[args["account"]]
            assert self.world.parties[who][0] & args["role"] == 0, (kind, str(exc))
        else:
            assert name in expected, f"{kind}: unexpected refusal: {exc}"

    def _row(self, i: int) -> tuple[ChainInvoice, str | None, tuple[str, int, int, bool], int]:
        w = self.world
        return (w.invoices[i], w.holders[i], w.listings[i], i)

    def _ids(self, pred: Any) -> list[int]:
        return [i for i in sorted(self.world.invoices) if pred(*self._row(i))]

    def _pick(self, pick: int, pred: Any) -> int:
        ids = self._ids(pred)
        return ids[pick % len(ids)]

    def _has(pred: Any) -> Any:  # noqa: N805 - a precondition factory used in the class body
        return precondition(lambda self: bool(self._ids(pred)))

    def _holder(self, i: int) -> str:
        return self.name[str(self.world.holders[i])]

    def _chain_today(self) -> dt.date:
        return business_date(self.ledger.chain_time())

    def _number(self) -> str:
        self.numbers += 1
        return f"SM-{self.numbers}"

    # -- issue and confirm ---------------------------------------------------------------------
    @initialize(
        supplier=st.sampled_from(SUPPLIERS),
        rows=st.lists(st.tuples(ROW, st.booleans()), min_size=1, max_size=4),
        financier=st.sampled_from([*FINANCIERS, None]),
        how=st.sampled_from(["terms", "desk"]),
        due=PERCENT,
        recourse=st.booleans(),
    )
    def start(
        self,
        supplier: str,
        rows: list[tuple[tuple[str, int, int], bool]],
        financier: str | None,
        how: str,
        due: int,
        recourse: bool,
    ) -> None:
        """Every example starts from a supplier's intake batch, confirmed by its buyers in a batch each; the
        first invoice (and each row marked) listed for any financier, accepting recourse; and the first one
        financed by ``financier`` (see :meth:`finance`): something for the rules to work on (the rules an
        example may use are a random few: Hypothesis's swarm testing)."""
        first = self.world.next_id
        self.import_batch(supplier, [row for row, _ in rows])
        for buyer in BUYERS:
            ids = [first + n for n, ((b, _u, _d), _) in enumerate(rows) if b == buyer]
            if ids:
                self._do("confirm batch", lambda b=buyer, ids=ids: self.ledger.confirm_many(self.acct(b), ids))
        for n, (_row, listed) in enumerate(rows):
            if listed or n == 0:
                self._do("offer", lambda i=first + n: self.ledger.offer(self.acct(supplier), i, None, "0.01", 7, True))
        if financier:
            self._finance(first, financier, how, due, 90, recourse)

    @rule(supplier=st.sampled_from(SUPPLIERS), buyer=st.sampled_from(BUYERS), units=UNITS, days=DUE_DAYS)
    def issue(self, supplier: str, buyer: str, units: int, days: int) -> None:
        self._begin()
        due = self._chain_today() + dt.timedelta(days=days)
        self._do(
            "issue",
            lambda: self.ledger.issue(self.acct(supplier), self.addr[buyer], self._number(), _major(units), "HKD", due),
        )

    @rule(supplier=st.sampled_from(SUPPLIERS), rows=st.lists(ROW, min_size=1, max_size=3))
    def import_batch(self, supplier: str, rows: list[tuple[str, int, int]]) -> None:
        """An ERP export issued in one batch (``scf invoice import``)."""
        self._begin()
        path = self.workdir / f"export-{self.steps}.csv"
        today = self._chain_today()
        with path.open("w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle)
            out.writerow(["number", "buyer", "amount", "due_date"])
            for buyer, units, days in rows:
                out.writerow([self._number(), self.addr[buyer], _major(units), (today + dt.timedelta(days=days))])
        run = self._do("import", lambda: self.intake.import_invoices(self.acct(supplier), path))
        if run is not None:
            assert run.counts.get("issued") == len(rows), run.as_dict()

    @rule(
        pick=PICK,
        how=st.sampled_from(["confirm", "confirm", "signed", "cancel"]),
        more=st.lists(PICK, max_size=2),
        relayer=ANYONE,
    )
    @_has(lambda inv, *_: inv.status == S.ISSUED)
    def confirm(self, pick: int, how: str, more: list[int], relayer: str) -> None:
        """The buyer confirms; or signs confirmations offline that ``relayer`` submits (and submits again:
        the replay confirms nothing); or the supplier cancels instead."""
        self._begin()
        i = self._pick(pick, lambda inv, *_: inv.status == S.ISSUED)
        inv = self.world.invoices[i]
        buyer = self.name[inv.buyer]
        if how == "confirm":
            self._do("confirm", lambda: self.ledger.confirm(self.acct(buyer), i))
        elif how == "cancel":
            self._do("cancel", lambda: self.ledger.cancel(self.acct(self.name[inv.supplier]), i))
        else:
            ids = sorted(
                {i, *(self._pick(p, lambda v, *_: v.status == S.ISSUED and v.buyer == inv.buyer) for p in more)}
            )
            self._confirm_signed(buyer, ids, relayer)

    def _confirm_signed(self, buyer: str, ids: list[int], relayer: str) -> None:
        signed = self.workdir / f"signed-{self.steps}.jsonl"
        self._do(
            "sign confirmations", lambda: self.intake.sign_confirmations(self.acct(buyer), signed, invoice_ids=ids)
        )
        run = self._do("submit confirmations", lambda: self.intake.submit_confirmations(self.acct(relayer), signed))
        if run is None:
            return
        if not self._lapsed(buyer, BUYER):
            assert run.counts.get("confirmed", 0) == len(ids), run.as_dict()
        if run.counts.get("confirmed"):
            again = self._do(
                "replay confirmations", lambda: self.intake.submit_confirmations(self.acct(relayer), signed)
            )
            assert again is not None and again.counts.get("confirmed", 0) == 0, again and again.as_dict()

    def _lapsed(self, who: str, role: int) -> bool:
        roles, kyc = self.world.parties[who]
        return kyc <= self.ledger.chain_time() + 1 or roles & role == 0

    # -- multi-tier ----------------------------------------------------------------------------
    @staticmethod
    def _splittable(inv: ChainInvoice, holder: Any, *_: Any) -> bool:
        return inv.status in (S.CONFIRMED, S.PARTIALLY_PAID) and inv.seller is None and inv.outstanding >= 2

    @rule(pick=PICK, parts=st.lists(st.tuples(st.integers(1, 9), st.sampled_from(PARTIES)), min_size=2, max_size=4))
    @_has(_splittable)
    def split(self, pick: int, parts: list[tuple[int, str]]) -> None:
        """The holder splits a receivable into parts for its own suppliers (amounts by weight, exact)."""
        self._begin()
        i = self._pick(pick, self._splittable)
        units = self.world.invoices[i].outstanding
        parts = parts[:units]
        weights = [w for w, _ in parts]
        amounts = [max(1, units * w // sum(weights)) for w in weights]
        amounts[-1] = units - sum(amounts[:-1])
        if amounts[-1] < 1:
            amounts = [1] * (len(parts) - 1) + [units - len(parts) + 1]
        spec = [
            (self.addr[who], _major(a), f"PO-{self.steps}-{n}")
            for n, ((_, who), a) in enumerate(zip(parts, amounts, strict=True))
        ]
        self._do(
            "split",
            lambda: self.ledger.split(self.acct(self._holder(i)), i, spec),
            ("InvoiceMatured", "SplitLimit"),
        )

    @rule(pick=PICK, to=st.sampled_from(PARTIES))
    @_has(lambda inv, holder, *_: inv.status in OPEN)
    def transfer(self, pick: int, to: str) -> None:
        self._begin()
        i = self._pick(pick, lambda inv, holder, *_: inv.status in OPEN)
        self._do(
            "transfer",
            lambda: self.ledger.transfer_receivable(self.acct(self._holder(i)), i, self.addr[to], f"PAY-{self.steps}"),
        )

    # -- financing -----------------------------------------------------------------------------
    @staticmethod
    def _offerable(inv: ChainInvoice, *_: Any) -> bool:
        return inv.status in (S.CONFIRMED, S.PARTIALLY_PAID) and inv.seller is None

    @staticmethod
    def _listed(inv: ChainInvoice, holder: Any, listing: tuple[str, int, int, bool], *_: Any) -> bool:
        return listing[1] != 0

    @rule(
        pick=PICK,
        to=st.sampled_from([None, *FINANCIERS]),
        ask=PERCENT,
        days=st.sampled_from([1, 7]),
        recourse=st.booleans(),
        withdraw=st.sampled_from([False, False, False, True]),
    )
    @_has(_offerable)
    def offer(self, pick: int, to: str | None, ask: int, days: int, recourse: bool, withdraw: bool) -> None:
        """The holder lists a receivable (for one financier or any, asking up to half its open amount,
        accepting recourse or not), or withdraws a listing."""
        self._begin()
        if withdraw and self._ids(self._listed):
            i = self._pick(pick, self._listed)
            self._do("withdraw offer", lambda: self.ledger.withdraw_offer(self.acct(self._holder(i)), i))
            return
        i = self._pick(pick, self._offerable)
        units = max(1, self.world.invoices[i].outstanding * ask // 200)
        financier = self.addr[to] if to and not self._lapsed(to, FINANCIER) else None
        self._do(
            "offer",
            lambda: self.ledger.offer(self.acct(self._holder(i)), i, financier, _major(units), days, recourse),
        )

    FINANCE_REFUSALS = (
        "InvoiceMatured",
        "FinancingNotAuthorized",
        "SelfFinancing",
        "AdvanceBelowAsk",
        "RecourseNotAccepted",
        "FinancingDeadlinePassed",
    )

    @rule(
        pick=PICK,
        financier=st.sampled_from(FINANCIERS),
        how=st.sampled_from(["desk", "terms"]),
        due=PERCENT,
        advance=PERCENT,
        recourse=st.booleans(),
    )
    @_has(_offerable)
    def finance(self, pick: int, financier: str, how: str, due: int, advance: int, recourse: bool) -> None:
        """The desk quotes from the indexed database and executes what it approved (``desk``), or the
        financier funds on its own terms (``terms``: a due below the open amount leaves the seller a
        reserve). With recourse if ``recourse``. A receivable not listed is listed by its holder first
        (for any financier, accepting recourse), so that a financing follows whatever came before."""
        self._begin()
        i = self._pick(pick, self._offerable)
        if not self._listed(*self._row(i)):
            listed = self._do("offer", lambda: self.ledger.offer(self.acct(self._holder(i)), i, None, "0.01", 7, True))
            if listed is None:
                return
        self._finance(i, financier, how, due, advance, recourse)

    def _finance(self, i: int, financier: str, how: str, due: int, advance: int, recourse: bool) -> None:
        if how == "desk":
            decision = self._do("quote", lambda: self.desk.quote(i, self.addr[financier], POLICIES[recourse]))
            if decision is None:
                return
            if decision["status"] != "approved":
                failing = [r["name"] for r in decision["rules"] if r["outcome"] == "fail"]
                self.outcomes[f"quote declined ({', '.join(failing)})"] += 1
                return
            self._do(
                "execute",
                lambda: self.desk.execute(int(decision["decision_id"]), self.acct(financier)),
                self.FINANCE_REFUSALS,
            )
            return
        due_units = max(1, self._now().invoices[i].outstanding * due // 100)  # the open amount as listed
        advance_units = max(1, due_units * advance // 100)
        self._do(
            "finance",
            lambda: self.ledger.finance(
                self.acct(financier), i, advance_units=advance_units, due_units=due_units, recourse=recourse
            ),
            self.FINANCE_REFUSALS,
        )

    # -- paying --------------------------------------------------------------------------------
    @staticmethod
    def _payable(inv: ChainInvoice, *_: Any) -> bool:
        return (inv.status in PAYABLE and inv.outstanding > 0) or inv.status == S.SPLIT

    @rule(pick=PICK, percent=st.one_of(PERCENT, st.just(100)), financed=st.booleans())
    @_has(_payable)
    def repay(self, pick: int, percent: int, financed: bool) -> None:
        """The buyer pays ``percent`` of what it owes: on a receivable (the financier first, up to its
        due, the rest to the seller: mostly a financed one when ``financed``), or on a split one across
        its leaves, pro rata (``repayRoot``)."""
        self._begin()
        financed_ones = self._ids(lambda inv, *a: self._payable(inv, *a) and inv.seller is not None)
        i = (
            self._pick(pick, self._payable)
            if not (financed and financed_ones)
            else financed_ones[pick % len(financed_ones)]
        )
        inv = self.world.invoices[i]
        buyer = self.name[inv.buyer]
        split = inv.status == S.SPLIT
        owed = self.ledger.open_below(i) if split else inv.outstanding
        units = max(1, owed * percent // 100)
        self._do(
            "repay across a tree" if split else "repay",
            lambda: self.ledger.repay(self.acct(buyer), i, _major(units)),
            ("InvalidRepayment",),  # a tree whose open leaves are disputed
            (self.ledger.invoices.functions.repayRoot(i, units), buyer),
        )

    # -- when things go wrong ------------------------------------------------------------------
    @rule(pick=PICK)
    @_has(lambda inv, *_: inv.status in OPEN)
    def default(self, pick: int) -> None:
        """After a jump past the due date and the grace period (support.lifecycle.travel), the holder
        declares a default."""
        self._begin()
        self._default(self._pick(pick, lambda inv, *_: inv.status in OPEN))

    def _default(self, i: int) -> bool:
        inv = self.world.invoices[i]
        wait = inv.due_ts + inv.grace_period + 1 - self.ledger.chain_time()
        if wait > 0:
            travel(self.w3, wait)
        holder = self._holder(i)
        declared = self._do(
            "default",
            lambda: self.ledger.declare_default(self.acct(holder), i),
            (),
            (self.ledger.invoices.functions.declareDefault(i), holder),
        )
        return declared is not None

    @staticmethod
    def _recourse(inv: ChainInvoice, holder: Any, *_: Any) -> bool:
        return inv.status == S.DEFAULTED and inv.recourse and inv.seller is not None

    @rule(pick=PICK, how=st.sampled_from(["buy back (holder)", "buy back (seller)", "write off"]))
    @_has(lambda inv, *_: inv.status == S.DEFAULTED or inv.status in OPEN)
    def remedy(self, pick: int, how: str) -> None:
        """After a default: under recourse the holder makes the seller buy the receivable back, or the
        seller does it itself; or the holder writes its claim off. With nothing in default yet, an open
        receivable (financed with recourse, for a buy-back, if there is one) is declared in default first."""
        self._begin()
        fn = self.ledger.invoices.functions
        buy_back = how.startswith("buy back")
        wanted = self._recourse if buy_back else (lambda inv, *_: inv.status == S.DEFAULTED)
        if self._ids(wanted):
            i = self._pick(pick, wanted)
        else:
            backed = self._ids(lambda inv, *_: inv.status in OPEN and inv.recourse and inv.seller is not None)
            i = (
                backed[pick % len(backed)]
                if buy_back and backed
                else self._pick(pick, lambda v, *_: v.status in OPEN | {S.DEFAULTED})
            )
            if self.world.invoices[i].status != S.DEFAULTED and not self._default(i):
                return
        inv = self._now().invoices[i]
        if buy_back and self._recourse(inv, None):
            who = self._holder(i) if how == "buy back (holder)" else self.name[str(inv.seller)]
            self._do("buy back", lambda: self.ledger.buy_back(self.acct(who), i), (), (fn.buyBack(i), who))
            return
        holder = self._holder(i)
        self._do("write off", lambda: self.ledger.write_off(self.acct(holder), i), (), (fn.writeOff(i), holder))

    @rule(pick=PICK, resolve=st.booleans())
    @_has(lambda inv, *_: inv.status in OPEN | {S.DISPUTED})
    def dispute(self, pick: int, resolve: bool) -> None:
        """The buyer disputes an open receivable, or withdraws its dispute."""
        self._begin()
        if resolve and self._ids(lambda inv, *_: inv.status == S.DISPUTED):
            i = self._pick(pick, lambda inv, *_: inv.status == S.DISPUTED)
            buyer = self.name[self.world.invoices[i].buyer]
            self._do("resolve", lambda: self.ledger.withdraw_dispute(self.acct(buyer), i))
        elif self._ids(lambda inv, *_: inv.status in OPEN):
            i = self._pick(pick, lambda inv, *_: inv.status in OPEN)
            buyer = self.name[self.world.invoices[i].buyer]
            self._do("dispute", lambda: self.ledger.dispute(self.acct(buyer), i, f"short delivery {self.steps}"))

    @rule(pick=PICK, percent=PERCENT)
    @_has(lambda inv, *_: inv.status in OPEN | {S.DISPUTED})
    def credit_note(self, pick: int, percent: int) -> None:
        """The creditor (the seller of a financed receivable, else the holder) credits part or all of
        the open amount; the seller pays the financier what the rest no longer covers."""
        self._begin()
        i = self._pick(pick, lambda inv, *_: inv.status in OPEN | {S.DISPUTED})
        inv = self.world.invoices[i]
        creditor = self.name[str(inv.seller)] if inv.seller else self._holder(i)
        units = max(1, inv.outstanding * percent // 100)
        self._do(
            "credit note",
            lambda: self.ledger.credit_note(self.acct(creditor), i, _major(units), f"CN-{self.steps}"),
            (),
            (self.ledger.invoices.functions.issueCreditNote(i, units, b"\0" * 32), creditor),
        )

    @rule(pick=PICK, days=st.integers(1, 60), accept=st.booleans())
    @_has(lambda inv, *_: inv.status in OPEN)
    def extend(self, pick: int, days: int, accept: bool) -> None:
        """The buyer proposes a later due date; the holder accepts it (or not yet)."""
        self._begin()
        i = self._pick(pick, lambda inv, *_: inv.status in OPEN)
        inv = self.world.invoices[i]
        buyer = self.name[inv.buyer]
        new_due = business_date(inv.due_ts) + dt.timedelta(days=days)
        proposed = self._do("propose extension", lambda: self.ledger.propose_extension(self.acct(buyer), i, new_due))
        if proposed is not None and accept:
            self._do("accept extension", lambda: self.ledger.accept_extension(self.acct(self._holder(i)), i))

    @rule(seconds=st.sampled_from([3_600, DAY, 5 * DAY, 20 * DAY]))
    def time_jump(self, seconds: int) -> None:
        self._begin()
        travel(self.w3, seconds)
        self.stats["time jumps"] += 1

    # -- the operator --------------------------------------------------------------------------
    @rule(steps=st.lists(PAUSED_STEP, min_size=1, max_size=2), who=st.sampled_from(PARTIES))
    def paused_window(self, steps: list[tuple[str, int]], who: str) -> None:
        """The operator pauses; what anyone tries is refused and nothing changes; it resumes."""
        self._begin()
        self._do("pause", lambda: self.ledger.set_paused(self.acct("operator"), True))
        frozen = self._read_world(self.world.next_id)
        assert frozen.paused
        for kind, pick in steps:
            self._paused_attempt(kind, pick, who)
        assert self._read_world(self.world.next_id).business() == frozen.business(), "something changed while paused"
        self._do("unpause", lambda: self.ledger.set_paused(self.acct("operator"), False))

    def _paused_attempt(self, kind: str, pick: int, who: str) -> None:
        w, L, fn = self.world, self.ledger, self.ledger.invoices.functions
        # Steps of a holder on a receivable that has one (a cancelled invoice's token is burnt).
        ids = sorted(i for i in w.invoices if w.holders[i] is not None or kind in ("confirm", "repay", "dispute"))
        if not ids:
            return
        i = ids[pick % len(ids)]
        inv = w.invoices[i]
        holder = self._holder(i) if w.holders[i] is not None else who
        buyer = self.name[inv.buyer]
        due = self._chain_today() + dt.timedelta(days=30)
        rest = _major(max(1, inv.outstanding - 1))
        nothing = b"\0" * 32
        actions = {
            "issue": (
                lambda: L.issue(self.acct("supplier"), self.addr["buyer"], self._number(), "10.00", "HKD", due),
                fn.issue(self.addr["buyer"], "P-1", 1_000, self.ctx.token_address, w.time + 30 * DAY, nothing),
                "supplier",
            ),
            "confirm": (lambda: L.confirm(self.acct(buyer), i), fn.confirm(i), buyer),
            "offer": (
                lambda: L.offer(self.acct(holder), i, None, "0.01", 7),
                fn.offerForFinancing(i, ZERO, 1, w.time + DAY, False),
                holder,
            ),
            "split": (
                lambda: L.split(
                    self.acct(holder), i, [(self.addr[who], "0.01", None), (self.addr[holder], rest, None)]
                ),
                fn.split(i, [(self.addr[who], 1, nothing), (self.addr[holder], 1, nothing)]),
                holder,
            ),
            "transfer": (
                lambda: L.transfer_receivable(self.acct(holder), i, self.addr[who]),
                fn.transferWithReference(i, self.addr[who], nothing),
                holder,
            ),
            "repay": (lambda: L.repay(self.acct(buyer), i, "0.01"), fn.repay(i, 1), buyer),
            "dispute": (lambda: L.dispute(self.acct(buyer), i, "paused"), fn.dispute(i, nothing), buyer),
            "credit": (lambda: L.credit_note(self.acct(holder), i, "0.01"), fn.issueCreditNote(i, 1, nothing), holder),
            "default": (lambda: L.declare_default(self.acct(holder), i), fn.declareDefault(i), holder),
        }
        action, call, caller = actions[kind]
        # The pause is the contract's first rule: whatever else would refuse the step, it is EnforcedPause,
        # both for what the service sends and for what it refuses itself before sending.
        self._do(f"{kind} while paused", action, ("EnforcedPause",), (call, caller), "EnforcedPause", compare=False)

    @rule(
        change=st.sampled_from(["kyc lapse", "kyc renew", "roles"]),
        who=st.sampled_from(PARTIES),
        # From tomorrow: a KYC lapsing tonight could lapse between the update's simulation and its block.
        days=st.integers(1, 3),
    )
    def registry(self, change: str, who: str, days: int) -> None:
        """The operator shortens a participant's KYC (it lapses after ``days`` days: time jumps pass it),
        renews it, or takes a business role away (leaving an auditor) or gives it back."""
        self._begin()
        operator, address = self.acct("operator"), self.addr[who]
        roles, kyc = self.world.parties[who]
        if change == "kyc lapse":
            until = self._chain_today() + dt.timedelta(days=days)
            self._do(change, lambda: self.ledger.update_participant(operator, address, kyc_until=until))
        elif change == "kyc renew":
            until = self._chain_today() + dt.timedelta(days=3 * 365)
            self._do(change, lambda: self.ledger.update_participant(operator, address, kyc_until=until))
        else:
            new = AUDITOR if roles == BASE_ROLES[who] else BASE_ROLES[who]
            # An update keeps the KYC expiry, and the registry takes none in the past: a lapsed
            # participant's roles change only with a renewal.
            lapsed = kyc <= self.ledger.chain_time() + 1
            self._do(
                "set roles",
                lambda: self.ledger.update_participant(operator, address, roles=new),
                ("InvalidKycExpiry",) if lapsed else (),
            )

    # -- callers who may not --------------------------------------------------------------------
    @rule(op=st.sampled_from(UNAUTHORISED), pick=PICK, caller=ANYONE)
    def unauthorised(self, op: str, pick: int, caller: str) -> None:
        """A call by a party the contract does not allow to make it, sent as that party: refused with the
        contract's error naming the caller, and nothing changes."""
        self._begin()
        w, fn, me = self.world, self.ledger.invoices.functions, self.addr[caller]
        ids = sorted(w.invoices)

        def choose(pred: Any) -> int | None:
            found = [i for i in ids if pred(w.invoices[i], w.holders[i])]
            return found[pick % len(found)] if found else None

        def other(party: str) -> bool:
            return party != me

        call, error = None, None
        if op in ("confirm", "cancel"):
            i = choose(lambda inv, h: inv.status == S.ISSUED and other(inv.buyer if op == "confirm" else inv.supplier))
            if i is not None:
                inv = w.invoices[i]
                if op == "confirm":
                    call, error = (
                        fn.confirm(i),
                        ("NotInvoiceBuyer", {"invoiceId": i, "account": me, "buyer": inv.buyer}),
                    )
                else:
                    call, error = (
                        fn.cancel(i),
                        ("NotInvoiceSupplier", {"invoiceId": i, "account": me, "supplier": inv.supplier}),
                    )
        elif op in ("offer", "withdraw", "split", "transfer", "accept", "default", "write_off"):
            i = choose(lambda inv, h: h is not None and other(h))
            if i is not None:
                holder = str(w.holders[i])
                call = {
                    "offer": lambda: fn.offerForFinancing(i, ZERO, 1, w.time + DAY, False),
                    "withdraw": lambda: fn.withdrawOffer(i),
                    "split": lambda: fn.split(i, [(me, 1, b"\0" * 32), (me, 1, b"\0" * 32)]),
                    "transfer": lambda: fn.transferWithReference(i, me, b"\0" * 32),
                    "accept": lambda: fn.acceptExtension(i, w.invoices[i].due_ts + DAY),
                    "default": lambda: fn.declareDefault(i),
                    "write_off": lambda: fn.writeOff(i),
                }[op]()
                error = ("NotInvoiceHolder", {"invoiceId": i, "account": me, "holder": holder})
        elif op in ("repay", "dispute", "resolve", "propose"):
            i = choose(lambda inv, h: other(inv.buyer))
            if i is not None:
                call = {
                    "repay": lambda: fn.repay(i, 1),
                    "dispute": lambda: fn.dispute(i, b"\0" * 32),
                    "resolve": lambda: fn.withdrawDispute(i),
                    "propose": lambda: fn.proposeExtension(i, w.invoices[i].due_ts + DAY),
                }[op]()
                error = ("NotInvoiceBuyer", {"invoiceId": i, "account": me, "buyer": w.invoices[i].buyer})
        elif op == "credit":

            def creditor(inv: ChainInvoice, h: Any) -> str:
                return str(inv.seller or h)

            i = choose(lambda inv, h: inv.status in OPEN | {S.DISPUTED} and other(creditor(inv, h)))
            if i is not None:
                c = creditor(w.invoices[i], w.holders[i])
                call = fn.issueCreditNote(i, 1, b"\0" * 32)
                error = ("NotCreditor", {"invoiceId": i, "account": me, "creditor": c})
        elif op == "buy_back":
            i = choose(lambda inv, h: self._recourse(inv, h) and other(str(h)) and other(str(inv.seller)))
            if i is not None:
                call = fn.buyBack(i)
                error = ("NotInvoiceHolder", {"invoiceId": i, "account": me, "holder": str(w.holders[i])})
        elif op in ("finance", "issue"):
            role = FINANCIER if op == "finance" else SUPPLIER
            roles = w.parties[caller][0] if caller in PARTIES else None
            kyc_ok = caller in PARTIES and w.parties[caller][1] > self.ledger.chain_time() + 60
            if roles is None:
                error = ("ParticipantNotAdmitted", {"account": me})
            elif not roles & role and kyc_ok:
                error = ("ParticipantLacksRole", {"account": me, "role": role, "roles": roles})
            if error is not None:
                if op == "finance":
                    i = ids[pick % len(ids)]
                    inv = w.invoices[i]
                    terms = (1, 1, ZERO, inv.amount, inv.paid, inv.due_ts, w.time + DAY, False, 0)
                    call = fn.finance(i, terms)
                else:
                    call = fn.issue(
                        self.addr["buyer"], "X-1", 100, self.ctx.token_address, w.time + 30 * DAY, b"\0" * 32
                    )
        elif op == "pause":
            if caller != "operator":
                call = fn.unpause() if w.paused else fn.pause()
                error = ("AccessControlUnauthorizedAccount", {"account": me, "neededRole": OPERATOR_ROLE})
        elif op == "admit":
            if caller != "operator":
                call = self.ledger.registry.functions.admit(
                    self.addr[OUTSIDER], "Nobody Ltd", SUPPLIER, w.time + 365 * DAY
                )
                error = ("AccessControlUnauthorizedAccount", {"account": me, "neededRole": OPERATOR_ROLE})
        elif op == "mint" and caller != "operator":
            call = self.ctx.token.functions.mint(me, 1)
            error = ("AccessControlUnauthorizedAccount", {"account": me, "neededRole": MINTER_ROLE})
        if call is None or error is None:
            event(f"unauthorised {op}: nobody to refuse")
            return
        self.stats["operations"] += 1
        self.stats["refused"] += 1
        with pytest.raises(TransactionReverted) as info:
            self.ledger.sender.transact(call, self.acct(caller))
        assert (info.value.error_name, info.value.error_args) == error, f"unauthorised {op} by {caller}: {info.value}"
        self._unchanged(f"unauthorised {op}", self.world)
        self.outcomes[f"unauthorised {op}: refused ({error[0]})"] += 1
        event(f"unauthorised {op}: refused ({error[0]})")


ZERO = "0x" + "00" * 20


@dataclass
class Context:
    """What the machine works with: the session's settings, a Ledger, the dev accounts, the contracts."""

    settings: Any
    ledger: Any
    acct: Any
    calldata: dict[str, Calldata]
    invoice_address: str
    registry_address: str
    token_address: str
    token: Any
    events: dict[str, Any]
    #: A SQLite database indexed up to the state every example starts from.
    template: Path


def _context(chain: Any, ledger: Any, acct: Any, template: Path) -> Context:
    d = ledger.deployment
    token = ledger.token(d.currency("HKD"))
    inv_abi = d.contracts["InvoiceToken"].abi
    reg_abi = d.contracts["ParticipantRegistry"].abi
    tok_abi = d.contracts["SettlementToken:HKD"].abi
    calldata = {
        n: Calldata(inv_abi, n)
        for n in ("getInvoice", "ownerOf", "getListing", "getLineage", "paused", "nextInvoiceId")
    }
    calldata.update({n: Calldata(tok_abi, n) for n in ("balanceOf", "totalSupply")})
    calldata["participant"] = Calldata(reg_abi, "participant")
    events = {}
    for item in inv_abi:
        if item.get("type") == "event":
            ev = ledger.invoices.events[item["name"]]()
            events[
                ev.topic.hex().removeprefix("0x") if isinstance(ev.topic, bytes) else str(ev.topic).removeprefix("0x")
            ] = ev
    return Context(
        chain.settings,
        ledger,
        acct,
        calldata,
        ledger.invoices.address,
        ledger.registry.address,
        token.address,
        token,
        events,
        template,
    )


def test_system_state_machine_keeps_the_ledger_whole(
    chain: Any, ledger: Any, acct: Any, tmp_path: Path, capsys: Any, request: Any
) -> None:
    """Random sequences of every operation, by random parties, with time jumps, a pause, KYC lapses
    and role changes: after every step the invariants hold, and the indexed database equals the chain."""
    # Once, before the per-example snapshots: the sellers' funds and every party's standing allowance
    # (the services approve what each payment needs; a holder's buy-back demand draws on the seller's).
    for who in ("supplier", "supplier2", "auditor"):
        ledger.mint(acct("operator"), acct(who).address, _major(SELLER_FUNDS), "HKD")
    token = ledger.token(ledger.deployment.currency("HKD"))
    for who in PARTIES:
        ledger.sender.transact(token.functions.approve(ledger.invoices.address, 2**256 - 1), acct(who))
    from ledger.db import get_engine
    from ledger.indexer import sync

    template = tmp_path / "template.db"
    url = f"sqlite:///{template}"
    sync(replace(chain.settings, db_url=url), ledger.deployment)
    get_engine(url).dispose()
    SystemMachine.ctx = _context(chain, ledger, acct, template)
    SystemMachine.stats = Counter()
    SystemMachine.outcomes = Counter()
    try:
        run_state_machine_as_test(SystemMachine, settings=LONG_SETTINGS if LONG else FAST)
    finally:
        stats = SystemMachine.stats
        SystemMachine.ctx = None
        line = (
            f"system state machine: {stats['examples']} examples, {stats['steps']} steps, "
            f"{stats['operations']} operations ({stats['transactions']} transactions mined, "
            f"{stats['refused']} refused), {stats['database checks']} database checks "
            f"({stats['verify runs']} by verify)"
        )
        request.node.user_properties.append(("operations", stats["operations"]))
        with capsys.disabled():
            print(f"\n{line}")
            if request.config.getoption("verbose") > 0:
                for outcome, n in sorted(SystemMachine.outcomes.items()):
                    print(f"  {n:6d}  {outcome}")
