"""Business KPIs as sufficient statistics per unit subtree (and segment), computed in the engine.

:func:`customer_facts` puts one row per customer (home unit, segment) with what they did in a window
``[start, end]``: purchase days, revenue and margin, service-contact cost, whether they were acquired in
the window and at what cost, subscription churn, inactivity churn and their latest CLV score.
:func:`kpi_statistics` joins those rows to ``unit_closure`` (``unit_id`` -> every ``ancestor_id``) and sums
counts, sums and sums of squares per ancestor, so each unit's cell covers its whole subtree;
:mod:`cxloop.stats` turns them into rates with Wilson intervals and means with t intervals.

Definitions (all per customer of the cell, by home unit ``customers.unit_id``):

``customers``
    customers acquired on or before ``end`` (or with no acquisition date).
``churn (subscriptions)``
    at risk: a subscription active at ``start``; churned: none of those still active after ``end``.
``churn (inactivity)``
    at risk: a purchase in the window of the same length just before ``start``; churned: no purchase in
    ``[start, end]``.
``repeat purchase``
    buyers: at least one purchase day in the window; repeaters: at least two.
``CAC``
    ``acquisition_cost`` of customers acquired in the window.
``cost to serve``
    contact cost in the window per customer (zeros included).
``margin``, ``revenue``
    per buyer in the window.
``CLV``
    the customer's stored score in ``customer_value`` (``cxloop clv score``), scored customers only.
``penetration``
    share of customers with a purchase in a category on or before ``end``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

__all__ = [
    "FACT_SUMS",
    "customer_facts",
    "kpi_statistics",
    "penetration_counts",
    "retention_counts",
    "scoped_customers",
    "subscription_durations",
]

#: The per-customer columns summed per cell (with ``<name>_sq`` sums of squares for the means).
FACT_SUMS: tuple[str, ...] = (
    "sub_at_risk",
    "sub_churned",
    "prev_active",
    "inactive_churned",
    "buyer",
    "repeater",
    "acquired",
    "acquisition_cost",
    "contact_cost",
    "revenue",
    "margin",
    "scored",
    "clv",
)
_SQUARED = ("acquisition_cost", "contact_cost", "revenue", "margin", "clv")


def _stamp(day: date) -> ir.TimestampScalar:
    return ibis.literal(datetime.combine(day, time()), type="timestamp")


def scoped_customers(con: BaseBackend, units: Iterable[str] | None, end: date | None = None) -> ir.Table:
    """Customers whose home unit is in ``units`` (None: all), acquired on or before ``end``."""
    customers = con.table("customers")
    if units is not None:
        customers = customers.filter(customers.unit_id.isin(sorted(set(units))))
    if end is not None:
        customers = customers.filter(
            customers.acquired_at.isnull() | (customers.acquired_at < _stamp(end + timedelta(days=1)))
        )
    return customers


def _flag(condition: ir.BooleanValue) -> ir.IntegerValue:
    return condition.cast("int64")


def customer_facts(con: BaseBackend, *, start: date, end: date, units: Iterable[str] | None) -> ir.Table:
    """One row per customer of the scope with the window's facts (see the module docstring)."""
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    lo, hi = _stamp(start), _stamp(end + timedelta(days=1))
    previous_lo = _stamp(start - (end - start + timedelta(days=1)))
    customers = scoped_customers(con, units, end)
    tx = con.table("transactions")

    in_window = tx.filter((tx.occurred_at >= lo) & (tx.occurred_at < hi))
    purchases = in_window.group_by("customer_id").aggregate(
        purchase_days=in_window.occurred_at.date().nunique(),
        revenue=in_window.amount.sum(),
        margin=in_window.margin.sum(),
    )
    before = tx.filter((tx.occurred_at >= previous_lo) & (tx.occurred_at < lo))
    previously = before.group_by("customer_id").aggregate(prev_purchases=before.count())

    contacts = con.table("contacts")
    contacts = contacts.filter((contacts.occurred_at >= lo) & (contacts.occurred_at < hi))
    serve = contacts.group_by("customer_id").aggregate(contact_cost=contacts.cost.sum())

    subs = con.table("subscriptions")
    active_at_start = subs.filter((subs.started_at < lo) & (subs.ended_at.isnull() | (subs.ended_at >= lo)))
    sub_state = active_at_start.group_by("customer_id").aggregate(
        sub_retained=_flag(active_at_start.ended_at.isnull() | (active_at_start.ended_at >= hi)).max()
    )

    value = con.table("customer_value").select("customer_id", clv_score="clv")

    joined = (
        customers.left_join(purchases, "customer_id")
        .left_join(previously, "customer_id")
        .left_join(serve, "customer_id")
        .left_join(sub_state, "customer_id")
        .left_join(value, "customer_id")
    )
    days = joined.purchase_days.fill_null(0)
    acquired = joined.acquired_at.notnull() & (joined.acquired_at >= lo) & (joined.acquired_at < hi)
    at_risk = joined.sub_retained.notnull()
    prev_active = joined.prev_purchases.fill_null(0) > 0
    return joined.select(
        customer_id=customers.customer_id,
        unit_id=customers.unit_id,
        segment=customers.segment,
        sub_at_risk=_flag(at_risk),
        sub_churned=_flag(at_risk & (joined.sub_retained == 0)),
        prev_active=_flag(prev_active),
        inactive_churned=_flag(prev_active & (days == 0)),
        buyer=_flag(days >= 1),
        repeater=_flag(days >= 2),
        acquired=_flag(acquired),
        acquisition_cost=ibis.ifelse(acquired, joined.acquisition_cost.fill_null(0.0), 0.0),
        contact_cost=joined.contact_cost.fill_null(0.0),
        revenue=joined.revenue.fill_null(0.0),
        margin=joined.margin.fill_null(0.0),
        scored=_flag(joined.clv_score.notnull()),
        clv=joined.clv_score.fill_null(0.0),
    )


