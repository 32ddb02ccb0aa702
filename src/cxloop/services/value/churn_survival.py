"""The survival view of churn: Kaplan-Meier retention by NPS class and segment, Cox hazard ratios."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from cxloop.services.access.scope import Viewer, visible_units
from cxloop.services.stores import Stores
from cxloop.stats.churn import cox_model, kaplan_meier
from cxloop.warehouse.queries.churn_features import (
    DEFAULT_GROUPS,
    as_timestamp,
    build_features,
    churn_labels,
    data_end,
)

__all__ = ["SurvivalView", "survival_view"]

Progress = Callable[[str, int, int], None]


def _noop(_step: str, _done: int, _total: int) -> None:
    return None


def _month_start(day: datetime) -> datetime:
    return datetime(day.year, day.month, 1)


def _add_months(day: datetime, months: int) -> datetime:
    index = day.year * 12 + day.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1)


# --- survival view --------------------------------------------------------------------------------------


def _nps_class(nps: pd.Series) -> pd.Series:
    return pd.Series(
        np.select([nps <= 6, nps <= 8, nps <= 10], ["detractor", "passive", "promoter"], default="no answer"),
        index=nps.index,
    ).where(nps.notna(), "no answer")


@dataclass(frozen=True)
class SurvivalView:
    kaplan_meier_nps: pd.DataFrame
    kaplan_meier_segment: pd.DataFrame
    cox: pd.DataFrame
    cox_summary: str
    rows: int
    churns: int


def survival_view(
    viewer: Viewer,
    *,
    stores: Stores,
    months: int = 12,
    end: date | datetime | str | None = None,
    follow_days: int = 30,
    progress: Progress | None = None,
) -> SurvivalView:
    """Kaplan-Meier retention by NPS class and by segment, and a Cox model of experience on time to churn.

    The data are customer-months: at each of the last ``months`` month starts, every customer at risk
    with their latest NPS class, followed for ``follow_days`` (censored at the end, so the class is the
    one in force). Cox: NPS-class dummies (promoter = reference) stratified by segment, with standard
    errors clustered by customer.
    """
    progress = progress or _noop
    session, con = stores.session, stores.warehouse
    units = visible_units(session, viewer)
    stop = as_timestamp(end) if end is not None else data_end(con)
    last = _month_start(stop - timedelta(days=follow_days))
    dates = [_add_months(last, -k) for k in range(months - 1, -1, -1)]
    experience = next(g for g in DEFAULT_GROUPS if g.name == "experience")
    profile = next(g for g in DEFAULT_GROUPS if g.name == "profile")
    frames = []
    for k, day in enumerate(dates):
        built = build_features(con, day, units=units, groups=(profile, experience))
        labels = churn_labels(con, day, horizon_days=follow_days, observed_until=stop, units=units)
        frame = built.frame.merge(labels, on="customer_id")
        # whole days, ties handled by Breslow (Efron, cox_model's default, is more exact but slower here):
        # a few dozen distinct event times keep the Cox fit and its clustered covariance fast on hundreds
        # of thousands of customer-months
        frame["duration"] = np.ceil(frame.duration_days.clip(lower=1e-9, upper=follow_days))
        frame["churn"] = frame.churned
        frames.append(frame[["customer_id", "segment", "nps_latest", "duration", "churn"]])
        progress("survival", k + 1, len(dates))
    data = pd.concat(frames, ignore_index=True)
    data["nps_class"] = _nps_class(data.nps_latest)
    grid = np.arange(0, follow_days + 1, 5)
    km_nps = kaplan_meier(data.duration, data.churn, data.nps_class, at=grid)
    km_segment = kaplan_meier(data.duration, data.churn, data.segment.astype(str), at=grid)
    answered = data[data.nps_class != "no answer"]
    covariates = pd.DataFrame(
        {
            "detractor": (answered.nps_class == "detractor").astype(float),
            "passive": (answered.nps_class == "passive").astype(float),
        }
    )
    cox = cox_model(
        answered.duration.to_numpy(),
        answered.churn.to_numpy(),
        covariates.reset_index(drop=True),
        groups=answered.customer_id.to_numpy(),
        strata=answered.segment.astype(str).to_numpy(),
        ties="breslow",
    )
    return SurvivalView(
        kaplan_meier_nps=km_nps,
        kaplan_meier_segment=km_segment,
        cox=cox.to_frame(),
        cox_summary=cox.summary_text(),
        rows=len(data),
        churns=int(data.churn.sum()),
    )
