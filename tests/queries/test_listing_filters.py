"""The read side behind `scf invoice list` (its filters and listing column),
`scf invoice overdue` and `scf events`, on the indexed scenario of
tests/support/scenario.py (SQLite and PostgreSQL):

1 financed (listed to the financier shortly before, financed at
``financed``) and partly paid, due 2099-01-31; 2 confirmed, due 2098-06-30;
3 cancelled, due 2099-03-01; 4 paid in full, due 2097-12-31."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from support.scenario import BUYER, BUYER2, FINANCIER, SUPPLIER, Scenario, index

from ledger import history, queries
from ledger.errors import InputError

UTC = dt.UTC


@contextmanager
def read(indexed: Any) -> Iterator[tuple[Any, Any]]:
    with queries.read_db(indexed.settings) as found:
        yield found


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return [r["invoice_id"] for r in rows]


def listed(conn: Any, scope: Any, names: Any, **filters: Any) -> list[int]:
    """Invoice ids the `scf invoice list` filter built from ``filters`` selects (now, and replayed at the end)."""
    flt = queries.resolve_filter(names, None, None, None, None, filters.pop("due_before", None), None, **filters)
    now = ids(queries.list_invoices(conn, scope, flt, None, names))
    replayed = ids(queries.list_invoices(conn, scope, flt, scope.indexed_block, names))
    assert now == replayed, "the live projection and the replayed past filter alike"
    return now


def test_listing_filters_financier_currency_and_due_range(indexed: Any) -> None:
    with read(indexed) as (conn, scope):
        names = queries.directory(conn, scope)
        hkd = queries.currency_address(scope, "hkd")
        assert hkd == queries.currency_address(scope, " HKD ")
        assert listed(conn, scope, names, financier=FINANCIER) == [1]
        assert listed(conn, scope, names, financier="financier2") == [], "a financier that financed nothing"
        assert listed(conn, scope, names, currency=hkd) == [1, 2, 3, 4]
        # Strict at both ends, like --due-before.
        assert listed(conn, scope, names, due_after=dt.date(2098, 6, 30)) == [1, 3]
        assert listed(conn, scope, names, due_after=dt.date(2098, 6, 29)) == [1, 2, 3]
        assert listed(conn, scope, names, due_after=dt.date(2098, 1, 1), due_before=dt.date(2099, 2, 1)) == [1, 2]
        assert listed(conn, scope, names, due_after=dt.date(2097, 12, 30), due_before=dt.date(2098, 1, 1)) == [4]
        assert listed(conn, scope, names, financier=FINANCIER, due_after=dt.date(2099, 1, 31)) == []


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (
            {"due_after": dt.date(2099, 1, 1), "due_before": dt.date(2099, 1, 2)},
            "no due date is after 2099-01-01 and before 2099-01-02 (both are strict); widen the range",
        ),
        (
            {"due_after": dt.date(2099, 1, 5), "due_before": dt.date(2099, 1, 1)},
            "no due date is after 2099-01-05 and before 2099-01-01 (both are strict); widen the range",
        ),
        ({"financier": "Nobody Ltd"}, "unknown financier 'Nobody Ltd'"),
    ],
)
def test_listing_filters_refuse_what_can_match_nothing_or_no_one(
    indexed: Any, filters: dict[str, Any], message: str
) -> None:
    with read(indexed) as (conn, scope):
        names = queries.directory(conn, scope)
        filters = dict(filters)
        due_before = filters.pop("due_before", None)
        with pytest.raises(InputError) as err:
            queries.resolve_filter(names, None, None, None, None, due_before, None, **filters)
        assert str(err.value).startswith(message)


def test_listing_filters_unknown_currency_names_the_known_ones(indexed: Any) -> None:
    with read(indexed) as (_conn, scope), pytest.raises(InputError) as err:
        queries.currency_address(scope, "USD")
    assert str(err.value) == "unknown currency 'USD'; this deployment settles in: HKD"


def test_listing_filters_overdue_is_open_unpaid_and_past_the_due_day(indexed: Any) -> None:
    """Open (Confirmed, Financed, PartiallyPaid) with something unpaid, and
    the judging day after the due date: the Paid 4 and the Cancelled 3 never
    are; due D is 1 day past due on D+1 and not on D."""
    with read(indexed) as (conn, scope):
        names = queries.directory(conn, scope)
        assert listed(conn, scope, names, overdue_on=dt.date(2099, 12, 31)) == [1, 2]
        assert listed(conn, scope, names, overdue_on=dt.date(2099, 1, 31)) == [2], "due that day: not yet"
        assert listed(conn, scope, names, overdue_on=dt.date(2099, 2, 1)) == [1, 2]
        assert listed(conn, scope, names, overdue_on=dt.date(2098, 6, 30)) == []
        assert listed(conn, scope, names, overdue_on=dt.date(2099, 2, 1), financier=FINANCIER) == [1]

        rows = queries.overdue_invoices(conn, scope, dt.date(2099, 2, 15), names)
        assert [(r["invoice_id"], r["days_past_due"], r["outstanding"]) for r in rows] == [
            (2, 230, "80000.00"),
            (1, 15, "99999.90"),
        ], "most days past due first"
        two, one = rows
        assert two["holder"] == {"address": two["supplier"]["address"], "name": SUPPLIER}
        assert (two["buyer"]["name"], two["financed"], two["due"], two["currency"]) == (
            BUYER2,
            False,
            "2098-06-30",
            "HKD",
        )
        assert (one["holder"]["name"], one["buyer"]["name"], one["financed"]) == (FINANCIER, BUYER, True)
        assert queries.overdue_invoices(conn, scope, dt.date(2098, 6, 30), names) == []
        assert [r["days_past_due"] for r in queries.overdue_invoices(conn, scope, dt.date(2098, 7, 1))] == [1]


def test_listing_filters_overdue_day_is_the_later_of_the_indexed_head_and_now(indexed: Any, scenario: Scenario) -> None:
    with read(indexed) as (conn, scope):
        head = queries.block_time(conn, scope.chain_id, scenario.end)
        assert head is not None
        # A wall clock behind the chain: the chain's time counts (and the day is the business date, UTC+8).
        late_evening_utc = dt.datetime(2000, 1, 1, 20, 0, tzinfo=UTC)
        assert queries.ledger_time(conn, scope, now=late_evening_utc) == head
        # A wall clock ahead of an idle chain: now counts; 20:00 UTC is the next day in Hong Kong.
        ahead = dt.datetime(2099, 2, 14, 20, 0, tzinfo=UTC)
        assert queries.ledger_time(conn, scope, now=ahead) == ahead
        assert queries.overdue_day(conn, scope, now=ahead) == dt.date(2099, 2, 15)
        assert queries.overdue_day(conn, scope, dt.date(2099, 3, 1), now=ahead) == dt.date(2099, 3, 1), "given"
        # At block N: that block's time, whatever the clock.
        at_issue = queries.block_time(conn, scope.chain_id, scenario.issued)
        assert queries.ledger_time(conn, scope, scenario.issued, now=ahead) == at_issue


def test_listing_filters_listing_column_as_the_contract_judges_it(indexed: Any, scenario: Scenario) -> None:
    """Invoice 1 was listed to the financier for 7 days before it was
    financed; financing ended the listing."""
    # The listing's own block (the financing may or may not need an ERC-20 approval before it).
    (offered,) = trail(indexed, types=["FinancingOffered"], invoice_id=1)
    listed_at = offered["block"]
    assert listed_at < scenario.financed
    with read(indexed) as (conn, scope):
        names = queries.directory(conn, scope)
        flt = queries.InvoiceFilter(number="INVQ1")
        then = queries.list_invoices(conn, scope, flt, listed_at, names)[0]
        assert then["listed"] is True
        assert (then["offer_to"], then["offer_to_name"], then["offer_asking"]) == (
            names.resolve(FINANCIER, "financier"),
            FINANCIER,
            "100000.00",
        )
        until = dt.datetime.fromisoformat(then["offer_until"])
        listed_time = queries.block_time(conn, scope.chain_id, listed_at)
        # The expiry the listing's event holds: 7 days from the later of the chain's last block time and
        # the wall clock when it was sent (the dev chain's clock can trail the wall clock by a few seconds).
        assert until == dt.datetime.fromisoformat(offered["args"]["expiry"])
        assert listed_time is not None
        assert dt.timedelta(days=7) - dt.timedelta(hours=1) <= until - listed_time <= dt.timedelta(days=7, hours=1)
        assert queries.list_invoices(conn, scope, flt, listed_at - 1, names)[0]["listed"] is False, "before it"
        now = queries.list_invoices(conn, scope, flt, None, names)[0]
        assert {k: now[k] for k in ("listed", "offer_to", "offer_to_name", "offer_until", "offer_asking")} == {
            "listed": False,
            "offer_to": None,
            "offer_to_name": None,
            "offer_until": None,
            "offer_asking": None,
        }, "financing ended the listing"
        # The same stored listing, judged a second after its expiry: lapsed.
        replayed = queries._invoice_rows(conn, scope, flt, listed_at)[0]
        expired = replayed["offer_expires_at"] + dt.timedelta(seconds=1)
        assert queries.listing_figures(replayed, scope, names, replayed["offer_expires_at"])["listed"] is True
        assert queries.listing_figures(replayed, scope, names, expired)["listed"] is False


def test_listing_filters_listing_to_any_financier(indexed: Any, ledger: Any, acct: Any) -> None:
    ledger.offer(acct("supplier"), 2, None, "60000.00", 3)
    index(indexed.settings)
    with read(indexed) as (conn, scope):
        row = {r["invoice_id"]: r for r in queries.list_invoices(conn, scope, queries.InvoiceFilter())}[2]
    assert (row["listed"], row["offer_to"], row["offer_to_name"], row["offer_asking"]) == (True, None, None, "60000.00")


# -- the audit trail ----------------------------------------------------------------------------------------
def trail(indexed: Any, **filters: Any) -> list[dict[str, Any]]:
    with read(indexed) as (conn, scope):
        return history.ledger_events(conn, scope, history.EventFilter(**filters))


def test_listing_filters_events_oldest_first_over_every_contract(indexed: Any, scenario: Scenario) -> None:
    events = trail(indexed)
    positions = [(e["block"], e["log_index"]) for e in events]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert {e["contract"]["name"] for e in events} == {"ParticipantRegistry", "InvoiceToken", "SettlementToken:HKD"}
    assert events[-1]["block"] == scenario.end
    for e in events:
        assert e["tx_hash"].startswith("0x") and len(e["tx_hash"]) == 66
        assert dt.datetime.fromisoformat(e["time"]).tzinfo is not None
        assert e["summary"]
    financed = next(e for e in events if e["event"] == "InvoiceFinanced")
    assert (financed["invoice_id"], financed["amount"], financed["currency"]) == (1, "112500.00", "HKD")
    assert [p["name"] for p in financed["parties"]] == [SUPPLIER, FINANCIER], "seller, then financier"
    # The advance as the token saw it, in the same transaction.
    paid = [e for e in events if e["tx_hash"] == financed["tx_hash"] and e["contract"]["name"].startswith("Settle")]
    assert [(e["event"], e["amount"], e["summary"]) for e in paid] == [
        ("Transfer", "112500.00", f"HKD 112,500.00 paid by {FINANCIER} to {SUPPLIER}")
    ]
    minted = next(e for e in events if e["event"] == "Transfer" and e["contract"]["name"] == "SettlementToken:HKD")
    assert minted["summary"] == f"HKD 10,000,000.00 minted to {FINANCIER}" and minted["invoice_id"] is None
    admitted = next(e for e in events if e["event"] == "ParticipantAdmitted")
    assert f"admitted as {SUPPLIER}: roles supplier, KYC valid through " in admitted["summary"]
    granted = [e["summary"].split(" role granted")[0] for e in events if e["event"] == "RoleGranted"]
    assert {"default admin", "operator", "currency manager", "minter"} == set(granted)


def test_listing_filters_events_reuse_the_invoice_history_words(indexed: Any) -> None:
    """An invoice's events read the same in the audit trail as in its history (one set of descriptions)."""
    ledger_wide = trail(indexed, invoice_id=1)
    with read(indexed) as (conn, scope):
        own = queries.invoice_history(conn, scope, 1)
    assert [(e["block"], e["log_index"], e["summary"]) for e in ledger_wide] == [
        (e["block"], e["log_index"], e["details"]) for e in own
    ]
    assert {e["invoice_id"] for e in ledger_wide} == {1}


