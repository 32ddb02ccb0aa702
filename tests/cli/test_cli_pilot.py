"""``cxloop pilot create|list|show|analyze|decide`` on the demo company (small scale, temporary data dir)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cxloop.cli import app

SCALE, SEED = 0.5, 2026


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory, demo_companies):
    data_dir = tmp_path_factory.mktemp("cli-pilot") / "data"
    dataset = demo_companies.copy(SCALE, SEED, data_dir).dataset
    return {"CXLOOP_DATA_DIR": str(data_dir)}, dataset.truth()["pilot"]


@pytest.fixture
def env(demo_env, monkeypatch):
    variables, truth = demo_env
    for key, value in variables.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CXLOOP_DATABASE_URL", raising=False)
    monkeypatch.delenv("CXLOOP_WAREHOUSE_URL", raising=False)
    return truth


def _invoke(*args: str):
    return CliRunner().invoke(app, ["pilot", *args])


def test_create_analyze_decide_on_the_demo(env) -> None:
    truth = env
    branches = ",".join(truth["treated_branches"])
    cost = str(truth["cost_per_branch_month"] * len(truth["treated_branches"]))
    created = _invoke(
        "create",
        "ftr",
        "--units",
        branches,
        "--start",
        truth["start"],
        "--running-cost",
        cost,
        "--hypothesis",
        "first-time resolution lifts NPS",
        "--actions",
        "train staff; empower",
    )
    assert created.exit_code == 0, created.output
    again = _invoke("create", "ftr", "--units", branches, "--start", truth["start"])
    assert again.exit_code == 1 and "exists already" in again.output

    listed = _invoke("list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [p["name"] for p in json.loads(listed.output)] == ["ftr"]
    elsewhere = _invoke("list", "--json", "--unit", "reg-london")
    assert elsewhere.exit_code == 0 and json.loads(elsewhere.output) == []
    hidden = _invoke("show", "ftr", "--unit", "reg-london")
    assert hidden.exit_code == 1 and "no pilot" in hidden.output
    shown = _invoke("show", "ftr", "--json", "--unit", truth["region"])
    assert shown.exit_code == 0 and json.loads(shown.output)["linked_actions"] == ["train staff", "empower"]

    text = _invoke("analyze", "ftr")
    assert text.exit_code == 0, text.output
    assert "nps: effect" in text.output and "Balance before the start" in text.output and "ROI" in text.output
    assert "In plain words: NPS: a clear rise" in text.output
    result = _invoke("analyze", "ftr", "--json", "--inference", "randomization")
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    nps = payload["impacts"]["nps"]
    true_points = truth["true_effects"]["nps_points"]
    print(  # noqa: T201
        f"\n[cli pilot analyze] NPS {nps['effect']:+.2f} ({nps['ci_low']:+.2f} to {nps['ci_high']:+.2f}),"
        f" truth {true_points:+.2f}; churn {payload['impacts']['churn']['effect']:+.4f}"
        f" (truth {truth['true_effects']['monthly_churn_hazard']:+.4f}); ROI {payload['roi']['roi']:+.2f}"
    )
    assert nps["ci_low"] <= true_points <= nps["ci_high"]
    assert payload["roi"]["cost"] > 0 and len(payload["balance"]) >= 3

    decided = _invoke("decide", "ftr", "scale", "--note", "covers the target", "--by", "cx lead")
    assert decided.exit_code == 0, decided.output
    assert json.loads(_invoke("show", "ftr", "--json").output)["decisions"][0]["decision"] == "scale"
    bad = _invoke("decide", "ftr", "maybe")
    assert bad.exit_code == 1 and "scale, iterate or stop" in bad.output

    spare = "br-0001,br-0002"
    added = _invoke(
        "wave", "ftr", "wave 1", "--units", spare, "--start", "2026-03-01", "--running-cost", "300"
    )
    assert added.exit_code == 0, added.output
    overview = _invoke("programme", "--json", "--inference", "cluster")
    assert overview.exit_code == 0, overview.output
    rows = json.loads(overview.output)
    assert [r["wave"] for r in rows] == [None, "wave 1"] and rows[0]["decision"] == "scale"
    assert rows[1]["roi_vs_pilot"] is not None
