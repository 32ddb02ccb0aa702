"""The trained churn models' registry and the outreach they picked (migration 0008).

* ``churn_models`` — the registry: one row per trained churn model with its model card (data window,
  features, validation metrics) and the path of its joblib artefact under ``DATA_DIR/models/``.
* ``churn_outreach`` — who was picked for proactive outreach, when, from which model and score, and
  whether they were randomly held out (``arm``): the record the uplift measurement reads.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, Date, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.store.tables._base import Base, utcnow

__all__ = ["ChurnModel", "ChurnOutreach"]


class ChurnModel(Base):
    """A trained churn model and its card."""

    __tablename__ = "churn_models"

    model_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default="gradient_boosting")
    horizon_days: Mapped[int] = mapped_column(Integer)
    scope_unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"), index=True)
    trained_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    trained_by: Mapped[str] = mapped_column(String(320), default="")
    train_from: Mapped[date] = mapped_column(Date)
    train_to: Mapped[date] = mapped_column(Date)
    validation_from: Mapped[date] = mapped_column(Date)
    validation_to: Mapped[date] = mapped_column(Date)
    features: Mapped[list] = mapped_column(JSON, default=list)
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    card: Mapped[dict] = mapped_column(JSON, default=dict)
    artefact_path: Mapped[str] = mapped_column(String(1000))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ChurnOutreach(Base):
    """One customer picked for proactive outreach in a campaign: contacted or randomly held out."""

    __tablename__ = "churn_outreach"
    __table_args__ = (UniqueConstraint("campaign", "customer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    campaign: Mapped[str] = mapped_column(String(100), index=True)
    customer_id: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.unit_id"), index=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("churn_models.model_id"), index=True)
    scored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    risk: Mapped[float] = mapped_column(Float)
    clv: Mapped[float | None] = mapped_column(Float)
    expected_value_lost: Mapped[float | None] = mapped_column(Float)
    arm: Mapped[str] = mapped_column(String(16))  # "contact" or "holdout"
    randomised: Mapped[bool] = mapped_column(Boolean, default=True)
    holdout_share: Mapped[float] = mapped_column(Float)
    seed: Mapped[int] = mapped_column(Integer)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    case_id: Mapped[int | None] = mapped_column(Integer)
