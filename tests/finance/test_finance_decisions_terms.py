"""The financing terms a decision prices (contracts version 4): recourse and the grace period.

A quote records them (``pricing.recourse``; ``pricing.grace_days``, else the deployment's grace
period as indexed at the decision's block) in its ``financing_terms`` rule, shown as ``terms`` by
`finance show` and ``--json``; recourse needs a listing that accepts it and, as the contract
requires, at least the deployment's grace period; execute and auto send exactly the recorded
terms, whatever the operator set the deployment's grace period to after the quote. Pure rule
tests (no chain) first, then the real chain and both databases."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update
from support.finance import EXAMPLE, POLICY, SUPPLIER_NAME, Book

from ledger.cli import main
from ledger.errors import PolicyError
from ledger.finance.facts import InvoiceFacts, PartyFacts
from ledger.finance.grading import PaymentStats
from ledger.finance.policy import Policy, parse_policy
from ledger.finance.rules import Exposure, evaluate, rule_consent

DAY = 86_400
WEEK = 7 * DAY  # the deployment's grace period of the test network (config grace_period_days, default 7)


def policy_with(pricing: str, source: str = "terms.toml") -> Policy:
    """The example policy with ``pricing`` lines added to its [pricing] table."""
    text = EXAMPLE.read_text()
    anchor = 'fee_rate = "0.0010"             # of the advance\n'
    assert anchor in text
    return parse_policy(text.replace(anchor, anchor + pricing + "\n", 1), source)


RECOURSE = policy_with("recourse = true\ngrace_days = 10", "recourse.toml")
RECOURSE_DEPLOYMENT_GRACE = policy_with("recourse = true", "recourse-deployment.toml")


# -- the policy fields -------------------------------------------------------------------------------

#: A policy file of before the financing terms (as test_finance_policy's minimal one).
MINIMAL = """
[eligibility]
currencies = ["HKD"]
max_tenor_days = 90

[limits]
book = "1000000.00"

[pricing]
day_count = "ACT/360"
base_rate = "5%"

