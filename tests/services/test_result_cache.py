"""The services' result cache: same answers as without it, never stale after a write, never shared
across scopes; and the pooled warehouse cursors behind it.

A small demo (scale 0.02) is loaded through the import pipeline, so the warehouse has a data version
and the monthly leaf aggregate, as a real installation has.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from cxloop.config import Settings
from cxloop.services import cache
from cxloop.services.access.scope import ScopeError, Viewer
from cxloop.services.listen.imports import import_file
from cxloop.services.stores import Stores
from cxloop.services.understand.comments import CommentsQuery, comments
from cxloop.services.understand.metrics import MetricsQuery, metrics
from cxloop.store.db import session_scope
from cxloop.store.tables import Role
from cxloop.warehouse.derived import responses_monthly
from cxloop.warehouse.derived.data_version import data_version
from cxloop.web.app import create_app
from support.web_demo import BRANCH, EXECUTIVE, login

BRANCH_UNIT = "br-0001"


@dataclass
class Shop:
    settings: Settings
    client: TestClient

    def session(self) -> Iterator[Session]:
        return session_scope(self.client.app.state.engine)

    def warehouse(self):
        return self.client.app.state.warehouse.borrow()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory, demo_companies) -> Iterator[Shop]:
    data_dir = tmp_path_factory.mktemp("cache") / "data"
    settings = demo_companies.copy(0.02, 3, data_dir, secret_key="test-" + "c" * 40).settings
    # These tests read right after each write and expect the new data (a dashboard read may be older).
    settings = settings.model_copy(update={"dashboard_staleness_seconds": 0})
    with TestClient(create_app(settings)) as client:
        yield Shop(settings, client)


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    cache.results.clear()
    yield
    cache.results.clear()


EXEC = Viewer(unit_id="bank", role=Role.executive)
BRANCH_VIEWER = Viewer(unit_id=BRANCH_UNIT, role=Role.manager)
METRICS_QUERIES = (
    MetricsQuery(compare=("previous",)),
    MetricsQuery(include="children", grain="quarter", compare=("parent", "siblings")),
    MetricsQuery(grain=None, by=("touchpoint",), metrics=("nps", "csat")),
    MetricsQuery(grain="week", start=date(2025, 3, 1), end=date(2025, 4, 30)),
)


def _import_one(shop: Shop, con, head: str, scores: str) -> None:
    """Import one response of the branch through the ingest layer: ``head`` is ``id,submitted_at``,
    ``scores`` is ``nps,csat,ces,comment``."""
    new = shop.settings.data_dir / f"{head.split(',')[0]}.csv"
    new.write_text(
        "response_id,submitted_at,unit_id,touchpoint,channel,segment,nps,csat,ces,comment\n"
        f"{head},{BRANCH_UNIT},,,,{scores}\n",
        encoding="utf-8",
    )
    assert import_file("responses", new, settings=shop.settings, warehouse=con).accepted == 1


def _uncached(fn):
    previous = cache.results
    cache.configure(0)
    try:
        return fn()
    finally:
        cache.results = previous


def test_the_warehouse_has_a_version_and_a_complete_leaf(shop):
    with shop.warehouse() as con:
        assert data_version(con) is not None
        assert responses_monthly.usable(con)


@pytest.mark.parametrize("viewer", [EXEC, BRANCH_VIEWER], ids=["executive", "branch"])
def test_cached_metrics_and_comments_equal_the_uncached_service(shop, viewer):
    with shop.session() as session, shop.warehouse() as con:
        kw = {"stores": Stores(settings=shop.settings, session=session, warehouse=con)}
        for query in METRICS_QUERIES:
            first = metrics(viewer, query, **kw)
            hits = cache.results.hits
            second = metrics(viewer, query, **kw)
            assert cache.results.hits == hits + 1
            plain = _uncached(lambda q=query: metrics(viewer, q, **kw))
            pd.testing.assert_frame_equal(second.cells, plain.cells)
            assert second.to_dict() == plain.to_dict() == first.to_dict()
            second.cells["estimate"] = -999.0  # a caller changing its copy ...
            assert metrics(viewer, query, **kw).to_dict() == plain.to_dict()  # ... changes nothing cached
        for query in (
            CommentsQuery(limit=7),
            CommentsQuery(limit=5, offset=40),
            CommentsQuery(limit=3, q="the"),
            CommentsQuery(limit=4, start=date(2025, 1, 1), end=date(2025, 6, 30)),
            CommentsQuery(limit=4, start=date(2025, 1, 9)),
        ):
            first = comments(viewer, query, **kw)
            assert comments(viewer, query, **kw) == first
            assert _uncached(lambda q=query: comments(viewer, q, **kw)) == first


def test_paging_through_months_gives_the_whole_stream_in_order(shop):
    """Pages found from the monthly counts add up to the stream read without them."""
    with shop.session() as session, shop.warehouse() as con:
        kw = {"stores": Stores(settings=shop.settings, session=session, warehouse=con)}
        whole = _uncached(lambda: comments(EXEC, CommentsQuery(limit=500), **kw))
        assert whole.total > 60
        paged = []
        for offset in range(0, whole.total + 10, 23):
            paged += comments(EXEC, CommentsQuery(limit=23, offset=offset), **kw).items
        expected = whole.items if whole.total <= 500 else None
        if expected is not None:
            assert [i["response_id"] for i in paged] == [i["response_id"] for i in expected]
        times = [i["submitted_at"] for i in paged]
        assert times == sorted(times, reverse=True)
        assert len({i["response_id"] for i in paged}) == len(paged) == whole.total


def test_scope_is_part_of_the_key(shop):
    """The same query object (no unit: 'my unit') asked by the executive and then by a branch manager:
    the branch manager gets their own branch's numbers, never the executive's cached ones."""
    with shop.session() as session, shop.warehouse() as con:
        kw = {"stores": Stores(settings=shop.settings, session=session, warehouse=con)}
        query = MetricsQuery(compare=("previous",))
        executive = metrics(EXEC, query, **kw)
        branch = metrics(BRANCH_VIEWER, query, **kw)
        assert set(executive.cells.unit) == {"bank"} and set(branch.cells.unit) == {BRANCH_UNIT}
        assert branch.to_dict() == _uncached(lambda: metrics(BRANCH_VIEWER, query, **kw)).to_dict()
        stream = CommentsQuery(limit=50)
        everyone = comments(EXEC, stream, **kw)
        mine = comments(BRANCH_VIEWER, stream, **kw)
        assert {i["unit_id"] for i in mine.items} == {BRANCH_UNIT}
        assert mine.total < everyone.total
        # What the executive has cached for a region stays out of reach of the branch manager.
        region = MetricsQuery(unit="reg-scotland")
        metrics(EXEC, region, **kw)
        with pytest.raises(ScopeError):
            metrics(BRANCH_VIEWER, region, **kw)


def test_through_the_api_a_branch_manager_never_gets_the_executives_cached_answer(shop):
    """The same URL asked by the executive first and the branch manager next: the branch manager's body is
    the one they get with nothing cached (their comparisons are "outside your scope", the executive's carry
    the region's and the company's numbers), and units above the branch answer 404 with no figure in it."""
    client = shop.client
    tokens = {email: login(client, email).json()["access_token"] for email in (EXECUTIVE, BRANCH)}
    auth = {email: {"Authorization": f"Bearer {token}"} for email, token in tokens.items()}
    url = f"/api/v1/units/{BRANCH_UNIT}/metrics?compare=parent,company"
    executive = client.get(url, headers=auth[EXECUTIVE])
    branch = client.get(url, headers=auth[BRANCH])
    assert executive.status_code == branch.status_code == 200
    assert branch.json() != executive.json()  # the executive's comparisons reach the region and the company
    cache.results.clear()
    fresh = _uncached(lambda: client.get(url, headers=auth[BRANCH]))
    assert branch.json() == fresh.json()
    asked = client.get("/api/v1/units/bank/metrics", headers=auth[EXECUTIVE])
    assert asked.status_code == 200 and asked.json()["cells"]
    for path in ("/api/v1/units/bank/metrics", "/api/v1/units/bank/comments"):
        refused = client.get(path, headers=auth[BRANCH])
        assert refused.status_code == 404
        assert refused.json()["error"]["code"] == "unit_not_found" and "cells" not in refused.json()


def test_a_response_imported_after_a_read_shows_up_in_the_next_read(shop):
    with shop.session() as session, shop.warehouse() as con:
        kw = {"stores": Stores(settings=shop.settings, session=session, warehouse=con)}
        query = MetricsQuery(grain=None, metrics=("nps",))
        before = metrics(BRANCH_VIEWER, query, **kw)
        stream_before = comments(BRANCH_VIEWER, CommentsQuery(limit=5), **kw)
        version = data_version(con)
        assert metrics(BRANCH_VIEWER, query, **kw).to_dict() == before.to_dict()  # cached

        _import_one(shop, con, "cache-test-1,2026-11-01T10:00:00", "10,5,7,A brand new <b>comment</b>")
        assert data_version(con) != version

        after = metrics(BRANCH_VIEWER, query, **kw)
        n_before = int(before.cells.n.iloc[0])
        assert int(after.cells.n.iloc[0]) == n_before + 1
        assert after.cells.estimate.iloc[0] > before.cells.estimate.iloc[0]  # a promoter joined
        stream = comments(BRANCH_VIEWER, CommentsQuery(limit=5), **kw)
        assert stream.total == stream_before.total + 1
        assert stream.items[0]["response_id"] == "cache-test-1"
        assert stream.items[0]["comment"] == "A brand new <b>comment</b>"
        assert responses_monthly.usable(con)


def test_api_bodies_follow_a_posted_response(shop):
    """The API keeps finished JSON bodies; the first read after a post is a new body with the response."""
    client = shop.client
    headers = {"Authorization": f"Bearer {login(client, BRANCH).json()['access_token']}"}
    url = f"/api/v1/units/{BRANCH_UNIT}/metrics?by=total&metric=nps"
    before = client.get(url, headers=headers)
    assert client.get(url, headers=headers).content == before.content  # kept
    stream = client.get(f"/api/v1/units/{BRANCH_UNIT}/comments?limit=3", headers=headers)
    with shop.warehouse() as con:
        _import_one(shop, con, "api-cache-1,2026-11-02T10:00:00", "0,1,1,<script>alert(1)</script> slow")
    after = client.get(url, headers=headers)
    assert after.json()["cells"][0]["n"] == before.json()["cells"][0]["n"] + 1
    newest = client.get(f"/api/v1/units/{BRANCH_UNIT}/comments?limit=3", headers=headers).json()
    assert newest["total"] == stream.json()["total"] + 1
    assert newest["items"][0]["comment"] == "<script>alert(1)</script> slow"  # JSON text, never markup
    assert after.headers["content-type"] == "application/json"
    assert after.headers["x-content-type-options"] == "nosniff"


def test_conditional_gets_answer_304_until_the_answer_changes(shop):
    client = shop.client
    headers = {"Authorization": f"Bearer {login(client, BRANCH).json()['access_token']}"}
    url = f"/api/v1/units/{BRANCH_UNIT}/metrics?by=total&metric=nps,csat"
    first = client.get(url, headers=headers)
    etag = first.headers["etag"]
    assert first.status_code == 200 and first.headers["cache-control"] == "private, no-cache"
    again = client.get(url, headers={**headers, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get(url, headers={**headers, "If-None-Match": '"other", W/' + etag}).status_code == 304
    assert client.get(url, headers={**headers, "If-None-Match": '"other"'}).status_code == 200
    units = client.get("/api/v1/units", headers=headers)
    assert (
        client.get("/api/v1/units", headers={**headers, "If-None-Match": units.headers["etag"]}).status_code
        == 304
    )
    with shop.warehouse() as con:
        _import_one(shop, con, "etag-1,2026-11-03T10:00:00", "10,5,7,")
    changed = client.get(url, headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["cells"][0]["n"] == first.json()["cells"][0]["n"] + 1
    # Another viewer's identical question has its own answer (scope is in the key), never a 304 by mistake.
    executive = {"Authorization": f"Bearer {login(client, EXECUTIVE).json()['access_token']}"}
    other = client.get(url, headers={**executive, "If-None-Match": changed.headers["etag"]})
    assert other.status_code in (200, 304)
    if other.status_code == 304:  # only when the bytes are the same answer
        assert client.get(url, headers=executive).content == changed.content


def test_a_moved_or_disabled_user_is_seen_on_their_next_request(shop):
    """Who a token stands for and what they see are kept between requests, under the app database's scope
    stamp: a change made behind the app's back (another process, plain SQL) shows on the next request."""
    from sqlalchemy import text

    from cxloop.store.logins import open_session
    from cxloop.store.users import create_user
    from cxloop.web.security import create_access_token

    with shop.session() as session:
        user_id = create_user(session, "mover@northwind.example", Role.manager, BRANCH_UNIT).id
        session_id = open_session(session, user_id, "api", 60)
    client = shop.client
    headers = {"Authorization": f"Bearer {create_access_token(shop.settings, user_id, session_id)}"}
    units = client.get("/api/v1/units", headers=headers).json()
    assert [u["unit_id"] for u in units["items"]] == [BRANCH_UNIT]
    region = next(
        u
        for u in client.get("/api/v1/units?limit=1000", headers=_exec(client)).json()["items"]
        if u["level"] == "region"
    )["unit_id"]
    assert client.get(f"/api/v1/units/{region}/metrics", headers=headers).status_code == 404

    engine = shop.client.app.state.engine
    with engine.begin() as connection:  # plain SQL, as another process would
        connection.execute(text("UPDATE users SET unit_id = :u WHERE id = :i"), {"u": region, "i": user_id})
    moved = client.get("/api/v1/units", headers=headers).json()
    assert moved["items"][0]["unit_id"] == region and moved["total"] > 1
    assert client.get(f"/api/v1/units/{region}/metrics", headers=headers).status_code == 200

    with engine.begin() as connection:
        connection.execute(text("UPDATE users SET is_active = false WHERE id = :i"), {"i": user_id})
    refused = client.get("/api/v1/units", headers=headers)
    assert refused.status_code == 401
    assert "disabled" in refused.json()["error"]["message"]


