"""The readiness probe's one-row table (migration 0011): ``/readyz`` writes it to prove the app database
takes writes (:mod:`cxloop.store.health`)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.store.tables._base import Base, utcnow

__all__ = ["HealthProbe"]


class HealthProbe(Base):
    """One row (id 1): when the last readiness check wrote the app database."""

    __tablename__ = "health_probe"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
