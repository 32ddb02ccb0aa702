"""Pages to explore a unit: its league table of children with drill-down and breadcrumbs, a CSV export
of that table, and the searchable comment stream. Each page checks the unit against the viewer's subtree
(outside it: 404, like an unknown unit) and calls the same services as the API.
"""

from __future__ import annotations

import csv
import io
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from ibis.backends import BaseBackend
from markupsafe import escape
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.access.scope import Viewer
from cxloop.services.understand.comments import CommentsQuery, comments
from cxloop.services.understand.dashboard import DashboardFilters, filter_options
from cxloop.services.understand.metrics import MetricsQuery, MetricsResult, NoDataError, metrics
from cxloop.services.understand.themes import NoCodebookError, load_codebook
from cxloop.web.deps import SessionDep, SettingsDep, WarehouseDep
from cxloop.web.pages.dashboard import parse_filters
from cxloop.web.pages.home import breadcrumbs, page_for_unit, templates

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


def _escape(text: str) -> str:
    return str(escape(text))


def _league(
    viewer: Viewer,
    unit_id: str,
    settings: Settings,
    session: Session,
    con: BaseBackend,
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
    return metrics(viewer, query, settings=settings, session=session, con=con)


def _filter_context(context: dict, filters: DashboardFilters, session: Session, con: BaseBackend) -> None:
    """The filter form's values and options, and the query string that carries them on."""
    kept = {k: v for k, v in filters.as_dict().items() if v}
    context.update(filters=filters.as_dict(), options=filter_options(session, con), query=urlencode(kept))


def _scoped(request: Request, settings: Settings, session: Session, unit_id: str):
    """``(context, viewer, unit)`` for a logged-in viewer and a unit in their subtree, else a response."""
    scoped = page_for_unit(request, settings, session, unit_id)
    if isinstance(scoped, Response):
        return scoped
    page, unit = scoped
    return page.context(unit=unit), page.viewer, unit


@router.get("/units/{unit_id}")
def unit_page(
    unit_id: str,
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    con: WarehouseDep,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    touchpoint: Annotated[str | None, Query(max_length=64)] = None,
    channel: Annotated[str | None, Query(max_length=64)] = None,
    segment: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    scoped = _scoped(request, settings, session, unit_id)
    if isinstance(scoped, Response):
        return scoped
    context, viewer, unit = scoped
    try:
        filters = parse_filters(start, end, touchpoint, channel, segment)
    except ValueError as exc:
        return HTMLResponse(f"<h1>Bad filter</h1><p>{_escape(str(exc))}</p>", 400)
    _filter_context(context, filters, session, con)
    context["breadcrumbs"] = breadcrumbs(session, viewer, unit_id)
    try:
        result = _league(viewer, unit_id, settings, session, con, filters)
        records = result.to_records()
        records.sort(
            key=lambda r: (r["unit"] != unit_id, -(r["estimate"] if r["estimate"] is not None else -1e9))
        )
        context.update(rows=records, message=None, correction=result.correction, metric_label="NPS")
    except NoDataError:
        context.update(rows=[], message="No survey responses here yet.", correction="", metric_label="NPS")
    return templates.TemplateResponse(request, "unit.html", context)


@router.get("/units/{unit_id}/export.csv")
def unit_export(
    unit_id: str,
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    con: WarehouseDep,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    touchpoint: Annotated[str | None, Query(max_length=64)] = None,
    channel: Annotated[str | None, Query(max_length=64)] = None,
    segment: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    scoped = _scoped(request, settings, session, unit_id)
    if isinstance(scoped, Response):
        return scoped
    _, viewer, _ = scoped
    try:
        filters = parse_filters(start, end, touchpoint, channel, segment)
    except ValueError as exc:
        return HTMLResponse(f"<h1>Bad filter</h1><p>{_escape(str(exc))}</p>", 400)
    try:
        records = _league(viewer, unit_id, settings, session, con, filters).to_records()
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
    settings: SettingsDep,
    session: SessionDep,
    con: WarehouseDep,
    q: Annotated[str, Query(max_length=200)] = "",
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    theme: Annotated[list[str] | None, Query(max_length=50)] = None,
    negative: bool = False,
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    touchpoint: Annotated[str | None, Query(max_length=64)] = None,
    channel: Annotated[str | None, Query(max_length=64)] = None,
    segment: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    scoped = _scoped(request, settings, session, unit_id)
    if isinstance(scoped, Response):
        return scoped
    context, viewer, _ = scoped
    try:
        period = parse_filters(start, end, touchpoint, channel, segment)
    except ValueError as exc:
        return HTMLResponse(f"<h1>Bad filter</h1><p>{_escape(str(exc))}</p>", 400)
    _filter_context(context, period, session, con)
    chosen = frozenset(t for t in theme or [] if t)
    page = comments(
        viewer,
        CommentsQuery(
            unit=unit_id,
            q=q or None,
            limit=PAGE_SIZE,
            offset=offset,
            themes=chosen or None,
            negative_only=negative,
            start=period.start,
            end=period.end,
            touchpoints=frozenset({period.touchpoint}) if period.touchpoint else None,
            channels=frozenset({period.channel}) if period.channel else None,
            segments=frozenset({period.segment}) if period.segment else None,
        ),
        settings=settings,
        session=session,
        con=con,
    )
    try:
        theme_names = list(load_codebook(session).names)
    except NoCodebookError:
        theme_names = []
    filters = [("q", q)] + [("theme", t) for t in sorted(chosen)] + ([("negative", "1")] if negative else [])
    filters += [(k, v) for k, v in period.as_dict().items() if v]
    context.update(
        themes=theme_names,
        chosen_themes=chosen,
        negative=negative,
        filter_query=urlencode([(k, v) for k, v in filters if v]),
        page=page,
        q=q,
        previous_offset=max(0, offset - PAGE_SIZE) if offset > 0 else None,
        next_offset=offset + PAGE_SIZE if offset + PAGE_SIZE < page.total else None,
    )
    return templates.TemplateResponse(request, "comments.html", context)
