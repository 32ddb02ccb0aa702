"""The mapping file: parsing, the errors that say what to fix, and matching a file's columns."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxloop.warehouse.ingest.kinds import KINDS
from cxloop.warehouse.ingest.mapping import ColumnMapping, MappingError, load_mapping, plan_columns

RESPONSES = KINDS["responses"]


def test_a_full_mapping_file(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        """
columns: {response_id: ID, submitted_at: When, unit_id: Branch}
constants: {touchpoint: web}
items:
  staff: {column: "Staff?", scale: [1, 5], labels: {" Agree ": 4, "N/A": null}}
  q_speed: Speed
values: {nps: {"10 - Extremely likely": 10}}
missing_values: ["-", 0]
timestamp_format: "%d.%m.%Y"
timezone: Europe/Zurich
delimiter: ";"
decimal: ","
encoding: latin-1
format: csv
""",
        encoding="utf-8",
    )
    mapping = load_mapping(path)
    assert mapping.columns == {"response_id": "ID", "submitted_at": "When", "unit_id": "Branch"}
    assert mapping.items["staff"].scale == (1.0, 5.0)
    assert mapping.items["staff"].labels == {"agree": 4.0, "n/a": None}
    assert mapping.items["q_speed"].item == "speed" and mapping.items["q_speed"].column == "Speed"
    assert mapping.values["nps"] == {"10 - extremely likely": 10.0}
    assert mapping.missing_values == ("-", "0")
    assert (mapping.timezone, mapping.delimiter, mapping.decimal, mapping.format) == (
        "Europe/Zurich",
        ";",
        ",",
        "csv",
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"colums": {}}, "unknown key"),
        ({"columns": ["a"]}, "columns must be a mapping"),
        ({"columns": {"nps": {"a": 1}}}, "columns.nps must be a single text"),
        ({"timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"delimiter": ";;"}, "delimiter must be one character"),
        ({"decimal": ";"}, "decimal must be"),
        ({"encoding": "klingon"}, "unknown encoding"),
        ({"format": "xlsx"}, "format must be one of"),
        ({"timestamp_format": "YYYY-MM-DD"}, "strptime format"),
        ({"items": {"x": {"scale": [5, 1]}}}, r"scale must be \[min, max\]"),
        ({"items": {"x": {"colum": "X"}}}, "unknown key"),
        ({"values": {"nps": {"top": "ten"}}}, "must map to a number"),
        ({"missing_values": "N/A"}, "missing_values must be a list"),
    ],
)
def test_bad_mappings_say_what_to_fix(data, message) -> None:
    with pytest.raises(MappingError, match=message):
        ColumnMapping.from_dict(data)


def test_yaml_errors_and_missing_files(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="not found"):
        load_mapping(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns: {a: [\n", encoding="utf-8")
    with pytest.raises(MappingError, match="not valid YAML"):
        load_mapping(bad)
    top = tmp_path / "list.yaml"
    top.write_text("- a\n", encoding="utf-8")
    with pytest.raises(MappingError, match="top level"):
        load_mapping(top)


def test_plan_of_a_canonical_file() -> None:
    columns = ["response_id", "submitted_at", "unit_id", "nps", "q_staff", "q_wait", "extra"]
    plan = plan_columns(RESPONSES, ColumnMapping(), columns)
    assert plan.sources["nps"] == "nps" and "csat" not in plan.sources
    assert [(i.item, i.column) for i in plan.items] == [("staff", "q_staff"), ("wait", "q_wait")]
    assert plan.ignored == ("extra",)


def test_plan_of_a_mapped_wide_file() -> None:
    mapping = ColumnMapping.from_dict(
        {
            "columns": {"response_id": "ID", "submitted_at": "When"},
            "constants": {"unit_id": "b01"},
            "items": {"staff": {"column": "Friendly staff"}},
        }
    )
    plan = plan_columns(RESPONSES, mapping, ["ID", "When", "Friendly staff", "q_wait"])
    assert plan.sources == {"response_id": "ID", "submitted_at": "When"}
    assert plan.constants == {"unit_id": "b01"}
    assert [(i.item, i.column) for i in plan.items] == [("staff", "Friendly staff"), ("wait", "q_wait")]
    assert plan.ignored == ()


@pytest.mark.parametrize(
    ("mapping", "columns", "message"),
    [
        ({}, ["response_id", "unit_id"], r"missing required column\(s\) submitted_at"),
        (
            {"columns": {"nps": "Recommend?"}},
            ["response_id", "submitted_at", "unit_id"],
            "'Recommend\\?', which is not",
        ),
        ({"columns": {"unit": "x"}}, ["x"], r"\['unit'\] are not responses columns"),
        ({"columns": {"nps": "a"}, "constants": {"nps": "9"}}, ["a"], "both a column and a constant"),
        ({"values": {"comment": {"a": 1}}}, ["a"], "are not number columns"),
        ({"items": {"nps": "x"}}, ["x"], "canonical column names"),
        ({}, ["response_id", "submitted_at", "unit_id", "q_csat"], "reserved"),
        (
            {"items": {"staff": "S"}},
            ["response_id", "submitted_at", "unit_id", "S", "q_staff"],
            "comes from both",
        ),
    ],
)
def test_plan_errors(mapping, columns, message) -> None:
    with pytest.raises(MappingError, match=message):
        plan_columns(RESPONSES, ColumnMapping.from_dict(mapping), columns)


def test_units_need_a_parent_column() -> None:
    with pytest.raises(MappingError, match="parent_id"):
        plan_columns(KINDS["units"], ColumnMapping(), ["unit_id", "name", "level"])
    with pytest.raises(MappingError, match="only responses have driver items"):
        plan_columns(KINDS["units"], ColumnMapping.from_dict({"items": {"a": "b"}}), ["unit_id"])
