"""Properties on the real chain, indexer and database:

* random sequences of issue / confirm+offer / quote / execute / repay /
  expiry never finance an invoice twice and never take a financier past any
  limit of its policy (limits count what the financier is still due);
* for random prices and payment sequences, settlement creates and loses
  nothing: what the financier and the seller receive of the buyer's payments
  adds up to what the buyer paid, to the minor unit, each at most its due
  (the financier's due is the priced gross advance, the seller's the
  reserve), on chain, in the indexed database and in the portfolio report.

The chain is reverted to an EVM snapshot after every example and each
example gets a fresh SQLite database. Profiles: ``ci`` (default: few
examples, derandomized, so CI is fast and repeatable) and ``long``
(``SCF_HYPOTHESIS_PROFILE=long``).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import uuid
from collections import defaultdict
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import HealthCheck, Phase, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from support.lifecycle import travel

from ledger.business_time import business_date
from ledger.errors import LedgerError
from ledger.finance.policy import parse_policy

_COMMON: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
}
PROFILES: dict[str, dict[str, Any]] = {
    # No shrinking in CI: a failure prints its (unshrunk) steps at once; shrink with the long profile.
    # CI keeps 6 examples: the policy's limits (book, buyer, supplier, concentration) and the portfolio
    # report are checked only here (tests/contracts/test_system_state_machine.py finances through the
    # same desk, but under limits wide enough never to bind).
    "ci": {**_COMMON, "max_examples": 6, "derandomize": True, "phases": [Phase.explicit, Phase.reuse, Phase.generate]},
    "long": {**_COMMON, "max_examples": 60},
}
PROFILE = os.environ.get("SCF_HYPOTHESIS_PROFILE", "ci")
if PROFILE not in PROFILES:  # pragma: no cover - a typo in the environment
    raise RuntimeError(f"SCF_HYPOTHESIS_PROFILE={PROFILE!r}: use one of {', '.join(PROFILES)}")

POLICY = parse_policy(
    """
[eligibility]
currencies = ["HKD"]
min_tenor_days = 7
max_tenor_days = 180
max_amount = "200000.00"

[limits]
book = "300000.00"
buyer_default = "200000.00"
supplier_default = "250000.00"
concentration = "0.60"
concentration_above = "150000.00"

[pricing]
day_count = "ACT/360"
base_rate = "0.05"
fee_fixed = "100.00"

[grading]
no_history = "A"

