"""A post stores its rows and opens all its cases, or stores nothing: when the alert rules fail after the
responses are stored, the post says so (``ArrivalIncompleteError``, 503 on the web) and a retry of the same
post, the recovery pass or the next start-up opens every missing case. Checked as an invariant (every stored
detractor has its case) on SQLite and PostgreSQL."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from cxloop.services.act.rules import engine as alerts
from cxloop.services.listen.arrival import ArrivalIncompleteError, recover_arrivals
from cxloop.services.listen.imports import Importer
from cxloop.services.listen.realtime import ingest_responses
from cxloop.store.db import session_scope
from cxloop.store.tables import Case, ImportRun, PendingArrival, utcnow
from cxloop.warehouse.connection import connect
from cxloop.web.app import create_app
from support.cases_world import World

NOW = utcnow()


def _rows(prefix: str = "r") -> list[dict]:
    """Six responses: three detractors (NPS 0-6), three not."""
    return [
        {
            "response_id": f"{prefix}{i}",
            "submitted_at": "2026-11-20T10:00:00Z",
            "unit_id": "b01" if i % 2 else "b02",
            "nps": nps,
        }
        for i, nps in enumerate((2, 9, 5, 10, 6, 8))
    ]


@pytest.fixture
def rules(world: World) -> World:
    world.add_rule("detractors", "nps_at_most", now=NOW)
    return world


@pytest.fixture
def importer(rules: World) -> Iterator[Importer]:
    made = Importer(rules.settings, after_store=(alerts.run_on_arrival,))
    yield made
    made.close()


def _post(world: World, importer: Importer, rows: list[dict]):
    con = connect(world.settings)
    try:
        return ingest_responses(
            rows, settings=world.settings, engine=world.engine, con=con, importer=importer
        )
    finally:
        con.disconnect()


def _stored_detractors(world: World) -> set[str]:
    con = connect(world.settings)
    try:
        rows = con.con.execute("SELECT response_id FROM responses WHERE nps <= 6").fetchall()
    finally:
        con.disconnect()
    return {row[0] for row in rows}


def _cases(world: World) -> set[str]:
    with session_scope(world.engine) as session:
        return {case.response_id for case in session.query(Case)}


def _pending(world: World) -> dict[int, tuple[int, list[str]]]:
    with session_scope(world.engine) as session:
        return {p.run_id: (p.attempts, sorted(p.response_ids)) for p in session.query(PendingArrival)}


def _rules_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening cases fails as a full disk would."""

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(alerts, "run_rules", full)


def test_rules_failing_after_the_store_leave_a_record_and_a_retry_opens_every_case(
    rules, importer, monkeypatch
):
    with monkeypatch.context() as broken:
        _rules_fail(broken)
        with pytest.raises(ArrivalIncompleteError) as failed:
            _post(rules, importer, _rows())
    assert failed.value.reason == "disk_full"
    assert "post the same responses again" in str(failed.value)
    # the rows are stored, their cases are not: the post's record says which ids still await them
    assert _stored_detractors(rules) == {"r0", "r2", "r4"}
    assert _cases(rules) == set()
    assert _pending(rules) == {failed.value.run_id: (1, [f"r{i}" for i in range(6)])}

    again = _post(rules, importer, _rows())

    assert (again.accepted, again.duplicates) == (0, 6)
    assert len(again.cases_opened) == 3
    assert _cases(rules) == _stored_detractors(rules) == {"r0", "r2", "r4"}
    assert _pending(rules) == {}  # the retry settled the failed post's record too


