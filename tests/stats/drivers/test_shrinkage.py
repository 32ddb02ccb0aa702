"""Empirical-Bayes shrinkage of driver statistics toward the parent (cxloop.stats.drivers.shrinkage)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxloop.stats.drivers import KeyDriverAnalysis
from cxloop.stats.drivers.shrinkage import (
    TAU_FLOOR,
    between_unit_variance,
    shrink_covariance,
    shrinkage_weight,
)

OWN = np.array([[1.0, 0.6, 0.2, 0.1], [0.6, 1.0, 0.3, 0.2], [0.2, 0.3, 1.0, 0.4], [0.1, 0.2, 0.4, 1.0]])
PARENT = np.array([[1.0, 0.2, 0.5, 0.3], [0.2, 1.0, 0.3, 0.2], [0.5, 0.3, 1.0, 0.4], [0.3, 0.2, 0.4, 1.0]])


def _importance(correlation: np.ndarray, n: int) -> np.ndarray:
    names = ["y", "a", "b", "c"]
    frame = pd.DataFrame(correlation, index=names, columns=names)
    kda = KeyDriverAnalysis(method="shapley").fit_correlation(frame, n, outcome="y")
    return np.asarray(kda.relative_importance_, dtype=float)


def test_the_weight_is_the_precision_share_and_runs_from_zero_to_one():
    tau2 = 0.0025  # n_0 = 400 responses
    assert shrinkage_weight(403, tau2) == pytest.approx(0.5)
    assert shrinkage_weight(3, tau2) == 0.0 and shrinkage_weight(0, tau2) == 0.0
    assert shrinkage_weight(10**9, tau2) == pytest.approx(1.0, abs=1e-6)
    weights = shrinkage_weight(np.array([10, 100, 1000, 10000]), tau2)
    assert (np.diff(weights) > 0).all()
    # a between-unit variance below the floor is taken at the floor: n_0 is at most 1 / TAU_FLOOR^2
    assert shrinkage_weight(2503, 0.0) == pytest.approx(0.5)
    assert 1 / TAU_FLOOR**2 == pytest.approx(2500)


def test_shrunk_importances_are_the_units_own_with_large_n_and_the_parents_as_n_goes_to_zero():
    own, parent = _importance(OWN, 1000), _importance(PARENT, 1000)
    assert not np.allclose(own, parent, atol=0.05)  # the two rankings really differ
    tau2 = 0.01
    large = shrink_covariance(OWN, PARENT, float(shrinkage_weight(10**9, tau2)))
    assert _importance(large, 1000) == pytest.approx(own, abs=1e-6)
    small = shrink_covariance(OWN, PARENT, float(shrinkage_weight(3, tau2)))
    assert _importance(small, 1000) == pytest.approx(parent, abs=1e-12)
    halfway = shrink_covariance(OWN, PARENT, float(shrinkage_weight(103, tau2)))
    assert halfway == pytest.approx((OWN + PARENT) / 2)


def test_a_weight_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match="lies in"):
        shrink_covariance(OWN, PARENT, 1.5)


def test_between_unit_variance_recovers_a_known_spread_of_correlations():
    """200 units of 400 answers whose true correlation varies with sd 0.1 on Fisher's z (tau^2 = 0.01)."""
    rng = np.random.default_rng(16)
    tau = 0.1
    matrices, sizes = [], []
    for _ in range(200):
        rho = np.tanh(np.arctanh(0.4) + rng.normal(0, tau))
        rows = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=400)
        matrices.append(np.corrcoef(rows.T))
        sizes.append(400)
    assert between_unit_variance(matrices, sizes) == pytest.approx(tau**2, rel=0.25)
    # identical units: only sampling noise, so the estimate is the floor
    same = [
        np.corrcoef(rng.multivariate_normal([0, 0], [[1, 0.4], [0.4, 1]], size=400).T) for _ in range(200)
    ]
    assert between_unit_variance(same, [400] * 200) == pytest.approx(TAU_FLOOR**2)
    assert between_unit_variance(matrices[:1], [400]) == pytest.approx(TAU_FLOOR**2)  # one unit: no spread
