"""The wide ``response_items`` table is kept in step with responses and answers by every batch.

Checked against a pandas pivot of what ``responses`` and ``answers`` hold, on DuckDB (transactions) and
on Spark (no transactions: a crash between responses and wide rows is repaired by the re-run).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cxloop.warehouse.connection import connect_spark, connect_url
from cxloop.warehouse.derived.response_items import BASE_COLUMNS, WIDE_TABLE, pivot_batch, wide_table_usable
from cxloop.warehouse.schemas import ANSWERS, RESPONSES
from cxloop.warehouse.tables import ensure_tables
from cxloop.warehouse.write.failpoints import FailpointError, Failpoints
from cxloop.warehouse.write.writer import append_batch, writer_for

SCHEMA = pa.schema([f.with_nullable(True) for f in RESPONSES.schema.to_pyarrow()])
ANSWER_SCHEMA = pa.schema([f.with_nullable(True) for f in ANSWERS.schema.to_pyarrow()])


def batch(
    ids: list[str], items: dict[str, list[float | None]], nps: float = 8.0
) -> tuple[pa.Table, pa.Table]:
    """Responses ``ids`` and their long answers (``None``: not answered)."""
    n = len(ids)
    rows = pa.Table.from_pydict(
        {
            "response_id": ids,
            "submitted_at": [datetime(2025, 3, 1, 9, i) for i in range(n)],
            "unit_id": ["b1" if i % 2 else "b2" for i in range(n)],
            "customer_id": [f"c{i}" if i % 3 else None for i in range(n)],
            "survey_id": ["s"] * n,
            "touchpoint": ["app"] * n,
            "channel": [None] * n,
            "segment": ["mass" if i % 2 else None for i in range(n)],
            "nps": [nps] * n,
            "csat": [4.0] * n,
            "ces": [None] * n,
            "comment": [None] * n,
        },
        schema=SCHEMA,
    )
    long = [
        (r, item, v)
        for item, values in items.items()
        for r, v in zip(ids, values, strict=True)
        if v is not None
    ]
    answers = pa.Table.from_pylist(
        [{"response_id": r, "item": i, "value": v} for r, i, v in long], schema=ANSWER_SCHEMA
    )
    return rows, answers


def expected(con) -> pd.DataFrame:
    """The wide table as pandas would pivot what responses and answers hold."""
    responses = con.table("responses").to_pandas().set_index("response_id")[list(BASE_COLUMNS[1:])]
    answers = con.table("answers").to_pandas()
    wide = answers.pivot(index="response_id", columns="item", values="value").add_prefix("q_")
    return responses.join(wide).sort_index()


def stored(con) -> pd.DataFrame:
    return con.table(WIDE_TABLE).to_pandas().set_index("response_id").sort_index()


def assert_mirrors(con) -> None:
    got, want = stored(con), expected(con)
    assert list(got.index) == list(want.index)
    assert sorted(got.columns) == sorted(want.columns)
    pd.testing.assert_frame_equal(got[want.columns], want, check_dtype=False)


def feed(con) -> list[int]:
    """Three batches: two items, a re-import with one new response, then a new item."""
    writer = writer_for(con)
    inserted = []
    rows, answers = batch(["r1", "r2", "r3"], {"wait": [1.0, None, 3.0], "staff": [5.0, 6.0, None]})
    inserted.append(append_batch(writer, RESPONSES, rows, answers).inserted)
    rows, answers = batch(["r2", "r3", "r4"], {"wait": [9.0, 9.0, 4.0], "staff": [9.0, 9.0, 7.0]}, nps=1.0)
    inserted.append(append_batch(writer, RESPONSES, rows, answers).inserted)
    rows, answers = batch(["r5", "r6"], {"wait": [2.0, 2.5], "price": [None, 8.0]})
    inserted.append(append_batch(writer, RESPONSES, rows, answers).inserted)
    return inserted


@pytest.fixture
def duck():
    con = connect_url("duckdb://")
    ensure_tables(con)
    yield con
    con.disconnect()


def test_every_batch_keeps_the_wide_table_in_step(duck) -> None:
    assert feed(duck) == [3, 1, 2]
    assert_mirrors(duck)
    wide = stored(duck)
    # a re-import never overwrites: r2 keeps its first answers; a new item is a new column, NULL before
    assert wide.loc["r2", "q_staff"] == 6.0 and np.isnan(wide.loc["r2", "q_wait"])
    assert np.isnan(wide.loc["r1", "q_price"]) and wide.loc["r6", "q_price"] == 8.0
    assert wide.loc["r5", "unit_id"] == "b2" and wide.loc["r6", "segment"] == "mass"
    assert wide_table_usable(duck, ["wait", "staff", "price"])
    assert not wide_table_usable(duck, ["wait", "never_asked"])
    again = feed(duck)  # the same batches again: nothing new anywhere
    assert again == [0, 0, 0] and len(stored(duck)) == 6


def test_a_failed_batch_leaves_no_wide_rows(duck) -> None:
    feed(duck)
    writer = writer_for(duck, Failpoints(name="import.inside_batch", action="raise"))
    rows, answers = batch(["r7", "r8"], {"wait": [1.0, 2.0], "speed": [3.0, 4.0]})
    with pytest.raises(FailpointError):
        append_batch(writer, RESPONSES, rows, answers)
    assert len(stored(duck)) == 6 and "q_speed" not in duck.table(WIDE_TABLE).columns
    assert_mirrors(duck)


def test_an_older_warehouse_is_backfilled_on_the_next_batch(duck) -> None:
    feed(duck)
    duck.drop_table(WIDE_TABLE)
    assert not wide_table_usable(duck, ["wait"])
    rows, answers = batch(["r9"], {"wait": [7.0], "speed": [2.0]})
    append_batch(writer_for(duck), RESPONSES, rows, answers)
    assert len(stored(duck)) == 7
    assert_mirrors(duck)
    assert wide_table_usable(duck, ["wait", "staff", "price", "speed"])


def test_a_count_mismatch_makes_the_table_unusable(duck) -> None:
    feed(duck)
    duck.insert("responses", batch(["zz"], {})[0])  # written around the import pipeline
    assert not wide_table_usable(duck, ["wait"])


def test_pivot_batch_ignores_answers_of_other_responses() -> None:
    rows, answers = batch(["a", "b"], {"x": [1.0, None], "y": [None, 2.0]})
    extra = pa.Table.from_pylist([{"response_id": "zz", "item": "x", "value": 5.0}], schema=ANSWER_SCHEMA)
    wide = pivot_batch(rows, pa.concat_tables([answers, extra]), ["x", "y", "z"]).to_pydict()
    assert wide["q_x"] == [1.0, None] and wide["q_y"] == [None, 2.0] and wide["q_z"] == [None, None]
    assert wide["response_id"] == ["a", "b"]


@pytest.fixture
def spark(spark_session):
    name = f"cxloop_wide_{uuid.uuid4().hex[:8]}"
    previous = spark_session.catalog.currentDatabase()
    spark_session.sql(f"CREATE DATABASE {name}")
    spark_session.catalog.setCurrentDatabase(name)
    try:
        con = connect_spark(spark_session)
        ensure_tables(con)
        yield con
    finally:
        spark_session.catalog.setCurrentDatabase(previous)
        spark_session.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


@pytest.mark.spark
def test_spark_keeps_the_same_wide_table_and_repairs_an_interrupted_batch(spark, duck) -> None:
    assert feed(spark) == feed(duck) == [3, 1, 2]
    assert_mirrors(spark)
    pd.testing.assert_frame_equal(stored(spark), stored(duck)[stored(spark).columns], check_dtype=False)
    # a crash after the responses and answers of a batch, before its wide rows (no transaction here)
    writer = writer_for(spark)
    rows, answers = batch(["r7", "r8"], {"wait": [1.0, 2.0]})
    writer.insert("answers", answers)
    writer.insert("responses", rows)
    assert not wide_table_usable(spark, ["wait"])
    result = append_batch(writer, RESPONSES, rows, answers)  # the re-run
    assert (result.inserted, result.duplicates) == (0, 2)
    assert_mirrors(spark)
    assert wide_table_usable(spark, ["wait", "staff", "price"])
