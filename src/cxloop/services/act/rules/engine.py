"""Alert rules: which responses need a person to act, and opening their cases.

A rule has a *kind* (``nps_at_most``, ``comment_keywords``, ``unit_score_drop``...) and JSON parameters. Kinds
live in a registry (:data:`KINDS`, :func:`register_kind`) so that other capabilities add their own (a
churn-risk kind, a theme kind) without touching this module: a kind checks its parameters and turns a batch
of stored responses into :class:`Match` es. :func:`run_rules` evaluates every active rule on responses just
stored and opens one case per rule and subject (a response, or a unit and period), idempotently.

Example
-------
>>> sorted(KINDS)[:3]
['ces_at_least', 'ces_at_most', 'comment_keywords']
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from ibis.backends import BaseBackend
from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.services.access.scope import Viewer
from cxloop.services.act import cases as case_service
from cxloop.stats import nps, nps_difference
from cxloop.store import audit
from cxloop.store import units as unit_store
from cxloop.store.tables import AlertRule, Role, Segment, Unit, utcnow
from cxloop.warehouse.write.writer import writer_for

__all__ = [
    "KINDS",
    "EvaluationContext",
    "Match",
    "ResponseFacts",
    "RuleError",
    "RuleKind",
    "RuleNotFoundError",
    "create_rule",
    "disable_rule",
    "get_rule",
    "list_rules",
    "load_responses",
    "register_kind",
    "run_rules",
    "update_rule",
]

RESPONSE_FIELDS = (
    "response_id",
    "submitted_at",
    "unit_id",
    "customer_id",
    "survey_id",
    "touchpoint",
    "channel",
    "segment",
    "nps",
    "csat",
    "ces",
    "comment",
)


class RuleError(ValueError):
    """A rule cannot be saved as asked (unknown kind, bad parameter, duplicate name); the message says why."""


class RuleNotFoundError(LookupError):
    def __init__(self, rule: int | str) -> None:
        super().__init__(f"no alert rule {rule!r}; list them with `cxloop cases rules list`")


class NotAllowedError(PermissionError):
    """The viewer's role may not do this (rules are edited by admins)."""


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


KINDS: dict[str, RuleKind] = {}
"""Every registered kind by name."""


def register_kind(kind: RuleKind) -> RuleKind:
    """Add (or replace) a kind of rule; returns it, so it can be used at module level."""
    KINDS[kind.name] = kind
    return kind


