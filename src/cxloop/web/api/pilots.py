"""Pilots, the programme view and themes as JSON.

The routes call the same services as the pages (:mod:`cxloop.services.prove.pilots`,
:mod:`cxloop.services.understand.themes`) with the viewer of the credentials, and the analysis reads the
same parameters as the report page (:data:`~cxloop.web.queries.PilotAnalysisDep`). Scope: a pilot is
visible when one of its treated units lies in the viewer's subtree; any other pilot answers 404
``pilot_not_found``, whether it exists or not. Errors are the app's mapping (:mod:`cxloop.web.errors`) but
for what a pilot write answers on its own (:func:`_write_errors`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field, StrictFloat, StrictInt
from sqlalchemy.orm import Session

from cxloop.services.access.identity import get_user
from cxloop.services.access.scope import ScopeError, UnknownUnitError, Viewer
from cxloop.services.jsonable import jsonable
from cxloop.services.prove import pilots as svc
from cxloop.services.prove.pilots import PilotDraft, PilotStoreError
from cxloop.services.understand.theme_drivers import priorities_with_themes, theme_priorities
from cxloop.services.understand.themes import theme_impact
from cxloop.web.deps import SessionDep, StoresDep, ViewerDep, WarehouseDep
from cxloop.web.errors import ApiError
from cxloop.web.queries import PilotAnalysisDep
from cxloop.web.schemas import ErrorPublic

__all__ = ["DecisionCreate", "PilotCreate", "WaveCreate", "router"]

router = APIRouter(prefix="/api/v1", tags=["pilots"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "No or invalid credentials."},
    403: {"model": ErrorPublic, "description": "Your role may read pilots but not change them."},
    404: {"model": ErrorPublic, "description": "No such pilot (or unit) in your scope, or no data."},
    409: {"model": ErrorPublic, "description": "A pilot with this name exists already."},
    422: {"model": ErrorPublic, "description": "A parameter is missing, malformed or cannot be combined."},
}
PilotId = Annotated[int, Path(ge=1, le=2**31 - 1, description="A pilot id (see GET /api/v1/pilots).")]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class PilotCreate(BaseModel):
    """A new pilot: which units (and optionally touchpoints, segments) try what, from when, at what cost."""

    name: str = Field(min_length=1, max_length=200)
    hypothesis: str = Field("", max_length=4000)
    units: list[Name] = Field(min_length=1, max_length=500, description="Treated unit ids.")
    start_date: date
    end_date: date | None = None
    one_off_cost: StrictFloat = Field(0.0, ge=0, le=1e12)
    running_cost: StrictFloat = Field(0.0, ge=0, le=1e12, description="Cost a month.")
    touchpoints: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field([], max_length=50)
    segments: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field([], max_length=50)
    target_metrics: list[Literal["nps", "churn", "margin_per_customer", "repurchase"]] = Field(
        ["nps"], min_length=1, max_length=4
    )
    linked_actions: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field([], max_length=50)
    controls: list[Name] = Field([], max_length=500, description="Named control units (default: matched).")


class DecisionCreate(BaseModel):
    """A decision after measuring a pilot (or one of its waves)."""

    decision: Literal["scale", "iterate", "stop"]
    note: str = Field("", max_length=4000)
    wave_id: StrictInt | None = Field(None, ge=1, le=2**31 - 1)


class WaveCreate(BaseModel):
    """A rollout wave taking the pilot's change to further units."""

    name: str = Field(min_length=1, max_length=200)
    units: list[Name] = Field(min_length=1, max_length=500)
    start_date: date
    end_date: date | None = None
    one_off_cost: StrictFloat = Field(0.0, ge=0, le=1e12)
    running_cost: StrictFloat = Field(0.0, ge=0, le=1e12)
    note: str = Field("", max_length=4000)


@contextmanager
def _write_errors() -> Iterator[None]:
    """What a pilot write answers beyond the error mapping: a taken name is 409 ``conflict``, and a unit
    outside the scope reads exactly like an unknown one (404 ``unit_not_found``, without suggestions)."""
    try:
        yield
    except (ScopeError, UnknownUnitError) as exc:
        raise ApiError(
            404, "unit_not_found", f"no unit {exc.unit_id!r} among the units you can see"
        ) from None
    except PilotStoreError as exc:
        if "exists already" in str(exc):
            raise ApiError(409, "conflict", str(exc)) from None
        raise


@router.get("/pilots", responses=_ERRORS, summary="Pilots touching your scope")
def list_pilots(viewer: ViewerDep, session: SessionDep) -> dict[str, Any]:
    """Every pilot with at least one treated unit (the pilot's or a wave's) in your subtree."""
    return {"items": [jsonable(svc.pilot_dict(p)) for p in svc.list_pilots(session, viewer)]}


@router.post("/pilots", status_code=201, responses=_ERRORS, summary="Create a pilot")
def create_pilot(body: PilotCreate, viewer: ViewerDep, session: SessionDep) -> dict[str, Any]:
    """Every unit (and named control) must lie in your subtree; the name must be new."""
    draft = PilotDraft(
        name=body.name,
        start_date=body.start_date,
        end_date=body.end_date,
        units=tuple(body.units),
        hypothesis=body.hypothesis,
        one_off_cost=body.one_off_cost,
        running_cost=body.running_cost,
        touchpoints=tuple(body.touchpoints),
        segments=tuple(body.segments),
        target_metrics=tuple(dict.fromkeys(body.target_metrics)),
        linked_actions=tuple(body.linked_actions),
        controls=tuple(body.controls),
        created_by=viewer.user_id,
    )
    with _write_errors():
        pilot = svc.create_pilot(session, viewer, draft, actor=_who(session, viewer))
    return jsonable(svc.pilot_dict(pilot))


