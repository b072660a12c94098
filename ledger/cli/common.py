"""The `scf` command line: thin wrappers that parse, call and print.

Modules that talk to the chain (web3) are imported inside the commands that
need them, so commands that only read local state start fast. Every
``LedgerError`` becomes one line on stderr with a non-zero exit code.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ledger import __version__
from ledger.config import DEV_CHAIN_ID, Settings, load_settings
from ledger.errors import InputError, LedgerError
from ledger.money import parse_date

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from ledger.lifecycle import Ledger

F = TypeVar("F", bound=Callable[..., Any])


class _LedgerClickError(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]


def _one_line_usage(exc: click.UsageError) -> _LedgerClickError:
    """click's usage errors print Usage/Try/Error on four lines; we print one."""
    path = exc.ctx.command_path if exc.ctx is not None else "scf"
    return _LedgerClickError(f"{exc.format_message()} (see `{path} --help`)", 2)


class LedgerGroup(click.Group):
    """Turns ledger errors (and anything unexpected) into one-line errors."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        # Errors in the root options (e.g. --home) are raised here, before invoke().
        try:
            return super().make_context(*args, **kwargs)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise _one_line_usage(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LedgerError as exc:
            message = str(exc)
            if "\n" in message and exc.__class__.__name__ != "CompileError":
                message = " ".join(message.split())
            raise _LedgerClickError(message, exc.exit_code) from None
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as exc:
            raise _one_line_usage(exc) from None
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort, SystemExit):
            raise
        except KeyboardInterrupt:
            raise click.exceptions.Exit(130) from None
        except Exception as exc:  # noqa: BLE001 - no tracebacks for users
            if os.environ.get("SCF_DEBUG"):
                traceback.print_exc()
            raise _LedgerClickError(
                f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]} "
                "(rerun with SCF_DEBUG=1 for details and report it)",
                70,
            ) from None


def settings_of(ctx: click.Context) -> Settings:
    root = ctx.find_root()
    if "settings" not in root.meta:
        params = root.params
        root.meta["settings"] = load_settings(
            home=params.get("home"), rpc_url=params.get("rpc_url"), db_url=params.get("db_url")
        )
    settings: Settings = root.meta["settings"]
    return settings


def emit(ctx: click.Context, data: Any, text: Callable[[Any], None] | str | None = None) -> None:
    """Print `data` as JSON with --json, else as text."""
    if ctx.meta.get("json") or ctx.find_root().meta.get("json"):
        click.echo(json.dumps(data, indent=2, default=str))
    elif callable(text):
        text(data)
    elif text is not None:
        click.echo(text)
    else:
        for key, value in data.items():
            click.echo(f"{key}: {value}")


def _output_format(ctx: click.Context, name: str) -> None:
    """Record --json or --csv; both together are refused while the options
    are parsed, before the command opens the database or the chain."""
    meta = ctx.find_root().meta
    meta[name] = True
    if meta.get("json") and meta.get("csv"):
        raise InputError("--json and --csv cannot be combined; choose one")


def _format_option(name: str, expose: bool, help_text: str) -> Callable[[F], F]:
    def callback(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
        if value:
            _output_format(ctx, name)
        return value

    option: Callable[[F], F] = click.option(
        f"--{name}", f"as_{name}", is_flag=True, expose_value=expose, callback=callback, help=help_text,
    )
    return option


def json_option(f: F) -> F:
    """--json: print machine-readable JSON (through :func:`emit`)."""
    return _format_option("json", False, "Print machine-readable JSON.")(f)


def csv_option(f: F) -> F:
    """--csv, passed to the command as ``as_csv``; print with :func:`write_csv`."""
    return _format_option("csv", True, "Print CSV (a header row, then one row per item).")(f)


def write_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None,
              csv_row: Callable[[Mapping[str, Any]], Sequence[Any]] | None = None) -> None:
    """``rows`` as CSV on stdout: a header of ``columns`` (by default every
    key of the rows, in first-seen order), then one line per row (``csv_row``
    turns a row into its cells; by default the columns' values, None as an
    empty cell)."""
    import csv

    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(csv_row(row) if csv_row else ["" if row.get(c) is None else row.get(c) for c in columns])
    sys.stdout.flush()


def as_option(default: str) -> Callable[[F], F]:
    return click.option(
        "--as", "as_name", default=default, show_default=True, metavar="NAME",
        help="Account that signs (see `scf account list`).",
    )


def sync_option(f: F) -> F:
    """`--sync/--no-sync` on a command that changes the chain: afterwards, index
    the change into the database so queries see it at once. Default: on for
    the local dev chain (31337), off elsewhere (run `scf index follow` there)."""

    @functools.wraps(f)
    def wrapper(*args: Any, sync_after: bool | None = None, **kwargs: Any) -> Any:
        result = f(*args, **kwargs)
        after_change(click.get_current_context(), sync_after)
        return result

    return click.option(
        "--sync/--no-sync", "sync_after", default=None,
        help="Index the change into the database afterwards (default: on for the local dev chain).",
    )(wrapper)  # type: ignore[return-value]


def after_change(ctx: click.Context, sync_after: bool | None) -> None:
    ledger = open_ledger(ctx)
    if sync_after is None:
        sync_after = ledger.sender.chain_id == DEV_CHAIN_ID
    if not sync_after:
        return
    from ledger.indexer import sync

    try:
        sync(settings_of(ctx), ledger.deployment)
    except Exception as exc:  # noqa: BLE001 - never report a mined transaction as failed
        # The transaction stands; only the mirror lags. Say so, and how to catch up.
        click.echo(
            f"warning: done on chain, but the database was not updated ({' '.join(str(exc).split())}); "
            "run `scf index sync`",
            err=True,
        )


def open_ledger(ctx: click.Context) -> Ledger:
    root = ctx.find_root()
    if "ledger" not in root.meta:
        from ledger.deployment import load_deployment
        from ledger.evm.chain import connect
        from ledger.lifecycle import Ledger

        settings = settings_of(ctx)
        w3 = connect(settings.rpc_url)
        deployment = load_deployment(settings, int(w3.eth.chain_id))
        root.meta["ledger"] = Ledger(settings, w3, deployment)
    ledger: Ledger = root.meta["ledger"]
    return ledger


def signer(ctx: click.Context, name: str, chain_id: int) -> LocalAccount:
    from ledger.evm.accounts import Keystore, load_signer

    settings = settings_of(ctx)
    password = os.environ.get("SCF_PASSWORD")
    if password is None and Keystore(settings).path(name).exists() and sys.stdin.isatty():
        password = click.prompt(f"Password for {name}", hide_input=True)
    return load_signer(settings, name, chain_id, password)


# -- root ----------------------------------------------------------------------
@click.group(cls=LedgerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", type=click.Path(file_okay=False), envvar="SCF_HOME",
              help="Data directory (default .scf; env SCF_HOME).")
@click.option("--rpc-url", envvar="SCF_RPC_URL", help="JSON-RPC endpoint (default the local node; env SCF_RPC_URL).")
@click.option("--db-url", envvar="SCF_DB_URL",
              help="Ledger database URL (default SQLite <home>/ledger.db; env SCF_DB_URL).")
@click.version_option(__version__, prog_name="scf")
def main(home: str | None, rpc_url: str | None, db_url: str | None) -> None:
    """scf-ledger: supply-chain financing on a private EVM chain.

    Suppliers issue invoices, buyers confirm them, financiers fund them and
    buyers repay, every step on chain. Start with `scf node start` and
    `scf deploy`.
    """


# -- compile / deploy ------------------------------------------------------------
@main.command("compile")
@click.option("--force", is_flag=True, help="Compile even if the cache is current.")
@json_option
@click.pass_context
def compile_cmd(ctx: click.Context, force: bool) -> None:
    """Compile contracts/ (cached by sources, compiler and settings)."""
    from ledger.evm.compiler import compile_contracts

    build, ran = compile_contracts(settings_of(ctx), force=force)
    data = {
        "build_key": build.key,
        "compiler": build.compiler,
        "evm_version": build.settings["evmVersion"],
        "compiled": ran,
        "contracts": sorted(build.artifacts),
    }
    state = "compiled" if ran else "up to date (cached)"
    emit(ctx, data, f"{len(build.artifacts)} contracts {state}: solc {build.compiler}, "
                    f"evm {data['evm_version']}, build {build.key[:12]}")


@main.command()
@as_option("operator")
@click.option("--force", is_flag=True, help="Deploy a new set even if this chain has one.")
@click.option("--admin", "admin", help="Default admin of the contracts (two-step transfer; default: the deployer).")
@click.option("--operator", "operator", help="Holder of the operator role (admits, suspends, pauses).")
@click.option("--currency-manager", "currency_manager", help="Holder of the currency manager role.")
@click.option("--minter", "minter", help="Minter of the test settlement token.")
@json_option
@click.pass_context
def deploy(
    ctx: click.Context, as_name: str, force: bool, admin: str | None, operator: str | None,
    currency_manager: str | None, minter: str | None,
) -> None:
    """Compile if needed, deploy all contracts (version 2), and record the
    deployment. Each administrative role can go to its own account (an
    address or a local account name); by default the deployer holds them all.

    Example: scf deploy --as operator --currency-manager treasury --minter dev9
    """
    from ledger.evm.chain import connect
    from ledger.evm.compiler import compile_contracts
    from ledger.evm.deploy import deploy as do_deploy
    from ledger.names import resolve

    settings = settings_of(ctx)
    w3 = connect(settings.rpc_url)
    account = signer(ctx, as_name, int(w3.eth.chain_id))
    roles = {
        role: resolve(text, {}, role.replace("_", " "), settings.keystore_dir, True)
        for role, text in (("admin", admin), ("operator", operator), ("currency_manager", currency_manager),
                           ("minter", minter)) if text is not None
    }
    build, _ = compile_contracts(settings)
    deployment = do_deploy(settings, w3, build, account, force=force, roles=roles)
    data = {
        "version": deployment.version,
        "roles": deployment.roles,
        "chain_id": deployment.chain_id,
        "contracts": {n: {"address": c.address, "block": c.block} for n, c in deployment.contracts.items()},
        "currencies": {s: c.address for s, c in deployment.currencies.items()},
    }

    def text(d: dict[str, Any]) -> None:
        click.echo(f"deployed contracts version {d['version']} on chain {d['chain_id']}:")
        for n, c in d["contracts"].items():
            click.echo(f"  {n:<28} {c['address']}  (block {c['block']})")
        for role, holder in d["roles"].items():
            click.echo(f"  {role.replace('_', ' '):<28} {holder}")

    emit(ctx, data, text)


# -- node ------------------------------------------------------------------------
@main.group()
def node() -> None:
    """The local Anvil chain (chain id 31337, state kept in the data directory)."""


@node.command("start")
@click.option("--port", type=int, help="Port to listen on (default 8545; env SCF_NODE_PORT).")
@json_option
@click.pass_context
def node_start(ctx: click.Context, port: int | None) -> None:
    """Start the local chain in the background (a restart keeps all state)."""
    from dataclasses import replace

    from ledger.evm.node import LocalNode

    settings = settings_of(ctx)
    if port is not None:
        settings = replace(settings, node_port=port)
    info, started = LocalNode(settings).start()
    data = {**info, "url": f"http://127.0.0.1:{info['port']}", "started": started, "chain_id": DEV_CHAIN_ID}
    word = "started" if started else "already running"
    emit(ctx, data, f"local chain {word}: pid {info['pid']}, {data['url']}")


@node.command("stop")
@json_option
@click.pass_context
def node_stop(ctx: click.Context) -> None:
    """Stop the local chain (by its recorded PID; its state is saved)."""
    from ledger.evm.node import LocalNode

    stopped = LocalNode(settings_of(ctx)).stop()
    emit(ctx, {"stopped": stopped}, f"local chain stopped (pid {stopped['pid']})" if stopped
         else "local chain is not running")


@node.command("status")
@json_option
@click.pass_context
def node_status(ctx: click.Context) -> None:
    """Whether the local chain runs, and where."""
    from ledger.evm.node import LocalNode, rpc_ready

    info = LocalNode(settings_of(ctx)).info()
    if info is None:
        emit(ctx, {"running": False}, "local chain is not running; start it with `scf node start`")
        return
    url = f"http://127.0.0.1:{info['port']}"
    data = {"running": True, **info, "url": url, "answering": rpc_ready(url, 2.0)}
    emit(ctx, data, f"local chain running: pid {info['pid']}, {url}"
                    + ("" if data["answering"] else " (not answering JSON-RPC)"))


# -- accounts ----------------------------------------------------------------------
@main.group()
def account() -> None:
    """Signing accounts: encrypted keystores, plus Anvil's dev accounts on chain 31337."""


