"""The natural keys already seen in the file being imported, to reject a key's second appearance.

Within a batch the first row of every key comes from an Arrow group-by. Across batches a file can hold
millions of keys, more than a Python set should: from the second batch on they go into a scratch
in-memory DuckDB table (it spills to disk if it must), one vectorised lookup per batch. A file of one
batch (every API post, most small files) never opens the scratch database, which costs more than
checking the batch.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["SeenKeys"]


class SeenKeys:
    """Remember ``(key, first row)`` for every key of a file; tell which rows repeat an earlier key."""

    def __init__(self) -> None:
        self._db: duckdb.DuckDBPyConnection | None = None
        self._first_batch: pa.Table | None = None
        """The first batch's ``(key, row)`` pairs, until a second batch needs the scratch database."""

    def check(self, keys: pa.Array, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Record this batch's keys; return ``(repeat, first_row)`` aligned with ``keys``.

        ``repeat`` marks rows whose key appeared at an earlier row of the file (this batch or an earlier
        one); ``first_row`` holds that earlier row for them (0 elsewhere). Null keys are ignored. Rows
        must grow from batch to batch (as a file is read).
        """
        rows = np.asarray(rows, dtype=np.int64)
        batch = pa.table({"key": keys, "row": pa.array(rows, pa.int64())}).filter(pc.is_valid(keys))
        firsts = batch.group_by("key", use_threads=False).aggregate([("row", "min")])
        distinct = firsts.column("key").combine_chunks()
        first = firsts.column("row_min").to_numpy().copy()
        earlier = self._earlier(distinct)
        new = np.ones(len(distinct), dtype=bool)
        if earlier.num_rows:  # a key of an earlier batch: its first row is there
            where = pc.index_in(earlier.column("key"), value_set=distinct).to_numpy()
            first[where] = earlier.column("row").to_numpy()
            new[where] = False
        self._remember(pa.table({"key": distinct, "row": pa.array(first, pa.int64())}).filter(pa.array(new)))
        position = pc.fill_null(pc.index_in(keys, value_set=distinct), -1).to_numpy(zero_copy_only=False)
        known = position >= 0
        first_row = np.zeros(len(rows), dtype=np.int64)
        first_row[known] = first[position[known]]
        repeat = known & (rows > first_row)
        first_row[~repeat] = 0
        return repeat, first_row

    def _earlier(self, keys: pa.Array) -> pa.Table:
        """The ``(key, row)`` of earlier batches for these keys."""
        if self._db is None:
            if self._first_batch is None:
                return pa.table({"key": pa.array([], pa.string()), "row": pa.array([], pa.int64())})
            stored = self._first_batch
            return stored.filter(pc.is_in(stored.column("key"), value_set=keys))
        self._db.register("batch_keys", pa.table({"key": keys}))
        try:
            return self._db.execute(
                "SELECT key, row FROM seen SEMI JOIN batch_keys USING (key)"
            ).to_arrow_table()
        finally:
            self._db.unregister("batch_keys")

    def _remember(self, firsts: pa.Table) -> None:
        if self._db is None and self._first_batch is None:
            self._first_batch = firsts
            return
        if self._db is None:
            self._db = duckdb.connect()
            self._db.execute("SET autoinstall_known_extensions=false")
            self._db.execute("SET autoload_known_extensions=false")
            self._db.execute("CREATE TABLE seen (key VARCHAR, row BIGINT)")
            self._insert(self._first_batch)
            self._first_batch = None
        self._insert(firsts)

    def _insert(self, firsts: pa.Table | None) -> None:
        if self._db is None or firsts is None or not firsts.num_rows:
            return
        self._db.register("new_keys", firsts)
        try:
            self._db.execute("INSERT INTO seen SELECT key, row FROM new_keys")
        finally:
            self._db.unregister("new_keys")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        self._first_batch = None
