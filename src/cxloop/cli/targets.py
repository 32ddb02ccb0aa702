"""``cxloop targets ...``: targets per unit, metric and period (issue 7).

A thin layer over :mod:`cxloop.services.act.targets`. The command line acts as an admin at the top of the
hierarchy unless ``--as EMAIL`` makes it act as that user (their scope and role, so a branch manager
cannot overwrite a target set top-down by their region). Exit codes: 0 done; 1 not found; 2 the request
cannot be done as asked (bad value, outside the scope, not allowed).
"""

# No ``from __future__ import annotations``: Typer reads the Annotated options at run time.
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import partial
from typing import Annotated, Any, TypeVar

import typer
from ibis.backends import BaseBackend
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from cxloop.cli import _console as console
from cxloop.cli._app import app
from cxloop.config import Settings
from cxloop.services.access.scope import (
    NoHierarchyError,
    ScopeError,
    UnknownUnitError,
    UnknownUserError,
    Viewer,
    acting_viewer,
)
from cxloop.services.act import actions as act
from cxloop.services.act import targets as svc
from cxloop.store.db import engine_for, session_scope
from cxloop.warehouse.connection import connect

__all__ = ["AsOption", "JsonOption", "NowOption", "fail", "parse_day", "run", "targets_app", "workspace"]

EXIT_NOT_FOUND = 1
EXIT_BAD_REQUEST = 2
T = TypeVar("T")

