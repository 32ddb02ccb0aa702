"""The export readers: each tool's header rows, column roles, dates, encodings and .xlsx."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from cxloop.warehouse.ingest.exports import open_export
from cxloop.warehouse.ingest.exports._dates import guess_date_order, normalise_timestamp
from cxloop.warehouse.ingest.exports._rows import decide_encoding
from cxloop.warehouse.ingest.readers import SourceError
from support.export_samples import (
    GOOGLE_HEADER,
    SURVEYMONKEY_SUB,
    SURVEYMONKEY_TOP,
    TYPEFORM_HEADER,
    google_rows,
    qualtrics_numeric_rows,
    qualtrics_rows_table,
    surveymonkey_rows,
    typeform_rows,
    write_export,
    write_xlsx,
)


def read_all(source) -> tuple[list[dict], list[int], list]:
    rows, numbers, malformed = [], [], []
    for batch in source.batches(2):
        rows += batch.table.to_pylist()
        numbers += batch.rows.tolist()
        malformed += batch.malformed
    return rows, numbers, malformed


def test_qualtrics_three_header_rows_roles_time_zone_and_preview_rows(tmp_path: Path) -> None:
    path = write_export(tmp_path / "q.csv", qualtrics_rows_table(qualtrics_numeric_rows()))
    source = open_export(path)
    layout = source.layout
    assert (layout.tool, layout.header_rows, layout.timezone) == ("qualtrics", 3, "America/Denver")
    assert layout.response_id == "ResponseId" and layout.submitted_at == "RecordedDate"
    roles = {c.name: c.role for c in layout.columns}
    assert roles["Q2_1"] == roles["Q2_2"] == "question"  # matrix sub-questions
    assert roles["Q4_3_TEXT"] == "text"
    assert roles["branch"] == roles["tier"] == "embedded"
    assert roles["Q5 - Topics"] == roles["Q5 - Sentiment"] == "analytics"
    assert roles["IPAddress"] == roles["RecipientEmail"] == "pii"
    assert layout.column("Q2_1").question.endswith("- The staff were friendly")
    rows, numbers, malformed = read_all(source)
    # R_3 (Survey Preview) and R_4 (Spam) are left out and counted; row numbers stay those of the file
    assert [r["ResponseId"] for r in rows] == ["R_1", "R_2", "R_5", "R_6"]
    assert numbers == [1, 2, 5, 6] and malformed == []
    assert source.excluded == {"Survey Preview": 1, "Spam": 1}
    assert any("2 preview/test/spam" in note for note in source.notes())
    assert rows[0]["RecordedDate"] == "2024-01-15 09:30:00"  # ISO already; the zone is applied by the mapping


def test_qualtrics_preview_rows_kept_when_asked(tmp_path: Path) -> None:
    path = write_export(tmp_path / "q.csv", qualtrics_rows_table(qualtrics_numeric_rows()))
    rows, _, _ = read_all(open_export(path, "qualtrics", include_excluded=True))
    assert len(rows) == 6


def test_surveymonkey_two_header_rows_and_blank_multi_select_headers(tmp_path: Path) -> None:
    path = write_export(tmp_path / "sm.csv", [SURVEYMONKEY_TOP, SURVEYMONKEY_SUB, *surveymonkey_rows()])
    source = open_export(path)
    layout = source.layout
    assert (layout.tool, layout.header_rows) == ("surveymonkey", 2)
    roles = {c.name: c.role for c in layout.columns}
    options = [n for n, r in roles.items() if r == "option"]
    assert options == [
        "Which of our services did you use? | Mobile app",
        "Which of our services did you use? | Website",
        "Which of our services did you use? | Branch",
    ]
    assert roles["Please rate the following. | The staff were friendly"] == "question"
    assert roles["Any other comments?"] == "text"
    assert layout.response_id == "Respondent ID" and layout.submitted_at == "End Date"
    rows, numbers, _ = read_all(source)
    assert numbers == [1, 2, 3]
    assert rows[1]["End Date"] == "2024-05-13T16:05:10"  # 04:05:10 PM, month first (13 settles it)
    assert rows[0]["Collector ID"] == "431234567"


def test_google_forms_offsets_and_a_derived_response_id(tmp_path: Path) -> None:
    path = write_export(tmp_path / "gf.csv", [GOOGLE_HEADER, *google_rows()], encoding="utf-8-sig")
    source = open_export(path)
    assert source.layout.tool == "googleforms"
    rows, _, _ = read_all(source)
    assert rows[0]["Timestamp"] == "2024-05-02T10:15:03+02:00"
    assert rows[1]["Timestamp"] == "2024-05-02T13:05:00+02:00"
    ids = [r["_response_id"] for r in rows]
    assert len(set(ids)) == 3 and all(i.startswith("gf-") for i in ids)
    # The same rows exported again (with a new one) get the same ids
    more = [*google_rows(), ["2024/05/04 9:00:00 AM GMT+2", "", "7", "4", "4", "4", "", "b02"]]
    again, _, _ = read_all(open_export(write_export(tmp_path / "gf2.csv", [GOOGLE_HEADER, *more])))
    assert [r["_response_id"] for r in again][:3] == ids


def test_google_sheets_day_first_dates_are_recognised(tmp_path: Path) -> None:
    rows = [
        ["15/05/2024 10:15:03", "", "9", "5", "4", "3", "", "b01"],
        ["02/06/2024 08:00:00", "", "9", "5", "4", "3", "", "b01"],
    ]
    source = open_export(write_export(tmp_path / "gf.csv", [GOOGLE_HEADER, *rows]))
    assert (source.layout.date_order, source.layout.date_order_settled) == ("dmy", True)
    read, _, _ = read_all(source)
    assert [r["Timestamp"] for r in read] == ["2024-05-15T10:15:03", "2024-06-02T08:00:00"]


def test_typeform_response_token_and_utc_dates(tmp_path: Path) -> None:
    source = open_export(write_export(tmp_path / "tf.csv", [TYPEFORM_HEADER, *typeform_rows()], "utf-16"))
    layout = source.layout
    assert (layout.tool, layout.response_id, layout.timezone) == ("typeform", "#", "UTC")
    assert source.raw.encoding.label == "UTF-16"
    rows, _, _ = read_all(source)
    assert rows[0]["#"] == "a1b2c3d4e5" and rows[0]["Submit Date (UTC)"] == "2024-05-02 10:15:03"


@pytest.mark.parametrize(
    ("encoding", "label", "legacy"),
    [
        ("utf-8", "UTF-8", False),
        ("utf-8-sig", "UTF-8 with BOM", False),
        ("utf-16", "UTF-16", False),
        ("utf-16-le", "UTF-16 LE (no BOM)", False),
        ("cp1252", "Windows-1252", True),
        ("mac_roman", "Mac Roman", True),
    ],
)
def test_encodings_are_detected_and_converted(
    tmp_path: Path, encoding: str, label: str, legacy: bool
) -> None:
    path = write_export(
        tmp_path / "sm.csv", [SURVEYMONKEY_TOP, SURVEYMONKEY_SUB, *surveymonkey_rows()], encoding
    )
    assert decide_encoding(path).label == label
    source = open_export(path)
    rows, _, _ = read_all(source)
    assert rows[0]["Any other comments?"] == "Très bien – merci"
    assert any("not UTF-8" in n and label in n for n in source.notes()) is legacy


def test_xlsx_export_reads_like_the_csv(tmp_path: Path) -> None:
    table = qualtrics_rows_table(qualtrics_numeric_rows())
    cells: list[list[object]] = [list(r) for r in table]
    cells[3][7] = datetime(2024, 1, 15, 9, 30)  # a real date cell for RecordedDate of R_1
    cells[3][13] = 9  # a number cell for Q1
    source = open_export(write_xlsx(tmp_path / "q.xlsx", cells))
    assert source.container == "xlsx" and source.layout.tool == "qualtrics"
    from_xlsx, numbers, _ = read_all(source)
    from_csv, _, _ = read_all(open_export(write_export(tmp_path / "q.csv", table)))
    assert numbers == [1, 2, 5, 6]
    assert from_xlsx == from_csv


def test_a_row_with_the_wrong_number_of_cells_is_reported(tmp_path: Path) -> None:
    rows = [*google_rows(), ["2024/05/04 9:00:00 AM GMT+2", "only", "two"]]
    _, numbers, malformed = read_all(open_export(write_export(tmp_path / "gf.csv", [GOOGLE_HEADER, *rows])))
    assert numbers == [1, 2, 3]
    assert [(m.row, m.reason) for m in malformed] == [(4, "expected 8 columns, found 3")]


def test_unknown_or_wrongly_named_exports_are_refused_with_advice(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text("response_id,submitted_at\nr1,2024-01-01\n", encoding="utf-8")
    with pytest.raises(SourceError, match="does not look like a Qualtrics.*--mapping"):
        open_export(plain)
    sm = write_export(tmp_path / "sm.csv", [SURVEYMONKEY_TOP, SURVEYMONKEY_SUB, *surveymonkey_rows()])
    with pytest.raises(
        SourceError, match="looks like a SurveyMonkey export, not Qualtrics: use --from surveymonkey"
    ):
        open_export(sm, "qualtrics")
    with pytest.raises(SourceError, match="not found"):
        open_export(tmp_path / "missing.csv")
    with pytest.raises(SourceError, match="unknown export format"):
        open_export(sm, "medallia")


def test_tool_timestamp_formats() -> None:
    assert normalise_timestamp("05/02/2024 12:05:00 AM", "mdy") == "2024-05-02T00:05:00"
    assert normalise_timestamp("05/02/2024 12:05:00 PM", "mdy") == "2024-05-02T12:05:00"
    assert normalise_timestamp("05/02/2024 10:00:00", "dmy") == "2024-02-05T10:00:00"
    assert normalise_timestamp("02.05.2024 10:00:00", "dmy") == "2024-05-02T10:00:00"
    assert normalise_timestamp("2024/05/02 10:15:03 PM GMT-5:30", "mdy") == "2024-05-02T22:15:03-05:30"
    assert normalise_timestamp("2024/05/02 10:15:03 AM GMT", "mdy") == "2024-05-02T10:15:03Z"
    assert normalise_timestamp("last tuesday", "mdy") == "last tuesday"
    assert guess_date_order(["01/02/2024", "03/04/2024"]) == ("mdy", False)
    assert guess_date_order(["01/02/2024", "03/24/2024"]) == ("mdy", True)


LEGACY_TEXTS = [
    "Très bien, café agréable, à bientôt – merci",
    "Schöne Grüße, Übersicht war gut",
    "¿Qué tal? Señor, años",
    "Café",
    "Naïve “quotes” and 5 €",
    "It’s fine",
    "Où est-il?",
]


@pytest.mark.parametrize("encoding", ["cp1252", "mac_roman"])
@pytest.mark.parametrize("text", LEGACY_TEXTS)
def test_windows_1252_and_mac_roman_are_told_apart(tmp_path: Path, encoding: str, text: str) -> None:
    path = tmp_path / "legacy.csv"
    path.write_bytes(f"Timestamp,Comment\n2024-05-02 10:00:00,{text}\n".encode(encoding))
    found = decide_encoding(path)
    (used,) = found.lines
    # a line of bytes 0xA0-0xFF only reads the same in Windows-1252 and Latin-1: counted as Latin-1
    assert used == encoding or (encoding, used) == ("cp1252", "latin-1")
    assert found.decoder()(text.encode(encoding)) == text


def test_surveymonkey_xlsx_with_blank_multi_select_headers(tmp_path: Path) -> None:
    rows = [SURVEYMONKEY_TOP, SURVEYMONKEY_SUB, *surveymonkey_rows()]
    from_xlsx, numbers, _ = read_all(open_export(write_xlsx(tmp_path / "sm.xlsx", rows)))
    from_csv, _, _ = read_all(open_export(write_export(tmp_path / "sm.csv", rows)))
    assert numbers == [1, 2, 3] and from_xlsx == from_csv
    assert from_xlsx[2]["Which of our services did you use? | Website"] == "Website"
