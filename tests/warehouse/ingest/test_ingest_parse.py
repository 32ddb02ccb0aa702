"""The vectorised column parsers: typed values out, a mask of the values that could not be read."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pytest

from cxloop.warehouse.ingest.parse import TIMESTAMP, parse_bool, parse_number, parse_text, parse_timestamp


def test_text_trims_nulls_empties_and_flags_bad_utf8() -> None:
    values, bad = parse_text(pa.array([b" a ", b"\xff\xfe", b"", None, b"N/A", b"caf\xc3\xa9"]), ("N/A",))
    assert values.to_pylist() == ["a", None, None, None, None, "café"]
    assert bad.tolist() == [False, True, False, False, False, False]


def test_text_from_typed_columns() -> None:
    assert parse_text(pa.array([12.0, 2.5, None]))[0].to_pylist() == ["12", "2.5", None]
    assert parse_text(pa.array([7, None], pa.int64()))[0].to_pylist() == ["7", None]
    assert parse_text(pa.array(["x", "y"]).dictionary_encode())[0].to_pylist() == ["x", "y"]
    assert parse_text(pa.array(["x"], pa.large_string()))[0].type == pa.string()


def test_numbers_fast_path_and_fallback() -> None:
    values, bad = parse_number(pa.array(["1", "2.5", "-3", "1e2"]))
    assert values.to_pylist() == [1.0, 2.5, -3.0, 100.0] and not bad.any()
    values, bad = parse_number(pa.array([" 5 ", "x", "1e999", "nan", "", None, ".5"]))
    assert values.to_pylist() == [5.0, None, None, None, None, None, 0.5]
    assert bad.tolist() == [False, True, True, True, False, False, False]


def test_numbers_with_labels_decimal_comma_and_missing_markers() -> None:
    labels = {"very satisfied": 5.0, "not applicable": None}
    values, bad = parse_number(
        pa.array(["Very Satisfied", "3,5", "Not applicable", "dunno", "DK"]),
        labels,
        decimal=",",
        missing=("DK",),
    )
    assert values.to_pylist() == [5.0, 3.5, None, None, None]
    assert bad.tolist() == [False, False, False, True, False]


def test_numbers_from_typed_columns() -> None:
    values, bad = parse_number(pa.array([1, None, 3], pa.int16()))
    assert values.type == pa.float64() and values.to_pylist() == [1.0, None, 3.0] and not bad.any()
    values, bad = parse_number(pa.array([1.0, float("inf")]))
    assert values.to_pylist() == [1.0, None] and bad.tolist() == [False, True]
    _, bad = parse_number(pa.array([True, None]))
    assert bad.tolist() == [True, False]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-02", datetime(2024, 5, 2)),
        ("2024-05-02 10:15", datetime(2024, 5, 2, 10, 15)),
        ("2024-05-02T10:15:30.25", datetime(2024, 5, 2, 10, 15, 30, 250000)),
        ("2024-05-02T10:15:00Z", datetime(2024, 5, 2, 10, 15)),
        ("2024-05-02T10:15:00+02:00", datetime(2024, 5, 2, 8, 15)),
        ("2024-05-02T10:15:00-0130", datetime(2024, 5, 2, 11, 45)),
    ],
)
def test_iso_timestamps_alone_and_mixed(text: str, expected: datetime) -> None:
    alone, bad = parse_timestamp(pa.array([text]))
    assert alone.type == TIMESTAMP and alone.to_pylist() == [expected] and not bad.any()
    mixed, bad = parse_timestamp(pa.array([text, "2024-02-30", "soon", "2024-01-01T00:00:00Z"]))
    assert mixed.to_pylist()[0] == expected and bad.tolist() == [False, True, True, False]


def test_timestamps_in_a_time_zone() -> None:
    values, _ = parse_timestamp(
        pa.array(["2024-01-15 09:30", "2024-07-15 09:30", "2024-07-15T09:30:00Z"]), timezone="Europe/Berlin"
    )
    # naive values are Berlin wall clock (UTC+1 in winter, +2 in summer); an explicit offset wins
    assert values.to_pylist() == [
        datetime(2024, 1, 15, 8, 30),
        datetime(2024, 7, 15, 7, 30),
        datetime(2024, 7, 15, 9, 30),
    ]


def test_timestamps_with_a_format() -> None:
    values, bad = parse_timestamp(
        pa.array(["15/01/2024 09:30", "2024-01-15"]), "%d/%m/%Y %H:%M", "America/New_York"
    )
    assert values.to_pylist() == [datetime(2024, 1, 15, 14, 30), None] and bad.tolist() == [False, True]


def test_typed_timestamps_and_dates() -> None:
    aware = pa.array([datetime(2024, 1, 1, 12)], pa.timestamp("ns", "UTC")).cast(
        pa.timestamp("ns", "Asia/Tokyo")
    )
    assert parse_timestamp(aware, timezone="Europe/Berlin")[0].to_pylist() == [datetime(2024, 1, 1, 12)]
    naive = pa.array([datetime(2024, 1, 1, 12)], pa.timestamp("s"))
    assert parse_timestamp(naive, timezone="Europe/Berlin")[0].to_pylist() == [datetime(2024, 1, 1, 11)]
    assert parse_timestamp(pa.array([date(2024, 1, 2)]))[0].to_pylist() == [datetime(2024, 1, 2)]
    _, bad = parse_timestamp(pa.array([3.5]))
    assert bad.tolist() == [True]


def test_booleans() -> None:
    values, bad = parse_bool(pa.array(["Yes", "no", "T", "f", "1", "0", "maybe", None]))
    assert values.to_pylist() == [True, False, True, False, True, False, None, None]
    assert bad.tolist() == [False] * 6 + [True, False]
    values, bad = parse_bool(pa.array([1, 0, 2]))
    assert values.to_pylist() == [True, False, None] and bad.tolist() == [False, False, True]


def test_bisection_finds_every_bad_value_among_many() -> None:
    rng = np.random.default_rng(3)
    texts = np.asarray(["2024-01-10"] * 1000, dtype=object)
    broken = rng.choice(1000, size=17, replace=False)
    texts[broken] = "2024-02-31"
    _, bad = parse_timestamp(pa.array(texts.tolist()))
    assert set(np.flatnonzero(bad)) == set(broken)
