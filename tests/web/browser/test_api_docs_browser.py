"""/docs and /redoc in a real Chromium with every request outside this machine blocked: both draw the
API's operations from files the package serves (they were blank offline: their assets came from a CDN).

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``); skipped without it locally, failed in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from cxloop.config import Settings
from support.browser_support import ARTIFACTS, chromium, serve

LOCAL = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve(Settings(data_dir=tmp_path_factory.mktemp("docs"))) as url:
        yield url


def _offline_page(browser, blocked: list[str], problems: list[str]):
    page = browser.new_page(viewport={"width": 1440, "height": 900})

    def only_here(route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", only_here)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    return page


def test_swagger_ui_draws_the_operations_with_nothing_from_outside(server):
    blocked: list[str] = []
    problems: list[str] = []
    with chromium() as browser:
        page = _offline_page(browser, blocked, problems)
        page.goto(f"{server}/docs")
        page.wait_for_selector(".opblock")
        operations = page.locator(".opblock")
        assert operations.count() > 20
        assert page.locator(".opblock-summary-path", has_text="/api/v1/auth/token").count() >= 1
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "api-docs-offline.png"))
    assert blocked == [] and problems == []


def test_redoc_draws_the_operations_with_nothing_from_outside(server):
    blocked: list[str] = []
    problems: list[str] = []
    with chromium() as browser:
        page = _offline_page(browser, blocked, problems)
        page.goto(f"{server}/redoc")
        page.wait_for_selector("[data-section-id^='tag/'], [data-section-id^='operation/']")
        assert page.locator("[data-section-id^='operation/']").count() > 20
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "api-redoc-offline.png"))
    # ReDoc's sidebar credit is an image on its makers' site, which no option removes: the page's policy
    # stops it before any request is made (so nothing was blocked on the network). Nothing else may fail.
    credit = "Loading the image 'https://cdn.redoc.ly/redoc/logo-mini.svg' violates"
    assert blocked == [] and [p for p in problems if not p.startswith(credit)] == []
