"""A first mapping for a survey-tool export: which column is the NPS question, CSAT, CES, the driver
items (with their scales), the comment, the respondent/customer id and the unit.

The proposal is read from the layout (question texts, column roles) and a sample of answers; it is
written out as an ordinary mapping file (``docs/data-formats.md``) that a person can edit, so nothing
here is final. The rules, in the order they are applied:

* the tool's own response id and submission time; ``--unit`` or a column named like a unit
  (``unit``, ``branch``, ``store`` ...); a customer id column (``customer_id``, ``client_id`` ...,
  or Qualtrics' ``ExternalReference`` when filled);
* **NPS**: a 0-10 question whose wording says "recommend";
* **CSAT**: a satisfaction question on 1-5 (numbers, or the usual satisfied/dissatisfied labels);
* **CES**: an effort question on 1-7 (numbers where the wording says effort/difficult, or the
  very easy ... very difficult labels; agree/disagree with an "easy" statement is reversed so that 7
  stays the most effort);
* every other rating question is a **driver item** with its scale. A scale that is not the canonical
  one (a 1-10 satisfaction, a 0-10 "how would you rate") is declared as the item's own scale, never
  rescaled; agree/disagree and similar labels map to their positions;
* the free-text question whose wording asks for comments (else the longest answers) is the **comment**;
* everything else (embedded data, the tool's topics and sentiment, multi-select options, other
  answers) is kept as an **attribute**; IP addresses, e-mails, names and locations are left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cxloop.warehouse.ingest.exports.tools import ExportColumn, ExportLayout
from cxloop.warehouse.ingest.kinds import RESPONSE_KIND

__all__ = ["LABEL_SETS", "Proposal", "ProposedColumn", "propose_mapping"]

_NA = {"n/a": None, "not applicable": None, "does not apply": None, "don't know": None, "dont know": None}
_AGREE5 = {
    "strongly disagree": 1,
    "disagree": 2,
    "somewhat disagree": 2,
    "neither agree nor disagree": 3,
    "neither": 3,
    "neutral": 3,
    "agree": 4,
    "somewhat agree": 4,
    "strongly agree": 5,
}
_AGREE7 = {
    "strongly disagree": 1,
    "disagree": 2,
    "somewhat disagree": 3,
    "neither agree nor disagree": 4,
    "neither": 4,
    "neutral": 4,
    "somewhat agree": 5,
    "agree": 6,
    "strongly agree": 7,
}
_SATISFIED5 = {
    "very dissatisfied": 1,
    "extremely dissatisfied": 1,
    "dissatisfied": 2,
    "somewhat dissatisfied": 2,
    "neither satisfied nor dissatisfied": 3,
    "neutral": 3,
    "satisfied": 4,
    "somewhat satisfied": 4,
    "very satisfied": 5,
    "extremely satisfied": 5,
}
_SATISFIED7 = {
    "extremely dissatisfied": 1,
    "moderately dissatisfied": 2,
    "slightly dissatisfied": 3,
    "neither satisfied nor dissatisfied": 4,
    "slightly satisfied": 5,
    "moderately satisfied": 6,
    "extremely satisfied": 7,
}
_EFFORT7 = {
    "very easy": 1,
    "easy": 2,
    "somewhat easy": 3,
    "neither easy nor difficult": 4,
    "somewhat difficult": 5,
    "difficult": 6,
    "very difficult": 7,
}
_QUALITY5 = {"very poor": 1, "poor": 1, "fair": 2, "good": 3, "very good": 4, "excellent": 5}

LABEL_SETS: dict[str, tuple[dict[str, int], int]] = {
    "agree5": (_AGREE5, 5),
    "agree7": (_AGREE7, 7),
    "satisfied5": (_SATISFIED5, 5),
    "satisfied7": (_SATISFIED7, 7),
    "effort7": (_EFFORT7, 7),
    "quality5": (_QUALITY5, 5),
}
"""Answer labels the proposal understands, with their numeric positions and scale top."""

_LEADING_NUMBER = re.compile(r"^\s*(\d{1,2})\s*(?:[-=:–—(]|$)")
_NPS_ENDPOINTS = {"0 - not at all likely": 0.0, "10 - extremely likely": 10.0}
_UNIT_NAMES = {
    "unit",
    "unit_id",
    "unitid",
    "branch",
    "branch_id",
    "branchid",
    "store",
    "store_id",
    "storeid",
    "site",
    "site_id",
    "office",
    "shop",
    "outlet",
    "team",
    "location_id",
}
_CUSTOMER_NAMES = {
    "customer_id",
    "customerid",
    "customer",
    "customer_no",
    "customer_number",
    "cust_id",
    "client_id",
    "clientid",
    "member_id",
    "account_id",
    "account_number",
}
_COMMENT_WORDS = re.compile(
    r"comment|anything else|tell us|why|reason|feedback|improve|suggest|explain", re.I
)
_RESERVED = {"nps", "csat", "ces", *RESPONSE_KIND.names}


@dataclass(frozen=True)
class ProposedColumn:
    """One export column and what the proposal does with it."""

    column: str
    question: str
    role: str
    """``response_id``, ``submitted_at``, ``unit_id``, ``customer_id``, ``touchpoint``, ``channel``,
    ``segment``, ``nps``, ``csat``, ``ces``, ``comment``, ``item``, ``attribute`` or ``ignored``."""
    item: str | None = None
    scale: tuple[float, float] | None = None
    labels: Mapping[str, float | None] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True)
class Proposal:
    tool: str
    signature: str
    columns: tuple[ProposedColumn, ...]
    mapping: Mapping[str, Any]
    """An ordinary mapping file's content (``columns``, ``constants``, ``items``, ``values`` ...)."""
    attributes: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def missing(self) -> tuple[str, ...]:
        """Required columns the proposal could not find (the import cannot run without them)."""
        have = set(self.mapping.get("columns", {})) | set(self.mapping.get("constants", {}))
        return tuple(name for name in RESPONSE_KIND.required if name not in have)


