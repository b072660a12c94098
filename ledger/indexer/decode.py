"""Decoding raw logs with decoders built once per (contract, topic0).

For every event of every deployed contract's ABI the decoder is prepared up
front: converters for the indexed topics, and for the data field either
per-word converters (when every argument is a static one-word type: the hex
is sliced, no bytes copied) or a precomputed eth_abi tuple decoder.
Decoding a log is then one dictionary lookup plus the work the bytes really
need. Values come out JSON-ready: integers as decimal strings
(JSON numbers lose precision above 2^53), addresses EIP-55 checksummed, bytes
as ``0x`` hex.

ERC-721 and ERC-20 ``Transfer`` share their topic0 but not which arguments
are indexed, which is why decoders are keyed by the emitting contract too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from eth_abi.abi import default_codec
from eth_abi.decoding import ContextFramesBytesIO
from eth_utils import keccak
from eth_utils import to_checksum_address as _to_checksum

Converter = Callable[[Any], Any]


@lru_cache(maxsize=65536)
def checksum(address: str) -> str:
    """EIP-55 form of a hex address (cached: a ledger has few parties)."""
    return str(_to_checksum(address))


def _abi_type(item: dict[str, Any]) -> str:
    if item["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in item["components"])
        return f"({inner}){item['type'][5:]}"
    return str(item["type"])


def event_signature(item: dict[str, Any]) -> str:
    return f"{item['name']}({','.join(_abi_type(i) for i in item['inputs'])})"


def event_topic(item: dict[str, Any]) -> str:
    return "0x" + keccak(text=event_signature(item)).hex()


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
    return lambda value: value  # bool, string


def _word_converter(item: dict[str, Any]) -> Converter | None:
    """64 hex digits (one ABI word, no ``0x``) -> JSON-ready value, for the
    static types that fill exactly one word; None for any other type."""
    type_ = item["type"]
    if type_.endswith("]") or type_.startswith("tuple") or type_ in ("string", "bytes"):
        return None
    if type_ == "address":
        return lambda word: checksum("0x" + word[24:])
    if type_.startswith("uint"):
        return lambda word: str(int(word, 16))
    if type_.startswith("int"):

        def signed(word: str) -> str:
            value = int(word, 16)
            return str(value - (1 << 256) if value >> 255 else value)

        return signed
    if type_ == "bool":
        return lambda word: int(word, 16) != 0
    if type_.startswith("bytes"):
        width = int(type_[5:])
        return lambda word: "0x" + word[: 2 * width].lower()
    return None


def _topic_converter(item: dict[str, Any]) -> Converter:
    """Topic hex string -> JSON-ready value, for one indexed ABI input.
    Indexed dynamic values (strings, bytes, arrays, tuples) are only a hash on
    chain, so the hash is what is kept."""
    word = _word_converter(item)
    if word is None:
        return lambda topic: topic.lower()
    return lambda topic: word(topic[2:])


@dataclass(frozen=True)
class EventDecoder:
    name: str
    topic_args: tuple[tuple[str, Converter], ...]
    data_names: tuple[str, ...]
    data_converters: tuple[Converter, ...]
    #: eth_abi TupleDecoder for data with dynamic types; None when every
    #: data argument is one static word (sliced straight from the hex) or
    #: there is no data.
    data_decoder: Any
    #: Word converters when the data is all static words.
    word_converters: tuple[tuple[str, Converter], ...] | None
    arity: int

    def decode(self, topics: list[str], data: str) -> dict[str, Any]:
        if len(topics) - 1 != len(self.topic_args):
            raise ValueError(f"{self.name}: {len(topics) - 1} topics, expected {len(self.topic_args)}")
        args = {name: conv(topic) for (name, conv), topic in zip(self.topic_args, topics[1:], strict=True)}
        words = self.word_converters
        if words is not None:
            if len(data) != 2 + 64 * len(words):
                raise ValueError(f"{self.name}: {len(data) - 2} hex digits of data, expected {64 * len(words)}")
            for i, (name, conv) in enumerate(words):
                args[name] = conv(data[2 + 64 * i: 66 + 64 * i])
        elif self.data_decoder is not None:
            values = self.data_decoder(ContextFramesBytesIO(bytes.fromhex(data[2:])))
            for name, conv, value in zip(self.data_names, self.data_converters, values, strict=True):
                args[name] = conv(value)
        return args


def build_event_decoder(item: dict[str, Any]) -> EventDecoder:
    inputs = item["inputs"]
    indexed = [i for i in inputs if i.get("indexed")]
    data = [i for i in inputs if not i.get("indexed")]
    names = [i["name"] or f"arg{n}" for n, i in enumerate(inputs)]
    name_of = {id(i): n for i, n in zip(inputs, names, strict=True)}
    words = [_word_converter(i) for i in data]
    static = all(w is not None for w in words)
    decoder = default_codec._registry.get_tuple_decoder(*[_abi_type(i) for i in data]) if data and not static else None
    return EventDecoder(
        name=item["name"],
        topic_args=tuple((name_of[id(i)], _topic_converter(i)) for i in indexed),
        data_names=tuple(name_of[id(i)] for i in data),
        data_converters=tuple(_value_converter(i) for i in data),
        data_decoder=decoder,
        word_converters=tuple((name_of[id(i)], w) for i, w in zip(data, words, strict=True) if w is not None)
        if static and data else None,
        arity=len(inputs),
    )


class LogDecoder:
    """Decoders for the events of a set of contracts: ``{address: abi}``."""

    def __init__(self, contracts: Iterable[tuple[str, list[dict[str, Any]]]]) -> None:
        self.decoders: dict[tuple[str, str], EventDecoder] = {}
        for address, abi in contracts:
            for item in abi:
                if item.get("type") == "event" and not item.get("anonymous"):
                    self.decoders[(address.lower(), event_topic(item))] = build_event_decoder(item)

    def lookup(self, address: str, topic0: str) -> EventDecoder | None:
        return self.decoders.get((address.lower(), topic0.lower()))
