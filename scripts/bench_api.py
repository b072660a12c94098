#!/usr/bin/env python3
"""HTTP API benchmark: how fast does `scf serve` list invoices from a ledger
of 10,000 and of 1,000,000 invoices, under 16 concurrent clients?

For each backend (SQLite, and PostgreSQL on a throw-away server from
scripts/pgtmp.py, stopped by its PID) and each size, it writes a fresh
ledger database straight through the real schema (the migrations, then
Core bulk inserts of the projections: COPY on PostgreSQL, executemany on
SQLite; no chain, no indexer): 50 suppliers, 20 buyers and 5 financiers
in the registry, a cursor and its head block, a deployment record in the
data directory, and N invoices issued over two years, their due dates 30
to 120 days later, their statuses by age (mostly Paid, Confirmed and
Financed; some listed for financing). PostgreSQL gets ANALYZE, as
autovacuum would give it after a bulk load; SQLite gets none, as scf never
runs it. Then it serves every size's ledger at once with the real app
(`ledger.api.app.create_app` under uvicorn, one process each, 127.0.0.1, a
free port, stopped by its PID), makes an operator key and a buyer's key
(`ledger.api.keys.create_key`), checks each case answers 200 with a full
page (a 401 or an empty page would be fast and mean nothing), and loads
each with Debian's `wrk` (16 connections, 2 threads; a Lua script sends the
key and reports the latency percentiles of every request):

  health      GET /api/health (no auth, no database): the server's own ceiling;
  status      GET /api/invoices?status=Financed&limit=50 as the operator
              (the filtered list: the headline figures);
  buyer       GET /api/invoices?limit=50 as a buyer (its scoped view: the
              visibility condition over holder, seller and buyer);
  deep        the status case from a cursor 90% into the ledger (keyset).

It runs --rounds rounds; in each, every case runs --seconds on each size,
one right after the other (after a 1 s warm-up in the first round), so the
two ratios are paired within a round: p99 growth (the status case's p99 at
the largest size over the smallest) and requests/s of the status case over
health's on the same server. This machine's speed drifts 20% and more, and
other work on it moves the absolute figures further; each figure is the
median of its rounds, and every round is printed. The machine (2 cores
here) runs wrk, the server and PostgreSQL at once. --explain prints the
query plans of the cases' invoice queries, caught from the app's own engine.

The run ends with one `name=value` per figure and backend (suffix
`_sqlite`, `_pg`): `api_p50_ms_1m`, `api_p99_ms_1m` and `api_p99_ms_10k`
of the status case, `api_p99_growth` (1m/10k) and `api_rps_ratio` (status
requests/s / health requests/s, at 1m). --quick names the sizes it ran
(10k, 100k). Targets: p99 under 100 ms at 1M, growth at most 2x.

    .venv/bin/python scripts/bench_api.py             # 10,000 and 1,000,000 invoices, 3 rounds of 4 s (~8 min)
    .venv/bin/python scripts/bench_api.py --quick     # 10,000 and 100,000, 2 rounds of 3 s (~2 min)
    .venv/bin/python scripts/bench_api.py --explain --backends pg --sizes 1000000 --rounds 1
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from ledger.evm.node import free_port, pid_alive  # noqa: E402 - after the path set-up

CHAIN_ID = 31337
SUPPLIERS, BUYERS, FINANCIERS = 50, 20, 5
#: Rows per bulk insert (one COPY or executemany each).
CHUNK = 20_000
#: How long the ledger runs: invoices are issued over the two years before NOW.
SPAN = dt.timedelta(days=730)
CONNECTIONS, THREADS = 16, 2
#: The app uvicorn serves, as module:function taking Settings (--app).
APP_FACTORY = "ledger.api.app:create_app"
#: Role bits of the registry (ledger.names.ROLE_BITS).
SUPPLIER_ROLE, BUYER_ROLE, FINANCIER_ROLE = 1, 2, 4

WRK_SCRIPT = r"""
-- Sends the key in $BENCH_KEY (if any) and prints wrk's figures for every
-- request as `BENCH name=value` lines.
local key = os.getenv("BENCH_KEY")
if key and key ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. key
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("BENCH p%s_us=%d\n", tostring(p), latency:percentile(p)))
  end
  io.write(string.format("BENCH max_us=%d mean_us=%.1f\n", latency.max, latency.mean))
