"""Pilots for a viewer: define, list, analyse (impact against a control group, ROI) and decide.

Scope: a viewer sees a pilot when at least one of its treated units (the pilot's or a wave's) lies in
their subtree, so a region manager sees the pilots touching their region and no other; creating a pilot
needs every unit in it (and every named control) inside the viewer's subtree. A pilot's result is the
same whoever looks at it: the controls named with the pilot, or else matched among every unit at the
treated units' level; those outside the viewer's subtree are counted in the report, never named.

:func:`analyze_pilot` builds a unit x month panel for the pilot's units and the candidate controls:

- **NPS** from the metrics cube (:func:`cxloop.warehouse.queries.cube.metric_cube`; weights = NPS answers);
- **monthly churn** from ``subscriptions`` (share of the subscriptions active at the start of the month
  that end in it; weights = active subscriptions), when the warehouse has any;
- **margin per customer-month** and **repurchase** (customers buying in the month) from ``transactions``
  over the active subscriptions, when it has both;

chooses the controls (:mod:`cxloop.services.prove.controls`), fits :class:`cxloop.stats.impact.PilotImpact`
on each, and turns the churn and margin effects into an ROI (:func:`cxloop.stats.roi.pilot_roi`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from ibis.backends import BaseBackend
from scipy import stats as sps
from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.services.access.scope import ScopeError, Viewer, require_unit, visible_units
from cxloop.services.prove.controls import ACCEPTABLE_SMD, pre_period_features, select_controls
from cxloop.stats.impact import ASSUMPTIONS, PilotImpact
from cxloop.stats.roi import ROIResult, kept_customer_margin, pilot_roi, roi_sensitivity
from cxloop.store import audit
from cxloop.store import pilots as store
from cxloop.store.pilots import PilotDraft, PilotStoreError
from cxloop.store.tables import Pilot, Role, Unit
from cxloop.warehouse.queries.cube import CubeQuery, metric_cube

__all__ = [
    "PilotAnalysis",
    "PilotDraft",
    "PilotNotFoundError",
    "PilotPermissionError",
    "PilotStoreError",
    "add_wave",
    "analyze_pilot",
    "create_pilot",
    "decide",
    "get_pilot",
    "list_pilots",
    "pilot_dict",
    "programme",
]


class PilotNotFoundError(LookupError):
    """No pilot with this id or name in the viewer's scope (the same answer whether it exists or not)."""


class PilotPermissionError(PermissionError):
    """The viewer's role may look at pilots but not change them (frontline staff)."""


def _require_change(viewer: Viewer) -> None:
    if viewer.role == Role.frontline:
        raise PilotPermissionError("frontline accounts can read pilots but not create or decide them")


def _actor(viewer: Viewer, label: str = "") -> audit.Actor:
    return audit.Actor(label=label or f"{viewer.role.value} at {viewer.unit_id}", user_id=viewer.user_id)


def _touches(pilot: Pilot, visible: frozenset[str]) -> bool:
    return any(u.role == store.TREATED and u.unit_id in visible for u in pilot.units)


def pilot_dict(pilot: Pilot) -> dict[str, Any]:
    """A pilot as plain data (what ``show --json`` prints and the API will return)."""
    return {
        "id": pilot.id,
        "name": pilot.name,
        "hypothesis": pilot.hypothesis,
        "start_date": pilot.start_date.isoformat(),
        "end_date": pilot.end_date.isoformat() if pilot.end_date else None,
        "one_off_cost": pilot.one_off_cost,
        "running_cost": pilot.running_cost,
        "units": store.pilot_unit_ids(pilot),
        "controls": store.pilot_unit_ids(pilot, store.CONTROL),
        "touchpoints": list(pilot.touchpoints or []),
        "segments": list(pilot.segments or []),
        "target_metrics": list(pilot.target_metrics or []),
        "linked_actions": list(pilot.linked_actions or []),
        "waves": [
            {
                "id": w.id,
                "name": w.name,
                "start_date": w.start_date.isoformat(),
                "units": store.pilot_unit_ids(pilot, wave_id=w.id),
                "one_off_cost": w.one_off_cost,
                "running_cost": w.running_cost,
            }
            for w in pilot.waves
        ],
        "decisions": [
            {
                "decision": str(d.decision),
                "note": d.note,
                "decided_by": d.decided_by,
                "decided_at": d.decided_at.isoformat(),
                "wave_id": d.wave_id,
            }
            for d in pilot.decisions
        ],
    }


