"""``cxloop demo ...``: the demo company (Northwind Bank) with its known ground truth.

``generate`` writes the canonical Parquet files and ``ground_truth.json`` to ``<CXLOOP_DATA_DIR>/demo`` and
loads them through the import pipeline; ``overview`` reads the stores back. A thin layer over
:mod:`cxloop.demo`.
"""

from __future__ import annotations

import json
import time
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from cxloop.cli._console import fail
from cxloop.cli._context import ExitCodes, Failure, command_settings
from cxloop.demo import DEFAULT_SEED, generate
from cxloop.demo.load import DemoLoadError, demo_dir, load, loaded_demo, store_state
from cxloop.demo.overview import DemoOverview, demo_overview
from cxloop.demo.users import DEMO_PASSWORD, DemoLogin, demo_logins
from cxloop.services.listen.imports import ImportFileError, ImportProgress

__all__ = ["demo_app"]

demo_app = typer.Typer(
    help=(
        "The demo company: Northwind Bank, a retail bank generated from a causal model whose truth "
        "(driver weights, unit effects, the pilot's effect, the churn model) is written next to the data."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)

_BARS = "▁▂▃▄▅▆▇█"


@demo_app.command("generate")
@ExitCodes(Failure((DemoLoadError, ImportFileError)))
def generate_command(
    scale: Annotated[
        float,
        typer.Option(
            min=0.001,
            help="Size: 1 = about 100,000 responses from 20,000 customers at ~50 branches; 100 = 10 million.",
        ),
    ] = 1.0,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same seed and scale give the same data.")
    ] = DEFAULT_SEED,
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Delete the embedded stores first, even if they hold other data."),
    ] = False,
    no_import: Annotated[
        bool, typer.Option("--no-import", help="Only write the files and the ground truth; load nothing.")
    ] = False,
) -> None:
    """Generate the demo company and load it into the stores (through the import pipeline).

    Files go to <CXLOOP_DATA_DIR>/demo: units, customers, subscriptions, responses, transactions and contacts
    as Parquet, ground_truth.json and response_themes.parquet. Run it again and it does nothing when the same
    demo is already loaded; an earlier demo (another seed or scale) is replaced.
    """
    settings = command_settings()
    console = Console(soft_wrap=True)
    folder = demo_dir(settings)
    if not no_import:
        try:
            state = store_state(settings)
        except Exception as exc:  # noqa: BLE001 - an unreachable or broken database, said in one line
            raise fail(f"cannot read the app database: {exc}") from exc
        if state.foreign_sources and not replace:
            shown = ", ".join(state.foreign_sources[:3])
            raise fail(
                f"the stores already hold data imported from other files ({shown}). Use --replace to delete "
                "the embedded stores first, or set CXLOOP_DATA_DIR to another folder."
            )
        current = None if replace else loaded_demo(settings)
        if current is not None and current.get("seed") == seed and current.get("scale") == scale:
            console.print(
                f"The demo (seed {seed}, scale {scale:g}) is already loaded in {settings.data_dir}; "
                "use --replace to build it again. `cxloop demo overview` shows it.",
                highlight=False,
            )
            return

    began = time.perf_counter()
    with console.status(f"generating Northwind Bank (scale {scale:g}, seed {seed})..."):
        dataset = generate(folder, scale=scale, seed=seed)
    counts = dataset.counts
    console.print(
        f"generated {counts['responses']:,} responses, {counts['customers']:,} customers, "
        f"{counts['transactions']:,} transactions and {counts['contacts']:,} contacts "
        f"in {dataset.seconds:.1f} s -> {folder}",
        highlight=False,
    )
    if no_import:
        console.print(f"ground truth: {dataset.ground_truth}", highlight=False)
        return

    progress = Progress(
        TextColumn("importing {task.fields[kind]:<13}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
    )
    tasks: dict[str, TaskID] = {}

    def on_progress(kind: str, event: ImportProgress | None) -> None:
        if event is None:
            tasks[kind] = progress.add_task(kind, total=None, kind=kind, rows=0)
            return
        progress.update(tasks[kind], completed=event.done, total=event.total, rows=event.rows)

    with progress:
        summaries = load(dataset, settings, replace=replace, progress=on_progress)

    table = Table(title="loaded through the import pipeline", title_justify="left")
    for column in ("file", "accepted", "rejected", "seconds"):
        table.add_column(column, justify="left" if column == "file" else "right")
    for kind, summary in summaries.items():
        table.add_row(kind, f"{summary.accepted:,}", f"{summary.rejected:,}", f"{summary.seconds:.1f}")
    console.print(table)
    console.print(
        f"done in {time.perf_counter() - began:.1f} s. Next: `cxloop demo overview`.",
        highlight=False,
    )


def _sparkline(values: np.ndarray) -> str:
    if len(values) == 0 or values.max() == 0:
        return ""
    top = values.max()
    return "".join(_BARS[min(len(_BARS) - 1, int(v / top * (len(_BARS) - 1) + 0.5))] for v in values)


def _plural(word: str, n: int) -> str:
    if n == 1:
        return word
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    return word + ("es" if word.endswith(("s", "x", "ch", "sh")) else "s")


def _render(console: Console, overview: DemoOverview) -> None:
    totals = overview.totals
    levels = " · ".join(f"{n:,} {_plural(level, n)}" for level, n in overview.units_per_level.items())
    console.rule(f"[bold]{escape(overview.company or 'cxloop data')}[/]")
    console.print(f"org: {levels}", highlight=False)
    console.print(
        f"customers {totals['customers']:,} ({totals['churned']:,} churned) · "
        f"responses {totals['responses']:,} ({totals['comments']:,} with a comment) · "
        f"transactions {totals['transactions']:,} (margin {totals['margin']:,.0f}) · "
        f"contacts {totals['contacts']:,} (cost {totals['contact_cost']:,.0f})",
        highlight=False,
    )
    if totals["responses"]:
        first, last = overview.response_period
        console.print(f"responses from {first} to {last}", highlight=False)
        nps, csat, ces = overview.nps, overview.csat, overview.ces
        console.print(
            f"[bold]NPS {float(nps.score):+.1f}[/] [{float(nps.ci_low):+.1f}, {float(nps.ci_high):+.1f}] · "
            f"[bold]CSAT {float(csat.top_box.share):.1%}[/] satisfied (4-5) · "
            f"[bold]CES {float(ces.mean.mean):.2f}[/] of 7 (higher = easier)",
            highlight=False,
        )

    by_month = overview.responses_by_month
    if not by_month.empty:
        months = list(by_month.columns)
        table = Table(
            title=f"responses per touchpoint and month ({months[0]:%b %Y} .. {months[-1]:%b %Y})",
            title_justify="left",
        )
        table.add_column("touchpoint")
        table.add_column("total", justify="right")
        table.add_column("per month", justify="right")
        table.add_column("by month")
        for touchpoint, row in by_month.iterrows():
            values = row.to_numpy()
            table.add_row(
                str(touchpoint),
                f"{values.sum():,}",
                f"{values.min():,}-{values.max():,}",
                _sparkline(values),
            )
        console.print(table)

    pilot = overview.pilot
    if pilot is not None:
        true = "" if pilot.true_effect is None else f" · true effect {pilot.true_effect:+.1f}"
        churn = (
            "" if pilot.true_churn_relative is None else f", monthly churn {pilot.true_churn_relative:+.1%}"
        )
        console.print(
            f"[bold]pilot[/] {escape(pilot.name)}: {pilot.branches} branches of {escape(pilot.region_name)} "
            f"from {pilot.start:%d %b %Y}, lifting {pilot.item}\n"
            f"  observed difference-in-differences {pilot.observed_did:+.1f} NPS points "
            f"(SE {pilot.observed_se:.1f}){true}{churn}",
            highlight=False,
        )
    if overview.top_drivers:
        drivers = ", ".join(f"{segment}: {item}" for segment, item in overview.top_drivers.items())
        console.print(f"[bold]true top drivers[/] {drivers}", highlight=False)

    console.print()
    console.print(f"files: {overview.demo_dir} (Parquet, one per kind)", highlight=False)
    if overview.truth_path is not None:
        console.print(f"ground truth: {overview.truth_path}", highlight=False)
    console.print("explore next:", highlight=False)
    for command in _NEXT_STEPS:
        console.print(f"  {command}", highlight=False)
    console.print("  cxloop --help   (all commands; `cxloop import` loads your own files)", highlight=False)


# What a new user should try after the demo: each command answers one of the manager's questions.
_NEXT_STEPS = (
    "cxloop metrics --include children --by quarter --compare previous   (how are we doing, what changed?)",
    "cxloop metrics --unit reg-north-west --compare siblings --metric nps   (the pilot region in its league)",
    "cxloop drivers --unit bank --outcome nps   (what matters most to customers?)",
    "cxloop drivers --unit bank --outcome churn_180d   (which experiences predict leaving?)",
    "cxloop drivers --unit reg-london --priorities   (where should I improve first?)",
    "cxloop clv fit --calibration-end 2026-03-31 --json   (what are customers worth?)",
)


@demo_app.command("overview")
@ExitCodes(Failure(LookupError))
def overview_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary instead.")] = False,
) -> None:
    """A short overview of the demo data, read back from the stores: units, customers, responses per
    touchpoint and month, NPS/CSAT/CES, the pilot beside its true effect, and where the files are."""
    settings = command_settings()
    overview = demo_overview(settings)
    if as_json:
        typer.echo(json.dumps(overview.to_dict(), default=str))
        return
    console = Console(soft_wrap=True)
    _render(console, overview)
    _render_logins(console, demo_logins(settings))


def _render_logins(console: Console, logins: list[DemoLogin]) -> None:
    """The demo's logins for the web app and API (`cxloop serve`), all with the demo password."""
    if not logins:
        return
    console.print()
    console.print(
        f"[bold]logins[/] (password [bold]{DEMO_PASSWORD}[/] for each; `cxloop serve` starts the web app)"
    )
    for login in logins:
        console.print(f"  {login.email:<36} {login.role.value:<10} sees {login.unit_id}", highlight=False)
