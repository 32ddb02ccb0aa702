"""The data routes return what the services compute, paginate, filter, and keep text as data."""

from __future__ import annotations

import pytest

from cxloop.services.access.scope import Viewer
from cxloop.services.stores import Stores
from cxloop.services.understand.comments import CommentsQuery, comments
from cxloop.services.understand.metrics import MetricsQuery, metrics
from cxloop.store.db import engine_for, session_scope
from cxloop.store.tables import Role
from cxloop.warehouse.connection import connect
from support.web_demo import BRANCH, EXECUTIVE


@pytest.fixture(scope="module")
def stores(demo):
    engine = engine_for(demo.settings)
    con = connect(demo.settings)
    with session_scope(engine) as session:
        yield session, con
    con.disconnect()
    engine.dispose()


def test_units_pages_cover_the_list_once_in_order(demo):
    headers = demo.as_(EXECUTIVE)
    full = demo.client.get("/api/v1/units?limit=1000", headers=headers).json()
    seen = []
    for offset in range(0, full["total"], 7):
        page = demo.client.get(f"/api/v1/units?limit=7&offset={offset}", headers=headers).json()
        assert page["total"] == full["total"] and page["limit"] == 7 and page["offset"] == offset
        seen += page["items"]
    assert seen == full["items"]
    assert full["items"][0] == {
        "unit_id": "bank",
        "parent_id": None,
        "name": "Northwind Bank",
        "level": "company",
        "depth": 0,
    }
    depths = [u["depth"] for u in full["items"]]
    assert depths == sorted(depths)
    beyond = demo.client.get(f"/api/v1/units?offset={full['total']}", headers=headers).json()
    assert beyond["items"] == [] and beyond["total"] == full["total"]


