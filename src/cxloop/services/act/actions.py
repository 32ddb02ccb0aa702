"""Action plans: one accountable owner, a due date, a status workflow, notes, and the measured change.

Who may do what (always inside the viewer's subtree; an action outside it is answered like an unknown
one, 404):

* **Read**: anyone whose subtree holds the action's unit, and the action's owner.
* **Create, reassign, change any field**: admins, executives and managers of the unit's subtree.
* **Move through the workflow and add notes**: the owner, and those planners.

Workflow: ``planned -> in_progress -> done``, and ``cancelled`` from either open state; **reopen** takes a
``done`` action back to ``in_progress`` and a ``cancelled`` one back to ``planned``. ``started_at`` is set
the first time it goes in progress, ``completed_at`` when it is done (cleared on reopen). Every change is
an audit row (:func:`cxloop.store.audit.record`, entity ``action``) in the same transaction.

**Measured change** (:func:`measured_change`): the action's linked metric in the unit's subtree (at the
linked touchpoint, if any) over a window before the action started against the window of the same length
after it (default 90 days; shorter when less time has passed, both windows then shrink alike). NPS uses
:func:`cxloop.stats.nps_difference`, CSAT the two-proportion z test, CES and driver-item means Welch's t
test, churn and repeat purchase the two-proportion test. It is a before/after comparison, observational:
anything else that changed at the same time is in it too. Causal proof needs a pilot with a control group
(``cxloop pilot``).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cxloop.services.access.scope import Viewer, require_unit, visible_units
from cxloop.services.act.action_change import (
    CAVEAT,
    DEFAULT_WINDOW_DAYS,
    MeasuredChange,
    WindowValue,
    change_chart,
    measure,
)
from cxloop.services.act.targets import (
    PLANNERS,
    NotAllowedError,
    actor_for,
    get_target,
    metric_spec,
)
from cxloop.services.stores import Stores
from cxloop.store import units as unit_store
from cxloop.store.audit import diff, record, trail
from cxloop.store.tables import (
    Action,
    ActionHorizon,
    ActionNote,
    ActionStatus,
    ActionTarget,
    AuditEvent,
    Question,
    Touchpoint,
    Unit,
    User,
    utcnow,
)

__all__ = [
    "CAVEAT",
    "ActionDraft",
    "ActionNotFoundError",
    "ActionPage",
    "ActionStatus",
    "AuditEvent",
    "MeasuredChange",
    "TRANSITIONS",
    "TransitionError",
    "WindowValue",
    "accountable_owner",
    "change_chart",
    "action_audit",
    "action_dict",
    "add_note",
    "create_action",
    "create_from_priority",
    "get_action",
    "list_actions",
    "measured_change",
    "parse_expected_impact",
    "transition",
    "update_action",
]

OPEN = frozenset({ActionStatus.planned, ActionStatus.in_progress})
#: Allowed moves; ``reopen`` is the move back from done (to in_progress) or cancelled (to planned).
TRANSITIONS: dict[ActionStatus, frozenset[ActionStatus]] = {
    ActionStatus.planned: frozenset({ActionStatus.in_progress, ActionStatus.done, ActionStatus.cancelled}),
    ActionStatus.in_progress: frozenset({ActionStatus.done, ActionStatus.cancelled, ActionStatus.planned}),
    ActionStatus.done: frozenset({ActionStatus.in_progress}),
    ActionStatus.cancelled: frozenset({ActionStatus.planned}),
}
_EDITABLE = (
    "title",
    "description",
    "owner_user_id",
    "driver",
    "touchpoint_id",
    "priority",
    "due_date",
    "horizon",
    "cost",
    "impact_metric",
    "impact_points",
)


class ActionNotFoundError(LookupError):
    """No action with this id among those the viewer can see."""

    def __init__(self, action_id: int) -> None:
        self.action_id = action_id
        super().__init__(f"no action {action_id} among the actions you can see")


class TransitionError(ValueError):
    """A status move the workflow does not allow (the message lists the allowed ones)."""


@dataclass(frozen=True)
class ActionDraft:
    """What a new action says. ``owner`` is a user id or e-mail; default: the unit's accountable owner."""

    title: str
    unit_id: str
    owner: int | str | None = None
    description: str = ""
    driver: str | None = None
    touchpoint_id: str | None = None
    priority: str | None = None
    due_date: date | None = None
    horizon: str = "short_term"
    cost: float | None = None
    impact_metric: str | None = None
    impact_points: float | None = None
    target_ids: tuple[int, ...] = ()


