"""RFM summaries in the engine, checked against lifetimes' summary_data_from_transaction_data."""

from __future__ import annotations

import warnings
from datetime import date

import ibis
import numpy as np
import pandas as pd
import pytest

from cxloop.warehouse.connection import connect_spark, connect_url
from cxloop.warehouse.queries.rfm import period_index, rfm_compressed, rfm_summary
from cxloop.warehouse.tables import ensure_tables

with warnings.catch_warnings():  # lifetimes 0.11.3 sets a pandas option that pandas 3 deprecates
    warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning, message=".*chained_assignment")
    from lifetimes.utils import calibration_and_holdout_data, summary_data_from_transaction_data

CAL_END = date(2024, 9, 30)
OBS_END = date(2024, 12, 31)
LIFETIMES_FREQ = {"day": "D", "week": "W"}


def synthetic_log(seed: int = 7, customers: int = 40) -> pd.DataFrame:
    """Midnight-stamped purchases over 2024 with same-day repeats, some customers only in the holdout."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(customers):
        first = pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 330)))
        n = int(rng.integers(1, 9))
        offsets = np.sort(rng.integers(0, 120, size=n))
        for k, offset in enumerate(offsets):
            day = first + pd.Timedelta(days=int(offset))
            if day > pd.Timestamp(OBS_END):
                continue
            repeats = 2 if k == 1 else 1  # a same-day second transaction for every second purchase
            for r in range(repeats):
                rows.append(
                    {
                        "transaction_id": f"t{c}-{k}-{r}",
                        "customer_id": f"c{c:02d}",
                        "occurred_at": day,
                        "amount": float(np.round(rng.gamma(2.0, 20.0) + 1.0, 2)),
                        "margin": float(np.round(rng.uniform(1.0, 10.0), 2)),
                        "unit_id": "u1",
                        "category": "a",
                    }
                )
    return pd.DataFrame(rows)


def customers_of(log: pd.DataFrame) -> pd.DataFrame:
    ids = sorted(log.customer_id.unique())
    return pd.DataFrame(
        {
            "customer_id": ids,
            "unit_id": ["u2" if i % 3 == 0 else "u3" for i in range(len(ids))],
            "segment": "retail",
            "acquired_at": pd.Timestamp("2024-01-01"),
            "acquisition_cost": 10.0,
        }
    )


def load(con, log: pd.DataFrame) -> None:
    ensure_tables(con)
    con.insert("transactions", log)
    con.insert("customers", customers_of(log))


@pytest.fixture
def log() -> pd.DataFrame:
    return synthetic_log()


@pytest.fixture
def duck(log):
    con = connect_url("duckdb://:memory:")
    load(con, log)
    return con


def lifetimes_summary(log: pd.DataFrame, time_unit: str, value: str = "amount") -> pd.DataFrame:
    calibration = log[log.occurred_at <= pd.Timestamp(CAL_END)]
    return summary_data_from_transaction_data(
        calibration,
        "customer_id",
        "occurred_at",
        monetary_value_col=value,
        observation_period_end=pd.Timestamp(CAL_END),
        freq=LIFETIMES_FREQ[time_unit],
    ).sort_index()


@pytest.mark.parametrize("time_unit", ["day", "week"])
def test_summary_equals_lifetimes(duck, log, time_unit):
    ours = rfm_summary(duck, calibration_end=CAL_END, time_unit=time_unit)
    theirs = lifetimes_summary(log, time_unit)
    assert list(ours.index) == list(theirs.index)
    for column in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(ours[column].to_numpy(float), theirs[column].to_numpy(), err_msg=column)
    np.testing.assert_allclose(ours.monetary_value, theirs.monetary_value, rtol=1e-12)
    # the synthetic log exercises what matters: merged same-day purchases and repeat customers
    assert (ours.frequency > 0).sum() >= 10
    assert (ours.frequency == 0).sum() >= 3


def test_margin_as_monetary_value(duck, log):
    ours = rfm_summary(duck, calibration_end=CAL_END, time_unit="day", value="margin")
    theirs = lifetimes_summary(log, "day", value="margin")
    np.testing.assert_allclose(ours.monetary_value, theirs.monetary_value, rtol=1e-12)
    amount = rfm_summary(duck, calibration_end=CAL_END, time_unit="day")
    assert not np.allclose(ours.monetary_value, amount.monetary_value)


@pytest.mark.parametrize("time_unit", ["day", "week"])
def test_holdout_equals_lifetimes(duck, log, time_unit):
    ours = rfm_summary(duck, calibration_end=CAL_END, observation_end=OBS_END, time_unit=time_unit)
    theirs = calibration_and_holdout_data(
        log,
        "customer_id",
        "occurred_at",
        calibration_period_end=pd.Timestamp(CAL_END),
        observation_period_end=pd.Timestamp(OBS_END),
        freq=LIFETIMES_FREQ[time_unit],
        monetary_value_col="amount",
    ).sort_index()
    assert list(ours.index) == list(theirs.index)
    pairs = {
        "frequency": "frequency_cal",
        "recency": "recency_cal",
        "T": "T_cal",
        "monetary_value": "monetary_value_cal",
        "frequency_holdout": "frequency_holdout",
        "duration_holdout": "duration_holdout",
        "monetary_value_holdout": "monetary_value_holdout",
    }
    for mine, lifetimes_column in pairs.items():
        np.testing.assert_allclose(
            ours[mine].to_numpy(float), theirs[lifetimes_column].to_numpy(), rtol=1e-12, err_msg=mine
        )
    assert ours.frequency_holdout.sum() > 0


def test_same_day_purchases_at_different_times_merge():
    con = connect_url("duckdb://:memory:")
    ensure_tables(con)
    stamps = ["2024-03-01 09:00", "2024-03-01 18:30", "2024-03-05 23:59", "2024-03-31 23:00"]
    con.insert(
        "transactions",
        pd.DataFrame(
            {
                "transaction_id": [f"t{i}" for i in range(4)],
                "customer_id": "c",
                "occurred_at": pd.to_datetime(stamps),
                "amount": [10.0, 5.0, 20.0, 40.0],
                "margin": [1.0, 1.0, 2.0, 4.0],
                "unit_id": "u",
                "category": "a",
            }
        ),
    )
    # the last purchase is late on the calibration day itself and still counts
    day = rfm_summary(con, calibration_end=date(2024, 3, 31), time_unit="day").loc["c"]
    assert (day.frequency, day.recency, day["T"], day.monetary_value) == (2, 30, 30, 30.0)
    month = rfm_summary(con, calibration_end=date(2024, 4, 15), time_unit="month").loc["c"]
    assert (month.frequency, month.recency, month["T"], month.monetary_value) == (0, 0, 1, 0.0)
    week = rfm_summary(con, calibration_end=date(2024, 3, 31), time_unit="week").loc["c"]
    # 2024-03-01 is a Friday (week of Feb 26), 03-05 the next week, 03-31 a Sunday of the week of Mar 25
    assert (week.frequency, week.recency, week["T"], week.monetary_value) == (2, 4, 4, 30.0)


def test_period_index_matches_the_calendar():
    assert period_index(date(1970, 1, 1), "day") == 0
    assert period_index(date(1970, 1, 5), "week") - period_index(date(1970, 1, 4), "week") == 1  # Monday
    assert period_index(date(2024, 3, 4), "week") == period_index(date(2024, 3, 10), "week")
    assert period_index(date(2024, 2, 29), "month") == 2024 * 12 + 1
    with pytest.raises(ValueError, match="time unit"):
        period_index(date(2024, 1, 1), "year")  # type: ignore[arg-type]


def test_engine_periods_match_python_over_leap_years_and_centuries():
    days = pd.to_datetime(
        ["1999-12-31", "2000-02-29", "2000-03-01", "2100-03-01", "2024-12-30", "1970-01-01"]
    )
    con = connect_url("duckdb://:memory:")
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(days))], "occurred_at": days})
    from cxloop.warehouse.queries.rfm import _engine_period

    t = ibis.memtable(frame)
    for unit in ("day", "week", "month"):
        result = con.execute(t.select(p=_engine_period(t.occurred_at, unit))).p.tolist()
        assert result == [period_index(d.date(), unit) for d in days], unit


def test_units_scope_follows_the_customers_home_unit(duck, log):
    scoped = rfm_summary(duck, calibration_end=CAL_END, units={"u2"})
    everyone = rfm_summary(duck, calibration_end=CAL_END)
    home = customers_of(log).set_index("customer_id").unit_id
    assert set(scoped.index) == {c for c in everyone.index if home[c] == "u2"}
    pd.testing.assert_frame_equal(scoped, everyone.loc[scoped.index])
    with pytest.raises(TypeError):
        rfm_summary(duck, calibration_end=CAL_END, units="u2")


def test_compressed_rows_weigh_the_customers(duck):
    summary = rfm_summary(duck, calibration_end=CAL_END, observation_end=OBS_END)
    compressed = rfm_compressed(duck, calibration_end=CAL_END, observation_end=OBS_END)
    assert compressed.weight.sum() == len(summary)
    expected = (
        summary.groupby(["frequency", "recency", "T"])
        .agg(weight=("frequency", "size"), frequency_holdout_sum=("frequency_holdout", "sum"))
        .reset_index()
    )
    np.testing.assert_array_equal(
        compressed[["frequency", "recency", "T", "weight", "frequency_holdout_sum"]].to_numpy(float),
        expected.to_numpy(float),
    )
    assert len(compressed) < len(summary)


def test_bad_arguments(duck):
    with pytest.raises(ValueError, match="observation_end"):
        rfm_summary(duck, calibration_end=CAL_END, observation_end=CAL_END)
    with pytest.raises(ValueError, match="value"):
        rfm_summary(duck, calibration_end=CAL_END, value="profit")  # type: ignore[arg-type]


@pytest.mark.spark
def test_spark_gives_the_same_numbers(spark_session, duck, log):
    con = connect_spark(spark_session)
    suffix = "rfm_test"
    for name, frame in (("transactions", log), ("customers", customers_of(log))):
        spark_session.createDataFrame(frame).createOrReplaceTempView(f"{name}_{suffix}")
    spark = _RenamedTables(con, suffix)
    for unit in ("day", "week"):
        ours = rfm_summary(
            spark, calibration_end=CAL_END, observation_end=OBS_END, time_unit=unit, units={"u3"}
        )
        reference = rfm_summary(
            duck, calibration_end=CAL_END, observation_end=OBS_END, time_unit=unit, units={"u3"}
        )
        pd.testing.assert_frame_equal(ours, reference, check_dtype=False)


class _RenamedTables:
    """The Spark backend with the test's temporary views standing in for the warehouse tables."""

    def __init__(self, con, suffix: str) -> None:
        self._con = con
        self._suffix = suffix

    def table(self, name: str):
        return self._con.table(f"{name}_{self._suffix}")

    def execute(self, expr):
        return self._con.execute(expr)
