"""`scf finance ...`: financing decisions.

`finance quote|execute|auto` talk to the chain (and sync the indexer first);
`finance list|show|cancel` use the database only and never import web3.
Amounts in text are ``HKD 48,250.50`` (:func:`money_text`); JSON and CSV
carry the exact decimal strings.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ledger.cli.common import (
    INVOICE_ID,
    LedgerGroup,
    as_option,
    csv_option,
    db_party,
    deprecated_as_option,
    emit,
    find_policy,
    json_option,
    ledger_db,
    open_ledger,
    policy_option,
    settings_of,
    signer,
    table_or_csv,
)
from ledger.errors import InputError
from ledger.format import grace_text, money_text, text_time

if TYPE_CHECKING:
    from ledger.finance.service import Desk

FINANCIER_HELP = "The financier you act as: a local account, participant name or address."


def _desk(ctx: click.Context) -> Desk:
    from ledger.finance.service import Desk

    return Desk(settings_of(ctx), open_ledger(ctx))


def _who(party: dict[str, Any] | None) -> str:
    if party is None:
        return "-"
    return str(party["name"] or party["address"])


def pays_text(currency: str, net_advance: str | None) -> str:
    """What a decision pays the holder now: a price with no net advance (its
    charges take the whole advance: declined) pays nothing."""
    return "nothing (no net advance)" if net_advance is None else money_text(currency, net_advance)


def terms_text(terms: dict[str, Any] | None) -> str | None:
    """A decision's financing terms in words (None: it recorded none)."""
    if terms is None:
        return None
    recourse = "with recourse to the seller" if terms["recourse"] else "without recourse"
    if terms["grace_seconds"] is None:
        return f"{recourse}, grace period unknown"
    return f"{recourse}, {grace_text(int(terms['grace_seconds']))} of grace after the due date before a default"


def _print_decision(d: dict[str, Any]) -> None:
    cur = d["currency"]

    def m(value: str | None) -> str:
        return money_text(cur, value)

    verdict = d["status"].upper()
    click.echo(
        f"decision {d['decision_id']}: {verdict} invoice {d['invoice_id']} for {_who(d['financier'])} "
        f"(grade {d['grade'] or '-'}, block {d['block']}, expires {text_time(d['expires_at'])})"
    )
    # The seller is the holder: of a part of a split invoice, the tier-2 supplier it was paid to.
    holder = d["holder"]
    held = (
        f", held by {_who(holder)}"
        if holder is not None and d["supplier"] is not None and holder["address"] != d["supplier"]["address"]
        else ""
    )
    click.echo(
        f"  invoice: {m(d['open_amount'])} open of {m(d['amount'])}, due {d['due']}, "
        f"supplier {_who(d['supplier'])}{held}, buyer {_who(d['buyer'])}"
    )
    p = d["price"]
    if p is not None:
        rate = (Decimal(p["annual_rate"]) * 100).quantize(Decimal("0.01"))
        click.echo(
            f"  price: advance {m(p['advance'])}, discount {m(p['discount'])} ({p['days']} days "
            f"{p['day_count']} at {rate}%), fees {m(p['fees'])}, pays {pays_text(cur, p['net_advance'])} now; "
            f"due {m(p['advance'])} of the buyer's payments, the seller's reserve {m(p['reserve'])}"
        )
    terms = terms_text(d.get("terms"))
    if terms is not None:
        click.echo(f"  terms: {terms}")
    for rule in d["rules"]:
        mark = "ok  " if rule["outcome"] == "pass" else "FAIL"
        click.echo(f"  {mark} {rule['name']}: {rule['reason']}")
    if d["tx_hash"]:
        click.echo(f"  executed in {d['tx_hash']} (block {d['executed_block']}, event {d['event_id']})")
    if d.get("cancelled_at"):
        click.echo(
            f"  cancelled at {text_time(d['cancelled_at'])} by {d['cancelled_by']}: "
            f"{d['cancel_reason'] or 'no reason given'}"
        )
    click.echo(f"  policy {d['policy_hash'][:16]} ({d['policy_source']})")


