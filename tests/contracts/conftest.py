"""Fixtures of the contract-rule tests: ``net`` (the driver of ``support.contracts``),
the project's compiled contracts, and the Solidity double of this folder."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from support.contracts import ARTIFACT_CACHE, TEST_CONTRACTS_DIR, Net

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
    import solcx

    from ledger.evm.compiler import build_key, collect_sources, compile_settings, compiler_version, solc_binary

    settings = session_env.settings
    binary = solc_binary(settings)
    version = compiler_version(binary, settings)
    sources = collect_sources(settings, TEST_CONTRACTS_DIR)
    solc_settings = compile_settings(settings)
    key = build_key(sources, version, solc_settings)
    cache = ARTIFACT_CACHE / f"test-contracts-{key}.json"
    if cache.exists():
        return dict(json.loads(cache.read_text()))
    output = solcx.compile_standard(
        {
            "language": "Solidity",
            "sources": {unit: {"content": text} for unit, text in sources.items()},
            "settings": solc_settings,
        },
        solc_binary=binary,
        base_path=str(TEST_CONTRACTS_DIR.parent),
    )
    data = output["contracts"]["contracts/FeeOnTransferToken.sol"]["FeeOnTransferToken"]
    artifact = {"abi": data["abi"], "bytecode": "0x" + data["evm"]["bytecode"]["object"]}
    ARTIFACT_CACHE.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(artifact))
    tmp.replace(cache)
    return artifact