def _slug(text: str) -> str:
    slug = re.sub(r"[^0-9a-z]+", "_", text.lower()).strip("_")
    return slug[:40].rstrip("_") or "item"


@dataclass
class _Profile:
    values: list[str]
    numbers: list[float]
    label_set: str | None
    labels: dict[str, float | None]
    free_text: bool

    @property
    def rating(self) -> bool:
        return bool(self.values) and (self.label_set is not None or len(self.numbers) == len(self.values))


def _profile(values: list[str]) -> _Profile:
    numbers: list[float] = []
    labels: dict[str, float | None] = {}
    lowered = {v.strip().lower() for v in values}
    for value in values:
        text = value.strip()
        try:
            numbers.append(float(text))
            continue
        except ValueError:
            pass
        match = _LEADING_NUMBER.match(text)
        if match:
            numbers.append(float(match[1]))
            labels[text.lower()] = float(match[1])
    label_set = None
    words = lowered - {k for k in lowered if _LEADING_NUMBER.match(k)} - set(_NA)
    words = {w for w in words if not _is_number(w)}
    if words:
        for name, (known, _) in LABEL_SETS.items():
            if words <= set(known):
                label_set = name
                break
        somewhat = any(w.startswith("somewhat") for w in words)
        if label_set == "agree5" and somewhat and words & {"agree", "disagree"}:
            label_set = "agree7"  # "somewhat" beside plain agree/disagree: the 7-point scale
        if label_set == "satisfied5" and any(w.startswith(("moderately", "slightly")) for w in words):
            label_set = "satisfied7"
        if label_set is None and words <= set(_SATISFIED7):
            label_set = "satisfied7"
    free_text = bool(values) and label_set is None and len(numbers) < len(values) * 0.5
    if label_set is not None:
        labels.update({k: float(v) for k, v in LABEL_SETS[label_set][0].items()})
        labels.update(_NA)
    return _Profile(values, numbers if label_set is None else [], label_set, labels, free_text)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_STATED_RANGE = re.compile(r"\(?\b(0|1)\s*(?:-|–|to)\s*(5|7|10)\b\)?")


def _numeric_scale(numbers: Sequence[float], question: str) -> tuple[float, float] | None:
    """The scale of a rating question: stated in its wording ("(1-10)"), else from the answers (a few
    answers outside 0-10, typing errors the import will reject, do not change it)."""
    stated = _STATED_RANGE.search(question)
    if stated and numbers:
        return (float(stated[1]), float(stated[2]))
    inside = [n for n in numbers if 0 <= n <= 10]
    if len(inside) >= 0.9 * len(numbers):
        numbers = inside
    if not numbers or any(n != int(n) for n in numbers):
        return None
    low, high = min(numbers), max(numbers)
    if low < 0 or high > 10:
        return None
    if high <= 5 and low >= 1:
        return (1.0, 5.0)
    if high <= 7 and low >= 1:
        return (1.0, 7.0)
    if low == 0 or re.search(r"\b0\s*(-|to|–)\s*10\b|recommend", question, re.I):
        return (0.0, 10.0)
    return (1.0, 10.0)


