"""The light real-time path: a posted batch goes through the file importer's own validation and
write step in memory, with the set-up done once per app. Proved here against a file import of the same rows:
the same stored facts and derived tables, the same row-level reasons and duplicate counts; and one case per
detractor when the same response is posted twice at once."""

from __future__ import annotations

import csv
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cxloop.config import Settings
from cxloop.services.act.rules import engine as alerts
from cxloop.services.listen import imports
from cxloop.services.listen.imports import import_file
from cxloop.store import audit
from cxloop.store.db import session_scope
from cxloop.store.tables import Case, ImportRun, Question, Segment, Touchpoint
from cxloop.warehouse.connection import connect
from cxloop.warehouse.derived.data_version import data_version
from cxloop.warehouse.write import writer
from cxloop.web.app import create_app
from support.cases_world import World, build_world

BATCH = 4
# Every table an import writes to the warehouse (data_version compared apart: its id is per warehouse).
TABLES = (
    "responses",
    "answers",
    "response_items",
    "responses_monthly",
    "driver_moments_monthly",
    "customers",
    "units",
    "unit_closure",
)


def _world(tmp_path: Path, name: str) -> World:
    settings = Settings(data_dir=tmp_path / name / "data", environment="test", secret_key="t-" + "s" * 40)
    return build_world(settings)


@pytest.fixture
def posted(tmp_path: Path) -> Iterator[World]:
    built = _world(tmp_path, "posted")
    yield built
    built.engine.dispose()


@pytest.fixture
def filed(tmp_path: Path) -> Iterator[World]:
    built = _world(tmp_path, "filed")
    yield built
    built.engine.dispose()


@pytest.fixture
def client(posted: World) -> Iterator[TestClient]:
    with TestClient(create_app(posted.settings)) as client:
        with session_scope(posted.engine) as session:
            alerts.create_rule(
                session,
                posted.viewer("admin@bank.example"),
                name="detractors",
                kind="nps_at_most",
                actor=audit.Actor.system("test"),
            )
        yield client


def _rows() -> list[dict]:
    """Twelve responses in three batches: items, touchpoints, segments, comments, customers never imported;
    the third batch brings a new driver item and a new touchpoint and segment (the derived tables'
    item set changes there)."""
    rows = []
    for i in range(12):
        row = {
            "response_id": f"r{i:02d}",
            "submitted_at": f"2026-{9 + i % 3:02d}-{1 + i:02d}T10:{i:02d}:00Z",
            "unit_id": "b01" if i % 2 else "b02",
            "customer_id": f"c{i % 5}",
            "touchpoint": "branch_visit" if i % 3 else "phone",
            "segment": "mass" if i % 4 else "premium",
            "nps": (i * 7) % 11,
            "csat": 1 + i % 5,
            "comment": None if i % 3 == 0 else f"said {i}",
            "q_staff": 2 + i % 9,
            "q_wait": None if i == 5 else (i * 3) % 11,
        }
        if i >= 2 * BATCH:
            row.update(touchpoint="app", segment="young", q_speed=i % 11)
        rows.append(row)
    return rows


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _table(world: World, name: str) -> list[dict]:
    con = connect(world.settings)
    try:
        table = con.con.execute(f"SELECT * FROM {name}").to_arrow_table()  # noqa: S608
    finally:
        con.disconnect()
    rows = table.to_pylist()
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def _version(world: World):
    con = connect(world.settings)
    try:
        return data_version(con)
    finally:
        con.disconnect()


def _catalogue(world: World) -> dict[str, list]:
    with session_scope(world.engine) as session:
        return {
            "touchpoints": sorted(
                (t.touchpoint_id, t.name, t.stage_order) for t in session.query(Touchpoint)
            ),
            "segments": sorted((s.segment_id, s.name) for s in session.query(Segment)),
            "questions": sorted(
                (q.question_id, q.type.value, q.scale_min, q.scale_max, q.is_driver)
                for q in session.query(Question)
            ),
        }


def test_posts_store_exactly_what_a_file_import_of_the_same_rows_stores(client, posted, filed, tmp_path):
    rows = _rows()
    key = {"X-API-Key": posted.api_key}
    versions = [_version(posted)]
    for start in range(0, len(rows), BATCH):
        answer = client.post("/api/v1/responses", json=rows[start : start + BATCH], headers=key)
        assert answer.status_code == 201, answer.text
        assert (answer.json()["accepted"], answer.json()["rejected"]) == (BATCH, 0)
        versions.append(_version(posted))
    # the data version moves with every stored batch (the dashboard cache keys on it)
    assert len({v.version if v else None for v in versions}) == len(versions)

    summary = import_file(
        "responses", _jsonl(tmp_path / "same.jsonl", rows), settings=filed.settings, batch_size=BATCH
    )
    assert (summary.accepted, summary.rejected, summary.batches) == (len(rows), 0, 3)

    for name in TABLES:
        assert _table(posted, name) == _table(filed, name), name
    assert len(_table(posted, "response_items")) == len(rows)
    assert _catalogue(posted) == _catalogue(filed)

    # Posting a batch again stores nothing, counts duplicates and leaves the data version alone.
    again = client.post("/api/v1/responses", json=rows[:BATCH], headers=key)
    assert again.status_code == 200
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, BATCH)
    assert _version(posted) == versions[-1]
    assert _table(posted, "responses") == _table(filed, "responses")

    with session_scope(posted.engine) as session:
        runs = [r for r in session.query(ImportRun).order_by(ImportRun.id) if r.kind == "responses"]
    assert [(r.status, r.accepted, r.duplicates, r.rejected) for r in runs] == [("done", BATCH, 0, 0)] * 3 + [
        ("done", 0, BATCH, 0)
    ]
    assert all(r.source.startswith("api-") for r in runs)


