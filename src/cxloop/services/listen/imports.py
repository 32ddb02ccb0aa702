"""Importing files: validated, quarantined, idempotent, all-or-nothing per batch.

:func:`import_file` is the entry point for files (the CLI's ``cxloop import KIND FILE``, the demo and the
web upload all call it). Underneath, an :class:`Importer` holds what does not change from one import to the
next (the app database migrated, the warehouse tables, one warehouse writer): :func:`import_file` makes one
per file, the real-time API (:mod:`cxloop.services.listen.realtime`) keeps one per app and imports each posted
batch with :meth:`Importer.import_records` -- the same reader, validation, write step and run record, with
none of the per-file set-up.

An import joins the two stores: the app database knows the org hierarchy and the catalogue (touchpoints,
segments, driver items and their scales) and records an :class:`ImportRun`; the warehouse receives the
facts. Units are the exception to append-only: they upsert in the app database and are then
mirrored whole into the warehouse (``units`` and ``unit_closure``).

Example
-------
>>> from cxloop.config import Settings
>>> summary = import_file("responses", "responses.csv", settings=Settings())  # doctest: +SKIP
>>> summary.to_dict()  # doctest: +SKIP
{'kind': 'responses', 'accepted': 9998, 'rejected': 2, 'duplicates': 0, 'quarantine': '...csv', ...}
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend
from sqlalchemy import Engine, inspect

from cxloop.config import Settings
from cxloop.services.listen._unit_import import import_units
from cxloop.services.listen.arrival import AfterStore
from cxloop.services.listen.catalogue import ADMIN, CatalogueRights
from cxloop.services.stores import connect_warehouse as open_warehouse
from cxloop.services.stores import engine_for, session_scope
from cxloop.store import arrivals, catalog, import_runs, migrate, units
from cxloop.store.tables import ImportRun
from cxloop.warehouse.ingest.kinds import KINDS, KindSpec, kind_spec
from cxloop.warehouse.ingest.mapping import (
    ColumnMapping,
    ColumnPlan,
    MappingError,
    load_mapping,
    plan_columns,
)
from cxloop.warehouse.ingest.parse import mask
from cxloop.warehouse.ingest.periods import PERIOD_COLUMN, PeriodSource
from cxloop.warehouse.ingest.quarantine import QuarantineWriter, quarantine_path
from cxloop.warehouse.ingest.readers import (
    RAW_LINE,
    RecordsSource,
    Source,
    SourceBatch,
    SourceError,
    open_source,
)
from cxloop.warehouse.ingest.seen import SeenKeys
from cxloop.warehouse.ingest.validate import RowProblem, ValidatedBatch, ValidationContext, validate_batch
from cxloop.warehouse.tables import ensure_tables
from cxloop.warehouse.write.attributes import append_attributes
from cxloop.warehouse.write.failpoints import Failpoints
from cxloop.warehouse.write.writer import WarehouseWriter, append_batch, writer_for

__all__ = [
    "IMPORT_KINDS",
    "ImportAborted",
    "ImportFileError",
    "ImportProgress",
    "ImportSummary",
    "Importer",
    "fail_interrupted_runs",
    "import_file",
]

_log = logging.getLogger(__name__)

IMPORT_KINDS: tuple[str, ...] = tuple(KINDS)
"""The kinds of file, in the order a programme imports them (units first)."""

PROBLEM_SAMPLE = 20
"""How many rejected rows the summary shows (the quarantine file has them all)."""

DEFAULT_ITEM_SCALE = (0.0, 10.0)

PARTIAL_FLOOR = 10
"""Fewest rows one reason must reject before a file is refused as a biased subset: a typo in one row of a
small file is a rejected row (exit 1), not a refused file."""


class ImportFileError(ValueError):
    """The file cannot be used at all (missing, unknown format, missing columns, bad mapping); nothing
    was imported. The message says what to fix."""


class ImportAborted(RuntimeError):
    """The import stopped part-way (a read or database error after some batches were committed).

    The committed batches stay; ``summary`` counts them. Fix the cause and import the same file again:
    what is stored already counts as duplicates.
    """

    def __init__(self, message: str, summary: ImportSummary) -> None:
        super().__init__(message)
        self.summary = summary


@dataclass(frozen=True)
class ImportProgress:
    """Handed to the ``progress`` callback after every batch. ``done``/``total`` are in the reader's
    unit (bytes of a CSV or JSON Lines file, rows of a Parquet file); ``total`` may be ``None``."""

    rows: int
    accepted: int
    rejected: int
    duplicates: int
    done: int
    total: int | None


@dataclass(frozen=True)
class ImportSummary:
    """What an import did. ``exit_code``: 0 every row accepted or a duplicate, 1 some rows rejected."""

    kind: str
    file: str
    format: str
    accepted: int
    rejected: int
    duplicates: int
    warnings: int
    quarantine: str | None
    rows: int = 0
    changed: int = 0
    """Duplicates whose stored values differ from the file's (they were not overwritten)."""
    inserted: int = 0
    updated: int = 0
    """Units only: ``accepted`` = ``inserted`` + ``updated``."""
    answers: int = 0
    customers_not_imported: int = 0
    batches: int = 0
    run_id: int | None = None
    new_touchpoints: tuple[str, ...] = ()
    new_segments: tuple[str, ...] = ()
    new_items: tuple[str, ...] = ()
    ignored_columns: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    problems: tuple[Mapping[str, Any], ...] = field(default=())
    attributes: int = 0
    """Responses files: values of the file's other columns kept as response attributes."""
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        return 1 if self.rejected else 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON summary (``cxloop import ... --json``)."""
        data = asdict(self)
        for name in ("new_touchpoints", "new_segments", "new_items", "ignored_columns", "notes", "problems"):
            data[name] = list(data[name])
        data["problems"] = [dict(p) for p in self.problems]
        data["seconds"] = round(self.seconds, 3)
        data["exit_code"] = self.exit_code
        return data


ProgressCallback = Callable[[ImportProgress], None]


def import_file(
    kind: str,
    path: str | Path,
    *,
    settings: Settings,
    mapping: ColumnMapping | str | Path | None = None,
    batch_size: int | None = None,
    progress: ProgressCallback | None = None,
    warehouse: BaseBackend | None = None,
    source: Source | None = None,
    rights: CatalogueRights = ADMIN,
    accept_partial: bool = False,
    submitted_at: str | None = None,
) -> ImportSummary:
    """Import one file of ``kind`` (``units``, ``customers``, ``responses``, ``transactions``,
    ``contacts``, ``subscriptions``) into the stores named by ``settings``.

    Parameters
    ----------
    kind
        What the file holds; its canonical columns are in ``docs/data-formats.md``.
    path
        A CSV (optionally ``.gz``), Parquet or JSON Lines file.
    settings
        Which stores; the app database is migrated and the warehouse tables created on first use.
    mapping
        A :class:`ColumnMapping` or the path of a mapping file, for files with other column names.
    batch_size
        Rows per all-or-nothing batch (default ``settings.import_batch_size``).
    progress
        Called after every batch with an :class:`ImportProgress`.
    warehouse
        An open warehouse connection to use instead of connecting from ``settings`` (e.g. to import
        several files through one connection).
    source
        An already opened reader of ``path`` to stream instead of opening it by its extension (a
        survey-tool export, :func:`cxloop.warehouse.ingest.exports.open_export`); its ``notes()`` join
        the summary's warnings. It is closed at the end.
    rights
        What the import may add to the catalogue (:mod:`cxloop.services.listen.catalogue`; default: the
        command line's, anything within ``CXLOOP_MAX_ITEMS``).
    submitted_at
        Responses only: one date for every row of a file without timestamps (``--submitted-at``), said
        in a warning.
    accept_partial
        Import the good rows even when one reason rejects more than
        ``CXLOOP_IMPORT_MAX_REJECTED_SHARE`` of the file (by default such a file is refused whole,
        :class:`ImportFileError`: the rows kept would be a biased subset).

    Raises
    ------
    ImportFileError
        The file cannot be used at all; nothing was imported.
    ImportAborted
        The import stopped part-way; the batches already committed stay (re-running completes it).
    """
    if submitted_at is not None:
        mapping = _with_constant(_as_mapping(mapping), kind, "submitted_at", submitted_at)
    importer = Importer(settings, warehouse=warehouse)
    try:
        return importer.import_source(
            kind,
            Path(path),
            mapping=mapping,
            batch_size=batch_size,
            progress=progress,
            source=source,
            rights=rights,
            max_rejected_share=None if accept_partial else settings.import_max_rejected_share,
        )
    finally:
        importer.close()


class Importer:
    """Imports into the stores named by ``settings``, with the set-up they share done once.

    The set-up -- the app database migrated to the newest schema, the warehouse tables created, a
    warehouse writer (whose first batch checks the derived tables it maintains) -- is done by the first
    import and reused by the next ones. What can change between two imports is read by each import: the
    units and the catalogue (touchpoints, segments, items and their scales) that rows are checked against,
    and the run record. Imports through one importer take turns (``lock``): the writer runs one
    transaction at a time. When an import fails for any reason but its input, the set-up is forgotten and
    redone by the next import, so a store that was replaced or migrated meanwhile is picked up.

    An import owns its unit of work (it commits batch by batch and records its run), so the importer
    opens the stores it is not given itself, through :mod:`cxloop.services.stores` like any caller.

    Parameters
    ----------
    settings
        Which stores; also the batch size, the quarantine folder.
    engine
        The app database's engine (default: one built from ``settings``, disposed by :meth:`close`).
    warehouse
        An open warehouse connection to use (left open by :meth:`close`).
    connect_warehouse
        Opens the warehouse connection when no ``warehouse`` is given (default: from ``settings``); that
        connection is closed by :meth:`close` and when the set-up is redone.
    lock
        Taken for each import (default: a lock of its own).
    after_store
        What runs on responses once real-time ingestion has stored them
        (:func:`cxloop.services.listen.realtime.ingest_responses` runs them; e.g. the alert rules, given by
        the web app). File imports run none: loading a file opens no cases.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        warehouse: BaseBackend | None = None,
        connect_warehouse: Callable[[], BaseBackend] | None = None,
        lock: AbstractContextManager[Any] | None = None,
        after_store: Sequence[AfterStore] = (),
    ) -> None:
        self.settings = settings
        self.after_store: tuple[AfterStore, ...] = tuple(after_store)
        self._engine = engine
        self._owns_engine = engine is None
        self._given_warehouse = warehouse
        self._connect = connect_warehouse or (lambda: open_warehouse(settings))
        self._con: BaseBackend | None = warehouse
        self._writer: WarehouseWriter | None = None
        self.lock: AbstractContextManager[Any] = lock if lock is not None else threading.Lock()

    def _prepare(self) -> tuple[Engine, BaseBackend, WarehouseWriter]:
        if self._writer is None:
            _upgrade(self.settings.resolved_database_url)
            if self._engine is None:
                self._engine = engine_for(self.settings)
            fail_interrupted_runs(self._engine)
            if self._con is None:
                self._con = self._connect()
            ensure_tables(self._con)
            self._writer = writer_for(self._con, Failpoints.from_env())
        assert self._engine is not None and self._con is not None
        return self._engine, self._con, self._writer

    def reset(self) -> None:
        """Forget the set-up: the next import migrates, checks the tables and makes a writer again."""
        self._writer = None
        if self._con is not None and self._con is not self._given_warehouse:
            self._con.disconnect()
            self._con = None

    def close(self) -> None:
        """Close what the importer opened (the warehouse connection, the engine it built)."""
        self.reset()
        if self._owns_engine and self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def import_records(
        self,
        kind: str,
        records: Sequence[Mapping[str, Any]],
        name: str,
        *,
        problems: int = PROBLEM_SAMPLE,
        awaiting: Sequence[str] = (),
        rights: CatalogueRights = ADMIN,
    ) -> ImportSummary:
        """Import records held in memory (a request's JSON objects) as one all-or-nothing batch, exactly
        as a JSON Lines file of them would be imported; ``name`` stands where the file's path would (run
        record, quarantine file name). ``problems``: how many rejected rows the summary lists; ``rights``:
        what the records may add to the catalogue.

        ``awaiting``: the posted response ids whose after-store work is still to run; they are recorded
        (:mod:`cxloop.store.arrivals`) in the transaction that opens the import run, before anything is
        stored, and the caller settles them once the work has run
        (:func:`cxloop.services.listen.arrival.settle_arrival`)."""
        try:
            spec = kind_spec(kind)
        except ValueError as exc:
            raise ImportFileError(str(exc)) from None
        if not records:
            raise ImportFileError(f"{name}: no records")
        try:
            source = RecordsSource(records, name, text_fields=_timestamp_sources(spec, ColumnMapping()))
        except SourceError as exc:
            raise ImportFileError(str(exc)) from None
        return self.import_source(
            kind,
            Path(name),
            batch_size=len(records),
            source=source,
            problems=problems,
            awaiting=awaiting,
            rights=rights,
        )

    def import_source(
        self,
        kind: str,
        path: Path,
        *,
        mapping: ColumnMapping | str | Path | None = None,
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
        source: Source | None = None,
        problems: int = PROBLEM_SAMPLE,
        awaiting: Sequence[str] = (),
        rights: CatalogueRights = ADMIN,
        max_rejected_share: float | None = None,
    ) -> ImportSummary:
        """Import the file at ``path`` (or the opened ``source`` standing for it); see :func:`import_file`
        (``awaiting``: see :meth:`import_records`). ``max_rejected_share``: refuse the file whole when one
        reason rejects more than this share of its rows (None: import the good rows whatever the share)."""
        started = time.perf_counter()
        try:
            spec = kind_spec(kind)
            column_mapping = _as_mapping(mapping)
        except ValueError as exc:
            raise ImportFileError(str(exc)) from None
        size = self.settings.import_batch_size if batch_size is None else batch_size
        if size < 1:
            raise ImportFileError(f"batch size must be at least 1, not {size}")
        with self.lock:
            try:
                engine, con, writer = self._prepare()
            except BaseException:
                self.reset()
                raise
            with session_scope(engine) as session:
                run_id = import_runs.start_run(session, kind, str(path))
                if awaiting:
                    arrivals.record(session, run_id, awaiting)
            try:
                summary = _run(
                    spec,
                    path,
                    column_mapping,
                    size,
                    self.settings,
                    engine,
                    con,
                    writer,
                    run_id,
                    progress,
                    source,
                    problems,
                    rights,
                    max_rejected_share,
                )
            except ImportFileError as exc:  # nothing stored: nothing awaits after-store work either
                _finish(engine, run_id, None, f"file not used: {exc}", settle=True)
                raise
            except ImportAborted as exc:
                self.reset()
                _finish(engine, run_id, exc.summary, f"stopped part-way: {exc}")
                raise
            except BaseException as exc:
                self.reset()
                _finish(engine, run_id, None, f"failed: {type(exc).__name__}: {exc}")
                raise
            summary = replace(summary, seconds=time.perf_counter() - started)
            _finish(engine, run_id, summary, "")
            return summary


