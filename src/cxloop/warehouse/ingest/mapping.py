"""The column mapping file: how a file whose columns have other names maps onto the canonical format.

A mapping is a small YAML file (see ``docs/data-formats.md`` for a full example of a wide survey export)::

    columns:            # canonical column: the file's column
      response_id: "Response ID"
      submitted_at: "Date submitted"
    constants:          # canonical column: one value for every row (when the export lacks the column)
      touchpoint: branch_visit
    items:              # driver item: its column in the file, scale and answer labels
      staff_friendly:
        column: "The staff were friendly"
        scale: [1, 5]
        labels: {"Strongly disagree": 1, "Strongly agree": 5}
    values:             # label -> number for number columns (nps, csat, ces, ...)
      csat: {"Very satisfied": 5, "Satisfied": 4}
    missing_values: ["N/A", "Don't know"]   # read as empty in every column
    timestamp_format: "%d/%m/%Y %H:%M"      # strptime format of every timestamp column
    timezone: Europe/Berlin                 # local time zone of timestamps without an offset
    delimiter: ";"                          # CSV only; default: sniffed from the header
    decimal: ","                            # decimal separator of numbers
    encoding: cp1252                        # CSV and JSON Lines; default: detected from the bytes
    format: csv                             # csv, parquet or jsonl; default: from the file extension
    period: {column: t, start: 2020-01, every: month}  # a period number instead of a timestamp

Labels match after trimming spaces and ignoring case; a label mapped to ``null`` reads as empty.
"""

from __future__ import annotations

import codecs
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from cxloop.warehouse.ingest.kinds import ITEM_PREFIX, KindSpec

__all__ = [
    "ColumnMapping",
    "ColumnPlan",
    "ItemMapping",
    "MappingError",
    "PeriodMapping",
    "load_mapping",
    "plan_columns",
]

_FORMATS = ("csv", "parquet", "jsonl")
_TOP_LEVEL = {
    "columns",
    "constants",
    "items",
    "values",
    "missing_values",
    "timestamp_format",
    "timezone",
    "delimiter",
    "decimal",
    "encoding",
    "format",
    "period",
}
_EVERY = ("day", "week", "month", "quarter", "year")


class MappingError(ValueError):
    """The mapping file is unusable; the message says what to fix."""


