from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from cxloop.config import PLACEHOLDER_SECRETS, Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_defaults_live_under_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path)
    assert s.resolved_database_url == f"sqlite:///{tmp_path.as_posix()}/cxloop.db"
    assert s.resolved_warehouse_url == f"duckdb://{tmp_path.as_posix()}/warehouse.duckdb"
    assert s.min_n == 5
    assert s.confidence == 0.95


def test_environment_variables_use_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CXLOOP_MIN_N", "12")
    monkeypatch.setenv("CXLOOP_WAREHOUSE_URL", "pyspark://local")
    s = Settings()
    assert s.min_n == 12
    assert s.resolved_warehouse_url == "pyspark://local"


@pytest.mark.parametrize("secret", ["change-me", "", "secret", None])
def test_placeholder_secret_refused_outside_development(secret: str | None) -> None:
    for environment in ("production", "test"):
        with pytest.raises(ValidationError, match="CXLOOP_SECRET_KEY is a placeholder"):
            Settings(environment=environment, secret_key=secret)
    assert Settings(environment="development", secret_key=secret).environment == "development"


@pytest.mark.parametrize("secret", [None, "change-me", ""])
def test_development_without_a_secret_generates_a_private_key_per_data_directory(
    tmp_path: Path, secret: str | None
) -> None:
    settings = Settings(data_dir=tmp_path / "a", secret_key=secret)
    assert not settings.has_secret_key
    assert not settings.development_secret_path.exists()  # nothing is written until a key is needed
    key = settings.signing_secret().get_secret_value()
    assert key not in PLACEHOLDER_SECRETS and len(key) >= 48
    stored = settings.development_secret_path
    assert stored == tmp_path / "a" / "secret_key" and stored.read_text().strip() == key
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    # the same key for every process over this data directory, another for another directory
    assert Settings(data_dir=tmp_path / "a").signing_secret().get_secret_value() == key
    assert Settings(data_dir=tmp_path / "b").signing_secret().get_secret_value() != key


def test_a_set_secret_is_used_as_is_and_nothing_is_written(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="s" * 48)
    assert settings.has_secret_key
    assert settings.signing_secret().get_secret_value() == "s" * 48
    assert not settings.development_secret_path.exists()


def test_an_unusable_key_file_is_refused_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "secret_key").write_text("short\n")
    with pytest.raises(ValueError, match="delete it to make a new one"):
        Settings(data_dir=tmp_path).signing_secret()


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    documented = set(re.findall(r"`(CXLOOP_[A-Z_]+)`", text))
    for name, field in Settings.model_fields.items():
        assert f"CXLOOP_{name.upper()}" in documented, f"CXLOOP_{name.upper()} is missing from the README"
        assert field.description, f"{name} has no help text"