def _cut(text: str, most: int = 40) -> str:
    """``text`` quoted for a message, cut to ``most`` characters (a 5,000-character name is not echoed)."""
    shown = repr(text)
    return shown if len(shown) <= most else shown[: most - 3] + "..."


def _as_mapping(mapping: ColumnMapping | str | Path | None) -> ColumnMapping:
    if mapping is None:
        return ColumnMapping()
    if isinstance(mapping, ColumnMapping):
        return mapping
    try:
        return load_mapping(mapping)
    except MappingError as exc:
        raise ImportFileError(str(exc)) from None


def _with_constant(mapping: ColumnMapping, kind: str, name: str, value: str) -> ColumnMapping:
    """``mapping`` with one value of ``name`` for every row (a command-line option such as --submitted-at)."""
    if kind != "responses":
        raise ImportFileError(f"--{name.replace('_', '-')} is for responses, not {kind}")
    if (
        name in mapping.columns
        or name in mapping.constants
        or (mapping.period and mapping.period.to in (None, name))
    ):
        raise ImportFileError(f"--{name.replace('_', '-')} and the mapping both give {name}; keep one")
    return replace(mapping, constants={**mapping.constants, name: value})


def _upgrade(url: str) -> None:
    if not migrate.is_up_to_date(url):
        migrate.upgrade(url)


