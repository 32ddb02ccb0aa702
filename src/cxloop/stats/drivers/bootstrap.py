"""Bootstrap uncertainty for driver importances, and the random-variable test of whether a driver matters.

Three resampling schemes, chosen by what the analysis was fitted on:

* rows (``fit`` on responses, continuous outcome): nonparametric bootstrap. A resample is a multinomial
  count vector over the rows (frequency weights are respected: a row standing for ``c`` respondents is
  ``c`` respondents), so all resampled correlation matrices come from a few matrix products.
* correlation matrix (``fit_correlation``): parametric (normal-theory) bootstrap. Resampled covariance
  matrices are drawn from the Wishart distribution with ``n - 1`` degrees of freedom around the observed
  correlation matrix, i.e. the sampling distribution of a correlation matrix of ``n`` multivariate
  normal responses.
* rows with a binary outcome: nonparametric bootstrap of respondents, refitting the logistic model.

Intervals are percentile intervals (Efron & Tibshirani 1993, ch. 13) of the raw importance and of the
relative importance. Resamples in which the model cannot be fitted (an item constant in the resample,
separation of a binary outcome) are dropped and counted.

Whether a driver matters at all is tested as in Tonidandel, LeBreton & Johnson (2009): in each resample a
variable of pure random noise is added as one more driver, and the driver's importance minus the noise
variable's importance is recorded. The driver is significant when the lower end of the percentile
interval of that difference is above zero: it explains more than a variable known to be irrelevant.

References
----------
Efron, B. & Tibshirani, R. J. (1993). An Introduction to the Bootstrap. New York: Chapman & Hall.
Tonidandel, S., LeBreton, J. M. & Johnson, J. W. (2009). Determining the statistical significance of
relative weights. Psychological Methods, 14(4), 387-399.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ._checks import DriverAnalysisError
from ._correlation import correlation_from_covariance, pairwise_moments, random_column_correlations
from .logistic import logistic_relative_weights

__all__ = [
    "BootstrapDraws",
    "bootstrap_binary_rows",
    "bootstrap_correlation",
    "bootstrap_rows",
    "percentile_interval",
]

# A function from (corr_xx, corr_xy) to the importance vector.
Importance = Callable[[np.ndarray, np.ndarray], np.ndarray]
# A function from (corr_xx, corr_xy) whose last driver is the noise variable to the importances without
# the noise driver and with it, computed together (exact Shapley reuses one table of subsets).
PairedImportance = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]

# Bound on the elements of one batch of resample count vectors (replicates * rows).
_COUNT_ELEMENTS = 2_000_000


@dataclass(frozen=True)
class BootstrapDraws:
    """Importances recomputed on resamples (failed resamples are rows of NaN).

    Attributes
    ----------
    importance : ndarray, shape (B, p)
    versus_random : ndarray, shape (B, p) or None
        Importance of each driver minus that of an added pure-noise variable (same resample).
    scheme : str
        "rows", "parametric" or "rows (binary)".
    n_failed : int
        Resamples dropped because the model could not be fitted on them.
    """

    importance: np.ndarray
    versus_random: np.ndarray | None
    scheme: str
    n_failed: int


def percentile_interval(draws: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column, ignoring failed (NaN) resamples."""
    alpha = (1.0 - confidence) / 2.0
    low, high = np.nanquantile(draws, [alpha, 1.0 - alpha], axis=0)
    return low, high


def _safe(importance: Importance, corr: np.ndarray) -> np.ndarray:
    """Importance of drivers 1.. on outcome 0, or NaNs if the resample is degenerate."""
    q = corr.shape[0]
    if not np.all(np.isfinite(corr)):
        return np.full(q - 1, np.nan)
    corr_xx, corr_xy = corr[1:, 1:], corr[1:, 0]
    if np.linalg.eigvalsh(corr_xx)[0] < 1e-10:
        return np.full(q - 1, np.nan)
    return importance(corr_xx, corr_xy)


