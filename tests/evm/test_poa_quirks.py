"""The ledger on a node that answers like ``@ethereumjs/client`` 0.10.2 sealing
a Clique chain (issue 17), one quirk at a time and all together, through
:class:`support.poa_proxy.PoaProxy` in front of the session's real Anvil:
97-byte extraData, no ``eth_maxPriorityFeePerGas`` under a base fee, no
``eth_estimateGas``, reverts answered as ``eth_call`` results (or with no
data at all), no ``pending``/``safe``/``finalized``, ``eth_getLogs`` refusing
ranges past the head and applying only topic 0, receipts without ``type``.
Commands run through the real CLI in-process (or the services), and what
they did is read back from Anvil directly."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from eth_typing import HexStr
from eth_utils import keccak
from support.bad_input import db_digest
from support.cli import refused
from support.lifecycle import Lifecycle
from support.poa_proxy import CLIQUE, EXTRA_DATA, PoaProxy
from web3 import Web3

from ledger.cli import main

BUYER = "Tsuen Wan Electronics Ltd"
FINANCIER = "Harbour Trade Finance Ltd"
DUE = dt.date(2099, 1, 31)
#: The tip paid when the node suggests none: 0.1 gwei, the least ethereumjs gossips.
MIN_TIP = 100_000_000
#: Anvil's error for getInvoice of an unknown id, as the CLI says it everywhere.
UNKNOWN = "invoice 999999 does not exist; see `scf invoice list`"
WORST = {"no_estimate", "revert_as_result"}


# -- fixtures and helpers --------------------------------------------------------------------------
@pytest.fixture()
def proxy(chain: Any) -> Iterator[PoaProxy]:
    """A proxy to the test's Anvil with no quirk yet (each test sets ``proxy.quirks``)."""
    with PoaProxy(chain.rpc_url, quirks=()) as p:
        yield p


@pytest.fixture()
def db_file(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture()
def cli(home_copy: Any, proxy: PoaProxy, db_file: str) -> Any:
    """`scf` in-process through the proxy (``rpc=`` another URL, e.g. Anvil's own)."""
    runner = CliRunner()

    def run(*args: str, rpc: str | None = None) -> Any:
        options = ["--home", str(home_copy.home), "--rpc-url", rpc or proxy.url, "--db-url", db_file]
        return runner.invoke(main, [*options, *args])

    return run


@pytest.fixture()
def anvil_w3(chain: Any) -> Web3:
    """Anvil itself, past the proxy: what was really mined."""
    return Web3(Web3.HTTPProvider(chain.rpc_url))


@pytest.fixture()
def anvil_url(chain: Any) -> str:
    """Anvil's own URL, for ``cli(..., rpc=anvil_url)``: the same command without the quirks."""
    return str(chain.rpc_url)


@pytest.fixture()
def book(ledger: Any, acct: Any) -> Lifecycle:
    """The lifecycle on Anvil directly, to set the scene."""
    return Lifecycle(ledger, acct)


def proxied(chain: Any, proxy: PoaProxy, deployment: Any) -> Any:
    """A Ledger whose every call goes through the proxy."""
    from ledger.evm.chain import connect
    from ledger.lifecycle import Ledger

    return Ledger(replace(chain.settings, rpc_url=proxy.url), connect(proxy.url), deployment)


def ok(result: Any) -> str:
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}"
    assert "Traceback" not in result.output, result.output
    assert "database was not updated" not in result.output, result.output  # the sync after a change
    return str(result.stdout)


def as_json(result: Any) -> Any:
    return json.loads(ok(result))


def issue_args(number: str, amount: str = "1000.00", as_: str = "supplier") -> tuple[str, ...]:
    """`scf invoice issue` to the buyer, due :data:`DUE`."""
    terms = ("--number", number, "--amount", amount, "--due", str(DUE))
    return ("invoice", "issue", "--as", as_, "--buyer", BUYER, *terms)


def issue(cli: Any, number: str, amount: str = "1000.00") -> int:
    return int(as_json(cli(*issue_args(number, amount), "--json"))["invoice_id"])


def financed(book: Lifecycle, number: str) -> int:
    """An invoice issued, confirmed, listed for the financier and financed (on Anvil directly)."""
    invoice_id = int(book.issue_invoice(number, "10000.00", DUE)["invoice_id"])
    book.confirm(invoice_id)
    book.offer(invoice_id, FINANCIER, "9000.00")
    book.finance(invoice_id, advance="9000.00")
    return invoice_id


