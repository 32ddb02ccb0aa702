"""Churn risk: train, score, explain, list the customers at risk, and measure outreach honestly.

* :func:`train_churn_model` builds point-in-time features (:mod:`cxloop.warehouse.queries.churn_features`) at
  monthly scoring dates, labels "churned within ``horizon_days``", splits **by time** (training dates
  whose label windows end before the first validation date), fits a calibrated gradient-boosted model and
  a logistic baseline (:mod:`cxloop.stats.churn`), validates both and a "detractors first" rule on the
  validation dates, and registers the model (card + joblib artefact under ``DATA_DIR/models/``).
* :func:`score_churn` scores every in-scope customer at risk on a date and writes risk, CLV, expected
  value lost (risk x CLV) and the top reasons in words to the warehouse table ``churn_scores``.
* :func:`explain_customer`, :func:`at_risk` (the list per unit ordered by expected value lost),
  :func:`survival_view` (Kaplan-Meier by NPS class and segment, Cox hazard ratios).
* Outreach: :func:`assign_outreach` (seeded random hold-out share, recorded per customer) and
  :func:`outreach_uplift` (retention of contacted vs held out with a Newcombe interval when randomised;
  labelled observational otherwise).

Every function takes the viewer first and scopes to their subtree before any query runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import joblib
import numpy as np
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend
from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.access.scope import Viewer, require_unit, visible_units
from cxloop.services.stores import Stores
from cxloop.services.value.churn_reasons import reason_groups, reason_text
from cxloop.services.value.churn_reasons import top_reasons as _top_reasons
from cxloop.services.value.churn_survival import SurvivalView, survival_view
from cxloop.services.value.money import NoTransactionsError
from cxloop.stats import proportion, proportion_difference
from cxloop.stats.churn import (
    GradientBoostedChurn,
    LogisticBaseline,
    calibration_table,
    evaluate,
    permutation_importance,
    precision_at_top,
    reference_values,
    what_if_contributions,
)
from cxloop.store import audit
from cxloop.store.audit import Actor
from cxloop.store.tables import ChurnModel, ChurnOutreach, utcnow
from cxloop.warehouse.queries.churn_features import (
    DEFAULT_GROUPS,
    FeatureGroup,
    NoEventsError,
    as_timestamp,
    build_features,
    churn_labels,
    data_end,
    write_churn_scores,
)

__all__ = [
    "DEFAULT_HORIZON_DAYS",
    "AtRiskList",
    "CustomerExplanation",
    "NoEventsError",
    "NoModelError",
    "ScoreRun",
    "SurvivalView",
    "TrainingRun",
    "UnknownCustomerError",
    "UpliftResult",
    "assign_holdout",
    "assign_outreach",
    "calibration_figure_html",
    "at_risk",
    "explain_customer",
    "get_model",
    "list_models",
    "outreach_uplift",
    "reason_groups",
    "reason_text",
    "score_churn",
    "survival_view",
    "train_churn_model",
    "training_windows",
    "uplift_from_counts",
]

DEFAULT_HORIZON_DAYS = 90
CATEGORICAL = ("segment",)
_ID_COLUMNS = ("customer_id", "unit_id", "segment", "as_of")

Progress = Callable[[str, int, int], None]


class NoModelError(LookupError):
    """No trained churn model (or not the one asked for); the message says what to do."""


class UnknownCustomerError(LookupError):
    """The customer does not exist in the viewer's scope (answered as unknown, like out of scope)."""


def _noop(_step: str, _done: int, _total: int) -> None:
    return None


# --- time windows --------------------------------------------------------------------------------------


def _month_start(day: datetime) -> datetime:
    return datetime(day.year, day.month, 1)


def _add_months(day: datetime, months: int) -> datetime:
    index = day.year * 12 + day.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1)


def training_windows(
    end: datetime, *, horizon_days: int, train_months: int, validation_months: int
) -> tuple[list[datetime], list[datetime]]:
    """Monthly scoring dates for training and validation, split by time.

    Validation dates are the last ``validation_months`` month starts whose label window ends by ``end``;
    training dates are the ``train_months`` month starts before them whose label windows end on or before
    the first validation date (so no training label overlaps the validation period).
    """
    if train_months < 1 or validation_months < 1:
        raise ValueError("train_months and validation_months must be at least 1")
    last = _month_start(end - timedelta(days=horizon_days))
    while last + timedelta(days=horizon_days) > end:
        last = _add_months(last, -1)
    validation = [_add_months(last, -k) for k in range(validation_months - 1, -1, -1)]
    cut = validation[0]
    last_train = _month_start(cut - timedelta(days=horizon_days))
    while last_train + timedelta(days=horizon_days) > cut:
        last_train = _add_months(last_train, -1)
    train = [_add_months(last_train, -k) for k in range(train_months - 1, -1, -1)]
    return train, validation


