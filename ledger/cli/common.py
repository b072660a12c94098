"""What every command group shares: the group class that turns errors into
one line, the shared options (``--json``, ``--csv``, ``--as``, ``--sync``),
output (:func:`emit`, :func:`write_csv`), the settings, the chain-side
``Ledger``, the signer, and date parsing.

Imported by every group module (never the other way round), so it imports
nothing that talks to the chain at module level: web3 and the lifecycle
service are imported inside the helpers that need them, and commands that
only read the database start fast.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

import click

from ledger.config import DEV_CHAIN_ID, env_password, load_settings
from ledger.errors import InputError, LedgerError
from ledger.money import parse_date

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from sqlalchemy import Connection

    from ledger.config import Settings
    from ledger.finance.policy import Policy
    from ledger.lifecycle import Ledger
    from ledger.queries import Scope

__all__ = [
    "CONTEXT_SETTINGS",
    "LedgerGroup",
    "after_change",
    "as_option",
    "csv_option",
    "db_party",
    "deprecated_as_option",
    "emit",
    "find_policy",
    "global_options",
    "json_option",
    "ledger_db",
    "open_ledger",
    "parse_date",
    "policy_option",
    "settings_of",
    "signer",
    "sync_option",
    "table_or_csv",
    "write_csv",
]

F = TypeVar("F", bound=Callable[..., Any])

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}


# -- errors ------------------------------------------------------------------------
class _LedgerClickError(click.ClickException):
    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]


def _one_line_usage(exc: click.UsageError) -> _LedgerClickError:
    """click's usage errors print Usage/Try/Error on four lines; we print one."""
    path = exc.ctx.command_path if exc.ctx is not None else "scf"
    return _LedgerClickError(f"{exc.format_message()} (see `{path} --help`)", 2)


class LedgerGroup(click.Group):
    """Turns ledger errors (and anything unexpected) into one-line errors.
    Subgroups made with ``@group.group()`` are LedgerGroups too. Every
    command added to one also takes the global options after its name
    (:func:`global_options`)."""

    group_class = type  # `@group.group()` makes a group of this same class

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        _add_late_globals(cmd)
        super().add_command(cmd, name)

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
            result = super().invoke(ctx)
            if ctx.parent is None:
                sys.stdout.flush()  # here, where a closed pipe or a full disk can still be reported
            return result
        except BrokenPipeError:
            # `scf invoice list --csv | head -1`: the reader has gone; stop quietly, as Unix tools do.
            _silence_stdout()
            raise click.exceptions.Exit(141) from None
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EIO, errno.EFBIG):
                raise _internal_error(exc) from None
            _silence_stdout()
            # A full disk is the environment's problem (exit 3), as an unreachable node is.
            raise _LedgerClickError(f"cannot write the output: {exc.strerror}; write it somewhere else", 3) from None
        except LedgerError as exc:
            message = str(exc)
            if "\n" in message and not exc.keep_lines:  # compiler output keeps its lines
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
            raise _unexpected(ctx, exc) from None


def _unexpected(ctx: click.Context, exc: Exception) -> _LedgerClickError:
    """An error no command turned into a LedgerError: a database that is
    away, locked by another writer, lost a race or has a full disk, wherever
    a command met it (not every transaction runs inside ``database_errors``),
    is the setting's one line (exit 3); anything else is a bug (exit 70)."""
    errors = sys.modules.get("sqlalchemy.exc")  # not imported: it cannot be a database error
    if errors is not None and isinstance(exc, errors.SQLAlchemyError):
        from ledger.db.engine import setting_database_error

        found = setting_database_error(settings_of(ctx).database_url, exc)
        if found is not None:
            return _LedgerClickError(str(found), found.exit_code)
    return _internal_error(exc)


def _internal_error(exc: BaseException) -> _LedgerClickError:
    """A bug, in one line (exit 70); SCF_DEBUG=1 prints the traceback."""
    if os.environ.get("SCF_DEBUG"):
        traceback.print_exception(exc)
    return _LedgerClickError(
        f"internal error: {type(exc).__name__}: {' '.join(str(exc).split())[:300]} "
        "(rerun with SCF_DEBUG=1 for details and report it)",
        70,
    )


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


#: An invoice id: the contract's ids are uint256, so a larger number is bad input, not a chain error.
INVOICE_ID = click.IntRange(min=1, max=2**256 - 1)


