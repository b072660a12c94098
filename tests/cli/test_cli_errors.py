"""Error paths of the `scf` command line: bad input and usage errors in one
line, through click's runner and the real `scf` entry point (exit code, one
line, no traceback); unreachable or foreign chains; transactions not mined."""

from __future__ import annotations

import pytest
from support.cli import cli_issue

from ledger.config import REPO_ROOT


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["invoice", "show", "99"], "Error: invoice 99 does not exist; see `scf invoice list`\n", 2),
        (
            ["invoice", "issue", "--buyer", "buyer", "--number", "A", "--amount", "12.345", "--due", "2099-01-01"],
            "Error: invalid amount '12.345': at most 2 decimal places for this currency\n",
            2,
        ),
        (
            ["invoice", "issue", "--buyer", "buyer", "--number", "A", "--amount", "-5", "--due", "2099-01-01"],
            "Error: invalid amount '-5': use a positive decimal number such as 125000.00\n",
            2,
        ),
        (
            ["invoice", "issue", "--buyer", "buyer", "--number", "A", "--amount", "5", "--due", "31/01/2099"],
            "Error: invalid due date '31/01/2099': use YYYY-MM-DD, for example 2027-01-31\n",
            2,
        ),
        (
            ["invoice", "issue", "--buyer", "0x1234", "--number", "A", "--amount", "5", "--due", "2099-01-01"],
            "Error: invalid buyer address '0x1234': expected 0x and 40 hex digits\n",
            2,
        ),
        (
            ["invoice", "issue", "--buyer", "Nobody Ltd", "--number", "A", "--amount", "5", "--due", "2099-01-01"],
            "Error: unknown buyer 'Nobody Ltd': no participant or local account has that name; give a registered "
            "name, an account name or an address (see `scf participant list`)\n",
            2,
        ),
        (
            [
                "invoice",
                "issue",
                "--buyer",
                "buyer",
                "--number",
                "A",
                "--amount",
                "5",
                "--due",
                "2099-01-01",
                "--currency",
                "USD",
            ],
            "Error: unknown currency 'USD'; this deployment settles in: HKD\n",
            2,
        ),
        (
            ["invoice", "confirm", "1", "--as", "mallory"],
            "Error: unknown account 'mallory'; see `scf account list`\n",
            2,
        ),
        (
            ["invoice", "finance", "1", "--advance", "1", "--advance-rate", "0.9"],
            "Error: state the advance in exactly one way: --advance, --advance-rate or --discount-rate\n",
            2,
        ),
        (
            ["participant", "add", "X Ltd", "--address", "dev9", "--role", "buyer", "--kyc-until", "2020-01-01"],
            "Error: KYC date 2020-01-01 is in the past; give the last day the KYC is valid (today or later)\n",
            2,
        ),
        (
            ["invoice", "repay", "1", "--amount", "12,34"],
            "Error: invalid amount '12,34': use a positive decimal number such as 125000.00\n",
            2,
        ),
        (
            ["participant", "add", "X Ltd", "--address", "dev9", "--role", "banker"],
            "Error: unknown role 'banker'; use supplier, buyer, financier or auditor (comma-separated)\n",
            2,
        ),
    ],
)
def test_cli_bad_input_is_one_line(cli, args, message, code):
    if args[:2] in (["invoice", "finance"], ["invoice", "repay"]):
        cli_issue(cli)
    result = cli(*args)
    assert result.exit_code == code, result.output
    assert result.output == message


def test_cli_failed_command_leaves_chain_unchanged(cli, home_copy):
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(home_copy.rpc_url))
    invoice_id = cli_issue(cli)
    block = w3.eth.block_number
    result = cli("invoice", "repay", str(invoice_id), "--amount", "10")  # not confirmed yet
    assert result.exit_code == 1
    assert result.output == f"Error: invoice {invoice_id} cannot be repaid in status Issued\n"
    assert w3.eth.block_number == block


def test_cli_entry_point_error_is_one_line_without_traceback(scf):
    result = scf("invoice", "show", "12345")
    assert result.returncode == 2, result.stderr
    assert result.stderr == "Error: invoice 12345 does not exist; see `scf invoice list`\n"
    assert result.stdout == ""


def test_cli_entry_point_unreachable_rpc(scf):
    from ledger.evm.node import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = scf("invoice", "show", "1", rpc=url)
    assert result.returncode == 3, result.stderr
    assert result.stderr == (
        f"Error: cannot reach the JSON-RPC endpoint {url} (connection refused); "
        "start the local chain with `scf node start` or pass --rpc-url\n"
    )


def test_cli_entry_point_no_deployment(scf, tmp_path):
    result = scf("invoice", "show", "1", env={"SCF_HOME": str(tmp_path / "empty")})
    assert result.returncode == 3, result.stderr
    assert result.stderr == f"Error: no contracts deployed on chain 31337 from {tmp_path / 'empty'}; run `scf deploy`\n"


def test_cli_entry_point_bad_option_value(scf):
    result = scf("invoice", "confirm", "zero")
    assert result.returncode == 2
    assert result.stderr == (
        "Error: Invalid value for 'ID...': 'zero' is not a valid integer range. (see `scf invoice confirm --help`)\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["invoice", "issue", "--buyer", "buyer"], "Missing option '--number'. (see `scf invoice issue --help`)"),
        (["invoice", "frobnicate"], "No such command 'frobnicate'. (see `scf invoice --help`)"),
        (
            ["--home", "/etc/passwd", "node", "status"],
            "Invalid value for '--home': Directory '/etc/passwd' is a file. (see `scf --help`)",
        ),
    ],
)
def test_cli_usage_errors_are_one_line(scf, args, message):
    result = scf(*args)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"Error: {message}\n"


def test_cli_deploy_twice_refuses_without_force(scf):
    result = scf("deploy")
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Error: contracts are already deployed on chain 31337")
    assert result.stderr.endswith("use --force to deploy a new set\n")


@pytest.fixture()
def other_chain(tmp_path):
    """An Anvil that is not the dev chain (chain id 1337)."""
    from ledger.evm.node import spawn_anvil

    proc = spawn_anvil(REPO_ROOT / "node_modules", chain_id=1337)
    yield proc
    proc.stop()


def test_cli_dev_keys_refused_off_the_dev_chain(scf, other_chain):
    result = scf("deploy", rpc=other_chain.url)
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        "Error: 'operator' is a public dev key and is refused on chain 1337; "
        "create a real account with `scf account new`\n"
    )


def test_cli_transaction_not_mined_in_time(scf, tmp_path):
    from ledger.evm.node import spawn_anvil

    proc = spawn_anvil(REPO_ROOT / "node_modules", extra_args=["--no-mining"])
    try:
        result = scf("deploy", rpc=proc.url, env={"SCF_HOME": str(tmp_path / "h"), "SCF_TX_TIMEOUT": "1"})
    finally:
        proc.stop()
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("Error: transaction 0x")
    tx = result.stderr.split()[2]
    assert result.stderr == (
        f"Error: transaction {tx} was not mined within 1s: check the node is mining. Look it up with `scf tx show "
        f"{tx}` before sending it again: running the command again while it waits sends it a second time, and both "
        f"would be mined. To stop waiting for it, raise its fee with `scf tx replace {tx} --as operator` or "
        f"withdraw it with `scf tx cancel {tx} --as operator`\n"
    )
