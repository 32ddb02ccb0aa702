"""What a kind of alert rule is: a name, a parameter check and an evaluator over stored responses.

A kind checks its JSON parameters (:attr:`RuleKind.validate`, raising :class:`RuleError`) and turns a batch
of stored responses (:class:`ResponseFacts`) into :class:`Match` es, one per subject that needs a case. Every
kind is listed in :data:`cxloop.services.act.rules.kinds.KINDS`; this module holds only the contract and
the small helpers the kinds share, so a kind's module imports nothing of the rule engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ibis.backends import BaseBackend
from sqlalchemy.orm import Session

from cxloop.warehouse.schemas import RESPONSES

__all__ = [
    "RESPONSE_FIELDS",
    "EvaluationContext",
    "Evaluator",
    "Match",
    "ResponseFacts",
    "RuleError",
    "RuleKind",
    "Validator",
    "number_param",
    "response_match",
]

#: The stored response fields a rule reads: the ``responses`` table's columns, from its one definition.
RESPONSE_FIELDS: tuple[str, ...] = tuple(RESPONSES.schema.names)


class RuleError(ValueError):
    """A rule cannot be saved as asked (unknown kind, bad parameter, duplicate name); the message says why."""


@dataclass(frozen=True)
class ResponseFacts:
    """A stored response as rules see it (the warehouse's ``responses`` row)."""

    response_id: str
    submitted_at: datetime | None
    unit_id: str
    customer_id: str | None = None
    survey_id: str | None = None
    touchpoint: str | None = None
    channel: str | None = None
    segment: str | None = None
    nps: float | None = None
    csat: float | None = None
    ces: float | None = None
    comment: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ResponseFacts:
        values: dict[str, Any] = {name: row.get(name) for name in RESPONSE_FIELDS}
        for score in ("nps", "csat", "ces"):
            value = values[score]
            values[score] = (
                None if value is None or (isinstance(value, float) and math.isnan(value)) else value
            )
        return cls(**values)

    def summary(self) -> dict[str, Any]:
        """JSON-safe copy kept on the case (what the customer said, as it was when the case opened)."""
        data = {name: getattr(self, name) for name in RESPONSE_FIELDS}
        if self.submitted_at is not None:
            data["submitted_at"] = self.submitted_at.isoformat()
        return data


@dataclass(frozen=True)
class Match:
    """Something that needs a case; ``subject`` is unique per rule (a response, or a unit and period)."""

    subject: str
    unit_id: str
    title: str
    response_id: str | None = None
    customer_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    open_once: str | None = None
    """A subject prefix: while a case of this rule whose subject starts with it is not closed, no new case
    opens (a unit whose score stays down keeps its one case rather than one per period)."""


@dataclass(frozen=True)
class EvaluationContext:
    """What an evaluator may read besides the responses: the app DB, the warehouse, the time, the settings."""

    session: Session
    con: BaseBackend | None
    now: datetime
    confidence: float = 0.95
    min_n: int = 5


Evaluator = Callable[[Mapping[str, Any], Sequence[ResponseFacts], EvaluationContext], list[Match]]
Validator = Callable[[Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class RuleKind:
    """A kind of rule: ``validate`` normalises the parameters (raising :class:`RuleError`), ``evaluate``
    matches stored responses."""

    name: str
    description: str
    validate: Validator
    evaluate: Evaluator
    example: Mapping[str, Any] = field(default_factory=dict)


def number_param(params: Mapping[str, Any], name: str, default: float, low: float, high: float) -> float:
    """Parameter ``name`` (``default`` when absent) as a float from ``low`` to ``high``.

    Raises :class:`RuleError` saying what is allowed when it is not a number in that range.
    """
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise RuleError(f"{name} must be a number from {low:g} to {high:g}, not {value!r}")
    return float(value)


def response_match(response: ResponseFacts, why: str, extra: Mapping[str, Any] | None = None) -> Match:
    """The match of one response: its subject is the response, its details say why and what was said."""
    return Match(
        subject=f"response:{response.response_id}",
        unit_id=response.unit_id,
        title=why,
        response_id=response.response_id,
        customer_id=response.customer_id,
        details={"why": why, **(extra or {}), "response": response.summary()},
    )
