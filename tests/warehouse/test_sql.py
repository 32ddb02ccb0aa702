"""Plain SQL with values bound by the engine, and the rule for values compared in a query.

Filter values reach hand-written statements only as ``?`` parameters (a quote or a NUL in one is data, not
SQL); the query objects refuse a control character with a ``ValueError`` (a 422 on the web, a message on
the command line) instead of the engine's parser error it caused when written into SQL text (Ibis writes
values as literals, and no SQL literal can hold NUL).
"""

from __future__ import annotations

import ibis
import pytest

from cxloop.warehouse.queries.cube import CubeQuery
from cxloop.warehouse.queries.driver_scope import DriverScope
from cxloop.warehouse.sql import check_printable, fetch_rows, inline_parameters


@pytest.fixture
def con():
    con = ibis.duckdb.connect()
    rows = "('o''brien', 1), ('a' || chr(0) || 'b', 2), ('x', 3)"
    con.raw_sql(f"CREATE TABLE t AS SELECT * FROM (VALUES {rows}) v(k, n)")
    yield con
    con.disconnect()


def test_values_are_bound_not_written_into_the_statement(con):
    sql = "SELECT n FROM t WHERE k IN (?, ?) ORDER BY n"
    assert [r["n"] for r in fetch_rows(con, sql, ["o'brien", "a\x00b"])] == [1, 2]
    assert fetch_rows(con, "SELECT n FROM t WHERE k = ?", ["x' OR '1'='1"]) == []
    assert fetch_rows(con, "SELECT count(*) AS c FROM t") == [{"c": 3}]


def test_engines_without_parameters_get_literals_sqlglot_escapes(con):
    sql = inline_parameters("SELECT n FROM t WHERE k = ? AND n < ?", ["o'brien", 5], "duckdb")
    assert sql == "SELECT n FROM t WHERE k = 'o''brien' AND n < 5"
    assert [r["n"] for r in fetch_rows(con, sql)] == [1]


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda v: CubeQuery(touchpoints={v}), id="cube-touchpoints"),
        pytest.param(lambda v: CubeQuery(segments=["ok", v]), id="cube-segments"),
        pytest.param(lambda v: CubeQuery(units={v}), id="cube-units"),
        pytest.param(lambda v: DriverScope(segments=v), id="driver-segment"),
        pytest.param(lambda v: DriverScope(unit_id=v), id="driver-unit"),
    ],
)
@pytest.mark.parametrize("value", ["a\x00b", "line\nbreak", "esc\x1b", "c1\x85"])
def test_query_objects_refuse_a_control_character(build, value):
    with pytest.raises(ValueError, match=r"holds a control character \(U\+00"):
        build(value)


def test_printable_values_pass():
    check_printable("segment", ["o'brien", "Zürich", "日本", "tab-free"])
    check_printable("q", None)
    assert CubeQuery(touchpoints={"o'brien"}).touchpoints == frozenset({"o'brien"})
