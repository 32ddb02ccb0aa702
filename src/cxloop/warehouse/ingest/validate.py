"""Row validation of one batch: vectorised checks per kind, rejected rows with their reasons.

:func:`validate_batch` turns a :class:`~cxloop.warehouse.ingest.readers.SourceBatch` into the accepted rows
in the warehouse table's schema (plus, for responses, the long ``answers`` rows of the driver items) and
one :class:`RowProblem` per rejected row. Every check is a whole-column Arrow/numpy operation; Python
only loops over the rows that failed, to word their reasons.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxloop.warehouse.ingest.kinds import ColumnSpec, KindSpec
from cxloop.warehouse.ingest.mapping import ColumnMapping, ColumnPlan
from cxloop.warehouse.ingest.parse import (
    TIMESTAMP,
    mask,
    parse_bool,
    parse_number,
    parse_text,
    parse_timestamp,
)
from cxloop.warehouse.ingest.readers import SourceBatch
from cxloop.warehouse.ingest.seen import SeenKeys
from cxloop.warehouse.schemas import ANSWERS
from cxloop.warehouse.sql import CONTROL_CHARACTER

__all__ = [
    "EARLIEST",
    "FUTURE_TOLERANCE",
    "REASONS",
    "RowProblem",
    "ValidatedBatch",
    "ValidationContext",
    "original_values",
    "validate_batch",
]

FUTURE_TOLERANCE = timedelta(days=1)
"""How far past the time of the import a date may lie (clocks and time zones disagree a little)."""

EARLIEST = datetime(1900, 1, 1)
"""Dates before this are impossible for CX data (usually a default such as 0001-01-01)."""

REASONS = {
    "missing": "missing required value",
    "encoding": "invalid UTF-8 (bad encoding): save the file as UTF-8 or set `encoding:` in a mapping file",
    "number": "not a number",
    "label": "not a number or a known answer label",
    "date": "impossible date: cannot read it (use ISO 8601 such as 2024-05-02T10:15:00Z, or set "
    "`timestamp_format:` in a mapping file)",
    "future": "impossible date: more than 1 day in the future",
    "before_1900": "impossible date: before 1900",
    "bool": "not true/false (also accepted: yes/no, y/n, t/f, 1/0)",
    "unit": "unknown unit: import it with `cxloop import units` first",
    "duplicate": "duplicate {key} in the file (first at row {first})",
    "too_long": "too long: {length} characters, at most {limit}",
    "ended": "impossible date: ended_at is before started_at",
    "control": "holds a control character (such as NUL or a line break): an id cannot",
    "structured": "{kind} is not a value: give one text, number or true/false",
}
"""The wording of every rejection reason (``docs/data-formats.md`` lists them)."""


@dataclass(frozen=True)
class RowProblem:
    """A rejected row: where it is, which column(s) failed and why, and its original values.

    A row with several problems has them joined with ``"; "`` in ``column`` and ``reason``, in the same
    order. ``row`` is ``None`` only when the parser could not tell it.
    """

    file: str
    row: int | None
    column: str
    reason: str
    values: Mapping[str, str | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "row": self.row, "column": self.column, "reason": self.reason}


@dataclass(frozen=True)
class ValidationContext:
    """Everything a batch is checked against, fixed for the whole file."""

    spec: KindSpec
    plan: ColumnPlan
    mapping: ColumnMapping
    file: str
    known_units: pa.Array | None = None
    """The unit ids facts may name (``None``: not checked)."""
    item_scales: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    now: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    """The time of the import, naive UTC: dates beyond it plus :data:`FUTURE_TOLERANCE` are rejected."""
    max_chars: Mapping[str, int] = field(default_factory=dict)
    """Longest values by canonical column, over the spec's own (the comment's comes from the settings)."""
    known_names: Mapping[str, pa.Array] | None = None
    """For each catalogue a column registers to (``touchpoints``, ``segments``), the ids it holds
    (``None``: not checked)."""
    new_name: Callable[[str, str], str | None] | None = None
    """Why a value that is not among ``known_names`` cannot be added to its catalogue: ``(catalogue, value)``
    -> the reason, or ``None`` when it can be (the row is then kept and the value registered)."""
    refused_items: Mapping[str, str] = field(default_factory=dict)
    """Driver items rows may not answer, each with the reason: a row answering one is rejected."""


@dataclass(frozen=True)
class ValidatedBatch:
    rows: pa.Table
    row_numbers: np.ndarray
    answers: pa.Table | None
    problems: list[RowProblem]

    @property
    def accepted(self) -> int:
        return self.rows.num_rows

    @property
    def rejected(self) -> int:
        return len(self.problems)


class _Issues:
    """Failed checks of a batch: (column, mask, reason or per-row reasons)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.found: list[tuple[str, np.ndarray, str | dict[int, str]]] = []

    def add(self, column: str, where: np.ndarray, reason: str | dict[int, str]) -> None:
        if where.any():
            self.found.append((column, where, reason))

    def rejected(self) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        for _, where, _ in self.found:
            out |= where
        return out

    def by_row(self) -> dict[int, list[tuple[str, str]]]:
        rows: dict[int, list[tuple[str, str]]] = {}
        for column, where, reason in self.found:
            for index in np.flatnonzero(where):
                text = reason if isinstance(reason, str) else reason[int(index)]
                rows.setdefault(int(index), []).append((column, text))
        return rows


