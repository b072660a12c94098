"""The dashboard in a real browser: headless Chromium (Debian's, driven by
Playwright for Python) against the real app on uvicorn over the indexed
scenario. One browser for the module, one test per page group: logging in
and the overview's charts drawn; the invoice list filtered and an invoice
opened; decisions and participants; a live update after a new block.
Screenshots go to test-artifacts/screenshots/.

SQLite only: what the browser adds does not depend on the database, and the
ASGI tests (test_dashboard.py) run every page on both backends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from browser import CHART_STATE, Served, chromium, log_in, screenshot, serve
from support.lifecycle import Lifecycle
from support.scenario import index

from ledger.names import DEV_ADDRESSES as ADDR

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@dataclass
class Site:
    served: Served
    page: Any
    #: Console errors, uncaught exceptions and failed subresources of the page (a CSP refusal is one).
    errors: list[str]

    def url(self, path: str) -> str:
        return self.served.url + path


@pytest.fixture()
def site(api: Any, browser: Any) -> Iterator[Site]:
    """The real app served for this test, and a fresh browser context (its own cookies)."""
    from ledger.api.app import create_app

    with serve(create_app(api.env.settings)) as served:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("console", lambda m: _console(errors, m))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("response", lambda r: _response(errors, r))
        try:
            yield Site(served, page, errors)
        finally:
            context.close()


def _console(errors: list[str], message: Any) -> None:
    # A page answered 403 or 404 on purpose logs "Failed to load resource"; subresources are checked below.
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        errors.append(message.text)


def _response(errors: list[str], response: Any) -> None:
    if response.status >= 400 and response.request.resource_type != "document":
        errors.append(f"{response.status} {response.url}")


def charts_drawn(page: Any, count: int) -> list[dict[str, Any]]:
    page.wait_for_function(f"document.body.dataset.chartsDrawn === '{count}'")
    state: list[dict[str, Any]] = page.evaluate(CHART_STATE)
    return state


def test_dashboard_browser_login_and_overview_charts(api: Any, site: Site) -> None:
    page = site.page
    page.goto(site.url("/"))
    assert page.url == site.url("/login?next=%2F")
    page.fill("#key", "scf_00000000_" + "x" * 43)
    page.click("button[type=submit]")
    assert "unknown, expired or revoked" in page.inner_text("#login-error")
    screenshot(page, "dashboard-login-refused")

    log_in(page, site.served.url, api.secrets["operator"])
    state = charts_drawn(page, 4)
    assert [c["id"] for c in state] == [
        "chart-aging-hkd",
        "chart-exposure-hkd",
        "chart-financing-hkd",
        "chart-collections-hkd",
    ]
    for chart in state:
        assert chart["points"] > 0 and chart["width"] > 0 and chart["inked"], chart
    assert page.inner_text("#kpi-outstanding-hkd dd data") == "HKD 179,999.90"
    assert page.inner_text("#kpi-financed-hkd dd data") == "HKD 93,749.90"
    assert page.inner_text("#live-status") == f"indexed block {block_of(api)}"
    assert page.inner_text("#who") == "operator key"
    # Each chart's figures read without the chart: the table behind "Figures".
    assert not page.is_visible("#chart-aging-hkd-figure table")
    page.click("#chart-aging-hkd-figure summary")
    assert page.is_visible("#chart-aging-hkd-figure table")
    assert "HKD 179,999.90" in page.inner_text("#chart-aging-hkd-figure table")
    # A tooltip shows the exact amount, not a float.
    page.locator("#chart-financing-hkd").scroll_into_view_if_needed()
    box = page.locator("#chart-financing-hkd").bounding_box()
    bar = page.evaluate(
        "() => { const c = Chart.getChart(document.getElementById('chart-financing-hkd'));"
        " const b = c.getDatasetMeta(0).data[c.data.datasets[0].exact.findIndex(v => v !== '0.00')];"
        " return {x: b.x, y: (b.y + b.base) / 2}; }"
    )
    page.mouse.move(box["x"] + bar["x"], box["y"] + bar["y"])
    page.wait_for_function(
        "() => Chart.getChart(document.getElementById('chart-financing-hkd')).tooltip.getActiveElements().length"
    )
    tooltip = page.evaluate(
        "() => Chart.getChart(document.getElementById('chart-financing-hkd')).tooltip.body.map(b => b.lines.join(' '))"
    )
    assert tooltip == ["advances paid: HKD 112500.00"], tooltip
    screenshot(page, "dashboard-overview")
    assert site.errors == []

    page.click("form.logout button")
    page.wait_for_url(site.url("/login"))
    page.goto(site.url("/invoices"))
    assert page.url.startswith(site.url("/login?next="))


def test_dashboard_browser_invoice_list_filtered_and_one_invoice(api: Any, site: Site) -> None:
    page = site.page
    log_in(page, site.served.url, api.secrets["operator"])
    page.click("nav >> text=Invoices")
    page.wait_for_url(site.url("/invoices"))
    assert rows(page) == ["1", "2", "3", "4"]
    page.check("input[name=status][value=Confirmed]")
    page.check("input[name=status][value=PartiallyPaid]")
    page.click("#filters button[type=submit]")
    page.wait_for_url(re.compile(r".*/invoices\?status=Confirmed&status=PartiallyPaid.*"))
    assert rows(page) == ["1", "2"]
    page.fill("input[name=buyer]", "Kwai Chung Logistics Ltd")
    page.click("#filters button[type=submit]")
    page.wait_for_load_state()
    assert rows(page) == ["2"]
    screenshot(page, "dashboard-invoices-filtered")
    page.click("text=Clear")
    page.fill("input[name=number]", "inv q 4")
    page.click("#filters button[type=submit]")
    page.wait_for_load_state()
    assert rows(page) == ["4"]
    page.fill("input[name=supplier]", "Nobody Ltd")
    page.click("#filters button[type=submit]")
    page.wait_for_load_state()
    assert "unknown supplier" in page.inner_text("#filter-error")

    page.goto(site.url("/invoices"))
    page.click("#invoice-1 a")
    page.wait_for_url(site.url("/invoices/1"))
    history = api.get("operator", "/api/invoices/1/history").json()
    assert page.locator(".timeline li").count() == len(history) == 7
    assert page.inner_text("#invoice-outstanding") == "HKD 99,999.90"
    screenshot(page, "dashboard-invoice")
    page.goto(site.url("/invoices/999"))
    assert "There is no invoice 999 that you may see." in page.inner_text("#problem-detail")
    assert site.errors == []


def rows(page: Any) -> list[str]:
    ids: list[str] = page.eval_on_selector_all("#invoice-table tbody tr", "rs => rs.map(r => r.id.slice(8))")
    return ids


def test_dashboard_browser_decisions_and_participants(api: Any, site: Site) -> None:
    from support.finance import POLICY

    from ledger.db.session import get_engine
    from ledger.finance.store import quote_in_db
    from ledger.queries import find_scope

    with get_engine(api.env.settings.database_url).begin() as conn:
        decision = quote_in_db(conn, find_scope(conn, api.env.settings), 2, ADDR["financier"], POLICY)
    page = site.page
    log_in(page, site.served.url, api.secrets["financier"])
    page.click("nav >> text=Decisions")
    article = page.locator(f"#decision-{decision}")
    assert article.is_visible()
    rules = api.get("financier", f"/api/decisions/{decision}").json()["rules"]
    assert article.locator("table.rules tbody tr").count() == len(rules)
    assert article.locator("tr.outcome-fail").count() == sum(r["outcome"] == "fail" for r in rules) > 0
    screenshot(page, "dashboard-decisions")
    page.click("nav >> text=Participants")
    assert page.locator("#participant-table tbody tr").count() == 7
    screenshot(page, "dashboard-participants")
    page.click("form.logout button")
    log_in(page, site.served.url, api.secrets["supplier"])
    page.goto(site.url("/decisions"))
    assert "is not a financier" in page.inner_text("#problem-detail")
    assert site.errors == []


def test_dashboard_browser_updates_live_after_a_new_block(api: Any, site: Site, ledger: Any, acct: Any) -> None:
    page = site.page
    log_in(page, site.served.url, api.secrets["operator"])
    charts_drawn(page, 4)
    start = block_of(api)
    page.evaluate("window.notReloaded = true")
    page.wait_for_function("() => /indexed block/.test(document.getElementById('live-status').textContent)")
    # A new block: buyer2 pays 1,000.00 of invoice 2; the indexer picks it up.
    Lifecycle(ledger, acct).repay(2, "1000.00", buyer="buyer2")
    block = index(api.env.settings).block
    assert block > start
    page.wait_for_function(
        f"() => document.getElementById('live-status').textContent === 'indexed block {block}'", timeout=15_000
    )
    assert page.inner_text("#kpi-outstanding-hkd dd data") == "HKD 178,999.90"
    assert f"at block {block}." in page.inner_text("#footer")
    assert page.evaluate("window.notReloaded") is True  # the live parts were swapped, not the page reloaded
    state = charts_drawn(page, 4)
    assert all(c["inked"] and c["points"] > 0 for c in state)
    collections = page.evaluate(
        "() => Chart.getChart(document.getElementById('chart-collections-hkd')).data.datasets[1].exact"
    )
    assert collections[11] == "27000.10"  # this month's payments now include the 1,000.00
    screenshot(page, "dashboard-live-update")
    assert site.errors == []


def block_of(api: Any) -> int:
    from ledger.db.session import get_engine
    from ledger.queries import find_scope

    with get_engine(api.env.settings.database_url).connect() as conn:
        block = find_scope(conn, api.env.settings).indexed_block
    assert block is not None
    return block
