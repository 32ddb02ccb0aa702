"""Dashboard pages and their JSON twins (trends, touchpoints, priorities, value, tiles): scope on EVERY
route of the app (enumerated from ``app.routes``, so routes added later are covered), filters, CSV
exports (formula-safe, suppression kept), HTML/JS in comments shown as text, the Content-Security-Policy,
and the one-click action form."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from cxloop.demo.users import DEMO_PASSWORD
from cxloop.services.access.scope import Viewer
from cxloop.services.stores import Stores, open_stores
from cxloop.services.understand import dashboard
from cxloop.services.understand.metrics import MetricsQuery, metrics
from cxloop.services.understand.priorities import priorities
from cxloop.store.db import engine_for, session_scope
from cxloop.store.tables import Role
from cxloop.warehouse.connection import connect
from cxloop.web.app import CONTENT_SECURITY_POLICY, create_app
from cxloop.web.pages.dashboard import ACTION_FROM_PRIORITY, safe_cell, served_routes
from support.web_demo import BRANCH, EXECUTIVE, REGION, login, web_demo

DASHBOARD_PAGES = ["trends", "touchpoints", "priorities", "value"]
#: Routes anyone may call: health and readiness, login, the API description, and fixed vocabularies holding
#: no data.
PUBLIC = {
    "/healthz",
    "/readyz",
    "/login",
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/api/v1/cases/root-causes",
}
SCRIPT = "<script>alert('h7xss')</script><img src=x onerror=alert(1)> dashboard"
FORMULA = '=HYPERLINK("http://evil.example","click") h7xss'


def _client(settings, email: str | None) -> TestClient:
    """A client logged in both ways: the session cookie (pages) and a bearer token (API)."""
    client = TestClient(create_app(settings), base_url="https://testserver", follow_redirects=False)
    if email is None:
        return client
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form).group(1)
    response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    bearer = login(client, email).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {bearer}"
    return client


@pytest.fixture(scope="module")
def demo(tmp_path_factory, demo_companies):
    """This module's own copy of the web demo, with a top-down target on br-0001 set by the executive: its
    origin (the company, above the branch) is something the leak scan must never see, whichever modules ran
    before in the same process."""
    with web_demo(tmp_path_factory.mktemp("dashboard") / "data", demo_companies) as world:
        body = {"unit_id": "br-0001", "metric": "nps", "granularity": "quarter", "period_start": "2026-07-01",
                "target_value": 60, "rationale": "company plan"}  # fmt: skip
        created = world.client.post("/api/v1/targets", json=body, headers=world.as_(EXECUTIVE))
        assert created.status_code == 201, created.text
        assert created.json()["set_from_unit_id"] == "bank"  # the executive sees where they set it
        yield world


@pytest.fixture(scope="module")
def branch(demo):
    with _client(demo.settings, BRANCH) as client:
        yield client


@pytest.fixture(scope="module")
def executive(demo):
    with _client(demo.settings, EXECUTIVE) as client:
        yield client


@pytest.fixture(scope="module")
def around(demo) -> dict[str, str]:
    """br-0001 (the branch manager's unit), its region, and a sibling branch in that region."""
    units = demo.client.get("/api/v1/units?limit=1000", headers=demo.as_(EXECUTIVE)).json()["items"]
    region = next(u["parent_id"] for u in units if u["unit_id"] == "br-0001")
    sibling = sorted(u["unit_id"] for u in units if u["parent_id"] == region and u["unit_id"] != "br-0001")[0]
    return {"own": "br-0001", "region": region, "sibling": sibling}


@pytest.fixture(scope="module")
def stores(demo):
    engine = engine_for(demo.settings)
    con = connect(demo.settings)
    with session_scope(engine) as session:
        yield session, con
    con.disconnect()
    engine.dispose()


# --- every route of the app -------------------------------------------------------------------------


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    """``(method, path)`` of every route the app serves, including CSV variants of the dashboard pages."""
    found = []
    for path, methods in served_routes(app):
        for method in sorted(methods - {"HEAD", "OPTIONS"}):
            found.append((method, path))
            if method == "GET" and path.startswith("/units/") and path.rsplit("/", 1)[-1] in DASHBOARD_PAGES:
                found.append((method, path + "?format=csv"))
    return found


def _unit_routes(app: FastAPI) -> list[str]:
    """GET routes whose only path parameter is the unit (pages, API, exports)."""
    return [
        path
        for method, path in _routes(app)
        if method == "GET" and set(re.findall(r"{(\w+)}", path)) == {"unit_id"}
    ]


_APP_FOR_COLLECTION = None


def _collected(kind: str) -> list[str]:
    """Routes enumerated at collection time from an app over default settings (no stores are opened)."""
    from cxloop.config import Settings

    global _APP_FOR_COLLECTION
    if _APP_FOR_COLLECTION is None:
        _APP_FOR_COLLECTION = create_app(Settings(environment="test", secret_key="collect-" + "k" * 40))
    if kind == "unit":
        return _unit_routes(_APP_FOR_COLLECTION)
    if kind == "plain_get":
        return [p for m, p in _routes(_APP_FOR_COLLECTION) if m == "GET" and "{" not in p]
    return [f"{m} {p}" for m, p in _routes(_APP_FOR_COLLECTION)]


def _is_unit_not_found(response) -> bool:
    if response.status_code != 404:
        return False
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()["error"]["code"] == "unit_not_found"
    return "No unit" in response.text


def test_the_route_enumeration_sees_the_dashboard(demo):
    routes = _unit_routes(create_app(demo.settings))
    for page in DASHBOARD_PAGES:
        assert f"/units/{{unit_id}}/{page}" in routes
        assert f"/units/{{unit_id}}/{page}?format=csv" in routes
        assert f"/api/v1/units/{{unit_id}}/{page}" in routes
    assert "/api/v1/units/{unit_id}/tiles" in routes and "/units/{unit_id}/comments.csv" in routes
    assert "/api/v1/units/{unit_id}/metrics" in routes and "/units/{unit_id}/export.csv" in routes


@pytest.mark.parametrize("path", _collected("unit"))
@pytest.mark.parametrize("target", ["sibling", "region"])
def test_branch_manager_gets_404_for_a_sibling_and_the_region_on_every_route(branch, around, path, target):
    unit = around[target]
    response = branch.get(path.replace("{unit_id}", unit))
    assert response.status_code in (403, 404), (path, response.status_code)
    assert unit not in response.text or _is_unit_not_found(response)
    if response.status_code == 404 and response.headers["content-type"].startswith("application/json"):
        assert unit not in response.json()["error"].get("suggestions", [])


@pytest.mark.parametrize("path", _collected("unit"))
def test_branch_manager_reaches_their_own_unit_on_every_route_and_sees_no_other_unit(
    branch, around, outside, path
):
    response = branch.get(path.replace("{unit_id}", around["own"]))
    assert response.status_code < 500, response.text[:500]
    assert response.status_code != 403 and not _is_unit_not_found(response), (path, response.text[:300])
    assert not _leaks(response.text, outside), (path, _leaks(response.text, outside))


def _is_export(path: str) -> bool:
    return path.endswith((".csv", "?format=csv"))


@pytest.mark.parametrize("path", [p for p in _collected("unit") if not p.startswith("/api/")])
def test_every_page_carries_the_session_csrf_token_in_its_logout_form(branch, around, path):
    """Every page starts from one page viewer, so the header's logout form works from any of them; a CSV
    export is a CSV (no page around it)."""
    token = re.compile(r'action="/logout"><input type="hidden" name="csrf_token" value="([^"]*)"')
    home = token.search(branch.get("/").text)
    assert home and home.group(1)
    response = branch.get(path.replace("{unit_id}", around["own"]))
    assert response.status_code == 200, (path, response.status_code)
    if _is_export(path):
        assert response.headers["content-type"].startswith("text/csv") and not token.search(response.text)
        return
    assert response.headers["content-type"].startswith("text/html"), path
    found = token.search(response.text)
    assert found is not None, path
    assert found.group(1) == home.group(1), path


@pytest.mark.parametrize("path", _collected("unit"))
@pytest.mark.parametrize("target", ["sibling", "region"])
def test_executive_sees_everything_on_every_route(executive, around, path, target):
    response = executive.get(path.replace("{unit_id}", around[target]))
    assert response.status_code < 500, response.text[:500]
    assert response.status_code != 403 and not _is_unit_not_found(response), (path, response.text[:300])
    if response.status_code == 404:  # only "nothing to show here" (no_data, no_scores ...), never "not yours"
        assert response.json()["error"]["code"] not in ("unit_not_found", "not_found")


@pytest.fixture(scope="module")
def outside(demo) -> dict[str, str]:
    """Every unit outside the branch manager's subtree (br-0001): id -> name, ancestors included."""
    units = demo.client.get("/api/v1/units?limit=1000", headers=demo.as_(EXECUTIVE)).json()["items"]
    return {u["unit_id"]: u["name"] for u in units if u["unit_id"] != "br-0001"}


def _leaks(text: str, outside: dict[str, str]) -> list[str]:
    """The ids and names of units outside the viewer's subtree that ``text`` shows: a name as whole words, an
    id as a value (quoted, a path segment or a CSV cell), since the company's id ``bank`` is also a word of
    the survey's item labels ("I trust the bank ...")."""
    found = []
    for unit_id, name in outside.items():
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
            found.append(name)
        if re.search(rf"""(["'=/>]|^|,){re.escape(unit_id)}(["'<?/&]|$|,)""", text, re.M):
            found.append(unit_id)
    return found


def test_the_leak_check_sees_an_id_a_name_and_a_csv_cell_but_not_a_word():
    outside = {"bank": "Northwind Bank", "reg-scotland": "Scotland"}
    assert _leaks('{"parent_id":"reg-scotland"}', outside) == ["reg-scotland"]
    assert _leaks("<td>Scotland</td>", outside) == ["Scotland"]
    assert _leaks("unit,n\nbank,12", outside) == ["bank"]
    assert _leaks('<a href="/units/bank/trends">', outside) == ["bank"]
    assert _leaks("I trust the bank to look after my money; br-0001 in reg-scotlandish", outside) == []


@pytest.mark.parametrize("path", _collected("plain_get"))
def test_routes_without_a_unit_leak_no_unit_outside_the_branch(branch, outside, path):
    """What a branch manager may know of the units above and beside their branch: the aggregates of the
    groups they belong to, labelled by level ("your region", "the company"), never another unit's id, name
    or own numbers. Checked on every answer, whatever its content type (HTML, JSON, CSV)."""
    response = branch.get(path)
    assert response.status_code < 500, response.text[:500]
    if response.status_code == 200 and not path.startswith("/static/"):  # static assets hold no data
        assert not _leaks(response.text, outside), (path, _leaks(response.text, outside))


@pytest.mark.parametrize("route", _collected("all"))
def test_every_route_refuses_anonymous_callers(demo, route):
    method, path = route.split(" ")
    if path.split("?")[0] in PUBLIC:
        return  # public by design
    if path.startswith("/static/") or path == "/api/v1/auth/token":
        return  # assets and the token endpoint itself
    url = re.sub(r"{\w+}", "br-0002", path)
    with _client(demo.settings, None) as anonymous:
        response = anonymous.request(method, url)
    assert response.status_code in (303, 401, 403, 404, 405, 422), (route, response.status_code)
    if response.status_code == 303:
        assert response.headers["location"] == "/login"
    assert "br-0002" not in response.text or response.status_code in (404, 422)


# --- the pages and their JSON twins -----------------------------------------------------------------


def test_trends_page_json_and_service_agree(executive, stores, demo):
    session, con = stores
    body = executive.get("/api/v1/units/reg-scotland/trends?grain=quarter&segment=mass").json()
    result = metrics(
        Viewer("bank", Role.executive),
        MetricsQuery(
            unit="reg-scotland", grain="quarter", compare=("previous",), segments=frozenset({"mass"})
        ),
        stores=Stores(settings=demo.settings, session=session, warehouse=con),
    )
    expected = [r for r in result.to_records() if r["unit"] == "reg-scotland" and r["metric"] == "nps"]
    points = next(s for s in body["series"] if s["metric"] == "nps")["points"]
    assert [p["n"] for p in points] == [r["n"] for r in expected]
    assert [p["estimate"] for p in points] == pytest.approx([r["estimate"] for r in expected], nan_ok=True)
    page = executive.get("/units/reg-scotland/trends?grain=quarter&segment=mass").text
    shown = [p for p in points if not p["suppressed"]]
    assert f"{shown[-1]['estimate']:.1f}" in page and f"{shown[-1]['n']:,}" in page
    unfiltered = executive.get("/api/v1/units/reg-scotland/trends?grain=quarter").json()
    total = sum(p["n"] or 0 for p in next(s for s in unfiltered["series"] if s["metric"] == "nps")["points"])
    assert 0 < sum(p["n"] or 0 for p in points) < total


def test_filters_narrow_every_page_and_bad_ones_are_refused(executive):
    for page in DASHBOARD_PAGES:
        response = executive.get(f"/units/reg-scotland/{page}?from=2026-01-01&to=2026-06-30&channel=app")
        assert response.status_code == 200, (page, response.text[:300])
        assert 'value="2026-01-01"' in response.text and '<option value="app" selected>' in response.text
        assert executive.get(f"/units/reg-scotland/{page}?from=yesterday").status_code == 400
        api = executive.get(f"/api/v1/units/reg-scotland/{page}?from=2026-06-30&to=2026-01-01")
        assert api.status_code == 422 and api.json()["error"]["code"] == "bad_request"


def test_trends_suppressed_cells_stay_suppressed_in_csv(branch):
    body = branch.get("/api/v1/units/br-0001/trends?grain=week").json()
    hidden = {(s["metric"], p["period"]) for s in body["series"] for p in s["points"] if p["suppressed"]}
    assert hidden, "weekly cells of one branch should include some under min_n"
    response = branch.get("/units/br-0001/trends?grain=week&format=csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="br-0001-trends-week.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    for row in rows:
        if (row["metric"], row["period"]) in hidden:
            assert row["suppressed"] == "True" and row["n"] == row["estimate"] == row["ci_low"] == ""
    assert {(r["metric"], r["period"]) for r in rows if r["suppressed"] == "True"} == hidden


def test_touchpoints_show_scores_in_journey_order_and_importance(executive, stores, demo):
    body = executive.get("/api/v1/units/bank/touchpoints").json()
    names = [t["touchpoint"] for t in body["touchpoints"]]
    assert names[0] == "onboarding" and [t["stage_order"] for t in body["touchpoints"]] == sorted(
        t["stage_order"] for t in body["touchpoints"]
    )
    big = [t for t in body["touchpoints"] if t["importance_r2"] is not None]
    assert big, "the company has enough responses for driver importance at some touchpoint"
    for t in big:
        assert 0 < t["importance_r2"] < 1 and t["top_drivers"]
        shares = [d["relative_importance"] for d in t["top_drivers"]]
        assert shares == sorted(shares, reverse=True)
        assert t["nps_ci_low"] < t["nps_estimate"] < t["nps_ci_high"]
    page = executive.get("/units/bank/touchpoints").text
    assert page.index('data-touchpoint="onboarding"') < page.index(f'data-touchpoint="{names[-1]}"')
    assert big[0]["top_drivers"][0]["label"] in page


def test_priorities_page_matches_the_service_and_offers_no_form_before_actions_exist(executive, stores, demo):
    session, con = stores
    expected = priorities(
        Viewer("bank", Role.executive),
        stores=Stores(settings=demo.settings, session=session, warehouse=con),
        unit_id="reg-scotland",
    ).to_dict()["priorities"]
    body = executive.get("/api/v1/units/reg-scotland/priorities").json()
    assert [p["driver"] for p in body["priorities"]] == [p["driver"] for p in expected]
    page = executive.get("/units/reg-scotland/priorities").text
    assert re.findall(r'<tr data-driver="([^"]+)"', page) == [p["driver"] for p in expected]
    has_route = any(path == ACTION_FROM_PRIORITY for path, _ in served_routes(create_app(demo.settings)))
    assert (f'action="{ACTION_FROM_PRIORITY}"' in page) == has_route


def test_priorities_rows_carry_the_one_click_action_form(demo):
    app = create_app(demo.settings)
    assert any(path == ACTION_FROM_PRIORITY for path, methods in served_routes(app) if "POST" in methods)
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form).group(1)
    client.post("/login", data={"email": REGION, "password": DEMO_PASSWORD, "csrf_token": token})
    page = client.get("/units/reg-north-west/priorities?touchpoint=mobile_app").text
    forms = re.findall(rf'<form method="post" action="{ACTION_FROM_PRIORITY}".*?</form>', page, re.S)
    drivers = re.findall(r'<tr data-driver="([^"]+)"', page)
    assert forms and len(forms) == len(drivers)
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page).group(1)
    for html, driver in zip(forms, drivers, strict=True):
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
        assert set(fields) == {"csrf_token", "unit_id", "driver", "touchpoint_id", "expected_impact", "title"}
        assert fields["csrf_token"] == csrf and fields["unit_id"] == "reg-north-west"
        assert fields["driver"] == driver and fields["touchpoint_id"] == "mobile_app"
        float(fields["expected_impact"])
        assert fields["title"]


