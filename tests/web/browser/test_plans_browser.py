"""In real headless Chromium: a branch manager creates an action from the form on the actions page, lands on
its page, moves it to in progress, and finds it under "My actions".

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``); skipped without it locally, failed in CI.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cxloop.demo.users import DEMO_PASSWORD
from support.browser_support import ARTIFACTS, chromium, serve
from support.web_demo import BRANCH


@pytest.fixture(scope="module")
def plans_server(demo) -> Iterator[str]:
    with serve(demo.settings) as url:
        yield url


def test_branch_manager_creates_an_action_and_sees_it_in_my_actions(plans_server):
    title = "Open a second till at lunch"
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{plans_server}/login")
        page.fill("#email", BRANCH)
        page.fill("#password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{plans_server}/")
        page.click("header nav >> text=Actions")
        page.wait_for_url(f"{plans_server}/actions")
        page.fill("#a-title", title)
        page.fill("#a-due", "2030-06-30")
        page.select_option("#a-horizon", "long_term")
        page.fill("#a-points", "2.5")
        page.select_option("#a-metric", "nps")
        page.click("#new-action button[type=submit]")
        page.wait_for_url(lambda url: "/actions/" in url)
        assert page.locator("h1").inner_text() == title
        assert page.locator(".status").inner_text() == "planned"
        page.click("button[data-move=in_progress]")
        page.wait_for_selector(".status >> text=in progress")
        assert "status:in_progress" in page.locator("table.audit").inner_text()
        page.goto(f"{plans_server}/actions?view=mine")
        row = page.locator("table.actions tr", has_text=title)
        assert row.count() == 1
        assert "in progress" in row.inner_text() and "2030-06-30" in row.inner_text()
        assert errors == []
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "my-actions-branch-manager.png"), full_page=True)