def _exec(client: TestClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(client, EXECUTIVE).json()['access_token']}"}


def test_borrowed_cursors_are_reused_and_never_lent_twice(tmp_path):
    from cxloop.web.deps import WarehouseConnections

    connections = WarehouseConnections(Settings(data_dir=tmp_path))
    with connections.borrow() as first:
        first.raw_sql("CREATE TABLE t AS SELECT range AS x FROM range(100)")
        with connections.borrow() as second:
            assert second is not first  # in use: a second request gets another cursor
    with connections.borrow() as again:
        assert again in (first, second)  # back from the pool, not a new one
    in_use: set[int] = set()
    lock = threading.Lock()
    errors: list[str] = []

    def worker() -> None:
        for _ in range(20):
            with connections.borrow() as con:
                with lock:
                    if id(con) in in_use:
                        errors.append("lent twice")
                    in_use.add(id(con))
                if con.table("t").x.sum().to_pyarrow().as_py() != 4950:
                    errors.append("wrong sum")
                with lock:
                    in_use.discard(id(con))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    connections.dispose()
    assert errors == []


def test_simultaneous_misses_compute_once_and_all_get_the_result():
    from cxloop.warehouse.connection import connect_url
    from cxloop.warehouse.tables import ensure_tables
    from cxloop.warehouse.write.hierarchy import build_hierarchy, write_hierarchy

    con = connect_url("duckdb://")
    ensure_tables(con)
    write_hierarchy(con, build_hierarchy(["a", "b"], [None, "a"], ["A", "B"], ["company", "branch"]))
    cursors = [con.con.cursor() for _ in range(6)]
    import ibis

    backends = [ibis.duckdb.from_connection(c) for c in cursors]
    release, calls, got = threading.Event(), [], []
    start = threading.Barrier(len(backends))

    def compute():
        calls.append(1)
        release.wait(10)
        return {"answer": 42}

    def reader(backend) -> None:
        start.wait()
        got.append(cache.cached("test.single", backend, ("k",), compute))

    threads = [threading.Thread(target=reader, args=(b,)) for b in backends]
    for thread in threads:
        thread.start()
    while not calls:
        threading.Event().wait(0.01)
    threading.Event().wait(0.2)  # let the others arrive and wait
    release.set()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert got == [{"answer": 42}] * len(backends)


