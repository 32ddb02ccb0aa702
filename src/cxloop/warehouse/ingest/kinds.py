"""What each import kind's canonical file holds: columns, types, whether required, ranges.

One definition serves the validator, the ``cxloop import`` help text and ``docs/data-formats.md``. A
column is *required* when the file must have it and every row must fill it; an optional column may be
missing from the file (then it is empty for every row) or empty in some rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from cxloop.warehouse.schemas import CONTACTS, CUSTOMERS, RESPONSES, SUBSCRIPTIONS, TRANSACTIONS, FactTable

__all__ = [
    "COMMENT_CHARS",
    "ID_CHARS",
    "ITEM_PREFIX",
    "KINDS",
    "LABEL_CHARS",
    "NAME_CHARS",
    "TEXT_CHARS",
    "ColumnSpec",
    "KindSpec",
    "kind_spec",
]

ColumnType = Literal["id", "text", "number", "timestamp", "bool"]

ITEM_PREFIX = "q_"
"""A responses column named ``q_<item>`` holds the answers to driver item ``<item>``."""

# The longest value of each id and text column, in characters: a longer one rejects its row (the file import
# quarantines it; the API answers with the row's problem). The ids follow the app database's columns, so that
# PostgreSQL (which enforces them) and SQLite (which does not) keep the same rows.
NAME_CHARS = 64
"""Ids the app database keeps by name: unit, survey, touchpoint, segment; a unit's level, a channel."""
ID_CHARS = 128
"""Ids of facts (response, customer, transaction, contact, subscription): cases keep response and customer
ids in 128 characters."""
LABEL_CHARS = 200
"""Short text: a unit's name, a product category, a plan."""
TEXT_CHARS = 2_000
"""Free text but a comment: a contact's reason."""
COMMENT_CHARS = 20_000
"""A comment's default ceiling; each import takes it from ``CXLOOP_MAX_COMMENT_CHARS``
(:class:`cxloop.config.Settings.max_comment_chars`)."""


@dataclass(frozen=True)
class ColumnSpec:
    """One canonical column.

    ``low``/``high`` bound a number (inclusive); ``whole`` asks for whole numbers; ``references`` names
    what an id must point at: ``"units"`` (must exist, else the row is rejected) or ``"customers"``
    (may not exist yet: the row is kept and counted as a warning). ``registers`` names the catalogue
    (touchpoints, segments) a new value is added to on first sight. ``max_chars`` is the longest value an
    id or text column takes (after trimming); an import may set another (the comment's is a setting).
    """

    name: str
    type: ColumnType
    required: bool = False
    description: str = ""
    low: float | None = None
    high: float | None = None
    whole: bool = False
    references: Literal["units", "customers"] | None = None
    registers: Literal["touchpoints", "segments"] | None = None
    future_allowed: bool = False
    max_chars: int | None = None

    @property
    def range_text(self) -> str:
        """The allowed range in words ("0 to 10, whole numbers"), or ``""``."""
        if self.low is None and self.high is None:
            return ""
        if self.high is None:
            text = f">= {self.low:g}"
        elif self.low is None:
            text = f"<= {self.high:g}"
        else:
            text = f"{self.low:g} to {self.high:g}"
        return text + (", whole numbers" if self.whole else "")

    @property
    def length_text(self) -> str:
        """The longest value in words ("at most 64 characters"), or ``""``."""
        return f"at most {self.max_chars:,} characters" if self.max_chars is not None else ""


