"""Shifted-beta-geometric (sBG): churn, retention and residual value of a subscription base.

At the end of each period a subscriber cancels with a personal probability ``theta`` that never changes;
``theta ~ beta(alpha, beta)`` across subscribers. The aggregate retention rate then rises with tenure,
although no one becomes more loyal: the high-churn subscribers leave first ("the ruse of heterogeneity").

Time is counted in contract periods. A subscriber's lifetime ``L`` is the number of periods paid for:
``L = t`` means they cancelled at the ``t``-th renewal opportunity, and ``S(t) = P(L > t)`` is the share
still subscribed after ``t`` renewals.

References
----------
Fader, P. S. & Hardie, B. G. S. (2007). How to Project Customer Retention. *Journal of Interactive
Marketing* 21(1), 76-90.
Fader, P. S. & Hardie, B. G. S. (2010). Customer-Base Valuation in a Contractual Setting: The Perils
of Ignoring Heterogeneity. *Marketing Science* 29(1), 85-93.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from scipy.special import betaln, digamma, hyp2f1

from cxloop.stats.clv._estimation import (
    FittedModel,
    FloatArray,
    as_float_array,
    compress,
    maximise,
    observed_information,
    require_integers,
    same_length,
)

__all__ = ["ShiftedBetaGeometric"]


class ShiftedBetaGeometric(FittedModel):
    """The shifted-beta-geometric model of contract duration (Fader & Hardie 2007).

    Parameters
    ----------
    tol : float, default 1e-8
        Gradient tolerance of the optimiser on the mean log-likelihood (log-parameter scale).
    max_iter : int, default 1000
        Iteration cap for the optimiser.

    Attributes
    ----------
    params_ : dict
        ``alpha`` and ``beta`` of the beta distribution of the per-period churn probability; its mean
        ``alpha / (alpha + beta)`` is the churn rate of a new cohort at its first renewal.
    log_likelihood_ : float
        Log-likelihood at the estimates (paper's eq. B3 with counts, not proportions).
    n_ : int
        Subscribers in the fit (the cohort size for :meth:`fit_survival`).
    covariance_ : ndarray
        Covariance of ``(alpha, beta)`` from the observed information (delta method from the log scale).

    References
    ----------
    Fader, P. S. & Hardie, B. G. S. (2007). How to Project Customer Retention. *Journal of Interactive
    Marketing* 21(1), 76-90.
    Fader, P. S. & Hardie, B. G. S. (2010). Customer-Base Valuation in a Contractual Setting: The Perils
    of Ignoring Heterogeneity. *Marketing Science* 29(1), 85-93.

    Examples
    --------
    >>> sbg = ShiftedBetaGeometric().fit_survival([1000, 869, 743, 653, 593, 551, 517, 491])
    >>> round(sbg.params_["alpha"], 3), round(sbg.params_["beta"], 3)
    (0.668, 3.806)
    """

    _PARAMETER_NAMES = ("alpha", "beta")
    _TITLE = "shifted-beta-geometric (Fader & Hardie 2007)"

    def __init__(self, *, tol: float = 1e-8, max_iter: int = 1000) -> None:
        self.tol = tol
        self.max_iter = max_iter

    def fit_survival(self, survivors: Any) -> Self:
        """Fit a cohort's survivor counts ``S_0, S_1, ..., S_K`` (subscribers active after 0..K renewals).

        ``S_0`` is the cohort size. The ``S_{t-1} - S_t`` subscribers lost at renewal ``t`` have lifetime
        ``t``; the ``S_K`` still active are right-censored at ``K``. Give counts, not percentages: the
        standard errors depend on the number of subscribers.
        """
        counts = as_float_array("survivors", survivors)
        if len(counts) < 3:
            raise ValueError("survivors needs at least S_0, S_1 and S_2")
        if np.any(counts < 0) or counts[0] <= 0:
            raise ValueError("survivor counts must be >= 0 with a positive cohort size S_0")
        if np.any(np.diff(counts) > 0):
            raise ValueError("survivor counts cannot increase over time (a cohort only loses subscribers)")
        lost = -np.diff(counts)
        horizon = len(counts) - 1
        periods = np.append(np.arange(1, horizon + 1, dtype=np.float64), horizon)
        churned = np.append(np.ones(horizon), 0.0)
        weights = np.append(lost, counts[-1])
        keep = weights > 0
        return self._fit(periods[keep], churned[keep], weights[keep])

    def fit_durations(self, periods_observed: Any, churned: Any) -> Self:
        """Fit individual subscription records, any mix of cohorts, with right-censoring.

        Parameters
        ----------
        periods_observed : array-like of int
            Per subscriber, the number of renewal opportunities observed: for a churned subscriber the
            period at whose end they cancelled (their lifetime, >= 1); for an active one the number of
            renewals made so far (>= 0).
        churned : array-like of bool
            Whether the subscriber has cancelled (otherwise they are censored: lifetime > periods_observed).
        """
        periods = as_float_array("periods_observed", periods_observed)
        flags = as_float_array("churned", np.asarray(churned, dtype=np.float64))
        same_length(periods_observed=periods, churned=flags)
        if not np.all(np.isin(flags, (0.0, 1.0))):
            raise ValueError("churned must be boolean (or 0/1)")
        require_integers("periods_observed", periods)
        if np.any(periods < 0):
            raise ValueError("periods_observed must be >= 0")
        if np.any((flags == 1) & (periods < 1)):
            raise ValueError("a churned subscriber was active at least one period (periods_observed >= 1)")
        rows, counts, _ = compress(periods, flags)
        return self._fit(rows[:, 0], rows[:, 1], counts)

    def _fit(self, periods: FloatArray, churned: FloatArray, weights: FloatArray) -> Self:
        total = float(weights.sum())
        if not np.any(churned == 1):
            # With no cancellation the likelihood grows without bound as churn goes to zero.
            raise ValueError("no subscriber has churned: alpha and beta are not identified")
        if periods.max() < 2:
            # One renewal opportunity is a binomial trial: it identifies the mean churn, not its spread.
            raise ValueError("at least two renewal opportunities are needed to identify alpha and beta")

        def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
            ll, grad = _log_likelihood(np.exp(log_params), periods, churned, weights)
            return -ll / total, -grad * np.exp(log_params) / total

        log_params, n_iter = maximise(objective, np.zeros(2), tol=self.tol, max_iter=self.max_iter)

        def total_gradient(u: FloatArray) -> FloatArray:
            return objective(u)[1] * total

        ll, _ = _log_likelihood(np.exp(log_params), periods, churned, weights)
        self._store_fit(
            log_params,
            log_likelihood=ll,
            n=int(round(total)),
            information=observed_information(total_gradient, log_params),
            n_iter=n_iter,
        )
        return self

    def survival_function(self, t: Any) -> FloatArray:
        """S(t) = B(alpha, beta + t) / B(alpha, beta): share of a new cohort still active after t renewals."""
        alpha, beta = self._param_array()
        periods = _periods("t", t, minimum=0)
        return np.asarray(np.exp(betaln(alpha, beta + periods) - betaln(alpha, beta)), dtype=np.float64)

    def retention_rate(self, t: Any) -> FloatArray:
        """r_t = S(t) / S(t-1) = (beta + t - 1) / (alpha + beta + t - 1) for renewal t >= 1 (paper, eq. 8)."""
        alpha, beta = self._param_array()
        periods = _periods("t", t, minimum=1)
        return np.asarray((beta + periods - 1) / (alpha + beta + periods - 1), dtype=np.float64)

    def churn_probability(self, t: Any) -> FloatArray:
        """P(L = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta): a new subscriber cancels at renewal t."""
        alpha, beta = self._param_array()
        periods = _periods("t", t, minimum=1)
        log_p = betaln(alpha + 1, beta + periods - 1) - betaln(alpha, beta)
        return np.asarray(np.exp(log_p), dtype=np.float64)

    def projected_survivors(self, t: Any, cohort_size: float | None = None) -> FloatArray:
        """Expected subscribers of a cohort still active after ``t`` renewals: ``cohort_size * S(t)``.

        ``cohort_size`` defaults to the number of subscribers the model was fitted on.
        """
        self.check_fitted("params_")
        size = float(self.n_ if cohort_size is None else cohort_size)
        if size < 0:
            raise ValueError("cohort_size must be >= 0")
        return size * self.survival_function(t)

    def derl(self, discount_rate: float, renewals: Any = 0, value_per_period: float = 1.0) -> FloatArray:
        """Discounted expected residual lifetime value of a subscriber who has made ``renewals`` renewals.

        Fader & Hardie (2010), eq. 6, with ``n - 1 = renewals``: the subscriber is evaluated just
        before their next renewal decision, and the value counts the payments that follow from it,
        the first undiscounted and the ``k``-th discounted by ``(1 + discount_rate) ** (k - 1)``::

            DERL = (beta + n - 1) / (alpha + beta + n - 1) * 2F1(1, beta + n; alpha + beta + n; 1 / (1 + d))

        It is the sum over future periods of the conditional survival ``S(t) / S(n - 1)`` discounted
        back to the decision point. Multiply by ``value_per_period`` (the net cash flow per period).
        """
        alpha, beta = self._param_array()
        if not discount_rate > 0:
            raise ValueError(f"discount_rate must be > 0 (the sum diverges otherwise), got {discount_rate}")
        n = _periods("renewals", renewals, minimum=0) + 1
        z = 1.0 / (1.0 + discount_rate)
        value = (beta + n - 1) / (alpha + beta + n - 1) * hyp2f1(1.0, beta + n, alpha + beta + n, z)
        return np.asarray(value_per_period * value, dtype=np.float64)

    def expected_lifetime_value(self, discount_rate: float, value_per_period: float = 1.0) -> float:
        """E(CLV) of a new subscriber who pays at the start of every period they are active.

        ``sum_{t>=0} S(t) / (1 + d)^t = 2F1(1, beta; alpha + beta; 1 / (1 + d))`` (Fader & Hardie 2010),
        times ``value_per_period``.
        """
        alpha, beta = self._param_array()
        if not discount_rate > 0:
            raise ValueError(f"discount_rate must be > 0 (the sum diverges otherwise), got {discount_rate}")
        return float(value_per_period * hyp2f1(1.0, beta, alpha + beta, 1.0 / (1.0 + discount_rate)))


def _periods(name: str, values: Any, *, minimum: int) -> FloatArray:
    periods = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(periods)) or np.any(periods < minimum):
        raise ValueError(f"{name} must be finite and >= {minimum}")
    return periods


def _log_likelihood(
    params: FloatArray, periods: FloatArray, churned: FloatArray, weights: FloatArray
) -> tuple[float, FloatArray]:
    """Weighted sBG log-likelihood and its gradient in (alpha, beta).

    Churned at t: ln P(L = t) = ln B(alpha + 1, beta + t - 1) - ln B(alpha, beta).
    Censored at t: ln S(t) = ln B(alpha, beta + t) - ln B(alpha, beta).
    """
    alpha, beta = params
    lost = churned == 1
    a = np.where(lost, alpha + 1, alpha)
    b = np.where(lost, beta + periods - 1, beta + periods)
    ll = betaln(a, b) - betaln(alpha, beta)
    dig_ab = digamma(a + b)
    base = digamma(alpha + beta)
    d_alpha = digamma(a) - dig_ab - (digamma(alpha) - base)
    d_beta = digamma(b) - dig_ab - (digamma(beta) - base)
    return float(weights @ ll), np.array([weights @ d_alpha, weights @ d_beta])
