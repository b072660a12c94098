#!/usr/bin/env python3
"""Intake benchmark: how close do `scf invoice import` and `scf invoice
confirm --signatures` get to the rate at which the node accepts plain
transactions?

On one fresh Anvil, started as `scf node start` starts it (zero base fee,
Anvil's default block gas limit; without --state, whose periodic dumps
would only add noise), it deploys the contracts, admits a supplier, a buyer
and a relayer (the dev account `financier`), mints settlement tokens to a
sender (`dev8`) and takes an `evm_snapshot`. Each round then measures, in
this order, and reverts to the snapshot at its end, so every round's import
starts from the same fresh chain state (its invoice numbers carry the
round's prefix all the same):

  baseline      N pre-signed plain ERC-20 transfers of the settlement token
                (signed once, before any round: signing is not timed), sent
                in JSON-RPC batches of 500 with automine off, each batch
                followed by `evm_mine`; timed from the first send until all
                are mined (tx/s);
  issuance      `scf invoice import FILE --as supplier --no-sync --result R`
                of an N-row CSV, the real CLI in a subprocess, timed by the
                process's wall time, start-up included (invoices/s);
  signing       `scf invoice sign-confirmation --payables FILE --as buyer
                --out SIGS.jsonl` (signatures/s; printed, not a ratio);
  confirmation  `scf invoice confirm --signatures SIGS.jsonl --as financier
                --no-sync --result R` (confirmations/s).

issuance and confirmation are each divided by the baseline measured right
before them in the same round (paired ratios: this machine's speed drifts
20% and more, so only side-by-side figures compare); the final figure is
the median of the rounds' paired ratios. Each rate is also printed without
the interpreter's start-up (the median wall time of `scf --version` in that
round) and without start-up and module imports (that of a Python that only
imports the modules the intake commands load: web3 and eth-account are most
of it). Peak RSS of each CLI process is its VmHWM (polled); one more import
of N/10 rows shows whether the import's memory grows with the file.

Just before the CLI's import and its confirmation, each round also times
the node alone on the same work: the same invoices (issueBatch, from the
export's rows) or the CLI's own signatures (confirmWithSignatures), in the
batches the CLI makes, pre-signed, sent with automine off one block's worth
per JSON-RPC batch and `evm_mine`, inside a snapshot that is then reverted.
Its ratio to the baseline is the most the CLI could reach on this node
(printed, not a target); the CLI's share of it is what the CLI costs.

The run ends with `issuance_ratio=<x.xx>`, `confirm_ratio=<x.xx>` and
`import_peak_mib=<n>` (the highest peak of the N-row imports).

    .venv/bin/python scripts/bench_intake.py             # 10,000 rows, 3 rounds
    .venv/bin/python scripts/bench_intake.py --quick     # 1,000 rows, 1 round
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import multiprocessing
import os
import shutil
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

from bench_indexer import _children, _vm_hwm_kib  # noqa: E402 - peak memory of a process tree, as measured there

from ledger.evm.rpc import RpcClient  # noqa: E402 - after the path set-up

#: The real `scf` entry point of this virtual environment.
SCF = str(Path(sys.executable).parent / "scf")
#: Pre-signed transfers per JSON-RPC batch (and per `evm_mine`).
TRANSFERS_PER_BATCH = 500
#: Gas of one transfer transaction (a warm ERC-20 transfer uses ~35k).
TRANSFER_GAS = 60_000
#: Largest JSON-RPC batch of raw transactions the node alone is sent (Anvil
#: refuses a request body of a few MB as "Invalid request").
REQUEST_BYTES = 512 * 1024
#: Longest a CLI run may take before the benchmark gives up on it.
CLI_TIMEOUT = 3600.0
#: Registered names of the benchmark's parties (the CSV files use them, as an ERP export would).
SUPPLIER_NAME = "Bench Supplier"
BUYER_NAME = "Bench Buyer"


def log(message: str) -> None:
    print(message, flush=True)


@dataclass
class Chain:
    """What the rounds need from the set-up."""

    url: str
    token: str  # the settlement token (HKD)
    sender: str  # dev8: the baseline's transfers
    recipient: str  # dev9
    snapshot: str
    invoices: str  # the invoice token
    invoices_abi: list[dict[str, Any]]
    buyer: str


def set_up(home: Path, url: str) -> Chain:
    """Deploy (ledger.evm.deploy, as `scf deploy` does), admit the parties,
    mint to the baseline's sender, and snapshot the chain."""
    from ledger.config import load_settings
    from ledger.evm.accounts import DEV_NAMES, dev_account
    from ledger.evm.chain import connect
    from ledger.evm.compiler import compile_contracts
    from ledger.evm.deploy import deploy
    from ledger.lifecycle import Ledger, parse_roles

    settings = load_settings(home=str(home), rpc_url=url)
    build, _ = compile_contracts(settings)
    w3 = connect(url)
    operator = dev_account(DEV_NAMES.index("operator"))
    deployment = deploy(settings, w3, build, operator)
    ledger = Ledger(settings, w3, deployment)
    until = dt.date.today() + dt.timedelta(days=3 * 365)
    for name, account, role in (
        (SUPPLIER_NAME, "supplier", "supplier"),
        (BUYER_NAME, "buyer", "buyer"),
        ("Bench Relayer", "financier", "financier"),
    ):
        ledger.add_participant(operator, name, dev_account(DEV_NAMES.index(account)).address, parse_roles(role), until)
    token = deployment.currencies["HKD"].address
    sender = dev_account(DEV_NAMES.index("dev8")).address
    erc20 = w3.eth.contract(address=token, abi=deployment.contracts["SettlementToken:HKD"].abi)
    ledger.sender.transact(erc20.functions.mint(sender, 10**15), operator)
    rpc = RpcClient(url, timeout=300)
    invoices = deployment.contracts["InvoiceToken"]
    return Chain(
        url,
        token,
        sender,
        dev_account(DEV_NAMES.index("dev9")).address,
        rpc.call("evm_snapshot"),
        invoices.address,
        invoices.abi,
        dev_account(DEV_NAMES.index("buyer")).address,
    )