def rpc_error(proxy: PoaProxy, method: str, params: list[Any]) -> dict[str, Any]:
    reply = proxy.answer({"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
    assert "error" in reply, reply
    return dict(reply["error"])


def rpc_result(proxy: PoaProxy, method: str, params: list[Any]) -> Any:
    reply = proxy.answer({"jsonrpc": "2.0", "id": 7, "method": method, "params": params})
    assert "result" in reply, reply
    return reply["result"]


# -- the proxy is the client it claims to be -------------------------------------------------------
def test_poa_proxy_answers_as_ethereumjs_does_on_clique(proxy: PoaProxy, book: Lifecycle, anvil_w3: Web3) -> None:
    from web3.exceptions import ExtraDataLengthError

    invoice_id = int(book.issue_invoice("PROXY-1", "10.00", DUE)["invoice_id"])
    proxy.quirks = set(CLIQUE)
    head = anvil_w3.eth.block_number
    block = rpc_result(proxy, "eth_getBlockByNumber", ["latest", False])
    assert (block["extraData"], block["baseFeePerGas"]) == (EXTRA_DATA, "0x7")
    assert len(bytes.fromhex(EXTRA_DATA[2:])) == 97
    with pytest.raises(ExtraDataLengthError):  # what `scf deploy` met on the real client
        Web3(Web3.HTTPProvider(proxy.url)).eth.get_block("latest")
    assert rpc_error(proxy, "eth_maxPriorityFeePerGas", [])["code"] == -32601
    assert rpc_error(proxy, "eth_estimateGas", [{"to": book.ledger.invoices.address}])["code"] == -32603
    get_invoice = book.ledger.invoices.functions.getInvoice(999999)._encode_transaction_data()
    answer = rpc_result(proxy, "eth_call", [{"to": book.ledger.invoices.address, "data": get_invoice}, "latest"])
    assert answer.startswith("0x") and len(answer) == 2 + 8 + 64  # InvoiceNotFound(uint256), as a result
    proxy.quirks.add("no_revert_data")
    assert rpc_result(proxy, "eth_call", [{"to": book.ledger.invoices.address, "data": get_invoice}, "latest"]) == "0x"
    assert rpc_error(proxy, "eth_getBlockByNumber", ["pending", False])["code"] == -32602
    assert rpc_error(proxy, "eth_getBlockByNumber", ["finalized", False])["code"] == -39001
    assert rpc_error(proxy, "eth_getBlockByNumber", [hex(head + 1), False])["code"] == -32602
    supplier = book.addr("supplier")
    assert int(rpc_result(proxy, "eth_getTransactionCount", [supplier, "pending"]), 16) > 0
    logs = {"address": book.ledger.invoices.address, "fromBlock": "0x0", "toBlock": hex(head + 1)}
    assert "toBlock" in rpc_error(proxy, "eth_getLogs", [logs])["message"]
    # Topic 1 (the invoice id) is not applied: every invoice's InvoiceIssued comes back.
    issued = book.ledger.invoices.events.InvoiceIssued().topic
    only_1 = {**logs, "toBlock": "latest", "topics": [issued, "0x" + (1).to_bytes(32, "big").hex()]}
    ids = {int(log["topics"][1], 16) for log in rpc_result(proxy, "eth_getLogs", [only_1])}
    assert {1, invoice_id} <= ids
    tx = anvil_w3.eth.get_block("latest")["transactions"][0]
    not_yet = rpc_error(proxy, "eth_getTransactionReceipt", [Web3.to_hex(tx)])  # type: ignore[arg-type]
    assert not_yet["code"] == -32603 and "not found in DB" in not_yet["message"]
    receipt = rpc_result(proxy, "eth_getTransactionReceipt", [Web3.to_hex(tx)])  # type: ignore[arg-type]
    assert "type" not in receipt and receipt["status"] == "0x1"
    first = ["eth_maxPriorityFeePerGas", "eth_estimateGas", "eth_getBlockByNumber"]
    assert [c.method for c in proxy.refused][:3] == first


# -- extraData -------------------------------------------------------------------------------------
def test_poa_extra_data_blocks_are_read_and_an_invoice_is_issued(proxy: PoaProxy, cli: Any) -> None:
    from ledger.evm.chain import connect

    proxy.quirks = {"extra_data"}
    block = connect(proxy.url).eth.get_block("latest")
    assert len(block["proofOfAuthorityData"]) == 97
    invoice_id = issue(cli, "POA-X-1")
    shown = as_json(cli("invoice", "show", str(invoice_id), "--json"))
    assert (shown["number"], shown["status"], shown["amount"]) == ("POA-X-1", "Issued", "1000.00")
    assert shown["issued_at"] is not None  # the block of its InvoiceIssued event was read


# -- fees ------------------------------------------------------------------------------------------
def test_poa_fees_without_a_suggested_tip_pay_the_least_tip_over_twice_the_base_fee(
    chain: Any, proxy: PoaProxy, base_deployment: Any, acct: Any, anvil_w3: Web3
) -> None:
    proxy.quirks = {"no_priority_fee", "base_fee"}
    ledger = proxied(chain, proxy, base_deployment)
    done = ledger.issue(acct("supplier"), BUYER, "POA-FEE-1", "1000.00", "HKD", DUE)
    tx = anvil_w3.eth.get_transaction(done["tx_hash"])
    assert tx["type"] == 2
    assert (tx["maxPriorityFeePerGas"], tx["maxFeePerGas"]) == (MIN_TIP, 2 * 7 + MIN_TIP)
    assert "eth_gasPrice" not in proxy.methods()  # an EIP-1559 transaction, fees stated


# -- no eth_estimateGas ----------------------------------------------------------------------------
@pytest.mark.parametrize("quirks", [{"no_estimate"}, set(CLIQUE)], ids=["no-estimate", "clique"])
def test_poa_without_estimate_gas_the_lifecycle_sends_half_a_block_of_gas(
    quirks: set[str], proxy: PoaProxy, cli: Any, anvil_w3: Web3, anvil_url: str
) -> None:
    """Issue, cancel, confirm, offer, finance and repay through the CLI (indexed
    through the node after the first and the last, as on the dev chain), then verify."""
    proxy.quirks = set(quirks)
    invoice_id = issue(cli, "POA-GAS-1", "10000.00")
    ok(cli("invoice", "cancel", str(issue(cli, "POA-GAS-2", "5.00")), "--no-sync"))  # burnt: ownerOf reverts
    ok(cli("invoice", "confirm", str(invoice_id), "--as", "buyer", "--no-sync"))
    ok(cli("invoice", "offer", str(invoice_id), "--to", FINANCIER, "--min-advance", "9000.00", "--no-sync"))
    financing = as_json(cli("invoice", "finance", str(invoice_id), "--advance", "9000.00", "--no-sync", "--json"))
    repaid = as_json(cli("invoice", "repay", str(invoice_id), "--amount", "1000.00", "--as", "buyer", "--json"))
    half = int(anvil_w3.eth.get_block("latest")["gasLimit"]) // 2
    sent = [Web3.to_hex(keccak(hexstr=c.params[0])) for c in proxy.calls if c.method == "eth_sendRawTransaction"]
    assert {financing["tx_hash"], repaid["tx_hash"]} <= set(sent) and len(sent) >= 7
    assert [anvil_w3.eth.get_transaction(h)["gas"] for h in sent] == [half] * len(sent)
    assert [anvil_w3.eth.get_transaction_receipt(h)["status"] for h in sent] == [1] * len(sent)
    assert "eth_estimateGas" in [c.method for c in proxy.refused]
    shown = as_json(cli("invoice", "show", str(invoice_id), "--json", rpc=anvil_url))
    assert (shown["status"], shown["holder"]["name"], shown["paid"]) == ("PartiallyPaid", FINANCIER, "1000.00")
    assert "mismatch" not in ok(cli("verify")).lower()


def _refusals(book: Lifecycle) -> list[tuple[tuple[str, ...], str]]:
    """Three changes the contract refuses (not the CLI's own checks), with words of the rule."""
    taken = financed(book, "POA-REF-1")
    return [
        (
            ("invoice", "finance", str(taken), "--advance", "9000.00", "--as", "financier2"),
            "is already financed (sold by",
        ),
        (issue_args("poa ref 0001", "5.00"), "duplicate invoice: "),
        (
            ("invoice", "repay", str(taken), "--amount", "1.00", "--as", "buyer2"),
            "is not the buyer of invoice",
        ),
    ]


@pytest.mark.parametrize("quirks", [{"no_estimate"}, WORST, set(CLIQUE)], ids=["no-estimate", "worst", "clique"])
def test_poa_refused_changes_name_the_rule_and_change_nothing(
    quirks: set[str], proxy: PoaProxy, cli: Any, book: Lifecycle, anvil_w3: Web3, anvil_url: str, db_file: str
) -> None:
    cases = _refusals(book)
    ok(cli("index", "sync"))
    for args, words in cases:
        on_anvil = cli(*args, rpc=anvil_url)
        assert on_anvil.exit_code == 1, on_anvil.output
        proxy.quirks = set(quirks)
        head, tables = anvil_w3.eth.block_number, db_digest(db_file)
        result = cli(*args)
        proxy.quirks = set()
        line = refused(result, 1)
        assert line == on_anvil.stderr, (args, line)
        assert words in line and "reverted" not in line, line
        assert (anvil_w3.eth.block_number, db_digest(db_file)) == (head, tables), args
    assert "eth_sendRawTransaction" not in proxy.methods()


@pytest.mark.parametrize("quirks", [{"revert_as_result"}, set(CLIQUE)], ids=["revert-as-result", "clique"])
def test_poa_reads_that_revert_still_decode(
    quirks: set[str], proxy: PoaProxy, cli: Any, book: Lifecycle, anvil_url: str, tmp_path: Path
) -> None:
    cancelled = int(book.issue_invoice("POA-READ-1", "5.00", DUE)["invoice_id"])
    book.cancel(cancelled)  # burnt: ownerOf reverts
    proxy.quirks = set(quirks)
    refused(cli("invoice", "show", "999999"), 2, UNKNOWN)
    refused(cli("invoice", "confirm", "999999", "--as", "buyer"), 2, UNKNOWN)
    shown = as_json(cli("invoice", "show", str(cancelled), "--json"))
    assert shown == as_json(cli("invoice", "show", str(cancelled), "--json", rpc=anvil_url))
    assert (shown["status"], shown["holder"]) == ("Cancelled", None)
    sign = ("invoice", "sign-confirmation", "999999", "--as", "buyer", "--out")
    through, direct = cli(*sign, str(tmp_path / "a.jsonl")), cli(*sign, str(tmp_path / "b.jsonl"), rpc=anvil_url)
    assert (through.exit_code, through.output) == (direct.exit_code, direct.output)
    assert (through.exit_code, through.stderr) == (2, f"Error: {UNKNOWN}\n")


def test_poa_a_duplicate_number_is_refused_before_sending_when_the_node_gives_no_reason(
    proxy: PoaProxy, cli: Any, book: Lifecycle, anvil_w3: Web3, db_file: str
) -> None:
    """``issue`` judges the one-number-once rule itself (``invoiceIdOf``), so a
    node that cannot simulate still gets the contract's words, and nothing is sent."""
    book.issue_invoice("POA-EMPTY-2", "5.00", DUE)
    ok(cli("index", "sync"))
    proxy.quirks = set(CLIQUE) | {"no_revert_data"}
    head, tables = anvil_w3.eth.block_number, db_digest(db_file)
    line = refused(cli(*issue_args("poa empty 2", "6.00")), 1)
    assert line.startswith("Error: duplicate invoice: ") and "'POAEMPTY2'" in line, line
    assert anvil_w3.eth.block_number == head
    assert db_digest(db_file) == tables


def test_poa_a_revert_the_node_gives_no_reason_for_says_what_the_cli_checked(
    proxy: PoaProxy, cli: Any, book: Lifecycle, anvil_w3: Web3, db_file: str
) -> None:
    """A node that cannot estimate and answers a reverting eth_call with "0x"
    (ethereumjs, when the revert carries no data or the node drops it): the
    simulation cannot tell (``confirm`` returns nothing, so "0x" is also its
    success), the transaction is sent and reverts; the CLI says so in one
    line, naming what it checked, and records nothing."""
    invoice_id = int(book.issue_invoice("POA-EMPTY-1", "5.00", DUE)["invoice_id"])
    book.confirm(invoice_id)
    args = ("invoice", "confirm", str(invoice_id), "--as", "buyer")
    ok(cli("index", "sync"))
    proxy.quirks = set(CLIQUE) | {"no_revert_data"}
    head, tables = anvil_w3.eth.block_number, db_digest(db_file)
    line = refused(cli(*args), 1)
    assert line.startswith("Error: transaction 0x") and " reverted in block " in line, line
    assert "the node gave no reason" in line and "simulated" in line, line
    assert anvil_w3.eth.block_number == head + 1  # mined and reverted: it changed nothing but the nonce
    receipt = anvil_w3.eth.get_transaction_receipt(HexStr(line.split()[2]))
    assert (receipt["status"], receipt["blockNumber"]) == (0, head + 1)
    assert db_digest(db_file) == tables


# -- block tags ------------------------------------------------------------------------------------
def test_poa_without_pending_safe_or_finalized_sending_and_indexing_work(
    chain: Any, proxy: PoaProxy, base_deployment: Any, acct: Any, tmp_path: Path
) -> None:
    from support.indexer import snapshot

    from ledger.indexer import dispose_engines, sync

    proxy.quirks = {"tags"}
    ledger = proxied(chain, proxy, base_deployment)
    invoice_id = ledger.issue(acct("supplier"), BUYER, "POA-TAG-1", "1000.00", "HKD", DUE)["invoice_id"]
    ledger.confirm(acct("buyer"), invoice_id)
    assert ledger.show(invoice_id)["status"] == "Confirmed"
    through, direct = (f"sqlite:///{tmp_path / name}.db" for name in ("through", "direct"))
    try:
        sync(replace(chain.settings, rpc_url=proxy.url, db_url=through))
        sync(replace(chain.settings, db_url=direct))
    finally:
        dispose_engines()
    assert snapshot(through) == snapshot(direct)
    assert proxy.refused == []


# -- eth_getLogs: the head, the range, topic 0 ------------------------------------------------------
def _logs_within_head(proxy: PoaProxy) -> None:
    queries = [(str(c.params[0].get("toBlock")), c.head) for c in proxy.log_queries()]
    asked = [(int(to, 16), head) for to, head in queries if head is not None and to.startswith("0x")]
    assert asked, "no eth_getLogs went through the proxy"
    over = [(to, head) for to, head in asked if to > head]
    assert over == []
    assert [c.error for c in proxy.refused if c.method == "eth_getLogs"] == []


@pytest.mark.parametrize("quirks", [{"logs_to_head"}, set(CLIQUE)], ids=["logs-to-head", "clique"])
def test_poa_index_sync_and_verify_never_ask_past_the_head(
    quirks: set[str], scenario: Any, proxy: PoaProxy, cli: Any, home_copy: Any, db_file: str, tmp_path: Path
) -> None:
    from support.indexer import snapshot

    from ledger.indexer import dispose_engines, sync

    proxy.quirks = set(quirks)
    ok(cli("index", "sync"))
    _logs_within_head(proxy)
    assert "mismatch" not in ok(cli("verify")).lower()
    _logs_within_head(proxy)
    direct = f"sqlite:///{tmp_path / 'direct.db'}"
    try:
        sync(replace(home_copy.settings, db_url=direct))
    finally:
        dispose_engines()
    assert snapshot(db_file) == snapshot(direct)


def test_poa_index_sync_splits_ranges_the_node_limits(scenario: Any, proxy: PoaProxy, cli: Any) -> None:
    """ethereumjs refuses eth_getLogs over more than 2,500 blocks ("block range
    limit is 2500 blocks"); here the limit is 3 blocks on the small chain."""
    proxy.quirks = {"range_limit", "logs_to_head"}
    proxy.range_limit = 3
    ok(cli("index", "sync"))
    assert "mismatch" not in ok(cli("verify")).lower()


@pytest.mark.parametrize("known", [False, True], ids=["by-count", "by-client"])
def test_poa_index_sync_loses_no_event_when_the_node_cuts_answers_short(
    known: bool,
    scenario: Any,
    proxy: PoaProxy,
    cli: Any,
    home_copy: Any,
    db_file: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A node cuts answers after 5 logs here, on the scenario's few dozen.
    By count: an unknown node's answer of ``SILENT_LOG_CAP`` logs (here 5) that
    ends early is taken as whole only up to the block before its last log's.
    By client: ethereumjs also cuts at 150 MB of its own accounting, well under
    10,000 logs, so its answers are trusted only up to their last block."""
    from support.indexer import snapshot

    from ledger.evm import rpc
    from ledger.indexer import dispose_engines, sync

    if not known:
        monkeypatch.setattr(rpc, "SILENT_LOG_CAP", 5)
    proxy.quirks = {"logs_cap", "client_version"} if known else {"logs_cap"}
    proxy.logs_cap = 5
    result = cli("index", "sync")
    assert result.exit_code == 0, result.output
    assert "mismatch" not in ok(cli("verify")).lower()
    direct = f"sqlite:///{tmp_path / 'direct.db'}"
    try:
        sync(replace(home_copy.settings, db_url=direct))
    finally:
        dispose_engines()
    # Either every event is indexed, or the sync says it could not be (never a silent gap).
    if result.exit_code == 0:
        assert snapshot(db_file) == snapshot(direct)
    else:
        refused(result, 3)


def test_poa_invoice_show_counts_only_its_own_remedies_when_the_node_applies_topic_0_only(
    proxy: PoaProxy, cli: Any, book: Lifecycle, acct: Any, anvil_url: str
) -> None:
    """Its credit notes come from one eth_getLogs filtered by invoice id (topic 1)."""
    mine = int(book.issue_invoice("POA-T0-1", "1000.00", DUE)["invoice_id"])
    other = int(book.issue_invoice("POA-T0-2", "2000.00", DUE)["invoice_id"])
    for invoice_id in (mine, other):
        book.confirm(invoice_id)
    book.ledger.credit_note(acct("supplier"), other, "150.00", "CN-1")
    book.repay(other, "100.00")
    book.repay(mine, "10.00")
    proxy.quirks = {"topic0_only"}
    for invoice_id, credited in ((mine, "0.00"), (other, "150.00")):
        shown = as_json(cli("invoice", "show", str(invoice_id), "--json"))
        assert shown == as_json(cli("invoice", "show", str(invoice_id), "--json", rpc=anvil_url))
        assert (shown["number"], shown["credited"]) == (f"POA-T0-{1 if invoice_id == mine else 2}", credited)


def _rows(path: Path) -> list[tuple[str, str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [(r["number"], r["status"], r["invoice_id"]) for r in csv.DictReader(handle)]


def _csv(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_poa_import_finds_only_its_own_numbers_when_the_node_applies_topic_0_only(
    proxy: PoaProxy, cli: Any, book: Lifecycle, tmp_path: Path
) -> None:
    book.issue_invoice("POA-IMP-1", "70.00", DUE, supplier="supplier2")  # another supplier's number
    ours = int(book.issue_invoice("POA-IMP-2", "80.00", DUE)["invoice_id"])
    proxy.quirks = {"topic0_only"}
    export = _csv(
        tmp_path / "export.csv",
        "number,buyer,amount,due_date",
        [f"POA-IMP-{i},{BUYER},{60 + 10 * i}.00,{DUE}" for i in (1, 2)],
    )
    out = tmp_path / "import.csv"
    ok(cli("invoice", "import", str(export), "--as", "supplier", "--result", str(out)))
    assert _rows(out) == [("POA-IMP-1", "issued", str(ours + 1)), ("POA-IMP-2", "already issued", str(ours))]


def test_poa_approve_finds_only_invoices_to_its_buyer_when_the_node_applies_topic_0_only(
    proxy: PoaProxy, cli: Any, book: Lifecycle, tmp_path: Path
) -> None:
    ours = int(book.issue_invoice("POA-APP-1", "90.00", DUE)["invoice_id"])
    theirs = int(book.issue_invoice("POA-APP-2", "80.00", DUE, buyer="Kwai Chung Logistics Ltd")["invoice_id"])
    proxy.quirks = {"topic0_only"}
    payables = _csv(
        tmp_path / "payables.csv",
        "supplier,number,amount,due_date",
        [f"supplier,POA-APP-{i},{10 - i}0.00,{DUE}" for i in (1, 2)],
    )
    out = tmp_path / "approved.csv"
    ok(cli("invoice", "approve", str(payables), "--as", "buyer", "--result", str(out)))
    assert _rows(out) == [("POA-APP-1", "confirmed", str(ours)), ("POA-APP-2", "unknown", "")]
    assert [book.ledger.invoice_state(i).status_name for i in (ours, theirs)] == ["Confirmed", "Issued"]
    # Nor does the buyer sign a confirmation of another buyer's invoice.
    sign = cli("invoice", "sign-confirmation", str(theirs), "--as", "buyer", "--out", str(tmp_path / "s.jsonl"))
    buyer = f"{BUYER} (0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC)"
    refused(sign, 2, f"invoice {theirs} is not addressed to {buyer}: nothing was signed")
    assert not (tmp_path / "s.jsonl").exists()


# -- receipts --------------------------------------------------------------------------------------
def test_poa_receipts_without_type_are_accepted(chain: Any, proxy: PoaProxy, base_deployment: Any, acct: Any) -> None:
    proxy.quirks = {"receipt_no_type"}
    ledger = proxied(chain, proxy, base_deployment)
    invoice_id = ledger.issue(acct("supplier"), BUYER, "POA-RCPT-1", "1000.00", "HKD", DUE)["invoice_id"]
    assert ledger.confirm(acct("buyer"), invoice_id)["status"] == "Confirmed"
    assert "eth_getTransactionReceipt" in proxy.methods()


# -- ERP intake without gas estimates --------------------------------------------------------------
def test_poa_intake_batches_without_estimates_fit_the_costliest_items(
    proxy: PoaProxy, cli: Any, anvil_w3: Web3, tmp_path: Path
) -> None:
    """With no ``eth_estimateGas`` the batches take the stated gas per item
    (``intake.ITEM_GAS_BOUND``): the costliest items (64-character numbers, the
    supplier's first invoices) are issued, approved and confirmed on signatures in
    batches of many, and no item uses more than its bound over the margin."""
    from ledger.intake import GAS_MARGIN, ITEM_GAS_BOUND

    proxy.quirks = set(CLIQUE)
    rows = 12
    numbers = [f"{i:02d}-" + "X" * 61 for i in range(rows)]  # 64 characters, all kept by normalising
    export = tmp_path / "export.csv"
    export.write_text(
        "number,buyer,amount,due_date\n" + "".join(f"{n},{BUYER},{i + 1}00.00,{DUE}\n" for i, n in enumerate(numbers)),
        encoding="utf-8",
    )
    half = rows // 2
    approved, signed = tmp_path / "approved.csv", tmp_path / "signed.csv"
    for path, part in ((approved, numbers[:half]), (signed, numbers[half:])):
        path.write_text(
            "supplier,number,amount,due_date\n"
            + "".join(f"supplier2,{n},{numbers.index(n) + 1}00.00,{DUE}\n" for n in part),
            encoding="utf-8",
        )
    head = anvil_w3.eth.block_number
    ok(cli("invoice", "import", str(export), "--as", "supplier2", "--batch-size", str(rows)))
    ok(cli("invoice", "approve", str(approved), "--as", "buyer"))
    ok(
        cli(
            "invoice",
            "sign-confirmation",
            "--payables",
            str(signed),
            "--as",
            "buyer",
            "--out",
            str(tmp_path / "s.jsonl"),
        )
    )
    ok(cli("invoice", "confirm", "--signatures", str(tmp_path / "s.jsonl"), "--as", "operator"))
    sent = [
        tx
        for n in range(head + 1, anvil_w3.eth.block_number + 1)
        for tx in anvil_w3.eth.get_block(n, full_transactions=True)["transactions"]
    ]
    assert len(sent) == 3, [tx["hash"].hex() for tx in sent]  # one batch each: no split for want of gas
    for tx, name, items in zip(
        sent, ("issueBatch", "confirmBatch", "confirmWithSignatures"), (rows, half, half), strict=True
    ):
        receipt = anvil_w3.eth.get_transaction_receipt(tx["hash"])
        assert receipt["status"] == 1
        assert receipt["gasUsed"] / items * GAS_MARGIN <= ITEM_GAS_BOUND[name], (name, receipt["gasUsed"] / items)
        assert tx["gas"] >= items * ITEM_GAS_BOUND[name]


# -- calls at time 0 -------------------------------------------------------------------------------
def test_poa_a_rule_of_time_the_simulation_cannot_see_leaves_nothing_half_done(
    proxy: PoaProxy, cli: Any, book: Lifecycle, anvil_w3: Web3, db_file: str
) -> None:
    """The client runs calls at time 0, where a lapsed KYC has not lapsed: the
    simulation of ``finance`` shows only the missing allowance, the CLI
    approves, and the chain refuses the financing. The approval is taken back
    (the earlier allowance restored) and the message says a rule of time cannot
    be named here; the database is as it was."""
    invoice_id = int(book.issue_invoice("POA-KYC-1", "5000.00", DUE)["invoice_id"])
    book.confirm(invoice_id)
    book.offer(invoice_id, FINANCIER, "4000.00")
    registry, financier = book.ledger.registry, book.addr("financier")
    soon = int(anvil_w3.eth.get_block("latest")["timestamp"]) + 3600
    book.ledger.sender.transact(registry.functions.updateParticipant(financier, 4, soon), book.acct("operator"))
    book.travel(2 * 3600)  # the financier's KYC has lapsed
    ok(cli("index", "sync"))
    token = book.ledger.token(book.ledger.deployment.currency("HKD"))
    spender = book.ledger.invoices.address
    earlier = int(token.functions.allowance(financier, spender).call())
    proxy.quirks = set(CLIQUE)
    tables = db_digest(db_file)
    finance = ("invoice", "finance", str(invoice_id), "--as", "financier", "--advance", "4500.00")
    line = refused(cli(*finance), 1)
    assert " reverted in block " in line and "a rule of time cannot be named" in line, line
    assert int(token.functions.allowance(financier, spender).call()) == earlier
    assert book.ledger.invoice_state(invoice_id).status_name == "Confirmed"
    assert db_digest(db_file) == tables
    proxy.quirks = set()
    assert "KYC of participant" in refused(cli(*finance), 1)  # where calls see the clock, the rule is named


@pytest.mark.parametrize("case", ["matured", "no-listing"])
def test_poa_finance_judges_its_rules_of_time_before_approving(
    case: str, proxy: PoaProxy, cli: Any, book: Lifecycle, anvil_w3: Web3
) -> None:
    """A matured invoice, or one with no listing for the financier, passes a
    simulation at time 0; the CLI judges these rules at the chain's time itself,
    in the contract's words, and sends nothing (no approval either)."""
    invoice_id = int(
        book.issue_invoice("POA-FIN-" + case, "5000.00", dt.date.today() + dt.timedelta(days=3))["invoice_id"]
    )
    book.confirm(invoice_id)
    if case == "matured":
        book.offer(invoice_id, FINANCIER, "4000.00")
        book.travel(10 * 86400)
    proxy.quirks = set(CLIQUE)
    head = anvil_w3.eth.block_number
    line = refused(cli("invoice", "finance", str(invoice_id), "--as", "financier", "--advance", "4500.00"), 1)
    expected = "can no longer be financed" if case == "matured" else "has no live listing"
    assert expected in line, line
    assert anvil_w3.eth.block_number == head


def test_poa_show_names_and_fund_read_the_chain_in_ranges_the_node_allows(
    proxy: PoaProxy, cli: Any, book: Lifecycle, anvil_w3: Web3
) -> None:
    """ethereumjs refuses eth_getLogs over 2,500 blocks (here 3): `scf invoice
    show` (its issue event, its remedies, the parties' names) and `scf account
    fund` (a participant's name) still read the chain, in ranges it accepts."""
    invoice_id = int(book.issue_invoice("POA-RANGE-1", "1000.00", DUE)["invoice_id"])
    book.confirm(invoice_id)
    book.repay(invoice_id, "10.00")
    for _ in range(8):  # the deployment lies well over 3 blocks back
        anvil_w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    proxy.quirks = {"range_limit", "logs_to_head", "client_version"}
    proxy.range_limit = 3
    shown = as_json(cli("invoice", "show", str(invoice_id), "--json"))
    assert (shown["number"], shown["paid"], shown["buyer"]["name"]) == ("POA-RANGE-1", "10.00", BUYER)
    buyer = book.addr("buyer")
    before = anvil_w3.eth.get_balance(buyer)  # type: ignore[arg-type]
    ok(cli("account", "fund", BUYER, "--amount", "1", "--as", "operator"))
    ok(cli("account", "fund", buyer, "--amount", "1", "--as", "operator"))
    assert anvil_w3.eth.get_balance(buyer) == before + 2 * 10**18  # type: ignore[arg-type]
    assert any(c.method == "eth_getLogs" for c in proxy.calls) and proxy.refused
