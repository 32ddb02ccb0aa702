"""The key-driver service: scope before any query, suppression, and the same numbers as the estimator."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_drivers_fixtures import ITEMS, build_company

from cxloop.services.access.scope import ScopeError, UnknownUnitError, Viewer
from cxloop.services.understand.drivers import driver_analysis
from cxloop.stats.drivers import KeyDriverAnalysis


@pytest.fixture
def company(settings):
    return build_company(settings)


def _rows(frames, units) -> pd.DataFrame:
    wide = frames["answers"].pivot(index="response_id", columns="item", values="value")
    df = frames["responses"].set_index("response_id").join(wide)
    return df[df.unit_id.isin(units)]


def test_region_drivers_equal_the_estimator_on_rows(settings, company, stores_for):
    result = driver_analysis(Viewer("root"), stores=stores_for(settings), unit_id="r1", outcome="nps")
    rows = _rows(company, ["b1", "b2"])
    complete = rows[["nps", *ITEMS]].dropna()
    expected = KeyDriverAnalysis(method="shapley").fit(complete[list(ITEMS)], complete.nps)
    assert result.n == len(complete)
    assert result.n_responses == len(rows)
    assert result.n_dropped == len(rows) - len(complete)
    assert result.r2 == pytest.approx(expected.r2_, rel=1e-9)
    got = result.drivers.set_index("driver")
    np.testing.assert_allclose(
        got.loc[list(ITEMS), "importance"], expected.importance_[list(ITEMS)], rtol=1e-8
    )
    assert list(result.drivers.driver) == ["wait", "staff", "price"]
    assert list(result.drivers["rank"]) == [1, 2, 3]
    assert result.drivers.label.tolist() == ["Wait", "Staff", "Price"]


def test_viewer_cannot_analyse_outside_their_subtree(settings, company, stores_for):
    with pytest.raises(ScopeError):
        driver_analysis(Viewer("r2"), stores=stores_for(settings), unit_id="r1", outcome="nps")
    with pytest.raises(UnknownUnitError):
        driver_analysis(Viewer("root"), stores=stores_for(settings), unit_id="nowhere", outcome="nps")
    own = driver_analysis(Viewer("r2"), stores=stores_for(settings), outcome="csat")
    assert own.unit_id == "r2" and own.n > 0


def test_small_scope_is_suppressed(settings, company, stores_for):
    strict = settings.model_copy(update={"min_n": 10_000})
    result = driver_analysis(Viewer("root"), stores=stores_for(strict), unit_id="b1", outcome="nps")
    assert result.suppressed
    assert result.n is None and result.r2 is None and result.drivers.empty
    payload = result.to_dict()
    assert payload["suppressed"] and payload["drivers"] == [] and payload["n"] is None


def test_segment_and_touchpoint_filters(settings, company, stores_for):
    result = driver_analysis(
        Viewer("root"),
        stores=stores_for(settings),
        unit_id="root",
        outcome="nps",
        segment="mass",
        touchpoint="app",
    )
    rows = _rows(company, ["b1", "b2", "b3"])
    rows = rows[(rows.segment == "mass") & (rows.touchpoint == "app")]
    assert result.n == len(rows[["nps", *ITEMS]].dropna())
    assert (result.segment, result.touchpoint) == ("mass", "app")


def test_binary_outcome_uses_logistic_weights_on_a_documented_sample(settings, company, stores_for):
    full = driver_analysis(
        Viewer("root"), stores=stores_for(settings), unit_id="root", outcome="repurchase_90d"
    )
    assert full.outcome_type == "binary" and full.method == "relative_weights"
    assert full.sample_fraction == 1.0 and full.notes == ()
    assert full.drivers.relative_importance.sum() == pytest.approx(1.0)
    sampled = driver_analysis(
        Viewer("root"), stores=stores_for(settings), unit_id="root", outcome="churn_180d", max_rows=400
    )
    assert sampled.sample_fraction < 1.0
    assert "random sample" in sampled.notes[0]
    assert sampled.n < sampled.n_responses - sampled.n_dropped


def test_bootstrap_intervals_in_json(settings, company, stores_for):
    result = driver_analysis(
        Viewer("root"),
        stores=stores_for(settings),
        unit_id="root",
        outcome="nps",
        method="relative_weights",
        bootstrap=60,
    )
    payload = json.loads(json.dumps(result.to_dict()))
    first = payload["drivers"][0]
    low, high = first["ci"]["relative_importance"]
    assert low <= first["relative_importance"] <= high
    assert first["beats_random"] is True
    assert payload["missing_policy"] == "listwise" and payload["r2"] > 0.3
    assert "Wait" in result.summary()
