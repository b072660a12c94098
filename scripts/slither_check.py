"""Static analysis of the contracts with slither; fails on any unjustified finding.

Runs slither (its own venv, `.venv-slither`, made by scripts/setup.sh: slither needs
web3 7 and the project pins web3 8) over `contracts/` through the project's solc-js
adapter, keeps the high and medium findings, and holds each one against the
checked-in triage file `contracts/slither-triage.toml`. The run fails when

- a high or medium finding matches no triage entry (fix the code, or justify it
  in the triage file with a reason a reviewer can check), or
- a triage entry matches no finding any more (a stale justification hides nothing
  and must go, so the file stays a true list).

A triage entry names the detector and a regular expression searched in the finding's
description with its `(file#lines)` references removed, so an entry survives lines
moving but not the code it justifies changing shape.

Example:
    .venv-slither/bin/python scripts/slither_check.py
    .venv-slither/bin/python scripts/slither_check.py --json-out /tmp/slither.json
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TRIAGE = ROOT / "contracts" / "slither-triage.toml"
SOURCE_REF = re.compile(r"\s*\([^()]*#[\d-]+\)")
GATED = ("High", "Medium")


@dataclass(frozen=True)
class Finding:
    check: str
    impact: str
    text: str  # the description without (file#lines) references
    where: str  # the first source reference, for the message

    @property
    def dependency(self) -> bool:
        return self.where.startswith("node_modules/")


@dataclass(frozen=True)
class Entry:
    check: str
    pattern: re.Pattern[str]
    why: str


def findings_of(report: dict[str, object]) -> list[Finding]:
    """The high and medium findings of a slither `--json` report."""
    results = report.get("results") or {}
    detectors = results.get("detectors", []) if isinstance(results, dict) else []
    found = []
    for d in detectors:
        if d["impact"] not in GATED:
            continue
        description = " ".join(d["description"].split())
        refs = re.findall(r"\(([^()]*#[\d-]+)\)", description)
        found.append(
            Finding(
                check=d["check"],
                impact=d["impact"],
                text=SOURCE_REF.sub("", description).strip(),
                where=refs[0] if refs else "?",
            )
        )
    return found


def load_triage(path: Path) -> list[Entry]:
    """The triage file's entries; each needs a detector, a pattern and a reason."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    entries = []
    for i, raw in enumerate(data.get("accepted", []), start=1):
        missing = [k for k in ("check", "pattern", "why") if not str(raw.get(k, "")).strip()]
        if missing:
            raise SystemExit(f"slither: {path.name} entry {i} lacks {', '.join(missing)}")
        entries.append(Entry(raw["check"], re.compile(raw["pattern"]), raw["why"].strip()))
    return entries


def judge(found: list[Finding], entries: list[Entry]) -> tuple[list[Finding], list[Entry]]:
    """(findings no entry justifies, entries that justify nothing)."""
    used: set[int] = set()
    unjustified = []
    for f in found:
        hits = [i for i, e in enumerate(entries) if e.check == f.check and e.pattern.search(f.text)]
        if hits:
            used.update(hits)
        else:
            unjustified.append(f)
    stale = [e for i, e in enumerate(entries) if i not in used]
    return unjustified, stale


def run_slither(json_out: Path) -> dict[str, object]:
    slither = Path(sys.executable).with_name("slither")
    cmd = [
        str(slither),
        "contracts",
        "--solc",
        str(ROOT / "ledger" / "tools" / "solcjs.cjs"),
        "--solc-standard-json",
        "--solc-remaps",
        "@openzeppelin/=node_modules/@openzeppelin/",
        "--exclude-informational",
        "--exclude-low",
        "--exclude-optimization",
        "--json",
        str(json_out),
    ]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if not json_out.exists() or json_out.stat().st_size == 0:
        tail = " ".join(done.stderr.strip().splitlines()[-3:])
        raise SystemExit(f"slither: no report (exit {done.returncode}): {tail}")
    report: dict[str, object] = json.loads(json_out.read_text(encoding="utf-8"))
    if not report.get("success", False):
        raise SystemExit(f"slither: the analysis failed: {report.get('error')}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json-out", type=Path, help="keep slither's JSON report here")
    parser.add_argument("--report", type=Path, help="judge this saved report; don't run slither")
    parser.add_argument("--triage", type=Path, default=TRIAGE)
    args = parser.parse_args(argv)
    if args.report:
        report = json.loads(args.report.read_text(encoding="utf-8"))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            out = args.json_out or Path(tmp) / "slither.json"
            out.unlink(missing_ok=True)
            report = run_slither(out)
    found = findings_of(report)
    unjustified, stale = judge(found, load_triage(args.triage))
    triage = args.triage.resolve()
    rel = triage.relative_to(ROOT) if triage.is_relative_to(ROOT) else triage
    for f in unjustified:
        print(
            f"slither: unjustified {f.impact.lower()} finding [{f.check}] {f.text} ({f.where}):"
            f" fix it, or justify it in {rel}",
            file=sys.stderr,
        )
    for e in stale:
        print(
            f"slither: {rel} justifies [{e.check}] /{e.pattern.pattern}/, which slither no"
            " longer finds: remove the entry",
            file=sys.stderr,
        )
    project = [f for f in found if not f.dependency]
    high = sum(f.impact == "High" for f in project)
    print(
        f"slither: {len(project)} high/medium findings in project code ({high} high),"
        f" {len(found) - len(project)} in OpenZeppelin;"
        f" {len(found) - len(unjustified)} justified in {rel}, {len(unjustified)} not",
        file=sys.stderr,
    )
    return 1 if unjustified or stale else 0


if __name__ == "__main__":
    sys.exit(main())
