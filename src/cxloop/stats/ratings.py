"""CSAT, CES and any rating item: mean with a t interval and a top-box share with a Wilson interval.

Each takes the per-cell sufficient statistics the warehouse computes:

``n``
    responses to the item,
``satisfied`` / ``easy`` / ``top``
    responses at or above the item's threshold,
``total``, ``total_sq``
    sum and sum of squares of the responses.

Conventions (what the warehouse should count; cxloop reports them alongside every number):

- CSAT on a 1-5 scale: *satisfied* = top-2-box = responses of 4 or 5 (:data:`CSAT_SATISFIED_MIN`).
- CES on the 1-7 agreement scale ("The company made it easy for me to handle my issue", CES 2.0):
  *easy* = responses of 5 or more, i.e. "somewhat agree" and above (:data:`CES_EASY_MIN`).
  The mean is the headline CES (higher = easier).

References
----------
.. [1] Dixon, M., Freeman, K. & Toman, N. (2010). Stop trying to delight your customers. *Harvard
   Business Review*, 88(7/8), 116-122 (the Customer Effort Score).
.. [2] Wilson, E. B. (1927). *JASA*, 22(158), 209-212 (share interval, see
   :mod:`cxloop.stats.proportions`).
.. [3] Student (1908). *Biometrika*, 6(1), 1-25 (mean interval, see :mod:`cxloop.stats.means`).
"""

from __future__ import annotations

from dataclasses import dataclass

from numpy.typing import ArrayLike

from cxloop.stats._results import Number, ResultMixin
from cxloop.stats.means import MeanResult, mean
from cxloop.stats.proportions import ProportionResult, proportion

__all__ = [
    "CES_EASY_MIN",
    "CSAT_SATISFIED_MIN",
    "RatingResult",
    "ces",
    "csat",
    "rating_item",
    "response_rate",
]

#: Lowest response counted as satisfied on the 1-5 CSAT scale (top-2-box: 4 and 5).
CSAT_SATISFIED_MIN = 4
#: Lowest response counted as easy on the 1-7 CES scale (5 = "somewhat agree").
CES_EASY_MIN = 5


@dataclass(frozen=True)
class RatingResult(ResultMixin):
    """A rating item summarised two ways: its mean and its top-box share.

    Attributes
    ----------
    metric : str
        ``"CSAT"``, ``"CES"`` or ``"rating"``.
    mean : MeanResult
        Mean with Student's t interval.
    top_box : ProportionResult
        Share at or above the threshold (satisfied, easy, top box) with its Wilson interval.
    n : float or ndarray
        Number of responses.
    """

    metric: str
    mean: MeanResult
    top_box: ProportionResult
    n: Number

    @property
    def _title(self) -> str:
        conf = self.mean.confidence
        return f"{self.metric}: mean (t {conf:.0%} interval) and top-box share (Wilson {conf:.0%} interval)"

    def _columns(self) -> dict[str, object]:
        m, s = self.mean, self.top_box
        return {
            "metric": self.metric,
            "n": self.n,
            "mean": m.mean,
            "mean_se": m.se,
            "mean_ci_low": m.ci_low,
            "mean_ci_high": m.ci_high,
            "share": s.share,
            "share_se": s.se,
            "share_ci_low": s.ci_low,
            "share_ci_high": s.ci_high,
            "confidence": m.confidence,
        }


def rating_item(
    n: ArrayLike,
    top: ArrayLike,
    total: ArrayLike,
    total_sq: ArrayLike,
    confidence: float = 0.95,
    *,
    metric: str = "rating",
) -> RatingResult:
    """Mean and top-box share of any rating item from its sufficient statistics.

    Parameters
    ----------
    n : array_like
        Responses per cell.
    top : array_like
        Responses in the top box(es).
    total, total_sq : array_like
        Sum and sum of squares of the responses.
    confidence : float, default 0.95
        Confidence level of both intervals.
    metric : str, default "rating"
        Label carried by the result.

    Returns
    -------
    RatingResult
        NaN estimates and intervals where ``n`` is 0 (and a NaN mean interval where ``n`` is 1).

    References
    ----------
    Student (1908) for the mean; Wilson (1927) and Newcombe (1998) for the share.
    """
    mean_result: MeanResult = mean(n, total, total_sq, confidence)
    share: ProportionResult = proportion(top, n, confidence)
    return RatingResult(metric=metric, mean=mean_result, top_box=share, n=share.n)


def csat(
    n: ArrayLike, satisfied: ArrayLike, total: ArrayLike, total_sq: ArrayLike, confidence: float = 0.95
) -> RatingResult:
    """Customer satisfaction: top-2-box share (Wilson interval) and mean (t interval).

    Parameters
    ----------
    n : array_like
        CSAT responses per cell.
    satisfied : array_like
        Responses of 4 or 5 on the 1-5 scale (top-2-box; see :data:`CSAT_SATISFIED_MIN`).
    total, total_sq : array_like
        Sum and sum of squares of the responses.
    confidence : float, default 0.95
        Confidence level.

    Returns
    -------
    RatingResult
        ``metric == "CSAT"``; ``top_box.share`` is the CSAT score (0..1), ``mean.mean`` the mean.

    Examples
    --------
    Ten responses 5, 5, 5, 4, 4, 4, 4, 3, 2, 1 (seven of 4 or 5, sum 37, sum of squares 153):

    >>> r = csat(n=10, satisfied=7, total=37, total_sq=153)
    >>> round(r.top_box.share, 2), round(r.top_box.ci_low, 3), round(r.mean.mean, 1)
    (0.7, 0.397, 3.7)
    """
    return rating_item(n, satisfied, total, total_sq, confidence, metric="CSAT")


def ces(
    n: ArrayLike, easy: ArrayLike, total: ArrayLike, total_sq: ArrayLike, confidence: float = 0.95
) -> RatingResult:
    """Customer Effort Score: mean (t interval) and share "easy" (Wilson interval).

    Parameters
    ----------
    n : array_like
        CES responses per cell (1-7 agreement scale, higher = easier).
    easy : array_like
        Responses of 5 or more ("somewhat agree" and above; see :data:`CES_EASY_MIN`).
    total, total_sq : array_like
        Sum and sum of squares of the responses.
    confidence : float, default 0.95
        Confidence level.

    Returns
    -------
    RatingResult
        ``metric == "CES"``; ``mean.mean`` is the CES, ``top_box.share`` the share easy (0..1).

    References
    ----------
    Dixon, M., Freeman, K. & Toman, N. (2010). Stop trying to delight your customers. *Harvard
    Business Review*, 88(7/8), 116-122.
    """
    return rating_item(n, easy, total, total_sq, confidence, metric="CES")


def response_rate(responses: ArrayLike, invited: ArrayLike, confidence: float = 0.95) -> ProportionResult:
    """Share of invited customers who responded, with its Wilson interval.

    Parameters
    ----------
    responses, invited : array_like
        Responses received and invitations sent per cell (``responses <= invited``).
    confidence : float, default 0.95
        Confidence level.
    """
    return proportion(responses, invited, confidence)
