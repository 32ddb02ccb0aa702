"""RFM summaries of the customer base, computed in the engine from the raw ``transactions``.

For each customer with a purchase on or before ``calibration_end`` (a date, inclusive):

==============================  ====================================================================
``frequency``                   repeat purchase periods: distinct periods with a purchase, minus one
``recency``                     periods from the first purchase period to the last one
``T``                           periods from the first purchase period to ``calibration_end``'s period
``monetary_value``              mean value of the repeat periods (the first period left out), each
                                period's purchases summed; 0 without repeat purchases
``frequency_holdout``           (with ``observation_end``) distinct periods with a purchase after
                                ``calibration_end`` up to ``observation_end`` inclusive
``duration_holdout``            periods from ``calibration_end``'s period to ``observation_end``'s
``monetary_value_holdout``      mean value of the holdout transactions (0 if none)
==============================  ====================================================================

A *period* is a day, an ISO week (Monday to Sunday, as pandas' ``W`` and both DuckDB's and Spark's
``date_trunc('week')``) or a calendar month. Purchases in the same period merge into one, which is what
the ``lifetimes`` package's ``summary_data_from_transaction_data`` does (with ``freq="D"`` same-day
transactions merge; with ``freq="W"`` same-week ones): on transactions time-stamped at midnight the numbers
here equal that function's and ``calibration_and_holdout_data``'s. (lifetimes compares the raw timestamp
with the calibration date at midnight, so it drops later purchases *on* the calibration day; here the
whole calibration day counts.)

Periods are integers computed from the calendar fields (year, month, day) only, so every engine gives the
same numbers whatever its session time zone. :func:`rfm_compressed` groups the summaries into distinct
``(frequency, recency, T)`` rows with a ``weight`` inside the engine: a million customers arrive in Python
as a few thousand rows.

References
----------
Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An
Alternative to the Pareto/NBD Model. *Marketing Science* 24(2), 275-284.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Literal, get_args

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

__all__ = [
    "TIME_UNITS",
    "VALUE_COLUMNS",
    "TimeUnit",
    "ValueColumn",
    "period_index",
    "rfm_compressed",
    "rfm_expression",
    "rfm_summary",
    "scoped_transactions",
]

TimeUnit = Literal["day", "week", "month"]
ValueColumn = Literal["amount", "margin"]
TIME_UNITS: tuple[TimeUnit, ...] = get_args(TimeUnit)
VALUE_COLUMNS: tuple[ValueColumn, ...] = get_args(ValueColumn)

_EPOCH = date(1970, 1, 1)


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        return value.date()
    return value


def _check_time_unit(time_unit: str) -> TimeUnit:
    if time_unit not in TIME_UNITS:
        raise ValueError(f"unknown time unit {time_unit!r}; use one of {', '.join(TIME_UNITS)}")
    return time_unit


def period_index(day: date | datetime | str, time_unit: TimeUnit) -> int:
    """The integer period of a date, as the engine computes it (days since 1970-01-01, ISO weeks
    since the week of 1970-01-01, or ``year * 12 + month - 1``)."""
    unit = _check_time_unit(time_unit)
    d = _as_date(day)
    if unit == "month":
        return d.year * 12 + d.month - 1
    days = (d - _EPOCH).days
    return days if unit == "day" else (days + 3) // 7  # 1970-01-01 is a Thursday: its Monday is day -3


def _days_from_civil(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Days since 1970-01-01 from the calendar fields (H. Hinnant's ``days_from_civil``)."""
    m = ts.month().cast("int64")
    y = ts.year().cast("int64") - (m <= 2).cast("int64")
    era = y // 400
    yoe = y - era * 400
    shifted = ibis.ifelse(m > 2, m - 3, m + 9)
    doy = (153 * shifted + 2) // 5 + ts.day().cast("int64") - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return (era * 146097 + doe - 719468).cast("int64")