end
"""


def log(message: str) -> None:
    print(message, flush=True)


# -- the ledger ------------------------------------------------------------------------------
def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def address(kind: str, n: int) -> str:
    """A stable checksummed address for party ``kind`` number ``n``."""
    from ledger.names import checksum

    return checksum("0x" + hashlib.sha256(f"{kind}:{n}".encode()).hexdigest()[:40])


@dataclass
class Parties:
    suppliers: list[str]
    buyers: list[str]
    financiers: list[str]
    #: Invoices are spread over suppliers and buyers with these cumulative
    #: weights (1/rank^0.7: a few big ones, a long tail).
    supplier_weights: list[float]
    buyer_weights: list[float]
    invoice_contract: str = field(default_factory=lambda: address("contract", 1))
    registry_contract: str = field(default_factory=lambda: address("contract", 2))
    currency: str = field(default_factory=lambda: address("contract", 3))

    @classmethod
    def make(cls) -> Parties:
        return cls(
            [address("supplier", i) for i in range(SUPPLIERS)],
            [address("buyer", i) for i in range(BUYERS)],
            [address("financier", i) for i in range(FINANCIERS)],
            _cumulative([1 / (i + 1) ** 0.7 for i in range(SUPPLIERS)]),
            _cumulative([1 / (i + 1) ** 0.7 for i in range(BUYERS)]),
        )

    def names(self) -> Iterator[tuple[str, str, int]]:
        for i, a in enumerate(self.suppliers):
            yield a, f"Supplier {i + 1:02d} Trading Ltd", SUPPLIER_ROLE
        for i, a in enumerate(self.buyers):
            yield a, f"Buyer {i + 1:02d} Holdings Ltd", BUYER_ROLE
        for i, a in enumerate(self.financiers):
            yield a, f"Financier {i + 1} Bank", FINANCIER_ROLE

    def bench_buyer(self) -> str:
        """The buyer whose key loads its scoped view: one of middling size (the 6th of 20)."""
        return self.buyers[5]


#: Statuses by the invoice's age: due date passed (settled, mostly) or not (open, mostly).
PAST_DUE = [
    ("Paid", 88),
    ("Cancelled", 4),
    ("PartiallyPaid", 1.5),
    ("Defaulted", 1.5),
    ("WrittenOff", 1),
    ("Financed", 1),
    ("Confirmed", 1),
    ("Disputed", 1),
    ("Issued", 1),
]
NOT_DUE = [
    ("Issued", 12),
    ("Confirmed", 32),
    ("Financed", 38),
    ("PartiallyPaid", 4),
    ("Paid", 8),
    ("Disputed", 2),
    ("Cancelled", 4),
]
#: Statuses whose invoice was financed (or in part: some of them).
FINANCED_SHARE = {"Financed": 1.0, "PartiallyPaid": 0.5, "Paid": 0.5, "Defaulted": 0.6, "WrittenOff": 0.6}


class InvoiceMaker:
    """Invoice rows 1..N, as the indexer would have folded them, deterministic for a seed."""

    def __init__(self, parties: Parties, count: int, now: dt.datetime, seed: int = 16) -> None:
        self.p = parties
        self.count = count
        self.now = now
        self.rand = random.Random(seed)
        self.start = now - SPAN
        self.step = SPAN / max(count, 1)
        self.by_age = {
            past: ([s for s, _ in table], _cumulative([float(w) for _, w in table]))
            for past, table in ((True, PAST_DUE), (False, NOT_DUE))
        }
        self.supplier_index = range(SUPPLIERS)

    def rows(self, first: int, last: int) -> list[dict[str, Any]]:
        """Invoices ``first``..``last`` (inclusive)."""
        return [self.row(i) for i in range(first, last + 1)]

    def row(self, i: int) -> dict[str, Any]:  # noqa: PLR0915 - one row, field by field
        r, p, now = self.rand, self.p, self.now
        s = r.choices(self.supplier_index, cum_weights=p.supplier_weights)[0]
        supplier = p.suppliers[s]
        buyer = r.choices(p.buyers, cum_weights=p.buyer_weights)[0]
        issued_at = self.start + self.step * i
        issued_block = 1_000 + i
        due_at = (issued_at + dt.timedelta(days=r.randint(30, 120))).replace(hour=15, minute=59, second=59)
        statuses, weights = self.by_age[due_at < now]
        status = r.choices(statuses, cum_weights=weights)[0]
        amount = r.randint(1_000, 500_000) * 100 + r.randint(0, 99)
        paid = {"Paid": amount, "PartiallyPaid": amount * 2 // 5}.get(status, 0)
        financed = r.random() < FINANCED_SHARE.get(status, 0.0)
        financier = r.choice(p.financiers) if financed else None
        later = issued_at + dt.timedelta(days=r.randint(1, 20))
        confirmed = status not in ("Issued", "Cancelled")
        number = f"INV-{s + 1:02d}-{i:07d}"
        row = {
            "chain_id": CHAIN_ID,
            "contract": p.invoice_contract,
            "invoice_id": i,
            "supplier": supplier,
            "buyer": buyer,
            "holder": None if status == "Cancelled" else (financier or supplier),
            "currency": p.currency,
            "amount": amount,
            "paid": paid,
            "outstanding": 0 if status in ("Cancelled", "WrittenOff") else amount - paid,
            "advance": amount * 95 // 100 if financed else 0,
            "financier": financier,
            "seller": supplier if financed else None,
            "financier_due": amount if financed else None,
            "financier_paid": paid if financed else 0,
            "reserve_released": 0,
            "status": status,
            "due_at": due_at,
            "due_date": due_at.date(),
            "number": number,
            "number_normalised": number.replace("-", ""),
            "doc_hash": f"0x{i:064x}",
            "issued_block": issued_block,
            "issued_at": issued_at,
            "confirmed_block": issued_block + 5 if confirmed else None,
            "confirmed_at": later if confirmed else None,
            "financed_block": issued_block + 10 if financed else None,
            "financed_at": later if financed else None,
            "paid_block": issued_block + 50 if status == "Paid" else None,
            "paid_at": due_at if status == "Paid" else None,
            "cancelled_block": issued_block + 3 if status == "Cancelled" else None,
            "cancelled_at": later if status == "Cancelled" else None,
            "last_repaid_at": due_at if paid else None,
            "offer_financier": None,
            "offer_min_advance": None,
            "offer_expires_at": None,
            "offer_recourse": None,
            "parent_id": None,
            "root_id": i,
            "depth": 0,
            "credited": 0,
            "recourse": False,
            "grace_period": 7 * 86_400 if financed else None,
            "disputed_from": "Confirmed" if status == "Disputed" else None,
            "proposed_due_at": None,
            "extensions": 0,
            "defaulted_block": issued_block + 60 if status in ("Defaulted", "WrittenOff") else None,
            "defaulted_at": due_at + dt.timedelta(days=8) if status in ("Defaulted", "WrittenOff") else None,
            "written_off": amount - paid if status == "WrittenOff" else 0,
            "recovered": 0,
            "updated_block": issued_block + 50,
            "updated_at": later,
        }
        if status == "Confirmed" and r.random() < 0.25:
            # Listed for financing: to one financier or to any, most still open.
            row["offer_financier"] = r.choice([None, *p.financiers])
            row["offer_min_advance"] = amount * 9 // 10
            row["offer_expires_at"] = now + dt.timedelta(days=r.randint(-5, 25))
            row["offer_recourse"] = False
        return row


def _abis() -> dict[str, list[dict[str, Any]]]:
    """The contracts' ABIs from the newest compiled build in the test cache (a
    deployment record carries them; `find_scope` reads the record), else none."""
    cache = ROOT / ".pytest_cache" / "scf-artifacts"
    builds = sorted(cache.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True) if cache.is_dir() else []
    for path in builds:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        artifacts = data.get("artifacts") if isinstance(data, dict) else None
        if isinstance(artifacts, dict) and "InvoiceToken" in artifacts:
            return {name: a.get("abi", []) for name, a in artifacts.items()}
    return {}


def write_deployment(home: Path, parties: Parties) -> Path:
    """A deployment record like `scf deploy` writes (contracts, HKD with 2 decimals)."""
    from ledger.config import Settings
    from ledger.deployment import CONTRACT_VERSION, Currency, DeployedContract, Deployment, save_deployment

    abis = _abis()
    names = ["ParticipantRegistry", "InvoiceNumbers", "Settlement", "Remedies", "Intake", "InvoiceToken"]
    contracts = {
        name: DeployedContract(address(f"contract:{name}", 0), 10 + n, f"0x{n:064x}", "0" * 64, abis.get(name, []))
        for n, name in enumerate(names)
    }
    contracts["ParticipantRegistry"].address = parties.registry_contract
    contracts["InvoiceToken"].address = parties.invoice_contract
    contracts["SettlementToken:HKD"] = DeployedContract(
        parties.currency, 9, f"0x{99:064x}", "0" * 64, abis.get("SettlementToken", [])
    )
    deployment = Deployment(
        chain_id=CHAIN_ID,
        deployed_at=(dt.datetime.now(dt.UTC) - SPAN).isoformat(timespec="seconds"),
        deployer=address("deployer", 0),
        build_key="0" * 64,
        compiler="0.8.37",
        evm_version="london",
        contracts=contracts,
        currencies={"HKD": Currency("HKD", parties.currency, 2, 9)},
        version=CONTRACT_VERSION,
        roles={r: address("deployer", 0) for r in ("admin", "operator", "currency_manager", "minter")},
    )
    return save_deployment(Settings(home=home), deployment)


def fill_ledger(
    url: str, home: Path, count: int, parties: Parties, maker: Any = None, now: dt.datetime | None = None
) -> dict[str, Any]:
    """A fresh ledger of ``count`` invoices at ``url`` (migrated, then bulk
    inserted), its deployment record under ``home``; returns timings. The
    rows come from ``maker`` (``rows(first, last)``; default an
    :class:`InvoiceMaker`), the ledger's time is ``now`` (default: now)."""
    from ledger.db import open_engine
    from ledger.db.models import BLOCKS, CURSORS, INVOICES, PARTICIPANTS
    from ledger.indexer.bulk import BulkInsert

    now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)
    write_deployment(home, parties)
    began = time.perf_counter()
    engine = open_engine(url)
    try:
        head = 1_000 + count + 100
        with engine.begin() as conn:
            conn.execute(
                PARTICIPANTS.insert(),
                [
                    {
                        "chain_id": CHAIN_ID,
                        "contract": parties.registry_contract,
                        "address": a,
                        "name": name,
                        "roles": roles,
                        "kyc_expiry": now + dt.timedelta(days=365),
                        "suspended": False,
                        "admitted_block": 20,
                        "admitted_at": now - SPAN,
                        "updated_block": 20,
                        "updated_at": now - SPAN,
                    }
                    for a, name, roles in parties.names()
                ],
            )
            conn.execute(
                CURSORS.insert(),
                {
                    "chain_id": CHAIN_ID,
                    "key": hashlib.sha256(parties.invoice_contract.encode()).hexdigest(),
                    "contracts": {
                        "InvoiceToken": parties.invoice_contract,
                        "ParticipantRegistry": parties.registry_contract,
                    },
                    "invoice_contract": parties.invoice_contract,
                    "registry_contract": parties.registry_contract,
                    "start_block": 9,
                    "block_number": head,
                    "block_hash": f"0x{head:064x}",
                    "head_number": head,
                    "updated_at": now,
                },
            )
            conn.execute(
                BLOCKS.insert(),
                {
                    "chain_id": CHAIN_ID,
                    "number": head,
                    "hash": f"0x{head:064x}",
                    "parent_hash": f"0x{head - 1:064x}",
                    "timestamp": now,
                },
            )
        maker = maker or InvoiceMaker(parties, count, now)
        bulk = BulkInsert(INVOICES, [c.name for c in INVOICES.columns])
        made = inserted = 0.0
        for first in range(1, count + 1, CHUNK):
            t0 = time.perf_counter()
            rows = maker.rows(first, min(first + CHUNK - 1, count))
            t1 = time.perf_counter()
            with engine.begin() as conn:
                bulk.execute(conn, rows, known_new=True)
            made, inserted = made + t1 - t0, inserted + time.perf_counter() - t1
        t0 = time.perf_counter()
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        else:
            raw = engine.raw_connection()  # outside any transaction (the engine's begin takes the write lock)
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
        settled = time.perf_counter() - t0
    finally:
        engine.dispose()
    return {"seconds": time.perf_counter() - began, "made": made, "inserted": inserted, "settled": settled}


