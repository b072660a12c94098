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
``inputAccounts``): the plain key is never on disk, nor on a command line,
nor in the node's environment (spawned without any ``SCF_*`` variable).

JSON-RPC listens on 127.0.0.1 only. The client's P2P (RLPx) port listens on
every interface, whatever the options (0.10.2 hard-codes 0.0.0.0 in its
``rlpxserver``; ``--extIP`` only sets the address it advertises). A single
signer runs with ``--maxPeers=0``: whoever reaches its port is disconnected
after the handshake, before any block is exchanged. Two signers must peer,
so their P2P ports (in ``running.json``, ``p2p_port``) accept any peer that
reaches them, which can then read the whole ledger: firewall them on any
host reachable from another.

Every start and stop holds ``<home>/node/.lock`` (:func:`ledger.evm.node.node_lock`),
so two never race (two first starts would both create a genesis). A node is
recorded by PID as soon as it is spawned, so a start interrupted before the
network is ready leaves a record `scf node stop` acts on. Nodes are stopped by
that PID: SIGTERM, then SIGKILL after :data:`STOP_GRACE` seconds (the client
waits out an 8-second sync interval before it exits; its LevelDB keeps every
sealed block either way). A second signer starts from a copy of the first
node's chain after block 1: two fresh nodes would each seal their own block 1
and fork.

eth-account and eth-utils are imported where keys and addresses are handled,
so `scf node status` and `stop` start fast.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.config import PASSWORD_ENV, Settings, env_password
from ledger.errors import InputError, NodeError, Refused
from ledger.evm.node import (
    free_port,
    is_recorded_process,
    node_environment,
    node_lock,
    process_start_time,
    rpc_call,
    rpc_ready,
    terminate,
    url_of,
)

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
#: Seconds a node has to exit after SIGTERM before it is killed: the client
#: takes ~8 s (it waits out its sync interval).
STOP_GRACE = 12.0
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


def node_binary() -> str:
    """Node.js, which runs the client: a NodeError if it is not on PATH."""
    found = shutil.which("node")
    if found is None:
        raise NodeError("Node.js (`node`) not found on PATH; the Clique network runs on it")
    return found


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


#: Why a first start that would fund no account is refused.
NOTHING_FUNDED = (
    "the keystore has no account for the new Clique network's genesis to fund, and a genesis cannot be "
    "changed later: create an account first (`scf account new NAME` or `scf account import NAME`) or "
    "pass --fund NAME|0xADDRESS"
)


@dataclass
class _Launch:
    """A node started by this process, until it is ready."""

    index: int
    popen: subprocess.Popen[bytes]
    start_time: int | None
    rpc_port: int
    p2p_port: int
    signer: str
    log: Path

    @property
    def url(self) -> str:
        return url_of(self.rpc_port)

    def entry(self) -> dict[str, Any]:
        """The node as ``running.json`` records it."""
        return {
            "node": self.index,
            "pid": self.popen.pid,
            "start_time": self.start_time,
            "port": self.rpc_port,
            "p2p_port": self.p2p_port,
            "signer": self.signer,
            "log": str(self.log),
        }


@dataclass
class _Run:
    """One start's nodes: what spawns them, node 1's port, whether they
    peer, the nodes that already ran and those started (recorded at once)."""

    secret: str
    node_bin: str
    script: Path
    port: int
    peers: bool
    alive: list[dict[str, Any]] = field(default_factory=list)
    started: list[_Launch] = field(default_factory=list)


