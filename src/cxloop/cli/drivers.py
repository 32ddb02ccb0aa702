"""``cxloop drivers``: what matters most to customers in a unit; ``--priorities``: where to improve first.

A thin layer over :func:`cxloop.services.understand.drivers.driver_analysis` and
:func:`cxloop.services.understand.priorities.priorities`: it builds the viewer (the whole company, or a
user's scope with ``--as``), calls the service and prints a table with bars, or JSON. Exit codes: 0 done; 1
nothing to report (no data, or the data cannot support the analysis); 2 the request cannot be answered as
asked (unknown unit, outside the scope, bad option).
"""

# No ``from __future__ import annotations``: Typer reads the Annotated options at run time.
import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cxloop.cli._console import fail
from cxloop.cli._context import AsUser, CommandContext, ExitCodes, Failure, Json
from cxloop.services.access.scope import NoHierarchyError, ScopeError, UnknownUnitError, UnknownUserError
from cxloop.services.understand.drivers import (
    BEHAVIOURAL_OUTCOMES,
    CLI_OUTCOMES,
    OUTCOME_LABELS,
    DriverAnalysisError,
    DriverResult,
    NoDriverDataError,
    driver_analysis,
)
from cxloop.services.understand.priorities import PriorityResult, priorities, priorities_across

__all__ = ["drivers_command"]

EXIT_NO_DATA = 1
EXIT_BAD_REQUEST = 2
_BAR_WIDTH = 24


# Data too thin for the analysis is "nothing to report", though DriverAnalysisError is a ValueError.
EXIT_CODES = ExitCodes(
    Failure(DriverAnalysisError, EXIT_NO_DATA),
    Failure((ScopeError, UnknownUnitError, UnknownUserError, ValueError), EXIT_BAD_REQUEST),
    Failure((NoDriverDataError, NoHierarchyError), EXIT_NO_DATA),
)


def _bar(share: float, low: float | None = None, high: float | None = None) -> str:
    filled = max(0, min(_BAR_WIDTH, round(share * _BAR_WIDTH)))
    bar = "█" * filled + "·" * (_BAR_WIDTH - filled)
    if low is not None and high is not None and low == low and high == high:
        chars = list(bar)
        for edge in (low, high):
            position = max(0, min(_BAR_WIDTH - 1, round(edge * _BAR_WIDTH)))
            if chars[position] == "·":
                chars[position] = "┊"
        bar = "".join(chars)
    return bar


def _drivers_table(result: DriverResult) -> Table:
    scope = result.unit_id + "".join(
        f" · {k} {v}" for k, v in (("segment", result.segment), ("touchpoint", result.touchpoint)) if v
    )
    r2 = "R_O²" if result.outcome_type == "binary" else "R²"
    behavioural = result.outcome in BEHAVIOURAL_OUTCOMES
    dropped = "missing answers" + (" or outcome not yet observed" if behavioural else "")
    method = (
        "logistic relative weights" if result.outcome_type == "binary" else result.method.replace("_", " ")
    )
    title = (
        f"Key drivers of {OUTCOME_LABELS.get(result.outcome, result.outcome)} — {scope}\n"
        f"n = {result.n:,} ({result.n_dropped:,} dropped: {dropped}) · {r2} = {result.r2:.3f} · "
        f"{method}"
    )
    table = Table(title=title, header_style="bold", title_justify="left")
    with_ci = "relative_low" in result.drivers.columns
    table.add_column("rank", justify="right")
    table.add_column("driver", justify="left")
    table.add_column("share", justify="right")
    table.add_column("", justify="left")
    if with_ci:
        table.add_column(f"{result.confidence:.0%} interval", justify="right")
        table.add_column("beats noise", justify="center")
    table.add_column("p", justify="right")
    for row in result.drivers.to_dict(orient="records"):
        low, high = (row.get("relative_low"), row.get("relative_high")) if with_ci else (None, None)
        line = [
            str(row["rank"]),
            escape(str(row["label"])),
            f"{row['relative_importance']:.1%}",
            _bar(float(row["relative_importance"]), low, high),
        ]
        if with_ci:
            line.append(f"{low:.0%}–{high:.0%}")
            beats = row.get("beats_random")
            line.append("" if beats is None else ("yes" if beats else "[dim]no[/]"))
        p = row.get("p_value")
        line.append("-" if p is None or p != p else ("<0.001" if p < 0.001 else f"{p:.3f}"))
        table.add_row(*line)
    return table


def _priorities_table(result: PriorityResult) -> Table:
    what = OUTCOME_LABELS.get(result.outcome, result.outcome)
    title = (
        f"Where to improve first — {result.unit_id} ({what}), n = {result.n:,}, gaps vs {result.benchmark}"
    )
    table = Table(title=title, header_style="bold", title_justify="left", show_lines=True)
    table.add_column("#", justify="right")
    extra = [c for c in ("segment", "touchpoint") if c in result.priorities.columns]
    for column in extra:
        table.add_column(column)
    table.add_column("driver")
    table.add_column("share", justify="right")
    table.add_column("you / benchmark", justify="right")
    gain_name = "NPS pts" if result.outcome == "nps" else "gain"
    table.add_column(gain_name, justify="right")
    table.add_column(f"{result.currency}/year", justify="right")
    for row in result.priorities.to_dict(orient="records"):
        bench = row["benchmark"]
        gain = row["expected_nps_points"] if result.outcome == "nps" else row["expected_gain"]
        money = row["expected_margin"]
        table.add_row(
            str(row["rank"]),
            *(escape(str(row[c])) for c in extra),
            escape(str(row["label"])),
            f"{row['relative_importance']:.0%}",
            f"{row['mean']:.1f} / {'-' if bench != bench else f'{bench:.1f}'}",
            f"{gain:+.2f}",
            "-" if money != money else f"{money:,.0f}",
        )
    return table


