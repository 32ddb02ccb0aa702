"""Bad input is a 4xx with a message, never a 500 (issue 23, defect 7).

* a control character (NUL above all) in any path or query parameter: 422 naming the parameter, on the API
  and on the pages. Before, a NUL in a filter reached the SQL text and the engine's parser failed (500 on 48
  route/parameter pairs of the API and the pages);
* the OpenAPI schema states the rule as every text parameter's pattern;
* posted JSON: a lone surrogate, or an object or a list where one value belongs, is a rejected row with its
  reason (422 when every row is), never stored as text; a body that is not UTF-8 is a 422 saying so.
"""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from urllib.parse import unquote_plus

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxloop.web.app import create_app
from cxloop.web.inputs import PRINTABLE
from support.fuzz_world import ADMIN, ADMIN_PASSWORD, build_world
from support.web_demo import CSRF_FIELD, EXECUTIVE, page_login

API_PAIRS = [
    ("/api/v1/units/bank/metrics", "segment"),
    ("/api/v1/units/bank/metrics", "touchpoint"),
    ("/api/v1/units/bank/metrics", "channel"),
    ("/api/v1/units/bank/drivers", "touchpoint"),
    ("/api/v1/units/bank/comments", "q"),
    ("/api/v1/units/bank/comments", "theme"),
    ("/api/v1/units/bank/trends", "channel"),
    ("/api/v1/units/bank/touchpoints", "segment"),
    ("/api/v1/units/bank/priorities", "touchpoint"),
    ("/api/v1/units/bank/value", "segment"),
]
PAGE_PAIRS = [
    ("/units/bank", "segment"),
    ("/units/bank/export.csv", "touchpoint"),
    ("/units/bank/comments", "q"),
    ("/units/bank/comments.csv", "theme"),
    ("/units/bank/trends", "channel"),
    ("/units/bank/value", "segment"),
]


def _refused(response, field: str, code_point: str = "U+0000") -> None:
    assert response.status_code == 422, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["fields"][0]["field"] == field
    assert f"control character ({code_point})" in error["fields"][0]["reason"]


@pytest.fixture(scope="module")
def pages(demo_settings):
    app = create_app(demo_settings)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        assert page_login(client, EXECUTIVE).status_code == 303
        yield client


@pytest.mark.parametrize(("path", "name"), API_PAIRS)
def test_a_nul_in_an_api_filter_is_a_422_naming_it(demo, path, name):
    _refused(demo.client.get(path, params={name: "branch\x00visit"}, headers=demo.as_(EXECUTIVE)), name)


@pytest.mark.parametrize(("path", "name"), PAGE_PAIRS)
def test_a_nul_in_a_page_filter_is_a_422_naming_it(pages, path, name):
    _refused(pages.get(path, params={name: "a\x00"}), name)


def test_any_control_character_and_path_parameters_too(demo):
    headers = demo.as_(EXECUTIVE)
    escape = demo.client.get("/api/v1/units/bank/metrics?segment=a%1Bb", headers=headers)
    _refused(escape, "segment", "U+001B")
    _refused(demo.client.get("/api/v1/units/br-0001%00/metrics", headers=headers), "unit_id")
    # A value without one is answered as before: the filter simply matches nothing.
    quoted = demo.client.get("/api/v1/units/bank/comments", params={"segment": "o'brien"}, headers=headers)
    assert quoted.status_code == 200 and quoted.json()["total"] == 0


def test_the_openapi_schema_states_the_rule_on_every_free_text_parameter(demo):
    schema = demo.client.get("/openapi.json").json()
    metrics = schema["paths"]["/api/v1/units/{unit_id}/metrics"]["get"]["parameters"]
    by_name = {p["name"]: p["schema"] for p in metrics}
    assert by_name["unit_id"]["pattern"] == PRINTABLE
    assert by_name["segment"]["anyOf"][0]["items"]["pattern"] == PRINTABLE
    assert "pattern" not in by_name["include"]  # an enum says it already
    webhook = schema["paths"]["/api/v1/webhooks/{source}"]["post"]["parameters"][0]["schema"]
    assert webhook["pattern"] == r"^[A-Za-z0-9_.-]+$"  # its own pattern is kept


PERIOD_ROUTES = [
    "/api/v1/units/br-0001/drivers",
    "/api/v1/units/br-0001/comments",
    "/api/v1/units/br-0001/trends?grain=week",
    "/api/v1/units/br-0001/touchpoints",
    "/api/v1/units/br-0001/priorities",
    "/api/v1/units/br-0001/value",
    "/units/br-0001",
    "/units/br-0001/export.csv",
    "/units/br-0001/comments.csv",
    "/units/br-0001/trends?grain=week",
    "/units/br-0001/value",
]