def _source_array(batch: SourceBatch, ctx: ValidationContext, name: str) -> pa.Array | None:
    if name in ctx.plan.constants:
        return pc.fill_null(pa.nulls(len(batch), pa.string()), ctx.plan.constants[name])
    source = ctx.plan.sources.get(name)
    if source is None or source not in batch.table.column_names:
        return None
    return _array(batch.table, source)


def _array(table: pa.Table, name: str) -> pa.Array:
    column = table.column(name)
    return column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)


def _text_first(values: pa.Array, ctx: ValidationContext) -> tuple[pa.Array, np.ndarray]:
    """Decode raw bytes once, so an encoding error is reported as such and not as a bad number."""
    kind = values.type
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return parse_text(values, ctx.mapping.missing_values)
    return values, np.zeros(len(values), dtype=bool)


def _without_structures(
    values: pa.Array, kinds: Mapping[int, str] | None, issues: _Issues, label: str
) -> tuple[pa.Array, np.ndarray]:
    """``values`` with the column's JSON objects and lists (``kinds``: row index -> "an object" or "a
    list") refused with their reason and left empty, so that no other check words them again."""
    where = np.zeros(len(values), dtype=bool)
    if not kinds:
        return values, where
    where[list(kinds)] = True
    issues.add(label, where, {i: REASONS["structured"].format(kind=kind) for i, kind in kinds.items()})
    return pc.if_else(pa.array(where), pa.nulls(len(values), values.type), values), where


def _parse_column(
    column: ColumnSpec,
    values: pa.Array,
    ctx: ValidationContext,
    issues: _Issues,
    label: str,
    structures: Mapping[int, str] | None = None,
) -> pa.Array:
    missing = ctx.mapping.missing_values
    values, bad_encoding = _text_first(values, ctx)
    issues.add(label, bad_encoding, REASONS["encoding"])
    values, structured = _without_structures(values, structures, issues, label)
    bad_encoding = bad_encoding | structured  # already worded: not "missing" as well
    control = np.zeros(len(values), dtype=bool)
    if column.type in ("id", "text"):
        parsed, bad = parse_text(values, missing)
        if column.type == "id":  # ids are what filters ask for, and no filter value holds one
            control = mask(pc.match_substring_regex(parsed, CONTROL_CHARACTER.pattern))
            issues.add(label, control, REASONS["control"])
        limit = ctx.max_chars.get(column.name, column.max_chars)
        if limit is not None:
            control = control | _check_length(parsed, limit, issues, label)
    elif column.type == "number":
        labels = ctx.mapping.values.get(column.name)
        parsed, bad = parse_number(values, labels, ctx.mapping.decimal, missing)
        issues.add(label, bad, REASONS["label" if labels else "number"])
    elif column.type == "timestamp":
        parsed, bad = parse_timestamp(values, ctx.mapping.timestamp_format, ctx.mapping.timezone, missing)
        issues.add(label, bad, REASONS["date"])
    else:
        parsed, bad = parse_bool(values, missing)
        issues.add(label, bad, REASONS["bool"])
    if column.required:
        issues.add(label, ~mask(pc.is_valid(parsed)) & ~bad & ~bad_encoding, REASONS["missing"])
    if column.type == "number":
        _check_range(parsed, column.name, column.low, column.high, column.whole, issues, label)
    if column.type == "timestamp":
        _check_dates(parsed, column, ctx, issues, label)
    if column.references == "units" and ctx.known_units is not None:
        unknown = mask(pc.is_valid(parsed)) & ~mask(pc.is_in(parsed, value_set=ctx.known_units))
        issues.add(label, unknown, REASONS["unit"])
    if column.registers is not None and ctx.known_names is not None and ctx.new_name is not None:
        _check_new_names(parsed, column.registers, ctx, issues, label, control)  # not twice for one value
    return parsed


