"""The slither gate's judgement (scripts/slither_check.py), without running slither.

`./scripts/test.sh` runs slither itself; these tests hold the rules of the gate: an
unjustified high or medium finding fails, a stale justification fails, low findings
and references to lines do not matter, and the checked-in triage file is well formed.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _module() -> object:
    spec = importlib.util.spec_from_file_location("slither_check", ROOT / "scripts" / "slither_check.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["slither_check"] = mod
    spec.loader.exec_module(mod)
    return mod


sc = _module()


def _report(*findings: tuple[str, str, str]) -> dict[str, object]:
    return {
        "success": True,
        "results": {
            "detectors": [{"check": check, "impact": impact, "description": text} for check, impact, text in findings]
        },
    }


GUARD = (
    "unused-return",
    "Medium",
    "InvoiceToken.cancel(uint256) (contracts/InvoiceToken.sol#160-170) ignores return value by "
    "registry.requireActive(msg.sender,SUPPLIER) (contracts/InvoiceToken.sol#164)\n",
)
REENTRANCY = (
    "reentrancy-eth",
    "High",
    "Reentrancy in Settlement.repay(uint256) (contracts/Settlement.sol#10-20): ...\n",
)


def _triage(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "triage.toml"
    path.write_text(body, encoding="utf-8")
    return path


GUARD_ENTRY = """
[[accepted]]
check = "unused-return"
pattern = 'ignores return value by registry\\.requireActive\\('
why = "a guard"
"""


def test_contracts_slither_triage_justified_finding_passes_whatever_its_lines(tmp_path: Path) -> None:
    entries = sc.load_triage(_triage(tmp_path, GUARD_ENTRY))
    moved = (GUARD[0], GUARD[1], GUARD[2].replace("#164", "#999").replace("#160-170", "#990-1000"))
    assert sc.judge(sc.findings_of(_report(GUARD)), entries) == ([], [])
    assert sc.judge(sc.findings_of(_report(moved)), entries) == ([], [])


def test_contracts_slither_triage_unjustified_high_finding_fails(tmp_path: Path) -> None:
    entries = sc.load_triage(_triage(tmp_path, GUARD_ENTRY))
    unjustified, stale = sc.judge(sc.findings_of(_report(GUARD, REENTRANCY)), entries)
    assert [f.check for f in unjustified] == ["reentrancy-eth"]
    assert unjustified[0].where == "contracts/Settlement.sol#10-20"
    assert stale == []


def test_contracts_slither_triage_stale_entry_fails(tmp_path: Path) -> None:
    entries = sc.load_triage(_triage(tmp_path, GUARD_ENTRY))
    assert sc.judge([], entries) == ([], entries)


def test_contracts_slither_triage_low_findings_are_not_gated() -> None:
    assert sc.findings_of(_report(("naming-convention", "Low", "x (a.sol#1)"))) == []


def test_contracts_slither_triage_main_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    report = tmp_path / "report.json"
    report.write_text(json.dumps(_report(GUARD, REENTRANCY)), encoding="utf-8")
    triage = _triage(tmp_path, GUARD_ENTRY)
    assert sc.main(["--report", str(report), "--triage", str(triage)]) == 1
    err = capsys.readouterr().err
    assert "slither: unjustified high finding [reentrancy-eth] Reentrancy in Settlement.repay(uint256)" in err
    report.write_text(json.dumps(_report(GUARD)), encoding="utf-8")
    assert sc.main(["--report", str(report), "--triage", str(triage)]) == 0


def test_contracts_slither_triage_entry_without_a_reason_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="entry 1 lacks why"):
        sc.load_triage(_triage(tmp_path, GUARD_ENTRY.replace('why = "a guard"', 'why = " "')))


def test_contracts_slither_triage_checked_in_file_is_well_formed() -> None:
    entries = sc.load_triage(ROOT / "contracts" / "slither-triage.toml")
    assert len(entries) >= 5
    assert all(len(e.why) > 80 for e in entries), "each justification says why, in full"
