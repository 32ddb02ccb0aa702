# ruff: noqa: E501 - export rows are laid out one per line, as the tools write them
"""Small survey-tool exports written by the tests, in each tool's own layout (with the awkward parts:
preview and spam rows, three and two header rows, blank multi-select headers, matrix questions, time
zones, legacy encodings, .xlsx)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

PASSWORD = "correct horse battery staple"
ADMIN, BRANCH_ADMIN, MANAGER = "admin@example.com", "b02-admin@example.com", "manager@example.com"
"""The upload page's users: an admin at the root, an admin of b02 only, a manager (not an admin)."""

UNITS_CSV = (
    "unit_id,parent_id,name,level\nbank,,Bank,company\nnorth,bank,North,region\n"
    "b01,north,Branch 01,branch\nb02,north,Branch 02,branch\n"
)

QUALTRICS_IDS = [
    "StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished",
    "RecordedDate", "ResponseId", "RecipientEmail", "ExternalReference", "DistributionChannel",
    "UserLanguage", "Q1", "Q2_1", "Q2_2", "Q3", "Q4", "Q4_3_TEXT", "Q5", "Q6", "Q7", "branch", "tier",
    "Q5 - Topics", "Q5 - Sentiment",
]  # fmt: skip
QUALTRICS_TEXT = [
    "Start Date", "End Date", "Response Type", "IP Address", "Progress", "Duration (in seconds)",
    "Finished", "Recorded Date", "Response ID", "Recipient Email", "External Data Reference",
    "Distribution Channel", "User Language",
    "How likely are you to recommend Demo Bank to a friend or colleague?",
    "Please tell us how much you agree. - The staff were friendly",
    "Please tell us how much you agree. - Waiting time was acceptable",
    "Overall, how satisfied were you with your visit?",
    "How did you hear about us? - Selected Choice",
    "How did you hear about us? - Other - Text",
    "Is there anything else you would like to tell us?",
    "How would you rate our mobile app? (0-10)",
    "How satisfied are you with our fees? (1-10)",
    "branch", "tier", "Q5 - Topics", "Q5 - Sentiment",
]  # fmt: skip


def _import_ids(time_zone: str) -> list[str]:
    out = []
    for name in QUALTRICS_IDS:
        if name in {"StartDate", "EndDate", "RecordedDate"}:
            entry = {"ImportId": name[0].lower() + name[1:], "timeZone": time_zone}
        elif name.startswith("Q") and " - " not in name:
            entry = {"ImportId": "QID" + name[1:]}
        else:
            entry = {"ImportId": name}
        out.append(json.dumps(entry, separators=(",", ":")))
    return out


def qualtrics_row(
    response_id: str,
    recorded: str,
    *,
    status: str = "0",
    nps: str = "9",
    staff: str = "4",
    wait: str = "5",
    csat: str = "5",
    heard: str = "1",
    heard_other: str = "",
    comment: str = "",
    app: str = "8",
    fees: str = "7",
    branch: str = "b01",
    tier: str = "gold",
    customer: str = "",
) -> list[str]:
    return [
        recorded, recorded, status, "10.0.0.1", "100", "120", "1", recorded, response_id, "a@example.com",
        customer, "anonymous", "EN", nps, staff, wait, csat, heard, heard_other, comment, app, fees, branch,
        tier, "Staff" if comment else "", "Positive" if comment else "",
    ]  # fmt: skip


def qualtrics_numeric_rows() -> list[list[str]]:
    return [
        qualtrics_row("R_1", "2024-01-15 09:30:00", comment="Friendly staff, très bien", customer="c001"),
        qualtrics_row("R_2", "2024-07-15 17:05:00", nps="3", staff="2", wait="-99", csat="2", heard="3",
                      heard_other="Radio", branch="b02"),
        qualtrics_row("R_3", "2024-07-16 08:00:00", status="1"),  # survey preview
        qualtrics_row("R_4", "2024-07-16 08:10:00", status="8"),  # spam
        qualtrics_row("R_5", "2024-07-16 09:00:00", nps="12"),  # out of range: quarantined
        qualtrics_row("R_6", "2024-07-17 10:00:00", nps="10", staff="5", wait="4", csat="4", app="0", fees="10"),
    ]  # fmt: skip


