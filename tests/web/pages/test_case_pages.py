"""Case pages over TestClient: my cases, unit cases, the case page; scope (404 outside), CSRF on forms."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from cxloop.services.act.rules import engine as alerts
from cxloop.store import audit
from cxloop.store.db import session_scope
from cxloop.web.app import create_app
from support.cases_world import PASSWORD, World


@pytest.fixture
def app_client(web_world: World) -> Iterator[TestClient]:
    with TestClient(create_app(web_world.settings), base_url="https://testserver") as client:
        with session_scope(web_world.engine) as session:
            alerts.create_rule(
                session,
                web_world.viewer("admin@bank.example"),
                name="detractors",
                kind="nps_at_most",
                actor=audit.Actor.system("test"),
            )
        rows = [
            {
                "response_id": "p1",
                "submitted_at": "2026-11-20T10:00:00Z",
                "unit_id": "b01",
                "nps": 2,
                "customer_id": "c1",
                "comment": "<script>alert(1)</script> slow service",
            },
            {"response_id": "p2", "submitted_at": "2026-11-20T10:00:00Z", "unit_id": "b02", "nps": 1},
        ]
        posted = client.post("/api/v1/responses", json=rows, headers={"X-API-Key": web_world.api_key})
        assert posted.status_code == 201
        yield client


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)


def _log_in(client: TestClient, email: str) -> None:
    client.cookies.clear()
    form = client.get("/login")
    done = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": _csrf(form.text)})
    assert done.status_code in (200, 303), done.text


def _case_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-case="(\d+)"', html)]


def test_frontline_sees_only_their_units_cases_on_every_page(app_client):
    _log_in(app_client, "frontline1@bank.example")
    unit_page = app_client.get("/units/b01/cases")
    assert unit_page.status_code == 200
    (own,) = _case_ids(unit_page.text)
    assert app_client.get("/units/b02/cases").status_code == 404
    assert app_client.get("/units/north/cases").status_code == 404
    assert app_client.get("/cases/9999").status_code == 404
    _log_in(app_client, "region@bank.example")
    all_north = _case_ids(app_client.get("/units/north/cases").text)
    other = next(i for i in all_north if i != own)
    _log_in(app_client, "frontline1@bank.example")
    assert app_client.get(f"/cases/{other}").status_code == 404
    page = app_client.get(f"/cases/{own}")
    assert page.status_code == 200
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>alert(1)" not in page.text
    refused = app_client.post(
        f"/cases/{other}/transition", data={"to": "contacted", "csrf_token": _csrf(page.text)}
    )
    assert refused.status_code == 404


def test_branch_manager_works_a_case_through_the_forms(app_client):
    _log_in(app_client, "branch1@bank.example")
    mine = app_client.get("/cases")
    (case_id,) = _case_ids(mine.text)
    page = app_client.get(f"/cases/{case_id}")
    token = _csrf(page.text)
    url = f"/cases/{case_id}/transition"
    assert app_client.post(url, data={"to": "contacted", "csrf_token": "0" * 64}).status_code == 403
    moved = app_client.post(
        url, data={"to": "contacted", "note": "Phoned", "csrf_token": token}, follow_redirects=False
    )
    assert moved.status_code == 303
    resolved = app_client.post(url, data={"to": "resolved", "follow_up_score": "9", "csrf_token": token})
    assert resolved.status_code == 200
    refused = app_client.post(url, data={"to": "closed", "csrf_token": token})
    assert refused.status_code == 422 and "Closing needs a root cause" in refused.text
    closed = app_client.post(
        url,
        data={
            "to": "closed",
            "root_cause": "waiting_time",
            "resolution_note": "Priority desk",
            "csrf_token": token,
        },
    )
    assert closed.status_code == 200
    actions = re.findall(r'data-action="([a-z_]+)"', closed.text)
    assert actions == ["open", "contacted", "resolved", "closed"]
    assert 'id="case-status">Closed<' in closed.text
    assert app_client.get("/cases?status=open").text.count("data-case=") == 0
    assert _case_ids(app_client.get("/cases?status=closed").text) == [case_id]


def _options(html: str) -> list[tuple[str, str]]:
    select = re.search(r'<select id="to" name="to"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option value="([a-z_]*)"[^>]*>([^<]+)</option>', select)


def test_next_step_offers_valid_moves_in_order_with_no_default_and_says_what_is_wrong(app_client):
    """Regression: "Move to" defaulted to Close (the options were sorted by code, closed first), a resolved
    case offered two options both reading "Reopen" (the first one closed it), and refusals read raw codes
    ("closing needs a root-cause code, one of: staff_behaviour, process, ...")."""
    _log_in(app_client, "branch1@bank.example")
    (case_id,) = _case_ids(app_client.get("/cases").text)
    page = app_client.get(f"/cases/{case_id}").text
    assert re.search(r'<option value="" selected disabled>Choose the next step</option>', page)
    assert _options(page) == [
        ("", "Choose the next step"),
        ("contacted", "Mark contacted"),
        ("in_progress", "Start work"),
        ("closed", "Close"),
    ]
    url, token = f"/cases/{case_id}/transition", _csrf(page)
    nothing = app_client.post(url, data={"csrf_token": token})
    assert nothing.status_code == 422 and "Choose the next step for this case" in nothing.text
    assert 'id="case-status">New<' in nothing.text  # nothing moved
    early = app_client.post(url, data={"to": "resolved", "csrf_token": token})
    assert early.status_code == 409
    assert "A new case cannot move to resolved; its next steps are" in early.text
    assert "&#34;Mark contacted&#34;" in early.text or '"Mark contacted"' in early.text
    assert app_client.post(url, data={"to": "contacted", "csrf_token": token}).status_code == 200
    resolved = app_client.post(url, data={"to": "resolved", "csrf_token": token}).text
    reopen_or_close = [("", "Choose the next step"), ("in_progress", "Reopen"), ("closed", "Close")]
    assert _options(resolved) == reopen_or_close
    refused = app_client.post(url, data={"to": "closed", "csrf_token": token})
    assert refused.status_code == 422
    error = re.search(r'<p class="error" role="alert">(.*?)</p>', refused.text, re.S).group(1)
    assert "Closing needs a root cause" in error and "Waiting time or availability" in error
    assert not re.search(r"\b(staff_behaviour|waiting_time|customer_expectation)\b", error)
    no_note = app_client.post(url, data={"to": "closed", "root_cause": "waiting_time", "csrf_token": token})
    assert no_note.status_code == 422 and "Closing needs a resolution note" in no_note.text
    reopened = app_client.post(url, data={"to": "in_progress", "csrf_token": token})
    assert 'id="case-status">In progress<' in reopened.text
    assert re.findall(r'data-action="([a-z_]+)"', reopened.text)[-1] == "reopen"
