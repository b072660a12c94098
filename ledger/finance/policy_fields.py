"""Reading the fields of a policy file (:mod:`ledger.finance.policy`): one
TOML table at a time, each value checked and turned into its type, every
problem a one-line :class:`~ledger.errors.PolicyError` naming the file and
the key, unknown keys included.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from ledger.errors import PolicyError
from ledger.money import parse_decimal

#: Most decimal places of a rate (as a fraction): decisions store rates as Numeric(30, 12).
RATE_PLACES = 10
#: Most digits of an amount before the decimal point, and in all: the desk computes in Decimal's
#: default context (28 digits), so a larger number would be rounded, or fail to hash.
AMOUNT_DIGITS, ALL_DIGITS = 18, 28


class TomlTable:
    """Reads one TOML table, remembering which keys were used so unknown ones
    can be reported."""

    def __init__(self, source: str, prefix: str, data: Mapping[str, Any], known: tuple[str, ...]) -> None:
        self.source = source
        self.prefix = prefix
        self.data = data
        self.known = known
        for key in data:
            if key not in known:
                raise self.error(f"unknown key {self.key(key)}; expected one of {', '.join(known)}")

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, message: str) -> PolicyError:
        return PolicyError(self.source, message)

    def has(self, name: str) -> bool:
        return name in self.data

    def table(self, name: str, known: tuple[str, ...], required: bool = True) -> TomlTable:
        if name not in self.data:
            if required:
                raise self.error(f"[{self.key(name)}] is missing; expected a table with {', '.join(known)}")
            return TomlTable(self.source, self.key(name), {}, known)
        value = self.data[name]
        if not isinstance(value, dict):
            raise self.error(f"{self.key(name)} must be a table ([{self.key(name)}]), got {show(value)}")
        return TomlTable(self.source, self.key(name), value, known)

    def _get(self, name: str, required: bool, expected: str) -> Any:
        if name not in self.data:
            if required:
                raise self.error(f"{self.key(name)} is missing; expected {expected}")
            return None
        return self.data[name]

    def rate(
        self,
        name: str,
        *,
        required: bool = True,
        default: Decimal | None = None,
        low: Decimal = Decimal(0),
        high: Decimal = Decimal(1),
        low_open: bool = False,
    ) -> Decimal | None:
        expected = 'a rate such as "0.045" or "4.5%"'
        raw = self._get(name, required, expected)
        if raw is None:
            return default
        value = parse_decimal(raw, allow_percent=True)
        bound = f"above {low}" if low_open else f"at least {low}"
        if value is None:
            raise self.error(f"{self.key(name)} must be {expected}, got {show(raw)}")
        if value < low or (low_open and value == low) or value > high:
            raise self.error(f"{self.key(name)} must be {bound} and at most {high}, got {show(raw)}")
        if places(value) > RATE_PLACES:
            raise self.error(f"{self.key(name)} must have at most {RATE_PLACES} decimal places, got {show(raw)}")
        return value

    def amount(self, name: str, *, required: bool = True, default: Decimal | None = None) -> Decimal | None:
        expected = 'an amount in major units such as "5000000.00"'
        raw = self._get(name, required, expected)
        if raw is None:
            return default
        value = parse_decimal(raw, allow_percent=False)
        if value is None or value < 0:
            raise self.error(f"{self.key(name)} must be {expected}, got {show(raw)}")
        self._fits(self.key(name), value, raw)
        return value

    def _fits(self, key: str, value: Decimal, raw: Any) -> None:
        """Refuse a number too large for the desk's arithmetic (see :data:`AMOUNT_DIGITS`)."""
        significant = len("".join(map(str, value.as_tuple().digits)).rstrip("0"))
        if value.adjusted() >= AMOUNT_DIGITS or significant > ALL_DIGITS:
            raise self.error(
                f"{key} must have at most {AMOUNT_DIGITS} digits before the decimal point "
                f"and {ALL_DIGITS} in all, got {show(raw)}"
            )

    def days(
        self, name: str, *, required: bool = True, default: int | None = None, low: int = 0, high: int | None = None
    ) -> int | None:
        raw = self._get(name, required, "a whole number of days")
        if raw is None:
            return default
        bound = f"at least {low}" if high is None else f"from {low} to {high}"
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < low or (high is not None and raw > high):
            raise self.error(f"{self.key(name)} must be a whole number of days, {bound}, got {show(raw)}")
        return raw

    def flag(self, name: str, *, default: bool) -> bool:
        """A TOML boolean (``true`` or ``false``, not a string or number)."""
        raw = self._get(name, False, "")
        if raw is None:
            return default
        if not isinstance(raw, bool):
            raise self.error(f"{self.key(name)} must be true or false, got {show(raw)}")
        return raw

    def count(self, name: str) -> int | None:
        raw = self._get(name, False, "")
        if raw is None:
            return None
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise self.error(f"{self.key(name)} must be a whole number, at least 0, got {show(raw)}")
        return raw

    def number(self, name: str) -> Decimal | None:
        raw = self._get(name, False, "")
        if raw is None:
            return None
        value = parse_decimal(raw, allow_percent=False)
        if value is None or value < 0:
            raise self.error(f'{self.key(name)} must be a number of days such as 5 or "2.5", got {show(raw)}')
        self._fits(self.key(name), value, raw)
        return value

    def choice(self, name: str, choices: tuple[str, ...], *, default: str | None = None) -> str:
        expected = " or ".join(f'"{c}"' for c in choices)
        raw = self._get(name, default is None, expected)
        if raw is None:
            assert default is not None
            return default
        if not isinstance(raw, str) or raw.strip().upper() not in choices:
            raise self.error(f"{self.key(name)} must be {expected}, got {show(raw)}")
        return raw.strip().upper()

    def names(self, name: str) -> tuple[str, ...]:
        expected = 'a list of currency symbols such as ["HKD"]'
        raw = self._get(name, True, expected)
        if (
            not isinstance(raw, list)
            or not raw
            or not all(isinstance(x, str) and re.fullmatch(r"[A-Za-z0-9]{1,12}", x) for x in raw)
        ):
            raise self.error(f"{self.key(name)} must be {expected}, got {show(raw)}")
        return tuple(x.upper() for x in raw)

    def lines(self, name: str) -> tuple[tuple[str, Decimal], ...]:
        if name not in self.data:
            return ()
        raw = self.data[name]
        if not isinstance(raw, dict):
            raise self.error(
                f"{self.key(name)} must be a table of participant name or address = amount, got {show(raw)}"
            )
        out: list[tuple[str, Decimal]] = []
        for who, value in raw.items():
            amount = parse_decimal(value, allow_percent=False)
            if amount is None or amount < 0 or not who.strip():
                raise self.error(
                    f'{self.key(name)}."{who}" must be an amount in major units such as "5000000.00", got {show(value)}'
                )
            self._fits(f'{self.key(name)}."{who}"', amount, value)
            # Names and addresses match whatever their case (Limits.buyer_line): a second line for
            # the same one would be silently ignored, the first winning.
            same = next((k for k, _ in out if k.casefold() == who.strip().casefold()), None)
            if same is not None:
                raise self.error(
                    f'{self.key(name)} gives "{who.strip()}" a second line (the first is "{same}"); '
                    "give each participant one line"
                )
            out.append((who.strip(), amount))
        return tuple(out)


def show(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return json.dumps([str(v) if isinstance(v, Decimal) else v for v in value], default=str)
    return str(value)


def places(value: Decimal) -> int:
    """Decimal places of ``value`` without trailing zeros (0.0450 -> 3)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
