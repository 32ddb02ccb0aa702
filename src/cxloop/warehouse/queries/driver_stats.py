"""Sufficient statistics of a key-driver analysis, computed in the engine.

A linear key-driver analysis (Shapley/LMG, Johnson's relative weights) needs only the correlation matrix of
the outcome and the drivers and its n. For the responses in a scope (a unit's subtree, optionally one
segment, touchpoint and date range) :func:`driver_moments` computes, in ONE aggregate over the engine's
rows, the count of complete responses, each variable's sum and every cross-product sum ``sum x_i x_j``;
numpy turns those few hundred numbers into a covariance or correlation matrix. Rows never reach Python.

The driver items are stored long (``answers(response_id, item, value)``). They are pivoted in the engine
to one column per item by conditional aggregation grouped by ``response_id`` (``max(CASE WHEN item = 'x'
THEN value END)``), joined to the responses in scope and their outcome, and aggregated.

The importer maintains a wide copy, ``response_items`` (:mod:`cxloop.warehouse.derived.response_items`: one
row per response with its scope columns, headline scores and one ``q_<item>`` column per item). When it
mirrors every response (``source="auto"``, the default, checks), it is read instead: no pivot and no
join, one scan (the pivot was most of the time: docs/drivers.md). The long path stays as the
reference and the fallback; both give the same numbers (tested on DuckDB and Spark).

:func:`driver_moments_by` computes the statistics of many scopes in one pass: every unit subtree of a
list (through ``unit_closure``) crossed with every segment or touchpoint, grouped in the engine.

**Missing-answer policy: listwise.** Only responses with every driver item and the outcome answered are
used (``n``); the others are counted in ``n_dropped`` (``n_responses = n + n_dropped``). This is the policy
of :class:`cxloop.stats.drivers.KeyDriverAnalysis` with ``missing="listwise"``.

A logistic analysis (binary outcome) needs rows: :func:`driver_patterns` draws a documented random sample
of complete responses in the engine (at most ``max_rows``, default 200,000) and returns its distinct
answer patterns with their counts, which the estimator takes as frequency weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from cxloop.warehouse.cross_products import Pair, chunked, pair_sql, pairs
from cxloop.warehouse.derived.response_items import WIDE_TABLE, item_column, items_of, wide_table_usable
from cxloop.warehouse.outcomes import STATED, with_outcomes
from cxloop.warehouse.queries import monthly_moments
from cxloop.warehouse.queries.driver_scope import (
    DriverMoments,
    DriverScope,
    in_scope,
    responses_in_scope,
    sums_from_row,
)
from cxloop.warehouse.scores import SCALES
from cxloop.warehouse.sql import fetch_rows, quote_identifier

__all__ = [
    "DEFAULT_SAMPLE_ROWS",
    "WIDE_TABLE",
    "DriverMoments",
    "DriverPatterns",
    "DriverScope",
    "driver_items",
    "driver_moments",
    "driver_moments_by",
    "driver_patterns",
    "item_means",
    "responses_in_scope",
    "wide_answers",
]

DEFAULT_SAMPLE_ROWS = 200_000
Source = Literal["auto", "answers", "response_items"]


def driver_items(con: BaseBackend, scope: DriverScope | None = None, source: Source = "auto") -> list[str]:
    """The driver items answered in a scope (all responses when ``scope`` is None), sorted.

    From the wide table (``source="auto"`` when it mirrors every response): one scan counting each item
    column's answers in scope, instead of a DISTINCT over the long ``answers`` table (about 15 times as
    many rows). Both give the same list.
    """
    if source not in ("auto", "answers", WIDE_TABLE):
        raise ValueError(f"source must be 'auto', 'answers' or {WIDE_TABLE!r}, got {source!r}")
    if source != "answers" and (source == WIDE_TABLE or wide_table_usable(con, ())):
        wide = con.table(WIDE_TABLE)
        stored = items_of(wide.columns)
        if not stored:
            return []
        rows = wide if scope is None else in_scope(con, wide, scope)
        counts = con.execute(
            rows.aggregate(**{f"n{k}": rows[item_column(i)].count() for k, i in enumerate(stored)})
        ).iloc[0]
        return sorted(i for k, i in enumerate(stored) if int(counts[f"n{k}"]) > 0)
    answers = con.table("answers")
    if scope is not None:
        answers = answers.filter(answers.response_id.isin(responses_in_scope(con, scope).response_id))
    items = con.execute(answers.select("item").distinct())
    return sorted(str(v) for v in items["item"])


def _column(k: int) -> str:
    return f"x{k}"


def wide_answers(con: BaseBackend, items: Sequence[str], responses: ir.Table | None = None) -> ir.Table:
    """Long ``answers`` pivoted in the engine: ``response_id`` and one column ``x<k>`` per item ``k``.

    A response that did not answer an item has NULL there. ``responses`` (optional) restricts the pivot
    to the answers of those responses before grouping.
    """
    answers = con.table("answers")
    answers = answers.filter(answers.item.isin(list(items)))
    if responses is not None:
        # Joining first (rather than ``response_id IN (subquery)``) was the fastest on DuckDB both for a
        # whole company and for a region (benchmarks/bench_drivers.py).
        answers = answers.join(responses.select("response_id"), "response_id")
    return answers.group_by("response_id").aggregate(
        **{
            _column(k): (answers.item == item).ifelse(answers.value, ibis.null("float64")).max()
            for k, item in enumerate(items)
        }
    )


def _check(items: Sequence[str], outcomes: Sequence[str]) -> None:
    if not items:
        raise ValueError("no driver items given")
    if len(set(items)) != len(items):
        raise ValueError("driver items repeat")
    if not outcomes:
        raise ValueError("no outcome given")
    clash = set(items) & set(outcomes)
    if clash:
        raise ValueError(f"{sorted(clash)} named both as outcome and as driver item")


def _use_wide_table(con: BaseBackend, items: Sequence[str], source: Source) -> bool:
    if source not in ("auto", "answers", WIDE_TABLE):
        raise ValueError(f"source must be 'auto', 'answers' or {WIDE_TABLE!r}, got {source!r}")
    if source == "answers":
        return False
    if source == "auto":
        return wide_table_usable(con, items)
    wanted = {item_column(i) for i in items}
    if WIDE_TABLE not in con.list_tables() or not wanted <= set(con.table(WIDE_TABLE).columns):
        raise ValueError(f"the warehouse has no {WIDE_TABLE} table with columns {', '.join(sorted(wanted))}")
    return True


_KEYS = ("unit_id", "segment", "touchpoint")


def _complete_rows(
    con: BaseBackend,
    scope: DriverScope,
    items: Sequence[str],
    outcomes: Sequence[str],
    end: datetime | None,
    source: Source = "auto",
) -> tuple[ir.Table, ir.Table, list[str]]:
    """(rows in scope, complete rows with columns y<j>, x<k> and the scope keys, the y/x names in order).

    From the wide table: one scan of one table (plus the behavioural outcomes' joins, if asked). From
    ``answers``: the responses in scope joined to the pivot of their answers.
    """
    columns = [*(f"y{j}" for j in range(len(outcomes))), *(_column(k) for k in range(len(items)))]
    if _use_wide_table(con, items, source):
        rows = in_scope(con, con.table(WIDE_TABLE), scope)
        behavioural = tuple(o for o in outcomes if o not in STATED)
        base = with_outcomes(con, rows, behavioural, end=end) if behavioural else rows
        # Stated outcomes straight from the score columns, with their range as a filter instead of
        # with_outcomes' CASE (an out-of-range score is dropped listwise either way): the CASE would be
        # repeated in every cross-product, which measured slower (docs/drivers.md).
        scores = {"nps" if o in ("nps_promoter", "nps_detractor") else o for o in outcomes if o in STATED}
        if scores:
            base = base.filter(*(base[name].between(*SCALES[name]) for name in sorted(scores)))

        def outcome(name: str) -> ir.Value:
            if name == "nps_promoter":
                return (base.nps >= 9).cast("float64")
            if name == "nps_detractor":
                return (base.nps < 7).cast("float64")
            return base[name]

        joined = base.select(
            *_KEYS,
            **{f"y{j}": outcome(o) for j, o in enumerate(outcomes)},
            **{_column(k): base[item_column(i)] for k, i in enumerate(items)},
        )
    else:
        rows = responses_in_scope(con, scope)
        base = with_outcomes(
            con,
            rows.select("response_id", "customer_id", "submitted_at", "nps", "csat", "ces", *_KEYS),
            tuple(outcomes),
            end=end,
        )
        base = base.select("response_id", *_KEYS, **{f"y{j}": base[o] for j, o in enumerate(outcomes)})
        unscoped = scope == DriverScope()
        # The whole company: no need to restrict the answers first (the join below does it), which
        # measured faster (docs/drivers.md). A scope restricts them before the pivot, which then groups
        # fewer rows.
        wide = wide_answers(con, items, None if unscoped else rows)
        joined = base.join(wide, "response_id")
    complete = joined.filter(*(joined[c].notnull() for c in columns))
    return rows, complete, columns


def _sums_of_products(
    con: BaseBackend,
    complete: ir.Table,
    columns: Sequence[str],
    keys: Sequence[str] = (),
    total: ir.Table | None = None,
) -> list[dict[str, Any]]:
    """Run :func:`moments_statements` and return their rows, one per group, the statements' sums merged."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for sql in moments_statements(con, complete, columns, keys, total):
        for row in fetch_rows(con, sql):
            merged.setdefault(tuple(row[k] for k in keys), {}).update(row)
    return list(merged.values())


def _statistic(pair: Pair) -> str:
    """The result column of an augmented pair: ``n``, ``s<i>`` or ``c<i>_<j>`` (variables from 0)."""
    i, j = pair
    if i == 0:
        return "n" if j == 0 else f"s{j - 1}"
    return f"c{i - 1}_{j - 1}"


def moments_statements(
    con: BaseBackend,
    complete: ir.Table,
    columns: Sequence[str],
    keys: Sequence[str] = (),
    total: ir.Table | None = None,
) -> list[str]:
    """``n``, the sum of every column and of every product of two (upper triangle), per group of
    ``keys``, over the rows of ``complete``: one aggregate per statement, at most
    :data:`~cxloop.warehouse.cross_products.MAX_SUMS` sums each (one statement up to 43 columns; wider
    ones would crash DuckDB, :mod:`cxloop.warehouse.cross_products`). Every statement returns the same
    groups, each with its ``keys``.

    The rows (scope, outcomes, listwise filter) are an Ibis expression compiled for the engine; the
    ``1 + q + q(q+1)/2`` sums around them are plain SQL aggregates (``SUM(x0 * x1)``), which every engine
    runs natively. Built as Ibis expressions instead, the 153 aggregates of 15 items and an outcome
    took Ibis longer to compile than the engine took to run (benchmarks/bench_drivers.py). ``total``
    (ungrouped only): a relation whose row count is added as ``n_responses`` to the first statement.
    """
    inner = ibis.to_sql(complete.select(*keys, *columns), dialect=con.name)
    quoted = [quote_identifier(k, con.name) for k in keys]
    statements: list[str] = []
    for chunk in chunked(pairs(len(columns))):
        parts = quoted + [f"{pair_sql(pair, columns)} AS {_statistic(pair)}" for pair in chunk]
        # only generated names (y<j>, x<k>, fixed keys) and engine-compiled SQL go into the statement
        sql = f"SELECT {', '.join(parts)} FROM ({inner}) AS t"  # noqa: S608
        if keys:
            sql += " GROUP BY " + ", ".join(quoted)
        elif total is not None and not statements:
            counted = ibis.to_sql(total.aggregate(n_responses=total.count()), dialect=con.name)
            sql = f"SELECT * FROM ({sql}) AS a CROSS JOIN ({counted}) AS b"  # noqa: S608
        statements.append(sql)
    return statements


def moments_sql(
    con: BaseBackend,
    complete: ir.Table,
    columns: Sequence[str],
    keys: Sequence[str] = (),
    total: ir.Table | None = None,
) -> str:
    """:func:`moments_statements` as one statement (up to 43 columns; more raise ``ValueError``)."""
    statements = moments_statements(con, complete, columns, keys, total)
    if len(statements) != 1:
        raise ValueError(f"{len(columns)} columns need {len(statements)} statements: use moments_statements")
    return statements[0]


def driver_moments(
    con: BaseBackend,
    scope: DriverScope,
    items: Sequence[str],
    outcomes: Sequence[str] | str,
    *,
    end: datetime | None = None,
    source: Source = "auto",
) -> DriverMoments:
    """Sufficient statistics of the outcome(s) and driver items over the complete responses of a scope.

    One aggregate in the engine: ``n``, ``sum`` of each variable and ``sum x_i x_j`` of every pair, over
    responses with every item and outcome answered (listwise), plus the count of responses in scope.

    Parameters
    ----------
    con : ibis backend
    scope : DriverScope
    items : sequence of str
        Driver items (rows of ``answers.item``).
    outcomes : str or sequence of str
        Outcome names (:data:`cxloop.warehouse.outcomes.OUTCOMES`); several share one pass.
    end : datetime, optional
        Observation end for behavioural outcomes (default: the latest event in the warehouse).
    source : {"auto", "answers", "response_items"}
        Where the items come from: the long ``answers`` pivoted in the engine, or a wide
        ``response_items`` table (one column per item) if the warehouse has one with every item
        (``"auto"``: the importer's ``driver_moments_monthly`` when it can answer the scope (see
        :func:`cxloop.warehouse.queries.monthly_moments.plan`), else the wide table when present). The
        wide table is trusted to mirror ``answers``.

    Returns
    -------
    DriverMoments
    """
    outcomes = (outcomes,) if isinstance(outcomes, str) else tuple(outcomes)
    items = tuple(items)
    _check(items, outcomes)
    if source == "auto":
        # the importer's monthly moments, when they can answer this scope (monthly_moments.plan)
        monthly = monthly_moments.read(con, scope, items, outcomes)
        if monthly is not None:
            return monthly
    responses, complete, columns = _complete_rows(con, scope, items, outcomes, end, source)
    row = _sums_of_products(con, complete, columns, total=responses)[0]
    return _moments_from_row(row, outcomes, items, int(row["n_responses"]))


def _moments_from_row(
    row: Mapping[str, Any], outcomes: tuple[str, ...], items: tuple[str, ...], n_responses: int
) -> DriverMoments:
    q = len(outcomes) + len(items)
    n = 0 if row.get("n") is None or pd.isna(row["n"]) else int(row["n"])
    sums, cross = sums_from_row(row, q, n)
    return DriverMoments(
        names=(*outcomes, *items),
        outcomes=outcomes,
        items=items,
        n=n,
        n_responses=n_responses,
        sums=sums,
        cross=cross,
    )


GroupKey = tuple[str, ...]


def driver_moments_by(
    con: BaseBackend,
    scope: DriverScope,
    items: Sequence[str],
    outcomes: Sequence[str] | str,
    *,
    units: Sequence[str] | None = None,
    by: str | None = None,
    end: datetime | None = None,
    source: Source = "auto",
) -> dict[GroupKey, DriverMoments]:
    """:func:`driver_moments` for many scopes at once, in one grouped aggregate.

    Parameters
    ----------
    units : sequence of str, optional
        One group per unit's whole subtree (the rows are joined to ``unit_closure`` on ancestors in
        ``units``; ``scope.unit_id`` still restricts the rows). None: no grouping by unit.
    by : {"segment", "touchpoint"}, optional
        One group per value (NULL values are left out).

    Returns
    -------
    dict
        ``(unit,)``, ``(value,)`` or ``(unit, value)`` -> :class:`DriverMoments`, for every group with
        at least one response in scope (``n`` may be 0 there).
    """
    outcomes = (outcomes,) if isinstance(outcomes, str) else tuple(outcomes)
    items = tuple(items)
    _check(items, outcomes)
    if by not in (None, "segment", "touchpoint"):
        raise ValueError(f"by must be 'segment', 'touchpoint' or None, got {by!r}")
    if units is None and by is None:
        raise ValueError("group by units, by segment/touchpoint, or both")
    responses, complete, columns = _complete_rows(con, scope, items, outcomes, end, source)
    keys: list[str] = []

    def grouped(table: ir.Table) -> ir.Table:
        if units is not None:
            closure = con.table("unit_closure")
            closure = closure.filter(closure.ancestor_id.isin(list(units))).select("ancestor_id", "unit_id")
            table = table.join(closure, "unit_id")
        if by is not None:
            table = table.filter(table[by].notnull())
        return table

    if units is not None:
        keys.append("ancestor_id")
    if by is not None:
        keys.append(by)
    stats = {
        tuple(str(row[k]) for k in keys): row
        for row in _sums_of_products(con, grouped(complete), columns, keys)
    }
    every = grouped(responses)
    totals = con.execute(every.group_by(keys).aggregate(n_responses=every.count()))
    result: dict[GroupKey, DriverMoments] = {}
    for record in totals.to_dict(orient="records"):
        key = tuple(str(record[k]) for k in keys)
        row = stats.get(key, {"n": 0})
        result[key] = _moments_from_row(row, outcomes, items, int(record["n_responses"]))
    return result


@dataclass(frozen=True)
class DriverPatterns:
    """Distinct (answers, outcome) patterns of complete responses with their counts.

    ``frame`` has one column per item, the outcome, and ``count`` (respondents with that pattern).
    ``sampled`` says whether the patterns come from a random sample of ``n_complete`` complete responses
    (with ``fraction`` of them drawn).
    """

    frame: pd.DataFrame
    outcome: str
    items: tuple[str, ...]
    n_complete: int
    n_responses: int
    fraction: float

    @property
    def sampled(self) -> bool:
        return self.fraction < 1.0

    @property
    def n(self) -> int:
        """Respondents behind the patterns."""
        return int(self.frame["count"].sum())

    @property
    def n_dropped(self) -> int:
        return self.n_responses - self.n_complete


def driver_patterns(
    con: BaseBackend,
    scope: DriverScope,
    items: Sequence[str],
    outcome: str,
    *,
    max_rows: int = DEFAULT_SAMPLE_ROWS,
    seed: int = 0,
    end: datetime | None = None,
    source: Source = "auto",
) -> DriverPatterns:
    """Distinct answer patterns (with counts) of complete responses, for an analysis that needs rows.

    If the scope has more than ``max_rows`` complete responses, a Bernoulli sample of each complete
    response with probability ``max_rows / n_complete`` is drawn in the engine (``Table.sample`` with
    ``seed``; repeatable on DuckDB for the same data and seed, engine-specific otherwise) and the result
    says so. Patterns are then grouped in the engine, so at most ``max_rows`` rows (usually far fewer
    distinct patterns, answers being on small scales) reach Python.
    """
    items = tuple(items)
    _check(items, (outcome,))
    responses, complete, columns = _complete_rows(con, scope, items, (outcome,), end, source)
    counts = con.execute(
        complete.aggregate(n=complete.count()).cross_join(responses.aggregate(n_responses=responses.count()))
    ).iloc[0]
    n_complete, n_responses = int(counts["n"]), int(counts["n_responses"])
    fraction = 1.0 if n_complete <= max_rows else max_rows / n_complete
    rows = complete.select(*columns)
    if fraction < 1.0:
        rows = rows.sample(fraction, seed=seed)
    patterns = rows.group_by(columns).aggregate(count=rows.count())
    frame = con.execute(patterns).rename(
        columns={"y0": outcome, **{_column(k): item for k, item in enumerate(items)}}
    )
    frame = (
        frame[[*items, outcome, "count"]].sort_values([*items, outcome], kind="stable").reset_index(drop=True)
    )
    return DriverPatterns(
        frame=frame,
        outcome=outcome,
        items=items,
        n_complete=n_complete,
        n_responses=n_responses,
        fraction=fraction,
    )


def item_means(
    con: BaseBackend,
    scope: DriverScope,
    items: Sequence[str],
    *,
    by: str,
    groups: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Mean of each driver item per group, with its n (every answer counts; no listwise deletion).

    Parameters
    ----------
    by : {"unit", "segment", "touchpoint"}
        ``"unit"``: one group per unit of ``groups``, each covering its whole subtree (``scope.unit_id``
        is then ignored: the groups say which subtrees). ``"segment"`` / ``"touchpoint"``: one group per
        value within the scope (only ``groups`` if given).

    Returns
    -------
    pandas.DataFrame
        Columns ``group``, ``item``, ``n``, ``mean``.
    """
    if by not in ("unit", "segment", "touchpoint"):
        raise ValueError(f"by must be 'unit', 'segment' or 'touchpoint', got {by!r}")
    answers = con.table("answers")
    answers = answers.filter(answers.item.isin(list(items)))
    if by == "unit":
        if not groups:
            return pd.DataFrame(columns=["group", "item", "n", "mean"])
        unscoped = DriverScope(
            segments=scope.segments, touchpoints=scope.touchpoints, start=scope.start, end=scope.end
        )
        responses = responses_in_scope(con, unscoped).select("response_id", "unit_id")
        closure = con.table("unit_closure")
        closure = closure.filter(closure.ancestor_id.isin(list(groups))).select("ancestor_id", "unit_id")
        keyed = responses.join(closure, "unit_id").select("response_id", group="ancestor_id")
    else:
        responses = responses_in_scope(con, scope)
        if groups is not None:
            responses = responses.filter(responses[by].isin(list(groups)))
        keyed = responses.filter(responses[by].notnull()).select("response_id", group=by)
    joined = answers.join(keyed, "response_id")
    result = joined.group_by(["group", "item"]).aggregate(n=joined.count(), mean=joined.value.mean())
    frame = con.execute(result)
    return frame.sort_values(["group", "item"]).reset_index(drop=True)
