"""The four tools' export layouts: header rows, stable column ids, question texts, dates, ids.

Each tool is recognised by the shape of its first rows (:func:`detect_tool`) and described by an
:class:`ExportLayout`: which rows are headers, what each column is called (a stable id where the tool
has one: Qualtrics' ``QID`` import ids outlive edits to a question's wording), its question text, what
kind of column it is, which column is the tool's own response id and submission time, and the export's
time zone when the file names it. ``signature`` (a hash of the column ids and question texts) tells one
survey's exports apart from another's. ``docs/data-formats.md`` shows each layout with an example.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cxloop.warehouse.ingest.exports._dates import DateOrder, guess_date_order

__all__ = [
    "DERIVED_ID",
    "TOOLS",
    "ColumnRole",
    "ExportColumn",
    "ExportLayout",
    "detect_tool",
    "read_layout",
]

TOOLS = {
    "qualtrics": "Qualtrics",
    "surveymonkey": "SurveyMonkey",
    "googleforms": "Google Forms",
    "typeform": "Typeform",
}
"""The export formats ``--from`` names, with their display names."""

DERIVED_ID = "_response_id"
"""The column a reader adds when the tool's export has no response id (Google Forms)."""

ColumnRole = str
"""``question``, ``text`` (free text entry), ``option`` (one option of a multi-select question),
``embedded`` (embedded data / custom or hidden fields), ``analytics`` (the tool's own topics and
sentiment), ``meta`` (the tool's bookkeeping: dates, status, progress, ids), ``pii`` (IP address,
e-mail, names, location: never imported unless mapped by hand)."""


@dataclass(frozen=True)
class ExportColumn:
    name: str
    question: str
    role: ColumnRole


@dataclass(frozen=True)
class ExportLayout:
    tool: str
    columns: tuple[ExportColumn, ...]
    header_rows: int
    response_id: str
    submitted_at: str | None
    date_columns: tuple[str, ...] = ()
    date_order: DateOrder = "ymd"
    date_order_settled: bool = True
    timezone: str | None = None
    """The time zone the export's dates are in, when the file says so (Qualtrics, Typeform)."""
    status_column: str | None = None
    signature: str = ""

    @property
    def label(self) -> str:
        return TOOLS[self.tool]

    @property
    def names(self) -> list[str]:
        return [column.name for column in self.columns]

    def column(self, name: str) -> ExportColumn:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)


def _unique(header: Sequence[str]) -> list[str]:
    names: list[str] = []
    taken: set[str] = set()
    for position, raw in enumerate(header, start=1):
        name = raw.strip() or f"column_{position}"
        candidate, copy = name, 0
        while candidate in taken:
            copy += 1
            candidate = f"{name}.{copy}"
        taken.add(candidate)
        names.append(candidate)
    return names


def _signature(tool: str, ids: Sequence[str]) -> str:
    return hashlib.sha256("\n".join([tool, *ids]).encode("utf-8")).hexdigest()[:12]


def _lower(row: Sequence[str]) -> list[str]:
    return [cell.strip().lower() for cell in row]


# -- Qualtrics ------------------------------------------------------------------------------------

_Q_META = {
    "StartDate",
    "EndDate",
    "Status",
    "Progress",
    "Duration (in seconds)",
    "Finished",
    "RecordedDate",
    "ResponseId",
    "ExternalReference",
    "ResponseSet",
    "DistributionChannel",
    "UserLanguage",
    "Q_RecaptchaScore",
    "Q_RelevantIDDuplicate",
    "Q_RelevantIDDuplicateScore",
    "Q_RelevantIDFraudScore",
    "Q_RelevantIDLastStartDate",
}
_Q_PII = {
    "IPAddress",
    "RecipientLastName",
    "RecipientFirstName",
    "RecipientEmail",
    "LocationLatitude",
    "LocationLongitude",
}
_Q_ANALYTICS = re.compile(
    r" - (Parent Topics|Topics|Topic Sentiment Label|Topic Sentiment Score|Topic Hierarchy Level \d+|"
    r"Sentiment Polarity|Sentiment Score|Sentiment|Actionability|Emotion Intensity|Emotion|Effort Numeric|"
    r"Effort)$",
    re.IGNORECASE,
)
_Q_QUESTION = re.compile(r"^Q\d+|^QID\d+", re.IGNORECASE)
_Q_DERIVED = re.compile(r"_NPS_GROUP$", re.IGNORECASE)
"""Columns Qualtrics derives from an answer (``Q1_NPS_GROUP``: 1 detractor, 2 passive, 3 promoter): never an
item; kept as an attribute."""


_Q_LEGACY = re.compile(r"^V\d+$")
"""The "legacy" export format (before 2017): ``V1 ... V10`` ids over ``ResponseID, ResponseSet, Name,
ExternalDataReference, EmailAddress, IPAddress, Status, StartDate, EndDate, Finished`` in the second row."""
_Q_LEGACY_NAMES = {"ResponseID": "ResponseId", "ExternalDataReference": "ExternalReference"}
_Q_LEGACY_PII = {"Name", "EmailAddress", "IPAddress", "LocationLatitude", "LocationLongitude"}


