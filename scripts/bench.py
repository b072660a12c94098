#!/usr/bin/env python3
"""The performance table: every benchmark of the project in one run, one
`name=value` line per figure at the end.

It runs the project's benchmark scripts one after the other, each as a
child process with its own Anvil (and its own throw-away PostgreSQL where it
needs one, started and stopped by PID by scripts/pgtmp.py), prints their
output as it comes (each line prefixed with the script's name), and reads
back the `name=value` lines they end with:

  gas.py             gas per lifecycle step, next to an OpenZeppelin ERC-721
                     mint measured in the same run (issue_vs_mint);
  bench_intake.py    issuance_ratio (`scf invoice import` over pre-signed
                     transfers, paired rounds' median);
  bench_latency.py   time_to_finance_s (in one process), cli_time_to_finance_s
                     (six `scf` commands), cli_start_ratio, cold_start_ratio,
                     follow_p50_ms, follow_p95_ms (200 transactions,
                     `scf index follow` on its defaults);
  bench_indexer.py   sqlite_ratio, postgres_ratio, indexer_growth (paired
                     rounds' medians);
  bench_growth.py    list_page_growth, aging_growth (the same queries at
                     1,000,000 invoices and at 10,000);
  bench_api.py       api_p99_ms (p99 of a filtered page under 16 clients).

Each ratio is measured side by side within its script's rounds (this
machine's speed drifts 20% and more, so only paired figures compare) and is
the median of its rounds' paired ratios. The machine should be otherwise
idle: other work moves every absolute figure, and the ratios less but
still.

--quick is a smoke run (under 2 minutes on an idle 2-core machine, under
2.5 on a loaded one; the issue allows 3): each script's quick mode, smaller
sizes named in the figures that depend on them (`indexer_growth_100k`,
`list_page_growth_100k_vs_10k`, `api_p99_ms_10k_sqlite`), and notes saying
so; its figures are no substitute for the full run's (about 30 minutes).

The scripts' child processes (`scf` commands, servers) run from cached
bytecode, as an installed `scf` does: PYTHONDONTWRITEBYTECODE is not passed
on. The last line is the run's wall time.

    .venv/bin/python scripts/bench.py            # the full table
    .venv/bin/python scripts/bench.py --quick    # a smoke run
    .venv/bin/python scripts/bench.py --only latency,gas
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"
#: A figure line of a script: `name=value`, the value up to the first space.
FIGURE = re.compile(r"^([a-z][a-z0-9_]*)=(\S+)")


@dataclass
class Part:
    name: str
    script: str
    full: list[str]
    quick: list[str]
    #: The figures of the table this part gives (regular expressions on their names).
    figures: list[str]
    notes: list[str] = field(default_factory=list)


PARTS = [
    Part(
        "gas",
        "gas.py",
        [],
        [],
        [
            r"gas_erc721_mint",
            r"gas_issue",
            r"issue_vs_mint",
            r"gas_confirm",
            r"gas_offer",
            r"gas_approve",
            r"gas_finance",
            r"gas_repay_partial",
            r"gas_repay",
        ],
    ),
    Part(
        "intake",
        "bench_intake.py",
        [],
        ["--quick"],
        [r"issuance_ratio"],
        ["--quick: issuance_ratio from 1,000 rows and 1 round (start-up weighs more than at 10,000)"],
    ),
    Part(
        "latency",
        "bench_latency.py",
        [],
        ["--quick", "--txs", "100"],
        [
            r"time_to_finance_s",
            r"cli_time_to_finance_s",
            r"cli_start_ratio",
            r"cold_start_ratio",
            r"follow_p50_ms",
            r"follow_p95_ms",
        ],
        [
            "--quick: 2 rounds instead of 5; follow_p50_ms and follow_p95_ms over 100 transactions, not 200 "
            "(the p95 is the 5th slowest)"
        ],
    ),
    Part(
        "indexer",
        "bench_indexer.py",
        [],
        ["--quick"],
        [r"sqlite_ratio", r"postgres_ratio", r"indexer_growth\w*"],
        ["--quick: 5,000 events instead of 100,000, 3 rounds, indexer_growth over 100,000 events, not 1,000,000"],
    ),
    Part(
        "growth",
        "bench_growth.py",
        [],
        ["--quick"],
        [r"list_page_growth\w*", r"aging_growth\w*"],
        ["--quick: 100,000 invoices against 10,000, not 1,000,000, and 2 rounds"],
    ),
    Part(
        "api",
        "bench_api.py",
        [],
        ["--sizes", "10000", "--rounds", "1", "--seconds", "2", "--warmup", "1", "--backends", "sqlite"],
        [r"api_p99_ms_\w+"],
        ["--quick: api_p99_ms at 10,000 invoices on SQLite only, 1 round of 2 s (the target is at 1,000,000)"],
    ),
]

#: The table: figure (a regular expression on its name), target, what it is.
TARGETS = [
    (r"issuance_ratio", ">= 0.5", "`scf invoice import` (10,000 rows) over pre-signed transfers"),
    (r"time_to_finance_s", "< 1", "issue to financed in the database, services in one process"),
    (r"cli_time_to_finance_s", "", "the same as six `scf` commands"),
    (r"cli_start_ratio", "<= 1.2", "a signing command refused before sending / `import web3`"),
    (r"issue_vs_mint", "<= 2.75", "gas of issue / an OpenZeppelin ERC-721 mint"),
    (r"gas_\w+", "", "gas"),
    (r"list_page_growth", "<= 2", "a page of 50 filtered invoices, 1,000,000 / 10,000 invoices"),
    (r"list_page_growth\w*", "", "the same, at the sizes named"),
    (r"aging_growth", "<= 2", "the aging report, 1,000,000 / 10,000 invoices"),
    (r"aging_growth\w*", "", "the same, at the sizes named"),
    (r"cold_start_ratio", "<= 2", "`scf invoice list --json` / `import sqlalchemy, click`"),
    (r"api_p99_ms_1m\w*", "< 100", "p99 of a filtered page at 1,000,000 invoices, 16 clients"),
    (r"api_p99_ms\w*", "", "p99 of a filtered page, 16 clients"),
    (r"sqlite_ratio", ">= 0.5", "`scf index sync` into SQLite / raw eth_getLogs"),
    (r"postgres_ratio", ">= 0.35", "`scf index sync` into PostgreSQL / raw eth_getLogs"),
    (r"indexer_growth", ">= 0.8", "sync into a database holding 1,000,000 events / into an empty one"),
    (r"indexer_growth\w*", "", "sync into a database holding events / into an empty one"),
    (r"follow_p50_ms", "< 300", "`scf index follow` (defaults): receipt to row, p50 (of 200; quick: 100)"),
    (r"follow_p95_ms", "", "the same, p95"),
]


def log(message: str) -> None:
    print(message, flush=True)


def run_part(part: Part, quick: bool) -> tuple[dict[str, str], float, int]:
    """Run one script, echoing its output; its figures, wall time and exit code."""
    command = [sys.executable, str(SCRIPTS / part.script), *(part.quick if quick else part.full)]
    log(f"[{part.name}] $ {' '.join(Path(c).name if i < 2 else c for i, c in enumerate(command))}")
    began = time.perf_counter()
    figures: dict[str, str] = {}
    # Start-ups from cached bytecode, as an installed scf (see the docstring).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            log(f"[{part.name}] {line.rstrip()}")
            found = FIGURE.match(line.strip())
            if found:
                figures[found.group(1)] = found.group(2)
        code = proc.wait()
    except BaseException:
        # Ctrl-C or a failure here: the child (our own, by its PID) stops too, and its own
        # clean-up stops what it started (Anvil, PostgreSQL) by their PIDs.
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        raise
    return figures, time.perf_counter() - began, code


def wanted(figures: dict[str, str], patterns: list[str]) -> dict[str, str]:
    """The figures whose names match a pattern, in the patterns' order."""
    chosen: dict[str, str] = {}
    for pattern in patterns:
        for name, value in figures.items():
            if re.fullmatch(pattern, name) and name not in chosen:
                chosen[name] = value
    return chosen


