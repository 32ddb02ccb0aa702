"""``driver_moments_monthly``: the importer's key-driver moments per leaf cell.

* on the demo (imported through the real pipeline) every scope the table can answer gives the numbers
  of the row path (``response_items``) to 1e-9: company, a region, a touchpoint, a segment, a
  month-aligned period, for each stated outcome, items in any order;
* scopes it cannot answer (a range cutting a month, a subset of items, two outcomes) fall back (plan);
* a re-import leaves the table unchanged; a new batch adds to it (and still agrees with the row path);
* a missing table is backfilled from ``response_items`` at the next import.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pytest

from cxloop.warehouse.connection import connect
from cxloop.warehouse.derived import driver_moments_monthly as dmm
from cxloop.warehouse.queries import monthly_moments
from cxloop.warehouse.queries.driver_stats import DriverScope, driver_moments
from cxloop.warehouse.schemas import ANSWERS, RESPONSES
from cxloop.warehouse.write.writer import append_batch, writer_for


@pytest.fixture(scope="module")
def demo_con(tmp_path_factory: pytest.TempPathFactory, demo_companies):
    data_dir = tmp_path_factory.mktemp("moments") / "data"
    settings = demo_companies.copy(0.02, 3, data_dir, secret_key="test-" + "m" * 40).settings
    con = connect(settings)
    yield con
    con.disconnect()


def _table(con) -> np.ndarray:
    frame = con.table(dmm.TABLE).to_pandas()
    keys = [*dmm.KEY]
    stats = [c for c in frame.columns if c not in (*keys, "items")]
    grouped = frame.fillna({"touchpoint": "", "segment": ""}).groupby(keys)[stats].sum(min_count=1)
    return grouped.sort_index()


def _same(a, b) -> None:
    assert a.names == b.names
    assert (a.n, a.n_responses) == (b.n, b.n_responses)
    np.testing.assert_allclose(a.sums, b.sums, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(a.cross, b.cross, rtol=1e-9, atol=1e-9)


def _scopes(con) -> dict[str, DriverScope]:
    units = con.table("units").to_pandas()
    region = str(units.loc[units.level == "region", "unit_id"].sort_values().iloc[0])
    responses = con.table("responses").to_pandas()
    touchpoint = str(responses.touchpoint.dropna().sort_values().iloc[0])
    segment = str(responses.segment.dropna().sort_values().iloc[-1])
    first = responses.submitted_at.min().date().replace(day=1)
    start = (first + timedelta(days=62)).replace(day=1)
    end = (start + timedelta(days=95)).replace(day=1) - timedelta(days=1)
    return {
        "company": DriverScope(),
        "region": DriverScope(unit_id=region),
        "touchpoint": DriverScope(touchpoints=touchpoint),
        "segment": DriverScope(segments=segment),
        "months": DriverScope(start=start, end=end),
        "region x segment x months": DriverScope(unit_id=region, segments=segment, start=start, end=end),
        # values are bound parameters: a quote is data (before, it was written into the SQL text)
        "quoted values": DriverScope(touchpoints={touchpoint, "o'brien"}, segments={segment, "x' OR '1'='1"}),
    }


def test_answers_like_the_row_path(demo_con):
    con = demo_con
    items = dmm.stored_items(con)
    assert items and dmm.usable(con)
    shuffled = list(reversed(items))
    for name, scope in _scopes(con).items():
        for outcome in dmm.OUTCOMES:
            assert monthly_moments.plan(con, scope, shuffled, [outcome]) is None, name
            fast = driver_moments(con, scope, shuffled, outcome)
            rows = driver_moments(con, scope, shuffled, outcome, source="response_items")
            _same(fast, rows)
            if outcome == "nps":
                assert fast.n > 0, name  # the scope really has complete responses
                assert rows.n_dropped >= 0


def test_falls_back_when_it_cannot_answer(demo_con):
    con = demo_con
    items = dmm.stored_items(con)
    assert items
    start = date(2025, 2, 11)
    assert "inside a month" in (monthly_moments.plan(con, DriverScope(start=start), items, ["nps"]) or "")
    assert "item set" in (monthly_moments.plan(con, DriverScope(), items[:-1], ["nps"]) or "")
    assert "one stated outcome" in (monthly_moments.plan(con, DriverScope(), items, ["nps", "csat"]) or "")
    assert monthly_moments.read(con, DriverScope(start=start), items, ["nps"]) is None


def test_reimport_unchanged_new_batch_adds_and_backfill(demo_con):
    con = demo_con
    items = dmm.stored_items(con)
    assert items
    before = _table(con)
    stored = con.table(RESPONSES.name).limit(300).to_pyarrow()
    ids = stored.column("response_id")
    answers = con.table(ANSWERS.name).to_pyarrow()
    import pyarrow.compute as pc

    mine = answers.filter(pc.is_in(answers.column("response_id"), value_set=ids))
    writer = writer_for(con)
    result = append_batch(writer, RESPONSES, stored, mine)
    assert result.inserted == 0 and result.duplicates == 300
    after = _table(con)
    assert after.equals(before)

    # a new batch: the same 300 responses under new ids
    fresh_ids = pa.array([f"NEW-{v}" for v in ids.to_pylist()])
    fresh = stored.set_column(stored.column_names.index("response_id"), "response_id", fresh_ids)
    renamed = pc.replace_substring_regex(mine.column("response_id"), "^", "NEW-")
    fresh_answers = mine.set_column(mine.column_names.index("response_id"), "response_id", renamed)
    assert append_batch(writer, RESPONSES, fresh, fresh_answers).inserted == 300
    grown = _table(con)
    assert int(grown.responses.sum()) == int(before.responses.sum()) + 300
    nps = grown.xs("nps", level="outcome").n.sum()
    assert nps > before.xs("nps", level="outcome").n.sum()
    for scope in _scopes(con).values():
        _same(
            driver_moments(con, scope, items, "nps"),
            driver_moments(con, scope, items, "nps", source="response_items"),
        )

    # dropped (an older warehouse): the next import rebuilds it with the same numbers
    con.drop_table(dmm.TABLE)
    assert monthly_moments.plan(con, DriverScope(), items, ["nps"]) == f"no {dmm.TABLE} table"
    append_batch(writer_for(con), RESPONSES, stored.slice(0, 0), mine.slice(0, 0))
    rebuilt = _table(con)
    assert dmm.usable(con)
    np.testing.assert_allclose(rebuilt.to_numpy(float), grown.to_numpy(float), rtol=1e-9)


@pytest.mark.spark
def test_on_spark_kept_at_import_and_read_like_the_row_path(spark_session, demo_con):
    import uuid

    from cxloop.warehouse.connection import connect_spark
    from cxloop.warehouse.tables import ensure_tables
    from cxloop.warehouse.write.hierarchy import build_hierarchy, write_hierarchy

    units = demo_con.table("units").to_pandas()
    rows = demo_con.table(RESPONSES.name).order_by("response_id").limit(1200).to_pyarrow()
    answers = demo_con.table(ANSWERS.name).to_pyarrow()
    import pyarrow.compute as pc

    answers = answers.filter(pc.is_in(answers.column("response_id"), value_set=rows.column("response_id")))
    name = f"cxloop_moments_{uuid.uuid4().hex[:8]}"
    previous = spark_session.catalog.currentDatabase()
    spark_session.sql(f"CREATE DATABASE {name}")
    spark_session.catalog.setCurrentDatabase(name)
    try:
        con = connect_spark(spark_session)
        ensure_tables(con)
        parents = [None if pd_na(p) else str(p) for p in units.parent_id]
        write_hierarchy(
            con, build_hierarchy(list(units.unit_id), parents, list(units.name), list(units.level))
        )
        writer = writer_for(con)
        for start in (0, 600):  # the first batch creates the table, the second adds to it
            part = rows.slice(start, 600)
            ids = part.column("response_id")
            append_batch(
                writer,
                RESPONSES,
                part,
                answers.filter(pc.is_in(answers.column("response_id"), value_set=ids)),
            )
        assert dmm.usable(con)
        items = dmm.stored_items(con)
        assert items
        region = str(units.loc[units.level == "region", "unit_id"].sort_values().iloc[0])
        touchpoint = str(rows.column("touchpoint").drop_null()[0])
        quoted = DriverScope(unit_id=region, touchpoints={touchpoint, "o'brien"})  # bound as Spark parameters
        for scope in (DriverScope(), DriverScope(unit_id=region), quoted):
            assert monthly_moments.plan(con, scope, items, ["nps"]) is None
            fast = driver_moments(con, scope, items, "nps")
            assert fast.n > 0
            _same(fast, driver_moments(con, scope, items, "nps", source="response_items"))
    finally:
        spark_session.catalog.setCurrentDatabase(previous)
        spark_session.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


def pd_na(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))
