#!/usr/bin/env python3
"""Indexer benchmark: how close does `scf index sync` get to the raw speed of
reading logs over JSON-RPC, and does it slow down as the database fills?

On a fresh Anvil it deploys the contracts, admits a supplier and a buyer, and
issues invoices with pre-signed transactions sent in JSON-RPC batches (each
issue emits ERC-721 Transfer + InvoiceIssued) until at least --events events
exist. Then, in one run, it measures:

  (a) raw eth_getLogs over HTTP + JSON parsing (the ceiling), with the
      indexer's own JSON-RPC client, so both read answers the same way;
  (b) end-to-end `scf index sync` into a fresh SQLite database;
  (d) the same into a SQLite database that already holds --growth-events
      events (default 1,000,000; 0 skips it), inserted directly with every
      index in place: copies of the events (b) stored, as the history of
      the same chain (in the 1,000 empty blocks mined before the
      deployment), of another invoice contract with invoice ids of its own
      (a fresh copy of that database each round);
  (c) the same into a fresh PostgreSQL database: --postgres-url or
      SCF_BENCH_PG_URL (emptied of every table between rounds), else a
      throw-away server from scripts/pgtmp.py, stopped by its PID; skipped
      when none can be started (under CI=true that is a failure).

They run in interleaved rounds (--rounds, default 5). This machine is shared
and its speed drifts 20% and more, so only side-by-side figures compare:
each round's (b) and (c) are divided by the (a) measured just before them,
and its (d) by its (b); each figure is the median of those paired ratios,
and every round is printed. The sync rate is the command's own (timed from
opening the database to the last commit, so interpreter start-up is
excluded); the process wall time is printed too. Peak RSS of each sync
process is its VmHWM (polled), and a sync of the first half of the blocks
shows it does not grow with the event count. The run ends with
`sqlite_ratio=<b/a>`, `postgres_ratio=<c/a>` and `indexer_growth=<d/b>`
(named `indexer_growth_<size>` when --growth-events is not 1,000,000).

    .venv/bin/python scripts/bench_indexer.py                  # 100,000 events, 5 rounds
    .venv/bin/python scripts/bench_indexer.py --quick          # 5,000 events, 3 rounds, (d) over 100,000
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from ledger.evm.rpc import RpcClient  # noqa: E402 - after the path set-up

#: Transactions per mined block (issue costs ~250k gas: blocks stay under the
#: EIP-1559 target, so the base fee stays at zero).
TXS_PER_BLOCK = 100
TARGET_LOGS_PER_REQUEST = 10_000


def log(message: str) -> None:
    print(message, flush=True)


def generate(home: Path, url: str, events: int) -> dict[str, Any]:
    """Deploy, admit, then issue invoices until `events` events exist."""
    from ledger.config import load_settings
    from ledger.evm.accounts import DEV_NAMES, dev_account
    from ledger.evm.chain import connect
    from ledger.evm.compiler import compile_contracts
    from ledger.evm.deploy import deploy
    from ledger.lifecycle import Ledger, parse_roles

    settings = load_settings(home=str(home), rpc_url=url)
    build, _ = compile_contracts(settings)
    with RpcClient(url) as rpc:
        rpc.call("anvil_mine", [hex(HISTORY_BLOCKS)])  # where (d)'s prefilled history lives
    w3 = connect(url)
    operator = dev_account(DEV_NAMES.index("operator"))
    supplier = dev_account(DEV_NAMES.index("supplier"))
    buyer = dev_account(DEV_NAMES.index("buyer"))
    deployment = deploy(settings, w3, build, operator)
    ledger = Ledger(settings, w3, deployment)
    until = dt.date.today() + dt.timedelta(days=3 * 365)
    ledger.add_participant(operator, "Bench Supplier", supplier.address, parse_roles("supplier"), until)
    ledger.add_participant(operator, "Bench Buyer", buyer.address, parse_roles("buyer"), until)

    invoices = deployment.contracts["InvoiceToken"].address
    currency = deployment.currencies["HKD"].address
    due = int(dt.datetime.combine(dt.date.today() + dt.timedelta(days=365), dt.time(), tzinfo=dt.UTC).timestamp())
    rpc = RpcClient(url, timeout=300)
    nonce = int(rpc.call("eth_getTransactionCount", [supplier.address, "pending"]), 16)
    before = _count_logs(rpc, deployment)
    needed = max(0, (events - before + 1) // 2)
    log(f"generating {needed:,} issue transactions ({2 * needed:,} events; {before} events exist)")

    began = time.perf_counter()
    # Sign in a pool of processes while this one sends and mines what is signed.
    chunks = [
        (supplier.key, nonce, start, min(TXS_PER_BLOCK, needed - start), invoices, currency, buyer.address, due)
        for start in range(0, needed, TXS_PER_BLOCK)
    ]
    rpc.call("evm_setAutomine", [False])
    sent = 0
    with multiprocessing.get_context("fork").Pool(max(1, min(2, os.cpu_count() or 1))) as pool:
        for raw in pool.imap(_sign_chunk, chunks):
            rpc.batch([("eth_sendRawTransaction", [r]) for r in raw])
            rpc.call("evm_mine")
            sent += len(raw)
            if sent % (needed // 10 or 1) < TXS_PER_BLOCK:
                log(f"  {sent:,}/{needed:,} transactions mined ({time.perf_counter() - began:.0f}s)")
    while int(rpc.call("txpool_status")["pending"], 16):
        rpc.call("evm_mine")
    rpc.call("evm_setAutomine", [True])
    signed_at = began
    sent_at = time.perf_counter()
    total = _count_logs(rpc, deployment)
    if total < events:
        raise SystemExit(f"only {total} events were produced (some transactions failed?)")
    head = int(rpc.call("eth_blockNumber"), 16)
    return {
        "events": total,
        "head": head,
        "start_block": deployment.start_block,
        "addresses": [c.address for c in deployment.contracts.values()],
        "send_s": sent_at - signed_at,
    }


def _sign_chunk(spec: tuple[Any, ...]) -> list[str]:
    """Sign `count` issue transactions (a pool worker)."""
    from eth_abi import encode
    from eth_account import Account
    from eth_utils import keccak

    key, nonce, start, count, invoices, currency, buyer, due = spec
    # issue(buyer, number, amount, currency, dueDate, docHash): contracts v2
    # key an invoice by (supplier, normalised number), so each number differs.
    selector = keccak(text="issue(address,string,uint256,address,uint64,bytes32)")[:4]
    raw = []
    for i in range(start, start + count):
        data = selector + encode(
            ["address", "string", "uint256", "address", "uint64", "bytes32"],
            [buyer, f"BENCH{i + 1}", 1_000 + i, currency, due, keccak(text=f"bench-invoice-{i}")],
        )
        tx = {
            "type": 2,
            "chainId": 31337,
            "nonce": nonce + i,
            "to": invoices,
            "value": 0,
            "data": data,
            "gas": 400_000,
            "maxFeePerGas": 10**9,
            "maxPriorityFeePerGas": 0,
        }
        raw.append("0x" + Account.sign_transaction(tx, key).raw_transaction.hex())
    return raw


def _count_logs(rpc: RpcClient, deployment: Any) -> int:
    logs = rpc.call(
        "eth_getLogs",
        [
            {
                "address": [c.address for c in deployment.contracts.values()],
                "fromBlock": hex(deployment.start_block),
                "toBlock": "latest",
            }
        ],
    )
    return len(logs)


def raw_rate(url: str, info: dict[str, Any]) -> tuple[float, int]:
    """(a): eth_getLogs over HTTP in ranges of ~10,000 logs, with the
    indexer's own JSON-RPC client (one keep-alive session, each answer read
    whole and parsed with json), one range after the other."""
    blocks = info["head"] - info["start_block"] + 1
    span = max(1, blocks * TARGET_LOGS_PER_REQUEST // max(info["events"], 1))
    count = 0
    with RpcClient(url, timeout=300) as rpc:
        began = time.perf_counter()
        for start in range(info["start_block"], info["head"] + 1, span):
            count += len(rpc.get_logs(info["addresses"], start, min(start + span - 1, info["head"])))
        elapsed = time.perf_counter() - began
    return count / elapsed, count


def run_sync(home: Path, url: str, db_url: str, workers: str, to_block: int | None = None) -> dict[str, Any]:
    """`scf index sync --json` in a child process; its stats plus wall time and peak RSS."""
    cmd = [
        sys.executable,
        "-c",
        "from ledger.cli import main; main()",
        "--home",
        str(home),
        "--rpc-url",
        url,
        "--db-url",
        db_url,
        "index",
        "sync",
        "--json",
        "--workers",
        workers,
    ]
    if to_block is not None:
        cmd += ["--to-block", str(to_block)]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errors:
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=errors, cwd=ROOT)
        peaks: dict[int, int] = {}
        while proc.poll() is None:
            # VmHWM of the sync process and of its fetch process, if it forks
            # one. (wait4's ru_maxrss would include this script's own memory:
            # the high-water mark of the forked image survives the exec.)
            for pid in [proc.pid, *_children(proc.pid)]:
                peaks[pid] = max(peaks.get(pid, 0), _vm_hwm_kib(pid))
            time.sleep(0.02)
        wall = time.perf_counter() - began
        out.seek(0)
        errors.seek(0)
        text, err = out.read().decode(), errors.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"scf index sync failed ({proc.returncode}): {err.strip() or text.strip()}")
    stats = json.loads(text)
    stats["wall_s"] = wall
    stats["peak_rss_mib"] = peaks.get(proc.pid, 0) / 1024
    stats["fetch_rss_mib"] = max((v for k, v in peaks.items() if k != proc.pid), default=0) / 1024
    return stats


def _vm_hwm_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found += [int(c) for c in task.read_text().split()]
        except (OSError, ValueError):
            continue
    return found


#: The contract the prefilled events of (d) are stored under (none of the deployment's).
OTHER_CONTRACT = "0x" + "0d" * 20
#: Empty blocks mined before the deployment: the blocks of (d)'s prefilled history.
HISTORY_BLOCKS = 1_000
#: Rows per INSERT batch of the prefill.
PREFILL_CHUNK = 20_000


def stored_events(url: str) -> list[dict[str, Any]]:
    """Every row of the events table at ``url`` (a (b) database), in id order, without the id."""
    from sqlalchemy import select

    from ledger.db.engine import create_db_engine
    from ledger.db.models import EVENTS

    engine = create_db_engine(url, write=False)
    try:
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(select(EVENTS).order_by(EVENTS.c.id))]
    finally:
        engine.dispose()
    for row in rows:
        row.pop("id")
    return rows


def prefill(path: Path, model: list[dict[str, Any]], count: int) -> float:
    """A SQLite ledger at ``path`` (migrated: every index in place) holding
    ``count`` events copied from ``model``: the same chain, in the blocks
    before the deployment (its history), of another invoice contract with
    invoice ids of its own. Returns the seconds it took."""
    from ledger.db import open_engine
    from ledger.db.models import EVENTS
    from ledger.indexer.bulk import BulkInsert

    began = time.perf_counter()
    engine = open_engine(f"sqlite:///{path}")
    bulk = BulkInsert(EVENTS, [c.name for c in EVENTS.columns if c.name != "id"])
    top = max((int(r["invoice_id"]) for r in model if r["invoice_id"] is not None), default=0) + 1
    try:
        for first in range(0, count, PREFILL_CHUNK):
            rows = []
            for n in range(first, min(first + PREFILL_CHUNK, count)):
                copy, r = divmod(n, len(model))
                row = dict(model[r])
                block = 1 + n * (HISTORY_BLOCKS - 2) // count  # below the deployment: history
                row["contract"] = OTHER_CONTRACT
                row["block_number"] = block
                row["block_hash"] = f"0x{block:064x}"
                row["log_index"] = n
                row["tx_hash"] = f"0x{n:064x}"
                if row["invoice_id"] is not None:
                    row["invoice_id"] = int(row["invoice_id"]) + copy * top
                rows.append(row)
            with engine.begin() as conn:
                bulk.execute(conn, rows, known_new=True)
        raw = engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
    finally:
        engine.dispose()
    return time.perf_counter() - began


def copy_database(template: Path, path: Path) -> None:
    """A fresh copy of the prefilled database for one round (its WAL was checkpointed)."""
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(template, path)


class PostgresTarget:
    """Where (c) syncs: a fresh database per round, created on a throw-away
    server (or emptied again when --postgres-url names one)."""

    def __init__(self, args: argparse.Namespace, cleanup: list[Any]) -> None:
        self.server: Any = None
        self.given = args.postgres_url or os.environ.get("SCF_BENCH_PG_URL")
        self.rounds = 0
        if self.given or args.no_postgres:
            self.why = "given" if self.given else "--no-postgres"
            return
        try:
            import pgtmp
        except ImportError:
            self.why = "scripts/pgtmp.py is missing"
            return
        try:
            self.server = pgtmp.start_server(install=args.install_postgres)
        except pgtmp.PostgresUnavailable as exc:
            self.why = str(exc)
            return
        cleanup.append(self.server.stop)
        self.why = f"throw-away server pid {self.server.pid}"

    @property
    def available(self) -> bool:
        return bool(self.given or self.server)

    def fresh_url(self) -> str:
        self.rounds += 1
        if self.server is not None:
            return str(self.server.create_database(f"scf_bench_{self.rounds}"))
        assert self.given
        # Emptied before each round too: a run stopped half-way leaves its tables behind.
        _empty_ledger_tables(self.given)
        return self.given

    def discard(self) -> None:
        """Drop this round's database, so the server's autovacuum and
        checkpoints on it do not run during the next round's measurements."""
        if self.server is not None:
            self.server.drop_database(f"scf_bench_{self.rounds}")
        elif self.given:
            _empty_ledger_tables(self.given)


