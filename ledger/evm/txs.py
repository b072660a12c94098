"""Transactions already sent, by hash (`scf tx show|replace|cancel`): what the
node knows of one (mined in block N, waiting in its pool, or unknown), and a
way out for one that waits too long (a node that does not mine, a fee below
the base fee).

A waiting transaction is **replaced** by one with the same nonce, the same
call and higher fees, or **cancelled** by a transfer of 0 to its own sender
at that nonce, also at higher fees. Nodes take a transaction in place of one
they hold only if both its fee cap and its tip are higher by a margin (Geth
10%, others up to 12.5%: :data:`FEE_BUMP_MIN`); so both are raised by the
percentage asked (:data:`FEE_BUMP_DEFAULT` by default), by at least 1 wei,
and the fee cap up to what the next block charges if that is more. One of
the two, never both, is mined: they share the nonce. A replacement is
simulated first, so one the contracts would now refuse is not sent (cancel
it instead). Only the account that sent a transaction can sign either.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.exceptions import ContractCustomError, ContractLogicError, TransactionNotFound, Web3RPCError

from ledger.errors import (
    InputError,
    NonceConflict,
    Refused,
    RpcError,
    RpcUnreachable,
    TransactionReverted,
    TransactionTimeout,
)
from ledger.evm.chain import NODE_AWAY, Sender, away_reason, gwei

#: The least raise of both fees, in percent, that every node takes for a replacement.
FEE_BUMP_MIN = Decimal("12.5")
#: The raise when none is given: above every node's minimum, with room for a base fee that rises.
FEE_BUMP_DEFAULT = Decimal("25")
#: The most a raise may be: a typo such as 1000 for 10 would pay ten times the fee.
FEE_BUMP_MAX = Decimal("500")
#: Gas of a plain transfer, what a cancellation is.
TRANSFER_GAS = 21_000
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class TxState:
    """What the node knows of one transaction. ``status``: "mined", "pending" or
    "unknown". Fees are per gas in wei (``max_fee_per_gas`` is the gas price of
    a legacy transaction); ``next_base_fee`` is what the next block charges;
    ``note`` says why a pending one waits, or why a mined one reverted, when it
    can be told."""

    tx_hash: str
    status: str
    block: int | None = None
    succeeded: bool | None = None
    sender: str | None = None
    nonce: int | None = None
    to: str | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    next_base_fee: int | None = None
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """As JSON: fees as strings (wei can exceed what JSON numbers hold exactly)."""
        data = asdict(self)
        for key in ("max_fee_per_gas", "max_priority_fee_per_gas", "next_base_fee"):
            if data[key] is not None:
                data[key] = str(data[key])
        return data


def tx_hash_of(text: str) -> str:
    """``text`` as a transaction hash (0x and 64 hex digits, lower case); bad input otherwise."""
    clean = text.strip()
    if not _HASH.match(clean):
        raise InputError(f"invalid transaction hash {text!r}: expected 0x and 64 hex digits")
    return clean.lower()


def fee_bump_of(text: str | None) -> Decimal:
    """``--fee-bump`` as a percentage between :data:`FEE_BUMP_MIN` and :data:`FEE_BUMP_MAX`."""
    if text is None:
        return FEE_BUMP_DEFAULT
    try:
        pct = Decimal(text.strip().removesuffix("%"))
    except InvalidOperation:
        pct = Decimal("NaN")
    if not pct.is_finite() or not FEE_BUMP_MIN <= pct <= FEE_BUMP_MAX:
        raise InputError(
            f"invalid fee bump {text!r}: give a percentage from {FEE_BUMP_MIN} (the least nodes take for a "
            f"replacement) to {FEE_BUMP_MAX}, e.g. --fee-bump 25"
        )
    return pct


@contextmanager
def _asking(sender: Sender, method: str) -> Iterator[None]:
    """A read of the node (``method``) that fails: one line, not a crash. Only
    reads run in it, before anything is sent, so nothing was sent."""
    try:
        yield
    except NODE_AWAY as exc:
        raise RpcUnreachable(sender.url, away_reason(exc)[0]) from None
    except Web3RPCError as exc:
        code = exc.rpc_response.get("error", {}).get("code") if isinstance(exc.rpc_response, dict) else None
        raise RpcError(method, code, str(exc.message or exc)) from None


def look_up(sender: Sender, tx_hash: str) -> TxState:
    """What the node at ``sender`` knows of transaction ``tx_hash``."""
    tx_hash = tx_hash_of(tx_hash)
    eth = sender.w3.eth
    with _asking(sender, "eth_getTransactionReceipt"):
        try:
            receipt = eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            receipt = None
        except Web3RPCError:
            receipt = None  # ethereumjs answers an error while it stores the block: look at the transaction
    with _asking(sender, "eth_getTransactionByHash"):
        try:
            tx = eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            tx = None
    if tx is None and receipt is None:
        return TxState(tx_hash, "unknown")
    with _asking(sender, "eth_feeHistory"):
        base = sender.next_base_fee()
    fees: dict[str, Any] = {}
    if tx is not None:
        fees = {
            "sender": str(tx["from"]),
            "nonce": int(tx["nonce"]),
            "to": None if tx.get("to") is None else str(tx["to"]),
            "max_fee_per_gas": int(tx.get("maxFeePerGas", tx.get("gasPrice", 0))),
            "max_priority_fee_per_gas": None
            if tx.get("maxPriorityFeePerGas") is None
            else int(tx["maxPriorityFeePerGas"]),
        }
    if receipt is not None:
        succeeded = int(receipt["status"]) == 1
        note = None if succeeded or tx is None else _why_reverted(sender, tx, int(receipt["blockNumber"]))
        return TxState(tx_hash, "mined", int(receipt["blockNumber"]), succeeded, next_base_fee=base, note=note, **fees)
    assert tx is not None
    with _asking(sender, "eth_getTransactionCount"):
        note = _why_waiting(sender, fees, base)
    return TxState(tx_hash, "pending", next_base_fee=base, note=note, **fees)


def _why_reverted(sender: Sender, tx: Any, block: int) -> str | None:
    """The rule a mined transaction that reverted broke, from replaying its call on
    its block (a reverted transaction changes nothing, so the block's state is the one
    it met, unless a later transaction in the same block changed it); None when the
    replay passes or the node cannot replay it (a deployment, a node that fails)."""
    if tx.get("to") is None:
        return None
    call = {"from": tx["from"], "to": tx["to"], "value": int(tx["value"]), "data": bytes(tx["input"])}
    try:
        sender.w3.eth.call(call, block_identifier=block)  # type: ignore[arg-type]
    except (ContractCustomError, ContractLogicError) as exc:
        return sender.refusal(exc).rule
    except (*NODE_AWAY, Web3RPCError):
        return None
    return None


def _why_waiting(sender: Sender, fees: dict[str, Any], base: int | None) -> str | None:
    """Why a pending transaction waits, when the node shows it: a fee below the next
    block's base fee, or an earlier nonce of its sender not mined yet."""
    cap = int(fees["max_fee_per_gas"])
    if base is not None and cap < base:
        return (
            f"its max fee of {gwei(cap)} per gas is below the next block's base fee of {gwei(base)}: it waits "
            "until fees fall; raise its fee with `scf tx replace`"
        )
    mined = int(sender.w3.eth.get_transaction_count(fees["sender"], "latest"))
    if mined < int(fees["nonce"]):
        return f"it waits behind {int(fees['nonce']) - mined} earlier transaction(s) of its sender not mined yet"
    return None


