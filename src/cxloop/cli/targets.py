"""``cxloop targets ...``: targets per unit, metric and period.

A thin layer over :mod:`cxloop.services.act.targets`. The command line acts as an admin at the top of the
hierarchy unless ``--as EMAIL`` makes it act as that user (their scope and role, so a branch manager
cannot overwrite a target set top-down by their region). Exit codes: 0 done; 1 not found; 2 the request
cannot be done as asked (bad value, outside the scope, not allowed).
"""

# No ``from __future__ import annotations``: Typer reads the Annotated options at run time.
import json
from datetime import date
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from cxloop.cli._context import AsUser, CommandContext, Json
from cxloop.cli._plans import EXIT_CODES, AsOf, now_from, parse_day
from cxloop.services.act import targets as svc

__all__ = ["targets_app"]

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


def _fmt(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


@targets_app.command("set")
@EXIT_CODES
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
    as_user: AsUser = None,
    as_json: Json = False,
) -> None:
    """Set (or change) the target of a unit, metric and period.

    A negative value (an NPS target below zero) needs options first and ``--`` before the arguments:
    ``cxloop targets set --period year -- br-0001 nps -10``.
    """
    day = parse_day(start, "--start") or date.today()
    with CommandContext(as_user=as_user) as cmd:
        draft = svc.TargetDraft(unit, metric, period, day, value, rationale)
        record = svc.target_seen_by(cmd.session, cmd.viewer, svc.set_target(cmd.session, cmd.viewer, draft))
    if as_json:
        typer.echo(json.dumps(record, indent=2))
        return
    Console(soft_wrap=True).print(
        f"target #{record['id']}: {escape(record['unit_id'])} {escape(record['metric'])} "
        f"{record['period']} = {record['target_value']:g} ({record['origin'].replace('_', '-')})",
        highlight=False,
    )


@targets_app.command("list")
@EXIT_CODES
def list_command(
    unit: Annotated[str | None, typer.Option(help="Only this unit's subtree.")] = None,
    metric: Annotated[str | None, typer.Option(help="Only this metric.")] = None,
    period: Annotated[str | None, typer.Option(help="Only this period length.")] = None,
    as_user: AsUser = None,
    as_json: Json = False,
) -> None:
    """The targets in your scope, newest period first."""
    with CommandContext(as_user=as_user) as cmd:
        targets = svc.list_targets(cmd.session, cmd.viewer, unit_id=unit, metric=metric, granularity=period)
        records = [svc.target_seen_by(cmd.session, cmd.viewer, t) for t in targets]
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
@EXIT_CODES
def progress_command(
    target_ids: Annotated[
        list[int] | None, typer.Argument(help="Target ids (default: every target in scope).")
    ] = None,
    unit: Annotated[str | None, typer.Option(help="Only targets of this unit's subtree.")] = None,
    as_of: AsOf = None,
    as_user: AsUser = None,
    as_json: Json = False,
) -> None:
    """Progress against targets: value so far with its interval, gap, test, and a verdict in words."""
    now = now_from(as_of)
    results = []
    with CommandContext(as_user=as_user) as cmd:
        session, viewer = cmd.session, cmd.viewer
        if target_ids:
            targets = [svc.get_target(session, viewer, i) for i in target_ids]
        else:
            targets = svc.list_targets(session, viewer, unit_id=unit)
        with Progress(transient=True, disable=as_json) as bar:
            task = bar.add_task("measuring", total=len(targets))
            for target in targets:
                results.append(svc.target_progress(viewer, target, stores=cmd.stores, now=now))
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
