"""Exit codes by family (issue 12): 0 success, 1 refused by a rule (the
contracts or the ledger's state), 2 bad input or usage, 3 the environment
(node, database, keystore, config unreachable or unreadable); never 70 for
anything a user can cause. Every refusal here is one line on stderr, nothing
on stdout, no traceback, and where a transaction could be sent, the chain
head is unchanged."""

from __future__ import annotations

import json

import pytest
from support.cli import chain_head as _head
from support.cli import cli_issue
from support.cli import refused as _refused

from ledger.config import REPO_ROOT

POLICY = REPO_ROOT / "examples" / "policy.toml"
ISSUE = ("invoice", "issue", "--buyer", "buyer", "--number", "EX-1", "--due", "2099-01-31")


def _refused_subprocess(run, code: int, message: str) -> None:
    assert run.returncode == code, run.stderr
    assert run.stdout == "" and "Traceback" not in run.stderr
    assert run.stderr == f"Error: {message}\n"


# -- 2: bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "invalid amount '0': must be more than 0"),
        ("0.00", "invalid amount '0.00': must be more than 0"),
        ("-1", "invalid amount '-1': use a positive decimal number such as 125000.00"),
    ],
)
def test_exit_codes_zero_and_negative_amounts_are_both_bad_input(cli, home_copy, amount, message):
    head = _head(home_copy)
    _refused(cli(*ISSUE, "--amount", amount), 2, message)
    assert _head(home_copy) == head


def test_exit_codes_zero_amounts_are_refused_before_anything_is_sent(cli, home_copy):
    """Zero is refused as input on every command that takes an amount, not
    left to the contracts (which refused it as a rule: exit 1)."""
    invoice_id = cli_issue(cli)
    cent = cli_issue(cli, number="EX-CENT", amount="0.01")
    for confirmed in (invoice_id, cent):
        assert cli("invoice", "confirm", str(confirmed), "--as", "buyer", "--no-sync").exit_code == 0
    head = _head(home_copy)
    cases = [
        (
            ("invoice", "offer", str(invoice_id), "--min-advance", "0"),
            "invalid minimum advance '0': must be more than 0",
        ),
        (("invoice", "repay", str(invoice_id), "--amount", "0.00", "--as", "buyer"), None),
        (("invoice", "finance", str(invoice_id), "--advance", "0"), "invalid advance '0': must be more than 0"),
        (
            ("invoice", "finance", str(invoice_id), "--advance-rate", "0"),
            "invalid advance rate '0': must be above 0 and at most 1 (100%)",
        ),
        (  # a rate that rounds the advance of a one-cent invoice down to nothing
            ("invoice", "finance", str(cent), "--advance-rate", "0.5"),
            f"the advance for invoice {cent} comes to HKD 0.00; give a positive --advance or "
            "--advance-rate, or a lower --discount-rate",
        ),
        (
            ("invoice", "finance", str(invoice_id), "--advance", "1.00", "--due", "0"),
            "invalid financier's due '0': must be more than 0",
        ),
    ]
    for args, message in cases:
        _refused(cli(*args), 2, message or "invalid amount '0.00': must be more than 0")
    assert _head(home_copy) == head


@pytest.mark.parametrize(
    "args",
    [
        ("invoice", "show", "999999"),
        ("invoice", "confirm", "999999", "--as", "buyer"),
        ("invoice", "cancel", "999999"),
        ("invoice", "offer", "999999", "--min-advance", "1.00"),
        ("invoice", "withdraw", "999999"),
        ("invoice", "finance", "999999", "--advance", "1.00"),
        ("invoice", "repay", "999999", "--amount", "1.00", "--as", "buyer"),
    ],
)
def test_exit_codes_unknown_invoice_is_bad_input_on_every_chain_command(cli, home_copy, args):
    head = _head(home_copy)
    _refused(cli(*args), 2, "invoice 999999 does not exist; see `scf invoice list`")
    assert _head(home_copy) == head


def test_exit_codes_unknown_invoice_is_bad_input_on_the_read_side_too(cli):
    """`history` and `show --as-of-block` read the database: the same family
    and the same words, plus how far the index reaches."""
    assert cli("index", "sync").exit_code == 0
    history = _refused(cli("invoice", "history", "999999"), 2)
    assert history.startswith("Error: invoice 999999 does not exist in the indexed ledger (indexed up to block ")
    assert history.endswith("); see `scf invoice list`, or run `scf index sync` if it is new\n")
    as_of = _refused(cli("invoice", "show", "999999", "--as-of-block", "1"), 2)
    assert as_of == "Error: invoice 999999 does not exist at block 1; see `scf invoice list`\n"


