"""The ``comment_keywords`` rule kind: a comment containing any of the rule's words or phrases."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from cxloop.services.act.rules.kind import (
    EvaluationContext,
    Match,
    ResponseFacts,
    RuleError,
    RuleKind,
    response_match,
)

__all__ = ["COMMENT_KEYWORDS"]


def _validate(params: Mapping[str, Any]) -> dict[str, Any]:
    words = params.get("keywords")
    if isinstance(words, str):
        words = [w.strip() for w in words.split(",")]
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise RuleError(
            'keywords must be a list of words or phrases, e.g. {"keywords": ["fraud", "complaint"]}'
        )
    cleaned = sorted({w.strip().lower() for w in words if w.strip()})
    if not cleaned:
        raise RuleError("keywords must name at least one word or phrase")
    return {"keywords": cleaned}


def _pattern(words: Sequence[str]) -> re.Pattern[str]:
    # Possessive \s++: a phrase's next word never starts with a space, and a comment's long run of spaces
    # is then read once per phrase, not once per split.
    alternatives = "|".join(r"\s++".join(re.escape(part) for part in w.split()) for w in words)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _evaluate(
    params: Mapping[str, Any], responses: Sequence[ResponseFacts], _ctx: EvaluationContext
) -> list[Match]:
    pattern = _pattern(params["keywords"])
    found = []
    for response in responses:
        if not response.comment:
            continue
        hits = sorted({m.group(0).lower() for m in pattern.finditer(response.comment)})
        if hits:
            found.append(response_match(response, f"comment mentions {', '.join(hits)}", {"keywords": hits}))
    return found


COMMENT_KEYWORDS = RuleKind(
    name="comment_keywords",
    description="a comment containing any of `keywords` (whole words or phrases, any case)",
    validate=_validate,
    evaluate=_evaluate,
    example={"keywords": ["complaint", "fraud", "close my account"]},
)