def _dataset(
    con: BaseBackend,
    dates: Sequence[datetime],
    *,
    horizon_days: int,
    observed_until: datetime,
    units: Iterable[str] | None,
    groups: Sequence[FeatureGroup],
    progress: Progress,
    step: str,
    done: int,
    total: int,
) -> tuple[pd.DataFrame, tuple[str, ...], dict[str, dict[str, str | None]]]:
    frames: list[pd.DataFrame] = []
    features: tuple[str, ...] = ()
    event_times: dict[str, dict[str, str | None]] = {}
    for k, day in enumerate(dates):
        built = build_features(con, day, units=units, groups=groups)
        labels = churn_labels(con, day, horizon_days=horizon_days, observed_until=observed_until, units=units)
        frames.append(built.frame.merge(labels, on="customer_id", how="inner"))
        features = built.features
        event_times[day.date().isoformat()] = {
            name: (at.isoformat() if at else None) for name, at in built.event_times.items()
        }
        progress(step, done + k + 1, total)
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return data, features, event_times


# --- training -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingRun:
    """A trained, validated, registered churn model."""

    model_id: str
    horizon_days: int
    train_dates: list[date]
    validation_dates: list[date]
    metrics: dict[str, float]  # the classifier on the validation window
    baseline_metrics: dict[str, float]
    rule_metrics: dict[str, float]  # "detractors first"
    importance: pd.DataFrame
    calibration: pd.DataFrame
    card: dict[str, Any]
    artefact_path: Path
    training_rows: int
    validation_rows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_id": self.model_id,
            "horizon_days": self.horizon_days,
            "auc": self.metrics["auc"],
            "baseline_auc": self.baseline_metrics["auc"],
            "top_decile_precision": self.metrics["top_decile_precision"],
            "baseline_top_decile_precision": self.baseline_metrics["top_decile_precision"],
            "rule_top_decile_precision": self.rule_metrics["top_decile_precision"],
            "lift": self.metrics["lift"],
            "brier": self.metrics["brier"],
            "baseline_brier": self.baseline_metrics["brier"],
            "ece": self.metrics["ece"],
            "base_rate": self.metrics["base_rate"],
            "training_rows": self.training_rows,
            "validation_rows": self.validation_rows,
            "train_dates": [d.isoformat() for d in self.train_dates],
            "validation_dates": [d.isoformat() for d in self.validation_dates],
            "importance": self.importance.to_dict(orient="records"),
            "calibration": self.calibration.to_dict(orient="records"),
            "artefact_path": str(self.artefact_path),
        }


