"""Demo fixtures: one small generated company per test process (``demo_companies``), read back as data
frames.

Scale 0.2 (about 20,000 responses, 4,000 customers, 18 branches) generates quickly and is large enough
for the recovery checks (driver ranking, churn hazard ratio, pilot DiD) to have power.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest

from cxloop.demo import KINDS, DemoDataset
from support.demo_companies import DemoCompanies

RECOVERY_SCALE = 0.2
RECOVERY_SEED = 11


@dataclass(frozen=True)
class DemoFrames:
    dataset: DemoDataset
    truth: dict[str, Any]
    frames: dict[str, pd.DataFrame]

    def __getitem__(self, kind: str) -> pd.DataFrame:
        return self.frames[kind]


@pytest.fixture(scope="session")
def demo(demo_companies: DemoCompanies) -> DemoFrames:
    """The demo company at scale 0.2, seed 11, with every file read into pandas."""
    dataset = demo_companies.files(RECOVERY_SCALE, RECOVERY_SEED)
    frames = {kind: pd.read_parquet(dataset.files[kind]) for kind in KINDS}
    frames["themes"] = pd.read_parquet(dataset.themes)
    return DemoFrames(dataset=dataset, truth=dataset.truth(), frames=frames)