@dataclass(frozen=True)
class PeriodMapping:
    """A column of period numbers that stands for the file's timestamps: period ``first`` (default 1)
    starts on ``start``, each next one ``every`` day, week, month, quarter or year later; a row is dated the
    first day of its period. ``to``: the timestamp column it fills (default: the kind's own, e.g.
    ``submitted_at``)."""

    column: str
    start: date
    every: str = "month"
    first: int = 1
    to: str | None = None

    def day_of(self, number: int) -> date:
        """The first day of period ``number``."""
        steps = number - self.first
        if self.every == "day":
            return self.start + timedelta(days=steps)
        if self.every == "week":
            return self.start + timedelta(weeks=steps)
        months = steps * {"month": 1, "quarter": 3, "year": 12}[self.every]
        index = self.start.year * 12 + self.start.month - 1 + months
        return date(index // 12, index % 12 + 1, min(self.start.day, 28))


def _period(data: Any) -> PeriodMapping | None:
    if data is None:
        return None
    if not isinstance(data, Mapping) or "column" not in data or "start" not in data:
        raise MappingError("period must be {column: <period number column>, start: 2020-01, every: month}")
    unknown = sorted(set(data) - {"column", "start", "every", "first", "to"})
    if unknown:
        raise MappingError(f"period: unknown key(s) {unknown}; allowed: column, start, every, first, to")
    start_text = str(data["start"]).strip()
    try:
        start = date.fromisoformat(start_text + "-01" if len(start_text) == 7 else start_text)
    except ValueError:
        raise MappingError(
            f"period.start {start_text!r} is not a date such as 2020-01 or 2020-01-06"
        ) from None
    every = str(data.get("every", "month"))
    if every not in _EVERY:
        raise MappingError(f"period.every must be one of {', '.join(_EVERY)}, not {every!r}")
    first = data.get("first", 1)
    if not isinstance(first, int) or isinstance(first, bool):
        raise MappingError("period.first is the number of the start period, e.g. 1 or 0")
    to = data.get("to")
    return PeriodMapping(str(data["column"]), start, every, first, None if to is None else str(to))


@dataclass(frozen=True)
class ItemMapping:
    """A driver item read from a column of the file, with its scale and answer labels."""

    item: str
    column: str
    scale: tuple[float, float] | None = None
    labels: Mapping[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ColumnMapping:
    """A parsed mapping file. ``ColumnMapping()`` is the identity: the file is already canonical."""

    columns: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    items: Mapping[str, ItemMapping] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, float | None]] = field(default_factory=dict)
    missing_values: tuple[str, ...] = ()
    timestamp_format: str | None = None
    timezone: str | None = None
    delimiter: str | None = None
    decimal: str = "."
    encoding: str | None = None
    """The file's codec when the mapping names one; None: detected from the bytes (:mod:`..encoding`)."""
    format: str | None = None
    period: PeriodMapping | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> ColumnMapping:
        """Build and check a mapping from parsed YAML; :class:`MappingError` says what is wrong."""
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise MappingError("a mapping file must be a YAML mapping (key: value lines) at the top level")
        unknown = sorted(set(data) - _TOP_LEVEL)
        if unknown:
            raise MappingError(f"unknown key(s) {unknown} in the mapping file; allowed: {sorted(_TOP_LEVEL)}")
        columns = _str_map(data.get("columns"), "columns")
        constants = _str_map(data.get("constants"), "constants")
        items = {name: _item(name, spec) for name, spec in _mapping(data.get("items"), "items").items()}
        values = {
            column: _labels(labels, f"values.{column}")
            for column, labels in _mapping(data.get("values"), "values").items()
        }
        missing = data.get("missing_values") or []
        if not isinstance(missing, list) or not all(isinstance(v, str | int | float) for v in missing):
            raise MappingError("missing_values must be a list of texts, e.g. ['N/A', \"Don't know\"]")
        timezone = data.get("timezone")
        if timezone is not None:
            try:
                zoneinfo.ZoneInfo(str(timezone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise MappingError(
                    f"unknown timezone {timezone!r}; use an IANA name such as Europe/Berlin or UTC"
                ) from None
        delimiter = data.get("delimiter")
        if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
            raise MappingError("delimiter must be one character, e.g. ';' or '\\t'")
        decimal = str(data.get("decimal", "."))
        if decimal not in {".", ","}:
            raise MappingError("decimal must be '.' or ','")
        encoding = None if data.get("encoding") is None else str(data.get("encoding"))
        try:
            if encoding is not None:
                codecs.lookup(encoding)
        except LookupError:
            raise MappingError(f"unknown encoding {encoding!r}; e.g. utf-8, cp1252, latin-1") from None
        file_format = data.get("format")
        if file_format is not None and file_format not in _FORMATS:
            raise MappingError(f"format must be one of {', '.join(_FORMATS)}")
        timestamp_format = data.get("timestamp_format")
        if timestamp_format is not None and ("%" not in str(timestamp_format)):
            raise MappingError("timestamp_format is a strptime format such as '%d/%m/%Y %H:%M'")
        return cls(
            columns=columns,
            constants=constants,
            items=items,
            values=values,
            missing_values=tuple(str(v) for v in missing),
            timestamp_format=None if timestamp_format is None else str(timestamp_format),
            timezone=None if timezone is None else str(timezone),
            delimiter=delimiter,
            decimal=decimal,
            encoding=encoding,
            format=file_format,
            period=_period(data.get("period")),
        )

    def check_for(self, spec: KindSpec) -> None:
        """Refuse names that mean nothing for this kind (a typo would otherwise silently drop data)."""
        allowed = set(spec.names)
        for section, names in (("columns", self.columns), ("constants", self.constants)):
            unknown = sorted(set(names) - allowed)
            if unknown:
                raise MappingError(
                    f"{section}: {unknown} are not {spec.kind} columns; the canonical columns are "
                    f"{', '.join(spec.names)}"
                )
        both = sorted(set(self.columns) & set(self.constants))
        if both:
            raise MappingError(f"{both} are given both a column and a constant; keep one")
        if self.items and not spec.items:
            raise MappingError(f"items: only responses have driver items, not {spec.kind}")
        numbers = {column.name for column in spec.columns if column.type == "number"}
        unknown_values = sorted(set(self.values) - numbers)
        if unknown_values:
            raise MappingError(
                f"values: {unknown_values} are not number columns of {spec.kind} "
                f"({', '.join(sorted(numbers))})"
            )
        clashes = sorted(set(self.items) & set(spec.names))
        if clashes:
            raise MappingError(f"items: {clashes} are canonical column names, not driver items; rename them")

    def source_of(self, canonical: str) -> str:
        """The file's column that holds ``canonical`` (the canonical name itself when not mapped)."""
        return self.columns.get(canonical, canonical)


def load_mapping(path: str | Path) -> ColumnMapping:
    """Read and check a mapping file (YAML)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(f"mapping file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"mapping file {path} cannot be read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"mapping file {path} is not valid YAML: {exc}") from None
    return ColumnMapping.from_dict(data)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MappingError(f"{where} must be a mapping (name: value lines)")
    return {str(k): v for k, v in value.items()}


def _str_map(value: Any, where: str) -> dict[str, str]:
    out = {}
    for key, source in _mapping(value, where).items():
        if source is None or isinstance(source, Mapping | list):
            raise MappingError(f"{where}.{key} must be a single text")
        out[key] = str(source)
    return out


def _labels(value: Any, where: str) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for label, number in _mapping(value, where).items():
        if number is None:
            out[label.strip().lower()] = None
            continue
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise MappingError(f"{where}: label {label!r} must map to a number or null, not {number!r}")
        out[label.strip().lower()] = float(number)
    return out


def _item(name: str, spec: Any) -> ItemMapping:
    item = name.removeprefix(ITEM_PREFIX) if name.startswith(ITEM_PREFIX) else name
    if not item.strip() or "/" in item:
        raise MappingError(f"items: {name!r} is not a usable item name")
    if isinstance(spec, str):
        return ItemMapping(item=item, column=spec)
    spec = _mapping(spec, f"items.{name}")
    unknown = sorted(set(spec) - {"column", "scale", "labels"})
    if unknown:
        raise MappingError(f"items.{name}: unknown key(s) {unknown}; allowed: column, scale, labels")
    column = spec.get("column", f"{ITEM_PREFIX}{item}")
    scale = spec.get("scale")
    if scale is not None:
        if (
            not isinstance(scale, list)
            or len(scale) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in scale)
            or not scale[0] < scale[1]
        ):
            raise MappingError(f"items.{name}.scale must be [min, max] with min < max, e.g. [1, 5]")
        scale = (float(scale[0]), float(scale[1]))
    return ItemMapping(
        item=item, column=str(column), scale=scale, labels=_labels(spec.get("labels"), f"items.{name}.labels")
    )


RESERVED_ITEMS = frozenset({"nps", "csat", "ces"})


@dataclass(frozen=True)
class ColumnPlan:
    """Where each canonical column of one file comes from, decided once from the file's header.

    ``sources`` maps a canonical column to the file's column that holds it; ``constants`` fills a column
    with one value; ``items`` are the driver items (from ``q_<item>`` columns or the mapping's
    ``items``); ``ignored`` are the file's columns nothing reads.
    """

    sources: Mapping[str, str]
    constants: Mapping[str, str]
    items: tuple[ItemMapping, ...]
    ignored: tuple[str, ...]

    @property
    def used(self) -> frozenset[str]:
        return frozenset(self.sources.values()) | {item.column for item in self.items}


def plan_columns(spec: KindSpec, mapping: ColumnMapping, columns: Sequence[str]) -> ColumnPlan:
    """Match the file's columns to ``spec``; :class:`MappingError` says what is missing or wrong."""
    mapping.check_for(spec)
    present = set(columns)
    for canonical, source in mapping.columns.items():
        if source not in present:
            raise MappingError(
                f"the mapping reads {canonical} from column {source!r}, which {_not_in(columns)}"
            )
    sources = {name: mapping.source_of(name) for name in spec.names if mapping.source_of(name) in present}
    sources = {name: source for name, source in sources.items() if name not in mapping.constants}
    missing = [name for name in spec.needed_in_file if name not in sources and name not in mapping.constants]
    if missing:
        raise MappingError(
            f"missing required column(s) {', '.join(missing)} for {spec.kind}; {_has(columns)}. Rename the "
            "columns as in docs/data-formats.md or map them in a mapping file (--mapping), e.g. "
            f'columns: {{{missing[0]}: "<your column>"}}'
        )
    items: dict[str, ItemMapping] = {}
    if spec.items:
        for item in mapping.items.values():
            if item.column not in present:
                raise MappingError(
                    f"items.{item.item} reads column {item.column!r}, which {_not_in(columns)}"
                )
            items[item.item] = item
        taken = set(sources.values()) | {item.column for item in items.values()}
        for column in columns:
            if not column.startswith(ITEM_PREFIX) or column in taken:
                continue
            name = column.removeprefix(ITEM_PREFIX)
            if not name.strip() or "/" in name:
                raise MappingError(f"column {column!r} is not a usable driver item name; rename it q_<item>")
            if name in items:
                raise MappingError(f"item {name!r} comes from both {items[name].column!r} and {column!r}")
            items[name] = ItemMapping(item=name, column=column)
        reserved = sorted(set(items) & (RESERVED_ITEMS | set(spec.names)))
        if reserved:
            raise MappingError(
                f"driver item name(s) {reserved} are reserved for canonical columns; rename the q_ column(s)"
            )
    used = set(sources.values()) | {item.column for item in items.values()}
    return ColumnPlan(
        sources=sources,
        constants=dict(mapping.constants),
        items=tuple(items.values()),
        ignored=tuple(column for column in columns if column not in used),
    )


def _has(columns: Sequence[str]) -> str:
    shown = ", ".join(repr(c) for c in columns[:30]) + (" ..." if len(columns) > 30 else "")
    return f"the file's columns are {shown}"


def _not_in(columns: Sequence[str]) -> str:
    return f"is not in the file ({_has(columns)})"
