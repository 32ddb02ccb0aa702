"""Benchmarks for every demo persona (GET /api/v1/units/{unit_id}/benchmarks, the tiles, compare=peers):
present where the group is large enough, withheld with a note where not, and groups named by level only.

The demo at scale 0.05: bank -> 3 divisions -> 8 regions (2 or 3 per division) -> 16 branches, two per
region. So br-0001's region minus br-0001 is one other branch (the two-children case: refused), the company
is many units (shown), 16 branches and 8 regions are peer groups of at least CXLOOP_MIN_PEERS (5), 3
divisions are not.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from cxloop.services.access.identity import add_user
from cxloop.store.db import engine_for, session_scope
from cxloop.store.tables import Role
from cxloop.web.app import create_app
from support.web_demo import BRANCH, DIVISION, EXECUTIVE, REGION, login, page_login, web_demo

FRONTLINE = "frontline-br-0001@northwind.example"
FRONTLINE_PASSWORD = "frontline-demo-pw"  # noqa: S105 - a test login


@pytest.fixture(scope="module")
def world(tmp_path_factory, demo_companies):
    with web_demo(tmp_path_factory.mktemp("benchmarks") / "data", demo_companies) as demo:
        engine = engine_for(demo.settings)
        with session_scope(engine) as session:
            add_user(session, FRONTLINE, FRONTLINE_PASSWORD, Role.frontline, "br-0001", name="Frontline")
        engine.dispose()
        token = login(demo.client, FRONTLINE, FRONTLINE_PASSWORD).json()["access_token"]
        demo.headers[FRONTLINE] = {"Authorization": f"Bearer {token}"}
        yield demo


def _benchmarks(world, email: str, unit: str) -> dict:
    response = world.client.get(f"/api/v1/units/{unit}/benchmarks?metric=nps", headers=world.as_(email))
    assert response.status_code == 200, response.text
    body = response.json()
    assert [m["metric"] for m in body["metrics"]] == ["nps"]
    return body["metrics"][0]["benchmarks"]


def _present(entry: dict) -> bool:
    return entry["reference"] is not None and entry["difference"] is not None


# persona -> (unit, what each benchmark shows: True present, or the start of the note that withholds it)
PERSONAS = {
    EXECUTIVE: ("bank", {"parent": "not applicable", "company": "not applicable",
                         "peers": "withheld: fewer than 5 companies in the company"}),
    DIVISION: ("div-north", {"parent": True, "company": True,
                             "peers": "withheld: fewer than 5 divisions in the company"}),
    REGION: ("reg-north-west", {"parent": True, "company": True, "peers": True}),
    BRANCH: ("br-0001", {"parent": "withheld: the rest of your region is a single unit", "company": True,
                         "peers": True}),
    FRONTLINE: ("br-0001", {"parent": "withheld: the rest of your region is a single unit", "company": True,
                            "peers": True}),
}  # fmt: skip


@pytest.mark.parametrize("email", list(PERSONAS))
def test_each_persona_gets_benchmarks_where_the_group_is_large_enough(world, email):
    unit, expected = PERSONAS[email]
    found = _benchmarks(world, email, unit)
    for name, want in expected.items():
        entry = found[name]
        if want is True:
            assert _present(entry), (name, entry)
            assert entry["significant"] in (True, False)
        else:
            assert not _present(entry) and entry["note"].startswith(want), (name, entry)
    assert found["target"]["note"] == "no target set"


def test_labels_name_groups_by_level_and_peers_carry_rank_median_and_top_quartile(world):
    found = _benchmarks(world, BRANCH, "br-0001")
    assert found["parent"]["label"] == "your region"
    assert found["company"]["label"] == "the company"
    assert found["company"]["note"] == "tested against the rest of the company"
    peers = found["peers"]
    assert peers["label"] == "branches in the company"
    assert 5 <= peers["league_size"] <= 16
    assert peers["rank_low"] <= peers["rank"] <= peers["rank_high"] <= peers["league_size"]
    assert peers["median"] == peers["reference"] and peers["top_quartile"] >= peers["median"]


def test_the_branch_and_the_executive_see_the_same_company_benchmark_for_the_branch(world):
    """The aggregate is the same number whoever asks: only who may see it differs."""
    mine = _benchmarks(world, BRANCH, "br-0001")
    theirs = _benchmarks(world, EXECUTIVE, "br-0001")
    for name in ("company", "peers"):
        assert mine[name]["reference"] == pytest.approx(theirs[name]["reference"])
        assert mine[name]["difference"] == pytest.approx(theirs[name]["difference"])
    # the executive sees br-0001's region too (it is in their scope) and it is the same single sibling:
    # for them it is not a leak, so the comparison is shown
    assert _present(theirs["parent"])


def test_a_stored_target_is_a_benchmark(world):
    body = {"unit_id": "br-0001", "metric": "nps", "granularity": "year", "period_start": "2026-01-01",
            "target_value": 55, "rationale": "stretch"}  # fmt: skip
    created = world.client.post("/api/v1/targets", json=body, headers=world.as_(EXECUTIVE))
    assert created.status_code == 201, created.text
    target = _benchmarks(world, BRANCH, "br-0001")["target"]
    assert target["reference"] == 55 and target["label"] == "your target"
    assert target["difference"] is not None and target["difference"] < 0


def test_tiles_carry_company_and_peers_beside_previous_and_parent(world):
    body = world.client.get("/api/v1/units/br-0001/tiles", headers=world.as_(BRANCH)).json()
    nps = next(t for t in body["tiles"] if t["name"] == "nps")
    for name in ("previous", "parent", "company", "peers"):
        assert {"reference", "difference", "significant", "note"} <= set(nps[name]), name
    assert _present(nps["company"]) and _present(nps["peers"])
    assert nps["parent"]["note"].startswith("withheld: the rest of your region is a single unit")
    assert nps["peers"]["label"] == "branches in the company"


def test_metrics_answer_compare_peers_and_keep_parent_company_siblings(world):
    url = "/api/v1/units/br-0001/metrics?metric=nps&compare=parent,company,siblings,peers"
    response = world.client.get(url, headers=world.as_(BRANCH))
    assert response.status_code == 200, response.text
    cells = [c for c in response.json()["cells"] if not c["suppressed"]]
    assert cells
    names = [c["name"] for c in cells[-1]["comparisons"]]
    assert names == ["parent", "company", "siblings", "peers"]
    peers = cells[-1]["comparisons"][3]
    assert peers["rank"] is not None and peers["top_quartile"] is not None
    # nothing names a unit outside br-0001
    assert not re.search(r"br-00(0[2-9]|1\d)|reg-|div-|\"bank\"", response.text)


def test_benchmarks_refuse_bad_input_with_a_message(world):
    bad = world.client.get("/api/v1/units/br-0001/benchmarks?metric=churn", headers=world.as_(BRANCH))
    assert bad.status_code == 422
    outside = world.client.get("/api/v1/units/br-0002/benchmarks", headers=world.as_(BRANCH))
    assert outside.status_code == 404


def test_the_branch_manager_gets_priorities_with_gains_in_nps_points_and_money(world):
    """Where to improve first, for br-0001: each row's gap against the best 25% of branches, non-zero expected
    gains in NPS points and EUR a year on most rows, importances shrunk toward the company (the region is
    withheld: its rest is one branch), and no other unit named."""
    response = world.client.get("/api/v1/units/br-0001/priorities", headers=world.as_(BRANCH))
    assert response.status_code == 200, response.text
    body = response.json()
    rows = body["priorities"]
    assert body["benchmark"] == "top_quartile" and rows
    assert {r["benchmark_label"] for r in rows} == {"the best 25% of branches"}
    # at this scale br-0001 is among the best branches on half its items (scale 0.2: on 10 of 10 rows,
    # tests/services/understand/test_drivers_demo.py); every row with a gap has both gains
    gains = [r for r in rows if (r["expected_nps_points"] or 0) > 0 and (r["expected_margin"] or 0) > 0]
    assert len(gains) >= len(rows) / 2, [(r["driver"], r["expected_nps_points"]) for r in rows]
    assert len(gains) == len([r for r in rows if r["gap"] > 0])
    assert body["shrinkage"]["toward"] == "the company" and 0 < body["shrinkage"]["weight"] < 1
    assert all(r["importance_basis"] == "shrunk toward the company" for r in rows)
    assert all(r["why"].count(". ") == 0 and r["details"] for r in rows)
    assert not re.search(r"br-00(0[2-9]|1\d)|reg-|div-|\"bank\"", response.text)


def test_my_next_steps_list_the_top_priority_targets_off_track_and_actions_due(world):
    from datetime import date, timedelta

    soon = (date.today() + timedelta(days=3)).isoformat()
    later = (date.today() + timedelta(days=30)).isoformat()
    for title, due in (("Call back detractors", soon), ("Refit the counter", later)):
        body = {"title": title, "unit_id": "br-0001", "due_date": due, "owner": BRANCH}
        created = world.client.post("/api/v1/actions", json=body, headers=world.as_(EXECUTIVE))
        assert created.status_code == 201, created.text
    body = {"unit_id": "br-0001", "metric": "nps", "granularity": "quarter", "period_start": "2026-07-01",
            "target_value": 90, "rationale": "far off"}  # fmt: skip
    assert world.client.post("/api/v1/targets", json=body, headers=world.as_(EXECUTIVE)).status_code == 201

    response = world.client.get("/api/v1/me/next-steps", headers=world.as_(BRANCH))
    assert response.status_code == 200, response.text
    steps = response.json()
    top = steps["top_priority"]
    assert top["expected_nps_points"] > 0 and top["benchmark_label"] == "the best 25% of branches"
    assert top["action"]["unit_id"] == "br-0001" and top["action"]["driver"] == top["driver"]
    assert [a["title"] for a in steps["actions_due"]] == ["Call back detractors"]  # not the one in 30 days
    assert any(
        "NPS" in t["title"] and t["detail"].startswith("Off track") for t in steps["targets_off_track"]
    )
    assert steps["cases"] == [] and steps["empty"]["cases"] == "No open cases assigned to you."
    assert steps["empty"]["overdue"] == "No overdue cases."
    assert not re.search(r"br-00(0[2-9]|1\d)|reg-|div-|\"bank\"", response.text)

    # the home page shows the same list, with the prefilled "Create action" form when that route exists
    app = create_app(world.settings)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        assert page_login(client, BRANCH).status_code == 303
        html = client.get("/").text
    assert "My next steps" in html and top["label"] in html and "Call back detractors" in html
    assert "No open cases assigned to you." in html and "No overdue cases." in html


def test_the_unit_page_shows_a_branch_how_it_compares_and_colours_the_league(world):
    app = create_app(world.settings)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        assert page_login(client, BRANCH).status_code == 303
        html = client.get("/units/br-0001").text
        region = client.get("/units/reg-north-west")
        assert page_login(client, REGION).status_code == 303
        league = client.get("/units/reg-north-west").text
    assert region.status_code == 404  # outside their scope
    assert "How Edinburgh compares" in html
    peers = re.search(r'data-metric="nps">.*?data-against="peers">(.*?)</td>', html, re.S).group(1)
    assert " of " in peers and "best 25% from" in peers
    parent = re.search(r'data-metric="nps">.*?data-against="parent">(.*?)</td>', html, re.S).group(1)
    assert "withheld: the rest of your region is a single unit" in parent
    assert not re.search(r"br-00(0[2-9]|1\d)|reg-|div-|\"bank\"", html)
    states = re.findall(r'<tr data-unit="[^"]+" class="(\w+)" data-state="\w+">', league)
    assert len(states) == 3 and set(states) <= {"better", "worse", "level", "unknown"}


def test_the_trends_chart_draws_the_company_line_and_no_region_line_for_the_branch(world):
    import json

    app = create_app(world.settings)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        assert page_login(client, BRANCH).status_code == 303
        html = client.get("/units/br-0001/trends").text
    charts = json.loads(
        re.search(r'<script type="application/json" id="chart-data">(.*?)</script>', html, re.S)[1]
    )
    nps = next(c for c in charts if c["target"] == "trend-nps")
    names = [line["name"] for line in nps["lines"]]
    assert "company" in names and "parent" not in names  # the region's rest is one branch: withheld
    company = next(line for line in nps["lines"] if line["name"] == "company")
    assert company["label"] == "the company" and len(company["y"]) == len(nps["x"])
    assert sum(v is not None for v in company["y"]) >= len(nps["x"]) / 2


def test_the_ranking_behind_the_home_is_kept_per_data_version_and_stored_targets(world, monkeypatch):
    """The home asks for the top priority on every load: a repeated ranking is read from the cache; a stored
    target (app database, outside the data version) is part of its key."""
    from cxloop.services.understand import priorities as module

    calls = []
    rank = module._rank
    monkeypatch.setattr(module, "_rank", lambda *a, **k: calls.append(1) or rank(*a, **k))
    url = "/api/v1/units/br-0001/priorities"
    first = world.client.get(url, headers=world.as_(BRANCH)).json()
    again = world.client.get(url, headers=world.as_(BRANCH)).json()
    assert first == again and len(calls) <= 1
    before = len(calls)
    driver = first["priorities"][0]["driver"]
    body = {"unit_id": "br-0001", "metric": f"item:{driver}", "granularity": "year",
            "period_start": "2026-01-01", "target_value": 9.9, "rationale": "item target"}  # fmt: skip
    created = world.client.post("/api/v1/targets", json=body, headers=world.as_(BRANCH))
    assert created.status_code == 201, created.text
    after = world.client.get(url, headers=world.as_(BRANCH)).json()
    assert len(calls) == before + 1
    row = next(r for r in after["priorities"] if r["driver"] == driver)
    assert row["benchmark"] == 9.9 and row["benchmark_kind"] == "target"
