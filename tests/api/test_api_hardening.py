"""What a review of the server found, each kept as a test: the docs page
loads nothing from another origin, the session key is whole or refused, and
odd numbers in page URLs are a 404, not a 500."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest


def test_api_docs_page_loads_only_this_origins_files(api: Any) -> None:
    """/docs is Swagger UI from the pinned npm package: no CDN (the dashboard's
    session cookie works on /api, so a third party's script there could read the book)."""
    page = api.client.get("/docs")
    assert page.status_code == 200
    sources = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text) + re.findall(r"url: '([^']+)'", page.text)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    assert "cdn" not in page.text.lower()
    for path in ("/static/vendor/swagger-ui-bundle.js", "/static/vendor/swagger-ui.css"):
        assert api.client.get(path).status_code == 200, path
    assert api.client.get("/redoc").status_code == 404
    assert api.client.get("/static/vendor/..%2Fpackage.json").status_code == 404


def test_api_session_key_cut_short_is_refused_never_used(tmp_path: Path) -> None:
    from ledger.api.app import MIN_SECRET, session_secret
    from ledger.errors import ConfigError

    made = session_secret(tmp_path)
    assert len(made) >= MIN_SECRET and session_secret(tmp_path) == made
    assert (tmp_path / "api-session.key").stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["api-session.key"]  # no temporary file left
    (tmp_path / "api-session.key").write_text("")
    with pytest.raises(ConfigError, match="holds 0 characters, fewer than 32; delete it"):
        session_secret(tmp_path)


def test_api_pages_take_only_plain_numbers(api: Any) -> None:
    client = api.client
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    logged = client.post("/login", data={"key": api.secrets["operator"], "csrf": csrf.group(1)}, follow_redirects=False)
    assert logged.status_code in (302, 303), logged.text
    for path in ("/invoices/²", "/invoices/" + "9" * 5000, "/decisions?invoice_id=²", "/invoices?limit=²"):
        got = client.get(path)
        assert got.status_code in (200, 400, 404), (path, got.status_code)
        assert "Traceback" not in got.text
