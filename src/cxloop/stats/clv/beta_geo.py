"""BG/NBD: how many purchases a non-contractual customer will make, and whether they are still "alive".

While active a customer buys as a Poisson process with rate ``lambda ~ gamma(r, alpha)``; after each
purchase they drop out for good with probability ``p ~ beta(a, b)``. A customer enters the likelihood
only through ``(x, t_x, T)``: the number of repeat purchases, the time of the last one and the time since
the first purchase, all in the same unit (weeks in the paper).

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An
Alternative to the Pareto/NBD Model. *Marketing Science* 24(2), 275-284.
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2008). Computing P(alive) Using the BG/NBD Model.
Note at brucehardie.com/notes/021.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
from scipy.special import digamma, expit, gammaln, hyp2f1

from cxloop.stats.clv._estimation import (
    FittedModel,
    FloatArray,
    Objective,
    as_float_array,
    compress,
    dot,
    maximise,
    observed_information,
    require_integers,
    same_length,
)

__all__ = ["BetaGeo"]

# Above this many distinct rows, a systematic subsample of them is fitted first to start the full fit.
_WARM_UP_ROWS = 20_000


def _validate_rfm(frequency: Any, recency: Any, T: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Check a (frequency, recency, T) summary and broadcast it to three equal-length arrays."""
    x = as_float_array("frequency", frequency)
    t_x = as_float_array("recency", recency)
    big_t = as_float_array("T", T)
    try:
        x, t_x, big_t = np.broadcast_arrays(x, t_x, big_t)
    except ValueError:
        same_length(frequency=x, recency=t_x, T=big_t)  # raises with the lengths
        raise
    if np.any(x < 0):
        raise ValueError("frequency (number of repeat purchases) must be >= 0")
    require_integers("frequency", x)
    if np.any(t_x < 0):
        raise ValueError("recency must be >= 0")
    if np.any(t_x > big_t):
        bad = int(np.argmax(t_x > big_t))
        raise ValueError(
            f"recency must not exceed T (customer at position {bad}: recency={t_x[bad]}, T={big_t[bad]}); "
            "check that both are measured from the first purchase in the same unit"
        )
    if np.any((x == 0) & (t_x != 0)):
        raise ValueError("a customer with frequency 0 must have recency 0 (no repeat purchase)")
    return x, t_x, big_t


