"""Multi-tier receivables through the CLI (issue 13): `scf invoice split`,
`transfer`, `repay` across the leaves of a split invoice, `invoice tree` and
`report tiers`, in text, JSON and CSV; bad input (exit 2) and rule refusals
(exit 1) in one line, with the chain head unchanged."""

from __future__ import annotations

import csv
import io
import json

import pytest
from eth_utils import keccak
from support.cli import SUPPLIER, cli_issue
from support.cli import chain_head as _head
from support.cli import refused as _refused

SSP = "Sham Shui Po Textiles Ltd"
BUYER = "Tsuen Wan Electronics Ltd"
NOBODY = "0x000000000000000000000000000000000000dEaD"


def _ok(result) -> str:
    assert result.exit_code == 0, result.output
    return str(result.output)


def _json(result) -> dict:
    return json.loads(_ok(result))


def _confirmed(cli, number: str = "INV-T-1", amount: str = "125000.00") -> int:
    invoice_id = cli_issue(cli, number=number, amount=amount)
    _ok(cli("invoice", "confirm", str(invoice_id), "--as", "buyer"))
    return invoice_id


def _split(cli, invoice_id: int, *args: str) -> dict:
    return _json(cli("invoice", "split", str(invoice_id), "--as", "supplier", *args, "--json"))


def test_cli_tiers_split_transfer_finance_repay_across_tree_and_report(cli, acct):
    root = _confirmed(cli)
    done = _split(cli, root, "--part", f"{SSP}:30000.00:PO-4471", "--keep", "95000.00")
    to_ssp, kept = (p["invoice_id"] for p in done["parts"])
    assert (done["invoice_id"], done["root_id"], done["status"], done["amount"]) == (root, root, "Split", "125000.00")
    assert done["parts"] == [
        {
            "invoice_id": to_ssp,
            "holder": {"address": acct("supplier2").address, "name": SSP},
            "amount": "30000.00",
            "depth": 1,
            "reference": "0x" + keccak(text="PO-4471").hex(),
        },
        {
            "invoice_id": kept,
            "holder": {"address": acct("supplier").address, "name": SUPPLIER},
            "amount": "95000.00",
            "depth": 1,
            "reference": None,
        },
    ]

    # The kept part pays another supplier in full: a transfer with a payment reference.
    moved = _json(
        cli("invoice", "transfer", str(kept), "--to", SSP, "--ref", "SSP-INV-88", "--as", "supplier", "--json")
    )
    assert (moved["from"]["name"], moved["to"], moved["reference"]) == (
        SUPPLIER,
        {"address": acct("supplier2").address, "name": SSP},
        "0x" + keccak(text="SSP-INV-88").hex(),
    )
    # The tier-2 supplier lists its part and the financier funds it.
    _ok(cli("invoice", "offer", str(to_ssp), "--as", "supplier2", "--min-advance", "25000.00"))
    financed = _json(cli("invoice", "finance", str(to_ssp), "--as", "financier", "--advance", "27000.00", "--json"))
    assert financed["seller"] == {"address": acct("supplier2").address, "name": SSP}

    # The buyer pays the root across its open leaves, pro rata: 30,000.00 and 95,000.00 of 125,000.00.
    paid = _json(cli("invoice", "repay", str(root), "--amount", "50000.00", "--as", "buyer", "--json"))
    assert (paid["amount"], paid["outstanding"]) == ("50000.00", "75000.00")
    assert [(x["invoice_id"], x["amount"], x["outstanding"]) for x in paid["leaves"]] == [
        (to_ssp, "12000.00", "18000.00"),
        (kept, "38000.00", "57000.00"),
    ]
    assert paid["leaves"][0]["payee"]["name"] == "Harbour Trade Finance Ltd"

    tree = _json(cli("invoice", "tree", str(kept), "--json"))
    assert (tree["root_id"], tree["nodes"], tree["open_leaves"], tree["outstanding"]) == (root, 3, 2, "75000.00")
    assert tree["tree"]["status"] == "Split"
    assert [(c["invoice_id"], c["tier"], c["holder"]["name"]) for c in tree["tree"]["children"]] == [
        (to_ssp, 2, "Harbour Trade Finance Ltd"),
        (kept, 2, SSP),
    ]

    tiers = _json(cli("report", "tiers", "--buyer", BUYER, "--json"))
    by_tier = {r["tier"]: r for r in tiers["rows"]}
    assert tiers["buyer"] == {"address": acct("buyer").address, "name": BUYER}
    assert (by_tier[1]["receivables"], by_tier[1]["face"], by_tier[1]["open"]) == (1, "125000.00", "0.00")
    assert (
        by_tier[2]["receivables"],
        by_tier[2]["face"],
        by_tier[2]["open"],
        by_tier[2]["financed"],
        by_tier[2]["advanced"],
        by_tier[2]["holders"],
        by_tier[2]["suppliers_financed"],
    ) == (2, "125000.00", "75000.00", "30000.00", "27000.00", 1, 1)
    rows = list(csv.DictReader(io.StringIO(_ok(cli("report", "tiers", "--csv")))))
    assert [(r["buyer_name"], r["tier"], r["face"], r["holders"]) for r in rows] == [
        (BUYER, "1", "125000.00", "1"),
        (BUYER, "2", "125000.00", "1"),
    ]
    text = _ok(cli("report", "tiers"))
    assert "HKD 125,000.00" in text and "HKD 30,000.00" in text

    # The rest across the leaves closes the tree; the financier's portfolio shows its part at tier 2.
    paid = _json(cli("invoice", "repay", str(root), "--amount", "75000.00", "--as", "buyer", "--json"))
    assert paid["outstanding"] == "0.00" and [x["status"] for x in paid["leaves"]] == ["Paid", "Paid"]
    book = _json(cli("report", "portfolio", "--as", "financier", "--json"))
    assert [(x["invoice_id"], x["tier"], x["root_id"]) for x in book["invoices"]] == [(to_ssp, 2, root)]
    assert [(t["tier"], t["financed"], t["face"]) for t in book["by_tier"]] == [(2, 1, "30000.00")]


