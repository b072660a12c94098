"""Accounts, nodes and deployment through the `scf` command line: encrypted
keystores, account names, the local node's start and stop, the sync after a
transaction, one account per role."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import time

from support.cli import SCF, cli_issue


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
    assert again.exit_code == 2 and again.output == "Error: account 'treasury' already exists; choose another name\n"


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
    assert wrong.exit_code == 2 and wrong.output == "Error: wrong password for account 'ops2'\n"
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
    invoice_id = cli_issue(cli, number="INV-SYNC-1")
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
    assert data["version"] == 5
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


def test_cli_account_list_shows_unreadable_keystores_and_lists_the_rest(cli, home_copy):
    """One corrupt file (the `KeyError: 'address'` of issue 12) must not break
    the listing: it is listed as unreadable, with a warning on stderr, and
    the exit code stays 0."""
    created = cli("account", "new", "treasury", "--json", env={"SCF_PASSWORD": "pw"})
    address = json.loads(created.stdout)["address"]
    keystore = home_copy.home / "keystore"
    (keystore / "broken.json").write_text('{"not": "a keystore"}')
    (keystore / "empty.json").write_text("")
    (keystore / "garbage.json").write_text("not json {")
    (keystore / "folder.json").mkdir()
    bad = {
        "broken": "is corrupt (it lacks 'address')",
        "empty": "is empty",
        "folder": "cannot be read (Is a directory)",
        "garbage": "is not a JSON key file",
    }
    warnings = [
        f"warning: keystore file {keystore / (name + '.json')} {problem}; restore it from a backup, or move it "
        f"away and re-import the key with `scf account import {name}`"
        for name, problem in sorted(bad.items())
    ]

    text = cli("account", "list")
    assert text.exit_code == 0, text.output
    assert text.stderr.splitlines() == warnings
    lines = text.stdout.splitlines()
    assert f"treasury     {address}  keystore" in lines
    assert "operator     0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266  dev  (dev chain 31337 only)" in lines
    for name in bad:
        assert f"{name:<12} {'(unreadable)':<42}  keystore" in lines

    listed = cli("account", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert listed.stderr.splitlines() == warnings
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["treasury"] == {"name": "treasury", "address": address, "kind": "keystore", "problem": None}
    for name, problem in bad.items():
        assert rows[name]["address"] is None and rows[name]["kind"] == "keystore"
        assert rows[name]["problem"].startswith(f"keystore file {keystore / (name + '.json')} {problem}; ")
    assert len(rows) == 10 + 1 + len(bad)  # the dev accounts, treasury, the unreadable ones


def test_cli_account_errors_of_the_user_are_bad_input(cli, home_copy):
    """A name, password or key that cannot be used is bad input (2); a dev
    key off the dev chain is refused by a rule (tests/cli/test_cli_errors.py)."""
    cases = [
        (("account", "new", "Bad Name"), {"SCF_PASSWORD": "pw"}, "invalid account name 'Bad Name': use lower-case"),
        (("account", "new", "operator"), {"SCF_PASSWORD": "pw"}, "account name 'operator' is reserved"),
        (("account", "new", "nopw"), {"SCF_PASSWORD": ""}, "an empty password is not allowed"),
        (
            ("account", "import", "badkey"),
            {"SCF_PASSWORD": "pw", "SCF_PRIVATE_KEY": "0x1234"},
            "invalid private key: expected 32 bytes as 64 hex digits",
        ),
        (("pause", "--as", "mallory"), {}, "unknown account 'mallory'; see `scf account list`"),
    ]
    for args, env, start in cases:
        result = cli(*args, env=env)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.startswith(f"Error: {start}") and result.stderr.count("\n") == 1, result.output
    assert not (home_copy.home / "keystore" / "badkey.json").exists()


def test_cli_account_fund_sends_exact_native_coin_to_a_new_account_or_a_participant(cli, home_copy):
    """`scf account fund`: the amount arrives to the wei (1.000000000000000001 coins),
    to a new keystore account or to a participant by its registered name; the
    payer pays the amount and the gas it used, nothing more."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(home_copy.rpc_url))
    created = cli("account", "new", "treasury", "--json", env={"SCF_PASSWORD": "pw"})
    treasury = json.loads(created.stdout)["address"]
    sent = cli("account", "fund", "treasury", "--amount", "1.000000000000000001", "--as", "operator", "--json")
    assert sent.exit_code == 0, sent.output
    data = json.loads(sent.stdout)
    assert (data["to"], data["amount"], data["wei"]) == (treasury, "1.000000000000000001", str(10**18 + 1))
    assert w3.eth.get_balance(treasury) == 10**18 + 1
    receipt = w3.eth.get_transaction_receipt(data["tx_hash"])
    assert receipt["gasUsed"] == 21_000 and receipt["status"] == 1
    buyer = w3.eth.get_balance("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")
    by_name = cli("account", "fund", "Tsuen Wan Electronics Ltd", "--amount", "2", "--as", "operator")
    assert by_name.exit_code == 0, by_name.output
    assert by_name.stdout.startswith("sent 2 native coin to 0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC")
    assert w3.eth.get_balance("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC") == buyer + 2 * 10**18
