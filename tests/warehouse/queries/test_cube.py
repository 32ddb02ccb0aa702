"""The metrics cube on DuckDB (always) and Spark (marker ``spark``): same numbers as a direct pandas
computation, children roll up to their parent exactly, and both engines give identical cubes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cxloop.warehouse.connection import connect_spark, connect_url
from cxloop.warehouse.queries.cube import STATISTICS, CubeQuery, cube_expression, metric_cube
from support.warehouse_facts import (
    COMPANY,
    closure_rows,
    demo_tables,
    example_responses,
    load_warehouse,
    parents_of,
    responses_table,
)

PARENTS = parents_of(COMPANY)
LEVELS = {u[0]: u[3] for u in COMPANY}
PANDAS_FREQ = {"day": "D", "week": "W-SUN", "month": "M", "quarter": "Q", "year": "Y"}


# --- an independent pandas computation of the same cube ---------------------------------------------------


def oracle(
    responses: pd.DataFrame, query: CubeQuery, parents: dict[str, str | None] = PARENTS
) -> pd.DataFrame:
    """The cube computed row by row in pandas, with the scale rules written out again."""
    df = responses.copy()
    if query.first_day is not None:
        df = df[df.submitted_at >= pd.Timestamp(query.first_day)]
    if query.end_exclusive is not None:
        df = df[df.submitted_at < pd.Timestamp(query.end_exclusive)]
    for column, values in (
        ("touchpoint", query.touchpoints),
        ("channel", query.channels),
        ("segment", query.segments),
    ):
        if values is not None:
            df = df[df[column].isin(values)]
    if "period" in query.by:
        df["period"] = df.submitted_at.dt.to_period(PANDAS_FREQ[query.grain]).dt.start_time.astype(
            "datetime64[ns]"
        )
    nps, csat, ces = df.nps, df.csat, df.ces
    stats = pd.DataFrame(
        {
            "responses": 1,
            "nps_n": nps.between(0, 10).astype(int),
            "nps_detractors": ((nps >= 0) & (nps <= 6)).astype(int),
            "nps_passives": ((nps >= 7) & (nps <= 8)).astype(int),
            "nps_promoters": ((nps >= 9) & (nps <= 10)).astype(int),
            "csat_n": csat.between(1, 5).astype(int),
            "csat_top2": csat.isin([4.0, 5.0]).astype(int),
            "csat_sum": csat.where(csat.between(1, 5), 0.0),
            "csat_sumsq": (csat**2).where(csat.between(1, 5), 0.0),
            "ces_n": ces.between(1, 7).astype(int),
            "ces_easy": ces.isin([5.0, 6.0, 7.0]).astype(int),
            "ces_sum": ces.where(ces.between(1, 7), 0.0),
            "ces_sumsq": (ces**2).where(ces.between(1, 7), 0.0),
        },
        index=df.index,
    )
    columns = list(query.statistics)
    keys = [d for d in query.by if d not in ("unit", "level")]
    frame = pd.concat([df[keys + ["unit_id"]], stats], axis=1)
    if "unit" in query.by:
        pairs = pd.DataFrame(closure_rows(parents), columns=["unit", "unit_id", "distance"])
        if query.units is not None:
            pairs = pairs[pairs.unit.isin(query.units)]
        if query.levels is not None:
            pairs = pairs[pairs.unit.map(LEVELS).isin(query.levels)]
        frame = frame.merge(pairs[["unit", "unit_id"]], on="unit_id")
        keys = ["unit", *keys]
    elif query.units is not None:
        under = {u for a, u, _ in closure_rows(parents) if a in query.units}
        frame = frame[frame.unit_id.isin(under)]
    if keys:
        out = frame.groupby(keys, dropna=False, sort=True)[columns].sum().reset_index()
    else:
        out = frame[columns].sum().to_frame().T
    for c in columns:
        out[c] = out[c].astype("float64" if c.endswith(("_sum", "_sumsq")) else "int64")
    ordered = [d for d in query.by if d != "level"]
    return (
        out[ordered + columns].sort_values(ordered, ignore_index=True, na_position="first")
        if ordered
        else out[columns]
    )


def assert_same(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    actual = actual.drop(columns=[c for c in ("level",) if c in actual.columns])
    assert list(actual.columns) == list(expected.columns)
    assert len(actual) == len(expected)
    for column in expected.columns:
        a, e = actual[column].to_numpy(), expected[column].to_numpy()
        if column.endswith(("_sum", "_sumsq")):
            np.testing.assert_allclose(a, e, rtol=1e-12, err_msg=column)
        else:
            assert (a == e).all() or (pd.isna(a) & pd.isna(e) | (a == e)).all(), column


# --- engines ------------------------------------------------------------------------------------------------

RESPONSES = example_responses()
RESPONSES_PD = RESPONSES.to_pandas()
RESPONSES_PD["submitted_at"] = RESPONSES_PD.submitted_at.astype("datetime64[ns]")


@pytest.fixture(scope="module")
def duckdb_con():
    con = connect_url("duckdb://")
    load_warehouse(con, RESPONSES)
    return con


@pytest.fixture(scope="module")
def spark_database(spark_session) -> Iterator[str]:
    """A private database in the shared Spark session, filled once for this module."""
    name = f"cxloop_cube_{uuid.uuid4().hex[:8]}"
    previous = spark_session.catalog.currentDatabase()
    spark_session.sql(f"CREATE DATABASE {name}")
    spark_session.catalog.setCurrentDatabase(name)
    try:
        load_warehouse(connect_spark(spark_session), RESPONSES)
    finally:
        spark_session.catalog.setCurrentDatabase(previous)
    yield name
    spark_session.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")


@pytest.fixture
def spark_con(spark_session, spark_database):
    previous = spark_session.catalog.currentDatabase()
    spark_session.catalog.setCurrentDatabase(spark_database)
    yield connect_spark(spark_session)
    spark_session.catalog.setCurrentDatabase(previous)


@pytest.fixture(params=["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def con(request):
    return request.getfixturevalue(f"{request.param}_con")


QUERIES = {
    "unit x month": CubeQuery(),
    "unit x level x quarter, branches": CubeQuery(
        by=("unit", "level", "period"), grain="quarter", levels={"branch"}
    ),
    "unit x week x channel, 2025 Q1": CubeQuery(
        by=("unit", "period", "channel"), grain="week", start=date(2025, 1, 8), end=date(2025, 3, 30)
    ),
    "segment x year, north only": CubeQuery(by=("period", "segment"), grain="year", units={"north"}),
    "touchpoint, filtered": CubeQuery(
        by=("touchpoint",),
        touchpoints={"onboarding", "call_centre"},
        channels={"web"},
        metrics=("nps", "ces"),
    ),
    "everything, one cell": CubeQuery(by=(), metrics=("csat",)),
    "unit x day, one week": CubeQuery(
        by=("unit", "period"), grain="day", start=date(2024, 6, 3), end=date(2024, 6, 9)
    ),
}


# --- the cube against the oracle -------------------------------------------------------


@pytest.mark.parametrize("name", list(QUERIES))
def test_cube_matches_direct_computation(duckdb_con, name):
    # Spark is held to the same numbers by test_duckdb_and_spark_give_identical_cubes.
    query = QUERIES[name]
    assert_same(metric_cube(duckdb_con, query), oracle(RESPONSES_PD, query))


def test_rollup_and_direct_strategies_agree(con):
    query = CubeQuery(by=("unit", "period", "segment"), grain="quarter")
    assert metric_cube(con, query, strategy="rollup").equals(metric_cube(con, query, strategy="direct"))


def test_level_labels_the_unit_cells(duckdb_con):
    cube = metric_cube(duckdb_con, CubeQuery(by=("unit", "level"), metrics=("nps",)))
    levels = dict(zip(cube.unit, cube.level, strict=True))
    assert levels == {u[0]: u[3] for u in COMPANY}


def test_parent_is_the_sum_of_its_children_and_its_own_responses(duckdb_con):
    cube = metric_cube(duckdb_con, CubeQuery()).set_index(["unit", "period"])
    stats = list(cube.columns)
    filed_on_south = RESPONSES_PD[RESPONSES_PD.unit_id == "south"]
    south_own = oracle(filed_on_south, CubeQuery(by=("period",))).set_index("period")[stats]
    children = cube.loc["s1"][stats].add(cube.loc["s2"][stats], fill_value=0)
    rebuilt = children.add(south_own, fill_value=0)
    pd.testing.assert_frame_equal(
        rebuilt.astype(cube.loc["south"][stats].dtypes), cube.loc["south"][stats], check_names=False
    )
    assert (cube.loc["south"].nps_n > 0).all()


def test_off_scale_and_nan_scores_count_as_not_answered(duckdb_con):
    everything = metric_cube(duckdb_con, CubeQuery(by=()))
    assert everything.responses.iloc[0] == RESPONSES.num_rows
    nps = RESPONSES_PD.nps
    assert everything.nps_n.iloc[0] == int(nps.between(0, 10).sum()) < int(nps.notna().sum())
    assert everything.csat_n.iloc[0] == int(RESPONSES_PD.csat.between(1, 5).sum())
    row = everything.iloc[0]
    assert row.nps_detractors + row.nps_passives + row.nps_promoters == row.nps_n


def test_range_is_widened_to_whole_periods(duckdb_con):
    narrow = metric_cube(
        duckdb_con, CubeQuery(by=("period",), start=date(2024, 3, 20), end=date(2024, 3, 21))
    )
    whole = metric_cube(duckdb_con, CubeQuery(by=("period",), start=date(2024, 3, 1), end=date(2024, 3, 31)))
    assert narrow.equals(whole)
    assert narrow.period.tolist() == [pd.Timestamp("2024-03-01")]


def test_query_is_validated():
    with pytest.raises(ValueError, match="unknown dimension"):
        CubeQuery(by=("unit", "branch"))
    with pytest.raises(ValueError, match="level"):
        CubeQuery(by=("level",))
    with pytest.raises(ValueError, match="grain"):
        CubeQuery(grain="fortnight")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="metrics"):
        CubeQuery(metrics=("nps", "nps"))
    with pytest.raises(ValueError, match="before"):
        CubeQuery(start=date(2025, 1, 2), end=date(2025, 1, 1))
    with pytest.raises(TypeError, match="single string"):
        CubeQuery(units="north")  # type: ignore[arg-type]
    assert CubeQuery(units=["a", "b"]).units == frozenset({"a", "b"})


def test_one_expression_pushed_to_the_engine(duckdb_con):
    sql = str(ibis.to_sql(cube_expression(duckdb_con, CubeQuery())))
    assert sql.count("unit_closure") == 1
    assert "responses" in sql


def test_columns_follow_the_metrics_asked_for(duckdb_con):
    cube = metric_cube(duckdb_con, CubeQuery(metrics=("ces",)))
    assert list(cube.columns) == ["unit", "period", "responses", *STATISTICS["ces"]]


# --- Spark and DuckDB give identical cubes ----------------------------------------------------------------


@pytest.mark.spark
def test_duckdb_and_spark_give_identical_cubes(duckdb_con, spark_con):
    for name, query in QUERIES.items():
        on_duckdb = metric_cube(duckdb_con, query)
        on_spark = metric_cube(spark_con, query)
        pd.testing.assert_frame_equal(on_spark, on_duckdb, check_exact=True, obj=name)


# --- property: rollup of children equals the parent computed directly ------------------------------------


@st.composite
def small_companies(draw):
    size = draw(st.integers(1, 7))
    parents: dict[str, str | None] = {"u0": None}
    for i in range(1, size):
        parents[f"u{i}"] = f"u{draw(st.integers(0, i - 1))}"
    rows = draw(st.integers(0, 60))
    unit = draw(st.lists(st.sampled_from(sorted(parents)), min_size=rows, max_size=rows))
    day = draw(st.lists(st.integers(0, 120), min_size=rows, max_size=rows))
    score = st.one_of(st.none(), st.integers(-1, 11).map(float))
    nps = draw(st.lists(score, min_size=rows, max_size=rows))
    csat = draw(st.lists(score, min_size=rows, max_size=rows))
    ces = draw(st.lists(score, min_size=rows, max_size=rows))
    grain = draw(st.sampled_from(["week", "month", "quarter"]))
    return (
        parents,
        unit,
        [datetime(2024, 12, 1) + timedelta(days=d, hours=13) for d in day],
        nps,
        csat,
        ces,
        grain,
    )


@settings(max_examples=40, deadline=None)
@given(small_companies())
def test_rollup_equals_each_parent_computed_directly(case):
    parents, unit, when, nps, csat, ces, grain = case
    responses = responses_table(unit_id=unit, submitted_at=when, nps=nps, csat=csat, ces=ces)
    units = [(u, p, u.upper(), "unit") for u, p in parents.items()]
    con = connect_url("duckdb://")
    load_warehouse(con, responses, units)
    query = CubeQuery(grain=grain)
    cube = metric_cube(con, query)
    frame = responses.to_pandas()
    frame["submitted_at"] = frame.submitted_at.astype("datetime64[ns]")
    assert_same(cube, oracle(frame, query, parents))
    # and each parent is its own responses plus its children's cells
    stats = list(query.statistics)
    indexed = cube.set_index(["unit", "period"])[stats]
    for parent in parents:
        children = [u for u, p in parents.items() if p == parent]
        own = oracle(frame[frame.unit_id == parent], CubeQuery(by=("period",), grain=grain)).set_index(
            "period"
        )
        total = own[stats].astype("float64")
        for child in children:
            if child in indexed.index.get_level_values(0):
                total = total.add(indexed.loc[child], fill_value=0)
        expected = indexed.loc[parent] if parent in indexed.index.get_level_values(0) else total.iloc[:0]
        pd.testing.assert_frame_equal(total.astype("float64"), expected.astype("float64"), check_names=False)


# --- the demo company ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_company(demo_companies):
    return demo_tables(demo_companies.files(0.05, 11).directory)


DEMO_QUERIES = {
    "unit x month": CubeQuery(),
    "unit x level x quarter x touchpoint": CubeQuery(
        by=("unit", "level", "period", "touchpoint"), grain="quarter"
    ),
    "segment x channel x week, one quarter": CubeQuery(
        by=("period", "segment", "channel"), grain="week", start=date(2025, 4, 1), end=date(2025, 6, 30)
    ),
}


def test_demo_cube_matches_direct_computation(demo_company):
    units, responses = demo_company
    con = connect_url("duckdb://")
    load_warehouse(con, responses, units)
    frame = responses.to_pandas()
    frame["submitted_at"] = frame.submitted_at.astype("datetime64[ns]")
    parents = parents_of(units)
    for query in DEMO_QUERIES.values():
        if "level" in query.by:
            continue  # the oracle knows the example company's levels only
        assert_same(metric_cube(con, query), oracle(frame, query, parents))


@pytest.mark.spark
def test_duckdb_and_spark_give_identical_cubes_on_the_demo_company(demo_company, spark_session):
    units, responses = demo_company
    duck = connect_url("duckdb://")
    load_warehouse(duck, responses, units)
    name = f"cxloop_demo_{uuid.uuid4().hex[:8]}"
    previous = spark_session.catalog.currentDatabase()
    spark_session.sql(f"CREATE DATABASE {name}")
    spark_session.catalog.setCurrentDatabase(name)
    try:
        spark = connect_spark(spark_session)
        load_warehouse(spark, responses, units)
        # Weeks and the breakdowns are held to identical numbers on the example company above.
        for label in ("unit x month", "unit x level x quarter x touchpoint"):
            query = DEMO_QUERIES[label]
            expected = metric_cube(duck, query)
            assert len(expected) > 50
            pd.testing.assert_frame_equal(metric_cube(spark, query), expected, check_exact=True, obj=label)
    finally:
        spark_session.catalog.setCurrentDatabase(previous)
        spark_session.sql(f"DROP DATABASE IF EXISTS {name} CASCADE")
