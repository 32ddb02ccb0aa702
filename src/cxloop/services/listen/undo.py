"""Listing import runs and undoing one (``cxloop import runs``, ``cxloop import undo RUN_ID``, the admin
upload page's "Undo this import" button).

An undo removes exactly what the run stored (:mod:`cxloop.warehouse.write.undo`: the fact rows, what hangs
on them, every derived table rebuilt, the data version bumped), then marks the run ``undone`` and records
an audit event, both in the app database. It is refused, with the reason, when:

* the viewer is not an admin at the top of the organisation (a run may hold every unit's rows);
* the run does not exist, is still running, was undone already, stored nothing, or is a ``units`` run
  (units are upserted, not appended: import the hierarchy you want instead);
* the run was recorded before cxloop kept the keys each run stores (its rows cannot be told apart);
* later data depends on it: a **case** was opened from one of its responses (cases are the accountable
  record of what was done about a response and are never deleted), or posted responses of it still await
  their after-store work.

What the run added to the catalogue (touchpoints, segments, driver items) stays: names without data are
harmless and may be named by other data since.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cxloop.services.access.scope import Role, Viewer
from cxloop.services.stores import Stores
from cxloop.store import audit, import_runs, units
from cxloop.store.tables import Case, ImportRun, PendingArrival, User, utcnow
from cxloop.warehouse.derived.data_version import data_version
from cxloop.warehouse.write.undo import run_keys, undo_run
from cxloop.warehouse.write.writer import writer_for

__all__ = ["ImportRunRow", "UndoRefused", "UndoResult", "list_runs", "run_status", "undo_import"]

UNDONE = "undone"


class UndoRefused(ValueError):
    """The run cannot be undone; the message says why (and what to do)."""


@dataclass(frozen=True)
class ImportRunRow:
    """One import run as ``cxloop import runs`` and the admin page list it."""

    id: int
    kind: str
    source: str
    status: str
    accepted: int
    rejected: int
    duplicates: int
    started_at: datetime
    finished_at: datetime | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        for name in ("started_at", "finished_at"):
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        return data


@dataclass(frozen=True)
class UndoResult:
    """What an undo removed, per warehouse table, and the data version it left."""

    run_id: int
    kind: str
    source: str
    removed: dict[str, int] = field(default_factory=dict)
    data_version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _require_root_admin(session: Session, viewer: Viewer) -> None:
    unit = units.get_unit(session, viewer.unit_id)
    if viewer.role != Role.admin or unit is None or unit.parent_id is not None:
        raise UndoRefused(
            "only an admin of the whole organisation undoes an import (a run may hold every unit's rows)"
        )


def list_runs(viewer: Viewer, *, stores: Stores, limit: int = 50) -> list[ImportRunRow]:
    """The latest import runs, newest first (admins at the top only: runs name every unit's files)."""
    _require_root_admin(stores.session, viewer)
    return [
        ImportRunRow(
            id=run.id,
            kind=run.kind,
            source=run.source,
            status=run.status,
            accepted=run.accepted,
            rejected=run.rejected,
            duplicates=run.duplicates,
            started_at=run.started_at,
            finished_at=run.finished_at,
            message=run.message,
        )
        for run in import_runs.recent_runs(stores.session, limit=limit)
    ]


def run_status(session: Session, run_id: int) -> str | None:
    """The status of import run ``run_id`` (``done``, ``failed``, ``undone``...), or None."""
    run = import_runs.get_run(session, run_id)
    return None if run is None else run.status


def _actor(session: Session, viewer: Viewer) -> audit.Actor:
    user = session.get(User, viewer.user_id) if viewer.user_id is not None else None
    return audit.Actor.user(user.id, user.email) if user is not None else audit.Actor.system("command line")


def undo_import(viewer: Viewer, run_id: int, *, stores: Stores) -> UndoResult:
    """Undo import run ``run_id`` (see the module notes); :class:`UndoRefused` with the reason."""
    session = stores.session
    _require_root_admin(session, viewer)
    run = session.get(ImportRun, run_id)
    if run is None:
        raise UndoRefused(f"there is no import run {run_id} (`cxloop import runs` lists them)")
    if run.status == UNDONE:
        raise UndoRefused(f"import run {run_id} was undone already")
    if run.status == "running":
        raise UndoRefused(f"import run {run_id} is still running; undo it once it has finished")
    if run.kind == "units":
        raise UndoRefused(
            "a units import updates the hierarchy in place and cannot be undone; import a units file "
            "with the hierarchy you want instead"
        )
    keys = run_keys(stores.warehouse, run_id)
    if not keys.total:
        if run.accepted:
            raise UndoRefused(
                f"import run {run_id} was recorded before cxloop kept the rows each run stores, so its "
                "rows cannot be told from the others'; it cannot be undone"
            )
        raise UndoRefused(f"import run {run_id} stored nothing: there is nothing to undo")
    responses = keys.of("responses")
    if responses:
        opened = _cases_from(session, responses)
        if opened:
            shown = ", ".join(f"#{case_id}" for case_id in opened[:10]) + (" ..." if len(opened) > 10 else "")
            raise UndoRefused(
                f"{len(opened)} case(s) were opened from responses of import run {run_id} ({shown}); cases "
                "are the record of what was done and are never deleted, so the run cannot be undone"
            )
        pending = select(func.count()).select_from(PendingArrival).where(PendingArrival.run_id == run_id)
        if session.scalar(pending):
            raise UndoRefused(
                f"responses of import run {run_id} still await their alert rules; try again in a minute"
            )
    removed = undo_run(writer_for(stores.warehouse), run_id, keys)
    version = data_version(stores.warehouse)
    note = f"undone: {', '.join(f'{n:,} {table}' for table, n in removed.items())} removed"
    run.status = UNDONE
    run.message = f"{run.message}; {note}" if run.message else note
    run.finished_at = run.finished_at or utcnow()
    audit.record(
        session,
        entity="import_run",
        entity_id=run_id,
        action="undo",
        actor=_actor(session, viewer),
        changes={"status": ["done", UNDONE]},
        note=note,
    )
    session.flush()
    return UndoResult(
        run_id=run_id,
        kind=run.kind,
        source=run.source,
        removed=removed,
        data_version=version.version if version is not None else None,
    )


def _cases_from(session: Session, response_ids: list[str]) -> list[int]:
    found: list[int] = []
    for start in range(0, len(response_ids), 1000):  # bound the IN list of each query
        chunk = response_ids[start : start + 1000]
        found += session.scalars(select(Case.id).where(Case.response_id.in_(chunk)).order_by(Case.id)).all()
    return sorted(found)
