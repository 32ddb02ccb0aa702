"""Score-threshold rule kinds: a response whose NPS, CSAT or CES is at most (or at least) a threshold."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cxloop.services.act.rules.kind import (
    EvaluationContext,
    Match,
    ResponseFacts,
    RuleKind,
    number_param,
    response_match,
)

__all__ = ["CES_AT_LEAST", "CES_AT_MOST", "CSAT_AT_MOST", "NPS_AT_MOST", "threshold_kind"]


def threshold_kind(
    name: str, score: str, compare: str, default: float, low: float, high: float, label: str, what: str
) -> RuleKind:
    """A kind matching each response whose ``score`` is ``compare`` (``<=`` or ``>=``) the rule's
    ``threshold`` (``default`` when not given, from ``low`` to ``high``); ``what`` names such a response
    in a case's title."""

    def validate(params: Mapping[str, Any]) -> dict[str, Any]:
        return {"threshold": number_param(params, "threshold", default, low, high)}

    def evaluate(
        params: Mapping[str, Any], responses: Sequence[ResponseFacts], _ctx: EvaluationContext
    ) -> list[Match]:
        threshold = float(params["threshold"])
        found = []
        for response in responses:
            value = getattr(response, score)
            if value is None:
                continue
            if (value <= threshold) if compare == "<=" else (value >= threshold):
                found.append(response_match(response, describe(value, threshold), {score: value}))
        return found

    word = "at most" if compare == "<=" else "at least"

    def describe(value: float, _threshold: float) -> str:
        # what happened, in words: "unhappy customer (NPS 2 of 10)"
        return f"{what} ({label} {value:g} of {high:g})"

    return RuleKind(
        name=name,
        description=f"a response whose {label} is {word} `threshold` (default {default:g})",
        validate=validate,
        evaluate=evaluate,
        example={"threshold": default},
    )


NPS_AT_MOST = threshold_kind("nps_at_most", "nps", "<=", 6, 0, 10, "NPS", "unhappy customer")
CSAT_AT_MOST = threshold_kind("csat_at_most", "csat", "<=", 2, 1, 5, "CSAT", "dissatisfied customer")
CES_AT_MOST = threshold_kind("ces_at_most", "ces", "<=", 2, 1, 7, "CES (ease)", "customer found it hard")
CES_AT_LEAST = threshold_kind("ces_at_least", "ces", ">=", 6, 1, 7, "CES", "customer found it hard")
