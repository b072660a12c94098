"""Issue 12's table of bad input, over every command: each case is the argv,
the exit code of its family (2 bad input or usage, 1 refused by a rule on
chain or by policy, 3 environment: node, database or keystore unreachable or
unreadable), and the same checks for all: one line that starts with
"Error: ", no traceback, and the chain head, every table of the database and
the files of the data directory unchanged (checked, not assumed).

One data directory is built per module: the scenario's invoices 1 to 4, an
issued invoice 5, a confirmed invoice 6 offered to Harbour Trade Finance, a
cancelled invoice 7, Sham Shui Po Textiles suspended, one declined decision,
a corrupt keystore and bad policy files (BAD_POLICIES, BAD_POLICY_BYTES, and
one found for financier2 without --policy). Each case runs under an EVM
snapshot and the directory is restored if a command changed it, so one wrong
case cannot spill into the next.

Issue 18: every subcommand of the click tree has at least two cases here or
in the ERP intake's table (tests/cli/test_cli_intake.py), and all the tables
of bad input, the API's included, hold at least 300 (the last two tests)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from support.bad_input import Guard, save_pristine
from support.bad_input_tx import table_cases
from support.cli import SCF
from support.lifecycle import Lifecycle
from support.scenario import FINANCIER, index
from web3 import Web3

from ledger.cli import main
from ledger.config import REPO_ROOT

POLICY = str(REPO_ROOT / "examples" / "policy.toml")
BUYER2 = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"
#: buyer2's address with one letter's case flipped: a typo in a checksummed address.
BAD_CHECKSUM = BUYER2.replace("976EA", "976eA")
UINT_OVERFLOW = "9" * 80
#: Policy files that must not be used, each examples/policy.toml with one change:
#: name -> (a text of examples/policy.toml, its replacement); written as <home>/policy-NAME.toml.
BAD_POLICIES = {
    "advance_rate": ('advance_rate = "0.95"', 'advance_rate = "1.5"'),
    "spread": ('spread = "0.0125"', 'spread = "150%"'),
    "unknown-key": ("[pricing]", '[pricing]\nbase_rat = "0.05"'),
    "negative-book": ('book = "20000000.00"', 'book = "-5"'),
    # issue 18: one of each kind of mistake a financier's hand-edited file may hold
    "syntax-error": ("[limits]\n", "[limits\n"),
    "unknown-table": ("[decision]", "[decisions]"),
    "unknown-grade-key": ("max_disputes = 1\n", "max_dispute = 1\n"),
    "book-a-boolean": ('book = "20000000.00"', "book = true"),
    "currencies-not-a-list": ('currencies = ["HKD"]', 'currencies = "HKD"'),
    "tenor-as-text": ("max_tenor_days = 180", 'max_tenor_days = "180"'),
    "tenor-reversed": ("min_tenor_days = 7 ", "min_tenor_days = 700 "),
    "negative-buyer-line": ('"Tsuen Wan Electronics Ltd" = "8000000.00"', '"Tsuen Wan Electronics Ltd" = "-1.00"'),
    "negative-fee": ('fee_fixed = "250.00"', 'fee_fixed = "-250.00"'),
    "advance-rate-101-percent": ('advance_rate = "0.95"', 'advance_rate = "101%"'),
    "concentration-140-percent": ('concentration = "0.40"', 'concentration = "140%"'),
    "missing-base-rate": ('base_rate = "0.0450"', ""),
    "duplicate-buyer": (
        '"Tsuen Wan Electronics Ltd" = "8000000.00"',
        '"Tsuen Wan Electronics Ltd" = "8000000.00"\n"Tsuen Wan Electronics Ltd" = "1.00"',
    ),
    "duplicate-buyer-other-case": (
        '"Tsuen Wan Electronics Ltd" = "8000000.00"',
        '"Tsuen Wan Electronics Ltd" = "8000000.00"\n"TSUEN WAN ELECTRONICS LTD" = "1.00"',
    ),
    "unknown-grade": ('no_history = "B"', 'no_history = "Z"'),
    "grade-name-with-space": ("[grades.C]", '[grades."C C"]'),
    "day-count-30-360": ('day_count = "ACT/365"', 'day_count = "30/360"'),
    "valid-minutes-zero": ("valid_minutes = 15", "valid_minutes = 0"),
    "book-400-digits": ('book = "20000000.00"', f'book = "{"9" * 400}"'),
    "book-1e400": ('book = "20000000.00"', "book = 1e400"),
    "buyer-line-1e30": ('"Tsuen Wan Electronics Ltd" = "8000000.00"', '"Tsuen Wan Electronics Ltd" = 1e30'),
    "base-rate-nan": ('base_rate = "0.0450"', "base_rate = nan"),
    "rate-11-places": ('base_rate = "0.0450"', 'base_rate = "0.04500000001"'),
    # A byte-order mark is dropped (as Notepad writes one): the error is about the key, not line 1.
    "bom-then-unknown-key": ("# Financing policy", "\ufeff[pricing_extra]\nx = 1\n# Financing policy"),
}
#: Policy files that are not a policy's text at all: name -> the bytes of <home>/policy-NAME.toml.
BAD_POLICY_BYTES = {
    "empty": b"",
    "only-decision": b"[decision]\nvalid_minutes = 15\n",
    "latin-1": "# Politique de financement, révisée\n".encode("latin-1"),
    "utf-16": "[decision]\nvalid_minutes = 15\n".encode("utf-16"),
    "binary": bytes(range(256)) * 4,
}
DOWN = "http://127.0.0.1:9"  # the discard port: nothing listens there
#: A password, so that using the corrupt keystore gets as far as reading it.
UNLOCK = {"SCF_PASSWORD": "pw"}


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    code: int
    env: tuple[tuple[str, str], ...] = ()
    entry_point: bool = False  # through the real `scf` (a subprocess) rather than in-process
    says: str = ""  # a text the line must hold (what was wrong), {home} standing for the data directory


def case(
    name: str, code: int, *argv: str, env: dict[str, str] | None = None, entry_point: bool = False, says: str = ""
) -> Any:
    return pytest.param(Case(argv, code, tuple((env or {}).items()), entry_point, says), id=name)


# -- the module's ledger ---------------------------------------------------------------------
@dataclass
class FrontDoor:
    env: Any  # tests/conftest.py's Env, for the module's data directory
    guard: Guard
    values: dict[str, str]  # what {home} and {contract} in a case's argv stand for


@pytest.fixture(scope="module")
def front_door(scenario: Any, session_env: Any, base_deployment: Any, tmp_path_factory: Any) -> Iterator[FrontDoor]:
    """The scenario plus invoices 5 (issued), 6 (confirmed, offered to the
    financier) and 7 (cancelled), a suspended supplier2, a declined decision
    and a corrupt keystore, indexed into <home>/ledger.db; a pristine copy
    of the directory beside it."""
    from ledger.evm.accounts import DEV_NAMES, dev_account
    from ledger.evm.chain import connect
    from ledger.lifecycle import Ledger

    w3 = connect(session_env.rpc_url)
    ledger = Ledger(session_env.settings, w3, base_deployment)
    book = Lifecycle(ledger, lambda name: dev_account(DEV_NAMES.index(name)))
    assert book.issue_invoice("INV-BAD-5", "50000.00", dt.date(2099, 6, 30))["invoice_id"] == 5
    assert book.issue_invoice("INV-BAD-6", "60000.00", dt.date(2099, 6, 30))["invoice_id"] == 6
    book.confirm(6)
    book.offer(6, FINANCIER, "30000.00", 30)
    assert book.issue_invoice("INV-BAD-7", "7000.00", dt.date(2099, 6, 30))["invoice_id"] == 7
    book.cancel(7)
    ledger.set_suspended(book.acct("operator"), book.addr("supplier2"), True)

    root = tmp_path_factory.mktemp("bad-input")
    home = root / "home"
    shutil.copytree(session_env.home, home, ignore=shutil.ignore_patterns("ledger.db*"))
    env = replace(session_env, home=home, settings=replace(session_env.settings, home=home, db_url=None))
    index(env.settings)
    quoted = CliRunner().invoke(
        main, ["--home", str(home), "--rpc-url", env.rpc_url, "finance", "quote", "6", "--policy", POLICY]
    )
    assert quoted.exit_code == 0, quoted.output  # decision 1, declined (due beyond the policy's tenor)
    (home / "keystore").mkdir(exist_ok=True)
    (home / "keystore" / "broken.json").write_text('{"not": "a keystore"}')
    (home / "not-a-db.sqlite").write_text("these are not the tables you are looking for\n" * 20)
    (home / "a-directory").mkdir()
    (home / "unparseable.toml").write_text("[limits\nbook = \n")
    policy = Path(POLICY).read_text()
    for name, (right, wrong) in BAD_POLICIES.items():
        assert policy.count(right) == 1, right
        (home / f"policy-{name}.toml").write_text(policy.replace(right, wrong), encoding="utf-8")
    for name, data in BAD_POLICY_BYTES.items():
        (home / f"policy-{name}.toml").write_bytes(data)
    # Found without --policy: the policy of `--as financier2` / `--financier financier2`.
    (home / "policies").mkdir()
    (home / "policies" / "financier2.toml").write_text(policy.replace("[limits]\n", "[limits\n"), encoding="utf-8")
    save_pristine(home, root / "pristine")
    yield FrontDoor(
        env,
        Guard(Web3(Web3.HTTPProvider(env.rpc_url)), home, home / "ledger.db", root / "pristine"),
        {"home": str(home), "contract": base_deployment.contracts["InvoiceToken"].address},
    )


@pytest.fixture()
def home_copy(front_door: FrontDoor) -> Any:
    """The module's data directory, for the `cli` and `scf` fixtures (tests/cli/conftest.py)."""
    return front_door.env


