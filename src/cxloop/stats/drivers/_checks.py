"""Input checks shared by the key-driver estimators, with errors that say what to do."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "DriverAnalysisError",
    "check_collinearity",
    "check_correlation_matrix",
    "check_sample_size",
]

# An item whose standard deviation is below this share of its mean absolute value (or, for an item that
# is ~0 everywhere, below this absolute size) carries no information: every response gave the same answer.
_CONSTANT_RTOL = 1e-12
# Smallest eigenvalue of the drivers' correlation matrix below which they are treated as perfectly
# collinear (one item is an exact linear combination of others, up to rounding).
_COLLINEAR_EIGENVALUE = 1e-10


class DriverAnalysisError(ValueError):
    """The data cannot support a key-driver analysis; the message says why and what to do."""


def check_sample_size(n: float, n_drivers: int, min_n_per_driver: float) -> None:
    """Refuse an analysis with too few responses for its number of drivers.

    Rules: ``n > p + 1`` always (a regression on ``p`` drivers and an intercept needs at least one residual
    degree of freedom), and ``n >= min_n_per_driver * p`` (default 10 responses per driver, the usual rule
    of thumb for stable regression weights).
    """
    if n <= n_drivers + 1:
        raise DriverAnalysisError(
            f"{n:g} responses cannot support {n_drivers} drivers: a key-driver analysis needs more than "
            f"{n_drivers + 1} complete responses (drivers + 1). Collect more responses or analyse fewer "
            f"drivers."
        )
    needed = min_n_per_driver * n_drivers
    if n < needed:
        raise DriverAnalysisError(
            f"{n:g} responses for {n_drivers} drivers is fewer than {min_n_per_driver:g} per driver "
            f"(needs {needed:g}); the importances would be unstable. Collect more responses, analyse fewer "
            f"drivers, or lower min_n_per_driver deliberately."
        )


def check_correlation_matrix(corr: np.ndarray, names: Sequence[str]) -> None:
    """Check a square symmetric matrix with unit diagonal and entries in [-1, 1]."""
    if corr.ndim != 2 or corr.shape[0] != corr.shape[1] or corr.shape[0] != len(names):
        raise DriverAnalysisError(
            f"the correlation matrix must be square with one row and column per variable; got shape "
            f"{corr.shape} for {len(names)} names"
        )
    if not np.all(np.isfinite(corr)):
        bad = sorted({names[i] for i in np.argwhere(~np.isfinite(corr))[:, 0]})
        raise DriverAnalysisError(
            f"the correlation matrix has missing or infinite entries for {', '.join(bad)}; an item with no "
            f"variance or no overlapping responses gives an undefined correlation. Drop those items."
        )
    if not np.allclose(corr, corr.T, atol=1e-8):
        raise DriverAnalysisError("the correlation matrix is not symmetric; pass corr(), not a raw table")
    if not np.allclose(np.diag(corr), 1.0, atol=1e-8):
        raise DriverAnalysisError("the correlation matrix must have 1 on the diagonal")
    if np.any(np.abs(corr) > 1 + 1e-8):
        raise DriverAnalysisError("correlations must lie between -1 and 1")


def constant_items(std: np.ndarray, scale: np.ndarray, names: Sequence[str]) -> list[str]:
    """Names of items whose spread is zero relative to their size (every response identical)."""
    tol = _CONSTANT_RTOL * np.maximum(scale, 1.0)
    return [names[int(i)] for i in np.flatnonzero(~(std > tol))]


def raise_constant(items: Sequence[str]) -> None:
    if items:
        raise DriverAnalysisError(
            f"constant item(s) {', '.join(items)}: every response gave the same answer, so they cannot "
            f"explain any variation. Remove them from the analysis."
        )


def check_collinearity(corr_xx: np.ndarray, names: Sequence[str]) -> None:
    """Refuse perfectly collinear drivers, naming the items involved.

    The items involved are those with a non-negligible loading on an eigenvector whose eigenvalue is
    (numerically) zero: together they satisfy an exact linear relation such as ``total = a + b``.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(corr_xx)
    null = eigenvalues < _COLLINEAR_EIGENVALUE * max(1.0, float(eigenvalues[-1]))
    if not np.any(null):
        return
    loadings = np.abs(eigenvectors[:, null]).max(axis=1)
    involved = [names[int(i)] for i in np.flatnonzero(loadings > 1e-6)]
    raise DriverAnalysisError(
        f"perfectly collinear items: {', '.join(involved)} (one is an exact linear combination of the "
        f"others, e.g. a total of sub-scores or a duplicated question). Drop one of them or combine them "
        f"into one item."
    )