def test_while_one_request_recomputes_dashboard_readers_take_the_older_answer():
    """After a write, the first reader recomputes and gets the new answer; readers arriving meanwhile inside
    ``stale_while_recomputing`` get the previous version's answer at once, the others wait for the new one."""
    import ibis

    from cxloop.warehouse.connection import connect_url
    from cxloop.warehouse.derived.data_version import bump
    from cxloop.warehouse.tables import ensure_tables
    from cxloop.warehouse.write.hierarchy import build_hierarchy, write_hierarchy
    from cxloop.warehouse.write.writer import writer_for

    con = connect_url("duckdb://")
    ensure_tables(con)
    write_hierarchy(con, build_hierarchy(["a", "b"], [None, "a"], ["A", "B"], ["company", "branch"]))
    bump(writer_for(con))
    backends = [ibis.duckdb.from_connection(con.con.cursor()) for _ in range(3)]
    assert cache.cached("test.swr", backends[0], ("k",), lambda: "v1") == "v1"
    bump(writer_for(con))  # a write: every answer is stale

    release, started, got = threading.Event(), threading.Event(), {}

    def recompute():
        started.set()
        release.wait(10)
        return "v2"

    def first() -> None:
        with cache.stale_while_recomputing():
            got["first"] = cache.cached("test.swr", backends[0], ("k",), recompute)

    def waiting() -> None:  # not a dashboard read (alert rules, imports): waits for the new answer
        got["waiting"] = cache.cached("test.swr", backends[2], ("k",), lambda: "never")

    leader = threading.Thread(target=first)
    leader.start()
    assert started.wait(10)
    with cache.stale_while_recomputing():
        assert cache.cached("test.swr", backends[1], ("k",), lambda: "never") == "v1"  # at once
    assert cache.results.stale_served == 1
    patient = threading.Thread(target=waiting)
    patient.start()
    patient.join(0.3)
    assert patient.is_alive()  # still waiting for the recompute
    release.set()
    leader.join()
    patient.join()
    assert got == {"first": "v2", "waiting": "v2"}
    with cache.stale_while_recomputing():
        assert cache.cached("test.swr", backends[1], ("k",), lambda: "never") == "v2"  # now a hit


