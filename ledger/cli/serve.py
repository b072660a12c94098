"""`scf serve` (the HTTP API and dashboard, :mod:`ledger.api.server`) and
`scf api-key create|list|revoke` (who may use them, :mod:`ledger.api.keys`).

Parse, call, print: the serving itself (uvicorn, the follower thread, the
relayer) is in :mod:`ledger.api.server`.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import TYPE_CHECKING, Any

import click

from ledger.cli.common import LedgerGroup, emit, follow_options, json_option, ledger_db, parse_date, settings_of
from ledger.errors import DatabaseError, InputError

if TYPE_CHECKING:
    from ledger.api.keys import KeyRow

#: The longest label a key may have (the column's size).
MAX_LABEL = 200


# -- scf serve ------------------------------------------------------------------------------
@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback unless --public).")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on (0: any free)."
)
@click.option("--public", is_flag=True, help="Allow a --host other machines can reach (put it behind TLS).")
@click.option(
    "--follow", is_flag=True, help="Also run the indexer in this process (`scf index follow`), so the API is live."
)
@follow_options("With --follow: ")
@click.option(
    "--relayer",
    metavar="ACCOUNT",
    help="Serve POST /api/confirmations: submit buyers' signed confirmations with this local account "
    "(its keystore password from SCF_RELAYER_PASSWORD, else SCF_PASSWORD, else a prompt).",
)
@click.option("--secure-cookies", is_flag=True, help="Mark the dashboard's session cookie Secure (served over HTTPS).")
@click.pass_context
def serve_cmd(
    ctx: click.Context,
    host: str,
    port: int,
    public: bool,
    follow: bool,
    confirmations: int | None,
    poll_interval: float,
    relayer: str | None,
    secure_cookies: bool,
) -> None:
    """Serve the ledger over HTTP until Ctrl-C (or SIGTERM): the JSON API under
    /api (OpenAPI at /openapi.json, docs at /docs) and the dashboard at /, for
    holders of an API key (`scf api-key create`). It reads the indexed
    database: run `scf index follow` beside it, or give --follow.

    Only this machine can connect unless --public. With --relayer, buyers'
    signed confirmations (`scf invoice sign-confirmation`) can be POSTed to
    /api/confirmations and are submitted with that account, which pays the
    gas; the server never holds a buyer's key. Prints one line when it
    listens; logs (without keys) go to stderr. Exit 0 when stopped; 2 for
    bad options; 3 when the port, the database or the keystore fails.

    Example:

    \b
        scf serve --follow
        scf serve --host 0.0.0.0 --port 8443 --public --secure-cookies --relayer relayer
    """
    from ledger.api.server import ServeOptions, check_host, serve

    check_host(host, public)  # before anything is opened
    settings = settings_of(ctx)
    password = None
    if relayer is not None:
        from ledger.api.relay import relayer_password
        from ledger.evm.accounts import Keystore

        password = relayer_password()
        if password is None and Keystore(settings).path(relayer).exists() and sys.stdin.isatty():
            password = click.prompt(f"Password for {relayer}", hide_input=True)
    options = ServeOptions(
        host=host,
        port=port,
        public=public,
        follow=follow,
        confirmations=confirmations,
        poll_interval=poll_interval,
        relayer=relayer,
        relayer_password=password,
        secure_cookies=secure_cookies,
    )

    def announce(line: str) -> None:
        click.echo(line)
        sys.stdout.flush()

    serve(settings, options, announce)
    click.echo("stopped serving", err=True)


# -- scf api-key ----------------------------------------------------------------------------
@click.group("api-key", cls=LedgerGroup)
def api_key() -> None:
    """API keys for `scf serve`: one per participant (it sees what that
    participant's roles cover) or for the operator (it sees everything).
    Stored hashed: a secret is shown once, when made.

    Example:

    \b
        scf api-key create --for "Tsuen Wan Electronics Ltd" --expires 2027-12-31
        scf api-key list
        scf api-key revoke 1a2b3c4d
    """


def _expiry(text: str | None, today: dt.date) -> dt.datetime | None:
    """The end of business day ``text`` (the key works through that day), as UTC."""
    if text is None:
        return None
    from ledger.business_time import due_timestamp

    day = parse_date(text, "--expires date")
    if day < today:
        raise InputError(f"--expires {day.isoformat()} has passed; give today or a later date")
    return dt.datetime.fromtimestamp(due_timestamp(day), dt.UTC)


def _label(text: str | None) -> str | None:
    if text is None:
        return None
    label = text.strip()
    if not label or len(label) > MAX_LABEL or any(ord(c) < 32 or ord(c) == 127 for c in label):
        raise InputError(f"invalid --label {text!r}: give 1 to {MAX_LABEL} printable characters")
    return label


def _participant(ctx: click.Context, text: str) -> tuple[str, str]:
    """(address, registered name) of the participant ``text`` names in the indexed registry."""
    from ledger.queries import directory

    with ledger_db(ctx) as (conn, scope):
        names = directory(conn, scope)
        address = names.resolve(text, "participant")
    name = names.name(address)
    if name is None:
        upto = "nothing yet" if scope.indexed_block is None else f"up to block {scope.indexed_block}"
        raise InputError(
            f"{text} ({address}) is not a participant in the indexed registry (indexed {upto}); "
            "see `scf participant list`, or run `scf index sync` if it was added just now"
        )
    return address, name


def _whose(key: KeyRow, name: str | None) -> str:
    return "the operator" if key.participant is None else f"{name or key.participant} ({key.participant})"


@api_key.command("create")
@click.option("--for", "for_", metavar="NAME", help="The participant (registered name, address or local account name).")
@click.option("--operator", is_flag=True, help="An operator key instead: it sees the whole ledger (needs --label).")
@click.option("--label", help="What the key is for (default: the participant's name).")
@click.option(
    "--expires",
    metavar="YYYY-MM-DD",
    help="Last day the key works: it expires at the end of that business day (the `timezone` setting). Default: never.",
)
@json_option
@click.pass_context
def api_key_create(
    ctx: click.Context, for_: str | None, operator: bool, label: str | None, expires: str | None
) -> None:
    """Make an API key for participant --for NAME (or --operator) and print its
    secret once: store it now, it cannot be shown again (only its hash is kept).
    The key sees what the participant's roles cover, as the registry says at
    each request. Send it as `Authorization: Bearer <secret>`.

    Example:

    \b
        scf api-key create --for "Tsuen Wan Electronics Ltd" --expires 2027-12-31
        scf api-key create --operator --label "risk engine" --json
    """
    from ledger.business_time import today

    if operator == (for_ is not None):
        raise InputError("give --for NAME (a participant's key) or --operator (with --label), not both or neither")
    label = _label(label)
    if operator and label is None:
        raise InputError("an operator key needs --label saying what it is for")
    expires_at = _expiry(expires, today())
    address, name = (None, None) if for_ is None else _participant(ctx, for_)
    from ledger.api.keys import create_key
    from ledger.db.engine import database_errors
    from ledger.db.session import get_engine

    url = settings_of(ctx).database_url
    with database_errors(url), get_engine(url).begin() as conn:
        key, secret = create_key(conn, participant=address, label=label or str(name), expires_at=expires_at)
    record = {**key.record(dt.datetime.now(dt.UTC), name), "secret": secret}
    until = "never expires" if key.expires_at is None else f"works through {_day(key.expires_at)}"
    click.echo(
        f"API key {key.key_id} for {_whose(key, name)}, {until}. The secret is shown this once: store it now "
        "(`scf api-key revoke` if it leaks).",
        err=True,
    )
    emit(ctx, record, secret)


def _day(moment: dt.datetime) -> str:
    from ledger.business_time import business_date

    return business_date(moment).isoformat()


def _names(ctx: click.Context) -> dict[str, str]:
    """Participant names by address, from the indexed registry (none when nothing is indexed)."""
    from ledger.queries import directory

    try:
        with ledger_db(ctx) as (conn, scope):
            return directory(conn, scope).names
    except DatabaseError:
        return {}


@api_key.command("list")
@json_option
@click.pass_context
def api_key_list(ctx: click.Context) -> None:
    """Every API key, oldest first: its id, whose it is, label, when made, when
    it expires, and its state (active, expired or revoked). Never a secret.

    Example:

    \b
        scf api-key list --json
    """
    from ledger.api.keys import list_keys
    from ledger.db.session import read_connection

    now = dt.datetime.now(dt.UTC)
    names = _names(ctx)
    with read_connection(settings_of(ctx).database_url) as conn:
        keys = list_keys(conn)
    records = [k.record(now, names.get(k.participant) if k.participant else None) for k in keys]

    def text(_data: Any) -> None:
        if not keys:
            click.echo("no API keys yet; make one with `scf api-key create --for NAME`")
            return
        from ledger.cli.render import table
        from ledger.format import text_time

        rows = [
            (
                k.key_id,
                "operator" if k.participant is None else f"{names.get(k.participant) or ''} {k.participant}".strip(),
                k.label,
                text_time(k.created_at),
                "-" if k.expires_at is None else f"end of {_day(k.expires_at)}",
                k.state(now) + ("" if k.revoked_at is None else f" {text_time(k.revoked_at)}"),
            )
            for k in keys
        ]
        table(("KEY ID", "FOR", "LABEL", "CREATED", "EXPIRES", "STATE"), rows)

    emit(ctx, records, text)


@api_key.command("revoke")
@click.argument("key")
@json_option
@click.pass_context
def api_key_revoke(ctx: click.Context, key: str) -> None:
    """Revoke API key KEY (its id, as `scf api-key list` shows it, or the whole
    secret): from now on every request with it gets 401, and a dashboard
    session made with it ends. Revoking a revoked key changes nothing.

    Example:

    \b
        scf api-key revoke 1a2b3c4d
    """
    from ledger.api.keys import find_key, key_id_of, revoke_key
    from ledger.db.engine import database_errors
    from ledger.db.session import get_engine

    key_id = key_id_of(key)
    url = settings_of(ctx).database_url
    with database_errors(url), get_engine(url).begin() as conn:
        before = find_key(conn, key_id)
        row = revoke_key(conn, key_id)
    already = before is not None and before.revoked_at is not None
    record = {**row.record(dt.datetime.now(dt.UTC)), "already_revoked": already}
    when = _when(row.revoked_at) if row.revoked_at else "-"
    emit(
        ctx,
        record,
        f"API key {key_id} was already revoked ({when})" if already else f"API key {key_id} revoked ({when})",
    )


def _when(moment: dt.datetime) -> str:
    from ledger.format import text_time

    return text_time(moment)