@dataclass(frozen=True)
class KindSpec:
    """An import kind: its canonical columns, natural key and (for facts) the warehouse table it fills."""

    kind: str
    key: str
    columns: tuple[ColumnSpec, ...]
    table: FactTable | None
    summary: str
    example: str
    items: bool = False
    notes: tuple[str, ...] = field(default=())
    header_only: tuple[str, ...] = ()
    """Columns the file must have although their values may be empty (units: parent_id)."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.required)

    @property
    def needed_in_file(self) -> tuple[str, ...]:
        """Columns without which the file cannot be imported at all."""
        return self.required + self.header_only

    def column(self, name: str) -> ColumnSpec:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


_unit = ColumnSpec(
    "unit_id", "id", references="units", description="the unit (must be imported first)", max_chars=NAME_CHARS
)
_customer = ColumnSpec(
    "customer_id",
    "id",
    references="customers",
    description="the customer (a warning if not imported yet)",
    max_chars=ID_CHARS,
)

UNITS = KindSpec(
    kind="units",
    key="unit_id",
    table=None,
    summary="The org hierarchy: one row per unit, the root with an empty parent_id.",
    columns=(
        ColumnSpec(
            "unit_id", "id", required=True, description="the unit's id (no '/')", max_chars=NAME_CHARS
        ),
        ColumnSpec(
            "parent_id", "id", description="the parent unit's id; empty for the root", max_chars=NAME_CHARS
        ),
        ColumnSpec("name", "text", required=True, description="display name", max_chars=LABEL_CHARS),
        ColumnSpec(
            "level",
            "text",
            required=True,
            description="company, division, region, branch, team ...",
            max_chars=NAME_CHARS,
        ),
    ),
    header_only=("parent_id",),
    example="unit_id,parent_id,name,level\nbank,,Demo Bank,company\nnorth,bank,North region,region\n"
    "b01,north,Branch 01,branch\n",
    notes=(
        "The file must have a parent_id column (empty for the root).",
        "A unit already in the database is updated (units are the one kind that upserts); the whole "
        "hierarchy is then mirrored into the warehouse tables units and unit_closure.",
    ),
)

CUSTOMER_KIND = KindSpec(
    kind="customers",
    key="customer_id",
    table=CUSTOMERS,
    summary="One row per customer.",
    columns=(
        ColumnSpec("customer_id", "id", required=True, description="the customer's id", max_chars=ID_CHARS),
        ColumnSpec(
            "unit_id",
            "id",
            references="units",
            description="home unit (must be imported first)",
            max_chars=NAME_CHARS,
        ),
        ColumnSpec(
            "segment", "id", registers="segments", description="customer segment", max_chars=NAME_CHARS
        ),
        ColumnSpec("acquired_at", "timestamp", description="when the customer was acquired"),
        ColumnSpec("acquisition_cost", "number", low=0, description="what acquiring them cost"),
    ),
    example="customer_id,unit_id,segment,acquired_at,acquisition_cost\nc0001,b01,premium,2023-04-02,120.50\n",
)

RESPONSE_KIND = KindSpec(
    kind="responses",
    key="response_id",
    table=RESPONSES,
    items=True,
    summary="One row per survey response; driver items are q_<item> columns.",
    columns=(
        ColumnSpec("response_id", "id", required=True, description="the response's id", max_chars=ID_CHARS),
        ColumnSpec("submitted_at", "timestamp", required=True, description="when it was submitted"),
        ColumnSpec(
            "unit_id",
            "id",
            required=True,
            references="units",
            description=_unit.description,
            max_chars=NAME_CHARS,
        ),
        _customer,
        ColumnSpec("survey_id", "id", description="the survey", max_chars=NAME_CHARS),
        ColumnSpec(
            "touchpoint", "id", registers="touchpoints", description="journey stage", max_chars=NAME_CHARS
        ),
        ColumnSpec("channel", "text", description="web, app, phone, branch ...", max_chars=NAME_CHARS),
        ColumnSpec(
            "segment",
            "id",
            registers="segments",
            description="the customer's segment at the time",
            max_chars=NAME_CHARS,
        ),
        ColumnSpec("nps", "number", low=0, high=10, whole=True, description="likelihood to recommend"),
        ColumnSpec("csat", "number", low=1, high=5, description="overall satisfaction"),
        ColumnSpec("ces", "number", low=1, high=7, description="customer effort"),
        ColumnSpec(
            "comment",
            "text",
            description="verbatim comment (longest: CXLOOP_MAX_COMMENT_CHARS)",
            max_chars=COMMENT_CHARS,
        ),
    ),
    example="response_id,submitted_at,unit_id,customer_id,touchpoint,channel,nps,csat,ces,comment,"
    "q_staff,q_wait\nr0001,2024-05-02T10:15:00Z,b01,c0001,branch_visit,branch,9,5,2,Friendly staff,9,7\n",
    notes=(
        "Every other column named q_<item> holds answers to driver item <item> on that item's scale "
        "(from the catalogue; for a new item from the mapping file, else 0 to 10 with a warning). "
        "An empty q_ cell means not answered.",
    ),
)

TRANSACTION_KIND = KindSpec(
    kind="transactions",
    key="transaction_id",
    table=TRANSACTIONS,
    summary="Purchases.",
    columns=(
        ColumnSpec(
            "transaction_id", "id", required=True, description="the transaction's id", max_chars=ID_CHARS
        ),
        ColumnSpec(
            "customer_id",
            "id",
            required=True,
            references="customers",
            description=_customer.description,
            max_chars=ID_CHARS,
        ),
        ColumnSpec("occurred_at", "timestamp", required=True, description="when it happened"),
        ColumnSpec("amount", "number", required=True, description="revenue (negative for a refund)"),
        ColumnSpec("margin", "number", description="margin on it"),
        _unit,
        ColumnSpec("category", "text", description="product category", max_chars=LABEL_CHARS),
    ),
    example="transaction_id,customer_id,occurred_at,amount,margin,unit_id,category\n"
    "t0001,c0001,2024-05-02 09:00:00,250.00,40.00,b01,mortgage\n",
)

CONTACT_KIND = KindSpec(
    kind="contacts",
    key="contact_id",
    table=CONTACTS,
    summary="Service contacts and their cost to serve.",
    columns=(
        ColumnSpec("contact_id", "id", required=True, description="the contact's id", max_chars=ID_CHARS),
        ColumnSpec(
            "customer_id",
            "id",
            required=True,
            references="customers",
            description=_customer.description,
            max_chars=ID_CHARS,
        ),
        ColumnSpec("occurred_at", "timestamp", required=True, description="when it happened"),
        ColumnSpec("channel", "text", description="phone, chat, email, branch ...", max_chars=NAME_CHARS),
        ColumnSpec("reason", "text", description="why the customer got in touch", max_chars=TEXT_CHARS),
        ColumnSpec("cost", "number", low=0, description="cost to serve"),
        _unit,
        ColumnSpec("resolved", "bool", description="true/false, yes/no, 1/0"),
    ),
    example="contact_id,customer_id,occurred_at,channel,reason,cost,unit_id,resolved\n"
    "k0001,c0001,2024-05-03T08:30:00,phone,card blocked,6.40,b01,true\n",
)

SUBSCRIPTION_KIND = KindSpec(
    kind="subscriptions",
    key="subscription_id",
    table=SUBSCRIPTIONS,
    summary="Contracts of a contractual business; ended_at empty while active.",
    columns=(
        ColumnSpec(
            "subscription_id", "id", required=True, description="the subscription's id", max_chars=ID_CHARS
        ),
        ColumnSpec(
            "customer_id",
            "id",
            required=True,
            references="customers",
            description=_customer.description,
            max_chars=ID_CHARS,
        ),
        ColumnSpec("plan", "text", description="plan name", max_chars=LABEL_CHARS),
        ColumnSpec("started_at", "timestamp", required=True, description="start of the contract"),
        ColumnSpec(
            "ended_at",
            "timestamp",
            future_allowed=True,
            description="end of the contract (not before started_at; may be in the future)",
        ),
        ColumnSpec("monthly_fee", "number", low=0, description="fee per month"),
        _unit,
    ),
    example="subscription_id,customer_id,plan,started_at,ended_at,monthly_fee,unit_id\n"
    "s0001,c0001,gold,2023-01-01,,29.90,b01\n",
)

KINDS: dict[str, KindSpec] = {
    spec.kind: spec
    for spec in (UNITS, CUSTOMER_KIND, RESPONSE_KIND, TRANSACTION_KIND, CONTACT_KIND, SUBSCRIPTION_KIND)
}
"""Every import kind, in the order a programme imports them (units first)."""


def kind_spec(kind: str) -> KindSpec:
    """The spec of ``kind``; ``ValueError`` naming the known kinds otherwise."""
    try:
        return KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown import kind {kind!r}; one of {', '.join(KINDS)}") from None
