"""``driver_moments_monthly``: key-driver sufficient statistics per leaf cell, kept by the importer.

A linear key-driver analysis needs only ``n``, the sums and the cross-product sums of the outcome and the
driver items over the complete responses of its scope (:mod:`cxloop.warehouse.queries.driver_stats`). Every
one of those is a sum, so the importer keeps them per leaf cell and outcome::

    (unit_id, month, touchpoint, segment, outcome) -> responses, n, s<i>, c<i>_<j>

``month`` is ``year * 12 + month - 1`` of ``submitted_at`` (as in ``responses_monthly``); the cell keys
are exactly what a :class:`~cxloop.warehouse.queries.driver_stats.DriverScope` filters on. Variable 0 is the
outcome, variables 1..p are the driver items in the order of the ``items`` column (a JSON list, the
same in every row: every item of ``response_items``). Complete means every item and the outcome answered
(listwise), the outcome's score in range (as the wide path filters it). Rows with ``outcome = ''`` carry
``responses`` (every response of the cell, complete or not: the analysis' ``n_responses``); outcome rows
carry ``n`` and the sums for the stated outcomes :data:`OUTCOMES`. At 10M responses the table has a few
thousand rows instead of 10M.

A scope is answered from it by :mod:`cxloop.warehouse.queries.monthly_moments` when it can be: no date
range or one on month boundaries, one stated outcome, and exactly the table's item set (in any order).

Maintenance mirrors ``responses_monthly`` (:func:`on_batch`, called by
:func:`cxloop.warehouse.write.writer.append_batch` for every responses batch, after ``response_items``:
see :mod:`cxloop.warehouse.derived.registry`):

* **Same batch, same transaction.** Only the responses the batch inserted (a re-imported response is a
  duplicate and adds nothing) are pivoted in memory, aggregated (DuckDB, in process) and appended inside
  the batch's transaction. Rows of the same cell from different batches add up.
* **Checked before it is trusted.** :func:`usable` compares its ``responses`` total with the row count
  of ``responses`` and its items with ``response_items``' columns; the first batch of a writer checks the
  same and rebuilds the table from ``response_items`` when it disagrees (the backfill of an older
  warehouse, or a new driver item, which changes the design).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date

from ibis.backends import BaseBackend

from cxloop.warehouse.derived.projection import Batch, TableWriter
from cxloop.warehouse.derived.response_items import (
    WIDE_TABLE,
    item_column,
    items_of,
    pivot_batch,
    wide_columns,
)
from cxloop.warehouse.schemas import RESPONSES
from cxloop.warehouse.scores import SCALES
from cxloop.warehouse.sql import fetch_rows, quote_identifier, string_literal, table_exists

__all__ = [
    "KEY",
    "OUTCOMES",
    "SOURCE",
    "TABLE",
    "aggregate_sql",
    "batch_sql",
    "check",
    "month_number",
    "on_batch",
    "rebuild",
    "statistic_columns",
    "stored_items",
    "usable",
]

TABLE = "driver_moments_monthly"
#: Kept from batches of ``responses``.
SOURCE: str | None = RESPONSES.name
KEY: tuple[str, ...] = ("unit_id", "month", "touchpoint", "segment", "outcome")
#: Outcomes kept (the stated ones; behavioural outcomes depend on an observation end).
OUTCOMES: tuple[str, ...] = ("nps", "nps_promoter", "nps_detractor", "csat", "ces")
_BATCH_VIEW = "_cxloop_driver_batch"


def month_number(day: date) -> int:
    """The table's month key of ``day``: ``year * 12 + month - 1``."""
    return day.year * 12 + day.month - 1


def _outcome_sql(outcome: str) -> tuple[str, str]:
    """(the outcome's value, the score column whose range it requires)."""
    if outcome == "nps_promoter":
        return "CAST(nps >= 9 AS DOUBLE)", "nps"
    if outcome == "nps_detractor":
        return "CAST(nps < 7 AS DOUBLE)", "nps"
    return f"CAST({outcome} AS DOUBLE)", outcome


