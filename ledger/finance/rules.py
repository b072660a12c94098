"""The rules of a financing decision, each a pure function of facts.

Every rule returns a :class:`RuleResult`: its name, the inputs it looked at
(as strings, so a stored decision can be read back exactly), ``"pass"`` or
``"fail"``, and the reason in plain words. :func:`evaluate` runs them all
(eligibility, buyer grade, pricing, self-financing, consent, the financing's
terms, limits) and approves only when every rule passes; a declined decision
lists every failing rule, not just the first.

The rules follow the contract (version 2): an invoice is open for financing
while it is confirmed or partly paid, something is open, and it was never
financed (financed means a seller is recorded); it is priced on its open
amount; the holder consents only by a live listing for this financier (or
for any) whose asking advance the price meets (an ERC-721 approval is no
consent to a price); and nobody finances a receivable it holds itself.
Multi-tier (version 3): a part is a receivable like any other, with the
root's buyer; its seller is its holder; a Split node is never financed.
When things go wrong (version 4): a Disputed, Defaulted, WrittenOff (or
Cancelled) receivable is declined by one rule that names why; the decision
records the financing's terms, recourse and grace period (:func:`rule_terms`),
and recourse needs a listing that accepts it; the buyer's
grade counts its defaults, write-offs, disputes and extensions
(:mod:`ledger.finance.grading`); and the seller's dilution, what credit notes
took off the receivables it sold or holds over their face amounts, is held
to the policy's ``eligibility.max_seller_dilution`` (:func:`rule_seller_dilution`).

Amounts are integer minor units of the invoice's currency; policy amounts
(major units) are converted with the currency's decimals, limits rounded
down (never more room than the policy gives). Exposure against the limits is
what the financier is still due (see :class:`Exposure`), not face amounts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ledger.business_time import business_date, kyc_last_day
from ledger.finance.facts import FAIL, PASS, DilutionFacts, Exposure, InvoiceFacts, PartyFacts, RuleResult
from ledger.finance.facts import rule_result as _result
from ledger.finance.grading import GradeResult, PaymentStats, grade_buyer
from ledger.finance.numbers import percent_sign as _pct
from ledger.finance.policy import Policy
from ledger.finance.pricing import Price, major_to_minor_ceil, major_to_minor_floor, price
from ledger.format import Money, date_text, grace_days, grace_text, iso_time, text_time
from ledger.names import FINANCEABLE_STATUS_NAMES, ROLE_BITS, role_names

#: Statuses in which the buyer has confirmed the invoice (a Split one was confirmed, then split;
#: a Defaulted or WrittenOff one was confirmed, then not paid).
CONFIRMED_STATUSES = frozenset(
    {"Confirmed", "Financed", "PartiallyPaid", "Paid", "Disputed", "Split", "Defaulted", "WrittenOff"}
)
#: Statuses of a receivable gone wrong (contracts version 4), and why each is not financed.
TROUBLED: dict[str, str] = {
    "Disputed": "the invoice is disputed: the buyer contests it (it cannot be financed until the dispute ends)",
    "Defaulted": "the invoice is in default: its holder declared it unpaid after the due date and grace period",
    "WrittenOff": "the invoice was written off after a default",
    "Cancelled": "the invoice is cancelled",
}


# -- eligibility -------------------------------------------------------------------------------


def rule_confirmed(inv: InvoiceFacts) -> RuleResult:
    ok = inv.status in CONFIRMED_STATUSES
    why = "it was cancelled" if inv.status == "Cancelled" else f"it is {inv.status}, not yet confirmed"
    return _result(
        "confirmed_by_buyer",
        ok,
        {"status": inv.status},
        "the buyer has confirmed the invoice",
        f"the buyer has not confirmed the invoice: {why}",
    )


def rule_not_disputed_defaulted_or_cancelled(inv: InvoiceFacts) -> RuleResult:
    """Not disputed, in default, written off or cancelled: the statuses the contract also refuses
    to finance (a financing needs Confirmed or PartiallyPaid), named here for what they are."""
    return _result(
        "not_disputed_defaulted_or_cancelled",
        inv.status not in TROUBLED,
        {"status": inv.status},
        "the invoice is not disputed, in default, written off or cancelled",
        TROUBLED.get(inv.status, ""),
    )


def rule_not_financed(inv: InvoiceFacts) -> RuleResult:
    """Never financed (one financing per invoice, ever), and confirmed or
    partly paid with something open: a partly paid invoice is financed
    against its open amount."""
    m = Money(inv.currency, inv.decimals)
    ok = not inv.financed and inv.status in FINANCEABLE_STATUS_NAMES and inv.outstanding > 0
    if inv.financed:
        seller = inv.seller_name or inv.seller
        by = f"by {inv.financier_name or inv.financier}" if inv.financier else f"sold by {seller}"
        no = f"the invoice was already financed ({by}): one financing per invoice, ever"
    elif inv.status == "Paid" or (inv.status in FINANCEABLE_STATUS_NAMES and inv.outstanding <= 0):
        no = "the invoice is paid: nothing is open to finance"
    else:
        no = f"the invoice is {inv.status}, not open for financing"
    yes = "the invoice has never been financed" + (
        f"; {m(inv.paid)} of {m(inv.amount)} is paid, {m(inv.outstanding)} is open to finance" if inv.paid else ""
    )
    return _result(
        "not_financed",
        ok,
        {
            "status": inv.status,
            "financier": inv.financier,
            "seller": inv.seller,
            "amount": m.raw(inv.amount),
            "paid": m.raw(inv.paid),
            "open_amount": m.raw(inv.outstanding),
        },
        yes,
        no,
    )


def id_ranges(ids: tuple[int, ...] | list[int]) -> str:
    """``8, 9, 10, 12`` as ``8-10, 12``."""
    runs: list[list[int]] = []
    for i in sorted(ids):
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def rule_not_split(inv: InvoiceFacts) -> RuleResult:
    """A Split receivable is closed: its open amount lives in its parts, each
    financed (and quoted) on its own, never the Split node itself."""
    parts = id_ranges(inv.parts) if inv.parts else "parts"
    return _result(
        "not_split",
        inv.status != "Split",
        {"status": inv.status, "parts": list(inv.parts)},
        "the invoice is not split",
        f"invoice {inv.invoice_id} was split into parts {parts}; quote a part",
    )


def rule_kyc(role: str, party: PartyFacts, as_of: dt.datetime) -> RuleResult:
    """The party is admitted with ``role`` (its role bit), not suspended, and
    its KYC is valid at ``as_of``."""
    inputs = {
        "address": party.address,
        "name": party.name,
        "admitted": party.admitted,
        "suspended": party.suspended,
        "roles": role_names(party.roles),
        "role": role,
        "kyc_expiry": iso_time(party.kyc_expiry),
        "as_of": iso_time(as_of),
    }
    name = f"{role}_kyc"
    if not party.admitted or party.kyc_expiry is None:
        return RuleResult(name, inputs, FAIL, f"the {role} {party.label} is not an admitted participant")
    if not party.roles & ROLE_BITS[role]:
        return RuleResult(name, inputs, FAIL, f"{party.label} is not an admitted {role}")
    if party.suspended:
        return RuleResult(name, inputs, FAIL, f"the {role} {party.label} is suspended")
    last = date_text(kyc_last_day(int(party.kyc_expiry.timestamp())))
    if as_of >= party.kyc_expiry:
        return RuleResult(name, inputs, FAIL, f"the {role} {party.label}'s KYC expired (valid until {last})")
    return RuleResult(name, inputs, PASS, f"the {role} {party.label}'s KYC is valid until {last}")


def tenor_days(inv: InvoiceFacts, as_of: dt.datetime) -> int:
    """Actual days from the decision date (a business date) to the due date."""
    return (inv.due_date - business_date(as_of)).days


def rule_tenor(inv: InvoiceFacts, policy: Policy, as_of: dt.datetime) -> RuleResult:
    days = tenor_days(inv, as_of)
    e = policy.eligibility
    inputs = {
        "days": days,
        "due_date": inv.due_date.isoformat(),
        "as_of": date_text(business_date(as_of)),
        "min_tenor_days": e.min_tenor_days,
        "max_tenor_days": e.max_tenor_days,
    }
    if days < e.min_tenor_days:
        no = (
            f"due in {days} day(s), sooner than the {e.min_tenor_days} day(s) the policy needs"
            if days >= 0
            else f"it fell due {-days} day(s) ago"
        )
        return RuleResult("tenor", inputs, FAIL, no)
    if days > e.max_tenor_days:
        return RuleResult(
            "tenor", inputs, FAIL, f"due in {days} days, later than the {e.max_tenor_days} days the policy allows"
        )
    return RuleResult(
        "tenor", inputs, PASS, f"due in {days} days, inside {e.min_tenor_days} to {e.max_tenor_days} days"
    )


def rule_amount(inv: InvoiceFacts, policy: Policy) -> RuleResult:
    m = Money(inv.currency, inv.decimals)
    e = policy.eligibility
    low = major_to_minor_ceil(e.min_amount, inv.decimals)
    high = None if e.max_amount is None else major_to_minor_floor(e.max_amount, inv.decimals)
    inputs = {
        "open_amount": m.raw(inv.outstanding),
        "min_amount": m.raw(low),
        "max_amount": None if high is None else m.raw(high),
    }
    if inv.outstanding < low:
        return RuleResult("amount", inputs, FAIL, f"open amount {m(inv.outstanding)} is below the minimum {m(low)}")
    if high is not None and inv.outstanding > high:
        return RuleResult("amount", inputs, FAIL, f"open amount {m(inv.outstanding)} is above the maximum {m(high)}")
    bound = f"between {m(low)} and {m(high)}" if high is not None else f"at least {m(low)}"
    return RuleResult("amount", inputs, PASS, f"open amount {m(inv.outstanding)} is {bound}")


def rule_currency(inv: InvoiceFacts, policy: Policy) -> RuleResult:
    accepted = policy.eligibility.currencies
    return _result(
        "currency",
        inv.currency.upper() in accepted,
        {"currency": inv.currency, "accepted": list(accepted)},
        f"{inv.currency} is an accepted currency",
        f"{inv.currency} is not a currency the policy accepts ({', '.join(accepted)})",
    )


def rule_seller_dilution(inv: InvoiceFacts, dilution: DilutionFacts, policy: Policy) -> RuleResult:
    """The seller's dilution: what credit notes took off the receivables it sold or holds, over
    their face amounts (``credited / face``, exact; shown rounded half-even to two places of a
    percent), at most the policy's ``eligibility.max_seller_dilution``. Dilution is the seller's
    risk: a seller whose goods are often credited back is a worse counterparty for the financier."""
    m = Money(inv.currency, inv.decimals)
    limit = policy.eligibility.max_seller_dilution
    share = Fraction(dilution.credited, dilution.face) if dilution.face else None
    inputs = {
        "seller": dilution.seller,
        "seller_name": dilution.seller_name,
        "receivables": dilution.receivables,
        "credited_receivables": dilution.credited_receivables,
        "face": m.raw(dilution.face),
        "credited": m.raw(dilution.credited),
        "dilution": None if share is None else _pct(share),
        "max_dilution": None if limit is None else str(limit),
    }
    who = f"the seller {dilution.label}"
    if share is None:
        return RuleResult("seller_dilution", inputs, PASS, f"{who} has no receivables yet: no dilution history")
    history = f"credit notes took {m(dilution.credited)} off {m(dilution.face)} of its receivables ({_pct(share)})"
    if limit is None:
        return RuleResult("seller_dilution", inputs, PASS, f"{who}: {history}; the policy sets no dilution limit")
    if share > Fraction(limit):
        return RuleResult(
            "seller_dilution", inputs, FAIL, f"{who}'s dilution is too high: {history}, above {_pct(limit)}"
        )
    return RuleResult("seller_dilution", inputs, PASS, f"{who}: {history}, within {_pct(limit)}")


def eligibility_rules(
    inv: InvoiceFacts,
    supplier: PartyFacts,
    buyer: PartyFacts,
    policy: Policy,
    as_of: dt.datetime,
    dilution: DilutionFacts | None = None,
) -> list[RuleResult]:
    """The eligibility rules; ``dilution`` is the seller's history (None: it has none)."""
    dilution = dilution or DilutionFacts(supplier.address, supplier.name, 0, 0, 0, 0)
    return [
        rule_confirmed(inv),
        rule_not_disputed_defaulted_or_cancelled(inv),
        rule_not_financed(inv),
        rule_kyc("supplier", supplier, as_of),
        rule_kyc("buyer", buyer, as_of),
        rule_tenor(inv, policy, as_of),
        rule_amount(inv, policy),
        rule_currency(inv, policy),
        rule_seller_dilution(inv, dilution, policy),
    ]


