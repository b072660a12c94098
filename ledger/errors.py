"""One exception root for everything scf-ledger raises on purpose.

Each family says what went wrong in terms of the ledger, with the offending
values as attributes; the message is built from them. The CLI turns any
``LedgerError`` into a one-line error with a non-zero exit code, so a message
should also say what to do next.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Root of all scf-ledger errors."""

    exit_code = 1


class ConfigError(LedgerError):
    """A setting, a data directory or a config file is wrong."""


class InputError(LedgerError):
    """A value given by the user cannot be used (amount, date, address, name)."""

    exit_code = 2


class CompileError(LedgerError):
    """The Solidity compiler could not be run, or rejected the sources."""


class NodeError(LedgerError):
    """The local Anvil node could not be started, stopped or found."""


class AccountError(LedgerError):
    """An account is unknown, locked, or not allowed on this chain."""


class DeploymentError(LedgerError):
    """No usable deployment record for the connected chain."""


class ChainError(LedgerError):
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


class TransactionTimeout(ChainError):
    def __init__(self, tx_hash: str, seconds: float) -> None:
        self.tx_hash = tx_hash
        self.seconds = seconds
        super().__init__(
            f"transaction {tx_hash} was not mined within {seconds:g}s; "
            "check the node is mining, then look the transaction up before sending it again"
        )


class TransactionReverted(ChainError):
    """A contract refused the transaction; ``rule`` is the decoded reason."""

    def __init__(self, rule: str, error_name: str | None = None, args: dict[str, object] | None = None) -> None:
        self.rule = rule
        self.error_name = error_name
        self.error_args = args or {}
        super().__init__(rule)


class DatabaseError(LedgerError):
    """The ledger database is unreachable or inconsistent."""
