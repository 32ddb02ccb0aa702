"""``cxloop clv ...``: fit the customer-base models and score every customer's lifetime value.

A thin layer over :mod:`cxloop.services.clv`. The command line acts for the whole organisation (the top
of the hierarchy) unless ``--unit`` narrows it to a subtree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import OperationalError

from cxloop.cli._app import app
from cxloop.config import Settings
from cxloop.services.clv import fit_clv, score_clv
from cxloop.services.scope import ScopeError, Viewer
from cxloop.services.value import NoTransactionsError, organisation_viewer
from cxloop.stats.clv import ConvergenceError

__all__ = ["clv_app"]

clv_app = typer.Typer(
    help=(
        "Customer lifetime value: BG/NBD purchases + Gamma-Gamma spend fitted on the warehouse's "
        "transactions.\n\n`cxloop clv fit --calibration-end 2024-06-30` fits and checks the models on the "
        "purchases after that day; `cxloop clv score` writes each customer's P(alive), expected purchases "
        "and CLV to the warehouse table customer_value."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(clv_app, name="clv")

T = TypeVar("T")

TimeUnitOption = Annotated[
    str, typer.Option("--time-unit", help="day, week or month: the period purchases merge into.")
]
ValueOption = Annotated[
    str, typer.Option("--value", help="amount (revenue) or margin (profit): what spend and CLV measure.")
]
UnitOption = Annotated[
    str | None, typer.Option("--unit", help="Only customers of this unit's subtree (default: everyone).")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _fail(message: str) -> typer.Exit:
    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code=1)


def _run(action: Callable[[], T]) -> T:
    """Run a service call, turning the errors a user can fix into one line that says how."""
    try:
        return action()
    except (NoTransactionsError, ScopeError, ConvergenceError) as exc:
        raise _fail(str(exc)) from exc
    except OperationalError as exc:
        raise _fail(
            f"the app database is not ready ({exc.orig}); run `cxloop db upgrade` and import units, "
            "or `cxloop demo generate`"
        ) from exc
    except ValueError as exc:
        raise _fail(str(exc)) from exc


def _check_choice(value: str, choices: tuple[str, ...], option: str) -> str:
    if value not in choices:
        raise _fail(f"{option} must be one of {', '.join(choices)}, got {value!r}")
    return value


def _viewer(settings: Settings, unit: str | None) -> Viewer:
    return _run(lambda: organisation_viewer(settings, unit))


@clv_app.command("fit")
def fit_command(
    calibration_end: Annotated[
        str, typer.Option("--calibration-end", help="Last day (YYYY-MM-DD) of the calibration window.")
    ],
    observation_end: Annotated[
        str | None,
        typer.Option(
            "--observation-end", help="Last day of the holdout window (default: the last purchase)."
        ),
    ] = None,
    time_unit: TimeUnitOption = "week",
    value: ValueOption = "amount",
    unit: UnitOption = None,
    figure: Annotated[
        Path | None,
        typer.Option("--figure", help="Write the predicted-vs-actual holdout chart to this .html."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Fit BG/NBD + Gamma-Gamma on purchases up to --calibration-end; check them on the purchases after.

    Prints the parameters with standard errors and intervals, the log-likelihoods, and predicted vs
    actual repeat purchases in the holdout by calibration frequency.
    """
    settings = Settings()
    _check_choice(time_unit, ("day", "week", "month"), "--time-unit")
    _check_choice(value, ("amount", "margin"), "--value")
    cal_end = _run(lambda: date.fromisoformat(calibration_end))
    obs_end = None if observation_end is None else _run(lambda: date.fromisoformat(observation_end))
    viewer = _viewer(settings, unit)
    fit = _run(
        lambda: fit_clv(
            viewer,
            settings=settings,
            calibration_end=cal_end,
            observation_end=obs_end,
            time_unit=time_unit,  # type: ignore[arg-type]
            value=value,  # type: ignore[arg-type]
        )
    )
    written = None
    if figure is not None:
        written = _run(lambda: fit.write_figure(figure))
    if as_json:
        payload = fit.to_dict()
        payload["figure"] = None if written is None else str(written)
        typer.echo(json.dumps(payload, indent=2, default=str))
        return
    console = Console(soft_wrap=True)
    console.print(escape(fit.summary()), highlight=False)
    if written is not None:
        console.print(f"figure: {escape(str(written))}", highlight=False)


@clv_app.command("score")
def score_command(
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Score as of this day (default: the last purchase).")
    ] = None,
    time_unit: TimeUnitOption = "week",
    horizon: Annotated[int, typer.Option("--horizon", min=1, help="Months of the CLV horizon.")] = 12,
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", min=0.0, help="Monthly discount rate of the CLV.")
    ] = 0.01,
    value: ValueOption = "amount",
    unit: UnitOption = None,
    as_json: JsonOption = False,
) -> None:
    """Write every customer's P(alive), expected purchases, expected spend, CLV and value tier.

    The scores go to the warehouse table customer_value (one row per customer, replaced on each run);
    the value tiers are the top 10%, next 40% and bottom 50% of customers by CLV.
    """
    settings = Settings()
    _check_choice(time_unit, ("day", "week", "month"), "--time-unit")
    _check_choice(value, ("amount", "margin"), "--value")
    day = None if as_of is None else _run(lambda: date.fromisoformat(as_of))
    viewer = _viewer(settings, unit)
    scores = _run(
        lambda: score_clv(
            viewer,
            settings=settings,
            as_of=day,
            time_unit=time_unit,  # type: ignore[arg-type]
            horizon=horizon,
            discount_rate=discount_rate,
            value=value,  # type: ignore[arg-type]
        )
    )
    if as_json:
        typer.echo(json.dumps(scores.to_dict(), indent=2, default=str))
        return
    Console(soft_wrap=True).print(escape(scores.summary()), highlight=False)
