"""Shared by the CLI tests of ``tests/cli/``: the `scf` entry point, party
names as the CLI prints them, issuing through the CLI, the chain head and
the check of a refused command."""

from __future__ import annotations

import json
import sys
from pathlib import Path

SCF = str(Path(sys.executable).parent / "scf")
FINANCIER = "Harbour Trade Finance Ltd (0x90F79bf6EB2c4f870365E785982E1f101E93b906)"
SUPPLIER_FULL = "Kowloon Precision Parts Ltd (0x70997970C51812dc3A010C7d01b50e0d17dc79C8)"
SUPPLIER = "Kowloon Precision Parts Ltd"


def cli_issue(cli, number="INV-CLI-1", amount="125000.00", as_="supplier"):
    """`scf invoice issue --json` as ``as_`` (due 2099-01-31); the new invoice id."""
    result = cli(
        "invoice",
        "issue",
        "--as",
        as_,
        "--buyer",
        "Tsuen Wan Electronics Ltd",
        "--number",
        number,
        "--amount",
        amount,
        "--due",
        "2099-01-31",
        "--json",
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["invoice_id"]


def chain_head(home) -> int:
    """The block number of the node ``home`` (the test's settings) points at."""
    from web3 import Web3

    return int(Web3(Web3.HTTPProvider(home.rpc_url)).eth.block_number)


def refused(result, code: int, message: str | None = None) -> str:
    """Exit ``code``, one line on stderr (``message`` if given), nothing on stdout, no traceback."""
    shown = f"exit {result.exit_code}: {result.output!r}"
    assert result.exit_code == code, shown
    assert "Traceback" not in result.output, shown
    assert result.stdout == "", shown
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, shown
    if message is not None:
        assert result.stderr == f"Error: {message}\n", shown
    return str(result.stderr)
