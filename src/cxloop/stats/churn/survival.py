"""Survival view of churn: Kaplan-Meier curves by group and a Cox model of experience on time to churn.

Both are thin, validated wrappers over statsmodels' ``SurvfuncRight`` and ``PHReg``, returning plain
tables. Hazard ratios come with Wald intervals; with ``groups`` (customers entering the data more than once,
e.g. one row per customer and scoring month) the standard errors are clustered. Tied event times use
Efron's approximation by default (as R's ``coxph``, lifelines and SAS ``ties=efron``): with durations in
whole weeks or days most events are tied, and Breslow's cruder approximation biases the coefficients,
usually towards zero (on the Rossi recidivism data it misses five of Fox & Weisberg's seven published
``coxph`` estimates in the third significant digit). ``ties="breslow"`` is faster on very many tied rows.

References
----------
Kaplan, E. L. & Meier, P. (1958). Nonparametric estimation from incomplete observations. *JASA* 53(282),
457-481.
Cox, D. R. (1972). Regression models and life-tables. *JRSS B* 34(2), 187-220.
Efron, B. (1977). The efficiency of Cox's likelihood function for censored data. *JASA* 72(359), 557-565.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats as scipy_stats
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight

__all__ = ["CoxResult", "cox_model", "kaplan_meier"]


def _survival_arrays(durations: ArrayLike, events: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=float)
    if t.shape != e.shape or t.ndim != 1 or len(t) == 0:
        raise ValueError("durations and events must be non-empty 1-d arrays of the same length")
    if (t < 0).any() or not np.isfinite(t).all():
        raise ValueError("durations must be finite and non-negative")
    if not np.isin(e, (0.0, 1.0)).all():
        raise ValueError("events must be 0 (censored) or 1 (churned)")
    return t, e


def kaplan_meier(
    durations: ArrayLike, events: ArrayLike, groups: ArrayLike | None = None, *, at: ArrayLike | None = None
) -> pd.DataFrame:
    """Kaplan-Meier retention per group at the times ``at`` (default: every event time).

    Returns columns ``group, time, at_risk, retention, ci_low, ci_high`` (log-log 95% intervals).
    """
    t, e = _survival_arrays(durations, events)
    labels = np.asarray(groups, dtype=object) if groups is not None else np.full(len(t), "all", dtype=object)
    frames = []
    for label in sorted(set(labels.tolist()), key=str):
        mask = labels == label
        fit = SurvfuncRight(t[mask], e[mask])
        times = np.asarray(fit.surv_times)
        surv = np.asarray(fit.surv_prob)
        low, high = _pointwise_ci(fit)
        n_risk = np.asarray(fit.n_risk)
        if at is not None:
            grid = np.asarray(at, dtype=float)
            idx = np.searchsorted(times, grid, side="right") - 1
            valid = idx >= 0
            surv_at = np.where(valid, surv[np.maximum(idx, 0)], 1.0)
            low_at = np.where(valid, low[np.maximum(idx, 0)], 1.0)
            high_at = np.where(valid, high[np.maximum(idx, 0)], 1.0)
            risk_at = np.array([(t[mask] >= g).sum() for g in grid])
            times, surv, low, high, n_risk = grid, surv_at, low_at, high_at, risk_at
        frames.append(
            pd.DataFrame(
                {
                    "group": label,
                    "time": times,
                    "at_risk": n_risk,
                    "retention": surv,
                    "ci_low": low,
                    "ci_high": high,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _pointwise_ci(fit: SurvfuncRight) -> tuple[np.ndarray, np.ndarray]:
    surv = np.asarray(fit.surv_prob)
    se = np.asarray(fit.surv_prob_se)
    z = scipy_stats.norm.ppf(0.975)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(surv)
        se_ll = se / (surv * np.abs(log_s))
        low = np.exp(-np.exp(np.log(-log_s) + z * se_ll))
        high = np.exp(-np.exp(np.log(-log_s) - z * se_ll))
    low = np.where(np.isfinite(low), low, surv)
    high = np.where(np.isfinite(high), high, surv)
    return low, high


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model: hazard ratios with intervals, per covariate."""

    table: pd.DataFrame  # covariate, coef, se, hazard_ratio, ci_low, ci_high, p_value
    n: int
    events: int
    clustered: bool

    def hazard_ratio(self, covariate: str) -> float:
        return float(self.table.set_index("covariate")["hazard_ratio"].loc[covariate])

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def summary(self) -> pd.DataFrame:
        """The hazard-ratio table; ``attrs`` carry ``n``, ``events`` and ``clustered``."""
        table = self.to_frame()
        table.attrs.update(n=self.n, events=self.events, clustered=self.clustered)
        return table

    def summary_text(self) -> str:
        """The hazard ratios with their intervals and p-values, one line per covariate."""
        lines = [
            f"Cox model: {self.n} rows, {self.events} churns" + (" (clustered SE)" if self.clustered else "")
        ]
        for row in self.table.itertuples():
            lines.append(
                f"  {row.covariate:<24} HR {row.hazard_ratio:6.3f}  [{row.ci_low:6.3f}, {row.ci_high:6.3f}]"
                f"  p={row.p_value:.2g}"
            )
        return "\n".join(lines)


def cox_model(
    durations: ArrayLike,
    events: ArrayLike,
    covariates: pd.DataFrame,
    *,
    groups: ArrayLike | None = None,
    strata: ArrayLike | None = None,
    confidence: float = 0.95,
    ties: Literal["efron", "breslow"] = "efron",
) -> CoxResult:
    """Cox proportional hazards of ``covariates`` (numeric columns, e.g. 0/1 NPS-class dummies) on time
    to churn; ``strata`` gives each stratum (e.g. segment) its own baseline hazard; ``ties`` is the
    approximation for tied event times (Efron by default, see the module docstring)."""
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")
    t, e = _survival_arrays(durations, events)
    if not isinstance(covariates, pd.DataFrame) or covariates.shape[0] != len(t) or covariates.shape[1] == 0:
        raise ValueError("covariates must be a DataFrame with one row per duration and at least one column")
    x = covariates.astype(float)
    if x.isna().any().any():
        raise ValueError("covariates must not have missing values")
    model = PHReg(t, x.to_numpy(), status=e, strata=None if strata is None else np.asarray(strata), ties=ties)
    fit = model.fit(groups=None if groups is None else np.asarray(groups))
    coef = np.asarray(fit.params)
    se = np.asarray(fit.bse)
    z = scipy_stats.norm.ppf(0.5 + confidence / 2)
    table = pd.DataFrame(
        {
            "covariate": list(x.columns),
            "coef": coef,
            "se": se,
            "hazard_ratio": np.exp(coef),
            "ci_low": np.exp(coef - z * se),
            "ci_high": np.exp(coef + z * se),
            "p_value": 2 * scipy_stats.norm.sf(np.abs(coef / se)),
        }
    )
    return CoxResult(table=table, n=len(t), events=int(e.sum()), clustered=groups is not None)
