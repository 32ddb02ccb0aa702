"""SQLAlchemy tables for survey-tool export uploads (issue 10).

Registered on ``cxloop.store.models.Base.metadata`` by the import at the end of ``cxloop.store.models``;
created by migration 0007.

* :class:`UploadJob`: one export uploaded through the admin page: where the file is kept, what the
  reader detected, the mapping chosen on the page, and the import's progress and summary (the same
  row-level report as the CLI). The job is the page's state, so a page reload, a second browser tab or
  another web worker sees the same progress.

Saved mappings are not here: they are the editable YAML files under ``<CXLOOP_DATA_DIR>/mappings/``
that the CLI and the page share (``cxloop.services.listen.survey_exports``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.store.models import Base, utcnow

__all__ = ["UploadJob"]


class UploadJob(Base):
    """An uploaded survey-tool export and its import (status: uploaded, running, done, failed)."""

    __tablename__ = "upload_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    file_name: Mapped[str] = mapped_column(String(255))
    stored_path: Mapped[str] = mapped_column(Text)
    detected_format: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="uploaded")
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    include_preview: Mapped[bool] = mapped_column(default=False)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rows: Mapped[int] = mapped_column(Integer, default=0)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
