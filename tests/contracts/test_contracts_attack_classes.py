"""One attack test for each class of issue 18 that the other files did not cover yet:
reentrancy through the ERC-721 receiver hook; settlement tokens that return false,
take a fee (on the money legs besides financing and repayment) or revert on transfers
of zero; front-running between a quote and its execution; a signature replayed on a
redeployed token; rounding at every division (one test per division, on chain and in
the Python pricing whose figures the contract takes); griefing (dust repayments,
listing spam, giant splits); role escalation; and self-dealing.

The README's table of attack classes lists every class with the tests of the other
files that already cover part of it; they are not repeated here.

Every rule is tried by calling the contracts directly (``net.send(fn, who)`` of
``support.contracts``), never through a client that checks first. Every refusal is
checked by its custom error and the values it carries, and by the state it leaves: the
chain head, the invoice, its holder, its listing and every party's balance as before.
Contract parties are the test doubles of this folder: ``ReceiverHookAttacker.sol`` (an
ERC-721 receiver whose hook calls back) and ``MisbehavingToken.sol`` (an ERC-20 whose
behaviour the test switches, as the owner of an upgradeable stablecoin can).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from support.contracts import (
    AMOUNT,
    BUYER,
    CONFIRMED,
    CURRENCY_MANAGER_ROLE,
    DAY,
    DEFAULT_ADMIN_ROLE,
    DEFAULTED,
    DISPUTED,
    FINANCED,
    FINANCIER,
    GRACE,
    INVOICE_FIELDS,
    ISSUED,
    MAX_PARTS,
    MAX_TREE_PARTS,
    MINTER_ROLE,
    OPERATOR_ROLE,
    PAID,
    PARTIALLY_PAID,
    SPLIT,
    SUPPLIER,
    ZERO32,
    ZERO_ADDRESS,
    Net,
    compile_test_contract,
    reverts,
)
from web3.exceptions import ContractCustomError

from ledger.evm.chain import ErrorDecoder
from ledger.evm.compiler import Build
from ledger.evm.confirmations import Confirmation, Domain, sign
from ledger.evm.deploy import LIBRARIES, link
from ledger.finance.pricing import discounted_advance, price

#: MisbehavingToken.Mode.
HONEST, RETURNS_FALSE, TAKES_FEE, REVERTS_ON_ZERO = range(4)
#: The parties whose settlement-token balances every money test follows.
PARTIES = ("supplier", "supplier2", "financier", "buyer")


@pytest.fixture(scope="session")
def hook_artifact(session_env: Any) -> dict[str, Any]:
    return compile_test_contract(session_env.settings, "ReceiverHookAttacker")


@pytest.fixture(scope="session")
def misbehaving_artifact(session_env: Any) -> dict[str, Any]:
    return compile_test_contract(session_env.settings, "MisbehavingToken")


# -- helpers -------------------------------------------------------------------------------------


def _listed(
    net: Net,
    number: str = "INV-1",
    amount: int = AMOUNT,
    currency: str | None = None,
    recourse: bool = False,
    min_advance: int = 1,
    buyer: str = "buyer",
) -> int:
    """A receivable issued by the supplier, confirmed by its buyer and listed for any financier."""
    invoice_id = net.issue_raw(number, buyer=buyer, amount=amount, currency=currency)
    net.send(net.invoices.functions.confirm(invoice_id), buyer)
    net.send(net.offer_fn(invoice_id, None, min_advance, recourse=recourse), "supplier")
    return invoice_id


def _state(net: Net, *ids: int, token: Any = None, also: tuple[str, ...] = ()) -> tuple[Any, ...]:
    """What a refused call must leave as it was: the chain head, each invoice with its holder
    and listing, and the balances of the parties (and of the contract addresses ``also``)."""
    token = token or net.token
    return (
        net.ledger.w3.eth.block_number,
        [(net.invoice(i), net.invoices.functions.ownerOf(i).call(), net.listing(i)) for i in ids],
        net.balances(*PARTIES, token=token),
        [token.functions.balanceOf(a).call() for a in (*also, net.invoices.address)],
    )


def _as(net: Net, party: Any, fn: Any, who: str = "dev8") -> Any:
    """``fn`` (a call of any contract) made by the contract ``party`` through its ``exec``."""
    data = fn._encode_transaction_data()  # noqa: SLF001 - the calldata the party forwards
    return net.send(party.functions.exec(fn.address, data), who)


def _decoded(net: Net, raw: bytes) -> tuple[str, dict[str, Any]] | None:
    """A revert's custom error and its values, as the project decodes it (None: no revert)."""
    if not raw:
        return None
    exc = net.ledger.sender.decoder.decode(raw)
    return exc.error_name, exc.error_args


def _attacker(net: Net, artifact: dict[str, Any], roles: int = SUPPLIER | FINANCIER) -> Any:
    """A ReceiverHookAttacker admitted to the network (so receivables may move to it)."""
    attacker = net.deploy(artifact["abi"], artifact["bytecode"])
    net.send(
        net.registry.functions.admit(attacker.address, "Hook Capital (test)", roles, net.now() + 365 * DAY), "operator"
    )
    return attacker


def _misbehaving(net: Net, artifact: dict[str, Any]) -> Any:
    """A MisbehavingToken accepted as a currency, honest for now; the supplier, the financier
    and the buyer hold HKD 10,000.00 of it each and let the invoice token draw it."""
    token = net.deploy(artifact["abi"], artifact["bytecode"])
    net.send(net.invoices.functions.setCurrencyAccepted(token.address, True), "operator")
    for who in ("supplier", "financier", "buyer"):
        net.send(token.functions.mint(net.addr(who), 10 * AMOUNT), who)
        net.send(token.functions.approve(net.invoices.address, 10 * AMOUNT), who)
    return token


@contextmanager
def _rolled_back(net: Net) -> Iterator[None]:
    """Run the block, then put the chain back as it was (to measure the same step twice)."""
    snapshot = net.rpc("evm_snapshot", [])
    try:
        yield
    finally:
        assert net.rpc("evm_revert", [snapshot]) is True


# -- reentrancy through the ERC-721 receiver hook ------------------------------------------------
# Only the public safeTransferFrom calls onERC721Received: finance, split, buy-back and
# transferWithReference move receivables without it. The hook runs after the move is
# complete (holder changed, listing cleared), and nothing of the transfer is left to do.

REENTRIES = [
    "withdraw-old-listing",
    "finance-on-old-listing",
    "finance-itself",
    "repay",
    "buy-back",
    "hand-back",
    "split",
]


