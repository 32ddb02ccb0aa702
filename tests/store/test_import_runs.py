"""The import audit trail: a run is opened, then closed with its counts."""

from __future__ import annotations

import pytest

from cxloop.store.import_runs import finish_run, get_run, recent_runs, start_run


def test_a_run_starts_running_and_finishes_with_its_counts(session):
    run_id = start_run(session, "responses", "/data/responses.csv")
    session.commit()
    run = get_run(session, run_id)
    assert (run.kind, run.source, run.status, run.accepted, run.finished_at) == (
        "responses",
        "/data/responses.csv",
        "running",
        0,
        None,
    )
    finish_run(
        session,
        run_id,
        status="done",
        accepted=980,
        rejected=15,
        duplicates=5,
        warnings=2,
        quarantine_path="/data/quarantine/responses-1.csv",
        message="15 rows quarantined",
    )
    session.commit()
    session.expire_all()
    run = get_run(session, run_id)
    assert (run.status, run.accepted, run.rejected, run.duplicates, run.warnings) == ("done", 980, 15, 5, 2)
    assert run.quarantine_path == "/data/quarantine/responses-1.csv"
    assert run.message == "15 rows quarantined"
    assert run.finished_at is not None
    assert run.finished_at >= run.started_at


def _finish(session, run_id, status="failed"):
    finish_run(
        session,
        run_id,
        status=status,
        accepted=0,
        rejected=0,
        duplicates=0,
        warnings=0,
        quarantine_path=None,
        message="",
    )


def test_a_run_cannot_finish_twice(session):
    run_id = start_run(session, "units", "units.csv")
    _finish(session, run_id)
    with pytest.raises(ValueError, match="already finished"):
        _finish(session, run_id, status="done")


def test_unknown_run_and_unknown_status_are_refused(session):
    with pytest.raises(ValueError, match="unknown import run 12345"):
        _finish(session, 12345)
    run_id = start_run(session, "units", "units.csv")
    with pytest.raises(ValueError, match="status must be"):
        _finish(session, run_id, status="ok")


def test_recent_runs_newest_first_and_by_kind(session):
    first = start_run(session, "units", "a.csv")
    second = start_run(session, "responses", "b.csv")
    third = start_run(session, "units", "c.csv")
    session.commit()
    assert [run.id for run in recent_runs(session)] == [third, second, first]
    assert [run.id for run in recent_runs(session, kind="units")] == [third, first]
    assert [run.id for run in recent_runs(session, limit=1)] == [third]