def test_listing_filters_events_filters(indexed: Any, scenario: Scenario) -> None:
    everything = trail(indexed)
    with read(indexed) as (conn, scope):
        names = queries.directory(conn, scope)
        financier = names.resolve(FINANCIER, "party")
        token = queries.currency_address(scope, "HKD")

    repaid = trail(indexed, types=["InvoiceRepaid", "ReserveReleased"])
    assert [(e["event"], e["invoice_id"]) for e in repaid] == [("InvoiceRepaid", 4), ("InvoiceRepaid", 1)]

    window = trail(indexed, from_block=scenario.confirmed, to_block=scenario.financed)
    assert window == [e for e in everything if scenario.confirmed <= e["block"] <= scenario.financed]
    assert trail(indexed, from_block=scenario.end + 1) == []

    theirs = trail(indexed, party=financier)
    assert theirs == [e for e in everything if financier in [p["address"] for p in e["parties"]]]
    assert {e["event"] for e in theirs} >= {"ParticipantAdmitted", "FinancingOffered", "InvoiceFinanced", "Approval"}
    # The invoice's currency is no party: the token's address is in every InvoiceIssued, which is not "its" event.
    assert all(e["event"] != "InvoiceIssued" for e in trail(indexed, party=token))

    first_three = trail(indexed, limit=3)
    assert first_three == everything[:3]
    assert trail(indexed, party=financier, limit=2) == theirs[:2], "the limit counts matching events"
    assert trail(indexed, invoice_id=4, types=["Transfer"]) == [
        e for e in everything if e["invoice_id"] == 4 and e["event"] == "Transfer"
    ]
    assert trail(indexed, invoice_id=99) == []


