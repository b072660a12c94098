#!/usr/bin/env python3
"""Latency benchmark: how long a user waits, from one invoice to its
financing, for a command to start, and for `scf index follow` to mirror a
transaction.

On a fresh Anvil (started as `scf node start` starts it) it deploys the
contracts, admits a supplier, a buyer and a financier under the names the
example policy (examples/policy.toml) knows, mints settlement tokens to the
financier and the buyer, and indexes the chain. Then it measures, in
interleaved rounds (--rounds), each figure the median of its rounds:

  time_to_finance_s      issue -> confirm -> offer -> quote -> execute ->
                         the invoice read back from the database as
                         Financed, through the project's Python services
                         (ledger.lifecycle.Ledger, ledger.finance.service.Desk,
                         ledger.queries) in this one process, each step as
                         the CLI does it (issue, confirm and offer each
                         indexed afterwards, as --sync does on the dev chain),
                         after one untimed financing (a service runs warm);
  cli_time_to_finance_s  the same six steps as six `scf` commands, as a
                         user types them (`scf invoice issue`, `invoice
                         confirm`, `invoice offer`, `finance quote`,
                         `finance execute`, `invoice show --json`), wall time
                         of the six processes;
  cli_start_ratio        `scf invoice confirm 999999 --as buyer` (a signing
                         command refused before it sends: no such invoice)
                         over `python -c "import web3"`, timed one right
                         after the other in each round (paired; target at
                         most 1.2);
  cold_start_ratio       `scf invoice list --json` on this small ledger over
                         `python -c "import sqlalchemy, click"`, paired the
                         same way (target at most 2).

Last, follow latency: `scf index follow` with default settings (only the
data directory, the node and the database are named) is started on the
indexed chain; then --txs transactions (invoice issues, pre-signed), one at
a time, after one untimed (follow is running once its row is there): each
is sent, its receipt read, and the clock runs from the receipt until the
database holds its row (read every millisecond); the next one is sent a
random 0 to 50 ms later, so that sending does not fall in step with
follow's loop. `follow_p50_ms`
and `follow_p95_ms` are the percentiles of those --txs latencies (target:
p50 under 300 ms). Follow's stderr line (whether the node announced new
heads, or follow polled) is printed.

The run ends with one `name=value` line per figure.

Every child process runs from cached bytecode, as an installed `scf` does
(pip compiles it at install): PYTHONDONTWRITEBYTECODE is not passed on (an
environment that sets it would have every start compile the project's
modules again), and each command runs once untimed first.

`--only start` measures only the two start-up ratios (and `import
ledger.cli`'s wall time); `--compare-source DIR` times the same start-ups,
in the same rounds, with the `ledger` package of DIR (another revision,
e.g. `git archive HEAD ledger | tar -x -C DIR`), which indexes the chain
into a database of its own first; those figures end in `_compared`.

    .venv/bin/python scripts/bench_latency.py            # 5 rounds, 200 transactions
    .venv/bin/python scripts/bench_latency.py --quick    # 2 rounds, 200 transactions
    .venv/bin/python scripts/bench_latency.py --only start --rounds 9 --compare-source /tmp/before
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_indexer import _sign_chunk  # noqa: E402 - after the path set-up

from ledger.evm.rpc import RpcClient  # noqa: E402

SCF = str(Path(sys.executable).with_name("scf"))
POLICY = ROOT / "examples" / "policy.toml"
#: The parties as the example policy names them (its buyer has a credit line).
SUPPLIER_NAME = "Kowloon Precision Parts Ltd"
BUYER_NAME = "Tsuen Wan Electronics Ltd"
FINANCIER_NAME = "Harbour Trade Finance Ltd"
#: An invoice the example policy approves (as in scripts/demo.sh).
AMOUNT = "48250.50"
DAYS = 90
FOLLOW_TIMEOUT = 30.0
#: The longest pause between two transactions of the follow latency (random, uniform).
PAUSE = 0.05


def log(message: str) -> None:
    print(message, flush=True)


@dataclass
class Bench:
    """The set-up: the chain, the data directory and its database."""

    url: str
    home: Path
    db_path: Path
    deployment: Any
    env: dict[str, str]

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.db_path}"


def set_up(work: Path, url: str) -> Bench:
    """Deploy, admit, fund, and index once (as `scf index sync`)."""
    from ledger.config import load_settings
    from ledger.evm.accounts import DEV_NAMES, dev_account
    from ledger.evm.chain import connect
    from ledger.evm.compiler import compile_contracts
    from ledger.evm.deploy import deploy
    from ledger.indexer import sync
    from ledger.lifecycle import Ledger, parse_roles

    home = work / "home"
    cache = ROOT / ".pytest_cache" / "scf-artifacts"
    if cache.is_dir() and not (home / "artifacts").exists():
        shutil.copytree(cache, home / "artifacts")
    db_path = work / "ledger.db"
    settings = load_settings(home=str(home), rpc_url=url, db_url=f"sqlite:///{db_path}")
    build, _ = compile_contracts(settings)
    w3 = connect(url)
    operator = dev_account(DEV_NAMES.index("operator"))
    deployment = deploy(settings, w3, build, operator)
    ledger = Ledger(settings, w3, deployment)
    until = dt.date.today() + dt.timedelta(days=3 * 365)
    for name, account, role in (
        (SUPPLIER_NAME, "supplier", "supplier"),
        (BUYER_NAME, "buyer", "buyer"),
        (FINANCIER_NAME, "financier", "financier"),
    ):
        ledger.add_participant(operator, name, dev_account(DEV_NAMES.index(account)).address, parse_roles(role), until)
    ledger.mint(operator, dev_account(DEV_NAMES.index("financier")).address, "100000000.00", "HKD")
    ledger.mint(operator, dev_account(DEV_NAMES.index("buyer")).address, "100000000.00", "HKD")
    sync(settings, deployment)
    # Not PYTHONDONTWRITEBYTECODE: start-ups from cached bytecode, as an installed scf (see the docstring).
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCF_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(SCF_HOME=str(home), SCF_RPC_URL=url, SCF_DB_URL=f"sqlite:///{db_path}")
    return Bench(url, home, db_path, deployment, env)


def _settings(bench: Bench) -> Any:
    from ledger.config import load_settings

    return load_settings(home=str(bench.home), rpc_url=bench.url, db_url=bench.db_url)


def _due() -> dt.date:
    return dt.date.today() + dt.timedelta(days=DAYS)


# -- time to finance, in one process ---------------------------------------------------------
def in_process_finance(bench: Bench, number: str) -> float:
    """Seconds from issuing an invoice to reading it back from the database
    as Financed, through the services in this process."""
    from ledger.db.session import get_engine
    from ledger.evm.accounts import DEV_NAMES, dev_account
    from ledger.evm.chain import connect
    from ledger.finance.policy import load_policy
    from ledger.finance.service import Desk
    from ledger.indexer import sync
    from ledger.lifecycle import Ledger
    from ledger.queries import show_invoice

    settings = _settings(bench)
    ledger = Ledger(settings, connect(bench.url), bench.deployment)
    policy = load_policy(POLICY)
    desk = Desk(settings, ledger)
    supplier, buyer, financier = (dev_account(DEV_NAMES.index(n)) for n in ("supplier", "buyer", "financier"))
    began = time.perf_counter()
    invoice_id = int(ledger.issue(supplier, BUYER_NAME, number, AMOUNT, "HKD", _due(), None)["invoice_id"])
    sync(settings, bench.deployment)  # as --sync does after each change on the dev chain
    ledger.confirm(buyer, invoice_id)
    sync(settings, bench.deployment)
    ledger.offer(supplier, invoice_id, FINANCIER_NAME, "40000.00", 7)
    sync(settings, bench.deployment)
    decision = desk.quote(invoice_id, financier.address, policy)
    if decision["status"] != "approved":
        raise SystemExit(f"the example policy did not approve invoice {invoice_id}: {decision.get('reason')}")
    desk.execute(int(decision["decision_id"]), financier)
    with get_engine(settings.database_url).connect() as conn:
        status = show_invoice(conn, desk.scope, invoice_id)["status"]
    elapsed = time.perf_counter() - began
    if status != "Financed":
        raise SystemExit(f"invoice {invoice_id} reads {status} in the database after execute, not Financed")
    return elapsed


# -- the same with the CLI ---------------------------------------------------------------------
def scf(bench: Bench, *args: str, check: bool = True) -> tuple[float, subprocess.CompletedProcess[str]]:
    """`scf ARGS` in a child process: its wall time and its result."""
    began = time.perf_counter()
    done = subprocess.run(
        [SCF, *args], capture_output=True, text=True, env=bench.env, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=120
    )
    wall = time.perf_counter() - began
    if check and done.returncode != 0:
        raise SystemExit(f"scf {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    return wall, done


def cli_finance(bench: Bench, number: str) -> tuple[float, list[float]]:
    """The six steps as six commands: total wall time and each one's."""
    walls = []
    wall, done = scf(
        bench, "invoice", "issue", "--buyer", BUYER_NAME, "--number", number, "--amount", AMOUNT,
        "--due", _due().isoformat(), "--as", "supplier", "--json",
    )  # fmt: skip
    walls.append(wall)
    invoice_id = str(json.loads(done.stdout)["invoice_id"])
    walls.append(scf(bench, "invoice", "confirm", invoice_id, "--as", "buyer")[0])
    walls.append(
        scf(
            bench,
            "invoice",
            "offer",
            invoice_id,
            "--to",
            FINANCIER_NAME,
            "--min-advance",
            "40000.00",
            "--as",
            "supplier",
        )[0]  # fmt: skip
    )
    wall, done = scf(bench, "finance", "quote", invoice_id, "--as", "financier", "--policy", str(POLICY), "--json")
    walls.append(wall)
    decision = json.loads(done.stdout)
    if decision["status"] != "approved":
        raise SystemExit(f"the example policy did not approve invoice {invoice_id}: {decision.get('reason')}")
    walls.append(scf(bench, "finance", "execute", str(decision["decision_id"]), "--as", "financier")[0])
    wall, done = scf(bench, "invoice", "show", invoice_id, "--json")
    walls.append(wall)
    if json.loads(done.stdout)["status"] != "Financed":
        raise SystemExit(f"`scf invoice show {invoice_id}` does not read Financed: {done.stdout[:200]}")
    return sum(walls), walls


