"""Pages for targets and action plans.

* ``GET /targets``: the targets of the viewer's scope with progress (a meter on the metric's scale, the
  interval, the verdict in words) and, for planners, a form to set one.
* ``GET /actions?view=mine|unit|overdue``: action lists, with a form to create one.
* ``GET /actions/{id}``: the action with its notes, audit trail and measured change (a plotly chart drawn by
  ``/static/plans.js`` from JSON in the page: the Content-Security-Policy allows no inline script).
* ``POST /actions/from-priority``: one click from a row of the priorities page (``unit_id``, ``driver``,
  ``touchpoint_id``, ``expected_impact``, ``title``) creates a planned action owned by the unit's
  accountable owner and redirects to it.

Every page takes the logged-in user as the viewer (:data:`~cxloop.web.deps.PageViewerDep`: the login page
without a session) and calls the same services as the API. Every form is CSRF-protected like the login form
(an HMAC of the session id); a form without the session's token is refused with 403 and a sentence saying
to reload the page.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from cxloop.services.access.scope import ScopeError, UnknownUnitError
from cxloop.services.act import actions as act
from cxloop.services.act import targets as tgt
from cxloop.services.act.plan_choices import plan_choices
from cxloop.web.deps import PageViewer, PageViewerDep, SessionDep, StoresDep
from cxloop.web.errors import PageError
from cxloop.web.inputs import IdPath
from cxloop.web.rendering import templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
_STATIC = Path(__file__).resolve().parents[1] / "static"
_VIEWS = {"mine": "My actions", "unit": "My unit's actions", "overdue": "Overdue"}
_PROGRESS_SHOWN = 40  # targets with progress computed on the page; the API lists them all


def _text(value: str | None) -> str:
    return (value or "").strip()


def _optional_float(value: str | None, name: str) -> float | None:
    text = _text(value)
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number, got {text!r}") from None


def _optional_date(value: str | None, name: str) -> date | None:
    text = _text(value)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be a date (YYYY-MM-DD), got {text!r}") from None


def _context(viewer_page: PageViewer, /, **extra: Any) -> dict[str, Any]:
    return viewer_page.context(can_plan=viewer_page.viewer.role in tgt.PLANNERS, **extra)


_EXPIRED = "The form expired or was not sent from cxloop; reload the page and try again."


async def _form_viewer(
    page: PageViewerDep, token: Annotated[str, Form(alias="csrf_token", max_length=128)] = ""
) -> PageViewer:
    """The viewer of a plans form whose CSRF token was issued for their session; else 403, in words that
    tell them to reload the page."""
    if not page.csrf_ok(token):
        raise PageError(403, None, _EXPIRED)
    return page


FormViewerDep = Annotated[PageViewer, Depends(_form_viewer)]


def _not_found(request: Request, page: PageViewer, what: str) -> Response:
    context = _context(page, title="Not found", message=f"{what} is not among the things you can see.")
    return templates.TemplateResponse(request, "plans_message.html", context, status_code=404)


def _redirect(path: str, error: str | None = None) -> RedirectResponse:
    if error:
        path += ("&" if "?" in path else "?") + "error=" + quote(error[:300])
    return RedirectResponse(path, status_code=303)


# --- targets ---------------------------------------------------------------------------------------------


@router.get("/targets")
def targets_page(
    request: Request,
    page: PageViewerDep,
    stores: StoresDep,
    session: SessionDep,
    error: str | None = None,
) -> Response:
    targets = tgt.list_targets(session, page.viewer)
    rows = []
    for k, target in enumerate(targets):
        progress = tgt.target_progress(page.viewer, target, stores=stores) if k < _PROGRESS_SHOWN else None
        spec = tgt.metric_spec(session, target.metric)
        rows.append(
            {
                "target": tgt.target_seen_by(session, page.viewer, target),
                "progress": progress,
                "low": spec.low,
                "high": spec.high,
            }
        )
    context = _context(
        page,
        rows=rows,
        more=max(0, len(targets) - _PROGRESS_SHOWN),
        error=error,
        **plan_choices(session, page.viewer),
    )
    return templates.TemplateResponse(request, "targets.html", context)


@router.post("/targets")
def targets_submit(
    request: Request,
    page: FormViewerDep,
    session: SessionDep,
    unit_id: Annotated[str, Form(max_length=64)],
    metric: Annotated[str, Form(max_length=80)],
    granularity: Annotated[str, Form(max_length=16)],
    period_start: Annotated[str, Form(max_length=20)],
    target_value: Annotated[str, Form(max_length=40)],
    rationale: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    try:
        value = _optional_float(target_value, "the target")
        start = _optional_date(period_start, "the period start")
        if value is None or start is None:
            raise ValueError("give the target's value and a day of its period")
        draft = tgt.TargetDraft(unit_id, metric, granularity, start, value, rationale)
        tgt.set_target(session, page.viewer, draft)
    except (ScopeError, UnknownUnitError):
        return _not_found(request, page, f"Unit {unit_id!r}")
    except (tgt.NotAllowedError, ValueError) as exc:
        return _redirect("/targets", str(exc))
    return _redirect("/targets")


# --- actions ---------------------------------------------------------------------------------------------


@router.get("/actions")
def actions_page(
    request: Request,
    current: PageViewerDep,
    session: SessionDep,
    view: str = "mine",
    page: str = "1",
    error: str | None = None,
) -> Response:
    number = int(page) if page.isascii() and page.isdigit() and len(page) <= 6 and int(page) >= 1 else 1
    return _actions_list(request, current, session, view, number, error)


def _actions_list(
    request: Request, current: PageViewer, session: Session, view: str, number: int, error: str | None
) -> Response:
    view = view if view in _VIEWS else "mine"
    result = act.list_actions(
        session,
        current.viewer,
        mine=view == "mine",
        unit_id=current.viewer.unit_id if view == "unit" else None,
        overdue=view == "overdue",
        status="open" if view == "overdue" else None,
        page=number,
        per_page=50,
    )
    rows = [act.action_dict(session, a) for a in result.actions]
    context = _context(
        current, view=view, views=_VIEWS, rows=rows, total=result.total, page=number,
        pages=max(1, -(-result.total // 50)), error=error, **plan_choices(session, current.viewer),
    )  # fmt: skip
    return templates.TemplateResponse(request, "actions.html", context)


@router.post("/actions")
def actions_submit(
    request: Request,
    page: FormViewerDep,
    session: SessionDep,
    title: Annotated[str, Form(max_length=200)],
    unit_id: Annotated[str, Form(max_length=64)],
    owner: Annotated[str, Form(max_length=320)] = "",
    description: Annotated[str, Form(max_length=20000)] = "",
    driver: Annotated[str, Form(max_length=64)] = "",
    touchpoint_id: Annotated[str, Form(max_length=64)] = "",
    due_date: Annotated[str, Form(max_length=20)] = "",
    horizon: Annotated[str, Form(max_length=16)] = "short_term",
    cost: Annotated[str, Form(max_length=40)] = "",
    impact_metric: Annotated[str, Form(max_length=80)] = "",
    impact_points: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    try:
        draft = act.ActionDraft(
            title=title,
            unit_id=unit_id,
            owner=_text(owner) or None,
            description=description,
            driver=_text(driver) or None,
            touchpoint_id=_text(touchpoint_id) or None,
            due_date=_optional_date(due_date, "the due date"),
            horizon=_text(horizon) or "short_term",
            cost=_optional_float(cost, "the cost"),
            impact_metric=_text(impact_metric) or None,
            impact_points=_optional_float(impact_points, "the expected impact"),
        )
        action = act.create_action(session, page.viewer, draft)
    except (ScopeError, UnknownUnitError):
        return _not_found(request, page, f"Unit {unit_id!r}")
    except (tgt.NotAllowedError, tgt.TargetNotFoundError, ValueError) as exc:
        return _redirect("/actions", str(exc))
    return _redirect(f"/actions/{action.id}")


@router.post("/actions/from-priority")
def action_from_priority(
    request: Request,
    page: FormViewerDep,
    session: SessionDep,
    unit_id: Annotated[str, Form(max_length=64)],
    driver: Annotated[str, Form(max_length=64)] = "",
    touchpoint_id: Annotated[str, Form(max_length=64)] = "",
    expected_impact: Annotated[str, Form(max_length=80)] = "",
    title: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """One click from a priority: a planned action owned by the unit's accountable owner."""
    impact = _text(expected_impact)
    if impact.lower() in {"none", "nan", "null"}:
        impact = ""
    try:
        action = act.create_from_priority(
            session,
            page.viewer,
            unit_id=unit_id,
            driver=_text(driver),
            title=title,
            touchpoint_id=_text(touchpoint_id) or None,
            expected_impact=impact,
        )
    except (ScopeError, UnknownUnitError):
        return _not_found(request, page, f"Unit {unit_id!r}")
    except (tgt.NotAllowedError, ValueError) as exc:
        return _redirect("/actions", str(exc))
    return _redirect(f"/actions/{action.id}")


