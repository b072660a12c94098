"""The compiler: artifact cache by content hash, solc's own error messages,
the solc-js adapter, and a clear error when no compiler can be run.

One test compiles the real contracts in a fresh home (~5 s); the others start
from a copy of the artifacts the test session cached, or need no full compile.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import solcx
from solcx.wrapper import get_version_str_from_solc_binary

from ledger.config import REPO_ROOT, Settings
from ledger.errors import CompileError
from ledger.evm.compiler import (
    CONTRACTS_DIR,
    DEPLOYABLE,
    SOLCJS_ADAPTER,
    build_key,
    collect_sources,
    compile_contracts,
    compile_settings,
)

ARTIFACT_CACHE = REPO_ROOT / ".pytest_cache" / "scf-artifacts"

BROKEN = """\
// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

contract Broken {
    function f() external pure returns (uint256) {
        return 1
    }
}
"""


@pytest.fixture(autouse=True)
def _only_the_configured_compiler(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No stray $SOLC_BINARY, and py-solc-x looks for native installs in an empty folder.
    monkeypatch.delenv("SOLC_BINARY", raising=False)
    empty = tmp_path / "solcx"
    empty.mkdir()
    monkeypatch.setenv("SOLCX_BINARY_PATH", str(empty))


def settings_in(home: Path, **kw: Any) -> Settings:
    return replace(Settings(), home=home, **kw)


class CountingCompile:
    """Wraps solcx.compile_standard: counts the runs and the size of their output."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[dict[str, Any]] = []
        self.output_sizes: list[int] = []
        self._real = solcx.compile_standard
        monkeypatch.setattr(solcx, "compile_standard", self)

    def __call__(self, standard_input: dict[str, Any], **kw: Any) -> dict[str, Any]:
        self.calls.append(standard_input)
        output: dict[str, Any] = self._real(standard_input, **kw)
        self.output_sizes.append(len(json.dumps(output)))
        return output


