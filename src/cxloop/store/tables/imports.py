"""The audit of data coming in: import runs and survey-tool export uploads.

* :class:`ImportRun` (migration 0001): one import, what came in, what was kept, where the rejects went; since
  migration 0011 also which process runs it (``owner``) and when it last said it still was (``heartbeat_at``),
  so a run its process left at ``running`` (killed, crashed) can be told from one still going.
* :class:`PendingArrival` (migration 0011): responses posted in real time whose after-store work (the alert
  rules) has not finished yet, written in the same transaction that opens their import run, removed when that
  work is done; what is left is finished by a retry of the post or by the recovery pass.
* :class:`UploadJob` (migration 0007): one export uploaded through the admin page: where the file is kept,
  what the reader detected, the mapping chosen on the page, and the import's progress and summary (the
  same row-level report as the CLI). The job is the page's state, so a page reload, a second browser tab
  or another web worker sees the same progress.

Saved mappings are not here: they are the editable YAML files under ``<CXLOOP_DATA_DIR>/mappings/``
that the CLI and the page share (``cxloop.services.listen.survey_exports``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cxloop.store.tables._base import Base, utcnow

__all__ = ["ImportRun", "PendingArrival", "UploadJob"]


class ImportRun(Base):
    """Audit of one import: what came in, what was kept, where the rejects went."""

    __tablename__ = "import_runs"
    __table_args__ = (Index("ix_import_runs_kind_started", "kind", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(2000))
    status: Mapped[str] = mapped_column(String(16), default="running")  # running, done, failed
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[int] = mapped_column(Integer, default=0)
    quarantine_path: Mapped[str | None] = mapped_column(String(2000))
    message: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    owner: Mapped[str | None] = mapped_column(String(255))
    """``host/pid/process start time`` of the process running the import (``None``: before migration 0011)."""
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    """When the running import last said it was alive (at its start, then at most once a minute)."""


class PendingArrival(Base):
    """Posted responses whose after-store work has not finished: the ids posted in the run ``run_id``."""

    __tablename__ = "pending_arrivals"

    run_id: Mapped[int] = mapped_column(ForeignKey("import_runs.id", ondelete="CASCADE"), primary_key=True)
    response_ids: Mapped[list[str]] = mapped_column(JSON)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Failed runs of the after-store work so far."""
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


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