# -- grade, price, consent ---------------------------------------------------------------------------


def rule_grade(result: GradeResult) -> RuleResult:
    inputs = {**result.stats.as_dict(), "grade": None if result.grade is None else result.grade.name}
    return RuleResult("buyer_grade", inputs, PASS if result.grade is not None else FAIL, result.reason)


def rule_price(p: Price, m: Money) -> RuleResult:
    inputs = {
        k: (
            m.raw(v)
            if k in ("open_amount", "advance", "discount", "fees", "net_advance", "reserve") and isinstance(v, int)
            else v
        )
        for k, v in p.as_dict().items()
    }
    if p.net_advance <= 0:
        short = f", {m(-p.net_advance)} short" if p.net_advance < 0 else ""
        return RuleResult(
            "price",
            inputs,
            FAIL,
            f"discount {m(p.discount)} and fees {m(p.fees)} leave nothing of the advance {m(p.advance)}{short}: "
            "no net advance to pay",
        )
    return RuleResult(
        "price",
        inputs,
        PASS,
        f"advance {m(p.advance)} ({_pct(p.advance_rate)} of {m(p.open_amount)}), discount {m(p.discount)} at "
        f"{_pct(p.annual_rate)} for {p.days} days {p.day_count}, fees {m(p.fees)}: pays {m(p.net_advance)}",
    )