@pytest.fixture(scope="module")
def scored(demo):
    """CLV scores for every customer (``cxloop clv score``), which the value views read."""
    from cxloop.services.value.clv import score_clv

    with open_stores(demo.settings) as opened:
        score_clv(Viewer("bank", Role.admin), stores=opened)


def test_value_page_shows_segments_tiers_and_revenue_at_risk(executive, scored, stores, demo):
    body = executive.get("/api/v1/units/bank/value").json()
    assert [s["segment"] for s in body["segments"]] == ["premier", "affluent", "mass"]
    for segment in body["segments"]:
        assert segment["clv_low"] <= segment["clv"] <= segment["clv_high"]
        assert segment["nps_low"] < segment["nps"] < segment["nps_high"]
    # the most profitable segment is worth more per customer (the demo's value ranks)
    assert body["segments"][0]["clv"] > body["segments"][-1]["clv"]
    assert body["tiers"] and body["tier_experience"] and 0 < body["top_20_percent_share_of_value"] <= 1
    risk = {r["name"]: r for r in body["revenue_at_risk"]}
    assert set(risk) == {"detractor_clv", "excess_churn_value", "nps_point_value"}
    assert risk["excess_churn_value"]["ci_low"] <= risk["excess_churn_value"]["estimate"]
    page = executive.get("/units/bank/value").text
    assert 'data-segment="premier"' in page and 'data-figure="excess_churn_value"' in page
    # Regression: the page said "the top 20% of customers hold 60% of the value" beside tiers whose top
    # tier is 10% of the customers. The sentence now describes the first tier shown, computed.
    assert "top 20%" not in page
    first = body["tiers"][0]
    customers = sum(t["customers"] for t in body["tiers"])
    top = body["top_tier"]
    assert top["tier"] == first["tier"] == "top"
    assert top["customer_share"] == pytest.approx(first["customers"] / customers)
    assert 0.08 < top["customer_share"] < 0.12 and top["value_share"] == pytest.approx(first["clv_share"])
    sentence = re.search(r'<span id="top-tier">([^<]+)</span>', page).group(1)
    assert sentence.startswith("the top tier, ") and "of customers, holds" in sentence
    shown = [float(x) for x in re.findall(r"(\d+(?:\.\d+)?)\s*%", sentence)]
    assert shown == pytest.approx([100 * top["customer_share"], 100 * top["value_share"]], abs=0.6)
    detractors = risk["detractor_clv"]
    assert detractors["ci_low"] < detractors["estimate"] < detractors["ci_high"]
    tiers = list(csv.DictReader(io.StringIO(executive.get("/units/bank/value?format=csv&table=tiers").text)))
    assert [t["tier"] for t in tiers] == [t["tier"] for t in body["tiers"]]
    mass_only = executive.get("/api/v1/units/bank/value?segment=mass").json()
    assert [s["segment"] for s in mass_only["segments"]] == ["mass"]


