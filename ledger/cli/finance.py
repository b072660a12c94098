"""`scf finance ...` (financing decisions) and `scf report ...` (portfolio
reports). Registered on the root group at the bottom of ``ledger/cli.py``.

`finance quote|execute|auto` talk to the chain (and sync the indexer first);
`finance list|show` and every `report` read the database only and never
import web3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ledger.cli import (
    LedgerGroup,
    as_option,
    csv_option,
    emit,
    json_option,
    open_ledger,
    parse_date,
    settings_of,
    signer,
    write_csv,
)
from ledger.cli_query import ledger_db
from ledger.errors import InputError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from ledger.config import Settings
    from ledger.finance.policy import Policy
    from ledger.finance.service import Desk
    from ledger.finance.store import LedgerScope

POLICY_HELP = ("Policy file (TOML; default <home>/policies/<AS>.toml, then <home>/policy.toml; "
               "see examples/policy.toml).")


def find_policy(settings: Settings, path: Path | None, as_name: str) -> Policy:
    from ledger.finance.policy import load_policy

    if path is not None:
        return load_policy(path)
    for candidate in (settings.home / "policies" / f"{as_name}.toml", settings.home / "policy.toml"):
        if candidate.is_file():
            return load_policy(candidate)
    raise InputError(
        f"no policy for financier {as_name!r}: pass --policy FILE or put one at "
        f"{settings.home / 'policies' / (as_name + '.toml')} (see examples/policy.toml)"
    )


def policy_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--policy", "policy_path", type=click.Path(dir_okay=False, path_type=Path),
                        metavar="FILE", help=POLICY_HELP)(f)


def output(ctx: click.Context, data: Any, rows: Sequence[dict[str, Any]], as_csv: bool,
           text: Callable[[Any], None]) -> None:
    """Table (text), JSON (--json: all of `data`) or CSV (--csv: `rows`)."""
    if as_csv:
        write_csv(rows)
        return
    emit(ctx, data, text)


def _desk(ctx: click.Context) -> Desk:
    from ledger.finance.service import Desk

    return Desk(settings_of(ctx), open_ledger(ctx))


def _who(party: dict[str, Any] | None) -> str:
    if party is None:
        return "-"
    return str(party["name"] or party["address"])


def _print_decision(d: dict[str, Any]) -> None:
    cur = d["currency"]
    verdict = d["status"].upper()
    click.echo(f"decision {d['decision_id']}: {verdict} invoice {d['invoice_id']} for {_who(d['financier'])} "
               f"(grade {d['grade'] or '-'}, block {d['block']}, expires {d['expires_at']})")
    click.echo(f"  invoice: {cur} {d['open_amount']} open of {d['amount']}, due {d['due']}, "
               f"supplier {_who(d['supplier'])}, buyer {_who(d['buyer'])}")
    p = d["price"]
    if p is not None:
        rate = (Decimal(p["annual_rate"]) * 100).quantize(Decimal("0.01"))
        click.echo(f"  price: advance {cur} {p['advance']}, discount {p['discount']} ({p['days']} days "
                   f"{p['day_count']} at {rate}%), fees {p['fees']}, pays {cur} {p['net_advance']} now; due "
                   f"{cur} {p['advance']} of the buyer's payments, the seller's reserve {cur} {p['reserve']}")
    for rule in d["rules"]:
        mark = "ok  " if rule["outcome"] == "pass" else "FAIL"
        click.echo(f"  {mark} {rule['name']}: {rule['reason']}")
    if d["tx_hash"]:
        click.echo(f"  executed in {d['tx_hash']} (block {d['executed_block']}, event {d['event_id']})")
    click.echo(f"  policy {d['policy_hash'][:16]} ({d['policy_source']})")


# -- finance -----------------------------------------------------------------------------------------
@click.group(cls=LedgerGroup)
def finance() -> None:
    """Financing decisions: quote an invoice against a policy, execute, or auto-finance."""


@finance.command("quote")
@click.argument("invoice_id", type=click.IntRange(min=1), metavar="ID")
@as_option("financier")
@policy_option
@json_option
@click.pass_context
def finance_quote(ctx: click.Context, invoice_id: int, as_name: str, policy_path: Path | None) -> None:
    """Decide whether to finance invoice ID, and at what price: syncs the
    indexer, applies the policy to the indexed ledger and stores the decision
    with every rule's inputs and reason."""
    settings = settings_of(ctx)
    policy = find_policy(settings, policy_path, as_name)
    desk = _desk(ctx)
    financier = desk.ledger.resolve(as_name, "financier", account_first=True).address
    emit(ctx, desk.quote(invoice_id, financier, policy), _print_decision)


