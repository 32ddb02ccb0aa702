"""Closed-loop cases: one accountable owner, a status workflow, SLA clocks, escalation, an audit trail.

A case opens when an alert rule matches (:mod:`cxloop.services.act.rules.engine`). Its owner is the
accountable owner of the response's unit (``units.owner_user_id``: one person, never a group); a unit without
an owner hands its cases to the nearest ancestor that has one. The workflow::

    new --> contacted --> in_progress --> resolved --> closed
     |          |              ^             |            |
     |          +--------------|------------>+            |
     +-------------------------+    reopen: resolved/closed --> in_progress

Closing needs a root-cause code and a resolution note. Each rule sets two SLA clocks (first contact,
resolution); :func:`escalate` hands a case whose clock ran out to the owner of the next unit up, once per
clock, audited and notified. Everything takes ``now`` so that tests (and replays) control the clock.

Scope: a viewer sees the cases of the units in their subtree (and cases they own); anything else is
:class:`CaseNotFoundError`, exactly like a case that does not exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, overload

from ibis.backends import BaseBackend
from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cxloop.services.access.scope import Viewer, require_unit, visible_units
from cxloop.services.act import notifications as notify
from cxloop.store import audit
from cxloop.store import units as unit_store
from cxloop.store.tables import AlertRule, Case, CaseStatus, Role, Segment, Touchpoint, Unit, User, utcnow

if TYPE_CHECKING:
    from cxloop.config import Settings
    from cxloop.services.act.rules.kind import Match

__all__ = [
    "OPEN_STATUSES",
    "ROOT_CAUSES",
    "TRANSITIONS",
    "AlertRule",
    "Case",
    "CaseNotFoundError",
    "CasePage",
    "CaseStatus",
    "EscalationResult",
    "TransitionError",
    "accountable_owner",
    "case_detail",
    "case_state",
    "escalate",
    "get_case",
    "list_cases",
    "next_steps",
    "open_case",
    "set_unit_owner",
    "transition",
]

OPEN_STATUSES = frozenset({CaseStatus.new, CaseStatus.contacted, CaseStatus.in_progress})

TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.new: frozenset({CaseStatus.contacted, CaseStatus.in_progress, CaseStatus.closed}),
    CaseStatus.contacted: frozenset({CaseStatus.in_progress, CaseStatus.resolved, CaseStatus.closed}),
    CaseStatus.in_progress: frozenset({CaseStatus.contacted, CaseStatus.resolved, CaseStatus.closed}),
    CaseStatus.resolved: frozenset({CaseStatus.closed, CaseStatus.in_progress}),
    CaseStatus.closed: frozenset({CaseStatus.in_progress}),
}
"""Allowed moves. ``resolved``/``closed`` -> ``in_progress`` is a *reopen* (audited as such)."""

STATUS_NAMES: dict[CaseStatus, str] = {
    CaseStatus.new: "new",
    CaseStatus.contacted: "contacted",
    CaseStatus.in_progress: "in progress",
    CaseStatus.resolved: "resolved",
    CaseStatus.closed: "closed",
}
STEP_LABELS: dict[CaseStatus, str] = {
    CaseStatus.contacted: "Mark contacted",
    CaseStatus.in_progress: "Start work",
    CaseStatus.resolved: "Mark resolved",
    CaseStatus.closed: "Close",
}
_WORKFLOW_ORDER = (CaseStatus.contacted, CaseStatus.in_progress, CaseStatus.resolved, CaseStatus.closed)


def next_steps(status: CaseStatus | str) -> list[tuple[str, str]]:
    """The moves a case in ``status`` can make, in workflow order, as ``(status, label)``: what the case
    page offers. Back to work from resolved or closed reads "Reopen"; closing comes last."""
    current = CaseStatus(status)
    steps = []
    for target in _WORKFLOW_ORDER:
        if target in TRANSITIONS[current]:
            reopen = current in (CaseStatus.resolved, CaseStatus.closed) and target == CaseStatus.in_progress
            steps.append((target.value, "Reopen" if reopen else STEP_LABELS[target]))
    return steps


ROOT_CAUSES: dict[str, str] = {
    "staff_behaviour": "Staff behaviour or knowledge",
    "process": "Process or policy",
    "product": "Product or pricing",
    "waiting_time": "Waiting time or availability",
    "digital": "Website, app or other digital channel",
    "communication": "Communication or information",
    "billing": "Billing or fees",
    "customer_expectation": "Customer expectation (no fault found)",
    "duplicate": "Duplicate or not actionable",
    "other": "Other (explained in the note)",
}
"""Root-cause codes a case is closed with (reported in outcomes)."""


class CaseNotFoundError(LookupError):
    """No case with this id among those the viewer may see."""

    def __init__(self, case_id: int) -> None:
        self.case_id = case_id
        super().__init__(f"no case {case_id} among the cases you can see")


class TransitionError(ValueError):
    """A change the workflow does not allow. The message says in words what would be allowed (the case
    page shows it); ``codes`` lists the codes the API and the command line take instead."""

    def __init__(self, message: str, *, codes: str = "") -> None:
        super().__init__(message)
        self.codes = codes

    def detail(self) -> str:
        """The message with the codes (for the API and the command line)."""
        return f"{self} {self.codes}".strip()


class NotAllowedError(PermissionError):
    """The viewer's role may read this case but not change it."""