class RefuseCompile:
    """Stands in for solcx.compile_standard where a test expects a cache hit."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[dict[str, Any]] = []
        monkeypatch.setattr(solcx, "compile_standard", self)

    def __call__(self, standard_input: dict[str, Any], **kw: Any) -> dict[str, Any]:
        self.calls.append(standard_input)
        raise AssertionError("the compiler ran")


@pytest.fixture()
def cached_home(tmp_path: Path) -> Settings:
    """A home whose artifact cache holds the current build (copied from the test
    session's cache; compiled here only if that cache is missing or stale)."""
    settings = settings_in(tmp_path / "home")
    if ARTIFACT_CACHE.exists():
        shutil.copytree(ARTIFACT_CACHE, settings.artifacts_dir)
    compile_contracts(settings)
    return settings


def test_compiler_cache_skips_second_compile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_in(tmp_path / "home")
    spy = CountingCompile(monkeypatch)

    build, ran = compile_contracts(settings)

    assert ran is True
    assert len(spy.calls) == 1
    assert set(DEPLOYABLE) <= set(build.artifacts)
    for name in DEPLOYABLE:
        # Unlinked: InvoiceToken holds placeholders for its library InvoiceNumbers (linked at deploy).
        assert re.fullmatch(r"0x(?:[0-9a-f]|__\$[0-9a-f]{34}\$__){200,}", build.artifact(name).bytecode), name
    assert build.settings["evmVersion"] == "london"
    assert spy.calls[0]["settings"]["evmVersion"] == "london"
    # The solc-js adapter hands over outputs beyond a pipe's 64 KiB whole.
    assert spy.output_sizes[0] > 64 * 1024
    assert [p.name for p in settings.artifacts_dir.iterdir()] == [f"{build.key}.json"]

    again, ran_again = compile_contracts(settings)

    assert ran_again is False
    assert len(spy.calls) == 1
    assert again == build


def test_compiler_force_recompiles(cached_home: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = RefuseCompile(monkeypatch)
    _, ran = compile_contracts(cached_home)
    assert ran is False and spy.calls == []
    with pytest.raises(AssertionError, match="the compiler ran"):
        compile_contracts(cached_home, force=True)
    assert len(spy.calls) == 1


def test_compiler_unreadable_cache_recompiles(cached_home: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    build, _ = compile_contracts(cached_home)
    (cached_home.artifacts_dir / f"{build.key}.json").write_text('{"key": "truncated')
    spy = RefuseCompile(monkeypatch)
    with pytest.raises(AssertionError, match="the compiler ran"):
        compile_contracts(cached_home)
    assert len(spy.calls) == 1


def test_compiler_key_changes_with_evm_version(cached_home: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = RefuseCompile(monkeypatch)
    london, ran = compile_contracts(cached_home)
    assert ran is False
    with pytest.raises(AssertionError, match="the compiler ran"):
        compile_contracts(replace(cached_home, evm_version="paris"))
    assert spy.calls[0]["settings"]["evmVersion"] == "paris"

    sources = collect_sources(cached_home)
    keys = {
        evm: build_key(sources, london.compiler, compile_settings(replace(cached_home, evm_version=evm)))
        for evm in ("london", "paris", "shanghai")
    }
    assert keys["london"] == london.key
    assert len(set(keys.values())) == 3


def test_compiler_key_changes_with_source(
    cached_home: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    contracts = tmp_path / "src" / "contracts"
    shutil.copytree(CONTRACTS_DIR, contracts)
    spy = RefuseCompile(monkeypatch)
    # The same sources from another directory: same unit names, same key.
    build, ran = compile_contracts(cached_home, contracts_dir=contracts)
    assert ran is False

    interface = contracts / "interfaces" / "IInvoiceToken.sol"
    interface.write_text(interface.read_text() + "\n// a comment is a change too\n")
    with pytest.raises(AssertionError, match="the compiler ran"):
        compile_contracts(cached_home, contracts_dir=contracts)
    sent = spy.calls[0]["sources"]["contracts/interfaces/IInvoiceToken.sol"]["content"]
    assert sent.endswith("// a comment is a change too\n")

    sources = collect_sources(cached_home, contracts)
    settings = compile_settings(cached_home)
    assert build_key(sources, build.compiler, settings) != build.key
    assert build_key(sources, build.compiler + "+other", settings) != build_key(sources, build.compiler, settings)


def test_compiler_collects_imported_sources() -> None:
    sources = collect_sources(Settings())
    assert "contracts/InvoiceToken.sol" in sources
    assert "contracts/interfaces/IInvoiceToken.sol" in sources
    assert "@openzeppelin/contracts/token/ERC721/ERC721.sol" in sources
    # Imports of imports (ERC721 -> IERC721 -> IERC165) are followed too.
    assert "@openzeppelin/contracts/utils/introspection/IERC165.sol" in sources
    assert list(sources) == sorted(sources)


def test_compiler_error_is_solcs_message(tmp_path: Path) -> None:
    contracts = tmp_path / "src" / "contracts"
    contracts.mkdir(parents=True)
    (contracts / "Broken.sol").write_text(BROKEN)
    settings = settings_in(tmp_path / "home")

    with pytest.raises(CompileError) as info:
        compile_contracts(settings, contracts_dir=contracts)

    assert str(info.value) == (
        "ParserError: Expected ';' but got '}'\n --> contracts/Broken.sol:7:5:\n  |\n7 |     }\n  |     ^"
    )
    assert not settings.artifacts_dir.exists()


def test_compiler_missing_import(tmp_path: Path) -> None:
    contracts = tmp_path / "src" / "contracts"
    contracts.mkdir(parents=True)
    (contracts / "A.sol").write_text('pragma solidity ^0.8.24;\nimport {B} from "./lib/B.sol";\ncontract A {}\n')
    with pytest.raises(CompileError) as info:
        compile_contracts(settings_in(tmp_path / "home"), contracts_dir=contracts)
    assert str(info.value) == (
        f"contracts/A.sol: import './lib/B.sol' not found at {tmp_path / 'src' / 'contracts' / 'lib' / 'B.sol'}; "
        "run `npm ci` or fix the import"
    )


def test_compiler_solcjs_adapter_answers_version() -> None:
    solc_js = json.loads((REPO_ROOT / "node_modules" / "solc" / "package.json").read_text())["version"]
    assert os.access(SOLCJS_ADAPTER, os.X_OK)
    done = subprocess.run([str(SOLCJS_ADAPTER), "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[0] == "solc, the solidity compiler commandline interface"
    assert re.fullmatch(rf"Version: {re.escape(solc_js)}\+commit\.[0-9a-f]+\.\S+", done.stdout.splitlines()[1])
    # py-solc-x parses it as a compiler version.
    assert re.fullmatch(rf"{re.escape(solc_js)}\+commit\.[0-9a-f]+", get_version_str_from_solc_binary(SOLCJS_ADAPTER))
    assert str(solcx.wrapper.get_solc_version(SOLCJS_ADAPTER)) == solc_js


def test_compiler_solcjs_adapter_refuses_other_flags() -> None:
    done = subprocess.run([str(SOLCJS_ADAPTER), "--bin", "x.sol"], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == "solcjs adapter: only --version and --standard-json are supported\n"


def test_compiler_solc_binary_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "bin" / "solc"
    monkeypatch.setenv("SOLC_BINARY", str(missing))
    with pytest.raises(CompileError) as info:
        compile_contracts(settings_in(tmp_path / "home"))
    assert str(info.value) == f"SOLC_BINARY points to {missing}, which does not exist; unset it or fix the path"


def test_compiler_solc_binary_not_a_compiler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "solc"
    fake.write_text("#!/bin/sh\necho 'not a compiler'\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("SOLC_BINARY", str(fake))
    with pytest.raises(CompileError) as info:
        compile_contracts(settings_in(tmp_path / "home"))
    message = str(info.value)
    assert message.startswith(f"cannot run the Solidity compiler {fake}: ")
    assert "\n" not in message


def test_compiler_no_compiler_at_all(tmp_path: Path) -> None:
    settings = settings_in(tmp_path / "home", node_modules=tmp_path / "node_modules")
    with pytest.raises(CompileError) as info:
        compile_contracts(settings)
    assert str(info.value) == (
        f"no Solidity compiler: npm package solc not found in {tmp_path / 'node_modules'}; run `npm ci`"
    )
