#!/usr/bin/env python3
"""Indexer benchmark on a real proof-of-authority client: how close does
`scf index sync` get to the raw `eth_getLogs` rate of the same node, when the
node is a Clique network of @ethereumjs/client 0.10.2 rather than Anvil?

It starts its own single-signer Clique network in a temporary data directory
(ledger.evm.clique.CliqueNetwork, as `scf node start --engine clique` does,
stopped by PID by the same code at the end), and through the real CLI creates
the accounts, deploys, admits a supplier and a buyer and imports a CSV of
--invoices invoices (`scf invoice import`: pipelined batches of what half a
block holds, each invoice an ERC-721 Transfer and an InvoiceIssued; the
events found are checked against the import's count). Unless --no-anvil, it
does the same on its own Anvil (as `scf node start` runs it, without a state
file), so both chains hold the same events. Then, in
interleaved rounds (--rounds), on each chain in turn:

  raw      eth_getLogs over the deployment's blocks with the indexer's address
           filter, through the indexer's own JSON-RPC client (ledger.evm.rpc
           RpcClient.get_logs: one keep-alive session, each answer read whole
           and parsed with json), one range after the other. The ranges are
           ones the node accepts and answers whole, planned once before the
           rounds (see plan_ranges): at most 2,500 blocks (ethereumjs refuses
           more), each ending at the last block of what the node answered for
           a window of 2,500 (ethereumjs ends an answer without a word after
           the block that brings it to 10,000 logs or to 150 MB of its own
           accounting, which full blocks of issue batches reach in two or
           three blocks). Each log is read exactly once; Anvil's ranges are
           planned the same way;
  sqlite   `scf index sync --json --to-block <last block>` (SCF_CONFIRMATIONS=0)
           into a fresh SQLite database, in a child process; the rate is the
           command's own (opening the database to the last commit), so
           interpreter start-up is excluded. A sync that stores fewer events
           than the chain holds is marked INCOMPLETE, and the run exits 1;
  postgres the same into PostgreSQL when SCF_BENCH_PG_URL (or --postgres-url)
           names an empty database the benchmark may empty between rounds;
           skipped otherwise.

Each round's syncs are divided by the raw rate of the same round on the same
chain, measured just before them (paired ratios: this machine's speed drifts
20% and more, so only side-by-side figures compare); each final ratio is the
median of its rounds, and each final rate the median of its rounds. The
node's CPU time during each measurement is printed against its length. After
the rounds, one more sync of the Clique chain runs in this process with the
fetching in a thread and every JSON-RPC exchange timed, to show where a sync
waits on this node; then each node answers its densest block alone, with the
address filter and with an address that matches nothing (what a log costs it).

The run ends with name=value lines: `clique_raw_getlogs_eps`,
`clique_index_eps_sqlite`, `clique_index_ratio_sqlite` (and `_pg` ones), and,
with Anvil, `anvil_raw_getlogs_eps`, `anvil_index_eps_sqlite`,
`anvil_index_ratio_sqlite`.

    .venv/bin/python scripts/bench_clique.py             # 4,000 invoices, 5 rounds, ~8 minutes
    .venv/bin/python scripts/bench_clique.py --quick     # 1,000 invoices, 3 rounds, ~2 minutes
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_indexer import _vm_hwm_kib, run_sync, settle  # noqa: E402 - a sync in a child process, as timed there
from bench_intake import BUYER_NAME, SUPPLIER_NAME, run_scf, scf_env, statuses, write_export  # noqa: E402 - the CLI, as run there

from ledger.evm.rpc import RpcClient  # noqa: E402 - after the path set-up

#: ethereumjs refuses an eth_getLogs range whose last block is more than this
#: many blocks after its first ("block range limit is 2500 blocks").
ETHEREUMJS_BLOCK_RANGE = 2_500
#: The password of the benchmark's keystore and Clique signer key (a throw-away data directory).
PASSWORD = "bench-clique-password"


def log(message: str) -> None:
    print(message, flush=True)


@dataclass
class Chain:
    """One chain holding the benchmark's events, and what the rounds need of it."""

    name: str  # "clique" or "anvil"
    home: Path
    url: str
    start_block: int
    last_block: int
    addresses: list[str]
    events: int = 0
    ranges: list[tuple[int, int]] = field(default_factory=list)
    range_logs: list[int] = field(default_factory=list)  # logs in each planned range
    setup_s: float = 0.0
    import_s: float = 0.0
    import_blocks: int = 0
    import_txs: int = 0
    invoices: int = 0
    node_pid: int = 0
    densest: int = 0  # the block with the most of the deployment's logs
    setup_events: int = 0  # the deployment's events before the import (deploy, admissions)


