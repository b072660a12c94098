"""The whole exception tree: one root, three families, each with the exit
code the CLI ends with.

Each error says what went wrong in terms of the ledger and what to do next.
Errors with something to show keep it as attributes and build their message
from them (as ApeWorX ape's ``exceptions.py`` does); the families also take a
ready sentence. The CLI turns any ``LedgerError`` into one line on stderr
and exits with the family's :attr:`LedgerError.exit_code`::

    LedgerError                      1  (root; never raised itself)
    ├── InputError                   2  a value given by the user cannot be used
    │   ├── InvalidInvoiceNumber
    │   ├── UnknownInvoice              no invoice has that id (chain or indexed ledger)
    │   │   └── InvoiceNotFound         ... as the contracts said it (also TransactionReverted)
    │   ├── RevertedInput               the contracts refused a value given (also TransactionReverted)
    │   └── PolicyError                 a policy file given or found cannot be read or validated
    ├── Refused                      1  a rule refused the operation
    │   ├── TransactionReverted         the contracts refused a transaction
    │   └── DecisionRefused             a financing decision cannot be executed
    └── EnvironmentProblem           3  the setting around the ledger is wrong, unreadable or away
        ├── ConfigError                 settings, config.toml
        ├── CompileError                the Solidity compiler
        ├── NodeError                   the local Anvil node
        ├── AccountError                the keystore: a key file that cannot be read or used
        │   └── UnreadableKeystore
        ├── DeploymentError             the deployment record
        │   ├── MissingContract
        │   └── UnknownCurrency
        ├── DatabaseError               the ledger database
        └── ChainError                  the JSON-RPC endpoint
            ├── RpcError                the node answered with an error
            │   └── RpcBusy             (also NodeUnavailable)
            ├── NodeUnavailable         away for now: retry later
            │   ├── RpcUnreachable
            │   ├── RpcTimeout
            │   └── RpcBusy
            └── TransactionTimeout

So a script can tell the three apart: 2, fix the command line (an amount, a
date, a name, an id that does not exist, a policy file); 1, the ledger's
state or a rule does not allow it now; 3, fix the setting (start the node,
restore the keystore file, point --db-url at the database, fix
config.toml) and run the same command again. Anything else a user can cause
is one of these; exit 70 is left for bugs.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LedgerError(Exception):
    """Root of all scf-ledger errors."""

    #: The exit code of `scf` when a command ends with this error.
    exit_code: ClassVar[int] = 1
    #: Whether the CLI prints the message with its line breaks (compiler
    #: output) rather than folded into one line.
    keep_lines: ClassVar[bool] = False


# -- families ------------------------------------------------------------------------------------
class InputError(LedgerError):
    """A value given by the user cannot be used (amount, date, address, name, option)."""

    exit_code = 2


class Refused(LedgerError):
    """A rule of the contracts or of the financing desk refused the operation:
    the input was well-formed, the state of the ledger does not allow it."""

    exit_code = 1


class EnvironmentProblem(LedgerError):
    """The setting around the ledger is wrong, unreadable or unavailable:
    configuration, compiler, node, keystore, deployment record, database,
    chain. Fixing the setting, not the command, makes the command work."""

    exit_code = 3


# -- input ---------------------------------------------------------------------------------------
class InvalidInvoiceNumber(InputError):
    """The number is empty, too long, has a control character, or normalises to nothing."""

    def __init__(self, number: str, reason: str) -> None:
        self.number = number
        self.reason = reason
        super().__init__(f"invalid invoice number {number!r}: {reason}")


class UnknownInvoice(InputError):
    """No invoice has the id given. The same family and one line on every
    command that takes an id (show, history, confirm, offer, finance, repay,
    cancel, withdraw): an id that does not exist is bad input, not a rule.
    ``where`` narrows it (" in the indexed ledger (...)"); ``hint`` says what to do."""

    def __init__(self, invoice_id: int, where: str = "", hint: str = "see `scf invoice list`") -> None:
        self.invoice_id = invoice_id
        self.where = where
        self.hint = hint
        super().__init__(f"invoice {invoice_id} does not exist{where}; {hint}")


class PolicyError(InputError):
    """A policy file cannot be read, parsed or validated: bad input (exit 2)
    whether the file given with ``--policy`` is missing or invalid, as a
    financier's policy is the input of its decisions (a corrupt ``config.toml``
    is a :class:`ConfigError`, exit 3)."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        self.detail = message
        super().__init__(f"{source}: {message}")