def _print_reasons(console: Console, result: PriorityResult) -> None:
    """Each priority's reason in full width under the table (a table column squeezes it to a few words)."""
    console.print("[bold]Why each ranks where it does[/]")
    for row in result.priorities.to_dict(orient="records"):
        console.print(f"{row['rank']:>3}. {escape(str(row['details']))}", highlight=False, soft_wrap=True)


@EXIT_CODES
def drivers_command(
    unit: Annotated[
        str | None, typer.Option("--unit", "-u", help="Unit (its whole subtree); default: yours.")
    ] = None,
    outcome: Annotated[
        str, typer.Option("--outcome", "-o", help=f"What to explain: {' | '.join(CLI_OUTCOMES)}.")
    ] = "nps",
    segment: Annotated[str | None, typer.Option(help="Only this customer segment.")] = None,
    touchpoint: Annotated[str | None, typer.Option(help="Only this touchpoint.")] = None,
    method: Annotated[
        str,
        typer.Option(
            help="shapley | relative_weights (continuous outcomes; binary ones use logistic weights)."
        ),
    ] = "shapley",
    bootstrap: Annotated[
        int,
        typer.Option(min=0, help="Bootstrap resamples for intervals and the test against noise (0: none)."),
    ] = 0,
    show_priorities: Annotated[
        bool,
        typer.Option(
            "--priorities",
            help=(
                "Rank where to improve first instead: importance x gap to the best peer you can see (or "
                "--target) x the margin of the customers affected, with expected gains and the reason."
            ),
        ),
    ] = False,
    target: Annotated[
        float | None, typer.Option(help="With --priorities: measure gaps against this answer, not peers.")
    ] = None,
    across: Annotated[
        str | None,
        typer.Option(
            help=(
                "With --priorities: rank every segment's (or touchpoint's) items together, weighted by the "
                "margin of its customers: segment | touchpoint."
            )
        ),
    ] = None,
    currency: Annotated[str, typer.Option(help="Currency label for money.")] = "EUR",
    as_json: Json = False,
    as_user: AsUser = None,
) -> None:
    """Key drivers: which experiences explain an outcome in a unit, segment or touchpoint.

    Stated outcomes (nps, csat) are analysed from correlations computed in the warehouse (Shapley/LMG by
    default); behavioural ones (repurchase_90d: bought again within 90 days; churn_180d: left within 180
    days) by logistic relative weights on the complete responses (a random sample of 200,000 when there
    are more). Responses missing any item or the outcome are left out (listwise) and counted.

    With --priorities: the items ranked by where improving pays most, each with the reason in plain words;
    add --across segment to rank all segments' items together by the value of their customers.

    Examples: cxloop drivers --unit reg-north --outcome churn_180d --json;
    cxloop drivers --unit br-007 --priorities
    """
    console = Console(soft_wrap=True)
    if outcome not in CLI_OUTCOMES:
        raise fail(
            f"--outcome {outcome!r} is not known; use one of {', '.join(CLI_OUTCOMES)}", EXIT_BAD_REQUEST
        )
    if method not in ("shapley", "relative_weights"):
        raise fail(f"--method {method!r} is not known; use shapley or relative_weights", EXIT_BAD_REQUEST)
    if across is not None and (across not in ("segment", "touchpoint") or not show_priorities):
        raise fail("--across takes segment or touchpoint, with --priorities", EXIT_BAD_REQUEST)
    if show_priorities and segment and touchpoint:
        raise fail("--priorities ranks one segment or one touchpoint at a time, not both", EXIT_BAD_REQUEST)
    with CommandContext(as_user=as_user) as cmd:
        viewer, stores = cmd.viewer, cmd.stores
        result: DriverResult | PriorityResult
        if show_priorities and across is not None:
            result = priorities_across(
                viewer,
                stores=stores,
                by=across,
                unit_id=unit,
                outcome=outcome,
                target=target,
                currency=currency,
            )
        elif show_priorities:
            result = priorities(
                viewer,
                stores=stores,
                unit_id=unit,
                outcome=outcome,
                segment=segment,
                touchpoint=touchpoint,
                target=target,
                currency=currency,
            )
        else:
            result = driver_analysis(
                viewer,
                stores=stores,
                unit_id=unit,
                outcome=outcome,
                segment=segment,
                touchpoint=touchpoint,
                method=method,
                bootstrap=bootstrap,
            )
    if as_json:
        sys.stdout.write(json.dumps(result.to_dict(), indent=2, default=str) + "\n")
        return
    if result.suppressed:
        console.print(f"[yellow]suppressed:[/] fewer than {result.min_n} complete responses in this scope.")
        return
    if isinstance(result, PriorityResult):
        console.print(_priorities_table(result))
        _print_reasons(console, result)
    else:
        console.print(_drivers_table(result))
    for note in result.notes:
        console.print(f"[dim]{escape(note)}[/]")
