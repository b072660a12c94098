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
        ├── AccountBusy                 another scf command sends as the same account
        └── ChainError                  the JSON-RPC endpoint
            ├── RpcError                the node answered with an error
            │   └── RpcBusy             (also NodeUnavailable)
            ├── NodeUnavailable         away for now: the same read may work later
            │   ├── RpcUnreachable
            │   ├── RpcTimeout
            │   └── RpcBusy
            ├── NodeLost                away while a transaction was sent or waited for (never retried)
            ├── NonceConflict           another sender took the transaction's nonce
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
    such as `scf index follow` waits and retries its reads. Never raised for a
    transaction that may have been sent (that is :class:`NodeLost`, which is
    not one of these, so no ``except NodeUnavailable`` retries a send)."""


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
    """Transaction ``tx_hash`` was not mined within ``seconds``. ``why`` says
    what was seen (its fee below the base fee; by default: is the node
    mining?); ``account`` names the local account that sent it, for the
    `scf tx replace` and `scf tx cancel` the message offers. ``dropped``:
    the node no longer holds it and its sender's nonce is still unused on
    chain (``why`` says so), so nothing of it is on chain and running the
    command again takes that nonce (only one of the two can ever be mined).
    ``held_back``: its nonce is ahead of the account's next nonce on chain, so
    a higher fee or a cancel at the same nonce would be held back as well.
    ``gone``: the node no longer holds it, but its nonce was used since (by
    another transaction in its place) or cannot be checked: not provably
    nothing, and nothing to replace or cancel.
    ``replaces``: it was sent by `scf tx replace` or `scf tx cancel` in
    place of that transaction, at the same nonce, so only one of the two can
    be mined (raising its fee again is the way out, not a second command).
    Otherwise it may still be mined: running the command again while it
    waits would send it a second time."""

    def __init__(
        self,
        tx_hash: str,
        seconds: float,
        account: str | None = None,
        why: str | None = None,
        dropped: bool = False,
        held_back: bool = False,
        gone: bool = False,
        replaces: str | None = None,
    ) -> None:
        self.tx_hash = tx_hash
        self.seconds = seconds
        self.account = account
        self.why = why
        self.dropped = dropped
        self.held_back = held_back
        self.gone = gone
        waited = f"transaction {tx_hash} was not mined within {seconds:g}s"
        if dropped:
            super().__init__(
                f"{waited} and the node no longer holds it ({why or 'dropped from its pool'}): nothing of it "
                "is on chain; run the command again"
            )
            return
        if held_back:
            super().__init__(f"{waited}: {why}. See it with `scf tx show {tx_hash}`")
            return
        if gone:
            super().__init__(f"{waited}: {why}. Look it up with `scf tx show {tx_hash}` before sending it again")
            return
        as_ = f"--as {account or 'ACCOUNT'}"
        if replaces:
            super().__init__(
                f"{waited}: {why or 'check the node is mining'}. It was sent in place of {replaces}, at the same "
                f"nonce, so only one of the two can be mined: see which with `scf tx show {tx_hash}`. To stop "
                f"waiting, raise its fee again with `scf tx replace {tx_hash} {as_}` or withdraw it with "
                f"`scf tx cancel {tx_hash} {as_}`"
            )
            return
        super().__init__(
            f"{waited}: {why or 'check the node is mining'}. Look it up with `scf tx show {tx_hash}` before "
            "sending it again: running the command again while it waits sends it a second time, and both "
            f"would be mined. To stop waiting for it, raise its fee with `scf tx replace {tx_hash} {as_}` or "
            f"withdraw it with `scf tx cancel {tx_hash} {as_}`"
            + ("" if account else " (ACCOUNT: the local account that sent it)")
        )


def _sent_before(earlier: int) -> str:
    """What a failed send of a multi-transaction command says of the transactions it sent before."""
    return f"the {earlier} transaction(s) this command sent before it were sent; running it again skips them"


class NodeLost(ChainError):
    """The node went away (``reason``: connection refused, lost, timed out,
    an HTTP error from a gateway) while a command sent a transaction or
    waited for it. ``sent`` says how far it got: False, transaction
    ``tx_hash`` (or, with None, any) never reached the node (proved: the
    connection was refused and the request was never tried before); None,
    it may or may not have; True, the node took it. Whether it is mined is
    looked up with `scf tx show` once the node is back, before sending it
    again. ``earlier``: how many transactions the same command had sent
    before this one (a bulk run).

    Not a :class:`NodeUnavailable`: a send that may have reached the node
    is never retried blindly (the operation would be done twice)."""

    def __init__(
        self, url: str, reason: str, tx_hash: str | None = None, sent: bool | None = False, earlier: int = 0
    ) -> None:
        self.url = url
        self.reason = reason
        self.tx_hash = tx_hash
        self.sent = sent
        self.earlier = earlier
        look = f"once the node is back, see `scf tx show {tx_hash}` before sending it again"
        if sent is False:
            what = f"transaction {tx_hash} reached it" if tx_hash else "anything was signed"
            nothing = f"nothing of this batch was sent ({_sent_before(earlier)})" if earlier else "nothing was sent"
            text = f"the node at {url} went away before {what} ({reason}): {nothing}; "
            if tx_hash:
                text += f"once the node is back (`scf tx show {tx_hash}` says unknown), run the command again"
            else:
                text += "run the command again once the node is back"
        elif sent is None:
            text = (
                f"the node at {url} went away while transaction {tx_hash} was being sent ({reason}): it may or "
                f"may not have reached it; {look}"
            )
        else:
            text = (
                f"transaction {tx_hash} was sent, but the node at {url} went away before it was mined "
                f"({reason}); it may be mined all the same: {look}"
            )
        super().__init__(text)


class NonceConflict(ChainError):
    """The node refused transaction ``tx_hash``: its ``nonce`` of ``who`` was
    taken by another transaction, mined (``kind`` "used") or waiting in the
    node's pool ("pending"), sent by something other than this command.
    This transaction was not sent; ``earlier``: how many the same command
    (a bulk run) had sent before it."""

    def __init__(self, tx_hash: str, nonce: int, who: str, kind: str, earlier: int = 0) -> None:
        self.tx_hash = tx_hash
        self.nonce = nonce
        self.who = who
        self.kind = kind
        self.earlier = earlier
        if kind == "used":
            taken = "was used meanwhile by another transaction"
            then = "run it again"
        else:
            taken = "is taken by another transaction waiting in the node's pool"
            then = "wait for that one to be mined and run it again"
        nothing = "nothing of this command was sent"
        if earlier:
            nothing = f"nothing of this batch was sent ({_sent_before(earlier)})"
        super().__init__(
            f"the node refused transaction {tx_hash}: nonce {nonce} of {who} {taken} (another program, or scf "
            f"on another machine, sending as this account); {nothing}: {then}"
        )


class AccountBusy(EnvironmentProblem):
    """Another scf command (another process, or another thread of this one)
    is sending transactions as the same account to the same node
    (:meth:`ledger.evm.chain.Sender.sending_as`): two would take the same
    nonce. Run this one again when it has finished."""


def sent_nothing(exc: LedgerError) -> bool:
    """Whether a command that failed with ``exc`` provably left nothing that may
    still be mined: refused or bad input before sending (a revert changes
    nothing), another command holding the account, a nonce taken by another
    sender, a node away before the transaction reached it (:class:`NodeLost`
    with ``sent`` False), or a transaction the node dropped whose nonce is
    unused (:class:`TransactionTimeout` ``dropped``). Anything else (a node
    lost after sending, a transaction not mined in time, a node error while
    waiting) may still be mined, and the operation must not be counted as
    not done."""
    if isinstance(exc, NodeLost):
        return exc.sent is False
    if isinstance(exc, TransactionTimeout):
        return exc.dropped
    return isinstance(exc, InputError | Refused | NonceConflict | AccountBusy)