def sign_transfers(chain: Chain, count: int) -> list[str]:
    """`count` raw transfer transactions from the sender, nonces from its current one."""
    from ledger.evm.accounts import DEV_NAMES, dev_account

    key = dev_account(DEV_NAMES.index("dev8")).key
    rpc = RpcClient(chain.url)
    nonce = int(rpc.call("eth_getTransactionCount", [chain.sender, "pending"]), 16)
    specs = [
        (key, nonce, start, min(TRANSFERS_PER_BATCH, count - start), chain.token, chain.recipient)
        for start in range(0, count, TRANSFERS_PER_BATCH)
    ]
    with multiprocessing.get_context("fork").Pool(max(1, min(2, os.cpu_count() or 1))) as pool:
        return [raw for part in pool.map(_sign_chunk, specs) for raw in part]


def _sign_chunk(spec: tuple[Any, ...]) -> list[str]:
    """Sign one batch of transfers (a pool worker)."""
    from eth_abi import encode
    from eth_account import Account
    from eth_utils import keccak

    key, nonce, start, count, token, recipient = spec
    selector = keccak(text="transfer(address,uint256)")[:4]
    data = selector + encode(["address", "uint256"], [recipient, 1])
    raw = []
    for i in range(start, start + count):
        tx = {
            "type": 2,
            "chainId": 31337,
            "nonce": nonce + i,
            "to": token,
            "value": 0,
            "data": data,
            "gas": TRANSFER_GAS,
            "maxFeePerGas": 10**9,
            "maxPriorityFeePerGas": 0,
        }
        raw.append("0x" + Account.sign_transaction(tx, key).raw_transaction.hex())
    return raw


def baseline(chain: Chain, raw: list[str]) -> dict[str, Any]:
    """Send the pre-signed transfers in batches, mining each; rate from the first send until all are mined."""
    with RpcClient(chain.url, timeout=300) as rpc:
        first = int(rpc.call("eth_getTransactionCount", [chain.sender, "latest"]), 16)
        head = rpc.block_number()
        rpc.call("evm_setAutomine", [False])
        try:
            began = time.perf_counter()
            for start in range(0, len(raw), TRANSFERS_PER_BATCH):
                rpc.batch([("eth_sendRawTransaction", [r]) for r in raw[start : start + TRANSFERS_PER_BATCH]])
                rpc.call("evm_mine")
            # A block that could not hold a whole batch left the rest pending.
            while int(rpc.call("txpool_status")["pending"], 16):
                rpc.call("evm_mine")
            elapsed = time.perf_counter() - began
        finally:
            rpc.call("evm_setAutomine", [True])
        mined = int(rpc.call("eth_getTransactionCount", [chain.sender, "latest"]), 16) - first
        blocks = rpc.block_number() - head
        base_fee = int(rpc.call("eth_getBlockByNumber", ["latest", False])["baseFeePerGas"], 16)
    if mined != len(raw):
        raise SystemExit(f"baseline: {mined} of {len(raw)} transfers were mined")
    return {"rate": len(raw) / elapsed, "seconds": elapsed, "blocks": blocks, "base_fee": base_fee}


