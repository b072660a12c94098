"""Faults on the sending side (issue 18), each through the `scf` command line:
the node going away before or after it took a signing command's
transaction; a transaction not mined (a node that does not mine, a fee below
the base fee) and the way out, `scf tx replace` and `scf tx cancel`; another
sender taking the nonce; two `scf` processes sending as one account at once.

Every fault ends in one line that names the transaction and what to do (exit
3, the node's family), and the chain is checked afterwards: the transaction
mined once, or not at all. Node faults are played by a proxy in front of the
test chain (support.indexer's RpcProxy, with hooks on chosen calls); a
transaction is kept waiting by turning the chain's automine off."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner, Result
from eth_utils import keccak
from support.bad_input import Guard, save_pristine
from support.bad_input_tx import TX_BAD_INPUT
from support.cli import SCF, SUPPLIER, refused
from support.indexer import RpcProxy, rpc, wait_for
from web3 import Web3

from ledger.cli import main
from ledger.evm.accounts import DEV_NAMES, dev_account
from ledger.names import DEV_ADDRESSES

SUPPLIER_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
BUYER = "Tsuen Wan Electronics Ltd"
#: `scf invoice issue` as the supplier, without indexing afterwards (these tests read the chain).
ISSUE = ("invoice", "issue", "--as", "supplier", "--buyer", "buyer", "--amount", "1000.00", "--due", "2099-01-31")
ISSUE += ("--no-sync",)
#: A base fee far above what the test chain (base fee 0) had when a transaction was priced: 1000 gwei.
HIGH_BASE_FEE = 10**12


def scf_in(home: Path, url: str, *args: str, timeout: float | None = None) -> Result:
    """`scf --home HOME --rpc-url URL ARGS` in-process; ``timeout``: SCF_TX_TIMEOUT."""
    env = {} if timeout is None else {"SCF_TX_TIMEOUT": f"{timeout:g}"}
    return CliRunner().invoke(main, ["--home", str(home), "--rpc-url", url, *args], env=env)


def issue(home: Path, url: str, number: str, timeout: float | None = None) -> Result:
    return scf_in(home, url, *ISSUE, "--number", number, timeout=timeout)


def hash_of(raw: str) -> str:
    """The hash of a signed transaction, as sent (0x and hex)."""
    return "0x" + keccak(hexstr=raw).hex()


def named_tx(result: Result, after: str) -> str:
    """The transaction hash an error line names right after ``after``."""
    assert after in result.stderr, f"exit {result.exit_code}: {result.output!r}"
    return str(result.stderr.split(after, 1)[1].split()[0])


def nonces(w3: Web3) -> tuple[int, int]:
    """The supplier's mined and pending transaction counts."""
    return (
        int(w3.eth.get_transaction_count(SUPPLIER_ADDRESS, "latest")),
        int(w3.eth.get_transaction_count(SUPPLIER_ADDRESS, "pending")),
    )


def invoice_id(ledger: Any, number: str) -> int:
    """The id the supplier's invoice ``number`` has on chain (0: not issued)."""
    return int(ledger.invoices.functions.invoiceIdOf(SUPPLIER_ADDRESS, number).call())


def mine_again(url: str) -> None:
    """Automine on again: Anvil mines what waits in its pool at once."""
    rpc(url, "evm_setAutomine", [True])


class Node(RpcProxy):
    """The test chain behind a proxy that runs a hook before or after a chosen
    call (once): the node going away (:meth:`go_away`, its port closed),
    another sender, a base fee that rises. Records the raw transactions it
    forwarded."""

    port_closed = False

    def __init__(self, upstream: str) -> None:
        self.before: dict[str, Callable[[dict[str, Any]], bool]] = {}
        self.after: dict[str, Callable[[dict[str, Any]], bool]] = {}
        self.sent: list[str] = []
        super().__init__(upstream)

    def handle(self, call: dict[str, Any]) -> dict[str, Any]:
        method = call["method"]
        if method in self.before and self.before[method](call):
            del self.before[method]
        reply = super().handle(call)
        if method == "eth_sendRawTransaction":
            self.sent.append(call["params"][0])
        if method in self.after and self.after[method](call):
            del self.after[method]
        return reply

    def go_away(self, *_call: Any) -> bool:
        """Close the port: later calls are refused (this one is still answered)."""
        self.close()
        self.port_closed = True
        return True

    def resume(self) -> None:
        """Listen again on the same port; closing looks for a stop every 50 ms (not 0.5 s)."""
        self.port_closed = False
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self.handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def mine_each_send(self) -> None:
        """Mine a block after each transaction forwarded, only then (automine
        on again would mine what waits in the pool first)."""
        self.after["eth_sendRawTransaction"] = lambda _call: rpc(self.upstream, "evm_mine") and False


@pytest.fixture()
def node(chain: Any) -> Iterator[Node]:
    proxy = Node(chain.rpc_url)
    yield proxy
    if not proxy.port_closed:
        proxy.close()


@pytest.fixture()
def held(chain: Any) -> Iterator[str]:
    """The session chain with automine off: a transaction sent waits in the pool
    until the test turns it on again. Afterwards the pool is emptied, the chain
    reverted and the next base fee put back to 0 (a revert keeps a base fee set
    with anvil_setNextBlockBaseFeePerGas, which would leak into later tests)."""
    url = chain.rpc_url
    snapshot = rpc(url, "evm_snapshot")
    rpc(url, "evm_setAutomine", [False])
    try:
        yield url
    finally:
        rpc(url, "anvil_dropAllTransactions")
        rpc(url, "evm_setAutomine", [True])
        assert rpc(url, "evm_revert", [snapshot]) is True
        rpc(url, "anvil_setNextBlockBaseFeePerGas", ["0x0"])
        assert rpc(url, "eth_feeHistory", ["0x1", "latest", []])["baseFeePerGas"] == ["0x0", "0x0"]


