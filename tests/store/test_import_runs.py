"""The import audit trail: a run is opened, then closed with its counts; a run whose process is gone is
closed as interrupted, never one still going."""

from __future__ import annotations

import socket
import subprocess
from datetime import timedelta

import psutil
import pytest

from cxloop.store.import_runs import (
    INTERRUPTED,
    SILENT_AFTER,
    beat,
    fail_interrupted,
    finish_run,
    get_run,
    process_owner,
    recent_runs,
    start_run,
)
from cxloop.store.tables import utcnow


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


# --- runs left at running by a process that is gone -----------------------------------------------------


def _running(session, owner, *, heartbeat=None, started=None) -> int:
    run_id = start_run(session, "responses", "posted.jsonl")
    run = get_run(session, run_id)
    run.owner = owner
    run.heartbeat_at = heartbeat
    if started is not None:
        run.started_at = started
    session.commit()
    return run_id


def _gone_pid() -> int:
    """The pid of a process that has finished."""
    child = subprocess.Popen(["true"])  # noqa: S607 - coreutils' true, only for its pid
    child.wait()
    return child.pid


def test_runs_of_processes_that_are_gone_are_failed_as_interrupted(session):
    host = socket.gethostname()
    me = psutil.Process()
    now = utcnow()
    dead = _running(session, f"{host}/{_gone_pid()}/{me.create_time():.2f}", heartbeat=now)
    reused = _running(session, f"{host}/{me.pid}/{me.create_time() - 3600:.2f}", heartbeat=now)  # pid reused
    mine = start_run(session, "responses", "still going.jsonl")
    elsewhere_alive = _running(session, "other-host/123/1.00", heartbeat=now - timedelta(minutes=5))
    elsewhere_silent = _running(session, "other-host/124/1.00", heartbeat=now - SILENT_AFTER - timedelta(1))
    before_owners = _running(session, None, started=now - timedelta(days=2))
    session.commit()

    closed = fail_interrupted(session, now=now)
    session.commit()

    assert sorted(closed) == sorted([dead, reused, elsewhere_silent, before_owners])
    session.expire_all()
    assert {run.id: run.status for run in recent_runs(session)} == {
        dead: "failed",
        reused: "failed",
        mine: "running",
        elsewhere_alive: "running",
        elsewhere_silent: "failed",
        before_owners: "failed",
    }
    for run_id in (dead, reused, elsewhere_silent, before_owners):
        run = get_run(session, run_id)
        assert run.message.startswith(INTERRUPTED) and run.finished_at is not None
    assert get_run(session, dead).message == "interrupted: the process stopped before it finished"
    assert fail_interrupted(session, now=now) == []  # nothing left to close


def test_a_run_closed_as_interrupted_that_was_going_after_all_takes_its_real_outcome(session):
    run_id = _running(session, "other-host/1/1.00", heartbeat=utcnow() - SILENT_AFTER - timedelta(1))
    assert fail_interrupted(session) == [run_id]
    _finish(session, run_id, status="done")
    session.commit()
    assert get_run(session, run_id).status == "done"


def test_a_run_says_it_is_alive(session):
    run_id = start_run(session, "responses", "big.csv")
    later = utcnow() + timedelta(minutes=30)
    beat(session, run_id, now=later)
    session.commit()
    session.expire_all()
    assert get_run(session, run_id).heartbeat_at.replace(tzinfo=None) == later.replace(tzinfo=None)
    assert get_run(session, run_id).owner == process_owner()
