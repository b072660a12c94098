"""Foundry invariant tests of the whole contract system (``foundry/``), run offline by the npm
forge through the project's solc-js adapter: the seven invariants hold over random operation
(at least 10,000 handler calls in the fast profile, 200,000 with SCF_LONG=1), and broken
variants of the system make the right invariant fail, so the suite can fail.

forge runs as a subprocess on ``forge test --json``; its build, cache and failure records go
to the test's temporary directory (never into the work tree). The fast profile compiles once;
the (slow) source mutants compile each their own copy of the contracts."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger.config import REPO_ROOT

FORGE = REPO_ROOT / "node_modules" / "@foundry-rs" / "forge-linux-amd64" / "bin" / "forge"
LONG = os.environ.get("SCF_LONG") == "1"
#: foundry/foundry.toml's profiles: default (CI) and long.
PROFILE = "long" if LONG else "default"
#: The handler calls a profile must make, over all the campaigns together (forge's count).
MIN_CALLS = 200_000 if LONG else 10_000
#: The fast profile replays the same sequences in every run (as the project's other property
#: tests do); SCF_FORGE_SEED picks another; the long profile draws one and prints it.
FAST_SEED = 0x5CF18
SUITE = "SystemInvariantsTest"
INVARIANTS = (
    "invariant_settlement_token_balances_conserved",
    "invariant_each_receivable_financed_at_most_once",
    "invariant_statuses_move_only_along_allowed_transitions",
    "invariant_split_tree_leaves_sum_to_root",
    "invariant_no_one_paid_more_than_due",
    "invariant_only_authorised_roles_change_anything",
    "invariant_nothing_changes_while_paused",
)
#: SystemHandler's operations (SystemHandler.selectors()): each must be called in a campaign.
HANDLER_OPS = (
    *("issue", "importBatch", "confirm", "confirmBatch", "confirmSigned", "revokeNonce", "cancel"),
    *("offer", "withdrawOffer", "finance", "repay", "repayRoot", "split", "transfer", "approve", "transferFrom"),
    *("dispute", "withdrawDispute", "creditNote", "proposeExtension", "acceptExtension", "declareDefault"),
    *("writeOff", "buyBack", "pause", "unpause", "warp", "setParticipant", "suspend", "fund", "attack"),
)
TIMEOUT = 3 * 3600 if LONG else 600

pytestmark = pytest.mark.skipif(not FORGE.exists(), reason=f"forge is not installed at {FORGE}; run `npm ci`")


def _seed() -> int:
    if os.environ.get("SCF_FORGE_SEED"):
        return int(os.environ["SCF_FORGE_SEED"], 0)
    return random.SystemRandom().randrange(2**32) if LONG else FAST_SEED


def _forge(
    root: Path, work: Path, *args: str, profile: str = PROFILE, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``forge <args>`` on the project at ``root`` (its foundry/foundry.toml) with its
    build, compile cache and failure records under ``work``."""
    environ = {
        **os.environ,
        "FOUNDRY_CONFIG": str(root / "foundry" / "foundry.toml"),
        "FOUNDRY_PROFILE": profile,
        "FOUNDRY_OUT": str(work / "out"),
        "FOUNDRY_CACHE_PATH": str(work / "cache"),
        "FOUNDRY_INVARIANT_FAILURE_PERSIST_DIR": str(work / "invariant"),
        "FOUNDRY_FUZZ_FAILURE_PERSIST_DIR": str(work / "fuzz"),
        "FOUNDRY_TEST_FAILURES_FILE": str(work / "test-failures"),
        # The adapter finds solc-js in the repository's node_modules (a mutant's root has none).
        "SCF_NODE_MODULES": str(REPO_ROOT / "node_modules"),
        **(env or {}),
    }
    proc = subprocess.run(
        [str(FORGE), *args, "--root", str(root)],
        cwd=root,
        env=environ,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    if args[0] == "build" and proc.returncode != 0:
        pytest.fail(f"forge build failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
    return proc


def _campaigns(proc: subprocess.CompletedProcess[str], contract: str) -> dict[str, dict[str, Any]]:
    """forge's --json results of ``contract``: test name (without "()") -> result."""
    try:
        results = json.loads(proc.stdout)
    except ValueError:
        pytest.fail(f"forge printed no JSON results (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
    for name, suite in results.items():
        if name.endswith(f":{contract}"):
            return {test.removesuffix("()"): result for test, result in suite["test_results"].items()}
    pytest.fail(f"forge ran no suite {contract}; it ran {sorted(results)}")


def _reason(result: dict[str, Any]) -> str:
    """A failed campaign's reason, as the invariant put it (forge prefixes one that already
    fails on the state setUp built)."""
    return str(result.get("reason") or "").removeprefix("failed to set up invariant testing environment: ")


def _why(result: dict[str, Any]) -> str:
    """A failed campaign's reason and the call sequence that broke it."""
    lines = [f"  reason: {_reason(result)}"]
    sequence = ((result.get("counterexample") or {}).get("Sequence") or [0, []])[1]
    lines += [f"    {call['func_name']}({call['args']})" for call in sequence]
    return "\n".join(lines)


def test_contracts_invariants_forge_hold_over_random_operation(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Every invariant holds over the profile's random campaigns (each its own campaign),
    forge counted at least MIN_CALLS handler calls, the handler never reverted (every
    refusal is caught and counted, so a revert is a handler or system fault), and every
    handler operation was called.

    And the suite can fail: over a settlement token that burns a minor unit from the payer
    on every transfer (foundry/test/mutants/LeakyTokenMutant.t.sol; the payee still gets the
    amount, so the contracts' received-amount check passes), forge reports the conservation
    invariant FAILED, for that reason. (One test on one build: a second test would compile
    again, or wait on another xdist worker's build.)"""
    started = time.monotonic()
    _forge(REPO_ROOT, tmp_path, "build")
    compile_s = time.monotonic() - started
    seed = _seed()
    proc = _forge(REPO_ROOT, tmp_path, "test", "--json", "--match-contract", f"^{SUITE}$", "--fuzz-seed", str(seed))
    run_s = time.monotonic() - started - compile_s
    campaigns = _campaigns(proc, SUITE)

    assert sorted(campaigns) == sorted(INVARIANTS)
    failed = {name: r for name, r in campaigns.items() if r["status"] != "Success"}
    assert not failed, f"forge seed {seed}: invariants failed:\n" + "\n".join(
        f"{name}\n{_why(r)}" for name, r in failed.items()
    )
    stats = {name: r["kind"]["Invariant"] for name, r in campaigns.items()}
    calls = sum(s["calls"] for s in stats.values())
    reverts = {name: s["reverts"] for name, s in stats.items() if s["reverts"]}
    assert not reverts, f"the handler reverted (it must catch every refusal): {reverts}"
    called = {op.rsplit(".", 1)[-1] for s in stats.values() for op, m in s["metrics"].items() if m["calls"]}
    assert sorted(set(HANDLER_OPS) - called) == []
    # Shown with -s (without xdist) or -rP.
    print(
        f"forge invariants ({PROFILE} profile, seed {seed}): {calls} handler calls over "
        f"{len(stats)} campaigns, run {run_s:.1f} s + compile {compile_s:.1f} s"
    )
    request.node.user_properties.append(("operations", calls))  # shown at the end of the run (conftest)
    assert calls >= MIN_CALLS, f"{calls} handler calls; the {PROFILE} profile must make at least {MIN_CALLS}"

    leak = "invariant_settlement_token_balances_conserved"
    proc = _forge(
        REPO_ROOT,
        tmp_path,
        "test",
        "--json",
        "--match-contract",
        "^LeakyTokenMutantTest$",
        "--match-test",
        rf"^{leak}\(\)$",
        "--fuzz-seed",
        str(FAST_SEED),
        profile="default",
        # foundry.toml leaves mutants out of ordinary runs.
        env={"FOUNDRY_NO_MATCH_CONTRACT": "^NoSuchContract$"},
    )
    result = _campaigns(proc, "LeakyTokenMutantTest")[leak]
    assert result["status"] == "Failure", "the conservation invariant did not see the leaky token"
    assert _reason(result).startswith("conservation: total supply != minted"), _why(result)


@dataclass(frozen=True)
class Mutant:
    """A broken copy of the contracts: ``edits`` (file, text, replacement) each apply once;
    forge must report ``invariant`` FAILED with a reason starting ``reason``."""

    name: str
    invariant: str
    reason: str
    edits: tuple[tuple[str, str, str], ...]


#: One mutant per invariant, each a bug the invariant exists to catch.
MUTANTS = (
    Mutant(
        "every payment skims a minor unit from the payer",
        "invariant_settlement_token_balances_conserved",
        "conservation:",
        (
            (
                "contracts/Settlement.sol",
                "        token.safeTransferFrom(from, to, amount);\n",
                "        token.safeTransferFrom(from, to, amount);\n"
                "        if (amount > 1) token.safeTransferFrom(from, address(0xdead), 1);\n",
            ),
        ),
    ),
    Mutant(
        "a financed receivable can be listed and financed again",
        "invariant_each_receivable_financed_at_most_once",
        "financ",
        (
            (
                "contracts/InvoiceToken.sol",
                "        if (r.seller != address(0)) revert InvoiceAlreadyFinanced(invoiceId, r.seller);\n"
                "        Settlement.requireFinanceable(invoiceId, r.status);\n",
                "        Settlement.requireFinanceable(invoiceId, r.status);\n",
            ),
            (
                "contracts/Settlement.sol",
                "        if (r.seller != address(0)) revert IInvoiceToken.InvoiceAlreadyFinanced("
                "invoiceId, r.seller);\n",
                "",
            ),
        ),
    ),
    Mutant(
        "an open receivable can be written off without a default",
        "invariant_statuses_move_only_along_allowed_transitions",
        "transition not allowed",
        (
            (
                "contracts/Remedies.sol",
                "        _requireHolder(invoiceId, holder);\n"
                "        if (r.status != IInvoiceToken.Status.Defaulted) {\n",
                "        _requireHolder(invoiceId, holder);\n"
                "        if (r.status != IInvoiceToken.Status.Defaulted && !ReceivableRules.isOpen(r.status)) {\n",
            ),
        ),
    ),
    Mutant(
        "a split's parts may sum to less than the open amount",
        "invariant_split_tree_leaves_sum_to_root",
        "tree:",
        (("contracts/InvoiceToken.sol", "if (bad || sum != outstanding)", "if (bad || sum > outstanding)"),),
    ),
    Mutant(
        "the waterfall pays the financier side beyond its due",
        "invariant_no_one_paid_more_than_due",
        "payments:",
        (("contracts/Settlement.sol", "            if (b.toHolder > owed) b.toHolder = owed;\n", ""),),
    ),
    Mutant(
        "any active participant may finance, not only financiers",
        "invariant_only_authorised_roles_change_anything",
        "authority:",
        (
            (
                "contracts/Settlement.sol",
                "        registry.requireActive(msg.sender, FINANCIER);\n",
                "        registry.requireActive(msg.sender, 0);\n",
            ),
        ),
    ),
    Mutant(
        "repayment works while paused",
        "invariant_nothing_changes_while_paused",
        "pause:",
        (
            (
                "contracts/InvoiceToken.sol",
                "function repay(uint256 invoiceId, uint256 amount) external whenNotPaused nonReentrant {",
                "function repay(uint256 invoiceId, uint256 amount) external nonReentrant {",
            ),
        ),
    ),
)


def test_contracts_invariants_forge_mutants_still_apply() -> None:
    """Each mutant's text is in today's contracts exactly once (else the slow mutant tests
    would break nothing and prove nothing), and there is one mutant per invariant."""
    assert sorted(m.invariant for m in MUTANTS) == sorted(INVARIANTS)
    for mutant in MUTANTS:
        for file, text, _ in mutant.edits:
            assert (REPO_ROOT / file).read_text().count(text) == 1, f"{mutant.name}: {file} no longer has {text!r}"


def _mutant_root(mutant: Mutant, root: Path) -> None:
    """A copy of the project at ``root`` with ``mutant``'s edits: contracts/, foundry/ (not its
    build), the adapter, and OpenZeppelin (copied, not linked: forge follows links out of the
    root and then names the same file twice)."""
    shutil.copytree(REPO_ROOT / "contracts", root / "contracts")
    shutil.copytree(REPO_ROOT / "foundry", root / "foundry", ignore=shutil.ignore_patterns("out", "cache"))
    (root / "ledger" / "tools").mkdir(parents=True)
    shutil.copy2(REPO_ROOT / "ledger" / "tools" / "solcjs.cjs", root / "ledger" / "tools" / "solcjs.cjs")
    openzeppelin = Path("node_modules") / "@openzeppelin" / "contracts"
    shutil.copytree(REPO_ROOT / openzeppelin, root / openzeppelin)
    for file, text, replacement in mutant.edits:
        path = root / file
        source = path.read_text()
        assert source.count(text) == 1, f"{mutant.name}: {file} no longer has {text!r}"
        path.write_text(source.replace(text, replacement))


@pytest.mark.slow
@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.invariant.removeprefix("invariant_") for m in MUTANTS])
def test_contracts_invariants_forge_catch_each_mutant(mutant: Mutant, tmp_path: Path) -> None:
    """Each invariant catches the bug it exists for: over a mutated copy of the contracts,
    forge reports that invariant FAILED, for its reason. (Each compiles the contracts again,
    about 15 s of CPU, so they run with the long profile only.)"""
    root = tmp_path / "root"
    _mutant_root(mutant, root)
    proc = _forge(
        root,
        tmp_path / "work",
        "test",
        "--json",
        "--match-contract",
        f"^{SUITE}$",
        "--match-test",
        rf"^{mutant.invariant}\(\)$",
        "--fuzz-seed",
        str(_seed()),
        # Only the failure matters here, not the shortest sequence to it.
        env={"FOUNDRY_INVARIANT_SHRINK_RUN_LIMIT": "100"},
    )
    result = _campaigns(proc, SUITE)[mutant.invariant]
    assert result["status"] == "Failure", f"{mutant.name}: {mutant.invariant} did not fail"
    assert _reason(result).startswith(mutant.reason), f"{mutant.name}:\n{_why(result)}"
    print(f"{mutant.name}: {mutant.invariant} FAILED as it should:\n{_why(result)}")