def rule_not_self_financing(inv: InvoiceFacts, financier: str) -> RuleResult:
    """Nobody finances a receivable it holds itself (the contract refuses it:
    it would pay itself an advance)."""
    holder = inv.holder_name or inv.holder or "nobody"
    own = inv.holder is not None and inv.holder.lower() == financier.lower()
    return _result(
        "not_self_financing",
        not own,
        {"holder": inv.holder, "financier": financier},
        "the financier does not hold the invoice",
        f"the financier is the holder {holder}: nobody finances its own receivable",
    )


def rule_consent(
    inv: InvoiceFacts, financier: str, net_advance: int | None, as_of: dt.datetime, recourse: bool = False
) -> RuleResult:
    """The holder must have listed the invoice for this financier (or any),
    live at ``as_of``, with an asking advance the net advance (the cash it
    receives) meets, and, for a financing with ``recourse`` to it, accepting
    recourse. That listing is the only consent the contract accepts: an
    ERC-721 approval of the financier is not consent to a price."""
    m = Money(inv.currency, inv.decimals)
    holder = inv.holder_name or inv.holder or "nobody"
    inputs: dict[str, Any] = {
        "holder": inv.holder,
        "financier": financier,
        "offer_financier": inv.offer_financier,
        "offer_min_advance": None if inv.offer_min_advance is None else m.raw(inv.offer_min_advance),
        "offer_expires": iso_time(inv.offer_expires),
        "offer_recourse": inv.offer_recourse,
        "recourse": recourse,
        "net_advance": None if net_advance is None else m.raw(net_advance),
    }
    if inv.holder is not None and inv.holder.lower() == financier.lower():
        return RuleResult(
            "holder_consent",
            inputs,
            FAIL,
            f"the financier {holder} already holds it: there is no other holder to consent, and nobody finances "
            "its own holding",
        )
    if inv.offer_expires is None or not inv.offer_min_advance:
        return RuleResult(
            "holder_consent",
            inputs,
            FAIL,
            f"the holder {holder} has not offered it to this financier (it needs `scf invoice offer` first)",
        )
    if inv.offer_expires < as_of:
        return RuleResult(
            "holder_consent", inputs, FAIL, f"the holder's listing lapsed on {text_time(inv.offer_expires)}"
        )
    if inv.offer_financier is not None and inv.offer_financier.lower() != financier.lower():
        return RuleResult(
            "holder_consent",
            inputs,
            FAIL,
            f"the holder {holder} has not offered it to this financier (listed only for "
            f"{inv.offer_financier_name or inv.offer_financier})",
        )
    if recourse and not inv.offer_recourse:
        return RuleResult(
            "holder_consent",
            inputs,
            FAIL,
            "the holder's listing does not accept recourse, which the policy requires (pricing.recourse); "
            "the holder can list it again accepting recourse",
        )
    ask = inv.offer_min_advance
    if net_advance is not None and net_advance < ask:
        return RuleResult(
            "holder_consent", inputs, FAIL, f"the holder asks at least {m(ask)} but the price pays {m(net_advance)}"
        )
    to = "any financier" if inv.offer_financier is None else "this financier"
    accepting = ", accepting recourse" if recourse else ""
    return RuleResult(
        "holder_consent",
        inputs,
        PASS,
        f"the holder listed it for {to} until {text_time(inv.offer_expires)}, asking at least {m(ask)}{accepting}",
    )


