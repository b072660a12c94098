"""A JSON-RPC proxy in front of a real Anvil that answers like
``@ethereumjs/client`` 0.10.2 sealing a Clique chain (``../shared/DESIGN.md``
section 4; the client's ``dist/esm/src/rpc/modules/eth.js`` and
``rpc/helpers.js``), one switchable quirk at a time, for the tests of
``tests/evm/test_poa_quirks.py``:

- ``extra_data``: blocks carry 97 bytes of extraData (32 vanity + 65 seal);
- ``no_priority_fee``: ``eth_maxPriorityFeePerGas`` is not a method (-32601);
- ``base_fee``: blocks say ``baseFeePerGas`` 0x7 (the client's genesis), so
  the non-zero-base-fee path runs (Anvil itself charges 0 and takes any fee);
- ``no_estimate``: ``eth_estimateGas`` always fails (-32603, the Clique
  "extraData must be 97 bytes" error);
- ``revert_as_result``: an ``eth_call`` that reverts answers its revert data
  as an ordinary result (``"0x"`` when there is none);
- ``no_revert_data``: reverts carry no data (a node that keeps the reason to
  itself, as Besu does without ``--revert-reason-enabled``); together with
  ``revert_as_result`` a reverting ``eth_call`` answers ``"0x"``;
- ``tags``: ``"pending"`` is refused (-32602) where a block is named, except
  by ``eth_getTransactionCount``; ``"safe"``/``"finalized"`` are -39001
  "Unknown block";
- ``logs_to_head``: ``eth_getLogs`` refuses a numeric ``fromBlock``/``toBlock``
  above the head (-32602);
- ``range_limit``: ``eth_getLogs`` refuses ranges of more than
  :attr:`PoaProxy.range_limit` + 1 blocks ("block range limit is 2500 blocks");
- ``topic0_only``: ``eth_getLogs`` applies only the first topic of a filter;
- ``logs_cap``: ``eth_getLogs`` stops silently after the block in which its
  answer reached :attr:`PoaProxy.logs_cap` logs (the client's
  ``GET_LOGS_LIMIT``, 10,000): no error, the later blocks' logs are missing;
- ``client_version``: ``web3_clientVersion`` says ``EthereumJS/0.10.2/...``;
- ``clock_zero``: ``eth_call`` runs at time 0 (Anvil's block override), as the
  client runs every call in an empty block;
- ``receipt_no_type``: receipts lack ``type``;
- ``receipt_not_in_db``: the first ask for each transaction's receipt is an
  error (-32603 "value for 0x... not found in DB"), as the client answers
  while it stores the block that holds it (Anvil mines at once, so the proxy
  makes every transaction meet it once);
- ``unknown_blocks``: a block above the head, or an unknown hash, is an
  error (-32602) rather than ``null``.

Every request is recorded (:attr:`PoaProxy.calls`), with the head at the time
for ``eth_getLogs``, and every answer the proxy made up as an error
(:attr:`PoaProxy.refused`).

Started and stopped by the code that made it (:meth:`start`, :meth:`stop`,
or ``with PoaProxy(...) as proxy``); a thread of this process on loopback."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeGuard

import requests

from support.jsonrpc import send_json

#: Every quirk; :data:`CLIQUE` is all of them, as the client shows them together.
QUIRKS = frozenset(
    {
        "extra_data",
        "no_priority_fee",
        "base_fee",
        "no_estimate",
        "revert_as_result",
        "no_revert_data",
        "tags",
        "logs_to_head",
        "range_limit",
        "topic0_only",
        "logs_cap",
        "receipt_no_type",
        "receipt_not_in_db",
        "client_version",
        "clock_zero",
        "unknown_blocks",
    }
)
#: What @ethereumjs/client 0.10.2 answers to ``web3_clientVersion`` (under Node.js 20).
CLIENT_VERSION = "EthereumJS/0.10.2/linux/node20.19.2"
#: What @ethereumjs/client 0.10.2 on Clique does (no_revert_data is another node's habit).
CLIQUE = QUIRKS - {"no_revert_data"}

#: The client's Clique extraData: 32 bytes of vanity, no signer list (not an epoch block), a 65-byte seal.
EXTRA_DATA = "0x" + "00" * 32 + "5e" * 65
BASE_FEE = "0x7"
ESTIMATE_ERROR = {"code": -32603, "message": "extraData must be 97 bytes on non-epoch transition blocks"}
PENDING_ERROR = {"code": -32602, "message": '"pending" is not yet supported'}
UNKNOWN_BLOCK = {"code": -39001, "message": "Unknown block"}
NO_METHOD = {"code": -32601, "message": "Method not found"}
ABOVE_HEAD = {"code": -32602, "message": "specified block greater than current height"}

#: Where each method names a block (index into its params), as the client reads it.
_BLOCK_PARAM = {
    "eth_getBlockByNumber": 0,
    "eth_call": 1,
    "eth_estimateGas": 1,
    "eth_getBalance": 1,
    "eth_getCode": 1,
    "eth_getStorageAt": 2,
    "eth_getTransactionCount": 1,
}


@dataclass
class Call:
    """One request the proxy was sent: method, params, and for ``eth_getLogs``
    the head when it arrived; ``error`` when the proxy refused it itself."""

    method: str
    params: list[Any]
    head: int | None = None
    error: dict[str, Any] | None = None


@dataclass
class _Pending:
    call: dict[str, Any]
    answer: dict[str, Any] | None = None  # made up here; else forwarded
    forward: dict[str, Any] | None = None
    record: Call = field(default_factory=lambda: Call("", []))


class PoaProxy:
    """A JSON-RPC proxy to ``upstream`` (an Anvil) with the given ``quirks``
    (a subset of :data:`QUIRKS`; change :attr:`quirks` at any time)."""

    def __init__(
        self, upstream: str, quirks: Iterable[str] = CLIQUE, range_limit: int = 2500, logs_cap: int = 10_000
    ) -> None:
        quirks = set(quirks)
        unknown = quirks - QUIRKS
        if unknown:
            raise ValueError(f"unknown quirks {sorted(unknown)}")
        self.upstream = upstream
        self.quirks: set[str] = quirks
        self.range_limit = range_limit
        self.logs_cap = logs_cap
        self.calls: list[Call] = []
        #: Transactions whose receipt was asked for once (``receipt_not_in_db``).
        self._receipts_asked: set[str] = set()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> PoaProxy:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One segment per answer, sent at once: with headers and body written
            # apart, Nagle's algorithm and delayed ACKs cost ~40 ms per call.
            disable_nagle_algorithm = True
            wbufsize = 1 << 16

            def log_message(self, *_args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                send_json(self, proxy.answer(body))

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="poa-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> PoaProxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the proxy first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- what the tests read -----------------------------------------------------------
    def methods(self) -> list[str]:
        """The methods asked, in order."""
        with self._lock:
            return [c.method for c in self.calls]

    @property
    def refused(self) -> list[Call]:
        """The calls the proxy answered with an error of its own (a quirk)."""
        with self._lock:
            return [c for c in self.calls if c.error is not None]

    def log_queries(self) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == "eth_getLogs"]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    # -- the upstream --------------------------------------------------------------------
    def _post(self, payload: Any) -> Any:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        response = session.post(self.upstream, json=payload, timeout=60)
        return response.json()

    def _head(self) -> int:
        return int(self._post({"jsonrpc": "2.0", "id": 0, "method": "eth_blockNumber", "params": []})["result"], 16)

    # -- answering -----------------------------------------------------------------------
    def answer(self, body: Any) -> Any:
        """The answer to a request or a batch: each call checked (and maybe
        refused) here, the rest forwarded to the upstream in one request, each
        answer rewritten as the client would give it."""
        calls = body if isinstance(body, list) else [body]
        pending = [self._before(c) for c in calls]
        # Forwarded under ids of the proxy's own (the batch's position), matched back by them.
        forward = {i: p for i, p in enumerate(pending) if p.answer is None and p.forward is not None}
        if forward:
            replies = self._post([{**p.forward, "id": i} for i, p in forward.items() if p.forward is not None])
            by_id = {r.get("id"): r for r in replies} if isinstance(replies, list) else {}
            for i, p in forward.items():
                reply = by_id.get(i) or {"error": {"code": -32603, "message": "no answer"}}
                p.answer = self._after(p, {k: v for k, v in reply.items() if k != "id"})
        out = []
        for p in pending:
            assert p.answer is not None
            out.append({"jsonrpc": "2.0", "id": p.call.get("id"), **p.answer})
        with self._lock:
            self.calls.extend(p.record for p in pending)
        return out if isinstance(body, list) else out[0]

    def _refuse(self, p: _Pending, error: dict[str, Any]) -> _Pending:
        p.answer = {"error": dict(error)}
        p.record.error = dict(error)
        return p

    def _before(self, call: dict[str, Any]) -> _Pending:
        method = str(call.get("method"))
        params = list(call.get("params") or [])
        p = _Pending(call, record=Call(method, params))
        q = self.quirks
        if method == "eth_maxPriorityFeePerGas" and "no_priority_fee" in q:
            return self._refuse(p, NO_METHOD)
        if method == "eth_estimateGas" and "no_estimate" in q:
            return self._refuse(p, ESTIMATE_ERROR)
        if method == "web3_clientVersion" and "client_version" in q:
            p.answer = {"result": CLIENT_VERSION}
            return p
        if "tags" in q and method in _BLOCK_PARAM:
            at = _BLOCK_PARAM[method]
            tag = params[at] if len(params) > at else None
            if tag == "pending" and method != "eth_getTransactionCount":
                return self._refuse(p, PENDING_ERROR)
            if tag in ("safe", "finalized"):
                return self._refuse(p, UNKNOWN_BLOCK)
        if method == "eth_getLogs" and params and isinstance(params[0], dict):
            query = dict(params[0])
            refusal = self._logs_refusal(p, query)
            if refusal is not None:
                return self._refuse(p, refusal)
            if "topic0_only" in q and query.get("topics"):
                # The client's filter returns after looking at the first position
                # (a null there matches every log).
                first = query["topics"][0]
                query["topics"] = [first] if first is not None else []
                params = [query, *params[1:]]
        if method == "eth_call" and "clock_zero" in q:
            # The client runs every call in an empty block at time 0: Anvil's block override.
            params = [params[0], params[1] if len(params) > 1 else "latest", {}, {"time": "0x0"}]
        p.forward = {"jsonrpc": "2.0", "id": call.get("id"), "method": method, "params": params}
        return p

    def _logs_refusal(self, p: _Pending, query: dict[str, Any]) -> dict[str, Any] | None:
        q = self.quirks
        start, end = query.get("fromBlock"), query.get("toBlock")
        if "tags" in q:
            for tag in (start, end):
                if tag in ("pending", "safe", "finalized"):
                    return {"code": -32603, "message": f"Cannot convert {tag} to a BigInt"}
        if not ({"logs_to_head", "range_limit"} & q) or "blockHash" in query:
            return None
        head = self._head()
        p.record.head = head
        if "logs_to_head" in q:
            if _is_number(start) and int(start, 16) > head:
                return {"code": -32602, "message": "specified `fromBlock` greater than current height"}
            if _is_number(end) and int(end, 16) > head:
                return {"code": -32602, "message": "specified `toBlock` greater than current height"}
        if "range_limit" in q:
            low = int(start, 16) if _is_number(start) else (0 if start == "earliest" else head)
            high = int(end, 16) if _is_number(end) else head
            if high - low > self.range_limit:
                return {"code": -32602, "message": f"block range limit is {self.range_limit} blocks"}
        return None

    def _after(self, p: _Pending, reply: dict[str, Any]) -> dict[str, Any]:
        method = p.record.method
        q = self.quirks
        error = reply.get("error")
        if isinstance(error, dict) and _is_revert(error):
            if "no_revert_data" in q:
                error = {k: v for k, v in error.items() if k != "data"}
                error["message"] = "execution reverted"
                reply = {"error": error}
            if method == "eth_call" and "revert_as_result" in q:
                data = error.get("data")
                if isinstance(data, dict):  # some nodes nest it
                    data = data.get("data")
                return {"result": data if isinstance(data, str) and data.startswith("0x") else "0x"}
            return reply
        if "result" not in reply:
            return reply
        result = reply["result"]
        if method in ("eth_getBlockByNumber", "eth_getBlockByHash"):
            if result is None and "unknown_blocks" in q:
                message = "Unknown block" if method == "eth_getBlockByHash" else ABOVE_HEAD["message"]
                p.record.error = {"code": -32602, "message": message}
                return {"error": dict(p.record.error)}
            if isinstance(result, dict):
                result = dict(result)
                if "extra_data" in q:
                    result["extraData"] = EXTRA_DATA
                if "base_fee" in q and "baseFeePerGas" in result:
                    result["baseFeePerGas"] = BASE_FEE
        elif method == "eth_getLogs" and isinstance(result, list) and "logs_cap" in q:
            result = _capped(result, self.logs_cap)
        elif method == "eth_getTransactionReceipt" and isinstance(result, dict):
            tx = str(result.get("transactionHash"))
            if "receipt_not_in_db" in q and tx not in self._receipts_asked:
                self._receipts_asked.add(tx)
                p.record.error = {"code": -32603, "message": f"value for {tx} not found in DB"}
                return {"error": dict(p.record.error)}
            if "receipt_no_type" in q:
                result = {k: v for k, v in result.items() if k != "type"}
        return {"result": result}


def _capped(logs: list[dict[str, Any]], cap: int) -> list[dict[str, Any]]:
    """``logs`` (oldest first) up to the end of the block in which there were ``cap``."""
    if len(logs) <= cap:
        return logs
    last = logs[cap - 1]["blockNumber"]
    return [log for log in logs if int(log["blockNumber"], 16) <= int(last, 16)]


def _is_number(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and value.startswith("0x")


def _is_revert(error: dict[str, Any]) -> bool:
    """Whether an upstream error is the EVM reverting (Anvil: code 3 with the data,
    or "execution reverted" without it)."""
    return error.get("code") == 3 or "revert" in str(error.get("message", "")).lower()
