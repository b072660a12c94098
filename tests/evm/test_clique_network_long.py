"""The ledger on two sealing nodes (on demand: SCF_NETWORK_LONG=1).

A Clique network of two signers of @ethereumjs/client 0.10.2, started by
`scf node start --engine clique --signers 2`: every transaction is sent
through node 1, the database is indexed from node 2, and signer 2 is
stopped by its recorded PID and started again by `scf node start` (which
starts only the node that is down).

With two Clique signers a signer may not seal two blocks in a row, so the
signer left alone seals at most one more block and the chain stalls: a
transaction sent meanwhile is not mined, and the CLI says so in one line
after its wait (SCF_TX_TIMEOUT). The transaction stays in node 1's pool
and is mined, once, when signer 2 is back. Then the database equals the
chain, checked by `scf verify` against each node, and both nodes hold the
same block at the same height.

Transactions are sent one at a time: bursts have crashed a receiving node.
A few minutes of real blocks (~2.4 s each), hence on demand, not in CI."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ledger.cli import main
from ledger.config import load_settings
from ledger.evm.clique import PERIOD, CliqueNetwork, block_number, rpc_call
from ledger.evm.node import free_port, pid_alive, terminate
from tests.support.cli import refused

pytestmark = pytest.mark.skipif(
    os.environ.get("SCF_NETWORK_LONG") != "1", reason="two sealing nodes, minutes of real blocks: SCF_NETWORK_LONG=1"
)

PASSWORD = "clique-network-long"
#: A due date inside the deployment's 10-year tenor window.
DUE = (dt.date.today() + dt.timedelta(days=60)).isoformat()
#: How long a send waits for its receipt while the chain stalls (seconds).
STALLED_WAIT = 10
#: Seconds without a new block that show a stall (three block periods and a margin).
QUIET = 3 * PERIOD + 3


def test_send_through_one_node_index_from_the_other_across_a_signer_restart(tmp_path) -> None:
    home = tmp_path / "home"
    runner = CliRunner()
    env: dict[str, str | None] = {
        "SCF_HOME": str(home),
        "SCF_PASSWORD": PASSWORD,
        "SCF_NODE_PORT": str(free_port()),
        "SCF_RPC_URL": None,
        "SCF_ENGINE": None,
        "SCF_DB_URL": None,
        "SCF_TX_TIMEOUT": None,
    }

    def run(*args: str, url: str | None = None, **extra: str) -> Result:
        argv = (["--rpc-url", url] if url else []) + list(args)
        return runner.invoke(main, argv, env={**env, **extra})

    def ok(*args: str, url: str | None = None) -> Any:
        result = run(*args, url=url)
        assert result.exit_code == 0, (args, result.output)
        return json.loads(result.stdout) if "--json" in args else result.stdout

    for name in ("ops", "kowloon", "tsuenwan", "harbour"):
        ok("account", "new", name)
    funded = [arg for name in ("ops", "kowloon", "tsuenwan", "harbour") for arg in ("--fund", name)]
    info = ok("node", "start", "--engine", "clique", "--signers", "2", *funded, "--json")
    network = CliqueNetwork(load_settings(home=str(home)))
    try:
        assert len(info["nodes"]) == 2 and len(info["signers"]) == 2
        one, two = (str(n["url"]) for n in info["nodes"])

        # -- both signers up: send through node 1, one transaction at a time ---------------------
        ok("deploy", "--as", "ops", url=one)
        for name, account, role in (
            ("Kowloon Parts", "kowloon", "supplier"),
            ("Tsuen Wan", "tsuenwan", "buyer"),
            ("Harbour Finance", "harbour", "financier"),
        ):
            ok("participant", "add", name, "--address", account, "--role", role, "--as", "ops", url=one)
        for holder in ("Harbour Finance", "Tsuen Wan"):
            ok("token", "mint", "--to", holder, "--amount", "1000000.00", "--as", "ops", url=one)
        terms = ("--buyer", "Tsuen Wan", "--amount", "125000.00", "--due", DUE, "--json")
        first, second = (
            str(ok("invoice", "issue", "--as", "kowloon", "--number", number, *terms, url=one)["invoice_id"])
            for number in ("NET-1", "NET-2")
        )
        ok("invoice", "confirm", first, "--as", "tsuenwan", url=one)
        offer = ("--to", "Harbour Finance", "--min-advance", "110000.00")
        ok("invoice", "offer", first, "--as", "kowloon", *offer, url=one)
        ok("invoice", "finance", first, "--as", "harbour", "--advance", "112500.00", "--due", "118750.00", url=one)

        # -- index from node 2, once it holds node 1's head -----------------------------------------
        _wait_head(two, _head(one))
        ok("index", "sync", "--confirmations", "0", url=two)
        assert _statuses(ok) == {first: "Financed", second: "Issued"}
        _verified(run, two)

        # -- stop signer 2 by its recorded PID ------------------------------------------------------
        nodes = _running_nodes(network)
        assert [n["running"] for n in nodes] == [True, True]
        kept, stopped = int(nodes[0]["pid"]), int(nodes[1]["pid"])
        before = _head(one)
        terminate([stopped])
        assert not pid_alive(stopped) and pid_alive(kept)
        assert [n["running"] for n in _running_nodes(network)] == [True, False]
        down = run("index", "sync", "--confirmations", "0", url=two)
        assert "cannot reach the JSON-RPC endpoint" in refused(down, 3)

        # Signer 1 alone seals at most one more block (never two in a row), then the chain stalls.
        stalled = _wait_stall(one)
        assert before <= stalled <= before + 1, (before, stalled)

        # A send meanwhile is not mined: one line after the wait; the transaction stays pending.
        late = run("invoice", "confirm", second, "--as", "tsuenwan", url=one, SCF_TX_TIMEOUT=str(STALLED_WAIT))
        message = refused(late, 3)
        assert f"was not mined within {STALLED_WAIT}s" in message, message
        found = re.search(r"transaction (0x[0-9a-f]{64})", message)
        assert found is not None, message
        pending = found.group(1)
        assert _head(one) == stalled
        assert rpc_call(one, "eth_getTransactionReceipt", [pending]) is None

        # -- restart: `scf node start` starts only the node that is down -------------------------
        again = ok("node", "start", "--json")
        assert again["started"] is True and [int(n["pid"]) for n in again["nodes"]][0] == kept
        assert int(again["nodes"][1]["pid"]) != stopped
        two = str(again["nodes"][1]["url"])
        # The chain resumes and the pending confirmation is mined, once, without being sent again.
        receipt = _wait_receipt(one, pending)
        assert receipt["status"] == "0x1" and int(receipt["blockNumber"], 16) > stalled

        # -- keep sending through node 1, index from node 2 again -------------------------------
        ok("invoice", "repay", first, "--as", "tsuenwan", "--amount", "125000.00", url=one)
        _wait_head(two, _head(one))
        ok("index", "sync", "--confirmations", "0", url=two)
        assert _statuses(ok) == {first: "Paid", second: "Confirmed"}

        # -- the database equals the chain, on either node; both nodes hold the same blocks -------
        _verified(run, two)
        _verified(run, one)
        height = min(_head(one), _head(two))
        assert height > stalled
        for number in (height, stalled):
            hashes = {rpc_call(u, "eth_getBlockByNumber", [hex(number), False])["hash"] for u in (one, two)}
            assert len(hashes) == 1, (number, hashes)
    finally:
        halted = run("node", "stop", "--json")
    assert halted.exit_code == 0, halted.output
    assert not any(pid_alive(int(n["pid"])) for n in json.loads(halted.stdout)["stopped"]["nodes"])
    assert network.info() is None


def _head(url: str) -> int:
    head = block_number(url)
    assert head is not None, f"{url} does not answer"
    return head


def _wait_head(url: str, target: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (block_number(url) or -1) < target:
        assert time.monotonic() < deadline, f"{url} did not reach block {target} within {timeout:g}s"
        time.sleep(0.5)


def _wait_stall(url: str, timeout: float = 45) -> int:
    """The head once it has not moved for :data:`QUIET` seconds."""
    deadline = time.monotonic() + timeout
    head, since = _head(url), time.monotonic()
    while time.monotonic() - since < QUIET:
        assert time.monotonic() < deadline, f"{url} kept sealing blocks (at {head}) with one of two signers"
        time.sleep(0.5)
        now = _head(url)
        if now != head:
            head, since = now, time.monotonic()
    return head


def _wait_receipt(url: str, tx_hash: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (receipt := rpc_call(url, "eth_getTransactionReceipt", [tx_hash])) is None:
        assert time.monotonic() < deadline, f"{tx_hash} not mined within {timeout:g}s of the restart"
        time.sleep(0.5)
    return dict(receipt)


def _running_nodes(network: CliqueNetwork) -> list[dict[str, Any]]:
    """The recorded nodes (PID checked against its start time), by node number."""
    info = network.info()
    assert info is not None
    return sorted(info["nodes"], key=lambda n: int(n["node"]))


def _statuses(ok: Any) -> dict[str, str]:
    return {str(i["invoice_id"]): str(i["status"]) for i in ok("invoice", "list", "--json")}


def _verified(run: Any, url: str) -> None:
    result = run("verify", url=url)
    assert result.exit_code == 0, (url, result.output)
    assert "matches" in result.stdout, result.stdout
