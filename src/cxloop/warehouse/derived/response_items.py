"""The wide ``response_items`` table: one row per response, one column per driver item.

``answers(response_id, item, value)`` is the source of truth for driver items; it is long, so every key
driver analysis would have to pivot it (most of the engine time: docs/drivers.md). The importer
therefore keeps a materialised wide copy beside it::

    response_items(response_id, submitted_at, unit_id, customer_id, touchpoint, segment,
                   nps, csat, ces, q_<item 1>, q_<item 2>, ...)

It carries what a driver analysis filters and explains by (scope columns, headline scores, the
customer for behavioural outcomes), so :mod:`cxloop.warehouse.queries.driver_stats` reads this one table with
no join and no pivot.

Maintenance (:func:`on_batch`, called by :func:`cxloop.warehouse.write.writer.append_batch` for every
responses batch, whichever path it came from: file import, survey-tool export, API; the first of the
derived tables of :mod:`cxloop.warehouse.derived.registry`):

* **Same batch, same transaction.** The batch's answers are already in memory: they are pivoted there
  (numpy scatter) and appended with the responses and answers, inside the batch's transaction on DuckDB
  (all or nothing). On engines without transactions (Spark) the wide rows are written *after* the
  responses; a crash in between leaves responses without their wide row, which the next import of the
  same file repairs (stored responses missing from the wide table are rebuilt from the stored answers),
  and :func:`wide_table_usable` refuses to read an incomplete table meanwhile.
* **Idempotent.** A response gets its wide row once (by ``response_id``): a re-import writes nothing
  new, a repair writes only what is missing.
* **New items add a column.** A driver item first seen adds ``q_<item>`` (``ALTER TABLE ... ADD
  COLUMN``, a metadata change on DuckDB and Spark); older responses read NULL there (not asked).
* **Created on first use, backfilled.** A warehouse that already holds responses (an upgrade) gets the
  table built once from ``responses`` and ``answers`` in the engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from cxloop.warehouse.derived.projection import Batch, TableWriter
from cxloop.warehouse.schemas import ANSWERS, RESPONSES
from cxloop.warehouse.sql import quote_identifier

__all__ = [
    "BASE_COLUMNS",
    "ITEM_PREFIX",
    "SOURCE",
    "TABLE",
    "WIDE_TABLE",
    "build_from_answers",
    "check",
    "item_column",
    "items_of",
    "on_batch",
    "pivot_batch",
    "rebuild",
    "wide_columns",
    "wide_table_usable",
    "write_response_items",
]

WIDE_TABLE = "response_items"
TABLE = WIDE_TABLE
#: Kept from batches of ``responses``.
SOURCE: str | None = RESPONSES.name
ITEM_PREFIX = "q_"
"""Item columns are named ``q_<item>`` (as in the import file), so no item can clash with a header."""

BASE_COLUMNS: tuple[str, ...] = (
    "response_id",
    "submitted_at",
    "unit_id",
    "customer_id",
    "touchpoint",
    "segment",
    "nps",
    "csat",
    "ces",
)
BASE_SCHEMA = ibis.schema({name: RESPONSES.schema[name] for name in BASE_COLUMNS})


def item_column(item: str) -> str:
    """The wide table's column for driver item ``item``."""
    return ITEM_PREFIX + item


def items_of(columns: Iterable[str]) -> list[str]:
    """The driver items that have a column among ``columns``."""
    return [c.removeprefix(ITEM_PREFIX) for c in columns if c.startswith(ITEM_PREFIX)]


def wide_columns(con: BaseBackend) -> list[str] | None:
    """The wide table's columns in table order, or ``None`` when it does not exist yet.

    On DuckDB one catalogue query, far cheaper than Ibis' table listing and schema lookup, which every
    imported batch would pay (a real-time post is one small batch).
    """
    if con.name == "duckdb":
        rows = con.con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
            "AND database_name = current_database() AND schema_name = current_schema() ORDER BY column_index",
            [WIDE_TABLE],
        ).fetchall()
        return [row[0] for row in rows] or None
    if WIDE_TABLE not in con.list_tables():
        return None
    return list(con.table(WIDE_TABLE).columns)


