"""A local Clique proof-of-authority network of the npm ``@ethereumjs/client``
0.10.2 (pinned in ``package-lock.json``), kept under ``<home>/node/clique``::

    scf-clique.json      the geth-style genesis (the file name names the chain)
    signer1.json ...     the signer keys, encrypted keystores (SCF_PASSWORD)
    node1/ node2/        each node's data directory (chain, state, p2p key)
    node1.log ...        each node's output
    running.json         the running nodes: PID + kernel start time, ports

The genesis is written once, at the first start: chain id
:data:`CLIQUE_CHAIN_ID`, every fork through london at block 0, a block every
:data:`PERIOD` seconds, one or two signers, and the signers and the funded
accounts given :data:`FUND_WEI` each. Later starts reuse the data, so a
restart keeps the chain.

A signer key is decrypted in this process at each start and written to the
node's stdin, which the client reads when ``--unlock`` names an address (its
``inputAccounts``): the plain key is never on disk, nor on a command line.

Nodes are recorded by PID and stopped by that PID (SIGTERM, then SIGKILL
after ``STOP_GRACE`` seconds: the client waits out an 8-second sync
interval before it exits on SIGTERM; its LevelDB keeps every sealed block
either way). A second signer starts from a copy of the first node's chain
after block 1: two fresh nodes would each seal their own block 1 and fork.

eth-account and eth-utils are imported where keys and addresses are handled,
so `scf node status` and `stop` start fast.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.config import PASSWORD_ENV, Settings, env_password
from ledger.errors import InputError, NodeError, Refused
from ledger.evm.node import free_port, pid_alive, process_start_time, rpc_ready, terminate

#: The chain id of the local Clique network.
CLIQUE_CHAIN_ID = 123456
CLIENT_PACKAGE = "@ethereumjs/client"
#: 0.10.5 seals only empty Clique blocks; 0.10.2 seals transactions.
CLIENT_VERSION = "0.10.2"
#: The genesis file's stem: the client names the chain (and its data folder) after it.
CHAIN_NAME = "scf-clique"
#: Seconds between blocks, and the Clique epoch (blocks between checkpoints).
PERIOD = 2
EPOCH = 30000
BASE_FEE_WEI = 7
GAS_LIMIT = 30_000_000
#: What the genesis gives each signer and each funded account: a million ether.
FUND_WEI = 10**6 * 10**18
#: One signer is stable; two stay in sync under light load; three do not.
MAX_SIGNERS = 2
#: Seconds a start may take (the client answers in ~2 s here, ~12 s cold).
START_WAIT = 90.0
#: The forks the client needs at block 0 to run london from genesis.
FORKS = (
    "homesteadBlock",
    "eip150Block",
    "eip155Block",
    "eip158Block",
    "byzantiumBlock",
    "constantinopleBlock",
    "petersburgBlock",
    "istanbulBlock",
    "berlinBlock",
    "londonBlock",
)
#: The leveldb folders a second node copies from the first (not ``config``: it holds the p2p key).
SHARED_DBS = ("chain", "meta", "state")


def genesis(signers: Sequence[str], funded: Iterable[str]) -> dict[str, Any]:
    """The geth-style genesis of a Clique network sealed by ``signers``.

    ``extraData`` is 32 zero bytes of vanity, the signer addresses sorted
    (lower case, no 0x) and 65 zero bytes where a seal would go. The alloc
    gives :data:`FUND_WEI` to every signer and every funded address."""
    if not 1 <= len(signers) <= MAX_SIGNERS:
        raise ValueError(f"a Clique network here has 1 to {MAX_SIGNERS} signers, not {len(signers)}")
    sealers = sorted({_bare(a) for a in signers})
    alloc = {a: {"balance": hex(FUND_WEI)} for a in sorted({*sealers, *(_bare(a) for a in funded)})}
    config: dict[str, Any] = {"chainId": CLIQUE_CHAIN_ID, **dict.fromkeys(FORKS, 0)}
    config["clique"] = {"period": PERIOD, "epoch": EPOCH}
    return {
        "config": config,
        "nonce": "0x0",
        "timestamp": "0x0",
        "gasLimit": hex(GAS_LIMIT),
        "difficulty": "0x1",
        "extraData": "0x" + "00" * 32 + "".join(sealers) + "00" * 65,
        "mixHash": "0x" + "00" * 32,
        "coinbase": "0x" + "00" * 20,
        "baseFeePerGas": hex(BASE_FEE_WEI),
        "number": "0x0",
        "gasUsed": "0x0",
        "parentHash": "0x" + "00" * 32,
        "alloc": alloc,
    }


def genesis_signers(data: dict[str, Any]) -> list[str]:
    """The signer addresses in a genesis's ``extraData`` (checksummed, in its order)."""
    from eth_utils import to_checksum_address

    body = str(data["extraData"]).removeprefix("0x")[64:-130]
    return [str(to_checksum_address("0x" + body[i : i + 40])) for i in range(0, len(body), 40)]