def _qualtrics_legacy(head: list[list[str]]) -> bool:
    return (
        len(head) >= 2
        and bool(head[0])
        and head[0][0].strip() == "V1"
        and "ResponseID" in {cell.strip() for cell in head[1]}
    )


def _qualtrics_matches(head: list[list[str]]) -> bool:
    if len(head) >= 3 and head[2] and head[2][0].strip().startswith('{"ImportId"'):
        return True
    if _qualtrics_legacy(head):
        return True
    first = {cell.strip() for cell in head[0]} if head else set()
    return "ResponseId" in first and bool(first & {"StartDate", "RecordedDate", "EndDate"})


def _legacy_names(head: list[list[str]]) -> list[str]:
    """The legacy export's columns named as today's: ``V`` ids by their second-row name."""
    second = head[1]
    return [
        _Q_LEGACY_NAMES.get(second[i].strip(), second[i].strip()) if _Q_LEGACY.match(cell.strip()) else cell
        for i, cell in enumerate(head[0])
        if i < len(second)
    ] + head[0][len(second) :]


def _qualtrics(head: list[list[str]], sample: list[list[str]]) -> ExportLayout:
    del sample
    legacy = _qualtrics_legacy(head)
    names = _unique(_legacy_names(head) if legacy else head[0])
    import_ids: list[dict[str, str]] = []
    header_rows = 1
    if len(head) >= 3 and head[2] and head[2][0].strip().startswith('{"ImportId"'):
        header_rows = 3
        for cell in head[2]:
            try:
                parsed = json.loads(cell)
            except ValueError:
                parsed = {}
            import_ids.append(parsed if isinstance(parsed, dict) else {})
    elif legacy or (len(head) >= 2 and "Response ID" in head[1]):
        header_rows = 2
    questions = head[1] if header_rows >= 2 else names
    timezone = None
    for entry in import_ids:
        zone = entry.get("timeZone")
        if zone:
            timezone = "UTC" if zone in {"Z", "GMT"} else str(zone)
            break
    columns = []
    for index, name in enumerate(names):
        import_id = str(import_ids[index].get("ImportId", "")) if index < len(import_ids) else ""
        question = questions[index].strip() if index < len(questions) else name
        if name in _Q_PII or (legacy and name in _Q_LEGACY_PII):
            role = "pii"
        elif name in _Q_META:
            role = "meta"
        elif _Q_ANALYTICS.search(name) or _Q_ANALYTICS.search(question) or _Q_DERIVED.search(name):
            role = "analytics"
        elif import_id.upper().startswith("QID") or (not import_id and _Q_QUESTION.match(name)):
            role = (
                "text"
                if name.upper().endswith("_TEXT") or import_id.upper().endswith("_TEXT")
                else "question"
            )
        else:
            role = "embedded"
        columns.append(ExportColumn(name, question or name, role))
    # Import ids and question texts: two surveys built from one template share their QIDs, and must not
    # share a mapping; a reworded question is worth a second look at the mapping.
    ids = [str(entry.get("ImportId", names[i])) for i, entry in enumerate(import_ids)] or names
    ids = [*ids, *(c.question for c in columns)]
    present = set(names)
    submitted = next((c for c in ("RecordedDate", "EndDate", "StartDate") if c in present), None)
    return ExportLayout(
        tool="qualtrics",
        columns=tuple(columns),
        header_rows=header_rows,
        response_id="ResponseId",
        submitted_at=submitted,
        date_columns=tuple(c for c in ("StartDate", "EndDate", "RecordedDate") if c in present),
        timezone=timezone,
        status_column="Status" if "Status" in present else None,
        signature=_signature("qualtrics", ids),
    )


# -- SurveyMonkey ---------------------------------------------------------------------------------

_SM_META = {"respondentid", "collectorid", "startdate", "enddate"}
_SM_PII = {"ipaddress", "emailaddress", "firstname", "lastname"}
_SM_SINGLE = {"", "response", "open-ended response"}


