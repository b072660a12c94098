"""The local Anvil chain: started in the background with its state persisted
under ``<home>/node``, recorded by PID, and stopped by that PID (SIGTERM, so
Anvil writes its state; never by process name). Also the process helpers the
Clique engine (:mod:`ledger.evm.clique`) shares: free ports, JSON-RPC
readiness, PID liveness and start times, stopping by PID."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ledger.config import DEV_CHAIN_ID, Settings
from ledger.errors import NodeError

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


def rpc_ready(url: str, timeout: float = 0.5) -> bool:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return "result" in json.loads(response.read())
    except (OSError, ValueError, urllib.error.URLError):
        return False


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
        return f"http://127.0.0.1:{self.port}"

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
) -> AnvilProcess:
    """Start Anvil on 127.0.0.1 and wait until it answers JSON-RPC.

    Private chains run with a zero base fee, so fees never strand a
    transaction in the pool and new accounts can transact without ether.
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
            args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=detach
        )
    finally:
        if log_file:
            out.close()  # type: ignore[union-attr]
    proc = AnvilProcess(popen.pid, port, popen)
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
        except (OSError, ValueError):
            return None
        pid = int(data["pid"])
        recorded = data.get("start_time")
        if not pid_alive(pid) or (recorded is not None and process_start_time(pid) != recorded):
            # Gone, or the PID now belongs to some other process: a stale record.
            self.info_file.unlink(missing_ok=True)
            return None
        return {"pid": pid, "port": int(data["port"])}

    def start(self) -> tuple[dict[str, int], bool]:
        """Start unless running. Returns (info, started_now)."""
        current = self.info()
        if current is not None:
            return current, False
        port = self.settings.node_port
        if rpc_ready(f"http://127.0.0.1:{port}"):
            raise NodeError(
                f"port {port} already answers JSON-RPC but is not this data directory's node; "
                "stop that node or set --port / SCF_NODE_PORT"
            )
        self.dir.mkdir(parents=True, exist_ok=True)
        proc = spawn_anvil(
            self.settings.node_modules,
            port=port,
            state_file=self.state_file,
            log_file=self.log_file,
            detach=True,
        )
        info = {"pid": proc.pid, "port": proc.port}
        self.info_file.write_text(json.dumps({**info, "start_time": process_start_time(proc.pid)}))
        return info, True

    def stop(self) -> dict[str, int] | None:
        """Stop by the recorded PID; returns what was stopped, or None."""
        current = self.info()
        if current is None:
            return None
        AnvilProcess(current["pid"], current["port"]).stop()
        self.info_file.unlink(missing_ok=True)
        return current
