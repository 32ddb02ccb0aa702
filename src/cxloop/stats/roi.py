"""Return on a pilot: incremental margin from its measured effects, minus its cost, over its cost.

Month by month over a horizon of ``H`` months, discounted at ``discount_rate`` a year
(monthly factor :math:`(1 + r)^{-t/12}`):

- **retention**: the pilot lowers the monthly churn rate by ``retention_uplift`` (a share, e.g. 0.004 =
  0.4 points), so each month ``retention_uplift x customers`` customers stay who would have left. The
  kept customers add up: each brings ``kept_margin`` a month while it stays, and leaves like the others
  at ``monthly_churn`` a month, so in month ``t`` the kept stock is
  ``kept_t = (1 - monthly_churn) kept_{t-1} + retention_uplift x customers`` and its margin is
  ``kept_margin x (1 - monthly_churn) x kept_{t-1}``. Only the margin earned within the horizon counts:
  a longer horizon lets the kept stock grow (the return of a positive effect rises with the horizon), and
  since that margin comes later than the costs, a higher discount rate lowers it. (Counting each kept
  customer's whole future value in the month it was kept, as this module once did, made the ROI of a pilot
  with running costs only the same ratio at every horizon and rate.) Over an endless horizon the kept
  customers' margin is worth :func:`retained_customer_margin` each, discounted from the month kept;
- **spend**: ``spend_uplift`` extra margin per customer per month, times ``customers``;
- **cost**: ``one_off_cost`` at month 0 plus ``running_cost`` a month.

``roi = (incremental margin - cost) / cost``; the **payback** is the first month at which the cumulative
discounted margin reaches the cumulative cost (NaN if never within the horizon).

The interval comes from simulating the effects from their sampling distributions (normal with the
impact estimate's standard error, independent), so it carries the uncertainty of the impact estimate
through to the ROI and the payback month; the costs and the CLV margin are taken as known.

References
----------
Gupta, S., Lehmann, D. R. & Stuart, J. A. (2004). Valuing customers. *Journal of Marketing Research*
41(1), 7-18 (value of a retention improvement).
Reichheld, F. F. & Sasser, W. E. (1990). Zero defections: quality comes to services. *Harvard Business
Review* 68(5), 105-111.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["ROIResult", "kept_customer_margin", "pilot_roi", "retained_customer_margin", "roi_sensitivity"]


@dataclass(frozen=True)
class ROIResult:
    """ROI of a pilot with its interval (see :func:`pilot_roi`)."""

    incremental_margin: float
    incremental_margin_low: float
    incremental_margin_high: float
    cost: float
    net: float
    roi: float
    roi_low: float
    roi_high: float
    payback_months: float
    payback_low: float
    payback_high: float
    probability_positive: float
    horizon_months: int
    discount_rate: float
    confidence: float

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(self)])

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def summary(self) -> pd.DataFrame:
        """The result as a one-row table (the :meth:`to_frame` row)."""
        return self.to_frame()

    def summary_text(self) -> str:
        """One sentence: ROI with its interval, margin against cost, payback and P(ROI > 0)."""
        level = f"{self.confidence:.0%}"
        payback = (
            "not within the horizon"
            if math.isnan(self.payback_months)
            else f"{self.payback_months:.0f} month" + ("" if self.payback_months == 1 else "s")
        )
        return (
            f"ROI {self.roi:+.0%} ({level} interval {self.roi_low:+.0%} to {self.roi_high:+.0%}) over "
            f"{self.horizon_months} months at {self.discount_rate:.0%} a year: incremental margin "
            f"{self.incremental_margin:,.0f} against cost {self.cost:,.0f}; payback {payback}; "
            f"P(ROI > 0) = {self.probability_positive:.2f}"
        )


def retained_customer_margin(
    monthly_margin: float, monthly_churn: float, discount_rate: float = 0.1
) -> float:
    """Discounted future margin of a kept customer: ``sum_t m (1 - c)^t / (1 + r)^(t/12)`` over t >= 1.

    A stand-in for the CLV service's margin when no CLV model is fitted.
    """
    if not 0.0 <= monthly_churn < 1.0:
        raise ValueError(f"monthly_churn must lie in [0, 1), got {monthly_churn!r}")
    discount = (1.0 + discount_rate) ** (-1.0 / 12.0)
    keep = (1.0 - monthly_churn) * discount
    return float(monthly_margin * keep / (1.0 - keep))


def kept_customer_margin(value: float, monthly_churn: float, discount_rate: float = 0.1) -> float:
    """The monthly margin of a kept customer worth ``value`` in all (the inverse of
    :func:`retained_customer_margin`): ``value x (1 - k) / k`` with ``k = (1 - c)(1 + r)^(-1/12)``."""
    if not 0.0 <= monthly_churn < 1.0:
        raise ValueError(f"monthly_churn must lie in [0, 1), got {monthly_churn!r}")
    keep = (1.0 - monthly_churn) * (1.0 + discount_rate) ** (-1.0 / 12.0)
    return float(value * (1.0 - keep) / keep)


def _flows(
    retention: NDArray[np.float64],
    spend: NDArray[np.float64],
    customers: float,
    kept_margin: float,
    monthly_churn: float,
    one_off_cost: float,
    running_cost: float,
    horizon: int,
    discount_rate: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:
    """Discounted cumulative margin (draws x months) and cumulative cost (months) and total cost."""
    months = np.arange(1, horizon + 1)
    factor = (1.0 + discount_rate) ** (-months / 12.0)
    stay = 1.0 - monthly_churn
    # kept stock at the end of month t-1 per customer kept a month: sum_{j=0}^{t-2} stay^j
    before = months - 1.0
    stock_before = before if monthly_churn == 0 else (1.0 - stay**before) / monthly_churn
    kept = retention[:, None] * customers * kept_margin * stay * stock_before[None, :]
    monthly = (kept + spend[:, None] * customers) * factor[None, :]
    cost = one_off_cost + np.cumsum(running_cost * factor)
    return np.cumsum(monthly, axis=1), cost, float(cost[-1])


def _payback(cum_margin: NDArray[np.float64], cum_cost: NDArray[np.float64]) -> NDArray[np.float64]:
    reached = cum_margin >= cum_cost[None, :]
    first = np.argmax(reached, axis=1).astype(np.float64) + 1.0
    first[~reached.any(axis=1)] = np.nan
    return first


def pilot_roi(
    *,
    customers: float,
    kept_margin: float = 0.0,
    monthly_churn: float = 0.0,
    retention_uplift: float = 0.0,
    retention_uplift_se: float = 0.0,
    spend_uplift: float = 0.0,
    spend_uplift_se: float = 0.0,
    one_off_cost: float = 0.0,
    running_cost: float = 0.0,
    horizon_months: int = 12,
    discount_rate: float = 0.1,
    confidence: float = 0.95,
    n_draws: int = 10_000,
    random_state: int | np.random.Generator | None = 0,
) -> ROIResult:
    """ROI of a pilot with an interval propagated from the impact estimates.

    Parameters
    ----------
    customers : float
        Customers of the units in scope (those the effect applies to).
    kept_margin : float
        Margin a kept customer brings each month it stays (:func:`kept_customer_margin` turns a kept
        customer's whole value, e.g. its CLV, into it).
    monthly_churn : float
        Monthly churn of the kept customers (the units' churn before the pilot): how fast they leave again.
    retention_uplift, retention_uplift_se : float
        Fall of the monthly churn rate caused by the pilot (a share; positive = fewer leave) and its
        standard error.
    spend_uplift, spend_uplift_se : float
        Extra margin per customer per month and its standard error.
    one_off_cost, running_cost : float
        Cost at the start, and a month.
    horizon_months : int
        Months counted: the pilot runs (and costs) for them, and only the margin earned within them counts.
    discount_rate : float
        Annual discount rate.
    confidence : float
        Level of the intervals.
    n_draws : int
        Draws from the effects' sampling distributions.

    Returns
    -------
    ROIResult
    """
    if horizon_months < 1:
        raise ValueError("horizon_months must be at least 1")
    if customers < 0 or one_off_cost < 0 or running_cost < 0:
        raise ValueError("customers and costs must be non-negative")
    if not 0.0 <= monthly_churn < 1.0:
        raise ValueError(f"monthly_churn must lie in [0, 1), got {monthly_churn!r}")
    if one_off_cost + running_cost <= 0:
        raise ValueError("a pilot with no cost has no ROI: give one_off_cost or running_cost")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")
    rng = (
        random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
    )
    retention = np.concatenate(
        [[retention_uplift], retention_uplift + retention_uplift_se * rng.standard_normal(n_draws)]
    )
    spend = np.concatenate([[spend_uplift], spend_uplift + spend_uplift_se * rng.standard_normal(n_draws)])
    cum_margin, cum_cost, cost = _flows(
        retention,
        spend,
        customers,
        kept_margin,
        monthly_churn,
        one_off_cost,
        running_cost,
        horizon_months,
        discount_rate,
    )
    margin = cum_margin[:, -1]
    roi = (margin - cost) / cost
    payback = _payback(cum_margin, cum_cost)
    tail = 100.0 * (1.0 - confidence) / 2.0
    qs = (tail, 100.0 - tail)
    # A payback never reached counts as beyond the horizon (infinite) for its quantiles.
    payback_draws = np.where(np.isnan(payback[1:]), np.inf, payback[1:])
    pay_low, pay_high = np.percentile(payback_draws, qs, method="inverted_cdf")
    return ROIResult(
        incremental_margin=float(margin[0]),
        incremental_margin_low=float(np.percentile(margin[1:], qs[0])),
        incremental_margin_high=float(np.percentile(margin[1:], qs[1])),
        cost=cost,
        net=float(margin[0] - cost),
        roi=float(roi[0]),
        roi_low=float(np.percentile(roi[1:], qs[0])),
        roi_high=float(np.percentile(roi[1:], qs[1])),
        payback_months=float(payback[0]),
        payback_low=float(pay_low) if np.isfinite(pay_low) else float("nan"),
        payback_high=float(pay_high) if np.isfinite(pay_high) else float("nan"),
        probability_positive=float(np.mean(roi[1:] > 0)),
        horizon_months=int(horizon_months),
        discount_rate=float(discount_rate),
        confidence=float(confidence),
    )


def roi_sensitivity(
    *,
    discount_rates: Sequence[float] = (0.0, 0.05, 0.1, 0.15),
    horizons: Sequence[int] = (6, 12, 24, 36),
    **kwargs: float,
) -> pd.DataFrame:
    """ROI (point and interval) for every discount rate x horizon; other arguments as :func:`pilot_roi`."""
    rows = []
    for rate in discount_rates:
        for horizon in horizons:
            result = pilot_roi(discount_rate=rate, horizon_months=int(horizon), **kwargs)  # type: ignore[arg-type]
            rows.append(
                {
                    "discount_rate": rate,
                    "horizon_months": int(horizon),
                    "roi": result.roi,
                    "net": result.net,
                    "roi_low": result.roi_low,
                    "roi_high": result.roi_high,
                    "payback_months": result.payback_months,
                }
            )
    return pd.DataFrame(rows)
