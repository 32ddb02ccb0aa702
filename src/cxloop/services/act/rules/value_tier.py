"""The ``detractor_in_top_value_tier`` rule kind: a detractor from one of the most valuable segments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select

from cxloop.services.act.rules.kind import (
    EvaluationContext,
    Match,
    ResponseFacts,
    RuleKind,
    number_param,
    response_match,
)
from cxloop.store.tables import Segment

__all__ = ["DETRACTOR_IN_TOP_VALUE_TIER"]


def _validate(params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "threshold": number_param(params, "threshold", 6, 0, 10),
        "max_rank": int(number_param(params, "max_rank", 1, 1, 100)),
    }


def _evaluate(
    params: Mapping[str, Any], responses: Sequence[ResponseFacts], ctx: EvaluationContext
) -> list[Match]:
    ranks = {
        segment_id: rank
        for segment_id, rank in ctx.session.execute(
            select(Segment.segment_id, Segment.value_rank).where(Segment.value_rank.is_not(None))
        )
    }
    found = []
    for response in responses:
        rank = ranks.get(response.segment or "")
        if response.nps is None or rank is None:
            continue
        if response.nps <= params["threshold"] and rank <= params["max_rank"]:
            why = f"detractor (NPS {response.nps:g}) in value tier {rank} ({response.segment})"
            found.append(response_match(response, why, {"nps": response.nps, "value_rank": rank}))
    return found


DETRACTOR_IN_TOP_VALUE_TIER = RuleKind(
    name="detractor_in_top_value_tier",
    description=(
        "a detractor (NPS <= `threshold`) whose segment is among the most valuable tiers (the segment's "
        "value rank <= `max_rank`; 1 is the most valuable)"
    ),
    validate=_validate,
    evaluate=_evaluate,
    example={"threshold": 6, "max_rank": 1},
)