def _check_new_names(
    parsed: pa.Array, catalogue: str, ctx: ValidationContext, issues: _Issues, label: str, worded: np.ndarray
) -> None:
    """Reject the rows whose value is not in ``catalogue`` and may not be added (``ctx.new_name`` says why);
    each distinct new value is judged once. ``worded``: rows already rejected for their value."""
    assert ctx.known_names is not None and ctx.new_name is not None
    known = ctx.known_names.get(catalogue, pa.array([], pa.string()))
    new = mask(pc.is_valid(parsed)) & ~mask(pc.is_in(parsed, value_set=known)) & ~worded
    if not new.any():
        return
    at = np.flatnonzero(new)
    values = pc.take(parsed, pa.array(at)).to_pylist()
    verdicts = {value: ctx.new_name(catalogue, value) for value in set(values)}
    reasons: dict[int, str] = {}
    for i, value in zip(at, values, strict=True):
        if (reason := verdicts[value]) is not None:
            reasons[int(i)] = reason
    refused = np.zeros(len(parsed), dtype=bool)
    refused[list(reasons)] = True
    issues.add(label, refused, reasons)


def _check_range(
    values: pa.Array,
    name: str,
    low: float | None,
    high: float | None,
    whole: bool,
    issues: _Issues,
    label: str,
) -> None:
    if low is None and high is None and not whole:
        return
    outside = np.zeros(len(values), dtype=bool)
    if low is not None:
        outside |= mask(pc.less(values, low))
    if high is not None:
        outside |= mask(pc.greater(values, high))
    if whole:
        outside |= mask(pc.not_equal(values, pc.floor(values)))
    spec = ColumnSpec(name, "number", low=low, high=high, whole=whole)
    issues.add(label, outside, f"out of range: {name} must be {spec.range_text}")


def _check_length(values: pa.Array, limit: int, issues: _Issues, label: str) -> np.ndarray:
    """Reject the values longer than ``limit``; return which were."""
    lengths = pc.utf8_length(values)
    over = mask(pc.greater(lengths, limit))
    if over.any():
        reasons = {
            int(i): REASONS["too_long"].format(length=f"{lengths[int(i)].as_py():,}", limit=f"{limit:,}")
            for i in np.flatnonzero(over)
        }
        issues.add(label, over, reasons)
    return over


def _check_dates(
    values: pa.Array, column: ColumnSpec, ctx: ValidationContext, issues: _Issues, label: str
) -> None:
    early = pa.scalar(EARLIEST, TIMESTAMP)
    issues.add(label, mask(pc.less(values, early)), REASONS["before_1900"])
    if not column.future_allowed:
        latest = pa.scalar(ctx.now + FUTURE_TOLERANCE, TIMESTAMP)
        issues.add(label, mask(pc.greater(values, latest)), REASONS["future"])


def _display(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="backslashreplace")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def original_values(table: pa.Table, indices: np.ndarray) -> list[dict[str, str | None]]:
    """The rows at ``indices`` of a source table as text, as the quarantine file shows them."""
    if not len(indices):
        return []
    rows = table.take(pa.array(indices, pa.int64())).to_pylist()
    return [{name: _display(value) for name, value in row.items()} for row in rows]


def _problems(
    batch: SourceBatch, ctx: ValidationContext, issues: _Issues, rejected: np.ndarray
) -> list[RowProblem]:
    by_row = issues.by_row()
    indices = np.flatnonzero(rejected)
    problems = []
    for index, values in zip(indices, original_values(batch.table, indices), strict=True):
        found = by_row[int(index)]
        problems.append(
            RowProblem(
                file=ctx.file,
                row=int(batch.rows[index]),
                column="; ".join(column for column, _ in found),
                reason="; ".join(reason for _, reason in found),
                values=values,
            )
        )
    return problems