# --- helpers ---------------------------------------------------------------------------------------------


def accountable_owner(session: Session, unit_id: str) -> User | None:
    """The unit's owner, else the nearest ancestor's (one person, never a group)."""
    chain = [unit_id, *reversed(unit_store.ancestor_ids(session, unit_id))]
    for candidate in chain:
        unit = session.get(Unit, candidate)
        if unit is not None and unit.owner_user_id is not None:
            user = session.get(User, unit.owner_user_id)
            if user is not None and user.is_active:
                return user
    return None


def _resolve_owner(session: Session, viewer: Viewer, unit_id: str, owner: int | str | None) -> User:
    if owner is None or owner == "":
        user = accountable_owner(session, unit_id)
        if user is None and viewer.user_id is not None:
            user = session.get(User, viewer.user_id)
        if user is None:
            raise ValueError(
                f"unit {unit_id!r} has no accountable owner: name one (owner e-mail), or set the unit's owner"
            )
        return user
    if isinstance(owner, int) or str(owner).isdigit():
        user = session.get(User, int(owner))
    else:
        user = session.scalars(
            select(User).where(func.lower(User.email) == str(owner).strip().lower())
        ).first()
    if user is None or not user.is_active:
        raise ValueError(f"no active user {owner!r} to own the action; list users with `cxloop users list`")
    if unit_id not in unit_store.subtree_ids(session, user.unit_id):
        raise ValueError(
            f"{user.email} works at {user.unit_id!r} and cannot see unit {unit_id!r}: choose an owner at "
            "that unit or above"
        )
    return user