def _new_password() -> str:
    password = os.environ.get("SCF_PASSWORD")
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
    """Create a new key, stored encrypted (password from a prompt or SCF_PASSWORD)."""
    from ledger.evm.accounts import Keystore

    address = Keystore(settings_of(ctx)).create(name, _new_password())
    emit(ctx, {"name": name, "address": address}, f"created account {name}: {address}")


@account.command("import")
@click.argument("name")
@json_option
@click.pass_context
def account_import(ctx: click.Context, name: str) -> None:
    """Import a private key (from a hidden prompt or SCF_PRIVATE_KEY), stored encrypted."""
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
    """Known accounts: keystores, and the dev accounts (dev chain only)."""
    from ledger.evm.accounts import list_accounts

    rows = [a.__dict__ for a in list_accounts(settings_of(ctx))]

    def text(data: list[dict[str, str]]) -> None:
        for row in data:
            note = "  (dev chain 31337 only)" if row["kind"] == "dev" else ""
            click.echo(f"{row['name']:<12} {row['address']}  {row['kind']}{note}")

    emit(ctx, rows, text)


# -- participants ----------------------------------------------------------------------
@main.group()
def participant() -> None:
    """Admit, list, update, suspend and reinstate network participants."""


@participant.command("add")
@click.argument("name")
@click.option("--address", "address_text", required=True, help="Address or account name.")
@click.option("--role", "role_text", required=True,
              help="supplier, buyer, financier, auditor; several comma-separated.")
