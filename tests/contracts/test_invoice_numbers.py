"""The Python mirror of the contract's invoice-number normal form
(``ledger.invoice_numbers``) against the shared vectors, and against the
contract itself (``InvoiceToken.normaliseNumber`` as an eth_call) on random
short strings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import InputError, TransactionReverted
from ledger.invoice_numbers import (
    MAX_NUMBER_BYTES,
    InvalidInvoiceNumber,
    normalise_bytes,
    normalise_invoice_number,
)

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "invoice_numbers.json").read_text())["vectors"]
IDS = [f"{i}-{v['number'][:12]!r}" for i, v in enumerate(VECTORS)]


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_invoice_numbers_vectors(vector: dict[str, Any]) -> None:
    number, normalised = vector["number"], vector["normalised"]
    if normalised is None:
        assert normalise_bytes(number.encode()) is None
        with pytest.raises(InvalidInvoiceNumber) as info:
            normalise_invoice_number(number)
        assert info.value.number == number
        assert isinstance(info.value, InputError)
        assert "\n" not in str(info.value)
    else:
        assert normalise_invoice_number(number) == normalised
        assert normalise_bytes(number.encode()) == normalised.encode()


def test_invoice_numbers_vectors_cover_the_rules() -> None:
    # The table exercises each rule of the NatSpec at least once.
    numbers = [v["number"] for v in VECTORS]
    assert any(len(n.encode()) == MAX_NUMBER_BYTES for n in numbers)
    assert any(len(n.encode()) == MAX_NUMBER_BYTES + 1 for n in numbers)
    assert any("\u3000" in n for n in numbers)
    assert any(any(0xFF01 <= ord(c) <= 0xFF5E for c in n) for n in numbers)
    assert any(any(ord(c) < 0x20 or ord(c) == 0x7F for c in n) for n in numbers)
    assert "" in numbers


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("", "it is empty"),
        ("x" * 65, "it is 65 bytes long; the limit is 64"),
        ("INV\n1", "it contains a control character"),
        ("-/-", "it needs at least one letter, digit or non-ASCII character"),
    ],
)
def test_invoice_numbers_invalid_reasons(number: str, reason: str) -> None:
    with pytest.raises(InvalidInvoiceNumber) as info:
        normalise_invoice_number(number)
    assert info.value.reason == reason
    assert str(info.value) == f"invalid invoice number {number!r}: {reason}"


# -- the mirror agrees with the contract ------------------------------------------------------

#: Characters the property draws from: ASCII letters, digits, separators and
#: controls; full-width forms and their edges; the ideographic space and other
#: CJK punctuation; CJK ideographs; other non-ASCII letters.
CHARACTERS = st.one_of(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E),
    st.sampled_from("0123456789"),
    st.sampled_from(" -/._#"),
    st.characters(min_codepoint=0xFF01, max_codepoint=0xFF5E),
    st.sampled_from("\uff00\uff01\uff10\uff3f\uff40\uff5e\uff5f\uff61\u3000\u3001\u3002\u2116\u00c9"),
    st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF),
    st.sampled_from("\x00\t\n\x1b\x7f"),
)
NUMBERS = st.lists(CHARACTERS, min_size=0, max_size=24).map("".join)


@pytest.fixture(scope="module")
def readonly_ledger(session_env: Any, base_deployment: Any) -> Iterator[Any]:
    """The session's InvoiceToken, for eth_calls only (no state changes, so no snapshot)."""
    from ledger.evm.chain import connect
    from ledger.lifecycle import Ledger

    ledger = Ledger(session_env.settings, connect(session_env.rpc_url), base_deployment)
    yield ledger


def _on_chain(ledger: Any, number: str) -> bytes | None:
    try:
        return bytes(ledger.sender.call(ledger.invoices.functions.normaliseNumber(number)))
    except TransactionReverted as exc:
        assert exc.error_name == "InvalidInvoiceNumber", str(exc)
        assert exc.error_args == {"number": number}
        return None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(number=NUMBERS)
def test_invoice_numbers_mirror_agrees_with_contract(readonly_ledger: Any, number: str) -> None:
    expected = _on_chain(readonly_ledger, number)
    assert normalise_bytes(number.encode()) == expected
    if expected is None:
        with pytest.raises(InvalidInvoiceNumber):
            normalise_invoice_number(number)
    else:
        assert normalise_invoice_number(number) == expected.decode()


@pytest.mark.parametrize("vector", VECTORS, ids=IDS)
def test_invoice_numbers_vectors_on_chain(readonly_ledger: Any, vector: dict[str, Any]) -> None:
    normalised = vector["normalised"]
    assert _on_chain(readonly_ledger, vector["number"]) == (None if normalised is None else normalised.encode())
