"""In a real headless Chromium (Debian's package, driven by Playwright): a branch manager logs in, sees
the dashboard with its chart drawn by plotly.js, and a screenshot is saved to ``test-artifacts/``.

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``); skipped without it locally, failed in CI.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cxloop.demo.users import DEMO_PASSWORD
from support.browser_support import ARTIFACTS, chromium, log_in, serve
from support.web_demo import BRANCH, REGION


@pytest.fixture(scope="module")
def server(demo) -> Iterator[str]:
    """The app on a loopback port, served by uvicorn in a thread."""
    with serve(demo.settings) as url:
        yield url


def test_branch_manager_logs_in_and_sees_the_dashboard_with_its_chart(server):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(f"{server}/")
        assert page.url.endswith("/login")
        page.fill("#email", BRANCH)
        page.fill("#password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")
        tiles = page.locator(".tile")
        assert tiles.count() == 7
        assert "NPS" in tiles.first.inner_text()
        # plotly.js drew the trend: its SVG with one path per trace
        page.wait_for_selector("#trend .main-svg", timeout=20_000)
        # the NPS line with its interval band, and the benchmark lines (the company, any target)
        assert page.locator("#trend .scatterlayer .trace").count() >= 3
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "dashboard-branch-manager.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_region_manager_drills_down_and_opens_every_dashboard_page(server):
    """League table -> a branch -> breadcrumb back; trends, touchpoints, priorities and value draw their
    charts; the Content-Security-Policy blocks nothing the pages need."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        log_in(page, server, REGION)
        assert page.locator(".tile").count() == 7
        assert page.locator(".tile svg.spark polyline").count() >= 3
        page.wait_for_selector("#trend .main-svg", timeout=20_000)
        _shot(page, "dashboard-region-manager")

        page.click("header nav a:text('Units')")
        page.wait_for_url(f"{server}/units/reg-north-west")
        branch = page.locator("table.league tbody tr a").first
        branch_name = branch.inner_text()
        branch.click()
        page.wait_for_url(f"{server}/units/br-*")
        assert branch_name in page.locator("h1").inner_text()
        crumbs = page.locator("nav[aria-label=breadcrumbs] a")
        assert crumbs.first.get_attribute("href") == "/units/reg-north-west"
        _shot(page, "drill-down-branch")
        crumbs.first.click()
        page.wait_for_url(f"{server}/units/reg-north-west")

        for name, chart in (
            ("trends", "#trend-nps .main-svg"),
            ("touchpoints", "#journey-chart .main-svg"),
            ("priorities", "table.priorities"),
            ("value", "#segment-chart .main-svg"),
        ):
            page.goto(f"{server}/units/reg-north-west/{name}")
            page.wait_for_selector(chart, timeout=30_000)
            _shot(page, f"{name}-region-manager")
        # a filter is a GET parameter: the form keeps it and the drill-down links carry it on
        page.goto(f"{server}/units/reg-north-west/trends?segment=mass")
        page.wait_for_selector("#trend-nps .main-svg", timeout=30_000)
        assert page.locator("#f-segment").input_value() == "mass"
        assert "segment=mass" in (page.locator("p.meta a").first.get_attribute("href") or "")
        assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
