"""The ledger on a real proof-of-authority client: a single-signer Clique
network of @ethereumjs/client 0.10.2 started by `scf node start --engine
clique`, and the lifecycle, the refusals, the indexer and `scf verify` run
against it through the CLI, unchanged from the user's point of view.

Blocks come every ~2.4 s, so this is one focused scenario (CI runs it). The
client differs from Anvil where real networks do: 97-byte extraData, no
``eth_maxPriorityFeePerGas``, no gas estimates, reverts answered as results,
calls simulated at time 0, topic filters past topic 0 ignored."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_account import Account

from ledger.cli import main
from ledger.evm.chain import connect
from ledger.evm.clique import CLIQUE_CHAIN_ID
from ledger.evm.node import free_port, pid_alive
from tests.support.cli import refused

PASSWORD = "clique-test-password"
#: A due date inside the deployment's 10-year tenor window.
DUE = (dt.date.today() + dt.timedelta(days=60)).isoformat()


@pytest.fixture(scope="module")
def clique(tmp_path_factory: pytest.TempPathFactory):
    """A fresh data directory with its Clique node running (stopped by the same code, by PID)."""
    home = tmp_path_factory.mktemp("clique-home")
    runner = CliRunner()
    port = str(free_port())  # not 8545: another chain may listen there
    env = {"SCF_HOME": str(home), "SCF_PASSWORD": PASSWORD, "SCF_RPC_URL": "", "SCF_ENGINE": "", "SCF_NODE_PORT": port}

    def run(*args: str, **extra: str):
        return runner.invoke(main, list(args), env={**env, **extra})

    for name in ("ops", "kowloon", "tsuenwan", "harbour"):
        assert run("account", "new", name).exit_code == 0
    funded = ("--fund", "ops", "--fund", "tsuenwan", "--fund", "harbour")
    started = run("node", "start", "--engine", "clique", *funded, "--json")
    assert started.exit_code == 0, started.output
    info = json.loads(started.stdout)
    pids = [n["pid"] for n in info["nodes"]]
    try:
        # The signer key is encrypted: in no file, not on the command line, nor in the node's
        # environment (no SCF_* variable); and a single signer takes no peer.
        clique_dir = home / "node" / "clique"
        key = bytes(Account.decrypt(json.loads((clique_dir / "signer1.json").read_text()), PASSWORD))
        needles = [key, key.hex().encode(), key.hex().upper().encode(), PASSWORD.encode()]
        assert [p for p in home.rglob("*") if p.is_file() and any(n in p.read_bytes() for n in needles)] == []
        cmdline = Path(f"/proc/{pids[0]}/cmdline").read_text().split("\0")
        assert key.hex() not in " ".join(cmdline) and "--maxPeers=0" in cmdline
        environ = Path(f"/proc/{pids[0]}/environ").read_bytes().split(b"\0")
        assert [v for v in environ if v.startswith(b"SCF_") or PASSWORD.encode() in v] == []
        yield run, info
    finally:
        stopped = run("node", "stop", "--json")
        assert stopped.exit_code == 0, stopped.output
    # Stopped by its PID, cleanly (SIGTERM within the grace), and its record gone.
    assert not any(pid_alive(p) for p in pids)
    assert (clique_dir / "node1.log").read_text().rstrip().endswith("Exiting.")
    assert json.loads(run("node", "status", "--json").stdout) == {"running": False}


def test_lifecycle_indexer_and_verify_on_a_clique_network(clique) -> None:
    run, info = clique
    assert info["chain_id"] == CLIQUE_CHAIN_ID

    def ok(*args: str) -> str:
        result = run(*args)
        assert result.exit_code == 0, result.output
        return str(result.stdout)

    ok("deploy", "--as", "ops")
    ok("participant", "add", "Kowloon Parts", "--address", "kowloon", "--role", "supplier", "--as", "ops")
    ok("participant", "add", "Tsuen Wan", "--address", "tsuenwan", "--role", "buyer", "--as", "ops")
    ok("participant", "add", "Harbour Finance", "--address", "harbour", "--role", "financier", "--as", "ops")
    ok("token", "mint", "--to", "Harbour Finance", "--amount", "1000000.00", "--as", "ops")
    ok("token", "mint", "--to", "Tsuen Wan", "--amount", "1000000.00", "--as", "ops")
    # Accounts pay for gas here (a base fee, unlike the local Anvil): kowloon was not in the genesis.
    unfunded = run("invoice", "issue", "--as", "kowloon", "--buyer", "Tsuen Wan", "--number", "CLQ-0",
                   "--amount", "1.00", "--due", DUE)  # fmt: skip
    refused(unfunded, 3)
    assert "cannot pay for gas" in unfunded.stderr and "scf account fund" in unfunded.stderr
    too_much = run("account", "fund", "tsuenwan", "--amount", "1", "--as", "kowloon")
    refused(too_much, 1)
    assert "holds 0 native coin and cannot send 1 plus" in too_much.stderr
    ok("account", "fund", "Kowloon Parts", "--amount", "5", "--as", "ops")  # a participant, by its name
    issued = json.loads(
        ok(
            "invoice",
            "issue",
            "--as",
            "kowloon",
            "--buyer",
            "Tsuen Wan",
            "--number",
            "CLQ-1",
            "--amount",
            "125000.00",
            "--due",
            DUE,
            "--json",
        )  # fmt: skip
    )
    invoice = str(issued["invoice_id"])
    ok("invoice", "confirm", invoice, "--as", "tsuenwan")
    ok("invoice", "offer", invoice, "--as", "kowloon", "--to", "Harbour Finance", "--min-advance", "110000.00")
    ok("invoice", "finance", invoice, "--as", "harbour", "--advance", "112500.00", "--due", "118750.00")

    # The rules hold with no gas estimate and reverts answered as results: the rule's line, and
    # nothing sent (blocks come anyway on Clique: the senders' nonces show that nothing was sent).
    w3 = connect(info["url"])
    accounts = {a["name"]: a["address"] for a in json.loads(ok("account", "list", "--json"))}
    nonces = {n: w3.eth.get_transaction_count(accounts[n]) for n in ("kowloon", "harbour")}
    again = run("invoice", "finance", invoice, "--as", "harbour", "--advance", "100000.00")
    refused(again, 1)
    assert "already financed" in again.stderr
    duplicate = run("invoice", "issue", "--as", "kowloon", "--buyer", "Tsuen Wan", "--number", "clq 1",
                    "--amount", "125000.00", "--due", DUE)  # fmt: skip
    refused(duplicate, 1)
    assert "duplicate invoice" in duplicate.stderr
    not_buyer = run("invoice", "repay", invoice, "--as", "kowloon", "--amount", "100.00")
    refused(not_buyer, 1)
    # This client simulates calls at time 0: a rule of time is judged again at the chain's time.
    too_far = run("invoice", "issue", "--as", "kowloon", "--buyer", "Tsuen Wan", "--number", "CLQ-2",
                  "--amount", "1.00", "--due", "2099-01-31")  # fmt: skip
    refused(too_far, 2)
    assert "must be after the chain time 2026" in too_far.stderr or "must be after the chain time 20" in too_far.stderr
    assert "1970" not in too_far.stderr
    assert nonces == {n: w3.eth.get_transaction_count(accounts[n]) for n in ("kowloon", "harbour")}

    ok("invoice", "repay", invoice, "--as", "tsuenwan", "--amount", "125000.00")
    shown = json.loads(ok("invoice", "show", invoice, "--json"))
    assert shown["status"] == "Paid" and shown["outstanding"] == "0.00"

    # The database follows the chain, by default 6 blocks behind its head off the dev chain
    # (changes were not indexed as they were mined, as they are on Anvil), and equals it.
    ok("index", "sync")
    (status,) = json.loads(ok("index", "status", "--json"))
    assert status["behind"] >= 6, status
    ok("index", "sync", "--confirmations", "0")
    listed = json.loads(ok("invoice", "list", "--json"))
    assert [(str(i["invoice_id"]), i["status"]) for i in listed] == [(invoice, "Paid")]
    verified = run("verify")
    assert verified.exit_code == 0, verified.output
    assert "matches" in verified.stdout