def _rolled_up(con: BaseBackend, facts: ir.Table, units: Iterable[str] | None) -> ir.Table:
    closure = con.table("unit_closure").select("ancestor_id", "unit_id")
    if units is not None:
        closure = closure.filter(closure.ancestor_id.isin(sorted(set(units))))
    return facts.join(closure, "unit_id")


def kpi_statistics(
    con: BaseBackend, facts: ir.Table, *, units: Iterable[str] | None, by_segment: bool = False
) -> pd.DataFrame:
    """Counts, sums and sums of squares of :data:`FACT_SUMS` per ancestor unit (and segment).

    ``units`` limits the cells (each still covers its subtree). Columns: ``unit``, [``segment``],
    ``customers`` and each fact (``<fact>_sq`` for the money columns).
    """
    rolled = _rolled_up(con, facts, units)
    keys = ["ancestor_id", "segment"] if by_segment else ["ancestor_id"]
    metrics: dict[str, ir.Scalar] = {"customers": rolled.count()}
    for name in FACT_SUMS:
        metrics[name] = rolled[name].sum()
    for name in _SQUARED:
        metrics[f"{name}_sq"] = (rolled[name] * rolled[name]).sum()
    frame = con.execute(rolled.group_by(keys).aggregate(**metrics).order_by(keys))
    return frame.rename(columns={"ancestor_id": "unit"})


def penetration_counts(
    con: BaseBackend, *, end: date, units: Iterable[str] | None, by_segment: bool = False
) -> pd.DataFrame:
    """Customers holding each product category (a purchase in it on or before ``end``) per cell."""
    customers = scoped_customers(con, units, end).select("customer_id", "unit_id", "segment")
    tx = con.table("transactions")
    held = (
        tx.filter((tx.occurred_at < _stamp(end + timedelta(days=1))) & tx.category.notnull())
        .select("customer_id", "category")
        .distinct()
    )
    holders = customers.join(held, "customer_id")
    rolled = _rolled_up(con, holders, units)
    keys = ["ancestor_id", "segment", "category"] if by_segment else ["ancestor_id", "category"]
    frame = con.execute(rolled.group_by(keys).aggregate(holders=rolled.count()).order_by(keys))
    return frame.rename(columns={"ancestor_id": "unit"})


