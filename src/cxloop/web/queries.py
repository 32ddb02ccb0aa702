"""One request model per service question, declared once and shared by a page and its JSON twin.

A page and its API route ask the same question of the same service function, so they read its parameters
through the same dependency here and ask it through the model's ``ask`` (Datasette's "one data function,
several renderers"): the two cannot drift apart in names, limits, defaults or the call. Only where the two
must read a parameter differently is there a second reader, beside the first and producing the same
model: the dashboard's filters arrive typed from API clients (a malformed date is a validation error) but
as form text from pages (an empty field means no filter, a malformed date the "Bad filter" page).

``from``/``to`` are the public names of the period (``from`` is a Python keyword).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Literal

from fastapi import Depends, Query
from ibis.backends import BaseBackend
from sqlalchemy.orm import Session

from cxloop.services.access.scope import Viewer
from cxloop.services.prove import pilots
from cxloop.services.stores import Stores
from cxloop.services.understand.comments import CommentsQuery
from cxloop.services.understand.dashboard import DashboardFilters
from cxloop.services.understand.drivers import OUTCOMES
from cxloop.services.understand.metrics import COMPARISONS, GRAINS, METRICS, MetricsQuery
from cxloop.services.understand.priorities import PriorityResult, priorities
from cxloop.services.value import churn
from cxloop.web.deps import VisibleUnitDep
from cxloop.web.errors import PageError

__all__ = [
    "AtRiskDep",
    "AtRiskQuery",
    "CommentSearch",
    "CommentSearchDep",
    "FiltersDep",
    "FromQuery",
    "Inference",
    "OneValue",
    "PageFiltersDep",
    "PilotAnalysisDep",
    "PilotAnalysisQuery",
    "PrioritiesQuery",
    "ToQuery",
    "ValuesQuery",
    "MetricsQueryDep",
    "dashboard_filters",
    "page_filters",
    "parse_filters",
]

FromQuery = Annotated[date | None, Query(alias="from", description="First day (YYYY-MM-DD).")]
ToQuery = Annotated[date | None, Query(alias="to", description="Last day (YYYY-MM-DD).")]
OneValue = Annotated[str | None, Query(max_length=64)]
ValuesQuery = Annotated[list[str] | None, Query(max_length=50)]


# --- the dashboard's filters ------------------------------------------------------------------------


async def dashboard_filters(
    start: FromQuery = None,
    end: ToQuery = None,
    touchpoint: OneValue = None,
    channel: OneValue = None,
    segment: OneValue = None,
) -> DashboardFilters:
    """``from``, ``to``, ``touchpoint``, ``channel`` and ``segment`` of an API route as one dependency
    (``async``: no I/O). Values that cannot be combined (``from`` after ``to``) raise ``ValueError``: 422."""
    return DashboardFilters(start=start, end=end, touchpoint=touchpoint, channel=channel, segment=segment)


FiltersDep = Annotated[DashboardFilters, Depends(dashboard_filters)]


def parse_filters(
    start: str | None, end: str | None, touchpoint: str | None, channel: str | None, segment: str | None
) -> DashboardFilters:
    """Filters from a page's GET parameters; empty values (an untouched form field) mean no filter.

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


async def page_filters(
    start: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    touchpoint: OneValue = None,
    channel: OneValue = None,
    segment: OneValue = None,
) -> DashboardFilters:
    """The same filters from a page's form: the "Bad filter" page (400) when they cannot be read."""
    try:
        return parse_filters(start, end, touchpoint, channel, segment)
    except ValueError as exc:
        raise PageError(400, "Bad filter", str(exc)) from None


PageFiltersDep = Annotated[DashboardFilters, Depends(page_filters)]


# --- the comment stream's search on pages -----------------------------------------------------------


@dataclass(frozen=True)
class CommentSearch:
    """A page's search of the comment stream: text, themes, negative only, and the dashboard's filters."""

    q: str = ""
    themes: frozenset[str] = frozenset()
    negative: bool = False
    filters: DashboardFilters = DashboardFilters()

    def query(self, unit_id: str, *, limit: int, offset: int = 0) -> CommentsQuery:
        """The service's query for ``unit_id``'s subtree (``ValueError`` when it cannot be asked)."""
        filters = self.filters
        return CommentsQuery(
            unit=unit_id,
            q=self.q or None,
            limit=limit,
            offset=offset,
            themes=self.themes or None,
            negative_only=self.negative,
            start=filters.start,
            end=filters.end,
            touchpoints=frozenset({filters.touchpoint}) if filters.touchpoint else None,
            channels=frozenset({filters.channel}) if filters.channel else None,
            segments=frozenset({filters.segment}) if filters.segment else None,
        )


