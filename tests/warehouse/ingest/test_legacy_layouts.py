"""Issue 21: older survey-tool layouts are recognised, and a file that is no export is told what to do once.

* SurveyMonkey exports before 2015 wrote ``RespondentID, CollectorID, StartDate, EndDate, IP Address, Email
  Address, FirstName, LastName, CustomData`` and were saved by Excel in Windows-1252;
* Qualtrics' "legacy" export format had ``V1 ... V10`` ids over ``ResponseID, ResponseSet, Name,
  ExternalDataReference, EmailAddress, IPAddress, Status, StartDate, EndDate, Finished``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from cxloop.warehouse.ingest.exports import open_export
from cxloop.warehouse.ingest.readers import SourceError

SM_2014 = [
    ["RespondentID", "CollectorID", "StartDate", "EndDate", "IP Address", "Email Address", "FirstName",
     "LastName", "CustomData", "How likely is it that you would recommend Café Lumière to a friend?",
     "Votre avis ?"],
    ["", "", "", "", "", "", "", "", "", "Response", "Open-Ended Response"],
    ["3412345678", "51234567", "05/02/2014 10:15:03", "05/13/2014 10:19:40", "1.2.3.4", "", "", "", "b01",
     "9", "Très bien, à bientôt – merci"],
    ["3412345679", "51234567", "05/14/2014 16:01:00", "05/14/2014 16:05:10", "1.2.3.5", "", "", "", "b01",
     "4", "Déçu"],
]  # fmt: skip

QUALTRICS_LEGACY = [
    ["V1", "V2", "V3", "V4", "V5", "V6", "V7", "V8", "V9", "V10", "Q1", "Q2", "Q3"],
    ["ResponseID", "ResponseSet", "Name", "ExternalDataReference", "EmailAddress", "IPAddress", "Status",
     "StartDate", "EndDate", "Finished", "How likely are you to recommend us to a friend or colleague?",
     "Overall how satisfied were you?", "Anything else?"],
    ["R_1a2B", "Default Response Set", "Doe, Jane", "c0001", "jane@example.com", "1.2.3.4", "0",
     "2015-03-02 10:00:00", "2015-03-02 10:05:00", "1", "10", "5", "Great"],
    ["R_3c4D", "Default Response Set", "", "", "", "1.2.3.5", "1", "2015-03-03 11:00:00",
     "2015-03-03 11:02:00", "1", "3", "2", "Preview"],
]  # fmt: skip


def _write(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


@pytest.mark.parametrize("tool", ["auto", "surveymonkey"])
def test_a_2014_surveymonkey_export_in_windows_1252(tmp_path: Path, tool: str) -> None:
    source = open_export(_write(tmp_path / "sm.csv", SM_2014, "cp1252"), tool)
    layout = source.layout
    assert (layout.tool, layout.response_id, layout.submitted_at) == (
        "surveymonkey",
        "RespondentID",
        "EndDate",
    )
    assert layout.date_columns == ("StartDate", "EndDate")
    roles = {c.name: c.role for c in layout.columns}
    assert roles["FirstName"] == roles["LastName"] == roles["IP Address"] == "pii"
    assert roles["CollectorID"] == "meta" and roles["CustomData"] == "embedded"
    [batch] = list(source.batches(10))
    rows = batch.table.to_pylist()
    assert rows[0]["Votre avis ?"] == "Très bien, à bientôt – merci" and rows[1]["Votre avis ?"] == "Déçu"
    assert rows[0]["EndDate"] == "2014-05-13T10:19:40"  # a day above 12 settles month first
    assert any("Windows-1252" in note or "Latin-1" in note for note in source.notes())


@pytest.mark.parametrize("tool", ["auto", "qualtrics"])
def test_a_qualtrics_legacy_v1_export(tmp_path: Path, tool: str) -> None:
    source = open_export(_write(tmp_path / "q.csv", QUALTRICS_LEGACY), tool)
    layout = source.layout
    assert (layout.tool, layout.header_rows, layout.response_id) == ("qualtrics", 2, "ResponseId")
    assert layout.submitted_at == "EndDate" and layout.status_column == "Status"
    roles = {c.name: c.role for c in layout.columns}
    assert roles["Name"] == roles["EmailAddress"] == roles["IPAddress"] == "pii"
    assert roles["Q1"] == "question" and roles["ResponseSet"] == "meta"
    assert layout.column("Q1").question.startswith("How likely are you to recommend")
    [batch] = list(source.batches(10))
    assert batch.table.column("ResponseId").to_pylist() == ["R_1a2B"]  # status 1: a preview, left out
    assert source.excluded == {"Survey Preview": 1}


def test_no_message_sends_the_user_back_and_forth(tmp_path: Path) -> None:
    """Issue 21: `--from auto` said to name the tool, `--from surveymonkey` said to use --from auto."""
    plain = _write(tmp_path / "plain.csv", [["id", "score"], ["1", "9"]])
    with pytest.raises(SourceError) as auto:
        open_export(plain, "auto")
    with pytest.raises(SourceError) as named:
        open_export(plain, "surveymonkey")
    for message in (str(auto.value), str(named.value)):
        assert "--from" not in message and "--mapping" in message
    assert "Respondent ID and Collector ID" in str(named.value)
