"""Many driver items, and new ones, in ``driver_moments_monthly`` and the key-driver sums (issue 23).

* a batch that brings a new driver item rebuilds nothing: the sums of the old item set are dropped (no
  stored response answered the new item, so none is complete for the new set) and the batch's are added;
  the table then answers exactly like the row path, and a table rebuilt from the stored facts holds the
  same sums per cell;
* the key-driver sums split into statements of at most ``MAX_SUMS`` aggregates give the numbers of one
  statement on the row path;
* 200 driver items (one aggregate of all their sums killed DuckDB with SIGFPE from 179 items on): stored
  through the writer (the monthly table then keeps only its responses rows) and read through the wide table
  and a grouped analysis by unit and segment, in a subprocess so that a crash fails the test instead of
  ending the test run;
* on Spark, a new item drops the old sums through the writer (no DELETE there) and the table still answers
  like the rows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxloop.warehouse import cross_products
from cxloop.warehouse.connection import connect_url
from cxloop.warehouse.derived import driver_moments_monthly as dmm
from cxloop.warehouse.queries import monthly_moments
from cxloop.warehouse.queries.driver_scope import DriverScope
from cxloop.warehouse.queries.driver_stats import driver_moments, driver_moments_by
from cxloop.warehouse.schemas import RESPONSES
from cxloop.warehouse.tables import ensure_tables
from cxloop.warehouse.write.hierarchy import build_hierarchy, write_hierarchy
from cxloop.warehouse.write.writer import append_batch, writer_for
from support.warehouse_facts import COMPANY, example_answers, example_responses

ROWS = example_responses(seed=23, size=600)
_answers = example_answers


def _cells(con) -> pd.DataFrame:
    """The table's sums per cell and outcome (the rows of several batches added up), columns sorted."""
    frame = con.table(dmm.TABLE).to_pandas().drop(columns="items")
    summed = frame.groupby(list(dmm.KEY), dropna=False).sum(numeric_only=True, min_count=1).sort_index()
    return summed[sorted(summed.columns)]


def _warehouse():
    con = connect_url("duckdb://")
    ensure_tables(con)
    write_hierarchy(con, build_hierarchy(*[[u[i] for u in COMPANY] for i in range(4)]))
    return con


def test_a_new_item_rebuilds_nothing_and_answers_like_the_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    con = _warehouse()
    writer = writer_for(con)
    append_batch(writer, RESPONSES, ROWS.slice(0, 300), _answers(ROWS.slice(0, 300), ["speed", "staff"], 1))
    old = monthly_moments.read(con, DriverScope(), ["speed", "staff"], ["nps"])
    assert old is not None and old.n > 200

    scanned: list[str] = []
    monkeypatch.setattr(dmm, "rebuild", lambda writer: scanned.append("rebuild"))
    monkeypatch.setattr(dmm, "aggregate_sql", lambda *args: scanned.append("aggregate"))
    rows = ROWS.slice(300, 300)
    append_batch(writer, RESPONSES, rows, _answers(rows, ["price", "speed", "staff"], 2))
    assert scanned == []  # the new item cost no pass over the stored responses

    items = ["speed", "staff", "price"]  # the wide table's order: a new item's column comes last
    assert dmm.stored_items(con) == items and dmm.usable(con)
    for scope in (DriverScope(), DriverScope(unit_id="north"), DriverScope(segments="gold")):
        fast = monthly_moments.read(con, scope, list(reversed(items)), ["nps"])
        rows_path = driver_moments(con, scope, list(reversed(items)), "nps", source="response_items")
        assert fast is not None
        assert (fast.n, fast.n_responses) == (rows_path.n, rows_path.n_responses)
        np.testing.assert_allclose(fast.cross, rows_path.cross, rtol=1e-12)
    company = monthly_moments.read(con, DriverScope(), items, ["nps"])
    assert company is not None and 0 < company.n <= 300 and company.n_responses == 600
    # the old item set's sums are gone (they described none of the new set's complete responses)
    assert set(con.table(dmm.TABLE).to_pandas()["items"]) == {json.dumps(items)}

    monkeypatch.undo()
    kept = _cells(con)
    dmm.rebuild(writer_for(con))
    assert dmm.check(con)
    pd.testing.assert_frame_equal(_cells(con), kept, check_dtype=False, rtol=1e-12)


def test_sums_split_into_narrow_statements_add_up_to_one_statement(monkeypatch: pytest.MonkeyPatch) -> None:
    con = _warehouse()
    writer = writer_for(con)
    items = ["price", "speed", "staff", "wait"]
    for start in (0, 300):
        rows = ROWS.slice(start, 300)
        append_batch(writer, RESPONSES, rows, _answers(rows, items, start))
    scope = DriverScope(unit_id="north")
    whole = driver_moments(con, scope, items, ["nps", "csat"], source="response_items")
    by = driver_moments_by(con, DriverScope(), items, "nps", units=["north", "south"], by="segment")
    kept = _cells(con)

    monkeypatch.setattr(cross_products, "MAX_SUMS", 4)  # 28 sums: 7 statements
    split = driver_moments(con, scope, items, ["nps", "csat"], source="response_items")
    assert split.n == whole.n > 0 and split.n_responses == whole.n_responses
    np.testing.assert_allclose(split.cross, whole.cross, rtol=1e-12)
    np.testing.assert_allclose(split.sums, whole.sums, rtol=1e-12)
    for key, moments in driver_moments_by(
        con, DriverScope(), items, "nps", units=["north", "south"], by="segment"
    ).items():
        assert moments.n == by[key].n
        np.testing.assert_allclose(moments.cross, by[key].cross, rtol=1e-12)
    dmm.rebuild(writer)
    pd.testing.assert_frame_equal(_cells(con), kept, check_dtype=False, rtol=1e-12)


