"""Real-time ingestion: responses posted to the API (or a survey tool's webhook) stored and acted on at once.

One validator, one idempotency rule: a posted batch is imported by the file importer's own machinery,
:meth:`cxloop.services.listen.imports.Importer.import_records`, as one all-or-nothing batch read exactly like
a JSON Lines file of the same objects (same canonical columns, the same row-level reasons, the same
quarantine, rows whose ``response_id`` is stored already counted as duplicates, the derived tables and the
warehouse's data version written in the batch's transaction, an import run recorded) -- but in memory, with
no file, and with the set-up that does not change between requests (migration check, warehouse tables, writer)
done once by the :class:`~cxloop.services.listen.imports.Importer` the web app keeps. The stored responses are
then handed, in the same call, to the after-store hooks the caller gave
(:mod:`cxloop.services.listen.arrival`): the web app gives the alert rules'
(:func:`cxloop.services.act.rules.engine.run_on_arrival`), so a detractor is a case by the time the request
returns. The posted ids are recorded in the app database before anything is stored and settled once the
hooks have run, so a post whose hooks fail (:class:`~cxloop.services.listen.arrival.ArrivalIncompleteError`)
has its cases opened by a retry or by the recovery pass (see :mod:`cxloop.services.listen.arrival`).

DuckDB accepts one writer at a time: the importer's lock serialises the writes (the web app's importer
takes the app's warehouse write lock).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ibis.backends import BaseBackend
from sqlalchemy import Engine

from cxloop.config import Settings
from cxloop.services.access.scope import Viewer, visible_units
from cxloop.services.listen.arrival import AfterStore, settle_arrival
from cxloop.services.listen.catalogue import CatalogueRights, catalogue_rights
from cxloop.services.listen.imports import Importer, ImportFileError
from cxloop.store import catalog
from cxloop.store.db import session_scope
from cxloop.store.tables import utcnow

__all__ = ["IngestResult", "RowRejection", "TooManyResponses", "ingest_responses", "parse_body"]


class TooManyResponses(ImportFileError):
    """More responses in one request than ``CXLOOP_MAX_ROWS_PER_REQUEST``: none is read (the web: 413)."""


_NAMED = ("touchpoint", "segment")
"""Fields that name a catalogue entry: a JSON boolean there is refused (it is no id)."""


@dataclass(frozen=True)
class RowRejection:
    """A posted row that was not stored: its position in the request (1-based), the column(s) and why."""

    row: int
    column: str
    reason: str
    response_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "response_id": self.response_id,
            "column": self.column,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class IngestResult:
    received: int
    accepted: int
    duplicates: int
    rejected: int
    problems: tuple[RowRejection, ...] = ()
    cases_opened: tuple[int, ...] = ()
    run_id: int | None = None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "problems": [p.to_dict() for p in self.problems],
            "cases_opened": list(self.cases_opened),
            "import_run_id": self.run_id,
            "notes": list(self.notes),
        }


def ingest_responses(
    records: Sequence[Any],
    *,
    settings: Settings,
    engine: Engine,
    con: BaseBackend,
    viewer: Viewer | None = None,
    write_lock: threading.Lock | None = None,
    source: str = "api",
    now: datetime | None = None,
    importer: Importer | None = None,
    after_store: Sequence[AfterStore] | None = None,
    catalogue: CatalogueRights | None = None,
) -> IngestResult:
    """Store posted responses (canonical ``responses`` columns, one dict each) and open their cases.

    ``viewer`` (an API key or a user) may only post responses for units in their subtree; a row naming another
    unit is rejected as an unknown unit, so that units outside the scope do not leak. ``viewer=None`` (a
    signed webhook) may post for any unit.

    ``catalogue`` says what the rows may add to the catalogue (touchpoints, segments, driver items;
    :mod:`cxloop.services.listen.catalogue`). By default: the viewer's rights (only an admin of the whole
    organisation adds, at most ``CXLOOP_MAX_NEW_ITEMS_PER_REQUEST`` new items; anyone else's rows naming
    something unknown are rejected with the reason), or without a viewer (a script) the admin's.

    ``importer`` writes the batch (the web app passes the one it keeps, prepared once); without one, an
    importer is made for this call over ``engine`` and ``con`` (under ``write_lock``) and closed after it.
    The stored responses (and those posted again) then go to the importer's after-store hooks, or to
    ``after_store`` when no importer is given (e.g. ``(run_on_arrival,)`` of
    :mod:`cxloop.services.act.rules.engine` to open cases); ``con`` serves their reads. Without an importer
    the caller must say which hooks run (``()`` for none), so a script cannot skip the rules by omission.

    Raises
    ------
    TooManyResponses
        More objects than ``settings.max_rows_per_request``; nothing is read or stored.
    ImportFileError
        Nothing usable at all (no objects).
    ArrivalIncompleteError
        The responses were stored but a hook failed; posting them again (or the recovery pass) finishes it.
    ValueError
        Both ``importer`` and ``after_store`` given (the importer's hooks are the ones that run).
    TypeError
        Neither ``importer`` nor ``after_store`` given.
    """
    if importer is not None and after_store:
        raise ValueError("pass the after-store hooks to the importer, not beside it")
    if importer is None and after_store is None:
        # A script that forgot the rules would otherwise store responses and open no case, without a word.
        raise TypeError(
            "say what runs after the store: after_store=(run_on_arrival,) of "
            "cxloop.services.act.rules.engine opens the cases of the stored alert rules, "
            "after_store=() runs nothing"
        )
    most = settings.max_rows_per_request
    if len(records) > most:
        raise TooManyResponses(
            f"too many responses in one request: {len(records):,}, at most {most:,} "
            "(CXLOOP_MAX_ROWS_PER_REQUEST); send them in several requests or import a file "
            "(cxloop import responses FILE)"
        )
    if not records:
        raise ImportFileError("no responses in the request")
    clock = now  # None: the cases' clocks start when the rules run, after the responses are stored
    problems: list[RowRejection] = []
    keep: list[tuple[int, dict[str, Any]]] = []
    allowed = None
    rights = catalogue
    if viewer is not None:
        with session_scope(engine) as session:
            allowed = visible_units(session, viewer)
            if rights is None:
                rights = catalogue_rights(session, viewer, settings, request=True)
    if rights is None:  # a script's own call: adds what it posts, as many new items as one request may
        rights = CatalogueRights(new_items=settings.max_new_items_per_request)
    for position, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            problems.append(RowRejection(position, "", "not a JSON object"))
            continue
        flag = next((k for k in _NAMED if isinstance(record.get(k), bool)), None)
        if flag is not None:  # JSON true/false would be read as the id "true"/"false"
            reason = catalog.id_problem(flag, record[flag]) or ""
            problems.append(RowRejection(position, flag, reason, _text(record.get("response_id"))))
            continue
        unit = record.get("unit_id")
        if allowed is not None and isinstance(unit, str) and unit and unit not in allowed:
            problems.append(
                RowRejection(
                    position,
                    "unit_id",
                    "unknown unit: import it with `cxloop import units` first",
                    _text(record.get("response_id")),
                )
            )
            continue
        keep.append((position, dict(record)))
    accepted = duplicates = 0
    run_id = None
    notes: tuple[str, ...] = ()
    stored_ids: list[str] = []
    hooks = tuple(after_store or ()) if importer is None else importer.after_store
    awaiting: list[str] = []
    if keep:
        name = f"{source}-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.jsonl"
        own = importer is None
        writer = importer or Importer(settings, engine=engine, warehouse=con, lock=write_lock)
        # Recorded before the warehouse stores anything: the hooks run on them later, or a retry or the
        # recovery pass does.
        awaiting = [rid for _, r in keep if (rid := _text(r.get("response_id")))] if hooks else []
        try:
            summary = writer.import_records(
                "responses", [r for _, r in keep], name, problems=most, awaiting=awaiting, rights=rights
            )
        finally:
            if own:
                writer.close()
        accepted, duplicates, run_id = summary.accepted, summary.duplicates, summary.run_id
        notes = summary.notes
        rejected_lines = set()
        for problem in summary.problems:  # row = the record's line in the batch, from 1
            line = int(problem["row"] or 0)
            position, record = keep[line - 1] if 0 < line <= len(keep) else (0, {})
            rejected_lines.add(line)
            problems.append(
                RowRejection(position, problem["column"], problem["reason"], _text(record.get("response_id")))
            )
        stored_ids = [
            rid
            for i, (_, r) in enumerate(keep, start=1)
            if i not in rejected_lines and (rid := _text(r.get("response_id")))
        ]
    problems.sort(key=lambda p: p.row)
    opened: tuple[int, ...] = ()
    if awaiting and run_id is not None:
        outcome = settle_arrival(
            hooks, run_id, stored_ids, settings=settings, engine=engine, con=con, now=clock or utcnow()
        )
        opened, notes = outcome.cases_opened, (*notes, *outcome.notes)
    return IngestResult(
        received=len(records),
        accepted=accepted,
        duplicates=duplicates,
        rejected=len(problems),
        problems=tuple(problems),
        cases_opened=opened,
        run_id=run_id,
        notes=notes,
    )


def _text(value: Any) -> str | None:
    """A posted value as text for the answer: a lone surrogate (which no UTF-8 answer can carry) as its
    escape, ``\\ud800``."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def parse_body(payload: Any) -> list[Any]:
    """The responses of a request body: one object, a list, or ``{"responses": [...]}``."""
    if isinstance(payload, Mapping) and isinstance(payload.get("responses"), list):
        return list(payload["responses"])
    if isinstance(payload, list):
        return payload
    if isinstance(payload, Mapping):
        return [payload]
    raise ImportFileError('the body must be a JSON object, a list of objects, or {"responses": [...]}')
