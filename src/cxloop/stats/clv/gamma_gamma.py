"""Gamma-Gamma: what a customer spends per purchase, shrunk towards the population, and CLV.

A customer's transaction values are ``gamma(p, nu)``; the rate ``nu`` varies across customers as
``gamma(q, v)``; spend is independent of the purchase process. The likelihood uses each repeat
customer's number of repeat purchases ``x`` and their average value ``m`` (the paper's ``m_x``).

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves for Customer
Base Analysis. *Journal of Marketing Research* 42(4), 415-430.
Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value. Note at
brucehardie.com/notes/025.
"""

from __future__ import annotations

from typing import Any, Protocol, Self

import numpy as np
from scipy.special import betaln, digamma

from cxloop.stats.clv._estimation import (
    FittedModel,
    FloatArray,
    as_float_array,
    compress,
    dot,
    maximise,
    observed_information,
    require_integers,
    same_length,
)

__all__ = ["PERIODS_PER_MONTH", "GammaGamma", "TransactionModel"]

#: Time units per month for the ``freq`` argument of :meth:`GammaGamma.customer_lifetime_value`
#: (the values used by the ``lifetimes`` package, so results agree with it).
PERIODS_PER_MONTH: dict[str, float] = {"D": 30.0, "W": 4.345, "M": 1.0, "H": 30.0 * 24}


class TransactionModel(Protocol):
    """Anything that forecasts purchases for a customer history, such as a fitted :class:`BetaGeo`."""

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: Any, frequency: Any, recency: Any, T: Any
    ) -> FloatArray: ...


def _validate_spend(frequency: Any, monetary_value: Any) -> tuple[FloatArray, FloatArray]:
    x = as_float_array("frequency", frequency)
    m = as_float_array("monetary_value", monetary_value)
    try:
        x, m = np.broadcast_arrays(x, m)
    except ValueError:
        same_length(frequency=x, monetary_value=m)
        raise
    if np.any(x < 0):
        raise ValueError("frequency (number of repeat purchases) must be >= 0")
    require_integers("frequency", x)
    if np.any((x > 0) & (m <= 0)):
        bad = int(np.argmax((x > 0) & (m <= 0)))
        raise ValueError(
            f"monetary_value must be > 0 for customers with repeat purchases (customer at position {bad}: "
            f"frequency={x[bad]:.0f}, monetary_value={m[bad]}); the Gamma-Gamma model has no zero or "
            "negative spend: drop refunds-only customers or model net margin elsewhere"
        )
    return x, m


