"""Importing survey-tool exports (Qualtrics, SurveyMonkey, Google Forms, Typeform) as responses.

:func:`preview_export` opens an export, says which tool it comes from, and returns the mapping to use:
the one saved for this survey if there is one, else a proposal. :func:`import_export` then runs the
ordinary responses import (:func:`cxloop.services.listen.imports.import_file`: the same validation,
quarantine, all-or-nothing batches and idempotency) on the export's reader, saves the mapping on first
use, and keeps the columns that are neither scores, items nor the comment as response attributes.

Saved mappings are YAML files under ``<CXLOOP_DATA_DIR>/mappings/``, one per survey, named
``<tool>-<signature>.yaml`` where the signature is a hash of the export's column ids (Qualtrics' import
ids, else the header): the next export of the same survey finds it. They are ordinary mapping files
(``docs/data-formats.md``) with one more section, ``export:`` (tool, signature, attribute columns).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import yaml
from ibis.backends import BaseBackend

from cxloop.config import Settings
from cxloop.services.listen.catalogue import ADMIN, CatalogueRights
from cxloop.services.listen.imports import ImportFileError, ImportSummary, ProgressCallback, import_file
from cxloop.services.stores import connect_warehouse
from cxloop.warehouse.ingest.exports import TOOLS, ExportSource, Proposal, open_export, propose_mapping
from cxloop.warehouse.ingest.mapping import ColumnMapping, MappingError
from cxloop.warehouse.ingest.readers import SourceError
from cxloop.warehouse.write.attributes import append_attributes

__all__ = [
    "EXPORT_SOURCES",
    "ExportImportSummary",
    "ExportPreview",
    "import_export",
    "mapping_path",
    "preview_export",
    "save_mapping",
]

EXPORT_SOURCES = (*TOOLS, "auto")
"""What ``--from`` accepts."""

PREVIEW_ROWS = 5


@dataclass(frozen=True)
class ExportPreview:
    """What an export is and how it would be imported, before anything is written."""

    path: Path
    detected_format: str
    label: str
    detected: bool
    """``True`` when the tool was recognised from the file's shape (``--from auto`` or confirmed)."""
    container: str
    encoding: str | None
    proposal: Proposal
    mapping: Mapping[str, Any]
    """The mapping to use: the saved one for this survey, or the proposal (with ``export:``)."""
    mapping_path: Path
    reused: bool
    rows: tuple[Mapping[str, str | None], ...]
    """The first data rows, by export column."""
    notes: tuple[str, ...] = ()

    @property
    def attributes(self) -> tuple[str, ...]:
        return tuple(self.mapping.get("export", {}).get("attributes", ()))

    def column_mapping(self) -> ColumnMapping:
        return _column_mapping(self.mapping, self.mapping_path)

    def canonical_rows(self) -> list[dict[str, Any]]:
        """The preview rows as the import would read them: canonical columns and items."""
        mapping = self.mapping
        out = []
        for row in self.rows:
            record: dict[str, Any] = dict(mapping.get("constants", {}))
            for canonical, column in mapping.get("columns", {}).items():
                record[canonical] = row.get(column)
            for item, spec in mapping.get("items", {}).items():
                column = spec["column"] if isinstance(spec, Mapping) else spec
                record[f"q_{item}"] = row.get(column)
            out.append(record)
        return out


@dataclass(frozen=True)
class ExportImportSummary:
    """The import's summary plus what the export reader and the mapping did."""

    summary: ImportSummary
    detected_format: str
    mapping_path: str
    mapping_reused: bool
    attributes: int
    notes: tuple[str, ...] = field(default=())

    @property
    def exit_code(self) -> int:
        return self.summary.exit_code

    def to_dict(self) -> dict[str, Any]:
        data = self.summary.to_dict()
        data["notes"] = [*self.notes, *data["notes"]]
        data["warnings"] += len(self.notes)
        data.update(
            detected_format=self.detected_format,
            mapping=self.mapping_path,
            mapping_reused=self.mapping_reused,
            attributes=self.attributes,
        )
        return data


def mapping_path(settings: Settings, tool: str, signature: str) -> Path:
    """Where the mapping of a survey is saved: ``<data_dir>/mappings/<tool>-<signature>.yaml``."""
    return settings.data_dir / "mappings" / f"{tool}-{signature}.yaml"


def _column_mapping(mapping: Mapping[str, Any], where: Path | str) -> ColumnMapping:
    body = {k: v for k, v in mapping.items() if k != "export"}
    try:
        return ColumnMapping.from_dict(body)
    except MappingError as exc:
        raise ImportFileError(f"mapping {where}: {exc}") from None