def _versioned_warehouse():
    """An in-memory warehouse with a data version, and a write that bumps it."""
    from cxloop.warehouse.connection import connect_url
    from cxloop.warehouse.derived.data_version import bump
    from cxloop.warehouse.tables import ensure_tables
    from cxloop.warehouse.write.hierarchy import build_hierarchy, write_hierarchy
    from cxloop.warehouse.write.writer import writer_for

    con = connect_url("duckdb://")
    ensure_tables(con)
    write_hierarchy(con, build_hierarchy(["a", "b"], [None, "a"], ["A", "B"], ["company", "branch"]))
    bump(writer_for(con))
    return con, lambda: bump(writer_for(con))


def test_a_dashboard_answer_is_recomputed_at_most_once_per_interval(monkeypatch):
    """Issue 23, defect 10: under steady writes every dashboard read recomputed its answer. Within the
    interval an older answer is served; after it the first reader recomputes (once); outside a dashboard
    read every read after a write recomputes."""
    now = [100.0]
    monkeypatch.setattr(cache, "clock", lambda: now[0], raising=False)
    con, write = _versioned_warehouse()
    computed: list[int] = []

    def compute() -> int:
        computed.append(data_version(con).version)
        return computed[-1]

    def dashboard_read(max_age: float = 10.0) -> tuple[int, cache.DashboardRead]:
        with cache.stale_while_recomputing(max_age) as read:
            return cache.cached("test.interval", con, ("k",), compute), read

    first, _ = dashboard_read()
    for _ in range(19):  # 2 posts/s for 9.5 s
        write()
        now[0] += 0.5
        answer, read = dashboard_read()
        assert answer == first and read.version == first and read.older_answers == 1
    assert computed == [first]
    assert cache.results.stale_served == 19
    write()
    now[0] += 0.5  # 10 s after the first computation: one recomputation, at the current version
    latest = data_version(con).version
    answer, read = dashboard_read()
    assert answer == latest == first + 20 and read.older_answers == 0 and computed == [first, latest]
    assert dashboard_read()[0] == latest and len(computed) == 2

    for _ in range(3):  # not a dashboard read: always current
        write()
        assert cache.cached("test.interval", con, ("k",), compute) == data_version(con).version
    assert len(computed) == 5
    write()  # staleness 0: the first reader after a write recomputes (today's behaviour)
    assert dashboard_read(0.0)[0] == data_version(con).version and len(computed) == 6


