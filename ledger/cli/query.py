"""Commands that read the indexed ledger: `scf invoice list`, `scf invoice
history`, `scf participant list`, `scf invoice show --as-of-block`, and
`scf verify` (which compares the database with the contracts).

All but `verify` read the database only and never import web3. Each prints a
table, JSON (`--json`) or CSV (`--csv`). ``ledger.cli`` adds them to the
`invoice` and `participant` groups and to the root.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import click

from ledger.cli.common import (
    INVOICE_ID,
    csv_option,
    emit,
    json_option,
    ledger_db,
    parse_date,
    settings_of,
    table_or_csv,
)

AS_OF_HELP = "Show the ledger as it was at block N (replayed from the stored events)."


def as_of_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--as-of-block", type=click.IntRange(min=0), metavar="N", help=AS_OF_HELP)(f)


def output(
    ctx: click.Context,
    rows: list[dict[str, Any]],
    as_csv: bool,
    columns: Sequence[str],
    text: Callable[[list[dict[str, Any]]], None],
    csv_row: Callable[[Mapping[str, Any]], Sequence[Any]] | None = None,
) -> None:
    table_or_csv(ctx, rows, rows, as_csv, text, columns, csv_row)


def _as_of_note(block: int | None) -> str:
    return f" as of block {block}" if block is not None else ""


# -- invoice list ----------------------------------------------------------------------------
INVOICE_COLUMNS = (
    "invoice_id",
    "number",
    "normalised_number",
    "status",
    "supplier",
    "supplier_name",
    "buyer",
    "buyer_name",
    "holder",
    "holder_name",
    "financier",
    "financier_name",
    "seller",
    "seller_name",
    "currency",
    "amount",
    "paid",
    "outstanding",
    "advance",
    "financier_due",
    "financier_paid",
    "reserve_open",
    "reserve_released",
    "due",
    "issued_at",
    "issued_block",
    "updated_block",
    "document_hash",
)


@click.command("list")
@click.option(
    "--status",
    help="Only these statuses (comma-separated): Issued, Confirmed, Financed, PartiallyPaid, Paid, Cancelled.",
)
@click.option("--supplier", metavar="N", help="Only this supplier (participant name or address).")
@click.option("--buyer", metavar="N", help="Only this buyer (participant name or address).")
@click.option("--holder", metavar="N", help="Only receivables held by N (participant name or address).")
@click.option("--due-before", metavar="DATE", help="Only invoices due before DATE (YYYY-MM-DD).")
@click.option(
    "--number",
    metavar="TEXT",
    help="Only the invoice number TEXT, in any spelling the contract takes for the same (INV-01, inv 1, ＩＮＶ０１).",
)
@click.option("--limit", type=click.IntRange(min=1), metavar="K", help="At most K invoices.")
@as_of_option
@csv_option
@json_option
@click.pass_context
def invoice_list(
    ctx: click.Context,
    status: str | None,
    supplier: str | None,
    buyer: str | None,
    holder: str | None,
    due_before: str | None,
    number: str | None,
    limit: int | None,
    as_of_block: int | None,
    as_csv: bool,
) -> None:
    """Invoices in the indexed ledger, by id (run `scf index sync` to catch up).

    Financed invoices also show the seller, the financier's due and what it
    was paid of it, and the seller's reserve (open and released) in --json
    and --csv.

    Example:

    \b
        scf invoice list --status Confirmed,Financed --due-before 2026-10-01
        scf invoice list --holder "Harbour Trade Finance Ltd" --csv > book.csv
        scf invoice list --as-of-block 120
    """
    from ledger.queries import directory, list_invoices, resolve_filter, shown_number

    due = parse_date(due_before, "due date") if due_before is not None else None
    with ledger_db(ctx) as (conn, scope):
        names = directory(conn, scope)  # once: for the filter's names and the rows'
        flt = resolve_filter(names, status, supplier, buyer, holder, due, limit, number)
        rows = list_invoices(conn, scope, flt, as_of_block, names)

    def text(data: list[dict[str, Any]]) -> None:
        from ledger.cli.render import table

        if not data:
            click.echo(f"no invoices match{_as_of_note(as_of_block)}")
            return
        table(
            ["id", "number", "status", "supplier", "buyer", "holder", "amount", "outstanding", "due"],
            [
                [
                    r["invoice_id"],
                    "-" if r["number"] is None else shown_number(r["number"]),
                    r["status"],
                    r["supplier_name"] or r["supplier"],
                    r["buyer_name"] or r["buyer"],
                    r["holder_name"] or r["holder"] or "-",
                    f"{r['currency']} {r['amount']}",
                    r["outstanding"],
                    r["due"],
                ]
                for r in data
            ],
            title=f"{len(data)} invoice{'s' if len(data) != 1 else ''}{_as_of_note(as_of_block)}",
        )

    output(ctx, rows, as_csv, INVOICE_COLUMNS, text)


# -- invoice history ---------------------------------------------------------------------------
HISTORY_COLUMNS = ("block", "time", "tx_hash", "log_index", "event", "amount", "details")


@click.command("history")
@click.argument("invoice_id", type=INVOICE_ID, metavar="ID")
@as_of_option
@csv_option
@json_option
@click.pass_context
def invoice_history(ctx: click.Context, invoice_id: int, as_of_block: int | None, as_csv: bool) -> None:
    """Every event of invoice ID, oldest first, with its block and time (and
    the renames of its parties meanwhile; parties are named as they were).

    Example:

    \b
        scf invoice history 1
        scf invoice history 1 --csv
    """
    from ledger.queries import invoice_history as history
    from ledger.queries import shown_number

    with ledger_db(ctx) as (conn, scope):
        rows = history(conn, scope, invoice_id, as_of_block)

    def text(data: list[dict[str, Any]]) -> None:
        from ledger.cli.render import table

        number = next((r["args"].get("number") for r in data if r["event"] == "InvoiceIssued"), None)
        label = f"invoice {invoice_id}" + ("" if number is None else f" (number {shown_number(str(number))})")
        table(
            ["block", "time (UTC)", "event", "details"],
            [[r["block"], r["time"].replace("+00:00", "").replace("T", " "), r["event"], r["details"]] for r in data],
            title=f"{label}: {len(data)} event{'s' if len(data) != 1 else ''}{_as_of_note(as_of_block)}",
        )

    output(ctx, rows, as_csv, HISTORY_COLUMNS, text)


# -- invoice show --as-of-block ------------------------------------------------------------------
def show_as_of(ctx: click.Context, invoice_id: int, as_of_block: int) -> None:
    """`scf invoice show ID --as-of-block N`: the invoice as the indexed ledger had it at block N."""
    from ledger.queries import show_invoice

    with ledger_db(ctx) as (conn, scope):
        result = show_invoice(conn, scope, invoice_id, as_of_block)

    from ledger.cli.render import print_invoice

    emit(ctx, result, print_invoice)


# -- participant list ----------------------------------------------------------------------------
PARTICIPANT_COLUMNS = ("name", "address", "roles", "kyc_until", "suspended", "active", "admitted_block")


def _participant_status(r: dict[str, Any]) -> str:
    return "suspended" if r["suspended"] else ("active" if r["active"] else "KYC expired")


@click.command("list")
@as_of_option
@csv_option
@json_option
@click.pass_context
def participant_list(ctx: click.Context, as_of_block: int | None, as_csv: bool) -> None:
    """Participants as the indexed registry holds them: roles, KYC validity
    and status (run `scf index sync` to catch up).

    Example:

    \b
        scf participant list
        scf participant list --as-of-block 120 --json
    """
    from ledger.queries import participants

    with ledger_db(ctx) as (conn, scope):
        rows = participants(conn, scope, as_of_block)

    def text(data: list[dict[str, Any]]) -> None:
        from ledger.cli.render import table

        if not data:
            click.echo(f"no participants{_as_of_note(as_of_block)}")
            return
        table(
            ["name", "address", "roles", "KYC until", "status"],
            [[r["name"], r["address"], ",".join(r["roles"]), r["kyc_until"], _participant_status(r)] for r in data],
        )

    def csv_row(r: Mapping[str, Any]) -> list[Any]:
        return [
            r["name"],
            r["address"],
            "+".join(r["roles"]),
            r["kyc_until"],
            r["suspended"],
            r["active"],
            r["admitted_block"],
        ]

    output(ctx, rows, as_csv, PARTICIPANT_COLUMNS, text, csv_row)


# -- verify --------------------------------------------------------------------------------------
@click.command("verify")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1, max=5000),
    default=500,
    show_default=True,
    help="Contract calls per JSON-RPC batch request.",
)
@json_option
@click.pass_context
def verify_cmd(ctx: click.Context, batch_size: int) -> None:
    """Compare every indexed invoice (its state, holder and listing) and
    participant with the contracts, at the last indexed block, and the number
    of stored events of each contract and event with the chain's logs.
    Prints the mismatches; exits 1 if there are any.

    Example:

    \b
        scf index sync && scf verify
    """
    from ledger.indexer.verify import verify

    settings = settings_of(ctx)
    report = verify(settings, batch_size=batch_size)
    data = report.to_dict()

    def text(d: dict[str, Any]) -> None:
        click.echo(report.summary())
        for m in report.mismatches:
            click.echo(f"  {m.line()}")

    emit(ctx, data, text)
    if report.mismatches:
        ctx.exit(1)
