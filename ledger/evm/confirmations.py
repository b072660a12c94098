"""A buyer's EIP-712 signed confirmation of an invoice (contract version 5:
``IInvoiceToken.SignedConfirmation``, submitted by anyone with
``confirmWithSignatures``).

The buyer signs the invoice as its own payables ledger knows it (itself, supplier,
invoice number, currency, face amount in minor units, due date as the unix
time on chain) with a nonce and a deadline, under the token's EIP-712 domain
(name, version, chain id, contract; ERC-5267's ``eip712Domain()`` answers
it). The contract finds the invoice by (supplier, normalised number) and
confirms it only while those terms still match, once per nonce, before the
deadline.

Digests are computed here with ``eth_abi`` and keccak, as EIP-712 says, rather
than through ``eth_account.messages.encode_typed_data`` (about ten times
slower: a treasury signs thousands at once); a test checks the two agree, and
the contract tests check the contract agrees.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from eth_abi import encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address

from ledger.evm.abi import address_word, checksum

#: The EIP-712 domain's name and version (``InvoiceToken``'s constructor).
DOMAIN_NAME = "SCF Invoice Receivable"
DOMAIN_VERSION = "5"
#: The signed type, exactly as ``Intake.CONFIRMATION_TYPEHASH`` spells it.
CONFIRMATION_TYPE = (
    "Confirmation(address buyer,address supplier,string number,address currency,uint256 amount,"
    "uint64 dueDate,uint256 nonce,uint256 deadline)"
)
CONFIRMATION_TYPEHASH = keccak(text=CONFIRMATION_TYPE)
#: The same type as ``eth_account``'s typed-data ``types`` (for wallets that sign typed data).
CONFIRMATION_TYPES = {
    "Confirmation": [
        {"name": "buyer", "type": "address"},
        {"name": "supplier", "type": "address"},
        {"name": "number", "type": "string"},
        {"name": "currency", "type": "address"},
        {"name": "amount", "type": "uint256"},
        {"name": "dueDate", "type": "uint64"},
        {"name": "nonce", "type": "uint256"},
        {"name": "deadline", "type": "uint256"},
    ]
}
_DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")


@dataclass(frozen=True)
class Domain:
    """The EIP-712 domain of one deployment's invoice token."""

    chain_id: int
    contract: str
    name: str = DOMAIN_NAME
    version: str = DOMAIN_VERSION

    @cached_property
    def separator(self) -> bytes:
        return keccak(
            encode(
                ["bytes32", "bytes32", "bytes32", "uint256", "address"],
                [
                    _DOMAIN_TYPEHASH,
                    keccak(text=self.name),
                    keccak(text=self.version),
                    self.chain_id,
                    to_checksum_address(self.contract),
                ],
            )
        )

    def as_dict(self) -> dict[str, Any]:
        """As typed data's ``domain`` (``eth_account``, wallets)."""
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.contract),
        }


@dataclass(frozen=True)
class Confirmation:
    """What a buyer signs: amounts in minor units, ``due_date`` the unix time on chain.
    ``buyer`` is the signer's own address (its wallet's, for an ERC-1271 wallet)."""

    buyer: str
    supplier: str
    number: str
    currency: str
    amount: int
    due_date: int
    nonce: int
    deadline: int

    def struct_hash(self) -> bytes:
        """keccak256 of the ABI encoding of the type hash and the fields (the number as
        its keccak256): every field is one static word, so the encoding is the words
        themselves, packed here (eth_abi's encoder costs ten times as much)."""
        for value, bits in ((self.amount, 256), (self.due_date, 64), (self.nonce, 256), (self.deadline, 256)):
            if not 0 <= value < 2**bits:
                raise ValueError(f"{value} does not fit a uint{bits}")
        words = [
            CONFIRMATION_TYPEHASH,
            address_word(self.buyer),
            address_word(self.supplier),
            keccak(text=self.number),
            address_word(self.currency),
            self.amount.to_bytes(32),
            self.due_date.to_bytes(32),
            self.nonce.to_bytes(32),
            self.deadline.to_bytes(32),
        ]
        return keccak(b"".join(words))

    def digest(self, domain: Domain) -> bytes:
        """The EIP-712 digest the buyer's key (or its ERC-1271 wallet) signs."""
        return keccak(b"\x19\x01" + domain.separator + self.struct_hash())

    def message(self) -> dict[str, Any]:
        """As typed data's ``message``."""
        return {
            "buyer": to_checksum_address(self.buyer),
            "supplier": to_checksum_address(self.supplier),
            "number": self.number,
            "currency": to_checksum_address(self.currency),
            "amount": self.amount,
            "dueDate": self.due_date,
            "nonce": self.nonce,
            "deadline": self.deadline,
        }

    def signed(self, signature: bytes) -> tuple[Any, ...]:
        """The contract's ``SignedConfirmation`` tuple."""
        return (
            self.buyer,
            self.supplier,
            self.number,
            self.currency,
            self.amount,
            self.due_date,
            self.nonce,
            self.deadline,
            signature,
        )


def sign(account: LocalAccount, domain: Domain, confirmation: Confirmation) -> bytes:
    """The 65-byte signature (r, s, v) of ``account`` over the confirmation's digest."""
    # unsafe_sign_hash signs a bare digest: safe here, as the digest is EIP-712's own.
    signed = Account.unsafe_sign_hash(confirmation.digest(domain), account.key)
    return bytes(signed.signature)


#: Half the order of secp256k1: OpenZeppelin's ECDSA refuses a signature with a larger s.
_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0


def signer_of(domain: Domain, confirmation: Confirmation, signature: bytes) -> str | None:
    """The account that made ``signature``, None if the contract would not take it as an
    ECDSA signature at all: as OpenZeppelin's ``ECDSA.tryRecover``, 65 bytes, v 27 or 28,
    s in the lower half (no malleated twin). Recovered with coincurve (libsecp256k1)
    directly: eth_account's recover costs ten times as much, checks included."""
    if len(signature) != 65 or signature[64] not in (27, 28) or int.from_bytes(signature[32:64]) > _HALF_N:
        return None
    from coincurve import PublicKey

    try:
        key = PublicKey.from_signature_and_message(
            signature[:64] + bytes([signature[64] - 27]), confirmation.digest(domain), hasher=None
        )
    except Exception:  # noqa: BLE001 - r or s out of range: no signer
        return None
    return checksum("0x" + keccak(key.format(compressed=False)[1:])[12:].hex())


def fresh_nonces() -> Iterator[int]:
    """Nonces for a signing session: a random bitmap word (2^248 of them), then its
    256 nonces in order, then another word. Nonces in one word share a storage slot
    on chain (cheaper confirmations); random words keep sessions apart without
    asking the chain which nonces are used."""
    while True:
        word = secrets.randbits(248)
        for bit in range(256):
            yield (word << 8) | bit