_MANY_ITEMS = """
import numpy as np, pyarrow as pa
from cxloop.warehouse.connection import connect_url
from cxloop.warehouse.derived import driver_moments_monthly as dmm
from cxloop.warehouse.queries import monthly_moments
from cxloop.warehouse.queries.driver_scope import DriverScope
from cxloop.warehouse.queries.driver_stats import driver_moments, driver_moments_by
from cxloop.warehouse.schemas import ANSWERS, RESPONSES
from cxloop.warehouse.tables import ensure_tables
from cxloop.warehouse.write.hierarchy import build_hierarchy, write_hierarchy
from cxloop.warehouse.write.writer import append_batch, writer_for
from support.warehouse_facts import COMPANY, example_answers, example_responses

con = connect_url("duckdb://")
ensure_tables(con)
write_hierarchy(con, build_hierarchy(*[[u[i] for u in COMPANY] for i in range(4)]))
rows = example_responses(seed=5, size=40)
items = [f"item{k:03d}" for k in range(200)]
rng = np.random.default_rng(5)
ids = rows.column("response_id").to_pylist()
answers = pa.table(
    {
        "response_id": [r for r in ids for _ in items],
        "item": [i for _ in ids for i in items],
        "value": rng.integers(0, 11, size=len(ids) * len(items)).astype(float),
    },
    schema=pa.schema([f.with_nullable(True) for f in ANSWERS.schema.to_pyarrow()]),
)
writer = writer_for(con)
append_batch(writer, RESPONSES, rows.slice(0, 20), answers.slice(0, 20 * len(items)))
append_batch(writer, RESPONSES, rows.slice(20), answers.slice(20 * len(items)))
assert dmm.usable(con) and dmm.stored_items(con) == items
assert "more than" in monthly_moments.plan(con, DriverScope(), items, ["nps"])
company = driver_moments(con, DriverScope(), items, "nps")
assert company.n > 0 and company.cross.shape == (201, 201)
# grouped by unit and segment: the aggregate that died with SIGFPE (exit -8) at 179 items and more
by = driver_moments_by(con, DriverScope(), items, "nps", units=["north", "south"], by="segment")
north_gold = driver_moments(con, DriverScope(unit_id="north", segments="gold"), items, "nps")
assert by[("north", "gold")].n == north_gold.n > 0
assert np.allclose(by[("north", "gold")].cross, north_gold.cross, rtol=1e-12)
dmm.rebuild(writer)
assert dmm.usable(con)
print("ok", company.n, len(by))
"""


def test_two_hundred_items_are_stored_and_read_without_killing_the_engine(tmp_path: Path) -> None:
    script = tmp_path / "many_items.py"
    script.write_text(textwrap.dedent(_MANY_ITEMS), encoding="utf-8")
    tests = Path(__file__).resolve().parents[2]
    src = tests.parent / "src"
    done = subprocess.run(  # noqa: S603 - our own script, run by this interpreter
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{tests}"},
        check=False,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-3000:])
    assert done.stdout.startswith("ok ")


@pytest.mark.spark
def test_on_spark_a_new_item_drops_the_old_sums_and_answers_like_the_rows(spark_session) -> None:
    import uuid

    from cxloop.warehouse.connection import connect_spark

    name = f"cxloop_items_{uuid.uuid4().hex[:8]}"
    previous = spark_session.catalog.currentDatabase()
    spark_session.sql(f"CREATE DATABASE {name}")
    spark_session.catalog.setCurrentDatabase(name)
    try:
        con = connect_spark(spark_session)
        ensure_tables(con)
        write_hierarchy(con, build_hierarchy(*[[u[i] for u in COMPANY] for i in range(4)]))
        writer = writer_for(con)
        first, second = ROWS.slice(0, 200), ROWS.slice(200, 200)
        append_batch(writer, RESPONSES, first, _answers(first, ["speed", "staff"], 1))
        append_batch(writer, RESPONSES, second, _answers(second, ["price", "speed", "staff"], 2))
        items = ["speed", "staff", "price"]
        assert dmm.stored_items(con) == items and dmm.usable(con)
        for scope in (DriverScope(), DriverScope(unit_id="north")):
            fast = monthly_moments.read(con, scope, items, ["nps"])
            rows_path = driver_moments(con, scope, items, "nps", source="response_items")
            assert fast is not None and fast.n == rows_path.n > 0
            assert fast.n_responses == rows_path.n_responses
            np.testing.assert_allclose(fast.cross, rows_path.cross, rtol=1e-12)
    finally:
        spark_session.catalog.setCurrentDatabase(previous)
        spark_session.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")
