"""Compile ``contracts/`` with py-solc-x, caching artifacts by content hash.

The cache key is a hash of every source (ours and the imported OpenZeppelin
files), the compiler's version and the settings, so a second compile with
nothing changed never starts the compiler. A native solc is preferred where
one exists (``SOLC_BINARY``, or a version py-solc-x has installed); otherwise
the npm solc-js compiler runs through ``ledger/tools/solcjs.cjs``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.config import REPO_ROOT, Settings
from ledger.errors import CompileError

CONTRACTS_DIR = REPO_ROOT / "contracts"
SOLCJS_ADAPTER = Path(__file__).resolve().parent.parent / "tools" / "solcjs.cjs"
#: Contracts that get deployed (the rest are interfaces), the linked libraries included.
DEPLOYABLE = (
    "ParticipantRegistry",
    "InvoiceNumbers",
    "Settlement",
    "Remedies",
    "Intake",
    "InvoiceToken",
    "SettlementToken",
)

_IMPORT_RE = re.compile(r'^\s*import\s+(?:[^"\']*from\s+)?["\']([^"\']+)["\']', re.MULTILINE)


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list[dict[str, Any]]
    bytecode: str
    compiler: str
    settings_hash: str


@dataclass(frozen=True)
class Build:
    """The result of one compilation: artifacts by contract name."""

    key: str
    compiler: str
    settings: dict[str, Any]
    artifacts: dict[str, Artifact]

    def artifact(self, name: str) -> Artifact:
        return self.artifacts[name]

    def all_abis(self) -> list[list[dict[str, Any]]]:
        return [a.abi for a in self.artifacts.values()]


def solc_binary(settings: Settings) -> Path:
    """The compiler to use: $SOLC_BINARY, a py-solc-x install, or solc-js."""
    env = os.environ.get("SOLC_BINARY")
    if env:
        path = Path(env)
        if not path.exists():
            raise CompileError(f"SOLC_BINARY points to {env}, which does not exist; unset it or fix the path")
        return path
    try:
        import solcx

        installed = solcx.get_installed_solc_versions()
        if installed:
            return Path(solcx.get_executable(max(installed)))  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - no usable py-solc-x install; fall back to solc-js
        pass
    if not (settings.node_modules / "solc").is_dir():
        raise CompileError(f"no Solidity compiler: npm package solc not found in {settings.node_modules}; run `npm ci`")
    if shutil.which("node") is None:
        raise CompileError("no Solidity compiler: Node.js (`node`) is needed for solc-js; install nodejs")
    return SOLCJS_ADAPTER


def compiler_version(binary: Path, settings: Settings) -> str:
    from solcx.wrapper import get_version_str_from_solc_binary

    _ensure_adapter_env(settings)
    try:
        return get_version_str_from_solc_binary(binary)
    except Exception as exc:  # noqa: BLE001
        raise CompileError(f"cannot run the Solidity compiler {binary}: {exc}") from exc


def _ensure_adapter_env(settings: Settings) -> None:
    os.environ.setdefault("SCF_NODE_MODULES", str(settings.node_modules))


def _resolve_import(name: str, importer: str, settings: Settings, root: Path = REPO_ROOT) -> tuple[str, Path]:
    if name.startswith("."):
        unit = os.path.normpath(os.path.join(os.path.dirname(importer), name))
    else:
        unit = name
    if unit.startswith("@"):
        path = settings.node_modules / unit
    else:
        path = root / unit
    if not path.exists():
        raise CompileError(f"{importer}: import {name!r} not found at {path}; run `npm ci` or fix the import")
    return unit, path


def collect_sources(settings: Settings, contracts_dir: Path = CONTRACTS_DIR) -> dict[str, str]:
    """Our sources plus every file they import, by source unit name."""
    sources: dict[str, str] = {}
    # Source unit names are relative to the directory that holds contracts/.
    root = contracts_dir.parent
    pending = [(str(p.relative_to(root)), p) for p in sorted(contracts_dir.rglob("*.sol"))]
    if not pending:
        raise CompileError(f"no Solidity sources in {contracts_dir}")
    while pending:
        unit, path = pending.pop()
        if unit in sources:
            continue
        text = path.read_text()
        sources[unit] = text
        for imported in _IMPORT_RE.findall(text):
            pending.append(_resolve_import(imported, unit, settings, root))
    return dict(sorted(sources.items()))


def compile_settings(settings: Settings) -> dict[str, Any]:
    return {
        "optimizer": {"enabled": True, "runs": settings.optimizer_runs},
        "evmVersion": settings.evm_version,
        "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
    }


def build_key(sources: dict[str, str], compiler: str, solc_settings: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(compiler.encode())
    digest.update(json.dumps(solc_settings, sort_keys=True).encode())
    for unit, text in sources.items():
        digest.update(unit.encode() + b"\0" + hashlib.sha256(text.encode()).digest())
    return digest.hexdigest()


def _load_cached(path: Path) -> Build | None:
    try:
        data = json.loads(path.read_text())
        artifacts = {n: Artifact(**a) for n, a in data["artifacts"].items()}
        return Build(data["key"], data["compiler"], data["settings"], artifacts)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def compile_contracts(
    settings: Settings,
    force: bool = False,
    contracts_dir: Path = CONTRACTS_DIR,
    required: tuple[str, ...] = DEPLOYABLE,
) -> tuple[Build, bool]:
    """Compile (or load from cache). Returns the build and whether solc ran.
    Another ``contracts_dir`` (test doubles, benchmark contracts) compiles the
    same way; ``required`` names the contracts the build must contain."""
    binary = solc_binary(settings)
    version = compiler_version(binary, settings)
    sources = collect_sources(settings, contracts_dir)
    solc_settings = compile_settings(settings)
    key = build_key(sources, version, solc_settings)
    cache = settings.artifacts_dir / f"{key}.json"
    if not force and cache.exists():
        cached = _load_cached(cache)
        if cached is not None:
            return cached, False
    build = _run_solc(binary, version, sources, solc_settings, key, f"{contracts_dir.name}/", required)
    settings.artifacts_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(
        json.dumps(
            {
                "key": build.key,
                "compiler": build.compiler,
                "settings": build.settings,
                "artifacts": {n: a.__dict__ for n, a in build.artifacts.items()},
            }
        )
    )
    tmp.replace(cache)
    return build, True


def _run_solc(
    binary: Path,
    version: str,
    sources: dict[str, str],
    solc_settings: dict[str, Any],
    key: str,
    prefix: str = "contracts/",
    required: tuple[str, ...] = DEPLOYABLE,
) -> Build:
    import solcx
    from solcx.exceptions import SolcError

    standard_input = {
        "language": "Solidity",
        "sources": {unit: {"content": text} for unit, text in sources.items()},
        "settings": solc_settings,
    }
    try:
        output = solcx.compile_standard(standard_input, solc_binary=binary, base_path=str(REPO_ROOT))
    except SolcError as exc:
        raise CompileError(_formatted_errors(exc) or str(exc).splitlines()[0]) from exc
    settings_hash = hashlib.sha256(json.dumps(solc_settings, sort_keys=True).encode()).hexdigest()
    artifacts: dict[str, Artifact] = {}
    for unit, contracts in output.get("contracts", {}).items():
        if not unit.startswith(prefix):
            continue
        for name, data in contracts.items():
            artifacts[name] = Artifact(
                name=name,
                abi=data["abi"],
                bytecode="0x" + data["evm"]["bytecode"]["object"],
                compiler=version,
                settings_hash=settings_hash,
            )
    missing = [n for n in required if n not in artifacts]
    if missing:
        raise CompileError(f"compilation produced no {', '.join(missing)}; check {prefix}")
    return Build(key, version, solc_settings, artifacts)


def _formatted_errors(exc: Exception) -> str:
    """solc's own formatted messages (file, line, caret) from a failed compile."""
    stdout = getattr(exc, "stdout_data", None)
    if not stdout:
        return ""
    try:
        errors = json.loads(stdout).get("errors", [])
    except ValueError:
        return ""
    return "\n".join(e["formattedMessage"].rstrip() for e in errors if e.get("severity") == "error")