def _number(params: Mapping[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = params.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise RuleError(f"{name} must be a number from {low:g} to {high:g}, not {value!r}")
    return float(value)


def _threshold_kind(
    name: str, score: str, compare: str, default: float, low: float, high: float, label: str
) -> RuleKind:
    def validate(params: Mapping[str, Any]) -> dict[str, Any]:
        return {"threshold": _number(params, "threshold", default, low, high)}

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
                found.append(
                    _response_match(response, f"{label} {value:g} ({compare} {threshold:g})", {score: value})
                )
        return found

    word = "at most" if compare == "<=" else "at least"
    return RuleKind(
        name=name,
        description=f"a response whose {label} is {word} `threshold` (default {default:g})",
        validate=validate,
        evaluate=evaluate,
        example={"threshold": default},
    )


def _response_match(response: ResponseFacts, why: str, extra: Mapping[str, Any] | None = None) -> Match:
    return Match(
        subject=f"response:{response.response_id}",
        unit_id=response.unit_id,
        title=why,
        response_id=response.response_id,
        customer_id=response.customer_id,
        details={"why": why, **(extra or {}), "response": response.summary()},
    )


register_kind(_threshold_kind("nps_at_most", "nps", "<=", 6, 0, 10, "NPS"))
register_kind(_threshold_kind("csat_at_most", "csat", "<=", 2, 1, 5, "CSAT"))
register_kind(_threshold_kind("ces_at_most", "ces", "<=", 2, 1, 7, "CES (ease)"))
register_kind(_threshold_kind("ces_at_least", "ces", ">=", 6, 1, 7, "CES"))


def _keyword_validate(params: Mapping[str, Any]) -> dict[str, Any]:
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


def _keyword_pattern(words: Sequence[str]) -> re.Pattern[str]:
    alternatives = "|".join(r"\s+".join(re.escape(part) for part in w.split()) for w in words)
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)", re.IGNORECASE)


def _keyword_evaluate(
    params: Mapping[str, Any], responses: Sequence[ResponseFacts], _ctx: EvaluationContext
) -> list[Match]:
    pattern = _keyword_pattern(params["keywords"])
    found = []
    for response in responses:
        if not response.comment:
            continue
        hits = sorted({m.group(0).lower() for m in pattern.finditer(response.comment)})
        if hits:
            found.append(_response_match(response, f"comment mentions {', '.join(hits)}", {"keywords": hits}))
    return found


register_kind(
    RuleKind(
        name="comment_keywords",
        description="a comment containing any of `keywords` (whole words or phrases, any case)",
        validate=_keyword_validate,
        evaluate=_keyword_evaluate,
        example={"keywords": ["complaint", "fraud", "close my account"]},
    )
)


def _tier_validate(params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "threshold": _number(params, "threshold", 6, 0, 10),
        "max_rank": int(_number(params, "max_rank", 1, 1, 100)),
    }


def _tier_evaluate(
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
            found.append(_response_match(response, why, {"nps": response.nps, "value_rank": rank}))
    return found


register_kind(
    RuleKind(
        name="detractor_in_top_value_tier",
        description=(
            "a detractor (NPS <= `threshold`) whose segment is among the most valuable tiers (the segment's "
            "value rank <= `max_rank`; 1 is the most valuable)"
        ),
        validate=_tier_validate,
        evaluate=_tier_evaluate,
        example={"threshold": 6, "max_rank": 1},
    )
)


def _drop_validate(params: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "days": int(_number(params, "days", 30, 1, 366)),
        "alpha": _number(params, "alpha", 0.05, 1e-6, 0.5),
        "min_drop": _number(params, "min_drop", 10, 0, 200),
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


def _drop_evaluate(
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


register_kind(
    RuleKind(
        name="unit_score_drop",
        description=(
            "a unit whose NPS over the last `days` is significantly below the `days` before (p < `alpha`, a "
            "drop of at least `min_drop` points): one case for the unit's owner per period, not per response"
        ),
        validate=_drop_validate,
        evaluate=_drop_evaluate,
        example={"days": 30, "alpha": 0.05, "min_drop": 10},
    )
)


# --- rules in the app database ------------------------------------------------------------------------


def _require_admin(viewer: Viewer) -> None:
    if viewer.role != Role.admin:
        raise NotAllowedError("only administrators edit alert rules")


def _rule_state(rule: AlertRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "kind": rule.kind,
        "params": rule.params,
        "survey_id": rule.survey_id,
        "unit_id": rule.unit_id,
        "first_contact_hours": rule.first_contact_hours,
        "resolution_hours": rule.resolution_hours,
        "priority": rule.priority,
        "active": rule.active,
    }


def _validated(kind: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
    if kind not in KINDS:
        raise RuleError(f"unknown rule kind {kind!r}; kinds: {', '.join(sorted(KINDS))}")
    if params is not None and not isinstance(params, Mapping):
        raise RuleError("params must be a JSON object")
    return KINDS[kind].validate(dict(params or {}))


def _check_hours(first_contact_hours: float, resolution_hours: float) -> None:
    if not (0 < first_contact_hours <= resolution_hours):
        raise RuleError(
            "SLA hours must be positive and first contact must come no later than resolution "
            f"(got first contact {first_contact_hours:g} h, resolution {resolution_hours:g} h)"
        )


def create_rule(
    session: Session,
    viewer: Viewer,
    *,
    name: str,
    kind: str,
    params: Mapping[str, Any] | None = None,
    survey_id: str | None = None,
    unit_id: str | None = None,
    first_contact_hours: float = 24.0,
    resolution_hours: float = 120.0,
    priority: str = "normal",
    actor: audit.Actor,
    now: datetime | None = None,
) -> AlertRule:
    """Save a new active rule (admins only); audited."""
    _require_admin(viewer)
    name = name.strip()
    if not name:
        raise RuleError("a rule needs a name")
    if session.scalar(select(AlertRule.id).where(AlertRule.name == name)) is not None:
        raise RuleError(f"a rule named {name!r} exists already")
    checked = _validated(kind, params)
    _check_hours(first_contact_hours, resolution_hours)
    if unit_id is not None and session.get(Unit, unit_id) is None:
        raise RuleError(f"unknown unit {unit_id!r}")
    now = now or utcnow()
    rule = AlertRule(
        name=name,
        kind=kind,
        params=checked,
        survey_id=survey_id or None,
        unit_id=unit_id,
        first_contact_hours=float(first_contact_hours),
        resolution_hours=float(resolution_hours),
        priority=priority,
        active=True,
        created_by=actor.label,
        created_at=now,
        updated_at=now,
    )
    session.add(rule)
    session.flush()
    audit.record(
        session,
        entity="rule",
        entity_id=rule.id,
        action="create",
        actor=actor,
        changes=audit.diff({}, _rule_state(rule)),
        at=now,
    )
    return rule


def get_rule(session: Session, rule: int | str) -> AlertRule:
    """A rule by id or by name."""
    found = None
    if isinstance(rule, int) or (isinstance(rule, str) and rule.isdigit()):
        found = session.get(AlertRule, int(rule))
    if found is None:
        found = session.scalar(select(AlertRule).where(AlertRule.name == str(rule)))
    if found is None:
        raise RuleNotFoundError(rule)
    return found


def list_rules(session: Session, *, active_only: bool = False) -> list[AlertRule]:
    stmt = select(AlertRule).order_by(AlertRule.id)
    if active_only:
        stmt = stmt.where(AlertRule.active.is_(True))
    return list(session.scalars(stmt))


def update_rule(
    session: Session,
    viewer: Viewer,
    rule: int | str,
    *,
    actor: audit.Actor,
    now: datetime | None = None,
    **changes: Any,
) -> AlertRule:
    """Change a rule's fields (``params``, SLA hours, ``active``, ``name``...; admins only); audited."""
    _require_admin(viewer)
    found = get_rule(session, rule)
    before = _rule_state(found)
    allowed = set(before)
    unknown = set(changes) - allowed
    if unknown:
        raise RuleError(f"cannot change {', '.join(sorted(unknown))}; fields: {', '.join(sorted(allowed))}")
    kind = changes.get("kind", found.kind)
    if "kind" in changes or "params" in changes:
        changes["params"] = _validated(kind, changes.get("params", found.params))
    if "name" in changes:
        name = str(changes["name"]).strip()
        other = session.scalar(select(AlertRule.id).where(AlertRule.name == name, AlertRule.id != found.id))
        if not name or other is not None:
            raise RuleError(f"the name {name!r} is empty or taken")
        changes["name"] = name
    if changes.get("unit_id") is not None and session.get(Unit, changes["unit_id"]) is None:
        raise RuleError(f"unknown unit {changes['unit_id']!r}")
    _check_hours(
        float(changes.get("first_contact_hours", found.first_contact_hours)),
        float(changes.get("resolution_hours", found.resolution_hours)),
    )
    for name, value in changes.items():
        setattr(found, name, value)
    found.updated_at = now or utcnow()
    session.flush()
    delta = audit.diff(before, _rule_state(found))
    if delta:
        action = "update"
        if set(delta) == {"active"}:
            action = "enable" if found.active else "disable"
        audit.record(
            session, entity="rule", entity_id=found.id, action=action, actor=actor, changes=delta, at=now
        )
    return found


def disable_rule(
    session: Session, viewer: Viewer, rule: int | str, *, actor: audit.Actor, now: datetime | None = None
) -> AlertRule:
    """Stop a rule opening new cases (its cases stay); audited."""
    return update_rule(session, viewer, rule, actor=actor, now=now, active=False)


# --- evaluation ---------------------------------------------------------------------------------------


def load_responses(con: BaseBackend, response_ids: Sequence[str]) -> list[ResponseFacts]:
    """The stored responses with these ids (in chunks, so a large batch stays one query per chunk).

    Read with the ingest layer's key lookup (on DuckDB a semi-join on the ids as Arrow, ~1 ms; an Ibis
    expression cost 20-30 ms per real-time post under load).
    """
    reader = writer_for(con)
    found: list[ResponseFacts] = []
    ids = list(dict.fromkeys(response_ids))
    for start in range(0, len(ids), 5000):
        keys = pa.table({"response_id": pa.array(ids[start : start + 5000], pa.string())})
        rows = reader.stored_rows("responses", ("response_id",), keys).select(list(RESPONSE_FIELDS))
        found.extend(ResponseFacts.from_row(row) for row in rows.to_pylist())
    return found


def _in_rule_scope(
    session: Session, rule: AlertRule, responses: Sequence[ResponseFacts]
) -> list[ResponseFacts]:
    chosen = list(responses)
    if rule.survey_id:
        chosen = [r for r in chosen if r.survey_id == rule.survey_id]
    if rule.unit_id:
        subtree = unit_store.subtree_ids(session, rule.unit_id)
        chosen = [r for r in chosen if r.unit_id in subtree]
    return chosen


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_rules` did: matches found, cases opened (new), and those already open."""

    evaluated: int
    matched: int
    opened: tuple[int, ...]
    existing: int


def run_rules(
    session: Session,
    con: BaseBackend | None,
    responses: Sequence[ResponseFacts],
    *,
    now: datetime | None = None,
    confidence: float = 0.95,
    min_n: int = 5,
    settings: Any = None,
) -> RunResult:
    """Evaluate every active rule on ``responses`` and open a case per new match (one per rule+subject).

    Runs in the caller's transaction; cases, audit rows and outbox notifications commit together.
    """
    now = now or utcnow()
    ctx = EvaluationContext(session=session, con=con, now=now, confidence=confidence, min_n=min_n)
    opened: list[int] = []
    matched = existing = 0
    if not responses:
        return RunResult(0, 0, (), 0)
    for rule in list_rules(session, active_only=True):
        kind = KINDS.get(rule.kind)
        if kind is None:  # a kind from a module not loaded in this process
            continue
        chosen = _in_rule_scope(session, rule, responses)
        if not chosen:
            continue
        for match in kind.evaluate(rule.params, chosen, ctx):
            matched += 1
            case, created = case_service.open_case(session, rule, match, now=now, settings=settings)
            if created:
                opened.append(case.id)
            else:
                existing += 1
    return RunResult(len(responses), matched, tuple(opened), existing)