_NPS_TYPE = re.compile(r"\brat(e|ing)\b|\blikely\b|\bscore\b|\bévaluez\b|\bnote\b", re.I)
_COUNT_WORDS = re.compile(
    r"\bhow many\b|\bnumber of\b|\bhow often\b|\bdays?\b|\btimes\b|\bhours?\b|\bminutes?\b|\bhow old\b|"
    r"\bage\b|\byears?\b|\bcombien\b",
    re.I,
)
_RATING_WORDS = re.compile(r"\brat(e|ing)\b|satisf|\bagree|\blikely\b|recommend|\bscale\b", re.I)
_FILLER = frozenset(
    "a an the of on in at to for with and or your you our us we is are was were be been do did does how "
    "would could should what which please rate rating scale from overall it its this that very much "
    "about think were".split()
)


def _cut(text: str, most: int = 60) -> str:
    return text if len(text) <= most else text[: most - 3] + "..."


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[0-9a-z]+", text.lower()) if w not in _FILLER and not w.isdigit()]


def _readable(words: Sequence[str], most: int = 40) -> str:
    """Words joined by ``_`` up to ``most`` characters, cut between words (never ``..._th``)."""
    kept: list[str] = []
    for word in words:
        if len("_".join([*kept, word])) > most:
            break
        kept.append(word)
    return "_".join(kept) or (words[0][:most] if words else "item")


def _distinct_name(question: str, taken: set[str]) -> str | None:
    """A name from the words of ``question`` that no taken name has, when two questions share a prefix
    ("On a scale of 0-10, how would you rate the ... [cleanliness / staff]")."""
    words = _words(question)
    seen = {w for name in taken for w in name.split("_")}
    own = [w for w in words if w not in seen]
    name = _readable(own) if own else None
    return name if name and name not in taken else None


def _item_name(column: ExportColumn, tool: str) -> str:
    question = column.question
    if tool == "qualtrics" and " - " in question:
        return _slug(question.rsplit(" - ", 1)[1])
    if " | " in column.name:
        return _slug(column.name.rsplit(" | ", 1)[1])
    bracket = _closing_brackets(question)
    if bracket:
        return _slug(bracket)
    if tool == "qualtrics":
        return _slug(column.name)
    return _readable(_words(question)) if _words(question) else _slug(question)


