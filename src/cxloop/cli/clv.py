"""``cxloop clv ...``: fit the customer-base models and score every customer's lifetime value.

A thin layer over :mod:`cxloop.services.value.clv`. The command line acts for the whole organisation (the top
of the hierarchy) unless ``--unit`` narrows it to a subtree.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from cxloop.cli._console import fail
from cxloop.cli._context import AtUnit, CommandContext, ExitCodes, Failure, Json
from cxloop.services.access.scope import NoHierarchyError, ScopeError
from cxloop.services.value.clv import fit_clv, fit_retention, score_clv
from cxloop.services.value.kpis import KpiTable, business_kpis
from cxloop.services.value.money import (
    NoTransactionsError,
    experience_and_money,
    nps_point_value,
    revenue_at_risk,
    value_tiers,
)
from cxloop.stats.clv import ConvergenceError
from cxloop.store import units as unit_store

__all__ = ["clv_app"]

clv_app = typer.Typer(
    help=(
        "Customer lifetime value: BG/NBD purchases + Gamma-Gamma spend fitted on the warehouse's "
        "transactions.\n\n`cxloop clv fit --calibration-end 2024-06-30` fits and checks the models on the "
        "purchases after that day; `cxloop clv score` writes each customer's P(alive), expected purchases "
        "and CLV to the warehouse table customer_value.\n\n`cxloop clv kpis`, `cxloop clv tiers` and "
        "`cxloop clv experience` put money next to experience: business KPIs per unit, value tiers and what "
        "they experience, behaviour and value by NPS class, revenue at risk and the value of an NPS point."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)

TimeUnitOption = Annotated[
    str, typer.Option("--time-unit", help="day, week or month: the period purchases merge into.")
]
ValueOption = Annotated[
    str, typer.Option("--value", help="amount (revenue) or margin (profit): what spend and CLV measure.")
]
PenalizerOption = Annotated[
    float,
    typer.Option(
        "--penalizer",
        min=0.0,
        help="L2 penalty of the fits (0: maximum likelihood); 0.001 if a fit runs off.",
    ),
]


EXIT_CODES = ExitCodes(
    Failure((NoTransactionsError, NoHierarchyError, ScopeError, ConvergenceError)),
    Failure(
        OperationalError,
        message=lambda exc: (
            f"the app database is not ready ({exc.orig}); run `cxloop db upgrade` and import "
            "units, or `cxloop demo generate`"
        ),
    ),
    Failure(ValueError),
)


def _check_choice(value: str, choices: tuple[str, ...], option: str) -> str:
    if value not in choices:
        raise fail(f"{option} must be one of {', '.join(choices)}, got {value!r}")
    return value


@clv_app.command("fit")
@EXIT_CODES
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
    unit: AtUnit = None,
    penalizer: PenalizerOption = 0.0,
    figure: Annotated[
        Path | None,
        typer.Option("--figure", help="Write the predicted-vs-actual holdout chart to this .html."),
    ] = None,
    as_json: Json = False,
) -> None:
    """Fit BG/NBD + Gamma-Gamma on purchases up to --calibration-end; check them on the purchases after.

    Prints the parameters with standard errors and intervals, the log-likelihoods, and predicted vs
    actual repeat purchases in the holdout by calibration frequency.
    """
    _check_choice(time_unit, ("day", "week", "month"), "--time-unit")
    _check_choice(value, ("amount", "margin"), "--value")
    cal_end = date.fromisoformat(calibration_end)
    obs_end = None if observation_end is None else date.fromisoformat(observation_end)
    with CommandContext(unit=unit, create_tables=True) as cmd:
        viewer = cmd.viewer
        fit = fit_clv(
            viewer,
            stores=cmd.stores,
            calibration_end=cal_end,
            observation_end=obs_end,
            time_unit=time_unit,  # type: ignore[arg-type]
            value=value,  # type: ignore[arg-type]
            penalizer=penalizer,
        )
    written = None if figure is None else fit.write_figure(figure)
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
@EXIT_CODES
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
    unit: AtUnit = None,
    penalizer: PenalizerOption = 0.0,
    as_json: Json = False,
) -> None:
    """Write every customer's P(alive), expected purchases, expected spend, CLV and value tier.

    The scores go to the warehouse table customer_value (one row per customer, replaced on each run);
    the value tiers are the top 10%, next 40% and bottom 50% of customers by CLV.
    """
    _check_choice(time_unit, ("day", "week", "month"), "--time-unit")
    _check_choice(value, ("amount", "margin"), "--value")
    day = None if as_of is None else date.fromisoformat(as_of)
    with CommandContext(unit=unit, create_tables=True) as cmd:
        viewer = cmd.viewer
        scores = score_clv(
            viewer,
            stores=cmd.stores,
            as_of=day,
            time_unit=time_unit,  # type: ignore[arg-type]
            horizon=horizon,
            discount_rate=discount_rate,
            value=value,  # type: ignore[arg-type]
            penalizer=penalizer,
        )
    if as_json:
        typer.echo(json.dumps(scores.to_dict(), indent=2, default=str))
        return
    Console(soft_wrap=True).print(escape(scores.summary()), highlight=False)


def _day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise fail(f"{option} must be a date YYYY-MM-DD, got {text!r}") from exc


@clv_app.command("kpis")
@EXIT_CODES
def kpis_command(
    start: Annotated[str, typer.Option("--start", help="First day of the window (YYYY-MM-DD).")],
    end: Annotated[str, typer.Option("--end", help="Last day of the window (YYYY-MM-DD).")],
    unit: AtUnit = None,
    include: Annotated[
        str,
        typer.Option(
            "--include", help="unit (just the unit), children (and its direct children) or subtree."
        ),
    ] = "children",
    by_segment: Annotated[bool, typer.Option("--by-segment", help="One cell per unit and segment.")] = False,
    penetration: Annotated[
        bool, typer.Option("--penetration", help="Also show the share of customers holding each category.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Business KPIs per unit (each covering its subtree): churn, repeat purchase, CLV, CAC, cost to serve,
    margin and product penetration, with n and intervals; small cells suppressed.

    Example: cxloop clv kpis --unit bank --start 2025-10-01 --end 2026-09-30 --include children"""
    first, last = _day(start, "--start"), _day(end, "--end")
    _check_choice(include, ("unit", "children", "subtree"), "--include")
    with CommandContext(unit=unit, create_tables=True) as cmd:
        viewer = cmd.viewer
        shown = _units_shown(cmd.session, viewer.unit_id, include)
        table = business_kpis(
            viewer, stores=cmd.stores, start=first, end=last, units=shown, by_segment=by_segment
        )
    if as_json:
        typer.echo(json.dumps(table.to_dict(), indent=2, default=str))
        return
    _print_kpis(table, shown, penetration=penetration)