@click.option("--kyc-until", help="Last day the KYC is valid (YYYY-MM-DD; default one year from today).")
@as_option("operator")
@sync_option
@json_option
@click.pass_context
def participant_add(
    ctx: click.Context, name: str, address_text: str, role_text: str, kyc_until: str | None, as_name: str
) -> None:
    """Admit a participant under NAME (operator only)."""
    from ledger.lifecycle import parse_roles

    roles = parse_roles(role_text)
    today = dt.datetime.now(dt.UTC).date()
    until = parse_date(kyc_until, "KYC date") if kyc_until else today + dt.timedelta(days=365)
    if until < today:
        raise InputError(f"KYC date {until} is in the past; give the last day the KYC is valid (today or later)")
    ledger = open_ledger(ctx)
    address = ledger.resolve(address_text, "new participant").address
    result = ledger.add_participant(signer(ctx, as_name, ledger.sender.chain_id), name, address, roles, until)
    emit(ctx, result, f"admitted {result['name']} ({address}) as {', '.join(result['roles'])}, "
                      f"KYC until {result['kyc_until']}")


@participant.command("update")
@click.argument("who")
@click.option("--role", "role_text", help="New roles (replace the old): supplier, buyer, financier, auditor.")
@click.option("--kyc-until", help="New last day the KYC is valid (YYYY-MM-DD); renews an expired KYC.")
@click.option("--name", "new_name", help="New registered name.")
@as_option("operator")
@sync_option
@json_option
@click.pass_context
def participant_update(
    ctx: click.Context, who: str, role_text: str | None, kyc_until: str | None, new_name: str | None, as_name: str
) -> None:
    """Change WHO's roles, renew its KYC or rename it (operator only).

    Example: scf participant update "Kowloon Precision Parts Ltd" --kyc-until 2028-06-30
    """
    from ledger.lifecycle import parse_roles

    roles = parse_roles(role_text) if role_text is not None else None
    until = None
    if kyc_until is not None:
        until = parse_date(kyc_until, "KYC date")
        if until < dt.datetime.now(dt.UTC).date():
            raise InputError(f"KYC date {until} is in the past; give the last day the KYC is valid (today or later)")
    ledger = open_ledger(ctx)
    party = ledger.resolve(who)
    result = ledger.update_participant(
        signer(ctx, as_name, ledger.sender.chain_id), party.address, roles, until, new_name
    )
    changes = []
    if "roles" in result:
        changes.append(f"roles {', '.join(result['roles'])}, KYC until {result['kyc_until']}")
    if "renamed_from" in result:
        changes.append(f"renamed from {result['renamed_from']!r}")
    emit(ctx, result, f"updated {result['name'] or party.address}: {'; '.join(changes) or 'nothing changed'}")


