"""Cases and alert rules: ``/api/v1/cases``, ``/api/v1/rules``.

Thin over :mod:`cxloop.services.act.cases` and :mod:`cxloop.services.act.rules.engine`: every call passes the
viewer, so a case outside the viewer's subtree answers 404 exactly like one that does not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StrictBool, StrictFloat
from sqlalchemy.orm import Session

from cxloop.services.access import identity
from cxloop.services.access.scope import Viewer, require_unit
from cxloop.services.act import cases as svc
from cxloop.services.act import recovery as outcomes
from cxloop.services.act.cases import AlertRule, Case, CaseStatus
from cxloop.services.act.rules import engine as alerts
from cxloop.web.deps import SessionDep, SettingsDep, ViewerDep, WarehouseDep
from cxloop.web.errors import ApiError
from cxloop.web.inputs import IdPath
from cxloop.web.schemas import ErrorPublic, UtcDateTime

__all__ = ["actor_for", "case_public", "router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "No or invalid credentials."},
    403: {"model": ErrorPublic, "description": "Your role may see this but not change it."},
    404: {"model": ErrorPublic, "description": "Unknown, or outside your scope."},
    409: {"model": ErrorPublic, "description": "The workflow does not allow this move now."},
    422: {"model": ErrorPublic, "description": "Malformed or impossible input."},
}
router = APIRouter(tags=["cases"], responses=_ERRORS)


class CasePublic(BaseModel):
    id: int
    title: str
    status: str
    rule_id: int
    rule: str | None
    unit_id: str
    response_id: str | None
    customer_id: str | None
    owner_user_id: int | None
    owner: str | None = Field(description="The accountable owner's e-mail.")
    opened_at: UtcDateTime
    first_contact_due: UtcDateTime
    resolution_due: UtcDateTime
    first_contacted_at: UtcDateTime | None
    resolved_at: UtcDateTime | None
    closed_at: UtcDateTime | None
    escalation_level: int
    reopened_count: int
    root_cause: str | None
    resolution_note: str | None
    follow_up_score: float | None
    details: dict[str, Any]


class CasesPagePublic(BaseModel):
    cases: list[CasePublic]
    total: int
    page: int
    per_page: int
    pages: int


class AuditEventPublic(BaseModel):
    at: UtcDateTime
    action: str
    actor: str
    changes: dict[str, Any]
    note: str | None


class CaseDetailPublic(BaseModel):
    case: CasePublic
    sla: dict[str, Any] = Field(
        description="Each clock (first_contact, resolution): running, met or breached."
    )
    trail: list[AuditEventPublic] = Field(description="Every change, oldest first: who, what, when.")
    history: list[dict[str, Any]] = Field(description="The customer's responses in units you can see.")
    value: dict[str, Any] | None = Field(
        description="The customer's segment, value tier and spend, if known."
    )
    other_cases: list[CasePublic]
    allowed: list[str] = Field(description="The statuses this case may move to now.")


class TransitionCreate(BaseModel):
    to: str = Field(description="new status: contacted, in_progress, resolved, closed (reopen: in_progress)")
    note: str | None = Field(None, max_length=5000)
    root_cause: str | None = Field(
        None, max_length=64, description="Required to close; see GET /api/v1/cases/root-causes."
    )
    resolution_note: str | None = Field(None, max_length=5000, description="Required to close.")
    follow_up_score: StrictFloat | None = Field(None, description="The customer's NPS (0-10) after contact.")


class NoteCreate(BaseModel):
    note: str = Field(min_length=1, max_length=5000)


class RulePublic(BaseModel):
    id: int
    name: str
    kind: str
    params: dict[str, Any]
    survey_id: str | None
    unit_id: str | None
    first_contact_hours: float
    resolution_hours: float
    priority: str
    active: bool
    created_by: str
    created_at: UtcDateTime


class RuleCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(description="See GET /api/v1/rules/kinds.")
    params: dict[str, Any] = Field(default_factory=dict)
    survey_id: str | None = Field(None, max_length=64)
    unit_id: str | None = Field(None, max_length=64, description="Only responses in this subtree.")
    first_contact_hours: StrictFloat = Field(24.0, gt=0, le=24 * 365)
    resolution_hours: StrictFloat = Field(120.0, gt=0, le=24 * 365)
    priority: str = Field("normal", max_length=16)


class RuleUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    kind: str | None = None
    params: dict[str, Any] | None = None
    survey_id: str | None = None
    unit_id: str | None = None
    first_contact_hours: StrictFloat | None = Field(None, gt=0, le=24 * 365)
    resolution_hours: StrictFloat | None = Field(None, gt=0, le=24 * 365)
    priority: str | None = Field(None, max_length=16)
    active: StrictBool | None = None


def actor_for(session: Session, viewer: Viewer) -> identity.Actor:
    """Who the audit trail names: the user (by e-mail), or the API key's scope."""
    return identity.audit_actor(session, viewer, otherwise=f"api-key@{viewer.unit_id}")