@dataclass(frozen=True)
class StartPlan:
    """What :meth:`CliqueNetwork.prepare` checked before a start takes the
    node lock: the options, the funded addresses, and (unless the network
    already ran in full) the password, Node.js and the client script."""

    signers: int | None
    fund: tuple[str, ...]
    funded: list[str]
    secret: str | None
    node_bin: str | None
    script: Path | None


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
            # Gone, or the PID now belongs to another process: not ours.
            node["running"] = is_recorded_process(int(node["pid"]), node.get("start_time"))
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

    def _write_record(self, port: int, nodes: Sequence[dict[str, Any]]) -> None:
        """Record ``nodes`` (node 1 answering on ``port``); none: remove the record."""
        if not nodes:
            self.record_file.unlink(missing_ok=True)
            return
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
    def _spawn(self, run: _Run, index: int, rpc_port: int, bootnodes: Sequence[str]) -> _Launch:
        address, key = self.signer_key(index, run.secret)
        p2p_port = free_port()
        args = [
            run.node_bin,
            str(run.script),
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
        if not run.peers:
            # The port still listens on 0.0.0.0, but turns away every peer after the handshake.
            args.append("--maxPeers=0")
        if bootnodes:
            args.append(f"--bootnodes={','.join(bootnodes)}")
        log = self.log_file(index)
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                args,
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.dir,
                start_new_session=True,
                env=node_environment(),
            )
        launch = _Launch(index, popen, process_start_time(popen.pid), rpc_port, p2p_port, address, log)
        # Recorded at once: a start interrupted from here on leaves a record `scf node stop` uses.
        run.started.append(launch)
        self._write_record(run.port, [*run.alive, *(x.entry() for x in run.started)])
        assert popen.stdin is not None
        try:
            popen.stdin.write(key.encode() + b"\n")
            popen.stdin.close()
        except BrokenPipeError:
            pass  # it exited already; _wait reports it with its log
        return launch

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

    def _launch(self, run: _Run, index: int, rpc_port: int, bootnodes: Sequence[str]) -> str:
        """Start node ``index``, wait until it answers; returns its enode."""
        launch = self._spawn(run, index, rpc_port, bootnodes)
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
                    f"Clique node {index} did not answer on port {rpc_port} within {START_WAIT:g}s; see {launch.log}"
                )
            time.sleep(0.1)

    def _seed_second_node(self, run: _Run) -> None:
        """First start of two signers: node 1 alone seals block 1, stops, and
        node 2's data starts as a copy of node 1's chain."""
        seed = _Run(run.secret, run.node_bin, run.script, run.port, peers=False)
        try:
            self._launch(seed, 1, seed.port, [])
            self._wait(seed.started, [seed.started[0].url], time.monotonic() + START_WAIT)
        finally:
            terminate([x.popen.pid for x in seed.started], STOP_GRACE)
            for x in seed.started:
                x.popen.wait(5)
            self._write_record(seed.port, [])
        source = self.data_dir(1) / CHAIN_NAME
        target = self.data_dir(2) / CHAIN_NAME
        # Copied aside, then renamed: an interrupted copy is never taken for a seeded node 2.
        staging = self.data_dir(2) / f".{CHAIN_NAME}.seeding"
        shutil.rmtree(staging, ignore_errors=True)
        for name in SHARED_DBS:
            shutil.copytree(source / name, staging / name)
        shutil.rmtree(target, ignore_errors=True)  # node 2 never ran: nothing of its own there
        os.replace(staging, target)

    def start(self, signers: int | None = None, fund: Sequence[str] = ()) -> tuple[dict[str, Any], bool]:
        """Start the nodes not running, creating the network at the first
        start, and return (info, started_now) once every node seals blocks:
        :meth:`prepare`, then :meth:`launch`.

        ``signers`` (1 or 2, default 1) and ``fund`` (keystore account names
        or addresses; default every keystore account) are for the first
        start: the genesis fixes them, so a later start that gives other
        values is refused."""
        return self.launch(self.prepare(signers, fund))

    def _count(self, exists: bool, signers: int | None) -> int:
        return len(genesis_signers(self.read_genesis())) if exists else signers or 1

    @staticmethod
    def _complete(current: dict[str, Any] | None, count: int) -> bool:
        """Whether all ``count`` nodes of the record ``current`` run."""
        return current is not None and len(current["nodes"]) == count and all(n["running"] for n in current["nodes"])

    def prepare(self, signers: int | None = None, fund: Sequence[str] = ()) -> StartPlan:
        """The checks of a start that need no lock and write nothing: the
        options against the genesis; unless every node runs, the password,
        Node.js and the client (before :meth:`create` fixes a genesis that
        could not start), and that a first start funds some account."""
        exists = self.exists()
        funded = funded_addresses(self.settings, fund) if fund or not exists else []
        if exists:
            self._check_fixed(signers, funded)
        if self._complete(self.info(), self._count(exists, signers)):
            return StartPlan(signers, tuple(fund), funded, None, None, None)
        secret = password()
        node_bin = node_binary()
        script = client_script(self.settings.node_modules)
        if not exists and not funded:
            raise InputError(NOTHING_FUNDED)
        return StartPlan(signers, tuple(fund), funded, secret, node_bin, script)

    def launch(self, plan: StartPlan) -> tuple[dict[str, Any], bool]:
        """Start what :meth:`prepare` planned, holding the node lock (the
        state is read again under it: another start may have run since)."""
        with node_lock(self.settings.node_dir):
            exists = self.exists()
            if exists:
                self._check_fixed(plan.signers, plan.funded if plan.fund else [])
            count = self._count(exists, plan.signers)
            current = self.info()
            if current is not None and self._complete(current, count):
                return current, False
            run = _Run(
                plan.secret or password(),
                plan.node_bin or node_binary(),
                plan.script or client_script(self.settings.node_modules),
                int(current["port"]) if current else self.settings.node_port,
                peers=count > 1,
                alive=[n for n in current["nodes"] if n["running"]] if current else [],
            )
            if not exists and not plan.funded:
                raise InputError(NOTHING_FUNDED)
            if not any(n["node"] == 1 for n in run.alive) and rpc_ready(url_of(run.port)):
                raise NodeError(
                    f"port {run.port} already answers JSON-RPC but is not this data directory's node; "
                    "stop that node or set --port / SCF_NODE_PORT"
                )
            if not exists:
                self.create(count, plan.funded)
            if count == 2 and not (self.data_dir(2) / CHAIN_NAME / "chain").exists():
                if run.alive:
                    # Node 1 of a first start that was interrupted while seeding: the copy needs it stopped.
                    terminate([int(n["pid"]) for n in run.alive], STOP_GRACE)
                    run.alive = []
                self._seed_second_node(run)
            self._start_missing(run, count)
            info = self.info()
            assert info is not None
            return info, True

    def describe(self) -> dict[str, Any]:
        """What the genesis fixed: its file, the signers and the funded accounts."""
        data = self.read_genesis()
        return {"genesis": str(self.genesis_file), "signers": genesis_signers(data), "funded": genesis_funded(data)}

    def _start_missing(self, run: _Run, count: int) -> None:
        """Start every node of 1..count not in ``run.alive``, each
        bootstrapped from the nodes already up; on failure stop what this
        call started."""
        running = {int(n["node"]) for n in run.alive}
        enodes = [rpc_call(url_of(int(n["port"])), "admin_nodeInfo") for n in run.alive]
        bootnodes = [str(e["enode"]) for e in enodes if isinstance(e, dict) and e.get("enode")]
        try:
            for index in range(1, count + 1):
                if index not in running:
                    bootnodes.append(self._launch(run, index, run.port if index == 1 else free_port(), bootnodes))
            urls = [url_of(int(n["port"])) for n in run.alive] + [x.url for x in run.started]
            self._wait(run.started, urls, time.monotonic() + START_WAIT)
        except BaseException:
            terminate([x.popen.pid for x in run.started], STOP_GRACE)
            self._write_record(run.port, run.alive)
            raise

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
        """Stop every recorded node by PID, holding the node lock; returns
        what was stopped, or None."""
        if not self.dir.exists():
            return None  # never created: no lock (nor <home>/node) needed
        with node_lock(self.settings.node_dir):
            current = self.info()
            if current is None:
                return None
            terminate([int(n["pid"]) for n in current["nodes"] if n["running"]], STOP_GRACE)
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
