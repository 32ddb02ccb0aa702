"""Sufficient statistics of a key-driver analysis, computed in the engine.

A linear key-driver analysis (Shapley/LMG, Johnson's relative weights) needs only the correlation matrix of
the outcome and the drivers and its n. For the responses in a scope (a unit's subtree, optionally one
segment, touchpoint and date range) :func:`driver_moments` computes, in ONE aggregate over the engine's
rows, the count of complete responses, each variable's sum and every cross-product sum ``sum x_i x_j``;
numpy turns those few hundred numbers into a covariance or correlation matrix. Rows never reach Python.

The driver items are stored long (``answers(response_id, item, value)``). They are pivoted in the engine
to one column per item by conditional aggregation grouped by ``response_id`` (``max(CASE WHEN item = 'x'
THEN value END)``), joined to the responses in scope and their outcome, and aggregated.

If the warehouse holds a wide ``response_items`` table (``response_id`` and one column per item; see
``docs/architecture.md``, proposed to be maintained on import), it is read instead of pivoting: the
benchmark measured the pivot at 76-94% of the time.

**Missing-answer policy: listwise.** Only responses with every driver item and the outcome answered are
used (``n``); the others are counted in ``n_dropped`` (``n_responses = n + n_dropped``). This is the policy
of :class:`cxloop.stats.drivers.KeyDriverAnalysis` with ``missing="listwise"``.

A logistic analysis (binary outcome) needs rows: :func:`driver_patterns` draws a documented random sample
of complete responses in the engine (at most ``max_rows``, default 200,000) and returns its distinct
answer patterns with their counts, which the estimator takes as frequency weights.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Literal

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from cxloop.warehouse.outcomes import with_outcomes

__all__ = [
    "DEFAULT_SAMPLE_ROWS",
    "WIDE_TABLE",
    "DriverMoments",
    "DriverPatterns",
    "DriverScope",
    "driver_items",
    "driver_moments",
    "driver_patterns",
    "item_means",
    "responses_in_scope",
    "wide_answers",
]

DEFAULT_SAMPLE_ROWS = 200_000
#: Optional wide table (``response_id`` and one column per driver item) read instead of pivoting ``answers``.
WIDE_TABLE = "response_items"
Source = Literal["auto", "answers", "response_items"]


def _frozen(values: Iterable[str] | str | None) -> frozenset[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        return frozenset({values})
    return frozenset(values)


@dataclass(frozen=True)
class DriverScope:
    """Which responses an analysis covers.

    Parameters
    ----------
    unit_id : str, optional
        Root of the subtree (every response filed on it or any unit below); None for all units.
    segments, touchpoints : str or collection of str, optional
        Only responses from these customer segments / at these touchpoints.
    start, end : date, optional
        First and last day of ``submitted_at``, inclusive.
    """

    unit_id: str | None = None
    segments: frozenset[str] | None = None
    touchpoints: frozenset[str] | None = None
    start: date | None = None
    end: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", _frozen(self.segments))
        object.__setattr__(self, "touchpoints", _frozen(self.touchpoints))
        for name in ("start", "end"):
            value = getattr(self, name)
            if isinstance(value, datetime):
                object.__setattr__(self, name, value.date())
        if self.start is not None and self.end is not None and self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")


def responses_in_scope(con: BaseBackend, scope: DriverScope) -> ir.Table:
    """The ``responses`` rows a scope covers, as an unexecuted expression."""
    responses = con.table("responses")
    if scope.unit_id is not None:
        closure = con.table("unit_closure")
        under = closure.filter(closure.ancestor_id == scope.unit_id).unit_id
        responses = responses.filter(responses.unit_id.isin(under))
    if scope.segments is not None:
        responses = responses.filter(responses.segment.isin(sorted(scope.segments)))
    if scope.touchpoints is not None:
        responses = responses.filter(responses.touchpoint.isin(sorted(scope.touchpoints)))
    if scope.start is not None:
        responses = responses.filter(responses.submitted_at >= datetime.combine(scope.start, time()))
    if scope.end is not None:
        end = datetime.combine(scope.end + timedelta(days=1), time())
        responses = responses.filter(responses.submitted_at < end)
    return responses


def driver_items(con: BaseBackend, scope: DriverScope | None = None) -> list[str]:
    """The driver items answered in a scope (all responses when ``scope`` is None), sorted."""
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
    present = WIDE_TABLE in con.list_tables() and set(items) <= set(con.table(WIDE_TABLE).columns)
    if source == WIDE_TABLE and not present:
        raise ValueError(f"the warehouse has no {WIDE_TABLE} table with columns {', '.join(items)}")
    return present


def _complete_rows(
    con: BaseBackend,
    scope: DriverScope,
    items: Sequence[str],
    outcomes: Sequence[str],
    end: datetime | None,
    source: Source = "auto",
) -> tuple[ir.Table, ir.Table, list[str]]:
    """(responses in scope, complete rows with columns y<j> and x<k>, the column names in order)."""
    responses = responses_in_scope(con, scope)
    base = with_outcomes(
        con,
        responses.select("response_id", "customer_id", "submitted_at", "nps", "csat", "ces"),
        tuple(outcomes),
        end=end,
    )
    base = base.select("response_id", **{f"y{j}": base[o] for j, o in enumerate(outcomes)})
    if _use_wide_table(con, items, source):
        table = con.table(WIDE_TABLE)
        wide = table.select(
            "response_id", **{_column(k): table[i].cast("float64") for k, i in enumerate(items)}
        )
    else:
        unscoped = scope == DriverScope()
        # The whole company: no need to restrict the answers first (the join below does it); measured ~20%
        # faster at 1M responses. A scope restricts them before the pivot, which then groups fewer rows.
        wide = wide_answers(con, items, None if unscoped else responses)
    joined = base.join(wide, "response_id")
    columns = [*(f"y{j}" for j in range(len(outcomes))), *(_column(k) for k in range(len(items)))]
    complete = joined.filter(*(joined[c].notnull() for c in columns))
    return responses, complete, columns


@dataclass(frozen=True)
class DriverMoments:
    """Counts, sums and cross-product sums of outcomes and drivers over complete responses.

    Attributes
    ----------
    names : tuple of str
        Outcomes first, then the driver items.
    outcomes : tuple of str
    items : tuple of str
    n : int
        Complete responses (every item and every outcome answered).
    n_responses : int
        Responses in the scope.
    sums : ndarray, shape (q,)
    cross : ndarray, shape (q, q)
        ``sum x_i x_j`` over the complete responses.
    """

    names: tuple[str, ...]
    outcomes: tuple[str, ...]
    items: tuple[str, ...]
    n: int
    n_responses: int
    sums: np.ndarray
    cross: np.ndarray

    @property
    def n_dropped(self) -> int:
        """Responses in scope left out for a missing answer or outcome (listwise deletion)."""
        return self.n_responses - self.n

    @cached_property
    def mean(self) -> pd.Series:
        return pd.Series(self.sums / self.n, index=list(self.names), name="mean")

    @cached_property
    def covariance(self) -> pd.DataFrame:
        """Sample covariance matrix (``n - 1`` denominator)."""
        if self.n < 2:
            raise ValueError(f"a covariance needs at least 2 complete responses, got {self.n}")
        centred = self.cross - np.outer(self.sums, self.sums) / self.n
        cov = centred / (self.n - 1)
        return pd.DataFrame(cov, index=list(self.names), columns=list(self.names))

    @cached_property
    def correlation(self) -> pd.DataFrame:
        """Correlation matrix (NaN rows and columns for a constant variable)."""
        cov = self.covariance.to_numpy()
        sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = cov / np.outer(sd, sd)
        np.fill_diagonal(corr, np.where(sd > 0, 1.0, np.nan))
        return pd.DataFrame(np.clip(corr, -1.0, 1.0), index=list(self.names), columns=list(self.names))

    def for_outcome(self, outcome: str) -> pd.DataFrame:
        """The correlation matrix of one outcome and the drivers (outcome first), for ``fit_correlation``."""
        if outcome not in self.outcomes:
            raise KeyError(f"{outcome!r} is not an outcome of these moments ({', '.join(self.outcomes)})")
        order = [outcome, *self.items]
        return self.correlation.loc[order, order]

    def slopes(self, outcome: str) -> pd.Series:
        """Multiple-regression slopes of ``outcome`` on all the drivers (outcome units per item point)."""
        cov = self.covariance
        items = list(self.items)
        return pd.Series(
            np.linalg.solve(cov.loc[items, items].to_numpy(), cov.loc[items, outcome].to_numpy()),
            index=items,
            name=outcome,
        )


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
        (``"auto"``: the wide table when present). The wide table is trusted to mirror ``answers``.

    Returns
    -------
    DriverMoments
    """
    outcomes = (outcomes,) if isinstance(outcomes, str) else tuple(outcomes)
    items = tuple(items)
    _check(items, outcomes)
    responses, complete, columns = _complete_rows(con, scope, items, outcomes, end, source)
    aggregates: dict[str, ir.Scalar] = {"n": complete.count()}
    for i, a in enumerate(columns):
        aggregates[f"s{i}"] = complete[a].sum()
        for j in range(i, len(columns)):
            aggregates[f"c{i}_{j}"] = (complete[a] * complete[columns[j]]).sum()
    stats = complete.aggregate(**aggregates)
    total = responses.aggregate(n_responses=responses.count())
    row = con.execute(stats.cross_join(total)).iloc[0]
    q = len(columns)
    n = int(row["n"])
    sums = np.array([float(row[f"s{i}"]) if n else 0.0 for i in range(q)])
    cross = np.zeros((q, q))
    for i in range(q):
        for j in range(i, q):
            cross[i, j] = cross[j, i] = float(row[f"c{i}_{j}"]) if n else 0.0
    return DriverMoments(
        names=(*outcomes, *items),
        outcomes=outcomes,
        items=items,
        n=n,
        n_responses=int(row["n_responses"]),
        sums=sums,
        cross=cross,
    )


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
