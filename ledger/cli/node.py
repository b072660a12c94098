"""`scf node ...`: the local Anvil chain."""

from __future__ import annotations

import click

from ledger.cli.common import LedgerGroup, emit, json_option, settings_of
from ledger.config import DEV_CHAIN_ID


@click.group(cls=LedgerGroup)
def node() -> None:
    """The local Anvil chain (chain id 31337, state kept in the data
    directory). Start it before `scf deploy`; a restart keeps all state.

    Example:

    \b
        scf node start
        scf node status
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
