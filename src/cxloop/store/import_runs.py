"""The audit trail of imports: one row per run, opened when it starts and closed with its counts.

A run is opened at ``running`` by the process that imports, which it names (``owner``: host, process id and
the process's start time) and which says it is alive at the start and then at most once a minute
(``heartbeat_at``, :func:`beat`). A process that is killed or crashes leaves its run at ``running``;
:func:`fail_interrupted` (called when ``cxloop serve`` starts and when an import sets up) closes such runs as
``failed`` with :data:`INTERRUPTED`, and never a run whose process is still going.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Literal

import psutil
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from cxloop.store.tables import ImportRun, utcnow

__all__ = [
    "HEARTBEAT_EVERY",
    "INTERRUPTED",
    "SILENT_AFTER",
    "RunStatus",
    "beat",
    "fail_interrupted",
    "finish_run",
    "get_run",
    "process_owner",
    "recent_runs",
    "start_run",
]

RunStatus = Literal["done", "failed"]

INTERRUPTED = "interrupted: the process stopped before it finished"
"""The message of a run closed by :func:`fail_interrupted`."""

HEARTBEAT_EVERY = timedelta(minutes=1)
"""How often a running import says it is alive (at most; once per batch)."""

SILENT_AFTER = timedelta(hours=1)
"""A run of another host (whose process cannot be looked up) silent this long is taken as interrupted."""


def process_owner() -> str:
    """This process as a run's ``owner``: ``host/pid/start time`` (the start time tells reused pids apart)."""
    return _owner(os.getpid())


@cache
def _owner(pid: int) -> str:  # by pid: a forked child is another owner
    return f"{socket.gethostname()}/{pid}/{psutil.Process(pid).create_time():.2f}"


def start_run(session: Session, kind: str, source: str) -> int:
    """Open a run (status ``running``, owned by this process) for an import of ``kind`` (``units``,
    ``responses``...) from ``source`` (a path or a description); return its id."""
    run = ImportRun(kind=kind, source=source, status="running", owner=process_owner(), heartbeat_at=utcnow())
    session.add(run)
    session.flush()
    return run.id


def beat(session: Session, run_id: int, *, now: datetime | None = None) -> None:
    """Say that the running import ``run_id`` is still alive."""
    session.execute(
        update(ImportRun)
        .where(ImportRun.id == run_id, ImportRun.status == "running")
        .values(heartbeat_at=now or utcnow())
    )


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
    """Close a run with its outcome and counts. Raises ``ValueError`` for an unknown or closed run (a run
    closed as interrupted while it was in fact going, silent too long on another host, takes its real
    outcome)."""
    if status not in ("done", "failed"):
        raise ValueError(f"status must be 'done' or 'failed', not {status!r}")
    run = session.get(ImportRun, run_id)
    if run is None:
        raise ValueError(f"unknown import run {run_id}")
    if run.status != "running" and not (run.status == "failed" and run.message.startswith(INTERRUPTED)):
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


def fail_interrupted(
    session: Session, *, now: datetime | None = None, silent_after: timedelta = SILENT_AFTER
) -> list[int]:
    """Close as ``failed`` (:data:`INTERRUPTED`) every run left at ``running`` by a process that is gone; the
    ids closed.

    A run of this host is interrupted when no process has its pid and start time. A run of another host
    (or of a version before owners were recorded) is interrupted when it has not said it is alive for
    ``silent_after``. A run whose process is still going is left alone, wherever it runs.
    """
    now = now or utcnow()
    host = socket.gethostname()
    closed = []
    for run in session.scalars(select(ImportRun).where(ImportRun.status == "running").order_by(ImportRun.id)):
        alive = _alive(run.owner, host)
        if alive is None:
            last = _aware(run.heartbeat_at or run.started_at)
            if now - last < silent_after:
                continue
            message = f"{INTERRUPTED} (no sign of life from its process since {last:%Y-%m-%d %H:%M} UTC)"
        elif alive:
            continue
        else:
            message = INTERRUPTED
        run.status = "failed"
        run.message = message
        run.finished_at = now
        closed.append(run.id)
    session.flush()
    return closed


def _alive(owner: str | None, host: str) -> bool | None:
    """Whether the owner's process is running: ``None`` when it cannot be told (another host, no owner)."""
    parts = (owner or "").rsplit("/", 2)
    if len(parts) != 3 or parts[0] != host:
        return None
    try:
        pid, started = int(parts[1]), float(parts[2])
        return abs(psutil.Process(pid).create_time() - started) < 1.0
    except (ValueError, psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True  # it exists and its start time cannot be read: left alone


def _aware(moment: datetime) -> datetime:
    """SQLite hands timestamps back without their zone; they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def get_run(session: Session, run_id: int) -> ImportRun | None:
    """One run by id, or ``None``."""
    return session.get(ImportRun, run_id)


def recent_runs(session: Session, limit: int = 20, kind: str | None = None) -> list[ImportRun]:
    """The latest runs, newest first (optionally of one kind)."""
    query = select(ImportRun).order_by(ImportRun.started_at.desc(), ImportRun.id.desc()).limit(limit)
    if kind is not None:
        query = query.where(ImportRun.kind == kind)
    return list(session.scalars(query))