# -- finance -----------------------------------------------------------------------------------------
@click.group(cls=LedgerGroup)
def finance() -> None:
    """Financing decisions: quote an invoice against a financier's policy
    (every rule's inputs and reason stored), execute an approved decision,
    cancel one that will not be executed, or auto-finance what is offered to
    you. `--as` is the financier you act as.

    Example:

    \b
        scf finance quote 1 --as financier --policy examples/policy.toml
        scf finance execute 1
        scf finance cancel 2 --reason "the supplier withdrew the invoice"
        scf finance list --financier "Harbour Trade Finance Ltd" --status approved
    """


@finance.command("quote")
@click.argument("invoice_id", type=INVOICE_ID, metavar="ID")
@as_option("financier", FINANCIER_HELP)
@policy_option()
@json_option
@click.pass_context
def finance_quote(ctx: click.Context, invoice_id: int, as_name: str, policy_path: Path | None) -> None:
    """Decide whether to finance invoice ID, and at what price: syncs the
    indexer, applies the policy to the indexed ledger and stores the decision
    with every rule's inputs and reason, and the financing's terms: recourse
    (pricing.recourse, which needs a listing that accepts it) and the grace
    period (pricing.grace_days, else the deployment's as indexed; with
    recourse at least the deployment's). Sends no transaction. A disputed,
    defaulted, written-off or cancelled invoice is declined; the buyer's
    grade counts its defaults, write-offs, disputes and extensions, and the
    seller's dilution (credit notes over face amounts) is checked against
    eligibility.max_seller_dilution.

    Example:

    \b
        scf finance quote 1 --as financier --policy examples/policy.toml
    """
    settings = settings_of(ctx)
    policy = find_policy(settings, policy_path, as_name)
    desk = _desk(ctx)
    financier = desk.ledger.resolve(as_name, "financier", account_first=True).address
    _require_financier(desk, financier)
    emit(ctx, desk.quote(invoice_id, financier, policy), _print_decision)


def _require_financier(desk: Desk, address: str, why: str = "a quote is a financier's decision") -> None:
    """Refused (exit 1), before anything is stored, for a party without the
    financier role on chain."""
    desk.ledger.require_role(address, "financier", why)


@finance.command("execute")
@click.argument("decision_id", type=click.IntRange(min=1), metavar="DECISION_ID")
@click.option(
    "--as",
    "as_name",
    metavar="NAME",
    help="Account that signs (default: the local account of the decision's financier).",
)
@json_option
@click.pass_context
def finance_execute(ctx: click.Context, decision_id: int, as_name: str | None) -> None:
    """Execute approved decision DECISION_ID: finance the invoice on the
    decided terms: the net advance is paid to the holder now, you are due the
    gross advance of the buyer's payments, and the contract pays the rest of
    the open amount (the reserve) to the seller as the buyer pays; with the
    recourse and grace period the decision recorded (whatever the deployment's
    grace period is now). A changed invoice (holder, amount, payments, due
    date) reverts instead.

    Example:

    \b
        scf finance execute 1
        scf finance execute 1 --as treasury
    """
    from ledger.finance import store

    desk = _desk(ctx)
    if as_name is None:
        from ledger.evm.accounts import list_accounts

        with desk.engine.connect() as conn:
            financier = store.get_decision(conn, decision_id)["financier"]
        found = [a.name for a in list_accounts(desk.settings) if a.address == financier]
        if not found:
            raise InputError(f"no local account for financier {financier} of decision {decision_id}; pass --as NAME")
        as_name = found[0]
    account = signer(ctx, as_name, desk.ledger.sender.chain_id)
    result = desk.execute(decision_id, account)
    emit(
        ctx,
        result,
        lambda d: click.echo(
            f"decision {decision_id} executed: invoice {d['invoice_id']} financed, "
            f"{money_text(d['currency'], d['price']['net_advance'])} paid to {_who(d['holder'])} in {d['tx_hash']} "
            f"(block {d['executed_block']}), {terms_text(d['terms'])}; due to you "
            f"{money_text(d['currency'], d['price']['due'])}, reserve for the seller "
            f"{money_text(d['currency'], d['price']['reserve'])}"
        ),
    )