def _units_shown(session: Session, unit_id: str, include: str) -> list[str]:
    """The unit, its children or its subtree, in hierarchy order."""
    if unit_store.get_unit(session, unit_id) is None:
        raise ValueError(f"unknown unit {unit_id!r}: see `cxloop metrics --include children`")
    if include == "unit":
        return [unit_id]
    if include == "children":
        return [unit_id, *unit_store.children_ids(session, unit_id)]
    subtree = unit_store.subtree_ids(session, unit_id)
    return [u.unit_id for u in unit_store.all_units(session) if u.unit_id in subtree]


# The headline KPIs of the table view: (kpi, heading, how to show one number).
_KPI_COLUMNS = (
    ("churn_rate_subscriptions", "churn\n(contracts)", "{:.1%}"),
    ("churn_rate_inactivity", "churn\n(inactive)", "{:.1%}"),
    ("repeat_purchase_rate", "repeat\npurchase", "{:.1%}"),
    ("clv", "CLV", "{:,.0f}"),
    ("cac", "cost to\nacquire", "{:,.0f}"),
    ("cost_to_serve", "cost to\nserve", "{:,.1f}"),
    ("margin_per_buyer", "margin\nper buyer", "{:,.0f}"),
)


def _print_kpis(table: KpiTable, shown: list[str], *, penetration: bool) -> None:
    from rich.table import Table

    frame = table.to_frame()
    keys = [c for c in ("unit", "segment") if c in frame.columns]
    cells = frame.set_index([*keys, "kpi"])
    order = {u: i for i, u in enumerate(shown)}
    rows = sorted(
        {tuple(k) for k in frame[keys].itertuples(index=False)}, key=lambda k: (order.get(k[0], 1e9), k)
    )
    kpis = [k for k in _KPI_COLUMNS]
    if penetration:
        kpis += [
            (k, k.split(":", 1)[1] + "\nheld", "{:.0%}")
            for k in sorted(frame.kpi.unique())
            if k.startswith("penetration:")
        ]
    view = Table(
        title=f"Business KPIs {table.start} to {table.end}",
    )
    for key in keys:
        view.add_column(key, no_wrap=True)
    view.add_column("customers", justify="right")
    for _, heading, _ in kpis:
        view.add_column(heading.replace("\\n", "\n"), justify="right")

    def shown_value(row: tuple, kpi: str, fmt: str) -> str:
        try:
            cell = cells.loc[(*row, kpi)]
        except KeyError:
            return ""
        if kpi == "clv" and not (np.isfinite(cell["n"]) and cell["n"] > 0):
            return "-"  # no customer scored yet: not an anonymity suppression
        if bool(cell["suppressed"]):
            return "·"
        if not np.isfinite(cell["estimate"]):
            return "-"
        text = fmt.format(cell["estimate"])
        if np.isfinite(cell["ci_low"]) and kpi != "customers":
            low, high = (fmt.format(cell[c]).rstrip("%") for c in ("ci_low", "ci_high"))
            text += f"\n[dim]{low}-{high}[/]"
        return text

    for row in rows:
        customers = shown_value(row, "customers", "{:,.0f}")
        view.add_row(*(escape(str(k)) for k in row), customers, *(shown_value(row, k, f) for k, _, f in kpis))
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # piped to a file: do not squeeze the table into 80 columns
    console.print(view)
    console.print(
        f"{table.confidence:.0%} intervals below each figure; cells under {table.min_n} customers "
        "suppressed (·). CLV needs `cxloop clv score`.",
        highlight=False,
    )


