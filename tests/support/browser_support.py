"""Real-browser tests: Debian's chromium driven by Playwright, against the app served on a loopback port.

Every browser test uses these, so they launch the same browser the same way and skip (or, with ``CI=true``,
fail) with the same message when chromium is missing.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from cxloop.config import Settings
from cxloop.web.app import create_app
from support.real_parts import unavailable

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


def need_chromium() -> None:
    """Skip the test when Debian's chromium is missing (fail under ``CI=true``)."""
    if shutil.which(CHROMIUM) is None:
        unavailable(CHROMIUM, "apt-get install -y chromium")


@contextmanager
def serve(settings: Settings) -> Iterator[str]:
    """``create_app(settings)`` served by uvicorn in a thread; yields its base URL."""
    need_chromium()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, daemon=True)
    thread.start()
    while not instance.started:
        if not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        # localhost, not 127.0.0.1: a secure context, so the Secure session cookie is kept over http.
        yield f"http://localhost:{port}"
    finally:
        instance.should_exit = True
        thread.join()


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian chromium (a Playwright ``Browser``), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def log_in(page: Any, base: str, email: str) -> None:
    """Log ``email`` in through the login page (the demo password) and wait for the home page."""
    from cxloop.demo.users import DEMO_PASSWORD

    page.goto(f"{base}/login")
    page.fill("#email", email)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