def cli_env(home: Path, url: str) -> dict[str, str]:
    return {**scf_env(home, url), "SCF_PASSWORD": PASSWORD}


def populate(name: str, home: Path, url: str, accounts: tuple[str, str, str], invoices: int) -> Chain:
    """Deploy as accounts[0], admit accounts[1] (supplier) and accounts[2]
    (buyer), and import `invoices` invoices as the supplier, all through the
    CLI. Returns the chain with the deployment's block range."""
    from ledger.config import load_settings
    from ledger.deployment import load_deployment

    env = cli_env(home, url)
    operator, supplier, buyer = accounts
    began = time.perf_counter()
    run_scf(["deploy", "--as", operator], env, home)
    until = (dt.date.today() + dt.timedelta(days=3 * 365)).isoformat()
    for party, account, role in ((SUPPLIER_NAME, supplier, "supplier"), (BUYER_NAME, buyer, "buyer")):
        run_scf(
            ["participant", "add", party, "--address", account, "--role", role, "--kyc-until", until]
            + ["--as", operator],
            env,
            home,
        )
    setup_s = time.perf_counter() - began
    with RpcClient(url, timeout=60) as rpc:
        settings = load_settings(home=str(home), rpc_url=url)
        deployment = load_deployment(settings, rpc.chain_id())
        addresses = [c.address for c in deployment.contracts.values()]
        # Small blocks: answered whole in one range.
        setup_events = len(rpc.get_logs(addresses, deployment.start_block, rpc.block_number()))
    export, result = home / "export.csv", home / "result.csv"
    write_export(export, "CLQ", invoices, dt.date.today() + dt.timedelta(days=90))
    command = ["invoice", "import", str(export), "--as", supplier, "--no-sync", "--result", str(result)]
    imported = run_scf(command, env, home)
    counts, txs = statuses(result)
    if counts.get("issued") != invoices:
        raise SystemExit(f"{name}: import of {invoices} invoices: the result file has {counts}")
    with RpcClient(url, timeout=60) as rpc:
        last = rpc.block_number()
    chain = Chain(
        name,
        home,
        url,
        deployment.start_block,
        last,
        addresses,
        setup_s=setup_s,
        import_s=imported["wall"],
        invoices=invoices,
        setup_events=setup_events,
        import_txs=txs,
    )
    return chain


def plan_ranges(chain: Chain) -> None:
    """Count the logs (untimed) and plan the raw loop's ranges: ranges the node
    accepts (at most ETHEREUMJS_BLOCK_RANGE blocks) and answers whole.

    ethereumjs ends an answer, without a word, after the block that brings it
    to 10,000 logs *or* to 150 MB by its own measure (JSON of each log with its
    whole block: with full blocks of issue batches that is two or three
    blocks, far below 10,000 logs). It ends after a whole block, so an answer
    is whole through the block of its last log: each range here ends there,
    and the next starts after it (a last range of empty blocks ends at the
    window's end). Replaying these ranges reads each log exactly once."""
    per_block: Counter[int] = Counter()
    ranges: list[tuple[int, int]] = []
    with RpcClient(chain.url, timeout=300) as rpc:
        start = chain.start_block
        while start <= chain.last_block:
            end = min(chain.last_block, start + ETHEREUMJS_BLOCK_RANGE - 1)
            logs = rpc.get_logs(chain.addresses, start, end)
            through = int(logs[-1]["blockNumber"], 16) if logs else end
            per_block.update(int(entry["blockNumber"], 16) for entry in logs)
            ranges.append((start, through))
            chain.range_logs.append(len(logs))
            start = through + 1
    chain.events = sum(per_block.values())
    chain.densest = max(per_block, key=lambda n: per_block[n])
    chain.import_blocks = sum(1 for n in per_block.values() if n > 100)
    chain.ranges = ranges
    expected = chain.setup_events + 2 * chain.invoices
    if chain.events != expected:
        raise SystemExit(f"{chain.name}: {chain.events} events found, {expected} expected")


def raw_rate(chain: Chain) -> tuple[float, int]:
    """The raw loop: the planned ranges one after the other, events/s."""
    count = 0
    with RpcClient(chain.url, timeout=300) as rpc:
        began = time.perf_counter()
        for start, end in chain.ranges:
            count += len(rpc.get_logs(chain.addresses, start, end))
        elapsed = time.perf_counter() - began
    if count != chain.events:
        raise SystemExit(f"{chain.name}: the raw loop read {count} logs, {chain.events} expected")
    return count / elapsed, count


