"""The dashboard's views, composed from the metrics, drivers, priorities, value and KPI services.

Each function here is the one call behind a dashboard page *and* its JSON route (``cxloop.web``), so the
two can never disagree. None computes a statistic of its own beyond comparing two estimates; they choose
what to ask the underlying services for, in which order, and what to say when a part cannot be shown.
Scope is checked by :func:`~cxloop.services.access.scope.require_unit` before anything else runs, and every
underlying service checks it again.

* :func:`trends` -- NPS, CSAT and CES per week / month / quarter with intervals, n and the change from the
  previous period (suppressed cells stay empty).
* :func:`journey` -- the touchpoints in journey order: each one's scores with intervals, and how much of
  NPS there the rated experiences explain, with the items that matter most (key drivers per touchpoint).
* :func:`customer_value` -- value segments (KPIs and NPS per customer segment), CLV tiers and what the most
  valuable customers experience, behaviour by NPS class and the revenue at risk.
* :func:`home_tiles` -- the home page's tiles: NPS, CSAT, CES, churn, repeat purchase, CLV and revenue at
  risk, each with n, interval, a short trend and its change from the previous period and the parent.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from ibis.backends import BaseBackend
from scipy import stats as scipy_stats
from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.services.access.scope import Viewer, require_unit
from cxloop.services.cache import cached, freeze
from cxloop.services.stores import Stores
from cxloop.services.understand.benchmarks import group_label, peers_label, verdict
from cxloop.services.understand.drivers import NoDriverDataError, driver_analysis
from cxloop.services.understand.metrics import (
    MetricsQuery,
    MetricsResult,
    NoDataError,
    NoTargetError,
    metrics,
)
from cxloop.services.value.kpis import KPIS, business_kpis
from cxloop.services.value.money import (
    ExperienceMoney,
    MoneyEstimate,
    NoTransactionsError,
    experience_and_money,
    nps_point_value,
    revenue_at_risk,
    value_tiers,
)
from cxloop.stats.drivers import DriverAnalysisError
from cxloop.store.tables import Segment, Touchpoint, Unit
from cxloop.store.targets import stored_targets
from cxloop.warehouse.periods import Grain, add_periods, check_day, period_label, period_start
from cxloop.warehouse.sql import check_printable

__all__ = [
    "BENCHMARKS",
    "KPI_TILES",
    "CustomerValue",
    "DashboardFilters",
    "Journey",
    "Tile",
    "UnitBenchmarks",
    "benchmark_lines",
    "customer_value",
    "home_tiles",
    "home_trend",
    "journey",
    "filter_options",
    "trends",
    "unit_benchmarks",
]

#: Business KPIs on the home page: tile name -> (KPI of :mod:`cxloop.services.value.kpis`, label, scale).
KPI_TILES: dict[str, tuple[str, str, float]] = {
    "churn": ("churn_rate_inactivity", "Churn (% of last period's buyers who stopped)", 100.0),
    "repeat_purchase": ("repeat_purchase_rate", "Repeat purchase (% of buyers)", 100.0),
    "clv": ("clv", "CLV (mean per scored customer)", 1.0),
}
_METRIC_LABELS = {"nps": "NPS", "csat": "CSAT (% satisfied)", "ces": "CES (mean effort)"}
HORIZON_DAYS = 180


@dataclass(frozen=True)
class DashboardFilters:
    """The filters every dashboard page takes: a period (``start``..``end``), one touchpoint, one channel
    and one customer segment. ``None`` means no filter."""

    start: date | None = None
    end: date | None = None
    touchpoint: str | None = None
    channel: str | None = None
    segment: str | None = None

    def __post_init__(self) -> None:
        if self.start is not None and self.end is not None and self.start > self.end:
            raise ValueError(f"the period starts ({self.start}) after it ends ({self.end})")
        for name in ("touchpoint", "channel", "segment"):
            check_printable(name, getattr(self, name))
        check_day(self.start, "from")
        check_day(self.end, "to")

    @staticmethod
    def _one(value: str | None) -> frozenset[str] | None:
        return frozenset({value}) if value else None

    def metric_filters(self, *, touchpoint: bool = True) -> dict[str, Any]:
        """Keyword arguments of :class:`MetricsQuery` for these filters."""
        return {
            "start": self.start,
            "end": self.end,
            "touchpoints": self._one(self.touchpoint) if touchpoint else None,
            "channels": self._one(self.channel),
            "segments": self._one(self.segment),
        }

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat() if self.start else None,
            "to": self.end.isoformat() if self.end else None,
            "touchpoint": self.touchpoint,
            "channel": self.channel,
            "segment": self.segment,
        }


def _clean(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def filter_options(session: Session, con: BaseBackend) -> dict[str, list[tuple[str, str]]]:
    """The values the filters offer: touchpoints (journey order) and segments from the catalogue, channels
    seen in the warehouse, each as ``(id, name)``."""
    touchpoints = session.scalars(
        select(Touchpoint).order_by(Touchpoint.stage_order, Touchpoint.touchpoint_id)
    )
    segments = session.scalars(select(Segment).order_by(Segment.value_rank, Segment.segment_id))
    channels: list[str] = []
    if "responses" in con.list_tables():
        table = con.table("responses")
        seen = con.execute(table.filter(table.channel.notnull()).select("channel").distinct())
        channels = sorted(str(c) for c in seen.channel)
    return {
        "touchpoint": [(t.touchpoint_id, t.name) for t in touchpoints],
        "channel": [(c, c) for c in channels],
        "segment": [(s.segment_id, s.name) for s in segments],
    }


# --- trends ---------------------------------------------------------------------------------------


def trends(
    viewer: Viewer,
    *,
    stores: Stores,
    unit_id: str | None = None,
    grain: Grain = "month",
    filters: DashboardFilters = DashboardFilters(),  # noqa: B008 - frozen, immutable
) -> MetricsResult:
    """NPS, CSAT and CES of ``unit_id``'s subtree per period of ``grain`` with intervals, n and the change
    from the previous period (Benjamini-Hochberg corrected). Raises :class:`NoDataError` when nothing
    matches."""
    if grain not in ("week", "month", "quarter"):
        raise ValueError(f"trends are by week, month or quarter, got {grain!r}")
    query = MetricsQuery(
        unit=unit_id or viewer.unit_id, grain=grain, compare=("previous",), **filters.metric_filters()
    )
    return metrics(viewer, query, stores=stores)


def benchmark_lines(
    viewer: Viewer,
    *,
    stores: Stores,
    unit_id: str | None = None,
    grain: Grain = "month",
    metric_names: tuple[str, ...] = ("nps",),
    filters: DashboardFilters = DashboardFilters(),  # noqa: B008 - frozen, immutable
) -> dict[str, list[dict[str, Any]]]:
    """The lines a trend is read against, per metric: the target, the parent's and the company's aggregates
    per period (where the benchmark policy shows them), each named by level: ``{metric: [{"name", "label",
    "points": {period_start: value}}]}``."""
    focus = unit_id or viewer.unit_id
    query = MetricsQuery(
        unit=focus,
        grain=grain,
        metrics=metric_names,
        compare=("parent", "company"),
        **filters.metric_filters(),
    )
    result = _with_stored_targets(viewer, stores, query)
    compare = result.compare
    labels = _tile_labels(stores, focus)
    labels["target"] = "your target"
    records = [r for r in result.to_records() if r["unit"] == focus and not r["suppressed"]]
    out: dict[str, list[dict[str, Any]]] = {}
    for metric in metric_names:
        rows = [r for r in records if r["metric"] == metric]
        out[metric] = []
        for name in compare:
            points = {r["period_start"]: r.get(f"{name}_reference") for r in rows}
            if any(v is not None for v in points.values()):
                out[metric].append({"name": name, "label": labels[name], "points": points})
    return out


def home_trend(viewer: Viewer, *, stores: Stores, unit_id: str | None = None) -> dict[str, Any]:
    """The home page's NPS by month with its interval, and the lines to read it against: the target, the
    parent's and the company's aggregates (where the benchmark policy shows them), each by level."""
    focus = unit_id or viewer.unit_id
    result = metrics(viewer, MetricsQuery(unit=focus, grain="month", metrics=("nps",)), stores=stores)
    nps = [r for r in result.to_records() if r["unit"] == focus and not r["suppressed"]]
    x = [r["period_start"] for r in nps]
    lines = benchmark_lines(viewer, stores=stores, unit_id=focus)["nps"]
    return {
        "x": x,
        "y": [r["estimate"] for r in nps],
        "low": [r["ci_low"] for r in nps],
        "high": [r["ci_high"] for r in nps],
        "confidence": f"{stores.settings.confidence:.0%}",
        "lines": [
            {"name": ln["name"], "label": ln["label"], "y": [ln["points"].get(p) for p in x]} for ln in lines
        ],
    }


# --- journey ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Journey:
    """Touchpoints in journey order, each with its scores and what drives NPS there.

    ``rows``: one dict per touchpoint: ``touchpoint``, ``name``, ``stage_order``, per metric ``<m>_n``,
    ``<m>_estimate``, ``<m>_ci_low``, ``<m>_ci_high``, ``<m>_suppressed``; ``importance_n`` (complete
    responses of the driver analysis), ``importance_r2`` (share of the variation in NPS at this touchpoint
    that the rated experiences explain), ``top_drivers`` (up to three: ``driver``, ``label``,
    ``relative_importance``) and ``importance_note`` (why importance is missing, when it is).
    """

    unit_id: str
    outcome: str
    confidence: float
    min_n: int
    filters: DashboardFilters
    rows: list[dict[str, Any]]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit_id,
            "outcome": self.outcome,
            "confidence": self.confidence,
            "min_n": self.min_n,
            "filters": self.filters.as_dict(),
            "touchpoints": self.rows,
            "notes": list(self.notes),
        }


def journey(
    viewer: Viewer,
    *,
    stores: Stores,
    unit_id: str | None = None,
    filters: DashboardFilters = DashboardFilters(),  # noqa: B008
    outcome: str = "nps",
) -> Journey:
    """The journey view of ``unit_id``'s subtree: each touchpoint's NPS, CSAT and CES with intervals and
    the key drivers of ``outcome`` among its responses (Shapley shares, :func:`driver_analysis`).

    A touchpoint whose responses are too few for a stable driver analysis (or under ``min_n``) shows its
    scores without importance, and says why. The channel filter applies to the scores only (driver
    statistics are not broken down by channel).
    """
    settings, session, con = stores.settings, stores.session, stores.warehouse
    focus = unit_id or viewer.unit_id
    visible = require_unit(session, viewer, focus)
    key = (viewer.unit_id, visible, focus, freeze(filters), outcome, settings.min_n, settings.confidence)
    return cached(
        "dashboard.journey",
        con,
        key,
        lambda: _journey(viewer, stores, focus, filters, outcome),
        copy=copy.deepcopy,
    )


def _journey(
    viewer: Viewer,
    stores: Stores,
    focus: str,
    filters: DashboardFilters,
    outcome: str,
) -> Journey:
    settings, session = stores.settings, stores.session
    catalogue = session.scalars(select(Touchpoint).order_by(Touchpoint.stage_order, Touchpoint.touchpoint_id))
    order = {t.touchpoint_id: (t.stage_order, t.name) for t in catalogue}
    query = MetricsQuery(unit=focus, grain=None, by=("touchpoint",), **filters.metric_filters())
    try:
        cells = metrics(viewer, query, stores=stores).to_frame()
        cells = cells[cells.unit == focus]
    except NoDataError:
        cells = pd.DataFrame(columns=["touchpoint", "metric"])
    seen = [str(t) for t in cells.touchpoint.dropna().unique()]
    chosen = [filters.touchpoint] if filters.touchpoint else [*order, *sorted(set(seen) - set(order))]
    rows = []
    for touchpoint in chosen:
        stage, name = order.get(touchpoint, (len(order) + 1, touchpoint))
        row: dict[str, Any] = {"touchpoint": touchpoint, "name": name, "stage_order": stage}
        mine = cells[cells.touchpoint == touchpoint]
        for metric in ("nps", "csat", "ces"):
            cell = mine[mine.metric == metric]
            found = not cell.empty
            first: dict[Any, Any] = cell.iloc[0].to_dict() if found else {}
            row[f"{metric}_suppressed"] = bool(first["suppressed"]) if found else True
            for column in ("n", "estimate", "ci_low", "ci_high"):
                row[f"{metric}_{column}"] = _clean(first[column]) if found else None
        row.update(importance_n=None, importance_r2=None, top_drivers=[], importance_note=None)
        if row["nps_n"] is None:
            row["importance_note"] = f"fewer than {settings.min_n} responses"
        else:
            try:
                result = driver_analysis(
                    viewer,
                    stores=stores,
                    unit_id=focus,
                    outcome=outcome,
                    segment=filters.segment,
                    touchpoint=touchpoint,
                    start=filters.start,
                    end=filters.end,
                )
                if result.suppressed:
                    row["importance_note"] = f"fewer than {settings.min_n} complete responses"
                else:
                    row["importance_n"] = result.n
                    row["importance_r2"] = result.r2
                    row["top_drivers"] = [
                        {k: _clean(d[k]) for k in ("driver", "label", "relative_importance")}
                        for d in result.drivers.head(3).to_dict(orient="records")
                    ]
            except (DriverAnalysisError, NoDriverDataError) as exc:
                row["importance_note"] = str(exc).split(";")[0]
        rows.append(row)
    notes = [
        f"Intervals at {settings.confidence:.0%} confidence; cells with fewer than {settings.min_n} "
        "responses are suppressed.",
        "Importance: the share of the variation in NPS at the touchpoint that its rated experiences explain "
        "(R-squared), and the items with the largest Shapley shares of it.",
    ]
    if filters.channel:
        notes.append("The channel filter applies to the scores, not to the driver importance.")
    return Journey(focus, outcome, settings.confidence, settings.min_n, filters, rows, tuple(notes))


# --- customer value ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerValue:
    """Who the valuable customers are, what they experience, and the value at risk.

    ``segments``: one row per customer segment (value-rank order): ``segment``, ``name``, ``customers``,
    per KPI (``churn``, ``repeat_purchase``, ``clv``, ``margin_per_buyer``) ``<k>``, ``<k>_low``,
    ``<k>_high``, ``<k>_n`` and ``nps``, ``nps_low``, ``nps_high``, ``nps_n``; suppressed values are None
    with ``suppressed`` true. ``tiers``: CLV tiers (``tier``, ``customers``, ``clv_total``, ``clv_share``)
    and ``tier_experience`` (tier x measure with interval) -- what the most profitable customers
    experience; ``by_nps_class``: behaviour and value per NPS class; ``at_risk``: money estimates.
    """

    unit_id: str
    start: date
    end: date
    as_of: date
    horizon_days: int
    confidence: float
    min_n: int
    filters: DashboardFilters
    segments: list[dict[str, Any]]
    tiers: list[dict[str, Any]]
    tier_experience: list[dict[str, Any]]
    top_share: float | None
    top_tier: dict[str, Any] | None
    by_nps_class: list[dict[str, Any]]
    at_risk: list[dict[str, Any]]
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit_id,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "as_of": self.as_of.isoformat(),
            "horizon_days": self.horizon_days,
            "confidence": self.confidence,
            "min_n": self.min_n,
            "filters": self.filters.as_dict(),
            "segments": self.segments,
            "tiers": self.tiers,
            "tier_experience": self.tier_experience,
            "top_20_percent_share_of_value": self.top_share,
            "top_tier": self.top_tier,
            "by_nps_class": self.by_nps_class,
            "revenue_at_risk": self.at_risk,
            "notes": list(self.notes),
        }


def _top_tier(tiers: pd.DataFrame) -> dict[str, Any] | None:
    """The first (most valuable) tier as shown: its name, its share of the customers and of the value."""
    if tiers.empty or not tiers["customers"].sum():
        return None
    top = tiers.iloc[0]
    return {
        "tier": str(top["tier"]),
        "customer_share": float(top["customers"] / tiers["customers"].sum()),
        "value_share": float(top["clv_share"]),
    }


def _last_day(con: BaseBackend) -> date | None:
    """The last day with a transaction or a response in the warehouse (the data's 'today')."""
    days = []
    for table, column in (("transactions", "occurred_at"), ("responses", "submitted_at")):
        if table in con.list_tables():
            last = con.execute(con.table(table)[column].max())
            if last is not None and not pd.isna(last):
                days.append(pd.Timestamp(last).date())
    return max(days) if days else None


def _segment_kpis(frame: pd.DataFrame, segment_names: dict[str, str], order: list[str]) -> list[dict]:
    rows = []
    kpis = {"churn": "churn_rate_inactivity", "repeat_purchase": "repeat_purchase_rate", "clv": "clv"}
    kpis["margin_per_buyer"] = "margin_per_buyer"
    for segment in order:
        mine = frame[frame.segment == segment]
        if mine.empty:
            continue
        row: dict[str, Any] = {"segment": segment, "name": segment_names.get(segment, segment)}
        customers = mine[mine.kpi == "customers"]
        row["customers"] = _clean(customers.estimate.iloc[0]) if not customers.empty else None
        row["suppressed"] = bool(customers.suppressed.iloc[0]) if not customers.empty else True
        for name, kpi in kpis.items():
            cell = mine[mine.kpi == kpi]
            scale = 100.0 if KPIS[kpi][0] == "rate" else 1.0
            if cell.empty or bool(cell.suppressed.iloc[0]):
                row.update({name: None, f"{name}_low": None, f"{name}_high": None, f"{name}_n": None})
                continue
            c = cell.iloc[0]
            row[name] = _clean(c.estimate * scale)
            row[f"{name}_low"] = _clean(c.ci_low * scale)
            row[f"{name}_high"] = _clean(c.ci_high * scale)
            row[f"{name}_n"] = _clean(c.n)
        rows.append(row)
    return rows


def customer_value(
    viewer: Viewer,
    *,
    stores: Stores,
    unit_id: str | None = None,
    filters: DashboardFilters = DashboardFilters(),  # noqa: B008
    horizon_days: int = HORIZON_DAYS,
) -> CustomerValue:
    """Value segments, CLV tiers and what they experience, behaviour by NPS class and revenue at risk.

    The KPI window is the filter's period (default: the year up to the last day with data). Experience
    against behaviour needs behaviour observed after it, so each customer's experience is their latest
    answer on or before ``as_of = end - horizon_days`` and behaviour is what followed in ``horizon_days``.
    The segment filter keeps one segment's row; touchpoint and channel filter the NPS column only.
    Raises :class:`NoTransactionsError` when the warehouse holds no data at all.
    """
    settings, session, con = stores.settings, stores.session, stores.warehouse
    focus = unit_id or viewer.unit_id
    visible = require_unit(session, viewer, focus)
    key = (viewer.unit_id, visible, focus, freeze(filters), horizon_days, settings.min_n, settings.confidence)
    return cached(
        "dashboard.customer_value",
        con,
        key,
        lambda: _customer_value(viewer, stores, focus, filters, horizon_days),
        copy=copy.deepcopy,
    )


def _customer_value(
    viewer: Viewer,
    stores: Stores,
    focus: str,
    filters: DashboardFilters,
    horizon_days: int,
) -> CustomerValue:
    settings, session, con = stores.settings, stores.session, stores.warehouse
    last = _last_day(con)
    if last is None:
        raise NoTransactionsError("the warehouse holds no transactions or responses yet: import some first")
    end = filters.end or last
    start = filters.start or (end - timedelta(days=364))
    as_of = end - timedelta(days=horizon_days)
    notes: list[str] = [
        f"KPIs over {start} to {end}; intervals at {settings.confidence:.0%} confidence; cells with fewer "
        f"than {settings.min_n} customers are suppressed.",
        f"Behaviour by NPS class: each customer's latest answer by {as_of}, behaviour in the {horizon_days} "
        "days after. Associations in the data, not causal effects.",
    ]
    segments = session.scalars(select(Segment).order_by(Segment.value_rank, Segment.segment_id)).all()
    names = {s.segment_id: s.name for s in segments}
    kpis = business_kpis(
        viewer,
        stores=stores,
        start=start,
        end=end,
        units=[focus],
        by_segment=True,
        categories=False,
    ).frame
    present = [str(s) for s in kpis.segment.dropna().unique()]
    order = [s for s in names if s in present] + sorted(set(present) - set(names))
    if filters.segment:
        order = [s for s in order if s == filters.segment]
    segment_rows = _segment_kpis(kpis, names, order)
    nps_query = MetricsQuery(
        unit=focus,
        grain=None,
        by=("segment",),
        metrics=("nps",),
        **{**filters.metric_filters(), "start": start, "end": end},
    )
    try:
        nps = metrics(viewer, nps_query, stores=stores).to_frame()
        nps = nps[nps.unit == focus].set_index("segment")
    except NoDataError:
        nps = pd.DataFrame()
    for row in segment_rows:
        cell = nps.loc[row["segment"]] if row["segment"] in nps.index else None
        shown = cell is not None and not bool(cell["suppressed"])
        for column, key in (
            ("estimate", "nps"),
            ("ci_low", "nps_low"),
            ("ci_high", "nps_high"),
            ("n", "nps_n"),
        ):
            row[key] = _clean(cell[column]) if shown else None  # type: ignore[index]

    tiers: list[dict[str, Any]] = []
    tier_experience: list[dict[str, Any]] = []
    top_share = None
    top_tier: dict[str, Any] | None = None
    try:
        valued = value_tiers(viewer, stores=stores, unit=focus)
        tiers = _records(valued.tiers)
        tier_experience = _records(valued.measures)
        top_share = valued.share_of_value(0.2) if not valued.concentration.empty else None
        top_tier = _top_tier(valued.tiers)
    except NoTransactionsError as exc:
        notes.append(f"CLV tiers: {exc}.")

    by_class: list[dict[str, Any]] = []
    at_risk: list[dict[str, Any]] = []
    try:
        money = experience_and_money(
            viewer,
            stores=stores,
            as_of=as_of,
            horizon_days=horizon_days,
            unit=focus,
        )
        by_class = _records(money.groups)
        if _risk_hidden(money.groups):
            notes.append("Revenue at risk is not shown: an NPS class has too few customers.")
        else:
            estimates: list[MoneyEstimate] = []
            if _clv_scored(money):
                estimates += revenue_at_risk(money, settings.confidence).values()
            else:
                notes.append("Revenue at risk needs CLV scores: run `cxloop clv score`.")
            estimates.append(nps_point_value(money, confidence=settings.confidence))
            at_risk = [e.to_dict() for e in estimates]
    except NoTransactionsError as exc:
        notes.append(f"Behaviour by NPS class: {exc}.")
    return CustomerValue(
        unit_id=focus,
        start=start,
        end=end,
        as_of=as_of,
        horizon_days=horizon_days,
        confidence=settings.confidence,
        min_n=settings.min_n,
        filters=filters,
        segments=segment_rows,
        tiers=tiers,
        tier_experience=tier_experience,
        top_share=top_share,
        top_tier=top_tier,
        by_nps_class=by_class,
        at_risk=at_risk,
        notes=tuple(notes),
    )


# --- home tiles ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tile:
    """One number on the home page with its n, interval, recent trend and comparisons.

    ``spark``: the last periods' estimates, oldest first (None where suppressed). ``previous``,
    ``parent``, ``company`` and ``peers``: ``{"reference", "difference", "significant", "note", "label"}``
    against the period before, the parent unit's and the company's aggregates, and the peer median (with
    ``rank``, ``of``, ``top_quartile``), under the benchmark policy
    (:mod:`cxloop.services.understand.benchmarks`); ``note`` says why a comparison is missing or what it
    is tested against. ``target``: the stored target of the tile's period, when one is set.
    """

    name: str
    label: str
    period: str | None
    n: float | None
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    suppressed: bool
    spark: list[float | None]
    previous: dict[str, Any]
    parent: dict[str, Any]
    unit: str = ""
    company: dict[str, Any] = field(default_factory=lambda: _no_comparison("not compared across units"))
    peers: dict[str, Any] = field(default_factory=lambda: _no_comparison("not compared across units"))
    target: dict[str, Any] = field(default_factory=lambda: _no_comparison("no target set"))
    status: dict[str, Any] = field(default_factory=dict)
    """The tile's colour: its difference from the first benchmark it has, in the order target, peers,
    parent, company (``against``, ``label``, ``state`` better/worse/level/unknown, ``arrow``, ``words``)."""

    def to_dict(self) -> dict[str, Any]:
        nested = ("spark", "previous", "parent", "company", "peers", "target", "status")
        return {
            k: _clean(getattr(self, k))
            if k not in nested
            else {n: _clean(v) for n, v in getattr(self, k).items()}
            if isinstance(getattr(self, k), dict)
            else getattr(self, k)
            for k in self.__dataclass_fields__
        }


def _no_comparison(note: str) -> dict[str, Any]:
    return {"reference": None, "difference": None, "significant": None, "note": note}


def _z_test(a: float, se_a: float, b: float, se_b: float, confidence: float) -> dict[str, Any]:
    """Two independent normal estimates: difference and whether it is significant (two-sided)."""
    se = math.hypot(se_a, se_b)
    difference = float(a - b)
    if not se or not math.isfinite(se):
        return {"difference": difference, "significant": None, "note": "no variance"}
    p = 2 * float(scipy_stats.norm.sf(abs(difference) / se))
    return {"difference": difference, "significant": bool(p < 1 - confidence), "p_value": p, "note": None}


def _kpi_se(cell: pd.Series, kpi: str) -> float:
    """Standard error of a KPI cell: the binomial one for a rate, from the t interval for a mean."""
    n = float(cell.n)
    if KPIS[kpi][0] == "rate":
        p = float(cell.estimate)
        return math.sqrt(max(p * (1 - p), 0.25 / n) / n) if n > 0 else math.nan
    t = float(scipy_stats.t.ppf(0.975, max(n - 1, 1)))
    return (float(cell.ci_high) - float(cell.ci_low)) / (2 * t)


_TILE_COMPARISONS = ("previous", "parent", "company", "peers")


def _with_stored_targets(viewer: Viewer, stores: Stores, query: MetricsQuery) -> MetricsResult:
    """``query`` with its comparisons and the stored targets (``compare`` gains ``target``), or without them
    where no target is stored for the unit."""
    try:
        return metrics(viewer, replace(query, compare=(*query.compare, "target")), stores=stores)
    except NoTargetError:
        return metrics(viewer, query, stores=stores)


def _metric_tiles(viewer: Viewer, focus: str, stores: Stores) -> list[Tile]:
    query = MetricsQuery(unit=focus, grain="month", compare=_TILE_COMPARISONS)  # type: ignore[arg-type]
    result = _with_stored_targets(viewer, stores, query)
    records = [r for r in result.to_records() if r["unit"] == focus]
    labels = _tile_labels(stores, focus)
    tiles = []
    for metric in ("nps", "csat", "ces"):
        rows = [r for r in records if r["metric"] == metric]
        if not rows:
            continue
        shown = [r for r in rows if not r["suppressed"]]
        latest = shown[-1] if shown else rows[-1]

        def against(name: str, latest: dict[str, Any] = latest) -> dict[str, Any]:
            fields = ("reference", "difference", "significant", "note")
            extra = ("rank", "rank_low", "rank_high", "league_size", "median", "top_quartile")
            found = {f: latest.get(f"{name}_{f}") for f in (*fields, *(extra if name == "peers" else ()))}
            found["label"] = labels[name]
            if name in ("parent", "company") and found["difference"] is not None and not found["note"]:
                found["note"] = f"tested against the rest of {found['label']}"
            return found

        tiles.append(
            Tile(
                name=metric,
                label=_METRIC_LABELS[metric],
                period=latest["period"],
                n=latest["n"],
                estimate=latest["estimate"],
                ci_low=latest["ci_low"],
                ci_high=latest["ci_high"],
                suppressed=bool(latest["suppressed"]),
                spark=[None if r["suppressed"] else r["estimate"] for r in rows[-12:]],
                previous=against("previous"),
                parent=against("parent"),
                company=against("company"),
                peers=against("peers"),
                target=against("target") if "target" in result.compare else _no_comparison("no target set"),
                unit=focus,
            )
        )
    return tiles


def _tile_labels(stores: Stores, unit_id: str) -> dict[str, str]:
    """What each comparison of a tile is against, by level: "your region", "branches in the company"."""
    unit = stores.session.get(Unit, unit_id)
    parent = stores.session.get(Unit, unit.parent_id) if unit is not None and unit.parent_id else None
    return {
        "previous": "the month before",
        "parent": group_label(
            parent.level if parent else None, company=parent is not None and not parent.parent_id
        ),
        "company": "the company",
        "peers": peers_label(unit.level if unit is not None else "unit"),
        "target": "your target",
    }


def _kpi_tiles(
    viewer: Viewer,
    focus: str,
    stores: Stores,
    parent: str | None,
    last: date,
    quarters: int,
) -> list[Tile]:
    settings = stores.settings
    first = add_periods(period_start(last, "quarter"), "quarter", -(quarters - 1))
    units = [focus, parent] if parent else [focus]
    frames = []
    for quarter in range(quarters):
        begin = add_periods(first, "quarter", quarter)
        table = business_kpis(
            viewer,
            stores=stores,
            start=begin,
            end=min(last, add_periods(begin, "quarter", 1) - timedelta(days=1)),
            units=units,
            categories=False,
        ).frame
        frames.append(table.assign(period=period_label(begin, "quarter"), period_start=begin))
    frame = pd.concat(frames, ignore_index=True)
    tiles = []
    for name, (kpi, label, scale) in KPI_TILES.items():
        mine = frame[(frame.unit == focus) & (frame.kpi == kpi)].sort_values("period_start")
        if mine.empty:
            continue
        shown = mine[~mine.suppressed.astype(bool)]
        latest = shown.iloc[-1] if not shown.empty else mine.iloc[-1]
        previous: dict[str, Any] = {
            "difference": None,
            "significant": None,
            "note": "no earlier period shown",
        }
        parent_cmp: dict[str, Any] = _no_comparison(
            "business KPIs are compared with a parent in your scope only"
        )
        if not shown.empty:
            earlier = shown[shown.period_start < latest.period_start]
            if not earlier.empty:
                before = earlier.iloc[-1]
                previous = _z_test(
                    latest.estimate,
                    _kpi_se(latest, kpi),
                    before.estimate,
                    _kpi_se(before, kpi),
                    settings.confidence,
                )
                previous["difference"] *= scale
                previous["reference_period"] = before.period
            if parent:
                ref = frame[(frame.unit == parent) & (frame.kpi == kpi) & (frame.period == latest.period)]
                if ref.empty or bool(ref.suppressed.iloc[0]):
                    parent_cmp = {"difference": None, "significant": None, "note": "parent suppressed"}
                else:
                    parent_cmp = _z_test(
                        latest.estimate,
                        _kpi_se(latest, kpi),
                        ref.estimate.iloc[0],
                        _kpi_se(ref.iloc[0], kpi),
                        settings.confidence,
                    )
                    parent_cmp["difference"] *= scale
                    parent_cmp["note"] = "the parent includes this unit"
        suppressed = bool(latest.suppressed)
        tiles.append(
            Tile(
                name=name,
                label=label,
                period=str(latest.period),
                n=None if suppressed else _clean(latest.n),
                estimate=None if suppressed else _clean(latest.estimate * scale),
                ci_low=None if suppressed else _clean(latest.ci_low * scale),
                ci_high=None if suppressed else _clean(latest.ci_high * scale),
                suppressed=suppressed,
                spark=[
                    None if bool(suppressed_) else _clean(float(estimate) * scale)
                    for suppressed_, estimate in zip(mine.suppressed, mine.estimate, strict=True)
                ],
                previous=previous,
                parent=parent_cmp,
                unit=focus,
            )
        )
    return tiles


def _clv_scored(money: ExperienceMoney) -> bool:
    """Whether any customer behind the NPS classes has a stored CLV score (revenue at risk is CLV)."""
    return float(money.statistics.scored.sum()) > 0


def _risk_hidden(groups: pd.DataFrame) -> bool:
    """Revenue at risk uses each NPS class's churn rate: not shown when one of them is suppressed."""
    churn = groups[groups.measure == "churn_rate"]
    return len(churn) < 3 or bool(churn.suppressed.any())


def _risk_tile(
    viewer: Viewer,
    focus: str,
    stores: Stores,
    last: date,
    quarters: int,
) -> Tile | None:
    settings = stores.settings
    points: list[tuple[str, MoneyEstimate | None]] = []
    end_of_quarter = period_start(last, "quarter") - timedelta(days=1)
    for back in range(quarters - 1, -1, -1):
        day = add_periods(period_start(end_of_quarter, "quarter"), "quarter", -back + 1) - timedelta(days=1)
        as_of = day - timedelta(days=HORIZON_DAYS)
        try:
            money = experience_and_money(
                viewer,
                stores=stores,
                as_of=as_of,
                horizon_days=HORIZON_DAYS,
                unit=focus,
            )
            estimate = (
                None
                if _risk_hidden(money.groups) or not _clv_scored(money)
                else revenue_at_risk(money, settings.confidence)["excess_churn_value"]
            )
        except NoTransactionsError:
            estimate = None
        points.append((str(as_of), estimate))
    if not points:
        return None
    shown = [(label, e) for label, e in points if e is not None]
    latest_label, latest = shown[-1] if shown else points[-1]
    previous: dict[str, Any] = {"difference": None, "significant": None, "note": "no earlier period shown"}
    if len(shown) > 1 and latest is not None:
        before = shown[-2][1]
        assert before is not None
        previous = _z_test(latest.estimate, latest.se, before.estimate, before.se, settings.confidence)
        previous["note"] = "approximate: the two periods share customers"
    return Tile(
        name="revenue_at_risk",
        label=f"Revenue at risk (CLV lost to excess churn, {HORIZON_DAYS} days)",
        period=f"as of {latest_label}",
        n=None,
        estimate=latest.estimate if latest else None,
        ci_low=latest.ci_low if latest else None,
        ci_high=latest.ci_high if latest else None,
        suppressed=latest is None,
        spark=[e.estimate if e else None for _, e in points],
        previous=previous,
        parent={"difference": None, "significant": None, "note": "not compared across units"},
        unit=focus,
    )


def home_tiles(
    viewer: Viewer,
    *,
    stores: Stores,
    unit_id: str | None = None,
    quarters: int = 4,
) -> list[Tile]:
    """The home page's tiles for ``unit_id`` (default: the viewer's unit).

    NPS, CSAT and CES: the latest month with enough responses, the last 12 months as the trend, and the
    metrics service's comparisons with the previous month and the parent unit (Benjamini-Hochberg).
    Churn, repeat purchase and CLV: the latest of the last ``quarters`` quarters
    (:func:`~cxloop.services.value.kpis.kpis_by_period`), compared with the quarter before and the parent by a
    normal test on the two estimates. Revenue at risk: the excess-churn value
    (:func:`~cxloop.services.value.money.revenue_at_risk`) at the end of each quarter. The parent comparison
    appears only when the parent is inside the viewer's scope. Raises :class:`NoDataError` when the
    unit has no responses.
    """
    settings, session, con = stores.settings, stores.session, stores.warehouse
    focus = unit_id or viewer.unit_id
    visible = require_unit(session, viewer, focus)
    unit = session.get(Unit, focus)
    parent = unit.parent_id if unit is not None and unit.parent_id in visible else None
    key = (
        viewer.unit_id,
        visible,
        focus,
        parent,
        quarters,
        settings.min_n,
        settings.min_peers,
        settings.confidence,
        # stored targets live in the app database, which the data version does not cover
        tuple(
            (t.id, t.metric, t.period_start, t.granularity, t.target_value)
            for t in stored_targets(session, [focus], ("nps", "csat", "ces"))
        ),
    )
    return cached(
        "dashboard.home_tiles",
        con,
        key,
        lambda: _home_tiles(viewer, stores, focus, parent, quarters),
        copy=copy.deepcopy,
    )


def _home_tiles(
    viewer: Viewer,
    stores: Stores,
    focus: str,
    parent: str | None,
    quarters: int,
) -> list[Tile]:
    con = stores.warehouse
    tiles = _metric_tiles(viewer, focus, stores)
    last = _last_day(con)
    if last is not None:
        tiles += _kpi_tiles(viewer, focus, stores, parent, last, quarters)
        risk = _risk_tile(viewer, focus, stores, last, quarters)
        if risk is not None:
            tiles.append(risk)
    return [_with_status(tile) for tile in tiles]


def _with_status(tile: Tile) -> Tile:
    """Judge every comparison of the tile (``verdict``) and colour the tile by the first benchmark it has."""
    for name in ("previous", "parent", "company", "peers", "target"):
        found = getattr(tile, name)
        found.update(verdict(found.get("difference"), found.get("significant"), tile.name))
    status: dict[str, Any] = {"against": None, "label": None, **verdict(None, None, tile.name)}
    for name in ("target", "peers", "parent", "company"):
        found = getattr(tile, name)
        if found.get("difference") is not None:
            label = found.get("label") or name
            status = {
                "against": name,
                "label": label,
                **verdict(found["difference"], found["significant"], tile.name),
            }
            break
    return replace(tile, status=status)


# --- benchmarks ----------------------------------------------------------------------------------------

#: The benchmarks of :func:`unit_benchmarks`, in the order a manager reads them.
BENCHMARKS = ("target", "peers", "parent", "company")


@dataclass(frozen=True)
class UnitBenchmarks:
    """A unit's NPS, CSAT and CES in one period against every benchmark it may see.

    ``metrics``: one dict per metric: ``metric``, ``label``, ``period``, ``n``, ``estimate``, ``ci_low``,
    ``ci_high``, ``suppressed`` and ``benchmarks`` (``target``, ``peers``, ``parent``, ``company``; each
    ``label``, ``reference``, ``difference``, ``significant``, ``note``, peers also ``rank``, ``rank_low``,
    ``rank_high``, ``league_size``, ``median``, ``top_quartile``). Groups are named by level only.
    """

    unit_id: str
    period: str | None
    confidence: float
    min_n: int
    min_peers: int
    correction: str
    metrics: list[dict[str, Any]]
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit": self.unit_id,
            "period": self.period,
            "confidence": self.confidence,
            "min_n": self.min_n,
            "min_peers": self.min_peers,
            "correction": self.correction,
            "metrics": copy.deepcopy(self.metrics),
            "notes": list(self.notes),
        }


