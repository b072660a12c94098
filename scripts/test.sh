#!/usr/bin/env bash
# Sets up what is missing, then runs the whole test suite.
# Extra arguments go to pytest (e.g. ./scripts/test.sh -k finance -x).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
./scripts/setup.sh
export PATH="$ROOT/.venv/bin:$PATH"
exec python -m pytest -n 2 "$@"
