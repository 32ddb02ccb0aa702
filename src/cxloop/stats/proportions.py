"""Shares of responses (top-box, top-2-box, "easy", response rate): Wilson interval and z test.

A share is reported on the 0..1 scale. Its interval is the Wilson (1927) score interval, which stays
inside [0, 1], is never degenerate at 0 or n successes, and has close to nominal coverage even for
small n (Newcombe 1998a, method 3; Brown, Cai & DasGupta 2001). Two independent shares are compared
with the pooled two-proportion z test, and the interval of their difference is Newcombe's (1998b,
method 10) hybrid score interval built from the two Wilson intervals.

References
----------
.. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
   *Journal of the American Statistical Association*, 22(158), 209-212.
.. [2] Newcombe, R. G. (1998a). Two-sided confidence intervals for the single proportion:
   comparison of seven methods. *Statistics in Medicine*, 17(8), 857-872.
.. [3] Newcombe, R. G. (1998b). Interval estimation for the difference between independent
   proportions: comparison of eleven methods. *Statistics in Medicine*, 17(8), 873-890.
.. [4] Brown, L. D., Cai, T. T. & DasGupta, A. (2001). Interval estimation for a binomial
   proportion. *Statistical Science*, 16(2), 101-133.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cxloop.stats._results import (
    Number,
    ResultMixin,
    as_float_array,
    output,
    two_sided_normal_p,
    z_critical,
)

__all__ = [
    "ProportionDifference",
    "ProportionResult",
    "proportion",
    "proportion_difference",
    "top_box",
    "wilson_interval",
]


@dataclass(frozen=True)
class ProportionResult(ResultMixin):
    """A share of responses with its Wilson interval.

    Attributes
    ----------
    share : float or ndarray
        ``successes / n`` on the 0..1 scale; NaN where ``n`` is 0.
    se : float or ndarray
        Binomial standard error ``sqrt(share * (1 - share) / n)``; 0 at a share of 0 or 1.
    ci_low, ci_high : float or ndarray
        Wilson score interval.
    n, successes : float or ndarray
        The counts the result was computed from.
    confidence : float
        Confidence level of the interval.
    """

    share: Number
    se: Number
    ci_low: Number
    ci_high: Number
    n: Number
    successes: Number
    confidence: float

    @property
    def _title(self) -> str:
        return f"Share of responses (Wilson {self.confidence:.0%} interval)"


@dataclass(frozen=True)
class ProportionDifference(ResultMixin):
    """Difference ``a - b`` between two independent shares, with a two-sided z test.

    Attributes
    ----------
    difference : float or ndarray
        ``share_a - share_b`` on the -1..1 scale.
    se : float or ndarray
        Pooled standard error under H0 (used by the test).
    z, p_value : float or ndarray
        Pooled two-proportion z statistic and its two-sided p-value. ``z`` is 0 when both samples
        have the same all-0 or all-1 outcome (pooled se 0).
    ci_low, ci_high : float or ndarray
        Newcombe (1998b) hybrid score interval of the difference.
    share_a, share_b, n_a, n_b : float or ndarray
        The two shares and their sample sizes.
    confidence : float
        Confidence level of the interval.
    """

    difference: Number
    se: Number
    z: Number
    p_value: Number
    ci_low: Number
    ci_high: Number
    share_a: Number
    share_b: Number
    n_a: Number
    n_b: Number
    confidence: float

    @property
    def _title(self) -> str:
        return f"Share difference a - b (pooled z test, Newcombe {self.confidence:.0%} interval)"


def _counts(successes: ArrayLike, n: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    x = as_float_array(successes, "successes")
    total = as_float_array(n, "n")
    x, total = np.broadcast_arrays(x, total)
    if np.any(x > total):
        raise ValueError("successes must not exceed n")
    return x, total


def _wilson(
    x: NDArray[np.float64], n: NDArray[np.float64], z: float
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    z2 = z * z
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, x / n, np.nan)
        denominator = n + z2
        centre = (x + z2 / 2.0) / denominator
        half = z * np.sqrt(n * p * (1.0 - p) + z2 / 4.0) / denominator
    low = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    high = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    # At x = 0 (x = n) the exact bound is 0 (1); the formula gives it up to rounding.
    low = np.where(x == 0, np.where(n > 0, 0.0, np.nan), low)
    high = np.where(x == n, np.where(n > 0, 1.0, np.nan), high)
    return low, high


def wilson_interval(successes: ArrayLike, n: ArrayLike, confidence: float = 0.95) -> tuple[Number, Number]:
    """Wilson score interval of a binomial proportion.

    Parameters
    ----------
    successes, n : array_like
        Number of successes and of trials (broadcast against each other); ``0 <= successes <= n``.
    confidence : float, default 0.95
        Confidence level.

    Returns
    -------
    (low, high) : tuple of float or ndarray
        Bounds on the 0..1 scale; NaN where ``n`` is 0.

    Notes
    -----
    ``(x + z^2/2) / (n + z^2) +/- z sqrt(n p (1 - p) + z^2/4) / (n + z^2)`` with ``p = x / n``:
    the set of proportions not rejected by the score test (Wilson 1927; Newcombe 1998a, method 3).

    References
    ----------
    Wilson, E. B. (1927). *JASA*, 22(158), 209-212.
    Newcombe, R. G. (1998). Two-sided confidence intervals for the single proportion: comparison of
    seven methods. *Statistics in Medicine*, 17(8), 857-872.

    Examples
    --------
    >>> low, high = wilson_interval(81, 263)
    >>> round(low, 4), round(high, 4)
    (0.2553, 0.3662)
    """
    x, total = _counts(successes, n)
    low, high = _wilson(x, total, z_critical(confidence))
    return output(low), output(high)


def proportion(successes: ArrayLike, n: ArrayLike, confidence: float = 0.95) -> ProportionResult:
    """Share of responses with its standard error and Wilson interval.

    Parameters
    ----------
    successes, n : array_like
        Responses counted as a success (top box, top-2-box, easy, responded) and all responses.
        Scalars or arrays broadcast against each other; NaN marks a missing cell.
    confidence : float, default 0.95
        Confidence level of the interval.

    Returns
    -------
    ProportionResult
        NaN estimate and interval where ``n`` is 0. At a share of 0 or 1 the standard error is 0 but
        the Wilson interval still has positive width.

    References
    ----------
    Wilson, E. B. (1927). *JASA*, 22(158), 209-212.
    """
    x, total = _counts(successes, n)
    z = z_critical(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, x / total, np.nan)
        se = np.sqrt(share * (1.0 - share) / total)
    se = np.where(total > 0, np.maximum(se, 0.0), np.nan)
    low, high = _wilson(x, total, z)
    return ProportionResult(
        share=output(share),
        se=output(se),
        ci_low=output(low),
        ci_high=output(high),
        n=output(total),
        successes=output(x),
        confidence=float(confidence),
    )


def top_box(top: ArrayLike, n: ArrayLike, confidence: float = 0.95) -> ProportionResult:
    """Top-box (or top-k-box) share of a rating item: ``top`` responses in the top box(es) of ``n``.

    The same as :func:`proportion`; the name says what the count is. Which boxes count is the
    caller's choice (e.g. 4-5 on a 5-point CSAT item for top-2-box).
    """
    return proportion(top, n, confidence)


def proportion_difference(
    a: ProportionResult, b: ProportionResult, confidence: float | None = None
) -> ProportionDifference:
    """Pooled two-proportion z test of ``share_a - share_b`` with Newcombe's hybrid score interval.

    Parameters
    ----------
    a, b : ProportionResult
        Results of :func:`proportion` for two independent samples (arrays broadcast).
    confidence : float, optional
        Confidence level of the interval; defaults to ``a.confidence``.

    Returns
    -------
    ProportionDifference
        NaN where either sample is empty.

    Notes
    -----
    Test: ``z = (p_a - p_b) / sqrt(p (1 - p) (1/n_a + 1/n_b))`` with the pooled share ``p``.
    Interval (Newcombe 1998b, method 10): with Wilson bounds ``l_i, u_i`` of each share and
    ``d = p_a - p_b``, ``low = d - sqrt((p_a - l_a)^2 + (u_b - p_b)^2)`` and
    ``high = d + sqrt((u_a - p_a)^2 + (p_b - l_b)^2)``.

    References
    ----------
    Newcombe, R. G. (1998). Interval estimation for the difference between independent
    proportions: comparison of eleven methods. *Statistics in Medicine*, 17(8), 873-890.
    """
    if confidence is None:
        confidence = a.confidence
    z = z_critical(confidence)
    xa, na = _counts(a.successes, a.n)
    xb, nb = _counts(b.successes, b.n)
    with np.errstate(divide="ignore", invalid="ignore"):
        pa = np.where(na > 0, xa / na, np.nan)
        pb = np.where(nb > 0, xb / nb, np.nan)
        pooled = (xa + xb) / (na + nb)
        se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb))
        difference = pa - pb
        statistic = np.where(se > 0, difference / se, 0.0)
    empty = ~((na > 0) & (nb > 0))
    se = np.where(empty, np.nan, np.maximum(se, 0.0))
    statistic = np.where(empty | np.isnan(difference), np.nan, statistic)
    la, ua = _wilson(xa, na, z)
    lb, ub = _wilson(xb, nb, z)
    low = difference - np.sqrt((pa - la) ** 2 + (ub - pb) ** 2)
    high = difference + np.sqrt((ua - pa) ** 2 + (pb - lb) ** 2)
    return ProportionDifference(
        difference=output(difference),
        se=output(se),
        z=output(statistic),
        p_value=output(two_sided_normal_p(statistic)),
        ci_low=output(low),
        ci_high=output(high),
        share_a=output(pa),
        share_b=output(pb),
        n_a=output(na),
        n_b=output(nb),
        confidence=float(confidence),
    )
