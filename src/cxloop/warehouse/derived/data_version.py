"""The warehouse's data version: a number that every write through the ingest layer changes.

Caches of anything computed from the warehouse (:mod:`cxloop.services.cache`) key their entries by it, so
a new response, a re-imported hierarchy or a re-tagged comment makes every cached result stale at once,
without anyone having to know which results it touched.

The version lives in a one-row table ``data_version(warehouse_id, version, changed_at)``:

* **Bumped in the writer's transaction.** :func:`bump` is called for every batch that stores anything
  (:func:`on_batch`: this module is the last of the derived tables the writer keeps in step with each
  batch of :func:`cxloop.warehouse.write.writer.append_batch`: file imports, the demo, API posts) and by
  every writer's ``replace`` (hierarchy, comment tags, customer value). On
  DuckDB the bump is part of the batch's transaction: a reader sees the new rows and the new version
  together, or neither. On engines without transactions (Spark) it is written right after the rows.
* **Read cheaply.** :func:`data_version` is one tiny query on DuckDB: the
  version, the ``warehouse_id`` (a random id given when the table is created, so two warehouses never
  share cache entries) and, as a guard against rows appended *around* the ingest layer (an ad hoc
  ``INSERT``), the row count of ``responses``, which DuckDB answers from metadata. On other engines a
  read is a job, so the answer is remembered for :data:`REMOTE_TTL_SECONDS` per process; writes made
  by this process forget it at once.
* **No table, no version.** A warehouse written before the table existed (or filled around the ingest
  layer) has none; :func:`data_version` answers ``None`` and callers must not cache.

Writers on DuckDB are serialised per process (:data:`WRITE_LOCK`): a DuckDB file has one writing process,
and two threads of it (say, two API posts at once) would otherwise conflict on the version row.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import pyarrow as pa
from ibis.backends import BaseBackend

from cxloop.warehouse.derived.projection import Batch, TableWriter

__all__ = [
    "REMOTE_TTL_SECONDS",
    "SOURCE",
    "TABLE",
    "WRITE_LOCK",
    "DataVersion",
    "bump",
    "check",
    "data_version",
    "on_batch",
    "rebuild",
]

TABLE = "data_version"
#: Every fact table's batches change the version.
SOURCE: str | None = None
SCHEMA = ibis.schema(
    {
        "warehouse_id": dt.String(nullable=False),
        "version": dt.Int64(nullable=False),
        "changed_at": dt.timestamp,
    }
)
#: How long a process trusts a version read from an engine other than DuckDB (a write from another
#: process shows up at most this late; writes from this process show up at once).
REMOTE_TTL_SECONDS = 1.0
#: Serialises DuckDB write transactions within the process.
WRITE_LOCK = threading.RLock()

_remote: dict[int, tuple[float, DataVersion | None]] = {}
_remote_lock = threading.Lock()


@dataclass(frozen=True)
class DataVersion:
    """Identifies the warehouse's content: equal versions mean equal data (for writes through the
    ingest layer; ``responses`` also catches rows appended around it on DuckDB)."""

    warehouse_id: str
    version: int
    responses: int | None = None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def data_version(con: BaseBackend) -> DataVersion | None:
    """The warehouse's current data version, or ``None`` when it has no version table."""
    if con.name == "duckdb":
        return _duckdb_version(con)
    key = id(getattr(con, "_session", None) or con)
    with _remote_lock:
        hit = _remote.get(key)
    if hit is not None and time.monotonic() - hit[0] < REMOTE_TTL_SECONDS:
        return hit[1]
    version = _ibis_version(con)
    with _remote_lock:
        _remote[key] = (time.monotonic(), version)
    return version


def _duckdb_version(con: BaseBackend) -> DataVersion | None:
    import duckdb

    db = con.con
    try:
        row = db.execute(
            f"SELECT warehouse_id, version, (SELECT count(*) FROM responses) FROM {TABLE}"  # noqa: S608
        ).fetchone()
    except duckdb.CatalogException:  # no version table (or no responses table) yet
        return None
    if row is None:
        return None
    return DataVersion(str(row[0]), int(row[1]), int(row[2]))


def _ibis_version(con: BaseBackend) -> DataVersion | None:
    if TABLE not in con.list_tables():
        return None
    rows = con.table(TABLE).to_pyarrow().to_pylist()
    if not rows:
        return None
    return DataVersion(str(rows[0]["warehouse_id"]), int(rows[0]["version"]))


def bump(writer: TableWriter) -> None:
    """Change the data version (creating the table on the first write). Inside the writer's transaction
    on DuckDB; call it after the rows are written on other engines."""
    con = writer.con
    if con.name == "duckdb":
        db: Any = con.con
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {TABLE} "
            "(warehouse_id VARCHAR NOT NULL, version BIGINT NOT NULL, changed_at TIMESTAMP)"
        )
        db.execute(
            f"INSERT INTO {TABLE} SELECT ?, 0, ? WHERE NOT EXISTS (SELECT 1 FROM {TABLE})",  # noqa: S608
            [uuid.uuid4().hex, _now()],
        )
        db.execute(f"UPDATE {TABLE} SET version = version + 1, changed_at = ?", [_now()])  # noqa: S608
        return
    current = _ibis_version(con)
    row = pa.table(
        {
            "warehouse_id": [current.warehouse_id if current else uuid.uuid4().hex],
            "version": pa.array([(current.version if current else 0) + 1], pa.int64()),
            "changed_at": pa.array([_now()], pa.timestamp("us")),
        }
    )
    if current is None and TABLE not in con.list_tables():
        con.create_table(TABLE, schema=SCHEMA)
    if con.name == "pyspark":
        session = con._session
        session.createDataFrame(row).write.insertInto(TABLE, overwrite=True)
    else:
        con.insert(TABLE, ibis.memtable(row), overwrite=True)
    with _remote_lock:
        _remote.clear()


def check(con: BaseBackend, pending: int = 0) -> bool:  # noqa: ARG001 - a version counts no rows
    """Whether the warehouse has a data version."""
    return data_version(con) is not None


def on_batch(writer: TableWriter, batch: Batch) -> None:
    """A new version when the batch stored anything: caches keyed by the version drop their results with
    this commit."""
    if batch.new.num_rows or batch.answered:
        bump(writer)


def rebuild(writer: TableWriter) -> None:
    """A new version (there is nothing to recompute: every cached result is dropped)."""
    bump(writer)