def _with_noise(corr: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Append a noise variable (correlations ``noise`` with the q variables) as the last driver."""
    q = corr.shape[0]
    out = np.empty((q + 1, q + 1))
    out[:q, :q] = corr
    out[q, :q] = out[:q, q] = noise
    out[q, q] = 1.0
    return out


def _both(
    importance: Importance, paired: PairedImportance | None, corr: np.ndarray, noise: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Importance on one resample and, with a noise variable, each driver's lead over the noise."""
    shares = _safe(importance, corr)
    if noise is None:
        return shares, None
    augmented = _with_noise(corr, noise)
    if paired is not None and np.all(np.isfinite(shares)) and np.all(np.isfinite(augmented)):
        if np.linalg.eigvalsh(augmented[1:, 1:])[0] >= 1e-10:
            without, with_noise = paired(augmented[1:, 1:], augmented[1:, 0])
            return without, with_noise[:-1] - with_noise[-1]
    with_noise = _safe(importance, augmented)
    return shares, with_noise[:-1] - with_noise[-1]


def bootstrap_rows(
    values: np.ndarray,
    weights: np.ndarray,
    importance: Importance,
    *,
    n_resamples: int,
    rng: np.random.Generator,
    test_random: bool = True,
    paired: PairedImportance | None = None,
) -> BootstrapDraws:
    """Nonparametric bootstrap of a continuous-outcome analysis fitted on rows.

    Parameters
    ----------
    values : ndarray, shape (n, 1 + p)
        Outcome in column 0, drivers after it; NaN where an answer is missing (pairwise deletion) —
        pass only complete rows for listwise deletion.
    weights : ndarray, shape (n,)
        Integer frequency weights (respondents per row).
    """
    total = int(round(weights.sum()))
    probabilities = weights / weights.sum()
    p = values.shape[1] - 1
    shares = np.full((n_resamples, p), np.nan)
    versus = np.full((n_resamples, p), np.nan) if test_random else None
    batch = max(1, _COUNT_ELEMENTS // max(1, values.shape[0]))
    for start in range(0, n_resamples, batch):
        size = min(batch, n_resamples - start)
        counts = rng.multinomial(total, probabilities, size=size).astype(float)
        corr = pairwise_moments(values, counts).corr
        noise = random_column_correlations(values, counts, rng) if test_random else None
        for b in range(size):
            shares[start + b], lead = _both(importance, paired, corr[b], None if noise is None else noise[b])
            if versus is not None:
                versus[start + b] = lead
    return BootstrapDraws(shares, versus, "rows", int(np.isnan(shares).any(axis=1).sum()))


def bootstrap_correlation(
    corr: np.ndarray,
    n: float,
    importance: Importance,
    *,
    n_resamples: int,
    rng: np.random.Generator,
    test_random: bool = True,
    paired: PairedImportance | None = None,
) -> BootstrapDraws:
    """Parametric bootstrap from a correlation matrix (outcome first) of ``n`` responses.

    Resampled covariance matrices are Wishart(``n - 1``, ``corr / (n - 1)``): the sampling distribution of
    the covariance matrix of ``n`` multivariate normal responses with correlation ``corr``. The noise
    variable, when tested, is one more variable with zero population correlation with all the others.
    """
    q = corr.shape[0]
    df = n - 1.0
    population = np.eye(q + 1) if test_random else np.eye(q)
    population[:q, :q] = corr
    draws = stats.wishart.rvs(df=df, scale=population / df, size=n_resamples, random_state=rng)
    draws = np.asarray(draws).reshape(n_resamples, population.shape[0], population.shape[0])
    sampled = correlation_from_covariance(draws)
    p = q - 1
    shares = np.full((n_resamples, p), np.nan)
    versus = np.full((n_resamples, p), np.nan) if test_random else None
    for b in range(n_resamples):
        noise = sampled[b, q, :q] if test_random else None
        shares[b], lead = _both(importance, paired, sampled[b, :q, :q], noise)
        if versus is not None:
            versus[b] = lead
    return BootstrapDraws(shares, versus, "parametric", int(np.isnan(shares).any(axis=1).sum()))


def bootstrap_binary_rows(
    values: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    *,
    n_resamples: int,
    rng: np.random.Generator,
    test_random: bool = True,
) -> BootstrapDraws:
    """Nonparametric bootstrap of logistic relative weights (respondents resampled, model refitted)."""
    counts = np.asarray(np.round(weights), dtype=np.intp)
    drivers = np.repeat(values, counts, axis=0)
    outcome = np.repeat(y, counts)
    total, p = drivers.shape
    shares = np.full((n_resamples, p), np.nan)
    versus = np.full((n_resamples, p), np.nan) if test_random else None
    for b in range(n_resamples):
        rows = rng.integers(0, total, size=total)
        x, target = drivers[rows], outcome[rows]
        if target.min() == target.max() or np.any(x.std(axis=0) == 0):
            continue
        try:
            shares[b] = logistic_relative_weights(x, target).importance
            if versus is not None:
                noisy = np.column_stack([x, rng.standard_normal(total)])
                with_noise = logistic_relative_weights(noisy, target).importance
                versus[b] = with_noise[:-1] - with_noise[-1]
        except (DriverAnalysisError, np.linalg.LinAlgError):
            shares[b] = np.nan
            if versus is not None:
                versus[b] = np.nan
    return BootstrapDraws(shares, versus, "rows (binary)", int(np.isnan(shares).any(axis=1).sum()))