@finance.command("auto")
@as_option("financier", "The financier you act as; it signs (see `scf account list`).")
@policy_option()
@click.option("--max", "max_count", type=click.IntRange(min=1), metavar="N", help="Finance at most N invoices.")
@click.option("--dry-run", is_flag=True, help="Only show what would be financed; store and send nothing.")
@json_option
@click.pass_context
def finance_auto(
    ctx: click.Context, as_name: str, policy_path: Path | None, max_count: int | None, dry_run: bool
) -> None:
    """Quote every open invoice offered to you, soonest due first, and execute
    the approved ones within the limits of your policy.

    Example:

    \b
        scf finance auto --as financier --policy examples/policy.toml --dry-run
        scf finance auto --as financier --max 5
    """
    settings = settings_of(ctx)
    policy = find_policy(settings, policy_path, as_name)
    desk = _desk(ctx)
    financier = desk.ledger.resolve(as_name, "financier", account_first=True).address
    _require_financier(desk, financier, "only a financier auto-finances; name one with --as")
    account = None if dry_run else signer(ctx, as_name, desk.ledger.sender.chain_id)
    result = desk.auto(financier, account, policy, max_count=max_count, dry_run=dry_run)

    def text(d: dict[str, Any]) -> None:
        for r in d["results"]:
            ref = f"decision {r['decision_id']}" if r["decision_id"] else "not stored"
            pays = pays_text(r["currency"], r["net_advance"])
            click.echo(f"invoice {r['invoice_id']}: {r['status']} ({ref}), pays {pays}: {r['reason']}")
        verb = "would finance" if d["dry_run"] else "financed"
        click.echo(
            f"{verb} {d['financed']} of {d['candidates']} invoice(s) offered to you"
            + (f"; {d['not_offered']} open invoice(s) not offered to you" if d["not_offered"] else "")
        )

    emit(ctx, result, text)


def _flat_decision(r: dict[str, Any]) -> dict[str, Any]:
    """One decision record as a flat row (for CSV and the table)."""
    return {
        "decision_id": r["decision_id"],
        "invoice_id": r["invoice_id"],
        "status": r["status"],
        "financier": r["financier"]["address"],
        "financier_name": r["financier"]["name"],
        "grade": r["grade"],
        "currency": r["currency"],
        "open_amount": r["open_amount"],
        "net_advance": None if r["price"] is None else r["price"]["net_advance"],
        "recourse": None if r["terms"] is None else r["terms"]["recourse"],
        "grace_days": None if r["terms"] is None else r["terms"]["grace_days"],
        "block": r["block"],
        "expires_at": r["expires_at"],
        "tx_hash": r["tx_hash"],
        "reason": r["reason"],
        "cancelled_at": r["cancelled_at"],
        "cancelled_by": r["cancelled_by"],
        "cancel_reason": r["cancel_reason"],
    }


def _decisions_text(flat: list[dict[str, Any]]) -> None:
    """`scf finance list` as a table."""
    from ledger.cli.render import table

    if not flat:
        click.echo("no decisions match")
        return
    table(
        ["id", "invoice", "status", "financier", "grade", "open", "pays", "block", "reason"],
        [
            [
                r["decision_id"],
                r["invoice_id"],
                r["status"],
                r["financier_name"] or r["financier"],
                r["grade"] or "-",
                money_text(r["currency"], r["open_amount"]),
                money_text(r["currency"], r["net_advance"]),
                r["block"],
                r["reason"]
                if r["status"] != "cancelled"
                else f"cancelled by {r['cancelled_by']}: {r['cancel_reason'] or 'no reason given'}",
            ]
            for r in flat
        ],
        title=f"{len(flat)} decision{'s' if len(flat) != 1 else ''}",
    )


