"""Relative weights for a binary outcome (Tonidandel & LeBreton 2010), with its logistic regression.

For behaviour such as "bought again within 90 days" or "churned within 180 days". The drivers are
standardised and replaced by their orthonormal counterparts ``Z = X R^{-1/2}`` exactly as in Johnson's
(2000) relative weights; a logistic regression of the outcome on ``Z`` gives coefficients ``b``, which
are fully standardised following Menard (2004),

    beta_k = b_k * sd(Z_k) * R_O / sd(logit(p_hat)),

with ``R_O`` the correlation between the observed outcome and the fitted probability. The weights are
``epsilon_j = sum_k lambda_jk**2 beta_k**2`` with ``Lambda = R^{1/2}`` and add up to ``R_O**2`` exactly
(because ``Z`` is uncorrelated with unit variance, ``var(logit(p_hat)) = sum_k b_k**2``). This is the
computation of Tonidandel & LeBreton's RWA-Web (2015).

A logistic regression needs row-level data (it is fitted by iteratively reweighted least squares, whose
weights change each iteration), so there is no fixed set of sufficient statistics. Survey answers are
discrete, though: rows can be compressed to their distinct (answers, outcome) patterns with counts, and
passed with those counts as frequency weights; the result is identical.

References
----------
Tonidandel, S. & LeBreton, J. M. (2010). Determining the relative importance of predictors in logistic
regression: an extension of relative weight analysis. Organizational Research Methods, 13(4), 767-781.
Tonidandel, S. & LeBreton, J. M. (2015). RWA Web: a free, comprehensive, web-based, and user-friendly tool
for relative weight analyses. Journal of Business and Psychology, 30(2), 207-216.
Menard, S. (2004). Six approaches to calculating standardized logistic regression coefficients. The
American Statistician, 58(3), 218-223.
Johnson, J. W. (2000). Multivariate Behavioral Research, 35(1), 1-19.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from ._checks import DriverAnalysisError
from .relative_weights import symmetric_square_root

__all__ = [
    "LogisticFit",
    "LogisticRelativeWeights",
    "fit_logistic",
    "likelihood_ratio_pvalues",
    "logistic_relative_weights",
]

_MAX_ITER = 100
_TOL = 1e-10
# A fitted log-odds beyond this (probability within ~1e-13 of 0 or 1) means the maximum-likelihood
# estimate does not exist: the drivers separate the outcome (perfectly or quasi-perfectly).
_SEPARATION_LOGIT = 30.0


@dataclass(frozen=True)
class LogisticFit:
    """A logistic regression with an intercept, fitted by IRLS (Fisher scoring)."""

    coef: np.ndarray  # intercept first
    linear_predictor: np.ndarray
    probability: np.ndarray
    deviance: float
    iterations: int


@dataclass(frozen=True)
class LogisticRelativeWeights:
    """Relative weights of drivers of a binary outcome.

    Attributes
    ----------
    importance : ndarray, shape (p,)
        Raw relative weights; they add up to ``r2``.
    r2 : float
        ``R_O**2``: squared correlation between the outcome and the fitted probability.
    beta : ndarray, shape (p,)
        Fully standardised logistic coefficients on the orthogonal counterparts ``Z``.
    fit : LogisticFit
        The logistic regression of the outcome on ``Z`` (same fitted probabilities as on the drivers).
    null_deviance : float
        Deviance of the intercept-only model (McFadden's R-squared is ``1 - deviance / null_deviance``).
    """

    importance: np.ndarray
    r2: float
    beta: np.ndarray
    fit: LogisticFit
    null_deviance: float


def _log_likelihood_terms(eta: np.ndarray, y: np.ndarray) -> np.ndarray:
    # y log p + (1 - y) log(1 - p), stably: log p = -log(1 + e^-eta), log(1 - p) = -log(1 + e^eta)
    return -(y * np.logaddexp(0.0, -eta) + (1.0 - y) * np.logaddexp(0.0, eta))


def fit_logistic(design: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> LogisticFit:
    """Maximum-likelihood logistic regression of ``y`` (0/1) on ``design`` plus an intercept.

    Raises
    ------
    DriverAnalysisError
        If the drivers separate the outcome, so the estimate does not exist.
    """
    design = np.asarray(design, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    a = np.column_stack([np.ones(len(y)), design])
    coef = np.zeros(a.shape[1])
    mean = np.average(y, weights=w)
    coef[0] = np.log(mean / (1.0 - mean))
    deviance = np.inf
    for iteration in range(1, _MAX_ITER + 1):
        eta = a @ coef
        mu = 1.0 / (1.0 + np.exp(-eta))
        var = np.maximum(mu * (1.0 - mu), 1e-300)
        working = eta + (y - mu) / var
        weighted = a * (w * var)[:, None]
        coef = np.linalg.solve(a.T @ weighted, weighted.T @ working)
        eta = a @ coef
        new_deviance = float(-2.0 * np.dot(w, _log_likelihood_terms(eta, y)))
        converged = abs(new_deviance - deviance) < _TOL * (abs(new_deviance) + 0.1)
        deviance = new_deviance
        if np.max(np.abs(eta)) > _SEPARATION_LOGIT:
            break
        if converged:
            return LogisticFit(coef, eta, 1.0 / (1.0 + np.exp(-eta)), deviance, iteration)
    raise DriverAnalysisError(
        "the drivers separate the binary outcome (perfectly or almost perfectly), so the logistic "
        "regression has no finite estimate. Find the driver(s) that predict the outcome without error "
        "(often a near-duplicate of the outcome), remove them, or collect more varied responses."
    )


def _weighted_std(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    total = w.sum()
    mean = (w @ values) / total
    return np.sqrt((w @ (values - mean) ** 2) / (total - 1.0))


def logistic_relative_weights(
    values: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None
) -> LogisticRelativeWeights:
    """Tonidandel & LeBreton (2010) relative weights of drivers of a 0/1 outcome.

    Parameters
    ----------
    values : ndarray, shape (n, p)
        Driver values, no missing answers.
    y : ndarray, shape (n,)
        Outcome coded 0/1.
    weights : ndarray, shape (n,), optional
        Frequency weights (how many respondents each row stands for).

    Returns
    -------
    LogisticRelativeWeights

    References
    ----------
    Tonidandel & LeBreton (2010), Organizational Research Methods 13(4); Menard (2004).
    """
    values = np.asarray(values, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones_like(y) if weights is None else np.asarray(weights, dtype=float)
    total = w.sum()
    mean = (w @ values) / total
    centred = values - mean
    sd = np.sqrt((w @ centred**2) / (total - 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        standard = centred / sd
    corr_xx = (standard * w[:, None]).T @ standard / (total - 1.0)
    if not np.all(sd > 0) or np.linalg.eigvalsh(corr_xx)[0] < 1e-10:
        raise DriverAnalysisError("the drivers are constant or perfectly collinear in these rows")
    half, inverse_half = symmetric_square_root(corr_xx)
    orthogonal = standard @ inverse_half
    fit = fit_logistic(orthogonal, y, w)
    b = fit.coef[1:]
    cov = np.cov(np.vstack([y, fit.probability]), aweights=w)
    r_o = float(cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1]))
    sd_logit = float(_weighted_std(fit.linear_predictor[:, None], w)[0])
    sd_z = _weighted_std(orthogonal, w)
    beta = b * sd_z * r_o / sd_logit
    importance = (half**2) @ (beta**2)
    null = float(-2.0 * np.dot(w, _log_likelihood_terms(np.full_like(y, _logit(y, w)), y)))
    return LogisticRelativeWeights(importance=importance, r2=r_o**2, beta=beta, fit=fit, null_deviance=null)


def _logit(y: np.ndarray, w: np.ndarray) -> float:
    mean = float(np.average(y, weights=w))
    return float(np.log(mean / (1.0 - mean)))


def likelihood_ratio_pvalues(
    values: np.ndarray, y: np.ndarray, weights: np.ndarray | None, full_deviance: float
) -> np.ndarray:
    """p-value of each driver given all the others: likelihood-ratio chi-squared test on 1 df."""
    values = np.asarray(values, dtype=float)
    p = values.shape[1]
    out = np.empty(p)
    for j in range(p):
        reduced = fit_logistic(np.delete(values, j, axis=1), y, weights)
        out[j] = stats.chi2.sf(max(reduced.deviance - full_deviance, 0.0), df=1)
    return out
