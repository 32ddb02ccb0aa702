"""Targets per unit, metric and period, set top-down or by the unit itself, and progress against them.

Who may do what (always inside the viewer's subtree; a unit outside it is answered like an unknown one):

* **Read**: anyone, for the units of their subtree.
* **Set / change / delete**: admins, executives and managers. Setting a target for one's own unit is an
  ``own`` target; for a unit below it is ``top_down`` (``set_from_unit_id`` records the setter's unit). A
  top-down target cannot be overwritten or deleted from below the unit that set it
  (:class:`TargetLockedError`, answered 403 with who set it); the setter's unit or one above it may.

**Progress** (:func:`target_progress`): the metric's value so far in the target's period, with its interval,
the gap to the target and a two-sided one-sample test of "value = target": NPS and CSAT with a z test on
the estimate's standard error (the metrics layer's own ``target`` comparison, which reads this table),
CES and driver items with a t test on ``n - 1`` degrees of freedom, churn and repeat purchase with a z test
on the binomial standard error under the target. The verdict is plain: **on track** (significantly on the
good side of the target), **off track** (significantly on the bad side), or **too early to tell** (the
interval still includes the target, too few responses, or the period has not started).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from ibis.backends import BaseBackend
from scipy import stats as sps
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cxloop import stats
from cxloop.config import Settings
from cxloop.services.access.identity import audit_actor
from cxloop.services.access.scope import Viewer, require_unit, visible_units
from cxloop.services.stores import Stores
from cxloop.services.understand.metrics import MetricsQuery, NoDataError, metrics
from cxloop.services.value.kpis import business_kpis
from cxloop.store import units as unit_store
from cxloop.store.audit import Actor, diff, record
from cxloop.store.tables import ActionTarget, Question, Role, Target, TargetOrigin, Unit, utcnow
from cxloop.warehouse.periods import add_periods, period_label, period_start
from cxloop.warehouse.queries.plan_stats import item_window_statistics

__all__ = [
    "GRANULARITIES",
    "HEADLINE_METRICS",
    "MetricSpec",
    "NotAllowedError",
    "TargetDraft",
    "TargetLockedError",
    "TargetNotFoundError",
    "TargetProgress",
    "actor_for",
    "delete_target",
    "get_target",
    "list_targets",
    "metric_spec",
    "period_end",
    "set_target",
    "setter_seen_by",
    "target_dict",
    "target_seen_by",
    "target_progress",
]

#: Period lengths a target can cover.
GRANULARITIES: tuple[str, ...] = ("week", "month", "quarter", "year")
#: Roles that may set targets and create actions (within their subtree).
PLANNERS: frozenset[Role] = frozenset({Role.admin, Role.executive, Role.manager})


class NotAllowedError(PermissionError):
    """The viewer may see this but not change it (answered 403: the message says who can)."""


class TargetLockedError(NotAllowedError):
    """A top-down target set above the viewer's unit: only that unit (or one above it) may change it."""


class TargetNotFoundError(LookupError):
    """No target with this id in the viewer's scope (out of scope is answered the same way)."""

    def __init__(self, target_id: int) -> None:
        self.target_id = target_id
        super().__init__(f"no target {target_id} among the targets you can see")


@dataclass(frozen=True)
class MetricSpec:
    """How a metric reads: its label, the range of its values, and which way is better."""

    name: str
    label: str
    low: float
    high: float
    higher_is_better: bool = True
    kind: str = "cube"  # cube (nps/csat/ces), rate (churn/repeat purchase), item (a driver item's mean)
    top_min: float | None = None  # items: lowest answer in the top box

    @property
    def item(self) -> str | None:
        return self.name.split(":", 1)[1] if self.kind == "item" else None


HEADLINE_METRICS: dict[str, MetricSpec] = {
    "nps": MetricSpec("nps", "NPS", -100.0, 100.0),
    "csat": MetricSpec("csat", "CSAT (% satisfied)", 0.0, 100.0),
    "ces": MetricSpec("ces", "CES (mean effort, higher = easier)", 1.0, 7.0),
    "churn": MetricSpec("churn", "churn (% of subscriptions lost)", 0.0, 100.0, False, "rate"),
    "repeat_purchase": MetricSpec(
        "repeat_purchase", "repeat purchase (% of buyers)", 0.0, 100.0, True, "rate"
    ),
}
#: KPI of :mod:`cxloop.services.value.kpis` behind each rate metric.
RATE_KPIS = {"churn": "churn_rate_subscriptions", "repeat_purchase": "repeat_purchase_rate"}