@finance.command("list")
@click.option("--financier", metavar="NAME", help="Only decisions of this financier (name or address).")
@deprecated_as_option("--financier")
@click.option(
    "--status",
    help="Only these statuses (comma-separated): approved, declined, executed, expired, failed, cancelled.",
)
@click.option("--invoice", "invoice_id", type=INVOICE_ID, metavar="ID", help="Only this invoice.")
@click.option("--limit", type=click.IntRange(min=1), metavar="K", help="At most K decisions (newest first).")
@csv_option
@json_option
@click.pass_context
def finance_list(
    ctx: click.Context,
    financier: str | None,
    status: str | None,
    invoice_id: int | None,
    limit: int | None,
    as_csv: bool,
) -> None:
    """Stored decisions, newest first, with their verdict, grade, price and
    reason (database only).

    Example:

    \b
        scf finance list --financier "Harbour Trade Finance Ltd" --status approved,executed
        scf finance list --invoice 1 --csv
    """
    from ledger.finance import store
    from ledger.finance.models import STATUSES

    statuses = [s.strip().lower() for s in (status or "").split(",") if s.strip()]
    for s in statuses:
        if s not in STATUSES:
            raise InputError(f"unknown decision status {s!r}; use {', '.join(STATUSES)}")
    with ledger_db(ctx) as (conn, scope):
        address = None if financier is None else db_party(conn, scope, financier, "financier")
        now = store.indexed_point(conn, scope).time
        rows = store.list_decisions(conn, scope, address, statuses, invoice_id, limit, now)
        names = store.participant_names(conn, scope)
        records = [store.decision_record(row, names, now) for row in rows]
    flat = [_flat_decision(r) for r in records]

    def text(_: Any) -> None:
        _decisions_text(flat)

    table_or_csv(ctx, records, flat, as_csv, text)


@finance.command("show")
@click.argument("decision_id", type=click.IntRange(min=1), metavar="DECISION_ID")
@json_option
@click.pass_context
def finance_show(ctx: click.Context, decision_id: int) -> None:
    """One stored decision DECISION_ID with its price and every rule, its
    inputs and reason (database only).

    Example:

    \b
        scf finance show 1 --json
    """
    from ledger.finance import store

    with ledger_db(ctx) as (conn, scope):
        record = store.decision_record(
            store.get_decision(conn, decision_id),
            store.participant_names(conn, scope),
            store.indexed_point(conn, scope).time,
        )
    emit(ctx, record, _print_decision)


def _operator_name() -> str:
    """Who runs this command: the operating system user (recorded with a cancellation)."""
    import getpass

    try:
        return getpass.getuser()[:128]
    except (KeyError, OSError):
        return "unknown user"


@finance.command("cancel")
@click.argument("decision_id", type=click.IntRange(min=1), metavar="DECISION_ID")
@click.option("--reason", metavar="TEXT", help="Why it will not be executed (stored with the decision).")
@json_option
@click.pass_context
def finance_cancel(ctx: click.Context, decision_id: int, reason: str | None) -> None:
    """Cancel approved decision DECISION_ID that will not be executed, so it
    stops counting against the financier's limits (book limit, buyer and
    supplier lines, concentration). Records when, by whom (the operating
    system user) and why; `finance list` and `finance show` then show it as
    cancelled. A declined, executed, expired, failed or already cancelled
    decision is refused (exit 1). Database only: sends no transaction.

    Example:

    \b
        scf finance cancel 2 --reason "the supplier withdrew the invoice"
        scf finance list --status cancelled
    """
    import datetime as dt

    from ledger.db import get_engine
    from ledger.finance import store
    from ledger.scope import find_scope

    if reason is not None:
        reason = " ".join(reason.split())
        if not reason or len(reason) > 500 or not reason.isprintable():
            raise InputError("--reason must be printable text of 1 to 500 characters")
    settings = settings_of(ctx)
    with get_engine(settings.database_url).begin() as conn:
        scope = find_scope(conn, settings)
        row = store.get_decision(conn, decision_id)
        if (int(row["chain_id"]), str(row["contract"])) != (scope.chain_id, scope.invoice_contract):
            raise InputError(
                f"decision {decision_id} was taken on chain {row['chain_id']} for contract {row['contract']}, not "
                "on the indexed deployment; use the --home and --db-url it was taken with"
            )
        store.lock_financier(conn, str(row["financier"]))
        now = store.indexed_point(conn, scope).time
        store.cancel_decision(conn, decision_id, _operator_name(), reason, dt.datetime.now(dt.UTC), now)
        record = store.decision_record(store.get_decision(conn, decision_id), store.participant_names(conn, scope), now)
    emit(
        ctx,
        record,
        lambda d: click.echo(
            f"decision {decision_id} cancelled: invoice {d['invoice_id']} for {_who(d['financier'])} no longer "
            f"counts against its limits ({d['cancel_reason'] or 'no reason given'})"
        ),
    )
