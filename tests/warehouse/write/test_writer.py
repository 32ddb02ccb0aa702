"""Atomic idempotent appends and the hierarchy mirror, on DuckDB (always) and Spark (marker ``spark``)."""

from __future__ import annotations

import uuid
from datetime import datetime

import numpy as np
import pyarrow as pa
import pytest

from cxloop.warehouse.connection import connect_spark, connect_url
from cxloop.warehouse.ingest.seen import SeenKeys
from cxloop.warehouse.schemas import ANSWERS, RESPONSES
from cxloop.warehouse.tables import ensure_tables
from cxloop.warehouse.write.failpoints import FailpointError, Failpoints
from cxloop.warehouse.write.hierarchy import build_hierarchy, closure, write_hierarchy
from cxloop.warehouse.write.writer import append_batch, writer_for

SCHEMA = pa.schema([f.with_nullable(True) for f in RESPONSES.schema.to_pyarrow()])
ANSWER_SCHEMA = pa.schema([f.with_nullable(True) for f in ANSWERS.schema.to_pyarrow()])


def responses(ids: list[str], nps: float = 9.0) -> pa.Table:
    n = len(ids)
    data = {
        "response_id": ids,
        "submitted_at": [datetime(2024, 5, 1, 10, i) for i in range(n)],
        "unit_id": ["b01"] * n,
        "customer_id": [None] * n,
        "survey_id": [None] * n,
        "touchpoint": ["web"] * n,
        "channel": [None] * n,
        "segment": [None] * n,
        "nps": [nps] * n,
        "csat": [None] * n,
        "ces": [3.0] * n,
        "comment": [None if i % 2 else f"c{i}" for i in range(n)],
    }
    return pa.Table.from_pydict(data, schema=SCHEMA)


def answers(ids: list[str]) -> pa.Table:
    return pa.Table.from_pydict(
        {
            "response_id": [i for i in ids for _ in range(2)],
            "item": ["a", "b"] * len(ids),
            "value": [1.0, 2.0] * len(ids),
        },
        schema=ANSWER_SCHEMA,
    )


@pytest.fixture
def duck():
    con = connect_url("duckdb://")
    ensure_tables(con)
    yield con
    con.disconnect()


def read(con, table: str) -> list[dict]:
    rows = con.table(table).to_pyarrow().to_pylist()
    return sorted(rows, key=lambda r: tuple(str(v) for v in r.values()))


def test_append_is_idempotent_and_counts_changed_duplicates(duck) -> None:
    writer = writer_for(duck)
    first = append_batch(writer, RESPONSES, responses(["r1", "r2"]), answers(["r1", "r2"]))
    assert (first.inserted, first.duplicates, first.changed, first.answers) == (2, 0, 0, 4)
    again = append_batch(writer, RESPONSES, responses(["r1", "r2", "r3"]), answers(["r1", "r2", "r3"]))
    assert (again.inserted, again.duplicates, again.changed, again.answers) == (1, 2, 0, 2)
    assert again.new.tolist() == [False, False, True]
    changed = append_batch(writer, RESPONSES, responses(["r1"], nps=0.0), answers(["r1"]))
    assert (changed.inserted, changed.duplicates, changed.changed) == (0, 1, 1)
    assert [r["nps"] for r in read(duck, "responses")] == [9.0, 9.0, 9.0]
    assert len(read(duck, "answers")) == 6


def test_a_failure_inside_the_transaction_leaves_nothing(duck) -> None:
    writer = writer_for(duck, Failpoints(name="import.inside_batch", action="raise"))
    with pytest.raises(FailpointError):
        append_batch(writer, RESPONSES, responses(["r1", "r2"]), answers(["r1", "r2"]))
    assert read(duck, "responses") == [] and read(duck, "answers") == []
    result = append_batch(writer, RESPONSES, responses(["r1", "r2"]), answers(["r1", "r2"]))
    assert result.inserted == 2 and len(read(duck, "answers")) == 4


def test_absent_values(duck) -> None:
    writer = writer_for(duck)
    duck.insert("customers", pa.table({"customer_id": ["c1"]}))
    assert sorted(
        writer.absent("customers", "customer_id", pa.array(["c1", "c2", None, "c2"])).to_pylist()
    ) == ["c2"]


def test_seen_keys_across_batches() -> None:
    seen = SeenKeys()
    repeat, first = seen.check(pa.array(["a", "b", "a", None]), np.array([1, 2, 3, 4]))
    assert repeat.tolist() == [False, False, True, False] and first[2] == 1
    repeat, first = seen.check(pa.array(["b", "c", None]), np.array([5, 6, 7]))
    assert repeat.tolist() == [True, False, False] and first[0] == 2
    seen.close()


def test_closure_of_a_forest_and_its_errors() -> None:
    pairs, depth = closure(["a", "b", "c", "d"], [None, "a", "b", "a"])
    assert set(zip(*pairs.to_pydict().values(), strict=True)) == {
        ("a", "a", 0),
        ("b", "b", 0),
        ("a", "b", 1),
        ("c", "c", 0),
        ("b", "c", 1),
        ("a", "c", 2),
        ("d", "d", 0),
        ("a", "d", 1),
    }
    assert depth.tolist() == [0, 1, 2, 1]
    with pytest.raises(ValueError, match="cycle"):
        closure(["a", "b", "r"], ["b", "a", None])
    with pytest.raises(ValueError, match="not a unit"):
        closure(["a"], ["zz"])


def test_closure_of_a_deep_chain_has_every_pair() -> None:
    n = 200
    ids = [f"u{i}" for i in range(n)]
    pairs, depth = closure(ids, [None, *ids[:-1]])
    assert pairs.num_rows == n * (n + 1) // 2 and depth.max() == n - 1


def test_write_hierarchy_replaces_the_mirror(duck) -> None:
    write_hierarchy(duck, build_hierarchy(["a", "b"], [None, "a"], ["A", "B"], ["company", "branch"]))
    write_hierarchy(duck, build_hierarchy(["a", "c"], [None, "a"], ["A", "C"], ["company", "branch"]))
    assert [r["unit_id"] for r in read(duck, "units")] == ["a", "c"]
    assert len(read(duck, "unit_closure")) == 3


@pytest.fixture
def spark(spark_session):
    name = f"cxloop_ingest_{uuid.uuid4().hex[:8]}"
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
def test_spark_round_trip_equals_duckdb(spark, duck) -> None:
    results = {}
    for name, con in (("duckdb", duck), ("spark", spark)):
        writer = writer_for(con)
        first = append_batch(writer, RESPONSES, responses(["r1", "r2"]), answers(["r1", "r2"]))
        again = append_batch(writer, RESPONSES, responses(["r2", "r3"]), answers(["r2", "r3"]))
        write_hierarchy(con, build_hierarchy(["a", "b"], [None, "a"], ["A", "B"], ["company", "branch"]))
        absent = writer.absent("responses", "response_id", pa.array(["r1", "r9"])).to_pylist()
        results[name] = (
            (first.inserted, again.inserted, again.duplicates, again.answers),
            read(con, "responses"),
            read(con, "answers"),
            read(con, "units"),
            read(con, "unit_closure"),
            absent,
        )
    assert results["spark"] == results["duckdb"]
    assert results["spark"][0] == (2, 1, 1, 2)
    assert results["spark"][1][1]["comment"] is None  # a null string stays null (not "NaN")
