"""Theme effects: OLS + HC3 against statsmodels, frequency weights equal to expanded rows, recovery."""

import numpy as np
import pytest
import statsmodels.api as sm

from cxloop.text.effects import theme_effects


def _data(seed=3, n=4000):
    rng = np.random.default_rng(seed)
    item = rng.normal(size=n)
    themes = (rng.random((n, 3)) < [0.2, 0.1, 0.3]).astype(float)
    themes[:, 0] = (rng.random(n) < 1 / (1 + np.exp(2 + item))).astype(float)  # a symptom of low items
    y = (
        7
        + 1.2 * item
        + themes @ np.array([-0.8, 0.5, 0.0])
        + rng.normal(scale=1.5 + 0.5 * themes[:, 1], size=n)
    )
    return themes, y, item


def test_matches_statsmodels_hc3():
    themes, y, item = _data()
    result = theme_effects(themes, y, ["a", "b", "c"], covariates=item[:, None], covariate_names=["item"])
    fit = sm.OLS(y, sm.add_constant(np.column_stack([themes, item]))).fit(cov_type="HC3")
    np.testing.assert_allclose(result.frame.effect, fit.params[1:4], rtol=1e-10)
    np.testing.assert_allclose(result.frame.se, fit.bse[1:4], rtol=1e-8)
    assert result.r_squared == pytest.approx(fit.rsquared)
    assert result.n == len(y)


def test_recovers_direct_effects_only_with_the_covariate():
    themes, y, item = _data(seed=5, n=20000)
    adjusted = theme_effects(themes, y, ["a", "b", "c"], covariates=item[:, None]).frame
    naive = theme_effects(themes, y, ["a", "b", "c"]).frame
    assert adjusted.ci_low[0] < -0.8 < adjusted.ci_high[0]
    assert adjusted.ci_low[1] < 0.5 < adjusted.ci_high[1]
    assert adjusted.ci_low[2] < 0.0 < adjusted.ci_high[2]
    assert naive.ci_high[0] < -0.8  # confounded by the item: looks worse than it is


def test_frequency_weights_equal_expanded_rows():
    rng = np.random.default_rng(8)
    patterns = rng.integers(0, 2, size=(40, 2)).astype(float)
    score = rng.integers(0, 11, size=40).astype(float)
    counts = rng.integers(1, 6, size=40)
    grouped = theme_effects(patterns, score, ["a", "b"], weights=counts).frame
    expanded = theme_effects(np.repeat(patterns, counts, axis=0), np.repeat(score, counts), ["a", "b"]).frame
    np.testing.assert_allclose(grouped[["effect", "se", "p_value"]], expanded[["effect", "se", "p_value"]])
    assert grouped.n.tolist() == expanded.n.tolist()


def test_absent_theme_is_nan_and_too_few_rows_raise():
    themes = np.zeros((10, 2))
    themes[:5, 0] = 1
    frame = theme_effects(themes, np.arange(10.0), ["a", "b"]).frame
    assert np.isnan(frame.effect[1]) and not np.isnan(frame.effect[0])
    with pytest.raises(ValueError, match="cannot fit"):
        theme_effects(themes[:2], np.arange(2.0), ["a", "b"])