def make_keys(url: str, buyer: str) -> dict[str, str]:
    """An operator key and one for ``buyer``: their secrets."""
    from ledger.api.keys import create_key
    from ledger.db import open_engine

    engine = open_engine(url)
    try:
        with engine.begin() as conn:
            _, operator = create_key(conn, participant=None, label="bench operator")
            _, buyer_key = create_key(conn, participant=buyer, label="bench buyer")
    finally:
        engine.dispose()
    return {"operator": operator, "buyer": buyer_key}


# -- the server ------------------------------------------------------------------------------
def served_app() -> Any:
    """uvicorn's factory (``bench_api:served_app --factory``): the app of
    $BENCH_API_FACTORY (module:function) on the settings of this process's
    environment (SCF_HOME, SCF_DB_URL), as `scf serve` would build it."""
    import importlib

    from ledger.config import load_settings

    module, name = os.environ.get("BENCH_API_FACTORY", APP_FACTORY).split(":")
    return getattr(importlib.import_module(module), name)(load_settings())


def scf_env(home: Path, url: str) -> dict[str, str]:
    """This environment without any SCF_* of the caller's, plus the bench's home and database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCF_")}
    return {**env, "SCF_HOME": str(home), "SCF_DB_URL": url}


class Server:
    """uvicorn serving the app on 127.0.0.1 and a free port, in a child
    process this object started and stops (by its PID)."""

    def __init__(self, home: Path, url: str, factory: str, log_path: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**scf_env(home, url), "BENCH_API_FACTORY": factory}
        command = [sys.executable, "-m", "uvicorn", "bench_api:served_app", "--factory"]
        command += ["--app-dir", str(ROOT / "scripts"), "--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--no-access-log", "--log-level", "warning"]
        self.log_path = log_path
        with log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                command, env=env, cwd=home, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"the server exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if get(f"{self.base}/api/health")[0] == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"the server did not answer /api/health within 60 s:\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            return ""

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), SIGKILL after 10 s; by the child's PID."""
        if self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
            if pid_alive(self.proc.pid):
                os.kill(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


def get(url: str, key: str | None = None) -> tuple[int, Any]:
    """GET ``url`` (with the key as a bearer token): status and the JSON body (None if it is none)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


# -- the load ----------------------------------------------------------------------------------
@dataclass
class Case:
    name: str
    path: str
    #: Whose key: "operator", "buyer" or None (no Authorization header).
    key: str | None
    what: str


def cases(deep_cursor: str) -> list[Case]:
    return [
        Case("health", "/api/health", None, "GET /api/health (no auth, no database)"),
        Case("status", "/api/invoices?status=Financed&limit=50", "operator", "status=Financed&limit=50, operator"),
        Case("buyer", "/api/invoices?limit=50", "buyer", "limit=50 as a buyer (scoped)"),
        Case(
            "deep",
            f"/api/invoices?status=Financed&limit=50&cursor={deep_cursor}",
            "operator",
            "the status case from a cursor 90% in (at most 2,000 from the end)",
        ),
    ]


def ensure_wrk() -> str:
    """The path of `wrk`, apt-get installing Debian's package if it is missing and we may."""
    found = shutil.which("wrk")
    if found:
        return found
    sudo: list[str] = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and shutil.which("sudo") is None:
        raise SystemExit("wrk is not installed; run `apt-get install -y wrk` as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in ([*sudo, "apt-get", "update", "-qq"], [*sudo, "apt-get", "install", "-y", "-qq", "wrk"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            raise SystemExit(f"`{' '.join(command)}` failed: {(done.stderr or done.stdout).strip()[-400:]}")
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("apt-get installed wrk but it is not on PATH")
    return found


def run_wrk(wrk: str, lua: Path, url: str, key: str | None, seconds: int) -> dict[str, float]:
    """One wrk run: its `BENCH` figures, plus requests/s."""
    command = [wrk, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s", "-s", str(lua), url]
    env = {**os.environ, "BENCH_KEY": key or ""}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 120)
    if done.returncode != 0:
        raise SystemExit(f"wrk failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    figures: dict[str, float] = {}
    for line in done.stdout.splitlines():
        if line.startswith("BENCH "):
            for pair in line.split()[1:]:
                name, value = pair.split("=")
                figures[name] = float(value)
    if "requests" not in figures:
        raise SystemExit(f"wrk printed no figures:\n{done.stdout}\n{done.stderr}")
    figures["rps"] = figures["requests"] / (figures["duration_us"] / 1e6)
    figures["errors"] = sum(figures[k] for k in ("connect", "read", "write", "status", "timeout"))
    return figures


def check_case(base: str, case: Case, keys: dict[str, str]) -> None:
    """The case answers 200 and, for a list, a full page (a 401 or an empty page would be fast and mean nothing)."""
    status, body = get(base + case.path, keys.get(case.key or ""))
    if status != 200:
        raise SystemExit(f"{case.name}: GET {case.path} answered {status}: {json.dumps(body)[:500]}")
    if case.name != "health":
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list) or len(items) != 50:
            raise SystemExit(f"{case.name}: GET {case.path} gave {len(items or [])} items, expected a full page of 50")
        if case.key == "buyer" and any(i["buyer"]["address"] != keys["buyer_address"] for i in items):
            raise SystemExit(f"{case.name}: the buyer's page holds another buyer's invoice")


# -- cursors and plans --------------------------------------------------------------------------
def deep_cursor(factory: str, after: int) -> str:
    """A cursor that continues the status case after invoice ``after``."""
    import importlib

    module = importlib.import_module(factory.split(":")[0])
    encode = getattr(module, "encode_cursor", None)
    if encode is None:
        from ledger.api.routes import encode_cursor as encode
    return str(encode(after))


def explain(factory: str, home: Path, url: str, chosen: list[Case], keys: dict[str, str]) -> None:
    """Run each case once in this process on the app's own engine, catch its
    SELECTs on ``invoices``, and print their plans (PostgreSQL: EXPLAIN
    ANALYZE; SQLite: EXPLAIN QUERY PLAN and the query's own time)."""
    import importlib
    import warnings

    from sqlalchemy import event

    with warnings.catch_warnings():  # "install httpx2": the plain httpx one does for this
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    from ledger.config import load_settings

    module, name = factory.split(":")
    old = {k: os.environ.get(k) for k in ("SCF_HOME", "SCF_DB_URL")}
    os.environ.update({"SCF_HOME": str(home), "SCF_DB_URL": url})
    try:
        app = getattr(importlib.import_module(module), name)(load_settings())
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    engine = app.state.engine
    caught: list[tuple[str, Any]] = []

    def catch(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if re.search(r"\bFROM invoices\b", statement):
            caught.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", catch)
    try:
        with TestClient(app) as client:
            for case in chosen:
                caught.clear()
                response = client.get(case.path, headers={"Authorization": f"Bearer {keys[case.key or '']}"})
                log(f"  plan of {case.name} ({response.status_code}): GET {case.path}")
                for statement, parameters in list(caught):
                    _print_plan(engine, statement, parameters)
    finally:
        event.remove(engine, "before_cursor_execute", catch)
        engine.dispose()


def _print_plan(engine: Any, statement: str, parameters: Any) -> None:
    one_line = " ".join(statement.split())
    log(f"    SQL: {one_line[:160]}{'...' if len(one_line) > 160 else ''}")
    log(f"    WHERE: {one_line[one_line.find(' WHERE ') :][:600]}")
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", parameters).all()
            for (line,) in rows:
                log(f"      {line}")
        else:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters).all()
            for row in rows:
                log(f"      {row[-1]}")
            began = time.perf_counter()
            conn.exec_driver_sql(statement, parameters).all()
            log(f"      (ran in {(time.perf_counter() - began) * 1000:.2f} ms)")


# -- main ------------------------------------------------------------------------------------
@dataclass
class Backend:
    name: str
    suffix: str
    #: size -> a fresh database URL; and how to throw it away.
    fresh: Callable[[int], str]
    discard: Callable[[int], None]


def size_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


@dataclass
class Ledger:
    """One size's ledger, served."""

    count: int
    home: Path
    url: str
    keys: dict[str, str]
    cases: list[Case]
    server: Server | None = None


#: Figures of one backend: size -> case -> one dict of wrk figures per round.
Rounds = dict[int, dict[str, list[dict[str, float]]]]


def prepare(args: argparse.Namespace, backend: Backend, count: int, work: Path) -> Ledger:
    """Fill a fresh ledger of ``count`` invoices and make its keys (its plans with --explain)."""
    parties = Parties.make()
    home = work / f"home-{backend.suffix}-{size_label(count)}"
    home.mkdir(parents=True)
    url = backend.fresh(count)
    filled = fill_ledger(url, home, count, parties)
    log(
        f"{backend.name}, {count:,} invoices: written in {filled['seconds']:.1f}s "
        f"({count / filled['seconds']:,.0f}/s; rows made {filled['made']:.1f}s, "
        f"inserted {filled['inserted']:.1f}s, "
        f"{'VACUUM ANALYZE' if backend.suffix == 'pg' else 'WAL checkpoint'} {filled['settled']:.1f}s)"
    )
    keys = make_keys(url, parties.bench_buyer())
    keys["buyer_address"] = parties.bench_buyer()
    chosen = cases(deep_cursor(args.app, max(0, min(count * 9 // 10, count - 2_000))))
    if args.explain:
        explain(args.app, home, url, [c for c in chosen if c.key], keys)
    return Ledger(count, home, url, keys, chosen)


def bench_backend(
    args: argparse.Namespace, backend: Backend, sizes: list[int], work: Path, wrk: str, lua: Path
) -> Rounds:
    """Every size's ledger served at once; then, round after round, each case
    on each size one after the other, so that sizes and cases are compared
    within a round, not across minutes of this machine's drift."""
    ledgers: list[Ledger] = []
    figures: Rounds = {n: {} for n in sizes}
    try:
        for count in sizes:
            ledgers.append(prepare(args, backend, count, work))
        for ledger in ledgers:
            log_path = work / f"server-{backend.suffix}-{size_label(ledger.count)}.log"
            ledger.server = Server(ledger.home, ledger.url, args.app, log_path)
            for case in ledger.cases:
                check_case(ledger.server.base, case, ledger.keys)
        for number in range(1, args.rounds + 1):
            load = os.getloadavg()[0]
            log(f"{backend.name}, round {number} of {args.rounds} (load average {load:.2f}):")
            for index in range(len(ledgers[0].cases)):
                for ledger in ledgers:
                    assert ledger.server is not None
                    case = ledger.cases[index]
                    url, key = ledger.server.base + case.path, ledger.keys.get(case.key or "")
                    if number == 1:
                        run_wrk(wrk, lua, url, key, args.warmup)
                    f = run_wrk(wrk, lua, url, key, args.seconds)
                    if f["errors"]:
                        raise SystemExit(f"{case.name}: wrk counted errors: {f}\n{ledger.server.log_tail()}")
                    figures[ledger.count].setdefault(case.name, []).append(f)
                    log(
                        f"  {size_label(ledger.count):>5} {case.name:<7} {f['rps']:8,.0f} req/s  "
                        f"p50 {f['p50_us'] / 1000:7.2f} ms  p90 {f['p90_us'] / 1000:7.2f}  "
                        f"p99 {f['p99_us'] / 1000:7.2f}  max {f['max_us'] / 1000:7.1f}  ({case.what})"
                    )
    finally:
        for ledger in ledgers:
            if ledger.server is not None:
                ledger.server.stop()
            shutil.rmtree(ledger.home, ignore_errors=True)
            backend.discard(ledger.count)
    return figures


def sqlite_backend(work: Path) -> Backend:
    def fresh(count: int) -> str:
        return f"sqlite:///{work / f'ledger-{size_label(count)}.db'}"

    def discard(count: int) -> None:
        for suffix in ("", "-wal", "-shm"):
            (work / f"ledger-{size_label(count)}.db{suffix}").unlink(missing_ok=True)

    return Backend("SQLite", "sqlite", fresh, discard)


def postgres_backend(server: Any) -> Backend:
    def fresh(count: int) -> str:
        return str(server.create_database(f"scf_bench_api_{size_label(count)}"))

    def discard(count: int) -> None:
        server.drop_database(f"scf_bench_api_{size_label(count)}")

    return Backend("PostgreSQL", "pg", fresh, discard)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="10000,1000000", help="invoice counts, comma-separated (default 10000,1000000)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--seconds", type=int, default=4, help="load per case, size and round, in s (default 4)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured load before each case (default 1 s)")
    parser.add_argument("--backends", default="sqlite,pg", help="sqlite, pg or both (default both)")
    parser.add_argument("--quick", action="store_true", help="10,000 and 100,000 invoices, 2 rounds of 3 s")
    parser.add_argument("--explain", action="store_true", help="print the invoice queries' plans on each database")
    parser.add_argument("--app", default=APP_FACTORY, help=f"the app factory, module:function (default {APP_FACTORY})")
    parser.add_argument("--install-postgres", action="store_true", help="let pgtmp apt-get install PostgreSQL")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.rounds, args.seconds = "10000,100000", 2, 3
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    if not sizes or min(sizes) < 1_000 or any(b not in ("sqlite", "pg") for b in backends):
        parser.error("--sizes must be counts of at least 1000, --backends sqlite and/or pg")
    if args.rounds < 1 or args.seconds < 1 or args.warmup < 1:
        parser.error("--rounds, --seconds and --warmup must be at least 1")

    wrk = ensure_wrk()
    work = Path(tempfile.mkdtemp(prefix="scf-bench-api-"))
    lua = work / "bench.lua"
    lua.write_text(WRK_SCRIPT)
    cleanup: list[Callable[[], None]] = []
    load = os.getloadavg()
    log(
        f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
        f"(wrk, the server and PostgreSQL share them); wrk {CONNECTIONS} connections, {THREADS} threads; "
        f"{args.rounds} rounds of {args.seconds} s per case and size; sizes {', '.join(f'{s:,}' for s in sizes)}"
    )
    results: dict[str, Rounds] = {}
    try:
        for name in backends:
            if name == "sqlite":
                backend = sqlite_backend(work)
            else:
                import pgtmp

                try:
                    pg = pgtmp.start_server(install=args.install_postgres, watch_pid=os.getpid())
                except pgtmp.PostgresUnavailable as exc:
                    if os.environ.get("CI") == "true":
                        raise SystemExit(f"PostgreSQL could not be started: {exc}") from None
                    log(f"PostgreSQL skipped: {exc}")
                    continue
                cleanup.append(pg.stop)
                log(f"PostgreSQL: throw-away server pid {pg.pid} on port {pg.port}")
                backend = postgres_backend(pg)
            results[backend.suffix] = bench_backend(args, backend, sizes, work, wrk, lua)
    finally:
        for stop in reversed(cleanup):
            stop()
        shutil.rmtree(work, ignore_errors=True)
    report(results, sizes)
    return 0


def _median(rounds: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rounds)


def report(results: dict[str, Rounds], sizes: list[int]) -> None:
    """The table (medians of the rounds) and the `name=value` figures."""
    log("")
    log("Medians of the rounds:")
    log("")
    log("| backend | invoices | case | req/s | p50 ms | p90 ms | p99 ms | max ms |")
    log("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for suffix, by_size in results.items():
        for count, by_case in by_size.items():
            for case, rounds in by_case.items():
                log(
                    f"| {suffix} | {count:,} | {case} | {_median(rounds, 'rps'):,.0f} | "
                    f"{_median(rounds, 'p50_us') / 1000:.2f} | {_median(rounds, 'p90_us') / 1000:.2f} | "
                    f"{_median(rounds, 'p99_us') / 1000:.2f} | {max(r['max_us'] for r in rounds) / 1000:.1f} |"
                )
    small, large = sizes[0], sizes[-1]
    paired = {suffix: _paired(by_size[small], by_size[large]) for suffix, by_size in results.items()}
    for suffix, (growth, ratio) in paired.items():
        log(
            f"{suffix}: p99 growth by round {', '.join(f'{g:.2f}' for g in growth)}; "
            f"req/s ratio by round {', '.join(f'{r:.3f}' for r in ratio)}"
        )
    for suffix, (growth, ratio) in paired.items():
        top, low = results[suffix][large]["status"], results[suffix][small]["status"]
        log(f"api_p50_ms_{size_label(large)}_{suffix}={_median(top, 'p50_us') / 1000:.2f}")
        log(f"api_p99_ms_{size_label(large)}_{suffix}={_median(top, 'p99_us') / 1000:.2f}")
        log(f"api_p99_ms_{size_label(small)}_{suffix}={_median(low, 'p99_us') / 1000:.2f}")
        log(f"api_p99_growth_{suffix}={statistics.median(growth):.2f}")
        log(f"api_rps_ratio_{suffix}={statistics.median(ratio):.3f}")


def _paired(
    low: dict[str, list[dict[str, float]]], top: dict[str, list[dict[str, float]]]
) -> tuple[list[float], list[float]]:
    """Per round: the status case's p99 at the largest size over the smallest,
    and its requests/s over health's at the largest size (each pair measured
    within the same round)."""
    growth = [t["p99_us"] / s["p99_us"] for t, s in zip(top["status"], low["status"], strict=True)]
    ratio = [t["rps"] / h["rps"] for t, h in zip(top["status"], top["health"], strict=True)]
    return growth, ratio


if __name__ == "__main__":
    sys.exit(main())
