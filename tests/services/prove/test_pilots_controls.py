"""Control selection: matching on pre-period level, trend and size; named controls; balance table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxloop.services.prove.controls import balance_table, pre_period_features, select_controls


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    rows = []
    # treated t1, t2 look like c1, c2 (level ~30, rising); c3..c6 are far (level ~0, flat or falling)
    spec = {
        "t1": (30, 1.0),
        "t2": (31, 1.2),
        "c1": (30.5, 1.1),
        "c2": (29.5, 0.9),
        "c3": (0, 0.0),
        "c4": (2, -1.0),
        "c5": (-5, 0.0),
        "c6": (60, -2.0),
    }
    for unit, (level, slope) in spec.items():
        for t in range(8):
            rows.append({"unit": unit, "period": t, "nps": level + slope * t + rng.normal(0, 0.1), "n": 100})
    return pd.DataFrame(rows)


def test_features_are_level_trend_and_size() -> None:
    features = pre_period_features(
        _panel(), unit="unit", period="period", metrics=["nps"], weight="n", before=6
    )
    assert features.loc["t1", "nps_trend"] == pytest.approx(1.0, abs=0.05)
    assert features.loc["c4", "nps_level"] == pytest.approx(2 - 2.5, abs=0.1)  # mean of t = 0..5
    assert features.loc["c1", "log_size"] == pytest.approx(np.log1p(600))


def test_matching_picks_the_look_alikes() -> None:
    features = pre_period_features(
        _panel(), unit="unit", period="period", metrics=["nps"], weight="n", before=6
    )
    selection = select_controls(features, ["t1", "t2"], per_treated=1)
    assert set(selection.controls) == {"c1", "c2"}
    # By design: pre-period levels t1 32.5, t2 34.0 against c1 33.25, c2 31.75 (mean of t = 0..5), so the
    # difference of means is 0.75 over a pooled SD of sqrt((1.125 + 1.125) / 2): an SMD of 1/sqrt(2), give or
    # take the panel's noise (SD 0.1 a period moves each level by ~0.04, the SMD by ~0.05).
    smd = selection.balance.set_index("feature").loc["nps_level", "smd"]
    assert smd == pytest.approx(1 / np.sqrt(2), abs=0.15)
    level = features["nps_level"]
    t, c = level[["t1", "t2"]], level[["c1", "c2"]]
    assert smd == pytest.approx(
        (t.mean() - c.mean()) / np.sqrt((t.var(ddof=1) + c.var(ddof=1)) / 2), rel=1e-12
    )
    far = balance_table(features, ["t1", "t2"], ["c3", "c5"])
    assert abs(far.set_index("feature").loc["nps_level", "smd"]) > 5
    assert "Mahalanobis" in selection.method and "control units" in selection.summary()


def test_named_controls_and_refusals() -> None:
    features = pre_period_features(
        _panel(), unit="unit", period="period", metrics=["nps"], weight="n", before=6
    )
    named = select_controls(features, ["t1"], named=["c5", "c6"])
    assert named.controls == ("c5", "c6") and named.method == "named by the user"
    with pytest.raises(ValueError, match="cannot be controls"):
        select_controls(features, ["t1"], named=["t1"])
    with pytest.raises(ValueError, match="no candidate"):
        select_controls(features, ["t1"], candidates=["t1", "zz"])