def fail_interrupted_runs(engine: Engine) -> list[int]:
    """Close the import runs left at ``running`` by a process that is gone (killed, crashed) as ``failed``,
    "interrupted" (:func:`cxloop.store.import_runs.fail_interrupted`); their ids. Called when an import sets
    up and when ``cxloop serve`` starts."""
    if not inspect(engine).has_table(ImportRun.__tablename__):
        return []  # not migrated yet: no runs
    with session_scope(engine) as session:
        closed = import_runs.fail_interrupted(session)
    if closed:
        _log.warning(
            "import run(s) %s were left running by a process that stopped; marked failed (interrupted)",
            ", ".join(map(str, closed)),
        )
    return closed


def _finish(
    engine: Engine, run_id: int, summary: ImportSummary | None, message: str, *, settle: bool = False
) -> None:
    with session_scope(engine) as session:
        if settle:
            arrivals.settle(session, run_id)
        import_runs.finish_run(
            session,
            run_id,
            status="done" if summary is not None and not message else "failed",
            accepted=summary.accepted if summary else 0,
            rejected=summary.rejected if summary else 0,
            duplicates=summary.duplicates if summary else 0,
            warnings=summary.warnings if summary else 0,
            quarantine_path=summary.quarantine if summary else None,
            message=message or "; ".join(summary.notes if summary else ()),
        )


