"""Issue 21: `cxloop import undo RUN_ID` removes exactly what the run stored, in the facts and every derived
table; the warehouse then equals the one before the run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from cxloop.config import Settings
from cxloop.services.access.scope import Role, Viewer
from cxloop.services.listen.imports import import_file
from cxloop.services.listen.survey_exports import import_export
from cxloop.services.listen.undo import UndoRefused, list_runs, undo_import
from cxloop.services.stores import open_stores
from cxloop.store.db import engine_for, session_scope
from cxloop.store.tables import AlertRule, AuditEvent, Case, ImportRun
from cxloop.warehouse.derived import driver_moments_monthly, responses_monthly
from support.import_helpers import RESPONSE_HEADER, response_row, write_csv

ADMIN = Viewer(unit_id="bank", role=Role.admin)
SUMMED = {
    responses_monthly.TABLE: responses_monthly.KEY,
    driver_moments_monthly.TABLE: (*driver_moments_monthly.KEY, "items"),
}
SKIPPED = {"data_version", "import_run_keys"}

TYPEFORM = (
    "#,How likely are you to recommend us to a friend?,How much effort did you personally have to put "
    "forth to handle your request?,Anything else you'd like to share?,customer_id,branch,Start Date (UTC),"
    "Submit Date (UTC),Network ID\n"
    """a1b2c3d4e5,8,2,Quick and easy,c0001,b01,2024-05-02 10:10:00,2024-05-02 10:15:03,n1