# -- start-up ----------------------------------------------------------------------------------
def python_wall(bench: Bench, code: str) -> float:
    began = time.perf_counter()
    # Not in the repository: `python -c` puts its working directory first on the path.
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=bench.env, cwd=bench.home)
    return time.perf_counter() - began


def refused_signing(bench: Bench) -> float:
    """A signing command refused before it sends anything: no invoice 999999."""
    wall, done = scf(bench, "invoice", "confirm", "999999", "--as", "buyer", check=False)
    if done.returncode == 0 or "Traceback" in done.stderr:
        raise SystemExit(f"`scf invoice confirm 999999` was not refused cleanly: {done.stderr.strip()}")
    return wall


def cold_list(bench: Bench) -> float:
    wall, done = scf(bench, "invoice", "list", "--json")
    json.loads(done.stdout)
    return wall


def compared(bench: Bench, source: Path) -> Bench:
    """The same chain and data directory with the ``ledger`` package of
    ``source`` (first on the path) and a database it indexed itself (its
    schema may be another revision's)."""
    db_path = bench.db_path.with_name("compared.db")
    env = {**bench.env, "PYTHONPATH": str(source), "SCF_DB_URL": f"sqlite:///{db_path}"}
    other = Bench(bench.url, bench.home, db_path, bench.deployment, env)
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", "import ledger, sys; sys.stdout.write(ledger.__file__)"],
        capture_output=True, text=True, env=env, cwd=bench.home, check=True,
    )  # fmt: skip
    if not Path(done.stdout).is_relative_to(source.resolve()):
        raise SystemExit(f"--compare-source {source}: ledger was imported from {done.stdout}, not from there")
    scf(other, "index", "sync")
    log(f"compared source: {source} (ledger from {done.stdout}), its database indexed in "
        f"{time.perf_counter() - began:.1f}s")  # fmt: skip
    return other