def sync(chain: Chain, db_url: str) -> dict[str, Any]:
    """`scf index sync` of the chain's range; ``missing`` is how many of its
    events the database lacks at the end (a node that cut answers short)."""
    stats = run_sync(chain.home, chain.url, db_url, "auto", to_block=chain.last_block)
    if stats["to_block"] != chain.last_block:
        raise SystemExit(f"{chain.name}: the sync ended at block {stats['to_block']}, not {chain.last_block}")
    stats["missing"] = chain.events - stats["events"]
    return stats


def profiled_sync(chain: Chain, db_url: str) -> dict[str, Any]:
    """One sync in this process, fetching in a thread, with every JSON-RPC
    exchange timed by method: where a sync waits on the node."""
    from ledger.config import load_settings
    from ledger.indexer.api import sync as index_sync

    spent: dict[str, list[float]] = {}
    refused: list[str] = []
    answers: list[tuple[int, int]] = []  # (blocks asked for, logs answered)
    original_exchange = RpcClient.exchange
    original_get_logs = RpcClient.get_logs

    def exchange(self: RpcClient, payload: Any, method: str) -> tuple[int, str, bytes]:
        began = time.perf_counter()
        try:
            return original_exchange(self, payload, method)
        finally:
            key = f"{method} (batch)" if isinstance(payload, list) else method
            spent.setdefault(key, []).append(time.perf_counter() - began)

    def get_logs(self: RpcClient, addresses: Any, from_block: int, to_block: int, *rest: Any) -> list[dict[str, Any]]:
        try:
            logs = original_get_logs(self, addresses, from_block, to_block, *rest)
        except Exception as exc:
            refused.append(f"{to_block - from_block + 1} blocks: {exc}")
            raise
        answers.append((to_block - from_block + 1, len(logs)))
        return logs

    settings = load_settings(home=str(chain.home), rpc_url=chain.url, db_url=db_url)
    RpcClient.exchange = exchange  # type: ignore[method-assign]
    RpcClient.get_logs = get_logs  # type: ignore[method-assign,assignment]
    try:
        stats = index_sync(settings, confirmations=0, to_block=chain.last_block, workers="thread")
    finally:
        RpcClient.exchange = original_exchange  # type: ignore[method-assign]
        RpcClient.get_logs = original_get_logs  # type: ignore[method-assign]
    return {"stats": stats.as_dict(), "spent": spent, "refused": refused, "answers": answers}


class Postgres:
    """Where the postgres syncs go: a given database, emptied after each round."""

    def __init__(self, url: str | None) -> None:
        self.url = url

    def discard(self) -> None:
        """Drop everything in the database's public schema (the ledger's
        tables, the financing desk's and Alembic's record), so the next round
        syncs into an empty database."""
        if not self.url:
            return
        from sqlalchemy import text

        from ledger.db.engine import create_db_engine

        engine = create_db_engine(self.url)
        try:
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        finally:
            engine.dispose()


def start_clique(work: Path, invoices: int) -> tuple[Chain, Any]:
    """A fresh data directory with three keystore accounts and its Clique
    network (the operator and the supplier funded in the genesis), populated.
    Returns the chain and the network (to stop)."""
    from ledger.config import load_settings
    from ledger.evm.clique import CliqueNetwork
    from ledger.evm.node import free_port, url_of

    home = work / "clique"
    _copy_artifacts(home)
    port = free_port()
    for account in ("ops", "kowloon", "tsuenwan"):
        run_scf(["account", "new", account], cli_env(home, url_of(port)), work)
    began = time.perf_counter()
    settings = load_settings(home=str(home), node_port=port)
    network = CliqueNetwork(settings)
    try:
        info, _ = network.start(1, ["ops", "kowloon"])
        log(f"clique: single-signer network started in {time.perf_counter() - began:.1f}s (pid {info['pid']})")
        chain = populate("clique", home, url_of(int(info["port"])), ("ops", "kowloon", "tsuenwan"), invoices)
        chain.node_pid = int(info["pid"])
        return chain, network
    except BaseException:
        network.stop()
        raise


def start_anvil(work: Path, invoices: int) -> tuple[Chain, Any]:
    """Anvil as `scf node start` runs it (zero base fee, default gas limit; no
    state file, whose periodic dumps would only add noise), populated alike."""
    from ledger.evm.node import spawn_anvil

    home = work / "anvil"
    _copy_artifacts(home)
    anvil = spawn_anvil(ROOT / "node_modules", log_file=work / "anvil.log")
    try:
        chain = populate("anvil", home, anvil.url, ("operator", "supplier", "buyer"), invoices)
        chain.node_pid = anvil.pid
        return chain, anvil
    except BaseException:
        anvil.stop()
        raise