@finance.command("execute")
@click.argument("decision_id", type=click.IntRange(min=1), metavar="DECISION_ID")
@click.option("--as", "as_name", metavar="NAME",
              help="Account that signs (default: the local account of the decision's financier).")
@json_option
@click.pass_context
def finance_execute(ctx: click.Context, decision_id: int, as_name: str | None) -> None:
    """Execute approved decision DECISION_ID: finance the invoice on the
    decided terms: the net advance is paid to the holder now, you are due the
    gross advance of the buyer's payments, and the contract pays the rest of
    the open amount (the reserve) to the seller as the buyer pays. A changed
    invoice (holder, amount, payments, due date) reverts instead."""
    from ledger.finance import store

    desk = _desk(ctx)
    if as_name is None:
        from ledger.evm.accounts import list_accounts

        with desk.engine.connect() as conn:
            financier = store.get_decision(conn, decision_id)["financier"]
        found = [a.name for a in list_accounts(desk.settings) if a.address == financier]
        if not found:
            raise InputError(f"no local account for financier {financier} of decision {decision_id}; "
                             "pass --as NAME")
        as_name = found[0]
    account = signer(ctx, as_name, desk.ledger.sender.chain_id)
    result = desk.execute(decision_id, account)
    emit(ctx, result, lambda d: click.echo(
        f"decision {decision_id} executed: invoice {d['invoice_id']} financed, {d['currency']} "
        f"{d['price']['net_advance']} paid to {_who(d['holder'])} in {d['tx_hash']} (block {d['executed_block']}); "
        f"due to you {d['currency']} {d['price']['due']}, reserve for the seller {d['currency']} "
        f"{d['price']['reserve']}"))


@finance.command("auto")
@as_option("financier")
@policy_option
@click.option("--max", "max_count", type=click.IntRange(min=1), metavar="N", help="Finance at most N invoices.")
@click.option("--dry-run", is_flag=True, help="Only show what would be financed; store and send nothing.")
@json_option
@click.pass_context
def finance_auto(ctx: click.Context, as_name: str, policy_path: Path | None, max_count: int | None,
                 dry_run: bool) -> None:
    """Quote every open invoice offered to you, soonest due first, and execute
    the approved ones within the limits."""
    settings = settings_of(ctx)
    policy = find_policy(settings, policy_path, as_name)
    desk = _desk(ctx)
    financier = desk.ledger.resolve(as_name, "financier", account_first=True).address
    account = None if dry_run else signer(ctx, as_name, desk.ledger.sender.chain_id)
    result = desk.auto(financier, account, policy, max_count=max_count, dry_run=dry_run)

    def text(d: dict[str, Any]) -> None:
        for r in d["results"]:
            money = f"{r['currency']} {r['net_advance']}" if r["net_advance"] is not None else "-"
            ref = f"decision {r['decision_id']}" if r["decision_id"] else "not stored"
            click.echo(f"invoice {r['invoice_id']}: {r['status']} ({ref}), pays {money}: {r['reason']}")
        verb = "would finance" if d["dry_run"] else "financed"
        click.echo(f"{verb} {d['financed']} of {d['candidates']} invoice(s) offered to you"
                   + (f"; {d['not_offered']} open invoice(s) not offered to you" if d["not_offered"] else ""))

    emit(ctx, result, text)


@finance.command("list")
@click.option("--as", "as_name", metavar="NAME", help="Only decisions of this financier (name or address).")
@click.option("--status", help="Only these statuses (comma-separated): approved, declined, executed, expired.")
@click.option("--invoice", "invoice_id", type=click.IntRange(min=1), metavar="ID", help="Only this invoice.")
@click.option("--limit", type=click.IntRange(min=1), metavar="K", help="At most K decisions (newest first).")
@csv_option
@json_option
@click.pass_context
def finance_list(ctx: click.Context, as_name: str | None, status: str | None, invoice_id: int | None,
                 limit: int | None, as_csv: bool) -> None:
    """Stored decisions, newest first (database only)."""
    from ledger.finance import store
    from ledger.finance.models import STATUSES

    statuses = [s.strip().lower() for s in (status or "").split(",") if s.strip()]
    for s in statuses:
        if s not in STATUSES:
            raise InputError(f"unknown decision status {s!r}; use {', '.join(STATUSES)}")
    with ledger_db(ctx) as (conn, scope):
        financier = None if as_name is None else _resolve(conn, scope, as_name, "financier")
        now = store.indexed_point(conn, scope).time
        rows = store.list_decisions(conn, scope, financier, statuses, invoice_id, limit, now)
        names = store.participant_names(conn, scope)
        records = [store.decision_record(row, names, now) for row in rows]
    flat = [{"decision_id": r["decision_id"], "invoice_id": r["invoice_id"], "status": r["status"],
             "financier": r["financier"]["address"], "financier_name": r["financier"]["name"], "grade": r["grade"],
             "currency": r["currency"], "open_amount": r["open_amount"],
             "net_advance": None if r["price"] is None else r["price"]["net_advance"],
             "block": r["block"], "expires_at": r["expires_at"], "tx_hash": r["tx_hash"], "reason": r["reason"]}
            for r in records]

    def text(_: Any) -> None:
        from ledger.render import table

        if not flat:
            click.echo("no decisions match")
            return
        table(["id", "invoice", "status", "financier", "grade", "open", "pays", "block", "reason"],
              [[r["decision_id"], r["invoice_id"], r["status"], r["financier_name"] or r["financier"],
                r["grade"] or "-", f"{r['currency']} {r['open_amount']}", r["net_advance"] or "-", r["block"],
                r["reason"]] for r in flat], title=f"{len(flat)} decision{'s' if len(flat) != 1 else ''}")

    output(ctx, records, flat, as_csv, text)


