"""What a new operations user hit (issue 12), fixed: bad input is one line with
the exit code of its family, nothing is sent, and output to a closed pipe or a
full disk ends quietly or in one line."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
from support.cli import SCF
from web3 import Web3


def _env(home_copy) -> dict[str, str]:
    return {**os.environ, "SCF_HOME": str(home_copy.home), "SCF_RPC_URL": home_copy.rpc_url}


def test_cli_invoice_id_beyond_uint256_is_bad_input(cli):
    result = cli("invoice", "show", "9" * 80)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("Error: Invalid value for 'ID': ") and result.output.count("\n") == 1
    assert "Traceback" not in result.output


def test_cli_output_to_a_closed_pipe_ends_quietly(home_copy):
    """`scf ... | head -0`: the reader is gone before scf writes."""
    proc = subprocess.Popen(
        [SCF, "token", "balance", "Tsuen Wan Electronics Ltd"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(home_copy),
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, stderr
    assert stderr == ""


def test_cli_output_to_a_full_disk_is_one_line(home_copy):
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [SCF, "token", "balance", "Tsuen Wan Electronics Ltd"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(home_copy),
            timeout=120,
        )
    assert result.returncode == 3, result.stderr
    assert result.stderr == "Error: cannot write the output: No space left on device; write it somewhere else\n"


def test_cli_mint_zero_is_refused_before_sending(cli, home_copy):
    w3 = Web3(Web3.HTTPProvider(home_copy.rpc_url))
    block = w3.eth.block_number
    result = cli("token", "mint", "--to", "buyer", "--amount", "0.00")
    assert result.exit_code == 2, result.output
    assert result.output == (
        "Error: invalid amount '0.00': minting nothing sends a transaction for nothing; give more than 0\n"
    )
    assert w3.eth.block_number == block


def test_cli_suspending_twice_and_reinstating_an_active_participant_are_refused(cli, home_copy):
    w3 = Web3(Web3.HTTPProvider(home_copy.rpc_url))
    active = cli("participant", "reinstate", "Kwai Chung Logistics Ltd")
    assert active.exit_code == 1, active.output
    assert active.output == "Error: Kwai Chung Logistics Ltd is already not suspended; nothing to change\n"
    assert cli("participant", "suspend", "Kwai Chung Logistics Ltd", "--no-sync").exit_code == 0
    block = w3.eth.block_number
    again = cli("participant", "suspend", "Kwai Chung Logistics Ltd")
    assert again.exit_code == 1, again.output
    assert again.output == "Error: Kwai Chung Logistics Ltd is already suspended; nothing to change\n"
    assert w3.eth.block_number == block


@pytest.mark.parametrize("url", ["mysql://scf@localhost/ledger", "oracle://scf@localhost/ledger"])
def test_cli_unsupported_database_says_which_are_supported(cli, url):
    result = cli("--db-url", url, "invoice", "list")
    assert result.exit_code == 3, result.output
    backend = url.split(":")[0]
    assert result.output == (
        f"Error: unsupported database '{backend}' in {url}: scf stores its ledger in SQLite (sqlite:///PATH) "
        "or PostgreSQL (postgresql+psycopg://USER@HOST/DB)\n"
    )


def test_cli_address_with_a_wrong_checksum_is_refused(cli):
    right = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"  # buyer2
    wrong = right.replace("976EA", "976eA")  # one letter's case flipped: a typo in a checksummed address
    assert cli("token", "balance", right).exit_code == 0
    assert cli("token", "balance", right.lower()).exit_code == 0
    result = cli("token", "balance", wrong)
    assert result.exit_code == 2, result.output
    assert (
        result.output
        == f"Error: invalid participant address {wrong!r}: its EIP-55 checksum is wrong (a typo?); check it, "
        "or give it in lower case\n"
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Evil\nLtd", "it contains a line break or control character"),
        ("Evil\x1b[2J Ltd", "it contains a line break or control character"),
        ("0x5555555555555555555555555555555555555555", "a name starting with 0x would be read as an address"),
    ],
)
def test_cli_participant_names_are_printable_and_never_addresses(cli, home_copy, name, reason):
    w3 = Web3(Web3.HTTPProvider(home_copy.rpc_url))
    block = w3.eth.block_number
    result = cli("participant", "add", name, "--address", "dev9", "--role", "supplier")
    assert result.exit_code == 2, result.output
    assert result.output == f"Error: invalid participant name {name!r}: {reason}\n"
    assert w3.eth.block_number == block


def test_cli_participant_name_of_5000_characters_is_refused(cli):
    result = cli("participant", "add", "N" * 5000, "--address", "dev9", "--role", "supplier")
    assert result.exit_code == 2, result.output
    assert result.output == "Error: invalid participant name: it is 5000 bytes long; the limit is 128\n"


def test_cli_offer_bounds_and_financier_role(cli):
    from support.cli import cli_issue

    invoice_id = cli_issue(cli)
    assert cli("invoice", "confirm", str(invoice_id), "--as", "buyer").exit_code == 0
    long = cli("invoice", "offer", str(invoice_id), "--min-advance", "1.00", "--days", "100000")
    assert long.exit_code == 2, long.output
    assert long.output == "Error: invalid listing period 100000 days: must be 1 to 365\n"
    not_financier = cli("invoice", "offer", str(invoice_id), "--min-advance", "1.00", "--to", "buyer2")
    assert not_financier.exit_code == 1, not_financier.output
    assert not_financier.output == (
        "Error: Kwai Chung Logistics Ltd does not have the financier role; list it for a financier, "
        "or for any financier without --to\n"
    )
    above = cli("invoice", "offer", str(invoice_id), "--min-advance", "200000.00")
    assert above.exit_code == 1 and above.output.startswith("Error: asking advance "), above.output


def test_cli_quote_by_a_party_without_the_financier_role_stores_nothing(cli, home_copy):
    from ledger.config import REPO_ROOT

    policy = str(REPO_ROOT / "examples" / "policy.toml")
    assert cli("index", "sync").exit_code == 0
    refused = cli("finance", "quote", "1", "--as", "supplier", "--policy", policy)
    assert refused.exit_code == 1, refused.output
    assert refused.output == (
        "Error: Kowloon Precision Parts Ltd does not have the financier role; a quote is a financier's decision\n"
    )
    listed = cli("finance", "list", "--financier", "supplier", "--json")
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output) == []


def test_cli_acting_on_a_cancelled_invoice_says_it_was_cancelled(cli, home_copy):
    """Not "the holder is 0x0000...": a cancelled invoice is burnt, and the line says so."""
    from support.cli import cli_issue

    invoice_id = cli_issue(cli, number="INV-FD-CANCELLED")
    assert cli("invoice", "cancel", str(invoice_id), "--as", "supplier").exit_code == 0
    w3 = Web3(Web3.HTTPProvider(home_copy.rpc_url))
    block = w3.eth.block_number
    result = cli("invoice", "offer", str(invoice_id), "--min-advance", "1.00", "--as", "supplier")
    assert result.exit_code == 1, result.output
    assert result.output == (
        f"Error: invoice {invoice_id} has no holder: it was cancelled, and a cancelled invoice is closed\n"
    )
    assert w3.eth.block_number == block


def test_cli_withdrawing_a_listing_that_does_not_exist_is_refused(cli, home_copy):
    from support.cli import cli_issue

    invoice_id = cli_issue(cli, number="INV-FD-UNLISTED")
    w3 = Web3(Web3.HTTPProvider(home_copy.rpc_url))
    block = w3.eth.block_number
    result = cli("invoice", "withdraw", str(invoice_id), "--as", "supplier")
    assert result.exit_code == 1, result.output
    assert result.output == (
        f"Error: invoice {invoice_id} is not listed for financing; there is no listing to withdraw\n"
    )
    assert w3.eth.block_number == block
