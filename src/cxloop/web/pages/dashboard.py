"""Dashboard pages beyond home: trends, touchpoints (journey), where to improve first, customer value.

Each page takes the filters as GET parameters (``from``, ``to``, ``touchpoint``, ``channel``,
``segment``: :data:`~cxloop.web.queries.PageFiltersDep`), checks the unit against the viewer's subtree
(outside it: 404, exactly like an unknown unit), calls the same :mod:`cxloop.services.understand.dashboard`
/ :mod:`cxloop.services.understand.priorities` function as its JSON route under
``/api/v1/units/{unit_id}/...``, and renders every table as CSV with ``?format=csv`` (formula-safe cells,
suppressed cells left empty with ``suppressed`` true). Bad input answers the 400 "Bad request" page (the
router's :func:`~cxloop.web.errors.answer_value_errors`), a bad filter the 400 "Bad filter" page.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.routing import iter_route_contexts

from cxloop.services.access.units import Unit, breadcrumbs, child_units
from cxloop.services.labels import measure
from cxloop.services.stores import Stores
from cxloop.services.understand import dashboard
from cxloop.services.understand.comments import MAX_LIMIT as COMMENTS_MAX
from cxloop.services.understand.comments import comments
from cxloop.services.understand.dashboard import DashboardFilters
from cxloop.services.understand.drivers import OUTCOME_LABELS, OUTCOMES, NoDriverDataError
from cxloop.services.understand.metrics import NoDataError
from cxloop.services.value.money import NoTransactionsError
from cxloop.web.deps import (
    PageUnitDep,
    PageViewer,
    PageViewerDep,
    StoresDep,
)
from cxloop.web.errors import answer_value_errors
from cxloop.web.queries import CommentSearchDep, PageFiltersDep, PrioritiesQuery
from cxloop.web.rendering import templates

__all__ = ["ACTION_FROM_PRIORITY", "csv_response", "filter_form", "router", "safe_cell", "served_routes"]

router = APIRouter(
    include_in_schema=False,
    dependencies=[Depends(answer_value_errors(400, "Bad request"), scope="function")],
)
#: H2's endpoint that turns a priority into an action; the form appears once the route exists.
ACTION_FROM_PRIORITY = "/actions/from-priority"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

Format = Annotated[str | None, Query(max_length=8, description="csv for a download of the table")]


# --- CSV ------------------------------------------------------------------------------------------


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


def labelled(
    rows: Iterable[dict[str, Any]], columns: dict[str, tuple[str, Callable[[Any], str]]]
) -> list[dict[str, Any]]:
    """``rows`` with a label column beside id columns (``{"metric_label": ("metric", labels.metric)}``):
    downloads keep ids and machine-readable numbers in their own columns, and give people the names."""
    return [
        {
            **row,
            **{
                label: "" if row.get(source) in (None, "") else name(row[source])
                for label, (source, name) in columns.items()
            },
        }
        for row in rows
    ]


def _axis_title(metric: str) -> str:
    """A chart's value axis: the metric's name and unit (``NPS (points, -100 to 100)``)."""
    return measure(metric).axis


# --- page plumbing ----------------------------------------------------------------------------------


def _context(
    page: PageViewer, unit: Unit, stores: Stores, filters: DashboardFilters, name: str
) -> dict[str, Any]:
    """Common context of every dashboard page: the unit and its neighbours, the filter form and links."""
    unit_id = unit.unit_id
    kept = {k: v for k, v in filters.as_dict().items() if v}
    return page.context(
        unit=unit,
        breadcrumbs=breadcrumbs(stores.session, page.viewer, unit_id),
        children=child_units(stores.session, unit_id),
        page=name,
        **filter_form(filters, stores),
        csv_link=f"/units/{unit_id}/{name}?" + urlencode({**kept, "format": "csv"}),
        message=None,
    )


def filter_form(filters: DashboardFilters, stores: Stores) -> dict[str, Any]:
    """The filter form's values and options, and the query string that carries the filters on to links."""
    kept = {k: v for k, v in filters.as_dict().items() if v}
    return {
        "filters": filters.as_dict(),
        "options": dashboard.filter_options(stores.session, stores.warehouse),
        "query": urlencode(kept),
    }


def _wants_csv(format: str | None) -> bool:
    if format not in (None, "", "csv", "html"):
        raise ValueError(f"format {format!r}: use csv (or leave it out for the page)")
    return format == "csv"


# --- trends -----------------------------------------------------------------------------------------

