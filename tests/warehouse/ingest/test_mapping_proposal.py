"""The mapping proposal: NPS, CSAT, CES, driver items with declared scales, comment, ids, attributes."""

from __future__ import annotations

from pathlib import Path

from cxloop.warehouse.ingest.exports import open_export, propose_mapping
from cxloop.warehouse.ingest.mapping import ColumnMapping
from support.export_samples import (
    SURVEYMONKEY_SUB,
    SURVEYMONKEY_TOP,
    TYPEFORM_HEADER,
    qualtrics_numeric_rows,
    qualtrics_rows_table,
    qualtrics_text_rows,
    surveymonkey_rows,
    typeform_rows,
    write_export,
)


def proposal_for(path: Path, **kwargs):
    source = open_export(path)
    return propose_mapping(source.layout, source.sample, **kwargs)


def test_qualtrics_numeric_export(tmp_path: Path) -> None:
    proposal = proposal_for(write_export(tmp_path / "q.csv", qualtrics_rows_table(qualtrics_numeric_rows())))
    mapping = proposal.mapping
    assert mapping["columns"] == {
        "response_id": "ResponseId",
        "submitted_at": "RecordedDate",
        "customer_id": "ExternalReference",
        "unit_id": "branch",
        "nps": "Q1",  # 0-10 and "recommend", despite one typing error (12) among the answers
        "csat": "Q3",
        "comment": "Q5",
    }
    items = mapping["items"]
    assert items["the_staff_were_friendly"] == {"column": "Q2_1", "scale": [1, 5]}
    assert items["waiting_time_was_acceptable"] == {"column": "Q2_2", "scale": [1, 5]}
    # Non-canonical scales are declared as the item's own scale, not rescaled
    assert items["q6"] == {"column": "Q6", "scale": [0, 10]}
    assert items["q7"] == {"column": "Q7", "scale": [1, 10]}
    assert any("Q7 is a satisfaction question on 1-10" in n and "not rescaled" in n for n in proposal.notes)
    assert mapping["timezone"] == "America/Denver" and mapping["missing_values"] == ["-99"]
    assert {"tier", "Q5 - Topics", "Q5 - Sentiment", "Q4", "Q4_3_TEXT", "Status"} <= set(proposal.attributes)
    assert "IPAddress" not in proposal.attributes and "RecipientEmail" not in proposal.attributes
    roles = {c.column: c.role for c in proposal.columns}
    assert roles["IPAddress"] == "ignored" and roles["Q4"] == "attribute"  # a choice, not a rating
    assert proposal.missing == ()
    ColumnMapping.from_dict(mapping)  # an ordinary, valid mapping file


def test_qualtrics_choice_text_export_maps_labels_to_positions(tmp_path: Path) -> None:
    proposal = proposal_for(write_export(tmp_path / "q.csv", qualtrics_rows_table(qualtrics_text_rows())))
    mapping = proposal.mapping
    assert mapping["columns"]["nps"] == "Q1" and mapping["columns"]["csat"] == "Q3"
    assert mapping["values"]["nps"]["0 - not at all likely"] == 0
    assert mapping["values"]["nps"]["10 - extremely likely"] == 10
    assert mapping["values"]["csat"]["very satisfied"] == 5 and mapping["values"]["csat"]["dissatisfied"] == 2
    staff = mapping["items"]["the_staff_were_friendly"]
    assert staff["scale"] == [1, 5]
    assert staff["labels"]["strongly disagree"] == 1 and staff["labels"]["strongly agree"] == 5
    assert staff["labels"]["neither agree nor disagree"] == 3 and staff["labels"]["not applicable"] is None


def test_unit_option_and_missing_unit(tmp_path: Path) -> None:
    rows = [[*r[:8], "", *r[9:]] for r in surveymonkey_rows()]  # no branch values
    path = write_export(tmp_path / "sm.csv", [SURVEYMONKEY_TOP, SURVEYMONKEY_SUB, *rows])
    without = proposal_for(path)
    assert without.missing == ("unit_id",) and any("--unit" in n for n in without.notes)
    with_unit = proposal_for(path, unit="b01")
    assert with_unit.missing == () and with_unit.mapping["constants"]["unit_id"] == "b01"


