"""Unit pages (league table, drill-down, breadcrumbs, CSV) and the comments page: scope on every page,
and a comment holding HTML/JS is shown as text."""

from __future__ import annotations

import csv
import io
import re

import pytest
from fastapi.testclient import TestClient

from cxloop.demo.users import DEMO_PASSWORD
from cxloop.warehouse.connection import connect
from cxloop.web.app import create_app
from support.web_demo import BRANCH, EXECUTIVE, REGION

PAGES = ["", "/export.csv", "/comments"]


def _browser(settings, email):
    client = TestClient(create_app(settings), base_url="https://testserver", follow_redirects=False)
    form = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form).group(1)
    response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    return client


@pytest.fixture(scope="module")
def branch(demo):
    with _browser(demo.settings, BRANCH) as client:
        yield client


@pytest.fixture(scope="module")
def executive(demo):
    with _browser(demo.settings, EXECUTIVE) as client:
        yield client


@pytest.mark.parametrize("page", PAGES)
def test_pages_need_a_login(demo, page):
    with TestClient(
        create_app(demo.settings), base_url="https://testserver", follow_redirects=False
    ) as client:
        response = client.get(f"/units/bank{page}")
    assert response.status_code == 303 and response.headers["location"] == "/login"


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("unit", ["reg-scotland", "div-north", "bank", "br-0002", "br-9999"])
def test_branch_manager_gets_404_beside_and_above_on_every_page(branch, page, unit):
    response = branch.get(f"/units/{unit}{page}")
    assert response.status_code == 404


@pytest.mark.parametrize("page", PAGES)
def test_branch_manager_sees_own_branch_pages(branch, page):
    assert branch.get(f"/units/br-0001{page}").status_code == 200


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("unit", ["bank", "div-north", "reg-scotland", "br-0001", "br-0002"])
def test_executive_sees_every_page(executive, page, unit):
    assert executive.get(f"/units/{unit}{page}").status_code == 200


def test_unit_page_drills_down_with_breadcrumbs(executive):
    page = executive.get("/units/reg-north-west").text
    crumbs = re.search(r'<nav aria-label="breadcrumbs".*?</nav>', page, re.S).group(0)
    assert '<a href="/units/bank">' in crumbs and '<a href="/units/div-north">' in crumbs
    children = re.findall(r'<tr data-unit="([^"]+)"', page)
    assert children[0] == "reg-north-west" and len(children) > 1
    for child in children[1:]:
        assert f'<a href="/units/{child}">' in page


def test_breadcrumbs_stop_at_the_viewers_own_unit(demo):
    with _browser(demo.settings, REGION) as client:
        page = client.get("/units/br-0005").text
    crumbs = re.search(r'<nav aria-label="breadcrumbs".*?</nav>', page, re.S).group(0)
    assert (
        "/units/reg-north-west" in crumbs and "/units/div-north" not in crumbs and "/units/bank" not in crumbs
    )


def test_csv_export_has_a_row_per_shown_cell(executive):
    response = executive.get("/units/div-north/export.csv")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    html = executive.get("/units/div-north").text
    assert sorted(r["unit"] for r in rows) == sorted(re.findall(r'<tr data-unit="([^"]+)"', html))
    assert {r["metric"] for r in rows} == {"nps"}


def test_comment_with_html_and_script_is_shown_as_text(demo, branch):
    con = connect(demo.settings)
    script = "<script>alert('pwned')</script><img src=x onerror=alert(1)> fine service"
    con.raw_sql(
        "UPDATE responses SET comment = '" + script.replace("'", "''") + "' WHERE response_id = "
        "(SELECT max(response_id) FROM responses WHERE unit_id = 'br-0001')"
    )
    con.disconnect()
    page = branch.get("/units/br-0001/comments?q=pwned")
    assert page.status_code == 200
    assert "<script>alert(" not in page.text and "<img src=x" not in page.text
    assert (
        "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; fine service"
        in page.text
    )


def test_comment_search_on_the_page_narrows_the_list(executive):
    everything = executive.get("/units/bank/comments").text
    total = int(re.search(r"([\d,]+) comments", everything).group(1).replace(",", ""))
    searched = executive.get("/units/bank/comments?q=staff").text
    narrowed = int(re.search(r"([\d,]+) comments", searched).group(1).replace(",", ""))
    assert 0 < narrowed < total
    assert 'value="staff"' in searched
