"""``cxloop import``: exit codes 0/1/2, the --json summary, --batch-size, the help text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cxloop.cli import app

UNITS = "unit_id,parent_id,name,level\nbank,,Bank,company\nb01,bank,Branch 01,branch\n"
HEADER = "response_id,submitted_at,unit_id,nps,q_staff\n"


@pytest.fixture
def cli(tmp_path: Path):
    runner = CliRunner()
    env = {"CXLOOP_DATA_DIR": str(tmp_path / "data"), "CXLOOP_ENVIRONMENT": "development"}

    def invoke(*args: str):
        return runner.invoke(app, ["import", *args], env=env)

    units = tmp_path / "units.csv"
    units.write_text(UNITS, encoding="utf-8")
    result = invoke("units", str(units), "--quiet")
    assert result.exit_code == 0, result.output
    return invoke


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_exit_0_and_the_json_summary(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", HEADER + "r1,2024-05-01,b01,9,7\nr2,2024-05-01,b01,3,\n")
    result = cli("responses", str(path), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {k: summary[k] for k in ("accepted", "rejected", "duplicates", "quarantine", "kind", "file")} == {
        "accepted": 2,
        "rejected": 0,
        "duplicates": 0,
        "quarantine": None,
        "kind": "responses",
        "file": str(path),
    }
    assert summary["new_items"] == ["staff"] and summary["answers"] == 1
    again = json.loads(cli("responses", str(path), "--json").stdout)
    assert (again["accepted"], again["duplicates"]) == (0, 2)


def test_exit_1_when_rows_are_rejected(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", HEADER + "r1,2024-05-01,b01,9,7\nr2,2024-05-01,b01,13,\n")
    result = cli("responses", str(path), "--json")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert (summary["accepted"], summary["rejected"]) == (1, 1)
    assert Path(summary["quarantine"]).exists()
    assert summary["problems"] == [
        {
            "file": str(path),
            "row": 2,
            "column": "nps",
            "reason": "out of range: nps must be 0 to 10, whole numbers",
        }
    ]
    human = cli("responses", str(path))
    assert human.exit_code == 1
    assert "1 rejected" in human.stdout and "row 2" in human.stdout and "quarantine:" in human.stdout


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("missing.csv", None, "not found"),
        ("r.xlsx", "x", "cannot tell the format"),
        ("r.csv", "response_id,unit_id\nr1,b01\n", "missing required column(s) submitted_at"),
    ],
)
def test_exit_2_when_the_file_cannot_be_used(cli, tmp_path: Path, name, text, says) -> None:
    path = tmp_path / name if text is None else write(tmp_path, name, text)
    result = cli("responses", str(path), "--json")
    assert result.exit_code == 2
    summary = json.loads(result.stdout)
    assert says in summary["error"] and summary["accepted"] == 0 and summary["quarantine"] is None
    human = cli("responses", str(path))
    assert human.exit_code == 2 and says in human.stderr and "nothing was imported" in human.stderr


def test_a_bad_mapping_file_is_exit_2(cli, tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", HEADER + "r1,2024-05-01,b01,9,7\n")
    mapping = write(tmp_path, "m.yaml", "columns: [not, a, mapping]\n")
    result = cli("responses", str(path), "--mapping", str(mapping), "--json")
    assert result.exit_code == 2 and "columns must be a mapping" in json.loads(result.stdout)["error"]


def test_batch_size_option(cli, tmp_path: Path) -> None:
    rows = "".join(f"r{i},2024-05-01,b01,{i % 11},\n" for i in range(7))
    result = cli("responses", str(write(tmp_path, "r.csv", HEADER + rows)), "--batch-size", "3", "--json")
    assert json.loads(result.stdout)["batches"] == 3
    assert cli("responses", "x.csv", "--batch-size", "0").exit_code == 2  # rejected by the option itself


def test_quiet_prints_nothing(cli, tmp_path: Path) -> None:
    result = cli("responses", str(write(tmp_path, "r.csv", HEADER + "r1,2024-05-01,b01,9,7\n")), "--quiet")
    assert result.exit_code == 0 and result.stdout == ""


@pytest.mark.parametrize(
    "kind", ["units", "customers", "responses", "transactions", "contacts", "subscriptions"]
)
def test_help_lists_the_canonical_columns(kind: str) -> None:
    from cxloop.warehouse.ingest.kinds import KINDS

    result = CliRunner().invoke(app, ["import", kind, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for column in KINDS[kind].columns:
        assert column.name in result.stdout
    assert f"cxloop import {kind}" in result.stdout


def test_exit_3_when_the_warehouse_is_locked(cli, tmp_path: Path) -> None:
    import duckdb

    path = write(tmp_path, "r.csv", HEADER + "r1,2024-05-01,b01,9,7\n")
    # Another process holds DuckDB's write lock; within one process a second connection with another
    # configuration is refused the same way.
    holder = duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), config={"access_mode": "READ_ONLY"})
    try:
        result = cli("responses", str(path), "--json")
    finally:
        holder.close()
    assert result.exit_code == 3
    error = json.loads(result.stdout)["error"]
    assert "different configuration" in error and "run the same command again" in error


def test_runs_lists_imports_and_undo_takes_one_back(cli, tmp_path: Path) -> None:
    """Issue 21: `cxloop import runs`, `cxloop import undo RUN_ID` (exit 2 with the reason when refused)."""
    path = write(tmp_path, "r.csv", HEADER + "r1,2024-05-01,b01,9,7\nr2,2024-05-01,b01,3,\n")
    run_id = json.loads(cli("responses", str(path), "--json").stdout)["run_id"]
    listed = cli("runs", "--json")
    assert listed.exit_code == 0, listed.output
    runs = {r["id"]: r for r in json.loads(listed.stdout)["runs"]}
    assert (runs[run_id]["kind"], runs[run_id]["status"], runs[run_id]["accepted"]) == (
        "responses",
        "done",
        2,
    )
    table = cli("runs")
    assert table.exit_code == 0 and "done" in table.stdout and "file" in table.stdout
    undone = cli("undo", str(run_id), "--json")
    assert undone.exit_code == 0, undone.output
    assert json.loads(undone.stdout)["removed"]["responses"] == 2
    again = cli("undo", str(run_id))
    assert again.exit_code == 2 and "undone already" in again.output
    assert json.loads(cli("runs", "--json").stdout)["runs"][0]["status"] == "undone"
    # the file imports again, as new
    assert json.loads(cli("responses", str(path), "--json").stdout)["accepted"] == 2


def test_a_biased_subset_exits_2_and_accept_partial_imports_the_rest(cli, tmp_path: Path) -> None:
    rows = "".join(f"r{i},2024-05-01,{'b99' if i < 15 else 'b01'},9,7\n" for i in range(100))
    path = write(tmp_path, "r.csv", HEADER + rows)
    refused = cli("responses", str(path))
    assert (
        refused.exit_code == 2 and "--accept-partial" in refused.output and "15 of 100 rows" in refused.output
    )
    kept = cli("responses", str(path), "--accept-partial", "--json")
    assert kept.exit_code == 1 and json.loads(kept.stdout)["accepted"] == 85
