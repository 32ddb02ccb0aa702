"""``cxloop predict train|score|explain``: churn risk.

A thin layer over :mod:`cxloop.services.value.churn`. The command line acts for the whole organisation (the
top of the hierarchy) unless ``--unit`` narrows it to a subtree.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cxloop.cli._console import print_json
from cxloop.cli._context import AtUnit, CommandContext, ExitCodes, Failure, Json
from cxloop.services.access.scope import NoHierarchyError, ScopeError, UnknownUnitError
from cxloop.services.act.rules import churn_outreach
from cxloop.services.act.rules.engine import RuleNotFoundError
from cxloop.services.value import churn as svc
from cxloop.services.value.money import NoTransactionsError
from cxloop.warehouse.queries.churn_features import FeatureLeakageError, NoEventsError

__all__ = ["predict_app"]

predict_app = typer.Typer(
    help=(
        "Churn risk: who is likely to leave, why, and what it would cost.\n\n"
        "`cxloop predict train` builds point-in-time features at monthly scoring dates (only events before "
        "each date), labels 'churned within --horizon days' from subscription end dates, trains a calibrated "
        "gradient-boosted model and a logistic baseline on earlier dates and validates on later ones (AUC, "
        "precision in the top decile, lift, Brier, calibration), and registers the model with its card.\n\n"
        "`cxloop predict score` scores every customer with an active subscription and writes risk, expected "
        "value lost (risk x CLV) and the top reasons to the warehouse table churn_scores.\n\n"
        "`cxloop predict explain CUSTOMER` says why one customer is at risk; `cxloop predict at-risk` lists "
        "the customers with the most value at risk; `cxloop predict survival` shows Kaplan-Meier retention "
        "by NPS class and segment and a Cox model. See docs/predict.md."
    ),
    no_args_is_help=True,
    rich_markup_mode="rich",
)

AsOfOption = Annotated[
    str | None,
    typer.Option("--as-of", help="Scoring date (YYYY-MM-DD); default: the day after the latest event."),
]
ModelOption = Annotated[str | None, typer.Option("--model", help="Model id (default: the active model).")]


EXIT_CODES = ExitCodes(
    Failure(
        (
            svc.NoModelError,
            svc.UnknownCustomerError,
            ScopeError,
            UnknownUnitError,
            NoHierarchyError,
            NoTransactionsError,
            FeatureLeakageError,
            NoEventsError,
            RuleNotFoundError,
            ValueError,
        )
    )
)


@contextmanager
def _bar(show: bool) -> Iterator[svc.Progress]:
    if not show:
        yield lambda _s, _d, _t: None
        return
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task = progress.add_task("starting", total=1)
    with progress:

        def update(step: str, done: int, total: int) -> None:
            progress.update(task, description=step, completed=done, total=total)

        yield update


@predict_app.command("train")
@EXIT_CODES
def train(
    horizon: Annotated[
        int, typer.Option("--horizon", min=7, max=730, help="Churn within this many days.")
    ] = 90,
    train_months: Annotated[
        int, typer.Option("--train-months", min=1, max=36, help="Monthly scoring dates to train on.")
    ] = 6,
    validation_months: Annotated[
        int, typer.Option("--validation-months", min=1, max=12, help="Later monthly dates to validate on.")
    ] = 3,
    end: Annotated[
        str | None, typer.Option("--end", help="End of the observed data (default: after the latest event).")
    ] = None,
    max_rows: Annotated[
        int, typer.Option("--max-rows", min=1000, help="Sample the training rows down to this many.")
    ] = 60_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sampling and the model.")] = 0,
    calibration_plot: Annotated[
        Path | None, typer.Option("--calibration-plot", help="Write the calibration plot (HTML) here.")
    ] = None,
    unit: AtUnit = None,
    as_json: Json = False,
) -> None:
    """Train, validate (time-based split) and register a churn model."""
    with CommandContext(unit=unit, create_tables=True) as cmd:
        viewer = cmd.viewer
        with _bar(not as_json) as progress:
            run = svc.train_churn_model(
                viewer,
                stores=cmd.stores,
                horizon_days=horizon,
                train_months=train_months,
                validation_months=validation_months,
                end=end,
                max_training_rows=max_rows,
                seed=seed,
                progress=progress,
            )
    if calibration_plot is not None:
        calibration_plot.write_text(svc.calibration_figure_html(run.calibration), encoding="utf-8")
    payload = run.to_dict()
    if as_json:
        print_json(payload)
        return
    console = Console(soft_wrap=True)
    console.print(f"model [bold]{escape(run.model_id)}[/]: churn within {run.horizon_days} days")
    console.print(
        f"trained on {len(run.train_dates)} monthly dates {run.train_dates[0]}..{run.train_dates[-1]} "
        f"({run.training_rows:,} rows), validated on {run.validation_dates[0]}..{run.validation_dates[-1]} "
        f"({run.validation_rows:,} rows, churn rate {run.metrics['base_rate']:.1%})"
    )
    table = Table("on the validation window", "AUC", "top-decile precision", "lift", "Brier", "ECE")
    for name, m in (("classifier", run.metrics), ("logistic baseline", run.baseline_metrics)):
        table.add_row(
            name,
            f"{m['auc']:.3f}",
            f"{m['top_decile_precision']:.1%}",
            f"{m['lift']:.2f}",
            f"{m['brier']:.4f}",
            f"{m['ece']:.4f}",
        )
    rule = run.rule_metrics
    table.add_row(
        "NPS detractors first", "", f"{rule['top_decile_precision']:.1%}", f"{rule['lift']:.2f}", "", ""
    )
    console.print(table)
    importance = Table("feature group", "AUC drop when shuffled", "features")
    for row in run.importance.head(6).itertuples():
        importance.add_row(str(row.group), f"{row.importance:.4f}", escape(str(row.features)))
    console.print(importance)
    console.print(f"model file: {escape(str(run.artefact_path))}")


@predict_app.command("score")
@EXIT_CODES
def score(
    as_of: AsOfOption = None,
    model: ModelOption = None,
    reasons_share: Annotated[
        float, typer.Option("--reasons-share", min=0.0, max=1.0, help="Share (highest risk) given reasons.")
    ] = 0.2,
    unit: AtUnit = None,
    as_json: Json = False,
) -> None:
    """Score every customer with an active subscription; write churn_scores."""
    with CommandContext(unit=unit, create_tables=True) as cmd:
        viewer = cmd.viewer
        with _bar(not as_json) as progress:
            run = svc.score_churn(
                viewer,
                stores=cmd.stores,
                as_of=as_of,
                model_id=model,
                reasons_share=reasons_share,
                progress=progress,
            )
    payload = {
        "model_id": run.model_id,
        "scored_at": run.scored_at,
        "rows": run.rows,
        "with_reasons": run.with_reasons,
        "expected_value_lost": run.expected_value_lost,
        "clv_scored": run.clv_scored,
    }
    if as_json:
        print_json(payload)
        return
    typer.echo(
        f"scored {run.rows:,} customers on {run.scored_at:%Y-%m-%d} with {run.model_id} "
        f"({run.with_reasons:,} with reasons); expected value lost {run.expected_value_lost:,.0f}"
        + ("" if run.clv_scored else " (no CLV scores: run `cxloop clv score`)")
    )


@predict_app.command("explain")
@EXIT_CODES
def explain(
    customer: Annotated[
        str | None, typer.Argument(help="Customer id (omit for the model's global importance).")
    ] = None,
    as_of: AsOfOption = None,
    model: ModelOption = None,
    unit: AtUnit = None,
    as_json: Json = False,
) -> None:
    """Why a customer is at risk (top reasons in words), or the model card's global importance."""
    with CommandContext(unit=unit, create_tables=True) as cmd:
        if customer is None:
            card = svc.get_model(cmd.viewer, stores=cmd.stores, model_id=model)
        else:
            result = svc.explain_customer(
                cmd.viewer, customer, stores=cmd.stores, as_of=as_of, model_id=model
            )
    if customer is None:
        payload = {"model_id": card["model_id"], "importance": card["card"].get("importance", [])}
        if as_json:
            print_json(payload)
            return
        table = Table("feature group", "AUC drop when shuffled", "features")
        for row in payload["importance"]:
            table.add_row(row["group"], f"{row['importance']:.4f}", escape(str(row["features"])))
        Console(soft_wrap=True).print(table)
        return
    if as_json:
        print_json(result.to_dict())
        return
    console = Console(soft_wrap=True)
    console.print(
        f"customer [bold]{escape(result.customer_id)}[/] ({escape(result.unit_id)}): "
        f"{result.risk:.1%} risk of churning ({escape(result.model_id)}, {result.as_of:%Y-%m-%d})"
    )
    if not result.reasons:
        console.print("no reason stands out: the risk is close to that of a typical customer")
    for reason in result.reasons:
        console.print(f"  - {escape(reason['text'])} (+{reason['risk_points'] * 100:.1f} risk points)")


