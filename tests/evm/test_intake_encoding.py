"""The hand-made encoders and decoders of bulk intake agree with the libraries
they replace for speed: ``encode_issue_batch`` and ``Calldata`` with eth_abi,
``Confirmation.struct_hash`` with eth_account's typed-data encoding, and
``signer_of`` with eth_account's recover (and refuses what OpenZeppelin's ECDSA
refuses)."""

from __future__ import annotations

from eth_abi import decode, encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.evm.abi import Calldata, checksum, encode_issue_batch
from ledger.evm.confirmations import CONFIRMATION_TYPES, Confirmation, Domain, sign, signer_of

addresses = st.binary(min_size=20, max_size=20).map(lambda b: checksum("0x" + b.hex()))
numbers = st.text(min_size=1, max_size=40)
requests = st.tuples(
    addresses,
    numbers,
    st.integers(0, 2**256 - 1),
    addresses,
    st.integers(0, 2**64 - 1),
    st.binary(min_size=32, max_size=32),
)
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@settings(max_examples=60, deadline=None)
@given(st.lists(requests, max_size=6))
def test_encode_issue_batch_is_the_abi_encoding(items: list[tuple]) -> None:
    selector = b"\x12\x34\x56\x78"
    expected = selector + encode(["(address,string,uint256,address,uint64,bytes32)[]"], [items])
    assert encode_issue_batch(selector, items) == expected


def test_calldata_reads_a_static_struct_word_by_word() -> None:
    abi = [
        {
            "type": "function",
            "name": "f",
            "inputs": [{"name": "x", "type": "uint256"}],
            "outputs": [
                {
                    "name": "",
                    "type": "tuple",
                    "components": [
                        {"name": "a", "type": "address"},
                        {"name": "b", "type": "uint64"},
                        {"name": "c", "type": "bool"},
                        {"name": "d", "type": "int256"},
                        {"name": "e", "type": "bytes32"},
                        {"name": "f", "type": "uint8"},
                    ],
                }
            ],
        }
    ]
    call = Calldata(abi, "f")
    value = ("0x" + "ab" * 20, 2**64 - 1, True, -5, b"\x07" * 32, 9)
    data = encode(["(address,uint64,bool,int256,bytes32,uint8)"], [value])
    ((address, *rest),) = decode(["(address,uint64,bool,int256,bytes32,uint8)"], data)
    assert call.decode(data) == ((checksum(address), *rest),)  # addresses come checksummed
    assert call(7) == call.selector + encode(["uint256"], [7])


@settings(max_examples=30, deadline=None)
@given(addresses, addresses, numbers, addresses, st.integers(0, 2**256 - 1), st.integers(0, 2**64 - 1))
def test_confirmation_digest_is_eip712s(
    buyer: str, supplier: str, number: str, currency: str, amount: int, due: int
) -> None:
    domain = Domain(31337, "0x" + "11" * 20)
    confirmation = Confirmation(buyer, supplier, number, currency, amount, due, 2**255 + 3, 2**40)
    message = encode_typed_data(
        domain_data=domain.as_dict(), message_types=CONFIRMATION_TYPES, message_data=confirmation.message()
    )
    assert (message.header, message.body) == (domain.separator, confirmation.struct_hash())


def test_signer_of_recovers_the_signer_and_refuses_what_openzeppelin_refuses() -> None:
    account = Account.create()
    domain = Domain(31337, "0x" + "11" * 20)
    confirmation = Confirmation(account.address, "0x" + "22" * 20, "INV-1", "0x" + "33" * 20, 100, 1_800_000_000, 1, 2)
    signature = sign(account, domain, confirmation)
    assert signer_of(domain, confirmation, signature) == account.address
    s = int.from_bytes(signature[32:64])
    high_s = signature[:32] + (N - s).to_bytes(32) + bytes([55 - signature[64]])  # the malleated twin
    assert Account._recover_hash(confirmation.digest(domain), signature=high_s) == account.address
    for bad in (high_s, signature[:64], signature + b"\0", signature[:64] + b"\x00", bytes(65)):
        assert signer_of(domain, confirmation, bad) is None