# -- global options ------------------------------------------------------------------
#: The root options (name, the settings key, help). They work before the
#: subcommand (``scf --db-url X invoice list``) and after it (``scf invoice
#: list --db-url X``): every command added to a LedgerGroup gets hidden
#: copies (:func:`_add_late_globals`) whose values the settings use. Given
#: both before and after with different values, they are refused (exit 2).
_GLOBALS: tuple[tuple[str, str, str, str | None], ...] = (
    ("--home", "home", "Data directory (default .scf; env SCF_HOME).", "SCF_HOME"),
    ("--rpc-url", "rpc_url", "JSON-RPC endpoint (default the local node; env SCF_RPC_URL).", "SCF_RPC_URL"),
    ("--db-url", "db_url", "Ledger database URL (default SQLite <home>/ledger.db; env SCF_DB_URL).", "SCF_DB_URL"),
)
_LATE = "late_globals"


def global_options(f: F) -> F:
    """The root command's options: ``--home``, ``--rpc-url``, ``--db-url``
    (each also from its ``SCF_*`` variable) and ``--json``; each may also
    follow the subcommand."""
    json_flag: Callable[[F], F] = click.option(
        "--json",
        "as_json",
        is_flag=True,
        expose_value=False,
        callback=_late_json,
        help="Print machine-readable JSON (every command that prints data).",
    )
    f = json_flag(f)
    for flag, name, help_text, env in reversed(_GLOBALS):
        kind: Any = click.Path(file_okay=False) if name == "home" else None
        f = click.option(flag, name, type=kind, envvar=env, help=help_text)(f)
    return f


def _late_global(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """A global option given after a subcommand: keep it for :func:`settings_of`."""
    if value is None:
        return
    name = str(param.name).removeprefix("scf_global_")
    root = ctx.find_root()
    late: dict[str, Any] = root.meta.setdefault(_LATE, {})
    flag = "--" + name.replace("_", "-")
    earlier = late.get(name)
    if earlier is None and root.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE:
        earlier = root.params.get(name)
    if earlier is not None and earlier != value:
        raise InputError(f"{flag} given twice with different values ({earlier!r} and {value!r}); give it once")
    late[name] = value
    root.meta.pop("settings", None)  # resolve again with this value


def _late_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _output_format(ctx, "json")


def _add_late_globals(cmd: click.Command) -> None:
    """Hidden copies of the global options on ``cmd`` (those it does not
    have already), processed before its other options."""
    taken = {opt for p in cmd.params for opt in getattr(p, "opts", [])}
    for flag, name, _help, _env in _GLOBALS:
        if flag not in taken:
            kind: Any = click.Path(file_okay=False) if name == "home" else None
            cmd.params.append(
                click.Option(
                    [flag, f"scf_global_{name}"],
                    type=kind,
                    hidden=True,
                    is_eager=True,
                    expose_value=False,
                    callback=_late_global,
                )
            )
    if "--json" not in taken:
        cmd.params.append(
            click.Option(
                ["--json", "scf_global_json"],
                is_flag=True,
                hidden=True,
                expose_value=False,
                callback=_late_json,
            )
        )


# -- settings, database, chain -------------------------------------------------------
def settings_of(ctx: click.Context) -> Settings:
    """The settings from the global options (--home, --rpc-url, --db-url:
    before the subcommand or after it), loaded once."""
    root = ctx.find_root()
    if "settings" not in root.meta:
        params = {name: root.params.get(name) for _flag, name, _help, _env in _GLOBALS}
        params.update(root.meta.get(_LATE, {}))
        root.meta["settings"] = load_settings(**params)
    settings: Settings = root.meta["settings"]
    return settings


@contextmanager
def ledger_db(ctx: click.Context) -> Iterator[tuple[Connection, Scope]]:
    """A consistent read of the ledger database (migrated on first use), and
    the deployment it shows. Imports no web3."""
    from ledger.queries import read_db

    with read_db(settings_of(ctx)) as found:
        yield found


def db_party(conn: Connection, scope: Scope, text: str, what: str) -> str:
    """The address of a party named on a database-only command: a local
    account, else an address or a participant name (no eth_account import)."""
    from ledger.finance.store import resolve_participant

    return resolve_participant(conn, scope, text, what, account_first=True)


def open_ledger(ctx: click.Context) -> Ledger:
    """The chain-side service on the configured node and deployment (once per run)."""
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
    """The local account NAME, unlocked (SCF_PASSWORD, else a prompt on a terminal)."""
    from ledger.evm.accounts import Keystore, load_signer

    settings = settings_of(ctx)
    password = env_password()
    if password is None and Keystore(settings).path(name).exists() and sys.stdin.isatty():
        password = click.prompt(f"Password for {name}", hide_input=True)
    return load_signer(settings, name, chain_id, password)


# -- output -------------------------------------------------------------------------
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


def write_csv(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str] | None = None,
    csv_row: Callable[[Mapping[str, Any]], Sequence[Any]] | None = None,
) -> None:
    """``rows`` as CSV on stdout: a header of ``columns`` (by default every
    key of the rows, in first-seen order), then one line per row (``csv_row``
    turns a row into its cells; by default the columns' values). Every cell:
    None is empty, a boolean ``true``/``false``."""
    import csv

    if columns is None:
        columns = list(dict.fromkeys(key for row in rows for key in row))

    def cell(value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return value

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(v) for v in (csv_row(row) if csv_row else [row.get(c) for c in columns])])
    sys.stdout.flush()