def _model_dir(settings: Settings) -> Path:
    path = settings.data_dir / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def train_churn_model(
    viewer: Viewer,
    *,
    stores: Stores,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    train_months: int = 6,
    validation_months: int = 3,
    end: date | datetime | str | None = None,
    max_training_rows: int = 60_000,
    seed: int = 0,
    actor: Actor | None = None,
    groups: Sequence[FeatureGroup] = DEFAULT_GROUPS,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> TrainingRun:
    """Train and validate a churn model on the viewer's scope and register it (see the module notes).

    ``end`` is the end of the observed data (default: the day after the latest event). Training rows are
    sampled down to ``max_training_rows`` (seeded) so training stays in seconds.
    """
    if not 7 <= horizon_days <= 730:
        raise ValueError(f"horizon_days must be between 7 and 730, got {horizon_days}")
    progress = progress or _noop
    settings, session, con = stores.settings, stores.session, stores.warehouse
    units = visible_units(session, viewer)
    stop = as_timestamp(end) if end is not None else data_end(con)
    train_dates, validation_dates = training_windows(
        stop, horizon_days=horizon_days, train_months=train_months, validation_months=validation_months
    )
    total = len(train_dates) + len(validation_dates) + 4
    train, features, train_times = _dataset(
        con,
        train_dates,
        horizon_days=horizon_days,
        observed_until=stop,
        units=units,
        groups=groups,
        progress=progress,
        step="features",
        done=0,
        total=total,
    )
    valid, _, valid_times = _dataset(
        con,
        validation_dates,
        horizon_days=horizon_days,
        observed_until=stop,
        units=units,
        groups=groups,
        progress=progress,
        step="features",
        done=len(train_dates),
        total=total,
    )
    if len(train) == 0 or len(valid) == 0 or train.churned.sum() < 20 or valid.churned.sum() < 5:
        raise NoTransactionsError(
            f"too few customers or churners to train on ({len(train)} training rows with "
            f"{int(train.churned.sum()) if len(train) else 0} churners): a churn model needs subscriptions "
            "with end dates over at least a year of history in your scope."
        )
    columns = [*features, *CATEGORICAL]
    fit_rows = (
        train.sample(n=min(max_training_rows, len(train)), random_state=seed)
        if len(train) > max_training_rows
        else train
    )
    done = len(train_dates) + len(validation_dates)
    model = GradientBoostedChurn(random_state=seed).fit(fit_rows[columns], fit_rows.churned)
    progress("classifier", done + 1, total)
    baseline = LogisticBaseline().fit(fit_rows[columns], fit_rows.churned)
    progress("baseline", done + 2, total)
    risk = model.predict_risk(valid[columns])
    y = valid.churned.to_numpy()
    metrics = evaluate(y, risk).to_dict()
    baseline_metrics = evaluate(y, baseline.predict_risk(valid[columns])).to_dict()
    detractor = (valid.nps_latest <= 6).astype(float).to_numpy()
    rule_metrics = {
        "top_decile_precision": precision_at_top(y, detractor, 0.1),
        "flagged_share": float(detractor.mean()),
    }
    rule_metrics["lift"] = rule_metrics["top_decile_precision"] / float(y.mean())
    calibration = calibration_table(y, risk)
    explain_groups = reason_groups(columns)
    sample = valid.sample(n=min(8_000, len(valid)), random_state=seed)
    importance = permutation_importance(
        model.predict_risk, sample[columns], sample.churned, explain_groups, repeats=2, random_state=seed
    )
    progress("explanations", done + 3, total)
    reference = reference_values(fit_rows[columns], fit_rows.churned)
    trained_at = now or utcnow()
    model_id = f"churn-{trained_at:%Y%m%d-%H%M%S}"
    path = _model_dir(settings) / f"{model_id}.joblib"
    card = {
        "model_id": model_id,
        "purpose": (
            f"probability that a customer with an active subscription churns within {horizon_days} days"
        ),
        "scope_unit_id": viewer.unit_id,
        "horizon_days": horizon_days,
        "label": "subscription active at the scoring date ended within the horizon (subscriptions.ended_at)",
        "data_window": {
            "train_dates": [d.date().isoformat() for d in train_dates],
            "validation_dates": [d.date().isoformat() for d in validation_dates],
            "observed_until": stop.isoformat(),
            "training_rows": int(len(train)),
            "training_rows_used": int(len(fit_rows)),
            "validation_rows": int(len(valid)),
        },
        "features": columns,
        "dropped_features": list(model.dropped_),
        "feature_groups": {g.name: g.description for g in groups},
        "event_times": {"train": train_times, "validation": valid_times},
        "models": {
            "classifier": "HistGradientBoostingClassifier + Platt calibration on a held-out 25%",
            "baseline": "standardised L2 logistic regression (median imputation + missing indicators)",
            "rule": "NPS detractors first (latest NPS answer 0-6)",
        },
        "metrics": {"classifier": metrics, "baseline": baseline_metrics, "rule": rule_metrics},
        "importance": importance.to_dict(orient="records"),
        "calibration": calibration.to_dict(orient="records"),
        "explanations": (
            "per customer: risk minus the risk with one feature group at the typical value of customers "
            "who stayed (what-if on the classifier); the three largest positive ones, in words"
        ),
    }
    joblib.dump(
        {
            "model": model,
            "baseline": baseline,
            "reference": reference,
            "columns": columns,
            "groups": explain_groups,
            "horizon_days": horizon_days,
            "model_id": model_id,
        },
        path,
    )

    def register(s: Session) -> None:
        for old in s.scalars(select(ChurnModel).where(ChurnModel.scope_unit_id == viewer.unit_id)):
            old.active = False
        row = ChurnModel(
            model_id=model_id,
            kind="gradient_boosting",
            horizon_days=horizon_days,
            scope_unit_id=viewer.unit_id,
            trained_at=trained_at,
            trained_by=(actor.label if actor else "cli"),
            train_from=train_dates[0].date(),
            train_to=train_dates[-1].date(),
            validation_from=validation_dates[0].date(),
            validation_to=validation_dates[-1].date(),
            features=columns,
            metrics={"classifier": metrics, "baseline": baseline_metrics, "rule": rule_metrics},
            card=json.loads(json.dumps(card, default=str)),
            artefact_path=str(path),
            active=True,
        )
        s.add(row)
        s.flush()
        audit.record(
            s,
            entity="churn_model",
            entity_id=model_id,
            action="trained",
            actor=actor or Actor.system("cli"),
            changes={"active": [None, True], "auc": [None, round(metrics["auc"], 4)]},
            note=f"horizon {horizon_days} days, scope {viewer.unit_id}",
            at=trained_at,
        )

    register(session)
    progress("registered", total, total)
    return TrainingRun(
        model_id=model_id,
        horizon_days=horizon_days,
        train_dates=[d.date() for d in train_dates],
        validation_dates=[d.date() for d in validation_dates],
        metrics=metrics,
        baseline_metrics=baseline_metrics,
        rule_metrics=rule_metrics,
        importance=importance,
        calibration=calibration,
        card=card,
        artefact_path=path,
        training_rows=int(len(fit_rows)),
        validation_rows=int(len(valid)),
    )


# --- the registry ---------------------------------------------------------------------------------------


def list_models(viewer: Viewer, *, stores: Stores) -> list[dict[str, Any]]:
    """Models trained on the viewer's scope or any unit inside it, newest first."""
    session = stores.session
    visible = visible_units(session, viewer)
    rows = session.scalars(select(ChurnModel).order_by(ChurnModel.trained_at.desc()))
    return [_model_dict(r) for r in rows if r.scope_unit_id in visible]


def _model_dict(row: ChurnModel) -> dict[str, Any]:
    return {
        "model_id": row.model_id,
        "kind": row.kind,
        "horizon_days": row.horizon_days,
        "scope_unit_id": row.scope_unit_id,
        "trained_at": row.trained_at.isoformat() if row.trained_at else None,
        "train_from": row.train_from.isoformat(),
        "train_to": row.train_to.isoformat(),
        "validation_from": row.validation_from.isoformat(),
        "validation_to": row.validation_to.isoformat(),
        "features": list(row.features),
        "metrics": row.metrics,
        "artefact_path": row.artefact_path,
        "active": row.active,
    }


def get_model(viewer: Viewer, *, stores: Stores, model_id: str | None = None) -> dict[str, Any]:
    """The registry row (with the card) of ``model_id``, or the active model covering the viewer's unit."""
    session = stores.session
    visible = visible_units(session, viewer)
    if model_id is not None:
        row = session.get(ChurnModel, model_id)
        if (
            row is None
            or row.scope_unit_id not in visible
            and not _covers(session, row.scope_unit_id, viewer)
        ):
            raise NoModelError(f"no churn model {model_id!r} in your scope: see `cxloop predict models`")
    else:
        candidates = [
            r
            for r in session.scalars(
                select(ChurnModel).where(ChurnModel.active.is_(True)).order_by(ChurnModel.trained_at.desc())
            )
            if r.scope_unit_id in visible or _covers(session, r.scope_unit_id, viewer)
        ]
        if not candidates:
            raise NoModelError("no churn model trained yet: run `cxloop predict train`")
        row = candidates[0]
    out = _model_dict(row)
    out["card"] = row.card
    return out


def _covers(session: Session, scope_unit_id: str, viewer: Viewer) -> bool:
    """A model trained on an ancestor's scope may score the viewer's customers (it never shows others')."""
    from cxloop.store import units as unit_store

    try:
        return viewer.unit_id in set(unit_store.subtree_ids(session, scope_unit_id))
    except KeyError:
        return False


def _load(path: str) -> dict[str, Any]:
    if not Path(path).exists():
        raise NoModelError(f"the model file {path} is missing: train again with `cxloop predict train`")
    return joblib.load(path)


# --- scoring --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreRun:
    model_id: str
    scored_at: datetime
    rows: int
    with_reasons: int
    expected_value_lost: float
    clv_scored: bool


def _clv(con: BaseBackend, customers: pd.Series) -> pd.Series:
    value = con.table("customer_value").select("customer_id", "clv")
    frame = con.execute(value)
    return frame.set_index("customer_id").clv.reindex(customers.to_numpy())


def score_churn(
    viewer: Viewer,
    *,
    stores: Stores,
    as_of: date | datetime | str | None = None,
    model_id: str | None = None,
    reasons_share: float = 0.2,
    top_reasons: int = 3,
    score_clv_if_missing: bool = True,
    progress: Progress | None = None,
) -> ScoreRun:
    """Score every in-scope customer at risk on ``as_of`` (default: the end of the data) and write
    ``churn_scores``; the top ``reasons_share`` by risk and by expected value lost also get their top
    reasons in words (one what-if prediction per reason group and customer).

    Expected value lost = risk x the customer's stored CLV (``customer_value``; scored first with
    ``cxloop clv score``'s defaults when the scope has none and ``score_clv_if_missing``).
    """
    if not 0 <= reasons_share <= 1:
        raise ValueError(f"reasons_share must be between 0 and 1, got {reasons_share}")
    progress = progress or _noop
    session, con = stores.session, stores.warehouse
    registry = get_model(viewer, stores=stores, model_id=model_id)
    bundle = _load(registry["artefact_path"])
    units = visible_units(session, viewer)
    when = as_timestamp(as_of) if as_of is not None else data_end(con)
    progress("features", 0, 4)
    built = build_features(con, when, units=units)
    frame = built.frame
    progress("risk", 1, 4)
    columns = bundle["columns"]
    risk = bundle["model"].predict_risk(frame[columns]) if len(frame) else np.empty(0)
    clv = _clv(con, frame.customer_id)
    clv_scored = bool(clv.notna().any())
    if not clv_scored and score_clv_if_missing and len(frame):
        from cxloop.services.value.clv import score_clv

        try:
            score_clv(viewer, stores=stores, as_of=(when - timedelta(days=1)).date())
            clv = _clv(con, frame.customer_id)
            clv_scored = bool(clv.notna().any())
        except (NoTransactionsError, ValueError):
            clv_scored = False
    progress("reasons", 2, 4)
    reasons: list[str | None] = [None] * len(frame)
    explained = 0
    value = clv.to_numpy(dtype=float)
    lost = risk * value
    if len(frame) and reasons_share > 0:
        # the customers an at-risk list shows first: the highest risks and the most value at risk
        k = int(math.ceil(reasons_share * len(frame)))
        by_value = np.argsort(-np.nan_to_num(lost, nan=-1.0), kind="stable")[:k]
        top = np.union1d(np.argsort(-risk, kind="stable")[:k], by_value)
        subset = frame.iloc[top]
        model = bundle["model"]
        contributions = what_if_contributions(
            model.predict_prepared, model.prepare(subset[columns]), bundle["groups"], bundle["reference"]
        )
        for i, listed in zip(top, _top_reasons(contributions, subset, top_reasons), strict=True):
            reasons[i] = json.dumps(listed)
        explained = len(top)
    stamp = when
    table = pa.table(
        {
            "customer_id": frame.customer_id.astype(str).to_numpy(),
            "scored_at": pa.array([stamp] * len(frame), type=pa.timestamp("us")),
            "unit_id": frame.unit_id.astype(str).to_numpy(),
            # pandas-stubs type na_value without None, which pandas accepts (missing -> None for pyarrow)
            "segment": frame.segment.astype("string").to_numpy(dtype=object, na_value=None),  # type: ignore[call-overload]
            "risk": risk.astype(float),
            "clv": pa.array(value, from_pandas=True),
            "expected_value_lost": pa.array(lost, from_pandas=True),
            "reasons": pa.array(reasons, type=pa.string()),
            "model_id": pa.array([registry["model_id"]] * len(frame), type=pa.string()),
        }
    )
    rows = write_churn_scores(con, table) if len(frame) else 0
    progress("written", 4, 4)
    return ScoreRun(
        model_id=registry["model_id"],
        scored_at=stamp,
        rows=rows,
        with_reasons=explained,
        expected_value_lost=float(np.nansum(lost)),
        clv_scored=clv_scored,
    )


# --- reading scores: the at-risk list and one customer's explanation -----------------------------------


def _latest_scores(con: BaseBackend, units: Iterable[str]) -> pd.DataFrame:
    if "churn_scores" not in set(con.list_tables()):
        raise NoModelError("no churn scores yet: run `cxloop predict train` then `cxloop predict score`")
    scores = con.table("churn_scores")
    scores = scores.filter(scores.unit_id.isin(sorted(set(units))))
    latest = scores.scored_at.max()
    return con.execute(scores.filter(scores.scored_at == latest))


@dataclass(frozen=True)
class AtRiskList:
    """The customers of a unit's subtree most at risk of leaving, by expected value lost."""

    unit_id: str
    scored_at: datetime | None
    model_id: str | None
    customers: pd.DataFrame  # customer_id, unit_id, segment, risk, clv, expected_value_lost, reasons
    total_customers: int
    summary: pd.DataFrame  # per child unit: customers, expected churners, value at risk (suppressed < min_n)
    min_n: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit_id,
            "scored_at": self.scored_at.isoformat() if self.scored_at else None,
            "model_id": self.model_id,
            "total_customers": self.total_customers,
            "min_n": self.min_n,
            "customers": [
                {**row, "reasons": row["reasons"]} for row in self.customers.to_dict(orient="records")
            ],
            "summary": self.summary.to_dict(orient="records"),
        }