# -- the node going away ---------------------------------------------------------------------------
def test_faults_node_gone_after_sending_names_the_transaction_and_it_is_mined_once(
    home_copy: Any, ledger: Any, node: Node
) -> None:
    """The node takes the transaction, then goes away before its receipt: the
    command names the hash and says to look it up once the node is back; it
    was mined once, and sending the same invoice again is refused."""
    before = nonces(ledger.w3)
    node.after["eth_sendRawTransaction"] = node.go_away
    result = issue(home_copy.home, node.url, "INV-GONE-1", timeout=1)
    assert len(node.sent) == 1
    tx = hash_of(node.sent[0])
    refused(
        result,
        3,
        f"transaction {tx} was sent, but the node at {node.url} went away before it was mined (connection "
        f"refused); it may be mined all the same: once the node is back, see `scf tx show {tx}` before "
        "sending it again",
    )

    node.resume()
    shown = scf_in(home_copy.home, node.url, "tx", "show", tx)
    assert shown.exit_code == 0, shown.output
    block = int(ledger.w3.eth.get_transaction_receipt(tx)["blockNumber"])
    assert shown.stdout == (
        f"transaction {tx}: mined in block {block}, succeeded; nonce {before[0]} of {SUPPLIER_ADDRESS}\n"
    )
    assert nonces(ledger.w3) == (before[0] + 1, before[0] + 1)  # one transaction, mined once
    assert invoice_id(ledger, "INV-GONE-1") > 0
    again = issue(home_copy.home, node.url, "INV-GONE-1")
    assert refused(again, 1).startswith("Error: duplicate invoice: ")


def test_faults_node_back_within_the_wait_the_command_ends_as_usual(home_copy: Any, ledger: Any, node: Node) -> None:
    """A node that restarts while the command waits for the receipt (here for
    longer than web3's own retries) is waited for, up to the transaction timeout."""
    before = nonces(ledger.w3)

    def away_for_a_moment(_call: dict[str, Any]) -> bool:
        threading.Timer(2.2, node.resume).start()  # longer than web3's own retries (1.9 s)
        return node.go_away()

    node.after["eth_sendRawTransaction"] = away_for_a_moment
    result = issue(home_copy.home, node.url, "INV-GONE-3", timeout=10)
    assert result.exit_code == 0, result.output
    assert not node.port_closed
    assert invoice_id(ledger, "INV-GONE-3") > 0
    assert nonces(ledger.w3) == (before[0] + 1, before[0] + 1)


def test_faults_node_gone_before_sending_sends_nothing_and_the_command_runs_again(
    home_copy: Any, ledger: Any, node: Node
) -> None:
    """The node goes away after the nonce was read, before the signed
    transaction reaches it: nothing was sent (the node does not know the
    hash, the nonce is unused, no invoice), and the same command then works."""
    before = nonces(ledger.w3)
    node.after["eth_getTransactionCount"] = lambda call: call["params"][1] == "pending" and node.go_away()
    result = issue(home_copy.home, node.url, "INV-GONE-2", timeout=1)
    tx = named_tx(result, "before transaction ")
    refused(
        result,
        3,
        f"the node at {node.url} went away before transaction {tx} reached it (connection refused): nothing "
        f"was sent; once the node is back (`scf tx show {tx}` says unknown), run the command again",
    )
    assert node.sent == []

    node.resume()
    shown = json.loads(scf_in(home_copy.home, node.url, "tx", "show", tx, "--json").stdout)
    assert shown["status"] == "unknown"
    assert nonces(ledger.w3) == before
    assert invoice_id(ledger, "INV-GONE-2") == 0
    assert issue(home_copy.home, node.url, "INV-GONE-2").exit_code == 0
    assert invoice_id(ledger, "INV-GONE-2") > 0
    assert nonces(ledger.w3) == (before[0] + 1, before[0] + 1)


#: The JSON-RPC timeout of the commands in the tests where the node takes a send and never answers.
RPC_TIMEOUT = 0.5