def validate_batch(
    batch: SourceBatch, ctx: ValidationContext, seen: SeenKeys | None = None
) -> ValidatedBatch:
    """Check every row of ``batch``; keep the good ones in the warehouse schema, word the bad ones.

    ``seen`` carries the keys of earlier batches of the same file: a key's second appearance anywhere
    in the file is rejected (the first is kept).
    """
    spec = ctx.spec
    n = len(batch)
    issues = _Issues(n)
    parsed: dict[str, pa.Array] = {}
    for column in spec.columns:
        label = ctx.plan.sources.get(column.name, column.name)
        values = _source_array(batch, ctx, column.name)
        if values is None:
            parsed[column.name] = pa.nulls(n, _arrow_type(column))
            continue
        structures = batch.structured.get(ctx.plan.sources.get(column.name, ""))
        parsed[column.name] = _parse_column(column, values, ctx, issues, label, structures)
    if spec.kind == "subscriptions":
        ended_early = mask(pc.less(parsed["ended_at"], parsed["started_at"]))
        issues.add(ctx.plan.sources.get("ended_at", "ended_at"), ended_early, REASONS["ended"])
    item_values: dict[str, pa.Array] = {}
    for item in ctx.plan.items:
        values, bad_encoding = _text_first(_array(batch.table, item.column), ctx)
        issues.add(item.column, bad_encoding, REASONS["encoding"])
        values, _ = _without_structures(values, batch.structured.get(item.column), issues, item.column)
        numbers, bad = parse_number(
            values, item.labels or None, ctx.mapping.decimal, ctx.mapping.missing_values
        )
        issues.add(item.column, bad, REASONS["label" if item.labels else "number"])
        low, high = ctx.item_scales.get(item.item, (0.0, 10.0))
        _check_range(numbers, item.column, low, high, False, issues, item.column)
        if (refusal := ctx.refused_items.get(item.item)) is not None:
            issues.add(item.column, mask(pc.is_valid(numbers)), refusal)
        item_values[item.item] = numbers
    if seen is not None:
        repeat, first_row = seen.check(parsed[spec.key], batch.rows)
        reasons = {
            int(i): REASONS["duplicate"].format(key=spec.key, first=int(first_row[i]))
            for i in np.flatnonzero(repeat)
        }
        issues.add(ctx.plan.sources.get(spec.key, spec.key), repeat, reasons)

    rejected = issues.rejected()
    problems = [
        RowProblem(ctx.file, bad.row, bad.column, bad.reason, dict(bad.values)) for bad in batch.malformed
    ] + _problems(batch, ctx, issues, rejected)
    problems.sort(key=lambda p: (p.row is None, p.row or 0))
    keep = pa.array(~rejected)
    if spec.table is not None:
        schema = spec.table.schema.to_pyarrow()
        rows = pa.Table.from_arrays(
            [pc.filter(parsed[f.name], keep).cast(f.type) for f in schema], schema=_nullable(schema)
        )
    else:
        rows = pa.table({name: pc.filter(parsed[name], keep) for name in spec.names})
    answers = (
        _answers(rows, spec.key, {item: pc.filter(v, keep) for item, v in item_values.items()})
        if spec.items
        else None
    )
    return ValidatedBatch(rows=rows, row_numbers=batch.rows[~rejected], answers=answers, problems=problems)


def _arrow_type(column: ColumnSpec) -> pa.DataType:
    return {
        "id": pa.string(),
        "text": pa.string(),
        "number": pa.float64(),
        "timestamp": TIMESTAMP,
        "bool": pa.bool_(),
    }[column.type]


def _nullable(schema: pa.Schema) -> pa.Schema:
    return pa.schema([f.with_nullable(True) for f in schema])


ANSWERS_SCHEMA = _nullable(ANSWERS.schema.to_pyarrow())


def _answers(rows: pa.Table, key: str, items: Mapping[str, pa.Array]) -> pa.Table:
    """The long ``answers`` rows (response_id, item, value) of the answered items of accepted rows."""
    if not items or rows.num_rows == 0:
        return ANSWERS_SCHEMA.empty_table()
    positions, codes, values = [], [], []
    for code, numbers in enumerate(items.values()):
        answered = mask(pc.is_valid(numbers))
        where = np.flatnonzero(answered)
        positions.append(where)
        codes.append(np.full(len(where), code, dtype=np.int32))
        values.append(pc.filter(numbers, pa.array(answered)))
    take = np.concatenate(positions)
    item_codes = pa.array(np.concatenate(codes), pa.int32())
    names = pa.array(list(items), pa.string())
    return pa.Table.from_arrays(
        [
            pc.take(rows.column(key), pa.array(take, pa.int64())).combine_chunks(),
            pa.DictionaryArray.from_arrays(item_codes, names).cast(pa.string()),
            pa.concat_arrays([v.cast(pa.float64()) for v in values]),
        ],
        schema=ANSWERS_SCHEMA,
    )
