"""A short overview of the demo company, read back from the stores (not from the generated files).

:func:`demo_overview` counts units per level in the app database, aggregates the facts in the warehouse
(one Ibis query per question: totals, responses per touchpoint and month, the headline metrics, the pilot's
2x2 cells) and turns the counts into metrics with :mod:`cxloop.stats`. The pilot's observed
difference-in-differences is shown beside its true effect from ``ground_truth.json``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import ibis
import numpy as np
import pandas as pd
from sqlalchemy import func, select

from cxloop import stats
from cxloop.config import Settings
from cxloop.demo.files import TRUTH_FILE
from cxloop.demo.load import demo_dir
from cxloop.store import migrate
from cxloop.store.db import engine_for, session_scope
from cxloop.store.tables import Touchpoint, Unit
from cxloop.warehouse.connection import connect

__all__ = ["DemoOverview", "PilotReadout", "demo_overview"]


@dataclass(frozen=True)
class PilotReadout:
    """The pilot as the data show it (2x2 NPS cells) beside its true effect."""

    name: str
    region: str
    region_name: str
    branches: int
    start: date
    item: str
    observed_did: float  # NPS points
    observed_se: float
    true_effect: float | None  # NPS points
    true_churn_relative: float | None
    cells: pd.DataFrame  # treated x period: n, NPS


@dataclass(frozen=True)
class DemoOverview:
    """What ``cxloop demo overview`` shows."""

    data_dir: Path
    demo_dir: Path
    truth_path: Path | None
    company: str
    units_per_level: dict[str, int]
    totals: dict[str, float]  # customers, churned, responses, comments, transactions, margin, contacts, cost
    response_period: tuple[str, str]  # first and last response date (ISO), or empty
    responses_by_month: pd.DataFrame  # index touchpoint (journey order), columns month start
    nps: stats.NPSResult
    csat: stats.RatingResult
    ces: stats.RatingResult
    pilot: PilotReadout | None
    top_drivers: dict[str, str] = field(default_factory=dict)  # true, per segment

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (``cxloop demo overview --json``)."""
        pilot = None
        if self.pilot is not None:
            pilot = {
                "name": self.pilot.name,
                "region": self.pilot.region,
                "branches": self.pilot.branches,
                "start": self.pilot.start.isoformat(),
                "observed_did_nps_points": round(self.pilot.observed_did, 2),
                "observed_se": round(self.pilot.observed_se, 2),
                "true_effect_nps_points": self.pilot.true_effect,
            }
        return {
            "company": self.company,
            "data_dir": str(self.data_dir),
            "ground_truth": None if self.truth_path is None else str(self.truth_path),
            "units_per_level": self.units_per_level,
            "totals": self.totals,
            "response_period": list(self.response_period),
            "responses_by_touchpoint": {
                str(k): int(v) for k, v in self.responses_by_month.sum(axis=1).items()
            },
            "nps": {"score": float(self.nps.score), "ci": [float(self.nps.ci_low), float(self.nps.ci_high)]},
            "csat_top2_share": float(self.csat.top_box.share),
            "ces_mean": float(self.ces.mean.mean),
            "pilot": pilot,
            "top_drivers": self.top_drivers,
        }


def _units(settings: Settings) -> tuple[dict[str, int], dict[str, str], list[str], str]:
    engine = engine_for(settings)
    try:
        with session_scope(engine) as session:
            rows = session.execute(
                select(Unit.level, func.min(Unit.depth), func.count()).group_by(Unit.level)
            ).all()
            per_level = {level: count for level, _, count in sorted(rows, key=lambda r: r[1])}
            names = {unit_id: name for unit_id, name in session.execute(select(Unit.unit_id, Unit.name))}
            journey = list(session.scalars(select(Touchpoint.touchpoint_id).order_by(Touchpoint.stage_order)))
            root = session.scalar(select(Unit.name).where(Unit.parent_id.is_(None)).limit(1)) or ""
    finally:
        engine.dispose()
    return per_level, names, journey, root


def _headline(
    responses: ibis.Table, confidence: float
) -> tuple[stats.NPSResult, stats.RatingResult, stats.RatingResult]:
    r = responses
    row = (
        r.aggregate(
            detractors=(r.nps <= 6).sum(),
            passives=((r.nps >= 7) & (r.nps <= 8)).sum(),
            promoters=(r.nps >= 9).sum(),
            csat_n=r.csat.count(),
            csat_satisfied=(r.csat >= stats.CSAT_SATISFIED_MIN).sum(),
            csat_sum=r.csat.sum(),
            csat_sq=(r.csat * r.csat).sum(),
            ces_n=r.ces.count(),
            ces_easy=(r.ces >= stats.CES_EASY_MIN).sum(),
            ces_sum=r.ces.sum(),
            ces_sq=(r.ces * r.ces).sum(),
        )
        .to_pandas()
        .fillna(0)
        .iloc[0]
    )
    nps = stats.nps(row.detractors, row.passives, row.promoters, confidence=confidence)
    csat = stats.csat(row.csat_n, row.csat_satisfied, row.csat_sum, row.csat_sq, confidence=confidence)
    ces = stats.ces(row.ces_n, row.ces_easy, row.ces_sum, row.ces_sq, confidence=confidence)
    return nps, csat, ces


