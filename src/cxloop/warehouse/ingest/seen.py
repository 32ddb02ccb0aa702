"""The natural keys already seen in the file being imported, to reject a key's second appearance.

A file can hold millions of keys, more than a Python set should; they go into a scratch in-memory
DuckDB table (it spills to disk if it must), one vectorised join per batch.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

__all__ = ["SeenKeys"]


class SeenKeys:
    """Remember ``(key, first row)`` for every key of a file; tell which rows repeat an earlier key."""

    def __init__(self) -> None:
        self._db = duckdb.connect()
        self._db.execute("SET autoinstall_known_extensions=false")
        self._db.execute("SET autoload_known_extensions=false")
        self._db.execute("CREATE TABLE seen (key VARCHAR, row BIGINT)")

    def check(self, keys: pa.Array, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Record this batch's keys; return ``(repeat, first_row)`` aligned with ``keys``.

        ``repeat`` marks rows whose key appeared at an earlier row of the file (this batch or an earlier
        one); ``first_row`` holds that earlier row for them (0 elsewhere). Null keys are ignored.
        """
        batch = pa.table(
            {"key": keys, "row": pa.array(rows, pa.int64()), "pos": pa.array(np.arange(len(rows)))}
        )
        self._db.register("batch", batch)
        try:
            found = self._db.execute(
                """
                WITH b AS (SELECT key, row, pos FROM batch WHERE key IS NOT NULL),
                firsts AS (
                    SELECT key, min(row) AS first_row FROM (
                        SELECT key, row FROM b
                        UNION ALL
                        SELECT s.key, s.row FROM seen s SEMI JOIN b USING (key)
                    ) GROUP BY key
                )
                SELECT b.pos, f.first_row FROM b JOIN firsts f USING (key) WHERE b.row > f.first_row
                """
            ).fetchnumpy()
            self._db.execute(
                """
                INSERT INTO seen
                SELECT key, min(row) FROM batch WHERE key IS NOT NULL AND key NOT IN (SELECT key FROM seen)
                GROUP BY key
                """
            )
        finally:
            self._db.unregister("batch")
        repeat = np.zeros(len(rows), dtype=bool)
        first_row = np.zeros(len(rows), dtype=np.int64)
        positions = np.asarray(found["pos"], dtype=np.int64)
        repeat[positions] = True
        first_row[positions] = np.asarray(found["first_row"], dtype=np.int64)
        return repeat, first_row

    def close(self) -> None:
        self._db.close()
