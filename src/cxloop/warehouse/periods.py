"""Reporting periods: the calendar grains of the metrics cube and the arithmetic on their start dates.

A period is named by the date it starts on: days, ISO weeks (starting on Monday, as both DuckDB's and
Spark's ``date_trunc('week', ...)``), calendar months, quarters and years. The engine truncates timestamps
to these starts; this module does the same for Python dates (to snap a requested range to whole periods,
step to the previous period or the same period last year) and gives each period its label.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal, get_args

__all__ = [
    "FIRST_DAY",
    "GRAINS",
    "LAST_DAY",
    "Grain",
    "add_periods",
    "check_day",
    "day_range",
    "period_label",
    "period_range",
    "period_start",
    "same_period_last_year",
]

Grain = Literal["day", "week", "month", "quarter", "year"]

#: Every grain, finest first.
GRAINS: tuple[Grain, ...] = get_args(Grain)

#: Ibis ``truncate`` units of each grain.
TRUNCATE_UNIT: dict[Grain, str] = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}


#: The days a query may name. No CX data lies before 1900 (imports refuse such dates); the last day leaves
#: every step a query takes from a day (the same span before it, a year later, a period's end) inside
#: Python's dates, which end in 9999.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def check_day(day: date | None, name: str) -> None:
    """Raise ``ValueError`` naming ``name`` when ``day`` is outside :data:`FIRST_DAY` .. :data:`LAST_DAY`."""
    if day is not None and not FIRST_DAY <= day <= LAST_DAY:
        raise ValueError(f"{name} {day} is outside the days a query can name ({FIRST_DAY} to {LAST_DAY})")


def check_grain(grain: str) -> Grain:
    """Return ``grain`` if it is one of :data:`GRAINS`, else raise ``ValueError`` naming them."""
    if grain not in GRAINS:
        raise ValueError(f"unknown period grain {grain!r}; use one of {', '.join(GRAINS)}")
    return grain


def _as_date(day: date | datetime) -> date:
    return day.date() if isinstance(day, datetime) else day


def period_start(day: date | datetime, grain: Grain) -> date:
    """The first day of the period of ``grain`` that contains ``day``."""
    day = _as_date(day)
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if grain == "year":
        return date(day.year, 1, 1)
    raise ValueError(check_grain(grain))


def add_periods(start: date, grain: Grain, count: int) -> date:
    """The start of the period ``count`` periods after (negative: before) the one starting at ``start``."""
    start = period_start(start, grain)
    if grain == "day":
        return start + timedelta(days=count)
    if grain == "week":
        return start + timedelta(weeks=count)
    months = {"month": 1, "quarter": 3, "year": 12}[grain] * count
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def same_period_last_year(start: date, grain: Grain) -> date:
    """The start of the comparable period one year before the one starting at ``start``.

    Months, quarters and years step back twelve months; weeks step back 52 weeks (the same weekday and,
    in all but 53-week years, the same ISO week number); days step back to the same calendar date
    (29 February to 28 February).
    """
    start = period_start(start, grain)
    if grain == "week":
        return start - timedelta(weeks=52)
    if grain == "day":
        try:
            return start.replace(year=start.year - 1)
        except ValueError:  # 29 February
            return start.replace(year=start.year - 1, day=28)
    return add_periods(start, grain, -{"month": 12, "quarter": 4, "year": 1}[grain])


def period_range(first: date, last: date, grain: Grain) -> list[date]:
    """Starts of every period from the one containing ``first`` to the one containing ``last``."""
    current, stop = period_start(first, grain), period_start(last, grain)
    out = []
    while current <= stop:
        out.append(current)
        current = add_periods(current, grain, 1)
    return out


def period_label(start: date, grain: Grain) -> str:
    """A short name: ``2025-03-14``, ``2025-W11``, ``2025-03``, ``2025-Q1`` or ``2025``."""
    start = _as_date(start)
    if grain == "day":
        return start.isoformat()
    if grain == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if grain == "month":
        return f"{start.year}-{start.month:02d}"
    if grain == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if grain == "year":
        return str(start.year)
    raise ValueError(check_grain(grain))


def day_range(start: date | datetime | None, end: date | datetime | None) -> tuple[date | None, date | None]:
    """``start`` and ``end`` as days (a datetime keeps its date); raises ``ValueError`` when ``end`` is
    before ``start`` or either lies outside :data:`FIRST_DAY` .. :data:`LAST_DAY`."""
    first = start.date() if isinstance(start, datetime) else start
    last = end.date() if isinstance(end, datetime) else end
    check_day(first, "start")
    check_day(last, "end")
    if first is not None and last is not None and last < first:
        raise ValueError(f"end {last} is before start {first}")
    return first, last
