"""Themes on the web: the themes page and API (scoped, suppressed), and theme filters on the comment stream
(page and API), with personal data redacted wherever a comment is shown.

The session demo's comments are tagged once here with the demo codebook (through the services, as
``cxloop text themes seed-demo`` and ``cxloop text tag`` would).
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from web_demo import ANALYST

from cxloop.demo.users import DEMO_PASSWORD
from cxloop.services.scope import Viewer
from cxloop.services.text import seed_demo_codebook, tag_comments
from cxloop.store.db import engine_for, session_scope
from cxloop.warehouse.connection import connect
from cxloop.web.app import create_app


def browser(settings, email):
    """A logged-in page client (session cookie)."""
    client = TestClient(create_app(settings), base_url="https://testserver", follow_redirects=False)
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form).group(1)
    response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    return client


@pytest.fixture(scope="module")
def tagged(demo):
    """The demo's comments tagged with the demo codebook; returns the warehouse tags as a DataFrame."""
    engine = engine_for(demo.settings)
    try:
        with session_scope(engine) as session:
            seed_demo_codebook(session)
        con = connect(demo.settings)
        try:
            tag_comments(Viewer(unit_id="bank", role="admin"), settings=demo.settings, con=con)
            tags = con.table("comment_tags").to_pandas()
            responses = con.table("responses").select("response_id", "unit_id").to_pandas()
        finally:
            con.disconnect()
    finally:
        engine.dispose()
    return tags.merge(responses, on="response_id")


@pytest.fixture(scope="module")
def analyst(demo, tagged):
    with browser(demo.settings, ANALYST) as client:
        yield client


def test_api_comments_filtered_by_theme_carry_that_theme(demo, tagged):
    response = demo.client.get(
        "/api/v1/units/bank/comments",
        params={"theme": "long_wait", "limit": 500},
        headers=demo.as_(ANALYST),
    )
    assert response.status_code == 200, response.text
    page = response.json()
    expected = tagged[tagged.theme == "long_wait"].response_id.nunique()
    assert page["total"] == expected > 0
    assert all("long_wait" in item["themes"] for item in page["items"])
    both = demo.client.get(
        "/api/v1/units/bank/comments",
        params=[("theme", "long_wait"), ("theme", "high_fees"), ("negative", "true")],
        headers=demo.as_(ANALYST),
    ).json()
    either = tagged[tagged.theme.isin(["long_wait", "high_fees"])].response_id.nunique()
    assert 0 < both["total"] < either


def test_comments_page_filters_by_theme(analyst, tagged):
    page = analyst.get("/units/bank/comments", params={"theme": "high_fees"})
    assert page.status_code == 200
    assert '<option value="high_fees" selected>' in page.text
    shown = re.findall(r'<span class="themes">([^<]*)</span>', page.text)
    assert shown and all("high_fees" in s for s in shown)
    expected = tagged[tagged.theme == "high_fees"].response_id.nunique()
    assert f"{expected:,} comments" in page.text
    # paging keeps the filter
    assert "theme=high_fees" in re.search(r'<a href="\?([^"]*)&amp;offset=50">Older</a>', page.text).group(1)