@predict_app.command("at-risk")
@EXIT_CODES
def at_risk(
    unit_id: Annotated[str | None, typer.Argument(help="Unit (default: your own).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="How many customers.")] = 20,
    min_risk: Annotated[float, typer.Option("--min-risk", min=0.0, max=1.0, help="Risk at least.")] = 0.0,
    min_value: Annotated[float, typer.Option("--min-value", min=0.0, help="CLV at least.")] = 0.0,
    unit: AtUnit = None,
    as_json: Json = False,
) -> None:
    """The customers most at risk, ordered by expected value lost (risk x CLV)."""
    with CommandContext(unit=unit, create_tables=True) as cmd:
        viewer = cmd.viewer
        result = svc.at_risk(
            viewer, unit_id, stores=cmd.stores, limit=limit, min_risk=min_risk, min_value=min_value
        )
    if as_json:
        print_json(result.to_dict())
        return
    table = Table("customer", "unit", "risk", "CLV", "value at risk", "top reasons")
    for row in result.customers.to_dict(orient="records"):
        table.add_row(
            escape(str(row["customer_id"])),
            escape(str(row["unit_id"])),
            f"{row['risk']:.1%}",
            "-" if row["clv"] is None else f"{row['clv']:,.0f}",
            "-" if row["expected_value_lost"] is None else f"{row['expected_value_lost']:,.0f}",
            escape("; ".join(r["text"] for r in row["reasons"])),
        )
    Console(soft_wrap=True).print(table)


@predict_app.command("models")
@EXIT_CODES
def models(unit: AtUnit = None, as_json: Json = False) -> None:
    """The registered churn models (newest first) with their validation AUC."""
    with CommandContext(unit=unit, create_tables=True) as cmd:
        viewer = cmd.viewer
        rows = svc.list_models(viewer, stores=cmd.stores)
    if as_json:
        print_json(rows)
        return
    table = Table("model", "trained", "horizon", "validation", "AUC", "active")
    for r in rows:
        table.add_row(
            r["model_id"],
            str(r["trained_at"])[:19],
            f"{r['horizon_days']} d",
            f"{r['validation_from']}..{r['validation_to']}",
            f"{r['metrics']['classifier']['auc']:.3f}",
            "yes" if r["active"] else "",
        )
    Console(soft_wrap=True).print(table)


@predict_app.command("survival")
@EXIT_CODES
def survival(
    months: Annotated[int, typer.Option("--months", min=1, max=36, help="Monthly start dates pooled.")] = 12,
    unit: AtUnit = None,
    as_json: Json = False,
) -> None:
    """Kaplan-Meier retention by NPS class and segment, and Cox hazard ratios of NPS class."""
    with CommandContext(unit=unit, create_tables=True) as cmd:
        viewer = cmd.viewer
        with _bar(not as_json) as progress:
            view = svc.survival_view(viewer, stores=cmd.stores, months=months, progress=progress)
    if as_json:
        print_json(
            {
                "rows": view.rows,
                "churns": view.churns,
                "cox": view.cox.to_dict(orient="records"),
                "kaplan_meier_nps": view.kaplan_meier_nps.to_dict(orient="records"),
                "kaplan_meier_segment": view.kaplan_meier_segment.to_dict(orient="records"),
            }
        )
        return
    console = Console(soft_wrap=True)
    console.print(escape(view.cox_summary))
    end = view.kaplan_meier_nps.groupby("group").tail(1)
    for row in end.itertuples():
        console.print(f"  retention after {row.time:.0f} days, {row.group}: {row.retention:.2%}")


@predict_app.command("outreach")
@EXIT_CODES
def outreach(
    rule: Annotated[str, typer.Argument(help="A churn_risk alert rule (id or name).")],
    unit: AtUnit = None,
    as_json: Json = False,
) -> None:
    """Open proactive outreach cases for the customers a churn_risk rule picks from the latest scores.

    Create the rule first: `cxloop cases rules add outreach --kind churn_risk --params
    '{"min_risk": 0.3, "min_value": 500, "holdout_share": 0.2, "seed": 7, "campaign": "q4"}'`.
    A seeded random share is held out (recorded, no case) so the retention uplift can be measured
    with `cxloop predict uplift q4`.
    """
    with CommandContext(unit=unit, create_tables=True) as cmd:
        viewer = cmd.viewer
        result = churn_outreach.run_outreach(cmd.session, cmd.warehouse, viewer, rule, settings=cmd.settings)
    payload = {
        "campaign": result.campaign,
        "assigned": result.assigned,
        "contacted": result.contacted,
        "held_out": result.held_out,
        "cases_opened": list(result.cases_opened),
    }
    if as_json:
        print_json(payload)
        return
    typer.echo(
        f"campaign {result.campaign}: {result.assigned} customers assigned, {result.contacted} to contact "
        f"({len(result.cases_opened)} new cases), {result.held_out} held out at random"
    )


@predict_app.command("uplift")
@EXIT_CODES
def uplift(
    campaign: Annotated[str, typer.Argument(help="Outreach campaign name.")],
    follow_days: Annotated[int, typer.Option("--follow-days", min=1, max=730, help="Retention window.")] = 90,
    unit: AtUnit = None,
    as_json: Json = False,
) -> None:
    """Retention of contacted vs held-out customers (randomised) or vs not contacted (observational)."""
    with CommandContext(unit=unit, create_tables=True) as cmd:
        viewer = cmd.viewer
        result = svc.outreach_uplift(viewer, stores=cmd.stores, campaign=campaign, follow_days=follow_days)
    if as_json:
        print_json(result.to_dict())
        return
    typer.echo(
        f"contacted {result.contacted_retained}/{result.contacted} retained, comparison "
        f"{result.comparison_retained}/{result.comparison} retained"
    )
    typer.echo(result.statement)
