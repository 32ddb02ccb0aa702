"""JSON twins of the dashboard pages: trends, touchpoints (journey), priorities, customer value and the
home tiles, under ``/api/v1/units/{unit_id}/...``.

Each route calls the same service function as its page with the same viewer and filters (``from``,
``to``, ``touchpoint``, ``channel``, ``segment``: :data:`~cxloop.web.queries.FiltersDep`, the same
``DashboardFilters`` the pages read); the unit is checked against the viewer's subtree first (outside it:
404 ``unit_not_found``, like an unknown unit). Errors are the app's mapping (:mod:`cxloop.web.errors`):
no data 404 ``no_data``, bad or uncombinable values 422 ``bad_request``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from cxloop.services.understand import dashboard
from cxloop.services.understand.dashboard import DashboardFilters
from cxloop.services.understand.drivers import OUTCOMES
from cxloop.web.deps import StoresDep, ViewerDep, VisibleUnitDep
from cxloop.web.queries import FiltersDep, FromQuery, OneValue, PrioritiesQuery, ToQuery
from cxloop.web.schemas import ErrorPublic

__all__ = ["router"]

router = APIRouter(prefix="/api/v1/units", tags=["dashboard"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorPublic, "description": "No or invalid credentials."},
    404: {"model": ErrorPublic, "description": "Unknown unit, outside your scope, or no data."},
    422: {"model": ErrorPublic, "description": "A parameter is missing, malformed or cannot be combined."},
}

Outcome = Literal[OUTCOMES]  # type: ignore[valid-type]


class FiltersPublic(BaseModel):
    from_: date | None = Field(None, alias="from")
    to: date | None = None
    touchpoint: str | None = None
    channel: str | None = None
    segment: str | None = None


class TrendPointPublic(BaseModel):
    period: str | None
    period_start: date | None
    n: int | None = Field(None, description="Responses behind the point; null when suppressed.")
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    suppressed: bool
    difference: float | None = Field(None, description="Change from the previous period.")
    significant: bool | None = Field(None, description="Whether that change is significant (BH-corrected).")


class TrendSeriesPublic(BaseModel):
    metric: str
    points: list[TrendPointPublic]


class TrendsPublic(BaseModel):
    unit: str
    grain: str
    confidence: float
    min_n: int
    correction: str
    filters: FiltersPublic
    series: list[TrendSeriesPublic]


class DriverSharePublic(BaseModel):
    driver: str
    label: str
    relative_importance: float


class TouchpointPublic(BaseModel):
    touchpoint: str
    name: str
    stage_order: int
    nps_n: int | None = None
    nps_estimate: float | None = None
    nps_ci_low: float | None = None
    nps_ci_high: float | None = None
    nps_suppressed: bool
    csat_n: int | None = None
    csat_estimate: float | None = None
    csat_ci_low: float | None = None
    csat_ci_high: float | None = None
    csat_suppressed: bool
    ces_n: int | None = None
    ces_estimate: float | None = None
    ces_ci_low: float | None = None
    ces_ci_high: float | None = None
    ces_suppressed: bool
    importance_n: int | None = Field(None, description="Complete responses behind the importance.")
    importance_r2: float | None = Field(None, description="Share of NPS variation the items explain here.")
    top_drivers: list[DriverSharePublic] = Field(default_factory=list)
    importance_note: str | None = None


class JourneyPublic(BaseModel):
    unit: str
    outcome: str
    confidence: float
    min_n: int
    filters: FiltersPublic
    touchpoints: list[TouchpointPublic]
    notes: list[str]


class PriorityPublic(BaseModel):
    rank: int
    driver: str
    label: str
    relative_importance: float | None = None
    importance_basis: str | None = Field(
        None, description='"own", or "shrunk toward your region" (empirical Bayes, docs/drivers.md).'
    )
    importance_weight: float | None = Field(
        None, description="The unit's own weight in its importances (1: own)."
    )
    importance_n: int | None = Field(
        None, description="Complete responses of the unit behind the importances."
    )
    mean: float | None = None
    benchmark: float | None = None
    benchmark_kind: str | None = Field(
        None, description="target, top_quartile (of the peers), parent, company, children, peers or none."
    )
    benchmark_label: str | None = None
    gap: float | None = None
    slope: float | None = None
    expected_gain: float | None = None
    expected_nps_points: float | None = None
    expected_margin: float | None = None
    score: float | None = None
    why: str = Field(
        description="One sentence: where the unit stands and what closing part of the gap is worth."
    )
    details: str | None = Field(None, description="The whole reasoning: importance, gap, value, rank.")
    touchpoint: str | None = None
    segment: str | None = None


class PrioritiesPublic(BaseModel):
    unit: str
    outcome: str
    segment: str | None
    touchpoint: str | None
    share_closed: float
    currency: str
    suppressed: bool
    min_n: int
    n: int | None
    r2: float | None
    benchmark: str
    customers: int | None
    annual_margin: float | None
    shrinkage: dict[str, Any] | None = Field(
        None,
        description="weight (the unit's own share), n, n0 and toward (the group) (importances shrunk).",
    )
    priorities: list[PriorityPublic]
    notes: list[str]


class MoneyPublic(BaseModel):
    name: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    definition: str


class ValuePublic(BaseModel):
    unit: str
    start: date
    end: date
    as_of: date
    horizon_days: int
    confidence: float
    min_n: int
    filters: FiltersPublic
    segments: list[dict[str, Any]] = Field(
        description="Per customer segment: customers and churn, repeat_purchase, clv, margin_per_buyer, nps "
        "each with _low, _high and _n; null when suppressed."
    )
    tiers: list[dict[str, Any]]
    tier_experience: list[dict[str, Any]]
    top_20_percent_share_of_value: float | None
    top_tier: dict[str, Any] | None = Field(
        None,
        description="The first (most valuable) tier: its name, customer_share and value_share (what the "
        "page's sentence says).",
    )
    by_nps_class: list[dict[str, Any]]
    revenue_at_risk: list[MoneyPublic]
    notes: list[str]


class ComparisonTilePublic(BaseModel):
    reference: float | None = Field(
        None,
        description="What it is compared with: the earlier value, a group's aggregate, the peer median.",
    )
    difference: float | None = None
    significant: bool | None = None
    note: str | None = Field(None, description="Why the comparison is missing, or what it is tested against.")
    label: str | None = Field(
        None, description='The benchmark by level, e.g. "your region", "branches in the company".'
    )
    rank: int | None = Field(None, description="Peers only: 1 + the peers with a higher estimate.")
    rank_low: int | None = None
    rank_high: int | None = None
    league_size: int | None = Field(
        None, description="Peers only: the peers ranked (each with at least min_n)."
    )
    median: float | None = None
    top_quartile: float | None = Field(
        None, description="Peers only: the 75th percentile of peer units' estimates."
    )
    state: str | None = Field(
        None,
        description="better or worse (significant, by the direction of the measure), level, or unknown.",
    )
    arrow: str | None = Field(None, description="The actual direction of the difference: up, down or =.")
    words: str | None = Field(None, description="The state in words, for readers who do not see the colour.")
    relation: str | None = Field(None, description='The same before a name: "significantly worse than".')


class TilePublic(BaseModel):
    name: str = Field(description="nps, csat, ces, churn, repeat_purchase, clv or revenue_at_risk.")
    label: str
    period: str | None
    n: float | None
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    suppressed: bool
    spark: list[float | None] = Field(description="Recent periods' estimates, oldest first.")
    previous: ComparisonTilePublic
    parent: ComparisonTilePublic
    company: ComparisonTilePublic
    peers: ComparisonTilePublic
    target: ComparisonTilePublic
    status: dict[str, Any] = Field(
        description="The tile's colour: against (its first benchmark of target, peers, parent, company), "
        "label, state (better, worse, level, unknown), arrow, words, relation."
    )


class BenchmarkSetPublic(BaseModel):
    target: ComparisonTilePublic
    peers: ComparisonTilePublic
    parent: ComparisonTilePublic
    company: ComparisonTilePublic


class MetricBenchmarksPublic(BaseModel):
    metric: str
    label: str
    period: str | None
    n: int | None = Field(None, description="Responses behind the estimate; null when suppressed.")
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    suppressed: bool
    benchmarks: BenchmarkSetPublic


class BenchmarksPublic(BaseModel):
    unit: str
    period: str | None = Field(description="The period compared: the latest month with data, or from..to.")
    confidence: float
    min_n: int
    min_peers: int = Field(description="CXLOOP_MIN_PEERS: peer groups smaller than this are withheld.")
    correction: str
    metrics: list[MetricBenchmarksPublic]
    notes: list[str]


class TilesPublic(BaseModel):
    unit: str
    tiles: list[TilePublic]


@router.get(
    "/{unit_id}/trends", response_model=TrendsPublic, summary="NPS, CSAT and CES over time", responses=_ERRORS
)
def unit_trends(
    unit_id: VisibleUnitDep,
    viewer: ViewerDep,
    stores: StoresDep,
    filters: FiltersDep,
    grain: Annotated[Literal["week", "month", "quarter"], Query()] = "month",
) -> TrendsPublic:
    """Per period: n, estimate, interval, and the change from the previous period with its significance."""
    result = dashboard.trends(viewer, stores=stores, unit_id=unit_id, grain=grain, filters=filters)
    records = [r for r in result.to_records() if r["unit"] == unit_id]
    series = [
        TrendSeriesPublic(
            metric=metric,
            points=[
                TrendPointPublic(**{k: r.get(k) for k in TrendPointPublic.model_fields})
                for r in records
                if r["metric"] == metric
            ],
        )
        for metric in result.metrics
    ]
    return TrendsPublic(
        unit=unit_id,
        grain=grain,
        confidence=result.confidence,
        min_n=result.min_n,
        correction=result.correction,
        filters=FiltersPublic(**filters.as_dict()),
        series=series,
    )


@router.get(
    "/{unit_id}/touchpoints",
    response_model=JourneyPublic,
    summary="The journey: each touchpoint's scores and what drives NPS there",
    responses=_ERRORS,
)
def unit_touchpoints(
    unit_id: VisibleUnitDep,
    viewer: ViewerDep,
    stores: StoresDep,
    filters: FiltersDep,
) -> JourneyPublic:
    result = dashboard.journey(viewer, stores=stores, unit_id=unit_id, filters=filters)
    data = result.to_dict()
    return JourneyPublic(**{**data, "filters": FiltersPublic(**filters.as_dict())})


@router.get(
    "/{unit_id}/priorities",
    response_model=PrioritiesPublic,
    summary="Where to improve first: ranked driver gaps with expected gains",
    responses=_ERRORS,
)
def unit_priorities(
    unit_id: VisibleUnitDep,
    viewer: ViewerDep,
    stores: StoresDep,
    outcome: Annotated[Outcome, Query(description="What to improve.")] = "nps",
    start: FromQuery = None,
    end: ToQuery = None,
    touchpoint: OneValue = None,
    channel: Annotated[
        str | None,
        Query(max_length=64, description="Accepted for symmetry; priorities are not kept by channel."),
    ] = None,
    segment: OneValue = None,
) -> PrioritiesPublic:
    """Give a segment or a touchpoint, not both (422)."""
    filters = DashboardFilters(start=start, end=end, touchpoint=touchpoint, channel=channel, segment=segment)
    query = PrioritiesQuery(outcome=outcome, filters=filters)
    result = query.ask(viewer, unit_id, stores=stores)
    data = result.to_dict()
    return PrioritiesPublic(
        **{k: data[k] for k in PrioritiesPublic.model_fields if k not in ("priorities",)},
        priorities=[
            PriorityPublic(**{k: r.get(k) for k in PriorityPublic.model_fields}) for r in data["priorities"]
        ],
    )


@router.get(
    "/{unit_id}/value",
    response_model=ValuePublic,
    summary="Customer value: segments, value at risk, what the most valuable customers experience",
    responses=_ERRORS,
)
def unit_value(
    unit_id: VisibleUnitDep,
    viewer: ViewerDep,
    stores: StoresDep,
    filters: FiltersDep,
) -> ValuePublic:
    result = dashboard.customer_value(viewer, stores=stores, unit_id=unit_id, filters=filters)
    data = result.to_dict()
    return ValuePublic(**{**data, "filters": FiltersPublic(**filters.as_dict())})


@router.get(
    "/{unit_id}/tiles",
    response_model=TilesPublic,
    summary="The home page's tiles: NPS, CSAT, CES, churn, repeat purchase, CLV, revenue at risk",
    responses=_ERRORS,
)
def unit_tiles(unit_id: VisibleUnitDep, viewer: ViewerDep, stores: StoresDep) -> TilesPublic:
    tiles = dashboard.home_tiles(viewer, stores=stores, unit_id=unit_id)
    return TilesPublic(unit=unit_id, tiles=[TilePublic(**t.to_dict()) for t in tiles])


@router.get(
    "/{unit_id}/benchmarks",
    response_model=BenchmarksPublic,
    summary="A unit against its target, its peers, its parent and the company (aggregates only)",
    responses=_ERRORS,
)
def unit_benchmarks(
    unit_id: VisibleUnitDep,
    viewer: ViewerDep,
    stores: StoresDep,
    filters: FiltersDep,
    metric: Annotated[
        list[Literal["nps", "csat", "ces"]] | None, Query(max_length=3, description="Metrics (default all).")
    ] = None,
) -> BenchmarksPublic:
    """Groups are named by level ("your region", "branches in the company"), never by id or name; a peer
    group with fewer than ``min_peers`` units, or a group whose rest would be a single other unit, is withheld
    with a note saying why (``docs/benchmark-policy.md``)."""
    chosen = tuple(dict.fromkeys(metric)) if metric else ("nps", "csat", "ces")
    result = dashboard.unit_benchmarks(
        viewer, stores=stores, unit_id=unit_id, metric_names=chosen, filters=filters
    )
    return BenchmarksPublic(**result.to_dict())
