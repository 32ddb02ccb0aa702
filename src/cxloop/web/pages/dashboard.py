"""Dashboard pages beyond home: trends, touchpoints (journey), where to improve first, customer value.

Each page takes the filters as GET parameters (``from``, ``to``, ``touchpoint``, ``channel``,
``segment``), checks the unit against the viewer's subtree (outside it: 404, exactly like an unknown
unit), calls the same :mod:`cxloop.services.understand.dashboard` /
:mod:`cxloop.services.understand.priorities` function as its JSON route under
``/api/v1/units/{unit_id}/...``, and renders every table as CSV with ``?format=csv`` (formula-safe cells,
suppressed cells left empty with ``suppressed`` true).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.routing import iter_route_contexts
from markupsafe import escape
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.understand import dashboard
from cxloop.services.understand.comments import MAX_LIMIT as COMMENTS_MAX
from cxloop.services.understand.comments import CommentsQuery, comments
from cxloop.services.understand.dashboard import DashboardFilters
from cxloop.services.understand.drivers import OUTCOME_LABELS, NoDriverDataError
from cxloop.services.understand.metrics import NoDataError
from cxloop.services.understand.priorities import priorities
from cxloop.services.value.money import NoTransactionsError
from cxloop.stats.drivers import DriverAnalysisError
from cxloop.store import units as unit_store
from cxloop.store.models import Unit
from cxloop.warehouse.outcomes import OUTCOMES
from cxloop.web.deps import SessionDep, SettingsDep, WarehouseDep
from cxloop.web.pages.home import breadcrumbs, page_for_unit, templates

__all__ = ["ACTION_FROM_PRIORITY", "csv_response", "parse_filters", "router", "safe_cell", "served_routes"]

router = APIRouter(include_in_schema=False)
_STATIC = Path(__file__).resolve().parents[1] / "static"
#: H2's endpoint that turns a priority into an action; the form appears once the route exists.
ACTION_FROM_PRIORITY = "/actions/from-priority"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Text = Annotated[str | None, Query(max_length=64)]
DateText = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD")]
Format = Annotated[str | None, Query(max_length=8, description="csv for a download of the table")]


# --- filters and CSV (shared with the JSON routes) -------------------------------------------------


def parse_filters(
    start: str | None, end: str | None, touchpoint: str | None, channel: str | None, segment: str | None
) -> DashboardFilters:
    """Filters from GET parameters; empty values (an untouched form field) mean no filter.

    Raises ``ValueError`` with a message for a malformed date or a period that ends before it starts.
    """

    def day(value: str | None, name: str) -> date | None:
        if not value:
            return None
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None

    return DashboardFilters(
        start=day(start, "from"),
        end=day(end, "to"),
        touchpoint=touchpoint or None,
        channel=channel or None,
        segment=segment or None,
    )


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with ``=``, ``+``, ``-``, ``@`` (or a tab or
    carriage return) gets a leading quote. Numbers stay numbers; None becomes empty."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_response(rows: Iterable[dict[str, Any]], columns: Sequence[str], filename: str) -> Response:
    """``rows`` as a CSV download (``Content-Disposition: attachment``) with formula-safe cells."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([safe_cell(row.get(column)) for column in columns])
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in filename)
    headers = {"Content-Disposition": f'attachment; filename="{safe_name}"'}
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


# --- page plumbing ----------------------------------------------------------------------------------


def _html_error(status: int, title: str, message: str) -> HTMLResponse:
    return HTMLResponse(f"<h1>{escape(title)}</h1><p>{escape(message)}</p>", status)


def _scoped(request: Request, settings: Settings, session: Session, unit_id: str):
    """``(context, viewer)`` for a logged-in viewer and a unit in their subtree, else a response."""
    scoped = page_for_unit(request, settings, session, unit_id)
    if isinstance(scoped, Response):
        return scoped
    page, unit = scoped
    context = page.context(
        unit=unit,
        breadcrumbs=breadcrumbs(session, page.viewer, unit_id),
        children=[session.get(Unit, u) for u in unit_store.children_ids(session, unit_id)],
    )
    return context, page.viewer