targets_app = typer.Typer(
    help=(
        "Targets: the value a unit should reach on a metric over a period, set top-down or by the unit.\n\n"
        "`cxloop targets set br-0001 nps 35 --period quarter --start 2026-01-01` sets one (a target set for "
        "a unit below yours is top-down: that unit cannot overwrite it); `cxloop targets list` lists your "
        "scope's; `cxloop targets progress` says for each whether it is on track, off track or too early to "
        "tell, with the value so far, its interval and the test. Metrics: nps, csat, ces, churn, "
        "repeat_purchase, or item:<question id> (a driver item's mean)."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(targets_app, name="targets")

AsOption = Annotated[
    str | None,
    typer.Option(
        "--as", help="Act as this user (e-mail): their scope and role. Default: an admin at the top."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
NowOption = Annotated[
    str | None, typer.Option("--as-of", help="Evaluate as of this day (YYYY-MM-DD) instead of today.")
]


def fail(message: str, code: int = EXIT_BAD_REQUEST) -> typer.Exit:
    """:func:`cxloop.cli._console.fail`, whose exit code here defaults to a bad request (2)."""
    return console.fail(message, code)


def parse_day(value: str | None, name: str) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise fail(f"{name} must be a date like 2026-01-31, got {value!r}") from None


def now_from(value: str | None) -> datetime | None:
    day = parse_day(value, "--as-of")
    return None if day is None else datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def run(action: Callable[[], T]) -> T:
    """Run a service call; its errors become a message and an exit code."""
    try:
        return action()
    except (svc.TargetNotFoundError, act.ActionNotFoundError) as exc:
        raise fail(str(exc), EXIT_NOT_FOUND) from None
    except UnknownUnitError as exc:
        hint = f" (units nearby: {', '.join(exc.suggestions)})" if exc.suggestions else ""
        raise fail(f"{exc}{hint}") from None
    except (ScopeError, svc.NotAllowedError, UnknownUserError, NoHierarchyError, ValueError) as exc:
        raise fail(str(exc)) from None
    except (OperationalError, ProgrammingError):
        raise fail(
            "the app database is not set up: run `cxloop demo generate`, or `cxloop db upgrade` then "
            "`cxloop import units FILE`",
            EXIT_NOT_FOUND,
        ) from None


@contextmanager
def workspace(
    as_user: str | None, *, warehouse: bool = False
) -> Iterator[tuple[Settings, Session, Viewer, Any]]:
    """Settings, an app-database session (committed on success), the acting viewer, and (if asked) the
    warehouse connection."""
    settings = Settings()
    engine = engine_for(settings)
    con: BaseBackend | None = None
    try:
        with session_scope(engine) as session:
            viewer = run(lambda: acting_viewer(session, as_user=as_user))
            if warehouse:
                con = connect(settings)
            yield settings, session, viewer, con
    finally:
        if con is not None:
            con.disconnect()
        engine.dispose()


def _fmt(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@targets_app.command("set")
def set_command(
    unit: Annotated[str, typer.Argument(help="The unit the target is for.")],
    metric: Annotated[
        str, typer.Argument(help="nps, csat, ces, churn, repeat_purchase or item:<question id>.")
    ],
    value: Annotated[
        float, typer.Argument(help="The target on the metric's scale (NPS -100..100, CSAT %...).")
    ],
    period: Annotated[str, typer.Option(help="week, month, quarter or year.")] = "quarter",
    start: Annotated[
        str | None, typer.Option(help="Any day of the period (default: today), snapped to its first day.")
    ] = None,
    rationale: Annotated[str, typer.Option(help="Why this number.")] = "",
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Set (or change) the target of a unit, metric and period.

    A negative value (an NPS target below zero) needs options first and ``--`` before the arguments:
    ``cxloop targets set --period year -- br-0001 nps -10``.
    """
    day = parse_day(start, "--start") or date.today()
    with workspace(as_user) as (_settings, session, viewer, _con):
        draft = svc.TargetDraft(unit, metric, period, day, value, rationale)
        target = run(lambda: svc.set_target(session, viewer, draft))
        record = svc.target_dict(target)
    if as_json:
        typer.echo(json.dumps(record, indent=2))
        return
    Console(soft_wrap=True).print(
        f"target #{record['id']}: {escape(record['unit_id'])} {escape(record['metric'])} "
        f"{record['period']} = {record['target_value']:g} ({record['origin'].replace('_', '-')})",
        highlight=False,
    )


@targets_app.command("list")
def list_command(
    unit: Annotated[str | None, typer.Option(help="Only this unit's subtree.")] = None,
    metric: Annotated[str | None, typer.Option(help="Only this metric.")] = None,
    period: Annotated[str | None, typer.Option(help="Only this period length.")] = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """The targets in your scope, newest period first."""
    with workspace(as_user) as (_settings, session, viewer, _con):
        targets = run(
            lambda: svc.list_targets(session, viewer, unit_id=unit, metric=metric, granularity=period)
        )
        records = [svc.target_dict(t) for t in targets]
    if as_json:
        typer.echo(json.dumps({"targets": records}, indent=2))
        return
    table = Table("id", "unit", "metric", "period", "target", "origin", "set by", "actions")
    for r in records:
        table.add_row(
            str(r["id"]), escape(r["unit_id"]), escape(r["metric"]), r["period"], f"{r['target_value']:g}",
            r["origin"].replace("_", "-"), escape(r["set_by"]), ", ".join(map(str, r["action_ids"])) or "-",
        )  # fmt: skip
    Console(soft_wrap=True).print(table)
    if not records:
        Console(soft_wrap=True).print("no targets in your scope; set one with `cxloop targets set`")


@targets_app.command("progress")
def progress_command(
    target_ids: Annotated[
        list[int] | None, typer.Argument(help="Target ids (default: every target in scope).")
    ] = None,
    unit: Annotated[str | None, typer.Option(help="Only targets of this unit's subtree.")] = None,
    as_of: NowOption = None,
    as_user: AsOption = None,
    as_json: JsonOption = False,
) -> None:
    """Progress against targets: value so far with its interval, gap, test, and a verdict in words."""
    now = now_from(as_of)
    results = []
    with workspace(as_user, warehouse=True) as (settings, session, viewer, con):
        if target_ids:
            targets = [run(partial(svc.get_target, session, viewer, i)) for i in target_ids]
        else:
            targets = run(lambda: svc.list_targets(session, viewer, unit_id=unit))
        with Progress(transient=True, disable=as_json) as bar:
            task = bar.add_task("measuring", total=len(targets))
            for target in targets:
                results.append(
                    run(
                        partial(
                            svc.target_progress, session, viewer, target, settings=settings, con=con, now=now
                        )
                    )
                )
                bar.advance(task)
    if as_json:
        typer.echo(json.dumps({"progress": [p.to_dict() for p in results]}, indent=2))
        return
    console = Console(soft_wrap=True)
    table = Table("id", "unit", "metric", "period", "target", "so far", "interval", "n", "verdict")
    for p in results:
        t = p.target
        digits = 2 if t["metric"] == "ces" or t["metric"].startswith("item:") else 1
        interval = "-" if p.ci_low is None else f"{_fmt(p.ci_low, digits)} to {_fmt(p.ci_high, digits)}"
        table.add_row(
            str(t["id"]), escape(t["unit_id"]), escape(t["metric"]), t["period"], f"{t['target_value']:g}",
            _fmt(p.estimate, digits), interval, "-" if p.n is None else f"{p.n:,}",
            p.verdict.replace("_", " "),
        )  # fmt: skip
    console.print(table)
    for p in results:
        console.print(f"#{p.target['id']}: {escape(p.sentence)}", highlight=False)