def test_cli_tiers_text_output_of_split_transfer_and_repay(cli):
    root = _confirmed(cli)
    out = _ok(
        cli(
            "invoice",
            "split",
            str(root),
            "--as",
            "supplier",
            "--part",
            f"{SSP}:30000.00:PO-4471",
            "--part",
            "Kowloon Precision Parts Ltd:95000.00",
        )
    )
    first = root + 1
    assert out == (
        f"invoice {root} split into 2 parts of HKD 125,000.00:\n"
        f"  part {first}: HKD 30,000.00 to {SSP} (ref PO-4471)\n"
        f"  part {first + 1}: HKD 95,000.00 to {SUPPLIER}\n"
    )
    out = _ok(cli("invoice", "transfer", str(first + 1), "--to", SSP, "--as", "supplier"))
    assert out == f"invoice {first + 1} transferred from {SUPPLIER} to {SSP}\n"
    out = _ok(cli("invoice", "repay", str(root), "--amount", "0.03", "--as", "buyer"))
    # 0.03 pro rata over 30,000.00 and 95,000.00: 0.00 and 0.02 rounded down, the unit left over to the first.
    assert out.splitlines() == [
        f"invoice {root}: paid HKD 0.03 across 2 open part(s); outstanding HKD 124,999.97",
        f"  invoice {first}: paid HKD 0.01: HKD 0.01 to {SSP}; outstanding HKD 29,999.99 (PartiallyPaid)",
        f"  invoice {first + 1}: paid HKD 0.02: HKD 0.02 to {SSP}; outstanding HKD 94,999.98 (PartiallyPaid)",
    ]
    shown = " ".join(_ok(cli("invoice", "repay", "--help")).split())
    assert "If ID was split, the payment goes across its open leaves" in shown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--part", f"{SSP}:30000.00"), "a split needs 2 to 10 parts (each --part, and --keep); 1 given"),
        (
            tuple(a for i in range(11) for a in ("--part", f"{SSP}:1.00")),
            "a split needs 2 to 10 parts (each --part, and --keep); 11 given",
        ),
        (
            ("--part", SSP, "--keep", "1.00"),
            f"invalid --part '{SSP}': use NAME:AMOUNT or NAME:AMOUNT:REF, e.g. "
            '"Sham Shui Po Textiles Ltd:30000.00:PO-4471"',
        ),
        (
            ("--part", f"{SSP}:30000.00:", "--keep", "1.00"),
            f"invalid --part '{SSP}:30000.00:': the reference after the amount is empty; use NAME:AMOUNT or "
            'NAME:AMOUNT:REF, e.g. "Sham Shui Po Textiles Ltd:30000.00:PO-4471"',
        ),
        (
            ("--part", f"{SSP}:30000.00", "--keep", "90000.00"),
            "the parts sum to HKD 120,000.00 but invoice {id} has HKD 125,000.00 open (HKD 5,000.00 short; "
            "add a part or keep it with --keep 95000.00): parts must sum to the open amount exactly",
        ),
        (
            ("--part", f"{SSP}:30000.00", "--part", f"{SSP}:100000.00"),
            "the parts sum to HKD 130,000.00 but invoice {id} has HKD 125,000.00 open (HKD 5,000.00 over; "
            "lower the parts): parts must sum to the open amount exactly",
        ),
        (("--part", f"{SSP}:30000.005", "--keep", "95000.00"), None),
        (("--part", f"{SSP}:0", "--keep", "125000.00"), None),
        (
            ("--part", f"{SSP}:30000.00", "--part", f"{SSP}:90000.00"),
            "the parts sum to HKD 120,000.00 but invoice {id} has HKD 125,000.00 open (HKD 5,000.00 short; "
            "add a part or keep it with --keep 5000.00): parts must sum to the open amount exactly",
        ),
        (
            ("--part", f"{SSP}:125000.00", "--keep", "0.00"),
            "invalid --keep amount '0.00': must be more than 0",
        ),
        (
            ("--part", "No Such Company Ltd:62500.00", "--keep", "62500.00"),
            "unknown part holder 'No Such Company Ltd': no participant or local account has that name; give a "
            "registered name, an account name or an address (see `scf participant list`)",
        ),
    ],
)
def test_cli_tiers_split_bad_input_is_exit_2_and_sends_nothing(cli, home_copy, args, message):
    root = _confirmed(cli)
    head = _head(home_copy)
    _refused(
        cli("invoice", "split", str(root), "--as", "supplier", *args),
        2,
        None if message is None else message.replace("{id}", str(root)),
    )
    assert _head(home_copy) == head


