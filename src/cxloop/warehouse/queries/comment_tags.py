"""Comment tags in the warehouse: which comments still need tagging, storing tags, reading them back.

``comment_sentiment`` holds one row per tagged comment (with the codebook version used) and
``comment_tags`` one row per (comment, theme). Dashboards read these tables; nothing is recomputed on read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from cxloop.warehouse.schemas import COMMENT_SENTIMENT, COMMENT_TAGS
from cxloop.warehouse.write.writer import writer_for

__all__ = [
    "behaviour_after",
    "comments_to_tag",
    "item_names",
    "response_items",
    "tagged_responses",
    "write_comment_tags",
]


def comments_to_tag(
    con: BaseBackend, codebook_version: str, *, units: Iterable[str] | None = None, retag: bool = False
) -> pa.Table:
    """``response_id, comment`` of the non-blank comments not yet tagged with ``codebook_version``.

    ``retag=True`` returns every comment of the scope.
    """
    responses = con.table("responses")
    comments = responses.filter(responses.comment.notnull() & (responses.comment.strip() != ""))
    if units is not None:
        comments = comments.filter(comments.unit_id.isin(sorted(units)))
    if not retag:
        done = con.table(COMMENT_SENTIMENT.name)
        done = done.filter(done.codebook_version == codebook_version).select("response_id")
        comments = comments.anti_join(done, "response_id")
    return comments.select("response_id", "comment").order_by("response_id").to_pyarrow()


def write_comment_tags(con: BaseBackend, sentiment: pa.Table, tags: pa.Table) -> int:
    """Store the tags of the comments in ``sentiment`` (their earlier rows in both tables are replaced).

    ``sentiment`` has the ``comment_sentiment`` columns, ``tags`` the ``comment_tags`` ones. Returns the
    comments written.
    """
    sentiment = sentiment.select(list(COMMENT_SENTIMENT.schema.names)).cast(
        COMMENT_SENTIMENT.schema.to_pyarrow()
    )
    tags = tags.select(list(COMMENT_TAGS.schema.names)).cast(COMMENT_TAGS.schema.to_pyarrow())
    ids = sentiment.column("response_id")
    writer = writer_for(con)
    with writer.transaction():
        for table, rows in ((COMMENT_SENTIMENT, sentiment), (COMMENT_TAGS, tags)):
            stored = con.table(table.name).to_pyarrow().cast(rows.schema)
            kept = stored.filter(pc.invert(pc.is_in(stored.column("response_id"), value_set=ids)))
            writer.replace(table.name, pa.concat_tables([kept, rows]))
    return sentiment.num_rows


def _stamp(day: date) -> ir.TimestampScalar:
    return ibis.literal(datetime.combine(day, time()), type="timestamp")


def tagged_responses(
    con: BaseBackend,
    *,
    units: Iterable[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    touchpoint: str | None = None,
    segment: str | None = None,
) -> ir.Table:
    """Tagged responses of the scope: ``response_id, submitted_at, month, unit_id, touchpoint, segment,
    nps, csat, ces, compound, themes`` (``end`` is exclusive)."""
    responses = con.table("responses")
    if units is not None:
        responses = responses.filter(responses.unit_id.isin(sorted(units)))
    if start is not None:
        responses = responses.filter(responses.submitted_at >= _stamp(start))
    if end is not None:
        responses = responses.filter(responses.submitted_at < _stamp(end))
    if touchpoint is not None:
        responses = responses.filter(responses.touchpoint == touchpoint)
    if segment is not None:
        responses = responses.filter(responses.segment == segment)
    sentiment = con.table(COMMENT_SENTIMENT.name).select("response_id", "compound", "themes")
    joined = responses.join(sentiment, "response_id")
    return joined.select(
        "response_id",
        "submitted_at",
        "unit_id",
        "customer_id",
        "touchpoint",
        "segment",
        "nps",
        "csat",
        "ces",
        "compound",
        "themes",
        month=joined.submitted_at.truncate("M").date(),
    )


def item_names(con: BaseBackend, response_ids: ir.Table) -> list[str]:
    """The rated items answered in the responses of ``response_ids`` (a table with ``response_id``)."""
    answers = con.table("answers")
    items = answers.semi_join(response_ids.select("response_id"), "response_id").select("item").distinct()
    return sorted(items.to_pyarrow().column("item").to_pylist())


def response_items(con: BaseBackend, response_ids: ir.Table, items: Sequence[str]) -> ir.Table:
    """One row per response of ``response_ids`` with one column per item (NULL where not answered)."""
    answers = con.table("answers").semi_join(response_ids.select("response_id"), "response_id")
    return answers.group_by("response_id").aggregate(
        **{item: answers.value.max(where=answers.item == item) for item in items}
    )


def behaviour_after(con: BaseBackend, base: ir.Table, horizon_days: int) -> ir.Table:
    """What each responding customer did in the ``horizon_days`` after their response.

    One row per response of ``base`` (from :func:`tagged_responses`) with a customer, submitted at least
    ``horizon_days`` before the last transaction in the warehouse (so the window is observed in full):
    ``response_id``, ``repurchased`` (0/1: a purchase in the window), ``at_risk`` (0/1: a subscription
    active when they answered) and ``churned`` (0/1: such a subscription ended in the window).
    """
    tx = con.table("transactions")
    data_end = tx.occurred_at.max().as_scalar()
    horizon = ibis.interval(days=horizon_days)
    r = base.filter(base.customer_id.notnull() & ((base.submitted_at + horizon) <= data_end))
    r = r.select("response_id", "customer_id", "submitted_at")
    t = tx.select(tx_customer="customer_id", occurred_at="occurred_at", transaction_id="transaction_id")
    bought = r.left_join(
        t,
        [
            r.customer_id == t.tx_customer,
            t.occurred_at > r.submitted_at,
            t.occurred_at <= r.submitted_at + horizon,
        ],
    )
    bought = bought.group_by("response_id").aggregate(
        repurchased=(bought.transaction_id.count() > 0).cast("int8")
    )
    subs = con.table("subscriptions").select(
        sub_customer="customer_id", started_at="started_at", ended_at="ended_at"
    )
    active = r.join(
        subs,
        [
            r.customer_id == subs.sub_customer,
            subs.started_at <= r.submitted_at,
            subs.ended_at.isnull() | (subs.ended_at > r.submitted_at),
        ],
    )
    risk = active.group_by("response_id").aggregate(
        churned=(active.ended_at.notnull() & (active.ended_at <= active.submitted_at + horizon))
        .cast("int8")
        .max()
    )
    joined = bought.left_join(risk, "response_id")
    return joined.select(
        response_id=bought.response_id,
        repurchased=bought.repurchased,
        at_risk=joined.churned.notnull().cast("int8"),
        churned=joined.churned.fill_null(0).cast("int8"),
    )
