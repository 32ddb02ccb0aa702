"""Pages for pilots (list, create, show, report, printable export, decision), the programme view, and the
themes page.

Thin over :mod:`cxloop.services.prove.pilots` and :mod:`cxloop.services.understand.themes`, like the JSON
routes in :mod:`cxloop.web.api.pilots`: a pilot outside the viewer's scope answers 404 exactly like an
unknown one (:data:`PagePilotDep`), and the report reads the API's analysis parameters
(:data:`~cxloop.web.queries.PilotAnalysisDep`). Charts are drawn by plotly.js (served from the package)
from JSON embedded in the page; the printable export is one self-contained HTML file (inline SVG charts
and print CSS, no script).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from ibis.backends import BaseBackend
from sqlalchemy.orm import Session

from cxloop.services.access.scope import ScopeError, UnknownUnitError, Viewer
from cxloop.services.access.units import Unit, visible_unit_rows
from cxloop.services.jsonable import jsonable
from cxloop.services.prove import pilots as svc
from cxloop.services.prove.pilots import PilotDraft, PilotStoreError
from cxloop.services.understand.themes import NoCodebookError, load_codebook, theme_breakdown, theme_impact
from cxloop.web.deps import (
    FormViewerDep,
    PageUnitDep,
    PageViewer,
    PageViewerDep,
    SessionDep,
    StoresDep,
    WarehouseDep,
)
from cxloop.web.errors import PageError
from cxloop.web.inputs import MAX_ID, IdPath
from cxloop.web.queries import PilotAnalysisDep, PilotAnalysisQuery
from cxloop.web.rendering import templates
from cxloop.web.report_svg import did_svg, event_study_svg

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
METRIC_LABELS = {
    "nps": ("NPS", "points", 1.0),
    "churn": ("Monthly churn", "% points", 100.0),
    "margin_per_customer": ("Margin per customer a month", "money", 1.0),
    "repurchase": ("Customers buying in the month", "% points", 100.0),
}
INFERENCES = ("wild_cluster", "randomization", "cluster", "ols")
#: Lines the themes trend draws unless every theme is asked for (more cannot be told apart).
TREND_SERIES = 8
#: The export is viewed on its own (or saved): inline style only, no script, nothing fetched.
EXPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"


def _context(page: PageViewer, **extra: Any) -> dict[str, Any]:
    """The page's context, with whether the viewer's role may change pilots (frontline staff may not)."""
    return page.context(can_change=page.viewer.role.value != "frontline", **extra)


def page_pilot(pilot_id: IdPath, page: PageViewerDep, session: SessionDep) -> svc.Pilot:
    """The path's pilot if it touches the viewer's subtree, else the 404 page (unknown reads the same)."""
    try:
        return svc.get_pilot(session, page.viewer, pilot_id)
    except svc.PilotNotFoundError:
        raise PageError.not_found(f"No pilot {pilot_id} among those you can see.") from None


PagePilotDep = Annotated[svc.Pilot, Depends(page_pilot)]


# --- pilots -----------------------------------------------------------------------------------------


def _unit_choices(session: Session, viewer: Viewer) -> list[Unit]:
    return visible_unit_rows(session, viewer)


def _split(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.strip() for p in text.replace(";", ",").split(",") if p.strip()))


@router.get("/pilots")
def pilots_page(request: Request, page: PageViewerDep, session: SessionDep) -> Response:
    viewer = page.viewer
    context = _context(page)
    context.update(
        pilots=[svc.pilot_dict(p) for p in svc.list_pilots(session, viewer)],
        units=_unit_choices(session, viewer),
        form={},
        error=None,
    )
    return templates.TemplateResponse(request, "pilots.html", context)


@router.post("/pilots")
def create_pilot_submit(
    request: Request,
    page: FormViewerDep,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    hypothesis: Annotated[str, Form(max_length=4000)] = "",
    units: Annotated[list[str] | None, Form(max_length=500)] = None,
    touchpoints: Annotated[str, Form(max_length=2000)] = "",
    segments: Annotated[str, Form(max_length=2000)] = "",
    start_date: Annotated[str, Form(max_length=10)] = "",
    end_date: Annotated[str, Form(max_length=10)] = "",
    one_off_cost: Annotated[str, Form(max_length=30)] = "0",
    running_cost: Annotated[str, Form(max_length=30)] = "0",
    metrics: Annotated[list[str] | None, Form(max_length=4)] = None,
    linked_actions: Annotated[str, Form(max_length=4000)] = "",
    controls: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    viewer, email = page.viewer, page.user.email
    context = _context(page)
    form = {
        "name": name,
        "hypothesis": hypothesis,
        "units": units or [],
        "touchpoints": touchpoints,
        "segments": segments,
        "start_date": start_date,
        "end_date": end_date,
        "one_off_cost": one_off_cost,
        "running_cost": running_cost,
        "metrics": metrics or ["nps"],
        "linked_actions": linked_actions,
        "controls": controls,
    }
    try:
        draft = PilotDraft(
            name=name,
            hypothesis=hypothesis,
            units=tuple(dict.fromkeys(units or [])),
            start_date=_date(start_date, "start date"),
            end_date=_date(end_date, "end date") if end_date else None,
            one_off_cost=_money(one_off_cost, "one-off cost"),
            running_cost=_money(running_cost, "running cost"),
            touchpoints=_split(touchpoints),
            segments=_split(segments),
            target_metrics=tuple(m for m in (metrics or ["nps"]) if m in METRIC_LABELS) or ("nps",),
            linked_actions=tuple(a.strip() for a in linked_actions.splitlines() if a.strip()),
            controls=_split(controls),
            created_by=viewer.user_id,
        )
        pilot = svc.create_pilot(session, viewer, draft, actor=email)
    except (ValueError, PilotStoreError, svc.PilotPermissionError) as exc:
        error = str(exc)
    except (ScopeError, UnknownUnitError) as exc:
        error = f"unknown unit or outside your scope: {exc.unit_id}"
    else:
        return RedirectResponse(f"/pilots/{pilot.id}", status_code=303)
    context.update(
        pilots=[svc.pilot_dict(p) for p in svc.list_pilots(session, viewer)],
        units=_unit_choices(session, viewer),
        form=form,
        error=error,
    )
    return templates.TemplateResponse(request, "pilots.html", context, status_code=422)


def _date(text: str, what: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{what}: give a date as YYYY-MM-DD, got {text!r}") from None


def _money(text: str, what: str) -> float:
    try:
        value = float((text or "0").replace(",", "").strip() or 0)
    except ValueError:
        raise ValueError(f"{what}: give a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a non-negative number")
    return value


@router.get("/pilots/{pilot_id}")
def pilot_page(request: Request, page: PageViewerDep, pilot: PagePilotDep, session: SessionDep) -> Response:
    units = _unit_choices(session, page.viewer)
    context = _context(page, pilot=svc.pilot_dict(pilot), units=units, error=None)
    return templates.TemplateResponse(request, "pilot.html", context)


def _axis(metric: str, currency: str) -> str:
    """A pilot chart's value axis: the metric and its unit (money in the programme's currency)."""
    label, unit, _ = METRIC_LABELS.get(metric, (metric, "", 1.0))
    unit = currency if unit == "money" else unit
    return f"{label} ({unit})" if unit else label


def _analysis_context(
    session: Session,
    con: BaseBackend,
    viewer: Viewer,
    pilot: svc.Pilot,
    query: PilotAnalysisQuery,
    currency: str,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "pilot": svc.pilot_dict(pilot),
        "inference": query.inference,
        "inferences": INFERENCES,
        "wave": query.wave,
        "horizon": query.horizon_months,
        "discount_rate": query.discount_rate,
        "per_treated": query.per_treated,
        "labels": METRIC_LABELS,
        "analysis": None,
        "problem": None,
    }
    try:
        analysis = query.ask(viewer, pilot.id, session=session, con=con)
    except (ValueError, LookupError) as exc:
        context["problem"] = str(exc)
        return context
    data = jsonable(analysis.to_dict())
    charts = {
        metric: {
            "label": METRIC_LABELS.get(metric, (metric, "", 1.0))[0],
            "axis": _axis(metric, currency),
            "scale": METRIC_LABELS.get(metric, (metric, "", 1.0))[2],
            "start": analysis.start.isoformat(),
            "confidence": data["impacts"][metric]["confidence"],
            "event_study": data["event_studies"].get(metric, []),
            "means": data["group_means"].get(metric, []),
        }
        for metric in data["impacts"]
    }
    context.update(
        analysis=analysis,
        data=data,
        charts=charts,
        sensitivity=_sensitivity_table(analysis.sensitivity),
    )
    return context


def _sensitivity_table(grid: pd.DataFrame | None) -> dict[str, Any] | None:
    if grid is None or grid.empty:
        return None
    horizons = sorted(grid.horizon_months.unique())
    rows = []
    for rate, part in grid.groupby("discount_rate"):
        by_h = part.set_index("horizon_months")
        rows.append(
            {
                "rate": float(rate),  # type: ignore[arg-type]  # a discount rate (float) key
                "cells": [
                    {
                        "roi": float(by_h.loc[h, "roi"]),
                        "low": float(by_h.loc[h, "roi_low"]),
                        "high": float(by_h.loc[h, "roi_high"]),
                    }
                    for h in horizons
                ],
            }
        )
    return {"horizons": [int(h) for h in horizons], "rows": rows}


@router.get("/pilots/{pilot_id}/report")
def pilot_report(
    request: Request,
    page: PageViewerDep,
    pilot: PagePilotDep,
    query: PilotAnalysisDep,
    session: SessionDep,
    con: WarehouseDep,
) -> Response:
    analysis = _analysis_context(session, con, page.viewer, pilot, query, page.settings.currency)
    context = _context(page, **analysis)
    return templates.TemplateResponse(request, "pilot_report.html", context)


@router.get("/pilots/{pilot_id}/report.html")
def pilot_report_export(
    pilot_id: IdPath,
    request: Request,
    page: PageViewerDep,
    pilot: PagePilotDep,
    query: PilotAnalysisDep,
    session: SessionDep,
    con: WarehouseDep,
) -> Response:
    """The report as one self-contained, printable HTML file (saved as an attachment)."""
    analysis = _analysis_context(session, con, page.viewer, pilot, query, page.settings.currency)
    context = _context(page, **analysis)
    context["svgs"] = {
        metric: {"event": event_study_svg(chart), "did": did_svg(chart)}
        for metric, chart in (context.get("charts") or {}).items()
    }
    context["generated"] = date.today().isoformat()
    response = templates.TemplateResponse(request, "pilot_export.html", context)
    response.headers["Content-Security-Policy"] = EXPORT_CSP
    response.headers["Content-Disposition"] = f'attachment; filename="pilot-{pilot_id}-report.html"'
    return response


@router.post("/pilots/{pilot_id}/decision")
def decision_submit(
    pilot_id: IdPath,
    page: FormViewerDep,
    _pilot: PagePilotDep,
    session: SessionDep,
    decision: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=4000)] = "",
    wave: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    wave_id = int(wave) if wave.strip().isdigit() and int(wave) <= MAX_ID else None
    # The form posts from the report page: a refusal is a line of text, not a page of its own.
    try:
        svc.decide(
            session, page.viewer, pilot_id, decision, note=note, decided_by=page.user.email, wave=wave_id
        )
    except svc.PilotPermissionError as exc:
        return Response(str(exc), status_code=403, media_type="text/plain")
    except (PilotStoreError, svc.PilotNotFoundError) as exc:
        return Response(str(exc), status_code=422, media_type="text/plain")
    target = f"/pilots/{pilot_id}/report" + (f"?wave={wave_id}" if wave_id else "")
    return RedirectResponse(target + "#decision", status_code=303)


@router.post("/pilots/{pilot_id}/waves")
def wave_submit(
    pilot_id: IdPath,
    request: Request,
    page: FormViewerDep,
    _pilot: PagePilotDep,
    session: SessionDep,
    name: Annotated[str, Form(max_length=200)] = "",
    units: Annotated[list[str] | None, Form(max_length=500)] = None,
    start_date: Annotated[str, Form(max_length=10)] = "",
    one_off_cost: Annotated[str, Form(max_length=30)] = "0",
    running_cost: Annotated[str, Form(max_length=30)] = "0",
) -> Response:
    viewer, email = page.viewer, page.user.email
    try:
        svc.add_wave(
            session,
            viewer,
            pilot_id,
            name=name.strip() or "wave",
            start_date=_date(start_date, "start date"),
            units=list(dict.fromkeys(units or [])),
            one_off_cost=_money(one_off_cost, "one-off cost"),
            running_cost=_money(running_cost, "running cost"),
            actor=email,
        )
    except (ValueError, PilotStoreError, svc.PilotPermissionError) as exc:
        error = str(exc)
    except (ScopeError, UnknownUnitError) as exc:
        error = f"unknown unit or outside your scope: {exc.unit_id}"
    else:
        return RedirectResponse(f"/pilots/{pilot_id}", status_code=303)
    pilot = svc.get_pilot(session, viewer, pilot_id)
    context = _context(page, pilot=svc.pilot_dict(pilot), units=_unit_choices(session, viewer), error=error)
    return templates.TemplateResponse(request, "pilot.html", context, status_code=422)


@router.get("/programme")
def programme_page(request: Request, page: PageViewerDep, session: SessionDep, con: WarehouseDep) -> Response:
    """Every pilot and wave in scope with impact, ROI (interval), decision; waves against their pilot."""
    context = _context(page, rows=jsonable(svc.programme(session, con, page.viewer)))
    return templates.TemplateResponse(request, "programme.html", context)


# --- themes -----------------------------------------------------------------------------------------


@router.get("/units/{unit_id}/themes")
def themes_page(
    unit_id: str,
    request: Request,
    page: PageViewerDep,
    unit: PageUnitDep,
    session: SessionDep,
    stores: StoresDep,
    touchpoint: Annotated[str, Query(max_length=100)] = "",
    segment: Annotated[str, Query(max_length=100)] = "",
    outcome: Annotated[Literal["nps", "csat", "ces"], Query()] = "nps",
    by: Annotated[Literal["unit", "touchpoint", "segment"], Query()] = "touchpoint",
    series: Annotated[
        Literal["top", "all"], Query(description="all: every theme in the trend chart")
    ] = "top",
) -> Response:
    """Themes of a unit's subtree: volume, sentiment, trend, effect on the score, emerging; by group.

    The trend chart draws the :data:`TREND_SERIES` themes with the most comments (a chart of more lines
    cannot be read); ``series=all`` draws every theme."""
    viewer = page.viewer
    context = _context(page)
    context.update(
        unit=unit,
        touchpoint=touchpoint,
        segment=segment,
        outcome=outcome,
        by=by,
        impact=None,
        message=None,
    )
    try:
        load_codebook(session)
    except NoCodebookError as exc:
        context["message"] = str(exc)
        return templates.TemplateResponse(request, "themes.html", context)
    impact = theme_impact(
        viewer,
        unit=unit_id,
        touchpoint=touchpoint or None,
        segment=segment or None,
        outcome=outcome,
        stores=stores,
    )
    options = {
        kind: [
            g
            for g in theme_breakdown(viewer, by=kind, unit=unit_id, stores=stores).frame.group.unique()
            if isinstance(g, str) and g  # a missing touchpoint or segment comes back as NaN
        ]
        for kind in ("touchpoint", "segment")
    }
    breakdown = theme_breakdown(viewer, by=by, unit=unit_id, stores=stores)
    table = breakdown.frame.pivot_table(index="group", columns="theme", values="share", dropna=False)
    emerging = impact.emerging[impact.emerging.emerging.astype(bool)] if len(impact.emerging) else None
    trend = impact.trend
    ranked = (
        [str(t) for t in trend.groupby("theme").share.sum().sort_values(ascending=False, kind="stable").index]
        if len(trend)
        else []
    )
    drawn = ranked if series == "all" else ranked[:TREND_SERIES]
    context.update(
        impact=impact,
        themes=jsonable(impact.frame),
        emerging=jsonable(emerging) if emerging is not None else [],
        emerging_month=str(impact.emerging.month.iloc[0]) if len(impact.emerging) else None,
        touchpoints=sorted(options["touchpoint"]),
        segments=sorted(options["segment"]),
        breakdown={
            "groups": [str(g) for g in table.index],
            "themes": [str(t) for t in table.columns],
            "cells": jsonable(table.to_numpy().tolist()),
        },
        series=series,
        themes_in_trend=len(drawn),
        themes_in_all=len(ranked),
        trend_chart={
            "themes": drawn,
            "labels": {name: page.labels.theme(name) for name in drawn},
            "series": {
                str(theme): {
                    "x": [str(m) for m in part.month],
                    "y": jsonable(part.share.tolist()),
                }
                for theme, part in trend.groupby("theme")
                if theme in drawn
            },
        },
    )
    return templates.TemplateResponse(request, "themes.html", context)
