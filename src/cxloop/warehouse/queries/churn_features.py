"""Point-in-time churn features and labels, computed in the engine (Ibis), with a leakage guard.

For a scoring time ``T`` every customer with a subscription active at ``T`` (started before ``T``, not
ended before ``T``) gets one row of features built **only from events strictly before** ``T``:

=====================  =============================================================================
group                  features
=====================  =============================================================================
``profile``            ``segment``, ``unit_id``, ``tenure_days`` (since ``acquired_at``), ``monthly_fee``
``purchases``          RFM and its trend: ``days_since_purchase``, ``purchases_90d``,
                       ``purchases_prev_90d`` (the 90 days before those), ``spend_90d``,
                       ``spend_prev_90d``, ``purchase_trend``, ``spend_trend``, ``margin_365d``,
                       ``products_365d`` (distinct product categories bought: holdings)
``contacts``           ``contacts_30d``, ``contacts_90d``, ``contacts_prev_90d``, ``unresolved_30d``,
                       ``unresolved_90d``, ``contact_cost_90d``, ``complaints_90d``
``experience``         latest and previous answer: ``nps_latest``, ``nps_previous``, ``nps_change``,
                       ``csat_latest``, ``csat_change``, ``ces_latest``, ``ces_change``,
                       ``nps_mean_365d``, ``responses_365d``, ``days_since_response``
``items``              the latest response's driver items, ``item_<name>`` (items seen before ``T``)
``comments``           ``comment_sentiment_latest`` (tagged sentiment of the latest response's comment),
                       ``negative_themes_180d`` (negative theme tags on comments of the last 180 days)
=====================  =============================================================================

**Leakage guard.** Every feature group also returns, per customer, the latest event time it read
(``_at_<group>``). :func:`build_features` aggregates those columns once and raises
:class:`FeatureLeakageError` naming the group, its features and the offending time if any group used an
event at or after ``T``; the recorded times go into the model card (``event_times``). A new feature
group (a :class:`FeatureGroup`) gets the same check for free.

**Label.** :func:`churn_labels` is the only place that looks after ``T``: ``churned`` is 1 when the
subscription active at ``T`` ended within ``horizon_days`` (``T <= ended_at < T + horizon``; the demo's
definition of churn, where ``ended_at`` is the churn date); ``duration_days`` and ``event`` give time to
churn, censored at ``observed_until``, for the survival view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from cxloop.warehouse.write.writer import writer_for

__all__ = [
    "CHURN_SCORES_SCHEMA",
    "DEFAULT_GROUPS",
    "FeatureBuild",
    "FeatureContext",
    "FeatureGroup",
    "FeatureLeakageError",
    "NoEventsError",
    "as_timestamp",
    "build_features",
    "data_end",
    "churn_labels",
    "scored_units",
    "write_churn_scores",
]

_DAY = 86_400


class FeatureLeakageError(RuntimeError):
    """A feature used information from at or after the scoring time."""

    def __init__(self, as_of: datetime, offenders: dict[str, tuple[datetime, tuple[str, ...]]]) -> None:
        self.as_of = as_of
        self.offenders = offenders
        detail = "; ".join(
            f"group {name!r} (features {', '.join(features)}) read an event at {at:%Y-%m-%d %H:%M:%S}"
            for name, (at, features) in sorted(offenders.items())
        )
        super().__init__(
            f"feature leakage: features for scoring time {as_of:%Y-%m-%d %H:%M:%S} must use only events "
            f"before it, but {detail}. Filter the group's source rows on their event time < as_of."
        )


def as_timestamp(value: date | datetime | str) -> datetime:
    """A naive UTC datetime (a date means its midnight)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return (
            value.replace(tzinfo=None)
            if value.tzinfo is None
            else value.astimezone(tz=None).replace(tzinfo=None)
        )
    return datetime.combine(value, time())


def _lit(value: datetime) -> ir.TimestampScalar:
    return ibis.literal(value, type="timestamp")


