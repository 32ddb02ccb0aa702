"""In real headless Chromium: a detractor posted to the API appears as a case for the branch manager, who
contacts, resolves and closes it; the audit trail on the page shows each step."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from cxloop.services.act.rules import engine as alerts
from cxloop.store import audit
from cxloop.store.db import session_scope
from support.browser_support import ARTIFACTS, chromium, serve
from support.cases_world import PASSWORD, World


@pytest.fixture
def server(web_world: World) -> Iterator[str]:
    with session_scope(web_world.engine) as session:
        alerts.create_rule(
            session,
            web_world.viewer("admin@bank.example"),
            name="Detractors",
            kind="nps_at_most",
            first_contact_hours=24,
            resolution_hours=72,
            actor=audit.Actor.system("test"),
        )
    with serve(web_world.settings) as url:
        yield url


def test_detractor_posted_to_the_api_becomes_a_case_the_branch_manager_closes(server, web_world):
    row = {
        "response_id": "live-1",
        "submitted_at": "2026-11-20T10:00:00Z",
        "unit_id": "b01",
        "nps": 2,
        "customer_id": "c-77",
        "touchpoint": "branch_visit",
        "comment": "Queue of 40 minutes, rude answer",
    }
    request = urllib.request.Request(
        f"{server}/api/v1/responses",
        data=json.dumps([row]).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "X-API-Key": web_world.api_key},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - loopback test server
        assert answer.status == 201
        (case_id,) = json.loads(answer.read())["cases_opened"]

    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        problems: list[str] = []
        failed: list[tuple[int, str]] = []
        page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(f"{server}/login")
        page.fill("#email", "branch1@bank.example")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")
        page.click("header nav a:text('Cases')")
        page.wait_for_url(f"{server}/cases")
        row_link = page.locator(f"tr[data-case='{case_id}'] a").first
        assert "NPS 2" in page.locator(f"tr[data-case='{case_id}']").inner_text()
        row_link.click()
        page.wait_for_url(f"{server}/cases/{case_id}")
        assert "Queue of 40 minutes" in page.locator("blockquote").inner_text()
        assert page.locator("#case-owner").inner_text().startswith("branch1@bank.example")

        page.select_option("#to", "contacted")
        page.fill("#note", "Called the customer, apologised")
        page.click("form.case-form button:text('Save')")
        page.wait_for_url(f"{server}/cases/{case_id}")
        assert page.locator("#case-status").inner_text() == "Contacted"

        page.select_option("#to", "resolved")
        page.fill("#follow_up_score", "8")
        page.click("form.case-form button:text('Save')")
        assert page.locator("#case-status").inner_text() == "Resolved"

        page.select_option("#to", "closed")
        page.click("form.case-form button:text('Save')")
        # refused: no root cause yet
        assert "Closing needs a root cause" in page.locator("p.error").inner_text()
        page.select_option("#to", "closed")
        page.select_option("#root_cause", "waiting_time")
        page.fill("#resolution_note", "Booked a priority appointment")
        page.click("form.case-form button:text('Save')")
        assert page.locator("#case-status").inner_text() == "Closed"

        steps = page.locator("#audit-trail li")
        assert [steps.nth(i).get_attribute("data-action") for i in range(steps.count())] == [
            "open",
            "contacted",
            "resolved",
            "closed",
        ]
        trail = page.locator("#audit-trail").inner_text()
        assert trail.count("branch1@bank.example") == 4  # the audit row names the new owner (issue 17)
        assert "Called the customer, apologised" in trail
        assert "Status: Resolved → Closed" in trail
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "case-closed-branch-manager.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        assert problems == []
        # The one refused close (422) and the browser's own favicon probe; nothing else failed to load.
        assert [f for f in failed if not f[1].endswith("/favicon.ico")] == [
            (422, f"{server}/cases/{case_id}/transition")
        ]