def at_risk(
    viewer: Viewer,
    unit_id: str | None = None,
    *,
    stores: Stores,
    limit: int = 50,
    min_risk: float = 0.0,
    min_value: float = 0.0,
) -> AtRiskList:
    """The at-risk list of ``unit_id``'s subtree (default: the viewer's unit), ordered by expected value
    lost, from the latest scoring run. Per child unit the counts and sums are suppressed under ``min_n``
    customers. A unit outside the viewer's subtree is answered like an unknown one."""
    if limit < 1 or limit > 1000:
        raise ValueError(f"limit must be between 1 and 1000, got {limit}")
    settings, session, con = stores.settings, stores.session, stores.warehouse
    focus = unit_id or viewer.unit_id
    from cxloop.store import units as unit_store

    visible = require_unit(session, viewer, focus)
    below = frozenset(unit_store.subtree_ids(session, focus)) & visible
    children = [c for c in unit_store.children_ids(session, focus) if c in visible]
    scores = _latest_scores(con, below)
    if scores.empty:
        empty = pd.DataFrame(
            columns=["customer_id", "unit_id", "segment", "risk", "clv", "expected_value_lost", "reasons"]
        )
        return AtRiskList(focus, None, None, empty, 0, pd.DataFrame(), settings.min_n)
    ranked = scores[(scores.risk >= min_risk) & (scores.clv.fillna(0) >= min_value)].copy()
    ranked["order_value"] = ranked.expected_value_lost.fillna(ranked.risk)
    ranked = ranked.sort_values(["order_value", "risk", "customer_id"], ascending=[False, False, True]).head(
        limit
    )
    ranked["reasons"] = [json.loads(r) if isinstance(r, str) and r else [] for r in ranked.reasons]
    customers = ranked[["customer_id", "unit_id", "segment", "risk", "clv", "expected_value_lost", "reasons"]]
    customers = customers.astype(object).where(customers.notna(), None)
    summary = _summary(con, scores, children, settings.min_n)
    return AtRiskList(
        unit_id=focus,
        scored_at=pd.Timestamp(scores.scored_at.iloc[0]).to_pydatetime(),
        model_id=str(scores.model_id.iloc[0]),
        customers=customers.reset_index(drop=True),
        total_customers=int(len(scores)),
        summary=summary,
        min_n=settings.min_n,
    )


