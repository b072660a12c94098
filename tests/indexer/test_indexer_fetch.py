"""Fetching: ranges that shrink when a node refuses and grow again, the
limits a node's refusals teach, and the fetch process (same database as a
thread, its own WAL checkpoints, the hand-over of a big backlog)."""

from __future__ import annotations

import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from support.indexer import (  # noqa: F401 - fixtures
    Actions,
    RpcProxy,
    actions_fixture,
    count_starts,
    fresh_snapshot,
    head,
    issue_many,
    proxy_fixture,
    rpc,
    settings_fixture,
    snapshot,
    two_idle_cores,
)

from ledger.config import Settings


@pytest.mark.parametrize(
    "refusal",
    [
        "query returned more than {n} results",
        "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range",
        "HTTP 502",  # no JSON-RPC answer at all: a gateway giving up on the query
    ],
)
def test_indexer_shrinks_refused_ranges_and_grows_them_again(
    settings: Settings, ledger: Any, acct: Any, proxy: RpcProxy, tmp_path: Path, refusal: str
) -> None:
    """A node that refuses answers of more than 24 logs."""
    from ledger.indexer import sync

    url = settings.rpc_url
    issue_many(ledger, acct, url, 120, per_block=2)  # dense: 4 events per block
    rpc(url, "anvil_mine", [hex(400)])  # then a long quiet stretch
    issue_many(ledger, acct, url, 10, per_block=2)
    proxy.max_logs, proxy.refusal = 24, refusal

    stats = sync(replace(settings, rpc_url=proxy.url))

    refused = [span for span, no in proxy.spans if no]
    served = [span for span, no in proxy.spans if not no]
    assert refused, "the proxy never refused: the test proves nothing"
    assert proxy.served_max <= 24
    assert max(served) >= 4 * min(served), "the range never grew back after the refusals"
    if "{n} results" in refusal:
        # The refusal states the cap: the indexer aims below it from then on.
        assert len(refused) <= len(served) // 4, proxy.spans
    assert stats.block == head(url)
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)


@pytest.mark.parametrize(
    "refusal",
    [
        "Requested range exceeds maximum range limit",  # Besu: no number
        "block range is too wide",
        "exceed maximum block range: {n}",  # Geth
        "range {asked} exceeds limit of {n}",  # Infura
    ],
)
def test_indexer_learns_a_block_range_limit(
    settings: Settings, ledger: Any, acct: Any, proxy: RpcProxy, tmp_path: Path, refusal: str
) -> None:
    """A node that refuses ranges of more than 10 blocks, however few logs
    they hold: a few refusals teach the indexer the limit, then its ranges
    stay at it (a limit the message states is taken at once)."""
    from ledger.indexer import sync

    url = settings.rpc_url
    issue_many(ledger, acct, url, 40, per_block=2)
    rpc(url, "anvil_mine", [hex(200)])  # a quiet stretch, where ranges would grow
    issue_many(ledger, acct, url, 10, per_block=2)
    proxy.max_blocks, proxy.refusal = 10, refusal

    stats = sync(replace(settings, rpc_url=proxy.url), initial_span=25)

    refused = [span for span, no in proxy.spans if no]
    served = [span for span, no in proxy.spans if not no]
    assert refused, "the proxy never refused: the test proves nothing"
    assert len(refused) <= (1 if "{n}" in refusal else 4), proxy.spans
    assert max(served) == 10 and served[-2] == 10, proxy.spans  # the last range may be short
    assert stats.block == head(url)
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)


