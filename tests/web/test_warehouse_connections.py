"""Concurrent requests share one DuckDB database through per-request cursors.

Opening the file per request raced under the API benchmark (DuckDB "Unique file handle conflict" when one
thread opened the file while another closed its last connection); this is a smoke test of the shared path
under 16 threads, not a reliable reproduction of that race."""

from __future__ import annotations

import threading

from cxloop.config import Settings
from cxloop.web.deps import WarehouseConnections


def test_many_threads_open_query_and_close_at_once(tmp_path):
    settings = Settings(data_dir=tmp_path)
    connections = WarehouseConnections(settings)
    setup = connections.open()
    setup.raw_sql("CREATE TABLE t AS SELECT range AS x FROM range(1000)")
    setup.disconnect()
    start = threading.Barrier(16)
    results, errors = [], []

    def worker() -> None:
        try:
            start.wait()
            for _ in range(5):
                con = connections.open()
                try:
                    results.append(int(con.table("t").x.sum().to_pyarrow().as_py()))
                finally:
                    con.disconnect()
        except Exception as exc:  # noqa: BLE001 - every failure is reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    connections.dispose()
    assert errors == []
    assert results == [499500] * 80


def test_a_new_app_sees_rows_written_through_another_cursor(tmp_path):
    settings = Settings(data_dir=tmp_path)
    first = WarehouseConnections(settings)
    con = first.open()
    con.raw_sql("CREATE TABLE t AS SELECT 1 AS x")
    con.disconnect()
    other = first.open()
    assert "t" in other.list_tables()
    other.disconnect()
    first.dispose()