def retention_counts(
    con: BaseBackend, *, as_of: date, months: int, units: Iterable[str] | None
) -> pd.DataFrame:
    """Subscriptions at risk and still active ``t`` months after they started, ``t = 0..months``, per unit.

    A subscription counts at ``t`` if it started at least ``t`` months (of 30.4375 days) before ``as_of``
    (so its fate at ``t`` is observed); it is retained at ``t`` if it had not ended by then.
    """
    subs = con.table("subscriptions")
    customers = scoped_customers(con, units).select("customer_id", customer_unit="unit_id")
    subs = subs.join(customers, "customer_id").filter(
        lambda s: s.started_at < _stamp(as_of + timedelta(days=1))
    )
    day_seconds = 86400.0
    month_days = 30.4375
    as_of_stamp = _stamp(as_of + timedelta(days=1))
    observed = (as_of_stamp.epoch_seconds() - subs.started_at.epoch_seconds()) / day_seconds / month_days
    ended = subs.ended_at.notnull() & (subs.ended_at < as_of_stamp)
    lasted = ibis.ifelse(
        ended,
        (subs.ended_at.epoch_seconds() - subs.started_at.epoch_seconds()) / day_seconds / month_days,
        1e9,
    )
    spans = subs.select(unit_id=subs.customer_unit, observed=observed, lasted=lasted)
    grid = ibis.memtable(pd.DataFrame({"t": list(range(months + 1))}))
    pairs = spans.cross_join(grid).filter(lambda p: p.observed >= p.t)
    rolled = _rolled_up(con, pairs, units)
    frame = con.execute(
        rolled.group_by(["ancestor_id", "t"])
        .aggregate(at_risk=rolled.count(), retained=_flag(rolled.lasted >= rolled.t).sum())
        .order_by(["ancestor_id", "t"])
    )
    return frame.rename(columns={"ancestor_id": "unit"})


def subscription_durations(
    con: BaseBackend, *, as_of: date, units: Iterable[str] | None, period_days: float = 30.4375
) -> pd.DataFrame:
    """Subscription records as sBG durations, grouped in the engine: ``periods_observed``, ``churned``,
    ``subscriptions`` and ``fee_total`` (sum of ``monthly_fee``).

    A subscription that ended on or before ``as_of`` churned at the end of its period ``ceil(duration)``
    (at least 1); one still active has made ``floor(duration)`` renewals, with durations in periods of
    ``period_days`` days from ``started_at`` to the end or to ``as_of``. Subscriptions are scoped by their
    customer's home unit and must have started on or before ``as_of``.
    """
    cut = _stamp(as_of + timedelta(days=1))
    subs = con.table("subscriptions")
    customers = scoped_customers(con, units).select("customer_id")
    subs = subs.semi_join(customers, "customer_id").filter(lambda s: s.started_at < cut)
    ended = subs.ended_at.notnull() & (subs.ended_at < cut)
    stop = ibis.ifelse(ended, subs.ended_at, cut)
    length = (stop.epoch_seconds() - subs.started_at.epoch_seconds()) / (86400.0 * period_days)
    periods = ibis.ifelse(ended, ibis.greatest(length.ceil(), 1), length.floor()).cast("int64")
    records = subs.select(periods_observed=periods, churned=ended.cast("int64"), fee=subs.monthly_fee)
    grouped = records.group_by(["periods_observed", "churned"]).aggregate(
        subscriptions=records.count(), fee_total=records.fee.sum()
    )
    return con.execute(grouped.order_by(["periods_observed", "churned"]))
