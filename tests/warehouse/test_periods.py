"""Period arithmetic in Python agrees with the engine's truncation and names periods plainly."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cxloop.warehouse.periods import (
    FIRST_DAY,
    GRAINS,
    LAST_DAY,
    add_periods,
    day_range,
    period_label,
    period_range,
    period_start,
    same_period_last_year,
)

PANDAS_FREQ = {"day": "D", "week": "W-SUN", "month": "M", "quarter": "Q", "year": "Y"}


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)), st.sampled_from(GRAINS))
def test_period_start_matches_pandas(day, grain):
    expected = pd.Timestamp(day).to_period(PANDAS_FREQ[grain]).start_time.date()
    assert period_start(day, grain) == expected
    assert period_start(datetime.combine(day, datetime.min.time()), grain) == expected


@given(
    st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 12, 31)),
    st.sampled_from(GRAINS),
    st.integers(-30, 30),
)
def test_add_periods_steps_whole_periods(day, grain, count):
    start = period_start(day, grain)
    moved = add_periods(start, grain, count)
    assert period_start(moved, grain) == moved
    assert add_periods(moved, grain, -count) == start
    expected = (pd.Timestamp(start).to_period(PANDAS_FREQ[grain]) + count).start_time.date()
    assert moved == expected


def test_same_period_last_year():
    assert same_period_last_year(date(2025, 3, 1), "month") == date(2024, 3, 1)
    assert same_period_last_year(date(2025, 4, 1), "quarter") == date(2024, 4, 1)
    assert same_period_last_year(date(2025, 1, 1), "year") == date(2024, 1, 1)
    assert same_period_last_year(date(2024, 2, 29), "day") == date(2023, 2, 28)
    monday = date(2025, 3, 10)
    last_year = same_period_last_year(monday, "week")
    assert last_year.weekday() == 0
    assert last_year.isocalendar()[1] == monday.isocalendar()[1]


def test_labels():
    assert period_label(date(2025, 3, 14), "day") == "2025-03-14"
    assert period_label(date(2025, 3, 10), "week") == "2025-W11"
    assert period_label(date(2024, 12, 30), "week") == "2025-W01"  # ISO year of the Monday's week
    assert period_label(date(2025, 3, 1), "month") == "2025-03"
    assert period_label(date(2025, 4, 1), "quarter") == "2025-Q2"
    assert period_label(date(2025, 1, 1), "year") == "2025"


def test_range_and_unknown_grain():
    assert period_range(date(2024, 11, 15), date(2025, 2, 3), "month") == [
        date(2024, 11, 1),
        date(2024, 12, 1),
        date(2025, 1, 1),
        date(2025, 2, 1),
    ]
    with pytest.raises(ValueError, match="fortnight"):
        period_start(date(2025, 1, 1), "fortnight")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("start", "end"),
    [(date(1899, 12, 31), None), (None, date(3000, 1, 1)), (date(1, 1, 1), date(9999, 12, 31))],
)
def test_a_range_outside_the_days_a_query_can_name_is_refused(start, end):
    # Steps from such a day (a year later, the same span before it) left Python's dates: OverflowError.
    with pytest.raises(ValueError, match="outside the days a query can name"):
        day_range(start, end)


def test_the_last_day_a_query_can_name_leaves_room_for_every_step():
    assert day_range(FIRST_DAY, LAST_DAY) == (FIRST_DAY, LAST_DAY)
    span = LAST_DAY - FIRST_DAY + timedelta(days=1)
    assert FIRST_DAY - span >= date.min
    assert add_periods(period_start(LAST_DAY, "year"), "year", 1) <= date.max
    assert same_period_last_year(FIRST_DAY, "year") >= date.min