def settle(*paths: Path) -> None:
    """Remove a round's files and flush the page cache's dirty pages, so the
    next measurement does not pay for writing back this one's database."""
    for path in paths:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.sync()
    time.sleep(1)


def _empty_ledger_tables(url: str) -> None:
    """Drop every table of a given benchmark database (the ledger's, the
    financing decisions', Alembic's record: whatever the migrations made),
    so the next round syncs into an empty one. Reflected, not the ledger
    models' metadata: that one leaves out `decisions`, whose foreign keys
    then refused the next round's migrations."""
    from sqlalchemy import MetaData

    from ledger.db.engine import create_db_engine

    engine = create_db_engine(url)
    try:
        tables = MetaData()
        tables.reflect(engine)
        tables.drop_all(engine)
    finally:
        engine.dispose()


def _rss(stats: dict[str, Any]) -> str:
    text = f"{stats['peak_rss_mib']:.0f} MiB"
    if stats["fetch_rss_mib"] >= 1:
        text += f" (+ fetch process {stats['fetch_rss_mib']:.0f} MiB)"
    return text


def _sync_line(label: str, stats: dict[str, Any]) -> str:
    return (
        f"{label}: {stats['events_per_second']:,.0f} events/s ({stats['events']:,} events, "
        f"{stats['batches']} batches, sync {stats['seconds']:.2f}s, process wall {stats['wall_s']:.2f}s), "
        f"peak RSS {_rss(stats)}"
    )


