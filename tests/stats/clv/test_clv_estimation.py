"""The shared machinery: compression equals numpy's row-wise unique, analytic gradients are right."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import betaln, gammaln

from cxloop.stats.clv._estimation import compress
from cxloop.stats.clv.beta_geo import _GroupedLikelihood as BetaGeoLikelihood
from cxloop.stats.clv.gamma_gamma import _GroupedLikelihood as GammaGammaLikelihood
from cxloop.stats.clv.shifted_beta_geometric import _log_likelihood as sbg_log_likelihood


def central_gradient(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    steps = h * np.maximum(1.0, np.abs(x))
    return np.array([(f(x + e) - f(x - e)) / (2 * e[i]) for i, e in enumerate(np.diag(steps))])


def test_compress_equals_numpy_unique_rows() -> None:
    rng = np.random.default_rng(7)
    n = 5_000
    columns = (rng.integers(0, 6, n).astype(float), rng.integers(0, 40, n) / 7, rng.integers(30, 40, n) / 7)
    rows, counts, inverse = compress(*columns)
    expected_rows, expected_inverse, expected_counts = np.unique(
        np.column_stack(columns), axis=0, return_inverse=True, return_counts=True
    )
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_array_equal(counts, expected_counts)
    np.testing.assert_array_equal(inverse, expected_inverse.reshape(-1))
    np.testing.assert_array_equal(rows[inverse], np.column_stack(columns))


def _bgnbd_reference(params, x, t_x, big_t, w) -> float:
    """Paper eq. 6 term by term, in plain (not log-sum) form."""
    r, alpha, a, b = params
    a1 = np.exp(gammaln(r + x) - gammaln(r)) * alpha**r
    a2 = np.exp(betaln(a, b + x) - betaln(a, b))
    a3 = (1 / (alpha + big_t)) ** (r + x)
    a4 = np.where(x > 0, a / np.maximum(b + x - 1, 1e-300) * (1 / (alpha + t_x)) ** (r + x), 0.0)
    return float(w @ np.log(a1 * a2 * (a3 + a4)))


def test_bgnbd_likelihood_and_gradient() -> None:
    rng = np.random.default_rng(8)
    x = rng.integers(0, 8, 300).astype(float)
    big_t = rng.uniform(20, 40, 300)
    t_x = np.where(x > 0, big_t * rng.uniform(0, 1, 300), 0.0)
    w = rng.integers(1, 5, 300).astype(float)
    likelihood = BetaGeoLikelihood(x, t_x, big_t, w)
    params = np.array([0.4, 5.0, 0.9, 2.1])
    value, grad = likelihood(params)
    assert value == pytest.approx(_bgnbd_reference(params, x, t_x, big_t, w), rel=1e-12)
    numeric = central_gradient(lambda p: likelihood(p)[0], params)
    np.testing.assert_allclose(grad, numeric, rtol=1e-7)


def test_gamma_gamma_likelihood_and_gradient() -> None:
    rng = np.random.default_rng(9)
    x = rng.integers(1, 10, 300).astype(float)
    m = rng.gamma(4.0, 10.0, 300)
    w = rng.integers(1, 5, 300).astype(float)
    likelihood = GammaGammaLikelihood(x, m, w)
    params = np.array([5.0, 3.0, 12.0])
    p, q, v = params
    # note eq. 1a: Gamma(px+q) / (Gamma(px) Gamma(q)) v^q m^(px-1) x^(px) / (v + x m)^(px+q)
    reference = w @ (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + p * x * np.log(x)
        - (p * x + q) * np.log(v + x * m)
    )
    value, grad = likelihood(params)
    assert value == pytest.approx(reference, rel=1e-12)
    np.testing.assert_allclose(grad, central_gradient(lambda u: likelihood(u)[0], params), rtol=1e-7)


def test_sbg_likelihood_gradient() -> None:
    periods = np.array([1.0, 2, 3, 4, 4])
    churned = np.array([1.0, 1, 1, 1, 0])
    weights = np.array([100.0, 60, 40, 30, 270])
    params = np.array([0.8, 2.2])
    _, grad = sbg_log_likelihood(params, periods, churned, weights)
    numeric = central_gradient(lambda u: sbg_log_likelihood(u, periods, churned, weights)[0], params)
    np.testing.assert_allclose(grad, numeric, rtol=1e-7)
