"""The indexer's generated log decoders, against eth_abi (the reference ABI
codec), and the rows they make. Pure functions: no chain and no database."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import to_checksum_address

from ledger.evm.abi import LogDecoder, event_topic
from ledger.indexer.mappers import INVOICES, REGISTRY, UNKNOWN_EVENT, build_targets, logs_to_rows

INVOICE_CONTRACT = "0x5fbdb2315678afecb367f032d93f642f64180aa3"
REGISTRY_CONTRACT = "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512"
SUPPLIER = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"
BUYER = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"


def _input(name: str, type_: str, indexed: bool = False) -> dict[str, Any]:
    return {"name": name, "type": type_, "indexed": indexed}


ISSUED = {
    "type": "event",
    "name": "InvoiceIssued",
    "anonymous": False,
    "inputs": [
        _input("invoiceId", "uint256", True),
        _input("supplier", "address", True),
        _input("buyer", "address", True),
        _input("number", "string"),
        _input("currency", "address"),
        _input("amount", "uint256"),
        _input("dueDate", "uint64"),
        _input("docHash", "bytes32"),
    ],
}
ISSUED_DATA = ["string", "address", "uint256", "uint64", "bytes32"]
ADMITTED = {
    "type": "event",
    "name": "ParticipantAdmitted",
    "anonymous": False,
    "inputs": [
        _input("account", "address", True),
        _input("name", "string"),
        _input("roles", "uint8"),
        _input("kycExpiry", "uint64"),
    ],
}
#: Every kind of data argument the decoders slice, dynamic ones between static ones.
MIXED = {
    "type": "event",
    "name": "Mixed",
    "anonymous": False,
    "inputs": [
        _input("flag", "bool"),
        _input("note", "string"),
        _input("delta", "int64"),
        _input("blob", "bytes"),
        _input("tag", "bytes4"),
        _input("label", "string", True),
    ],
}
#: Arrays are left to eth_abi.
LISTED = {
    "type": "event",
    "name": "Listed",
    "anonymous": False,
    "inputs": [
        _input("account", "address", True),
        _input("ids", "uint256[]"),
        _input("memo", "string"),
    ],
}


def _log(
    item: dict[str, Any], topics: list[str], data: bytes, address: str = INVOICE_CONTRACT, log_index: int = 0
) -> dict[str, Any]:
    return {
        "address": address,
        "topics": [event_topic(item), *topics],
        "data": "0x" + data.hex(),
        "blockHash": "0x" + "ab" * 32,
        "blockNumber": "0x7",
        "blockTimestamp": "0x6b064938",
        "transactionHash": "0x" + "CD" * 32,
        "transactionIndex": "0x2",
        "logIndex": hex(log_index),
        "removed": False,
    }


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _address_topic(address: str) -> str:
    return "0x" + "0" * 24 + address[2:]


def _targets() -> dict[tuple[str, str], Any]:
    decoder = LogDecoder([(INVOICE_CONTRACT, [ISSUED, MIXED, LISTED]), (REGISTRY_CONTRACT, [ADMITTED])])
    return build_targets(decoder, {INVOICE_CONTRACT: INVOICES, REGISTRY_CONTRACT: REGISTRY})


@pytest.mark.parametrize("name", ["Bench Supplier", "", 'quote " back \\ slash', "香港 Trading Ltd.\n\t", "x" * 100])
def test_decoder_reads_strings_as_eth_abi_does(name: str) -> None:
    decoder = LogDecoder([(REGISTRY_CONTRACT, [ADMITTED])]).decoders[(REGISTRY_CONTRACT, event_topic(ADMITTED))]
    data = abi_encode(["string", "uint8", "uint64"], [name, 3, 2**64 - 1])

    args, text = decoder.decode([event_topic(ADMITTED), _address_topic(SUPPLIER)], "0x" + data.hex())

    assert args == {"account": to_checksum_address(SUPPLIER), "name": name, "roles": "3", "kycExpiry": str(2**64 - 1)}
    assert json.loads(text) == args
    assert abi_decode(["string", "uint8", "uint64"], data)[0] == args["name"]
    assert "tuple_decoder(" not in decoder.source  # sliced: no eth_abi import for strings


def test_decoder_slices_every_one_word_and_dynamic_type_as_eth_abi_does() -> None:
    decoder = LogDecoder([(INVOICE_CONTRACT, [MIXED])]).decoders[(INVOICE_CONTRACT, event_topic(MIXED))]
    types = ["bool", "string", "int64", "bytes", "bytes4"]
    values = [True, "note ✓", -(2**63), b"\x00\x01binary\xff" * 5, b"\xde\xad\xbe\xef"]
    data = abi_encode(types, values)
    label_hash = "0x" + "EF" * 32

    args, text = decoder.decode([event_topic(MIXED), label_hash], "0x" + data.hex())

    flag, note, delta, blob, tag = abi_decode(types, data)
    assert args == {
        "flag": flag,
        "note": note,
        "delta": str(delta),
        "blob": "0x" + blob.hex(),
        "tag": "0x" + tag.hex(),
        "label": label_hash.lower(),
    }
    assert json.loads(text) == args


def test_decoder_leaves_arrays_to_eth_abi() -> None:
    decoder = LogDecoder([(INVOICE_CONTRACT, [LISTED])]).decoders[(INVOICE_CONTRACT, event_topic(LISTED))]
    data = abi_encode(["uint256[]", "string"], [[1, 2**200], "memo"])

    args, text = decoder.decode([event_topic(LISTED), _address_topic(BUYER)], "0x" + data.hex())

    assert args == {"account": to_checksum_address(BUYER), "ids": ["1", str(2**200)], "memo": "memo"}
    assert json.loads(text) == args
    assert "tuple_decoder(" in decoder.source


def test_logs_become_rows_with_their_typed_columns() -> None:
    targets = _targets()
    logs = [
        _log(
            ISSUED,
            [_word(42), _address_topic(SUPPLIER), _address_topic(BUYER)],
            abi_encode(ISSUED_DATA, ["INV-42", BUYER, 2**70, 1_800_000_000, b"\x22" * 32]),
        ),
        # An invoice id past 64 bits has no invoice_id column value.
        _log(
            ISSUED,
            [_word(2**64), _address_topic(SUPPLIER), _address_topic(BUYER)],
            abi_encode(ISSUED_DATA, ["X", BUYER, 5, 0, b"\0" * 32]),
            log_index=1,
        ),
        _log(
            ADMITTED,
            [_address_topic(SUPPLIER)],
            abi_encode(["string", "uint8", "uint64"], ["Supplier", 1, 9]),
            address=REGISTRY_CONTRACT,
            log_index=2,
        ),
        _log(LISTED, [_address_topic(BUYER)], abi_encode(["uint256[]", "string"], [[7], "m"]), log_index=3),
    ]

    rows = logs_to_rows(logs, targets, 31337, {})

    assert [r["event"] for r in rows] == ["InvoiceIssued", "InvoiceIssued", "ParticipantAdmitted", "Listed"]
    assert (rows[0]["invoice_id"], rows[0]["amount"], rows[1]["invoice_id"]) == (42, 2**70, None)
    assert rows[2]["account"] == to_checksum_address(SUPPLIER)
    assert rows[0]["tx_hash"] == "0x" + "cd" * 32 and rows[0]["log_index"] == 0 and rows[3]["tx_index"] == 2
    assert rows[0]["block_time"] == dt.datetime.fromtimestamp(0x6B064938, dt.UTC)
    assert [json.loads(r["args_json"]) for r in rows] == [r["args"] for r in rows]
    assert rows[2]["args"]["name"] == "Supplier" and rows[3]["args"]["ids"] == ["7"]
    assert rows[0]["args"]["number"] == "INV-42" and rows[0]["args"]["dueDate"] == "1800000000"


@pytest.mark.parametrize(
    "damage", ["offset past the end", "offset into the head", "length past the end", "truncated head"]
)
def test_malformed_dynamic_data_is_kept_raw(damage: str) -> None:
    targets = _targets()
    words = bytearray(abi_encode(["string", "uint8", "uint64"], ["Supplier", 1, 9]))
    if damage == "offset past the end":
        words[0:32] = (10_000).to_bytes(32, "big")
    elif damage == "offset into the head":
        words[0:32] = (32).to_bytes(32, "big")  # would read the roles word as the length
    elif damage == "length past the end":
        words[96:128] = (1_000).to_bytes(32, "big")
    else:
        words = words[:64]
    log = _log(ADMITTED, [_address_topic(SUPPLIER)], bytes(words), address=REGISTRY_CONTRACT)

    (row,) = logs_to_rows([log], targets, 31337, {})

    assert row["event"] == UNKNOWN_EVENT and row["args_json"] is None and row["account"] is None
    assert row["args"]["data"] == log["data"] and "error" in row["args"]


@pytest.mark.parametrize("raw", [b"INV-\xff\xfe-9", b"\xe9t\xe9", b"\xe4\xb8", b"ok \xc3\xa9 \xed\xa0\x80"])
def test_decoder_reads_strings_that_are_not_utf8_with_replacement(raw: bytes) -> None:
    """Any bytes are a string to a contract: an invoice number that is not
    UTF-8 must not make its InvoiceIssued log "(unknown)" (it would hide the
    invoice from the ledger). Such bytes read as U+FFFD, as Python's
    errors="replace" does, in the sliced decoders and in eth_abi's path."""
    targets = _targets()
    issued = abi_encode(
        ["bytes", "address", "uint256", "uint64", "bytes32"],  # `bytes`: the same encoding
        [raw, BUYER, 100, 1_800_000_000, b"\x33" * 32],
    )
    listed = abi_encode(["uint256[]", "bytes"], [[1], raw])
    logs = [
        _log(ISSUED, [_word(7), _address_topic(SUPPLIER), _address_topic(BUYER)], issued),
        _log(LISTED, [_address_topic(BUYER)], listed, log_index=1),
    ]

    rows = logs_to_rows(logs, targets, 31337, {})

    expected = raw.decode("utf-8", errors="replace")
    assert "\ufffd" in expected
    assert [r["event"] for r in rows] == ["InvoiceIssued", "Listed"]
    assert rows[0]["args"]["number"] == expected and rows[0]["invoice_id"] == 7 and rows[0]["amount"] == 100
    assert rows[1]["args"]["memo"] == expected
    assert json.loads(rows[0]["args_json"]) == rows[0]["args"]
    assert json.loads(rows[0]["args_json"].encode("utf-8")) == rows[0]["args"], "the JSON text is valid UTF-8"


def test_projection_number_fast_path_equals_the_mirror_of_the_contract() -> None:
    """The projections' fast path for printable ASCII numbers gives what
    ledger.invoice_numbers (held to the contract by the shared vectors)
    gives, None where it refuses, on the vectors and on random numbers."""
    import random
    from pathlib import Path

    from ledger.indexer.projections import normalised_number
    from ledger.invoice_numbers import InvalidInvoiceNumber, normalise_invoice_number

    def mirror(number: str) -> str | None:
        try:
            return normalise_invoice_number(number)
        except InvalidInvoiceNumber:
            return None

    vectors = json.loads((Path(__file__).parents[1] / "vectors" / "invoice_numbers.json").read_text())["vectors"]
    for vector in vectors:
        assert normalised_number(vector["number"]) == vector["normalised"], vector
    rng = random.Random(20261204)
    alphabet = "0000123456789aAzZ -/.#_~\t\x7f０Ｉé香"
    for _ in range(20_000):
        number = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 70)))
        assert normalised_number(number) == mirror(number), repr(number)
    assert normalised_number("INV-\ufffd\ufffd-9") == "INV\ufffd\ufffd9"
    assert normalised_number("\ufffd" * 22) is None, "66 bytes once encoded: too long"
