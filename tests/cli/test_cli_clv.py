"""``cxloop clv fit`` and ``cxloop clv score`` on a small synthetic company."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cxloop.cli.clv  # noqa: F401 - registers the command group
from cxloop.cli._app import app
from cxloop.config import Settings
from cxloop.warehouse.connection import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))
from value_world import CAL_END, install, simulate  # noqa: E402


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
    result = CliRunner().invoke(app, ["clv", "score", "--horizon", "6", "--json"])
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