def _engine_period(ts: ir.TimestampValue, time_unit: TimeUnit) -> ir.IntegerValue:
    if time_unit == "month":
        return (ts.year().cast("int64") * 12 + ts.month().cast("int64") - 1).cast("int64")
    days = _days_from_civil(ts)
    return days if time_unit == "day" else ((days + 3) // 7).cast("int64")


def _units_filter(units: Iterable[str] | None) -> list[str] | None:
    if units is None:
        return None
    if isinstance(units, str):
        raise TypeError(f"units must be a collection of unit ids, not a single string {units!r}")
    return sorted(set(units))


def scoped_transactions(con: BaseBackend, units: Iterable[str] | None = None) -> ir.Table:
    """The ``transactions`` of customers whose home unit (``customers.unit_id``) is in ``units``.

    ``units=None`` keeps every transaction. A customer's value belongs to the unit that owns the
    relationship, not to each place they bought in, so the scope follows ``customers.unit_id``;
    transactions of customers missing from ``customers`` are only seen unscoped.
    """
    transactions = con.table("transactions")
    unit_ids = _units_filter(units)
    if unit_ids is None:
        return transactions
    customers = con.table("customers")
    in_scope = customers.filter(customers.unit_id.isin(unit_ids)).select("customer_id")
    return transactions.semi_join(in_scope, "customer_id")


def _day_after(day: date) -> ir.TimestampScalar:
    return ibis.literal(datetime.combine(day + timedelta(days=1), time()), type="timestamp")


def rfm_expression(
    con: BaseBackend,
    *,
    calibration_end: date | datetime | str,
    time_unit: TimeUnit = "week",
    observation_end: date | datetime | str | None = None,
    units: Iterable[str] | None = None,
    value: ValueColumn = "amount",
) -> ir.Table:
    """The RFM summary (see the module docstring) as one Ibis expression, one row per customer.

    Parameters
    ----------
    con : BaseBackend
        The warehouse.
    calibration_end : date
        Last day of the calibration window (inclusive).
    time_unit : {"day", "week", "month"}
        Unit of ``recency``, ``T`` and ``duration_holdout``; purchases in one period merge.
    observation_end : date, optional
        Last day of the holdout window (inclusive); adds the holdout columns.
    units : collection of str, optional
        Only customers whose home unit is one of these (pass a whole subtree).
    value : {"amount", "margin"}
        Which column ``monetary_value`` averages. Missing margins are left out of the sums.
    """
    unit = _check_time_unit(time_unit)
    if value not in VALUE_COLUMNS:
        raise ValueError(f"value must be one of {', '.join(VALUE_COLUMNS)}, got {value!r}")
    cal_end = _as_date(calibration_end)
    obs_end = None if observation_end is None else _as_date(observation_end)
    if obs_end is not None and obs_end <= cal_end:
        raise ValueError(f"observation_end {obs_end} must be after calibration_end {cal_end}")

    transactions = scoped_transactions(con, units)
    calibration = transactions.filter(transactions.occurred_at < _day_after(cal_end))
    calibration = calibration.mutate(period=_engine_period(calibration.occurred_at, unit))
    periods = calibration.group_by(["customer_id", "period"]).aggregate(spent=calibration[value].sum())
    bounds = periods.group_by("customer_id").aggregate(
        first=periods.period.min(), last=periods.period.max(), purchases=periods.count()
    )
    with_first = periods.join(bounds.select("customer_id", "first"), "customer_id")
    repeats = with_first.filter(with_first.period > with_first.first)
    repeat_value = repeats.group_by("customer_id").aggregate(repeat_mean=repeats.spent.mean())
    end_period = period_index(cal_end, unit)
    summary = bounds.left_join(repeat_value, "customer_id").select(
        customer_id=bounds.customer_id,
        frequency=(bounds.purchases - 1).cast("int64"),
        recency=(bounds["last"] - bounds["first"]).cast("int64"),
        T=(ibis.literal(end_period, "int64") - bounds["first"]).cast("int64"),
        monetary_value=repeat_value.repeat_mean.fill_null(0.0).cast("float64"),
    )
    if obs_end is None:
        return summary

    holdout = transactions.filter(
        (transactions.occurred_at >= _day_after(cal_end)) & (transactions.occurred_at < _day_after(obs_end))
    )
    holdout = holdout.mutate(period=_engine_period(holdout.occurred_at, unit))
    holdout_stats = holdout.group_by("customer_id").aggregate(
        frequency_holdout=holdout.period.nunique(), monetary_value_holdout=holdout[value].mean()
    )
    duration = period_index(obs_end, unit) - end_period
    joined = summary.left_join(holdout_stats, "customer_id")
    return joined.select(
        *[summary[c] for c in summary.columns],
        frequency_holdout=joined.frequency_holdout.fill_null(0).cast("int64"),
        duration_holdout=ibis.literal(duration, "int64"),
        monetary_value_holdout=joined.monetary_value_holdout.fill_null(0.0).cast("float64"),
    )


def rfm_summary(
    con: BaseBackend,
    *,
    calibration_end: date | datetime | str,
    time_unit: TimeUnit = "week",
    observation_end: date | datetime | str | None = None,
    units: Iterable[str] | None = None,
    value: ValueColumn = "amount",
) -> pd.DataFrame:
    """:func:`rfm_expression` executed: a DataFrame indexed by ``customer_id`` (sorted).

    Row by row in Python: fine for tests and a few hundred thousand customers; fit models on
    :func:`rfm_compressed` instead.
    """
    expr = rfm_expression(
        con,
        calibration_end=calibration_end,
        time_unit=time_unit,
        observation_end=observation_end,
        units=units,
        value=value,
    )
    frame = con.execute(expr.order_by("customer_id"))
    return frame.set_index("customer_id")


def rfm_compressed(
    con: BaseBackend,
    *,
    calibration_end: date | datetime | str,
    time_unit: TimeUnit = "week",
    observation_end: date | datetime | str | None = None,
    units: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Distinct ``(frequency, recency, T)`` rows with ``weight`` (customers), grouped in the engine.

    With ``observation_end`` each row also carries ``frequency_holdout_sum`` (the group's total holdout
    purchase periods) and ``duration_holdout``, enough for the calibration/holdout comparison.
    """
    expr = rfm_expression(
        con,
        calibration_end=calibration_end,
        time_unit=time_unit,
        observation_end=observation_end,
        units=units,
    )
    metrics = {"weight": expr.count()}
    if observation_end is not None:
        metrics["frequency_holdout_sum"] = expr.frequency_holdout.sum()
        metrics["duration_holdout"] = expr.duration_holdout.max()
    grouped = expr.group_by(["frequency", "recency", "T"]).aggregate(**metrics)
    frame = con.execute(grouped.order_by(["frequency", "recency", "T"]))
    return frame.reset_index(drop=True)
