"""The audit trail: who changed what, when, for every state change of cases, rules, targets and actions.

Append-only: rows are written by :func:`record` inside the same transaction as the change they describe (so a
change and its audit row commit or roll back together) and never updated or deleted. ``changes`` holds
``{field: [before, after]}`` for the fields that changed.

>>> from cxloop.store.audit import Actor
>>> Actor.system().label
'system'
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.store.tables import AuditEvent, utcnow

__all__ = ["Actor", "diff", "record", "trail"]


@dataclass(frozen=True)
class Actor:
    """Who acted: a user (``user_id`` set), an API key, the CLI, or the system (SLA jobs, alert rules)."""

    label: str
    user_id: int | None = None

    @classmethod
    def user(cls, user_id: int, email: str) -> Actor:
        return cls(label=email, user_id=user_id)

    @classmethod
    def system(cls, what: str = "system") -> Actor:
        return cls(label=what)


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """``{field: [before, after]}`` for the fields whose values differ (values as JSON-safe strings)."""
    changed: dict[str, list[Any]] = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            changed[key] = [_jsonable(old), _jsonable(new)]
    return changed


def record(
    session: Session,
    *,
    entity: str,
    entity_id: str | int,
    action: str,
    actor: Actor,
    changes: dict[str, list[Any]] | None = None,
    note: str | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one audit row in the caller's transaction (flushed, not committed)."""
    event = AuditEvent(
        at=at or utcnow(),
        entity=entity,
        entity_id=str(entity_id),
        action=action,
        actor=actor.label,
        actor_user_id=actor.user_id,
        changes=changes or {},
        note=note,
    )
    session.add(event)
    session.flush()
    return event


def trail(session: Session, entity: str, entity_id: str | int) -> list[AuditEvent]:
    """Every audit row of one entity, oldest first."""
    stmt = (
        select(AuditEvent)
        .where(AuditEvent.entity == entity, AuditEvent.entity_id == str(entity_id))
        .order_by(AuditEvent.id)
    )
    return list(session.scalars(stmt))


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
