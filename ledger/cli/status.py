"""`scf status`: the node, the contracts and the index at a glance.

Reads the database and this data directory's deployment records first
(no chain needed), then asks the node; what cannot be read is marked as
such, warned about in one line each on stderr, and the command exits 3 (an
environment problem) after printing everything that could be known."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import click

from ledger.cli.common import emit, json_option, settings_of
from ledger.errors import EnvironmentProblem, LedgerError

if TYPE_CHECKING:
    from ledger.config import Settings
    from ledger.deployment import Deployment

#: `scf status` exits with this when the node, the database or the deployment record cannot be read.
ENVIRONMENT_EXIT = EnvironmentProblem.exit_code


def masked_url(url: str) -> str:
    """A database URL with its password replaced by ``***``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _database(settings: Settings, problems: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from ledger.indexer import status as index_status

    database: dict[str, Any] = {"url": masked_url(settings.database_url), "readable": True, "error": None}
    try:
        cursors = index_status(settings)
    except LedgerError as exc:
        database.update(readable=False, error=_one_line(exc))
        problems.append(f"database unreadable: {_one_line(exc)}")
        return database, []
    return database, cursors


def _records(settings: Settings, chain_id: int | None, problems: list[str]) -> list[Deployment]:
    """The deployment records to show: that of the node's chain when it
    answered, else every record of this data directory."""
    from ledger.deployment import Deployment, load_deployment

    if chain_id is not None:
        try:
            return [load_deployment(settings, chain_id)]
        except LedgerError as exc:
            problems.append(f"no usable deployment: {_one_line(exc)}")
            return []
    found = []
    for path in sorted(settings.deployments_dir.glob("*.json")):
        try:
            found.append(Deployment.from_dict(json.loads(path.read_text())))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            problems.append(f"unreadable deployment record {path}: {_one_line(exc)}")
    return found


def _on_chain(w3: Any, deployment: Deployment) -> dict[str, Any]:
    """``version()`` and ``paused()`` of the deployment's InvoiceToken, as the node answers them now."""
    from web3 import Web3

    invoices = deployment.contracts["InvoiceToken"]
    contract = w3.eth.contract(address=Web3.to_checksum_address(invoices.address), abi=invoices.abi)
    return {"version": int(contract.functions.version().call()), "paused": bool(contract.functions.paused().call())}


def gather(settings: Settings) -> tuple[dict[str, Any], list[str]]:
    """Everything `scf status` shows, and the problems found (one line each)."""
    problems: list[str] = []
    database, cursors = _database(settings, problems)
    node: dict[str, Any] = {
        "rpc_url": settings.rpc_url,
        "reachable": False,
        "chain_id": None,
        "head": None,
        "error": None,
    }
    w3 = None
    try:
        from ledger.evm.chain import connect

        w3 = connect(settings.rpc_url, timeout=5.0)
        node.update(reachable=True, chain_id=int(w3.eth.chain_id), head=int(w3.eth.block_number))
    except LedgerError as exc:
        node["error"] = _one_line(exc)
        problems.append(f"node unreachable: {_one_line(exc)}")
    deployments = []
    for record in _records(settings, node["chain_id"], problems):
        shown: dict[str, Any] = {
            "chain_id": record.chain_id,
            "contracts": {name: c.address for name, c in record.contracts.items()},
            "recorded_version": record.version,
            "version": None,
            "paused": None,
        }
        if w3 is not None and "InvoiceToken" in record.contracts:
            try:
                shown.update(_on_chain(w3, record))
            except Exception as exc:  # noqa: BLE001 - a status line, not a failure
                problems.append(
                    f"the InvoiceToken at {record.contracts['InvoiceToken'].address} did not answer: "
                    f"{_one_line(exc)[:200]}"
                )
        deployments.append(shown)
    index = []
    for c in cursors:
        live = node["head"] if node["chain_id"] == c["chain_id"] else None
        head = live if live is not None else c["head"]
        index.append(
            {
                "chain_id": c["chain_id"],
                "invoice_contract": c["contracts"].get("InvoiceToken"),
                "block": c["block"],
                "head": head,
                "head_is_live": live is not None,
                "lag": None if head is None or c["block"] is None else max(0, head - c["block"]),
                "events": c["events"],
                "updated_at": c["updated_at"],
            }
        )
    paused = next((d["paused"] for d in deployments if d["paused"] is not None), None)
    return (
        {
            "node": node,
            "paused": paused,
            "deployments": deployments,
            "index": index,
            "database": database,
            "problems": problems,
        },
        problems,
    )


def _text(data: dict[str, Any]) -> None:
    node = data["node"]
    if node["reachable"]:
        click.echo(f"node        {node['rpc_url']}: reachable, chain {node['chain_id']}, head block {node['head']}")
    else:
        click.echo(f"node        {node['rpc_url']}: UNREACHABLE")
    paused = data["paused"]
    if paused is not None:
        state = "PAUSED" if paused else "running (not paused)"
    elif not node["reachable"]:
        state = "unknown (node unreachable)"
    elif not data["deployments"]:
        state = "unknown (no contracts deployed on this chain)"
    else:
        state = "unknown (the contracts did not answer)"
    click.echo(f"network     {state}")
    if not data["deployments"]:
        click.echo("contracts   none recorded (run `scf deploy`)")
    for d in data["deployments"]:
        version = "version unknown" if d["version"] is None else f"version {d['version']}"
        click.echo(f"contracts   chain {d['chain_id']}, {version} (recorded {d['recorded_version']})")
        for name, address in d["contracts"].items():
            click.echo(f"  {name:<22} {address}")
    if not data["index"]:
        readable = data["database"]["readable"]
        click.echo("index       nothing indexed yet (run `scf index sync`)" if readable else "index       unknown")
    for i in data["index"]:
        head = "the head" if i["head_is_live"] else "the head last seen"
        lag = "" if i["lag"] is None else f", {i['lag']:,} block{'s' if i['lag'] != 1 else ''} behind {head}"
        click.echo(
            f"index       chain {i['chain_id']} InvoiceToken {i['invoice_contract']}: block {i['block']}{lag}, "
            f"{i['events']:,} events"
        )
    database = data["database"]
    click.echo(f"database    {database['url']}" + ("" if database["readable"] else ": UNREADABLE"))


@click.command("status")
@json_option
@click.pass_context
def status_cmd(ctx: click.Context) -> None:
    """The node (reachable, chain id, head block), the network (paused or
    not), the contracts (addresses and version()), the index (last indexed
    block and how many blocks behind the head) and the database (its URL,
    password masked). Prints what it can; exits 3 if the node, the database
    or the deployment record cannot be read, with one warning line each on
    stderr.

    Example:

    \b
        scf status
        scf status --json
    """
    data, problems = gather(settings_of(ctx))
    emit(ctx, data, _text)
    for problem in problems:
        click.echo(f"warning: {problem}", err=True)
    if problems:
        ctx.exit(ENVIRONMENT_EXIT)
