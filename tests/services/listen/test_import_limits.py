"""Every id and text column has a ceiling: a longer value rejects its row (quarantined with file, row, column
and reason; the rows around it are kept), in a file import and in a posted batch alike, and a request with
more responses than ``CXLOOP_MAX_ROWS_PER_REQUEST`` is refused whole."""

from __future__ import annotations

import pytest

from cxloop.config import Settings
from cxloop.services.listen.imports import import_file
from cxloop.services.listen.realtime import TooManyResponses, ingest_responses
from cxloop.store.db import engine_for
from cxloop.warehouse.connection import connect as connect_warehouse
from cxloop.warehouse.ingest.kinds import COMMENT_CHARS, KINDS
from support.import_helpers import read_quarantine, response_row, table_rows


def test_the_comment_ceiling_defaults_to_the_kinds_own() -> None:
    default = Settings.model_fields["max_comment_chars"].default
    assert default == COMMENT_CHARS == KINDS["responses"].column("comment").max_chars


def test_every_id_and_text_column_has_a_ceiling() -> None:
    for spec in KINDS.values():
        for column in spec.columns:
            if column.type in ("id", "text"):
                assert column.max_chars is not None, f"{spec.kind}.{column.name}"


def test_an_over_long_comment_quarantines_its_row_and_keeps_the_others(org, responses_csv) -> None:
    settings = org.model_copy(update={"max_comment_chars": 50})
    long_comment = "x" * 51
    path = responses_csv(
        [
            response_row(1, comment="y" * 50),  # at the ceiling: kept
            response_row(2, comment=long_comment),
            response_row(3),
        ]
    )
    summary = import_file("responses", path, settings=settings)

    assert (summary.accepted, summary.rejected, summary.exit_code) == (2, 1, 1)
    [bad] = read_quarantine(summary.quarantine)
    reason = "too long: 51 characters, at most 50"
    assert (bad["file"], bad["row"], bad["column"], bad["reason"]) == (str(path), "2", "comment", reason)
    assert bad["comment"] == long_comment
    assert [r[0] for r in table_rows(settings, "responses")] == ["r0001", "r0003"]


@pytest.mark.parametrize(
    ("column", "limit"),
    [("response_id", 128), ("customer_id", 128), ("touchpoint", 64), ("channel", 64)],
)
def test_an_over_long_id_or_text_is_a_row_problem(org, responses_csv, column: str, limit: int) -> None:
    value = "é" * (limit + 1)  # characters, not bytes
    path = responses_csv([response_row(1, **{column: value}), response_row(2, **{column: "é" * limit})])
    summary = import_file("responses", path, settings=org)

    [bad] = read_quarantine(summary.quarantine)
    assert bad["row"] == "1" and bad["column"].split("; ")[0] == column
    assert bad["reason"].split("; ")[0] == f"too long: {limit + 1} characters, at most {limit}"
    assert summary.rejected == 1 and summary.rows == 2


def test_over_long_unit_ids_and_names_reject_their_units(settings, tmp_path) -> None:
    units = tmp_path / "units.csv"
    rows = f"bank,,Bank,company\nb01,bank,{'n' * 201},branch\n{'u' * 65},bank,Branch,branch\n"
    units.write_text("unit_id,parent_id,name,level\n" + rows, encoding="utf-8")
    summary = import_file("units", units, settings=settings)
    assert (summary.accepted, summary.rejected) == (1, 2)
    assert [(p["row"], p["column"], p["reason"]) for p in summary.problems] == [
        (2, "name", "too long: 201 characters, at most 200"),
        (3, "unit_id", "too long: 65 characters, at most 64"),
    ]


def _post(settings: Settings, records: list[dict]):
    engine = engine_for(settings)
    con = connect_warehouse(settings)
    try:
        return ingest_responses(records, settings=settings, engine=engine, con=con, after_store=())
    finally:
        con.disconnect()
        engine.dispose()


def _record(i: int, **changes) -> dict:
    record = {"response_id": f"p{i}", "submitted_at": "2024-05-02T10:00:00Z", "unit_id": "b01", "nps": 9}
    return {**record, **changes}


def test_a_posted_over_long_comment_is_rejected_with_its_column_and_ceiling(org) -> None:
    result = _post(org, [_record(1, comment="z" * (org.max_comment_chars + 1)), _record(2, comment="fine")])
    assert (result.accepted, result.rejected) == (1, 1)
    [problem] = result.problems
    assert (problem.row, problem.column, problem.response_id) == (1, "comment", "p1")
    assert problem.reason == f"too long: {org.max_comment_chars + 1:,} characters, at most 20,000"
    assert [r[0] for r in table_rows(org, "responses")] == ["p2"]


def test_more_responses_than_the_ceiling_are_refused_whole(org) -> None:
    settings = org.model_copy(update={"max_rows_per_request": 3})
    with pytest.raises(TooManyResponses, match=r"4, at most 3 \(CXLOOP_MAX_ROWS_PER_REQUEST\)"):
        _post(settings, [_record(i) for i in range(4)])
    assert table_rows(settings, "responses") == []
    assert _post(settings, [_record(i) for i in range(3)]).accepted == 3
