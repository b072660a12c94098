"""The API server without a relayer is read side: building the app and
answering every read endpoint never imports web3 or eth_account (the chain
side costs ~0.7 s a start and has no business in a read-only server)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any


def test_api_app_without_relayer_never_imports_web3(indexed: Any) -> None:
    probe = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from ledger.api.app import create_app\n"
        "from ledger.api.keys import create_key\n"
        "from ledger.config import load_settings\n"
        "from ledger.db.session import get_engine\n"
        "settings = load_settings()\n"
        "with get_engine(settings.database_url).begin() as conn:\n"
        "    _, secret = create_key(conn, participant=None, label='probe')\n"
        "paths = ['/api/health', '/api/status', '/api/me', '/api/invoices', '/api/invoices/1',\n"
        "         '/api/invoices/1/history', '/api/invoices/1/tree', '/api/participants', '/api/decisions',\n"
        "         '/api/reports/exposure', '/api/reports/aging', '/api/reports/portfolio', '/api/events',\n"
        "         '/openapi.json']\n"
        "with TestClient(create_app(settings)) as client:\n"
        "    for path in paths:\n"
        "        r = client.get(path, headers={'Authorization': 'Bearer ' + secret})\n"
        "        assert r.status_code == 200, (path, r.status_code, r.text)\n"
        "print('WEB3', any(m in sys.modules for m in ('web3', 'eth_account')), file=sys.stderr)\n"
    )
    env = {
        **os.environ,
        "SCF_HOME": str(indexed.home),
        "SCF_DB_URL": str(indexed.settings.db_url),
        "SCF_RPC_URL": "http://127.0.0.1:9",
    }
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "WEB3 False" in done.stderr, done.stderr
