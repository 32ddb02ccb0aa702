"""Pilots: their treated and control units, rollout waves and decisions (migration 0002)."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Enum, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cxloop.store.tables._base import Base, utcnow

__all__ = ["Pilot", "PilotDecision", "PilotDecisionKind", "PilotUnit", "PilotWave"]


class PilotDecisionKind(enum.StrEnum):
    """What was decided after a pilot (or a wave) was measured."""

    scale = "scale"
    iterate = "iterate"
    stop = "stop"


class Pilot(Base):
    """A pilot: an improvement tried on a few units (or touchpoints, segments) first, to prove its return.

    Lists (touchpoints, segments, target metrics, linked actions) are JSON arrays: they are read whole and
    never queried into. Units in the pilot and in its control group are rows of :class:`PilotUnit`.
    """

    __tablename__ = "pilots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    hypothesis: Mapped[str] = mapped_column(Text, default="")
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    one_off_cost: Mapped[float] = mapped_column(Float, default=0.0)
    running_cost: Mapped[float] = mapped_column(Float, default=0.0)  # a month
    touchpoints: Mapped[list[str]] = mapped_column(JSON, default=list)
    segments: Mapped[list[str]] = mapped_column(JSON, default=list)
    target_metrics: Mapped[list[str]] = mapped_column(JSON, default=list)
    linked_actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    units: Mapped[list[PilotUnit]] = relationship(back_populates="pilot", cascade="all, delete-orphan")
    waves: Mapped[list[PilotWave]] = relationship(
        back_populates="pilot", cascade="all, delete-orphan", order_by="PilotWave.start_date"
    )
    decisions: Mapped[list[PilotDecision]] = relationship(
        back_populates="pilot", cascade="all, delete-orphan", order_by="PilotDecision.decided_at"
    )


class PilotWave(Base):
    """A rollout wave: the pilot's change taken to further units, measured like the pilot."""

    __tablename__ = "pilot_waves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    one_off_cost: Mapped[float] = mapped_column(Float, default=0.0)
    running_cost: Mapped[float] = mapped_column(Float, default=0.0)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    pilot: Mapped[Pilot] = relationship(back_populates="waves")


class PilotUnit(Base):
    """A unit in a pilot (``role`` treated) or in its control group (``role`` control); ``wave_id`` set
    for units a rollout wave adds."""

    __tablename__ = "pilot_units"
    __table_args__ = (Index("ix_pilot_units_unit", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"))
    role: Mapped[str] = mapped_column(String(16))  # treated, control
    wave_id: Mapped[int | None] = mapped_column(
        ForeignKey("pilot_waves.id", ondelete="CASCADE"), nullable=True
    )

    pilot: Mapped[Pilot] = relationship(back_populates="units")


class PilotDecision(Base):
    """A recorded decision on a pilot (or one of its waves): scale, iterate or stop, by whom, when, why."""

    __tablename__ = "pilot_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pilot_id: Mapped[int] = mapped_column(ForeignKey("pilots.id", ondelete="CASCADE"), index=True)
    wave_id: Mapped[int | None] = mapped_column(
        ForeignKey("pilot_waves.id", ondelete="CASCADE"), nullable=True
    )
    decision: Mapped[PilotDecisionKind] = mapped_column(
        Enum(PilotDecisionKind, name="pilot_decision", native_enum=False, length=16)
    )
    note: Mapped[str] = mapped_column(Text, default="")
    decided_by: Mapped[str] = mapped_column(String(320), default="")
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    pilot: Mapped[Pilot] = relationship(back_populates="decisions")
