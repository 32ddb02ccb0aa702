"""Fact and dimension tables of the warehouse, as Ibis schemas: the one definition every engine uses.

Timestamps are UTC without a time zone (``timestamp``), money is ``float64`` in the programme's currency,
scores are ``float64`` so that any rating scale (0-10, 1-5, 1-7, half points) fits one column type.
``docs/data-formats.md`` describes the canonical import files that fill these tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt


@dataclass(frozen=True)
class FactTable:
    """A warehouse table: its name, Ibis schema and natural key (what makes a re-import idempotent)."""

    name: str
    schema: ibis.Schema
    key: tuple[str, ...]
    description: str


UNITS = FactTable(
    name="units",
    schema=ibis.schema(
        {
            "unit_id": dt.String(nullable=False),
            "parent_id": dt.string,
            "name": dt.string,
            "level": dt.string,
            "depth": dt.int32,
        }
    ),
    key=("unit_id",),
    description="Mirror of the app database's org hierarchy, for joins in the engine.",
)

UNIT_CLOSURE = FactTable(
    name="unit_closure",
    schema=ibis.schema(
        {
            "ancestor_id": dt.String(nullable=False),
            "unit_id": dt.String(nullable=False),
            "distance": dt.int32,
        }
    ),
    key=("ancestor_id", "unit_id"),
    description=(
        "Every (ancestor, descendant) pair of the hierarchy, including (u, u) at distance 0: joining a "
        "fact's unit_id to unit_id and grouping by ancestor_id rolls any figure up to whole subtrees."
    ),
)

CUSTOMERS = FactTable(
    name="customers",
    schema=ibis.schema(
        {
            "customer_id": dt.String(nullable=False),
            "unit_id": dt.string,
            "segment": dt.string,
            "acquired_at": dt.timestamp,
            "acquisition_cost": dt.float64,
        }
    ),
    key=("customer_id",),
    description="One row per customer: home unit, segment, when and at what cost they were acquired.",
)

RESPONSES = FactTable(
    name="responses",
    schema=ibis.schema(
        {
            "response_id": dt.String(nullable=False),
            "submitted_at": dt.Timestamp(nullable=False),
            "unit_id": dt.String(nullable=False),
            "customer_id": dt.string,
            "survey_id": dt.string,
            "touchpoint": dt.string,
            "channel": dt.string,
            "segment": dt.string,
            "nps": dt.float64,
            "csat": dt.float64,
            "ces": dt.float64,
            "comment": dt.string,
        }
    ),
    key=("response_id",),
    description=(
        "One row per survey response with its header fields and the three headline scores (NPS 0-10, "
        "CSAT 1-5, CES 1-7). ``segment`` is the customer's segment when the response arrived, if known."
    ),
)

ANSWERS = FactTable(
    name="answers",
    schema=ibis.schema(
        {
            "response_id": dt.String(nullable=False),
            "item": dt.String(nullable=False),
            "value": dt.Float64(nullable=False),
        }
    ),
    key=("response_id", "item"),
    description="One row per rating item answered in a response (driver items, the q_<item> columns).",
)

TRANSACTIONS = FactTable(
    name="transactions",
    schema=ibis.schema(
        {
            "transaction_id": dt.String(nullable=False),
            "customer_id": dt.String(nullable=False),
            "occurred_at": dt.Timestamp(nullable=False),
            "amount": dt.Float64(nullable=False),
            "margin": dt.float64,
            "unit_id": dt.string,
            "category": dt.string,
        }
    ),
    key=("transaction_id",),
    description="Purchases: amount and margin, where and in which product category.",
)

CONTACTS = FactTable(
    name="contacts",
    schema=ibis.schema(
        {
            "contact_id": dt.String(nullable=False),
            "customer_id": dt.String(nullable=False),
            "occurred_at": dt.Timestamp(nullable=False),
            "channel": dt.string,
            "reason": dt.string,
            "cost": dt.float64,
            "unit_id": dt.string,
            "resolved": dt.boolean,
        }
    ),
    key=("contact_id",),
    description="Service contacts and what each cost to serve.",
)

SUBSCRIPTIONS = FactTable(
    name="subscriptions",
    schema=ibis.schema(
        {
            "subscription_id": dt.String(nullable=False),
            "customer_id": dt.String(nullable=False),
            "plan": dt.string,
            "started_at": dt.Timestamp(nullable=False),
            "ended_at": dt.timestamp,
            "monthly_fee": dt.float64,
            "unit_id": dt.string,
        }
    ),
    key=("subscription_id",),
    description="Contracts for contractual businesses; ``ended_at`` empty while active.",
)

CUSTOMER_VALUE = FactTable(
    name="customer_value",
    schema=ibis.schema(
        {
            "customer_id": dt.String(nullable=False),
            "scored_at": dt.Timestamp(nullable=False),
            "horizon": dt.int32,
            "p_alive": dt.float64,
            "expected_purchases": dt.float64,
            "expected_spend": dt.float64,
            "clv": dt.float64,
            "value_tier": dt.string,
        }
    ),
    key=("customer_id",),
    description=(
        "Each customer's latest CLV score (``cxloop clv score``): P(alive), expected purchases and spend "
        "over ``horizon`` months, discounted CLV and the value tier; written by the service, not imported."
    ),
)

COMMENT_SENTIMENT = FactTable(
    name="comment_sentiment",
    schema=ibis.schema(
        {
            "response_id": dt.String(nullable=False),
            "compound": dt.float64,
            "themes": dt.int32,
            "codebook_version": dt.string,
            "tagged_at": dt.timestamp,
        }
    ),
    key=("response_id",),
    description=(
        "One row per tagged comment (``cxloop text tag``): VADER compound sentiment, how many themes it "
        "carries and the codebook version it was tagged with (comments of an older version are re-tagged)."
    ),
)

COMMENT_TAGS = FactTable(
    name="comment_tags",
    schema=ibis.schema(
        {
            "response_id": dt.String(nullable=False),
            "theme": dt.String(nullable=False),
            "confidence": dt.float64,
            "sentiment": dt.float64,
        }
    ),
    key=("response_id", "theme"),
    description=(
        "One row per (comment, theme) it carries: the match confidence and the mean sentiment of the "
        "comment's sentences on that theme; written by the tagger, not imported."
    ),
)

IMPORT_RUN_KEYS = FactTable(
    name="import_run_keys",
    schema=ibis.schema(
        {
            "run_id": dt.Int64(nullable=False),
            "fact": dt.String(nullable=False),
            "key": dt.String(nullable=False),
        }
    ),
    key=("run_id", "fact", "key"),
    description=(
        "The natural key of every fact row an import run stored (run id from the app database's "
        "``import_runs``), written with the row: what ``cxloop import undo RUN_ID`` removes."
    ),
)

TABLES: dict[str, FactTable] = {
    t.name: t
    for t in (
        UNITS,
        UNIT_CLOSURE,
        CUSTOMERS,
        RESPONSES,
        ANSWERS,
        TRANSACTIONS,
        CONTACTS,
        SUBSCRIPTIONS,
        CUSTOMER_VALUE,
        COMMENT_SENTIMENT,
        COMMENT_TAGS,
        IMPORT_RUN_KEYS,
    )
}

__all__ = [
    "ANSWERS",
    "COMMENT_SENTIMENT",
    "COMMENT_TAGS",
    "CONTACTS",
    "CUSTOMERS",
    "CUSTOMER_VALUE",
    "IMPORT_RUN_KEYS",
    "RESPONSES",
    "SUBSCRIPTIONS",
    "TABLES",
    "TRANSACTIONS",
    "UNITS",
    "UNIT_CLOSURE",
    "FactTable",
]
