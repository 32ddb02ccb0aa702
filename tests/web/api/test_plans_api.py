"""/api/v1/targets and /api/v1/actions on the demo company: scope (404 like unknown), the top-down lock (403),
progress verdicts against the demo's own NPS, the action workflow, and 4xx (never 500) on bad input.

The shared demo app is session-scoped, so these tests set targets on branches and regions only (never on
``bank``, whose "no target stored" answer another test relies on)."""

from __future__ import annotations

import pytest

from support.web_demo import ANALYST, BRANCH, EXECUTIVE, REGION


def _units(demo) -> list[dict]:
    return demo.client.get("/api/v1/units?limit=1000", headers=demo.as_(EXECUTIVE)).json()["items"]


def _family(demo) -> tuple[str, str]:
    """br-0001's region and a sibling branch."""
    units = _units(demo)
    region = next(u["parent_id"] for u in units if u["unit_id"] == "br-0001")
    sibling = sorted(u["unit_id"] for u in units if u["parent_id"] == region and u["unit_id"] != "br-0001")[0]
    return region, sibling


def _error(response) -> dict:
    return response.json()["error"]


def test_top_down_target_is_locked_for_the_branch_and_siblings_are_invisible(demo):
    region, sibling = _family(demo)
    body = {"unit_id": "br-0001", "metric": "csat", "granularity": "year", "period_start": "2025-06-30",
            "target_value": 80, "rationale": "region plan"}  # fmt: skip
    created = demo.client.post("/api/v1/targets", json=body, headers=demo.as_(EXECUTIVE))
    assert created.status_code == 201, created.text
    target = created.json()
    assert target["origin"] == "top_down" and target["period_start"] == "2025-01-01"
    assert target["set_by"] == EXECUTIVE and target["period"] == "2025"
    locked = demo.client.patch(
        f"/api/v1/targets/{target['id']}", json={"target_value": 60}, headers=demo.as_(BRANCH)
    )
    assert locked.status_code == 403 and _error(locked)["code"] == "target_locked"
    assert "set top-down" in _error(locked)["message"]
    assert demo.client.delete(f"/api/v1/targets/{target['id']}", headers=demo.as_(BRANCH)).status_code == 403
    # the branch sees it; a sibling's target is answered like an unknown one
    listed = demo.client.get("/api/v1/targets?unit=br-0001", headers=demo.as_(BRANCH)).json()["targets"]
    assert target["id"] in [t["id"] for t in listed]
    other = demo.client.post(
        "/api/v1/targets", json={**body, "unit_id": sibling}, headers=demo.as_(EXECUTIVE)
    )
    assert other.status_code == 201
    hidden = demo.client.get(f"/api/v1/targets/{other.json()['id']}", headers=demo.as_(BRANCH))
    missing = demo.client.get("/api/v1/targets/999999", headers=demo.as_(BRANCH))
    assert hidden.status_code == missing.status_code == 404
    assert _error(hidden)["message"].replace(str(other.json()["id"]), "X") == _error(missing)[
        "message"
    ].replace("999999", "X")
    setting = demo.client.post("/api/v1/targets", json={**body, "unit_id": sibling}, headers=demo.as_(BRANCH))
    assert setting.status_code == 404
    analyst = demo.client.post("/api/v1/targets", json={**body, "unit_id": region}, headers=demo.as_(ANALYST))
    assert analyst.status_code == 403


@pytest.mark.parametrize(("value", "verdict"), [(-60.0, "on_track"), (90.0, "off_track")])
def test_progress_verdicts_on_the_demo(demo, value, verdict):
    """The demo's region NPS in 2025 lies well inside -60..90: a target of -60 is clearly beaten, one of 90
    clearly missed, and both differences are significant."""
    region = "reg-north-west"  # the demo region manager's unit
    body = {"unit_id": region, "metric": "nps", "granularity": "year", "period_start": "2025-01-01",
            "target_value": value}  # fmt: skip
    created = demo.client.post("/api/v1/targets", json=body, headers=demo.as_(EXECUTIVE))
    assert created.status_code == 201, created.text
    progress = demo.client.get(f"/api/v1/targets/{created.json()['id']}/progress", headers=demo.as_(REGION))
    assert progress.status_code == 200, progress.text
    result = progress.json()
    assert result["verdict"] == verdict, result["sentence"]
    assert -60 < result["estimate"] < 90 and result["n"] > 100
    assert result["ci_low"] < result["estimate"] < result["ci_high"]
    assert result["p_value"] < 0.05 and result["gap"] == pytest.approx(result["estimate"] - value)
    # the metrics layer's target comparison reads the same stored target
    cells = demo.client.get(
        f"/api/v1/units/{region}/metrics?by=year&metric=nps&compare=target&from=2025-01-01&to=2025-12-31",
        headers=demo.as_(REGION),
    ).json()["cells"]
    assert cells[0]["comparisons"][0]["reference"] == value