class GammaGamma(FittedModel):
    """The Gamma-Gamma model of average transaction value (Fader, Hardie & Lee 2005; Fader & Hardie 2013).

    Parameters
    ----------
    penalizer : float, default 0
        L2 penalty ``penalizer * sum(param**2)`` added to the mean negative log-likelihood.
    tol : float, default 1e-7
        Gradient tolerance of the optimiser on the mean log-likelihood (log-parameter scale).
    max_iter : int, default 1000
        Iteration cap for the optimiser.

    Attributes
    ----------
    params_ : dict
        ``p`` (shape of a customer's transaction values), ``q`` and ``v`` (shape and rate, in money, of
        the gamma distribution of the per-customer rate ``nu``). The population mean spend is
        ``p * v / (q - 1)``.
    log_likelihood_ : float
        Sum over repeat customers of the log density of their average spend (note, eq. 1a).
    n_ : int
        Repeat customers used (customers with frequency 0 carry no spend information and are left out).
    covariance_ : ndarray
        Covariance of ``(p, q, v)`` from the observed information (delta method from the log scale).

    References
    ----------
    Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves for Customer
    Base Analysis. *Journal of Marketing Research* 42(4), 415-430.
    Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value.

    Examples
    --------
    The paper's CDNOW sample (shipped by the ``lifetimes`` package, a dev dependency):

    >>> from lifetimes.datasets import load_cdnow_summary_data_with_monetary_value
    >>> cdnow = load_cdnow_summary_data_with_monetary_value()
    >>> gg = GammaGamma().fit(cdnow["frequency"], cdnow["monetary_value"])
    >>> gg.n_, {name: round(value, 2) for name, value in gg.params_.items()}
    (946, {'p': 6.25, 'q': 3.74, 'v': 15.45})
    >>> round(gg.expected_average_profit(), 2)
    35.17
    >>> from cxloop.stats.clv import BetaGeo
    >>> bg = BetaGeo().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])
    >>> clv = gg.customer_lifetime_value(
    ...     bg, cdnow["frequency"], cdnow["recency"], cdnow["T"], cdnow["monetary_value"],
    ...     time=12, discount_rate=0.01, freq="W",
    ... )
    """

    _PARAMETER_NAMES = ("p", "q", "v")
    _TITLE = "Gamma-Gamma spend (Fader, Hardie & Lee 2005)"

    n_groups_: int

    def __init__(self, *, penalizer: float = 0.0, tol: float = 1e-7, max_iter: int = 1000) -> None:
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, frequency: Any, monetary_value: Any, weights: Any = None) -> Self:
        """Estimate ``p, q, v`` by maximum likelihood from the repeat customers.

        Parameters
        ----------
        frequency : array-like of int
            Repeat purchases per customer. Rows with 0 are ignored.
        monetary_value : array-like
            Average value of the repeat purchases (> 0 wherever frequency > 0).
        weights : array-like of int, optional
            Number of customers sharing each row.

        Returns
        -------
        self
        """
        if self.penalizer < 0:
            raise ValueError(f"penalizer must be >= 0, got {self.penalizer}")
        x, m = _validate_spend(frequency, monetary_value)
        w = np.ones_like(x) if weights is None else as_float_array("weights", weights)
        same_length(frequency=x, weights=w)
        if np.any(w < 0):
            raise ValueError("weights must be >= 0")
        repeat = (x > 0) & (w > 0)
        if not np.any(repeat):
            raise ValueError("no customer with repeat purchases: the Gamma-Gamma model has nothing to fit")
        rows, _, inverse = compress(x[repeat], m[repeat])
        w = np.bincount(inverse, weights=w[repeat], minlength=len(rows)).astype(np.float64)
        gx, gm = rows[:, 0], rows[:, 1]
        total = float(w.sum())
        log_likelihood = _GroupedLikelihood(gx, gm, w)

        def objective(log_params: FloatArray) -> tuple[float, FloatArray]:
            params = np.exp(log_params)
            ll, grad = log_likelihood(params)
            value = -ll / total + self.penalizer * float(np.sum(params**2))
            return value, (-grad / total + 2 * self.penalizer * params) * params

        log_params, n_iter = maximise(objective, _start(gm, w), tol=self.tol, max_iter=self.max_iter)

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

    def expected_average_profit(self) -> float:
        """Population mean transaction value ``p v / (q - 1)`` (note, eq. 3); infinite if ``q <= 1``."""
        p, q, v = self._param_array()
        return float(p * v / (q - 1)) if q > 1 else float("inf")

    def conditional_expected_average_profit(self, frequency: Any, monetary_value: Any) -> FloatArray:
        """E(Z | x, m): a customer's expected transaction value (note, eq. 5).

        A precision-weighted average of the population mean and the customer's own average ``m``, with
        weight ``p x / (p x + q - 1)`` on ``m``. Customers with frequency 0 get the population mean.
        """
        p, q, v = self._param_array()
        x, m = _validate_spend(frequency, monetary_value)
        m = np.where(x > 0, m, 0.0)
        return np.asarray(p * (v + x * m) / (p * x + q - 1), dtype=np.float64)

    def customer_lifetime_value(
        self,
        transaction_model: TransactionModel,
        frequency: Any,
        recency: Any,
        T: Any,
        monetary_value: Any,
        *,
        time: int = 12,
        discount_rate: float = 0.01,
        freq: str | float = "W",
    ) -> FloatArray:
        """Discounted expected spend over the next ``time`` months.

        The scheme is the one of the ``lifetimes`` package, so numbers agree with it: for each month
        ``k = 1..time`` the expected purchases in that month, ``E[Y(k f)] - E[Y((k-1) f)]`` from the
        transaction model (``f`` = time units per month), are valued at the customer's expected
        transaction value and discounted by ``(1 + discount_rate) ** k``. Multiply by a margin to get
        profit rather than revenue.

        Parameters
        ----------
        transaction_model : TransactionModel
            A fitted :class:`BetaGeo` (or any model with the same conditional expectation).
        frequency, recency, T, monetary_value : array-like
            The customers' summaries, ``recency`` and ``T`` in the unit named by ``freq``.
        time : int, default 12
            Horizon in months.
        discount_rate : float, default 0.01
            Discount rate per month.
        freq : {"D", "W", "M", "H"} or float, default "W"
            Unit of ``recency`` and ``T``; a number is read as time units per month.
        """
        if isinstance(freq, str):
            if freq not in PERIODS_PER_MONTH:
                raise ValueError(f"freq must be one of {sorted(PERIODS_PER_MONTH)} or a number, got {freq!r}")
            per_month = PERIODS_PER_MONTH[freq]
        else:
            per_month = float(freq)
            if not per_month > 0:
                raise ValueError(f"a numeric freq (time units per month) must be > 0, got {freq}")
        if time < 1 or int(time) != time:
            raise ValueError(f"time (months) must be a positive whole number, got {time}")
        if discount_rate <= -1:
            raise ValueError(f"discount_rate must be > -1, got {discount_rate}")
        spend = self.conditional_expected_average_profit(frequency, monetary_value)
        value = np.zeros_like(spend)
        previous = transaction_model.conditional_expected_number_of_purchases_up_to_time(
            0.0, frequency, recency, T
        )
        for month in range(1, int(time) + 1):
            current = transaction_model.conditional_expected_number_of_purchases_up_to_time(
                month * per_month, frequency, recency, T
            )
            value = value + spend * (current - previous) / (1 + discount_rate) ** month
            previous = current
        return value