def _timestamp_sources(spec: KindSpec, mapping: ColumnMapping) -> frozenset[str]:
    return frozenset(mapping.source_of(c.name) for c in spec.columns if c.type == "timestamp")


def _open(
    path: Path, mapping: ColumnMapping, spec: KindSpec, source: Source | None = None
) -> tuple[Source, ColumnPlan, ColumnMapping]:
    if source is None:
        try:
            source = open_source(path, mapping, text_fields=_timestamp_sources(spec, mapping))
        except SourceError as exc:
            raise ImportFileError(str(exc)) from None
    try:
        if mapping.period is not None:
            source, mapping = _with_period(source, mapping, spec)
        plan = plan_columns(spec, mapping, source.columns)
    except (MappingError, SourceError) as exc:
        source.close()
        raise ImportFileError(f"{path.name}: {exc}") from None
    return source, plan, mapping


def _with_period(source: Source, mapping: ColumnMapping, spec: KindSpec) -> tuple[Source, ColumnMapping]:
    """The file's rows dated from the mapping's period column (:mod:`cxloop.warehouse.ingest.periods`)."""
    assert mapping.period is not None
    stamps = [c.name for c in spec.columns if c.type == "timestamp"]
    target = mapping.period.to or next(
        (c.name for c in spec.columns if c.type == "timestamp" and c.required), None
    )
    if target not in stamps:
        raise MappingError(f"period.to must be a timestamp column of {spec.kind} ({', '.join(stamps)})")
    if target in mapping.columns or target in mapping.constants:
        raise MappingError(f"{target} comes from both the period column and columns/constants; keep one")
    return PeriodSource(source, mapping.period), replace(
        mapping, columns={**mapping.columns, target: PERIOD_COLUMN}
    )