def _clean_text(value: str, name: str, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise ValueError(f"{name} is longer than {limit:,} characters")
    return text


def _check_links(session: Session, values: dict[str, Any]) -> None:
    driver = values.get("driver")
    if driver and session.get(Question, driver) is None:
        raise ValueError(f"unknown driver item {driver!r}: use a question id (`cxloop drivers` lists them)")
    touchpoint = values.get("touchpoint_id")
    if touchpoint and session.get(Touchpoint, touchpoint) is None:
        known = ", ".join(sorted(session.scalars(select(Touchpoint.touchpoint_id)).all())[:12])
        raise ValueError(f"unknown touchpoint {touchpoint!r}; known: {known or 'none'}")
    metric = values.get("impact_metric")
    if metric:
        metric_spec(session, metric)
    cost = values.get("cost")
    if cost is not None and (not math.isfinite(float(cost)) or float(cost) < 0):
        raise ValueError("cost must be a non-negative number")
    points = values.get("impact_points")
    if points is not None and not math.isfinite(float(points)):
        raise ValueError("expected impact must be a finite number of points")
    horizon = values.get("horizon")
    if horizon is not None and horizon not in ActionHorizon.__members__:
        raise ValueError(f"horizon must be one of {', '.join(ActionHorizon.__members__)}, got {horizon!r}")


def _state(action: Action) -> dict[str, Any]:
    return {
        "title": action.title,
        "description": action.description,
        "unit_id": action.unit_id,
        "owner_user_id": action.owner_user_id,
        "driver": action.driver,
        "touchpoint_id": action.touchpoint_id,
        "priority": action.priority,
        "due_date": action.due_date.isoformat() if action.due_date else None,
        "horizon": ActionHorizon(action.horizon).value,
        "cost": action.cost,
        "impact_metric": action.impact_metric,
        "impact_points": action.impact_points,
        "status": ActionStatus(action.status).value,
        "target_ids": sorted(link.target_id for link in action.links),
    }


def _visible_action(session: Session, viewer: Viewer, action: Action | None, action_id: int) -> Action:
    if action is None:
        raise ActionNotFoundError(action_id)
    if action.unit_id in visible_units(session, viewer):
        return action
    if viewer.user_id is not None and action.owner_user_id == viewer.user_id:
        return action
    raise ActionNotFoundError(action_id)


def _can_plan(session: Session, viewer: Viewer, action: Action) -> bool:
    return viewer.role in PLANNERS and action.unit_id in visible_units(session, viewer)


def _check_can_act(session: Session, viewer: Viewer, action: Action, what: str) -> None:
    is_owner = viewer.user_id is not None and action.owner_user_id == viewer.user_id
    if not (is_owner or _can_plan(session, viewer, action)):
        raise NotAllowedError(f"only the action's owner or a manager of its unit can {what}")


def _link_targets(session: Session, viewer: Viewer, action: Action, target_ids: tuple[int, ...]) -> None:
    wanted = set(int(t) for t in target_ids)
    for target_id in wanted:
        get_target(session, viewer, target_id)  # in scope, or TargetNotFoundError
    for link in list(action.links):
        if link.target_id not in wanted:
            action.links.remove(link)
    have = {link.target_id for link in action.links}
    for target_id in sorted(wanted - have):
        action.links.append(ActionTarget(target_id=target_id))


# --- create, read, update --------------------------------------------------------------------------------


def create_action(
    session: Session, viewer: Viewer, draft: ActionDraft, *, now: datetime | None = None
) -> Action:
    """A new ``planned`` action (audited).

    Raises
    ------
    ScopeError, UnknownUnitError
        The unit is outside the viewer's subtree or unknown.
    NotAllowedError
        The viewer's role may not create actions.
    TargetNotFoundError
        A linked target is not in the viewer's scope.
    ValueError
        A field is invalid (the message says which and what to use).
    """
    require_unit(session, viewer, draft.unit_id)
    if viewer.role not in PLANNERS:
        raise NotAllowedError(f"a {viewer.role.value} cannot create actions; ask a manager of the unit")
    title = _clean_text(draft.title, "title", 200)
    if not title:
        raise ValueError("an action needs a title")
    values = asdict(draft)
    _check_links(session, values)
    owner = _resolve_owner(session, viewer, draft.unit_id, draft.owner)
    now = now or utcnow()
    action = Action(
        title=title,
        description=_clean_text(draft.description, "description", 20_000),
        unit_id=draft.unit_id,
        owner_user_id=owner.id,
        driver=draft.driver or None,
        touchpoint_id=draft.touchpoint_id or None,
        priority=_clean_text(draft.priority or "", "priority", 200) or None,
        due_date=draft.due_date,
        horizon=ActionHorizon(draft.horizon),
        cost=None if draft.cost is None else float(draft.cost),
        impact_metric=draft.impact_metric or None,
        impact_points=None if draft.impact_points is None else float(draft.impact_points),
        status=ActionStatus.planned,
        created_by_user_id=viewer.user_id,
        created_at=now,
        updated_at=now,
    )
    session.add(action)
    session.flush()
    _link_targets(session, viewer, action, draft.target_ids)
    session.flush()
    record(session, entity="action", entity_id=action.id, action="created", actor=actor_for(session, viewer),
           changes=diff({}, _state(action)), at=now)  # fmt: skip
    return action


def get_action(session: Session, viewer: Viewer, action_id: int) -> Action:
    """The action if the viewer may see it (else :class:`ActionNotFoundError`)."""
    return _visible_action(session, viewer, session.get(Action, action_id), action_id)


def update_action(
    session: Session, viewer: Viewer, action_id: int, changes: dict[str, Any], *, now: datetime | None = None
) -> Action:
    """Change fields of an action (planners of its unit; the owner may change all but the owner).

    ``changes`` keys: any of ``title``, ``description``, ``owner`` (id or e-mail), ``driver``,
    ``touchpoint_id``, ``priority``, ``due_date``, ``horizon``, ``cost``, ``impact_metric``,
    ``impact_points``, ``target_ids``. Status moves go through :func:`transition`.
    """
    action = get_action(session, viewer, action_id)
    _check_can_act(session, viewer, action, "change it")
    unknown = set(changes) - {*_EDITABLE, "owner", "target_ids"} - {"owner_user_id"}
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}; status moves use the transition")
    if "owner" in changes and not _can_plan(session, viewer, action):
        raise NotAllowedError("only a manager of the action's unit can hand it to another owner")
    _check_links(session, changes)
    before = _state(action)
    now = now or utcnow()
    for name, value in changes.items():
        if name == "owner":
            action.owner_user_id = _resolve_owner(session, viewer, action.unit_id, value).id
        elif name == "target_ids":
            _link_targets(session, viewer, action, tuple(value or ()))
        elif name == "title":
            title = _clean_text(value, "title", 200)
            if not title:
                raise ValueError("an action needs a title")
            action.title = title
        elif name == "description":
            action.description = _clean_text(value, "description", 20_000)
        elif name == "horizon":
            action.horizon = ActionHorizon(value)
        elif name in ("cost", "impact_points"):
            setattr(action, name, None if value is None else float(value))
        elif name == "priority":
            action.priority = _clean_text(value or "", "priority", 200) or None
        else:
            setattr(action, name, value or None)
    session.flush()
    delta = diff(before, _state(action))
    if delta:
        action.updated_at = now
        record(session, entity="action", entity_id=action.id, action="updated",
               actor=actor_for(session, viewer), changes=delta, at=now)  # fmt: skip
    return action


