"""`scf pause` and `scf unpause`: the network-wide emergency stop."""

from __future__ import annotations

import click

from ledger.cli.common import as_option, emit, json_option, open_ledger, signer, sync_option


@click.command("pause")
@as_option("operator")
@sync_option
@json_option
@click.pass_context
def pause_cmd(ctx: click.Context, as_name: str) -> None:
    """Stop all invoice state changes (operator only), e.g. while an incident
    is looked into; `scf unpause` resumes them. Refused (exit 1, nothing
    sent) when the network is already paused.

    Example:

    \b
        scf pause --as operator
    """
    ledger = open_ledger(ctx)
    emit(ctx, ledger.set_paused(signer(ctx, as_name, ledger.sender.chain_id), True), "network paused")


@click.command("unpause")
@as_option("operator")
@sync_option
@json_option
@click.pass_context
def unpause_cmd(ctx: click.Context, as_name: str) -> None:
    """Resume invoice state changes after `scf pause` (operator only).
    Refused (exit 1, nothing sent) when the network is not paused.

    Example:

    \b
        scf unpause --as operator
    """
    ledger = open_ledger(ctx)
    emit(ctx, ledger.set_paused(signer(ctx, as_name, ledger.sender.chain_id), False), "network resumed")