def _run(
    spec: KindSpec,
    path: Path,
    mapping: ColumnMapping,
    size: int,
    settings: Settings,
    engine: Engine,
    con: BaseBackend,
    writer: WarehouseWriter,
    run_id: int,
    progress: ProgressCallback | None,
    opened: Source | None = None,
    problems: int = PROBLEM_SAMPLE,
    rights: CatalogueRights = ADMIN,
    max_rejected_share: float | None = None,
) -> ImportSummary:
    source, plan, mapping = _open(path, mapping, spec, opened)
    with source:
        columns = [*source.columns, *([RAW_LINE] if source.format == "jsonl" else [])]
        quarantine = QuarantineWriter(
            quarantine_path(settings.quarantine_dir, spec.kind, path, run_id), columns
        )
        try:
            if spec.kind == "units":
                result = import_units(spec, source, plan, mapping, size, engine, con, quarantine, str(path))
                summary = _summary_from(spec, source, plan, result, quarantine, run_id)
                if progress is not None:
                    done, total = source.progress()
                    progress(
                        ImportProgress(
                            summary.rows, summary.accepted, summary.rejected, summary.duplicates, done, total
                        )
                    )
                return summary
            importer = _FactImport(
                spec,
                source,
                plan,
                mapping,
                size,
                engine,
                writer,
                quarantine,
                run_id,
                progress,
                problems,
                max_chars=_max_chars(settings),
                rights=rights,
                max_items=settings.max_items,
                max_rejected_share=max_rejected_share,
                keep_attributes=_extra_columns(spec, plan, source) if opened is None else (),
            )
            return importer.run()
        finally:
            quarantine.close()


def _extra_columns(spec: KindSpec, plan: ColumnPlan, source: Source) -> tuple[str, ...]:
    """The columns of a responses file that no canonical column reads: kept as response attributes
    (as the survey-tool readers keep theirs), never dropped."""
    if spec.kind != "responses":
        return ()
    return tuple(
        c
        for c in plan.ignored
        if c not in {RAW_LINE, PERIOD_COLUMN} and c in source.columns and not _PERSONAL.search(c)
    )


_PERSONAL = re.compile(r"\bip\b|e-?mail|phone|\bfirst ?name\b|\blast ?name\b|\bsurname\b", re.I)
"""Columns named like personal data (IP address, e-mail, phone, names): left out, as the survey-tool
readers leave them out; map one by hand to keep it."""


def _attribute_rows(
    raw: SourceBatch, checked: ValidatedBatch, new: np.ndarray, columns: Sequence[str]
) -> pa.Table:
    """``(response_id, name, value)`` of the ``columns`` of the responses this batch stored."""
    stored = checked.rows.filter(pa.array(new))
    numbers = checked.row_numbers[new]
    position = {int(n): i for i, n in enumerate(raw.rows)}
    take = pa.array([position[int(n)] for n in numbers], pa.int64())
    ids = stored.column("response_id").combine_chunks()
    parts = []
    for name in columns:
        values = raw.table.column(name).take(take)
        if pa.types.is_binary(values.type):
            values = pc.cast(values, pa.string(), safe=False)
        elif not pa.types.is_string(values.type):
            values = pc.cast(values, pa.string())
        keep = pc.invert(pc.or_kleene(pc.is_null(values), pc.equal(pc.utf8_trim_whitespace(values), "")))
        keep = pc.fill_null(keep, False)
        parts.append(
            pa.table(
                {
                    "response_id": ids.filter(keep),
                    "name": pa.array([name] * int(pc.sum(keep).as_py() or 0), pa.string()),
                    "value": pc.utf8_trim_whitespace(values.filter(keep)),
                }
            )
        )
    return pa.concat_tables(parts) if parts else pa.table({"response_id": [], "name": [], "value": []})


def _reason_kind(reason: str) -> str:
    """A rejection reason without what varies from row to row (a row number, a length, a quoted value), so
    that rows rejected for the same reason count together."""
    return _VARYING.sub("", reason).strip()


_VARYING = re.compile(r"\s*\([^()]{0,200}\)|'[^']{0,200}'|\d+")


def _max_chars(settings: Settings) -> dict[str, int]:
    """The ceilings the settings set over the columns' own (``docs/data-formats.md``)."""
    return {"comment": settings.max_comment_chars}


def _summary_from(
    spec: KindSpec, source: Source, plan: ColumnPlan, result: Any, quarantine: QuarantineWriter, run_id: int
) -> ImportSummary:
    return ImportSummary(
        kind=spec.kind,
        file=str(source.path),
        format=source.format,
        accepted=result.inserted + result.updated,
        rejected=len(result.problems),
        duplicates=result.unchanged,
        warnings=0,
        quarantine=str(quarantine.path) if quarantine.created else None,
        rows=result.rows,
        inserted=result.inserted,
        updated=result.updated,
        batches=1,
        run_id=run_id,
        ignored_columns=plan.ignored,
        problems=tuple(p.to_dict() for p in result.problems[:PROBLEM_SAMPLE]),
    )