def _suspension(ctx: click.Context, who: str, as_name: str, suspended: bool) -> None:
    ledger = open_ledger(ctx)
    party = ledger.resolve(who)
    result = ledger.set_suspended(signer(ctx, as_name, ledger.sender.chain_id), party.address, suspended)
    word = "suspended" if suspended else "reinstated"
    emit(ctx, result, f"{word} {party.name or party.address}")


@participant.command("suspend")
@click.argument("who")
@as_option("operator")
@sync_option
@json_option
@click.pass_context
def participant_suspend(ctx: click.Context, who: str, as_name: str) -> None:
    """Suspend a participant: it can no longer act (operator only)."""
    _suspension(ctx, who, as_name, True)


@participant.command("reinstate")
@click.argument("who")
@as_option("operator")
@sync_option
@json_option
@click.pass_context
def participant_reinstate(ctx: click.Context, who: str, as_name: str) -> None:
    """Lift a suspension (operator only)."""
    _suspension(ctx, who, as_name, False)


# -- settlement token ----------------------------------------------------------------------
@main.group()
def token() -> None:
    """The settlement stablecoin (HKD test token on the local chain)."""


@token.command("mint")
@click.option("--to", "to_text", required=True, help="Address, account or participant name.")
@click.option("--amount", required=True, help="Amount in major units, e.g. 1000000.00.")
@click.option("--currency", default="HKD", show_default=True)
@as_option("operator")
@sync_option
@json_option
@click.pass_context
def token_mint(ctx: click.Context, to_text: str, amount: str, currency: str, as_name: str) -> None:
    """Create settlement tokens (operator only, test networks)."""
    ledger = open_ledger(ctx)
    to = ledger.resolve(to_text, "recipient")
    result = ledger.mint(signer(ctx, as_name, ledger.sender.chain_id), to.address, amount, currency)
    emit(ctx, result, f"minted {result['currency']} {result['amount']} to {to.name or to.address}")


