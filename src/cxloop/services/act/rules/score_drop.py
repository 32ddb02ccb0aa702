"""The ``unit_score_drop`` rule kind: a unit whose NPS fell significantly, one case per unit and period."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ibis.backends import BaseBackend

from cxloop.services.act.rules.kind import EvaluationContext, Match, ResponseFacts, RuleKind, number_param
from cxloop.stats import nps, nps_difference

__all__ = ["UNIT_SCORE_DROP"]


def _validate(params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "days": int(number_param(params, "days", 30, 1, 366)),
        "alpha": number_param(params, "alpha", 0.05, 1e-6, 0.5),
        "min_drop": number_param(params, "min_drop", 10, 0, 200),
    }


def _nps_counts(
    con: BaseBackend, units: Sequence[str], start: datetime, end: datetime
) -> dict[str, tuple[int, int, int]]:
    table = con.table("responses")
    naive_start, naive_end = (t.astimezone(UTC).replace(tzinfo=None) for t in (start, end))
    expr = (
        table.filter(
            table.unit_id.isin(list(units)),
            table.nps.notnull(),
            table.submitted_at >= naive_start,
            table.submitted_at < naive_end,
        )
        .group_by("unit_id")
        .aggregate(
            detractors=(table.nps <= 6).cast("int64").sum(),
            passives=((table.nps > 6) & (table.nps < 9)).cast("int64").sum(),
            promoters=(table.nps >= 9).cast("int64").sum(),
        )
    )
    frame = expr.to_pyarrow().to_pylist()
    return {row["unit_id"]: (row["detractors"], row["passives"], row["promoters"]) for row in frame}


def _evaluate(
    params: Mapping[str, Any], responses: Sequence[ResponseFacts], ctx: EvaluationContext
) -> list[Match]:
    """One case per unit and period when the unit's NPS over the last ``days`` is significantly below the
    ``days`` before (adjusted-Wald test of Lewis & Sauro 2021 via :func:`cxloop.stats.nps_difference`)."""
    if ctx.con is None:
        return []
    units = sorted({r.unit_id for r in responses})
    if not units:
        return []
    days = timedelta(days=params["days"])
    current = _nps_counts(ctx.con, units, ctx.now - days, ctx.now + timedelta(seconds=1))
    previous = _nps_counts(ctx.con, units, ctx.now - 2 * days, ctx.now - days)
    bucket = int(ctx.now.timestamp() // days.total_seconds())
    period = datetime.fromtimestamp(bucket * days.total_seconds(), UTC).date().isoformat()
    found = []
    for unit_id in units:
        now_counts, before_counts = current.get(unit_id), previous.get(unit_id)
        if now_counts is None or before_counts is None:
            continue
        if sum(now_counts) < ctx.min_n or sum(before_counts) < ctx.min_n:
            continue
        this = nps(*now_counts, confidence=ctx.confidence)
        last = nps(*before_counts, confidence=ctx.confidence)
        test = nps_difference(this, last)
        if test.p_value < params["alpha"] and test.difference <= -params["min_drop"]:
            why = (
                f"NPS fell from {float(last.score):.0f} to {float(this.score):.0f} "
                f"(p = {float(test.p_value):.3f}, n = {sum(before_counts)} then {sum(now_counts)})"
            )
            found.append(
                Match(
                    subject=f"unit:{unit_id}:{period}",
                    open_once=f"unit:{unit_id}:",
                    unit_id=unit_id,
                    title=why,
                    details={
                        "why": why,
                        "nps_now": float(this.score),
                        "nps_before": float(last.score),
                        "difference": float(test.difference),
                        "ci": [float(test.ci_low), float(test.ci_high)],
                        "p_value": float(test.p_value),
                        "n_now": int(sum(now_counts)),
                        "n_before": int(sum(before_counts)),
                        "days": params["days"],
                    },
                )
            )
    return found


UNIT_SCORE_DROP = RuleKind(
    name="unit_score_drop",
    description=(
        "a unit whose NPS over the last `days` is significantly below the `days` before (p < `alpha`, a "
        "drop of at least `min_drop` points): one case for the unit's owner per period, not per response"
    ),
    validate=_validate,
    evaluate=_evaluate,
    example={"days": 30, "alpha": 0.05, "min_drop": 10},
)
