"""`scf invoice import|approve|sign-confirmation` and `scf invoice confirm
--signatures`: ERP-scale intake (``ledger.intake``), added to the invoice group
by ``ledger.cli``."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ledger.cli.common import INVOICE_ID, as_option, emit, json_option, open_ledger, signer, sync_option
from ledger.errors import InputError

if TYPE_CHECKING:
    from ledger.intake import Intake, RunResult

_FILE = click.Path(dir_okay=False, exists=True, path_type=Path)
_OUT = click.Path(dir_okay=False, writable=True, path_type=Path)
_RESULT = click.option(
    "--result",
    type=_OUT,
    help="Write each row's outcome (invoice id, transaction, reason) to this CSV file.",
)
_SKIP_BAD = click.option(
    "--skip-bad", is_flag=True, help="Go on with the good rows when some are bad (each bad one is still reported)."
)


@contextmanager
def _intake(ctx: click.Context) -> Iterator[Intake]:
    """The intake service, with a progress bar on a terminal (stderr) unless --json."""
    from ledger.intake import Intake

    ledger = open_ledger(ctx)
    if not sys.stderr.isatty() or ctx.find_root().meta.get("json") or ctx.meta.get("json"):
        yield Intake(ledger)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        yield Intake(ledger, progress)


def _summary(run: RunResult, verbs: dict[str, str]) -> str:
    parts = [f"{run.counts.get(status, 0)} {label}" for status, label in verbs.items() if run.counts.get(status)]
    if run.bad_count:
        parts.append(f"{run.bad_count} bad (skipped)")
    lines = [f"{run.path}: {run.rows} rows: " + (", ".join(parts) or "nothing to do")]
    if run.txs:
        lines.append(f"{len(run.txs)} transaction{'s' if len(run.txs) != 1 else ''}")
    for error in run.bad[:20]:
        lines.append(f"  {error}")
    lines += [f"  {note}" for note in run.notes]
    if run.result_file:
        lines.append(f"result: {run.result_file}")
    return "\n".join(lines)


@click.command("import")
@click.argument("file", type=_FILE)
@_SKIP_BAD
@_RESULT
@click.option(
    "--batch-size", type=click.IntRange(1, 200), help="Invoices per transaction (default: what half a block holds)."
)
@as_option("supplier")
@sync_option
@json_option
@click.pass_context
def invoice_import(
    ctx: click.Context, file: Path, skip_bad: bool, result: Path | None, batch_size: int | None, as_name: str
) -> None:
    """Issue every invoice of an ERP export FILE as --as, in batches.

    FILE is CSV with a header (or JSON Lines, named .jsonl): number, buyer
    (participant name or address), amount (major units), due_date
    (YYYY-MM-DD), and optionally currency (default HKD) and document (a
    path, relative to FILE, or its 0x hash). The whole file is checked
    first: if any row is bad, every bad row is named and nothing is sent
    (unless --skip-bad). Numbers already issued (in any spelling) are
    reported as such and not sent again, so after an interruption the same
    command issues exactly what is missing. Quote an amount written with
    thousands separators ("1,234.50"). Exit 0 when every row was issued,
    already issued or (with --skip-bad) bad; 1 when a batch failed.

    Example:

    \b
        scf invoice import march.csv --as supplier --result march-result.csv
    """
    with _intake(ctx) as intake:
        account = signer(ctx, as_name, intake.ledger.sender.chain_id)
        run = intake.import_invoices(account, file, skip_bad=skip_bad, batch_size=batch_size, result=result)
    emit(
        ctx, run.as_dict(), _summary(run, {"issued": "issued", "already issued": "already issued", "failed": "failed"})
    )
    if run.counts.get("failed"):
        ctx.exit(1)


@click.command("approve")
@click.argument("file", type=_FILE)
@_SKIP_BAD
@_RESULT
@as_option("buyer")
@sync_option
@json_option
@click.pass_context
def invoice_approve(ctx: click.Context, file: Path, skip_bad: bool, result: Path | None, as_name: str) -> None:
    """Confirm, as buyer --as, the invoices that match an approved-payables FILE.

    FILE is CSV with a header (or JSON Lines): supplier (name or address),
    number, amount, due_date, and optionally currency (default HKD). An
    invoice is confirmed only when supplier, number (in any spelling),
    currency, amount and due date all match; every other row is reported
    with why (unknown number, a different amount or due date, already
    confirmed, disputed, cancelled) and left alone. Exit 0 even with
    mismatches (see the report or --result); 1 if a batch failed.

    Example:

    \b
        scf invoice approve approved-payables.csv --as buyer --result approved.csv
    """
    with _intake(ctx) as intake:
        account = signer(ctx, as_name, intake.ledger.sender.chain_id)
        run = intake.approve(account, file, skip_bad=skip_bad, result=result)
    verbs = {
        "confirmed": "confirmed",
        "already confirmed": "already confirmed",
        "mismatch": "mismatched",
        "unknown": "unknown",
        "disputed": "disputed",
        "cancelled": "cancelled",
        "failed": "failed",
    }
    emit(ctx, run.as_dict(), _summary(run, verbs))
    if run.counts.get("failed"):
        ctx.exit(1)


@click.command("sign-confirmation")
@click.argument("invoice_ids", type=INVOICE_ID, nargs=-1, metavar="ID...")
@click.option("--payables", type=_FILE, help="Sign every row of this approved-payables file (see `invoice approve`).")
@click.option("--out", required=True, type=_OUT, help="The signatures file to write (JSON Lines).")
@click.option(
    "--valid-days", type=int, default=7, show_default=True, help="Days the signatures stay usable (1 to 365)."
)
@click.option("--force", is_flag=True, help="Overwrite --out if it exists (its signatures stay valid: revoke them).")
@as_option("buyer")
@json_option
@click.pass_context
def invoice_sign_confirmation(
    ctx: click.Context,
    invoice_ids: tuple[int, ...],
    payables: Path | None,
    out: Path,
    valid_days: int,
    force: bool,
    as_name: str,
) -> None:
    """Sign confirmations of invoices ID... (or of a --payables file) as buyer
    --as, without sending anything: anyone can submit them later with
    `scf invoice confirm --signatures`, so the buyer needs no gas. Each is an
    EIP-712 signature of the supplier, number, currency, amount and due date,
    with a nonce and a deadline, for this chain and contract only.

    Example:

    \b
        scf invoice sign-confirmation 12 13 14 --as buyer --out signed.jsonl
        scf invoice sign-confirmation --payables approved.csv --as buyer --out signed.jsonl
    """
    if out.exists() and not force:
        raise InputError(
            f"{out} exists: its signatures may still be usable on chain; give another --out, or --force "
            "(and `scf invoice revoke-signatures` the old file if it must not be used)"
        )
    with _intake(ctx) as intake:
        account = signer(ctx, as_name, intake.ledger.sender.chain_id)
        result = intake.sign_confirmations(
            account, out, invoice_ids=invoice_ids, payables=payables, valid_days=valid_days
        )
    emit(ctx, result, f"signed {result['signed']} confirmations into {result['file']}")


def confirm_signed(ctx: click.Context, signatures: Path, result: Path | None, as_name: str) -> None:
    """`scf invoice confirm --signatures FILE`: submit signed confirmations as --as
    (exit 0 when each was confirmed or skipped with its reason; 1 when a batch failed)."""
    with _intake(ctx) as intake:
        account = signer(ctx, as_name, intake.ledger.sender.chain_id)
        run = intake.submit_confirmations(account, signatures, result)
    emit(ctx, run.as_dict(), _summary(run, {"confirmed": "confirmed", "skipped": "skipped", "failed": "failed"}))
    if run.counts.get("failed"):
        ctx.exit(1)


@click.command("revoke-signatures")
@click.argument("signatures", type=_FILE, metavar="FILE")
@as_option("buyer")
@sync_option
@json_option
@click.pass_context
def invoice_revoke_signatures(ctx: click.Context, signatures: Path, as_name: str) -> None:
    """Void the signed confirmations in FILE that were not submitted yet, as
    their buyer --as: their nonces are revoked on chain, so nobody can submit
    them any more (those already used are left as they are).

    Example:

    \b
        scf invoice revoke-signatures signed.jsonl --as buyer
    """
    with _intake(ctx) as intake:
        account = signer(ctx, as_name, intake.ledger.sender.chain_id)
        result = intake.revoke_signatures(account, signatures)
    emit(
        ctx,
        result,
        f"revoked {result['revoked']} of {result['signatures']} signed confirmations "
        f"({result['already_used']} already used or revoked)",
    )
