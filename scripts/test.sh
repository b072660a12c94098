#!/usr/bin/env bash
# Sets up what is missing, then runs the whole test suite.
# Extra arguments go to pytest (e.g. ./scripts/test.sh -k finance -x).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
./scripts/setup.sh
export PATH="$ROOT/.venv/bin:$PATH"

# One throw-away PostgreSQL for the database tests (Debian's postgresql is
# installed first if missing), shared by the pytest workers (each test creates
# its own database), and stopped by its PID when this script exits.
if [[ -z "${SCF_TEST_PG_URL:-}" ]]; then
    pg_err="$(mktemp)"
    # --watch-pid: should this script be killed before its trap runs, the server still stops.
    if pg_env="$(python scripts/pgtmp.py start --install --watch-pid $$ 2>"$pg_err")"; then
        rm -f "$pg_err"
        eval "$pg_env"
        trap 'python scripts/pgtmp.py stop --pid "$SCF_TEST_PG_PID" --dir "$SCF_TEST_PG_DIR"' EXIT
        trap 'exit 130' INT TERM
        echo "test: PostgreSQL pid $SCF_TEST_PG_PID at ${SCF_TEST_PG_URL}" >&2
    else
        reason="$(cat "$pg_err")"
        rm -f "$pg_err"
        if [[ "${CI:-}" == "true" ]]; then
            echo "test: CI=true and PostgreSQL could not be started; failing the run: $reason" >&2
            exit 1
        fi
        export SCF_TEST_PG_UNAVAILABLE="${reason:-scripts/pgtmp.py could not start PostgreSQL}"
        echo "test: PostgreSQL could not be started; its tests will be skipped: $reason" >&2
    fi
fi
python -m pytest -n 2 "$@"
