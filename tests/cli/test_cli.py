"""The `scf` command line: the lifecycle through click's runner, and the error
paths through the real `scf` entry point (exit code, one line, no traceback)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ledger.cli import main
from ledger.config import REPO_ROOT

SCF = str(Path(sys.executable).parent / "scf")
FINANCIER = "Harbour Trade Finance Ltd (0x90F79bf6EB2c4f870365E785982E1f101E93b906)"
SUPPLIER_FULL = "Kowloon Precision Parts Ltd (0x70997970C51812dc3A010C7d01b50e0d17dc79C8)"
SUPPLIER = "Kowloon Precision Parts Ltd"


@pytest.fixture()
def cli(home_copy):
    """Run `scf --home <copy> --rpc-url <test chain> ...` in-process."""
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(
            main, ["--home", str(home_copy.home), "--rpc-url", home_copy.rpc_url, *args], env=env or {}
        )

    return run


@pytest.fixture()
def scf(home_copy):
    """Run the real `scf` entry point in a subprocess."""

    def run(*args: str, env: dict[str, str] | None = None, rpc: str | None = None):
        full_env = {
            **os.environ,
            "SCF_HOME": str(home_copy.home),
            "SCF_RPC_URL": rpc or home_copy.rpc_url,
            **(env or {}),
        }
        return subprocess.run([SCF, *args], capture_output=True, text=True, env=full_env, timeout=120)

    return run


def _issue(cli, number="INV-CLI-1", amount="125000.00", as_="supplier"):
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
    assert result.output.startswith("issued invoice 1: INV-CLI-1 to Tsuen Wan Electronics Ltd, HKD 125000.00")
    assert cli("invoice", "confirm", "1").exit_code == 0
    offer = cli("invoice", "offer", "1", "--to", "Harbour Trade Finance Ltd", "--min-advance", "100000")
    assert offer.exit_code == 0, offer.output
    financed = cli("invoice", "finance", "1", "--advance", "112500.00", "--json")
    assert financed.exit_code == 0, financed.output
    data = json.loads(financed.output)
    assert data["advance"] == "112500.00" and data["seller"] == "Kowloon Precision Parts Ltd"
    repaid = cli("invoice", "repay", "1", "--amount", "25000.10")
    assert repaid.exit_code == 0, repaid.output
    assert "outstanding 99999.90 (PartiallyPaid)" in repaid.output
    shown = json.loads(cli("invoice", "show", "1", "--json").output)
    assert shown["status"] == "PartiallyPaid"
    assert shown["paid"] == "25000.10" and shown["outstanding"] == "99999.90"
    assert shown["holder"]["name"] == "Harbour Trade Finance Ltd"


def test_cli_finance_twice_is_refused_with_the_rule(cli):
    invoice_id = _issue(cli)
    assert cli("invoice", "confirm", str(invoice_id)).exit_code == 0
    assert cli("invoice", "offer", str(invoice_id), "--min-advance", "1.00").exit_code == 0
    assert cli("invoice", "finance", str(invoice_id), "--advance-rate", "90%").exit_code == 0
    again = cli("invoice", "finance", str(invoice_id), "--advance", "1.00", "--as", "financier2")
    assert again.exit_code == 1, again.output
    assert again.output == (
        f"Error: invoice {invoice_id} is already financed (sold by {SUPPLIER_FULL}); one financing, ever\n"
    )


def test_cli_duplicate_invoice_by_other_spelling_is_refused(cli):
    _issue(cli, number="INV-2026/777")
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
    first = _issue(cli, number="INV-CLI-9")
    block = w3.eth.block_number
    again = cli("invoice", "issue", "--buyer", buyer, "--number", number, "--amount", amount, "--due", due)
    assert again.exit_code == 1, again.output
    assert again.output == (
        f"Error: duplicate invoice: {SUPPLIER_FULL} already issued invoice number 'INVCLI9' (in any spelling) "
        f"as invoice {first}; an invoice number is used once, ever\n"
    )
    assert w3.eth.block_number == block


def test_cli_another_supplier_may_use_the_same_number(cli):
    first = _issue(cli, number="INV-SHARED-1")
    assert _issue(cli, number="INV-SHARED-1", as_="supplier2") == first + 1


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
    invoice_id = _issue(cli)
    assert cli("invoice", "confirm", str(invoice_id), "--as", "buyer").exit_code == 0
    result = cli("invoice", "offer", str(invoice_id))
    assert result.exit_code == 2, result.output
    assert "Missing option '--min-advance'" in result.output
    zero = cli("invoice", "offer", str(invoice_id), "--min-advance", "0")
    assert zero.exit_code != 0 and zero.output.startswith("Error: "), zero.output
    assert zero.output.count("\n") == 1, zero.output


def test_cli_reserve_is_released_to_the_seller_when_the_buyer_pays(cli):
    invoice_id = _issue(cli, amount="1000.00")
    assert cli("invoice", "confirm", str(invoice_id), "--as", "buyer").exit_code == 0
    assert cli("invoice", "offer", str(invoice_id), "--min-advance", "800.00").exit_code == 0
    financed = cli("invoice", "finance", str(invoice_id), "--advance", "850.00", "--due", "900.00")
    assert financed.exit_code == 0, financed.output
    assert financed.output == (
        f"invoice {invoice_id} financed: HKD 850.00 paid to {SUPPLIER}; due to you 900.00, "
        "reserve for the seller 100.00\n"
    )
    first = cli("invoice", "repay", str(invoice_id), "--amount", "600.00", "--as", "buyer")
    assert first.output == (
        f"invoice {invoice_id}: paid HKD 600.00: 600.00 to Harbour Trade Finance Ltd; "
        "outstanding 400.00 (PartiallyPaid)\n"
    )
    last = cli("invoice", "repay", str(invoice_id), "--amount", "400.00", "--as", "buyer")
    assert last.exit_code == 0, last.output
    assert last.output == (
        f"invoice {invoice_id}: paid HKD 400.00: 300.00 to Harbour Trade Finance Ltd, reserve 100.00 released "
        f"to {SUPPLIER}; outstanding 0.00 (Paid)\n"
    )


def test_cli_participant_update_renews_an_expired_kyc_and_renames(cli, home_copy):
    import datetime as dt

    from web3 import Web3

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
        dt.date.today().isoformat(),
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
    invoice_id = _issue(cli)
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


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["invoice", "show", "99"], "Error: invoice 99 does not exist\n", 1),
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
            1,
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
        _issue(cli)
    result = cli(*args)
    assert result.exit_code == code, result.output
    assert result.output == message


def test_cli_failed_command_leaves_chain_unchanged(cli, home_copy):
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(home_copy.rpc_url))
    invoice_id = _issue(cli)
    block = w3.eth.block_number
    result = cli("invoice", "repay", str(invoice_id), "--amount", "10")  # not confirmed yet
    assert result.exit_code == 1
    assert result.output == f"Error: invoice {invoice_id} cannot be repaid in status Issued\n"
    assert w3.eth.block_number == block


def test_cli_entry_point_error_is_one_line_without_traceback(scf):
    result = scf("invoice", "show", "12345")
    assert result.returncode == 1, result.stderr
    assert result.stderr == "Error: invoice 12345 does not exist\n"
    assert result.stdout == ""


def test_cli_entry_point_unreachable_rpc(scf):
    from ledger.evm.node import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = scf("invoice", "show", "1", rpc=url)
    assert result.returncode == 1, result.stderr
    assert result.stderr == (
        f"Error: cannot reach the JSON-RPC endpoint {url} (connection refused); "
        "start the local chain with `scf node start` or pass --rpc-url\n"
    )


def test_cli_entry_point_no_deployment(scf, tmp_path):
    result = scf("invoice", "show", "1", env={"SCF_HOME": str(tmp_path / "empty")})
    assert result.returncode == 1, result.stderr
    assert result.stderr == f"Error: no contracts deployed on chain 31337 from {tmp_path / 'empty'}; run `scf deploy`\n"


def test_cli_entry_point_bad_option_value(scf):
    result = scf("invoice", "confirm", "zero")
    assert result.returncode == 2
    assert result.stderr == (
        "Error: Invalid value for 'ID': 'zero' is not a valid integer range. (see `scf invoice confirm --help`)\n"
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
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith("Error: transaction 0x")
    assert result.stderr.endswith(
        " was not mined within 1s; check the node is mining, then look the transaction up before sending it again\n"
    )


def test_cli_account_keystore_is_encrypted_and_key_never_printed(cli, home_copy):
    key = "0x" + "5a" * 32
    created = cli("account", "import", "treasury", env={"SCF_PASSWORD": "s3cret", "SCF_PRIVATE_KEY": key})
    assert created.exit_code == 0, created.output
    assert "5a5a5a" not in created.output
    path = home_copy.home / "keystore" / "treasury.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "5a5a5a" not in path.read_text()
    listed = cli("account", "list", "--json")
    names = {a["name"]: a for a in json.loads(listed.output)}
    assert names["treasury"]["kind"] == "keystore"
    assert names["operator"]["kind"] == "dev"
    again = cli("account", "new", "treasury", env={"SCF_PASSWORD": "x"})
    assert again.exit_code == 1 and again.output == "Error: account 'treasury' already exists; choose another name\n"


def test_cli_keystore_account_signs_with_password(cli, home_copy):
    created = cli("account", "new", "ops2", "--json", env={"SCF_PASSWORD": "pw"})
    address = json.loads(created.output)["address"]
    added = cli("participant", "add", "Lantau Supplies Ltd", "--address", address, "--role", "supplier,buyer")
    assert added.exit_code == 0, added.output
    wrong = cli(
        "invoice",
        "issue",
        "--as",
        "ops2",
        "--buyer",
        "buyer",
        "--number",
        "L-1",
        "--amount",
        "10",
        "--due",
        "2099-01-01",
        env={"SCF_PASSWORD": "nope"},
    )
    assert wrong.exit_code == 1 and wrong.output == "Error: wrong password for account 'ops2'\n"
    ok = cli(
        "invoice",
        "issue",
        "--as",
        "ops2",
        "--buyer",
        "buyer",
        "--number",
        "L-1",
        "--amount",
        "10",
        "--due",
        "2099-01-01",
        env={"SCF_PASSWORD": "pw"},
    )
    assert ok.exit_code == 0, ok.output


def test_cli_name_of_a_participant_and_of_another_local_account_is_refused(cli, home_copy):
    """A name that is a registered participant and a local account of another
    address must not silently pick one: the invoice would go to whichever
    the lookup tried first."""
    tag = f"hk{os.getpid()}x{time.monotonic_ns() % 10**8}"
    other = json.loads(cli("account", "new", f"{tag}a", "--json", env={"SCF_PASSWORD": "pw"}).output)["address"]
    mine = json.loads(cli("account", "new", tag, "--json", env={"SCF_PASSWORD": "pw"}).output)["address"]
    added = cli("participant", "add", tag, "--address", other, "--role", "buyer")
    assert added.exit_code == 0, added.output

    issued = cli("invoice", "issue", "--buyer", tag, "--number", f"{tag}-1", "--amount", "5", "--due", "2099-01-01")
    listed = cli("invoice", "list", "--buyer", tag)

    message = f"name '{tag}' is both the participant {other} and the local account {mine}; use the address\n"
    assert issued.exit_code == 2 and issued.output == f"Error: buyer {message}", issued.output
    assert listed.exit_code == 2 and listed.output == f"Error: buyer {message}", listed.output
    # --as names an account: there the local account is meant.
    from ledger.names import resolve

    keystore = home_copy.settings.keystore_dir
    assert resolve(tag, {other: tag}, "financier", keystore, account_first=True) == mine
    assert resolve(f"{tag}a", {other: tag}, "financier", keystore, account_first=True) == other


def test_cli_node_start_stop_keeps_state(tmp_path):
    from ledger.evm.node import free_port, pid_alive

    home = tmp_path / "home"
    env = {**os.environ, "SCF_HOME": str(home), "SCF_NODE_PORT": str(free_port())}
    env.pop("SCF_RPC_URL", None)

    def scf(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([SCF, *args, "--json"], capture_output=True, text=True, env=env, timeout=120)

    started = scf("node", "start")
    assert started.returncode == 0, started.stderr
    pid = json.loads(started.stdout)["pid"]
    try:
        assert json.loads(scf("node", "start").stdout)["started"] is False
        assert scf("deploy").returncode == 0
        added = subprocess.run(
            [SCF, "participant", "add", "Tai Po Foods Ltd", "--address", "supplier", "--role", "supplier"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert added.returncode == 0, added.stderr
        stopped = json.loads(scf("node", "stop").stdout)["stopped"]
        assert stopped["pid"] == pid and not pid_alive(pid)
        assert json.loads(scf("node", "status").stdout) == {"running": False}
        restarted = scf("node", "start")
        assert restarted.returncode == 0, restarted.stderr
        pid = json.loads(restarted.stdout)["pid"]
        # `participant list` reads the indexed ledger: index the restarted chain first.
        assert scf("index", "sync").returncode == 0
        listed = subprocess.run(
            [SCF, "participant", "list", "--json"], capture_output=True, text=True, env=env, timeout=60
        )
        assert [p["name"] for p in json.loads(listed.stdout)] == ["Tai Po Foods Ltd"]
    finally:
        subprocess.run([SCF, "node", "stop"], env=env, timeout=60)
    assert not pid_alive(pid)


def test_cli_sync_makes_a_new_invoice_visible_to_queries(cli):
    invoice_id = _issue(cli, number="INV-SYNC-1")
    listed = cli("invoice", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [row["invoice_id"] for row in json.loads(listed.output)] == [invoice_id]
    unsynced = cli(
        "invoice",
        "issue",
        "--buyer",
        "buyer",
        "--number",
        "INV-SYNC-2",
        "--amount",
        "5",
        "--due",
        "2099-01-31",
        "--no-sync",
        "--json",
    )
    assert unsynced.exit_code == 0, unsynced.output
    listed = cli("invoice", "list", "--json")
    assert [row["invoice_id"] for row in json.loads(listed.output)] == [invoice_id]


def test_cli_sync_failure_warns_but_keeps_the_transaction(cli, home_copy):
    result = cli(
        "invoice",
        "issue",
        "--buyer",
        "buyer",
        "--number",
        "INV-SYNC-3",
        "--amount",
        "5",
        "--due",
        "2099-01-31",
        "--json",
        env={"SCF_DB_URL": "postgresql+psycopg://nobody@127.0.0.1:1/x"},
    )
    assert result.exit_code == 0, result.output
    assert "warning: done on chain, but the database was not updated" in result.output
    assert result.output.rstrip().endswith("run `scf index sync`")


def test_cli_node_ignores_a_recorded_pid_that_is_not_our_node(tmp_path):
    """A PID reused by another process (here: this test process) is never signalled."""
    from ledger.evm.node import pid_alive

    node_dir = tmp_path / "home" / "node"
    node_dir.mkdir(parents=True)
    (node_dir / "anvil.json").write_text(json.dumps({"pid": os.getpid(), "port": 1, "start_time": 1}))
    env = {**os.environ, "SCF_HOME": str(tmp_path / "home")}
    status = subprocess.run([SCF, "node", "status"], capture_output=True, text=True, env=env, timeout=60)
    assert status.stdout == "local chain is not running; start it with `scf node start`\n"
    stopped = subprocess.run([SCF, "node", "stop"], capture_output=True, text=True, env=env, timeout=60)
    assert stopped.returncode == 0 and stopped.stdout == "local chain is not running\n"
    assert pid_alive(os.getpid())
    assert not (node_dir / "anvil.json").exists()


def test_cli_deploy_gives_each_role_to_its_own_account(cli):
    deployed = cli("deploy", "--force", "--currency-manager", "dev9", "--minter", "dev8", "--json")
    assert deployed.exit_code == 0, deployed.output
    data = json.loads(deployed.output)
    assert data["version"] == 2
    assert data["roles"] == {
        "admin": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "operator": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
        "currency_manager": "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720",
        "minter": "0x23618e81E3f5cdF7f54C3d65f7FBc0aBf5B21E8f",
    }
    refused = cli("token", "mint", "--to", "dev9", "--amount", "1.00", "--as", "operator")
    assert refused.exit_code == 1, refused.output
    assert refused.output == "Error: 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 lacks the minter permission\n"
    assert cli("token", "mint", "--to", "dev9", "--amount", "1.00", "--as", "dev8", "--no-sync").exit_code == 0


def _commands(group, path=()):
    """Every command under ``group`` with its path (groups included)."""
    import click

    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_cli_every_command_has_a_description_and_an_example():
    """The sqlite-utils rule, for commands added later too: a paragraph that
    says what the command does, then at least one `Example:` block."""
    runner = CliRunner()
    paths = [()] + [path for path, _ in _commands(main)]
    assert len(paths) > 40
    for path in paths:
        result = runner.invoke(main, [*path, "--help"], prog_name="scf")
        assert result.exit_code == 0, (path, result.output)
        text = result.output.split("Options:")[0]
        paragraphs = [p.strip() for p in text.split("\n\n")[1:] if p.strip()]  # after the usage line
        assert paragraphs, (path, result.output)
        description = paragraphs[0]
        assert not description.startswith("Example") and len(description.split()) >= 6, (path, description)
        assert "Example:" in paragraphs, (path, result.output)
        example = paragraphs[paragraphs.index("Example:") + 1]
        assert example.startswith("scf ") or example.startswith("SCF_"), (path, example)


def test_cli_as_is_never_a_filter():
    """--as is the acting party; where it used to filter, it is the deprecated
    spelling of the named filter (and says so in the help)."""
    import click

    for path, command in _commands(main):
        for param in command.params:
            if isinstance(param, click.Option) and "--as" in param.opts:
                assert param.name in ("as_name", "deprecated_as"), path
                if param.name == "deprecated_as":
                    assert (param.help or "").startswith("Deprecated spelling of --"), path


def _without_clock(data):
    """A report without its `as_of` time (the wall clock when past the last block's)."""
    return {k: v for k, v in data.items() if k != "as_of"} if isinstance(data, dict) else data


def _financed_invoice(cli):
    invoice_id = _issue(cli)
    assert cli("invoice", "confirm", str(invoice_id), "--as", "buyer").exit_code == 0
    assert cli("invoice", "offer", str(invoice_id), "--min-advance", "1.00").exit_code == 0
    assert cli("invoice", "finance", str(invoice_id), "--advance-rate", "90%").exit_code == 0
    return invoice_id


def test_cli_old_as_filter_spelling_warns_and_still_filters(cli):
    _financed_invoice(cli)
    for args, new, name in (
        (["report", "aging", "--json"], "--holder", "financier"),
        (["report", "exposure", "--by", "financier", "--json"], "--financier", "Harbour Trade Finance Ltd"),
        (["finance", "list", "--json"], "--financier", "financier"),
    ):
        current = cli(*args, new, name)
        assert current.exit_code == 0, current.output
        assert current.stderr == ""
        old = cli(*args, "--as", name)
        assert old.exit_code == 0, old.output
        assert old.stderr == f"warning: --as here is deprecated; use {new}\n"
        shown = _without_clock(json.loads(current.stdout))
        assert _without_clock(json.loads(old.stdout)) == shown
        assert shown != _without_clock(json.loads(cli(*args, new, "buyer").stdout)) or args[1] == "list", args
    both = cli("report", "aging", "--as", "financier", "--holder", "buyer")
    assert both.exit_code == 2, both.output
    assert both.stderr.splitlines()[-1] == "Error: --as and --holder name different parties; give --holder only"


def test_cli_reports_find_the_financiers_policy_as_quote_does(cli, home_copy):
    """`report exposure --financier` and `report portfolio --as` look up the
    financier's policy (<home>/policies/<name>.toml) when no --policy is given."""
    import shutil

    def exposure(*args: str):
        result = cli("report", "exposure", "--by", "financier", *args, "--json")
        assert result.exit_code == 0, result.output
        [row] = json.loads(result.output)["rows"]
        return row

    _financed_invoice(cli)
    assert exposure("--financier", "financier")["limit"] is None
    (home_copy.home / "policies").mkdir()
    shutil.copy(REPO_ROOT / "examples" / "policy.toml", home_copy.home / "policies" / "financier.toml")
    assert exposure("--financier", "financier")["limit"] == "20000000.00"
    assert exposure()["limit"] is None  # no financier named: no policy
    portfolio = cli("report", "portfolio", "--as", "financier", "--json")
    assert portfolio.exit_code == 0, portfolio.output
    broken = home_copy.home / "policies" / "financier.toml"
    broken.write_text("not toml [")
    refused = cli("report", "portfolio", "--as", "financier")
    assert refused.exit_code != 0 and refused.output.startswith(f"Error: {broken}"), refused.output
