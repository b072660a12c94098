"""`scf report ...`: portfolio reports from the indexed ledger.

Database only: nothing here imports web3. Amounts in text and tables are
``HKD 48,250.50``; JSON and CSV carry the exact decimal strings.
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
from ledger.format import money_text


@click.group(cls=LedgerGroup)
def report() -> None:
    """Portfolio reports from the indexed ledger: exposure by party, aging of
    open receivables, a financier's book, and how far buyers' credit reached
    down the supply chain (database only; run `scf index sync` to catch up).
    Parts of split invoices count as receivables of their own: a split
    invoice counts nothing, its open parts (the leaves) count.

    Example:

    \b
        scf report exposure --by buyer --policy examples/policy.toml
        scf report aging --as-of 2027-03-31 --csv
        scf report portfolio --as "Harbour Trade Finance Ltd"
        scf report tiers --buyer "Tsuen Wan Electronics Ltd"
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
    decisions, with limits used and headroom when a policy is given. A part
    of a split invoice counts under the root's buyer; --by supplier groups
    by the seller (the holder it was financed from: for a part, the tier-2
    supplier), as supplier limits do.

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
            c = r["currency"]
            line = [
                r["name"] or r[by],
                c,
                r["invoices"],
                *(money_text(c, r[k]) for k in ("outstanding", "reserve_held", "pending", "used")),
            ]
            if policy is not None:
                limit = money_text(c, r["limit"]) if r["limit"] is not None else "none"
                line += [limit, r["used_pct"] or "-", money_text(c, r["headroom"])]
            lines.append(line)
        for t in d["totals"]:
            c = t["currency"]
            line = [
                "TOTAL",
                c,
                t["invoices"],
                *(money_text(c, t[k]) for k in ("outstanding", "reserve_held", "pending", "used")),
            ]
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
    in total, with the part of them that is the sellers' reserve. Each open
    part of a split invoice is aged as a receivable of its own.

    Example:

    \b
        scf report aging --as-of 2027-03-31
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

        def amounts(r: dict[str, Any]) -> list[str]:
            return [money_text(r["currency"], r[k]) for k in (*BUCKETS, "total", "reserve")]

        lines = [[r["name"] or r["buyer"], r["currency"], r["invoices"], *amounts(r)] for r in d["rows"]]
        lines += [["TOTAL", t["currency"], t["invoices"], *amounts(t)] for t in d["totals"]]
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
    realised and expected income; overdue and defaults (default after
    grading.default_after_days of the policy, else 90 days past due), with
    a subtotal per tier (1: invoices, 2: parts of them, ...). The table and
    the JSON output list every financed invoice or part with its tier.
    --as must name a financier.

    Income is shown as a return over its holding period (days from financing
    to the last payment of the due, or to the due date, weighted by the
    amount advanced), and as a yield a year (ACT/365) only when that period
    is at least 30 days: a yield over a holding of minutes means nothing.

    Example:

    \b
        scf report portfolio --as "Harbour Trade Finance Ltd" --as-of 2027-03-31
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
        if not data["rows"]:
            # Refused (a rule: exit 1) unless it is a financier (one whose role was taken away keeps its book).
            from ledger.finance.facts import require_financier
            from ledger.finance.store import party_facts

            party = party_facts(conn, scope, financier)
            require_financier(party.roles, party.label, "a portfolio is a financier's book; name one with --as")

    table_or_csv(ctx, data, data["rows"], as_csv, _portfolio_text)


def _income_text(r: dict[str, Any], name: str) -> str:
    """Income of a portfolio line: a yield a year over a holding period of at
    least 30 days (weighted by amount), else the return over the period."""
    income = money_text(r["currency"], r[f"{name}_income"])
    if r[f"{name}_return_pct"] is None:
        return f"{income} income"
    days = r[f"{name}_days"]
    if r[f"{name}_yield_pct"] is not None:
        return f"{income} income, {r[f'{name}_yield_pct']}% a year ({r[f'{name}_return_pct']}% over {days} days)"
    return f"{income} income, {r[f'{name}_return_pct']}% over {days} days (too short to annualise)"


