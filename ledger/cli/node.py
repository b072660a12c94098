"""`scf node ...`: the local Anvil chain."""

from __future__ import annotations

import click

from ledger.cli.common import LedgerGroup, after_change, emit, json_option, settings_of
from ledger.config import DEV_CHAIN_ID


@click.group(cls=LedgerGroup)
def node() -> None:
    """The local Anvil chain (chain id 31337, state kept in the data
    directory). Start it before `scf deploy`; a restart keeps all state.
    For demos, `scf node advance` moves its clock forward.

    Example:

    \b
        scf node start
        scf node status
        scf node advance --days 40
        scf node stop
    """


@node.command("start")
@click.option("--port", type=click.IntRange(1, 65535), help="Port to listen on (default 8545; env SCF_NODE_PORT).")
@json_option
@click.pass_context
def node_start(ctx: click.Context, port: int | None) -> None:
    """Start the local chain in the background (a restart keeps all state).
    Does nothing if it already runs.

    Example:

    \b
        scf node start --port 8546
    """
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
    """Stop the local chain (by its recorded PID; its state is saved for the
    next `scf node start`).

    Example:

    \b
        scf node stop
    """
    from ledger.evm.node import LocalNode

    stopped = LocalNode(settings_of(ctx)).stop()
    emit(
        ctx,
        {"stopped": stopped},
        f"local chain stopped (pid {stopped['pid']})" if stopped else "local chain is not running",
    )


@node.command("status")
@json_option
@click.pass_context
def node_status(ctx: click.Context) -> None:
    """Whether the local chain runs, where, and whether it answers JSON-RPC.

    Example:

    \b
        scf node status --json
    """
    from ledger.evm.node import LocalNode, rpc_ready

    info = LocalNode(settings_of(ctx)).info()
    if info is None:
        emit(ctx, {"running": False}, "local chain is not running; start it with `scf node start`")
        return
    url = f"http://127.0.0.1:{info['port']}"
    data = {"running": True, **info, "url": url, "answering": rpc_ready(url, 2.0)}
    emit(
        ctx,
        data,
        f"local chain running: pid {info['pid']}, {url}" + ("" if data["answering"] else " (not answering JSON-RPC)"),
    )


#: The longest single move of the clock (ten years): further is a typo, not a demo.
MAX_ADVANCE_DAYS = 3650


@node.command("advance")
@click.option(
    "--days", type=click.IntRange(0, MAX_ADVANCE_DAYS), required=True, metavar="N", help="Days to move forward."
)
@click.option("--hours", type=click.IntRange(0, 23), default=0, metavar="H", help="Hours to move forward as well.")
@json_option
@click.pass_context
def node_advance(ctx: click.Context, days: int, hours: int) -> None:
    """Move the local chain's clock forward by --days (and --hours) and mine
    a block at the new time: for demos and training, to reach a due date or
    the end of a grace period now. Refused on any node that is not the local
    Anvil. On the dev chain the database then catches up with the new block.

    Example:

    \b
        scf node advance --days 40
        scf node advance --days 0 --hours 12 --json
    """
    from ledger.cli.common import open_ledger
    from ledger.errors import DeploymentError, InputError
    from ledger.evm.chain import advance_clock, connect
    from ledger.format import iso_time, text_time

    seconds = days * 86400 + hours * 3600
    if seconds == 0:
        raise InputError("moving the clock by nothing does nothing; give --days or --hours above 0")
    settings = settings_of(ctx)
    moved = advance_clock(connect(settings.rpc_url), seconds)
    data = {
        "days": days,
        "hours": hours,
        "seconds": seconds,
        "before": iso_time(moved["before"]),
        "time": iso_time(moved["time"]),
        "block": moved["block"],
    }
    parts = [f"{n} {unit}{'' if n == 1 else 's'}" for n, unit in ((days, "day"), (hours, "hour")) if n]
    span = " ".join(parts)
    emit(ctx, data, f"chain clock moved forward {span}: block {moved['block']} at {text_time(moved['time'])}")
    try:
        open_ledger(ctx)
    except DeploymentError:
        return  # nothing deployed on this chain: nothing to index
    after_change(ctx, None)