def test_home_shows_seven_tiles_with_n_interval_sparkline_and_comparisons(demo, scored):
    with _client(demo.settings, REGION) as client:
        tiles = client.get("/api/v1/units/reg-north-west/tiles").json()["tiles"]
        page = client.get("/").text
        names = [t["name"] for t in tiles]
        assert names == ["nps", "csat", "ces", "churn", "repeat_purchase", "clv", "revenue_at_risk"]
        for tile in tiles:
            html = re.search(rf'data-metric="{tile["name"]}"[^>]*>(.*?)</article>', page, re.S).group(1)
            assert tile["period"] in html
            assert len([v for v in tile["spark"] if v is not None]) >= 2, tile
            assert "<polyline points=" in html
            if not tile["suppressed"]:
                assert tile["ci_low"] <= tile["estimate"] <= tile["ci_high"]
                assert "interval" in html
            assert 'data-against="previous"' in html
            # every comparison is shown, or folded under "Not compared" with its reason; revenue at risk is
            # not compared across units at all, and says nothing about it
            if tile["parent"]["note"] != "not compared across units":
                assert 'data-against="parent"' in html
            # coloured by the first benchmark it has, and the colour said in words
            assert f'data-state="{tile["status"]["state"]}"' in page
            if tile["status"]["against"] and not tile["suppressed"]:
                assert tile["status"]["relation"] in html and tile["status"]["label"] in html
        # a division manager looking at one of their regions gets the parent comparison computed
    with _client(demo.settings, "demo-division@northwind.example") as client:
        tiles = client.get("/api/v1/units/reg-north-west/tiles").json()["tiles"]
    nps = next(t for t in tiles if t["name"] == "nps")
    assert nps["parent"]["difference"] is not None and nps["parent"]["significant"] in (True, False)
    churn = next(t for t in tiles if t["name"] == "churn")
    assert churn["parent"]["difference"] is not None


