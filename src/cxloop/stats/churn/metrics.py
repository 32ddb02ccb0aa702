"""How good a churn score is: ranking (AUC, precision and lift at the top), calibration (Brier, ECE).

Ties matter for rules that score many customers alike (e.g. "detractors first"): the precision at the
top share is the *expected* precision when tied customers at the cut-off are picked at random, so a rule
is not credited or penalised for an arbitrary sort order.

References
----------
Brier, G. W. (1950). Verification of forecasts expressed in terms of probability. *Monthly Weather
Review* 78(1), 1-3.
Naeini, M. P., Cooper, G. F. & Hauskrecht, M. (2015). Obtaining well calibrated probabilities using
Bayesian binning. *AAAI*, 2901-2907 (expected calibration error).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import roc_auc_score

from cxloop.stats.proportions import wilson_interval

__all__ = [
    "ChurnMetrics",
    "calibration_table",
    "evaluate",
    "expected_calibration_error",
    "precision_at_top",
]


def _arrays(y: ArrayLike, score: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y_arr = np.asarray(y, dtype=float)
    s_arr = np.asarray(score, dtype=float)
    if y_arr.shape != s_arr.shape or y_arr.ndim != 1:
        raise ValueError("outcomes and scores must be 1-d arrays of the same length")
    if len(y_arr) == 0:
        raise ValueError("no customers to evaluate")
    if not np.isin(y_arr, (0.0, 1.0)).all():
        raise ValueError("outcomes must be 0 or 1")
    if not np.isfinite(s_arr).all():
        raise ValueError("scores must be finite")
    return y_arr, s_arr


def precision_at_top(y: ArrayLike, score: ArrayLike, share: float = 0.1) -> float:
    """Share of churners among the ``share`` of customers with the highest score (ties at the cut-off
    averaged: the expected precision when tied customers are picked at random)."""
    y_arr, s_arr = _arrays(y, score)
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1], got {share}")
    k = max(1, int(np.ceil(share * len(y_arr))))
    order = np.argsort(-s_arr, kind="stable")
    cut = s_arr[order[k - 1]]
    above = s_arr > cut
    tied = s_arr == cut
    take_tied = k - int(above.sum())
    positives = y_arr[above].sum() + take_tied * y_arr[tied].mean()
    return float(positives / k)


def expected_calibration_error(y: ArrayLike, p: ArrayLike, bins: int = 10) -> float:
    """Size-weighted mean of |observed rate - mean predicted risk| over ``bins`` equal-count bins."""
    table = calibration_table(y, p, bins=bins)
    n = table.customers.to_numpy(float)
    return float(np.sum(n * np.abs(table.observed - table.predicted)) / n.sum())


def calibration_table(y: ArrayLike, p: ArrayLike, bins: int = 10, confidence: float = 0.95) -> pd.DataFrame:
    """Customers in ``bins`` equal-count bins of predicted risk: mean predicted risk, observed churn
    rate and its Wilson interval (the data of a calibration plot)."""
    y_arr, p_arr = _arrays(y, p)
    order = np.argsort(p_arr, kind="stable")
    parts = np.array_split(order, min(bins, len(order)))
    rows = []
    for i, rows_idx in enumerate(parts):
        n = len(rows_idx)
        events = y_arr[rows_idx].sum()
        low, high = wilson_interval(events, n, confidence)
        rows.append(
            {
                "bin": i + 1,
                "customers": n,
                "predicted": float(p_arr[rows_idx].mean()),
                "observed": float(events / n),
                "ci_low": float(low),
                "ci_high": float(high),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ChurnMetrics:
    """Validation figures of one score on one set of customers."""

    n: int
    churners: int
    base_rate: float
    auc: float
    top_decile_precision: float
    lift: float  # top-decile precision / base rate
    brier: float
    ece: float

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)


def evaluate(y: ArrayLike, p: ArrayLike, *, top: float = 0.1, bins: int = 10) -> ChurnMetrics:
    """AUC, precision and lift in the top ``top`` share, Brier score and expected calibration error.

    ``p`` should be a probability for Brier and ECE to mean anything; for a rule (a 0/1 flag) only the
    ranking figures do.
    """
    y_arr, p_arr = _arrays(y, p)
    churners = int(y_arr.sum())
    if churners in (0, len(y_arr)):
        raise ValueError("need both churners and retained customers to evaluate")
    base = churners / len(y_arr)
    precision = precision_at_top(y_arr, p_arr, top)
    return ChurnMetrics(
        n=len(y_arr),
        churners=churners,
        base_rate=base,
        auc=float(roc_auc_score(y_arr, p_arr)),
        top_decile_precision=precision,
        lift=precision / base,
        brier=float(np.mean((p_arr - y_arr) ** 2)),
        ece=expected_calibration_error(y_arr, p_arr, bins),
    )
