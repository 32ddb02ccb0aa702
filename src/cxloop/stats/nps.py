"""Net Promoter Score from detractor, passive and promoter counts: estimate, error, interval, test.

The NPS is reported on the -100..100 scale: ``100 * (promoters - detractors) / n``. Each response
is a draw from a trinomial with values -1 (detractor, 0-6), 0 (passive, 7-8) and +1 (promoter,
9-10), so the NPS is (100 times) the mean of that variable and its variance per response is

    var = (p + d) - (p - d) ** 2

where ``p`` and ``d`` are the promoter and detractor shares (Rocks 2016). The standard error
of the score is ``100 * sqrt(var / n)``.

Intervals
---------
``"wald"``
    score +/- z * se. Simple, but it collapses to a single point when every response falls in one
    category (se = 0) and under-covers for small n.
``"adjusted_wald"`` (default)
    Rocks (2016): add pseudo-observations (3/4 detractor, 3/2 passive, 3/4 promoter; 3 in all) to
    the counts, then build the Wald interval from the adjusted shares and ``n + 3``. This is the
    analogue of the Agresti & Coull (1998) adjustment for a single proportion. Rocks found it the
    best of the methods he compared on coverage and width over a large database of real company
    NPS distributions, and Lewis & Sauro (2021) confirmed it on their own data, so it is the
    default. The reported ``score`` and ``se`` are always the plain (unadjusted) ones; only the
    interval uses the adjusted counts. Because that interval is centred on the adjusted score, in
    rare cases (a single response, or a low confidence level with every response in one
    category) it would exclude the observed score; cxloop then extends it to reach the observed
    score, so a score is never displayed outside its own interval. This only widens the interval.

Both intervals are truncated to [-100, 100].

Two-sample test
---------------
:func:`nps_difference` uses the same pseudo-observations in each sample by default (Lewis & Sauro
2021); the plain Wald z test is available as ``method="wald"``.

References
----------
.. [1] Rocks, B. (2016). Interval estimation for the "Net Promoter Score". *The American
   Statistician*, 70(4), 365-372.
.. [2] Rocks, B. R package ``NPS`` (CRAN), ``nps_var`` / ``nps_test``: variance
   ``(p + d) - (p - d)^2`` and ``pseudo_observations = c(0.75, 1.5, 0.75)``.
.. [3] Agresti, A. & Coull, B. A. (1998). Approximate is better than "exact" for interval
   estimation of binomial proportions. *The American Statistician*, 52(2), 119-126.
.. [4] Agresti, A. & Caffo, B. (2000). Simple and effective confidence intervals for proportions
   and differences of proportions result from adding two successes and two failures. *The
   American Statistician*, 54(4), 280-288.
.. [5] Lewis, J. R. & Sauro, J. (2021). Evaluating NPS confidence intervals with real-world data;
   How to statistically compare two Net Promoter Scores. MeasuringU. (Adjusted-Wald interval and
   two-sample test: add 3 to n and 3/4 to promoters and to detractors.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cxloop.stats._results import (
    Number,
    ResultMixin,
    as_float_array,
    check_confidence,
    output,
    two_sided_normal_p,
    z_critical,
)

__all__ = [
    "ADJUSTED_WALD_PSEUDO_COUNTS",
    "NPSDifference",
    "NPSMethod",
    "NPSResult",
    "nps",
    "nps_difference",
]

NPSMethod = Literal["wald", "adjusted_wald"]

#: Pseudo-observations (detractors, passives, promoters) added by the adjusted Wald interval
#: (Rocks 2016; the R package ``NPS`` default).
ADJUSTED_WALD_PSEUDO_COUNTS: tuple[float, float, float] = (0.75, 1.5, 0.75)

_METHOD_NAMES = {"wald": "Wald", "adjusted_wald": "adjusted Wald"}


@dataclass(frozen=True)
class NPSResult(ResultMixin):
    """Net Promoter Score of one cell or of many cells at once.

    Attributes
    ----------
    score : float or ndarray
        NPS on the -100..100 scale; NaN where ``n`` is 0.
    se : float or ndarray
        Standard error of ``score`` from the trinomial variance (same scale); 0 when every response
        is in one category.
    ci_low, ci_high : float or ndarray
        Confidence interval from ``method``, truncated to [-100, 100]; always contains ``score``.
    n : float or ndarray
        Number of responses (``detractors + passives + promoters``).
    detractors, passives, promoters : float or ndarray
        The counts the result was computed from.
    confidence : float
        Confidence level of the interval.
    method : {"wald", "adjusted_wald"}
        How the interval was built.
    """

    score: Number
    se: Number
    ci_low: Number
    ci_high: Number
    n: Number
    detractors: Number
    passives: Number
    promoters: Number
    confidence: float
    method: str

    @property
    def _title(self) -> str:
        return f"Net Promoter Score ({_METHOD_NAMES[self.method]} {self.confidence:.0%} interval)"


@dataclass(frozen=True)
class NPSDifference(ResultMixin):
    """Difference ``a - b`` between two Net Promoter Scores, with a two-sided z test.

    Attributes
    ----------
    difference : float or ndarray
        ``score_a - score_b`` on the -200..200 scale.
    se : float or ndarray
        Standard error of the difference used by the test.
    z : float or ndarray
        Test statistic; +/-inf when the standard error is 0 and the scores differ, 0 when both are 0.
    p_value : float or ndarray
        Two-sided p-value of H0: NPS_a = NPS_b.
    ci_low, ci_high : float or ndarray
        Confidence interval of the difference, truncated to [-200, 200]; always contains
        ``difference``.
    score_a, score_b, n_a, n_b : float or ndarray
        The two scores and their response counts.
    confidence : float
        Confidence level of the interval.
    method : {"wald", "adjusted_wald"}
        How the standard error was estimated.
    """

    difference: Number
    se: Number
    z: Number
    p_value: Number
    ci_low: Number
    ci_high: Number
    score_a: Number
    score_b: Number
    n_a: Number
    n_b: Number
    confidence: float
    method: str

    @property
    def _title(self) -> str:
        return f"NPS difference a - b ({_METHOD_NAMES[self.method]} z test, {self.confidence:.0%} interval)"


def _check_method(method: str) -> None:
    if method not in _METHOD_NAMES:
        raise ValueError(f"method must be one of {sorted(_METHOD_NAMES)}, got {method!r}")


def _shares_and_variance(
    detractors: NDArray[np.float64],
    promoters: NDArray[np.float64],
    n: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean (on -1..1) and per-response variance of the trinomial; NaN where n is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, promoters / n, np.nan)
        d = np.where(n > 0, detractors / n, np.nan)
    mean = p - d
    # Clip tiny negative values from rounding when p + d == 1 and |p - d| == 1.
    variance = np.maximum((p + d) - mean**2, 0.0)
    return mean, variance


def _adjusted(
    detractors: NDArray[np.float64], passives: NDArray[np.float64], promoters: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Adjusted mean (-1..1) and standard error (-1..1 scale) after adding Rocks' pseudo-counts."""
    add_d, add_pa, add_pr = ADJUSTED_WALD_PSEUDO_COUNTS
    n_adj = detractors + passives + promoters + add_d + add_pa + add_pr
    mean, variance = _shares_and_variance(detractors + add_d, promoters + add_pr, n_adj)
    return mean, np.sqrt(variance / n_adj)


