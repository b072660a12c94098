"""Decoding raw logs with decoders built once per (contract, topic0).

For every event of every deployed contract's ABI the decoder is prepared up
front: converters for the indexed topics, and for the data field either
slices of the hex text (when every argument is a one-word type, a string or
bytes: no bytes copied for the words) or a precomputed eth_abi tuple decoder
(arrays and tuples; eth_abi is imported on first use, as it costs a third of
a second). Decoding a log is then one dictionary lookup plus the work the
bytes really need. Values come out JSON-ready: integers as decimal strings
(JSON numbers lose precision above 2^53), addresses EIP-55 checksummed, bytes
as ``0x`` hex, strings with any bytes that are not UTF-8 read as U+FFFD.

ERC-721 and ERC-20 ``Transfer`` share their topic0 but not which arguments
are indexed, which is why decoders are keyed by the emitting contract too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_hash.auto import keccak as _keccak

from ledger import names

Converter = Callable[[Any], Any]


def keccak_hex(text: str) -> str:
    return str(_keccak(text.encode()).hex())


#: EIP-55 form of a hex address, cached: a ledger has few parties, and the
#: decoders call it for every address of every log.
checksum: Callable[[str], str] = lru_cache(maxsize=65536)(names.checksum)


class _LazyTupleDecoder:
    """eth_abi's tuple decoder for the dynamic-data events, built on first
    use: importing eth_abi costs more than most syncs need."""

    def __init__(self, types: list[str]) -> None:
        # Strings are read as the bytes they are (the same encoding), and
        # decoded by the converters with errors="replace" (see _string_at).
        self.types = [re.sub(r"\bstring\b", "bytes", t) for t in types]
        self.decoder: Any = None

    def __call__(self, data: bytes) -> Any:
        if self.decoder is None:
            from eth_abi.abi import default_codec

            self.decoder = default_codec._registry.get_tuple_decoder(*self.types)
        from eth_abi.decoding import ContextFramesBytesIO

        return self.decoder(ContextFramesBytesIO(data))  # type: ignore[no-untyped-call]


def abi_type(item: dict[str, Any]) -> str:
    """The canonical ABI type of an input or output (tuples spelled out), as in signatures."""
    if item["type"].startswith("tuple"):
        inner = ",".join(abi_type(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return str(item["type"])


class Calldata:
    """Encodes calls to one function of an ABI, its selector and types worked out once:
    about a hundred times cheaper per call than web3's ``encode_abi``, which checks the
    whole ABI again on every call (bulk intake encodes thousands)."""

    def __init__(self, abi: list[dict[str, Any]], name: str) -> None:
        (item,) = [i for i in abi if i.get("type") == "function" and i.get("name") == name]
        self.types = [abi_type(i) for i in item["inputs"]]
        self.outputs = [abi_type(o) for o in item.get("outputs", [])]
        self.selector = _keccak(f"{name}({','.join(self.types)})".encode())[:4]
        # Answers of static words only (getInvoice's struct, a bitmap word) are read
        # word by word: eth_abi's decoder takes half a millisecond for a 14-field struct.
        self._words = _static_words(self.outputs)

    def __call__(self, *args: Any) -> bytes:
        from eth_abi import encode

        return self.selector + encode(self.types, list(args))

    def decode(self, data: bytes) -> tuple[Any, ...]:
        """The function's return values from an ``eth_call``'s answer (addresses checksummed)."""
        if self._words is not None:
            return _read_words(self._words, data)
        from eth_abi import decode

        return tuple(decode(self.outputs, data))


_WORD = re.compile(r"^(u?int\d*|address|bool|bytes32)$")


def _static_words(types: list[str]) -> list[Any] | None:
    """The layout of outputs made of static one-word types (tuples of them nested), or None."""
    out: list[Any] = []
    for t in types:
        if t.startswith("(") and t.endswith(")"):
            inner = _static_words(_split(t[1:-1]))
            if inner is None:
                return None
            out.append(inner)
        elif _WORD.match(t):
            out.append(t)
        else:
            return None
    return out


def _split(inner: str) -> list[str]:
    """The types of a tuple's inside, split at its top-level commas."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(inner):
        depth += c == "("
        depth -= c == ")"
        if c == "," and depth == 0:
            parts.append(inner[start:i])
            start = i + 1
    parts.append(inner[start:])
    return parts