def propose_mapping(
    layout: ExportLayout, sample: Sequence[Sequence[str]], *, unit: str | None = None
) -> Proposal:
    """The proposed mapping of an export with ``layout``, from a ``sample`` of its data rows."""
    names = [c.name for c in layout.columns if c.name != "_response_id"]
    index = {name: i for i, name in enumerate(names)}
    missing_markers = {"-99"} if layout.tool == "qualtrics" else set()

    def values_of(name: str) -> list[str]:
        if name not in index:
            return []
        i = index[name]
        out = [row[i].strip() for row in sample if i < len(row)]
        return [v for v in out if v and v not in missing_markers]

    decided: dict[str, ProposedColumn] = {}
    columns: dict[str, str] = {"response_id": layout.response_id}
    constants: dict[str, str] = {}
    values: dict[str, dict[str, float | None]] = {}
    items: dict[str, dict[str, Any]] = {}
    notes: list[str] = []

    def take(column: ExportColumn, role: str, reason: str, **extra: Any) -> None:
        decided[column.name] = ProposedColumn(column.name, column.question, role, reason=reason, **extra)

    by_name = {c.name: c for c in layout.columns}
    take(by_name[layout.response_id], "response_id", f"{layout.label}'s response id")
    if layout.submitted_at:
        columns["submitted_at"] = layout.submitted_at
        take(by_name[layout.submitted_at], "submitted_at", "when the response was recorded")
    if unit:
        constants["unit_id"] = unit
    for column in layout.columns:
        if column.name in decided or column.role == "pii":
            continue
        slug = _slug(column.name)
        if not unit and "unit_id" not in columns and slug in _UNIT_NAMES and values_of(column.name):
            columns["unit_id"] = column.name
            take(column, "unit_id", "named like a unit")
        elif "customer_id" not in columns and (
            slug in _CUSTOMER_NAMES or (column.name == "ExternalReference" and values_of(column.name))
        ):
            columns["customer_id"] = column.name
            take(column, "customer_id", "named like a customer id")
        elif slug in {"touchpoint", "channel", "segment"} and slug not in columns:
            columns[slug] = column.name
            take(column, slug, f"named {slug}")

    profiles = {
        c.name: _profile(values_of(c.name))
        for c in layout.columns
        if c.name not in decided and c.role in {"question", "text"}
    }
    questions = [c for c in layout.columns if c.name in profiles]

    for column in questions:  # NPS: 0-10 and "recommend"
        profile = profiles[column.name]
        scale = _numeric_scale(profile.numbers, column.question) if profile.rating else None
        recommend = re.search(r"recommend", column.question, re.I)
        if "nps" not in columns and recommend and profile.rating and scale in {(0.0, 10.0), None}:
            scale = (0.0, 10.0)
            columns["nps"] = column.name
            labels = {**_NPS_ENDPOINTS, **profile.labels}
            if profile.labels:
                values["nps"] = labels
            take(column, "nps", "0-10 and the wording says recommend", scale=scale, labels=labels)

    if "nps" not in columns:  # a single 0-10 "how would you rate / how likely" question: the NPS-type score
        candidates = []
        for column in questions:
            profile = profiles[column.name]
            if column.name in decided or not profile.rating or _is_matrix_row(column, layout.tool):
                continue
            if _numeric_scale(profile.numbers, column.question) == (0.0, 10.0) and _NPS_TYPE.search(
                column.question
            ):
                candidates.append(column)
        if len(candidates) == 1:
            column = candidates[0]
            profile = profiles[column.name]
            columns["nps"] = column.name
            labels = {**_NPS_ENDPOINTS, **profile.labels}
            if profile.labels:
                values["nps"] = labels
            take(
                column,
                "nps",
                "the only 0-10 rating question (its wording does not say recommend): CONFIRM it is your "
                "NPS-type score",
                scale=(0.0, 10.0),
                labels=labels,
            )
            notes.append(
                f"{column.name} ({_cut(column.question)}) is proposed as the NPS-type score: it is the only "
                "0-10 rating question, but its wording does not say recommend. Confirm it, or make it a "
                "driver item in the mapping file"
            )

    for column in questions:  # CSAT and CES
        if column.name in decided:
            continue
        profile = profiles[column.name]
        if not profile.rating:
            continue
        text = column.question
        overall = column.role == "question" and not _is_matrix_row(column, layout.tool)
        if "csat" not in columns and overall and re.search(r"satisf", text, re.I):
            scale = (1.0, 5.0) if profile.label_set == "satisfied5" else _numeric_scale(profile.numbers, text)
            if scale == (1.0, 5.0):
                columns["csat"] = column.name
                if profile.label_set:
                    values["csat"] = dict(profile.labels)
                take(column, "csat", "satisfaction on 1-5", scale=scale, labels=profile.labels)
                continue
        if "ces" not in columns and overall and re.search(r"eas(y|e)|effort|difficult", text, re.I):
            labels = dict(profile.labels)
            scale = None
            reason = ""
            if profile.label_set == "effort7":
                scale, reason = (1.0, 7.0), "very easy (1) to very difficult (7)"
            elif profile.label_set == "agree7" and re.search(r"eas(y|e)", text, re.I):
                labels = {k: (None if v is None else 8.0 - v) for k, v in labels.items()}
                scale, reason = (
                    (1.0, 7.0),
                    "agreement that it was easy, reversed so that 7 is the most effort",
                )
            elif not profile.label_set and re.search(r"effort|difficult", text, re.I):
                if _numeric_scale(profile.numbers, text) == (1.0, 7.0):
                    scale, reason = (1.0, 7.0), "effort on 1-7"
            if scale is not None:
                columns["ces"] = column.name
                if profile.label_set:
                    values["ces"] = labels
                take(column, "ces", reason, scale=scale, labels=labels)
                continue

    taken_items: set[str] = set()
    for column in questions:  # driver items
        if column.name in decided:
            continue
        profile = profiles[column.name]
        if column.role != "question" or not profile.rating or "selected choice" in column.question.lower():
            continue
        if _COUNT_WORDS.search(column.question) and not _RATING_WORDS.search(column.question):
            continue  # a number of days, times, people...: an answer, not a rating (kept as an attribute)
        if profile.label_set is not None:
            scale = (1.0, float(LABEL_SETS[profile.label_set][1]))
            reason = f"labels of a {LABEL_SETS[profile.label_set][1]}-point {profile.label_set[:-1]} scale"
        else:
            scale = _numeric_scale(profile.numbers, column.question)
            if scale is None:
                continue
            reason = f"numbers {min(profile.numbers):g} to {max(profile.numbers):g}: scale inferred, check it"
        name = _item_name(column, layout.tool)
        if name in _RESERVED:
            name = f"{name}_item"
        if name in taken_items:  # two questions read alike: name them by their own words
            name = _distinct_name(column.question, taken_items) or name
        base, copy = name, 1
        while name in taken_items:
            copy += 1
            name = f"{base}_{copy}"
        taken_items.add(name)
        entry: dict[str, Any] = {"column": column.name, "scale": [_num(scale[0]), _num(scale[1])]}
        if profile.label_set is not None:
            entry["labels"] = {k: (None if v is None else _num(v)) for k, v in profile.labels.items()}
        items[name] = entry
        if re.search(r"satisf", column.question, re.I) and scale != (1.0, 5.0):
            notes.append(
                f"{column.name} is a satisfaction question on {scale[0]:g}-{scale[1]:g}: kept as driver item "
                f"{name} on its own scale, not rescaled to CSAT 1-5"
            )
        elif scale == (0.0, 10.0) and "nps" in columns:
            notes.append(f"{column.name} is a 0-10 rating: kept as driver item {name} on 0-10 (not NPS)")
        take(column, "item", reason, item=name, scale=scale, labels=profile.labels)

    text_columns = [c for c in questions if c.name not in decided and profiles[c.name].free_text]
    if text_columns:
        worded = [c for c in text_columns if _COMMENT_WORDS.search(c.question)]
        pick = (
            worded[0]
            if worded
            else max(text_columns, key=lambda c: sum(len(v) for v in profiles[c.name].values))
        )
        columns["comment"] = pick.name
        take(
            pick, "comment", "free text" + (" asking for comments" if worded else " with the longest answers")
        )

    attributes = []
    for column in layout.columns:
        if column.name in decided or column.name == "_response_id":
            continue
        if column.role == "pii":
            take(
                column,
                "ignored",
                "personal data (IP address, e-mail, name, location): map it by hand if needed",
            )
        else:
            attributes.append(column.name)
            take(column, "attribute", f"{column.role} column kept as an attribute")

    constants.setdefault("survey_id", f"{layout.tool}-{layout.signature}")
    if layout.timezone is None and layout.submitted_at:
        notes.append(
            f"{layout.label} exports times in the account's time zone, which the file does not say: read as "
            "UTC; set timezone: (e.g. Europe/London) in the mapping file if they are local"
        )
    mapping: dict[str, Any] = {"columns": columns, "constants": constants}
    if values:
        mapping["values"] = {
            k: {lk: (None if lv is None else _num(lv)) for lk, lv in v.items()} for k, v in values.items()
        }
    if items:
        mapping["items"] = items
    if missing_markers:
        mapping["missing_values"] = sorted(missing_markers)
    mapping["timezone"] = layout.timezone or "UTC"
    ordered = tuple(decided[c.name] for c in layout.columns if c.name in decided)
    proposal = Proposal(layout.tool, layout.signature, ordered, mapping, tuple(attributes), tuple(notes))
    if "unit_id" in proposal.missing:
        notes.append("no unit column: pass --unit UNIT (every response of the file goes to that unit)")
        proposal = Proposal(layout.tool, layout.signature, ordered, mapping, tuple(attributes), tuple(notes))
    return proposal


