"""``cxloop metrics``: NPS, CSAT and CES per unit and period, with intervals and comparisons.

A thin layer over :func:`cxloop.services.understand.metrics.metrics`: it builds the viewer (the whole
company, or a user's scope with ``--as``), the query, and prints a table, JSON or CSV. Exit codes: 0 done; 1
nothing to report (no data); 2 the request cannot be answered as asked (unknown unit, outside the scope, bad
option).
"""

# No ``from __future__ import annotations``: Typer reads the Annotated options at run time.
import json
import sys
from datetime import date
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import OperationalError, ProgrammingError

from cxloop.cli._console import fail
from cxloop.cli._context import AsUser, CommandContext, ExitCodes, Failure
from cxloop.services.access.scope import NoHierarchyError, ScopeError, UnknownUnitError, UnknownUserError
from cxloop.services.understand.metrics import (
    COMPARISONS,
    GRAINS,
    METRICS,
    MetricsQuery,
    MetricsResult,
    NoDataError,
    metrics,
)

__all__ = ["metrics_command"]

EXIT_NO_DATA = 1
EXIT_BAD_REQUEST = 2
_BREAKDOWNS = ("touchpoint", "channel", "segment")


class _BadRequest(Exception):
    """An option that cannot be used; the message says what to do instead."""


def _unknown_unit(exc: UnknownUnitError) -> str:
    nearby = f"\nunits nearby: {', '.join(exc.suggestions)}" if exc.suggestions else ""
    return (
        f"unknown unit {exc.unit_id!r}{nearby}\n"
        "see every unit below one with: cxloop metrics --unit UNIT --include children"
    )


EXIT_CODES = ExitCodes(
    Failure((_BadRequest, ValueError, UnknownUserError), EXIT_BAD_REQUEST),
    Failure(UnknownUnitError, EXIT_BAD_REQUEST, _unknown_unit),
    Failure(ScopeError, EXIT_BAD_REQUEST),
    Failure((NoDataError, NoHierarchyError), EXIT_NO_DATA, label="no data"),
    Failure(
        (OperationalError, ProgrammingError),
        EXIT_NO_DATA,
        lambda _exc: (
            "the app database is not set up: run `cxloop demo generate`, or "
            "`cxloop db upgrade` then `cxloop import units FILE`"
        ),
    ),
)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _parse_by(value: str) -> tuple[str | None, tuple[str, ...]]:
    grain: str | None = None
    breakdowns: list[str] = []
    for part in _split(value):
        if part in GRAINS:
            if grain is not None:
                raise _BadRequest(f"--by has two period lengths ({grain}, {part}); give one")
            grain = part
        elif part == "total":
            grain = None
        elif part in _BREAKDOWNS:
            breakdowns.append(part)
        else:
            raise _BadRequest(
                f"--by {part!r} is not known; use one of {', '.join(GRAINS)} or total, optionally with "
                f"{', '.join(_BREAKDOWNS)} (e.g. --by month,touchpoint)"
            )
    if not any(part in GRAINS or part == "total" for part in _split(value)):
        grain = "month"
    return grain, tuple(breakdowns)


def _parse_compare(value: str | None) -> tuple[str, ...]:
    names = [part.replace("-", "_") for part in _split(value)]
    unknown = [n for n in names if n not in COMPARISONS]
    if unknown:
        shown = ", ".join(c.replace("_", "-") for c in COMPARISONS)
        raise _BadRequest(f"--compare {', '.join(unknown)} is not known; use any of {shown}")
    return tuple(names)


def _parse_targets(value: str | None, metrics_asked: tuple[str, ...]) -> dict[str, float]:
    targets: dict[str, float] = {}
    for part in _split(value):
        metric, sep, number = part.partition("=")
        if not sep:
            if len(metrics_asked) != 1:
                raise _BadRequest(
                    "with several metrics give --target per metric, e.g. --target nps=40,csat=80"
                )
            metric, number = metrics_asked[0], part
        try:
            targets[metric.strip()] = float(number)
        except ValueError:
            raise _BadRequest(f"--target {part!r}: {number!r} is not a number") from None
    return targets


def _number(value: Any, digits: int = 1) -> str:
    return "-" if value is None or value != value else f"{value:.{digits}f}"


def _shown(value: Any) -> str:
    """A breakdown's value as text: a missing one is "(none)", never "nan" or "None"."""
    return "(none)" if value is None or (isinstance(value, float) and value != value) else str(value)


def _within_data(records: list[dict[Any, Any]], group: list[str]) -> list[dict[Any, Any]]:
    """The records without the periods before a row's first data and after its last (a unit's months
    outside its data are not listed); empty periods in between stay, marked "no data"."""
    firsts: dict[tuple, Any] = {}
    lasts: dict[tuple, Any] = {}
    for record in records:
        if record.get("no_data") or record.get("period") is None:
            continue
        key = tuple(_shown(record[g]) for g in group)
        period = record["period"]
        firsts[key] = min(firsts.get(key, period), period)
        lasts[key] = max(lasts.get(key, period), period)
    kept = []
    for record in records:
        key = tuple(_shown(record[g]) for g in group)
        period = record.get("period")
        if record.get("no_data") and period is not None:
            if key not in firsts or not firsts[key] <= period <= lasts[key]:
                continue
        kept.append(record)
    return kept


