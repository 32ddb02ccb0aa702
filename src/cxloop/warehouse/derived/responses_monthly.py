"""``responses_monthly``: the metrics cube's leaf, kept by the importer so the cube never scans responses.

One row holds the cube's sufficient statistics (:data:`cxloop.warehouse.queries.cube.STATISTICS`, plus
``responses`` and ``comments``, the responses with a non-blank comment) of the responses of one leaf
cell::

    (unit_id, month, touchpoint, channel, segment) -> responses, comments, nps_n, nps_detractors, ...

``month`` is ``year * 12 + month - 1`` of ``submitted_at`` (the cube's own month key). Every statistic is
a sum, so any cube over months, quarters or years, any set of units, touchpoints, channels and segments,
is a sum over this table: at 10M demo responses it has ~20x fewer rows than ``responses``. Queries that
need days (day or week periods, a date range that cuts a month) still read ``responses``
(:func:`covers`).

Maintenance (:func:`on_batch`, called by :func:`cxloop.warehouse.write.writer.append_batch` for every
responses batch: file imports, the demo, API posts; this module is one of the derived tables of
:mod:`cxloop.warehouse.derived.registry`):

* **Same batch, same transaction.** The batch's new responses are aggregated by the engine (one SQL
  statement compiled once from the same Ibis expression the cube uses) and appended, inside the
  batch's transaction on DuckDB. Rows for the same cell from different batches simply add up; the
  writer compacts the table (one row per cell) every :data:`COMPACT_EVERY` appended rows.
* **Checked before it is trusted.** :func:`usable` compares its ``responses`` total with the row count
  of ``responses``; the cube reads it only when they agree, so a warehouse filled around the ingest
  layer, or a crash between the two writes on an engine without transactions (Spark), costs speed,
  never correctness. The first batch a writer appends checks the same and rebuilds the table from
  ``responses`` when it disagrees (:func:`rebuild`): an older warehouse gets its table at the next import.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from cxloop.warehouse.derived.projection import Batch, TableWriter
from cxloop.warehouse.schemas import RESPONSES
from cxloop.warehouse.scores import METRICS, fact_statistics
from cxloop.warehouse.sql import table_exists

__all__ = [
    "COMPACT_EVERY",
    "KEY",
    "SOURCE",
    "STATISTICS",
    "TABLE",
    "check",
    "compact",
    "covers",
    "has_comment",
    "month_key",
    "monthly_expression",
    "on_batch",
    "rebuild",
    "usable",
]

TABLE = "responses_monthly"
#: Kept from batches of ``responses``.
SOURCE: str | None = RESPONSES.name
KEY: tuple[str, ...] = ("unit_id", "month", "touchpoint", "channel", "segment")
_COUNTS = (
    "responses",
    "comments",
    "nps_n",
    "nps_detractors",
    "nps_promoters",
    "csat_n",
    "csat_top2",
    "ces_n",
    "ces_easy",
)
_SUMS = ("csat_sum", "csat_sumsq", "ces_sum", "ces_sumsq")
#: Statistic columns, in table order.
STATISTICS: tuple[str, ...] = (*_COUNTS, *_SUMS)
SCHEMA = ibis.schema(
    {
        "unit_id": dt.String(nullable=False),
        "month": dt.Int32(nullable=False),
        "touchpoint": dt.string,
        "channel": dt.string,
        "segment": dt.string,
        **{name: dt.Int64(nullable=False) for name in _COUNTS},
        **{name: dt.float64 for name in _SUMS},
    }
)
#: Appended rows after which a writer merges the table to one row per cell.
COMPACT_EVERY = 250_000
_BATCH_VIEW = "_cxloop_responses_batch"
_views = (f"_cxloop_monthly_{i}" for i in itertools.count())


def month_key(submitted_at: ir.TimestampValue) -> ir.IntegerValue:
    """``year * 12 + month - 1``: the cube's integer month key."""
    return (submitted_at.year() * 12 + submitted_at.month() - 1).cast("int32")


def has_comment(responses: ir.Table) -> ir.BooleanColumn:
    """The response carries a comment that is not blank."""
    return responses.comment.notnull() & (responses.comment.strip() != "")


def monthly_expression(responses: ir.Table) -> ir.Table:
    """``responses`` (or any table with its columns) aggregated to the leaf cells, as an Ibis expression."""
    facts = responses.mutate(month=month_key(responses.submitted_at))
    stats: dict[str, Any] = fact_statistics(facts, METRICS)
    stats["comments"] = has_comment(facts).cast("int32").sum()
    grouped = facts.group_by(list(KEY)).aggregate(**stats)
    return grouped.select(
        *KEY,
        **{name: grouped[name].fill_null(0).cast("int64") for name in _COUNTS},
        **{name: grouped[name].cast("float64") for name in _SUMS},
    )


@functools.cache
def _sql(source: str, dialect: str) -> str:
    """The aggregate over table ``source`` as SQL (compiled once: Ibis' compile costs more than a batch)."""
    return str(ibis.to_sql(monthly_expression(ibis.table(RESPONSES.schema, name=source)), dialect=dialect))