@finance.command("show")
@click.argument("decision_id", type=click.IntRange(min=1), metavar="DECISION_ID")
@json_option
@click.pass_context
def finance_show(ctx: click.Context, decision_id: int) -> None:
    """One stored decision with every rule, its inputs and reason (database only)."""
    from ledger.finance import store

    with ledger_db(ctx) as (conn, scope):
        record = store.decision_record(store.get_decision(conn, decision_id), store.participant_names(conn, scope),
                                       store.indexed_point(conn, scope).time)
    emit(ctx, record, _print_decision)


def _resolve(conn: Connection, scope: LedgerScope, text: str, what: str) -> str:
    """What ``--as`` names: a local account, else an address or a participant
    name (no eth_account import)."""
    from ledger.finance.store import resolve_participant

    return resolve_participant(conn, scope, text, what, account_first=True)


# -- reports -----------------------------------------------------------------------------------------
@click.group(cls=LedgerGroup)
def report() -> None:
    """Portfolio reports from the indexed ledger (database only; run `scf index sync` to catch up)."""


@report.command("exposure")
@click.option("--by", type=click.Choice(["buyer", "supplier", "financier"]), default="buyer", show_default=True)
@click.option("--as", "as_name", metavar="FINANCIER", help="Only receivables held by this financier.")
@policy_option
@csv_option
@json_option
@click.pass_context
def report_exposure(ctx: click.Context, by: str, as_name: str | None, policy_path: Path | None,
                    as_csv: bool) -> None:
    """What holders of financed receivables are still due (the exposure, not
    the face amount), the sellers' reserves still held in them, and pending
    decisions, with limits used and headroom when a policy is given."""
    from ledger.finance.policy import load_policy
    from ledger.finance.reports import exposure_report

    policy = load_policy(policy_path) if policy_path is not None else None
    with ledger_db(ctx) as (conn, scope):
        financier = None if as_name is None else _resolve(conn, scope, as_name, "financier")
        data = exposure_report(conn, scope, by, policy, financier)

    def text(d: dict[str, Any]) -> None:
        from ledger.render import table

        if not d["rows"]:
            click.echo(f"no financed receivables outstanding (as of block {d['as_of_block']})")
            return
        headers = [by, "currency", "invoices", "due outstanding", "reserve held", "pending", "used"]
        if policy is not None:
            headers += ["limit", "used %", "headroom"]
        lines = []
        for r in d["rows"]:
            line = [r["name"] or r[by], r["currency"], r["invoices"], r["outstanding"], r["reserve_held"],
                    r["pending"], r["used"]]
            if policy is not None:
                line += [r["limit"] or "none", r["used_pct"] or "-", r["headroom"] or "-"]
            lines.append(line)
        for t in d["totals"]:
            line = ["TOTAL", t["currency"], t["invoices"], t["outstanding"], t["reserve_held"], t["pending"],
                    t["used"]]
            lines.append(line + ([""] * 3 if policy is not None else []))
        table(headers, lines, title=f"exposure by {by} as of block {d['as_of_block']}")

    output(ctx, data, data["rows"], as_csv, text)


