"""Themes as alert-rule conditions: the ``theme`` rule kind.

A rule of kind ``theme`` opens a case for a response whose comment carries one of ``themes`` (names in the
programme's codebook; a parent theme matches its children), optionally only when what the customer said
about it is negative (``negative_only``: the mean VADER compound of the sentences carrying the theme below
``sentiment_below``, default -0.05).

Rules run on responses just stored, before the batch tagging (``cxloop text tag``) has seen them, so the
evaluator tags the batch's comments itself with the codebook of the app database
(:func:`cxloop.text.tag_comments`, the same matcher as the stored tags): a case opens in real time, and
agrees with the tags written later. Without a codebook the kind matches nothing.

Listed with every other kind in :data:`cxloop.services.act.rules.kinds.KINDS`.

Example
-------
``cxloop cases rules add fees-angry --kind theme --params '{"themes": ["high_fees"], "negative_only": true}'``
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from cxloop.services.act.rules.kind import EvaluationContext, Match, ResponseFacts, RuleError, RuleKind
from cxloop.services.understand.themes import NoCodebookError, load_codebook
from cxloop.text import tag_comments

__all__ = ["THEME"]

NEGATIVE = -0.05
_NAME = "theme"


def _validate(params: Mapping[str, Any]) -> dict[str, Any]:
    themes = params.get("themes", params.get("theme"))
    if isinstance(themes, str):
        themes = [t.strip() for t in themes.split(",")]
    if not isinstance(themes, list) or not all(isinstance(t, str) for t in themes):
        raise RuleError('themes must be a list of theme names, e.g. {"themes": ["high_fees", "long_wait"]}')
    cleaned = sorted({t.strip() for t in themes if t.strip()})
    if not cleaned:
        raise RuleError("themes must name at least one theme of the codebook (`cxloop text themes list`)")
    negative = params.get("negative_only", False)
    if not isinstance(negative, bool):
        raise RuleError("negative_only must be true or false")
    below = params.get("sentiment_below", NEGATIVE)
    if isinstance(below, bool) or not isinstance(below, (int, float)) or not -1.0 <= float(below) <= 1.0:
        raise RuleError("sentiment_below must be a number between -1 and 1 (VADER compound)")
    return {"themes": cleaned, "negative_only": negative, "sentiment_below": float(below)}


def _evaluate(
    params: Mapping[str, Any], responses: Sequence[ResponseFacts], ctx: EvaluationContext
) -> list[Match]:
    with_text = [r for r in responses if r.comment and r.comment.strip()]
    if not with_text:
        return []
    try:
        codebook = load_codebook(ctx.session)
    except NoCodebookError:
        return []
    names = list(codebook.names)
    wanted = [names.index(t) for t in params["themes"] if t in names]
    if not wanted:
        return []
    tags = tag_comments([r.comment for r in with_text], codebook)
    matches = []
    for i, response in enumerate(with_text):
        hits = []
        for j in wanted:
            if not tags.presence[i, j]:
                continue
            feeling = float(tags.theme_sentiment[i, j])
            if np.isnan(feeling):
                feeling = float(tags.sentiment[i])
            if params["negative_only"] and not feeling < params["sentiment_below"]:
                continue
            hits.append((names[j], round(feeling, 4)))
        if not hits:
            continue
        themes = ", ".join(name for name, _ in hits)
        why = f"comment about {themes}" + (" (negative)" if params["negative_only"] else "")
        matches.append(
            Match(
                subject=f"response:{response.response_id}",
                unit_id=response.unit_id,
                title=why,
                response_id=response.response_id,
                customer_id=response.customer_id,
                details={
                    "why": why,
                    "themes": [name for name, _ in hits],
                    "sentiment": {name: value for name, value in hits},
                    "codebook_version": codebook.version,
                    "response": response.summary(),
                },
            )
        )
    return matches


THEME = RuleKind(
    name=_NAME,
    description=(
        "a comment carrying any of `themes` (codebook names; a parent matches its children), only when "
        "what it says about the theme is negative if `negative_only` (sentence sentiment below "
        "`sentiment_below`, default -0.05)"
    ),
    validate=_validate,
    evaluate=_evaluate,
    example={"themes": ["high_fees"], "negative_only": True},
)