@dataclass(frozen=True)
class FeatureContext:
    """What a feature group may read: the connection, the scoring time and the customers at risk."""

    con: BaseBackend
    as_of: datetime
    population: ir.Table  # customer_id, unit_id, segment, acquired_at, sub_started_at, monthly_fee

    def before(self, table: ir.Table, column: str, days: int | None = None, *, gap: int = 0) -> ir.Table:
        """Rows of ``table`` with ``column`` in ``[as_of - gap - days, as_of - gap)`` (``days=None``: all
        before ``as_of - gap``)."""
        hi = self.as_of - timedelta(days=gap)
        rows = table.filter(table[column] < _lit(hi))
        if days is not None:
            rows = rows.filter(rows[column] >= _lit(hi - timedelta(days=days)))
        return rows

    def days_before(self, ts: ir.TimestampValue) -> ir.FloatingValue:
        """Days from ``ts`` to the scoring time (engine-neutral, via epoch seconds)."""
        return (ibis.literal(_epoch(self.as_of)) - ts.epoch_seconds()) / _DAY

    def in_population(self, table: ir.Table) -> ir.Table:
        return table.semi_join(self.population.select("customer_id"), "customer_id")


def _epoch(value: datetime) -> float:
    return (value - datetime(1970, 1, 1)).total_seconds()


@dataclass(frozen=True)
class FeatureGroup:
    """A named set of features: ``build(ctx)`` returns ``customer_id``, the features and ``_at`` (the
    latest event time each customer's features read, null if none)."""

    name: str
    features: tuple[str, ...]
    build: Callable[[FeatureContext], ir.Table]
    description: str = ""
    zero_if_missing: tuple[str, ...] = ()  # counts and sums: a customer without rows has 0


def _profile(ctx: FeatureContext) -> ir.Table:
    p = ctx.population
    return p.select(
        "customer_id",
        tenure_days=ctx.days_before(p.acquired_at).cast("float64"),
        monthly_fee=p.monthly_fee.cast("float64"),
        _at=ibis.greatest(p.acquired_at, p.sub_started_at),
    )


def _purchases(ctx: FeatureContext) -> ir.Table:
    tx = ctx.in_population(ctx.con.table("transactions"))
    year = ctx.before(tx, "occurred_at", 365)
    lo90 = _lit(ctx.as_of - timedelta(days=90))
    lo180 = _lit(ctx.as_of - timedelta(days=180))
    recent = year.occurred_at >= lo90
    previous = (year.occurred_at >= lo180) & (year.occurred_at < lo90)
    agg = year.group_by("customer_id").aggregate(
        last_at=year.occurred_at.max(),
        purchases_90d=recent.cast("int64").sum(),
        purchases_prev_90d=previous.cast("int64").sum(),
        spend_90d=ibis.ifelse(recent, year.amount, 0.0).sum(),
        spend_prev_90d=ibis.ifelse(previous, year.amount, 0.0).sum(),
        margin_365d=year.margin.fill_null(0.0).sum(),
        products_365d=year.category.nunique(),
    )
    return agg.select(
        "customer_id",
        days_since_purchase=ctx.days_before(agg.last_at).cast("float64"),
        purchases_90d=agg.purchases_90d.cast("float64"),
        purchases_prev_90d=agg.purchases_prev_90d.cast("float64"),
        spend_90d=agg.spend_90d.cast("float64"),
        spend_prev_90d=agg.spend_prev_90d.cast("float64"),
        purchase_trend=(agg.purchases_90d - agg.purchases_prev_90d).cast("float64"),
        spend_trend=(agg.spend_90d - agg.spend_prev_90d).cast("float64"),
        margin_365d=agg.margin_365d.cast("float64"),
        products_365d=agg.products_365d.cast("float64"),
        _at=agg.last_at,
    )