def _page(
    request: Request,
    settings: Settings,
    session: Session,
    con: Any,
    unit_id: str,
    filters: tuple[str | None, ...],
    page: str,
):
    """Common start of every page: scope, filters (400 page on bad ones), filter form options."""
    scoped = _scoped(request, settings, session, unit_id)
    if isinstance(scoped, Response):
        return scoped
    context, viewer = scoped
    try:
        chosen = parse_filters(*filters)
    except ValueError as exc:
        return _html_error(400, "Bad filter", str(exc))
    kept = {k: v for k, v in chosen.as_dict().items() if v}
    context.update(
        page=page,
        filters=chosen.as_dict(),
        options=dashboard.filter_options(session, con),
        query=urlencode(kept),
        csv_link=f"/units/{unit_id}/{page}?" + urlencode({**kept, "format": "csv"}),
        message=None,
    )
    return context, viewer, chosen


def _wants_csv(format: str | None) -> bool:
    if format not in (None, "", "csv", "html"):
        raise ValueError(f"format {format!r}: use csv (or leave it out for the page)")
    return format == "csv"


# --- static assets ----------------------------------------------------------------------------------


@router.get("/static/cxloop.css")
def stylesheet() -> FileResponse:
    return FileResponse(_STATIC / "cxloop.css", media_type="text/css", headers={"Cache-Control": "no-cache"})


@router.get("/static/dashboard.js")
def dashboard_js() -> FileResponse:
    return FileResponse(
        _STATIC / "dashboard.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"}
    )


# --- trends -----------------------------------------------------------------------------------------

TREND_COLUMNS = (
    "unit",
    "period",
    "period_start",
    "metric",
    "n",
    "estimate",
    "ci_low",
    "ci_high",
    "suppressed",
    "difference",
    "significant",
)


@router.get("/units/{unit_id}/trends")
def trends_page(
    unit_id: str,
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    con: WarehouseDep,
    grain: Annotated[str, Query(max_length=8)] = "month",
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    touchpoint: Text = None,
    channel: Text = None,
    segment: Text = None,
    format: Format = None,
) -> Response:
    started = _page(
        request, settings, session, con, unit_id, (start, end, touchpoint, channel, segment), "trends"
    )
    if isinstance(started, Response):
        return started
    context, viewer, filters = started
    try:
        as_csv = _wants_csv(format)
        result = dashboard.trends(
            viewer,
            settings=settings,
            session=session,
            con=con,
            unit_id=unit_id,
            grain=grain,  # type: ignore[arg-type]
            filters=filters,
        )
        records = [r for r in result.to_records() if r["unit"] == unit_id]
    except ValueError as exc:
        return _html_error(400, "Bad request", str(exc))
    except NoDataError as exc:
        records, context["message"] = [], str(exc)
    if as_csv:
        return csv_response(records, TREND_COLUMNS, f"{unit_id}-trends-{grain}.csv")
    series = []
    for metric, label in (("nps", "NPS"), ("csat", "CSAT (% satisfied)"), ("ces", "CES (mean effort)")):
        rows = [r for r in records if r["metric"] == metric]
        shown = [r for r in rows if not r["suppressed"]]
        series.append(
            {
                "metric": metric,
                "label": label,
                "rows": rows,
                "chart": {
                    "kind": "band",
                    "target": f"trend-{metric}",
                    "name": label,
                    "x": [r["period_start"] for r in shown],
                    "y": [r["estimate"] for r in shown],
                    "low": [r["ci_low"] for r in shown],
                    "high": [r["ci_high"] for r in shown],
                    "n": [r["n"] for r in shown],
                    "confidence": context["confidence"],
                },
            }
        )
    context.update(grain=grain, series=series, charts=[s["chart"] for s in series])
    return templates.TemplateResponse(request, "trends.html", context)


# --- touchpoints (journey) ----------------------------------------------------------------------------

JOURNEY_COLUMNS = (
    "stage_order",
    "touchpoint",
    "name",
    *(
        f"{m}_{c}"
        for m in ("nps", "csat", "ces")
        for c in ("n", "estimate", "ci_low", "ci_high", "suppressed")
    ),
    "importance_n",
    "importance_r2",
    "top_drivers",
    "importance_note",
)