@pytest.mark.parametrize("period", [{"to": "9999-12-31"}, {"from": "0001-01-01"}])
@pytest.mark.parametrize("route", PERIOD_ROUTES)
def test_a_period_no_query_can_name_is_a_4xx_not_a_500(demo, pages, route, period):
    # Found by the fuzz tests: a step from such a day (the span before it, its end) left Python's dates
    # (OverflowError, 500 on 52 route/period pairs).
    if route.startswith("/api/"):
        response = demo.client.get(route, params=period, headers=demo.as_(EXECUTIVE))
        assert response.status_code == 422, response.text[:300]
        message = response.json()["error"]["message"]
    else:
        response = pages.get(route, params=period)
        assert response.status_code == 400, response.text[:300]
        message = response.text
    assert "is outside the days a query can name (1900-01-01 to 2999-12-31)" in message


_POSTED = {
    "response_id": "bad-input-1",
    "submitted_at": "2025-11-23T10:15:00Z",
    "unit_id": "br-0001",
    "touchpoint": "branch_visit",
    "nps": 9,
}


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        pytest.param("comment", "\ud800", "not a character: a lone UTF-16 surrogate", id="lone-surrogate"),
        pytest.param("response_id", "r-\udc00", "not a character", id="surrogate-in-the-id"),
        pytest.param("customer_id", {"a": 1}, "an object is not a value", id="object"),
        pytest.param("segment", ["x"], "a list is not a value", id="list"),
        pytest.param("touchpoint", "branch\x00visit", "holds a control character", id="nul-in-an-id"),
    ],
)
def test_a_posted_response_with_what_no_column_holds_is_rejected_with_its_reason(demo, field, value, reason):
    body = json.dumps({**_POSTED, field: value})  # json.dumps writes a lone surrogate as its \ud800 escape
    response = demo.client.post(
        "/api/v1/responses",
        content=body,
        headers={**demo.as_(EXECUTIVE), "content-type": "application/json"},
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "rejected_rows" and error["accepted"] == 0
    [problem] = error["problems"]
    assert problem["column"] == field and problem["reason"].startswith(reason)


def test_a_body_that_is_not_utf8_is_a_422_saying_so(demo):
    response = demo.client.post(
        "/api/v1/actions",
        content=b'{"title": "\xff", "unit_id": "br-0001"}',
        headers={**demo.as_(EXECUTIVE), "content-type": "application/json"},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "validation_error" and "not UTF-8" in error["message"]


def test_a_lone_surrogate_in_a_request_model_is_a_422(demo):
    response = demo.client.post(
        "/api/v1/actions",
        content=json.dumps({"title": "\ud800", "unit_id": "br-0001"}),
        headers={**demo.as_(EXECUTIVE), "content-type": "application/json"},
    )
    assert response.status_code == 422 and response.json()["error"]["fields"][0]["field"] == "title"


# --- found by the fuzz tests (tests/web/api/test_openapi_fuzz.py, tests/web/pages/test_form_fuzz.py) -------


@pytest.fixture(scope="module")
def world(tmp_path_factory, demo_companies):
    """A private demo copy with one record of each kind (a pilot of one unit, without costs, among them)."""
    world, context = build_world(
        demo_companies, tmp_path_factory.mktemp("inputs") / "data", {"base_url": "https://testserver"}
    )
    browser = TestClient(world.app, base_url="https://testserver", follow_redirects=False)
    assert page_login(browser, ADMIN, ADMIN_PASSWORD).status_code == 303
    yield world, browser
    context.__exit__(None, None, None)


def test_a_forged_csrf_token_with_non_ascii_characters_is_refused_not_a_500(world):
    # hmac.compare_digest raises TypeError on a str with non-ASCII characters: every form answered 500.
    _, browser = world
    for token in ("é" * 64, "ü"):
        response = browser.post("/actions", data={"csrf_token": token, "title": "x", "unit_id": "br-0001"})
        assert response.status_code == 403 and "The form expired" in response.text


@pytest.mark.parametrize(
    "path",
    ["/cases/9223372036854775808", "/pilots/9223372036854775808/report", "/actions/2147483648"],
)
def test_an_id_past_the_databases_integers_is_a_422_not_a_500(world, path):
    # SQLite raised OverflowError for ids past 2**63 (PostgreSQL refuses past 2**31): pages answered 500.
    _, browser = world
    response = browser.get(path)
    assert response.status_code == 422, response.text[:300]
    assert "less than or equal to 2147483647" in response.json()["error"]["message"]


def test_target_ids_past_the_databases_integers_are_a_422(world):
    fuzz, _ = world
    action = fuzz.ids["branch"]["action_id"]
    response = fuzz.client.patch(
        f"/api/v1/actions/{action}", json={"target_ids": [2**63]}, headers=fuzz.headers["branch"]
    )
    assert response.status_code == 422 and response.json()["error"]["fields"][0]["field"] == "target_ids.0"


def test_a_pilot_report_whose_interval_cannot_be_given_is_a_page_not_a_500(world):
    # One pilot unit: the wild cluster bootstrap gives no interval (NaN, null in the data); the report
    # multiplied null by the metric's scale in its template.
    fuzz, browser = world
    pilot = fuzz.ids["admin"]["pilot_id"]
    for path in (f"/pilots/{pilot}/report", f"/pilots/{pilot}/report.html"):
        response = browser.get(path)
        assert response.status_code == 200, (path, response.text[:300])
        assert "Fuzz pilot" in response.text


_POSTS = itertools.count()
_JSON_TEXT = st.one_of(st.text(max_size=12), st.characters(categories=["Cs"]), st.just("a\x00b"))
_JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _JSON_TEXT),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_JSON_TEXT, inner, max_size=3)),
    max_leaves=6,
)
_COLUMNS = st.sampled_from(
    ["response_id", "submitted_at", "unit_id", "customer_id", "touchpoint", "segment", "nps", "comment"]
    + ["q_staff"]
)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    records=st.lists(
        st.dictionaries(st.one_of(_COLUMNS, _JSON_TEXT), _JSON_VALUES, min_size=1, max_size=6),
        min_size=1,
        max_size=3,
    )
)
def test_posted_responses_of_any_json_never_get_a_5xx(world, records):
    # Lone surrogates (as \\ud800 escapes), NUL, objects and lists anywhere in the rows or their field names.
    fuzz, _ = world
    valid = {"submitted_at": "2025-06-01T10:00:00Z", "unit_id": "br-0001", "nps": 7}
    rows = [{"response_id": f"any-{next(_POSTS)}", **valid, **record} for record in records]
    response = fuzz.client.post(
        "/api/v1/responses",
        content=json.dumps(rows),
        headers={**fuzz.headers["branch"], "content-type": "application/json"},
    )
    assert response.status_code < 500, response.text[:500]
    assert "content-security-policy" in response.headers