def _portfolio_lines(r: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary of one currency of a portfolio, as (label, value) lines."""
    c = r["currency"]

    def m(key: str) -> str:
        return money_text(c, r[key])

    sold = f", {r['sold']} sold on" if r["sold"] else ""
    return [
        ("financed", f"{r['financed']} invoice(s): {r['open']} open, {r['closed']} paid to you{sold}"),
        ("advanced", f"{m('advanced')} against {m('open_at_financing')} open at financing ({m('face')} face)"),
        (
            "due",
            f"{m('due')}: received {m('received')}, outstanding {m('outstanding')}"
            + (f", sold on {m('sold_due')}" if r["sold"] else ""),
        ),
        (
            "reserve",
            f"{m('reserve_at_financing')} at financing: released to sellers "
            f"{m('reserve_released')}, still held {m('reserve_held')}",
        ),
        ("collected", f"{m('collected')} paid by buyers since financing"),
        ("realised", _income_text(r, "realised")),
        ("expected", _income_text(r, "expected")),
        ("overdue", f"{r['overdue_invoices']} invoice(s), {m('overdue')}"),
        ("defaults", f"{r['defaults']} invoice(s), {m('defaulted')}"),
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
    if any(t["tier"] > 1 for t in d["by_tier"]):
        table(
            ["tier", "currency", "financed", "open", "face", "advanced", "due", "received", "outstanding"],
            [
                [
                    t["tier"],
                    t["currency"],
                    t["financed"],
                    t["open"],
                    *(money_text(t["currency"], t[k]) for k in ("face", "advanced", "due", "received", "outstanding")),
                ]
                for t in d["by_tier"]
            ],
            title="by tier (1: invoices, 2: parts of them, ...)",
        )
    table(
        [
            "invoice",
            "tier",
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
                x["tier"],
                x["currency"],
                x["position"],
                *(
                    money_text(x["currency"], x[k])
                    for k in (
                        "advanced",
                        "due",
                        "received",
                        "outstanding",
                        "reserve_at_financing",
                        "reserve_released",
                        "reserve_held",
                    )
                ),
            ]
            for x in d["invoices"]
        ],
        title="financed invoices",
    )


#: `scf report tiers --csv` columns (the buyer as an address and a name column).
TIERS_COLUMNS = (
    "buyer",
    "buyer_name",
    "currency",
    "tier",
    "receivables",
    "face",
    "open",
    "financed_receivables",
    "financed",
    "advanced",
    "holders",
    "suppliers_financed",
)


@report.command("tiers")
@click.option("--buyer", metavar="NAME", help="Only this buyer (participant name or address).")
@csv_option
@json_option
@click.pass_context
def report_tiers(ctx: click.Context, buyer: str | None, as_csv: bool) -> None:
    """How far each buyer's credit reached down its supply chain: per buyer
    and tier (1: the invoices it confirmed, 2: parts of them its suppliers
    paid their own suppliers with, ...), the receivables, their face and open
    amounts, how many were financed (face and advances), and the number of
    distinct suppliers holding them and of suppliers financed. A split
    invoice counts at its tier with its whole face; its parts count again at
    the next tier.

    Example:

    \b
        scf report tiers
        scf report tiers --buyer "Tsuen Wan Electronics Ltd" --json
        scf report tiers --csv
    """
    from ledger.finance.tiers import tiers_report

    with ledger_db(ctx) as (conn, scope):
        address = None if buyer is None else db_party(conn, scope, buyer, "buyer")
        data = tiers_report(conn, scope, address)

    def csv_row(r: Any) -> list[Any]:
        flat = {**r, "buyer": r["buyer"]["address"], "buyer_name": r["buyer"]["name"]}
        return [flat[c] for c in TIERS_COLUMNS]

    def text(d: dict[str, Any]) -> None:
        from ledger.cli.render import table

        if not d["rows"]:
            click.echo(f"no confirmed receivables (as of block {d['as_of_block']})")
            return
        lines = []
        for r in d["rows"]:
            c = r["currency"]
            lines.append(
                [
                    r["buyer"]["name"] or r["buyer"]["address"],
                    r["tier"],
                    c,
                    r["receivables"],
                    money_text(c, r["face"]),
                    money_text(c, r["open"]),
                    r["financed_receivables"],
                    money_text(c, r["financed"]),
                    money_text(c, r["advanced"]),
                    r["holders"],
                    r["suppliers_financed"],
                ]
            )
        table(
            [
                "buyer",
                "tier",
                "currency",
                "receivables",
                "face",
                "open",
                "financed",
                "financed face",
                "advanced",
                "suppliers",
                "suppliers financed",
            ],
            lines,
            title=f"how far buyers' credit reached, by tier, as of block {d['as_of_block']}",
        )

    table_or_csv(ctx, data, data["rows"], as_csv, text, TIERS_COLUMNS, csv_row)
