"""The command line on broken storage: a clear sentence and what to do, never a traceback; an import that
finds runs left at ``running`` by a process that is gone closes them as interrupted (so does ``cxloop
serve``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cxloop.cli import app
from cxloop.config import Settings
from cxloop.store.db import make_engine, session_scope
from cxloop.store.tables import ImportRun, utcnow
from cxloop.web.app import create_app

UNITS = "unit_id,parent_id,name,level\nbank,,Bank,company\nb01,bank,Branch 01,branch\n"
RESPONSES = "response_id,submitted_at,unit_id,nps\nr1,2024-05-01,b01,9\n"


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A data directory with a small org imported."""
    units = tmp_path / "units.csv"
    units.write_text(UNITS, encoding="utf-8")
    result = CliRunner().invoke(app, ["import", "units", str(units), "--quiet"], env=_env(tmp_path / "data"))
    assert result.exit_code == 0, result.output
    return tmp_path / "data"


def _env(data: Path) -> dict[str, str]:
    return {"CXLOOP_DATA_DIR": str(data), "CXLOOP_ENVIRONMENT": "development"}


def _corrupt_warehouse(data: Path) -> None:
    (data / "warehouse.duckdb").write_bytes(b"not a database" * 1000)
    for wal in data.glob("warehouse.duckdb.wal"):
        wal.unlink()


def test_a_command_on_a_corrupt_warehouse_says_so_without_a_traceback(data):
    _corrupt_warehouse(data)
    result = CliRunner().invoke(app, ["metrics", "--unit", "bank"], env=_env(data))
    assert result.exit_code == 1
    assert result.output.startswith(
        "error: storage unavailable: the warehouse file is corrupt: restore it from a backup"
    )
    assert "Traceback" not in result.output and not isinstance(result.exception, AssertionError)


def test_an_import_on_a_corrupt_warehouse_exits_3_with_the_reason(data, tmp_path):
    _corrupt_warehouse(data)
    responses = tmp_path / "responses.csv"
    responses.write_text(RESPONSES, encoding="utf-8")
    result = CliRunner().invoke(app, ["import", "responses", str(responses), "--json"], env=_env(data))
    assert result.exit_code == 3
    error = json.loads(result.stdout)["error"]
    assert error.startswith("storage unavailable: the warehouse file is corrupt")
    assert error.endswith("fix the cause and run the same command again")


def _left_running(data: Path) -> int:
    """A run a killed process left at ``running`` (its owner: a host and process that are gone)."""
    engine = make_engine(Settings(data_dir=data).resolved_database_url)
    try:
        with session_scope(engine) as session:
            run = ImportRun(
                kind="responses", source="big.csv", status="running", owner="gone-host/1/1.00", message=""
            )
            run.heartbeat_at = run.started_at = utcnow().replace(year=2020)
            session.add(run)
            session.flush()
            return run.id
    finally:
        engine.dispose()


def _status(data: Path, run_id: int) -> tuple[str, str]:
    engine = make_engine(Settings(data_dir=data).resolved_database_url)
    try:
        with session_scope(engine) as session:
            run = session.get(ImportRun, run_id)
            return run.status, run.message
    finally:
        engine.dispose()


def test_an_import_closes_the_runs_a_killed_process_left_running(data, tmp_path):
    stale = _left_running(data)
    responses = tmp_path / "responses.csv"
    responses.write_text(RESPONSES, encoding="utf-8")
    result = CliRunner().invoke(app, ["import", "responses", str(responses), "--quiet"], env=_env(data))
    assert result.exit_code == 0, result.output
    status, message = _status(data, stale)
    assert status == "failed" and message.startswith("interrupted: the process stopped before it finished")


def test_serve_closes_the_runs_a_killed_process_left_running_when_it_starts(data):
    stale = _left_running(data)
    assert _status(data, stale)[0] == "running"
    with TestClient(create_app(Settings(data_dir=data))):
        status, message = _status(data, stale)
    assert status == "failed" and message.startswith("interrupted: the process stopped before it finished")
