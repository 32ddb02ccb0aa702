"""Control groups for pilots: matched automatically on the pre-pilot period, or named by the user.

**Method.** For every unit (treated and candidate) and every target metric, three pre-period features
are computed from the unit x period panel: the **level** (response-weighted mean of the metric before the
start), the **trend** (weighted least-squares slope of the metric on the period index before the start)
and, once per unit, the **size** (log of its responses before the start). Features are standardised by
the candidates' spread and compared by Mahalanobis distance (the covariance of the standardised candidate
features, pseudo-inverted so collinear features cannot break it). Each treated unit in turn, in random
order, takes its ``per_treated`` nearest candidates not yet taken (greedy nearest-neighbour matching
without replacement); the union is the control group. Units without data before the start are never
chosen.

The **balance table** gives each feature's mean in the treated and the control group and the
standardised mean difference ``(mean_t - mean_c) / sqrt((var_t + var_c) / 2)``; an absolute SMD below
0.25 is the usual threshold of acceptable balance (Stuart 2010), below 0.1 good.

References
----------
Rubin, D. B. (1980). Bias reduction using Mahalanobis-metric matching. *Biometrics* 36(2), 293-298.
Stuart, E. A. (2010). Matching methods for causal inference: a review and a look forward. *Statistical
Science* 25(1), 1-21.
Abadie, A., Diamond, A. & Hainmueller, J. (2010). Synthetic control methods for comparative case studies.
*Journal of the American Statistical Association* 105(490), 493-505 (matching on pre-period paths).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "ACCEPTABLE_SMD",
    "ControlSelection",
    "balance_table",
    "pre_period_features",
    "select_controls",
]

ACCEPTABLE_SMD = 0.25  # |standardised mean difference| below this is acceptable balance (Stuart 2010)


def _slope(group: pd.DataFrame, value: str, weight: str) -> float:
    x = group["_t"].to_numpy(float)
    y = group[value].to_numpy(float)
    w = group[weight].to_numpy(float)
    keep = np.isfinite(y) & (w > 0)
    x, y, w = x[keep], y[keep], w[keep]
    if len(x) < 2 or np.ptp(x) == 0:
        return float("nan")
    xm, ym = np.average(x, weights=w), np.average(y, weights=w)
    return float(np.sum(w * (x - xm) * (y - ym)) / np.sum(w * (x - xm) ** 2))


def pre_period_features(
    panel: pd.DataFrame, *, unit: str, period: str, metrics: Sequence[str], weight: str, before: object
) -> pd.DataFrame:
    """Level and trend of each metric and log size per unit, over the periods before ``before``.

    ``panel`` has one row per unit x period with the metric columns and a ``weight`` column (responses).
    Returns one row per unit with data before the start, indexed by unit.
    """
    pre = panel[panel[period] < before].copy()
    if pre.empty:
        return pd.DataFrame(columns=[f"{m}_{f}" for m in metrics for f in ("level", "trend")] + ["log_size"])
    order = {p: i for i, p in enumerate(sorted(pre[period].unique()))}
    pre["_t"] = pre[period].map(order)
    rows = {}
    for unit_id, group in pre.groupby(unit, sort=True):
        row: dict[str, float] = {}
        for m in metrics:
            ok = group[m].notna() & (group[weight] > 0)
            w = group.loc[ok, weight]
            row[f"{m}_level"] = (
                float(np.average(group.loc[ok, m], weights=w)) if w.sum() > 0 else float("nan")
            )
            row[f"{m}_trend"] = _slope(group, m, weight)
        row["log_size"] = float(np.log1p(group[weight].sum()))
        rows[unit_id] = row
    return pd.DataFrame.from_dict(rows, orient="index")


@dataclass(frozen=True)
class ControlSelection:
    """The chosen controls, how they were chosen, and the balance before the pilot."""

    controls: tuple[str, ...]
    method: str
    balance: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.balance

    @property
    def largest_difference(self) -> tuple[str, float] | None:
        """The feature with the largest |SMD| and that |SMD| (None when nothing could be compared)."""
        smd = self.balance["smd"].abs() if len(self.balance) else pd.Series(dtype=float)
        smd = smd[np.isfinite(smd)]
        if smd.empty:
            return None
        worst = smd.idxmax()
        return str(self.balance.loc[worst, "feature"]), float(smd[worst])

    def summary(self) -> str:
        worst = float(self.balance["smd"].abs().max()) if len(self.balance) else float("nan")
        return (
            f"{len(self.controls)} control units ({self.method}); largest |SMD| before the start {worst:.2f}"
        )


def balance_table(features: pd.DataFrame, treated: Sequence[str], controls: Sequence[str]) -> pd.DataFrame:
    """Mean of each feature in the treated and control groups and their standardised mean difference."""
    t = features.loc[[u for u in treated if u in features.index]]
    c = features.loc[[u for u in controls if u in features.index]]
    rows = []
    for column in features.columns:
        mt, mc = float(t[column].mean()), float(c[column].mean())
        vt = float(t[column].var(ddof=1)) if len(t) > 1 else 0.0
        vc = float(c[column].var(ddof=1)) if len(c) > 1 else 0.0
        pooled = np.sqrt((vt + vc) / 2.0)
        smd = (mt - mc) / pooled if pooled > 0 else (0.0 if mt == mc else float("nan"))
        rows.append({"feature": column, "treated_mean": mt, "control_mean": mc, "smd": float(smd)})
    return pd.DataFrame(rows)


def select_controls(
    features: pd.DataFrame,
    treated: Sequence[str],
    *,
    candidates: Sequence[str] | None = None,
    named: Sequence[str] | None = None,
    per_treated: int = 2,
    random_state: int = 0,
) -> ControlSelection:
    """Choose the control group (see the module docstring), or take the ``named`` units as given.

    Parameters
    ----------
    features : DataFrame
        From :func:`pre_period_features`, indexed by unit.
    treated : sequence of str
        The pilot's units.
    candidates : sequence of str, optional
        Units that may serve as controls (default: every unit in ``features`` outside the pilot).
    named : sequence of str, optional
        Controls named by the user: used as they are, only the balance is computed.
    per_treated : int
        Controls matched to each treated unit.
    """
    treated_set = set(treated)
    if named:
        clash = treated_set & set(named)
        if clash:
            raise ValueError(f"unit(s) in the pilot cannot be controls: {', '.join(sorted(clash))}")
        controls = tuple(dict.fromkeys(named))
        return ControlSelection(controls, "named by the user", balance_table(features, treated, controls))
    pool = [u for u in (candidates if candidates is not None else features.index) if u not in treated_set]
    feats = features.dropna(axis=1, how="all")
    pool = [u for u in pool if u in feats.index and feats.loc[u].notna().all()]
    targets = [u for u in treated if u in feats.index]
    if not pool:
        raise ValueError("no candidate control unit has data before the start")
    if not targets:
        raise ValueError("no treated unit has data before the start")
    cand = feats.loc[pool].to_numpy(float)
    centre = np.nanmean(cand, axis=0)
    scale = np.nanstd(cand, axis=0, ddof=1) if len(pool) > 1 else np.ones(cand.shape[1])
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    z_cand = (cand - centre) / scale
    z_treat = (np.nan_to_num(feats.loc[targets].to_numpy(float), nan=0.0) - centre) / scale
    cov = np.cov(z_cand, rowvar=False) if len(pool) > 2 else np.eye(cand.shape[1])
    precision = np.linalg.pinv(np.atleast_2d(cov) + 1e-6 * np.eye(cand.shape[1]))
    taken: list[int] = []
    order = np.random.default_rng(random_state).permutation(len(targets))
    for i in order:
        diff = z_cand - z_treat[i]
        distance = np.einsum("ij,jk,ik->i", diff, precision, diff)
        free = [int(j) for j in np.argsort(distance, kind="stable") if int(j) not in taken]
        taken.extend(free[:per_treated])
    controls = tuple(pool[j] for j in sorted(taken))
    metrics = sorted({c.rsplit("_", 1)[0] for c in feats.columns if c != "log_size"})
    method = (
        f"Mahalanobis nearest neighbours ({per_treated} per treated unit, without replacement) on the "
        f"pre-period level and trend of {', '.join(metrics)} and log responses"
    )
    return ControlSelection(controls, method, balance_table(features, treated, controls))