def test_listing_filters_event_types_are_the_abis_and_the_stored(indexed: Any) -> None:
    from ledger.deployment import load_deployment

    with read(indexed) as (conn, scope):
        stored_only = history.event_types(conn, scope)
        declared = history.event_types(conn, scope, load_deployment(indexed.settings, scope.chain_id).abis())
    assert "InvoiceFinanced" in stored_only and "Paused" not in stored_only
    assert set(stored_only) < set(declared) and {"Paused", "ParticipantSuspended", "ReserveReleased"} <= set(declared)
    assert declared == sorted(declared, key=str.casefold)


def test_listing_filters_a_listing_cleared_by_a_transfer_says_so(indexed: Any, ledger: Any, acct: Any) -> None:
    from support.lifecycle import Lifecycle

    book = Lifecycle(ledger, acct)
    book.offer(2, None, "60000.00")
    book.transfer(2, "supplier", "supplier2")
    index(indexed.settings)
    withdrawn = trail(indexed, types=["FinancingOfferWithdrawn"])
    assert [e["summary"] for e in withdrawn] == [f"listing by {SUPPLIER} cleared: the receivable changed hands"], (
        "as `scf invoice history` says it"
    )


def test_listing_filters_role_names_are_the_contracts_role_hashes() -> None:
    from eth_utils import keccak

    expected = {
        "0x" + keccak(text=name).hex().removeprefix("0x"): label
        for name, label in (
            ("OPERATOR_ROLE", "operator"),
            ("CURRENCY_MANAGER_ROLE", "currency manager"),
            ("MINTER_ROLE", "minter"),
        )
    }
    assert {"0x" + "00" * 32: "default admin", **expected} == history.ROLE_NAMES


def test_listing_filters_event_args_shown_exactly_even_at_the_edges(indexed: Any) -> None:
    """:func:`history.shown_args` keeps every value recoverable: a time past
    year 9999 says its Unix time, an amount without a known currency stays
    minor units, a string of digits that is no amount (an invoice number) stays a string."""
    with read(indexed) as (conn, scope):
        names = queries.directory(conn, scope)
        token = queries.currency_address(scope, "HKD")
        raw = {
            "invoiceId": "7",
            "number": "0042",
            "currency": token,
            "amount": "12345",
            "dueDate": str(2**64 - 1),
            "expiry": "1800000000",
            "financier": "0x" + "00" * 20,
            "flag": True,
        }
        known = history.shown_args(raw, token, scope, names)
        unknown = history.shown_args(raw, None, scope, names)
    assert known["amount"] == "123.45" and unknown["amount"] == "12345"
    assert known["invoiceId"] == 7 and known["number"] == "0042" and known["flag"] is True
    assert known["dueDate"] == f"unix time {2**64 - 1} (after 9999-12-31)"
    assert dt.datetime.fromisoformat(known["expiry"]).timestamp() == 1800000000
    assert known["currency"] == {"address": token, "symbol": "HKD"} and known["financier"] is None
