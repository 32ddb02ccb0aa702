"""The one error mapping: a service's exception answers alike on every route, as the standard JSON body
under ``/api/`` and as an HTML page elsewhere; the page answers of their own (login, CSRF, a page's error).
"""

from __future__ import annotations

import re

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from cxloop.config import Settings
from cxloop.services.access.scope import ScopeError, UnknownUnitError, Viewer
from cxloop.services.understand.metrics import NoDataError
from cxloop.web.app import create_app
from cxloop.web.errors import CsrfRefused, LoginRequired, PageError

RAISED = {
    "lookup": LookupError("no such thing"),
    "no-data": NoDataError("nothing here yet"),
    "permission": PermissionError("not for your role"),
    "value": ValueError("from after to"),
    "scope": ScopeError("br-0009", Viewer(unit_id="br-0001")),
    "unknown-unit": UnknownUnitError("br-9999", ["br-0001"]),
    "key": KeyError("a bug"),
    "login": LoginRequired(),
    "csrf": CsrfRefused(),
    "page": PageError(400, "Bad filter", "from <b> is not a date"),
    "plain": PageError(404, None, "Not found"),
}


@pytest.fixture
def client(tmp_path):
    app = create_app(Settings(data_dir=tmp_path))
    router = APIRouter()

    @router.get("/api/v1/raise/{name}")
    @router.get("/raise/{name}")
    def raise_it(name: str) -> None:
        raise RAISED[name]

    app.include_router(router)
    return TestClient(app, raise_server_exceptions=False, follow_redirects=False)


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("lookup", 404, "not_found"),
        ("no-data", 404, "no_data"),
        ("permission", 403, "forbidden"),
        ("value", 422, "bad_request"),
        ("scope", 404, "unit_not_found"),
        ("unknown-unit", 404, "unit_not_found"),
    ],
)
def test_service_errors_answer_alike_as_json_and_as_a_page(client, name, status, code):
    api = client.get(f"/api/v1/raise/{name}")
    page = client.get(f"/raise/{name}")
    assert api.status_code == page.status_code == status
    assert api.json()["error"]["code"] == code
    assert page.headers["content-type"].startswith("text/html") and "<h1>" in page.text
    assert_site_page(page.text)


def test_a_unit_out_of_scope_reads_like_an_unknown_one(client):
    hidden, unknown = (
        client.get("/api/v1/raise/scope").json(),
        client.get("/api/v1/raise/unknown-unit").json(),
    )
    assert hidden["error"]["message"] == "no unit 'br-0009' among the units you can see"
    assert unknown["error"]["suggestions"] == ["br-0001"]
    assert shown(client.get("/raise/scope").text) == (
        "Not found",
        "No unit br-0009 among the units you can see.",
    )
    # said politely, with what to do
    assert "outside what your login can see" in client.get("/raise/scope").text


def test_a_bug_stays_a_bug_although_keyerror_is_a_lookuperror(client):
    response = client.get("/api/v1/raise/key")
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal_error"
    page = client.get("/raise/key")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert shown(page.text)[0] == "Something went wrong" and "KeyError" not in page.text
    assert_site_page(page.text)


def test_the_page_answers_of_their_own(client):
    login = client.get("/raise/login")
    assert login.status_code == 303 and login.headers["location"] == "/login"
    csrf = client.get("/raise/csrf")
    assert csrf.status_code == 403 and "CSRF token missing or wrong" in csrf.text
    assert csrf.headers["content-type"].startswith("text/html")
    assert_site_page(csrf.text)
    page = client.get("/raise/page")
    assert page.status_code == 400 and shown(page.text) == ("Bad filter", "from &lt;b&gt; is not a date")
    plain = client.get("/raise/plain")
    assert plain.status_code == 404 and plain.text == "Not found"


SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")


@pytest.mark.parametrize("path", ["/api/v1/raise/key", "/raise/key", "/api/v1/raise/value", "/nowhere"])
def test_every_answer_carries_the_security_headers_even_a_500(client, path):
    # A bug's 500 is sent by Starlette's ServerErrorMiddleware, outside every middleware added to the app.
    response = client.get(path)
    assert response.status_code in (404, 422, 500)
    for name in SECURITY_HEADERS:
        assert name in response.headers, (path, response.status_code, name)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in response.headers["content-security-policy"]


def shown(html: str) -> tuple[str, str]:
    """The heading and the message of an error page."""
    heading = re.search(r"<h1>(.*?)</h1>", html, re.S)
    message = re.search(r'<p class="error-message">(.*?)</p>', html, re.S)
    assert heading and message, html
    return heading.group(1), message.group(1)


def assert_site_page(html: str) -> None:
    """An error page in the site's layout: a title, one heading, a main landmark, a way back."""
    assert re.search(r"<title>[^<]+ - cxloop</title>", html)
    assert html.count("<h1>") == 1 and '<main id="content"' in html
    assert '<a href="/">Back to your home page</a>' in html


def test_an_unknown_page_is_a_page_and_an_unknown_api_route_stays_json(client):
    page = client.get("/no/such/page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert shown(page.text)[0] == "Page not found"
    assert_site_page(page.text)
    api = client.get("/api/v1/no/such/route")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
