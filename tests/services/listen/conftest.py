"""Fixtures for the import service tests: an org already imported, a canonical responses file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from cxloop.config import Settings
from cxloop.services.listen.imports import import_file
from support.import_helpers import RESPONSE_HEADER, UNITS_CSV, write_csv


@pytest.fixture
def org(settings: Settings, tmp_path: Path) -> Settings:
    """Settings whose app database already holds a small org (bank > north/south > b01..b03)."""
    units = tmp_path / "units.csv"
    units.write_text(UNITS_CSV, encoding="utf-8")
    summary = import_file("units", units, settings=settings)
    assert summary.accepted == 6 and summary.rejected == 0
    return settings


@pytest.fixture
def responses_csv(tmp_path: Path) -> Callable[..., Path]:
    """``responses_csv(rows, name=...)``: a canonical responses file of the given rows."""

    def make(rows: Sequence[Sequence[str]], name: str = "responses.csv", header=RESPONSE_HEADER) -> Path:
        return write_csv(tmp_path / name, header, rows)

    return make
