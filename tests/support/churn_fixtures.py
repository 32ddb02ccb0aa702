"""The demo company for the churn tests: generated and loaded once, a model trained and scored once.

Scale 1 (20,000 customers, ~3.6% churn in 90 days) gives ~45,000 validation rows and ~1,650 churners.
The demo's churn signal is weak by design (a 2.6 hazard ratio for detractors, the best possible ranking
reaches AUC ~0.61), so smaller demos lack the power to separate the models: at scale 0.5 the classifier's
top-decile precision (0.047) fell below the detractor rule's (0.053); see docs/predict.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from ibis.backends import BaseBackend

from cxloop.config import Settings
from cxloop.services.access.scope import Viewer
from cxloop.services.value import churn as predict
from cxloop.warehouse.connection import connect
from support.demo_companies import DemoCompanies
from support.stores import stores_with

SCALE, SEED = 1, 2026


@dataclass(frozen=True)
class ChurnDemo:
    settings: Settings
    truth: dict[str, Any]
    con: BaseBackend
    viewer: Viewer


@dataclass(frozen=True)
class TrainedDemo:
    demo: ChurnDemo
    run: predict.TrainingRun
    score: predict.ScoreRun


@pytest.fixture(scope="session")
def churn_demo(tmp_path_factory: pytest.TempPathFactory, demo_companies: DemoCompanies):
    data_dir = tmp_path_factory.mktemp("predict") / "data"
    company = demo_companies.copy(SCALE, SEED, data_dir, secret_key="test-" + "p" * 40)
    settings, truth = company.settings, company.truth()
    con = connect(settings)
    yield ChurnDemo(settings, truth, con, Viewer(truth["hierarchy"]["company"]))
    con.disconnect()


@pytest.fixture(scope="session")
def trained(churn_demo: ChurnDemo) -> TrainedDemo:
    with stores_with(churn_demo.settings, churn_demo.con) as stores:
        run = predict.train_churn_model(churn_demo.viewer, stores=stores)
        score = predict.score_churn(churn_demo.viewer, stores=stores)
    return TrainedDemo(churn_demo, run, score)
