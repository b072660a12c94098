"""The `scf` command line through click's runner: the invoice lifecycle, the
rules it shows as one-line refusals, listings and participants."""

from __future__ import annotations

import json

import pytest
from support.cli import SUPPLIER, SUPPLIER_FULL, cli_issue


def test_cli_lifecycle_issue_confirm_finance_repay(cli):
    result = cli(
        "invoice",
        "issue",
        "--buyer",
        "Tsuen Wan Electronics Ltd",
        "--number",
        "INV-CLI-1",
        "--amount",
        "125000.00",
        "--due",
        "2099-01-31",
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("issued invoice 1: INV-CLI-1 to Tsuen Wan Electronics Ltd, HKD 125,000.00")
    assert cli("invoice", "confirm", "1").exit_code == 0
    offer = cli("invoice", "offer", "1", "--to", "Harbour Trade Finance Ltd", "--min-advance", "100000")
    assert offer.exit_code == 0, offer.output
    financed = cli("invoice", "finance", "1", "--advance", "112500.00", "--json")
    assert financed.exit_code == 0, financed.output
    data = json.loads(financed.output)
    assert data["advance"] == "112500.00" and data["seller"]["name"] == "Kowloon Precision Parts Ltd"
    repaid = cli("invoice", "repay", "1", "--amount", "25000.10")
    assert repaid.exit_code == 0, repaid.output
    assert "outstanding HKD 99,999.90 (PartiallyPaid)" in repaid.output
    shown = json.loads(cli("invoice", "show", "1", "--json").output)
    assert shown["status"] == "PartiallyPaid"
    assert shown["paid"] == "25000.10" and shown["outstanding"] == "99999.90"
    assert shown["holder"]["name"] == "Harbour Trade Finance Ltd"


def test_cli_finance_twice_is_refused_with_the_rule(cli):
    invoice_id = cli_issue(cli)
    assert cli("invoice", "confirm", str(invoice_id)).exit_code == 0
    assert cli("invoice", "offer", str(invoice_id), "--min-advance", "1.00").exit_code == 0
    assert cli("invoice", "finance", str(invoice_id), "--advance-rate", "90%").exit_code == 0
    again = cli("invoice", "finance", str(invoice_id), "--advance", "1.00", "--as", "financier2")
    assert again.exit_code == 1, again.output
    assert again.output == (
        f"Error: invoice {invoice_id} is already financed (sold by {SUPPLIER_FULL}); one financing, ever\n"
    )


def test_cli_duplicate_invoice_by_other_spelling_is_refused(cli):
    cli_issue(cli, number="INV-2026/777")
    again = cli(
        "invoice", "issue", "--buyer", "buyer", "--number", "inv 2026 777", "--amount", "125000", "--due", "2099-01-31"
    )
    assert again.exit_code == 1, again.output
    assert again.output == (
        f"Error: duplicate invoice: {SUPPLIER_FULL} already issued invoice number 'INV2026777' (in any spelling) "
        "as invoice 1; an invoice number is used once, ever\n"
    )


@pytest.mark.parametrize(
    ("number", "amount", "due", "buyer"),
    [
        ("INV-CLI-9", "125000.01", "2099-01-31", "Tsuen Wan Electronics Ltd"),  # one cent more
        ("INV-CLI-9", "125000.00", "2099-02-01", "Tsuen Wan Electronics Ltd"),  # one day later
        ("INV-CLI-9", "125000.00", "2099-01-31", "Kwai Chung Logistics Ltd"),  # another buyer
        ("INV-CLI-09", "125000.00", "2099-01-31", "Tsuen Wan Electronics Ltd"),  # a leading zero
        ("inv cli 0009", "125000.00", "2099-01-31", "Tsuen Wan Electronics Ltd"),  # case and separators
        ("ＩＮＶ－ＣＬＩ－９", "125000.00", "2099-01-31", "Tsuen Wan Electronics Ltd"),  # full-width
    ],
)
def test_cli_same_number_with_other_terms_is_refused_and_nothing_changes(cli, home_copy, number, amount, due, buyer):
    """The review's double-issue attempts: a changed cent, day, buyer or spelling is not a new invoice."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(home_copy.rpc_url))
    first = cli_issue(cli, number="INV-CLI-9")
    block = w3.eth.block_number
    again = cli("invoice", "issue", "--buyer", buyer, "--number", number, "--amount", amount, "--due", due)
    assert again.exit_code == 1, again.output
    assert again.output == (
        f"Error: duplicate invoice: {SUPPLIER_FULL} already issued invoice number 'INVCLI9' (in any spelling) "
        f"as invoice {first}; an invoice number is used once, ever\n"
    )
    assert w3.eth.block_number == block


def test_cli_another_supplier_may_use_the_same_number(cli):
    first = cli_issue(cli, number="INV-SHARED-1")
    assert cli_issue(cli, number="INV-SHARED-1", as_="supplier2") == first + 1


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("---", "it needs at least one letter, digit or non-ASCII character"),
        ("INV\x1b[31m1", "it contains a control character"),
        ("X" * 65, "it is 65 bytes long; the limit is 64"),
    ],
)
def test_cli_invalid_invoice_number_is_refused_before_sending(cli, number, reason):
    result = cli("invoice", "issue", "--buyer", "buyer", "--number", number, "--amount", "1", "--due", "2099-01-31")
    assert result.exit_code == 2, result.output
    assert result.output == f"Error: invalid invoice number {number!r}: {reason}\n"


def test_cli_offer_needs_an_asking_advance(cli):
    invoice_id = cli_issue(cli)
    assert cli("invoice", "confirm", str(invoice_id), "--as", "buyer").exit_code == 0
    result = cli("invoice", "offer", str(invoice_id))
    assert result.exit_code == 2, result.output
    assert "Missing option '--min-advance'" in result.output
    zero = cli("invoice", "offer", str(invoice_id), "--min-advance", "0")
    assert zero.exit_code != 0 and zero.output.startswith("Error: "), zero.output
    assert zero.output.count("\n") == 1, zero.output


def test_cli_reserve_is_released_to_the_seller_when_the_buyer_pays(cli):
    invoice_id = cli_issue(cli, amount="1000.00")
    assert cli("invoice", "confirm", str(invoice_id), "--as", "buyer").exit_code == 0
    assert cli("invoice", "offer", str(invoice_id), "--min-advance", "800.00").exit_code == 0
    financed = cli("invoice", "finance", str(invoice_id), "--advance", "850.00", "--due", "900.00")
    assert financed.exit_code == 0, financed.output
    assert financed.output == (
        f"invoice {invoice_id} financed: HKD 850.00 paid to {SUPPLIER}; due to you HKD 900.00, "
        "reserve for the seller HKD 100.00\n"
    )
    first = cli("invoice", "repay", str(invoice_id), "--amount", "600.00", "--as", "buyer")
    assert first.output == (
        f"invoice {invoice_id}: paid HKD 600.00: HKD 600.00 to Harbour Trade Finance Ltd; "
        "outstanding HKD 400.00 (PartiallyPaid)\n"
    )
    last = cli("invoice", "repay", str(invoice_id), "--amount", "400.00", "--as", "buyer")
    assert last.exit_code == 0, last.output
    assert last.output == (
        f"invoice {invoice_id}: paid HKD 400.00: HKD 300.00 to Harbour Trade Finance Ltd, reserve HKD 100.00 released "
        f"to {SUPPLIER}; outstanding HKD 0.00 (Paid)\n"
    )


def test_cli_participant_update_renews_an_expired_kyc_and_renames(cli, home_copy):
    from web3 import Web3

    from ledger.business_time import today as business_today

    w3 = Web3(Web3.HTTPProvider(home_copy.rpc_url))
    added = cli(
        "participant",
        "add",
        "Lantau Metals Ltd",
        "--address",
        "dev9",
        "--role",
        "supplier",
        "--kyc-until",
        business_today().isoformat(),  # the last day in the business time zone
        "--no-sync",
    )
    assert added.exit_code == 0, added.output
    w3.provider.make_request("evm_increaseTime", [3 * 86400])
    w3.provider.make_request("evm_mine", [])
    expired = cli(
        "invoice",
        "issue",
        "--as",
        "dev9",
        "--buyer",
        "buyer",
        "--number",
        "L-1",
        "--amount",
        "1",
        "--due",
        "2099-01-31",
        "--no-sync",
    )
    assert expired.exit_code == 1 and "KYC of participant Lantau Metals Ltd" in expired.output, expired.output
    renewed = cli(
        "participant",
        "update",
        "Lantau Metals Ltd",
        "--kyc-until",
        "2030-12-31",
        "--name",
        "Lantau Metals (HK) Ltd",
        "--no-sync",
    )
    assert renewed.exit_code == 0, renewed.output
    assert renewed.output == (
        "updated Lantau Metals (HK) Ltd: roles supplier, KYC until 2030-12-31; renamed from 'Lantau Metals Ltd'\n"
    )
    issued = cli(
        "invoice",
        "issue",
        "--as",
        "dev9",
        "--buyer",
        "buyer",
        "--number",
        "L-1",
        "--amount",
        "1",
        "--due",
        "2099-01-31",
        "--no-sync",
    )
    assert issued.exit_code == 0, issued.output


def test_cli_participant_update_without_changes_is_refused(cli):
    result = cli("participant", "update", "Kowloon Precision Parts Ltd")
    assert result.exit_code == 2, result.output
    assert result.output == "Error: nothing to change; give --role, --kyc-until or --name\n"


def test_cli_withdraw_listing(cli):
    invoice_id = cli_issue(cli)
    assert cli("invoice", "confirm", str(invoice_id), "--as", "buyer").exit_code == 0
    assert cli("invoice", "offer", str(invoice_id), "--min-advance", "1.00").exit_code == 0
    assert cli("invoice", "withdraw", str(invoice_id)).output == f"invoice {invoice_id}: listing withdrawn\n"
    refused = cli("invoice", "finance", str(invoice_id), "--advance", "1.00")
    assert refused.exit_code == 1
    assert "has no live listing" in refused.output


def test_cli_wrong_role_is_refused(cli):
    result = cli(
        "invoice",
        "issue",
        "--as",
        "buyer",
        "--buyer",
        "buyer2",
        "--number",
        "X-1",
        "--amount",
        "1",
        "--due",
        "2099-01-31",
    )
    assert result.exit_code == 1, result.output
    assert result.output == (
        "Error: participant Tsuen Wan Electronics Ltd (0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC) "
        "lacks the supplier role (has buyer)\n"
    )