@pytest.mark.parametrize("reentry", REENTRIES)
def test_contracts_attack_receiver_hook_reenters_during_safe_transfer(
    net: Net, hook_artifact: dict[str, Any], reentry: str
) -> None:
    """The supplier sells a listed receivable to a contract by safeTransferFrom; in its
    receiver hook the receiving contract, already the holder, reenters: to withdraw the old
    holder's listing (refused: it was cleared before the hook runs), to finance on it with
    the old holder as seller (refused: the seller changed) or as its own seller (refused:
    self-financing), to repay it or buy it back (refused: it is not the buyer, and the
    receivable is not defaulted), or to hand it back or split it (its right as the holder,
    and no harm: the old listing does not come back, the parts sum to the receivable). No
    money moves in any case, and the receivable ends where the last move put it."""
    invoice_id = _listed(net, min_advance=50_000)
    attacker = _attacker(net, hook_artifact)
    f = net.invoices.functions
    supplier, me = net.addr("supplier"), attacker.address
    inner, expected = {
        "withdraw-old-listing": (f.withdrawOffer(invoice_id), ("NotListed", {"invoiceId": invoice_id})),
        "finance-on-old-listing": (
            net.finance_fn(invoice_id, 80_000, seller=supplier),
            ("FinancingSellerChanged", {"invoiceId": invoice_id, "expectedSeller": supplier, "holder": me}),
        ),
        "finance-itself": (
            net.finance_fn(invoice_id, 80_000, seller=me),
            ("SelfFinancing", {"invoiceId": invoice_id, "account": me}),
        ),
        "repay": (
            f.repay(invoice_id, 1),
            ("NotInvoiceBuyer", {"invoiceId": invoice_id, "account": me, "buyer": net.addr("buyer")}),
        ),
        "buy-back": (f.buyBack(invoice_id), ("InvoiceNotDefaulted", {"invoiceId": invoice_id, "status": CONFIRMED})),
        "hand-back": (f.transferFrom(me, supplier, invoice_id), None),
        "split": (net.split_fn(invoice_id, [("supplier2", 40_000), ("supplier", 60_000)]), None),
    }[reentry]
    net.send(attacker.functions.arm(net.invoices.address, inner._encode_transaction_data(), False), "dev8")
    money = _state(net, token=net.token, also=(me,))[2:]
    net.send(f.safeTransferFrom(supplier, me, invoice_id), "supplier")
    assert attacker.functions.hookFired().call() is True
    assert attacker.functions.received().call() == 1
    assert _decoded(net, bytes(attacker.functions.hookRevert().call())) == expected
    assert _state(net, token=net.token, also=(me,))[2:] == money
    # The old holder's consent is gone whatever the hook did.
    assert net.listing(invoice_id) == (ZERO_ADDRESS, 0, 0)
    inv = net.invoice(invoice_id)
    if reentry == "hand-back":
        assert net.owner(invoice_id) == supplier
        # Back with the supplier inside one transaction: the listing did not revive with it.
        net.approve_hkd("financier", 80_000)
        with reverts("FinancingNotAuthorized", invoiceId=invoice_id, holder=supplier, financier=net.addr("financier")):
            net.send(net.finance_fn(invoice_id, 80_000), "financier")
    elif reentry == "split":
        parts = net.parts_of(invoice_id)
        assert (inv["status"], net.owner(invoice_id)) == (SPLIT, me)
        assert [(net.owner(p), net.invoice(p)["amount"]) for p in parts] == [
            (net.addr("supplier2"), 40_000),
            (supplier, 60_000),
        ]
    else:
        assert (inv["status"], inv["seller"], net.owner(invoice_id)) == (CONFIRMED, ZERO_ADDRESS, me)


def test_contracts_attack_receiver_hook_that_refuses_or_reverts_undoes_the_whole_transfer(
    net: Net, hook_artifact: dict[str, Any]
) -> None:
    """A receiver that answers a wrong value, or whose hook reverts, leaves nothing half
    done: the holder, the listing (cleared during the move) and the balances are as before."""
    invoice_id = _listed(net, min_advance=50_000)
    attacker = _attacker(net, hook_artifact)
    f = net.invoices.functions
    supplier, me = net.addr("supplier"), attacker.address
    before = _state(net, invoice_id, also=(me,))
    net.send(attacker.functions.setRefuses(True), "dev8")
    with reverts("ERC721InvalidReceiver", receiver=me):
        net.send(f.safeTransferFrom(supplier, me, invoice_id), "supplier")
    net.send(attacker.functions.setRefuses(False), "dev8")
    net.send(
        attacker.functions.arm(net.invoices.address, f.withdrawOffer(invoice_id)._encode_transaction_data(), True),
        "dev8",
    )
    with reverts("NotListed", invoiceId=invoice_id):
        net.send(f.safeTransferFrom(supplier, me, invoice_id, b"data"), "supplier")
    after = _state(net, invoice_id, also=(me,))
    assert after[1:] == before[1:]
    assert attacker.functions.received().call() == 0


def test_contracts_attack_receiver_hook_never_runs_inside_a_money_leg(net: Net, hook_artifact: dict[str, Any]) -> None:
    """A contract party receives receivables by every move that pays money or mints: as the
    financier (finance), as the holder of a part (split) and as the seller taking a defaulted
    receivable back (buy-back). Its hook is never called, so it never gets control in the
    middle of a delivery versus payment (armed to reenter finance, it would revert it)."""
    attacker = _attacker(net, hook_artifact)
    me = attacker.address
    f = net.invoices.functions
    net.send(net.token.functions.mint(me, 3 * AMOUNT), "operator")
    _as(net, attacker, net.token.functions.approve(net.invoices.address, 3 * AMOUNT))
    financed = _listed(net)
    net.send(
        attacker.functions.arm(net.invoices.address, net.finance_fn(financed, 1)._encode_transaction_data(), True),
        "dev8",
    )
    # As the financier: the receivable moves to it inside finance.
    _as(net, attacker, net.finance_fn(financed, 80_000, due=90_000))
    assert (net.owner(financed), net.invoice(financed)["status"]) == (me, FINANCED)
    # As the holder of a part: minted to it by the split.
    root = net.issue_raw("INV-2")
    net.send(f.confirm(root), "buyer")
    receipt = net.send(f.split(root, [(net.addr("supplier"), 60_000, ZERO32), (me, 40_000, ZERO32)]), "supplier")
    part = net.events(receipt, "PartCreated")[1]["partId"]
    assert net.owner(part) == me
    # As the seller under recourse: it lists its part, is financed, and buys the part back after a default.
    _as(net, attacker, net.offer_fn(part, None, 1, recourse=True))
    net.approve_hkd("financier", 32_000)
    net.send(net.finance_fn(part, 32_000, due=36_000, recourse=True), "financier")
    net.defaulted(part, "financier")
    _as(net, attacker, f.buyBack(part))
    assert (net.owner(part), net.invoice(part)["status"]) == (me, DEFAULTED)
    assert attacker.functions.received().call() == 0
    assert attacker.functions.hookFired().call() is False


# -- settlement tokens that return false, take a fee, or revert on zero ---------------------------