def unit_benchmarks(
    viewer: Viewer,
    *,
    stores: Stores,
    unit_id: str | None = None,
    metric_names: tuple[str, ...] = ("nps", "csat", "ces"),
    filters: DashboardFilters = DashboardFilters(),  # noqa: B008 - frozen, immutable
) -> UnitBenchmarks:
    """Every benchmark of ``unit_id`` (default: the viewer's unit) for the metrics asked.

    The period is ``filters``' ``from``..``to`` (one cell over it); without both, the latest month in which
    the unit has enough responses, as on the home tiles. The benchmarks are those of the metrics service
    (``compare=target,peers,parent,company``) under the benchmark policy
    (:mod:`cxloop.services.understand.benchmarks`): aggregates named by level, withheld with a note where
    the group is too small or would reveal a single other unit. Raises :class:`NoDataError` when the unit
    has no responses.
    """
    focus = unit_id or viewer.unit_id
    require_unit(stores.session, viewer, focus)
    grain: Grain | None = None if filters.start is not None and filters.end is not None else "month"

    query = MetricsQuery(
        unit=focus,
        metrics=metric_names,
        grain=grain,
        compare=("peers", "parent", "company"),
        **filters.metric_filters(),
    )
    result = _with_stored_targets(viewer, stores, query)
    compare = result.compare
    labels = _tile_labels(stores, focus)
    labels["target"] = "your target"
    records = [r for r in result.to_records() if r["unit"] == focus]
    out = []
    period = None
    for metric in metric_names:
        rows = [r for r in records if r["metric"] == metric]
        if not rows:
            continue
        shown = [r for r in rows if not r["suppressed"]]
        latest = shown[-1] if shown else rows[-1]
        period = latest["period"]
        found: dict[str, dict[str, Any]] = {}
        for name in BENCHMARKS:
            if name not in compare:
                found[name] = {**_no_comparison("no target set"), "label": labels[name]}
                continue
            fields = ["reference", "difference", "significant", "note"]
            if name == "peers":
                fields += ["rank", "rank_low", "rank_high", "league_size", "median", "top_quartile"]
            entry = {f: _clean(latest.get(f"{name}_{f}")) for f in fields}
            entry["label"] = labels[name]
            if name in ("parent", "company") and entry["difference"] is not None and not entry["note"]:
                entry["note"] = f"tested against the rest of {labels[name]}"
            entry.update(verdict(entry["difference"], entry["significant"], metric))
            found[name] = entry
        out.append(
            {
                "metric": metric,
                "label": _METRIC_LABELS[metric],
                "period": latest["period"],
                "n": _clean(latest["n"]),
                "estimate": _clean(latest["estimate"]),
                "ci_low": _clean(latest["ci_low"]),
                "ci_high": _clean(latest["ci_high"]),
                "suppressed": bool(latest["suppressed"]),
                "benchmarks": found,
            }
        )
    return UnitBenchmarks(
        unit_id=focus,
        period=period,
        confidence=result.confidence,
        min_n=result.min_n,
        min_peers=stores.settings.min_peers,
        correction=result.correction,
        metrics=out,
        notes=tuple(result.notes),
    )