class _FactImport:
    """One import of a fact file, batch by batch."""

    def __init__(
        self,
        spec: KindSpec,
        source: Source,
        plan: ColumnPlan,
        mapping: ColumnMapping,
        size: int,
        engine: Engine,
        writer: WarehouseWriter,
        quarantine: QuarantineWriter,
        run_id: int,
        progress: ProgressCallback | None,
        problem_sample: int = PROBLEM_SAMPLE,
        *,
        max_chars: Mapping[str, int] | None = None,
        rights: CatalogueRights = ADMIN,
        max_items: int | None = None,
        max_rejected_share: float | None = None,
        keep_attributes: tuple[str, ...] = (),
    ) -> None:
        self.max_rejected_share = max_rejected_share
        self.keep_attributes = keep_attributes
        self.spec, self.source, self.plan, self.mapping, self.size = spec, source, plan, mapping, size
        self.max_chars = dict(max_chars or {})
        self.engine, self.writer, self.quarantine, self.run_id = engine, writer, quarantine, run_id
        self.progress = progress
        self.problem_sample = problem_sample
        self.counts = dict.fromkeys(
            (
                "rows",
                "accepted",
                "rejected",
                "duplicates",
                "changed",
                "answers",
                "customers",
                "batches",
                "attributes",
            ),
            0,
        )
        self.problems: list[RowProblem] = []
        self.notes: list[str] = []
        self.new: dict[str, list[str]] = {"touchpoints": [], "segments": [], "items": []}
        self.registered_items: set[str] = set()
        self.last_beat = time.monotonic()  # the run said it was alive when it was opened
        self.rights = rights
        self.max_items = max_items

    def run(self) -> ImportSummary:
        ctx = self._context()
        held = self._precheck(ctx) if self.max_rejected_share is not None else None
        seen = SeenKeys()
        try:
            for raw, batch in self._validated(ctx, seen, held):
                try:
                    self._load(batch, raw)
                except SourceError:
                    raise
                except Exception as exc:
                    if self.counts["batches"] == 0:
                        raise
                    raise ImportAborted(self._stopped(exc), self._summary()) from exc
        except SourceError as exc:
            if self.counts["batches"] == 0:
                raise ImportFileError(str(exc)) from None
            raise ImportAborted(self._stopped(exc), self._summary()) from exc
        finally:
            seen.close()
        return self._summary()

    def _validated(
        self, ctx: ValidationContext, seen: SeenKeys, held: tuple[SourceBatch, ValidatedBatch] | None
    ) -> Iterator[tuple[SourceBatch, ValidatedBatch]]:
        if held is not None:  # a file of one batch, validated by the check already
            yield held
            return
        for batch in self.source.batches(self.size):
            yield batch, validate_batch(batch, ctx, seen)

    def _precheck(self, ctx: ValidationContext) -> tuple[SourceBatch, ValidatedBatch] | None:
        """Validate the whole file before anything is stored, and refuse it (:class:`ImportFileError`) when
        one reason rejects more than ``max_rejected_share`` of its rows: what would be kept is a biased
        subset (issue 21: every comment with an accent rejected). A file of one batch is validated once:
        the batch is returned and loaded as it is; a longer file is read again for the import."""
        assert self.max_rejected_share is not None
        seen = SeenKeys()
        rows = 0
        first: tuple[SourceBatch, ValidatedBatch] | None = None
        batches = 0
        reasons: Counter[str] = Counter()
        examples: dict[str, tuple[RowProblem, str]] = {}
        try:
            for batch in self.source.batches(self.size):
                checked = validate_batch(batch, ctx, seen)
                batches += 1
                first = (batch, checked) if batches == 1 else None
                rows += checked.accepted + checked.rejected
                for problem in checked.problems:
                    kinds = {_reason_kind(r): r for r in problem.reason.split("; ")}
                    for kind, reason in kinds.items():
                        reasons[kind] += 1
                        examples.setdefault(kind, (problem, reason))
        except SourceError as exc:
            raise ImportFileError(str(exc)) from None
        finally:
            seen.close()
        if rows and reasons:
            kind, count = reasons.most_common(1)[0]
            if count >= PARTIAL_FLOOR and count / rows > self.max_rejected_share:
                example, reason = examples[kind]
                column = _cut(example.column) if example.column else "(the whole row)"
                raise ImportFileError(
                    f"{self.source.path.name}: {count:,} of {rows:,} rows ({count / rows:.1%}) would be "
                    f"rejected for the same reason ({_cut(reason, 160)}; first at row {example.row}, column "
                    f"{column}): nothing was imported, because the rows kept would be a biased subset of "
                    "the file. Fix the file (or its mapping) and import it again, or import the good rows "
                    "anyway with --accept-partial (the limit is CXLOOP_IMPORT_MAX_REJECTED_SHARE = "
                    f"{self.max_rejected_share:.0%} of the rows)"
                )
        return first if batches == 1 else None

    def _stopped(self, exc: BaseException) -> str:
        return (
            f"{exc} -- {self.counts['batches']} batch(es) ({self.counts['rows']} rows) were committed before "
            "it stopped; fix the cause and import the same file again (stored rows count as duplicates)"
        )

    def _context(self) -> ValidationContext:
        with session_scope(self.engine) as session:
            if self.spec.kind == "responses":
                catalog.ensure_standard_questions(session)
            known = units.existing_unit_ids(session)
            scales = catalog.item_scales(session)
            names = {"touchpoints": catalog.touchpoint_ids(session), "segments": catalog.segment_ids(session)}
            questions = catalog.question_ids(session)
            items_held = catalog.driver_item_count(session)
        refused_items = self._new_items(questions, items_held)
        item_scales: dict[str, tuple[float, float]] = {}
        for item in self.plan.items:
            if item.item in scales:
                item_scales[item.item] = scales[item.item]
                if item.scale is not None and tuple(item.scale) != scales[item.item]:
                    self.notes.append(
                        f"item {item.item}: the mapping's scale {list(item.scale)} is ignored, the catalogue "
                        f"has {list(scales[item.item])}"
                    )
            elif item.scale is not None:
                item_scales[item.item] = item.scale
            else:
                item_scales[item.item] = DEFAULT_ITEM_SCALE
                self.notes.append(
                    f"item {item.item} is new and has no scale: using 0 to 10 (give it one in a mapping "
                    f"file: items: {{{item.item}: {{scale: [1, 5]}}}})"
                )
        if not known and any(c.references == "units" for c in self.spec.columns):
            self.notes.append(
                "no units are imported yet: every row naming a unit is rejected (import units first)"
            )
        for column in self.spec.columns:
            if column.type != "timestamp":
                continue
            if column.name in self.plan.constants:
                value = self.plan.constants[column.name]
                self.notes.append(
                    f"every row's {column.name} is {value} (one date for the whole file: it has no "
                    "timestamps): trends over time cannot be read from this file"
                )
            elif self.plan.sources.get(column.name) == PERIOD_COLUMN and self.mapping.period is not None:
                period = self.mapping.period
                self.notes.append(
                    f"{column.name} comes from the period numbers in {period.column!r} (period "
                    f"{period.first} starts {period.start.isoformat()}, one every {period.every}): each row "
                    "is dated the first day of its period"
                )
        ignored = [c for c in self.plan.ignored if c not in self.keep_attributes]
        if self.keep_attributes:
            self.notes.append(
                "column(s) kept as response attributes (response_attributes): "
                + ", ".join(self.keep_attributes)
            )
        if ignored:
            self.notes.append(
                f"ignored column(s) that no {self.spec.kind} column reads: {', '.join(ignored)}"
            )
        self.item_scales = item_scales
        return ValidationContext(
            spec=self.spec,
            plan=self.plan,
            mapping=self.mapping,
            file=str(self.source.path),
            known_units=pa.array(sorted(known), pa.string()),
            item_scales=item_scales,
            max_chars=self.max_chars,
            known_names={name: pa.array(sorted(ids), pa.string()) for name, ids in names.items()},
            new_name=self._new_name,
            refused_items=refused_items,
        )

    def _new_name(self, catalogue: str, value: str) -> str | None:
        """Why a touchpoint or segment not in the catalogue cannot be added (None: it is added)."""
        kind = catalogue.removesuffix("s")
        problem = catalog.id_problem(kind, value)
        if problem is not None or self.rights.extend:
            return problem
        return self.rights.refused(kind, value)

    def _new_items(self, questions: set[str], held: int) -> dict[str, str]:
        """Check the file's driver items that the catalogue lacks: a malformed id, or more than the rights or
        ``CXLOOP_MAX_ITEMS`` allow, refuses the file (:class:`ImportFileError`, nothing imported); without
        the right to add items, each new one is returned with the reason its rows are rejected for."""
        new = [item for item in self.plan.items if item.item not in questions]
        for item in new:
            if (problem := catalog.item_problem(item.item)) is not None:
                raise ImportFileError(
                    f"{self.source.path.name}: column {_cut(item.column)}: {problem}; rename it"
                )
        if not new:
            return {}
        if not self.rights.extend:
            return {item.item: self.rights.refused("item", item.item) for item in new}
        listed = ", ".join(item.item for item in new[:10]) + (" ..." if len(new) > 10 else "")
        limit = self.rights.new_items
        if limit is not None and len(new) > limit:
            raise ImportFileError(
                f"{len(new)} new driver items ({listed}) in one request; at most {limit} "
                "(CXLOOP_MAX_NEW_ITEMS_PER_REQUEST): add them first with `cxloop catalogue add-item` or a "
                "file import (`cxloop import responses FILE`), or post fewer new items at once"
            )
        if self.max_items is not None and held + len(new) > self.max_items:
            raise ImportFileError(
                f"{self.source.path.name}: {len(new)} new driver items ({listed}) would make "
                f"{held + len(new)} in the catalogue, above the ceiling of {self.max_items} "
                "(CXLOOP_MAX_ITEMS); nothing was imported. Drop or merge q_ columns (or map fewer items), or "
                "raise CXLOOP_MAX_ITEMS if your "
                "surveys truly need more (key-driver analyses over more than 42 items read rows, slower)"
            )
        return {}

    def _register(self, checked: ValidatedBatch) -> None:
        """Add the touchpoints, segments and driver items first seen in this batch to the catalogue."""
        rows = checked.rows
        wanted: dict[str, list[str]] = {}
        for column in self.spec.columns:
            if column.registers and rows.num_rows:
                values = pc.unique(pc.drop_null(rows.column(column.name))).to_pylist()
                wanted.setdefault(column.registers, []).extend(values)
        answered: dict[str, tuple[float, float] | None] = {}
        if checked.answers is not None and checked.answers.num_rows:
            for item in pc.unique(checked.answers.column("item")).to_pylist():
                if item not in self.registered_items:
                    answered[item] = self.item_scales.get(item)
        if not any(wanted.values()) and not answered:
            return
        if not self.rights.extend:  # validation rejected every row naming something new: nothing to add
            return
        with session_scope(self.engine) as session:
            if wanted.get("touchpoints"):
                self.new["touchpoints"] += catalog.ensure_touchpoints(session, wanted["touchpoints"])
            if wanted.get("segments"):
                self.new["segments"] += catalog.ensure_segments(session, wanted["segments"])
            if answered:
                self.new["items"] += catalog.ensure_items(session, answered)
        self.registered_items.update(answered)

    def _customers_unknown(self, checked: ValidatedBatch) -> np.ndarray:
        rows = checked.rows
        if "customer_id" not in rows.column_names or self.spec.key == "customer_id" or not rows.num_rows:
            return np.zeros(rows.num_rows, dtype=bool)
        ids = rows.column("customer_id").combine_chunks()
        absent = self.writer.absent("customers", "customer_id", ids)
        if not len(absent):
            return np.zeros(rows.num_rows, dtype=bool)
        return mask(pc.is_in(ids, value_set=absent))

    def _load(self, checked: ValidatedBatch, raw: SourceBatch | None = None) -> None:
        assert self.spec.table is not None
        unknown_customer = self._customers_unknown(checked)
        self._register(checked)
        result = append_batch(self.writer, self.spec.table, checked.rows, checked.answers, run_id=self.run_id)
        if self.keep_attributes and raw is not None and result.inserted:
            self.counts["attributes"] += append_attributes(
                self.writer.con, _attribute_rows(raw, checked, result.new, self.keep_attributes)
            )
        self.quarantine.write(checked.problems)
        counts = self.counts
        counts["batches"] += 1
        counts["rows"] += checked.accepted + checked.rejected
        counts["accepted"] += result.inserted
        counts["duplicates"] += result.duplicates
        counts["changed"] += result.changed
        counts["rejected"] += checked.rejected
        counts["answers"] += result.answers
        counts["customers"] += int((unknown_customer & result.new).sum())
        if len(self.problems) < self.problem_sample:
            self.problems.extend(checked.problems[: self.problem_sample - len(self.problems)])
        self._beat()
        if self.progress is not None:
            done, total = self.source.progress()
            self.progress(
                ImportProgress(
                    rows=counts["rows"],
                    accepted=counts["accepted"],
                    rejected=counts["rejected"],
                    duplicates=counts["duplicates"],
                    done=done,
                    total=total,
                )
            )

    def _beat(self) -> None:
        """Tell the run record this import is alive, at most once a minute (a process that stops stops
        telling, and :func:`fail_interrupted_runs` of another host can tell)."""
        if time.monotonic() - self.last_beat < import_runs.HEARTBEAT_EVERY.total_seconds():
            return
        with session_scope(self.engine) as session:
            import_runs.beat(session, self.run_id)
        self.last_beat = time.monotonic()

    def _summary(self) -> ImportSummary:
        counts = self.counts
        notes = [*self.source.notes(), *self.notes]
        if counts["customers"]:
            notes.append(
                f"{counts['customers']} row(s) name a customer not imported yet (kept; import customers to "
                "link them)"
            )
        if counts["changed"]:
            notes.append(
                f"{counts['changed']} duplicate(s) have values different from the stored row; stored rows "
                "are never overwritten (import changes under new keys, or delete the old rows first)"
            )
        file_warnings = len(self.notes) + len(self.source.notes())
        return ImportSummary(
            kind=self.spec.kind,
            file=str(self.source.path),
            format=self.source.format,
            accepted=counts["accepted"],
            rejected=counts["rejected"],
            duplicates=counts["duplicates"],
            warnings=counts["customers"] + file_warnings,
            quarantine=str(self.quarantine.path) if self.quarantine.created else None,
            rows=counts["rows"],
            changed=counts["changed"],
            answers=counts["answers"],
            customers_not_imported=counts["customers"],
            batches=counts["batches"],
            run_id=self.run_id,
            new_touchpoints=tuple(self.new["touchpoints"]),
            new_segments=tuple(self.new["segments"]),
            new_items=tuple(self.new["items"]),
            ignored_columns=self.plan.ignored,
            notes=tuple(notes),
            problems=tuple(p.to_dict() for p in self.problems),
            attributes=counts["attributes"],
        )
