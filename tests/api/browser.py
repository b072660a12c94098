"""Support of the dashboard tests that need a real server or a real browser:
the app served by uvicorn on a free port (in a thread of this process,
stopped by the code that started it, as ``scf serve`` stops: live streams
ended first, then a graceful shutdown), headless Chromium driven by
Playwright for Python (Debian's ``chromium`` by path: never a downloaded
browser), logging in through the login form, and screenshots under
``test-artifacts/screenshots/``."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger.config import REPO_ROOT

SCREENSHOTS = REPO_ROOT / "test-artifacts" / "screenshots"
#: Headless Chromium on a closed network (DESIGN section 4): no background traffic, no QUIC.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def chromium_path() -> str | None:
    """``SCF_CHROMIUM`` (scripts/test.sh sets it), else ``chromium`` on PATH."""
    return os.environ.get("SCF_CHROMIUM") or shutil.which("chromium")


def require_chromium() -> str:
    """Chromium's path; skips the test without one (fails under CI=true)."""
    path = chromium_path()
    if path is None:
        reason = "no chromium for the browser tests (apt-get install chromium; ./scripts/test.sh installs it)"
        if in_ci():
            pytest.fail(f"CI=true and {reason}", pytrace=False)
        pytest.skip(reason)
    return path


# -- a real server ---------------------------------------------------------------------------------------
@dataclass
class Served:
    url: str
    app: Any
    server: Any
    thread: threading.Thread
    #: Seconds the shutdown took (set when it is over).
    shutdown_seconds: float | None = None


@contextmanager
def serve(app: Any) -> Iterator[Served]:
    """Serve ``app`` with uvicorn on a free port of 127.0.0.1 until the block ends."""
    import uvicorn

    from ledger.api.live import close_streams

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"uvicorn did not start on port {port}")
        time.sleep(0.02)
    served = Served(f"http://127.0.0.1:{port}", app, server, thread)
    try:
        yield served
    finally:
        started = time.monotonic()
        close_streams(app)  # what `scf serve` does when it begins to shut down
        server.should_exit = True
        thread.join(timeout=20)
        served.shutdown_seconds = time.monotonic() - started
        sock.close()
        assert not thread.is_alive(), "uvicorn did not shut down within 20 s"


# -- a real browser ---------------------------------------------------------------------------------------
@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Chromium (a fresh temporary profile), closed at the end."""
    from playwright.sync_api import sync_playwright

    path = require_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page: Any, base: str, secret: str) -> None:
    """Log in through the login form; ends on the overview."""
    page.goto(f"{base}/login")
    page.fill("#key", secret)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


#: Per chart on the page: its id, the points of its first dataset, and whether its canvas has ink.
CHART_STATE = """() => Array.from(document.querySelectorAll('canvas[data-chart]')).map((canvas) => {
  const chart = window.Chart && window.Chart.getChart(canvas);
  const blank = document.createElement('canvas');
  blank.width = canvas.width; blank.height = canvas.height;
  return {
    id: canvas.id,
    points: chart ? chart.getDatasetMeta(0).data.length : 0,
    datasets: chart ? chart.data.datasets.length : 0,
    width: canvas.width,
    inked: canvas.width > 0 && canvas.toDataURL() !== blank.toDataURL(),
  };
})"""