@router.get("/actions/{action_id}")
def action_page(
    request: Request,
    page: PageViewerDep,
    stores: StoresDep,
    session: SessionDep,
    action_id: IdPath,
    error: str | None = None,
) -> Response:
    try:
        action = act.get_action(session, page.viewer, action_id)
        change = act.measured_change(page.viewer, action_id, stores=stores)
    except act.ActionNotFoundError:
        return _not_found(request, page, f"Action {action_id}")
    except (ScopeError, UnknownUnitError):
        change = None  # the owner sees an action of a unit outside their subtree, not its numbers
    record = act.action_dict(session, action)
    status = act.ActionStatus(action.status)
    moves = sorted(s.value for s in act.TRANSITIONS[status])
    if status in (act.ActionStatus.done, act.ActionStatus.cancelled):
        moves = ["reopen"]
    context = _context(
        page,
        action=record,
        notes=action.notes,
        audit=act.action_audit(session, page.viewer, action_id),
        moves=moves,
        change=change,
        chart=act.change_chart(change) if change is not None else None,
        error=error,
    )
    return templates.TemplateResponse(request, "action.html", context)


@router.post("/actions/{action_id}/transition")
def action_transition(
    request: Request,
    page: FormViewerDep,
    session: SessionDep,
    action_id: IdPath,
    to: Annotated[str, Form(max_length=16)],
    note: Annotated[str, Form(max_length=10000)] = "",
) -> Response:
    try:
        act.transition(session, page.viewer, action_id, to, note=note or None)
    except act.ActionNotFoundError:
        return _not_found(request, page, f"Action {action_id}")
    except (tgt.NotAllowedError, ValueError) as exc:
        return _redirect(f"/actions/{action_id}", str(exc))
    return _redirect(f"/actions/{action_id}")


@router.post("/actions/{action_id}/notes")
def action_note(
    request: Request,
    page: FormViewerDep,
    session: SessionDep,
    action_id: IdPath,
    body: Annotated[str, Form(max_length=10000)],
) -> Response:
    try:
        act.add_note(session, page.viewer, action_id, body)
    except act.ActionNotFoundError:
        return _not_found(request, page, f"Action {action_id}")
    except (tgt.NotAllowedError, ValueError) as exc:
        return _redirect(f"/actions/{action_id}", str(exc))
    return _redirect(f"/actions/{action_id}")


@router.get("/static/plans.js")
def plans_js() -> FileResponse:
    return FileResponse(
        _STATIC / "plans.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )
