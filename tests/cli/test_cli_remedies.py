"""When things go wrong, through the CLI (issue 14): `scf invoice dispute`,
`resolve`, `credit-note`, `extend`, `accept-extension`, `default`,
`write-off` and `buy-back`, `invoice finance --recourse --grace-days`,
`invoice show` of the new states, and `scf node advance` to reach a due date
now. Each refused command exits 1 (a rule) or 2 (bad input) with one line
that says what to do, and sends nothing: the chain head stays where it was."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from eth_utils import keccak
from support.cli import SUPPLIER
from support.cli import refused as _refused
from support.jsonrpc import send_json
from web3 import Web3

from ledger.business_time import business_date, due_timestamp
from ledger.format import text_time

BUYER = "Tsuen Wan Electronics Ltd"
FINANCIER = "Harbour Trade Finance Ltd"
DAY = 86400


# -- helpers ---------------------------------------------------------------------------------
def _w3(home_copy) -> Web3:
    return Web3(Web3.HTTPProvider(home_copy.rpc_url))


def _head(home_copy) -> int:
    return int(_w3(home_copy).eth.block_number)


def _ok(result) -> str:
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def _json(result) -> dict:
    return json.loads(_ok(result))


def _chain_today(home_copy) -> dt.date:
    return business_date(int(_w3(home_copy).eth.get_block("latest")["timestamp"]))


def _balance(cli, who: str) -> str:
    return str(_json(cli("token", "balance", who, "--json"))["balance"])


def _confirmed(cli, number: str, amount: str = "100000.00", due: dt.date | str = "2099-01-31") -> int:
    issued = _json(
        cli("invoice", "issue", "--buyer", BUYER, "--number", number, "--amount", amount, "--due", str(due),
            "--json")
    )  # fmt: skip
    invoice_id = int(issued["invoice_id"])
    _ok(cli("invoice", "confirm", str(invoice_id), "--as", "buyer"))
    return invoice_id


def _financed(cli, number: str, *terms: str, amount: str = "100000.00", due: dt.date | str = "2099-01-31") -> int:
    """Confirmed, listed (accepting recourse when ``terms`` ask for it) and financed by the
    financier on ``terms`` (--advance ..., --due ...)."""
    invoice_id = _confirmed(cli, number, amount, due)
    consent = ("--recourse",) if "--recourse" in terms else ()
    _ok(cli("invoice", "offer", str(invoice_id), "--min-advance", "1.00", *consent, "--as", "supplier"))
    _ok(cli("invoice", "finance", str(invoice_id), *terms, "--as", "financier"))
    return invoice_id


def _past_grace(cli, home_copy, due: dt.date, grace_days: int) -> None:
    """`scf node advance` to a day past the due date plus the grace period."""
    days = (due - _chain_today(home_copy)).days + grace_days + 1
    _ok(cli("node", "advance", "--days", str(days)))


def _party(acct, name: str, label: str) -> dict[str, str]:
    return {"address": acct(name).address, "name": label}


# -- financing terms: recourse and grace ----------------------------------------------------------
def test_cli_remedies_finance_records_recourse_and_grace(cli, home_copy, acct):
    first, second = _confirmed(cli, "INV-R-F1"), _confirmed(cli, "INV-R-F2")
    # The seller's consent to recourse is in its listing; a financier cannot impose it.
    listed = _ok(cli("invoice", "offer", str(first), "--min-advance", "1.00", "--recourse", "--as", "supplier"))
    assert listed.rstrip().endswith(", recourse accepted")
    _ok(cli("invoice", "offer", str(second), "--min-advance", "1.00", "--as", "supplier"))
    head = _head(home_copy)
    _refused(
        cli("invoice", "finance", str(second), "--advance", "90000.00", "--recourse", "--as", "financier"),
        1,
        f"the listing of invoice {second} by {SUPPLIER} ({acct('supplier').address}) does not accept recourse: "
        "finance it without --recourse, or the holder lists it again with `scf invoice offer --recourse`",
    )
    _refused(
        cli("invoice", "finance", str(first), "--advance", "90000.00", "--recourse", "--grace-days", "6",
            "--as", "financier"),
        1,
        f"a financing of invoice {first} with recourse must give the seller at least the network's grace period "
        "of 7 days (asked 6 days); give a longer --grace-days",
    )  # fmt: skip
    assert _head(home_copy) == head
    out = _ok(
        cli("invoice", "finance", str(first), "--advance", "90000.00", "--recourse", "--grace-days", "14",
            "--as", "financier")
    )  # fmt: skip
    assert out == (
        f"invoice {first} financed: HKD 90,000.00 paid to {SUPPLIER}; due to you HKD 100,000.00, reserve for the "
        "seller HKD 0.00; with recourse to the seller, 14 days of grace after the due date\n"
    )
    # The defaults (no recourse, the deployment's 7 days) are not said unless asked for; JSON has them.
    done = _json(cli("invoice", "finance", str(second), "--advance", "90000.00", "--as", "financier", "--json"))
    assert (done["recourse"], done["grace_days"]) == (False, "7")
    shown = _json(cli("invoice", "show", str(first), "--json"))
    assert (shown["recourse"], shown["grace_days"]) == (True, "14")
    assert _json(cli("invoice", "show", str(second), "--json"))["recourse"] is False


# -- a financed receivable: dispute, then a credit note ---------------------------------------
def test_cli_remedies_dispute_then_credit_note_on_a_financed_receivable(cli, home_copy, acct):
    # 125,000.00 financed: advance 100,000.00, the financier due 110,000.00, a reserve of 15,000.00.
    invoice_id = _financed(cli, "INV-R-1", "--advance", "100000.00", "--due", "110000.00", amount="125000.00")
    i = str(invoice_id)
    disputed = _json(cli("invoice", "dispute", i, "--reason", "PO-4471: 200 units damaged", "--as", "buyer", "--json"))
    assert {k: v for k, v in disputed.items() if k not in ("tx_hash", "block", "gas_used")} == {
        "invoice_id": invoice_id,
        "status": "Disputed",
        "disputed_from": "Financed",
        "buyer": _party(acct, "buyer", BUYER),
        "reason_hash": "0x" + keccak(text="PO-4471: 200 units damaged").hex(),
    }
    shown = _json(cli("invoice", "show", i, "--json"))
    assert (shown["status"], shown["disputed_from"], shown["recourse"]) == ("Disputed", "Financed", False)
    assert "disputed     yes (was Financed)\n" in _ok(cli("invoice", "show", i))

    # While disputed: not paid, defaulted, moved or disputed again.
    head = _head(home_copy)
    _refused(
        cli("invoice", "repay", i, "--amount", "1.00", "--as", "buyer"),
        1,
        f"invoice {i} is disputed: it is paid once the buyer withdraws the dispute (`scf invoice resolve {i}`) "
        f"or the creditor issues a credit note (`scf invoice credit-note {i}`)",
    )
    _refused(
        cli("invoice", "dispute", i, "--reason", "again", "--as", "buyer"),
        1,
        f"invoice {i} is disputed already (from Financed); the buyer withdraws the dispute with "
        f"`scf invoice resolve {i}`, or the creditor issues a credit note",
    )
    _refused(
        cli("invoice", "default", i, "--as", "financier"),
        1,
        f"invoice {i} is disputed and cannot be declared in default until the dispute is resolved (the buyer "
        f"withdraws it with `scf invoice resolve {i}`, or the creditor issues a credit note)",
    )
    _refused(cli("invoice", "transfer", i, "--to", "supplier2", "--as", "financier"), 1)
    # The financier holds it, but the seller is its creditor (dilution is the seller's risk).
    _refused(
        cli("invoice", "credit-note", i, "--amount", "1.00", "--as", "financier"),
        1,
        f"{FINANCIER} is not the seller of invoice {i} (the seller is {SUPPLIER}); the seller of a financed "
        "receivable issues its credit notes (dilution is its risk), else the holder",
    )
    _refused(
        cli("invoice", "credit-note", i, "--amount", "125000.01", "--as", "supplier"),
        2,
        f"a credit note of HKD 125,000.01 on invoice {i} is above its open amount HKD 125,000.00; "
        "credit at most 125000.00",
    )
    assert _head(home_copy) == head

    # A credit note of 25,000.00: open 125,000.00 -> 100,000.00, which no longer covers the financier's
    # 110,000.00; the seller pays it the 10,000.00 difference in the same transaction.
    assert (_balance(cli, "supplier"), _balance(cli, "financier")) == ("100000.00", "9900000.00")
    credited = _json(
        cli("invoice", "credit-note", i, "--amount", "25000.00", "--note", "CN-7", "--as", "supplier", "--json")
    )
    assert {k: v for k, v in credited.items() if k not in ("tx_hash", "block", "gas_used")} == {
        "invoice_id": invoice_id,
        "credit": "25000.00",
        "amount": "100000.00",
        "outstanding": "100000.00",
        "currency": "HKD",
        "issuer": _party(acct, "supplier", SUPPLIER),
        "holder": _party(acct, "financier", FINANCIER),
        "to_holder": "10000.00",
        "note_hash": "0x" + keccak(text="CN-7").hex(),
        "status": "Financed",
    }
    # supplier 100,000.00 - 10,000.00; financier 9,900,000.00 + 10,000.00.
    assert (_balance(cli, "supplier"), _balance(cli, "financier")) == ("90000.00", "9910000.00")
    shown = _json(cli("invoice", "show", i, "--json"))
    assert (shown["status"], shown["disputed_from"], shown["credited"], shown["financier_paid"]) == (
        "Financed",
        None,
        "25000.00",
        "10000.00",
    )
    assert "credited     HKD 25,000.00\n" in _ok(cli("invoice", "show", i))
    # The buyer pays the reduced amount: the financier's remaining 100,000.00 of its due, no reserve left.
    paid = _json(cli("invoice", "repay", i, "--amount", "100000.00", "--as", "buyer", "--json"))
    assert (paid["to_payee"], paid["status"], "reserve_released" in paid) == ("100000.00", "Paid", False)
    assert _balance(cli, "financier") == "10010000.00"  # 9,910,000.00 + 100,000.00: advance 100k, got 110k


def test_cli_remedies_credit_note_needs_the_sellers_funds_first(cli, home_copy):
    invoice_id = _financed(cli, "INV-R-1B", "--advance", "90000.00")
    i = str(invoice_id)
    _ok(cli("token", "transfer", "--to", "buyer2", "--amount", "85000.00", "--as", "supplier"))
    head = _head(home_copy)
    # 100,000.00 less a credit of 20,000.00 leaves 80,000.00 of the financier's 100,000.00 due: 20,000.00 to pay.
    _refused(
        cli("invoice", "credit-note", i, "--amount", "20000.00", "--as", "supplier"),
        1,
        f"the credit note on invoice {i} takes HKD 20,000.00 from {SUPPLIER}, which holds HKD 5,000.00; "
        "it needs HKD 15,000.00 more first",
    )
    assert _head(home_copy) == head
    # A credit of 5,000.00 takes what it holds: 95,000.00 open covers 95,000.00 of the financier's 100,000.00.
    done = _json(cli("invoice", "credit-note", i, "--amount", "5000.00", "--as", "supplier", "--json"))
    assert (done["to_holder"], _balance(cli, "supplier"), _balance(cli, "financier")) == (
        "5000.00",
        "0.00",
        "9915000.00",  # 10,000,000.00 - 90,000.00 + 5,000.00
    )


def test_cli_remedies_dispute_withdrawn_and_text_output(cli, home_copy):
    invoice_id = _confirmed(cli, "INV-R-2")
    i = str(invoice_id)
    reason = "0x" + "ab" * 32  # a hash given as it is
    out = _ok(cli("invoice", "dispute", i, "--reason", reason, "--as", "buyer"))
    assert out == f"invoice {i} disputed by {BUYER} (was Confirmed); reason recorded as {reason}\n"
    out = _ok(cli("invoice", "resolve", i, "--as", "buyer"))
    assert out == f"invoice {i}: dispute withdrawn by {BUYER}; back to Confirmed\n"
    head = _head(home_copy)
    _refused(
        cli("invoice", "resolve", i, "--as", "buyer"),
        1,
        f"invoice {i} is Confirmed, not Disputed: there is no dispute to withdraw",
    )
    _refused(
        cli("invoice", "dispute", i, "--reason", "late", "--as", "buyer2"),
        1,
        f"Kwai Chung Logistics Ltd is not the buyer of invoice {i} (the buyer is {BUYER}); only the buyer disputes it",
    )
    assert _head(home_copy) == head
    # An unfinanced receivable: the holder is its creditor; a credit of all of it cancels it.
    out = _ok(cli("invoice", "credit-note", i, "--amount", "100000.00", "--as", "supplier"))
    assert out == (
        f"invoice {i}: credit note of HKD 100,000.00 by {SUPPLIER}; amount now HKD 0.00, outstanding HKD 0.00 "
        "(Cancelled)\n"
    )
    shown = _json(cli("invoice", "show", i, "--json"))
    assert (shown["status"], shown["holder"]["name"], shown["credited"]) == ("Cancelled", SUPPLIER, "100000.00")


# -- defaults: recovery, buy-back under recourse, write-off --------------------------------------
def test_cli_remedies_default_then_late_recovery(cli, home_copy, acct):
    due = _chain_today(home_copy) + dt.timedelta(days=5)
    invoice_id = _financed(cli, "INV-R-3", "--advance", "90000.00", "--grace-days", "2", due=due)
    i = str(invoice_id)
    shown = _json(cli("invoice", "show", i, "--json"))
    after = due_timestamp(due) + 2 * DAY
    assert (shown["recourse"], shown["grace_days"], shown["defaultable_after"]) == (
        False,
        "2",
        dt.datetime.fromtimestamp(after, dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat(),
    )
    text = _ok(cli("invoice", "show", i))
    assert "recourse     no\ngrace        2 days after the due date\n" in text, text
    assert f"defaultable  after {text_time(after)}\n" in text, text

    head = _head(home_copy)
    refused = _refused(cli("invoice", "default", i, "--as", "financier"), 1)
    assert refused.startswith(
        f"Error: invoice {i} can be declared in default only after {text_time(after)} (due {due} plus 2 days of "
        "grace); it is "
    ), refused
    _refused(
        cli("invoice", "default", i, "--as", "supplier"),
        1,
        f"{SUPPLIER} is not the holder of invoice {i} (the holder is {FINANCIER}); only the holder declares a default",
    )
    assert _head(home_copy) == head

    _past_grace(cli, home_copy, due, 2)
    defaulted = _json(cli("invoice", "default", i, "--as", "financier", "--json"))
    assert {k: v for k, v in defaulted.items() if k not in ("tx_hash", "block", "gas_used")} == {
        "invoice_id": invoice_id,
        "status": "Defaulted",
        "holder": _party(acct, "financier", FINANCIER),
        "currency": "HKD",
        "outstanding": "100000.00",
        "holder_claim": "100000.00",
    }
    head = _head(home_copy)
    _refused(
        cli("invoice", "default", i, "--as", "financier"),
        1,
        f"invoice {i} is Defaulted already: its default was declared before",
    )
    _refused(
        cli("invoice", "buy-back", i, "--as", "financier"),
        1,
        f"invoice {i} was financed without recourse: nobody can be made to buy it back, the loss stays with its holder",
    )
    assert _head(home_copy) == head
    # The buyer pays late: a recovery, to the holder, through the same settlement; Defaulted until paid in full.
    out = _ok(cli("invoice", "repay", i, "--amount", "40000.00", "--as", "buyer"))
    assert out == (
        f"invoice {i}: paid HKD 40,000.00 (a recovery): HKD 40,000.00 to {FINANCIER}; "
        "outstanding HKD 60,000.00 (Defaulted)\n"
    )
    paid = _json(cli("invoice", "repay", i, "--amount", "60000.00", "--as", "buyer", "--json"))
    assert (paid["status"], paid["recovery"], paid["to_payee"]) == ("Paid", True, "60000.00")
    # 10,000,000.00 - 90,000.00 advanced + 100,000.00 recovered.
    assert _balance(cli, "financier") == "10010000.00"


def test_cli_remedies_default_and_buy_back_under_recourse(cli, home_copy, acct):
    due = _chain_today(home_copy) + dt.timedelta(days=3)
    # Advance 90,000.00, due 95,000.00 (a reserve of 5,000.00), with recourse and the network's 7 days of grace.
    invoice_id = _financed(
        cli, "INV-R-4", "--advance", "90000.00", "--due", "95000.00", "--recourse", "--grace-days", "7", due=due
    )
    i = str(invoice_id)
    assert "recourse     yes: the seller buys it back after a default\n" in _ok(cli("invoice", "show", i))
    _ok(cli("invoice", "repay", i, "--amount", "20000.00", "--as", "buyer"))  # all to the financier
    _past_grace(cli, home_copy, due, 7)
    defaulted = _json(cli("invoice", "default", i, "--as", "financier", "--json"))
    # The buyer owes 80,000.00; the financier is owed 95,000.00 - 20,000.00.
    assert (defaulted["outstanding"], defaulted["holder_claim"]) == ("80000.00", "75000.00")

    head = _head(home_copy)
    # The holder's demand draws on the seller's approval, which it has not given.
    _refused(
        cli("invoice", "buy-back", i, "--as", "financier"),
        1,
        f"the buy-back of invoice {i} draws HKD 75,000.00 from {SUPPLIER}, which has approved HKD 0.00 of it for the "
        f"invoice contract; {SUPPLIER} should run `scf invoice buy-back {i}` itself",
    )
    _refused(
        cli("invoice", "buy-back", i, "--as", "buyer"),
        1,
        f"{BUYER} is neither the holder ({FINANCIER}) nor the seller ({SUPPLIER}) of invoice {i}; "
        "only they run its buy-back",
    )
    _refused(
        cli("invoice", "write-off", i, "--as", "supplier"),
        1,
        f"{SUPPLIER} is not the holder of invoice {i} (the holder is {FINANCIER}); "
        "only the holder writes off its claim",
    )
    assert _head(home_copy) == head

    out = _ok(cli("invoice", "buy-back", i, "--as", "supplier"))
    assert out == (
        f"invoice {i} bought back by {SUPPLIER}: HKD 75,000.00 paid to {FINANCIER}; "
        "the buyer's later payments go to the seller (outstanding HKD 80,000.00)\n"
    )
    # supplier: 90,000.00 advance - 75,000.00; financier: -90,000.00 + 20,000.00 + 75,000.00.
    assert (_balance(cli, "supplier"), _balance(cli, "financier")) == ("15000.00", "10005000.00")
    shown = _json(cli("invoice", "show", i, "--json"))
    assert (shown["status"], shown["holder"], shown["financier_paid"]) == (
        "Defaulted",
        _party(acct, "supplier", SUPPLIER),
        "95000.00",
    )
    head = _head(home_copy)
    _refused(
        cli("invoice", "buy-back", i, "--as", "supplier"),
        1,
        f"the seller holds invoice {i} already: there is nothing to buy back",
    )
    assert _head(home_copy) == head
    # The buyer's recovery now goes wholly to the seller.
    paid = _json(cli("invoice", "repay", i, "--amount", "80000.00", "--as", "buyer", "--json"))
    assert (paid["to_payee"], paid["reserve_released"], paid["status"]) == ("0.00", "80000.00", "Paid")
    assert _balance(cli, "supplier") == "95000.00"


def test_cli_remedies_buy_back_demanded_by_the_holder(cli, home_copy, acct, ledger):
    due = _chain_today(home_copy) + dt.timedelta(days=2)
    invoice_id = _financed(cli, "INV-R-5", "--advance", "90000.00", "--recourse", "--grace-days", "7", due=due)
    i = str(invoice_id)
    _past_grace(cli, home_copy, due, 7)
    _ok(cli("invoice", "default", i, "--as", "financier"))
    # The seller approves the invoice contract for the 100,000.00 it owes, but holds only 90,000.00.
    approved = _json(cli("token", "approve", "--amount", "100000.00", "--as", "supplier", "--json"))
    assert (approved["owner"], approved["allowance"], approved["spender"]["name"]) == (
        _party(acct, "supplier", SUPPLIER),
        "100000.00",
        "InvoiceToken",
    )
    head = _head(home_copy)
    _refused(
        cli("invoice", "buy-back", i, "--as", "financier"),
        1,
        f"the buy-back of invoice {i} takes HKD 100,000.00 from {SUPPLIER}, which holds HKD 90,000.00; "
        "it needs HKD 10,000.00 more first",
    )
    # So does the seller's own buy-back, before it approves anything.
    _refused(
        cli("invoice", "buy-back", i, "--as", "supplier"),
        1,
        f"the buy-back of invoice {i} takes HKD 100,000.00 from {SUPPLIER}, which holds HKD 90,000.00; "
        "it needs HKD 10,000.00 more first",
    )
    assert _head(home_copy) == head
    _ok(cli("token", "mint", "--to", "supplier", "--amount", "10000.00"))
    bought = _json(cli("invoice", "buy-back", i, "--as", "financier", "--json"))
    assert (bought["seller"], bought["holder"], bought["amount"]) == (
        _party(acct, "supplier", SUPPLIER),
        _party(acct, "financier", FINANCIER),
        "100000.00",
    )
    assert (_balance(cli, "supplier"), _balance(cli, "financier")) == ("0.00", "10010000.00")
    # The allowance is used up; 0 takes any standing one back.
    assert _ok(cli("token", "approve", "--amount", "0", "--as", "supplier")).startswith(
        f"{SUPPLIER} lets the invoice contract draw up to HKD 0.00 (tx 0x"
    )


def test_cli_remedies_default_write_off_then_recovery(cli, home_copy, acct):
    due = _chain_today(home_copy) + dt.timedelta(days=4)
    invoice_id = _financed(cli, "INV-R-6", "--advance", "90000.00", "--grace-days", "3", due=due)
    i = str(invoice_id)
    head = _head(home_copy)
    _refused(
        cli("invoice", "write-off", i, "--as", "financier"),
        1,
        f"invoice {i} is Financed, not Defaulted: only a receivable in default is written off; its holder "
        f"declares the default first (`scf invoice default {i}`)",
    )
    assert _head(home_copy) == head
    _past_grace(cli, home_copy, due, 3)
    _ok(cli("invoice", "default", i, "--as", "financier"))
    out = _ok(cli("invoice", "write-off", i, "--as", "financier"))
    assert out == (
        f"invoice {i}: HKD 100,000.00 written off by {FINANCIER}; the buyer's later payments are still received\n"
    )
    head = _head(home_copy)
    _refused(
        cli("invoice", "write-off", i, "--as", "financier"),
        1,
        f"invoice {i} is written off already; the buyer's later payments are still received",
    )
    _refused(
        cli("invoice", "buy-back", i, "--as", "financier"),
        1,
        f"invoice {i} is WrittenOff, not Defaulted: a receivable is bought back only after its holder declares a "
        f"default (`scf invoice default {i}`)",
    )
    assert _head(home_copy) == head
    paid = _json(cli("invoice", "repay", i, "--amount", "30000.00", "--as", "buyer", "--json"))
    assert (paid["status"], paid["recovery"], paid["payee"], paid["to_payee"]) == (
        "WrittenOff",
        True,
        _party(acct, "financier", FINANCIER),
        "30000.00",
    )
    shown = _json(cli("invoice", "show", i, "--json"))
    assert (
        shown["status"],
        shown["written_off"],
        shown["recovered"],
        shown["outstanding"],
        shown["defaultable_after"],
    ) == ("WrittenOff", "100000.00", "30000.00", "70000.00", None)
    assert "written off  HKD 100,000.00\nrecovered    HKD 30,000.00\n" in _ok(cli("invoice", "show", i))
    # The indexed view says the same as the chain (the database caught up after each command).
    indexed = _json(cli("invoice", "show", i, "--as-of-block", str(_head(home_copy)), "--json"))
    keys = ("credited", "recourse", "grace_days", "disputed_from", "proposed_due", "extensions", "defaulted_at",
            "defaulted_block", "written_off", "recovered")  # fmt: skip
    assert {k: indexed[k] for k in keys} == {k: shown[k] for k in keys}
    paid = _json(cli("invoice", "repay", i, "--amount", "70000.00", "--as", "buyer", "--json"))
    assert (paid["status"], paid["outstanding"]) == ("Paid", "0.00")


def test_cli_remedies_default_and_write_off_of_nothing_owed_are_refused(cli, home_copy):
    """A financier paid its whole due has no claim to default (only the seller's reserve is open);
    one whose due recoveries paid after a default has nothing to write off."""
    due = _chain_today(home_copy) + dt.timedelta(days=2)
    invoice_id = _financed(cli, "INV-R-7", "--advance", "90000.00", "--due", "95000.00", "--grace-days", "0", due=due)
    i = str(invoice_id)
    _ok(cli("invoice", "repay", i, "--amount", "95000.00", "--as", "buyer"))
    _past_grace(cli, home_copy, due, 0)
    head = _head(home_copy)
    _refused(
        cli("invoice", "default", i, "--as", "financier"),
        1,
        f"nothing is owed to {FINANCIER} on invoice {i}: its due is paid in full, so there is no default to declare",
    )
    assert _head(home_copy) == head
    due = _chain_today(home_copy) + dt.timedelta(days=2)
    other = _financed(cli, "INV-R-7B", "--advance", "90000.00", "--due", "95000.00", "--grace-days", "0", due=due)
    j = str(other)
    _past_grace(cli, home_copy, due, 0)
    defaulted = _json(cli("invoice", "default", j, "--as", "financier", "--json"))
    assert (defaulted["outstanding"], defaulted["holder_claim"]) == ("100000.00", "95000.00")
    _ok(cli("invoice", "repay", j, "--amount", "95000.00", "--as", "buyer"))  # a recovery of the whole due
    head = _head(home_copy)
    _refused(
        cli("invoice", "write-off", j, "--as", "financier"),
        1,
        f"nothing is owed to {FINANCIER} on invoice {j}: there is nothing to write off",
    )
    assert _head(home_copy) == head


def test_cli_remedies_unfinanced_default_uses_the_deployments_grace(cli, home_copy, acct):
    due = _chain_today(home_copy) + dt.timedelta(days=1)
    invoice_id = _confirmed(cli, "INV-R-8", due=due)
    i = str(invoice_id)
    shown = _json(cli("invoice", "show", i, "--json"))
    assert (shown["recourse"], shown["grace_days"], shown["defaulted_at"]) == (None, "7", None)
    _past_grace(cli, home_copy, due, 7)
    defaulted = _json(cli("invoice", "default", i, "--as", "supplier", "--json"))
    assert (defaulted["holder"], defaulted["holder_claim"]) == (_party(acct, "supplier", SUPPLIER), "100000.00")
    written = _json(cli("invoice", "write-off", i, "--as", "supplier", "--json"))
    assert (written["status"], written["written_off"]) == ("WrittenOff", "100000.00")


# -- extensions ------------------------------------------------------------------------------
def test_cli_remedies_extension_proposed_and_accepted(cli, home_copy, acct):
    invoice_id = _confirmed(cli, "INV-R-9")
    i = str(invoice_id)
    head = _head(home_copy)
    _refused(
        cli("invoice", "accept-extension", i, "--as", "supplier"),
        1,
        f"the buyer has not proposed a new due date for invoice {i}; the buyer proposes one with "
        f"`scf invoice extend {i} --to DATE`",
    )
    _refused(
        cli("invoice", "extend", i, "--to", "2099-01-31", "--as", "buyer"),
        2,
        f"invalid new due date 2099-01-31: invoice {i} is due 2099-01-31; propose a later date",
    )
    beyond = _refused(cli("invoice", "extend", i, "--to", "2199-01-01", "--as", "buyer"), 2)
    assert beyond.startswith("Error: invalid new due date 2199-01-01: it can be at most the longest tenor from now, ")
    _refused(
        cli("invoice", "extend", i, "--to", "2099-03-31", "--as", "supplier"),
        1,
        f"{SUPPLIER} is not the buyer of invoice {i} (the buyer is {BUYER}); only the buyer proposes a new due date",
    )
    assert _head(home_copy) == head

    proposed = _json(cli("invoice", "extend", i, "--to", "2099-03-31", "--as", "buyer", "--json"))
    assert (proposed["due"], proposed["proposed_due"], proposed["buyer"]) == (
        "2099-01-31",
        "2099-03-31",
        _party(acct, "buyer", BUYER),
    )
    assert _json(cli("invoice", "show", i, "--json"))["proposed_due"] == "2099-03-31"
    assert "proposed due 2099-03-31 (not accepted yet)\n" in _ok(cli("invoice", "show", i))
    head = _head(home_copy)
    _refused(
        cli("invoice", "accept-extension", i, "--as", "buyer"),
        1,
        f"{BUYER} is not the holder of invoice {i} (the holder is {SUPPLIER}); the holder (the financier, if "
        "financed) accepts a new due date",
    )
    _refused(
        cli("invoice", "accept-extension", i, "--date", "2099-04-30", "--as", "supplier"),
        1,
        f"the buyer proposed 2099-03-31 for invoice {i}, not 2099-04-30; accept 2099-03-31 (or omit --date)",
    )
    assert _head(home_copy) == head
    out = _ok(cli("invoice", "accept-extension", i, "--date", "2099-03-31", "--as", "supplier"))
    assert out == f"invoice {i}: due date moved from 2099-01-31 to 2099-03-31 by {SUPPLIER}\n"
    shown = _json(cli("invoice", "show", i, "--json"))
    assert (shown["due"], shown["proposed_due"], shown["extensions"]) == ("2099-03-31", None, 1)


def test_cli_remedies_extension_needs_an_active_buyer_a_dispute_does_not(cli, home_copy):
    invoice_id = _confirmed(cli, "INV-R-10")
    i = str(invoice_id)
    _ok(cli("participant", "suspend", BUYER))
    head = _head(home_copy)
    refused = _refused(cli("invoice", "extend", i, "--to", "2099-03-31", "--as", "buyer"), 1)
    assert "is suspended" in refused, refused
    assert _head(home_copy) == head
    # Raising a dispute enforces terms already agreed: a suspended buyer may.
    assert _json(cli("invoice", "dispute", i, "--reason", "short", "--as", "buyer", "--json"))["status"] == "Disputed"
    _ok(cli("participant", "reinstate", BUYER))
    head = _head(home_copy)
    _refused(
        cli("invoice", "extend", i, "--to", "2099-03-31", "--as", "buyer"),
        1,
        f"invoice {i} is disputed and cannot be extended until the dispute is resolved (the buyer withdraws it "
        f"with `scf invoice resolve {i}`, or the creditor issues a credit note)",
    )
    assert _head(home_copy) == head


# -- refusals that depend on nothing above ---------------------------------------------------
def test_cli_remedies_rule_refusals_are_exit_1_and_send_nothing(cli, home_copy):
    confirmed = str(_confirmed(cli, "INV-R-11"))
    paid = str(_confirmed(cli, "INV-R-12", amount="10.00"))
    _ok(cli("invoice", "repay", paid, "--amount", "10.00", "--as", "buyer"))
    issued = str(
        _json(
            cli("invoice", "issue", "--buyer", BUYER, "--number", "INV-R-13", "--amount", "5.00", "--due",
                "2099-01-31", "--json")
        )["invoice_id"]
    )  # fmt: skip
    head = _head(home_copy)
    for argv, message in (
        (
            ("dispute", issued, "--reason", "x", "--as", "buyer"),
            f"invoice {issued} is Issued: only a Confirmed, Financed or PartiallyPaid receivable is disputed; "
            f"the buyer confirms it first (`scf invoice confirm {issued}`)",
        ),
        (
            ("dispute", paid, "--reason", "x", "--as", "buyer"),
            f"invoice {paid} is Paid: only a Confirmed, Financed or PartiallyPaid receivable is disputed",
        ),
        (
            ("credit-note", paid, "--amount", "1.00", "--as", "supplier"),
            f"invoice {paid} is Paid: a credit note needs an open receivable (Confirmed, Financed, PartiallyPaid "
            "or Disputed)",
        ),
        (
            ("credit-note", confirmed, "--amount", "1.00", "--as", "buyer"),
            f"{BUYER} is not the holder of invoice {confirmed} (the holder is {SUPPLIER}); the seller of a financed "
            "receivable issues its credit notes (dilution is its risk), else the holder",
        ),
        (
            ("extend", paid, "--to", "2099-03-31", "--as", "buyer"),
            f"invoice {paid} is Paid: only a Confirmed, Financed or PartiallyPaid receivable is extended",
        ),
        (
            ("default", confirmed, "--as", "buyer"),
            f"{BUYER} is not the holder of invoice {confirmed} (the holder is {SUPPLIER}); only the holder declares "
            "a default",
        ),
        (
            ("default", paid, "--as", "supplier"),
            f"invoice {paid} is Paid: only a Confirmed, Financed or PartiallyPaid receivable is declared in default",
        ),
        (
            ("write-off", confirmed, "--as", "supplier"),
            f"invoice {confirmed} is Confirmed, not Defaulted: only a receivable in default is written off; its "
            f"holder declares the default first (`scf invoice default {confirmed}`)",
        ),
        (
            ("buy-back", confirmed, "--as", "supplier"),
            f"invoice {confirmed} is Confirmed, not Defaulted: a receivable is bought back only after its holder "
            f"declares a default (`scf invoice default {confirmed}`)",
        ),
        (
            ("resolve", confirmed, "--as", "buyer2"),
            f"Kwai Chung Logistics Ltd is not the buyer of invoice {confirmed} (the buyer is {BUYER}); only the "
            "buyer withdraws its dispute",
        ),
    ):
        _refused(cli("invoice", *argv), 1, message)
        assert _head(home_copy) == head, argv


def test_cli_remedies_nothing_while_paused(cli, home_copy):
    invoice_id = str(_confirmed(cli, "INV-R-14"))
    _ok(cli("pause"))
    head = _head(home_copy)
    _refused(
        cli("invoice", "dispute", invoice_id, "--reason", "late", "--as", "buyer"),
        1,
        "the network is paused by the operator",
    )
    _refused(
        cli("invoice", "credit-note", invoice_id, "--amount", "1.00", "--as", "supplier"),
        1,
        "the network is paused by the operator",
    )
    assert _head(home_copy) == head


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("dispute", "{id}", "--reason", "  ", "--as", "buyer"), "an empty --reason says nothing; state why the "
         "receivable is disputed"),
        (("dispute", "{id}", "--as", "buyer"), None),
        (("dispute", "999999", "--reason", "x"), "invoice 999999 does not exist; see `scf invoice list`"),
        (("resolve", "0"), None),
        (("credit-note", "{id}", "--amount", "0"), "invalid credit note amount '0': must be more than 0"),
        (("credit-note", "{id}", "--amount", "-1"), None),
        (("credit-note", "{id}", "--amount", "1.001"), None),
        (("credit-note", "{id}", "--amount", "1.00", "--note", ""), "an empty note says nothing; give the credit "
         "note's number or text, or omit --note"),
        (("credit-note", "{id}", "--amount", "100000.01"), "a credit note of HKD 100,000.01 on invoice {id} is "
         "above its open amount HKD 100,000.00; credit at most 100000.00"),
        (("extend", "{id}", "--to", "2099-02-30", "--as", "buyer"), "invalid new due date '2099-02-30': use "
         "YYYY-MM-DD, for example 2027-01-31"),
        (("extend", "{id}", "--as", "buyer"), None),
        (("accept-extension", "{id}", "--date", "31/03/2099"), "invalid due date '31/03/2099': use YYYY-MM-DD, "
         "for example 2027-01-31"),
        (("default", "zero"), None),
        (("default", "999999"), "invoice 999999 does not exist; see `scf invoice list`"),
        (("write-off", "-1"), None),
        (("buy-back", "9" * 80), None),
        (("finance", "{id}", "--advance", "1.00", "--grace-days", "366"), None),
        (("finance", "{id}", "--advance", "1.00", "--grace-days", "-1"), None),
        (("finance", "{id}", "--advance", "1.00", "--recourse", "yes"), None),
    ],
)  # fmt: skip
def test_cli_remedies_bad_input_is_exit_2_and_sends_nothing(cli, home_copy, argv, message):
    invoice_id = str(_confirmed(cli, "INV-R-BAD"))
    head = _head(home_copy)
    args = [a.replace("{id}", invoice_id) for a in argv]
    _refused(cli("invoice", *args), 2, None if message is None else message.replace("{id}", invoice_id))
    assert _head(home_copy) == head


# -- scf node advance ------------------------------------------------------------------------
def test_cli_remedies_node_advance_moves_the_clock(cli, home_copy):
    before = int(_w3(home_copy).eth.get_block("latest")["timestamp"])
    moved = _json(cli("node", "advance", "--days", "2", "--hours", "3", "--json"))
    assert (moved["days"], moved["hours"], moved["seconds"]) == (2, 3, 2 * DAY + 3 * 3600)
    block = _w3(home_copy).eth.get_block("latest")
    assert (moved["block"], moved["block"]) == (int(block["number"]), _head(home_copy))
    assert int(block["timestamp"]) >= before + 2 * DAY + 3 * 3600
    for argv, span in ((("--days", "1"), "1 day"), (("--days", "0", "--hours", "1"), "1 hour")):
        out = _ok(cli("node", "advance", *argv))
        block = _w3(home_copy).eth.get_block("latest")
        at = text_time(int(block["timestamp"]))
        assert out == f"chain clock moved forward {span}: block {block['number']} at {at}\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("--days", "0"), "moving the clock by nothing does nothing; give --days or --hours above 0"),
        (("--days", "0", "--hours", "0"), "moving the clock by nothing does nothing; give --days or --hours above 0"),
        (("--days", "-1"), None),
        (("--days", "3651"), None),
        (("--days", "1", "--hours", "24"), None),
        (("--days", "a week"), None),
        (("--hours", "5"), None),
    ],
)
def test_cli_remedies_node_advance_bad_values_are_exit_2(cli, home_copy, argv, message):
    head = _head(home_copy)
    _refused(cli("node", "advance", *argv), 2, message)
    assert _head(home_copy) == head


class _Geth(BaseHTTPRequestHandler):
    """A JSON-RPC node that is not Anvil: it answers the chain id and its client version."""

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        answers = {"eth_chainId": "0x1", "web3_clientVersion": "Geth/v1.14.11-stable/linux-amd64/go1.23.2"}
        reply = {"jsonrpc": "2.0", "id": request["id"]}
        if request["method"] in answers:
            reply["result"] = answers[request["method"]]
        else:
            reply["error"] = {"code": -32601, "message": "the method does not exist"}
        send_json(self, reply)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def geth() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Geth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_cli_remedies_node_advance_refuses_a_node_that_is_not_anvil(home_copy, geth):
    from click.testing import CliRunner

    from ledger.cli import main

    result = CliRunner().invoke(
        main, ["--home", str(home_copy.home), "--rpc-url", geth, "node", "advance", "--days", "1"]
    )
    _refused(
        result,
        1,
        "the node runs Geth/v1.14.11-stable/linux-amd64/go1.23.2, not a local Anvil: only the local dev chain's "
        "clock can be moved (start one with `scf node start`)",
    )


# -- the contract's own words, when a check above is raced ----------------------------------------
@pytest.mark.parametrize(
    ("error", "values", "code", "message"),
    [
        ("InvoiceNotOpen", (7, 5), 1, "invoice 7 is Paid: only a Confirmed, Financed or PartiallyPaid receivable "
         "is disputed, extended or declared in default"),
        ("InvoiceNotDisputed", (7, 2), 1, "invoice 7 is Confirmed, not Disputed: there is no dispute to withdraw"),
        ("CreditNoteNotAllowed", (7, 9), 1, "invoice 7 is Defaulted: a credit note needs an open receivable "
         "(Confirmed, Financed, PartiallyPaid or Disputed)"),
        ("InvalidCreditNote", (7, 12_500_001, 12_500_000), 2, "invalid credit note HKD 125,000.01 on invoice 7: "
         "it must be above zero and at most the open amount HKD 125,000.00"),
        ("InvalidGracePeriod", (366 * DAY,), 2, "invalid grace period 366 days: it can be at most 365 days "
         "(31536000 seconds)"),
        ("ExtensionNotProposed", (7, due_timestamp(dt.date(2099, 4, 30)), 0), 1, "the buyer has not proposed a new "
         "due date for invoice 7; the buyer proposes one with `scf invoice extend`"),
        ("ExtensionNotProposed", (7, due_timestamp(dt.date(2099, 4, 30)), due_timestamp(dt.date(2099, 3, 31))), 1,
         "the buyer proposed 2099-03-31 23:59 HKT for invoice 7, not 2099-04-30 23:59 HKT; accept the proposed date"),
        ("InvalidExtension", (7, due_timestamp(dt.date(2099, 1, 1)), due_timestamp(dt.date(2099, 1, 31)),
         due_timestamp(dt.date(2126, 1, 1))), 2, "invalid new due date 2099-01-01 23:59 HKT for invoice 7: it must "
         "be after its due date 2099-01-31 23:59 HKT and no later than 2126-01-01 23:59 HKT"),
        ("DefaultBeforeGrace", (7, due_timestamp(dt.date(2099, 2, 7)), due_timestamp(dt.date(2099, 2, 1))), 1,
         "invoice 7 cannot be declared in default before 2099-02-07 23:59 HKT (its due date plus the grace "
         "period); the chain time is 2099-02-01 23:59 HKT"),
        ("InvoiceNotDefaulted", (7, 3), 1, "invoice 7 is Financed, not Defaulted; its holder declares a default "
         "first (`scf invoice default`)"),
        ("NoRecourse", (7,), 1, "invoice 7 was not financed with recourse: the seller cannot be made to buy it "
         "back, the loss stays with the holder"),
        ("NothingOwed", (7,), 1, "nothing is owed to the holder of invoice 7: nothing to write off or buy back"),
    ],
)  # fmt: skip
def test_cli_remedies_revert_messages_of_the_new_errors(ledger, error, values, code, message):
    from eth_abi import encode

    from ledger.evm.abi import abi_type

    [item] = [i for i in ledger.invoices.abi if i.get("type") == "error" and i["name"] == error]
    types = [abi_type(i) for i in item["inputs"]]
    data = keccak(text=f"{error}({','.join(types)})")[:4] + encode(types, list(values))
    decoded = ledger.sender.decoder.decode(data)
    assert (str(decoded), decoded.exit_code, decoded.error_name) == (message, code, error)


def test_cli_remedies_not_creditor_names_both_parties(ledger, acct):
    from eth_abi import encode

    data = keccak(text="NotCreditor(uint256,address,address)")[:4] + encode(
        ["uint256", "address", "address"], [7, acct("financier").address, acct("supplier").address]
    )
    assert str(ledger.sender.decoder.decode(data)) == (
        f"Harbour Trade Finance Ltd ({acct('financier').address}) cannot issue a credit note on invoice 7: its "
        f"creditor is {SUPPLIER} ({acct('supplier').address}) (the seller of a financed receivable, otherwise the "
        "holder)"
    )
