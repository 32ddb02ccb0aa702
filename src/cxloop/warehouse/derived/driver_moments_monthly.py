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
range or one on month boundaries, one stated outcome, and exactly the table's item set (in any order) of at
most :data:`ITEM_LIMIT` items.

Maintenance mirrors ``responses_monthly`` (:func:`on_batch`, called by
:func:`cxloop.warehouse.write.writer.append_batch` for every responses batch, after ``response_items``:
see :mod:`cxloop.warehouse.derived.registry`):

* **Same batch, same transaction.** Only the responses the batch inserted (a re-imported response is a
  duplicate and adds nothing) are pivoted and summed in memory (numpy: ``Z'Z`` per cell and outcome, no
  statement to plan) and appended inside the batch's transaction. Rows of the same cell from different
  batches add up; the writer merges them every :data:`COMPACT_EVERY` appended rows (DuckDB).
* **A new driver item costs no rebuild.** Answers come with their response, so every response stored before
  an item's first answer lacks it: none is complete for the new item set, and the sums of the old set
  describe none of the new set's complete responses. The batch that brings the item drops the outcome rows,
  relabels the responses rows and adds the sums' new columns (metadata on DuckDB), then adds its own: what a
  post costs depends on its own responses, never on what is stored (it used to rebuild the table from
  ``response_items`` under the write lock: 0.2 s at 11 items, 23 s at 176).
* **At most :data:`ITEM_LIMIT` items.** A cell has ``1 + q + q(q+1)/2`` sums of ``q`` variables; beyond
  the limit the table keeps only its responses rows and an analysis reads the rows of its scope.
* **Checked before it is trusted.** :func:`usable` compares its ``responses`` total with the row count
  of ``responses`` and its items with ``response_items``' columns; the first batch of a writer checks the
  count and rebuilds the table from ``response_items`` when it disagrees (the backfill of an older
  warehouse), in the engine, one aggregate per outcome.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from cxloop.warehouse.cross_products import MAX_SUMS, pairs
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
    "COMPACT_EVERY",
    "ITEM_LIMIT",
    "KEY",
    "OUTCOMES",
    "SOURCE",
    "TABLE",
    "aggregate_sql",
    "batch_cells",
    "check",
    "compact",
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
_CELL = KEY[:4]
#: Outcomes kept (the stated ones; behavioural outcomes depend on an observation end).
OUTCOMES: tuple[str, ...] = ("nps", "nps_promoter", "nps_detractor", "csat", "ces")
ITEM_LIMIT = 42
"""The most driver items whose sums the table keeps: the ``1 + q + q(q+1)/2`` sums of 42 items and an
outcome (990) fit one statement of :data:`~cxloop.warehouse.cross_products.MAX_SUMS`, and a cell's row
stays under a thousand columns (200 items would make 20,503)."""
#: Appended rows after which a writer merges the table to one row per cell and outcome (DuckDB).
COMPACT_EVERY = 250_000
_views = (f"_cxloop_driver_moments_{i}" for i in itertools.count())


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


def _kept(items: Sequence[str]) -> bool:
    """Whether the table keeps sums over this item set (some items, at most :data:`ITEM_LIMIT`)."""
    return 0 < len(items) <= ITEM_LIMIT


_MONTH = "CAST(year(submitted_at) * 12 + month(submitted_at) - 1 AS INT)"


