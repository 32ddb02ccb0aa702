"""Query parameters several API routes share: the date range and the dashboard's filters.

One declaration each, so every route names, limits and documents them the same way (``from``/``to`` are
the public names: ``from`` is a Python keyword).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from cxloop.services.understand.dashboard import DashboardFilters
from cxloop.web.errors import ApiError

__all__ = ["FiltersDep", "FromQuery", "OneValue", "ToQuery", "ValuesQuery", "dashboard_filters", "filters_of"]

FromQuery = Annotated[date | None, Query(alias="from", description="First day (YYYY-MM-DD).")]
ToQuery = Annotated[date | None, Query(alias="to", description="Last day (YYYY-MM-DD).")]
OneValue = Annotated[str | None, Query(max_length=64)]
ValuesQuery = Annotated[list[str] | None, Query(max_length=50)]


def filters_of(
    start: date | None, end: date | None, touchpoint: str | None, channel: str | None, segment: str | None
) -> DashboardFilters:
    """The dashboard's filters, or 422 when they cannot be combined (e.g. ``from`` after ``to``)."""
    try:
        return DashboardFilters(start=start, end=end, touchpoint=touchpoint, channel=channel, segment=segment)
    except ValueError as exc:
        raise ApiError(422, "bad_request", str(exc)) from None


async def dashboard_filters(
    start: FromQuery = None,
    end: ToQuery = None,
    touchpoint: OneValue = None,
    channel: OneValue = None,
    segment: OneValue = None,
) -> DashboardFilters:
    """``from``, ``to``, ``touchpoint``, ``channel`` and ``segment`` as one dependency (``async``: no I/O)."""
    return filters_of(start, end, touchpoint, channel, segment)


FiltersDep = Annotated[DashboardFilters, Depends(dashboard_filters)]
