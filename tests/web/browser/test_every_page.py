"""Every page a person can reach from the navigation, as every kind of demo login, in a real Chromium
(issue 17's check that keeps the pages right): no 4xx or 5xx, no console error, no axe-core violation, and
at 390 px nothing wider than the screen. Screenshots at 1440 and 390 px go to ``test-artifacts/pages/``.

The demo company holds a pilot with a wave, cases, targets and actions for it (created here through the
services if the demo does not seed them), so no page is tested empty. axe-core is vendored under
``tests/support/axe/`` (its README says where from and under which licence) and injected through the
DevTools protocol, which the Content-Security-Policy does not govern: the page's own policy stays on and
any script it would block shows as a console error.

Needs ``/usr/bin/chromium``; skipped without it locally, failed in CI.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from cxloop.demo.users import DEMO_PASSWORD
from cxloop.services.access.identity import add_user
from cxloop.services.access.scope import Viewer
from cxloop.services.act import actions as action_service
from cxloop.services.act import targets as target_service
from cxloop.services.act.rules import engine as rules
from cxloop.services.act.targets import actor_for
from cxloop.store import units as unit_store
from cxloop.store import users as user_store
from cxloop.store.db import engine_for, session_scope
from cxloop.store.tables import Case, Role
from cxloop.warehouse.connection import connect
from support.browser_support import ARTIFACTS, chromium, log_in, serve
from support.web_demo import BRANCH, DIVISION, EXECUTIVE, REGION

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pages"))
from test_pilot_pages import pilots  # noqa: E402, F401 - the pilots fixture (a pilot with a wave)
from test_themes_pages import tagged  # noqa: E402, F401 - the demo's comments tagged with the demo codebook

AXE = Path(__file__).resolve().parents[2] / "support" / "axe" / "axe.min.js"
SHOTS = ARTIFACTS / "pages"
FRONTLINE = "demo-frontline@northwind.example"
ADMIN = "demo-admin@northwind.example"
PERSONAS = {
    "executive": EXECUTIVE,
    "division": DIVISION,
    "region": REGION,
    "branch": BRANCH,
    "frontline": FRONTLINE,
    "admin": ADMIN,
}
WIDE, PHONE = 1440, 390


@pytest.fixture(scope="module")
def programme(demo, pilots, tagged) -> dict[str, int]:  # noqa: F811
    """The demo with every login level, tagged comments, and cases, a target and an action beside the
    pilot."""
    engine = engine_for(demo.settings)
    admin = Viewer(unit_id="bank", role="admin")
    try:
        with session_scope(engine) as session:
            for email, role, unit in ((FRONTLINE, Role.frontline, "br-0001"), (ADMIN, Role.admin, "bank")):
                if user_store.get_user_by_email(session, email) is None:
                    add_user(session, email, DEMO_PASSWORD, role, unit, name=f"Demo {role.value}")
        with session_scope(engine) as session:
            branches = sorted(
                u for u in unit_store.subtree_ids(session, "reg-north-west") if u.startswith("br-")
            )
            if not session.query(Case).count():
                actor = actor_for(session, admin)
                rules.create_rule(session, admin, name="Detractors", kind="nps_at_most", actor=actor)
                con = connect(demo.settings)
                try:
                    ids = [
                        str(r)
                        for r in con.table("responses")
                        .filter(lambda t: t.unit_id.isin([*branches, "br-0001"]))
                        .order_by("submitted_at")
                        .limit(40)
                        .response_id.to_pyarrow()
                        .to_pylist()
                    ]
                    rules.run_rules(session, con, rules.load_responses(con, ids), settings=demo.settings)
                finally:
                    con.disconnect()
            region = Viewer(unit_id="reg-north-west", role="manager")
            target = target_service.set_target(
                session,
                region,
                target_service.TargetDraft(branches[0], "nps", "quarter", date(2026, 7, 1), 30.0, "Catch up"),
            )
            action_service.create_action(
                session,
                region,
                action_service.ActionDraft(
                    title="Call back every detractor within a day",
                    unit_id=branches[0],
                    owner=REGION,
                    due_date=date(2026, 12, 31),
                    impact_metric="nps",
                    impact_points=3.0,
                    target_ids=(target.id,),
                ),
            )
            cases = session.query(Case).count()
    finally:
        engine.dispose()
    assert cases > 0
    return {"cases": cases}


@pytest.fixture(scope="module")
def server(demo, programme) -> Iterator[str]:
    with serve(demo.settings) as url:
        yield url


def _axe(page) -> list[str]:
    """axe-core's violations on the page as it is now, one line each (rule, impact, first target)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {json.dumps(v['nodes'][0]['target'])} x{len(v['nodes'])}"
        for v in found
    ]


