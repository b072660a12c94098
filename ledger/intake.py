"""ERP-scale intake on chain (contract version 5): a supplier's invoice export
issued in batches (``scf invoice import``), a buyer's approved-payables file
matched and confirmed in batches (``scf invoice approve``), and confirmations
a buyer signs offline (EIP-712) that anyone submits (``scf invoice
sign-confirmation``, ``scf invoice confirm --signatures``).

Every run reads its file whole before it sends anything: a bad row stops the
run with every bad row named (unless ``skip_bad``), and nothing is sent.
Rows are matched to the chain by the contract's own identity, (supplier,
normalised number), read from ``InvoiceIssued`` logs: an import skips the
numbers already issued, so a run interrupted anywhere (Ctrl-C, kill -9, a
node restart) is finished by running it again, and nothing is issued twice.
Batches go out with consecutive nonces and their receipts are collected at
the end; a reverted batch is replayed on its block to name the rule, and its
rows are reported as failed (a re-run sends them again).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3 import Web3

from ledger.business_time import business_date
from ledger.errors import AccountBusy, ChainError, InputError, Refused, TransactionTimeout, UnknownInvoice
from ledger.evm.abi import Calldata, checksum, encode_issue_batch
from ledger.evm.confirmations import Confirmation, Domain, fresh_nonces, sign, signer_of
from ledger.evm.invoice import ChainInvoice
from ledger.evm.rpc import RpcClient
from ledger.format import date_text, iso_time, label, money, party
from ledger.intake_files import (
    IMPORT_COLUMNS,
    PAYABLES_COLUMNS,
    InvoiceRow,
    RowContext,
    RowError,
    Staging,
    chunks,
    parse_rows,
    text_lines,
    write_result,
)
from ledger.invoice_numbers import normalise_bytes, normalise_invoice_number
from ledger.lifecycle import Ledger
from ledger.names import ROLE_BITS, InvoiceStatus, status_name

#: The share of a block's gas limit one batch may use (the rest leaves room for others).
BLOCK_SHARE = 0.5
#: Headroom over the sampled gas per item (numbers and buyers differ in cost).
GAS_MARGIN = 1.3
#: The most items one batch carries, whatever the gas limit allows.
MAX_BATCH = 200
#: Rows sampled to estimate the gas per item.
SAMPLE = 8
#: Gas per item of a batch when the node cannot estimate (ethereumjs on Clique):
#: above the costliest item measured on Anvil times GAS_MARGIN (64-character
#: numbers: 137,639 per issued invoice, 16,023 per confirmation, 85,190 per signed
#: one), which tests/evm/test_poa_quirks.py checks on every run.
ITEM_GAS_BOUND = {"issueBatch": 200_000, "confirmBatch": 25_000, "confirmWithSignatures": 120_000}
#: Blocks per eth_getLogs query when reading a party's invoices (shrinks when refused).
LOG_RANGE = 100_000
#: The party of a payables row whose supplier is no participant (followed by the name given).
_UNKNOWN = "unknown:"
#: Rows not done named in a summary (all of them are in the result file).
SHOWN_NOTES = 20
#: Bad rows named in the error (all of them are in the result file).
SHOWN_ERRORS = 50
_ISSUED_TOPIC = "0x" + keccak(text="InvoiceIssued(uint256,address,address,string,address,uint256,uint64,bytes32)").hex()
# The number is read as bytes (a string's encoding is the same): it need not be UTF-8.
_ISSUED_DATA = ["bytes", "address", "uint256", "uint64", "bytes32"]
#: The outcomes of a row, per command (a result file's ``status``; ``--json`` counts each).
#: A result file may also say ``not sent``: the rows of a run that bad rows stopped.
IMPORT_STATUSES = ("issued", "already issued", "bad", "failed")
APPROVE_STATUSES = ("confirmed", "already confirmed", "mismatch", "unknown", "disputed", "cancelled", "bad", "failed")
SUBMIT_STATUSES = ("confirmed", "skipped", "bad", "failed")
#: The columns of a result file.
RESULT_COLUMNS = ("line", "number", "status", "invoice_id", "tx_hash", "block", "note")

Progress = Callable[[str, int, int | None], None]


class BadRows(InputError):
    """Rows of a file cannot be used: each is named with its line and reasons."""

    keep_lines = True

    def __init__(self, path: Path, errors: list[RowError], total: int, hint: str) -> None:
        self.errors = errors
        shown = "\n".join(f"  {e}" for e in errors[:SHOWN_ERRORS])
        more = f"\n  ... and {total - SHOWN_ERRORS} more" if total > SHOWN_ERRORS else ""
        super().__init__(f"{path} has {total} bad row{'s' if total != 1 else ''}; {hint}:\n{shown}{more}")


@dataclass(frozen=True)
class IssuedLog:
    """One ``InvoiceIssued`` log, decoded. The number is kept as the bytes the supplier
    sent: the contract takes any bytes from 0x80 up, not only UTF-8."""

    invoice_id: int
    supplier: str
    buyer: str
    raw_number: bytes
    currency: str
    amount: int
    due_ts: int
    tx_hash: str
    block: int

    @property
    def number(self) -> str:
        """As text (bytes that are not UTF-8 read as U+FFFD, as the indexer reads them)."""
        return self.raw_number.decode("utf-8", "replace")

    @property
    def utf8(self) -> bool:
        try:
            self.raw_number.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True

    @property
    def normalised(self) -> str:
        """The contract's normal form; bytes that are not UTF-8 show as ``\\xff``: a normal
        form of text never holds a backslash, so such a number never equals one from a file."""
        return (normalise_bytes(self.raw_number) or b"").decode("utf-8", "backslashreplace")


@dataclass
class RunResult:
    """What one run did, row by row (in ``staging``), and its counts."""

    path: Path
    rows: int = 0
    bad: list[RowError] = field(default_factory=list)
    bad_count: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    #: The outcomes a row of this command can have (each counted, 0 when none).
    statuses: tuple[str, ...] = ()
    #: The first rows not done, as "line N: status: why" (all are in the result file).
    notes: list[str] = field(default_factory=list)
    txs: list[str] = field(default_factory=list)
    result_file: str | None = None

    def bad_row(self, error: RowError, staging: Staging) -> None:
        """Count a bad row that was never staged, and keep it for the result file."""
        self.count_bad(error)
        staging.add_bad(error, error.number)

    def count_bad(self, error: RowError) -> None:
        """Count a bad row, keeping the first ones to show."""
        self.bad_count += 1
        if len(self.bad) < SHOWN_ERRORS:
            self.bad.append(error)

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "rows": self.rows,
            **{status.replace(" ", "_"): self.counts.get(status, 0) for status in self.statuses},
            "transactions": len(self.txs),
            "result": self.result_file,
            "bad_rows": [{"line": e.line, "reason": e.reason} for e in self.bad[:SHOWN_ERRORS]],
            "notes": self.notes,
        }


#: Why a signed confirmation whose signature is not its buyer's is skipped (said
#: before anything about the invoice it names: see ``Intake._unusable``).
NOT_THE_BUYERS = "the signature is not the buyer's"


class Intake:
    """Bulk issue, approval and signed confirmations over one :class:`Ledger`."""

    def __init__(self, ledger: Ledger, progress: Progress | None = None) -> None:
        self.ledger = ledger
        self.rpc = RpcClient(ledger.settings.rpc_url, timeout=max(60.0, ledger.settings.tx_timeout))
        self.progress = progress or (lambda _phase, _done, _total: None)
        self._buyers: dict[str, str | None] = {}
        self._wallets: dict[str, bool] = {}
        self._domain: Domain | None = None
        abi = ledger.deployment.contracts["InvoiceToken"].abi
        #: Calldata of the token's bulk functions and views, encoded without web3's per-call ABI checks.
        self.encode = {
            name: Calldata(abi, name)
            for name in ("issueBatch", "confirmBatch", "confirmWithSignatures", "getInvoice", "confirmationNonces")
        }

    # -- reading the chain ----------------------------------------------------------------
    def issued_logs(self, supplier: str | None = None, buyer: str | None = None) -> Iterator[IssuedLog]:
        """``InvoiceIssued`` logs of ``supplier`` (or to ``buyer``), oldest first, read
        in block ranges that shrink when the node refuses one (:meth:`RpcClient.logs_between`)."""
        token = self.ledger.deployment.contracts["InvoiceToken"]
        topics: list[Any] = [_ISSUED_TOPIC, None, None]
        if supplier:
            topics[2] = "0x" + "0" * 24 + supplier.lower().removeprefix("0x")
        if buyer:
            topics.append("0x" + "0" * 24 + buyer.lower().removeprefix("0x"))
        for log in self.rpc.logs_between([token.address], token.block, self.rpc.block_number(), topics, LOG_RANGE):
            number, currency, amount, due, _doc = abi_decode(_ISSUED_DATA, bytes.fromhex(log["data"][2:]))
            t = log["topics"]
            yield IssuedLog(
                int(t[1], 16),
                checksum("0x" + t[2][-40:]),
                checksum("0x" + t[3][-40:]),
                bytes(number),
                checksum(currency),
                int(amount),
                int(due),
                log["transactionHash"],
                int(log["blockNumber"], 16),
            )

    def _calls(self, name: str, args: Iterable[list[Any]]) -> Iterator[tuple[list[Any], tuple[Any, ...]]]:
        """The token's view ``name`` on each argument list, in JSON-RPC batches of 500
        ``eth_call``s: each argument list with the decoded answer."""
        to, encode = self.ledger.invoices.address, self.encode[name]
        for part in chunks(args, 500):
            calls = [("eth_call", [{"to": to, "data": "0x" + encode(*a).hex()}, "latest"]) for a in part]
            for a, data in zip(part, self.rpc.batch(calls), strict=True):
                yield a, encode.decode(bytes.fromhex(data[2:]))

    def invoice_states(self, ids: Iterable[int]) -> dict[int, ChainInvoice]:
        """``getInvoice`` of each id."""
        states: dict[int, ChainInvoice] = {}
        for (invoice_id,), (struct,) in self._calls("getInvoice", ([i] for i in ids)):
            states[invoice_id] = ChainInvoice.from_struct(struct)
        return states

    def _active_buyer(self, address: str) -> str | None:
        """None when ``address`` may be invoiced now, else why not."""
        if address not in self._buyers:
            ok = bool(self.ledger.registry.functions.isActive(address, 2).call())
            name = self.ledger.name_of(address) or address
            self._buyers[address] = None if ok else f"{name} is not an active buyer (see `scf participant list`)"
        return self._buyers[address]

    def _require_active(self, address: str, role: str, why: str) -> None:
        """Refused (exit 1) before the file is read when ``address`` may not act as
        ``role`` now (the registry's own rule and words: suspended, KYC expired)."""
        self.ledger.require_role(address, role, why)
        self.ledger.sender.call(self.ledger.registry.functions.requireActive(address, ROLE_BITS[role]))

    def _supplier_or_unknown(self, text: str) -> str:
        """A payables row's supplier: an address, or ``unknown:NAME`` for a name that is
        no participant (a buyer's ERP knows suppliers that are not on the network: such a
        row is reported as unknown, not as a bad file)."""
        try:
            return self.ledger.resolve(text, "supplier").address
        except InputError as exc:
            if str(exc).startswith("unknown supplier"):
                return f"{_UNKNOWN}{text.strip()}"
            raise

    def _context(self, path: Path) -> RowContext:
        """How a file's rows are read: parties resolved once per distinct spelling (a file
        names few parties, many times), documents relative to the file's folder."""
        return RowContext(self.ledger.deployment, _cached(lambda text: self.ledger.resolve(text).address), path.parent)

    def _gas_limit(self) -> int:
        return int(self.ledger.w3.eth.get_block("latest")["gasLimit"])

    # -- import --------------------------------------------------------------------------
    def import_invoices(
        self,
        supplier: LocalAccount,
        path: Path,
        *,
        skip_bad: bool = False,
        batch_size: int | None = None,
        result: Path | None = None,
    ) -> RunResult:
        """Issue every invoice of the export ``path`` that is not on chain yet."""
        self._require_active(supplier.address, "supplier", "issues invoices")
        _check_writable(result)
        run = RunResult(path, statuses=IMPORT_STATUSES)
        with self._sending_as(supplier.address), Staging() as staging:
            self._stage_export(path, staging, run)
            self.progress("checking the chain", 0, None)
            self._await_pending(supplier.address)
            self._mark_issued(supplier.address, staging)
            # The contract's rules apply to what is still to send: a row already on chain is
            # reported as issued even if, say, its due date has passed since.
            self._check_pending(supplier.address, staging, run)
            run.bad.sort(key=lambda e: e.line)
            if run.bad_count and not skip_bad:
                staging.mark_unsent()
                self._write(result, staging, run)
                raise BadRows(
                    path, run.bad, run.bad_count, "nothing was sent (fix them, or --skip-bad to issue the rest)"
                )
            self._send_issues(supplier, staging, run, batch_size)
            if staging.counts().get("failed"):
                # A batch that lost a race (another run issued some of its numbers) failed
                # whole: what is on chain now is reported as issued, the rest stays failed.
                self._mark_issued(supplier.address, staging, only_failed=True)
            run.counts = staging.counts()
            self._write(result, staging, run)
        return run

    def _mark_issued(self, supplier: str, staging: Staging, only_failed: bool = False) -> None:
        """Marks the staged rows whose numbers ``supplier`` has issued on chain (already issued)."""
        for log in self.issued_logs(supplier=supplier):
            row = staging.get(log.normalised, self.ledger.deployment, "failed" if only_failed else None)
            if row is not None:
                note = _differences(log, row, self.ledger)
                staging.set(log.normalised, "already issued", log.invoice_id, log.tx_hash, log.block, note)

    def _sending_as(self, account: str) -> AbstractContextManager[None]:
        """One bulk command at a time per account and node on this machine: two would
        take the same nonces. The lock every signing command takes
        (:meth:`ledger.evm.chain.Sender.sending_as`), held for the whole run; a run that
        finds it held is refused at once (AccountBusy), not made to wait for another's
        batches."""
        return self.ledger.sender.sending_as(account, who=_who(self.ledger, account))

    def _await_pending(self, account: str) -> None:
        """Waits until ``account`` has no transaction waiting to be mined (an earlier,
        interrupted run's), so that what is on chain is all there will be: else a
        re-run would send those rows again, and its batches fail as duplicates."""
        eth, address = self.ledger.w3.eth, Web3.to_checksum_address(account)
        waited = 0.0
        while (pending := int(eth.get_transaction_count(address, "pending"))) > (
            mined := int(eth.get_transaction_count(address, "latest"))
        ):
            if waited >= self.ledger.settings.tx_timeout:
                raise ChainError(
                    f"{pending - mined} earlier transactions of {_who(self.ledger, account)} are still waiting "
                    f"to be mined after {waited:.0f} s; run the command again when they are"
                )
            self.progress(f"waiting for {pending - mined} earlier transactions", 0, None)
            time.sleep(0.5)
            waited += 0.5

    def _stage_export(self, path: Path, staging: Staging, run: RunResult) -> None:
        """Reads the export into ``staging``: each row parsed, a number repeated in the file bad."""
        for item in parse_rows(path, IMPORT_COLUMNS, "buyer", self._context(path)):
            run.rows += 1
            if run.rows % 1000 == 0:
                self.progress("reading", run.rows, None)
            if isinstance(item, InvoiceRow):
                earlier = staging.add(item.normalised, item)
                if earlier is None:
                    continue
                why = f"invoice number {item.number!r} repeats line {earlier} (same number once normalised)"
                item = RowError(item.line, why, item.number)
            run.bad_row(item, staging)

    def _check_pending(self, supplier: str, staging: Staging, run: RunResult) -> None:
        """The contract's rules on every row still to send; a row that breaks one is bad."""
        now = self.ledger.chain_time()
        max_tenor = int(self.ledger.invoices.functions.maxTenor().call())
        for page in staging.batches("pending", 1000, self.ledger.deployment):
            for r in page:
                checked = self._check_issue(r["row"], supplier, now, max_tenor)
                if isinstance(checked, RowError):
                    run.count_bad(checked)
                    staging.set(r["key"], "bad", note=checked.reason)

    def _check_issue(self, row: InvoiceRow, supplier: str, now: int, max_tenor: int) -> InvoiceRow | RowError:
        """The contract's rules on one row, checked before anything is sent."""
        reasons = []
        if row.party == supplier:
            reasons.append("the buyer is the supplier itself")
        elif why := self._active_buyer(row.party):
            reasons.append(why)
        if row.units >= 2**96:
            reasons.append(f"amount {row.units} minor units is above the contract's limit")
        if row.due_ts <= now:
            reasons.append(f"due date {row.due} has passed")
        elif row.due_ts > now + max_tenor:
            reasons.append(f"due date {row.due} is more than the longest tenor ({max_tenor // 86400} days) away")
        return RowError(row.line, "; ".join(reasons)) if reasons else row

    def _send_issues(self, supplier: LocalAccount, staging: Staging, run: RunResult, batch_size: int | None) -> None:
        selector = self.encode["issueBatch"].selector

        def call(rows: list[dict[str, Any]]) -> bytes:
            items = [r["row"] for r in rows]
            requests = [(r.party, r.number, r.units, r.currency.address, r.due_ts, r.doc_hash) for r in items]
            return encode_issue_batch(selector, requests)

        self._send_staged(supplier, staging, run, "pending", call, batch_size, "issued", from_receipt=True)

    def _batch_size(
        self, call: Callable[[list[Any]], bytes], sample: list[Any], sender: str, wanted: int | None
    ) -> tuple[int, int]:
        """Items per batch and gas per item, from a simulation of ``sample`` and the block gas limit
        (the stated :data:`ITEM_GAS_BOUND` when the node cannot estimate and only says it would pass)."""
        data = call(sample)
        gas = self.ledger.sender.estimate(self.ledger.invoices.address, data, sender)
        if self.ledger.sender.node_estimates:
            gas_each = int(gas / len(sample) * GAS_MARGIN) + 1
        else:
            gas_each = next(ITEM_GAS_BOUND[n] for n, c in self.encode.items() if c.selector == data[:4])
        fits = max(1, int(self._gas_limit() * BLOCK_SHARE) // gas_each)
        return max(1, min(wanted or MAX_BATCH, fits, MAX_BATCH)), gas_each

    def _send_staged(
        self,
        signer: LocalAccount,
        staging: Staging,
        run: RunResult,
        status: str,
        call: Callable[[list[dict[str, Any]]], bytes],
        wanted: int | None,
        done: str,
        from_receipt: bool = False,
    ) -> None:
        """Send the staged rows with ``status`` in batches, pipelined, marking each row
        ``sent`` with its transaction as it goes; then settle every row by its receipt
        (``done``, or ``failed`` with the rule that refused its batch). One batch is in
        memory at a time. Invoice ids come from the staged rows, or ``from_receipt``
        (the ``InvoiceIssued`` logs of an issue batch, in the order of its items)."""
        total = staging.counts().get(status, 0)
        if not total:
            return
        sample = next(staging.batches(status, SAMPLE, self.ledger.deployment))
        size, gas_each = self._batch_size(call, sample, signer.address, wanted)
        limit = self._gas_limit()
        current: list[list[dict[str, Any]]] = [[]]

        def calls() -> Iterator[tuple[bytes, int]]:
            for rows in staging.batches(status, size, self.ledger.deployment):
                current[0] = rows
                yield call(rows), min(limit, gas_each * len(rows) + 60_000)

        txs: list[str] = []
        sent = 0
        for tx in self.ledger.sender.send_pipelined(self.ledger.invoices.address, calls(), signer):
            for r in current[0]:
                staging.set(r["key"], "sent", r["invoice_id"], tx)
            txs.append(tx)
            sent += len(current[0])
            self.progress("sending", sent, total)
        for tx, receipt in zip(txs, self._receipts(txs), strict=True):
            block = int(receipt["blockNumber"], 16)
            run.txs.append(tx)
            rows = staging.rows_of(tx)
            if int(receipt["status"], 16) == 1:
                ids = _issued_ids(receipt, self.ledger.invoices.address) if from_receipt else None
                for i, r in enumerate(rows):
                    staging.set(r["key"], done, ids[i] if ids else r["invoice_id"], tx, block)
            else:
                why = "its batch failed: " + self.ledger.sender.replay_reason(tx, block)
                for r in rows:
                    staging.set(r["key"], "failed", r["invoice_id"], tx, block, why)

    def _receipts(self, txs: list[str]) -> Iterator[dict[str, Any]]:
        """The receipts of ``txs`` in order, as the node answers them (raw JSON), asked
        for in JSON-RPC batches until each is mined (TransactionTimeout after the
        configured wait for one that is not). An error in place of a receipt is a "not
        yet", as in :meth:`Sender.wait`: ethereumjs answers one while it stores the block."""
        timeout = self.ledger.settings.tx_timeout
        # A receipt of an issue batch carries two logs per invoice: ask for a few at a time.
        for part in chunks(txs, 8):
            found: dict[str, dict[str, Any]] = {}
            deadline = time.monotonic() + timeout  # wall time: ethereumjs takes ~1 s per receipt
            while len(found) < len(part):
                missing = [tx for tx in part if tx not in found]
                asked = [("eth_getTransactionReceipt", [tx]) for tx in missing]
                for tx, answer in zip(missing, self.rpc.answers(asked), strict=True):
                    if answer.get("result"):
                        found[tx] = answer["result"]
                if len(found) < len(part):
                    if time.monotonic() >= deadline:
                        raise TransactionTimeout(missing[0], timeout)
                    time.sleep(0.05)
            yield from (found[tx] for tx in part)

    def _write(self, result: Path | None, staging: Staging, run: RunResult) -> None:
        """The result file: every row of the file in line order, bad ones too; and the
        first rows that were not done, with why, for the summary."""
        run.bad.sort(key=lambda e: e.line)
        done = {"issued", "confirmed", "already confirmed", "bad"}
        run.notes = staging.notes([s for s in run.statuses if s not in done], SHOWN_NOTES)
        if result is not None:
            write_result(result, staging.rows(), RESULT_COLUMNS)
            run.result_file = str(result)

    # -- approve -----------------------------------------------------------------------
    def approve(
        self, buyer: LocalAccount, path: Path, *, skip_bad: bool = False, result: Path | None = None
    ) -> RunResult:
        """Confirm the invoices to ``buyer`` that match its approved-payables file
        exactly (supplier, number, currency, amount, due date); report the rest."""
        self._require_active(buyer.address, "buyer", "confirms invoices")
        _check_writable(result)
        run = RunResult(path, statuses=APPROVE_STATUSES)
        with self._sending_as(buyer.address), Staging() as staging:
            context = self._context(path)
            context.resolve = _cached(self._supplier_or_unknown)
            for item in parse_rows(path, PAYABLES_COLUMNS, "supplier", context):
                run.rows += 1
                if isinstance(item, InvoiceRow):
                    earlier = staging.add(_payable_key(item.party, item.normalised), item)
                    if earlier is None:
                        continue
                    why = f"{item.number!r} of this supplier repeats line {earlier}"
                    item = RowError(item.line, why, item.number)
                run.bad_row(item, staging)
            if run.bad_count and not skip_bad:
                staging.mark_unsent()
                self._write(result, staging, run)
                raise BadRows(path, run.bad, run.bad_count, "nothing was confirmed (fix them, or --skip-bad)")
            self.progress("matching", 0, None)
            self._await_pending(buyer.address)
            self._match(buyer.address, staging)
            encode = self.encode["confirmBatch"]
            self._send_staged(
                buyer, staging, run, "matched", lambda rows: encode([r["invoice_id"] for r in rows]), None, "confirmed"
            )
            run.counts = staging.counts()
            self._write(result, staging, run)
        return run

    def _match(self, buyer: str, staging: Staging) -> None:
        """Marks every staged payable ``matched`` (to confirm) or why not, streaming: the
        buyer's invoices from the logs, then their states a page at a time."""
        for log in self.issued_logs(buyer=buyer):
            staging.set(_payable_key(log.supplier, log.normalised), "found", log.invoice_id, only="pending")
        deployment = self.ledger.deployment
        for page in staging.batches("pending", 1000, deployment):
            for r in page:
                row = r["row"]
                if row.party.startswith(_UNKNOWN):
                    name = row.party.removeprefix(_UNKNOWN)
                    note = f"no participant is named {name!r}: no invoice of theirs is on chain"
                else:
                    note = f"no invoice {row.number!r} of {_who(self.ledger, row.party)} is addressed to you"
                staging.set(r["key"], "unknown", note=note)
        for page in staging.batches("found", 500, deployment):
            states = self.invoice_states(r["invoice_id"] for r in page)
            for r in page:
                invoice_id, state = r["invoice_id"], states[r["invoice_id"]]
                if why := _mismatch(r["row"], state, self.ledger):
                    staging.set(r["key"], "mismatch", invoice_id, note=why)
                elif state.status == InvoiceStatus.ISSUED:
                    staging.set(r["key"], "matched", invoice_id)
                else:
                    shown = status_name(state.status)
                    label = shown.lower() if shown in ("Cancelled", "Disputed") else "already confirmed"
                    staging.set(r["key"], label, invoice_id, note=f"invoice {invoice_id} is {shown}")

    # -- signed confirmations --------------------------------------------------------
    def domain(self) -> Domain:
        """The token's EIP-712 domain, as the token itself answers it (ERC-5267)."""
        if self._domain is None:
            _fields, name, version, chain_id, contract, _salt, _ext = (
                self.ledger.invoices.functions.eip712Domain().call()
            )
            self._domain = Domain(int(chain_id), str(contract), str(name), str(version))
        return self._domain

    def sign_confirmations(
        self,
        buyer: LocalAccount,
        out: Path,
        *,
        invoice_ids: Iterable[int] = (),
        payables: Path | None = None,
        valid_days: int = 7,
    ) -> dict[str, Any]:
        """Sign confirmations of the given invoices (each must be Issued to ``buyer``)
        or of every row of an approved-payables file, into JSON Lines ``out``."""
        if not 1 <= valid_days <= 365:
            raise InputError(f"invalid --valid-days {valid_days}: use 1 to 365 days")
        domain = self.domain()
        deadline = self.ledger.chain_time() + valid_days * 86400
        nonces = fresh_nonces()
        items = self._to_sign(buyer.address, list(dict.fromkeys(invoice_ids)), nonces, deadline)
        if payables is not None:
            items += self._payables_to_sign(buyer.address, payables, nonces, deadline)
        if not items:
            raise InputError("nothing to sign: give invoice ids or --payables FILE")
        try:
            with out.open("w", encoding="utf-8") as handle:
                for i, (conf, invoice_id, line) in enumerate(items, start=1):
                    record = signed_record(domain, conf, sign(buyer, domain, conf), buyer.address, invoice_id, line)
                    handle.write(json.dumps(record) + "\n")
                    if i % 500 == 0:
                        self.progress("signing", i, len(items))
        except OSError as exc:
            raise InputError(f"cannot write {out}: {exc.strerror}") from None
        return {
            "signed": len(items),
            "file": str(out),
            "deadline": iso_time(deadline),
            "buyer": party(buyer.address, self.ledger.name_of(buyer.address)),
            "chain_id": domain.chain_id,
            "contract": domain.contract,
        }

    def _to_sign(
        self, buyer: str, ids: list[int], nonces: Iterator[int], deadline: int
    ) -> list[tuple[Confirmation, int | None, int | None]]:
        """Confirmations of invoices ``ids``: each must be Issued to ``buyer``."""
        if not ids:
            return []
        logs = {log.invoice_id: log for log in self.issued_logs(buyer=buyer)}
        states = self.invoice_states([i for i in ids if i in logs])
        last = int(self.ledger.invoices.functions.nextInvoiceId().call()) - 1
        items: list[tuple[Confirmation, int | None, int | None]] = []
        for invoice_id in ids:
            log = logs.get(invoice_id)
            if invoice_id > last:
                raise UnknownInvoice(invoice_id)
            if log is None:
                raise InputError(
                    f"invoice {invoice_id} is not addressed to {_label(self.ledger, buyer)}: nothing was signed"
                )
            status = states[invoice_id].status
            if status != InvoiceStatus.ISSUED:
                raise Refused(f"invoice {invoice_id} is {status_name(status)}, not Issued: nothing was signed")
            if not log.utf8:
                raise Refused(
                    f"invoice {invoice_id}'s number is not UTF-8 text, which a signature cannot name; "
                    f"confirm it with `scf invoice confirm {invoice_id}`: nothing was signed"
                )
            conf = Confirmation(
                buyer, log.supplier, log.number, log.currency, log.amount, log.due_ts, next(nonces), deadline
            )
            items.append((conf, invoice_id, None))
        return items

    def _payables_to_sign(
        self, buyer: str, payables: Path, nonces: Iterator[int], deadline: int
    ) -> list[tuple[Confirmation, int | None, int | None]]:
        """Confirmations of every row of an approved-payables file, as the buyer's file has them."""
        items: list[tuple[Confirmation, int | None, int | None]] = []
        bad: list[RowError] = []
        seen: dict[str, int] = {}
        for row in parse_rows(payables, PAYABLES_COLUMNS, "supplier", self._context(payables)):
            if isinstance(row, InvoiceRow) and (earlier := seen.get(_payable_key(row.party, row.normalised))):
                row = RowError(row.line, f"{row.number!r} of this supplier repeats line {earlier}")
            if isinstance(row, RowError):
                bad.append(row)
                continue
            seen[_payable_key(row.party, row.normalised)] = row.line
            conf = Confirmation(
                buyer, row.party, row.number, row.currency.address, row.units, row.due_ts, next(nonces), deadline
            )
            items.append((conf, None, row.line))
        if bad:
            raise BadRows(payables, bad, len(bad), "nothing was signed")
        return items

    def submit_confirmations(
        self,
        relayer: LocalAccount,
        path: Path,
        result: Path | None = None,
        *,
        lines: Iterable[tuple[int, str]] | None = None,
    ) -> RunResult:
        """Submit signed confirmations (anyone may): those that can no longer
        work (expired, used nonce, changed or unknown invoice, wrong signer) are
        reported and not sent; the rest go in batches. ``lines``: the document's
        (line number, text) when it was not read from a file (a POST to `scf
        serve`); ``path`` then only names it in messages."""
        _check_writable(result)
        domain = self.domain()
        run = RunResult(path, statuses=SUBMIT_STATUSES)
        with self._sending_as(relayer.address), Staging() as staging:
            signed = list(self._read_signed(path, domain, run, staging, lines))
            if run.bad_count:
                raise BadRows(path, run.bad, run.bad_count, "nothing was sent")
            for s in signed:
                staging.add(f"{s.line}", s.row(self.ledger.deployment))
            by_line = {s.line: s for s in signed}
            encode = self.encode["confirmWithSignatures"]

            def call(rows: list[dict[str, Any]]) -> bytes:
                return encode([by_line[r["line"]].conf.signed(by_line[r["line"]].signature) for r in rows])

            todo = signed
            # Twice at most: a batch that failed because someone submitted one of its
            # signatures first (all or none) is checked again and the rest resent.
            for _attempt in range(2):
                for ready in self._usable(todo, staging):
                    staging.set(f"{ready.line}", "ready", ready.invoice_id)
                self._send_staged(relayer, staging, run, "ready", call, None, "confirmed")
                todo = [by_line[r["line"]] for r in staging.rows("failed")]
                if not todo:
                    break
            run.rows = len(signed)
            run.counts = staging.counts()
            self._write(result, staging, run)
        return run

    def revoke_signatures(self, buyer: LocalAccount, path: Path) -> dict[str, Any]:
        """Void ``buyer``'s signed confirmations in ``path`` that were not submitted yet:
        their nonces are revoked on chain, one transaction per bitmap word (256 nonces)."""
        domain = self.domain()
        run = RunResult(path)
        with Staging() as staging:
            signed = list(self._read_signed(path, domain, run, staging))
            if run.bad_count:
                raise BadRows(path, run.bad, run.bad_count, "nothing was revoked")
        mine = [s for s in signed if s.buyer == buyer.address]
        if len(mine) != len(signed):
            others = sorted({s.buyer for s in signed} - {buyer.address})
            raise InputError(
                f"{path} holds signatures of {', '.join(others)}, not only of {buyer.address}: "
                "a buyer revokes only its own; nothing was revoked"
            )
        used = self._used_nonces(mine)
        masks: dict[int, int] = {}
        for s in mine:
            if (s.buyer, s.conf.nonce) not in used:
                masks[s.conf.nonce >> 8] = masks.get(s.conf.nonce >> 8, 0) | 1 << (s.conf.nonce & 0xFF)
        fn = self.ledger.invoices.functions.revokeConfirmationNonces
        receipts = [self.ledger.sender.transact(fn(word, mask), buyer) for word, mask in sorted(masks.items())]
        revoked = sum(bin(mask).count("1") for mask in masks.values())
        return {
            "file": str(path),
            "signatures": len(mine),
            "revoked": revoked,
            "already_used": len(mine) - revoked,
            "transactions": [Web3.to_hex(r["transactionHash"]) for r in receipts],
        }

    def _usable(self, signed: list[_Signed], staging: Staging) -> list[_Signed]:
        """Those of ``signed`` that can still confirm their invoice now; the rest are marked
        skipped with why (expired, unknown or changed invoice, not Issued, not the
        buyer's signature, nonce used or revoked)."""
        now = self.ledger.chain_time()
        ids = self._ids_of({(s.conf.supplier, normalise_invoice_number(s.conf.number)) for s in signed})
        states = self.invoice_states({i for i in ids.values() if i})
        ready: list[_Signed] = []
        # A signature twice, or two for one invoice, would fail the whole batch: the
        # first usable one counts. (Judged after _unusable, whose first question is
        # whether the signature is the buyer's: a forger learns nothing from a repeat.)
        first: dict[Any, int] = {}
        for s in signed:
            invoice_id = ids.get((s.conf.supplier, normalise_invoice_number(s.conf.number)))
            why = self._unusable(s, invoice_id, states.get(invoice_id or 0), now)
            earlier = first.get((s.buyer, s.conf.nonce)) or first.get(invoice_id)
            if not why and earlier is not None:
                why = f"repeats line {earlier} (same invoice or nonce)"
            if why:
                staging.set(f"{s.line}", "skipped", invoice_id, note=why)
                continue
            first[(s.buyer, s.conf.nonce)] = s.line
            if invoice_id:
                first[invoice_id] = s.line
            s.invoice_id = invoice_id
            ready.append(s)
        used = self._used_nonces(ready)
        for s in list(ready):
            if (s.buyer, s.conf.nonce) in used:
                staging.set(f"{s.line}", "skipped", s.invoice_id, note=f"nonce {s.conf.nonce} was used or revoked")
                ready.remove(s)
        return ready

    def _read_signed(
        self,
        path: Path,
        domain: Domain,
        run: RunResult,
        staging: Staging,
        lines: Iterable[tuple[int, str]] | None = None,
    ) -> Iterator[_Signed]:
        """The signed confirmations of ``path`` (JSON Lines; or ``lines``, read already),
        each checked for this deployment."""
        seen = False
        for line, text in text_lines(path) if lines is None else lines:
            if not text.strip():
                continue
            seen = True
            try:
                # A number past int()'s 4300 digits would fail in the parser: read it as out of range.
                s = _Signed.from_record(line, json.loads(text, parse_int=lambda t: int(t) if len(t) <= 80 else 2**256))
            except json.JSONDecodeError:
                run.bad_row(RowError(line, "is not JSON (one signed confirmation per line)"), staging)
                continue
            except (ValueError, InputError) as exc:
                run.bad_row(RowError(line, f"is not a signed confirmation: {exc}"), staging)
                continue
            if (s.chain_id, s.contract.lower()) != (domain.chain_id, domain.contract.lower()):
                raise InputError(
                    f"{path} line {line} was signed for chain {s.chain_id}, contract {s.contract}; this deployment "
                    f"is chain {domain.chain_id}, contract {domain.contract}: nothing was sent"
                )
            yield s
        if not seen:
            raise InputError(f"{path} holds no signed confirmation; make one with `scf invoice sign-confirmation`")

    def _ids_of(self, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
        out: dict[tuple[str, str], int] = {}
        for supplier in {s for s, _ in keys}:
            for log in self.issued_logs(supplier=supplier):
                if (supplier, log.normalised) in keys:
                    out[(supplier, log.normalised)] = log.invoice_id
        return out

    def _unusable(self, s: _Signed, invoice_id: int | None, state: ChainInvoice | None, now: int) -> str | None:
        c = s.conf
        if now > c.deadline:
            return f"expired {date_text(c.deadline)}: ask the buyer to sign again"
        if s.buyer not in self._wallets:
            self._wallets[s.buyer] = bool(self.ledger.w3.eth.get_code(Web3.to_checksum_address(s.buyer)))
        # The signature first: whoever holds no signature of the buyer learns
        # nothing of its invoices from the reasons (a relay answers anyone).
        # A contract wallet's signature is its own to judge (ERC-1271), on chain.
        # (The file was checked to be for this deployment: its domain is this token's.)
        if not self._wallets[s.buyer] and signer_of(self.domain(), c, s.signature) != checksum(s.buyer):
            return NOT_THE_BUYERS
        if invoice_id is None or state is None:
            return f"no invoice {c.number!r} of {_who(self.ledger, c.supplier)}"
        if state.buyer.lower() != s.buyer.lower():
            return f"invoice {invoice_id} is addressed to {state.buyer}, not the signer {s.buyer}"
        if why := self._active_buyer(checksum(s.buyer)):
            return why
        if (state.currency.lower(), state.amount, state.due_ts) != (c.currency.lower(), c.amount, c.due_date):
            why = _differences_from(state, c.currency, c.amount, c.due_date, "signed", self.ledger)
            return f"invoice {invoice_id} does not match what was signed: {why}"
        if state.status != InvoiceStatus.ISSUED:
            return f"invoice {invoice_id} is {status_name(state.status)}, not Issued"
        return None

    def _used_nonces(self, ready: list[_Signed]) -> set[tuple[str, int]]:
        """The (buyer, nonce) of ``ready`` that are used or revoked on chain."""
        words = sorted({(x.buyer, x.conf.nonce >> 8) for x in ready})
        bits = {(b, w): int(word) for (b, w), (word,) in self._calls("confirmationNonces", map(list, words))}
        used: set[tuple[str, int]] = set()
        for x in ready:
            if bits[(x.buyer, x.conf.nonce >> 8)] >> (x.conf.nonce & 0xFF) & 1:
                used.add((x.buyer, x.conf.nonce))
        return used


@dataclass
class _Signed:
    line: int
    conf: Confirmation
    signature: bytes
    buyer: str
    chain_id: int
    contract: str
    invoice_id: int | None = None

    def row(self, deployment: Any) -> InvoiceRow:
        """As a staged row (for the result file)."""
        currency = deployment.currency_by_address(self.conf.currency) or next(iter(deployment.currencies.values()))
        normalised = normalise_invoice_number(self.conf.number)
        due = business_date(self.conf.due_date)
        return InvoiceRow(
            self.line,
            self.conf.number,
            normalised,
            self.conf.supplier,
            self.conf.amount,
            currency,
            due,
            self.conf.due_date,
        )

    @classmethod
    def from_record(cls, line: int, r: dict[str, Any]) -> _Signed:
        """A line of a signatures file; ValueError naming the field that is wrong."""
        if not isinstance(r, dict):
            raise ValueError("not a JSON object")

        def get(name: str) -> Any:
            if name not in r:
                raise ValueError(f"missing field {name}")
            return r[name]

        def address(name: str) -> str:
            text = str(get(name))  # a missing field is named as missing, not as malformed
            try:
                return checksum(text)
            except ValueError:
                raise ValueError(f"{name} is not an address") from None

        def uint(name: str, bits: int = 256) -> int:
            text = str(get(name))
            try:
                value = int(text) if len(text) <= 80 else 2**bits  # 2**256 has 78 digits: longer is out of range
            except ValueError:
                raise ValueError(f"{name} is not a whole number") from None
            if not 0 <= value < 2**bits:
                raise ValueError(f"{name} is out of range")
            return value

        number = get("number")
        if not isinstance(number, str) or not number:
            raise ValueError("number is not a non-empty string")
        normalise_invoice_number(number)  # an InputError naming what is wrong with it
        hex_signature = str(get("signature"))
        try:
            signature = bytes.fromhex(hex_signature.removeprefix("0x"))
        except ValueError:
            raise ValueError("signature is not hex") from None
        conf = Confirmation(
            address("buyer"), address("supplier"), number, address("currency"), uint("amount"),
            uint("due_date", 64), uint("nonce"), uint("deadline"),
        )  # fmt: skip
        return cls(line, conf, signature, conf.buyer, uint("chain_id"), address("contract"))


def signed_record(
    domain: Domain, conf: Confirmation, signature: bytes, buyer: str, invoice_id: int | None, line: int | None
) -> dict[str, Any]:
    """A signed confirmation as a line of the signatures file of `scf invoice
    sign-confirmation` (what ``POST /api/confirmations`` takes)."""
    return {
        "chain_id": domain.chain_id,
        "contract": domain.contract,
        "buyer": buyer,
        "supplier": conf.supplier,
        "number": conf.number,
        "currency": conf.currency,
        "amount": str(conf.amount),
        "due_date": conf.due_date,
        "nonce": str(conf.nonce),
        "deadline": conf.deadline,
        "signature": "0x" + signature.hex(),
        "invoice_id": invoice_id,
        "line": line,
    }


def _cached(resolve: Callable[[str], str]) -> Callable[[str], str]:
    """``resolve`` remembering its answers and its refusals (an unknown name is refused
    on every row that gives it, with the same words)."""
    answers: dict[str, str | InputError] = {}

    def cached(text: str) -> str:
        if text not in answers:
            try:
                answers[text] = resolve(text)
            except InputError as exc:
                answers[text] = exc
        answer = answers[text]
        if isinstance(answer, InputError):
            raise answer
        return answer

    return cached


def _check_writable(path: Path | None) -> None:
    """Bad input (exit 2) before anything is read or sent when the result file cannot be
    written (its folder missing or read-only); nothing is created yet."""
    if path is None:
        return
    target = path if path.exists() else path.parent
    if path.is_dir() or not target.is_dir() and target == path.parent or not os.access(target, os.W_OK):
        why = "it is a folder" if path.is_dir() else f"cannot write in {target}"
        raise InputError(f"cannot write the result file {path}: {why}; give another --result path")


def _who(ledger: Ledger, address: str) -> str:
    """A party in a sentence: its name, else its address (:func:`ledger.format.label`)."""
    return label(address, ledger.name_of(address))


def _label(ledger: Ledger, address: str) -> str:
    """A party as errors name it: "Name (0x...)", or the address of one without a name."""
    name = ledger.name_of(address)
    return f"{name} ({address})" if name else address


def _payable_key(supplier: str, normalised: str) -> str:
    return f"{supplier.lower()}:{normalised}"


def _issued_ids(receipt: dict[str, Any], token: str) -> list[int]:
    """The ids of an issue batch's invoices: its InvoiceIssued logs (raw JSON), in the order of its requests."""
    return [
        int(log["topics"][1], 16)
        for log in receipt["logs"]
        if log["address"].lower() == token.lower() and log["topics"] and log["topics"][0] == _ISSUED_TOPIC
    ]


def _differences(log: IssuedLog, row: InvoiceRow, ledger: Ledger) -> str | None:
    """How an invoice already on chain differs from the row that names its number (a
    re-run of the same file: none). The chain keeps its terms; the row is not sent."""
    out = []
    if log.buyer != row.party:
        out.append(f"issued to {ledger.name_of(log.buyer) or log.buyer}")
    if log.currency.lower() != row.currency.address.lower() or log.amount != row.units:
        have = ledger.deployment.currency_by_address(log.currency)
        shown = money(log.amount, have.decimals, have.symbol) if have else f"{log.amount} minor units of {log.currency}"
        out.append(f"{shown} on chain")
    if log.due_ts != row.due_ts:
        out.append(f"due {date_text(log.due_ts)} on chain")
    return ("the file differs: " + "; ".join(out)) if out else None


def _mismatch(row: InvoiceRow, state: ChainInvoice, ledger: Ledger) -> str | None:
    """How an invoice on chain differs from the approved payable, None if it does not."""
    return _differences_from(state, row.currency.address, row.units, row.due_ts, "approved", ledger) or None


def _differences_from(state: ChainInvoice, currency: str, amount: int, due_ts: int, word: str, ledger: Ledger) -> str:
    """How an invoice on chain differs from the terms a buyer ``word`` (approved, signed):
    "HKD 300.00 on chain, HKD 300.01 approved; due ..."; empty when it does not."""
    out = []
    have = ledger.deployment.currency_by_address(state.currency)
    given = ledger.deployment.currency_by_address(currency)
    if state.currency.lower() != currency.lower() or have is None or given is None:
        out.append(f"currency {have.symbol if have else state.currency} on chain, "
                   f"{given.symbol if given else currency} {word}")  # fmt: skip
    elif state.amount != amount:
        out.append(f"{money(state.amount, have.decimals, have.symbol)} on chain, "
                   f"{money(amount, given.decimals, given.symbol)} {word}")  # fmt: skip
    if state.due_ts != due_ts:
        out.append(f"due {date_text(state.due_ts)} on chain, {date_text(due_ts)} {word}")
    return "; ".join(out)


__all__ = ["AccountBusy", "BadRows", "Intake", "RunResult"]
