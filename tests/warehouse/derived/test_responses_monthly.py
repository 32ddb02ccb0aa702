"""The data version and the cube's monthly leaf aggregate, written through the ingest layer.

* every write through the ingest layer changes the data version, in the same transaction on DuckDB;
  duplicates and failed batches do not;
* ``responses_monthly`` kept by ``append_batch`` batch by batch (and compacted) gives exactly the cube of
  the raw responses for every query it covers, on DuckDB and on Spark, and the same cube on both;
* a leaf that disagrees with ``responses`` (rows written around the ingest layer) is never read, and the
  next import rebuilds it.
"""

from __future__ import annotations

import uuid
from datetime import date

import pandas as pd
import pyarrow as pa
import pytest

from cxloop.warehouse.connection import connect_spark, connect_url
from cxloop.warehouse.derived import responses_monthly
from cxloop.warehouse.derived.data_version import data_version
from cxloop.warehouse.queries.cube import CubeQuery, covers, metric_cube
from cxloop.warehouse.schemas import RESPONSES
from cxloop.warehouse.tables import ensure_tables
from cxloop.warehouse.write.failpoints import INSIDE_BATCH, Failpoints
from cxloop.warehouse.write.hierarchy import build_hierarchy, write_hierarchy
from cxloop.warehouse.write.writer import append_batch, writer_for
from support.warehouse_facts import COMPANY, example_responses, insert

RESPONSES_ROWS = example_responses(seed=3, size=2400)

#: Queries the monthly leaf can answer (months, quarters, years or none; month-aligned ranges).
COVERED = {
    "unit x month": CubeQuery(),
    "unit x level x quarter x touchpoint, branches": CubeQuery(
        by=("unit", "level", "period", "touchpoint"), grain="quarter", levels={"branch"}
    ),
    "segment x year, north only": CubeQuery(by=("period", "segment"), grain="year", units={"north"}),
    "channel x month, part of 2025": CubeQuery(
        by=("unit", "period", "channel"), start=date(2025, 2, 11), end=date(2025, 6, 3)
    ),
    "touchpoint, filtered": CubeQuery(
        by=("touchpoint",),
        touchpoints={"onboarding", "call_centre"},
        channels={"web"},
        metrics=("nps", "ces"),
    ),
    "everything, one cell, whole months": CubeQuery(
        by=(), metrics=("csat",), start=date(2024, 3, 1), end=date(2025, 8, 31)
    ),
}
NOT_COVERED = {
    "weeks": CubeQuery(by=("unit", "period"), grain="week"),
    "one cell, part months": CubeQuery(by=("unit",), start=date(2024, 3, 5), end=date(2025, 8, 31)),
}


def _hierarchy():
    return build_hierarchy(
        [u[0] for u in COMPANY], [u[1] for u in COMPANY], [u[2] for u in COMPANY], [u[3] for u in COMPANY]
    )


def _import(con, rows: pa.Table, batch: int = 700) -> None:
    """Write ``rows`` through the ingest layer in batches, as an import does."""
    writer = writer_for(con)
    for start in range(0, rows.num_rows, batch):
        append_batch(writer, RESPONSES, rows.slice(start, batch))


@pytest.fixture(scope="module")
def duckdb_con():
    con = connect_url("duckdb://")
    ensure_tables(con)
    write_hierarchy(con, _hierarchy())
    _import(con, RESPONSES_ROWS)
    return con


def test_covers_months_quarters_years_and_month_ranges_only():
    assert all(covers(q) for q in COVERED.values())
    assert not any(covers(q) for q in NOT_COVERED.values())


@pytest.mark.parametrize("name", list(COVERED))
def test_monthly_leaf_gives_the_cube_of_the_raw_responses(duckdb_con, name):
    query = COVERED[name]
    assert responses_monthly.usable(duckdb_con)
    raw = metric_cube(duckdb_con, query, source="responses")
    assert len(raw) > 0
    pd.testing.assert_frame_equal(metric_cube(duckdb_con, query, source="monthly"), raw, check_exact=True)
    pd.testing.assert_frame_equal(metric_cube(duckdb_con, query), raw, check_exact=True)  # auto