def wide_table_usable(con: BaseBackend, items: Sequence[str]) -> bool:
    """Whether ``response_items`` exists, has a column for every item, and mirrors every response.

    The count check (one small aggregate) guards against an incomplete table: a crash between the
    responses and their wide rows on an engine without transactions, or responses written around the
    import pipeline. The analysis then pivots ``answers`` instead (same numbers, slower).
    """
    if WIDE_TABLE not in con.list_tables():
        return False
    if not {item_column(i) for i in items} <= set(con.table(WIDE_TABLE).columns):
        return False
    return _mirrors(con, 0)


def _mirrors(con: BaseBackend, pending: int) -> bool:
    """Whether the table has a row for every stored response but the last ``pending`` appended."""
    wide, responses = con.table(WIDE_TABLE), con.table(RESPONSES.name)
    counts = wide.aggregate(wide=wide.count()).cross_join(responses.aggregate(responses=responses.count()))
    row = con.execute(counts).iloc[0]
    return int(row["wide"]) == int(row["responses"]) - pending


def check(con: BaseBackend, pending: int = 0) -> bool:
    """The table exists and has a row for every stored response but the last ``pending`` appended."""
    return wide_columns(con) is not None and _mirrors(con, pending)


def pivot_batch(rows: pa.Table, answers: pa.Table | None, items: Sequence[str]) -> pa.Table:
    """Wide rows for ``rows`` (responses) from their long ``answers``, one float64 column per item.

    Items a response did not answer are NULL; answers of responses not in ``rows`` are ignored.
    """
    n = rows.num_rows
    columns: dict[str, pa.Array] = {
        name: rows.column(name).combine_chunks().cast(BASE_SCHEMA[name].to_pyarrow()) for name in BASE_COLUMNS
    }
    values = np.zeros((n, len(items)))
    given = np.zeros((n, len(items)), dtype=bool)
    if answers is not None and answers.num_rows and n and items:
        position = pc.index_in(answers.column("response_id"), value_set=rows.column("response_id"))
        code = pc.index_in(answers.column("item"), value_set=pa.array(list(items), pa.string()))
        keep = pc.and_(pc.is_valid(position), pc.is_valid(code))
        at = pc.filter(position, keep).to_numpy(zero_copy_only=False).astype(np.int64)
        which = pc.filter(code, keep).to_numpy(zero_copy_only=False).astype(np.int64)
        answered = pc.filter(answers.column("value"), keep).cast(pa.float64())
        values[at, which] = answered.to_numpy(zero_copy_only=False)
        given[at, which] = True
    for k, item in enumerate(items):
        columns[item_column(item)] = pa.array(values[:, k], pa.float64(), mask=~given[:, k])
    return pa.table(columns)


def build_from_answers(con: BaseBackend, items: Sequence[str]) -> ibis.Table:
    """The wide table as an engine expression over ``responses`` and ``answers`` (for the backfill)."""
    responses = con.table(RESPONSES.name).select(*BASE_COLUMNS)
    if not items:
        return responses
    answers = con.table(ANSWERS.name)
    pivot = answers.group_by("response_id").aggregate(
        **{
            item_column(item): (answers.item == item).ifelse(answers.value, ibis.null("float64")).max()
            for item in items
        }
    )
    return responses.left_join(pivot, "response_id").select(
        *BASE_COLUMNS, *(pivot[item_column(i)].cast("float64") for i in items)
    )


def _stored_items(con: BaseBackend) -> list[str]:
    answers = con.table(ANSWERS.name)
    return sorted(str(v) for v in con.execute(answers.select("item").distinct())["item"])


def _create_empty(con: BaseBackend, items: Sequence[str]) -> None:
    schema = {**dict(BASE_SCHEMA.items()), **{item_column(i): dt.float64 for i in items}}
    if con.name == "duckdb":
        # raw DDL: runs inside the batch's open transaction on the same connection
        columns = ", ".join(
            f"{quote_identifier(name, 'duckdb')} {_duck_type(dtype)}" for name, dtype in schema.items()
        )
        con.raw_sql(f"CREATE TABLE {quote_identifier(WIDE_TABLE, 'duckdb')} ({columns})")
    else:
        con.create_table(WIDE_TABLE, schema=ibis.schema(schema))