def test_exit_codes_missing_and_invalid_policy_files_are_both_bad_input(cli, home_copy):
    cli_issue(cli)
    missing = home_copy.home / "no-such-policy.toml"
    _refused(
        cli("finance", "quote", "1", "--policy", str(missing)),
        2,
        f"{missing}: no such policy file; pass --policy FILE (see examples/policy.toml)",
    )
    broken = home_copy.home / "broken-policy.toml"
    broken.write_text("not toml [")
    assert _refused(cli("finance", "quote", "1", "--policy", str(broken)), 2).startswith(
        f"Error: {broken}: not valid TOML: "
    )
    invalid = home_copy.home / "invalid-policy.toml"
    invalid.write_text(POLICY.read_text().replace('advance_rate = "0.95"', 'advance_rate = "1.5"', 1))
    assert _refused(cli("finance", "quote", "1", "--policy", str(invalid)), 2).startswith(f"Error: {invalid}: ")


def test_exit_codes_contract_address_is_refused_as_a_participant_unless_allowed(cli, home_copy):
    """A contract cannot sign: admitting one is usually a pasted token
    address. --allow-contract admits a contract wallet (e.g. a multisig)."""
    record = json.loads((home_copy.home / "deployments" / "31337.json").read_text())
    contract = record["contracts"]["InvoiceToken"]["address"]
    head = _head(home_copy)
    _refused(
        cli("participant", "add", "Token Treasury Ltd", "--address", contract, "--role", "financier"),
        2,
        f"{contract} is a contract, not an account; pass --allow-contract to admit a contract wallet (e.g. a multisig)",
    )
    assert _head(home_copy) == head
    allowed = cli(
        "participant",
        "add",
        "Token Treasury Ltd",
        "--address",
        contract,
        "--role",
        "financier",
        "--allow-contract",
        "--no-sync",
        "--json",
    )
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.stdout)["address"] == contract
    assert _head(home_copy) == head + 1
    # An account (no code) needs no flag.
    plain = cli("participant", "add", "Tai Po Foods Ltd", "--address", "dev9", "--role", "supplier", "--no-sync")
    assert plain.exit_code == 0, plain.output


# -- 1: refused by a rule --------------------------------------------------------------------
def test_exit_codes_rule_refusal_is_1(cli, home_copy):
    invoice_id = cli_issue(cli)
    head = _head(home_copy)
    _refused(
        cli("invoice", "repay", str(invoice_id), "--amount", "10.00", "--as", "buyer"),
        1,
        f"invoice {invoice_id} cannot be repaid in status Issued",
    )
    assert _head(home_copy) == head


def test_exit_codes_pause_when_paused_and_unpause_when_running_are_refused_before_sending(cli, home_copy):
    head = _head(home_copy)
    _refused(cli("unpause"), 1, "the network is not paused; nothing to change")
    assert _head(home_copy) == head
    assert cli("pause", "--no-sync").exit_code == 0
    head = _head(home_copy)
    _refused(cli("pause"), 1, "the network is already paused; nothing to change (`scf unpause` resumes it)")
    assert _head(home_copy) == head
    assert cli("unpause", "--no-sync").exit_code == 0


def test_exit_codes_suspending_twice_is_refused_by_the_ledgers_state(cli, home_copy):
    _refused(
        cli("participant", "reinstate", "Kwai Chung Logistics Ltd"),
        1,
        "Kwai Chung Logistics Ltd is already not suspended; nothing to change",
    )
    assert cli("participant", "suspend", "Kwai Chung Logistics Ltd", "--no-sync").exit_code == 0
    head = _head(home_copy)
    _refused(
        cli("participant", "suspend", "Kwai Chung Logistics Ltd"),
        1,
        "Kwai Chung Logistics Ltd is already suspended; nothing to change",
    )
    assert _head(home_copy) == head


# -- 3: the environment ----------------------------------------------------------------------
def test_exit_codes_node_unreachable_is_3(scf):
    from ledger.evm.node import free_port

    url = f"http://127.0.0.1:{free_port()}"
    message = (
        f"cannot reach the JSON-RPC endpoint {url} (connection refused); "
        "start the local chain with `scf node start` or pass --rpc-url"
    )
    _refused_subprocess(scf("--rpc-url", url, "invoice", "confirm", "1"), 3, message)
    _refused_subprocess(scf("pause", rpc=url), 3, message)


def _keystore_file(home_copy, name: str = "treasury"):
    return home_copy.home / "keystore" / f"{name}.json"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "is empty"),
        ("not json {", "is not a JSON key file"),
        ("[1, 2]", "is not a JSON key file"),
        ('{"not": "a keystore"}', "is corrupt (it lacks 'address')"),
        # The `KeyError: 'version'` of issue 12: a key file with its version cut out.
        (None, "is corrupt (it lacks 'version')"),
    ],
)
def test_exit_codes_corrupt_keystore_is_3_and_names_the_file(cli, home_copy, content, problem):
    created = cli("account", "new", "treasury", env={"SCF_PASSWORD": "pw"})
    assert created.exit_code == 0, created.output
    path = _keystore_file(home_copy)
    if content is None:
        data = json.loads(path.read_text())
        del data["version"]
        content = json.dumps(data)
    path.write_text(content)
    head = _head(home_copy)
    _refused(
        cli("pause", "--as", "treasury", env={"SCF_PASSWORD": "pw"}),
        3,
        f"keystore file {path} {problem}; restore it from a backup, or move it away and re-import the key "
        "with `scf account import treasury`",
    )
    assert _head(home_copy) == head


