"""The whole exception tree: one root, three families, each with the exit
code the CLI ends with.

Each error says what went wrong in terms of the ledger and what to do next.
Errors with something to show keep it as attributes and build their message
from them (as ApeWorX ape's ``exceptions.py`` does); the families also take a
ready sentence. The CLI turns any ``LedgerError`` into one line on stderr
and exits with the family's :attr:`LedgerError.exit_code`::

    LedgerError                      1  (root; never raised itself)
    ├── InputError                   2  a value given by the user cannot be used
    │   └── InvalidInvoiceNumber
    ├── Refused                      1  a rule refused the operation
    │   ├── TransactionReverted         the contracts refused a transaction
    │   └── DecisionRefused             a financing decision cannot be executed
    └── EnvironmentProblem           1  the setting around the ledger is wrong or away
        ├── ConfigError                 settings, config.toml
        │   └── PolicyError             a financier's policy file
        ├── CompileError                the Solidity compiler
        ├── NodeError                   the local Anvil node
        ├── AccountError                keystore and signing accounts
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

The exit codes are those of the CLI before the tree had families: input 2,
everything else 1 (tests and users' scripts rely on them).
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
    """The setting around the ledger is wrong or unavailable: configuration,
    compiler, node, keystore, deployment record, database, chain."""

    exit_code = 1


# -- input ---------------------------------------------------------------------------------------
class InvalidInvoiceNumber(InputError):
    """The number is empty, too long, has a control character, or normalises to nothing."""

    def __init__(self, number: str, reason: str) -> None:
        self.number = number
        self.reason = reason
        super().__init__(f"invalid invoice number {number!r}: {reason}")


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


# -- environment ---------------------------------------------------------------------------------
class ConfigError(EnvironmentProblem):
    """A setting, a data directory or a config file is wrong."""


class PolicyError(ConfigError):
    """A policy file cannot be read, parsed or validated."""

    def __init__(self, source: str, message: str) -> None:
        self.source = source
        self.detail = message
        super().__init__(f"{source}: {message}")


class CompileError(EnvironmentProblem):
    """The Solidity compiler could not be run, or rejected the sources."""

    keep_lines = True


class NodeError(EnvironmentProblem):
    """The local Anvil node could not be started, stopped or found."""


class AccountError(EnvironmentProblem):
    """An account is unknown, locked, or not allowed on this chain."""


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
