"""`scf serve` as a real process (issue 16): it listens on loopback, says where
in one line, answers /api/health, stops on SIGTERM or SIGINT within seconds
with exit 0, refuses a public address unless --public, and with --follow
indexes what happens on chain while it serves (and keeps serving while the
node is away). Keys never reach its log, not even from a URL."""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.cli import SCF

START = re.compile(r"^scf serve: (http://(\S+):(\d+)) \(API docs \1/docs\); relay (off|on, as .+); follow (on|off)$")
DOWN = "http://127.0.0.1:9"  # the discard port: nothing listens there


class Served:
    """One `scf serve` process, stopped by its PID."""

    def __init__(self, env: Any, tmp_path: Path, *args: str, rpc_url: str | None = None) -> None:
        self.log = tmp_path / f"serve-{time.monotonic_ns()}.log"
        argv = [SCF, "--home", str(env.home), "--rpc-url", rpc_url or env.rpc_url, "--db-url",
                env.settings.database_url, "serve", *args]  # fmt: skip
        with self.log.open("w") as stderr:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, text=True)
        self.line = self._first_line()
        found = START.match(self.line)
        assert found, (self.line, self.stderr)
        self.host, self.port = found.group(2), int(found.group(3))
        self.url = f"http://127.0.0.1:{self.port}"  # where a client on this machine reaches it
        self.relay, self.follow = found.group(4), found.group(5) == "on"

    def _first_line(self, timeout: float = 30.0) -> str:
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(timeout):
                self.kill()
                raise AssertionError(f"no start line within {timeout}s: {self.stderr}")
        return self.proc.stdout.readline().rstrip("\n")

    @property
    def stderr(self) -> str:
        return self.log.read_text()

    def get(self, path: str, secret: str | None = None, **params: Any) -> httpx.Response:
        headers = {} if secret is None else {"Authorization": f"Bearer {secret}"}
        return httpx.get(self.url + path, headers=headers, params=params, timeout=10)

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, float]:
        """Send ``sig`` to the process; its exit code and the seconds it took."""
        started = time.monotonic()
        os.kill(self.proc.pid, sig)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()
            raise
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture()
def serve(indexed: Any, tmp_path: Path) -> Any:
    """Start `scf serve ARGS...` on the indexed scenario; every process started is stopped (by PID)."""
    started: list[Served] = []

    def start(*args: str, rpc_url: str | None = None) -> Served:
        server = Served(indexed, tmp_path, "--port", "0", *args, rpc_url=rpc_url)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()
        if server.proc.stdout is not None:
            server.proc.stdout.close()


def _key(indexed: Any, who: str | None = None) -> str:
    from ledger.api.keys import create_key
    from ledger.db.session import get_engine
    from ledger.names import DEV_ADDRESSES

    with get_engine(indexed.settings.database_url).begin() as conn:
        _row, secret = create_key(conn, participant=None if who is None else DEV_ADDRESSES[who], label="test")
    return secret


def _refused_to_start(indexed: Any, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = [SCF, "--home", str(indexed.home), "--rpc-url", indexed.rpc_url, "--db-url",
            indexed.settings.database_url, "serve", *args]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
                          stdin=subprocess.DEVNULL)  # fmt: skip


# -- serving and stopping ------------------------------------------------------------------------
def test_serve_answers_and_stops_on_sigterm_with_exit_0(serve, indexed):
    server = serve()
    assert (server.host, server.relay, server.follow) == ("127.0.0.1", "off", False)
    health = server.get("/api/health")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert "server" not in health.headers  # no "uvicorn" advertised
    assert server.get("/openapi.json").json()["info"]["title"] == "scf-ledger"
    assert server.get("/api/invoices").status_code == 401
    secret = _key(indexed)
    invoices = server.get("/api/invoices", secret)
    assert invoices.status_code == 200 and [i["invoice_id"] for i in invoices.json()["items"]] == [1, 2, 3, 4]
    code, seconds = server.stop(signal.SIGTERM)
    assert code == 0, server.stderr
    assert seconds < 5, seconds
    assert "Traceback" not in server.stderr
    with pytest.raises(httpx.ConnectError):
        server.get("/api/health")


def test_serve_stops_on_sigint_with_exit_0(serve):
    server = serve()
    assert server.get("/api/health").status_code == 200
    code, seconds = server.stop(signal.SIGINT)
    assert (code, "Traceback" in server.stderr) == (0, False), server.stderr
    assert seconds < 5, seconds