# -- the table -------------------------------------------------------------------------------
ISSUE = ("invoice", "issue", "--buyer", "buyer", "--number", "INV-BAD-X")
QUOTE = ("finance", "quote", "2", "--policy")
AUTO = ("finance", "auto", "--dry-run", "--policy")
EXPOSURE = ("report", "exposure", "--policy")
PORTFOLIO = ("report", "portfolio", "--as", "financier", "--policy")
DUE = ("--due", "2099-01-31")
AMOUNT = ("--amount", "1000.00")

CASES = [
    # root and usage
    case("root-unknown-option", 2, "--bogus"),
    case("root-unknown-command", 2, "frobnicate"),
    case("root-home-is-a-file", 2, "--home", "/etc/passwd", "node", "status"),
    case("root-rpc-url-not-a-url", 2, "--rpc-url", "not a url", "invoice", "show", "1"),
    case("root-rpc-unreachable", 3, "--rpc-url", DOWN, "invoice", "show", "1"),
    case("root-db-url-mysql", 3, "--db-url", "mysql://scf@localhost/ledger", "invoice", "list"),
    case("root-db-url-garbage", 2, "--db-url", "not a url at all", "invoice", "list"),
    case("root-db-url-not-a-database", 3, "--db-url", "sqlite:///{home}/not-a-db.sqlite", "invoice", "list"),
    case("root-db-url-a-directory", 3, "--db-url", "sqlite:///{home}/a-directory", "invoice", "list"),
    case("root-db-url-missing-directory", 3, "--db-url", "sqlite:///{home}/no/such/dir/l.db", "invoice", "list"),
    case("root-db-url-postgres-down", 3, "--db-url", "postgresql+psycopg://scf@127.0.0.1:9/scf", "invoice", "list"),
    case("global-db-url-after-subcommand", 3, "invoice", "list", "--db-url", "mysql://scf@localhost/ledger"),
    # through the entry point: the `cli` fixture gives --rpc-url before the subcommand already
    case("global-rpc-url-after-subcommand", 3, "invoice", "show", "1", "--rpc-url", DOWN, entry_point=True),
    # account
    case("account-unknown-subcommand", 2, "account", "frobnicate"),
    case("account-list-extra-argument", 2, "account", "list", "extra"),
    case("account-new-missing-name", 2, "account", "new"),
    case("account-new-bad-name", 2, "account", "new", "Bad Name", env={"SCF_PASSWORD": "pw"}),
    case("account-new-dev-name", 2, "account", "new", "operator", env={"SCF_PASSWORD": "pw"}),
    case("account-new-empty-password", 2, "account", "new", "treasury", env={"SCF_PASSWORD": ""}),
    case(
        "account-import-bad-key",
        2,
        "account",
        "import",
        "harbour",
        env={"SCF_PASSWORD": "pw", "SCF_PRIVATE_KEY": "0x1234"},
    ),
    case(
        "account-import-existing-name",
        2,
        "account",
        "import",
        "broken",
        env={"SCF_PASSWORD": "pw", "SCF_PRIVATE_KEY": "0x" + "11" * 32},
    ),
    # compile, db, deploy, node
    case("compile-unknown-option", 2, "compile", "--bogus"),
    case("compile-extra-argument", 2, "compile", "extra"),
    case("db-unknown-subcommand", 2, "db", "frobnicate"),
    case("db-upgrade-extra-argument", 2, "db", "upgrade", "extra"),
    case("db-upgrade-mysql", 3, "--db-url", "mysql://scf@localhost/ledger", "db", "upgrade"),
    case("db-upgrade-not-a-database", 3, "--db-url", "sqlite:///{home}/not-a-db.sqlite", "db", "upgrade"),
    case("deploy-already-deployed", 1, "deploy"),
    case("deploy-unknown-option", 2, "deploy", "--bogus"),
    case("deploy-node-unreachable", 3, "--rpc-url", DOWN, "deploy"),
    case("deploy-force-bad-admin", 2, "deploy", "--force", "--admin", "0x1234"),
    case("deploy-force-unknown-operator", 2, "deploy", "--force", "--operator", "Nobody Ltd"),
    case("deploy-force-unknown-account", 2, "deploy", "--force", "--as", "mallory"),
    case("node-unknown-subcommand", 2, "node", "frobnicate"),
    case("node-start-port-not-a-number", 2, "node", "start", "--port", "abc"),
    case("node-start-port-too-big", 2, "node", "start", "--port", "70000"),
    case("node-start-port-negative", 2, "node", "start", "--port", "-1"),
    case("node-stop-unknown-option", 2, "node", "stop", "--bogus"),
    case("node-status-extra-argument", 2, "node", "status", "extra"),
    case("node-advance-nothing", 2, "node", "advance", "--days", "0"),
    case("node-advance-days-negative", 2, "node", "advance", "--days", "-1"),
    case("node-advance-hours-24", 2, "node", "advance", "--days", "1", "--hours", "24"),
    case("node-advance-missing-days", 2, "node", "advance"),
    case("node-advance-node-unreachable", 3, "--rpc-url", DOWN, "node", "advance", "--days", "1"),
    # invoice issue: missing options
    case("issue-missing-buyer", 2, "invoice", "issue", "--number", "A", *AMOUNT, *DUE),
    case("issue-missing-number", 2, "invoice", "issue", "--buyer", "buyer", *AMOUNT, *DUE),
    case("issue-missing-amount", 2, *ISSUE, *DUE),
    case("issue-missing-due", 2, *ISSUE, *AMOUNT),
    case("issue-unknown-option", 2, *ISSUE, *AMOUNT, *DUE, "--bogus"),
    case("issue-extra-argument", 2, *ISSUE, *AMOUNT, *DUE, "extra"),
    # invoice issue: amounts
    case("issue-amount-negative", 2, *ISSUE, "--amount", "-1", *DUE),
    case("issue-amount-zero", 2, *ISSUE, "--amount", "0", *DUE),
    case("issue-amount-zero-decimals", 2, *ISSUE, "--amount", "0.00", *DUE),
    case("issue-amount-exponent", 2, *ISSUE, "--amount", "1e5", *DUE),
    case("issue-amount-decimal-comma", 2, *ISSUE, "--amount", "12,34", *DUE),
    case("issue-amount-three-places", 2, *ISSUE, "--amount", "1.234", *DUE),
    case("issue-amount-huge", 2, *ISSUE, "--amount", "9" * 90, *DUE),
    case("issue-amount-text", 2, *ISSUE, "--amount", "lots", *DUE),
    case("issue-amount-empty", 2, *ISSUE, "--amount", "", *DUE),
    case("issue-amount-nan", 2, *ISSUE, "--amount", "NaN", *DUE),
    case("issue-amount-infinity", 2, *ISSUE, "--amount", "Infinity", *DUE),
    case("issue-amount-with-currency", 2, *ISSUE, "--amount", "HKD 1,000.00", *DUE),
    # invoice issue: dates
    case("issue-due-february-30", 2, *ISSUE, *AMOUNT, "--due", "2027-02-30"),
    case("issue-due-day-first", 2, *ISSUE, *AMOUNT, "--due", "31/01/2027"),
    case("issue-due-empty", 2, *ISSUE, *AMOUNT, "--due", ""),
    case("issue-due-past", 2, *ISSUE, *AMOUNT, "--due", "2020-01-01"),
    case("issue-due-text", 2, *ISSUE, *AMOUNT, "--due", "next tuesday"),
    # invoice issue: parties, number, currency, document, signer
    case("issue-buyer-unknown", 2, "invoice", "issue", "--buyer", "Nobody Ltd", "--number", "A", *AMOUNT, *DUE),
    case("issue-buyer-short-address", 2, "invoice", "issue", "--buyer", "0x1234", "--number", "A", *AMOUNT, *DUE),
    case("issue-buyer-bad-checksum", 2, "invoice", "issue", "--buyer", BAD_CHECKSUM, "--number", "A", *AMOUNT, *DUE),
    case(
        "issue-buyer-without-buyer-role", 1, "invoice", "issue", "--buyer", "financier", "--number", "A", *AMOUNT, *DUE
    ),
    case("issue-buyer-is-the-supplier", 1, "invoice", "issue", "--buyer", "supplier", "--number", "A", *AMOUNT, *DUE),
    case("issue-number-empty", 2, "invoice", "issue", "--buyer", "buyer", "--number", "", *AMOUNT, *DUE),
    case("issue-number-newline", 2, "invoice", "issue", "--buyer", "buyer", "--number", "INV\n1", *AMOUNT, *DUE),
    case("issue-number-too-long", 2, "invoice", "issue", "--buyer", "buyer", "--number", "N" * 500, *AMOUNT, *DUE),
    case("issue-number-taken", 1, "invoice", "issue", "--buyer", "buyer", "--number", "INV-BAD-5", *AMOUNT, *DUE),
    case(
        "issue-number-taken-other-spelling",
        1,
        "invoice",
        "issue",
        "--buyer",
        "buyer",
        "--number",
        "inv bad 5",
        *AMOUNT,
        *DUE,
    ),
    case("issue-currency-unknown", 2, *ISSUE, *AMOUNT, *DUE, "--currency", "USD"),
    case("issue-currency-empty", 2, *ISSUE, *AMOUNT, *DUE, "--currency", ""),
    case("issue-doc-missing-file", 2, *ISSUE, *AMOUNT, *DUE, "--doc", "{home}/no-such-file.pdf"),
    case("issue-as-unknown-account", 2, *ISSUE, *AMOUNT, *DUE, "--as", "mallory"),
    case("issue-as-corrupt-keystore", 3, *ISSUE, *AMOUNT, *DUE, "--as", "broken", env=UNLOCK),
    case("issue-as-buyer-not-supplier", 1, *ISSUE, *AMOUNT, *DUE, "--as", "buyer2"),
    case("issue-as-suspended-supplier", 1, *ISSUE, *AMOUNT, *DUE, "--as", "supplier2"),
    case("issue-as-non-participant", 1, *ISSUE, *AMOUNT, *DUE, "--as", "dev9"),
    case("issue-node-unreachable", 3, "--rpc-url", DOWN, *ISSUE, *AMOUNT, *DUE),
    # invoice confirm
    case("confirm-missing-id", 2, "invoice", "confirm"),
    case("confirm-id-zero", 2, "invoice", "confirm", "0"),
    case("confirm-id-negative", 2, "invoice", "confirm", "-1"),
    case("confirm-id-text", 2, "invoice", "confirm", "zero"),
    case("confirm-id-80-digits", 2, "invoice", "confirm", UINT_OVERFLOW),
    case("confirm-unknown-id", 2, "invoice", "confirm", "999999"),
    case("confirm-someone-elses-invoice", 1, "invoice", "confirm", "5", "--as", "buyer2"),
    case("confirm-as-the-supplier", 1, "invoice", "confirm", "5", "--as", "supplier"),
    case("confirm-twice", 1, "invoice", "confirm", "6"),
    case("confirm-cancelled", 1, "invoice", "confirm", "3"),
    case("confirm-as-unknown-account", 2, "invoice", "confirm", "5", "--as", "mallory"),
    case("confirm-as-corrupt-keystore", 3, "invoice", "confirm", "5", "--as", "broken", env=UNLOCK),
    case("confirm-node-unreachable", 3, "--rpc-url", DOWN, "invoice", "confirm", "5"),
    # invoice cancel
    case("cancel-unknown-id", 2, "invoice", "cancel", "999999"),
    case("cancel-id-80-digits", 2, "invoice", "cancel", UINT_OVERFLOW),
    case("cancel-confirmed", 1, "invoice", "cancel", "2"),
    case("cancel-twice", 1, "invoice", "cancel", "7"),
    case("cancel-someone-elses-invoice", 1, "invoice", "cancel", "5", "--as", "supplier2"),
    case("cancel-as-the-buyer", 1, "invoice", "cancel", "5", "--as", "buyer"),
    case("cancel-unknown-option", 2, "invoice", "cancel", "5", "--force"),
    # invoice offer
    case("offer-missing-min-advance", 2, "invoice", "offer", "2"),
    case("offer-min-advance-zero", 2, "invoice", "offer", "2", "--min-advance", "0"),
    case("offer-min-advance-negative", 2, "invoice", "offer", "2", "--min-advance", "-1"),
    case("offer-min-advance-three-places", 2, "invoice", "offer", "2", "--min-advance", "1.234"),
    case("offer-min-advance-exponent", 2, "invoice", "offer", "2", "--min-advance", "1e5"),
    case("offer-min-advance-above-open-amount", 1, "invoice", "offer", "2", "--min-advance", "200000.00"),
    case("offer-days-100000", 2, "invoice", "offer", "2", "--min-advance", "1.00", "--days", "100000"),
    case("offer-days-zero", 2, "invoice", "offer", "2", "--min-advance", "1.00", "--days", "0"),
    case("offer-days-negative", 2, "invoice", "offer", "2", "--min-advance", "1.00", "--days", "-1"),
    case("offer-days-text", 2, "invoice", "offer", "2", "--min-advance", "1.00", "--days", "week"),
    case("offer-to-a-buyer", 1, "invoice", "offer", "2", "--min-advance", "1.00", "--to", "buyer2"),
    case("offer-to-unknown", 2, "invoice", "offer", "2", "--min-advance", "1.00", "--to", "Nobody Ltd"),
    case("offer-to-bad-checksum", 2, "invoice", "offer", "2", "--min-advance", "1.00", "--to", BAD_CHECKSUM),
    case("offer-unconfirmed", 1, "invoice", "offer", "5", "--min-advance", "1.00"),
    case("offer-cancelled", 1, "invoice", "offer", "7", "--min-advance", "1.00"),
    case("offer-not-the-holder", 1, "invoice", "offer", "2", "--min-advance", "1.00", "--as", "supplier2"),
    case("offer-unknown-id", 2, "invoice", "offer", "999999", "--min-advance", "1.00"),
    # invoice withdraw
    case("withdraw-unknown-id", 2, "invoice", "withdraw", "999999"),
    case("withdraw-not-listed", 1, "invoice", "withdraw", "2"),
    case("withdraw-not-the-holder", 1, "invoice", "withdraw", "6", "--as", "supplier2"),
    case("withdraw-missing-id", 2, "invoice", "withdraw"),
    # invoice split (invoice 2: confirmed, HKD 80,000.00 open, held by the supplier; 5: issued; 7: cancelled)
    case("split-one-part", 2, "invoice", "split", "2", "--part", "supplier2:80000.00"),
    case("split-part-without-amount", 2, "invoice", "split", "2", "--part", "supplier2", "--keep", "1.00"),
    case("split-zero-part", 2, "invoice", "split", "2", "--part", "supplier2:0.00", "--keep", "80000.00"),
    case("split-sum-short", 2, "invoice", "split", "2", "--part", "supplier2:30000.00", "--keep", "49999.99"),
    case("split-sum-over", 2, "invoice", "split", "2", "--part", "supplier2:30000.00", "--keep", "50000.01"),
    case("split-unknown-holder", 2, "invoice", "split", "2", "--part", "Nobody Ltd:30000.00", "--keep", "50000.00"),
    case("split-unknown-id", 2, "invoice", "split", "999999", "--part", "supplier2:1.00", "--keep", "1.00"),
    case("split-eleven-parts", 2, "invoice", "split", "2", *("--part", "supplier2:1.00") * 11),
    case(
        "split-by-not-the-holder",
        1,
        "invoice",
        "split",
        "2",
        "--as",
        "supplier2",
        "--part",
        "supplier:30000.00",
        "--keep",
        "50000.00",
    ),  # fmt: skip
    case("split-issued", 1, "invoice", "split", "5", "--part", "supplier2:25000.00", "--keep", "25000.00"),
    case("split-cancelled", 1, "invoice", "split", "7", "--part", "supplier2:1.00", "--keep", "1.00"),
    # invoice transfer
    case("transfer-missing-to", 2, "invoice", "transfer", "2"),
    case("transfer-unknown-to", 2, "invoice", "transfer", "2", "--to", "Nobody Ltd"),
    case("transfer-empty-ref", 2, "invoice", "transfer", "2", "--to", "supplier2", "--ref", ""),
    case("transfer-not-the-holder", 1, "invoice", "transfer", "2", "--to", "supplier", "--as", "supplier2"),
    case("transfer-cancelled", 1, "invoice", "transfer", "7", "--to", "supplier2"),
    case("transfer-unknown-id", 2, "invoice", "transfer", "999999", "--to", "supplier2"),
    # invoice finance
    case("finance-unknown-id", 2, "invoice", "finance", "999999", "--advance", "1000.00"),
    case("finance-no-advance-given", 2, "invoice", "finance", "6"),
    case("finance-two-advances", 2, "invoice", "finance", "6", "--advance", "40000", "--advance-rate", "0.9"),
    case("finance-advance-negative", 2, "invoice", "finance", "6", "--advance", "-1"),
    case("finance-advance-zero", 2, "invoice", "finance", "6", "--advance", "0"),
    case("finance-advance-three-places", 2, "invoice", "finance", "6", "--advance", "40000.123"),
    case("finance-advance-decimal-comma", 2, "invoice", "finance", "6", "--advance", "40000,00"),
    case("finance-advance-rate-zero", 2, "invoice", "finance", "6", "--advance-rate", "0"),
    case("finance-advance-rate-1.5", 2, "invoice", "finance", "6", "--advance-rate", "1.5"),
    case("finance-advance-rate-150-percent", 2, "invoice", "finance", "6", "--advance-rate", "150%"),
    case("finance-advance-rate-text", 2, "invoice", "finance", "6", "--advance-rate", "most"),
    case("finance-discount-rate-negative", 2, "invoice", "finance", "6", "--discount-rate", "-0.05"),
    case("finance-discount-rate-text", 2, "invoice", "finance", "6", "--discount-rate", "six"),
    case("finance-due-negative", 2, "invoice", "finance", "6", "--advance", "40000", "--due", "-1"),
    case("finance-advance-above-open-amount", 1, "invoice", "finance", "6", "--advance", "70000.00"),
    case("finance-advance-below-asking", 1, "invoice", "finance", "6", "--advance", "1000.00"),
    case(
        "finance-not-offered-to-this-financier",
        1,
        "invoice",
        "finance",
        "6",
        "--advance",
        "40000",
        "--as",
        "financier2",
    ),
    case("finance-not-offered", 1, "invoice", "finance", "2", "--advance", "40000"),
    case("finance-as-a-buyer", 1, "invoice", "finance", "6", "--advance", "40000", "--as", "buyer"),
    case("finance-as-a-suspended-party", 1, "invoice", "finance", "6", "--advance", "40000", "--as", "supplier2"),
    case("finance-already-financed", 1, "invoice", "finance", "1", "--advance", "1000.00"),
    case("finance-grace-days-366", 2, "invoice", "finance", "6", "--advance", "40000", "--grace-days", "366"),
    case("finance-grace-days-negative", 2, "invoice", "finance", "6", "--advance", "40000", "--grace-days", "-1"),
    case("finance-recourse-takes-no-value", 2, "invoice", "finance", "6", "--advance", "40000", "--recourse", "yes"),
    # invoice repay
    case("repay-missing-amount", 2, "invoice", "repay", "1"),
    case("repay-amount-negative", 2, "invoice", "repay", "1", "--amount", "-1"),
    case("repay-amount-zero", 2, "invoice", "repay", "1", "--amount", "0"),
    case("repay-amount-exponent", 2, "invoice", "repay", "1", "--amount", "1e5"),
    case("repay-amount-decimal-comma", 2, "invoice", "repay", "1", "--amount", "12,34"),
    case("repay-amount-three-places", 2, "invoice", "repay", "1", "--amount", "1.234"),
    case("repay-amount-huge", 2, "invoice", "repay", "1", "--amount", "9" * 90),
    case("repay-cancelled", 1, "invoice", "repay", "3", "--amount", "10.00"),
    case("repay-unconfirmed", 1, "invoice", "repay", "5", "--amount", "10.00"),
    case("repay-paid", 1, "invoice", "repay", "4", "--amount", "10.00"),
    case("repay-more-than-open", 1, "invoice", "repay", "1", "--amount", "200000.00"),
    case("repay-not-the-buyer", 1, "invoice", "repay", "2", "--amount", "10.00", "--as", "buyer"),
    case("repay-unknown-id", 2, "invoice", "repay", "999999", "--amount", "10.00"),
    # invoice dispute, resolve, credit-note, extend, accept-extension, default, write-off, buy-back (issue 14)
    case("dispute-missing-reason", 2, "invoice", "dispute", "1", "--as", "buyer"),
    case("dispute-empty-reason", 2, "invoice", "dispute", "1", "--reason", "", "--as", "buyer"),
    case("dispute-unknown-id", 2, "invoice", "dispute", "999999", "--reason", "late", "--as", "buyer"),
    case("dispute-not-the-buyer", 1, "invoice", "dispute", "1", "--reason", "late", "--as", "buyer2"),
    case("dispute-paid", 1, "invoice", "dispute", "4", "--reason", "late", "--as", "buyer"),
    case("dispute-issued", 1, "invoice", "dispute", "5", "--reason", "late", "--as", "buyer"),
    case("resolve-not-disputed", 1, "invoice", "resolve", "1", "--as", "buyer"),
    case("resolve-not-the-buyer", 1, "invoice", "resolve", "1", "--as", "buyer2"),
    case("resolve-id-zero", 2, "invoice", "resolve", "0"),
    case("resolve-unknown-id", 2, "invoice", "resolve", "999999"),
    case("credit-note-missing-amount", 2, "invoice", "credit-note", "2"),
    case("credit-note-amount-zero", 2, "invoice", "credit-note", "2", "--amount", "0"),
    case("credit-note-amount-three-places", 2, "invoice", "credit-note", "2", "--amount", "1.234"),
    case("credit-note-above-open-amount", 2, "invoice", "credit-note", "2", "--amount", "80000.01"),
    case("credit-note-empty-note", 2, "invoice", "credit-note", "2", "--amount", "1.00", "--note", ""),
    case("credit-note-by-the-financier", 1, "invoice", "credit-note", "1", "--amount", "1.00", "--as", "financier"),
    case("credit-note-cancelled", 1, "invoice", "credit-note", "3", "--amount", "1.00", "--as", "supplier2"),
    case("extend-missing-to", 2, "invoice", "extend", "1", "--as", "buyer"),
    case("extend-february-30", 2, "invoice", "extend", "1", "--to", "2099-02-30", "--as", "buyer"),
    case("extend-earlier-date", 2, "invoice", "extend", "1", "--to", "2098-12-31", "--as", "buyer"),
    case("extend-not-the-buyer", 1, "invoice", "extend", "1", "--to", "2099-06-30", "--as", "buyer2"),
    case("extend-paid", 1, "invoice", "extend", "4", "--to", "2099-06-30", "--as", "buyer"),
    case("accept-extension-none-proposed", 1, "invoice", "accept-extension", "1", "--as", "financier"),
    case("accept-extension-not-the-holder", 1, "invoice", "accept-extension", "1", "--as", "supplier"),
    case("accept-extension-date-day-first", 2, "invoice", "accept-extension", "1", "--date", "30/06/2099"),
    case("default-before-grace", 1, "invoice", "default", "1", "--as", "financier"),
    case("default-not-the-holder", 1, "invoice", "default", "2", "--as", "buyer2"),
    case("default-unknown-id", 2, "invoice", "default", "999999"),
    case("default-cancelled", 1, "invoice", "default", "3", "--as", "supplier2"),
    case("write-off-not-defaulted", 1, "invoice", "write-off", "1", "--as", "financier"),
    case("write-off-not-the-holder", 1, "invoice", "write-off", "2", "--as", "buyer2"),
    case("write-off-id-text", 2, "invoice", "write-off", "first"),
    case("buy-back-not-defaulted", 1, "invoice", "buy-back", "1"),
    case("buy-back-unknown-id", 2, "invoice", "buy-back", "999999"),
    case("buy-back-id-80-digits", 2, "invoice", "buy-back", UINT_OVERFLOW),
    # invoice show, history, list
    case("show-unknown-id", 2, "invoice", "show", "999999"),
    case("show-id-80-digits", 2, "invoice", "show", UINT_OVERFLOW),
    case("show-id-zero", 2, "invoice", "show", "0"),
    case("show-as-of-block-negative", 2, "invoice", "show", "1", "--as-of-block", "-1"),
    case("show-as-of-block-text", 2, "invoice", "show", "1", "--as-of-block", "latest"),
    case("show-as-of-block-beyond-index", 2, "invoice", "show", "1", "--as-of-block", "99999999"),
    case("show-csv-not-offered", 2, "invoice", "show", "1", "--csv"),
    case("history-unknown-id", 2, "invoice", "history", "999999"),
    case("history-id-80-digits", 2, "invoice", "history", UINT_OVERFLOW),
    case("history-json-and-csv", 2, "invoice", "history", "1", "--json", "--csv"),
    case("history-as-of-block-negative", 2, "invoice", "history", "1", "--as-of-block", "-5"),
    case("list-status-unknown", 2, "invoice", "list", "--status", "Lost"),
    case("list-status-empty", 2, "invoice", "list", "--status", ""),
    case("list-limit-zero", 2, "invoice", "list", "--limit", "0"),
    case("list-limit-negative", 2, "invoice", "list", "--limit", "-1"),
    case("list-due-before-february-30", 2, "invoice", "list", "--due-before", "2027-02-30"),
    case("list-due-before-day-first", 2, "invoice", "list", "--due-before", "31/01/2027"),
    case("list-due-before-empty", 2, "invoice", "list", "--due-before", ""),
    case("list-supplier-unknown", 2, "invoice", "list", "--supplier", "Nobody Ltd"),
    case("list-buyer-short-address", 2, "invoice", "list", "--buyer", "0x1234"),
    case("list-holder-bad-checksum", 2, "invoice", "list", "--holder", BAD_CHECKSUM),
    case("list-json-and-csv", 2, "invoice", "list", "--json", "--csv"),
    case("list-as-of-block-negative", 2, "invoice", "list", "--as-of-block", "-1"),
    case("list-as-of-block-beyond-index", 2, "invoice", "list", "--as-of-block", "99999999"),
    case("list-number-empty", 2, "invoice", "list", "--number", ""),
    case("list-unknown-option", 2, "invoice", "list", "--overdue-by", "3"),
    case("list-extra-argument", 2, "invoice", "list", "1"),
    case("list-database-unreadable", 3, "--db-url", "sqlite:///{home}/a-directory", "invoice", "history", "1"),
    case("list-currency-unknown", 2, "invoice", "list", "--currency", "USD"),
    case("list-financier-unknown", 2, "invoice", "list", "--financier", "Nobody Ltd"),
    case("list-due-after-february-30", 2, "invoice", "list", "--due-after", "2027-02-30"),
    case("list-overdue-takes-no-value", 2, "invoice", "list", "--overdue", "3"),
    case("overdue-as-of-february-30", 2, "invoice", "overdue", "--as-of", "2027-02-30"),
    case("overdue-as-of-day-first", 2, "invoice", "overdue", "--as-of", "31/01/2027"),
    case("overdue-json-and-csv", 2, "invoice", "overdue", "--json", "--csv"),
    case("overdue-extra-argument", 2, "invoice", "overdue", "1"),
    case("invoice-unknown-subcommand", 2, "invoice", "frobnicate"),
    # participant
    case(
        "participant-add-name-5000-chars",
        2,
        "participant",
        "add",
        "N" * 5000,
        "--address",
        "dev9",
        "--role",
        "supplier",
    ),
    case(
        "participant-add-name-newline", 2, "participant", "add", "Evil\nLtd", "--address", "dev9", "--role", "supplier"
    ),
    case(
        "participant-add-name-escape",
        2,
        "participant",
        "add",
        "Evil\x1b[2J Ltd",
        "--address",
        "dev9",
        "--role",
        "supplier",
    ),
    case(
        "participant-add-name-like-an-address",
        2,
        "participant",
        "add",
        "0x" + "5" * 40,
        "--address",
        "dev9",
        "--role",
        "supplier",
    ),
    case("participant-add-name-empty", 2, "participant", "add", "", "--address", "dev9", "--role", "supplier"),
    case(
        "participant-add-name-taken",
        2,
        "participant",
        "add",
        "Tsuen Wan Electronics Ltd",
        "--address",
        "dev9",
        "--role",
        "supplier",
    ),
    case(
        "participant-add-bad-checksum",
        2,
        "participant",
        "add",
        "X Ltd",
        "--address",
        BAD_CHECKSUM,
        "--role",
        "supplier",
    ),
    case(
        "participant-add-short-address", 2, "participant", "add", "X Ltd", "--address", "0x1234", "--role", "supplier"
    ),
    case(
        "participant-add-zero-address",
        2,
        "participant",
        "add",
        "X Ltd",
        "--address",
        "0x" + "0" * 40,
        "--role",
        "supplier",
    ),
    case(
        "participant-add-contract-address",
        2,
        "participant",
        "add",
        "X Ltd",
        "--address",
        "{contract}",
        "--role",
        "supplier",
    ),
    case("participant-add-already-admitted", 1, "participant", "add", "X Ltd", "--address", "buyer", "--role", "buyer"),
    case("participant-add-unknown-role", 2, "participant", "add", "X Ltd", "--address", "dev9", "--role", "banker"),
    case("participant-add-empty-role", 2, "participant", "add", "X Ltd", "--address", "dev9", "--role", ""),
    case("participant-add-missing-role", 2, "participant", "add", "X Ltd", "--address", "dev9"),
    case("participant-add-missing-address", 2, "participant", "add", "X Ltd", "--role", "buyer"),
    case(
        "participant-add-kyc-past",
        2,
        "participant",
        "add",
        "X Ltd",
        "--address",
        "dev9",
        "--role",
        "buyer",
        "--kyc-until",
        "2020-01-01",
    ),
    case(
        "participant-add-kyc-february-30",
        2,
        "participant",
        "add",
        "X Ltd",
        "--address",
        "dev9",
        "--role",
        "buyer",
        "--kyc-until",
        "2027-02-30",
    ),
    case(
        "participant-add-kyc-day-first",
        2,
        "participant",
        "add",
        "X Ltd",
        "--address",
        "dev9",
        "--role",
        "buyer",
        "--kyc-until",
        "31/01/2027",
    ),
    case(
        "participant-add-as-non-operator",
        1,
        "participant",
        "add",
        "X Ltd",
        "--address",
        "dev9",
        "--role",
        "buyer",
        "--as",
        "supplier",
    ),
    case("participant-update-unknown", 2, "participant", "update", "Nobody Ltd", "--name", "Y Ltd"),
    case("participant-update-nothing-to-change", 2, "participant", "update", "buyer"),
    case("participant-update-unknown-role", 2, "participant", "update", "buyer", "--role", "banker"),
    case("participant-update-kyc-past", 2, "participant", "update", "buyer", "--kyc-until", "2020-01-01"),
    case("participant-update-name-newline", 2, "participant", "update", "buyer", "--name", "A\nB"),
    case("participant-update-name-like-an-address", 2, "participant", "update", "buyer", "--name", "0x" + "4" * 40),
    case("participant-update-name-5000-chars", 2, "participant", "update", "buyer", "--name", "N" * 5000),
    case("participant-update-as-non-operator", 1, "participant", "update", "buyer", "--name", "Y Ltd", "--as", "buyer"),
    case("participant-suspend-twice", 1, "participant", "suspend", "supplier2"),
    case("participant-reinstate-active", 1, "participant", "reinstate", "buyer2"),
    case("participant-suspend-unknown", 2, "participant", "suspend", "Nobody Ltd"),
    case("participant-suspend-short-address", 2, "participant", "suspend", "0x1234"),
    case("participant-suspend-as-non-operator", 1, "participant", "suspend", "buyer", "--as", "financier"),
    case("participant-reinstate-as-non-operator", 1, "participant", "reinstate", "supplier2", "--as", "buyer"),
    case("participant-suspend-missing-who", 2, "participant", "suspend"),
    case("participant-list-json-and-csv", 2, "participant", "list", "--json", "--csv"),
    case("participant-list-as-of-block-negative", 2, "participant", "list", "--as-of-block", "-1"),
    case("participant-list-extra-argument", 2, "participant", "list", "extra"),
    # pause, unpause
    case("pause-as-non-operator", 1, "pause", "--as", "supplier"),
    case("pause-as-unknown-account", 2, "pause", "--as", "mallory"),
    case("pause-extra-argument", 2, "pause", "now"),
    case("unpause-not-paused", 1, "unpause"),
    case("unpause-unknown-option", 2, "unpause", "--bogus"),
    case("pause-node-unreachable", 3, "--rpc-url", DOWN, "pause"),
    # token
    case("approve-missing-as", 2, "token", "approve", "--amount", "10.00"),
    case("approve-amount-negative", 2, "token", "approve", "--amount", "-1", "--as", "supplier"),
    case("approve-amount-three-places", 2, "token", "approve", "--amount", "1.234", "--as", "supplier"),
    case(
        "approve-currency-unknown", 2, "token", "approve", "--amount", "1.00", "--currency", "XYZ", "--as", "supplier"
    ),
    case("transfer-missing-as", 2, "token", "transfer", "--to", "buyer2", "--amount", "10.00"),
    case("transfer-missing-to", 2, "token", "transfer", "--amount", "10.00", "--as", "buyer"),
    case("transfer-amount-zero", 2, "token", "transfer", "--to", "buyer2", "--amount", "0", "--as", "buyer"),
    case("transfer-amount-negative", 2, "token", "transfer", "--to", "buyer2", "--amount", "-1", "--as", "buyer"),
    case(
        "transfer-amount-three-places", 2, "token", "transfer", "--to", "buyer2", "--amount", "1.234", "--as", "buyer"
    ),
    case("transfer-amount-exponent", 2, "token", "transfer", "--to", "buyer2", "--amount", "1e5", "--as", "buyer"),
    case("transfer-to-unknown", 2, "token", "transfer", "--to", "Nobody Ltd", "--amount", "10.00", "--as", "buyer"),
    case(
        "transfer-to-bad-checksum", 2, "token", "transfer", "--to", BAD_CHECKSUM, "--amount", "10.00", "--as", "buyer"
    ),
    case(
        "transfer-currency-unknown",
        2,
        "token",
        "transfer",
        "--to",
        "buyer2",
        "--amount",
        "10.00",
        "--as",
        "buyer",
        "--currency",
        "USD",
    ),
    case(
        "transfer-more-than-balance",
        1,
        "token",
        "transfer",
        "--to",
        "buyer2",
        "--amount",
        "999999999.00",
        "--as",
        "buyer",
    ),
    case("transfer-from-empty-account", 1, "token", "transfer", "--to", "buyer2", "--amount", "10.00", "--as", "dev9"),
    case(
        "transfer-as-unknown-account", 2, "token", "transfer", "--to", "buyer2", "--amount", "10.00", "--as", "mallory"
    ),
    case(
        "transfer-as-corrupt-keystore",
        3,
        "token",
        "transfer",
        "--to",
        "buyer2",
        "--amount",
        "10.00",
        "--as",
        "broken",
        env=UNLOCK,
    ),
    case("mint-amount-zero", 2, "token", "mint", "--to", "buyer", "--amount", "0"),
    case("mint-amount-negative", 2, "token", "mint", "--to", "buyer", "--amount", "-1"),
    case("mint-amount-three-places", 2, "token", "mint", "--to", "buyer", "--amount", "1.234"),
    case("mint-amount-exponent", 2, "token", "mint", "--to", "buyer", "--amount", "1e5"),
    case("mint-amount-huge", 2, "token", "mint", "--to", "buyer", "--amount", "9" * 90),
    case("mint-amount-text", 2, "token", "mint", "--to", "buyer", "--amount", "plenty"),
    case("mint-missing-to", 2, "token", "mint", "--amount", "10.00"),
    case("mint-missing-amount", 2, "token", "mint", "--to", "buyer"),
    case("mint-to-unknown", 2, "token", "mint", "--to", "Nobody Ltd", "--amount", "10.00"),
    case("mint-to-bad-checksum", 2, "token", "mint", "--to", BAD_CHECKSUM, "--amount", "10.00"),
    case("mint-currency-unknown", 2, "token", "mint", "--to", "buyer", "--amount", "10.00", "--currency", "USD"),
    case("mint-as-non-minter", 1, "token", "mint", "--to", "buyer", "--amount", "10.00", "--as", "buyer"),
    case(
        "mint-as-corrupt-keystore",
        3,
        "token",
        "mint",
        "--to",
        "buyer",
        "--amount",
        "10.00",
        "--as",
        "broken",
        env=UNLOCK,
    ),
    case("balance-missing-who", 2, "token", "balance"),
    case("balance-unknown", 2, "token", "balance", "Nobody Ltd"),
    case("balance-short-address", 2, "token", "balance", "0x1234"),
    case("balance-bad-checksum", 2, "token", "balance", BAD_CHECKSUM),
    case("balance-currency-unknown", 2, "token", "balance", "buyer", "--currency", "USD"),
    case("balance-node-unreachable", 3, "--rpc-url", DOWN, "token", "balance", "buyer"),
    case("token-unknown-subcommand", 2, "token", "burn"),
    # finance
    case("quote-unknown-id", 2, "finance", "quote", "999999", "--policy", POLICY),
    case("quote-id-80-digits", 2, "finance", "quote", UINT_OVERFLOW, "--policy", POLICY),
    case("quote-as-a-supplier", 1, "finance", "quote", "2", "--as", "supplier", "--policy", POLICY),
    case("quote-as-a-buyer", 1, "finance", "quote", "2", "--as", "buyer", "--policy", POLICY),
    case("quote-as-unknown", 2, "finance", "quote", "2", "--as", "Nobody Ltd", "--policy", POLICY),
    case("quote-policy-missing", 2, "finance", "quote", "2", "--policy", "{home}/no-such-policy.toml"),
    case("quote-policy-unparseable", 2, "finance", "quote", "2", "--policy", "{home}/unparseable.toml"),
    case("quote-policy-advance-rate-1.5", 2, "finance", "quote", "2", "--policy", "{home}/policy-advance_rate.toml"),
    case("quote-policy-spread-150-percent", 2, "finance", "quote", "2", "--policy", "{home}/policy-spread.toml"),
    case("quote-policy-unknown-key", 2, "finance", "quote", "2", "--policy", "{home}/policy-unknown-key.toml"),
    case("quote-policy-book-negative", 2, "finance", "quote", "2", "--policy", "{home}/policy-negative-book.toml"),
    case("quote-policy-not-toml-file", 2, "finance", "quote", "2", "--policy", "{home}/not-a-db.sqlite"),
    case("auto-max-zero", 2, "finance", "auto", "--max", "0", "--policy", POLICY),
    case("auto-as-a-supplier", 1, "finance", "auto", "--as", "supplier", "--policy", POLICY, "--dry-run"),
    case("auto-policy-missing", 2, "finance", "auto", "--policy", "{home}/no-such-policy.toml"),
    case("auto-policy-unparseable", 2, "finance", "auto", "--policy", "{home}/unparseable.toml", "--dry-run"),
    case("execute-unknown-decision", 2, "finance", "execute", "999999"),
    case("execute-decision-zero", 2, "finance", "execute", "0"),
    case("execute-declined-decision", 1, "finance", "execute", "1"),
    case("execute-as-corrupt-keystore", 3, "finance", "execute", "1", "--as", "broken", env=UNLOCK),
    case("cancel-decision-unknown", 2, "finance", "cancel", "999999"),
    case("cancel-decision-zero", 2, "finance", "cancel", "0"),
    case("cancel-decision-declined", 1, "finance", "cancel", "1"),
    case("cancel-decision-missing-id", 2, "finance", "cancel"),
    case("decision-show-unknown", 2, "finance", "show", "999999"),
    case("decision-show-text-id", 2, "finance", "show", "first"),
    case("finance-list-status-unknown", 2, "finance", "list", "--status", "pending"),
    case("finance-list-limit-zero", 2, "finance", "list", "--limit", "0"),
    case("finance-list-invoice-zero", 2, "finance", "list", "--invoice", "0"),
    case("finance-list-financier-unknown", 2, "finance", "list", "--financier", "Nobody Ltd"),
    case("finance-list-json-and-csv", 2, "finance", "list", "--json", "--csv"),
    # report
    case("aging-as-of-february-30", 2, "report", "aging", "--as-of", "2027-02-30"),
    case("aging-as-of-day-first", 2, "report", "aging", "--as-of", "31/01/2027"),
    case("aging-as-of-empty", 2, "report", "aging", "--as-of", ""),
    case("aging-holder-unknown", 2, "report", "aging", "--holder", "Nobody Ltd"),
    case("aging-json-and-csv", 2, "report", "aging", "--json", "--csv"),
    case("exposure-by-unknown", 2, "report", "exposure", "--by", "country"),
    case("exposure-financier-unknown", 2, "report", "exposure", "--financier", "Nobody Ltd"),
    case("exposure-policy-missing", 2, "report", "exposure", "--policy", "{home}/no-such-policy.toml"),
    case("exposure-policy-unparseable", 2, "report", "exposure", "--policy", "{home}/unparseable.toml"),
    case("exposure-json-and-csv", 2, "report", "exposure", "--json", "--csv"),
    case("portfolio-missing-as", 2, "report", "portfolio"),
    case("portfolio-as-a-buyer", 1, "report", "portfolio", "--as", "buyer"),
    case("portfolio-as-unknown", 2, "report", "portfolio", "--as", "Nobody Ltd"),
    case("portfolio-as-of-february-30", 2, "report", "portfolio", "--as", "financier", "--as-of", "2027-02-30"),
    case(
        "portfolio-policy-missing",
        2,
        "report",
        "portfolio",
        "--as",
        "financier",
        "--policy",
        "{home}/no-such-policy.toml",
    ),
    case("portfolio-json-and-csv", 2, "report", "portfolio", "--as", "financier", "--json", "--csv"),
    case("report-database-unreadable", 3, "--db-url", "sqlite:///{home}/not-a-db.sqlite", "report", "aging"),
    # events, status
    case("events-from-block-negative", 2, "events", "--from-block", "-1"),
    case("events-from-after-to", 2, "events", "--from-block", "10", "--to-block", "5"),
    case("events-type-unknown", 2, "events", "--type", "InvoiceStolen"),
    case("events-party-unknown", 2, "events", "--party", "Nobody Ltd"),
    case("events-party-bad-checksum", 2, "events", "--party", BAD_CHECKSUM),
    case("events-invoice-zero", 2, "events", "--invoice", "0"),
    case("events-limit-zero", 2, "events", "--limit", "0"),
    case("events-json-and-csv", 2, "events", "--json", "--csv"),
    case("events-database-unreadable", 3, "--db-url", "sqlite:///{home}/not-a-db.sqlite", "events"),
    case("status-extra-argument", 2, "status", "extra"),
    case("status-unknown-option", 2, "status", "--csv"),
    # index, verify
    case("index-sync-to-block-negative", 2, "index", "sync", "--to-block", "-1"),
    case("index-sync-workers-unknown", 2, "index", "sync", "--workers", "gpu"),
    case("index-sync-confirmations-negative", 2, "index", "sync", "--confirmations", "-1"),
    case("index-sync-node-unreachable", 3, "--rpc-url", DOWN, "index", "sync"),
    case("index-sync-database-unreadable", 3, "--db-url", "sqlite:///{home}/a-directory", "index", "sync"),
    case("index-follow-poll-interval-zero", 2, "index", "follow", "--poll-interval", "0"),
    case("index-follow-confirmations-text", 2, "index", "follow", "--confirmations", "six"),
    case("index-status-extra-argument", 2, "index", "status", "extra"),
    case("index-status-not-a-database", 3, "--db-url", "sqlite:///{home}/not-a-db.sqlite", "index", "status"),
    case("index-rebuild-unknown-option", 2, "index", "rebuild", "--yes-really"),
    case("verify-batch-size-zero", 2, "verify", "--batch-size", "0"),
    case("verify-batch-size-too-big", 2, "verify", "--batch-size", "5001"),
    case("verify-node-unreachable", 3, "--rpc-url", DOWN, "verify"),
    case("verify-database-unreadable", 3, "--db-url", "sqlite:///{home}/not-a-db.sqlite", "verify"),
    # api-key, serve (refused before a key is written or a socket opened)
    case("api-key-for-unknown-party", 2, "api-key", "create", "--for", "Nobody Trading Ltd"),
    case("api-key-for-bad-checksum", 2, "api-key", "create", "--for", BAD_CHECKSUM),
    case("api-key-expires-in-the-past", 2, "api-key", "create", "--for", "buyer", "--expires", "2020-01-31"),
    case("api-key-expires-not-a-date", 2, "api-key", "create", "--for", "buyer", "--expires", "next week"),
    case("api-key-for-nobody", 2, "api-key", "create"),
    case("api-key-operator-and-for", 2, "api-key", "create", "--operator", "--for", "buyer", "--label", "x"),
    case("api-key-operator-without-label", 2, "api-key", "create", "--operator"),
    case("api-key-revoke-not-an-id", 2, "api-key", "revoke", "zzzz"),
    case("api-key-revoke-unknown", 2, "api-key", "revoke", "deadbeef"),
    case("api-key-list-extra-argument", 2, "api-key", "list", "extra"),
    case("serve-public-host-without-public", 2, "serve", "--host", "0.0.0.0", "--port", "0"),
    case("serve-port-out-of-range", 2, "serve", "--port", "70000"),
    case("serve-poll-interval-zero", 2, "serve", "--follow", "--poll-interval", "0"),
    case("serve-host-not-an-address", 2, "serve", "--host", "no such host!", "--port", "0"),
    case("serve-database-unreadable", 3, "--db-url", "sqlite:///{home}/not-a-db.sqlite", "serve", "--port", "0"),
    # account fund, and the settings of issue 17 (refused before anything is sent)
    case("account-fund-zero", 2, "account", "fund", "buyer", "--amount", "0", "--as", "operator"),
    case("account-fund-negative", 2, "account", "fund", "buyer", "--amount", "-1", "--as", "operator"),
    case(
        "account-fund-below-a-wei", 2, "account", "fund", "buyer", "--amount", "0." + "0" * 18 + "1", "--as", "operator"
    ),
    case("account-fund-not-a-number", 2, "account", "fund", "buyer", "--amount", "ten", "--as", "operator"),
    case("account-fund-unknown-target", 2, "account", "fund", "nobody-here", "--amount", "1", "--as", "operator"),
    case("account-fund-bad-checksum", 2, "account", "fund", BAD_CHECKSUM, "--amount", "1", "--as", "operator"),
    case("account-fund-without-as", 2, "account", "fund", "buyer", "--amount", "1"),
    case("account-fund-a-contract", 2, "account", "fund", "{contract}", "--amount", "1", "--as", "operator"),
    case("account-fund-more-than-held", 1, "account", "fund", "buyer", "--amount", "100000000", "--as", "operator"),
    case("account-fund-as-unknown", 2, "account", "fund", "buyer", "--amount", "1", "--as", "nobody-here"),
    case(
        "account-fund-as-corrupt-keystore", 3, "account", "fund", "buyer", "--amount", "1", "--as", "broken", env=UNLOCK
    ),
    case("settings-confirmations-negative", 3, "index", "sync", env={"SCF_CONFIRMATIONS": "-1"}),
    case("settings-confirmations-not-a-number", 3, "index", "sync", env={"SCF_CONFIRMATIONS": "six"}),
    case("settings-sync-not-a-flag", 3, "invoice", "confirm", "5", "--as", "buyer", env={"SCF_SYNC": "maybe"}),
    # issue 18: the subcommands no case reached, and those with one case
    case("tree-unknown-id", 2, "invoice", "tree", "999999", says="invoice 999999 does not exist"),
    case("tree-id-zero", 2, "invoice", "tree", "0"),
    case("tree-id-80-digits", 2, "invoice", "tree", UINT_OVERFLOW),
    case("tree-as-of-block-negative", 2, "invoice", "tree", "1", "--as-of-block", "-1"),
    case("tree-as-of-block-beyond-index", 2, "invoice", "tree", "1", "--as-of-block", "99999999"),
    case("tree-csv-not-offered", 2, "invoice", "tree", "1", "--csv"),
    case("tree-database-unreadable", 3, "--db-url", "sqlite:///{home}/not-a-db.sqlite", "invoice", "tree", "1"),
    case("withdraw-offer-unknown-id", 2, "invoice", "withdraw-offer", "999999"),
    case("withdraw-offer-not-listed", 1, "invoice", "withdraw-offer", "2"),
    case("withdraw-offer-not-the-holder", 1, "invoice", "withdraw-offer", "6", "--as", "supplier2"),
    case("withdraw-offer-missing-id", 2, "invoice", "withdraw-offer"),
    case("withdraw-offer-node-unreachable", 3, "--rpc-url", DOWN, "invoice", "withdraw-offer", "6"),
    case("defaults-as-of-february-30", 2, "report", "defaults", "--as-of", "2027-02-30"),
    case("defaults-as-of-day-first", 2, "report", "defaults", "--as-of", "31/01/2027"),
    case("defaults-holder-unknown", 2, "report", "defaults", "--holder", "Nobody Ltd"),
    case("defaults-buyer-bad-checksum", 2, "report", "defaults", "--buyer", BAD_CHECKSUM),
    case("defaults-json-and-csv", 2, "report", "defaults", "--json", "--csv"),
    case("defaults-database-unreadable", 3, "--db-url", "sqlite:///{home}/not-a-db.sqlite", "report", "defaults"),
    case("disputes-as-of-february-30", 2, "report", "disputes", "--as-of", "2027-02-30"),
    case("disputes-buyer-unknown", 2, "report", "disputes", "--buyer", "Nobody Ltd"),
    case("disputes-buyer-short-address", 2, "report", "disputes", "--buyer", "0x1234"),
    case("disputes-open-takes-no-value", 2, "report", "disputes", "--open", "yes"),
    case("disputes-json-and-csv", 2, "report", "disputes", "--json", "--csv"),
    case("disputes-database-unreadable", 3, "--db-url", "sqlite:///{home}/a-directory", "report", "disputes"),
    case("tiers-buyer-unknown", 2, "report", "tiers", "--buyer", "Nobody Ltd"),
    case("tiers-buyer-short-address", 2, "report", "tiers", "--buyer", "0x1234"),
    case("tiers-json-and-csv", 2, "report", "tiers", "--json", "--csv"),
    case("tiers-extra-argument", 2, "report", "tiers", "extra"),
    case("tiers-database-unreadable", 3, "--db-url", "sqlite:///{home}/not-a-db.sqlite", "report", "tiers"),
    case("account-list-unknown-option", 2, "account", "list", "--csv"),
    case("node-stop-extra-argument", 2, "node", "stop", "now"),
    case("index-rebuild-extra-argument", 2, "index", "rebuild", "now"),
    case("index-rebuild-not-a-database", 3, "--db-url", "sqlite:///{home}/not-a-db.sqlite", "index", "rebuild"),
    case("api-key-list-unknown-option", 2, "api-key", "list", "--csv"),
    case("api-key-list-database-unreadable", 3, "--db-url", "sqlite:///{home}/not-a-db.sqlite", "api-key", "list"),
    # issue 18: policy files, given (--policy FILE) to each command that reads one, or found
    *(
        case(f"{name}-policy-{policy}", 2, *argv, f"{{home}}/policy-{policy}.toml", says=says)
        for name, argv, policy, says in [
            ("exposure", EXPOSURE, "syntax-error", "not valid TOML: Expected ']'"),
            ("quote", QUOTE, "unknown-table", "unknown key decisions"),
            ("auto", AUTO, "unknown-grade-key", "unknown key grades.A.max_dispute;"),
            ("exposure", EXPOSURE, "book-a-boolean", "limits.book must be an amount"),
            ("portfolio", PORTFOLIO, "currencies-not-a-list", "eligibility.currencies must be a list"),
            ("quote", QUOTE, "tenor-as-text", "eligibility.max_tenor_days must be a whole number of days"),
            ("exposure", EXPOSURE, "tenor-reversed", "must be at least min_tenor_days (700), got 180"),
            ("exposure", EXPOSURE, "negative-buyer-line", 'limits.buyers."Tsuen Wan Electronics Ltd" must be'),
            ("auto", AUTO, "negative-fee", 'pricing.fee_fixed must be an amount in major units such as "5000000.00"'),
            ("quote", QUOTE, "advance-rate-101-percent", 'advance_rate must be above 0 and at most 1, got "101%"'),
            ("exposure", EXPOSURE, "concentration-140-percent", "limits.concentration must be above 0 and at most 1"),
            ("portfolio", PORTFOLIO, "missing-base-rate", "pricing.base_rate is missing"),
            ("exposure", EXPOSURE, "only-decision", "[eligibility] is missing"),
            ("quote", QUOTE, "duplicate-buyer", "not valid TOML: Cannot overwrite a value (at line"),
            ("exposure", EXPOSURE, "duplicate-buyer-other-case", 'gives "TSUEN WAN ELECTRONICS LTD" a second line'),
            ("portfolio", PORTFOLIO, "unknown-grade", 'no_history must name one of the grades (A, B, C), got "Z"'),
            ("exposure", EXPOSURE, "grade-name-with-space", "grades.C C is not a valid grade name"),
            ("auto", AUTO, "day-count-30-360", 'pricing.day_count must be "ACT/360" or "ACT/365", got "30/360"'),
            ("quote", QUOTE, "valid-minutes-zero", "decision.valid_minutes must be a whole number of minutes"),
            ("exposure", EXPOSURE, "book-400-digits", "limits.book must have at most 18 digits before the decimal"),
            ("quote", QUOTE, "book-1e400", "at most 18 digits before the decimal point and 28 in all, got 1E+400"),
            ("portfolio", PORTFOLIO, "buyer-line-1e30", 'limits.buyers."Tsuen Wan Electronics Ltd" must have at most'),
            ("exposure", EXPOSURE, "base-rate-nan", "pricing.base_rate must be a rate"),
            ("exposure", EXPOSURE, "rate-11-places", "pricing.base_rate must have at most 10 decimal places"),
            ("exposure", EXPOSURE, "bom-then-unknown-key", "unknown-key.toml: unknown key pricing_extra;"),
            ("exposure", EXPOSURE, "empty", "[eligibility] is missing"),
            ("quote", QUOTE, "latin-1", "cannot read the policy file: not UTF-8 text; save it as UTF-8 and run"),
            ("exposure", EXPOSURE, "utf-16", "cannot read the policy file: not UTF-8 text"),
            ("auto", AUTO, "binary", "cannot read the policy file: not UTF-8 text"),
        ]
    ),
    case("exposure-policy-a-directory", 2, *EXPOSURE, "{home}/a-directory", says="is a directory"),
    case("quote-policy-not-a-file", 2, *QUOTE, "/dev/null", says="/dev/null: [eligibility] is missing"),
    case(
        "quote-policy-found-for-the-financier",
        2,
        "finance",
        "quote",
        "6",
        "--as",
        "financier2",
        says="{home}/policies/financier2.toml: not valid TOML",
    ),
    case(
        "exposure-policy-found-for-the-financier",
        2,
        "report",
        "exposure",
        "--financier",
        "financier2",
        says="{home}/policies/financier2.toml: not valid TOML",
    ),
    # through the real entry point (stderr and stdout apart)
    case("scf-show-unknown-id", 2, "invoice", "show", "999999", entry_point=True),
    case("scf-node-unreachable", 3, "--rpc-url", DOWN, "token", "balance", "buyer", entry_point=True),
    case("scf-db-url-mysql", 3, "--db-url", "mysql://scf@localhost/ledger", "invoice", "list", entry_point=True),
    case("scf-corrupt-keystore", 3, "invoice", "confirm", "5", "--as", "broken", env=UNLOCK, entry_point=True),
    case("scf-confirm-someone-elses", 1, "invoice", "confirm", "5", "--as", "buyer2", entry_point=True),
    case(
        "scf-participant-name-newline",
        2,
        "participant",
        "add",
        "Evil\nLtd",
        "--address",
        "dev9",
        "--role",
        "supplier",
        entry_point=True,
    ),
]
# `scf tx show|replace|cancel`: the cases tests/cli/test_cli_faults_send.py also checks line for line.
CASES += table_cases(case)


