"""``cxloop catalogue`` and the item ceiling of ``cxloop import`` (issue 23, defects 2 and 9).

* ``add-item``, ``add-touchpoint``, ``add-segment`` add what ``list`` then shows; an id against the rules,
  one in use, or an item past ``CXLOOP_MAX_ITEMS`` is exit 2 with the reason, and nothing is added;
* ``cxloop import responses`` of a CSV with 200 ``q_`` columns, run as a separate process (it used to die
  with SIGFPE, exit 136, killing whatever ran it): exit 2 with the ceiling's message under the default
  ``CXLOOP_MAX_ITEMS``; with the ceiling raised to 250, exit 0 and every item stored.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cxloop.cli import app

UNITS = "unit_id,parent_id,name,level\nbank,,Bank,company\nb01,bank,Branch 01,branch\n"


@pytest.fixture
def cli(tmp_path: Path):
    runner = CliRunner()
    env = {"CXLOOP_DATA_DIR": str(tmp_path / "data"), "CXLOOP_ENVIRONMENT": "development"}

    def invoke(*args: str, **extra: str):
        return runner.invoke(app, list(args), env={**env, **extra})

    units = tmp_path / "units.csv"
    units.write_text(UNITS, encoding="utf-8")
    assert invoke("import", "units", str(units), "--quiet").exit_code == 0
    return invoke


def test_an_admin_declares_the_catalogue_from_the_command_line(cli) -> None:
    assert (
        cli("catalogue", "add-item", "staff_friendly", "--scale", "1", "5", "--label", "Staff").exit_code == 0
    )
    assert cli("catalogue", "add-touchpoint", "branch_visit", "--name", "Branch visit").exit_code == 0
    assert cli("catalogue", "add-segment", "premium", "--value-rank", "1").exit_code == 0
    listed = cli("catalogue", "list", "--json")
    assert listed.exit_code == 0, listed.output
    entries = {(e["kind"], e["id"]): e for e in json.loads(listed.stdout)}
    assert set(entries) == {
        ("item", "staff_friendly"),
        ("touchpoint", "branch_visit"),
        ("segment", "premium"),
    }
    assert entries[("item", "staff_friendly")]["detail"] == "scale 1 to 5"
    assert entries[("segment", "premium")]["detail"] == "value rank 1"

    for args, reason in (
        (("add-item", "Staff<script>"), "not a usable driver item id"),
        (("add-item", "x" * 65), "not a usable driver item id"),
        (("add-item", "staff_friendly"), "in the catalogue already"),
        (("add-touchpoint", "\U0001f4a5"), "not a usable touchpoint id"),
        (("add-segment", "<b>vip</b>"), "not a usable segment id"),
    ):
        refused = cli("catalogue", *args)
        assert refused.exit_code == 2, (args, refused.output)
        assert reason in refused.output, args
    full = cli("catalogue", "add-item", "wait", CXLOOP_MAX_ITEMS="1")
    assert full.exit_code == 2 and "CXLOOP_MAX_ITEMS=1" in full.output
    assert len(json.loads(cli("catalogue", "list", "--json").stdout)) == 3


def _cxloop(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``cxloop ARGS`` in a process of its own (this interpreter, these sources)."""
    src = Path(__file__).resolve().parents[2] / "src"
    code = "import sys; from cxloop.cli import app; sys.argv[0] = 'cxloop'; sys.exit(app())"
    return subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": str(src), "COLUMNS": "200", **env},
        check=False,
    )


def test_two_hundred_item_columns_get_the_ceiling_or_are_stored_never_a_crash(tmp_path: Path) -> None:
    env = {"CXLOOP_DATA_DIR": str(tmp_path / "data"), "CXLOOP_ENVIRONMENT": "development"}
    units = tmp_path / "units.csv"
    units.write_text(UNITS, encoding="utf-8")
    assert _cxloop(["import", "units", str(units), "--quiet"], env).returncode == 0
    items = [f"q_item{k:03d}" for k in range(200)]
    path = tmp_path / "wide.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["response_id", "submitted_at", "unit_id", "nps", *items])
        for r in range(20):
            writer.writerow(
                [f"r{r}", "2026-01-05T10:00:00Z", "b01", r % 11, *((r + k) % 11 for k in range(200))]
            )

    refused = _cxloop(["import", "responses", str(path), "--json"], env)
    assert refused.returncode == 2, (refused.returncode, refused.stderr[-2000:])
    message = json.loads(refused.stdout)["error"]
    assert "200 new driver items" in message and "CXLOOP_MAX_ITEMS" in message and "ceiling of 150" in message

    stored = _cxloop(["import", "responses", str(path), "--json"], {**env, "CXLOOP_MAX_ITEMS": "250"})
    assert stored.returncode == 0, (stored.returncode, stored.stderr[-2000:])
    summary = json.loads(stored.stdout)
    assert summary["accepted"] == 20 and len(summary["new_items"]) == 200
