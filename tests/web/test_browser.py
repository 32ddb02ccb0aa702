"""In a real headless Chromium (Debian's package, driven by Playwright): a branch manager logs in, sees
the dashboard with its chart drawn by plotly.js, and a screenshot is saved to ``test-artifacts/``.

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``); skipped without it locally, failed in CI.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from web_demo import BRANCH

from cxloop.demo.users import DEMO_PASSWORD
from cxloop.web.app import create_app

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _need_chromium() -> None:
    if shutil.which(CHROMIUM) is None:
        message = f"{CHROMIUM} not found: apt-get install -y chromium"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{message} (CI=true requires it)")
        pytest.skip(message)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo) -> Iterator[str]:
    """The app on a loopback port, served by uvicorn in a thread."""
    _need_chromium()
    port = _free_port()
    config = uvicorn.Config(create_app(demo.settings), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    while not instance.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://localhost:{port}"
    instance.should_exit = True
    thread.join()


def test_branch_manager_logs_in_and_sees_the_dashboard_with_its_chart(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(f"{server}/")
            assert page.url.endswith("/login")
            page.fill("#email", BRANCH)
            page.fill("#password", DEMO_PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{server}/")
            tiles = page.locator(".tile")
            assert tiles.count() == 7
            assert "NPS" in tiles.first.inner_text()
            # plotly.js drew the trend: its SVG with one path per trace
            page.wait_for_selector("#trend .main-svg", timeout=20_000)
            assert page.locator("#trend .scatterlayer .trace").count() == 3
            ARTIFACTS.mkdir(exist_ok=True)
            shot = ARTIFACTS / "dashboard-branch-manager.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
