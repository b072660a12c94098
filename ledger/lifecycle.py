"""The invoice lifecycle on chain: participants, issue, confirm, cancel,
list for financing, finance, repay, split and transfer receivables (contract
v3's multi-tier parts), what happens when things go wrong (contract v4:
disputes, credit notes, maturity extensions, defaults, write-offs and
buy-backs under recourse), and reading an invoice's state and lineage.

Each state-changing method simulates before it sends (see
:class:`ledger.evm.chain.Sender`), so a refused operation changes nothing, and
returns a plain dict that the CLI prints as text or JSON (amounts as exact
decimal strings, never floats; see :mod:`ledger.format`). An invoice's state
on chain is a :class:`ledger.evm.invoice.ChainInvoice`."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3._utils.method_formatters import log_entry_formatter  # the formatter web3's get_logs applies
from web3.logs import DISCARD
from web3.types import TxReceipt

from ledger.business_time import business_date, due_timestamp, kyc_expiry_timestamp, kyc_last_day
from ledger.config import Settings
from ledger.deployment import Currency, Deployment
from ledger.errors import ChainError, InputError, Refused, TransactionReverted
from ledger.evm.chain import ErrorDecoder, Sender
from ledger.evm.invoice import ChainInvoice
from ledger.evm.rpc import RpcClient
from ledger.finance.pricing import QUICK_DAY_COUNT, advance_amount, discounted_advance
from ledger.format import amount as amount_text
from ledger.format import date_text, grace_days, grace_text, is_nobody, iso_time, money, party, someone, text_time
from ledger.invoice_numbers import normalise_invoice_number
from ledger.lifecycle_inputs import Party, document_hash, parse_roles, positive_units
from ledger.money import from_minor_units, parse_rate, to_minor_units
from ledger.names import (
    DEFAULTED_STATUSES,
    OPEN_STATUSES,
    ZERO_ADDRESS,
    InvoiceStatus,
    check_participant_name,
    require_role,
    role_names,
    status_name,
)
from ledger.names import resolve as resolve_name

__all__ = ["TERMS_VALIDITY", "Ledger", "Party", "document_hash", "parse_rate", "parse_roles"]

#: How long a financier's terms stay valid after it sends them.
TERMS_VALIDITY = dt.timedelta(minutes=15)
#: The longest listing `scf invoice offer --days` accepts (a listing lapses; the holder lists again).
MAX_LISTING_DAYS = 365
#: A reference given as a hash already: 0x and 64 hex digits (else the text is hashed with keccak-256).
_REF_HASH_RE = re.compile(r"^0x[0-9a-fA-F]{64}$")
#: The zero bytes32: no reference.
NO_REFERENCE = b"\0" * 32


#: What :func:`reference_hash` says of an empty payment reference.
EMPTY_REFERENCE = "an empty reference records nothing; give the purchase order or invoice text, or omit it"


def reference_hash(text: str | None, empty: str = EMPTY_REFERENCE) -> bytes:
    """The bytes32 a payment reference (or a statement kept off chain: a
    dispute's reasons, a credit note's text) is recorded as: none for None,
    the value of ``0x`` and 64 hex digits, else keccak-256 of the text
    (UTF-8). Empty text is bad input, said by ``empty``."""
    if text is None:
        return NO_REFERENCE
    if not text.strip():
        raise InputError(empty)
    if _REF_HASH_RE.match(text):
        return bytes.fromhex(text[2:])
    return bytes(keccak(text=text))


def _status_after_payment(before: ChainInvoice, total_paid: int) -> str:
    """A receivable's status after a payment that brought what was paid on it to ``total_paid``."""
    if total_paid == before.amount:
        return "Paid"
    return before.status_name if before.status in DEFAULTED_STATUSES else "PartiallyPaid"


def reference_text(ref: bytes) -> str | None:
    """A recorded reference as 0x and 64 hex digits, None for none."""
    return None if bytes(ref) == NO_REFERENCE else "0x" + bytes(ref).hex()


