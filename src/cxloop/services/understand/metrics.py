"""Metrics for a viewer: NPS, CSAT and CES per unit and period, with intervals, comparisons and anonymity.

:func:`metrics` is the one call behind the CLI (``cxloop metrics``), the API and the dashboard:

1. **Scope first.** The viewer's visible units come from the app database; asking for a unit outside them
   raises :class:`~cxloop.services.access.scope.ScopeError` before any warehouse query runs, and the cube
   query itself is restricted to the visible units.
2. **Sufficient statistics in the engine** (:func:`cxloop.warehouse.queries.cube.metric_cube`), one query,
   over the whole visible subtree and the periods the comparisons need.
3. **Anonymity** (:mod:`cxloop.services.access.suppression`) over the whole visible subtree, per period and
   metric, before anything is picked out: suppressed cells carry no n, no estimate, no comparison.
4. **Estimates and comparisons** from :mod:`cxloop.stats` (:mod:`cxloop.services.understand.comparisons`),
with every
   p-value of the output corrected together by Benjamini-Hochberg; the correction is stated in the result.
5. **Cached** (:mod:`cxloop.services.cache`) by the warehouse's data version, the viewer's unit and visible
   units, and the query, after the scope check: a repeated dashboard read costs microseconds and the
   next read after any write recomputes. Comparisons with *stored* targets (app database) are not cached.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd
from ibis.backends import BaseBackend
from sqlalchemy.orm import Session

from cxloop import stats
from cxloop.config import Settings
from cxloop.services.access.scope import Viewer, require_unit
from cxloop.services.access.suppression import Hierarchy, suppressed_columns
from cxloop.services.cache import cached, freeze, warehouse_tables
from cxloop.services.stores import Stores
from cxloop.services.understand import benchmarks as bench
from cxloop.services.understand import comparisons as cmp
from cxloop.store.targets import stored_targets
from cxloop.warehouse.periods import (
    GRAINS,
    Grain,
    add_periods,
    check_grain,
    period_label,
    period_range,
    period_start,
    same_period_last_year,
)
from cxloop.warehouse.queries.cube import METRICS, STATISTICS, CubeQuery, metric_cube

__all__ = [
    "COMPARISONS",
    "GRAINS",
    "METRICS",
    "Comparison",
    "Include",
    "MetricsQuery",
    "MetricsResult",
    "NoDataError",
    "NoTargetError",
    "metrics",
]

Comparison = Literal["previous", "last_year", "parent", "company", "siblings", "peers", "target"]
#: Every comparison a query can ask for.
COMPARISONS: tuple[str, ...] = get_args(Comparison)
Include = Literal["unit", "children", "subtree"]
_BREAKDOWNS = ("touchpoint", "channel", "segment")
_COMPARISON_FIELDS = (
    "reference",
    "difference",
    "difference_se",
    "p_value",
    "p_adjusted",
    "significant",
    "note",
)
_LEAGUE_FIELDS = ("rank", "rank_low", "rank_high", "league_size")
_PEER_COUNTS = tuple(f"peers_{f}" for f in _LEAGUE_FIELDS)


def _extra_fields(comparison: str) -> tuple[str, ...]:
    """Fields a comparison has beyond the common ones."""
    if comparison == "siblings":
        return _LEAGUE_FIELDS
    if comparison == "peers":
        return bench.PEER_FIELDS
    return ()


class NoDataError(LookupError):
    """Nothing to report: the warehouse is empty, lacks the hierarchy, or no response matches."""


class NoTargetError(ValueError):
    """``compare=("target",)`` without explicit targets, and no target is stored for the units shown."""


@dataclass(frozen=True)
class MetricsQuery:
    """What a viewer asks for.

    Parameters
    ----------
    unit : str, optional
        The unit to report on; defaults to the viewer's own unit.
    include : {"unit", "children", "subtree"}
        Report the unit alone, with its direct children, or with its whole subtree.
    grain : {"day", "week", "month", "quarter", "year"} or None
        Period length; ``None`` gives one cell over the whole range.
    by : tuple of str
        Extra breakdowns: any of ``touchpoint``, ``channel``, ``segment``.
    start, end : date, optional
        First and last day, widened to whole periods. Default: every period with data.
    touchpoints, channels, segments : collection of str, optional
        Count only responses with these values.
    metrics : tuple of str
        Any of ``nps``, ``csat``, ``ces``.
    compare : tuple of str
        Any of :data:`COMPARISONS`: the ``previous`` period, the same period ``last_year``, the
        ``parent`` unit, the ``company``, the unit's ``siblings`` (a league table with ranks), its
        ``peers`` (the units at its level across the company: median, top quartile and rank, never a
        peer's name; :mod:`cxloop.services.understand.benchmarks`), a ``target``. A parent or company
        outside the viewer's scope is compared as an aggregate named by its level, under the benchmark
        policy's anonymity rules.
    targets : mapping of str to float, optional
        A what-if target per metric (on the metric's reporting scale) for ``compare=("target",)``, the
        same for every cell. Without it, each cell is compared with the target stored for its unit,
        metric and period (``cxloop targets set``; :mod:`cxloop.services.act.targets`): the target of exactly
        that period, else the shortest stored period that contains it (a month cell under a quarterly
        target).
    """

    unit: str | None = None
    include: Include = "unit"
    grain: Grain | None = "month"
    by: tuple[str, ...] = ()
    start: date | None = None
    end: date | None = None
    touchpoints: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    segments: frozenset[str] | None = None
    metrics: tuple[str, ...] = METRICS
    compare: tuple[Comparison, ...] = ()
    targets: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.include not in get_args(Include):
            raise ValueError(f"include must be one of {get_args(Include)}, got {self.include!r}")
        if self.grain is not None:
            check_grain(self.grain)
        by = tuple(self.by)
        if any(b not in _BREAKDOWNS for b in by) or len(set(by)) != len(by):
            raise ValueError(f"by takes distinct values from {_BREAKDOWNS}, got {by}")
        compare = tuple(self.compare)
        unknown = [c for c in compare if c not in COMPARISONS]
        if unknown or len(set(compare)) != len(compare):
            raise ValueError(f"compare takes distinct values from {', '.join(COMPARISONS)}, got {compare}")
        if self.grain is None and {"previous", "last_year"} & set(compare):
            raise ValueError("comparing with the previous period or last year needs a period grain")
        targets = {str(k): float(v) for k, v in dict(self.targets).items()}
        if any(k not in METRICS for k in targets):
            raise ValueError(f"targets are per metric ({', '.join(METRICS)}), got {sorted(targets)}")
        object.__setattr__(self, "by", by)
        object.__setattr__(self, "compare", compare)
        object.__setattr__(self, "targets", targets)
        object.__setattr__(self, "metrics", tuple(self.metrics))
        # CubeQuery validates metrics, dates and filters the same way for everyone.
        self.cube_query(frozenset())

    def cube_query(self, units: Iterable[str], start: date | None = None) -> CubeQuery:
        """The warehouse query behind this one, over ``units`` from ``start`` (default: ``self.start``)."""
        period = ("period",) if self.grain is not None else ()
        return CubeQuery(
            by=("unit", *period, *self.by),
            grain=self.grain or "month",
            units=frozenset(units),
            start=self.start if start is None else start,
            end=self.end,
            touchpoints=self.touchpoints,
            channels=self.channels,
            segments=self.segments,
            metrics=self.metrics,
        )


def _json_values(column: pd.Series) -> list[Any]:
    """A column as plain Python values: ``None`` where missing, dates as ISO strings."""
    missing = column.isna().to_numpy()
    values = column.astype(object).tolist()
    for i, value in enumerate(values):
        if missing[i]:
            values[i] = None
        elif isinstance(value, np.generic):
            values[i] = value.item()
        elif isinstance(value, pd.Timestamp):
            values[i] = value.date().isoformat()
    return values


@dataclass(frozen=True)
class MetricsResult:
    """Cells of NPS/CSAT/CES for a viewer, each with n, estimate, standard error, interval and flags.

    ``cells`` has one row per unit x period x breakdown x metric: ``unit``, ``unit_name``, ``level``,
    ``period`` (label), ``period_start``, the breakdown columns, ``metric``, ``n``, ``estimate``, ``se``,
    ``ci_low``, ``ci_high``, ``suppressed``, and per comparison ``<comparison>_reference``,
    ``_difference``, ``_difference_se``, ``_p_value``, ``_p_adjusted``, ``_significant`` and ``_note``
    (``siblings`` adds ``_rank``, ``_rank_low``, ``_rank_high`` and ``_league_size``; ``peers`` adds those
    and ``_median``, ``_top_quartile``, its ``reference`` being the peer median).
    """

    cells: pd.DataFrame
    unit: str
    viewer_unit: str
    grain: Grain | None
    metrics: tuple[str, ...]
    compare: tuple[str, ...]
    confidence: float
    min_n: int
    correction: str

    def to_frame(self) -> pd.DataFrame:
        """A copy of the cells."""
        return self.cells.copy()

    @property
    def notes(self) -> list[str]:
        """What the numbers mean: scales, intervals, anonymity and the multiple-comparison correction."""
        lines = [cmp.METRIC_LABELS[m] for m in self.metrics]
        lines.append(f"Intervals at {self.confidence:.0%} confidence.")
        lines.append(
            f"Cells with fewer than {self.min_n} responses are suppressed, and so is any cell that would "
            "let a suppressed one be worked out by subtraction."
        )
        if {"parent", "company"} & set(self.compare):
            lines.append(
                "Parent and company: the group's aggregate; the test compares the unit with the rest of the "
                "group (the group minus the unit, an independent sample). A group above your scope is named "
                "by its level and withheld where it would reveal a single other unit."
            )
        if "peers" in self.compare:
            lines.append(
                "Peers: the units at the same level across the company, as a median, top quartile (75th "
                "percentile) and rank, never by name; withheld with fewer than the minimum number of peers."
            )
        if self.compare:
            lines.append(f"Significance: {self.correction}.")
        return lines

    def to_records(self) -> list[dict[str, Any]]:
        """Cells as JSON-ready dicts. With one comparison its fields lose their prefix and the cell says
        which comparison it is (``comparison``, ``reference``, ``difference``, ``significant`` ...).

        Built once per result (a dashboard asks for the same result again and again from the cache);
        each call returns fresh dicts."""
        memo = self.__dict__.get("_records")
        if memo is None or memo[0] is not self.cells:
            memo = (self.cells, self._records())
            self.__dict__["_records"] = memo  # frozen: the memo is not a field
        return [dict(record) for record in memo[1]]

    def _records(self) -> list[dict[str, Any]]:
        # Column by column: a row-wise ``to_dict`` of an object frame is several times slower.
        names = [str(name) for name in self.cells.columns]
        columns = [_json_values(self.cells[name]) for name in self.cells.columns]
        records: list[dict[str, Any]] = [
            dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)
        ]
        single = self.compare[0] if len(self.compare) == 1 else None
        for record in records:
            if single is not None:
                record["comparison"] = single
                for name in (*_COMPARISON_FIELDS, *_extra_fields(single)):
                    record[name] = record.pop(f"{single}_{name}")
        return records

    def to_dict(self) -> dict[str, Any]:
        """The whole result as a JSON-ready dict: settings, notes and cells."""
        return {
            "unit": self.unit,
            "viewer_unit": self.viewer_unit,
            "grain": self.grain,
            "metrics": list(self.metrics),
            "compare": list(self.compare),
            "confidence": self.confidence,
            "min_n": self.min_n,
            "correction": self.correction,
            "notes": self.notes,
            "cells": self.to_records(),
        }

    def summary(self) -> str:
        """A plain-text table of the cells with the notes below it."""
        columns = ["unit", "period", *self.cells.columns.intersection(list(_BREAKDOWNS)), "metric", "n"]
        columns += ["estimate", "ci_low", "ci_high"]
        for name in self.compare:
            columns += [f"{name}_difference", f"{name}_significant"]
        body = self.cells[columns].to_string(index=False, float_format=lambda v: f"{v:.1f}")
        return body + "\n\n" + "\n".join(self.notes)


def metrics(
    viewer: Viewer,
    query: MetricsQuery,
    *,
    stores: Stores,
) -> MetricsResult:
    """NPS, CSAT and CES for ``viewer`` as ``query`` asks, with intervals, comparisons and suppression.

    Parameters
    ----------
    viewer : Viewer
        Who is looking; they see their unit's subtree only.
    query : MetricsQuery
        Unit, periods, breakdowns, metrics and comparisons.
    stores : Stores
        Its settings (``confidence`` for intervals and tests, ``min_n`` the anonymity threshold), the app
        database (the hierarchy that decides scope) and the warehouse.

    Raises
    ------
    ScopeError, UnknownUnitError
        The unit is outside the viewer's subtree or does not exist (before any warehouse query).
    NoDataError
        The warehouse has no hierarchy or no response matching the query.
    """
    settings, session, con = stores.settings, stores.session, stores.warehouse
    focus = query.unit or viewer.unit_id
    visible = require_unit(session, viewer, focus, None)

    def compute() -> MetricsResult:
        return _metrics(viewer, query, focus, visible, settings=settings, session=session, con=con)

    if "target" in query.compare and not query.targets:
        return compute()  # stored targets live in the app database, which the data version does not cover
    key = (viewer.unit_id, visible, freeze(query), settings.min_n, settings.min_peers, settings.confidence)
    return cached("metrics", con, key, compute, copy=_copy)


def _copy(result: MetricsResult) -> MetricsResult:
    """What a cache hit hands out: the cells copied, the records built once on the cached original."""
    records = result.to_records()
    copy = replace(result, cells=result.cells.copy())
    copy.__dict__["_records"] = (copy.cells, records)
    return copy


def _metrics(
    viewer: Viewer,
    query: MetricsQuery,
    focus: str,
    visible: frozenset[str],
    *,
    settings: Settings,
    session: Session,
    con: BaseBackend,
) -> MetricsResult:
    tree = _warehouse_tree(con, visible)
    if focus not in tree.index:
        raise NoDataError(
            f"the warehouse has no copy of unit {focus!r}: import the org hierarchy "
            "(cxloop import units FILE) or run `cxloop demo generate`"
        )
    parents: dict[str, str | None] = {
        str(u): (str(p) if p in tree.index else None) for u, p in tree.parent_id.items()
    }
    hierarchy = Hierarchy.from_parents(parents)
    company = tree.attrs["company"]

    first_asked = period_start(query.start, query.grain) if query.start and query.grain else query.start
    cube_start = first_asked
    if first_asked is not None and query.grain is not None:
        if "previous" in query.compare:
            cube_start = add_periods(first_asked, query.grain, -1)
        if "last_year" in query.compare:
            cube_start = min(cube_start, same_period_last_year(first_asked, query.grain))  # type: ignore[type-var]
    cube = metric_cube(con, query.cube_query(tree.index, cube_start))
    if cube.empty:
        raise NoDataError(_no_data_message(con, query))

    keys = (["period"] if query.grain is not None else []) + list(query.by)
    flags = suppressed_columns(
        cube, hierarchy, settings.min_n, n_columns=[f"{m}_n" for m in query.metrics], slice_columns=keys
    )
    for metric in query.metrics:
        cube[f"{metric}_suppressed"] = flags[f"{metric}_n"].to_numpy()

    shown = _shown_units(tree, focus, query.include, "siblings" in query.compare)
    periods, reported = _periods(cube, query, first_asked)
    needed = set(shown)
    for unit in shown:
        parent = parents[unit]
        if parent is not None:
            needed.add(parent)
    if company in tree.index:
        needed.add(company)
    org = bench.org_tree(con)

    def cube_for(units: frozenset[str]) -> pd.DataFrame:
        return metric_cube(con, query.cube_query(units, cube_start))

    above = _groups_above(query.compare, viewer.unit_id, shown, visible, org)
    if above:
        outside = bench.group_cells(
            org, viewer.unit_id, above, cube_for, keys=keys, metrics=query.metrics, min_n=settings.min_n
        )
        if not outside.empty:
            cube = pd.concat([cube, outside], ignore_index=True)
            needed.update(above)
    peer_cube = None
    if "peers" in query.compare:
        levels = {org.level.get(u) for u in shown}
        peer_cube = cube_for(frozenset(u for lv in levels if lv for u in org.at_level(lv)))
    grid = _grid(cube, sorted(needed), periods, query.by, query.metrics)
    stored = _stored_lookup(session, shown, focus, query) if "target" in query.compare else None

    layout = _layout(grid, query, tree, parents, company, shown, reported, org, peer_cube)
    cells = _concat(
        [_metric_cells(grid, metric, query, settings, layout, stored) for metric in query.metrics]
    )
    correction = _correct(cells, query.compare, settings.confidence)
    cells = _presented(cells, tree, query)
    return MetricsResult(
        cells=cells,
        unit=focus,
        viewer_unit=viewer.unit_id,
        grain=query.grain,
        metrics=query.metrics,
        compare=query.compare,
        confidence=settings.confidence,
        min_n=settings.min_n,
        correction=correction,
    )


# --- hierarchy, periods and the grid ---------------------------------------------------------------------


def _warehouse_tree(con: BaseBackend, visible: frozenset[str]) -> pd.DataFrame:
    """The visible units as the warehouse mirrors them (the same snapshot the cube rolls up through)."""
    tables = warehouse_tables(con)
    if "units" not in tables or "responses" not in tables:
        raise NoDataError(
            "the warehouse has no tables yet: run `cxloop demo generate`, or import your data "
            "(cxloop import units FILE, then cxloop import responses FILE)"
        )
    # Every unit, read once per data version (the hierarchy is written through the ingest layer).
    units = bench.read_units(con)
    roots = units.loc[units.parent_id.isna(), "unit_id"].tolist()
    tree = units[units.unit_id.isin(visible)].set_index("unit_id").sort_index()
    tree["parent_id"] = tree.parent_id.astype(object).where(tree.parent_id.notna(), None)
    tree.attrs["company"] = roots[0] if len(roots) == 1 else None
    return tree


def _groups_above(
    compare: tuple[str, ...], viewer_unit: str, shown: list[str], visible: frozenset[str], org: bench.OrgTree
) -> list[str]:
    """Parent and company outside the viewer's scope that the comparisons need (aggregates only)."""
    groups = []
    if "parent" in compare and viewer_unit in shown:
        parent = org.parent.get(viewer_unit)
        if parent is not None and parent not in visible:
            groups.append(parent)
    if "company" in compare and org.company is not None and org.company not in visible:
        groups.append(org.company)
    return groups


def _shown_units(tree: pd.DataFrame, focus: str, include: str, with_siblings: bool) -> list[str]:
    children: dict[str, list[str]] = {}
    for unit, parent in tree.parent_id.items():
        if parent is not None:
            children.setdefault(parent, []).append(str(unit))
    if include == "unit":
        shown = [focus]
    elif include == "children":
        shown = [focus, *sorted(children.get(focus, []))]
    else:
        shown, stack = [], [focus]
        while stack:
            unit = stack.pop()
            shown.append(unit)
            stack.extend(sorted(children.get(unit, []), reverse=True))
    if with_siblings:
        extra: list[str] = []
        for unit in shown:
            parent = tree.parent_id.get(unit)
            if parent is not None and parent in tree.index:
                extra.extend(s for s in children.get(parent, []) if s not in shown and s not in extra)
        shown = shown + sorted(extra)
    return shown


def _periods(cube: pd.DataFrame, query: MetricsQuery, first_asked: date | None) -> tuple[list, list]:
    """Every period start in the cube's range (for references) and the ones to report."""
    if query.grain is None:
        return [None], [None]
    in_cube = pd.to_datetime(cube.period)
    last = period_start(query.end, query.grain) if query.end else in_cube.max().date()
    first = first_asked or in_cube.min().date()
    earliest = min(first, in_cube.min().date())
    every = [pd.Timestamp(p) for p in period_range(earliest, max(last, earliest), query.grain)]
    reported = [p for p in every if pd.Timestamp(first) <= p <= pd.Timestamp(last)]
    return every, reported


def _grid(
    cube: pd.DataFrame, units: list[str], periods: list, by: tuple[str, ...], metrics: tuple[str, ...]
) -> pd.DataFrame:
    """Every needed unit x period x breakdown combination, with zeros (and suppressed) where no data."""
    axes: list[pd.DataFrame] = [pd.DataFrame({"unit": units})]
    if periods != [None]:
        axes.append(pd.DataFrame({"period": pd.to_datetime(pd.Series(periods)).astype("datetime64[ns]")}))
    if by:
        axes.append(cube[list(by)].drop_duplicates().reset_index(drop=True))
    grid = axes[0]
    for axis in axes[1:]:
        grid = grid.merge(axis, how="cross")
    keys = list(grid.columns)
    # Only the needed units' cells take part (the executive's cube holds every unit's).
    grid = grid.merge(cube[cube.unit.isin(units)], on=keys, how="left")
    statistics = [column for metric in metrics for column in STATISTICS[metric]]
    grid[statistics] = grid[statistics].fillna(0)
    flags = [f"{metric}_suppressed" for metric in metrics]
    grid[flags] = grid[flags].astype("boolean").fillna(True).astype(bool)
    for metric in metrics:
        withheld = f"{metric}_withheld"
        grid[withheld] = (
            grid[withheld].astype(object).where(grid[withheld].notna(), None) if withheld in grid else None
        )
    return grid


# --- one metric's cells and comparisons ----------------------------------------------------------------


def _stats(frame: pd.DataFrame, metric: str, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    out = {}
    for column in STATISTICS[metric]:
        values = frame[column].to_numpy(dtype=np.float64)
        out[column] = values if rows is None else np.where(rows >= 0, values[np.maximum(rows, 0)], 0.0)
    return out


@dataclass(frozen=True)
class _Layout:
    """What the cells of every metric share: which grid rows are output, the grid row of each output
    row's reference cell per comparison, and each grid row's league of siblings."""

    keys: list[str]
    rows: np.ndarray
    sub: pd.DataFrame
    references: dict[str, tuple[np.ndarray, np.ndarray]]
    parent_of: np.ndarray | None
    league_id: np.ndarray | None
    org: bench.OrgTree | None = None
    peer_cube: pd.DataFrame | None = None


def _layout(
    grid: pd.DataFrame,
    query: MetricsQuery,
    tree: pd.DataFrame,
    parents: Mapping[str, str | None],
    company: str | None,
    shown: list[str],
    reported: list,
    org: bench.OrgTree | None = None,
    peer_cube: pd.DataFrame | None = None,
) -> _Layout:
    keys = [c for c in ("period", *query.by) if c in grid.columns]
    out_rows = grid.unit.isin(shown).to_numpy()
    if "period" in keys:
        out_rows = out_rows & grid.period.isin(reported).to_numpy()
    rows = np.flatnonzero(out_rows)
    sub = grid.iloc[rows]
    references: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    wanted = [name for name in query.compare if name in ("previous", "last_year", "parent", "company")]
    if wanted:
        lookup = pd.MultiIndex.from_frame(grid[["unit", *keys]])
        for name in wanted:
            references[name] = _reference_rows(sub, name, lookup, keys, query.grain, tree, company)
    parent_of = league_id = None
    if "siblings" in query.compare:
        # As before this was computed once per query: on pandas 3 a unit without a parent in the grid
        # maps to NaN (not None) when some other unit has one, which the league code then treats as a
        # parent. Kept as it is here so that no number changes; see the commit message.
        parent_of = grid.unit.map(lambda u: parents.get(u)).to_numpy(dtype=object)
        groups = pd.DataFrame({"parent": parent_of, **{k: grid[k].to_numpy() for k in keys}})
        league_id = groups.groupby(list(groups.columns), dropna=False, sort=False).ngroup().to_numpy()
    return _Layout(keys, rows, sub, references, parent_of, league_id, org, peer_cube)


def _metric_cells(
    grid: pd.DataFrame,
    metric: str,
    query: MetricsQuery,
    settings: Settings,
    layout: _Layout,
    stored: _StoredTargets | None = None,
) -> dict[str, Any]:
    """Output columns of one metric: estimates, suppression and every comparison asked for."""
    confidence = settings.confidence
    rows, sub = layout.rows, layout.sub
    suppressed = grid[f"{metric}_suppressed"].to_numpy()
    stats_all = _stats(grid, metric)
    est = cmp.estimate(metric, stats_all, confidence)
    n = sub[f"{metric}_n"].to_numpy(dtype=np.float64)
    hidden = suppressed[rows]
    cells: dict[str, Any] = {
        "unit": sub.unit.to_numpy(),
        **{k: sub[k].to_numpy() for k in layout.keys},
        "metric": np.full(len(rows), metric, dtype=object),
        "n": np.where(hidden, np.nan, n),
        "estimate": np.where(hidden, np.nan, est.estimate[rows]),
        "se": np.where(hidden, np.nan, est.se[rows]),
        "ci_low": np.where(hidden, np.nan, est.ci_low[rows]),
        "ci_high": np.where(hidden, np.nan, est.ci_high[rows]),
        "suppressed": hidden,
        "no_data": n == 0,
    }
    own = {c: v[rows] for c, v in stats_all.items()}
    for name in query.compare:
        if name == "siblings":
            assert layout.parent_of is not None and layout.league_id is not None
            result = _league(
                stats_all, metric, rows, suppressed, layout.parent_of, layout.league_id, confidence
            )
        elif name == "target":
            result = _against_target(metric, query, rows, est, n, hidden, stored, sub)
        elif name == "peers":
            assert layout.org is not None and layout.peer_cube is not None
            result = bench.peer_comparison(
                layout.org,
                layout.peer_cube,
                sub,
                keys=layout.keys,
                metric=metric,
                estimate=est.estimate[rows],
                se=est.se[rows],
                n=n,
                hidden=hidden,
                min_n=settings.min_n,
                min_peers=settings.min_peers,
                confidence=confidence,
            )
            result.pop("label")
        else:
            reference, why = layout.references[name]
            result = _against_reference(
                metric, name, own, grid, rows, reference, why, suppressed, est, confidence
            )
        for field_name, values in result.items():
            cells[f"{name}_{field_name}"] = values
    return cells


def _concat(parts: list[dict[str, Any]]) -> pd.DataFrame:
    """One frame of every metric's columns (counts as nullable integers, NaN where there is none)."""
    columns: dict[str, Any] = {}
    for name in parts[0]:
        values: Any = np.concatenate([part[name] for part in parts])
        if name == "n" or name.removeprefix("siblings_") in _LEAGUE_FIELDS or name in _PEER_COUNTS:
            values = pd.array(values, dtype="Float64").astype("Int64")
        columns[name] = values
    return pd.DataFrame(columns)


def _reference_rows(
    sub: pd.DataFrame,
    name: str,
    lookup: pd.MultiIndex,
    keys: list[str],
    grain: Grain | None,
    tree: pd.DataFrame,
    company: str | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Grid row of each output row (``sub``) 's reference cell (-1 where there is none) and, where there is
    none, why: no such reference, outside the viewer's scope, or no data that far back."""
    target = sub[["unit", *keys]].copy()
    why = np.full(len(sub), None, dtype=object)
    if name in ("previous", "last_year"):
        assert grain is not None
        step = (
            (lambda d: add_periods(d, grain, -1))
            if name == "previous"
            else (lambda d: same_period_last_year(d, grain))
        )
        # A few distinct periods among many rows: each stepped back once.
        earlier = {p: pd.Timestamp(step(p.date())) for p in target.period.unique()}
        target["period"] = [earlier[p] for p in target.period]
        why[:] = "no earlier data"
    elif name == "parent":
        raw_parent = sub.unit.map(tree.parent_id).to_numpy(dtype=object)
        target["unit"] = raw_parent
        why[:] = np.where(raw_parent == None, "not applicable", "outside your scope")  # noqa: E711
    elif name == "company":
        target["unit"] = company
        why[:] = np.where(sub.unit.to_numpy() == company, "not applicable", "outside your scope")
    found = lookup.get_indexer(pd.MultiIndex.from_frame(target))
    if name == "company":
        found = np.where(sub.unit.to_numpy() == company, -1, found)
    why[found >= 0] = None
    return found, why


def _empty(size: int) -> dict[str, Any]:
    return {
        "reference": np.full(size, np.nan),
        "difference": np.full(size, np.nan),
        "difference_se": np.full(size, np.nan),
        "p_value": np.full(size, np.nan),
        "note": np.full(size, None, dtype=object),
    }


def _notes(out: dict[str, Any], hidden: np.ndarray, reasons: Iterable[tuple[np.ndarray, str]]) -> None:
    note = out["note"]
    for mask, text in reasons:
        note[mask & (note == None)] = text  # noqa: E711 - elementwise on an object array
    note[hidden] = "suppressed"


def _against_reference(
    metric: str,
    name: str,
    own: dict[str, np.ndarray],
    grid: pd.DataFrame,
    rows: np.ndarray,
    reference: np.ndarray,
    why: np.ndarray,
    suppressed: np.ndarray,
    est: cmp.Estimates,
    confidence: float,
) -> dict[str, Any]:
    out = _empty(len(rows))
    hidden = suppressed[rows]
    ref_hidden = (reference >= 0) & suppressed[np.maximum(reference, 0)]
    usable = ~hidden & (reference >= 0) & ~ref_hidden
    ref_stats = _stats(grid, metric, reference)
    withheld = grid[f"{metric}_withheld"].to_numpy(dtype=object)[np.maximum(reference, 0)]
    if name in ("previous", "last_year"):
        test = cmp.two_sample_test(metric, own, ref_stats, confidence)
    else:
        test = cmp.nested_difference(metric, own, ref_stats, confidence)
    ref_est = est.estimate[np.maximum(reference, 0)]
    out["reference"] = np.where(usable, ref_est, np.nan)
    out["difference"] = np.where(usable, test.difference, np.nan)
    out["difference_se"] = np.where(usable, test.se, np.nan)
    out["p_value"] = np.where(usable, test.p_value, np.nan)
    no_test = usable & np.isnan(test.p_value)
    out["note"][:] = why
    has_reason = ref_hidden & (withheld != None)  # noqa: E711 - elementwise on an object array
    out["note"][has_reason & ~hidden] = withheld[has_reason & ~hidden]
    reasons = [
        (ref_hidden, "reference suppressed"),
        (no_test, "too few responses for a test"),
    ]
    _notes(out, hidden, reasons)
    return out


class _StoredTargets:
    """Stored targets of the units shown: for a cell, the target of exactly its period, else the one of
    the shortest stored period that contains it."""

    def __init__(self, targets: list[Any], query: MetricsQuery) -> None:
        self._by_key: dict[tuple[str, str], list[tuple[date, date, float]]] = {}
        for target in targets:
            last = add_periods(target.period_start, target.granularity, 1)  # exclusive
            key = (target.unit_id, target.metric)
            self._by_key.setdefault(key, []).append((target.period_start, last, float(target.target_value)))
        for spans in self._by_key.values():
            spans.sort(key=lambda span: span[1] - span[0])  # shortest period first
        self._grain = query.grain
        self._start, self._end = query.start, query.end

    def __bool__(self) -> bool:
        return bool(self._by_key)

    def values(self, metric: str, units: np.ndarray, periods: np.ndarray | None) -> np.ndarray:
        out = np.full(len(units), np.nan)
        for i, unit in enumerate(units):
            spans = self._by_key.get((str(unit), metric))
            if not spans:
                continue
            if periods is not None and self._grain is not None:
                first = pd.Timestamp(periods[i]).date()
                stop = add_periods(first, self._grain, 1)
            elif self._start is not None and self._end is not None:
                first, stop = self._start, self._end + timedelta(days=1)
            else:
                continue  # the whole range of data has no period a target could cover
            for start, end, value in spans:
                if start <= first and stop <= end:
                    out[i] = value
                    break
        return out


def _stored_lookup(
    session: Session, shown: list[str], focus: str, query: MetricsQuery
) -> _StoredTargets | None:
    """The stored targets behind a ``target`` comparison (``None`` when the query gives its own)."""
    if query.targets:
        return None
    lookup = _StoredTargets(stored_targets(session, shown, query.metrics), query)
    if not lookup:
        raise NoTargetError(
            f"no target is stored for {focus!r} (or the units shown) on {', '.join(query.metrics)}: set one "
            "with `cxloop targets set` or POST /api/v1/targets, or give a what-if target (e.g. nps=40)"
        )
    return lookup


def _against_target(
    metric: str,
    query: MetricsQuery,
    rows: np.ndarray,
    est: cmp.Estimates,
    n: np.ndarray,
    hidden: np.ndarray,
    stored: _StoredTargets | None = None,
    sub: pd.DataFrame | None = None,
) -> dict[str, Any]:
    out = _empty(len(rows))
    if stored is not None and sub is not None:
        periods = sub.period.to_numpy() if "period" in sub.columns else None
        target: float | np.ndarray = stored.values(metric, sub.unit.to_numpy(), periods)
        missing = np.isnan(target)
    elif metric in query.targets:
        target = query.targets[metric]
        missing = np.zeros(len(rows), dtype=bool)
    else:
        missing = np.ones(len(rows), dtype=bool)
    if missing.all():
        _notes(out, hidden, [(missing, "no target set")])
        return out
    sub_est = cmp.Estimates(*(getattr(est, f)[rows] for f in ("estimate", "se", "ci_low", "ci_high")))
    test = cmp.target_test(metric, sub_est, n, target)
    off = hidden | missing
    out["reference"] = np.where(off, np.nan, target)
    out["difference"] = np.where(off, np.nan, test.difference)
    out["difference_se"] = np.where(off, np.nan, test.se)
    out["p_value"] = np.where(off, np.nan, test.p_value)
    reasons = [(missing, "no target set"), (~hidden & np.isnan(test.p_value), "too few responses for a test")]
    _notes(out, hidden, reasons)
    return out


def _league(
    stats_all: dict[str, np.ndarray],
    metric: str,
    rows: np.ndarray,
    suppressed: np.ndarray,
    parent_of: np.ndarray,
    league_id: np.ndarray,
    confidence: float,
) -> dict[str, Any]:
    """Each output cell against its published siblings pooled, with its rank among them."""
    size = len(rows)
    out = _empty(size)
    for name in _LEAGUE_FIELDS:
        out[name] = np.zeros(size, dtype=np.int64)
    hidden = suppressed[rows]
    published = ~suppressed & (parent_of != None)  # noqa: E711 - elementwise on an object array
    totals = {
        c: np.bincount(league_id[published], weights=v[published], minlength=league_id.max() + 1)
        for c, v in stats_all.items()
    }
    row_league = league_id[rows]
    own = {c: v[rows] for c, v in stats_all.items()}
    counted = published[rows]  # the row's own statistics are part of its league's totals
    peers = {c: totals[c][row_league] - np.where(counted, own[c], 0.0) for c in stats_all}
    no_parent = parent_of[rows] == None  # noqa: E711
    test = cmp.two_sample_test(metric, own, peers, confidence)
    peer_est = cmp.estimate(metric, peers, confidence).estimate
    has_peers = peers[f"{metric}_n"] > 0
    usable = ~hidden & ~no_parent & has_peers
    out["reference"] = np.where(usable, peer_est, np.nan)
    out["difference"] = np.where(usable, test.difference, np.nan)
    out["difference_se"] = np.where(usable, test.se, np.nan)
    out["p_value"] = np.where(usable, test.p_value, np.nan)

    # Ranks within every league that holds an output cell, all leagues in one vectorised pass.
    wanted = np.isin(league_id, row_league[~hidden & ~no_parent]) & published
    members = np.flatnonzero(wanted)
    ranks = cmp.league_ranks(
        metric, {c: v[members] for c, v in stats_all.items()}, confidence, league_id[members]
    )
    position = np.full(len(league_id), -1)
    position[members] = np.arange(members.size)
    at = position[rows]
    ranked = at >= 0
    for name in _LEAGUE_FIELDS:
        out[name][ranked] = getattr(ranks, name)[at[ranked]]
    reasons = [
        (no_parent, "outside your scope"),
        (~has_peers, "no published siblings"),
        (usable & np.isnan(test.p_value), "too few responses for a test"),
    ]
    _notes(out, hidden, reasons)
    for name in _LEAGUE_FIELDS:
        out[name] = np.where(out[name] > 0, out[name], np.nan)  # no rank: <NA> (_concat)
    return out


# --- the correction, presentation, errors ---------------------------------------------------------------


def _correct(cells: pd.DataFrame, compare: tuple[str, ...], confidence: float) -> str:
    """Benjamini-Hochberg over every p-value of the output; fills ``_p_adjusted`` and ``_significant``."""
    if not compare:
        return "no comparisons"
    p_values = np.concatenate([cells[f"{name}_p_value"].to_numpy(dtype=np.float64) for name in compare])
    corrected = stats.benjamini_hochberg(p_values, alpha=1.0 - confidence)
    size = len(cells)
    for i, name in enumerate(compare):
        part = slice(i * size, (i + 1) * size)
        adjusted = corrected.p_adjusted[part]
        cells[f"{name}_p_adjusted"] = adjusted
        significant = pd.array(corrected.reject[part], dtype="boolean")
        significant[np.isnan(adjusted)] = pd.NA
        cells[f"{name}_significant"] = significant
    statement = corrected.statement
    if "siblings" in compare:
        statement += (
            "; rank intervals from pairwise tests between siblings, Benjamini-Hochberg within each league"
        )
    return statement


def _presented(cells: pd.DataFrame, tree: pd.DataFrame, query: MetricsQuery) -> pd.DataFrame:
    out = cells.copy()
    out.insert(1, "unit_name", out.unit.map(tree.name))
    out.insert(2, "level", out.unit.map(tree.level))
    if query.grain is not None:
        starts = pd.to_datetime(out.pop("period"))
        labels = {p: period_label(p.date(), query.grain) for p in starts.unique()}
        out.insert(3, "period", starts.map(labels))
        out.insert(4, "period_start", starts.dt.date.map(lambda d: d.isoformat()))
    else:
        first = query.start.isoformat() if query.start else "first"
        last = query.end.isoformat() if query.end else "last"
        out.insert(3, "period", "all" if not (query.start or query.end) else f"{first}..{last}")
        out.insert(4, "period_start", query.start.isoformat() if query.start else None)
    ordered = []
    for name in query.compare:
        fields = (*_COMPARISON_FIELDS, *_extra_fields(name))
        ordered += [f"{name}_{f}" for f in fields]
    base = [c for c in out.columns if c not in ordered]
    return out[base + ordered]


def _no_data_message(con: BaseBackend, query: MetricsQuery) -> str:
    total = int(con.table("responses").count().execute())
    if total == 0:
        return (
            "the warehouse holds no survey responses: import some (cxloop import responses FILE) or run "
            "`cxloop demo generate` for a demo company"
        )
    asked = []
    if query.start or query.end:
        asked.append(f"dates {query.start or '...'} to {query.end or '...'}")
    for name in ("touchpoints", "channels", "segments"):
        values = getattr(query, name)
        if values is not None:
            asked.append(f"{name} {', '.join(sorted(values))}")
    where = f" for {'; '.join(asked)}" if asked else ""
    return f"no responses in your scope{where} ({total:,} responses in the warehouse): widen the query"