def test_cli_tiers_rule_refusals_are_exit_1_and_send_nothing(cli, home_copy):
    root = _confirmed(cli)
    issued = cli_issue(cli, number="INV-T-ISSUED")
    head = _head(home_copy)
    halves = ("--part", f"{SSP}:62500.00", "--keep", "62500.00")
    for args in (
        ("invoice", "split", str(issued), "--as", "supplier", "--part", f"{SSP}:62500.00", "--keep", "62500.00"),
        ("invoice", "split", str(root), "--as", "supplier2", "--part", f"{SSP}:62500.00", "--keep", "62500.00"),
        ("invoice", "split", str(root), "--as", "supplier", "--part", f"{NOBODY}:62500.00", "--keep", "62500.00"),
        ("invoice", "transfer", str(root), "--to", NOBODY, "--as", "supplier"),
        ("invoice", "transfer", str(root), "--to", SSP, "--as", "supplier2"),
    ):
        _refused(cli(*args), 1)
        assert _head(home_copy) == head, args
    first = _split(cli, root, *halves)["parts"][0]["invoice_id"]
    head = _head(home_copy)
    message = _refused(cli("invoice", "split", str(root), "--as", "supplier", *halves), 1)
    assert f"invoice {root}" in message and "Split" in message
    _refused(cli("invoice", "transfer", str(root), "--to", SSP, "--as", "supplier"), 1)
    _refused(cli("invoice", "repay", str(root), "--amount", "125000.01", "--as", "buyer"), 1)
    _refused(cli("invoice", "repay", str(root), "--amount", "100.00", "--as", "supplier"), 1)
    assert _head(home_copy) == head
    # A financed part is not split again (a financing's due and reserve stay whole).
    _ok(cli("invoice", "offer", str(first), "--as", "supplier2", "--min-advance", "50000.00"))
    _ok(cli("invoice", "finance", str(first), "--as", "financier", "--advance", "55000.00"))
    head = _head(home_copy)
    _refused(
        cli("invoice", "split", str(first), "--as", "financier", "--part", f"{SSP}:30000.00", "--keep", "32500.00"),
        1,
    )
    assert _head(home_copy) == head


def test_cli_tiers_transfer_bad_input_is_exit_2(cli, home_copy):
    root = _confirmed(cli)
    head = _head(home_copy)
    _refused(cli("invoice", "transfer", str(root), "--to", SSP, "--ref", "", "--as", "supplier"), 2)
    _refused(cli("invoice", "transfer", str(root), "--as", "supplier"), 2)
    _refused(cli("invoice", "transfer", str(root), "--to", "No Such Company Ltd", "--as", "supplier"), 2)
    assert _head(home_copy) == head


def test_cli_tiers_show_of_a_part_says_where_it_sits(cli, home_copy):
    """A part has no number or document of its own: `invoice show` says whose
    part it is, live from the chain and from the database alike."""
    root = _confirmed(cli, number="INV-T-SHOW")
    done = _split(cli, root, "--part", f"{SSP}:25000.00", "--keep", "100000.00")
    part = done["parts"][0]["invoice_id"]
    live = _json(cli("invoice", "show", str(part), "--json"))
    assert (live["parent_id"], live["root_id"], live["depth"], live["number"]) == (root, root, 1, None)
    assert _json(cli("invoice", "show", str(root), "--json"))["parent_id"] is None
    text = _ok(cli("invoice", "show", str(part)))
    assert f"part of      invoice {root} (root {root}, tier 2)\n" in text, text
    _ok(cli("index", "sync"))
    at = str(_head(home_copy))
    indexed = _json(cli("invoice", "show", str(part), "--as-of-block", at, "--json"))
    assert (indexed["parent_id"], indexed["root_id"], indexed["depth"]) == (root, root, 1)
    assert f"part of      invoice {root} (root {root}, tier 2)\n" in _ok(
        cli("invoice", "show", str(part), "--as-of-block", at)
    )
