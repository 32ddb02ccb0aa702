"""Targets and action plans (migration 0006).

* :class:`Target`: a number a unit should reach on one metric in one period (``granularity`` +
  ``period_start``), set top-down by a parent unit's owner or admin (``origin`` ``top_down``) or by the
  unit itself (``own``). One target per unit, metric and period.
* :class:`Action`: one person's piece of work to move a metric, linked to a driver item, a touchpoint, the
  priority it came from and the targets it serves (:class:`ActionTarget`, many-to-many), with its
  progress notes (:class:`ActionNote`, dated and authored).

Every state change of these rows is written with :func:`cxloop.store.audit.record` in the same transaction
by the services (``cxloop.services.act.targets``, ``cxloop.services.act.actions``).
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, DateTime, Enum, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cxloop.store.tables._base import Base, utcnow

__all__ = ["Action", "ActionHorizon", "ActionNote", "ActionStatus", "ActionTarget", "Target", "TargetOrigin"]


class TargetOrigin(enum.StrEnum):
    """Who set a target: a parent unit's owner or admin (``top_down``) or the unit itself (``own``)."""

    top_down = "top_down"
    own = "own"


class ActionStatus(enum.StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"


class ActionHorizon(enum.StrEnum):
    """A quick fix (weeks) or a long-term initiative (quarters)."""

    short_term = "short_term"
    long_term = "long_term"


class Target(Base):
    """The value ``metric`` should reach at ``unit_id`` over one period.

    ``metric`` is ``nps``, ``csat``, ``ces``, ``churn``, ``repeat_purchase`` or ``item:<question_id>``
    (a driver item's mean), on the metric's reporting scale. ``set_from_unit_id`` is the unit of whoever
    set it (the unit itself, or the ancestor a top-down target came from).
    """

    __tablename__ = "targets"
    __table_args__ = (
        UniqueConstraint("unit_id", "metric", "granularity", "period_start", name="uq_targets_unit_period"),
        Index("ix_targets_period", "granularity", "period_start"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"), index=True)
    metric: Mapped[str] = mapped_column(String(80))
    granularity: Mapped[str] = mapped_column(String(16))
    period_start: Mapped[date] = mapped_column(Date)
    target_value: Mapped[float] = mapped_column(Float)
    origin: Mapped[TargetOrigin] = mapped_column(
        Enum(TargetOrigin, name="target_origin", native_enum=False, length=16)
    )
    set_from_unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"))
    set_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    set_by: Mapped[str] = mapped_column(String(320), default="")
    rationale: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    links: Mapped[list[ActionTarget]] = relationship(
        back_populates="target", cascade="all, delete-orphan", passive_deletes=True
    )


class Action(Base):
    """An action plan item: one accountable owner, a due date, a status, and what it should move."""

    __tablename__ = "actions"
    __table_args__ = (
        Index("ix_actions_owner_status", "owner_user_id", "status"),
        Index("ix_actions_unit_status", "unit_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"))
    owner_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    driver: Mapped[str | None] = mapped_column(String(64), nullable=True)
    touchpoint_id: Mapped[str | None] = mapped_column(ForeignKey("touchpoints.touchpoint_id"), nullable=True)
    priority: Mapped[str | None] = mapped_column(String(200), nullable=True)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    horizon: Mapped[ActionHorizon] = mapped_column(
        Enum(ActionHorizon, name="action_horizon", native_enum=False, length=16)
    )
    cost: Mapped[float | None] = mapped_column(Float, nullable=True)
    impact_metric: Mapped[str | None] = mapped_column(String(80), nullable=True)
    impact_points: Mapped[float | None] = mapped_column(Float, nullable=True)
    status: Mapped[ActionStatus] = mapped_column(
        Enum(ActionStatus, name="action_status", native_enum=False, length=16)
    )
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    notes: Mapped[list[ActionNote]] = relationship(
        back_populates="action", cascade="all, delete-orphan", order_by="ActionNote.id"
    )
    links: Mapped[list[ActionTarget]] = relationship(
        back_populates="action", cascade="all, delete-orphan", passive_deletes=True
    )


class ActionTarget(Base):
    """An action meant to help reach a target (many actions per target, many targets per action)."""

    __tablename__ = "action_targets"

    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), primary_key=True)
    target_id: Mapped[int] = mapped_column(
        ForeignKey("targets.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    action: Mapped[Action] = relationship(back_populates="links")
    target: Mapped[Target] = relationship(back_populates="links")


class ActionNote(Base):
    """A dated, authored progress note on an action (append-only, like the audit trail)."""

    __tablename__ = "action_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"), index=True)
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    author: Mapped[str] = mapped_column(String(320))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    action: Mapped[Action] = relationship(back_populates="notes")
