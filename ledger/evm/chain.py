"""Connection to an EVM JSON-RPC endpoint, transaction sending with local
signing, and decoding of reverts into one-line rules.

Every transaction is simulated (gas estimation) before it is signed, so a
transaction the contracts would refuse is never sent: the chain stays as it
was and the user sees the decoded rule.

Nodes differ (README, "Nodes and RPC methods"). Proof-of-authority blocks
carry 97 bytes of extraData (web3's PoA middleware reads them); a node that
cannot estimate gas (ethereumjs on Clique) gets the transaction simulated
with ``eth_call`` and a gas allowance of half a block; a node that answers a
reverting ``eth_call`` with the revert data as its result has that answer
turned back into the revert it is (:class:`RevertAsResult`); a node without
``eth_maxPriorityFeePerGas`` gets a stated tip (:data:`MIN_TIP_WEI`).

Sending is serialised per account and node on this machine
(:meth:`Sender.sending_as`), so two `scf` processes never take the same
nonce; a nonce taken by some other sender, a node that goes away before or
after it took a transaction, and a transaction that is not mined in time
each end in one line that names the transaction's hash and what to do
(`scf tx show`, `scf tx replace`, `scf tx cancel`: :mod:`ledger.evm.txs`).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import ipaddress
import os
import re
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import (
    BadFunctionCallOutput,
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
    TransactionNotFound,
    Web3RPCError,
)
from web3.middleware import ExtraDataToPOAMiddleware, Web3Middleware
from web3.providers.rpc.utils import REQUEST_RETRY_ALLOWLIST, ExceptionRetryConfiguration, check_if_retry_on_failure
from web3.types import RPCEndpoint, RPCResponse, TxReceipt

from ledger.config import DEV_CHAIN_ID
from ledger.errors import (
    AccountBusy,
    ChainError,
    ConfigError,
    InputError,
    InvoiceNotFound,
    LedgerError,
    NodeLost,
    NonceConflict,
    Refused,
    RevertedInput,
    RpcError,
    RpcUnreachable,
    TransactionReverted,
    TransactionTimeout,
)
from ledger.evm.abi import abi_type
from ledger.evm.rpc import revert_as_error
from ledger.format import grace_text, label, text_time
from ledger.names import DEV_ADDRESSES, keystore_address, role_names, status_name
from ledger.names import STATUS_NAMES as STATUS_NAMES

#: Custom errors about a value the caller gave, not about the ledger's state:
#: bad input (exit 2), the same family as when the client catches it first.
INPUT_ERRORS = frozenset(
    {
        "InvalidAmount",
        "InvalidDueDate",
        "InvalidBuyer",
        "InvalidInvoiceNumber",
        "InvalidCreditNote",
        "InvalidExtension",
        "InvalidGracePeriod",
    }
)

#: One line per custom error: the rule that failed, in plain words.
RULES: dict[str, str] = {
    "InvoiceNotFound": "invoice {invoiceId} does not exist; see `scf invoice list`",
    "DuplicateInvoice": (
        "duplicate invoice: {supplier} already issued invoice number {normalisedNumber} (in any spelling) "
        "as invoice {existingInvoiceId}; an invoice number is used once, ever"
    ),
    "InvalidInvoiceNumber": (
        "invalid invoice number {number}: it needs 1 to 64 bytes, no control characters, and a letter or digit"
    ),
    "InvalidAmount": "invalid amount {amount}: must be positive and below 2^96 minor units",
    "InvalidDueDate": (
        "due date {dueDate} must be after the chain time {nowTimestamp} and no later than {latestDueDate}"
    ),
    "NotListed": "invoice {invoiceId} is not listed for financing; there is no listing to withdraw",
    "InvalidBuyer": "the buyer {buyer} cannot be the supplier itself",
    "CurrencyNotAccepted": "currency {currency} is not accepted for invoices",
    "InvoiceNotIssued": "invoice {invoiceId} is {status}, not Issued",
    "InvoiceNotConfirmed": (
        "invoice {invoiceId} cannot be listed, financed or split in status {status}; "
        "it must be Confirmed or PartiallyPaid"
    ),
    "InvoiceAlreadyFinanced": "invoice {invoiceId} is already financed (sold by {seller}); one financing, ever",
    "InvoiceNotPayable": "invoice {invoiceId} cannot be repaid in status {status}",
    "InvoiceNotTransferable": "invoice {invoiceId} cannot change hands in status {status}",
    "NotInvoiceBuyer": "{account} is not the buyer of invoice {invoiceId} (the buyer is {buyer})",
    "NotInvoiceSupplier": "{account} is not the supplier of invoice {invoiceId} (the supplier is {supplier})",
    "NotInvoiceHolder": "{account} does not hold invoice {invoiceId} (the holder is {holder})",
    "FinancingTermsChanged": (
        "invoice {invoiceId} changed since it was priced: amount {amount} (expected {expectedAmount}), "
        "paid {paid} (expected {expectedPaid}), due {dueDate} (expected {expectedDueDate}); price it again"
    ),
    "FinancingSellerChanged": (
        "invoice {invoiceId} is now held by {holder}, not {expectedSeller} as priced; price it again"
    ),
    "SelfFinancing": "{account} holds invoice {invoiceId} and cannot finance it itself",
    "InvalidFinancierDue": ("the financier's due {due} for invoice {invoiceId} is above its open amount {outstanding}"),
    "InvalidAsk": (
        "asking advance {minAdvance} for invoice {invoiceId} must be positive and at most the open amount {outstanding}"
    ),
    "SettlementShortfall": (
        "settlement refused: {to} received {received} of {expected} sent in {currency}; only plain ERC-20 "
        "tokens settle receivables"
    ),
    "InvalidSplit": (
        "invalid split of invoice {invoiceId}: {parts} parts summing to {sum}; it needs 2 to 10 parts, "
        "each above zero, summing to its open amount {outstanding} exactly"
    ),
    "SplitLimit": (
        "invoice {invoiceId} cannot be split into {parts} parts at depth {depth}: its budget is {budget} "
        "part(s) and parts go at most 3 deep (a root may have 64 parts below it; each split shares "
        "what it leaves equally among its parts)"
    ),
    "SplitFinanced": (
        "invoice {invoiceId} was financed (sold by {seller}) and cannot be split; only an unfinanced "
        "receivable is split"
    ),
    "InvalidMaxTenor": "the longest tenor {maxTenor} seconds must be at least one day",
    "InvalidName": "invalid participant name {name}: it needs 1 to 128 bytes and no control characters",
    "AccessControlEnforcedDefaultAdminRules": "the default admin role moves only by the two-step transfer",
    "AccessControlEnforcedDefaultAdminDelay": "the admin transfer cannot be accepted before {schedule}",
    "FinancingDeadlinePassed": "the financing terms for invoice {invoiceId} expired at {deadline}",
    "InvoiceMatured": "invoice {invoiceId} matured on {dueDate} and can no longer be financed or split",
    "InvalidAdvance": (
        "advance {advance} for invoice {invoiceId} must be positive and at most the financier's due {due}"
    ),
    "AdvanceBelowAsk": "advance {advance} for invoice {invoiceId} is below the holder's ask of {minAdvance}",
    "FinancingNotAuthorized": (
        "the holder {holder} of invoice {invoiceId} has no live listing that financier {financier} may take; "
        "the holder lists it with `scf invoice offer`"
    ),
    "InvalidOfferExpiry": "listing expiry {expiry} for invoice {invoiceId} is not in the future",
    "InvalidRepayment": "repayment {amount} for invoice {invoiceId} must be positive and at most {outstanding}",
    "ParticipantAlreadyAdmitted": "{account} is already a participant",
    "ParticipantNotAdmitted": "{account} is not an admitted participant",
    "ParticipantIsSuspended": "participant {account} is suspended",
    "ParticipantKycExpired": "the KYC of participant {account} expired at {kycExpiry}",
    "ParticipantLacksRole": "participant {account} lacks the {role} role (has {roles})",
    "InvalidRoles": "invalid roles {roles}",
    "InvalidKycExpiry": "KYC expiry {kycExpiry} is not in the future",
    "InvalidParticipant": "{account} cannot be a participant",
    "EnforcedPause": "the network is paused by the operator",
    "ExpectedPause": "the network is not paused",
    "AccessControlUnauthorizedAccount": "{account} lacks the {neededRole} permission",
    "ERC20InsufficientBalance": "{sender} has {balance} but needs {needed} of the settlement currency",
    "ERC20InsufficientAllowance": (
        "{spender} may spend only {allowance} of the settlement currency but needs {needed}"
    ),
    "ERC721NonexistentToken": "invoice {tokenId} has no current holder",
    "ERC721InsufficientApproval": "{operator} is not approved for invoice {tokenId}",
    "ERC721IncorrectOwner": "{sender} does not hold invoice {tokenId}",
    "ERC721InvalidReceiver": "{receiver} cannot receive invoices",
    "ReentrancyGuardReentrantCall": "re-entrant call refused",
    # -- when things go wrong (contract v4) --
    "InvalidGracePeriod": ("invalid grace period {gracePeriod}: it can be at most 365 days (31536000 seconds)"),
    "InvoiceNotOpen": (
        "invoice {invoiceId} is {status}: only a Confirmed, Financed or PartiallyPaid receivable is "
        "disputed, extended or declared in default"
    ),
    "InvoiceNotDisputed": "invoice {invoiceId} is {status}, not Disputed: there is no dispute to withdraw",
    "CreditNoteNotAllowed": (
        "invoice {invoiceId} is {status}: a credit note needs an open receivable (Confirmed, Financed, "
        "PartiallyPaid or Disputed)"
    ),
    "NotCreditor": (
        "{account} cannot issue a credit note on invoice {invoiceId}: its creditor is {creditor} (the seller "
        "of a financed receivable, otherwise the holder)"
    ),
    "InvalidCreditNote": (
        "invalid credit note {credit} on invoice {invoiceId}: it must be above zero and at most the open "
        "amount {outstanding}"
    ),
    "InvalidExtension": (
        "invalid new due date {proposedDueDate} for invoice {invoiceId}: it must be after its due date "
        "{dueDate} and no later than {latestDueDate}"
    ),
    "ExtensionNotProposed": (
        "the buyer proposed {proposedDueDate} for invoice {invoiceId}, not {dueDate}; accept the proposed date"
    ),
    "DefaultBeforeGrace": (
        "invoice {invoiceId} cannot be declared in default before {defaultableAfter} (its due date plus "
        "the grace period); the chain time is {nowTimestamp}"
    ),
    "InvoiceNotDefaulted": (
        "invoice {invoiceId} is {status}, not Defaulted; its holder declares a default first (`scf invoice default`)"
    ),
    "NoRecourse": (
        "invoice {invoiceId} was not financed with recourse: the seller cannot be made to buy it back, "
        "the loss stays with the holder"
    ),
    "NothingOwed": "nothing is owed to the holder of invoice {invoiceId}: nothing to write off or buy back",
    "RecourseNotAccepted": (
        "the listing of invoice {invoiceId} by {holder} does not accept recourse: finance it without --recourse, "
        "or the holder lists it again with `scf invoice offer --recourse`"
    ),
    "RecourseGraceTooShort": (
        "a financing of invoice {invoiceId} with recourse must give the seller at least the network's grace "
        "period of {minimum} (asked {gracePeriod}); give a longer --grace-days"
    ),
    "EmptyBatch": "the batch holds no item; give at least one",
    "ConfirmationExpired": (
        "the signed confirmation of {number} by {supplier} expired at {deadline} (now {nowTimestamp}); "
        "ask the buyer to sign it again"
    ),
    "UnknownInvoiceNumber": "{supplier} has issued no invoice numbered {number} (in any spelling)",
    "ConfirmationTermsChanged": (
        "invoice {invoiceId} no longer matches the signed confirmation ({amount} in {currency}, due {dueDate}); "
        "the buyer must sign the invoice as it is"
    ),
    "ConfirmationNonceUsed": (
        "nonce {nonce} of {buyer} was used or revoked: this signed confirmation was submitted already or withdrawn"
    ),
    "InvalidConfirmationSignature": (
        "the signature is not that of {buyer}, the buyer of invoice {invoiceId}, for this chain and contract"
    ),
}

_TIME_FIELDS = {
    "dueDate",
    "expectedDueDate",
    "kycExpiry",
    "nowTimestamp",
    "deadline",
    "expiry",
    "latestDueDate",
    "schedule",
    "proposedDueDate",
    "defaultableAfter",
}
_MONEY_FIELDS = {
    "amount",
    "expectedAmount",
    "advance",
    "outstanding",
    "minAdvance",
    "balance",
    "needed",
    "allowance",
    "paid",
    "expectedPaid",
    "due",
    "expected",
    "received",
    "sum",
    "credit",
}
#: Role hashes of the contracts, by the name the messages use.
_ROLE_HASHES = {
    keccak(text=name): label
    for name, label in (
        ("OPERATOR_ROLE", "operator"),
        ("CURRENCY_MANAGER_ROLE", "currency manager"),
        ("MINTER_ROLE", "minter"),
    )
} | {b"\0" * 32: "default admin"}


def _role_names(bits: int) -> str:
    return "+".join(role_names(bits)) or "none"


class ErrorDecoder:
    """Decodes revert data against every custom error of the given ABIs."""

    def __init__(
        self,
        abis: Iterable[list[dict[str, Any]]],
        money: Callable[[int], str] | None = None,
        names: Callable[[str], str | None] | None = None,
    ) -> None:
        self.money = money
        self.names = names
        self.errors: dict[bytes, tuple[str, list[str], list[str]]] = {}
        self.selectors: dict[str, bytes] = {}
        for abi in abis:
            for item in abi:
                if item.get("type") != "error":
                    continue
                types = [abi_type(i) for i in item["inputs"]]
                signature = f"{item['name']}({','.join(types)})"
                arg_names = [i["name"] for i in item["inputs"]]
                self.errors[keccak(text=signature)[:4]] = (item["name"], arg_names, types)
                self.selectors[item["name"]] = keccak(text=signature)[:4]

    def _format_value(self, name: str, type_: str, value: Any) -> str:
        if name == "status" and isinstance(value, int):
            return status_name(value)
        if name in ("role", "roles") and isinstance(value, int):
            return _role_names(value)
        if name in ("gracePeriod", "minimum") and isinstance(value, int):
            return grace_text(value)
        if name in _TIME_FIELDS and isinstance(value, int):
            if value > 10**11:
                return str(value)
            return text_time(value)
        if name in _MONEY_FIELDS and isinstance(value, int) and self.money is not None:
            return self.money(value)
        if type_ == "address":
            address = to_checksum_address(value)
            known = self.names(address) if self.names is not None else None
            return f"{known} ({address})" if known else address
        if name == "neededRole" and isinstance(value, bytes):
            return _ROLE_HASHES.get(value, "0x" + value.hex())
        if name == "normalisedNumber" and isinstance(value, bytes):
            return repr(value.decode("utf-8", "replace"))
        if name in ("number", "name") and isinstance(value, str):
            return repr(value)
        if isinstance(value, bytes):
            return "0x" + value.hex()
        return str(value)

    def decode(self, data: str | bytes | None) -> TransactionReverted:
        raw = bytes.fromhex(data[2:] if data.startswith("0x") else data) if isinstance(data, str) else data or b""
        if len(raw) < 4:
            return TransactionReverted("the contract refused the transaction without a reason", NO_REASON)
        selector, body = raw[:4], raw[4:]
        if selector == keccak(text="Error(string)")[:4]:
            (message,) = abi_decode(["string"], body)
            return TransactionReverted(f"the contract refused the transaction: {message}", "Error")
        if selector == keccak(text="Panic(uint256)")[:4]:
            (code,) = abi_decode(["uint256"], body)
            return TransactionReverted(f"the contract panicked (code {code:#x})", "Panic")
        if selector not in self.errors:
            return TransactionReverted(f"the contract refused the transaction (unknown error 0x{raw.hex()[:8]})")
        name, names, types = self.errors[selector]
        # eth-abi 6 decodes addresses in lower case; callers compare with checksummed ones.
        values = tuple(
            to_checksum_address(v) if t == "address" else v for t, v in zip(types, abi_decode(types, body), strict=True)
        )
        args = dict(zip(names, values, strict=True))
        if name == "InvoiceNotFound":  # an id that does not exist is bad input (exit 2), as on the read side
            return InvoiceNotFound(int(args["invoiceId"]))
        shown = {n: self._format_value(n, t, v) for n, t, v in zip(names, types, values, strict=True)}
        template = RULES.get(name)
        if name == "NotInvoiceHolder" and int(str(args["holder"]), 16) == 0:
            template = "invoice {invoiceId} has no holder: it was cancelled, and a cancelled invoice is closed"
        if name == "ExtensionNotProposed" and int(args["proposedDueDate"]) == 0:
            template = (
                "the buyer has not proposed a new due date for invoice {invoiceId}; the buyer proposes one "
                "with `scf invoice extend`"
            )
        if template is None:
            text = f"{name}({', '.join(f'{k}={v}' for k, v in shown.items())})"
        else:
            text = template.format(**shown)
        if name in INPUT_ERRORS:
            return RevertedInput(text, name, args)
        return TransactionReverted(text, name, args)

    def rule(self, name: str, **args: Any) -> TransactionReverted:
        """Custom error ``name`` with ``args``, worded as if the contract had raised
        it: for a rule the client judges itself, with the contract's own words."""
        selector = self.selectors[name]
        _, names, types = self.errors[selector]
        return self.decode(selector + abi_encode(types, [args[n] for n in names]))

    def with_args(self, refused: TransactionReverted, **changed: Any) -> TransactionReverted:
        """``refused`` (a decoded custom error) with some arguments changed, worded again."""
        return self.rule(str(refused.error_name), **{**refused.error_args, **changed})