def _summary(con: BaseBackend, scores: pd.DataFrame, children: list[str], min_n: int) -> pd.DataFrame:
    closure = con.table("unit_closure")
    mapping = con.execute(closure.filter(closure.ancestor_id.isin(children)).select("ancestor_id", "unit_id"))
    joined = scores.merge(mapping, on="unit_id", how="inner")
    rows = []
    for child in children:
        part = joined[joined.ancestor_id == child]
        n = len(part)
        hidden = 0 < n < min_n
        rows.append(
            {
                "unit_id": child,
                "customers": None if hidden else n,
                "expected_churners": None if hidden else float(part.risk.sum()),
                "mean_risk": None if hidden or n == 0 else float(part.risk.mean()),
                "expected_value_lost": None if hidden else float(part.expected_value_lost.fillna(0).sum()),
                "suppressed": hidden,
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class CustomerExplanation:
    customer_id: str
    unit_id: str
    as_of: datetime
    model_id: str
    risk: float
    reasons: list[dict[str, Any]]
    contributions: dict[str, float]
    features: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "unit_id": self.unit_id,
            "as_of": self.as_of.isoformat(),
            "model_id": self.model_id,
            "risk": self.risk,
            "reasons": self.reasons,
            "contributions": self.contributions,
            "features": self.features,
        }


def explain_customer(
    viewer: Viewer,
    customer_id: str,
    *,
    stores: Stores,
    as_of: date | datetime | str | None = None,
    model_id: str | None = None,
    top: int = 3,
) -> CustomerExplanation:
    """Risk, top reasons in words and every group's what-if contribution for one customer in scope."""
    session, con = stores.session, stores.warehouse
    units = visible_units(session, viewer)
    registry = get_model(viewer, stores=stores, model_id=model_id)
    bundle = _load(registry["artefact_path"])
    when = as_timestamp(as_of) if as_of is not None else data_end(con)
    customers = con.table("customers")
    found = con.execute(
        customers.filter(
            (customers.customer_id == customer_id) & customers.unit_id.isin(sorted(units))
        ).count()
    )
    if not found:
        raise UnknownCustomerError(f"no customer {customer_id!r} in your scope")
    built = build_features(con, when, units=units, customer_ids=[customer_id])
    row = built.frame[built.frame.customer_id == customer_id]
    if row.empty:
        raise UnknownCustomerError(
            f"customer {customer_id!r} had no active subscription on {when:%Y-%m-%d}: nothing to predict"
        )
    columns = bundle["columns"]
    contributions = what_if_contributions(
        bundle["model"].predict_risk, row[columns], bundle["groups"], bundle["reference"]
    )
    reasons = _top_reasons(contributions, row, top)[0]
    record = row.iloc[0]
    features = {
        c: (None if pd.isna(record[c]) else (float(record[c]) if c != "segment" else str(record[c])))
        for c in columns
    }
    return CustomerExplanation(
        customer_id=customer_id,
        unit_id=str(record.unit_id),
        as_of=when,
        model_id=registry["model_id"],
        risk=float(contributions.risk.iloc[0]),
        reasons=reasons,
        contributions={str(k): float(v) for k, v in contributions.iloc[0].items() if k != "risk"},
        features=features,
    )


# --- outreach: hold-out assignment and uplift ------------------------------------------------------------


def assign_holdout(customer_ids: Sequence[str], *, share: float, seed: int) -> np.ndarray:
    """``True`` for customers held out of outreach: a seeded random ``share`` (exactly
    ``round(share * n)`` of them), independent of the order the ids come in."""
    if not 0 <= share < 1:
        raise ValueError(f"the hold-out share must be in [0, 1), got {share}")
    ids = np.asarray(sorted(set(customer_ids)), dtype=object)
    if len(ids) != len(customer_ids):
        raise ValueError("customer ids must be distinct")
    rng = np.random.default_rng(seed)
    k = int(round(share * len(ids)))
    held = set(ids[rng.permutation(len(ids))[:k]].tolist())
    return np.array([c in held for c in customer_ids], dtype=bool)


def assign_outreach(
    viewer: Viewer,
    *,
    stores: Stores,
    campaign: str,
    min_risk: float,
    min_value: float = 0.0,
    holdout_share: float = 0.2,
    seed: int = 0,
    limit: int | None = None,
    open_case: Callable[[Session, dict[str, Any]], int | None] | None = None,
    actor: Actor | None = None,
    now: datetime | None = None,
) -> pd.DataFrame:
    """Pick the in-scope customers of the latest scores with risk >= ``min_risk`` and CLV >= ``min_value``
    (not yet in ``campaign``), hold a seeded random ``holdout_share`` out, record every assignment in
    ``churn_outreach`` and, for the contacted ones, call ``open_case`` (e.g. an alert rule opening a
    proactive outreach case) with the customer's row; returns the assignments."""
    if not campaign.strip():
        raise ValueError("a campaign needs a name")
    session, con = stores.session, stores.warehouse
    stamp = now or utcnow()

    units = visible_units(session, viewer)
    scores = _latest_scores(con, units)
    picked = scores[(scores.risk >= min_risk) & (scores.clv.fillna(0) >= min_value)]
    already = set(
        session.scalars(select(ChurnOutreach.customer_id).where(ChurnOutreach.campaign == campaign))
    )
    picked = picked[~picked.customer_id.isin(already)]
    picked = picked.sort_values(["expected_value_lost", "risk"], ascending=False)
    if limit is not None:
        picked = picked.head(limit)
    if picked.empty:
        return picked.assign(arm=pd.Series(dtype=str), case_id=pd.Series(dtype="Int64"))
    held = assign_holdout(picked.customer_id.tolist(), share=holdout_share, seed=seed)
    picked = picked.assign(arm=np.where(held, "holdout", "contact"))
    case_ids: list[int | None] = []
    for row in cast("list[dict[str, Any]]", picked.to_dict(orient="records")):  # column names are str
        case_id = open_case(session, row) if open_case is not None and row["arm"] == "contact" else None
        case_ids.append(case_id)
        session.add(
            ChurnOutreach(
                campaign=campaign,
                customer_id=row["customer_id"],
                unit_id=row["unit_id"],
                model_id=row["model_id"],
                scored_at=pd.Timestamp(row["scored_at"]).to_pydatetime().replace(tzinfo=UTC),
                risk=float(row["risk"]),
                clv=None if pd.isna(row["clv"]) else float(row["clv"]),
                expected_value_lost=None
                if pd.isna(row["expected_value_lost"])
                else float(row["expected_value_lost"]),
                arm=row["arm"],
                randomised=holdout_share > 0,
                holdout_share=holdout_share,
                seed=seed,
                assigned_at=stamp,
                case_id=case_id,
            )
        )
    session.flush()
    audit.record(
        session,
        entity="churn_outreach",
        entity_id=campaign,
        action="assigned",
        actor=actor or Actor.system("cli"),
        changes={"customers": [None, int(len(picked))], "held_out": [None, int(held.sum())]},
        note=(f"hold-out share {holdout_share}, seed {seed}, risk >= {min_risk}, value >= {min_value}"),
        at=stamp,
    )
    return picked.assign(case_id=pd.Series(case_ids, index=picked.index))


@dataclass(frozen=True)
class UpliftResult:
    """Retention of contacted vs held-out (or not-yet-contacted) customers over a follow-up window."""

    campaign: str
    randomised: bool
    contacted: int
    contacted_retained: int
    comparison: int
    comparison_retained: int
    uplift: float
    ci_low: float
    ci_high: float
    p_value: float
    statement: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def uplift_from_counts(
    contacted: int,
    contacted_retained: int,
    comparison: int,
    comparison_retained: int,
    *,
    randomised: bool,
    campaign: str = "",
    confidence: float = 0.95,
) -> UpliftResult:
    """Retention uplift (contacted minus comparison) with Newcombe's hybrid score interval; the statement
    says whether it is a randomised estimate or an observational comparison."""
    if contacted < 1 or comparison < 1:
        raise ValueError("need at least one contacted and one comparison customer")
    result = proportion_difference(
        proportion(contacted_retained, contacted, confidence),
        proportion(comparison_retained, comparison, confidence),
    )
    uplift = float(result.difference)
    low, high = float(result.ci_low), float(result.ci_high)
    pct = f"{uplift * 100:+.1f} points ({confidence:.0%} interval {low * 100:+.1f} to {high * 100:+.1f})"
    if randomised:
        statement = (
            f"Randomised hold-out: outreach changed retention by {pct}; the hold-out was drawn at random, "
            "so this is the causal effect of the outreach on these customers."
        )
    else:
        statement = (
            "Observational: contacted customers' retention differs from not-yet-contacted at-risk "
            "customers' "
            f"by {pct}. Nobody was held out at random, so this difference may reflect who was contacted, "
            "not what the contact did."
        )
    return UpliftResult(
        campaign=campaign,
        randomised=randomised,
        contacted=contacted,
        contacted_retained=contacted_retained,
        comparison=comparison,
        comparison_retained=comparison_retained,
        uplift=uplift,
        ci_low=low,
        ci_high=high,
        p_value=float(result.p_value),
        statement=statement,
    )


def outreach_uplift(
    viewer: Viewer,
    *,
    stores: Stores,
    campaign: str,
    follow_days: int = 90,
) -> UpliftResult:
    """Retention over ``follow_days`` after assignment: contacted vs held out when the campaign had a
    random hold-out, else contacted vs the campaign's customers not contacted (observational)."""
    session, con = stores.session, stores.warehouse
    units = visible_units(session, viewer)
    rows = session.scalars(select(ChurnOutreach).where(ChurnOutreach.campaign == campaign))
    assigned = pd.DataFrame(
        [
            {
                "customer_id": r.customer_id,
                "arm": r.arm,
                "assigned_at": r.assigned_at,
                "randomised": r.randomised,
            }
            for r in rows
            if r.unit_id in units
        ]
    )
    if assigned.empty:
        raise NoModelError(f"no outreach recorded for campaign {campaign!r} in your scope")
    subs = con.table("subscriptions")
    ended = con.execute(
        subs.filter(subs.customer_id.isin(assigned.customer_id.tolist())).select("customer_id", "ended_at")
    )
    last = ended.groupby("customer_id").ended_at.apply(lambda s: pd.NaT if s.isna().any() else s.max())
    assigned["ended_at"] = assigned.customer_id.map(last)
    start = pd.to_datetime(assigned.assigned_at, utc=True).dt.tz_localize(None)
    churned = assigned.ended_at.notna() & (
        pd.to_datetime(assigned.ended_at) < start + pd.Timedelta(days=follow_days)
    )
    assigned["retained"] = ~churned
    contact = assigned[assigned.arm == "contact"]
    other = assigned[assigned.arm != "contact"]
    return uplift_from_counts(
        len(contact),
        int(contact.retained.sum()),
        len(other),
        int(other.retained.sum()),
        randomised=bool(assigned.randomised.all()) and len(other) > 0,
        campaign=campaign,
    )


def calibration_figure_html(calibration: pd.DataFrame, *, include_plotlyjs: bool | str = True) -> str:
    """The calibration plot (predicted risk vs observed churn per bin, with Wilson intervals) as HTML."""
    import plotly.graph_objects as go

    top = float(max(calibration.ci_high.max(), calibration.predicted.max()) * 1.1)
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(x=[0, top], y=[0, top], mode="lines", name="perfect calibration", line={"dash": "dash"})
    )
    figure.add_trace(
        go.Scatter(
            x=calibration.predicted,
            y=calibration.observed,
            mode="markers+lines",
            name="observed churn",
            error_y={
                "type": "data",
                "symmetric": False,
                "array": calibration.ci_high - calibration.observed,
                "arrayminus": calibration.observed - calibration.ci_low,
            },
            text=[f"{n:,} customers" for n in calibration.customers],
        )
    )
    figure.update_layout(
        title="Calibration on the validation window (equal-count bins, 95% intervals)",
        xaxis_title="predicted risk",
        yaxis_title="observed churn rate",
        xaxis={"tickformat": ".0%"},
        yaxis={"tickformat": ".0%"},
    )
    return figure.to_html(full_html=True, include_plotlyjs=include_plotlyjs)