@clv_app.command("tiers")
@EXIT_CODES
def tiers_command(unit: AtUnit = None, as_json: Json = False) -> None:
    """Value tiers by CLV (top 10% / next 40% / bottom 50%) and what each tier experiences (NPS, CSAT,
    CES); needs `cxloop clv score` first."""
    with CommandContext(unit=unit, create_tables=True) as cmd:
        viewer = cmd.viewer
        result = value_tiers(viewer, stores=cmd.stores)
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    console = Console(soft_wrap=True)
    console.print(
        escape(result.tiers.to_string(index=False, float_format=lambda v: f"{v:,.3f}")), highlight=False
    )
    console.print(
        escape(result.measures.to_string(index=False, float_format=lambda v: f"{v:,.3f}")), highlight=False
    )
    console.print(
        f"top 20% of customers hold {result.share_of_value(0.2):.0%} of the value (profit concentration)",
        highlight=False,
    )


@clv_app.command("experience")
@EXIT_CODES
def experience_command(
    as_of: Annotated[
        str, typer.Option("--as-of", help="Experience = each customer's latest answer by this day.")
    ],
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", min=1, help="Days of behaviour after it.")
    ] = 365,
    unit: AtUnit = None,
    as_json: Json = False,
) -> None:
    """Repurchase, churn, spend, margin and CLV by NPS class; revenue at risk; the annual value of one NPS
    point (associations in the data, with intervals)."""
    day = _day(as_of, "--as-of")
    with CommandContext(unit=unit, create_tables=True) as cmd:
        settings, viewer = cmd.settings, cmd.viewer
        money = experience_and_money(viewer, stores=cmd.stores, as_of=day, horizon_days=horizon_days)
    risk = revenue_at_risk(money, settings.confidence)
    point = nps_point_value(money, confidence=settings.confidence)
    if as_json:
        payload = money.to_dict()
        payload["revenue_at_risk"] = {name: value.to_dict() for name, value in risk.items()}
        payload["nps_point_value"] = point.to_dict()
        typer.echo(json.dumps(payload, indent=2, default=str))
        return
    console = Console(soft_wrap=True)
    wide = money.groups.pivot_table(index="measure", columns="nps_class", values="estimate", dropna=False)
    console.print(escape(wide.to_string(float_format=lambda v: f"{v:,.3f}")), highlight=False)
    for value in (*risk.values(), point):
        console.print(
            f"{value.name}: {value.estimate:,.0f} ({value.ci_low:,.0f} to {value.ci_high:,.0f}) - "
            + escape(value.definition),
            highlight=False,
        )


@clv_app.command("retention")
@EXIT_CODES
def retention_command(
    as_of: Annotated[
        str, typer.Option("--as-of", help="Subscriptions observed up to this day (YYYY-MM-DD).")
    ],
    periods: Annotated[int, typer.Option("--periods", min=1, help="Months of retention to project.")] = 24,
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", min=0.0001, help="Discount rate per month for the DERL.")
    ] = 0.01,
    unit: AtUnit = None,
    as_json: Json = False,
) -> None:
    """Fit the shifted-beta-geometric churn model on subscriptions: parameters, projected retention and
    the discounted expected residual lifetime value of the active subscribers."""
    day = _day(as_of, "--as-of")
    with CommandContext(unit=unit, create_tables=True) as cmd:
        viewer = cmd.viewer
        fit = fit_retention(viewer, stores=cmd.stores, as_of=day)
    projection = fit.projection(periods)
    if as_json:
        payload = fit.to_dict(discount_rate)
        payload["projection"] = projection.replace({np.nan: None}).to_dict(orient="records")
        typer.echo(json.dumps(payload, indent=2, default=str))
        return
    console = Console(soft_wrap=True)
    console.print(escape(fit.summary()), highlight=False)
    console.print(
        escape(projection.to_string(index=False, float_format=lambda v: f"{v:.3f}")), highlight=False
    )
