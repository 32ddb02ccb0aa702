"""An app over a small org (bank > north > b01, b02) with an admin at the root, an admin of b02 only,
and a manager, for the upload page tests (web test client and real Chromium)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cxloop.config import Settings
from cxloop.services.access.identity import add_user
from cxloop.services.listen.imports import import_file
from cxloop.store.db import engine_for, session_scope
from cxloop.web.app import create_app
from support.export_samples import ADMIN, BRANCH_ADMIN, MANAGER, PASSWORD, UNITS_CSV


@dataclass(frozen=True)
class UploadWorld:
    settings: Settings
    tmp: Path


@pytest.fixture
def upload_world(tmp_path: Path) -> UploadWorld:
    settings = Settings(data_dir=tmp_path / "data", environment="test", secret_key="test-" + "k" * 40)
    units = tmp_path / "units.csv"
    units.write_text(UNITS_CSV, encoding="utf-8")
    assert import_file("units", units, settings=settings).accepted == 4
    engine = engine_for(settings)
    try:
        with session_scope(engine) as session:
            add_user(session, ADMIN, PASSWORD, "admin", "bank")
            add_user(session, BRANCH_ADMIN, PASSWORD, "admin", "b02")
            add_user(session, MANAGER, PASSWORD, "manager", "bank")
    finally:
        engine.dispose()
    return UploadWorld(settings, tmp_path)


@pytest.fixture
def upload_client(upload_world: UploadWorld):
    with TestClient(create_app(upload_world.settings), base_url="https://testserver") as client:
        yield client
