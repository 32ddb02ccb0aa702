"""``cxloop clv fit`` and ``cxloop clv score`` on a small synthetic company."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import cxloop.cli.clv  # noqa: F401 - registers the command group
from cxloop.cli._app import app
from cxloop.config import Settings
from cxloop.warehouse.connection import connect
from support.value_world import CAL_END, install, sbg_world, simulate


@pytest.fixture
def env(tmp_path, monkeypatch):
    data_dir = tmp_path / "data"
    monkeypatch.setenv("CXLOOP_DATA_DIR", str(data_dir))
    monkeypatch.delenv("CXLOOP_DATABASE_URL", raising=False)
    monkeypatch.delenv("CXLOOP_WAREHOUSE_URL", raising=False)
    return Settings(data_dir=data_dir)


@pytest.fixture
def company(env):
    install(env, simulate(n=400, seed=3))
    return env


def test_fit_prints_parameters_and_holdout(company):
    result = CliRunner().invoke(app, ["clv", "fit", "--calibration-end", CAL_END.isoformat()])
    assert result.exit_code == 0, result.output
    for text in ("alpha", "gamma_gamma", "log-likelihood", "Holdout", "7+"):
        assert text in result.output


def test_fit_json_and_figure(company, tmp_path):
    figure = tmp_path / "fig" / "holdout.html"
    result = CliRunner().invoke(
        app,
        [
            "clv",
            "fit",
            "--calibration-end",
            CAL_END.isoformat(),
            "--time-unit",
            "day",
            "--json",
            "--figure",
            str(figure),
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["time_unit"] == "day"
    assert set(payload["models"]["bg_nbd"]["params"]) == {"r", "alpha", "a", "b"}
    assert payload["holdout"]["totals"]["actual"] > 0
    assert payload["figure"] == str(figure) and figure.exists()


def test_score_writes_back(company):
    result = CliRunner().invoke(app, ["clv", "score", "--horizon", "6", "--penalizer", "0.0001", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["rows"] == 400 and payload["horizon_months"] == 6
    assert [t["value_tier"] for t in payload["tiers"]] == ["top", "middle", "bottom"]
    stored = connect(company).table("customer_value").execute()
    assert len(stored) == 400 and (stored.horizon == 6).all()
    scoped = CliRunner().invoke(app, ["clv", "score", "--unit", "south"])
    assert scoped.exit_code == 0, scoped.output
    assert "Scored" in scoped.output


def test_errors_say_what_to_do(env):
    empty = CliRunner().invoke(app, ["clv", "score"])
    assert empty.exit_code == 1
    assert "cxloop demo generate" in empty.output or "cxloop db upgrade" in empty.output
    install(env, simulate(n=0))
    none = CliRunner().invoke(app, ["clv", "fit", "--calibration-end", "2024-01-01"])
    assert none.exit_code == 1 and "cxloop demo generate" in none.output
    bad = CliRunner().invoke(app, ["clv", "fit", "--calibration-end", "2024-01-01", "--time-unit", "year"])
    assert bad.exit_code == 1 and "--time-unit" in bad.output
    date_error = CliRunner().invoke(app, ["clv", "fit", "--calibration-end", "soon"])
    assert date_error.exit_code == 1
    outside = CliRunner().invoke(app, ["clv", "score", "--unit", "atlantis"])
    assert outside.exit_code == 1 and "atlantis" in outside.output


def test_kpis_tiers_and_experience(company):
    runner = CliRunner()
    window = ["clv", "kpis", "--start", "2023-04-01", "--end", "2023-09-30"]
    kpis = runner.invoke(app, [*window, "--include", "subtree", "--json"])
    assert kpis.exit_code == 0, kpis.output
    cells = json.loads(kpis.output)["cells"]
    assert {c["unit"] for c in cells} == {"bank", "north", "south", "n1", "n2", "s1"}
    assert any(c["kpi"] == "churn_rate_inactivity" and c["estimate"] is not None for c in cells)
    children = json.loads(runner.invoke(app, [*window, "--json"]).output)["cells"]
    assert {c["unit"] for c in children} == {"bank", "north", "south"}
    text = runner.invoke(app, [*window, "--unit", "north"], env={"COLUMNS": "200"})
    assert text.exit_code == 0, text.output
    rows = [line for line in text.output.splitlines() if line.startswith("│ ")]
    assert [r.split("│")[1].strip() for r in rows if r.split("│")[1].strip()] == ["north", "n1", "n2"]
    assert "repeat" in text.output and "CLV needs `cxloop clv score`" in text.output
    north = next(c for c in cells if c["unit"] == "north" and c["kpi"] == "repeat_purchase_rate")
    low, high = (f"{100 * north[k]:.1f}" for k in ("ci_low", "ci_high"))
    assert f"{low}-{high}" in text.output  # the interval is shown under the estimate
    bad = runner.invoke(app, [*window, "--include", "everything"])
    assert bad.exit_code == 1 and "--include" in bad.output
    not_scored = runner.invoke(app, ["clv", "tiers"])
    assert not_scored.exit_code == 1 and "cxloop clv score" in not_scored.output
    assert runner.invoke(app, ["clv", "score"]).exit_code == 0
    tiers = runner.invoke(app, ["clv", "tiers"])
    assert tiers.exit_code == 0 and "profit concentration" in tiers.output
    experience = runner.invoke(app, ["clv", "experience", "--as-of", "2023-09-30", "--json"])
    assert experience.exit_code == 0, experience.output
    payload = json.loads(experience.output)
    assert payload["nps_point_value"]["estimate"] > 0
    assert set(payload["revenue_at_risk"]) == {"detractor_clv", "excess_churn_value"}
    shown = runner.invoke(app, ["clv", "experience", "--as-of", "2023-09-30"])
    assert shown.exit_code == 0 and "nps_point_value" in shown.output
    bad = runner.invoke(app, ["clv", "experience", "--as-of", "someday"])
    assert bad.exit_code == 1 and "--as-of" in bad.output


def test_retention_without_heterogeneity_fails_cleanly(company):
    homogeneous = CliRunner().invoke(app, ["clv", "retention", "--as-of", "2024-06-30"])
    assert homogeneous.exit_code == 1 and "converge" in homogeneous.output


def test_retention(env):
    install(env, sbg_world(n=600))
    result = CliRunner().invoke(
        app, ["clv", "retention", "--as-of", "2024-06-30", "--periods", "6", "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload["params"]) == {"alpha", "beta"} and len(payload["projection"]) == 7
    text = CliRunner().invoke(app, ["clv", "retention", "--as-of", "2024-06-30"])
    assert text.exit_code == 0 and "sBG retention" in text.output