# -- refused -------------------------------------------------------------------------------------
class TransactionReverted(Refused):
    """A contract refused the transaction; ``rule`` is the decoded reason."""

    def __init__(self, rule: str, error_name: str | None = None, args: dict[str, object] | None = None) -> None:
        self.rule = rule
        self.error_name = error_name
        self.error_args = args or {}
        super().__init__(rule)


class DecisionRefused(Refused):
    """A decision cannot be executed (declined, executed, expired, stale)."""


class InvoiceNotFound(UnknownInvoice, TransactionReverted):
    """The contracts' ``InvoiceNotFound(invoiceId)``: an :class:`UnknownInvoice`
    (exit 2, bad input) that is also a :class:`TransactionReverted`, so code
    that reads ``error_name`` and ``error_args`` of a revert sees it as one."""

    def __init__(self, invoice_id: int) -> None:
        super().__init__(invoice_id)
        self.error_name = "InvoiceNotFound"
        self.error_args = {"invoiceId": invoice_id}


class RevertedInput(InputError, TransactionReverted):
    """The contracts refused a value the user gave (a due date out of range,
    an invalid amount or number, the supplier as its own buyer): bad input
    (exit 2) that is also a :class:`TransactionReverted`, with the decoded
    ``error_name`` and ``error_args``."""


# -- environment ---------------------------------------------------------------------------------
class ConfigError(EnvironmentProblem):
    """A setting, a data directory or a config file is wrong."""


class CompileError(EnvironmentProblem):
    """The Solidity compiler could not be run, or rejected the sources."""

    keep_lines = True


class NodeError(EnvironmentProblem):
    """The local Anvil node could not be started, stopped or found."""


class AccountError(EnvironmentProblem):
    """The keystore: a key file that cannot be read or used. (A name,
    password or key the user gives that cannot be used is an InputError; a
    dev key off the dev chain is refused by a rule.)"""


class UnreadableKeystore(AccountError):
    """The keystore file of account ``name`` cannot be read, or is not a key file."""

    def __init__(self, path: object, name: str, problem: str) -> None:
        self.path = path
        self.name = name
        self.problem = problem
        super().__init__(
            f"keystore file {path} {problem}; restore it from a backup, or move it away "
            f"and re-import the key with `scf account import {name}`"
        )


class DeploymentError(EnvironmentProblem):
    """No usable deployment record for the connected chain."""


class MissingContract(DeploymentError):
    """The deployment record has no entry for a contract the ledger needs."""

    def __init__(self, contract: str, chain_id: int | None = None) -> None:
        self.contract = contract
        self.chain_id = chain_id
        where = "" if chain_id is None else f" of chain {chain_id}"
        super().__init__(f"the deployment record{where} lacks {contract}; redeploy with `scf deploy --force`")


class UnknownCurrency(DeploymentError):
    """An indexed currency that the deployment record of this data directory does not list."""

    def __init__(self, address: str, chain_id: int) -> None:
        self.address = address
        self.chain_id = chain_id
        super().__init__(
            f"currency {address} of chain {chain_id} is not in the deployment record, so its decimals "
            "are unknown; use the data directory (--home) the contracts were deployed from"
        )


class DatabaseError(EnvironmentProblem):
    """The ledger database is unreachable or inconsistent."""


class ChainError(EnvironmentProblem):
    """The chain could not be reached or did not answer as expected."""


class NodeUnavailable(ChainError):
    """The node is away for now (unreachable, not answering, overloaded or
    restarting): the same call may succeed later, so a long-running process
    such as `scf index follow` waits and retries."""


class RpcUnreachable(NodeUnavailable):
    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"cannot reach the JSON-RPC endpoint {url} ({reason}); "
            "start the local chain with `scf node start` or pass --rpc-url"
        )


class RpcTimeout(NodeUnavailable):
    """The node did not answer within the timeout."""

    def __init__(self, method: str, url: str, seconds: float) -> None:
        self.method = method
        self.url = url
        self.seconds = seconds
        super().__init__(f"{method} on {url} did not answer within {seconds:g}s")


class RpcError(ChainError):
    """The node answered a JSON-RPC call with an error."""

    def __init__(self, method: str, code: int | None, message: str, data: Any = None) -> None:
        self.method = method
        self.code = code
        self.rpc_message = message
        self.data = data
        super().__init__(f"the node refused {method}: {message} (code {code})")


class RpcBusy(RpcError, NodeUnavailable):
    """The node (or a gateway in front of it) answered HTTP 429 or 5xx."""


class TransactionTimeout(ChainError):
    def __init__(self, tx_hash: str, seconds: float) -> None:
        self.tx_hash = tx_hash
        self.seconds = seconds
        super().__init__(
            f"transaction {tx_hash} was not mined within {seconds:g}s; "
            "check the node is mining, then look the transaction up before sending it again"
        )