@overload
def _aware(value: datetime) -> datetime: ...
@overload
def _aware(value: None) -> None: ...
@overload
def _aware(value: datetime | None) -> datetime | None: ...
def _aware(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back: they are UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def accountable_owner(session: Session, unit_id: str) -> tuple[int | None, str | None]:
    """The user accountable for ``unit_id`` and the unit whose owner they are: the unit's own owner, else the
    nearest ancestor's. ``(None, None)`` when nobody up the tree has an owner."""
    chain = [unit_id, *reversed(unit_store.ancestor_ids(session, unit_id))]
    owners = dict(
        session.execute(select(Unit.unit_id, Unit.owner_user_id).where(Unit.unit_id.in_(chain))).all()
    )
    for candidate in chain:
        user_id = owners.get(candidate)
        if user_id is not None:
            user = session.get(User, user_id)
            if user is not None and user.is_active:
                return user_id, candidate
    return None, None


def case_state(case: Case) -> dict[str, Any]:
    """The audited fields of a case."""
    return {
        "status": str(case.status),
        "owner_user_id": case.owner_user_id,
        "escalation_level": case.escalation_level,
        "root_cause": case.root_cause,
        "resolution_note": case.resolution_note,
        "follow_up_score": case.follow_up_score,
    }


def open_case(
    session: Session,
    rule: AlertRule,
    match: Match,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> tuple[Case, bool]:
    """Open the case for ``match`` unless this rule already has one for its subject; ``(case, created)``.

    Idempotent under concurrency too: the unique (rule, subject) constraint decides, inside a savepoint.
    """
    stmt = select(Case).where(Case.rule_id == rule.id, Case.subject == match.subject)
    existing = session.scalar(stmt)
    if existing is None and match.open_once:
        existing = session.scalar(
            select(Case).where(
                Case.rule_id == rule.id,
                Case.subject.startswith(match.open_once, autoescape=True),
                Case.status != CaseStatus.closed,
            )
        )
    if existing is not None:
        return existing, False
    now = now or utcnow()
    if match.response_id is not None:
        # One open case per response: a second rule matching it is recorded on the case already open.
        same = session.scalar(
            select(Case)
            .where(Case.response_id == match.response_id, Case.status != CaseStatus.closed)
            .order_by(Case.id)
            .limit(1)
        )
        if same is not None:
            _also_matched(session, same, rule, match, now)
            return same, False
    owner_id, owner_unit = accountable_owner(session, match.unit_id)
    case = Case(
        rule_id=rule.id,
        subject=match.subject,
        response_id=match.response_id,
        customer_id=match.customer_id,
        unit_id=match.unit_id,
        owner_user_id=owner_id,
        status=CaseStatus.new,
        title=case_title(session, match)[:500],
        details={
            **dict(match.details),
            "rule": rule.name,
            "rules": [{"rule": rule.name, "why": match.details.get("why", match.title)}],
            "owner_unit_id": owner_unit,
            "escalated_for": [],
        },
        opened_at=now,
        first_contact_due=now + timedelta(hours=rule.first_contact_hours),
        resolution_due=now + timedelta(hours=rule.resolution_hours),
        escalation_level=0,
        reopened_count=0,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:
        found = session.scalar(stmt)
        if found is None:
            raise
        return found, False
    note = None if owner_id is not None else "no owner anywhere up the hierarchy: set one with `cxloop users`"
    audit.record(
        session,
        entity="case",
        entity_id=case.id,
        action="open",
        actor=audit.Actor.system(f"rule:{rule.name}"),
        changes=audit.diff({}, case_state(case)),
        note=note or match.title,
        at=now,
    )
    notify.enqueue_case_event(session, settings, case, "case.opened", now=now)
    return case, True


def _also_matched(session: Session, case: Case, rule: AlertRule, match: Match, now: datetime) -> None:
    """Record on ``case`` that ``rule`` matched its response too (once per rule; audited)."""
    rules = list(case.details.get("rules") or [{"rule": case.details.get("rule"), "why": case.title}])
    if any(r.get("rule") == rule.name for r in rules):
        return
    rules.append({"rule": rule.name, "why": match.details.get("why", match.title)})
    case.details = {**case.details, "rules": rules}
    session.flush()
    audit.record(
        session,
        entity="case",
        entity_id=case.id,
        action="rule_matched",
        actor=audit.Actor.system(f"rule:{rule.name}"),
        note=str(match.details.get("why", match.title)),
        at=now,
    )


COMMENT_IN_TITLE = 120  # characters of the comment quoted in a case's title


def case_title(session: Session, match: Match) -> str:
    """What happened, where, and what the customer said: "Detractor (NPS 2 of 10) at Leeds Central,
    branch visit: "Waited 40 minutes..."". A match without a response (a unit's score fell) keeps the
    rule's own words, with the unit's name."""
    response = match.details.get("response") or {}
    unit = session.get(Unit, match.unit_id)
    where = unit.name if unit is not None and unit.name else match.unit_id
    touchpoint = response.get("touchpoint")
    if touchpoint:
        stage = session.get(Touchpoint, touchpoint)
        where += f", {stage.name if stage is not None else str(touchpoint).replace('_', ' ')}"
    what = str(match.details.get("why") or match.title)
    title = f"{what[:1].upper()}{what[1:]} at {where}"
    comment = " ".join(str(response.get("comment") or "").split())
    if comment:
        if len(comment) > COMMENT_IN_TITLE:
            comment = comment[: COMMENT_IN_TITLE - 3].rstrip() + "..."
        title += f': "{comment}"'
    return title


def _scoped(session: Session, viewer: Viewer) -> Any:
    visible = visible_units(session, viewer)
    condition: ColumnElement[bool] = Case.unit_id.in_(sorted(visible))
    if viewer.user_id is not None:
        condition = or_(condition, Case.owner_user_id == viewer.user_id)
    return condition


def get_case(session: Session, viewer: Viewer, case_id: int) -> Case:
    """The case if the viewer may see it, else :class:`CaseNotFoundError`."""
    case = session.scalar(select(Case).where(Case.id == case_id, _scoped(session, viewer)))
    if case is None:
        raise CaseNotFoundError(case_id)
    return case


@dataclass(frozen=True)
class CasePage:
    """One page of cases, newest first, with the total matching the filters."""

    cases: list[Case]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_cases(
    session: Session,
    viewer: Viewer,
    *,
    mine: bool = False,
    unit_id: str | None = None,
    status: Sequence[str] | None = None,
    open_only: bool = False,
    overdue: bool = False,
    rule_id: int | None = None,
    customer_id: str | None = None,
    page: int = 1,
    per_page: int = 50,
    now: datetime | None = None,
) -> CasePage:
    """Cases the viewer may see, filtered. ``unit_id`` is a subtree (checked against the viewer's scope by the
    caller with ``require_unit``); ``overdue``: an SLA clock has run out on an open case."""
    now = now or utcnow()
    conditions = [_scoped(session, viewer)]
    if mine:
        conditions.append(Case.owner_user_id == (viewer.user_id if viewer.user_id is not None else -1))
    if unit_id is not None:
        conditions.append(Case.unit_id.in_(sorted(unit_store.subtree_ids(session, unit_id))))
    if status:
        conditions.append(Case.status.in_([CaseStatus(s) for s in status]))
    if open_only:
        conditions.append(Case.status.in_(sorted(OPEN_STATUSES)))
    if overdue:
        conditions.append(Case.status.in_(sorted(OPEN_STATUSES)))
        conditions.append(
            or_(
                (Case.status == CaseStatus.new) & (Case.first_contact_due < now),
                Case.resolution_due < now,
            )
        )
    if rule_id is not None:
        conditions.append(Case.rule_id == rule_id)
    if customer_id is not None:
        conditions.append(Case.customer_id == customer_id)
    total = session.scalar(select(func.count()).select_from(Case).where(*conditions)) or 0
    page = max(1, page)
    stmt = (
        select(Case)
        .where(*conditions)
        .order_by(Case.opened_at.desc(), Case.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return CasePage(list(session.scalars(stmt)), int(total), page, per_page)


def sla_state(case: Case, now: datetime | None = None) -> dict[str, Any]:
    """Whether each clock is running, met or breached, and the time left (negative: overdue)."""
    now = now or utcnow()
    first_due, resolution_due = _aware(case.first_contact_due), _aware(case.resolution_due)
    contacted, resolved = _aware(case.first_contacted_at), _aware(case.resolved_at)

    def clock(due: datetime, done: datetime | None, stopped: bool) -> dict[str, Any]:
        if done is not None:
            return {"state": "met" if done <= due else "breached", "due": due.isoformat(), "hours_left": None}
        if stopped:
            return {"state": "stopped", "due": due.isoformat(), "hours_left": None}
        left = (due - now).total_seconds() / 3600
        return {
            "state": "running" if left >= 0 else "breached",
            "due": due.isoformat(),
            "hours_left": round(left, 1),
        }

    closed = case.status == CaseStatus.closed
    return {
        "first_contact": clock(first_due, contacted, closed),
        "resolution": clock(resolution_due, resolved, closed),
    }


def _can_act(viewer: Viewer) -> None:
    if viewer.role in (Role.analyst,):
        raise NotAllowedError("analysts can read cases but not change them")


def transition(
    session: Session,
    viewer: Viewer,
    case_id: int,
    to: str,
    *,
    actor: audit.Actor,
    note: str | None = None,
    root_cause: str | None = None,
    resolution_note: str | None = None,
    follow_up_score: float | None = None,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> Case:
    """Move a case to ``to`` (a :class:`CaseStatus`), checking the workflow; audited in the same transaction.

    Raises
    ------
    CaseNotFoundError
        The viewer cannot see the case.
    TransitionError
        The move is not allowed, or closing lacks a root cause / resolution note, or a value is out of range.
    """
    case = get_case(session, viewer, case_id)
    _can_act(viewer)
    now = now or utcnow()
    current = CaseStatus(case.status)
    steps = " or ".join(f'"{label}"' for _, label in next_steps(current))
    status_codes = "Status codes: " + ", ".join(value for value, _ in next_steps(current)) + "."
    try:
        target = CaseStatus(to)
    except ValueError:
        raise TransitionError(
            f"Choose the next step for this case: {steps}."
            if not to.strip()
            else f"{to!r} is not a step a case can take; a {STATUS_NAMES[current]} case can take: {steps}.",
            codes=status_codes,
        ) from None
    if target not in TRANSITIONS[current]:
        raise TransitionError(
            f"A {STATUS_NAMES[current]} case cannot move to {STATUS_NAMES[target]}; its next steps are "
            f"{steps}.",
            codes=status_codes,
        )
    if follow_up_score is not None and not 0 <= follow_up_score <= 10:
        raise TransitionError("The follow-up score is the customer's NPS after contact, from 0 to 10.")
    before = case_state(case)
    cause_codes = "Root-cause codes: " + ", ".join(ROOT_CAUSES) + "."
    reopen = current in (CaseStatus.resolved, CaseStatus.closed) and target == CaseStatus.in_progress
    if target == CaseStatus.closed:
        cause = (root_cause or case.root_cause or "").strip()
        text = (resolution_note or case.resolution_note or "").strip()
        if cause not in ROOT_CAUSES:
            raise TransitionError(
                "Closing needs a root cause: choose the one that fits from the list (e.g. "
                f"{ROOT_CAUSES['waiting_time']!r} or {ROOT_CAUSES['other']!r})."
                + (f" {cause!r} is not one of them." if cause else ""),
                codes=cause_codes,
            )
        if not text:
            raise TransitionError("Closing needs a resolution note: what was done for the customer.")
        case.root_cause, case.resolution_note, case.closed_at = cause, text, now
        if case.resolved_at is None:
            case.resolved_at = now
    else:
        if root_cause is not None:
            if root_cause not in ROOT_CAUSES:
                raise TransitionError(
                    f"{root_cause!r} is not a root cause; choose one from the list.", codes=cause_codes
                )
            case.root_cause = root_cause
        if resolution_note:
            case.resolution_note = resolution_note.strip()
    if target == CaseStatus.contacted and case.first_contacted_at is None:
        case.first_contacted_at = now
    if target == CaseStatus.in_progress and case.first_contacted_at is None and not reopen:
        case.first_contacted_at = now
    if target == CaseStatus.resolved:
        case.resolved_at = now
        if case.first_contacted_at is None:
            case.first_contacted_at = now
    if reopen:
        case.reopened_count += 1
        case.resolved_at = None
        case.closed_at = None
    if follow_up_score is not None:
        case.follow_up_score = float(follow_up_score)
    case.status = target
    case.updated_at = now
    session.flush()
    audit.record(
        session,
        entity="case",
        entity_id=case.id,
        action="reopen" if reopen else target.value,
        actor=actor,
        changes=audit.diff(before, case_state(case)),
        note=note,
        at=now,
    )
    if reopen:
        notify.enqueue_case_event(session, settings, case, "case.reopened", now=now)
    return case


def add_note(
    session: Session,
    viewer: Viewer,
    case_id: int,
    note: str,
    *,
    actor: audit.Actor,
    now: datetime | None = None,
) -> Case:
    """A progress note on the case (audit row only, no state change)."""
    case = get_case(session, viewer, case_id)
    _can_act(viewer)
    if not note.strip():
        raise TransitionError("a note cannot be empty")
    audit.record(
        session, entity="case", entity_id=case.id, action="note", actor=actor, note=note.strip(), at=now
    )
    return case


@dataclass(frozen=True)
class EscalationResult:
    """What one :func:`escalate` run did."""

    checked: int
    escalated: tuple[int, ...]
    unowned: tuple[int, ...] = field(default=())
    """Breached cases with nobody above to hand them to (left with their owner, noted once)."""


def _next_owner(session: Session, case: Case) -> tuple[int | None, str | None]:
    """The owner of the nearest unit above the current owner's unit with a different, active owner."""
    start = case.details.get("owner_unit_id") or case.unit_id
    try:
        ancestors = list(reversed(unit_store.ancestor_ids(session, start)))
    except KeyError:
        return None, None
    for unit_id in ancestors:
        unit = session.get(Unit, unit_id)
        if unit is None or unit.owner_user_id is None or unit.owner_user_id == case.owner_user_id:
            continue
        user = session.get(User, unit.owner_user_id)
        if user is not None and user.is_active:
            return user.id, unit_id
    return None, None


def escalate(
    session: Session, *, now: datetime | None = None, settings: Settings | None = None
) -> EscalationResult:
    """Hand every open case whose SLA clock ran out to the next owner up; each clock escalates once.

    A case still ``new`` past its first-contact deadline escalates for ``first_contact``; any open case past
    its resolution deadline escalates for ``resolution``. Audited (actor ``system:sla``) and notified.
    """
    now = now or utcnow()
    stmt = select(Case).where(
        Case.status.in_(sorted(OPEN_STATUSES)),
        or_((Case.status == CaseStatus.new) & (Case.first_contact_due < now), Case.resolution_due < now),
    )
    escalated, unowned = [], []
    checked = 0
    for case in session.scalars(stmt).all():
        checked += 1
        done = list(case.details.get("escalated_for", []))
        due: list[str] = []
        if (
            case.status == CaseStatus.new
            and _aware(case.first_contact_due) < now
            and "first_contact" not in done
        ):
            due.append("first_contact")
        if _aware(case.resolution_due) < now and "resolution" not in done:
            due.append("resolution")
        if not due:
            continue
        before = case_state(case)
        new_owner, new_unit = _next_owner(session, case)
        details = dict(case.details)
        details["escalated_for"] = [*done, *due]
        if new_owner is None:
            case.details = details
            unowned.append(case.id)
            audit.record(
                session,
                entity="case",
                entity_id=case.id,
                action="sla_breached",
                actor=audit.Actor.system("sla"),
                note=f"{' and '.join(due)} SLA breached; nobody above to escalate to",
                at=now,
            )
            continue
        details["owner_unit_id"] = new_unit
        case.details = details
        case.owner_user_id = new_owner
        case.escalation_level += 1
        case.escalated_at = now
        case.updated_at = now
        session.flush()
        audit.record(
            session,
            entity="case",
            entity_id=case.id,
            action="escalate",
            actor=audit.Actor.system("sla"),
            changes=audit.diff(before, case_state(case)),
            note=f"{' and '.join(due).replace('_', ' ')} SLA breached; escalated to the owner of {new_unit}",
            at=now,
        )
        notify.enqueue_case_event(session, settings, case, "case.escalated", now=now, reason=due)
        escalated.append(case.id)
    return EscalationResult(checked, tuple(escalated), tuple(unowned))


# --- the case page: customer history and value ----------------------------------------------------------


def _history(
    con: BaseBackend, customer_id: str, units: frozenset[str], limit: int = 50
) -> list[dict[str, Any]]:
    table = con.table("responses")
    expr = (
        table.filter(table.customer_id == customer_id, table.unit_id.isin(sorted(units)))
        .select(
            "response_id", "submitted_at", "unit_id", "touchpoint", "channel", "nps", "csat", "ces", "comment"
        )
        .order_by(table.submitted_at.desc())
        .limit(limit)
    )
    rows = expr.to_pyarrow().to_pylist()
    for row in rows:
        if row["submitted_at"] is not None:
            row["submitted_at"] = row["submitted_at"].isoformat()
    return rows


def _value(session: Session, con: BaseBackend, customer_id: str, now: datetime) -> dict[str, Any]:
    value: dict[str, Any] = {"customer_id": customer_id}
    tables = set(con.list_tables())
    if "customers" in tables:
        customers = con.table("customers")
        rows = (
            customers.filter(customers.customer_id == customer_id).select("segment", "unit_id").to_pyarrow()
        )
        if rows.num_rows:
            segment = rows.column("segment")[0].as_py()
            value["segment"] = segment
            seg = session.get(Segment, segment) if segment else None
            value["value_rank"] = seg.value_rank if seg is not None else None
            value["segment_name"] = seg.name if seg is not None else segment
    if "transactions" in tables:
        tx = con.table("transactions")
        since = (now - timedelta(days=365)).astimezone(UTC).replace(tzinfo=None)
        mine = tx.filter(tx.customer_id == customer_id)
        recent = mine.occurred_at >= since
        agg = (
            mine.aggregate(
                purchases=mine.count(),
                revenue=mine.amount.sum(),
                margin=mine.margin.sum(),
                last_purchase=mine.occurred_at.max(),
                purchases_12m=recent.cast("int64").sum(),
                revenue_12m=recent.ifelse(mine.amount, 0).sum(),
            )
            .to_pyarrow()
            .to_pylist()[0]
        )
        last = agg.pop("last_purchase")
        value.update({k: (float(v) if v is not None else None) for k, v in agg.items()})
        value["last_purchase"] = last.isoformat() if last is not None else None
    return value


def case_detail(
    session: Session, viewer: Viewer, case_id: int, con: BaseBackend | None, *, now: datetime | None = None
) -> dict[str, Any]:
    """What the case page and ``GET /api/v1/cases/{id}`` show: the case, its SLA clocks, the audit trail,
    the customer's earlier responses (only in units the viewer may see) and their value."""
    now = now or utcnow()
    case = get_case(session, viewer, case_id)
    trail = audit.trail(session, "case", case.id)
    users = {
        u.id: u
        for u in session.scalars(
            select(User).where(User.id.in_({e.actor_user_id for e in trail} | {case.owner_user_id}))
        )
    }
    history: list[dict[str, Any]] = []
    value: dict[str, Any] | None = None
    if case.customer_id and con is not None and "responses" in set(con.list_tables()):
        history = _history(con, case.customer_id, visible_units(session, viewer))
        value = _value(session, con, case.customer_id, now)
    others = (
        list_cases(session, viewer, customer_id=case.customer_id, per_page=20).cases
        if case.customer_id
        else []
    )
    return {
        "case": case,
        "owner": users.get(case.owner_user_id) if case.owner_user_id else None,
        "sla": sla_state(case, now),
        "trail": trail,
        "history": history,
        "value": value,
        "other_cases": [c for c in others if c.id != case.id],
        "allowed": sorted(s.value for s in TRANSITIONS[CaseStatus(case.status)]),
        "next_steps": next_steps(case.status),
    }


def set_unit_owner(
    session: Session, viewer: Viewer, unit_id: str, email: str | None, *, actor: audit.Actor
) -> Unit:
    """Make the user with ``email`` the accountable owner of ``unit_id`` (``None`` clears it); admins only,
    audited. New cases of the unit (and of units below it without an owner) go to them."""
    if viewer.role != Role.admin:
        raise NotAllowedError("only administrators set unit owners")
    require_unit(session, viewer, unit_id)
    user = None
    if email is not None:
        user = session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
        if user is None or not user.is_active:
            raise ValueError(f"no active user {email!r}; list users with `cxloop users list`")
    unit = session.get(Unit, unit_id)
    assert unit is not None
    before = {"owner_user_id": unit.owner_user_id}
    unit_store.set_owner(session, unit_id, user.id if user else None)
    changes = audit.diff(before, {"owner_user_id": unit.owner_user_id})
    if changes:
        audit.record(
            session,
            entity="unit",
            entity_id=unit_id,
            action="set_owner",
            actor=actor,
            changes=changes,
            note=f"owner: {email or 'nobody'}",
        )
    return unit