f6g7h8i9j0,3,6,Took ages,c0002,b01,2024-05-02 11:00:00,2024-05-02 11:04:00,n2
"""
)


def warehouse_state(settings: Settings) -> dict[str, list[tuple]]:
    """Every table's rows as a sorted list; the monthly aggregates summed per cell (the writer appends
    rows per batch and compacts later, a rebuild writes one row per cell: the same numbers). An empty
    table counts as no table (an import creates ``response_attributes`` on first use)."""
    con = duckdb.connect(str(settings.data_dir / "warehouse.duckdb"), read_only=True)
    try:
        state = {}
        for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall():
            if name in SKIPPED:
                continue
            columns = [r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()]  # noqa: S608
            if name in SUMMED:
                keys = [c for c in columns if c in SUMMED[name]]
                sums = ", ".join(f"round(sum({c}), 6)" for c in sorted(columns) if c not in keys)
                query = f"SELECT {', '.join(keys)}, {sums} FROM {name} GROUP BY ALL"  # noqa: S608
            else:
                query = f"SELECT {', '.join(sorted(columns))} FROM {name}"  # noqa: S608
            rows = sorted(con.execute(query).fetchall(), key=repr)
            if rows:
                state[name] = rows
        return state
    finally:
        con.close()


def version(settings: Settings) -> int:
    con = duckdb.connect(str(settings.data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return int(con.execute("SELECT version FROM data_version").fetchone()[0])
    finally:
        con.close()


def undo(settings: Settings, run_id: int, viewer: Viewer = ADMIN):
    with open_stores(settings) as stores:
        return undo_import(viewer, run_id, stores=stores)


def test_undo_restores_every_table_as_it_was_before_the_run(org: Settings, tmp_path: Path) -> None:
    first = write_csv(tmp_path / "a.csv", RESPONSE_HEADER, [response_row(i) for i in range(1, 41)])
    import_file("responses", first, settings=org, batch_size=15)
    before_second = warehouse_state(org)
    # a second file: new responses over the same months and units, a new driver item, duplicates of the first
    header = [*RESPONSE_HEADER, "q_new"]
    rows = [[*response_row(i, submitted_at="2024-05-03T09:00:00Z"), str(i % 11)] for i in range(30, 71)]
    second = import_file(
        "responses", write_csv(tmp_path / "b.csv", header, rows), settings=org, batch_size=15
    )
    assert (second.accepted, second.duplicates, second.new_items) == (30, 11, ("new",))
    before_third = warehouse_state(org)
    export = tmp_path / "typeform.csv"
    export.write_text(TYPEFORM, encoding="utf-8")
    third = import_export(export, settings=org)
    assert third.attributes > 0
    after = warehouse_state(org)
    assert after.get("response_attributes") and after != before_third
    version_before = version(org)

    result = undo(org, third.summary.run_id)
    assert result.removed["responses"] == 2 and result.removed["answers"] == 0
    assert result.removed["response_attributes"] == third.attributes
    assert warehouse_state(org) == before_third
    assert version(org) > version_before

    result = undo(org, second.run_id)
    assert result.removed == {"responses": 30, "answers": 30 * 2 + 30 - 7, "response_attributes": 0,
                              "comment_sentiment": 0, "comment_tags": 0}  # fmt: skip
    state = warehouse_state(org)
    assert state == before_second
    con = duckdb.connect(str(org.data_dir / "warehouse.duckdb"), read_only=True)
    columns = [r[0] for r in con.execute("DESCRIBE response_items").fetchall()]
    con.close()
    assert not any(c.endswith("new") for c in columns)  # the new item's column went with its answers

    with session_scope(engine_for(org)) as session:
        run = session.get(ImportRun, second.run_id)
        assert run is not None and run.status == "undone" and "30 responses" in run.message
        events = session.query(AuditEvent).filter_by(entity="import_run", action="undo").all()
        assert sorted(int(e.entity_id) for e in events) == sorted([second.run_id, third.summary.run_id])


def test_undo_of_transactions_and_customers(org: Settings, tmp_path: Path) -> None:
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,unit_id\nc1,b01\nc2,b02\n", encoding="utf-8")
    kept = import_file("customers", customers, settings=org)
    before = warehouse_state(org)
    transactions = tmp_path / "transactions.csv"
    transactions.write_text(
        "transaction_id,customer_id,occurred_at,amount\nt1,c1,2024-01-02,10\nt2,c2,2024-01-03,20\n",
        encoding="utf-8",
    )
    run = import_file("transactions", transactions, settings=org)
    assert undo(org, run.run_id).removed == {"transactions": 2}
    assert warehouse_state(org) == before
    assert undo(org, kept.run_id).removed == {"customers": 2, "customer_value": 0}


def test_undo_is_refused_with_a_reason(org: Settings, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "a.csv", RESPONSE_HEADER, [response_row(i) for i in range(1, 6)])
    run = import_file("responses", path, settings=org)
    again = import_file("responses", path, settings=org)  # every row a duplicate: stored nothing
    with pytest.raises(UndoRefused, match="stored nothing"):
        undo(org, again.run_id)
    with pytest.raises(UndoRefused, match="only an admin of the whole organisation"):
        undo(org, run.run_id, Viewer(unit_id="north", role=Role.admin))
    with pytest.raises(UndoRefused, match="only an admin of the whole organisation"):
        undo(org, run.run_id, Viewer(unit_id="bank", role=Role.analyst))
    with pytest.raises(UndoRefused, match="no import run 999"):
        undo(org, 999)
    with session_scope(engine_for(org)) as session:
        units_run = session.query(ImportRun).filter_by(kind="units").one().id
        rule = AlertRule(name="detractors", kind="detractor")
        session.add(rule)
        session.flush()
        now = datetime.now(UTC)
        session.add(
            Case(rule_id=rule.id, subject="response:r0002", response_id="r0002", unit_id="b02",
                 first_contact_due=now + timedelta(days=1), resolution_due=now + timedelta(days=5))
        )  # fmt: skip
    with pytest.raises(UndoRefused, match="units import .* cannot be undone"):
        undo(org, units_run)
    before = warehouse_state(org)
    with pytest.raises(UndoRefused, match=r"1 case\(s\) were opened from responses of import run \d+ \(#1\)"):
        undo(org, run.run_id)
    assert warehouse_state(org) == before  # nothing removed
    with session_scope(engine_for(org)) as session:
        session.query(Case).delete()
    undo(org, run.run_id)
    with pytest.raises(UndoRefused, match="undone already"):
        undo(org, run.run_id)
    with open_stores(org) as stores:
        listed = {r.id: r.status for r in list_runs(ADMIN, stores=stores)}
    assert listed[run.run_id] == "undone" and listed[again.run_id] == "done"