def statistic_columns(q: int) -> list[str]:
    """The statistic columns of ``q`` variables: ``n``, sums ``s<i>``, cross-product sums ``c<i>_<j>``."""
    return ["n", *(f"s{i}" for i in range(q)), *(f"c{i}_{j}" for i in range(q) for j in range(i, q))]


_MONTH = "CAST(year(submitted_at) * 12 + month(submitted_at) - 1 AS INT)"


def _responses_part(source: str, items: Sequence[str]) -> str:
    """The ``outcome = ''`` rows: every response of the cell, complete or not."""
    nulls = ", ".join(f"CAST(NULL AS DOUBLE) AS {name}" for name in statistic_columns(1 + len(items))[1:])
    return (
        f"SELECT unit_id, {_MONTH} AS month, touchpoint, segment, '' AS outcome, "  # noqa: S608
        f"{string_literal(json.dumps(list(items)))} AS items, COUNT(*) AS responses, CAST(0 AS BIGINT) AS n, "
        f"{nulls} FROM {source} GROUP BY 1, 2, 3, 4"
    )


def _sums(items: Sequence[str]) -> str:
    """n, the sums and the cross-product sums of ``y`` (the outcome) and ``x0``... (the items)."""
    v = ["y", *(f"x{k}" for k in range(len(items)))]
    sums = [f"SUM({a}) AS s{i}" for i, a in enumerate(v)]
    sums += [f"SUM({a} * {b}) AS c{i}_{j}" for i, a in enumerate(v) for j, b in enumerate(v) if j >= i]
    return "COUNT(*) AS n, " + ", ".join(sums)


def _in_range(outcome: str) -> str:
    score = _outcome_sql(outcome)[1]
    low, high = SCALES[score]
    return f"{score} BETWEEN {low} AND {high}"


def aggregate_sql(source: str, items: Sequence[str], backend: str) -> str:
    """The table's rows for every response of relation ``source`` (with ``response_items``' columns): one
    aggregate per outcome, plain SQL every engine runs (the backfill, in the engine)."""
    xs = [quote_identifier(item_column(i), backend) for i in items]
    labelled = string_literal(json.dumps(list(items)))
    parts = [_responses_part(source, items)]
    for outcome in OUTCOMES:
        inner = ", ".join(
            [f"{_outcome_sql(outcome)[0]} AS y", *(f"CAST({x} AS DOUBLE) AS x{k}" for k, x in enumerate(xs))]
        )
        where = " AND ".join([_in_range(outcome), *(f"{x} IS NOT NULL" for x in xs)])
        parts.append(
            f"SELECT unit_id, month, touchpoint, segment, {string_literal(outcome)} AS outcome, "  # noqa: S608
            f"{labelled} AS items, CAST(0 AS BIGINT) AS responses, {_sums(items)} "
            f"FROM (SELECT unit_id, {_MONTH} AS month, touchpoint, segment, {inner} "
            f"FROM {source} WHERE {where}) AS t GROUP BY 1, 2, 3, 4"
        )
    return " UNION ALL ".join(parts)


def batch_sql(source: str, items: Sequence[str]) -> str:
    """The same rows as :func:`aggregate_sql`, for a batch aggregated by DuckDB at import: the outcomes are
    the rows of a VALUES list crossed with the batch, so the sums are one aggregate instead of one per
    outcome. DuckDB takes far longer to plan the five aggregates of the union than a small batch (an API
    post) takes to run; this form plans and runs in a fraction of that (docs/drivers.md)."""
    xs = [quote_identifier(item_column(i), "duckdb") for i in items]
    value = " ".join(f"WHEN {string_literal(o)} THEN {_outcome_sql(o)[0]}" for o in OUTCOMES)
    in_range = " ".join(f"WHEN {string_literal(o)} THEN {_in_range(o)}" for o in OUTCOMES)
    inner = ", ".join(
        [f"CASE o.outcome {value} END AS y", *(f"CAST({x} AS DOUBLE) AS x{k}" for k, x in enumerate(xs))]
    )
    where = " AND ".join([f"CASE o.outcome {in_range} END", *(f"{x} IS NOT NULL" for x in xs)])
    outcomes = ", ".join(f"({string_literal(o)})" for o in OUTCOMES)
    labelled = string_literal(json.dumps(list(items)))
    return (
        f"{_responses_part(source, items)} UNION ALL "  # noqa: S608
        f"SELECT unit_id, month, touchpoint, segment, outcome, {labelled} AS items, "
        f"CAST(0 AS BIGINT) AS responses, {_sums(items)} "
        f"FROM (SELECT unit_id, {_MONTH} AS month, touchpoint, segment, o.outcome AS outcome, {inner} "
        f"FROM {source} CROSS JOIN (VALUES {outcomes}) AS o(outcome) WHERE {where}) AS t "
        "GROUP BY 1, 2, 3, 4, 5"
    )