def _responses_part(source: str, items: Sequence[str]) -> str:
    """The ``outcome = ''`` rows: every response of the cell, complete or not."""
    nulls = ", ".join(f"CAST(NULL AS DOUBLE) AS {name}" for name in statistic_columns(1 + len(items))[1:])
    return (
        f"SELECT unit_id, {_MONTH} AS month, touchpoint, segment, '' AS outcome, "  # noqa: S608
        f"{string_literal(json.dumps(list(items)))} AS items, COUNT(*) AS responses, CAST(0 AS BIGINT) AS n"
        + (f", {nulls}" if _kept(items) else "")
        + f" FROM {source} GROUP BY 1, 2, 3, 4"
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
    aggregate per outcome, plain SQL every engine runs (the backfill, in the engine). Beyond
    :data:`ITEM_LIMIT` items, the responses rows only (so no statement holds more than ``MAX_SUMS``
    aggregates: :mod:`cxloop.warehouse.cross_products`)."""
    parts = [_responses_part(source, items)]
    if not _kept(items):
        return parts[0]
    xs = [quote_identifier(item_column(i), backend) for i in items]
    labelled = string_literal(json.dumps(list(items)))
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


assert len(statistic_columns(1 + ITEM_LIMIT)) <= MAX_SUMS  # one statement per outcome (see ITEM_LIMIT)


# --- one batch, in memory ------------------------------------------------------------------------


def _outcome_values(outcome: str, scores: dict[str, np.ndarray]) -> np.ndarray:
    """The outcome of every response as float, NaN where it is missing or its score out of range."""
    score = _outcome_sql(outcome)[1]
    values = scores[score]
    low, high = SCALES[score]
    inside = (values >= low) & (values <= high)  # NaN compares False
    if outcome == "nps_promoter":
        values = (values >= 9).astype(float)
    elif outcome == "nps_detractor":
        values = (values < 7).astype(float)
    return np.where(inside, values, np.nan)


def _cells(wide: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """The distinct cells of a batch's wide rows (a table of the cell keys) and each row's cell."""
    submitted = wide.column("submitted_at")
    month = pc.add(pc.multiply(pc.year(submitted), 12), pc.subtract(pc.month(submitted), 1))
    keys = pa.table(
        {
            "unit_id": wide.column("unit_id"),
            "month": pc.cast(month, pa.int32()),
            "touchpoint": wide.column("touchpoint"),
            "segment": wide.column("segment"),
        }
    )
    codes = np.column_stack(
        [
            pc.fill_null(pc.dictionary_encode(keys.column(name)).combine_chunks().indices, -1).to_numpy()
            for name in _CELL
        ]
    )
    _, first, cell = np.unique(codes, axis=0, return_index=True, return_inverse=True)
    return keys.take(pa.array(first)), cell.reshape(-1)


def _sums_by_cell(z: np.ndarray, cell: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray]:
    """(the cells present, for each the sums of ``z[:, a] * z[:, b]`` over its rows for every pair of
    :func:`~cxloop.warehouse.cross_products.pairs` of ``q``): rows sorted by cell, one product and one
    ``reduceat`` per pair over contiguous columns (no rows x pairs matrix in memory)."""
    order = np.argsort(cell, kind="stable")
    sorted_cells = cell[order]
    starts = np.flatnonzero(np.r_[True, sorted_cells[1:] != sorted_cells[:-1]])
    columns = np.asfortranarray(z[order])
    combos = pairs(q)
    out = np.empty((len(starts), len(combos)), order="F")
    for k, (a, b) in enumerate(combos):
        out[:, k] = np.add.reduceat(columns[:, a] * columns[:, b], starts)
    return sorted_cells[starts], out


def batch_cells(rows: pa.Table, answers: pa.Table | None, items: Sequence[str]) -> pa.Table:
    """The table's rows for the responses ``rows`` (with their long ``answers``), over ``items`` in that
    order: what :func:`aggregate_sql` gives for them, summed in numpy (a real-time post pays for its own few
    responses, with no statement that grows with the items)."""
    wide = pivot_batch(rows, answers, items)
    keys, cell = _cells(wide)
    q = 1 + len(items)
    names = statistic_columns(q)
    label = json.dumps(list(items))
    names = names if _kept(items) else ["n"]
    counts = np.bincount(cell, minlength=keys.num_rows)
    parts = [_rows(keys, np.arange(keys.num_rows), "", label, counts, None, names)]
    if _kept(items) and wide.num_rows:
        z = np.ones((wide.num_rows, q + 1))  # the constant, the outcome, the items
        for k, item in enumerate(items):
            z[:, 2 + k] = wide.column(item_column(item)).to_numpy(zero_copy_only=False)
        answered = ~np.isnan(z[:, 2:]).any(axis=1)
        scores = {name: wide.column(name).to_numpy(zero_copy_only=False).astype(float) for name in SCALES}
        for outcome in OUTCOMES:
            z[:, 1] = _outcome_values(outcome, scores)
            complete = answered & ~np.isnan(z[:, 1])
            if complete.any():
                present, sums = _sums_by_cell(z[complete], cell[complete], q)
                parts.append(_rows(keys, present, outcome, label, np.zeros(len(present)), sums, names))
    return pa.concat_tables(parts)


def _rows(
    keys: pa.Table,
    cells: np.ndarray,
    outcome: str,
    label: str,
    responses: np.ndarray,
    sums: np.ndarray | None,
    names: Sequence[str],
) -> pa.Table:
    """Rows of the table for ``cells`` (rows of ``keys``): ``sums`` in the order of ``names`` (that of
    :func:`~cxloop.warehouse.cross_products.pairs`), or NULL sums and ``n = 0`` (the responses rows)."""
    count = len(cells)
    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        **{name: keys.column(name).take(pa.array(cells, pa.int64())) for name in _CELL},
        "outcome": pa.array([outcome] * count, pa.string()),
        "items": pa.array([label] * count, pa.string()),
        "responses": pa.array(np.asarray(responses, dtype=np.int64)),
    }
    for k, name in enumerate(names):
        if name == "n":
            columns[name] = pa.array(
                np.zeros(count, np.int64) if sums is None else sums[:, k].astype(np.int64)
            )
        else:
            columns[name] = pa.nulls(count, pa.float64()) if sums is None else pa.array(sums[:, k])
    return pa.table(columns)


# --- checks ---------------------------------------------------------------------------------------


def stored_items(con: BaseBackend) -> list[str] | None:
    """The table's driver items (in variable order), or None without a table or rows."""
    if not table_exists(con, TABLE):
        return None
    rows = fetch_rows(con, f"SELECT items FROM {TABLE} LIMIT 1")  # noqa: S608
    return list(json.loads(rows[0]["items"])) if rows else None


def _wide_items(con: BaseBackend) -> list[str]:
    return items_of(wide_columns(con) or [])


def _stored_responses(con: BaseBackend) -> int:
    return int(fetch_rows(con, f"SELECT count(*) AS stored FROM {RESPONSES.name}")[0]["stored"] or 0)  # noqa: S608


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


# --- writing --------------------------------------------------------------------------------------


def on_batch(writer: TableWriter, batch: Batch) -> None:
    """Add the statistics of the batch's new responses (just inserted, their wide rows written; same
    transaction on DuckDB). A new item drops the old item set's sums first (no stored response is complete
    for the new set); a missing table is made from the batch (the first responses) or rebuilt, and one
    whose count disagrees on a writer's first batch is rebuilt."""
    con, new, state = writer.con, batch.new, writer.state
    wide = _wide_items(con)
    items = stored_items(con)
    if items is None or TABLE not in state.checked:
        state.checked.add(TABLE)
        if (
            items is None and _stored_responses(con) == new.num_rows
        ):  # the first responses: nothing to backfill
            _create(writer, batch_cells(new, batch.answers, wide))
            state.appended[TABLE] = 0
            return
        if items is None or not _agrees(con, new.num_rows):
            rebuild(writer)
            return
    if sorted(items) != sorted(wide):
        _forget_sums(writer, wide)
        items = wide
    if not new.num_rows:
        return
    cells = _aligned(con, batch_cells(new, batch.answers, items))
    writer.insert(TABLE, cells)
    state.appended[TABLE] = state.appended.get(TABLE, 0) + cells.num_rows
    if state.appended[TABLE] >= COMPACT_EVERY:
        compact(writer)


def _aligned(con: BaseBackend, cells: pa.Table) -> pa.Table:
    """``cells`` with a NULL column for each sum the table has and they lack (an earlier item set's)."""
    if con.name == "duckdb":  # INSERT BY NAME fills them
        return cells
    for name in con.table(TABLE).columns:
        if name not in cells.column_names:
            cells = cells.append_column(name, pa.nulls(cells.num_rows, pa.float64()))
    return cells


def _forget_sums(writer: TableWriter, items: Sequence[str]) -> None:
    """The item set is now ``items`` (a new item): keep the responses rows (relabelled), drop the sums of the
    old set, and give the table the columns of the new set's sums."""
    con = writer.con
    label = string_literal(json.dumps(list(items)))
    wanted = statistic_columns(1 + len(items)) if _kept(items) else ["n"]
    if con.name == "duckdb":
        db = con.con
        present = {row[0] for row in db.execute(f"DESCRIBE {TABLE}").fetchall()}
        for name in (c for c in wanted if c not in present):  # before any row changes (DuckDB's order)
            db.execute(f"ALTER TABLE {TABLE} ADD COLUMN {name} DOUBLE")
        db.execute(f"DELETE FROM {TABLE} WHERE outcome <> ''")  # noqa: S608
        db.execute(f"UPDATE {TABLE} SET items = {label}")  # noqa: S608
        return
    kept = con.table(TABLE).filter(lambda t: t.outcome == "").to_pyarrow()
    _create(writer, _relabelled(kept, items, wanted))


def _relabelled(rows: pa.Table, items: Sequence[str], wanted: Sequence[str]) -> pa.Table:
    """Responses rows with the label of ``items`` and NULL sums in every column of ``wanted`` they lack."""
    label = json.dumps(list(items))
    rows = rows.set_column(rows.column_names.index("items"), "items", pa.array([label] * rows.num_rows))
    for name in wanted:
        if name not in rows.column_names:
            rows = rows.append_column(name, pa.nulls(rows.num_rows, pa.float64()))
    return rows


def rebuild(writer: TableWriter) -> None:
    """Recompute the table from ``response_items`` (the backfill; also when it disagrees with the facts)."""
    con = writer.con
    with writer.transaction():
        if wide_columns(con) is None:  # no responses yet
            if table_exists(con, TABLE):
                con.drop_table(TABLE)
            return
        sql = aggregate_sql(WIDE_TABLE, _wide_items(con), con.name)
        if con.name == "duckdb":
            db = con.con
            db.execute(f"DROP TABLE IF EXISTS {TABLE}")
            db.execute(f"CREATE TABLE {TABLE} AS {sql}")
        else:
            cells = con.sql(sql).to_pyarrow()
            con.create_table(TABLE, cells, overwrite=True)
    writer.state.appended[TABLE] = 0


def _create(writer: TableWriter, cells: pa.Table) -> None:
    """Make ``cells`` the whole table (its columns those of ``cells``)."""
    con = writer.con
    if con.name != "duckdb":
        con.create_table(TABLE, cells, overwrite=True)
        return
    db = con.con
    view = next(_views)
    with writer.transaction():
        db.execute(f"DROP TABLE IF EXISTS {TABLE}")
        db.register(view, cells)
        try:
            db.execute(f"CREATE TABLE {TABLE} AS SELECT * FROM {view}")  # noqa: S608
        finally:
            db.unregister(view)


def compact(writer: TableWriter) -> None:
    """Merge the rows of each cell and outcome into one (DuckDB; other engines keep the appended rows, which
    sum to the same numbers)."""
    con = writer.con
    if con.name == "duckdb":
        db = con.con
        merged = next(_views)
        stats = [c for c in con.table(TABLE).columns if c not in (*KEY, "items")]
        keys = ", ".join([*KEY, "items"])
        sums = ", ".join(
            f"sum({name})::{'BIGINT' if name in ('responses', 'n') else 'DOUBLE'} AS {name}" for name in stats
        )
        with writer.transaction():
            summed = f"SELECT {keys}, {sums} FROM {TABLE} GROUP BY {keys}"  # noqa: S608
            db.execute(f"CREATE TEMP TABLE {merged} AS {summed}")
            db.execute(f"DELETE FROM {TABLE}")  # noqa: S608
            db.execute(f"INSERT INTO {TABLE} BY NAME SELECT * FROM {merged}")  # noqa: S608
            db.execute(f"DROP TABLE {merged}")
    writer.state.appended[TABLE] = 0
