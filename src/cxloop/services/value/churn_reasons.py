"""Churn reasons in plain words: the feature groups explanations speak about and one sentence per group.

:func:`reason_groups` groups the point-in-time features (:mod:`cxloop.warehouse.queries.churn_features`) into
the things a manager would name ("NPS", "unresolved contacts", "purchases"...); :func:`reason_text` turns a
customer's own values for one group into words ("three unresolved contacts in 30 days", "NPS fell from 9
to 4"); :func:`top_reasons` picks, per customer, the groups with the largest positive what-if contribution
(:func:`cxloop.stats.churn.what_if_contributions`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["reason_groups", "reason_text", "top_reasons"]

# --- reasons in words -----------------------------------------------------------------------------------

_NUMBERS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")


def _count(n: float, noun: str) -> str:
    k = int(round(n))
    word = _NUMBERS[k] if 0 <= k < len(_NUMBERS) else str(k)
    return f"{word} {noun}{'' if k == 1 else 's'}"


def reason_groups(features: Sequence[str]) -> dict[str, list[str]]:
    """The feature groups explanations speak about (each becomes one reason in words)."""
    present = set(features)
    groups = {
        "nps": ["nps_latest", "nps_previous", "nps_change", "nps_mean_365d"],
        "satisfaction_effort": ["csat_latest", "csat_change", "ces_latest", "ces_change"],
        "feedback_recency": ["days_since_response", "responses_365d"],
        "unresolved_contacts": ["unresolved_30d", "unresolved_90d"],
        "contacts": ["contacts_30d", "contacts_90d", "contacts_prev_90d", "contact_cost_90d"],
        "complaints": ["complaints_90d", "negative_themes_180d", "comment_sentiment_latest"],
        "purchases": ["days_since_purchase", "purchases_90d", "purchases_prev_90d", "purchase_trend"],
        "spend": ["spend_90d", "spend_prev_90d", "spend_trend", "margin_365d"],
        "products": ["products_365d"],
        "driver_items": sorted(f for f in present if f.startswith("item_")),
        "tenure": ["tenure_days"],
        "segment": ["segment", "monthly_fee"],
    }
    return {
        name: [c for c in cols if c in present]
        for name, cols in groups.items()
        if any(c in present for c in cols)
    }


def _num(row: pd.Series, name: str) -> float | None:
    value = row.get(name)
    if value is None or (isinstance(value, float) and math.isnan(value)) or pd.isna(value):
        return None
    return float(value)


def reason_text(group: str, row: pd.Series) -> str:
    """One reason in plain words from the customer's own feature values."""
    v = lambda name: _num(row, name)  # noqa: E731
    if group == "nps":
        latest, previous = v("nps_latest"), v("nps_previous")
        if latest is None:
            return "no NPS answer on record"
        if previous is not None and previous - latest >= 2:
            return f"NPS fell from {previous:.0f} to {latest:.0f}"
        if latest <= 6:
            return f"a detractor: last NPS answer {latest:.0f}"
        return f"last NPS answer {latest:.0f}"
    if group == "satisfaction_effort":
        csat, ces = v("csat_latest"), v("ces_latest")
        parts = []
        if csat is not None:
            parts.append(f"satisfaction {csat:.0f} of 5")
        if ces is not None:
            parts.append(f"ease {ces:.0f} of 7")
        return ("low " if (csat or 5) <= 3 or (ces or 7) <= 3 else "") + (
            " and ".join(parts) + " at the last survey" if parts else "no satisfaction answer on record"
        )
    if group == "feedback_recency":
        days = v("days_since_response")
        return "never answered a survey" if days is None else f"no survey answer for {days:.0f} days"
    if group == "unresolved_contacts":
        n30, n90 = v("unresolved_30d") or 0, v("unresolved_90d") or 0
        if n30 > 0:
            return f"{_count(n30, 'unresolved contact')} in 30 days"
        return f"{_count(n90, 'unresolved contact')} in 90 days"
    if group == "contacts":
        n90, cost = v("contacts_90d") or 0, v("contact_cost_90d") or 0
        return f"{_count(n90, 'service contact')} in 90 days (cost to serve {cost:.0f})"
    if group == "complaints":
        complaints, themes = v("complaints_90d") or 0, v("negative_themes_180d") or 0
        if complaints > 0:
            return f"{_count(complaints, 'complaint')} in 90 days"
        if themes > 0:
            return f"{_count(themes, 'negative comment theme')} in 180 days"
        sentiment = v("comment_sentiment_latest")
        return "negative last comment" if sentiment is not None and sentiment < 0 else "no complaints"
    if group == "purchases":
        now, before, days = v("purchases_90d") or 0, v("purchases_prev_90d") or 0, v("days_since_purchase")
        if before > now:
            return f"purchases fell from {before:.0f} to {now:.0f} (last 90 days vs the 90 before)"
        return "no purchase on record" if days is None else f"last purchase {days:.0f} days ago"
    if group == "spend":
        now, before = v("spend_90d") or 0, v("spend_prev_90d") or 0
        if before > now:
            return f"spend fell from {before:,.0f} to {now:,.0f} (last 90 days vs the 90 before)"
        return f"spend {now:,.0f} in the last 90 days"
    if group == "products":
        return f"holds {_count(v('products_365d') or 0, 'product')} (bought in the last year)"
    if group == "driver_items":
        items = {c: _num(row, c) for c in row.index if str(c).startswith("item_")}
        scored = {c: x for c, x in items.items() if x is not None}
        if not scored:
            return "no driver ratings on record"
        worst = min(scored, key=lambda c: scored[c])
        return f"low {worst.removeprefix('item_').replace('_', ' ')} rating ({scored[worst]:.0f} of 10)"
    if group == "tenure":
        days = v("tenure_days") or 0
        return f"new customer ({days:.0f} days)" if days < 365 else f"customer for {days / 365.25:.1f} years"
    if group == "segment":
        return f"{row.get('segment')} segment (its base churn rate)"
    return group.replace("_", " ")


def top_reasons(
    contributions: pd.DataFrame, frame: pd.DataFrame, top: int, min_contribution: float = 0.001
) -> list[list[dict[str, Any]]]:
    groups = [c for c in contributions.columns if c != "risk"]
    values = contributions[groups].to_numpy()
    order = np.argsort(-values, axis=1)[:, :top]
    out = []
    for i in range(len(frame)):
        row = frame.iloc[i]
        reasons = []
        for j in order[i]:
            delta = float(values[i, j])
            if delta < min_contribution:
                break
            reasons.append({"group": groups[j], "text": reason_text(groups[j], row), "risk_points": delta})
        out.append(reasons)
    return out
