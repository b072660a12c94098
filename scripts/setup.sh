#!/usr/bin/env bash
# Sets up what scf-ledger needs, skipping whatever is already current:
#   - .venv with the package and its dev tools (pip, from pyproject.toml)
#   - node_modules from the committed package-lock.json (npm ci)
# Sourced by demo.sh and test.sh; safe to run on its own.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

hash_of() { sha256sum "$@" | sha256sum | cut -c1-16; }

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
