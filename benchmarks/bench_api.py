"""Dashboard API under concurrent clients on loopback: p50/p95 latency and throughput.

The server is ``cxloop serve``'s app (one uvicorn worker) in its own process over a DuckDB warehouse
holding the demo company's responses (a copy of the warehouse ``bench_cube`` builds: scale 1 = ~100k,
10 = ~1M, 100 = ~10M responses) and a SQLite app database with the demo's units and logins. That
warehouse is filled around the ingest layer (one ``INSERT ... SELECT``), so the copy is given what the
importer maintains: the monthly leaf aggregate (``responses_monthly``, rebuilt from the responses; the
time is reported) and a data version. Clients are
threads with one keep-alive ``httpx.Client`` each, all logged in as the branch manager (``br-0001``) or
the executive (``bank``), each sending the dashboard's requests in turn:

* ``units``: ``GET /api/v1/units``
* ``metrics``: ``GET /api/v1/units/{unit}/metrics?by=month&compare=previous`` (the home page's call)
* ``comments``: ``GET /api/v1/units/{unit}/comments?limit=20``

Latency is per request, wall clock at the client; throughput is requests completed per second over the
whole run. Server and clients share the machine's two cores.

**Cold** is each route's first request per viewer on a freshly started server (empty result cache: the
engine query, Ibis compiling it, the statistics), and again right after a write changes the data
version (one response imported through the ingest layer by the server's own process is what a live
installation sees; here the version is bumped in place, which invalidates the same way). **Warm** rows
are the load runs that follow (the dashboard's repeated reads, served from the result cache).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2 as httpx  # the dev dependency (starlette 1.10 runs its TestClient on it)
import pyarrow.parquet as pq

from benchmarks._harness import DATA, table
from benchmarks.bench_cube import _demo, _warehouse

TITLE = "Dashboard API: p50/p95 latency and throughput with concurrent clients"

PASSWORD = "northwind-demo"
ROUTES = {
    "units": "/api/v1/units",
    "metrics": "/api/v1/units/{unit}/metrics?by=month&compare=previous",
    "comments": "/api/v1/units/{unit}/comments?limit=20",
}
VIEWERS = {
    "branch manager": ("demo-branch@northwind.example", "br-0001"),
    "executive": ("demo-executive@northwind.example", "bank"),
}

_SERVER = """
import sys, uvicorn
from cxloop.config import Settings
from cxloop.web.app import create_app
uvicorn.run(create_app(Settings()), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _app_db(scale: float) -> Path:
    """A data folder whose SQLite app database holds the demo's units and logins (built once)."""
    from cxloop.config import Settings
    from cxloop.demo.users import create_demo_users
    from cxloop.store import migrate
    from cxloop.store import units as unit_store
    from cxloop.store.db import engine_for, session_scope

    folder = DATA / f"api-scale-{scale:g}"
    if (folder / "cxloop.db").exists():
        return folder
    settings = Settings(data_dir=folder)
    migrate.upgrade(settings.resolved_database_url)
    units = pq.read_table(_demo(scale) / "units.parquet").to_pylist()
    engine = engine_for(settings)
    with session_scope(engine) as session:
        unit_store.upsert_units(
            session,
            [
                unit_store.UnitRecord(u["unit_id"], u["parent_id"] or None, u["name"], u["level"])
                for u in units
            ],
        )
    engine.dispose()
    create_demo_users(settings)
    return folder


def _api_warehouse(scale: float) -> tuple[Path, float | None]:
    """A copy of the cube benchmark's warehouse with the monthly leaf and a data version (built once;
    returns the seconds the leaf took to build, or None when it was already there)."""
    import shutil

    from cxloop.warehouse.connection import connect_url
    from cxloop.warehouse.derived import responses_monthly
    from cxloop.warehouse.derived.data_version import bump
    from cxloop.warehouse.write.writer import writer_for

    path = DATA / f"api-scale-{scale:g}" / "warehouse.duckdb"
    if path.exists():
        return path, None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".building")
    shutil.copyfile(_warehouse(scale), tmp)
    con = connect_url(f"duckdb://{tmp}")
    began = time.perf_counter()
    writer = writer_for(con)
    responses_monthly.rebuild(writer)
    bump(writer)
    seconds = time.perf_counter() - began
    con.disconnect()
    tmp.rename(path)
    return path, seconds


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(scale: float) -> tuple[subprocess.Popen, str]:
    folder = _app_db(scale)
    warehouse, _ = _api_warehouse(scale)
    port = _port()
    env = {**os.environ, "CXLOOP_DATA_DIR": str(folder), "CXLOOP_WAREHOUSE_URL": f"duckdb://{warehouse}"}
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start")


