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
    open receivables, a financier's book, defaults and disputes, and how far
    buyers' credit reached down the supply chain (database only; run `scf
    index sync` to catch up). Parts of split invoices count as receivables of
    their own: a split invoice counts nothing, its open parts (the leaves) count.

    Example:

    \b
        scf report exposure --by buyer --policy examples/policy.toml
        scf report aging --as-of 2027-03-31 --csv
        scf report portfolio --as "Harbour Trade Finance Ltd"
        scf report defaults --holder "Harbour Trade Finance Ltd"
        scf report disputes --open
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
    part of a split invoice is aged as a receivable of its own. A disputed
    receivable is in the disputed bucket, a defaulted or written-off one
    (still open: recoveries may come) in the defaulted bucket, whatever its
    days past due: neither counts as current.

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
            [
                "buyer",
                "currency",
                "invoices",
                "not due",
                "1-30",
                "31-60",
                "61-90",
                "90+",
                "disputed",
                "defaulted",
                "total",
                "of it reserve",
            ],
            lines,
            title=f"aging of open receivables as of {d['as_of']} (days past due)",
        )

    table_or_csv(ctx, data, data["rows"] + [{"buyer": "TOTAL", **t} for t in data["totals"]], as_csv, text)


@report.command("portfolio")
@as_option(None, "The financier whose book it is: a local account, participant name or address.")
@click.option("--all", "every", is_flag=True, help="Every financier's book, one after another, and the total.")
@click.option("--as-of", "as_of", metavar="DATE", help="As of DATE (YYYY-MM-DD; default: the last indexed block).")
@policy_option()
@csv_option
@json_option
@click.pass_context
def report_portfolio(
    ctx: click.Context, as_name: str | None, every: bool, as_of: str | None, policy_path: Path | None, as_csv: bool
) -> None:
    """A financier's book, from the ledger: advanced, due, received and
    outstanding; the sellers' reserves at financing, released and still held;
    realised and expected income; overdue and defaults (default after
    grading.default_after_days of the policy, else 90 days past due), with
    a subtotal per tier (1: invoices, 2: parts of them, ...). The table and
    the JSON output list every financed invoice or part with its tier.
    --as must name a financier; --all shows every financier's book and the
    total of all of them, per currency.

    Income is shown as a return over its holding period (days from financing
    to the last payment of the due, or to the due date, weighted by the
    amount advanced), and as a yield a year (ACT/365) only when that period
    is at least 30 days: a yield over a holding of minutes means nothing.

    When things go wrong: defaults declared and the claim at default; losses
    (claims written off, and what of them is still unpaid after recoveries);
    recoveries (the buyer's payments to the financier after a default);
    recourse received (what sellers paid to buy receivables back); dilution
    (credit notes while the financier held the receivable, and what the
    sellers paid it for them). Net of losses: net income = what came back
    (buyer payments, credit-note payments, buy-backs) less the cash
    advanced, over the financings closed, bought back or written off; its
    return is net income / cash advanced, its yield net income x 365 /
    sum(cash x days) (days to the payment that completed the due, or to the
    write-off), shown a year only over 30 days or more; percentages rounded
    half-even to two places, amounts exact.

    Example:

    \b
        scf report portfolio --as "Harbour Trade Finance Ltd" --as-of 2027-03-31
        scf report portfolio --as financier --policy examples/policy.toml --json
        scf report portfolio --all --csv
    """
    from ledger.errors import InputError
    from ledger.finance.reports import portfolio_report

    if (as_name is None) == (not every):
        raise InputError(
            "name the financier with --as NAME, or use --all for every financier"
            if as_name is None
            else "--as and --all cannot be combined; choose one"
        )
    day = parse_date(as_of, "--as-of date") if as_of is not None else None
    policy = find_policy(settings_of(ctx), policy_path, as_name, required=False)
    after = policy.grading.default_after_days if policy is not None else 90
    with ledger_db(ctx) as (conn, scope):
        if every:
            data = portfolio_report(conn, scope, None, day, after)
        else:
            assert as_name is not None
            financier = db_party(conn, scope, as_name, "financier")
            data = portfolio_report(conn, scope, financier, day, after)
            if not data["rows"]:
                # Refused (a rule: exit 1) unless it is a financier (one whose role was taken away keeps its book).
                from ledger.finance.facts import require_financier
                from ledger.finance.store import party_facts

                party = party_facts(conn, scope, financier)
                require_financier(party.roles, party.label, "a portfolio is a financier's book; name one with --as")

    if every:
        rows = [
            {"financier": f["financier"], "name": f["name"], **r} for f in data["financiers"] for r in f["rows"]
        ] + [{"financier": "TOTAL", "name": None, **t} for t in data["totals"]]
        table_or_csv(ctx, data, rows, as_csv, _portfolios_text)
        return
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


def _nonzero(amount: str) -> bool:
    """An exact amount string (``"0.00"``, ``"12.50"``) that is not zero."""
    return any(ch not in "0.-" for ch in amount)


def _portfolio_lines(r: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary of one currency of a portfolio, as (label, value) lines."""
    c = r["currency"]

    def m(key: str) -> str:
        return money_text(c, r[key])

    sold = f", {r['sold']} sold on" if r["sold"] else ""
    bought = f", {r['bought_back']} bought back by the seller" if r["bought_back"] else ""
    written = f", {r['written_off_invoices']} written off" if r["written_off_invoices"] else ""
    return [
        ("financed", f"{r['financed']} invoice(s): {r['open']} open, {r['closed']} paid to you{bought}{written}{sold}"),
        ("advanced", f"{m('advanced')} against {m('open_at_financing')} open at financing ({m('face')} face)"),
        (
            "due",
            f"{m('due')}: received {m('received')}"
            + (f", paid by sellers for credit notes {m('dilution_paid')}" if _nonzero(r["dilution_paid"]) else "")
            + (f", bought back {m('recourse')}" if _nonzero(r["recourse"]) else "")
            + f", outstanding {m('outstanding')}"
            + (f", sold on {m('sold_due')}" if r["sold"] else ""),
        ),
        (
            "reserve",
            f"{m('reserve_at_financing')} at financing: released to sellers {m('reserve_released')}"
            + (f", taken by credit notes {m('reserve_diluted')}" if _nonzero(r["reserve_diluted"]) else "")
            + f", still held {m('reserve_held')}",
        ),
        ("collected", f"{m('collected')} paid by buyers since financing"),
        ("realised", _income_text(r, "realised")),
        ("expected", _income_text(r, "expected")),
        ("overdue", f"{r['overdue_invoices']} invoice(s), {m('overdue')}"),
        ("defaults", f"{r['defaults']} invoice(s), {m('defaulted')}"),
        ("declared", f"{r['declared_defaults']} default(s) declared, claim at default {m('claim_at_default')}"),
        (
            "losses",
            f"{m('written_off')} written off ({r['written_off_invoices']} still written off): "
            f"{m('recovered_after_write_off')} recovered since, {m('loss')} still lost",
        ),
        ("recoveries", f"{m('recoveries')} paid to you after a default"),
        ("recourse", f"{m('recourse')} paid by sellers buying back ({r['bought_back']} bought back)"),
        ("dilution", f"{m('dilution')} of credit notes, {m('dilution_paid')} paid to you by sellers for them"),
        ("net", _income_text(r, "net") + " net of losses"),
    ]


def _portfolios_text(d: dict[str, Any]) -> None:
    """`scf report portfolio --all` as text: each financier's book, then the total per currency."""
    if not d["financiers"]:
        click.echo(f"nobody has financed anything (as of {d['as_of']})")
        return
    for book in d["financiers"]:
        _portfolio_text(book)
        click.echo("")
    for r in d["totals"]:
        click.echo(f"all financiers as of {d['as_of']} ({r['currency']})")
        for label, value in _portfolio_lines(r):
            click.echo(f"  {label:<12} {value}")


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


def _flat(row: Any, columns: tuple[str, ...]) -> list[Any]:
    """A report row as CSV cells: a party (``{"address", "name"}``) as its address, and its name
    in the column ``<party>_name``."""
    flat = dict(row)
    for key, value in row.items():
        if isinstance(value, dict) and "address" in value:
            flat[key], flat[f"{key}_name"] = value["address"], value["name"]
        elif value is None and f"{key}_name" in columns:
            flat[f"{key}_name"] = None
    return [flat.get(c) for c in columns]


#: `scf report defaults --csv` columns (each party as an address and a name column).
DEFAULTS_COLUMNS = (
    "invoice_id",
    "tier",
    "status",
    "currency",
    "buyer",
    "buyer_name",
    "holder",
    "holder_name",
    "seller",
    "seller_name",
    "due_date",
    "defaulted_on",
    "days_past_due",
    "outstanding",
    "holder_claim",
    "claim_at_default",
    "written_off",
    "recovered",
    "recourse",
    "recourse_paid",
)


@report.command("defaults")
@click.option(
    "--as-of",
    "as_of",
    metavar="DATE",
    help=(
        "Count days past due to DATE (YYYY-MM-DD; default: the last indexed block); "
        "the rows and amounts are the ledger's latest."
    ),
)
@click.option("--holder", metavar="NAME", help="Only receivables held by this participant (name or address).")
@click.option("--buyer", metavar="NAME", help="Only receivables owed by this buyer (name or address).")
@csv_option
@json_option
@click.pass_context
def report_defaults(ctx: click.Context, as_of: str | None, holder: str | None, buyer: str | None, as_csv: bool) -> None:
    """Every receivable its holder declared in default, whatever became of it
    since: buyer, holder and seller; due date, days past due (to the as-of
    day, or to the day it was settled); the buyer's open amount; the
    holder's claim now (a financier's: its due less what it received) and
    at the default; what was written off; what the buyer paid after the
    default (recovered, to holder and seller); and the recourse to the
    seller: not financed, without recourse, available, bought back (with
    what the seller paid) or not exercised. Totals per currency.

    Example:

    \b
        scf report defaults
        scf report defaults --holder "Harbour Trade Finance Ltd" --csv
        scf report defaults --buyer "Tsuen Wan Electronics Ltd" --json
    """
    from ledger.finance.incidents import defaults_report

    day = parse_date(as_of, "--as-of date") if as_of is not None else None
    with ledger_db(ctx) as (conn, scope):
        holder_address = None if holder is None else db_party(conn, scope, holder, "holder")
        buyer_address = None if buyer is None else db_party(conn, scope, buyer, "buyer")
        data = defaults_report(conn, scope, day, holder_address, buyer_address)

    def text(d: dict[str, Any]) -> None:
        from ledger.cli.render import table
        from ledger.format import party_label

        if not d["rows"]:
            click.echo(f"no receivable has been declared in default (as of {d['as_of']})")
            return
        lines = []
        for r in d["rows"]:
            c = r["currency"]
            recourse = r["recourse"] + (f" {money_text(c, r['recourse_paid'])}" if r["recourse_paid"] else "")
            lines.append(
                [
                    r["invoice_id"],
                    r["status"],
                    party_label(r["buyer"]),
                    party_label(r["holder"]),
                    r["due_date"],
                    r["days_past_due"],
                    *(money_text(c, r[k]) for k in ("outstanding", "holder_claim", "written_off", "recovered")),
                    recourse,
                ]
            )
        for t in d["totals"]:
            c = t["currency"]
            lines.append(
                [
                    "TOTAL",
                    f"{t['invoices']} invoice(s)",
                    "",
                    "",
                    "",
                    "",
                    *(money_text(c, t[k]) for k in ("outstanding", "holder_claim", "written_off", "recovered")),
                    money_text(c, t["recourse_paid"]),
                ]
            )
        table(
            [
                "invoice",
                "status",
                "buyer",
                "holder",
                "due",
                "days past due",
                "outstanding",
                "holder's claim",
                "written off",
                "recovered",
                "recourse",
            ],
            lines,
            title=f"receivables declared in default, as of {d['as_of']}",
        )

    table_or_csv(ctx, data, data["rows"], as_csv, text, DEFAULTS_COLUMNS, lambda r: _flat(r, DEFAULTS_COLUMNS))


#: `scf report disputes --csv` columns (each party as an address and a name column).
DISPUTES_COLUMNS = (
    "invoice_id",
    "currency",
    "buyer",
    "buyer_name",
    "seller",
    "seller_name",
    "holder",
    "holder_name",
    "since",
    "reason",
    "interrupted",
    "state",
    "resolved_on",
    "days",
    "credit",
    "paid_to_holder",
    "open_after",
    "note",
)


@report.command("disputes")
@click.option(
    "--as-of",
    "as_of",
    metavar="DATE",
    help=(
        "Count days open to DATE (YYYY-MM-DD; default: the last indexed block); "
        "the rows and amounts are the ledger's latest."
    ),
)
@click.option("--buyer", metavar="NAME", help="Only disputes raised by this buyer (name or address).")
@click.option("--open", "open_only", is_flag=True, help="Only disputes not yet resolved.")
@csv_option
@json_option
@click.pass_context
def report_disputes(ctx: click.Context, as_of: str | None, buyer: str | None, open_only: bool, as_csv: bool) -> None:
    """Every dispute a buyer raised, open or resolved: the receivable, buyer,
    seller (the creditor: the seller of a financed receivable, else its
    holder) and holder, since when, the reason's hash (the statement stays
    off chain), the status it interrupted, and how it ended: withdrawn by
    the buyer, or by a credit note (its amount, what the seller paid the
    financier holding it, and what was left open); days open to the
    resolution or the as-of day. Totals per currency.

    Example:

    \b
        scf report disputes
        scf report disputes --open --buyer "Tsuen Wan Electronics Ltd"
        scf report disputes --csv
    """
    from ledger.finance.incidents import disputes_report

    day = parse_date(as_of, "--as-of date") if as_of is not None else None
    with ledger_db(ctx) as (conn, scope):
        buyer_address = None if buyer is None else db_party(conn, scope, buyer, "buyer")
        data = disputes_report(conn, scope, day, buyer_address, open_only)

    def text(d: dict[str, Any]) -> None:
        from ledger.cli.render import table
        from ledger.format import party_label

        if not d["rows"]:
            click.echo(f"no {'open ' if open_only else ''}disputes (as of {d['as_of']})")
            return
        lines = []
        for r in d["rows"]:
            c = r["currency"]
            resolution = (
                "open"
                if r["state"] == "open"
                else "withdrawn"
                if r["state"] == "withdrawn"
                else f"credit note {money_text(c, r['credit'])}"
            )
            lines.append(
                [
                    r["invoice_id"],
                    party_label(r["buyer"]),
                    party_label(r["seller"]),
                    r["since"],
                    r["days"],
                    r["reason"],
                    resolution,
                    r["resolved_on"] or "",
                ]
            )
        for t in d["totals"]:
            lines.append(
                [
                    "TOTAL",
                    f"{t['disputes']} dispute(s)",
                    "",
                    "",
                    "",
                    "",
                    f"{t['open']} open, {t['withdrawn']} withdrawn, {t['credit_notes']} credit note(s) "
                    f"{money_text(t['currency'], t['credit'])}",
                    "",
                ]
            )
        table(
            ["invoice", "buyer", "seller", "since", "days", "reason hash", "resolution", "resolved"],
            lines,
            title=f"disputes as of {d['as_of']}",
        )

    table_or_csv(ctx, data, data["rows"], as_csv, text, DISPUTES_COLUMNS, lambda r: _flat(r, DISPUTES_COLUMNS))


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
