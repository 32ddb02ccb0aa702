"""``cxloop pilot ...``: define pilots, measure their impact against a control group, decide.

A thin layer over :mod:`cxloop.services.prove.pilots`. The command line acts for the whole organisation (the
top of the hierarchy) unless ``--unit`` narrows it to a subtree, as a region manager would see it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cxloop.cli._console import print_json
from cxloop.cli._context import AtUnit, CommandContext, ExitCodes, Failure, Json
from cxloop.services.access.scope import NoHierarchyError, ScopeError, UnknownUnitError
from cxloop.services.prove import pilots as svc
from cxloop.services.prove.pilots import PilotDraft, PilotStoreError
from cxloop.services.value.money import NoTransactionsError

__all__ = ["pilot_app"]

pilot_app = typer.Typer(
    help=(
        "Pilots: try an improvement on a few units, prove its impact against a control group, then scale.\n\n"
        "`cxloop pilot create NAME --units b1,b2 --start 2025-10-01 --running-cost 900` defines one; "
        "`cxloop pilot analyze NAME` estimates its effect on NPS and churn (difference-in-differences with "
        "wild cluster bootstrap or randomisation inference), the balance of the control group and the ROI; "
        "`cxloop pilot decide NAME scale|iterate|stop` records the decision."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)

EXIT_CODES = ExitCodes(
    Failure(
        (
            PilotStoreError,
            svc.PilotNotFoundError,
            ScopeError,
            UnknownUnitError,
            NoHierarchyError,
            NoTransactionsError,
            ValueError,
        )
    )
)


def _context(unit: str | None) -> CommandContext:
    """An admin at ``unit`` (or the top); the warehouse with its tables, for the analyses."""
    return CommandContext(unit=unit, create_tables=True)


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


@pilot_app.command("create")
@EXIT_CODES
def create(
    name: Annotated[str, typer.Argument(help="Name of the pilot (unique).")],
    units: Annotated[str, typer.Option("--units", help="Comma-separated unit ids in the pilot.")],
    start: Annotated[str, typer.Option("--start", help="First day of the pilot (YYYY-MM-DD).")],
    end: Annotated[str | None, typer.Option("--end", help="Last day (YYYY-MM-DD), if planned.")] = None,
    hypothesis: Annotated[str, typer.Option("--hypothesis", help="What should move, and why.")] = "",
    one_off_cost: Annotated[float, typer.Option("--one-off-cost", min=0.0, help="Cost at the start.")] = 0.0,
    running_cost: Annotated[float, typer.Option("--running-cost", min=0.0, help="Cost a month.")] = 0.0,
    touchpoints: Annotated[
        str | None, typer.Option("--touchpoints", help="Comma-separated touchpoints.")
    ] = None,
    segments: Annotated[str | None, typer.Option("--segments", help="Comma-separated segments.")] = None,
    metrics: Annotated[str, typer.Option("--metrics", help="Target metrics, comma-separated.")] = "nps,churn",
    actions: Annotated[
        str | None, typer.Option("--actions", help="Linked actions (free text, ';'-separated).")
    ] = None,
    controls: Annotated[str | None, typer.Option("--controls", help="Control units named by you.")] = None,
    unit: AtUnit = None,
    as_json: Json = False,
) -> None:
    """Define a pilot."""
    with _context(unit) as cmd:
        viewer = cmd.viewer
        draft = PilotDraft(
            name=name,
            start_date=date.fromisoformat(start),
            end_date=date.fromisoformat(end) if end else None,
            units=_split(units),
            hypothesis=hypothesis,
            one_off_cost=one_off_cost,
            running_cost=running_cost,
            touchpoints=_split(touchpoints),
            segments=_split(segments),
            target_metrics=_split(metrics),
            linked_actions=tuple(a.strip() for a in (actions or "").split(";") if a.strip()),
            controls=_split(controls),
        )
        payload = svc.pilot_dict(svc.create_pilot(cmd.session, viewer, draft))
    if as_json:
        print_json(payload)
    else:
        typer.echo(f"created pilot {payload['id']} {payload['name']!r} on {', '.join(payload['units'])}")


@pilot_app.command("list")
@EXIT_CODES
def list_(unit: AtUnit = None, as_json: Json = False) -> None:
    """List the pilots touching your scope."""
    with _context(unit) as cmd:
        payload = [svc.pilot_dict(p) for p in svc.list_pilots(cmd.session, cmd.viewer)]
    if as_json:
        print_json(payload)
        return
    table = Table("id", "name", "start", "units", "waves", "decision")
    for p in payload:
        decision = p["decisions"][-1]["decision"] if p["decisions"] else "-"
        table.add_row(
            str(p["id"]), p["name"], p["start_date"], str(len(p["units"])), str(len(p["waves"])), decision
        )
    Console(soft_wrap=True).print(table)


@pilot_app.command("show")
@EXIT_CODES
def show(
    pilot: Annotated[str, typer.Argument(help="Pilot id or name.")],
    unit: AtUnit = None,
    as_json: Json = False,
) -> None:
    """Show a pilot's definition, waves and decisions."""
    with _context(unit) as cmd:
        payload = svc.pilot_dict(svc.get_pilot(cmd.session, cmd.viewer, pilot))
    if as_json:
        print_json(payload)
        return
    for key, value in payload.items():
        typer.echo(f"{key}: {value}")