def case_public(case: Case, emails: dict[int, str] | None = None) -> CasePublic:
    owner = None
    if case.owner_user_id is not None:
        owner = (emails or {}).get(case.owner_user_id) or (case.owner.email if case.owner else None)
    return CasePublic(
        id=case.id,
        title=case.title,
        status=str(case.status),
        rule_id=case.rule_id,
        rule=case.details.get("rule"),
        unit_id=case.unit_id,
        response_id=case.response_id,
        customer_id=case.customer_id,
        owner_user_id=case.owner_user_id,
        owner=owner,
        opened_at=case.opened_at,
        first_contact_due=case.first_contact_due,
        resolution_due=case.resolution_due,
        first_contacted_at=case.first_contacted_at,
        resolved_at=case.resolved_at,
        closed_at=case.closed_at,
        escalation_level=case.escalation_level,
        reopened_count=case.reopened_count,
        root_cause=case.root_cause,
        resolution_note=case.resolution_note,
        follow_up_score=case.follow_up_score,
        details=case.details,
    )


def _rule_public(rule: AlertRule) -> RulePublic:
    return RulePublic.model_validate(rule, from_attributes=True)


@router.get("/api/v1/cases", response_model=CasesPagePublic, summary="Cases you can see (yours, a unit's)")
def list_cases(
    viewer: ViewerDep,
    session: SessionDep,
    mine: Annotated[bool, Query(description="Only cases you own.")] = False,
    unit: Annotated[str | None, Query(max_length=64, description="Only this unit's subtree.")] = None,
    status: Annotated[
        list[CaseStatus] | None, Query(description="Any of these statuses (repeat the parameter).")
    ] = None,
    open: Annotated[bool, Query(description="Only open cases (new, contacted, in progress).")] = False,  # noqa: A002
    overdue: Annotated[bool, Query(description="Only open cases with a breached SLA clock.")] = False,
    rule: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Only cases of this rule id.")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=200)] = 50,
) -> CasesPagePublic:
    if unit is not None:
        require_unit(session, viewer, unit)
    result = svc.list_cases(
        session,
        viewer,
        mine=mine,
        unit_id=unit,
        status=[s.value for s in status] if status else None,
        open_only=open,
        overdue=overdue,
        rule_id=rule,
        page=page,
        per_page=per_page,
    )
    return CasesPagePublic(
        cases=[case_public(c) for c in result.cases],
        total=result.total,
        page=result.page,
        per_page=result.per_page,
        pages=result.pages,
    )


@router.get("/api/v1/cases/root-causes", summary="Root-cause codes a case is closed with")
def root_causes() -> dict[str, str]:
    return dict(svc.ROOT_CAUSES)


@router.get("/api/v1/cases/outcomes", summary="Closing the loop: recovery and retention of detractors")
def case_outcomes(
    viewer: ViewerDep,
    session: SessionDep,
    settings: SettingsDep,
    con: WarehouseDep,
    unit: Annotated[str | None, Query(max_length=64)] = None,
    days: Annotated[int, Query(ge=7, le=730, description="Retention window after the response.")] = 90,
) -> dict[str, Any]:
    if unit is not None:
        require_unit(session, viewer, unit)
    result = outcomes.loop_outcomes(
        session,
        viewer,
        con,
        unit_id=unit,
        window_days=days,
        confidence=settings.confidence,
        min_n=settings.min_n,
    )
    return result.to_dict()


@router.get("/api/v1/cases/{case_id}", response_model=CaseDetailPublic, summary="A case with its trail")
def case_detail(
    case_id: IdPath, viewer: ViewerDep, session: SessionDep, con: WarehouseDep
) -> CaseDetailPublic:
    data = svc.case_detail(session, viewer, case_id, con)
    return CaseDetailPublic(
        case=case_public(data["case"]),
        sla=data["sla"],
        trail=[AuditEventPublic.model_validate(e, from_attributes=True) for e in data["trail"]],
        history=data["history"],
        value=data["value"],
        other_cases=[case_public(c) for c in data["other_cases"]],
        allowed=data["allowed"],
    )