def rule_terms(policy: Policy, deployment_grace: int | None) -> RuleResult:
    """The financing's default terms, recorded in the decision so its execution sends exactly
    them: ``recourse`` (the policy's ``pricing.recourse``) and the grace period in seconds after
    the due date before a default may be declared (``grace_seconds``: the policy's
    ``pricing.grace_days``, else ``deployment_grace``, the deployment's as indexed at the
    decision's block). As the contract requires, a financing with recourse gives the seller at
    least the deployment's grace period; one without may agree any grace. Fails when the grace
    cannot be known or checked (the deployment's is not indexed: contracts before version 4
    have none)."""
    recourse, own = policy.pricing.recourse, policy.pricing.grace_seconds
    grace = own if own is not None else deployment_grace
    inputs: dict[str, Any] = {
        "recourse": recourse,
        "grace_seconds": grace,
        "grace_days": None if grace is None else grace_days(grace),
        "grace_from": "policy" if own is not None else "deployment",
        "policy_grace_days": policy.pricing.grace_days,
        "deployment_grace_seconds": deployment_grace,
    }
    with_ = "with recourse to the seller" if recourse else "without recourse"
    if deployment_grace is None and (own is None or recourse):
        need = "set pricing.grace_days" if own is None else "its grace cannot be checked against it"
        return RuleResult(
            "financing_terms",
            inputs,
            FAIL,
            f"the deployment's grace period is not indexed ({need}); run `scf index sync` "
            "(contracts before version 4 have none)",
        )
    assert grace is not None
    if recourse and deployment_grace is not None and grace < deployment_grace:
        return RuleResult(
            "financing_terms",
            inputs,
            FAIL,
            f"a financing with recourse must give the seller at least the deployment's grace period of "
            f"{grace_text(deployment_grace)}, but pricing.grace_days gives {grace_text(grace)}",
        )
    if own is None:
        whose = "the deployment's"
    elif deployment_grace is None or own == deployment_grace:
        whose = "the policy's"
    else:
        whose = f"the policy's; the deployment's is {grace_text(deployment_grace)}"
    return RuleResult(
        "financing_terms",
        inputs,
        PASS,
        f"{with_}, {grace_text(grace)} of grace after the due date before a default ({whose})",
    )


