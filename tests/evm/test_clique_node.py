"""`scf node` on the Clique engine (ledger.evm.clique): the genesis it
writes (no node needed), one single-signer network started, restarted and
stopped through the real `scf` (CI), the bad input that starts nothing, the
node lock, a start interrupted after the spawn (fake client and fake Anvil),
and two sealing nodes on demand (SCF_NETWORK_LONG=1)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from eth_account import Account
from support.cli import SCF

from ledger.cli import main
from ledger.config import load_settings
from ledger.evm.clique import (
    CHAIN_NAME,
    CLIQUE_CHAIN_ID,
    FUND_WEI,
    MAX_SIGNERS,
    NOTHING_FUNDED,
    STOP_GRACE,
    block_number,
    genesis,
    genesis_funded,
    genesis_signers,
    rpc_call,
)
from ledger.evm.node import NODE_BUSY, free_port, pid_alive

SIGNER_A = "0xE870FbCd14142720772B3c6300103c78bf5c7e71"
SIGNER_B = "0x6BDeAd42aBb25d15eA096C9b6e10E05CcBDCE063"
FUNDED = "0x7FEEC51b6928cF7Bb78E332Fd3321C8bd69C7a3D"
PASSWORD = "clique-pw"


# -- the genesis, without a node ------------------------------------------------------------------
def test_genesis_extradata_is_vanity_sorted_signers_and_an_empty_seal():
    data = genesis([SIGNER_A, SIGNER_B], [FUNDED])
    extra = data["extraData"]
    assert extra.startswith("0x") and len(bytes.fromhex(extra[2:])) == 32 + 2 * 20 + 65
    body = extra[2:]
    assert body[:64] == "00" * 32 and body[-130:] == "00" * 65
    # Sorted by address, lower case, no 0x: B (0x6b...) before A (0xe8...).
    assert body[64:-130] == SIGNER_B.lower()[2:] + SIGNER_A.lower()[2:]
    assert genesis_signers(data) == [SIGNER_B, SIGNER_A]
    assert genesis_funded(data) == [FUNDED]


def test_genesis_runs_london_from_block_0_on_chain_123456():
    data = genesis([SIGNER_A], [])
    config = data["config"]
    assert config["chainId"] == CLIQUE_CHAIN_ID == 123456
    assert config["clique"] == {"period": 2, "epoch": 30000}
    assert config["londonBlock"] == config["homesteadBlock"] == config["byzantiumBlock"] == 0
    assert data["difficulty"] == "0x1" and data["baseFeePerGas"] == "0x7" and data["gasLimit"] == "0x1c9c380"
    # A signer alone is still funded (it pays nothing, but can).
    assert data["alloc"] == {SIGNER_A.lower()[2:]: {"balance": hex(FUND_WEI)}}
    assert FUND_WEI == 10**24


def test_genesis_alloc_funds_signers_and_accounts_once_each():
    data = genesis([SIGNER_A], [FUNDED, FUNDED.lower(), SIGNER_A])
    assert sorted(data["alloc"]) == sorted([SIGNER_A.lower()[2:], FUNDED.lower()[2:]])
    assert all(v == {"balance": hex(FUND_WEI)} for v in data["alloc"].values())
    assert genesis_funded(data) == [FUNDED]
    with pytest.raises(ValueError):
        genesis([], [])
    with pytest.raises(ValueError):
        genesis([SIGNER_A, SIGNER_B, FUNDED][: MAX_SIGNERS + 1], [])


# -- bad input starts nothing -----------------------------------------------------------------------
def _invoke(home: Path, *argv: str, password: str | None = PASSWORD) -> tuple[int, str]:
    env = {"SCF_HOME": str(home), "SCF_PASSWORD": password, "SCF_ENGINE": None, "SCF_RPC_URL": None}
    env["SCF_NODE_PORT"] = str(free_port())
    result = CliRunner().invoke(main, list(argv), env=env)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (
            ("--engine", "clique", "--signers", "3"),
            2,
            "Error: Invalid value for '--signers': 3 is not in the range 1<=x<=2.",
        ),
        (("--signers", "2"), 2, "Error: --signers applies to the Clique engine only; add --engine clique"),
        (
            ("--engine", "anvil", "--fund", FUNDED),
            2,
            "Error: --fund applies to the Clique engine only; add --engine clique",
        ),
        (("--engine", "clique", "--fund", "nobody"), 2, "Error: unknown account 'nobody'; see `scf account list`"),
        (
            ("--engine", "clique", "--fund", "operator"),
            2,
            "Error: 'operator' is a public dev key, refused off the dev chain; fund an account of the keystore "
            "(`scf account new` or `scf account import`)",
        ),
        (
            ("--engine", "clique", "--fund", "0x1234"),
            2,
            "Error: invalid address '0x1234' for --fund: expected 0x and 40 hex digits",
        ),
    ],
    ids=["signers-3", "signers-on-anvil", "fund-on-anvil", "fund-unknown", "fund-dev-name", "fund-bad-address"],
)
def test_node_start_bad_input_starts_nothing(tmp_path, argv, code, message):
    home = tmp_path / "home"
    exit_code, output = _invoke(home, "node", "start", *argv)
    assert exit_code == code, output
    assert len(output.splitlines()) == 1 and output.startswith(message), output
    assert not (home / "node").exists()


def test_node_start_clique_without_password_starts_nothing(tmp_path):
    home = tmp_path / "home"
    exit_code, output = _invoke(home, "node", "start", "--engine", "clique", password=None)
    assert (exit_code, output) == (2, "Error: set SCF_PASSWORD: the Clique signer keys are encrypted with it\n")
    assert not (home / "node").exists()


def test_scf_engine_picks_the_default_engine(tmp_path):
    home = tmp_path / "home"
    env = {"SCF_HOME": str(home), "SCF_PASSWORD": None, "SCF_ENGINE": "clique", "SCF_RPC_URL": None}
    result = CliRunner().invoke(main, ["node", "start"], env=env)
    assert result.exit_code == 2 and "set SCF_PASSWORD" in result.output
    env["SCF_ENGINE"] = "geth"
    result = CliRunner().invoke(main, ["node", "start"], env=env)
    assert result.exit_code == 2 and "Invalid value for '--engine'" in result.output
    assert not (home / "node").exists()


def _fake_client(root: Path, version: str = "0.10.2", script: str = "process.exit(1)") -> Path:
    """A node_modules whose @ethereumjs/client is ``script``."""
    package = root / "@ethereumjs" / "client"
    (package / "dist" / "esm" / "bin").mkdir(parents=True)
    (package / "package.json").write_text(json.dumps({"name": "@ethereumjs/client", "version": version}))
    (package / "dist" / "esm" / "bin" / "cli.js").write_text(script + "\n")
    return root


def _fake_env(home: Path, modules: Path) -> dict[str, str | None]:
    env: dict[str, str | None] = {"SCF_HOME": str(home), "SCF_PASSWORD": PASSWORD, "SCF_ENGINE": None}
    return env | {"SCF_RPC_URL": None, "SCF_NODE_MODULES": str(modules), "SCF_NODE_PORT": str(free_port())}


def test_a_node_that_exits_early_is_a_node_error_naming_its_log(tmp_path):
    home = tmp_path / "home"
    modules = _fake_client(tmp_path / "node_modules", script="console.log('boom'); process.exit(1)")
    env = _fake_env(home, modules)
    result = CliRunner().invoke(main, ["node", "start", "--engine", "clique", "--fund", FUNDED], env=env)
    log = home / "node" / "clique" / "node1.log"
    assert (result.exit_code, result.output) == (
        3,
        f"Error: Clique node 1 exited with code 1 before it answered; see {log}\n",
    )
    assert log.read_text().startswith("boom")
    assert not (home / "node" / "clique" / "running.json").exists()


def test_a_first_start_funding_no_account_creates_nothing(tmp_path):
    """An empty keystore and no --fund: a genesis funding only the signers
    could never be changed, so it is not written."""
    home = tmp_path / "home"
    env = _fake_env(home, _fake_client(tmp_path / "node_modules"))
    result = CliRunner().invoke(main, ["node", "start", "--engine", "clique"], env=env)
    assert (result.exit_code, result.output) == (2, f"Error: {NOTHING_FUNDED}\n")
    assert "create an account first" in NOTHING_FUNDED and "--fund" in NOTHING_FUNDED
    assert not (home / "node").exists()


def test_no_node_on_path_creates_nothing(tmp_path):
    home = tmp_path / "home"
    env = _fake_env(home, _fake_client(tmp_path / "node_modules")) | {"PATH": str(tmp_path)}
    result = CliRunner().invoke(main, ["node", "start", "--engine", "clique", "--fund", FUNDED], env=env)
    assert (result.exit_code, result.output) == (
        3,
        "Error: Node.js (`node`) not found on PATH; the Clique network runs on it\n",
    )
    assert not (home / "node").exists()


@contextlib.contextmanager
def _held_lock(home: Path) -> Iterator[None]:
    """<home>/node/.lock held, as another `scf node start` would."""
    (home / "node").mkdir(parents=True, exist_ok=True)
    with open(home / "node" / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield


@pytest.mark.parametrize("engine", ["clique", "anvil"])
def test_start_and_stop_are_refused_while_the_node_lock_is_held(tmp_path, engine):
    home = tmp_path / "home"
    env = _fake_env(home, _fake_client(tmp_path / "node_modules"))
    fund = ["--fund", FUNDED] if engine == "clique" else []
    with _held_lock(home):
        result = CliRunner().invoke(main, ["node", "start", "--engine", engine, *fund], env=env)
        assert (result.exit_code, result.output) == (1, f"Error: {NODE_BUSY}\n")
        assert sorted(p.name for p in (home / "node").iterdir()) == [".lock"]
        result = CliRunner().invoke(main, ["node", "stop"], env=env)
        assert (result.exit_code, result.output) == (1, f"Error: {NODE_BUSY}\n")
    assert NODE_BUSY == ("another `scf node` command is starting or stopping this data directory's node; try again")


def _wait_for(path: Path, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError, ValueError):
            return json.loads(path.read_text())
        assert time.monotonic() < deadline, f"{path} was not written"
        time.sleep(0.05)


def _kill_scf_then_stop(
    env: dict[str, str], argv: list[str], record: Path, spawned: Path | None = None
) -> tuple[int, dict]:
    """`scf node start` killed (SIGKILL) once it recorded a node that never
    answers (and that node wrote ``spawned``); then `scf node stop`.
    Returns (pid, the record)."""
    scf = subprocess.Popen([SCF, "node", "start", *argv], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        data = _wait_for(record)
        if spawned is not None:
            _wait_for(spawned)
    finally:
        scf.kill()
        scf.wait(10)
    node = data["nodes"][0] if "nodes" in data else data
    pid = int(node["pid"])
    assert pid_alive(pid) and node["start_time"]
    done = _scf(env, "node", "stop")
    assert done.returncode == 0 and f"stopped (pid {pid})" in done.stdout, done.stderr
    assert not pid_alive(pid) and not record.exists()
    return pid, data


def test_an_interrupted_clique_start_leaves_a_record_stop_uses(tmp_path):
    """The node is recorded as soon as it is spawned; it runs without any
    SCF_* variable, and a single signer accepts no peer (--maxPeers=0)."""
    home = tmp_path / "home"
    # Never answers; writes what it was started with, then waits to be stopped.
    script = (
        "const fs = require('fs');"
        "fs.writeFileSync('spawned.json', JSON.stringify({argv: process.argv, env: Object.keys(process.env)}));"
        "setInterval(() => {}, 1000)"
    )
    env = {**os.environ, **_fake_env(home, _fake_client(tmp_path / "node_modules", script=script))}
    env = {k: v for k, v in env.items() if v is not None} | {"SCF_PRIVATE_KEY": "0x" + "11" * 32}
    clique = home / "node" / "clique"
    _kill_scf_then_stop(env, ["--engine", "clique", "--fund", FUNDED], clique / "running.json", clique / "spawned.json")
    spawned = json.loads((clique / "spawned.json").read_text())
    assert "--maxPeers=0" in spawned["argv"]
    assert [k for k in spawned["env"] if k.startswith("SCF_")] == []
    assert "PATH" in spawned["env"]


def test_an_interrupted_anvil_start_leaves_a_record_stop_uses(tmp_path):
    home = tmp_path / "home"
    fake = tmp_path / "anvil"
    fake.write_text("#!/bin/sh\nexec sleep 600\n")
    fake.chmod(0o755)
    env = {k: v for k, v in {**os.environ, **_fake_env(home, tmp_path)}.items() if v is not None}
    pid, data = _kill_scf_then_stop(env | {"ANVIL_BINARY": str(fake)}, [], home / "node" / "anvil.json")
    assert data["port"] == int(env["SCF_NODE_PORT"])


def test_node_status_and_stop_import_no_eth_account(tmp_path):
    code = (
        "import sys\n"
        "from ledger.cli import main\n"
        "for argv in (['node', 'status'], ['node', 'stop']):\n"
        "    try:\n"
        "        main(argv, prog_name='scf')\n"
        "    except SystemExit as exc:\n"
        "        assert not exc.code, exc.code\n"
        "print(sorted(m for m in ('eth_account', 'eth_utils', 'web3') if m in sys.modules))\n"
    )
    env = {**os.environ, "SCF_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


def test_a_wrong_client_version_or_password_starts_nothing(tmp_path, monkeypatch):
    from ledger.evm.clique import CliqueNetwork

    home = tmp_path / "home"
    env = {"SCF_HOME": str(home), "SCF_PASSWORD": PASSWORD, "SCF_ENGINE": None, "SCF_RPC_URL": None}
    env |= {"SCF_NODE_MODULES": str(_fake_client(tmp_path / "nm", "0.10.5")), "SCF_NODE_PORT": str(free_port())}
    result = CliRunner().invoke(main, ["node", "start", "--engine", "clique"], env=env)
    assert (result.exit_code, result.output) == (
        3,
        "Error: @ethereumjs/client is 0.10.5, the Clique network needs 0.10.2; run `npm ci`\n",
    )
    assert not (home / "node").exists()
    network = CliqueNetwork(load_settings(home=str(home)))
    monkeypatch.setenv("SCF_PASSWORD", PASSWORD)
    network.create(1, [FUNDED])
    env |= {"SCF_NODE_MODULES": str(_fake_client(tmp_path / "nm2")), "SCF_PASSWORD": "not-it"}
    result = CliRunner().invoke(main, ["node", "start", "--engine", "clique"], env=env)
    key = home / "node" / "clique" / "signer1.json"
    assert (result.exit_code, result.output) == (
        2,
        f"Error: SCF_PASSWORD does not decrypt the Clique signer key {key}: set the password the network was "
        "created with\n",
    )
    assert not (home / "node" / "clique" / "node1.log").exists()


# -- one signer, through the real `scf` (CI) -----------------------------------------------------
def _scf(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCF, *argv], capture_output=True, text=True, env=env, timeout=180)


def _json(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _balance(url: str, address: str) -> int:
    return int(rpc_call(url, "eth_getBalance", [address, "latest"]), 16)


def _files_hold(root: Path, needles: list[bytes]) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and any(n in p.read_bytes() for n in needles)]


@pytest.mark.slow  # CI starts and stops a real node in tests/evm/test_clique_lifecycle.py, with the same key checks
def test_clique_single_signer_start_status_restart_stop(tmp_path, monkeypatch):
    home = tmp_path / "home"
    port = free_port()
    env = {**os.environ, "SCF_HOME": str(home), "SCF_PASSWORD": PASSWORD, "SCF_NODE_PORT": str(port)}
    for name in ("SCF_RPC_URL", "SCF_ENGINE"):
        env.pop(name, None)
    operator = _json(_scf(env, "account", "new", "bankops", "--json"))["address"]
    started = time.monotonic()
    data = _json(_scf(env, "node", "start", "--engine", "clique", "--json"))
    pids = [n["pid"] for n in data["nodes"]]
    try:
        took = time.monotonic() - started
        assert (data["engine"], data["chain_id"], data["started"], data["created"]) == ("clique", 123456, True, True)
        assert data["port"] == port and data["url"] == f"http://127.0.0.1:{port}" and len(pids) == 1
        assert data["funded"] == [operator] and len(data["signers"]) == 1
        assert took < 60
        url = data["url"]
        assert rpc_call(url, "eth_chainId") == hex(123456)
        assert _balance(url, operator) == FUND_WEI
        head = block_number(url)
        assert head is not None and head >= 1
        deadline = time.monotonic() + 15
        while block_number(url) == head and time.monotonic() < deadline:
            time.sleep(0.5)
        assert block_number(url) > head, "blocks do not advance"

        # The default endpoint is node 1, from the record (SCF_RPC_URL and SCF_NODE_PORT unset).
        monkeypatch.delenv("SCF_RPC_URL", raising=False)
        monkeypatch.delenv("SCF_NODE_PORT", raising=False)
        assert load_settings(home=str(home)).rpc_url == url

        status = _json(_scf(env, "node", "status", "--json"))
        assert (status["running"], status["engine"], status["chain_id"], status["answering"]) == (
            True,
            "clique",
            123456,
            True,
        )
        assert [n["pid"] for n in status["nodes"]] == pids and status["nodes"][0]["block"] >= 1
        assert _json(_scf(env, "node", "start", "--engine", "clique", "--json"))["started"] is False

        # The signer key is encrypted: neither its hex nor its bytes are in any file, nor on the command line.
        clique_dir = home / "node" / "clique"
        key = bytes(Account.decrypt(json.loads((clique_dir / "signer1.json").read_text()), PASSWORD))
        assert _files_hold(home, [key.hex().encode(), key.hex().upper().encode(), key]) == []
        assert key.hex() not in Path(f"/proc/{pids[0]}/cmdline").read_text()
        assert (clique_dir / "signer1.json").stat().st_mode & 0o077 == 0
        # Nor is the password in the node's environment; and a single signer takes no peer.
        environ = Path(f"/proc/{pids[0]}/environ").read_bytes().split(b"\0")
        assert [v for v in environ if v.startswith(b"SCF_") or PASSWORD.encode() in v] == []
        assert "--maxPeers=0" in Path(f"/proc/{pids[0]}/cmdline").read_text().split("\0")

        # While it runs: no Anvil, and the genesis is fixed.
        refused = _scf(env, "node", "start", "--engine", "anvil")
        assert refused.returncode == 1 and refused.stderr.startswith(
            f"Error: the Clique network of this data directory runs (pid {pids[0]}, port {port})"
        )
        assert _scf(env, "node", "start", "--signers", "2").returncode == 1
        other = _scf(env, "node", "start", "--fund", SIGNER_A)
        assert other.returncode == 1 and "start it without --fund" in other.stderr

        before = block_number(url)
        began = time.monotonic()
        stopped = _json(_scf(env, "node", "stop", "--json"))["stopped"]
        took = time.monotonic() - began
        assert stopped["engine"] == "clique" and [n["pid"] for n in stopped["nodes"]] == pids
        assert not any(pid_alive(p) for p in pids)
        # SIGTERM was enough: the client shut down cleanly (~8 s) within the grace, no SIGKILL.
        assert took < STOP_GRACE + 2
        assert (clique_dir / "node1.log").read_text().rstrip().endswith("Exiting."), took
        assert not (clique_dir / "running.json").exists()
        assert _json(_scf(env, "node", "status", "--json")) == {"running": False}

        again = _json(_scf(env, "node", "start", "--engine", "clique", "--json"))
        pids = [n["pid"] for n in again["nodes"]]
        assert (again["started"], again["created"], again["funded"]) == (True, False, [operator])
        assert block_number(url) >= before
        assert _balance(url, operator) == FUND_WEI
    finally:
        _scf(env, "node", "stop")
    assert not any(pid_alive(p) for p in pids)
    assert not (home / "node" / "clique" / "running.json").exists()


# -- two signers, on demand ----------------------------------------------------------------------
@pytest.mark.skipif(os.environ.get("SCF_NETWORK_LONG") != "1", reason="two sealing nodes: set SCF_NETWORK_LONG=1")
def test_clique_two_signers_seal_together_and_a_signer_restarts(tmp_path):
    home = tmp_path / "home"
    env = {**os.environ, "SCF_HOME": str(home), "SCF_PASSWORD": PASSWORD, "SCF_NODE_PORT": str(free_port())}
    for name in ("SCF_RPC_URL", "SCF_ENGINE"):
        env.pop(name, None)
    data = _json(_scf(env, "node", "start", "--engine", "clique", "--signers", "2", "--fund", FUNDED, "--json"))
    pids = [n["pid"] for n in data["nodes"]]
    try:
        assert len(pids) == 2 and sorted(data["signers"]) == sorted(n["signer"] for n in data["nodes"])
        assert data["funded"] == [FUNDED]
        # node 2 started from node 1's chain: both have the same block 1.
        one, two = (n["url"] for n in data["nodes"])
        first = [rpc_call(u, "eth_getBlockByNumber", ["0x1", False])["hash"] for u in (one, two)]
        assert first[0] == first[1]
        assert (home / "node" / "clique" / "node2" / CHAIN_NAME / "chain").is_dir()
        # Both seal: with two signers, neither may seal two blocks in a row.
        _wait_head(one, block_number(one) + 3)
        _wait_head(two, block_number(one))

        # Stop signer 2 by its PID, restart it with `scf node start`: it catches up.
        os.kill(pids[1], 15)
        deadline = time.monotonic() + 15
        while pid_alive(pids[1]) and time.monotonic() < deadline:
            time.sleep(0.2)
        status = _json(_scf(env, "node", "status", "--json"))
        assert [n["running"] for n in status["nodes"]] == [True, False]
        again = _json(_scf(env, "node", "start", "--json"))
        pids = [n["pid"] for n in again["nodes"]]
        assert again["started"] is True and pids[0] == data["nodes"][0]["pid"]
        two = again["nodes"][1]["url"]
        target = block_number(one) + 2
        _wait_head(two, target)
        assert (
            rpc_call(two, "eth_getBlockByNumber", [hex(target), False])["hash"]
            == rpc_call(one, "eth_getBlockByNumber", [hex(target), False])["hash"]
        )
    finally:
        _scf(env, "node", "stop")
    assert not any(pid_alive(p) for p in pids)


def _wait_head(url: str, target: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (block_number(url) or 0) < target:
        assert time.monotonic() < deadline, f"{url} did not reach block {target}"
        time.sleep(0.5)
