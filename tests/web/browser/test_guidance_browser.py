"""The branch manager's home in a real headless Chromium, at desktop (1440 px) and phone (390 px) widths:
"My next steps" above tiles coloured by direction and significance, with the legend and the words, and the
trend drawn with the target and company lines. Screenshots go to ``test-artifacts/`` (issue 16)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from cxloop.demo.users import DEMO_PASSWORD
from support.browser_support import ARTIFACTS, chromium, serve
from support.web_demo import BRANCH, EXECUTIVE, web_demo


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_companies) -> Iterator[str]:
    """Its own copy of the demo, with a top-down NPS target and an action due in 3 days for br-0001."""
    with web_demo(tmp_path_factory.mktemp("guidance-browser") / "data", demo_companies) as world:
        target = {"unit_id": "br-0001", "metric": "nps", "granularity": "quarter",
                  "period_start": "2026-07-01", "target_value": 80, "rationale": "company plan"}  # fmt: skip
        assert (
            world.client.post("/api/v1/targets", json=target, headers=world.as_(EXECUTIVE)).status_code == 201
        )
        action = {"title": "Call back every detractor", "unit_id": "br-0001", "owner": BRANCH,
                  "due_date": (date.today() + timedelta(days=3)).isoformat()}  # fmt: skip
        assert (
            world.client.post("/api/v1/actions", json=action, headers=world.as_(EXECUTIVE)).status_code == 201
        )
        with serve(world.settings) as url:
            yield url


@pytest.mark.parametrize("width", [1440, 390])
def test_branch_home_shows_next_steps_and_coloured_tiles(server, width):
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": 1000})
        page.goto(f"{server}/login")
        page.fill("#email", BRANCH)
        page.fill("#password", DEMO_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")

        steps = page.locator("section.next-steps")
        assert steps.is_visible()
        assert "My next steps" in steps.inner_text()
        top = page.locator(".next-steps .top-priority")
        assert "NPS points" in top.inner_text() and "best 25% of branches" in top.inner_text()
        assert "Call back every detractor" in steps.inner_text()
        assert "Off track" in steps.inner_text()  # the NPS target of 80
        # next steps come before the tiles
        assert steps.bounding_box()["y"] < page.locator(".tile").first.bounding_box()["y"]

        tiles = page.locator(".tile")
        assert tiles.count() == 7
        states = [tiles.nth(i).get_attribute("data-state") for i in range(tiles.count())]
        assert {"better", "worse", "level"} & set(states), states
        nps = page.locator('.tile[data-metric="nps"]')
        colour = nps.evaluate("node => getComputedStyle(node).borderLeftColor")
        assert colour in ("rgb(23, 114, 69)", "rgb(180, 35, 24)", "rgb(138, 148, 166)"), colour
        # the colour is also said in words, against the target (the first benchmark a tile has)
        assert "your target" in nps.locator(".status").inner_text()
        assert page.locator("#tile-legend").is_visible()

        # the trend: NPS, its band and the target and company lines, named in the legend
        page.wait_for_selector("#trend .main-svg", timeout=20_000)
        legend = page.locator("#trend .legend").text_content()
        assert "your target" in legend and "the company" in legend
        # nothing wider than the screen on a phone
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"home-branch-manager-{width}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