def _read_words(layout: list[Any], data: bytes, at: list[int] | None = None) -> tuple[Any, ...]:
    at = at if at is not None else [0]
    values: list[Any] = []
    for t in layout:
        if isinstance(t, list):
            values.append(_read_words(t, data, at))
            continue
        word = data[at[0] : at[0] + 32]
        at[0] += 32
        if t == "address":
            values.append(checksum("0x" + word[12:].hex()))
        elif t == "bool":
            values.append(word != bytes(32))
        elif t == "bytes32":
            values.append(word)
        elif t.startswith("int"):
            values.append(int.from_bytes(word, signed=True))
        else:
            values.append(int.from_bytes(word))
    return tuple(values)


def encode_issue_batch(selector: bytes, requests: list[tuple[str, str, int, str, int, bytes]]) -> bytes:
    """Calldata of ``issueBatch((address,string,uint256,address,uint64,bytes32)[])``, encoded
    by hand: eth_abi takes 0.13 ms an item, most of a bulk import's own time. Each
    request is (buyer, number, amount, currency, due date, document hash); the layout is
    the ABI's (an offset to the array; its length; an offset per tuple; each tuple's six
    head words, the number's offset among them, then its length and padded bytes). A
    test holds it to eth_abi's encoding."""
    heads: list[bytes] = []
    tails: list[bytes] = []
    at = 32 * len(requests)
    for buyer, number, amount, currency, due, doc in requests:
        raw = number.encode("utf-8")
        padded = raw + bytes(-len(raw) % 32)
        if not (0 <= amount < 2**256 and 0 <= due < 2**64 and len(doc) == 32):
            raise ValueError(f"an issue request out of range: {amount}, {due}, {doc!r}")
        tuple_ = b"".join(
            (
                address_word(buyer),
                (6 * 32).to_bytes(32),
                amount.to_bytes(32),
                address_word(currency),
                due.to_bytes(32),
                bytes(doc),
                len(raw).to_bytes(32),
                padded,
            )
        )
        heads.append(at.to_bytes(32))
        tails.append(tuple_)
        at += len(tuple_)
    return selector + (32).to_bytes(32) + len(requests).to_bytes(32) + b"".join(heads) + b"".join(tails)


def address_word(address: str) -> bytes:
    """An address as one ABI word (12 zero bytes, then its 20)."""
    raw = bytes.fromhex(address.removeprefix("0x"))
    if len(raw) != 20:
        raise ValueError(f"not an address: {address!r}")
    return bytes(12) + raw


def event_signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(abi_type(i) for i in item['inputs'])})"


def event_topic(item: dict[str, Any]) -> str:
    return "0x" + keccak_hex(event_signature(item))


def _value_converter(item: dict[str, Any]) -> Converter:
    """Decoded eth_abi value -> JSON-ready value, for one ABI input."""
    type_ = item["type"]
    if type_.endswith("]"):
        inner = dict(item, type=type_[: type_.rindex("[")])
        convert = _value_converter(inner)
        return lambda values: [convert(v) for v in values]
    if type_ == "tuple":
        parts = [(c["name"] or str(i), _value_converter(c)) for i, c in enumerate(item["components"])]
        return lambda values: {name: conv(v) for (name, conv), v in zip(parts, values, strict=True)}
    if type_ == "address":
        return checksum
    if type_.startswith(("uint", "int")):
        return str
    if type_.startswith("bytes"):
        return lambda value: "0x" + value.hex()
    if type_ == "string":
        return lambda value: value.decode("utf-8", errors="replace") if isinstance(value, bytes) else value
    return lambda value: value  # bool