async def comment_search(
    filters: PageFiltersDep,
    q: Annotated[str, Query(max_length=200)] = "",
    theme: Annotated[list[str] | None, Query(max_length=50)] = None,
    negative: bool = False,
) -> CommentSearch:
    """The comment page's and its CSV download's search parameters (empty themes are dropped)."""
    themes = frozenset(t for t in theme or [] if t)
    return CommentSearch(q=q, themes=themes, negative=negative, filters=filters)


CommentSearchDep = Annotated[CommentSearch, Depends(comment_search)]


# --- a pilot's analysis -----------------------------------------------------------------------------

Inference = Literal["wild_cluster", "randomization", "cluster", "ols"]
HorizonQuery = Annotated[int | None, Query(ge=1, le=120)]


@dataclass(frozen=True)
class PilotAnalysisQuery:
    """How to analyse a pilot: inference, which wave, the ROI horizon and discount rate, resamples."""

    inference: Inference = "wild_cluster"
    wave: int | None = None
    horizon_months: int | None = None
    discount_rate: float = 0.1
    resamples: int = 999
    per_treated: int = 2

    def ask(
        self, viewer: Viewer, pilot_id: int, *, session: Session, con: BaseBackend
    ) -> pilots.PilotAnalysis:
        """The pilot's analysis (``ValueError`` when it cannot be analysed, e.g. no controls to compare)."""
        return pilots.analyze_pilot(
            session,
            con,
            viewer,
            pilot_id,
            inference=self.inference,
            wave=self.wave,
            horizon_months=self.horizon_months,
            discount_rate=self.discount_rate,
            n_resamples=self.resamples,
            per_treated=self.per_treated,
        )


async def pilot_analysis_query(
    inference: Inference = "wild_cluster",
    wave: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Analyse this wave instead.")] = None,
    horizon_months: HorizonQuery = None,
    discount_rate: Annotated[float, Query(ge=0, le=1)] = 0.1,
    resamples: Annotated[int, Query(ge=99, le=9999)] = 999,
    per_treated: Annotated[
        int, Query(ge=1, le=5, description="Matched controls per pilot unit (fewer: nearer neighbours).")
    ] = 2,
    horizon: Annotated[int | None, Query(ge=1, le=120, include_in_schema=False)] = None,
) -> PilotAnalysisQuery:
    """The analysis parameters of ``GET /api/v1/pilots/{id}/analysis`` and the report pages. ``horizon`` is
    the report pages' older name of ``horizon_months``, still read so that saved links keep working."""
    return PilotAnalysisQuery(
        inference=inference,
        wave=wave,
        horizon_months=horizon_months if horizon_months is not None else horizon,
        discount_rate=discount_rate,
        resamples=resamples,
        per_treated=per_treated,
    )


PilotAnalysisDep = Annotated[PilotAnalysisQuery, Depends(pilot_analysis_query)]


# --- customers at risk ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AtRiskQuery:
    """Which at-risk customers to list: at most ``limit``, from ``min_risk`` and ``min_value`` up."""

    limit: int = 50
    min_risk: float = 0.0
    min_value: float = 0.0

    def ask(self, viewer: Viewer, unit_id: str, *, stores: Stores) -> churn.AtRiskList:
        """The at-risk list of ``unit_id``'s subtree from the latest scoring run."""
        return churn.at_risk(
            viewer,
            unit_id,
            stores=stores,
            limit=self.limit,
            min_risk=self.min_risk,
            min_value=self.min_value,
        )


async def at_risk_query(
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    min_risk: Annotated[float, Query(ge=0.0, le=1.0)] = 0.0,
    min_value: Annotated[float, Query(ge=0.0)] = 0.0,
) -> AtRiskQuery:
    """The parameters of ``GET /api/v1/units/{id}/at-risk`` and of its page."""
    return AtRiskQuery(limit=limit, min_risk=min_risk, min_value=min_value)


AtRiskDep = Annotated[AtRiskQuery, Depends(at_risk_query)]


# --- where to improve first -------------------------------------------------------------------------


@dataclass(frozen=True)
class PrioritiesQuery:
    """Which outcome to improve, within the dashboard's filters (priorities are not kept by channel)."""

    outcome: str = "nps"
    filters: DashboardFilters = DashboardFilters()

    def ask(self, viewer: Viewer, unit_id: str, *, stores: Stores) -> PriorityResult:
        """The ranked driver gaps of ``unit_id``'s subtree (``ValueError`` for an unknown outcome)."""
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}; use one of {', '.join(OUTCOMES)}")
        filters = self.filters
        return priorities(
            viewer,
            stores=stores,
            unit_id=unit_id,
            outcome=self.outcome,
            segment=filters.segment,
            touchpoint=filters.touchpoint,
            start=filters.start,
            end=filters.end,
        )


