"""Alert rules, cases with one owner, SLA clocks and the notifications outbox (migration 0005).

The audit trail of every change to these rows is :class:`cxloop.store.tables.AuditEvent`, written by
:func:`cxloop.store.audit.record`.

* :class:`AlertRule`: a kind (``nps_at_most``, ``comment_keywords``...: see
  ``cxloop.services.act.rules.engine``) with JSON parameters, optionally narrowed to a survey or a subtree
  (``unit_id``), with SLA hours for first contact and resolution.
* :class:`Case`: what a rule opened, for one response (or, for unit-level rules, one unit and period). One
  accountable owner (a user, never a group); ``subject`` makes opening idempotent: one case per rule and
  subject.
* :class:`Notification`: the outbox. A notification is written in the same transaction as the change that
  causes it, then delivered (e-mail or webhook) with retries; nothing is sent from inside a transaction.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cxloop.store.tables._base import Base, utcnow
from cxloop.store.tables.org import User

__all__ = ["AlertRule", "Case", "CaseStatus", "Notification", "NotificationStatus"]


class CaseStatus(enum.StrEnum):
    """Where a case is in the loop (``docs/cases.md`` draws the allowed transitions)."""

    new = "new"
    contacted = "contacted"
    in_progress = "in_progress"
    resolved = "resolved"
    closed = "closed"


class NotificationStatus(enum.StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"  # gave up after the last attempt


class AlertRule(Base):
    """A closed-loop rule: when a response matches, a case opens for the unit's accountable owner."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    survey_id: Mapped[str | None] = mapped_column(String(64))
    unit_id: Mapped[str | None] = mapped_column(ForeignKey("units.unit_id"), nullable=True)
    first_contact_hours: Mapped[float] = mapped_column(Float, default=24.0)
    resolution_hours: Mapped[float] = mapped_column(Float, default=120.0)
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class Case(Base):
    """One case: a response (or a unit's drop) that needs a person to act, with its SLA clocks."""

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("rule_id", "subject", name="uq_cases_rule_id_subject"),
        Index("ix_cases_owner_status", "owner_user_id", "status"),
        Index("ix_cases_unit_status", "unit_id", "status"),
        Index("ix_cases_customer", "customer_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id"))
    subject: Mapped[str] = mapped_column(String(200))
    response_id: Mapped[str | None] = mapped_column(String(128))
    customer_id: Mapped[str | None] = mapped_column(String(128))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"))
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    status: Mapped[CaseStatus] = mapped_column(
        Enum(CaseStatus, name="case_status", native_enum=False, length=16), default=CaseStatus.new
    )
    title: Mapped[str] = mapped_column(String(500), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    first_contact_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    resolution_due: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_contacted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    root_cause: Mapped[str | None] = mapped_column(String(64))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    follow_up_score: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    rule: Mapped[AlertRule] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_user_id])


class Notification(Base):
    """One message to deliver (the outbox): an e-mail to an address or a POST to a webhook URL."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_status", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(16))  # email, webhook
    target: Mapped[str] = mapped_column(String(2000))
    event: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), nullable=True, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[NotificationStatus] = mapped_column(
        Enum(NotificationStatus, name="notification_status", native_enum=False, length=16),
        default=NotificationStatus.pending,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
