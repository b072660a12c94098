"""`scf report ...`: portfolio reports from the indexed ledger.

Database only: nothing here imports web3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ledger.cli.common import (
    LedgerGroup,
    as_option,
    csv_option,
    db_party,
    deprecated_as_option,
    find_policy,
    json_option,
    ledger_db,
    parse_date,
    policy_option,
    settings_of,
    table_or_csv,
)


@click.group(cls=LedgerGroup)
def report() -> None:
    """Portfolio reports from the indexed ledger: exposure by party, aging of
    open receivables, and a financier's book (database only; run `scf index
    sync` to catch up).

    Example:

    \b
        scf report exposure --by buyer --policy examples/policy.toml
        scf report aging --as-of 2026-12-31 --csv
        scf report portfolio --as "Harbour Trade Finance Ltd"
    """


@report.command("exposure")
@click.option("--by", type=click.Choice(["buyer", "supplier", "financier"]), default="buyer", show_default=True)
@click.option("--financier", metavar="NAME", help="Only receivables held by this financier (name or address).")
@deprecated_as_option("--financier")
@policy_option("FINANCIER")
@csv_option
@json_option
@click.pass_context
def report_exposure(ctx: click.Context, by: str, financier: str | None, policy_path: Path | None, as_csv: bool) -> None:
    """What holders of financed receivables are still due (the exposure, not
    the face amount), the sellers' reserves still held in them, and pending
    decisions, with limits used and headroom when a policy is given.

    Example:

    \b
        scf report exposure --by financier
        scf report exposure --financier "Harbour Trade Finance Ltd" --policy examples/policy.toml --json
    """
    from ledger.finance.reports import exposure_report

    policy = find_policy(settings_of(ctx), policy_path, financier, required=False)
    with ledger_db(ctx) as (conn, scope):
        holder = None if financier is None else db_party(conn, scope, financier, "financier")
        data = exposure_report(conn, scope, by, policy, holder)

    def text(d: dict[str, Any]) -> None:
        from ledger.cli.render import table

        if not d["rows"]:
            click.echo(f"no financed receivables outstanding (as of block {d['as_of_block']})")
            return
        headers = [by, "currency", "invoices", "due outstanding", "reserve held", "pending", "used"]
        if policy is not None:
            headers += ["limit", "used %", "headroom"]
        lines = []
        for r in d["rows"]:
            line = [
                r["name"] or r[by],
                r["currency"],
                r["invoices"],
                r["outstanding"],
                r["reserve_held"],
                r["pending"],
                r["used"],
            ]
            if policy is not None:
                line += [r["limit"] or "none", r["used_pct"] or "-", r["headroom"] or "-"]
            lines.append(line)
        for t in d["totals"]:
            line = ["TOTAL", t["currency"], t["invoices"], t["outstanding"], t["reserve_held"], t["pending"], t["used"]]
            lines.append(line + ([""] * 3 if policy is not None else []))
        table(headers, lines, title=f"exposure by {by} as of block {d['as_of_block']}")

    table_or_csv(ctx, data, data["rows"], as_csv, text)


@report.command("aging")
@click.option("--as-of", "as_of", metavar="DATE", help="Age as of DATE (YYYY-MM-DD; default: the last indexed block).")
@click.option("--holder", metavar="NAME", help="Only receivables held by this participant (name or address).")
@deprecated_as_option("--holder")
@csv_option
@json_option
@click.pass_context
def report_aging(ctx: click.Context, as_of: str | None, holder: str | None, as_csv: bool) -> None:
    """Open confirmed receivables in buckets of days past due, per buyer and
    in total, with the part of them that is the sellers' reserve.

    Example:

    \b
        scf report aging --as-of 2026-12-31
        scf report aging --holder "Harbour Trade Finance Ltd" --csv
    """
    from ledger.finance.reports import BUCKETS, aging_report

    day = parse_date(as_of, "--as-of date") if as_of is not None else None
    with ledger_db(ctx) as (conn, scope):
        address = None if holder is None else db_party(conn, scope, holder, "holder")
        data = aging_report(conn, scope, day, address)

    def text(d: dict[str, Any]) -> None:
        from ledger.cli.render import table

        if not d["rows"]:
            click.echo(f"no open receivables as of {d['as_of']}")
            return
        lines = [
            [r["name"] or r["buyer"], r["currency"], r["invoices"], *(r[b] for b in BUCKETS), r["total"], r["reserve"]]
            for r in d["rows"]
        ]
        lines += [
            ["TOTAL", t["currency"], t["invoices"], *(t[b] for b in BUCKETS), t["total"], t["reserve"]]
            for t in d["totals"]
        ]
        table(
            ["buyer", "currency", "invoices", "not due", "1-30", "31-60", "61-90", "90+", "total", "of it reserve"],
            lines,
            title=f"aging of open receivables as of {d['as_of']} (days past due)",
        )

    table_or_csv(ctx, data, data["rows"] + [{"buyer": "TOTAL", **t} for t in data["totals"]], as_csv, text)


@report.command("portfolio")
@as_option(None, "The financier whose book it is: a local account, participant name or address.", required=True)
@click.option("--as-of", "as_of", metavar="DATE", help="As of DATE (YYYY-MM-DD; default: the last indexed block).")
@policy_option()
@csv_option
@json_option
@click.pass_context
def report_portfolio(
    ctx: click.Context, as_name: str, as_of: str | None, policy_path: Path | None, as_csv: bool
) -> None:
    """A financier's book, from the ledger: advanced, due, received and
    outstanding; the sellers' reserves at financing, released and still held;
    realised and expected yield; overdue and defaults (default after
    grading.default_after_days of the policy, else 90 days past due). The
    JSON output lists every financed invoice too.

    Example:

    \b
        scf report portfolio --as "Harbour Trade Finance Ltd" --as-of 2026-12-31
        scf report portfolio --as financier --policy examples/policy.toml --json
    """
    from ledger.finance.reports import portfolio_report

    day = parse_date(as_of, "--as-of date") if as_of is not None else None
    policy = find_policy(settings_of(ctx), policy_path, as_name, required=False)
    with ledger_db(ctx) as (conn, scope):
        financier = db_party(conn, scope, as_name, "financier")
        data = portfolio_report(
            conn, scope, financier, day, policy.grading.default_after_days if policy is not None else 90
        )

    table_or_csv(ctx, data, data["rows"], as_csv, _portfolio_text)


def _portfolio_lines(r: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary of one currency of a portfolio, as (label, value) lines."""
    c = r["currency"]
    sold = f", {r['sold']} sold on" if r["sold"] else ""
    return [
        ("financed", f"{r['financed']} invoice(s): {r['open']} open, {r['closed']} paid to you{sold}"),
        (
            "advanced",
            f"{c} {r['advanced']} against {c} {r['open_at_financing']} open at financing ({c} {r['face']} face)",
        ),
        (
            "due",
            f"{c} {r['due']}: received {c} {r['received']}, outstanding {c} {r['outstanding']}"
            + (f", sold on {c} {r['sold_due']}" if r["sold"] else ""),
        ),
        (
            "reserve",
            f"{c} {r['reserve_at_financing']} at financing: released to sellers "
            f"{c} {r['reserve_released']}, still held {c} {r['reserve_held']}",
        ),
        ("collected", f"{c} {r['collected']} paid by buyers since financing"),
        ("realised", f"{c} {r['realised_income']} income, {r['realised_yield_pct'] or '-'}% a year"),
        ("expected", f"{c} {r['expected_income']} income, {r['expected_yield_pct'] or '-'}% a year"),
        ("overdue", f"{r['overdue_invoices']} invoice(s), {c} {r['overdue']}"),
        ("defaults", f"{r['defaults']} invoice(s), {c} {r['defaulted']}"),
    ]


def _portfolio_text(d: dict[str, Any]) -> None:
    """`scf report portfolio` as text: a summary per currency, then every financed invoice."""
    who = d["name"] or d["financier"]
    if not d["rows"]:
        click.echo(f"{who} has financed nothing (as of {d['as_of']})")
        return
    from ledger.cli.render import table

    for r in d["rows"]:
        c = r["currency"]
        click.echo(f"portfolio of {who} as of {d['as_of']} ({c})")
        for label, value in _portfolio_lines(r):
            click.echo(f"  {label:<12} {value}")
    table(
        [
            "invoice",
            "currency",
            "position",
            "advanced",
            "due",
            "received",
            "outstanding",
            "reserve",
            "released",
            "held",
        ],
        [
            [
                x["invoice_id"],
                x["currency"],
                x["position"],
                x["advanced"],
                x["due"],
                x["received"],
                x["outstanding"],
                x["reserve_at_financing"],
                x["reserve_released"],
                x["reserve_held"],
            ]
            for x in d["invoices"]
        ],
        title="financed invoices",
    )
