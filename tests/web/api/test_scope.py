"""Scope on every route: a branch manager gets 404 for a sibling branch and the region above; the
executive sees everything. Outside-scope answers are indistinguishable from unknown units."""

from __future__ import annotations

import pytest

from support.web_demo import ANALYST, BRANCH, DIVISION, EXECUTIVE, REGION

ROUTES = ["", "/metrics?by=total", "/drivers", "/comments"]


def _around(demo, target: str) -> str:
    """br-0001's region ("region"), another branch of that region ("sibling"), or ``target`` itself."""
    units = demo.client.get("/api/v1/units?limit=1000", headers=demo.as_(EXECUTIVE)).json()["items"]
    region = next(u["parent_id"] for u in units if u["unit_id"] == "br-0001")
    if target == "region":
        return region
    if target == "sibling":
        branches = sorted(
            u["unit_id"] for u in units if u["parent_id"] == region and u["unit_id"] != "br-0001"
        )
        assert branches, "the region should have more than one branch"
        return branches[0]
    return target


@pytest.mark.parametrize("route", ROUTES)
def test_branch_manager_sees_own_branch(demo, route):
    response = demo.client.get(f"/api/v1/units/br-0001{route}", headers=demo.as_(BRANCH))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("target", ["sibling", "region", "reg-north-west", "div-north", "bank"])
def test_branch_manager_gets_404_above_and_beside(demo, route, target):
    unit = _around(demo, target)
    response = demo.client.get(f"/api/v1/units/{unit}{route}", headers=demo.as_(BRANCH))
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "unit_not_found"
    assert unit not in error["suggestions"]


@pytest.mark.parametrize("route", ROUTES)
def test_outside_scope_looks_like_an_unknown_unit(demo, route):
    hidden = demo.client.get(f"/api/v1/units/br-0002{route}", headers=demo.as_(BRANCH))
    unknown = demo.client.get(f"/api/v1/units/br-9999{route}", headers=demo.as_(BRANCH))
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.json()["error"]["suggestions"] == unknown.json()["error"]["suggestions"] == ["br-0001"]
    assert set(hidden.json()["error"]) == set(unknown.json()["error"])


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("unit", ["bank", "div-north", "reg-north-west", "br-0001"])
def test_executive_sees_everything(demo, route, unit):
    response = demo.client.get(f"/api/v1/units/{unit}{route}", headers=demo.as_(EXECUTIVE))
    assert response.status_code == 200, response.text


def test_units_list_is_the_viewers_subtree(demo):
    def ids(email):
        body = demo.client.get("/api/v1/units?limit=1000", headers=demo.as_(email)).json()
        assert body["total"] == len(body["items"])
        return {u["unit_id"] for u in body["items"]}

    everything, analyst = ids(EXECUTIVE), ids(ANALYST)
    division, region, branch = ids(DIVISION), ids(REGION), ids(BRANCH)
    assert branch == {"br-0001"}
    assert branch < division < everything == analyst
    assert region < division and not branch & region
    assert "bank" in everything and "bank" not in division
    assert "reg-north-west" in division and "div-north" not in region


def test_unit_ids_that_the_service_treats_specially_do_not_leak(demo):
    for unit in ("%", "_", "bank/", "br-000_", "%25"):
        response = demo.client.get(f"/api/v1/units/{unit}/metrics", headers=demo.as_(BRANCH))
        assert response.status_code == 404, unit