def test_queries_the_leaf_cannot_answer_read_the_responses(duckdb_con):
    for query in NOT_COVERED.values():
        with pytest.raises(ValueError, match="monthly aggregate"):
            metric_cube(duckdb_con, query, source="monthly")
        pd.testing.assert_frame_equal(
            metric_cube(duckdb_con, query),
            metric_cube(duckdb_con, query, source="responses"),
            check_exact=True,
        )


def test_the_leaf_counts_every_response_in_fewer_rows(duckdb_con):
    months = duckdb_con.table(responses_monthly.TABLE).to_pyarrow()
    assert sum(months.column("responses").to_pylist()) == RESPONSES_ROWS.num_rows
    assert months.num_rows < RESPONSES_ROWS.num_rows  # ~20x fewer on the 10M demo (docs/benchmarks.md)


def test_batches_add_up_and_compaction_keeps_the_numbers(monkeypatch):
    con = connect_url("duckdb://")
    ensure_tables(con)
    write_hierarchy(con, _hierarchy())
    monkeypatch.setattr(responses_monthly, "COMPACT_EVERY", 10**9)
    _import(con, RESPONSES_ROWS, batch=300)  # eight batches: cells repeat across them
    appended = con.table(responses_monthly.TABLE).count().to_pyarrow().as_py()
    before = metric_cube(con, CubeQuery(by=("unit", "period", "segment")), source="monthly")
    responses_monthly.compact(writer_for(con))
    keys = con.table(responses_monthly.TABLE).select(*responses_monthly.KEY).distinct().count()
    compacted = con.table(responses_monthly.TABLE).count().to_pyarrow().as_py()
    assert compacted == keys.to_pyarrow().as_py() < appended
    after = metric_cube(con, CubeQuery(by=("unit", "period", "segment")), source="monthly")
    pd.testing.assert_frame_equal(after, before, check_exact=True)
    pd.testing.assert_frame_equal(
        after,
        metric_cube(con, CubeQuery(by=("unit", "period", "segment")), source="responses"),
        check_exact=True,
    )


def test_rows_written_around_the_ingest_layer_are_never_missed_and_the_next_import_repairs():
    con = connect_url("duckdb://")
    ensure_tables(con)
    write_hierarchy(con, _hierarchy())
    first, rest = RESPONSES_ROWS.slice(0, 1500), RESPONSES_ROWS.slice(1500)
    _import(con, first)
    insert(con, "responses", rest.slice(0, 400))  # an ad hoc INSERT, not through the ingest layer
    assert not responses_monthly.usable(con)
    query = CubeQuery(by=("unit", "period"))
    raw = metric_cube(con, query, source="responses")
    pd.testing.assert_frame_equal(metric_cube(con, query), raw, check_exact=True)  # auto reads responses
    _import(con, rest.slice(400))  # the next import checks the leaf and rebuilds it
    assert responses_monthly.usable(con)
    pd.testing.assert_frame_equal(
        metric_cube(con, query, source="monthly"),
        metric_cube(con, query, source="responses"),
        check_exact=True,
    )


def test_an_older_warehouse_gets_its_leaf_at_the_next_import():
    con = connect_url("duckdb://")
    ensure_tables(con)
    write_hierarchy(con, _hierarchy())
    insert(con, "responses", RESPONSES_ROWS.slice(0, 2000))  # before the leaf existed
    assert not responses_monthly.usable(con)
    _import(con, RESPONSES_ROWS.slice(2000))
    assert responses_monthly.usable(con)
    assert con.table(responses_monthly.TABLE).responses.sum().to_pyarrow().as_py() == RESPONSES_ROWS.num_rows


