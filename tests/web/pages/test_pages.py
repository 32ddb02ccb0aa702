"""Pages: login with CSRF and a secure session cookie, logout, the home page's tiles and plotly.js."""

from __future__ import annotations

import re
from pathlib import Path

import plotly
import pytest
from fastapi.testclient import TestClient

from cxloop.demo.users import DEMO_PASSWORD
from cxloop.services.access.scope import Viewer
from cxloop.services.stores import Stores
from cxloop.services.understand.metrics import MetricsQuery, metrics
from cxloop.store.db import engine_for, session_scope
from cxloop.store.tables import Role
from cxloop.warehouse.connection import connect
from cxloop.web.app import create_app
from support.web_demo import BRANCH, EXECUTIVE


@pytest.fixture()
def browser(demo_settings):
    """A client on https (the cookies are Secure outside development) with its own login throttle."""
    with TestClient(
        create_app(demo_settings), base_url="https://testserver", follow_redirects=False
    ) as client:
        yield client


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([0-9a-f]+)"', html).group(1)


def _log_in(client, email=BRANCH, password=DEMO_PASSWORD):
    form = client.get("/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": _csrf(form.text)})


def test_home_redirects_to_login_when_logged_out(browser):
    response = browser.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_login_sets_a_secure_httponly_session_cookie(browser):
    response = _log_in(browser)
    assert response.status_code == 303 and response.headers["location"] == "/"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("cxloop_session="))
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie


def test_login_without_or_with_a_wrong_csrf_token_is_refused(browser):
    browser.get("/login")
    missing = browser.post("/login", data={"email": BRANCH, "password": DEMO_PASSWORD})
    forged = browser.post("/login", data={"email": BRANCH, "password": DEMO_PASSWORD, "csrf_token": "0" * 64})
    assert missing.status_code == forged.status_code == 403
    assert "cxloop_session" not in browser.cookies


def test_wrong_password_shows_the_form_again(browser):
    response = _log_in(browser, password="wrong-password")
    assert response.status_code == 401 and "Wrong email or password" in response.text


def test_home_shows_the_viewers_tiles_from_the_metrics_service(browser, demo_settings):
    _log_in(browser, EXECUTIVE)
    page = browser.get("/")
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    engine = engine_for(demo_settings)
    con = connect(demo_settings)
    with session_scope(engine) as session:
        result = metrics(
            Viewer("bank", Role.executive),
            MetricsQuery(unit="bank", grain="month", compare=("previous",)),
            stores=Stores(settings=demo_settings, session=session, warehouse=con),
        )
    con.disconnect()
    engine.dispose()
    for metric in ("nps", "csat", "ces"):
        # the tile shows the latest month with enough responses (a newer, suppressed one would show nothing)
        latest = [r for r in result.to_records() if r["metric"] == metric and not r["suppressed"]][-1]
        tile = re.search(rf'data-metric="{metric}"[^>]*>(.*?)</article>', page.text, re.S).group(1)
        assert latest["period"] in tile
        assert f"{latest['estimate']:.1f}" in tile
        assert f"n = {latest['n']:,}" in tile
    assert '<script src="/static/plotly.min.js"' in page.text and "cdn" not in page.text.lower()


def test_branch_manager_home_is_their_branch(browser):
    _log_in(browser, BRANCH)
    page = browser.get("/")
    assert page.status_code == 200
    assert "Northwind Bank</h1>" not in page.text
    assert "demo-branch@northwind.example" in page.text


def test_logout_needs_the_csrf_token_and_ends_the_session(browser):
    _log_in(browser)
    home = browser.get("/")
    assert browser.post("/logout", data={"csrf_token": "0" * 64}).status_code == 403
    out = browser.post("/logout", data={"csrf_token": _csrf(home.text)})
    assert out.status_code == 303
    assert browser.get("/").status_code == 303


def test_a_copied_session_cookie_stops_working_after_logout(browser):
    cookie = _log_in(browser).cookies["cxloop_session"]
    home = browser.get("/")
    assert home.status_code == 200
    # Another client with a copy of the cookie (stolen, or a second tab's) is in...
    with TestClient(
        browser.app, base_url="https://testserver", follow_redirects=False, cookies={"cxloop_session": cookie}
    ) as copy:
        assert copy.get("/").status_code == 200
        # ...until the owner logs out: the session ends on the server, not only in the owner's browser.
        assert browser.post("/logout", data={"csrf_token": _csrf(home.text)}).status_code == 303
        assert copy.get("/").status_code == 303
        assert copy.get("/").headers["location"] == "/login"


def test_logging_in_again_after_logout_starts_a_new_session(browser):
    first = _log_in(browser).cookies["cxloop_session"]
    browser.post("/logout", data={"csrf_token": _csrf(browser.get("/").text)})
    second = _log_in(browser).cookies["cxloop_session"]
    assert second != first
    assert browser.get("/").status_code == 200


def test_plotly_js_is_served_from_the_plotly_package(browser):
    response = browser.get("/static/plotly.min.js")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    shipped = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    assert response.content == shipped.read_bytes()


def test_a_session_cookie_is_not_an_api_token(browser):
    response = _log_in(browser)
    cookie = response.cookies["cxloop_session"]
    assert browser.get("/api/v1/units", headers={"Authorization": f"Bearer {cookie}"}).status_code == 401
