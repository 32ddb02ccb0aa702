"""What a key-driver analysis covers and what the engine returns for it.

:class:`DriverScope` picks the responses (a unit's subtree, segments, touchpoints, a date range) and
:func:`in_scope` applies it to ``responses`` or to a table with the same scope columns; :class:`DriverMoments`
holds the sufficient statistics summed over them. Shared by the row path
(:mod:`cxloop.warehouse.queries.driver_stats`) and the monthly path
(:mod:`cxloop.warehouse.queries.monthly_moments`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from cxloop.warehouse.periods import day_range
from cxloop.warehouse.sql import check_printable

__all__ = ["DriverMoments", "DriverScope", "in_scope", "is_only_root", "responses_in_scope", "sums_from_row"]


def _frozen(values: Iterable[str] | str | None, name: str) -> frozenset[str] | None:
    if values is None:
        return None
    frozen = frozenset({values}) if isinstance(values, str) else frozenset(values)
    check_printable(name, frozen)
    return frozen


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
        check_printable("unit_id", self.unit_id)
        object.__setattr__(self, "segments", _frozen(self.segments, "segment"))
        object.__setattr__(self, "touchpoints", _frozen(self.touchpoints, "touchpoint"))
        start, end = day_range(self.start, self.end)
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)


def responses_in_scope(con: BaseBackend, scope: DriverScope) -> ir.Table:
    """The ``responses`` rows a scope covers, as an unexecuted expression."""
    return in_scope(con, con.table("responses"), scope)


def is_only_root(con: BaseBackend, unit_id: str) -> bool:
    """Whether ``unit_id`` is the one root of the hierarchy mirror (its subtree is every unit, so a scope
    on it needs no unit filter: every stored response names a known unit)."""
    if "units" not in con.list_tables():
        return False
    units = con.table("units")
    roots = con.execute(units.filter(units.parent_id.isnull()).select("unit_id").limit(2))
    return list(roots["unit_id"]) == [unit_id]


def in_scope(con: BaseBackend, responses: ir.Table, scope: DriverScope) -> ir.Table:
    """Rows of ``responses`` (or of the wide table, which has the same scope columns) in ``scope``."""
    if scope.unit_id is not None and not is_only_root(con, scope.unit_id):
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


def sums_from_row(row: Mapping[str, Any], q: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The sums ``s<i>`` and the symmetric matrix of cross-product sums ``c<i>_<j>`` (``i <= j``) of ``q``
    variables from one result row; zeros when no response is complete (``n == 0``)."""
    sums = np.array([float(row[f"s{i}"]) if n else 0.0 for i in range(q)])
    cross = np.zeros((q, q))
    for i in range(q):
        for j in range(i, q):
            cross[i, j] = cross[j, i] = float(row[f"c{i}_{j}"]) if n else 0.0
    return sums, cross
