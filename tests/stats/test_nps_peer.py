"""NPS adjusted-Wald interval and difference test against an outside implementation.

No published worked example with counts and interval could be verified for the adjusted-Wald NPS interval
(Rocks 2016 gives none; MeasuringU's articles by Lewis & Sauro (2021) describe the steps, but their worked
numbers could not be retrieved to check; R's ``NPS`` package, which implements it, ships no numeric tests
and cannot be installed here). The peer is therefore statsmodels 0.15.0: Rocks' interval is the Wald
interval of the mean of -1/0/+1 scores after adding the pseudo-observations (3/4 detractor, 3/2 passive,
3/4 promoter) as frequency weights, with the multinomial (ddof = 0) variance. That is exactly a Gaussian
``GLM`` on the scores with ``freq_weights`` and the HC0 sandwich covariance: intercept-only for one sample,
intercept and a group dummy for the difference of two independent samples (Lewis & Sauro's two-sample
test). statsmodels computes the weighted mean, the variance, the z statistic, p-value and interval; the
pseudo-counts come from the reference module (the R package's default), not from cxloop.
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from reference.metrics_published import ROCKS_PSEUDO_OBSERVATIONS

import cxloop.stats as st

_SCORES = np.array([-1.0, 0.0, 1.0])


def _peer(*samples: tuple[float, float, float], confidence: float = 0.95):
    """statsmodels GLM of the -1/0/+1 scores, Rocks' pseudo-counts added, HC0 covariance."""
    scores, group, weights = [], [], []
    for g, counts in enumerate(samples):
        scores.append(_SCORES)
        group.append(np.full(3, float(g)))
        weights.append(np.asarray(counts, dtype=float) + np.asarray(ROCKS_PSEUDO_OBSERVATIONS))
    design = np.ones((3 * len(samples), 1))
    if len(samples) == 2:
        design = np.column_stack([design, np.concatenate(group)])
    fit = sm.GLM(
        np.concatenate(scores), design, family=sm.families.Gaussian(), freq_weights=np.concatenate(weights)
    ).fit(cov_type="HC0")
    return fit, fit.conf_int(alpha=1 - confidence)


def _count_grid() -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(25)
    grid = [tuple(int(c) for c in row) for row in rng.integers(0, 120, size=(40, 3))]
    # Small and one-sided cells, where the adjustment matters most.
    return grid + [(0, 0, 9), (9, 0, 0), (0, 5, 0), (1, 0, 0), (2, 3, 1), (0, 1, 30), (40, 2, 1)]


@pytest.mark.parametrize("confidence", [0.90, 0.95, 0.99])
def test_adjusted_wald_interval_matches_statsmodels(confidence: float) -> None:
    """Each cell's interval equals the peer's Wald interval (x 100), clipped to [-100, 100] and stretched to
    reach the observed score where it would miss it (both documented in cxloop.stats.nps), to 1e-9."""
    grid = _count_grid()
    d, pa, pr = (np.array(column, dtype=float) for column in zip(*grid, strict=True))
    result = st.nps(d, pa, pr, confidence=confidence)
    stretched = 0
    for i, counts in enumerate(grid):
        _, interval = _peer(counts, confidence=confidence)
        low, high = 100 * interval[0]
        observed = 100 * (counts[2] - counts[0]) / sum(counts)
        stretched += observed < low or observed > high
        expected = (np.clip(min(low, observed), -100, 100), np.clip(max(high, observed), -100, 100))
        assert (result.ci_low[i], result.ci_high[i]) == pytest.approx(expected, abs=1e-9), counts
    assert stretched <= 2  # the stretching is rare; the check above is on the peer's own numbers


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((12, 18, 30), (20, 25, 15)),
        ((30, 50, 120), (45, 60, 95)),
        ((0, 2, 9), (3, 4, 2)),
        ((5, 5, 5), (5, 5, 5)),
    ],
)
def test_adjusted_wald_difference_matches_statsmodels(
    a: tuple[int, int, int], b: tuple[int, int, int]
) -> None:
    """z, two-sided p and the interval of NPS_a - NPS_b equal the peer's group contrast (sign flipped: the
    peer's dummy is b - a), to 1e-9; the reported difference stays the observed one."""
    d = st.nps_difference(st.nps(*a), st.nps(*b))
    fit, interval = _peer(a, b)
    assert d.method == "adjusted_wald"
    assert d.z == pytest.approx(-fit.tvalues[1], abs=1e-9)
    assert d.p_value == pytest.approx(fit.pvalues[1], abs=1e-12)
    assert d.se == pytest.approx(100 * fit.bse[1], rel=1e-9)
    observed = 100 * ((a[2] - a[0]) / sum(a) - (b[2] - b[0]) / sum(b))
    assert d.difference == pytest.approx(observed, abs=1e-9)
    low, high = sorted(-100 * interval[1])
    assert (d.ci_low, d.ci_high) == pytest.approx((min(low, observed), max(high, observed)), abs=1e-9)