def metric_spec(session: Session, metric: str) -> MetricSpec:
    """The spec of ``metric``: a headline metric, or ``item:<question_id>`` for a driver item.

    Raises
    ------
    ValueError
        Unknown metric or question (the message lists what can be used).
    """
    metric = (metric or "").strip()
    if metric in HEADLINE_METRICS:
        return HEADLINE_METRICS[metric]
    if metric.startswith("item:"):
        question = session.get(Question, metric[5:])
        if question is None:
            drivers = session.scalars(select(Question.question_id).where(Question.is_driver)).all()
            shown = ", ".join(f"item:{d}" for d in sorted(drivers)[:12])
            raise ValueError(f"unknown question {metric[5:]!r}; driver items: {shown or 'none imported yet'}")
        low = question.scale_min if question.scale_min is not None else 1.0
        high = question.scale_max if question.scale_max is not None else 5.0
        return MetricSpec(metric, question.label or metric, low, high, True, "item", top_min=high - 1.0)
    raise ValueError(
        f"unknown metric {metric!r}; use one of {', '.join(HEADLINE_METRICS)} or item:<question id> "
        "(a driver item's mean)"
    )


def period_end(start: date, granularity: str) -> date:
    """The last day of the period of ``granularity`` that starts on ``start``."""
    return add_periods(start, granularity, 1) - timedelta(days=1)  # type: ignore[arg-type]


def actor_for(session: Session, viewer: Viewer) -> Actor:
    """The audit actor of a viewer: the user, or (no user: the CLI, an API key) an admin at a unit."""
    return audit_actor(session, viewer, otherwise=f"{viewer.role.value}@{viewer.unit_id}")


def _check_planner(viewer: Viewer, what: str) -> None:
    if viewer.role not in PLANNERS:
        raise NotAllowedError(f"a {viewer.role.value} cannot {what}; ask a manager of the unit or an admin")


@dataclass(frozen=True)
class TargetDraft:
    """What a target says. ``period_start`` may be any day of the period: it is snapped to its start."""

    unit_id: str
    metric: str
    granularity: str
    period_start: date
    target_value: float
    rationale: str = ""


def _validated(session: Session, draft: TargetDraft) -> tuple[MetricSpec, date]:
    spec = metric_spec(session, draft.metric)
    if draft.granularity not in GRANULARITIES:
        raise ValueError(f"unknown period {draft.granularity!r}; use one of {', '.join(GRANULARITIES)}")
    value = float(draft.target_value)
    if not math.isfinite(value) or not spec.low <= value <= spec.high:
        raise ValueError(
            f"a {spec.label} target must lie between {spec.low:g} and {spec.high:g}, got {value:g}"
        )
    if len(draft.rationale) > 5000:
        raise ValueError("the rationale is longer than 5,000 characters")
    return spec, period_start(draft.period_start, draft.granularity)  # type: ignore[arg-type]


def _is_strictly_above(session: Session, upper: str, lower: str) -> bool:
    return upper != lower and upper in unit_store.ancestor_ids(session, lower)


def _check_not_locked(session: Session, viewer: Viewer, target: Target, what: str) -> None:
    if target.origin == TargetOrigin.top_down and _is_strictly_above(
        session, target.set_from_unit_id, viewer.unit_id
    ):
        where = setter_seen_by(session, viewer, target)[1]
        who = f"{target.set_by} at {where}" if target.set_by else where
        raise TargetLockedError(
            f"this {target.metric} target for {target.unit_id} was set top-down by {who}: you cannot "
            f"{what} it; ask them (or anyone above) to change it"
        )


def _state(target: Target) -> dict[str, Any]:
    return {
        "unit_id": target.unit_id,
        "metric": target.metric,
        "granularity": target.granularity,
        "period_start": target.period_start.isoformat(),
        "target_value": target.target_value,
        "origin": TargetOrigin(target.origin).value,
        "set_from_unit_id": target.set_from_unit_id,
        "rationale": target.rationale,
    }


