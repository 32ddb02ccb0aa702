"""Stream CSV, Parquet and JSON Lines files as Arrow tables of exactly ``batch_size`` rows.

Each :class:`SourceBatch` holds the file's own columns as read (CSV: raw ``binary``, so a bad byte
rejects one value, not the file; Parquet and JSON Lines: typed), the row number of every row, and the
rows the reader could not even split into columns. Row numbers are what a person opening the file
counts: CSV, the data row (the first row after the header is 1; blank lines are skipped and not counted;
a quoted value spanning lines is one row); JSON Lines, the line number; Parquet, the row (from 1).
Nothing is read whole: memory stays at about one batch whatever the file's size.
"""

from __future__ import annotations

import csv
import gzip
import io
import itertools
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.json as pjson
import pyarrow.parquet as pq

from cxloop.warehouse.ingest.encoding import EncodingRefused, FileEncoding, detect_encoding, utf8_stream
from cxloop.warehouse.ingest.mapping import ColumnMapping

__all__ = [
    "FORMATS",
    "RAW_LINE",
    "MalformedRow",
    "RecordsSource",
    "Source",
    "SourceBatch",
    "SourceError",
    "detect_format",
    "open_source",
]

FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_CSV_BLOCK = 8 << 20
_HEADER_PEEK = 1 << 16
_DELIMITERS = (",", ";", "\t", "|")
RAW_LINE = "_raw"
"""Quarantine column holding a JSON Lines line that is not a valid JSON object."""


class SourceError(ValueError):
    """The file cannot be used (missing, unknown format, unreadable); the message says what to fix."""


@dataclass(frozen=True)
class MalformedRow:
    """A row the reader could not split into the file's columns (wrong column count, invalid JSON), or
    whose ``column`` holds what no text can (a lone surrogate)."""

    row: int | None
    reason: str
    values: Mapping[str, str | None]
    column: str = ""


@dataclass(frozen=True)
class SourceBatch:
    table: pa.Table
    rows: np.ndarray
    malformed: list[MalformedRow] = field(default_factory=list)
    structured: Mapping[str, Mapping[int, str]] = field(default_factory=dict)
    """JSON objects and lists, kept as their text in ``table``: per column, ``{row index: "an object" or
    "a list"}``. Validation refuses them in the columns it reads (never a value); other columns are
    ignored as before."""

    def __len__(self) -> int:
        return self.table.num_rows


class _CountingReader(io.RawIOBase):
    """A read-only file that counts the bytes read from it (the progress of a streaming read)."""

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


def detect_format(path: Path, mapping: ColumnMapping) -> str:
    """``csv``, ``parquet`` or ``jsonl``, from the mapping's ``format`` or the extension (``.gz`` ok)."""
    if mapping.format:
        return mapping.format
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in FORMATS:
        return FORMATS[suffix]
    raise SourceError(
        f"cannot tell the format of {path.name} from its extension {suffix or '(none)'!r}: save it as CSV "
        "(.csv, UTF-8), Parquet (.parquet) or JSON Lines (.jsonl), or set `format:` in a mapping file"
    )


class Source(ABC):
    """An open input file. Use as a context manager; :meth:`batches` streams it once."""

    def __init__(self, path: Path, file_format: str) -> None:
        self.path = path
        self.format = file_format
        self.columns: list[str] = []
        self.encoding: FileEncoding | None = None
        """How a text file was decoded (None: Parquet, records in memory, a workbook)."""

    @abstractmethod
    def batches(self, size: int) -> Iterator[SourceBatch]: ...

    @abstractmethod
    def progress(self) -> tuple[int, int | None]:
        """``(done, total)`` in the reader's own unit (bytes, or rows for Parquet)."""

    def notes(self) -> list[str]:
        """File-level warnings of the reader (e.g. a legacy encoding converted); one warning each."""
        note = self.encoding.note(self.path.name) if self.encoding is not None else None
        return [note] if note else []

    def close(self) -> None:  # noqa: B027 - optional hook
        pass

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(
    path: str | Path, mapping: ColumnMapping | None = None, text_fields: frozenset[str] = frozenset()
) -> Source:
    """Open ``path`` for streaming; :class:`SourceError` if it cannot be used at all.

    ``text_fields`` are JSON Lines fields to keep as text (timestamps: Arrow would otherwise parse them
    itself and lose whether they carried an offset).
    """
    path = Path(path)
    mapping = mapping or ColumnMapping()
    if not path.exists():
        raise SourceError(f"file {path} not found")
    if not path.is_file():
        raise SourceError(f"{path} is not a file")
    file_format = detect_format(path, mapping)
    if file_format == "parquet":
        return _ParquetSource(path)
    if file_format == "jsonl":
        return _JsonLinesSource(path, mapping, text_fields)
    return _CsvSource(path, mapping)