def transition(
    session: Session,
    viewer: Viewer,
    action_id: int,
    to: str,
    *,
    note: str | None = None,
    now: datetime | None = None,
) -> Action:
    """Move an action to status ``to`` (or ``reopen`` it), with an optional note. Audited.

    Raises
    ------
    TransitionError
        The move is not allowed from the current status (the message lists the allowed ones).
    """
    action = get_action(session, viewer, action_id)
    _check_can_act(session, viewer, action, "move it through the workflow")
    current = ActionStatus(action.status)
    if to == "reopen":
        if current == ActionStatus.done:
            target = ActionStatus.in_progress
        elif current == ActionStatus.cancelled:
            target = ActionStatus.planned
        else:
            raise TransitionError(
                f"only a done or cancelled action can be reopened; this one is {current.value}"
            )
    else:
        try:
            target = ActionStatus(to)
        except ValueError:
            choices = ", ".join([*(s.value for s in ActionStatus), "reopen"])
            raise TransitionError(f"unknown status {to!r}; use one of {choices}") from None
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(s.value for s in TRANSITIONS[current]))
        raise TransitionError(
            f"a {current.value} action cannot move to {target.value}; it can move to: {allowed}"
        )
    now = now or utcnow()
    before = {"status": current.value, "started_at": action.started_at, "completed_at": action.completed_at}
    action.status = target
    if target == ActionStatus.in_progress and action.started_at is None:
        action.started_at = now
    if target == ActionStatus.done:
        action.completed_at = now
        if action.started_at is None:
            action.started_at = now
    elif current == ActionStatus.done:
        action.completed_at = None
    action.updated_at = now
    session.flush()
    after = {"status": target.value, "started_at": action.started_at, "completed_at": action.completed_at}
    name = "reopened" if to == "reopen" else f"status:{target.value}"
    record(session, entity="action", entity_id=action.id, action=name, actor=actor_for(session, viewer),
           changes=diff(before, after), note=(note or "").strip() or None, at=now)  # fmt: skip
    return action


def add_note(
    session: Session, viewer: Viewer, action_id: int, body: str, *, now: datetime | None = None
) -> ActionNote:
    """A dated, authored progress note (owner or planners of the unit). Audited."""
    action = get_action(session, viewer, action_id)
    _check_can_act(session, viewer, action, "add notes")
    text = _clean_text(body, "note", 10_000)
    if not text:
        raise ValueError("a note cannot be empty")
    now = now or utcnow()
    actor = actor_for(session, viewer)
    note = ActionNote(
        action_id=action.id, author_user_id=actor.user_id, author=actor.label, body=text, created_at=now
    )
    session.add(note)
    action.updated_at = now
    session.flush()
    record(session, entity="action", entity_id=action.id, action="note", actor=actor, note=text, at=now)
    return note