def set_target(
    session: Session, viewer: Viewer, draft: TargetDraft, *, now: datetime | None = None
) -> Target:
    """Create the target of ``draft``'s unit, metric and period, or change the one already set.

    Raises
    ------
    ScopeError, UnknownUnitError
        The unit is outside the viewer's subtree or does not exist.
    NotAllowedError
        The viewer's role may not set targets.
    TargetLockedError
        The existing target was set top-down from above the viewer's unit.
    ValueError
        Unknown metric or period, or a value outside the metric's range.
    """
    require_unit(session, viewer, draft.unit_id)
    _check_planner(viewer, "set targets")
    _spec, start = _validated(session, draft)
    now = now or utcnow()
    actor = actor_for(session, viewer)
    origin = TargetOrigin.own if viewer.unit_id == draft.unit_id else TargetOrigin.top_down
    existing = session.scalars(
        select(Target).where(
            Target.unit_id == draft.unit_id,
            Target.metric == draft.metric.strip(),
            Target.granularity == draft.granularity,
            Target.period_start == start,
        )
    ).first()
    if existing is not None:
        _check_not_locked(session, viewer, existing, "overwrite")
        before = _state(existing)
        existing.target_value = float(draft.target_value)
        existing.rationale = draft.rationale
        existing.origin = origin
        existing.set_from_unit_id = viewer.unit_id
        existing.set_by_user_id = actor.user_id
        existing.set_by = actor.label
        existing.updated_at = now
        session.flush()
        changes = diff(before, _state(existing))
        if changes:
            record(
                session,
                entity="target",
                entity_id=existing.id,
                action="updated",
                actor=actor,
                changes=changes,
                at=now,
            )
        return existing
    target = Target(
        unit_id=draft.unit_id,
        metric=draft.metric.strip(),
        granularity=draft.granularity,
        period_start=start,
        target_value=float(draft.target_value),
        origin=origin,
        set_from_unit_id=viewer.unit_id,
        set_by_user_id=actor.user_id,
        set_by=actor.label,
        rationale=draft.rationale,
        created_at=now,
        updated_at=now,
    )
    session.add(target)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise ValueError(
            "a target for this unit, metric and period was set at the same moment; retry"
        ) from None
    record(
        session,
        entity="target",
        entity_id=target.id,
        action="created",
        actor=actor,
        changes=diff({}, _state(target)),
        at=now,
    )
    return target


def get_target(session: Session, viewer: Viewer, target_id: int) -> Target:
    """The target ``target_id`` if its unit is in the viewer's subtree (else :class:`TargetNotFoundError`)."""
    target = session.get(Target, target_id)
    if target is None or target.unit_id not in visible_units(session, viewer):
        raise TargetNotFoundError(target_id)
    return target


def update_target(
    session: Session,
    viewer: Viewer,
    target_id: int,
    *,
    target_value: float | None = None,
    rationale: str | None = None,
    now: datetime | None = None,
) -> Target:
    """Change a target's value or rationale (same rules as :func:`set_target`)."""
    target = get_target(session, viewer, target_id)
    draft = TargetDraft(
        unit_id=target.unit_id,
        metric=target.metric,
        granularity=target.granularity,
        period_start=target.period_start,
        target_value=target.target_value if target_value is None else target_value,
        rationale=target.rationale if rationale is None else rationale,
    )
    return set_target(session, viewer, draft, now=now)


def delete_target(session: Session, viewer: Viewer, target_id: int, *, now: datetime | None = None) -> None:
    """Delete a target (its links to actions go with it; the actions stay). Audited."""
    target = get_target(session, viewer, target_id)
    _check_planner(viewer, "delete targets")
    _check_not_locked(session, viewer, target, "delete")
    state = _state(target)
    record(
        session,
        entity="target",
        entity_id=target.id,
        action="deleted",
        actor=actor_for(session, viewer),
        changes=diff(state, {}),
        at=now or utcnow(),
    )
    session.delete(target)
    session.flush()


