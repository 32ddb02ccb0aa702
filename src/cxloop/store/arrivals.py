"""Posted responses awaiting their after-store work (the alert rules): the write-ahead record that makes a
real-time post "its rows and all its cases, or nothing" across the two stores.

The ids are recorded (:func:`record`) in the transaction that opens the post's import run, before the
warehouse stores anything; the record is removed (:func:`settle`) once the after-store work has run on what
was stored. A record left behind (the work failed, or the process died) is finished by a retry of the post or
by the recovery pass, which takes the records whose import run is no longer running (:func:`due`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cxloop.store.tables import ImportRun, PendingArrival, utcnow

__all__ = ["due", "failed", "record", "settle"]

ERROR_LENGTH = 2000
"""How much of the last failure a record keeps."""


def record(session: Session, run_id: int, response_ids: Sequence[str]) -> None:
    """Record that the responses ``response_ids`` of the run ``run_id`` await their after-store work."""
    session.add(PendingArrival(run_id=run_id, response_ids=list(dict.fromkeys(response_ids))))
    session.flush()


def settle(session: Session, run_id: int, *, covered: Sequence[str] = ()) -> None:
    """The after-store work of run ``run_id`` is done: forget its record (no record: nothing to do).

    ``covered``: the ids the work ran on; the records of earlier runs (no longer running) holding only such
    ids are done too and forgotten with it (a post that failed, then succeeded when posted again)."""
    done = [run_id]
    if covered:
        ids = set(covered)
        done += [pending.run_id for pending in due(session, limit=1000) if set(pending.response_ids) <= ids]
    session.execute(delete(PendingArrival).where(PendingArrival.run_id.in_(done)))


def failed(
    session: Session,
    run_id: int,
    error: str,
    *,
    response_ids: Sequence[str] | None = None,
    now: datetime | None = None,
) -> None:
    """The after-store work of run ``run_id`` failed with ``error``: count the attempt (and narrow the ids to
    ``response_ids``, those the run stored, when given)."""
    pending = session.get(PendingArrival, run_id)
    if pending is None:
        return
    pending.attempts += 1
    pending.last_error = error[:ERROR_LENGTH]
    pending.updated_at = now or utcnow()
    if response_ids is not None:
        pending.response_ids = list(dict.fromkeys(response_ids))
    session.flush()


def due(session: Session, *, before: datetime | None = None, limit: int = 100) -> list[PendingArrival]:
    """Records the recovery pass may finish: their import run is no longer running (so the warehouse has
    stored the responses or never will), oldest first; with ``before``, only those last touched before it
    (a post may be running its own after-store work right now)."""
    query = (
        select(PendingArrival)
        .join(ImportRun, ImportRun.id == PendingArrival.run_id)
        .where(ImportRun.status != "running")
        .order_by(PendingArrival.created_at, PendingArrival.run_id)
        .limit(limit)
    )
    if before is not None:
        query = query.where(PendingArrival.updated_at < before)
    return list(session.scalars(query))