# --- lists -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionPage:
    """One page of actions, newest first (or by due date for overdue ones), and the total."""

    actions: list[Action]
    total: int
    page: int
    per_page: int


def list_actions(
    session: Session,
    viewer: Viewer,
    *,
    mine: bool = False,
    unit_id: str | None = None,
    include: str = "subtree",
    status: str | None = None,
    overdue: bool = False,
    target_id: int | None = None,
    page: int = 1,
    per_page: int = 50,
    now: datetime | None = None,
) -> ActionPage:
    """Actions the viewer can see, filtered.

    Parameters
    ----------
    mine : bool
        Only actions the viewer owns.
    unit_id, include : str
        Only actions of this unit (``include="unit"``) or its subtree (``"subtree"``).
    status : str, optional
        ``planned``, ``in_progress``, ``done``, ``cancelled`` or ``open`` (planned or in progress).
    overdue : bool
        Only open actions whose due date has passed (``now``'s date; a controllable clock).
    target_id : int, optional
        Only actions linked to this target (which must be in scope).
    """
    if page < 1 or not 1 <= per_page <= 500:
        raise ValueError("page starts at 1 and per_page is 1 to 500")
    visible = visible_units(session, viewer)
    stmt = select(Action)
    if viewer.user_id is not None:
        stmt = stmt.where(or_(Action.unit_id.in_(sorted(visible)), Action.owner_user_id == viewer.user_id))
    else:
        stmt = stmt.where(Action.unit_id.in_(sorted(visible)))
    if mine:
        if viewer.user_id is None:
            raise ValueError("'my actions' needs a user: act as one (--as EMAIL)")
        stmt = stmt.where(Action.owner_user_id == viewer.user_id)
    if unit_id is not None:
        require_unit(session, viewer, unit_id, visible)
        units = [unit_id] if include == "unit" else sorted(unit_store.subtree_ids(session, unit_id) & visible)
        stmt = stmt.where(Action.unit_id.in_(units))
    if status == "open":
        stmt = stmt.where(Action.status.in_([s.value for s in OPEN]))
    elif status:
        if status not in ActionStatus.__members__:
            raise ValueError(f"status must be one of {', '.join(ActionStatus.__members__)} or open")
        stmt = stmt.where(Action.status == status)
    if overdue:
        today = (now or utcnow()).date()
        stmt = stmt.where(Action.status.in_([s.value for s in OPEN]), Action.due_date < today)
    if target_id is not None:
        get_target(session, viewer, target_id)
        stmt = stmt.where(
            Action.id.in_(select(ActionTarget.action_id).where(ActionTarget.target_id == target_id))
        )
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    order = (Action.due_date, Action.id) if overdue else (Action.created_at.desc(), Action.id.desc())
    rows = session.scalars(stmt.order_by(*order).offset((page - 1) * per_page).limit(per_page))
    return ActionPage(actions=list(rows), total=int(total), page=page, per_page=per_page)


def action_dict(session: Session, action: Action, *, now: datetime | None = None) -> dict[str, Any]:
    """An action as a JSON-ready dict (with ``overdue`` and ``days_overdue`` at ``now``)."""
    today = (now or utcnow()).date()
    owner = session.get(User, action.owner_user_id)
    unit = session.get(Unit, action.unit_id)
    status = ActionStatus(action.status)
    late = bool(action.due_date and status in OPEN and action.due_date < today)
    return {
        "id": action.id,
        "title": action.title,
        "description": action.description,
        "unit_id": action.unit_id,
        "unit_name": unit.name if unit else None,
        "owner": {"id": owner.id, "email": owner.email, "name": owner.name} if owner else None,
        "driver": action.driver,
        "touchpoint_id": action.touchpoint_id,
        "priority": action.priority,
        "due_date": action.due_date.isoformat() if action.due_date else None,
        "horizon": ActionHorizon(action.horizon).value,
        "cost": action.cost,
        "impact_metric": action.impact_metric,
        "impact_points": action.impact_points,
        "status": status.value,
        "overdue": late,
        "days_overdue": (today - action.due_date).days if late and action.due_date else 0,
        "target_ids": sorted(link.target_id for link in action.links),
        "created_at": action.created_at.isoformat() if action.created_at else None,
        "updated_at": action.updated_at.isoformat() if action.updated_at else None,
        "started_at": action.started_at.isoformat() if action.started_at else None,
        "completed_at": action.completed_at.isoformat() if action.completed_at else None,
    }