def list_targets(
    session: Session,
    viewer: Viewer,
    *,
    unit_id: str | None = None,
    include: str = "subtree",
    metric: str | None = None,
    granularity: str | None = None,
    active_on: date | None = None,
) -> list[Target]:
    """Targets of the viewer's subtree (or of ``unit_id``: the unit alone or its subtree).

    ``active_on`` keeps targets whose period contains that day.
    """
    visible = visible_units(session, viewer)
    if unit_id is not None:
        require_unit(session, viewer, unit_id, visible)
        units = {unit_id} if include == "unit" else set(unit_store.subtree_ids(session, unit_id)) & visible
    else:
        units = set(visible)
    stmt = select(Target).where(Target.unit_id.in_(sorted(units)))
    if metric:
        stmt = stmt.where(Target.metric == metric)
    if granularity:
        stmt = stmt.where(Target.granularity == granularity)
    targets = list(session.scalars(stmt.order_by(Target.period_start.desc(), Target.unit_id, Target.metric)))
    if active_on is not None:
        targets = [
            t for t in targets if t.period_start <= active_on <= period_end(t.period_start, t.granularity)
        ]
    return targets


def setter_seen_by(session: Session, viewer: Viewer, target: Target) -> tuple[str | None, str]:
    """Where a target was set from, as ``viewer`` may know it: ``(unit id, words)``.

    A unit in the viewer's subtree is given by id and name; a unit above it (a top-down target's origin) only
    by its level ("the company", "your region"), never its id or name (``docs/benchmark-policy.md``).
    """
    origin = target.set_from_unit_id
    if origin in visible_units(session, viewer):
        unit = session.get(Unit, origin)
        return origin, unit.name if unit is not None else origin
    unit = session.get(Unit, origin)
    if unit is None or unit.parent_id is None:
        return None, "the company"
    return None, f"your {unit.level}"


def target_seen_by(session: Session, viewer: Viewer, target: Target) -> dict[str, Any]:
    """:func:`target_dict` as ``viewer`` may see it: the unit's name, and where it was set from by level
    when that unit lies above the viewer's subtree."""
    unit = session.get(Unit, target.unit_id)
    return target_dict(target, unit.name if unit else None, setter=setter_seen_by(session, viewer, target))


def target_dict(
    target: Target, unit_name: str | None = None, *, setter: tuple[str | None, str] | None = None
) -> dict[str, Any]:
    """A target as a JSON-ready dict. ``setter`` replaces ``set_from_unit_id`` and gives ``set_from`` (words);
    a viewer's answers use :func:`target_seen_by`."""
    origin_id, origin_words = (
        setter if setter is not None else (target.set_from_unit_id, target.set_from_unit_id)
    )
    return {
        "id": target.id,
        "unit_id": target.unit_id,
        "unit_name": unit_name,
        "metric": target.metric,
        "granularity": target.granularity,
        "period_start": target.period_start.isoformat(),
        "period_end": period_end(target.period_start, target.granularity).isoformat(),
        "period": period_label(target.period_start, target.granularity),  # type: ignore[arg-type]
        "target_value": target.target_value,
        "origin": TargetOrigin(target.origin).value,
        "set_from_unit_id": origin_id,
        "set_from": origin_words,
        "set_by": target.set_by,
        "rationale": target.rationale,
        "action_ids": sorted(link.action_id for link in target.links),
        "created_at": target.created_at.isoformat() if target.created_at else None,
        "updated_at": target.updated_at.isoformat() if target.updated_at else None,
    }


# --- progress --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetProgress:
    """Where a target stands: the value so far with its interval, the gap, the test and the verdict.

    ``gap`` is value - target on the metric's scale; ``verdict`` is ``on_track``, ``off_track`` or
    ``too_early``; ``sentence`` says it in plain words.
    """

    target: dict[str, Any]
    metric_label: str
    higher_is_better: bool
    window_start: str
    window_end: str
    period_state: str  # not_started, running, ended
    n: int | None
    estimate: float | None
    se: float | None
    ci_low: float | None
    ci_high: float | None
    gap: float | None
    p_value: float | None
    test: str
    confidence: float
    suppressed: bool
    verdict: str
    sentence: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _fmt(value: float, spec: MetricSpec) -> str:
    return f"{value:.2f}" if spec.name == "ces" or spec.kind == "item" else f"{value:.1f}"