def test_effort_and_agreement_with_an_easy_statement_is_reversed(tmp_path: Path) -> None:
    typeform = proposal_for(write_export(tmp_path / "tf.csv", [TYPEFORM_HEADER, *typeform_rows()]))
    assert typeform.mapping["columns"]["ces"].startswith("How much effort")
    assert typeform.mapping["columns"]["customer_id"] == "customer_id"
    header = ["#", "The company made it easy for me to handle my issue.", "branch", "Submit Date (UTC)"]
    rows = [
        ["t1", "Strongly agree", "b01", "2024-05-02 10:00:00"],
        ["t2", "Somewhat disagree", "b01", "2024-05-02 11:00:00"],
        ["t3", "Agree", "b01", "2024-05-02 12:00:00"],
    ]
    proposal = proposal_for(write_export(tmp_path / "ces.csv", [header, *rows]))
    assert proposal.mapping["columns"]["ces"] == header[1]
    labels = proposal.mapping["values"]["ces"]
    assert labels["strongly agree"] == 1 and labels["strongly disagree"] == 7 and labels["agree"] == 2


def _google(tmp_path: Path, header: list[str], rows: list[list[str]]) -> Path:
    return write_export(tmp_path / "gf.csv", [["Timestamp", *header], *rows])


def _stamp(i: int) -> str:
    return f"2024/05/{1 + i % 28:02d} 10:15:03 AM GMT+2"


def test_a_single_0_10_rating_question_is_proposed_as_the_nps_type_score(tmp_path: Path) -> None:
    """Issue 21: Google Forms' "On a scale of 0-10, how would you rate ...?" was a driver item."""
    header = ["On a scale of 0-10, how would you rate our shop overall?", "Branch", "Why?"]
    rows = [[_stamp(i), str(i % 11), "b01", f"because {i}"] for i in range(30)]
    proposal = proposal_for(_google(tmp_path, header, rows))
    assert proposal.mapping["columns"]["nps"] == header[0]
    [nps] = [c for c in proposal.columns if c.role == "nps"]
    assert "CONFIRM" in nps.reason
    assert any("proposed as the NPS-type score" in note for note in proposal.notes)
    assert "items" not in proposal.mapping


def test_items_with_a_shared_wording_get_readable_distinct_ids(tmp_path: Path) -> None:
    header = [
        "On a scale of 0-10, how would you rate the cleanliness of the store?",
        "On a scale of 0-10, how would you rate the friendliness of the staff?",
        "How likely are you to recommend us to a friend?",
        "Branch",
    ]
    rows = [[_stamp(i), str(i % 11), str((i * 3) % 11), str((i * 7) % 11), "b01"] for i in range(30)]
    proposal = proposal_for(_google(tmp_path, header, rows))
    assert proposal.mapping["columns"]["nps"] == header[2]
    assert set(proposal.mapping["items"]) == {"cleanliness_store", "friendliness_staff"}
    assert not any(name.endswith(("_th", "_2")) for name in proposal.mapping["items"])


def test_counts_and_derived_nps_groups_are_not_items(tmp_path: Path) -> None:
    """Issue 21: a Qualtrics count question (days a week, 0-7) was proposed as a 0-10 rating, and
    `Q1_NPS_GROUP` as a driver item."""
    header = ["StartDate", "EndDate", "ResponseId", "Q1", "Q1_NPS_GROUP", "Q2", "Q3", "branch"]
    questions = [
        "Start Date", "End Date", "Response ID", "How likely are you to recommend us?", "Q1 - Group",
        "How many days a week do you shop with us?", "How would you rate the checkout? (1-5)", "branch",
    ]  # fmt: skip
    rows = [
        ["2024-01-15 09:30:00", "2024-01-15 09:31:10", f"R_{i}", str(i % 11),
         str(1 + (i % 11 > 6) + (i % 11 > 8)), str(i % 8), str(1 + i % 5), "b01"]
        for i in range(40)
    ]  # fmt: skip
    proposal = proposal_for(write_export(tmp_path / "q.csv", [header, questions, *rows]))
    roles = {c.column: c.role for c in proposal.columns}
    assert roles["Q1"] == "nps" and roles["Q3"] == "item"
    assert roles["Q2"] == "attribute" and roles["Q1_NPS_GROUP"] == "attribute"
    assert [item["column"] for item in proposal.mapping["items"].values()] == ["Q3"]