def test_exit_codes_keystore_whose_crypto_is_garbled_is_3(cli, home_copy):
    assert cli("account", "new", "treasury", env={"SCF_PASSWORD": "pw"}).exit_code == 0
    path = _keystore_file(home_copy)
    data = json.loads(path.read_text())
    del data["crypto"]["kdfparams"]
    path.write_text(json.dumps(data))
    line = _refused(cli("pause", "--as", "treasury", env={"SCF_PASSWORD": "pw"}), 3)
    assert line.startswith(f"Error: keystore file {path} is corrupt (KeyError: ")


def test_exit_codes_unreadable_keystore_is_3(cli, home_copy, monkeypatch):
    """Permissions cannot be tested as root (root reads anything): a file
    that is a directory, and a read that fails as a denied one would."""
    import ledger.evm.accounts as accounts

    _keystore_file(home_copy, "folder").mkdir(parents=True)
    line = _refused(cli("pause", "--as", "folder", env={"SCF_PASSWORD": "pw"}), 3)
    assert line.startswith(f"Error: keystore file {_keystore_file(home_copy, 'folder')} cannot be read (")

    assert cli("account", "new", "treasury", env={"SCF_PASSWORD": "pw"}).exit_code == 0

    def denied(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(accounts, "_read_bytes", denied)
    _refused(
        cli("pause", "--as", "treasury", env={"SCF_PASSWORD": "pw"}),
        3,
        f"keystore file {_keystore_file(home_copy)} cannot be read (Permission denied); restore it from a backup, "
        "or move it away and re-import the key with `scf account import treasury`",
    )


def test_exit_codes_wrong_password_is_bad_input(cli, home_copy):
    assert cli("account", "new", "treasury", env={"SCF_PASSWORD": "pw"}).exit_code == 0
    _refused(cli("pause", "--as", "treasury", env={"SCF_PASSWORD": "nope"}), 2, "wrong password for account 'treasury'")


def test_exit_codes_unreadable_database_file_is_3(cli, home_copy):
    garbage = home_copy.home / "not-a-db.sqlite"
    garbage.write_bytes(b"this is not a database, only some bytes " * 100)
    line = _refused(cli("--db-url", f"sqlite:///{garbage}", "invoice", "list"), 3)
    assert str(garbage) in line


@pytest.mark.parametrize(
    ("content", "problem"),
    [("timezone = [", "cannot parse"), (None, "cannot read")],
)
def test_exit_codes_corrupt_or_unreadable_config_is_3(cli, home_copy, content, problem):
    config = home_copy.home / "config.toml"
    if content is None:
        config.mkdir()  # a config.toml that cannot be read as a file
    else:
        config.write_text(content)
    line = _refused(cli("invoice", "list"), 3)
    assert line.startswith(f"Error: {problem} {config}: "), line


def test_exit_codes_full_disk_is_3(home_copy):
    import os
    import subprocess

    from support.cli import SCF

    env = {**os.environ, "SCF_HOME": str(home_copy.home), "SCF_RPC_URL": home_copy.rpc_url}
    with open("/dev/full", "w") as full:
        run = subprocess.run(
            [SCF, "account", "list"], stdout=full, stderr=subprocess.PIPE, text=True, env=env, timeout=120
        )
    assert run.returncode == 3, run.stderr
    assert run.stderr == "Error: cannot write the output: No space left on device; write it somewhere else\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("participant", "add", "Nobody Ltd", "--address", "0x" + "0" * 40, "--role", "supplier"),
            f"0x{'0' * 40} (the zero address) cannot be a participant; give the participant's address",
        ),
        (
            ("participant", "update", "buyer", "--role", "buyer", "--name", "0x" + "4" * 40),
            f"invalid participant name '0x{'4' * 40}': a name starting with 0x would be read as an address",
        ),
        (
            ("participant", "update", "buyer", "--kyc-until", "2099-01-01", "--name", "A\nB"),
            "invalid participant name 'A\\nB': it contains a line break or control character",
        ),
        (
            ("participant", "update", "buyer", "--role", "buyer", "--name", "Kwai Chung Logistics Ltd"),
            "participant name 'Kwai Chung Logistics Ltd' is taken; choose a distinct name",
        ),
    ],
)
def test_exit_codes_participant_input_is_checked_before_anything_is_sent(cli, home_copy, args, message):
    """A rename is checked as an admission is, before the role or KYC change
    that comes with it is sent."""
    head = _head(home_copy)
    _refused(cli(*args), 2, message)
    assert _head(home_copy) == head