def test_moments_are_sent_with_their_offset_as_the_schema_says(world):
    # Found by the fuzz tests' schema check: the stores hand some timestamps back without a zone, and the
    # API sent them so, while its schema promises RFC 3339 date-times (with an offset).
    fuzz, _ = world
    headers = fuzz.headers["admin"]
    case = fuzz.client.get(f"/api/v1/cases/{fuzz.ids['admin']['case_id']}", headers=headers).json()["case"]
    [rule] = fuzz.client.get("/api/v1/rules", headers=headers).json()
    comments = fuzz.client.get("/api/v1/units/br-0001/comments", headers=headers).json()["items"]
    moments = [case["opened_at"], case["first_contact_due"], case["resolution_due"], rule["created_at"]]
    moments += [comment["submitted_at"] for comment in comments[:3]]
    assert len(moments) == 7
    for moment in moments:
        assert datetime.fromisoformat(moment).utcoffset() == timedelta(0), moment


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("post", "/api/v1/actions", {"title": {"a": 1}, "unit_id": "br-0001"}, "title"),
        ("post", "/api/v1/actions", {"title": ["x"], "unit_id": "br-0001"}, "title"),
        ("post", "/api/v1/actions", {"title": "x", "unit_id": 7}, "unit_id"),
        ("post", "/api/v1/actions", {"title": "x", "unit_id": "br-0001", "cost": True}, "cost"),
        ("post", "/api/v1/actions", {"title": "x", "unit_id": "br-0001", "cost": "12"}, "cost"),
        (
            "post",
            "/api/v1/actions",
            {"title": "x", "unit_id": "br-0001", "target_ids": [True]},
            "target_ids.0",
        ),  # noqa: E501
        ("patch", "/api/v1/actions/{action_id}", {"impact_points": False}, "impact_points"),
        ("patch", "/api/v1/targets/{target_id}", {"target_value": True}, "target_value"),
        ("patch", "/api/v1/rules/{rule_id}", {"first_contact_hours": True}, "first_contact_hours"),
        ("patch", "/api/v1/rules/{rule_id}", {"active": "yes"}, "active"),
        ("post", "/api/v1/pilots/{pilot_id}/decisions", {"decision": "stop", "wave_id": True}, "wave_id"),
    ],
)
def test_a_field_given_another_type_is_a_422_not_coerced(world, method, path, body, field):
    # Strings were already strict; numbers took true as 1 and "12" as 12, ids took true as 1 (stored so).
    fuzz, _ = world
    url = path.format(**fuzz.ids["admin"])
    response = getattr(fuzz.client, method)(url, json=body, headers=fuzz.headers["admin"])
    assert response.status_code == 422, response.text[:300]
    assert response.json()["error"]["fields"][0]["field"] == field


def test_a_nul_in_a_posted_text_is_refused_and_nothing_is_stored(world):
    # The app database takes no text holding NUL (PostgreSQL cannot: its driver failed the statement, a 500
    # there). A page that answers the refusal itself left its session unable to commit: a 500 too.
    fuzz, browser = world
    headers = fuzz.headers["admin"]
    api = fuzz.client.post("/api/v1/actions", json={"title": "a\x00b", "unit_id": "br-0001"}, headers=headers)
    assert api.status_code == 422 and "NUL" in api.json()["error"]["message"]
    token = CSRF_FIELD.search(browser.get("/actions").text).group(1)
    page = browser.post("/actions", data={"csrf_token": token, "title": "c\x00d", "unit_id": "br-0001"})
    assert page.status_code == 303 and "NUL" in unquote_plus(page.headers["location"])
    titles = [a["title"] for a in fuzz.client.get("/api/v1/actions", headers=headers).json()["actions"]]
    assert titles and not any("\x00" in title for title in titles)