TREND_COLUMNS = (
    "unit",
    "period",
    "period_start",
    "metric",
    "metric_label",
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
    page: PageViewerDep,
    unit: PageUnitDep,
    filters: PageFiltersDep,
    stores: StoresDep,
    grain: Annotated[str, Query(max_length=8)] = "month",
    format: Format = None,
) -> Response:
    context = _context(page, unit, stores, filters, "trends")
    as_csv = _wants_csv(format)
    try:
        result = dashboard.trends(
            page.viewer,
            stores=stores,
            unit_id=unit_id,
            grain=grain,  # type: ignore[arg-type]
            filters=filters,
        )
        records = [r for r in result.to_records() if r["unit"] == unit_id]
    except NoDataError as exc:
        records, context["message"] = [], str(exc)
    if as_csv:
        records = labelled(records, {"metric_label": ("metric", page.labels.metric)})
        return csv_response(records, TREND_COLUMNS, f"{unit_id}-trends-{grain}.csv")
    lines: dict[str, list[dict[str, Any]]] = {}
    if records:
        lines = dashboard.benchmark_lines(
            page.viewer,
            stores=stores,
            unit_id=unit_id,
            grain=grain,  # type: ignore[arg-type]
            metric_names=("nps", "csat", "ces"),
            filters=filters,
        )
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
                    "xtitle": grain.capitalize(),
                    "ytitle": _axis_title(metric),
                    "x": [r["period_start"] for r in shown],
                    "y": [r["estimate"] for r in shown],
                    "low": [r["ci_low"] for r in shown],
                    "high": [r["ci_high"] for r in shown],
                    "n": [r["n"] for r in shown],
                    "confidence": context["confidence"],
                    "lines": [
                        {
                            "name": line["name"],
                            "label": line["label"],
                            "y": [line["points"].get(r["period_start"]) for r in shown],
                        }
                        for line in lines.get(metric, [])
                    ],
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
    page: PageViewerDep,
    unit: PageUnitDep,
    filters: PageFiltersDep,
    stores: StoresDep,
    format: Format = None,
) -> Response:
    context = _context(page, unit, stores, filters, "touchpoints")
    as_csv = _wants_csv(format)
    result = dashboard.journey(page.viewer, stores=stores, unit_id=unit_id, filters=filters)
    if as_csv:
        return csv_response(journey_csv_rows(result.rows), JOURNEY_COLUMNS, f"{unit_id}-touchpoints.csv")
    shown = [r for r in result.rows if not r["nps_suppressed"]]
    chart = {
        "kind": "bars",
        "target": "journey-chart",
        "name": "NPS",
        "xtitle": "Touchpoint",
        "ytitle": _axis_title("nps"),
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
    "importance_basis",
    "importance_weight",
    "importance_n",
    "mean",
    "benchmark",
    "benchmark_kind",
    "benchmark_label",
    "gap",
    "expected_gain",
    "expected_nps_points",
    "expected_margin",
    "score",
    "why",
    "details",
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
    page: PageViewerDep,
    unit: PageUnitDep,
    filters: PageFiltersDep,
    stores: StoresDep,
    outcome: Annotated[str, Query(max_length=32)] = "nps",
    format: Format = None,
) -> Response:
    context = _context(page, unit, stores, filters, "priorities")
    rows: list[dict[str, Any]] = []
    result = None
    as_csv = _wants_csv(format)
    query = PrioritiesQuery(outcome=outcome, filters=filters)
    try:
        result = query.ask(page.viewer, unit_id, stores=stores)
        rows = result.to_dict()["priorities"]
    except NoDriverDataError as exc:
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
        outcome_labels=OUTCOME_LABELS,
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
_MEASURE_COLUMNS = ("measure", "measure_label", "n", "estimate", "ci_low", "ci_high", "suppressed")
VALUE_TABLES = {
    "segments": SEGMENT_COLUMNS,
    "tiers": ("tier", "customers", "clv_total", "clv_share"),
    "tier_experience": ("tier", *_MEASURE_COLUMNS),
    "by_nps_class": ("nps_class", *_MEASURE_COLUMNS),
    "revenue_at_risk": ("name", "label", "estimate", "se", "ci_low", "ci_high", "definition"),
}


@router.get("/units/{unit_id}/value")
def value_page(
    unit_id: str,
    request: Request,
    page: PageViewerDep,
    unit: PageUnitDep,
    filters: PageFiltersDep,
    stores: StoresDep,
    table: Annotated[
        str, Query(max_length=32, description="Which table ?format=csv downloads.")
    ] = "segments",
    format: Format = None,
) -> Response:
    context = _context(page, unit, stores, filters, "value")
    as_csv = _wants_csv(format)
    if table not in VALUE_TABLES:
        raise ValueError(f"table {table!r}: use one of {', '.join(VALUE_TABLES)}")
    try:
        result = dashboard.customer_value(page.viewer, stores=stores, unit_id=unit_id, filters=filters)
    except NoTransactionsError as exc:
        if as_csv:
            return csv_response([], VALUE_TABLES[table], f"{unit_id}-value-{table}.csv")
        context.update(message=str(exc), value=None, csv_links={}, charts=[])
        return templates.TemplateResponse(request, "value.html", context)
    data = result.to_dict()
    if as_csv:
        rows = labelled(
            data[table],
            {"measure_label": ("measure", page.labels.metric), "label": ("name", page.labels.metric)},
        )
        return csv_response(rows, VALUE_TABLES[table], f"{unit_id}-value-{table}.csv")
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
        "xtitle": "Customer segment",
        "ytitle": _axis_title("nps"),
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
    "unit_name",
    "submitted_at",
    "touchpoint",
    "touchpoint_name",
    "channel",
    "segment",
    "segment_name",
    "nps",
    "csat",
    "ces",
    "comment",
)


@router.get("/units/{unit_id}/comments.csv")
def comments_csv(
    unit_id: str,
    page: PageViewerDep,
    _unit: PageUnitDep,
    search: CommentSearchDep,
    stores: StoresDep,
) -> Response:
    """The newest comments matching the search and filters (at most the service's page limit), as CSV.
    Nothing but the header when fewer than ``min_n`` responses match (anonymity)."""
    query = search.query(unit_id, limit=COMMENTS_MAX)
    found = comments(page.viewer, query, stores=stores)
    names = page.labels
    rows = labelled(
        [] if found.suppressed else found.items,
        {
            "unit_name": ("unit_id", names.unit),
            "touchpoint_name": ("touchpoint", names.touchpoint),
            "segment_name": ("segment", names.segment),
        },
    )
    return csv_response(rows, COMMENT_COLUMNS, f"{unit_id}-comments.csv")
