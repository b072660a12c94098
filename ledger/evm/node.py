"""The local Anvil chain: started in the background with its state persisted
under ``<home>/node``, recorded by PID, and stopped by that PID (SIGTERM, so
Anvil writes its state; never by process name). Also the helpers the Clique
engine (:mod:`ledger.evm.clique`) shares: the lock of ``<home>/node`` that
every start and stop holds, local URLs and JSON-RPC calls, free ports, PID
liveness and start times, the environment a node runs in, stopping by PID."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.config import DEV_CHAIN_ID, Settings
from ledger.errors import NodeError, Refused

ANVIL_PACKAGE = "@foundry-rs/anvil-linux-amd64"


def anvil_binary(node_modules: Path) -> Path:
    """The Anvil binary shipped in the npm platform package."""
    env = os.environ.get("ANVIL_BINARY")
    path = Path(env) if env else node_modules / ANVIL_PACKAGE / "bin" / "anvil"
    if not path.exists():
        raise NodeError(f"Anvil not found at {path}; run `npm ci` (package {ANVIL_PACKAGE})")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def url_of(port: int) -> str:
    """The JSON-RPC URL of a local node listening on ``port``."""
    return f"http://127.0.0.1:{port}"


def rpc_call(url: str, method: str, params: list[Any] | None = None, timeout: float = 2.0) -> Any:
    """The result of one JSON-RPC call, or None if the node does not answer it."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read()).get("result")
    except (OSError, ValueError, AttributeError, urllib.error.URLError):
        return None


def rpc_ready(url: str, timeout: float = 0.5) -> bool:
    """Whether a node answers JSON-RPC at ``url`` (its chain id)."""
    return rpc_call(url, "eth_chainId", timeout=timeout) is not None


#: The one line a start or stop gets while another holds the data directory's node lock.
NODE_BUSY = "another `scf node` command is starting or stopping this data directory's node; try again"
_held_locks: dict[Path, int] = {}


@contextlib.contextmanager
def node_lock(node_dir: Path) -> Iterator[None]:
    """Hold the exclusive lock ``<node_dir>/.lock`` (``flock``) for a start
    or a stop, of either engine: a second one meanwhile is Refused at once,
    rather than racing the first (two first starts would both create a
    genesis). Re-entrant within this process; the lock's descriptor is not
    inherited by the nodes spawned, and the kernel frees the lock when this
    process ends, however it ends."""
    path = node_dir.resolve() / ".lock"
    if path in _held_locks:
        _held_locks[path] += 1
        try:
            yield
        finally:
            _held_locks[path] -= 1
        return
    node_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Refused(NODE_BUSY) from None
        _held_locks[path] = 1
        try:
            yield
        finally:
            del _held_locks[path]
    finally:
        os.close(fd)  # releases the lock


def node_environment() -> dict[str, str]:
    """The environment a node is spawned with: this process's without any
    ``SCF_*`` variable. So no secret (SCF_PASSWORD, SCF_PRIVATE_KEY, a
    password in SCF_DB_URL), which anyone able to read /proc/<pid>/environ
    would see, and no setting of scf, which no node reads."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SCF_")}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited child not yet reaped) is not alive.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def process_start_time(pid: int) -> int | None:
    """The kernel's start time of `pid` (clock ticks since boot), or None.

    Recorded with the PID so a PID reused by another process after a crash or
    reboot is never mistaken for our node, and never signalled."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(") ", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def is_recorded_process(pid: int, start_time: int | None) -> bool:
    """Whether the process recorded as ``pid`` (started at ``start_time``,
    if recorded) still runs: neither gone nor the PID reused by another."""
    return pid_alive(pid) and (start_time is None or process_start_time(pid) == start_time)


#: Seconds a process has to exit after SIGTERM before :func:`terminate` kills it.
STOP_GRACE = 5.0