def start_round(bench: Bench) -> tuple[float, float, float, float, float]:
    """One paired round of start-ups: the refused signing command and
    `import web3`, `scf invoice list --json` and `import sqlalchemy, click`,
    and `import ledger.cli` alone."""
    signing, web3 = refused_signing(bench), python_wall(bench, "import web3")
    listing, base = cold_list(bench), python_wall(bench, "import sqlalchemy, click")
    return signing, web3, listing, base, python_wall(bench, "import ledger.cli")


def start_rounds(benches: dict[str, Bench], rounds: int) -> dict[str, str]:
    """Only the start-up figures, in ``rounds`` paired rounds of every tree in
    ``benches`` (by figure suffix: "" for this one, "_compared"), one tree
    right after the other; each figure the median of its rounds."""
    for bench in benches.values():  # untimed: the bytecode is cached
        start_round(bench)
    seen: dict[str, list[tuple[float, ...]]] = {suffix: [] for suffix in benches}
    for n in range(1, rounds + 1):
        for suffix, bench in benches.items():
            signing, web3, listing, base, cli = start_round(bench)
            seen[suffix].append((signing / web3, listing / base, cli))
            log(
                f"round {n}{suffix}: refused signing command {signing:.3f}s vs import web3 {web3:.3f}s "
                f"({signing / web3:.2f}); invoice list {listing:.3f}s vs import sqlalchemy, click {base:.3f}s "
                f"({listing / base:.2f}); import ledger.cli {cli:.3f}s"
            )
    figures: dict[str, str] = {}
    for suffix, values in seen.items():
        figures[f"cli_start_ratio{suffix}"] = f"{statistics.median(v[0] for v in values):.2f}"
        figures[f"cold_start_ratio{suffix}"] = f"{statistics.median(v[1] for v in values):.2f}"
        figures[f"import_cli_s{suffix}"] = f"{statistics.median(v[2] for v in values):.3f}"
    return figures


