"""Pages for cases: my cases, a unit's cases, a case with the customer's history, value and audit trail.

Same services as ``/api/v1/cases`` with the same viewer; a case or unit outside the viewer's subtree is a
404 page, like one that does not exist. The viewer comes from :data:`~cxloop.web.deps.PageViewerDep` (the
login page without a session); forms post with the session's CSRF token
(:data:`~cxloop.web.deps.FormViewerDep`).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from ibis.backends import BaseBackend
from sqlalchemy.orm import Session

from cxloop.services.access import identity
from cxloop.services.access.scope import ScopeError, UnknownUnitError, require_unit
from cxloop.services.access.units import get_unit
from cxloop.services.act import cases as svc
from cxloop.web.deps import FormViewerDep, PageViewer, PageViewerDep, SessionDep, SettingsDep, WarehouseDep
from cxloop.web.errors import PageError
from cxloop.web.inputs import IdPath
from cxloop.web.rendering import templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

PER_PAGE = 25
STATUS_LABELS = {
    "new": "New",
    "contacted": "Contacted",
    "in_progress": "In progress",
    "resolved": "Resolved",
    "closed": "Closed",
}


def _not_found(what: str) -> PageError:
    return PageError.not_found(f"No {what} among what you can see.")


def _list_page(
    request: Request,
    page: PageViewer,
    session: Session,
    *,
    unit_id: str | None,
    status: str,
    number: int,
) -> Response:
    viewer = page.viewer
    unit = None
    if unit_id is not None:
        try:
            require_unit(session, viewer, unit_id)
        except (ScopeError, UnknownUnitError):
            raise _not_found(f"unit {unit_id}") from None
        unit = get_unit(session, unit_id)
    open_only = status == "open"
    statuses = [status] if status in STATUS_LABELS else None
    result = svc.list_cases(
        session,
        viewer,
        mine=unit_id is None,
        unit_id=unit_id,
        status=statuses,
        open_only=open_only,
        overdue=status == "overdue",
        page=number,
        per_page=PER_PAGE,
    )
    emails = identity.user_emails(session, {c.owner_user_id for c in result.cases})
    rows = [
        {"case": c, "owner": emails.get(c.owner_user_id or -1, "unassigned"), "sla": svc.sla_state(c)}
        for c in result.cases
    ]

    def link(**changes: Any) -> str:
        query = {"status": status, "page": number, **changes}
        return "?" + urlencode({k: v for k, v in query.items() if v not in (None, "")})

    context = page.context(
        status_labels=STATUS_LABELS,
        rows=rows,
        result=result,
        unit=unit,
        status=status,
        title=f"Cases: {unit.name}" if unit else "My cases",
        previous_link=link(page=number - 1) if number > 1 else None,
        next_link=link(page=number + 1) if number < result.pages else None,
        filters=[("open", "Open"), ("overdue", "Overdue"), *STATUS_LABELS.items(), ("all", "All")],
    )
    return templates.TemplateResponse(request, "cases.html", context)


@router.get("/cases")
def my_cases(
    request: Request,
    page: PageViewerDep,
    session: SessionDep,
    status: Annotated[str, Query(max_length=16)] = "open",
    number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    return _list_page(request, page, session, unit_id=None, status=status, number=number)


@router.get("/units/{unit_id}/cases")
def unit_cases(
    unit_id: str,
    request: Request,
    page: PageViewerDep,
    session: SessionDep,
    status: Annotated[str, Query(max_length=16)] = "open",
    number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> Response:
    return _list_page(request, page, session, unit_id=unit_id, status=status, number=number)


def _detail(
    request: Request,
    page: PageViewer,
    session: Session,
    con: BaseBackend,
    case_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    viewer = page.viewer
    try:
        data = svc.case_detail(session, viewer, case_id, con)
    except svc.CaseNotFoundError:
        raise _not_found(f"case {case_id}") from None
    case = data["case"]
    emails = identity.user_emails(session, {case.owner_user_id})
    context = page.context(
        status_labels=STATUS_LABELS,
        **data,
        owner_email=emails.get(case.owner_user_id or -1, "unassigned"),
        unit=get_unit(session, case.unit_id),
        error=error,
        root_causes=svc.ROOT_CAUSES,
        actions=data["next_steps"],
        can_act=viewer.role.value != "analyst",
        response=case.details.get("response") or {},
    )
    return templates.TemplateResponse(request, "case.html", context, status_code=status_code)


@router.get("/cases/{case_id}")
def case_page(
    case_id: IdPath, request: Request, page: PageViewerDep, session: SessionDep, con: WarehouseDep
) -> Response:
    return _detail(request, page, session, con, case_id)


@router.post("/cases/{case_id}/transition")
def case_transition(
    case_id: IdPath,
    request: Request,
    page: FormViewerDep,
    settings: SettingsDep,
    session: SessionDep,
    con: WarehouseDep,
    to: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=5000)] = "",
    root_cause: Annotated[str, Form(max_length=64)] = "",
    resolution_note: Annotated[str, Form(max_length=5000)] = "",
    follow_up_score: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    user, viewer = page.user, page.viewer
    score: float | None = None
    if follow_up_score.strip():
        try:
            score = float(follow_up_score)
        except ValueError:
            error = "The follow-up score is a number 0-10."
            return _detail(request, page, session, con, case_id, error=error, status_code=422)
    try:
        with session.begin_nested():
            svc.transition(
                session,
                viewer,
                case_id,
                to,
                actor=identity.Actor.user(user.id, user.email),
                note=note or None,
                root_cause=root_cause or None,
                resolution_note=resolution_note or None,
                follow_up_score=score,
                settings=settings,
            )
    except svc.CaseNotFoundError:
        raise _not_found(f"case {case_id}") from None
    except svc.NotAllowedError as exc:
        return _detail(request, page, session, con, case_id, error=str(exc), status_code=403)
    except svc.TransitionError as exc:
        code = 409 if "cannot move" in str(exc) else 422
        return _detail(request, page, session, con, case_id, error=str(exc), status_code=code)
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/note")
def case_note(
    case_id: IdPath,
    request: Request,
    page: FormViewerDep,
    session: SessionDep,
    con: WarehouseDep,
    note: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    user = page.user
    try:
        svc.add_note(session, page.viewer, case_id, note, actor=identity.Actor.user(user.id, user.email))
    except svc.CaseNotFoundError:
        raise _not_found(f"case {case_id}") from None
    except (svc.NotAllowedError, svc.TransitionError) as exc:
        return _detail(request, page, session, con, case_id, error=str(exc), status_code=422)
    return RedirectResponse(f"/cases/{case_id}", status_code=303)