# -- limits -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Lines:
    """The limits that apply to one invoice, in minor units (None: no line)."""

    book: int
    buyer: int | None
    supplier: int | None
    concentration: Decimal | None
    concentration_above: int


def lines_for(policy: Policy, inv: InvoiceFacts, supplier: PartyFacts, buyer: PartyFacts) -> Lines:
    lim = policy.limits
    d = inv.decimals

    def units(x: Decimal | None) -> int | None:
        return None if x is None else major_to_minor_floor(x, d)

    return Lines(
        book=major_to_minor_floor(lim.book, d),
        buyer=units(lim.buyer_line(buyer.address, buyer.name)),
        supplier=units(lim.supplier_line(supplier.address, supplier.name)),
        concentration=lim.concentration,
        concentration_above=major_to_minor_floor(lim.concentration_above, d),
    )


def _limit(name: str, what: str, used: int, amount: int, line: int | None, m: Money, missing: str = "") -> RuleResult:
    after = used + amount
    inputs = {
        "used": m.raw(used),
        "this_invoice": m.raw(amount),
        "after": m.raw(after),
        "limit": None if line is None else m.raw(line),
    }
    if line is None:
        return RuleResult(name, inputs, FAIL, missing)
    if after > line:
        return RuleResult(
            name, inputs, FAIL, f"{what} {m(line)} would be exceeded: {m(used)} used + {m(amount)} = {m(after)}"
        )
    return RuleResult(name, inputs, PASS, f"{what} {m(line)}: {m(after)} used after this, {m(line - after)} left")