def _open_binary(path: Path, encoding: FileEncoding | None = None) -> tuple[BinaryIO, _CountingReader]:
    """The file's bytes (decompressed), as UTF-8 when ``encoding`` is given; the counter counts the bytes
    read from the disk (the progress)."""
    counter = _CountingReader(path.open("rb"))
    stream: BinaryIO = io.BufferedReader(counter, buffer_size=1 << 20)
    if path.suffix.lower() == ".gz":
        stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
    if encoding is not None:
        stream = utf8_stream(stream, encoding)
    return stream, counter


def _detect(path: Path, mapping: ColumnMapping) -> FileEncoding:
    """The file's encoding, read whole (:mod:`cxloop.warehouse.ingest.encoding`); :class:`SourceError`
    when a line cannot be read as text."""
    try:
        return detect_encoding(lambda: _open_binary(path)[0], path.name, mapping.encoding)
    except EncodingRefused as exc:
        raise SourceError(str(exc)) from None
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise SourceError(f"{path.name} cannot be read: {exc}") from None


class _Rechunker:
    """Collect Arrow record batches into tables of exactly ``size`` rows (the last one smaller)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._parts: list[pa.RecordBatch | pa.Table] = []
        self._rows = 0

    def add(self, part: pa.RecordBatch | pa.Table) -> Iterator[pa.Table]:
        if part.num_rows:
            self._parts.append(part)
            self._rows += part.num_rows
        while self._rows >= self.size:
            yield self._take(self.size)

    def flush(self) -> Iterator[pa.Table]:
        if self._rows:
            yield self._take(self._rows)

    def _take(self, n: int) -> pa.Table:
        parts = [p if isinstance(p, pa.Table) else pa.Table.from_batches([p]) for p in self._parts]
        table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
        head, rest = table.slice(0, n), table.slice(n)
        self._parts = [rest] if rest.num_rows else []
        self._rows -= n
        return head.combine_chunks()


class _CsvSource(Source):
    def __init__(self, path: Path, mapping: ColumnMapping) -> None:
        super().__init__(path, "csv")
        self.mapping = mapping
        self.total = path.stat().st_size
        self._counter: _CountingReader | None = None
        self.encoding = _detect(path, mapping)
        self.columns, self.delimiter = self._read_header()

    def _read_header(self) -> tuple[list[str], str]:
        stream, _ = _open_binary(self.path, self.encoding)
        try:
            head = stream.read(_HEADER_PEEK)
        except (OSError, EOFError) as exc:
            raise SourceError(f"{self.path.name} cannot be read: {exc}") from None
        finally:
            stream.close()
        text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
        if not text.strip():
            raise SourceError(f"{self.path.name} is empty: a CSV file needs a header row and data rows")
        first_line = text.splitlines()[0]
        delimiter = self.mapping.delimiter
        if delimiter is None:
            delimiter = "\t" if self.path.name.lower().endswith((".tsv", ".tsv.gz")) else ","
            counts = {d: first_line.count(d) for d in _DELIMITERS}
            if counts[delimiter] == 0 and max(counts.values()) > 0:
                delimiter = max(counts, key=lambda d: counts[d])
        try:
            header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
        except csv.Error as exc:  # e.g. a NUL or a lone carriage return in the header
            raise SourceError(f"{self.path.name}: the header row cannot be read as CSV ({exc})") from None
        if not any(name.strip() for name in header):
            raise SourceError(f"{self.path.name} has an empty header row")
        return _unique_names(header), delimiter

    def progress(self) -> tuple[int, int | None]:
        return (self._counter.count if self._counter else 0), self.total

    def batches(self, size: int) -> Iterator[SourceBatch]:
        malformed: list[MalformedRow] = []
        bad_numbers: list[int] = []

        def on_invalid(row: Any) -> str:
            number = None if row.number is None else row.number - 1  # the header is record 1
            if number is not None:
                bad_numbers.append(number)
            reason = f"expected {row.expected_columns} columns, found {row.actual_columns}"
            malformed.append(MalformedRow(number, reason, self._split(row.text)))
            return "skip"

        stream, self._counter = _open_binary(self.path, self.encoding)
        read_options = pcsv.ReadOptions(
            use_threads=False,  # single-threaded parsing numbers the malformed rows it skips
            block_size=_CSV_BLOCK,
            column_names=self.columns,
            skip_rows=1,
            encoding="utf8",  # the stream is UTF-8 whatever the file's encoding (see _open_binary)
        )
        parse_options = pcsv.ParseOptions(
            delimiter=self.delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
        )
        convert_options = pcsv.ConvertOptions(
            column_types=dict.fromkeys(self.columns, pa.binary()),
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        )
        rechunker = _Rechunker(size)
        next_row = 1
        try:
            try:
                reader = pcsv.open_csv(
                    stream,
                    read_options=read_options,
                    parse_options=parse_options,
                    convert_options=convert_options,
                )
                parts: Iterator[pa.RecordBatch] = iter(reader)
            except pa.ArrowInvalid as exc:
                if "Empty CSV file" in str(exc):
                    parts = iter(())
                else:
                    raise SourceError(f"{self.path.name} is not a readable CSV file: {exc}") from None
            while True:
                try:
                    part = next(parts)
                except StopIteration:
                    break
                except (pa.ArrowInvalid, OSError, EOFError) as exc:
                    raise SourceError(
                        f"{self.path.name}: reading stopped near data row {next_row}: {exc}"
                    ) from None
                for table in rechunker.add(part):
                    rows, next_row = _number_rows(table.num_rows, next_row, bad_numbers)
                    yield SourceBatch(table, rows, malformed.copy())
                    malformed.clear()
            for table in rechunker.flush():
                rows, next_row = _number_rows(table.num_rows, next_row, bad_numbers)
                yield SourceBatch(table, rows, malformed.copy())
                malformed.clear()
            if malformed:
                empty = pa.table({name: pa.array([], pa.binary()) for name in self.columns})
                yield SourceBatch(empty, np.zeros(0, dtype=np.int64), malformed.copy())
        finally:
            stream.close()

    def _split(self, text: str) -> dict[str, str | None]:
        """A malformed row's fields under the header's names (extra fields joined into the last one)."""
        try:
            fields = next(csv.reader(io.StringIO(text), delimiter=self.delimiter))
        except (StopIteration, csv.Error):
            fields = [text]
        if len(fields) > len(self.columns):
            keep = len(self.columns) - 1
            fields = [*fields[:keep], self.delimiter.join(fields[keep:])]
        return {name: (fields[i] if i < len(fields) else None) for i, name in enumerate(self.columns)}


def _unique_names(header: list[str]) -> list[str]:
    """Header names made unique the way spreadsheets users know from pandas: a repeated ``Comment``
    becomes ``Comment.1``; an empty name becomes ``column_<position>``."""
    names: list[str] = []
    taken: set[str] = set()
    for position, raw in enumerate(header, start=1):
        name = raw.strip() or f"column_{position}"
        candidate, copy = name, 0
        while candidate in taken:
            copy += 1
            candidate = f"{name}.{copy}"
        taken.add(candidate)
        names.append(candidate)
    return names


def _number_rows(n: int, start: int, skipped: list[int]) -> tuple[np.ndarray, int]:
    """Row numbers for the next ``n`` parsed rows, stepping over malformed rows the parser skipped."""
    pending = np.array([r for r in skipped if r >= start], dtype=np.int64)
    candidates = np.arange(start, start + n + len(pending), dtype=np.int64)
    if len(pending):
        candidates = candidates[~np.isin(candidates, pending)]
    rows = candidates[:n]
    return rows, (int(rows[-1]) + 1 if n else start)


class _ParquetSource(Source):
    def __init__(self, path: Path) -> None:
        super().__init__(path, "parquet")
        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(f"{path.name} is not a readable Parquet file: {exc}") from None
        self.columns = list(self._file.schema_arrow.names)
        self.total = self._file.metadata.num_rows
        self._done = 0

    def progress(self) -> tuple[int, int | None]:
        return self._done, self.total

    def batches(self, size: int) -> Iterator[SourceBatch]:
        rechunker = _Rechunker(size)
        start = 1
        try:
            for part in self._file.iter_batches(batch_size=size):
                for table in rechunker.add(part):
                    rows = np.arange(start, start + table.num_rows, dtype=np.int64)
                    start += table.num_rows
                    self._done = start - 1
                    yield SourceBatch(table, rows)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceError(f"{self.path.name}: reading stopped near row {start}: {exc}") from None
        for table in rechunker.flush():
            rows = np.arange(start, start + table.num_rows, dtype=np.int64)
            start += table.num_rows
            self._done = start - 1
            yield SourceBatch(table, rows)

    def close(self) -> None:
        self._file.close()


_PEEK_RECORDS = 1000
"""The JSON objects whose keys name the columns (later objects' extra keys are read, not planned)."""


class _JsonObjectsSource(Source):
    """JSON objects, one per line, parsed by Arrow a block at a time. Fields named as timestamp columns
    are kept as text so that an offset in them is honoured; a block Arrow cannot read whole is parsed
    line by line, so one bad line rejects one row."""

    def __init__(self, path: Path, text_fields: frozenset[str]) -> None:
        super().__init__(path, "jsonl")
        self.text_fields = text_fields

    def _parse_block(self, lines: list[bytes], numbers: np.ndarray) -> SourceBatch:
        data = b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)
        schema = pa.schema([(name, pa.string()) for name in sorted(self.text_fields)])
        options = pjson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
        try:
            table = pjson.read_json(io.BytesIO(data), parse_options=options)
            if table.num_rows == len(lines) and not any(_nested(t) for t in table.schema.types):
                # a column of the file that no line of this block has: empty here, as in the slow path
                for name in self.columns:
                    if name not in table.column_names:
                        table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
                return SourceBatch(table, numbers)
        except pa.ArrowInvalid:
            pass
        return self._parse_lines(lines, numbers)

    def _parse_lines(self, lines: list[bytes], numbers: np.ndarray) -> SourceBatch:
        """The slow path for a block with a bad line or mixed types: every value read as text."""
        records: list[dict[str, str | None]] = []
        good: list[int] = []
        malformed: list[MalformedRow] = []
        structured: dict[str, dict[int, str]] = {}
        for index, raw in enumerate(lines):
            row = int(numbers[index])
            try:
                record = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError:
                text = raw.decode("utf-8", errors="backslashreplace").rstrip("\n")
                malformed.append(
                    MalformedRow(
                        row, "invalid UTF-8 (bad encoding): save the file as UTF-8", {RAW_LINE: text}
                    )
                )
                continue
            except ValueError as exc:
                text = raw.decode("utf-8").rstrip("\n")
                malformed.append(MalformedRow(row, f"not valid JSON: {exc}", {RAW_LINE: text}))
                continue
            if not isinstance(record, dict):
                malformed.append(
                    MalformedRow(row, "not a JSON object", {RAW_LINE: raw.decode("utf-8").rstrip("\n")})
                )
                continue
            unreadable = _unreadable_field(record)
            if unreadable is not None:
                column, reason = unreadable
                line = {RAW_LINE: raw.decode("utf-8").rstrip("\n")}
                malformed.append(MalformedRow(row, reason, line, column))
                continue
            for key, value in record.items():
                if isinstance(value, dict | list):
                    kind = "an object" if isinstance(value, dict) else "a list"
                    structured.setdefault(str(key), {})[len(records)] = kind
            records.append({str(k): _as_text(v) for k, v in record.items()})
            good.append(index)
        names: dict[str, None] = dict.fromkeys(self.columns)
        for record in records:
            names.update(dict.fromkeys(record))
        table = pa.table({name: pa.array([r.get(name) for r in records], pa.string()) for name in names})
        return SourceBatch(table, numbers[good], malformed, structured)


