"""Pure statistics for CX metrics: numpy/scipy functions on counts and sums, no I/O.

Every function takes per-cell sufficient statistics (counts, sums, sums of squares) as scalars or
numpy arrays, so a whole metrics cube is computed in one call, and returns a frozen result with
``to_frame()`` and ``summary()``. Empty cells give NaN, never an exception.

- NPS: :func:`nps`, :func:`nps_difference` (-100..100 scale; Rocks 2016).
- Shares: :func:`proportion`, :func:`top_box`, :func:`wilson_interval`, :func:`proportion_difference`.
- Means: :func:`mean` (t interval), :func:`mean_difference` (Welch).
- Rating items: :func:`csat`, :func:`ces`, :func:`rating_item`, :func:`response_rate`.
- Many comparisons: :func:`benjamini_hochberg`.

The estimators (``drivers.KeyDriverAnalysis``, ``clv.BetaGeo``, ``clv.GammaGamma``,
``clv.ShiftedBetaGeometric``, ``churn.GradientBoostedChurn``, ``churn.LogisticBaseline``,
``impact.PilotImpact``) share one contract (``_base.Estimator``): keyword hyperparameters that ``__init__``
only stores, ``get_params``/``set_params``, ``fit`` returning ``self``, ``summary()`` as a DataFrame, and
:class:`NotFittedError` when asked for a result before ``fit``.
"""

from cxloop.stats._base import NotFittedError
from cxloop.stats.means import MeanDifference, MeanResult, mean, mean_difference
from cxloop.stats.multiple import MultipleTestResult, benjamini_hochberg
from cxloop.stats.nps import (
    ADJUSTED_WALD_PSEUDO_COUNTS,
    NPSDifference,
    NPSMethod,
    NPSResult,
    nps,
    nps_difference,
)
from cxloop.stats.proportions import (
    ProportionDifference,
    ProportionResult,
    proportion,
    proportion_difference,
    top_box,
    wilson_interval,
)
from cxloop.stats.ratings import (
    CES_EASY_MIN,
    CSAT_SATISFIED_MIN,
    RatingResult,
    ces,
    csat,
    rating_item,
    response_rate,
)

__all__ = [
    "ADJUSTED_WALD_PSEUDO_COUNTS",
    "CES_EASY_MIN",
    "CSAT_SATISFIED_MIN",
    "MeanDifference",
    "MeanResult",
    "MultipleTestResult",
    "NPSDifference",
    "NPSMethod",
    "NPSResult",
    "NotFittedError",
    "ProportionDifference",
    "ProportionResult",
    "RatingResult",
    "benjamini_hochberg",
    "ces",
    "csat",
    "mean",
    "mean_difference",
    "nps",
    "nps_difference",
    "proportion",
    "proportion_difference",
    "rating_item",
    "response_rate",
    "top_box",
    "wilson_interval",
]
