"""``cxloop import responses FILE --from ...``: survey-tool exports end to end into a temporary warehouse."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from cxloop.cli import app
from support.export_samples import (
    GOOGLE_HEADER,
    SURVEYMONKEY_SUB,
    SURVEYMONKEY_TOP,
    TYPEFORM_HEADER,
    UNITS_CSV,
    google_rows,
    qualtrics_numeric_rows,
    qualtrics_row,
    qualtrics_rows_table,
    qualtrics_text_rows,
    surveymonkey_rows,
    typeform_rows,
    write_export,
    write_xlsx,
)


@pytest.fixture
def cli(tmp_path: Path):
    runner = CliRunner()
    env = {"CXLOOP_DATA_DIR": str(tmp_path / "data"), "CXLOOP_ENVIRONMENT": "development", "COLUMNS": "220"}

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(app, ["import", *args], env=env, input=input)

    units = tmp_path / "units.csv"
    units.write_text(UNITS_CSV, encoding="utf-8")
    assert invoke("units", str(units), "--quiet").exit_code == 0
    return invoke


def warehouse(tmp_path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def run_json(cli, *args: str) -> dict:
    result = cli("responses", *args, "--json")
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


def test_qualtrics_export_end_to_end(cli, tmp_path: Path) -> None:
    path = write_export(tmp_path / "export.csv", qualtrics_rows_table(qualtrics_numeric_rows()))
    summary = run_json(cli, str(path), "--from", "auto", "--yes")
    assert summary["detected_format"] == "qualtrics" and summary["format"] == "qualtrics"
    assert (summary["accepted"], summary["rejected"], summary["duplicates"]) == (3, 1, 0)
    assert summary["exit_code"] == 1
    assert any("2 preview/test/spam response(s) excluded" in n for n in summary["notes"])
    assert summary["problems"] == [
        {
            "file": str(path),
            "row": 5,
            "column": "Q1",
            "reason": "out of range: nps must be 0 to 10, whole numbers",
        }
    ]
    with open(summary["quarantine"], encoding="utf-8", newline="") as handle:
        quarantined = list(csv.DictReader(handle))
    assert [(q["row"], q["column"], q["ResponseId"], q["Q1"]) for q in quarantined] == [
        ("5", "Q1", "R_5", "12")
    ]
    rows = warehouse(
        tmp_path,
        "SELECT response_id, submitted_at, unit_id, customer_id, nps, csat, comment, survey_id "
        "FROM responses ORDER BY 1",
    )
    assert rows == [
        # Denver is UTC-7 in January and UTC-6 in July
        (
            "R_1",
            datetime(2024, 1, 15, 16, 30),
            "b01",
            "c001",
            9.0,
            5.0,
            "Friendly staff, très bien",
            summary_survey(summary),
        ),
        ("R_2", datetime(2024, 7, 15, 23, 5), "b02", None, 3.0, 2.0, None, summary_survey(summary)),
        ("R_6", datetime(2024, 7, 17, 16, 0), "b01", None, 10.0, 4.0, None, summary_survey(summary)),
    ]
    answers = dict(
        ((r, i), v) for r, i, v in warehouse(tmp_path, "SELECT response_id, item, value FROM answers")
    )
    assert answers[("R_1", "the_staff_were_friendly")] == 4.0
    assert ("R_2", "waiting_time_was_acceptable") not in answers  # -99: seen, not answered
    assert answers[("R_6", "q7")] == 10.0 and answers[("R_6", "q6")] == 0.0
    scales = catalogue_scales(tmp_path)
    assert scales["q7"] == (1.0, 10.0) and scales["q6"] == (0.0, 10.0)
    attributes = dict(((r, n), v) for r, n, v in warehouse(tmp_path, "SELECT * FROM response_attributes"))
    assert attributes[("R_1", "tier")] == "gold"
    assert (
        attributes[("R_1", "Q5 - Topics")] == "Staff" and attributes[("R_1", "Q5 - Sentiment")] == "Positive"
    )
    assert attributes[("R_2", "Q4_3_TEXT")] == "Radio"
    assert not [k for k in attributes if k[0] == "R_5"]  # a rejected response keeps no attributes
    assert summary["attributes"] == len(attributes)
    saved = Path(summary["mapping"])
    assert saved.parent == tmp_path / "data" / "mappings" and saved.name.startswith("qualtrics-")
    assert yaml.safe_load(saved.read_text(encoding="utf-8"))["columns"]["nps"] == "Q1"


def summary_survey(summary: dict) -> str:
    return Path(summary["mapping"]).stem


def catalogue_scales(tmp_path: Path) -> dict[str, tuple[float, float]]:
    from cxloop.config import Settings
    from cxloop.store import catalog
    from cxloop.store.db import engine_for, session_scope

    engine = engine_for(Settings(data_dir=tmp_path / "data"))
    try:
        with session_scope(engine) as session:
            return catalog.item_scales(session)
    finally:
        engine.dispose()


def test_re_importing_an_updated_export_adds_only_the_new_responses(cli, tmp_path: Path) -> None:
    first = write_export(tmp_path / "export.csv", qualtrics_rows_table(qualtrics_numeric_rows()))
    run_json(cli, str(first), "--from", "qualtrics", "--yes")
    updated_rows = [
        *qualtrics_numeric_rows(),
        qualtrics_row("R_7", "2024-08-01 12:00:00", nps="7", tier="silver"),
    ]
    updated = write_export(tmp_path / "export-august.csv", qualtrics_rows_table(updated_rows))
    summary = run_json(cli, str(updated), "--from", "qualtrics")  # no --yes: the saved mapping is reused
    assert summary["mapping_reused"] is True
    assert (summary["accepted"], summary["duplicates"], summary["rejected"]) == (1, 3, 1)
    assert warehouse(tmp_path, "SELECT count(*) FROM responses") == [(4,)]
    assert warehouse(
        tmp_path, "SELECT value FROM response_attributes WHERE response_id = 'R_7' AND name = 'tier'"
    ) == [("silver",)]
    again = run_json(cli, str(updated), "--from", "qualtrics")
    assert (again["accepted"], again["duplicates"], again["attributes"]) == (0, 4, 0)


def test_first_import_for_a_script_needs_yes_and_the_saved_mapping_can_be_edited(cli, tmp_path: Path) -> None:
    path = write_export(tmp_path / "export.csv", qualtrics_rows_table(qualtrics_numeric_rows()))
    result = cli("responses", str(path), "--from", "qualtrics", "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)
    assert "--yes" in error["error"] and error["accepted"] == 0
    saved = next((tmp_path / "data" / "mappings").glob("qualtrics-*.yaml"))
    mapping = yaml.safe_load(saved.read_text(encoding="utf-8"))
    mapping["constants"]["touchpoint"] = "branch_visit"  # the person edits the proposal
    saved.write_text(yaml.safe_dump(mapping), encoding="utf-8")
    summary = run_json(cli, str(path), "--from", "qualtrics")
    assert summary["accepted"] == 3 and summary["new_touchpoints"] == ["branch_visit"]


def test_interactive_first_import_shows_the_mapping_and_asks(cli, tmp_path: Path, monkeypatch) -> None:
    path = write_export(tmp_path / "export.csv", qualtrics_rows_table(qualtrics_text_rows()))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    declined = cli("responses", str(path), "--from", "auto", input="n\n")
    assert declined.exit_code == 2 and "detected Qualtrics export" in declined.stdout
    assert "NPS" in declined.stdout and "item the_staff_were_friendly" in declined.stdout
    assert warehouse(tmp_path, "SELECT count(*) FROM responses") == [(0,)]
    accepted = cli("responses", str(path), "--from", "auto", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    rows = warehouse(tmp_path, "SELECT response_id, nps, csat FROM responses ORDER BY 1")
    assert rows == [("R_1", 9.0, 5.0), ("R_2", 0.0, 2.0), ("R_4", 10.0, 3.0)]
    staff = warehouse(
        tmp_path, "SELECT response_id, value FROM answers WHERE item = 'the_staff_were_friendly' ORDER BY 1"
    )
    assert staff == [("R_1", 4.0), ("R_2", 1.0), ("R_4", 2.0)]


def test_surveymonkey_cp1252_with_one_unit(cli, tmp_path: Path) -> None:
    rows = [[*r[:8], "", *r[9:]] for r in surveymonkey_rows()]
    path = write_export(tmp_path / "sm.csv", [SURVEYMONKEY_TOP, SURVEYMONKEY_SUB, *rows], "cp1252")
    missing = cli("responses", str(path), "--from", "surveymonkey", "--yes", "--json")
    assert missing.exit_code == 2 and "--unit" in json.loads(missing.stdout)["error"]
    summary = run_json(cli, str(path), "--from", "surveymonkey", "--yes", "--unit", "b02")
    assert summary["detected_format"] == "surveymonkey" and summary["accepted"] == 3
    assert any("Windows-1252" in n for n in summary["notes"])
    rows = warehouse(
        tmp_path, "SELECT response_id, submitted_at, unit_id, nps, csat, comment FROM responses ORDER BY 1"
    )
    assert rows[0] == ("114227583470", datetime(2024, 5, 2, 10, 19, 40), "b02", 9.0, 5.0, "Très bien – merci")
    options = warehouse(
        tmp_path,
        "SELECT response_id, value FROM response_attributes "
        "WHERE name = 'Which of our services did you use? | Website' ORDER BY 1",
    )
    assert options == [("114227583471", "Website"), ("114227583472", "Website")]


def test_google_forms_with_bom_and_typeform_in_utf16(cli, tmp_path: Path) -> None:
    google = write_export(tmp_path / "gf.csv", [GOOGLE_HEADER, *google_rows()], "utf-8-sig")
    summary = run_json(cli, str(google), "--from", "auto", "--yes")
    assert (summary["detected_format"], summary["accepted"]) == ("googleforms", 3)
    assert warehouse(tmp_path, "SELECT min(submitted_at) FROM responses") == [
        (datetime(2024, 5, 2, 8, 15, 3),)
    ]
    typeform = write_export(tmp_path / "tf.csv", [TYPEFORM_HEADER, *typeform_rows()], "utf-16")
    summary = run_json(cli, str(typeform), "--from", "typeform", "--yes")
    assert (summary["detected_format"], summary["accepted"]) == ("typeform", 2)
    assert warehouse(tmp_path, "SELECT ces, customer_id FROM responses WHERE response_id = 'f6g7h8i9j0'") == [
        (6.0, "c002")
    ]


def test_qualtrics_xlsx_and_mac_roman(cli, tmp_path: Path) -> None:
    table = qualtrics_rows_table(qualtrics_numeric_rows())
    cells: list[list[object]] = [list(r) for r in table]
    cells[3][7] = datetime(2024, 1, 15, 9, 30)
    summary = run_json(cli, str(write_xlsx(tmp_path / "export.xlsx", cells)), "--from", "auto", "--yes")
    assert (summary["detected_format"], summary["accepted"], summary["rejected"]) == ("qualtrics", 3, 1)
    assert warehouse(tmp_path, "SELECT submitted_at FROM responses WHERE response_id = 'R_1'") == [
        (datetime(2024, 1, 15, 16, 30),)
    ]
    mac = write_export(
        tmp_path / "mac.csv",
        [GOOGLE_HEADER, ["2024/06/02 10:00:00 AM GMT+0", "", "8", "4", "4", "4", "Café agréable", "b01"]],
        "mac_roman",
    )
    summary = run_json(cli, str(mac), "--from", "googleforms", "--yes")
    assert any("Mac Roman" in n for n in summary["notes"])
    assert warehouse(
        tmp_path, "SELECT comment FROM responses WHERE submitted_at = '2024-06-02 10:00:00'"
    ) == [("Café agréable",)]


def test_plain_files_are_unchanged_and_export_options_need_from(cli, tmp_path: Path) -> None:
    plain = tmp_path / "r.csv"
    plain.write_text("response_id,submitted_at,unit_id,nps\nr1,2024-05-01,b01,9\n", encoding="utf-8")
    summary = run_json(cli, str(plain))
    assert summary["accepted"] == 1 and "detected_format" not in summary
    assert cli("responses", str(plain), "--unit", "b01").exit_code == 2
    not_export = cli("responses", str(plain), "--from", "auto", "--json")
    assert not_export.exit_code == 2 and "does not look like" in json.loads(not_export.stdout)["error"]


def _with_column(table: list[list[str]], name: str, question: str, value: str) -> list[list[str]]:
    import_id = '{"ImportId":"QID' + name[1:] + '"}'
    return [
        [*table[0], name],
        [*table[1], question],
        [*table[2], import_id],
        *[[*row, value] for row in table[3:]],
    ]


def test_a_survey_that_gained_a_question_reuses_its_mapping(cli, tmp_path: Path) -> None:
    first = write_export(tmp_path / "export.csv", qualtrics_rows_table(qualtrics_numeric_rows()))
    run_json(cli, str(first), "--from", "qualtrics", "--yes")
    later_rows = [*qualtrics_numeric_rows(), qualtrics_row("R_7", "2024-08-01 12:00:00")]
    grown = _with_column(qualtrics_rows_table(later_rows), "Q8", "How was the parking?", "4")
    summary = run_json(cli, str(write_export(tmp_path / "grown.csv", grown)), "--from", "qualtrics")
    assert summary["mapping_reused"] is True and (summary["accepted"], summary["duplicates"]) == (1, 3)
    assert any("new column(s) since its mapping was saved: Q8" in n for n in summary["notes"])
    # Another survey with the same question ids but other wording is not taken for this one
    other = qualtrics_rows_table(qualtrics_numeric_rows())
    other[1] = [text.replace("Demo Bank", "Other Co") for text in other[1]]
    result = cli(
        "responses", str(write_export(tmp_path / "other.csv", other)), "--from", "qualtrics", "--json"
    )
    assert result.exit_code == 2 and "first import of this survey" in json.loads(result.stdout)["error"]