def _concentration_rule(exposure: Exposure, lines: Lines, amount: int, m: Money) -> RuleResult:
    """The buyer's share of the book with this invoice added, against the policy's concentration limit.
    One book: ``book_after`` is the book the book limit counts (held and pending, this invoice added);
    the share is of it less other buyers' approvals not yet executed (they may never be), the worst case
    for this buyer: whichever approvals are executed, the share held is never above it."""
    book_after = exposure.book + amount
    others = exposure.others_pending
    whole = book_after - others
    buyer_after = exposure.buyer + amount
    inputs = {
        "buyer_after": m.raw(buyer_after),
        "book_after": m.raw(book_after),
        "others_pending": m.raw(others),
        "share_of": m.raw(whole),
        "max_share": None if lines.concentration is None else str(lines.concentration),
        "applies_above": m.raw(lines.concentration_above),
    }
    if lines.concentration is None:
        return RuleResult("concentration", inputs, PASS, "the policy sets no concentration limit")
    less = f" less {m(others)} of other buyers' approvals not yet executed" if others else ""
    if whole <= lines.concentration_above:
        book = f"the book after this, {m(book_after)}{less}" + (f", {m(whole)}" if others else "")
        return RuleResult(
            "concentration",
            inputs,
            PASS,
            f"{book}, is not above {m(lines.concentration_above)}, where concentration starts to count",
        )
    share = Fraction(buyer_after, whole)
    ok = share <= Fraction(lines.concentration)
    of_what = f"{m(buyer_after)} of {m(whole)}" + (f": the book after this, {m(book_after)},{less}" if others else "")
    return _result(
        "concentration",
        ok,
        {**inputs, "share": _pct(share)},
        f"the buyer would be {_pct(share)} of the book, within {_pct(lines.concentration)}",
        f"the buyer would be {_pct(share)} of the book ({of_what}), above {_pct(lines.concentration)}",
    )


def limit_rules(inv: InvoiceFacts, exposure: Exposure, lines: Lines, amount: int | None = None) -> list[RuleResult]:
    """The limits with this invoice added: ``amount`` is what the financier
    would be due of it (the priced gross advance; default, with no price: its
    open amount, the most it could be due)."""
    m = Money(inv.currency, inv.decimals)
    amount = inv.outstanding if amount is None else amount
    out = [
        _limit("book_limit", "the book limit", exposure.book, amount, lines.book, m),
        _limit(
            "buyer_limit",
            "the buyer's credit line",
            exposure.buyer,
            amount,
            lines.buyer,
            m,
            "the policy gives this buyer no credit line (add it under [limits.buyers] or set limits.buyer_default)",
        ),
        _limit(
            "supplier_limit",
            "the supplier's limit",
            exposure.supplier,
            amount,
            lines.supplier,
            m,
            "the policy gives this supplier no limit (add it under [limits.suppliers] or set limits.supplier_default)",
        ),
    ]
    out.append(_concentration_rule(exposure, lines, amount, m))
    return out


