"""Commands that read the indexed ledger: `scf invoice list`, `scf invoice
overdue`, `scf invoice history`, `scf invoice tree`, `scf participant list`,
`scf invoice show --as-of-block`, and `scf verify` (which compares the database with the
contracts).

All but `verify` read the database only and never import web3. Each prints a
table, JSON (`--json`) or CSV (`--csv`): money as ``HKD 48,250.50`` in
tables (:func:`ledger.format.money_text`), exact decimal strings in JSON and CSV,
booleans ``true``/``false`` in CSV (:func:`csv_cells`). ``ledger.cli`` adds
them to the `invoice` and `participant` groups and to the root.
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
from ledger.format import money_text, text_time

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


def csv_cells(columns: Sequence[str]) -> Callable[[Mapping[str, Any]], list[Any]]:
    """The CSV cells of a row: its ``columns``' values, None as an empty
    cell, booleans as ``true``/``false``."""

    def cells(row: Mapping[str, Any]) -> list[Any]:
        return [_cell(row.get(c)) for c in columns]

    return cells


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


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
    "listed",
    "offer_to",
    "offer_to_name",
    "offer_until",
    "offer_asking",
    "parent_id",
    "root_id",
    "depth",
    # When things go wrong (contracts version 4): ledger.queries.remedy_figures.
    "credited",
    "recourse",
    "grace_days",
    "disputed_from",
    "proposed_due",
    "extensions",
    "defaulted_at",
    "defaulted_block",
    "written_off",
    "recovered",
)


@click.command("list")
@click.option(
    "--status",
    help=(
        "Only these statuses (comma-separated): Issued, Confirmed, Financed, PartiallyPaid, Paid, Cancelled, "
        "Split, Disputed, Defaulted, WrittenOff."
    ),
)
@click.option("--supplier", metavar="N", help="Only this supplier (participant name or address).")
@click.option("--buyer", metavar="N", help="Only this buyer (participant name or address).")
@click.option("--holder", metavar="N", help="Only receivables held by N (participant name or address).")
@click.option("--financier", metavar="N", help="Only invoices financed by N (participant name or address).")
@click.option("--currency", metavar="SYMBOL", help="Only invoices in this currency (e.g. HKD).")
@click.option("--due-after", metavar="DATE", help="Only invoices due after DATE (YYYY-MM-DD; strict).")
@click.option("--due-before", metavar="DATE", help="Only invoices due before DATE (YYYY-MM-DD; strict).")
@click.option(
    "--overdue",
    is_flag=True,
    help="Only open receivables (Confirmed, Financed, PartiallyPaid) not fully paid and past due: as of "
    "the later of the indexed head's time and now (or of block N with --as-of-block). See `scf invoice overdue`.",
)
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
    financier: str | None,
    currency: str | None,
    due_after: str | None,
    due_before: str | None,
    overdue: bool,
    number: str | None,
    limit: int | None,
    as_of_block: int | None,
    as_csv: bool,
) -> None:
    """Invoices in the indexed ledger, by id (run `scf index sync` to catch up).

    Each shows its listing for financing: whether it is listed now (or at
    block N), to which financier (any when none is named), until when and
    the minimum advance asked. Financed invoices also show the seller, the
    financier's due and what it was paid of it, and the seller's reserve
    (open and released) in --json and --csv. Parts of split receivables are
    invoices too: --json and --csv give each one's parent_id, root_id and
    depth (a root, an issued invoice, has no parent, is its own root and has
    depth 0); a split one is Split, with nothing outstanding itself. When
    things went wrong, --json and --csv also give the credit notes so far
    (credited; the amount is after them), the financing's recourse and grace
    days, the status a dispute interrupted, a proposed due date, accepted
    extensions, when it was declared in default, and what was written off
    and recovered after the default.

    Example:

    \b
        scf invoice list --status Confirmed,Financed --due-before 2027-04-01
        scf invoice list --financier "Harbour Trade Finance Ltd" --currency HKD --csv > book.csv
        scf invoice list --overdue
        scf invoice list --status Disputed,Defaulted,WrittenOff
        scf invoice list --as-of-block 120
    """
    from ledger.queries import (
        currency_address,
        directory,
        list_invoices,
        overdue_day,
        party_shaped,
        resolve_filter,
        shown_number,
    )

    before = parse_date(due_before, "due date") if due_before is not None else None
    after = parse_date(due_after, "due date") if due_after is not None else None
    with ledger_db(ctx) as (conn, scope):
        names = directory(conn, scope)  # once: for the filter's names and the rows'
        flt = resolve_filter(
            names,
            status,
            supplier,
            buyer,
            holder,
            before,
            limit,
            number,
            financier=financier,
            currency=None if currency is None else currency_address(scope, currency),
            due_after=after,
            overdue_on=overdue_day(conn, scope, as_of_block=as_of_block) if overdue else None,
        )
        rows = list_invoices(conn, scope, flt, as_of_block, names)

    def offer(r: Mapping[str, Any]) -> str:
        if not r["listed"]:
            return "-"
        to = "any financier" if r["offer_to"] is None else r["offer_to_name"] or r["offer_to"]
        return f"to {to}, asks {money_text(r['currency'], r['offer_asking'])}, until {text_time(r['offer_until'])}"

    def number_cell(r: Mapping[str, Any]) -> str:
        if r["parent_id"] is not None:  # a part has no number of its own
            return f"part of {r['parent_id']}"
        return "-" if r["number"] is None else shown_number(r["number"])

    def text(data: list[dict[str, Any]]) -> None:
        from ledger.cli.render import table

        if not data:
            click.echo(f"no invoices match{_as_of_note(as_of_block)}")
            return
        table(
            ["id", "number", "status", "supplier", "buyer", "holder", "amount", "outstanding", "due", "listed"],
            [
                [
                    r["invoice_id"],
                    number_cell(r),
                    r["status"],
                    r["supplier_name"] or r["supplier"],
                    r["buyer_name"] or r["buyer"],
                    r["holder_name"] or r["holder"] or "-",
                    money_text(r["currency"], r["amount"]),
                    money_text(r["currency"], r["outstanding"]),
                    r["due"],
                    offer(r),
                ]
                for r in data
            ],
            title=f"{len(data)} invoice{'s' if len(data) != 1 else ''}{_as_of_note(as_of_block)}",
        )

    json_rows = [party_shaped(r) for r in rows] if not as_csv else rows
    table_or_csv(ctx, json_rows, rows, as_csv, lambda _data: text(rows), INVOICE_COLUMNS, csv_cells(INVOICE_COLUMNS))


#: The parties of a flat invoice row: ``<role>`` holds the address, ``<role>_name`` the name.
# -- invoice overdue -----------------------------------------------------------------------------
OVERDUE_COLUMNS = (
    "as_of",
    "invoice_id",
    "number",
    "status",
    "days_past_due",
    "due",
    "currency",
    "outstanding",
    "holder",
    "holder_name",
    "buyer",
    "buyer_name",
    "supplier",
    "supplier_name",
    "financed",
    "default_from",
)


@click.command("overdue")
@click.option(
    "--as-of",
    metavar="DATE",
    help="Judge on business date DATE (YYYY-MM-DD) instead of today: the business date of the later of the "
    "indexed head's time and now.",
)
@csv_option
@json_option
@click.pass_context
def invoice_overdue(ctx: click.Context, as_of: str | None, as_csv: bool) -> None:
    """Open receivables (Confirmed, Financed, PartiallyPaid) not fully paid
    and past due, most days past due first: days past due, what the buyer
    still owes, the holder it is owed to, and the buyer. A due date is the
    end of that business day, so an invoice due D is 1 day past due on D+1.

    Example:

    \b
        scf invoice overdue
        scf invoice overdue --as-of 2027-03-31 --csv > overdue.csv
    """
    from ledger.queries import overdue_day, overdue_invoices, shown_number

    given = parse_date(as_of, "as-of date") if as_of is not None else None
    with ledger_db(ctx) as (conn, scope):
        day = overdue_day(conn, scope, given)
        rows = overdue_invoices(conn, scope, day)
    flat = [
        {
            "as_of": day.isoformat(),
            **{k: v for k, v in r.items() if k not in ("holder", "buyer", "supplier")},
            **{
                f"{role}{suffix}": (r[role] or {}).get(key)
                for role in ("holder", "buyer", "supplier")
                for suffix, key in (("", "address"), ("_name", "name"))
            },
        }
        for r in rows
    ]

    def text(data: dict[str, Any]) -> None:
        from ledger.cli.render import table

        invoices = data["invoices"]
        if not invoices:
            click.echo(f"no receivable is past due as of {data['as_of']}")
            return
        table(
            ["id", "number", "status", "days past due", "due", "outstanding", "holder", "buyer", "default from"],
            [
                [
                    r["invoice_id"],
                    "-" if r["number"] is None else shown_number(r["number"]),
                    r["status"],
                    r["days_past_due"],
                    r["due"],
                    money_text(r["currency"], r["outstanding"]),
                    label(r["holder"]),
                    label(r["buyer"]),
                    "-" if r["default_from"] is None else text_time(r["default_from"]),
                ]
                for r in invoices
            ],
            title=f"{len(invoices)} receivable{'s' if len(invoices) != 1 else ''} past due as of {data['as_of']}",
        )

    table_or_csv(
        ctx,
        {"as_of": day.isoformat(), "invoices": rows},
        flat,
        as_csv,
        text,
        OVERDUE_COLUMNS,
        csv_cells(OVERDUE_COLUMNS),
    )


def label(party: Mapping[str, Any] | None) -> str:
    """A party ``{"address", "name"}`` in a table: its name, else its address; ``"-"`` for none."""
    return "-" if party is None else str(party["name"] or party["address"])


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
            ["block", "time", "event", "details"],
            [[r["block"], text_time(r["time"]), r["event"], r["details"]] for r in data],
            title=f"{label}: {len(data)} event{'s' if len(data) != 1 else ''}{_as_of_note(as_of_block)}",
        )

    output(ctx, rows, as_csv, HISTORY_COLUMNS, text)


# -- invoice tree --------------------------------------------------------------------------------
@click.command("tree")
@click.argument("invoice_id", type=INVOICE_ID, metavar="ID")
@as_of_option
@json_option
@click.pass_context
def invoice_tree(ctx: click.Context, invoice_id: int, as_of_block: int | None) -> None:
    """The tree of receivables invoice ID belongs to, from its root down (ID
    may be any part of it): each receivable's tier, status, holder, amount,
    paid and outstanding, and who financed it for how much. A Split
    receivable owes nothing itself: its open amount is in its parts.

    Example:

    \b
        scf invoice tree 7
        scf invoice tree 9 --as-of-block 120 --json
    """
    from ledger.queries import invoice_tree as tree

    with ledger_db(ctx) as (conn, scope):
        result = tree(conn, scope, invoice_id, as_of_block)
    emit(ctx, result, print_tree)


def print_tree(data: Mapping[str, Any]) -> None:
    """An invoice tree (:func:`ledger.queries.invoice_tree`) as a rich Tree."""
    from rich.console import Console
    from rich.markup import escape
    from rich.tree import Tree

    symbol = data["currency"]

    def who(p: Mapping[str, Any] | None) -> str:
        return escape(label(p))

    def line(n: Mapping[str, Any]) -> str:
        text = (
            f"#{n['invoice_id']} tier {n['tier']} {n['status']}: {money_text(symbol, n['amount'])} held by "
            f"{who(n['holder'])}, paid {money_text(symbol, n['paid'])}, outstanding "
            f"{money_text(symbol, n['outstanding'])}"
        )
        if n["financed"]:
            text += f", financed by {who(n['financier'])} (advance {money_text(symbol, n['advance'])})"
        return text

    def grow(branch: Tree, n: Mapping[str, Any]) -> None:
        for child in n["children"]:
            grow(branch.add(line(child)), child)

    root = data["tree"]
    number = "" if data["number"] is None else f" (number {escape(str(data['number']))})"
    title = (
        f"invoice {data['root_id']}{number}: {who(root['supplier'])} to {who(root['buyer'])}, due {root['due']}; "
        f"{data['nodes']} receivable{'s' if data['nodes'] != 1 else ''}, {data['open_leaves']} open, "
        f"outstanding {money_text(symbol, data['outstanding'])}{_as_of_note(data['as_of_block'])}"
    )
    top = Tree(title)
    grow(top.add(line(root)), root)
    console = Console()
    if not console.is_terminal:
        console = Console(width=250)  # piped: never wrap amounts or names to a guessed width
    console.print(top)


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
            _cell(r["suspended"]),
            _cell(r["active"]),
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
    """Compare every indexed invoice (its state, holder, listing, place in
    its tree: parent, root, depth, and its dispute, proposed due date,
    recourse and grace period) and participant with the contracts, at the
    last indexed block, and the number of stored events of each contract and
    event with the chain's logs; every split invoice's paid amount and parts
    (their amounts before credit notes) must add up to its amount. What no
    contract call tells (credit notes, extensions, defaults, write-offs,
    recoveries, and the financing, repayment and incident records) is
    compared with the chain's logs replayed in memory. Prints the
    mismatches, one line each; exits 1 if there are any.

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
