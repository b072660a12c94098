"""A raw JSON-RPC client for the indexer: plain HTTP POSTs of JSON (and
JSON-RPC batches), parsed with the standard ``json`` module. No web3: its
per-log formatting costs more than the whole rest of the indexer.

Providers refuse large ``eth_getLogs`` queries in many ways; :func:`is_range_refusal`
recognises the common ones (Geth, Besu, Erigon, Alchemy, Infura, QuickNode
and friends) so the caller can shrink the block range instead of failing.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import requests

from ledger.errors import ChainError, RpcBusy, RpcError, RpcTimeout, RpcUnreachable

__all__ = ["RpcBusy", "RpcError", "RpcTimeout"]  # defined in ledger.errors, imported from here too

#: Refusals of an eth_getLogs query that fit neither list below: the node
#: gave up (timeouts), or said only that some limit was hit.
_OTHER_REFUSALS = re.compile(
    r"query timeout|timed? ?out"  # Geth: "query timeout exceeded"
    r"|exceeds limit of|narrow your filter"  # Infura, Erigon, without their numbers
    r"|limit(?:ed)? (?:exceeded|to a)",  # "logs limit exceeded", "eth_getLogs is limited to a 10,000 range"
    re.IGNORECASE,
)
#: Alchemy suggests a range that works: "... this block range should work: [0x1, 0x2]".
_SUGGESTED_RANGE = re.compile(r"\[(0x[0-9a-fA-F]+),\s*(0x[0-9a-fA-F]+)\]")
_N = r"(\d[\d,]*k?)\b"
#: Refusals because the answer would carry too many logs, first those that
#: state the cap. Tried before the block limits: Alchemy's message offers both.
_LOG_LIMITS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"more than {_N} results",  # Geth, Infura: "query returned more than 10000 results"
        rf"cap of {_N} logs",  # Alchemy: "... any block range with a cap of 10K logs in the response"
        rf"too many logs, narrow your filter: {_N}",  # Erigon
        r"response size (?:exceeded|should not)|too many (?:results|logs)|result set too large|logs? limit exceeded",
    )
]
#: Refusals because the range spans too many blocks, however few logs it has.
_BLOCK_LIMITS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"range \d+ exceeds limit of {_N}",  # Infura
        # Geth: "exceed maximum block range: 50000"
        rf"max(?:imum)? (?:block )?range(?: limit)?(?: of)?\s*[:=]?\s*{_N}",
        rf"exceeds server limit, narrow your filter: {_N}",  # Erigon
        rf"limited to a {_N} (?:blocks? )?range",  # QuickNode
        rf"block range limit is {_N} blocks",  # ethereumjs: "block range limit is 2500 blocks"
        r"block range|range (?:is )?too (?:large|wide|big)|exceeds? (?:the )?max(?:imum)? (?:block )?range"
        r"|range limit|too many blocks",  # Besu: "Requested range exceeds maximum range limit"
    )
]


def is_range_refusal(exc: Exception) -> bool:
    """Whether ``exc`` means "ask for fewer blocks" rather than a real failure.
    A timeout, or a gateway's HTTP 500/502/504 (what some answer an
    oversized query with), is one too; a rate limit (429) or an unavailable
    node (503) is not: they want fewer requests, or patience."""
    if isinstance(exc, RpcTimeout):
        return True
    if isinstance(exc, RpcBusy):
        return exc.code in (500, 502, 504)
    if isinstance(exc, RpcError):
        return refusal_limit(exc) is not None or bool(_OTHER_REFUSALS.search(exc.rpc_message)) or exc.code in (-32005,)
    return False


def suggested_range(exc: Exception) -> tuple[int, int] | None:
    """The block range a refusal suggests instead, if it names one."""
    if isinstance(exc, RpcError):
        match = _SUGGESTED_RANGE.search(exc.rpc_message)
        if match:
            return int(match.group(1), 16), int(match.group(2), 16)
    return None


@dataclass(frozen=True)
class RefusalLimit:
    """What a refusal says was too much: ``logs`` in the answer or ``blocks``
    in the range; ``most`` is the limit when the message states it."""

    unit: str
    most: int | None = None


def refusal_limit(exc: Exception) -> RefusalLimit | None:
    """The limit an eth_getLogs refusal names, if it names one."""
    if not isinstance(exc, RpcError):
        return None
    for unit, patterns in (("logs", _LOG_LIMITS), ("blocks", _BLOCK_LIMITS)):
        for pattern in patterns:
            match = pattern.search(exc.rpc_message)
            if match:
                if not match.groups():
                    return RefusalLimit(unit)
                number = match.group(1).replace(",", "").lower()
                most = int(number[:-1]) * 1000 if number.endswith("k") else int(number)
                return RefusalLimit(unit, most)
    return None


#: A node may end an ``eth_getLogs`` answer early without an error: an answer
#: this long that stops short of the range asked for is taken as whole only up
#: to the block before its last (see :meth:`RpcClient.logs_through`).
SILENT_LOG_CAP = 10_000
#: ``web3_clientVersion`` prefixes of clients that end an ``eth_getLogs``
#: answer after a whole block without an error: ethereumjs at 10,000 logs or at
#: 150 MB of its own accounting (which counts each log's block and transaction
#: too, so a few hundred logs of big batches can reach it).
CUTS_ANSWERS = ("EthereumJS/",)


def is_revert_data(data: str) -> bool:
    """Whether ``data`` (0x-hex returned by ``eth_call``) is revert data rather
    than a return value: ABI-encoded return values are whole 32-byte words,
    while an error is a 4-byte selector followed by whole words."""
    return data.startswith("0x") and (len(data) - 2) % 64 == 8


def revert_as_error(method: str, answer: dict[str, Any]) -> dict[str, Any]:
    """``answer`` (one JSON-RPC answer) as Anvil, Geth and Besu give it: an
    ``eth_call`` answered with revert data *as its result* (ethereumjs does
    this) becomes the error it is (code 3, the data), so every caller decodes
    the contract's rule the same way whatever the node."""
    result = answer.get("result") if method == "eth_call" else None
    if isinstance(result, str) and is_revert_data(result):
        error = {"code": 3, "message": "execution reverted", "data": result}
        return {"jsonrpc": "2.0", "id": answer.get("id", 0), "error": error}
    return answer


