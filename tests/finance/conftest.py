"""Fixtures of the financing tests: the decision ``desk`` on each database
backend and the ``book`` that drives the chain (``support.finance``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from support.finance import Book


@pytest.fixture()
def desk(chain: Any, ledger: Any, db_url: str) -> Any:
    from ledger.finance.service import Desk

    return Desk(replace(chain.settings, db_url=db_url), ledger)


@pytest.fixture()
def book(ledger: Any, acct: Any) -> Book:
    return Book(ledger, acct)
