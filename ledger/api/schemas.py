"""The shapes the API answers with (its OpenAPI schema).

Money is an exact decimal string in the currency's major units (never a
float), dates ``YYYY-MM-DD`` business dates, times ISO 8601 with offset,
parties ``{"address", "name"}``. The records are the read side's own
(:mod:`ledger.queries`, :mod:`ledger.finance`), so the API, the CLI's
``--json`` and the dashboard cannot disagree; the models declare the fields
clients rely on and allow the rest.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MONEY = r"^-?[0-9]+(\.[0-9]+)?$"


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Party(BaseModel):
    address: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", examples=["0x70997970C51812dc3A010C7d01b50e0d17dc79C8"])
    name: str | None = Field(examples=["Kowloon Precision Parts Ltd"])


class ProblemDoc(_Open):
    """RFC 9457 problem details."""

    type: str = Field(examples=["/problems/not-found"])
    title: str
    status: int
    detail: str
    instance: str


class Health(BaseModel):
    status: str = Field(examples=["ok"])


class IndexStatus(_Open):
    chain_id: int
    block: int | None
    head: int | None
    behind: int | None
    block_time: str | None = Field(description="The last indexed block's time (ISO 8601).")
    lag_seconds: float | None = Field(description="Seconds between the last indexed block's time and now.")
    events: int


class Me(BaseModel):
    key_id: str
    kind: str = Field(description="participant or operator")
    party: Party | None
    name: str
    roles: list[str]
    sees_all: bool


class Invoice(_Open):
    invoice_id: int
    number: str | None
    status: str
    supplier: Party | None
    buyer: Party | None
    holder: Party | None
    financier: Party | None
    seller: Party | None
    currency: str = Field(examples=["HKD"])
    amount: str = Field(pattern=MONEY, examples=["125000.00"])
    paid: str = Field(pattern=MONEY)
    outstanding: str = Field(pattern=MONEY)
    due: str = Field(examples=["2027-01-31"])
    root_id: int
    parent_id: int | None
    depth: int


class InvoicePage(BaseModel):
    items: list[Invoice]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class InvoiceDetail(_Open):
    invoice_id: int
    number: str | None
    status: str
    currency: str
    amount: str = Field(pattern=MONEY)
    outstanding: str = Field(pattern=MONEY)
    history: list[dict[str, Any]]
    tree: dict[str, Any] | None = Field(description="The multi-tier tree it belongs to (null for a lone invoice).")


class Participant(_Open):
    name: str
    address: str
    roles: list[str]
    kyc_until: str | None
    suspended: bool
    active: bool


class Decision(_Open):
    decision_id: int | None
    invoice_id: int
    status: str
    financier: Party | None


class EventRecord(_Open):
    block: int | None = None
    event: str | None = None


#: The error responses every endpoint declares (the app's schema makes them problem+json).
PROBLEMS: dict[int | str, dict[str, Any]] = {code: {"model": ProblemDoc} for code in (400, 401, 403, 404, 503)}