# -- the whole decision ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    approved: bool
    rules: tuple[RuleResult, ...]
    price: Price | None
    grade: str | None
    stats: PaymentStats

    @property
    def failures(self) -> list[RuleResult]:
        return [r for r in self.rules if not r.passed]

    def summary(self) -> str:
        if self.approved:
            return "approved: every rule passed"
        return "declined: " + "; ".join(r.reason for r in self.failures)


def evaluate(
    *,
    policy: Policy,
    invoice: InvoiceFacts,
    supplier: PartyFacts,
    buyer: PartyFacts,
    financier: str,
    stats: PaymentStats,
    exposure: Exposure,
    as_of: dt.datetime,
    deployment_grace: int | None,
    financier_party: PartyFacts | None = None,
    dilution: DilutionFacts | None = None,
) -> Evaluation:
    """Apply every rule of ``policy`` to one invoice for ``financier`` (whose
    own registration is checked too when ``financier_party`` is given).

    Multi-tier: ``supplier`` is the seller, the receivable's holder (of a part, the
    tier-2 supplier it was paid to: its own KYC and supplier limit apply), and
    ``buyer`` the root's buyer (every part has it), so the buyer's grade, credit line
    and concentration apply through the tree. ``dilution`` is the seller's credit-note
    history (None: none). ``deployment_grace`` is the deployment's grace period in
    seconds as indexed at the decision's block (None: not known), for the financing's
    terms (:func:`rule_terms`). A Split node is declined by one rule,
    ``not_split``, which names its parts: they are quoted, not it."""
    if invoice.status == "Split":
        return Evaluation(False, (rule_not_split(invoice),), None, None, stats)
    rules = eligibility_rules(invoice, supplier, buyer, policy, as_of, dilution)
    if financier_party is not None:
        rules.insert(5, rule_kyc("financier", financier_party, as_of))
    graded = grade_buyer(stats, policy)
    rules.append(rule_grade(graded))
    m = Money(invoice.currency, invoice.decimals)
    quoted: Price | None = None
    if graded.grade is not None:
        days = max(0, tenor_days(invoice, as_of))
        quoted = price(
            invoice.outstanding,
            days,
            advance_rate=graded.grade.advance_rate,
            base_rate=policy.pricing.base_rate,
            spread=graded.grade.spread,
            day_count=policy.pricing.day_count,
            fee_fixed_units=major_to_minor_ceil(policy.pricing.fee_fixed, invoice.decimals),
            fee_rate=policy.pricing.fee_rate,
        )
        rules.append(rule_price(quoted, m))
        rules.append(rule_not_self_financing(invoice, financier))
        # A price that pays nothing fails on its own; the consent rule then only checks the listing.
        net = quoted.net_advance if quoted.net_advance > 0 else None
        rules.append(rule_consent(invoice, financier, net, as_of, policy.pricing.recourse))
    else:
        rules.append(RuleResult("price", {}, FAIL, "no price without a buyer grade"))
        rules.append(rule_not_self_financing(invoice, financier))
        rules.append(rule_consent(invoice, financier, None, as_of, policy.pricing.recourse))
    rules.append(rule_terms(policy, deployment_grace))
    # The limits count what the financier would be due: the gross advance priced (no price: the open amount).
    rules.extend(
        limit_rules(
            invoice, exposure, lines_for(policy, invoice, supplier, buyer), None if quoted is None else quoted.advance
        )
    )
    approved = all(r.passed for r in rules)
    return Evaluation(approved, tuple(rules), quoted, None if graded.grade is None else graded.grade.name, stats)