def test_the_recovery_pass_opens_the_cases_of_a_post_nobody_retried(rules, importer, monkeypatch):
    with monkeypatch.context() as broken:
        _rules_fail(broken)
        with pytest.raises(ArrivalIncompleteError) as failed:
            _post(rules, importer, _rows())
        # while the rules still fail, a pass leaves the record for the next one
        con = connect(rules.settings)
        try:
            still = recover_arrivals(
                importer.after_store,
                settings=rules.settings,
                engine=rules.engine,
                warehouse=lambda: _given(con),
            )
        finally:
            con.disconnect()
        assert (still.settled, still.failed) == ((), (failed.value.run_id,))
    assert _pending(rules)[failed.value.run_id][0] == 2

    con = connect(rules.settings)
    try:
        # a record touched less than the grace period ago is left to the post that may be handling it
        waiting = recover_arrivals(
            importer.after_store,
            settings=rules.settings,
            engine=rules.engine,
            warehouse=lambda: _given(con),
            grace=timedelta(minutes=1),
        )
        assert waiting.settled == waiting.failed == ()
        done = recover_arrivals(
            importer.after_store, settings=rules.settings, engine=rules.engine, warehouse=lambda: _given(con)
        )
    finally:
        con.disconnect()

    assert done.settled == (failed.value.run_id,) and len(done.cases_opened) == 3
    assert _cases(rules) == _stored_detractors(rules) == {"r0", "r2", "r4"}
    assert _pending(rules) == {}


def test_a_post_that_stored_nothing_leaves_nothing_to_recover(rules, importer, monkeypatch):
    monkeypatch.setenv("CXLOOP_FAILPOINT", "import.inside_batch")
    monkeypatch.setenv("CXLOOP_FAILPOINT_ACTION", "disk-full")
    with pytest.raises(OSError, match="No space left"):
        _post(rules, importer, _rows())
    monkeypatch.delenv("CXLOOP_FAILPOINT")
    assert _stored_detractors(rules) == set()
    con = connect(rules.settings)
    try:
        recovered = recover_arrivals(
            importer.after_store, settings=rules.settings, engine=rules.engine, warehouse=lambda: _given(con)
        )
    finally:
        con.disconnect()
    assert len(recovered.settled) == 1 and recovered.cases_opened == ()
    assert _pending(rules) == {} and _cases(rules) == set()


def test_the_web_answers_503_and_a_post_whose_process_died_is_finished_at_start_up(rules, monkeypatch):
    key = {"X-API-Key": rules.api_key}
    with TestClient(create_app(rules.settings)) as client:
        with monkeypatch.context() as broken:
            _rules_fail(broken)
            answer = client.post("/api/v1/responses", json=_rows(), headers=key)
        assert answer.status_code == 503, answer.text
        error = answer.json()["error"]
        assert (error["code"], error["reason"]) == ("cases_pending", "disk_full")
        assert answer.headers["retry-after"]
        assert _cases(rules) == set() and _stored_detractors(rules) == {"r0", "r2", "r4"}

        # The same post again opens them.
        again = client.post("/api/v1/responses", json=_rows(), headers=key)
        assert again.status_code == 200, again.text
        assert len(again.json()["cases_opened"]) == 3
        assert _cases(rules) == {"r0", "r2", "r4"}

        # Another post whose process is killed between the two stores: its run stays at running, owned by a
        # process that is gone, and its record stays.
        with monkeypatch.context() as broken:
            _rules_fail(broken)
            client.post("/api/v1/responses", json=_rows("s"), headers=key)
    with session_scope(rules.engine) as session:
        run = session.query(ImportRun).order_by(ImportRun.id.desc()).first()
        run.status, run.finished_at, run.owner = "running", None, "gone-host/1/1.00"
        run.heartbeat_at = utcnow() - timedelta(days=1)
        killed = run.id
    assert set(_pending(rules)) == {killed}

    with TestClient(create_app(rules.settings)):  # start-up: the run is closed, the cases opened
        pass

    with session_scope(rules.engine) as session:
        run = session.get(ImportRun, killed)
        assert (run.status, run.message.split(" (")[0]) == (
            "failed",
            "interrupted: the process stopped before it finished",
        )
    assert _pending(rules) == {}
    assert _cases(rules) == _stored_detractors(rules) == {"r0", "r2", "r4", "s0", "s2", "s4"}


class _given:
    """A context manager handing out a connection the test owns (not closed on exit)."""

    def __init__(self, con) -> None:
        self.con = con

    def __enter__(self):
        return self.con

    def __exit__(self, *_exc) -> None:
        return None