@pilot_app.command("analyze")
@EXIT_CODES
def analyze(
    pilot: Annotated[str, typer.Argument(help="Pilot id or name.")],
    inference: Annotated[
        str, typer.Option("--inference", help="wild_cluster (default), randomization, cluster (CR1) or ols.")
    ] = "wild_cluster",
    controls: Annotated[str | None, typer.Option("--controls", help="Use these control units.")] = None,
    per_treated: Annotated[int, typer.Option("--per-treated", min=1, help="Matched controls per unit.")] = 2,
    resamples: Annotated[
        int, typer.Option("--resamples", min=99, help="Bootstrap draws/permutations.")
    ] = 999,
    horizon: Annotated[int | None, typer.Option("--horizon", min=1, help="ROI horizon in months.")] = None,
    discount_rate: Annotated[float, typer.Option("--discount-rate", min=0.0, help="Annual rate.")] = 0.1,
    wave: Annotated[int | None, typer.Option("--wave", help="Analyse this rollout wave.")] = None,
    clv_margin: Annotated[
        float | None, typer.Option("--clv-margin", help="Value of a kept customer (default: CLV scores).")
    ] = None,
    unit: AtUnit = None,
    as_json: Json = False,
) -> None:
    """Estimate the pilot's impact against a control group, its pre-trend, balance and ROI."""
    with _context(unit) as cmd:
        viewer = cmd.viewer
        analysis = svc.analyze_pilot(
            cmd.session,
            cmd.warehouse,
            viewer,
            pilot,
            inference=inference,
            controls=list(_split(controls)) or None,
            per_treated=per_treated,
            n_resamples=resamples,
            horizon_months=horizon,
            discount_rate=discount_rate,
            wave=wave,
            clv_margin=clv_margin,
        )
    if as_json:
        print_json(analysis.to_dict())
        return
    typer.echo(analysis.summary())
    typer.echo(f"\nIn plain words: {analysis.plain_words()}")
    typer.echo("\nBalance before the start (standardised mean differences):")
    typer.echo(analysis.balance.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    hidden = f" and {analysis.hidden_controls} outside your scope" if analysis.hidden_controls else ""
    typer.echo(f"\nControls: {', '.join(analysis.controls)}{hidden}")
    typer.echo(f"\nAssumptions: {analysis.assumptions}")


@pilot_app.command("decide")
@EXIT_CODES
def decide(
    pilot: Annotated[str, typer.Argument(help="Pilot id or name.")],
    decision: Annotated[str, typer.Argument(help="scale, iterate or stop.")],
    note: Annotated[str, typer.Option("--note", help="Why.")] = "",
    by: Annotated[str, typer.Option("--by", help="Who decided.")] = "",
    unit: AtUnit = None,
) -> None:
    """Record the decision on a pilot: scale, iterate or stop."""
    with _context(unit) as cmd:
        name = svc.decide(cmd.session, cmd.viewer, pilot, decision, note=note, decided_by=by).name
    typer.echo(f"recorded {decision} for pilot {name!r}")


@pilot_app.command("wave")
@EXIT_CODES
def wave(
    pilot: Annotated[str, typer.Argument(help="Pilot id or name.")],
    name: Annotated[str, typer.Argument(help="Name of the wave.")],
    units: Annotated[str, typer.Option("--units", help="Comma-separated units the wave adds.")],
    start: Annotated[str, typer.Option("--start", help="First day of the wave (YYYY-MM-DD).")],
    one_off_cost: Annotated[float, typer.Option("--one-off-cost", min=0.0, help="Cost at the start.")] = 0.0,
    running_cost: Annotated[float, typer.Option("--running-cost", min=0.0, help="Cost a month.")] = 0.0,
    unit: AtUnit = None,
) -> None:
    """Add a rollout wave taking the pilot's change to further units."""
    with _context(unit) as cmd:
        found = svc.add_wave(
            cmd.session,
            cmd.viewer,
            pilot,
            name=name,
            start_date=date.fromisoformat(start),
            units=list(_split(units)),
            one_off_cost=one_off_cost,
            running_cost=running_cost,
        )
        wave_id = found.waves[-1].id
    typer.echo(f"added wave {wave_id} {name!r} to pilot {found.name!r}")


@pilot_app.command("programme")
@EXIT_CODES
def programme(
    inference: Annotated[str, typer.Option("--inference", help="As for analyze.")] = "wild_cluster",
    unit: AtUnit = None,
    as_json: Json = False,
) -> None:
    """Every pilot and wave in your scope: NPS impact, ROI (waves against the pilot's) and decision."""
    with _context(unit) as cmd:
        viewer = cmd.viewer
        table = svc.programme(cmd.session, cmd.warehouse, viewer, inference=inference)
    if as_json:
        print_json(table.to_dict(orient="records"))
    elif table.empty:
        typer.echo("no pilots in your scope")
    else:
        typer.echo(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
