"""The measured change of an action: its linked metric before vs after it started (observational).

The linked metric is the action's driver item (``item:<driver>``, a mean) when it has one, else the metric
of its expected impact, else NPS; it is measured in the action's unit's subtree, at its touchpoint if one
is linked. Window **before**: the ``w`` days before the start; window **after**: the ``w`` days from it
(default 90). While fewer than ``w`` days have passed, both windows shrink to the days so far, so they
always have the same length.

Tests: NPS with :func:`cxloop.stats.nps_difference` (Rocks 2016); CSAT, churn and repeat purchase with the
pooled two-proportion z test and Newcombe's interval; CES and item means with Welch's t test (an item also
gets its top-box share, the top two scale points). Either window under ``min_n`` responses (customers for
rates): nothing is shown.

A before/after comparison is observational: whatever else changed at the same time is in it. Causal
proof needs a pilot with a control group (:mod:`cxloop.services.prove.pilots`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from ibis.backends import BaseBackend

from cxloop import stats
from cxloop.config import Settings
from cxloop.services.access.scope import Viewer
from cxloop.services.act.targets import RATE_KPIS, MetricSpec
from cxloop.services.stores import Stores
from cxloop.services.value.kpis import business_kpis
from cxloop.store.tables import Action
from cxloop.warehouse.queries.cube import CubeQuery, metric_cube
from cxloop.warehouse.queries.plan_stats import item_window_statistics

__all__ = ["CAVEAT", "DEFAULT_WINDOW_DAYS", "MeasuredChange", "WindowValue", "change_chart", "measure"]

DEFAULT_WINDOW_DAYS = 90
CAVEAT = (
    "A before/after comparison is observational: anything else that changed at the same time (season, other "
    "actions, the mix of customers) is in it too. To prove the action caused the change, run it as a pilot "
    "against a control group (`cxloop pilot create`)."
)


@dataclass(frozen=True)
class WindowValue:
    """The metric over one window (``None`` where suppressed)."""

    start: str
    end: str
    n: int | None
    estimate: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class MeasuredChange:
    """Before/after change of an action's linked metric (observational: see the module docstring)."""

    action_id: int
    metric: str
    metric_label: str
    unit_id: str
    touchpoint_id: str | None
    window_days: int
    state: str  # not_started, measured, suppressed
    before: WindowValue | None
    after: WindowValue | None
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    test: str
    confidence: float
    significant: bool | None
    sentence: str
    caveat: str = CAVEAT
    top_box: dict[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Windows:
    """What one metric's two windows gave: (n, estimate, low, high) each, and the difference test."""

    values: tuple[tuple[float, float, float, float], tuple[float, float, float, float]]
    difference: tuple[float, float, float, float]  # difference, low, high, p-value
    test: str
    top_box: dict[str, Any] | None = None


def _f(value: Any) -> float:
    return float(value)


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _cube(
    con: BaseBackend, spec: MetricSpec, action: Action, windows: list[tuple[date, date]], confidence: float
) -> _Windows:
    cells: list[dict[str, float]] = []
    for start, end in windows:
        cube = metric_cube(
            con,
            CubeQuery(
                by=("unit",),
                units=frozenset({action.unit_id}),
                start=start,
                end=end,
                metrics=(spec.name,),
                touchpoints=frozenset({action.touchpoint_id}) if action.touchpoint_id else None,
            ),
        )
        row = cube[cube.unit == action.unit_id]
        columns = [c for c in cube.columns if c.startswith(spec.name)]
        cells.append({c: float(row[c].iloc[0]) if not row.empty else 0.0 for c in columns})
    a, b = cells
    if spec.name == "nps":
        ra = stats.nps(a["nps_detractors"], a["nps_passives"], a["nps_promoters"], confidence)
        rb = stats.nps(b["nps_detractors"], b["nps_passives"], b["nps_promoters"], confidence)
        d = stats.nps_difference(rb, ra, confidence)
        return _Windows(
            values=(
                (a["nps_n"], _f(ra.score), _f(ra.ci_low), _f(ra.ci_high)),
                (b["nps_n"], _f(rb.score), _f(rb.ci_low), _f(rb.ci_high)),
            ),
            difference=(_f(d.difference), _f(d.ci_low), _f(d.ci_high), _f(d.p_value)),
            test="NPS difference z test (Rocks 2016)",
        )
    if spec.name == "csat":
        pa = stats.top_box(a["csat_top2"], a["csat_n"], confidence)
        pb = stats.top_box(b["csat_top2"], b["csat_n"], confidence)
        p = stats.proportion_difference(pb, pa, confidence)
        return _Windows(
            values=(
                (a["csat_n"], 100 * _f(pa.share), 100 * _f(pa.ci_low), 100 * _f(pa.ci_high)),
                (b["csat_n"], 100 * _f(pb.share), 100 * _f(pb.ci_low), 100 * _f(pb.ci_high)),
            ),
            difference=(100 * _f(p.difference), 100 * _f(p.ci_low), 100 * _f(p.ci_high), _f(p.p_value)),
            test="two-proportion z test",
        )
    ma = stats.mean(a["ces_n"], a["ces_sum"], a["ces_sumsq"], confidence)
    mb = stats.mean(b["ces_n"], b["ces_sum"], b["ces_sumsq"], confidence)
    m = stats.mean_difference(mb, ma, confidence)
    return _Windows(
        values=(
            (a["ces_n"], _f(ma.mean), _f(ma.ci_low), _f(ma.ci_high)),
            (b["ces_n"], _f(mb.mean), _f(mb.ci_low), _f(mb.ci_high)),
        ),
        difference=(_f(m.difference), _f(m.ci_low), _f(m.ci_high), _f(m.p_value)),
        test="Welch t test",
    )


def _item(
    con: BaseBackend, spec: MetricSpec, action: Action, windows: list[tuple[date, date]], confidence: float
) -> _Windows:
    top_min = spec.top_min if spec.top_min is not None else spec.high
    s = [
        item_window_statistics(
            con,
            unit_id=action.unit_id,
            item=spec.item or "",
            start=start,
            end=end,
            top_min=top_min,
            touchpoints=[action.touchpoint_id] if action.touchpoint_id else None,
        )
        for start, end in windows
    ]
    ma = stats.mean(s[0]["n"], s[0]["sum"], s[0]["sumsq"], confidence)
    mb = stats.mean(s[1]["n"], s[1]["sum"], s[1]["sumsq"], confidence)
    m = stats.mean_difference(mb, ma, confidence)
    pa = stats.top_box(s[0]["top"], s[0]["n"], confidence)
    pb = stats.top_box(s[1]["top"], s[1]["n"], confidence)
    box = stats.proportion_difference(pb, pa, confidence)
    top = {
        "definition": f"share of answers {top_min:g} or higher",
        "before": _num(100 * _f(pa.share)),
        "after": _num(100 * _f(pb.share)),
        "difference": _num(100 * _f(box.difference)),
        "ci_low": _num(100 * _f(box.ci_low)),
        "ci_high": _num(100 * _f(box.ci_high)),
        "p_value": _num(box.p_value),
    }
    return _Windows(
        values=(
            (s[0]["n"], _f(ma.mean), _f(ma.ci_low), _f(ma.ci_high)),
            (s[1]["n"], _f(mb.mean), _f(mb.ci_low), _f(mb.ci_high)),
        ),
        difference=(_f(m.difference), _f(m.ci_low), _f(m.ci_high), _f(m.p_value)),
        test="Welch t test on the item's mean",
        top_box=top,
    )


def _rate(
    stores: Stores,
    viewer: Viewer,
    spec: MetricSpec,
    action: Action,
    windows: list[tuple[date, date]],
) -> _Windows:
    results = []
    for start, end in windows:
        table = business_kpis(
            viewer,
            stores=stores,
            start=start,
            end=end,
            units=[action.unit_id],
            categories=False,
        ).frame
        row = table[(table.unit == action.unit_id) & (table.kpi == RATE_KPIS[spec.name])]
        n = _num(row.n.iloc[0]) if not row.empty else None
        total = _num(row.total.iloc[0]) if n else None
        results.append(stats.proportion(total or 0.0, n or 0.0, stores.settings.confidence))
    ra, rb = results
    p = stats.proportion_difference(rb, ra, stores.settings.confidence)
    return _Windows(
        values=(
            (_f(ra.n), 100 * _f(ra.share), 100 * _f(ra.ci_low), 100 * _f(ra.ci_high)),
            (_f(rb.n), 100 * _f(rb.share), 100 * _f(rb.ci_low), 100 * _f(rb.ci_high)),
        ),
        difference=(100 * _f(p.difference), 100 * _f(p.ci_low), 100 * _f(p.ci_high), _f(p.p_value)),
        test="two-proportion z test",
    )


def measure(
    viewer: Viewer,
    action: Action,
    spec: MetricSpec,
    *,
    stores: Stores,
    window_days: int,
    today: date,
) -> MeasuredChange:
    """The measured change of ``action`` on ``spec`` as of ``today`` (the caller checked scope)."""
    settings, con = stores.settings, stores.warehouse

    def result(state: str, days: int, sentence: str, **numbers: Any) -> MeasuredChange:
        values: dict[str, Any] = {
            "before": None, "after": None, "difference": None, "ci_low": None, "ci_high": None,
            "p_value": None, "test": "", "significant": None, "top_box": None,
        }  # fmt: skip
        values.update(numbers)
        return MeasuredChange(
            action_id=action.id,
            metric=spec.name,
            metric_label=spec.label,
            unit_id=action.unit_id,
            touchpoint_id=action.touchpoint_id,
            window_days=days,
            state=state,
            confidence=settings.confidence,
            sentence=sentence,
            **values,
        )

    started = action.started_at or (action.completed_at if action.status == "done" else None)
    if started is None:
        return result(
            "not_started",
            window_days,
            "Not started yet: the change is measured from the day the action goes in progress.",
        )
    start = started.date()
    days = max(0, min(window_days, (today - start).days))
    if days < 1:
        return result(
            "not_started", window_days, "Started today: come back once there are responses after the start."
        )
    windows = [
        (start - timedelta(days=days), start - timedelta(days=1)),
        (start, start + timedelta(days=days - 1)),
    ]
    if spec.kind == "cube":
        measured = _cube(con, spec, action, windows, settings.confidence)
    elif spec.kind == "item":
        measured = _item(con, spec, action, windows, settings.confidence)
    else:
        measured = _rate(stores, viewer, spec, action, windows)
    small = any(v[0] < settings.min_n for v in measured.values)
    before, after = (
        WindowValue(
            start=w[0].isoformat(),
            end=w[1].isoformat(),
            n=None if small else int(v[0]),
            estimate=None if small else _num(v[1]),
            ci_low=None if small else _num(v[2]),
            ci_high=None if small else _num(v[3]),
        )
        for w, v in zip(windows, measured.values, strict=True)
    )
    if small:
        return result(
            "suppressed",
            days,
            f"Not enough data: fewer than {settings.min_n} responses (or customers) in the {days} days "
            "before or after the start, so nothing is shown.",
            before=before,
            after=after,
            test=measured.test,
        )
    difference, low, high, p_value = (_num(x) for x in measured.difference)
    significant = p_value is not None and p_value < 1.0 - settings.confidence
    sentence = _sentence(
        spec, action, before, after, days, difference, low, high, p_value, significant, settings
    )
    return result(
        "measured",
        days,
        sentence,
        before=before,
        after=after,
        difference=difference,
        ci_low=low,
        ci_high=high,
        p_value=p_value,
        test=measured.test,
        significant=significant,
        top_box=measured.top_box,
    )


def _sentence(
    spec: MetricSpec,
    action: Action,
    before: WindowValue,
    after: WindowValue,
    days: int,
    difference: float | None,
    low: float | None,
    high: float | None,
    p_value: float | None,
    significant: bool,
    settings: Settings,
) -> str:
    digits = 2 if spec.kind == "item" or spec.name == "ces" else 1

    def f(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.{digits}f}"

    where = action.unit_id + (f" at touchpoint {action.touchpoint_id}" if action.touchpoint_id else "")
    if p_value is None:
        p_text = "no test"
    else:
        p_text = "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"
    text = (
        f"{spec.label} in {where} was {f(before.estimate)} (n = {before.n or 0:,}) in the {days} days "
        f"before the action started and {f(after.estimate)} (n = {after.n or 0:,}) in the {days} days after: "
        f"{'+' if (difference or 0) >= 0 else ''}{f(difference)} ({settings.confidence:.0%} interval "
        f"{f(low)} to {f(high)}, {p_text})."
    )
    if significant:
        better = (difference or 0) > 0 if spec.higher_is_better else (difference or 0) < 0
        text += " The change is significant" + (
            " and in the right direction." if better else ", but the wrong way."
        )
    else:
        text += " No significant change so far."
    return text


def change_chart(change: MeasuredChange) -> dict[str, Any]:
    """Before/after points with interval bars, for the action page's plotly chart."""
    if change.before is None or change.after is None or change.before.estimate is None:
        return {"x": [], "y": [], "low": [], "high": [], "label": change.metric_label}
    points = [("before", change.before), ("after", change.after)]
    return {
        "x": [f"{name} ({p.start} to {p.end})" for name, p in points],
        "y": [p.estimate for _, p in points],
        "low": [p.ci_low for _, p in points],
        "high": [p.ci_high for _, p in points],
        "label": change.metric_label,
        "confidence": f"{change.confidence:.0%}",
    }
