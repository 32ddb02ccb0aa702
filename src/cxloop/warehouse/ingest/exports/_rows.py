"""The rows of a survey-tool export file, whatever its container and encoding.

A CSV/TSV export is decoded (UTF-8 with or without a byte-order mark, UTF-16, or legacy 8-bit code
pages) and split into rows of text; an ``.xlsx`` export is read with openpyxl
in read-only mode and its cells turned into the same text a CSV export would hold (a date cell becomes
ISO 8601, ``9.0`` becomes ``9``). Both stream: memory stays at about one row.

The encoding is decided over the whole file by :mod:`cxloop.warehouse.ingest.encoding`, the rule every
text import shares (documented in ``docs/data-formats.md``): a byte-order mark, UTF-16 without one, UTF-8
throughout, or else each line in the legacy code page that reads it best (Windows-1252, Latin-1, DOS 850,
Mac Roman), reported as a warning; a line no code page reads as text refuses the file.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, BinaryIO

from cxloop.warehouse.ingest.encoding import EncodingRefused, FileEncoding, detect_encoding, utf8_stream
from cxloop.warehouse.ingest.exports._workbook import WorkbookRefused, check_workbook, require_defused_xml

__all__ = ["ExportFileError", "RawRows", "decide_encoding", "open_rows"]


class ExportFileError(ValueError):
    """The export cannot be read at all; the message says what to do."""


def decide_encoding(path: Path) -> FileEncoding:
    """The encoding of a text export, decided over the whole file
    (:func:`cxloop.warehouse.ingest.encoding.detect_encoding`)."""
    try:
        return detect_encoding(lambda: path.open("rb"), path.name)
    except EncodingRefused as exc:
        raise ExportFileError(str(exc)) from None


def _sniff_delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", "\t", ";")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


class _Counting(io.RawIOBase):
    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        self.count += n or 0
        return n or 0

    def close(self) -> None:
        self._raw.close()
        super().close()


class RawRows:
    """An export opened for reading: ``rows()`` streams lists of texts; ``progress()`` says how far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.container = "xlsx" if path.suffix.lower() in {".xlsx", ".xlsm"} else "csv"
        self.encoding: FileEncoding | None = None
        self.delimiter = ","
        self._done = 0
        self._total: int | None = None
        self._counter: _Counting | None = None
        if self.container == "csv":
            self.encoding = decide_encoding(path)
            self._total = path.stat().st_size
            with io.TextIOWrapper(
                utf8_stream(path.open("rb"), self.encoding), encoding="utf-8", errors="replace", newline=""
            ) as handle:
                first = handle.readline().lstrip("\ufeff")
            self.delimiter = "\t" if path.suffix.lower() == ".tsv" else _sniff_delimiter(first)

    def progress(self) -> tuple[int, int | None]:
        if self._counter is not None:
            return self._counter.count, self._total
        return self._done, self._total

    def rows(self) -> Iterator[list[str]]:
        """Every row of the file (header rows included) as texts; an empty cell is ``""``."""
        if self.container == "xlsx":
            yield from self._xlsx_rows()
            return
        assert self.encoding is not None
        self._counter = _Counting(self.path.open("rb"))
        buffered = io.BufferedReader(self._counter, buffer_size=1 << 20)
        text = io.TextIOWrapper(utf8_stream(buffered, self.encoding), encoding="utf-8", newline="")
        try:
            first = True
            for row in csv.reader(text, delimiter=self.delimiter):
                if first and row:
                    row[0] = row[0].lstrip("\ufeff")
                first = False
                yield row
        except (UnicodeDecodeError, csv.Error) as exc:
            raise ExportFileError(
                f"{self.path.name} cannot be read as {self.encoding.label}: {exc}"
            ) from None
        finally:
            text.close()

    def _xlsx_rows(self) -> Iterator[list[str]]:
        try:
            check_workbook(self.path)  # before openpyxl unpacks anything: see _workbook.py
            require_defused_xml()
        except WorkbookRefused as exc:
            raise ExportFileError(str(exc)) from None
        import openpyxl  # imported here: only .xlsx exports need it

        # openpyxl meets a damaged or hostile file with whatever its parsers raise (a zip, zlib, XML, entity
        # or schema error, a KeyError for a missing part...): each is the file's fault, answered with a
        # sentence rather than a 500.
        try:
            book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        except Exception as exc:
            raise ExportFileError(_unreadable(self.path, exc)) from None
        try:
            if not book.worksheets:
                raise ExportFileError(f"{self.path.name} has no worksheet")
            sheet = book.worksheets[0]
            self._total = sheet.max_row
            for index, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                self._done = index
                yield [_cell_text(v) for v in values]
        except ExportFileError:
            raise
        except Exception as exc:
            raise ExportFileError(_unreadable(self.path, exc)) from None
        finally:
            book.close()


def _unreadable(path: Path, exc: BaseException) -> str:
    """The sentence for a workbook openpyxl could not read: the first error in the chain (openpyxl wraps
    the parser's in its own), without the server's path to the file."""
    while (cause := exc.__cause__ or exc.__context__) is not None:
        exc = cause
    reason = f"{type(exc).__name__}: {exc}".replace(str(path), path.name).strip()
    return (
        f"{path.name} is not a readable Excel workbook ({reason[:200]}); open it in Excel and save it again "
        "as .xlsx, or export the survey as CSV"
    )


def _cell_text(value: object) -> str:
    """A spreadsheet cell as the text the tool's CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.isoformat()
    return str(value)


def open_rows(path: str | Path) -> RawRows:
    """Open an export (``.csv``, ``.tsv``, ``.txt`` or ``.xlsx``); :class:`ExportFileError` if unusable."""
    path = Path(path)
    if not path.exists():
        raise ExportFileError(f"file {path} not found")
    if not path.is_file():
        raise ExportFileError(f"{path} is not a file")
    if path.stat().st_size == 0:
        raise ExportFileError(f"{path.name} is empty")
    if path.suffix.lower() not in {".csv", ".tsv", ".txt", ".xlsx", ".xlsm"}:
        raise ExportFileError(
            f"{path.name}: survey-tool exports are read from .csv, .tsv or .xlsx files, not "
            f"{path.suffix or '(no extension)'!r}"
        )
    return RawRows(path)
