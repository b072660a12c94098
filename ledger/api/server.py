"""Running `scf serve`: the app (:func:`ledger.api.app.create_app`) on uvicorn,
and with ``follow`` the indexer in a thread of the same process, so the API
and the dashboard are live.

* Loopback only unless ``public``: the API shows a bank's book, so listening
  on another interface is a decision the command line must state.
* The socket is bound before uvicorn starts, so a port in use is one line
  (exit 3), and port 0 picks a free port (the start line says which).
* SIGINT and SIGTERM stop it gracefully: no new connections, requests in
  flight get :data:`GRACEFUL_SECONDS` to finish (the dashboard's live
  streams are closed as shutdown begins; a relay submission still running
  then is cut off, its transaction may still be mined: the client retries
  and the used nonce makes the retry a no-op), the follower stops after its
  current range, and the process exits 0.
* Logs go to stderr. API keys travel in headers, which uvicorn never logs;
  a key pasted into a URL anyway is masked in every log line
  (:class:`MaskSecrets`), and request bodies (the dashboard's login form) are
  never logged.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import re
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import uvicorn

from ledger.config import Settings
from ledger.errors import ConfigError, InputError, LedgerError, NodeUnavailable

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ledger.api.relay import Relayer
    from ledger.indexer import SyncStats

log = logging.getLogger("ledger.serve")

#: Seconds requests in flight (and live streams) get to finish at shutdown.
GRACEFUL_SECONDS = 3
#: Seconds the follower gets to finish its range at shutdown (then the process exits anyway).
FOLLOWER_STOP_SECONDS = 10.0
#: The longest wait between retries of a follower whose node is away.
MAX_BACKOFF = 30.0


@dataclass(frozen=True)
class ServeOptions:
    """What `scf serve` was asked for."""

    host: str = "127.0.0.1"
    port: int = 8000
    public: bool = False
    follow: bool = False
    confirmations: int | None = None
    poll_interval: float = 1.0
    relayer: str | None = None
    relayer_password: str | None = None
    secure_cookies: bool = False


# -- where to listen -------------------------------------------------------------------------
def _addresses(host: str, port: int) -> list[tuple[Any, ...]]:
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise InputError(f"invalid --host {host!r}: {getattr(exc, 'strerror', None) or exc}") from None


def is_loopback(host: str) -> bool:
    """Whether every address ``host`` names is on this machine only (127.0.0.0/8, ::1)."""
    return all(ipaddress.ip_address(str(a[4][0]).split("%")[0]).is_loopback for a in _addresses(host, 0))


def check_host(host: str, public: bool) -> None:
    """Refuse an address other machines can reach unless ``public`` says it is meant."""
    if not host.strip():
        raise InputError("invalid --host '': give an address such as 127.0.0.1")
    if not public and not is_loopback(host):
        raise InputError(
            f"--host {host} can be reached from other machines; add --public if that is meant "
            "(put it behind TLS), or use --host 127.0.0.1"
        )


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: a free port)."""
    family, kind, proto, _name, address = _addresses(host, port)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        why = "it is in use; pick another --port" if exc.errno == errno.EADDRINUSE else str(exc.strerror)
        raise ConfigError(f"cannot listen on {host} port {port}: {why}") from None
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


# -- logs ------------------------------------------------------------------------------------
#: An API key's secret (ledger.api.keys), or any longer run after its id: masked in logs.
_SECRET = re.compile(r"(scf_[0-9a-f]{8}_)[A-Za-z0-9_-]+")


def mask_secrets(text: str) -> str:
    """``text`` with every API key secret in it cut to its id (``scf_1a2b3c4d_***``)."""
    return _SECRET.sub(r"\1***", text)