def _nonces_of(sender: Sender, address: str) -> tuple[int, int]:
    """``address``'s transaction count on chain and with its pending ones."""
    with _asking(sender, "eth_getTransactionCount"):
        eth = sender.w3.eth
        return (
            int(eth.get_transaction_count(address, "latest")),  # type: ignore[arg-type]
            int(eth.get_transaction_count(address, "pending")),  # type: ignore[arg-type]
        )


def _waiting(sender: Sender, tx_hash: str, signer: LocalAccount, verb: str) -> dict[str, Any]:
    """The pending transaction ``tx_hash`` of ``signer``, as the node holds it; refused
    (saying why) if the node does not know it, it is mined, or another account sent it."""
    state = look_up(sender, tx_hash)
    tx_hash = state.tx_hash
    if state.status == "unknown":
        mined, pending = _nonces_of(sender, signer.address)
        who = sender.who(signer.address)
        head = (
            f"transaction {tx_hash} is unknown to the node at {sender.url}: it never reached it, was dropped "
            f"from its pool, or another took its place at its nonce, so there is nothing to {verb}; "
        )
        if pending > mined:
            # One of these may be a replacement of it (`scf tx replace` run elsewhere), not yet mined.
            raise InputError(
                head + f"{who} has {pending - mined} transaction(s) waiting in the node's pool (nonces {mined} "
                f"to {pending - 1}), and one of them may have taken its place: wait until they are mined and look "
                "at what they did before running the command that sent it again"
            )
        raise InputError(
            head + f"no transaction of {who} waits in the node's pool, so unless one mined in its place did what "
            "it does (look at the ledger first), run the command that sent it again"
        )
    if state.status == "mined":
        outcome = "" if state.succeeded else " (it reverted, which changed nothing)"
        raise Refused(
            f"transaction {tx_hash} is already mined, in block {state.block}{outcome}: there is nothing to {verb}"
        )
    assert state.sender is not None and state.nonce is not None
    if state.sender.lower() != signer.address.lower():
        raise InputError(
            f"transaction {tx_hash} was sent by {sender.who(state.sender)}, not by {sender.who(signer.address)}: "
            f"only its sender can {verb} it; give --as the account that sent it"
        )
    mined = _nonces_of(sender, signer.address)[0]
    if mined > state.nonce:
        raise Refused(
            f"nonce {state.nonce} of {sender.who(signer.address)} is used by another mined transaction: {tx_hash} "
            f"can never be mined, so there is nothing to {verb}"
        )
    with _asking(sender, "eth_getTransactionByHash"):
        try:
            return dict(sender.w3.eth.get_transaction(tx_hash))  # type: ignore[arg-type]
        except TransactionNotFound:
            pass
    raise Refused(
        f"transaction {tx_hash} left the node's pool while it was being looked at (mined, dropped or replaced): "
        f"nothing was sent; see it with `scf tx show {tx_hash}`"
    )