def qualtrics_text_rows() -> list[list[str]]:
    return [
        qualtrics_row("R_1", "2024-01-15 09:30:00", status="IP Address", nps="9", staff="Agree",
                      wait="Strongly agree", csat="Very satisfied", heard="Friend", comment="Great"),
        qualtrics_row("R_2", "2024-07-15 17:05:00", status="IP Address", nps="0 - Not at all likely",
                      staff="Strongly disagree", wait="Neither agree nor disagree", csat="Dissatisfied",
                      heard="Other", heard_other="Radio"),
        qualtrics_row("R_3", "2024-07-16 08:00:00", status="Survey Preview", nps="10 - Extremely likely",
                      staff="Agree", wait="Agree", csat="Satisfied", heard="Friend"),
        qualtrics_row("R_4", "2024-07-16 09:00:00", status="IP Address", nps="10 - Extremely likely",
                      staff="Disagree", wait="Agree", csat="Neither satisfied nor dissatisfied", heard="Online"),
    ]  # fmt: skip


def qualtrics_rows_table(rows: Sequence[Sequence[str]], time_zone: str = "America/Denver") -> list[list[str]]:
    return [QUALTRICS_IDS, QUALTRICS_TEXT, _import_ids(time_zone), *[list(r) for r in rows]]


SURVEYMONKEY_TOP = [
    "Respondent ID", "Collector ID", "Start Date", "End Date", "IP Address", "Email Address", "First Name",
    "Last Name", "branch", "How likely is it that you would recommend Demo Bank to a friend or colleague?",
    "Which of our services did you use?", "", "", "Overall, how satisfied or dissatisfied are you with our branch?",
    "Please rate the following.", "", "Any other comments?",
]  # fmt: skip
SURVEYMONKEY_SUB = [
    "", "", "", "", "", "", "", "", "", "Response", "Mobile app", "Website", "Branch", "Response",
    "The staff were friendly", "Waiting time was acceptable", "Open-Ended Response",
]  # fmt: skip


def surveymonkey_rows() -> list[list[str]]:
    return [
        ["114227583470", "431234567", "05/02/2024 10:15:03 AM", "05/02/2024 10:19:40 AM", "1.2.3.4", "", "", "",
         "b01", "9", "Mobile app", "", "Branch", "Very satisfied", "Agree", "Strongly agree", "Très bien – merci"],
        ["114227583471", "431234567", "05/13/2024 04:01:00 PM", "05/13/2024 04:05:10 PM", "1.2.3.5", "", "", "",
         "b02", "4", "", "Website", "", "Dissatisfied", "Disagree", "Strongly disagree", "Attente trop longue"],
        ["114227583472", "431234999", "05/14/2024 12:30:00 PM", "05/14/2024 12:31:00 PM", "1.2.3.6", "", "", "",
         "b01", "10", "Mobile app", "Website", "Branch", "Satisfied", "Strongly agree", "Agree", ""],
    ]  # fmt: skip


GOOGLE_HEADER = [
    "Timestamp", "Email address", "How likely are you to recommend us to a friend?",
    "Overall, how satisfied were you?", "Rate your visit [Staff]", "Rate your visit [Waiting time]",
    "What could we improve?", "Branch",
]  # fmt: skip


def google_rows() -> list[list[str]]:
    return [
        ["2024/05/02 10:15:03 AM GMT+2", "x@example.com", "9", "5", "4", "3", "Nothing, lovely", "b01"],
        ["2024/05/02 1:05:00 PM GMT+2", "y@example.com", "6", "3", "2", "1", "Queue was long", "b02"],
        ["2024/05/03 9:00:00 AM GMT+2", "", "10", "4", "5", "5", "", "b01"],
    ]  # fmt: skip


TYPEFORM_HEADER = [
    "#", "How likely are you to recommend Demo Bank to a friend?",
    "How much effort did you personally have to put forth to handle your request?",
    "Anything else you'd like to share?", "customer_id", "branch", "Start Date (UTC)", "Submit Date (UTC)",
    "Network ID",
]  # fmt: skip


def typeform_rows() -> list[list[str]]:
    return [
        ["a1b2c3d4e5", "8", "2", "Quick and easy", "c001", "b01", "2024-05-02 10:10:00", "2024-05-02 10:15:03", "n1"],
        ["f6g7h8i9j0", "3", "6", "Took ages", "c002", "b02", "2024-05-02 11:00:00", "2024-05-02 11:04:00", "n2"],
    ]  # fmt: skip


def csv_text(rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def write_export(path: Path, rows: Sequence[Sequence[str]], encoding: str = "utf-8") -> Path:
    """A CSV export in ``encoding`` (``utf-8-sig`` writes a BOM; ``utf-16`` a BOM and UTF-16 LE)."""
    path.write_bytes(csv_text(rows).encode(encoding))
    return path


def write_xlsx(path: Path, rows: Sequence[Sequence[object]]) -> Path:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append([None if cell == "" else cell for cell in row])
    book.save(path)
    return path