class BetaGeo(FittedModel):
    """The beta-geometric/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

    Parameters
    ----------
    penalizer : float, default 0
        L2 penalty ``penalizer * sum(param**2)`` added to the mean negative log-likelihood (the
        convention of the ``lifetimes`` package). Zero gives the maximum-likelihood estimates of the paper.
    tol : float, default 1e-7
        Gradient tolerance of the optimiser on the mean log-likelihood (log-parameter scale).
    max_iter : int, default 1000
        Iteration cap for the optimiser.

    Attributes
    ----------
    params_ : dict
        ``r`` and ``alpha`` (shape and rate of the gamma purchase-rate distribution; ``alpha`` is in the
        unit of ``T``) and ``a``, ``b`` (the beta dropout-probability distribution).
    log_likelihood_ : float
        The full log-likelihood at the estimates (comparable with the paper's -9582.4 for CDNOW).
    n_ : int
        Number of customers.
    covariance_ : ndarray
        Covariance of ``(r, alpha, a, b)`` from the observed information (delta method from the log scale).
    n_groups_ : int
        Distinct ``(frequency, recency, T)`` combinations the likelihood was evaluated on.

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An
    Alternative to the Pareto/NBD Model. *Marketing Science* 24(2), 275-284.

    Examples
    --------
    The paper's CDNOW sample (shipped by the ``lifetimes`` package, a dev dependency):

    >>> from lifetimes.datasets import load_cdnow_summary
    >>> cdnow = load_cdnow_summary(index_col=[0])
    >>> bg = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    >>> {name: round(value, 3) for name, value in bg.params_.items()}
    {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
    >>> round(bg.log_likelihood_, 1)
    -9582.4
    >>> bg.conditional_expected_number_of_purchases_up_to_time(39, 2, 30.43, 38.86).round(3)
    array([1.226])
    """

    _PARAMETER_NAMES = ("r", "alpha", "a", "b")
    _TITLE = "BG/NBD (Fader, Hardie & Lee 2005)"

    n_groups_: int

    def __init__(self, *, penalizer: float = 0.0, tol: float = 1e-7, max_iter: int = 1000) -> None:
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, frequency: Any, recency: Any, T: Any, weights: Any = None) -> Self:
        """Estimate ``r, alpha, a, b`` by maximum likelihood.

        Parameters
        ----------
        frequency : array-like of int
            Repeat purchases per customer (purchases after the first).
        recency : array-like
            Time from the first to the last purchase (0 for customers without repeat purchases).
        T : array-like
            Time from the first purchase to the end of the observation window, same unit as recency.
        weights : array-like of int, optional
            Number of customers sharing each row, for data that are already aggregated.

        Returns
        -------
        self
        """
        if self.penalizer < 0:
            raise ValueError(f"penalizer must be >= 0, got {self.penalizer}")
        x, t_x, big_t = _validate_rfm(frequency, recency, T)
        if weights is None:
            w = np.ones_like(x)
        else:
            w = as_float_array("weights", weights)
            same_length(frequency=x, weights=w)
            if np.any(w < 0):
                raise ValueError("weights must be >= 0")
        rows, _, inverse = compress(x, t_x, big_t)
        w = np.bincount(inverse, weights=w, minlength=len(rows)).astype(np.float64)
        keep = w > 0
        rows, w = rows[keep], w[keep]
        total = float(w.sum())
        if total <= 0:
            raise ValueError("weights sum to zero: nothing to fit")
        log_likelihood = _GroupedLikelihood(rows[:, 0], rows[:, 1], rows[:, 2], w)
        objective = self._objective(log_likelihood)
        warm_up = None
        if len(w) > _WARM_UP_ROWS:
            every = slice(None, None, len(w) // _WARM_UP_ROWS)
            sample = _GroupedLikelihood(rows[every, 0], rows[every, 1], rows[every, 2], w[every])
            warm_up = self._objective(sample)

        mean_x = max(float(np.average(rows[:, 0], weights=w)), 1e-3)
        mean_rate = mean_x / max(float(np.average(rows[:, 2], weights=w)), 1e-9)
        start = np.log(np.array([1.0, 1.0 / mean_rate, 1.0, 1.0]))
        log_params, n_iter = maximise(objective, start, tol=self.tol, max_iter=self.max_iter, warm_up=warm_up)

        def total_gradient(u: FloatArray) -> FloatArray:
            return objective(u)[1] * total

        self._store_fit(
            log_params,
            log_likelihood=log_likelihood(np.exp(log_params))[0],
            n=int(round(total)),
            information=observed_information(total_gradient, log_params),
            n_iter=n_iter,
        )
        self.n_groups_ = len(w)
        return self

    def _objective(self, log_likelihood: _GroupedLikelihood) -> Objective:
        """Mean negative log-likelihood (plus penalty) and its gradient, on log-parameters."""

        def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
            params = np.exp(log_params)
            ll, grad = log_likelihood(params)
            value = -ll / log_likelihood.total + self.penalizer * float(np.sum(params**2))
            grad_log = (-grad / log_likelihood.total + 2 * self.penalizer * params) * params
            return value, grad_log

        return objective

    def conditional_probability_alive(self, frequency: Any, recency: Any, T: Any) -> FloatArray:
        """P(still active at T | x, t_x, T), Fader, Hardie & Lee (2008) note, eq. (1)."""
        r, alpha, a, b = self._param_array()
        x, t_x, big_t = _validate_rfm(frequency, recency, T)
        return _probability_alive(r, alpha, a, b, x, t_x, big_t)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: Any, frequency: Any, recency: Any, T: Any
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` time units (paper, eq. 10).

        The Gaussian hypergeometric term is evaluated after Euler's transformation,
        ``(1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z)``, whose
        parameters do not grow with ``x``: it stays accurate for customers with hundreds of purchases.
        """
        r, alpha, a, b = self._param_array()
        x, t_x, big_t = _validate_rfm(frequency, recency, T)
        horizon = _horizon(t)
        alive = _probability_alive(r, alpha, a, b, x, t_x, big_t)
        return _expected_purchases_if_alive(r, alpha, a, b, x, big_t, horizon) * alive

    def expected_number_of_purchases_up_to_time(self, t: Any) -> FloatArray:
        """E[X(t)]: expected repeat purchases by a new customer in ``(0, t]`` (paper, eq. 9)."""
        r, alpha, a, b = self._param_array()
        horizon = _horizon(t)
        zero = np.zeros_like(horizon)
        return _expected_purchases_if_alive(r, alpha, a, b, zero, zero, horizon)


def _horizon(t: Any) -> FloatArray:
    horizon = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(horizon)) or np.any(horizon < 0):
        raise ValueError("t must be finite and >= 0")
    return horizon


class _GroupedLikelihood:
    """The BG/NBD log-likelihood (paper, eq. 6, in the A1..A4 log form) over weighted distinct rows.

    Everything that depends on a customer only through ``x`` is evaluated once per distinct ``x`` and
    weighted by the customers sharing it; customers without repeat purchases reduce to one term per
    distinct ``T``. Only repeat customers need per-row work, and only a few array operations of it:
    with a million customers an evaluation costs milliseconds.
    """

    def __init__(self, x: FloatArray, t_x: FloatArray, big_t: FloatArray, w: FloatArray) -> None:
        self.total = float(w.sum())
        self.x_values, x_index = np.unique(x, return_inverse=True)
        self.x_weights = np.bincount(x_index, weights=w, minlength=len(self.x_values))
        once = x == 0
        self.t0_values, t0_index = np.unique(big_t[once], return_inverse=True)
        self.t0_weights = np.bincount(t0_index, weights=w[once], minlength=len(self.t0_values))
        repeat = ~once
        self.x = x[repeat]
        self.w = w[repeat]
        self.t_values, self.t_index = np.unique(big_t[repeat], return_inverse=True)
        self.tx_values, self.tx_index = np.unique(t_x[repeat], return_inverse=True)
        self.rx_values, self.rx_index = np.unique(self.x, return_inverse=True)
        self._last: tuple[FloatArray, float, FloatArray] | None = None

    def __call__(self, params: FloatArray) -> tuple[float, FloatArray]:
        """Weighted log-likelihood and its gradient in (r, alpha, a, b), remembering the last call.

        The optimiser's convergence checks and the final log-likelihood ask again for the point it
        stopped at; with a million customers each evaluation is worth saving.
        """
        if self._last is not None and np.array_equal(self._last[0], params):
            return self._last[1], self._last[2].copy()
        value, grad = self._evaluate(np.asarray(params, dtype=np.float64))
        self._last = (np.array(params, dtype=np.float64), value, grad.copy())
        return value, grad

    def _evaluate(self, params: FloatArray) -> tuple[float, FloatArray]:
        r, alpha, a, b = params
        total, xv, xw = self.total, self.x_values, self.x_weights
        # Terms in x only (A1 and A2 of the paper), aggregated over distinct x.
        ll = xw @ (gammaln(r + xv) + gammaln(b + xv) - gammaln(a + b + xv)) + total * (
            -gammaln(r) + r * np.log(alpha) + gammaln(a + b) - gammaln(b)
        )
        dig_abx = xw @ digamma(a + b + xv)
        d_r = xw @ digamma(r + xv) + total * (np.log(alpha) - digamma(r))
        d_alpha = total * r / alpha
        d_a = total * digamma(a + b) - dig_abx
        d_b = total * (digamma(a + b) - digamma(b)) + xw @ digamma(b + xv) - dig_abx
        # Customers without repeat purchases: A3 only, (alpha + T)^-r.
        log_t0 = np.log(alpha + self.t0_values)
        ll -= r * (self.t0_weights @ log_t0)
        d_r -= self.t0_weights @ log_t0
        d_alpha -= r * (self.t0_weights @ (1 / (alpha + self.t0_values)))
        if len(self.x):
            x, w = self.x, self.w
            log_t = np.log(alpha + self.t_values)[self.t_index]
            log_tx = np.log(alpha + self.tx_values)[self.tx_index]
            log_b_x_1 = np.log(b + self.rx_values - 1)[self.rx_index]
            rx = r + x
            a3 = -rx * log_t
            a4 = np.log(a) - log_b_x_1 - rx * log_tx
            mix = np.logaddexp(a3, a4)
            share = np.exp(a4 - mix)  # weight of "dropped out right after the last purchase"
            ws = w * share
            ll += dot(w, mix)
            d_r -= dot(w, log_t) - dot(ws, log_t - log_tx)
            inv_t = (1 / (alpha + self.t_values))[self.t_index]
            inv_tx = (1 / (alpha + self.tx_values))[self.tx_index]
            d_alpha -= dot(w * rx, inv_t) + dot(ws * rx, inv_tx - inv_t)
            d_a += ws.sum() / a
            d_b -= dot(ws, (1 / (b + self.rx_values - 1))[self.rx_index])
        return float(ll), np.array([d_r, d_alpha, d_a, d_b])


def _probability_alive(
    r: float, alpha: float, a: float, b: float, x: FloatArray, t_x: FloatArray, big_t: FloatArray
) -> FloatArray:
    # 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)), as a logistic of the log-odds: no overflow.
    repeat = x > 0
    log_odds_dead = (
        np.log(a)
        - np.log(np.where(repeat, b + x - 1, 1.0))
        + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
    )
    return np.where(repeat, expit(-log_odds_dead), 1.0)


def _expected_purchases_if_alive(
    r: float, alpha: float, a: float, b: float, x: FloatArray, big_t: FloatArray, t: FloatArray
) -> FloatArray:
    """Expected purchases in (T, T+t] for a customer alive at T: eq. 10's numerator (eq. 9 when x = T = 0).

    At ``a = 1`` the expression is 0/0; its limit is the mean of the values just either side.
    """
    if abs(a - 1) < 1e-7:
        below = _expected_purchases_if_alive(r, alpha, 1 - 1e-6, b, x, big_t, t)
        above = _expected_purchases_if_alive(r, alpha, 1 + 1e-6, b, x, big_t, t)
        return 0.5 * (below + above)
    one_minus_z = (alpha + big_t) / (alpha + big_t + t)
    z = t / (alpha + big_t + t)
    tail = one_minus_z ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
    return np.asarray((a + b + x - 1) / (a - 1) * (1 - tail), dtype=np.float64)
