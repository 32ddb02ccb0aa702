"""docs/data-formats.md stays true: every canonical column and rejection reason is in it, and its full
wide-export example imports as the text says."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pytest

from cxloop.services.listen.imports import import_file
from cxloop.warehouse.ingest.kinds import KINDS
from cxloop.warehouse.ingest.validate import REASONS
from support.import_helpers import table_rows

DOC = Path(__file__).resolve().parents[3] / "docs" / "data-formats.md"


def section(kind: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"### {kind}\n")
    end = text.find("\n## ", start)
    following = text.find("\n### ", start + 1)
    return text[start : min(e for e in (end, following) if e != -1)]


@pytest.mark.parametrize("kind", list(KINDS))
def test_every_canonical_column_is_documented(kind: str) -> None:
    text = section(kind)
    for column in KINDS[kind].columns:
        row = re.search(rf"^\| `{column.name}` \| (\w+) \| ([^|]+) \|.*$", text, flags=re.MULTILINE)
        assert row is not None, f"{kind}.{column.name} is not in docs/data-formats.md"
        assert row.group(1) == column.type, column.name
        if column.name in KINDS[kind].header_only:
            assert row.group(2).startswith("column required, value optional"), column.name
        else:
            assert row.group(2).startswith("yes") == column.required, column.name
        if column.range_text:
            assert column.range_text.split(",")[0] in row.group(0), column.name
        if column.max_chars is not None:
            assert f"at most {column.max_chars:,} characters" in row.group(0), column.name


def test_every_rejection_reason_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for key, reason in REASONS.items():
        shown = reason.replace("{key}", "<key>").replace("{first}", "N").replace("{kind}", "an object")
        shown = shown.replace("{length}", "M").replace("{limit}", "N")
        prefix = shown.split(" (use ")[0].split(": save ")[0]  # the table abbreviates the long advice
        assert prefix in text, f"reason {key!r} ({prefix!r}) is not in docs/data-formats.md"


def example(name: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w+\n(.*?)```", text, flags=re.DOTALL)
    assert match is not None, name
    return match.group(1)


def test_the_wide_export_example_imports_as_documented(org, tmp_path: Path) -> None:
    export = tmp_path / "wide-export.csv"
    export.write_text(example("wide-export.csv"), encoding="utf-8")
    mapping = tmp_path / "survey-mapping.yaml"
    mapping.write_text(example("survey-mapping.yaml"), encoding="utf-8")
    summary = import_file("responses", export, settings=org, mapping=mapping)
    assert (summary.accepted, summary.rejected, summary.ignored_columns) == (3, 0, ("IP address",))
    first = table_rows(org, "responses")[0]
    assert first[:3] == ("S-1001", datetime(2024, 1, 15, 8, 30), "b01")
    assert (first[5], first[8], first[9]) == ("branch_visit", 10.0, 5.0)
    answers = table_rows(org, "answers", order="response_id, item")
    assert [a for a in answers if a[0] == "S-1001"] == [
        ("S-1001", "staff_friendly", 4.0),
        ("S-1001", "waiting_time", 5.0),
    ]
    assert [a for a in answers if a[0] == "S-1002"] == [("S-1002", "waiting_time", 3.0)]
