"""The `scf` command line: click only -- parse, call a service, print.

``main`` is built here from one module per command group; the groups import
what they share from :mod:`ledger.cli.common` (the group class, the shared
options, output, the signer), never from this package, so there is no
import cycle. The tree is a table of names (:data:`COMMANDS`): a command's
module is imported when that command runs or its help is shown, and the
services a command calls (web3, the lifecycle, the database, SQLAlchemy)
are imported inside it, so `import ledger.cli` imports click and
:mod:`ledger.cli.common` only, and a command pays for what it uses
(`scf invoice list` never imports web3 or the SQLAlchemy ORM;
tests/cli/test_cli_start_up.py checks both). Every ``LedgerError`` becomes
one line on stderr with a non-zero exit code.

    ledger/cli/
      common.py       LedgerGroup, --json/--csv/--as/--sync, emit, write_csv,
                      settings, ledger_db, open_ledger, signer, policy lookup
      deploy.py       scf compile, scf deploy
      node.py         scf node start|stop|status
      account.py      scf account new|import|list
      participant.py  scf participant add|update|suspend|reinstate
      token.py        scf token mint|transfer|balance
      network.py      scf pause, scf unpause
      invoice.py      scf invoice issue|confirm|cancel|offer|finance|repay|withdraw
                      (also as withdraw-offer)|split|transfer|show
      query.py        database-only reads: scf invoice list|overdue|history|tree, show
                      --as-of-block, scf participant list; and scf verify
      events.py       scf events: the ledger-wide audit trail (database only)
      status.py       scf status: node, network, contracts, index and database
      index.py        scf index sync|follow|status|rebuild, scf db upgrade
      finance.py      scf finance quote|execute|auto|list|show|cancel
      report.py       scf report exposure|aging|portfolio|tiers
      serve.py        scf serve (the HTTP API and dashboard), scf api-key create|list|revoke
      tx.py           scf tx show|replace|cancel: a transaction already sent, by hash
      render.py       rich tables and the invoice view
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping

import click

from ledger import __version__
from ledger.cli.common import CONTEXT_SETTINGS, LedgerGroup, global_options

__all__ = ["COMMANDS", "main"]

#: Every command by where it is: (group path, name) -> (module, the command's
#: name in it); path "" is `scf` itself. Commands made inside a group's
#: module with ``@group.command()`` come with their group. `scf --help`
#: lists them by name (click sorts).
COMMANDS: dict[tuple[str, str], tuple[str, str]] = {
    ("", "status"): ("ledger.cli.status", "status_cmd"),
    ("", "compile"): ("ledger.cli.deploy", "compile_cmd"),
    ("", "deploy"): ("ledger.cli.deploy", "deploy"),
    ("", "node"): ("ledger.cli.node", "node"),
    ("", "account"): ("ledger.cli.account", "account"),
    ("", "participant"): ("ledger.cli.participant", "participant"),
    ("", "token"): ("ledger.cli.token", "token"),
    ("", "pause"): ("ledger.cli.network", "pause_cmd"),
    ("", "unpause"): ("ledger.cli.network", "unpause_cmd"),
    ("", "invoice"): ("ledger.cli.invoice", "invoice"),
    ("", "index"): ("ledger.cli.index", "index"),
    ("", "db"): ("ledger.cli.index", "db"),
    ("", "verify"): ("ledger.cli.query", "verify_cmd"),
    ("", "events"): ("ledger.cli.events", "events_cmd"),
    ("", "finance"): ("ledger.cli.finance", "finance"),
    ("", "report"): ("ledger.cli.report", "report"),
    ("", "serve"): ("ledger.cli.serve", "serve_cmd"),
    ("", "api-key"): ("ledger.cli.serve", "api_key"),
    ("", "tx"): ("ledger.cli.tx", "tx"),
    # Commands of a group made in another module.
    ("invoice", "list"): ("ledger.cli.query", "invoice_list"),
    ("invoice", "overdue"): ("ledger.cli.query", "invoice_overdue"),
    ("invoice", "history"): ("ledger.cli.query", "invoice_history"),
    ("invoice", "tree"): ("ledger.cli.query", "invoice_tree"),
    ("invoice", "withdraw-offer"): ("ledger.cli.invoice", "invoice_withdraw"),  # the name users looked for (issue 12)
    ("invoice", "import"): ("ledger.cli.intake", "invoice_import"),
    ("invoice", "approve"): ("ledger.cli.intake", "invoice_approve"),
    ("invoice", "sign-confirmation"): ("ledger.cli.intake", "invoice_sign_confirmation"),
    ("invoice", "revoke-signatures"): ("ledger.cli.intake", "invoice_revoke_signatures"),
    ("participant", "list"): ("ledger.cli.query", "participant_list"),
}


class _Commands(MutableMapping[str, click.Command]):
    """A group's commands by name (click's ``Group.commands``), those of
    :data:`COMMANDS` imported from their module on first use: looking a name
    up (running it, its help) loads that command only; listing the names
    loads none; walking the items loads them all."""

    def __init__(self, group: click.Group, path: str, loaded: Mapping[str, click.Command]) -> None:
        self._group = group
        self._path = path
        self._loaded = dict(loaded)
        self._lazy = {name: where for (parent, name), where in COMMANDS.items() if parent == path}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded and name in self._lazy:
            module, attribute = self._lazy[name]
            command: click.Command = getattr(importlib.import_module(module), attribute)
            if isinstance(command, click.Group):
                lazy(command, f"{self._path} {name}".strip())
            self._group.add_command(command, name)  # a LedgerGroup adds the late global options
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._lazy.pop(name, None)
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if self._lazy.pop(name, None) is None:
            del self._loaded[name]

    def __contains__(self, name: object) -> bool:
        return name in self._loaded or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(sorted({*self._loaded, *self._lazy}))

    def __len__(self) -> int:
        return len({*self._loaded, *self._lazy})


def lazy(group: click.Group, path: str) -> click.Group:
    """``group`` (at ``path`` in :data:`COMMANDS`) with its commands loaded on first use."""
    if not isinstance(group.commands, _Commands):
        group.commands = _Commands(group, path, group.commands)
    return group


@click.group(cls=LedgerGroup, context_settings=CONTEXT_SETTINGS)
@global_options
@click.version_option(__version__, prog_name="scf")
def main(home: str | None, rpc_url: str | None, db_url: str | None) -> None:
    """scf-ledger: supply-chain financing on a private EVM chain.

    Suppliers issue invoices, buyers confirm them, financiers fund them and
    buyers repay, every step on chain; `scf index` mirrors it into a
    database that lists, reports and decisions read. `--as NAME` is always
    the party you act as. Start with `scf node start` and `scf deploy`.
    The options below (--home, --rpc-url, --db-url, --json) may also follow
    the subcommand (`scf invoice list --db-url URL`).

    Example:

    \b
        scf node start && scf deploy
        scf invoice issue --buyer buyer --number INV-1 --amount 1000.00 --due 2027-12-31
        scf invoice list
    """


lazy(main, "")

if __name__ == "__main__":  # pragma: no cover
    main()
