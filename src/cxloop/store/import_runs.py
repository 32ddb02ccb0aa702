"""The audit trail of imports: one row per run, opened when it starts and closed with its counts."""

from __future__ import annotations

from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from cxloop.store.tables import ImportRun, utcnow

__all__ = ["RunStatus", "finish_run", "get_run", "recent_runs", "start_run"]

RunStatus = Literal["done", "failed"]


def start_run(session: Session, kind: str, source: str) -> int:
    """Open a run (status ``running``) for an import of ``kind`` (``units``, ``responses``...) from
    ``source`` (a path or a description); return its id."""
    run = ImportRun(kind=kind, source=source, status="running")
    session.add(run)
    session.flush()
    return run.id


def finish_run(
    session: Session,
    run_id: int,
    *,
    status: RunStatus,
    accepted: int,
    rejected: int,
    duplicates: int,
    warnings: int,
    quarantine_path: str | None,
    message: str,
) -> None:
    """Close a run with its outcome and counts. Raises ``ValueError`` for an unknown or closed run."""
    if status not in ("done", "failed"):
        raise ValueError(f"status must be 'done' or 'failed', not {status!r}")
    run = session.get(ImportRun, run_id)
    if run is None:
        raise ValueError(f"unknown import run {run_id}")
    if run.status != "running":
        raise ValueError(f"import run {run_id} is already finished ({run.status})")
    run.status = status
    run.accepted = accepted
    run.rejected = rejected
    run.duplicates = duplicates
    run.warnings = warnings
    run.quarantine_path = quarantine_path
    run.message = message
    run.finished_at = utcnow()
    session.flush()


def get_run(session: Session, run_id: int) -> ImportRun | None:
    """One run by id, or ``None``."""
    return session.get(ImportRun, run_id)


def recent_runs(session: Session, limit: int = 20, kind: str | None = None) -> list[ImportRun]:
    """The latest runs, newest first (optionally of one kind)."""
    query = select(ImportRun).order_by(ImportRun.started_at.desc(), ImportRun.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(ImportRun.kind == kind)
    return list(session.scalars(query))
