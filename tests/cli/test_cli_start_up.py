"""How `scf` starts: building the command tree imports click and
:mod:`ledger.cli.common` only, a command imports what it uses when it runs,
and `scf invoice list` (the read side, DESIGN section 7) imports neither web3
nor the SQLAlchemy ORM. What each start costs is timed by
scripts/bench_latency.py (`cli_start_ratio`, `cold_start_ratio`); these
tests pin where the time went without timing anything: the modules a fresh
interpreter has imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click

from ledger.config import REPO_ROOT

#: A node nobody listens on: a database-only command must not need one.
UNREACHABLE = "http://127.0.0.1:9"
#: Modules no database-only start may import, by prefix: the chain side and the ORM.
CHAIN_AND_ORM = (
    "web3",
    "eth_account",
    "eth_abi",
    "ledger.evm",
    "ledger.lifecycle",
    "sqlalchemy.orm",
    "ledger.db.models",
)

#: Runs `scf ARGS` in this interpreter, then prints the modules it imported as JSON on stderr.
PROBE = (
    "import json, sys\n"
    "from ledger.cli import main\n"
    "try:\n"
    "    main(sys.argv[1:], prog_name='scf')\n"
    "except SystemExit as exc:\n"
    "    assert not exc.code, exc.code\n"
    "print(json.dumps(sorted(sys.modules)), file=sys.stderr)\n"
)


def _imported(
    code: str, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[str, list[str]]:
    """Run ``code`` in a fresh interpreter: its stdout, and the modules it imported (its last stderr line)."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=cwd or REPO_ROOT,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, json.loads(done.stderr.strip().splitlines()[-1])


def _matching(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


def test_cli_start_up_building_the_cli_imports_click_and_common_only() -> None:
    """`import ledger.cli` (every start pays for it) builds the command tree
    as a table of names: no command module, no database, no chain."""
    _, modules = _imported("import json, sys, ledger.cli; print(json.dumps(sorted(sys.modules)), file=sys.stderr)")
    assert _matching(modules, ("ledger.cli",)) == ["ledger.cli", "ledger.cli.common"]
    assert _matching(modules, ("sqlalchemy", "alembic", *CHAIN_AND_ORM)) == []


def test_cli_start_up_every_command_in_the_table_is_the_one_it_names() -> None:
    """Each (group, name) of ``ledger.cli.COMMANDS`` loads a command of that
    name (`withdraw-offer` is the second name of `withdraw`), and the tree
    holds nothing else that the table does not know how to load."""
    from ledger.cli import COMMANDS, main

    aliases = {("invoice", "withdraw-offer"): "withdraw"}
    for (path, name), (module, attribute) in COMMANDS.items():
        group = main
        for word in path.split():
            group = group.commands[word]
            assert isinstance(group, click.Group), path
        command = group.commands[name]
        assert command is getattr(sys.modules[module], attribute), (path, name)
        assert command.name == aliases.get((path, name), name), (path, name, command.name)
    assert sorted(main.commands) == sorted(name for path, name in COMMANDS if path == "")


def test_cli_start_up_invoice_list_imports_neither_web3_nor_the_orm(tmp_path: Path) -> None:
    """`scf invoice list --json` on a small ledger (60 invoices, no node)
    imports the database's Core tables, not the ORM models, nor anything of
    the chain, and of the command modules only its own."""
    sys.path.insert(0, str(REPO_ROOT / "scripts"))
    try:
        from bench_api import Parties, fill_ledger
    finally:
        sys.path.remove(str(REPO_ROOT / "scripts"))

    home, url = tmp_path / "home", f"sqlite:///{tmp_path / 'ledger.db'}"
    home.mkdir()
    fill_ledger(url, home, 60, Parties.make())
    env = {"SCF_HOME": str(home), "SCF_DB_URL": url, "SCF_RPC_URL": UNREACHABLE}
    out, modules = _imported(PROBE, "invoice", "list", "--json", "--limit", "100", env=env, cwd=tmp_path)
    assert len(json.loads(out)) == 60
    assert "ledger.db.tables" in modules and "sqlalchemy" in modules
    assert _matching(modules, CHAIN_AND_ORM) == []
    assert _matching(modules, ("ledger.cli",)) == [
        "ledger.cli",
        "ledger.cli.common",
        "ledger.cli.invoice",
        "ledger.cli.query",
    ]
