"""Johnson's (2000) relative weights from a correlation matrix.

The drivers are replaced by their closest orthonormal counterparts ``Z = X R^{-1/2}`` (standardised
scores); the outcome is regressed on ``Z`` (coefficients ``beta``), and each driver receives the share of
every ``Z_k``'s squared coefficient in proportion to its squared correlation with ``Z_k``:

    epsilon_j = sum_k lambda_jk**2 beta_k**2,   Lambda = R^{1/2},   beta = R^{-1/2} r_xy.

The weights are non-negative and add up to R-squared, and they closely track the LMG/Shapley shares at a
fraction of the cost (one eigen-decomposition).

References
----------
Johnson, J. W. (2000). A heuristic method for estimating the relative weight of predictor variables in
multiple regression. Multivariate Behavioral Research, 35(1), 1-19.
Tonidandel, S. & LeBreton, J. M. (2011). Relative importance analysis: a useful supplement to regression
analysis. Journal of Business and Psychology, 26(1), 1-9.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["RelativeWeights", "relative_weights", "symmetric_square_root"]


@dataclass(frozen=True)
class RelativeWeights:
    """Johnson's relative weights.

    Attributes
    ----------
    importance : ndarray, shape (p,)
        Raw relative weights (epsilon); they add up to ``r2``.
    r2 : float
        R-squared of the regression on all drivers.
    beta : ndarray, shape (p,)
        Standardised coefficients of the outcome on the orthogonal counterparts ``Z``.
    lambda_ : ndarray, shape (p, p)
        Correlations between drivers (rows) and their orthogonal counterparts (columns): ``R^{1/2}``.
    """

    importance: np.ndarray
    r2: float
    beta: np.ndarray
    lambda_: np.ndarray


def symmetric_square_root(corr_xx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``R^{1/2}`` and ``R^{-1/2}`` of a positive definite correlation matrix (by eigen-decomposition)."""
    eigenvalues, eigenvectors = np.linalg.eigh(np.asarray(corr_xx, dtype=float))
    root = np.sqrt(np.clip(eigenvalues, 0.0, None))
    half = (eigenvectors * root) @ eigenvectors.T
    inverse_half = (eigenvectors / root) @ eigenvectors.T
    return half, inverse_half


def relative_weights(corr_xx: np.ndarray, corr_xy: np.ndarray) -> RelativeWeights:
    """Johnson's relative weights of drivers from their correlations.

    Parameters
    ----------
    corr_xx : ndarray, shape (p, p)
        Correlations among the drivers (positive definite).
    corr_xy : ndarray, shape (p,)
        Correlations of the drivers with the outcome.

    Returns
    -------
    RelativeWeights

    References
    ----------
    Johnson, J. W. (2000). Multivariate Behavioral Research, 35(1), 1-19.

    Examples
    --------
    >>> import numpy as np
    >>> result = relative_weights(np.eye(3), np.array([0.5, 0.3, 0.1]))
    >>> np.round(result.importance, 4).tolist(), round(result.r2, 4)
    ([0.25, 0.09, 0.01], 0.35)
    """
    half, inverse_half = symmetric_square_root(corr_xx)
    beta = inverse_half @ np.asarray(corr_xy, dtype=float)
    importance = (half**2) @ (beta**2)
    return RelativeWeights(importance=importance, r2=float(beta @ beta), beta=beta, lambda_=half)