# -- the tables themselves -------------------------------------------------------------------
#: Subcommands exempt from having cases, with why: none. Every command takes at least an option
#: (--json, the global ones), so an extra argument or an unknown option is bad input to each;
#: one that took no input at all would be listed here with the reason.
NO_INPUT: dict[str, str] = {}


def subcommands(group: click.Group = main, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Every command `scf` runs, by its words ("invoice tree", "pause"), from the click tree."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from subcommands(command, (*path, name))
        else:
            yield " ".join((*path, name))


def subcommand(argv: tuple[str, ...]) -> str:
    """The command a case runs: its words after the global options; a group
    given no subcommand it has counts as the group ("token")."""
    args, group, words = list(argv), main, []
    while args:
        if args[0] in ("--home", "--rpc-url", "--db-url"):
            args = args[2:]
        elif isinstance(group, click.Group) and args[0] in group.commands:
            words.append(args[0])
            group = group.commands[args.pop(0)]
        else:
            break
    return " ".join(words) or "(scf)"


def cli_tables() -> list[Any]:
    """The cases of both command-line tables: this one and the ERP intake's."""
    import test_cli_intake  # tests/cli, beside this file

    return [*CASES, *test_cli_intake.CASES]


def test_table_is_large_and_spread_over_every_subcommand() -> None:
    """Every subcommand of `scf` (not only the top-level commands) has at least
    two bad inputs between this table and the intake's, and every family is there."""
    per_command = Counter(subcommand(c.values[0].argv) for c in cli_tables())
    assert len(CASES) >= 170
    missing = {name: per_command[name] for name in subcommands() if per_command[name] < 2 and name not in NO_INPUT}
    assert not missing, f"subcommands with fewer than 2 bad-input cases: {missing}"
    assert {c.values[0].code for c in CASES} == {1, 2, 3}


def test_tables_hold_300_bad_inputs_of_every_family() -> None:
    """Issue 18: at least 300 bad inputs over every table of them, the command
    line's by exit code and the API's by HTTP status, printed by family."""
    import importlib.util
    import sys

    api = sys.modules.get("test_api_problems")
    if api is None:  # collected on its own: read the API's tables from their file
        path = Path(__file__).parents[1] / "api" / "test_api_problems.py"
        spec = importlib.util.spec_from_file_location("_bad_input_api_tables", path)
        assert spec is not None and spec.loader is not None
        api = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(api)
    families = Counter(f"exit {c.values[0].code}" for c in cli_tables()) + api.bad_input_counts()
    total = sum(families.values())
    print(f"bad inputs: {total}: " + ", ".join(f"{family} {n}" for family, n in sorted(families.items())))
    assert total >= 300, families
    assert {"exit 1", "exit 2", "exit 3", "http 400", "http 401", "http 404", "http 405"} <= set(families), families


def test_the_guard_sees_a_change_and_undoes_it(front_door: FrontDoor, cli: Any) -> None:
    """The checks below are only as good as the state they compare: a command
    that does change the ledger must show in it, and be undone afterwards."""
    guard = front_door.guard
    with guard as before:
        minted = cli("token", "mint", "--to", "buyer", "--amount", "1.00")
        assert minted.exit_code == 0, minted.output
        (front_door.env.home / "keystore" / "stray.json").write_text("{}")
        changed = guard.state()
    assert changed.block > before.block
    assert changed.tables != before.tables
    assert set(changed.files) - set(before.files) == {"keystore/stray.json"}
    restored = guard.state()
    assert (restored.block, restored.tables) == (before.block, before.tables)
    assert restored.files == before.files, set(restored.files.items()) ^ set(before.files.items())


@pytest.mark.parametrize("bad", CASES)
def test_bad_input_is_one_line_and_changes_nothing(bad: Case, front_door: FrontDoor, cli: Any, scf: Any) -> None:
    argv = [arg.format(**front_door.values) for arg in bad.argv]
    env = dict(bad.env)
    with front_door.guard as before:
        if bad.entry_point:
            run = scf(*argv, env=env)
            code, line, stdout = run.returncode, run.stderr, run.stdout
        else:
            result = cli(*argv, env=env)
            code, line, stdout = result.exit_code, result.stderr, result.stdout
        after = front_door.guard.state()
    shown = f"exit {code}: {(stdout + line).strip()[:400]!r}"

    assert "Traceback" not in stdout + line, shown
    assert code == bad.code, shown
    assert stdout == "", shown
    assert line.startswith("Error: ") and line.endswith("\n") and line.count("\n") == 1, shown
    assert "None" not in line, shown  # a value the command never got, printed as Python's None
    assert bad.says.format(**front_door.values) in line, shown
    assert after.block == before.block, f"{shown}; blocks mined: {after.block - before.block}"
    changed = sorted(
        t for t in before.tables.keys() | after.tables.keys() if before.tables.get(t) != after.tables.get(t)
    )
    assert not changed, f"{shown}; tables changed: {changed}"
    touched = sorted(f for f in before.files.keys() | after.files.keys() if before.files.get(f) != after.files.get(f))
    assert not touched, f"{shown}; files changed: {touched}"


@pytest.mark.parametrize(
    "argv", [("invoice", "list", "--csv"), ("invoice", "history", "1", "--csv")], ids=["list", "history"]
)
def test_csv_into_a_closed_pipe_ends_quietly(front_door: FrontDoor, argv: tuple[str, ...]) -> None:
    """`scf invoice list --csv | head -0`, as the issue names them: the reader
    is gone before scf writes; exit 141 as Unix tools do, nothing on stderr."""
    env = {**os.environ, "SCF_HOME": str(front_door.env.home), "SCF_RPC_URL": front_door.env.rpc_url}
    with front_door.guard as before:
        proc = subprocess.Popen([SCF, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()
        stderr = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 141, stderr
        after = front_door.guard.state()
    assert stderr == ""
    assert after == before