def _table(result: MetricsResult) -> Table:
    cells = result.cells
    table = Table(show_lines=False, header_style="bold")
    breakdowns = [b for b in _BREAKDOWNS if b in cells.columns]
    for name in ("unit", "period", *breakdowns, "metric", "n", "estimate", "interval"):
        table.add_column(name, justify="right" if name in ("n", "estimate", "interval") else "left")
    for name in result.compare:
        table.add_column(f"vs {name.replace('_', ' ')}", justify="right")
        if name in ("siblings", "peers"):
            table.add_column("rank (range)", justify="right")
    for record in _within_data(cells.to_dict(orient="records"), ["unit", *breakdowns, "metric"]):
        if record.get("no_data"):
            values = ["[dim]no data[/]", "", ""]
        elif record["suppressed"]:
            values = ["suppressed", "", ""]
        else:
            values = [
                f"{record['n']:,}",
                _number(record["estimate"]),
                f"{_number(record['ci_low'])}..{_number(record['ci_high'])}",
            ]
        line = [escape(str(record["unit"])), str(record["period"])]
        line += [escape(_shown(record[b])) for b in breakdowns] + [record["metric"], *values]
        for name in result.compare:
            difference = record[f"{name}_difference"]
            if difference is None or difference != difference:
                note = record[f"{name}_note"]
                line.append(f"[dim]{escape(str(note))}[/]" if note else "")
            else:
                mark = " [bold]*[/]" if record[f"{name}_significant"] is True else ""
                line.append(f"{difference:+.1f}{mark}")
            if name in ("siblings", "peers"):
                rank = record[f"{name}_rank"]
                ok = not pd.isna(rank)
                low, high = record[f"{name}_rank_low"], record[f"{name}_rank_high"]
                line.append(f"{rank}/{record[f'{name}_league_size']} ({low}-{high})" if ok else "")
        table.add_row(*line)
    return table


def _csv(result: MetricsResult) -> str:
    return pd.DataFrame(result.to_records()).to_csv(index=False)


HELP = (
    "NPS, CSAT and CES per unit and period with confidence intervals, comparisons and anonymity.\n\n"
    "Cells with fewer than CXLOOP_MIN_N responses are suppressed, and so is any cell that would let one be "
    "worked out by subtraction. Comparisons say whether a difference is significant at CXLOOP_CONFIDENCE, "
    "with a Benjamini-Hochberg correction over every comparison shown (marked *).\n\n"
    "Examples:\n\n"
    "  cxloop metrics --unit north --by quarter --compare previous\n\n"
    "  cxloop metrics --unit b07 --compare siblings --metric nps --json\n\n"
    "  cxloop metrics --include children --by month,touchpoint --from 2025-01-01 --csv"
)


@EXIT_CODES
def metrics_command(
    unit: Annotated[
        str | None, typer.Option("--unit", "-u", help="Unit to report on (default: the top of your scope).")
    ] = None,
    by: Annotated[
        str,
        typer.Option(
            help=f"Period length ({', '.join(GRAINS)}, or total), optionally with breakdowns: "
            "touchpoint, channel, segment. Example: --by month,touchpoint."
        ),
    ] = "month",
    metric: Annotated[
        str, typer.Option("--metric", "-m", help="Metrics, comma-separated: nps,csat,ces.")
    ] = ",".join(METRICS),
    compare: Annotated[
        str | None,
        typer.Option(
            help="Comparisons, comma-separated: previous, last-year, parent, company, siblings (a league "
            "table), peers (median, top quartile and rank among the units at the same level, no names), "
            "target (the stored targets, `cxloop targets set`, or a what-if --target)."
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            help="A what-if target for --compare target: 40 (one metric) or nps=40,csat=80. "
            "Without it, each cell is compared with its stored target (cxloop targets set)."
        ),
    ] = None,
    include: Annotated[
        str, typer.Option(help="unit (just the unit), children (and its direct children) or subtree.")
    ] = "unit",
    start: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD), widened to its period.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last day (YYYY-MM-DD), widened to its period.")
    ] = None,
    touchpoint: Annotated[list[str] | None, typer.Option(help="Only these touchpoints (repeatable).")] = None,
    channel: Annotated[list[str] | None, typer.Option(help="Only these channels (repeatable).")] = None,
    segment: Annotated[
        list[str] | None, typer.Option(help="Only these customer segments (repeatable).")
    ] = None,
    as_user: AsUser = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON: settings, notes and one object per cell.")
    ] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV, one row per cell.")] = False,
) -> None:
    """NPS, CSAT and CES per unit and period, with intervals, comparisons and anonymity."""
    if as_json and as_csv:
        raise fail("choose one of --json and --csv", EXIT_BAD_REQUEST)
    grain, breakdowns = _parse_by(by)
    metrics_asked = tuple(_split(metric))
    query = MetricsQuery(
        unit=unit,
        include=include,  # type: ignore[arg-type]
        grain=grain,  # type: ignore[arg-type]
        by=breakdowns,
        start=date.fromisoformat(start) if start else None,
        end=date.fromisoformat(end) if end else None,
        touchpoints=frozenset(touchpoint) if touchpoint else None,
        channels=frozenset(channel) if channel else None,
        segments=frozenset(segment) if segment else None,
        metrics=metrics_asked,
        compare=_parse_compare(compare),  # type: ignore[arg-type]
        targets=_parse_targets(target, metrics_asked),
    )
    with CommandContext(as_user=as_user) as cmd:
        result = metrics(cmd.viewer, query, stores=cmd.stores)

    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
    elif as_csv:
        sys.stdout.write(_csv(result))
    else:
        console = Console(soft_wrap=True)
        console.print(_table(result))
        for note in result.notes:
            console.print(f"[dim]{escape(note)}[/]", highlight=False)
        if result.compare:
            console.print("[dim]* significant after the correction[/]", highlight=False)
