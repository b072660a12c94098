#!/usr/bin/env bash
# Sets up what scf-ledger needs, skipping whatever is already current:
#   - .venv with the package and its dev tools (pip, from pyproject.toml)
#   - with --with-slither (test.sh): .venv-slither with slither-analyzer
#     (scripts/slither-requirements.txt)
#   - node_modules from the committed package-lock.json (npm ci)
# Sourced by demo.sh and test.sh; safe to run on its own.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

hash_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

# slither (static analysis of the contracts, run by test.sh) needs web3 7 while the
# project pins web3 8, so it has a venv of its own, pinned in scripts/slither-requirements.txt.
# It is built in the background while .venv and node_modules are, and waited for at the end.
SL_STAMP=".venv-slither/.scf-setup"
sl_hash="$(hash_of scripts/slither-requirements.txt)"
sl_pid=""
if [[ "${1:-}" == "--with-slither" ]] && [[ ! -x .venv-slither/bin/slither || "$(cat "$SL_STAMP" 2>/dev/null)" != "$sl_hash" ]]; then
    echo "setup: creating .venv-slither (slither-analyzer)" >&2
    (
        python3 -m venv .venv-slither
        .venv-slither/bin/python -m pip install --quiet --disable-pip-version-check \
            -r scripts/slither-requirements.txt >&2
        echo "$sl_hash" > "$SL_STAMP"
    ) &
    sl_pid=$!
fi

PY_STAMP=".venv/.scf-setup"
py_hash="$(hash_of pyproject.toml)"
if [[ ! -x .venv/bin/python || "$(cat "$PY_STAMP" 2>/dev/null)" != "$py_hash" ]]; then
    echo "setup: creating .venv and installing Python packages" >&2
    python3 -m venv .venv
    .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]" >&2
    echo "$py_hash" > "$PY_STAMP"
fi

NPM_STAMP="node_modules/.scf-setup"
npm_hash="$(hash_of package.json package-lock.json)"
if [[ ! -d node_modules || "$(cat "$NPM_STAMP" 2>/dev/null)" != "$npm_hash" ]]; then
    if ! command -v npm >/dev/null; then
        echo "setup: npm is missing; installing Debian's nodejs and npm" >&2
        apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >&2
    fi
    echo "setup: installing npm packages (npm ci)" >&2
    # The Anvil binary ships in its platform package; no install script is needed.
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
    echo "$npm_hash" > "$NPM_STAMP"
fi
if [[ -n "$sl_pid" ]] && ! wait "$sl_pid"; then
    echo "setup: installing slither-analyzer into .venv-slither failed" >&2
    exit 1
fi
