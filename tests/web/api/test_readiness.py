"""``/healthz`` says the process is alive and touches no store; ``/readyz`` says whether it can serve: both
stores reachable and writable, migrations current, disk headroom. 200 with every check when ready, 503 with
each failing check's reason otherwise (no path or URL in it: the callers are anonymous probes)."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from cxloop.config import Settings
from cxloop.store import migrate
from cxloop.store.db import make_engine
from cxloop.warehouse.connection import connect
from cxloop.warehouse.tables import ensure_tables
from cxloop.web.app import create_app

CHECKS = ("app_database", "migrations", "warehouse", "data_directory", "disk")
READY = {name: {"ok": True, "reason": None} for name in CHECKS}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ready_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Both stores set up (the app database migrated, the warehouse's tables made); SQLite or PostgreSQL."""
    database_url = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    made = Settings(
        data_dir=tmp_path / "data", database_url=database_url, environment="test", secret_key="t" * 40
    )
    migrate.upgrade(made.resolved_database_url)
    con = connect(made)
    ensure_tables(con)
    con.disconnect()
    return made


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    made = Settings(data_dir=tmp_path / "data", environment="test", secret_key="t" * 40)
    migrate.upgrade(made.resolved_database_url)
    connect(made).disconnect()
    return made


@contextmanager
def _client(settings: Settings) -> Iterator[TestClient]:
    """The app over ``settings``, its readiness answers never reused (unless a test says otherwise)."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        client.app.state.readiness.min_interval = 0
        yield client


def _readyz(client: TestClient) -> tuple[int, dict]:
    answer = client.get("/readyz")
    return answer.status_code, answer.json()


def _failing(body: dict) -> dict[str, str]:
    return {name: check["reason"] for name, check in body["checks"].items() if not check["ok"]}


def test_ready_when_both_stores_work_and_the_probe_writes_the_app_database(ready_settings):
    engine = make_engine(ready_settings.resolved_database_url)
    try:
        with engine.connect() as connection:
            before = connection.execute(sa.text("SELECT checked_at FROM health_probe")).scalar_one()
        with _client(ready_settings) as client:
            status, body = _readyz(client)
        with engine.connect() as connection:
            after = connection.execute(sa.text("SELECT checked_at FROM health_probe")).scalar_one()
    finally:
        engine.dispose()
    assert (status, body) == (200, {"status": "ready", "checks": READY})
    assert after > before


def test_healthz_touches_no_store_while_readyz_reports_them(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "warehouse.duckdb").write_bytes(os.urandom(8192))  # not a DuckDB file
    unreachable = "postgresql+psycopg://cxloop@127.0.0.1:1/cxloop"  # nothing listens on port 1
    settings = Settings(data_dir=data, database_url=unreachable, environment="test", secret_key="t" * 40)
    with _client(settings) as client:
        health = client.get("/healthz")
        status, body = _readyz(client)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert status == 503 and body["status"] == "not_ready"
    failing = _failing(body)
    assert set(failing) == {"app_database", "migrations", "warehouse"}
    assert failing["app_database"].startswith("the app database is unreachable")
    assert failing["warehouse"].startswith("the warehouse file is corrupt")
    assert str(tmp_path) not in str(body) and "127.0.0.1" not in str(body)


def test_a_nearly_full_disk_is_not_ready(ready_settings):
    crowded = ready_settings.model_copy(update={"min_free_disk_mb": 10**12})  # an exabyte wanted
    with _client(crowded) as client:
        status, body = _readyz(client)
    assert status == 503
    assert list(_failing(body)) == ["disk"]
    assert _failing(body)["disk"].startswith("the disk holding the data directory is nearly full")
    assert "CXLOOP_MIN_FREE_DISK_MB" in _failing(body)["disk"]


def test_a_read_only_data_directory_is_not_ready(sqlite_settings, monkeypatch):
    data = str(sqlite_settings.data_dir.resolve())
    real_open = os.open

    def read_only(path, flags, *args, **kwargs):
        if flags & os.O_CREAT and os.path.abspath(path).startswith(data):
            raise OSError(errno.EROFS, "Read-only file system", path)
        return real_open(path, flags, *args, **kwargs)

    with _client(sqlite_settings) as client:
        assert _readyz(client)[0] == 200
        monkeypatch.setattr(os, "open", read_only)
        status, body = _readyz(client)
        monkeypatch.undo()
        assert _readyz(client)[0] == 200
    assert status == 503
    assert _failing(body) == {
        "data_directory": "the data directory is read-only: make it writable "
        "(is its volume mounted read-only?)"
    }


def test_a_corrupt_warehouse_file_is_not_ready(sqlite_settings):
    (sqlite_settings.data_dir / "warehouse.duckdb").write_bytes(b"not a database" * 1000)
    with _client(sqlite_settings) as client:
        status, body = _readyz(client)
    assert status == 503
    assert _failing(body) == {
        "warehouse": "the warehouse file is corrupt: restore it from a backup, or move it aside and "
        "import the data again"
    }


def test_an_app_database_that_takes_no_writes_is_not_ready(ready_settings):
    with _client(ready_settings) as client:
        engine = client.app.state.engine
        if engine.dialect.name == "sqlite":

            @sa.event.listens_for(engine, "connect")
            def _read_only(dbapi_connection, _record) -> None:
                dbapi_connection.execute("PRAGMA query_only=ON")

        else:
            with engine.connect() as connection:
                database = connection.execute(sa.text("SELECT current_database()")).scalar_one()
                connection.execute(
                    sa.text(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
                )
                connection.commit()
        engine.dispose()  # new connections: read-only from the start
        status, body = _readyz(client)
    assert status == 503
    assert _failing(body) == {
        "app_database": "the app database is read-only: make it writable (its file and folder, or the "
        "server's read-only setting)"
    }


def test_an_app_database_behind_the_migrations_is_not_ready(ready_settings):
    migrate.downgrade(ready_settings.resolved_database_url, "0010")
    with _client(ready_settings) as client:
        status, body = _readyz(client)
    assert status == 503
    assert list(_failing(body)) == ["migrations"]
    assert "run `cxloop db upgrade`" in _failing(body)["migrations"]


def test_a_flood_of_probes_checks_at_most_once_per_interval(sqlite_settings, monkeypatch):
    with _client(sqlite_settings) as client:
        probe = client.app.state.readiness
        probe.min_interval = 3600
        assert _readyz(client)[0] == 200
        monkeypatch.setattr(sqlite_settings, "min_free_disk_mb", 10**12)
        answers = {_readyz(client)[0] for _ in range(20)}  # the answer of the first check, reused
        probe.min_interval = 0
        after = _readyz(client)[0]
    assert answers == {200} and after == 503
