"""Scoped data routes: the units a viewer can see, and each unit's metrics, drivers and comments.

Every route resolves the viewer from the credentials, checks the path's unit against the viewer's subtree
(:data:`~cxloop.web.deps.VisibleUnitDep`: outside it answers 404 like an unknown unit) and passes the
viewer to the service, which checks scope again before any warehouse query. Errors are the app's mapping
(:mod:`cxloop.web.errors`): a parameter that cannot be read or combined raises ``ValueError`` (422
``bad_request``), no data 404 ``no_data``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from cxloop.services.access import units as unit_rows
from cxloop.services.understand.comments import CommentsQuery, comments
from cxloop.services.understand.drivers import (
    OUTCOMES,
    driver_analysis,
)
from cxloop.services.understand.metrics import (
    metrics,
)
from cxloop.web.api.cached_json import NOT_MODIFIED, app_db_json, warehouse_json
from cxloop.web.deps import SessionDep, SettingsDep, StoresDep, ViewerDep, VisibleUnitDep
from cxloop.web.queries import FromQuery, MetricsQueryDep, ToQuery, ValuesQuery
from cxloop.web.schemas import (
    CommentPublic,
    CommentsPagePublic,
    ComparisonPublic,
    DriverPublic,
    DriversPublic,
    ErrorPublic,
    MetricCellPublic,
    MetricsPublic,
    UnitPublic,
    UnitsPagePublic,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/units", tags=["units"])

_COMPARISON_FIELDS = (
    "reference",
    "difference",
    "difference_se",
    "p_value",
    "p_adjusted",
    "significant",
    "note",
)
_EXTRA_FIELDS = {
    "siblings": ("rank", "rank_low", "rank_high", "league_size"),
    "peers": ("rank", "rank_low", "rank_high", "league_size", "median", "top_quartile"),
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "No or invalid credentials."},
    404: {"model": ErrorPublic, "description": "Unknown unit, outside your scope, or no data."},
    422: {"model": ErrorPublic, "description": "A parameter is missing, malformed or cannot be combined."},
}


@router.get(
    "", response_model=UnitsPagePublic, summary="Units you can see", responses={**_ERRORS, **NOT_MODIFIED}
)
def list_units(
    request: Request,
    viewer: ViewerDep,
    settings: SettingsDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
) -> Response:
    """Your unit and every unit below it, top down (by depth, then id)."""

    def build() -> UnitsPagePublic:
        found = unit_rows.units_page(session, viewer, limit=limit, offset=offset)
        items = [UnitPublic.model_validate(row) for row in found.units]
        return UnitsPagePublic(items=items, total=found.total, limit=limit, offset=offset)

    return app_db_json(request, viewer=viewer, settings=settings, session=session, build=build)


@router.get("/{unit_id}", response_model=UnitPublic, summary="One unit you can see", responses=_ERRORS)
def get_unit(unit_id: VisibleUnitDep, viewer: ViewerDep, session: SessionDep) -> UnitPublic:
    return UnitPublic.model_validate(unit_rows.unit_seen(session, viewer, unit_id))


def _cell(record: dict[str, Any], compare: tuple[str, ...]) -> MetricCellPublic:
    single = len(compare) == 1
    comparisons = []
    for name in compare:
        names = (*_COMPARISON_FIELDS, *_EXTRA_FIELDS.get(name, ()))
        values = {f: record.get(f if single else f"{name}_{f}") for f in names}
        comparisons.append(ComparisonPublic(name=name, **values))
    first = comparisons[0] if comparisons else None
    fields = {
        k: record.get(k)
        for k in MetricCellPublic.model_fields
        if k not in ("comparisons", "difference", "significant")
    }
    return MetricCellPublic(
        **fields,
        difference=first.difference if first else None,
        significant=first.significant if first else None,
        comparisons=comparisons,
    )


@router.get(
    "/{unit_id}/metrics",
    response_model=MetricsPublic,
    summary="NPS, CSAT and CES with intervals",
    responses={**_ERRORS, **NOT_MODIFIED},
)
def unit_metrics(
    request: Request,
    viewer: ViewerDep,
    stores: StoresDep,
    query: MetricsQueryDep,
) -> Response:
    """The same numbers as ``cxloop metrics``: suppressed cells carry no n, estimate or comparison."""

    def build() -> MetricsPublic:
        result = metrics(viewer, query, stores=stores)
        return MetricsPublic(
            unit=result.unit,
            grain=result.grain,
            metrics=list(result.metrics),
            compare=list(result.compare),
            confidence=result.confidence,
            min_n=result.min_n,
            correction=result.correction,
            notes=result.notes,
            cells=[_cell(record, result.compare) for record in result.to_records()],
        )

    # Stored targets live in the app database, which the data version does not cover.
    keep = not ("target" in query.compare and not query.targets)
    return warehouse_json(
        request,
        viewer=viewer,
        settings=stores.settings,
        session=stores.session,
        con=stores.warehouse,
        build=build,
        keep=keep,
    )


@router.get(
    "/{unit_id}/drivers", response_model=DriversPublic, summary="Key drivers of an outcome", responses=_ERRORS
)
def unit_drivers(
    unit_id: VisibleUnitDep,
    viewer: ViewerDep,
    stores: StoresDep,
    outcome: Annotated[str, Query(max_length=64, description=f"One of {', '.join(OUTCOMES)}.")] = "nps",
    segment: Annotated[str | None, Query(max_length=64)] = None,
    touchpoint: Annotated[str | None, Query(max_length=64)] = None,
    start: FromQuery = None,
    end: ToQuery = None,
) -> DriversPublic:
    """What moves the outcome most in this unit's subtree (Shapley shares of R-squared)."""
    if start and end and start > end:
        raise ValueError(f"from {start} is after to {end}")
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; use one of {', '.join(OUTCOMES)}")
    result = driver_analysis(
        viewer,
        stores=stores,
        unit_id=unit_id,
        outcome=outcome,
        segment=segment,
        touchpoint=touchpoint,
        start=start,
        end=end,
    )
    data = result.to_dict()
    return DriversPublic(
        **{k: data[k] for k in DriversPublic.model_fields if k not in ("drivers", "notes")},
        drivers=[DriverPublic(**{k: d[k] for k in DriverPublic.model_fields}) for d in data["drivers"]],
        notes=data["notes"],
    )