class MaskSecrets(logging.Filter):
    """Masks anything shaped like an API key secret in a log record (its id stays)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = mask_secrets(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(mask_secrets(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: mask_secrets(v) if isinstance(v, str) else v for k, v in record.args.items()}
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging, on stderr, every line through :class:`MaskSecrets`; the
    ledger's own loggers (``ledger.*``: the follower, the relay, unexpected errors)
    beside it."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG}
    config["filters"] = {"secrets": {"()": MaskSecrets}}
    config["handlers"] = {
        name: {**handler, "stream": "ext://sys.stderr", "filters": ["secrets"]}
        for name, handler in LOGGING_CONFIG["handlers"].items()
    }
    config["loggers"] = {
        **LOGGING_CONFIG["loggers"],
        "ledger": {"handlers": ["default"], "level": "INFO", "propagate": False},
    }
    return config


# -- the follower ----------------------------------------------------------------------------
class Follower:
    """`scf index follow` in a thread: caught up, then following the head until
    :meth:`close`. A node that is away (also at the start) is waited for, the
    wait doubling up to 30 s, while the API goes on serving what is indexed; an
    error that waiting cannot cure (no deployment on that chain, a refused
    database login) stops the follower with one line in the log."""

    def __init__(
        self,
        settings: Settings,
        confirmations: int | None,
        poll_interval: float,
        on_block: Callable[[int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.confirmations = confirmations
        self.poll_interval = poll_interval
        #: Told each block newly indexed (the dashboard's live pages, at once rather than at their next poll).
        self.on_block = on_block
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="scf-follow", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        """Stop after the range in hand (waits :data:`FOLLOWER_STOP_SECONDS` at most)."""
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(FOLLOWER_STOP_SECONDS)

    def _run(self) -> None:
        from ledger.indexer import follow

        backoff = self.poll_interval
        while not self.stop.is_set():
            try:
                follow(
                    self.settings,
                    poll_interval=self.poll_interval,
                    confirmations=self.confirmations,
                    stop=self.stop,
                    on_sync=self._report,
                    on_error=_retrying,
                    workers="thread",  # no child process from a thread of a server
                )
                return
            except NodeUnavailable as exc:  # at the start, where follow() reads the deployment from the node
                backoff = min(max(backoff * 2, 1.0), MAX_BACKOFF)
                _retrying(exc, backoff)
                self.stop.wait(backoff)
            except LedgerError as exc:
                log.error("follow stopped: %s; the API serves what is indexed (restart scf serve when fixed)",
                          " ".join(str(exc).split()))  # fmt: skip
                return
            except Exception:
                log.exception("follow stopped by an unexpected error; the API serves what is indexed")
                return

    def _report(self, stats: SyncStats) -> None:
        if stats.events or stats.reorgs:
            reorgs = f"; {stats.reorgs} reorg(s) rolled back" if stats.reorgs else ""
            log.info("follow: indexed %d events up to block %s%s", stats.events, stats.block, reorgs)
        if self.on_block is not None and stats.blocks and stats.block is not None:
            self.on_block(stats.block)


def _retrying(exc: Exception, seconds: float) -> None:
    log.warning("follow: %s; retrying in %gs", " ".join(str(exc).split()), seconds)


# -- serving ---------------------------------------------------------------------------------
def open_relayer(settings: Settings, name: str, password: str | None) -> Relayer:
    """The relayer account, unlocked now (a wrong password stops the start), and
    checked against the node when it answers."""
    from ledger.api.relay import Relayer

    relayer = Relayer(settings, name, password)
    away = relayer.check()
    if away is not None:
        log.warning("relay: %s; confirmations get 503 until the node answers", away)
    return relayer


class _Server(uvicorn.Server):
    """uvicorn's server, ending the dashboard's live streams as soon as shutdown
    begins: uvicorn waits for open responses before the app's lifespan ends, and
    a live stream lasts minutes unless closed."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        from ledger.api.live import close_streams

        close_streams(self.config.app)
        await super().shutdown(sockets)


def _live_publisher(app: FastAPI) -> Callable[[int], None]:
    """Tell the dashboard's live pages of a block the follower indexed (safe from its thread)."""

    def publish(block: int) -> None:
        from ledger.api.live import LiveHub

        hub = getattr(app.state, "live", None)
        if isinstance(hub, LiveHub):
            hub.publish_threadsafe(block)

    return publish


def start_line(url: str, relayer: Relayer | None, follow: bool) -> str:
    relay = "off" if relayer is None else f"on, as {relayer.name} ({relayer.address})"
    return f"scf serve: {url} (API docs {url}/docs); relay {relay}; follow {'on' if follow else 'off'}"


def serve(settings: Settings, options: ServeOptions, announce: Callable[[str], None]) -> None:
    """Serve until SIGINT or SIGTERM; ``announce`` gets the start line once the
    socket listens. Errors before that (a public address not meant, a bad relayer
    password, the database away, the port in use) are raised, nothing started."""
    from ledger.api.app import create_app

    check_host(options.host, options.public)
    relayer = None if options.relayer is None else open_relayer(settings, options.relayer, options.relayer_password)
    app: FastAPI = create_app(settings, relayer=options.relayer, secure_cookies=options.secure_cookies)
    if relayer is not None:
        app.state.relay = relayer
    sock = bind(options.host, options.port)
    config = uvicorn.Config(
        app,
        log_config=log_config(),
        timeout_graceful_shutdown=GRACEFUL_SECONDS,
        server_header=False,
        lifespan="on",
    )
    server = _Server(config)
    follower = (
        Follower(settings, options.confirmations, options.poll_interval, _live_publisher(app))
        if options.follow
        else None
    )

    def stop(_sig: int, _frame: Any) -> None:
        server.should_exit = True

    # uvicorn handles both signals while it serves, then raises again the one it stopped
    # on: this handler takes it (the process then ends normally, exit 0), and also
    # stops a server whose signal came before uvicorn listened.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        announce(start_line(url_of(sock), relayer, follower is not None))
        if follower is not None:
            follower.start()
        server.run(sockets=[sock])
    finally:
        if follower is not None:
            follower.close()
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
