"""A small demo company (scale 0.05) with its demo logins, loaded once, and an app over it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from cxloop.config import Settings
from cxloop.web.app import create_app
from support.web_demo import ANALYST, BRANCH, DIVISION, EXECUTIVE, REGION, login

SCALE, SEED = 0.05, 5


@dataclass(frozen=True)
class Demo:
    settings: Settings
    client: TestClient
    headers: dict[str, dict[str, str]]

    def as_(self, email: str) -> dict[str, str]:
        return self.headers[email]


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory: pytest.TempPathFactory, demo_companies) -> Settings:
    """A copy of the demo company (the web tests write to it: actions, pilots, users)."""
    data_dir = tmp_path_factory.mktemp("web") / "data"
    return demo_companies.copy(SCALE, SEED, data_dir, secret_key="test-" + "k" * 40).settings


@pytest.fixture(scope="session")
def demo(demo_settings: Settings):
    with TestClient(create_app(demo_settings)) as client:
        headers = {}
        for email in (EXECUTIVE, DIVISION, REGION, BRANCH, ANALYST):
            response = login(client, email)
            assert response.status_code == 200, response.text
            headers[email] = {"Authorization": f"Bearer {response.json()['access_token']}"}
        yield Demo(demo_settings, client, headers)