@token.command("balance")
@click.argument("who")
@click.option("--currency", default="HKD", show_default=True)
@json_option
@click.pass_context
def token_balance(ctx: click.Context, who: str, currency: str) -> None:
    """Settlement-token balance of an address, account or participant."""
    ledger = open_ledger(ctx)
    party = ledger.resolve(who)
    balance = ledger.balance(party.address, currency)
    emit(ctx, {"address": party.address, "name": party.name, "currency": currency.upper(), "balance": str(balance)},
         f"{party.name or party.address}: {currency.upper()} {balance:,}")


# -- network ----------------------------------------------------------------------------
@main.command("pause")
@as_option("operator")
@sync_option
@json_option
@click.pass_context
def pause_cmd(ctx: click.Context, as_name: str) -> None:
    """Stop all invoice state changes (operator only)."""
    ledger = open_ledger(ctx)
    emit(ctx, ledger.set_paused(signer(ctx, as_name, ledger.sender.chain_id), True), "network paused")


@main.command("unpause")
@as_option("operator")
@sync_option
@json_option
@click.pass_context
def unpause_cmd(ctx: click.Context, as_name: str) -> None:
    """Resume invoice state changes (operator only)."""
    ledger = open_ledger(ctx)
    emit(ctx, ledger.set_paused(signer(ctx, as_name, ledger.sender.chain_id), False), "network resumed")


# -- invoices ----------------------------------------------------------------------------
@main.group()
def invoice() -> None:
    """Issue, confirm, cancel, list, finance, repay and show invoices."""