def _raised(old: int, pct: Decimal) -> int:
    """``old`` raised by ``pct`` percent, rounded up, and by at least 1 wei (0 becomes 1).
    In integers: a fee may have more digits than Decimal's default precision keeps."""
    top, bottom = pct.as_integer_ratio()  # pct is finite: fee_bump_of checked it
    raised = -(-old * (100 * bottom + top) // (100 * bottom))  # the ceiling of old * (100 + pct) / 100
    return max(raised, old + 1)


def raised_fees(sender: Sender, tx: dict[str, Any], pct: Decimal) -> dict[str, int]:
    """The fees of a transaction in place of ``tx``: both raised by ``pct`` percent
    (a node takes a replacement only so); the fee cap also up to twice the next
    block's base fee plus the tip when it would be below that base fee plus the tip, so
    that the block takes it."""
    if tx.get("maxFeePerGas") is None:
        price = max(_raised(int(tx["gasPrice"]), pct), int(sender.w3.eth.gas_price))
        return {"gasPrice": price}
    tip = _raised(int(tx["maxPriorityFeePerGas"]), pct)
    cap = _raised(int(tx["maxFeePerGas"]), pct)
    base = sender.next_base_fee() or 0
    if cap < base + tip:
        cap = 2 * base + tip
    return {"maxFeePerGas": cap, "maxPriorityFeePerGas": min(tip, cap)}


def replace(sender: Sender, tx_hash: str, signer: LocalAccount, pct: Decimal = FEE_BUMP_DEFAULT) -> dict[str, Any]:
    """Send the call of pending transaction ``tx_hash`` again at its nonce with fees
    raised by ``pct`` percent (:func:`raised_fees`), and wait for it to be mined."""
    old = _waiting(sender, tx_hash, signer, "replace")
    call: dict[str, Any] = {"from": signer.address, "value": int(old["value"]), "data": bytes(old["input"])}
    if old.get("to") is not None:
        call["to"] = old["to"]
    gas = int(old["gas"])
    try:
        estimate = int(sender.w3.eth.estimate_gas(call))  # type: ignore[arg-type]
        gas = max(gas, estimate + estimate // 5 + 10_000)
    except NODE_AWAY as exc:
        raise RpcUnreachable(sender.url, away_reason(exc)[0]) from None
    except (ContractCustomError, ContractLogicError, Web3RPCError) as exc:
        try:
            if isinstance(exc, Web3RPCError):
                sender._estimate_refused(exc, signer.address)  # returns if the node only cannot estimate
            else:
                sender._raise_reverted(exc)
        except TransactionReverted as refused:
            as_ = sender.account_name(signer.address) or "NAME"
            raise Refused(
                f"the call of transaction {tx_hash_of(tx_hash)} would now be refused ({refused.rule}), so it is "
                f"not sent again; withdraw it with `scf tx cancel {tx_hash_of(tx_hash)} --as {as_}`"
            ) from None
    new = {k: v for k, v in call.items() if k != "from"}
    return _send_instead(sender, old, signer, new | {"gas": gas}, pct, "replaced")


def cancel(sender: Sender, tx_hash: str, signer: LocalAccount, pct: Decimal = FEE_BUMP_DEFAULT) -> dict[str, Any]:
    """Send 0 to ``signer`` itself at the nonce of pending transaction ``tx_hash``,
    with fees raised by ``pct`` percent, and wait for it to be mined: the nonce is
    used, the call of ``tx_hash`` never runs."""
    old = _waiting(sender, tx_hash, signer, "cancel")
    transfer = {"to": signer.address, "value": 0, "data": b"", "gas": TRANSFER_GAS}
    return _send_instead(sender, old, signer, transfer, pct, "cancelled")


def _send_instead(
    sender: Sender, old: dict[str, Any], signer: LocalAccount, tx: dict[str, Any], pct: Decimal, done: str
) -> dict[str, Any]:
    old_hash = old["hash"].to_0x_hex()
    nonce = int(old["nonce"])
    with _asking(sender, "eth_feeHistory"):
        fees = raised_fees(sender, old, pct)
    signed = signer.sign_transaction({**tx, **fees, "nonce": nonce, "chainId": sender.chain_id})
    with sender.sending_as(signer.address, wait=sender.timeout):
        try:
            new_hash = sender.send_raw(signed.raw_transaction, signer.address, nonce)
        except NonceConflict as conflict:
            state = look_up(sender, old_hash)
            if state.status == "mined":
                raise Refused(
                    f"transaction {old_hash} was mined, in block {state.block}, before it could be {done}: "
                    "there is nothing to do"
                ) from None
            if conflict.kind == "pending":
                raise Refused(
                    f"the node would not take the transaction in place of {old_hash} at fees {pct}% higher: "
                    "give a larger --fee-bump"
                ) from None
            raise
    try:
        receipt = sender.wait(new_hash, sender=signer.address)
    except TransactionTimeout as exc:
        if exc.dropped or exc.held_back or exc.gone:
            raise
        # Not "running the command again sends it a second time": the two share the nonce.
        raise TransactionTimeout(exc.tx_hash, exc.seconds, exc.account, exc.why, replaces=old_hash) from None
    old_cap = int(old.get("maxFeePerGas", old.get("gasPrice", 0)))
    new_cap = int(fees.get("maxFeePerGas", fees.get("gasPrice", 0)))
    return {
        done: old_hash,
        "tx_hash": new_hash.to_0x_hex(),
        "nonce": nonce,
        "block": int(receipt["blockNumber"]),
        "old_max_fee_per_gas": str(old_cap),
        "max_fee_per_gas": str(new_cap),
        "fee": f"{gwei(old_cap)} -> {gwei(new_cap)} per gas",
    }


__all__ = [
    "FEE_BUMP_DEFAULT",
    "FEE_BUMP_MAX",
    "FEE_BUMP_MIN",
    "TxState",
    "cancel",
    "fee_bump_of",
    "look_up",
    "raised_fees",
    "replace",
    "tx_hash_of",
]
