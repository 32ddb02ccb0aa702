"""Survey tools' own timestamp formats, rewritten as ISO 8601 text the importer reads.

Qualtrics writes ``2024-05-02 10:15:00`` (in the time zone its third header row names), SurveyMonkey
``05/02/2024 10:15:03 AM``, Google Forms ``2024/05/02 10:15:03 AM GMT+2`` (or, from a Sheets download,
``5/2/2024 10:15:03`` / ``02.05.2024 10:15:03`` in the sheet's locale), Typeform ``2024-05-02 10:15:03``
in UTC. Whether ``05/02`` is May 2nd or February 5th is decided once per file from its values (a day above
12 settles it; otherwise the tool's default, month first, with a note). A value that matches no known
shape is left as it is, so the importer rejects it with its usual reason and the original text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["DateOrder", "guess_date_order", "normalise_timestamp"]

DateOrder = str
"""``"ymd"``, ``"mdy"`` or ``"dmy"``."""

_SHAPE = re.compile(
    r"^(?P<a>\d{1,4})[/.-](?P<b>\d{1,2})[/.-](?P<c>\d{1,4})"
    r"(?:[ T,]++(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?P<f>\.\d++)?)?\s*+(?P<ampm>[AaPp]\.?[Mm]\.?)?)?"
    r"\s*+(?:(?:GMT|UTC)\s*+(?P<gmt>[+-]\d{1,2}(?::?\d{2})?)?|(?P<off>[+-]\d{2}:?\d{2})|(?P<z>Z))?$"
)
"""A date, a time, an offset. The white-space runs are possessive (``\\s*+``): two greedy ones in a row would
try every split of a long run between them (quadratic in a cell's length); they are the same dates."""


def guess_date_order(values: Iterable[str], default: DateOrder = "mdy") -> tuple[DateOrder, bool]:
    """The date order of a column's values and whether it was settled by them (``False``: ``default``)."""
    first_big = second_big = False
    for value in values:
        match = _SHAPE.match(value.strip())
        if match is None:
            continue
        a, b = match["a"], match["b"]
        if len(a) == 4:
            return "ymd", True
        first_big |= int(a) > 12
        second_big |= int(b) > 12
    if first_big and not second_big:
        return "dmy", True
    if second_big and not first_big:
        return "mdy", True
    return default, False


def _offset(text: str) -> str:
    sign, digits = text[0], text[1:].replace(":", "")
    hours, minutes = (digits[:-2], digits[-2:]) if len(digits) > 2 else (digits, "00")
    return f"{sign}{int(hours):02d}:{minutes}"


def normalise_timestamp(value: str, order: DateOrder = "ymd") -> str:
    """``value`` as ISO 8601 (with its offset when it carries one), or unchanged if not recognised."""
    text = value.strip()
    if len(text) in (10, 16, 19) and text[4:5] == "-" and text[7:8] == "-" and text[10:11] in ("", " ", "T"):
        return text  # already ISO 8601 (Qualtrics, Typeform): the importer reads it as it is
    match = _SHAPE.match(text)
    if match is None:
        return value
    a, b, c = match["a"], match["b"], match["c"]
    if len(a) == 4:
        year, month, day = a, b, c
    elif len(c) == 4 or len(c) == 2:
        year = c if len(c) == 4 else f"20{c}"
        month, day = (a, b) if order == "mdy" else (b, a)
    else:
        return value
    out = f"{int(year):04d}-{int(month):02d}-{int(day):02d}"
    if match["h"] is not None:
        hour = int(match["h"])
        ampm = (match["ampm"] or "").lower().replace(".", "")
        if ampm == "pm" and hour < 12:
            hour += 12
        elif ampm == "am" and hour == 12:
            hour = 0
        out += f"T{hour:02d}:{match['m']}:{match['s'] or '00'}{match['f'] or ''}"
        if match["gmt"]:
            out += _offset(match["gmt"])
        elif match["off"]:
            out += _offset(match["off"])
        elif match["z"] or (match["gmt"] is None and "GMT" in text.upper()):
            out += "Z"
    return out
