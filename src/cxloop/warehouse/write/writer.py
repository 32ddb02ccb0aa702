"""Atomic, idempotent appends of validated batches to the warehouse.

:func:`append_batch` adds the rows whose natural key is not stored yet and counts the others as
duplicates (never overwriting them; ``changed`` counts those whose stored values differ). Responses
bring their ``answers`` along. Every batch then keeps the derived tables in step, one after the other in the
order of :data:`cxloop.warehouse.derived.registry.DERIVED_TABLES` (the wide ``response_items``, the
monthly aggregates, the data version), each through its ``on_batch``; what they remember between batches
lives on the writer's :class:`~cxloop.warehouse.derived.projection.WriterState`.

Guarantees by backend:

* **DuckDB** (the default): one transaction per batch (``BEGIN`` ... ``COMMIT``, ``ROLLBACK`` on any
  error). A crash or kill mid-batch leaves nothing of that batch; a response and its answers land
  together or not at all.
* **Any other Ibis backend** (Spark is tested): these engines offer no multi-statement transaction
  through Ibis, so a batch is written answers first, then the facts, each an append filtered against
  what is stored. A crash can leave answers whose response is not stored yet (invisible to every
  metric, which reads answers through responses); re-running the import completes the batch without
  duplicating anything.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from cxloop.warehouse.derived.data_version import WRITE_LOCK, bump
from cxloop.warehouse.derived.projection import Batch, WriterState
from cxloop.warehouse.derived.registry import following
from cxloop.warehouse.ingest.parse import mask
from cxloop.warehouse.schemas import ANSWERS, IMPORT_RUN_KEYS, FactTable
from cxloop.warehouse.sql import quote_identifier
from cxloop.warehouse.write.failpoints import INSIDE_BATCH, Failpoints

__all__ = ["AppendResult", "WarehouseWriter", "append_batch", "writer_for"]

_names = (f"_cxloop_ingest_{i}" for i in itertools.count())


@dataclass(frozen=True)
class AppendResult:
    """What one batch did: rows inserted, rows whose key was already stored (of which ``changed``
    carry different values), and answers inserted."""

    inserted: int
    duplicates: int
    changed: int
    answers: int
    new: np.ndarray
    """Which of the given rows were inserted (a bool mask over them)."""


class WarehouseWriter(ABC):
    """The few write primitives an import needs, per backend.

    A writer is a :class:`~cxloop.warehouse.derived.projection.TableWriter` for the derived tables it keeps
    in step, and owns their :attr:`state` for its lifetime.
    """

    atomic: bool = False

    def __init__(self, con: BaseBackend, failpoints: Failpoints | None = None) -> None:
        self.con = con
        self.failpoints = failpoints or Failpoints()
        self.state = WriterState()

    @abstractmethod
    def transaction(self) -> Any:
        """A context manager: everything written inside lands together (if :attr:`atomic`)."""

    @abstractmethod
    def stored_rows(self, table: str, key: Sequence[str], keys: pa.Table) -> pa.Table:
        """The stored rows of ``table`` whose ``key`` columns match a row of ``keys``."""

    @abstractmethod
    def insert(self, table: str, rows: pa.Table) -> None: ...

    @abstractmethod
    def replace(self, table: str, rows: pa.Table) -> None:
        """Make ``rows`` the whole content of ``table``."""

    @abstractmethod
    def absent(self, table: str, column: str, values: pa.Array) -> pa.Array:
        """The distinct non-null ``values`` not found in ``table.column``."""

    @abstractmethod
    def delete(self, table: str, column: str, values: pa.Array) -> int:
        """Remove the rows of ``table`` whose ``column`` is one of ``values``; how many were removed."""

    def columns(self, table: str) -> list[str]:
        return list(self.con.table(table).columns)


class DuckDBWriter(WarehouseWriter):
    """Raw DuckDB (through Ibis' connection): one real transaction per batch."""

    atomic = True

    def __init__(self, con: BaseBackend, failpoints: Failpoints | None = None) -> None:
        super().__init__(con, failpoints)
        self.db = con.con
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            yield
            return
        # One writing transaction at a time per process: concurrent writers (two API posts) would
        # otherwise conflict on the data version's row.
        with WRITE_LOCK:
            self.db.execute("BEGIN TRANSACTION")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                self.db.execute("ROLLBACK")
                raise
            self._depth -= 1
            self.db.execute("COMMIT")

    @contextmanager
    def _registered(self, data: pa.Table) -> Iterator[str]:
        name = next(_names)
        self.db.register(name, data)
        try:
            yield name
        finally:
            self.db.unregister(name)

    def stored_rows(self, table: str, key: Sequence[str], keys: pa.Table) -> pa.Table:
        with self._registered(keys) as view:
            using = ", ".join(_quote(k) for k in key)
            return self.db.execute(
                f"SELECT t.* FROM {_quote(table)} t SEMI JOIN {view} k USING ({using})"  # noqa: S608
            ).to_arrow_table()

    def insert(self, table: str, rows: pa.Table) -> None:
        if rows.num_rows:
            with self._registered(rows) as view:
                self.db.execute(f"INSERT INTO {_quote(table)} BY NAME SELECT * FROM {view}")  # noqa: S608

    def replace(self, table: str, rows: pa.Table) -> None:
        with self.transaction():
            self.db.execute(f"DELETE FROM {_quote(table)}")  # noqa: S608
            self.insert(table, rows)
            bump(self)

    def delete(self, table: str, column: str, values: pa.Array) -> int:
        with self._registered(pa.table({"v": values})) as view:
            row = self.db.execute(
                f"DELETE FROM {_quote(table)} WHERE {_quote(column)} IN (SELECT v FROM {view})"  # noqa: S608
            ).fetchone()
        return int(row[0]) if row else 0

    def absent(self, table: str, column: str, values: pa.Array) -> pa.Array:
        with self._registered(pa.table({"v": values})) as view:
            found = self.db.execute(
                f"SELECT DISTINCT v FROM {view} WHERE v IS NOT NULL AND v NOT IN "  # noqa: S608
                f"(SELECT {_quote(column)} FROM {_quote(table)} WHERE {_quote(column)} IS NOT NULL)"
            ).to_arrow_table()
        return found.column("v").combine_chunks()


class IbisWriter(WarehouseWriter):
    """Any Ibis backend: appends through Ibis, no multi-statement transaction (see the module notes)."""

    def transaction(self) -> Any:
        return nullcontext()

    def stored_rows(self, table: str, key: Sequence[str], keys: pa.Table) -> pa.Table:
        expr = self.con.table(table).semi_join(ibis.memtable(keys), list(key))
        return expr.to_pyarrow()

    def insert(self, table: str, rows: pa.Table) -> None:
        if rows.num_rows:
            self.con.insert(table, ibis.memtable(rows.select(self.columns(table))))

    def replace(self, table: str, rows: pa.Table) -> None:
        self.con.insert(table, ibis.memtable(rows.select(self.columns(table))), overwrite=True)
        bump(self)

    def delete(self, table: str, column: str, values: pa.Array) -> int:
        """No DELETE through Ibis: the rows kept are read and written back over the table."""
        stored = self.con.table(table)
        gone = ibis.memtable(pa.table({"v": pc.unique(pc.drop_null(values))}))
        kept = stored.anti_join(gone, stored[column] == gone.v).to_pyarrow()
        before = int(stored.count().to_pyarrow().as_py())
        if kept.num_rows < before:
            self.con.insert(table, ibis.memtable(kept.select(self.columns(table))), overwrite=True)
        return before - kept.num_rows

    def absent(self, table: str, column: str, values: pa.Array) -> pa.Array:
        wanted = ibis.memtable(pa.table({"v": pc.unique(pc.drop_null(values))}))
        stored = self.con.table(table)
        expr = wanted.anti_join(stored, wanted.v == stored[column])
        return expr.to_pyarrow().column("v").combine_chunks()


class SparkWriter(IbisWriter):
    """PySpark: data goes in as Arrow (Ibis' pandas route turns null strings into "NaN" on Spark)."""

    def _frame(self, table: str, rows: pa.Table) -> Any:
        session = self.con._session
        return session.createDataFrame(rows.select(self.columns(table)))

    def insert(self, table: str, rows: pa.Table) -> None:
        if rows.num_rows:
            self._frame(table, rows).write.insertInto(table)

    def replace(self, table: str, rows: pa.Table) -> None:
        self._frame(table, rows).write.insertInto(table, overwrite=True)
        bump(self)

    @contextmanager
    def _view(self, data: pa.Table) -> Iterator[Any]:
        """``data`` as a temporary view of the session, as an Ibis table (dropped on leaving)."""
        session = self.con._session
        name = next(_names)
        session.createDataFrame(data).createOrReplaceTempView(name)
        try:
            yield self.con.table(name)
        finally:
            session.catalog.dropTempView(name)

    def delete(self, table: str, column: str, values: pa.Array) -> int:
        """Spark tables take no DELETE: the rows kept are read into memory, then written over the table."""
        with self._view(pa.table({"v": pc.unique(pc.drop_null(values))})) as gone:
            stored = self.con.table(table)
            kept = stored.anti_join(gone, stored[column] == gone.v).to_pyarrow()
            before = int(stored.count().to_pyarrow().as_py())
        if kept.num_rows < before:
            self._frame(table, kept).write.insertInto(table, overwrite=True)
        return before - kept.num_rows

    def stored_rows(self, table: str, key: Sequence[str], keys: pa.Table) -> pa.Table:
        with self._view(keys) as view:
            return self.con.table(table).semi_join(view, list(key)).to_pyarrow()

    def absent(self, table: str, column: str, values: pa.Array) -> pa.Array:
        with self._view(pa.table({"v": pc.unique(pc.drop_null(values))})) as wanted:
            stored = self.con.table(table)
            return (
                wanted.anti_join(stored, wanted.v == stored[column]).to_pyarrow().column("v").combine_chunks()
            )


def writer_for(con: BaseBackend, failpoints: Failpoints | None = None) -> WarehouseWriter:
    """The writer for ``con``'s backend."""
    if con.name == "duckdb":
        return DuckDBWriter(con, failpoints)
    if con.name == "pyspark":
        return SparkWriter(con, failpoints)
    return IbisWriter(con, failpoints)


def _quote(name: str) -> str:
    return quote_identifier(name, "duckdb")


def _differs(left: pa.ChunkedArray, right: pa.ChunkedArray) -> np.ndarray:
    both_null = mask(pc.and_(pc.is_null(left), pc.is_null(right)))
    equal = mask(pc.equal(left, right))
    return ~(both_null | equal)


def _count_changed(rows: pa.Table, stored: pa.Table, key: Sequence[str]) -> int:
    """How many of ``rows`` (all already stored) differ from the stored row with their key."""
    if rows.num_rows == 0:
        return 0
    others = [name for name in rows.column_names if name not in key]
    stored = stored.select([*key, *others]).rename_columns([*key, *(f"{name}__stored" for name in others)])
    joined = rows.join(stored, list(key), join_type="inner")
    changed = np.zeros(joined.num_rows, dtype=bool)
    for name in others:
        stored_column = joined.column(f"{name}__stored").cast(joined.column(name).type)
        changed |= _differs(joined.column(name), stored_column)
    return int(changed.sum())


def append_batch(
    writer: WarehouseWriter,
    fact: FactTable,
    rows: pa.Table,
    answers: pa.Table | None = None,
    run_id: int | None = None,
) -> AppendResult:
    """Append the rows of ``rows`` whose key is new, with their ``answers``; all or nothing on DuckDB.

    Rows whose key is already stored are counted as duplicates and left as stored. ``answers``
    (responses only) are written only for the responses inserted here. ``run_id``: the import run storing
    them, whose keys are recorded in ``import_run_keys`` with the rows (what an undo removes).
    """
    key = fact.key
    with writer.transaction():
        stored = writer.stored_rows(fact.name, key, rows.select(list(key)))
        is_stored = _key_in(rows, stored, key) if stored.num_rows else np.zeros(rows.num_rows, dtype=bool)
        if stored.num_rows:
            new, old = rows.filter(pa.array(~is_stored)), rows.filter(pa.array(is_stored))
        else:
            new, old = rows, rows.slice(0, 0)
        answered = 0
        if answers is not None and new.num_rows and answers.num_rows:
            fresh = answers
            if new.num_rows < rows.num_rows:
                fresh = answers.filter(pc.is_in(answers.column("response_id"), value_set=new.column(key[0])))
            if not writer.atomic:
                # A crashed earlier run may have stored some of these answers already.
                done = writer.stored_rows(ANSWERS.name, ANSWERS.key, fresh.select(list(ANSWERS.key)))
                if done.num_rows:
                    fresh = fresh.filter(pa.array(~_key_in(fresh, done, ANSWERS.key)))
            writer.insert(ANSWERS.name, fresh)
            answered = fresh.num_rows
        writer.insert(fact.name, new)
        if run_id is not None and new.num_rows:
            keys = new.column(key[0]).combine_chunks().cast(pa.string())
            writer.insert(
                IMPORT_RUN_KEYS.name,
                pa.table(
                    {
                        "run_id": pa.array(np.full(len(keys), run_id, dtype=np.int64)),
                        "fact": pa.array([fact.name] * len(keys), pa.string()),
                        "key": keys,
                    }
                ),
            )
        # the derived tables, from the batch in memory, in the same transaction (registry order)
        batch = Batch(fact.name, new=new, duplicates=old, answers=answers, answered=answered)
        for derived in following(fact.name):
            derived.on_batch(writer, batch)
        writer.failpoints.hit(INSIDE_BATCH)
    return AppendResult(
        inserted=new.num_rows,
        duplicates=old.num_rows,
        changed=_count_changed(old, stored, key),
        answers=answered,
        new=~is_stored,
    )


def _key_in(rows: pa.Table, stored: pa.Table, key: Sequence[str]) -> np.ndarray:
    if len(key) == 1:
        return mask(pc.is_in(rows.column(key[0]), value_set=stored.column(key[0]).combine_chunks()))
    marker = "__cxloop_stored"
    flagged = stored.select(list(key)).append_column(marker, pa.array(np.ones(stored.num_rows, dtype=bool)))
    position = "__cxloop_position"
    indexed = rows.select(list(key)).append_column(position, pa.array(np.arange(rows.num_rows)))
    joined = indexed.join(flagged, list(key), join_type="left outer").sort_by(position)
    return mask(joined.column(marker))
