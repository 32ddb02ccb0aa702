"""What people read on the pages (issue 17): money with its currency, one number format, rates as
percentages, names instead of ids, and CSVs that keep machine-readable values beside human labels."""

from __future__ import annotations

import csv
import io
import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from cxloop.services.understand.dashboard import Tile, _with_status
from cxloop.web.rendering import templates
from support.web_demo import ANALYST, EXECUTIVE

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_themes_pages import browser, tagged  # noqa: E402, F401 - the page client and tagged comments

# an amount of money without its currency, e.g. ">1,591<" in a table cell
_BARE_NUMBER_CELL = re.compile(r'<td class="num">-?[0-9][0-9,]*(\.[0-9]+)?</td>')


@pytest.fixture(scope="module")
def executive(demo):
    with browser(demo.settings, EXECUTIVE) as client:
        yield client


@pytest.fixture(scope="module")
def analyst(demo, tagged):  # noqa: F811
    with browser(demo.settings, ANALYST) as client:
        yield client


def test_home_money_tiles_carry_the_currency(executive):
    page = executive.get("/")
    assert page.status_code == 200
    # the demo has no CLV scores, so render the tiles of a programme that has them through the same template
    common = {
        "label": "CLV",
        "period": "last 6 months",
        "suppressed": False,
        "n": 6034,
        "spark": [],
        "previous": {"difference": 2132.1, "significant": False, "label": "previous period"},
        "parent": {"difference": None, "note": None},
    }
    tiles = [
        _with_status(Tile(**common, name="clv", estimate=2132.1, ci_low=1900.0, ci_high=2400.0)).to_dict(),
        _with_status(Tile(**common, name="churn", estimate=12.34, ci_low=10.0, ci_high=14.0)).to_dict(),
    ]
    viewer = SimpleNamespace(unit_id="bank", role=SimpleNamespace(value="executive"))
    html = templates.get_template("home.html").render(
        tiles=tiles, trend={}, viewer=viewer, confidence="95%", min_n=5, unit_name="Bank", csrf_token="x"
    )
    values = re.findall(r'<div class="value">([^<]*)</div>', html)
    assert values == ["€2,132", "12.3%"]
    assert "95% interval €1,900 to €2,400" in html
    assert "n = 6,034" in html and "+2,132.1 vs previous period" in html


def test_value_page_shows_money_rates_and_measures_by_name(executive):
    page = executive.get("/units/bank/value")
    assert page.status_code == 200
    text = page.text
    # measures by name, not key; rates as percentages, money with its currency
    assert "subscription_churn_rate" not in text and "repurchase_rate" not in text
    assert "Subscription churn rate" in text
    rows = re.findall(
        r'<td>(Spend per customer|Bought again)</td>\s*<td class="num">[^<]*</td>'
        r'<td class="num">([^<]*)</td>',
        text,
    )
    assert rows, "behaviour by NPS class rows"
    for measure, estimate in rows:
        assert ("€" in estimate) if measure.startswith("Spend") else estimate.endswith("%"), (
            measure,
            estimate,
        )
    assert not re.search(r">0\.\d{2,}<", text), "a rate shown as a ratio"
    # the figure's name and its money
    risk = re.search(r'data-figure="nps_point_value"><td>([^<]*)</td><td class="num">([^<]*)<', text)
    assert risk and risk.group(1) == "Value of one NPS point a year" and "€" in risk.group(2)


def test_value_csv_keeps_numbers_machine_readable_and_adds_labels(executive):
    answer = executive.get("/units/bank/value", params={"table": "by_nps_class", "format": "csv"})
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    spend = next(r for r in rows if r["measure"] == "spend" and r["estimate"])
    assert spend["measure_label"] == "Spend per customer"
    float(spend["estimate"])  # a plain number: no currency, no grouping
    assert "€" not in answer.text and "%" not in answer.text


def test_themes_and_touchpoints_show_names_not_ids(analyst):
    page = analyst.get("/units/bank/themes", params={"by": "touchpoint"})
    assert page.status_code == 200
    cells = " ".join(re.findall(r"<td>([^<]*)", page.text)) + " ".join(
        re.findall(r"<th>([^<]*)</th>", page.text)
    )
    assert "long_wait" not in cells and "Long wait" in cells
    assert "branch_visit" not in cells and "Branch visit" in cells
    # ids stay in the links and data attributes
    assert 'data-theme="long_wait"' in page.text and "theme=long_wait" in page.text


def test_comments_csv_has_names_beside_ids(analyst):
    answer = analyst.get("/units/bank/comments.csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert rows and rows[0]["unit_id"].startswith("br-")
    assert rows[0]["unit_name"] and not rows[0]["unit_name"].startswith("br-")
    assert rows[0]["touchpoint_name"] and "_" not in rows[0]["touchpoint_name"]


def _embedded(html: str, element_id: str):
    found = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert found, element_id
    return json.loads(found.group(1))


def test_every_dashboard_chart_names_its_axes_with_units(executive):
    for path in ("/units/bank/trends", "/units/bank/touchpoints", "/units/bank/value"):
        charts = _embedded(executive.get(path).text, "chart-data")
        assert charts, path
        for chart in charts:
            assert chart["xtitle"] and chart["ytitle"], (path, chart["target"])
    trends = _embedded(executive.get("/units/bank/trends").text, "chart-data")
    assert trends[0]["ytitle"] == "NPS (points, -100 to 100)"
    home = _embedded(executive.get("/").text, "trend-data")
    assert home["xtitle"] == "Month" and home["ytitle"].startswith("NPS (")


def test_the_themes_trend_draws_eight_lines_unless_all_are_asked_for(analyst):
    page = analyst.get("/units/bank/themes")
    trend = _embedded(page.text, "theme-trend-data")
    assert len(trend["themes"]) == 8 and set(trend["series"]) == set(trend["themes"])
    assert all(trend["labels"][t] == t.replace("_", " ").capitalize() for t in trend["themes"])  # names
    assert "Show all 12 themes" in page.text
    every = _embedded(analyst.get("/units/bank/themes", params={"series": "all"}).text, "theme-trend-data")
    assert len(every["themes"]) == 12 and set(trend["themes"]) <= set(every["themes"])
    # the eight drawn are those with the most comments
    totals = {t: sum(v or 0 for v in every["series"][t]["y"]) for t in every["themes"]}
    assert set(trend["themes"]) == set(sorted(totals, key=totals.get, reverse=True)[:8])
