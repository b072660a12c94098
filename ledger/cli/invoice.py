"""`scf invoice ...` on chain: issue, confirm, cancel, offer, finance, repay,
withdraw, split, transfer, show, and when things go wrong: dispute, resolve,
credit-note, extend, accept-extension, default, write-off and buy-back.
`invoice list|history` and `show --as-of-block` read the database
(``query.py``)."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
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
from ledger.config import MAX_GRACE_PERIOD_DAYS
from ledger.errors import InputError
from ledger.format import money_text, party_label, text_time

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount

    from ledger.lifecycle import Ledger

ID = INVOICE_ID


@click.group(cls=LedgerGroup)
def invoice() -> None:
    """Issue, confirm, cancel, list, finance, repay, split, transfer and show
    invoices. The supplier issues, the buyer confirms, the holder offers it,
    a financier funds it, and the buyer repays. The holder of a confirmed
    receivable can split it and pay its own suppliers with the parts, each a
    receivable of its own. When things go wrong the buyer disputes or asks
    for more time, the creditor issues a credit note, and the holder
    declares a default, writes it off or has the seller buy it back.

    Example:

    \b
        scf invoice issue --buyer "Tsuen Wan Electronics Ltd" --number INV-2026-001 \\
            --amount 125000.00 --due 2027-03-31
        scf invoice confirm 1 --as buyer
        scf invoice list --status Confirmed
        scf invoice split 1 --part "Sham Shui Po Textiles Ltd:30000.00" --keep 95000.00
        scf invoice default 1 --as financier
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
@click.argument("invoice_ids", type=ID, nargs=-1, metavar="ID...")
@click.option(
    "--signatures",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Submit a buyer's signed confirmations (from `invoice sign-confirmation`); --as then pays the gas.",
)
@click.option(
    "--result", type=click.Path(dir_okay=False, path_type=Path), help="With --signatures: each one's outcome as CSV."
)
@as_option("buyer")
@sync_option
@json_option
@click.pass_context
def invoice_confirm(
    ctx: click.Context, invoice_ids: tuple[int, ...], signatures: Path | None, result: Path | None, as_name: str
) -> None:
    """Accept invoice ID as its buyer: a promise to pay it at maturity, which
    is what makes it financeable. Several IDs are confirmed in one
    transaction, all or none. With --signatures, submit confirmations the
    buyer signed offline: any account (--as) may send them.

    Example:

    \b
        scf invoice confirm 1 --as buyer
        scf invoice confirm 1 2 3 --as buyer
        scf invoice confirm --signatures signed.jsonl --as operator
    """
    if result is not None and signatures is None:
        raise InputError("--result goes with --signatures FILE: confirming ids needs no result file")
    if signatures is not None:
        if invoice_ids:
            raise InputError("give invoice ids or --signatures FILE, not both")
        from ledger.cli.intake import confirm_signed

        confirm_signed(ctx, signatures, result, as_name)
        return
    if not invoice_ids:
        raise InputError("no invoice to confirm: give one or more ids, or --signatures FILE")
    ids = list(dict.fromkeys(invoice_ids))
    _invoice_tx(
        ctx,
        as_name,
        lambda lg, acct: lg.confirm(acct, ids[0]) if len(ids) == 1 else lg.confirm_many(acct, ids),
        lambda r: f"invoice {ids[0]} confirmed" if len(ids) == 1 else f"invoices {', '.join(map(str, ids))} confirmed",
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
@click.option(
    "--recourse",
    is_flag=True,
    help="Also accept a financing with recourse to you (after a default you may have to buy it back).",
)
@as_option("supplier")
@sync_option
@json_option
@click.pass_context
def invoice_offer(
    ctx: click.Context, invoice_id: int, financier: str, min_advance: str, days: int, recourse: bool, as_name: str
) -> None:
    """List confirmed invoice ID for financing, as its holder: your consent to
    sell it for at least --min-advance. The listing ends if the invoice
    changes hands. Without --recourse only a financing without recourse can
    take it; with it, also one with recourse (and at least the network's
    grace period).

    Example:

    \b
        scf invoice offer 1 --to "Harbour Trade Finance Ltd" --min-advance 110000.00
        scf invoice offer 2 --min-advance 70000.00 --recourse
    """
    _invoice_tx(
        ctx,
        as_name,
        lambda lg, acct: lg.offer(acct, invoice_id, financier, min_advance, days, recourse),
        lambda r: (
            f"invoice {invoice_id} listed for {party_label(r['financier'], 'any financier')}, "
            f"min advance {money_text(r.get('currency', ''), r['min_advance'])}, "
            f"until {text_time(r['expires'])}" + (", recourse accepted" if r["recourse"] else "")
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
@click.option(
    "--recourse/--no-recourse",
    default=False,
    show_default=True,
    help="With recourse, after a default you may make the seller buy it back; without, the loss is yours.",
)
@click.option(
    "--grace-days",
    type=click.IntRange(0, MAX_GRACE_PERIOD_DAYS),
    metavar="N",
    help="Days after the due date before you may declare a default (default: the deployment's).",
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
    recourse: bool,
    grace_days: int | None,
    as_name: str,
) -> None:
    """Fund listed invoice ID: the advance goes to the holder and the
    receivable to you in one transaction, on the terms you see now (amount,
    payments, due date, holder). You are due --due of the buyer's payments;
    the contract pays the rest (the reserve) to the seller as the buyer pays.
    The financing records whether it has recourse to the seller and its
    grace period before a default may be declared.

    Example:

    \b
        scf invoice finance 1 --advance 110000.00 --due 112500.00
        scf invoice finance 1 --advance-rate 90% --discount-rate 6% --recourse --grace-days 14
    """
    from ledger.lifecycle_inputs import grace_seconds

    grace = grace_seconds(grace_days)
    _invoice_tx(
        ctx,
        as_name,
        lambda lg, acct: lg.finance(
            acct, invoice_id, advance, advance_rate, discount_rate, due_amount, recourse=recourse, grace_seconds=grace
        ),
        lambda r: _financed_text(r, grace_days is not None),
    )


def _financed_text(r: dict[str, Any], grace_given: bool) -> str:
    """What `invoice finance` says; the default terms (no recourse, the
    deployment's grace) only when asked for otherwise."""
    text = (
        f"invoice {r['invoice_id']} financed: {money_text(r['currency'], r['advance'])} "
        f"paid to {party_label(r['seller'])}; "
        f"due to you {money_text(r['currency'], r['due'])}, "
        f"reserve for the seller {money_text(r['currency'], r['reserve'])}"
    )
    if r.get("recourse") or grace_given:
        terms = "with recourse to the seller" if r.get("recourse") else "without recourse"
        days = r["grace_days"]
        text += f"; {terms}, {days} day{'' if days == '1' else 's'} of grace after the due date"
    return text


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

    If ID was split, the payment goes across its open leaves (the parts not
    split again and not paid), pro rata to their open amounts: each gets
    the amount times its open amount divided by their total, rounded down,
    and the minor units left over go one each to leaves with room, in id
    order; each leaf's share is settled as above. A single part is paid by
    its own id.

    Example:

    \b
        scf invoice repay 1 --amount 125000.00
        scf invoice repay 7 --amount 50000.00   # 7 was split: across its open parts
    """
    _invoice_tx(ctx, as_name, lambda lg, acct: lg.repay(acct, invoice_id, amount), _repaid_text)


def _repaid_text(r: dict[str, Any]) -> str:
    def m(value: str) -> str:
        return money_text(r["currency"], value)

    if "leaves" in r:  # a split invoice, paid across its open leaves
        lines = [
            f"invoice {r['invoice_id']}: paid {m(r['amount'])} across {len(r['leaves'])} open part(s); "
            f"outstanding {m(r['outstanding'])}"
        ]
        lines += ["  " + _repaid_text({**leaf, "currency": r["currency"]}) for leaf in r["leaves"]]
        return "\n".join(lines)
    recovery = " (a recovery)" if r.get("recovery") else ""
    paid = (
        f"invoice {r['invoice_id']}: paid {m(r['amount'])}{recovery}: {m(r['to_payee'])} to {party_label(r['payee'])}"
    )
    if "reserve_released" in r:
        paid += f", reserve {m(r['reserve_released'])} released to {party_label(r['seller'])}"
    return f"{paid}; outstanding {m(r['outstanding'])} ({r['status']})"


#: Parts per split, as the contract bounds them (IInvoiceToken: MAX_PARTS).
MIN_PARTS, MAX_PARTS = 2, 10
_AMOUNT_FIELD = re.compile(r"^\s*[0-9][0-9,]*(\.[0-9]*)?\s*$")
_PART_FORM = 'use NAME:AMOUNT or NAME:AMOUNT:REF, e.g. "Sham Shui Po Textiles Ltd:30000.00:PO-4471"'


def parse_part(text: str) -> tuple[str, str, str | None]:
    """``NAME:AMOUNT[:REF]`` as (holder, amount, reference or None). The
    amount is the first field after the name that is a number, so a name or
    a reference may itself hold colons; the amount is checked later, against
    the currency's decimals."""
    fields = text.split(":")
    if len(fields) < 2 or not fields[0].strip():
        raise InputError(f"invalid --part {text!r}: {_PART_FORM}")
    at = next((i for i in range(1, len(fields)) if _AMOUNT_FIELD.match(fields[i])), 1)
    name = ":".join(fields[:at]).strip()
    ref = ":".join(fields[at + 1 :]) if len(fields) > at + 1 else None
    if ref is not None and not ref.strip():
        raise InputError(f"invalid --part {text!r}: the reference after the amount is empty; {_PART_FORM}")
    return name, fields[at].strip(), ref


def check_part_count(count: int) -> None:
    """2 to 10 parts, or bad input (exit 2)."""
    if not MIN_PARTS <= count <= MAX_PARTS:
        raise InputError(f"a split needs {MIN_PARTS} to {MAX_PARTS} parts (each --part, and --keep); {count} given")


def check_split(ledger: Ledger, invoice_id: int, parts: list[tuple[str, str, str | None]], kept: bool = False) -> None:
    """Bad input (exit 2) before anything is sent: fewer than 2 or more than
    10 parts, an amount that is not one, or amounts that do not sum to the
    open amount of a splittable receivable (the difference said in the
    message). A receivable that cannot be split at all is left to the
    contract's rules (exit 1). ``kept``: the last part is the --keep one."""
    from ledger.lifecycle_inputs import positive_units
    from ledger.names import InvoiceStatus

    check_part_count(len(parts))
    state = ledger.invoice_state(invoice_id)
    currency = ledger.deployment.currency_by_address(state.currency)
    if currency is None or state.financed:
        return
    labels = [f"amount of the part for {who}" for who, _, _ in parts]
    if kept:
        labels[-1] = "--keep amount"
    units = [
        positive_units(amount, currency.decimals, what) for (_, amount, _), what in zip(parts, labels, strict=True)
    ]
    if state.status not in (InvoiceStatus.CONFIRMED, InvoiceStatus.PARTIALLY_PAID):
        return
    total, open_ = sum(units), state.outstanding
    if total != open_:
        from ledger.format import amount, money

        def m(x: int) -> str:
            return money(x, currency.decimals, currency.symbol)

        gap = open_ - total
        keep = amount(gap + (units[-1] if kept else 0), currency.decimals)
        short = f"{m(gap)} short; add a part or keep it with --keep {keep}"
        hint = short if gap > 0 else f"{m(-gap)} over; lower the parts"
        raise InputError(
            f"the parts sum to {m(total)} but invoice {invoice_id} has {m(open_)} open ({hint}): "
            "parts must sum to the open amount exactly"
        )


@invoice.command("split")
@click.argument("invoice_id", type=ID, metavar="ID")
@click.option(
    "--part",
    "parts",
    multiple=True,
    metavar="NAME:AMOUNT[:REF]",
    help="A part to an admitted participant (name, account or address), in major units, with an optional "
    "payment reference (a purchase order or invoice number; recorded as its keccak-256 hash). Repeat it.",
)
@click.option("--keep", metavar="AMOUNT", help="Keep a part of this amount yourself.")
@as_option("supplier", "The holder of invoice ID, who splits it (a local account).")
@sync_option
@json_option
@click.pass_context
def invoice_split(ctx: click.Context, invoice_id: int, parts: tuple[str, ...], keep: str | None, as_name: str) -> None:
    """Split receivable ID, as its holder, into 2 to 10 parts that sum to its
    open amount exactly, to pay your own suppliers with them: each part is a
    receivable of its own, with the buyer, currency and due date of ID, that
    its holder can transfer, list and get financed. ID is closed as Split
    (no longer paid, moved, listed or financed itself; the buyer pays its
    parts, or ID across them with `scf invoice repay`).

    Only a confirmed (or partly paid), unfinanced receivable, not yet due, is
    split. Parts can be split again, down to tier 4 (depth 3), within a
    budget: 64 parts below a root, each split sharing what it leaves equally
    among its parts.

    Example:

    \b
        scf invoice split 7 --as supplier \\
            --part "Sham Shui Po Textiles Ltd:30000.00:PO-4471" \\
            --part "Kwun Tong Metals Ltd:20000.00" --keep 50000.00
    """
    specs = [parse_part(p) for p in parts]
    check_part_count(len(specs) + (keep is not None))
    ledger = open_ledger(ctx)
    account = signer(ctx, as_name, ledger.sender.chain_id)
    if keep is not None:
        specs.append((account.address, keep, None))
    check_split(ledger, invoice_id, specs, kept=keep is not None)
    result = ledger.split(account, invoice_id, specs)

    def text(r: dict[str, Any]) -> None:
        c = r["currency"]
        click.echo(f"invoice {invoice_id} split into {len(r['parts'])} parts of {money_text(c, r['amount'])}:")
        for given, part in zip(specs, r["parts"], strict=False):
            ref = f" (ref {given[2]})" if given[2] is not None else ""
            click.echo(
                f"  part {part['invoice_id']}: {money_text(c, part['amount'])} to {party_label(part['holder'])}{ref}"
            )

    emit(ctx, result, text)


@invoice.command("transfer")
@click.argument("invoice_id", type=ID, metavar="ID")
@click.option("--to", "to", required=True, help="The new holder: an admitted participant (name, account or address).")
@click.option(
    "--ref",
    help="Payment reference (a purchase order or invoice number), recorded on chain as its keccak-256 "
    "hash (0x and 64 hex digits: recorded as it is).",
)
@as_option("supplier", "The holder of receivable ID (a local account).")
@sync_option
@json_option
@click.pass_context
def invoice_transfer(ctx: click.Context, invoice_id: int, to: str, ref: str | None, as_name: str) -> None:
    """Transfer receivable ID (an invoice or a part of one), as its holder,
    to another admitted participant: to pay your own supplier with it. The
    buyer then pays the new holder. Its listing for financing, if any, ends.

    Example:

    \b
        scf invoice transfer 8 --to "Sham Shui Po Textiles Ltd" --ref PO-4471 --as supplier
    """
    _invoice_tx(
        ctx,
        as_name,
        lambda lg, acct: lg.transfer_receivable(acct, invoice_id, to, ref),
        lambda r: (
            f"invoice {invoice_id} transferred from {party_label(r['from'])} to {party_label(r['to'])}"
            + (f" (ref {ref}: {r['reference']})" if r.get("reference") else "")
        ),
    )


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


# -- when things go wrong: disputes, credit notes, extensions, defaults ---------------------
HOLDER_HELP = "The holder of receivable ID (a local account)."


@invoice.command("dispute")
@click.argument("invoice_id", type=ID, metavar="ID")
@click.option(
    "--reason",
    required=True,
    help="Why you dispute it; only its keccak-256 hash goes on chain (the text stays with you and the supplier).",
)
@as_option("buyer")
@sync_option
@json_option
@click.pass_context
def invoice_dispute(ctx: click.Context, invoice_id: int, reason: str, as_name: str) -> None:
    """Dispute confirmed, financed or part-paid invoice ID as its buyer (the
    goods were short, late or wrong). Until it is resolved it is not paid,
    financed, split, transferred or declared in default, and its listing
    ends. It is resolved by `scf invoice resolve` (you withdraw the dispute)
    or by a credit note from the supplier (`scf invoice credit-note`).

    Example:

    \b
        scf invoice dispute 1 --reason "PO-4471: 200 of 1,000 units damaged" --as buyer
    """
    _invoice_tx(
        ctx,
        as_name,
        lambda lg, acct: lg.dispute(acct, invoice_id, reason),
        lambda r: (
            f"invoice {invoice_id} disputed by {party_label(r['buyer'])} (was {r['disputed_from']}); "
            f"reason recorded as {r['reason_hash']}"
        ),
    )


@invoice.command("resolve")
@click.argument("invoice_id", type=ID, metavar="ID")
@as_option("buyer")
@sync_option
@json_option
@click.pass_context
def invoice_resolve(ctx: click.Context, invoice_id: int, as_name: str) -> None:
    """Withdraw your dispute of invoice ID as its buyer: it returns to the
    status it had (Confirmed, Financed or PartiallyPaid). A dispute settled
    by a reduction is resolved by the supplier's credit note instead.

    Example:

    \b
        scf invoice resolve 1 --as buyer
    """
    _invoice_tx(
        ctx,
        as_name,
        lambda lg, acct: lg.withdraw_dispute(acct, invoice_id),
        lambda r: f"invoice {invoice_id}: dispute withdrawn by {party_label(r['buyer'])}; back to {r['status']}",
    )


@invoice.command("credit-note")
@click.argument("invoice_id", type=ID, metavar="ID")
@click.option("--amount", required=True, help="The credit, in major units: 0.01 up to the open amount.")
@click.option("--note", help="The credit note's number or text; recorded on chain as its keccak-256 hash.")
@as_option("supplier", "The creditor: the seller of a financed receivable, otherwise its holder (a local account).")
@sync_option
@json_option
@click.pass_context
def invoice_credit_note(ctx: click.Context, invoice_id: int, amount: str, note: str | None, as_name: str) -> None:
    """Reduce open (or disputed) invoice ID by --amount with a credit note,
    as its creditor: the seller if it was financed (dilution is the seller's
    risk), otherwise the holder. It ends a dispute. If a financier holds it,
    you pay the financier in the same transaction what the reduced open
    amount no longer covers of its due, so its due is never silently cut.
    A credit of the whole open amount closes it (Paid if anything was paid,
    else Cancelled).

    Example:

    \b
        scf invoice credit-note 1 --amount 25000.00 --note CN-2026-007 --as supplier
    """

    def text(r: dict[str, Any]) -> str:
        def m(value: str) -> str:
            return money_text(r["currency"], value)

        paid = f"; {m(r['to_holder'])} paid to {party_label(r['holder'])}" if Decimal(r["to_holder"]) else ""
        return (
            f"invoice {invoice_id}: credit note of {m(r['credit'])} by {party_label(r['issuer'])}{paid}; "
            f"amount now {m(r['amount'])}, outstanding {m(r['outstanding'])} ({r['status']})"
        )

    _invoice_tx(ctx, as_name, lambda lg, acct: lg.credit_note(acct, invoice_id, amount, note), text)


@invoice.command("extend")
@click.argument("invoice_id", type=ID, metavar="ID")
@click.option("--to", "to", required=True, metavar="DATE", help="The new due date, YYYY-MM-DD (after the current one).")
@as_option("buyer")
@sync_option
@json_option
@click.pass_context
def invoice_extend(ctx: click.Context, invoice_id: int, to: str, as_name: str) -> None:
    """Propose a later due date for invoice ID as its buyer; the holder
    (the financier, if financed) accepts it with `scf invoice
    accept-extension`. A new proposal replaces the last one.

    Example:

    \b
        scf invoice extend 1 --to 2027-04-30 --as buyer
    """
    new_due = parse_date(to, "new due date")
    _invoice_tx(
        ctx,
        as_name,
        lambda lg, acct: lg.propose_extension(acct, invoice_id, new_due),
        lambda r: (
            f"invoice {invoice_id}: {party_label(r['buyer'])} proposes to move the due date from {r['due']} "
            f"to {r['proposed_due']}; the holder accepts it with `scf invoice accept-extension {invoice_id}`"
        ),
    )


@invoice.command("accept-extension")
@click.argument("invoice_id", type=ID, metavar="ID")
@click.option(
    "--date", metavar="DATE", help="The proposed due date you accept, YYYY-MM-DD (default: the proposed one)."
)
@as_option("supplier", HOLDER_HELP)
@sync_option
@json_option
@click.pass_context
def invoice_accept_extension(ctx: click.Context, invoice_id: int, date: str | None, as_name: str) -> None:
    """Accept the buyer's proposed due date for invoice ID as its holder (the
    financier, if financed). With --date, only if that is the date proposed.

    Example:

    \b
        scf invoice accept-extension 1 --date 2027-04-30 --as financier
    """
    accepted = None if date is None else parse_date(date, "due date")
    _invoice_tx(
        ctx,
        as_name,
        lambda lg, acct: lg.accept_extension(acct, invoice_id, accepted),
        lambda r: (
            f"invoice {invoice_id}: due date moved from {r['old_due']} to {r['due']} by {party_label(r['holder'])}"
        ),
    )


@invoice.command("default")
@click.argument("invoice_id", type=ID, metavar="ID")
@as_option("supplier", HOLDER_HELP)
@sync_option
@json_option
@click.pass_context
def invoice_default(ctx: click.Context, invoice_id: int, as_name: str) -> None:
    """Declare invoice ID in default as its holder, once it is past its due
    date plus the grace period (the financing's, else the deployment's; see
    `scf invoice show`). The buyer can still pay (recoveries). Then you may
    write your claim off (`scf invoice write-off`) or, if it was financed
    with recourse, make the seller buy it back (`scf invoice buy-back`).

    Example:

    \b
        scf invoice default 1 --as financier
    """

    def text(r: dict[str, Any]) -> str:
        def m(value: str) -> str:
            return money_text(r["currency"], value)

        return (
            f"invoice {invoice_id} declared in default by {party_label(r['holder'])}: "
            f"outstanding {m(r['outstanding'])}, owed to the holder {m(r['holder_claim'])}"
        )

    _invoice_tx(ctx, as_name, lambda lg, acct: lg.declare_default(acct, invoice_id), text)


@invoice.command("write-off")
@click.argument("invoice_id", type=ID, metavar="ID")
@as_option("supplier", HOLDER_HELP)
@sync_option
@json_option
@click.pass_context
def invoice_write_off(ctx: click.Context, invoice_id: int, as_name: str) -> None:
    """Write off your unpaid claim on defaulted invoice ID as its holder (its
    open amount, or a financier's rest of its due). It is recorded as a
    loss; the buyer's later payments are still received (recoveries).

    Example:

    \b
        scf invoice write-off 1 --as financier
    """
    _invoice_tx(
        ctx,
        as_name,
        lambda lg, acct: lg.write_off(acct, invoice_id),
        lambda r: (
            f"invoice {invoice_id}: {money_text(r['currency'], r['written_off'])} written off by "
            f"{party_label(r['holder'])}; the buyer's later payments are still received"
        ),
    )


@invoice.command("buy-back")
@click.argument("invoice_id", type=ID, metavar="ID")
@as_option("supplier", "The holder (demanding it) or the seller (paying) of receivable ID (a local account).")
@sync_option
@json_option
@click.pass_context
def invoice_buy_back(ctx: click.Context, invoice_id: int, as_name: str) -> None:
    """Under a financing with recourse, after a default: the seller pays the
    holder the rest of its due and takes invoice ID back, in one
    transaction; the buyer's later payments then go to the seller. Run it
    as the seller (your payment is approved and made), or as the holder to
    demand it (drawn on what the seller has approved).

    Example:

    \b
        scf invoice buy-back 1 --as supplier
    """
    _invoice_tx(
        ctx,
        as_name,
        lambda lg, acct: lg.buy_back(acct, invoice_id),
        lambda r: (
            f"invoice {invoice_id} bought back by {party_label(r['seller'])}: "
            f"{money_text(r['currency'], r['amount'])} paid to {party_label(r['holder'])}; "
            f"the buyer's later payments go to the seller (outstanding {money_text(r['currency'], r['outstanding'])})"
        ),
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
    emit(ctx, open_ledger(ctx).show(invoice_id), _print_shown)


def _print_shown(d: dict[str, Any]) -> None:
    """An invoice as `invoice show` prints it from the chain: the rows of
    :func:`ledger.cli.render.print_invoice` (the remedies' among them), then
    when a default may be declared, while one may still come."""
    from ledger.cli.render import print_invoice

    print_invoice(d)
    if d.get("defaultable_after"):
        click.echo(f"{'defaultable':<12} after {text_time(d['defaultable_after'])}")