@router.post("/api/v1/cases/{case_id}/transitions", response_model=CasePublic, summary="Move a case on")
def post_transition(
    case_id: IdPath, body: TransitionCreate, viewer: ViewerDep, session: SessionDep, settings: SettingsDep
) -> CasePublic:
    """Change the status (audited). Closing needs `root_cause` and `resolution_note`; a resolved or closed
    case moved to `in_progress` is reopened."""
    try:
        case = svc.transition(
            session,
            viewer,
            case_id,
            body.to,
            actor=actor_for(session, viewer),
            note=body.note,
            root_cause=body.root_cause,
            resolution_note=body.resolution_note,
            follow_up_score=body.follow_up_score,
            settings=settings,
        )
    except svc.TransitionError as exc:
        code = 409 if "cannot move" in str(exc) else 422
        raise ApiError(code, "transition_refused", exc.detail()) from None
    return case_public(case)


@router.post("/api/v1/cases/{case_id}/notes", response_model=CasePublic, summary="Add a progress note")
def post_note(case_id: IdPath, body: NoteCreate, viewer: ViewerDep, session: SessionDep) -> CasePublic:
    try:
        case = svc.add_note(session, viewer, case_id, body.note, actor=actor_for(session, viewer))
    except svc.TransitionError as exc:
        raise ApiError(422, "validation_error", str(exc)) from None
    return case_public(case)


# --- rules ---------------------------------------------------------------------------------------------


@router.get("/api/v1/rules/kinds", summary="Kinds of alert rule and their parameters")
def rule_kinds(_viewer: ViewerDep) -> list[dict[str, Any]]:
    return [
        {"kind": k.name, "description": k.description, "example": dict(k.example)}
        for k in sorted(alerts.KINDS.values(), key=lambda k: k.name)
    ]


@router.get("/api/v1/rules", response_model=list[RulePublic], summary="Alert rules")
def list_rules(_viewer: ViewerDep, session: SessionDep) -> list[RulePublic]:
    return [_rule_public(r) for r in alerts.list_rules(session)]


def _rule_errors(action: Any) -> Any:
    """Run a rule service call; a rule it cannot accept is a ``validation_error`` (the rest is answered by the
    app's error mapping: 404 ``rule_not_found``, 403 ``forbidden``)."""
    try:
        return action()
    except alerts.RuleError as exc:
        raise ApiError(422, "validation_error", str(exc)) from None


@router.post(
    "/api/v1/rules", response_model=RulePublic, status_code=201, summary="Create an alert rule (admins)"
)
def create_rule(body: RuleCreate, viewer: ViewerDep, session: SessionDep) -> RulePublic:
    actor = actor_for(session, viewer)
    rule = _rule_errors(lambda: alerts.create_rule(session, viewer, actor=actor, **body.model_dump()))
    return _rule_public(rule)


@router.get("/api/v1/rules/{rule_id}", response_model=RulePublic, summary="One alert rule")
def get_rule(rule_id: IdPath, _viewer: ViewerDep, session: SessionDep) -> RulePublic:
    return _rule_public(_rule_errors(lambda: alerts.get_rule(session, rule_id)))


@router.patch("/api/v1/rules/{rule_id}", response_model=RulePublic, summary="Change an alert rule (admins)")
def update_rule(rule_id: IdPath, body: RuleUpdate, viewer: ViewerDep, session: SessionDep) -> RulePublic:
    actor = actor_for(session, viewer)
    changes = body.model_dump(exclude_unset=True)
    rule = _rule_errors(lambda: alerts.update_rule(session, viewer, rule_id, actor=actor, **changes))
    return _rule_public(rule)


@router.delete("/api/v1/rules/{rule_id}", response_model=RulePublic, summary="Disable an alert rule (admins)")
def disable_rule(rule_id: IdPath, viewer: ViewerDep, session: SessionDep) -> RulePublic:
    """Rules are disabled, not deleted: their cases and audit trail stay."""
    actor = actor_for(session, viewer)
    return _rule_public(_rule_errors(lambda: alerts.disable_rule(session, viewer, rule_id, actor=actor)))