#: Pages below the navigation, one of each kind, visited once the navigation's pages are done: the unit's
#: cases and actions lists, a case, an action, targets, a pilot, its report, a unit below the viewer's own.
DEEPER = {
    "unit cases": re.compile(r"/units/[^/?]+/cases"),
    "unit actions": re.compile(r"/actions\?view=unit"),
    "case": re.compile(r"/cases/\d+"),
    "action": re.compile(r"/actions/\d+"),
    "targets": re.compile(r"/targets"),
    "pilot": re.compile(r"/pilots/\d+"),
    "report": re.compile(r"/pilots/\d+/report"),
    "unit": re.compile(r"/units/[^/?]+"),
}


def _pages(links: list[str], deeper: dict[str, str]) -> Iterator[str]:
    """The navigation's pages, then the deeper pages found on any page visited (``deeper`` fills while the
    pages are seen), until no new one turns up."""
    yield from links
    seen = set(links)
    while fresh := [href for href in deeper.values() if href not in seen]:
        for href in fresh:
            seen.add(href)
            yield href


def _slug(path: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"


@pytest.mark.parametrize("persona", list(PERSONAS))
def test_every_page_in_the_navigation_is_whole_accessible_and_fits_a_phone(server, persona):
    problems: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page(viewport={"width": WIDE, "height": 900})
        page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on(
            "response",
            lambda r: (
                problems.append(f"{r.status} {r.url}")
                if r.status >= 400 and r.url.startswith(server)
                else None
            ),
        )
        log_in(page, server, PERSONAS[persona])
        links = page.eval_on_selector_all("header nav a", "links => links.map(a => a.getAttribute('href'))")
        assert len(links) >= 10, links
        deeper: dict[str, str] = {}  # one page of each kind the navigation's pages link to
        for path in _pages(links, deeper):
            page.set_viewport_size({"width": WIDE, "height": 900})
            answer = page.goto(f"{server}{path}")
            assert answer is not None
            page.wait_for_load_state("networkidle")
            where = f"{persona} {path}"
            if answer.status >= 400:
                problems.append(f"{where}: answered {answer.status}")
            assert page.locator("main h1").count() >= 1, f"{where}: no heading"
            problems += [f"{where} at {WIDE} px: {v}" for v in _axe(page)]
            # every chart names both axes (plotly draws the titles as text.xtitle / text.ytitle)
            untitled = page.evaluate(
                """() => [...document.querySelectorAll('.js-plotly-plot')]
                     .filter(c => !(c.querySelector('text.xtitle')?.textContent.trim()
                                    && c.querySelector('text.ytitle')?.textContent.trim()))
                     .map(c => c.id)"""
            )
            problems += [f"{where}: chart #{chart} without axis titles" for chart in untitled]
            page.screenshot(path=str(SHOTS / f"{persona}-{WIDE}-{_slug(path)}.png"), full_page=True)
            hrefs = page.eval_on_selector_all(
                "main a[href^='/']", "all => all.map(a => a.getAttribute('href'))"
            )
            for href in hrefs:
                kind = next((k for k, pattern in DEEPER.items() if pattern.fullmatch(href)), None)
                if kind is not None and kind not in deeper and href not in links:
                    deeper[kind] = href

            page.set_viewport_size({"width": PHONE, "height": 844})
            page.wait_for_timeout(600)  # plotly redraws its charts, cxloop.js marks wide tables, on resize
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > PHONE:
                problems.append(f"{where} at {PHONE} px: {width} px wide")
            problems += [f"{where} at {PHONE} px: {v}" for v in _axe(page)]
            page.screenshot(path=str(SHOTS / f"{persona}-{PHONE}-{_slug(path)}.png"), full_page=True)
        # on a phone the menu folds away and opens from the keyboard
        page.goto(f"{server}/")
        assert not page.locator("header nav a").first.is_visible()
        page.focus("#menu-toggle")
        page.keyboard.press("Space")
        assert page.locator("header nav a").first.is_visible()
    if persona in ("executive", "region", "admin"):  # the pilot, cases and action lie in their scope
        assert {"case", "action", "pilot", "report"} <= set(deeper), deeper
        assert "/targets" in links or "targets" in deeper, (links, deeper)
    assert not problems, "\n".join(problems)
