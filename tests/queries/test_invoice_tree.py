"""`scf invoice tree` and the read side of multi-tier receivables, on SQLite
and PostgreSQL: the scenario's invoice 2 (HKD 80,000.00, confirmed by Kwai
Chung Logistics) split by its supplier into three parts, one passed on as
payment with a reference, one financed, then HKD 30,000.00 paid across the
leaves. The tree, the invoice list and the histories read the database only."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from click.testing import CliRunner
from support.scenario import BUYER2, FINANCIER, SUPPLIER, SUPPLIER2, index, split_invoice_2

from ledger.cli import main


@pytest.fixture()
def cli(indexed: Any) -> Any:
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(
            main,
            [
                "--home",
                str(indexed.home),
                "--rpc-url",
                indexed.rpc_url,
                "--db-url",
                str(indexed.settings.db_url),
                *args,
            ],
        )

    return run


@pytest.fixture()
def tree(indexed: Any, ledger: Any, acct: Any) -> dict[str, Any]:
    """Invoice 2 split into 5 (48,250.50, kept), 6 (20,000.00 to Sham Shui Po
    Textiles, ref PO-7781; financed: advance 19,000.00, due 19,500.00) and 7
    (11,749.50 to Sham Shui Po, passed back to the supplier with ref
    INV-T2-9); then 30,000.00 paid across the leaves: 5 gets 18,093.94
    (18,093.93 + the leftover unit), 6 7,500.00, 7 4,406.06."""
    first = split_invoice_2(ledger, acct)
    index(indexed.settings)
    return {"ids": (first, first + 1, first + 2), "addresses": {n: acct(n).address for n in ("supplier", "supplier2")}}


def _json(cli: Any, *args: str) -> Any:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_invoice_tree_json_from_any_node(cli: Any, tree: dict[str, Any]) -> None:
    five, six, seven = tree["ids"]
    data = _json(cli, "invoice", "tree", str(six))

    assert (data["invoice_id"], data["root_id"], data["number"], data["currency"]) == (six, 2, "INV-Q-2", "HKD")
    assert (data["nodes"], data["leaves"], data["open_leaves"], data["outstanding"]) == (4, 3, 3, "50000.00")
    assert data == _json(cli, "invoice", "tree", "2") | {"invoice_id": six}
    root = data["tree"]
    assert (root["invoice_id"], root["depth"], root["tier"], root["status"]) == (2, 0, 1, "Split")
    assert (root["amount"], root["paid"], root["outstanding"], root["financed"], root["financier"]) == (
        "80000.00",
        "0.00",
        "0.00",
        False,
        None,
    )
    assert root["holder"] == {"address": tree["addresses"]["supplier"], "name": SUPPLIER}
    assert root["buyer"]["name"] == BUYER2 and root["supplier"]["name"] == SUPPLIER
    parts = {c["invoice_id"]: c for c in root["children"]}
    assert sorted(parts) == [five, six, seven]
    assert [
        (p["parent_id"], p["tier"], p["status"], p["amount"], p["paid"], p["outstanding"], p["holder"]["name"])
        for p in parts.values()
    ] == [
        (2, 2, "PartiallyPaid", "48250.50", "18093.94", "30156.56", SUPPLIER),
        (2, 2, "PartiallyPaid", "20000.00", "7500.00", "12500.00", FINANCIER),
        (2, 2, "PartiallyPaid", "11749.50", "4406.06", "7343.44", SUPPLIER),
    ]
    financed = parts[six]
    assert (financed["financed"], financed["financier"]["name"], financed["seller"]["name"], financed["advance"]) == (
        True,
        FINANCIER,
        SUPPLIER2,
        "19000.00",
    )
    assert all(
        p["buyer"]["name"] == BUYER2 and p["children"] == [] and p["due"] == "2098-06-30" for p in parts.values()
    )


def test_invoice_tree_text_is_a_tree_with_money_and_names(cli: Any, tree: dict[str, Any]) -> None:
    five, six, seven = tree["ids"]
    result = cli("invoice", "tree", str(seven))

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(
        f"invoice 2 (number INV-Q-2): {SUPPLIER} to {BUYER2}, due 2098-06-30; 4 receivables, 3 open, "
        "outstanding HKD 50,000.00 as of block "
    )
    assert lines[1].endswith(f"#2 tier 1 Split: HKD 80,000.00 held by {SUPPLIER}, paid HKD 0.00, outstanding HKD 0.00")
    assert lines[2].endswith(
        f"#{five} tier 2 PartiallyPaid: HKD 48,250.50 held by {SUPPLIER}, paid HKD 18,093.94, outstanding HKD 30,156.56"
    )
    assert lines[3].endswith(
        f"#{six} tier 2 PartiallyPaid: HKD 20,000.00 held by {FINANCIER}, paid HKD 7,500.00, outstanding "
        f"HKD 12,500.00, financed by {FINANCIER} (advance HKD 19,000.00)"
    )
    assert lines[4].endswith(
        f"#{seven} tier 2 PartiallyPaid: HKD 11,749.50 held by {SUPPLIER}, paid HKD 4,406.06, outstanding HKD 7,343.44"
    )
    assert len(lines) == 5
    # The parts hang below the root: deeper indentation.
    assert lines[2].index("#") > lines[1].index("#")


def test_invoice_tree_unknown_id_is_one_line(cli: Any, tree: dict[str, Any]) -> None:
    result = cli("invoice", "tree", "99")

    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and "invoice 99 does not exist in the indexed ledger" in result.output
    assert "Traceback" not in result.output


def test_invoice_tree_list_shows_split_and_lineage(cli: Any, tree: dict[str, Any]) -> None:
    five, six, seven = tree["ids"]
    rows = {r["invoice_id"]: r for r in _json(cli, "invoice", "list")}
    assert [(rows[i]["status"], rows[i]["parent_id"], rows[i]["root_id"], rows[i]["depth"]) for i in (1, 2, six)] == [
        ("PartiallyPaid", None, 1, 0),
        ("Split", None, 2, 0),
        ("PartiallyPaid", 2, 2, 1),
    ]
    assert (rows[2]["outstanding"], rows[six]["number"], rows[six]["financier"]["name"]) == ("0.00", None, FINANCIER)
    assert [r["invoice_id"] for r in _json(cli, "invoice", "list", "--status", "split")] == [2]

    table = cli("invoice", "list", "--status", "Split")
    assert table.exit_code == 0, table.output
    assert "Split" in table.output and "HKD 80,000.00" in table.output
    everything = cli("invoice", "list")
    assert everything.exit_code == 0, everything.output
    assert everything.output.count("part of 2") == 3, "a part has no number of its own: its parent instead"

    found = {int(r["invoice_id"]): r for r in csv.DictReader(io.StringIO(cli("invoice", "list", "--csv").output))}
    assert (found[seven]["parent_id"], found[seven]["root_id"], found[seven]["depth"]) == ("2", "2", "1")
    assert (found[2]["parent_id"], found[2]["root_id"], found[2]["depth"], found[2]["status"]) == (
        "",
        "2",
        "0",
        "Split",
    )


def test_invoice_tree_histories_describe_the_new_events(cli: Any, tree: dict[str, Any]) -> None:
    from ledger.lifecycle import reference_hash

    five, six, seven = tree["ids"]
    root = _json(cli, "invoice", "history", "2")
    described = {e["event"]: e["details"] for e in root}
    assert described["InvoiceSplit"] == f"split into 3 parts by {SUPPLIER}"
    assert described["RootRepaid"] == f"paid HKD 30,000.00 across 3 leaves by {BUYER2}"
    assert root[-1]["event"] == "RootRepaid" and root[-1]["amount"] == "30000.00"

    part = _json(cli, "invoice", "history", str(six))
    ref = "0x" + reference_hash("PO-7781").hex()
    assert [e["event"] for e in part][:2] == ["Transfer", "PartCreated"]
    assert part[1]["details"] == f"part of invoice 2 (tier 2): HKD 20,000.00 to {SUPPLIER2}, ref {ref[:6]}…"
    assert (part[1]["amount"], part[1]["args"]["ref"], part[1]["args"]["depth"], part[1]["args"]["parentId"]) == (
        "20000.00",
        ref,
        1,
        2,
    )
    passed = {e["event"]: e["details"] for e in _json(cli, "invoice", "history", str(seven))}
    assert passed["PartCreated"] == f"part of invoice 2 (tier 2): HKD 11,749.50 to {SUPPLIER2}"
    invoice_ref = "0x" + reference_hash("INV-T2-9").hex()
    assert (
        passed["ReceivableTransferred"]
        == f"transferred by {SUPPLIER2} to {SUPPLIER} as payment, ref {invoice_ref[:6]}…"
    )

    text = cli("invoice", "history", str(six))
    assert text.exit_code == 0, text.output
    assert f"invoice {six}: " in text.output and "PartCreated" in text.output