# --- text stays text, CSV cells stay data -------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_comments(demo):
    """Two br-0001 comments: one with HTML/JS, one a spreadsheet formula (put back afterwards, so other
    modules' comment tests see the demo's text)."""
    con = connect(demo.settings)
    rows = con.raw_sql(
        "SELECT response_id, comment FROM responses WHERE unit_id = 'br-0001' "
        "ORDER BY response_id DESC LIMIT 2 OFFSET 1"
    ).fetchall()

    def write(response_id: str, text: str | None) -> None:
        value = "NULL" if text is None else "'" + text.replace("'", "''") + "'"
        con.raw_sql(f"UPDATE responses SET comment = {value} WHERE response_id = '{response_id}'")  # noqa: S608

    for (response_id, _), text in zip(rows, (SCRIPT, FORMULA), strict=True):
        write(response_id, text)
    yield
    for response_id, original in rows:
        write(response_id, original)
    con.disconnect()


def test_comments_with_html_are_text_on_every_page_and_formulas_are_quoted_in_csv(branch, hostile_comments):
    pages = [
        p
        for p in _collected("unit")
        if not p.startswith("/api/") and "format=csv" not in p and ".csv" not in p
    ]
    for path in pages:
        url = path.replace("{unit_id}", "br-0001")
        if url.endswith("/comments"):
            url += "?q=h7xss"
        response = branch.get(url)
        assert "<script>alert(" not in response.text and "<img src=x" not in response.text, path
        if url.endswith("/comments?q=h7xss"):
            assert "&lt;script&gt;alert(&#39;h7xss&#39;)&lt;/script&gt;" in response.text
    export = branch.get("/units/br-0001/comments.csv?q=h7xss")
    assert export.headers["content-disposition"] == 'attachment; filename="br-0001-comments.csv"'
    rows = {r["comment"] for r in csv.DictReader(io.StringIO(export.text))}
    assert SCRIPT in rows  # CSV is data: the text as written, for a spreadsheet, not a browser
    assert "'" + FORMULA in rows and FORMULA not in rows


