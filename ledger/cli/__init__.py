"""The `scf` command line: click only -- parse, call a service, print.

``main`` is built here from one module per command group; the groups import
what they share from :mod:`ledger.cli.common` (the group class, the shared
options, output, the signer), never from this package, so there is no
import cycle. Modules that talk to the chain (web3) are imported inside the
commands that need them, so commands that only read the database start
fast. Every ``LedgerError`` becomes one line on stderr with a non-zero exit
code.

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

import click

from ledger import __version__
from ledger.cli.account import account
from ledger.cli.common import CONTEXT_SETTINGS, LedgerGroup, global_options
from ledger.cli.deploy import compile_cmd, deploy
from ledger.cli.events import events_cmd
from ledger.cli.finance import finance
from ledger.cli.index import db, index
from ledger.cli.intake import (
    invoice_approve,
    invoice_import,
    invoice_revoke_signatures,
    invoice_sign_confirmation,
)
from ledger.cli.invoice import invoice, invoice_withdraw
from ledger.cli.network import pause_cmd, unpause_cmd
from ledger.cli.node import node
from ledger.cli.participant import participant
from ledger.cli.query import (
    invoice_history,
    invoice_list,
    invoice_overdue,
    invoice_tree,
    participant_list,
    verify_cmd,
)
from ledger.cli.report import report
from ledger.cli.serve import api_key, serve_cmd
from ledger.cli.status import status_cmd
from ledger.cli.token import token
from ledger.cli.tx import tx

__all__ = ["main"]


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


# The order here is the order of `scf --help`'s command list (click sorts by name).
invoice.add_command(invoice_list)
invoice.add_command(invoice_overdue)
invoice.add_command(invoice_history)
invoice.add_command(invoice_tree)
invoice.add_command(invoice_withdraw, "withdraw-offer")  # the name users looked for (issue 12)
invoice.add_command(invoice_import)
invoice.add_command(invoice_approve)
invoice.add_command(invoice_sign_confirmation)
invoice.add_command(invoice_revoke_signatures)
participant.add_command(participant_list)
for command in (
    status_cmd,
    compile_cmd,
    deploy,
    node,
    account,
    participant,
    token,
    pause_cmd,
    unpause_cmd,
    invoice,
    index,
    db,
    verify_cmd,
    events_cmd,
    finance,
    report,
    serve_cmd,
    api_key,
    tx,
):
    main.add_command(command)

if __name__ == "__main__":  # pragma: no cover
    main()
