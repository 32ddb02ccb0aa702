r"""The patterns a survey-tool export's headers and dates are read with: linear work, the same answers.

An export is a file someone uploads: a header or a date cell can be any length. Before, three patterns
tried every split of a long run: a question ending in many ``[`` (``\[([^\]]+)\]\s*$`` from each ``[``),
a Qualtrics name ``Q`` + a long run of digits (``^Q\w*?\d+_\d+$``) and a date followed by a long run of
spaces (two ``\s*`` in a row): each grew ~60-fold for an 8-fold longer text. Growth is measured, not
time (``support.work_growth``); each rewrite is checked against the pattern it replaces.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxloop.warehouse.ingest.exports._dates import _SHAPE, guess_date_order
from cxloop.warehouse.ingest.exports.propose import _QUALTRICS_MATRIX_ROW, _closing_brackets
from support.work_growth import LINEAR_ENOUGH, work_growth

_BRACKETS = re.compile(r"\[([^\]]+)\]\s*$")
_MATRIX_ROW = re.compile(r"^Q\w*?\d+_\d+$")
_DATE = re.compile(
    r"^(?P<a>\d{1,4})[/.-](?P<b>\d{1,2})[/.-](?P<c>\d{1,4})"
    r"(?:[ T,]+(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?P<f>\.\d+)?)?\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?)?"
    r"\s*(?:(?:GMT|UTC)\s*(?P<gmt>[+-]\d{1,2}(?::?\d{2})?)?|(?P<off>[+-]\d{2}:?\d{2})|(?P<z>Z))?$"
)
"""The patterns as they were (the references the rewrites must agree with)."""


@pytest.mark.parametrize(
    ("routine", "make"),
    [
        (_closing_brackets, lambda n: "[" * n),
        (_closing_brackets, lambda n: "[" * n + "]"),
        (_QUALTRICS_MATRIX_ROW.match, lambda n: "Q" + "1" * n + "x"),
        (_QUALTRICS_MATRIX_ROW.match, lambda n: "Q" + "1" * n + "_" + "2" * n + "x"),
        (lambda value: guess_date_order([value]), lambda n: "1/2/2024 10:15" + " " * n + "x"),
        (lambda value: guess_date_order([value]), lambda n: "1/2/2024 10:15 PM" + " " * n + "x"),
        (lambda value: guess_date_order([value]), lambda n: "1/2/2024" + " T," * n + "x"),
    ],
    ids=["brackets", "brackets closed", "matrix digits", "matrix runs", "date spaces", "pm spaces", "date T"],
)
def test_work_grows_linearly(routine, make) -> None:
    growth = work_growth(routine, make)
    assert growth.ratio < LINEAR_ENOUGH, f"x{growth.ratio:.1f} ({growth})"


@settings(deadline=None, max_examples=400)
@given(st.text(alphabet="[]a \t\n", max_size=14))
def test_closing_brackets_as_the_pattern_found_them(question: str) -> None:
    found = _BRACKETS.search(question)
    assert _closing_brackets(question) == (found[1] if found else None)


@settings(deadline=None, max_examples=400)
@given(st.text(alphabet="Q1_2a\n", max_size=10))
def test_matrix_rows_as_the_pattern_found_them(name: str) -> None:
    assert bool(_QUALTRICS_MATRIX_ROW.match(name)) == bool(_MATRIX_ROW.match(name))


_DATE_PARTS = "1|12|2024|/|-|.| |T|,|:|30|.5|AM|p.m.|GMT|+02:00".split("|")


@settings(deadline=None, max_examples=600)
@given(
    st.sampled_from(["1/2/2024", "2024-01-02", "12.31.99"]),
    st.sampled_from(["", " ", "T", ", "]),
    st.sampled_from(["", "10:15", "1:05:30", "10:15:30.25"]),
    st.text(alphabet=" \t", max_size=3),
    st.sampled_from(["", "AM", "p.m.", "Pm"]),
    st.text(alphabet=" \t", max_size=3),
    st.sampled_from(["", "GMT", "UTC +2", "GMT-05:30", "+02:00", "-0500", "Z", "x", "\n"]),
    st.lists(st.sampled_from(_DATE_PARTS), max_size=4).map("".join),
)
def test_dates_read_as_the_pattern_read_them(date, sep, clock, space, ampm, space2, zone, noise) -> None:
    for value in (date + sep + clock + space + ampm + space2 + zone, date + noise):
        before, now = _DATE.match(value), _SHAPE.match(value)
        assert (now and now.groupdict()) == (before and before.groupdict()), value