def test_safe_cell_quotes_every_formula_start():
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1"):
        assert safe_cell(text) == "'" + text
    assert safe_cell("fine") == "fine" and safe_cell(-3.5) == -3.5 and safe_cell(None) == ""


# --- headers ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/units/br-0001/trends", "/api/v1/units/br-0001/trends", "/login"])
def test_content_security_policy_and_security_headers(branch, path):
    response = branch.get(path)
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'self'" in CONTENT_SECURITY_POLICY and "script-src 'self';" in CONTENT_SECURITY_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_pages_have_no_inline_script_or_style(branch):
    for path in ["/", "/login", *(f"/units/br-0001/{p}" for p in DASHBOARD_PAGES), "/units/br-0001"]:
        html = branch.get(path).text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert 'src="/static/' in tag or 'type="application/json"' in tag, (path, tag)
        assert "<style" not in html and " style=" not in html, path


def test_dashboard_service_filters_reject_a_reversed_period():
    with pytest.raises(ValueError, match="starts"):
        from datetime import date

        dashboard.DashboardFilters(start=date(2026, 2, 1), end=date(2026, 1, 1))


def _count(html: str) -> int:
    return int(re.search(r"([\d,]+) comments", html).group(1).replace(",", ""))


def test_league_table_and_comment_stream_take_the_same_filters(executive):
    everything = executive.get("/api/v1/units/div-north/metrics?by=total&metric=nps&include=children").json()
    mass = executive.get(
        "/api/v1/units/div-north/metrics?by=total&metric=nps&include=children&segment=mass&channel=app"
    ).json()
    page = executive.get("/units/div-north?segment=mass&channel=app").text
    assert '<option value="mass" selected>' in page
    for cell in mass["cells"]:
        row = re.search(rf'<tr data-unit="{cell["unit"]}"[^>]*>(.*?)</tr>', page, re.S).group(1)
        if not cell["suppressed"]:
            assert f"{cell['n']:,}" in row
    assert sum(c["n"] or 0 for c in mass["cells"]) < sum(c["n"] or 0 for c in everything["cells"])
    exported = list(
        csv.DictReader(
            io.StringIO(executive.get("/units/div-north/export.csv?segment=mass&channel=app").text)
        )
    )
    assert {r["unit"]: r["n"] for r in exported} == {
        c["unit"]: ("" if c["n"] is None else str(c["n"])) for c in mass["cells"]
    }
    # drill-down keeps the filter
    assert re.search(r'<a href="/units/[\w-]+\?segment=mass&amp;channel=app">', page) or re.search(
        r'<a href="/units/[\w-]+\?channel=app&amp;segment=mass">', page
    )
    all_comments = _count(executive.get("/units/div-north/comments").text)
    filtered = executive.get("/units/div-north/comments?touchpoint=mobile_app&from=2026-01-01").text
    assert 0 < _count(filtered) < all_comments
    assert "comments.csv?" in filtered and "touchpoint=mobile_app" in filtered
    assert executive.get("/units/div-north/comments?from=not-a-date").status_code == 400
