"""A small demo company (scale 0.05) with its demo logins, loaded once, and an app over it."""

from __future__ import annotations

import pytest

from cxloop.config import Settings
from support.web_demo import SCALE, SEED, Demo, serve_demo

__all__ = ["SCALE", "SEED", "Demo"]


@pytest.fixture(scope="session")
def demo_settings(tmp_path_factory: pytest.TempPathFactory, demo_companies) -> Settings:
    """A copy of the demo company (the web tests write to it: actions, pilots, users)."""
    data_dir = tmp_path_factory.mktemp("web") / "data"
    return demo_companies.copy(SCALE, SEED, data_dir, secret_key="test-" + "k" * 40).settings


@pytest.fixture(scope="session")
def demo(demo_settings: Settings):
    with serve_demo(demo_settings) as world:
        yield world