# --- metrics of a unit ------------------------------------------------------------------------------

_BREAKDOWNS = ("touchpoint", "channel", "segment")


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _parse_by(value: str) -> tuple[str | None, tuple[str, ...]]:
    grain: str | None = "month"
    breakdowns: list[str] = []
    grains = [part for part in _split(value) if part in GRAINS or part == "total"]
    if len(grains) > 1:
        raise ValueError(f"by has two period lengths ({', '.join(grains)}); give one")
    if grains:
        grain = None if grains[0] == "total" else grains[0]
    for part in _split(value):
        if part in _BREAKDOWNS:
            if part in breakdowns:
                raise ValueError(f"by names {part!r} twice")
            breakdowns.append(part)
        elif part not in grains:
            raise ValueError(
                f"by {part!r} is not known; use one of {', '.join(GRAINS)} or total, optionally with "
                f"{', '.join(_BREAKDOWNS)} (e.g. by=month,touchpoint)"
            )
    return grain, tuple(breakdowns)


def _parse_metrics(value: str) -> tuple[str, ...]:
    names = _split(value)
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names or len(set(names)) != len(names):
        raise ValueError(f"metric takes distinct values from {', '.join(METRICS)}, got {value!r}")
    return tuple(names)


def _parse_compare(value: str | None) -> tuple[str, ...]:
    names = [part.replace("-", "_") for part in _split(value)]
    unknown = [n for n in names if n not in COMPARISONS]
    if unknown or len(set(names)) != len(names):
        raise ValueError(f"compare takes distinct values from {', '.join(COMPARISONS)}, got {value!r}")
    return tuple(names)


def _parse_targets(value: str | None, metrics_asked: tuple[str, ...]) -> dict[str, float]:
    targets: dict[str, float] = {}
    for part in _split(value):
        metric, sep, number = part.partition("=")
        if not sep:
            if len(metrics_asked) != 1:
                raise ValueError("with several metrics give target per metric, e.g. target=nps=40,csat=80")
            metric, number = metrics_asked[0], part
        try:
            target = float(number)
        except ValueError:
            raise ValueError(f"target {part!r}: {number!r} is not a number") from None
        if target != target or target in (float("inf"), float("-inf")):
            raise ValueError(f"target {part!r} is not a finite number")
        targets[metric.strip()] = target
    return targets


async def metrics_query(
    unit_id: VisibleUnitDep,
    by: Annotated[
        str,
        Query(
            max_length=200, description="Period (day..year or total) and breakdowns, e.g. month,touchpoint."
        ),
    ] = "month",
    metric: Annotated[str, Query(max_length=100, description="Comma-separated: nps,csat,ces.")] = ",".join(
        METRICS
    ),
    compare: Annotated[
        str | None, Query(max_length=200, description=f"Comma-separated: {', '.join(COMPARISONS)}.")
    ] = None,
    target: Annotated[
        str | None,
        Query(
            max_length=200,
            description="A what-if target: 40, or nps=40,csat=80. Without it, compare=target uses the stored "
            "targets (/api/v1/targets).",
        ),
    ] = None,
    include: Annotated[Literal["unit", "children", "subtree"], Query()] = "unit",
    start: FromQuery = None,
    end: ToQuery = None,
    touchpoint: ValuesQuery = None,
    channel: ValuesQuery = None,
    segment: ValuesQuery = None,
) -> MetricsQuery:
    """``GET /api/v1/units/{id}/metrics``'s parameters as the service's query (``ValueError``: 422)."""
    grain, breakdowns = _parse_by(by)
    metrics_asked = _parse_metrics(metric)
    return MetricsQuery(
        unit=unit_id,
        include=include,
        grain=grain,  # type: ignore[arg-type]
        by=breakdowns,
        start=start,
        end=end,
        touchpoints=frozenset(touchpoint) if touchpoint else None,
        channels=frozenset(channel) if channel else None,
        segments=frozenset(segment) if segment else None,
        metrics=metrics_asked,
        compare=_parse_compare(compare),  # type: ignore[arg-type]
        targets=_parse_targets(target, metrics_asked),
    )


MetricsQueryDep = Annotated[MetricsQuery, Depends(metrics_query)]
