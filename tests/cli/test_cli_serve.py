"""``cxloop serve``: refuses to listen beyond this machine without CXLOOP_SECRET_KEY, warns on loopback,
and its --help says why. uvicorn is replaced by a recorder: nothing is served."""

from __future__ import annotations

import pytest
import uvicorn
from typer.testing import CliRunner

from cxloop.cli import app
from cxloop.cli.serve import EXIT_NO_SECRET_KEY


@pytest.fixture()
def served(monkeypatch, tmp_path) -> list[dict]:
    calls: list[dict] = []
    monkeypatch.setattr(uvicorn, "run", lambda application, **kwargs: calls.append(kwargs))
    monkeypatch.delenv("CXLOOP_SECRET_KEY", raising=False)
    monkeypatch.delenv("CXLOOP_ENVIRONMENT", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env from the working directory
    return calls


def _serve(tmp_path, *args, **env):
    environment = {"CXLOOP_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200", **env}
    return CliRunner().invoke(app, ["serve", *args], env=environment)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "cxloop.example.com"])
def test_serving_beyond_loopback_without_a_secret_is_refused(served, tmp_path, host):
    result = _serve(tmp_path, "--host", host)
    assert result.exit_code == EXIT_NO_SECRET_KEY == 2
    assert f"refusing to serve on {host}" in result.output and "CXLOOP_SECRET_KEY" in result.output
    assert served == []


def test_a_placeholder_secret_counts_as_none(served, tmp_path):
    result = _serve(tmp_path, "--host", "0.0.0.0", CXLOOP_SECRET_KEY="change-me")
    assert result.exit_code == 2 and served == []


def test_loopback_without_a_secret_serves_with_a_loud_warning(served, tmp_path):
    result = _serve(tmp_path)
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and "CXLOOP_SECRET_KEY is not set" in result.output
    assert str(tmp_path / "data" / "secret_key") in result.output
    assert served == [{"host": "127.0.0.1", "port": 8000, "log_level": "info"}]


def test_any_address_with_a_secret(served, tmp_path):
    result = _serve(tmp_path, "--host", "0.0.0.0", "--port", "9000", CXLOOP_SECRET_KEY="k" * 48)
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output
    assert served == [{"host": "0.0.0.0", "port": 9000, "log_level": "info"}]


def test_help_explains_the_host_and_the_secret(tmp_path):
    shown = _serve(tmp_path, "--help").output
    assert "127.0.0.1" in shown and "reachable from this machine only" in shown
    assert "CXLOOP_SECRET_KEY" in shown and "refuses" in shown
