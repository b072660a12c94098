"""`scf account ...`: signing accounts (encrypted keystores, Anvil's dev accounts)."""

from __future__ import annotations

import os
import sys

import click

from ledger.cli.common import LedgerGroup, as_option, emit, json_option, settings_of, signer
from ledger.config import env_password
from ledger.errors import InputError


@click.group(cls=LedgerGroup)
def account() -> None:
    """Signing accounts: encrypted keystores, plus Anvil's dev accounts on
    chain 31337. Every `--as NAME` names one of these.

    Example:

    \b
        scf account new treasury
        scf account list
    """


def _new_password() -> str:
    password = env_password()
    if password is not None:
        return password
    if not sys.stdin.isatty():
        raise InputError("no password: set SCF_PASSWORD or run in a terminal to be prompted")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@account.command("new")
@click.argument("name")
@json_option
@click.pass_context
def account_new(ctx: click.Context, name: str) -> None:
    """Create a new key under NAME, stored encrypted (password from a prompt
    or SCF_PASSWORD). The key itself is never printed.

    Example:

    \b
        SCF_PASSWORD=... scf account new treasury
    """
    from ledger.evm.accounts import Keystore

    address = Keystore(settings_of(ctx)).create(name, _new_password())
    emit(ctx, {"name": name, "address": address}, f"created account {name}: {address}")


@account.command("import")
@click.argument("name")
@json_option
@click.pass_context
def account_import(ctx: click.Context, name: str) -> None:
    """Import a private key under NAME (from a hidden prompt or
    SCF_PRIVATE_KEY), stored encrypted (password from a prompt or
    SCF_PASSWORD).

    Example:

    \b
        scf account import harbour
    """
    from ledger.evm.accounts import Keystore

    key = os.environ.get("SCF_PRIVATE_KEY")
    if key is None:
        if not sys.stdin.isatty():
            raise InputError("no private key: set SCF_PRIVATE_KEY or run in a terminal to be prompted")
        key = str(click.prompt("Private key", hide_input=True))
    address = Keystore(settings_of(ctx)).create(name, _new_password(), private_key=key.strip())
    emit(ctx, {"name": name, "address": address}, f"imported account {name}: {address}")


@account.command("list")
@json_option
@click.pass_context
def account_list(ctx: click.Context) -> None:
    """Known accounts: keystores, and the dev accounts (operator, supplier,
    buyer, financier, ...; dev chain only). A keystore file that cannot be
    read or is corrupt is listed as unreadable (address null and its
    `problem` in JSON), with a warning on stderr; the others are listed as
    usual and the exit code stays 0.

    Example:

    \b
        scf account list --json
    """
    from ledger.evm.accounts import list_accounts

    found = list_accounts(settings_of(ctx))
    rows = [
        {"name": a.name, "address": a.address, "kind": a.kind, "problem": a.problem}  # problem: null when readable
        for a in found
    ]

    def text(data: list[dict[str, str | None]]) -> None:
        for row in data:
            if row["address"] is None:
                click.echo(f"{row['name']:<12} {'(unreadable)':<42}  {row['kind']}")
                continue
            note = "  (dev chain 31337 only)" if row["kind"] == "dev" else ""
            click.echo(f"{row['name']:<12} {row['address']}  {row['kind']}{note}")

    emit(ctx, rows, text)
    for account in found:
        if account.problem:
            click.echo(f"warning: {account.problem}", err=True)


@account.command("fund")
@click.argument("target")
@click.option(
    "--amount", required=True, metavar="COINS", help="Native coins to send (exact, up to 18 decimals; e.g. 1.5)."
)
@as_option(None, "The account that pays (a keystore account holding native coin).", required=True)
@json_option
@click.pass_context
def account_fund(ctx: click.Context, target: str, amount: str, as_name: str) -> None:
    """Send the chain's native coin (what gas is paid in) to TARGET, an
    account name or address, so it can send transactions. Needed on chains
    with a base fee (a Clique network of `scf node start --engine clique`);
    the local Anvil charges no gas. Amounts are exact: 1 coin is 10^18 wei.

    Example:

    \b
        scf account fund kowloon --amount 10 --as bankops
    """
    from ledger.cli.common import open_ledger
    from ledger.errors import DeploymentError
    from ledger.evm.chain import ErrorDecoder, Sender, coins, connect
    from ledger.money import to_minor_units
    from ledger.names import account_address, resolve

    settings = settings_of(ctx)
    wei = to_minor_units(amount, 18, "amount of native coin")
    if wei == 0:
        raise InputError("an amount of 0 sends nothing; give --amount above 0")
    # An address or a local account first (no chain read); else a participant's registered name.
    if target.strip().lower().startswith("0x") or account_address(target.strip(), settings.keystore_dir):
        to = resolve(target, {}, "account", settings.keystore_dir, account_first=True)
    else:
        try:
            to = open_ledger(ctx).resolve(target, "account", account_first=True).address
        except DeploymentError:
            to = resolve(target, {}, "account", settings.keystore_dir)
    sender = Sender(connect(settings.rpc_url), ErrorDecoder([]), settings.tx_timeout)
    payer = signer(ctx, as_name, sender.chain_id)
    receipt = sender.send_value(to, wei, payer)
    balance = int(sender.w3.eth.get_balance(to))  # type: ignore[arg-type]
    data = {
        "to": to,
        "amount": coins(wei).replace(",", ""),
        "wei": str(wei),
        "balance_wei": str(balance),
        "tx_hash": receipt["transactionHash"].to_0x_hex(),
        "block": int(receipt["blockNumber"]),
    }
    emit(ctx, data, f"sent {coins(wei)} native coin to {to} (tx {data['tx_hash']}, block {data['block']})")