def _start(m: FloatArray, w: FloatArray) -> FloatArray:
    """Moment-based starting values: p from the spread of averages of many-purchase customers is
    fragile, so take p = 1 and match the mean spend with q = 2 (the smallest q with a finite mean)."""
    mean_spend = float(np.average(m, weights=w))
    return np.log(np.array([1.0, 2.0, mean_spend]))


class _GroupedLikelihood:
    """Log density of average spend (note, eq. 1b form) over weighted rows, with its gradient.

    ``f(m | p, q, v; x) = (v/(v+xm))^q (xm/(v+xm))^(px) / (m B(px, q))``: both ratios are below one,
    which keeps the evaluation stable for large ``x`` and ``m``. Beta functions depend on ``x`` only and
    are evaluated once per distinct ``x``; ``log m`` and ``log xm`` are constants of the data.
    """

    def __init__(self, x: FloatArray, m: FloatArray, w: FloatArray) -> None:
        self.x, self.m, self.w = x, m, w
        self.xm = x * m
        self.wx = w * x
        self.total = float(w.sum())
        self.x_values, x_index = np.unique(x, return_inverse=True)
        self.x_weights = np.bincount(x_index, weights=w, minlength=len(self.x_values))
        log_xm = np.log(self.xm)
        self.sum_wx_log_xm = dot(self.wx, log_xm)
        self.sum_w_log_m = dot(w, np.log(m))

    def __call__(self, params: FloatArray) -> tuple[float, FloatArray]:
        p, q, v = params
        xv, xw, total = self.x_values, self.x_weights, self.total
        s = v + self.xm
        log_s = np.log(s)
        sum_w_log_s = dot(self.w, log_s)
        sum_wx_log_s = dot(self.wx, log_s)
        ll = (
            q * (total * np.log(v) - sum_w_log_s)
            + p * (self.sum_wx_log_xm - sum_wx_log_s)
            - self.sum_w_log_m
            - xw @ betaln(p * xv, q)
        )
        dig_all = digamma(p * xv + q)
        d_p = xw @ (xv * (dig_all - digamma(p * xv))) + self.sum_wx_log_xm - sum_wx_log_s
        d_q = xw @ dig_all - total * digamma(q) + total * np.log(v) - sum_w_log_s
        d_v = total * q / v - dot(p * self.wx + q * self.w, 1 / s)
        return float(ll), np.array([d_p, d_q, d_v])