def terminate(pids: Sequence[int], grace: float = STOP_GRACE) -> None:
    """SIGTERM each PID, then SIGKILL those still alive after ``grace``
    seconds; returns once all are gone (or 5 s after the SIGKILL)."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        for pid in pids:
            if pid_alive(pid):
                with contextlib.suppress(ProcessLookupError):  # exited in between
                    os.kill(pid, sig)
        deadline = time.monotonic() + wait
        while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)


@dataclass
class AnvilProcess:
    """A running Anvil we started; stop it with :meth:`stop`."""

    pid: int
    port: int
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return url_of(self.port)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM by PID (Anvil then writes its state), SIGKILL if it hangs."""
        if not pid_alive(self.pid):
            return
        os.kill(self.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen is not None and self.popen.poll() is not None:
                return
            if self.popen is None and not pid_alive(self.pid):
                return
            time.sleep(0.05)
        os.kill(self.pid, signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(5)


def spawn_anvil(
    node_modules: Path,
    port: int | None = None,
    state_file: Path | None = None,
    log_file: Path | None = None,
    extra_args: list[str] | None = None,
    detach: bool = False,
    wait: float = 20.0,
    chain_id: int = DEV_CHAIN_ID,
    spawned: Callable[[int], None] | None = None,
) -> AnvilProcess:
    """Start Anvil on 127.0.0.1 and wait until it answers JSON-RPC.

    Private chains run with a zero base fee, so fees never strand a
    transaction in the pool and new accounts can transact without ether.
    ``spawned`` is called with the PID as soon as the process exists (to
    record it before the wait).
    """
    port = port or free_port()
    args = [
        str(anvil_binary(node_modules)),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chain-id",
        str(chain_id),
        "--base-fee",
        "0",
        "--gas-price",
        "0",
        "--silent",
    ]
    if state_file is not None:
        # --state loads and dumps on exit; the interval bounds what a SIGKILL loses.
        args += ["--state", str(state_file), "--state-interval", "5"]
    args += extra_args or []
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    try:
        popen = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=detach,
            env=node_environment(),
        )
    finally:
        if log_file:
            out.close()  # type: ignore[union-attr]
    proc = AnvilProcess(popen.pid, port, popen)
    if spawned is not None:
        spawned(popen.pid)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            hint = f"; see {log_file}" if log_file else ""
            raise NodeError(f"Anvil exited with code {popen.returncode} on port {port}{hint}")
        if rpc_ready(proc.url):
            return proc
        time.sleep(0.05)
    proc.stop()
    raise NodeError(f"Anvil did not answer on port {port} within {wait:g}s")


class LocalNode:
    """The data directory's own Anvil: `scf node start|stop|status`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.dir = settings.node_dir
        self.info_file = self.dir / "anvil.json"
        self.state_file = self.dir / "state.json"
        self.log_file = self.dir / "anvil.log"

    def info(self) -> dict[str, int] | None:
        """The recorded process if it is still alive, else None (stale records are removed)."""
        try:
            data = json.loads(self.info_file.read_text())
            pid = int(data["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if not is_recorded_process(pid, data.get("start_time")):
            # Gone, or the PID now belongs to some other process: a stale record.
            self.info_file.unlink(missing_ok=True)
            return None
        return {"pid": pid, "port": int(data["port"])}

    def start(self) -> tuple[dict[str, int], bool]:
        """Start unless running, under the data directory's node lock.
        Returns (info, started_now)."""
        with node_lock(self.dir):
            current = self.info()
            if current is not None:
                return current, False
            port = self.settings.node_port
            if rpc_ready(url_of(port)):
                raise NodeError(
                    f"port {port} already answers JSON-RPC but is not this data directory's node; "
                    "stop that node or set --port / SCF_NODE_PORT"
                )

            def record(pid: int) -> None:
                # At once, so a start interrupted while Anvil comes up leaves a record `stop` can use.
                self.info_file.write_text(json.dumps({"pid": pid, "port": port, "start_time": process_start_time(pid)}))

            try:
                proc = spawn_anvil(
                    self.settings.node_modules,
                    port=port,
                    state_file=self.state_file,
                    log_file=self.log_file,
                    detach=True,
                    spawned=record,
                )
            except Exception:
                self.info_file.unlink(missing_ok=True)  # it exited or was stopped
                raise
            return {"pid": proc.pid, "port": proc.port}, True

    def stop(self) -> dict[str, int] | None:
        """Stop by the recorded PID, under the node lock; returns what was
        stopped, or None."""
        if not self.dir.exists():
            return None  # nothing ever ran: no lock (nor <home>/node) needed
        with node_lock(self.dir):
            current = self.info()
            if current is None:
                return None
            AnvilProcess(current["pid"], current["port"]).stop()
            self.info_file.unlink(missing_ok=True)
            return current