def genesis_funded(data: dict[str, Any]) -> list[str]:
    """The funded accounts of a genesis: its alloc without the signers (checksummed, sorted)."""
    from eth_utils import to_checksum_address

    sealers = {a.lower() for a in genesis_signers(data)}
    return sorted(str(to_checksum_address("0x" + a)) for a in data["alloc"] if "0x" + a not in sealers)


def _bare(address: str) -> str:
    return address.lower().removeprefix("0x")


def client_script(node_modules: Path) -> Path:
    """The client's entry point, checked to be the pinned version."""
    package = node_modules / CLIENT_PACKAGE
    script = package / "dist" / "esm" / "bin" / "cli.js"
    try:
        version = json.loads((package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        version = None
    if version is None or not script.exists():
        raise NodeError(f"{CLIENT_PACKAGE} not found in {node_modules}; run `npm ci`")
    if version != CLIENT_VERSION:
        raise NodeError(f"{CLIENT_PACKAGE} is {version}, the Clique network needs {CLIENT_VERSION}; run `npm ci`")
    return script


def rpc_call(url: str, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    """The result of one JSON-RPC call, or None if the node does not answer it."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read()).get("result")
    except (OSError, ValueError, AttributeError, urllib.error.URLError):
        return None


def block_number(url: str) -> int | None:
    """The node's head, or None if it does not answer."""
    head = rpc_call(url, "eth_blockNumber")
    return int(head, 16) if isinstance(head, str) else None


def password() -> str:
    """SCF_PASSWORD, which encrypts the signer keys; an InputError if unset."""
    value = env_password()
    if not value:
        raise InputError(f"set {PASSWORD_ENV}: the Clique signer keys are encrypted with it")
    return value


def url_of(port: int) -> str:
    return f"http://127.0.0.1:{port}"


@dataclass
class _Launch:
    """A node started by this process, until it is ready."""

    index: int
    popen: subprocess.Popen[bytes]
    rpc_port: int
    p2p_port: int
    signer: str
    log: Path

    @property
    def url(self) -> str:
        return url_of(self.rpc_port)


class CliqueNetwork:
    """The data directory's own Clique network: `scf node start --engine clique`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = settings.node_dir / "clique"
        self.genesis_file = self.dir / f"{CHAIN_NAME}.json"
        self.record_file = self.dir / "running.json"

    # -- files ------------------------------------------------------------------------------------
    def key_file(self, index: int) -> Path:
        return self.dir / f"signer{index}.json"

    def data_dir(self, index: int) -> Path:
        return self.dir / f"node{index}"

    def log_file(self, index: int) -> Path:
        return self.dir / f"node{index}.log"

    def exists(self) -> bool:
        """Whether the genesis was written (the network was created)."""
        return self.genesis_file.exists()

    def read_genesis(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads(self.genesis_file.read_text())
            genesis_signers(data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise NodeError(f"cannot read the Clique genesis {self.genesis_file}: {exc}") from None
        return data

    # -- the record -------------------------------------------------------------------------------
    def info(self) -> dict[str, Any] | None:
        """The recorded network if any of its nodes is still alive, else None
        (a stale record is removed). Each node says whether it runs."""
        try:
            record: dict[str, Any] = json.loads(self.record_file.read_text())
            nodes = [dict(n) for n in record["nodes"]]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        for node in nodes:
            pid, recorded = int(node["pid"]), node.get("start_time")
            # Gone, or the PID now belongs to another process: not ours.
            node["running"] = pid_alive(pid) and (recorded is None or process_start_time(pid) == recorded)
        if not any(n["running"] for n in nodes):
            self.record_file.unlink(missing_ok=True)
            return None
        first = nodes[0]
        return {
            "engine": "clique",
            "chain_id": CLIQUE_CHAIN_ID,
            "pid": first["pid"],
            "port": record["port"],
            "nodes": nodes,
        }

    def _write_record(self, port: int, nodes: list[dict[str, Any]]) -> None:
        keep = ("node", "pid", "start_time", "port", "p2p_port", "signer", "log")
        listed = [{k: n[k] for k in keep} for n in sorted(nodes, key=lambda n: int(n["node"]))]
        record = {"engine": "clique", "chain_id": CLIQUE_CHAIN_ID, "port": port, "nodes": listed}
        tmp = self.record_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self.record_file)

    # -- creation ---------------------------------------------------------------------------------
    def create(self, signers: int, funded: Sequence[str]) -> list[str]:
        """Write new encrypted signer keys and the genesis (first start only).
        Returns the funded addresses."""
        from eth_account import Account

        secret = password()
        if self.dir.exists():
            # Leftovers of a creation that stopped before the genesis was written.
            for path in [*self.dir.glob("signer*.json"), *self.dir.glob("node*")]:
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        addresses = []
        for index in range(1, signers + 1):
            account = Account.create()
            fd = os.open(self.key_file(index), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(Account.encrypt(account.key, secret), handle)
            addresses.append(str(account.address))
        data = genesis(addresses, funded)
        tmp = self.genesis_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, self.genesis_file)
        return genesis_funded(data)

    def signer_key(self, index: int, secret: str) -> tuple[str, str]:
        """(address, 0x-prefixed private key) of signer ``index``, decrypted in memory."""
        from eth_account import Account

        path = self.key_file(index)
        try:
            keystore = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise NodeError(f"cannot read the Clique signer key {path}: {exc}") from None
        try:
            key = Account.decrypt(keystore, secret)
        except ValueError as exc:
            if "MAC mismatch" in str(exc):
                raise InputError(
                    f"{PASSWORD_ENV} does not decrypt the Clique signer key {path}: "
                    "set the password the network was created with"
                ) from None
            raise NodeError(f"the Clique signer key {path} is corrupt ({exc})") from None
        except Exception as exc:  # noqa: BLE001 - eth-keyfile raises KeyError, TypeError, ... on a corrupt file
            raise NodeError(f"the Clique signer key {path} is corrupt ({type(exc).__name__})") from None
        return str(Account.from_key(key).address), "0x" + bytes(key).hex()

    # -- processes --------------------------------------------------------------------------------
    def _spawn(self, index: int, secret: str, rpc_port: int, bootnodes: Sequence[str]) -> _Launch:
        node_bin = shutil.which("node")
        if node_bin is None:
            raise NodeError("Node.js (`node`) not found on PATH; the Clique network runs on it")
        address, key = self.signer_key(index, secret)
        p2p_port = free_port()
        args = [
            node_bin,
            str(client_script(self.settings.node_modules)),
            f"--gethGenesis={self.genesis_file.resolve()}",
            f"--dataDir={self.data_dir(index).resolve()}",
            f"--port={p2p_port}",
            "--extIP=127.0.0.1",
            "--rpc",
            "--rpcAddr=127.0.0.1",
            f"--rpcPort={rpc_port}",
            "--discDns=false",
            "--discV4=false",
            "--mine",
            # An address, not a file: the client then asks for the key on stdin.
            f"--unlock={address}",
        ]
        if bootnodes:
            args.append(f"--bootnodes={','.join(bootnodes)}")
        log = self.log_file(index)
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                args, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True
            )
        assert popen.stdin is not None
        try:
            popen.stdin.write(key.encode() + b"\n")
            popen.stdin.close()
        except BrokenPipeError:
            pass  # it exited already; _wait reports it with its log
        return _Launch(index, popen, rpc_port, p2p_port, address, log)

    def _wait(self, launches: Sequence[_Launch], urls: Sequence[str], deadline: float) -> None:
        """Until every node in ``urls`` is :meth:`_ready`; a NodeError naming
        the log if a launched node exits or the network is not ready in time."""
        while True:
            for launch in launches:
                if launch.popen.poll() is not None:
                    raise NodeError(
                        f"Clique node {launch.index} exited with code {launch.popen.returncode} "
                        f"before it was ready; see {launch.log}"
                    )
            if all(self._ready(url, len(urls) > 1) for url in urls):
                return
            if time.monotonic() > deadline:
                logs = ", ".join(str(x.log) for x in launches)
                raise NodeError(f"the Clique network was not sealing blocks within {START_WAIT:g}s; see {logs}")
            time.sleep(0.25)

    @staticmethod
    def _ready(url: str, several: bool) -> bool:
        """Whether the node at ``url`` has sealed or received a block; with
        several nodes, block 2 (which the signer of block 1 may not seal
        alone) and a peer."""
        head = block_number(url)
        if head is None or head < (2 if several else 1):
            return False
        return not several or int(rpc_call(url, "net_peerCount") or "0x0", 16) >= 1

    def _launch(self, secret: str, index: int, port: int, bootnodes: Sequence[str], started: list[_Launch]) -> str:
        """Start node ``index``, wait until it answers; returns its enode."""
        launch = self._spawn(index, secret, port, bootnodes)
        started.append(launch)
        deadline = time.monotonic() + START_WAIT
        while True:
            if launch.popen.poll() is not None:
                raise NodeError(
                    f"Clique node {index} exited with code {launch.popen.returncode} before it answered; "
                    f"see {launch.log}"
                )
            info = rpc_call(launch.url, "admin_nodeInfo", timeout=0.5)
            if isinstance(info, dict) and info.get("enode"):
                return str(info["enode"])
            if time.monotonic() > deadline:
                raise NodeError(
                    f"Clique node {index} did not answer on port {port} within {START_WAIT:g}s; see {launch.log}"
                )
            time.sleep(0.1)

    def _seed_second_node(self, secret: str, port: int) -> None:
        """First start of two signers: node 1 alone seals block 1, stops, and
        node 2's data starts as a copy of node 1's chain."""
        started: list[_Launch] = []
        try:
            self._launch(secret, 1, port, [], started)
            self._wait(started, [started[0].url], time.monotonic() + START_WAIT)
        finally:
            terminate([x.popen.pid for x in started])
            for x in started:
                x.popen.wait(5)
        source = self.data_dir(1) / CHAIN_NAME
        target = self.data_dir(2) / CHAIN_NAME
        target.mkdir(parents=True, exist_ok=True)
        for name in SHARED_DBS:
            shutil.copytree(source / name, target / name, dirs_exist_ok=True)

    def start(self, signers: int | None = None, fund: Sequence[str] = ()) -> tuple[dict[str, Any], bool]:
        """Start the nodes not running, creating the network at the first
        start, and return (info, started_now) once every node seals blocks.

        ``signers`` (1 or 2, default 1) and ``fund`` (keystore account names
        or addresses; default every keystore account) are for the first
        start: the genesis fixes them, so a later start that gives other
        values is refused."""
        exists = self.exists()
        funded = funded_addresses(self.settings, fund) if fund or not exists else []
        if exists:
            self._check_fixed(signers, funded)
        count = len(genesis_signers(self.read_genesis())) if exists else signers or 1
        current = self.info()
        if current is not None and all(n["running"] for n in current["nodes"]) and len(current["nodes"]) == count:
            return current, False
        secret = password()
        alive = [n for n in current["nodes"] if n["running"]] if current else []
        port = int(current["port"]) if current else self.settings.node_port
        if not any(n["node"] == 1 for n in alive) and rpc_ready(url_of(port)):
            raise NodeError(
                f"port {port} already answers JSON-RPC but is not this data directory's node; "
                "stop that node or set --port / SCF_NODE_PORT"
            )
        client_script(self.settings.node_modules)
        if not exists:
            self.create(count, funded)
        if count == 2 and not (self.data_dir(2) / CHAIN_NAME / "chain").exists():
            self._seed_second_node(secret, port)
        self._start_missing(secret, count, port, alive)
        info = self.info()
        assert info is not None
        return info, True

    def describe(self) -> dict[str, Any]:
        """What the genesis fixed: its file, the signers and the funded accounts."""
        data = self.read_genesis()
        return {"genesis": str(self.genesis_file), "signers": genesis_signers(data), "funded": genesis_funded(data)}

    def _start_missing(self, secret: str, count: int, port: int, alive: list[dict[str, Any]]) -> None:
        """Start every node of 1..count not in ``alive``, each bootstrapped
        from the nodes already up; on failure stop what this call started."""
        running = {int(n["node"]): n for n in alive}
        enodes = [e for e in (rpc_call(url_of(int(n["port"])), "admin_nodeInfo") for n in alive) if e]
        bootnodes = [str(e["enode"]) for e in enodes if isinstance(e, dict)]
        started: list[_Launch] = []
        try:
            for index in range(1, count + 1):
                if index not in running:
                    bootnodes.append(
                        self._launch(secret, index, port if index == 1 else free_port(), bootnodes, started)
                    )
            urls = [url_of(int(n["port"])) for n in alive] + [x.url for x in started]
            self._wait(started, urls, time.monotonic() + START_WAIT)
        except BaseException:
            terminate([x.popen.pid for x in started])
            raise
        for x in started:
            running[x.index] = {
                "node": x.index,
                "pid": x.popen.pid,
                "start_time": process_start_time(x.popen.pid),
                "port": x.rpc_port,
                "p2p_port": x.p2p_port,
                "signer": x.signer,
                "log": str(x.log),
            }
        self._write_record(int(running[1]["port"]), list(running.values()))

    def _check_fixed(self, signers: int | None, fund: Sequence[str]) -> None:
        """Refused: a later start may not change what the genesis fixed."""
        data = self.read_genesis()
        have = len(genesis_signers(data))
        if signers is not None and signers != have:
            raise Refused(
                f"this Clique network has {have} signer{'s' if have > 1 else ''}, fixed in its genesis "
                f"({self.genesis_file}); start it without --signers"
            )
        if fund and {a.lower() for a in fund} != {a.lower() for a in genesis_funded(data)}:
            raise Refused(
                "the funded accounts of this Clique network are fixed in its genesis "
                f"({self.genesis_file}); start it without --fund"
            )

    def stop(self) -> dict[str, Any] | None:
        """Stop every recorded node by PID; returns what was stopped, or None."""
        current = self.info()
        if current is None:
            return None
        terminate([int(n["pid"]) for n in current["nodes"] if n["running"]])
        self.record_file.unlink(missing_ok=True)
        return current


def funded_addresses(settings: Settings, names: Sequence[str]) -> list[str]:
    """The addresses ``--fund`` names: keystore account names or 0x addresses;
    none given: every readable account of the keystore (at genesis time).

    An unknown name, a dev name (its key is public, refused off the dev
    chain) or a malformed address is an InputError."""
    from eth_utils import is_hex_address, to_checksum_address

    from ledger.evm.accounts import DEV_NAMES, Keystore, list_accounts

    if not names:
        return [str(a.address) for a in list_accounts(settings) if a.kind == "keystore" and a.address]
    store = Keystore(settings)
    found = []
    for name in names:
        if name.startswith("0x"):
            if not is_hex_address(name):
                raise InputError(f"invalid address {name!r} for --fund: expected 0x and 40 hex digits")
            found.append(str(to_checksum_address(name)))
        elif name in DEV_NAMES and not store.path(name).exists():
            raise InputError(
                f"{name!r} is a public dev key, refused off the dev chain; fund an account of the keystore "
                "(`scf account new` or `scf account import`)"
            )
        else:
            found.append(store.address(name))
    return found
