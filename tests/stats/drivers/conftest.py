"""Key-driver test fixtures: the reference data sets as DataFrames.

The published numbers live in ``tests/stats/reference/drivers_*.py`` as plain data; that folder is put on
``sys.path`` here so the test modules can import them by name (``import drivers_published``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference"
if str(REFERENCE_DIR) not in sys.path:
    sys.path.insert(0, str(REFERENCE_DIR))

import drivers_data  # noqa: E402 - needs the path above


@pytest.fixture(scope="session")
def swiss() -> pd.DataFrame:
    return pd.DataFrame(drivers_data.SWISS, columns=list(drivers_data.SWISS_COLUMNS), dtype=float)


@pytest.fixture(scope="session")
def mtcars() -> pd.DataFrame:
    return pd.DataFrame(drivers_data.MTCARS, columns=list(drivers_data.MTCARS_COLUMNS), dtype=float)


@pytest.fixture(scope="session")
def infert() -> pd.DataFrame:
    return pd.DataFrame(drivers_data.INFERT, columns=list(drivers_data.INFERT_COLUMNS), dtype=float)
