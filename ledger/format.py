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

Times and dates, always in the business time zone (:mod:`ledger.business_time`),
from a chain time (Unix seconds) or an aware datetime:

* :func:`iso_time`: ISO 8601 with the offset, ``"2027-01-31T23:59:59+08:00"``:
  what JSON carries.
* :func:`text_time`: ``"2027-01-31 23:59 HKT"``: what tables and sentences show.
* :func:`date_text`: ``"2027-01-31"``: a business date (a due date, KYC-until, as-of).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal

from ledger.business_time import MAX_TIMESTAMP, business_date, moment
from ledger.money import format_money, from_minor_units


def amount(units: int, decimals: int) -> str:
    """``12500000, 2`` -> ``"125000.00"`` (exact, any size): the text of
    :func:`ledger.money.from_minor_units`, by integer division (every list
    row formats a dozen amounts; a Decimal context per amount costs more)."""
    units = int(units)
    if decimals <= 0:
        return str(from_minor_units(units, decimals))
    whole, fraction = divmod(abs(units), 10**decimals)
    return f"{'-' if units < 0 else ''}{whole}.{fraction:0{decimals}d}"


def optional_amount(units: int | None, decimals: int) -> str | None:
    """:func:`amount`, None for None."""
    return None if units is None else amount(units, decimals)


def signed_amount(units: int, decimals: int) -> str:
    """:func:`amount` of a figure that can be negative (``"-12.50"``)."""
    return ("-" if units < 0 else "") + amount(abs(units), decimals)


def money(units: int, decimals: int, symbol: str) -> str:
    """``12500000, 2, "HKD"`` -> ``"HKD 125,000.00"``."""
    return format_money(units, decimals, symbol)


def money_text(symbol: str, value: str | None) -> str:
    """An exact amount string of a record (``"48250.50"``, ``"-156.42"``), as
    text and tables show it: ``"HKD 48,250.50"`` (:func:`money`; the places
    are the string's own, so nothing is rounded, at any size); ``"-"`` for None."""
    if value is None:
        return "-"
    places = len(value.partition(".")[2])
    units = int(Decimal(value).scaleb(places, Context(prec=len(value) + 2)))
    return money(units, places, symbol)


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


def party_label(p: Mapping[str, str | None] | None, nobody: str = "-") -> str:
    """A :func:`party` in a sentence: its name, else its address; ``nobody`` for None."""
    return nobody if p is None else str(p.get("name") or p["address"])


def label(address: str | None, name: str | None) -> str:
    """A party in a sentence: its name, else its address; ``"-"`` for nobody."""
    if address is None:
        return "-"
    return name or address


# -- times and dates ---------------------------------------------------------------
def _beyond(value: int | dt.datetime) -> str | None:
    """A chain time past what a datetime holds (a uint64 can), as text; None for any other."""
    if isinstance(value, dt.datetime) or int(value) <= MAX_TIMESTAMP:
        return None
    return f"unix time {int(value)} (after 9999-12-31)"


def iso_time(value: int | dt.datetime | None) -> str | None:
    """``"2027-01-31T23:59:59+08:00"`` (seconds, the zone's offset); None for None."""
    if value is None:
        return None
    return _beyond(value) or moment(value).isoformat(timespec="seconds")


def text_time(value: int | dt.datetime | str | None) -> str:
    """``"2027-01-31 23:59 HKT"`` (the zone's abbreviation, else its offset); ``"-"`` for None.
    Also takes what :func:`iso_time` wrote (a JSON value), to show it in a table."""
    if value is None:
        return "-"
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            return value  # "unix time N (after 9999-12-31)"
        if parsed.tzinfo is None:
            return parsed.isoformat(sep=" ", timespec="minutes")
        value = parsed
    return _beyond(value) or moment(value).strftime("%Y-%m-%d %H:%M %Z")


def date_text(value: dt.date | int | dt.datetime | None) -> str | None:
    """A business date, ``"2027-01-31"``: a date as it is, a time as its date in the zone; None for None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        return _beyond(value) or business_date(value).isoformat()
    return value.isoformat()


def grace_days(seconds: int) -> str:
    """A grace period in days as an exact decimal string: ``"7"``, ``"1.5"``
    for 129,600 s; seconds / 86,400 rounded half-even to 6 places when it has
    more (a period of whole seconds is shown to the 0.1 s)."""
    days = (Decimal(seconds) / 86_400).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    return format(days.normalize(), "f")


def grace_text(seconds: int) -> str:
    """A grace period in a sentence: ``"7 days"``, ``"1 day"``, ``"1.5 days"``."""
    days = grace_days(seconds)
    return f"{days} day{'' if days == '1' else 's'}"
