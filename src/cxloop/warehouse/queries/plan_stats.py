"""Sufficient statistics of one driver item over a window, for targets and the measured change of actions.

:func:`item_window_statistics` counts the answers to one item in a unit's subtree between two days (and
optionally at some touchpoints): n, the sum and the sum of squares (for a mean with its t interval, and
Welch's test between two windows) and the answers at or above ``top_min`` (for a top-box share). One
aggregate in the engine; nothing row-level reaches Python.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from ibis.backends import BaseBackend

from cxloop.warehouse.queries.driver_stats import DriverScope, responses_in_scope

__all__ = ["item_window_statistics"]


def item_window_statistics(
    con: BaseBackend,
    *,
    unit_id: str,
    item: str,
    start: date,
    end: date,
    top_min: float,
    touchpoints: Iterable[str] | None = None,
) -> dict[str, float]:
    """``n``, ``sum``, ``sumsq`` and ``top`` (answers >= ``top_min``) of ``item`` in ``[start, end]``.

    Parameters
    ----------
    unit_id : str
        Root of the subtree whose responses count.
    item : str
        The driver item (``answers.item``, a question id).
    start, end : date
        First and last day of ``submitted_at``, inclusive.
    top_min : float
        Lowest answer counted in the top box.
    touchpoints : collection of str, optional
        Count only responses at these touchpoints.
    """
    scope = DriverScope(
        unit_id=unit_id,
        start=start,
        end=end,
        touchpoints=frozenset(touchpoints) if touchpoints is not None else None,
    )
    responses = responses_in_scope(con, scope).select("response_id")
    answers = con.table("answers")
    answers = answers.filter((answers.item == item) & answers.value.notnull() & ~answers.value.isnan())
    joined = answers.join(responses, "response_id")
    value = joined.value.cast("float64")
    expression = joined.aggregate(
        n=joined.count(),
        sum=value.sum(),
        sumsq=(value * value).sum(),
        top=(value >= float(top_min)).cast("int64").sum(),
    )
    frame = con.execute(expression)
    row = frame.iloc[0] if len(frame) else None
    return {
        key: float(row[key]) if row is not None and row[key] == row[key] and row[key] is not None else 0.0
        for key in ("n", "sum", "sumsq", "top")
    }
