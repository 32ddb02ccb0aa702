"""Vectorised column parsers: any Arrow column in, a typed column and a mask of unreadable values out.

Every parser takes what a reader produced (raw ``binary`` from CSV, strings, or typed values from
Parquet and JSON Lines) and returns ``(values, bad)``: ``values`` of the target type with nulls where a
value is missing or unreadable, and ``bad`` a numpy bool mask of the values that were present but could
not be read. Whole-column Arrow casts are the fast path; only a column that fails one takes a slower,
still vectorised, path (a shape check, then bisection for the few values that pass the shape check but
still fail, such as 2024-02-30).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "TIMESTAMP",
    "mask",
    "parse_bool",
    "parse_number",
    "parse_text",
    "parse_timestamp",
]

TIMESTAMP = pa.timestamp("us")
"""The warehouse's timestamp type: UTC wall clock without a zone, microseconds."""

_UTC = pa.timestamp("us", "UTC")
_NUMBER_SHAPE = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_NAIVE_SHAPE = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?$"
_OFFSET_SHAPE = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)$"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


def mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as a numpy mask (nulls count as False)."""
    filled = pc.fill_null(values, False)
    if isinstance(filled, pa.ChunkedArray):
        filled = filled.combine_chunks()
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=bool)


def _null_where(values: pa.Array, where: np.ndarray) -> pa.Array:
    if not where.any():
        return values
    return pc.if_else(pa.array(where), pa.nulls(len(values), values.type), values)


def _utf8_bad(values: pa.Array) -> np.ndarray:
    """Which binary values are not valid UTF-8 (only called once a whole-column cast has failed)."""
    bad = np.zeros(len(values), dtype=bool)
    for index, raw in enumerate(values.to_pylist()):
        if raw is not None:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                bad[index] = True
    return bad


def parse_text(values: pa.Array, missing: tuple[str, ...] = ()) -> tuple[pa.Array, np.ndarray]:
    """Trimmed ``string`` values; empty (or a ``missing`` marker) becomes null. Bad = invalid UTF-8."""
    bad = np.zeros(len(values), dtype=bool)
    kind = values.type
    if pa.types.is_dictionary(kind):
        values = values.dictionary_decode()
        kind = values.type
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        try:
            values = values.cast(pa.string())
        except pa.ArrowInvalid:
            bad = _utf8_bad(values)
            values = _null_where(values, bad).cast(pa.string())
    elif pa.types.is_large_string(kind) or pa.types.is_string_view(kind):
        values = values.cast(pa.string())
    elif not pa.types.is_string(kind):
        if pa.types.is_floating(kind):
            # 12.0 from a typed column is the id "12", as it would be in a CSV file.
            floats = values.cast(pa.float64())
            whole = mask(pc.equal(floats, pc.floor(floats)))
            as_int = pc.cast(_null_where(floats, ~whole), pa.int64(), safe=False).cast(pa.string())
            values = pc.if_else(pa.array(whole), as_int, floats.cast(pa.string()))
        else:
            values = values.cast(pa.string())
    values = pc.utf8_trim_whitespace(values)
    empty = pc.equal(values, "")
    if missing:
        empty = pc.or_(empty, pc.is_in(values, value_set=pa.array(list(missing), pa.string())))
    return _null_where(values, mask(empty)), bad


def _cast_or_null(values: pa.Array, target: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """Cast, turning values that fail into nulls (found by bisection: fast when failures are rare)."""
    try:
        return pc.cast(values, target), np.zeros(len(values), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        if len(values) == 1:
            return pa.nulls(1, target), np.array([values[0].is_valid])
    half = len(values) // 2
    left, left_bad = _cast_or_null(values.slice(0, half), target)
    right, right_bad = _cast_or_null(values.slice(half), target)
    return pa.concat_arrays([left, right]), np.concatenate([left_bad, right_bad])


def parse_number(
    values: pa.Array,
    labels: Mapping[str, float | None] | None = None,
    decimal: str = ".",
    missing: tuple[str, ...] = (),
) -> tuple[pa.Array, np.ndarray]:
    """``float64`` values. Text may be a number or one of ``labels`` (matched trimmed, ignoring case).

    Bad = present but neither a finite number nor a known label (a label mapped to ``None`` is empty).
    """
    kind = values.type
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        numbers = values.cast(pa.float64())
        bad = mask(pc.invert(pc.is_finite(numbers)))
        return _null_where(numbers, bad), bad
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)):
        if pa.types.is_dictionary(kind):
            return parse_number(values.dictionary_decode(), labels, decimal, missing)
        bad = mask(pc.is_valid(values))
        return pa.nulls(len(values), pa.float64()), bad
    text, bad = parse_text(values, missing)
    labelled = None
    if labels:
        keys = pa.array(list(labels), pa.string())
        index = pc.index_in(pc.utf8_lower(text), value_set=keys)
        is_label = mask(pc.is_valid(index))
        if is_label.any():
            labelled = pc.take(pa.array(list(labels.values()), pa.float64()), index)
            text = _null_where(text, is_label)
    if decimal == ",":
        text = pc.replace_substring(text, ",", ".")
    try:
        numbers = pc.cast(text, pa.float64())
    except pa.ArrowInvalid:
        shaped = mask(pc.match_substring_regex(text, _NUMBER_SHAPE))
        bad = bad | (mask(pc.is_valid(text)) & ~shaped)
        numbers = pc.cast(_null_where(text, ~shaped), pa.float64())
    infinite = mask(pc.invert(pc.is_finite(numbers)))
    bad = bad | infinite
    numbers = _null_where(numbers, infinite)
    if labelled is not None:
        numbers = pc.coalesce(labelled, numbers)
    return numbers, bad


def _localise(naive: pa.Array, timezone: str | None) -> pa.Array:
    """Naive wall-clock times in ``timezone`` (``None``: already UTC) as naive UTC."""
    if timezone is None or timezone == "UTC":
        return naive
    aware = pc.assume_timezone(naive, timezone=timezone, ambiguous="earliest", nonexistent="earliest")
    return aware.cast(_UTC).cast(TIMESTAMP)


def _to_us(values: pa.Array, target: pa.DataType) -> pa.Array:
    return pc.cast(values, options=pc.CastOptions(target_type=target, allow_time_truncate=True))


def parse_timestamp(
    values: pa.Array,
    timestamp_format: str | None = None,
    timezone: str | None = None,
    missing: tuple[str, ...] = (),
) -> tuple[pa.Array, np.ndarray]:
    """Naive-UTC ``timestamp[us]`` values.

    Text is ISO 8601 (``2024-05-02``, ``2024-05-02 10:15``, ``2024-05-02T10:15:00.5Z``,
    ``...+02:00``) unless ``timestamp_format`` (strptime) is given. A value with an offset is converted
    with it; a value without one is wall-clock time in ``timezone`` (default UTC). Typed timestamps with
    a zone are converted to UTC; without one they are read in ``timezone``; dates are midnight.
    """
    kind = values.type
    if pa.types.is_timestamp(kind):
        if kind.tz is not None:
            return _to_us(values, _UTC).cast(TIMESTAMP), np.zeros(len(values), dtype=bool)
        return _localise(_to_us(values, TIMESTAMP), timezone), np.zeros(len(values), dtype=bool)
    if pa.types.is_date(kind):
        return _localise(values.cast(TIMESTAMP), timezone), np.zeros(len(values), dtype=bool)
    if pa.types.is_dictionary(kind):
        return parse_timestamp(values.dictionary_decode(), timestamp_format, timezone, missing)
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)):
        return pa.nulls(len(values), TIMESTAMP), mask(pc.is_valid(values))
    text, bad = parse_text(values, missing)
    present = mask(pc.is_valid(text))
    if timestamp_format is not None:
        parsed = pc.strptime(text, format=timestamp_format, unit="us", error_is_null=True)
        bad = bad | (present & ~mask(pc.is_valid(parsed)))
        if parsed.type.tz is not None:  # the format has %z: each value carries its offset
            return parsed.cast(_UTC).cast(TIMESTAMP), bad
        return _localise(parsed, timezone), bad
    try:
        return _localise(pc.cast(text, TIMESTAMP), timezone), bad
    except pa.ArrowInvalid:
        pass
    with_offset = mask(pc.match_substring_regex(text, _OFFSET_SHAPE))
    naive_shape = mask(pc.match_substring_regex(text, _NAIVE_SHAPE))
    bad = bad | (present & ~with_offset & ~naive_shape)
    naive, naive_bad = _cast_or_null(_null_where(text, ~naive_shape), TIMESTAMP)
    aware, aware_bad = _cast_or_null(_null_where(text, ~with_offset), _UTC)
    bad = bad | naive_bad | aware_bad
    return pc.coalesce(aware.cast(TIMESTAMP), _localise(naive, timezone)), bad


def parse_bool(values: pa.Array, missing: tuple[str, ...] = ()) -> tuple[pa.Array, np.ndarray]:
    """``bool`` values from booleans, 0/1 numbers or text (true/false, t/f, yes/no, y/n, 1/0)."""
    kind = values.type
    if pa.types.is_boolean(kind):
        return values, np.zeros(len(values), dtype=bool)
    if pa.types.is_integer(kind) or pa.types.is_floating(kind):
        numbers = values.cast(pa.float64())
        bad = mask(pc.invert(pc.is_in(numbers, value_set=pa.array([0.0, 1.0]))))
        bad &= mask(pc.is_valid(numbers))
        return pc.not_equal(_null_where(numbers, bad), 0.0), bad
    text, bad = parse_text(values, missing)
    lowered = pc.utf8_lower(text)
    truthy = mask(pc.is_in(lowered, value_set=pa.array(_TRUE)))
    falsy = mask(pc.is_in(lowered, value_set=pa.array(_FALSE)))
    bad = bad | (mask(pc.is_valid(text)) & ~truthy & ~falsy)
    result = pa.array(truthy, pa.bool_())
    return _null_where(result, ~(truthy | falsy)), bad
