"""The metrics cube: sufficient statistics of NPS, CSAT and CES per cell, computed in the engine.

A cell is a combination of the dimensions asked for — org unit (a unit's cell covers its whole subtree),
period, touchpoint, channel, customer segment — and holds only counts and sums:

========================  ==================================================================
``responses``             responses in the cell (any score answered or not)
``nps_n``                 NPS answers (0-10); ``nps_detractors`` (0-6), ``nps_passives`` (7-8),
                          ``nps_promoters`` (9-10)
``csat_n``                CSAT answers (1-5); ``csat_top2`` (4-5), ``csat_sum``, ``csat_sumsq``
``ces_n``                 CES answers (1-7, higher = easier); ``ces_easy`` (5-7), ``ces_sum``,
                          ``ces_sumsq``
========================  ==================================================================

Everything is additive, so a parent's cell is exactly the sum of its children's (plus any responses
filed on the parent itself), and :mod:`cxloop.stats` turns any cell into an estimate with its standard
error and interval. A score outside its scale (or NaN) counts as not answered.

The whole cube is one Ibis expression, so it runs where the data is (DuckDB, Spark, ...). By default it
first aggregates the facts to (unit, period, dimensions) — one pass over the responses — and only then
rolls that small aggregate up the hierarchy by joining it to ``unit_closure`` (when only a few units' cells
are asked for, the facts are first cut to those units' subtrees); the ``"direct"`` strategy
joins every response to all its ancestors first (the textbook query, about four times the rows). Both
give identical numbers; ``benchmarks/bench_cube.py`` times them.

**Source.** The facts are the ``responses`` themselves, or — whenever the query needs no finer period
than a month — the importer's monthly leaf aggregate ``responses_monthly``
(:mod:`cxloop.warehouse.derived.responses_monthly`), which holds the same statistics per unit x month x
touchpoint x channel x segment: summing it gives the same numbers from a table ~20x smaller.
:func:`metric_cube` picks the leaf when it covers the query and agrees with ``responses``
(``source="auto"``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from cxloop.warehouse.derived import responses_monthly
from cxloop.warehouse.periods import TRUNCATE_UNIT, Grain, add_periods, check_grain, day_range, period_start
from cxloop.warehouse.scores import METRICS, SCALES, STATISTICS, fact_statistics
from cxloop.warehouse.sql import check_printable

__all__ = [
    "DIMENSIONS",
    "METRICS",
    "SCALES",
    "STATISTICS",
    "CubeQuery",
    "Source",
    "Strategy",
    "cube_expression",
    "fact_statistics",
    "metric_cube",
]

#: Dimensions a cube can be grouped by. ``level`` labels each unit cell with its level (it needs ``unit``).
DIMENSIONS: tuple[str, ...] = ("unit", "level", "period", "touchpoint", "channel", "segment")
_FACT_DIMENSIONS = ("touchpoint", "channel", "segment")
#: Up to this many units asked for, the rollup filters the facts to their subtrees before aggregating.
_FEW_UNITS = 32

Strategy = Literal["rollup", "direct"]
#: Where the facts come from: ``responses``, the ``monthly`` leaf aggregate, or ``auto`` (the leaf when
#: it covers the query and is complete).
Source = Literal["auto", "responses", "monthly"]


def _frozen(values: Iterable[str] | None, name: str) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise TypeError(f"{name} must be a collection of strings, not a single string {values!r}")
    frozen = frozenset(values)
    check_printable(name, frozen)
    return frozen


@dataclass(frozen=True)
class CubeQuery:
    """What to group by and which responses to count.

    Parameters
    ----------
    by : tuple of str
        Dimensions of the cells, from :data:`DIMENSIONS`. ``()`` gives one cell for everything.
    grain : {"day", "week", "month", "quarter", "year"}
        Length of a period when ``"period"`` is in ``by``.
    units : collection of str, optional
        Only these units' cells (each still covers its whole subtree). Without ``"unit"`` in ``by``,
        only responses filed under these units are counted (each once, even if the units nest).
    levels : collection of str, optional
        Only cells of units at these levels (``"branch"``, ``"region"`` ...). Needs ``"unit"`` in ``by``.
    start, end : date, optional
        First and last day to count, inclusive. Both are widened to whole periods of ``grain`` so
        that no cell covers part of a period.
    touchpoints, channels, segments : collection of str, optional
        Count only responses with one of these values.
    metrics : tuple of str
        Which of :data:`METRICS` to compute (fewer is faster).
    """

    by: tuple[str, ...] = ("unit", "period")
    grain: Grain = "month"
    units: frozenset[str] | None = None
    levels: frozenset[str] | None = None
    start: date | None = None
    end: date | None = None
    touchpoints: frozenset[str] | None = None
    channels: frozenset[str] | None = None
    segments: frozenset[str] | None = None
    metrics: tuple[str, ...] = METRICS

    def __post_init__(self) -> None:
        by = tuple(self.by)
        unknown = [d for d in by if d not in DIMENSIONS]
        if unknown:
            raise ValueError(f"unknown dimension(s) {unknown}; use any of {', '.join(DIMENSIONS)}")
        if len(set(by)) != len(by):
            raise ValueError(f"dimension repeated in by={by}")
        if "level" in by and "unit" not in by:
            raise ValueError(
                "'level' labels unit cells: group by ('unit', 'level'), and pick levels with levels="
            )
        check_grain(self.grain)
        metrics = tuple(self.metrics)
        if not metrics or any(m not in METRICS for m in metrics) or len(set(metrics)) != len(metrics):
            raise ValueError(f"metrics must be distinct values from {METRICS}, got {metrics}")
        start, end = day_range(self.start, self.end)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        for name in ("units", "levels", "touchpoints", "channels", "segments"):
            object.__setattr__(self, name, _frozen(getattr(self, name), name))
        if self.levels is not None and "unit" not in by:
            raise ValueError("levels= picks unit cells: add 'unit' to by")
        object.__setattr__(self, "by", by)
        object.__setattr__(self, "metrics", metrics)

    @property
    def first_day(self) -> date | None:
        """``start`` widened to the start of its period."""
        return None if self.start is None else period_start(self.start, self._range_grain)

    @property
    def end_exclusive(self) -> date | None:
        """The day after the last one counted (``end`` widened to the end of its period)."""
        return None if self.end is None else add_periods(self.end, self._range_grain, 1)

    @property
    def _range_grain(self) -> Grain:
        return self.grain if "period" in self.by else "day"

    @property
    def statistics(self) -> tuple[str, ...]:
        """The statistics columns the cube will hold."""
        return ("responses", *(column for metric in self.metrics for column in STATISTICS[metric]))


def _summed(table: ir.Table, columns: Iterable[str]) -> dict[str, ir.Scalar]:
    return {column: table[column].sum() for column in columns}


def _filtered_facts(con: BaseBackend, query: CubeQuery) -> ir.Table:
    facts = con.table("responses")
    if query.first_day is not None:
        facts = facts.filter(facts.submitted_at >= datetime.combine(query.first_day, time()))
    if query.end_exclusive is not None:
        facts = facts.filter(facts.submitted_at < datetime.combine(query.end_exclusive, time()))
    for column, values in (
        ("touchpoint", query.touchpoints),
        ("channel", query.channels),
        ("segment", query.segments),
    ):
        if values is not None:
            facts = facts.filter(facts[column].isin(sorted(values)))
    if "period" in query.by:
        facts = facts.mutate(period=_period_key(facts.submitted_at, query.grain))
    return facts


def _filtered_months(con: BaseBackend, query: CubeQuery) -> ir.Table:
    """The monthly leaf aggregate, filtered like :func:`_filtered_facts` (month-aligned bounds only)."""
    facts = con.table(responses_monthly.TABLE)
    if query.first_day is not None:
        facts = facts.filter(facts.month >= _month_number(query.first_day))
    if query.end_exclusive is not None:
        facts = facts.filter(facts.month < _month_number(query.end_exclusive))
    for column, values in (
        ("touchpoint", query.touchpoints),
        ("channel", query.channels),
        ("segment", query.segments),
    ):
        if values is not None:
            facts = facts.filter(facts[column].isin(sorted(values)))
    if "period" in query.by:
        month = facts.month
        key = {"month": month, "quarter": (month // 12) * 4 + (month % 12) // 3, "year": month // 12}
        facts = facts.mutate(period=key[query.grain])
    return facts


def _month_number(day: date) -> int:
    return day.year * 12 + day.month - 1


def covers(query: CubeQuery) -> bool:
    """Whether the monthly leaf aggregate can answer ``query`` (no period finer than a month, and a
    date range on month boundaries)."""
    return responses_monthly.covers("period" in query.by, query.grain, query.first_day, query.end_exclusive)


def _period_key(submitted_at: ir.TimestampColumn, grain: Grain) -> ir.Column:
    """What the facts are grouped by for each period.

    Months, quarters and years are integers (``year * 12 + month - 1`` ...): DuckDB groups by them
    several times faster than by a truncated timestamp (docs/metrics.md). :func:`_period_start` turns the
    key back into a date after the aggregation, on the small result.
    """
    if grain == "month":
        return submitted_at.year() * 12 + submitted_at.month() - 1
    if grain == "quarter":
        return submitted_at.year() * 4 + submitted_at.quarter() - 1
    if grain == "year":
        return submitted_at.year()
    return submitted_at.truncate(TRUNCATE_UNIT[grain])


def _period_start(key: ir.Column, grain: Grain) -> ir.DateColumn:
    if grain == "month":
        return ibis.date(key // 12, key % 12 + 1, 1)
    if grain == "quarter":
        return ibis.date(key // 4, (key % 4) * 3 + 1, 1)
    if grain == "year":
        return ibis.date(key, 1, 1)
    return key.cast("date")


def _closure(con: BaseBackend, query: CubeQuery) -> ir.Table:
    """(ancestor_id, unit_id) pairs for the ancestors whose cells were asked for."""
    closure = con.table("unit_closure").select("ancestor_id", "unit_id")
    if query.units is not None:
        closure = closure.filter(closure.ancestor_id.isin(sorted(query.units)))
    if query.levels is not None:
        units = con.table("units")
        at_levels = units.filter(units.level.isin(sorted(query.levels))).unit_id
        closure = closure.filter(closure.ancestor_id.isin(at_levels))
    return closure


def cube_expression(
    con: BaseBackend, query: CubeQuery, *, strategy: Strategy = "rollup", source: Source = "responses"
) -> ir.Table:
    """The cube as one unexecuted Ibis expression over the warehouse tables of ``con``.

    Parameters
    ----------
    con : ibis backend
        A warehouse connection with ``responses``, ``unit_closure`` and ``units``.
    query : CubeQuery
        Cells and filters.
    strategy : {"rollup", "direct"}
        ``"rollup"`` aggregates responses per (unit, period, dimensions) and then rolls the aggregate up
        through ``unit_closure``; ``"direct"`` joins every response to its ancestors and aggregates once.
    source : {"responses", "monthly"}
        Read the responses, or the monthly leaf aggregate (which must cover the query: :func:`covers`).

    Returns
    -------
    ibis.Table
        One row per non-empty cell: the dimension columns of ``query.by`` (``unit`` for the unit id,
        ``period`` as the date the period starts) and the statistics, except ``nps_passives``
        (:func:`metric_cube` derives it).
    """
    if strategy not in ("rollup", "direct"):
        raise ValueError(f"unknown strategy {strategy!r}; use 'rollup' or 'direct'")
    if source == "monthly":
        if not covers(query):
            raise ValueError(
                "the monthly aggregate cannot answer periods shorter than a month or part months"
            )
        facts = _filtered_months(con, query)
        wanted = [s for s in query.statistics if s != "nps_passives"]

        def statistics_of(table: ir.Table) -> dict[str, ir.Scalar]:
            return _summed(table, wanted)

    elif source == "responses":
        facts = _filtered_facts(con, query)

        def statistics_of(table: ir.Table) -> dict[str, ir.Scalar]:
            return fact_statistics(table, query.metrics)

    else:
        raise ValueError(f"unknown source {source!r}; use 'responses' or 'monthly'")
    period = ["period"] if "period" in query.by else []
    dims = [d for d in query.by if d in _FACT_DIMENSIONS]
    fact_stats = statistics_of(facts)

    if "unit" in query.by:
        closure = _closure(con, query)
        if strategy == "direct":
            joined = facts.join(closure, "unit_id")
            cube = joined.group_by([joined.ancestor_id.name("unit"), *period, *dims]).aggregate(
                **statistics_of(joined)
            )
        else:
            if query.units is not None and len(query.units) <= _FEW_UNITS:
                # A few units' cells (a branch manager's): drop the other units' facts before aggregating
                # them, not after; the same rows reach the join. For hundreds of units the extra semi-join
                # costs more than it saves (measured in docs/web.md).
                facts = facts.filter(facts.unit_id.isin(closure.unit_id))
                fact_stats = statistics_of(facts)
            leaf = facts.group_by(["unit_id", *period, *dims]).aggregate(**fact_stats)
            joined = leaf.join(closure, "unit_id")
            cube = joined.group_by([joined.ancestor_id.name("unit"), *period, *dims]).aggregate(
                **_summed(joined, fact_stats)
            )
        if "level" in query.by:
            units = con.table("units")
            cube = cube.left_join(units.select(unit=units.unit_id, level=units.level), "unit")
    else:
        if query.units is not None:
            under = _closure(con, query).unit_id
            facts = facts.filter(facts.unit_id.isin(under))
            fact_stats = statistics_of(facts)
        keys = [*period, *dims]
        cube = facts.group_by(keys).aggregate(**fact_stats) if keys else facts.aggregate(**fact_stats)

    if "period" in query.by:
        cube = cube.mutate(period=_period_start(cube.period, query.grain))
    return cube.select(*query.by, *fact_stats)


def metric_cube(
    con: BaseBackend, query: CubeQuery, *, strategy: Strategy = "rollup", source: Source = "auto"
) -> pd.DataFrame:
    """Execute the cube: sufficient statistics per cell, as a small pandas DataFrame.

    Parameters
    ----------
    con : ibis backend
        The warehouse connection (DuckDB, Spark, ...).
    query : CubeQuery
        Cells and filters.
    strategy : {"rollup", "direct"}
        How the engine rolls up the hierarchy; see :func:`cube_expression`. Same numbers either way.
    source : {"auto", "responses", "monthly"}
        ``"auto"`` reads the monthly leaf aggregate when it covers the query and holds every stored
        response (one cheap check), else the responses. Same numbers either way.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty cell, sorted by the dimensions: their columns (``unit``, ``level``,
        ``period`` as ``datetime64[ns]`` at the period start, ``touchpoint``, ``channel``, ``segment``)
        then ``query.statistics``. Counts are ``int64``, sums ``float64``; the same dtypes on every
        engine, so cubes from two engines compare with ``DataFrame.equals``.

    Examples
    --------
    >>> cube = metric_cube(con, CubeQuery(by=("unit", "period"), grain="quarter"))  # doctest: +SKIP
    """
    if source == "auto":
        source = "monthly" if covers(query) and responses_monthly.usable(con) else "responses"
    if con.name == "duckdb":
        # Ibis takes longer to build and compile the expression than DuckDB takes to run it
        # (docs/web.md): the SQL of each query shape is compiled once per process.
        sql = _compiled_sql(con, query, strategy, source)
        frame = _arrow_frame(con.con.execute(sql).to_arrow_table())
    else:
        frame = cube_expression(con, query, strategy=strategy, source=source).to_pandas()
    return _normalised(frame, query)


_SQL: OrderedDict[tuple[Any, ...], str] = OrderedDict()
_SQL_LOCK = threading.Lock()
_SQL_SIZE = 256


def _compiled_sql(con: BaseBackend, query: CubeQuery, strategy: Strategy, source: Source) -> str:
    """The cube's SQL for ``con``'s engine, compiled once per query shape (it names tables, not data)."""
    key = (con.name, query, strategy, source)
    with _SQL_LOCK:
        sql = _SQL.get(key)
        if sql is not None:
            _SQL.move_to_end(key)
            return sql
    sql = str(con.compile(cube_expression(con, query, strategy=strategy, source=source)))
    with _SQL_LOCK:
        _SQL[key] = sql
        while len(_SQL) > _SQL_SIZE:
            _SQL.popitem(last=False)
    return sql


def _arrow_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow result as pandas, with DuckDB's ``SUM`` of integers (``HUGEINT``, a ``decimal128(38, 0)``
    in Arrow) cast to ``int64`` and dates kept as ``datetime64``.

    Left to pandas, every decimal becomes a Python ``Decimal`` object and every date a ``datetime.date``,
    which :func:`_normalised` then parses back one by one (the largest cost of a cold executive request
    once, docs/web.md). The cast is checked (an overflow raises), so the numbers are the same.
    """
    columns = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_decimal(kind) and kind.scale == 0:
            column = pc.cast(column, pa.int64())
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names).to_pandas(date_as_object=False)


def _normalised(frame: pd.DataFrame, query: CubeQuery) -> pd.DataFrame:
    out: dict[str, Any] = {}
    for dim in query.by:
        labels = frame[dim]
        if dim == "period":
            out[dim] = pd.to_datetime(labels).astype("datetime64[ns]")
        else:
            out[dim] = labels.astype(object).where(labels.notna(), None)
    for name in query.statistics:
        if name == "nps_passives":
            continue
        values = frame[name]
        dtype = np.dtype(np.float64 if name.endswith(("_sum", "_sumsq")) else np.int64)
        if values.dtype != dtype or values.hasnans:  # already right: nothing to do (most of a small cube)
            values = pd.to_numeric(values).fillna(0).astype(dtype)
        out[name] = values
    if "nps" in query.metrics:
        out["nps_passives"] = out["nps_n"] - out["nps_detractors"] - out["nps_promoters"]
    result = pd.DataFrame(out, index=pd.RangeIndex(len(frame)))[list(query.by) + list(query.statistics)]
    if query.by:
        result = result.sort_values(list(query.by), na_position="first", kind="stable", ignore_index=True)
    return result