def create_pilot(session: Session, viewer: Viewer, draft: store.PilotDraft, *, actor: str = "") -> Pilot:
    """Create a pilot whose units (and named controls) all lie in the viewer's subtree (audited)."""
    _require_change(viewer)
    visible = visible_units(session, viewer)
    for unit_id in (*draft.units, *draft.controls):
        require_unit(session, viewer, unit_id, visible)
    pilot = store.create_pilot(session, draft)
    audit.record(
        session,
        entity="pilot",
        entity_id=pilot.id,
        action="create",
        actor=_actor(viewer, actor),
        changes={"name": [None, pilot.name], "units": [None, ",".join(draft.units)]},
    )
    return pilot


def list_pilots(session: Session, viewer: Viewer) -> list[Pilot]:
    """The pilots touching the viewer's subtree."""
    visible = visible_units(session, viewer)
    return [p for p in store.list_pilots(session) if _touches(p, visible)]


def get_pilot(session: Session, viewer: Viewer, pilot: int | str) -> Pilot:
    """One pilot by id or name, if it touches the viewer's subtree."""
    found = store.get_pilot(session, pilot)
    if found is None or not _touches(found, visible_units(session, viewer)):
        raise PilotNotFoundError(f"no pilot {pilot!r} in your scope")
    return found


def decide(
    session: Session,
    viewer: Viewer,
    pilot: int | str,
    decision: str,
    *,
    note: str = "",
    decided_by: str = "",
    wave: int | None = None,
) -> Pilot:
    """Record scale, iterate or stop on a pilot (or one of its waves) the viewer can see (audited)."""
    _require_change(viewer)
    found = get_pilot(session, viewer, pilot)
    if wave is not None and wave not in {w.id for w in found.waves}:
        raise PilotNotFoundError(f"pilot {found.name!r} has no wave {wave}")
    row = store.record_decision(session, found, decision, note=note, decided_by=decided_by, wave_id=wave)
    audit.record(
        session,
        entity="pilot",
        entity_id=found.id,
        action="decide",
        actor=_actor(viewer, decided_by),
        changes={"decision": [None, str(row.decision)], "wave_id": [None, wave]},
        note=note or None,
    )
    return found


def add_wave(
    session: Session,
    viewer: Viewer,
    pilot: int | str,
    *,
    name: str,
    start_date: date,
    units: list[str],
    actor: str = "",
    **costs: Any,
) -> Pilot:
    """Add a rollout wave (its units must lie in the viewer's subtree; audited)."""
    _require_change(viewer)
    found = get_pilot(session, viewer, pilot)
    visible = visible_units(session, viewer)
    for unit_id in units:
        require_unit(session, viewer, unit_id, visible)
    wave = store.add_wave(session, found, name=name, start_date=start_date, units=units, **costs)
    audit.record(
        session,
        entity="pilot",
        entity_id=found.id,
        action="add_wave",
        actor=_actor(viewer, actor),
        changes={"wave": [None, wave.name], "units": [None, ",".join(units)]},
    )
    return found