def _token(base: str, email: str) -> str:
    response = httpx.post(f"{base}/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    response.raise_for_status()
    return response.json()["access_token"]


def _post_response(base: str, token: str, number: int) -> tuple[float, str]:
    """POST one response for the branch through the API (the ingest layer, in the server's process)."""
    response_id = f"bench-api-{time.time_ns()}-{number}"
    body = {
        "response_id": response_id,
        "submitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "unit_id": VIEWERS["branch manager"][1],
        "nps": 9,
        "csat": 5,
        "ces": 6,
        "comment": f"bench write {number}",
    }
    began = time.perf_counter()
    answer = httpx.post(
        f"{base}/api/v1/responses", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=300
    )
    elapsed = time.perf_counter() - began
    if answer.status_code not in (200, 201):
        raise RuntimeError(f"POST /api/v1/responses answered {answer.status_code}: {answer.text[:300]}")
    return elapsed, response_id


def _once(base: str, token: str, unit: str) -> dict[str, tuple[float, httpx.Response]]:
    """Each route once, in turn, from one client."""
    out = {}
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300) as http:
        for name, route in ROUTES.items():
            began = time.perf_counter()
            response = http.get(route.format(unit=unit))
            out[name] = (time.perf_counter() - began, response)
    return out


def _writer(base: str, token: str, stop: threading.Event, every: float, posted: list[float]) -> None:
    """Post one response every ``every`` seconds until ``stop`` (live ingestion beside the readers)."""
    number = 0
    while not stop.is_set():
        began = time.perf_counter()
        elapsed, _ = _post_response(base, token, 10_000 + number)
        posted.append(elapsed)
        number += 1
        stop.wait(max(0.0, every - (time.perf_counter() - began)))