def _spread(rates: list[float]) -> str:
    return ", ".join(f"{r:,.0f}" for r in rates)


def _ratios(over: list[dict[str, Any]], under: list[float]) -> list[float]:
    """Each round's rate of ``over`` divided by the same round's ``under``."""
    return [s["events_per_second"] / u for s, u in zip(over, under, strict=True)]


def _listed(ratios: list[float]) -> str:
    return f"{', '.join(f'{x:.3f}' for x in ratios)} (median {statistics.median(ratios):.3f})"


def size_name(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1_000}k" if n % 1_000 == 0 else str(n)


def main() -> int:  # noqa: PLR0915 - one run, step by step
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000, help="events to generate (default 100000)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="interleaved rounds of (a), (b), (d) and (c); each figure is the median of its rounds' "
        "paired ratios (default 5)",
    )
    parser.add_argument(
        "--growth-events",
        type=int,
        default=1_000_000,
        help="events already in the database of (d) (default 1000000; 0 skips (d))",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="5,000 events, 3 rounds, (d) over 100,000 events, no memory check of half the blocks",
    )
    parser.add_argument(
        "--postgres-url",
        help="SQLAlchemy URL of a PostgreSQL database that the benchmark may empty (every table dropped) "
        "between rounds (env SCF_BENCH_PG_URL)",
    )
    parser.add_argument("--no-postgres", action="store_true", help="skip (c)")
    parser.add_argument("--install-postgres", action="store_true", help="let pgtmp apt-get install PostgreSQL")
    parser.add_argument(
        "--workers",
        choices=["auto", "thread", "process"],
        default="auto",
        help="`scf index sync --workers` (default auto)",
    )
    args = parser.parse_args()
    if args.quick:
        args.events, args.rounds, args.growth_events = 5_000, 3, 100_000
    if args.rounds < 1 or args.events < 1 or args.growth_events < 0:
        parser.error("--rounds and --events must be at least 1, --growth-events at least 0")

    from ledger.evm.node import spawn_anvil

    work = Path(tempfile.mkdtemp(prefix="scf-bench-"))
    home = work / "home"
    cache = ROOT / ".pytest_cache" / "scf-artifacts"
    if cache.is_dir():
        shutil.copytree(cache, home / "artifacts")
    cleanup: list[Any] = []
    # --prune-history: Anvil otherwise keeps the state of every block in
    # memory, and 500 blocks of a contract holding 50,000 invoices took 13 GB.
    anvil = spawn_anvil(
        ROOT / "node_modules",
        extra_args=["--gas-limit", "100000000", "--prune-history", "64"],
        log_file=work / "anvil.log",
    )
    cleanup.append(anvil.stop)
    try:
        info = generate(home, anvil.url, args.events)
        blocks = info["head"] - info["start_block"] + 1
        log(f"events: {info['events']:,} in {blocks:,} blocks (signed, sent and mined in {info['send_s']:.1f}s)")
        pg = PostgresTarget(args, cleanup)
        if not pg.available and os.environ.get("CI", "").lower() in ("1", "true", "yes") and not args.no_postgres:
            raise SystemExit(f"CI=true and no PostgreSQL server could be started: {pg.why}")
        load = os.getloadavg()
        log(
            f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
            f"(Anvil, the sync and its fetch process share these cores); sync --workers {args.workers}; "
            f"{args.rounds} interleaved rounds, each figure the median of its rounds' paired ratios"
        )

        raw: list[float] = []
        sqlite: list[dict[str, Any]] = []
        filled: list[dict[str, Any]] = []
        postgres: list[dict[str, Any]] = []
        template = work / "prefilled.db"
        for number in range(1, args.rounds + 1):
            rate, count = raw_rate(anvil.url, info)
            raw.append(rate)
            log(f"round {number}: (a) raw eth_getLogs + JSON parse: {rate:,.0f} events/s ({count:,} logs)")
            database = work / f"ledger-{number}.db"
            sqlite.append(run_sync(home, anvil.url, f"sqlite:///{database}", args.workers))
            log(_sync_line(f"round {number}: (b) scf index sync -> SQLite", sqlite[-1]))
            if args.growth_events and not template.exists():
                seconds = prefill(template, stored_events(f"sqlite:///{database}"), args.growth_events)
                log(f"(d)'s database: {args.growth_events:,} events inserted with every index in {seconds:.1f}s")
            settle(database)
            if args.growth_events:
                database = work / f"filled-{number}.db"
                copy_database(template, database)
                settle()
                filled.append(run_sync(home, anvil.url, f"sqlite:///{database}", args.workers))
                label = f"round {number}: (d) scf index sync -> SQLite holding {args.growth_events:,} events"
                log(_sync_line(label, filled[-1]))
                settle(database)
            if pg.available:
                postgres.append(run_sync(home, anvil.url, pg.fresh_url(), args.workers))
                log(_sync_line(f"round {number}: (c) scf index sync -> PostgreSQL", postgres[-1]))
                pg.discard()
                settle()
        if not args.quick:  # a memory check, no figure: not worth its seconds in a smoke run
            half = run_sync(
                home,
                anvil.url,
                f"sqlite:///{work / 'half.db'}",
                args.workers,
                to_block=info["start_block"] + blocks // 2,
            )
            log(
                f"peak RSS syncing only the first half ({half['events']:,} events): {_rss(half)}; "
                f"the whole backlog: {_rss(max(sqlite, key=lambda s: s['peak_rss_mib']))} "
                "(memory follows the range size, not the backlog)"
            )

        log(f"(a) raw eth_getLogs + JSON parse: median {statistics.median(raw):,.0f} events/s (rounds: {_spread(raw)})")
        for label, runs in (
            ("(b) -> SQLite", sqlite),
            ("(d) -> SQLite holding events", filled),
            ("(c) -> PostgreSQL", postgres),
        ):
            if runs:
                rates = [r["events_per_second"] for r in runs]
                log(f"{label}: median {statistics.median(rates):,.0f} events/s (rounds: {_spread(rates)})")
        if not postgres:
            log(f"(c) PostgreSQL skipped: {pg.why}")
        sqlite_ratios = _ratios(sqlite, raw)
        log(f"per-round ratios, (b)/(a): {_listed(sqlite_ratios)}")
        if postgres:
            log(f"per-round ratios, (c)/(a) ({pg.why}): {_listed(_ratios(postgres, raw))}")
        if filled:
            log(f"per-round ratios, (d)/(b): {_listed(_ratios(filled, [s['events_per_second'] for s in sqlite]))}")
        # Three decimals: rounded to two, 0.496 would print as a met 0.50 target.
        log(f"sqlite_ratio={statistics.median(sqlite_ratios):.3f}")
        log(f"postgres_ratio={statistics.median(_ratios(postgres, raw)):.3f}" if postgres else "postgres_ratio=skipped")
        if filled:
            growth = statistics.median(_ratios(filled, [s["events_per_second"] for s in sqlite]))
            name = "indexer_growth" + ("" if args.growth_events == 1_000_000 else f"_{size_name(args.growth_events)}")
            log(f"{name}={growth:.3f}")
        return 0
    finally:
        for stop in reversed(cleanup):
            stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