[grades.A]
advance_rate = 0.9
spread = "0.01"
"""


def test_finance_terms_policy_old_file_keeps_its_hash() -> None:
    """Left out, the new fields mean what the file meant before (no recourse, the deployment's
    grace): the canonical content has no new key, so the hash is the one it had."""
    old = parse_policy(MINIMAL)
    assert (old.pricing.recourse, old.pricing.grace_days, old.pricing.grace_seconds) == (False, None, None)
    canonical = old.canonical()
    assert sorted(canonical["pricing"]) == ["base_rate", "day_count", "fee_fixed", "fee_rate"]
    # The hash as it was computed before the fields existed: SHA-256 of the sorted compact JSON.
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    assert old.hash == hashlib.sha256(text.encode()).hexdigest()
    assert '"pricing":{"base_rate":"0.05","day_count":"ACT/360","fee_fixed":"0","fee_rate":"0"}' in text
    # Writing out the default changes no meaning, so no hash; the example documents the fields as comments.
    assert parse_policy(MINIMAL.replace('base_rate = "5%"', 'base_rate = "5%"\nrecourse = false')).hash == old.hash
    assert sorted(POLICY.canonical()["pricing"]) == ["base_rate", "day_count", "fee_fixed", "fee_rate"]
    # Setting one is a change of meaning.
    recourse = parse_policy(MINIMAL.replace('base_rate = "5%"', 'base_rate = "5%"\nrecourse = true'))
    grace = parse_policy(MINIMAL.replace('base_rate = "5%"', 'base_rate = "5%"\ngrace_days = 7'))
    assert recourse.pricing.recourse and recourse.canonical()["pricing"]["recourse"] is True
    assert grace.pricing.grace_seconds == 604_800 and grace.canonical()["pricing"]["grace_days"] == 7
    assert len({old.hash, recourse.hash, grace.hash}) == 3
    assert (RECOURSE.pricing.recourse, RECOURSE.pricing.grace_days) == (True, 10)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('recourse = "yes"', 'pricing.recourse must be true or false, got "yes"'),
        ("recourse = 1", "pricing.recourse must be true or false, got 1"),
        ("grace_days = 366", "pricing.grace_days must be a whole number of days, from 0 to 365, got 366"),
        ("grace_days = -1", "pricing.grace_days must be a whole number of days, from 0 to 365, got -1"),
        ('grace_days = "7"', 'pricing.grace_days must be a whole number of days, from 0 to 365, got "7"'),
        ("grace_days = 7.5", "pricing.grace_days must be a whole number of days, from 0 to 365, got 7.5"),
    ],
)
def test_finance_terms_policy_bad_field_gives_its_one_line_error(line: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        policy_with(line, "bad.toml")
    assert str(info.value) == f"bad.toml: {message}"


def test_finance_terms_policy_grace_bounds_are_inclusive() -> None:
    assert policy_with("grace_days = 0").pricing.grace_seconds == 0
    assert policy_with("grace_days = 365").pricing.grace_seconds == 31_536_000  # the contract's MAX_GRACE_PERIOD


# -- the rules (no chain) ---------------------------------------------------------------------------

AS_OF = dt.datetime(2026, 1, 1, 9, 30, tzinfo=dt.UTC)
FAR = dt.datetime(2029, 1, 1, tzinfo=dt.UTC)
SUPPLIER = PartyFacts("0x" + "51" * 20, SUPPLIER_NAME, True, False, FAR, roles=1)
BUYER = PartyFacts("0x" + "b1" * 20, "Tsuen Wan Electronics Ltd", True, False, FAR, roles=2)
FINANCIER = "0x" + "f1" * 20
# HKD 100,000.00 due 60 days after AS_OF, listed for any financier asking HKD 80,000.00, accepting recourse.
LISTED = InvoiceFacts(
    invoice_id=7,
    status="Confirmed",
    supplier=SUPPLIER.address,
    buyer=BUYER.address,
    holder=SUPPLIER.address,
    financier=None,
    currency="HKD",
    decimals=2,
    amount=10_000_000,
    outstanding=10_000_000,
    due_date=dt.date(2026, 3, 2),
    offer_financier=None,
    offer_min_advance=8_000_000,
    offer_expires=dt.datetime(2026, 1, 8, tzinfo=dt.UTC),
    offer_recourse=True,
)


def _with(**change: Any) -> InvoiceFacts:
    return dataclasses.replace(LISTED, **change)


def _evaluate(policy: Policy, invoice: InvoiceFacts = LISTED, deployment_grace: int | None = WEEK) -> Any:
    return evaluate(
        policy=policy,
        invoice=invoice,
        supplier=SUPPLIER,
        buyer=BUYER,
        financier=FINANCIER,
        stats=PaymentStats(0, 0, 0, 0, 0, 0, 0, 0),
        exposure=Exposure(0, 0, 0),
        as_of=AS_OF,
        deployment_grace=deployment_grace,
    )


def test_finance_terms_rule_records_recourse_and_the_grace_it_prices() -> None:
    ev = _evaluate(RECOURSE)
    assert ev.approved, ev.summary()
    rules = {r.name: r for r in ev.rules}
    names = [r.name for r in ev.rules]
    assert names.index("financing_terms") == names.index("holder_consent") + 1
    terms = rules["financing_terms"]
    assert terms.inputs == {
        "recourse": True,
        "grace_seconds": 864_000,  # 10 days x 86,400
        "grace_days": "10",
        "grace_from": "policy",
        "policy_grace_days": 10,
        "deployment_grace_seconds": 604_800,
    }
    assert terms.reason == (
        "with recourse to the seller, 10 days of grace after the due date before a default "
        "(the policy's; the deployment's is 7 days)"
    )
    assert rules["holder_consent"].reason.endswith(", asking at least HKD 80,000.00, accepting recourse")
    assert (rules["holder_consent"].inputs["recourse"], rules["holder_consent"].inputs["offer_recourse"]) == (
        True,
        True,
    )
    # No grace in the policy: the deployment's, as indexed.
    plain = {r.name: r for r in _evaluate(POLICY, deployment_grace=3 * DAY).rules}["financing_terms"]
    assert (plain.passed, plain.inputs["recourse"], plain.inputs["grace_seconds"], plain.inputs["grace_from"]) == (
        True,
        False,
        259_200,
        "deployment",
    )
    assert plain.reason == "without recourse, 3 days of grace after the due date before a default (the deployment's)"


def test_finance_terms_rule_declines_a_listing_without_recourse_under_a_recourse_policy() -> None:
    for offer_recourse in (False, None):
        ev = _evaluate(RECOURSE, invoice=_with(offer_recourse=offer_recourse))
        assert not ev.approved
        assert [(r.name, r.reason) for r in ev.failures] == [
            (
                "holder_consent",
                "the holder's listing does not accept recourse, which the policy requires (pricing.recourse); "
                "the holder can list it again accepting recourse",
            )
        ]
    # Without recourse in the policy, a listing that accepts it is consent to a financing without.
    assert _evaluate(POLICY, invoice=_with(offer_recourse=True)).approved
    assert _evaluate(POLICY, invoice=_with(offer_recourse=False)).approved


def test_finance_terms_rule_recourse_needs_at_least_the_deployments_grace() -> None:
    short = policy_with("recourse = true\ngrace_days = 6")
    ev = _evaluate(short)
    assert [(r.name, r.reason) for r in ev.failures] == [
        (
            "financing_terms",
            "a financing with recourse must give the seller at least the deployment's grace period of 7 days, "
            "but pricing.grace_days gives 6 days",
        )
    ]
    # Exactly the deployment's passes; without recourse any grace may be agreed (the contract's rule too).
    assert _evaluate(policy_with("recourse = true\ngrace_days = 7")).approved
    loose = {r.name: r for r in _evaluate(policy_with("grace_days = 0")).rules}["financing_terms"]
    assert loose.passed and loose.inputs["grace_seconds"] == 0
    assert loose.reason == (
        "without recourse, 0 days of grace after the due date before a default (the policy's; the deployment's "
        "is 7 days)"
    )


def test_finance_terms_rule_fails_when_the_deployments_grace_is_not_indexed() -> None:
    def reason(policy: Policy) -> list[tuple[str, str]]:
        return [(r.name, r.reason) for r in _evaluate(policy, deployment_grace=None).failures]

    assert reason(POLICY) == [
        (
            "financing_terms",
            "the deployment's grace period is not indexed (set pricing.grace_days); run `scf index sync` "
            "(contracts before version 4 have none)",
        )
    ]
    assert reason(RECOURSE) == [
        (
            "financing_terms",
            "the deployment's grace period is not indexed (its grace cannot be checked against it); run "
            "`scf index sync` (contracts before version 4 have none)",
        )
    ]
    assert reason(policy_with("grace_days = 5")) == []  # no recourse, a grace of its own: nothing to check


def test_finance_terms_consent_default_is_without_recourse() -> None:
    """rule_consent without the recourse argument checks no recourse (a financing without)."""
    rule = rule_consent(_with(offer_recourse=False), FINANCIER, 8_862_438, AS_OF)
    assert rule.passed and rule.inputs["recourse"] is False


# -- on the chain, both databases ----------------------------------------------------------------------


def set_grace(book: Book, acct: Any, seconds: int) -> None:
    """The operator changes the deployment's grace period (``setGracePeriod``)."""
    ledger = book.ledger
    ledger.sender.transact(ledger.invoices.functions.setGracePeriod(seconds), acct("operator"))
    assert ledger.grace_period() == seconds