def _verdict(
    spec: MetricSpec,
    target_value: float,
    estimate: float | None,
    ci: tuple[float | None, float | None],
    p_value: float | None,
    confidence: float,
    state: str,
    n: int | None,
    suppressed: bool,
    min_n: int,
    starts: date,
) -> tuple[str, str]:
    if state == "not_started":
        return "too_early", f"Too early to tell: the period starts on {starts.isoformat()}."
    if suppressed or estimate is None:
        return "too_early", (
            f"Too early to tell: fewer than {min_n} responses (or customers) so far, "
            "so the value is not shown."
        )
    gap = estimate - target_value
    good = gap >= 0 if spec.higher_is_better else gap <= 0
    where = "above" if gap > 0 else "below" if gap < 0 else "at"
    low, high = ci
    interval = (
        f" ({confidence:.0%} interval {_fmt(low, spec)} to {_fmt(high, spec)})"
        if low is not None and high is not None
        else ""
    )
    value = (
        f"{spec.label} is {_fmt(estimate, spec)}{interval}, {where} the target of {_fmt(target_value, spec)}"
    )
    value += f" by {_fmt(abs(gap), spec)} points" if gap else ""
    p_text = (
        "p < 0.001"
        if p_value is not None and p_value < 0.001
        else f"p = {p_value:.3f}"
        if p_value is not None
        else ""
    )
    alpha = 1.0 - confidence
    if p_value is not None and p_value < alpha:
        if good:
            return "on_track", f"On track: {value}; the difference is significant ({p_text}, n = {n:,})."
        return "off_track", f"Off track: {value}; the difference is significant ({p_text}, n = {n:,})."
    lean = "ahead of" if good else "behind"
    return "too_early", (
        f"Too early to tell: {value}, but the interval still includes the target ({p_text}, n = {n:,}); "
        f"so far it leans {lean} it."
    )


def _cube_progress(
    stores: Stores,
    viewer: Viewer,
    target: Target,
    spec: MetricSpec,
    end: date,
) -> dict[str, Any]:
    """The metrics layer's own ``target`` comparison for the target's period (it reads this table)."""
    query = MetricsQuery(
        unit=target.unit_id,
        grain=target.granularity,  # type: ignore[arg-type]
        start=target.period_start,
        end=end,
        metrics=(spec.name,),
        compare=("target",),
    )
    try:
        result = metrics(viewer, query, stores=stores)
    except NoDataError:
        return {"n": None, "suppressed": True}
    cells = result.cells
    row = cells[(cells.unit == target.unit_id) & (cells.period_start == target.period_start.isoformat())]
    if row.empty:
        return {"n": None, "suppressed": True}
    cell = row.iloc[0]
    n = cell["n"]
    return {
        "n": None if pd.isna(n) else int(n),
        "estimate": _finite(cell["estimate"]),
        "se": _finite(cell["se"]),
        "ci_low": _finite(cell["ci_low"]),
        "ci_high": _finite(cell["ci_high"]),
        "p_value": _finite(cell["target_p_value"]),
        "suppressed": bool(cell["suppressed"]),
        "test": "z test on the estimate's standard error" if spec.name != "ces" else "one-sample t test",
    }


def _rate_progress(
    stores: Stores,
    viewer: Viewer,
    target: Target,
    spec: MetricSpec,
    end: date,
) -> dict[str, Any]:
    table = business_kpis(
        viewer,
        stores=stores,
        start=target.period_start,
        end=end,
        units=[target.unit_id],
        categories=False,
    ).frame
    row = table[(table.unit == target.unit_id) & (table.kpi == RATE_KPIS[spec.name])]
    if row.empty or bool(row.iloc[0].suppressed):
        return {"n": None, "suppressed": True}
    cell = row.iloc[0]
    n = float(cell.n)
    share = float(cell.estimate)
    p0 = target.target_value / 100.0
    se0 = math.sqrt(p0 * (1.0 - p0) / n) if n > 0 else float("nan")
    if se0 > 0:
        p_value = float(2.0 * sps.norm.sf(abs(share - p0) / se0))
    else:
        p_value = 0.0 if share != p0 else 1.0
    return {
        "n": int(n),
        "estimate": 100.0 * share,
        "se": 100.0 * math.sqrt(share * (1.0 - share) / n) if n > 0 else None,
        "ci_low": 100.0 * float(cell.ci_low),
        "ci_high": 100.0 * float(cell.ci_high),
        "p_value": p_value,
        "suppressed": False,
        "test": "one-sample z test of a proportion (score test under the target)",
    }