def test_serve_stops_within_seconds_while_a_request_is_still_open(serve, indexed):
    """A request that never ends (here: a body announced and never sent, as a live
    stream never ends) holds the shutdown up for the grace period only."""
    secret = _key(indexed)
    server = serve("--relayer", "financier")
    assert server.relay == "on, as financier (0x90F79bf6EB2c4f870365E785982E1f101E93b906)"
    with socket.create_connection(("127.0.0.1", server.port)) as hanging:
        hanging.sendall(
            b"POST /api/confirmations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + secret.encode() + b"\r\nContent-Length: 1000\r\n\r\n{"
        )
        time.sleep(0.5)
        code, seconds = server.stop(signal.SIGTERM)
    assert code == 0, server.stderr
    assert 2 < seconds < 8, (seconds, server.stderr)  # the grace period (3 s), then cut
    assert "Cancel 1 running task(s), timeout graceful shutdown exceeded" in server.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_a_dashboard_live_stream_ends_at_once_on_sigterm(serve, indexed):
    """The dashboard's /live stream never ends by itself: the server ends it as
    shutdown begins, so it does not wait out the grace period."""
    secret = _key(indexed, "buyer")
    server = serve()
    with httpx.Client(base_url=server.url, timeout=10) as browser:
        form = browser.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf, form
        logged_in = browser.post("/login", data={"key": secret, "csrf": csrf.group(1), "next": "/"})
        assert logged_in.status_code == 303, logged_in.text
        with browser.stream("GET", "/live") as live:
            assert live.status_code == 200 and live.headers["content-type"].startswith("text/event-stream")
            first = next(live.iter_lines())
            assert first.startswith("retry: ")
            code, seconds = server.stop(signal.SIGTERM)
    assert code == 0, server.stderr
    assert seconds < 2, (seconds, server.stderr)  # not the 3 s grace period
    assert "timeout graceful shutdown exceeded" not in server.stderr


def test_serve_never_logs_a_key(serve, indexed):
    secret = _key(indexed, "buyer")
    server = serve()
    assert server.get("/api/me", secret).status_code == 200
    # A key pasted into a URL (wrong, but it happens) is masked in the access log.
    assert server.get("/api/invoices", secret, number=secret).status_code == 200
    assert httpx.post(server.url + "/login", data={"key": secret}, timeout=10).status_code < 500
    assert server.stop()[0] == 0
    log = server.stderr
    assert '"GET /api/me HTTP/1.1" 200' in log
    assert secret not in log and secret[13:] not in log
    assert f"number={secret[:13]}***" in log


# -- refusals --------------------------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_refuses_a_public_address_without_public(indexed):
    result = _refused_to_start(indexed, "--host", "0.0.0.0", "--port", "0")
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr == (
        "Error: --host 0.0.0.0 can be reached from other machines; add --public if that is meant "
        "(put it behind TLS), or use --host 127.0.0.1\n"
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_on_a_public_address_with_public(indexed, tmp_path):
    server = Served(indexed, tmp_path, "--host", "0.0.0.0", "--port", "0", "--public")
    try:
        assert server.host == "0.0.0.0"
        assert server.get("/api/health").status_code == 200
        assert server.stop()[0] == 0
    finally:
        server.kill()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_refuses_an_unknown_relayer_before_listening(indexed):
    result = _refused_to_start(indexed, "--relayer", "nobody", "--port", "0")
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr == "Error: unknown account 'nobody'; see `scf account list`\n"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_refuses_a_relayer_it_cannot_unlock_before_listening(indexed):
    from ledger.evm.accounts import Keystore

    Keystore(indexed.settings).create("relayer", "s3cret-pass")
    result = _refused_to_start(indexed, "--relayer", "relayer", env={"SCF_RELAYER_PASSWORD": "wrong"})
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr == "Error: wrong password for account 'relayer'\n"
    without = _refused_to_start(indexed, "--relayer", "relayer", env={"SCF_RELAYER_PASSWORD": "", "SCF_PASSWORD": ""})
    assert (without.returncode, without.stderr) == (
        2,
        "Error: the relayer account 'relayer' is encrypted: set SCF_RELAYER_PASSWORD (or SCF_PASSWORD), "
        "or start scf serve on a terminal to be asked\n",
    )


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_refuses_a_port_in_use(indexed):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = _refused_to_start(indexed, "--port", str(port))
    assert (result.returncode, result.stdout) == (3, ""), result.stderr
    assert result.stderr == f"Error: cannot listen on 127.0.0.1 port {port}: it is in use; pick another --port\n"


# -- --follow ---------------------------------------------------------------------------------------
def test_serve_follow_indexes_new_blocks_while_serving(serve, indexed, chain, acct):
    from ledger.deployment import load_deployment
    from ledger.evm.chain import connect
    from ledger.lifecycle import Ledger

    secret = _key(indexed)
    server = serve("--follow", "--poll-interval", "0.2")
    assert server.follow
    assert [i["invoice_id"] for i in server.get("/api/invoices", secret).json()["items"]] == [1, 2, 3, 4]
    w3 = connect(indexed.rpc_url)
    ledger = Ledger(indexed.settings, w3, load_deployment(indexed.settings, int(w3.eth.chain_id)))
    import datetime as dt

    issued = ledger.issue(acct("supplier"), "buyer", "INV-LIVE-1", "42.00", "HKD", dt.date(2099, 5, 31), None)
    deadline = time.monotonic() + 10
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        items = server.get("/api/invoices", secret, number="INV-LIVE-1").json()["items"]
        if items:
            break
        time.sleep(0.2)
    assert [(i["invoice_id"], i["number"], i["status"]) for i in items] == [(5, "INV-LIVE-1", "Issued")], server.stderr
    status = server.get("/api/status", secret).json()
    assert status[0]["block"] >= issued["block"]
    code, seconds = server.stop()
    assert code == 0 and seconds < 8, (code, seconds, server.stderr)
    assert re.search(r"follow: indexed \d+ events up to block \d+", server.stderr), server.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_follow_keeps_serving_while_the_node_is_away(serve, indexed):
    secret = _key(indexed)
    server = serve("--follow", "--poll-interval", "0.1", rpc_url=DOWN)
    assert server.get("/api/health").status_code == 200
    assert [i["invoice_id"] for i in server.get("/api/invoices", secret).json()["items"]] == [1, 2, 3, 4]
    deadline = time.monotonic() + 10
    while "retrying in" not in server.stderr and time.monotonic() < deadline:
        time.sleep(0.1)
    assert f"cannot reach the JSON-RPC endpoint {DOWN} (connection refused)" in server.stderr
    assert "retrying in" in server.stderr
    code, seconds = server.stop()
    assert code == 0 and seconds < 8, (code, seconds, server.stderr)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_serve_relays_a_signed_confirmation_and_follow_shows_it(serve, indexed, chain, acct, ledger):
    """End to end over HTTP: the buyer signs offline, any key holder POSTs it, the
    relayer submits it, the follower indexes it, the API shows it Confirmed."""
    import datetime as dt

    from ledger.evm.confirmations import Confirmation, Domain, sign
    from ledger.evm.invoice import ChainInvoice

    secret = _key(indexed, "buyer")
    server = serve("--follow", "--poll-interval", "0.2", "--relayer", "financier")
    invoice_id = ledger.issue(acct("supplier"), "buyer", "INV-HTTP-1", "9.99", "HKD", dt.date(2099, 5, 31), None)[
        "invoice_id"
    ]
    state = ChainInvoice.from_struct(ledger.invoices.functions.getInvoice(invoice_id).call())
    domain = Domain(31337, ledger.invoices.address)
    conf = Confirmation(state.buyer, state.supplier, "INV-HTTP-1", state.currency, state.amount, state.due_ts, 7,
                        ledger.chain_time() + 86400)  # fmt: skip
    record = {
        "chain_id": 31337, "contract": domain.contract, "buyer": conf.buyer, "supplier": conf.supplier,
        "number": conf.number, "currency": conf.currency, "amount": str(conf.amount), "due_date": conf.due_date,
        "nonce": "7", "deadline": conf.deadline, "signature": "0x" + sign(acct("buyer"), domain, conf).hex(),
    }  # fmt: skip
    posted = httpx.post(server.url + "/api/confirmations", json=record, timeout=30,
                        headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
    assert posted.status_code == 200, (posted.text, server.stderr)
    assert posted.json()["confirmed"] == [invoice_id]
    deadline = time.monotonic() + 10
    status = None
    while time.monotonic() < deadline and status != "Confirmed":
        status = server.get(f"/api/invoices/{invoice_id}", secret).json().get("status")
        time.sleep(0.2)
    assert status == "Confirmed", server.stderr
    assert server.stop()[0] == 0
    assert (
        f"API key {secret[4:12]} submitted 1 signed confirmation(s) through relayer "
        f"0x90F79bf6EB2c4f870365E785982E1f101E93b906: 1 confirmed, 0 skipped, 0 failed "
        f"(transaction {posted.json()['transaction']})"
    ) in server.stderr