def _contacts(ctx: FeatureContext) -> ir.Table:
    contacts = ctx.in_population(ctx.con.table("contacts"))
    rows = ctx.before(contacts, "occurred_at", 180)
    lo30 = _lit(ctx.as_of - timedelta(days=30))
    lo90 = _lit(ctx.as_of - timedelta(days=90))
    last30 = rows.occurred_at >= lo30
    last90 = rows.occurred_at >= lo90
    unresolved = ~rows.resolved.fill_null(False)
    agg = rows.group_by("customer_id").aggregate(
        contacts_30d=last30.cast("int64").sum(),
        contacts_90d=last90.cast("int64").sum(),
        contacts_prev_90d=(~last90).cast("int64").sum(),
        unresolved_30d=(last30 & unresolved).cast("int64").sum(),
        unresolved_90d=(last90 & unresolved).cast("int64").sum(),
        contact_cost_90d=ibis.ifelse(last90, rows.cost.fill_null(0.0), 0.0).sum(),
        complaints_90d=(last90 & (rows.reason == "complaint")).cast("int64").sum(),
        _at=rows.occurred_at.max(),
    )
    return agg.select(
        "customer_id",
        *[
            agg[name].cast("float64").name(name)
            for name in (
                "contacts_30d",
                "contacts_90d",
                "contacts_prev_90d",
                "unresolved_30d",
                "unresolved_90d",
                "contact_cost_90d",
                "complaints_90d",
            )
        ],
        _at=agg._at,
    )


def _ranked_responses(ctx: FeatureContext) -> ir.Table:
    responses = ctx.con.table("responses")
    responses = responses.filter(responses.customer_id.notnull())
    responses = ctx.in_population(ctx.before(responses, "submitted_at"))
    order = ibis.row_number().over(
        group_by=responses.customer_id,
        order_by=[ibis.desc(responses.submitted_at), ibis.desc(responses.response_id)],
    )
    return responses.mutate(_order=order)


def _experience(ctx: FeatureContext) -> ir.Table:
    ranked = _ranked_responses(ctx)
    latest = ranked.filter(ranked._order == 0).select(
        "customer_id", nps_l="nps", csat_l="csat", ces_l="ces", at_l="submitted_at"
    )
    previous = ranked.filter(ranked._order == 1).select(
        "customer_id", nps_p="nps", csat_p="csat", ces_p="ces"
    )
    year = ranked.filter(ranked.submitted_at >= _lit(ctx.as_of - timedelta(days=365)))
    yearly = year.group_by("customer_id").aggregate(
        nps_mean_365d=year.nps.mean(), responses_365d=year.count()
    )
    joined = latest.left_join(previous, "customer_id").left_join(yearly, "customer_id")
    return joined.select(
        customer_id=joined.customer_id,
        nps_latest=joined.nps_l,
        nps_previous=joined.nps_p,
        nps_change=joined.nps_l - joined.nps_p,
        csat_latest=joined.csat_l,
        csat_change=joined.csat_l - joined.csat_p,
        ces_latest=joined.ces_l,
        ces_change=joined.ces_l - joined.ces_p,
        nps_mean_365d=joined.nps_mean_365d.cast("float64"),
        responses_365d=joined.responses_365d.fill_null(0).cast("float64"),
        days_since_response=ctx.days_before(joined.at_l).cast("float64"),
        _at=joined.at_l,
    )


def _item_names(ctx: FeatureContext) -> list[str]:
    answers = ctx.con.table("answers")
    return sorted(str(v) for v in ctx.con.execute(answers.item.name("item").as_table().distinct()).item)


def _items(ctx: FeatureContext, names: Sequence[str]) -> ir.Table:
    ranked = _ranked_responses(ctx)
    latest = ranked.filter(ranked._order == 0).select("customer_id", "response_id", "submitted_at")
    answers = ctx.con.table("answers")
    rows = answers.join(latest, "response_id")
    agg = rows.group_by("customer_id").aggregate(
        **{f"item_{name}": rows.value.max(where=rows.item == name) for name in names},
        _at=rows.submitted_at.max(),
    )
    return agg