def _load(base: str, token: str, unit: str, clients: int, per_client: int) -> dict[str, object]:
    latencies: dict[str, list[float]] = {name: [] for name in ROUTES}
    errors: list[str] = []
    lock = threading.Lock()
    names = list(ROUTES)

    def client(index: int) -> None:
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120) as http:
            for k in range(per_client):
                name = names[(index + k) % len(names)]
                began = time.perf_counter()
                response = http.get(ROUTES[name].format(unit=unit))
                elapsed = time.perf_counter() - began
                with lock:
                    if response.status_code == 200:
                        latencies[name].append(elapsed)
                    else:
                        errors.append(f"{name}: {response.status_code}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    every = [v for values in latencies.values() for v in values]
    return {"latencies": latencies, "all": every, "wall": wall, "errors": errors}


def _ms(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    return (
        1000 * statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]
        if len(values) > 1
        else 1000 * values[0]
    )


def _row(scale: float, viewer: str, mode: str, clients: int, result: dict) -> list[object]:
    every = result["all"]
    return [
        f"{scale:g}",
        viewer,
        mode,
        clients,
        len(every),
        len(result["errors"]),
        f"{_ms(every, 50):.0f}",
        f"{_ms(every, 95):.0f}",
        f"{len(every) / result['wall']:.1f}",
    ]


def run(quick: bool) -> str:
    scales = [1.0] if quick else [1.0, 10.0, 100.0]
    clients_list = [1, 20] if quick else [1, 5, 20]
    per_client = 6 if quick else 60  # warm: 1,200 requests at 20 clients, enough for a stable p95
    per_client_live = 6 if quick else 9  # with 1 POST/s most reads recompute (seconds at 10M)
    rows: list[list[object]] = []
    route_rows: list[list[object]] = []
    cold_rows: list[list[object]] = []
    write_rows: list[list[object]] = []
    loads: list[str] = []
    builds: list[str] = []
    for scale in scales:
        _, seconds = _api_warehouse(scale)
        if seconds is not None:
            builds.append(f"scale {scale:g}: {seconds:.1f} s")
        loads.append(f"scale {scale:g}: {os.getloadavg()[0]:.1f}")
        server, base = _start(scale)
        try:
            tokens = {viewer: _token(base, email) for viewer, (email, _) in VIEWERS.items()}
            # Cold: each route's first request per viewer on the fresh server (empty cache).
            for viewer, (_, unit) in VIEWERS.items():
                for name, (seconds_taken, response) in _once(base, tokens[viewer], unit).items():
                    cold_rows.append(
                        [
                            f"{scale:g}",
                            viewer,
                            name,
                            "server start",
                            response.status_code,
                            f"{1000 * seconds_taken:.0f}",
                        ]
                    )
            # Warm: the dashboard's repeated reads.
            for viewer, (_, unit) in VIEWERS.items():
                for clients in clients_list:
                    result = _load(base, tokens[viewer], unit, clients, per_client)
                    rows.append(_row(scale, viewer, "warm", clients, result))
                    if clients == max(clients_list):
                        for name, values in result["latencies"].items():
                            route_rows.append(
                                [
                                    f"{scale:g}",
                                    viewer,
                                    name,
                                    len(values),
                                    f"{_ms(values, 50):.0f}",
                                    f"{_ms(values, 95):.0f}",
                                ]
                            )
            # A write through the API, then the first reads after it (cold again: new data version).
            post_seconds, response_id = _post_response(base, tokens["executive"], 0)
            for viewer, (_, unit) in VIEWERS.items():
                answers = _once(base, tokens[viewer], unit)
                for name, (seconds_taken, response) in answers.items():
                    cold_rows.append(
                        [
                            f"{scale:g}",
                            viewer,
                            name,
                            "after a write",
                            response.status_code,
                            f"{1000 * seconds_taken:.0f}",
                        ]
                    )
                newest = answers["comments"][1].json()["items"][0]["response_id"]
                if newest != response_id:
                    raise RuntimeError(
                        f"the posted response {response_id} is not the newest comment ({newest})"
                    )
            write_rows.append(
                [
                    f"{scale:g}",
                    "one POST, then every route read by both viewers",
                    f"{1000 * post_seconds:.0f}",
                    "yes (newest comment of br-0001)",
                ]
            )
            # Live ingestion beside the readers: one POST a second while 20 clients read.
            stop, posted = threading.Event(), []
            writer = threading.Thread(target=_writer, args=(base, tokens["executive"], stop, 1.0, posted))
            writer.start()
            try:
                for viewer, (_, unit) in VIEWERS.items():
                    result = _load(base, tokens[viewer], unit, max(clients_list), per_client_live)
                    rows.append(_row(scale, viewer, "1 POST/s", max(clients_list), result))
            finally:
                stop.set()
                writer.join()
            write_rows.append(
                [
                    f"{scale:g}",
                    f"{len(posted)} POSTs at 1/s during the '1 POST/s' rows",
                    f"{_ms(posted, 50):.0f} (p50) / {_ms(posted, 95):.0f} (p95)",
                    "-",
                ]
            )
        finally:
            server.terminate()
            server.wait()
        loads[-1] += f" -> {os.getloadavg()[0]:.1f}"
    body = [
        "1-minute load average at the start -> end of each scale's run, on this 2-core machine shared with "
        f"other work (every row is slowed by it): {'; '.join(loads)}.",
        "",
    ]
    if builds:
        body += [
            f"Monthly leaf aggregate built from the responses (once per warehouse): {'; '.join(builds)}.",
            "",
        ]
    body += [
        "Cold requests (one client, each route once in turn): the first after the server starts, and the "
        "first after a response is posted (new data version: every cached result is stale):",
        "",
        table(["scale", "viewer", "route", "when", "status", "ms"], cold_rows),
        "",
        "Writes through `POST /api/v1/responses` (the ingest layer in the server's process), and whether "
        "the next read shows the posted response. The first POST on a bench warehouse also pays for the "
        "tables the importer creates on first use (the warehouse was filled around the ingest layer):",
        "",
        table(["scale", "what", "POST ms", "visible in the next read"], write_rows),
        "",
        "All requests (units, metrics, comments in turn), per viewer and number of concurrent clients; "
        "'warm' reads only, and '1 POST/s' with one response posted every second meanwhile (each post "
        "changes the data version, so reads after it recompute):",
        "",
        table(
            ["scale", "viewer", "mode", "clients", "requests", "errors", "p50 ms", "p95 ms", "requests/s"],
            rows,
        ),
        "",
        f"Per route at {max(clients_list)} concurrent clients (warm):",
        "",
        table(["scale", "viewer", "route", "requests", "p50 ms", "p95 ms"], route_rows),
        "",
        "Aim (issue 6): p95 under 150 ms at 20 concurrent clients on the 10M-response demo.",
    ]
    return "\n".join(body)
