"""Terminal rendering helpers (rich tables), shared by the CLI commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def print_invoice(d: dict[str, Any]) -> None:
    """One invoice as `label value` lines (`scf invoice show`, live or --as-of-block)."""
    import click

    def who(p: dict[str, str] | None) -> str:
        return "-" if p is None else (f"{p['name']} ({p['address']})" if p["name"] else p["address"])

    rows: list[tuple[str, Any]] = [("invoice", d["invoice_id"])]
    if "as_of_block" in d:
        rows.append(("as of block", d["as_of_block"]))
    rows += [
        ("status", d["status"]), ("supplier", who(d["supplier"])), ("buyer", who(d["buyer"])),
        ("holder", who(d["holder"])), ("financier", who(d["financier"])),
        ("amount", f"{d['currency']} {d['amount']}"), ("paid", d["paid"]), ("outstanding", d["outstanding"]),
        ("advance", d["advance"]), ("due", d["due"]), ("issued", d["issued_at"]),
        ("fingerprint", d["fingerprint"]), ("document", d["document_hash"]),
    ]
    for label, value in rows:
        click.echo(f"{label:<12} {value}")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(*headers, title=title, show_lines=False)
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    console = Console()
    if not console.is_terminal:
        # Piped output: never truncate addresses or amounts to a guessed width.
        console = Console(width=250)
    console.print(t)
