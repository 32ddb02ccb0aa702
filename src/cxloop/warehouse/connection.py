"""The Ibis connection to the warehouse, built from settings.

``duckdb://path`` (default) and ``pyspark://local`` are tested; any other Ibis URL is passed to
``ibis.connect``. An existing Spark session can be wrapped with :func:`connect_spark`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
from ibis.backends import BaseBackend

from cxloop.config import Settings


def connect(settings: Settings) -> BaseBackend:
    """Connect to the warehouse named by ``settings`` (creating the DuckDB file's folder if needed; on
    DuckDB with ``CXLOOP_WAREHOUSE_MEMORY_MB``'s memory limit)."""
    con = connect_url(settings.resolved_warehouse_url)
    if con.name == "duckdb" and settings.warehouse_memory_mb:
        con.raw_sql(f"SET memory_limit='{int(settings.warehouse_memory_mb)}MB'")
    return con


def connect_url(url: str) -> BaseBackend:
    if url.startswith("duckdb://"):
        path = url.removeprefix("duckdb://")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            con = ibis.duckdb.connect(path)
        else:
            con = ibis.duckdb.connect()
        # Offline machines: a failed extension download stalls every query until it times out.
        con.raw_sql("SET autoinstall_known_extensions=false")
        con.raw_sql("SET autoload_known_extensions=false")
        return con
    if url.startswith("pyspark://"):
        return connect_spark(_local_spark_session())
    return ibis.connect(url)


def connect_spark(session: Any) -> BaseBackend:
    """Wrap an existing ``pyspark.sql.SparkSession``."""
    return ibis.pyspark.connect(session)


def _local_spark_session() -> Any:
    import os
    import tempfile

    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    return (
        SparkSession.builder.master("local[2]")
        .appName("cxloop")
        .config("spark.sql.warehouse.dir", tempfile.mkdtemp(prefix="cxloop-spark-"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