def test_faults_node_takes_the_transaction_times_out_then_refuses_may_have_been_sent(
    home_copy: Any, ledger: Any, node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The node takes the transaction (and mines it) but its answer never comes,
    then its port is closed. web3 would send it again after the timeout and report
    only the refusal, which read "nothing was sent; run the command again" (a
    second run would issue twice): a send is tried once, and the line says it may
    have reached the node and to look it up first. It was mined once."""
    from ledger.evm import chain as chain_module

    monkeypatch.setattr(chain_module.connect, "__defaults__", (RPC_TIMEOUT,))
    before = nonces(ledger.w3)
    taken: list[str] = []
    answered = threading.Event()

    def take_then_hang(call: dict[str, Any]) -> bool:
        rpc(node.upstream, "eth_sendRawTransaction", call["params"])  # the node has it (automine: mined)
        taken.append(hash_of(call["params"][0]))
        node.go_away()  # a try after this one is refused
        time.sleep(RPC_TIMEOUT + 0.5)  # the command gives up waiting for this answer
        # The proxy forwards the call once the hook returns: make it harmless, as the chain is
        # reverted after the test (a late second send would be mined in the next test's chain).
        call.update(method="eth_blockNumber", params=[])
        answered.set()
        return True

    node.before["eth_sendRawTransaction"] = take_then_hang
    result = issue(home_copy.home, node.url, "INV-GONE-4", timeout=1)
    assert answered.wait(10)
    [tx] = taken
    refused(
        result,
        3,
        f"the node at {node.url} went away while transaction {tx} was being sent (timed out): it may or may not "
        f"have reached it; once the node is back, see `scf tx show {tx}` before sending it again",
    )
    node.resume()
    assert json.loads(scf_in(home_copy.home, node.url, "tx", "show", tx, "--json").stdout)["status"] == "mined"
    assert nonces(ledger.w3) == (before[0] + 1, before[0] + 1)  # one transaction, mined once
    assert invoice_id(ledger, "INV-GONE-4") > 0


def test_faults_a_bulk_send_cut_after_its_first_batch_says_what_was_sent(ledger: Any, node: Node) -> None:
    """A pipelined run (`scf invoice import` and the like) whose node goes away
    after its first transaction: the second is not sent, and the line says the
    first was (a rerun skips what it did), not "nothing was sent"."""
    from ledger.errors import NodeLost
    from ledger.evm.chain import Sender, connect

    supplier = dev_account(DEV_NAMES.index("supplier"))
    before = nonces(ledger.w3)
    sender = Sender(connect(node.url), ledger.sender.decoder, 5)
    node.after["eth_sendRawTransaction"] = node.go_away
    sent: list[str] = []
    with pytest.raises(NodeLost) as lost:
        sent.extend(sender.send_pipelined(SUPPLIER_ADDRESS, [(b"", 21_000)] * 2, supplier))
    assert len(sent) == 1 and lost.value.sent is False and lost.value.earlier == 1
    assert str(lost.value) == (
        f"the node at {node.url} went away before transaction {lost.value.tx_hash} reached it (connection "
        "refused): nothing of this batch was sent (the 1 transaction(s) this command sent before it were "
        f"sent; running it again skips them); once the node is back (`scf tx show {lost.value.tx_hash}` says "
        "unknown), run the command again"
    )
    assert nonces(ledger.w3) == (before[0] + 1, before[0] + 1)


def test_faults_node_gone_while_a_reverted_transaction_is_explained_is_one_line(
    ledger: Any, node: Node, acct: Any
) -> None:
    """A transaction mined but reverted, and the node gone while the CLI replays it
    to name the rule: still the revert it is (exit 1, it changed nothing), not a crash."""
    from ledger.errors import TransactionReverted
    from ledger.evm.chain import Sender, connect

    supplier = acct("supplier")
    fn = ledger.invoices.functions.cancel(10**9)  # no such invoice: reverts
    data = fn._encode_transaction_data()
    tx = {"chainId": 31337, "to": ledger.invoices.address, "value": 0, "gas": 100_000, "data": data}
    tx.update(nonce=nonces(ledger.w3)[1], maxFeePerGas=0, maxPriorityFeePerGas=0)
    tx_hash = ledger.w3.eth.send_raw_transaction(supplier.sign_transaction(tx).raw_transaction)
    # Anvil mines it at once, but its receipt may be stored a moment after the send returns.
    assert ledger.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)["status"] == 0
    sender = Sender(connect(node.url), ledger.sender.decoder, 5)
    node.after["eth_getTransactionReceipt"] = node.go_away
    replayed = sender.w3.eth.contract(ledger.invoices.address, abi=ledger.invoices.abi).functions.cancel(10**9)
    with pytest.raises(TransactionReverted) as reverted:
        sender.wait(tx_hash, replayed, supplier.address)
    assert str(reverted.value) == (
        f"transaction {tx_hash.to_0x_hex()} reverted in block {ledger.w3.eth.block_number}, which changed nothing "
        f"on chain; the node at {node.url} failed while the CLI asked it why (connection refused); run the "
        "command again once the node answers to see the current rule"
    )


def test_faults_node_gone_while_a_command_reads_is_one_line(home_copy: Any, ledger: Any, node: Node) -> None:
    """The node gone between two reads of `scf tx show` (after the receipt, before
    the transaction) or of `scf account fund` (before anything is signed): one
    line, exit 3, where a raw connection error ended in "internal error" (70)."""
    node.after["eth_getTransactionReceipt"] = node.go_away
    result = scf_in(home_copy.home, node.url, "tx", "show", "0x" + "cd" * 32)
    refused(
        result,
        3,
        f"cannot reach the JSON-RPC endpoint {node.url} (connection refused); start the local chain with "
        "`scf node start` or pass --rpc-url",
    )
    node.resume()
    head = ledger.w3.eth.block_number
    asked: list[str] = []
    # The fund command asks for the chain id twice (connecting, then its Sender), then eth_getCode.
    node.after["eth_chainId"] = lambda _call: (asked.append("chain id"), len(asked) == 2 and node.go_away())[1]
    result = scf_in(home_copy.home, node.url, "account", "fund", SUPPLIER_ADDRESS, "--amount", "1", "--as", "buyer")
    refused(
        result,
        3,
        f"the node at {node.url} went away before anything was signed (connection refused): nothing was sent; "
        "run the command again once the node is back",
    )
    assert ledger.w3.eth.block_number == head


# -- never mined: replace and cancel ---------------------------------------------------------------
def _not_mined(home: Path, url: str, number: str, why: str = "check the node is mining") -> str:
    """`scf invoice issue` on a chain that does not mine it: the one line, checked; the hash."""
    result = issue(home, url, number, timeout=0.5)
    tx = named_tx(result, "Error: transaction ")
    refused(
        result,
        3,
        f"transaction {tx} was not mined within 0.5s: {why}. Look it up with `scf tx show {tx}` before sending "
        "it again: running the command again while it waits sends it a second time, and both would be mined. "
        f"To stop waiting for it, raise its fee with `scf tx replace {tx} --as supplier` or withdraw it with "
        f"`scf tx cancel {tx} --as supplier`",
    )
    return tx


def test_tx_replace_gets_a_transaction_not_mined_in_time_mined_once_at_a_higher_fee(
    home_copy: Any, ledger: Any, held: str, node: Node
) -> None:
    w3 = ledger.w3
    before = nonces(w3)
    tx = _not_mined(home_copy.home, held, "INV-HELD-1")
    shown = scf_in(home_copy.home, held, "tx", "show", tx)
    assert shown.stdout == f"transaction {tx}: pending, nonce {before[0]} of {SUPPLIER_ADDRESS}, not mined yet\n"
    original = w3.eth.get_transaction(tx)

    node.mine_each_send()
    done = scf_in(home_copy.home, node.url, "tx", "replace", tx, "--as", "supplier", "--no-sync", "--json")
    assert done.exit_code == 0, done.output
    replaced = json.loads(done.stdout)
    new = replaced["tx_hash"]
    assert (replaced["replaced"], replaced["nonce"]) == (tx, before[0])
    assert w3.eth.get_transaction_receipt(new)["status"] == 1
    sent = w3.eth.get_transaction(new)
    assert (sent["nonce"], sent["to"], sent["input"]) == (original["nonce"], original["to"], original["input"])
    # Both fees raised by the default 25%, and by at least 1 wei (they were 0 on this chain).
    assert sent["maxFeePerGas"] > original["maxFeePerGas"]
    assert sent["maxPriorityFeePerGas"] > original["maxPriorityFeePerGas"]
    assert replaced["max_fee_per_gas"] == str(sent["maxFeePerGas"])
    assert replaced["fee"] == f"0 gwei -> {sent['maxFeePerGas']} wei per gas", (
        "a zero-fee chain: wei, not 0.000000001 gwei"
    )
    # Mined once: one nonce used, the original gone, the invoice issued once.
    assert nonces(w3) == (before[0] + 1, before[0] + 1)
    assert json.loads(scf_in(home_copy.home, held, "tx", "show", tx, "--json").stdout)["status"] == "unknown"
    assert invoice_id(ledger, "INV-HELD-1") > 0
    assert refused(issue(home_copy.home, node.url, "INV-HELD-1"), 1).startswith("Error: duplicate invoice: ")


def test_tx_a_replacement_not_mined_either_says_only_one_of_the_two_can_be(
    home_copy: Any, ledger: Any, held: str, node: Node
) -> None:
    """A replacement or a cancellation that waits too long as well: its line names the
    transaction it stands in for and does not say a second command would be mined too
    (they share the nonce); raising its fee again gets it mined, once."""
    w3 = ledger.w3
    before = nonces(w3)
    tx = _not_mined(home_copy.home, held, "INV-HELD-3")
    for verb in ("replace", "cancel"):
        result = scf_in(home_copy.home, held, "tx", verb, tx, "--as", "supplier", "--no-sync", timeout=0.5)
        new = named_tx(result, "Error: transaction ")
        refused(
            result,
            3,
            f"transaction {new} was not mined within 0.5s: check the node is mining. It was sent in place of {tx}, "
            f"at the same nonce, so only one of the two can be mined: see which with `scf tx show {new}`. To stop "
            f"waiting, raise its fee again with `scf tx replace {new} --as supplier` or withdraw it with "
            f"`scf tx cancel {new} --as supplier`",
        )
        tx = new  # the next one stands in for the latest
    assert nonces(w3) == (before[0], before[0] + 1), "one nonce waits, whatever stood in for whom"
    node.mine_each_send()
    done = scf_in(home_copy.home, node.url, "tx", "replace", tx, "--as", "supplier", "--no-sync", "--json")
    assert done.exit_code == 0, done.output
    assert nonces(w3) == (before[0] + 1, before[0] + 1)
    assert invoice_id(ledger, "INV-HELD-3") == 0, "the latest stood in for a cancellation: nothing issued"


def test_tx_cancel_frees_the_nonce_changes_nothing_and_the_command_runs_again(
    home_copy: Any, ledger: Any, held: str, node: Node
) -> None:
    w3 = ledger.w3
    before = nonces(w3)
    head = w3.eth.block_number
    tx = _not_mined(home_copy.home, held, "INV-HELD-2")

    node.mine_each_send()
    done = scf_in(home_copy.home, node.url, "tx", "cancel", tx, "--as", "supplier", "--no-sync", "--json")
    assert done.exit_code == 0, done.output
    cancelled = json.loads(done.stdout)
    assert (cancelled["cancelled"], cancelled["nonce"]) == (tx, before[0])
    sent = w3.eth.get_transaction(cancelled["tx_hash"])
    assert (sent["from"], sent["to"], sent["value"], sent["input"]) == (
        SUPPLIER_ADDRESS,
        SUPPLIER_ADDRESS,
        0,
        b"",
    )
    assert w3.eth.block_number == head + 1  # the cancellation's block, nothing else
    assert invoice_id(ledger, "INV-HELD-2") == 0  # the business state is as it was
    assert nonces(w3) == (before[0] + 1, before[0] + 1)  # the nonce is used, none waits

    assert issue(home_copy.home, node.url, "INV-HELD-2").exit_code == 0  # and the operation can be retried
    assert invoice_id(ledger, "INV-HELD-2") > 0
    assert nonces(w3) == (before[0] + 2, before[0] + 2)


def test_tx_replace_a_transaction_whose_fee_fell_below_the_base_fee(
    home_copy: Any, ledger: Any, held: str, node: Node
) -> None:
    """Priced at the base fee of its time (0), the transaction waits once the
    base fee rises above its max fee: the error says so; the replacement pays
    what the next block charges and is mined once."""
    w3 = ledger.w3
    before = nonces(w3)
    node.after["eth_sendRawTransaction"] = lambda _call: (
        rpc(held, "anvil_setNextBlockBaseFeePerGas", [hex(HIGH_BASE_FEE)]) or True
    )
    below = "its max fee of 0 gwei per gas is below the next block's base fee of 1000 gwei, so it waits until fees fall"
    tx = _not_mined(home_copy.home, node.url, "INV-FEE-1", why=below)
    shown = json.loads(scf_in(home_copy.home, held, "tx", "show", tx, "--json").stdout)
    assert (shown["status"], shown["max_fee_per_gas"], shown["next_base_fee"]) == ("pending", "0", str(HIGH_BASE_FEE))
    assert shown["note"] == (
        "its max fee of 0 gwei per gas is below the next block's base fee of 1000 gwei: it waits until fees "
        "fall; raise its fee with `scf tx replace`"
    )

    node.mine_each_send()
    done = scf_in(home_copy.home, node.url, "tx", "replace", tx, "--as", "supplier", "--no-sync", "--json")
    assert done.exit_code == 0, done.output
    new = json.loads(done.stdout)["tx_hash"]
    receipt = w3.eth.get_transaction_receipt(new)
    assert receipt["status"] == 1
    assert w3.eth.get_block(receipt["blockNumber"])["baseFeePerGas"] == HIGH_BASE_FEE
    assert w3.eth.get_transaction(new)["maxFeePerGas"] == 2 * HIGH_BASE_FEE + 1  # twice the base fee plus the tip
    assert nonces(w3) == (before[0] + 1, before[0] + 1)
    assert invoice_id(ledger, "INV-FEE-1") > 0


def test_faults_fee_below_the_base_fee_refused_by_the_node_sends_nothing(
    home_copy: Any, ledger: Any, node: Node
) -> None:
    """A node that refuses a transaction whose max fee is below the base fee
    (Anvil does, at once): one line, nothing sent."""
    before, head = nonces(ledger.w3), ledger.w3.eth.block_number
    node.before["eth_sendRawTransaction"] = lambda _call: (
        rpc(home_copy.rpc_url, "anvil_setNextBlockBaseFeePerGas", [hex(HIGH_BASE_FEE)]) or True
    )
    try:
        result = issue(home_copy.home, node.url, "INV-FEE-2")
        tx = hash_of(node.sent[0])
        refused(
            result,
            3,
            f"the node refused transaction {tx}: its max fee per gas is below the base fee of the block it "
            "would go in (the base fee rose while it was prepared); nothing was sent: run the command again",
        )
        assert (nonces(ledger.w3), ledger.w3.eth.block_number) == (before, head)
        assert invoice_id(ledger, "INV-FEE-2") == 0
    finally:
        rpc(home_copy.rpc_url, "anvil_setNextBlockBaseFeePerGas", ["0x0"])


@pytest.mark.parametrize("then", ["nonce unused", "nonce used by another"])
def test_faults_a_dropped_transaction_is_nothing_on_chain_only_while_its_nonce_is_unused(
    then: str, home_copy: Any, ledger: Any, held: str, node: Node
) -> None:
    """The node drops the transaction from its pool: "nothing of it is on chain;
    run the command again" holds only while the account's nonce on chain shows its
    nonce unused (the rerun takes that nonce: one of the two, at most, is mined).
    If another transaction used the nonce meanwhile (a replacement sent elsewhere),
    the line says so and asks what that one did, never to simply run it again."""
    supplier = dev_account(DEV_NAMES.index("supplier"))
    before = nonces(ledger.w3)

    def drop(call: dict[str, Any]) -> bool:
        rpc(held, "anvil_dropTransaction", [hash_of(call["params"][0])])
        if then == "nonce used by another":
            tx = {"chainId": 31337, "to": SUPPLIER_ADDRESS, "value": 0, "gas": 21_000, "nonce": before[0]}
            raw = supplier.sign_transaction({**tx, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0}).raw_transaction
            rpc(held, "eth_sendRawTransaction", [Web3.to_hex(raw)])
            rpc(held, "evm_mine")
        return True

    node.after["eth_sendRawTransaction"] = drop
    result = issue(home_copy.home, node.url, "INV-DROP-1", timeout=0.2)  # dropped at once: no need to wait long
    tx = hash_of(node.sent[0])
    if then == "nonce unused":
        refused(
            result,
            3,
            f"transaction {tx} was not mined within 0.2s and the node no longer holds it (dropped from its pool; "
            f"nonce {before[0]} of {SUPPLIER} is still unused): nothing of it is on chain; run the command again",
        )
        assert nonces(ledger.w3) == before
    else:
        refused(
            result,
            3,
            f"transaction {tx} was not mined within 0.2s: the node no longer holds it, and nonce {before[0]} of "
            f"{SUPPLIER} was used since by another transaction (a replacement, or another program sending as "
            "this account), so it will never be mined; find out what that one did before running the command "
            f"again. Look it up with `scf tx show {tx}` before sending it again",
        )
        assert nonces(ledger.w3) == (before[0] + 1, before[0] + 1)
    assert invoice_id(ledger, "INV-DROP-1") == 0


def test_faults_held_back_behind_a_nonce_gap_says_what_fills_it(
    home_copy: Any, ledger: Any, held: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A transaction sent one nonce ahead of the account's next on chain (a node that
    lost blocks after the nonce was read) is held back: the line says what fills
    the gap and that running the command again would have both mined, without
    promising that a restart empties the pool; and the way out it gives, a
    transfer of 1 wei to itself, fills the gap and gets the held one mined once."""
    from web3.eth import Eth

    before = nonces(ledger.w3)
    read_nonce = Eth.get_transaction_count
    stale = [before[1] + 1]  # as if the node had lost the block of nonce before[1]

    def read_ahead(self: Any, account: Any, block_identifier: Any = None) -> Any:
        if (account, block_identifier) == (SUPPLIER_ADDRESS, "pending") and stale:
            return stale.pop()
        return read_nonce(self, account, block_identifier)

    monkeypatch.setattr(Eth, "get_transaction_count", read_ahead)
    result = issue(home_copy.home, held, "INV-GAP-1", timeout=0.5)
    monkeypatch.undo()
    tx = named_tx(result, "Error: transaction ")
    gap = before[1]
    refused(
        result,
        3,
        f"transaction {tx} was not mined within 0.5s: its nonce {gap + 1} is ahead of the next nonce {gap} of "
        f"{SUPPLIER} on chain and no transaction with nonce {gap} is waiting, so the node holds it back (did the "
        "node lose blocks, e.g. restart from an older state?). It is mined as soon as transactions of this "
        f"account fill nonce {gap}: the next command that sends as it takes nonce {gap}, so running this command "
        "again would send it a second time and, once the gap is filled, both would be mined. To have it mined "
        "once, fill the gap with transfers that change nothing, one per missing nonce: `scf account fund "
        "supplier --amount 0.000000000000000001 --as supplier` sends 1 wei to itself. A replacement or "
        f"cancellation would wait behind the gap as well. See it with `scf tx show {tx}`",
    )
    mine_again(held)
    one_wei = ("account", "fund", "supplier", "--amount", "0.000000000000000001", "--as", "supplier")
    filled = scf_in(home_copy.home, held, *one_wei)
    assert filled.exit_code == 0, filled.output
    rpc(held, "evm_mine")  # the held transaction, now next in line (Anvil mines it in the next block)
    assert ledger.w3.eth.get_transaction_receipt(tx)["status"] == 1
    assert nonces(ledger.w3) == (gap + 2, gap + 2)  # the transfer and the held one, each once
    assert invoice_id(ledger, "INV-GAP-1") > 0


# -- the fees of a replacement --------------------------------------------------------------------------
def test_tx_fee_bump_raises_each_fee_exactly_in_integer_wei() -> None:
    """12.5% and 25% of odd fees, rounded up to the wei; fees with more digits than
    Decimal's default precision (28) keeps come out exact; 0 becomes 1."""
    from decimal import Decimal

    from ledger.evm.txs import _raised

    assert _raised(1001, Decimal("12.5")) == 1127  # 1126.125 up
    assert _raised(999, Decimal("25")) == 1249  # 1248.75 up
    assert _raised(1000, Decimal("12.5")) == 1125  # exact: not a wei more
    assert _raised(0, Decimal("25")) == 1
    big = 10**40 + 1
    assert _raised(big, Decimal("12.5")) == (big * 1125 + 999) // 1000
    assert _raised(big, Decimal("25")) == (big * 5 + 3) // 4
    assert _raised(2**255, Decimal("12.5")) == 2**255 + 2**252  # 1/8 more, to the wei


def test_tx_fees_read_in_gwei_and_in_wei_below_one_gwei() -> None:
    from ledger.evm.chain import gwei

    assert [gwei(w) for w in (0, 1, 999_999_999, 10**9, 1_500_000_000, 1000 * 10**9)] == [
        "0 gwei",
        "1 wei",
        "999999999 wei",
        "1 gwei",
        "1.5 gwei",
        "1000 gwei",
    ]


def test_tx_fee_bump_boundary_is_what_nodes_take() -> None:
    from decimal import Decimal

    from ledger.errors import InputError
    from ledger.evm.txs import fee_bump_of

    assert fee_bump_of("12.5") == Decimal("12.5") and fee_bump_of("500%") == Decimal("500")
    for below in ("12.49", "12.4999999999999999999999999999999"):
        with pytest.raises(InputError, match="give a percentage from 12.5 "):
            fee_bump_of(below)


def _waiting_transfer(w3: Web3, nonce: int | None = None, **fees: int) -> str:
    """A transfer of 0 from the supplier to itself, sent straight to the node with ``fees``
    (at ``nonce``, by default the next), left waiting."""
    supplier = dev_account(DEV_NAMES.index("supplier"))
    nonce = nonces(w3)[1] if nonce is None else nonce
    tx = {"chainId": 31337, "to": SUPPLIER_ADDRESS, "value": 0, "gas": 21_000, "nonce": nonce, **fees}
    return str(w3.eth.send_raw_transaction(supplier.sign_transaction(tx).raw_transaction).to_0x_hex())


@pytest.mark.parametrize(
    ("fees", "bump", "raised"),
    [
        (
            {"maxFeePerGas": 1001, "maxPriorityFeePerGas": 999},
            "25",
            {"maxFeePerGas": 1252, "maxPriorityFeePerGas": 1249},
        ),
        # Above the node's suggested gas price (1 gwei on Anvil), which a legacy replacement pays at least.
        ({"gasPrice": 10**9 + 1}, "12.5", {"gasPrice": 1_125_000_002}),
    ],
    ids=["eip1559-25", "legacy-12.5"],
)
def test_tx_replace_raises_nonzero_fees_by_the_percent_given(
    fees: dict[str, int], bump: str, raised: dict[str, int], home_copy: Any, ledger: Any, held: str, node: Node
) -> None:
    """A transaction with fees above 0 (EIP-1559, or a legacy gas price) is replaced
    at exactly those fees raised by the percent, rounded up to the wei, in the same
    form (a legacy transaction stays legacy); one of the two is mined."""
    w3 = ledger.w3
    before = nonces(w3)
    tx = _waiting_transfer(w3, **fees)
    node.mine_each_send()
    args = ("tx", "replace", tx, "--as", "supplier", "--fee-bump", bump, "--no-sync", "--json")
    done = scf_in(home_copy.home, node.url, *args)
    assert done.exit_code == 0, done.output
    new = w3.eth.get_transaction(json.loads(done.stdout)["tx_hash"])
    assert {k: new.get(k) for k in raised} == raised
    assert ("gasPrice" in fees) == (new["type"] == 0)
    assert w3.eth.get_transaction_receipt(new["hash"])["status"] == 1
    assert nonces(w3) == (before[0] + 1, before[0] + 1)


def test_tx_replace_underpriced_asks_for_a_larger_fee_bump(home_copy: Any, ledger: Any, held: str, node: Node) -> None:
    """A node that will not take the replacement at the fees asked (here another
    transaction of the account took the nonce at a far higher fee just before):
    exit 1, "give a larger --fee-bump", nothing else sent."""
    w3 = ledger.w3
    before = nonces(w3)
    tx = _waiting_transfer(w3, maxFeePerGas=1000, maxPriorityFeePerGas=1000)
    node.before["eth_sendRawTransaction"] = lambda _call: bool(
        _waiting_transfer(w3, before[0], maxFeePerGas=10**12, maxPriorityFeePerGas=10**12)
    )
    result = scf_in(home_copy.home, node.url, "tx", "replace", tx, "--as", "supplier", "--no-sync", timeout=1)
    refused(
        result,
        1,
        f"the node would not take the transaction in place of {tx} at fees 25% higher: give a larger --fee-bump",
    )
    assert nonces(w3) == (before[0], before[0] + 1)  # the one that outbid it waits; nothing else


# -- the nonce: another sender, two scf processes ---------------------------------------------------
@pytest.mark.parametrize("kind", ["used", "pending"])
def test_faults_nonce_taken_by_another_sender_is_one_line_and_sends_nothing(
    kind: str, home_copy: Any, ledger: Any, node: Node, request: pytest.FixtureRequest
) -> None:
    """Another program signs as the supplier with the same nonce just before
    scf's transaction arrives: mined already ("nonce too low") or waiting in
    the pool ("replacement transaction underpriced"). One line; nothing of
    the command was sent; once the other is mined the command runs again."""
    url = request.getfixturevalue("held") if kind == "pending" else home_copy.rpc_url
    supplier = dev_account(DEV_NAMES.index("supplier"))
    before = nonces(ledger.w3)

    def other_sender(_call: dict[str, Any]) -> bool:
        tx = {"chainId": 31337, "to": SUPPLIER_ADDRESS, "value": 0, "gas": 21_000, "nonce": before[1]}
        raw = supplier.sign_transaction({**tx, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0}).raw_transaction
        taken = rpc(url, "eth_sendRawTransaction", [Web3.to_hex(raw)])
        if kind == "used":  # mined before scf's arrives (Anvil mines a moment after the send returns)
            wait_for(lambda: rpc(url, "eth_getTransactionReceipt", [taken]) is not None, 10)
        return True

    node.before["eth_sendRawTransaction"] = other_sender
    result = issue(home_copy.home, node.url, "INV-NONCE-1")
    tx = hash_of(node.sent[0])
    if kind == "used":
        taken, then = "was used meanwhile by another transaction", "run it again"
    else:
        taken = "is taken by another transaction waiting in the node's pool"
        then = "wait for that one to be mined and run it again"
    refused(
        result,
        3,
        f"the node refused transaction {tx}: nonce {before[1]} of {SUPPLIER} {taken} (another program, or scf on "
        f"another machine, sending as this account); nothing of this command was sent: {then}",
    )
    assert invoice_id(ledger, "INV-NONCE-1") == 0
    mine_again(url)
    rpc(url, "evm_mine")
    assert nonces(ledger.w3) == (before[0] + 1, before[0] + 1)  # the other sender's transaction only
    assert issue(home_copy.home, node.url, "INV-NONCE-1").exit_code == 0
    assert invoice_id(ledger, "INV-NONCE-1") > 0


def test_tx_show_names_the_rule_a_mined_transaction_broke(home_copy: Any, ledger: Any) -> None:
    """A transaction sent without scf's simulation (another program, or a second copy of a
    command while the first waited) is mined and reverts: `scf tx show` says which rule,
    replayed on its block, besides that it changed nothing."""
    supplier = dev_account(DEV_NAMES.index("supplier"))
    w3 = ledger.w3
    head = w3.eth.block_number
    fn = ledger.invoices.functions.pause()  # the operator's alone
    tx = fn.build_transaction(
        {
            "from": supplier.address,
            "chainId": 31337,
            "gas": 100_000,
            "nonce": w3.eth.get_transaction_count(supplier.address),
            "maxFeePerGas": 0,
            "maxPriorityFeePerGas": 0,
        }
    )
    sent = rpc(
        home_copy.rpc_url, "eth_sendRawTransaction", [Web3.to_hex(supplier.sign_transaction(tx).raw_transaction)]
    )
    receipt = w3.eth.wait_for_transaction_receipt(sent)
    assert receipt["status"] == 0 and receipt["blockNumber"] == head + 1
    shown = scf_in(home_copy.home, home_copy.rpc_url, "tx", "show", sent)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(
        f"transaction {sent}: mined in block {head + 1}, reverted (which changed nothing); nonce {tx['nonce']} of "
        f"{supplier.address}; "
    ), shown.stdout
    assert "operator" in shown.stdout.split("; ", 2)[2], shown.stdout
    assert shown.stdout.count("\n") == 1
    as_json = json.loads(scf_in(home_copy.home, home_copy.rpc_url, "tx", "show", sent, "--json").stdout)
    assert (as_json["status"], as_json["succeeded"]) == ("mined", False)
    assert as_json["note"] == shown.stdout.split("; ", 2)[2].rstrip("\n")
    assert ledger.invoices.functions.paused().call() is False


def test_faults_the_same_transaction_sent_twice_is_taken_as_sent(ledger: Any, held: str) -> None:
    """A node that holds this very transaction already ("already known": a resend
    after a lost answer) has it: the hash, not an error."""
    supplier = dev_account(DEV_NAMES.index("supplier"))
    tx = {"chainId": 31337, "to": SUPPLIER_ADDRESS, "value": 0, "gas": 21_000, "nonce": nonces(ledger.w3)[1]}
    raw = supplier.sign_transaction({**tx, "maxFeePerGas": 0, "maxPriorityFeePerGas": 0}).raw_transaction
    first = ledger.sender.send_raw(raw, SUPPLIER_ADDRESS, tx["nonce"])
    assert ledger.sender.send_raw(raw, SUPPLIER_ADDRESS, tx["nonce"]) == first == keccak(raw)


def test_faults_a_command_waits_for_another_sending_as_the_account_then_is_refused(home_copy: Any, ledger: Any) -> None:
    """Another command holds the supplier's lock (here a Sender of this process):
    a single-transaction command waits for it up to the transaction timeout,
    then is refused with one line, having sent nothing; released, it works."""
    head = ledger.w3.eth.block_number
    with ledger.sender.sending_as(SUPPLIER_ADDRESS):
        started = time.monotonic()
        result = issue(home_copy.home, home_copy.rpc_url, "INV-LOCK-1", timeout=0.3)
        assert time.monotonic() - started >= 0.3  # it waited
        refused(
            result,
            3,
            f"another scf command is sending transactions as {SUPPLIER} to this node; wait for it to finish "
            "and run this one again",
        )
        assert ledger.w3.eth.block_number == head
    assert issue(home_copy.home, home_copy.rpc_url, "INV-LOCK-1").exit_code == 0


def test_faults_one_lock_for_every_spelling_of_the_nodes_url(ledger: Any, chain: Any) -> None:
    """localhost or 127.0.0.1, with or without a trailing slash: one node, one lock
    per account, so two commands given the node's URL differently still wait for
    each other; another port is another node."""
    from ledger.errors import AccountBusy
    from ledger.evm.chain import Sender, connect

    port = chain.rpc_url.rsplit(":", 1)[1]
    spellings = [f"http://127.0.0.1:{port}", f"http://localhost:{port}/", f"HTTP://LOCALHOST:{port}"]
    senders = [Sender(connect(url), ledger.sender.decoder, 0.1) for url in spellings]
    assert len({s._lock_path(SUPPLIER_ADDRESS) for s in senders}) == 1
    with senders[0].sending_as(SUPPLIER_ADDRESS), pytest.raises(AccountBusy), senders[1].sending_as(SUPPLIER_ADDRESS):
        pass
    from ledger.evm.chain import node_key

    assert node_key(f"http://localhost:{port}") != node_key(f"http://localhost:{int(port) + 1}")
    assert node_key("https://rpc.example.org/v3/KEY/") == node_key("https://RPC.example.org:443/v3/KEY")


@pytest.fixture()
def lock_folder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The lock folder in a folder of this test's own (which every user may enter)."""
    import shutil
    import tempfile

    from ledger.evm import chain as chain_module

    base = Path(tempfile.mkdtemp(prefix="scf-locks-test-"))
    base.chmod(0o755)
    monkeypatch.setattr(chain_module, "LOCK_FOLDER", base / "scf-ledger-locks")
    yield base / "scf-ledger-locks"
    shutil.rmtree(base)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another user needs root")
def test_faults_the_lock_folder_works_for_every_user(ledger: Any, lock_folder: Path) -> None:
    """The first user to send makes the lock folder (here with a umask of 077);
    another user then takes the lock of the same account (its file made by the
    first) and of another account (a new file): the folder is like /tmp (1777)
    and lock files are readable by all (0644). Before, the second user's command
    ended in exit 70 (PermissionError)."""
    umask = os.umask(0o077)
    try:
        with ledger.sender.sending_as(SUPPLIER_ADDRESS):
            pass
    finally:
        os.umask(umask)
    lock = ledger.sender._lock_path(SUPPLIER_ADDRESS)
    assert (lock_folder.stat().st_mode & 0o7777, lock.stat().st_mode & 0o777) == (0o1777, 0o644)
    child = os.fork()
    if child == 0:  # another user, taking the same lock and a new one
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            with ledger.sender.sending_as(SUPPLIER_ADDRESS), ledger.sender.sending_as(DEV_ADDRESSES["buyer"]):
                code = 0
        finally:
            os._exit(code)
    assert os.waitpid(child, 0)[1] == 0


def test_faults_a_link_in_the_lock_folder_is_one_line_and_truncates_nothing(
    ledger: Any, lock_folder: Path, tmp_path: Path
) -> None:
    """A symbolic link planted where an account's lock file goes (the folder is
    shared by all users) is refused in one line; the file it points at is left
    as it was (opened for writing, it was emptied)."""
    from ledger.errors import ConfigError

    with ledger.sender.sending_as(SUPPLIER_ADDRESS):
        pass
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    lock = ledger.sender._lock_path(DEV_ADDRESSES["buyer"])
    lock.symlink_to(victim)
    with pytest.raises(ConfigError) as refused_, ledger.sender.sending_as(DEV_ADDRESSES["buyer"]):
        pass
    assert str(refused_.value) == (
        f"cannot use the lock file {lock} that keeps two scf commands from sending as one account at once (Too "
        f"many levels of symbolic links); make {lock_folder} a folder everyone may write to (mode 1777, as /tmp), "
        "or remove what is in the way"
    )
    assert victim.read_text() == "keep me"


class Gate(RpcProxy):
    """Makes two senders race for the nonce if nothing stops them: each ask for
    the pending nonce is held until a second one comes (two senders between
    their simulation and sending: both get the same nonce) or until
    :attr:`GRACE` seconds after both senders' simulation was answered (the
    other is not asking: it waits for the account's lock). Records how many
    asks were held at once (``most``)."""

    GRACE = 0.5

    def __init__(self, upstream: str) -> None:
        self.cond = threading.Condition()
        self.estimates = 0
        self.both_simulated: float | None = None
        self.asking = 0
        self.most = 0
        self.sends = 0
        super().__init__(upstream)

    def _let_go(self) -> bool:
        late = self.both_simulated is not None and time.monotonic() >= self.both_simulated + self.GRACE
        return self.most >= 2 or late

    def handle(self, call: dict[str, Any]) -> dict[str, Any]:
        method = call["method"]
        if method == "eth_getTransactionCount" and call["params"][1] == "pending":
            with self.cond:
                self.asking += 1
                self.most = max(self.most, self.asking)
                self.cond.notify_all()
                deadline = time.monotonic() + 60
                while not self._let_go() and time.monotonic() < deadline:
                    self.cond.wait(0.05)
            try:
                return super().handle(call)
            finally:
                with self.cond:
                    self.asking -= 1
        reply = super().handle(call)
        with self.cond:
            if method == "eth_estimateGas":
                self.estimates += 1
                if self.estimates == 2:
                    self.both_simulated = time.monotonic()
            self.sends += method == "eth_sendRawTransaction"
        return reply


def test_faults_two_scf_processes_sending_as_one_account_are_serialised(home_copy: Any, ledger: Any) -> None:
    """Two real `scf invoice issue --as supplier` at once, made to reach the
    nonce together (Gate): the account's lock lets one take a nonce and send
    while the other waits, so both succeed with consecutive nonces, each
    invoice issued once. Without the lock both read the same nonce and one
    is refused by the node."""
    before = nonces(ledger.w3)
    gate = Gate(home_copy.rpc_url)
    env = {**os.environ, "SCF_HOME": str(home_copy.home), "SCF_RPC_URL": gate.url}
    try:
        procs = [
            subprocess.Popen(
                [SCF, *ISSUE, "--number", f"INV-PAR-{i}", "--json"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in (1, 2)
        ]
        outs = [p.communicate(timeout=120) for p in procs]
    finally:
        gate.close()
    assert [p.returncode for p in procs] == [0, 0], outs
    assert gate.estimates == 2 and gate.sends == 2
    assert gate.most == 1  # never two senders between reading the nonce and sending
    ids = sorted(json.loads(out)["invoice_id"] for out, _ in outs)
    assert ids == sorted({invoice_id(ledger, "INV-PAR-1"), invoice_id(ledger, "INV-PAR-2")}) and 0 not in ids
    assert nonces(ledger.w3) == (before[0] + 2, before[0] + 2)


# -- refusals of `scf tx` -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def door(session_env: Any, base_deployment: Any, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """A copy of the session's data directory and a Guard over it and the chain."""
    import shutil

    root = tmp_path_factory.mktemp("tx-bad-input")
    home = root / "home"
    shutil.copytree(session_env.home, home, ignore=shutil.ignore_patterns("ledger.db*"))
    save_pristine(home, root / "pristine")
    guard = Guard(Web3(Web3.HTTPProvider(session_env.rpc_url)), home, home / "ledger.db", root / "pristine")
    return SimpleNamespace(home=home, url=session_env.rpc_url, guard=guard)


@pytest.mark.parametrize(("code", "argv", "message"), [c[1:] for c in TX_BAD_INPUT], ids=[c[0] for c in TX_BAD_INPUT])
def test_tx_bad_input_is_one_line_and_changes_nothing(
    door: SimpleNamespace, code: int, argv: tuple[str, ...], message: str
) -> None:
    with door.guard as before:
        result = scf_in(door.home, door.url, *argv)
        after = door.guard.state()
    refused(result, code, message.format(rpc=door.url))
    assert after == before


def test_tx_replace_and_cancel_refuse_a_mined_transaction_and_another_senders(
    home_copy: Any, ledger: Any, held: str
) -> None:
    """Only a pending transaction can be replaced or cancelled, and only by its
    sender: a mined one is refused (exit 1), another account's (exit 2); the
    chain and the pool stay as they were."""
    w3 = ledger.w3
    mine_again(held)
    assert issue(home_copy.home, held, "INV-MINED-1").exit_code == 0
    mined = w3.eth.get_block("latest")["transactions"][0].to_0x_hex()
    block = w3.eth.block_number
    rpc(held, "evm_setAutomine", [False])
    waiting = _not_mined(home_copy.home, held, "INV-HELD-3")
    pool = nonces(w3)

    result = scf_in(home_copy.home, held, "tx", "replace", mined, "--as", "supplier")
    refused(result, 1, f"transaction {mined} is already mined, in block {block}: there is nothing to replace")
    unknown = "0x" + "ab" * 32
    result = scf_in(home_copy.home, held, "tx", "replace", unknown, "--as", "supplier")
    refused(
        result,
        2,
        f"transaction {unknown} is unknown to the node at {held}: it never reached it, was dropped from its "
        f"pool, or another took its place at its nonce, so there is nothing to replace; {SUPPLIER} has 1 "
        f"transaction(s) waiting in the node's pool (nonces {pool[0]} to {pool[0]}), and one of them may have "
        "taken its place: wait until they are mined and look at what they did before running the command that "
        "sent it again",
    )
    result = scf_in(home_copy.home, held, "tx", "cancel", waiting, "--as", "buyer")
    refused(
        result,
        2,
        f"transaction {waiting} was sent by {SUPPLIER}, not by {BUYER}: only its sender can cancel it; give --as "
        "the account that sent it",
    )
    assert (w3.eth.block_number, nonces(w3)) == (block, pool)