def table_or_csv(
    ctx: click.Context,
    data: Any,
    rows: Sequence[Mapping[str, Any]],
    as_csv: bool,
    text: Callable[[Any], None],
    columns: Sequence[str] | None = None,
    csv_row: Callable[[Mapping[str, Any]], Sequence[Any]] | None = None,
) -> None:
    """Text (a table), JSON (--json: all of `data`) or CSV (--csv: `rows`)."""
    if as_csv:
        write_csv(rows, columns, csv_row)
        return
    emit(ctx, data, text)


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
        f"--{name}",
        f"as_{name}",
        is_flag=True,
        expose_value=expose,
        callback=callback,
        help=help_text,
    )
    return option


def json_option(f: F) -> F:
    """--json: print machine-readable JSON (through :func:`emit`)."""
    return _format_option("json", False, "Print machine-readable JSON.")(f)


def csv_option(f: F) -> F:
    """--csv, passed to the command as ``as_csv``; print with :func:`write_csv`."""
    return _format_option("csv", True, "Print CSV (a header row, then one row per item).")(f)


# -- financing policy ------------------------------------------------------------------
def policy_option(whose: str = "AS") -> Callable[[F], F]:
    """``--policy FILE``, passed as ``policy_path``; by default the policy of
    the financier ``whose`` option names (see :func:`find_policy`)."""
    return click.option(
        "--policy",
        "policy_path",
        type=click.Path(dir_okay=False, path_type=Path),
        metavar="FILE",
        help=f"Policy file (TOML; default <home>/policies/<{whose}>.toml, then <home>/policy.toml; "
        "see examples/policy.toml).",
    )


@overload
def find_policy(settings: Settings, path: Path | None, financier: str) -> Policy: ...
@overload
def find_policy(settings: Settings, path: Path | None, financier: str | None, required: bool) -> Policy | None: ...
def find_policy(settings: Settings, path: Path | None, financier: str | None, required: bool = True) -> Policy | None:
    """The policy of ``financier`` (as named on the command line), by the one
    lookup of :func:`ledger.finance.policy.policy_for`. Without one: an error,
    or None if not ``required`` (then no financier needs naming)."""
    from ledger.finance import policy

    if not required:
        return policy.policy_for(settings.home, path, financier)
    return policy.find_policy(settings.home, path, str(financier))


# -- the acting party ------------------------------------------------------------------
AS_HELP = "Account that signs (see `scf account list`)."


def as_option(default: str | None, help_text: str = AS_HELP, required: bool = False) -> Callable[[F], F]:
    """``--as NAME``: the acting party, passed as ``as_name``. On a command
    that sends a transaction it is the account that signs; on one that only
    reads, the party whose view it is. Never a filter (those are named for
    what they filter: --financier, --holder, ...)."""
    # No default at all when there is none: click 8.2+ takes an explicit
    # default=None as a default, and then never says a required --as is missing.
    extra: dict[str, Any] = {} if default is None else {"default": default}
    option: Callable[[F], F] = click.option(
        "--as",
        "as_name",
        show_default=default is not None,
        required=required,
        metavar="NAME",
        help=help_text,
        **extra,
    )
    return option


