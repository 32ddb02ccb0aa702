"""Business KPIs for a viewer: churn, retention, repeat purchase, CLV, CAC, cost to serve, margin,
penetration.

One call, :func:`business_kpis`, gives a long table (unit [x segment] x KPI) for a window of days, each
rate with its n and Wilson interval and each mean with its n and Student t interval, rolled up so that a
unit's cell covers its subtree. Definitions are in :mod:`cxloop.warehouse.queries.kpis`.
:func:`retention_curve` gives the share of subscriptions still active ``t`` months after they started.

**Anonymity.** The n of a cell is its number of customers; cells under ``settings.min_n`` customers are
suppressed, together with any cell that would let a suppressed one be worked out by subtraction
(:mod:`cxloop.services.access.suppression`, per segment slice). A KPI whose own n (for example the customers
at risk of churning) is under ``min_n`` is suppressed in that cell as well.

Share of wallet is not computed: it needs the customer's spend with competitors, which the warehouse does
not hold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from ibis.backends import BaseBackend

from cxloop import stats
from cxloop.services.access.scope import ScopeError, Viewer, visible_units
from cxloop.services.access.suppression import Hierarchy, suppressed_cells
from cxloop.services.stores import Stores
from cxloop.warehouse.periods import Grain, add_periods, check_grain, period_label, period_range
from cxloop.warehouse.queries.kpis import customer_facts, kpi_statistics, penetration_counts, retention_counts

__all__ = ["KPIS", "KpiTable", "business_kpis", "kpis_by_period", "retention_curve"]

#: KPI name -> (kind, numerator / total column, n column). Rates use Wilson, means Student t.
KPIS: dict[str, tuple[str, str, str]] = {
    "churn_rate_subscriptions": ("rate", "sub_churned", "sub_at_risk"),
    "churn_rate_inactivity": ("rate", "inactive_churned", "prev_active"),
    "repeat_purchase_rate": ("rate", "repeater", "buyer"),
    "clv": ("mean", "clv", "scored"),
    "cac": ("mean", "acquisition_cost", "acquired"),
    "cost_to_serve": ("mean", "contact_cost", "customers"),
    "margin_per_buyer": ("mean", "margin", "buyer"),
    "revenue_per_buyer": ("mean", "revenue", "buyer"),
}
_COLUMNS = ["unit", "kpi", "n", "estimate", "ci_low", "ci_high", "total", "suppressed"]


@dataclass(frozen=True)
class KpiTable:
    """KPIs per cell in long form.

    ``frame`` columns: ``unit``, [``segment``], ``kpi``, ``n``, ``estimate``, ``ci_low``, ``ci_high``,
    ``total`` (the sum behind a mean: total CLV, total margin, total cost; the count for a rate) and
    ``suppressed`` (then every number is NaN). ``customers`` is a KPI too (its estimate is the count).
    """

    frame: pd.DataFrame
    start: date
    end: date
    confidence: float
    min_n: int

    def to_frame(self) -> pd.DataFrame:
        return self.frame

    def wide(self, column: str = "estimate") -> pd.DataFrame:
        """One row per cell, one column per KPI."""
        index = [c for c in ("unit", "segment") if c in self.frame.columns]
        return self.frame.pivot_table(
            index=index, columns="kpi", values=column, aggfunc="first", dropna=False
        )

    def summary(self) -> str:
        return (
            f"Business KPIs {self.start} to {self.end} ({self.confidence:.0%} intervals; cells under "
            f"{self.min_n} customers suppressed)\n"
            + self.wide().to_string(float_format=lambda v: f"{v:,.3f}")
        )

    def to_dict(self) -> dict[str, Any]:
        records = self.frame.replace({np.nan: None}).to_dict(orient="records")
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "cells": records}


def _hierarchy(con: BaseBackend, visible: frozenset[str]) -> Hierarchy:
    units = con.table("units")
    tree = con.execute(units.filter(units.unit_id.isin(sorted(visible))).select("unit_id", "parent_id"))
    known = set(tree.unit_id)
    return Hierarchy.from_parents(
        {str(u): (str(p) if p in known else None) for u, p in zip(tree.unit_id, tree.parent_id, strict=True)}
    )


def _rows(cells: pd.DataFrame, keys: list[str], confidence: float) -> list[pd.DataFrame]:
    out = []
    for kpi, (kind, total_column, n_column) in KPIS.items():
        n = cells[n_column].to_numpy(float)
        total = cells[total_column].to_numpy(float)
        if kind == "rate":
            rate = stats.proportion(total, n, confidence)
            estimate, low, high = rate.share, rate.ci_low, rate.ci_high
        else:
            average = stats.mean(n, total, cells[f"{total_column}_sq"].to_numpy(float), confidence)
            estimate, low, high = average.mean, average.ci_low, average.ci_high
        frame = cells[keys].copy()
        frame["kpi"] = kpi
        frame["n"] = n
        frame["estimate"] = np.asarray(estimate, dtype=float)
        frame["ci_low"] = np.asarray(low, dtype=float)
        frame["ci_high"] = np.asarray(high, dtype=float)
        frame["total"] = total
        out.append(frame)
    counts = cells[keys].copy()
    counts["kpi"] = "customers"
    counts["n"] = counts["estimate"] = counts["total"] = cells.customers.to_numpy(float)
    counts["ci_low"] = counts["ci_high"] = np.nan
    return [counts, *out]


def business_kpis(
    viewer: Viewer,
    *,
    stores: Stores,
    start: date,
    end: date,
    units: Iterable[str] | None = None,
    by_segment: bool = False,
    categories: bool = True,
) -> KpiTable:
    """The KPIs of every unit the viewer sees (or of ``units``), for the window ``[start, end]``.

    Parameters
    ----------
    viewer : Viewer
        Scope: cells and customers are limited to the viewer's subtree before any query runs.
    stores : Stores
        The app database (scope), the warehouse, and the settings' ``confidence`` and ``min_n``.
    start, end : date
        First and last day of the window (inclusive).
    units : collection of str, optional
        Report only these units' cells (each covering its subtree); all must be visible.
    by_segment : bool
        One cell per unit and customer segment.
    categories : bool
        Add ``penetration:<category>`` rates.

    Raises
    ------
    ScopeError
        A unit of ``units`` is outside the viewer's subtree.
    """
    settings, session, con = stores.settings, stores.session, stores.warehouse
    visible = visible_units(session, viewer)
    if units is not None:
        outside = sorted(set(units) - visible)
        if outside:
            raise ScopeError(outside[0], viewer)
    facts = customer_facts(con, start=start, end=end, units=visible)
    cells = kpi_statistics(con, facts, units=visible, by_segment=by_segment)
    keys = ["unit", "segment"] if by_segment else ["unit"]
    rows = _rows(cells, keys, settings.confidence)
    if categories:
        held = penetration_counts(con, end=end, units=visible, by_segment=by_segment)
        if not held.empty:
            base = cells[[*keys, "customers"]]
            held = held.merge(base, on=keys, how="right")
            for category, group in held.dropna(subset=["category"]).groupby("category"):
                group = base.merge(group[[*keys, "holders"]], on=keys, how="left").fillna({"holders": 0})
                result = stats.proportion(group.holders.to_numpy(float), group.customers.to_numpy(float))
                frame = group[keys].copy()
                frame["kpi"] = f"penetration:{category}"
                frame["n"] = group.customers.to_numpy(float)
                frame["estimate"] = np.asarray(result.share, dtype=float)
                frame["ci_low"] = np.asarray(result.ci_low, dtype=float)
                frame["ci_high"] = np.asarray(result.ci_high, dtype=float)
                frame["total"] = group.holders.to_numpy(float)
                rows.append(frame)
    table = pd.concat(rows, ignore_index=True)
    hierarchy = _hierarchy(con, visible)
    table = table[table.unit.isin(hierarchy.unit_ids)].reset_index(drop=True)
    customers = cells[cells.unit.isin(hierarchy.unit_ids)]
    flags = suppressed_cells(
        customers, hierarchy, settings.min_n, n_column="customers", slice_columns=keys[1:], unit_column="unit"
    )
    hidden = customers.loc[flags.to_numpy(), keys]
    cell_hidden = (
        table.merge(hidden.assign(_hidden=True), on=keys, how="left")._hidden.fillna(False).to_numpy(bool)
    )
    small = table.n.to_numpy(float) < settings.min_n
    table["suppressed"] = cell_hidden | small
    table.loc[table.suppressed, ["n", "estimate", "ci_low", "ci_high", "total"]] = np.nan
    if units is not None:
        table = table[table.unit.isin(set(units))]
    table = table[[*keys, *_COLUMNS[1:]]].sort_values([*keys, "kpi"]).reset_index(drop=True)
    return KpiTable(frame=table, start=start, end=end, confidence=settings.confidence, min_n=settings.min_n)


def kpis_by_period(
    viewer: Viewer,
    *,
    stores: Stores,
    start: date,
    end: date,
    grain: Grain = "quarter",
    units: Iterable[str] | None = None,
    by_segment: bool = False,
) -> pd.DataFrame:
    """:func:`business_kpis` for every whole period of ``grain`` from ``start``'s to ``end``'s.

    One long table with ``period`` (its label, e.g. ``2025-Q1``) and ``period_start`` columns in front;
    each period is its own window (churn at risk at its start, repeat purchases within it ...).
    """
    check_grain(grain)
    frames = []
    for first in period_range(start, end, grain):
        last = add_periods(first, grain, 1) - timedelta(days=1)
        table = business_kpis(
            viewer,
            stores=stores,
            start=first,
            end=last,
            units=units,
            by_segment=by_segment,
        )
        frames.append(table.frame.assign(period=period_label(first, grain), period_start=first))
    frame = pd.concat(frames, ignore_index=True)
    return frame[
        ["period", "period_start", *[c for c in frame.columns if c not in ("period", "period_start")]]
    ]


def retention_curve(
    viewer: Viewer,
    *,
    stores: Stores,
    as_of: date,
    months: int = 12,
    unit: str | None = None,
) -> pd.DataFrame:
    """Share of subscriptions still active ``t = 0..months`` months after they started, with Wilson intervals.

    Columns ``t``, ``at_risk``, ``retained``, ``share``, ``ci_low``, ``ci_high``, ``suppressed`` for
    ``unit`` (default: the viewer's unit), whose cell covers its subtree. Points with fewer than
    ``min_n`` subscriptions at risk are suppressed.
    """
    settings, session, con = stores.settings, stores.session, stores.warehouse
    visible = visible_units(session, viewer)
    focus = unit or viewer.unit_id
    if focus not in visible:
        raise ScopeError(focus, viewer)
    counts = retention_counts(con, as_of=as_of, months=months, units=visible)
    curve = (
        counts[counts.unit == focus]
        .set_index("t")
        .reindex(range(months + 1))
        .fillna({"at_risk": 0, "retained": 0})
        .rename_axis("t")
        .reset_index()
    )
    result = stats.proportion(
        curve.retained.to_numpy(float), curve.at_risk.to_numpy(float), settings.confidence
    )
    curve = curve[["t", "at_risk", "retained"]].astype({"at_risk": int, "retained": int})
    curve["share"] = np.asarray(result.share, dtype=float)
    curve["ci_low"] = np.asarray(result.ci_low, dtype=float)
    curve["ci_high"] = np.asarray(result.ci_high, dtype=float)
    curve["suppressed"] = curve.at_risk < settings.min_n
    curve.loc[curve.suppressed, ["share", "ci_low", "ci_high"]] = np.nan
    return curve
