"""Outcomes of a survey response, stated and behavioural, as Ibis columns computed in the engine.

A key-driver analysis explains an *outcome* by the driver items of the same response. Stated outcomes are
scores on the response row; behavioural outcomes link the response to what the customer did afterwards,
in the warehouse's ``transactions`` and ``subscriptions``:

=================  ====================================================================================
``nps``            the 0-10 recommendation rating (``csat`` 1-5 and ``ces`` 1-7 likewise)
``nps_promoter``   1 if the rating is 9-10, else 0; ``nps_detractor`` 1 if 0-6 (their difference, x100,
                   is NPS, so a regression on both gives the NPS points an item is worth)
``repurchase_90d`` 1 if the customer made a transaction in the 90 days after ``submitted_at``, else 0
``churn_180d``     1 if the customer left within the 180 days after ``submitted_at``, else 0. *Left*:
                   for a customer with a subscription active when they answered, every subscription
                   active then has ended by day 180 and no new one started in the window; for a
                   customer without one, no transaction in the 180 days (a lapsed buyer).
``spend_change``   amount spent in the 90 days after ``submitted_at`` minus the 90 days before
=================  ====================================================================================

**Censoring.** A behavioural outcome is only known once its whole window has been observed: for a
response less than ``window`` days before the warehouse's *observation end* (the latest transaction,
subscription start or end, or response), the outcome is NULL and the response is left out of the
analysis (counted among the dropped). A response without a ``customer_id`` has no behavioural outcome.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from cxloop.warehouse.scores import SCALES

__all__ = [
    "BEHAVIOURAL",
    "BINARY",
    "OUTCOMES",
    "STATED",
    "customer_margin",
    "observation_end",
    "with_outcomes",
]

STATED: tuple[str, ...] = ("nps", "csat", "ces", "nps_promoter", "nps_detractor")
#: Behavioural outcomes and the length of their window in days.
BEHAVIOURAL: dict[str, int] = {"repurchase_90d": 90, "churn_180d": 180, "spend_change": 90}
OUTCOMES: tuple[str, ...] = (*STATED, *BEHAVIOURAL)
#: Outcomes coded 0/1 (analysed with logistic relative weights).
BINARY: frozenset[str] = frozenset({"nps_promoter", "nps_detractor", "repurchase_90d", "churn_180d"})


def observation_end(con: BaseBackend) -> datetime | None:
    """The latest time the warehouse has seen anything happen (transactions, subscriptions, responses)."""
    latest: list[datetime] = []
    for table, columns in (
        ("transactions", ("occurred_at",)),
        ("subscriptions", ("started_at", "ended_at")),
        ("responses", ("submitted_at",)),
    ):
        t = con.table(table)
        row = con.execute(t.aggregate(**{c: t[c].max() for c in columns})).iloc[0]
        latest.extend(pd.Timestamp(v).to_pydatetime() for v in row if not pd.isna(v))
    return max(latest) if latest else None


def _rating(responses: ir.Table, score: str) -> ir.FloatingColumn:
    low, high = SCALES[score]
    value = responses[score]
    return ((value >= low) & (value <= high)).ifelse(value, ibis.null("float64"))


def _days(n: int) -> ir.IntervalScalar:
    return ibis.interval(days=n)


def with_outcomes(
    con: BaseBackend, responses: ir.Table, outcomes: tuple[str, ...], *, end: datetime | None = None
) -> ir.Table:
    """``responses`` (with ``response_id``, ``customer_id``, ``submitted_at``) plus one column per outcome.

    Parameters
    ----------
    con : ibis backend
        The warehouse (for ``transactions`` and ``subscriptions``).
    responses : ibis.Table
        The responses in scope.
    outcomes : tuple of str
        Names from :data:`OUTCOMES`.
    end : datetime, optional
        Observation end for censoring; default :func:`observation_end`.

    Returns
    -------
    ibis.Table
        The same rows, with a float64 column per outcome (NULL where unknown).
    """
    unknown = [o for o in outcomes if o not in OUTCOMES]
    if unknown:
        raise ValueError(f"unknown outcome(s) {unknown}; use any of {', '.join(OUTCOMES)}")
    out = responses
    for name in outcomes:
        if name in SCALES:
            out = out.mutate(**{name: _rating(out, name)})
        elif name == "nps_promoter":
            rating = _rating(out, "nps")
            out = out.mutate(nps_promoter=(rating >= 9).cast("float64"))
        elif name == "nps_detractor":
            rating = _rating(out, "nps")
            out = out.mutate(nps_detractor=(rating < 7).cast("float64"))
    behavioural = [o for o in outcomes if o in BEHAVIOURAL]
    if not behavioural:
        return out
    if end is None:
        end = observation_end(con)
    if end is None:
        return out.mutate(**{name: ibis.null("float64") for name in behavioural})
    keys = out.select("response_id", "customer_id", "submitted_at").filter(out.customer_id.notnull())
    linked = keys
    if {"repurchase_90d", "spend_change", "churn_180d"} & set(behavioural):
        linked = linked.left_join(_transaction_windows(con, keys), "response_id").drop("response_id_right")
    if "churn_180d" in behavioural:
        linked = linked.left_join(_subscription_state(con, keys), "response_id").drop("response_id_right")
    columns: dict[str, ir.Value] = {}
    for name in behavioural:
        known = linked.submitted_at + _days(BEHAVIOURAL[name]) <= ibis.literal(end)
        if name == "repurchase_90d":
            value = (linked.tx_after_90.fill_null(0) > 0).cast("float64")
        elif name == "spend_change":
            value = linked.spend_after_90.fill_null(0.0) - linked.spend_before_90.fill_null(0.0)
        else:
            subscribed = linked.subs_active.fill_null(0) > 0
            left_contract = (linked.subs_still_active.fill_null(0) == 0) & (linked.subs_new.fill_null(0) == 0)
            lapsed = linked.tx_after_180.fill_null(0) == 0
            value = subscribed.ifelse(left_contract, lapsed).cast("float64")
        columns[name] = known.ifelse(value, ibis.null("float64"))
    linked = linked.select("response_id", **columns)
    return out.left_join(linked, "response_id").drop("response_id_right")


def _transaction_windows(con: BaseBackend, keys: ir.Table) -> ir.Table:
    """Per response: transactions in the 90 and 180 days after, spend in the 90 days after and before."""
    tx = con.table("transactions").select("customer_id", "occurred_at", "amount")
    pairs = keys.join(
        tx,
        (keys.customer_id == tx.customer_id)
        & (tx.occurred_at > keys.submitted_at - _days(90))
        & (tx.occurred_at <= keys.submitted_at + _days(180)),
    )
    after = pairs.occurred_at > pairs.submitted_at
    after_90 = after & (pairs.occurred_at <= pairs.submitted_at + _days(90))
    before_90 = pairs.occurred_at <= pairs.submitted_at
    return pairs.group_by("response_id").aggregate(
        tx_after_90=after_90.cast("int64").sum(),
        tx_after_180=after.cast("int64").sum(),
        spend_after_90=after_90.ifelse(pairs.amount, 0.0).sum(),
        spend_before_90=before_90.ifelse(pairs.amount, 0.0).sum(),
    )


def _subscription_state(con: BaseBackend, keys: ir.Table) -> ir.Table:
    """Per response: subscriptions active at the answer, still active 180 days on, and started between."""
    subs = con.table("subscriptions").select("customer_id", "started_at", "ended_at")
    pairs = keys.join(subs, keys.customer_id == subs.customer_id)
    horizon = pairs.submitted_at + _days(180)
    active_then = (pairs.started_at <= pairs.submitted_at) & (
        pairs.ended_at.isnull() | (pairs.ended_at > pairs.submitted_at)
    )
    still_active = active_then & (pairs.ended_at.isnull() | (pairs.ended_at > horizon))
    new = (pairs.started_at > pairs.submitted_at) & (pairs.started_at <= horizon)
    return pairs.group_by("response_id").aggregate(
        subs_active=active_then.cast("int64").sum(),
        subs_still_active=still_active.cast("int64").sum(),
        subs_new=new.cast("int64").sum(),
    )


def customer_margin(
    con: BaseBackend, responses: ir.Table, *, end: datetime | None = None, days: int = 365
) -> tuple[int, float | None]:
    """Customers behind ``responses`` and the margin they brought in the ``days`` up to ``end``.

    The value of the customers an experience affects: distinct ``customer_id`` of the responses, and the
    sum of ``transactions.margin`` of those customers over the window (``None`` when no transaction of
    theirs carries a margin). ``end`` defaults to :func:`observation_end`.
    """
    if end is None:
        end = observation_end(con)
    customers = responses.filter(responses.customer_id.notnull()).select("customer_id").distinct()
    count = int(con.execute(customers.count()))
    if end is None or count == 0:
        return count, None
    tx = con.table("transactions")
    window = tx.filter(
        (tx.occurred_at > ibis.literal(end) - _days(days)) & (tx.occurred_at <= ibis.literal(end))
    ).select("customer_id", "margin")
    mine = window.filter(window.customer_id.isin(customers.customer_id))
    row = con.execute(mine.aggregate(margin=mine.margin.sum(), with_margin=mine.margin.count())).iloc[0]
    if int(row["with_margin"]) == 0:
        return count, None
    return count, float(row["margin"])