def _financed_event_args(desk: Any, event_id: int) -> dict[str, Any]:
    from ledger.db.models import Event

    with desk.engine.connect() as conn:
        args = conn.execute(select(Event.args).where(Event.id == event_id)).scalar_one()
    return dict(args)


def test_finance_terms_recourse_decision_is_executed_on_its_terms_after_the_grace_changed(
    desk: Any, book: Book, acct: Any
) -> None:
    financier = acct("financier").address
    assert book.ledger.grace_period() == WEEK
    invoice_id = book.issue("100000.00", days=60, recourse=True)
    decision = desk.quote(invoice_id, financier, RECOURSE)
    assert decision["status"] == "approved", decision["reason"]
    assert decision["terms"] == {"recourse": True, "grace_seconds": 864_000, "grace_days": "10"}
    terms = {r["name"]: r for r in decision["rules"]}["financing_terms"]
    assert terms["inputs"]["deployment_grace_seconds"] == 604_800  # indexed from GracePeriodChanged
    # Same price as without recourse (recourse is a term, not a price): 88,624.38 paid now (see test_finance_decisions).
    assert decision["price"]["net_advance"] == "88624.38"

    # The operator shortens the deployment's grace after the quote: the decision's 10 days stand.
    set_grace(book, acct, 3 * DAY)
    done = desk.execute(decision["decision_id"], acct("financier"))
    assert done["status"] == "executed" and done["terms"] == decision["terms"]
    state = book.ledger.invoice_state(invoice_id)
    assert (state.recourse, state.grace_period, state.financier_due, state.seller) == (
        True,
        864_000,
        9_000_000,
        acct("supplier").address,
    )
    assert done["transaction"]["recourse"] is True and done["transaction"]["grace_days"] == "10"
    args = _financed_event_args(desk, done["event_id"])
    assert (args["recourse"], int(args["gracePeriod"])) == (True, 864_000)


