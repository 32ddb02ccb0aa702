"""Target and action pages: forms with CSRF, one click from a priority, lists, the action page with its
notes, audit trail and measured-change chart data, and user text escaped."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from cxloop.demo.users import DEMO_PASSWORD
from cxloop.web.app import create_app
from support.web_demo import BRANCH, EXECUTIVE, REGION


@pytest.fixture()
def browser(demo_settings):
    with TestClient(
        create_app(demo_settings), base_url="https://testserver", follow_redirects=False
    ) as client:
        yield client


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)


def _log_in(client, email=BRANCH):
    form = client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": _csrf(form.text)}
    )
    assert response.status_code == 303
    return _csrf(client.get("/actions").text)


def test_pages_need_a_login(browser):
    for path in ("/targets", "/actions", "/actions/1"):
        response = browser.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/login"


def test_one_click_from_a_priority_creates_a_planned_action_and_redirects_to_it(browser):
    token = _log_in(browser)
    drivers = browser.get("/actions").text.split('id="a-driver"')[1].split("</select>")[0]
    driver = re.findall(r'<option value="(\w+)">', drivers)[0]
    form = {"unit_id": "br-0001", "driver": driver, "touchpoint_id": "", "expected_impact": "2.4",
            "title": "Shorter queues <script>alert(1)</script>", "csrf_token": token}  # fmt: skip
    refused = browser.post("/actions/from-priority", data={**form, "csrf_token": "0" * 64})
    assert refused.status_code == 403
    created = browser.post("/actions/from-priority", data=form)
    assert created.status_code == 303, created.text
    location = created.headers["location"]
    assert re.fullmatch(r"/actions/\d+", location)
    page = browser.get(location)
    assert page.status_code == 200
    assert "Shorter queues &lt;script&gt;" in page.text and "<script>alert(1)" not in page.text
    assert "planned" in page.text and "created" in page.text  # status and the audit trail
    assert f"priority: {driver} at br-0001" in page.text and "+2.4 NPS" in page.text
    chart = re.search(r'<script type="application/json" id="change-data">(.*?)</script>', page.text, re.S)
    assert chart is not None and "label" in json.loads(chart.group(1))
    mine = browser.get("/actions?view=mine")
    assert f'href="{location}"' in mine.text


def test_transition_and_note_forms(browser):
    token = _log_in(browser)
    created = browser.post(
        "/actions",
        data={"title": "Fix the door", "unit_id": "br-0001", "due_date": "2020-01-31", "csrf_token": token},
    )
    location = created.headers["location"]
    assert (
        browser.post(f"{location}/transition", data={"to": "in_progress", "csrf_token": token}).status_code
        == 303
    )
    assert (
        browser.post(f"{location}/notes", data={"body": "ordered parts", "csrf_token": token}).status_code
        == 303
    )
    bad = browser.post(f"{location}/transition", data={"to": "reopen", "csrf_token": token})
    assert "error=" in bad.headers["location"]
    page = browser.get(location).text
    assert "ordered parts" in page and "status:in_progress" in page and "in progress" in page
    overdue = browser.get("/actions?view=overdue").text
    assert f'href="{location}"' in overdue and "overdue" in overdue


def test_targets_page_sets_a_target_and_shows_progress(browser):
    token = _log_in(browser, EXECUTIVE)
    form = {"unit_id": "reg-north-west", "metric": "nps", "granularity": "year", "period_start": "2025-03-03",
            "target_value": "-50", "rationale": "floor", "csrf_token": token}  # fmt: skip
    assert browser.post("/targets", data=form).status_code == 303
    bad = browser.post("/targets", data={**form, "target_value": "abc"})
    assert "error=" in bad.headers["location"]
    page = browser.get("/targets").text
    assert "reg-north-west" in page and "<meter" in page and "on track" in page


def test_unknown_or_hidden_action_is_404(browser):
    _log_in(browser)
    assert browser.get("/actions/99999").status_code == 404
    assert browser.get("/actions?view=nonsense&page=%C2%B2").status_code == 200


def test_the_create_action_button_on_the_priorities_page(browser):
    """The priorities page's one-click form creates the action it shows (the region's mobile-app priorities:
    the small demo has too few answers for a branch's own)."""
    _log_in(browser, REGION)
    page = browser.get("/units/reg-north-west/priorities?touchpoint=mobile_app")
    assert page.status_code == 200, page.text
    forms = re.findall(r'<form method="post" action="/actions/from-priority".*?</form>', page.text, re.S)
    assert forms, "the region's mobile-app priorities have rows in the small demo"
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', forms[0]))
    assert {"csrf_token", "unit_id", "driver", "touchpoint_id", "expected_impact", "title"} <= set(fields)
    created = browser.post("/actions/from-priority", data=fields)
    assert created.status_code == 303, created.text
    action = browser.get(created.headers["location"]).text
    assert f"priority: {fields['driver']} at reg-north-west" in action


def test_targets_is_in_the_main_navigation(tmp_path):
    """Issue 17: Targets was reachable only from other pages; the main navigation now links it."""
    from cxloop.web.rendering import templates

    html = templates.get_template("base.html").render(viewer=_NavViewer(), request=None)
    assert '<a href="/targets">Targets</a>' in html


class _NavViewer:
    unit_id = "bank"

    class role:  # noqa: N801 - shaped like the viewer's Role enum member the template reads
        value = "manager"