def deprecated_as_option(replacement: str) -> Callable[[F], F]:
    """The old ``--as`` spelling of the filter option ``replacement`` (e.g.
    ``--financier``), kept for one release: its value goes to the
    replacement's parameter, with a one-line warning on stderr."""
    dest = replacement.removeprefix("--").replace("-", "_")

    def decorator(f: F) -> F:
        @functools.wraps(f)
        def wrapper(*args: Any, deprecated_as: str | None = None, **kwargs: Any) -> Any:
            if deprecated_as is not None:
                click.echo(f"warning: --as here is deprecated; use {replacement}", err=True)
                if kwargs.get(dest) is not None and kwargs[dest] != deprecated_as:
                    raise InputError(f"--as and {replacement} name different parties; give {replacement} only")
                kwargs[dest] = deprecated_as
            return f(*args, **kwargs)

        option: Callable[[F], F] = click.option(
            "--as",
            "deprecated_as",
            metavar="NAME",
            help=f"Deprecated spelling of {replacement}.",
        )
        return option(wrapper)  # type: ignore[arg-type]

    return decorator


# -- after a transaction ------------------------------------------------------------------
def follow_options(when: str = "") -> Callable[[F], F]:
    """``--confirmations`` and ``--poll-interval`` of a command that follows the
    head (`scf index follow`; `scf serve --follow`, whose help says ``when``)."""

    def said(text: str) -> str:
        return f"{when}{text[0].lower()}{text[1:]}" if when else text

    def decorate(f: F) -> F:
        f = click.option(
            "--poll-interval",
            type=click.FloatRange(min=0.05),
            default=1.0,
            show_default=True,
            help=said(
                "Seconds between looks at the head once caught up (sooner when the node announces a block over "
                "WebSocket)."
            ),
        )(f)
        return click.option(
            "--confirmations",
            type=click.IntRange(min=0),
            help=said(
                "Stay this many blocks behind the head (default: setting `confirmations`, SCF_CONFIRMATIONS; "
                "else 0 on the dev chain, 6 elsewhere)."
            ),
        )(f)

    return decorate


def sync_option(f: F) -> F:
    """`--sync/--no-sync` on a command that changes the chain: afterwards, index
    the change into the database so queries see it at once. Default: on for
    the local dev chain (31337), off elsewhere (run `scf index follow` there,
    or set ``sync`` / SCF_SYNC)."""

    @functools.wraps(f)
    def wrapper(*args: Any, sync_after: bool | None = None, **kwargs: Any) -> Any:
        try:
            result = f(*args, **kwargs)
        except click.exceptions.Exit:
            # A bulk command ends with exit 1 when one of its batches failed: the
            # others were mined, and are indexed all the same.
            after_change(click.get_current_context(), sync_after)
            raise
        after_change(click.get_current_context(), sync_after)
        return result

    option: Callable[[F], F] = click.option(
        "--sync/--no-sync",
        "sync_after",
        default=None,
        help=(
            "Index the change into the database afterwards, once it has the indexer's confirmations "
            "(default: on for the local dev chain; setting `sync`, SCF_SYNC)."
        ),
    )
    return option(wrapper)  # type: ignore[arg-type]


def after_change(ctx: click.Context, sync_after: bool | None) -> None:
    """Index a mined change into the database (see :func:`sync_option`); a
    failure only warns: the transaction stands."""
    ledger = open_ledger(ctx)
    settings = settings_of(ctx)
    if sync_after is None:
        sync_after = settings.sync
    if sync_after is None:
        sync_after = ledger.sender.chain_id == DEV_CHAIN_ID
    if not sync_after:
        return
    from ledger.indexer import sync

    try:
        # The change is in the head block or below: index it once it has its confirmations.
        sync(settings, ledger.deployment, through=int(ledger.w3.eth.block_number))
    except Exception as exc:  # noqa: BLE001 - never report a mined transaction as failed
        # The transaction stands; only the mirror lags. Say so, and how to catch up.
        click.echo(
            f"warning: done on chain, but the database was not updated ({' '.join(str(exc).split())}); "
            "run `scf index sync`",
            err=True,
        )
