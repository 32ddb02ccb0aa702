"""Key-driver moments summed from ``driver_moments_monthly``, the writer's per-cell sums.

A scope is answered from the table (:func:`read`) when it has no date range or one on month boundaries,
one stated outcome, and exactly the table's item set (in any order, at most ``ITEM_LIMIT`` items).
Anything else (a subset of items, several outcomes at once, behavioural outcomes, a range that cuts a
month, more items) falls back to the row path of
:mod:`cxloop.warehouse.queries.driver_stats`; :func:`plan` says which and why, and the choice is logged
(logger ``cxloop.warehouse.queries.monthly_moments``, DEBUG).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta

import numpy as np
from ibis.backends import BaseBackend

from cxloop.warehouse.derived.driver_moments_monthly import (
    ITEM_LIMIT,
    OUTCOMES,
    TABLE,
    month_number,
    statistic_columns,
    stored_items,
    usable,
)
from cxloop.warehouse.derived.response_items import WIDE_TABLE
from cxloop.warehouse.queries.driver_scope import DriverMoments, DriverScope, is_only_root, sums_from_row
from cxloop.warehouse.sql import fetch_rows

__all__ = ["plan", "read"]

log = logging.getLogger(__name__)


def plan(con: BaseBackend, scope: DriverScope, items: Sequence[str], outcomes: Sequence[str]) -> str | None:
    """Why the table cannot answer this analysis, or None when it can."""
    if len(outcomes) != 1 or outcomes[0] not in OUTCOMES:
        return "not one stated outcome"
    if scope.start is not None and scope.start.day != 1:
        return "the date range starts inside a month"
    if scope.end is not None and (scope.end + timedelta(days=1)).day != 1:
        return "the date range ends inside a month"
    stored = stored_items(con)
    if stored is None:
        return f"no {TABLE} table"
    if sorted(stored) != sorted(items):
        return "the items are not the table's item set"
    if len(stored) > ITEM_LIMIT:
        return f"more than {ITEM_LIMIT} items: the table keeps no sums for so many"
    if not usable(con):
        return f"{TABLE} does not mirror responses / {WIDE_TABLE}"
    return None


def read(
    con: BaseBackend, scope: DriverScope, items: Sequence[str], outcomes: Sequence[str]
) -> DriverMoments | None:
    """The analysis' moments summed from the table, or None (logged) when it cannot answer it."""
    reason = plan(con, scope, items, outcomes)
    if reason is not None:
        log.debug("driver moments from rows: %s", reason)
        return None
    stored = stored_items(con) or []
    outcome = outcomes[0]
    # The scope's values are parameters bound by the engine, never written into the statement.
    where, params = ["outcome IN ('', ?)"], [outcome]
    if scope.unit_id is not None and not is_only_root(con, scope.unit_id):
        where.append("unit_id IN (SELECT unit_id FROM unit_closure WHERE ancestor_id = ?)")
        params.append(scope.unit_id)
    for name, values in (("segment", scope.segments), ("touchpoint", scope.touchpoints)):
        if values is not None:
            listed = sorted(values)
            where.append(f"{name} IN ({', '.join('?' * len(listed))})" if listed else "FALSE")
            params.extend(listed)
    if scope.start is not None:
        where.append(f"month >= {month_number(scope.start)}")
    if scope.end is not None:
        where.append(f"month <= {month_number(scope.end)}")
    q = 1 + len(stored)
    sums = ", ".join(f"SUM({name}) AS {name}" for name in ["responses", *statistic_columns(q)])
    where_sql = " AND ".join(where)
    sql = f"SELECT outcome, {sums} FROM {TABLE} WHERE {where_sql} GROUP BY outcome"  # noqa: S608
    rows = fetch_rows(con, sql, params)
    log.debug("driver moments from %s (%s)", TABLE, outcome)
    by = {str(r["outcome"]): r for r in rows}
    counts, row = by.get("", {}), by.get(outcome, {})
    n = int(row.get("n") or 0)
    # the table's variable order -> the asked order (outcome first, then ``items``)
    order = [0, *(1 + stored.index(i) for i in items)]
    sums_all, cross_all = sums_from_row(row, q, n)
    return DriverMoments(
        names=(outcome, *items),
        outcomes=(outcome,),
        items=tuple(items),
        n=n,
        n_responses=int(counts.get("responses") or 0),
        sums=sums_all[order],
        cross=cross_all[np.ix_(order, order)],
    )
