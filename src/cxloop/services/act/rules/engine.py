"""Alert rules: which responses need a person to act, and opening their cases.

A rule has a *kind* (``nps_at_most``, ``comment_keywords``, ``unit_score_drop``...; every kind is listed in
:data:`cxloop.services.act.rules.kinds.KINDS`) and JSON parameters the kind checks. Rules are kept in the app
database and edited by admins (:func:`create_rule`, :func:`update_rule`, audited). :func:`run_rules`
evaluates every active rule on responses just stored and opens one case per rule and subject (a response, or
a unit and period), idempotently; :func:`run_on_arrival` is that run as real-time ingestion's after-store
hook. A stored rule whose kind this version does not know (saved by another version) is not evaluated: it is
logged and reported in the run's result, never skipped without a word.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
from ibis.backends import BaseBackend
from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.services.access.scope import Viewer
from cxloop.services.act import cases as case_service
from cxloop.services.act.rules.kind import RESPONSE_FIELDS, EvaluationContext, ResponseFacts, RuleError
from cxloop.services.act.rules.kinds import KINDS
from cxloop.services.listen.arrival import Arrival, ArrivalOutcome
from cxloop.store import audit
from cxloop.store import units as unit_store
from cxloop.store.tables import AlertRule, Role, Unit, utcnow
from cxloop.warehouse.write.writer import writer_for

__all__ = [
    "KINDS",
    "NotAllowedError",
    "RuleError",
    "RuleNotFoundError",
    "RunResult",
    "SkippedRule",
    "create_rule",
    "disable_rule",
    "get_rule",
    "list_rules",
    "load_responses",
    "run_on_arrival",
    "run_rules",
    "update_rule",
]

logger = logging.getLogger(__name__)


class RuleNotFoundError(LookupError):
    def __init__(self, rule: int | str) -> None:
        super().__init__(f"no alert rule {rule!r}; list them with `cxloop cases rules list`")


class NotAllowedError(PermissionError):
    """The viewer's role may not do this (rules are edited by admins)."""


# --- rules in the app database ------------------------------------------------------------------------


def _require_admin(viewer: Viewer) -> None:
    if viewer.role != Role.admin:
        raise NotAllowedError("only administrators edit alert rules")


#: The rule fields an update may set to None: no survey or no unit means every survey or unit.
_CLEARABLE = ("survey_id", "unit_id")


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
    emptied = sorted(name for name, value in changes.items() if value is None and name not in _CLEARABLE)
    if emptied:
        raise RuleError(f"{', '.join(emptied)} cannot be empty (null); only {' and '.join(_CLEARABLE)} can")
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

    Read with the ingest layer's key lookup (on DuckDB a semi-join on the ids as Arrow), much cheaper per
    real-time post than an Ibis expression (measured in docs/architecture.md).
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
class SkippedRule:
    """An active rule that was not evaluated because this version knows no kind of its name."""

    rule_id: int
    name: str
    kind: str

    def message(self) -> str:
        return (
            f"alert rule {self.name!r} (id {self.rule_id}) was not run: unknown kind {self.kind!r} "
            f"(kinds: {', '.join(sorted(KINDS))})"
        )


@dataclass(frozen=True)
class RunResult:
    """What :func:`run_rules` did: matches found, cases opened (new), those already open, and the active rules
    it could not evaluate (``skipped``: their kind is unknown)."""

    evaluated: int
    matched: int
    opened: tuple[int, ...]
    existing: int
    skipped: tuple[SkippedRule, ...] = ()


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

    Runs in the caller's transaction; cases, audit rows and outbox notifications commit together. An active
    rule of an unknown kind is logged as a warning and listed in the result's ``skipped``.
    """
    now = now or utcnow()
    ctx = EvaluationContext(session=session, con=con, now=now, confidence=confidence, min_n=min_n)
    opened: list[int] = []
    skipped: list[SkippedRule] = []
    matched = existing = 0
    if not responses:
        return RunResult(0, 0, (), 0)
    for rule in list_rules(session, active_only=True):
        kind = KINDS.get(rule.kind)
        if kind is None:
            unknown = SkippedRule(rule.id, rule.name, rule.kind)
            logger.warning("%s", unknown.message())
            skipped.append(unknown)
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
    return RunResult(len(responses), matched, tuple(opened), existing, tuple(skipped))


def run_on_arrival(arrival: Arrival) -> ArrivalOutcome:
    """The alert rules as real-time ingestion's after-store hook: every active rule on the posted responses,
    in the arrival's session (committed by the ingestion with the post's record removed); the cases opened,
    and a note per rule that could not run. Idempotent: a rule opens one case per subject, however often it
    runs on the same responses.

    The web app hands it to its importer (:func:`cxloop.web.app.create_app`), so a detractor is a case by
    the time the request returns.
    """
    responses = load_responses(arrival.con, arrival.response_ids)
    settings = arrival.settings
    result = run_rules(
        arrival.session,
        arrival.con,
        responses,
        now=arrival.now,
        confidence=settings.confidence,
        min_n=settings.min_n,
        settings=settings,
    )
    return ArrivalOutcome(result.opened, tuple(rule.message() for rule in result.skipped))
