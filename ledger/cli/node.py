"""`scf node ...`: the data directory's local chain, on Anvil or on a
Clique network of @ethereumjs/client (:mod:`ledger.evm.clique`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from ledger.cli.common import LedgerGroup, after_change, emit, json_option, settings_of
from ledger.config import DEV_CHAIN_ID
from ledger.errors import InputError, Refused

if TYPE_CHECKING:
    from ledger.config import Settings
    from ledger.evm.clique import CliqueNetwork, StartPlan


#: The engines `scf node start` runs; the default is $SCF_ENGINE, else anvil.
ENGINES = ("anvil", "clique")
ENGINE_NAMES = {"anvil": "local Anvil", "clique": "Clique network"}


@click.group(cls=LedgerGroup)
def node() -> None:
    """The data directory's local chain, on one of two engines:

    \b
      anvil   Anvil, chain id 31337: instant blocks, dev accounts, a clock
              that `scf node advance` moves (the default)
      clique  a Clique proof-of-authority network of @ethereumjs/client
              0.10.2, chain id 123456: a block every 2 s, one or two
              signers, as a bank's permissioned network runs

    State is kept in the data directory (<home>/node); a restart keeps the
    chain. `stop` and `status` act on whichever engine runs. Start it before
    `scf deploy`.

    Example:

    \b
        scf node start
        scf node status
        scf node advance --days 40
        scf node stop
        SCF_PASSWORD=... scf node start --engine clique --fund bankops
    """


def _running(settings: Settings) -> tuple[str, dict[str, Any]] | None:
    """(engine, info) of the node of this data directory that runs, if any."""
    from ledger.evm.clique import CliqueNetwork
    from ledger.evm.node import LocalNode

    anvil = LocalNode(settings).info()
    if anvil is not None:
        return "anvil", {"engine": "anvil", "chain_id": DEV_CHAIN_ID, **anvil}
    clique = CliqueNetwork(settings).info()
    return ("clique", clique) if clique is not None else None


def _refuse_other(running: tuple[str, dict[str, Any]] | None, engine: str) -> None:
    """Refused if the other engine of this data directory runs."""
    if running is not None and running[0] != engine:
        other = running[1]
        raise Refused(
            f"the {ENGINE_NAMES[running[0]]} of this data directory runs (pid {other['pid']}, port {other['port']}); "
            f"stop it with `scf node stop` before starting the {ENGINE_NAMES[engine]}"
        )


@node.command("start")
@click.option(
    "--engine",
    type=click.Choice(ENGINES),
    envvar="SCF_ENGINE",
    help="anvil (chain 31337) or clique (chain 123456); default $SCF_ENGINE, else the engine running, else anvil.",
)
@click.option(
    "--signers",
    type=click.IntRange(1, 2),
    metavar="N",
    help="Clique only, first start: signing nodes, 1 (default) or 2; later starts keep the genesis's. "
    "Two signers peer over P2P ports that listen on all interfaces: firewall them.",
)
@click.option(
    "--fund",
    "fund",
    multiple=True,
    metavar="NAME",
    help="Clique only, first start: a keystore account or 0x address the genesis gives 1,000,000 ether "
    "(repeatable; default: every keystore account). The genesis is fixed: a later start with another set "
    "is refused.",
)
@click.option("--port", type=click.IntRange(1, 65535), help="Port to listen on (default 8545; env SCF_NODE_PORT).")
@json_option
@click.pass_context
def node_start(
    ctx: click.Context, engine: str | None, signers: int | None, fund: tuple[str, ...], port: int | None
) -> None:
    """Start the local chain in the background (a restart keeps all state).
    Does nothing if it already runs; refused while the other engine of this
    data directory runs.

    With --engine clique the first start creates the network under
    <home>/node/clique: new signer keys, encrypted with $SCF_PASSWORD (which
    every later start needs too), and a genesis funding the --fund accounts
    (by default every account of the keystore: create or import the
    accounts first; a genesis funding no account is refused). Node 1
    answers JSON-RPC on --port; it returns once blocks are sealed (a few
    seconds).

    JSON-RPC listens on 127.0.0.1 only, but each Clique node's P2P port
    (`scf node status --json`: p2p_port) listens on all interfaces, as the
    client allows no other. One signer accepts no peer there. Two signers
    accept any peer, which can then read the whole ledger: on a host
    reachable from others, firewall their P2P ports.

    One start or stop at a time: another `scf node start|stop` of the same
    data directory meanwhile is refused (exit 1); try it again.

    Example:

    \b
        scf node start --port 8546
        scf account new bankops
        SCF_PASSWORD=... scf node start --engine clique --fund bankops
        SCF_PASSWORD=... scf node start --engine clique --signers 2 --json
    """
    from dataclasses import replace

    from ledger.evm.node import LocalNode, node_lock, url_of

    settings = settings_of(ctx)
    if port is not None:
        settings = replace(settings, node_port=port)
    running = _running(settings)
    engine = engine or (running[0] if running else "anvil")
    if engine != "clique" and (signers is not None or fund):
        option = "--signers" if signers is not None else "--fund"
        raise InputError(f"{option} applies to the Clique engine only; add --engine clique")
    _refuse_other(running, engine)
    network = plan = None
    if engine == "clique":
        from ledger.evm.clique import CliqueNetwork

        network = CliqueNetwork(settings)
        plan = network.prepare(signers, fund)  # checks the input; writes nothing
    with node_lock(settings.node_dir):
        _refuse_other(_running(settings), engine)  # again: another start may have run meanwhile
        if network is not None and plan is not None:
            _start_clique(ctx, network, plan)
            return
        info, started = LocalNode(settings).start()
    data = {"engine": "anvil", **info, "url": url_of(info["port"]), "started": started, "chain_id": DEV_CHAIN_ID}
    word = "started" if started else "already running"
    emit(ctx, data, f"local chain {word}: pid {info['pid']}, {data['url']}")


def _start_clique(ctx: click.Context, network: CliqueNetwork, plan: StartPlan) -> None:
    from ledger.evm.node import url_of

    created = not network.exists()
    info, started = network.launch(plan)
    nodes = [_node_view(n) for n in info["nodes"]]
    data = {**info, "url": url_of(info["port"]), "started": started, "created": created, **network.describe()}
    data["nodes"] = nodes
    lines = []
    if created:
        funded = ", ".join(data["funded"]) or "no account besides the signers"
        lines.append(f"new Clique network (genesis {data['genesis']}); funded: {funded}")
    count = len(data["signers"])
    word = "started" if started else "already running"
    lines.append(f"Clique network {word}: chain {data['chain_id']}, {count} signer{'s' if count > 1 else ''}")
    lines += [f"  node {n['node']}: pid {n['pid']}, {n['url']} (signer {n['signer']})" for n in nodes]
    emit(ctx, data, "\n".join(lines))


def _node_view(node_info: dict[str, Any], answering: bool = False) -> dict[str, Any]:
    """One Clique node as shown: what the record says, its URL, and (for
    status) whether it answers and its head."""
    from ledger.evm.node import url_of

    view = {k: node_info[k] for k in ("node", "pid", "port", "p2p_port", "signer", "log", "running")}
    view["url"] = url_of(int(node_info["port"]))
    if answering:
        from ledger.evm.clique import block_number

        view["block"] = block_number(view["url"]) if node_info["running"] else None
        view["answering"] = view["block"] is not None
    return view


@node.command("stop")
@json_option
@click.pass_context
def node_stop(ctx: click.Context) -> None:
    """Stop the local chain, whichever engine runs (by its recorded PIDs; the
    chain is kept for the next `scf node start`). Refused (exit 1) while
    another `scf node start|stop` of this data directory runs.

    Example:

    \b
        scf node stop
    """
    from ledger.evm.clique import CliqueNetwork
    from ledger.evm.node import LocalNode, node_lock

    settings = settings_of(ctx)
    if not settings.node_dir.exists():
        emit(ctx, {"stopped": None}, "local chain is not running")
        return
    with node_lock(settings.node_dir):
        stopped = LocalNode(settings).stop()
        network = CliqueNetwork(settings).stop() if stopped is None else None
    if stopped is not None:
        emit(ctx, {"stopped": {"engine": "anvil", **stopped}}, f"local chain stopped (pid {stopped['pid']})")
        return
    if network is None:
        emit(ctx, {"stopped": None}, "local chain is not running")
        return
    pids = ", ".join(str(n["pid"]) for n in network["nodes"] if n["running"])
    network["nodes"] = [_node_view(n) for n in network["nodes"]]
    emit(ctx, {"stopped": network}, f"Clique network stopped (pid {pids})")


@node.command("status")
@json_option
@click.pass_context
def node_status(ctx: click.Context) -> None:
    """Whether the local chain runs, on which engine, where, and whether it
    answers JSON-RPC (for a Clique network: each node and its head).

    Example:

    \b
        scf node status --json
    """
    from ledger.evm.node import rpc_ready, url_of

    running = _running(settings_of(ctx))
    if running is None:
        emit(ctx, {"running": False}, "local chain is not running; start it with `scf node start`")
        return
    engine, info = running
    url = url_of(int(info["port"]))
    if engine == "anvil":
        data = {"running": True, **info, "url": url, "answering": rpc_ready(url, 2.0)}
        suffix = "" if data["answering"] else " (not answering JSON-RPC)"
        emit(ctx, data, f"local chain running: pid {info['pid']}, {url}{suffix}")
        return
    nodes = [_node_view(n, answering=True) for n in info["nodes"]]
    data = {"running": True, **info, "url": url, "answering": nodes[0]["answering"], "nodes": nodes}
    lines = [f"Clique network running: chain {info['chain_id']}, {len(nodes)} node{'s' if len(nodes) > 1 else ''}"]
    for n in nodes:
        state = f"block {n['block']}" if n["answering"] else ("not answering JSON-RPC" if n["running"] else "stopped")
        lines.append(f"  node {n['node']}: pid {n['pid']}, {n['url']}, {state}")
    emit(ctx, data, "\n".join(lines))


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
