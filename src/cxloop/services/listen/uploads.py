"""Uploading a survey-tool export through the admin page: store it, preview, adjust the mapping, import.

The page is thin over these functions. An upload is an :class:`~cxloop.store.tables.UploadJob`
row (its state survives a reload and is the same for every web worker) and a copy of the file under
``<CXLOOP_DATA_DIR>/uploads/<job id>/``, written there as it arrives (:class:`IncomingUpload`: at most
``CXLOOP_MAX_UPLOAD_BYTES``, the folder at most ``CXLOOP_UPLOADS_QUOTA_BYTES``) and removed again when it
cannot be used. The import itself is :func:`cxloop.services.listen.survey_exports.
import_export`, the same as ``cxloop import responses FILE --from ...``: same validation, quarantine,
batches, idempotency and summary.

Only admins upload. An admin of the whole organisation may import a file that names its units; an admin
of a part of it sends the whole file to one unit of their subtree (``unit``), so nobody writes facts
outside what they are responsible for.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from ibis.backends import BaseBackend
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services.access.scope import ScopeError, Viewer, visible_units
from cxloop.services.listen.catalogue import CatalogueRights, catalogue_rights
from cxloop.services.listen.imports import ImportAborted, ImportFileError, ImportProgress
from cxloop.services.listen.survey_exports import ExportPreview, import_export, preview_export
from cxloop.services.stores import engine_for, session_scope
from cxloop.store import audit, units
from cxloop.store.tables import Role, UploadJob, User, utcnow

__all__ = [
    "ROLES",
    "ColumnChoice",
    "IncomingUpload",
    "UploadError",
    "UploadNotFound",
    "UploadTooLarge",
    "create_upload",
    "get_upload",
    "mapping_from_choices",
    "preview_upload",
    "receive_upload",
    "run_upload",
    "stalled",
    "start_upload",
]

ROLES = (
    "response_id",
    "submitted_at",
    "unit_id",
    "customer_id",
    "touchpoint",
    "channel",
    "segment",
    "nps",
    "csat",
    "ces",
    "comment",
    "item",
    "attribute",
    "ignored",
)
"""What a column can become on the page."""

_SINGLE = ROLES[:11]
_ITEM_NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")


class UploadError(ValueError):
    """The upload or the chosen mapping cannot be used; the message says what to fix (a 400)."""


class UploadTooLarge(UploadError):
    """The export is over the largest upload, or the uploads folder has no room left for it (a 413)."""


class UploadNotFound(LookupError):
    """No such upload, or not the viewer's to see (a 404 either way)."""


@dataclass(frozen=True)
class ColumnChoice:
    role: str
    item: str = ""
    low: float | None = None
    high: float | None = None


def _require_admin(viewer: Viewer) -> None:
    if viewer.role != Role.admin:
        raise UploadNotFound("upload pages are for admins")


def _is_root(session: Session, viewer: Viewer) -> bool:
    unit = units.get_unit(session, viewer.unit_id)
    return unit is not None and unit.parent_id is None


def _actor(session: Session, viewer: Viewer) -> audit.Actor:
    user = session.get(User, viewer.user_id) if viewer.user_id is not None else None
    return audit.Actor.user(user.id, user.email) if user is not None else audit.Actor.system("admin")


def _safe_name(name: str) -> str:
    base = Path(name.replace("\\", "/")).name
    cleaned = re.sub(r"[^A-Za-z0-9._ -]+", "_", base).strip(" .") or "export.csv"
    return cleaned[:120]


