"""``cxloop targets`` and ``cxloop actions``: the operations an administrator scripts, with --as scope,
--json on lists, and exit codes that say what went wrong."""

from __future__ import annotations

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


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data_dir = tmp_path / "cxloop-data"
    settings = Settings(data_dir=data_dir)
    migrate.upgrade(settings.resolved_database_url)
    engine = engine_for(settings)
    with session_scope(engine) as session:
        unit_store.upsert_units(session, [unit_store.UnitRecord(*u) for u in COMPANY])
        north = user_store.create_user(session, "north@example.com", "manager", "north")
        n1 = user_store.create_user(session, "n1@example.com", "manager", "n1")
        session.flush()
        unit_store.set_owner(session, "n1", n1.id)
        unit_store.set_owner(session, "north", north.id)
    engine.dispose()
    con = connect(settings)
    load_warehouse(con, example_responses())
    con.disconnect()
    return data_dir


def cx(data_dir: Path, *args: str):
    env = {"CXLOOP_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    return CliRunner().invoke(app, list(args), env=env)


def test_targets_set_list_and_progress(data_dir):
    # a negative value needs "--" before the arguments (else it reads as an option)
    made = cx(data_dir, "targets", "set", "--period", "year", "--start", "2025-05-05",
              "--as", "north@example.com", "--json", "--", "n1", "nps", "-100")  # fmt: skip
    assert made.exit_code == 0, made.output
    target = json.loads(made.stdout)
    assert target["origin"] == "top_down" and target["period_start"] == "2025-01-01"
    locked = cx(data_dir, "targets", "set", "--period", "year", "--start", "2025-01-01",
                "--as", "n1@example.com", "--", "n1", "nps", "-90")  # fmt: skip
    assert locked.exit_code == 2 and "set top-down" in locked.stderr
    listed = cx(data_dir, "targets", "list", "--json", "--as", "n1@example.com")
    assert [t["id"] for t in json.loads(listed.stdout)["targets"]] == [target["id"]]
    progress = cx(data_dir, "targets", "progress", "--json", "--as-of", "2026-01-15")
    assert progress.exit_code == 0, progress.output
    result = json.loads(progress.stdout)["progress"][0]
    assert result["period_state"] == "ended" and result["n"] > 0
    # a target of -100 is the floor: any NPS above it is significantly above
    assert result["verdict"] == "on_track" and result["estimate"] > -100
    table = cx(data_dir, "targets", "progress", str(target["id"]), "--as-of", "2026-01-15")
    assert table.exit_code == 0 and "on track" in table.stdout.lower()
    bad = cx(data_dir, "targets", "set", "n1", "happiness", "5")
    assert bad.exit_code == 2 and "unknown metric" in bad.stderr
    assert cx(data_dir, "targets", "progress", "999").exit_code == 1


def test_actions_create_update_note_list_and_overdue(data_dir):
    made = cx(data_dir, "actions", "create", "Second teller at lunch", "--unit", "n1", "--due", "2025-06-30",
              "--impact", "nps=3", "--json")  # fmt: skip
    assert made.exit_code == 0, made.output
    action = json.loads(made.stdout)
    assert action["owner"]["email"] == "n1@example.com" and action["impact_points"] == 3.0
    ident = str(action["id"])
    moved = cx(data_dir, "actions", "update", ident, "--status", "in_progress", "--as", "n1@example.com")
    assert moved.exit_code == 0 and "in progress" in moved.stdout
    noted = cx(data_dir, "actions", "note", ident, "rota agreed", "--as", "n1@example.com")
    assert noted.exit_code == 0
    wrong = cx(data_dir, "actions", "update", ident, "--status", "reopen")
    assert wrong.exit_code == 2 and "reopen" in wrong.stderr
    mine = json.loads(cx(data_dir, "actions", "list", "--mine", "--json", "--as", "n1@example.com").stdout)
    assert [a["id"] for a in mine["actions"]] == [action["id"]] and mine["total"] == 1
    late = json.loads(cx(data_dir, "actions", "overdue", "--json", "--as-of", "2025-07-10").stdout)
    assert [a["id"] for a in late["actions"]] == [action["id"]] and late["actions"][0]["days_overdue"] == 10
    early = json.loads(cx(data_dir, "actions", "overdue", "--json", "--as-of", "2025-06-30").stdout)
    assert early["actions"] == []
    shown = cx(data_dir, "actions", "show", ident, "--json", "--as-of", "2026-01-15")
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.stdout)
    assert [n["body"] for n in detail["notes"]] == ["rota agreed"]
    assert [e["action"] for e in detail["audit"]] == ["created", "status:in_progress", "note"]
    assert detail["measured_change"]["metric"] == "nps"
    outside = cx(data_dir, "actions", "create", "x", "--unit", "s1", "--as", "n1@example.com")
    assert outside.exit_code == 2 and "outside your scope" in outside.stderr
    assert cx(data_dir, "actions", "note", "999", "hello").exit_code == 1
    assert cx(data_dir, "actions", "update", ident).exit_code == 2
