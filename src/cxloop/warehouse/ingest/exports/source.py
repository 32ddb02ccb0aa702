"""A survey-tool export as an import :class:`~cxloop.warehouse.ingest.readers.Source`.

:func:`open_export` recognises the tool (or takes the one named), reads the header rows and a sample, and
returns an :class:`ExportSource` that streams the data rows as batches of text columns named by the
layout's stable ids: exactly what the existing validation, quarantine and batching already take. The
source drops what is not a response (Qualtrics preview, test and spam rows, unless asked to keep them, and
counted), rewrites the tool's date formats as ISO 8601, derives a response id where the tool has none,
and reports what it did in :meth:`ExportSource.notes`.

Row numbers are data rows as a person counts them below the header rows: the first response under the
header (three rows in a Qualtrics export, two in SurveyMonkey's, one otherwise) is row 1.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from cxloop.warehouse.ingest.exports._dates import normalise_timestamp
from cxloop.warehouse.ingest.exports._rows import ExportFileError, RawRows, open_rows
from cxloop.warehouse.ingest.exports.tools import (
    DERIVED_ID,
    TOOLS,
    ExportLayout,
    detect_tool,
    read_layout,
)
from cxloop.warehouse.ingest.readers import MalformedRow, Source, SourceBatch, SourceError

__all__ = ["EXCLUDED_STATUS", "ExportSource", "open_export"]

SAMPLE_ROWS = 500
"""Data rows read up front to recognise date orders, multi-select options and answer scales."""

EXCLUDED_STATUS = {
    "1": "Survey Preview",
    "2": "Survey Test",
    "8": "Spam",
    "9": "Survey Preview Spam",
    "12": "Imported Spam",
    "17": "Survey Preview Offline",
}
"""Qualtrics ``Status`` codes of responses that are not real feedback (numeric exports); choice-text
exports are matched by their words (preview, test, spam)."""


def _excluded_status(value: str) -> str | None:
    text = value.strip()
    if text in EXCLUDED_STATUS:
        return EXCLUDED_STATUS[text]
    lowered = text.lower()
    if any(word in lowered for word in ("preview", "test", "spam")):
        return text
    return None


class ExportSource(Source):
    """The data rows of a survey-tool export, as batches of text columns."""

    def __init__(
        self,
        raw: RawRows,
        layout: ExportLayout,
        sample: list[list[str]],
        *,
        detected: bool,
        include_excluded: bool = False,
    ) -> None:
        super().__init__(raw.path, layout.tool)
        self.raw = raw
        self.layout = layout
        self.sample = sample
        self.detected = detected
        self.include_excluded = include_excluded
        self.columns = layout.names
        self.encoding = raw.encoding
        self.excluded: Counter[str] = Counter()
        self._width = len([c for c in layout.columns if c.name != DERIVED_ID])

    @property
    def container(self) -> str:
        return self.raw.container

    def progress(self) -> tuple[int, int | None]:
        return self.raw.progress()

    def notes(self) -> list[str]:
        """What the reader did that the person importing should know (one warning each)."""
        notes = super().notes()  # the encoding, when it is not Unicode
        if self.excluded:
            counts = ", ".join(f"{label} {n}" for label, n in sorted(self.excluded.items()))
            notes.append(
                f"{sum(self.excluded.values())} preview/test/spam response(s) excluded ({counts}); "
                "--include-preview imports them"
            )
        if self.layout.date_columns and not self.layout.date_order_settled:
            notes.append(
                f"dates such as 05/02 are read month first ({self.layout.label}'s default); no date in the "
                "file has a day above 12 to tell"
            )
        return notes

    def data_rows(self) -> Iterator[tuple[int, list[str]]]:
        """``(row number, cells)`` of every non-blank data row, before any exclusion."""
        number = 0
        try:
            for row in itertools.islice(self.raw.rows(), self.layout.header_rows, None):
                if not any(cell.strip() for cell in row):
                    continue
                number += 1
                yield number, row
        except ExportFileError as exc:  # a file damaged past its first rows
            raise SourceError(str(exc)) from None

    def batches(self, size: int) -> Iterator[SourceBatch]:
        self.excluded.clear()
        layout = self.layout
        names = [c.name for c in layout.columns if c.name != DERIVED_ID]
        status = names.index(layout.status_column) if layout.status_column in names else None
        dates = [names.index(c) for c in layout.date_columns]
        derive = any(c.name == DERIVED_ID for c in layout.columns)
        buffer: list[list[str | None]] = []
        numbers: list[int] = []
        malformed: list[MalformedRow] = []
        for number, row in self.data_rows():
            if len(row) != self._width:
                if len(row) > self._width and not any(cell.strip() for cell in row[self._width :]):
                    row = row[: self._width]  # trailing empty cells a spreadsheet left behind
                elif len(row) < self._width and self.container == "xlsx":
                    row = row + [""] * (self._width - len(row))
                else:
                    values = {n: (row[i] if i < len(row) else None) for i, n in enumerate(names)}
                    reason = f"expected {self._width} columns, found {len(row)}"
                    malformed.append(MalformedRow(number, reason, values))
                    continue
            if status is not None and not self.include_excluded:
                label = _excluded_status(row[status])
                if label is not None:
                    self.excluded[label] += 1
                    continue
            cells: list[str | None] = [cell if cell.strip() else None for cell in row]
            for index in dates:
                if cells[index] is not None:
                    cells[index] = normalise_timestamp(cells[index] or "", layout.date_order)
            if derive:
                cells.append(_derived_id(row))
            buffer.append(cells)
            numbers.append(number)
            if len(buffer) >= size:
                yield self._batch(buffer, numbers, malformed)
                buffer, numbers, malformed = [], [], []
        if buffer or malformed:
            yield self._batch(buffer, numbers, malformed)

    def _batch(
        self, buffer: list[list[str | None]], numbers: list[int], malformed: list[MalformedRow]
    ) -> SourceBatch:
        table = pa.table(
            {name: pa.array([row[i] for row in buffer], pa.string()) for i, name in enumerate(self.columns)}
        )
        return SourceBatch(table, np.array(numbers, dtype=np.int64), malformed)


def _derived_id(row: list[str]) -> str:
    """A response id for a tool that has none: a hash of the whole row (timestamp and every answer),
    so the same response exported again gets the same id and an updated export adds only new rows."""
    digest = hashlib.sha256("\x1f".join(cell.strip() for cell in row).encode("utf-8")).hexdigest()
    return f"gf-{digest[:20]}"


_SHAPE = {
    "qualtrics": "a Qualtrics export has ResponseId and StartDate/RecordedDate columns, or V1, V2... over "
    "ResponseID in the legacy format",
    "surveymonkey": "a SurveyMonkey export starts with Respondent ID and Collector ID (RespondentID, "
    "CollectorID before 2015)",
    "googleforms": "a Google Forms export starts with a Timestamp column",
    "typeform": "a Typeform export starts with # or has a Submit Date (UTC) column",
}
_SHAPES = "; ".join(_SHAPE.values())


def _cut(text: str, most: int = 40) -> str:
    shown = repr(text)
    return shown if len(shown) <= most else shown[: most - 3] + "..."


def open_export(path: str | Path, tool: str = "auto", *, include_excluded: bool = False) -> ExportSource:
    """Open a survey-tool export; ``tool`` is one of :data:`TOOLS` or ``"auto"`` (recognise it).

    Raises :class:`~cxloop.warehouse.ingest.readers.SourceError` when the file cannot be used (missing,
    unreadable, not the named tool's export, or not recognised).
    """
    if tool != "auto" and tool not in TOOLS:
        raise SourceError(f"unknown export format {tool!r}; one of {', '.join(TOOLS)} or auto")
    try:
        raw = open_rows(path)
        peek = list(itertools.islice(raw.rows(), 3 + SAMPLE_ROWS))
    except ExportFileError as exc:
        raise SourceError(str(exc)) from None
    peek = [row for row in peek if any(cell.strip() for cell in row)] if peek else []
    if not peek:
        raise SourceError(f"{Path(path).name} has no rows")
    head = peek[:3]
    found = detect_tool(head)
    name = Path(path).name
    if tool == "auto":
        if found is None:
            raise SourceError(
                f"{name} does not look like a Qualtrics, SurveyMonkey, Google Forms or Typeform export (its "
                f"first column is {_cut(head[0][0])}; {_SHAPES}): import it as a plain file with a mapping "
                "file instead (`cxloop import responses FILE --mapping MAPPING.yaml`, docs/data-formats.md)"
            )
        tool = found
    elif found is not None and found != tool:
        raise SourceError(f"{name} looks like a {TOOLS[found]} export, not {TOOLS[tool]}: use --from {found}")
    elif found is None:
        raise SourceError(
            f"{name} does not have the header of a {TOOLS[tool]} export ({_SHAPE[tool]}; its first column "
            f"is {_cut(head[0][0])}), nor of another tool's. Export it again from {TOOLS[tool]} as CSV or "
            ".xlsx with the defaults, or import it as a plain file with a mapping file "
            "(`cxloop import responses FILE --mapping MAPPING.yaml`, docs/data-formats.md)"
        )
    layout = read_layout(tool, head, peek[3:])
    skip = layout.header_rows
    layout = read_layout(tool, head, peek[skip:])
    sample = peek[layout.header_rows :]  # the layout again, from a sample that starts at its first data row
    return ExportSource(raw, layout, sample, detected=found == tool, include_excluded=include_excluded)