def target_of(name: str) -> tuple[str, str]:
    for pattern, target, what in TARGETS:
        if re.fullmatch(pattern, name):
            return target, what
    return "", ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="each script's smoke run (about 80 s on an idle 2-core machine)"
    )
    parser.add_argument(
        "--only",
        metavar="PARTS",
        help=f"comma-separated, of: {', '.join(p.name for p in PARTS)} (default all)",
    )
    parser.add_argument(
        "--install-postgres", action="store_true", help="let pgtmp apt-get install PostgreSQL (indexer, api)"
    )
    args = parser.parse_args()
    names = [p.name for p in PARTS]
    chosen = names if args.only is None else [n.strip() for n in args.only.split(",") if n.strip()]
    if not chosen or any(n not in names for n in chosen):
        parser.error(f"--only takes some of: {', '.join(names)}")
    parts = [p for p in PARTS if p.name in chosen]
    if args.install_postgres:
        for part in parts:
            if part.name in ("indexer", "api"):
                part.full = [*part.full, "--install-postgres"]
                part.quick = [*part.quick, "--install-postgres"]

    load = os.getloadavg()
    log(
        f"bench: {'quick' if args.quick else 'full'} run of {', '.join(chosen)}; {os.cpu_count()} cores, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (figures need an otherwise idle machine)"
    )
    began = time.perf_counter()
    table: dict[str, str] = {}
    timings: list[str] = []
    failed: list[str] = []
    notes: list[str] = []
    for part in parts:
        figures, seconds, code = run_part(part, args.quick)
        timings.append(f"{part.name} {seconds:.0f}s")
        if code != 0:
            failed.append(f"{part.name} (exit {code})")
        table.update(wanted(figures, part.figures))
        if args.quick:
            notes += part.notes
    total = time.perf_counter() - began

    log("")
    log(f"bench: {total:.0f}s in all ({', '.join(timings)})")
    log("")
    log("| figure | value | target | what |")
    log("| --- | --- | --- | --- |")
    for name, value in table.items():
        target, what = target_of(name)
        log(f"| {name} | {value} | {target} | {what} |")
    log("")
    for note in notes:
        log(f"note: {note}")
    if failed:
        log(f"note: failed: {', '.join(failed)} (their figures are missing)")
    for name, value in table.items():
        log(f"{name}={value}")
    log(f"bench: {'quick' if args.quick else 'full'} run, {total:.0f}s wall time in all")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
