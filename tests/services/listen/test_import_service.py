"""import_file end to end: idempotency, warnings, batches and streaming, the mapping file, every format."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from cxloop.services.listen.imports import ImportAborted, ImportFileError, ImportProgress, import_file
from cxloop.store import catalog, import_runs
from cxloop.store.db import engine_for, session_scope
from cxloop.store.tables import ImportRun, Segment, Touchpoint
from cxloop.warehouse.write.failpoints import FailpointError
from support.import_helpers import RESPONSE_HEADER, read_quarantine, response_row, table_rows, write_csv

TABLES = (
    "responses",
    "answers",
    "customers",
    "transactions",
    "contacts",
    "subscriptions",
    "units",
    "unit_closure",
)


def snapshot(settings) -> dict[str, list[tuple]]:
    return {table: table_rows(settings, table, order="ALL") for table in TABLES}


def test_a_clean_file_is_imported_with_its_answers(org, responses_csv) -> None:
    summary = import_file("responses", responses_csv([response_row(i) for i in range(1, 9)]), settings=org)
    assert (summary.accepted, summary.rejected, summary.duplicates, summary.exit_code) == (8, 0, 0, 0)
    assert summary.quarantine is None
    rows = table_rows(org, "responses")
    assert rows[0] == (
        "r0001",
        datetime(2024, 5, 2, 10, 1),
        "b02",
        None,
        None,
        "call_centre",
        "branch",
        None,
        1.0,
        2.0,
        2.0,
        "comment 1",
    )
    answers = table_rows(org, "answers", order="response_id, item")
    # q_wait is empty in rows 4 and 8: no answer row for them
    assert len(answers) == 8 + 6
    assert ("r0004", "wait", 0.0) not in answers and ("r0003", "wait", 9.0) in answers
    assert summary.answers == 14


def test_reimporting_the_same_file_changes_nothing(org, responses_csv) -> None:
    path = responses_csv([response_row(i) for i in range(1, 21)] + [response_row(21, nps="99")])
    first = import_file("responses", path, settings=org, batch_size=7)
    before = snapshot(org)
    second = import_file("responses", path, settings=org, batch_size=7)
    assert (first.accepted, first.rejected, first.duplicates) == (20, 1, 0)
    assert (second.accepted, second.rejected, second.duplicates, second.changed) == (0, 1, 20, 0)
    assert second.exit_code == 1  # the bad row is still bad
    assert snapshot(org) == before
    clean = responses_csv([response_row(i) for i in range(1, 21)], name="clean.csv")
    third = import_file("responses", clean, settings=org)
    assert (third.accepted, third.duplicates, third.exit_code, third.warnings) == (0, 20, 0, 0)


def test_a_changed_duplicate_is_counted_and_not_overwritten(org, responses_csv) -> None:
    import_file("responses", responses_csv([response_row(1), response_row(2)]), settings=org)
    changed = responses_csv([response_row(1, nps="0"), response_row(2)], name="changed.csv")
    summary = import_file("responses", changed, settings=org)
    assert (summary.accepted, summary.duplicates, summary.changed) == (0, 2, 1)
    assert any("never overwritten" in note for note in summary.notes)
    assert table_rows(org, "responses")[0][8] == 1.0


def test_a_customer_not_imported_yet_is_kept_with_a_warning(org, responses_csv, tmp_path: Path) -> None:
    write_csv(tmp_path / "customers.csv", ["customer_id", "unit_id", "segment"], [["c1", "b01", "premium"]])
    import_file("customers", tmp_path / "customers.csv", settings=org)
    rows = [response_row(1, customer_id="c1"), response_row(2, customer_id="c2"), response_row(3)]
    summary = import_file("responses", responses_csv(rows), settings=org)
    assert (summary.accepted, summary.rejected, summary.customers_not_imported) == (3, 0, 1)
    assert summary.warnings >= 1 and summary.exit_code == 0
    assert any("customer not imported yet" in note for note in summary.notes)
    transactions = write_csv(
        tmp_path / "transactions.csv",
        ["transaction_id", "customer_id", "occurred_at", "amount"],
        [["t1", "c9", "2024-01-01", "5"], ["t2", "c1", "2024-01-01", "5"]],
    )
    summary = import_file("transactions", transactions, settings=org)
    assert (summary.accepted, summary.customers_not_imported, summary.exit_code) == (2, 1, 0)


def test_new_touchpoints_segments_and_items_are_registered(org, responses_csv) -> None:
    rows = [response_row(1), response_row(2)]
    header = [*RESPONSE_HEADER, "segment"]
    path = write_csv(responses_csv(rows).parent / "seg.csv", header, [[*r, "premium"] for r in rows])
    summary = import_file("responses", path, settings=org)
    assert sorted(summary.new_touchpoints) == ["branch_visit", "call_centre"]
    assert summary.new_segments == ("premium",) and sorted(summary.new_items) == ["staff", "wait"]
    assert any("item staff is new and has no scale" in note for note in summary.notes)
    with session_scope(engine_for(org)) as session:
        assert {t.touchpoint_id for t in session.scalars(select(Touchpoint))} == {
            "branch_visit",
            "call_centre",
        }
        assert [s.segment_id for s in session.scalars(select(Segment))] == ["premium"]
        assert catalog.item_scales(session)["staff"] == (0.0, 10.0)
    again = import_file("responses", path, settings=org)
    assert again.new_touchpoints == () and again.new_items == () and again.warnings == 0


def test_the_import_run_is_recorded(org, responses_csv) -> None:
    summary = import_file(
        "responses", responses_csv([response_row(1), response_row(2, nps="x")]), settings=org
    )
    with session_scope(engine_for(org)) as session:
        run = import_runs.get_run(session, summary.run_id)
        assert (run.kind, run.status, run.accepted, run.rejected) == ("responses", "done", 1, 1)
        assert run.quarantine_path == summary.quarantine


def test_batches_stream_with_progress(org, responses_csv) -> None:
    path = responses_csv([response_row(i) for i in range(1, 11)])
    events: list[ImportProgress] = []
    summary = import_file("responses", path, settings=org, batch_size=3, progress=events.append)
    assert summary.batches == 4 and summary.accepted == 10
    assert [e.rows for e in events] == [3, 6, 9, 10]
    assert events[-1].done == events[-1].total == path.stat().st_size
    assert len(table_rows(org, "responses")) == 10


def test_a_failure_inside_a_batch_rolls_that_batch_back(org, responses_csv, monkeypatch) -> None:
    path = responses_csv([response_row(i) for i in range(1, 11)])
    monkeypatch.setenv("CXLOOP_FAILPOINT", "import.inside_batch")
    monkeypatch.setenv("CXLOOP_FAILPOINT_ACTION", "raise")
    monkeypatch.setenv("CXLOOP_FAILPOINT_AFTER", "2")
    with pytest.raises(ImportAborted) as stopped:
        import_file("responses", path, settings=org, batch_size=4)
    assert isinstance(stopped.value.__cause__, FailpointError)
    assert stopped.value.summary.accepted == 4
    # batch 1 (rows 1-4) committed; batch 2 (rows 5-8) was written, then rolled back with its answers
    assert [r[0] for r in table_rows(org, "responses")] == [f"r{i:04d}" for i in range(1, 5)]
    assert {r[0] for r in table_rows(org, "answers")} == {f"r{i:04d}" for i in range(1, 5)}
    with session_scope(engine_for(org)) as session:
        run = session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
        assert run.status == "failed" and "stopped part-way" in run.message
    monkeypatch.delenv("CXLOOP_FAILPOINT")
    rerun = import_file("responses", path, settings=org, batch_size=4)
    assert (rerun.accepted, rerun.duplicates) == (6, 4)
    assert len(table_rows(org, "responses")) == 10


def test_units_upsert_and_mirror_the_closure(org, tmp_path: Path) -> None:
    header = ["unit_id", "parent_id", "name", "level"]
    again = import_file(
        "units",
        write_csv(tmp_path / "u1.csv", header, [["b01", "north", "Branch 01", "branch"]]),
        settings=org,
    )
    assert (again.accepted, again.duplicates, again.exit_code) == (0, 1, 0)
    moved = write_csv(
        tmp_path / "u2.csv",
        header,
        [["b01", "south", "Branch One", "branch"], ["b04", "b01", "Desk", "team"]],
    )
    summary = import_file("units", moved, settings=org)
    assert (summary.inserted, summary.updated, summary.accepted) == (1, 1, 2)
    units = {r[0]: r for r in table_rows(org, "units")}
    assert units["b01"] == ("b01", "south", "Branch One", "branch", 2)
    assert units["b04"][4] == 3
    closure = set(table_rows(org, "unit_closure"))
    assert {("b04", "b04", 0), ("b01", "b04", 1), ("south", "b04", 2), ("bank", "b04", 3)} <= closure
    assert ("north", "b01", 1) not in closure and ("south", "b01", 1) in closure
    assert len(closure) == sum(u[4] + 1 for u in units.values())


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "not found"),
        ("responses.xlsx", "x", "cannot tell the format"),
        ("empty.csv", "", "is empty"),
        ("wrong.csv", "response_id,unit_id\nr1,b01\n", "missing required column(s) submitted_at"),
        ("array.json", '[{"response_id": "r1"}]', "JSON array"),
    ],
)
def test_an_unusable_file_imports_nothing(name, content, message, org, tmp_path: Path) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    before = snapshot(org)
    with pytest.raises(ImportFileError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_file("responses", path, settings=org)
    assert snapshot(org) == before
    with session_scope(engine_for(org)) as session:
        run = session.scalars(select(ImportRun).order_by(ImportRun.id.desc())).first()
        assert run.status == "failed" and message.split("(")[0] in run.message


def test_a_bad_mapping_file_says_what_to_fix(org, responses_csv, tmp_path: Path) -> None:
    mapping = tmp_path / "m.yaml"
    mapping.write_text("columns:\n  submited_at: Date\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"\['submited_at'\] are not responses columns"):
        import_file("responses", responses_csv([response_row(1)]), settings=org, mapping=mapping)


WIDE_HEADER = [
    "Response ID",
    "Date submitted",
    "Branch",
    "Customer no.",
    "How likely are you to recommend us to a friend or colleague?",
    "Overall, how satisfied were you?",
    "The staff were friendly",
    "Waiting time was acceptable",
    "Anything else?",
    "IP address",
]

WIDE_MAPPING = """
columns:
  response_id: "Response ID"
  submitted_at: "Date submitted"
  unit_id: "Branch"
  customer_id: "Customer no."
  nps: "How likely are you to recommend us to a friend or colleague?"
  csat: "Overall, how satisfied were you?"
  comment: "Anything else?"
