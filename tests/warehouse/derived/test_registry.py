"""The derived tables: one list, one contract, and a rebuild that gives what the batches kept.

* every module of :mod:`cxloop.warehouse.derived` with an ``on_batch`` is listed in ``DERIVED_TABLES``,
  and every listed one has the whole contract (``TABLE``, ``SOURCE``, ``check``, ``on_batch``, ``rebuild``);
* a writer remembers what it checked on its own :class:`WriterState`, not on attributes set from outside;
* after imports in batches (a new driver item half way), every table passes its ``check``, fails it with
  rows pending, and its ``rebuild`` from the stored facts holds the same numbers (per cell for the
  monthly aggregates, per response for the wide table; the data version moves on).
"""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import cxloop.warehouse.derived
from cxloop.warehouse.connection import connect_url
from cxloop.warehouse.derived import data_version, driver_moments_monthly, response_items, responses_monthly
from cxloop.warehouse.derived.projection import WriterState
from cxloop.warehouse.derived.registry import DERIVED_TABLES, following
from cxloop.warehouse.queries import monthly_moments
from cxloop.warehouse.queries.driver_scope import DriverScope
from cxloop.warehouse.schemas import ANSWERS, CUSTOMERS, RESPONSES
from cxloop.warehouse.tables import ensure_tables
from cxloop.warehouse.write.hierarchy import build_hierarchy, write_hierarchy
from cxloop.warehouse.write.writer import append_batch, writer_for
from support.warehouse_facts import COMPANY, example_responses

ROWS = example_responses(seed=11, size=900)
ANSWER_SCHEMA = pa.schema([f.with_nullable(True) for f in ANSWERS.schema.to_pyarrow()])


def _answers(rows: pa.Table, items: list[str], seed: int) -> pa.Table:
    """Ratings 1-10 of ``items`` for ``rows``, about one in ten left unanswered."""
    rng = np.random.default_rng(seed)
    ids = rows.column("response_id").to_pylist()
    long = [
        {"response_id": r, "item": item, "value": float(rng.integers(1, 11))}
        for r in ids
        for item in items
        if rng.random() > 0.1
    ]
    return pa.Table.from_pylist(long, schema=ANSWER_SCHEMA)


@pytest.fixture(scope="module")
def con():
    con = connect_url("duckdb://")
    ensure_tables(con)
    units = [[u[i] for u in COMPANY] for i in range(4)]
    write_hierarchy(con, build_hierarchy(*units))
    writer = writer_for(con)
    for start, items in (
        (0, ["speed", "staff"]),
        (300, ["speed", "staff"]),
        (600, ["price", "speed", "staff"]),
    ):
        rows = ROWS.slice(start, 300)
        append_batch(writer, RESPONSES, rows, _answers(rows, items, seed=start))
    assert {responses_monthly.TABLE, driver_moments_monthly.TABLE} <= writer.state.checked
    return con


def test_every_derived_module_is_listed_once_with_the_whole_contract() -> None:
    package = cxloop.warehouse.derived
    modules = [
        importlib.import_module(f"{package.__name__}.{m.name}")
        for m in pkgutil.iter_modules(package.__path__)
    ]
    derived = {m for m in modules if hasattr(m, "on_batch")}
    assert derived == set(DERIVED_TABLES)
    assert len(DERIVED_TABLES) == len(set(DERIVED_TABLES))
    for table in DERIVED_TABLES:
        assert isinstance(table.TABLE, str)
        assert all(callable(getattr(table, name)) for name in ("check", "on_batch", "rebuild"))
    assert following(RESPONSES.name) == DERIVED_TABLES
    assert following(CUSTOMERS.name) == (data_version,)


def test_a_writer_owns_its_state() -> None:
    first, second = writer_for(connect_url("duckdb://")), writer_for(connect_url("duckdb://"))
    assert isinstance(first.state, WriterState) and first.state is not second.state
    assert first.state.checked == set() and first.state.appended == {}


def _cells(con, table: str, key: tuple[str, ...]) -> pd.DataFrame:
    frame = con.table(table).to_pandas()
    return frame.groupby(list(key), dropna=False).sum(numeric_only=True).sort_index()


def _wide(con) -> pd.DataFrame:
    frame = con.table(response_items.WIDE_TABLE).to_pandas().set_index("response_id").sort_index()
    return frame[sorted(frame.columns)]


def _moments(con) -> dict[str, tuple[int, np.ndarray, np.ndarray]]:
    """The key-driver sums read from ``driver_moments_monthly`` (in the asked variable order, whatever the
    table's) for a few scopes."""
    items = ["price", "speed", "staff"]
    scopes = {
        "all": DriverScope(),
        "north": DriverScope(unit_id="north"),
        "gold": DriverScope(segments="gold"),
    }
    out = {}
    for name, scope in scopes.items():
        moments = monthly_moments.read(con, scope, items, ["nps"])
        assert moments is not None, name
        out[name] = (moments.n, moments.sums, moments.cross)
    return out


def test_each_table_checks_and_rebuilds_to_what_the_batches_kept(con) -> None:
    for table in DERIVED_TABLES:
        assert table.check(con), table.TABLE
    for table in (response_items, responses_monthly, driver_moments_monthly):
        assert not table.check(con, pending=1), table.TABLE
    kept = {
        "wide": _wide(con),
        "months": _cells(con, responses_monthly.TABLE, responses_monthly.KEY),
        "moments": _moments(con),
    }
    version = data_version.data_version(con)
    assert version is not None
    writer = writer_for(con)
    for table in DERIVED_TABLES:
        table.rebuild(writer)
        assert table.check(con), table.TABLE
    pd.testing.assert_frame_equal(_wide(con), kept["wide"])
    pd.testing.assert_frame_equal(
        _cells(con, responses_monthly.TABLE, responses_monthly.KEY), kept["months"], check_dtype=False
    )
    for scope, (n, sums, cross) in _moments(con).items():
        want = kept["moments"][scope]
        assert n == want[0] and n > 0, scope
        np.testing.assert_allclose(sums, want[1], rtol=1e-12, err_msg=scope)
        np.testing.assert_allclose(cross, want[2], rtol=1e-12, err_msg=scope)
    rebuilt = data_version.data_version(con)
    assert rebuilt is not None and rebuilt.version > version.version
    assert rebuilt.warehouse_id == version.warehouse_id