def journey_csv_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Journey rows with the top drivers flattened to one text cell."""
    return [
        {
            **row,
            "top_drivers": "; ".join(
                f"{d['label']} ({d['relative_importance']:.0%})" for d in row.get("top_drivers") or []
            ),
        }
        for row in rows
    ]


@router.get("/units/{unit_id}/touchpoints")
def touchpoints_page(
    unit_id: str,
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    con: WarehouseDep,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    touchpoint: Text = None,
    channel: Text = None,
    segment: Text = None,
    format: Format = None,
) -> Response:
    started = _page(
        request, settings, session, con, unit_id, (start, end, touchpoint, channel, segment), "touchpoints"
    )
    if isinstance(started, Response):
        return started
    context, viewer, filters = started
    try:
        as_csv = _wants_csv(format)
        result = dashboard.journey(
            viewer, settings=settings, session=session, con=con, unit_id=unit_id, filters=filters
        )
    except ValueError as exc:
        return _html_error(400, "Bad request", str(exc))
    if as_csv:
        return csv_response(journey_csv_rows(result.rows), JOURNEY_COLUMNS, f"{unit_id}-touchpoints.csv")
    shown = [r for r in result.rows if not r["nps_suppressed"]]
    chart = {
        "kind": "bars",
        "target": "journey-chart",
        "name": "NPS",
        "x": [r["name"] for r in shown],
        "y": [r["nps_estimate"] for r in shown],
        "low": [r["nps_ci_low"] for r in shown],
        "high": [r["nps_ci_high"] for r in shown],
        "n": [r["nps_n"] for r in shown],
        "confidence": context["confidence"],
    }
    context.update(journey=result, charts=[chart])
    return templates.TemplateResponse(request, "touchpoints.html", context)


# --- where to improve first ----------------------------------------------------------------------------

PRIORITY_COLUMNS = (
    "rank",
    "driver",
    "label",
    "relative_importance",
    "mean",
    "benchmark",
    "benchmark_label",
    "gap",
    "expected_gain",
    "expected_nps_points",
    "expected_margin",
    "score",
    "why",
)


def served_routes(app: Any) -> list[tuple[str, frozenset[str]]]:
    """``(path, methods)`` of every route ``app`` serves, with included routers flattened (FastAPI
    includes routers lazily, so ``app.routes`` alone lists them as one entry each)."""
    found = []
    for context in iter_route_contexts(app.routes):
        path = context.path
        if path is not None:
            found.append((str(path), frozenset(context.methods or ())))
    return found


def _action_route_exists(request: Request) -> bool:
    return any(
        path == ACTION_FROM_PRIORITY and "POST" in methods for path, methods in served_routes(request.app)
    )


@router.get("/units/{unit_id}/priorities")
def priorities_page(
    unit_id: str,
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    con: WarehouseDep,
    outcome: Annotated[str, Query(max_length=32)] = "nps",
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    touchpoint: Text = None,
    channel: Text = None,
    segment: Text = None,
    format: Format = None,
) -> Response:
    started = _page(
        request, settings, session, con, unit_id, (start, end, touchpoint, channel, segment), "priorities"
    )
    if isinstance(started, Response):
        return started
    context, viewer, filters = started
    rows: list[dict[str, Any]] = []
    result = None
    try:
        as_csv = _wants_csv(format)
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; use one of {', '.join(OUTCOMES)}")
        result = priorities(
            viewer,
            settings=settings,
            unit_id=unit_id,
            outcome=outcome,
            segment=filters.segment,
            touchpoint=filters.touchpoint,
            start=filters.start,
            end=filters.end,
            session=session,
            con=con,
        )
        rows = result.to_dict()["priorities"]
    except ValueError as exc:
        return _html_error(400, "Bad request", str(exc))
    except (NoDriverDataError, DriverAnalysisError) as exc:
        context["message"] = str(exc)
    if as_csv:
        return csv_response(rows, PRIORITY_COLUMNS, f"{unit_id}-priorities-{outcome}.csv")
    for row in rows:
        impact = row.get("expected_nps_points") if outcome == "nps" else row.get("expected_gain")
        row["expected_impact"] = "" if impact is None else f"{impact:.4g}"
        row["title"] = f"Improve: {row['label']}"[:200]
    context.update(
        result=result,
        rows=rows,
        outcome=outcome,
        outcome_label=OUTCOME_LABELS.get(outcome, outcome),
        outcomes=OUTCOMES,
        can_act=_action_route_exists(request),
        action_url=ACTION_FROM_PRIORITY,
        channel_ignored=bool(filters.channel),
    )
    return templates.TemplateResponse(request, "priorities.html", context)


# --- customer value -----------------------------------------------------------------------------------

SEGMENT_COLUMNS = (
    "segment",
    "name",
    "customers",
    "suppressed",
    *(
        f"{k}{s}"
        for k in ("churn", "repeat_purchase", "clv", "margin_per_buyer", "nps")
        for s in ("", "_low", "_high", "_n")
    ),
)
VALUE_TABLES = {
    "segments": SEGMENT_COLUMNS,
    "tiers": ("tier", "customers", "clv_total", "clv_share"),
    "tier_experience": ("tier", "measure", "n", "estimate", "ci_low", "ci_high", "suppressed"),
    "by_nps_class": ("nps_class", "measure", "n", "estimate", "ci_low", "ci_high", "suppressed"),
    "revenue_at_risk": ("name", "estimate", "se", "ci_low", "ci_high", "definition"),
}


@router.get("/units/{unit_id}/value")
def value_page(
    unit_id: str,
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    con: WarehouseDep,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    touchpoint: Text = None,
    channel: Text = None,
    segment: Text = None,
    table: Annotated[
        str, Query(max_length=32, description="Which table ?format=csv downloads.")
    ] = "segments",
    format: Format = None,
) -> Response:
    started = _page(
        request, settings, session, con, unit_id, (start, end, touchpoint, channel, segment), "value"
    )
    if isinstance(started, Response):
        return started
    context, viewer, filters = started
    try:
        as_csv = _wants_csv(format)
        if table not in VALUE_TABLES:
            raise ValueError(f"table {table!r}: use one of {', '.join(VALUE_TABLES)}")
        result = dashboard.customer_value(
            viewer, settings=settings, session=session, con=con, unit_id=unit_id, filters=filters
        )
    except ValueError as exc:
        return _html_error(400, "Bad request", str(exc))
    except NoTransactionsError as exc:
        if as_csv:
            return csv_response([], VALUE_TABLES[table], f"{unit_id}-value-{table}.csv")
        context.update(message=str(exc), value=None, csv_links={}, charts=[])
        return templates.TemplateResponse(request, "value.html", context)
    data = result.to_dict()
    if as_csv:
        return csv_response(data[table], VALUE_TABLES[table], f"{unit_id}-value-{table}.csv")
    base = {k: v for k, v in filters.as_dict().items() if v}
    links = {
        name: f"/units/{unit_id}/value?" + urlencode({**base, "table": name, "format": "csv"})
        for name in VALUE_TABLES
    }
    shown = [r for r in result.segments if r.get("nps") is not None]
    chart = {
        "kind": "bars",
        "target": "segment-chart",
        "name": "NPS",
        "x": [r["name"] for r in shown],
        "y": [r["nps"] for r in shown],
        "low": [r["nps_low"] for r in shown],
        "high": [r["nps_high"] for r in shown],
        "n": [r["nps_n"] for r in shown],
        "confidence": context["confidence"],
    }
    context.update(value=result, csv_links=links, charts=[chart])
    return templates.TemplateResponse(request, "value.html", context)


# --- the comment stream as CSV ------------------------------------------------------------------------

COMMENT_COLUMNS = (
    "response_id",
    "unit_id",
    "submitted_at",
    "touchpoint",
    "channel",
    "segment",
    "nps",
    "csat",
    "ces",
    "comment",
)


@router.get("/units/{unit_id}/comments.csv")
def comments_csv(
    unit_id: str,
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    con: WarehouseDep,
    q: Annotated[str, Query(max_length=200)] = "",
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    touchpoint: Text = None,
    channel: Text = None,
    segment: Text = None,
    theme: Annotated[list[str] | None, Query(max_length=50)] = None,
    negative: bool = False,
) -> Response:
    """The newest comments matching the search and filters (at most the service's page limit), as CSV.
    Nothing but the header when fewer than ``min_n`` responses match (anonymity)."""
    scoped = _scoped(request, settings, session, unit_id)
    if isinstance(scoped, Response):
        return scoped
    _, viewer = scoped
    try:
        filters = parse_filters(start, end, touchpoint, channel, segment)
        query = CommentsQuery(
            unit=unit_id,
            q=q or None,
            start=filters.start,
            end=filters.end,
            touchpoints=DashboardFilters._one(filters.touchpoint),
            channels=DashboardFilters._one(filters.channel),
            segments=DashboardFilters._one(filters.segment),
            limit=COMMENTS_MAX,
            themes=frozenset(t for t in theme or [] if t) or None,
            negative_only=negative,
        )
    except ValueError as exc:
        return _html_error(400, "Bad request", str(exc))
    page = comments(viewer, query, settings=settings, session=session, con=con)
    rows = [] if page.suppressed else page.items
    return csv_response(rows, COMMENT_COLUMNS, f"{unit_id}-comments.csv")
