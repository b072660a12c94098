#!/usr/bin/env python3
"""Where a sync's CPU goes: each stage of `scf index sync` timed alone.

scripts/bench_indexer.py measures the end-to-end rate against the raw one;
this script explains it. On a fresh Anvil it generates the same chain
(scripts/bench_indexer.generate), fetches every log once in ranges of
about TARGET_LOGS logs, and then times, one after the other in this
process, each stage the indexer runs on those ranges:

  fetch   eth_getLogs over HTTP, the answer's bytes only (mostly Anvil's work)
  parse   json.loads of those bytes
  decode  logs -> ``events`` rows (generated decoders; the fetch process)
  params  rows -> INSERT parameter tuples (the fetch process)
  fold    invoices minted in a range -> their rows (the fetch process)
  insert  the events and new invoices into a fresh SQLite database (the writer)
  commit  one commit per range, with the WAL checkpoints it triggers (the writer)

Each figure is the best of --rounds runs, in seconds for all the events.
In a real sync these stages overlap on the machine's cores (Anvil, the fetch
process and the writer), so their sum, divided by the cores, is a floor
for the sync's wall time.

    .venv/bin/python scripts/bench_indexer_stages.py                 # 100,000 events
    .venv/bin/python scripts/bench_indexer_stages.py --events 5000   # quick
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_indexer import generate, log  # noqa: E402 - after the path set-up

STAGES = ("fetch", "parse", "decode", "params", "fold", "insert", "commit")


def timed(work: Any, items: list[Any]) -> tuple[list[Any], float]:
    """``work`` applied to every item, and the seconds it took."""
    began = time.perf_counter()
    out = [work(item) for item in items]
    return out, time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events to generate (default 100000)")
    parser.add_argument("--rounds", type=int, default=5, help="runs of every stage; the best counts (default 5)")
    args = parser.parse_args()

    from ledger.config import load_settings
    from ledger.evm.node import spawn_anvil
    from ledger.evm.rpc import RpcClient
    from ledger.indexer import get_engine, indexer_for, projections
    from ledger.indexer.loop import rare_collections
    from ledger.indexer.mappers import logs_to_rows
    from ledger.indexer.planner import TARGET_LOGS
    from ledger.indexer.writer import EVENTS_INSERT

    work = Path(tempfile.mkdtemp(prefix="scf-stages-"))
    home = work / "home"
    cache = ROOT / ".pytest_cache" / "scf-artifacts"
    if cache.is_dir():
        shutil.copytree(cache, home / "artifacts")
    anvil = spawn_anvil(
        ROOT / "node_modules",
        extra_args=["--gas-limit", "100000000", "--prune-history", "64"],
        log_file=work / "anvil.log",
    )
    try:
        info = generate(home, anvil.url, args.events)
        settings = load_settings(home=str(home), rpc_url=anvil.url, db_url=f"sqlite:///{work / 'schema.db'}")
        indexer = indexer_for(settings)
        blocks = info["head"] - info["start_block"] + 1
        span = max(1, blocks * TARGET_LOGS // max(info["events"], 1))
        ranges = [
            (start, min(start + span - 1, info["head"])) for start in range(info["start_block"], info["head"] + 1, span)
        ]
        log(
            f"events: {info['events']:,} in {blocks:,} blocks, {len(ranges)} ranges of about "
            f"{TARGET_LOGS:,} logs; best of {args.rounds} rounds, seconds for all the events"
        )
        rpc = RpcClient(anvil.url, timeout=300)
        dialect = indexer.engine.dialect
        best = dict.fromkeys(STAGES, float("inf"))
        with rare_collections():
            for number in range(1, args.rounds + 1):
                took = dict.fromkeys(STAGES, 0.0)
                began = time.perf_counter()
                answers = []
                for start, end in ranges:
                    payload = {
                        "jsonrpc": "2.0",
                        "id": 1,
                        "method": "eth_getLogs",
                        "params": [{"address": indexer.addresses, "fromBlock": hex(start), "toBlock": hex(end)}],
                    }
                    answers.append(rpc.exchange(payload, "eth_getLogs")[2])
                took["fetch"] = time.perf_counter() - began
                logs, took["parse"] = timed(lambda raw: json.loads(raw)["result"], answers)
                rows, took["decode"] = timed(lambda got: logs_to_rows(got, indexer.targets, indexer.chain_id, {}), logs)
                params, took["params"] = timed(lambda got: EVENTS_INSERT.params(dialect, got), rows)
                folds, took["fold"] = timed(
                    lambda got: projections.fold_new_invoices(indexer.scope, got, dialect), rows
                )
                database = work / f"round-{number}.db"
                engine = get_engine(f"sqlite:///{database}")
                for events, new in zip(params, folds, strict=True):
                    with engine.connect() as conn:
                        began = time.perf_counter()
                        conn.begin()
                        EVENTS_INSERT.execute_params(conn, events, known_new=True)
                        projections.insert_new_invoices(conn, new)
                        committing = time.perf_counter()
                        conn.commit()
                        took["insert"] += committing - began
                        took["commit"] += time.perf_counter() - committing
                engine.dispose()
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{database}{suffix}").unlink(missing_ok=True)
                log(f"round {number}: " + ", ".join(f"{s} {took[s]:.3f}" for s in STAGES))
                best = {s: min(best[s], took[s]) for s in STAGES}
                del answers, logs, rows, params, folds
        log("best: " + ", ".join(f"{s} {best[s]:.3f}" for s in STAGES))
        total = sum(best.values())
        log(
            f"sum {total:.2f} s: a sync on {os.cpu_count()} cores needs at least "
            f"{total / (os.cpu_count() or 1):.2f} s; (a) of bench_indexer.py is fetch + parse, "
            f"{best['fetch'] + best['parse']:.2f} s"
        )
        return 0
    finally:
        anvil.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
