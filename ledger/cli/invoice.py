"""`scf invoice ...` on chain: issue, confirm, cancel, offer, finance, repay,
withdraw and show. `invoice list|history` and `show --as-of-block` read the
database (``query.py``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ledger.cli.common import (
    INVOICE_ID,
    LedgerGroup,
    as_option,
    emit,
    json_option,
    open_ledger,
    parse_date,
    signer,
    sync_option,
)
from ledger.format import money_text, party_label, text_time

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from ledger.lifecycle import Ledger

ID = INVOICE_ID


@click.group(cls=LedgerGroup)
def invoice() -> None:
    """Issue, confirm, cancel, list, finance, repay and show invoices. The
    supplier issues, the buyer confirms, the holder offers it, a financier
    funds it, and the buyer repays.

    Example:

    \b
        scf invoice issue --buyer "Tsuen Wan Electronics Ltd" --number INV-2026-001 \\
            --amount 125000.00 --due 2027-03-31
        scf invoice confirm 1 --as buyer
        scf invoice list --status Confirmed
    """


@invoice.command("issue")
@click.option("--buyer", required=True, help="Buyer: participant name, account name or address.")
@click.option("--number", required=True, help="The invoice number, e.g. INV-2026-001.")
@click.option("--amount", required=True, help="Face amount in major units, e.g. 125000.00.")
@click.option("--currency", default="HKD", show_default=True)
@click.option("--due", required=True, help="Due date, YYYY-MM-DD.")
@click.option(
    "--doc",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The invoice document; only its SHA-256 goes on chain.",
)
@as_option("supplier")
@sync_option
@json_option
@click.pass_context
def invoice_issue(
    ctx: click.Context,
    buyer: str,
    number: str,
    amount: str,
    currency: str,
    due: str,
    doc: Path | None,
    as_name: str,
) -> None:
    """Issue an invoice to --buyer as a supplier; prints the new invoice id.
    An invoice number is used once, ever, in any spelling (case, separators,
    leading zeros and full-width characters do not make a new number).

    Example:

    \b
        scf invoice issue --buyer "Tsuen Wan Electronics Ltd" --number INV-2026-001 \\
            --amount 125000.00 --due 2027-03-31 --doc invoice.pdf
    """
    due_date = parse_date(due, "due date")
    ledger = open_ledger(ctx)
    result = ledger.issue(signer(ctx, as_name, ledger.sender.chain_id), buyer, number, amount, currency, due_date, doc)
    emit(
        ctx,
        result,
        f"issued invoice {result['invoice_id']}: {number} to {party_label(result['buyer'])}, "
        f"{money_text(result['currency'], result['amount'])} due {result['due']}",
    )


def _invoice_tx(
    ctx: click.Context,
    as_name: str,
    action: Callable[[Ledger, LocalAccount], dict[str, Any]],
    text: Callable[[dict[str, Any]], str],
) -> None:
    ledger = open_ledger(ctx)
    result = action(ledger, signer(ctx, as_name, ledger.sender.chain_id))
    emit(ctx, result, text(result))


@invoice.command("confirm")
@click.argument("invoice_id", type=ID, metavar="ID")
@as_option("buyer")
@sync_option
@json_option
@click.pass_context
def invoice_confirm(ctx: click.Context, invoice_id: int, as_name: str) -> None:
    """Accept invoice ID as its buyer: a promise to pay it at maturity, which
    is what makes it financeable.

    Example:

    \b
        scf invoice confirm 1 --as buyer
    """
    _invoice_tx(
        ctx, as_name, lambda lg, acct: lg.confirm(acct, invoice_id), lambda r: f"invoice {invoice_id} confirmed"
    )


@invoice.command("cancel")
@click.argument("invoice_id", type=ID, metavar="ID")
@as_option("supplier")
@sync_option
@json_option
@click.pass_context
def invoice_cancel(ctx: click.Context, invoice_id: int, as_name: str) -> None:
    """Cancel unconfirmed invoice ID as its supplier (its number stays used).

    Example:

    \b
        scf invoice cancel 1 --as supplier
    """
    _invoice_tx(ctx, as_name, lambda lg, acct: lg.cancel(acct, invoice_id), lambda r: f"invoice {invoice_id} cancelled")


@invoice.command("offer")
@click.argument("invoice_id", type=ID, metavar="ID")
@click.option("--to", "financier", help="Only this financier may take it (default: any).")
@click.option(
    "--min-advance",
    required=True,
    help="Least advance you accept, in major units (above zero, at most the open amount).",
)
@click.option("--days", type=int, default=7, show_default=True, help="How long the listing stays open.")
@as_option("supplier")
@sync_option
@json_option
@click.pass_context
def invoice_offer(
    ctx: click.Context, invoice_id: int, financier: str, min_advance: str, days: int, as_name: str
) -> None:
    """List confirmed invoice ID for financing, as its holder: your consent to
    sell it for at least --min-advance. The listing ends if the invoice
    changes hands.

    Example:

    \b
        scf invoice offer 1 --to "Harbour Trade Finance Ltd" --min-advance 110000.00
    """
    _invoice_tx(
        ctx,
        as_name,
        lambda lg, acct: lg.offer(acct, invoice_id, financier, min_advance, days),
        lambda r: (
            f"invoice {invoice_id} listed for {party_label(r['financier'], 'any financier')}, "
            f"min advance {money_text(r.get('currency', ''), r['min_advance'])}, "
            f"until {text_time(r['expires'])}"
        ),
    )


@invoice.command("finance")
@click.argument("invoice_id", type=ID, metavar="ID")
@click.option("--advance", help="Advance to pay, in major units.")
@click.option("--advance-rate", help="Advance as a share of the open amount: 0.9 or 90%.")
@click.option("--discount-rate", help="Annual discount rate (ACT/365 to the due date): 0.06 or 6%.")
@click.option(
    "--due",
    "due_amount",
    help="What you are due of the buyer's payments, in major units (default: the whole open "
    "amount); the rest of the open amount is the seller's reserve.",
)
@as_option("financier")
@sync_option
@json_option
@click.pass_context
def invoice_finance(
    ctx: click.Context,
    invoice_id: int,
    advance: str | None,
    advance_rate: str | None,
    discount_rate: str | None,
    due_amount: str | None,
    as_name: str,
) -> None:
    """Fund listed invoice ID: the advance goes to the holder and the
    receivable to you in one transaction, on the terms you see now (amount,
    payments, due date, holder). You are due --due of the buyer's payments;
    the contract pays the rest (the reserve) to the seller as the buyer pays.

    Example:

    \b
        scf invoice finance 1 --advance 110000.00 --due 112500.00
        scf invoice finance 1 --advance-rate 90% --discount-rate 6%
    """
    _invoice_tx(
        ctx,
        as_name,
        lambda lg, acct: lg.finance(acct, invoice_id, advance, advance_rate, discount_rate, due_amount),
        lambda r: (
            f"invoice {invoice_id} financed: {money_text(r['currency'], r['advance'])} "
            f"paid to {party_label(r['seller'])}; "
            f"due to you {money_text(r['currency'], r['due'])}, "
            f"reserve for the seller {money_text(r['currency'], r['reserve'])}"
        ),
    )


@invoice.command("repay")
@click.argument("invoice_id", type=ID, metavar="ID")
@click.option("--amount", required=True, help="Amount to pay, in major units (partial payments allowed).")
@as_option("buyer")
@sync_option
@json_option
@click.pass_context
def invoice_repay(ctx: click.Context, invoice_id: int, amount: str, as_name: str) -> None:
    """Pay invoice ID as its buyer: to the holder up to the financier's due,
    the rest (the reserve) to the seller, in one transaction.

    Example:

    \b
        scf invoice repay 1 --amount 125000.00
    """
    _invoice_tx(ctx, as_name, lambda lg, acct: lg.repay(acct, invoice_id, amount), _repaid_text)


def _repaid_text(r: dict[str, Any]) -> str:
    def m(value: str) -> str:
        return money_text(r["currency"], value)

    paid = f"invoice {r['invoice_id']}: paid {m(r['amount'])}: {m(r['to_payee'])} to {party_label(r['payee'])}"
    if "reserve_released" in r:
        paid += f", reserve {m(r['reserve_released'])} released to {party_label(r['seller'])}"
    return f"{paid}; outstanding {m(r['outstanding'])} ({r['status']})"


@invoice.command("withdraw")
@click.argument("invoice_id", type=ID, metavar="ID")
@as_option("supplier")
@sync_option
@json_option
@click.pass_context
def invoice_withdraw(ctx: click.Context, invoice_id: int, as_name: str) -> None:
    """Withdraw your listing of invoice ID (allowed even while suspended).

    Example:

    \b
        scf invoice withdraw 1 --as supplier
    """
    _invoice_tx(
        ctx,
        as_name,
        lambda lg, acct: lg.withdraw_offer(acct, invoice_id),
        lambda r: f"invoice {invoice_id}: listing withdrawn",
    )


@invoice.command("show")
@click.argument("invoice_id", type=ID, metavar="ID")
@click.option(
    "--as-of-block",
    type=click.IntRange(min=0),
    metavar="N",
    help="Show it as the indexed ledger had it at block N (from the database, not the chain).",
)
@json_option
@click.pass_context
def invoice_show(ctx: click.Context, invoice_id: int, as_of_block: int | None) -> None:
    """The on-chain state of invoice ID: parties, amounts, payments, the
    financing and its reserve (or, with --as-of-block, its indexed state at
    a past block, from the database only).

    Example:

    \b
        scf invoice show 1
        scf invoice show 1 --as-of-block 120 --json
    """
    if as_of_block is not None:
        from ledger.cli.query import show_as_of

        show_as_of(ctx, invoice_id, as_of_block)
        return
    from ledger.cli.render import print_invoice

    emit(ctx, open_ledger(ctx).show(invoice_id), print_invoice)