def _stored_bytes(folder: Path) -> int:
    """Bytes of every file under ``folder`` (0 when it does not exist)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):  # removed meanwhile
                total += (Path(root) / name).stat().st_size
    return total


class IncomingUpload:
    """An export being received, written straight into its own folder ``<data_dir>/uploads/<job id>/``
    (never a temporary directory), within ``max_upload_bytes`` and the uploads folder's
    ``uploads_quota_bytes``. Every failure removes the folder: :meth:`write` over a limit, :meth:`discard`,
    an error inside ``with``, or :func:`create_upload` refusing the file.

    The quota counts what is on disk when the upload starts (including uploads still arriving); two uploads
    started at the same moment may each take the room that is left.
    """

    def __init__(self, settings: Settings, file_name: str) -> None:
        self.name = _safe_name(file_name)
        if Path(self.name).suffix.lower() not in {".csv", ".tsv", ".txt", ".xlsx"}:
            raise UploadError(f"{self.name}: upload a survey tool's export as .csv, .tsv or .xlsx")
        uploads = settings.data_dir / "uploads"
        room = settings.uploads_quota_bytes - _stored_bytes(uploads)
        if settings.max_upload_bytes <= room:
            self.room, self._over = settings.max_upload_bytes, _too_big(self.name, settings.max_upload_bytes)
        else:
            self.room, self._over = room, _quota_full(settings.uploads_quota_bytes)
        if self.room <= 0:
            raise UploadTooLarge(self._over)
        self.job_id = secrets.token_hex(12)
        self.folder = uploads / self.job_id
        self.folder.mkdir(parents=True)
        self.path = self.folder / self.name
        self.size = 0
        self._out: BinaryIO | None = self.path.open("wb")

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``; past the room left, remove everything and raise :class:`UploadTooLarge`."""
        self.size += len(chunk)
        if self.size > self.room:
            self.discard()
            raise UploadTooLarge(self._over)
        assert self._out is not None, "write after finish or discard"
        self._out.write(chunk)

    def finish(self) -> None:
        """Close the file: everything has arrived."""
        if self._out is not None:
            self._out.close()
            self._out = None

    def discard(self) -> None:
        """Remove the folder and all that arrived."""
        self.finish()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> IncomingUpload:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is not None:
            self.discard()


def _too_big(name: str, limit: int) -> str:
    return (
        f"{name} is larger than {limit >> 20} MB, the largest upload (CXLOOP_MAX_UPLOAD_BYTES): import it "
        "with `cxloop import responses FILE --from auto`"
    )


def _quota_full(quota: int) -> str:
    return (
        f"the uploads folder is full (CXLOOP_UPLOADS_QUOTA_BYTES, {quota >> 20} MB): an administrator "
        "removes old uploads from <data dir>/uploads, or import the file with `cxloop import responses FILE "
        "--from auto`"
    )


def receive_upload(viewer: Viewer, *, settings: Settings, file_name: str) -> IncomingUpload:
    """Start receiving an export (admins only): write its bytes with :meth:`IncomingUpload.write`, then
    hand it to :func:`create_upload`."""
    _require_admin(viewer)
    return IncomingUpload(settings, file_name)


def create_upload(
    viewer: Viewer,
    upload: IncomingUpload,
    *,
    settings: Settings,
    session: Session,
    tool: str = "auto",
    include_preview: bool = False,
    now: datetime | None = None,
) -> tuple[UploadJob, ExportPreview]:
    """Keep a received export, recognise it and propose (or reuse) its mapping. A file that cannot be used
    is removed (:class:`UploadError` says why); so is the file when anything else goes wrong."""
    with upload:
        _require_admin(viewer)
        upload.finish()
        try:
            preview = preview_export(
                upload.path, settings=settings, tool=tool, include_preview=include_preview
            )
        except ImportFileError as exc:
            raise UploadError(str(exc)) from None
        job = UploadJob(
            id=upload.job_id,
            file_name=upload.name,
            stored_path=str(upload.path),
            detected_format=preview.detected_format,
            status="uploaded",
            created_by_user_id=viewer.user_id,
            mapping=dict(preview.mapping),
            include_preview=include_preview,
            created_at=now or utcnow(),
        )
        session.add(job)
        audit.record(
            session,
            entity="upload_job",
            entity_id=upload.job_id,
            action="upload",
            actor=_actor(session, viewer),
            note=f"{upload.name}: {preview.label} export, {upload.size} bytes",
            at=now,
        )
        session.flush()
    return job, preview


