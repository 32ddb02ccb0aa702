"""``cxloop users add|list|disable|password|logout`` and ``cxloop apikeys create|list|revoke``, small org."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cxloop.cli import app
from cxloop.config import Settings
from cxloop.store import migrate
from cxloop.store import units as unit_store
from cxloop.store.db import engine_for, session_scope
from cxloop.store.units import UnitRecord
from cxloop.web.app import create_app


@pytest.fixture()
def data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path)
    migrate.upgrade(settings.resolved_database_url)
    engine = engine_for(settings)
    with session_scope(engine) as session:
        unit_store.upsert_units(
            session,
            [
                UnitRecord("co", None, "Company", "company"),
                UnitRecord("b1", "co", "Branch 1", "branch"),
                UnitRecord("b2", "co", "Branch 2", "branch"),
            ],
        )
    engine.dispose()
    return tmp_path


def _cli(data_dir, *args):
    return CliRunner().invoke(app, list(args), env={"CXLOOP_DATA_DIR": str(data_dir), "COLUMNS": "150"})


def test_users_add_list_disable(data_dir):
    added = _cli(
        data_dir, "users", "add", "-e", "Ann@Example.com", "-p", "long-password", "-r", "manager", "-u", "b1"
    )
    assert added.exit_code == 0, added.output
    assert "ann@example.com" in added.output
    listed = _cli(data_dir, "users", "list")
    assert "ann@example.com" in listed.output and "manager" in listed.output and "b1" in listed.output
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        form = {"username": "ann@example.com", "password": "long-password"}
        assert client.post("/api/v1/auth/token", data=form).status_code == 200
        assert _cli(data_dir, "users", "disable", "ann@example.com").exit_code == 0
        assert client.post("/api/v1/auth/token", data=form).status_code == 401
    assert "disabled" in _cli(data_dir, "users", "list").output
    assert "ann@example.com" not in _cli(data_dir, "users", "list", "--active").output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-r", "manager", "-u", "nowhere"], "unknown unit"),
        (["-r", "boss", "-u", "b1"], "unknown role"),
        (["-r", "manager", "-u", "b1", "-p", "short"], "at least 8"),
    ],
)
def test_users_add_refuses_bad_input_with_exit_2(data_dir, args, message):
    password = [] if "-p" in args else ["-p", "long-password"]
    result = _cli(data_dir, "users", "add", "-e", "x@example.com", *password, *args)
    assert result.exit_code == 2
    assert message in result.output


def test_apikeys_create_prints_the_key_once_and_it_works_until_revoked(data_dir):
    created = _cli(data_dir, "apikeys", "create", "--unit", "b2", "--name", "crm")
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("cxk_")
    listed = _cli(data_dir, "apikeys", "list").output
    assert key not in listed and "crm" in listed and "live" in listed
    prefix = key.split("_")[1]
    with TestClient(create_app(Settings(data_dir=data_dir))) as client:
        units = client.get("/api/v1/units", headers={"X-API-Key": key}).json()
        assert [u["unit_id"] for u in units["items"]] == ["b2"]
        assert _cli(data_dir, "apikeys", "revoke", prefix).exit_code == 0
        assert client.get("/api/v1/units", headers={"X-API-Key": key}).status_code == 401
    assert _cli(data_dir, "apikeys", "create", "--unit", "nowhere").exit_code == 2


def test_users_password_and_logout_end_every_session(data_dir):
    add = ["users", "add", "-e", "cy@example.com", "-p", "first-password", "-r", "manager", "-u", "b1"]
    added = _cli(data_dir, *add)
    assert added.exit_code == 0, added.output
    settings = Settings(data_dir=data_dir, environment="test", secret_key="test-" + "u" * 40)
    with TestClient(create_app(settings)) as client:

        def token(password: str) -> dict[str, str]:
            form = {"username": "cy@example.com", "password": password}
            response = client.post("/api/v1/auth/token", data=form)
            assert response.status_code == 200, response.text
            return {"Authorization": f"Bearer {response.json()['access_token']}"}

        first = token("first-password")
        changed = _cli(data_dir, "users", "password", "cy@example.com", "-p", "second-password")
        assert changed.exit_code == 0, changed.output
        assert "sessions have ended" in changed.output
        assert client.get("/api/v1/units", headers=first).status_code == 401
        second, third = token("second-password"), token("second-password")
        assert client.get("/api/v1/units", headers=second).status_code == 200
        out = _cli(data_dir, "users", "logout", "cy@example.com")
        assert out.exit_code == 0 and "ended 2 session(s)" in out.output
        assert client.get("/api/v1/units", headers=second).status_code == 401
        assert client.get("/api/v1/units", headers=third).status_code == 401
    assert _cli(data_dir, "users", "password", "nobody@example.com", "-p", "long-password").exit_code == 2
    assert _cli(data_dir, "users", "password", "cy@example.com", "-p", "short").exit_code == 2
    assert _cli(data_dir, "users", "logout", "nobody@example.com").exit_code == 2