def test_indexer_fetch_process_hands_back_what_it_learnt_of_the_node(
    settings: Settings, ledger: Any, acct: Any, proxy: RpcProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The limit a fetch process learnt reaches the writer's indexer, so the
    next run (a `follow` round, a restart) does not learn it again."""
    from ledger.indexer import indexer_for, planner

    monkeypatch.setattr(planner, "PROBE_AGAIN_AFTER", 10**9)
    url = settings.rpc_url
    issue_many(ledger, acct, url, 40, per_block=2)
    rpc(url, "anvil_mine", [hex(100)])
    proxy.max_blocks, proxy.refusal = 10, "Requested range exceeds maximum range limit"
    indexer = indexer_for(replace(settings, rpc_url=proxy.url), workers="process", initial_span=25)
    try:
        first = indexer.sync()
        learnt = len(proxy.spans)
        rpc(url, "anvil_mine", [hex(100)])
        second = indexer.sync()
    finally:
        indexer.close()

    assert first.fetch_process and second.fetch_process
    assert any(refused for _, refused in proxy.spans[:learnt]), "the proxy never refused: the test proves nothing"
    assert [span for span, refused in proxy.spans[learnt:] if refused] == [], proxy.spans[learnt:]


def test_indexer_probes_an_unstated_block_limit_again_later(
    settings: Settings, ledger: Any, acct: Any, proxy: RpcProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One refusal must not cap the ranges for the life of a follower: after
    PROBE_AGAIN_AFTER ranges the indexer tries wider ones again (and, the
    limit being real, learns it again)."""
    from ledger.indexer import sync
    from ledger.indexer.planner import PROBE_AGAIN_AFTER

    monkeypatch.setattr("ledger.indexer.planner.PROBE_AGAIN_AFTER", 8)
    assert PROBE_AGAIN_AFTER >= 50  # the real value keeps refusals rare
    url = settings.rpc_url
    rpc(url, "anvil_mine", [hex(400)])
    proxy.max_blocks, proxy.refusal = 10, "block range is too wide"

    sync(replace(settings, rpc_url=proxy.url), workers="thread", initial_span=25)

    marks = [i for i, (_, refused) in enumerate(proxy.spans) if refused]
    assert marks and marks[-1] > marks[0] + 8, f"never probed again: {proxy.spans}"
    assert len(marks) <= len(proxy.spans) // 3, proxy.spans


def test_indexer_range_refusal_messages_are_recognised() -> None:
    from ledger.evm.rpc import (
        RefusalLimit,
        RpcBusy,
        RpcError,
        RpcTimeout,
        is_range_refusal,
        refusal_limit,
        suggested_range,
    )

    refusals = [
        "query returned more than 10000 results",
        "Log response size exceeded. this block range should work: [0x10, 0x1f]",
        "block range is too wide",
        "exceed maximum block range: 50000",
        "Requested range exceeds maximum range limit",
        "eth_getLogs is limited to a 10,000 range",
        "query timeout exceeded",
        "too many blocks requested",
    ]
    for message in refusals:
        assert is_range_refusal(RpcError("eth_getLogs", -32000, message)), message
    assert is_range_refusal(RpcTimeout("eth_getLogs", "http://x", 5))
    assert not is_range_refusal(RpcError("eth_getLogs", -32602, "invalid argument 0: hex string without 0x prefix"))
    assert suggested_range(RpcError("eth_getLogs", -32000, refusals[1])) == (16, 31)

    alchemy = (
        "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range "
        "and no limit on the response size, or you can request any block range with a cap of 10K logs "
        "in the response."
    )
    limits = {
        refusals[0]: RefusalLimit("logs", 10_000),
        "query returned more than 2,500 results": RefusalLimit("logs", 2_500),
        alchemy: RefusalLimit("logs", 10_000),
        refusals[1]: RefusalLimit("logs"),
        "query returns too many logs, narrow your filter: 20000": RefusalLimit("logs", 20_000),
        refusals[2]: RefusalLimit("blocks"),
        refusals[3]: RefusalLimit("blocks", 50_000),
        refusals[4]: RefusalLimit("blocks"),
        refusals[5]: RefusalLimit("blocks", 10_000),
        "range 1000000 exceeds limit of 10000": RefusalLimit("blocks", 10_000),
        "block range too large, max range: 5000": RefusalLimit("blocks", 5_000),
        "block range is larger than max block range, block range = 5120, max block range = 5000": RefusalLimit(
            "blocks", 5_000
        ),
        "query block range exceeds server limit, narrow your filter: 1000": RefusalLimit("blocks", 1_000),
        "eth_getLogs is limited to a 10,000 blocks range": RefusalLimit("blocks", 10_000),
        "query exceeds max block range 100000": RefusalLimit("blocks", 100_000),
        "block range limit is 2500 blocks": RefusalLimit("blocks", 2_500),  # @ethereumjs/client 0.10.2
        "logs limit exceeded": RefusalLimit("logs"),
        refusals[6]: None,  # a timeout: could be either
    }
    for message, limit in limits.items():
        assert is_range_refusal(RpcError("eth_getLogs", -32602, message)), message
        assert refusal_limit(RpcError("eth_getLogs", -32602, message)) == limit, message
    assert refusal_limit(RpcTimeout("eth_getLogs", "http://x", 5)) is None
    # Bare HTTP errors: a gateway giving up on the query shrinks it; a rate limit or a node away does not.
    for status, shrink in ((500, True), (502, True), (504, True), (429, False), (503, False)):
        assert is_range_refusal(RpcBusy("eth_getLogs", status, f"HTTP {status}")) is shrink, status


def test_indexer_rpc_client_words_odd_answers_in_one_line() -> None:
    """Answers that are not JSON-RPC: one-line errors, never an AttributeError."""
    from ledger.errors import ChainError
    from ledger.evm.rpc import RefusalLimit, RpcClient, RpcError, refusal_limit

    answers = {
        "/404": (404, b"<html>\n<h1>Not Found</h1>\n</html>"),
        "/string-error": (200, b'{"jsonrpc": "2.0", "id": 1, "error": "Unauthorized:\\n bad key"}'),
        "/batch-string-error": (200, b'{"jsonrpc": "2.0", "error": "batches are not allowed"}'),
        "/error-with-500": (
            500,
            b'{"jsonrpc": "2.0", "id": 1, "error": {"code": -32005, '
            b'"message": "query returned more than 10000 results"}}',
        ),
    }

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server API
            self.rfile.read(int(self.headers["Content-Length"]))
            status, body = answers[self.path]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:

        def failure(path: str, batch: bool = False) -> Exception:
            client = RpcClient(base + path)
            with pytest.raises(ChainError) as caught:
                client.batch([("eth_blockNumber", [])] * 2) if batch else client.call("eth_blockNumber")
            client.close()
            return caught.value

        not_found = failure("/404")
        string_error = failure("/string-error")
        batch_error = failure("/batch-string-error", batch=True)
        with_500 = failure("/error-with-500")
    finally:
        server.shutdown()
        server.server_close()

    assert str(not_found) == (
        f"{base}/404 answered eth_blockNumber with HTTP 404 Not Found, not JSON-RPC; check --rpc-url"
    )
    assert str(string_error) == "the node refused eth_blockNumber: Unauthorized: bad key (code None)"
    assert str(batch_error) == "the node refused eth_blockNumber: batches are not allowed (code None)"
    # A JSON-RPC error sent with an HTTP error status is read, so a limit it states is learnt.
    assert isinstance(with_500, RpcError) and refusal_limit(with_500) == RefusalLimit("logs", 10_000)


def test_indexer_single_block_refused_by_a_gateway_is_an_outage(
    settings: Settings, ledger: Any, acct: Any, proxy: RpcProxy
) -> None:
    """A gateway that fails even one block's logs: the node is unusable for
    now, which `follow` waits out (NodeUnavailable), in one line."""
    from ledger.errors import NodeUnavailable
    from ledger.indexer import sync

    issue_many(ledger, acct, settings.rpc_url, 10, per_block=5)  # blocks of 10 logs
    proxy.max_logs, proxy.refusal = 3, "HTTP 502"

    with pytest.raises(NodeUnavailable, match="even for the single block") as caught:
        sync(replace(settings, rpc_url=proxy.url))
    assert "\n" not in str(caught.value) and "HTTP 502 Bad Gateway" in str(caught.value)


def test_indexer_fetch_process_gives_the_same_database(
    settings: Settings, ledger: Any, acct: Any, actions: Actions, tmp_path: Path
) -> None:
    from ledger.indexer import sync

    issue_many(ledger, acct, settings.rpc_url, 300, per_block=3)
    actions.lifecycle(actions.issue(), "paid")

    stats = sync(settings, workers="process", target_logs=40, initial_span=3)

    assert stats.batches > 3, stats
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the WAL is SQLite's
def test_indexer_fetch_process_sync_checkpoints_the_sqlite_wal_itself(
    settings: Settings, ledger: Any, acct: Any, actions: Actions
) -> None:
    """A backfill with a fetch process checkpoints the WAL in a thread of its
    own and once more at its end: the database file holds every page when the
    sync returns, though the backfill is far below wal_autocheckpoint and a
    second connection keeps closing the engine from checkpointing."""
    from ledger.db.engine import create_db_engine
    from ledger.indexer import sync

    issue_many(ledger, acct, settings.rpc_url, 120, per_block=3)
    sync(settings, to_block=1)  # creates the database
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    other = create_db_engine(settings.database_url, write=False)
    try:
        with other.connect() as held:
            stats = sync(settings, workers="process", target_logs=40, initial_span=3)
            page_size = held.exec_driver_sql("PRAGMA page_size").scalar_one()
            pages = held.exec_driver_sql("PRAGMA page_count").scalar_one()
            assert stats.fetch_process and stats.events > 200, stats
            assert path.stat().st_size == page_size * pages
            assert Path(f"{path}-wal").stat().st_size > 0  # the WAL was used, and kept open by `held`
    finally:
        other.dispose()


@pytest.mark.parametrize("initial_span", [10, 3])
def test_indexer_auto_hands_a_big_backlog_to_a_fetch_process_without_gaps(
    settings: Settings,
    ledger: Any,
    acct: Any,
    actions: Actions,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    initial_span: int,
) -> None:
    """Mode auto gives a backlog of PROCESS_MIN_RANGES spans of blocks or
    more to a fetch process from the start (span 3: about 110 blocks); a
    shorter one starts in a thread and, once a full range shows a big
    backlog, hands the rest to a fetch process before writing that range
    (span 10). Either way the database is the same as a plain index."""
    from ledger.indexer import fetchers, loop, sync

    issue_many(ledger, acct, settings.rpc_url, 300, per_block=3)
    actions.lifecycle(actions.issue(), "paid")
    two_idle_cores(monkeypatch)
    threads = count_starts(monkeypatch, fetchers.ThreadFetcher)  # the writer's (the child's are not seen here)
    from ledger.config import DEV_CHAIN_ID
    from ledger.deployment import load_deployment
    from ledger.evm.rpc import RpcClient

    with RpcClient(settings.rpc_url) as rpc:
        backlog = int(rpc.call("eth_blockNumber"), 16) - (load_deployment(settings, DEV_CHAIN_ID).start_block - 1)
    long_backlog = backlog >= loop.PROCESS_MIN_RANGES * initial_span
    assert long_backlog == (initial_span == 3), backlog  # the two paths this test is about

    stats = sync(settings, workers="auto", target_logs=40, initial_span=initial_span)

    assert stats.fetch_process and stats.batches > 3, stats
    assert len(threads) == (0 if long_backlog else 1), (backlog, initial_span)
    assert snapshot(settings.database_url) == fresh_snapshot(settings, tmp_path)
