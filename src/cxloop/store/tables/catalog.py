"""What feedback is about: touchpoints, customer segments, surveys and their questions (migration 0001)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, DateTime, Enum, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from cxloop.store.tables._base import Base, utcnow

__all__ = ["Question", "QuestionType", "Segment", "Survey", "Touchpoint"]


class QuestionType(enum.StrEnum):
    nps = "nps"
    csat = "csat"
    ces = "ces"
    rating = "rating"
    text = "text"
    choice = "choice"


class Touchpoint(Base):
    """A journey stage (onboarding, branch visit, call centre...), ordered along the journey."""

    __tablename__ = "touchpoints"

    touchpoint_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    stage_order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Segment(Base):
    """A customer segment; ``value_rank`` orders value tiers (1 = most valuable), if it is one."""

    __tablename__ = "segments"

    segment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    value_rank: Mapped[int | None] = mapped_column(Integer)


class Survey(Base):
    __tablename__ = "surveys"

    survey_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    questions: Mapped[list[Question]] = relationship(back_populates="survey")


class Question(Base):
    """A question (or driver item). ``question_id`` is the item name used in the warehouse ``answers``.

    The standard headline questions have the ids ``nps``, ``csat`` and ``ces``; driver items are the
    ``q_<item>`` columns of a canonical responses file, stored under ``<item>``.
    """

    __tablename__ = "questions"

    question_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    survey_id: Mapped[str | None] = mapped_column(ForeignKey("surveys.survey_id"), index=True)
    label: Mapped[str] = mapped_column(String(500))
    type: Mapped[QuestionType] = mapped_column(
        Enum(QuestionType, name="question_type", native_enum=False, length=16)
    )
    scale_min: Mapped[float | None] = mapped_column(Float)
    scale_max: Mapped[float | None] = mapped_column(Float)
    is_driver: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    survey: Mapped[Survey | None] = relationship(back_populates="questions")
