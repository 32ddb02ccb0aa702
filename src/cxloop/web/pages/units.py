"""Pages to explore a unit: its league table of children with drill-down and breadcrumbs, a CSV export
of that table, and the searchable comment stream. Each page checks the unit against the viewer's subtree
(:data:`~cxloop.web.deps.PageUnitDep`: outside it 404, like an unknown unit), reads the dashboard's
filters (:data:`~cxloop.web.queries.PageFiltersDep`) and calls the same services as the API.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from cxloop.services.access.scope import Viewer
from cxloop.services.access.units import Unit, breadcrumbs
from cxloop.services.stores import Stores
from cxloop.services.understand.comments import comments
from cxloop.services.understand.dashboard import DashboardFilters, unit_benchmarks
from cxloop.services.understand.metrics import MetricsQuery, MetricsResult, NoDataError, metrics
from cxloop.services.understand.themes import NoCodebookError, load_codebook
from cxloop.web.deps import (
    PageUnitDep,
    PageViewer,
    PageViewerDep,
    StoresDep,
)
from cxloop.web.pages.dashboard import filter_form
from cxloop.web.queries import CommentSearchDep, PageFiltersDep
from cxloop.web.rendering import templates

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
_CSV_COLUMNS = (
    "unit",
    "unit_name",
    "metric",
    "n",
    "estimate",
    "ci_low",
    "ci_high",
    "suppressed",
    "difference",
    "significant",
)


def _league(
    viewer: Viewer,
    unit_id: str,
    stores: Stores,
    filters: DashboardFilters = DashboardFilters(),  # noqa: B008 - frozen
) -> MetricsResult:
    query = MetricsQuery(
        unit=unit_id,
        include="children",
        grain=None,
        metrics=("nps",),
        compare=("parent",),
        **filters.metric_filters(),
    )
    return metrics(viewer, query, stores=stores)


def _context(page: PageViewer, unit: Unit, filters: DashboardFilters, stores: Stores) -> dict[str, Any]:
    """The page's context: the unit and the filter form."""
    return page.context(unit=unit, **filter_form(filters, stores))


@router.get("/units/{unit_id}")
def unit_page(
    unit_id: str,
    request: Request,
    page: PageViewerDep,
    unit: PageUnitDep,
    filters: PageFiltersDep,
    stores: StoresDep,
) -> Response:
    context = _context(page, unit, filters, stores)
    context["breadcrumbs"] = breadcrumbs(stores.session, page.viewer, unit_id)
    try:
        result = _league(page.viewer, unit_id, stores, filters)
        records = result.to_records()
        records.sort(
            key=lambda r: (r["unit"] != unit_id, -(r["estimate"] if r["estimate"] is not None else -1e9))
        )
        context.update(rows=records, message=None, correction=result.correction, metric_label="NPS")
        context["benchmarks"] = unit_benchmarks(page.viewer, stores=stores, unit_id=unit_id, filters=filters)
    except NoDataError:
        context.update(rows=[], message="No survey responses here yet.", correction="", metric_label="NPS")
    return templates.TemplateResponse(request, "unit.html", context)


@router.get("/units/{unit_id}/export.csv")
def unit_export(
    unit_id: str,
    page: PageViewerDep,
    _unit: PageUnitDep,
    filters: PageFiltersDep,
    stores: StoresDep,
) -> Response:
    try:
        records = _league(page.viewer, unit_id, stores, filters).to_records()
    except NoDataError:
        records = []
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        # A leading =, +, - or @ would be read as a formula by spreadsheets; names are quoted text.
        name = str(record.get("unit_name") or "")
        record["unit_name"] = "'" + name if name[:1] in ("=", "+", "-", "@") else name
        writer.writerow(record)
    headers = {"Content-Disposition": f'attachment; filename="{unit_id}-nps.csv"'}
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/units/{unit_id}/comments")
def comments_page(
    unit_id: str,
    request: Request,
    page: PageViewerDep,
    unit: PageUnitDep,
    search: CommentSearchDep,
    stores: StoresDep,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    context = _context(page, unit, search.filters, stores)
    query = search.query(unit_id, limit=PAGE_SIZE, offset=offset)
    found = comments(page.viewer, query, stores=stores)
    try:
        theme_names = list(load_codebook(stores.session).names)
    except NoCodebookError:
        theme_names = []
    kept = [("q", search.q)] + [("theme", t) for t in sorted(search.themes)]
    kept += [("negative", "1")] if search.negative else []
    kept += [(k, v) for k, v in search.filters.as_dict().items() if v]
    context.update(
        themes=theme_names,
        chosen_themes=search.themes,
        negative=search.negative,
        filter_query=urlencode([(k, v) for k, v in kept if v]),
        page=found,
        q=search.q,
        previous_offset=max(0, offset - PAGE_SIZE) if offset > 0 else None,
        next_offset=offset + PAGE_SIZE if offset + PAGE_SIZE < found.total else None,
    )
    return templates.TemplateResponse(request, "comments.html", context)