def test_finance_terms_deployment_grace_is_fixed_at_quote_time(desk: Any, book: Book, acct: Any) -> None:
    """No grace in the policy: the deployment's as indexed when quoted (7 days), not the 14 days
    the operator set before execution (the reviewer's finding: it used to be read at send time)."""
    financier = acct("financier").address
    invoice_id = book.issue("100000.00", days=60)
    decision = desk.quote(invoice_id, financier, POLICY)
    assert decision["status"] == "approved", decision["reason"]
    assert decision["terms"] == {"recourse": False, "grace_seconds": 604_800, "grace_days": "7"}
    set_grace(book, acct, 14 * DAY)
    done = desk.execute(decision["decision_id"], acct("financier"))
    state = book.ledger.invoice_state(invoice_id)
    assert (state.recourse, state.grace_period) == (False, 604_800)
    assert int(_financed_event_args(desk, done["event_id"])["gracePeriod"]) == 604_800
    # A later quote sees the new deployment grace (indexed): 14 days.
    later = book.issue("100000.00", days=60)
    assert desk.quote(later, financier, POLICY)["terms"]["grace_seconds"] == 1_209_600


def test_finance_terms_recourse_policy_declines_a_listing_without_recourse(desk: Any, book: Book, acct: Any) -> None:
    from ledger.finance import store
    from ledger.finance.service import DecisionRefused

    financier = acct("financier").address
    invoice_id = book.issue("100000.00", days=60)  # listed without recourse
    decision = desk.quote(invoice_id, financier, RECOURSE)
    assert decision["status"] == "declined"
    failing = [(r["name"], r["reason"]) for r in decision["rules"] if r["outcome"] == "fail"]
    assert failing == [
        (
            "holder_consent",
            "the holder's listing does not accept recourse, which the policy requires (pricing.recourse); "
            "the holder can list it again accepting recourse",
        )
    ]
    assert decision["terms"] == {"recourse": True, "grace_seconds": 864_000, "grace_days": "10"}
    head = book.ledger.w3.eth.block_number
    with desk.engine.connect() as conn:
        before = store.get_decision(conn, decision["decision_id"])
    with pytest.raises(DecisionRefused) as info:
        desk.execute(decision["decision_id"], acct("financier"))
    assert str(info.value).startswith(
        f"decision {decision['decision_id']} was declined, so it cannot be executed (the holder's listing does "
        "not accept recourse"
    )
    # Refused: nothing sent, nothing stored.
    assert book.ledger.w3.eth.block_number == head
    with desk.engine.connect() as conn:
        assert store.get_decision(conn, decision["decision_id"]) == before
    assert book.onchain(invoice_id)["status"] == 2
    # Listed again accepting recourse, it is approved.
    book.offer(invoice_id, None, "10000.00", recourse=True)
    assert desk.quote(invoice_id, financier, RECOURSE)["status"] == "approved"


def test_finance_terms_recourse_grace_below_the_deployments_is_declined(desk: Any, book: Book, acct: Any) -> None:
    financier = acct("financier").address
    invoice_id = book.issue("100000.00", days=60, recourse=True)
    decision = desk.quote(invoice_id, financier, policy_with("recourse = true\ngrace_days = 5"))
    assert decision["status"] == "declined"
    assert decision["reason"] == (
        "declined: a financing with recourse must give the seller at least the deployment's grace period of "
        "7 days, but pricing.grace_days gives 5 days"
    )


