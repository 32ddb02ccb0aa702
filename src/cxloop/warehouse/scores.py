"""The headline scores (NPS, CSAT, CES): their scales and their sufficient statistics as Ibis aggregates.

Shared by the metrics cube (:mod:`cxloop.warehouse.queries.cube`), which sums them per cell, and the
monthly leaf aggregate the writer keeps (:mod:`cxloop.warehouse.derived.responses_monthly`), which stores
them per leaf cell: one definition, so the two always agree.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from cxloop.stats import CES_EASY_MIN, CSAT_SATISFIED_MIN

__all__ = [
    "METRICS",
    "NPS_PASSIVE_MIN",
    "NPS_PROMOTER_MIN",
    "SCALES",
    "STATISTICS",
    "fact_statistics",
    "valid_score",
]

#: Metrics the cube knows.
METRICS: tuple[str, ...] = ("nps", "csat", "ces")
#: Valid answers of each headline score (inclusive); anything else counts as not answered.
SCALES: dict[str, tuple[float, float]] = {"nps": (0.0, 10.0), "csat": (1.0, 5.0), "ces": (1.0, 7.0)}
#: Sufficient-statistics columns of each metric, in output order.
STATISTICS: dict[str, tuple[str, ...]] = {
    "nps": ("nps_n", "nps_detractors", "nps_passives", "nps_promoters"),
    "csat": ("csat_n", "csat_top2", "csat_sum", "csat_sumsq"),
    "ces": ("ces_n", "ces_easy", "ces_sum", "ces_sumsq"),
}

NPS_PASSIVE_MIN = 7.0  # 0-6 detractors
NPS_PROMOTER_MIN = 9.0  # 9-10 promoters


def valid_score(score: ir.FloatingColumn, metric: str) -> ir.BooleanColumn:
    """Whether ``score`` is an answer on ``metric``'s scale (NaN and out-of-range values are not)."""
    low, high = SCALES[metric]
    return (score >= low) & (score <= high)


def fact_statistics(facts: ir.Table, metrics: tuple[str, ...]) -> dict[str, ir.Scalar]:
    """Aggregates of each metric over raw responses (``nps_passives`` is derived later).

    Counts are sums of 0/1 flags and sums skip invalid scores through ``CASE``: on DuckDB that is about
    a fifth faster than ``COUNT(...) FILTER (WHERE ...)`` and it means the same on every engine.
    """
    out: dict[str, ir.Scalar] = {"responses": facts.count()}

    def flag_sum(condition: ir.BooleanColumn) -> ir.Scalar:
        return condition.cast("int32").sum()

    if "nps" in metrics:
        score = facts.nps
        out["nps_n"] = flag_sum(valid_score(score, "nps"))
        out["nps_detractors"] = flag_sum((score >= SCALES["nps"][0]) & (score < NPS_PASSIVE_MIN))
        out["nps_promoters"] = flag_sum((score >= NPS_PROMOTER_MIN) & (score <= SCALES["nps"][1]))
    for metric, top_name, top_min in (
        ("csat", "csat_top2", CSAT_SATISFIED_MIN),
        ("ces", "ces_easy", CES_EASY_MIN),
    ):
        if metric not in metrics:
            continue
        score = facts[metric]
        valid = valid_score(score, metric)
        out[f"{metric}_n"] = flag_sum(valid)
        out[top_name] = flag_sum((score >= top_min) & (score <= SCALES[metric][1]))
        out[f"{metric}_sum"] = valid.ifelse(score, ibis.null()).sum()
        out[f"{metric}_sumsq"] = valid.ifelse(score * score, ibis.null()).sum()
    return out