def covers(by_period: bool, grain: str, first_day: Any, end_exclusive: Any) -> bool:
    """Whether a cube query can be answered from months: month, quarter or year periods (or none),
    and a date range (already widened to whole periods) that starts and ends on a month boundary."""
    if by_period and grain not in ("month", "quarter", "year"):
        return False
    return all(day is None or day.day == 1 for day in (first_day, end_exclusive))


def usable(con: BaseBackend) -> bool:
    """The table exists and holds exactly the responses of ``responses`` (:func:`check`, for a reader: on
    DuckDB one query and no catalogue look-up)."""
    if con.name == "duckdb":  # a missing table raises instead of being looked up first
        import duckdb

        try:
            return _agrees(con, 0)
        except duckdb.CatalogException:
            return False
    tables = set(con.list_tables())
    if TABLE not in tables or RESPONSES.name not in tables:
        return False
    return _agrees(con, 0)


def _agrees(con: BaseBackend, pending: int) -> bool:
    """Whether the table counts every stored response except the last ``pending`` appended."""
    if con.name == "duckdb":
        row = con.con.execute(
            f"SELECT (SELECT count(*) FROM {RESPONSES.name}), (SELECT sum(responses) FROM {TABLE})"  # noqa: S608
        ).fetchone()
        stored, counted = row if row is not None else (0, 0)
    else:
        months, responses = con.table(TABLE), con.table(RESPONSES.name)
        stored = responses.count().to_pyarrow().as_py()
        counted = months.responses.sum().to_pyarrow().as_py()
    return int(stored or 0) - pending == int(counted or 0)


def check(con: BaseBackend, pending: int = 0) -> bool:
    """The table exists and counts every stored response but the last ``pending`` appended."""
    return table_exists(con, TABLE) and _agrees(con, pending)


def on_batch(writer: TableWriter, batch: Batch) -> None:
    """Add the statistics of the batch's new responses (just inserted into ``responses``, in the same
    transaction on DuckDB); the first batch of a writer checks the table and rebuilds it when it disagrees."""
    con, new, state = writer.con, batch.new, writer.state
    # Checked on a writer's first batch (and again if that batch was rolled back with the table).
    if TABLE not in state.checked or not table_exists(con, TABLE):
        state.checked.add(TABLE)
        if not check(con, new.num_rows):
            rebuild(writer)
            return
    if not new.num_rows:
        return
    rows = new.select(list(RESPONSES.schema.names))
    appended = 0
    if con.name == "duckdb":
        db = con.con
        db.register(_BATCH_VIEW, rows)
        try:
            result = db.execute(f"INSERT INTO {TABLE} BY NAME {_sql(_BATCH_VIEW, 'duckdb')}").fetchone()  # noqa: S608
        finally:
            db.unregister(_BATCH_VIEW)
        appended = int(result[0]) if result else 0
    else:
        cells = con.to_pyarrow(monthly_expression(ibis.memtable(rows)))
        writer.insert(TABLE, cells)
        appended = cells.num_rows
    state.appended[TABLE] = state.appended.get(TABLE, 0) + appended
    if state.appended[TABLE] >= COMPACT_EVERY:
        compact(writer)


def rebuild(writer: TableWriter) -> None:
    """Recompute the whole table from ``responses`` (creating it if needed)."""
    con = writer.con
    with writer.transaction():
        if TABLE not in con.list_tables():
            con.create_table(TABLE, schema=SCHEMA)
        if con.name == "duckdb":
            db = con.con
            db.execute(f"DELETE FROM {TABLE}")  # noqa: S608
            db.execute(f"INSERT INTO {TABLE} BY NAME {_sql(RESPONSES.name, 'duckdb')}")  # noqa: S608
        else:
            writer.replace(TABLE, con.to_pyarrow(monthly_expression(con.table(RESPONSES.name))))
    writer.state.appended[TABLE] = 0


def compact(writer: TableWriter) -> None:
    """Merge the rows of each cell into one (DuckDB; other engines keep the appended rows, which sum to
    the same numbers)."""
    con = writer.con
    if con.name == "duckdb":
        db = con.con
        merged = next(_views)
        sums = ", ".join(
            f"sum({name})::{'BIGINT' if name in _COUNTS else 'DOUBLE'} AS {name}" for name in STATISTICS
        )
        keys = ", ".join(KEY)
        with writer.transaction():
            db.execute(
                f"CREATE TEMP TABLE {merged} AS SELECT {keys}, {sums} FROM {TABLE} GROUP BY {keys}"  # noqa: S608
            )
            db.execute(f"DELETE FROM {TABLE}")  # noqa: S608
            db.execute(f"INSERT INTO {TABLE} BY NAME SELECT * FROM {merged}")  # noqa: S608
            db.execute(f"DROP TABLE {merged}")
    writer.state.appended[TABLE] = 0
