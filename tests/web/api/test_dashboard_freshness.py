"""Dashboard reads under steady writes (issue 23, defect 10): the expensive answers are recomputed at most
once per ``CXLOOP_DASHBOARD_STALENESS_SECONDS``, not on every write; the answer says how fresh it is;
reads outside a dashboard read (alert rules, imports, the command line) always get current data.

The clock answers are aged by is replaced (``cache.clock``), so nothing here waits or times anything.
A small demo (scale 0.02) is loaded through the import pipeline, so the warehouse has a data version.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cxloop.config import Settings
from cxloop.services import cache
from cxloop.services.access.scope import Viewer
from cxloop.services.listen.imports import import_file
from cxloop.services.stores import Stores
from cxloop.services.understand import dashboard
from cxloop.store.db import session_scope
from cxloop.store.tables import Role
from cxloop.warehouse.derived.data_version import data_version
from support.web_demo import BRANCH, EXECUTIVE, login, page_login

UNIT = "br-0001"
STALENESS = 30.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Served:
    settings: Settings
    client: TestClient
    clock: FakeClock
    tiles_computed: list[str]
    written: int = 0

    def write(self) -> None:
        """One response for the branch through the ingest layer (what a posted response does)."""
        self.written += 1
        path = self.settings.data_dir / f"fresh-{self.written}.csv"
        path.write_text(
            "response_id,submitted_at,unit_id,touchpoint,channel,segment,nps,csat,ces,comment\n"
            f"fresh-{self.written},2026-11-0{1 + self.written % 9}T10:00:00,{UNIT},,,,10,5,7,\n",
            encoding="utf-8",
        )
        with self.client.app.state.warehouse.borrow() as con:
            assert import_file("responses", path, settings=self.settings, warehouse=con).accepted == 1

    def version(self) -> int:
        with self.client.app.state.warehouse.borrow() as con:
            found = data_version(con)
            assert found is not None
            return found.version


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, demo_companies) -> Iterator[Served]:
    data_dir = tmp_path_factory.mktemp("freshness") / "data"
    settings = demo_companies.copy(0.02, 3, data_dir, secret_key="test-" + "f" * 40).settings
    settings = settings.model_copy(update={"dashboard_staleness_seconds": STALENESS})
    from cxloop.web.app import create_app

    with TestClient(create_app(settings), base_url="https://testserver", follow_redirects=False) as client:
        yield Served(settings, client, FakeClock(), [])


@pytest.fixture(autouse=True)
def counted(served: Served, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A fresh cache, the fake clock, and every computation of the home tiles counted (by unit)."""
    cache.results.clear()
    served.tiles_computed.clear()
    monkeypatch.setattr(cache, "clock", served.clock, raising=False)
    real = dashboard._home_tiles

    def counting(viewer: Viewer, stores: Stores, focus: str, *args: Any) -> Any:
        served.tiles_computed.append(focus)
        return real(viewer, stores, focus, *args)

    monkeypatch.setattr(dashboard, "_home_tiles", counting)
    yield
    cache.results.clear()


def _bearer(client: TestClient, email: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(client, email).json()['access_token']}"}


def test_steady_writes_recompute_the_tiles_once_per_interval_not_once_per_write(served):
    client, clock = served.client, served.clock
    headers = _bearer(client, BRANCH)
    tiles_url = f"/api/v1/units/{UNIT}/tiles"
    metrics_url = f"/api/v1/units/{UNIT}/metrics?by=total&metric=nps"
    first = client.get(tiles_url, headers=headers)
    counted_before = client.get(metrics_url, headers=headers).json()["cells"][0]["n"]
    assert first.status_code == 200 and served.tiles_computed == [UNIT]
    seen = served.version()
    assert first.headers["x-data-version"] == str(seen)
    assert first.headers["x-data-as-of"].endswith("+00:00")

    for _ in range(5):  # steady writes, 2 s apart: all within the interval
        served.write()
        clock.now += 2.0
        again = client.get(tiles_url, headers=headers)
        assert again.status_code == 200 and again.content == first.content
        assert again.headers["x-data-version"] == str(seen)  # says it is the older data
        assert client.get(metrics_url, headers=headers).json()["cells"][0]["n"] == counted_before
    assert served.tiles_computed == [UNIT]  # not once per write
    assert served.version() == seen + 5

    clock.now += STALENESS  # the interval is over: the next read is answered at once (the older answer) ...
    late = client.get(tiles_url, headers=headers)
    assert late.content == first.content and late.headers["x-data-version"] == str(seen)
    assert client.get(tiles_url, headers=headers).content == first.content  # ... scheduled once
    _settle(client)  # ... and the answer recomputed in the background, once, at the current version
    assert served.tiles_computed == [UNIT, UNIT]
    fresh = client.get(tiles_url, headers=headers)
    assert fresh.status_code == 200 and fresh.headers["x-data-version"] == str(seen + 5)
    assert fresh.content != first.content
    client.get(metrics_url, headers=headers)
    _settle(client)
    assert client.get(metrics_url, headers=headers).json()["cells"][0]["n"] == counted_before + 5
    assert client.get(tiles_url, headers=headers).content == fresh.content
    assert served.tiles_computed == [UNIT, UNIT]
    assert client.app.state.dashboard_refreshes.failed == 0


def _settle(client: TestClient) -> None:
    """Wait for the background refreshes the last reads set off."""
    assert client.app.state.dashboard_refreshes.wait(600)


def test_pages_are_dashboard_reads_too(served):
    client, clock = served.client, served.clock
    assert page_login(client, BRANCH).status_code == 303
    home = client.get("/")
    assert home.status_code == 200 and served.tiles_computed == [UNIT]
    served.write()
    clock.now += 1.0
    assert client.get("/").status_code == 200
    assert served.tiles_computed == [UNIT]
    clock.now += STALENESS
    assert client.get("/").status_code == 200
    _settle(client)
    assert served.tiles_computed == [UNIT, UNIT]
    client.cookies.clear()


def test_reads_outside_the_dashboard_always_get_current_data(served):
    """The same question asked by a service caller (alert rules, the command line): a write in between
    means a recomputation every time, whatever the interval."""
    viewer = Viewer(unit_id=UNIT, role=Role.manager)
    with session_scope(served.client.app.state.engine) as session:
        with served.client.app.state.warehouse.borrow() as con:
            stores = Stores(settings=served.settings, session=session, warehouse=con)
            dashboard.home_tiles(viewer, stores=stores)
            for count in (2, 3, 4):
                served.write()
                served.clock.now += 0.5
                dashboard.home_tiles(viewer, stores=stores)
                assert served.tiles_computed == [UNIT] * count


def test_within_the_interval_each_viewer_still_gets_their_own_answer(served):
    client, clock = served.client, served.clock
    branch, executive = _bearer(client, BRANCH), _bearer(client, EXECUTIVE)
    url = f"/api/v1/units/{UNIT}/metrics?compare=parent,company"
    mine = client.get(url, headers=branch)
    theirs = client.get(url, headers=executive)
    assert mine.status_code == theirs.status_code == 200 and mine.json() != theirs.json()
    served.write()
    clock.now += 1.0
    assert client.get(url, headers=branch).content == mine.content
    assert client.get(url, headers=executive).content == theirs.content
    assert client.get(f"/api/v1/units/{UNIT}/tiles", headers=branch).json()["unit"] == UNIT
    assert client.get("/api/v1/units/bank/tiles", headers=branch).status_code == 404
