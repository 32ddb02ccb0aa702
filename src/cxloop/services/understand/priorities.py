"""Where to improve first: driver importance x performance gap x the value of the customers affected.

:func:`priorities` ranks the driver items of a scope (a unit's subtree, optionally one segment or one
touchpoint) for a manager, each with the expected gain of closing part of its gap and a sentence saying
why it ranks where it does. Everything comes from sufficient statistics computed in the engine.

For each item ``j``:

* **importance**: its share of the explained variation in the outcome (Shapley/LMG on the scope's
  correlation matrix, :class:`cxloop.stats.drivers.KeyDriverAnalysis`; for a 0/1 outcome on the linear
  probability model, fast enough to rank; ``cxloop drivers`` gives the logistic weights).
* **performance gap**: the benchmark minus the scope's mean answer (0 when the scope is at or above it).
  For a unit, each item's benchmark is the first found of (:mod:`cxloop.services.understand.benchmarks`,
  ``docs/benchmark-policy.md``): an explicit ``target``, else the unit's stored target for the item; the
  **top quartile of its peers** (the 75th percentile of the item's mean over the units at its level across
  the company, "the best 25% of branches", when at least ``min_peers`` of them have ``min_n`` complete
  answers); its **parent**'s mean; the **company**'s mean (each an aggregate, shown only under the
  benchmark policy's anonymity rules); else the best of the unit's own children. For a segment or
  touchpoint: the best other segment / touchpoint of the same unit. No other unit is ever named.
* **importance borrows strength from the parent**: the unit's covariance matrix is shrunk toward its
  parent's (empirical Bayes, :mod:`cxloop.stats.drivers.shrinkage`) with weight ``w = (n - 3) / (n - 3 +
  n_0)``, ``n_0 = 1 / tau^2`` from the spread of the peers' correlations; the rows say whether an
  importance is the unit's own or shrunk, with ``w`` and ``n`` (``docs/drivers.md``).
* **expected gain**: ``slope_j x share_closed x gap_j``, with ``slope_j`` the multiple-regression slope of
  the outcome on item ``j`` holding the other items fixed (outcome units per item point). For NPS, the
  gain is also given in NPS points: ``100 x (slope of being a promoter - slope of being a detractor)``
  (linear probability models on the same responses).
* **money** (``expected_margin``, per year), where transactions carry margins:

  - for NPS: the expected NPS points times the annual value of one NPS point for the customers behind
    the scope's responses (:func:`cxloop.services.value.money.nps_point_value`: 0.5% of them moving from
    detractor to promoter, each worth the observed difference in annual margin between promoters and
    detractors of the unit, latest answer a year before the warehouse's last event and the year after).
    The same figure the value page shows per point, so the two pages agree.
  - for other outcomes (or when the NPS classes have too few customers): the reduction in the 180-day
    churn probability that closing the gap predicts (same regression, outcome ``churn_180d``) times the
    annual margin of those customers: margin retained per year, assuming a retained customer keeps
    bringing their past year's margin.

  Both are associations in observational data, first-order estimates rather than causal effects.
* **score** ``= importance x gap / sd_j x annual margin`` (the gap in standard deviations of the item, so
  items on different scales compare; without margin data the value factor is 1). Within one scope the
  value factor is common to all items, so it does not change their order; it makes scores of different
  scopes (a high-value segment against a low-value one) comparable.

References
----------
Johnson, J. W. & Gustafson (2000), *Improving Customer Satisfaction, Loyalty, and Profit*, ch. on
importance-performance analysis; Gromping (2006), JSS 17(1) for the decomposition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from ibis.backends import BaseBackend
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.access.scope import Viewer, require_unit
from cxloop.services.cache import cached
from cxloop.services.formatting import NumberFormat, number_format
from cxloop.services.stores import Stores
from cxloop.services.understand import benchmarks as bench
from cxloop.services.understand.drivers import (
    OUTCOME_LABELS,
    NoDriverDataError,
    item_labels,
    one,
)
from cxloop.services.value.money import NoTransactionsError, experience_and_money, nps_point_value
from cxloop.stats.drivers import DriverAnalysisError, KeyDriverAnalysis
from cxloop.stats.drivers.shrinkage import (
    TAU_FLOOR,
    between_unit_variance,
    shrink_covariance,
    shrinkage_weight,
)
from cxloop.store import units as unit_store
from cxloop.store.tables import Unit
from cxloop.store.targets import stored_targets
from cxloop.warehouse.outcomes import BINARY, OUTCOMES, customer_margin, observation_end
from cxloop.warehouse.periods import period_label
from cxloop.warehouse.queries.driver_stats import (
    DriverMoments,
    DriverScope,
    driver_items,
    driver_moments,
    driver_moments_by,
    item_means,
    responses_in_scope,
)

__all__ = ["PriorityResult", "priorities", "priorities_across"]

VALUE_HORIZON_DAYS = 365
"""Behaviour window behind the value of an NPS point (latest answer by a year before the last event)."""

_COLUMNS = [
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
    "slope",
    "expected_gain",
    "expected_nps_points",
    "expected_margin",
    "score",
    "why",
    "details",
]


@dataclass(frozen=True)
class PriorityResult:
    """Ranked improvement priorities for one scope.

    Attributes
    ----------
    priorities : pandas.DataFrame
        One row per driver item, first priority first: ``rank``, ``driver``, ``label``,
        ``relative_importance``, ``mean``, ``benchmark``, ``benchmark_label``, ``gap``, ``slope``,
        ``expected_gain`` (outcome units), ``expected_nps_points`` (NPS only), ``expected_margin`` (per
        year, where margins exist), ``score`` and ``why`` (one sentence). Empty when suppressed.
    benchmark : str
        What the gaps are measured against (``"target"``, ``"peers"``, ``"children"`` or ``"none"``).
    customers, annual_margin : int, float or None
        Customers behind the scope's responses and the margin they brought in the last year.
    nps_point_value : float or None
        What one NPS point is worth a year for those customers (NPS only; money = points x this).
    """

    unit_id: str
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
    priorities: pd.DataFrame = field(repr=False)
    notes: tuple[str, ...] = ()
    nps_point_value: float | None = None
    """Annual value of one NPS point for the customers behind the scope's responses (NPS only)."""
    shrinkage: dict[str, Any] | None = None
    """How the importances borrow from the parent: ``weight`` (the unit's own share), ``n``, ``n0``,
    ``toward`` (the group, by level); ``None`` where they are the unit's own."""

    def to_frame(self) -> pd.DataFrame:
        return self.priorities.copy()

    def summary(self) -> str:
        if self.suppressed:
            return f"Priorities for {self.unit_id}: suppressed (fewer than {self.min_n} complete responses)."
        what = OUTCOME_LABELS.get(self.outcome, self.outcome)
        lines = [f"Priorities for {self.unit_id} ({what}), n = {self.n:,}"]
        lines += [f"  {row.rank}. {row.why}" for row in self.priorities.itertuples()]
        return "\n".join([*lines, *self.notes])

    def to_dict(self) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for row in self.priorities.to_dict(orient="records"):
            clean = {str(k): (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
            clean["rank"] = int(row["rank"])
            rows.append(clean)
        return {
            "unit": self.unit_id,
            "outcome": self.outcome,
            "segment": self.segment,
            "touchpoint": self.touchpoint,
            "share_closed": self.share_closed,
            "currency": self.currency,
            "suppressed": self.suppressed,
            "min_n": self.min_n,
            "n": self.n,
            "r2": self.r2,
            "benchmark": self.benchmark,
            "customers": self.customers,
            "annual_margin": self.annual_margin,
            "nps_point_value": self.nps_point_value,
            "shrinkage": self.shrinkage,
            "priorities": rows,
            "notes": list(self.notes),
        }


def priorities(
    viewer: Viewer,
    *,
    stores: Stores,
    unit_id: str | None = None,
    outcome: str = "nps",
    segment: str | None = None,
    touchpoint: str | None = None,
    start: date | None = None,
    end: date | None = None,
    items: Sequence[str] | None = None,
    target: Mapping[str, float] | float | None = None,
    share_closed: float = 0.5,
    currency: str | None = None,
) -> PriorityResult:
    """Rank where ``unit_id`` (its subtree; optionally one segment or touchpoint) should improve first.

    Parameters
    ----------
    viewer : Viewer
        Who is looking; the unit must be in their subtree and only units they see serve as peers.
    stores : Stores
        The app database (scope, peers), the warehouse, and the settings' ``min_n``: scopes and peers
        with fewer complete responses are not used.
    outcome : str
        What to improve (``nps``, ``csat``, ``ces``, ``repurchase_90d``, ``churn_180d``, ``spend_change``).
    target : float or mapping of item to float, optional
        Benchmark answer per item (one number for all items), instead of the best peer.
    share_closed : float
        Share of each gap assumed closed in the expected gains (default one half).
    currency : str, optional
        The currency money is shown in (default: the settings' ``CXLOOP_CURRENCY``).

    Raises
    ------
    ScopeError, UnknownUnitError
        Before any warehouse query.
    NoDriverDataError
        No driver items in the scope.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}; use one of {', '.join(OUTCOMES)}")
    if segment is not None and touchpoint is not None:
        raise ValueError("rank priorities for a segment or for a touchpoint, not both at once")
    if not 0 < share_closed <= 1:
        raise ValueError(f"share_closed must be in (0, 1], got {share_closed}")
    focus = unit_id or viewer.unit_id

    session, con = stores.session, stores.warehouse
    visible = require_unit(session, viewer, focus)
    scope = DriverScope(
        unit_id=focus, segments=one(segment), touchpoints=one(touchpoint), start=start, end=end
    )
    # the items answered are a warehouse query of their own: kept under the data version like the ranking,
    # so a cached ranking costs no warehouse round trip
    chosen = (
        list(items)
        if items is not None
        else list(cached("priorities.items", con, scope, lambda: tuple(driver_items(con, scope))))
    )
    if not chosen:
        raise NoDriverDataError(
            f"no driver items answered in {focus}: import responses with q_<item> columns"
        )
    labels = item_labels(session, chosen)
    settings = stores.settings
    # Kept per data version (a key-driver analysis of the unit and its groups takes seconds on a large
    # warehouse, and the home page asks for it on every load); stored targets and the item labels live in
    # the app database, which the version does not cover, so they are part of the key.
    stored = tuple(
        (t.id, t.metric, t.period_start, t.granularity, t.target_value)
        for t in stored_targets(session, [focus], [*(f"item:{i}" for i in chosen), outcome])
    )
    frozen_target = tuple(sorted(target.items())) if isinstance(target, Mapping) else target
    key = (
        viewer.unit_id,
        visible,
        focus,
        outcome,
        segment,
        touchpoint,
        start,
        end,
        tuple(chosen),
        tuple(sorted(labels.items())),
        frozen_target,
        share_closed,
        currency,
        stored,
        settings.min_n,
        settings.min_peers,
        settings.confidence,
        settings.locale,
    )
    return cached(
        "priorities",
        con,
        key,
        lambda: _rank(
            viewer,
            stores,
            visible,
            scope,
            chosen,
            labels,
            outcome,
            target,
            share_closed,
            currency,
        ),
        copy=lambda result: replace(result, priorities=result.priorities.copy()),
    )


def priorities_across(
    viewer: Viewer,
    *,
    stores: Stores,
    by: str = "segment",
    unit_id: str | None = None,
    outcome: str = "nps",
    start: date | None = None,
    end: date | None = None,
    items: Sequence[str] | None = None,
    target: Mapping[str, float] | float | None = None,
    share_closed: float = 0.5,
    currency: str | None = None,
) -> PriorityResult:
    """Priorities of every segment (or touchpoint) of a unit, ranked together.

    Each segment is ranked as by :func:`priorities` (its gaps against the other segments of the unit),
    then all (segment, item) rows are ranked together by ``score``, which carries the annual margin of
    that segment's customers: a gap among high-value customers outranks the same gap among low-value ones.
    Segments with fewer than ``min_n`` complete responses are left out (listed in ``notes``). The table
    gains a column named ``by`` (``segment`` or ``touchpoint``).
    """
    if by not in ("segment", "touchpoint"):
        raise ValueError(f"by must be 'segment' or 'touchpoint', got {by!r}")
    focus = unit_id or viewer.unit_id

    settings, session, con = stores.settings, stores.session, stores.warehouse
    visible = require_unit(session, viewer, focus)
    whole = DriverScope(unit_id=focus, start=start, end=end)
    chosen = list(items) if items is not None else driver_items(con, whole)
    if not chosen:
        raise NoDriverDataError(
            f"no driver items answered in {focus}: import responses with q_<item> columns"
        )
    labels = item_labels(session, chosen)
    # every segment's (or touchpoint's) statistics in one grouped pass over the engine
    grouped = driver_moments_by(con, whole, chosen, _outcomes_for(outcome), by=by)
    groups = sorted(key[0] for key in grouped)
    frames, notes, hidden = [], [], []
    n_total, margin_total, customers_total = 0, 0.0, 0
    for group in groups:
        scope = DriverScope(
            unit_id=focus,
            segments=one(group) if by == "segment" else None,
            touchpoints=one(group) if by == "touchpoint" else None,
            start=start,
            end=end,
        )
        ranked = _rank(
            viewer,
            stores,
            visible,
            scope,
            chosen,
            labels,
            outcome,
            target,
            share_closed,
            currency,
            moments=grouped[(group,)],
        )
        if ranked.suppressed:
            hidden.append(group)
            continue
        table = ranked.priorities.copy()
        table.insert(1, by, group)
        table["why"] = f"{by.capitalize()} {group}: " + table["why"]
        table["details"] = f"{by.capitalize()} {group}: " + table["details"]
        frames.append(table)
        n_total += ranked.n or 0
        margin_total += ranked.annual_margin or 0.0
        customers_total += ranked.customers or 0
    if hidden:
        notes.append(f"Suppressed (fewer than {settings.min_n} complete responses): {', '.join(hidden)}.")
    if not frames:
        return PriorityResult(
            unit_id=focus,
            outcome=outcome,
            segment=None,
            touchpoint=None,
            share_closed=share_closed,
            currency=currency or settings.currency,
            suppressed=True,
            min_n=settings.min_n,
            n=None,
            r2=None,
            benchmark="none",
            customers=None,
            annual_margin=None,
            priorities=pd.DataFrame(columns=[by, *_COLUMNS]),
            notes=tuple(notes),
        )
    merged = pd.concat(frames, ignore_index=True)
    merged = merged.sort_values(["score", "relative_importance"], ascending=False, kind="stable")
    merged["rank"] = np.arange(1, len(merged) + 1)
    return PriorityResult(
        unit_id=focus,
        outcome=outcome,
        segment=None,
        touchpoint=None,
        share_closed=share_closed,
        currency=currency or settings.currency,
        suppressed=False,
        min_n=settings.min_n,
        n=n_total,
        r2=None,
        benchmark="target" if target is not None else "peers",
        customers=customers_total,
        annual_margin=margin_total if margin_total else None,
        priorities=merged.reset_index(drop=True),
        notes=tuple(notes),
    )


def _rank(
    viewer: Viewer,
    stores: Stores,
    visible: frozenset[str],
    scope: DriverScope,
    items: list[str],
    labels: dict[str, str],
    outcome: str,
    target: Mapping[str, float] | float | None,
    share_closed: float,
    currency: str | None,
    moments: DriverMoments | None = None,
) -> PriorityResult:
    settings, session, con = stores.settings, stores.session, stores.warehouse
    currency = currency or settings.currency
    focus = scope.unit_id or ""
    segment = next(iter(scope.segments)) if scope.segments else None
    touchpoint = next(iter(scope.touchpoints)) if scope.touchpoints else None
    if moments is None:
        moments = driver_moments(con, scope, items, _outcomes_for(outcome))
    base: dict[str, Any] = dict(
        unit_id=focus,
        outcome=outcome,
        segment=segment,
        touchpoint=touchpoint,
        share_closed=share_closed,
        currency=currency,
        min_n=settings.min_n,
    )
    too_few = moments.n < settings.min_n
    kda = KeyDriverAnalysis(method="shapley")
    reason = f"Suppressed: fewer than {settings.min_n} complete responses."
    if not too_few:
        try:
            kda.fit_correlation(moments.for_outcome(outcome), moments.n, outcome=outcome)
        except DriverAnalysisError as exc:
            # too few responses per driver, constant or collinear items: no ranking to stand behind
            too_few, reason = True, f"Not ranked: {exc}"
    if too_few:
        return PriorityResult(
            **base,
            suppressed=True,
            n=None,
            r2=None,
            benchmark="none",
            customers=None,
            annual_margin=None,
            priorities=pd.DataFrame(columns=_COLUMNS),
            notes=(reason,),
        )
    notes: list[str] = []
    around = (
        None
        if (scope.segments or scope.touchpoints)
        else _around(viewer, stores, visible, scope, items, outcome)
    )
    shrinkage = None
    fitted = moments
    if around is not None and around.prior is not None and around.tau2 is not None:
        weight = float(shrinkage_weight(moments.n, around.tau2))
        if weight < 1.0 - 1e-9:
            fitted = _shrunk(moments, around.prior, weight)
            try:
                kda = KeyDriverAnalysis(method="shapley").fit_correlation(
                    fitted.for_outcome(outcome), moments.n, outcome=outcome
                )
            except DriverAnalysisError:
                fitted = moments
            else:
                shrinkage = {
                    "weight": weight,
                    "n": moments.n,
                    "n0": 1.0 / max(around.tau2, TAU_FLOOR**2),
                    "toward": around.prior_label,
                }
    importance = kda.relative_importance_
    means = moments.mean[items]
    sd = np.sqrt(np.diag(moments.covariance.loc[items, items].to_numpy()))
    slopes = fitted.slopes(outcome)
    nps_slopes = (
        100.0 * (fitted.slopes("nps_promoter") - fitted.slopes("nps_detractor")) if outcome == "nps" else None
    )
    if around is not None and target is None:
        benchmark, kinds, bench_labels = _item_benchmarks(
            session, con, visible, scope, items, around, settings
        )
    else:
        benchmark, kind, bench_labels = _benchmarks(session, con, visible, scope, items, target, settings)
        kinds = dict.fromkeys(benchmark, kind)
    bench_kind = "+".join(dict.fromkeys(kinds[i] for i in items if i in kinds)) or "none"
    if bench_kind == "none":
        notes.append(
            "No target and no peer group, parent or child unit with enough responses: gaps are zero."
        )
    if around is not None and around.outcome_target is not None:
        notes.append(around.outcome_target)

    customers, margin = customer_margin(con, responses_in_scope(con, scope))
    point_value = None
    if outcome == "nps" and margin is not None and customers:
        point_value = _nps_point_value(viewer, stores, focus, customers)
        if point_value is None:
            notes.append("Too few customers in an NPS class to value an NPS point: money from churn instead.")
    churn = None
    if point_value is None:
        try:
            churn_moments = driver_moments(con, scope, items, "churn_180d")
            if churn_moments.n >= max(settings.min_n, len(items) + 2):
                churn = churn_moments.slopes("churn_180d")
        except (np.linalg.LinAlgError, ValueError):
            churn = None
    if margin is None:
        notes.append("No margins in the transactions of these customers: no money figures.")
    elif point_value is None and churn is None:
        notes.append("Not enough observed churn windows for money figures.")

    rows = []
    for k, item in enumerate(items):
        bench = benchmark.get(item)
        gap = max(0.0, float(bench - means[item])) if bench is not None and not np.isnan(bench) else 0.0
        closed = share_closed * gap
        gain = float(slopes[item]) * closed
        points = float(nps_slopes[item]) * closed if nps_slopes is not None else np.nan
        money = np.nan
        if point_value is not None:
            money = max(0.0, points) * max(0.0, point_value)
        elif margin is not None and churn is not None:
            money = max(0.0, -float(churn[item]) * closed) * margin
        value = margin if margin is not None and margin > 0 else 1.0
        gap_sd = gap / sd[k] if sd[k] > 0 else 0.0
        score = float(importance[item]) * gap_sd * value
        rows.append(
            {
                "driver": item,
                "label": labels[item],
                "relative_importance": float(importance[item]),
                "importance_basis": "own" if shrinkage is None else f"shrunk toward {shrinkage['toward']}",
                "importance_weight": 1.0 if shrinkage is None else shrinkage["weight"],
                "importance_n": moments.n,
                "mean": float(means[item]),
                "benchmark": np.nan if bench is None else float(bench),
                "benchmark_kind": kinds.get(item, "none"),
                "benchmark_label": bench_labels.get(item, ""),
                "gap": gap,
                "gap_sd": gap_sd,
                "slope": float(slopes[item]),
                "expected_gain": gain,
                "expected_nps_points": points,
                "expected_margin": money,
                "score": score,
            }
        )
    table = pd.DataFrame(rows).sort_values(["score", "relative_importance"], ascending=False, kind="stable")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    table["importance_rank"] = table.relative_importance.rank(ascending=False, method="min").astype(int)
    context = _WhyContext(
        outcome=outcome,
        share=share_closed,
        fmt=number_format(settings.locale, currency),
        customers=customers,
        margin=margin,
        point_value=point_value,
        items=len(items),
    )
    rows_in_order = list(table.itertuples())
    table["details"] = [
        _why(row, rows_in_order[i - 1] if i else None, context) for i, row in enumerate(rows_in_order)
    ]
    table["why"] = [_short_why(row, context) for row in rows_in_order]
    return PriorityResult(
        **base,
        suppressed=False,
        n=moments.n,
        r2=float(kda.r2_),
        benchmark=bench_kind,
        customers=customers,
        annual_margin=margin,
        priorities=table[_COLUMNS].reset_index(drop=True),
        notes=tuple(notes),
        nps_point_value=point_value,
        shrinkage=shrinkage,
    )


def _outcomes_for(outcome: str) -> tuple[str, ...]:
    """The outcomes a ranking needs: NPS brings the promoter and detractor shares (for NPS points)."""
    return ("nps", "nps_promoter", "nps_detractor") if outcome == "nps" else (outcome,)


def _nps_point_value(viewer: Viewer, stores: Stores, unit_id: str, customers: int) -> float | None:
    """Annual value of one NPS point for ``customers`` customers of ``unit_id`` (None if not estimable)."""
    con, settings = stores.warehouse, stores.settings
    end = observation_end(con)
    if end is None or "customers" not in con.list_tables():
        return None
    as_of = end.date() - timedelta(days=VALUE_HORIZON_DAYS)
    try:
        money = experience_and_money(
            viewer,
            stores=stores,
            as_of=as_of,
            horizon_days=VALUE_HORIZON_DAYS,
            unit=unit_id,
        )
        by_class = money.statistics.set_index("nps_class").customers
        if any(by_class.get(c, 0) < settings.min_n for c in ("promoter", "detractor")):
            return None
        return float(nps_point_value(money, customers=customers, confidence=settings.confidence).estimate)
    except (NoTransactionsError, ValueError, KeyError):
        return None


def _benchmarks(
    session: Session,
    con: BaseBackend,
    visible: frozenset[str],
    scope: DriverScope,
    items: list[str],
    target: Mapping[str, float] | float | None,
    settings: Settings,
) -> tuple[dict[str, float], str, dict[str, str]]:
    """The benchmark answer per item, what kind it is, and a label per item naming where it comes from."""
    if target is not None:
        values = {i: float(target) for i in items} if isinstance(target, int | float) else dict(target)
        return (
            {i: float(values[i]) for i in items if i in values},
            "target",
            {i: "the target" for i in values},
        )
    focus = scope.unit_id or ""
    if scope.segments or scope.touchpoints:
        by = "segment" if scope.segments else "touchpoint"
        mine = next(iter(scope.segments or scope.touchpoints or ()))
        unit_scope = DriverScope(unit_id=focus, start=scope.start, end=scope.end)
        means = item_means(con, unit_scope, items, by=by)
        means = means[means.group != mine]
        kind, word = "peers", by
    else:
        unit = session.get(Unit, focus)
        parent = unit.parent_id if unit is not None else None
        peers = (
            [u for u in unit_store.children_ids(session, parent) if u != focus and u in visible]
            if parent
            else []
        )
        kind, word = "peers", "peer " + (unit.level if unit is not None else "unit")
        if not peers:
            peers = [u for u in unit_store.children_ids(session, focus) if u in visible]
            kind, word = "children", "your best " + _child_level(session, peers)
        if not peers:
            return {}, "none", {}
        unscoped = DriverScope(start=scope.start, end=scope.end)
        means = item_means(con, unscoped, items, by="unit", groups=peers)
    means = means[means.n >= settings.min_n]
    if means.empty:
        return {}, "none", {}
    best = means.sort_values("mean", ascending=False).groupby("item").head(1).set_index("item")
    names = {} if scope.segments or scope.touchpoints else _names(session, list(best.group))
    values = {item: float(best.loc[item, "mean"]) for item in best.index}
    where = {}
    for item in best.index:
        group = str(best.loc[item, "group"])
        where[item] = f"{word} {names.get(group, group)}"
    return values, kind, where


@dataclass(frozen=True)
class _Around:
    """The groups around a unit, as driver statistics the viewer may use (benchmark policy applied)."""

    peer_means: pd.DataFrame | None  # published peers' item means (rows: peers), None when too few
    peer_label: str
    groups: list[tuple[str, str, DriverMoments]]  # (kind, label, moments): parent, company, if safe
    prior: DriverMoments | None
    prior_label: str
    tau2: float | None
    targets: dict[str, tuple[float, str]]  # stored item targets: item -> (value, period)
    outcome_target: str | None


def _around(
    viewer: Viewer,
    stores: Stores,
    visible: frozenset[str],
    scope: DriverScope,
    items: list[str],
    outcome: str,
) -> _Around | None:
    """Peers, parent and company of the scope's unit in one grouped pass over the engine, with the benchmark
    policy's checks: a group above the viewer only when its rest is not a single unit, peers only when at
    least ``min_peers`` of them have ``min_n`` complete answers."""
    settings, session, con = stores.settings, stores.session, stores.warehouse
    focus = scope.unit_id or ""
    tree = bench.org_tree(con)
    if focus not in tree.level:
        return None
    level = tree.level[focus]
    peers = tree.at_level(level)
    ancestors = tree.ancestors(focus)
    needed = set(peers) | set(ancestors)
    for above in ancestors:
        needed.update(tree.children(above))
    grouped = driver_moments_by(
        con,
        DriverScope(start=scope.start, end=scope.end),
        items,
        _outcomes_for(outcome),
        units=sorted(needed),
    )

    def n_of(unit: str) -> float:
        found = grouped.get((unit,))
        return float(found.n) if found is not None else 0.0

    enough = max(settings.min_n, len(items) + 3)
    published = [p for p in peers if n_of(p) >= enough]
    peer_means = None
    tau2 = None
    if len(published) >= settings.min_peers:
        peer_means = pd.DataFrame([grouped[(p,)].mean[items] for p in published])
        correlations = [grouped[(p,)].for_outcome(outcome).to_numpy() for p in published]
        if all(np.isfinite(c).all() for c in correlations):
            tau2 = between_unit_variance(correlations, [grouped[(p,)].n for p in published])
    groups: list[tuple[str, str, DriverMoments]] = []
    for group in dict.fromkeys([*ancestors[:1], *([tree.company] if tree.company else [])]):
        if group == focus or n_of(group) < enough:
            continue
        if group not in visible and not bench.group_is_safe(
            tree, viewer.unit_id, group, n_of, settings.min_n
        ):
            continue
        kind = "company" if group == tree.company else "parent"
        groups.append((kind, _level_label(tree, group), grouped[(group,)]))
    prior = groups[0][2] if groups else None
    prior_label = groups[0][1] if groups else ""
    targets, outcome_target = _stored_targets(session, focus, items, outcome)
    return _Around(
        peer_means=peer_means,
        peer_label=f"the best 25% of {bench.plural(level)}",
        groups=groups,
        prior=prior,
        prior_label=prior_label,
        tau2=tau2,
        targets=targets,
        outcome_target=outcome_target,
    )


def _level_label(tree: bench.OrgTree, unit: str) -> str:
    return bench.group_label(tree.level.get(unit), company=unit == tree.company)


def _stored_targets(
    session: Session, focus: str, items: list[str], outcome: str
) -> tuple[dict[str, tuple[float, str]], str | None]:
    """The unit's latest stored target per driver item, and a sentence on its target for the outcome."""
    found: dict[str, tuple[float, str]] = {}
    names = [*(f"item:{item}" for item in items), outcome]  # item targets are stored as item:<question id>
    for target in stored_targets(session, [focus], names):  # ordered by period
        found[target.metric.removeprefix("item:")] = (
            float(target.target_value),
            period_label(target.period_start, target.granularity),  # type: ignore[arg-type]
        )
    sentence = None
    if outcome in found:
        value, period = found.pop(outcome)
        name = "NPS" if outcome == "nps" else OUTCOME_LABELS.get(outcome, outcome)
        sentence = f"Your {name} target for {period} is {value:g}: the gaps below stand between you and it."
    return {item: found[item] for item in items if item in found}, sentence


def _shrunk(own: DriverMoments, prior: DriverMoments, weight: float) -> DriverMoments:
    """``own`` with its covariance shrunk toward ``prior``'s by ``weight`` (its means kept)."""
    cov = shrink_covariance(own.covariance.to_numpy(), prior.covariance.to_numpy(), weight)
    cross = (own.n - 1) * cov + np.outer(own.sums, own.sums) / own.n
    return replace(own, cross=cross)


def _item_benchmarks(
    session: Session,
    con: BaseBackend,
    visible: frozenset[str],
    scope: DriverScope,
    items: list[str],
    around: _Around,
    settings: Settings,
) -> tuple[dict[str, float], dict[str, str], dict[str, str]]:
    """Per item: the benchmark, its kind and its label, in the order target -> top quartile of peers ->
    parent -> company -> the unit's best child."""
    values: dict[str, float] = {}
    kinds: dict[str, str] = {}
    labels: dict[str, str] = {}
    for item in items:
        if item in around.targets:
            value, period = around.targets[item]
            values[item], kinds[item], labels[item] = value, "target", f"your target for {period}"
        elif around.peer_means is not None:
            values[item] = bench.top_quartile(around.peer_means[item].to_numpy())
            kinds[item], labels[item] = "top_quartile", around.peer_label
        elif around.groups:
            kind, label, moments = around.groups[0]
            values[item], kinds[item], labels[item] = float(moments.mean[item]), kind, label
    missing = [i for i in items if i not in values]
    if missing:
        fallback, kind, where = _benchmarks(session, con, visible, scope, missing, None, settings)
        for item, value in fallback.items():
            values[item], kinds[item], labels[item] = value, kind, where[item]
    return values, kinds, labels


def _child_level(session: Session, units: list[str]) -> str:
    if not units:
        return "unit"
    unit = session.get(Unit, units[0])
    return unit.level if unit is not None else "unit"


def _names(session: Session, unit_ids: list[str]) -> dict[str, str]:
    return {u.unit_id: u.name for u in session.query(Unit).filter(Unit.unit_id.in_(unit_ids))}


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True)
class _WhyContext:
    outcome: str
    share: float
    fmt: NumberFormat
    customers: int | None
    margin: float | None
    point_value: float | None
    items: int


def _why(row: Any, above: Any | None, ctx: _WhyContext) -> str:
    """Plain words: how much the item matters, how far behind the scope is, what closing part of the
    gap is worth (outcome and money), and why it ranks where it does against the item above it."""
    label = OUTCOME_LABELS.get(ctx.outcome, ctx.outcome)
    name = "NPS" if ctx.outcome == "nps" else label
    most = "most important" if row.importance_rank == 1 else f"{_ordinal(row.importance_rank)} most important"
    sentences = [
        f"{row.label} explains {row.relative_importance:.0%} of {name} here ({most} of {ctx.items})."
    ]
    if row.gap > 0:
        sentences.append(
            f"You score {row.mean:.1f} against {row.benchmark:.1f} at {row.benchmark_label}: "
            f"{row.gap:.1f} points behind."
        )
        half = "half" if ctx.share == 0.5 else f"{ctx.share:.0%}"
        if ctx.outcome == "nps" and not np.isnan(row.expected_nps_points):
            gain = f"about {row.expected_nps_points:+.1f} NPS points"
        else:
            gain = (
                f"about {ctx.fmt.signed(100 * row.expected_gain)} percentage points of {label}"
                if ctx.outcome in BINARY
                else f"about {ctx.fmt.signed(row.expected_gain, 2)} in {label}"
            )
        money = row.expected_margin
        if not np.isnan(money) and money >= 1:
            if ctx.point_value is not None:
                gain += (
                    f", about {ctx.fmt.money(money)} a year in margin "
                    f"({ctx.fmt.money(ctx.point_value)} a year per NPS point for the "
                    f"{ctx.customers:,} customers behind these answers)"
                )
            else:
                brought = ctx.fmt.money(ctx.margin or 0.0)
                gain += (
                    f", about {ctx.fmt.money(money)} a year in margin kept through lower "
                    f"churn (these {ctx.customers:,} customers bring {brought} a year)"
                )
        sentences.append(f"Closing {half} of the gap is worth {gain}.")
    elif not np.isnan(row.benchmark):
        sentences.append(
            f"You already score {row.mean:.1f}, at or above {row.benchmark:.1f} at {row.benchmark_label}."
        )
    else:
        sentences.append(f"You score {row.mean:.1f} (no benchmark to compare with).")
    sentences.append(_rank_reason(row, above))
    return " ".join(sentences)


def _short_why(row: Any, ctx: _WhyContext) -> str:
    """One sentence to scan: where you stand against the benchmark, what closing part of the gap is worth."""
    if np.isnan(row.benchmark):
        return f"{row.label}: you score {ctx.fmt.number(row.mean)}; no benchmark to compare with."
    if row.gap <= 0:
        return (
            f"{row.label}: {ctx.fmt.number(row.mean)}, at or above {row.benchmark_label} "
            f"({ctx.fmt.number(row.benchmark)})."
        )
    label = OUTCOME_LABELS.get(ctx.outcome, ctx.outcome)
    if ctx.outcome == "nps" and not np.isnan(row.expected_nps_points):
        gain = f"{ctx.fmt.signed(row.expected_nps_points)} NPS points"
    elif ctx.outcome in BINARY:
        gain = f"{ctx.fmt.signed(100 * row.expected_gain)} percentage points of {label}"
    else:
        gain = f"{ctx.fmt.signed(row.expected_gain, 2)} in {label}"
    if not np.isnan(row.expected_margin) and row.expected_margin >= 1:
        gain += f" and {ctx.fmt.money(row.expected_margin)} a year"
    half = "half" if ctx.share == 0.5 else f"{ctx.share:.0%}"
    return (
        f"{row.label}: {ctx.fmt.number(row.mean)} against {ctx.fmt.number(row.benchmark)} at "
        f"{row.benchmark_label}; closing {half} the gap is worth about {gain}."
    )


def _rank_reason(row: Any, above: Any | None) -> str:
    if row.gap == 0:
        return "Ranked low: nothing to close."
    if above is None:
        if row.importance_rank == 1:
            return "First because it is the most important driver with a gap."
        return "First because its gap outweighs more important drivers that are closer to the benchmark."
    place = f"Ranked {_ordinal(int(row.rank))}"
    if above.relative_importance >= row.relative_importance and above.gap_sd >= row.gap_sd:
        return f"{place}: {above.label} matters more and is further behind."
    if above.relative_importance >= row.relative_importance:
        return (
            f"{place}: {above.label} matters more ({above.relative_importance:.0%} against "
            f"{row.relative_importance:.0%}), though its gap is smaller."
        )
    return (
        f"{place}: {above.label} matters less but is further behind ({above.gap_sd:.2f} against "
        f"{row.gap_sd:.2f} standard deviations of the item)."
    )
