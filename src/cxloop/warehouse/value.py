"""Customer value in the engine: scores joined back to every customer, value tiers, the write-back.

A fitted BG/NBD + Gamma-Gamma model scores a customer from ``(frequency, recency, T)`` and their mean
spend ``m``. P(alive), expected purchases and the discounted purchase stream depend on the triple only,
and the Gamma-Gamma expected spend per purchase is linear in ``m`` for a given frequency,
``E(Z | x, m) = A(x) + B(x) m``. So the models are evaluated in numpy on the *distinct* triples and
frequencies (a few thousand rows), those small tables are joined to the per-customer RFM expression, and
each customer's CLV ``= discounted purchases x (A + B m)`` is computed where the data lives.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from cxloop.warehouse.ingest.load import writer_for
from cxloop.warehouse.schemas import CUSTOMER_VALUE

__all__ = ["DEFAULT_TIERS", "check_tiers", "scored_customers", "write_customer_value"]

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
        Per customer ``customer_id, frequency, recency, T, monetary_value`` (see :mod:`cxloop.warehouse.rfm`).
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
