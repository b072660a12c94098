"""Terminal rendering helpers (rich tables), shared by the CLI commands."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


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
