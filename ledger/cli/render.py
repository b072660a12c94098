"""Terminal rendering helpers (rich tables), shared by the CLI commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def print_invoice(d: dict[str, Any]) -> None:
    """One invoice as `label value` lines (`scf invoice show`, live or --as-of-block)."""
    import click

    from ledger.format import money_text, text_time

    def m(value: str) -> str:
        return money_text(d["currency"], value)

    def who(p: dict[str, str] | None) -> str:
        return "-" if p is None else (f"{p['name']} ({p['address']})" if p["name"] else p["address"])

    rows: list[tuple[str, Any]] = [("invoice", d["invoice_id"])]
    if "as_of_block" in d:
        rows.append(("as of block", d["as_of_block"]))
    number = d.get("number")
    if number is not None:
        # repr-like quoting only when the number holds characters a terminal could misread.
        rows.append(("number", number if number.isprintable() else ascii(number)))
        rows.append(("normalised", d.get("normalised_number")))
    rows += [
        ("status", d["status"]),
        ("supplier", who(d["supplier"])),
        ("buyer", who(d["buyer"])),
        ("holder", who(d["holder"])),
        ("seller", who(d.get("seller"))),
        ("amount", m(d["amount"])),
        ("paid", m(d["paid"])),
        ("outstanding", m(d["outstanding"])),
    ]
    for key, label in (
        ("advance", "advance"),
        ("financier_due", "fin. due"),
        ("financier_paid", "fin. paid"),
        ("reserve_open", "reserve"),
        ("reserve_released", "released"),
    ):
        if d.get(key) is not None:
            rows.append((label, m(d[key])))
    rows += _remedy_rows(d, m)
    if d.get("parent_id") is not None:
        # A part of a split (multi-tier): no number or document of its own; its lineage instead.
        rows.append(("part of", f"invoice {d['parent_id']} (root {d['root_id']}, tier {int(d['depth']) + 1})"))
    rows += [
        ("due", d["due"]),
        ("issued", text_time(d["issued_at"]) if d["issued_at"] else None),
        ("document", d["document_hash"]),
    ]
    for label, value in rows:
        click.echo(f"{label:<12} {'-' if value is None else value}")


def _remedy_rows(d: dict[str, Any], m: Any) -> list[tuple[str, Any]]:
    """The lines of what went wrong (contracts version 4), for the keys
    present: financing terms, a dispute, credit notes, extensions, a default,
    a write-off and recoveries; amounts that are zero are left out."""
    from decimal import Decimal

    from ledger.format import text_time

    def nonzero(key: str) -> bool:
        return d.get(key) is not None and Decimal(str(d[key])) != 0

    rows: list[tuple[str, Any]] = []
    if d.get("recourse") is not None:
        rows.append(("recourse", "yes: the seller buys it back after a default" if d["recourse"] else "no"))
    if d.get("grace_days") is not None:
        days = d["grace_days"]
        rows.append(("grace", f"{days} day{'' if days == '1' else 's'} after the due date"))
    if d.get("disputed_from"):
        rows.append(("disputed", f"yes (was {d['disputed_from']})"))
    if nonzero("credited"):
        rows.append(("credited", m(d["credited"])))
    if d.get("proposed_due"):
        rows.append(("proposed due", f"{d['proposed_due']} (not accepted yet)"))
    if d.get("extensions"):
        rows.append(("extensions", d["extensions"]))
    if d.get("defaulted_at"):
        rows.append(("defaulted", text_time(d["defaulted_at"])))
    if nonzero("written_off"):
        rows.append(("written off", m(d["written_off"])))
    if d.get("defaulted_at") or nonzero("recovered"):
        rows.append(("recovered", m(d.get("recovered") or "0")))
    return rows


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    """Rows as a rich table. Cells are text, never rich markup: an invoice
    number or a participant name is whatever its author chose on chain."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    t = Table(*headers, title=None if title is None else escape(title), show_lines=False)
    for row in rows:
        t.add_row(*("" if v is None else escape(str(v)) for v in row))
    console = Console()
    if not console.is_terminal:
        # Piped output: never truncate addresses or amounts to a guessed width.
        console = Console(width=250)
    console.print(t)