def test_old_versions_of_an_answer_do_not_pile_up():
    con, write = _versioned_warehouse()
    for _ in range(30):
        write()
        cache.cached("test.pile", con, ("k",), lambda: "x" * 1000)
    kept = len(cache.results)
    assert kept <= 2  # the answer (and the table listing the version check may use), not one per write


def test_the_cache_is_bounded_in_bytes():
    frame = pd.DataFrame({"text": [f"comment number {i}" * 4 for i in range(5000)], "x": range(5000)})
    size = cache.approximate_size(frame)
    assert size >= frame.memory_usage(deep=True).sum() > 300_000
    store = cache.ResultCache(maxsize=100, max_bytes=3 * size + size // 2)
    for i in range(10):
        store.put(("frame", i), frame.copy())
    assert len(store) == 3 and store.bytes <= store.max_bytes
    assert [store.peek(("frame", i)) is cache.MISSING for i in range(10)] == [True] * 7 + [False] * 3
    store.get(("frame", 7))  # recently used: kept when the next one comes
    store.put(("frame", 10), frame.copy())
    assert store.peek(("frame", 7)) is not cache.MISSING and store.peek(("frame", 8)) is cache.MISSING
    store.put(("huge",), pd.concat([frame] * 5))  # bigger than the whole budget: not kept
    assert store.peek(("huge",)) is cache.MISSING and store.too_large == 1 and len(store) == 3
    store.limit(max_bytes=size + size // 2)
    assert len(store) == 1 and store.bytes <= store.max_bytes


def test_approximate_size_follows_the_data_inside():
    from cxloop.web.api.cached_json import Body

    small, big = Body(b"x" * 10, '"e"'), Body(b"x" * 1_000_000, '"e"')
    assert cache.approximate_size(big) - cache.approximate_size(small) >= 999_990
    rows = [{"comment": f"{i}" + "y" * 1000, "n": i} for i in range(100)]
    assert cache.approximate_size(rows) > 100_000
    shared = "z" * 100_000
    assert cache.approximate_size([shared, shared]) < 150_000  # counted once
    nested = {"cells": pd.DataFrame({"v": range(10_000)}), "arr": np.zeros(10_000)}
    assert cache.approximate_size(nested) >= 160_000


def test_priorities_are_cached_and_follow_a_new_target(shop):
    """Where to improve first is a key-driver analysis: the home page asks for its top row on every load, so
    it is kept under the data version; a target set since (app database, not versioned) is a new answer."""
    from cxloop.services.act.targets import TargetDraft, set_target
    from cxloop.services.understand.priorities import priorities

    with shop.session() as session, shop.warehouse() as con:
        stores = Stores(settings=shop.settings, session=session, warehouse=con)
        first = priorities(EXEC, stores=stores, unit_id="bank")
        hits = cache.results.hits
        second = priorities(EXEC, stores=stores, unit_id="bank")
        assert cache.results.hits == hits + 2  # the items answered, then the ranking: no warehouse query
        plain = _uncached(lambda: priorities(EXEC, stores=stores, unit_id="bank"))
        assert second.to_dict() == first.to_dict()  # the same answer, a copy of it
        _same(second, plain)  # DuckDB's parallel sums differ in the last digits from run to run
        assert not any("target" in note for note in first.notes)
        set_target(session, EXEC, TargetDraft("bank", "nps", "year", date(2025, 1, 1), 60.0))
        third = priorities(EXEC, stores=stores, unit_id="bank")
        fresh = _uncached(lambda: priorities(EXEC, stores=stores, unit_id="bank"))
        assert any("target" in note and "60" in note for note in third.notes)
        _same(third, fresh)


def _same(result, other) -> None:
    pd.testing.assert_frame_equal(result.priorities, other.priorities, rtol=1e-9)
    assert result.notes == other.notes and result.benchmark == other.benchmark
    assert result.nps_point_value == pytest.approx(other.nps_point_value, rel=1e-9)
