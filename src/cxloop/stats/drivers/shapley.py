"""Shapley value (LMG) decomposition of R-squared from a correlation matrix.

The LMG share of a driver (Lindeman, Merenda & Gold 1980) is its increase in R-squared when it enters
the regression, averaged over all orders of entry; it equals the Shapley value of the "R-squared of a
subset of drivers" game and Budescu's general dominance weight. The shares are non-negative and add up to
the model's R-squared exactly.

Exact computation needs the R-squared of all ``2**p`` subsets. They are computed from the correlation
matrix in batches of equal-size subsets (one batched linear solve per batch), so 15 drivers (32,768
subsets) take a few tens of milliseconds. Beyond ``max_exact`` drivers the shares are estimated by
sampling orders of entry (permutation sampling, Castro, Gomez & Tejada 2009) with antithetic pairs: an
order's marginal contributions are the squared last-row entries of the Cholesky factor of the
correlation matrix permuted into that order, so a batch of orders is one batched Cholesky factorisation.
Each sampled order's contributions add up to R-squared, so the estimate does too, exactly; the Monte Carlo
standard error of every share is reported.

References
----------
Lindeman, R. H., Merenda, P. F. & Gold, R. Z. (1980). Introduction to Bivariate and Multivariate
Analysis. Glenview, IL: Scott, Foresman. pp. 119 ff.
Budescu, D. V. (1993). Dominance analysis: a new approach to the problem of relative importance of
predictors in multiple regression. Psychological Bulletin, 114(3), 542-551.
Gromping, U. (2006). Relative importance for linear regression in R: the package relaimpo. Journal of
Statistical Software, 17(1), 1-27.
Castro, J., Gomez, D. & Tejada, J. (2009). Polynomial calculation of the Shapley value based on sampling.
Computers & Operations Research, 36(5), 1726-1730.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ShapleyDecomposition", "shapley_r2", "subset_r2"]

# Bound on the elements of one batch of subset correlation matrices (subsets * k * k).
_BATCH_ELEMENTS = 1_000_000
# Hard ceiling for exact computation: 2**22 subsets' R-squared is 32 MB and about a minute.
_MAX_EXACT_CEILING = 22


@dataclass(frozen=True)
class ShapleyDecomposition:
    """Shares of R-squared by driver.

    Attributes
    ----------
    importance : ndarray, shape (p,)
        Each driver's share of R-squared; they add up to ``r2``.
    r2 : float
        R-squared of the regression on all drivers.
    standard_error : ndarray, shape (p,)
        Monte Carlo standard error of each share (zeros when exact).
    exact : bool
        True when all ``2**p`` subsets were evaluated.
    n_permutations : int
        Orders of entry sampled (0 when exact).
    """

    importance: np.ndarray
    r2: float
    standard_error: np.ndarray
    exact: bool
    n_permutations: int


def subset_r2(corr_xx: np.ndarray, corr_xy: np.ndarray) -> np.ndarray:
    """R-squared of the regression on every subset of drivers.

    Parameters
    ----------
    corr_xx : ndarray, shape (p, p)
        Correlations among the drivers (positive definite).
    corr_xy : ndarray, shape (p,)
        Correlations of the drivers with the outcome.

    Returns
    -------
    ndarray, shape (2**p,)
        ``r2[mask]`` is the R-squared of the drivers whose bits are set in ``mask``
        (bit ``j`` is driver ``j``); ``r2[0] == 0``.

    Examples
    --------
    >>> import numpy as np
    >>> r2 = subset_r2(np.array([[1.0, 0.5], [0.5, 1.0]]), np.array([0.6, 0.4]))
    >>> np.round(r2, 4).tolist()
    [0.0, 0.36, 0.16, 0.3733]
    """
    corr_xx = np.asarray(corr_xx, dtype=float)
    corr_xy = np.asarray(corr_xy, dtype=float)
    p = corr_xy.shape[0]
    values = np.zeros(1 << p)
    for k in range(1, p + 1):
        members = np.fromiter(
            itertools.chain.from_iterable(itertools.combinations(range(p), k)), dtype=np.intp
        ).reshape(-1, k)
        masks = (np.left_shift(1, members)).sum(axis=1)
        step = max(1, _BATCH_ELEMENTS // (k * k))
        for start in range(0, members.shape[0], step):
            chunk = members[start : start + step]
            r_ss = corr_xx[chunk[:, :, None], chunk[:, None, :]]
            r_sy = corr_xy[chunk]
            solution = np.linalg.solve(r_ss, r_sy[:, :, None])[:, :, 0]
            values[masks[start : start + step]] = np.einsum("ij,ij->i", r_sy, solution)
    return values


def _exact_shares(values: np.ndarray, p: int) -> np.ndarray:
    masks = np.arange(1 << p)
    sizes = np.bitwise_count(masks) if hasattr(np, "bitwise_count") else _popcount(masks)
    # Weight of a subset S of size s not containing j: s! (p - s - 1)! / p!
    weight = np.array([math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p) for s in range(p)])
    shares = np.empty(p)
    for j in range(p):
        without = masks[(masks >> j) & 1 == 0]
        gain = values[without | (1 << j)] - values[without]
        shares[j] = np.dot(weight[sizes[without]], gain)
    return shares


def _popcount(masks: np.ndarray) -> np.ndarray:  # numpy < 2.0 has no bitwise_count
    counts = np.zeros_like(masks)
    work = masks.copy()
    while np.any(work):
        counts += work & 1
        work >>= 1
    return counts


def _sampled_shares(
    corr_xx: np.ndarray, corr_xy: np.ndarray, n_permutations: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, int]:
    p = corr_xy.shape[0]
    augmented = np.empty((p + 1, p + 1))
    augmented[:p, :p] = corr_xx
    augmented[:p, p] = augmented[p, :p] = corr_xy
    augmented[p, p] = 1.0
    n_pairs = max(2, (n_permutations + 1) // 2)
    pair_means = np.empty((n_pairs, p))
    batch = max(1, 200_000 // ((p + 1) ** 2))
    for start in range(0, n_pairs, batch):
        size = min(batch, n_pairs - start)
        orders = rng.permuted(np.tile(np.arange(p), (size, 1)), axis=1)
        halves = []
        for order in (orders, orders[:, ::-1]):  # antithetic: each order and its reverse
            full = np.concatenate([order, np.full((size, 1), p)], axis=1)
            permuted = augmented[full[:, :, None], full[:, None, :]]
            # The outcome's row of the Cholesky factor: entry k squared is the R-squared gained when the
            # k-th driver of the order enters. A tiny ridge keeps rounding from breaking the factorisation
            # when R-squared is ~1.
            permuted[:, p, p] += 1e-12
            last_row = np.linalg.cholesky(permuted)[:, p, :p] ** 2
            contribution = np.empty((size, p))
            np.put_along_axis(contribution, order, last_row, axis=1)
            halves.append(contribution)
        pair_means[start : start + size] = 0.5 * (halves[0] + halves[1])
    shares = pair_means.mean(axis=0)
    se = pair_means.std(axis=0, ddof=1) / math.sqrt(n_pairs)
    return shares, se, 2 * n_pairs


def shapley_r2(
    corr_xx: np.ndarray,
    corr_xy: np.ndarray,
    *,
    max_exact: int = 15,
    n_permutations: int = 2000,
    random_state: int | np.random.Generator | None = None,
) -> ShapleyDecomposition:
    """Shapley / LMG shares of R-squared from correlations.

    Parameters
    ----------
    corr_xx : ndarray, shape (p, p)
        Correlations among the drivers (positive definite).
    corr_xy : ndarray, shape (p,)
        Correlations of the drivers with the outcome.
    max_exact : int, default 15
        Largest number of drivers decomposed exactly (at most 22). Above it, orders of entry are
        sampled.
    n_permutations : int, default 2000
        Orders of entry sampled above ``max_exact`` (rounded up to an even number: antithetic pairs).
        The standard error of a share shrinks like ``1 / sqrt(n_permutations)``.
    random_state : int, Generator or None
        Seed for the sampled orders.

    Returns
    -------
    ShapleyDecomposition

    References
    ----------
    Lindeman, Merenda & Gold (1980); Gromping (2006); Castro, Gomez & Tejada (2009).

    Examples
    --------
    >>> import numpy as np
    >>> result = shapley_r2(np.array([[1.0, 0.5], [0.5, 1.0]]), np.array([0.6, 0.4]))
    >>> np.round(result.importance, 5).tolist(), round(result.r2, 5)
    ([0.28667, 0.08667], 0.37333)
    """
    corr_xx = np.asarray(corr_xx, dtype=float)
    corr_xy = np.asarray(corr_xy, dtype=float)
    p = corr_xy.shape[0]
    r2 = float(corr_xy @ np.linalg.solve(corr_xx, corr_xy))
    if p <= min(max_exact, _MAX_EXACT_CEILING):
        shares = _exact_shares(subset_r2(corr_xx, corr_xy), p)
        return ShapleyDecomposition(shares, r2, np.zeros(p), exact=True, n_permutations=0)
    if isinstance(random_state, np.random.Generator):
        rng = random_state
    else:
        rng = np.random.default_rng(random_state)
    shares, se, used = _sampled_shares(corr_xx, corr_xy, n_permutations, rng)
    return ShapleyDecomposition(shares, r2, se, exact=False, n_permutations=used)