def test_action_workflow_notes_and_measured_change(demo):
    body = {"title": "Second teller at lunch", "unit_id": "br-0001", "due_date": "2025-03-31",
            "impact_metric": "nps", "impact_points": 3, "owner": BRANCH}  # fmt: skip
    created = demo.client.post("/api/v1/actions", json=body, headers=demo.as_(EXECUTIVE))
    assert created.status_code == 201, created.text
    action = created.json()
    assert action["status"] == "planned" and action["overdue"] is True  # due in the past, still open
    assert [e["action"] for e in action["audit"]] == ["created"]
    moved = demo.client.post(
        f"/api/v1/actions/{action['id']}/transitions", json={"to": "in_progress"}, headers=demo.as_(BRANCH)
    )
    assert moved.status_code == 200 and moved.json()["started_at"]
    note = demo.client.post(
        f"/api/v1/actions/{action['id']}/notes", json={"body": "<b>rota</b> agreed"}, headers=demo.as_(BRANCH)
    )
    assert note.status_code == 201 and note.json()["author"] == BRANCH
    bad_move = demo.client.post(
        f"/api/v1/actions/{action['id']}/transitions", json={"to": "reopen"}, headers=demo.as_(BRANCH)
    )
    assert bad_move.status_code == 422 and "reopen" in _error(bad_move)["message"]
    detail = demo.client.get(f"/api/v1/actions/{action['id']}", headers=demo.as_(BRANCH)).json()
    assert [e["action"] for e in detail["audit"]] == ["created", "status:in_progress", "note"]
    change = demo.client.get(f"/api/v1/actions/{action['id']}/measured-change", headers=demo.as_(BRANCH))
    assert change.status_code == 200, change.text
    assert change.json()["state"] in {"not_started", "measured", "suppressed"}
    assert "pilot" in change.json()["caveat"]
    overdue = demo.client.get("/api/v1/actions?overdue=true&unit=br-0001", headers=demo.as_(BRANCH)).json()
    assert action["id"] in [a["id"] for a in overdue["actions"]]
    assert demo.client.get(f"/api/v1/actions/{action['id']}", headers=demo.as_(REGION)).status_code == 404
    _, sibling = _family(demo)
    assert demo.client.get(f"/api/v1/actions?unit={sibling}", headers=demo.as_(BRANCH)).status_code == 404


