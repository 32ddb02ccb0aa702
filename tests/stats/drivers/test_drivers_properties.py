"""Invariants of the key-driver decompositions, on random data (hypothesis) and fixed seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxloop.stats.drivers import (
    KeyDriverAnalysis,
    logistic_relative_weights,
    relative_weights,
    shapley_r2,
    shapley_r2_with_last_removed,
    subset_r2,
)


def _correlations(seed: int, n: int, p: int, mixing: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Correlated drivers and an outcome; returns (corr_xx, corr_xy, full correlation matrix)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)) + mixing * rng.normal(size=(n, 1))
    y = x @ rng.normal(size=p) + rng.normal(scale=2.0, size=n)
    corr = np.corrcoef(np.column_stack([y, x]), rowvar=False)
    return corr[1:, 1:], corr[1:, 0], corr


data_cases = st.tuples(
    st.integers(0, 2**32 - 1), st.integers(1, 8), st.floats(0.0, 3.0, allow_nan=False, allow_infinity=False)
)


@settings(max_examples=60, deadline=None)
@given(data_cases)
def test_shapley_shares_add_up_to_r2_and_are_non_negative(case: tuple[int, int, float]) -> None:
    seed, p, mixing = case
    corr_xx, corr_xy, _ = _correlations(seed, 60 + 10 * p, p, mixing)
    result = shapley_r2(corr_xx, corr_xy)
    assert result.importance.sum() == pytest.approx(result.r2, abs=1e-12)
    assert np.all(result.importance >= -1e-12)
    assert result.r2 == pytest.approx(float(corr_xy @ np.linalg.solve(corr_xx, corr_xy)), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(data_cases)
def test_relative_weights_add_up_to_r2_and_are_non_negative(case: tuple[int, int, float]) -> None:
    seed, p, mixing = case
    corr_xx, corr_xy, _ = _correlations(seed, 60 + 10 * p, p, mixing)
    result = relative_weights(corr_xx, corr_xy)
    assert result.importance.sum() == pytest.approx(result.r2, abs=1e-12)
    assert np.all(result.importance >= 0)
    assert result.r2 == pytest.approx(float(corr_xy @ np.linalg.solve(corr_xx, corr_xy)), abs=1e-10)


@settings(max_examples=40, deadline=None)
@given(data_cases, st.randoms(use_true_random=False))
def test_permuting_drivers_permutes_importances(case: tuple[int, int, float], random) -> None:
    seed, p, mixing = case
    corr_xx, corr_xy, _ = _correlations(seed, 60 + 10 * p, p, mixing)
    order = list(range(p))
    random.shuffle(order)
    permuted_xx, permuted_xy = corr_xx[np.ix_(order, order)], corr_xy[order]
    for method in (shapley_r2, relative_weights):
        base = method(corr_xx, corr_xy).importance
        assert method(permuted_xx, permuted_xy).importance == pytest.approx(base[order], abs=1e-12)


@pytest.mark.parametrize("p", [1, 3, 7])
def test_orthogonal_drivers_get_their_squared_correlations(p: int) -> None:
    """Built from data: centred, exactly orthogonal driver columns (QR) and a noisy outcome."""
    rng = np.random.default_rng(p)
    n = 200
    raw = rng.normal(size=(n, p))
    q, _ = np.linalg.qr(raw - raw.mean(axis=0))
    y = q @ rng.normal(size=p) * 10 + rng.normal(size=n)
    frame = pd.DataFrame(q, columns=[f"x{i}" for i in range(p)])
    squared = frame.corrwith(pd.Series(y)).to_numpy() ** 2
    for method in ("shapley", "relative_weights"):
        kda = KeyDriverAnalysis(method=method).fit(frame, pd.Series(y, name="y"))
        assert kda.importance_.to_numpy() == pytest.approx(squared, abs=1e-12)
        assert kda.r2_ == pytest.approx(squared.sum(), abs=1e-12)


def test_subset_r2_matches_least_squares_for_every_subset() -> None:
    rng = np.random.default_rng(7)
    n, p = 120, 6
    x = rng.normal(size=(n, p)) + rng.normal(size=(n, 1))
    y = x @ rng.normal(size=p) + rng.normal(size=n)
    corr = np.corrcoef(np.column_stack([y, x]), rowvar=False)
    table = subset_r2(corr[1:, 1:], corr[1:, 0])
    centred = y - y.mean()
    for mask in range(1, 1 << p):
        columns = [j for j in range(p) if mask >> j & 1]
        design = np.column_stack([np.ones(n), x[:, columns]])
        residual = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
        assert table[mask] == pytest.approx(1 - residual @ residual / (centred @ centred), abs=1e-12)
    assert table[0] == 0.0


def test_sampled_shapley_is_within_its_stated_error_of_the_exact_shares() -> None:
    corr_xx, corr_xy, _ = _correlations(seed=11, n=400, p=12, mixing=1.5)
    exact = shapley_r2(corr_xx, corr_xy)
    sampled = shapley_r2(corr_xx, corr_xy, max_exact=6, n_permutations=4000, random_state=3)
    assert exact.exact and not sampled.exact and sampled.n_permutations == 4000
    assert sampled.importance.sum() == pytest.approx(exact.r2, abs=1e-12)  # every order adds up to R2
    assert np.all(sampled.standard_error > 0)
    z = np.abs(sampled.importance - exact.importance) / sampled.standard_error
    assert z.max() < 4.0
    # The stated error is honest, not inflated: it is below a hundredth of R-squared here.
    assert sampled.standard_error.max() < 0.01 * exact.r2


def test_rescaling_a_driver_changes_nothing() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(150, 3)), columns=["a", "b", "c"])
    y = pd.Series(frame @ [1.0, 0.5, 0.2] + rng.normal(size=150), name="y")
    rescaled = frame.assign(a=frame["a"] * 10 + 3, c=-frame["c"])
    for method in ("shapley", "relative_weights"):
        base = KeyDriverAnalysis(method=method).fit(frame, y).importance_
        again = KeyDriverAnalysis(method=method).fit(rescaled, y).importance_
        assert again.to_numpy() == pytest.approx(base.to_numpy(), abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 5))
def test_logistic_relative_weights_add_up_to_r2_o(seed: int, p: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, p)) + rng.normal(size=(300, 1))
    probability = 1 / (1 + np.exp(-(x @ rng.normal(scale=0.5, size=p))))
    y = (rng.random(300) < probability).astype(float)
    if y.min() == y.max():
        return
    result = logistic_relative_weights(x, y)
    assert result.importance.sum() == pytest.approx(result.r2, abs=1e-12)
    assert np.all(result.importance >= 0)
    assert result.r2 == pytest.approx(np.corrcoef(y, result.fit.probability)[0, 1] ** 2, abs=1e-12)


def test_frequency_weights_equal_repeated_rows() -> None:
    rng = np.random.default_rng(9)
    frame = pd.DataFrame(rng.integers(1, 6, size=(80, 3)).astype(float), columns=["a", "b", "c"])
    y = pd.Series(frame.sum(axis=1) + rng.integers(-2, 3, size=80), name="y")
    counts = rng.integers(1, 4, size=80)
    expanded = frame.loc[frame.index.repeat(counts)]
    y_expanded = y.loc[y.index.repeat(counts)]
    for method in ("shapley", "relative_weights"):
        weighted = KeyDriverAnalysis(method=method).fit(frame, y, sample_weight=counts)
        repeated = KeyDriverAnalysis(method=method).fit(expanded, y_expanded)
        assert weighted.importance_.to_numpy() == pytest.approx(repeated.importance_.to_numpy(), abs=1e-12)
        assert weighted.n_ == repeated.n_ == counts.sum()


def test_exact_shapley_handles_fifteen_drivers_and_agrees_with_relative_weights_ordering() -> None:
    corr_xx, corr_xy, _ = _correlations(seed=2, n=2000, p=15, mixing=0.3)
    result = shapley_r2(corr_xx, corr_xy)
    assert result.exact and result.importance.shape == (15,)
    assert result.importance.sum() == pytest.approx(result.r2, abs=1e-12)
    weights = relative_weights(corr_xx, corr_xy).importance
    # The two methods are different decompositions but agree closely when correlations are moderate.
    assert np.abs(result.importance - weights).max() < 0.01


def test_one_table_gives_shares_with_and_without_the_last_driver() -> None:
    corr_xx, corr_xy, _ = _correlations(seed=4, n=300, p=7, mixing=1.0)
    without, with_last = shapley_r2_with_last_removed(corr_xx, corr_xy)
    assert with_last == pytest.approx(shapley_r2(corr_xx, corr_xy).importance, abs=1e-13)
    assert without == pytest.approx(shapley_r2(corr_xx[:-1, :-1], corr_xy[:-1]).importance, abs=1e-13)