def test_finance_terms_auto_sends_the_recorded_terms(desk: Any, book: Book, acct: Any) -> None:
    financier = acct("financier").address
    invoice_id = book.issue("100000.00", days=60, recourse=True)
    dry = desk.auto(financier, None, RECOURSE_DEPLOYMENT_GRACE, dry_run=True)
    assert [(r["invoice_id"], r["status"]) for r in dry["results"]] == [(invoice_id, "would approve")]
    result = desk.auto(financier, acct("financier"), RECOURSE_DEPLOYMENT_GRACE)
    [entry] = result["results"]
    assert entry["status"] == "executed", entry["reason"]
    with desk.engine.connect() as conn:
        from ledger.finance import store

        record = store.decision_record(store.get_decision(conn, entry["decision_id"]))
    assert record["terms"] == {"recourse": True, "grace_seconds": 604_800, "grace_days": "7"}
    state = book.ledger.invoice_state(invoice_id)
    assert (state.recourse, state.grace_period) == (True, 604_800)


def test_finance_terms_decision_without_recorded_terms_is_refused(desk: Any, book: Book, acct: Any) -> None:
    """An approval stored before decisions recorded their terms is not executed on guessed ones."""
    from ledger.finance import store
    from ledger.finance.service import DecisionRefused

    invoice_id = book.issue("100000.00", days=60)
    decision = desk.quote(invoice_id, acct("financier").address, POLICY)
    rules = [r for r in decision["rules"] if r["name"] != "financing_terms"]
    with desk.engine.begin() as conn:
        conn.execute(update(store.DECISIONS).where(store.DECISIONS.c.id == decision["decision_id"]).values(rules=rules))
        assert store.decision_record(store.get_decision(conn, decision["decision_id"]))["terms"] is None
    head = book.ledger.w3.eth.block_number
    with pytest.raises(DecisionRefused) as info:
        desk.execute(decision["decision_id"], acct("financier"))
    assert str(info.value) == (
        f"decision {decision['decision_id']} recorded no financing terms (recourse, grace period), so it cannot be "
        f"executed on them; quote invoice {invoice_id} again with `scf finance quote {invoice_id}`"
    )
    assert book.ledger.w3.eth.block_number == head and book.onchain(invoice_id)["status"] == 2


# -- the CLI ------------------------------------------------------------------------------------------


@pytest.fixture()
def cli(home_copy: Any, db_url: str) -> Any:
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(
            main, ["--home", str(home_copy.home), "--rpc-url", home_copy.rpc_url, "--db-url", db_url, *args]
        )

    return run


def test_finance_terms_cli_show_and_json(cli: Any, book: Book, acct: Any, tmp_path: Any) -> None:
    path = tmp_path / "recourse.toml"
    path.write_text(
        EXAMPLE.read_text().replace(
            'fee_rate = "0.0010"             # of the advance\n',
            'fee_rate = "0.0010"             # of the advance\nrecourse = true\ngrace_days = 10\n',
        )
    )
    invoice_id = book.issue("100000.00", days=60, recourse=True)
    quoted = cli("finance", "quote", str(invoice_id), "--as", "financier", "--policy", str(path))
    assert quoted.exit_code == 0, quoted.output
    assert (
        "  terms: with recourse to the seller, 10 days of grace after the due date before a default\n" in quoted.output
    )
    assert (
        "  ok   financing_terms: with recourse to the seller, 10 days of grace after the due date before a default "
        "(the policy's; the deployment's is 7 days)\n" in quoted.output
    )
    shown = cli("finance", "show", "1", "--json")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["terms"] == {"recourse": True, "grace_seconds": 864_000, "grace_days": "10"}
    listed = cli("finance", "list", "--csv")
    header, row = listed.output.splitlines()[:2]
    assert ",net_advance,recourse,grace_days," in header and ",88624.38,true,10," in row
    done = cli("finance", "execute", "1")
    assert done.exit_code == 0, done.output
    assert "), with recourse to the seller, 10 days of grace after the due date before a default; due to you " in (
        done.output
    )
    assert book.ledger.invoice_state(invoice_id).grace_period == 864_000
