"""Undoing an import run in the warehouse (issue 21), on DuckDB and on Spark: after the undo every fact and
derived table holds what it held before the run (the monthly aggregates compared per cell: the writer
appends a batch's rows to a cell, a rebuild writes one row per cell with the same sums)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pyarrow as pa
import pytest

from cxloop.warehouse.connection import connect_url
from cxloop.warehouse.derived import data_version, driver_moments_monthly, responses_monthly
from cxloop.warehouse.derived.response_items import WIDE_TABLE
from cxloop.warehouse.schemas import RESPONSES, TRANSACTIONS
from cxloop.warehouse.tables import ensure_tables
from cxloop.warehouse.write.hierarchy import build_hierarchy, write_hierarchy
from cxloop.warehouse.write.undo import run_keys, undo_run
from cxloop.warehouse.write.writer import append_batch, writer_for
from support.warehouse_facts import COMPANY, example_answers, example_responses

ROWS = example_responses(seed=21, size=300)
SUMMED = {
    responses_monthly.TABLE: responses_monthly.KEY,
    driver_moments_monthly.TABLE: (*driver_moments_monthly.KEY, "items"),
}
COMPARED = ("responses", "answers", "transactions", WIDE_TABLE, *SUMMED)


def _answers(rows: pa.Table, items: list[str], seed: int) -> pa.Table:
    return example_answers(rows, items, seed, missing=0.1)


def _transactions(n: int, start: int) -> pa.Table:
    schema = pa.schema([f.with_nullable(True) for f in TRANSACTIONS.schema.to_pyarrow()])
    rows = [
        {"transaction_id": f"t{i}", "customer_id": f"c{i % 7}", "amount": float(i), "margin": None,
         "occurred_at": ROWS.column("submitted_at")[i].as_py(), "unit_id": "n1", "category": None}
        for i in range(start, start + n)
    ]  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema)


def _state(con) -> dict[str, list]:
    state: dict[str, list] = {}
    for name in COMPARED:
        if name not in con.list_tables():
            continue
        frame = con.table(name).to_pandas()
        if name in SUMMED:
            keys = [c for c in frame.columns if c in SUMMED[name]]
            frame = frame.fillna({k: "" for k in keys if frame[k].dtype == object})
            frame = frame.groupby(keys, dropna=False).sum(numeric_only=True).round(6).reset_index()
        frame = frame[sorted(frame.columns)]
        rows = sorted(
            (tuple(None if v != v else v for v in row) for row in frame.itertuples(index=False)), key=repr
        )
        if rows:
            state[name] = rows
    return state


def _undo_round_trip(con) -> None:
    ensure_tables(con)
    write_hierarchy(con, build_hierarchy(*[[u[i] for u in COMPANY] for i in range(4)]))
    writer = writer_for(con)
    first, second = ROWS.slice(0, 150), ROWS.slice(150, 150)
    append_batch(writer, RESPONSES, first, _answers(first, ["speed", "staff"], 1), run_id=1)
    append_batch(writer, TRANSACTIONS, _transactions(20, 0), run_id=2)
    before = _state(con)
    version = data_version.data_version(con)
    # run 3: new responses with a new item, over the same months; a duplicate of run 1 (not stored by run 3)
    third = pa.concat_tables([second, first.slice(0, 5)])
    append_batch(writer, RESPONSES, third, _answers(third, ["price", "speed", "staff"], 2), run_id=3)
    append_batch(writer, TRANSACTIONS, _transactions(10, 20), run_id=3)
    assert _state(con) != before
    keys = run_keys(con, 3)
    assert (len(keys.of("responses")), len(keys.of("transactions"))) == (150, 10)
    removed = undo_run(writer, 3, keys)
    assert removed["responses"] == 150 and removed["transactions"] == 10 and removed["answers"] > 300
    assert _state(con) == before
    after = data_version.data_version(con)
    assert after is not None and version is not None and after.version > version.version
    assert run_keys(con, 3).total == 0 and len(run_keys(con, 1).of("responses")) == 150
    assert not any(c.endswith("price") for c in con.table(WIDE_TABLE).columns)


def test_undo_on_duckdb() -> None:
    con = connect_url("duckdb://")
    try:
        _undo_round_trip(con)
    finally:
        con.disconnect()


@pytest.fixture
def spark_con(spark_session) -> Iterator[object]:
    from cxloop.warehouse.connection import connect_spark

    name = f"cxloop_undo_{uuid.uuid4().hex[:8]}"
    previous = spark_session.catalog.currentDatabase()
    spark_session.sql(f"CREATE DATABASE {name}")
    spark_session.catalog.setCurrentDatabase(name)
    try:
        yield connect_spark(spark_session)
    finally:
        spark_session.catalog.setCurrentDatabase(previous)
        spark_session.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


@pytest.mark.spark
def test_undo_on_spark(spark_con) -> None:
    _undo_round_trip(spark_con)
