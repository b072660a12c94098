"""New heads pushed by the node: ``eth_subscribe("newHeads")`` over a
WebSocket, so that a follower looks at the chain as soon as a block is mined
instead of at its next poll.

Anvil and Hardhat serve WebSocket on their HTTP port, so the URL is derived
from the RPC URL (``http`` -> ``ws``, ``https`` -> ``wss``); Geth, Besu and
Reth serve it on a port of their own (configure ``ws_url``); ethereumjs and
many gateways not at all. A subscription that cannot be had is no error: the
caller polls instead (as Ponder does without a ``ws`` URL). A notification
is only a reason to look: the follower still reads the head, checks the
chain for reorgs and keeps its confirmations over plain JSON-RPC, so a lost
or duplicated notification changes nothing but when it looks.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ledger.config import WS_OFF

#: Notifications kept unread while a sync runs; past this the socket stops
#: being read, and a node that gives up on a slow subscriber closes it (the
#: follower then polls and subscribes again later).
MAX_QUEUE = 4096


class HeadsUnavailable(Exception):
    """No subscription (now): the reason, one line, for the follower's notice.
    ``lasting``: the endpoint answered, and not with a subscription (no
    WebSocket there, or eth_subscribe refused): asking again will not help.
    Otherwise (a closed port, a timeout, a gateway's 5xx, a lost connection)
    it may come back."""

    def __init__(self, reason: str, lasting: bool = False) -> None:
        super().__init__(reason)
        self.lasting = lasting


def ws_url_for(rpc_url: str, configured: str | None = None) -> str | None:
    """Where to subscribe: ``configured`` (a ``ws://``/``wss://`` URL, or
    ``off`` for nowhere), else the RPC URL with its scheme swapped (the
    same host, port and path, as Anvil and Hardhat serve both); None when
    there is no WebSocket to try (``off``, or an RPC URL that is not HTTP)."""
    if configured:
        return None if configured.strip().lower() == WS_OFF else configured
    parts = urlsplit(rpc_url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme.lower())
    return None if scheme is None else urlunsplit(parts._replace(scheme=scheme))


def shown(url: str) -> str:
    """``url`` without a password, for a notice."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class NewHeads:
    """One ``newHeads`` subscription (not thread-safe: one reader).

    :meth:`wait` returns when the node announces a block (True) or the time
    is up (False); a connection that closes or fails raises
    :class:`HeadsUnavailable`, and so does a node that refuses to open one."""

    def __init__(self, url: str, open_timeout: float = 3.0) -> None:
        from websockets.exceptions import WebSocketException
        from websockets.sync.client import connect

        self.url = url
        #: The newest block number announced (None before the first).
        self.head: int | None = None
        # Entered as the context manager websockets asks for; left by close().
        self._closing = contextlib.ExitStack()
        try:
            # No pings: a notification left unread during a long sync must not
            # cost the connection; a dead node is found by the follower's polls.
            self.ws = self._closing.enter_context(
                connect(
                    url,
                    open_timeout=open_timeout,
                    close_timeout=1.0,
                    ping_interval=None,
                    max_queue=MAX_QUEUE,
                    compression=None,
                )
            )
        except (OSError, TimeoutError, WebSocketException) as exc:
            raise HeadsUnavailable(_reason(exc), _lasting(exc)) from None
        try:
            self.subscription = self._subscribe(open_timeout)
        except BaseException:
            self.close()
            raise

    def _subscribe(self, timeout: float) -> str:
        self.ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}))
        while True:
            reply = self._next(timeout)
            if reply is None:
                raise HeadsUnavailable(f"no answer to eth_subscribe within {timeout:g}s")
            if reply.get("id") != 1:
                continue
            if "error" in reply:
                error = reply["error"]
                message = error.get("message", error) if isinstance(error, dict) else error
                refused = " ".join(str(message).split())
                raise HeadsUnavailable(f"the node refused eth_subscribe newHeads: {refused}", lasting=True)
            result = reply.get("result")
            if not isinstance(result, str) or not result:
                raise HeadsUnavailable(f"the node answered eth_subscribe with {result!r}", lasting=True)
            return result

    def _next(self, timeout: float) -> dict[str, Any] | None:
        """The next JSON message, None when none came within ``timeout`` (0: only one already here)."""
        from websockets.exceptions import WebSocketException

        try:
            message = self.ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        except (OSError, WebSocketException) as exc:
            raise HeadsUnavailable(_reason(exc)) from None
        try:
            parsed = json.loads(message)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}

    def _is_head(self, message: dict[str, Any]) -> bool:
        params = message.get("params")
        if message.get("method") != "eth_subscription" or not isinstance(params, dict):
            return False
        if params.get("subscription") != self.subscription:
            return False
        result = params.get("result")
        with contextlib.suppress(TypeError, KeyError, ValueError):  # announced all the same: look at the chain
            self.head = int(result["number"], 16)  # type: ignore[index]
        return True

    def wait(self, timeout: float) -> bool:
        """Until a block is announced (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while (message := self._next(max(0.0, deadline - time.monotonic()))) is not None:
            if self._is_head(message):
                return True
        return False

    def drain(self) -> bool:
        """Forget the blocks announced so far (the caller is about to read the
        head); whether there were any."""
        seen = False
        while (message := self._next(0)) is not None:
            seen = self._is_head(message) or seen
        return seen

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a connection already gone
            self._closing.close()


def _lasting(exc: BaseException) -> bool:
    """Whether a failed handshake says there is no WebSocket at that URL at all
    (an HTTP answer other than a gateway's 5xx), rather than not now."""
    from websockets.exceptions import InvalidMessage, InvalidStatus

    if isinstance(exc, InvalidStatus):
        return exc.response.status_code < 500
    return isinstance(exc, InvalidMessage)


def _reason(exc: BaseException) -> str:
    """One line on why there is no subscription."""
    from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

    if isinstance(exc, InvalidStatus):
        return f"no WebSocket there: it answered HTTP {exc.response.status_code} {exc.response.reason_phrase}"
    if isinstance(exc, InvalidMessage):
        # An HTTP/1.0 server (Python's http.server) is refused before its status is read; show its status line.
        cause = str(exc.__cause__ or exc)
        return f"no WebSocket there: it answered {cause.rsplit('HTTP/1.1: ', 1)[-1]}"
    if isinstance(exc, ConnectionClosed):
        return "the connection closed"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "no WebSocket handshake in time"
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