def node_ceiling(chain: Chain, signer: str, function: str, items: list[Any]) -> dict[str, Any]:
    """The node alone: ``function`` of the invoice token over ``items`` in the
    batches the CLI would make (its gas sample and block share), pre-signed,
    sent with automine off in JSON-RPC batches of what one block holds, each
    followed by `evm_mine`, then mined until none is pending; timed from the first send until all are mined.
    Measured inside a snapshot and reverted, so the CLI then finds the chain
    as it was."""
    from eth_abi import encode
    from eth_account import Account
    from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types

    from ledger.evm.accounts import DEV_NAMES, dev_account
    from ledger.intake import BLOCK_SHARE, GAS_MARGIN, MAX_BATCH, SAMPLE
    from ledger.intake_files import chunks

    account = dev_account(DEV_NAMES.index(signer))
    abi = next(a for a in chain.invoices_abi if a.get("type") == "function" and a["name"] == function)
    selector, types = function_abi_to_4byte_selector(abi), get_abi_input_types(abi)

    def data(part: list[Any]) -> str:
        return "0x" + (selector + encode(types, [part])).hex()

    with RpcClient(chain.url, timeout=300) as rpc:
        limit = int(rpc.call("eth_getBlockByNumber", ["latest", False])["gasLimit"], 16)
        sample = {"from": account.address, "to": chain.invoices, "data": data(items[:SAMPLE])}
        gas_each = int(int(rpc.call("eth_estimateGas", [sample]), 16) / len(items[:SAMPLE]) * GAS_MARGIN) + 1
        size = max(1, min(MAX_BATCH, int(limit * BLOCK_SHARE) // gas_each))
        nonce = int(rpc.call("eth_getTransactionCount", [account.address, "pending"]), 16)
        raw, gas = [], []
        for i, part in enumerate(chunks(items, size)):
            gas.append(min(limit, gas_each * len(part) + 60_000))
            tx = {
                "type": 2,
                "chainId": 31337,
                "nonce": nonce + i,
                "to": chain.invoices,
                "value": 0,
                "data": data(part),
                "gas": gas[-1],
                "maxFeePerGas": 10**9,
                "maxPriorityFeePerGas": 0,
            }
            raw.append("0x" + Account.sign_transaction(tx, account.key).raw_transaction.hex())
        snapshot = rpc.call("evm_snapshot")
        head = rpc.block_number()
        rpc.call("evm_setAutomine", [False])
        try:
            began = time.perf_counter()
            hashes = []
            for part in _blocks(raw, gas, limit):
                hashes += rpc.batch([("eth_sendRawTransaction", [r]) for r in part])
                rpc.call("evm_mine")
            while int(rpc.call("txpool_status")["pending"], 16):
                rpc.call("evm_mine")
            elapsed = time.perf_counter() - began
        finally:
            rpc.call("evm_setAutomine", [True])
        receipts = rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        blocks = rpc.block_number() - head
        if not rpc.call("evm_revert", [snapshot]):
            raise SystemExit(f"evm_revert {snapshot} failed")
    failed = [i for i, r in enumerate(receipts) if r is None or int(r["status"], 16) != 1]
    if failed:
        first = receipts[failed[0]]
        why = "not mined" if first is None else f"reverted after {int(first['gasUsed'], 16):,} gas"
        raise SystemExit(
            f"node ceiling of {function}: {len(failed)} of {len(raw)} transactions failed "
            f"(the first, number {failed[0] + 1}, {why}; {gas_each:,} gas per item, {size} items per batch)"
        )
    gas = sum(int(r["gasUsed"], 16) for r in receipts)
    return {"rate": len(items) / elapsed, "seconds": elapsed, "txs": len(raw), "blocks": blocks, "gas": gas}


def _blocks(raw: list[str], gas: list[int], limit: int) -> list[list[str]]:
    """``raw`` in consecutive groups that one block holds: gas limits summing to
    at most ``limit`` and at most REQUEST_BYTES of hex (one transaction at least).
    More than a block holds per `evm_mine` is worse than slow: when a block is
    full, Anvil goes on to a later transaction that still fits (the last, smaller
    batch), finds its nonce too high and drops it from the pool."""
    groups: list[list[str]] = [[]]
    size = used = 0
    for r, g in zip(raw, gas, strict=True):
        if groups[-1] and (size + len(r) > REQUEST_BYTES or used + g > limit):
            groups.append([])
            size = used = 0
        groups[-1].append(r)
        size += len(r)
        used += g
    return groups


def issue_requests(chain: Chain, prefix: str, rows: int, due: dt.date) -> list[tuple[Any, ...]]:
    """The IssueRequest tuples of the export `write_export` writes (the CLI's own encoding of its rows)."""
    from ledger.business_time import due_timestamp

    due_ts = due_timestamp(due)
    return [
        (chain.buyer, f"{prefix}-{i + 1:06d}", int(_amount(i).replace(".", "")), chain.token, due_ts, b"\0" * 32)
        for i in range(rows)
    ]


def signed_confirmations(path: Path) -> list[tuple[Any, ...]]:
    """The SignedConfirmation tuples of a signatures file, read as `scf invoice confirm --signatures` reads it."""
    import json

    from ledger.intake import _Signed

    with path.open(encoding="utf-8") as handle:
        signed = [_Signed.from_record(n, json.loads(text)) for n, text in enumerate(handle, start=1) if text.strip()]
    return [s.conf.signed(s.signature) for s in signed]


def revert(chain: Chain) -> None:
    """Back to the state after set-up (a snapshot is used up by its revert: take it again)."""
    with RpcClient(chain.url) as rpc:
        if not rpc.call("evm_revert", [chain.snapshot]):
            raise SystemExit(f"evm_revert {chain.snapshot} failed")
        chain.snapshot = rpc.call("evm_snapshot")


def write_export(path: Path, prefix: str, rows: int, due: dt.date) -> None:
    """A supplier's invoice export: `rows` invoices to the buyer, by its registered name."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["number", "buyer", "amount", "currency", "due_date"])
        for i in range(rows):
            out.writerow([f"{prefix}-{i + 1:06d}", BUYER_NAME, _amount(i), "HKD", due.isoformat()])


def write_payables(path: Path, prefix: str, rows: int, due: dt.date) -> None:
    """The buyer's approved payables: the same invoices, by the supplier's registered name."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["supplier", "number", "amount", "currency", "due_date"])
        for i in range(rows):
            out.writerow([SUPPLIER_NAME, f"{prefix}-{i + 1:06d}", _amount(i), "HKD", due.isoformat()])


def _amount(i: int) -> str:
    return f"{1_000 + i % 9_000}.{i % 100:02d}"


def scf_env(home: Path, url: str) -> dict[str, str]:
    """This environment without any SCF_* of the caller's, plus the bench's home and node."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCF_")}
    return {**env, "SCF_HOME": str(home), "SCF_RPC_URL": url}


def run_scf(args: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """The real `scf ARGS` in a child process: wall time, peak RSS (VmHWM, polled), output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errors:
        began = time.perf_counter()
        proc = subprocess.Popen([SCF, *args], stdout=out, stderr=errors, stdin=subprocess.DEVNULL, cwd=cwd, env=env)
        peaks: dict[int, int] = {}
        try:
            while proc.poll() is None:
                # VmHWM of the process and of any child it forks (wait4's
                # ru_maxrss would count this script's memory: see bench_indexer).
                for pid in [proc.pid, *_children(proc.pid)]:
                    peaks[pid] = max(peaks.get(pid, 0), _vm_hwm_kib(pid))
                if time.perf_counter() - began > CLI_TIMEOUT:
                    raise SystemExit(f"scf {' '.join(args[:2])} ran over {CLI_TIMEOUT:.0f}s")
                time.sleep(0.02)
        finally:
            if proc.poll() is None:
                proc.kill()  # our own child, by its handle
                proc.wait()
        wall = time.perf_counter() - began
        out.seek(0)
        errors.seek(0)
        text, err = out.read().decode(), errors.read().decode()
    if proc.returncode != 0:
        raise SystemExit(f"scf {' '.join(args)} failed ({proc.returncode}):\n{err.strip() or text.strip()}")
    return {"wall": wall, "peak_mib": peaks.get(proc.pid, 0) / 1024, "stdout": text, "stderr": err}


def startup_seconds(env: dict[str, str], cwd: Path, times: int = 3) -> tuple[float, float]:
    """The median wall times of `scf --version` (the interpreter's and the CLI's
    start-up) and of a Python that only imports what the intake commands load."""
    code = "import ledger.cli, ledger.cli.intake, ledger.intake, ledger.lifecycle, ledger.evm.chain"
    commands = ([SCF, "--version"], [sys.executable, "-c", code])
    walls: list[list[float]] = [[], []]
    for _ in range(times):
        for command, found in zip(commands, walls, strict=True):
            began = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=env, cwd=cwd)
            found.append(time.perf_counter() - began)
    return statistics.median(walls[0]), statistics.median(walls[1])


def statuses(result: Path) -> tuple[dict[str, int], int]:
    """How many rows of a result CSV have each status, and how many transactions it names."""
    counts: dict[str, int] = {}
    txs = set()
    with result.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            counts[row["status"]] = counts.get(row["status"], 0) + 1
            txs.add(row["tx_hash"])
    return counts, len(txs - {""})


def _check(what: str, result: Path, status: str, rows: int) -> int:
    """The transactions of a run whose every row must have `status`."""
    counts, txs = statuses(result)
    if counts.get(status) != rows:
        raise SystemExit(f"{what}: expected {rows} rows {status!r}, the result file has {counts}")
    return txs


def _rate_line(label: str, rows: int, unit: str, run: dict[str, Any], startup: tuple[float, float]) -> str:
    version, imports = startup
    return (
        f"{label}: {rows / run['wall']:,.0f} {unit}/s (wall {run['wall']:.2f}s; "
        f"{rows / max(run['wall'] - version, 1e-9):,.0f}/s without the {version:.2f}s start-up, "
        f"{rows / max(run['wall'] - imports, 1e-9):,.0f}/s without start-up and imports, {imports:.2f}s), "
        f"peak RSS {run['peak_mib']:.0f} MiB"
    )


def _ratios(values: list[float]) -> str:
    return f"{', '.join(f'{x:.3f}' for x in values)} (median {statistics.median(values):.3f})"


def import_invoices(work: Path, env: dict[str, str], prefix: str, rows: int, due: dt.date) -> dict[str, Any]:
    export, result = work / f"{prefix}-export.csv", work / f"{prefix}-result.csv"
    write_export(export, prefix, rows, due)
    command = ["invoice", "import", str(export), "--as", "supplier", "--no-sync", "--result", str(result)]
    run = run_scf(command, env, work)
    run["txs"] = _check(f"import of {export.name}", result, "issued", rows)
    return run


def _ceiling_line(label: str, rows: int, unit: str, ceiling: dict[str, Any], cli: dict[str, Any]) -> str:
    return (
        f"{label}: the node alone {ceiling['rate']:,.0f} {unit}/s ({ceiling['txs']} pre-signed batches "
        f"in {ceiling['seconds']:.2f}s, {ceiling['blocks']} blocks, {ceiling['gas'] / rows:,.0f} gas each); "
        f"the CLI reached {rows / cli['wall'] / ceiling['rate']:.0%} of it in {cli['txs']} transactions"
    )


def round_of(number: int, args: argparse.Namespace, chain: Chain, raw: list[str], work: Path, env: dict[str, str]):
    """One round: baseline, import, signing, confirmation; then back to the snapshot."""
    rows = args.rows
    prefix = f"R{number}"
    due = dt.date.today() + dt.timedelta(days=90)
    base = baseline(chain, raw)
    log(
        f"round {number}: baseline: {base['rate']:,.0f} transfers/s ({rows:,} in {base['seconds']:.2f}s, "
        f"{base['blocks']} blocks, base fee after {base['base_fee']} wei)"
    )
    startup = startup_seconds(env, work)
    issue_node = node_ceiling(chain, "supplier", "issueBatch", issue_requests(chain, prefix, rows, due))
    imported = import_invoices(work, env, prefix, rows, due)
    log(_rate_line(f"round {number}: import", rows, "invoices", imported, startup))
    log(_ceiling_line(f"round {number}: import", rows, "invoices", issue_node, imported))
    payables, signatures = work / f"{prefix}-payables.csv", work / f"{prefix}-signatures.jsonl"
    write_payables(payables, prefix, rows, due)
    signed = run_scf(
        ["invoice", "sign-confirmation", "--payables", str(payables), "--as", "buyer", "--out", str(signatures)],
        env,
        work,
    )
    log(_rate_line(f"round {number}: sign-confirmation", rows, "signatures", signed, startup))
    confirm_node = node_ceiling(chain, "financier", "confirmWithSignatures", signed_confirmations(signatures))
    result = work / f"{prefix}-confirm-result.csv"
    confirmed = run_scf(
        ["invoice", "confirm", "--signatures", str(signatures), "--as", "financier", "--no-sync"]
        + ["--result", str(result)],
        env,
        work,
    )
    confirmed["txs"] = _check(f"confirm of {signatures.name}", result, "confirmed", rows)
    log(_rate_line(f"round {number}: confirm --signatures", rows, "confirmations", confirmed, startup))
    log(_ceiling_line(f"round {number}: confirm --signatures", rows, "confirmations", confirm_node, confirmed))
    figures = {
        "baseline": base["rate"],
        "issuance": rows / imported["wall"] / base["rate"],
        "confirm": rows / confirmed["wall"] / base["rate"],
        "issue_node": issue_node["rate"] / base["rate"],
        "confirm_node": confirm_node["rate"] / base["rate"],
        "import_peak_mib": imported["peak_mib"],
    }
    log(
        f"round {number}: paired ratios: issuance {figures['issuance']:.3f}, confirm {figures['confirm']:.3f} "
        f"(the node alone: {figures['issue_node']:.3f}, {figures['confirm_node']:.3f})"
    )
    revert(chain)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000, help="invoices per import (default 10000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1,000 rows, 1 round")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.rounds = 1_000, 1
    if args.rows < 10 or args.rounds < 1:
        parser.error("--rows must be at least 10 and --rounds at least 1")

    from ledger.evm.node import spawn_anvil

    work = Path(tempfile.mkdtemp(prefix="scf-bench-intake-"))
    home = work / "home"
    cache = ROOT / ".pytest_cache" / "scf-artifacts"
    if cache.is_dir():
        shutil.copytree(cache, home / "artifacts")
    # As `scf node start` runs it (ledger.evm.node.LocalNode.start): zero base
    # fee, Anvil's default block gas limit, automine; no --state file.
    anvil = spawn_anvil(ROOT / "node_modules", log_file=work / "anvil.log")
    try:
        began = time.perf_counter()
        chain = set_up(home, anvil.url)
        raw = sign_transfers(chain, args.rows)
        env = scf_env(home, anvil.url)
        with RpcClient(anvil.url) as rpc:
            gas_limit = int(rpc.call("eth_getBlockByNumber", ["latest", False])["gasLimit"], 16)
        load = os.getloadavg()
        log(
            f"set-up: deployed, 3 parties admitted, {len(raw):,} transfers pre-signed in "
            f"{time.perf_counter() - began:.1f}s; block gas limit {gas_limit:,}"
        )
        log(
            f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} "
            f"(Anvil and the CLI share these cores); {args.rows:,} rows, {args.rounds} interleaved rounds"
        )

        rounds = [round_of(n, args, chain, raw, work, env) for n in range(1, args.rounds + 1)]

        small_rows = args.rows // 10
        small = import_invoices(work, env, "M", small_rows, dt.date.today() + dt.timedelta(days=90))
        revert(chain)
        peak = max(r["import_peak_mib"] for r in rounds)
        log(
            f"memory: import peak RSS {small['peak_mib']:.0f} MiB for {small_rows:,} rows, "
            f"{peak:.0f} MiB for {args.rows:,} rows (ratio {peak / max(small['peak_mib'], 1e-9):.2f})"
        )
        log(f"anvil peak RSS {_vm_hwm_kib(anvil.pid) / 1024:.0f} MiB")
        log(f"baseline rounds: {', '.join(format(r['baseline'], ',.0f') for r in rounds)} transfers/s")
        issuance = [r["issuance"] for r in rounds]
        confirm = [r["confirm"] for r in rounds]
        log(f"paired ratios, import / baseline: {_ratios(issuance)}")
        log(f"paired ratios, confirm / baseline: {_ratios(confirm)}")
        log(
            "paired ratios of the node alone (pre-signed batches, no CLI): "
            f"issue {_ratios([r['issue_node'] for r in rounds])}; "
            f"confirm {_ratios([r['confirm_node'] for r in rounds])}"
        )
        log(f"issuance_ratio={statistics.median(issuance):.2f}")
        log(f"confirm_ratio={statistics.median(confirm):.2f}")
        log(f"import_peak_mib={peak:.0f}")
        return 0
    finally:
        anvil.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