def _comments(ctx: FeatureContext) -> ir.Table:
    ranked = _ranked_responses(ctx)
    recent = ranked.filter(ranked.submitted_at >= _lit(ctx.as_of - timedelta(days=180)))
    sentiment = ctx.con.table("comment_sentiment").select("response_id", "compound")
    tags = ctx.con.table("comment_tags")
    negative_tags = tags.filter(tags.sentiment < 0)
    negative = negative_tags.group_by("response_id").aggregate(negative=negative_tags.count())
    joined = (
        recent.select("customer_id", "response_id", "submitted_at", "_order")
        .left_join(sentiment, "response_id")
        .select("customer_id", "response_id", "submitted_at", "_order", "compound")
        .left_join(negative, "response_id")
        .select("customer_id", "submitted_at", "_order", "compound", "negative")
    )
    latest_sentiment = joined.compound.max(where=joined._order == 0)
    agg = joined.group_by("customer_id").aggregate(
        comment_sentiment_latest=latest_sentiment,
        negative_themes_180d=joined.negative.fill_null(0).sum().cast("float64"),
        _at=joined.submitted_at.max(),
    )
    return agg


def _items_group(ctx: FeatureContext) -> ir.Table:
    return _items(ctx, _item_names(ctx))


DEFAULT_GROUPS: tuple[FeatureGroup, ...] = (
    FeatureGroup(
        "profile", ("tenure_days", "monthly_fee"), _profile, "tenure and the plan's fee (segment, unit kept)"
    ),
    FeatureGroup(
        "purchases",
        (
            "days_since_purchase",
            "purchases_90d",
            "purchases_prev_90d",
            "spend_90d",
            "spend_prev_90d",
            "purchase_trend",
            "spend_trend",
            "margin_365d",
            "products_365d",
        ),
        _purchases,
        "recency, frequency and monetary value, their trend, product holdings",
        zero_if_missing=(
            "purchases_90d",
            "purchases_prev_90d",
            "spend_90d",
            "spend_prev_90d",
            "purchase_trend",
            "spend_trend",
            "margin_365d",
            "products_365d",
        ),
    ),
    FeatureGroup(
        "contacts",
        (
            "contacts_30d",
            "contacts_90d",
            "contacts_prev_90d",
            "unresolved_30d",
            "unresolved_90d",
            "contact_cost_90d",
            "complaints_90d",
        ),
        _contacts,
        "service contacts, unresolved ones, their cost, complaints",
        zero_if_missing=(
            "contacts_30d",
            "contacts_90d",
            "contacts_prev_90d",
            "unresolved_30d",
            "unresolved_90d",
            "contact_cost_90d",
            "complaints_90d",
        ),
    ),
    FeatureGroup(
        "experience",
        (
            "nps_latest",
            "nps_previous",
            "nps_change",
            "csat_latest",
            "csat_change",
            "ces_latest",
            "ces_change",
            "nps_mean_365d",
            "responses_365d",
            "days_since_response",
        ),
        _experience,
        "latest and previous NPS / CSAT / CES, their change and the year's mean",
    ),
    FeatureGroup("items", (), _items_group, "driver item scores of the latest response"),
    FeatureGroup(
        "comments",
        ("comment_sentiment_latest", "negative_themes_180d"),
        _comments,
        "comment sentiment and negative themes (where comments were tagged)",
        zero_if_missing=("negative_themes_180d",),
    ),
)


def _population(
    con: BaseBackend, as_of: datetime, units: Iterable[str] | None, customer_ids: Iterable[str] | None = None
) -> ir.Table:
    """Customers with a subscription active at ``as_of`` (one row each: their latest such subscription)."""
    customers = con.table("customers")
    if units is not None:
        customers = customers.filter(customers.unit_id.isin(sorted(set(units))))
    if customer_ids is not None:
        customers = customers.filter(customers.customer_id.isin(sorted(set(customer_ids))))
    subs = con.table("subscriptions")
    t = _lit(as_of)
    active = subs.filter((subs.started_at < t) & (subs.ended_at.isnull() | (subs.ended_at >= t)))
    per_customer = active.group_by("customer_id").aggregate(
        sub_started_at=active.started_at.max(), monthly_fee=active.monthly_fee.sum()
    )
    joined = customers.join(per_customer, "customer_id")
    acquired = joined.acquired_at.fill_null(joined.sub_started_at)
    joined = joined.filter(acquired < t)
    return joined.select(
        customer_id=joined.customer_id,
        unit_id=joined.unit_id,
        segment=joined.segment,
        acquired_at=acquired,
        sub_started_at=joined.sub_started_at,
        monthly_fee=joined.monthly_fee,
    )


