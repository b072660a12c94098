"""Money and parties, formatted once (no web3: the read side uses it).

Three spellings of an amount, all exact (integer minor units in, never a
float on the way):

* :func:`amount`: major units with the currency's places, no symbol, no
  grouping: ``"125000.00"``. What JSON output and stored inputs carry.
* :func:`money`: symbol and grouped major units: ``"HKD 125,000.00"``. What
  sentences (rule reasons, refusals) say.
* :func:`symbol_amount`: symbol and ungrouped major units:
  ``"HKD 125000.00"``. What an invoice's history says.

A party is ``{"address": ..., "name": ...}`` (:func:`party`), or None for
no one; :func:`label` is its name, else its address. :class:`Money` binds one currency for code that formats many
amounts of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ledger.money import format_money, from_minor_units


def amount(units: int, decimals: int) -> str:
    """``12500000, 2`` -> ``"125000.00"`` (exact, any size)."""
    return str(from_minor_units(int(units), decimals))


def optional_amount(units: int | None, decimals: int) -> str | None:
    """:func:`amount`, None for None."""
    return None if units is None else amount(units, decimals)


def signed_amount(units: int, decimals: int) -> str:
    """:func:`amount` of a figure that can be negative (``"-12.50"``)."""
    return ("-" if units < 0 else "") + amount(abs(units), decimals)


def money(units: int, decimals: int, symbol: str) -> str:
    """``12500000, 2, "HKD"`` -> ``"HKD 125,000.00"``."""
    return format_money(units, decimals, symbol)


def symbol_amount(units: int, decimals: int, symbol: str) -> str:
    """``12500000, 2, "HKD"`` -> ``"HKD 125000.00"``."""
    return f"{symbol} {amount(units, decimals)}"


@dataclass(frozen=True)
class Money:
    """The formats above bound to one currency."""

    symbol: str
    decimals: int

    def __call__(self, units: int) -> str:
        """In a sentence: ``"HKD 125,000.00"``."""
        return money(units, self.decimals, self.symbol)

    def raw(self, units: int) -> str:
        """Exact major units as a string, for stored inputs and JSON (any size: uint256 too)."""
        return amount(units, self.decimals)

    def optional(self, units: int | None) -> str | None:
        return optional_amount(units, self.decimals)


def is_nobody(address: str | None) -> bool:
    """None, empty or the zero address (the chain's "no one")."""
    return not address or int(address, 16) == 0


def someone(address: str | None) -> str | None:
    """``address``, None for nobody (:func:`is_nobody`): what the chain returns, as the ledger shows it."""
    return None if is_nobody(address) else address


def party(address: str | None, name: str | None | Callable[[str], str | None]) -> dict[str, str | None] | None:
    """``{"address", "name"}`` of a party, None for None. ``name`` is the
    name, or a function from address to name. (Chain values: pass them
    through :func:`someone` first.)"""
    if address is None:
        return None
    return {"address": address, "name": name(address) if callable(name) else name}


def party_of(address: str | None, names: Mapping[str, str]) -> dict[str, str | None] | None:
    """:func:`party` with the name looked up in ``names`` (address -> name)."""
    return party(address, names.get)


def label(address: str | None, name: str | None) -> str:
    """A party in a sentence: its name, else its address; ``"-"`` for nobody."""
    if address is None:
        return "-"
    return name or address
