"""What ``cxloop targets`` and ``cxloop actions`` share: how their errors end, and the day options.

Exit codes: 0 done; 1 not found (or the app database not set up); 2 the request cannot be done as asked
(bad value, outside the scope, not allowed, a status move the workflow does not allow).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer
from sqlalchemy.exc import OperationalError, ProgrammingError

from cxloop.cli._console import fail
from cxloop.cli._context import ExitCodes, Failure
from cxloop.services.access.scope import NoHierarchyError, ScopeError, UnknownUnitError, UnknownUserError
from cxloop.services.act import actions as act
from cxloop.services.act import targets as svc

__all__ = ["EXIT_BAD_REQUEST", "EXIT_CODES", "EXIT_NOT_FOUND", "AsOf", "now_from", "parse_day"]

EXIT_NOT_FOUND = 1
EXIT_BAD_REQUEST = 2


def _unknown_unit(exc: UnknownUnitError) -> str:
    hint = f" (units nearby: {', '.join(exc.suggestions)})" if exc.suggestions else ""
    return f"{exc}{hint}"


EXIT_CODES = ExitCodes(
    Failure((svc.TargetNotFoundError, act.ActionNotFoundError), EXIT_NOT_FOUND),
    Failure(UnknownUnitError, EXIT_BAD_REQUEST, _unknown_unit),
    Failure(
        (ScopeError, svc.NotAllowedError, UnknownUserError, NoHierarchyError, ValueError), EXIT_BAD_REQUEST
    ),
    Failure(
        (OperationalError, ProgrammingError),
        EXIT_NOT_FOUND,
        lambda _exc: (
            "the app database is not set up: run `cxloop demo generate`, or `cxloop db upgrade` then "
            "`cxloop import units FILE`"
        ),
    ),
)

AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Evaluate as of this day (YYYY-MM-DD) instead of today.")
]


def parse_day(value: str | None, name: str) -> date | None:
    """``value`` as a date (None when empty); a bad one ends the command naming the option ``name``."""
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise fail(f"{name} must be a date like 2026-01-31, got {value!r}", EXIT_BAD_REQUEST) from None


def now_from(value: str | None) -> datetime | None:
    """The ``--as-of`` day as noon UTC, or None for now."""
    day = parse_day(value, "--as-of")
    return None if day is None else datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