def _revert_data(exc: Exception) -> str | None:
    data = getattr(exc, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return data
    if isinstance(data, dict):
        inner = data.get("data")
        if isinstance(inner, str):
            return inner
    return None


#: The tip paid when the node cannot suggest one (no ``eth_maxPriorityFeePerGas``)
#: on a chain with a base fee: 0.1 gwei, the least an ethereumjs node gossips to
#: its peers (its transaction pool's ``MIN_GAS_PRICE``).
MIN_TIP_WEI = 100_000_000
#: When the node cannot estimate gas, a simulated transaction may use this
#: share of the latest block's gas limit (unused gas is not paid for).
FALLBACK_GAS_SHARE = 2


#: The ``error_name`` of a refusal that carried no data at all (no rule to name).
NO_REASON = "(no reason)"
#: How nodes say they cannot estimate gas at all (not that the call would fail):
#: ethereumjs on Clique ("extraData must be 97 bytes ..."), or no such method.
_CANNOT_ESTIMATE = re.compile(r"extraData must be|method not found|not supported|not available", re.IGNORECASE)
#: Rules the contracts judge against ``block.timestamp``: on a node whose
#: ``eth_call`` does not see the chain's time, a simulation's verdict on them is
#: not trusted (see :meth:`Sender.calls_see_the_clock`).
TIME_RULES = frozenset(
    {
        "InvalidDueDate",
        "InvalidKycExpiry",
        "ParticipantKycExpired",
        "FinancingDeadlinePassed",
        "InvoiceMatured",
        "InvalidOfferExpiry",
        "DefaultBeforeGrace",
        "ConfirmationExpired",
        "InvalidExtension",
        "AccessControlEnforcedDefaultAdminDelay",
    }
)
#: How nodes say a sender cannot pay for gas (Anvil, Geth, Besu, ethereumjs).
_NO_GAS_MONEY = re.compile(r"insufficient (?:funds|balance)|not have enough balance", re.IGNORECASE)
#: How a node says an estimate ran out of the gas the sender could pay for.
_BELOW_GAS = re.compile(r"gas required exceeds allowance", re.IGNORECASE)
#: How nodes say a transaction's nonce was used by a mined one (Anvil, Geth, Besu, ethereumjs).
_NONCE_USED = re.compile(r"nonce too low|nonce_too_low|nonce has already been used", re.IGNORECASE)
#: How nodes say another transaction with the same nonce waits in their pool, at a fee as high.
_NONCE_PENDING = re.compile(r"replacement (?:transaction )?underpriced|replacement gas too low", re.IGNORECASE)
#: How nodes say they hold this very transaction already (it was sent before).
_ALREADY_KNOWN = re.compile(
    r"already known|already imported|known transaction|already_known|already in the tx ?pool", re.IGNORECASE
)
#: How nodes say a transaction's max fee is below the base fee of the block they are building.
_FEE_BELOW_BASE = re.compile(
    r"max fee per gas less than block base fee|fee ?cap (?:is )?(?:less|lower) than|less than the block's "
    r"basefeepergas|fee_cap_too_low",
    re.IGNORECASE,
)
#: Seconds between tries for another command's lock on an account (:meth:`Sender.sending_as`).
LOCK_POLL = 0.05
#: Where the locks of :meth:`Sender.sending_as` live: the system's temporary folder, not
#: the data directory (which a refused command leaves as it was).
LOCK_FOLDER = Path(tempfile.gettempdir()) / "scf-ledger-locks"
#: The JSON-RPC method that hands a signed transaction to the node.
SEND_RAW = "eth_sendRawTransaction"
#: What web3's HTTP provider raises when the node is away (refused, lost, timed out, a
#: gateway's HTTP error); none is a JSON-RPC answer.
NODE_AWAY = (requests.exceptions.ConnectionError, requests.exceptions.Timeout, requests.exceptions.HTTPError)


def away_reason(exc: BaseException) -> tuple[str, bool | None]:
    """Why the node is away, in a few words, and whether a request it failed may have
    reached it: False when the connection was refused (nothing reached it), None when
    it was lost or timed out after the request was written, or a gateway answered."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "timed out connecting", False
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out", None
    if isinstance(exc, requests.exceptions.HTTPError):
        status = exc.response.status_code if exc.response is not None else "error"
        return f"HTTP {status}", None
    inner = exc.args[0] if exc.args else None
    if isinstance(inner, urllib3.exceptions.MaxRetryError) and isinstance(
        inner.reason, urllib3.exceptions.NewConnectionError
    ):
        return "connection refused", False
    return "connection lost", None


def node_key(url: str) -> str:
    """``url`` as the one node it reaches, for lock names: scheme, host, port
    (the scheme's default if none), and path without a trailing slash. A host
    that is this machine (localhost, 127.0.0.1, ::1, 0.0.0.0, or a name that
    resolves only to loopback addresses) is "loopback", so http://localhost:8545
    and http://127.0.0.1:8545/ are one node. Other names stay names: a
    provider's name may resolve to a different address at each lookup."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme, 0)
    except ValueError:
        return url.strip()  # not a URL a node answers at: as it is
    host = (parts.hostname or "").lower()
    return f"{scheme}://{_host_key(host, port)}:{port}{parts.path.rstrip('/')}" + (
        f"?{parts.query}" if parts.query else ""
    )


def _host_key(host: str, port: int) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        return "loopback" if address.is_loopback or address.is_unspecified else address.compressed
    if host == "localhost" or host.endswith(".localhost"):
        return "loopback"
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return host
    if found and all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in found):
        return "loopback"
    return host


@contextmanager
def open_lock(path: Path) -> Iterator[Any]:
    """The lock file ``path`` (in :data:`LOCK_FOLDER`), open for ``flock``, which
    needs only a read handle: every user's scf takes the same lock for one account
    and node. The folder is made like /tmp (everyone may add files, each removes
    only their own: mode 1777); a lock file is readable by everyone (0644). It is
    opened read-only, never through a symbolic link and never truncated, so a link
    planted in the shared folder can neither redirect nor empty a file. A folder or
    file that cannot be used is one line (ConfigError)."""
    folder = path.parent
    try:
        try:
            folder.mkdir(mode=0o1777)
            os.chmod(folder, 0o1777)  # mkdir's mode passes through the umask
        except FileExistsError:
            found = folder.lstat()
            if not stat.S_ISDIR(found.st_mode):
                raise NotADirectoryError(errno.ENOTDIR, "not a folder (a file or a link is in its place)") from None
            if found.st_uid == os.geteuid() and stat.S_IMODE(found.st_mode) != 0o1777:
                os.chmod(folder, 0o1777)  # made by an earlier scf with the umask's mode
        fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        if os.fstat(fd).st_uid == os.geteuid():
            os.fchmod(fd, 0o644)  # readable by every user, whatever the umask
    except OSError as exc:
        raise ConfigError(
            f"cannot use the lock file {path} that keeps two scf commands from sending as one account at once "
            f"({exc.strerror or exc}); make {folder} a folder everyone may write to (mode 1777, as /tmp), or "
            "remove what is in the way"
        ) from None
    with os.fdopen(fd, "rb") as handle:
        yield handle


def gwei(wei: int) -> str:
    """A fee per gas, exact, no trailing zeros: in gwei (10^9 wei) from 1 gwei up and at 0
    ("1000 gwei", "1.5 gwei", "0 gwei"), in wei below it, as on a chain with no base fee
    ("1 wei", not "0.000000001 gwei")."""
    if 0 < int(wei) < 10**9:
        return f"{int(wei)} wei"
    text = format(Decimal(int(wei)).scaleb(-9).normalize(), "f")
    return f"{text} gwei"


#: Init code that returns ``block.timestamp`` (TIMESTAMP PUSH1 0 MSTORE PUSH1 32 PUSH1 0 RETURN).
_RETURN_TIMESTAMP = "0x4260005260206000f3"
#: How far a call's clock may differ from the latest block's and still be the chain's.
CLOCK_TOLERANCE = 3600


class RevertAsResult(Web3Middleware):
    """Turns an ``eth_call`` answered with revert data *as its result* (as
    ethereumjs does) back into the revert it is, as Anvil, Geth and Besu
    answer it (a JSON-RPC error with code 3 and the data), so every caller
    decodes the contract's rule the same way whatever the node."""

    def response_processor(self, method: RPCEndpoint, response: RPCResponse) -> RPCResponse:
        return revert_as_error(method, response)  # type: ignore[arg-type, return-value]


def connect(url: str, timeout: float = 10.0) -> Web3:
    """A Web3 on `url`, checked to answer; RpcUnreachable otherwise. It reads
    proof-of-authority blocks (97-byte extraData) and reverts answered as
    results (:class:`RevertAsResult`), so every node looks alike above it."""
    provider = Web3.HTTPProvider(url, request_kwargs={"timeout": timeout})
    # web3 retries its allow-listed methods after a timeout or an HTTP error, sending
    # eth_sendRawTransaction too: a node that took the transaction and then went away would
    # leave only the last error (say, "connection refused") to report, which reads as
    # "nothing was sent". Reads are retried as before; a send is tried once, so what its
    # failure says is true (Sender.send_raw).
    provider.exception_retry_configuration = ExceptionRetryConfiguration(
        errors=(ConnectionError, requests.HTTPError, requests.Timeout),
        method_allowlist=[m for m in REQUEST_RETRY_ALLOWLIST if m != SEND_RAW],
    )
    w3 = Web3(provider)
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    w3.middleware_onion.add(RevertAsResult)
    try:
        _ = w3.eth.chain_id
    except (requests.exceptions.RequestException, OSError) as exc:
        reason = type(exc).__name__
        if isinstance(exc, requests.exceptions.ConnectionError):
            reason = "connection refused"
        elif isinstance(
            exc, (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL)
        ):
            # A malformed URL is bad input (exit 2), not a node that is away (3).
            raise InputError(f"invalid JSON-RPC URL {url!r}: use http://host:port") from None
        elif isinstance(exc, requests.exceptions.HTTPError):
            reason = f"HTTP {exc.response.status_code if exc.response is not None else 'error'}"
        elif isinstance(exc, requests.exceptions.Timeout):
            reason = "timed out"
        raise RpcUnreachable(url, reason) from None
    except (Web3RPCError, ValueError) as exc:
        raise RpcUnreachable(url, f"not a JSON-RPC endpoint: {exc}") from None
    return w3


def advance_clock(w3: Web3, seconds: int) -> dict[str, int]:
    """Move the clock of a local Anvil ``seconds`` forward and mine a block at
    the new time (``evm_increaseTime``, ``evm_mine``): for demos and training,
    to reach a due date or the end of a grace period now. Refused on a node
    whose client is not Anvil (``web3_clientVersion``): the clock of a real
    chain is nobody's to move. Returns the last block's time before, and the
    new block's number and time."""
    try:
        version = str(w3.client_version)
    except (Web3RPCError, ValueError):
        version = "a client that does not say which (web3_clientVersion)"
    if not version.lower().startswith("anvil/"):
        raise Refused(
            f"the node runs {version}, not a local Anvil: only the local dev chain's clock can be moved "
            "(start one with `scf node start`)"
        )
    before = int(w3.eth.get_block("latest")["timestamp"])
    for method, params in (("evm_increaseTime", [int(seconds)]), ("evm_mine", [])):
        reply = w3.provider.make_request(method, params)  # type: ignore[arg-type]
        if "error" in reply:
            error = reply["error"]
            raise RpcError(method, error.get("code"), str(error.get("message")))
    block = w3.eth.get_block("latest")
    return {"before": before, "block": int(block["number"]), "time": int(block["timestamp"])}


class Sender:
    """Signs and sends contract calls, waiting for the receipt."""

    def __init__(
        self, w3: Web3, decoder: ErrorDecoder, timeout: float = 30.0, keystore_dir: Path | None = None
    ) -> None:
        self.w3 = w3
        self.decoder = decoder
        self.timeout = timeout
        #: Where local accounts are, to name the one that sent a transaction in a message.
        self.keystore_dir = keystore_dir
        self.chain_id = int(w3.eth.chain_id)
        #: The locks this Sender holds (:meth:`sending_as`), per lock file and thread: how deep.
        self._held: dict[tuple[Path, int], int] = {}
        self._clock: bool | None = None
        #: False once the node failed to estimate gas and a simulation stood in (ethereumjs on Clique).
        self.node_estimates = True
        #: The time this node's calls run at (0 on ethereumjs), once asked.
        self._call_time = 0
        #: The node's address in lock names (:func:`node_key`), once worked out.
        self._node_key: str | None = None
        #: Sender and nonce of each transaction this Sender handed to the node, by hash, so
        #: that one the node no longer holds can be told apart from one that was mined.
        self._nonces: dict[str, tuple[str, int]] = {}

    def _fees(self) -> dict[str, int]:
        block = self.w3.eth.get_block("latest")
        base = block.get("baseFeePerGas")
        if base is None:
            return {"gasPrice": int(self.w3.eth.gas_price)}
        # Zero-fee private chains: pay nothing, so fresh accounts can transact.
        priority = 0 if base == 0 else self._tip()
        return {"maxFeePerGas": 2 * int(base) + priority, "maxPriorityFeePerGas": priority}

    def _tip(self) -> int:
        """The node's suggested tip, or :data:`MIN_TIP_WEI` when it has none to give."""
        reply = self.w3.provider.make_request(RPCEndpoint("eth_maxPriorityFeePerGas"), [])
        result = reply.get("result")
        if "error" in reply or not isinstance(result, str):
            return MIN_TIP_WEI
        return max(int(result, 16), MIN_TIP_WEI)

    def refusal(self, exc: Exception) -> TransactionReverted:
        """The contract's rule behind web3's revert ``exc`` (a call's or an estimate's), decoded."""
        data = _revert_data(exc)
        if data is not None:
            return self.decoder.decode(data)
        if isinstance(exc, ContractPanicError):
            return TransactionReverted(f"the contract panicked: {exc}")
        message = str(getattr(exc, "message", None) or exc)
        return TransactionReverted(f"the contract refused the transaction: {message}")

    def _raise_reverted(self, exc: Exception) -> None:
        raise self.refusal(exc) from None

    def call(self, fn: Any, sender: str | None = None, block: Any = "latest") -> Any:
        """A read-only call with reverts decoded."""
        try:
            return fn.call({"from": sender} if sender else {}, block_identifier=block)
        except (ContractCustomError, ContractLogicError) as exc:
            self._raise_reverted(exc)
        except BadFunctionCallOutput:
            # Nothing where a value was due: a node that reports a revert with no data at all.
            raise TransactionReverted("the contract refused the call and the node gave no reason", NO_REASON) from None

    def transact(self, fn: Any, signer: LocalAccount) -> TxReceipt:
        """Simulate, sign, send and wait; raises TransactionReverted with the rule.
        The nonce is taken and the transaction sent under the account's lock
        (:meth:`sending_as`, waiting up to the transaction timeout for another
        command to finish sending); the receipt is waited for outside it."""
        with self._before_sending():
            params: dict[str, Any] = {"from": signer.address, "chainId": self.chain_id, **self._fees()}
            try:
                gas = int(fn.estimate_gas(params))
                params["gas"] = gas + gas // 5 + 10_000
            except (ContractCustomError, ContractLogicError) as exc:
                self._raise_reverted(exc)
            except Web3RPCError as exc:
                self._estimate_refused(exc, signer.address)
                # The call as the node would run it (a placeholder gas and nonce keep web3 from asking the node).
                draft = fn.build_transaction({**params, "gas": 1, "nonce": 0})
                to = draft.get("to") or None  # None: a deployment, whose simulation answers its code
                returns = to is None or bool(getattr(fn, "abi", {}).get("outputs"))
                params["gas"] = self._simulated_gas(draft["data"], to, signer.address, returns)
        with self.sending_as(signer.address, wait=self.timeout):
            with self._before_sending():
                params["nonce"] = self.w3.eth.get_transaction_count(signer.address, "pending")
            tx = fn.build_transaction(params)
            tx_hash = self.send_raw(signer.sign_transaction(tx).raw_transaction, signer.address, int(params["nonce"]))
        return self.wait(tx_hash, fn, signer.address)

    def send_value(self, to: str, wei: int, signer: LocalAccount) -> TxReceipt:
        """Send ``wei`` of the chain's native coin (what gas is paid in) from
        ``signer`` to ``to`` and wait for the receipt. A plain transfer costs
        21,000 gas on every EVM chain, so nothing is estimated; a contract at
        ``to`` (which may refuse coin, or need more gas) is refused as bad
        input, and so is a payer that cannot cover the coin and the gas."""
        to = to_checksum_address(to)
        if not 0 < wei < 2**256:
            raise InputError(f"cannot send {wei} wei: give an amount above 0 and below 2^256 wei")
        with self._before_sending():
            code = self.w3.eth.get_code(to)
        if code:
            raise InputError(f"{to} is a contract, not an account: native coin goes to the accounts that sign")
        with self._before_sending():
            fees = self._fees()
            cost = wei + 21_000 * int(fees.get("maxFeePerGas", fees.get("gasPrice", 0)))
            held = int(self.w3.eth.get_balance(signer.address))
        if held < cost:
            raise Refused(
                f"{signer.address} holds {coins(held)} native coin and cannot send {coins(wei)} plus at most "
                f"{coins(cost - wei)} for gas; send less, or fund it first"
            )
        tx: dict[str, Any] = {"chainId": self.chain_id, "to": to, "value": int(wei), "gas": 21_000, **fees}
        with self.sending_as(signer.address, wait=self.timeout):
            with self._before_sending():
                tx["nonce"] = int(self.w3.eth.get_transaction_count(signer.address, "pending"))
            tx_hash = self.send_raw(signer.sign_transaction(tx).raw_transaction, signer.address, tx["nonce"])
        return self.wait(tx_hash, sender=signer.address)

    # -- the account's lock, and what the node says to a signed transaction --------------------
    @contextmanager
    def sending_as(self, account: str, who: str | None = None, wait: float = 0.0) -> Iterator[None]:
        """One sender at a time per account and node on this machine, from taking the
        nonce to the node holding the transaction: two would take the same nonce. An
        advisory lock (``flock``) on a file in :data:`LOCK_FOLDER`, released when the
        block ends or the process does, also by kill -9. This Sender takes it again in
        the same thread at no cost (a bulk run holds it while it sends through
        :meth:`transact`); any other holder, another process or another Sender or
        thread of this one, is waited for up to ``wait`` seconds, then AccountBusy.
        ``who`` names the account in that message (by default its participant name)."""
        lock = self._lock_path(account)
        mine = (lock, threading.get_ident())
        if mine in self._held:
            self._held[mine] += 1
            try:
                yield
            finally:
                self._held[mine] -= 1
            return
        with open_lock(lock) as handle:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise AccountBusy(
                            f"another scf command is sending transactions as {who or self.who(account)} to this "
                            "node; wait for it to finish and run this one again"
                        ) from None
                    time.sleep(LOCK_POLL)
            self._held[mine] = 1
            try:
                yield
            finally:
                del self._held[mine]  # closing the file releases the lock

    def _lock_path(self, account: str) -> Path:
        """The lock file of ``account`` on this node: by chain id, the node's
        address (:func:`node_key`) and the account, so every spelling of one
        node's URL takes one lock. Not by the genesis block's hash: two Anvils
        started in the same second with the same settings (parallel test
        workers) have the same genesis hash, and would wait on each other."""
        if self._node_key is None:
            self._node_key = node_key(self.url)
        node = hashlib.sha256(self._node_key.encode()).hexdigest()[:12]
        return LOCK_FOLDER / f"{self.chain_id}-{node}-{account.lower()}.lock"

    @property
    def url(self) -> str:
        """The node's JSON-RPC endpoint, as messages name it."""
        return str(getattr(self.w3.provider, "endpoint_uri", None) or "the node")

    def who(self, address: str) -> str:
        """A party in a sentence: its participant name, else its address."""
        return label(address, self.decoder.names(address) if self.decoder.names is not None else None)

    def account_name(self, address: str) -> str | None:
        """The local account that signs for ``address`` (a keystore file, else a dev
        account on the dev chain), for the `--as` a message suggests; None if none does."""
        if self.keystore_dir is not None and self.keystore_dir.is_dir():
            for path in sorted(self.keystore_dir.glob("*.json")):
                try:
                    if keystore_address(self.keystore_dir, path.stem) == to_checksum_address(address):
                        return path.stem
                except LedgerError:
                    continue  # an unreadable file names no one
        if self.chain_id == DEV_CHAIN_ID:
            for name, dev in DEV_ADDRESSES.items():
                if dev.lower() == address.lower():
                    return name
        return None

    @contextmanager
    def _before_sending(self) -> Iterator[None]:
        """The node going away (NodeLost) or answering a read with an error
        (ChainError) before a transaction is signed: nothing was sent, in one line."""
        try:
            yield
        except NODE_AWAY as exc:
            raise NodeLost(self.url, away_reason(exc)[0]) from None
        except Web3RPCError as exc:
            raise ChainError(
                f"the node at {self.url} answered with an error before anything was signed "
                f"({exc.message or exc}): nothing was sent; run the command again once it answers"
            ) from None

    def send_raw(self, raw: bytes, sender: str, nonce: int, earlier: int = 0) -> HexBytes:
        """Send signed transaction ``raw`` (of ``sender``, at ``nonce``); its hash.
        ``earlier``: how many transactions the same command sent before it (a
        bulk run), for what its failure says was sent.

        What the node answers is one line each: a sender that cannot pay for
        its gas is told how to fund it; a nonce another sender took (a mined
        transaction, or one waiting in the pool) is a NonceConflict; a fee
        below the base fee, a ChainError that says nothing was sent; this
        very transaction already held (sent before), or already mined, is
        taken as sent. A node that goes away on the way is a NodeLost that
        names the hash: "nothing was sent" only when that is proved (the
        connection was refused, and the request was not tried before: see
        :func:`connect`), otherwise it may have reached the node, and
        `scf tx show` says whether before anything is sent again."""
        tx_hash = HexBytes(keccak(raw))  # how the node will know it, whatever happens on the way
        self._nonces[tx_hash.to_0x_hex()] = (sender, nonce)
        try:
            return HexBytes(self.w3.eth.send_raw_transaction(raw))
        except Web3RPCError as exc:
            reason = str(exc.message or exc)
        except NODE_AWAY as exc:
            why, reached = away_reason(exc)
            if reached is False and self._sends_retried():
                reached = None  # refused now, but an earlier try may have reached it
            raise NodeLost(self.url, why, tx_hash.to_0x_hex(), reached, earlier) from None
        if _ALREADY_KNOWN.search(reason):
            return tx_hash
        if _NO_GAS_MONEY.search(reason):
            raise ChainError(_cannot_pay(sender)) from None
        if _NONCE_USED.search(reason) or _NONCE_PENDING.search(reason):
            if _NONCE_USED.search(reason) and self._mined(tx_hash):
                return tx_hash  # this very transaction, sent before and mined since
            kind = "used" if _NONCE_USED.search(reason) else "pending"
            raise NonceConflict(tx_hash.to_0x_hex(), nonce, self.who(sender), kind, earlier) from None
        if _FEE_BELOW_BASE.search(reason):
            nothing = "nothing was sent: run the command again"
            if earlier:
                nothing = (
                    f"it was not sent, but the {earlier} transaction(s) this command sent before it were: run "
                    "the command again (it skips what they did)"
                )
            raise ChainError(
                f"the node refused transaction {tx_hash.to_0x_hex()}: its max fee per gas is below the base fee "
                f"of the block it would go in (the base fee rose while it was prepared); {nothing}"
            ) from None
        raise ChainError(f"the node rejected the transaction: {reason}") from None

    def _sends_retried(self) -> bool:
        """Whether this node's provider tries a failed send again (web3's default,
        for a Web3 not made by :func:`connect`): then a refused connection may
        follow a try that reached the node."""
        config = getattr(self.w3.provider, "exception_retry_configuration", None)
        if config is None:
            return False
        return bool(check_if_retry_on_failure(RPCEndpoint(SEND_RAW), config.method_allowlist))

    def _mined(self, tx_hash: HexBytes) -> bool:
        try:
            self.w3.eth.get_transaction_receipt(tx_hash)
        except (TransactionNotFound, Web3RPCError, *NODE_AWAY):
            return False
        return True

    def next_base_fee(self) -> int | None:
        """The base fee per gas the next block charges: the last entry of
        ``eth_feeHistory`` (which counts in a fee set for the next block), else the
        latest block's; None on a chain without base fees."""
        try:
            history = self.w3.eth.fee_history(1, "latest")
            fees = history.get("baseFeePerGas") or []
            if fees:
                return int(fees[-1])
        except (Web3RPCError, ValueError, KeyError):
            pass  # a node without eth_feeHistory: the latest block says
        base = self.w3.eth.get_block("latest").get("baseFeePerGas")
        return None if base is None else int(base)

    def estimate(self, to: str, data: bytes, sender: str) -> int:
        """The gas a call of ``data`` to ``to`` needs from ``sender``; the rule that
        refuses it, decoded, if it reverts."""
        try:
            return int(self.w3.eth.estimate_gas({"from": sender, "to": to, "data": data}))  # type: ignore[typeddict-item]
        except (ContractCustomError, ContractLogicError) as exc:
            self._raise_reverted(exc)
        except Web3RPCError as exc:
            self._estimate_refused(exc, sender)
            return self._simulated_gas(data, to, sender)
        raise AssertionError("unreachable")  # pragma: no cover - _raise_reverted always raises

    def _estimate_refused(self, exc: Web3RPCError, sender: str) -> None:
        """Returns if the node only cannot estimate gas at all (ethereumjs on
        Clique), so a simulation stands in; else raises what it said (a revert's
        rule, a sender that cannot pay, or the node's own reason)."""
        if _revert_data(exc) is not None:
            self._raise_reverted(exc)
        reason = str(exc.message or exc)
        code = exc.rpc_response.get("error", {}).get("code") if isinstance(exc.rpc_response, dict) else None
        if code == -32601 or _CANNOT_ESTIMATE.search(reason):
            return
        if _NO_GAS_MONEY.search(reason) or (_BELOW_GAS.search(reason) and self._short_of_gas_money(sender)):
            raise ChainError(_cannot_pay(sender)) from None
        raise ChainError(f"the node refused to estimate the transaction: {reason}") from None

    def _short_of_gas_money(self, sender: str) -> bool:
        """Whether ``sender`` cannot pay even a plain transfer's gas at today's fees
        (Anvil estimates for such a sender as 'gas required exceeds allowance: 0')."""
        fees = self._fees()
        price = int(fees.get("maxFeePerGas", fees.get("gasPrice", 0)))
        return price > 0 and int(self.w3.eth.get_balance(sender)) < 21_000 * price  # type: ignore[arg-type]

    def _simulated_gas(self, data: bytes | str, to: str | None, sender: str, returns: bool = False) -> int:
        """Gas for a call the node cannot estimate (ethereumjs on Clique): the
        call is simulated with ``eth_call`` on the latest state with the gas it
        may use, ``1/FALLBACK_GAS_SHARE`` of the block's gas limit (only the gas
        used is paid). A refusal the contracts give is raised with its rule and
        nothing is sent; so is an empty answer where a value is due
        (``returns``: a node that answers a failure as an empty result). A rule
        of time from a node whose calls run at the wrong time is judged again
        (:meth:`verdict`)."""
        self.node_estimates = False
        allowance = int(self.w3.eth.get_block("latest")["gasLimit"]) // FALLBACK_GAS_SHARE
        call: dict[str, Any] = {"from": sender, "data": data, "gas": allowance}
        if to is not None:  # None: a deployment, simulated as a creation
            call["to"] = to_checksum_address(to)
        try:
            answer = bytes(self.w3.eth.call(call, "latest"))  # type: ignore[arg-type]
        except (ContractCustomError, ContractLogicError) as exc:
            try:
                self._raise_reverted(exc)
            except TransactionReverted as refused:
                verdict = self.verdict(refused)
                if verdict is not None:
                    raise verdict from None
            return allowance
        except Web3RPCError as exc:
            raise ChainError(
                f"the node could neither estimate nor simulate the transaction: {exc.message or exc}"
            ) from None
        if returns and not answer:
            raise TransactionReverted(
                "the contract refused the transaction in its simulation and the node gave no reason (it "
                "answered nothing where a value was due); nothing was sent",
                NO_REASON,
            )
        return allowance

    def replay_reason(self, tx_hash: str, block: int) -> str:
        """Why mined transaction ``tx_hash`` reverted: replayed on its block's state (a
        reverted transaction changes nothing), as the rule's sentence."""
        try:
            tx = self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
            self.w3.eth.call({"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}, block)
        except (ContractCustomError, ContractLogicError) as exc:
            try:
                self._raise_reverted(exc)
            except TransactionReverted as reverted:
                return str(reverted)
        except (*NODE_AWAY, Web3RPCError, TransactionNotFound) as exc:
            why = away_reason(exc)[0] if isinstance(exc, NODE_AWAY) else str(getattr(exc, "message", None) or exc)
            return f"the node failed while asked why ({why}); it changed nothing"
        return "it ran out of gas, or the state changed in its block"

    def send_pipelined(self, to: str, calls: Iterable[tuple[bytes, int]], signer: LocalAccount) -> Iterator[str]:
        """Sign and send each (calldata, gas) to ``to`` with consecutive nonces, without
        waiting for receipts (yields each hash as it is sent): the caller simulated the
        calls and sets the gas, and collects receipts at the end. Transactions are built
        here, not by web3's ``build_transaction`` (which checks the ABI again each time)."""
        with self.sending_as(signer.address):  # a bulk run holds it already: taken again at no cost
            with self._before_sending():
                fees = self._fees()
                nonce = int(self.w3.eth.get_transaction_count(signer.address, "pending"))
            to = to_checksum_address(to)
            for sent, (data, gas) in enumerate(calls):
                tx: dict[str, Any] = {"chainId": self.chain_id, "nonce": nonce, "to": to, "value": 0, "data": data}
                tx.update(gas=gas, **fees)
                # ``sent``: the batches already out, which a failure of this one must not deny.
                tx_hash = self.send_raw(signer.sign_transaction(tx).raw_transaction, signer.address, nonce, sent)
                nonce += 1
                yield str(Web3.to_hex(tx_hash))

    def wait(self, tx_hash: Any, fn: Any = None, sender: str | None = None) -> TxReceipt:
        """The receipt of ``tx_hash`` (of ``sender``) once mined; if it reverted, the rule
        that refused it, from replaying call ``fn`` on its block. TransactionTimeout,
        or NodeLost when the node went away, if it cannot be had in time."""
        receipt = self._receipt(tx_hash, sender)
        if receipt["status"] != 1:
            with self._after_mining(Web3.to_hex(tx_hash), receipt):
                self._explain_revert(tx_hash, receipt, fn, sender)
        return receipt

    @contextmanager
    def _after_mining(self, tx_hash: str, receipt: Any) -> Iterator[None]:
        """The node going away or failing while a mined, reverted transaction is
        explained: still the revert it is (which changed nothing), in one line."""
        try:
            yield
        except (*NODE_AWAY, Web3RPCError) as exc:
            why = away_reason(exc)[0] if isinstance(exc, NODE_AWAY) else str(exc.message or exc)
            raise TransactionReverted(
                f"transaction {tx_hash} reverted in block {receipt['blockNumber']}, which changed nothing on chain; "
                f"the node at {self.url} failed while the CLI asked it why ({why}); run the command again once "
                "the node answers to see the current rule"
            ) from None

    def _explain_revert(self, tx_hash: Any, receipt: Any, fn: Any, sender: str | None) -> None:
        """Raise the reason mined transaction ``tx_hash`` reverted (TransactionReverted)."""
        # Mined but reverted (state or time changed between simulation and
        # mining): replay it on its own block, whose time and state made it
        # fail (a reverted transaction changes nothing), to name the rule.
        if fn is not None:
            try:
                self.call(fn, sender, receipt["blockNumber"])
            except TransactionReverted as replayed:
                verdict = None if replayed.error_name == NO_REASON else self.verdict(replayed, receipt)
                if verdict is not None and verdict.error_name is None:
                    # A reason without a rule's name (an unknown error, a panic): say which transaction.
                    where = f"transaction {Web3.to_hex(tx_hash)} reverted in block {receipt['blockNumber']}: "
                    raise TransactionReverted(where + verdict.rule) from None
                if verdict is not None:
                    raise verdict from None
        text = unexplained_revert(Web3.to_hex(tx_hash), receipt, self._gas_of(tx_hash), simulated=fn is not None)
        if not self.calls_see_the_clock():
            block = self.w3.eth.get_block(receipt["blockNumber"])
            text += (
                f". This node simulates calls at time 0, so a rule of time cannot be named: check the "
                f"dates given (due dates, expiries, deadlines) against the chain time, "
                f"{text_time(int(block['timestamp']))} in that block"
            )
        raise TransactionReverted(text)

    def verdict(self, refused: TransactionReverted, receipt: Any = None) -> TransactionReverted | None:
        """The refusal to report for a simulated (or, with its ``receipt``,
        replayed) call that ``refused``: itself, unless it is a rule of time
        from a node whose calls run at the wrong time (see
        :meth:`calls_see_the_clock`); then judged again at the chain's time
        (:meth:`_at_chain_time`), None when it does not hold or cannot be
        judged here (the chain judges)."""
        if refused.error_name not in TIME_RULES or self.calls_see_the_clock():
            return refused
        return self._at_chain_time(refused, "latest" if receipt is None else receipt["blockNumber"])

    def _at_chain_time(self, refused: TransactionReverted, block: Any) -> TransactionReverted | None:
        """A rule of time judged again at ``block``'s time from the error's own
        figures: the refusal worded with the chain's time if it holds, None if
        it does not or cannot be judged here."""
        name, args = refused.error_name, refused.error_args
        then = self._call_time
        now = int(self.w3.eth.get_block(block)["timestamp"])
        if name == "InvalidDueDate":
            tenor = int(args["latestDueDate"]) - int(args["nowTimestamp"])  # type: ignore[call-overload]
            due = int(args["dueDate"])  # type: ignore[call-overload]
            if due <= now or due > now + tenor:
                return self.decoder.with_args(refused, nowTimestamp=now, latestDueDate=now + tenor)
        elif name == "InvalidExtension":
            tenor = int(args["latestDueDate"]) - then  # type: ignore[call-overload]
            proposed, due = int(args["proposedDueDate"]), int(args["dueDate"])  # type: ignore[call-overload]
            if proposed <= due or proposed > now + tenor:
                return self.decoder.with_args(refused, latestDueDate=now + tenor)
        elif name == "DefaultBeforeGrace" and now <= int(args["defaultableAfter"]):  # type: ignore[call-overload]
            return self.decoder.with_args(refused, nowTimestamp=now)
        return None

    def calls_see_the_clock(self) -> bool:
        """Whether this node's ``eth_call`` runs at its chain's time. ethereumjs
        runs every call in an empty block at time 0, where the contracts' rules
        of time (due dates, KYC expiry, deadlines) judge wrongly: on such a
        node those rules are left to the chain. Asked once, by a creation call
        whose code returns ``block.timestamp``."""
        if self._clock is None:
            try:
                if str(self.w3.client_version).lower().startswith("anvil/"):
                    self._clock = True  # before its first block a fresh Anvil calls at time 1
                    return True
                raw = self.w3.eth.call({"data": _RETURN_TIMESTAMP})  # type: ignore[typeddict-item]
                self._call_time = int.from_bytes(bytes(raw), "big")
                latest = int(self.w3.eth.get_block("latest")["timestamp"])
                self._clock = abs(self._call_time - latest) <= CLOCK_TOLERANCE
            except (Web3RPCError, ContractLogicError, ValueError):
                self._clock = True  # cannot tell: trust the node, as before
        return self._clock

    def _receipt(self, tx_hash: Any, sender: str | None = None) -> TxReceipt:
        """The receipt of ``tx_hash`` once mined (TransactionTimeout after the
        configured wait, saying why it may not be: :meth:`_not_mined`). A node
        error while it is not yet mined is a "not yet": ethereumjs answers one
        ("value ... not found in DB") while it stores the block that holds it.
        A node that is away is waited for too (a restart), up to the same
        wait; then NodeLost names the transaction, sent but not known mined."""
        deadline = time.monotonic() + self.timeout
        poll = 0.05
        error: str | None = None
        away: str | None = None
        while True:
            try:
                return self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                error = away = None
            except Web3RPCError as exc:
                error, away = str(exc.message or exc), None
            except NODE_AWAY as exc:
                error, away = None, away_reason(exc)[0]
            if time.monotonic() >= deadline and away is not None:
                raise NodeLost(self.url, away, Web3.to_hex(tx_hash), sent=True) from None
            if time.monotonic() >= deadline and error is not None:
                raise ChainError(
                    f"the node kept answering eth_getTransactionReceipt of {Web3.to_hex(tx_hash)} with an error "
                    f"for {self.timeout:g}s ({error}); it may still be mined: check with `scf tx show "
                    f"{Web3.to_hex(tx_hash)}`"
                ) from None
            if time.monotonic() >= deadline:
                raise self._not_mined(Web3.to_hex(tx_hash), sender) from None
            time.sleep(poll)
            poll = min(poll * 2, 0.5)

    def _not_mined(self, tx_hash: str, sender: str | None) -> TransactionTimeout:
        """Why ``tx_hash`` is not mined, as far as the node tells: it no longer holds
        it (dropped from its pool) and its nonce is unused, or its max fee is below
        the next block's base fee, or its nonce is held back behind a gap, or (not
        known) the node may not be mining. A transaction the node does not hold
        whose nonce was used since, or whose nonce is unknown, may have been mined
        in its place: said so, never "nothing of it is on chain"."""
        account = self.account_name(sender) if sender else None
        try:
            tx = self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return self._not_held(tx_hash, account)
        except (Web3RPCError, ValueError, *NODE_AWAY):
            return TransactionTimeout(tx_hash, self.timeout, account)
        if account is None:
            account = self.account_name(str(tx["from"]))
        held = self._held_back(tx, account)
        if held:
            return TransactionTimeout(tx_hash, self.timeout, account, held, held_back=True)
        try:
            base = self.next_base_fee()
        except (Web3RPCError, ValueError, *NODE_AWAY):
            base = None
        cap = tx.get("maxFeePerGas", tx.get("gasPrice"))
        if base is not None and cap is not None and int(cap) < base:
            why = (
                f"its max fee of {gwei(int(cap))} per gas is below the next block's base fee of {gwei(base)}, "
                "so it waits until fees fall"
            )
            return TransactionTimeout(tx_hash, self.timeout, account, why)
        return TransactionTimeout(tx_hash, self.timeout, account)

    def _not_held(self, tx_hash: str, account: str | None) -> TransactionTimeout:
        """``tx_hash`` not mined and no longer in the node's pool: dropped, with
        nothing of it on chain, only if its sender's nonce on chain shows that
        its nonce is still unused (a transaction mined at that nonce, by a node
        that lost track of this one or by a replacement, would have used it)."""
        known = self._nonces.get(tx_hash)
        try:
            used = None if known is None else int(self.w3.eth.get_transaction_count(known[0], "latest"))  # type: ignore[arg-type]
        except (Web3RPCError, ValueError, *NODE_AWAY):
            used = None
        if known is None or used is None:
            why = (
                "the node no longer holds it, and whether its nonce was used since (by it, or by another "
                "transaction in its place) cannot be told here"
            )
            return TransactionTimeout(tx_hash, self.timeout, account, why, gone=True)
        who, nonce = known
        if used > nonce:
            why = (
                f"the node no longer holds it, and nonce {nonce} of {self.who(who)} was used since by another "
                "transaction (a replacement, or another program sending as this account), so it will never be "
                "mined; find out what that one did before running the command again"
            )
            return TransactionTimeout(tx_hash, self.timeout, account, why, gone=True)
        why = f"dropped from its pool; nonce {nonce} of {self.who(who)} is still unused"
        return TransactionTimeout(tx_hash, self.timeout, account, why, dropped=True)

    def _held_back(self, tx: Any, account: str | None = None) -> str | None:
        """Why a pending ``tx`` waits on its nonce, if it does: its nonce is ahead of
        the sender's next nonce on chain and none of the nonces between is pending.
        A node that lost blocks (Anvil restarted from an older state) holds such a
        transaction until something fills the gap; replacing or cancelling it at the
        same nonce would be held back too. What fills the gap is said exactly: the
        next transaction of the sender takes the first missing nonce, so running the
        command again would have both mined once the gap is filled. (A restart does
        not reliably empty a pool: Geth keeps a journal of it, and a remote
        provider's pool is not ours to restart.)"""
        try:
            sender = tx["from"]
            mined = self.w3.eth.get_transaction_count(sender, "latest")
            pending = self.w3.eth.get_transaction_count(sender, "pending")
        except (Web3RPCError, ValueError, KeyError, *NODE_AWAY):
            return None
        nonce = int(tx["nonce"])
        if nonce <= mined or pending > mined:
            return None
        who = self.who(str(sender))
        name = account or "ACCOUNT"
        gap = f"nonce {mined}" if nonce == mined + 1 else f"nonces {mined} to {nonce - 1}"
        return (
            f"its nonce {nonce} is ahead of the next nonce {mined} of {who} on chain and no transaction with "
            f"nonce {mined} is waiting, so the node holds it back (did the node lose blocks, e.g. restart from "
            f"an older state?). It is mined as soon as transactions of this account fill {gap}: the next "
            f"command that sends as it takes nonce {mined}, so running this command again would send it a "
            "second time and, once the gap is filled, both would be mined. To have it mined once, fill the "
            f"gap with transfers that change nothing, one per missing nonce: `scf account fund {name} --amount "
            f"0.000000000000000001 --as {name}` sends 1 wei to itself. A replacement or cancellation would "
            "wait behind the gap as well"
        )

    def _gas_of(self, tx_hash: Any) -> int | None:
        try:
            return int(self.w3.eth.get_transaction(tx_hash)["gas"])
        except (Web3RPCError, ValueError, KeyError):
            return None


def coins(wei: int) -> str:
    """``wei`` as an exact number of native coins (10^18 wei each), no trailing zeros."""
    whole, rest = divmod(int(wei), 10**18)
    return f"{whole:,}" + (f".{rest:018d}".rstrip("0") if rest else "")


def _cannot_pay(sender: str) -> str:
    return (
        f"{sender} cannot pay for gas: it holds too little of this chain's native coin for the gas (and "
        "any coin sent); fund it with `scf account fund ADDRESS --amount 1 --as FUNDED_ACCOUNT`"
    )


def unexplained_revert(tx_hash: str, receipt: Any, gas_limit: int | None, simulated: bool = True) -> str:
    """The sentence for a mined transaction that reverted where replaying it names
    no rule (a node that gives no revert data, or gas running out): what the
    client checked before sending, and what changed nothing."""
    used = int(receipt["gasUsed"])
    block = int(receipt["blockNumber"])
    if gas_limit is not None and used >= gas_limit:
        why = f"it ran out of gas (used all {used:,} it was given)"
    else:
        why = "the node gave no reason, and replaying it on its block names no rule"
    checked = (
        "the CLI checked the inputs and simulated the call on the latest state, which passed; the state "
        "changed before it was mined, or the node refuses what its simulation allows"
        if simulated
        else "the CLI checked the inputs"
    )
    return (
        f"transaction {tx_hash} reverted in block {block}: {why}. Before sending, {checked}. The revert "
        "changed nothing on chain; run the command again to see the current rule"
    )
