"""`scf token mint|transfer|balance`: the settlement stablecoin."""

from __future__ import annotations

from typing import Any

import click

from ledger.cli.common import LedgerGroup, as_option, emit, json_option, open_ledger, signer, sync_option
from ledger.format import label, money_text


@click.group(cls=LedgerGroup)
def token() -> None:
    """The settlement stablecoin (HKD test token on the local chain) in which
    advances and repayments are paid.

    Example:

    \b
        scf token mint --to buyer --amount 1000000.00
        scf token transfer --as buyer --to supplier --amount 48250.50
        scf token balance buyer
    """


@token.command("mint")
@click.option("--to", "to_text", required=True, help="Address, account or participant name.")
@click.option("--amount", required=True, help="Amount in major units, e.g. 1000000.00.")
@click.option("--currency", default="HKD", show_default=True)
@as_option("operator")
@sync_option
@json_option
@click.pass_context
def token_mint(ctx: click.Context, to_text: str, amount: str, currency: str, as_name: str) -> None:
    """Create settlement tokens for --to (the minter only: the deployer unless
    `scf deploy --minter` named another; test networks).

    Example:

    \b
        scf token mint --to "Harbour Trade Finance Ltd" --amount 5000000.00
    """
    ledger = open_ledger(ctx)
    to = ledger.resolve(to_text, "recipient")
    result = ledger.mint(signer(ctx, as_name, ledger.sender.chain_id), to.address, amount, currency)
    emit(ctx, result, f"minted {money_text(result['currency'], result['amount'])} to {to.name or to.address}")


@token.command("transfer")
@click.option("--to", "to_text", required=True, metavar="WHO", help="Address, account or participant name.")
@click.option("--amount", required=True, help="Amount in major units, e.g. 48250.50 (more than 0).")
@click.option("--currency", default="HKD", show_default=True, metavar="SYMBOL", help="The settlement token to pay in.")
@as_option(None, "Account that pays and signs (see `scf account list`).", required=True)
@sync_option
@json_option
@click.pass_context
def token_transfer(ctx: click.Context, to_text: str, amount: str, currency: str, as_name: str) -> None:
    """Pay settlement tokens from the account --as to --to. Refused before
    anything is sent when the amount is 0 (exit 2) or more than --as holds
    (exit 1). Prints the transaction and both balances after it.

    Example:

    \b
        scf token transfer --as buyer --to "Kowloon Precision Parts Ltd" --amount 48250.50
    """
    ledger = open_ledger(ctx)
    to = ledger.resolve(to_text, "recipient")
    result = ledger.transfer(signer(ctx, as_name, ledger.sender.chain_id), to.address, amount, currency)

    def text(r: dict[str, Any]) -> None:
        cur = r["currency"]
        payer, payee = label(r["from"]["address"], r["from"]["name"]), label(r["to"]["address"], r["to"]["name"])
        click.echo(f"transferred {money_text(cur, r['amount'])} from {payer} to {payee} (tx {r['tx_hash']})")
        click.echo(f"  {payer}: {money_text(cur, r['balances']['from'])}")
        click.echo(f"  {payee}: {money_text(cur, r['balances']['to'])}")

    emit(ctx, result, text)


@token.command("approve")
@click.option("--amount", required=True, help="Most the invoice contract may draw, in major units (0 takes it back).")
@click.option("--currency", default="HKD", show_default=True, metavar="SYMBOL", help="The settlement token.")
@as_option(None, "Account that gives the allowance and signs (see `scf account list`).", required=True)
@sync_option
@json_option
@click.pass_context
def token_approve(ctx: click.Context, amount: str, currency: str, as_name: str) -> None:
    """Let the invoice contract draw up to --amount from the account --as: a
    standing consent for payments another party's transaction draws, such as
    a holder's buy-back demand under recourse (`scf invoice buy-back ID --as
    HOLDER`). scf's own payments approve what each needs, so this is only for
    those. The allowance is set to exactly --amount; 0 takes it back.

    Example:

    \b
        scf token approve --amount 76000.00 --as supplier
        scf token approve --amount 0 --as supplier
    """
    ledger = open_ledger(ctx)
    result = ledger.approve_settlement(signer(ctx, as_name, ledger.sender.chain_id), amount, currency)
    owner = label(result["owner"]["address"], result["owner"]["name"])
    emit(
        ctx,
        result,
        f"{owner} lets the invoice contract draw up to {money_text(result['currency'], result['allowance'])} "
        f"(tx {result['tx_hash']})",
    )


@token.command("balance")
@click.argument("who")
@click.option("--currency", default="HKD", show_default=True)
@json_option
@click.pass_context
def token_balance(ctx: click.Context, who: str, currency: str) -> None:
    """Settlement-token balance of WHO: an address, account or participant name.

    Example:

    \b
        scf token balance "Kowloon Precision Parts Ltd"
    """
    ledger = open_ledger(ctx)
    party = ledger.resolve(who)
    balance = ledger.balance(party.address, currency)
    emit(
        ctx,
        {"address": party.address, "name": party.name, "currency": currency.upper(), "balance": str(balance)},
        f"{party.name or party.address}: {currency.upper()} {balance:,}",
    )