constants:
  touchpoint: branch_visit
  channel: branch
values:
  nps: {"0 - Not at all likely": 0, "10 - Extremely likely": 10}
  csat: {"Very dissatisfied": 1, "Dissatisfied": 2, "Neutral": 3, "Satisfied": 4, "Very satisfied": 5}
items:
  staff_friendly:
    column: "The staff were friendly"
    scale: [1, 5]
    labels:
      {"Strongly disagree": 1, "Disagree": 2, "Neither": 3, "Agree": 4, "Strongly agree": 5,
       "Not applicable": null}
  waiting_time:
    column: "Waiting time was acceptable"
    scale: [1, 5]
    labels: {"Strongly disagree": 1, "Disagree": 2, "Neither": 3, "Agree": 4, "Strongly agree": 5}
missing_values: ["N/A"]
timestamp_format: "%d/%m/%Y %H:%M"
timezone: Europe/Berlin
delimiter: ";"
decimal: ","
"""


def test_a_wide_survey_export_with_a_mapping_file(org, tmp_path: Path) -> None:
    rows = [
        [
            "S-1",
            "15/01/2024 09:30",
            "b01",
            "",
            "10 - Extremely likely",
            "Very satisfied",
            "Agree",
            "Strongly agree",
            "Great",
            "1.2.3.4",
        ],
        ["S-2", "15/07/2024 09:30", "b02", "c7", "7", "satisfied ", "Not applicable", "N/A", "", "1.2.3.5"],
        [
            "S-3",
            "31/03/2024 02:30",
            "b03",
            "",
            "0 - Not at all likely",
            "Dissatisfied",
            "strongly disagree",
            "Disagree",
            "Slow",
            "x",
        ],
        ["S-4", "15/01/2024 09:30", "b01", "", "9", "Delighted", "Agree", "Agree", "", "x"],
        ["S-5", "15/01/2024", "b01", "", "9", "4", "Agree", "Agree", "", "x"],
    ]
    path = tmp_path / "export.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(";".join(WIDE_HEADER) + "\n")
        for row in rows:
            handle.write(";".join(row) + "\n")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(WIDE_MAPPING, encoding="utf-8")
    summary = import_file("responses", path, settings=org, mapping=mapping)
    assert (summary.accepted, summary.rejected) == (3, 2)
    assert summary.ignored_columns == ("IP address",)
    responses = {r[0]: r for r in table_rows(org, "responses")}
    # Berlin is UTC+1 in January, UTC+2 in July; 02:30 on 31 March 2024 does not exist (DST) -> earliest
    assert responses["S-1"][1:3] == (datetime(2024, 1, 15, 8, 30), "b01")
    assert responses["S-2"][1] == datetime(2024, 7, 15, 7, 30)
    assert responses["S-3"][1] == datetime(2024, 3, 31, 0, 59, 59, 999999)
    assert [responses[k][8:10] for k in ("S-1", "S-2", "S-3")] == [(10.0, 5.0), (7.0, 4.0), (0.0, 2.0)]
    assert responses["S-1"][5:7] == ("branch_visit", "branch") and responses["S-2"][3] == "c7"
    answers = table_rows(org, "answers", order="response_id, item")
    assert answers == [
        ("S-1", "staff_friendly", 4.0),
        ("S-1", "waiting_time", 5.0),
        ("S-3", "staff_friendly", 1.0),
        ("S-3", "waiting_time", 2.0),
    ]
    bad = {r["row"]: r for r in read_quarantine(summary.quarantine)}
    assert bad["4"]["column"] == "Overall, how satisfied were you?"
    assert bad["4"]["reason"] == "not a number or a known answer label"
    assert bad["4"]["Overall, how satisfied were you?"] == "Delighted"
    assert bad["5"]["column"] == "Date submitted" and bad["5"]["reason"].startswith("impossible date")
    with session_scope(engine_for(org)) as session:
        assert catalog.item_scales(session)["staff_friendly"] == (1.0, 5.0)


def test_json_lines(org, tmp_path: Path) -> None:
    records = [
        {
            "response_id": "j1",
            "submitted_at": "2024-05-01T12:00:00+02:00",
            "unit_id": "b01",
            "nps": 9,
            "q_staff": 8,
        },
        {"response_id": "j2", "submitted_at": "2024-05-01 12:00", "unit_id": "b02", "nps": 10, "csat": 4.0},
        {"response_id": "j3", "submitted_at": "2024-05-01", "unit_id": "b03", "nps": "12", "q_staff": None},
    ]
    path = tmp_path / "responses.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n", encoding="utf-8")
    summary = import_file("responses", path, settings=org)
    assert (summary.accepted, summary.rejected, summary.format) == (2, 1, "jsonl")
    responses = {r[0]: r for r in table_rows(org, "responses")}
    assert responses["j1"][1] == datetime(2024, 5, 1, 10, 0) and responses["j2"][1] == datetime(
        2024, 5, 1, 12
    )
    assert responses["j2"][9] == 4.0
    assert table_rows(org, "answers") == [("j1", "staff", 8.0)]
    [bad] = read_quarantine(summary.quarantine)
    assert (bad["row"], bad["column"], bad["nps"]) == ("3", "nps", "12")


def test_parquet_with_typed_columns(org, tmp_path: Path) -> None:
    table = pa.table(
        {
            "response_id": pa.array(["p1", "p2", "p3"]).dictionary_encode(),
            "submitted_at": pa.array(
                [datetime(2024, 5, 1, 12), datetime(2024, 5, 2, 12), datetime(2024, 5, 3, 12)],
                pa.timestamp("ns", tz="UTC"),
            ),
            "unit_id": pa.array(["b01", "b02", "b01"], pa.large_string()),
            "nps": pa.array([9, 10, 11], pa.int64()),
            "ces": pa.array([1.5, None, 3.0]),
            "q_staff": pa.array([7, None, 5], pa.int8()),
        }
    )
    path = tmp_path / "responses.parquet"
    pq.write_table(table, path)
    summary = import_file("responses", path, settings=org, batch_size=2)
    assert (summary.accepted, summary.rejected, summary.format, summary.batches) == (2, 1, "parquet", 2)
    assert [r[:2] for r in table_rows(org, "responses")] == [
        ("p1", datetime(2024, 5, 1, 12)),
        ("p2", datetime(2024, 5, 2, 12)),
    ]
    assert table_rows(org, "answers") == [("p1", "staff", 7.0)]
    [bad] = read_quarantine(summary.quarantine)
    assert (bad["row"], bad["column"], bad["nps"], bad["submitted_at"]) == (
        "3",
        "nps",
        "11",
        "2024-05-03T12:00:00+00:00",
    )


def test_warehouse_can_be_passed_in(org, responses_csv) -> None:
    from cxloop.warehouse.connection import connect

    con = connect(org)
    try:
        import_file("responses", responses_csv([response_row(1)]), settings=org, warehouse=con)
        assert con.table("responses").count().execute() == 1
    finally:
        con.disconnect()
    assert duckdb  # the module-level helpers read the same file afterwards
    assert len(table_rows(org, "responses")) == 1


def test_a_corrected_quarantine_file_imports_again(org, responses_csv) -> None:
    path = responses_csv([response_row(1), response_row(2, nps="11"), response_row(3, unit_id="b99")])
    summary = import_file("responses", path, settings=org)
    quarantine = Path(summary.quarantine)
    quarantine.write_text(
        quarantine.read_text(encoding="utf-8").replace(",11,", ",10,").replace("b99", "b01")
    )
    again = import_file("responses", quarantine, settings=org)
    assert (again.accepted, again.rejected, again.ignored_columns) == (
        2,
        0,
        ("file", "row", "column", "reason"),
    )
    assert len(table_rows(org, "responses")) == 3


@pytest.mark.postgres
def test_with_a_postgresql_app_database(postgres_url, tmp_path: Path, responses_csv) -> None:
    from cxloop.config import Settings
    from support.import_helpers import UNITS_CSV

    settings = Settings(
        data_dir=tmp_path / "pg-data", database_url=postgres_url, environment="test", secret_key="t" * 40
    )
    units = tmp_path / "units.csv"
    units.write_text(UNITS_CSV, encoding="utf-8")
    assert import_file("units", units, settings=settings).accepted == 6
    path = responses_csv([response_row(1), response_row(2, unit_id="nowhere")])
    summary = import_file("responses", path, settings=settings)
    assert (summary.accepted, summary.rejected) == (1, 1)
    again = import_file("units", units, settings=settings)
    assert (again.accepted, again.duplicates) == (0, 6)
    with session_scope(engine_for(settings)) as session:
        assert import_runs.get_run(session, summary.run_id).rejected == 1
        assert set(catalog.item_scales(session)) >= {"staff", "wait", "nps"}