class _JsonLinesSource(_JsonObjectsSource):
    """A JSON Lines file, one object per line."""

    def __init__(self, path: Path, mapping: ColumnMapping, text_fields: frozenset[str]) -> None:
        super().__init__(path, text_fields)
        self.mapping = mapping
        self.total = path.stat().st_size
        self._counter: _CountingReader | None = None
        self.encoding = _detect(path, mapping)
        self.columns = self._peek_columns()

    def _peek_columns(self) -> list[str]:
        stream, _ = _open_binary(self.path, self.encoding)
        names: dict[str, None] = {}
        try:
            for raw in itertools.islice(stream, _PEEK_RECORDS):
                try:
                    record = json.loads(raw)
                except (ValueError, UnicodeDecodeError):
                    continue
                if isinstance(record, dict):
                    names.update(dict.fromkeys(k for k in record if _encodable(k)))
                elif isinstance(record, list) and not names:
                    raise SourceError(
                        f"{self.path.name} holds a JSON array; cxloop reads JSON Lines (one object per line)"
                    )
        except OSError as exc:
            raise SourceError(f"{self.path.name} cannot be read: {exc}") from None
        finally:
            stream.close()
        if not names and self.path.stat().st_size == 0:
            raise SourceError(f"{self.path.name} is empty")
        if not names:
            raise SourceError(f"{self.path.name} has no JSON objects in its first lines; is it JSON Lines?")
        return list(names)

    def progress(self) -> tuple[int, int | None]:
        return (self._counter.count if self._counter else 0), self.total

    def batches(self, size: int) -> Iterator[SourceBatch]:
        stream, self._counter = _open_binary(self.path, self.encoding)
        line_number = 0
        try:
            while True:
                try:
                    lines = list(itertools.islice(stream, size))
                except OSError as exc:
                    raise SourceError(
                        f"{self.path.name}: reading stopped after line {line_number}: {exc}"
                    ) from None
                if not lines:
                    break
                numbers = np.arange(line_number + 1, line_number + 1 + len(lines), dtype=np.int64)
                line_number += len(lines)
                keep = [i for i, line in enumerate(lines) if line.strip()]
                if not keep:
                    continue
                block = [lines[i] for i in keep]
                yield self._parse_block(block, numbers[keep])
        finally:
            stream.close()