@report.command("aging")
@click.option("--as-of", "as_of", metavar="DATE", help="Age as of DATE (YYYY-MM-DD; default: the last indexed block).")
@click.option("--as", "as_name", metavar="HOLDER", help="Only receivables held by this participant.")
@csv_option
@json_option
@click.pass_context
def report_aging(ctx: click.Context, as_of: str | None, as_name: str | None, as_csv: bool) -> None:
    """Open confirmed receivables in buckets of days past due, per buyer and
    in total, with the part of them that is the sellers' reserve."""
    from ledger.finance.reports import BUCKETS, aging_report

    day = parse_date(as_of, "--as-of date") if as_of is not None else None
    with ledger_db(ctx) as (conn, scope):
        holder = None if as_name is None else _resolve(conn, scope, as_name, "holder")
        data = aging_report(conn, scope, day, holder)

    def text(d: dict[str, Any]) -> None:
        from ledger.render import table

        if not d["rows"]:
            click.echo(f"no open receivables as of {d['as_of']}")
            return
        lines = [[r["name"] or r["buyer"], r["currency"], r["invoices"], *(r[b] for b in BUCKETS), r["total"],
                  r["reserve"]] for r in d["rows"]]
        lines += [["TOTAL", t["currency"], t["invoices"], *(t[b] for b in BUCKETS), t["total"], t["reserve"]]
                  for t in d["totals"]]
        table(["buyer", "currency", "invoices", "not due", "1-30", "31-60", "61-90", "90+", "total",
               "of it reserve"], lines, title=f"aging of open receivables as of {d['as_of']} (days past due)")

    output(ctx, data, data["rows"] + [{"buyer": "TOTAL", **t} for t in data["totals"]], as_csv, text)


@report.command("portfolio")
@click.option("--as", "as_name", metavar="FINANCIER", required=True, help="The financier (name or address).")
@click.option("--as-of", "as_of", metavar="DATE", help="As of DATE (YYYY-MM-DD; default: the last indexed block).")
@policy_option
@csv_option
@json_option
@click.pass_context
def report_portfolio(ctx: click.Context, as_name: str, as_of: str | None, policy_path: Path | None,
                     as_csv: bool) -> None:
    """A financier's book, from the ledger: advanced, due, received and
    outstanding; the sellers' reserves at financing, released and still held;
    realised and expected yield; overdue and defaults (default after
    grading.default_after_days of the policy, else 90 days past due). The
    JSON output lists every financed invoice too."""
    from ledger.finance.policy import load_policy
    from ledger.finance.reports import portfolio_report

    day = parse_date(as_of, "--as-of date") if as_of is not None else None
    policy = load_policy(policy_path) if policy_path is not None else None
    with ledger_db(ctx) as (conn, scope):
        financier = _resolve(conn, scope, as_name, "financier")
        data = portfolio_report(conn, scope, financier, day,
                                policy.grading.default_after_days if policy is not None else 90)

    def text(d: dict[str, Any]) -> None:
        who = d["name"] or d["financier"]
        if not d["rows"]:
            click.echo(f"{who} has financed nothing (as of {d['as_of']})")
            return
        from ledger.render import table

        for r in d["rows"]:
            c = r["currency"]
            click.echo(f"portfolio of {who} as of {d['as_of']} ({c})")
            sold = f", {r['sold']} sold on" if r["sold"] else ""
            for label, value in [
                ("financed", f"{r['financed']} invoice(s): {r['open']} open, {r['closed']} paid to you{sold}"),
                ("advanced", f"{c} {r['advanced']} against {c} {r['open_at_financing']} open at financing "
                             f"({c} {r['face']} face)"),
                ("due", f"{c} {r['due']}: received {c} {r['received']}, outstanding {c} {r['outstanding']}"
                        + (f", sold on {c} {r['sold_due']}" if r["sold"] else "")),
                ("reserve", f"{c} {r['reserve_at_financing']} at financing: released to sellers "
                            f"{c} {r['reserve_released']}, still held {c} {r['reserve_held']}"),
                ("collected", f"{c} {r['collected']} paid by buyers since financing"),
                ("realised", f"{c} {r['realised_income']} income, "
                             f"{r['realised_yield_pct'] or '-'}% a year"),
                ("expected", f"{c} {r['expected_income']} income, {r['expected_yield_pct'] or '-'}% a year"),
                ("overdue", f"{r['overdue_invoices']} invoice(s), {c} {r['overdue']}"),
                ("defaults", f"{r['defaults']} invoice(s), {c} {r['defaulted']}"),
            ]:
                click.echo(f"  {label:<12} {value}")
        table(["invoice", "currency", "position", "advanced", "due", "received", "outstanding", "reserve",
               "released", "held"],
              [[x["invoice_id"], x["currency"], x["position"], x["advanced"], x["due"], x["received"],
                x["outstanding"], x["reserve_at_financing"], x["reserve_released"], x["reserve_held"]]
               for x in d["invoices"]], title="financed invoices")

    output(ctx, data, data["rows"], as_csv, text)


def register(main: click.Group) -> None:
    main.add_command(finance)
    main.add_command(report)