def test_posts_give_the_file_imports_row_level_reasons_and_quarantine(client, posted, filed, tmp_path):
    good = {"response_id": "ok1", "submitted_at": "2026-11-01T10:00:00Z", "unit_id": "b01", "nps": 8}
    rows = [
        good,
        {**good, "response_id": "bad-score", "nps": 11},
        {**good, "response_id": "bad-date", "submitted_at": "yesterday"},
        {**good, "response_id": "future", "submitted_at": "2099-01-01T00:00:00Z"},
        {**good, "response_id": "nowhere", "unit_id": "b99"},
        {**good, "response_id": "no-unit", "unit_id": None},
        {**good, "response_id": "ok1", "nps": 3},  # the same id again in the batch
        {**good, "response_id": "bad-item", "q_staff": "lots"},
        {**good, "response_id": "two-faults", "nps": -1, "csat": "x"},
        {**good, "response_id": "ok2", "q_staff": 7},
    ]
    answer = client.post("/api/v1/responses", json=rows, headers={"X-API-Key": posted.api_key})
    assert answer.status_code == 201, answer.text
    body = answer.json()

    summary = import_file("responses", _jsonl(tmp_path / "same.jsonl", rows), settings=filed.settings)
    assert (body["accepted"], body["rejected"], body["duplicates"]) == (
        summary.accepted,
        summary.rejected,
        summary.duplicates,
    )
    assert body["rejected"] == 8
    assert [(p["row"], p["column"], p["reason"]) for p in body["problems"]] == [
        (p["row"], p["column"], p["reason"]) for p in summary.problems
    ]
    assert {p["row"]: p["response_id"] for p in body["problems"]}[5] == "nowhere"

    with session_scope(posted.engine) as session:
        run = session.get(ImportRun, body["import_run_id"])
        # a unit outside the poster's scope is refused before the import (its existence must not leak)
        assert (run.status, run.accepted, run.rejected) == ("done", 2, 7)
        quarantine = run.quarantine_path

    def rejected(path: str) -> list[tuple]:
        with Path(path).open(encoding="utf-8", newline="") as handle:
            return [(r["response_id"], r["column"], r["reason"]) for r in csv.DictReader(handle)]

    assert quarantine and Path(quarantine).parent == posted.settings.quarantine_dir
    assert rejected(quarantine) == [r for r in rejected(summary.quarantine) if r[0] != "nowhere"]

    # The stored rows count as duplicates on a second post, as on a second import of the file.
    again = client.post("/api/v1/responses", json=rows, headers={"X-API-Key": posted.api_key})
    reimport = import_file("responses", tmp_path / "same.jsonl", settings=filed.settings)
    assert (again.json()["accepted"], again.json()["duplicates"], again.json()["rejected"]) == (
        reimport.accepted,
        reimport.duplicates,
        reimport.rejected,
    )
    assert again.json()["duplicates"] == 2


def test_a_detractor_posted_twice_at_once_opens_exactly_one_case(client, posted):
    key = {"X-API-Key": posted.api_key}
    answers: list[dict] = []
    for round_ in range(4):
        row = {
            "response_id": f"twice-{round_}",
            "submitted_at": "2026-11-20T10:00:00Z",
            "unit_id": "b01",
            "nps": 1,
            "comment": "nobody called back",
        }
        start = threading.Barrier(2)

        def post(row: dict = row, start: threading.Barrier = start) -> None:
            start.wait()
            response = client.post("/api/v1/responses", json=[row], headers=key)
            answers.append(response.json())

        threads = [threading.Thread(target=post) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(answers) == 8
    assert sum(a["accepted"] for a in answers) == 4 and sum(a["duplicates"] for a in answers) == 4
    with session_scope(posted.engine) as session:
        cases = session.query(Case).all()
        assert sorted(c.response_id for c in cases) == [f"twice-{i}" for i in range(4)]
    assert sorted(i for a in answers for i in a["cases_opened"]) == sorted(c.id for c in cases)
    assert len(_table(posted, "responses")) == 4


def test_the_app_sets_up_once_and_again_after_a_failed_write(client, posted, monkeypatch):
    upgrades: list[str] = []
    real_upgrade = imports._upgrade
    monkeypatch.setattr(imports, "_upgrade", lambda url: (upgrades.append(url), real_upgrade(url)))
    key = {"X-API-Key": posted.api_key}

    def row(rid: str) -> dict:
        return {"response_id": rid, "submitted_at": "2026-11-20T10:00:00Z", "unit_id": "b02", "nps": 9}

    for rid in ("s1", "s2", "s3"):
        assert client.post("/api/v1/responses", json=[row(rid)], headers=key).status_code == 201
    assert len(upgrades) == 1

    real_append = writer.append_batch
    calls = {"n": 0}

    def failing_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("disk full")
        return real_append(*args, **kwargs)

    monkeypatch.setattr(imports, "append_batch", failing_once)
    with pytest.raises(RuntimeError, match="disk full"):
        client.post("/api/v1/responses", json=[row("s4")], headers=key)
    assert client.post("/api/v1/responses", json=[row("s4")], headers=key).status_code == 201
    assert len(upgrades) == 2  # the set-up was forgotten after the failure and done again
    assert [r["response_id"] for r in _table(posted, "responses")] == ["s1", "s2", "s3", "s4"]
    with session_scope(posted.engine) as session:
        failed = [r for r in session.query(ImportRun) if r.status == "failed"]
    assert len(failed) == 1 and "disk full" in failed[0].message
