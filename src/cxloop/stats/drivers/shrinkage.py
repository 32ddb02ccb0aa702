"""Empirical-Bayes shrinkage of a small unit's driver statistics toward its parent's.

A branch with a few hundred complete answers estimates the correlations between its outcome and a dozen
items with a standard error of ~0.05-0.1 each, enough to shuffle a Shapley ranking. The correlations of
units in one company differ far less than that, so the branch's matrix borrows strength from its parent's
(Efron & Morris 1975; the random-effects model of meta-analysis, Hedges & Olkin 1985, ch. 9).

Model, on Fisher's ``z = atanh(r)`` of every correlation ``(j, k)``: a unit's true ``zeta_u`` varies around
the parent's ``zeta_p`` with between-unit variance ``tau^2``; its estimate ``z_u`` has sampling variance
``1 / (n_u - 3)``. The posterior mean (precision weighting) is

    z_shrunk = w z_u + (1 - w) z_p,        w = tau^2 / (tau^2 + 1 / (n_u - 3)) = (n_u - 3) / (n_u - 3 + n_0),

with ``n_0 = 1 / tau^2`` the parent's weight in responses. ``tau^2`` is estimated from the peer units by
the method of moments (DerSimonian & Laird 1986), pooled over the ``(j, k)`` pairs:
``tau^2 = max(0, mean_jk[var_u(z_u,jk) - mean_u 1 / (n_u - 3)])``, floored at ``tau_floor^2`` so that a
large unit always keeps its own estimate. Applied to sufficient statistics, the same weight combines the
covariance matrices (the correlations and every regression slope then follow):
``Sigma_shrunk = w Sigma_u + (1 - w) Sigma_p``; the unit keeps its own means. As ``n_u -> infinity``,
``w -> 1`` (the unit's own estimate); as ``n_u -> 3``, ``w -> 0`` (the parent's).

References
----------
Efron, B. & Morris, C. (1975). Data analysis using Stein's estimator and its generalizations. JASA 70(350).
DerSimonian, R. & Laird, N. (1986). Meta-analysis in clinical trials. Controlled Clinical Trials 7(3).
Hedges, L. V. & Olkin, I. (1985). Statistical Methods for Meta-Analysis. Academic Press.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["TAU_FLOOR", "between_unit_variance", "shrink_covariance", "shrinkage_weight"]

#: Smallest between-unit standard deviation of Fisher's z assumed (``tau``): units are never taken to be
#: identical, so ``n_0 = 1 / TAU_FLOOR^2 = 2,500`` responses at most.
TAU_FLOOR = 0.02


def shrinkage_weight(n: ArrayLike, tau2: float) -> NDArray[np.float64]:
    """The unit's own weight ``w = tau^2 / (tau^2 + 1 / (n - 3))``: 0 for ``n <= 3``, -> 1 as ``n`` grows.

    Example
    -------
    >>> float(shrinkage_weight(403, 0.0025))  # n_0 = 400 responses: half and half
    0.5
    """
    n = np.asarray(n, dtype=np.float64)
    tau2 = max(float(tau2), TAU_FLOOR**2)
    effective = np.clip(n - 3.0, 0.0, None)
    return effective * tau2 / (effective * tau2 + 1.0)


def between_unit_variance(correlations: Sequence[ArrayLike], n: Sequence[int]) -> float:
    """``tau^2``: the variance of units' true Fisher-z correlations around their mean, by the method of
    moments, pooled over the off-diagonal pairs (floored at ``TAU_FLOOR ** 2``).

    Parameters
    ----------
    correlations : sequence of (q, q) arrays
        Each peer unit's correlation matrix (same variables in the same order).
    n : sequence of int
        Each unit's complete responses (units with ``n <= 3`` are left out).
    """
    keep = [(np.asarray(r, dtype=np.float64), int(m)) for r, m in zip(correlations, n, strict=True) if m > 3]
    if len(keep) < 2:
        return TAU_FLOOR**2
    q = keep[0][0].shape[0]
    upper = np.triu_indices(q, k=1)
    z = np.array([np.arctanh(np.clip(r[upper], -0.999999, 0.999999)) for r, _ in keep])
    sampling = np.array([1.0 / (m - 3.0) for _, m in keep])
    spread = np.nanvar(z, axis=0, ddof=1) - sampling.mean()
    tau2 = float(np.nanmean(spread)) if spread.size else 0.0
    return max(tau2, TAU_FLOOR**2)


def shrink_covariance(own: ArrayLike, prior: ArrayLike, weight: float) -> NDArray[np.float64]:
    """``w * own + (1 - w) * prior``: the shrunk covariance (or correlation) matrix."""
    w = float(weight)
    if not 0.0 <= w <= 1.0:
        raise ValueError(f"a shrinkage weight lies in [0, 1], got {w}")
    return w * np.asarray(own, dtype=np.float64) + (1.0 - w) * np.asarray(prior, dtype=np.float64)
