"""``cxloop text themes|tag|impact|suggest`` on a small demo company."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import cxloop.cli.text  # noqa: F401 - registers the command group
from cxloop.cli._app import app


@pytest.fixture(scope="module")
def demo(tmp_path_factory, demo_companies):
    data_dir = tmp_path_factory.mktemp("cli-text") / "data"
    demo_companies.copy(0.05, 5, data_dir)
    return data_dir


@pytest.fixture
def env(demo, monkeypatch):
    monkeypatch.setenv("CXLOOP_DATA_DIR", str(demo))
    monkeypatch.delenv("CXLOOP_DATABASE_URL", raising=False)
    monkeypatch.delenv("CXLOOP_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # rich tables: room for the theme names
    return demo


def run(*args):
    return CliRunner().invoke(app, ["text", *args])


def test_workflow(env):
    empty = run("tag")
    assert empty.exit_code == 1 and "seed-demo" in empty.output
    assert "added 12 themes" in run("themes", "seed-demo").output
    listed = json.loads(run("themes", "list", "--json").output)
    assert {r["name"] for r in listed} >= {"long_wait", "staff"}
    tagged = json.loads(run("tag", "--json").output)
    assert tagged["tagged"] > 1000 and tagged["tags"] > tagged["tagged"] * 0.8
    assert json.loads(run("tag", "--json").output)["tagged"] == 0  # incremental

    table = run("impact")
    assert table.exit_code == 0, table.output
    assert "effect on NPS" in table.output and "unresolved_issue" in table.output
    payload = json.loads(run("impact", "--json", "--by", "touchpoint").output)
    assert payload["comments"] == tagged["tagged"]
    themes = {t["theme"]: t for t in payload["themes"]}
    assert themes["unresolved_issue"]["effect"] < 0 < themes["personal_service"]["effect"]
    assert {c["group"] for c in payload["breakdown"]["cells"]} >= {"mobile_app", "branch_visit"}

    behaviour = json.loads(run("behaviour", "--json", "--horizon", "90").output)
    assert behaviour["horizon_days"] == 90 and {r["outcome"] for r in behaviour["rows"]} == {
        "repurchase",
        "churn",
    }
    assert "Behaviour in the 90 days" in run("behaviour", "--horizon", "90").output

    drivers = json.loads(run("drivers", "--json").output)["priorities"]
    costs = {r["driver"]: r["expected_nps_points"] for r in drivers}
    assert costs["unresolved_issue"] > 0 and costs["personal_service"] == 0
    assert [r["rank"] for r in drivers] == list(range(1, len(drivers) + 1))
    together = run("drivers", "--with-items")
    assert together.exit_code == 0 and "item" in together.output and "theme" in together.output

    bad = run("impact", "--outcome", "loyalty")
    assert bad.exit_code == 1 and "nps, csat or ces" in bad.output
    outside = run("impact", "--unit", "no-such-unit")
    assert outside.exit_code == 1 and "unknown unit" in outside.output


def test_theme_editing_and_suggest(env):
    run("themes", "seed-demo")
    added = run("themes", "add", "mortgage", "--keywords", "mortgage, remortgage", "--parent", "nope")
    assert added.exit_code == 1 and "no parent" in added.output
    assert run("themes", "add", "mortgage", "--keywords", "mortgage, remortgage").exit_code == 0
    assert run("themes", "update", "mortgage", "--keywords", "mortgage").exit_code == 0
    assert run("themes", "retire", "mortgage").exit_code == 0
    names = {r["name"] for r in json.loads(run("themes", "list", "--json", "--all").output)}
    active = {r["name"] for r in json.loads(run("themes", "list", "--json").output)}
    assert "mortgage" in names and "mortgage" not in active
    assert "Codebook" in run("themes", "list").output
    run("tag")
    suggested = run("suggest", "--n", "3", "--json")
    assert suggested.exit_code == 0, suggested.output
    body = json.loads(suggested.output)
    assert body["method"] == "nmf" and len(body["suggestions"]) <= 3
