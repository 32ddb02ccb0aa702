"""In a real headless Chromium (Debian's package, driven by Playwright): an admin uploads a Qualtrics
export through the page, checks the proposed mapping, renames an item, imports and reads the report.

Needs ``/usr/bin/chromium``; skipped without it locally, failed in CI (as tests/web/test_browser.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.browser_support import chromium, serve
from support.export_samples import ADMIN, PASSWORD, qualtrics_numeric_rows, qualtrics_rows_table, write_export


@pytest.fixture
def server(upload_world) -> Iterator[str]:
    settings = upload_world.settings  # Secure cookies work on http://localhost (a secure context)
    with serve(settings) as url:
        yield url


def test_admin_uploads_a_qualtrics_export_in_the_browser(server, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    export = write_export(tmp_path / "qualtrics-export.csv", qualtrics_rows_table(qualtrics_numeric_rows()))
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{server}/login")
        page.fill("#email", ADMIN)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server}/")
        page.goto(f"{server}/admin/upload")
        page.set_input_files("#file", str(export))
        page.click("#upload")
        expect(page.locator("#detected")).to_contain_text("Qualtrics export (csv, UTF-8)")
        nps = page.locator('select[data-column="Q1"]')
        expect(nps).to_have_value("nps")
        expect(page.locator("#preview-rows")).to_contain_text("Friendly staff, très bien")
        item = page.locator('input[aria-label="item name of Q2_1"]')
        item.fill("staff")
        page.click("#import")
        expect(page.locator("#accepted")).to_have_text("3", timeout=60_000)
        expect(page.locator("#rejected")).to_have_text("1")
        expect(page.locator("#detected-format")).to_have_text("qualtrics")
        expect(page.locator("#problems")).to_contain_text("out of range: nps must be 0 to 10")
