from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from cxloop.config import Settings

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


@pytest.mark.parametrize("secret", ["change-me", "", "secret"])
def test_placeholder_secret_refused_outside_development(secret: str) -> None:
    with pytest.raises(ValidationError, match="CXLOOP_SECRET_KEY is a placeholder"):
        Settings(environment="production", secret_key=secret)
    assert Settings(environment="development", secret_key=secret).environment == "development"


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    documented = set(re.findall(r"`(CXLOOP_[A-Z_]+)`", text))
    for name, field in Settings.model_fields.items():
        assert f"CXLOOP_{name.upper()}" in documented, f"CXLOOP_{name.upper()} is missing from the README"
        assert field.description, f"{name} has no help text"
