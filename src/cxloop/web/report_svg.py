"""Small inline SVG charts for the printable pilot report (no script, nothing fetched, prints crisply).

The interactive report draws the same data with plotly.js; the export must stand alone, so it gets these.
Input: the chart dictionaries built by :mod:`cxloop.web.pages.pilots` (``event_study`` rows with
``relative_period, effect, ci_low, ci_high``; ``means`` rows with ``period, treated_mean, control_mean``;
``scale`` to multiply values by; ``start`` the pilot's first day).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from markupsafe import Markup, escape

__all__ = ["did_svg", "event_study_svg"]

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 12, 36


def _finite(values: Sequence[Any]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _scale(lo: float, hi: float, a: float, b: float):  # noqa: ANN202
    span = (hi - lo) or 1.0
    return lambda v: a + (float(v) - lo) / span * (b - a)


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * step:
            step *= m
            break
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def _frame(y_lo: float, y_hi: float, ylab: str) -> tuple[list[str], Any]:
    pad = (y_hi - y_lo) * 0.08 or 1.0
    y_lo, y_hi = y_lo - pad, y_hi + pad
    y = _scale(y_lo, y_hi, HEIGHT - BOTTOM, TOP)
    parts = [
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - RIGHT}" height="{HEIGHT - TOP - BOTTOM}" '
        'fill="#fff" stroke="#c9ced6"/>'
    ]
    for tick in _ticks(y_lo, y_hi):
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#eef0f3"/>'
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" font-size="11">{tick:g}</text>'
        )
    parts.append(
        f'<text x="12" y="{TOP + (HEIGHT - TOP - BOTTOM) / 2:.0f}" font-size="11" '
        f'transform="rotate(-90 12 {TOP + (HEIGHT - TOP - BOTTOM) / 2:.0f})" text-anchor="middle">'
        f"{escape(ylab)}</text>"
    )
    return parts, y


def _svg(parts: list[str], title: str) -> Markup:
    body = "".join(parts)
    return Markup(  # noqa: S704 - every text piece above is escaped or numeric
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{escape(title)}" font-family="system-ui, sans-serif">{body}</svg>'
    )


def event_study_svg(chart: dict[str, Any]) -> Markup:
    """Effect per month relative to the start, with interval bars; the month before the start is 0."""
    rows = [r for r in chart.get("event_study", []) if r.get("effect") is not None]
    if not rows:
        return Markup("<p>No event study.</p>")
    scale = float(chart.get("scale", 1.0))
    ks = [int(r["relative_period"]) for r in rows]
    lows = _finite([(r.get("ci_low") if r.get("ci_low") is not None else r["effect"]) for r in rows])
    highs = _finite([(r.get("ci_high") if r.get("ci_high") is not None else r["effect"]) for r in rows])
    y_lo, y_hi = min([0.0, *lows]) * scale, max([0.0, *highs]) * scale
    parts, y = _frame(y_lo, y_hi, f"effect ({chart.get('label', '')})")
    x = _scale(min(ks) - 0.5, max(ks) + 0.5, LEFT, WIDTH - RIGHT)
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#5a6372"/>'
        f'<line x1="{x(-0.5):.1f}" x2="{x(-0.5):.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" stroke="#b42318" '
        'stroke-dasharray="4 3"/>'
    )
    for r, k in zip(rows, ks, strict=True):
        colour = "#177245" if k >= 0 else "#1d2430"
        if r.get("ci_low") is not None and r.get("ci_high") is not None:
            parts.append(
                f'<line x1="{x(k):.1f}" x2="{x(k):.1f}" y1="{y(r["ci_low"] * scale):.1f}" '
                f'y2="{y(r["ci_high"] * scale):.1f}" stroke="{colour}" stroke-opacity=".5"/>'
            )
        parts.append(f'<circle cx="{x(k):.1f}" cy="{y(r["effect"] * scale):.1f}" r="3" fill="{colour}"/>')
    for k in ks:
        if k % 3 == 0:
            parts.append(
                f'<text x="{x(k):.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="11" '
                f'text-anchor="middle">{k}</text>'
            )
    parts.append(
        f'<text x="{(LEFT + WIDTH) / 2:.0f}" y="{HEIGHT - 6}" font-size="11" text-anchor="middle">'
        "months relative to the start</text>"
    )
    return _svg(parts, f"Event study: {chart.get('label', '')}")


def did_svg(chart: dict[str, Any]) -> Markup:
    """Mean of the outcome per month in the pilot units and in the controls, the start marked."""
    rows = chart.get("means", [])
    if not rows:
        return Markup("<p>No group means.</p>")
    scale = float(chart.get("scale", 1.0))
    values = _finite([r.get("treated_mean") for r in rows] + [r.get("control_mean") for r in rows])
    if not values:
        return Markup("<p>No group means.</p>")
    parts, y = _frame(min(values) * scale, max(values) * scale, chart.get("label", ""))
    x = _scale(-0.5, len(rows) - 0.5, LEFT, WIDTH - RIGHT)
    start = str(chart.get("start", ""))[:7]
    for i, r in enumerate(rows):
        if str(r["period"])[:7] == start:
            parts.append(
                f'<line x1="{x(i - 0.5):.1f}" x2="{x(i - 0.5):.1f}" y1="{TOP}" y2="{HEIGHT - BOTTOM}" '
                'stroke="#b42318" stroke-dasharray="4 3"/>'
            )
        if i % 3 == 0:
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="11" text-anchor="middle">'
                f"{escape(str(r['period'])[:7])}</text>"
            )
    for key, colour, name in (
        ("treated_mean", "#177245", "pilot units"),
        ("control_mean", "#1d2430", "controls"),
    ):
        points = [
            f"{x(i):.1f},{y(r[key] * scale):.1f}"
            for i, r in enumerate(rows)
            if r.get(key) is not None and math.isfinite(float(r[key]))
        ]
        parts.append(
            f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        legend_x = LEFT + 10 if key == "treated_mean" else LEFT + 110
        parts.append(
            f'<rect x="{legend_x}" y="{TOP + 6}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{legend_x + 14}" y="{TOP + 15}" font-size="11">{name}</text>'
        )
    return _svg(parts, f"Pilot units and controls: {chart.get('label', '')}")