def _item_progress(
    con: BaseBackend, settings: Settings, target: Target, spec: MetricSpec, end: date
) -> dict[str, Any]:
    s = item_window_statistics(
        con,
        unit_id=target.unit_id,
        item=spec.item or "",
        start=target.period_start,
        end=end,
        top_min=spec.top_min or spec.high,
    )
    if s["n"] < settings.min_n:
        return {"n": None, "suppressed": True}
    result = stats.mean(s["n"], s["sum"], s["sumsq"], settings.confidence)
    mean, se = float(result.mean), float(result.se)
    statistic = (
        (mean - target.target_value) / se if se > 0 else (0.0 if mean == target.target_value else math.inf)
    )
    p_value = float(2.0 * sps.t.sf(abs(statistic), s["n"] - 1.0))
    return {
        "n": int(s["n"]),
        "estimate": mean,
        "se": se,
        "ci_low": float(result.ci_low),
        "ci_high": float(result.ci_high),
        "p_value": p_value,
        "suppressed": False,
        "test": "one-sample t test",
    }


def target_progress(
    viewer: Viewer,
    target: Target | int,
    *,
    stores: Stores,
    now: datetime | None = None,
) -> TargetProgress:
    """Progress of one target in the viewer's scope (see the module docstring for the statistics)."""
    settings, session, con = stores.settings, stores.session, stores.warehouse
    if not isinstance(target, Target):
        target = get_target(session, viewer, target)
    elif target.unit_id not in visible_units(session, viewer):
        raise TargetNotFoundError(target.id)
    spec = metric_spec(session, target.metric)
    today = (now or utcnow()).date()
    last = period_end(target.period_start, target.granularity)
    state = "not_started" if today < target.period_start else "ended" if today > last else "running"
    end = min(last, today)
    measured: dict[str, Any] = {"n": None, "suppressed": True, "test": ""}
    if state != "not_started":
        if spec.kind == "cube":
            measured = _cube_progress(stores, viewer, target, spec, end)
        elif spec.kind == "rate":
            measured = _rate_progress(stores, viewer, target, spec, end)
        else:
            measured = _item_progress(con, settings, target, spec, end)
    estimate = measured.get("estimate")
    suppressed = bool(measured.get("suppressed")) or estimate is None
    ci = (measured.get("ci_low"), measured.get("ci_high"))
    verdict, sentence = _verdict(
        spec,
        target.target_value,
        None if suppressed else estimate,
        ci,
        measured.get("p_value"),
        settings.confidence,
        state,
        measured.get("n"),
        suppressed,
        settings.min_n,
        target.period_start,
    )
    return TargetProgress(
        target=target_seen_by(session, viewer, target),
        metric_label=spec.label,
        higher_is_better=spec.higher_is_better,
        window_start=target.period_start.isoformat(),
        window_end=end.isoformat(),
        period_state=state,
        n=None if suppressed else measured.get("n"),
        estimate=None if suppressed else estimate,
        se=None if suppressed else measured.get("se"),
        ci_low=None if suppressed else ci[0],
        ci_high=None if suppressed else ci[1],
        gap=None if suppressed else float(estimate) - target.target_value,  # type: ignore[arg-type]
        p_value=None if suppressed else measured.get("p_value"),
        test=measured.get("test", ""),
        confidence=settings.confidence,
        suppressed=suppressed,
        verdict=verdict,
        sentence=sentence,
    )


def actions_for_target(session: Session, viewer: Viewer, target_id: int) -> list[int]:
    """Ids of the actions linked to a target (the target must be in scope)."""
    get_target(session, viewer, target_id)
    return sorted(session.scalars(select(ActionTarget.action_id).where(ActionTarget.target_id == target_id)))