def stored_items(con: BaseBackend) -> list[str] | None:
    """The table's driver items (in variable order), or None without a table or rows."""
    if not table_exists(con, TABLE):
        return None
    rows = fetch_rows(con, f"SELECT items FROM {TABLE} LIMIT 1")  # noqa: S608
    return list(json.loads(rows[0]["items"])) if rows else None


def _wide_items(con: BaseBackend) -> list[str]:
    return items_of(wide_columns(con) or [])


def _agrees(con: BaseBackend, pending: int) -> bool:
    row = fetch_rows(
        con,
        f"SELECT (SELECT count(*) FROM {RESPONSES.name}) AS stored, "  # noqa: S608
        f"(SELECT sum(responses) FROM {TABLE}) AS counted",
    )[0]
    return int(row["stored"] or 0) - pending == int(row["counted"] or 0)


def check(con: BaseBackend, pending: int = 0) -> bool:
    """The table exists, counts every stored response but the last ``pending`` appended, and has every
    item of the wide table."""
    items = stored_items(con)
    if items is None:
        return False
    return sorted(items) == sorted(_wide_items(con)) and _agrees(con, pending)


def usable(con: BaseBackend) -> bool:
    """The table exists, holds exactly the responses of ``responses``, with every item of the wide table."""
    return check(con)


def on_batch(writer: TableWriter, batch: Batch) -> None:
    """Add the statistics of the batch's new responses (just inserted, their wide rows written; same
    transaction on DuckDB); rebuild instead when the table is missing, disagrees, or the wide table gained
    an item."""
    con, new, answers, state = writer.con, batch.new, batch.answers, writer.state
    wide = _wide_items(con)
    items = stored_items(con)
    if items is None or sorted(items) != sorted(wide) or TABLE not in state.checked:
        state.checked.add(TABLE)
        if items is None or sorted(items) != sorted(wide) or not _agrees(con, new.num_rows):
            rebuild(writer)
            return
    if not new.num_rows:
        return
    batch = pivot_batch(new, answers, items)
    if con.name == "duckdb":  # aggregated and appended in one statement, in the batch's transaction
        db = con.con
        db.register(_BATCH_VIEW, batch)
        try:
            db.execute(f"INSERT INTO {TABLE} BY NAME {batch_sql(_BATCH_VIEW, items)}")  # noqa: S608
        finally:
            db.unregister(_BATCH_VIEW)
        return
    import duckdb

    local = duckdb.connect()  # other engines: the batch's few cells aggregated in process
    try:
        local.register(_BATCH_VIEW, batch)
        cells = local.execute(batch_sql(_BATCH_VIEW, items)).to_arrow_table()
    finally:
        local.close()
    writer.insert(TABLE, cells)


def rebuild(writer: TableWriter) -> None:
    """Recompute the table from ``response_items`` (the backfill; also when the item set changed)."""
    con = writer.con
    items = _wide_items(con)
    with writer.transaction():
        if not items:  # nothing to explain yet: no table (driver analyses fall back)
            if table_exists(con, TABLE):
                con.drop_table(TABLE)
            return
        sql = aggregate_sql(WIDE_TABLE, items, con.name)
        if con.name == "duckdb":
            db = con.con
            db.execute(f"DROP TABLE IF EXISTS {TABLE}")
            db.execute(f"CREATE TABLE {TABLE} AS {sql}")
        else:
            cells = con.sql(sql).to_pyarrow()
            con.create_table(TABLE, cells, overwrite=True)
