"""docs/data-formats.md's survey-tool examples stay true: each is recognised as its tool and imports as the
text says, and the saved-mapping example is a usable mapping file."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from cxloop.config import Settings
from cxloop.services.listen.imports import import_file
from cxloop.services.listen.survey_exports import import_export
from cxloop.warehouse.connection import connect
from support.export_samples import UNITS_CSV

DOC = Path(__file__).resolve().parents[3] / "docs" / "data-formats.md"


def example(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w+\n(.*?)```", text, flags=re.DOTALL)
    assert match is not None, name
    return match.group(1)


@pytest.fixture
def org(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "data")
    units = tmp_path / "units.csv"
    units.write_text(UNITS_CSV, encoding="utf-8")
    assert import_file("units", units, settings=settings).accepted == 4
    return settings


@pytest.mark.parametrize(
    ("name", "tool", "accepted"),
    [
        ("qualtrics-export.csv", "qualtrics", 2),
        ("surveymonkey-export.csv", "surveymonkey", 2),
        ("googleforms-export.csv", "googleforms", 2),
        ("typeform-export.csv", "typeform", 2),
    ],
)
def test_each_documented_export_imports(
    org: Settings, tmp_path: Path, name: str, tool: str, accepted: int
) -> None:
    path = tmp_path / name
    path.write_text(example(name), encoding="utf-8")
    result = import_export(path, settings=org)
    summary = result.to_dict()
    assert (summary["detected_format"], summary["accepted"], summary["rejected"]) == (tool, accepted, 0)


def test_the_qualtrics_example_as_the_text_says(org: Settings, tmp_path: Path) -> None:
    path = tmp_path / "qualtrics-export.csv"
    path.write_text(example("qualtrics-export.csv"), encoding="utf-8")
    summary = import_export(path, settings=org).to_dict()
    assert (
        "1 preview/test/spam response(s) excluded (Survey Preview 1); --include-preview imports them"
        in summary["notes"]
    )
    con = connect(org)
    try:
        rows = con.table("responses").order_by("response_id").to_pyarrow().to_pylist()
        answers = con.table("answers").to_pyarrow().to_pylist()
        attributes = con.table("response_attributes").to_pyarrow().to_pylist()
    finally:
        con.disconnect()
    first = rows[0]
    assert (first["response_id"], first["submitted_at"]) == ("R_1a2B", datetime(2024, 1, 15, 8, 31, 10))
    assert (first["nps"], first["csat"], first["comment"], first["customer_id"]) == (
        10.0,
        5.0,
        "Great service",
        "c0001",
    )
    assert {"response_id": "R_1a2B", "item": "the_staff_were_friendly", "value": 4.0} in answers
    assert {"response_id": "R_5e6F", "name": "Q4 - Topics", "value": "Wait time"} in attributes


def test_the_documented_mapping_file_imports_the_qualtrics_example(org: Settings, tmp_path: Path) -> None:
    path = tmp_path / "qualtrics-export.csv"
    path.write_text(example("qualtrics-export.csv"), encoding="utf-8")
    mapping = tmp_path / "qualtrics-mapping.yaml"
    mapping.write_text(example("qualtrics-mapping.yaml"), encoding="utf-8")
    assert yaml.safe_load(mapping.read_text(encoding="utf-8"))["export"]["tool"] == "qualtrics"
    result = import_export(path, settings=org, tool="qualtrics", mapping=mapping)
    assert result.mapping_reused and result.summary.accepted == 2 and result.attributes > 0