class Ledger:
    """Bindings to one deployment, with the operations of the lifecycle."""

    def __init__(self, settings: Settings, w3: Web3, deployment: Deployment) -> None:
        self.settings = settings
        self.w3 = w3
        self.deployment = deployment
        c = deployment.contracts
        self.registry = w3.eth.contract(
            address=to_checksum_address(c["ParticipantRegistry"].address), abi=c["ParticipantRegistry"].abi
        )
        self.invoices = w3.eth.contract(
            address=to_checksum_address(c["InvoiceToken"].address), abi=c["InvoiceToken"].abi
        )
        decoder = ErrorDecoder(deployment.abis(), self._money_hint, self.name_of)
        self.sender = Sender(w3, decoder, settings.tx_timeout, settings.keystore_dir)
        self._participant_names: dict[str, str] | None = None

    # -- helpers -----------------------------------------------------------
    def _money_hint(self, units: int) -> str:
        # Revert messages carry bare minor units; all deployments so far settle in one currency.
        if len(self.deployment.currencies) == 1:
            cur = next(iter(self.deployment.currencies.values()))
            return money(units, cur.decimals, cur.symbol)
        return f"{units} minor units"

    def token(self, currency: Currency) -> Any:
        abi = self.deployment.contracts[f"SettlementToken:{currency.symbol}"].abi
        return self.w3.eth.contract(address=to_checksum_address(currency.address), abi=abi)

    def chain_time(self) -> int:
        """Now, as the next block will see it: an idle chain's last block can
        be hours old, so never earlier than the wall clock (UTC)."""
        latest = int(self.w3.eth.get_block("latest")["timestamp"])
        return max(latest, int(dt.datetime.now(dt.UTC).timestamp()))

    def _tx(self, receipt: TxReceipt) -> dict[str, Any]:
        return {
            "tx_hash": Web3.to_hex(receipt["transactionHash"]),
            "block": int(receipt["blockNumber"]),
            "gas_used": int(receipt["gasUsed"]),
        }

    # -- names -------------------------------------------------------------
    def participant_names(self, refresh: bool = False) -> dict[str, str]:
        """Address -> registered name, from the registry's admission events."""
        if self._participant_names is None or refresh:
            start = self.deployment.contracts["ParticipantRegistry"].block
            logs = self._events(self.registry, ("ParticipantAdmitted", "ParticipantRenamed"), start)
            self._participant_names = {str(log["args"]["account"]): str(log["args"]["name"]) for log in logs}
        return self._participant_names

    def _events(self, contract: Any, names: tuple[str, ...], start: int, *topics: str) -> list[Any]:
        """The events ``names`` of ``contract`` from block ``start``, decoded, in
        chain order, whose next topics are ``topics``: read in ranges the node
        allows (ethereumjs: 2,500 blocks), cut answers continued, and filtered
        here too (ethereumjs applies only topic 0); see :meth:`RpcClient.logs_between`."""
        events = {contract.events[name]().topic.lower(): contract.events[name]() for name in names}
        rpc = RpcClient(self.settings.rpc_url, self.settings.tx_timeout)
        try:
            raw = list(rpc.logs_between([contract.address], start, rpc.block_number(), [list(events), *topics]))
        finally:
            rpc.close()
        return [events[log["topics"][0].lower()].process_log(log_entry_formatter(log)) for log in raw]

    def name_of(self, address: str | None) -> str | None:
        if address is None or is_nobody(address):
            return None
        return self.participant_names().get(to_checksum_address(address))

    def resolve(self, text: str, what: str = "participant", account_first: bool = False) -> Party:
        """An address, a registered participant name or a local account name
        (see :func:`ledger.names.resolve`)."""
        address = resolve_name(text, self.participant_names(), what, self.settings.keystore_dir, account_first)
        return Party(address, self.name_of(address))

    def roles_of(self, address: str) -> int:
        """The registry role bits of ``address`` (0 for a non-participant)."""
        return int(self.registry.functions.participant(address).call()[1])

    def require_role(self, address: str, role: str, why: str) -> None:
        """Refused (exit 1) before anything is sent when ``address`` lacks
        ``role`` on chain (:func:`ledger.names.require_role`)."""
        require_role(self.roles_of(address), role, self.name_of(address) or address, why)

    # -- participants --------------------------------------------------------
    def add_participant(
        self,
        operator: LocalAccount,
        name: str,
        address: str,
        roles: int,
        kyc_until: dt.date,
        *,
        allow_contract: bool = False,
    ) -> dict[str, Any]:
        """Admit ``address`` under ``name``. An address with code (a contract)
        is refused as bad input unless ``allow_contract``: a contract cannot
        sign, so it is usually a mistake (a token's address pasted for a
        wallet's), but a multisig wallet (a Safe) is a contract that acts."""
        check_participant_name(name)
        if name.strip().casefold() in {n.casefold() for n in self.participant_names().values()}:
            raise InputError(f"participant name {name!r} is taken; choose a distinct name")
        if is_nobody(address):
            raise InputError(
                f"{ZERO_ADDRESS} (the zero address) cannot be a participant; give the participant's address"
            )
        if not allow_contract and self.w3.eth.get_code(to_checksum_address(address)):
            raise InputError(
                f"{address} is a contract, not an account; pass --allow-contract to admit a contract wallet "
                "(e.g. a multisig)"
            )
        expiry = kyc_expiry_timestamp(kyc_until)
        receipt = self.sender.transact(self.registry.functions.admit(address, name.strip(), roles, expiry), operator)
        self._participant_names = None
        return {
            "name": name.strip(),
            "address": address,
            "roles": role_names(roles),
            "kyc_until": kyc_until.isoformat(),
            **self._tx(receipt),
        }

    def set_suspended(self, operator: LocalAccount, address: str, suspended: bool) -> dict[str, Any]:
        """Suspend or reinstate; refused without a transaction when the
        participant is already in that state (or was never admitted)."""
        _, _, _, admitted, now_suspended = self.registry.functions.participant(address).call()
        who = self.name_of(address) or address
        if not admitted:
            raise InputError(f"{who} is not an admitted participant; admit it with `scf participant add`")
        if bool(now_suspended) == suspended:  # the ledger's state, not the input, refuses it: exit 1
            state = "suspended" if suspended else "not suspended"
            raise Refused(f"{who} is already {state}; nothing to change")
        fn = self.registry.functions.suspend if suspended else self.registry.functions.reinstate
        receipt = self.sender.transact(fn(address), operator)
        return {"address": address, "name": self.name_of(address), "suspended": suspended, **self._tx(receipt)}

    def update_participant(
        self,
        operator: LocalAccount,
        address: str,
        roles: int | None = None,
        kyc_until: dt.date | None = None,
        name: str | None = None,
    ) -> dict[str, Any]:
        """Change a participant's roles, renew (or shorten) its KYC, or rename it;
        what is not given stays as it is. A participant whose KYC expired is
        renewed by giving a new ``kyc_until``. A new name is checked as at
        admission, before anything is sent."""
        if roles is None and kyc_until is None and name is None:
            raise InputError("nothing to change; give --role, --kyc-until or --name")
        if name is not None:
            check_participant_name(name)
        current_name, current_roles, current_kyc, admitted, _ = self.registry.functions.participant(address).call()
        if not admitted:
            raise InputError(f"{address} is not an admitted participant; admit it with `scf participant add`")
        rename = name is not None and name.strip() != current_name
        if rename and name is not None:
            clean = name.strip()
            taken = {n.casefold() for a, n in self.participant_names().items() if a != address}
            if clean.casefold() in taken:
                raise InputError(f"participant name {clean!r} is taken; choose a distinct name")
        result: dict[str, Any] = {"address": address}
        if roles is not None or kyc_until is not None:
            new_roles = current_roles if roles is None else roles
            expiry = current_kyc if kyc_until is None else kyc_expiry_timestamp(kyc_until)
            receipt = self.sender.transact(
                self.registry.functions.updateParticipant(address, new_roles, expiry), operator
            )
            result.update(
                roles=role_names(new_roles),
                kyc_until=date_text(kyc_last_day(expiry)),
                **self._tx(receipt),
            )
        if rename and name is not None:
            clean = name.strip()
            receipt = self.sender.transact(self.registry.functions.rename(address, clean), operator)
            result.update(renamed_from=current_name, **self._tx(receipt))
            self._participant_names = None
        result["name"] = self.name_of(address)
        return result

    def participants(self) -> list[dict[str, Any]]:
        """Every admitted participant as the registry holds it now (read from
        the chain; the CLI lists them from the database, see
        :func:`ledger.queries.participants`)."""
        now = self.chain_time()
        rows = []
        for address, _ in self.participant_names(refresh=True).items():
            name, roles, kyc, admitted, suspended = self.registry.functions.participant(address).call()
            rows.append(
                {
                    "name": name,
                    "address": address,
                    "roles": role_names(roles),
                    "kyc_until": date_text(kyc_last_day(kyc)),
                    "suspended": bool(suspended),
                    "active": bool(admitted and not suspended and now < kyc),
                }
            )
        return rows

    # -- money -------------------------------------------------------------
    def mint(self, operator: LocalAccount, to: str, amount: str, symbol: str) -> dict[str, Any]:
        currency = self.deployment.currency(symbol)
        units = to_minor_units(amount, currency.decimals)
        if units == 0:
            raise InputError(
                f"invalid amount {amount!r}: minting nothing sends a transaction for nothing; give more than 0"
            )
        receipt = self.sender.transact(self.token(currency).functions.mint(to, units), operator)
        return {
            "to": party(to, self.name_of),
            "amount": amount_text(units, currency.decimals),
            "currency": currency.symbol,
            **self._tx(receipt),
        }

    def balance(self, address: str, symbol: str) -> Decimal:
        currency = self.deployment.currency(symbol)
        return from_minor_units(int(self.token(currency).functions.balanceOf(address).call()), currency.decimals)

    def transfer(self, sender: LocalAccount, to: str, amount: str, symbol: str) -> dict[str, Any]:
        """Pay ``amount`` of the settlement token ``symbol`` from ``sender``
        to ``to``. Refused before anything is sent: nothing (0) as bad input,
        more than the sender holds as a rule. Returns the transaction and
        both parties' balances after it (exact decimal strings)."""
        currency = self.deployment.currency(symbol)
        units = to_minor_units(amount, currency.decimals)
        if units == 0:
            raise InputError(
                f"invalid amount {amount!r}: a transfer of nothing sends a transaction for nothing; give more than 0"
            )
        token = self.token(currency)
        held = int(token.functions.balanceOf(sender.address).call())
        if units > held:
            who = self.name_of(sender.address) or sender.address
            raise Refused(
                f"{who} holds {money(held, currency.decimals, currency.symbol)}, less than the "
                f"{money(units, currency.decimals, currency.symbol)} to transfer; transfer at most what it holds"
            )
        receipt = self.sender.transact(token.functions.transfer(to, units), sender)

        def balance_of(address: str) -> str:
            return amount_text(int(token.functions.balanceOf(address).call()), currency.decimals)

        return {
            "from": party(sender.address, self.name_of),
            "to": party(to, self.name_of),
            "currency": currency.symbol,
            "amount": amount_text(units, currency.decimals),
            "balances": {"from": balance_of(sender.address), "to": balance_of(to)},
            **self._tx(receipt),
        }

    def approve_settlement(self, owner: LocalAccount, amount: str, symbol: str) -> dict[str, Any]:
        """Let the invoice contract draw up to ``amount`` of ``symbol`` from
        ``owner`` (the ERC-20 allowance, set to exactly that; 0 takes it back):
        a standing consent, e.g. for a holder's buy-back demand under recourse.
        scf's own payments approve what each needs; this is for the payments
        another party's transaction draws. Returns the allowance after it."""
        currency = self.deployment.currency(symbol)
        units = to_minor_units(amount, currency.decimals)
        token = self.token(currency)
        receipt = self.sender.transact(token.functions.approve(self.invoices.address, units), owner)
        allowed = int(token.functions.allowance(owner.address, self.invoices.address).call())
        return {
            "owner": party(owner.address, self.name_of),
            "spender": {"address": self.invoices.address, "name": "InvoiceToken"},
            "currency": currency.symbol,
            "allowance": amount_text(allowed, currency.decimals),
            **self._tx(receipt),
        }

    def _send_paying(
        self, fn: Any, owner: LocalAccount, currency: Currency, units: int, check: Callable[[], None] | None = None
    ) -> TxReceipt:
        """Send ``fn``, which draws ``units`` of ``currency`` from ``owner``,
        approving the invoice contract for exactly that first when a simulation
        shows the allowance is all it lacks. If ``fn`` then fails after such an
        approval (a rule the simulation could not see, as on a node whose calls
        run at time 0), the earlier allowance is restored: nothing is left half-done.
        (A transaction not yet mined when the wait ends is left to be mined: its
        approval stays with it.)
        ``check`` runs after the simulation and before anything is sent (rules
        the client judges itself, after those the contract names first)."""
        earlier = self._ensure_allowance(owner, currency, units, fn, check)
        try:
            return self.sender.transact(fn, owner)
        except TransactionReverted as failed:
            if earlier is None:
                raise
            # Mined and reverted (or refused before sending): the approval alone stands; take it back.
            token = self.token(currency)
            try:
                self.sender.transact(token.functions.approve(self.invoices.address, earlier), owner)
            except (Refused, ChainError) as exc:
                shown = money(units, currency.decimals, currency.symbol)
                failed.rule = (
                    f"{failed.rule}; and restoring the earlier allowance failed ({exc}): the invoice contract may "
                    f"still draw {shown} from {owner.address} until it is spent or approved again"
                )
                failed.args = (failed.rule,)
                raise failed from None
            raise

    def _ensure_allowance(
        self, owner: LocalAccount, currency: Currency, units: int, fn: Any, check: Callable[[], None] | None = None
    ) -> int | None:
        """Approve the invoice contract to move exactly what `fn` needs, but
        only after simulating `fn` showed that the allowance is all it lacks
        (and ``check`` passed); returns the allowance before, if it approved."""
        try:
            self.sender.call(fn, owner.address)
            lacks = False
        except TransactionReverted as exc:
            lacks = exc.error_name in ("ERC20InsufficientAllowance", "ERC20InsufficientBalance")
            verdict = None if lacks else self.sender.verdict(exc)
            if verdict is not None:
                raise verdict from None
        if check is not None:
            check()
        if not lacks:
            return None
        token = self.token(currency)
        balance = int(token.functions.balanceOf(owner.address).call())
        if balance < units:
            raise TransactionReverted(
                f"{owner.address} has {money(balance, currency.decimals, currency.symbol)} "
                f"but needs {money(units, currency.decimals, currency.symbol)}"
            )
        earlier = int(token.functions.allowance(owner.address, self.invoices.address).call())
        self.sender.transact(token.functions.approve(self.invoices.address, units), owner)
        return earlier

    # -- invoices ------------------------------------------------------------
    def issue(
        self,
        supplier: LocalAccount,
        buyer: str,
        number: str,
        amount: str,
        symbol: str,
        due: dt.date,
        document: Path | None = None,
    ) -> dict[str, Any]:
        """Issue an invoice under the supplier's invoice ``number``: the
        contract registers (supplier, normalised number) forever and refuses
        the number again in any spelling, whatever the other terms."""
        normalised = normalise_invoice_number(number)
        currency = self.deployment.currency(symbol)
        units = positive_units(amount, currency.decimals)
        buyer_party = self.resolve(buyer, "buyer")
        due_ts = due_timestamp(due)
        doc = document_hash(document)
        # The contract refuses a number used before; judged here too, so a node that
        # cannot simulate the call (ethereumjs runs calls at time 0, where the due date
        # fails first) still names this rule before anything is sent.
        existing = int(self.sender.call(self.invoices.functions.invoiceIdOf(supplier.address, number)))
        if existing:
            raise self.sender.decoder.rule(
                "DuplicateInvoice",
                supplier=supplier.address,
                normalisedNumber=normalised.encode(),
                existingInvoiceId=existing,
            )
        receipt = self.sender.transact(
            self.invoices.functions.issue(buyer_party.address, number, units, currency.address, due_ts, doc),
            supplier,
        )
        events = self.invoices.events.InvoiceIssued().process_receipt(receipt, errors=DISCARD)
        invoice_id = int(events[0]["args"]["invoiceId"])
        return {
            "invoice_id": invoice_id,
            "number": number,
            "normalised_number": normalised,
            "buyer": party(buyer_party.address, buyer_party.name),
            "amount": amount_text(units, currency.decimals),
            "currency": currency.symbol,
            "due": due.isoformat(),
            "document_hash": "0x" + doc.hex(),
            **self._tx(receipt),
        }

    def grace_period(self) -> int:
        """The deployment's grace period on chain, in seconds (``gracePeriod()``)."""
        return int(self.sender.call(self.invoices.functions.gracePeriod()))

    def invoice_state(self, invoice_id: int) -> ChainInvoice:
        """``getInvoice`` of ``invoice_id`` (refused as ``InvoiceNotFound`` if there is none)."""
        return ChainInvoice.from_struct(self.sender.call(self.invoices.functions.getInvoice(invoice_id)))

    def holder_of(self, invoice_id: int) -> str | None:
        """The current holder, or None for a burnt (cancelled) invoice."""
        try:
            return str(self.invoices.functions.ownerOf(invoice_id).call())
        except Exception:  # noqa: BLE001 - burnt (cancelled) invoices have no holder
            return None

    def listing(self, invoice_id: int) -> dict[str, Any] | None:
        """The stored listing of an invoice (``getListing``), or None."""
        financier, expiry, min_advance, recourse = self.sender.call(self.invoices.functions.getListing(invoice_id))
        if int(expiry) == 0:
            return None
        return {
            "financier": someone(financier),
            "expiry": int(expiry),
            "min_advance": int(min_advance),
            "recourse": bool(recourse),
        }

    def confirm(self, buyer: LocalAccount, invoice_id: int) -> dict[str, Any]:
        receipt = self.sender.transact(self.invoices.functions.confirm(invoice_id), buyer)
        return {"invoice_id": invoice_id, "status": "Confirmed", **self._tx(receipt)}

    def confirm_many(self, buyer: LocalAccount, invoice_ids: list[int]) -> dict[str, Any]:
        """Confirm several invoices in one transaction (``confirmBatch``), all or none."""
        receipt = self.sender.transact(self.invoices.functions.confirmBatch(invoice_ids), buyer)
        return {"invoice_ids": invoice_ids, "status": "Confirmed", **self._tx(receipt)}

    def cancel(self, supplier: LocalAccount, invoice_id: int) -> dict[str, Any]:
        receipt = self.sender.transact(self.invoices.functions.cancel(invoice_id), supplier)
        return {"invoice_id": invoice_id, "status": "Cancelled", **self._tx(receipt)}

    def offer(
        self,
        holder: LocalAccount,
        invoice_id: int,
        financier: str | None,
        min_advance: str,
        days: int,
        recourse: bool = False,
    ) -> dict[str, Any]:
        """List a receivable for financing with an asking advance (consent to
        sell at no less); the listing ends when the receivable changes hands.
        ``recourse``: the holder also accepts a financing with recourse to it
        (after a default it may have to buy the receivable back)."""
        state = self.invoice_state(invoice_id)
        currency = self._currency_of(state)
        min_units = positive_units(min_advance, currency.decimals, "minimum advance")
        to = self.resolve(financier, "financier").address if financier else ZERO_ADDRESS
        if financier:
            self.require_role(to, "financier", "list it for a financier, or for any financier without --to")
        if not 1 <= days <= MAX_LISTING_DAYS:
            raise InputError(f"invalid listing period {days} days: must be 1 to {MAX_LISTING_DAYS}")
        expiry = self.chain_time() + days * 86400
        receipt = self.sender.transact(
            self.invoices.functions.offerForFinancing(invoice_id, to, min_units, expiry, recourse), holder
        )
        return {
            "invoice_id": invoice_id,
            "financier": party(someone(to), self.name_of),  # null: any financier
            "currency": currency.symbol,
            "min_advance": amount_text(min_units, currency.decimals),
            "expires": iso_time(expiry),
            "recourse": recourse,
            **self._tx(receipt),
        }

    def withdraw_offer(self, holder: LocalAccount, invoice_id: int) -> dict[str, Any]:
        receipt = self.sender.transact(self.invoices.functions.withdrawOffer(invoice_id), holder)
        return {"invoice_id": invoice_id, "listing": "withdrawn", **self._tx(receipt)}

    def _currency_of(self, state: ChainInvoice) -> Currency:
        currency = self.deployment.currency_by_address(state.currency)
        if currency is None:  # pragma: no cover - only accepted currencies can be issued
            raise InputError(f"invoice currency {state.currency} is not in the deployment record")
        return currency

    def quick_terms(
        self, state: ChainInvoice, advance: str | None, advance_rate: str | None, discount_rate: str | None
    ) -> int:
        """The advance in minor units from exactly one of the three ways to
        state it, priced by :mod:`ledger.finance.pricing`: a rate of the open
        amount (rounded down), or the open amount less its discount at an
        annual rate, ACT/365, for the whole days left to the due date by the
        chain's clock (the discount rounded up). Rates round against the
        financier's cash out: down."""
        given = [x for x in (advance, advance_rate, discount_rate) if x is not None]
        if len(given) != 1:
            raise InputError("state the advance in exactly one way: --advance, --advance-rate or --discount-rate")
        currency = self._currency_of(state)
        if advance is not None:
            return positive_units(advance, currency.decimals, "advance")
        if advance_rate is not None:
            return advance_amount(state.outstanding, parse_rate(advance_rate, "advance rate"))
        rate = parse_rate(str(discount_rate), "discount rate")
        days = max(0, (state.due_ts - self.chain_time() + 86399) // 86400)
        return discounted_advance(state.outstanding, rate, days, QUICK_DAY_COUNT)

    def finance(
        self,
        financier: LocalAccount,
        invoice_id: int,
        advance: str | None = None,
        advance_rate: str | None = None,
        discount_rate: str | None = None,
        due: str | None = None,
        *,
        advance_units: int | None = None,
        due_units: int | None = None,
        expected_amount: int | None = None,
        expected_paid: int | None = None,
        expected_due: int | None = None,
        expected_seller: str | None = None,
        deadline: int | None = None,
        recourse: bool = False,
        grace_seconds: int | None = None,
    ) -> dict[str, Any]:
        """Fund a listed receivable on the terms the financier sees now (or was
        given): a changed invoice, payment or holder reverts instead of being
        financed on stale terms. The financier is due ``due`` of the buyer's
        later payments (default: the whole open amount, i.e. discounting, no
        reserve); the rest of the open amount is the seller's reserve, paid to
        it by the contract as the buyer pays. ``deadline`` (unix seconds,
        default now + TERMS_VALIDITY) voids the terms on chain after it.
        ``recourse``: after a default the financier may make the seller buy
        the receivable back; ``grace_seconds`` after the due date before a
        default may be declared (default: the deployment's grace period)."""
        state = self.invoice_state(invoice_id)
        currency = self._currency_of(state)
        outstanding = state.outstanding
        units = (
            advance_units
            if advance_units is not None
            else self.quick_terms(state, advance, advance_rate, discount_rate)
        )
        if units == 0 and advance_units is None:  # a rate of 0%, or a discount that takes it all: bad input
            raise InputError(
                f"the advance for invoice {invoice_id} comes to {money(0, currency.decimals, currency.symbol)}; "
                "give a positive --advance or --advance-rate, or a lower --discount-rate"
            )
        if due_units is None:
            due_units = outstanding if due is None else positive_units(due, currency.decimals, "financier's due")
        if deadline is None:
            deadline = self.chain_time() + int(TERMS_VALIDITY.total_seconds())
        holder = self.holder_of(invoice_id) or ZERO_ADDRESS
        terms = (
            units,
            due_units,
            holder if expected_seller is None else expected_seller,
            state.amount if expected_amount is None else expected_amount,
            state.paid if expected_paid is None else expected_paid,
            state.due_ts if expected_due is None else expected_due,
            deadline,
            recourse,
            self.grace_period() if grace_seconds is None else grace_seconds,
        )
        fn = self.invoices.functions.finance(invoice_id, terms)

        def times() -> None:
            if not self.sender.calls_see_the_clock():
                self._finance_times(invoice_id, state, holder, financier.address)

        receipt = self._send_paying(fn, financier, currency, units, times)
        return self._financed(receipt, invoice_id, currency, units, due_units, outstanding - due_units)

    def _finance_times(self, invoice_id: int, state: ChainInvoice, holder: str, financier: str) -> None:
        """The contract's rules of time on a financing, judged here at the chain's
        time for a node whose calls run at time 0 (where a matured invoice or a
        lapsed or absent listing passes), in the contract's words, after the
        rules the simulation names: nothing is approved or sent for a financing
        the chain would refuse."""
        now = int(self.w3.eth.get_block("latest")["timestamp"])
        rule = self.sender.decoder.rule
        if now >= state.due_ts:
            raise rule("InvoiceMatured", invoiceId=invoice_id, dueDate=state.due_ts)
        listing = self.sender.call(self.invoices.functions.getListing(invoice_id))
        taker = str(listing[0])
        if now > int(listing[1]) or (int(taker, 16) != 0 and taker != financier):
            raise rule("FinancingNotAuthorized", invoiceId=invoice_id, holder=holder, financier=financier)

    def _financed(
        self, receipt: TxReceipt, invoice_id: int, currency: Currency, units: int, due_units: int, reserve: int
    ) -> dict[str, Any]:
        """What :meth:`finance` reports of its mined transaction."""
        args = self.invoices.events.InvoiceFinanced().process_receipt(receipt, errors=DISCARD)[0]["args"]
        d = currency.decimals
        return {
            "invoice_id": invoice_id,
            "advance": amount_text(units, d),
            "due": amount_text(due_units, d),
            "reserve": amount_text(reserve, d),
            "currency": currency.symbol,
            "seller": party(str(args["seller"]), self.name_of),
            "status": "Financed",
            "recourse": bool(args["recourse"]),
            "grace_days": grace_days(int(args["gracePeriod"])),
            **self._tx(receipt),
        }

    def repay(self, buyer: LocalAccount, invoice_id: int, amount: str) -> dict[str, Any]:
        """Pay as the buyer: the contract sends the holder up to the
        financier's due and the rest (the reserve) to the seller. An invoice
        that was split is paid across its open leaves (:meth:`repay_across`)."""
        state = self.invoice_state(invoice_id)
        if state.status == InvoiceStatus.SPLIT:
            return self.repay_across(buyer, invoice_id, amount, state)
        currency = self._currency_of(state)
        units = positive_units(amount, currency.decimals)
        if state.status == InvoiceStatus.DISPUTED:
            raise Refused(
                f"invoice {invoice_id} is disputed: it is paid once the buyer withdraws the dispute "
                f"(`scf invoice resolve {invoice_id}`) or the creditor issues a credit note "
                f"(`scf invoice credit-note {invoice_id}`)"
            )
        fn = self.invoices.functions.repay(invoice_id, units)
        receipt = self._send_paying(fn, buyer, currency, units)
        args = self.invoices.events.InvoiceRepaid().process_receipt(receipt, errors=DISCARD)[0]["args"]
        total = int(args["totalPaid"])
        to_holder = int(args["toHolder"])
        d = currency.decimals
        result = {
            "invoice_id": invoice_id,
            "amount": amount_text(units, d),
            "currency": currency.symbol,
            "payee": party(str(args["payee"]), self.name_of),
            "to_payee": amount_text(to_holder, d),
            "total_paid": amount_text(total, d),
            "outstanding": amount_text(state.amount - total, d),
            "status": _status_after_payment(state, total),
            **self._tx(receipt),
        }
        if state.status in DEFAULTED_STATUSES:
            result["recovery"] = True
        if units != to_holder:
            result["reserve_released"] = amount_text(units - to_holder, d)
            result["seller"] = party(someone(state.seller), self.name_of)
        return result

    def repay_across(
        self, buyer: LocalAccount, invoice_id: int, amount: str, state: ChainInvoice | None = None
    ) -> dict[str, Any]:
        """Pay ``amount`` as the buyer across the open leaves below
        ``invoice_id`` (``repayRoot``): pro rata to their open amounts, rounded
        down, the minor units left over one each to leaves with room in id
        order; each share settled as :meth:`repay` settles it. Returns the
        total and one entry per leaf paid."""
        state = state or self.invoice_state(invoice_id)
        currency = self._currency_of(state)
        d = currency.decimals
        units = positive_units(amount, d)
        fn = self.invoices.functions.repayRoot(invoice_id, units)
        receipt = self._send_paying(fn, buyer, currency, units)
        reserves = {
            int(e["args"]["invoiceId"]): (int(e["args"]["amount"]), str(e["args"]["seller"]))
            for e in self.invoices.events.ReserveReleased().process_receipt(receipt, errors=DISCARD)
        }
        leaves = []
        for event in self.invoices.events.InvoiceRepaid().process_receipt(receipt, errors=DISCARD):
            args = event["args"]
            leaf_id = int(args["invoiceId"])
            leaf = self.invoice_state(leaf_id)
            entry: dict[str, Any] = {
                "invoice_id": leaf_id,
                "amount": amount_text(int(args["amount"]), d),
                "payee": party(str(args["payee"]), self.name_of),
                "to_payee": amount_text(int(args["toHolder"]), d),
                "total_paid": amount_text(int(args["totalPaid"]), d),
                "outstanding": amount_text(leaf.amount - int(args["totalPaid"]), d),
                "status": leaf.status_name,
            }
            if leaf_id in reserves:
                entry["reserve_released"] = amount_text(reserves[leaf_id][0], d)
                entry["seller"] = party(reserves[leaf_id][1], self.name_of)
            leaves.append(entry)
        return {
            "invoice_id": invoice_id,
            "amount": amount_text(units, d),
            "currency": currency.symbol,
            "leaves": leaves,
            "outstanding": amount_text(self.open_below(invoice_id), d),
            **self._tx(receipt),
        }

    # -- multi-tier parts (contract v3) ---------------------------------------
    def lineage(self, invoice_id: int) -> dict[str, Any]:
        """Where ``invoice_id`` sits in its tree: ``parent_id`` (None for a
        root), ``root_id`` (itself for a root) and ``depth`` (0 for a root)."""
        parent, root, depth = self.sender.call(self.invoices.functions.getLineage(invoice_id))
        return {"invoice_id": invoice_id, "parent_id": int(parent) or None, "root_id": int(root), "depth": int(depth)}

    def parts_of(self, root_id: int) -> list[int]:
        """Every part ever split from the tree of ``root_id`` (a root), in
        creation (id) order; empty for an unsplit invoice or a part."""
        return [int(i) for i in self.sender.call(self.invoices.functions.partsOf(root_id))]

    def open_below(self, invoice_id: int) -> int:
        """What the buyer still owes on ``invoice_id``: its open amount, or
        for a split one the open amounts of its leaves (minor units)."""
        state = self.invoice_state(invoice_id)
        if state.status != InvoiceStatus.SPLIT:
            return 0 if state.status in (InvoiceStatus.CANCELLED, InvoiceStatus.ISSUED) else state.outstanding
        root = self.lineage(invoice_id)["root_id"]
        below = {invoice_id}
        total = 0
        for part_id in self.parts_of(root):  # parents come before their parts
            if self.lineage(part_id)["parent_id"] in below:
                below.add(part_id)
                part = self.invoice_state(part_id)
                if part.status != InvoiceStatus.SPLIT:
                    total += part.outstanding
        return total

    def split(self, holder: LocalAccount, invoice_id: int, parts: list[tuple[str, str, str | None]]) -> dict[str, Any]:
        """Split a receivable as its holder: each part is (holder: a name or
        address, amount text, reference text or None); the amounts must sum to
        its open amount exactly (the contract refuses otherwise, and sends
        nothing). A reference is recorded as :func:`reference_hash` of it."""
        state = self.invoice_state(invoice_id)
        currency = self._currency_of(state)
        d = currency.decimals
        specs = [
            (self.resolve(who, "part holder").address, positive_units(amount, d, "part amount"), reference_hash(ref))
            for who, amount, ref in parts
        ]
        receipt = self.sender.transact(self.invoices.functions.split(invoice_id, specs), holder)
        (split,) = self.invoices.events.InvoiceSplit().process_receipt(receipt, errors=DISCARD)
        created = [
            {
                "invoice_id": int(e["args"]["partId"]),
                "holder": party(str(e["args"]["holder"]), self.name_of),
                "amount": amount_text(int(e["args"]["amount"]), d),
                "depth": int(e["args"]["depth"]),
                "reference": reference_text(e["args"]["ref"]),
            }
            for e in self.invoices.events.PartCreated().process_receipt(receipt, errors=DISCARD)
        ]
        return {
            "invoice_id": invoice_id,
            "root_id": int(split["args"]["rootId"]),
            "status": "Split",
            "currency": currency.symbol,
            "amount": amount_text(sum(units for _, units, _ in specs), d),
            "parts": created,
            **self._tx(receipt),
        }

    def transfer_receivable(
        self, holder: LocalAccount, invoice_id: int, to_text: str, ref_text: str | None = None
    ) -> dict[str, Any]:
        """Transfer a receivable (an invoice or a part) as its holder to an
        admitted participant, with an optional payment reference recorded on
        chain as :func:`reference_hash` of it (``transferWithReference``).
        Not :meth:`transfer`, which pays the settlement token."""
        to = self.resolve(to_text, "recipient")
        ref = reference_hash(ref_text)
        receipt = self.sender.transact(
            self.invoices.functions.transferWithReference(invoice_id, to.address, ref), holder
        )
        return {
            "invoice_id": invoice_id,
            "from": party(str(holder.address), self.name_of),
            "to": party(to.address, to.name),
            "reference": reference_text(ref),
            **self._tx(receipt),
        }

    # -- when things go wrong (contract v4) --------------------------------------------
    # Each checks first what the contract checks (party, status, grace, amounts), so a
    # refused command sends nothing and says what to do; the simulation before sending
    # (:class:`Sender`) still catches what changed in between, or what is not checked here
    # (a pause, a lapsed KYC), with the contract's rule.
    def _acting(self, account: LocalAccount, expected: str | None, invoice_id: int, role: str, why: str) -> None:
        """Refused (exit 1) unless ``account`` is ``expected``, the ``role`` of invoice ``invoice_id``."""
        if expected is None:  # only a cancelled invoice's token is burnt
            raise Refused(f"invoice {invoice_id} has no {role}: it was cancelled, and a cancelled invoice is closed")
        if to_checksum_address(account.address) == to_checksum_address(expected):
            return
        who = self.name_of(account.address) or account.address
        whose = self.name_of(expected) or expected
        raise Refused(f"{who} is not the {role} of invoice {invoice_id} (the {role} is {whose}); {why}")

    @staticmethod
    def _require_open(state: ChainInvoice, invoice_id: int, action: str) -> None:
        """Refused unless ``state`` is open (Confirmed, Financed or PartiallyPaid): what the
        contract requires to dispute, extend or declare a default (``action``)."""
        if state.status in OPEN_STATUSES:
            return
        if state.status == InvoiceStatus.DISPUTED:
            raise Refused(
                f"invoice {invoice_id} is disputed and cannot be {action} until the dispute is resolved "
                f"(the buyer withdraws it with `scf invoice resolve {invoice_id}`, or the creditor issues a "
                "credit note)"
            )
        hints: dict[int, str] = {
            InvoiceStatus.ISSUED: f"; the buyer confirms it first (`scf invoice confirm {invoice_id}`)",
            InvoiceStatus.SPLIT: f"; its open amount lives in its parts (`scf invoice tree {invoice_id}`)",
        }
        hint = hints.get(state.status, "")
        raise Refused(
            f"invoice {invoice_id} is {state.status_name}: only a Confirmed, Financed or PartiallyPaid "
            f"receivable is {action}{hint}"
        )

    def _event(self, receipt: TxReceipt, name: str) -> Any:
        """The arguments of the (first) event ``name`` of the invoice contract in ``receipt``."""
        return self.invoices.events[name]().process_receipt(receipt, errors=DISCARD)[0]["args"]

    def dispute(self, buyer: LocalAccount, invoice_id: int, reason: str) -> dict[str, Any]:
        """Dispute a Confirmed, Financed or PartiallyPaid receivable as its
        buyer, with a statement of reasons: only its keccak-256 hash goes on
        chain (the text stays with the parties; 0x and 64 hex digits is taken
        as the hash itself). Until the dispute is resolved the receivable is
        not paid, financed, split, moved or declared in default; a listing ends."""
        reason_hash = reference_hash(reason, "an empty --reason says nothing; state why the receivable is disputed")
        state = self.invoice_state(invoice_id)
        self._acting(buyer, state.buyer, invoice_id, "buyer", "only the buyer disputes it")
        if state.status == InvoiceStatus.DISPUTED:
            raise Refused(
                f"invoice {invoice_id} is disputed already (from {status_name(state.disputed_from)}); the buyer "
                f"withdraws the dispute with `scf invoice resolve {invoice_id}`, or the creditor issues a credit note"
            )
        self._require_open(state, invoice_id, "disputed")
        receipt = self.sender.transact(self.invoices.functions.dispute(invoice_id, reason_hash), buyer)
        args = self._event(receipt, "InvoiceDisputed")
        return {
            "invoice_id": invoice_id,
            "status": "Disputed",
            "disputed_from": status_name(int(args["previous"])),
            "buyer": party(str(args["buyer"]), self.name_of),
            "reason_hash": reference_text(reason_hash),
            **self._tx(receipt),
        }

    def withdraw_dispute(self, buyer: LocalAccount, invoice_id: int) -> dict[str, Any]:
        """Withdraw the buyer's dispute of a receivable: it returns to the status it had."""
        state = self.invoice_state(invoice_id)
        self._acting(buyer, state.buyer, invoice_id, "buyer", "only the buyer withdraws its dispute")
        if state.status != InvoiceStatus.DISPUTED:
            raise Refused(f"invoice {invoice_id} is {state.status_name}, not Disputed: there is no dispute to withdraw")
        receipt = self.sender.transact(self.invoices.functions.withdrawDispute(invoice_id), buyer)
        args = self._event(receipt, "DisputeWithdrawn")
        return {
            "invoice_id": invoice_id,
            "status": status_name(int(args["restored"])),
            "buyer": party(str(args["buyer"]), self.name_of),
            **self._tx(receipt),
        }

    def credit_note(
        self, creditor: LocalAccount, invoice_id: int, amount: str, note: str | None = None
    ) -> dict[str, Any]:
        """Reduce an open (or disputed) receivable by ``amount`` as its
        creditor: the seller of a financed receivable (dilution is its risk),
        otherwise the holder. Ends a dispute. When a financier holds it, the
        seller pays the financier in the same transaction what the reduced
        open amount no longer covers of its due, max(0, (due - paid to it) -
        new open amount), approved first as a repayment is. A credit of the
        whole open amount closes it: Paid if anything was paid, else
        Cancelled. ``note``: the credit note's number or text, recorded as
        :func:`reference_hash` of it."""
        state = self.invoice_state(invoice_id)
        currency = self._currency_of(state)
        d = currency.decimals
        units = positive_units(amount, d, "credit note amount")
        note_hash = reference_hash(
            note, "an empty note says nothing; give the credit note's number or text, or omit --note"
        )
        if state.status != InvoiceStatus.DISPUTED and state.status not in OPEN_STATUSES:
            raise Refused(
                f"invoice {invoice_id} is {state.status_name}: a credit note needs an open receivable "
                "(Confirmed, Financed, PartiallyPaid or Disputed)"
            )
        holder = self.holder_of(invoice_id)
        role = "seller" if state.financed else "holder"
        self._acting(
            creditor,
            state.seller or holder,
            invoice_id,
            role,
            "the seller of a financed receivable issues its credit notes (dilution is its risk), else the holder",
        )
        open_ = state.outstanding
        if units > open_:
            raise InputError(
                f"a credit note of {money(units, d, currency.symbol)} on invoice {invoice_id} is above its open "
                f"amount {money(open_, d, currency.symbol)}; credit at most {amount_text(open_, d)}"
            )
        fn = self.invoices.functions.issueCreditNote(invoice_id, units, note_hash)
        to_holder = 0
        if state.seller is not None and holder is not None and holder != state.seller:
            to_holder = max(0, state.financier_open - (open_ - units))
        if to_holder:
            self._require_funds(creditor.address, currency, to_holder, f"the credit note on invoice {invoice_id}")
        receipt = (
            self._send_paying(fn, creditor, currency, to_holder) if to_holder else self.sender.transact(fn, creditor)
        )
        args = self._event(receipt, "CreditNoteIssued")
        new_amount = int(args["newAmount"])
        return {
            "invoice_id": invoice_id,
            "credit": amount_text(units, d),
            "amount": amount_text(new_amount, d),
            "outstanding": amount_text(new_amount - state.paid, d),
            "currency": currency.symbol,
            "issuer": party(str(args["issuer"]), self.name_of),
            "holder": party(str(args["holder"]), self.name_of),
            "to_holder": amount_text(int(args["toHolder"]), d),
            "note_hash": reference_text(note_hash),
            "status": status_name(int(args["status"])),
            **self._tx(receipt),
        }

    def propose_extension(self, buyer: LocalAccount, invoice_id: int, new_due: dt.date) -> dict[str, Any]:
        """Propose a later due date as the buyer (a business date, as
        ``issue`` takes it): after the current one and within the longest
        tenor from now. Replaces an earlier proposal; the holder accepts it
        with :meth:`accept_extension`."""
        state = self.invoice_state(invoice_id)
        self._acting(buyer, state.buyer, invoice_id, "buyer", "only the buyer proposes a new due date")
        self._require_open(state, invoice_id, "extended")
        new_ts = due_timestamp(new_due)
        if new_ts <= state.due_ts:
            raise InputError(
                f"invalid new due date {new_due}: invoice {invoice_id} is due {date_text(state.due_ts)}; "
                "propose a later date"
            )
        latest = self.chain_time() + int(self.sender.call(self.invoices.functions.maxTenor()))
        if new_ts > latest:
            last = business_date(latest) - dt.timedelta(days=1)
            raise InputError(
                f"invalid new due date {new_due}: it can be at most the longest tenor from now, {last}; "
                "propose an earlier date"
            )
        receipt = self.sender.transact(self.invoices.functions.proposeExtension(invoice_id, new_ts), buyer)
        args = self._event(receipt, "ExtensionProposed")
        return {
            "invoice_id": invoice_id,
            "due": date_text(int(args["dueDate"])),
            "proposed_due": date_text(int(args["proposedDueDate"])),
            "buyer": party(str(args["buyer"]), self.name_of),
            **self._tx(receipt),
        }

    def accept_extension(self, holder: LocalAccount, invoice_id: int, date: dt.date | None = None) -> dict[str, Any]:
        """Accept the buyer's proposed due date as the holder (the financier,
        if financed). ``date`` None is the proposed one; given, it must be it
        (so the holder accepts what it has read)."""
        state = self.invoice_state(invoice_id)
        self._acting(
            holder,
            self.holder_of(invoice_id),
            invoice_id,
            "holder",
            "the holder (the financier, if financed) accepts a new due date",
        )
        self._require_open(state, invoice_id, "extended")
        proposed = state.proposed_due_ts
        if proposed == 0:
            raise Refused(
                f"the buyer has not proposed a new due date for invoice {invoice_id}; "
                f"the buyer proposes one with `scf invoice extend {invoice_id} --to DATE`"
            )
        if date is not None and due_timestamp(date) != proposed:
            raise Refused(
                f"the buyer proposed {date_text(proposed)} for invoice {invoice_id}, not {date}; "
                f"accept {date_text(proposed)} (or omit --date)"
            )
        receipt = self.sender.transact(self.invoices.functions.acceptExtension(invoice_id, proposed), holder)
        args = self._event(receipt, "MaturityExtended")
        return {
            "invoice_id": invoice_id,
            "old_due": date_text(int(args["oldDueDate"])),
            "due": date_text(int(args["newDueDate"])),
            "holder": party(str(args["holder"]), self.name_of),
            **self._tx(receipt),
        }

    def declare_default(self, holder: LocalAccount, invoice_id: int) -> dict[str, Any]:
        """Declare an open receivable in default as its holder, once the
        chain time is past its due date plus the grace period (the
        financing's, else the deployment's). The buyer can still pay
        (recoveries); the holder may then write its claim off, or, under a
        financing with recourse, make the seller buy it back."""
        state = self.invoice_state(invoice_id)
        currency = self._currency_of(state)
        holder_address = self.holder_of(invoice_id)
        self._acting(holder, holder_address, invoice_id, "holder", "only the holder declares a default")
        if state.status in (InvoiceStatus.DEFAULTED, InvoiceStatus.WRITTEN_OFF):
            raise Refused(f"invoice {invoice_id} is {state.status_name} already: its default was declared before")
        self._require_open(state, invoice_id, "declared in default")
        now = self.chain_time()
        after = state.defaultable_after
        if now <= after:
            raise Refused(
                f"invoice {invoice_id} can be declared in default only after {text_time(after)} (due "
                f"{date_text(state.due_ts)} plus {grace_text(state.grace_period)} of grace); "
                f"it is {text_time(now)} now"
            )
        if state.holder_claim(holder_address) == 0:
            raise Refused(
                f"nothing is owed to {self.name_of(holder.address) or holder.address} on invoice {invoice_id}: "
                "its due is paid in full, so there is no default to declare"
            )
        receipt = self.sender.transact(self.invoices.functions.declareDefault(invoice_id), holder)
        args = self._event(receipt, "InvoiceDefaulted")
        d = currency.decimals
        return {
            "invoice_id": invoice_id,
            "status": "Defaulted",
            "holder": party(str(args["holder"]), self.name_of),
            "currency": currency.symbol,
            "outstanding": amount_text(int(args["outstanding"]), d),
            "holder_claim": amount_text(int(args["holderClaim"]), d),
            **self._tx(receipt),
        }

    def write_off(self, holder: LocalAccount, invoice_id: int) -> dict[str, Any]:
        """Write off the holder's unpaid claim on a defaulted receivable (its
        open amount, or a financier's rest of its due): recorded, and the
        buyer's later payments are still received (recoveries)."""
        state = self.invoice_state(invoice_id)
        currency = self._currency_of(state)
        holder_address = self.holder_of(invoice_id)
        self._acting(holder, holder_address, invoice_id, "holder", "only the holder writes off its claim")
        if state.status == InvoiceStatus.WRITTEN_OFF:
            raise Refused(f"invoice {invoice_id} is written off already; the buyer's later payments are still received")
        if state.status != InvoiceStatus.DEFAULTED:
            raise Refused(
                f"invoice {invoice_id} is {state.status_name}, not Defaulted: only a receivable in default is "
                f"written off; its holder declares the default first (`scf invoice default {invoice_id}`)"
            )
        if state.holder_claim(holder_address) == 0:
            who = self.name_of(holder.address) or holder.address
            raise Refused(f"nothing is owed to {who} on invoice {invoice_id}: there is nothing to write off")
        receipt = self.sender.transact(self.invoices.functions.writeOff(invoice_id), holder)
        args = self._event(receipt, "InvoiceWrittenOff")
        d = currency.decimals
        return {
            "invoice_id": invoice_id,
            "status": "WrittenOff",
            "holder": party(str(args["holder"]), self.name_of),
            "currency": currency.symbol,
            "written_off": amount_text(int(args["amount"]), d),
            "outstanding": amount_text(state.outstanding, d),
            **self._tx(receipt),
        }

    def buy_back(self, actor: LocalAccount, invoice_id: int) -> dict[str, Any]:
        """Under a financing with recourse, after a default: the seller pays
        the holder the rest of its due and takes the receivable back, in one
        transaction; the buyer's later payments then all go to the seller.
        Run by the seller (its payment approved first, as a repayment is) or
        demanded by the holder, which draws on what the seller has approved:
        refused before sending when that (or the seller's balance) is short."""
        state = self.invoice_state(invoice_id)
        currency = self._currency_of(state)
        d = currency.decimals
        holder = self.holder_of(invoice_id)
        if state.status != InvoiceStatus.DEFAULTED:
            raise Refused(
                f"invoice {invoice_id} is {state.status_name}, not Defaulted: a receivable is bought back only "
                f"after its holder declares a default (`scf invoice default {invoice_id}`)"
            )
        if state.seller is None or not state.recourse:
            how = "financed without recourse" if state.seller else "never financed"
            raise Refused(
                f"invoice {invoice_id} was {how}: nobody can be made to buy it back, the loss stays with its holder"
            )
        seller = state.seller
        acting = to_checksum_address(actor.address)
        if acting not in (holder, seller):
            who = self.name_of(actor.address) or actor.address
            raise Refused(
                f"{who} is neither the holder ({self.name_of(holder) or holder}) nor the seller "
                f"({self.name_of(seller) or seller}) of invoice {invoice_id}; only they run its buy-back"
            )
        if holder == seller:
            raise Refused(f"the seller holds invoice {invoice_id} already: there is nothing to buy back")
        owed = state.financier_open
        if owed == 0:
            raise Refused(
                f"the holder of invoice {invoice_id} has been paid its due in full: there is nothing to buy back"
            )
        fn = self.invoices.functions.buyBack(invoice_id)
        instead = "" if acting == seller else f"run `scf invoice buy-back {invoice_id}` itself"
        self._require_funds(seller, currency, owed, f"the buy-back of invoice {invoice_id}", instead)
        paying = acting == seller
        receipt = self._send_paying(fn, actor, currency, owed) if paying else self.sender.transact(fn, actor)
        args = self._event(receipt, "InvoiceBoughtBack")
        return {
            "invoice_id": invoice_id,
            "seller": party(str(args["seller"]), self.name_of),
            "holder": party(str(args["holder"]), self.name_of),
            "amount": amount_text(int(args["amount"]), d),
            "currency": currency.symbol,
            "status": "Defaulted",
            "outstanding": amount_text(state.outstanding, d),
            **self._tx(receipt),
        }

    def _require_funds(self, payer: str, currency: Currency, units: int, what: str, drawn_by_other: str = "") -> None:
        """Refused (exit 1) before anything is sent unless ``payer`` holds the
        ``units`` that ``what`` (a phrase: "the buy-back of invoice 7") takes
        from it; when another party's transaction draws them
        (``drawn_by_other``: what the payer does instead), unless it has also
        approved the invoice contract for them."""
        token = self.token(currency)

        def m(units: int) -> str:
            return money(units, currency.decimals, currency.symbol)

        who = self.name_of(payer) or payer
        balance = int(token.functions.balanceOf(payer).call())
        if balance < units:
            short = m(units - balance)
            raise Refused(f"{what} takes {m(units)} from {who}, which holds {m(balance)}; it needs {short} more first")
        if drawn_by_other:
            allowed = int(token.functions.allowance(payer, self.invoices.address).call())
            if allowed < units:
                raise Refused(
                    f"{what} draws {m(units)} from {who}, which has approved {m(allowed)} of it for the "
                    f"invoice contract; {who} should {drawn_by_other}"
                )

    def issued_event(self, invoice_id: int) -> dict[str, Any] | None:
        """The InvoiceIssued event of an invoice (its number and document hash live only there)."""
        start = self.deployment.contracts["InvoiceToken"].block
        for log in self._events(self.invoices, ("InvoiceIssued",), start, _word(invoice_id)):
            return {**dict(log["args"]), "block": int(log["blockNumber"])}
        return None

    def show(self, invoice_id: int) -> dict[str, Any]:
        state = self.invoice_state(invoice_id)
        currency = self._currency_of(state)
        holder = self.holder_of(invoice_id)
        issued = self.issued_event(invoice_id) or {}
        block = self.w3.eth.get_block(issued["block"]) if issued else None
        d = currency.decimals

        def who(address: str | None) -> dict[str, str | None] | None:
            return party(someone(address), self.name_of)

        financed = state.financed
        number = issued.get("number")
        return {
            "invoice_id": invoice_id,
            "number": number,
            "normalised_number": None if number is None else normalise_invoice_number(number),
            "status": state.status_name,
            "supplier": who(state.supplier),
            "buyer": who(state.buyer),
            "holder": who(holder),
            "seller": who(state.seller),
            "currency": currency.symbol,
            "amount": amount_text(state.amount, d),
            "paid": amount_text(state.paid, d),
            "outstanding": amount_text(state.outstanding, d),
            "financier_due": amount_text(state.financier_due, d) if financed else None,
            "financier_paid": amount_text(state.financier_paid, d) if financed else None,
            "reserve_open": amount_text(state.outstanding - state.financier_open, d) if financed else None,
            "due": date_text(state.due_ts),
            "issued_at": None if block is None else iso_time(int(block["timestamp"])),
            "document_hash": "0x" + bytes(issued["docHash"]).hex() if issued else None,
            **{k: v for k, v in self.lineage(invoice_id).items() if k != "invoice_id"},
            **self._remedies_shown(invoice_id, state, d),
        }

    def _remedies_shown(self, invoice_id: int, state: ChainInvoice, d: int) -> dict[str, Any]:
        """What :meth:`show` says of contract v4's states, under the keys the
        indexed view has (:func:`ledger.queries.remedy_figures`): credit notes,
        the financing's recourse, the grace that applies (days, as an exact
        decimal string: the financing's, else the deployment's), the status a
        dispute interrupted, a proposed due date, accepted extensions, the
        default, the write-off and the buyer's payments since the default
        (from the events); and, while a default may still come, the time
        after which it may be declared (``defaultable_after``)."""
        # One query for the five events (each has the invoice id as its first indexed argument).
        names = ("CreditNoteIssued", "InvoiceDefaulted", "InvoiceRepaid", "InvoiceWrittenOff", "MaturityExtended")
        decoded = self._events(self.invoices, names, self.deployment.contracts["InvoiceToken"].block, _word(invoice_id))

        def logs(event: str) -> list[Any]:
            return [log for log in decoded if log["event"] == event]

        def total(found: list[Any], field: str) -> int:
            return sum(int(log["args"][field]) for log in found)

        defaults = logs("InvoiceDefaulted")
        default = defaults[-1] if defaults else None
        at = None if default is None else (int(default["blockNumber"]), int(default["logIndex"]))
        recovered = [
            log for log in logs("InvoiceRepaid") if at is not None and (log["blockNumber"], log["logIndex"]) > at
        ]
        pending = state.status in OPEN_STATUSES or state.status == InvoiceStatus.DISPUTED
        default_time = None if default is None else int(self.w3.eth.get_block(default["blockNumber"])["timestamp"])
        return {
            "credited": amount_text(total(logs("CreditNoteIssued"), "credit"), d),
            "recourse": state.recourse if state.financed else None,
            "grace_days": grace_days(state.grace_period),
            "disputed_from": status_name(state.disputed_from) if state.status == InvoiceStatus.DISPUTED else None,
            "proposed_due": date_text(state.proposed_due_ts) if state.proposed_due_ts else None,
            "extensions": len(logs("MaturityExtended")),
            "defaulted_at": iso_time(default_time),
            "defaulted_block": None if default is None else int(default["blockNumber"]),
            "written_off": amount_text(total(logs("InvoiceWrittenOff"), "amount"), d),
            "recovered": amount_text(total(recovered, "amount"), d),
            "defaultable_after": iso_time(state.defaultable_after) if pending else None,
        }

    # -- operator ------------------------------------------------------------
    def set_paused(self, operator: LocalAccount, paused: bool) -> dict[str, Any]:
        """Pause or resume the network; refused without a transaction when it
        already is in that state."""
        if bool(self.invoices.functions.paused().call()) == paused:
            if paused:
                raise Refused("the network is already paused; nothing to change (`scf unpause` resumes it)")
            raise Refused("the network is not paused; nothing to change")
        fn = self.invoices.functions.pause if paused else self.invoices.functions.unpause
        receipt = self.sender.transact(fn(), operator)
        return {"paused": paused, **self._tx(receipt)}


def _word(value: int) -> str:
    """``value`` as a 32-byte topic (an indexed ``uint256``)."""
    return "0x" + value.to_bytes(32, "big").hex()