[grades.A]
advance_rate = "0.90"
spread = "0.01"
""",
    "property.toml",
)
BOOK, BUYER_LINE, SUPPLIER_LINE = 30_000_000, 20_000_000, 25_000_000
MAX_SHARE, SHARE_ABOVE = Fraction(60, 100), 15_000_000
FINANCIERS = ("financier", "financier2")
FINANCED, PARTLY_PAID = 3, 4

ISSUE = st.tuples(
    st.just("issue"),
    st.sampled_from(["50000.00", "80000.00", "120000.00", "150000.00"]),
    st.sampled_from([20, 45, 90]),
    st.sampled_from(["supplier", "supplier2"]),
    st.sampled_from(["buyer", "buyer2"]),
    st.sampled_from([True, True, True, False]),
)
QUOTE = st.tuples(st.just("quote"), st.integers(0, 30), st.sampled_from([*FINANCIERS, "financier"]))
EXECUTE = st.tuples(st.just("execute"), st.integers(0, 30))
REPAY = st.tuples(st.just("repay"), st.integers(0, 30), st.sampled_from(["half", "all"]))
EXPIRE = st.tuples(st.just("expire"))
#: one_of picks a branch uniformly: issue, quote and execute are three times as likely as the others.
STEP = st.one_of(ISSUE, QUOTE, EXECUTE, ISSUE, QUOTE, EXECUTE, ISSUE, QUOTE, EXECUTE, REPAY, EXPIRE)


def held_by(ledger: Any, invoices: list[int], holder: str) -> list[dict[str, Any]]:
    """Financed receivables ``holder`` holds now, from the chain, with what it
    is still due of each (``open``: its exposure)."""
    out = []
    for invoice_id in invoices:
        state = ledger.invoice_state(invoice_id).as_dict()
        if (
            state["seller"] is not None
            and state["status"] in (FINANCED, PARTLY_PAID)
            and ledger.holder_of(invoice_id) == holder
        ):
            out.append({**state, "invoice_id": invoice_id, "open": state["financier_due"] - state["financier_paid"]})
    return out


def check_limits(ledger: Any, invoices: list[int], acct: Any) -> None:
    for name in FINANCIERS:
        held = held_by(ledger, invoices, acct(name).address)
        assert sum(h["open"] for h in held) <= BOOK, (name, held)
        per_buyer: dict[str, int] = defaultdict(int)
        per_supplier: dict[str, int] = defaultdict(int)
        for h in held:
            per_buyer[h["buyer"]] += h["open"]
            per_supplier[h["supplier"]] += h["open"]
        assert all(v <= BUYER_LINE for v in per_buyer.values()), (name, dict(per_buyer))
        assert all(v <= SUPPLIER_LINE for v in per_supplier.values()), (name, dict(per_supplier))


def check_concentration_after_execution(ledger: Any, invoices: list[int], financier: str, buyer: str) -> None:
    held = held_by(ledger, invoices, financier)
    book = sum(h["open"] for h in held)
    if book > SHARE_ABOVE:
        mine = sum(h["open"] for h in held if h["buyer"] == buyer)
        assert Fraction(mine, book) <= MAX_SHARE, (mine, book)


@settings(**PROFILES[PROFILE])
# A sequence that reaches the limits in any profile: buyer line 200,000.00 and 60% concentration above
# 150,000.00 of the held book; two approvals for the same buyer, executed in reverse order.
@example(
    steps=[
        ("issue", "120000.00", 45, "supplier", "buyer", True),
        ("issue", "120000.00", 90, "supplier2", "buyer", True),
        ("issue", "80000.00", 20, "supplier2", "buyer2", True),
        ("quote", 0, "financier"),
        ("quote", 1, "financier"),
        ("quote", 2, "financier"),
        ("execute", 5),
        ("execute", 1),
        ("execute", 1),
        ("repay", 0, "half"),
        ("quote", 1, "financier"),
        ("execute", 3),
        ("expire",),
        ("quote", 0, "financier2"),
        ("execute", 2),
        ("repay", 1, "all"),
        ("quote", 0, "financier"),
        ("execute", 1),
    ]
)
@given(steps=st.lists(STEP, min_size=6, max_size=16))
def test_finance_property_never_over_a_limit_never_twice(chain: Any, ledger: Any, acct: Any, steps: list[Any]) -> None:
    from ledger.db.models import Event
    from ledger.finance.models import Decision
    from ledger.finance.service import Desk

    w3 = ledger.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    workdir = tempfile.mkdtemp(prefix="scf-prop-")
    desk = Desk(replace(chain.settings, db_url=f"sqlite:///{workdir}/ledger.db"), ledger)
    try:
        invoices: list[int] = []
        decisions: list[int] = []
        approved: list[int] = []
        for step in steps:
            kind = step[0]
            if kind == "issue":
                _, amount, days, supplier, buyer, offer = step
                due = business_date(ledger.chain_time()) + dt.timedelta(days=days)
                r = ledger.issue(acct(supplier), buyer, f"P-{uuid.uuid4().hex[:12]}", amount, "HKD", due)
                invoice_id = int(r["invoice_id"])
                ledger.confirm(acct(buyer), invoice_id)
                if offer:
                    ledger.offer(acct(supplier), invoice_id, None, "1000.00", 30)
                invoices.append(invoice_id)
            elif kind == "quote" and invoices:
                invoice_id = invoices[step[1] % len(invoices)]
                d = desk.quote(invoice_id, acct(step[2]).address, POLICY)
                decisions.append(int(d["decision_id"]))
                if d["status"] == "approved":
                    approved.append(int(d["decision_id"]))
                failing = [r["name"] for r in d["rules"] if r["outcome"] == "fail"]
                event(f"quote {d['status']}" + (f" ({', '.join(failing)})" if failing else ""))
            elif kind == "execute" and decisions:
                # Mostly an approved decision (the interesting case), sometimes any decision.
                pool = approved if approved and step[1] % 4 else decisions
                decision_id = pool[step[1] % len(pool)]
                with desk.engine.connect() as conn:
                    row = conn.execute(select(Decision.__table__).where(Decision.id == decision_id)).mappings().one()
                name = FINANCIERS[[acct(n).address for n in FINANCIERS].index(row["financier"])]
                before = ledger.invoice_state(int(row["invoice_id"])).as_dict()
                try:
                    desk.execute(decision_id, acct(name))
                except LedgerError as exc:
                    event(f"execute refused: {type(exc).__name__}")
                    if "no longer fits the limits" in str(exc):
                        event("execute refused on limits")
                    # Refused or reverted: nothing moved.
                    assert ledger.invoice_state(int(row["invoice_id"])).as_dict() == before
                else:
                    event("execute succeeded")
                    assert row["status"] == "approved" and before["seller"] is None
                    after = ledger.invoice_state(int(row["invoice_id"])).as_dict()
                    # Settled as priced: due = gross advance, sold by the holder the decision saw.
                    assert (ledger.holder_of(int(row["invoice_id"])), after["seller"], after["financier_due"]) == (
                        row["financier"],
                        row["holder"],
                        int(row["advance"]),
                    )
                    check_concentration_after_execution(ledger, invoices, row["financier"], row["buyer"])
            elif kind == "repay" and invoices:
                invoice_id = invoices[step[1] % len(invoices)]
                state = ledger.invoice_state(invoice_id).as_dict()
                open_units = state["amount"] - state["paid"]
                if state["status"] in (2, FINANCED, PARTLY_PAID) and open_units > 0:
                    units = open_units if step[2] == "all" else max(1, open_units // 2)
                    ledger.repay(
                        acct("buyer" if state["buyer"] == acct("buyer").address else "buyer2"),
                        invoice_id,
                        f"{units // 100}.{units % 100:02d}",
                    )
            elif kind == "expire":
                travel(w3, 16 * 60)
            check_limits(ledger, invoices, acct)

        # Never twice: one InvoiceFinanced per invoice on chain (indexed), at most one executed
        # decision per invoice, and each executed decision is what the chain shows.
        desk.sync()
        with desk.engine.connect() as conn:
            financed = conn.execute(
                select(Event.invoice_id, func.count())
                .where(Event.event == "InvoiceFinanced")
                .group_by(Event.invoice_id)
            ).all()
            executed = conn.execute(
                select(
                    Decision.invoice_id,
                    Decision.financier,
                    Decision.net_advance,
                    Decision.advance,
                    Decision.event_id,
                    Event.args,
                )
                .join(Event, Event.id == Decision.event_id)
                .where(Decision.status == "executed")
            ).all()
            executed_count = conn.execute(
                select(func.count()).select_from(Decision).where(Decision.status == "executed")
            ).scalar_one()
        assert all(count == 1 for _, count in financed), financed
        # Every executed decision is linked to its InvoiceFinanced event (the join keeps them all).
        assert len(executed) == executed_count
        assert len({r.invoice_id for r in executed}) == len(executed), executed
        for r in executed:
            state = ledger.invoice_state(int(r.invoice_id)).as_dict()
            assert state["financier_due"] == int(r.advance)
            assert (r.args["financier"], int(r.args["advance"]), int(r.args["due"])) == (
                r.financier,
                int(r.net_advance),
                int(r.advance),
            )
    finally:
        desk.engine.dispose()
        w3.provider.make_request("evm_revert", [snapshot])
        shutil.rmtree(workdir, ignore_errors=True)


# -- settlement: nothing created or lost --------------------------------------------------------------

SETTLEMENT_POLICY = """
[eligibility]
currencies = ["HKD"]
min_tenor_days = 1
max_tenor_days = 365

