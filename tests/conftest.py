"""Shared fixtures: isolated settings, the real PostgreSQL server, one local Spark session per run.

PostgreSQL and Spark tests are required in CI (``CI=true``): there a missing server fails the run. On a
laptop without them, those tests skip with a message that says how to get them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from cxloop.config import Settings

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_URL = os.environ.get("CXLOOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _unavailable(what: str, how: str) -> None:
    message = f"{what} is not available: {how}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true requires it)")
    pytest.skip(message)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose stores live in a fresh temporary folder."""
    return Settings(data_dir=tmp_path / "cxloop-data", environment="test", secret_key="test-" + "x" * 40)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the local server, dropped after the test."""
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means the server is not there
        admin.dispose()
        _unavailable(
            "PostgreSQL at " + POSTGRES_URL,
            f"{type(exc).__name__}. Install and start it (apt-get install postgresql; "
            "pg_ctlcluster 15 main start) with trust auth for 127.0.0.1, or set CXLOOP_TEST_POSTGRES_URL.",
        )
    name = f"cxloop_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory):
    """One local[2] Spark session for the whole run (start-up costs ~15 s)."""
    if shutil.which("java") is None:
        _unavailable("Java (for Spark)", "apt-get install openjdk-17-jre-headless")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        _unavailable("pyspark", "pip install -e '.[dev]' (the spark extra)")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    warehouse_dir = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("cxloop-tests")
        .config("spark.sql.warehouse.dir", str(warehouse_dir))
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse_dir}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