@dataclass(frozen=True)
class FeatureBuild:
    """The features of one scoring time: the frame, the feature columns and the audit of event times."""

    as_of: datetime
    frame: pd.DataFrame  # customer_id, unit_id, segment, as_of + features
    features: tuple[str, ...]
    groups: dict[str, tuple[str, ...]]
    event_times: dict[str, datetime | None]  # latest event each group read (all < as_of)


def build_features(
    con: BaseBackend,
    as_of: date | datetime | str,
    *,
    units: Iterable[str] | None = None,
    groups: Sequence[FeatureGroup] = DEFAULT_GROUPS,
    customer_ids: Iterable[str] | None = None,
) -> FeatureBuild:
    """Point-in-time features of every customer at risk at ``as_of`` (see the module docstring), in
    ``units`` (home unit) and, if given, among ``customer_ids`` only.

    Raises
    ------
    FeatureLeakageError
        If any group read an event at or after ``as_of``.
    """
    when = as_timestamp(as_of)
    ctx = FeatureContext(con=con, as_of=when, population=_population(con, when, units, customer_ids))
    base = ctx.population.select("customer_id", "unit_id", "segment")
    joined = base
    audit: dict[str, str] = {}
    names: dict[str, tuple[str, ...]] = {}
    for group in groups:
        part = group.build(ctx)
        columns = tuple(c for c in part.columns if c not in ("customer_id", "_at"))
        if group.features and set(columns) != set(group.features):
            raise ValueError(f"feature group {group.name!r} returned {columns}, declared {group.features}")
        at_name = f"_at_{group.name}"
        part = part.rename({at_name: "_at"})
        names[group.name] = columns
        audit[group.name] = at_name
        joined = joined.left_join(part, "customer_id").drop("customer_id_right")
    # One query: the features and, per group, the latest event it read; the guard runs on the result.
    frame = con.execute(joined.order_by("customer_id"))
    event_times: dict[str, datetime | None] = {}
    offenders: dict[str, tuple[datetime, tuple[str, ...]]] = {}
    for name, column in audit.items():
        value = frame[column].max() if len(frame) else None
        at = None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()
        event_times[name] = at
        if at is not None and at >= when:
            offenders[name] = (at, names[name])
    if offenders:
        raise FeatureLeakageError(when, offenders)
    frame = frame.drop(columns=list(audit.values()))
    features = tuple(c for cols in names.values() for c in cols)
    for column in features:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for group in groups:
        for column in group.zero_if_missing:
            frame[column] = frame[column].fillna(0.0)
    frame.insert(3, "as_of", pd.Timestamp(when))
    return FeatureBuild(as_of=when, frame=frame, features=features, groups=names, event_times=event_times)