def _is_matrix_row(column: ExportColumn, tool: str) -> bool:
    if tool == "qualtrics":
        return bool(_QUALTRICS_MATRIX_ROW.match(column.name)) and " - " in column.question
    return " | " in column.name or _closing_brackets(column.question) is not None


# Q12_3 (question 12, row 3). Written `\w*\d_` rather than `\w*?\d+_`: the same names, but the lazy form
# tries every split of a long run of digits (quadratic in a header's length).
_QUALTRICS_MATRIX_ROW = re.compile(r"^Q\w*\d_\d+$")


def _closing_brackets(question: str) -> str | None:
    """The text in the brackets that end ``question`` ("How was it? [Staff]" -> "Staff"), else None.

    What ``re.search(r"\\[([^\\]]+)\\]\\s*$", question)`` finds (the first ``[`` after the last ``]`` but
    the closing one), without its search: from every ``[`` of a header made of them it scans to the end.
    """
    stripped = question.rstrip()
    if not stripped.endswith("]"):
        return None
    after_previous = stripped.rfind("]", 0, len(stripped) - 1) + 1
    opening = stripped.find("[", after_previous, len(stripped) - 1)
    if opening == -1 or opening == len(stripped) - 2:
        return None
    return stripped[opening + 1 : -1]


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value
