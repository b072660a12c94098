#!/usr/bin/env bash
# Sets up what is missing, then runs the static checks and the whole test suite.
# Extra arguments go to pytest (e.g. ./scripts/test.sh -k finance -x).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Debian's PostgreSQL and Chromium, when missing, are installed in the background
# (one apt-get: dpkg takes one at a time) while setup.sh builds the venv and runs npm ci.
apt_missing=()
if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && ! command -v initdb >/dev/null; then
    apt_missing+=(postgresql)
fi
if [[ -z "${SCF_CHROMIUM:-}" ]] && ! command -v chromium >/dev/null 2>&1; then apt_missing+=(chromium); fi
# setup.sh installs npm with apt-get when it is missing: then everything is installed first.
if ! command -v npm >/dev/null && [[ ${#apt_missing[@]} -gt 0 ]]; then apt_missing+=(nodejs npm); fi
apt_pid=""
apt_log="$(mktemp)"
if [[ ${#apt_missing[@]} -gt 0 ]] && command -v apt-get >/dev/null && [[ "$(id -u)" == "0" ]]; then
    echo "test: installing Debian's ${apt_missing[*]} in the background" >&2
    ( apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" ) >"$apt_log" 2>&1 &
    apt_pid=$!
    if ! command -v npm >/dev/null; then wait "$apt_pid" || true; apt_pid=""; fi
fi
./scripts/setup.sh --with-slither
export PATH="$ROOT/.venv/bin:$PATH"
if [[ -n "$apt_pid" ]] && ! wait "$apt_pid"; then
    echo "test: apt-get install ${apt_missing[*]} failed: $(tail -n 3 "$apt_log" | tr '\n' ' ')" >&2
fi
rm -f "$apt_log"

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
# Debian's Chromium for the dashboard's browser tests (installed above when missing;
# Playwright drives it by path and never downloads a browser).
if [[ -z "${SCF_CHROMIUM:-}" ]]; then
    if command -v chromium >/dev/null 2>&1; then
        export SCF_CHROMIUM="$(command -v chromium)"
    elif [[ "${CI:-}" == "true" ]]; then
        echo "test: CI=true and chromium could not be installed; failing the run" >&2
        exit 1
    else
        echo "test: chromium could not be installed; the browser tests will be skipped" >&2
    fi
fi

# Static checks first (seconds): lint, format, types, and the layer rules of .importlinter.
# SCF_SKIP_STATIC=1 skips them for a quick `./scripts/test.sh -k ...` while editing.
# slither analyses the contracts meanwhile (its own venv, about 15 s) and fails on a high
# or medium finding not justified in contracts/slither-triage.toml.
if [[ "${SCF_SKIP_STATIC:-}" != "1" ]]; then
    echo "test: ruff check, ruff format --check, mypy (strict), lint-imports, slither" >&2
    slither_log="$(mktemp)"
    .venv-slither/bin/python scripts/slither_check.py >"$slither_log" 2>&1 &
    slither_pid=$!
    ruff check ledger tests scripts
    ruff format --check --quiet ledger tests scripts
    mypy ledger
    lint-imports --no-logo
    slither_rc=0
    wait "$slither_pid" || slither_rc=$?
    cat "$slither_log" >&2
    rm -f "$slither_log"
    if [[ $slither_rc -ne 0 ]]; then exit "$slither_rc"; fi
fi

# Line coverage of ledger/ is printed at the end; the run fails under the floor
# (set from the measured figure, see pyproject.toml [tool.coverage.report]).
# A partial run (any pytest arguments) prints coverage but is not held to the floor.
partial=()
if [[ $# -gt 0 ]]; then partial=(--cov-fail-under=0); fi
# The fast profile (CI's) leaves out the tests marked slow (long crash loops, large
# files, long fuzzing); SCF_LONG=1 ./scripts/test.sh runs everything.
profile=(-m "not slow")
if [[ "${SCF_LONG:-}" == "1" ]]; then profile=(); fi
python -m pytest -n 2 --cov=ledger --cov-report=term:skip-covered "${profile[@]}" "${partial[@]}" "$@"