def get_upload(viewer: Viewer, job_id: str, session: Session) -> UploadJob:
    _require_admin(viewer)
    job = session.get(UploadJob, job_id)
    if job is None:
        raise UploadNotFound(job_id)
    if job.created_by_user_id is not None and viewer.user_id is not None and not _is_root(session, viewer):
        if job.created_by_user_id != viewer.user_id:
            raise UploadNotFound(job_id)
    return job


def preview_upload(viewer: Viewer, job_id: str, *, settings: Settings, session: Session) -> ExportPreview:
    """The upload's preview with the mapping currently chosen for it."""
    job = get_upload(viewer, job_id, session)
    try:
        return preview_export(
            job.stored_path,
            settings=settings,
            tool=job.detected_format,
            mapping=job.mapping,
            include_preview=job.include_preview,
        )
    except ImportFileError as exc:
        raise UploadError(str(exc)) from None


def mapping_from_choices(
    preview: ExportPreview, choices: Mapping[str, ColumnChoice], unit: str | None = None
) -> dict[str, Any]:
    """A mapping (the saved YAML's content) from the page's choice for every column."""
    labels = {c.column: dict(c.labels) for c in preview.proposal.columns}
    base = preview.mapping
    columns: dict[str, str] = {}
    items: dict[str, Any] = {}
    values: dict[str, Any] = {}
    attributes: list[str] = []
    for column, choice in choices.items():
        if choice.role not in ROLES:
            raise UploadError(f"{column}: unknown choice {choice.role!r}")
        if choice.role in _SINGLE:
            if choice.role in columns:
                raise UploadError(f"both {columns[choice.role]!r} and {column!r} are {choice.role}: keep one")
            columns[choice.role] = column
            if choice.role in {"nps", "csat", "ces"} and labels.get(column):
                values[choice.role] = labels[column]
        elif choice.role == "item":
            name = choice.item.strip().lower()
            if not _ITEM_NAME.match(name):
                raise UploadError(
                    f"{column}: a driver item needs a name of lower-case letters, digits and _ (e.g. staff)"
                )
            if name in items or name in {"nps", "csat", "ces"}:
                raise UploadError(f"item name {name!r} is used twice (or is reserved)")
            if choice.low is None or choice.high is None or not choice.low < choice.high:
                raise UploadError(f"{column}: give the item's scale, lowest below highest (e.g. 1 and 5)")
            entry: dict[str, Any] = {"column": column, "scale": [_num(choice.low), _num(choice.high)]}
            if labels.get(column):
                entry["labels"] = labels[column]
            items[name] = entry
        elif choice.role == "attribute":
            attributes.append(column)
    constants = {k: v for k, v in dict(base.get("constants") or {}).items() if k != "unit_id"}
    if unit:
        constants["unit_id"] = unit
        columns.pop("unit_id", None)
    mapping: dict[str, Any] = {
        "export": {**dict(base.get("export") or {}), "attributes": attributes},
        "columns": columns,
        "constants": constants,
    }
    if values:
        mapping["values"] = values
    if items:
        mapping["items"] = items
    for key in ("missing_values", "timestamp_format", "timezone"):
        if base.get(key):
            mapping[key] = base[key]
    return mapping


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def start_upload(
    viewer: Viewer,
    job_id: str,
    mapping: Mapping[str, Any],
    *,
    settings: Settings,
    session: Session,
    now: datetime | None = None,
) -> ExportPreview:
    """Check the chosen mapping and mark the upload as running (call :func:`run_upload` next)."""
    job = get_upload(viewer, job_id, session)
    if job.status == "running" and not stalled(job, now):
        raise UploadError("this upload is being imported already")
    unit = (mapping.get("constants") or {}).get("unit_id")
    if not _is_root(session, viewer):
        visible = visible_units(session, viewer)
        if "unit_id" in (mapping.get("columns") or {}) or unit not in visible:
            raise UploadError(
                "as an admin of part of the organisation, send the file to one unit of your part (Unit)"
            )
    try:
        preview = preview_export(
            job.stored_path,
            settings=settings,
            tool=job.detected_format,
            mapping=mapping,
            include_preview=job.include_preview,
        )
    except (ImportFileError, ScopeError) as exc:
        raise UploadError(str(exc)) from None
    missing = [m for m in ("response_id", "submitted_at", "unit_id") if not _has(mapping, m)]
    if missing:
        raise UploadError(f"choose the column(s) for {', '.join(missing)} (or give a Unit for every row)")
    job.mapping = dict(mapping)
    job.status = "running"
    job.summary, job.error, job.done, job.rows, job.total = {}, "", 0, 0, None
    audit.record(
        session, entity="upload_job", entity_id=job.id, action="import", actor=_actor(session, viewer), at=now
    )
    return preview