def _load_saved(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ImportFileError(f"mapping file {path} cannot be read: {exc}") from None
    if not isinstance(data, dict):
        raise ImportFileError(f"mapping file {path} must be a YAML mapping at the top level")
    return data


def _with_unit(mapping: dict[str, Any], unit: str | None) -> dict[str, Any]:
    if not unit:
        return mapping
    mapping = {**mapping}
    mapping["columns"] = {k: v for k, v in dict(mapping.get("columns") or {}).items() if k != "unit_id"}
    mapping["constants"] = {**dict(mapping.get("constants") or {}), "unit_id": unit}
    return mapping


def _open(path: Path, tool: str, include_preview: bool) -> ExportSource:
    if tool not in EXPORT_SOURCES:
        raise ImportFileError(f"--from must be one of {', '.join(EXPORT_SOURCES)}, not {tool!r}")
    try:
        return open_export(path, tool, include_excluded=include_preview)
    except SourceError as exc:
        raise ImportFileError(str(exc)) from None


def preview_export(
    path: str | Path,
    *,
    settings: Settings,
    tool: str = "auto",
    unit: str | None = None,
    mapping: str | Path | Mapping[str, Any] | None = None,
    include_preview: bool = False,
) -> ExportPreview:
    """Recognise an export and decide its mapping (saved, given, or proposed); writes nothing.

    Raises :class:`~cxloop.services.listen.imports.ImportFileError` when the file or the mapping cannot be
    used.
    """
    path = Path(path)
    source = _open(path, tool, include_preview)
    layout = source.layout
    proposal = propose_mapping(layout, source.sample, unit=unit)
    saved_at = mapping_path(settings, layout.tool, layout.signature)
    reused = False
    if isinstance(mapping, Mapping):
        chosen = dict(mapping)
    elif mapping is not None:
        saved_at = Path(mapping)
        chosen, reused = _load_saved(saved_at), True
    elif saved_at.exists():
        chosen, reused = _load_saved(saved_at), True
    else:
        chosen = {
            "export": {
                "tool": layout.tool,
                "signature": layout.signature,
                "attributes": list(proposal.attributes),
                "questions": {c.name: c.question for c in layout.columns if c.role in {"question", "text"}},
            },
            **proposal.mapping,
        }
    notes: list[str] = []
    if mapping is None and not reused:
        earlier = _earlier_version(settings, layout)
        if earlier is not None:
            saved_at, chosen, reused = earlier[0], earlier[1], True
            if earlier[2]:
                notes.append(
                    f"the survey has new column(s) since its mapping was saved: {', '.join(earlier[2])}; "
                    f"they are not imported (add them to {saved_at} to import them)"
                )
    chosen = _with_unit(chosen, unit)
    if layout.timezone and chosen.get("timezone") != layout.timezone:
        if chosen.get("timezone"):
            notes.append(f"the export says its dates are in {layout.timezone}: used instead of the mapping's")
        chosen["timezone"] = layout.timezone
    _column_mapping(chosen, saved_at)  # refuse a broken mapping before anything is written
    names = source.columns
    rows = []
    try:
        for _, row in itertools.islice(source.data_rows(), PREVIEW_ROWS):
            rows.append(
                {name: (row[i] if i < len(row) and row[i].strip() else None) for i, name in enumerate(names)}
            )
    except SourceError as exc:
        raise ImportFileError(str(exc)) from None
    encoding = source.raw.encoding.label if source.raw.encoding else None
    return ExportPreview(
        path=path,
        detected_format=layout.tool,
        label=layout.label,
        detected=source.detected,
        container=source.container,
        encoding=encoding,
        proposal=proposal,
        mapping=chosen,
        mapping_path=saved_at,
        reused=reused,
        rows=tuple(rows),
        notes=tuple(notes),
    )


def _earlier_version(settings: Settings, layout: Any) -> tuple[Path, dict[str, Any], list[str]] | None:
    """The saved mapping of an earlier version of this survey: same tool, and every question it saw is
    still in the export under the same id with the same wording (the survey only gained columns).
    Returns ``(path, mapping, new columns)``; the most recently saved match wins."""
    folder = settings.data_dir / "mappings"
    if not folder.is_dir():
        return None
    columns = {c.name: c.question for c in layout.columns}
    candidates = sorted(folder.glob(f"{layout.tool}-*.yaml"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in candidates:
        try:
            data = _load_saved(path)
        except ImportFileError:
            continue
        export = data.get("export") or {}
        questions = export.get("questions") or {}
        if export.get("tool") != layout.tool or not questions:
            continue
        if all(columns.get(name) == text for name, text in questions.items()):
            known = set(questions) | set(export.get("attributes") or ())
            known |= set((data.get("columns") or {}).values())
            known |= {spec["column"] for spec in (data.get("items") or {}).values() if isinstance(spec, dict)}
            new = [c.name for c in layout.columns if c.name not in known and c.role in {"question", "text"}]
            return path, data, new
    return None


def save_mapping(preview: ExportPreview, path: Path | None = None, now: datetime | None = None) -> Path:
    """Write the preview's mapping as an editable YAML file (default: its survey's saved mapping)."""
    path = path or preview.mapping_path
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    header = (
        f"# cxloop mapping for a {preview.label} export ({preview.path.name}), proposed {stamp}.\n"
        "# Edit it freely: the next import of this survey uses it. Keys: docs/data-formats.md.\n"
        "# export.attributes: columns kept as response attributes (embedded data, topics, options...).\n"
    )
    body = yaml.safe_dump(dict(preview.mapping), sort_keys=False, allow_unicode=True, width=110)
    path.write_text(header + body, encoding="utf-8")
    return path


def import_export(
    path: str | Path,
    *,
    settings: Settings,
    tool: str = "auto",
    unit: str | None = None,
    mapping: str | Path | Mapping[str, Any] | None = None,
    include_preview: bool = False,
    save: bool = True,
    batch_size: int | None = None,
    progress: ProgressCallback | None = None,
    preview: ExportPreview | None = None,
    warehouse: BaseBackend | None = None,
    rights: CatalogueRights = ADMIN,
    accept_partial: bool = False,
) -> ExportImportSummary:
    """Import an export's responses; saves the mapping (when new) if ``save``. ``rights``: what it may add
    to the catalogue (default: the command line's); ``accept_partial``: as
    :func:`~cxloop.services.listen.imports.import_file`'s.

    An import owns its unit of work, so like :func:`~cxloop.services.listen.imports.import_file` it opens
    the stores of ``settings`` itself (``warehouse``: a connection to use instead, left open).

    Raises :class:`~cxloop.services.listen.imports.ImportFileError` (nothing imported) or
    :class:`~cxloop.services.listen.imports.ImportAborted` as
    :func:`~cxloop.services.listen.imports.import_file` does.
    """
    path = Path(path)
    if preview is None:
        preview = preview_export(
            path, settings=settings, tool=tool, unit=unit, mapping=mapping, include_preview=include_preview
        )
    missing = [m for m in ("response_id", "submitted_at", "unit_id") if not _has(preview.mapping, m)]
    if missing:
        hint = " (pass --unit UNIT to send every response to one unit)" if "unit_id" in missing else ""
        raise ImportFileError(
            f"the mapping for {path.name} has no {', '.join(missing)}{hint}; edit {preview.mapping_path} "
            "and run the import again"
        )
    if save and not preview.reused:
        save_mapping(preview)
    source = _open(path, preview.detected_format, include_preview)
    summary = import_file(
        "responses",
        path,
        settings=settings,
        mapping=preview.column_mapping(),
        batch_size=batch_size,
        progress=progress,
        source=source,
        warehouse=warehouse,
        rights=rights,
        accept_partial=accept_partial,
    )
    kept = 0
    if preview.attributes and summary.accepted:
        kept = _write_attributes(path, preview, settings, include_preview, batch_size, warehouse)
    summary = _attributes_not_ignored(replace(summary, file=str(path)), preview.attributes)
    return ExportImportSummary(
        summary=summary,
        detected_format=preview.detected_format,
        mapping_path=str(preview.mapping_path),
        mapping_reused=preview.reused,
        attributes=kept,
        notes=preview.notes,
    )


def _attributes_not_ignored(summary: ImportSummary, attributes: tuple[str, ...]) -> ImportSummary:
    """Columns kept as attributes are not "ignored": take them out of the summary's list and note."""
    kept = set(attributes)
    ignored = tuple(c for c in summary.ignored_columns if c not in kept)
    prefix = "ignored column(s) that no responses column reads: "
    notes = [n for n in summary.notes if not n.startswith(prefix)]
    if ignored:
        notes.append(prefix + ", ".join(ignored))
    warnings = summary.warnings - (len(summary.notes) - len(notes))
    return replace(summary, ignored_columns=ignored, notes=tuple(notes), warnings=warnings)


def _has(mapping: Mapping[str, Any], canonical: str) -> bool:
    return canonical in (mapping.get("columns") or {}) or canonical in (mapping.get("constants") or {})


def _write_attributes(
    path: Path,
    preview: ExportPreview,
    settings: Settings,
    include_preview: bool,
    batch_size: int | None,
    warehouse: BaseBackend | None,
) -> int:
    """Second pass over the export: the attribute columns of the responses now stored."""
    source = _open(path, preview.detected_format, include_preview)
    id_column = preview.mapping["columns"]["response_id"]
    wanted = [a for a in preview.attributes if a in source.columns]
    if not wanted:
        return 0
    added = 0
    con = warehouse if warehouse is not None else connect_warehouse(settings)
    try:
        for batch in source.batches(batch_size or settings.import_batch_size):
            table = batch.table
            ids = table.column(id_column)
            parts = []
            for name in wanted:
                values = table.column(name)
                part = pa.table({"response_id": ids, "name": pa.repeat(name, len(ids)), "value": values})
                parts.append(part.filter(pc.and_(pc.is_valid(values), pc.is_valid(ids))))
            added += append_attributes(con, pa.concat_tables(parts))
    finally:
        if warehouse is None:
            con.disconnect()
    return added