@router.get("/pilots/{pilot_id}", responses=_ERRORS, summary="One pilot")
def show_pilot(pilot_id: PilotId, viewer: ViewerDep, session: SessionDep) -> dict[str, Any]:
    return jsonable(svc.pilot_dict(svc.get_pilot(session, viewer, pilot_id)))


@router.get("/pilots/{pilot_id}/analysis", responses=_ERRORS, summary="Impact, balance, ROI of a pilot")
def analyse_pilot(
    pilot_id: PilotId,
    viewer: ViewerDep,
    session: SessionDep,
    con: WarehouseDep,
    query: PilotAnalysisDep,
) -> dict[str, Any]:
    """Difference-in-differences against matched controls per outcome, pre-trend test, event study,
    balance table, ROI with interval and sensitivity, the result in plain words and the assumptions."""
    try:
        analysis = query.ask(viewer, pilot_id, session=session, con=con)
    except ValueError as exc:
        raise ApiError(422, "bad_request", f"cannot analyse this pilot: {exc}") from None
    return jsonable(analysis.to_dict())


@router.post("/pilots/{pilot_id}/decisions", status_code=201, responses=_ERRORS, summary="Record a decision")
def record_decision(
    pilot_id: PilotId, body: DecisionCreate, viewer: ViewerDep, session: SessionDep
) -> dict[str, Any]:
    """Scale, iterate or stop, on the pilot or one of its waves (audited)."""
    with _write_errors():
        pilot = svc.decide(
            session,
            viewer,
            pilot_id,
            body.decision,
            note=body.note,
            wave=body.wave_id,
            decided_by=_who(session, viewer),
        )
    return jsonable(svc.pilot_dict(pilot))


@router.post("/pilots/{pilot_id}/waves", status_code=201, responses=_ERRORS, summary="Add a rollout wave")
def add_wave(pilot_id: PilotId, body: WaveCreate, viewer: ViewerDep, session: SessionDep) -> dict[str, Any]:
    with _write_errors():
        pilot = svc.add_wave(
            session,
            viewer,
            pilot_id,
            name=body.name,
            start_date=body.start_date,
            units=list(body.units),
            end_date=body.end_date,
            one_off_cost=body.one_off_cost,
            running_cost=body.running_cost,
            note=body.note,
            actor=_who(session, viewer),
        )
    return jsonable(svc.pilot_dict(pilot))


@router.get("/programme", responses=_ERRORS, summary="Every pilot and wave with impact, ROI and decision")
def programme(
    viewer: ViewerDep,
    session: SessionDep,
    con: WarehouseDep,
    discount_rate: Annotated[float, Query(ge=0, le=1)] = 0.1,
) -> dict[str, Any]:
    """Each wave is measured like its pilot and benchmarked against the pilot's ROI (``roi_vs_pilot``)."""
    frame = svc.programme(session, con, viewer, discount_rate=discount_rate)
    return {"items": jsonable(frame)}


@router.get("/themes", responses=_ERRORS, summary="Themes in comments and what they weigh")
def themes(
    viewer: ViewerDep,
    stores: StoresDep,
    unit: Annotated[
        str | None, Query(min_length=1, max_length=64, description="A unit in your scope.")
    ] = None,
    touchpoint: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    segment: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to", description="Exclusive.")] = None,
    outcome: Literal["nps", "nps_points", "csat", "ces"] = "nps",
) -> dict[str, Any]:
    """Per theme: volume, share, sentiment, effect on the score with its interval, rank; monthly trend
    and emerging themes. Cells with fewer than ``min_n`` comments are suppressed (null)."""
    if start and end and start >= end:
        raise ValueError(f"from {start} must be before to {end}")
    result = theme_impact(
        viewer,
        stores=stores,
        unit=unit,
        touchpoint=touchpoint,
        segment=segment,
        start=start,
        end=end,
        outcome=outcome,
    )
    return jsonable(
        {
            "comments": result.comments,
            "outcome": result.outcome,
            "adjusted_for": list(result.adjusted_for),
            "codebook_version": result.codebook_version,
            "min_n": result.min_n,
            "confidence": result.confidence,
            "themes": result.frame,
            "trend": result.trend,
            "emerging": result.emerging,
        }
    )


@router.get("/themes/drivers", responses=_ERRORS, summary="Themes as drivers of NPS")
def theme_drivers(
    viewer: ViewerDep,
    stores: StoresDep,
    unit: Annotated[
        str | None, Query(min_length=1, max_length=64, description="A unit in your scope.")
    ] = None,
    touchpoint: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    segment: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    share_closed: Annotated[float, Query(gt=0, le=1)] = 0.5,
    with_items: Annotated[bool, Query(description="Rank the rated items and the themes together.")] = False,
) -> dict[str, Any]:
    """What each complaint theme costs in NPS points (expected gain of removing ``share_closed`` of it)
    and in money a year; with ``with_items`` the priorities' item rows ranked with them."""
    scope: dict[str, Any] = {"unit_id": unit, "touchpoint": touchpoint, "segment": segment}
    if with_items:
        _, frame = priorities_with_themes(viewer, share_closed=share_closed, stores=stores, **scope)
    else:
        frame = theme_priorities(viewer, share_closed=share_closed, stores=stores, **scope).frame
    return {"items": jsonable(frame)}


def _who(session: Session, viewer: Viewer) -> str:
    user = get_user(session, viewer.user_id) if viewer.user_id else None
    return user.email if user else f"{viewer.role.value} at {viewer.unit_id}"