def _by_month(responses: ibis.Table, journey: list[str]) -> pd.DataFrame:
    counts = (
        responses.group_by(touchpoint=responses.touchpoint, month=responses.submitted_at.truncate("M"))
        .aggregate(n=responses.count())
        .to_pandas()
    )
    if counts.empty:
        return pd.DataFrame()
    table = counts.pivot_table(index="touchpoint", columns="month", values="n", aggfunc="sum", fill_value=0)
    order = [t for t in journey if t in table.index] + [t for t in table.index if t not in journey]
    return table.loc[order].astype(int)


def _pilot(
    responses: ibis.Table, truth: dict[str, Any], names: dict[str, str], confidence: float
) -> PilotReadout:
    pilot = truth["pilot"]
    start = date.fromisoformat(pilot["start"])
    r = responses
    treated = r.unit_id.isin(pilot["treated_branches"])
    post = r.submitted_at >= ibis.timestamp(start.isoformat())
    cells = (
        r.group_by(treated=treated, post=post)
        .aggregate(
            detractors=(r.nps <= 6).sum(),
            passives=((r.nps >= 7) & (r.nps <= 8)).sum(),
            promoters=(r.nps >= 9).sum(),
        )
        .to_pandas()
        .set_index(["treated", "post"])
        .sort_index()
        .astype(float)
    )
    full = pd.MultiIndex.from_product([[False, True], [False, True]], names=["treated", "post"])
    cells = cells.reindex(full, fill_value=0.0)
    result = stats.nps(cells.detractors, cells.passives, cells.promoters, confidence=confidence)
    score = pd.Series(np.asarray(result.score, dtype=float), index=full)
    se = pd.Series(np.asarray(result.se, dtype=float), index=full)
    did = (score[True, True] - score[True, False]) - (score[False, True] - score[False, False])
    effects = pilot.get("true_effects", {})
    return PilotReadout(
        name=pilot["name"],
        region=pilot["region"],
        region_name=names.get(pilot["region"], pilot["region"]),
        branches=len(pilot["treated_branches"]),
        start=start,
        item=pilot["item"],
        observed_did=float(did),
        observed_se=float(np.sqrt((se**2).sum())),
        true_effect=effects.get("nps_points"),
        true_churn_relative=effects.get("monthly_churn_relative"),
        cells=pd.DataFrame({"n": np.asarray(result.n, dtype=float), "nps": score}, index=full),
    )


def demo_overview(settings: Settings) -> DemoOverview:
    """Read the demo company back from the stores named by ``settings``.

    Works on any loaded data (the pilot and the true drivers are shown only when the demo's
    ``ground_truth.json`` is in ``<data_dir>/demo``).
    """
    if not migrate.is_up_to_date(settings.resolved_database_url):
        raise LookupError("the app database is not set up yet: run `cxloop demo generate` first")
    per_level, names, journey, root = _units(settings)
    folder = demo_dir(settings)
    truth_path = folder / TRUTH_FILE
    truth = json.loads(truth_path.read_text(encoding="utf-8")) if truth_path.exists() else None
    con = connect(settings)
    try:
        tables = set(con.list_tables())
        missing = {"responses", "customers", "subscriptions", "transactions", "contacts"} - tables
        if missing:
            absent = ", ".join(sorted(missing))
            raise LookupError(f"the warehouse has no {absent} table yet: run `cxloop demo generate` first")
        responses = con.table("responses")
        subscriptions = con.table("subscriptions")
        transactions = con.table("transactions")
        contacts = con.table("contacts")
        totals = {
            "customers": int(con.table("customers").count().to_pyarrow().as_py()),
            "churned": int(subscriptions.ended_at.count().to_pyarrow().as_py()),
            "responses": int(responses.count().to_pyarrow().as_py()),
            "comments": int(responses.comment.count().to_pyarrow().as_py()),
            "transactions": int(transactions.count().to_pyarrow().as_py()),
            "margin": float(transactions.margin.sum().to_pyarrow().as_py() or 0.0),
            "contacts": int(contacts.count().to_pyarrow().as_py()),
            "contact_cost": float(contacts.cost.sum().to_pyarrow().as_py() or 0.0),
        }
        first, last = responses.submitted_at.min(), responses.submitted_at.max()
        window = responses.aggregate(first=first, last=last).to_pandas().iloc[0]
        period = (str(window["first"])[:10], str(window["last"])[:10]) if totals["responses"] else ("", "")
        nps, csat, ces = _headline(responses, settings.confidence)
        by_month = _by_month(responses, journey)
        pilot = (
            _pilot(responses, truth, names, settings.confidence) if truth and totals["responses"] else None
        )
    finally:
        con.disconnect()
    return DemoOverview(
        data_dir=settings.data_dir,
        demo_dir=folder,
        truth_path=truth_path if truth else None,
        company=root,
        units_per_level=per_level,
        totals=totals,
        response_period=period,
        responses_by_month=by_month,
        nps=nps,
        csat=csat,
        ces=ces,
        pilot=pilot,
        top_drivers=dict(truth["drivers"]["nps"]["top_driver"]) if truth else {},
    )