def action_audit(session: Session, viewer: Viewer, action_id: int) -> list[AuditEvent]:
    """The action's audit trail, oldest first (the action must be visible)."""
    get_action(session, viewer, action_id)
    return trail(session, "action", action_id)


# --- one click from a priority ---------------------------------------------------------------------------

_IMPACT = re.compile(r"^\s*(?:(?P<metric>[a-z_]+(?::[\w.-]+)?)\s*[:=]\s*)?(?P<points>[+-]?\d+(?:\.\d+)?)\s*$")


def parse_expected_impact(value: str | float | None) -> tuple[str | None, float | None]:
    """``"3.2"``, ``"+3.2"``, ``"nps=3.2"`` or ``"nps:3.2"`` -> (metric or None, points).

    Blank gives ``(None, None)``."""
    if value is None:
        return None, None
    if isinstance(value, int | float):
        if not math.isfinite(float(value)):
            raise ValueError("expected impact must be a finite number of points")
        return None, float(value)
    text = str(value).strip()
    if not text:
        return None, None
    match = _IMPACT.match(text)
    if match is None:
        raise ValueError(f"expected impact {text!r} is not a number of points (e.g. 3.5 or nps=3.5)")
    return match.group("metric"), float(match.group("points"))


def create_from_priority(
    session: Session,
    viewer: Viewer,
    *,
    unit_id: str,
    driver: str,
    title: str = "",
    touchpoint_id: str | None = None,
    expected_impact: str | float | None = None,
    now: datetime | None = None,
) -> Action:
    """One click from a priority row: a planned action at ``unit_id`` on ``driver``, owned by the unit's
    accountable owner, with the priority's expected impact (NPS points unless the value names a metric)."""
    metric, points = parse_expected_impact(expected_impact)
    if not (driver or "").strip() and not (title or "").strip():
        raise ValueError("an action from a priority needs its driver or a title")
    question = session.get(Question, driver) if driver else None
    label = question.label if question is not None else driver
    draft = ActionDraft(
        title=(title or "").strip() or f"Improve {label}",
        unit_id=unit_id,
        driver=driver or None,
        touchpoint_id=touchpoint_id or None,
        priority=f"priority: {driver} at {unit_id}" + (f" ({touchpoint_id})" if touchpoint_id else ""),
        horizon="short_term",
        impact_metric=(metric or "nps") if points is not None else None,
        impact_points=points,
    )
    return create_action(session, viewer, draft, now=now)


# --- measured change -------------------------------------------------------------------------------------


def measured_change(
    viewer: Viewer,
    action_id: int,
    *,
    stores: Stores,
    window_days: int = DEFAULT_WINDOW_DAYS,
    now: datetime | None = None,
) -> MeasuredChange:
    """The change in the action's linked metric from the window before it started to the one after
    (:mod:`cxloop.services.act.action_change`: windows, tests and the observational caveat).

    Raises
    ------
    ActionNotFoundError
        The action is not visible.
    ScopeError
        The viewer sees the action (as its owner) but not its unit's numbers.
    ValueError
        ``window_days`` outside 7..730.
    """
    if not 7 <= window_days <= 730:
        raise ValueError("the window is 7 to 730 days")
    session = stores.session
    action = get_action(session, viewer, action_id)
    require_unit(session, viewer, action.unit_id)  # the numbers are the unit's: its subtree must be visible
    metric = f"item:{action.driver}" if action.driver else action.impact_metric or "nps"
    spec = metric_spec(session, metric)
    today = (now or utcnow()).date()
    return measure(viewer, action, spec, stores=stores, window_days=window_days, today=today)
