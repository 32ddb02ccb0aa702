"""``cxloop text``: tag comments with the codebook, edit the codebook, see what each theme weighs.

A thin layer over :mod:`cxloop.services.understand.themes`. The command line acts as an admin at the top of
the hierarchy (or at ``--unit``). Exit codes: 0 done; 1 the request cannot be answered (no codebook, unknown
unit, bad option), with one line saying what to do.
"""

# No ``from __future__ import annotations``: Typer reads the Annotated options at run time.
import json
import math
from datetime import date
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import OperationalError

from cxloop.cli._context import CommandContext, ExitCodes, Failure, Json
from cxloop.services.access.scope import NoHierarchyError, ScopeError, UnknownUnitError
from cxloop.services.understand.themes import (
    NoCodebookError,
    seed_demo_codebook,
    suggest_new_themes,
    tag_comments,
    theme_behaviour,
    theme_breakdown,
    theme_impact,
)
from cxloop.services.value.money import NoTransactionsError
from cxloop.store import themes as theme_store

__all__ = ["text_app"]

text_app = typer.Typer(
    help=(
        "Verbatims: themes and sentiment in customer comments.\n\n"
        "`cxloop text themes seed-demo` loads the demo codebook (or `themes add` your own); "
        "`cxloop text tag` tags new comments (VADER sentiment + keyword themes) into the warehouse; "
        "`cxloop text impact` shows each theme's volume, sentiment, effect on NPS, trend and emerging "
        "themes; `cxloop text suggest` proposes new themes from comments no theme matched."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)
themes_app = typer.Typer(help="List and edit the codebook.", no_args_is_help=True)
text_app.add_typer(themes_app, name="themes")

UnitOption = Annotated[str | None, typer.Option("--unit", help="A unit's subtree (default: everything).")]


EXIT_CODES = ExitCodes(
    Failure(
        (
            NoCodebookError,
            NoTransactionsError,
            NoHierarchyError,
            ScopeError,
            UnknownUnitError,
            KeyError,
            ValueError,
        ),
        message=lambda exc: str(exc).strip("'\""),
    ),
    Failure(
        OperationalError,
        message=lambda exc: f"the app database is not ready ({exc.orig}); run `cxloop db upgrade`",
    ),
)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _fmt(value: Any, spec: str = ".3f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return format(value, spec)


@text_app.command("tag")
@EXIT_CODES
def tag_command(
    retag: Annotated[bool, typer.Option("--retag", help="Tag every comment again.")] = False,
    jobs: Annotated[int, typer.Option("--jobs", min=1, help="Processes for sentiment scoring.")] = 1,
    as_json: Json = False,
) -> None:
    """Tag the comments not yet tagged with the current codebook (sentiment + themes)."""
    with CommandContext(create_tables=True) as cmd:
        viewer = cmd.viewer
        run = tag_comments(viewer, stores=cmd.stores, retag=retag, n_jobs=jobs)
    if as_json:
        typer.echo(
            json.dumps({"tagged": run.tagged, "tags": run.tags, "codebook_version": run.codebook_version})
        )
        return
    typer.echo(run.summary())


@themes_app.command("list")
@EXIT_CODES
def themes_list(
    inactive: Annotated[bool, typer.Option("--all", help="Include retired themes.")] = False,
    as_json: Json = False,
) -> None:
    """The codebook: every theme with its parent and keywords."""
    with CommandContext() as cmd:
        themes = theme_store.list_themes(cmd.session, include_inactive=inactive)
        records = [theme_store.theme_record(t) for t in themes]
    if as_json:
        typer.echo(json.dumps(records))
        return
    table = Table(title=f"Codebook ({len(records)} themes)")
    for column in ("theme", "parent", "active", "keywords"):
        table.add_column(column)
    for r in records:
        table.add_row(
            r["name"], r["parent"] or "", "yes" if r["active"] else "no", escape(", ".join(r["keywords"]))
        )
    Console(soft_wrap=True).print(table)


@themes_app.command("add")
@EXIT_CODES
def themes_add(
    name: Annotated[str, typer.Argument(help="snake_case name, e.g. long_wait")],
    keywords: Annotated[str, typer.Option("--keywords", help="Comma-separated keywords or phrases.")] = "",
    description: Annotated[str, typer.Option("--description")] = "",
    parent: Annotated[str | None, typer.Option("--parent", help="Parent theme.")] = None,
) -> None:
    """Add a theme to the codebook."""
    with CommandContext() as cmd:
        theme_store.create_theme(cmd.session, name, keywords, description=description, parent=parent)
    typer.echo(f"added theme {name}; run `cxloop text tag` to tag comments with it")


@themes_app.command("update")
@EXIT_CODES
def themes_update(
    name: Annotated[str, typer.Argument()],
    keywords: Annotated[str | None, typer.Option("--keywords", help="Replace the keywords.")] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
) -> None:
    """Change a theme's keywords or description."""
    with CommandContext() as cmd:
        theme_store.update_theme(cmd.session, name, keywords=keywords, description=description)
    typer.echo(f"updated theme {name}; run `cxloop text tag` to re-tag comments")


@themes_app.command("retire")
@EXIT_CODES
def themes_retire(name: Annotated[str, typer.Argument()]) -> None:
    """Stop tagging with a theme (it and its past tags are kept)."""
    with CommandContext() as cmd:
        theme_store.update_theme(cmd.session, name, active=False)
    typer.echo(f"retired theme {name}")


@themes_app.command("seed-demo")
@EXIT_CODES
def themes_seed_demo() -> None:
    """Load the demo bank's default codebook (themes that already exist are left alone)."""
    with CommandContext() as cmd:
        added = seed_demo_codebook(cmd.session)
    typer.echo(f"added {added} themes")


@text_app.command("impact")
@EXIT_CODES
def impact_command(
    unit: UnitOption = None,
    touchpoint: Annotated[str | None, typer.Option("--touchpoint")] = None,
    segment: Annotated[str | None, typer.Option("--segment")] = None,
    outcome: Annotated[str, typer.Option("--outcome", help="nps, csat or ces.")] = "nps",
    by: Annotated[
        str | None, typer.Option("--by", help="Also break volumes down by unit, touchpoint or segment.")
    ] = None,
    start: Annotated[str | None, typer.Option("--from", help="First day (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Day after the last (YYYY-MM-DD).")] = None,
    as_json: Json = False,
) -> None:
    """Each theme's volume, sentiment and effect on NPS (HC3 interval), and the emerging themes."""
    with CommandContext(create_tables=True) as cmd:
        viewer = cmd.viewer
        first = date.fromisoformat(start) if start else None
        last = date.fromisoformat(end) if end else None
        result = theme_impact(
            viewer,
            stores=cmd.stores,
            unit=unit,
            touchpoint=touchpoint,
            segment=segment,
            outcome=outcome,  # type: ignore[arg-type]
            start=first,
            end=last,
        )
        breakdown = (
            theme_breakdown(viewer, stores=cmd.stores, by=by, unit=unit, start=first, end=last)  # type: ignore[arg-type]
            if by
            else None
        )
    if as_json:
        payload: dict[str, Any] = {
            "comments": result.comments,
            "outcome": result.outcome,
            "adjusted_for": list(result.adjusted_for),
            "codebook_version": result.codebook_version,
            "min_n": result.min_n,
            "themes": _records(result.frame),
            "emerging": _records(result.emerging),
        }
        if breakdown is not None:
            payload["breakdown"] = {"by": by, "cells": _records(breakdown.frame)}
        typer.echo(json.dumps(payload))
        return
    console = Console(soft_wrap=True)
    adjusted = f", adjusted for {len(result.adjusted_for)} rated items" if result.adjusted_for else ""
    table = Table(title=f"Themes in {result.comments} comments — effect on {outcome.upper()}{adjusted}")
    for column in ("theme", "volume", "share", "sentiment", "effect", "interval", "p"):
        table.add_column(column, justify="left" if column == "theme" else "right")
    for row in _records(result.frame):
        name = row["theme"] if row["parent"] is None else f"  {row['theme']}"
        if row["suppressed"]:
            table.add_row(name, f"< {result.min_n}", "", "", "", "", "")
            continue
        interval = (
            f"[{_fmt(row['ci_low'], '+.2f')}, {_fmt(row['ci_high'], '+.2f')}]"
            if row["effect"] is not None
            else "—"
        )
        table.add_row(
            name,
            f"{int(row['volume'])}",
            _fmt(row["share"], ".1%"),
            _fmt(row["sentiment"], "+.2f"),
            _fmt(row["effect"], "+.2f"),
            interval,
            _fmt(row["p_value"], ".3g"),
        )
    console.print(table)
    rising = [r for r in _records(result.emerging) if r["emerging"]]
    if rising:
        names = ", ".join(
            f"{r['theme']} ({r['share_previous']:.1%} -> {r['share_last']:.1%})" for r in rising
        )
        console.print(f"Emerging in {rising[0]['month']}: {names}")
    else:
        console.print("No emerging theme (last month vs the one before, Benjamini-Hochberg).")
    if breakdown is not None:
        shares = breakdown.share_table()
        grid = Table(title=f"Share of comments by {by}")
        grid.add_column(by or "")
        for theme in shares.columns:
            grid.add_column(theme, justify="right")
        for group, values in zip(shares.index, shares.to_numpy(), strict=True):
            grid.add_row(str(group), *(_fmt(float(v), ".0%") for v in values))
        console.print(grid)


@text_app.command("drivers")
@EXIT_CODES
def drivers_command(
    unit: UnitOption = None,
    touchpoint: Annotated[str | None, typer.Option("--touchpoint")] = None,
    segment: Annotated[str | None, typer.Option("--segment")] = None,
    share_closed: Annotated[
        float, typer.Option("--share-closed", help="Share of each theme's complaints assumed removed.")
    ] = 0.5,
    with_items: Annotated[
        bool, typer.Option("--with-items", help="Rank the rated items (priorities) and the themes together.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Themes as drivers of NPS: what each complaint theme costs in NPS points (and money a year).

    From the theme regression on 100 x (promoter - detractor), adjusted for the rated items; expected
    points = -effect x mentions / NPS answers x share closed. With --with-items, the priorities' item rows
    and the theme rows ranked together by expected NPS points.
    """
    from cxloop.services.understand.theme_drivers import priorities_with_themes, theme_priorities

    with CommandContext(create_tables=True) as cmd:
        viewer = cmd.viewer
        if with_items:
            _, frame = priorities_with_themes(
                viewer,
                stores=cmd.stores,
                unit_id=unit,
                touchpoint=touchpoint,
                segment=segment,
                share_closed=share_closed,
            )
        else:
            frame = theme_priorities(
                viewer,
                stores=cmd.stores,
                unit_id=unit,
                touchpoint=touchpoint,
                segment=segment,
                share_closed=share_closed,
            ).frame
    if as_json:
        typer.echo(json.dumps({"priorities": _records(frame)}))
        return
    table = Table(title="Where to improve first: themes in comments as drivers of NPS")
    for column in ("rank", "source", "driver", "effect (NPS pts)", "expected NPS pts", "money a year"):
        table.add_column(column, justify="left" if column in ("source", "driver") else "right")
    for row in _records(frame):
        table.add_row(
            str(row["rank"]),
            str(row.get("source") or "theme"),
            escape(str(row["driver"])),
            _fmt(row.get("effect"), "+.1f"),
            _fmt(row.get("expected_nps_points"), "+.2f"),
            _fmt(row.get("expected_margin"), ",.0f"),
        )
    Console(soft_wrap=True).print(table)


@text_app.command("behaviour")
@EXIT_CODES
def behaviour_command(
    unit: UnitOption = None,
    horizon: Annotated[int, typer.Option("--horizon", min=1, help="Days after the response.")] = 180,
    as_json: Json = False,
) -> None:
    """Repurchase and churn after a comment, by theme (rates with and without, effect in points)."""
    with CommandContext(create_tables=True) as cmd:
        viewer = cmd.viewer
        result = theme_behaviour(viewer, stores=cmd.stores, unit=unit, horizon_days=horizon)
    if as_json:
        typer.echo(
            json.dumps(
                {"horizon_days": horizon, "responses": result.responses, "rows": _records(result.frame)}
            )
        )
        return
    table = Table(title=f"Behaviour in the {horizon} days after {result.responses} responses with a comment")
    for column in ("outcome", "theme", "n", "with", "without", "effect (points)", "interval"):
        table.add_column(column, justify="left" if column in ("outcome", "theme") else "right")
    for row in _records(result.frame):
        if row["suppressed"]:
            table.add_row(row["outcome"], row["theme"], f"< {result.min_n}", "", "", "", "")
            continue
        points = {k: None if row[k] is None else row[k] * 100 for k in ("effect", "ci_low", "ci_high")}
        table.add_row(
            row["outcome"],
            row["theme"],
            str(int(row["n"])),
            _fmt(row["rate_with"], ".1%"),
            _fmt(row["rate_without"], ".1%"),
            _fmt(points["effect"], "+.1f"),
            f"[{_fmt(points['ci_low'], '+.1f')}, {_fmt(points['ci_high'], '+.1f')}]",
        )
    Console(soft_wrap=True).print(table)


@text_app.command("suggest")
@EXIT_CODES
def suggest_command(
    n: Annotated[int, typer.Option("--n", min=1, max=50, help="How many candidate themes.")] = 8,
    method: Annotated[
        str, typer.Option("--method", help="nmf (default) or embeddings (the text extra).")
    ] = "nmf",
    as_json: Json = False,
) -> None:
    """Candidate new themes from the comments no theme matched (top terms and redacted examples)."""
    with CommandContext(create_tables=True) as cmd:
        viewer = cmd.viewer

        def call() -> Any:
            try:
                return suggest_new_themes(viewer, stores=cmd.stores, n_themes=n, method=method)
            except ImportError as exc:
                raise ValueError(str(exc)) from exc

        result = call()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "method": result.method,
                    "unmatched": result.unmatched,
                    "suggestions": [
                        {"terms": list(s.terms), "comments": s.comments, "examples": list(s.examples)}
                        for s in result.suggestions
                    ],
                }
            )
        )
        return
    table = Table(title=f"Suggested themes from {result.unmatched} unmatched comments ({result.method})")
    for column in ("terms", "comments", "example"):
        table.add_column(column)
    for s in result.suggestions:
        table.add_row(
            escape(", ".join(s.terms)), str(s.comments), escape(s.examples[0] if s.examples else "")
        )
    Console(soft_wrap=True).print(table)
