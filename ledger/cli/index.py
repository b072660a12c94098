"""`scf index ...` and `scf db ...`: the indexer and the database schema.

Nothing here imports web3: the indexer talks raw JSON-RPC.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from ledger.cli.common import LedgerGroup, emit, follow_options, json_option, settings_of
from ledger.errors import InputError
from ledger.format import text_time

if TYPE_CHECKING:
    from ledger.indexer import SyncStats


@contextmanager
def _progress(ctx: click.Context) -> Iterator[Any]:
    """A rich progress bar on an interactive terminal; None otherwise (quiet)."""
    if ctx.find_root().meta.get("json") or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("[bold]indexing[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def update(stats: SyncStats) -> None:
            first = stats.start_block or 0
            total = (stats.target or 0) - first + 1
            done = (stats.block or first - 1) - first + 1
            bar.update(task, total=max(total, done, 1), completed=max(done, 0), description=f"{stats.events:,} events")

        yield update


def lagging_warning(stats: dict[str, Any]) -> str:
    """The one-line warning of a sync that found the head below the indexed block."""
    return (
        f"warning: the node's head {stats['head']} is below the indexed block {stats['to_block']}: "
        "nothing changed, as for a node that is lagging; if the chain lost blocks (a node restarted "
        "from an older state), run `scf index sync --rewind`"
    )


def _summary(stats: dict[str, Any]) -> str:
    if stats["lagging"]:
        return f"nothing indexed: the node's head {stats['head']} is below the indexed block {stats['to_block']}"
    parts = [
        f"indexed {stats['events']:,} events in blocks {stats['from_block']}..{stats['to_block']}"
        if stats["events"] or stats["blocks"]
        else f"up to date at block {stats['to_block']}"
    ]
    if stats.get("rewound_blocks"):
        parts.insert(0, f"rewound {stats['rewound_blocks']} block(s) the chain no longer has")
    if stats["reorgs"]:
        parts.append(f"{stats['reorgs']} reorg(s) rolled back ({stats['reorged_blocks']} blocks)")
    if stats["blocks"]:
        parts.append(f"{stats['seconds']:.2f}s, {stats['events_per_second']:,.0f} events/s")
    return "; ".join(parts)


@click.group(cls=LedgerGroup)
def index() -> None:
    """Mirror every contract event into the database (default SQLite in the
    data directory; --db-url / SCF_DB_URL for another, e.g. PostgreSQL), so
    that lists, histories, reports and decisions read it without the chain.

    Example:

    \b
        scf index sync
        scf --db-url postgresql://scf@localhost/scf index follow
    """


@index.command("sync")
@click.option(
    "--confirmations",
    type=click.IntRange(min=0),
    help=(
        "Stay this many blocks behind the head (default: setting `confirmations`, SCF_CONFIRMATIONS; "
        "else 0 on the dev chain, 6 elsewhere)."
    ),
)
@click.option("--to-block", type=click.IntRange(min=0), help="Stop at this block instead of the head.")
@click.option(
    "--workers",
    type=click.Choice(["auto", "thread", "process"]),
    default="auto",
    show_default=True,
    help="Fetch and decode in a thread, or in a second process (two cores); auto picks a "
    "process for big backfills when a core is idle.",
)
@click.option(
    "--rewind",
    is_flag=True,
    help="If the chain's head is below the indexed block, the chain lost blocks: roll back "
    "everything above the newest indexed block it still has, then sync. (Without it a "
    "lower head is taken for a lagging node and nothing changes.)",
)
@json_option
@click.pass_context
def index_sync(ctx: click.Context, confirmations: int | None, to_block: int | None, workers: str, rewind: bool) -> None:
    """Catch up with the chain and exit: fetch, decode and store every event
    of the deployed contracts, exactly once, rolling back reorgs.

    A chain whose head went below the indexed block (an Anvil restarted
    from an older state) is only rolled back with --rewind: the same lower
    head also comes from a node that is merely lagging.

    Example:

    \b
        scf index sync
        scf index sync --confirmations 6 --workers process
        scf index sync --rewind
    """
    from ledger.indexer import sync

    settings = settings_of(ctx)
    with _progress(ctx) as progress:
        stats = sync(
            settings, confirmations=confirmations, to_block=to_block, progress=progress, workers=workers, rewind=rewind
        )
    data = stats.as_dict()
    if data["lagging"]:
        click.echo(lagging_warning(data), err=True)
    emit(ctx, data, _summary(data))


@index.command("follow")
@follow_options()
@click.option(
    "--ws-url",
    metavar="URL",
    help="Subscribe to new heads here (ws:// or wss://), or `off` to poll only (default: setting `ws_url`, "
    "SCF_WS_URL; else the --rpc-url over WebSocket, as Anvil serves both on one port).",
)
@click.pass_context
def index_follow(ctx: click.Context, confirmations: int | None, poll_interval: float, ws_url: str | None) -> None:
    """Catch up, then keep following the head until Ctrl-C (or SIGTERM).
    Prints a line whenever new events or a reorg were indexed. A new block
    is indexed as soon as the node announces it (a new-heads subscription
    over WebSocket, where the node offers one; one line on stderr says
    whether it does), and the head is looked at every --poll-interval all
    the same. A node or database that goes away for a while is waited for
    (a one-line reason on stderr, retries up to 30 s apart); a refused
    login or a failing statement stops it.

    Example:

    \b
        scf index follow
        scf index follow --confirmations 6 --ws-url ws://127.0.0.1:8546
        scf index follow --ws-url off --poll-interval 2
    """
    from ledger.config import is_ws_url
    from ledger.indexer import follow

    if ws_url is not None and not is_ws_url(ws_url):
        raise InputError(f"invalid --ws-url {ws_url!r}: give a ws:// or wss:// URL, or off")
    settings = settings_of(ctx)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def report(stats: SyncStats) -> None:
        if stats.events or stats.reorgs:
            click.echo(_summary(stats.as_dict()))

    def retrying(exc: Exception, seconds: float) -> None:
        click.echo(f"{exc}; retrying in {seconds:g}s", err=True)

    try:
        follow(
            settings,
            poll_interval=poll_interval,
            confirmations=confirmations,
            stop=stop,
            on_sync=report,
            on_error=retrying,
            on_notice=lambda line: click.echo(line, err=True),
            ws_url=ws_url,
        )
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    click.echo("stopped following")


@index.command("status")
@json_option
@click.pass_context
def index_status(ctx: click.Context) -> None:
    """How far each indexed deployment is: its last indexed block, how far
    behind the head last seen, and how many events (database only; no chain
    access).

    Example:

    \b
        scf index status --json
    """
    from ledger.indexer import status

    rows = status(settings_of(ctx))

    def text(data: list[dict[str, Any]]) -> None:
        if not data:
            click.echo("nothing indexed yet; run `scf index sync`")
            return
        for row in data:
            invoice = row["contracts"].get("InvoiceToken", "?")
            behind = "" if row["behind"] is None else f", {row['behind']} behind the head seen ({row['head']})"
            click.echo(
                f"chain {row['chain_id']} InvoiceToken {invoice}: block {row['block']}{behind}, "
                f"{row['events']:,} events, updated {text_time(row['updated_at']) if row['updated_at'] else 'never'}"
            )

    emit(ctx, rows, text)


@index.command("rebuild")
@json_option
@click.pass_context
def index_rebuild(ctx: click.Context) -> None:
    """Drop the projections (participants, invoices, financings, repayments)
    and replay them from the stored events. No chain access. Run it after
    changing the business time zone (`timezone`): stored due dates are dates
    in that zone.

    Example:

    \b
        scf index rebuild
    """
    from ledger.indexer import rebuild

    replayed = rebuild(settings_of(ctx))
    emit(ctx, {"replayed": replayed}, f"projections rebuilt from {replayed:,} events")


@click.group(cls=LedgerGroup)
def db() -> None:
    """The ledger database's schema (Alembic migrations, applied on first use
    by every command that needs the database).

    Example:

    \b
        scf db upgrade
    """


@db.command("upgrade")
@json_option
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Apply the schema migrations (every command that needs the database
    also does this on first use).

    Example:

    \b
        scf --db-url postgresql://scf@localhost/scf db upgrade
    """
    from ledger.db import create_db_engine, current_revision, upgrade
    from ledger.db.engine import describe_url

    settings = settings_of(ctx)
    engine = create_db_engine(settings.database_url)
    try:
        before = current_revision(engine)
        upgrade(engine)
        after = current_revision(engine)
    finally:
        engine.dispose()
    data = {"database": describe_url(settings.database_url), "from": before, "to": after}
    emit(
        ctx,
        data,
        f"database {data['database']} at schema {after}" + ("" if before == after else f" (was {before or 'empty'})"),
    )