def _sm_key(name: str) -> str:
    """A SurveyMonkey header without case, spaces or punctuation: exports before 2015 wrote
    ``RespondentID``, ``CollectorID``, ``StartDate``, ``EndDate``, ``LastName``; later ones ``Respondent ID``
    ..."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _surveymonkey_matches(head: list[list[str]]) -> bool:
    first = {_sm_key(cell) for cell in head[0]} if head else set()
    return {"respondentid", "collectorid"} <= first


def _surveymonkey(head: list[list[str]], sample: list[list[str]]) -> ExportLayout:
    top = head[0]
    sub = head[1] if len(head) > 1 else [""] * len(top)
    raw_names: list[str] = []
    questions: list[str] = []
    roles: list[str] = []
    current = ""
    for index, cell in enumerate(top):
        label = sub[index].strip() if index < len(sub) else ""
        if cell.strip():
            current = cell.strip()
        question = current or f"column_{index + 1}"
        values = {row[index].strip() for row in sample if index < len(row) and row[index].strip()}
        if _sm_key(question) in _SM_PII:
            role, name = "pii", question
        elif _sm_key(question) in _SM_META:
            role, name = "meta", question
        elif _sm_key(question).startswith("customdata"):
            role, name = "embedded", question
        elif label.lower() in _SM_SINGLE:
            role = "text" if label.lower() == "open-ended response" else "question"
            name = question
        else:
            name = f"{question} | {label}"
            if "please specify" in label.lower() or label.lower().startswith("other"):
                role = "text"
            elif values and values <= {label}:
                role = "option"
            else:
                role = "question"
        raw_names.append(name)
        questions.append(name)
        roles.append(role)
    names = _unique(raw_names)
    lookup = {_sm_key(n): n for n in reversed(names)}
    dates = tuple(lookup[c] for c in ("startdate", "enddate") if c in lookup)
    date_values = [row[names.index(c)] for c in dates for row in sample if names.index(c) < len(row)]
    order, settled = guess_date_order(date_values, default="mdy")
    return ExportLayout(
        tool="surveymonkey",
        columns=tuple(ExportColumn(n, q, r) for n, q, r in zip(names, questions, roles, strict=True)),
        header_rows=2,
        response_id=lookup.get("respondentid", names[0]),
        submitted_at=lookup.get("enddate") or lookup.get("startdate"),
        date_columns=dates,
        date_order=order,
        date_order_settled=settled,
        signature=_signature("surveymonkey", [*names, *[r for r in sub]]),
    )


# -- Google Forms ---------------------------------------------------------------------------------

_GF_TIMESTAMP = {
    "timestamp",
    "marca temporal",
    "horodateur",
    "zeitstempel",
    "carimbo de data/hora",
    "informazioni cronologiche",
    "tijdstempel",
}
_GF_PII = {"email address", "e-mail address", "email", "adresse e-mail", "e-mail-adresse"}


def _googleforms_matches(head: list[list[str]]) -> bool:
    return bool(head and head[0] and head[0][0].strip().lower() in _GF_TIMESTAMP)


def _googleforms(head: list[list[str]], sample: list[list[str]]) -> ExportLayout:
    names = _unique(head[0])
    columns = []
    for index, name in enumerate(names):
        lowered = name.lower()
        if index == 0:
            role = "meta"
        elif lowered in _GF_PII:
            role = "pii"
        elif lowered in {"score", "punteggio", "puntuación", "punkte"}:
            role = "meta"
        else:
            role = "question"
        columns.append(ExportColumn(name, name, role))
    order, settled = guess_date_order([row[0] for row in sample if row], default="mdy")
    return ExportLayout(
        tool="googleforms",
        columns=(*columns, ExportColumn(DERIVED_ID, "response id derived from the row", "meta")),
        header_rows=1,
        response_id=DERIVED_ID,
        submitted_at=names[0],
        date_columns=(names[0],),
        date_order=order,
        date_order_settled=settled,
        signature=_signature("googleforms", names),
    )


# -- Typeform -------------------------------------------------------------------------------------

_TF_META = {
    "#",
    "response type",
    "start date (utc)",
    "stage date (utc)",
    "submit date (utc)",
    "network id",
    "tags",
    "ending",
}


def _typeform_matches(head: list[list[str]]) -> bool:
    first = _lower(head[0]) if head else []
    return bool(first) and (first[0] == "#" or "submit date (utc)" in first)


def _typeform(head: list[list[str]], sample: list[list[str]]) -> ExportLayout:
    del sample
    names = _unique(head[0])
    columns = []
    for name in names:
        lowered = name.lower()
        role = "meta" if lowered in _TF_META else "pii" if lowered in _GF_PII else "question"
        columns.append(ExportColumn(name, name, role))
    lookup = {n.lower(): n for n in names}
    return ExportLayout(
        tool="typeform",
        columns=tuple(columns),
        header_rows=1,
        response_id=lookup.get("#", names[0]),
        submitted_at=lookup.get("submit date (utc)") or lookup.get("start date (utc)"),
        date_columns=tuple(
            lookup[c] for c in ("start date (utc)", "stage date (utc)", "submit date (utc)") if c in lookup
        ),
        timezone="UTC",
        signature=_signature("typeform", names),
    )


_MATCHERS = {
    "qualtrics": _qualtrics_matches,
    "surveymonkey": _surveymonkey_matches,
    "typeform": _typeform_matches,
    "googleforms": _googleforms_matches,
}
_READERS = {
    "qualtrics": _qualtrics,
    "surveymonkey": _surveymonkey,
    "typeform": _typeform,
    "googleforms": _googleforms,
}


def detect_tool(head: list[list[str]]) -> str | None:
    """The tool whose export starts with ``head`` (its first rows), or ``None``."""
    for tool, matches in _MATCHERS.items():
        if matches(head):
            return tool
    return None


def read_layout(tool: str, head: list[list[str]], sample: list[list[str]]) -> ExportLayout:
    """The layout of a ``tool`` export from its first rows and a sample of its data rows."""
    return _READERS[tool](head, sample)