@invoice.command("issue")
@click.option("--buyer", required=True, help="Buyer: participant name, account name or address.")
@click.option("--number", required=True, help="The invoice number, e.g. INV-2026-001.")
@click.option("--amount", required=True, help="Face amount in major units, e.g. 125000.00.")
@click.option("--currency", default="HKD", show_default=True)
@click.option("--due", required=True, help="Due date, YYYY-MM-DD.")
@click.option("--doc", type=click.Path(dir_okay=False, path_type=Path),
              help="The invoice document; only its SHA-256 goes on chain.")
@as_option("supplier")
@sync_option
@json_option
@click.pass_context
def invoice_issue(
    ctx: click.Context, buyer: str, number: str, amount: str, currency: str, due: str, doc: Path | None,
    as_name: str,
) -> None:
    """Issue an invoice as a supplier; prints the new invoice id."""
    due_date = parse_date(due, "due date")
    ledger = open_ledger(ctx)
    result = ledger.issue(signer(ctx, as_name, ledger.sender.chain_id), buyer, number, amount, currency,
                          due_date, doc)
    emit(ctx, result, f"issued invoice {result['invoice_id']}: {number} to {result['buyer']}, "
                      f"{result['currency']} {result['amount']} due {result['due']}")


def _invoice_tx(ctx: click.Context, as_name: str, action: Callable[[Ledger, LocalAccount], dict[str, Any]],
                text: Callable[[dict[str, Any]], str]) -> None:
    ledger = open_ledger(ctx)
    result = action(ledger, signer(ctx, as_name, ledger.sender.chain_id))
    emit(ctx, result, text(result))


@invoice.command("confirm")
@click.argument("invoice_id", type=click.IntRange(min=1), metavar="ID")
@as_option("buyer")
@sync_option
@json_option
@click.pass_context
def invoice_confirm(ctx: click.Context, invoice_id: int, as_name: str) -> None:
    """Accept invoice ID as its buyer (a promise to pay at maturity)."""
    _invoice_tx(ctx, as_name, lambda lg, acct: lg.confirm(acct, invoice_id),
                lambda r: f"invoice {invoice_id} confirmed")


@invoice.command("cancel")
@click.argument("invoice_id", type=click.IntRange(min=1), metavar="ID")
@as_option("supplier")
@sync_option
@json_option
@click.pass_context
def invoice_cancel(ctx: click.Context, invoice_id: int, as_name: str) -> None:
    """Cancel unconfirmed invoice ID as its supplier (its number stays used)."""
    _invoice_tx(ctx, as_name, lambda lg, acct: lg.cancel(acct, invoice_id),
                lambda r: f"invoice {invoice_id} cancelled")


@invoice.command("offer")
@click.argument("invoice_id", type=click.IntRange(min=1), metavar="ID")
@click.option("--to", "financier", help="Only this financier may take it (default: any).")
@click.option("--min-advance", required=True,
              help="Least advance you accept, in major units (above zero, at most the open amount).")
@click.option("--days", type=int, default=7, show_default=True, help="How long the listing stays open.")
@as_option("supplier")
@sync_option
@json_option
@click.pass_context
def invoice_offer(
    ctx: click.Context, invoice_id: int, financier: str, min_advance: str, days: int, as_name: str
) -> None:
    """List confirmed invoice ID for financing, as its holder: your consent to
    sell it for at least --min-advance. The listing ends if the invoice
    changes hands.

    Example: scf invoice offer 1 --to "Harbour Trade Finance Ltd" --min-advance 110000.00
    """
    _invoice_tx(ctx, as_name, lambda lg, acct: lg.offer(acct, invoice_id, financier, min_advance, days),
                lambda r: f"invoice {invoice_id} listed for {r['financier']}, min advance {r['min_advance']}, "
                          f"until {r['expires']}")


@invoice.command("finance")
@click.argument("invoice_id", type=click.IntRange(min=1), metavar="ID")
@click.option("--advance", help="Advance to pay, in major units.")
@click.option("--advance-rate", help="Advance as a share of the open amount: 0.9 or 90%.")
@click.option("--discount-rate", help="Annual discount rate (ACT/365 to the due date): 0.06 or 6%.")
@click.option("--due", "due_amount",
              help="What you are due of the buyer's payments, in major units (default: the whole open "
                   "amount); the rest of the open amount is the seller's reserve.")