@pytest.mark.parametrize("mode", ["returns-false", "takes-fee"])
def test_contracts_attack_token_turning_bad_after_financing_refused_on_every_money_leg(
    net: Net, misbehaving_artifact: dict[str, Any], mode: str
) -> None:
    """The accepted currency, honest when the receivables were financed and split, starts
    returning false instead of reverting (SafeERC20 refuses: SafeERC20FailedOperation), or
    taking 1% of every transfer (the received-amount check refuses: SettlementShortfall).
    Every money leg is refused and changes nothing: financing, repayment, pro-rata repayment
    of a tree, the seller's credit-note payment to the financier and the seller's buy-back.
    (A token with the fee from the start is refused at financing and repayment:
    ``test_contracts_attack_fee_on_transfer_token_settlement_refused``.)"""
    mis = _misbehaving(net, misbehaving_artifact)
    f = net.invoices.functions
    financed = _listed(net, "MIS-1", currency=mis.address, recourse=True)
    net.send(net.finance_fn(financed, 80_000, due=90_000, recourse=True), "financier")
    listed = _listed(net, "MIS-2", currency=mis.address)
    root = net.issue_raw("MIS-3", currency=mis.address)
    net.send(f.confirm(root), "buyer")
    net.split(root, [("supplier", 60_000), ("supplier2", 40_000)])
    net.send(mis.functions.setMode(RETURNS_FALSE if mode == "returns-false" else TAKES_FEE), "dev9")
    ids = (financed, listed, root)

    def refused(fn: Any, who: str, to: str, amount: int) -> None:
        before = _state(net, *ids, token=mis)
        if mode == "returns-false":
            expected: dict[str, Any] = {"token": mis.address}
            error = "SafeERC20FailedOperation"
        else:
            fee = -(-amount // 100)
            expected = {"currency": mis.address, "to": net.addr(to), "expected": amount, "received": amount - fee}
            error = "SettlementShortfall"
        with reverts(error, **expected):
            net.send(fn, who)
        assert _state(net, *ids, token=mis) == before

    refused(net.finance_fn(listed, 80_000), "financier", "supplier", 80_000)
    refused(f.repay(financed, 50_000), "buyer", "financier", 50_000)
    refused(f.repayRoot(root, 10_000), "buyer", "supplier", 6_000)  # the first leaf's share, 60%
    # A credit note of 20,000 leaves 80,000 open for the financier's 90,000: the seller pays 10,000.
    refused(f.issueCreditNote(financed, 20_000, ZERO32), "supplier", "financier", 10_000)
    net.defaulted(financed, "financier")
    refused(f.buyBack(financed), "supplier", "financier", 90_000)


def test_contracts_attack_zero_transfer_reverting_token_never_bricks_a_receivable(
    net: Net, misbehaving_artifact: dict[str, Any]
) -> None:
    """The currency reverts on every transfer of zero. Every path that could move zero
    moves nothing instead: a repayment all for the financier (no reserve), a credit note
    the reserve absorbs (the seller pays nothing), a repayment all reserve (nothing for the
    financier) and a pro-rata repayment that gives a leaf a zero share. Every receivable
    settles to Paid, every party gets exactly its due, and the contract holds nothing."""
    mis = _misbehaving(net, misbehaving_artifact)
    net.send(mis.functions.setMode(REVERTS_ON_ZERO), "dev9")
    decoder = ErrorDecoder([misbehaving_artifact["abi"]])
    with pytest.raises(ContractCustomError) as info:
        mis.functions.transfer(net.addr("supplier2"), 0).call({"from": net.addr("buyer")})
    zero = decoder.decode(str(info.value.data))
    assert (zero.error_name, zero.error_args) == (
        "ZeroTransfer",
        {"from": net.addr("buyer"), "to": net.addr("supplier2")},
    )
    f = net.invoices.functions
    start = net.balances(*PARTIES, token=mis)
    invoice_id = _listed(net, "ZERO-1", currency=mis.address)
    net.send(net.finance_fn(invoice_id, 80_000, due=90_000), "financier")
    # All for the financier: the reserve leg would be zero.
    receipt = net.send(f.repay(invoice_id, 90_000), "buyer")
    assert net.events(receipt, "ReserveReleased") == []
    # 5,000 off the 10,000 still open, all of it the seller's reserve: the seller pays the financier zero.
    receipt = net.send(f.issueCreditNote(invoice_id, 5_000, ZERO32), "supplier")
    assert net.events(receipt, "CreditNoteIssued")[0]["toHolder"] == 0
    # All reserve: the financier's leg would be zero.
    receipt = net.send(f.repay(invoice_id, 5_000), "buyer")
    assert [(e["toHolder"], e["totalPaid"]) for e in net.events(receipt, "InvoiceRepaid")] == [(0, 95_000)]
    assert net.invoice(invoice_id)["status"] == PAID
    # A tree whose first leaf's share of one unit rounds to zero...
    root = net.issue_raw("ZERO-2", currency=mis.address, amount=100_001)
    net.send(f.confirm(root), "buyer")
    big, small = net.split(root, [("supplier", 100_000), ("supplier2", 1)])
    receipt = net.send(f.repayRoot(root, 1), "buyer")
    # floor(1 * 100,000 / 100,001) = 0 and floor(1 * 1 / 100,001) = 0: the unit left over goes to
    # the first leaf; the second's zero share is skipped, not sent.
    assert [(e["invoiceId"], e["amount"]) for e in net.events(receipt, "InvoiceRepaid")] == [(big, 1)]
    net.send(f.repayRoot(root, 100_000), "buyer")
    assert [net.invoice(i)["status"] for i in (invoice_id, big, small)] == [PAID] * 3
    assert net.balances(*PARTIES, token=mis) == {
        "supplier": start["supplier"] + 80_000 + 5_000 + 100_000,
        "supplier2": start["supplier2"] + 1,
        "financier": start["financier"] - 80_000 + 90_000,
        "buyer": start["buyer"] - 95_000 - 100_001,
    }
    assert mis.functions.balanceOf(net.invoices.address).call() == 0


# -- front-running between a quote and its execution ------------------------------------------------
# Already covered: the holder changed (..._seller_swapped_between_quote_and_finance_refused),
# the terms forged stale (..._stale_terms_refused, ..._expired_terms_deadline_refused), a dust
# payment (..._one_cent_repayment_cannot_block_financing), the listing withdrawn, revived or
# for another financier (test_contracts_consent.py). Here every other move that can land in
# the block before the financier's transaction.

FRONT_RUNS = ["ask-raised", "recourse-dropped", "split", "credit-note", "extension", "dispute", "grace-raised"]


@pytest.mark.parametrize("move", FRONT_RUNS)
def test_contracts_attack_front_run_between_quote_and_finance_refused(net: Net, move: str) -> None:
    """The financier prices a listed receivable (advance 850.00, due 900.00, with recourse and
    the network's grace period); before its transaction is mined the holder re-lists at a
    higher ask or without recourse, splits it, credits it, agrees a later due date with the
    buyer, the buyer disputes it, or the operator lengthens the grace period recourse needs.
    The financier's transaction is refused, naming what changed, and moves nothing."""
    invoice_id = _listed(net, recourse=True, min_advance=80_000)
    net.approve_hkd("financier", 85_000)
    quote = net.terms(invoice_id, 85_000, due=90_000, recourse=True)
    due = net.invoice(invoice_id)["dueDate"]
    f = net.invoices.functions
    supplier = net.addr("supplier")
    expected: tuple[str, dict[str, Any]]
    if move == "ask-raised":
        net.send(net.offer_fn(invoice_id, None, 90_000, recourse=True), "supplier")
        expected = ("AdvanceBelowAsk", {"invoiceId": invoice_id, "advance": 85_000, "minAdvance": 90_000})
    elif move == "recourse-dropped":
        net.send(net.offer_fn(invoice_id, None, 80_000, recourse=False), "supplier")
        expected = ("RecourseNotAccepted", {"invoiceId": invoice_id, "holder": supplier})
    elif move == "split":
        net.split(invoice_id, [("supplier", 50_000), ("supplier2", 50_000)])
        expected = ("InvoiceNotConfirmed", {"invoiceId": invoice_id, "status": SPLIT})
    elif move == "credit-note":
        net.send(f.issueCreditNote(invoice_id, 1, ZERO32), "supplier")
        expected = ("FinancingTermsChanged", _changed(invoice_id, due, amount=AMOUNT - 1))
    elif move == "extension":
        net.send(f.proposeExtension(invoice_id, due + DAY), "buyer")
        net.send(f.acceptExtension(invoice_id, due + DAY), "supplier")
        expected = ("FinancingTermsChanged", _changed(invoice_id, due, due_date=due + DAY))
    elif move == "dispute":
        net.send(f.dispute(invoice_id, ZERO32), "buyer")
        expected = ("InvoiceNotConfirmed", {"invoiceId": invoice_id, "status": DISPUTED})
    else:
        net.send(f.setGracePeriod(GRACE + DAY), "operator")
        expected = ("RecourseGraceTooShort", {"invoiceId": invoice_id, "gracePeriod": GRACE, "minimum": GRACE + DAY})
    before = _state(net, invoice_id)
    with reverts(expected[0], **expected[1]):
        net.send(f.finance(invoice_id, quote), "financier")
    assert _state(net, invoice_id) == before


def _changed(invoice_id: int, due: int, amount: int = AMOUNT, due_date: int | None = None) -> dict[str, Any]:
    """FinancingTermsChanged of a quote on (AMOUNT, 0 paid, ``due``) against the invoice now."""
    return {
        "invoiceId": invoice_id,
        "expectedAmount": AMOUNT,
        "amount": amount,
        "expectedPaid": 0,
        "paid": 0,
        "expectedDueDate": due,
        "dueDate": due if due_date is None else due_date,
    }


# -- signature replay on a redeployed token ---------------------------------------------------------
# Already covered: replays in the same contract, across invoices, and for another chain id,
# contract (the registry's address), name or version (test_contracts_intake.py).


def test_contracts_attack_signature_replayed_on_a_redeployed_token_refused(net: Net, build: Build) -> None:
    """The operator redeploys the invoice token on the same chain, with the same registry,
    name and version; the supplier issues the same number with the same terms on both. A
    buyer's confirmation signed for one token is refused by the other (the EIP-712 domain
    names the contract's address), both ways, and each is accepted where it was signed."""
    deployment = net.ledger.deployment
    artifact = build.artifact("InvoiceToken")
    libraries = {name: deployment.contract(name).address for name in LIBRARIES["InvoiceToken"]}
    operator = net.addr("operator")
    settings = net.ledger.settings
    twin = net.deploy(
        artifact.abi,
        link(artifact.bytecode, libraries, LIBRARIES["InvoiceToken"]),
        net.registry.address,
        operator,
        operator,
        operator,
        int(settings.admin_delay),
        int(settings.max_tenor_days) * DAY,
        GRACE,
    )
    net.send(twin.functions.setCurrencyAccepted(net.hkd.address, True), "operator")
    due_ts = net.invoice(net.issue_raw("INV-1"))["dueDate"]
    net.send(twin.functions.issue(net.addr("buyer"), "INV-1", AMOUNT, net.hkd.address, due_ts, ZERO32), "supplier")
    confirmation = Confirmation(
        buyer=net.addr("buyer"),
        supplier=net.addr("supplier"),
        number="INV-1",
        currency=net.hkd.address,
        amount=AMOUNT,
        due_date=due_ts,
        nonce=1,
        deadline=net.now() + DAY,
    )
    chain_id = int(net.ledger.w3.eth.chain_id)
    signed = {
        c.address: confirmation.signed(
            sign(net.acct("buyer"), Domain(chain_id=chain_id, contract=c.address), confirmation)
        )
        for c in (net.invoices, twin)
    }
    for target, other in ((net.invoices, twin), (twin, net.invoices)):
        with reverts("InvalidConfirmationSignature", invoiceId=1, buyer=net.addr("buyer")):
            net.send(target.functions.confirmWithSignatures([signed[other.address]]), "financier")
        assert _status(target, 1) == ISSUED
    for target in (net.invoices, twin):
        net.send(target.functions.confirmWithSignatures([signed[target.address]]), "financier")
        assert _status(target, 1) == CONFIRMED


def _status(invoices: Any, invoice_id: int) -> int:
    return int(dict(zip(INVOICE_FIELDS, invoices.functions.getInvoice(invoice_id).call(), strict=True))["status"])


# -- rounding at every division ----------------------------------------------------------------------
# On chain there are two divisions: Settlement._shares (pro-rata repayment of a tree) and
# InvoiceToken._checkSplit (a split's budget of parts). Credit notes divide nothing (the
# seller pays the difference), but their remainder is tested as a division would be. Off
# chain, ledger/finance/pricing.py computes the advance, discount and fees exactly and rounds
# once (see its docstring). One test each.


def test_contracts_attack_rounding_pro_rata_repayment(net: Net) -> None:
    """``repayRoot`` across leaves of 7, 13 and 99,983 units (primes; 100,003 in all), paid 1,
    17, everything but one unit, then the last unit. Each share is floor(amount x open /
    total), then the units left over go one each to the leaves with room in id order: so each
    share is the exact share rounded down or up, the shares sum to the payment, no leaf gets
    more than it has open, and every holder receives exactly its shares."""
    root = net.issue_raw(amount=100_003)
    net.send(net.invoices.functions.confirm(root), "buyer")
    holders = ("supplier", "supplier2", "buyer2")
    leaves = net.split(root, list(zip(holders, (7, 13, 99_983), strict=True)))
    net.approve_hkd("buyer", 100_003)
    start = net.balances("buyer", *holders)
    steps = [
        # amount, open before, shares: floors + the leftover units in id order
        (1, [7, 13, 99_983], [1, 0, 0]),  # floors 0, 0, 0: the one unit to the first leaf
        (17, [6, 13, 99_983], [1, 0, 16]),  # floors 0, 0, 16 (16.997): the unit left to the first
        (99_984, [5, 13, 99_967], [5, 13, 99_966]),  # floors 4, 12, 99,966: two units, first two leaves
        (1, [0, 0, 1], [0, 0, 1]),  # the paid leaves are no longer payable
    ]
    received = dict.fromkeys(holders, 0)
    for amount, opens, shares in steps:
        assert [net.open_amount(leaf) for leaf in leaves] == opens
        total = sum(opens)
        exact = [Fraction(amount * o, total) for o in opens]
        assert sum(shares) == amount
        assert all(int(x) <= s <= int(x) + 1 and s <= o for x, s, o in zip(exact, shares, opens, strict=True))
        extra = [i for i, (x, s) in enumerate(zip(exact, shares, strict=True)) if s > int(x)]
        assert extra == list(range(len(extra)))  # the leftover units went to the first leaves
        receipt = net.send(net.repay_root_fn(root, amount), "buyer")
        paid = {e["invoiceId"]: e["amount"] for e in net.events(receipt, "InvoiceRepaid")}
        assert paid == {leaf: s for leaf, s in zip(leaves, shares, strict=True) if s}
        for who, s in zip(holders, shares, strict=True):
            received[who] += s
    assert [net.invoice(leaf)["status"] for leaf in leaves] == [PAID] * 3
    end = net.balances("buyer", *holders)
    assert {who: end[who] - start[who] for who in end} == {"buyer": -100_003, **received}
    assert received == {"supplier": 7, "supplier2": 13, "buyer2": 99_983}


def test_contracts_attack_rounding_split_budget(net: Net) -> None:
    """A root split into 7 gives each part floor((64 - 7) / 7) = 8 of the tree's budget of
    parts (57 / 7 = 8.14: the remainder stays unused, never handed out), so a part may make 8
    parts, not 9; its parts get floor((8 - 8) / 8) = 0. The whole tree can then hold at most
    7 + 7 x 8 = 63 parts: within MAX_TREE_PARTS, however the budget is spent. The parts' amounts
    are the caller's and must sum exactly: one unit over or under is refused."""
    root = net.issue_raw(amount=100_003)  # prime: seven parts cannot be equal
    net.send(net.invoices.functions.confirm(root), "buyer")
    seven = [("supplier", 14_286)] * 6 + [("supplier", 14_287)]
    for off in (1, -1):
        wrong = [*seven[:-1], ("supplier", 14_287 + off)]
        with reverts("InvalidSplit", invoiceId=root, parts=7, sum=100_003 + off, outstanding=100_003):
            net.split(root, wrong)
    parts = net.split(root, seven)
    budget = (MAX_TREE_PARTS - 7) // 7
    assert budget == 8 and (MAX_TREE_PARTS - 7) % 7 == 1
    nine = [("supplier", 1_587)] * 8 + [("supplier", 14_286 - 8 * 1_587)]
    with reverts("SplitLimit", invoiceId=parts[0], depth=2, parts=9, budget=budget):
        net.split(parts[0], nine)
    eight = net.split(parts[0], [("supplier", 1_785)] * 7 + [("supplier", 14_286 - 7 * 1_785)])
    with reverts("SplitLimit", invoiceId=eight[0], depth=3, parts=2, budget=0):
        net.split(eight[0], [("supplier", 892), ("supplier", 893)])
    assert 7 + 7 * budget <= MAX_TREE_PARTS
    assert sum(net.invoice(p)["amount"] for p in eight) == 14_286


def test_contracts_attack_rounding_credit_note(net: Net) -> None:
    """Financed at 800.00 with the financier due 900.00 of 1,000.00. A credit note of exactly
    the seller's reserve (100.00) costs the seller nothing; one more unit leaves the open
    amount one unit short of the financier's due, and the seller pays exactly that unit.
    The buyer then pays what is open: the financier gets its 900.00 exactly, and the three
    balances change by amounts that sum to zero."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000)
    net.fund("supplier", 1)
    net.approve_hkd("supplier", 1)
    start = net.balances("supplier", "financier", "buyer")
    f = net.invoices.functions
    notes = []
    for credit in (10_000, 1):
        receipt = net.send(f.issueCreditNote(invoice_id, credit, ZERO32), "supplier")
        (note,) = net.events(receipt, "CreditNoteIssued")
        notes.append((note["credit"], note["newAmount"], note["toHolder"]))
    assert notes == [(10_000, 90_000, 0), (1, 89_999, 1)]
    inv = net.invoice(invoice_id)
    assert (inv["amount"], inv["financierDue"], inv["financierPaid"]) == (89_999, 90_000, 1)
    net.approve_hkd("buyer", 89_999)
    net.send(f.repay(invoice_id, 89_999), "buyer")
    inv = net.invoice(invoice_id)
    assert (inv["status"], inv["financierPaid"]) == (PAID, 90_000)
    end = net.balances("supplier", "financier", "buyer")
    delta = {who: end[who] - start[who] for who in end}
    assert delta == {"supplier": -1, "financier": 90_000, "buyer": -89_999}
    assert sum(delta.values()) == 0


def _priced_and_settled(net: Net, number: str, open_amount: int, net_advance: int, due: int) -> dict[str, int]:
    """Finance a fresh receivable of ``open_amount`` on chain at these terms, repay it in full,
    and return each party's change."""
    invoice_id = _listed(net, number, amount=open_amount)
    start = net.balances("supplier", "financier", "buyer")
    net.approve_hkd("financier", net_advance)
    net.send(net.finance_fn(invoice_id, net_advance, due=due), "financier")
    net.approve_hkd("buyer", open_amount)
    net.send(net.invoices.functions.repay(invoice_id, open_amount), "buyer")
    end = net.balances("supplier", "financier", "buyer")
    return {who: end[who] - start[who] for who in end}


def test_contracts_attack_rounding_advance(net: Net) -> None:
    """pricing.price on a prime open amount (99,991 units) at an 85% advance rate, 7.31% for
    97 days ACT/365 and fees of 2.50 + 0.25%: every exact figure has a fraction. The rule:
    advance = floor(advance*), net = floor(net*) (the one rounding of cash, in the
    financier's favour, under one unit), fees = ceil(fees*) within advance - net, discount the
    rest; reserve = open - advance. Settled on chain at those figures (the terms' advance is
    the net, their due the advance): the seller gets the net now and the reserve later, the
    financier its advance back from the buyer, and nothing else moves. A one-unit invoice
    prices to a zero advance, which the contract refuses."""
    rate, annual, days, fee_fixed, fee_rate = Decimal("0.85"), Decimal("0.0731"), 97, 250, Decimal("0.0025")
    p = price(
        99_991,
        days,
        advance_rate=rate,
        base_rate=Decimal("0.0431"),
        spread=Decimal("0.03"),
        day_count="ACT/365",
        fee_fixed_units=fee_fixed,
        fee_rate=fee_rate,
    )
    exact_advance = Fraction(rate) * 99_991  # 84,992.35
    exact_fees = fee_fixed + Fraction(fee_rate) * exact_advance  # 462.48...
    exact_net = exact_advance - exact_advance * Fraction(annual) * days / 365 - exact_fees  # 82,878.75...
    assert (p.advance, p.net_advance, p.fees, p.discount, p.reserve) == (84_992, 82_878, 463, 1_651, 14_999)
    assert (
        p.advance == math.floor(exact_advance)
        and p.net_advance == math.floor(exact_net)
        and p.fees == math.ceil(exact_fees)
    )
    assert 0 <= exact_net - p.net_advance < 1
    assert p.discount + p.fees + p.net_advance == p.advance and p.advance + p.reserve == 99_991
    assert _priced_and_settled(net, "INV-P", 99_991, p.net_advance, p.advance) == {
        "supplier": p.net_advance + p.reserve,
        "financier": p.discount + p.fees,
        "buyer": -99_991,
    }
    one = price(1, 30, advance_rate=Decimal("0.9"), base_rate=Decimal("0.05"), spread=Decimal(0), day_count="ACT/360")
    assert (one.advance, one.net_advance, one.reserve) == (0, 0, 1)
    tiny = _listed(net, "INV-1C", amount=1)
    with reverts("InvalidAdvance", invoiceId=tiny, advance=0, due=0):
        net.send(net.finance_fn(tiny, one.net_advance, due=one.advance), "financier")


def test_contracts_attack_rounding_discount(net: Net) -> None:
    """The discount is what the one rounding of cash leaves: a day at 0.01% on 100,003 units is
    0.028 of a unit exactly, and the holder receives 100,002 (the discount shown is 1, never
    more than one unit above the exact). The quick discount of ``scf invoice finance
    --discount-rate`` rounds the discount up: 5% for 30 days ACT/365 on 100,003 units is
    410.97, so 99,592 is advanced; settled on chain, the financier earns exactly 411. On one
    unit any discount takes the whole unit (nothing is advanced)."""
    p = price(100_003, 1, advance_rate=Decimal(1), base_rate=Decimal("0.0001"), spread=Decimal(0), day_count="ACT/360")
    exact_discount = Fraction(100_003) * Fraction(Decimal("0.0001")) / 360
    assert (p.advance, p.discount, p.fees, p.net_advance) == (100_003, 1, 0, 100_002)
    assert 0 <= p.discount - exact_discount < 1
    quick = discounted_advance(100_003, Decimal("0.05"), 30)
    assert quick == 100_003 - 411 and Fraction(100_003) * Fraction(Decimal("0.05")) * 30 / 365 > 410
    assert discounted_advance(1, Decimal("0.01"), 1) == 0
    assert _priced_and_settled(net, "INV-D", 100_003, quick, 100_003) == {
        "supplier": quick,
        "financier": 411,
        "buyer": -100_003,
    }


def test_contracts_attack_rounding_fees() -> None:
    """Fees round up, but never past what the one rounding of cash leaves to charge: on an
    exact advance of 10.5 units, 2% fees are 0.21 and the exact net 10.29; the advance and the
    net both round down to 10, so nothing is left to charge and the fees shown are 0 (charges
    of 0 against 0.21 exactly: within the one unit the rule allows). 0.25% of a prime advance
    rounds up to the next unit and the figures still add up to the advance. (Policy amounts
    to minor units, fixed fees up and limits down: ``test_finance_pricing_policy_amounts_to_minor_units``.)"""
    capped = price(
        21,
        0,
        advance_rate=Decimal("0.5"),
        base_rate=Decimal(0),
        spread=Decimal(0),
        day_count="ACT/360",
        fee_rate=Decimal("0.02"),
    )
    assert (capped.advance, capped.fees, capped.discount, capped.net_advance, capped.reserve) == (10, 0, 0, 10, 11)
    prime = price(
        99_991,
        0,
        advance_rate=Decimal(1),
        base_rate=Decimal(0),
        spread=Decimal(0),
        day_count="ACT/360",
        fee_rate=Decimal("0.0025"),
    )
    # 0.25% of 99,991 is 249.9775: 250 in fees, and the holder receives 99,741 (floor of 99,741.0225).
    assert (prime.fees, prime.discount, prime.net_advance) == (250, 0, 99_741)
    assert prime.fees + prime.discount + prime.net_advance == prime.advance == 99_991


# -- griefing --------------------------------------------------------------------------------------
# Already covered: a one-cent payment before financing (..._one_cent_repayment_cannot_block_
# financing) and a part holder spending another branch's budget (..._small_part_holder_...).


def test_contracts_attack_dust_repayments_cannot_stop_a_default_or_a_buy_back(net: Net) -> None:
    """The buyer pays one unit at a time on a receivable financed with recourse (advance
    800.00, due 900.00): after the first, each dust payment costs the same gas (nothing
    grows); dust moves the receivable to PartiallyPaid and no further, does not stop the
    financier declaring the default after the grace period (its claim is the due less the
    dust), keeps the status Defaulted when paid after it (a recovery), and lowers the buy-back
    by exactly what it paid. Every unit reaches the right party."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000, recourse=True)
    net.fund("supplier", 90_000)
    net.approve_hkd("supplier", 90_000)
    net.approve_hkd("buyer", AMOUNT)
    start = net.balances("supplier", "financier", "buyer")
    gas = [net.send(net.invoices.functions.repay(invoice_id, 1), "buyer")["gasUsed"] for _ in range(3)]
    assert gas[1] == gas[2]
    assert (net.invoice(invoice_id)["status"], net.invoice(invoice_id)["paid"]) == (PARTIALLY_PAID, 3)
    after = net.defaultable_after(invoice_id)
    net.mine_at(after)
    with reverts("DefaultBeforeGrace", invoiceId=invoice_id, defaultableAfter=after, nowTimestamp=after):
        net.call(net.default_fn(invoice_id), "financier")
    receipt = net.defaulted(invoice_id, "financier")
    (defaulted,) = net.events(receipt, "InvoiceDefaulted")
    assert (defaulted["outstanding"], defaulted["holderClaim"]) == (AMOUNT - 3, 90_000 - 3)
    net.send(net.invoices.functions.repay(invoice_id, 1), "buyer")
    assert net.invoice(invoice_id)["status"] == DEFAULTED
    receipt = net.send(net.buy_back_fn(invoice_id), "supplier")
    assert net.events(receipt, "InvoiceBoughtBack")[0]["amount"] == 90_000 - 4
    net.send(net.invoices.functions.repay(invoice_id, AMOUNT - 4), "buyer")
    assert net.invoice(invoice_id)["status"] == PAID
    end = net.balances("supplier", "financier", "buyer")
    assert {who: end[who] - start[who] for who in end} == {
        "supplier": -(90_000 - 4) + (AMOUNT - 4),
        "financier": 90_000,
        "buyer": -AMOUNT,
    }


def test_contracts_attack_listing_spam_cannot_block_or_tax_the_real_listing(net: Net) -> None:
    """Another supplier (with a buyer that confirms whatever it issues) lists eight receivables
    for the real financier and re-lists one for a stream of financiers: each receivable holds
    one listing, the last (earlier ones are replaced, nothing piles up); no one but the holder
    can touch the real listing; and financing the real receivable costs exactly the gas it
    cost before the spam."""
    real = _listed(net, min_advance=80_000)
    quote = net.terms(real, 85_000)
    f = net.invoices.functions
    with _rolled_back(net):
        net.approve_hkd("financier", 85_000)
        quiet = net.send(f.finance(real, quote), "financier")["gasUsed"]
    due = net.invoice(real)["dueDate"]
    spam = net.send(
        f.issueBatch([(net.addr("buyer2"), f"SPAM-{n}", 1, net.hkd.address, due, ZERO32) for n in range(8)]),
        "supplier2",
    )
    first = net.events(spam, "InvoiceIssued")[0]["invoiceId"]
    ids = list(range(first, first + 8))
    net.send(f.confirmBatch(ids), "buyer2")
    for invoice_id in ids:
        net.send(net.offer_fn(invoice_id, "financier", 1), "supplier2")
    for who in ("financier2", "dev8", "financier"):
        net.send(net.offer_fn(ids[0], who, 1), "supplier2")
    assert net.listing(ids[0])[0] == net.addr("financier")
    # Nobody but the holder lists, re-lists or withdraws the real receivable.
    listing = net.listing(real)
    for fn in (net.offer_fn(real, "financier2", 1), f.withdrawOffer(real)):
        with reverts("NotInvoiceHolder", invoiceId=real, account=net.addr("supplier2"), holder=net.addr("supplier")):
            net.send(fn, "supplier2")
    assert net.listing(real) == listing
    net.approve_hkd("financier", 85_000)
    assert net.send(f.finance(real, quote), "financier")["gasUsed"] == quiet
    assert net.owner(real) == net.addr("financier")


def test_contracts_attack_giant_split_refused_and_the_largest_tree_repays_in_bounded_gas(net: Net) -> None:
    """A split into 11 or 1,000 parts is refused before a part is looked at (the sum in the
    error is 0). The largest tree the budget allows has 56 leaves (8 parts of 7 parts each:
    64 parts, MAX_TREE_PARTS exactly); no further split is possible anywhere in it, and the
    buyer's one repayment across all 56 leaves stays far inside a block."""
    root = net.issue_raw()
    net.send(net.invoices.functions.confirm(root), "buyer")
    for n in (MAX_PARTS + 1, 1_000):
        with reverts("InvalidSplit", invoiceId=root, parts=n, sum=0, outstanding=AMOUNT):
            net.call(net.split_fn(root, [("supplier2", 1)] * n), "supplier")
    tier1 = net.split(root, [("supplier", 12_500)] * 8)
    assert (MAX_TREE_PARTS - 8) // 8 == 7
    for part in tier1:
        net.split(part, [("supplier", 1_785)] * 6 + [("supplier2", 1_790)])
    tree = net.parts_of(root)
    assert len(tree) == MAX_TREE_PARTS
    with reverts("SplitLimit", invoiceId=tree[-1], depth=3, parts=2, budget=0):
        net.split(tree[-1], [("supplier2", 895), ("supplier2", 895)], holder="supplier2")
    net.approve_hkd("buyer", AMOUNT)
    start = net.balances("supplier", "supplier2", "buyer")
    receipt = net.send(net.repay_root_fn(root, AMOUNT), "buyer")
    assert net.events(receipt, "RootRepaid")[0]["leaves"] == 56
    gas = int(receipt["gasUsed"])
    block_limit = int(net.ledger.w3.eth.get_block("latest")["gasLimit"])
    # About 52,000 gas a leaf (2.9M in all): the bound of the tree bounds the buyer's cost.
    assert gas < 3_500_000 < block_limit // 8, gas
    end = net.balances("supplier", "supplier2", "buyer")
    assert {who: end[who] - start[who] for who in end} == {
        "supplier": 8 * 6 * 1_785,
        "supplier2": 8 * 1_790,
        "buyer": -AMOUNT,
    }


# -- role escalation -----------------------------------------------------------------------------
# Already covered: every role-gated function refused to a participant and a stranger
# (test_contracts_non_operator_refused), the default admin granted in one step (..._attack_
# grant_default_admin_directly_refused), the two-step admin transfer, a participant without
# the role (test_contracts_lacking_role_cannot_act), self-upgrades through updateParticipant
# (non_operator "update") and re-admitting an admitted address (registry_admit_twice).


def test_contracts_attack_operator_cannot_escalate_to_admin_or_other_roles(net: Net) -> None:
    """A second operator (OPERATOR_ROLE on the registry and the token, nothing else) tries to
    make itself admin, start an admin transfer to itself, shorten the admin delay, take the
    currency manager's or the minter's role, add operators, remove the real operator, accept a
    currency or mint: each is refused, and the roles are exactly as they were."""
    dev9, dev8, operator = net.addr("dev9"), net.addr("dev8"), net.addr("operator")
    for contract in (net.invoices, net.registry):
        net.send(contract.functions.grantRole(OPERATOR_ROLE, dev9), "operator")
    inv, reg, hkd = net.invoices.functions, net.registry.functions, net.token.functions

    def roles() -> list[bool]:
        holders = (dev9, dev8, operator)
        pairs = [(c, r) for c in (inv, reg) for r in (DEFAULT_ADMIN_ROLE, OPERATOR_ROLE)]
        pairs += [(inv, CURRENCY_MANAGER_ROLE), (hkd, DEFAULT_ADMIN_ROLE), (hkd, MINTER_ROLE)]
        return [c.hasRole(r, a).call() for c, r in pairs for a in holders]

    before = (roles(), inv.defaultAdmin().call(), inv.pendingDefaultAdmin().call(), inv.defaultAdminDelay().call())
    for functions in (inv, reg):
        with reverts("AccessControlEnforcedDefaultAdminRules"):
            net.send(functions.grantRole(DEFAULT_ADMIN_ROLE, dev9), "dev9")
        for fn in (
            functions.beginDefaultAdminTransfer(dev9),
            functions.changeDefaultAdminDelay(0),
            functions.grantRole(OPERATOR_ROLE, dev8),
            functions.revokeRole(OPERATOR_ROLE, operator),
        ):
            with reverts("AccessControlUnauthorizedAccount", account=dev9, neededRole=DEFAULT_ADMIN_ROLE):
                net.send(fn, "dev9")
    for fn, role in (
        (inv.grantRole(CURRENCY_MANAGER_ROLE, dev9), DEFAULT_ADMIN_ROLE),
        (hkd.grantRole(MINTER_ROLE, dev9), DEFAULT_ADMIN_ROLE),
        (inv.setCurrencyAccepted(dev8, True), CURRENCY_MANAGER_ROLE),
        (hkd.mint(dev9, 1), MINTER_ROLE),
    ):
        with reverts("AccessControlUnauthorizedAccount", account=dev9, neededRole=role):
            net.send(fn, "dev9")
    assert (
        roles(),
        inv.defaultAdmin().call(),
        inv.pendingDefaultAdmin().call(),
        inv.defaultAdminDelay().call(),
    ) == before


def test_contracts_attack_renounce_and_grant_games_refused(net: Net) -> None:
    """No one renounces a role for someone else; the admin cannot drop or revoke its own role
    without the two-step delay (the network would be left with no admin); a cancelled admin
    transfer cannot be accepted; and an operator that renounced its role has nothing left to
    act with, not even to give the role back to itself."""
    dev9, operator = net.addr("dev9"), net.addr("operator")
    inv = net.invoices.functions
    net.send(inv.grantRole(OPERATOR_ROLE, dev9), "operator")
    with reverts("AccessControlBadConfirmation"):
        net.send(inv.renounceRole(OPERATOR_ROLE, operator), "dev9")
    # The default admin's renunciation is checked first: it needs a finished two-step schedule.
    with reverts("AccessControlEnforcedDefaultAdminDelay", schedule=0):
        net.send(inv.renounceRole(DEFAULT_ADMIN_ROLE, operator), "dev9")
    with reverts("AccessControlEnforcedDefaultAdminDelay", schedule=0):
        net.send(inv.renounceRole(DEFAULT_ADMIN_ROLE, operator), "operator")
    with reverts("AccessControlEnforcedDefaultAdminRules"):
        net.send(inv.revokeRole(DEFAULT_ADMIN_ROLE, operator), "operator")
    net.send(inv.beginDefaultAdminTransfer(dev9), "operator")
    net.send(inv.cancelDefaultAdminTransfer(), "operator")
    net.mine_at(net.now() + 2 * DAY)
    with reverts("AccessControlInvalidDefaultAdmin", defaultAdmin=dev9):
        net.send(inv.acceptDefaultAdminTransfer(), "dev9")
    net.send(inv.renounceRole(OPERATOR_ROLE, dev9), "dev9")
    with reverts("AccessControlUnauthorizedAccount", account=dev9, neededRole=OPERATOR_ROLE):
        net.send(inv.pause(), "dev9")
    with reverts("AccessControlUnauthorizedAccount", account=dev9, neededRole=DEFAULT_ADMIN_ROLE):
        net.send(inv.grantRole(OPERATOR_ROLE, dev9), "dev9")
    assert inv.defaultAdmin().call() == operator
    assert inv.hasRole(OPERATOR_ROLE, operator).call() is True
    assert inv.hasRole(OPERATOR_ROLE, dev9).call() is False


def test_contracts_attack_erc721_approval_is_not_the_holders_authority(net: Net) -> None:
    """The holder approves a financier for all its receivables (ERC-721 lets it move them):
    the approved financier still cannot act as the holder. It cannot list the receivable at
    an ask of its choosing, withdraw the holder's listing, split it, move it with a
    reference, agree a new due date or issue a credit note; each is refused by name and
    the receivable, its listing and the money are as they were."""
    invoice_id = _listed(net, min_advance=90_000)
    f = net.invoices.functions
    net.send(f.proposeExtension(invoice_id, net.invoice(invoice_id)["dueDate"] + DAY), "buyer")
    net.send(f.setApprovalForAll(net.addr("financier"), True), "supplier")
    financier, supplier = net.addr("financier"), net.addr("supplier")
    before = _state(net, invoice_id)
    for fn in (
        net.offer_fn(invoice_id, "financier", 1),
        f.withdrawOffer(invoice_id),
        net.split_fn(invoice_id, [("financier", 99_999), ("financier", 1)]),
        f.transferWithReference(invoice_id, financier, ZERO32),
        f.acceptExtension(invoice_id, net.invoice(invoice_id)["dueDate"] + DAY),
    ):
        with reverts("NotInvoiceHolder", invoiceId=invoice_id, account=financier, holder=supplier):
            net.send(fn, "financier")
    with reverts("NotCreditor", invoiceId=invoice_id, account=financier, creditor=supplier):
        net.send(f.issueCreditNote(invoice_id, 1, ZERO32), "financier")
    assert _state(net, invoice_id) == before


# -- self-dealing -------------------------------------------------------------------------------
# Already covered: a supplier-financier financing its own receivable, a financier financing a
# receivable it acquired (..._attack_self_financing_refused), a financier re-listing what it
# financed (..._attack_finance_twice_refused) and a second buy-back (..._buy_back_refusals).


def test_contracts_attack_financier_on_both_sides_of_a_listing_refused(net: Net) -> None:
    """A financier that bought an unfinanced receivable lists it naming itself as the only
    financier: it cannot take its own listing (SelfFinancing) and nobody else may."""
    invoice_id = net.issue_raw()
    net.send(net.invoices.functions.confirm(invoice_id), "buyer")
    net.transfer(invoice_id, "supplier", "financier")
    net.send(net.offer_fn(invoice_id, "financier", 1), "financier")
    for who in ("financier", "financier2"):
        net.approve_hkd(who, 90_000)
    before = _state(net, invoice_id)
    with reverts("SelfFinancing", invoiceId=invoice_id, account=net.addr("financier")):
        net.send(net.finance_fn(invoice_id, 90_000), "financier")
    with reverts(
        "FinancingNotAuthorized", invoiceId=invoice_id, holder=net.addr("financier"), financier=net.addr("financier2")
    ):
        net.send(net.finance_fn(invoice_id, 90_000), "financier2")
    assert _state(net, invoice_id) == before


def test_contracts_attack_seller_buying_back_from_itself_refused(net: Net) -> None:
    """The seller of a receivable financed with recourse buys it back from the financier by a
    plain transfer (at whatever price off chain), declares the default itself and calls
    buy-back to be paid out of its own pocket: there is nothing owed to a holder who is the
    seller (NothingOwed), and nothing moves."""
    invoice_id = net.financed_raw(advance=80_000, due=90_000, recourse=True)
    net.transfer(invoice_id, "financier", "supplier")
    net.defaulted(invoice_id, "supplier")
    assert net.invoice(invoice_id)["status"] == DEFAULTED
    net.approve_hkd("supplier", 90_000)
    before = _state(net, invoice_id)
    with reverts("NothingOwed", invoiceId=invoice_id):
        net.send(net.buy_back_fn(invoice_id), "supplier")
    assert _state(net, invoice_id) == before


def test_contracts_attack_buyer_financing_its_own_payable_moves_only_the_agreed_money(net: Net) -> None:
    """A buyer that is also a financier takes the supplier's listing of its own payable
    (early payment at a discount: the supplier's ask is its consent). Paying the payable
    then moves nothing from the buyer to itself, only the reserve to the supplier: the
    supplier gets the advance and the reserve, the buyer pays that and no more, and nothing
    is created or lost."""
    net.admit("dev8", "Tsing Yi Holdings Ltd", BUYER | FINANCIER)
    net.fund("dev8", AMOUNT)
    invoice_id = net.issue_raw(buyer="dev8")
    net.send(net.invoices.functions.confirm(invoice_id), "dev8")
    net.send(net.offer_fn(invoice_id, None, 97_000), "supplier")
    start = {**net.balances("supplier"), "dev8": net.balance("dev8")}
    net.approve_hkd("dev8", AMOUNT)
    net.send(net.finance_fn(invoice_id, 97_000, due=98_000), "dev8")
    receipt = net.send(net.invoices.functions.repay(invoice_id, AMOUNT), "dev8")
    (repaid,) = net.events(receipt, "InvoiceRepaid")
    assert (repaid["payee"], repaid["toHolder"]) == (net.addr("dev8"), 98_000)
    assert net.invoice(invoice_id)["status"] == PAID
    end = {**net.balances("supplier"), "dev8": net.balance("dev8")}
    assert {who: end[who] - start[who] for who in end} == {"supplier": 97_000 + 2_000, "dev8": -99_000}
    assert net.token.functions.balanceOf(net.invoices.address).call() == 0