# --- analysis --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PilotAnalysis:
    """What ``cxloop pilot analyze`` reports: impact per metric, balance, ROI, and the assumptions."""

    pilot: str
    start: date
    treated: tuple[str, ...]
    controls: tuple[str, ...]
    control_method: str
    balance: pd.DataFrame
    impacts: dict[str, dict[str, Any]]
    event_studies: dict[str, pd.DataFrame]
    roi: ROIResult | None
    sensitivity: pd.DataFrame | None
    inference: str
    hidden_controls: int = 0  # controls outside the viewer's subtree: counted, never named
    per_treated: int = 2
    # the largest |SMD| before the start (feature, value), and a closer automatic match when one exists:
    # {"per_treated": k, "largest_difference": |SMD|}
    imbalance: tuple[str, float] | None = None
    better_match: dict[str, Any] | None = None
    assumptions: str = ASSUMPTIONS
    notes: tuple[str, ...] = field(default=())
    group_means: dict[str, pd.DataFrame] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def records(frame: pd.DataFrame | None) -> list[dict[str, Any]]:
            if frame is None:
                return []
            return [
                {str(k): (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
                for row in frame.to_dict(orient="records")
            ]

        return {
            "pilot": self.pilot,
            "start": self.start.isoformat(),
            "treated": list(self.treated),
            "controls": list(self.controls),
            "hidden_controls": self.hidden_controls,
            "n_controls": self.n_controls,
            "control_method": self.control_method,
            "per_treated": self.per_treated,
            "balanced": self.balanced,
            "largest_difference": None
            if self.imbalance is None
            else {"feature": self.imbalance[0], "smd": self.imbalance[1]},
            "better_match": self.better_match,
            "balance": records(self.balance),
            "impacts": self.impacts,
            "event_studies": {k: records(v) for k, v in self.event_studies.items()},
            "roi": self.roi.to_dict() if self.roi else None,
            "sensitivity": records(self.sensitivity),
            "inference": self.inference,
            "assumptions": self.assumptions,
            "notes": list(self.notes),
            "group_means": {k: records(v) for k, v in self.group_means.items()},
            "plain_words": self.plain_words(),
        }

    @property
    def n_controls(self) -> int:
        """Every control unit, named or outside the viewer's subtree."""
        return len(self.controls) + self.hidden_controls

    @property
    def balanced(self) -> bool:
        """Every standardised difference before the start is below the acceptable 0.25."""
        return self.imbalance is None or self.imbalance[1] < ACCEPTABLE_SMD

    def plain_words(self) -> str:
        """The result in plain words, for the report: what moved, how sure we are, what it returns."""
        names = {
            "nps": ("NPS", "points", 1.0),
            "churn": ("monthly churn", "percentage points", 100.0),
            "margin_per_customer": ("margin per customer a month", "in money", 1.0),
            "repurchase": ("the share of customers buying each month", "percentage points", 100.0),
        }
        sentences = []
        for metric, res in self.impacts.items():
            label, unit, scale = names.get(metric, (metric, "", 1.0))
            effect, low, high = res["effect"] * scale, res["ci_low"] * scale, res["ci_high"] * scale
            if low > 0 or high < 0:
                verdict = "a clear " + ("rise" if effect > 0 else "fall")
            else:
                verdict = "no clear change"
            trend = (
                " Before the start the groups were drifting apart, so treat this with caution."
                if res["pre_trend_p_value"] < 0.05
                else ""
            )
            sentences.append(
                f"{label[0].upper() + label[1:]}: {verdict} ({effect:+.2f} {unit}, {res['confidence']:.0%} "
                f"interval {low:+.2f} to {high:+.2f}) in the {len(self.treated)} pilot units compared with "
                f"{self.n_controls} similar units.{trend}".replace("  ", " ")
            )
        if self.impacts and not self.balanced and self.imbalance is not None:
            feature, smd = self.imbalance
            closer = ""
            if self.better_match:
                k, diff = self.better_match["per_treated"], self.better_match["largest_difference"]
                closer = (
                    f" A closer match exists: {k} control{'s' if k > 1 else ''} per pilot unit brings the "
                    f"largest difference to {diff:.2f}."
                )
            sentences.append(
                f"Caution: before the start the pilot and control units were not alike (standardised "
                f"difference {smd:.2f} in {feature.replace('_', ' ')}, above the {ACCEPTABLE_SMD} this "
                f"report accepts), so the comparison may be biased.{closer}"
            )
        if self.roi is not None:
            sentences.append(
                f"Return: {self.roi.roi:+.0%} on the cost over {self.roi.horizon_months} months "
                f"(interval {self.roi.roi_low:+.0%} to {self.roi.roi_high:+.0%}; chance it pays: "
                f"{self.roi.probability_positive:.0%})."
            )
        return " ".join(sentences)

    def summary(self) -> str:
        lines = [
            f"Pilot {self.pilot!r} from {self.start}: {len(self.treated)} treated, "
            f"{self.n_controls} control units ({self.control_method})"
        ]
        for metric, res in self.impacts.items():
            lines.append(
                f"  {metric}: effect {res['effect']:+.4g} ({res['confidence']:.0%} CI "
                f"{res['ci_low']:+.4g} to {res['ci_high']:+.4g}), {_p_text(res['p_value'])} "
                f"[{res['inference']}], pre-trend p = {res['pre_trend_p_value']:.3g}"
            )
        if self.roi is not None:
            lines.append("  " + self.roi.summary_text())
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


def _p_text(p: float) -> str:
    # A resampling p-value of 0 means no draw was as extreme: below the resolution, not zero.
    return "p < 0.001" if p == 0 else f"p = {p:.3g}"


def _month(day: date) -> pd.Timestamp:
    return pd.Timestamp(day.year, day.month, 1)


def _nps_panel(con: BaseBackend, pilot: Pilot, units: list[str], end: date | None) -> pd.DataFrame:
    query = CubeQuery(
        by=("unit", "period"),
        grain="month",
        units=frozenset(units),
        end=end,
        touchpoints=frozenset(pilot.touchpoints) if pilot.touchpoints else None,
        segments=frozenset(pilot.segments) if pilot.segments else None,
        metrics=("nps",),
    )
    cube = metric_cube(con, query)
    n = cube["nps_n"].astype(float)
    return pd.DataFrame(
        {
            "unit": cube["unit"],
            "period": pd.to_datetime(cube["period"]),
            "nps": np.where(
                n > 0, 100.0 * (cube["nps_promoters"] - cube["nps_detractors"]) / n.where(n > 0), np.nan
            ),
            "nps_n": n,
        }
    )


def _behaviour_panel(con: BaseBackend, units: list[str], months: list[pd.Timestamp]) -> pd.DataFrame | None:
    """Monthly churn and margin per active subscription, per unit; None without subscriptions."""
    if "subscriptions" not in con.list_tables() or not months:
        return None
    subs = con.table("subscriptions")
    subs = subs.filter(subs.unit_id.isin(units)).select("unit_id", "started_at", "ended_at").to_pandas()
    if subs.empty:
        return None
    started = pd.to_datetime(subs["started_at"])
    ended = pd.to_datetime(subs["ended_at"])
    margin = None
    if "transactions" in con.list_tables():
        tx = con.table("transactions")
        tx = tx.filter(tx.unit_id.isin(units) & tx.margin.notnull())
        tx = tx.group_by(unit_id=tx.unit_id, period=tx.occurred_at.truncate("M")).aggregate(
            margin=tx.margin.sum(), buyers=tx.customer_id.nunique()
        )
        margin = tx.to_pandas()
        margin["period"] = pd.to_datetime(margin["period"]).dt.tz_localize(None).astype("datetime64[ns]")
    rows = []
    for month in months:
        nxt = month + pd.offsets.MonthBegin(1)
        active = (started < month) & (ended.isna() | (ended >= month))
        churned = active & ended.notna() & (ended < nxt)
        frame = pd.DataFrame({"unit": subs["unit_id"], "active": active, "churned": churned})
        agg = frame.groupby("unit", as_index=False)[["active", "churned"]].sum()
        agg["period"] = month
        rows.append(agg)
    panel = pd.concat(rows, ignore_index=True)
    panel["period"] = panel["period"].astype("datetime64[ns]")
    panel["churn"] = np.where(
        panel["active"] > 0, panel["churned"] / panel["active"].where(panel["active"] > 0), np.nan
    )
    if margin is not None:
        panel = panel.merge(margin.rename(columns={"unit_id": "unit"}), on=["unit", "period"], how="left")
        panel["margin"] = panel["margin"].fillna(0.0)
        panel["buyers"] = panel["buyers"].fillna(0)
        per_active = panel["active"].where(panel["active"] > 0)
        panel["margin_per_customer"] = np.where(panel["active"] > 0, panel["margin"] / per_active, np.nan)
        # customers buying in the month per active subscription (capped at 1)
        panel["repurchase"] = np.where(
            panel["active"] > 0, np.minimum(panel["buyers"] / per_active, 1.0), np.nan
        )
    return panel


def _fit(panel: pd.DataFrame, outcome: str, weight: str, kwargs: dict[str, Any]) -> PilotImpact:
    return PilotImpact(**kwargs).fit(
        panel, outcome=outcome, unit="unit", period="period", treated="treated", post="post", weights=weight
    )


def _impact_dict(fit: PilotImpact) -> dict[str, Any]:
    res = fit.result()
    out = {
        k: (float(v) if isinstance(v, (int, float, np.floating)) and not isinstance(v, bool) else v)
        for k, v in res.__dict__.items()
    }
    out["n_treated"], out["n_control"], out["n_periods"] = res.n_treated, res.n_control, res.n_periods
    return out


def analyze_pilot(
    session: Session,
    con: BaseBackend,
    viewer: Viewer,
    pilot: int | str,
    *,
    inference: str = "wild_cluster",
    controls: list[str] | None = None,
    per_treated: int = 2,
    confidence: float = 0.95,
    n_resamples: int = 999,
    horizon_months: int | None = None,
    discount_rate: float = 0.1,
    wave: int | None = None,
    clv_margin: float | None = None,
    random_state: int = 0,
) -> PilotAnalysis:
    """Estimate the pilot's (or one wave's) impact against a control group and its ROI.

    Parameters
    ----------
    controls : list of str, optional
        Controls named by the user; default: matched automatically (see :mod:`cxloop.services.prove.controls`)
        among the visible units at the treated units' level that are in no treated group of this pilot.
    wave : int, optional
        Analyse this rollout wave (its units and start) instead of the pilot itself.
    clv_margin : float, optional
        Value of a kept customer for the ROI. Default: the mean ``clv`` in ``customer_value`` of the
        treated units' customers with P(alive) >= 0.5 (``cxloop clv score``, on the value it was run with:
        use ``--value margin``) when that table has any; else the geometric retained-customer margin from
        the treated units' pre-period margin per customer-month and churn.
    """
    found = get_pilot(session, viewer, pilot)
    visible = visible_units(session, viewer)
    start, one_off, running, end = found.start_date, found.one_off_cost, found.running_cost, found.end_date
    if wave is not None:
        waves = {w.id: w for w in found.waves}
        if wave not in waves:
            raise PilotNotFoundError(f"pilot {found.name!r} has no wave {wave}")
        w = waves[wave]
        start, one_off, running, end = w.start_date, w.one_off_cost, w.running_cost, w.end_date
    treated = store.pilot_unit_ids(found, wave_id=wave)
    if controls:
        for unit_id in controls:
            if unit_id not in visible:
                raise ScopeError(unit_id, viewer)
    else:
        # the controls named when the pilot (or wave) was defined, by someone whose scope held them
        controls = store.pilot_unit_ids(found, store.CONTROL, wave_id=wave) or None
    all_treated = {u.unit_id for u in found.units if u.role == store.TREATED}
    levels = set(session.scalars(select(Unit.level).where(Unit.unit_id.in_(treated))))
    # A pilot's result does not depend on who looks at it: its controls are matched among all the units at
    # the treated units' level. Controls outside the viewer's subtree enter the comparison only as part of
    # the control group's aggregates; the report counts them without naming them (hidden_controls).
    candidates = sorted(
        u for u in session.scalars(select(Unit.unit_id).where(Unit.level.in_(levels))) if u not in all_treated
    )
    if not candidates and not controls:
        raise ValueError(
            "no unit can serve as a control: every unit at the pilot units' level is in the pilot"
        )
    units = sorted(set(treated) | set(candidates) | set(controls or []))
    notes: list[str] = []
    nps = _nps_panel(con, found, units, end)
    if nps.empty:
        raise PilotNotFoundError(f"no responses for pilot {found.name!r}'s units")
    start_month = _month(start)
    months = sorted(nps["period"].unique())
    behaviour = _behaviour_panel(con, units, [pd.Timestamp(m) for m in months])
    metrics = ["nps"]
    panel = nps
    if behaviour is not None:
        panel = nps.merge(behaviour, on=["unit", "period"], how="outer")
        metrics.append("churn")
    else:
        notes.append("no subscriptions in the warehouse: churn and ROI not estimated")
    features = pre_period_features(
        panel.fillna({"nps_n": 0}),
        unit="unit",
        period="period",
        metrics=metrics,
        weight="nps_n",
        before=start_month,
    )
    selection = select_controls(
        features,
        treated,
        candidates=candidates,
        named=controls,
        per_treated=per_treated,
        random_state=random_state,
    )
    imbalance, better = selection.largest_difference, None
    if not controls and imbalance is not None and imbalance[1] >= ACCEPTABLE_SMD:
        # another number of neighbours per pilot unit: offered when it balances the groups better
        for k in (k for k in range(1, 6) if k != per_treated):
            closer = select_controls(
                features, treated, candidates=candidates, per_treated=k, random_state=random_state
            ).largest_difference
            if closer is not None and closer[1] < imbalance[1] and (better is None or closer[1] < better[1]):
                better = (k, closer[1])
    chosen = set(treated) | set(selection.controls)
    panel = panel[panel["unit"].isin(chosen)].copy()
    panel["treated"] = panel["unit"].isin(treated)
    panel["post"] = panel["period"] >= start_month
    kwargs = {
        "inference": inference,
        "confidence": confidence,
        "n_resamples": n_resamples,
        "random_state": random_state,
    }
    impacts: dict[str, dict[str, Any]] = {}
    studies: dict[str, pd.DataFrame] = {}
    fits: dict[str, PilotImpact] = {}
    means: dict[str, pd.DataFrame] = {}
    outcomes = [("nps", "nps_n")]
    if behaviour is not None:
        outcomes.append(("churn", "active"))
        if "margin_per_customer" in panel:
            outcomes.extend([("margin_per_customer", "active"), ("repurchase", "active")])
    for outcome, weight in outcomes:
        data = panel[panel[outcome].notna() & (panel[weight] > 0)]
        try:
            fit = _fit(data, outcome, weight, kwargs)
        except ValueError as exc:
            notes.append(f"{outcome}: not estimated ({exc})")
            continue
        fits[outcome] = fit
        impacts[outcome] = _impact_dict(fit)
        studies[outcome] = fit.event_study_
        means[outcome] = _group_means(data, outcome, weight)
    roi = sensitivity = None
    if "churn" in fits and (one_off + running) > 0:
        roi, sensitivity = _roi(
            panel,
            fits,
            treated,
            start_month,
            one_off,
            running,
            confidence,
            discount_rate,
            horizon_months or _horizon(start, end, months),
            clv_margin if clv_margin is not None else _scored_clv(con, treated, notes),
        )
    elif "churn" in fits:
        notes.append("the pilot has no cost recorded: ROI not computed")
    return PilotAnalysis(
        pilot=found.name,
        start=start,
        treated=tuple(treated),
        controls=tuple(u for u in selection.controls if u in visible),
        hidden_controls=sum(u not in visible for u in selection.controls),
        per_treated=per_treated,
        imbalance=imbalance,
        better_match=None if better is None else {"per_treated": better[0], "largest_difference": better[1]},
        control_method=selection.method,
        balance=selection.balance,
        impacts=impacts,
        event_studies=studies,
        roi=roi,
        sensitivity=sensitivity,
        inference=inference,
        notes=tuple(notes),
        group_means=means,
    )


def _group_means(data: pd.DataFrame, outcome: str, weight: str) -> pd.DataFrame:
    """Weighted mean of ``outcome`` per period in the pilot units and in the controls (for the DiD chart)."""
    frame = data.assign(_wy=data[outcome] * data[weight])
    sums = frame.groupby(["period", "treated"])[["_wy", weight]].sum()
    mean = (sums["_wy"] / sums[weight]).unstack("treated")
    out = pd.DataFrame(
        {
            "period": mean.index,
            "treated_mean": mean.get(True, pd.Series(np.nan, index=mean.index)).to_numpy(),
            "control_mean": mean.get(False, pd.Series(np.nan, index=mean.index)).to_numpy(),
        }
    )
    return out.reset_index(drop=True)


def _scored_clv(con: BaseBackend, treated: list[str], notes: list[str]) -> float | None:
    """Mean CLV of the treated units' likely-alive customers from ``customer_value``, if scored."""
    if "customer_value" not in con.list_tables() or "customers" not in con.list_tables():
        return None
    values, customers = con.table("customer_value"), con.table("customers")
    mine = customers.filter(customers.unit_id.isin(treated)).select("customer_id")
    scored = values.join(mine, "customer_id").filter(values.p_alive >= 0.5)
    mean = scored.clv.mean().execute()
    if mean is None or not np.isfinite(float(mean)):
        return None
    notes.append(f"value of a kept customer: mean CLV of the treated units' customers ({float(mean):,.0f})")
    return float(mean)


def _horizon(start: date, end: date | None, months: list[Any]) -> int:
    last = pd.Timestamp(end) if end else pd.Timestamp(max(months))
    return max(1, (last.year - start.year) * 12 + last.month - start.month + (0 if end else 1))


def _se_from_ci(fit: PilotImpact) -> float:
    z = float(sps.norm.ppf(0.5 + float(fit.confidence) / 2))
    low, high = fit.ci_
    if not (np.isfinite(low) and np.isfinite(high)):
        return float(fit.se_)
    return float((high - low) / (2 * z))


def _roi(
    panel: pd.DataFrame,
    fits: dict[str, PilotImpact],
    treated: list[str],
    start_month: pd.Timestamp,
    one_off: float,
    running: float,
    confidence: float,
    discount_rate: float,
    horizon: int,
    clv_margin: float | None,
) -> tuple[ROIResult, pd.DataFrame]:
    mine = panel[panel["unit"].isin(treated)]
    at_start = mine[mine["period"] == start_month]
    customers = float(at_start["active"].sum()) if not at_start.empty else float(mine["active"].max())
    pre = mine[mine["period"] < start_month]
    pre_churn = float(pre["churned"].sum() / pre["active"].sum()) if pre["active"].sum() > 0 else 0.0
    monthly_margin = (
        float(pre["margin"].sum() / pre["active"].sum()) if "margin" in pre and pre["active"].sum() else 0.0
    )
    monthly_churn = min(max(pre_churn, 0.0), 0.99)
    # A kept customer's whole value (a scored CLV, or --clv-margin) becomes the margin it brings a month
    # while it stays, so the ROI counts only what is earned within the horizon.
    kept_margin = (
        max(monthly_margin, 0.0)
        if clv_margin is None
        else kept_customer_margin(clv_margin, monthly_churn, discount_rate)
    )
    churn = fits["churn"]
    spend = fits.get("margin_per_customer")
    kwargs: dict[str, Any] = {
        "customers": customers,
        "kept_margin": kept_margin,
        "monthly_churn": monthly_churn,
        "retention_uplift": -churn.effect_,
        "retention_uplift_se": _se_from_ci(churn),
        "spend_uplift": spend.effect_ if spend else 0.0,
        "spend_uplift_se": _se_from_ci(spend) if spend else 0.0,
        "one_off_cost": one_off,
        "running_cost": running,
        "confidence": confidence,
    }
    result = pilot_roi(horizon_months=horizon, discount_rate=discount_rate, **kwargs)
    grid = roi_sensitivity(
        discount_rates=(0.0, 0.05, 0.1, 0.15), horizons=(6, 12, 24, 36), n_draws=2_000, **kwargs
    )
    return result, grid


def programme(
    session: Session,
    con: BaseBackend,
    viewer: Viewer,
    *,
    inference: str = "wild_cluster",
    n_resamples: int = 499,
    discount_rate: float = 0.1,
) -> pd.DataFrame:
    """Every pilot and wave in the viewer's scope with its NPS impact, ROI and latest decision.

    Each wave is measured like its pilot (its own units, start, controls and costs) and benchmarked
    against the pilot's ROI (``roi_vs_pilot`` = wave ROI - pilot ROI). A pilot or wave that cannot be
    analysed yet (no data after its start, say) gets a row with the reason in ``note``.
    """
    rows: list[dict[str, Any]] = []
    for pilot in list_pilots(session, viewer):
        decisions = {d.wave_id: str(d.decision) for d in pilot.decisions}
        pilot_roi_value = float("nan")
        for wave in [None, *[w.id for w in pilot.waves]]:
            row: dict[str, Any] = {
                "pilot_id": pilot.id,
                "pilot": pilot.name,
                "wave_id": wave,
                "wave": None,
                "start": pilot.start_date,
                "note": "",
                # every row has every column, measured or not (a page reads them by name)
                **dict.fromkeys(
                    ("nps_effect", "nps_ci_low", "nps_ci_high", "nps_p_value", "roi", "roi_low", "roi_high"),
                    None,
                ),
                "roi_vs_pilot": None,
            }
            if wave is not None:
                w = next(x for x in pilot.waves if x.id == wave)
                row.update(wave=w.name, start=w.start_date)
            row["units"] = len(store.pilot_unit_ids(pilot, wave_id=wave))
            row["decision"] = decisions.get(wave)
            try:
                analysis = analyze_pilot(
                    session,
                    con,
                    viewer,
                    pilot.id,
                    inference=inference,
                    n_resamples=n_resamples,
                    discount_rate=discount_rate,
                    wave=wave,
                )
            except (ValueError, LookupError) as exc:
                row["note"] = str(exc)
                rows.append(row)
                continue
            nps = analysis.impacts.get("nps", {})
            row.update(
                nps_effect=nps.get("effect"),
                nps_ci_low=nps.get("ci_low"),
                nps_ci_high=nps.get("ci_high"),
                nps_p_value=nps.get("p_value"),
            )
            if analysis.roi is not None:
                row.update(roi=analysis.roi.roi, roi_low=analysis.roi.roi_low, roi_high=analysis.roi.roi_high)
                if wave is None:
                    pilot_roi_value = analysis.roi.roi
                elif np.isfinite(pilot_roi_value):
                    row["roi_vs_pilot"] = analysis.roi.roi - pilot_roi_value
            rows.append(row)
    return pd.DataFrame(rows)
