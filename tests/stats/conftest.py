"""Reference data sets for the statistics tests, as fixtures, and the ``lifetimes`` peer package.

The published numbers live in ``tests/stats/reference/*.py`` as plain data with their sources; that folder
is put on ``sys.path`` here so the test modules can import them by name (``import drivers_published``,
``import clv_cdnow``).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
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


@pytest.fixture(scope="session")
def lifetimes() -> ModuleType:
    """The ``lifetimes`` package (0.11.3): a peer to compare with, not a dependency of cxloop.

    Importing it sets a pandas option that pandas 3 deprecated, and it imports ``pkg_resources``, which
    setuptools deprecated (pinned below 81 in the dev extra so it still exists); those two named warnings
    are ignored.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=pd.errors.Pandas4Warning, message=".*chained_assignment")
        warnings.filterwarnings("ignore", category=UserWarning, message="pkg_resources is deprecated")
        import lifetimes as module
        import lifetimes.datasets  # noqa: F401 - loads the submodule on the package
    return module


@pytest.fixture(scope="session")
def cdnow(lifetimes: ModuleType) -> pd.DataFrame:
    """The 2,357-customer CDNOW calibration sample: frequency, recency, T (weeks), monetary_value."""
    return lifetimes.datasets.load_cdnow_summary_data_with_monetary_value()
