"""Means of rating items from sufficient statistics: t interval and Welch's two-sample test.

The warehouse aggregates each cell to ``n``, ``total = sum(x)`` and ``total_sq = sum(x**2)``; the
mean, the sample standard deviation and Student's t interval follow from these three numbers:

    mean = total / n
    sd   = sqrt((total_sq - total**2 / n) / (n - 1))
    mean +/- t_{n-1, 1-alpha/2} * sd / sqrt(n)

Two independent means are compared with Welch's (1947) t test, whose degrees of freedom come from
the Welch-Satterthwaite approximation.

Precision: ``total_sq - total**2 / n`` cancels catastrophically only when the spread is tiny relative
to the mean, which cannot happen for bounded rating scales at any realistic ``n`` in float64. It is
clipped at 0 so that rounding never yields a negative variance.

References
----------
.. [1] Student (1908). The probable error of a mean. *Biometrika*, 6(1), 1-25.
.. [2] Welch, B. L. (1947). The generalization of "Student's" problem when several different
   population variances are involved. *Biometrika*, 34(1-2), 28-35.
.. [3] Satterthwaite, F. E. (1946). An approximate distribution of estimates of variance
   components. *Biometrics Bulletin*, 2(6), 110-114.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from cxloop.stats._results import Number, ResultMixin, as_float_array, check_confidence, output

__all__ = ["MeanDifference", "MeanResult", "mean", "mean_difference"]


@dataclass(frozen=True)
class MeanResult(ResultMixin):
    """Mean of a rating item with Student's t interval.

    Attributes
    ----------
    mean : float or ndarray
        ``total / n``; NaN where ``n`` is 0.
    sd : float or ndarray
        Sample standard deviation (divisor ``n - 1``); NaN where ``n < 2``.
    se : float or ndarray
        ``sd / sqrt(n)``; NaN where ``n < 2``.
    ci_low, ci_high : float or ndarray
        Student's t interval with ``n - 1`` degrees of freedom; NaN where ``n < 2``; equal to the
        mean when every response is the same (``sd`` 0).
    n : float or ndarray
        Number of responses.
    total, total_sq : float or ndarray
        Sum and sum of squares of the responses (kept so results can be compared or pooled).
    confidence : float
        Confidence level of the interval.
    """

    mean: Number
    sd: Number
    se: Number
    ci_low: Number
    ci_high: Number
    n: Number
    total: Number
    total_sq: Number
    confidence: float

    @property
    def _title(self) -> str:
        return f"Mean (Student t {self.confidence:.0%} interval)"


@dataclass(frozen=True)
class MeanDifference(ResultMixin):
    """Difference ``a - b`` between two independent means, with Welch's t test.

    Attributes
    ----------
    difference : float or ndarray
        ``mean_a - mean_b``.
    se : float or ndarray
        ``sqrt(se_a^2 + se_b^2)``.
    df : float or ndarray
        Welch-Satterthwaite degrees of freedom.
    t, p_value : float or ndarray
        Test statistic and two-sided p-value of H0: equal means. ``t`` is 0 when both samples have
        zero spread and equal means, +/-inf when they have zero spread and different means.
    ci_low, ci_high : float or ndarray
        Welch interval of the difference.
    mean_a, mean_b, n_a, n_b : float or ndarray
        The two means and their sample sizes.
    confidence : float
        Confidence level of the interval.
    """

    difference: Number
    se: Number
    df: Number
    t: Number
    p_value: Number
    ci_low: Number
    ci_high: Number
    mean_a: Number
    mean_b: Number
    n_a: Number
    n_b: Number
    confidence: float

    @property
    def _title(self) -> str:
        return f"Mean difference a - b (Welch t test, {self.confidence:.0%} interval)"


def mean(n: ArrayLike, total: ArrayLike, total_sq: ArrayLike, confidence: float = 0.95) -> MeanResult:
    """Mean with Student's t interval from ``n``, the sum and the sum of squares.

    Parameters
    ----------
    n : array_like
        Number of responses per cell.
    total : array_like
        Sum of the responses.
    total_sq : array_like
        Sum of the squared responses.
    confidence : float, default 0.95
        Confidence level of the interval.

    Returns
    -------
    MeanResult
        NaN mean where ``n`` is 0; NaN spread and interval where ``n < 2`` (no exception).

    References
    ----------
    Student (1908). The probable error of a mean. *Biometrika*, 6(1), 1-25.

    Examples
    --------
    >>> x = [1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4]
    >>> r = mean(len(x), sum(x), sum(v * v for v in x))
    >>> round(r.ci_low, 4), round(r.ci_high, 4)
    (0.7001, 2.4599)
    """
    check_confidence(confidence)
    count = as_float_array(n, "n")
    s1 = as_float_array(total, "total", nonnegative=False)
    s2 = as_float_array(total_sq, "total_sq")
    count, s1, s2 = np.broadcast_arrays(count, s1, s2)
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = np.where(count > 0, s1 / count, np.nan)
        ss = np.maximum(s2 - s1 * estimate, 0.0)
        variance = np.where(count > 1, ss / (count - 1.0), np.nan)
        sd = np.sqrt(variance)
        se = sd / np.sqrt(count)
        df = np.where(count > 1, count - 1.0, np.nan)
        half = sps.t.ppf(0.5 + confidence / 2.0, df) * se
    return MeanResult(
        mean=output(estimate),
        sd=output(sd),
        se=output(se),
        ci_low=output(estimate - half),
        ci_high=output(estimate + half),
        n=output(count),
        total=output(s1),
        total_sq=output(s2),
        confidence=float(confidence),
    )


def mean_difference(a: MeanResult, b: MeanResult, confidence: float | None = None) -> MeanDifference:
    """Welch's two-sample t test of ``mean_a - mean_b`` from sufficient statistics.

    Parameters
    ----------
    a, b : MeanResult
        Results of :func:`mean` for two independent samples (arrays broadcast).
    confidence : float, optional
        Confidence level of the interval; defaults to ``a.confidence``.

    Returns
    -------
    MeanDifference
        NaN where either sample has fewer than 2 responses.

    Notes
    -----
    ``t = (m_a - m_b) / sqrt(v_a/n_a + v_b/n_b)`` with
    ``df = (v_a/n_a + v_b/n_b)^2 / ((v_a/n_a)^2/(n_a - 1) + (v_b/n_b)^2/(n_b - 1))``.
    The same numbers as ``scipy.stats.ttest_ind(equal_var=False)`` on the raw data.

    References
    ----------
    Welch, B. L. (1947). *Biometrika*, 34(1-2), 28-35.
    Satterthwaite, F. E. (1946). *Biometrics Bulletin*, 2(6), 110-114.
    """
    if confidence is None:
        confidence = a.confidence
    check_confidence(confidence)
    mean_a = np.asarray(a.mean, dtype=np.float64)
    mean_b = np.asarray(b.mean, dtype=np.float64)
    na = np.asarray(a.n, dtype=np.float64)
    nb = np.asarray(b.n, dtype=np.float64)
    va = np.asarray(a.se, dtype=np.float64) ** 2
    vb = np.asarray(b.se, dtype=np.float64) ** 2
    difference = mean_a - mean_b
    with np.errstate(divide="ignore", invalid="ignore"):
        var = va + vb
        se = np.sqrt(var)
        df = var**2 / (va**2 / (na - 1.0) + vb**2 / (nb - 1.0))
        # Zero spread in both samples: the t distribution degenerates; any df gives the same answer.
        df = np.where(var == 0, na + nb - 2.0, df)
        t = np.where(se > 0, difference / se, np.where(difference == 0, 0.0, np.sign(difference) * np.inf))
        t = np.where(np.isnan(difference) | np.isnan(se), np.nan, t)
        p_value = 2.0 * sps.t.sf(np.abs(t), df)
        half = sps.t.ppf(0.5 + confidence / 2.0, df) * se
    return MeanDifference(
        difference=output(difference),
        se=output(se),
        df=output(df),
        t=output(t),
        p_value=output(p_value),
        ci_low=output(difference - half),
        ci_high=output(difference + half),
        mean_a=output(mean_a),
        mean_b=output(mean_b),
        n_a=output(na),
        n_b=output(nb),
        confidence=float(confidence),
    )
