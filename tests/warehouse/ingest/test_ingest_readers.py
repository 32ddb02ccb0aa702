"""Streaming readers: exact batch sizes, row numbers as a person counts them, malformed rows kept aside."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cxloop.warehouse.ingest.mapping import ColumnMapping
from cxloop.warehouse.ingest.readers import RecordsSource, SourceError, open_source


def rows_of(path: Path, size: int, **kwargs) -> tuple[list[int], list[list[int]], list]:
    with open_source(path, **kwargs) as source:
        batches = list(source.batches(size))
    numbers = [int(r) for b in batches for r in b.rows]
    return numbers, [len(b) for b in batches], [m for b in batches for m in b.malformed]


def test_csv_batches_are_exactly_batch_size(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("a,b\n" + "".join(f"{i},x\n" for i in range(10)), encoding="utf-8")
    numbers, sizes, _ = rows_of(path, 4)
    assert sizes == [4, 4, 2] and numbers == list(range(1, 11))


def test_csv_row_numbers_skip_blank_lines_and_count_malformed_rows(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b'\xef\xbb\xbfa,b\n1,"two\nlines"\n\n3,x\n4\n5,x,extra\n6,x\n')
    with open_source(path) as source:
        assert source.columns == ["a", "b"]  # the BOM is not part of the first name
        batches = list(source.batches(2))
    good = [
        (int(r), v) for b in batches for r, v in zip(b.rows, b.table.column("a").to_pylist(), strict=True)
    ]
    assert good == [(1, b"1"), (2, b"3"), (5, b"6")]
    malformed = [(m.row, m.reason, dict(m.values)) for b in batches for m in b.malformed]
    assert malformed == [
        (3, "expected 2 columns, found 1", {"a": "4", "b": None}),
        (4, "expected 2 columns, found 3", {"a": "5", "b": "x,extra"}),
    ]


def test_csv_delimiter_is_sniffed_and_header_names_made_unique(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("id;Comment;Comment;\n1;a;b;c\n", encoding="utf-8")
    with open_source(path) as source:
        assert source.columns == ["id", "Comment", "Comment.1", "column_4"]
        [batch] = list(source.batches(10))
    assert batch.table.column("Comment.1").to_pylist() == [b"b"]


def test_csv_in_another_encoding_and_gzipped(tmp_path: Path) -> None:
    path = tmp_path / "a.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write("name\ncafé\n".encode("cp1252"))
    with open_source(path, ColumnMapping(encoding="cp1252")) as source:
        [batch] = list(source.batches(5))
        assert source.progress()[0] == source.progress()[1] == path.stat().st_size
    assert batch.table.column("name").to_pylist() == ["café".encode()]


def test_json_lines_number_lines_and_isolate_bad_ones(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n\n{"a": "x"}\n{broken\n[1, 2]\n{"a": 2, "n": {"deep": 1}}\n', encoding="utf-8")
    with open_source(path) as source:
        batches = list(source.batches(3))
    values = [
        (int(r), v) for b in batches for r, v in zip(b.rows, b.table.column("a").to_pylist(), strict=True)
    ]
    # a block with mixed types is read as text, line by line
    assert values == [(1, "1"), (3, "x"), (6, "2")]
    assert [(m.row, m.reason.split(":")[0]) for b in batches for m in b.malformed] == [
        (4, "not valid JSON"),
        (5, "not a JSON object"),
    ]


def test_json_lines_text_fields_keep_their_offset(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"t": "2024-01-01T10:00:00+02:00"}) + "\n", encoding="utf-8")
    with open_source(path, text_fields=frozenset({"t"})) as source:
        [batch] = list(source.batches(5))
    assert batch.table.column("t").to_pylist() == ["2024-01-01T10:00:00+02:00"]


def test_json_lines_a_block_without_a_column_of_the_file_has_it_empty(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 3, "q_new": 7}\n', encoding="utf-8")
    with open_source(path) as source:
        first, second = list(source.batches(2))
    assert source.columns == ["a", "q_new"]
    assert first.table.column("q_new").to_pylist() == [None, None]
    assert second.table.column("q_new").to_pylist() == [7]


def test_records_are_read_like_the_json_lines_file_holding_them(tmp_path: Path) -> None:
    records = [
        {"a": 1, "t": "2024-01-01T10:00:00+02:00"},
        {"a": "x", "b": None},
        {"a": 2, "n": {"deep": 1}},
        {"a": 3, "q_late": 5},
    ]
    path = tmp_path / "same.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    fields = frozenset({"t"})
    for size in (1, 2, 4):
        source = RecordsSource(records, "posted.jsonl", text_fields=fields)
        with open_source(path, text_fields=fields) as file_source:
            assert source.columns == file_source.columns == ["a", "t", "b", "n", "q_late"]
            for mine, theirs in zip(source.batches(size), file_source.batches(size), strict=True):
                assert mine.table.equals(theirs.table) and list(mine.rows) == list(theirs.rows)
        assert source.format == "jsonl" and source.progress() == (4, 4)
    with pytest.raises(SourceError, match="no fields"):
        RecordsSource([{}], "empty.jsonl")


def test_parquet_batches_and_progress(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"a": list(range(7))}), path, row_group_size=3)
    with open_source(path) as source:
        sizes = [len(b) for b in source.batches(5)]
        assert source.progress() == (7, 7)
    assert sizes == [5, 2]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("none.csv", None, "not found"),
        ("a.xlsx", b"x", "cannot tell the format"),
        ("a.csv", b"", "is empty"),
        ("a.parquet", b"not parquet", "not a readable Parquet file"),
        ("a.jsonl", b"no json here\n", "no JSON objects"),
        ("a.json", b'[{"a": 1}]\n', "JSON array"),
    ],
)
def test_unusable_files(tmp_path: Path, name: str, content: bytes | None, message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        open_source(path)


def test_format_from_the_mapping(tmp_path: Path) -> None:
    path = tmp_path / "export.dat"
    path.write_text("a\n1\n", encoding="utf-8")
    with open_source(path, ColumnMapping(format="csv")) as source:
        assert source.format == "csv"
