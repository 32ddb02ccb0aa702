"""``cxloop drivers``: table with bars, JSON with each driver's numbers, priorities, scope and exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cxloop.cli import app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services" / "understand"))
from test_drivers_fixtures import build_company  # noqa: E402

runner = CliRunner()


@pytest.fixture
def env(settings, monkeypatch):
    build_company(settings)
    monkeypatch.setenv("CXLOOP_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("COLUMNS", "200")
    return settings


def test_json_lists_drivers_with_importance_ci_rank_and_n(env):
    result = runner.invoke(
        app, ["drivers", "--unit", "r1", "--outcome", "nps", "--json", "--bootstrap", "30"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["unit"] == "r1" and payload["outcome"] == "nps"
    assert payload["n"] > 0 and 0 < payload["r2"] < 1
    first = payload["drivers"][0]
    assert first["driver"] == "wait" and first["rank"] == 1
    assert {"importance", "relative_importance", "ci", "p_value"} <= set(first)
    assert sum(d["relative_importance"] for d in payload["drivers"]) == pytest.approx(1.0)


def test_table_has_bars_and_the_n(env):
    result = runner.invoke(app, ["drivers", "--unit", "root", "--outcome", "csat"])
    assert result.exit_code == 0, result.output
    assert "Key drivers of satisfaction" in result.output
    assert "█" in result.output and "Wait" in result.output
    assert "dropped: missing answers)" in result.output


def test_binary_outcome_and_segment(env):
    result = runner.invoke(
        app, ["drivers", "--unit", "root", "--outcome", "repurchase_90d", "--segment", "mass", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["outcome_type"] == "binary" and payload["segment"] == "mass"
    table = runner.invoke(app, ["drivers", "--unit", "root", "--outcome", "churn_180d"])
    assert table.exit_code == 0, table.output
    assert "missing answers or outcome not yet observed" in table.output and "R_O²" in table.output


def test_priorities(env):
    result = runner.invoke(app, ["drivers", "--unit", "b2", "--priorities"])
    assert result.exit_code == 0, result.output
    assert "Where to improve first" in result.output and "at your region" in result.output
    # each reason is printed whole under the table, not squeezed into a column
    assert "Why each ranks where it does" in result.output
    assert (
        "  1. Wait explains " in result.output and "First because it is the most important" in result.output
    )
    as_json = runner.invoke(app, ["drivers", "--unit", "b2", "--priorities", "--json"])
    assert json.loads(as_json.stdout)["priorities"][0]["driver"] == "wait"


def test_bad_requests_exit_2(env):
    unknown = runner.invoke(app, ["drivers", "--unit", "nowhere"])
    assert unknown.exit_code == 2 and "unknown unit" in unknown.output
    bad_outcome = runner.invoke(app, ["drivers", "--outcome", "spend"])
    assert bad_outcome.exit_code == 2 and "churn_180d" in bad_outcome.output


def test_help_documents_priorities(env):
    result = runner.invoke(app, ["drivers", "--help"])
    assert result.exit_code == 0
    assert "--priorities" in result.output and "repurchase_90d" in result.output


def test_priorities_across_segments(env):
    result = runner.invoke(app, ["drivers", "--unit", "r1", "--priorities", "--across", "segment", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["priorities"]
    assert {r["segment"] for r in rows} == {"mass", "affluent"}
    table = runner.invoke(app, ["drivers", "--unit", "r1", "--priorities", "--across", "segment"])
    assert table.exit_code == 0 and "segment" in table.output and "Segment mass:" in table.output
    wrong = runner.invoke(app, ["drivers", "--across", "segment"])
    assert wrong.exit_code == 2 and "--priorities" in wrong.output
