"""`scf tx show|replace|cancel`: a transaction already sent, by its hash.

For the hash an error names: a command whose transaction was not mined in
time (a node that does not mine, a fee below the base fee), or whose node
went away after sending it. The service is :mod:`ledger.evm.txs`; these
commands need the node only, not a deployment (a stuck `scf deploy` is
replaced the same way).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ledger.cli.common import LedgerGroup, after_change, as_option, emit, json_option, open_ledger, settings_of, signer

if TYPE_CHECKING:
    from ledger.evm.chain import Sender
    from ledger.evm.txs import TxState

BUMP_HELP = (
    "Raise both fees (the cap and the tip) by this percent: 12.5 (the least nodes take for a "
    "replacement) to 500; the cap also up to what the next block charges, if more. Default 25."
)
SYNC_HELP = (
    "Index the mined transaction into the database afterwards, as other signing commands do "
    "(default: on for the local dev chain; setting `sync`, SCF_SYNC). Skipped without a deployment."
)


@click.group(cls=LedgerGroup)
def tx() -> None:
    """A transaction already sent, by the hash an error named: look it up,
    replace it (the same call at higher fees), or cancel it (a transfer of 0
    to its sender at the same nonce). Use them when a command said its
    transaction was not mined in time, or that the node went away after it
    was sent.

    Example:

    \b
        scf tx show 0x5c50b2a1e0a4f3d47a4a7c2b8d1e9f00c3b6a5d4e3f2a1b0c9d8e7f6a5b4e1f3
        scf tx replace 0x5c50b2a1e0a4f3d47a4a7c2b8d1e9f00c3b6a5d4e3f2a1b0c9d8e7f6a5b4e1f3 --as supplier
        scf tx cancel 0x5c50b2a1e0a4f3d47a4a7c2b8d1e9f00c3b6a5d4e3f2a1b0c9d8e7f6a5b4e1f3 --as supplier --fee-bump 50
    """


def _sender(ctx: click.Context) -> tuple[Sender, bool]:
    """The deployment's sender (its errors and parties named) and True; without a
    deployment record, a bare sender on the node and False."""
    from ledger.errors import DeploymentError

    try:
        return open_ledger(ctx).sender, True
    except DeploymentError:
        from ledger.evm.chain import ErrorDecoder, Sender, connect

        settings = settings_of(ctx)
        return Sender(connect(settings.rpc_url), ErrorDecoder([]), settings.tx_timeout, settings.keystore_dir), False


def _state_text(state: TxState) -> str:
    if state.status == "unknown":
        return (
            f"transaction {state.tx_hash}: unknown to this node (it never reached it, was dropped from its pool, "
            "or another took its place at its nonce): nothing of it is on chain"
        )
    if state.status == "mined":
        outcome = "succeeded" if state.succeeded else "reverted (which changed nothing)"
        text = f"transaction {state.tx_hash}: mined in block {state.block}, {outcome}"
        if state.nonce is not None:
            text += f"; nonce {state.nonce} of {state.sender}"
    else:
        text = f"transaction {state.tx_hash}: pending, nonce {state.nonce} of {state.sender}, not mined yet"
    return f"{text}; {state.note}" if state.note else text


@tx.command("show")
@click.argument("tx_hash", metavar="HASH")
@json_option
@click.pass_context
def tx_show(ctx: click.Context, tx_hash: str) -> None:
    """Whether transaction HASH is mined (in which block, and whether it
    succeeded; if it reverted, the rule it broke), pending (waiting in the
    node's pool; with why, when the node shows it: a fee below the base fee,
    an earlier nonce not mined), or
    unknown to the node (it never reached it, was dropped, or was replaced or
    cancelled: nothing of it is on chain). Read-only: nothing is sent.

    Example:

    \b
        scf tx show 0x5c50b2a1e0a4f3d47a4a7c2b8d1e9f00c3b6a5d4e3f2a1b0c9d8e7f6a5b4e1f3
    """
    from ledger.evm.txs import look_up, tx_hash_of

    tx_hash = tx_hash_of(tx_hash)
    state = look_up(_sender(ctx)[0], tx_hash)
    emit(ctx, state.as_dict(), _state_text(state))


def _instead(ctx: click.Context, what: str, tx_hash: str, as_name: str, fee_bump: str | None, sync_after: Any) -> None:
    from ledger.evm import txs

    tx_hash = txs.tx_hash_of(tx_hash)
    pct = txs.fee_bump_of(fee_bump)
    sender, deployed = _sender(ctx)
    account = signer(ctx, as_name, sender.chain_id)
    done = (txs.replace if what == "replaced" else txs.cancel)(sender, tx_hash, account, pct)
    emit(
        ctx,
        done,
        f"{what} transaction {tx_hash} with {done['tx_hash']} (nonce {done['nonce']}, fee {done['fee']}), "
        f"mined in block {done['block']}",
    )
    if deployed:
        after_change(ctx, sync_after)


_hash_argument = click.argument("tx_hash", metavar="HASH")
_bump_option = click.option("--fee-bump", metavar="PCT", help=BUMP_HELP)
_sync_flag = click.option("--sync/--no-sync", "sync_after", default=None, help=SYNC_HELP)


@tx.command("replace")
@_hash_argument
@as_option(None, "The account that sent it (see `scf account list`).", required=True)
@_bump_option
@_sync_flag
@json_option
@click.pass_context
def tx_replace(ctx: click.Context, tx_hash: str, as_name: str, fee_bump: str | None, sync_after: Any) -> None:
    """Send the call of pending transaction HASH again, at the same nonce
    with higher fees, and wait for it to be mined: the node mines one of
    the two, never both. The call is simulated first; one the contracts
    would now refuse is not sent (cancel it instead). Refused for a
    transaction that is mined, unknown to the node, or sent by another
    account than --as.

    Example:

    \b
        scf tx replace 0x5c50b2a1e0a4f3d47a4a7c2b8d1e9f00c3b6a5d4e3f2a1b0c9d8e7f6a5b4e1f3 --as supplier
    """
    _instead(ctx, "replaced", tx_hash, as_name, fee_bump, sync_after)


@tx.command("cancel")
@_hash_argument
@as_option(None, "The account that sent it (see `scf account list`).", required=True)
@_bump_option
@_sync_flag
@json_option
@click.pass_context
def tx_cancel(ctx: click.Context, tx_hash: str, as_name: str, fee_bump: str | None, sync_after: Any) -> None:
    """Withdraw pending transaction HASH: send 0 to the account itself at
    its nonce with higher fees, and wait for it to be mined. Its call never
    runs (the ledger stays as it was), and the account's next transaction
    takes the next nonce: run the command that sent it again if it is still
    wanted. Refused for a transaction that is mined, unknown to the node,
    or sent by another account than --as.

    Example:

    \b
        scf tx cancel 0x5c50b2a1e0a4f3d47a4a7c2b8d1e9f00c3b6a5d4e3f2a1b0c9d8e7f6a5b4e1f3 --as supplier
    """
    _instead(ctx, "cancelled", tx_hash, as_name, fee_bump, sync_after)