def test_paging_of_actions(demo):
    for k in range(3):
        body = {"title": f"paging {k}", "unit_id": "br-0001"}
        assert demo.client.post("/api/v1/actions", json=body, headers=demo.as_(BRANCH)).status_code == 201
    first = demo.client.get("/api/v1/actions?mine=true&per_page=2", headers=demo.as_(BRANCH)).json()
    second = demo.client.get("/api/v1/actions?mine=true&per_page=2&page=2", headers=demo.as_(BRANCH)).json()
    assert first["total"] == second["total"] >= 3
    assert len(first["actions"]) == 2
    assert not {a["id"] for a in first["actions"]} & {a["id"] for a in second["actions"]}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/v1/targets", {"unit_id": "br-0001", "metric": "nps", "granularity": "fortnight",
                                     "period_start": "2025-01-01", "target_value": 10}),
        ("post", "/api/v1/targets", {"unit_id": "br-0001", "metric": "nps", "granularity": "year",
                                     "period_start": "2025-13-01", "target_value": 10}),
        ("post", "/api/v1/targets", {"unit_id": "br-0001", "metric": "nps", "granularity": "year",
                                     "period_start": "2025-01-01", "target_value": 400}),
        ("post", "/api/v1/targets", {"unit_id": "br-0001", "metric": "mood", "granularity": "year",
                                     "period_start": "2025-01-01", "target_value": 1}),
        ("post", "/api/v1/targets", {"unit_id": "br-0001", "metric": "nps", "granularity": "year",
                                     "period_start": "2025-01-01", "target_value": "lots"}),
        ("post", "/api/v1/actions", {"title": "", "unit_id": "br-0001"}),
        ("post", "/api/v1/actions", {"title": "x", "unit_id": "br-0001", "cost": -5}),
        ("post", "/api/v1/actions", {"title": "x", "unit_id": "br-0001", "horizon": "someday"}),
        ("post", "/api/v1/actions", {"title": "x", "unit_id": "br-0001", "driver": "no_such_item"}),
        ("post", "/api/v1/actions", {"title": "x", "unit_id": "br-0001", "touchpoint_id": "moon"}),
        ("post", "/api/v1/actions", {"title": "x", "unit_id": "br-0001", "owner": "nobody@x.example"}),
        ("post", "/api/v1/actions", {"title": "x", "unit_id": "br-0001", "colour": "red"}),
        ("post", "/api/v1/actions", [1, 2, 3]),
        ("get", "/api/v1/actions?per_page=0", None),
        ("get", "/api/v1/actions?status=finished", None),
        ("get", "/api/v1/actions/0", None),
        ("get", "/api/v1/actions/99999999999", None),
        ("get", "/api/v1/targets?active_on=yesterday", None),
    ],
)  # fmt: skip
def test_bad_input_is_422_never_500(demo, method, path, body):
    call = getattr(demo.client, method)
    response = (
        call(path, json=body, headers=demo.as_(BRANCH))
        if body is not None
        else call(path, headers=demo.as_(BRANCH))
    )
    assert response.status_code == 422, (path, body, response.status_code, response.text)
    assert _error(response)["code"] in {"validation_error", "bad_request"}


def test_non_json_body_and_unknown_ids(demo):
    raw = demo.client.post(
        "/api/v1/actions",
        content=b"\xff\xfe not json",
        headers={**demo.as_(BRANCH), "Content-Type": "application/json"},
    )
    assert raw.status_code in (400, 422) and "error" in raw.json()  # 4xx with the standard body
    assert demo.client.get("/api/v1/actions/424242", headers=demo.as_(BRANCH)).status_code == 404
    assert demo.client.get("/api/v1/targets/424242/progress", headers=demo.as_(BRANCH)).status_code == 404
    assert demo.client.get("/api/v1/actions").status_code == 401


@pytest.mark.parametrize("metric", ["churn", "repeat_purchase"])
def test_progress_and_measured_change_of_behavioural_metrics(demo, metric):
    """Churn and repeat purchase come from the business KPIs (customers, not responses): a rate in % with
    its Wilson interval, tested against the target with a one-sample proportion test."""
    body = {"unit_id": "reg-north-west", "metric": metric, "granularity": "year",
            "period_start": "2025-01-01", "target_value": 0.5}  # fmt: skip
    created = demo.client.post("/api/v1/targets", json=body, headers=demo.as_(REGION))
    assert created.status_code == 201, created.text
    assert created.json()["origin"] == "own"
    result = demo.client.get(
        f"/api/v1/targets/{created.json()['id']}/progress", headers=demo.as_(REGION)
    ).json()
    assert result["test"].startswith("one-sample z test of a proportion")
    if not result["suppressed"]:
        assert 0 <= result["ci_low"] <= result["estimate"] <= result["ci_high"] <= 100
        assert result["verdict"] in {"on_track", "off_track", "too_early"}
        lower_is_better = metric == "churn"
        assert result["higher_is_better"] is not lower_is_better
    action = demo.client.post(
        "/api/v1/actions",
        json={
            "title": f"move {metric}",
            "unit_id": "reg-north-west",
            "impact_metric": metric,
            "impact_points": 1,
        },
        headers=demo.as_(REGION),
    ).json()
    demo.client.post(
        f"/api/v1/actions/{action['id']}/transitions", json={"to": "in_progress"}, headers=demo.as_(REGION)
    )
    change = demo.client.get(f"/api/v1/actions/{action['id']}/measured-change", headers=demo.as_(REGION))
    assert change.status_code == 200 and change.json()["metric"] == metric