def _signed(value: int) -> int:
    return value - (1 << 256) if value >> 255 else value


def _word_expr(type_: str, word: str, start: str) -> str | None:
    """Python source turning one 64-hex-digit ABI word into its JSON-ready
    value: ``word`` is an expression for the hex string, ``start`` the index
    where the word's digits begin in it. None for types that are not one
    static word."""
    if type_.endswith("]") or type_.startswith("tuple") or type_ in ("string", "bytes"):
        return None
    end = f"{start} + 64"
    if type_ == "address":
        return f'cs("0x" + {word}[{start} + 24:{end}])'
    if type_.startswith("uint"):
        return f"str(int({word}[{start}:{end}], 16))"
    if type_.startswith("int"):
        return f"str(signed(int({word}[{start}:{end}], 16)))"
    if type_ == "bool":
        return f"int({word}[{start}:{end}], 16) != 0"
    if type_.startswith("bytes"):
        return f'"0x" + {word}[{start}:{start} + {2 * int(type_[5:])}].lower()'
    return None


def _tail(data: str, head: int, tails: int) -> str:
    """The hex digits of the ``bytes`` or ``string`` value whose offset word
    starts at index ``head`` of the ``0x`` hex text ``data`` (the ABI's
    head-tail layout: the offset, in bytes from the start of the data, points
    at a length word followed by that many bytes, at or after index
    ``tails``, where the head words end)."""
    offset = 2 + 2 * int(data[head : head + 64], 16)
    if offset < tails:
        raise ValueError("a dynamic value's offset points into the head")
    start = offset + 64
    if len(data) < start:
        raise ValueError("a dynamic value's offset points past the end of the data")
    end = start + 2 * int(data[offset:start], 16)
    if len(data) < end:
        raise ValueError("a dynamic value runs past the end of the data")
    return data[start:end]


def _string_at(data: str, head: int, tails: int) -> str:
    """A ``string`` value. Bytes that are not UTF-8 read as U+FFFD: a contract
    takes any bytes as a string (an invoice number, a name), so a caller
    could otherwise make its log undecodable and hide it from the ledger."""
    return bytes.fromhex(_tail(data, head, tails)).decode("utf-8", errors="replace")


def _data_expr(type_: str, start: str, tails: str = "0") -> str | None:
    """Python source for the JSON-ready value of a data argument whose head
    word starts at index ``start`` of ``data`` (the head words end at index
    ``tails``): one-word types are sliced in place, ``string`` and ``bytes``
    read from their tail. None for the rest (arrays, tuples), which eth_abi
    decodes."""
    if type_ == "string":
        return f"string_at(data, {start}, {tails})"
    if type_ == "bytes":
        return f'"0x" + tail(data, {start}, {tails}).lower()'
    return _word_expr(type_, "data", start)


@dataclass(frozen=True)
class EventDecoder:
    """The decoder of one event of one ABI: ``decode(topics, data)`` returns
    the JSON-ready arguments by name and the same as JSON text (ready for the
    ``events.args`` column). Raises ValueError on a log that does not fit."""

    name: str
    signature: str
    arg_names: tuple[str, ...]
    decode: Callable[[list[str], str], tuple[dict[str, Any], str]]
    #: The generated source of ``decode`` (for reading and debugging).
    source: str


def _return_lines(inputs: list[dict[str, Any]], names: list[str], sliced: bool) -> list[str]:
    """The generated decoder's last lines: it returns the args and their JSON text."""
    if not sliced:
        return ["    return args, dumps(args, separators=(',', ':'), ensure_ascii=False)"]
    # Every value is digits, hex, a bool or a string: the JSON text is a
    # template (strings escaped as json.dumps does).
    lines = []
    pieces = []
    for n in range(len(inputs)):
        key = json.dumps(names[n])
        if inputs[n]["type"] == "bool":
            lines.append(f'    j{n} = "true" if v{n} else "false"')
            pieces.append(f"{key}:{{j{n}}}")
        elif inputs[n]["type"] == "string" and not inputs[n].get("indexed"):
            lines.append(f"    j{n} = dumps(v{n}, ensure_ascii=False)")
            pieces.append(f"{key}:{{j{n}}}")
        else:
            pieces.append(f'{key}:"{{v{n}}}"')
    lines.append(f"    return args, f'{{{{{','.join(pieces)}}}}}'")
    return lines


