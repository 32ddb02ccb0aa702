"""Names, not ids: the one registry of what people read for every id a page, e-mail or CSV shows.

Ids stay in URLs, JSON and CSV id columns; pages show names. The names come from where they are kept:

* touchpoints, segments and driver items: the catalogue (``touchpoints.name``, ``segments.name``,
  ``questions.label``);
* comment themes: the codebook (the theme's name written as words, its description as the longer text);
* units and people: the org tables (``units.name``; a user's name, else their e-mail);
* metrics and measures (``nps``, ``item:app_ease``, ``p_alive``, ``subscription_churn_rate``...),
  pilot inference methods, and the fields an audit row changes: the tables below, kept here only.

Each metric also says how its numbers read (:class:`Measure`: a score, a rate shown as a percentage, money
or a count), so a page formats ``p_alive`` as ``71%`` and ``spend`` as ``€163`` without knowing either.

:class:`Labels` reads the app database lazily (one query per kind of id, the first time a page asks), so a
page that shows no touchpoint never reads the touchpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.store.catalog import humanise
from cxloop.store.tables import Question, Segment, Touchpoint, Unit, User

__all__ = [
    "AUDIT_FIELDS",
    "INFERENCE_NAMES",
    "MEASURES",
    "NONE_LABEL",
    "Labels",
    "Measure",
    "humanise",
    "measure",
]

#: What an empty value of an audit row (no owner, no due date) reads as.
NONE_LABEL = "(none)"

Kind = Literal["score", "percent", "rate", "money", "count", "number"]


@dataclass(frozen=True)
class Measure:
    """A metric's name and how its numbers read: ``score`` (one decimal), ``percent`` (already in percent,
    0-100: one decimal and ``%``), ``rate`` (a ratio 0-1 shown as a percentage), ``money`` (in the
    programme's currency), ``count`` or ``number``."""

    label: str
    kind: Kind = "number"
    unit: str = ""

    @property
    def axis(self) -> str:
        """An axis title: the name with its unit (``Spend per customer (EUR)`` is filled in by the page)."""
        return f"{self.label} ({self.unit})" if self.unit else self.label


#: Every metric and measure key a page, e-mail or download shows.
MEASURES: dict[str, Measure] = {
    # headline experience metrics
    "nps": Measure("NPS", "score", "points, -100 to 100"),
    "csat": Measure("CSAT (% satisfied)", "percent", "%"),
    "ces": Measure("CES (ease, 1-7)", "score", "1-7"),
    # behaviour and value
    "churn": Measure("Churn", "percent", "% of customers"),
    "repeat_purchase": Measure("Repeat purchase", "percent", "% of buyers"),
    "repurchase": Measure("Customers buying in the month", "rate", "%"),
    "repurchase_rate": Measure("Bought again", "rate", "%"),
    "repeat_purchase_rate": Measure("Repeat purchase rate", "rate", "%"),
    "churn_rate": Measure("Did not buy again", "rate", "%"),
    "churn_rate_subscriptions": Measure("Subscription churn rate", "rate", "%"),
    "subscription_churn_rate": Measure("Subscription churn rate", "rate", "%"),
    "p_alive": Measure("Chance the customer is still active", "rate", "%"),
    "spend": Measure("Spend per customer", "money"),
    "margin": Measure("Margin per customer", "money"),
    "margin_per_buyer": Measure("Margin per buyer", "money"),
    "margin_per_customer": Measure("Margin per customer a month", "money"),
    "clv": Measure("Customer lifetime value", "money"),
    "revenue_at_risk": Measure("Revenue at risk", "money"),
    "detractor_clv": Measure("Lifetime value held by detractors", "money"),
    "nps_point_value": Measure("Value of one NPS point a year", "money"),
    "customers": Measure("Customers", "count"),
    "log_size": Measure("Size before the start (log of responses)"),
}
#: The pre-period features a pilot's controls are matched on (``nps_level``, ``churn_trend``...).
_FEATURES = (("_level", "level before the start"), ("_trend", "trend before the start (a month)"))

#: How each pilot inference method is called in words.
INFERENCE_NAMES: dict[str, str] = {
    "wild_cluster": "wild cluster bootstrap",
    "randomization": "randomisation inference",
    "cluster": "unit-clustered standard errors",
    "ols": "ordinary least squares",
}

#: The fields an audit row may change, in words (others are humanised: ``due_date`` -> "Due date").
AUDIT_FIELDS: dict[str, str] = {
    "owner_user_id": "Owner",
    "assignee_user_id": "Owner",
    "unit_id": "Unit",
    "status": "Status",
    "due_date": "Due date",
    "target_id": "Target",
    "impact_metric": "Expected impact on",
    "impact_points": "Expected impact (points)",
    "escalation_level": "Escalation level",
}


def measure(key: str) -> Measure:
    """The :class:`Measure` of a metric key; an unknown key is humanised and read as a plain number."""
    return MEASURES.get(key) or Measure(humanise(key))


class Labels:
    """Names for the ids a page shows, read from the app database the first time each kind is asked for.

    Every method takes an id and returns its name; an id the catalogue does not hold is humanised
    (``branch_visit`` -> "Branch visit"), an empty one reads ``(none)``.
    """

    def __init__(self, session: Session | None) -> None:
        self._session = session

    def _names(self, statement: Any) -> dict[str, str]:
        if self._session is None:
            return {}
        return {str(key): str(name) for key, name in self._session.execute(statement) if name}

    @cached_property
    def _touchpoints(self) -> dict[str, str]:
        return self._names(select(Touchpoint.touchpoint_id, Touchpoint.name))

    @cached_property
    def _segments(self) -> dict[str, str]:
        return self._names(select(Segment.segment_id, Segment.name))

    @cached_property
    def _questions(self) -> dict[str, str]:
        return self._names(select(Question.question_id, Question.label))

    @cached_property
    def _units(self) -> dict[str, str]:
        return self._names(select(Unit.unit_id, Unit.name))

    @cached_property
    def _users(self) -> dict[str, str]:
        if self._session is None:
            return {}
        rows = self._session.execute(select(User.id, User.name, User.email))
        return {str(user_id): name or email for user_id, name, email in rows}

    def touchpoint(self, touchpoint_id: str | None) -> str:
        """``branch_visit`` -> the catalogue's "Branch visit"."""
        return self._lookup(self._touchpoints, touchpoint_id)

    def segment(self, segment_id: str | None) -> str:
        return self._lookup(self._segments, segment_id)

    def item(self, question_id: str | None) -> str:
        """A driver item's question label (``app_ease`` -> "Ease of using the app")."""
        return self._lookup(self._questions, question_id)

    def unit(self, unit_id: str | None) -> str:
        return self._lookup(self._units, unit_id)

    def user(self, user_id: int | str | None) -> str:
        """A person's name (their e-mail when they have no name)."""
        return self._lookup(self._users, None if user_id in (None, "") else str(user_id))

    @staticmethod
    def theme(name: str | None) -> str:
        """A codebook theme in words: ``long_wait`` -> "Long wait"."""
        return NONE_LABEL if not name else humanise(name)

    def metric(self, key: str | None) -> str:
        """``nps`` -> "NPS", ``p_alive`` -> "Chance the customer is still active", ``item:app_ease`` -> the
        item's question label."""
        if not key:
            return NONE_LABEL
        if key.startswith("item:"):
            return self.item(key[5:])
        for suffix, words in _FEATURES:
            base = key.removesuffix(suffix)
            if base != key and base in MEASURES:
                return f"{MEASURES[base].label}: {words}"
        return measure(key).label

    @staticmethod
    def inference(method: str | None) -> str:
        """``wild_cluster`` -> "wild cluster bootstrap"."""
        return NONE_LABEL if not method else INFERENCE_NAMES.get(method, humanise(method).lower())

    @staticmethod
    def field(name: str) -> str:
        """An audit row's field: ``owner_user_id`` -> "Owner"."""
        return AUDIT_FIELDS.get(name) or humanise(name.removesuffix("_id"))

    def change(self, value: Any, name: str) -> str:
        """An audit row's old or new value in words: a user id as the person, a unit id as the unit, a
        status as words, nothing as ``(none)``."""
        if value is None or value == "":
            return NONE_LABEL
        if name.endswith("user_id"):
            return self.user(value)
        if name == "unit_id":
            return self.unit(str(value))
        if name in ("status", "impact_metric") and isinstance(value, str):
            return self.metric(value) if name == "impact_metric" else humanise(value)
        return str(value)

    @staticmethod
    def _lookup(names: dict[str, str], key: str | None) -> str:
        if key is None or key == "":
            return NONE_LABEL
        return names.get(key) or humanise(key)
