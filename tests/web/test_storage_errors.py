"""A store that fails (a full disk, a read-only or corrupt data directory, an unreachable database) answers
503 with the reason an operator can act on, as JSON under ``/api/`` and as a page elsewhere, never a bare 500;
the exception is logged with its traceback. Anything else that raises an ``OSError`` or a database error stays
what it was: a bug, 500."""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.testclient import TestClient

from cxloop.config import Settings
from cxloop.store.db import session_scope
from cxloop.store.tables import ImportRun
from cxloop.warehouse.connection import connect
from cxloop.web.app import create_app
from support.cases_world import World, login

POSTED = {"response_id": "x1", "submitted_at": "2026-11-20T10:00:00Z", "unit_id": "b01", "nps": 3}
RAISED = {
    "disk-full": lambda: OSError(errno.ENOSPC, "No space left on device", "/srv/cxloop/secret-folder/x"),
    "read-only": lambda: OSError(errno.EROFS, "Read-only file system", "/srv/cxloop/x"),
    "missing-file": lambda: FileNotFoundError(errno.ENOENT, "No such file", "/srv/cxloop/x"),
    "wrapped": lambda: _wrapped(),
}


def _wrapped() -> Exception:
    try:
        raise OSError(errno.ENOSPC, "No space left on device")
    except OSError as cause:
        try:
            raise RuntimeError("the import stopped part-way") from cause
        except RuntimeError as error:
            return error


@pytest.fixture
def client(tmp_path) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=tmp_path))
    router = APIRouter()

    @router.get("/api/v1/raise/{name}")
    @router.get("/raise/{name}")
    def raise_it(name: str) -> None:
        raise RAISED[name]()

    app.include_router(router)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield client


def test_a_storage_failure_answers_503_with_its_reason_as_json_and_as_a_page(client, caplog):
    with caplog.at_level(logging.ERROR, logger="cxloop.web.errors"):
        api = client.get("/api/v1/raise/disk-full")
        page = client.get("/raise/read-only")
    assert api.status_code == page.status_code == 503
    assert api.json() == {
        "error": {
            "code": "storage_unavailable",
            "message": "the disk holding cxloop's data is full: free space on it",
            "reason": "disk_full",
        }
    }
    assert int(api.headers["retry-after"]) > 0 and int(page.headers["retry-after"]) > 0
    assert page.headers["content-type"].startswith("text/html")
    assert (
        "<h1>Service unavailable</h1>" in page.text
        and (
            '<p class="error-message">the data directory is read-only: make it writable (is its volume '
            "mounted read-only?)</p>"
        )
        in page.text
    )
    assert "secret-folder" not in api.text  # the path stays in the log
    logged = [r for r in caplog.records if r.exc_info and "storage unavailable" in r.getMessage()]
    assert len(logged) == 2 and "secret-folder" in str(logged[0].exc_info[1])


def test_an_error_raised_from_a_storage_failure_answers_503_too(client):
    answer = client.get("/api/v1/raise/wrapped")
    assert answer.status_code == 503 and answer.json()["error"]["reason"] == "disk_full"


def test_other_os_errors_stay_bugs(client):
    answer = client.get("/api/v1/raise/missing-file")
    assert answer.status_code == 500
    assert answer.json() == {"error": {"code": "internal_error", "message": "internal error"}}


def test_a_corrupt_warehouse_file_answers_503_on_the_routes_that_read_it(web_world: World):
    warehouse = web_world.settings.data_dir / "warehouse.duckdb"
    warehouse.write_bytes(b"not a database" * 1000)
    with TestClient(create_app(web_world.settings), raise_server_exceptions=False) as client:
        headers = login(client, "branch1@bank.example")
        answers = [
            client.get("/api/v1/units/b01/metrics", headers=headers),
            client.get("/api/v1/units/b01/comments", headers=headers),
            client.post(
                "/api/v1/responses",
                json={
                    "response_id": "x1",
                    "submitted_at": "2026-11-20T10:00:00Z",
                    "unit_id": "b01",
                    "nps": 3,
                },
                headers={"X-API-Key": web_world.api_key},
            ),
        ]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["reason"] == "warehouse_corrupt"
        assert answer.json()["error"]["message"].startswith("the warehouse file is corrupt: restore it")
        assert str(warehouse.parent) not in answer.text


def test_a_read_only_app_database_answers_503(world: World):
    with TestClient(create_app(world.settings), raise_server_exceptions=False) as client:
        engine = client.app.state.engine
        if engine.dialect.name == "sqlite":

            @sa.event.listens_for(engine, "connect")
            def _read_only(dbapi_connection, _record) -> None:
                dbapi_connection.execute("PRAGMA query_only=ON")

        else:
            with engine.connect() as connection:
                database = connection.execute(sa.text("SELECT current_database()")).scalar_one()
                connection.execute(
                    sa.text(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
                )
                connection.commit()
        engine.dispose()
        answer = client.post(
            "/api/v1/responses",
            json=POSTED,
            headers={"X-API-Key": world.api_key},
        )
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["reason"] == "app_database_read_only"


def test_a_disk_full_while_storing_a_post_answers_503_and_stores_nothing(web_world: World, monkeypatch):
    monkeypatch.setenv("CXLOOP_FAILPOINT", "import.inside_batch")
    monkeypatch.setenv("CXLOOP_FAILPOINT_ACTION", "disk-full")
    with TestClient(create_app(web_world.settings), raise_server_exceptions=False) as client:
        answer = client.post(
            "/api/v1/responses",
            json=[POSTED],
            headers={"X-API-Key": web_world.api_key},
        )
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["reason"] == "disk_full"
    con = connect(web_world.settings)
    try:
        assert con.con.execute("SELECT count(*) FROM responses").fetchone() == (0,)
    finally:
        con.disconnect()
    with session_scope(web_world.engine) as session:
        run = session.query(ImportRun).filter(ImportRun.source.startswith("api-")).one()
        assert run.status == "failed" and "No space left on device" in run.message
