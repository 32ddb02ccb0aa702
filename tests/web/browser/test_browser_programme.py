"""In a real headless Chromium (Debian's package, driven by Playwright): an executive opens the programme
view and a pilot's report (its charts drawn by plotly.js, the decision form there); an analyst opens the
themes page and filters the comment stream by a theme. Screenshots go to ``test-artifacts/``.

Needs ``/usr/bin/chromium``; skipped without it locally, failed in CI.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from cxloop.demo.users import DEMO_PASSWORD
from support.browser_support import ARTIFACTS, chromium
from support.web_demo import ANALYST, EXECUTIVE

# The pages tests' fixtures that this module reuses live beside those tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pages"))
from test_browser import server  # noqa: E402, F401 - the server fixture
from test_pilot_pages import pilots  # noqa: E402, F401 - the pilots fixture
from test_themes_pages import tagged  # noqa: E402, F401 - the tagged-comments fixture


@pytest.fixture
def browser_page(server):  # noqa: F811
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page, errors


def _login(page, server, email):  # noqa: F811
    page.goto(f"{server}/login")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")


def test_executive_opens_the_programme_and_a_pilot_report(server, browser_page, pilots):  # noqa: F811
    page, errors = browser_page
    _login(page, server, EXECUTIVE)
    page.goto(f"{server}/programme")
    pilot_row = page.locator(f'tr.pilot[data-pilot="{pilots["region"]}"]')
    assert pilot_row.count() == 1
    assert "Web first-time resolution" in pilot_row.inner_text()
    assert page.locator(f'tr.wave[data-pilot="{pilots["region"]}"]').count() == 1
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "programme-executive.png"), full_page=True)
    pilot_row.get_by_role("link", name="Report").click()
    page.wait_for_url(f"{server}/pilots/{pilots['region']}/report")
    assert page.locator("p.plain").inner_text().startswith("NPS:")
    # plotly.js drew both charts of the NPS: two traces (pilot units, controls) and the event study
    page.wait_for_selector("#did-nps .main-svg", timeout=30_000)
    page.wait_for_selector("#es-nps .main-svg", timeout=30_000)
    assert page.locator("#did-nps .scatterlayer .trace").count() == 2
    assert page.locator("#es-nps .scatterlayer .trace").count() == 1
    assert page.locator("table.sensitivity").count() == 1
    assert page.locator('form.decision-form input[name="decision"]').count() == 3
    shot = ARTIFACTS / "pilot-report-executive.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    assert not errors, errors


def test_analyst_opens_themes_and_filters_comments_by_theme(server, browser_page, tagged):  # noqa: F811
    page, errors = browser_page
    _login(page, server, ANALYST)
    page.goto(f"{server}/units/bank/themes")
    assert page.locator('tr[data-theme="long_wait"]').count() == 1
    page.wait_for_selector("#theme-trend .main-svg", timeout=30_000)
    assert page.locator("#theme-trend .scatterlayer .trace").count() == 8  # the 8 largest (issue 17)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "themes-analyst.png"), full_page=True)
    # from the themes page to the comment stream, then filter it by another theme with the form
    page.locator('tr[data-theme="long_wait"]').get_by_role("link", name="Comments").click()
    page.wait_for_url("**/units/bank/comments?theme=long_wait")
    page.select_option("#theme", ["high_fees"])
    page.click("main form button[type=submit]")
    page.wait_for_url("**theme=high_fees**")
    themes = page.locator("span.themes").all_inner_texts()
    assert themes and all("High fees" in t for t in themes)
    expected = tagged[tagged.theme == "high_fees"].response_id.nunique()
    assert f"{expected:,} comments" in page.locator("main").inner_text()
    page.screenshot(path=str(ARTIFACTS / "comments-by-theme-analyst.png"), full_page=True)
    assert not errors, errors
