"""Hypothesis over every page and form, which the OpenAPI schema does not describe: as an admin and as a
branch manager, generated query parameters and form fields never get a 5xx.

The routes are read from the app (``iter_route_contexts`` and each route's dependencies: its query
parameters and form fields), so a page or form added later is fuzzed without editing this module; the
upload page reads its form itself and is listed by hand (:data:`HAND_READ_FORMS`). Values are drawn from
any text (control characters included) and from values near what the pages expect (dates at and past the
edges, numbers that are not, ids that exist and ids that do not, markup); path parameters are the persona's
real ids (``support.fuzz_world``) or generated. Forms carry the session's CSRF token (and sometimes a
forged one). Bounded: :data:`EXAMPLES` per route and persona, derandomized (the suite's hypothesis profile).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from fastapi.params import Form
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from cxloop.config import Settings
from cxloop.web.app import create_app
from support.export_samples import csv_text, qualtrics_numeric_rows, qualtrics_rows_table
from support.fuzz_world import ADMIN, ADMIN_PASSWORD, build_world
from support.web_demo import BRANCH, CSRF_FIELD, page_login

EXAMPLES = 12  # per route and persona
PERSONAS = ("admin", "branch")
#: Not fuzzed here: the login form has a test of its own below (a fresh client: its throttle), logging out
#: would end the persona's session, and the API is schemathesis's (tests/web/api/test_openapi_fuzz.py).
NOT_HERE = {("POST", "/login"), ("POST", "/logout")}
#: Forms whose route reads the body itself (no declared fields): their fields, and whether they carry a file.
HAND_READ_FORMS = {
    ("POST", "/admin/upload"): (("csrf_token", "from", "include_preview"), True),
    ("POST", "/admin/upload/{job_id}/import"): (
        ("csrf_token", "unit", "role_0", "item_0", "low_0", "high_0", "role_1", "item_1", "low_1", "high_1"),
        False,
    ),
}

VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-1",
            "3",
            "10",
            "1e309",
            "nan",
            "-inf",
            "99999999999999999999",
            "2025-06-01",
            "2025-02-30",
            "1899-12-31",
            "0001-01-01",
            "9999-12-31",
            "bank",
            "br-0001",
            "br-0002",
            "br-9999",
            "nps",
            "csat",
            "month",
            "week",
            "open",
            "closed",
            "done",
            "reopen",
            "scale",
            "stop",
            "true",
            "csv",
            "qualtrics",
            "driver_item",
            "<script>alert(1)</script>",
            "' OR '1'='1",
            "x" * 5000,
        ]
    ),
    st.integers().map(str),
    st.floats().map(str),
)


@dataclass(frozen=True)
class PageRoute:
    method: str
    path: str
    query: tuple[str, ...]
    form: tuple[str, ...]
    file: bool = False

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def _params(dependant, kind: str) -> list:
    found = list(getattr(dependant, kind))
    for sub in dependant.dependencies:
        found += _params(sub, kind)
    return found


def page_routes(app) -> list[PageRoute]:
    """Every route outside the OpenAPI schema that takes parameters or a form, with their names."""
    found = []
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or route.include_in_schema:
            continue
        query = tuple(sorted({f.alias or f.name for f in _params(route.dependant, "query_params")}))
        form = tuple(
            sorted(
                {
                    f.alias or f.name
                    for f in _params(route.dependant, "body_params")
                    if isinstance(f.field_info, Form)
                }
            )
        )
        for method in sorted(route.methods - {"HEAD"}):
            key = (method, route.path)
            if key in NOT_HERE:
                continue
            if key in HAND_READ_FORMS:
                fields, with_file = HAND_READ_FORMS[key]
                found.append(PageRoute(method, route.path, query, fields, with_file))
            elif query or form or "{" in route.path:
                found.append(PageRoute(method, route.path, query, form))
    return found


@pytest.fixture(scope="module")
def world(tmp_path_factory, demo_companies):
    world, context = build_world(
        demo_companies, tmp_path_factory.mktemp("form-fuzz") / "data", {"base_url": "https://testserver"}
    )
    yield world
    context.__exit__(None, None, None)


@pytest.fixture(scope="module")
def browsers(world):
    """A logged-in page client per persona (no lifespan of their own: the world's client ran it)."""
    clients = {}
    for persona, email, password in (("admin", ADMIN, ADMIN_PASSWORD), ("branch", BRANCH, None)):
        client = TestClient(
            world.app, base_url="https://testserver", follow_redirects=False, raise_server_exceptions=False
        )
        response = page_login(client, email, password) if password else page_login(client, email)
        assert response.status_code == 303, response.text
        clients[persona] = client
    admin = clients["admin"]
    token = CSRF_FIELD.search(admin.get("/admin/upload").text).group(1)
    export = csv_text(qualtrics_rows_table(qualtrics_numeric_rows())).encode("utf-16")
    uploaded = admin.post(
        "/admin/upload", data={"csrf_token": token}, files={"file": ("export.csv", export, "text/csv")}
    )
    assert uploaded.status_code == 303, uploaded.text
    world.ids["admin"]["job_id"] = world.ids["branch"]["job_id"] = uploaded.headers["location"].rsplit(
        "/", 1
    )[1]
    return clients


def test_every_page_and_form_is_fuzzed(world):
    labels = {route.label for route in page_routes(world.app)}
    for expected in (
        "GET /units/{unit_id}",
        "GET /units/{unit_id}/comments",
        "POST /cases/{case_id}/transition",
        "POST /actions",
        "POST /pilots",
        "POST /targets",
        "POST /admin/upload",
        "POST /admin/upload/{job_id}/import",
    ):
        assert expected in labels, expected
    assert len(labels) >= 30


def _collected() -> list[str]:
    """The routes, read at collection time from an app over default settings (no store is opened)."""
    return [
        route.label for route in page_routes(create_app(Settings(environment="test", secret_key="c" * 40)))
    ]


def _path(route: PageRoute, ids: dict, draw) -> str:
    def one(match: re.Match) -> str:
        name = match.group(1)
        real = ids.get(name)
        choice = st.just(str(real)) if real is not None else st.nothing()
        return quote(
            str(draw(st.one_of(choice, choice, st.text(min_size=1, max_size=12), st.integers().map(str)))),
            safe="",
        )

    return re.sub(r"{(\w+)}", one, route.path)


def _chosen(names: tuple[str, ...], draw) -> dict[str, str]:
    chosen = draw(st.lists(st.sampled_from(names), unique=True)) if names else []
    return {name: draw(VALUES) for name in chosen}


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("route", _collected())
def test_no_page_or_form_answers_a_5xx(world, browsers, persona, route):
    [target] = [r for r in page_routes(world.app) if r.label == route]
    client = browsers[persona]
    token = CSRF_FIELD.search(client.get("/").text).group(1)

    @seed(23)
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(data=st.data())
    def run(data):
        path = _path(target, world.ids[persona], data.draw)
        query = _chosen(target.query, data.draw)
        if target.method == "GET":
            response = client.get(path, params=query)
        else:
            form = _chosen(tuple(n for n in target.form if n != "csrf_token"), data.draw)
            form["csrf_token"] = data.draw(st.one_of(st.just(token), st.just(token), st.text(max_size=64)))
            files = None
            if target.file:
                name = data.draw(
                    st.sampled_from(["export.csv", "export.xlsx", "export.tsv", "export", "a.txt"])
                )
                files = {"file": (name, data.draw(st.binary(max_size=3000)), "application/octet-stream")}
            response = client.request(target.method, path, params=query, data=form, files=files)
        assert "content-security-policy" in response.headers, (target.label, response.status_code)
        assert response.status_code < 500, (
            target.label,
            path,
            query,
            response.status_code,
            response.text[:500],
        )

    run()
