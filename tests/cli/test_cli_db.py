"""``cxloop db upgrade / current / downgrade`` through the real Typer app."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cxloop.cli import app
from cxloop.store import migrate

HEAD = migrate.head()  # the newest revision shipped; these tests hold whatever it is


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def cli_env(request, tmp_path, monkeypatch) -> tuple[dict[str, str | None], str]:
    """Environment for the CLI and the database URL it should end up using."""
    monkeypatch.chdir(tmp_path)  # no stray .env file
    monkeypatch.delenv("CXLOOP_DATABASE_URL", raising=False)
    data_dir = tmp_path / "cxloop-data"
    if request.param == "sqlite":
        return {"CXLOOP_DATA_DIR": str(data_dir)}, f"sqlite:///{(data_dir / 'cxloop.db').as_posix()}"
    url = request.getfixturevalue("postgres_url")
    return {"CXLOOP_DATA_DIR": str(data_dir), "CXLOOP_DATABASE_URL": url}, url


def _run(env, *args, input=None):
    return CliRunner().invoke(app, ["db", *args], env=env, input=input)


def test_upgrade_migrates_the_configured_database_and_prints_from_to(cli_env):
    env, url = cli_env
    result = _run(env, "upgrade")
    assert result.exit_code == 0, result.output
    assert f"migrated (empty database) -> {HEAD}" in result.output
    assert migrate.current(url) == HEAD
    again = _run(env, "upgrade")
    assert again.exit_code == 0, again.output
    assert f"already at {HEAD} - nothing to do" in again.output


def test_upgrade_uses_the_data_dir_by_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CXLOOP_DATABASE_URL", raising=False)
    result = _run({"CXLOOP_DATA_DIR": str(tmp_path / "elsewhere")}, "upgrade")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "elsewhere" / "cxloop.db").is_file()
    assert not (tmp_path / "cxloop-data").exists()


def test_current_reports_and_check_fails_until_upgraded(cli_env):
    env, _ = cli_env
    before = _run(env, "current", "--check")
    assert before.exit_code == 1
    assert f"revision (empty database), newest is {HEAD}" in before.output
    assert _run(env, "current").exit_code == 0  # without --check it only reports
    _run(env, "upgrade")
    after = _run(env, "current", "--check")
    assert after.exit_code == 0, after.output
    assert f"revision {HEAD} (up to date)" in after.output


def test_downgrade_asks_first_and_does_nothing_when_refused(cli_env):
    env, url = cli_env
    _run(env, "upgrade")
    refused = _run(env, "downgrade", "base", input="n\n")
    assert refused.exit_code == 1
    assert "Downgrade the app database" in refused.output
    assert migrate.current(url) == HEAD
    accepted = _run(env, "downgrade", "base", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert f"downgraded {HEAD} -> (empty database)" in accepted.output
    assert migrate.current(url) is None


def test_downgrade_with_yes_does_not_ask(cli_env):
    env, url = cli_env
    _run(env, "upgrade")
    result = _run(env, "downgrade", "base", "--yes")
    assert result.exit_code == 0, result.output
    assert "Downgrade the app database" not in result.output
    assert migrate.current(url) is None


def test_unknown_revision_is_a_clean_error(cli_env):
    env, _ = cli_env
    result = _run(env, "upgrade", "9999")
    assert result.exit_code == 1
    assert "Can't locate revision identified by '9999'" in result.output
    assert "Traceback" not in result.output


def test_unreachable_database_is_a_clean_error_that_hides_the_password(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # Port 1 on localhost refuses connections at once.
    env = {"CXLOOP_DATABASE_URL": "postgresql+psycopg://someone:hunter2@127.0.0.1:1/nowhere"}
    result = _run(env, "current")
    assert result.exit_code == 1
    assert (
        "cannot reach the app database postgresql+psycopg://someone:***@127.0.0.1:1/nowhere" in result.output
    )
    assert "hunter2" not in result.output


@pytest.mark.parametrize("command", [[], ["upgrade"], ["current"], ["downgrade"]])
def test_every_command_has_help(command):
    result = CliRunner().invoke(app, ["db", *command, "--help"])
    assert result.exit_code == 0
    assert "app database" in result.output