# -- follow ------------------------------------------------------------------------------------
class Follow:
    """`scf index follow` with default settings, in a child process stopped by its PID."""

    def __init__(self, bench: Bench, options: list[str]) -> None:
        self.errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        self.proc = subprocess.Popen(
            [SCF, "index", "follow", *options],
            stdout=subprocess.DEVNULL,
            stderr=self.errors,
            stdin=subprocess.DEVNULL,
            env=bench.env,
            cwd=ROOT,
        )

    def stderr(self) -> str:
        self.errors.seek(0)
        return self.errors.read().decode(errors="replace")

    def stop(self) -> tuple[int, float]:
        """SIGTERM; its exit code and how long it took to stop."""
        began = time.perf_counter()
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode, time.perf_counter() - began

    def close(self) -> None:
        self.errors.close()


def follow_latencies(bench: Bench, count: int, options: list[str]) -> tuple[list[float], str]:
    """Receipt -> row readable, in seconds, for ``count`` issues sent one at a time."""
    from ledger.evm.accounts import DEV_NAMES, dev_account

    supplier = dev_account(DEV_NAMES.index("supplier"))
    buyer = dev_account(DEV_NAMES.index("buyer")).address
    invoices = bench.deployment.contracts["InvoiceToken"].address
    currency = bench.deployment.currencies["HKD"].address
    due = int(dt.datetime.combine(_due(), dt.time(), tzinfo=dt.UTC).timestamp())
    rpc = RpcClient(bench.url)
    nonce = int(rpc.call("eth_getTransactionCount", [supplier.address, "pending"]), 16)
    # Numbers FOLLOW-n cannot meet the rounds' (the contract refuses a number twice).
    # Numbers BENCH1000001... cannot meet the rounds' (the contract refuses a number twice).
    raw = _sign_chunk((supplier.key, nonce - 1_000_000, 1_000_000, count + 1, invoices, currency, buyer, due))
    rng = random.Random(18)
    follow = Follow(bench, options)
    db = sqlite3.connect(f"file:{bench.db_path}?mode=ro", uri=True, isolation_level=None)
    latencies: list[float] = []
    try:
        # The first transaction is not timed: once its row is there, follow is running and caught up.
        for tx in raw:
            tx_hash = rpc.call("eth_sendRawTransaction", [tx])
            while (receipt := rpc.call("eth_getTransactionReceipt", [tx_hash])) is None:
                time.sleep(0.001)
            began = time.perf_counter()
            if int(receipt["status"], 16) != 1:
                raise SystemExit(f"transaction {tx_hash} reverted")
            deadline = time.monotonic() + FOLLOW_TIMEOUT
            while db.execute("SELECT 1 FROM events WHERE tx_hash = ? LIMIT 1", (tx_hash,)).fetchone() is None:
                if time.monotonic() > deadline or follow.proc.poll() is not None:
                    raise SystemExit(f"follow did not index {tx_hash} in {FOLLOW_TIMEOUT:.0f}s: {follow.stderr()}")
                time.sleep(0.001)
            latencies.append(time.perf_counter() - began)
            # Not in step with follow's loop: the next transaction comes a random moment later.
            time.sleep(rng.uniform(0.0, PAUSE))
        latencies = latencies[1:]
    finally:
        db.close()
        rpc.close()
        code, seconds = follow.stop()
    notes = follow.stderr().strip()
    follow.close()
    if code != 0:
        raise SystemExit(f"scf index follow exited {code} on SIGTERM: {notes}")
    return latencies, f"{notes or 'no notice'} (stopped by SIGTERM in {seconds:.2f}s)"


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1), nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def _spread(values: list[float], unit: str = "s", digits: int = 3) -> str:
    return ", ".join(f"{v:.{digits}f}{unit}" for v in values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--txs", type=int, default=200, help="transactions for the follow latency (default 200)")
    parser.add_argument("--quick", action="store_true", help="2 rounds (the follow latency still over --txs)")
    parser.add_argument("--only", choices=["follow", "start"], help="measure only this")
    parser.add_argument(
        "--compare-source",
        type=Path,
        metavar="DIR",
        help="with --only start: time the start-ups with the ledger package of DIR too (figures *_compared)",
    )
    parser.add_argument(
        "--follow-option",
        action="append",
        default=[],
        metavar="OPTION",
        help="pass OPTION to `scf index follow` (repeatable), to compare with the defaults, "
        "e.g. --follow-option=--ws-url=off; the figures then carry no target",
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds = min(args.rounds, 2)
    if args.rounds < 1 or args.txs < 1:
        parser.error("--rounds and --txs must be at least 1")
    if args.compare_source is not None and (args.only != "start" or not (args.compare_source / "ledger").is_dir()):
        parser.error("--compare-source DIR needs --only start and a ledger package in DIR")

    from ledger.evm.node import spawn_anvil

    work = Path(tempfile.mkdtemp(prefix="scf-bench-latency-"))
    anvil = spawn_anvil(ROOT / "node_modules", log_file=work / "anvil.log")
    try:
        began = time.perf_counter()
        bench = set_up(work, anvil.url)
        load = os.getloadavg()
        log(
            f"set-up: deployed, 3 parties admitted and funded, indexed in {time.perf_counter() - began:.1f}s; "
            f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
        )
        figures: dict[str, str] = {}
        if args.only == "start":
            benches = {"": bench}
            if args.compare_source is not None:
                benches["_compared"] = compared(bench, args.compare_source)
            for name, value in start_rounds(benches, args.rounds).items():
                log(f"{name}={value}")
            return 0
        if args.only is None:
            figures.update(rounds_of(bench, args.rounds))
        latencies, notes = follow_latencies(bench, args.txs, args.follow_option)
        log(f"follow: {notes}")
        ms = [x * 1000 for x in latencies]
        log(
            f"follow latency over {len(ms)} transactions: min {min(ms):.1f} ms, mean {statistics.mean(ms):.1f} ms, "
            f"max {max(ms):.1f} ms"
        )
        # Figures of a follow not on its defaults are named so, to be no stand-in for the target's.
        suffix = "_with_options" if args.follow_option else ""
        if args.follow_option:
            log(f"follow options: {' '.join(args.follow_option)} (not the defaults)")
        log(f"first latencies: {_spread(ms[:5], ' ms', 1)}")
        figures[f"follow_p50_ms{suffix}"] = f"{percentile(ms, 0.50):.1f}"
        figures[f"follow_p95_ms{suffix}"] = f"{percentile(ms, 0.95):.1f}"
        for name, value in figures.items():
            log(f"{name}={value}")
        return 0
    finally:
        anvil.stop()
        shutil.rmtree(work, ignore_errors=True)


def rounds_of(bench: Bench, rounds: int) -> dict[str, str]:
    """The interleaved rounds of everything but follow; each figure the median of its rounds."""
    inproc: list[float] = []
    cli: list[float] = []
    start: list[float] = []
    cold: list[float] = []
    # A service process runs warm: the first financing in this one pays for imports and caches.
    log(f"warm-up (not timed): one financing in this process took {in_process_finance(bench, 'TTF-WARM'):.3f}s")
    start_round(bench)  # not timed either: the child processes' bytecode is cached
    for n in range(1, rounds + 1):
        inproc.append(in_process_finance(bench, f"TTF-P-{n}"))
        total, steps = cli_finance(bench, f"TTF-C-{n}")
        cli.append(total)
        signing, web3 = refused_signing(bench), python_wall(bench, "import web3")
        start.append(signing / web3)
        listing, base = cold_list(bench), python_wall(bench, "import sqlalchemy, click")
        cold.append(listing / base)
        log(
            f"round {n}: in one process {inproc[-1]:.3f}s; six commands {total:.2f}s ({_spread(steps, 's', 2)}); "
            f"refused signing command {signing:.3f}s vs import web3 {web3:.3f}s ({start[-1]:.2f}); "
            f"invoice list {listing:.3f}s vs import sqlalchemy, click {base:.3f}s ({cold[-1]:.2f})"
        )
    return {
        "time_to_finance_s": f"{statistics.median(inproc):.3f}",
        "cli_time_to_finance_s": f"{statistics.median(cli):.2f}",
        "cli_start_ratio": f"{statistics.median(start):.2f}",
        "cold_start_ratio": f"{statistics.median(cold):.2f}",
    }


if __name__ == "__main__":
    sys.exit(main())
