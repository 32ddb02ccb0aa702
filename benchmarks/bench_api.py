"""Dashboard API under concurrent clients on loopback: p50/p95 latency and throughput.

The server is ``cxloop serve``'s app (one uvicorn worker) in its own process over a DuckDB warehouse
holding the demo company's responses (the same warehouse ``bench_cube`` builds: scale 1 = ~100k, 10 =
~1M, 100 = ~10M responses) and a SQLite app database with the demo's units and logins. Clients are
threads with one keep-alive ``httpx.Client`` each, all logged in as the branch manager (``br-0001``) or
the executive (``bank``), each sending the dashboard's requests in turn:

* ``units``: ``GET /api/v1/units``
* ``metrics``: ``GET /api/v1/units/{unit}/metrics?by=month&compare=previous`` (the home page's call)
* ``comments``: ``GET /api/v1/units/{unit}/comments?limit=20``

Latency is per request, wall clock at the client; throughput is requests completed per second over the
whole run. Server and clients share the machine's two cores.
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


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(scale: float) -> tuple[subprocess.Popen, str]:
    folder = _app_db(scale)
    warehouse = _warehouse(scale)
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


def run(quick: bool) -> str:
    scales = [1.0] if quick else [1.0, 10.0, 100.0]
    clients_list = [1, 20] if quick else [1, 5, 20]
    per_client = 6 if quick else 9
    load = os.getloadavg()[0]
    rows = []
    route_rows = []
    for scale in scales:
        server, base = _start(scale)
        try:
            for viewer, (email, unit) in VIEWERS.items():
                token = _token(base, email)
                _load(base, token, unit, 2, 3)  # warm-up: connections, caches
                for clients in clients_list:
                    result = _load(base, token, unit, clients, per_client)
                    every = result["all"]
                    rows.append(
                        [
                            f"{scale:g}",
                            viewer,
                            clients,
                            len(every),
                            len(result["errors"]),
                            f"{_ms(every, 50):.0f}",
                            f"{_ms(every, 95):.0f}",
                            f"{len(every) / result['wall']:.1f}",
                        ]
                    )
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
        finally:
            server.terminate()
            server.wait()
    body = [
        f"1-minute load average when the run started: {load:.1f} on this 2-core machine "
        "(other work slows every row).",
        "",
        "All requests (units, metrics, comments in turn), per viewer and number of concurrent clients:",
        "",
        table(["scale", "viewer", "clients", "requests", "errors", "p50 ms", "p95 ms", "requests/s"], rows),
        "",
        f"Per route at {max(clients_list)} concurrent clients:",
        "",
        table(["scale", "viewer", "route", "requests", "p50 ms", "p95 ms"], route_rows),
        "",
        "Aim (issue 6): p95 under 150 ms at 20 concurrent clients on the 10M-response demo.",
    ]
    return "\n".join(body)