def build_event_decoder(item: dict[str, Any]) -> EventDecoder:
    """Generate and compile the decoder of one event ABI item.

    Static one-word arguments are sliced from the hex text (topics and data)
    and converted in straight-line code, with no per-argument function
    calls; events with dynamic data (strings, arrays) decode the data with a
    precomputed eth_abi tuple decoder."""
    inputs = item["inputs"]
    names = [i["name"] or f"arg{n}" for n, i in enumerate(inputs)]
    indexed = [n for n, i in enumerate(inputs) if i.get("indexed")]
    data = [n for n, i in enumerate(inputs) if not i.get("indexed")]
    # Sliced: every data argument one word, a string or bytes (no eth_abi).
    sliced = all(_data_expr(inputs[n]["type"], "0") is not None for n in data)
    dynamic = any(inputs[n]["type"] in ("string", "bytes") for n in data)
    lines = ["def decode(topics, data):"]
    check = f"len(topics) != {len(indexed) + 1}"
    if sliced:
        # Head words only, exactly; dynamic values add their tails after them.
        check += f" or len(data) {'<' if dynamic else '!='} 2 + 64 * {len(data)}"
    lines.append(f"    if {check}:")
    lines.append(
        f"        raise ValueError(f'{item['name']}: {{len(topics) - 1}} topics and {{len(data) - 2}} hex "
        f"digits of data do not fit the ABI')"
    )
    for position, n in enumerate(indexed, start=1):
        type_ = inputs[n]["type"]
        expr = _word_expr(type_, f"topics[{position}]", "2")
        # Indexed dynamic values are only a hash on chain: keep the hash.
        lines.append(f"    v{n} = {expr or f'topics[{position}].lower()'}")
    if sliced:
        for slot, n in enumerate(data):
            lines.append(f"    v{n} = {_data_expr(inputs[n]['type'], str(2 + 64 * slot), str(2 + 64 * len(data)))}")
    elif data:
        lines.append("    values = tuple_decoder(bytes.fromhex(data[2:]))")
        for slot, n in enumerate(data):
            lines.append(f"    v{n} = convert[{slot}](values[{slot}])")
    pairs = ", ".join(f"{json.dumps(names[n])}: v{n}" for n in range(len(inputs)))
    lines.append(f"    args = {{{pairs}}}")
    lines.extend(_return_lines(inputs, names, sliced))
    source = "\n".join(lines) + "\n"
    namespace: dict[str, Any] = {
        "cs": checksum,
        "signed": _signed,
        "dumps": json.dumps,
        "tail": _tail,
        "string_at": _string_at,
        "tuple_decoder": None if sliced else _LazyTupleDecoder([abi_type(inputs[n]) for n in data]),
        "convert": [_value_converter(inputs[n]) for n in data],
    }
    exec(compile(source, f"<decoder {event_signature(item)}>", "exec"), namespace)  # noqa: S102 - our own template
    return EventDecoder(item["name"], event_signature(item), tuple(names), namespace["decode"], source)


class LogDecoder:
    """Decoders for the events of a set of contracts, keyed by (address, topic0)."""

    def __init__(self, contracts: Iterable[tuple[str, list[dict[str, Any]]]]) -> None:
        self.decoders: dict[tuple[str, str], EventDecoder] = {}
        for address, abi in contracts:
            for item in abi:
                if item.get("type") == "event" and not item.get("anonymous"):
                    self.decoders[(address.lower(), event_topic(item))] = build_event_decoder(item)

    def lookup(self, address: str, topic0: str) -> EventDecoder | None:
        return self.decoders.get((address.lower(), topic0.lower()))