def _create_filled(con: BaseBackend, items: Sequence[str]) -> None:
    """Build the table from every stored response and answer, in the engine (once, on an upgrade). The
    columns of ``items`` that still have answers come first, in that order (a rebuild keeps the table's
    column order, so the item sets the monthly driver sums are labelled with stay the same); any other
    answered item follows, sorted."""
    stored = set(_stored_items(con))
    ordered = [item for item in items if item in stored]
    expr = build_from_answers(con, [*ordered, *sorted(stored - set(ordered))])
    if con.name == "duckdb":
        sql = ibis.to_sql(expr, dialect="duckdb")
        con.raw_sql(f"CREATE TABLE {quote_identifier(WIDE_TABLE, 'duckdb')} AS {sql}")
    else:
        con.create_table(WIDE_TABLE, expr)


def _duck_type(dtype: dt.DataType) -> str:
    if dtype.is_string():
        return "VARCHAR"
    if dtype.is_timestamp():
        return "TIMESTAMP"
    return "DOUBLE"


def _add_columns(writer: TableWriter, items: Sequence[str]) -> None:
    con = writer.con
    name = con.name
    table = quote_identifier(WIDE_TABLE, name)
    for item in items:
        column = quote_identifier(item_column(item), name)
        if name == "duckdb":
            con.raw_sql(f"ALTER TABLE {table} ADD COLUMN {column} DOUBLE")
        elif name == "pyspark":
            con.raw_sql(f"ALTER TABLE {table} ADD COLUMNS ({column} DOUBLE)")
        else:
            con.raw_sql(f"ALTER TABLE {table} ADD COLUMN {column} DOUBLE PRECISION")


def _batch_items(answers: pa.Table | None) -> list[str]:
    if answers is None or not answers.num_rows:
        return []
    return sorted(str(v) for v in pc.unique(answers.column("item")).to_pylist())


def on_batch(writer: TableWriter, batch: Batch) -> None:
    """Keep the table in step with one responses batch (see :func:`write_response_items`)."""
    write_response_items(writer, batch.new, batch.answers, batch.duplicates)


def rebuild(writer: TableWriter) -> None:
    """Recompute the table from every stored response and answer (its item columns kept in their order)."""
    con = writer.con
    order = items_of(wide_columns(con) or [])
    with writer.transaction():
        if con.name == "duckdb":
            con.raw_sql(f"DROP TABLE IF EXISTS {quote_identifier(WIDE_TABLE, 'duckdb')}")
        elif wide_columns(con) is not None:
            con.drop_table(WIDE_TABLE)
        _create_filled(con, order)


def write_response_items(
    writer: TableWriter,
    new: pa.Table,
    answers: pa.Table | None,
    duplicates: pa.Table,
) -> int:
    """Keep ``response_items`` in step with one responses batch; return the wide rows written.

    Parameters
    ----------
    writer
        The batch's writer (call inside its transaction, after the responses and answers are written).
    new
        The responses this batch inserted; ``answers`` holds (at least) their answers.
    duplicates
        The batch's responses that were stored already: any of them missing from the wide table (an
        interrupted earlier run on an engine without transactions) is rebuilt from the stored answers.
    """
    con = writer.con
    items = _batch_items(answers)
    columns = wide_columns(con)
    if columns is None:
        if int(con.execute(con.table(RESPONSES.name).count())) > new.num_rows:
            # responses stored before this batch (an upgrade): build from everything stored, this
            # batch's rows included (written above)
            _create_filled(con, items)
            return new.num_rows
        _create_empty(con, items)
        columns = wide_columns(con) or []
    known = set(items_of(columns))
    fresh = [i for i in items if i not in known]
    if fresh:
        _add_columns(writer, fresh)
    all_items = [*items_of(columns), *fresh]
    written = 0
    if new.num_rows:
        writer.insert(WIDE_TABLE, pivot_batch(new, answers, all_items))
        written += new.num_rows
    if duplicates.num_rows and not writer.atomic:
        written += _repair(writer, duplicates, all_items)
    return written


def _repair(writer: TableWriter, duplicates: pa.Table, items: list[str]) -> int:
    """Rebuild the wide rows of stored responses that have none (from the stored rows and answers)."""
    missing = writer.absent(WIDE_TABLE, "response_id", duplicates.column("response_id").combine_chunks())
    if not len(missing):
        return 0
    keys = pa.table({"response_id": missing})
    stored = writer.stored_rows(RESPONSES.name, ("response_id",), keys)
    stored_answers = writer.stored_rows(ANSWERS.name, ("response_id",), keys)
    writer.insert(WIDE_TABLE, pivot_batch(stored, stored_answers, items))
    return stored.num_rows