def test_metrics_route_returns_the_service_cells(demo, stores):
    session, con = stores
    response = demo.client.get(
        "/api/v1/units/div-north/metrics?by=quarter&metric=nps,csat&compare=previous&include=children",
        headers=demo.as_(EXECUTIVE),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    query = MetricsQuery(
        unit="div-north", include="children", grain="quarter", metrics=("nps", "csat"), compare=("previous",)
    )
    expected = metrics(
        Viewer("bank", Role.executive),
        query,
        stores=Stores(settings=demo.settings, session=session, warehouse=con),
    )
    records = expected.to_records()
    assert len(body["cells"]) == len(records) > 0
    for cell, record in zip(body["cells"], records, strict=True):
        assert (cell["unit"], cell["period"], cell["metric"]) == (
            record["unit"],
            record["period"],
            record["metric"],
        )
        assert cell["n"] == record["n"] and cell["suppressed"] == record["suppressed"]
        assert (
            cell["estimate"] == pytest.approx(record["estimate"])
            if record["estimate"] is not None
            else cell["estimate"] is None
        )
        assert (
            cell["difference"] == pytest.approx(record["difference"])
            if record["difference"] is not None
            else cell["difference"] is None
        )
        assert cell["significant"] == record["significant"]
        assert cell["comparisons"][0]["name"] == "previous"
    assert {c["unit"] for c in body["cells"]} >= {"div-north", "reg-north-west"}
    assert body["compare"] == ["previous"] and body["min_n"] == demo.settings.min_n


def test_suppressed_metric_cells_carry_no_numbers(demo):
    body = demo.client.get(
        "/api/v1/units/br-0001/metrics?by=day,touchpoint&metric=nps", headers=demo.as_(BRANCH)
    ).json()
    suppressed = [c for c in body["cells"] if c["suppressed"]]
    assert suppressed, "daily cells per touchpoint of one branch should include small ones"
    for cell in suppressed:
        assert cell["n"] is None and cell["estimate"] is None and cell["ci_low"] is None


def test_metrics_with_two_comparisons_lists_both(demo):
    body = demo.client.get(
        "/api/v1/units/reg-north-west/metrics?by=total&metric=nps&compare=parent,company",
        headers=demo.as_(EXECUTIVE),
    ).json()
    (cell,) = body["cells"]
    assert [c["name"] for c in cell["comparisons"]] == ["parent", "company"]
    assert cell["difference"] == cell["comparisons"][0]["difference"]
    assert cell["comparisons"][0]["reference"] is not None


def test_drivers_route_ranks_items(demo):
    body = demo.client.get("/api/v1/units/bank/drivers?outcome=nps", headers=demo.as_(EXECUTIVE)).json()
    assert body["suppressed"] is False and body["n"] > 0
    ranks = [d["rank"] for d in body["drivers"]]
    assert ranks == sorted(ranks) and ranks[0] == 1
    assert sum(d["relative_importance"] for d in body["drivers"]) == pytest.approx(1.0)


def test_comments_page_matches_the_service_and_paginates(demo, stores):
    session, con = stores
    headers = demo.as_(EXECUTIVE)
    first = demo.client.get("/api/v1/units/div-north/comments?limit=5", headers=headers).json()
    second = demo.client.get("/api/v1/units/div-north/comments?limit=5&offset=5", headers=headers).json()
    assert first["suppressed"] is False and first["total"] > 10
    assert len(first["items"]) == len(second["items"]) == 5
    assert not {c["response_id"] for c in first["items"]} & {c["response_id"] for c in second["items"]}
    times = [c["submitted_at"] for c in first["items"] + second["items"]]
    assert times == sorted(times, reverse=True)
    page = comments(
        Viewer("bank", Role.executive),
        CommentsQuery(unit="div-north", limit=5),
        stores=Stores(settings=demo.settings, session=session, warehouse=con),
    )
    assert [c["response_id"] for c in first["items"]] == [c["response_id"] for c in page.items]
    assert first["total"] == page.total


def test_comment_search_and_filters_narrow_the_stream(demo):
    headers = demo.as_(EXECUTIVE)
    everything = demo.client.get("/api/v1/units/bank/comments?limit=1", headers=headers).json()
    word = (
        demo.client.get("/api/v1/units/bank/comments?limit=500", headers=headers)
        .json()["items"][0]["comment"]
        .split()[0]
    )
    searched = demo.client.get(
        f"/api/v1/units/bank/comments?q={word.upper()}&limit=500", headers=headers
    ).json()
    assert 0 < searched["total"] <= everything["total"]
    assert all(word.lower() in c["comment"].lower() for c in searched["items"])
    touchpoint = searched["items"][0]["touchpoint"]
    filtered = demo.client.get(
        f"/api/v1/units/bank/comments?touchpoint={touchpoint}&limit=500", headers=headers
    ).json()
    assert filtered["total"] < everything["total"]
    assert {c["touchpoint"] for c in filtered["items"]} == {touchpoint}


def test_comments_are_suppressed_below_min_n(demo):
    headers = demo.as_(BRANCH)
    own = demo.client.get("/api/v1/units/br-0001/comments", headers=headers).json()
    assert own["suppressed"] is False and own["n"] >= demo.settings.min_n
    nothing = demo.client.get(
        "/api/v1/units/br-0001/comments?touchpoint=no-such-touchpoint", headers=headers
    ).json()
    assert nothing["suppressed"] is True and nothing["items"] == [] and nothing["n"] is None


def test_comment_text_with_html_is_returned_as_text(demo, stores):
    _, con = stores
    # The demo is shared by the session's web tests (another one plants its own script comment): search
    # for this test's marker, which only its comment carries.
    script = "<script>alert('data-routes')</script> & <b>bold</b>"
    con.raw_sql(
        "UPDATE responses SET comment = '" + script.replace("'", "''") + "' WHERE response_id = "
        "(SELECT min(response_id) FROM responses WHERE unit_id = 'br-0001')"
    )
    body = demo.client.get(
        "/api/v1/units/br-0001/comments?q=<script>alert('data-routes')&limit=500", headers=demo.as_(BRANCH)
    )
    assert body.status_code == 200
    assert body.headers["content-type"].startswith("application/json")
    assert [c["comment"] for c in body.json()["items"]] == [script]
