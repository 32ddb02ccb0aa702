"""``cxloop metrics``: table, JSON and CSV output, scope with --as, and errors that say what to do next."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cxloop.cli import app
from cxloop.config import Settings
from cxloop.store import migrate
from cxloop.store import units as unit_store
from cxloop.store import users as user_store
from cxloop.store.db import engine_for, session_scope
from cxloop.warehouse.connection import connect
from support.warehouse_facts import COMPANY, example_responses, load_warehouse

REQUIRED = {"unit", "period", "metric", "n", "estimate", "se", "ci_low", "ci_high", "suppressed"}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with the example company in the app database and the DuckDB warehouse."""
    data_dir = tmp_path_factory.mktemp("metrics-cli") / "cxloop-data"
    settings = Settings(data_dir=data_dir)
    migrate.upgrade(settings.resolved_database_url)
    engine = engine_for(settings)
    with session_scope(engine) as session:
        unit_store.upsert_units(session, [unit_store.UnitRecord(*u) for u in COMPANY])
        user_store.create_user(session, "branch@example.com", "frontline", "n1")
    engine.dispose()
    con = connect(settings)
    load_warehouse(con, example_responses())
    con.disconnect()
    return data_dir


def run(data_dir: Path, *args: str):
    env = {"CXLOOP_DATA_DIR": str(data_dir), "COLUMNS": "160"}
    return CliRunner().invoke(app, ["metrics", *args], env=env)


def test_table_by_default(data_dir):
    result = run(data_dir, "--unit", "north", "--by", "quarter", "--compare", "previous")
    assert result.exit_code == 0, result.output
    assert "north" in result.stdout and "2025-Q4" in result.stdout
    assert "Benjamini-Hochberg" in result.stdout
    assert "Cells with fewer than 5 responses are suppressed" in result.stdout


def test_json_cells_carry_the_contract_fields(data_dir):
    result = run(data_dir, "--unit", "north", "--include", "children", "--compare", "previous", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    cells = document["cells"]
    assert {c["unit"] for c in cells} == {"north", "n1", "n2", "n3"}
    assert all(REQUIRED | {"difference", "significant"} <= set(c) for c in cells)
    assert any(c["suppressed"] for c in cells)  # n3 is small
    assert all(c["n"] >= 5 for c in cells if not c["suppressed"])
    assert document["min_n"] == 5 and document["confidence"] == 0.95
    assert "Benjamini-Hochberg" in document["correction"]


def test_csv(data_dir):
    result = run(data_dir, "--unit", "south", "--by", "year", "--metric", "nps,ces", "--csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert REQUIRED <= set(rows[0])
    assert {r["metric"] for r in rows} == {"nps", "ces"}
    assert {r["period"] for r in rows} == {"2024", "2025"}


def test_min_n_comes_from_the_environment(data_dir):
    env = {"CXLOOP_DATA_DIR": str(data_dir), "CXLOOP_MIN_N": "500"}
    result = CliRunner().invoke(app, ["metrics", "--unit", "n2", "--by", "year", "--json"], env=env)
    cells = json.loads(result.stdout)["cells"]
    assert cells and all(c["suppressed"] and c["n"] is None for c in cells)


def test_unknown_unit_lists_units_nearby(data_dir):
    result = run(data_dir, "--unit", "nrth")
    assert result.exit_code == 2
    assert "unknown unit" in result.stderr and "north" in result.stderr


def test_a_user_sees_only_their_subtree(data_dir):
    result = run(data_dir, "--as", "branch@example.com", "--unit", "north")
    assert result.exit_code == 2
    assert "outside your scope" in result.stderr
    own = run(data_dir, "--as", "branch@example.com", "--json", "--by", "year")
    assert own.exit_code == 0, own.output
    assert {c["unit"] for c in json.loads(own.stdout)["cells"]} == {"n1"}


def test_bad_options_say_what_to_use(data_dir):
    result = run(data_dir, "--by", "fortnight")
    assert result.exit_code == 2 and "--by month,touchpoint" in result.stderr
    result = run(data_dir, "--compare", "yesterday")
    assert result.exit_code == 2 and "last-year" in result.stderr
    result = run(data_dir, "--compare", "target", "--target", "40")
    assert result.exit_code == 2 and "nps=40" in result.stderr


def test_target_for_one_metric(data_dir):
    result = run(
        data_dir, "--metric", "nps", "--compare", "target", "--target", "40", "--by", "year", "--json"
    )
    assert result.exit_code == 0, result.output
    cells = json.loads(result.stdout)["cells"]
    assert cells and all(c["comparison"] == "target" and c["reference"] == 40.0 for c in cells)
    assert all(
        c["difference"] == pytest.approx(c["estimate"] - 40.0) for c in cells if c["estimate"] is not None
    )


def test_empty_warehouse_says_to_import_or_generate_the_demo(tmp_path):
    data_dir = tmp_path / "cxloop-data"
    settings = Settings(data_dir=data_dir)
    migrate.upgrade(settings.resolved_database_url)
    engine = engine_for(settings)
    with session_scope(engine) as session:
        unit_store.upsert_units(session, [unit_store.UnitRecord(*u) for u in COMPANY])
    engine.dispose()
    result = run(data_dir)
    assert result.exit_code == 1
    assert "cxloop demo generate" in result.stderr


def test_missing_app_database_says_how_to_set_it_up(tmp_path):
    result = run(tmp_path / "nothing-here")
    assert result.exit_code == 1
    assert "cxloop demo generate" in result.stderr


def test_empty_periods_say_no_data_and_only_within_the_data(data_dir):
    """Issue 21: a table by month listed every month of the warehouse's range for a unit, empty ones marked
    "suppressed" (the word for small cells), and a missing segment as "nan"."""
    from cxloop.cli.metrics import _shown, _within_data

    def cell(period: str, n: int, segment: object = "gold") -> dict:
        return {"unit": "b01", "segment": segment, "metric": "nps", "period": period, "no_data": n == 0}

    months = [
        cell("2024-01", 0),
        cell("2024-02", 7),
        cell("2024-03", 0),
        cell("2024-04", 9),
        cell("2024-05", 0),
    ]
    kept = _within_data(months, ["unit", "segment", "metric"])
    assert [c["period"] for c in kept] == ["2024-02", "2024-03", "2024-04"]  # the empty March stays
    assert _within_data([cell("2024-01", 0)], ["unit", "segment", "metric"]) == []
    assert [_shown(v) for v in (float("nan"), None, "gold")] == ["(none)", "(none)", "gold"]
    result = run(data_dir, "--unit", "n3", "--by", "month")
    assert result.exit_code == 0, result.output
    assert "nan" not in result.stdout