def topics_match(topics: Sequence[Any], wanted: Sequence[Any]) -> bool:
    """Whether a log's ``topics`` meet an ``eth_getLogs`` topic filter ``wanted``
    (None: any; a list: any of them; hex compared without case). Nodes that
    apply only the first topic of a filter (ethereumjs) answer a superset:
    callers that filter past topic 0 check each log again with this."""
    for i, want in enumerate(wanted):
        if want is None:
            continue
        if i >= len(topics):
            return False
        options = want if isinstance(want, (list, tuple)) else [want]
        if str(topics[i]).lower() not in {str(o).lower() for o in options}:
            return False
    return True


@dataclass(frozen=True)
class Header:
    """The parts of a block header the indexer keeps."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int

    @classmethod
    def from_json(cls, block: dict[str, Any]) -> Header:
        return cls(int(block["number"], 16), block["hash"], block["parentHash"], int(block["timestamp"], 16))


def _error(method: str, err: Any) -> RpcError:
    """The RpcError for a JSON-RPC error member (an object, or whatever a
    non-conforming node sends instead)."""
    if isinstance(err, dict):
        return RpcError(method, err.get("code"), " ".join(str(err.get("message", err)).split()), err.get("data"))
    return RpcError(method, None, " ".join(str(err).split()))


#: Bytes asked of the socket per read of an answer.
_READ_CHUNK = 1 << 20


class RpcClient:
    """JSON-RPC over HTTP with one keep-alive session (not thread-safe: use
    one client per thread)."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Content-Type"] = "application/json"
        self._ids = itertools.count(1)
        self._cuts: bool | None = None

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def exchange(self, payload: Any, method: str) -> tuple[int, str, bytes]:
        """POST ``payload`` as JSON; the HTTP status, its reason and the
        answer's bytes, unparsed (the benchmarks time reading apart from
        parsing). A node that cannot be reached or answers too slowly raises."""
        body = json.dumps(payload, separators=(",", ":"))
        try:
            response = self.session.post(self.url, data=body, timeout=self.timeout, stream=True)
            # Read the answer in big pieces: requests' own 10 KB ones cost a
            # Python-level read each, and in a fetch thread each gives up the
            # GIL and waits to get it back (~400 times per 4 MB of logs).
            content = b"".join(response.iter_content(_READ_CHUNK))
        except requests.exceptions.Timeout:
            raise RpcTimeout(method, self.url, self.timeout) from None
        except requests.exceptions.ConnectionError:
            raise RpcUnreachable(self.url, "connection refused") from None
        except requests.exceptions.RequestException as exc:
            raise RpcUnreachable(self.url, type(exc).__name__) from None
        return response.status_code, response.reason, content

    def _post(self, payload: Any, method: str) -> Any:
        status, reason, content = self.exchange(payload, method)
        try:
            reply = json.loads(content)
        except ValueError:
            reply = None
        if status == 429 or status >= 500:
            if isinstance(reply, dict) and "error" in reply:
                return reply  # a JSON-RPC error sent with an HTTP error status: read it (it may state a limit)
            # A gateway giving up on an oversized query, or a node overloaded or restarting.
            raise RpcBusy(method, status, f"HTTP {status} {reason}")
        if reply is None:
            if status >= 400:
                raise ChainError(
                    f"{self.url} answered {method} with HTTP {status} {reason}, not JSON-RPC; check --rpc-url"
                )
            raise RpcError(method, None, "the answer is not JSON")
        return reply

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        reply = self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}, method)
        if not isinstance(reply, dict):
            raise RpcError(method, None, "unexpected answer")
        reply = revert_as_error(method, reply)
        if "error" in reply:
            raise _error(method, reply["error"])
        return reply.get("result")

    def answers(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[dict[str, Any]]:
        """Several calls in one JSON-RPC batch; each call's answer in call
        order, ``{"result": ...}`` or ``{"error": {...}}``, for callers that
        handle failed elements one by one."""
        if not calls:
            return []
        first = next(self._ids)
        ids = range(first, first + len(calls))
        self._ids = itertools.count(first + len(calls))
        payload = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)} for i, (m, p) in zip(ids, calls, strict=True)
        ]
        reply = self._post(payload, calls[0][0])
        if isinstance(reply, dict):  # a node refusing the whole batch answers one error
            raise _error(calls[0][0], reply.get("error") or reply)
        if not isinstance(reply, list):
            raise RpcError(calls[0][0], None, "unexpected answer to a batch")
        by_id = {item.get("id"): item for item in reply if isinstance(item, dict)}
        return [
            revert_as_error(m, by_id.get(i) or {"error": {"message": "missing from the batch answer"}})
            for i, (m, _) in zip(ids, calls, strict=True)
        ]

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Several calls in one JSON-RPC batch; results in order. The first
        failed element raises its RpcError."""
        results = []
        for (method, _), item in zip(calls, self.answers(calls), strict=True):
            if "error" in item:
                raise _error(method, item["error"])
            results.append(item.get("result"))
        return results

    # -- typed helpers -----------------------------------------------------------------
    def chain_id(self) -> int:
        return int(self.call("eth_chainId"), 16)

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def get_logs(
        self, addresses: Sequence[str], from_block: int, to_block: int, topics: Sequence[Any] | None = None
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"address": list(addresses), "fromBlock": hex(from_block), "toBlock": hex(to_block)}
        if topics is not None:
            query["topics"] = list(topics)
        logs = self.call("eth_getLogs", [query])
        if not isinstance(logs, list):
            raise RpcError("eth_getLogs", None, f"unexpected answer {str(logs)[:100]}")
        return logs

    def cuts_answers(self) -> bool:
        """Whether the node is a client known to end an ``eth_getLogs`` answer
        early without a word (:data:`CUTS_ANSWERS`), asked once."""
        if self._cuts is None:
            try:
                version = str(self.call("web3_clientVersion"))
            except ChainError:
                return True  # cannot tell now: assume the worst (it costs a query), ask again next time
            self._cuts = version.startswith(CUTS_ANSWERS)
        return self._cuts

    def logs_through(
        self, addresses: Sequence[str], from_block: int, to_block: int, topics: Sequence[Any] | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """The logs of blocks ``from_block``..``to_block``, and the last block
        they are whole for: ``to_block``, unless the answer may have been cut.
        A client that cuts answers (ethereumjs: at 10,000 logs or 150 MB of
        its own accounting, always after a whole block) is trusted only up to
        the last block it answered for; any other node's answer of
        :data:`SILENT_LOG_CAP` logs or more that ends early, only up to the
        block before (which it may have cut within), unless that is the first."""
        logs = self.get_logs(addresses, from_block, to_block, topics)
        last = int(logs[-1]["blockNumber"], 16) if logs else to_block
        if last >= to_block:
            return logs, to_block
        if self.cuts_answers():
            return logs, last
        if len(logs) < SILENT_LOG_CAP:
            return logs, to_block
        through = last - 1 if last > from_block else last
        return [log for log in logs if int(log["blockNumber"], 16) <= through], through

    def logs_between(
        self,
        addresses: Sequence[str],
        start: int,
        end: int,
        topics: Sequence[Any] | None = None,
        span: int = 100_000,
    ) -> Iterator[dict[str, Any]]:
        """Every log of blocks ``start``..``end``, oldest first, asked for in
        ranges of at most ``span`` blocks that shrink to a quarter when the node
        refuses one, each continued after an answer's last whole block
        (:meth:`logs_through`); a filter past topic 0 is applied again here
        (ethereumjs applies only topic 0). For readers of a party's events;
        the indexer plans its own ranges."""
        while start <= end:
            high = min(end, start + span - 1)
            try:
                logs, through = self.logs_through(addresses, start, high, topics)
            except ChainError as exc:
                if high > start and is_range_refusal(exc):
                    limit = refusal_limit(exc)
                    stated = limit.most if limit is not None and limit.unit == "blocks" else None
                    span = stated if stated else max(1, (high - start + 1) // 4)
                    continue
                raise
            yield from (log for log in logs if topics is None or topics_match(log["topics"], topics))
            start = through + 1

    def headers(self, numbers: Sequence[int], chunk: int = 500) -> dict[int, Header | None]:
        """Block headers by number (None for blocks the node does not have),
        fetched in JSON-RPC batches."""
        found: dict[int, Header | None] = {}
        wanted = list(dict.fromkeys(numbers))
        for start in range(0, len(wanted), chunk):
            part = wanted[start : start + chunk]
            blocks = self.batch([("eth_getBlockByNumber", [hex(n), False]) for n in part])
            for n, block in zip(part, blocks, strict=True):
                found[n] = Header.from_json(block) if block else None
        return found
