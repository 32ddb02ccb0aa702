"""Targets and action plans: ``/api/v1/targets``, ``/api/v1/actions``.

Thin over :mod:`cxloop.services.act.targets` and :mod:`cxloop.services.act.actions`: every route passes the
viewer to the service, which scopes it, and the service's errors are answered by the app's one mapping
(:mod:`cxloop.web.errors`): 404 for a target, action or unit outside the viewer's subtree (exactly like an
unknown one); 403 ``forbidden`` when the viewer may see but not change (``target_locked`` for a top-down
target set above them); 422 for malformed or impossible input (``fields`` or a message that says what to
use). Bad input never answers 500.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StrictFloat
from sqlalchemy.orm import Session

from cxloop.services.access.scope import Viewer
from cxloop.services.act import actions as act
from cxloop.services.act import targets as tgt
from cxloop.services.act.actions import AuditEvent
from cxloop.web.deps import SessionDep, StoresDep, ViewerDep
from cxloop.web.inputs import IdPath, RecordId
from cxloop.web.schemas import ErrorPublic

__all__ = ["router"]

router = APIRouter(prefix="/api/v1", tags=["plans"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "No or invalid credentials."},
    403: {"model": ErrorPublic, "description": "You may see this but not change it."},
    404: {"model": ErrorPublic, "description": "Unknown, or outside your scope."},
    422: {"model": ErrorPublic, "description": "Malformed or impossible input."},
}
Granularity = Literal["week", "month", "quarter", "year"]
Horizon = Literal["short_term", "long_term"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TargetCreate(_Strict):
    unit_id: str = Field(min_length=1, max_length=64, description="The unit the target is for.")
    metric: str = Field(
        min_length=1,
        max_length=80,
        description="nps, csat, ces, churn, repeat_purchase or item:<question id>.",
    )
    granularity: Granularity = Field(description="Length of the target's period.")
    period_start: date = Field(description="Any day of the period (snapped to its first day).")
    target_value: StrictFloat = Field(
        allow_inf_nan=False, description="On the metric's reporting scale (NPS -100..100, CSAT %, ...)."
    )
    rationale: str = Field(default="", max_length=5000)


class TargetUpdate(_Strict):
    target_value: StrictFloat | None = Field(default=None, allow_inf_nan=False)
    rationale: str | None = Field(default=None, max_length=5000)


class TargetPublic(BaseModel):
    id: int
    unit_id: str
    unit_name: str | None
    metric: str
    granularity: str
    period_start: str
    period_end: str
    period: str
    target_value: float
    origin: str = Field(description="top_down (set from a unit above) or own (set by the unit).")
    set_from_unit_id: str | None = Field(
        description="The unit the target was set from; null when it lies above your scope (see set_from)."
    )
    set_from: str = Field(
        description='Where it was set from in words: a unit\'s name, or "your region", "the company".'
    )
    set_by: str
    rationale: str
    action_ids: list[int]
    created_at: str | None
    updated_at: str | None


class TargetProgressPublic(BaseModel):
    target: TargetPublic
    metric_label: str
    higher_is_better: bool
    window_start: str
    window_end: str
    period_state: str = Field(description="not_started, running or ended.")
    n: int | None
    estimate: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    gap: float | None = Field(description="estimate - target on the metric's scale.")
    p_value: float | None
    test: str
    confidence: float
    suppressed: bool
    verdict: str = Field(description="on_track, off_track or too_early.")
    sentence: str


class TargetsPublic(BaseModel):
    targets: list[TargetPublic]


class ActionCreate(_Strict):
    title: str = Field(min_length=1, max_length=200)
    unit_id: str = Field(min_length=1, max_length=64)
    owner: str | None = Field(
        default=None, max_length=320, description="E-mail or user id; default: the unit's accountable owner."
    )
    description: str = Field(default="", max_length=20000)
    driver: str | None = Field(default=None, max_length=64, description="A driver item (question id).")
    touchpoint_id: str | None = Field(default=None, max_length=64)
    priority: str | None = Field(default=None, max_length=200, description="The priority it came from.")
    due_date: date | None = None
    horizon: Horizon = "short_term"
    cost: StrictFloat | None = Field(default=None, ge=0, allow_inf_nan=False)
    impact_metric: str | None = Field(
        default=None, max_length=80, description="Metric of the expected impact."
    )
    impact_points: StrictFloat | None = Field(
        default=None, allow_inf_nan=False, description="Expected change in that metric, in points."
    )
    target_ids: list[RecordId] = Field(default_factory=list, max_length=50)


class ActionUpdate(_Strict):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    owner: str | None = Field(default=None, max_length=320)
    description: str | None = Field(default=None, max_length=20000)
    driver: str | None = Field(default=None, max_length=64)
    touchpoint_id: str | None = Field(default=None, max_length=64)
    priority: str | None = Field(default=None, max_length=200)
    due_date: date | None = None
    horizon: Horizon | None = None
    cost: StrictFloat | None = Field(default=None, ge=0, allow_inf_nan=False)
    impact_metric: str | None = Field(default=None, max_length=80)
    impact_points: StrictFloat | None = Field(default=None, allow_inf_nan=False)
    target_ids: list[RecordId] | None = Field(default=None, max_length=50)


class TransitionCreate(_Strict):
    to: Literal["planned", "in_progress", "done", "cancelled", "reopen"]
    note: str | None = Field(default=None, max_length=10000)


class NoteCreate(_Strict):
    body: str = Field(min_length=1, max_length=10000)


class OwnerPublic(BaseModel):
    id: int
    email: str
    name: str


class ActionPublic(BaseModel):
    id: int
    title: str
    description: str
    unit_id: str
    unit_name: str | None
    owner: OwnerPublic | None
    driver: str | None
    touchpoint_id: str | None
    priority: str | None
    due_date: str | None
    horizon: str
    cost: float | None
    impact_metric: str | None
    impact_points: float | None
    status: str
    overdue: bool
    days_overdue: int
    target_ids: list[int]
    created_at: str | None
    updated_at: str | None
    started_at: str | None
    completed_at: str | None


class NotePublic(BaseModel):
    id: int
    author: str
    body: str
    created_at: str


class AuditPublic(BaseModel):
    at: str
    action: str
    actor: str
    changes: dict[str, Any]
    note: str | None


class ActionDetailPublic(ActionPublic):
    notes: list[NotePublic]
    audit: list[AuditPublic]


class ActionsPagePublic(BaseModel):
    actions: list[ActionPublic]
    total: int
    page: int
    per_page: int


class WindowPublic(BaseModel):
    start: str
    end: str
    n: int | None
    estimate: float | None
    ci_low: float | None
    ci_high: float | None


class MeasuredChangePublic(BaseModel):
    action_id: int
    metric: str
    metric_label: str
    unit_id: str
    touchpoint_id: str | None
    window_days: int
    state: str = Field(description="not_started, measured or suppressed.")
    before: WindowPublic | None
    after: WindowPublic | None
    difference: float | None = Field(description="after - before.")
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    test: str
    confidence: float
    significant: bool | None
    sentence: str
    caveat: str
    top_box: dict[str, Any] | None


# --- targets ---------------------------------------------------------------------------------------------


def _target_public(session: Session, viewer: Viewer, target: Any) -> TargetPublic:
    return TargetPublic(**tgt.target_seen_by(session, viewer, target))


@router.get("/targets", response_model=TargetsPublic, summary="Targets in your scope", responses=_ERRORS)
def list_targets(
    viewer: ViewerDep,
    session: SessionDep,
    unit: Annotated[str | None, Query(max_length=64, description="Only this unit ...")] = None,
    include: Annotated[
        Literal["unit", "subtree"], Query(description="... alone or with its subtree.")
    ] = "subtree",
    metric: Annotated[str | None, Query(max_length=80)] = None,
    granularity: Granularity | None = None,
    active_on: Annotated[
        date | None, Query(description="Only targets whose period contains this day.")
    ] = None,
) -> TargetsPublic:
    targets = tgt.list_targets(
        session, viewer, unit_id=unit, include=include, metric=metric, granularity=granularity,
        active_on=active_on,
    )  # fmt: skip
    return TargetsPublic(targets=[_target_public(session, viewer, t) for t in targets])


@router.post(
    "/targets", status_code=201, response_model=TargetPublic, summary="Set a target", responses=_ERRORS
)
def create_target(viewer: ViewerDep, session: SessionDep, body: TargetCreate) -> TargetPublic:
    """Create the target of a unit, metric and period, or change the one already set (same rules)."""
    draft = tgt.TargetDraft(**body.model_dump())
    target = tgt.set_target(session, viewer, draft)
    return _target_public(session, viewer, target)


@router.get("/targets/{target_id}", response_model=TargetPublic, responses=_ERRORS)
def read_target(target_id: IdPath, viewer: ViewerDep, session: SessionDep) -> TargetPublic:
    return _target_public(session, viewer, tgt.get_target(session, viewer, target_id))


@router.patch("/targets/{target_id}", response_model=TargetPublic, responses=_ERRORS)
def update_target(
    target_id: IdPath, viewer: ViewerDep, session: SessionDep, body: TargetUpdate
) -> TargetPublic:
    target = tgt.update_target(
        session, viewer, target_id, target_value=body.target_value, rationale=body.rationale
    )
    return _target_public(session, viewer, target)


@router.delete("/targets/{target_id}", status_code=204, responses=_ERRORS)
def delete_target(target_id: IdPath, viewer: ViewerDep, session: SessionDep) -> Response:
    tgt.delete_target(session, viewer, target_id)
    return Response(status_code=204)


@router.get(
    "/targets/{target_id}/progress",
    response_model=TargetProgressPublic,
    summary="Progress against a target, with interval and significance",
    responses=_ERRORS,
)
def target_progress(target_id: IdPath, viewer: ViewerDep, stores: StoresDep) -> TargetProgressPublic:
    progress = tgt.target_progress(viewer, target_id, stores=stores)
    return TargetProgressPublic(**progress.to_dict())


@router.get("/targets/{target_id}/actions", response_model=ActionsPagePublic, responses=_ERRORS)
def target_actions(target_id: IdPath, viewer: ViewerDep, session: SessionDep) -> ActionsPagePublic:
    """The actions meant to reach this target."""
    page = act.list_actions(session, viewer, target_id=target_id, per_page=500)
    return _page(session, page)


# --- actions ---------------------------------------------------------------------------------------------


def _page(session: Session, page: act.ActionPage) -> ActionsPagePublic:
    return ActionsPagePublic(
        actions=[ActionPublic(**act.action_dict(session, a)) for a in page.actions],
        total=page.total,
        page=page.page,
        per_page=page.per_page,
    )


def _audit(events: list[AuditEvent]) -> list[AuditPublic]:
    return [
        AuditPublic(at=e.at.isoformat(), action=e.action, actor=e.actor, changes=e.changes or {}, note=e.note)
        for e in events
    ]


def _detail(session: Session, viewer: Viewer, action_id: int) -> ActionDetailPublic:
    action = act.get_action(session, viewer, action_id)
    notes = [
        NotePublic(id=n.id, author=n.author, body=n.body, created_at=n.created_at.isoformat())
        for n in action.notes
    ]
    return ActionDetailPublic(
        **act.action_dict(session, action),
        notes=notes,
        audit=_audit(act.action_audit(session, viewer, action_id)),
    )


@router.get("/actions", response_model=ActionsPagePublic, summary="Actions in your scope", responses=_ERRORS)
def list_actions(
    viewer: ViewerDep,
    session: SessionDep,
    mine: Annotated[bool, Query(description="Only actions you own.")] = False,
    unit: Annotated[str | None, Query(max_length=64, description="Only this unit ...")] = None,
    include: Annotated[
        Literal["unit", "subtree"], Query(description="... alone or with its subtree.")
    ] = "subtree",
    status: Literal["planned", "in_progress", "done", "cancelled", "open"] | None = None,
    overdue: Annotated[bool, Query(description="Only open actions past their due date.")] = False,
    target_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    page: Annotated[int, Query(ge=1, le=10**6)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ActionsPagePublic:
    result = act.list_actions(
        session, viewer, mine=mine, unit_id=unit, include=include, status=status, overdue=overdue,
        target_id=target_id, page=page, per_page=per_page,
    )  # fmt: skip
    return _page(session, result)


@router.post(
    "/actions",
    status_code=201,
    response_model=ActionDetailPublic,
    summary="Create an action",
    responses=_ERRORS,
)
def create_action(viewer: ViewerDep, session: SessionDep, body: ActionCreate) -> ActionDetailPublic:
    values = body.model_dump()
    values["target_ids"] = tuple(values["target_ids"])
    action = act.create_action(session, viewer, act.ActionDraft(**values))
    return _detail(session, viewer, action.id)


@router.get("/actions/{action_id}", response_model=ActionDetailPublic, responses=_ERRORS)
def read_action(action_id: IdPath, viewer: ViewerDep, session: SessionDep) -> ActionDetailPublic:
    """The action with its notes and audit trail."""
    return _detail(session, viewer, action_id)


@router.patch("/actions/{action_id}", response_model=ActionDetailPublic, responses=_ERRORS)
def update_action(
    action_id: IdPath, viewer: ViewerDep, session: SessionDep, body: ActionUpdate
) -> ActionDetailPublic:
    """Change the fields sent (an explicit ``null`` clears an optional field; title and horizon stay)."""
    changes = body.model_dump(exclude_unset=True)
    if "target_ids" in changes:
        changes["target_ids"] = tuple(changes["target_ids"] or ())
    for required in ("title", "horizon"):  # cannot be cleared: null leaves them as they are
        if required in changes and changes[required] is None:
            del changes[required]
    act.update_action(session, viewer, action_id, changes)
    return _detail(session, viewer, action_id)


@router.post("/actions/{action_id}/transitions", response_model=ActionDetailPublic, responses=_ERRORS)
def transition_action(
    action_id: IdPath, viewer: ViewerDep, session: SessionDep, body: TransitionCreate
) -> ActionDetailPublic:
    """Move the action: planned, in_progress, done, cancelled, or reopen (done -> in_progress,
    cancelled -> planned)."""
    act.transition(session, viewer, action_id, body.to, note=body.note)
    return _detail(session, viewer, action_id)


@router.get("/actions/{action_id}/notes", response_model=list[NotePublic], responses=_ERRORS)
def list_notes(action_id: IdPath, viewer: ViewerDep, session: SessionDep) -> list[NotePublic]:
    action = act.get_action(session, viewer, action_id)
    return [
        NotePublic(id=n.id, author=n.author, body=n.body, created_at=n.created_at.isoformat())
        for n in action.notes
    ]


@router.post("/actions/{action_id}/notes", status_code=201, response_model=NotePublic, responses=_ERRORS)
def add_note(
    action_id: IdPath, viewer: ViewerDep, session: SessionDep, body: Annotated[NoteCreate, Body()]
) -> NotePublic:
    note = act.add_note(session, viewer, action_id, body.body)
    return NotePublic(id=note.id, author=note.author, body=note.body, created_at=note.created_at.isoformat())


@router.get(
    "/actions/{action_id}/measured-change",
    response_model=MeasuredChangePublic,
    summary="Before/after change in the action's linked metric (observational)",
    responses=_ERRORS,
)
def measured_change(
    action_id: IdPath,
    viewer: ViewerDep,
    stores: StoresDep,
    window_days: Annotated[int, Query(ge=7, le=730, description="Length of each window in days.")] = 90,
) -> MeasuredChangePublic:
    change = act.measured_change(viewer, action_id, stores=stores, window_days=window_days)
    return MeasuredChangePublic(**change.to_dict())
