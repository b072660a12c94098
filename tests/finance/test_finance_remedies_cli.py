"""When things go wrong (issue 14) through the CLI on the real chain and both
databases: `scf report defaults`, `scf report disputes`, `scf report
portfolio` (one financier and --all) and `scf report aging` in text, --json
and --csv, names not addresses; bad input refused in one line. The figures
are those of tests/finance/test_finance_remedies.py (the same story)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from click.testing import CliRunner
from support.finance import BUYER_NAME, SUPPLIER_NAME, Book, remedies_story

from ledger.cli import main

FINANCIER_NAME = "Harbour Trade Finance Ltd"


@pytest.fixture()
def cli(home_copy: Any, db_url: str) -> Any:
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(
            main, ["--home", str(home_copy.home), "--rpc-url", home_copy.rpc_url, "--db-url", db_url, *args]
        )

    return run


def _ok(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_finance_remedies_cli_reports(cli: Any, desk: Any, book: Book, acct: Any) -> None:
    s = remedies_story(book, acct, desk)
    as_of = s.later.isoformat()

    # -- defaults ------------------------------------------------------------------------------
    text = _ok(cli("report", "defaults", "--as-of", as_of))
    assert f"receivables declared in default, as of {as_of}" in text
    assert FINANCIER_NAME in text and BUYER_NAME in text and "0x" not in text
    assert "HKD 70,000.00" in text and "without recourse" in text and "bought back HKD 30,000.00" in text
    data = json.loads(_ok(cli("report", "defaults", "--as-of", as_of, "--json")))
    assert [r["invoice_id"] for r in data["rows"]] == [s.x1, s.x2]
    assert data["totals"][0]["recovered"] == "55000.00"  # 20,000 (x1) + 35,000 (x2)
    rows = list(csv.DictReader(io.StringIO(_ok(cli("report", "defaults", "--as-of", as_of, "--csv")))))
    assert [(r["invoice_id"], r["holder_name"], r["holder_claim"], r["recourse"]) for r in rows] == [
        (str(s.x1), FINANCIER_NAME, "70000.00", "without recourse"),
        (str(s.x2), SUPPLIER_NAME, "0.00", "bought back"),
    ]
    assert rows[0]["holder"] == acct("financier").address and rows[1]["recourse_paid"] == "30000.00"
    held = json.loads(_ok(cli("report", "defaults", "--holder", FINANCIER_NAME, "--json")))
    assert [r["invoice_id"] for r in held["rows"]] == [s.x1]

    # -- disputes ------------------------------------------------------------------------------
    text = _ok(cli("report", "disputes", "--as-of", as_of))
    assert "credit note HKD 10,000.00" in text and "withdrawn" in text and "open" in text
    assert "1 open, 1 withdrawn, 1 credit note(s) HKD 10,000.00" in text and SUPPLIER_NAME in text
    rows = list(csv.DictReader(io.StringIO(_ok(cli("report", "disputes", "--csv")))))
    assert [(r["invoice_id"], r["state"], r["credit"], r["buyer_name"]) for r in rows] == [
        (str(s.x3), "credit note", "10000.00", BUYER_NAME),
        (str(s.x4), "withdrawn", "", BUYER_NAME),
        (str(s.x5), "open", "", BUYER_NAME),
    ]
    open_only = json.loads(_ok(cli("report", "disputes", "--open", "--buyer", BUYER_NAME, "--json")))
    assert [r["invoice_id"] for r in open_only["rows"]] == [s.x5]
    assert _ok(cli("report", "disputes", "--open", "--buyer", "Kwai Chung Logistics Ltd")).startswith(
        "no open disputes (as of "
    )

    # -- portfolio -----------------------------------------------------------------------------
    text = _ok(cli("report", "portfolio", "--as", FINANCIER_NAME, "--as-of", as_of))
    for line in (
        "  financed     3 invoice(s): 0 open, 1 paid to you, 1 bought back by the seller, 1 written off",
        "  losses       HKD 90,000.00 written off (1 still written off): HKD 20,000.00 recovered since, "
        "HKD 70,000.00 still lost",
        "  recoveries   HKD 20,000.00 paid to you after a default",
        "  recourse     HKD 30,000.00 paid by sellers buying back (1 bought back)",
        "  dilution     HKD 10,000.00 of credit notes, HKD 6,000.00 paid to you by sellers for them",
        "  declared     2 default(s) declared, claim at default HKD 120,000.00",
        "  due          HKD 171,000.00: received HKD 65,000.00, paid by sellers for credit notes HKD 6,000.00, "
        "bought back HKD 30,000.00, outstanding HKD 70,000.00",
    ):
        assert line in text, text
    assert "  net          HKD -49,000.00 income" in text and "net of losses" in text
    every = json.loads(_ok(cli("report", "portfolio", "--all", "--as-of", as_of, "--json")))
    assert [f["name"] for f in every["financiers"]] == [FINANCIER_NAME]
    assert every["totals"][0]["loss"] == "70000.00"
    rows = list(csv.DictReader(io.StringIO(_ok(cli("report", "portfolio", "--all", "--csv")))))
    assert [(r["financier"], r["name"], r["net_income"]) for r in rows] == [
        (acct("financier").address, FINANCIER_NAME, "-49000.00"),
        ("TOTAL", "", "-49000.00"),
    ]
    assert "all financiers as of" in _ok(cli("report", "portfolio", "--all"))

    # -- aging ---------------------------------------------------------------------------------
    rows = list(csv.DictReader(io.StringIO(_ok(cli("report", "aging", "--as-of", as_of, "--csv")))))
    total = rows[-1]
    assert (total["buyer"], total["disputed"], total["defaulted"], total["not_due"]) == (
        "TOTAL",
        "10000.00",
        "80000.00",
        "20000.00",
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["report", "portfolio"],
            2,
            "Error: name the financier with --as NAME, or use --all for every financier",
        ),
        (
            ["report", "portfolio", "--as", "financier", "--all"],
            2,
            "Error: --as and --all cannot be combined; choose one",
        ),
        (
            ["report", "defaults", "--as-of", "2027-02-30"],
            2,
            "Error: invalid --as-of date '2027-02-30': use YYYY-MM-DD, for example 2027-01-31",
        ),
        (
            ["report", "disputes", "--buyer", "Nobody Ltd"],
            2,
            "Error: unknown buyer 'Nobody Ltd': no participant or local account has that name; give a registered "
            "name, an account name or an address (see `scf participant list`)",
        ),
        (["report", "defaults", "--csv", "--json"], 2, "Error: --json and --csv cannot be combined; choose one"),
    ],
)
def test_finance_remedies_cli_bad_input(
    cli: Any, desk: Any, book: Book, args: list[str], code: int, message: str
) -> None:
    book.issue(offer=False)
    desk.sync()
    result = cli(*args)
    assert result.exit_code == code, result.output
    assert result.output.startswith(message), result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