[limits]
book = "100000000.00"
buyer_default = "100000000.00"
supplier_default = "100000000.00"

[pricing]
day_count = "{day_count}"
base_rate = "{base_rate}"
fee_fixed = "{fee_fixed}"
fee_rate = "{fee_rate}"

[grading]
no_history = "A"

[grades.A]
advance_rate = "{advance_rate}"
spread = "{spread}"
"""
#: A rate as basis points: 1 = 0.01%.
BPS = st.integers(0, 2_000).map(lambda n: f"{n / 10_000:.4f}")
PRICES = st.fixed_dictionaries(
    {
        "day_count": st.sampled_from(["ACT/360", "ACT/365"]),
        "base_rate": BPS,
        "spread": BPS,
        "fee_fixed": st.integers(0, 50_000).map(lambda u: f"{u // 100}.{u % 100:02d}"),
        "fee_rate": st.integers(0, 100).map(lambda n: f"{n / 10_000:.4f}"),
        "advance_rate": st.integers(1, 10_000).map(lambda n: f"{n / 10_000:.4f}"),
    }
)


def _major(units: int) -> str:
    return f"{units // 100}.{units % 100:02d}"


@settings(**PROFILES[PROFILE])
# A reserve that is released by the payment that completes the financier's due, of a partly paid invoice.
@example(
    face=12_345_678,
    paid_before=345_678,
    days=45,
    prices={
        "day_count": "ACT/365",
        "base_rate": "0.0450",
        "spread": "0.0250",
        "fee_fixed": "250.00",
        "fee_rate": "0.0010",
        "advance_rate": "0.9000",
    },
    weights=[60, 100, 50],
    pay_all=True,
)
@given(
    face=st.integers(100_000, 50_000_000),
    paid_before=st.integers(0, 40_000),
    days=st.integers(10, 120),
    prices=PRICES,
    weights=st.lists(st.integers(1, 100), min_size=1, max_size=5),
    pay_all=st.booleans(),
)
def test_finance_property_settlement_creates_and_loses_nothing(
    chain: Any,
    ledger: Any,
    acct: Any,
    face: int,
    paid_before: int,
    days: int,
    prices: dict[str, str],
    weights: list[int],
    pay_all: bool,
) -> None:
    from ledger.db.models import Invoice, Repayment
    from ledger.finance.reports import portfolio_report
    from ledger.finance.service import Desk

    w3 = ledger.w3
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    workdir = tempfile.mkdtemp(prefix="scf-settle-")
    desk = Desk(replace(chain.settings, db_url=f"sqlite:///{workdir}/ledger.db"), ledger)
    currency = ledger.deployment.currency("HKD")
    token = ledger.token(currency)
    supplier, buyer, financier = acct("supplier"), acct("buyer"), acct("financier")

    def units(account: Any) -> int:
        return int(token.functions.balanceOf(account.address).call())

    try:
        due_date = business_date(ledger.chain_time()) + dt.timedelta(days=days)
        invoice_id = int(
            ledger.issue(supplier, "buyer", f"S-{uuid.uuid4().hex[:12]}", _major(face), "HKD", due_date)["invoice_id"]
        )
        ledger.confirm(buyer, invoice_id)
        if paid_before:
            ledger.repay(buyer, invoice_id, _major(paid_before))
        ledger.offer(supplier, invoice_id, None, "0.01", 7)
        d = desk.quote(invoice_id, financier.address, parse_policy(SETTLEMENT_POLICY.format(**prices), "s.toml"))
        if d["status"] != "approved":
            # Only a price that pays nothing is declined here.
            assert [r["name"] for r in d["rules"] if r["outcome"] == "fail"] == ["price"], d["reason"]
            event("declined: the price pays nothing")
            return
        event("financed")
        open_units = face - paid_before
        gross = int(Decimal(d["price"]["advance"]) * 100)
        net = int(Decimal(d["price"]["net_advance"]) * 100)
        reserve = int(Decimal(d["price"]["reserve"]) * 100)
        assert 0 < net <= gross <= open_units and gross + reserve == open_units

        before = {a.address: units(a) for a in (supplier, buyer, financier)}
        desk.execute(d["decision_id"], financier)
        assert units(supplier) - before[supplier.address] == net
        assert before[financier.address] - units(financier) == net
        state = ledger.invoice_state(invoice_id).as_dict()
        assert (state["financier_due"], state["financier_paid"], state["paid"], state["seller"]) == (
            gross,
            0,
            paid_before,
            supplier.address,
        )

        # The buyer pays in parts (all of it, or not quite all); each payment is split by the waterfall.
        remaining = open_units - (0 if pay_all else 1)
        payments = []
        for i, w in enumerate(weights):
            part = remaining if (i == len(weights) - 1) else max(1, remaining * w // 100)
            part = min(part, remaining)
            if part <= 0:
                break
            payments.append(part)
            remaining -= part
        to_financier = to_seller = 0
        for part in payments:
            b = {a.address: units(a) for a in (supplier, buyer, financier)}
            ledger.repay(buyer, invoice_id, _major(part))
            got_f = units(financier) - b[financier.address]
            got_s = units(supplier) - b[supplier.address]
            assert b[buyer.address] - units(buyer) == part == got_f + got_s  # nothing created or lost
            assert got_f == min(part, gross - to_financier)  # the financier first, up to its due
            to_financier += got_f
            to_seller += got_s
        paid = sum(payments)
        assert to_financier + to_seller == paid
        assert to_financier <= gross and to_seller <= reserve
        if paid == open_units:
            assert (to_financier, to_seller) == (gross, reserve)
        state = ledger.invoice_state(invoice_id).as_dict()
        assert (state["financier_paid"], state["paid"]) == (to_financier, paid_before + paid)

        # The same figures through the indexer into the database and the portfolio report.
        desk.sync()
        with desk.engine.connect() as conn:
            inv = conn.execute(select(Invoice.__table__).where(Invoice.invoice_id == invoice_id)).mappings().one()
            reps = conn.execute(select(Repayment.__table__).where(Repayment.invoice_id == invoice_id)).mappings().all()
            report = portfolio_report(conn, desk.scope, financier.address)
        assert (inv["seller"], inv["financier_due"], inv["financier_paid"], inv["reserve_released"]) == (
            supplier.address,
            gross,
            to_financier,
            to_seller,
        )
        assert inv["outstanding"] == open_units - paid
        assert inv["outstanding"] == (gross - to_financier) + (reserve - to_seller)
        assert sum(int(r["to_payee"]) for r in reps) == paid_before + to_financier
        assert sum(int(r["to_seller"]) for r in reps) == to_seller
        assert all(int(r["to_payee"]) + int(r["to_seller"]) == int(r["amount"]) for r in reps)
        [line] = report["invoices"]
        [row] = report["rows"]

        def cents(text: str) -> int:
            return int(Decimal(text) * 100)

        for shown in (line, row):
            assert (
                cents(shown["advanced"]),
                cents(shown["due"]),
                cents(shown["received"]),
                cents(shown["outstanding"]),
                cents(shown["reserve_at_financing"]),
                cents(shown["reserve_released"]),
                cents(shown["reserve_held"]),
            ) == (net, gross, to_financier, gross - to_financier, reserve, to_seller, reserve - to_seller)
            assert cents(shown["open_at_financing"]) == open_units
        assert cents(row["collected"]) == paid
    finally:
        desk.engine.dispose()
        w3.provider.make_request("evm_revert", [snapshot])
        shutil.rmtree(workdir, ignore_errors=True)
