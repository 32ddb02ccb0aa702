"""Correlation matrices from rows, with frequency weights, missing answers and bootstrap resamples.

Everything here works on many resamples at once: a resample is a vector of counts (how often each row is
drawn), so ``B`` bootstrap correlation matrices are a few matrix products of a ``B x n`` count matrix with
per-row cross-products, computed in row blocks to bound memory.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "PairwiseMoments",
    "correlation_from_covariance",
    "pairwise_moments",
    "random_column_correlations",
]

# Upper bound on the elements of one row block of per-row cross-products (n_block * q * q).
_BLOCK_ELEMENTS = 2_000_000


class PairwiseMoments:
    """Pairwise-complete moments of ``q`` variables for ``B`` count vectors.

    For each pair (i, j) only rows where both are answered count (pairwise deletion); with no missing
    answers this is ordinary listwise (complete-case) Pearson correlation.

    Attributes
    ----------
    n : ndarray, shape (B, q, q)
        Weighted number of rows with both i and j answered.
    corr : ndarray, shape (B, q, q)
        Pearson correlations on those rows (NaN where a variable is constant on them).
    std : ndarray, shape (B, q, q)
        ``std[b, i, j]``: standard deviation of variable i on the rows where i and j are answered.
    """

    def __init__(self, n: np.ndarray, corr: np.ndarray, std: np.ndarray) -> None:
        self.n = n
        self.corr = corr
        self.std = std


def pairwise_moments(values: np.ndarray, counts: np.ndarray) -> PairwiseMoments:
    """Weighted pairwise-complete correlations for each row of ``counts``.

    Parameters
    ----------
    values : ndarray, shape (n, q)
        Data, NaN where an answer is missing.
    counts : ndarray, shape (B, n)
        Non-negative weights (frequency counts) of the rows, one vector per resample.
    """
    values = np.asarray(values, dtype=float)
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    n_rows, q = values.shape
    present = ~np.isnan(values)
    # Centre each column on its overall mean first: the moments below then stay well conditioned.
    centre = np.nanmean(np.where(present, values, np.nan), axis=0) if n_rows else np.zeros(q)
    centre = np.where(np.isfinite(centre), centre, 0.0)
    x = np.where(present, values - centre, 0.0)
    m = present.astype(float)

    n_b = counts.shape[0]
    pairs = np.zeros((n_b, q * q))
    sum_x = np.zeros((n_b, q * q))  # sum of x_i over rows with i and j answered
    sum_xx = np.zeros((n_b, q * q))  # sum of x_i ** 2 over the same rows
    cross = np.zeros((n_b, q * q))  # sum of x_i x_j
    block = max(1, _BLOCK_ELEMENTS // max(1, q * q))
    for start in range(0, n_rows, block):
        stop = min(n_rows, start + block)
        xb, mb, cb = x[start:stop], m[start:stop], counts[:, start:stop]
        both = (mb[:, :, None] * mb[:, None, :]).reshape(stop - start, q * q)
        pairs += cb @ both
        sum_x += cb @ (xb[:, :, None] * mb[:, None, :]).reshape(stop - start, q * q)
        sum_xx += cb @ ((xb * xb)[:, :, None] * mb[:, None, :]).reshape(stop - start, q * q)
        cross += cb @ (xb[:, :, None] * xb[:, None, :]).reshape(stop - start, q * q)

    shape = (n_b, q, q)
    pairs, sum_x, sum_xx, cross = (a.reshape(shape) for a in (pairs, sum_x, sum_xx, cross))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sum_x / pairs  # mean of i on rows with (i, j)
        var = np.maximum(sum_xx / pairs - mean**2, 0.0)
        cov = cross / pairs - mean * np.swapaxes(mean, 1, 2)
        corr = cov / np.sqrt(var * np.swapaxes(var, 1, 2))
    idx = np.arange(q)
    corr[:, idx, idx] = np.where(var[:, idx, idx] > 0, 1.0, np.nan)
    return PairwiseMoments(n=pairs, corr=corr, std=np.sqrt(var))


def correlation_from_covariance(cov: np.ndarray) -> np.ndarray:
    """Rescale covariance matrices (..., q, q) to correlation matrices."""
    sd = np.sqrt(np.diagonal(cov, axis1=-2, axis2=-1))
    corr = cov / (sd[..., :, None] * sd[..., None, :])
    idx = np.arange(cov.shape[-1])
    corr[..., idx, idx] = 1.0
    return corr


def random_column_correlations(
    values: np.ndarray, counts: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Correlations of an added pure-noise respondent-level variable with each column, per resample.

    Each row may stand for several respondents (its count in the resample); each respondent gets an
    independent standard normal value. Only the noise's sums over a row's respondents enter the moments,
    and those are drawn exactly: the sum of ``c`` normals is ``sqrt(c) * N(0, 1)`` and the sum of their
    squares is chi-squared on ``c`` degrees of freedom. For variable ``i`` only rows where ``i`` is
    answered count (pairwise deletion).

    Returns
    -------
    ndarray, shape (B, q)
    """
    values = np.asarray(values, dtype=float)
    counts = np.atleast_2d(np.asarray(counts, dtype=float))
    present = ~np.isnan(values)
    centre = np.nanmean(np.where(present, values, np.nan), axis=0)
    centre = np.where(np.isfinite(centre), centre, 0.0)
    x = np.where(present, values - centre, 0.0)
    m = present.astype(float)
    noise_sum = np.sqrt(counts) * rng.standard_normal(counts.shape)
    noise_squares = rng.gamma(shape=counts / 2.0, scale=2.0)
    n = counts @ m
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_r = (noise_sum @ m) / n
        var_r = (noise_squares @ m) / n - mean_r**2
        mean_x = (counts @ x) / n
        var_x = (counts @ (x * x)) / n - mean_x**2
        cov = (noise_sum @ x) / n - mean_r * mean_x
        return cov / np.sqrt(var_r * var_x)