class RecordsSource(_JsonObjectsSource):
    """Records already in memory (the objects of an API request), read exactly as the lines of a JSON
    Lines file holding them would be: each record is one line (its JSON text, values JSON cannot hold as
    text), numbered from 1 in the order given; the first records' keys name the columns. No file is
    written: ``name`` labels the records where a file's path would (import run, quarantine, problems).
    """

    def __init__(
        self, records: Sequence[Mapping[str, Any]], name: str, text_fields: frozenset[str] = frozenset()
    ) -> None:
        super().__init__(Path(name), text_fields)
        self._lines = [json.dumps(record, default=str).encode("utf-8") + b"\n" for record in records]
        self._done = 0
        names: dict[str, None] = {}
        for line in self._lines[:_PEEK_RECORDS]:  # the keys as a file's reader would see them
            record = json.loads(line)
            if isinstance(record, dict):
                names.update(dict.fromkeys(k for k in record if _encodable(k)))
        if not names:
            raise SourceError(f"{name}: no fields in the records")
        self.columns = list(names)

    def progress(self) -> tuple[int, int | None]:
        return self._done, len(self._lines)

    def batches(self, size: int) -> Iterator[SourceBatch]:
        for start in range(0, len(self._lines), size):
            lines = self._lines[start : start + size]
            numbers = np.arange(start + 1, start + 1 + len(lines), dtype=np.int64)
            self._done = start + len(lines)
            yield self._parse_block(lines, numbers)


def _nested(kind: pa.DataType) -> bool:
    return pa.types.is_nested(kind)


def _unreadable_field(record: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(field, reason)`` of the first field of a JSON object that no text can hold, or None: a lone
    UTF-16 surrogate (``"\\ud800"`` without its pair) is valid JSON but not a character, and no UTF-8 text
    holds it (in any field, read or not: the whole line is read as text)."""
    for key, value in record.items():
        if not _encodable(key):
            return _shown(key), "not a character: a lone UTF-16 surrogate in the field's name"
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
        if isinstance(text, str) and not _encodable(text):
            return key, "not a character: a lone UTF-16 surrogate (e.g. \\ud800 without its pair)"
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(text: str) -> str:
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
