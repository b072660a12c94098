"""`scf events`: the ledger-wide audit trail, read from the indexed event
table (database only: no web3)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from ledger.cli.common import INVOICE_ID, csv_option, json_option, ledger_db, settings_of, table_or_csv
from ledger.errors import InputError

EVENT_COLUMNS = (
    "block",
    "time",
    "tx_hash",
    "log_index",
    "contract",
    "contract_address",
    "event",
    "invoice_id",
    "parties",
    "currency",
    "amount",
    "summary",
)


def _abis(ctx: click.Context, chain_id: int) -> list[list[dict[str, Any]]]:
    """The contracts' ABIs from this data directory's deployment record of
    ``chain_id`` (none without one: then the stored event names are the valid types)."""
    from ledger.deployment import load_deployment
    from ledger.errors import DeploymentError

    try:
        return load_deployment(settings_of(ctx), chain_id).abis()
    except DeploymentError:
        return []


def _csv_row(r: Mapping[str, Any]) -> list[Any]:
    parties = "; ".join(p["name"] or p["address"] for p in r["parties"])
    return [
        r["block"],
        r["time"],
        r["tx_hash"],
        r["log_index"],
        r["contract"]["name"] or "",
        r["contract"]["address"],
        r["event"],
        "" if r["invoice_id"] is None else r["invoice_id"],
        parties,
        r["currency"] or "",
        r["amount"] or "",
        r["summary"],
    ]


@click.command("events")
@click.option("--from-block", type=click.IntRange(min=0), metavar="N", help="Only events at block N or later.")
@click.option("--to-block", type=click.IntRange(min=0), metavar="N", help="Only events at block N or earlier.")
@click.option(
    "--type",
    "types",
    multiple=True,
    metavar="NAME",
    help="Only events named NAME (repeatable or comma-separated, any case), e.g. InvoiceFinanced.",
)
@click.option("--party", metavar="WHO", help="Only events that name WHO (participant name, account name or address).")
@click.option("--invoice", "invoice_id", type=INVOICE_ID, metavar="ID", help="Only the events of invoice ID.")
@click.option("--limit", type=click.IntRange(min=1), metavar="K", help="At most K events (the oldest).")
@csv_option
@json_option
@click.pass_context
def events_cmd(
    ctx: click.Context,
    from_block: int | None,
    to_block: int | None,
    types: tuple[str, ...],
    party: str | None,
    invoice_id: int | None,
    limit: int | None,
    as_csv: bool,
) -> None:
    """The ledger-wide audit trail: every indexed event of the deployment's
    contracts (invoices, registry, settlement tokens), oldest first, with its
    block, time, transaction, log index, contract, invoice, the parties it
    names (as they were named then) and a one-line summary. `--json` adds
    each event's arguments by their meaning: times ISO 8601, amounts exact
    decimal strings of the event's currency, addresses as parties. Run `scf
    index sync` to catch up.

    Example:

    \b
        scf events --type InvoiceFinanced,InvoiceRepaid --from-block 100
        scf events --party "Harbour Trade Finance Ltd" --csv > trail.csv
        scf events --invoice 1 --json
    """
    from ledger.history import EventFilter, event_types, ledger_events
    from ledger.history import parse_event_types as parse_types
    from ledger.queries import directory

    if from_block is not None and to_block is not None and from_block > to_block:
        raise InputError(f"--from-block {from_block} is after --to-block {to_block}; swap them")
    with ledger_db(ctx) as (conn, scope):
        wanted = parse_types(types, event_types(conn, scope, _abis(ctx, scope.chain_id))) if types else []
        who = None if party is None else directory(conn, scope).resolve(party, "party")
        rows = ledger_events(
            conn,
            scope,
            EventFilter(from_block, to_block, wanted, who, invoice_id, limit),
        )

    def text(data: list[dict[str, Any]]) -> None:
        from ledger.cli.render import table
        from ledger.format import text_time

        if not data:
            click.echo("no events match")
            return
        table(
            ["block", "time", "tx", "log", "contract", "event", "invoice", "summary"],
            [
                [
                    r["block"],
                    text_time(r["time"]),
                    r["tx_hash"][:10] + "…",
                    r["log_index"],
                    r["contract"]["name"] or r["contract"]["address"],
                    r["event"],
                    "-" if r["invoice_id"] is None else r["invoice_id"],
                    r["summary"],
                ]
                for r in data
            ],
            title=f"{len(data)} event{'s' if len(data) != 1 else ''}",
        )

    table_or_csv(ctx, rows, rows, as_csv, text, EVENT_COLUMNS, _csv_row)
