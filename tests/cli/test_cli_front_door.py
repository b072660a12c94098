"""What a new operations user hit (issue 12), fixed: bad input is one line with
the exit code of its family, nothing is sent, and output to a closed pipe or a
full disk ends quietly or in one line."""

from __future__ import annotations

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
    assert result.returncode == 1, result.stderr
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
    assert active.exit_code == 2, active.output
    assert active.output == "Error: Kwai Chung Logistics Ltd is already not suspended; nothing to change\n"
    assert cli("participant", "suspend", "Kwai Chung Logistics Ltd", "--no-sync").exit_code == 0
    block = w3.eth.block_number
    again = cli("participant", "suspend", "Kwai Chung Logistics Ltd")
    assert again.exit_code == 2, again.output
    assert again.output == "Error: Kwai Chung Logistics Ltd is already suspended; nothing to change\n"
    assert w3.eth.block_number == block


@pytest.mark.parametrize("url", ["mysql://scf@localhost/ledger", "oracle://scf@localhost/ledger"])
def test_cli_unsupported_database_says_which_are_supported(cli, url):
    result = cli("--db-url", url, "invoice", "list")
    assert result.exit_code == 1, result.output
    backend = url.split(":")[0]
    assert result.output == (
        f"Error: unsupported database '{backend}' in {url}: scf stores its ledger in SQLite (sqlite:///PATH) "
        "or PostgreSQL (postgresql+psycopg://USER@HOST/DB)\n"
    )
