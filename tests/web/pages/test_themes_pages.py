"""Themes on the web: the themes page and API (scoped, suppressed), and theme filters on the comment stream
(page and API), with personal data redacted wherever a comment is shown.

The session demo's comments are tagged once here with the demo codebook (through the services, as
``cxloop text themes seed-demo`` and ``cxloop text tag`` would).
"""

from __future__ import annotations

import re

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from cxloop.demo.load import demo_dir
from cxloop.demo.users import DEMO_PASSWORD
from cxloop.services.access.scope import Viewer
from cxloop.services.listen.imports import import_file
from cxloop.services.understand.themes import seed_demo_codebook, tag_comments
from cxloop.store.db import engine_for, session_scope
from cxloop.warehouse.connection import connect
from cxloop.web.app import create_app
from support.stores import stores_with
from support.web_demo import ANALYST, BRANCH, EXECUTIVE, REGION


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
            with stores_with(demo.settings, con) as stores:
                tag_comments(Viewer(unit_id="bank", role="admin"), stores=stores)
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
    assert shown and all("High fees" in s for s in shown)
    expected = tagged[tagged.theme == "high_fees"].response_id.nunique()
    assert f"{expected:,} comments" in page.text
    # paging keeps the filter
    assert "theme=high_fees" in re.search(r'<a href="\?([^"]*)&amp;offset=50">Older</a>', page.text).group(1)


def test_themes_page_shows_volume_sentiment_effect_trend_and_breakdown(analyst, tagged):
    page = analyst.get("/units/bank/themes")
    assert page.status_code == 200, page.text[:2000]
    html = page.text
    rows = re.findall(r'<tr data-theme="([^"]+)">', html)
    assert {"long_wait", "high_fees", "friendly_staff"} <= set(rows)
    # volume of a theme = distinct comments tagged with it in scope
    volume = tagged[tagged.theme == "long_wait"].response_id.nunique()
    row = re.search(r'<tr data-theme="long_wait">(.*?)</tr>', html, re.S).group(1)
    assert f">{volume:,}<" in row
    assert re.search(r"[-+]\d+\.\d\d to [-+]\d+\.\d\d", row)  # the effect's interval
    assert 'href="/units/bank/comments?theme=long_wait"' in row
    assert 'id="theme-trend"' in html and 'id="theme-trend-data"' in html
    assert '<table class="breakdown">' in html and "<h2>Emerging</h2>" in html


def test_themes_page_filters_by_touchpoint_and_groups_by_unit(analyst, tagged):
    html = analyst.get("/units/bank/themes", params={"by": "unit"}).text
    touchpoints = re.findall(r'<select id="touchpoint".*?</select>', html, re.S)[0]
    options = re.findall(r'<option value="([^"]+)"', touchpoints)
    assert options
    narrow = analyst.get("/units/bank/themes", params={"touchpoint": options[0]}).text
    assert f'<option value="{options[0]}" selected>' in narrow
    total = int(re.search(r"([\d,]+) tagged comments", html).group(1).replace(",", ""))
    part = int(re.search(r"([\d,]+) tagged comments", narrow).group(1).replace(",", ""))
    assert 0 < part < total
    groups = re.findall(
        r"<tr><th>([^<]+)</th>", html.split('<table class="breakdown">')[1].split("<tbody>")[1]
    )
    assert set(groups) == {"Retail Central", "Retail North", "Retail South"}  # names, not ids (issue 17)


def test_themes_are_scoped(demo, tagged):
    with browser(demo.settings, BRANCH) as client:
        for unit in ("bank", "reg-scotland", "br-0002", "br-9999"):
            assert client.get(f"/units/{unit}/themes").status_code == 404
        own = client.get("/units/br-0001/themes")
        assert own.status_code == 200
    api = demo.client.get("/api/v1/themes", params={"unit": "br-0002"}, headers=demo.as_(BRANCH))
    assert api.status_code == 404
    mine = demo.client.get("/api/v1/themes", headers=demo.as_(BRANCH)).json()
    everyone = demo.client.get("/api/v1/themes", headers=demo.as_(EXECUTIVE)).json()
    assert 0 < mine["comments"] < everyone["comments"]
    branch_ids = tagged[tagged.unit_id == "br-0001"].response_id.nunique()
    assert mine["comments"] >= branch_ids
    # cells under min_n are suppressed (null), never shown
    for row in mine["themes"]:
        if row["suppressed"]:
            assert row["volume"] is None and row["effect"] is None


def test_redaction_on_the_filtered_stream(demo, tagged, analyst, tmp_path, stores_for):
    """A new comment with personal data, imported and tagged like any other, is redacted wherever it is
    shown, also when the stream is filtered by its theme (page and API)."""
    import pyarrow.parquet as pq

    responses = pq.read_table(demo_dir(demo.settings) / "responses.parquet")
    row = responses.slice(0, 1).to_pylist()[0]
    row.update(
        response_id="R-H8-PII",
        unit_id="br-0001",
        comment="The fees are too high. Call me on +44 20 7946 0958 or jo.bloggs@example.com",
    )
    path = tmp_path / "pii.parquet"
    pq.write_table(pa.Table.from_pylist([row], schema=responses.schema), path)
    summary = import_file("responses", path, settings=demo.settings)
    assert summary.accepted == 1 and summary.rejected == 0, summary
    tag_comments(Viewer(unit_id="bank", role="admin"), stores=stores_for(demo.settings))
    html = analyst.get("/units/bank/comments", params={"theme": "high_fees", "q": "call me on"}).text
    assert 'data-response="R-H8-PII"' in html
    assert "jo.bloggs@example.com" not in html and "7946" not in html
    assert "[email]" in html and "[phone]" in html
    api = demo.client.get(
        "/api/v1/units/bank/comments",
        params={"theme": "high_fees", "q": "call me on"},
        headers=demo.as_(ANALYST),
    ).json()
    assert [i["response_id"] for i in api["items"]] == ["R-H8-PII"]
    assert "example.com" not in api["items"][0]["comment"] and "[email]" in api["items"][0]["comment"]


def test_api_theme_drivers_rank_complaints_and_join_the_items(demo, tagged):
    themes = demo.client.get("/api/v1/themes/drivers", headers=demo.as_(REGION))
    assert themes.status_code == 200, themes.text
    rows = themes.json()["items"]
    assert rows and all(r["source"] == "theme" for r in rows)
    points = [r["expected_nps_points"] for r in rows if r["expected_nps_points"] is not None]
    assert points == sorted(points, reverse=True)
    for r in rows:
        if r["effect"] is not None and r["effect"] >= 0:
            assert r["expected_nps_points"] == 0
    both = demo.client.get(
        "/api/v1/themes/drivers", params={"with_items": "true"}, headers=demo.as_(EXECUTIVE)
    ).json()["items"]
    assert {"item", "theme"} <= {r["source"] for r in both}
    outside = demo.client.get("/api/v1/themes/drivers", params={"unit": "bank"}, headers=demo.as_(REGION))
    assert outside.status_code == 404


def test_csv_export_of_the_stream_keeps_the_theme_filter_and_redaction(analyst, tagged):
    import csv
    import io

    page = analyst.get("/units/bank/comments", params={"theme": "high_fees"}).text
    link = re.search(r'href="(/units/bank/comments\.csv\?[^"]*)"', page).group(1).replace("&amp;", "&")
    assert "theme=high_fees" in link
    response = analyst.get(link)
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    fees = set(tagged[tagged.theme == "high_fees"].response_id)
    assert rows and {r["response_id"] for r in rows} <= fees | {"R-H8-PII"}
    assert all("@example.com" not in r["comment"] for r in rows)