@router.get(
    "/{unit_id}/comments",
    response_model=CommentsPagePublic,
    summary="Verbatims with their scores, newest first",
    responses={**_ERRORS, **NOT_MODIFIED},
)
def unit_comments(
    request: Request,
    unit_id: VisibleUnitDep,
    viewer: ViewerDep,
    stores: StoresDep,
    q: Annotated[str | None, Query(max_length=200, description="Case-insensitive text search.")] = None,
    touchpoint: ValuesQuery = None,
    channel: ValuesQuery = None,
    segment: ValuesQuery = None,
    start: FromQuery = None,
    end: ToQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    theme: Annotated[
        list[str] | None, Query(max_length=50, description="Only comments tagged with one of these themes.")
    ] = None,
    negative: Annotated[bool, Query(description="Only comments with negative sentiment.")] = False,
) -> Response:
    """Nothing is shown when fewer than ``min_n`` responses match the filters (anonymity)."""
    query = CommentsQuery(
        unit=unit_id,
        touchpoints=frozenset(touchpoint) if touchpoint else None,
        channels=frozenset(channel) if channel else None,
        segments=frozenset(segment) if segment else None,
        start=start,
        end=end,
        q=q,
        limit=limit,
        offset=offset,
        themes=frozenset(theme) if theme else None,
        negative_only=negative,
    )

    def build() -> CommentsPagePublic:
        page = comments(viewer, query, stores=stores)
        return CommentsPagePublic(
            unit=page.unit,
            suppressed=page.suppressed,
            min_n=page.min_n,
            n=page.n,
            total=page.total,
            limit=page.limit,
            offset=page.offset,
            items=[CommentPublic(**item) for item in page.items],
        )

    return warehouse_json(
        request,
        viewer=viewer,
        settings=stores.settings,
        session=stores.session,
        con=stores.warehouse,
        build=build,
    )