def nps(
    detractors: ArrayLike,
    passives: ArrayLike,
    promoters: ArrayLike,
    confidence: float = 0.95,
    method: NPSMethod = "adjusted_wald",
) -> NPSResult:
    """Net Promoter Score with its standard error and confidence interval.

    Parameters
    ----------
    detractors, passives, promoters : array_like
        Counts of responses 0-6, 7-8 and 9-10 on the 0-10 likelihood-to-recommend scale.
        Scalars or arrays broadcast against each other (one element per cell). Non-integer values
        are accepted as frequency weights. NaN marks a missing cell.
    confidence : float, default 0.95
        Confidence level of the interval.
    method : {"adjusted_wald", "wald"}, default "adjusted_wald"
        Interval method; see the module docstring. Adjusted Wald is the default because it has the
        best coverage in Rocks (2016) and never collapses to a point.

    Returns
    -------
    NPSResult
        ``score``, ``se``, ``ci_low``, ``ci_high`` on the -100..100 scale, and ``n``. Where ``n`` is
        0 the estimate, error and interval are NaN (no exception).

    Raises
    ------
    ValueError
        If a count is negative, ``confidence`` is outside (0, 1) or ``method`` is unknown.

    Notes
    -----
    ``se = 100 * sqrt(((p + d) - (p - d)^2) / n)`` with ``p``, ``d`` the promoter and detractor
    shares (multinomial variance of the difference of two shares from one sample; Rocks 2016).

    References
    ----------
    Rocks, B. (2016). Interval estimation for the "Net Promoter Score". *The American
    Statistician*, 70(4), 365-372.

    Examples
    --------
    >>> r = nps(detractors=20, passives=30, promoters=50, method="wald")
    >>> round(r.score, 1), round(r.se, 2)
    (30.0, 7.81)
    >>> import numpy as np
    >>> nps(np.array([20, 0]), np.array([30, 0]), np.array([50, 0])).n
    array([100.,   0.])
    """
    check_confidence(confidence)
    _check_method(method)
    d = as_float_array(detractors, "detractors")
    pa = as_float_array(passives, "passives")
    pr = as_float_array(promoters, "promoters")
    d, pa, pr = np.broadcast_arrays(d, pa, pr)
    n = d + pa + pr
    z = z_critical(confidence)

    mean, variance = _shares_and_variance(d, pr, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(n > 0, np.sqrt(variance / n), np.nan)
    if method == "wald":
        centre, half = mean, z * se
    else:
        centre, se_adj = _adjusted(d, pa, pr)
        half = z * se_adj
        centre = np.where(n > 0, centre, np.nan)
    # The adjusted interval is centred on the adjusted estimate; at tiny n or low confidence it can
    # miss the observed score (n = 1 promoter: 95% interval -48.5..98.5). Stretch it to include
    # the observed score so no cell is shown outside its own interval (coverage can only rise).
    low = np.clip(np.minimum(centre - half, mean), -1.0, 1.0)
    high = np.clip(np.maximum(centre + half, mean), -1.0, 1.0)
    return NPSResult(
        score=output(100.0 * mean),
        se=output(100.0 * se),
        ci_low=output(100.0 * low),
        ci_high=output(100.0 * high),
        n=output(n),
        detractors=output(d),
        passives=output(pa),
        promoters=output(pr),
        confidence=float(confidence),
        method=method,
    )


def nps_difference(
    a: NPSResult,
    b: NPSResult,
    confidence: float | None = None,
    method: NPSMethod = "adjusted_wald",
) -> NPSDifference:
    """Two-sample z test of ``NPS_a - NPS_b`` for independent samples.

    Parameters
    ----------
    a, b : NPSResult
        Results of :func:`nps` (their arrays broadcast: compare every branch with its region by
        passing one array of branches and one array of the matching regions). Only their counts are
        used, so the interval method they were computed with does not matter.
    confidence : float, optional
        Confidence level of the interval of the difference; defaults to ``a.confidence``.
    method : {"adjusted_wald", "wald"}, default "adjusted_wald"
        ``"adjusted_wald"`` (Lewis & Sauro 2021): add Rocks' pseudo-observations (3/4 detractor,
        3/2 passive, 3/4 promoter) to each sample, then ``z = (NPS'_a - NPS'_b) / sqrt(v'_a / n'_a +
        v'_b / n'_b)`` from the adjusted shares and ``n' = n + 3``; the interval of the difference is
        centred on ``NPS'_a - NPS'_b``. The analogue of Agresti & Caffo (2000) for two proportions;
        it never has a zero standard error, so small cells where everyone is a promoter do not
        produce infinite z statistics. Lewis & Sauro found it accurate on real NPS data, and it
        matches the interval :func:`nps` reports by default.
        ``"wald"``: the difference of the observed scores over the unpooled standard error
        ``sqrt(se_a^2 + se_b^2)`` (the test of Rocks' R package ``NPS::nps_test``).

    Returns
    -------
    NPSDifference
        ``difference`` (always the observed ``score_a - score_b``), ``se``, ``z``, ``p_value``
        (two-sided) and the interval. NaN where either sample is empty.

    Notes
    -----
    The samples must be independent (e.g. a branch against *the rest* of its region). Testing a
    branch against a region that contains it overlaps the samples and makes the test conservative.
    Apply :func:`cxloop.stats.benjamini_hochberg` to the p-values when many comparisons are made.

    References
    ----------
    Rocks, B. (2016). Interval estimation for the "Net Promoter Score". *The American
    Statistician*, 70(4), 365-372.
    Lewis, J. R. & Sauro, J. (2021). How to statistically compare two Net Promoter Scores;
    Evaluating NPS significance tests with real-world data. MeasuringU.
    Agresti, A. & Caffo, B. (2000). Simple and effective confidence intervals for proportions and
    differences of proportions. *The American Statistician*, 54(4), 280-288.
    """
    if confidence is None:
        confidence = a.confidence
    check_confidence(confidence)
    _check_method(method)
    zc = z_critical(confidence)
    score_a = np.asarray(a.score, dtype=np.float64)
    score_b = np.asarray(b.score, dtype=np.float64)
    difference = score_a - score_b
    if method == "wald":
        centre = difference / 100.0
        se = np.hypot(np.asarray(a.se, dtype=np.float64), np.asarray(b.se, dtype=np.float64)) / 100.0
    else:
        mean_a, se_a = _adjusted(
            *(np.asarray(x, dtype=np.float64) for x in (a.detractors, a.passives, a.promoters))
        )
        mean_b, se_b = _adjusted(
            *(np.asarray(x, dtype=np.float64) for x in (b.detractors, b.passives, b.promoters))
        )
        centre = mean_a - mean_b
        se = np.hypot(se_a, se_b)
        empty = np.isnan(difference)
        centre = np.where(empty, np.nan, centre)
        se = np.where(empty, np.nan, se)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, centre / se, np.where(centre == 0, 0.0, np.sign(centre) * np.inf))
    z = np.where(np.isnan(centre) | np.isnan(se), np.nan, z)
    p_value = two_sided_normal_p(z)
    observed = difference / 100.0
    low = np.clip(np.minimum(centre - zc * se, observed), -2.0, 2.0)
    high = np.clip(np.maximum(centre + zc * se, observed), -2.0, 2.0)
    return NPSDifference(
        difference=output(difference),
        se=output(100.0 * se),
        z=output(z),
        p_value=output(p_value),
        ci_low=output(100.0 * low),
        ci_high=output(100.0 * high),
        score_a=output(score_a),
        score_b=output(score_b),
        n_a=output(np.asarray(a.n, dtype=np.float64)),
        n_b=output(np.asarray(b.n, dtype=np.float64)),
        confidence=float(confidence),
        method=method,
    )