def churn_labels(
    con: BaseBackend,
    as_of: date | datetime | str,
    *,
    horizon_days: int,
    observed_until: date | datetime | str | None = None,
    units: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The outcome after ``as_of`` of every customer at risk then: ``churned`` within ``horizon_days``,
    ``duration_days`` to churn or to ``observed_until`` (censored) and ``event``.

    ``label_complete`` is False when ``observed_until`` falls inside the horizon (the label is not known
    yet for customers who did not churn).
    """
    when = as_timestamp(as_of)
    population = _population(con, when, units).select("customer_id")
    subs = con.table("subscriptions")
    t = _lit(when)
    active = subs.filter((subs.started_at < t) & (subs.ended_at.isnull() | (subs.ended_at >= t)))
    ended = active.group_by("customer_id").aggregate(
        ended_at=active.ended_at.max(), still_open=active.ended_at.isnull().cast("int64").max()
    )
    joined = population.join(ended, "customer_id")
    frame = con.execute(joined)
    end = frame.ended_at.where(frame.still_open == 0)
    until = (
        as_timestamp(observed_until)
        if observed_until is not None
        else pd.Timestamp(con.execute(subs.ended_at.max()) or when).to_pydatetime()
    )
    horizon_end = when + timedelta(days=horizon_days)
    days = (pd.to_datetime(end) - pd.Timestamp(when)).dt.total_seconds() / _DAY
    observed = (pd.Timestamp(until) - pd.Timestamp(when)).total_seconds() / _DAY
    event = end.notna() & (pd.to_datetime(end) <= pd.Timestamp(until))
    out = pd.DataFrame(
        {
            "customer_id": frame.customer_id,
            "churned": (event & (days < horizon_days)).astype("int64"),
            "duration_days": days.where(event, observed).astype("float64"),
            "event": event.astype("int64"),
        }
    )
    out["label_complete"] = horizon_end <= pd.Timestamp(until)
    return out.sort_values("customer_id").reset_index(drop=True)


#: The warehouse table the scores are written back to (one row per customer and scoring time).
CHURN_SCORES_SCHEMA = ibis.schema(
    {
        "customer_id": "!string",
        "scored_at": "!timestamp",
        "unit_id": "string",
        "segment": "string",
        "risk": "float64",
        "clv": "float64",
        "expected_value_lost": "float64",
        "reasons": "string",
        "model_id": "string",
    }
)


def write_churn_scores(con: BaseBackend, scores: pa.Table) -> int:
    """Store one scoring run's ``scores`` in ``churn_scores`` (created on first use).

    All rows share one ``scored_at``; stored rows of the same customers at the same ``scored_at`` are
    replaced (a re-run is idempotent), every other row is kept (the history of scores).
    """
    columns = list(CHURN_SCORES_SCHEMA.names)
    scores = scores.select(columns).cast(CHURN_SCORES_SCHEMA.to_pyarrow())
    stamps = pc.unique(scores.column("scored_at"))
    if len(stamps) > 1:
        raise ValueError("one scoring run writes one scored_at")
    if "churn_scores" not in set(con.list_tables()):
        con.create_table("churn_scores", schema=CHURN_SCORES_SCHEMA)
    writer = writer_for(con)
    with writer.transaction():
        stored = con.table("churn_scores").to_pyarrow().select(columns).cast(scores.schema)
        if len(stamps) and stored.num_rows:
            same = pc.and_(
                pc.equal(stored.column("scored_at"), stamps[0]),
                pc.is_in(stored.column("customer_id"), value_set=scores.column("customer_id")),
            )
            stored = stored.filter(pc.invert(same))
        writer.replace("churn_scores", pa.concat_tables([stored, scores]))
    return scores.num_rows


class NoEventsError(LookupError):
    """The warehouse has no events to build features from."""


def data_end(con: BaseBackend) -> datetime:
    """The end of the observed data: the day after the latest event in the warehouse (midnight)."""
    latest = []
    for table, column in (
        ("transactions", "occurred_at"),
        ("responses", "submitted_at"),
        ("contacts", "occurred_at"),
        ("subscriptions", "ended_at"),
        ("subscriptions", "started_at"),
    ):
        value = con.execute(con.table(table)[column].max())
        if value is not None and not pd.isna(value):
            latest.append(pd.Timestamp(value).to_pydatetime())
    if not latest:
        raise NoEventsError(
            "the warehouse holds no customers' events yet: import subscriptions, transactions and responses, "
            "or run `cxloop demo generate`."
        )
    last = max(latest)
    return datetime(last.year, last.month, last.day) + timedelta(days=1)


def scored_units(con: BaseBackend) -> bool:
    """Whether churn scores have been written at all."""
    return "churn_scores" in set(con.list_tables())
