"""Customer value in the engine: scores joined back to every customer, value tiers, the write-back.

A fitted BG/NBD + Gamma-Gamma model scores a customer from ``(frequency, recency, T)`` and their mean
spend ``m``. P(alive), expected purchases and the discounted purchase stream depend on the triple only,
and the Gamma-Gamma expected spend per purchase is linear in ``m`` for a given frequency,
``E(Z | x, m) = A(x) + B(x) m``. So the models are evaluated in numpy on the *distinct* triples and
frequencies (a few thousand rows), those small tables are joined to the per-customer RFM expression, and
each customer's CLV ``= discounted purchases x (A + B m)`` is computed where the data lives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from cxloop.warehouse.schemas import CUSTOMER_VALUE
from cxloop.warehouse.write.writer import writer_for

__all__ = [
    "DEFAULT_TIERS",
    "OUTCOME_SUMS",
    "check_tiers",
    "concentration_buckets",
    "experience_outcomes",
    "outcome_statistics",
    "scored_customers",
    "tiered_customers",
    "write_customer_value",
]

#: Value tiers as (name, cumulative share of customers ranked by CLV, highest first):
#: the top 10%, the next 40%, the bottom 50%.
DEFAULT_TIERS: tuple[tuple[str, float], ...] = (("top", 0.10), ("middle", 0.50), ("bottom", 1.0))


def check_tiers(tiers: Sequence[tuple[str, float]]) -> tuple[tuple[str, float], ...]:
    """Validate tiers: distinct names, cumulative shares strictly increasing and ending at 1."""
    tiers = tuple((str(name), float(share)) for name, share in tiers)
    shares = [share for _, share in tiers]
    if not tiers or shares[-1] != 1.0 or any(b <= a for a, b in zip(shares, shares[1:], strict=False)):
        raise ValueError(f"tier shares must increase strictly and end at 1.0, got {shares}")
    if shares[0] <= 0 or len({name for name, _ in tiers}) != len(tiers):
        raise ValueError(f"tiers need distinct names and positive shares, got {tiers}")
    return tiers


def scored_customers(
    summary: ir.Table,
    triples: pd.DataFrame,
    spend: pd.DataFrame,
    *,
    scored_at: datetime,
    horizon: int,
    tiers: Sequence[tuple[str, float]] = DEFAULT_TIERS,
) -> ir.Table:
    """Every customer of ``summary`` with their scores, as an expression in the ``customer_value`` schema.

    Parameters
    ----------
    summary : ibis Table
        Per customer ``customer_id, frequency, recency, T, monetary_value`` (see
        :mod:`cxloop.warehouse.queries.rfm`).
    triples : DataFrame
        Per distinct ``frequency, recency, T``: ``p_alive``, ``expected_purchases`` (over the horizon) and
        ``discounted_purchases`` (each month's expected purchases discounted to today).
    spend : DataFrame
        Per distinct ``frequency``: ``spend_intercept`` and ``spend_slope`` with
        ``E(spend per purchase) = spend_intercept + spend_slope * monetary_value``.
    scored_at, horizon
        Stamped on every row; ``horizon`` in months.
    tiers : sequence of (name, cumulative share)
        Value tiers by CLV rank (ties share a tier), see :data:`DEFAULT_TIERS`.
    """
    tiers = check_tiers(tiers)
    triple_table = ibis.memtable(
        triples[
            ["frequency", "recency", "T", "p_alive", "expected_purchases", "discounted_purchases"]
        ].astype({"frequency": "int64", "recency": "int64", "T": "int64"})
    )
    spend_table = ibis.memtable(
        spend[["frequency", "spend_intercept", "spend_slope"]].astype({"frequency": "int64"})
    )
    base = summary.view()  # a join chain of its own (rfm_expression) cannot be extended in place
    joined = base.join(triple_table, ["frequency", "recency", "T"]).join(spend_table, "frequency")
    per_purchase = joined.spend_intercept + joined.spend_slope * joined.monetary_value
    scored = joined.select(
        customer_id=joined.customer_id,
        p_alive=joined.p_alive,
        expected_purchases=joined.expected_purchases,
        expected_spend=joined.expected_purchases * per_purchase,
        clv=joined.discounted_purchases * per_purchase,
    )
    rank = ibis.cume_dist().over(order_by=ibis.desc(scored.clv))
    scored = scored.mutate(rank_share=rank)
    tier = ibis.cases(
        *[(scored.rank_share <= share + 1e-12, name) for name, share in tiers[:-1]], else_=tiers[-1][0]
    )
    columns = CUSTOMER_VALUE.schema
    return scored.select(
        customer_id=scored.customer_id,
        scored_at=ibis.literal(scored_at, type="timestamp"),
        horizon=ibis.literal(int(horizon), type="int32"),
        p_alive=scored.p_alive.cast(columns["p_alive"]),
        expected_purchases=scored.expected_purchases.cast(columns["expected_purchases"]),
        expected_spend=scored.expected_spend.cast(columns["expected_spend"]),
        clv=scored.clv.cast(columns["clv"]),
        value_tier=tier.cast("string"),
    )


def write_customer_value(con: BaseBackend, scores: pa.Table) -> int:
    """Store ``scores`` in ``customer_value``: their customers' rows are replaced, other rows kept.

    A scoped scoring run (a region) therefore refreshes only its own customers. Returns the rows written.
    """
    columns = list(CUSTOMER_VALUE.schema.names)
    scores = scores.select(columns).cast(CUSTOMER_VALUE.schema.to_pyarrow())
    writer = writer_for(con)
    with writer.transaction():
        stored = con.table(CUSTOMER_VALUE.name).to_pyarrow().select(columns).cast(scores.schema)
        kept = stored.filter(
            pc.invert(pc.is_in(stored.column("customer_id"), value_set=scores.column("customer_id")))
        )
        writer.replace(CUSTOMER_VALUE.name, pa.concat_tables([kept, scores]))
    return scores.num_rows


def _stamp(day: date) -> ir.TimestampScalar:
    return ibis.literal(datetime.combine(day, time()), type="timestamp")


def _nps_class(nps: ir.FloatingValue) -> ir.StringValue:
    return ibis.cases(
        ((nps >= 0) & (nps <= 6), "detractor"),
        ((nps > 6) & (nps < 9), "passive"),
        ((nps >= 9) & (nps <= 10), "promoter"),
        else_=ibis.null("string"),
    )


def experience_outcomes(
    con: BaseBackend, *, as_of: date, horizon_days: int, units: Iterable[str] | None
) -> ir.Table:
    """One row per customer of the scope with their latest experience and what they did next.

    Experience: the customer's latest response on or before ``as_of`` (``nps``, ``nps_class``, ``csat``,
    ``ces``). Outcomes in ``(as_of, as_of + horizon_days]``: ``repurchased`` (any purchase), ``spend`` and
    ``margin`` (sums, 0 without purchases), ``sub_at_risk``/``sub_churned`` (a subscription active at
    ``as_of``; none still active at the end) and the stored ``clv`` (``scored`` 0/1). Customers without a
    response on or before ``as_of`` are left out.
    """
    lo = _stamp(as_of + timedelta(days=1))
    hi = _stamp(as_of + timedelta(days=horizon_days + 1))
    customers = con.table("customers")
    if units is not None:
        customers = customers.filter(customers.unit_id.isin(sorted(set(units))))
    customers = customers.select("customer_id", "unit_id", "segment")
    responses = con.table("responses")
    responses = responses.filter(responses.customer_id.notnull() & (responses.submitted_at < lo))
    order = ibis.row_number().over(
        group_by=responses.customer_id,
        order_by=[ibis.desc(responses.submitted_at), ibis.desc(responses.response_id)],
    )
    latest = responses.mutate(_order=order).filter(lambda r: r._order == 0)
    latest = latest.select("customer_id", "nps", "csat", "ces")

    tx = con.table("transactions")
    window = tx.filter((tx.occurred_at >= lo) & (tx.occurred_at < hi))
    bought = window.group_by("customer_id").aggregate(
        spend_sum=window.amount.sum(), margin_sum=window.margin.sum(), purchases=window.count()
    )
    subs = con.table("subscriptions")
    active = subs.filter((subs.started_at < lo) & (subs.ended_at.isnull() | (subs.ended_at >= lo)))
    sub_state = active.group_by("customer_id").aggregate(
        sub_retained=(active.ended_at.isnull() | (active.ended_at >= hi)).cast("int64").max()
    )
    value = con.table("customer_value").select("customer_id", clv_score="clv")
    joined = (
        customers.join(latest, "customer_id")
        .left_join(bought, "customer_id")
        .left_join(sub_state, "customer_id")
        .left_join(value, "customer_id")
    )
    at_risk = joined.sub_retained.notnull()
    return joined.select(
        customer_id=customers.customer_id,
        unit_id=customers.unit_id,
        nps=joined.nps,
        nps_class=_nps_class(joined.nps),
        csat=joined.csat,
        ces=joined.ces,
        repurchased=(joined.purchases.fill_null(0) > 0).cast("int64"),
        spend=joined.spend_sum.fill_null(0.0),
        margin=joined.margin_sum.fill_null(0.0),
        sub_at_risk=at_risk.cast("int64"),
        sub_churned=(at_risk & (joined.sub_retained == 0)).cast("int64"),
        scored=joined.clv_score.notnull().cast("int64"),
        clv=joined.clv_score.fill_null(0.0),
    )


#: Per-group sums of :func:`experience_outcomes` (``<name>_sq`` for the money columns).
OUTCOME_SUMS: tuple[str, ...] = (
    "repurchased",
    "spend",
    "margin",
    "sub_at_risk",
    "sub_churned",
    "scored",
    "clv",
)


def outcome_statistics(con: BaseBackend, outcomes: ir.Table, by: str) -> pd.DataFrame:
    """Customers, sums and sums of squares of the outcomes per value of ``by`` (e.g. ``nps_class``)."""
    valid = outcomes.filter(outcomes[by].notnull())
    metrics: dict[str, ir.Scalar] = {"customers": valid.count()}
    for name in OUTCOME_SUMS:
        metrics[name] = valid[name].sum()
    for name in ("spend", "margin", "clv"):
        metrics[f"{name}_sq"] = (valid[name] * valid[name]).sum()
    return con.execute(valid.group_by(by).aggregate(**metrics).order_by(by))


def concentration_buckets(
    con: BaseBackend, *, units: Iterable[str] | None, buckets: int = 100
) -> pd.DataFrame:
    """Scored customers ranked by CLV (highest first) in ``buckets`` equal groups: customers and CLV each."""
    value = con.table("customer_value").select("customer_id", "clv")
    if units is not None:
        customers = con.table("customers")
        in_scope = customers.filter(customers.unit_id.isin(sorted(set(units)))).select("customer_id")
        value = value.semi_join(in_scope, "customer_id")
    ranked = value.mutate(bucket=ibis.ntile(buckets).over(order_by=[ibis.desc(value.clv), value.customer_id]))
    return con.execute(
        ranked.group_by("bucket").aggregate(customers=ranked.count(), clv=ranked.clv.sum()).order_by("bucket")
    )


def tiered_customers(
    con: BaseBackend, *, units: Iterable[str] | None, tiers: Sequence[tuple[str, float]] = DEFAULT_TIERS
) -> ir.Table:
    """Scored customers of the scope with their tier by CLV rank *within the scope* (``customer_id``,
    ``unit_id``, ``clv``, ``p_alive``, ``tier``)."""
    tiers = check_tiers(tiers)
    customers = con.table("customers")
    if units is not None:
        customers = customers.filter(customers.unit_id.isin(sorted(set(units))))
    value = con.table("customer_value").select("customer_id", "clv", "p_alive")
    joined = value.join(customers.select("customer_id", "unit_id"), "customer_id")
    ranked = joined.mutate(rank_share=ibis.cume_dist().over(order_by=ibis.desc(joined.clv)))
    tier = ibis.cases(
        *[(ranked.rank_share <= share + 1e-12, name) for name, share in tiers[:-1]], else_=tiers[-1][0]
    )
    return ranked.select("customer_id", "unit_id", "clv", "p_alive", tier=tier)