def _copy_artifacts(home: Path) -> None:
    cache = ROOT / ".pytest_cache" / "scf-artifacts"
    if cache.is_dir():
        shutil.copytree(cache, home / "artifacts")
    home.mkdir(parents=True, exist_ok=True)


def node_cpu(chain: Chain) -> float:
    """CPU seconds the chain's node process has used (user + system)."""
    fields = Path(f"/proc/{chain.node_pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _busy(cpu: float, seconds: float) -> str:
    """The node's CPU seconds per second of a measurement (the clock ticks at
    10 ms: said only of measurements of a second or more)."""
    return f"; node CPU {cpu / seconds:.0%} of it" if seconds >= 1 else ""


def node_cost(chain: Chain) -> str:
    """What one eth_getLogs of the chain's densest block costs the node, with
    the indexer's address filter and with an address that matches nothing
    (the node reads the same block and receipts, and formats no log)."""
    timings = []
    with RpcClient(chain.url, timeout=300) as rpc:
        for addresses in (chain.addresses, ["0x" + "00" * 19 + "01"]):
            best = float("inf")
            for _ in range(3):
                began = time.perf_counter()
                logs = rpc.get_logs(addresses, chain.densest, chain.densest)
                best = min(best, time.perf_counter() - began)
            timings.append((best, len(logs)))
    (hit, found), (miss, _) = timings
    return (
        f"{chain.name} node, eth_getLogs of its densest block {chain.densest} alone (best of 3): "
        f"{hit * 1000:.0f} ms for its {found} logs ({hit / max(found, 1) * 1000:.2f} ms each); "
        f"{miss * 1000:.0f} ms with an address that matches none of them"
    )


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _spread(values: Sequence[float]) -> str:
    return ", ".join(f"{v:,.0f}" for v in values)


def _ratios(values: list[float]) -> str:
    return f"{', '.join(f'{v:.3f}' for v in values)} (median {_median(values):.3f})"


def _describe(chain: Chain) -> str:
    blocks = chain.last_block - chain.start_block + 1
    return (
        f"{chain.name}: {chain.events:,} events in blocks {chain.start_block:,}-{chain.last_block:,} "
        f"({blocks:,} blocks, {chain.import_blocks} of them with over 100 events); deploy and admit "
        f"{chain.setup_s:.1f}s, import {chain.import_s:.1f}s in {chain.import_txs} transactions; "
        f"raw loop: {len(chain.ranges)} eth_getLogs ranges of {_spread(chain.range_logs)} logs"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=4_000, help="invoices to import (default 4000)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1,000 invoices, 3 rounds")
    parser.add_argument("--no-anvil", action="store_true", help="skip the same events on Anvil")
    parser.add_argument(
        "--postgres-url",
        help="SQLAlchemy URL of an empty PostgreSQL database the benchmark may empty between rounds "
        "(env SCF_BENCH_PG_URL; without either, PostgreSQL is skipped)",
    )
    args = parser.parse_args()
    if args.quick:
        args.invoices, args.rounds = 1_000, 3
    if args.invoices < 10 or args.rounds < 1:
        parser.error("--invoices must be at least 10 and --rounds at least 1")
    os.environ["SCF_PASSWORD"] = PASSWORD
    os.environ["SCF_CONFIRMATIONS"] = "0"  # every sync is bounded by --to-block

    work = Path(tempfile.mkdtemp(prefix="scf-bench-clique-"))
    stops: list[Any] = []
    began = time.perf_counter()
    try:
        clique, network = start_clique(work, args.invoices)
        stops.append(network.stop)
        chains = [clique]
        if not args.no_anvil:
            anvil, process = start_anvil(work, args.invoices)
            stops.append(process.stop)
            chains.append(anvil)
        for chain in chains:
            plan_ranges(chain)
            log(_describe(chain))
        pg = Postgres(args.postgres_url or os.environ.get("SCF_BENCH_PG_URL"))
        load = os.getloadavg()
        log(
            f"set-up took {time.perf_counter() - began:.0f}s; machine: {os.cpu_count()} cores, load average "
            f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {args.rounds} interleaved rounds"
            + ("" if pg.url else "; PostgreSQL skipped (no SCF_BENCH_PG_URL)")
        )

        figures: dict[str, dict[str, list[float]]] = {c.name: {} for c in chains}
        incomplete: set[str] = set()
        for number in range(1, args.rounds + 1):
            for chain in chains:
                mine = figures[chain.name]
                cpu = node_cpu(chain)
                rate, count = raw_rate(chain)
                busy = _busy(node_cpu(chain) - cpu, count / rate)
                mine.setdefault("raw", []).append(rate)
                log(f"round {number}: {chain.name} raw eth_getLogs: {rate:,.0f} events/s ({count:,} logs{busy})")
                targets = [("sqlite", f"sqlite:///{work / f'{chain.name}-{number}.db'}")]
                if pg.url and chain.name == "clique":
                    targets.append(("pg", pg.url))
                for backend, db_url in targets:
                    cpu = node_cpu(chain)
                    stats = sync(chain, db_url)
                    busy = _busy(node_cpu(chain) - cpu, stats["seconds"])
                    eps = stats["events_per_second"]
                    mine.setdefault(backend, []).append(eps)
                    mine.setdefault(f"ratio_{backend}", []).append(eps / rate)
                    if stats["missing"]:
                        incomplete.add(f"{chain.name}_{backend}")
                    log(
                        f"round {number}: {chain.name} sync -> {backend}: {eps:,.0f} events/s "
                        f"(sync {stats['seconds']:.2f}s, process wall {stats['wall_s']:.2f}s, "
                        f"{stats['batches']} ranges, fetch process {stats['fetch_process']}{busy}); "
                        f"ratio to raw {eps / rate:.3f}"
                        + (
                            f"; INCOMPLETE: stored {stats['events']:,} of {chain.events:,} events"
                            if stats["missing"]
                            else ""
                        )
                    )
                    if backend == "pg":
                        pg.discard()
                        settle()
                    else:
                        settle(Path(db_url.removeprefix("sqlite:///")))

        profile = profiled_sync(clique, f"sqlite:///{work / 'profile.db'}")
        stats = profile["stats"]
        waited = sum(sum(v) for v in profile["spent"].values())
        log(
            f"clique sync in this process, fetching in a thread: {stats['events_per_second']:,.0f} events/s "
            f"(sync {stats['seconds']:.2f}s, {stats['batches']} ranges, {stats['events']:,} of "
            f"{clique.events:,} events stored); JSON-RPC exchanges {waited:.2f}s:"
        )
        for method, times in sorted(profile["spent"].items(), key=lambda kv: -sum(kv[1])):
            log(f"  {method}: {len(times)} requests, {sum(times):.2f}s (median {_median(times) * 1000:.0f} ms)")
        sizes = profile["answers"]
        log(
            f"  eth_getLogs answers: {len(sizes)}, blocks asked for {_spread([b for b, _ in sizes])}; "
            f"logs answered {_spread([n for _, n in sizes])}"
        )
        if profile["refused"]:
            log(f"  refused ranges: {len(profile['refused'])}, the first {profile['refused'][0]}")

        for chain in chains:
            log(node_cost(chain))
        for chain in chains:
            mine = figures[chain.name]
            log(f"{chain.name} raw eth_getLogs rounds: {_spread(mine['raw'])} events/s")
            for backend in ("sqlite", "pg"):
                if backend in mine:
                    log(f"{chain.name} sync -> {backend} rounds: {_spread(mine[backend])} events/s")
                    log(f"{chain.name} paired ratios, {backend} / raw: {_ratios(mine[f'ratio_{backend}'])}")
        peaks = ", ".join(f"{c.name} {_vm_hwm_kib(c.node_pid) / 1024:,.0f} MiB" for c in chains)
        log(f"node peak RSS: {peaks}")
        log(f"total run {time.perf_counter() - began:.0f}s")
        for chain in chains:
            mine = figures[chain.name]
            log(f"{chain.name}_raw_getlogs_eps={_median(mine['raw']):.0f}")
            for backend in ("sqlite", "pg"):
                if backend in mine:
                    log(f"{chain.name}_index_eps_{backend}={_median(mine[backend]):.0f}")
                    log(f"{chain.name}_index_ratio_{backend}={_median(mine[f'ratio_{backend}']):.3f}")
                elif backend == "pg" and chain.name == "clique":
                    log(f"{chain.name}_index_ratio_{backend}=skipped")
        for name in sorted(incomplete):
            log(f"{name}_complete=false")
        if incomplete:
            log(
                "the syncs marked INCOMPLETE stored fewer events than the chain holds: the node ended "
                "eth_getLogs answers short without a word, and the indexer took them for whole ranges"
            )
            return 1
        return 0
    finally:
        for stop in reversed(stops):
            stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