# --- the data version -----------------------------------------------------------------------------------


def test_every_write_changes_the_data_version_and_nothing_else_does():
    con = connect_url("duckdb://")
    ensure_tables(con)
    assert data_version(con) is None  # nothing written through the ingest layer yet: never cached
    write_hierarchy(con, _hierarchy())
    after_units = data_version(con)
    assert after_units is not None
    writer = writer_for(con)
    append_batch(writer, RESPONSES, RESPONSES_ROWS.slice(0, 10))
    after_batch = data_version(con)
    assert after_batch.warehouse_id == after_units.warehouse_id
    assert after_batch.version > after_units.version
    assert after_batch.responses == 10
    append_batch(writer, RESPONSES, RESPONSES_ROWS.slice(0, 10))  # all duplicates: nothing written
    assert data_version(con) == after_batch
    failing = writer_for(con, Failpoints(name=INSIDE_BATCH, action="raise"))
    with pytest.raises(Exception, match="failpoint"):
        append_batch(failing, RESPONSES, RESPONSES_ROWS.slice(10, 10))
    assert data_version(con) == after_batch  # rolled back with the rows
    append_batch(writer, RESPONSES, RESPONSES_ROWS.slice(10, 1))
    assert data_version(con).version == after_batch.version + 1


def test_two_warehouses_never_share_a_version():
    one, two = connect_url("duckdb://"), connect_url("duckdb://")
    for con in (one, two):
        ensure_tables(con)
        write_hierarchy(con, _hierarchy())
    assert data_version(one).warehouse_id != data_version(two).warehouse_id


def test_a_row_appended_around_the_ingest_layer_still_changes_the_version(duckdb_con):
    con = connect_url("duckdb://")
    ensure_tables(con)
    write_hierarchy(con, _hierarchy())
    _import(con, RESPONSES_ROWS.slice(0, 100))
    before = data_version(con)
    insert(con, "responses", RESPONSES_ROWS.slice(100, 1))
    assert data_version(con) != before


# --- Spark ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spark_con(spark_session):
    name = f"cxloop_months_{uuid.uuid4().hex[:8]}"
    previous = spark_session.catalog.currentDatabase()
    spark_session.sql(f"CREATE DATABASE {name}")
    spark_session.catalog.setCurrentDatabase(name)
    # Temporary views are session-wide and shadow tables of any database: one left by an earlier Spark test
    # (a view named ``units``, say) turned this module's insert into an unresolvable plan in the full suite.
    for table in spark_session.catalog.listTables():
        if table.isTemporary:
            spark_session.catalog.dropTempView(table.name)
    try:
        con = connect_spark(spark_session)
        ensure_tables(con)
        write_hierarchy(con, _hierarchy())
        _import(con, RESPONSES_ROWS, batch=1200)
        yield con
    finally:
        spark_session.catalog.setCurrentDatabase(previous)
        spark_session.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


@pytest.mark.spark
def test_on_spark_the_leaf_matches_the_raw_responses_and_duckdb(spark_session, spark_con, duckdb_con):
    previous = spark_session.catalog.currentDatabase()
    spark_session.catalog.setCurrentDatabase(spark_con._session.catalog.currentDatabase())
    try:
        assert responses_monthly.usable(spark_con)
        version = data_version(spark_con)
        assert version is not None and version.version >= 3
        for name in (
            "unit x month",
            "unit x level x quarter x touchpoint, branches",
            "channel x month, part of 2025",
        ):
            query = COVERED[name]
            on_duckdb = metric_cube(duckdb_con, query, source="responses")
            monthly = metric_cube(spark_con, query, source="monthly")
            pd.testing.assert_frame_equal(
                monthly, metric_cube(spark_con, query, source="responses"), obj=name
            )
            pd.testing.assert_frame_equal(monthly, on_duckdb, check_exact=True, obj=name)
    finally:
        spark_session.catalog.setCurrentDatabase(previous)
