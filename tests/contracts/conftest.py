"""Fixtures of the contract-rule tests: ``net`` (the driver of ``support.contracts``),
the project's compiled contracts, and the Solidity double of this folder."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from support.contracts import Net, compile_test_contract

from ledger.evm.compiler import Build
from ledger.lifecycle import Ledger


@pytest.fixture()
def net(ledger: Ledger, acct: Callable[[str], LocalAccount]) -> Net:
    return Net(ledger, acct)


@pytest.fixture(scope="session")
def build(session_env: Any, base_deployment: object) -> Build:
    """The project's compiled contracts (from the cache the session deployment filled)."""
    from ledger.evm.compiler import compile_contracts

    return compile_contracts(session_env.settings)[0]


@pytest.fixture(scope="session")
def fee_token_artifact(session_env: Any) -> dict[str, Any]:
    """ABI and bytecode of tests/contracts/FeeOnTransferToken.sol, compiled with the
    project's compiler and settings and cached by content hash as the project does."""
    return compile_test_contract(session_env.settings, "FeeOnTransferToken")
