"""Fixtures of the CLI tests: `scf` in-process (``cli``) and as a subprocess (``scf``)."""

from __future__ import annotations

import os
import subprocess

import pytest
from click.testing import CliRunner
from support.cli import SCF

from ledger.cli import main


@pytest.fixture()
def cli(home_copy):
    """Run `scf --home <copy> --rpc-url <test chain> ...` in-process."""
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(
            main, ["--home", str(home_copy.home), "--rpc-url", home_copy.rpc_url, *args], env=env or {}
        )

    return run


@pytest.fixture()
def scf(home_copy):
    """Run the real `scf` entry point in a subprocess."""

    def run(*args: str, env: dict[str, str] | None = None, rpc: str | None = None):
        full_env = {
            **os.environ,
            "SCF_HOME": str(home_copy.home),
            "SCF_RPC_URL": rpc or home_copy.rpc_url,
            **(env or {}),
        }
        return subprocess.run([SCF, *args], capture_output=True, text=True, env=full_env, timeout=120)

    return run