@as_option("financier")
@sync_option
@json_option
@click.pass_context
def invoice_finance(
    ctx: click.Context, invoice_id: int, advance: str | None, advance_rate: str | None,
    discount_rate: str | None, due_amount: str | None, as_name: str,
) -> None:
    """Fund listed invoice ID: the advance goes to the holder and the
    receivable to you in one transaction, on the terms you see now (amount,
    payments, due date, holder). You are due --due of the buyer's payments;
    the contract pays the rest (the reserve) to the seller as the buyer pays.

    Example: scf invoice finance 1 --advance 110000.00 --due 112500.00
    """
    _invoice_tx(ctx, as_name,
                lambda lg, acct: lg.finance(acct, invoice_id, advance, advance_rate, discount_rate, due_amount),
                lambda r: f"invoice {invoice_id} financed: {r['currency']} {r['advance']} paid to {r['seller']}; "
                          f"due to you {r['due']}, reserve for the seller {r['reserve']}")


@invoice.command("repay")
@click.argument("invoice_id", type=click.IntRange(min=1), metavar="ID")
@click.option("--amount", required=True, help="Amount to pay, in major units (partial payments allowed).")
@as_option("buyer")
@sync_option
@json_option
@click.pass_context
def invoice_repay(ctx: click.Context, invoice_id: int, amount: str, as_name: str) -> None:
    """Pay invoice ID as its buyer: to the holder up to the financier's due,
    the rest (the reserve) to the seller, in one transaction.

    Example: scf invoice repay 1 --amount 125000.00
    """
    _invoice_tx(ctx, as_name, lambda lg, acct: lg.repay(acct, invoice_id, amount), _repaid_text)


def _repaid_text(r: dict[str, Any]) -> str:
    paid = f"invoice {r['invoice_id']}: paid {r['currency']} {r['amount']}: {r['to_payee']} to {r['payee']}"
    if "reserve_released" in r:
        paid += f", reserve {r['reserve_released']} released to {r['seller']}"
    return f"{paid}; outstanding {r['outstanding']} ({r['status']})"


@invoice.command("withdraw")
@click.argument("invoice_id", type=click.IntRange(min=1), metavar="ID")
@as_option("supplier")
@sync_option
@json_option
@click.pass_context
def invoice_withdraw(ctx: click.Context, invoice_id: int, as_name: str) -> None:
    """Withdraw your listing of invoice ID (allowed even while suspended).

    Example: scf invoice withdraw 1 --as supplier
    """
    _invoice_tx(ctx, as_name, lambda lg, acct: lg.withdraw_offer(acct, invoice_id),
                lambda r: f"invoice {invoice_id}: listing withdrawn")


@invoice.command("show")
@click.argument("invoice_id", type=click.IntRange(min=1), metavar="ID")
@click.option("--as-of-block", type=click.IntRange(min=0), metavar="N",
              help="Show it as the indexed ledger had it at block N (from the database, not the chain).")
@json_option
@click.pass_context
def invoice_show(ctx: click.Context, invoice_id: int, as_of_block: int | None) -> None:
    """The on-chain state of invoice ID (or, with --as-of-block, its indexed state at a past block)."""
    if as_of_block is not None:
        from ledger.cli_query import show_as_of

        show_as_of(ctx, invoice_id, as_of_block)
        return
    from ledger.render import print_invoice

    emit(ctx, open_ledger(ctx).show(invoice_id), print_invoice)


from ledger.cli_index import db, index  # noqa: E402 - registered after `main` exists

main.add_command(index)
main.add_command(db)

# Queries on the indexed ledger (database only) and `scf verify`; `participant list` reads the database.
from ledger.cli_query import register as _register_queries  # noqa: E402

_register_queries(main, invoice, participant)

# Financing decisions (`scf finance ...`) and portfolio reports (`scf report ...`, database only).
from ledger.cli_finance import register as _register_finance  # noqa: E402

_register_finance(main)

if __name__ == "__main__":  # pragma: no cover
    main()
