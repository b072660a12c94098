"""A financier's financing policy: one TOML file, loaded into typed frozen
dataclasses and validated on load.

Every problem is a one-line :class:`PolicyError` that names the file, the key
and what is expected, e.g.::

    policy.toml: pricing.day_count must be "ACT/360" or "ACT/365", got "30/360"

Unknown keys are errors too (a misspelt limit must not be silently ignored).
Numbers may be written as TOML numbers or as strings; TOML floats are read as
``Decimal`` (never binary floats), rates also as percentages (``"4.5%"``).

Amounts are in major units of the invoice's currency (``"5000000.00"`` is
HKD 5,000,000.00 for an HKD invoice); limits apply per currency. The policy's
:attr:`Policy.hash` is the SHA-256 of its canonical content (the validated
values as sorted JSON), so comments, layout and ``"0.9"`` versus ``0.90``
do not change it, while any change of meaning does. See
``examples/policy.toml`` for a complete file.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ledger.errors import InputError, PolicyError
from ledger.finance.policy_fields import RATE_PLACES
from ledger.finance.policy_fields import TomlTable as _Table
from ledger.finance.policy_fields import show as _show

#: Day-count conventions: days in a year of interest.
DAY_COUNTS: dict[str, int] = {"ACT/360": 360, "ACT/365": 365}

_GRADE_NAME = re.compile(r"^[A-Za-z0-9+\-]{1,8}$")


@dataclass(frozen=True)
class Eligibility:
    """Which invoices may be financed at all."""

    #: Settlement currencies (symbols) the financier accepts.
    currencies: tuple[str, ...]
    #: Days from the decision date to the due date: inclusive window.
    min_tenor_days: int
    max_tenor_days: int
    #: Open amount bounds in major units (inclusive); no upper bound when None.
    min_amount: Decimal
    max_amount: Decimal | None
    #: Largest dilution of the seller (0 <= x <= 1): what credit notes took off the receivables it
    #: sold or holds, over their face amounts (see ledger.finance.rules.rule_seller_dilution);
    #: None: no limit (the rule still records the seller's history).
    max_seller_dilution: Decimal | None = None


@dataclass(frozen=True)
class Limits:
    """Exposure limits, in major units per currency. Exposure is what the
    financier is still due: of the financed receivables it holds, its due
    less what it received (not the face amount: the seller's reserve is not
    its risk), plus the gross advance (the due it would have) of its
    approved, unexpired decisions not yet seen financed."""

    #: Total book size.
    book: Decimal
    #: Credit line per buyer when the buyer has no line of its own; None: such buyers get no credit.
    buyer_default: Decimal | None
    #: Limit per supplier when it has none of its own; None: such suppliers are not financed.
    supplier_default: Decimal | None
    #: Per-buyer credit lines: (participant name or address, amount), in file order.
    buyers: tuple[tuple[str, Decimal], ...] = ()
    #: Per-supplier limits.
    suppliers: tuple[tuple[str, Decimal], ...] = ()
    #: Largest share of the book on one buyer (0 < x <= 1); None: no concentration limit.
    concentration: Decimal | None = None
    #: Concentration is checked only once the book (after the financing) is above this amount.
    concentration_above: Decimal = Decimal(0)

    def buyer_line(self, address: str, name: str | None) -> Decimal | None:
        return _line_for(self.buyers, address, name, self.buyer_default)

    def supplier_line(self, address: str, name: str | None) -> Decimal | None:
        return _line_for(self.suppliers, address, name, self.supplier_default)


def _line_for(
    lines: tuple[tuple[str, Decimal], ...], address: str, name: str | None, default: Decimal | None
) -> Decimal | None:
    for key, amount in lines:
        if key.lower() == address.lower() or (name is not None and key.casefold() == name.casefold()):
            return amount
    return default


@dataclass(frozen=True)
class Pricing:
    """How an approved invoice is priced (see ledger.finance.pricing)."""

    day_count: str
    #: Annual base rate (e.g. HIBOR plus the financier's funding margin).
    base_rate: Decimal
    #: Flat fee per financing, in major units.
    fee_fixed: Decimal = Decimal(0)
    #: Fee as a share of the advance.
    fee_rate: Decimal = Decimal(0)
    #: Finance only with recourse to the seller (contracts version 4): after a default the holder
    #: may make the seller buy the receivable back. Needs a listing that accepts recourse, and a
    #: grace period of at least the deployment's (see ledger.finance.rules.rule_terms).
    recourse: bool = False
    #: Days after the due date before a default may be declared, agreed in the financing (0 to
    #: 365); None: the deployment's grace period as indexed when the decision is taken.
    grace_days: int | None = None

    @property
    def day_base(self) -> int:
        return DAY_COUNTS[self.day_count]

    @property
    def grace_seconds(self) -> int | None:
        """:attr:`grace_days` in seconds (None: the deployment's)."""
        return None if self.grace_days is None else self.grace_days * 86_400


@dataclass(frozen=True)
class Grade:
    """One buyer grade: the payment history it needs and its pricing.
    A threshold left out (None) does not constrain the grade."""

    name: str
    advance_rate: Decimal
    spread: Decimal
    min_on_time_ratio: Decimal | None = None
    max_avg_days_past_due: Decimal | None = None
    max_worst_days_past_due: int | None = None
    max_defaults: int | None = None
    max_overdue_invoices: int | None = None
    #: Contracts version 4 (when things go wrong), counted from the ledger over the buyer's whole
    #: history: receivables written off, disputes the buyer raised, maturity extensions accepted.
    max_write_offs: int | None = None
    max_disputes: int | None = None
    max_extensions: int | None = None


@dataclass(frozen=True)
class Grading:
    """How payment history is read."""

    #: Days after the due date a payment still counts as on time.
    grace_days: int = 0
    #: Days past due after which an invoice counts as a default.
    default_after_days: int = 90
    #: Grade of a buyer without payment history; None: such buyers are declined.
    no_history: str | None = None


@dataclass(frozen=True)
class Policy:
    source: str
    eligibility: Eligibility
    limits: Limits
    pricing: Pricing
    grading: Grading
    #: Best first: a buyer gets the first grade whose thresholds it meets.
    grades: tuple[Grade, ...]
    #: Minutes an approved decision stays executable.
    valid_minutes: int = 15
    hash: str = field(default="", compare=False)

    def grade(self, name: str) -> Grade:
        for grade in self.grades:
            if grade.name == name:
                return grade
        raise KeyError(name)

    def canonical(self) -> dict[str, Any]:
        """The policy's meaning as plain JSON-able data (what is hashed)."""

        def num(value: Decimal | int | None) -> str | None:
            if value is None:
                return None
            if isinstance(value, int):
                return str(value)
            return _canonical_decimal(value)

        e, lim, p, g = self.eligibility, self.limits, self.pricing, self.grading
        return {
            "decision": {"valid_minutes": self.valid_minutes},
            "eligibility": {
                "currencies": sorted(e.currencies),
                "min_tenor_days": e.min_tenor_days,
                "max_tenor_days": e.max_tenor_days,
                "min_amount": num(e.min_amount),
                "max_amount": num(e.max_amount),
                **_unless_none(max_seller_dilution=num(e.max_seller_dilution)),
            },
            "limits": {
                "book": num(lim.book),
                "buyer_default": num(lim.buyer_default),
                "supplier_default": num(lim.supplier_default),
                "buyers": {k: num(v) for k, v in lim.buyers},
                "suppliers": {k: num(v) for k, v in lim.suppliers},
                "concentration": num(lim.concentration),
                "concentration_above": num(lim.concentration_above),
            },
            "pricing": {
                "day_count": p.day_count,
                "base_rate": num(p.base_rate),
                "fee_fixed": num(p.fee_fixed),
                "fee_rate": num(p.fee_rate),
                **_unless_none(recourse=True if p.recourse else None, grace_days=p.grace_days),
            },
            "grading": {
                "grace_days": g.grace_days,
                "default_after_days": g.default_after_days,
                "no_history": g.no_history,
            },
            "grades": [
                {
                    "name": gr.name,
                    "advance_rate": num(gr.advance_rate),
                    "spread": num(gr.spread),
                    "min_on_time_ratio": num(gr.min_on_time_ratio),
                    "max_avg_days_past_due": num(gr.max_avg_days_past_due),
                    "max_worst_days_past_due": num(gr.max_worst_days_past_due),
                    "max_defaults": num(gr.max_defaults),
                    "max_overdue_invoices": num(gr.max_overdue_invoices),
                    **_unless_none(
                        max_write_offs=num(gr.max_write_offs),
                        max_disputes=num(gr.max_disputes),
                        max_extensions=num(gr.max_extensions),
                    ),
                }
                for gr in self.grades
            ],
        }


def _unless_none(**values: Any) -> dict[str, Any]:
    """The keys added after a policy format was in use (contracts version 4), only when set: a
    file that leaves them out means what it meant before, so it keeps the hash it had (so does
    ``recourse = false``, the default, written out)."""
    return {k: v for k, v in values.items() if v is not None}


def _canonical_decimal(value: Decimal) -> str:
    """``Decimal("0.90")`` and ``Decimal("0.9")`` mean the same: one text for both."""
    if value == value.to_integral_value():
        return str(value.quantize(Decimal(1)))
    return format(value.normalize(), "f")


def policy_hash(policy: Policy) -> str:
    text = json.dumps(policy.canonical(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# -- reading -------------------------------------------------------------------------------


_TOP = ("decision", "eligibility", "limits", "pricing", "grading", "grades")
_ELIGIBILITY = ("currencies", "min_tenor_days", "max_tenor_days", "min_amount", "max_amount", "max_seller_dilution")
_LIMITS = ("book", "buyer_default", "supplier_default", "buyers", "suppliers", "concentration", "concentration_above")
_PRICING = ("day_count", "base_rate", "fee_fixed", "fee_rate", "recourse", "grace_days")
#: The longest grace period a financing may agree (the contract's MAX_GRACE_PERIOD, 365 days).
MAX_GRACE_DAYS = 365
_GRADING = ("grace_days", "default_after_days", "no_history")
_GRADE = (
    "advance_rate",
    "spread",
    "min_on_time_ratio",
    "max_avg_days_past_due",
    "max_worst_days_past_due",
    "max_defaults",
    "max_overdue_invoices",
    "max_write_offs",
    "max_disputes",
    "max_extensions",
)


def _valid_minutes(top: _Table) -> int:
    decision = top.table("decision", ("valid_minutes",), required=False)
    raw_minutes = decision._get("valid_minutes", False, "")
    if raw_minutes is None:
        return 15
    if isinstance(raw_minutes, bool) or not isinstance(raw_minutes, int) or not 1 <= raw_minutes <= 10080:
        raise top.error(
            f"decision.valid_minutes must be a whole number of minutes from 1 to 10080, got {_show(raw_minutes)}"
        )
    return raw_minutes


def _eligibility(top: _Table) -> Eligibility:
    el = top.table("eligibility", _ELIGIBILITY)
    min_tenor = el.days("min_tenor_days", required=False, default=1, low=1)
    max_tenor = el.days("max_tenor_days", low=1)
    assert min_tenor is not None and max_tenor is not None
    if max_tenor < min_tenor:
        raise top.error(f"eligibility.max_tenor_days must be at least min_tenor_days ({min_tenor}), got {max_tenor}")
    min_amount = el.amount("min_amount", required=False, default=Decimal(0))
    max_amount = el.amount("max_amount", required=False)
    assert min_amount is not None
    if max_amount is not None and max_amount < min_amount:
        raise top.error(
            f"eligibility.max_amount must be at least min_amount ({min_amount}), got {_show(el.data['max_amount'])}"
        )
    return Eligibility(
        el.names("currencies"),
        min_tenor,
        max_tenor,
        min_amount,
        max_amount,
        max_seller_dilution=el.rate("max_seller_dilution", required=False),
    )


def _limits(top: _Table) -> Limits:
    li = top.table("limits", _LIMITS)
    book = li.amount("book")
    assert book is not None
    return Limits(
        book=book,
        buyer_default=li.amount("buyer_default", required=False),
        supplier_default=li.amount("supplier_default", required=False),
        buyers=li.lines("buyers"),
        suppliers=li.lines("suppliers"),
        concentration=li.rate("concentration", required=False, low_open=True),
        concentration_above=li.amount("concentration_above", required=False, default=Decimal(0)) or Decimal(0),
    )


def _pricing(top: _Table) -> Pricing:
    pr = top.table("pricing", _PRICING)
    return Pricing(
        day_count=pr.choice("day_count", tuple(DAY_COUNTS)),
        base_rate=pr.rate("base_rate") or Decimal(0),
        fee_fixed=pr.amount("fee_fixed", required=False, default=Decimal(0)) or Decimal(0),
        fee_rate=pr.rate("fee_rate", required=False, default=Decimal(0)) or Decimal(0),
        recourse=pr.flag("recourse", default=False),
        grace_days=pr.days("grace_days", required=False, high=MAX_GRACE_DAYS),
    )


def _grading(top: _Table) -> Grading:
    gr = top.table("grading", _GRADING, required=False)
    no_history = gr._get("no_history", False, "")
    if no_history is not None and not isinstance(no_history, str):
        raise top.error(f"grading.no_history must be the name of a grade, got {_show(no_history)}")
    return Grading(
        grace_days=gr.days("grace_days", required=False, default=0) or 0,
        default_after_days=gr.days("default_after_days", required=False, default=90, low=1) or 90,
        no_history=no_history,
    )


def _grade(source: str, top: _Table, name: str, raw: Any) -> Grade:
    if not _GRADE_NAME.match(name):
        raise top.error(f"grades.{name} is not a valid grade name; use 1 to 8 letters, digits, + or -")
    if not isinstance(raw, dict):
        raise top.error(f"grades.{name} must be a table ([grades.{name}]), got {_show(raw)}")
    g = _Table(source, f"grades.{name}", raw, _GRADE)
    advance_rate = g.rate("advance_rate", low_open=True)
    spread = g.rate("spread")
    assert advance_rate is not None and spread is not None
    return Grade(
        name=name,
        advance_rate=advance_rate,
        spread=spread,
        min_on_time_ratio=g.rate("min_on_time_ratio", required=False),
        max_avg_days_past_due=g.number("max_avg_days_past_due"),
        max_worst_days_past_due=g.count("max_worst_days_past_due"),
        max_defaults=g.count("max_defaults"),
        max_overdue_invoices=g.count("max_overdue_invoices"),
        max_write_offs=g.count("max_write_offs"),
        max_disputes=g.count("max_disputes"),
        max_extensions=g.count("max_extensions"),
    )


def _grades(source: str, top: _Table, data: Mapping[str, Any], grading: Grading) -> tuple[Grade, ...]:
    if "grades" not in data:
        raise top.error(
            "[grades.NAME] is missing; expected at least one grade, e.g. [grades.A] with advance_rate and spread"
        )
    raw_grades = data["grades"]
    if not isinstance(raw_grades, dict) or not raw_grades:
        raise top.error(f"grades must hold at least one table [grades.NAME], got {_show(raw_grades)}")
    grades = [_grade(source, top, name, raw) for name, raw in raw_grades.items()]
    if grading.no_history is not None and grading.no_history not in {x.name for x in grades}:
        raise top.error(
            f"grading.no_history must name one of the grades ({', '.join(x.name for x in grades)}), "
            f"got {_show(grading.no_history)}"
        )
    return tuple(grades)


def parse_policy(text: str, source: str = "policy.toml") -> Policy:
    """Parse and validate the text of a policy file."""
    try:
        data = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(source, f"not valid TOML: {exc}") from None
    top = _Table(source, "", data, _TOP)
    valid_minutes = _valid_minutes(top)
    eligibility = _eligibility(top)
    limits = _limits(top)
    pricing = _pricing(top)
    grading = _grading(top)
    grades = _grades(source, top, data, grading)
    policy = Policy(source, eligibility, limits, pricing, grading, grades, valid_minutes)
    return Policy(source, eligibility, limits, pricing, grading, grades, valid_minutes, policy_hash(policy))


def policy_paths(home: Path, financier: str | None) -> list[Path]:
    """Where a financier's policy is looked for, first found wins:
    ``<home>/policies/<financier>.toml``, then ``<home>/policy.toml``.
    ``financier`` is the name given with ``--as``; without one, none is looked for."""
    if financier is None:
        return []
    return [home / "policies" / f"{financier}.toml", home / "policy.toml"]


def policy_for(home: Path, path: Path | None, financier: str | None) -> Policy | None:
    """The policy of ``financier``: the file given (``--policy``), else the
    first of :func:`policy_paths` that exists; None if there is none. The one
    lookup of `finance quote|auto` and `report exposure|portfolio`."""
    if path is not None:
        return load_policy(path)
    for candidate in policy_paths(home, financier):
        if candidate.is_file():
            return load_policy(candidate)
    return None


def find_policy(home: Path, path: Path | None, financier: str) -> Policy:
    """:func:`policy_for`, refusing when there is none (a decision needs one)."""
    policy = policy_for(home, path, financier)
    if policy is None:
        raise InputError(
            f"no policy for financier {financier!r}: pass --policy FILE or put one at "
            f"{home / 'policies' / (financier + '.toml')} (see examples/policy.toml)"
        )
    return policy


def load_policy(path: Path | str) -> Policy:
    """Read and validate a policy file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a byte-order mark (Windows editors) dropped
    except FileNotFoundError:
        raise PolicyError(source, "no such policy file; pass --policy FILE (see examples/policy.toml)") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text; save it as UTF-8 and run again"
        raise PolicyError(source, f"cannot read the policy file: {reason}") from None
    return parse_policy(text, source)


__all__ = [
    "DAY_COUNTS",
    "MAX_GRACE_DAYS",
    "RATE_PLACES",
    "Eligibility",
    "Grade",
    "Grading",
    "Limits",
    "Policy",
    "PolicyError",
    "Pricing",
    "find_policy",
    "load_policy",
    "parse_policy",
    "policy_for",
    "policy_hash",
    "policy_paths",
]