STALLED = timedelta(minutes=10)
"""A running upload without progress for this long is taken as stopped (e.g. the server restarted); it
can be started again (an import is idempotent: what was stored counts as duplicates)."""


def stalled(job: UploadJob, now: datetime | None = None) -> bool:
    """Whether a running upload has made no progress for :data:`STALLED`."""
    updated = job.updated_at
    if updated is None or job.status != "running":
        return False
    if updated.tzinfo is None:  # SQLite gives back naive UTC
        updated = updated.replace(tzinfo=UTC)
    return (now or utcnow()) - updated > STALLED


def _has(mapping: Mapping[str, Any], canonical: str) -> bool:
    return canonical in (mapping.get("columns") or {}) or canonical in (mapping.get("constants") or {})


def _rights(session: Session, job: UploadJob, settings: Settings) -> CatalogueRights:
    """What the upload may add to the catalogue: what the admin who uploaded it may (an admin of part of the
    organisation adds nothing: rows naming unknown touchpoints, segments or items are rejected)."""
    user = session.get(User, job.created_by_user_id) if job.created_by_user_id is not None else None
    if user is None or not user.is_active:
        return CatalogueRights(extend=False)
    return catalogue_rights(session, Viewer.for_user(user), settings)


def run_upload(
    job_id: str,
    *,
    settings: Settings,
    warehouse: BaseBackend | None = None,
    on_update: Callable[[], None] | None = None,
) -> None:
    """Run a started upload's import to the end, recording progress and the summary on the job.

    Meant for a background thread, which owns its unit of work: it opens its own app-database sessions
    (through :mod:`cxloop.services.stores`), one short transaction per progress update.
    """
    engine = engine_for(settings)
    try:
        with session_scope(engine) as session:
            job = session.get(UploadJob, job_id)
            if job is None or job.status != "running":
                return
            path, tool, mapping, include = (
                job.stored_path,
                job.detected_format,
                dict(job.mapping),
                job.include_preview,
            )
            rights = _rights(session, job, settings)

        def progress(event: ImportProgress) -> None:
            with session_scope(engine) as session:
                job = session.get(UploadJob, job_id)
                if job is not None:
                    job.done, job.total, job.rows = event.done, event.total, event.rows
            if on_update is not None:
                on_update()

        status, summary, error = "done", {}, ""
        try:
            result = import_export(
                path,
                settings=settings,
                tool=tool,
                mapping=mapping,
                include_preview=include,
                progress=progress,
                warehouse=warehouse,
                rights=rights,
            )
            summary = result.to_dict()
        except ImportFileError as exc:
            status, error = "failed", f"{exc} (nothing was imported)"
        except ImportAborted as exc:
            status, error, summary = "failed", str(exc), exc.summary.to_dict()
        except Exception as exc:  # a database or I/O failure: recorded on the job, shown on the page
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        with session_scope(engine) as session:
            job = session.get(UploadJob, job_id)
            if job is not None:
                job.status, job.summary, job.error = status, summary, error
                if summary:
                    job.rows = int(summary.get("rows", job.rows))
                    job.done = job.total or job.done
                audit.record(
                    session,
                    entity="upload_job",
                    entity_id=job_id,
                    action=status,
                    actor=audit.Actor.system("upload import"),
                    note=error
                    or f"{summary.get('accepted', 0)} accepted, {summary.get('rejected', 0)} rejected",
                )
    finally:
        engine.dispose()
