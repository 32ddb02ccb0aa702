"""Real-time ingestion under load: responses posted at a sustained rate while dashboards are read.

The server is ``cxloop serve``'s app (one uvicorn worker, its in-app escalation job off) in its own process,
over a copy of the cube benchmark's DuckDB warehouse (the demo company at scale 1, ~100k responses, and at
scale 100, ~10M) and a SQLite app database with the demo's units and logins, an API key and one alert rule
(``nps_at_most`` 6). The executive owns the root, so every detractor's case has an owner. The copy was
filled around the ingest layer, so one warm-up post first lets the importer build what it keeps beside the
responses (monthly aggregates, key-driver moments: a minute at 10M, once); it is not in the figures.

* **Writer**: one client posts batches of ``BATCH`` new responses (about 30% detractors) to
  ``POST /api/v1/responses`` with the API key, at a fixed rate, for the whole run.
* **Readers**: two clients (the executive at ``bank``, the branch manager at ``br-0001``) read
  ``GET /api/v1/units/{unit}/metrics?by=month&compare=previous`` (the home page's call) back to back.
* **Time to case**: a case's ``opened_at`` (server clock) minus the moment its request was sent (client
  clock; same machine).
* **Time to visible**: for one response of each batch, from the moment its request was sent until the
  executive's comment stream of its branch (``GET /api/v1/units/{branch}/comments``, polled every 50 ms
  from the moment the POST returns) shows it.
* **Nothing lost or duplicated**: after the run the first batches are posted again (all duplicates, no new
  case), the server stops, and the warehouse and app database are counted: stored responses must equal
  responses posted, cases must equal detractors posted.

The machine (2 cores) is shared with other work; its load average is recorded with the numbers.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx2 as httpx  # the dev dependency
import pyarrow.parquet as pq

from benchmarks._harness import DATA, table
from benchmarks.bench_cube import _demo, _warehouse

TITLE = "Closed loop: real-time ingestion rate, time to case and dashboard latency under load"

BATCH = 10
SCALES = (1.0, 100.0)
_SERVER = """
import sys, uvicorn
from cxloop.config import Settings
from cxloop.web.app import create_app
uvicorn.run(create_app(Settings()), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def _setup(scale: float) -> tuple[Path, str]:
    """A fresh data folder: the warehouse copy, the app DB with units, logins, owners, a rule and a key."""
    from cxloop.config import Settings
    from cxloop.demo.users import create_demo_users
    from cxloop.services.access.scope import Viewer
    from cxloop.services.act.rules import engine as alerts
    from cxloop.store import audit, migrate
    from cxloop.store import units as unit_store
    from cxloop.store.api_keys import create_api_key
    from cxloop.store.db import engine_for, session_scope
    from cxloop.store.tables import Role
    from cxloop.store.users import get_user_by_email

    folder = DATA / "cases-bench"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copyfile(_warehouse(scale), folder / "warehouse.duckdb")
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
    create_demo_users(settings)
    with session_scope(engine) as session:
        executive = get_user_by_email(session, "demo-executive@northwind.example")
        branch = get_user_by_email(session, "demo-branch@northwind.example")
        unit_store.set_owner(session, "bank", executive.id)
        unit_store.set_owner(session, "br-0001", branch.id)
        alerts.create_rule(
            session,
            Viewer("bank", Role.admin),
            name="detractors",
            kind="nps_at_most",
            params={"threshold": 6},
            actor=audit.Actor.system("bench"),
        )
        key = create_api_key(session, "bank", name="bench", role=Role.analyst).key
    engine.dispose()
    return folder, key


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(folder: Path) -> tuple[subprocess.Popen, str]:
    port = _port()
    env = {**os.environ, "CXLOOP_DATA_DIR": str(folder), "CXLOOP_ESCALATION_INTERVAL_SECONDS": "0"}
    env.pop("CXLOOP_DATABASE_URL", None)
    env.pop("CXLOOP_WAREHOUSE_URL", None)
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start")


def _batch(number: int, units: list[str], prefix: str = "bench-case") -> list[dict]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = []
    for k in range(BATCH):
        i = number * BATCH + k
        rows.append(
            {
                "response_id": f"{prefix}-{i:07d}",
                "submitted_at": now,
                "unit_id": units[i % len(units)],
                "customer_id": f"bench-c-{i % 997}",
                "nps": (i * 7) % 11,  # 0..10 evenly: 7 of 11 (64%) would be detractors
                "comment": f"live response {i}",
            }
        )
        if i % 10 >= 3:  # keep ~30% detractors: lift the others to promoters
            rows[-1]["nps"] = 9 + (i % 2)
    return rows


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _ms(values: list[float], q: float) -> str:
    return f"{_percentile(values, q) * 1000:.0f}"


def _token(base: str, email: str) -> str:
    answer = httpx.post(f"{base}/api/v1/auth/token", data={"username": email, "password": "northwind-demo"})
    answer.raise_for_status()
    return answer.json()["access_token"]


def run(quick: bool = False) -> str:
    sections = []
    for scale in SCALES[:1] if quick else SCALES:
        sections.append(f"### Scale {scale:g}\n\n" + _run_scale(scale, 10.0 if quick else 60.0))
    return (
        "Every POST is validated and stored by the importer's in-memory path (the file importer's own "
        "validation and write step, one all-or-nothing batch per request, set up once per app, under the "
        "app's warehouse write lock) and its responses evaluated by the alert rules before the request "
        "returns, so time to case is about one POST's latency. Dashboard reads answer from the result "
        "cache; right after a write one request per question recomputes and the others take the previous "
        "answer meanwhile (`docs/web.md`). Readers and the writer share one DuckDB database and the "
        "machine's two cores.\n\n" + "\n\n".join(sections)
    )


def _probe(base: str, token: str, todo: list, seen_after: list[float], errors: list[str], stop) -> None:
    """Poll each probed response's branch comment stream until the response shows, from when its POST
    returned; record seconds since its request was sent."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300) as http:
        while not (stop.is_set() and not todo):
            if not todo:
                time.sleep(0.01)
                continue
            rid, unit, sent = todo.pop(0)
            deadline = time.time() + 30
            while time.time() < deadline:
                page = http.get(f"/api/v1/units/{unit}/comments?limit=20")
                if page.status_code == 200 and any(i["response_id"] == rid for i in page.json()["items"]):
                    seen_after.append(time.time() - sent)
                    break
                time.sleep(0.05)
            else:
                errors.append(f"{rid} not visible after 30 s")


def _run_scale(scale: float, seconds: float) -> str:
    import duckdb

    folder, key = _setup(scale)
    branches = [u["unit_id"] for u in pq.read_table(_demo(scale) / "units.parquet").to_pylist()]
    branches = [u for u in branches if u.startswith("br-")][:40]
    rate = 10.0  # responses a second
    server, base = _start(folder)
    sent_at: dict[str, float] = {}
    post_latency: list[float] = []
    errors: list[str] = []
    read_latency: dict[str, list[float]] = {"executive": [], "branch manager": []}
    visible_after: list[float] = []
    to_probe: list[tuple[str, str, float]] = []
    stop = threading.Event()
    batches_sent = 0
    try:
        tokens = {
            "executive": (_token(base, "demo-executive@northwind.example"), "bank"),
            "branch manager": (_token(base, "demo-branch@northwind.example"), "br-0001"),
        }
        warm = time.perf_counter()
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=900) as http:
            answer = http.post("/api/v1/responses", json=_batch(0, branches, "bench-warm-up"))
            if answer.status_code != 201:
                raise RuntimeError(f"warm-up post: {answer.status_code} {answer.text[:300]}")
        warm_up = time.perf_counter() - warm
        load_before = os.getloadavg()[0]
        prober = threading.Thread(
            target=_probe, args=(base, tokens["executive"][0], to_probe, visible_after, errors, stop)
        )
        prober.start()

        def reader(name: str) -> None:
            token, unit = tokens[name]
            route = f"/api/v1/units/{unit}/metrics?by=month&compare=previous"
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=300
            ) as http:
                while not stop.is_set():
                    began = time.perf_counter()
                    answer = http.get(route)
                    read_latency[name].append(time.perf_counter() - began)
                    if answer.status_code != 200:
                        errors.append(f"GET {route}: {answer.status_code}")

        readers = [threading.Thread(target=reader, args=(name,)) for name in tokens]
        for thread in readers:
            thread.start()
        started = time.perf_counter()
        every = BATCH / rate
        with httpx.Client(base_url=base, headers={"X-API-Key": key}, timeout=300) as http:
            while time.perf_counter() - started < seconds:
                rows = _batch(batches_sent, branches)
                wall = time.time()
                began = time.perf_counter()
                answer = http.post("/api/v1/responses", json=rows)
                post_latency.append(time.perf_counter() - began)
                if answer.status_code != 201 or answer.json()["accepted"] != BATCH:
                    errors.append(f"POST: {answer.status_code} {answer.text[:200]}")
                for row in rows:
                    sent_at[row["response_id"]] = wall
                to_probe.append((rows[-1]["response_id"], rows[-1]["unit_id"], wall))
                batches_sent += 1
                time.sleep(max(0.0, batches_sent * every - (time.perf_counter() - started)))
            elapsed = time.perf_counter() - started
            stop.set()
            for thread in [*readers, prober]:
                thread.join()
            # Idempotency under load: the first batches again.
            repeat = min(3, batches_sent)
            again = [http.post("/api/v1/responses", json=_batch(n, branches)).json() for n in range(repeat)]
        load_after = os.getloadavg()[0]
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=60)

    posted = len(sent_at)
    detractors = [
        rid
        for n in range(batches_sent)
        for row in [*_batch(n, branches)]
        if row["nps"] <= 6
        for rid in [row["response_id"]]
    ]
    import sqlite3

    db = sqlite3.connect(folder / "cxloop.db")
    opened = dict(
        db.execute("SELECT response_id, opened_at FROM cases WHERE response_id LIKE 'bench-case-%'")
    )
    db.close()
    wh = duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True)
    stored = wh.execute(
        "SELECT count(*), count(DISTINCT response_id) FROM responses WHERE response_id LIKE 'bench-case-%'"
    ).fetchone()
    wh.close()
    ttc = []
    for rid, at in opened.items():
        moment = datetime.fromisoformat(at)
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        ttc.append(moment.timestamp() - sent_at[rid])
    duplicates = sum(a["duplicates"] for a in again)
    reopened = sum(len(a["cases_opened"]) for a in again)

    rows = [
        [
            f"responses posted (batches of {BATCH})",
            f"{posted:,} in {elapsed:.0f} s ({batches_sent} requests)",
        ],
        ["ingestion rate sustained", f"{posted / elapsed:.1f} responses/s (target {rate:g})"],
        [
            "POST latency p50 / p95",
            f"{_percentile(post_latency, 0.5) * 1000:.0f} / {_percentile(post_latency, 0.95) * 1000:.0f} ms",
        ],
        [
            "time to case p50 / p95",
            f"{_percentile(ttc, 0.5) * 1000:.0f} / {_percentile(ttc, 0.95) * 1000:.0f} ms",
        ],
        ["time to case max", f"{max(ttc) * 1000:.0f} ms" if ttc else "-"],
    ]
    rows.append(
        [
            "time to visible in the dashboard p50 / p95 (one per batch)",
            f"{_ms(visible_after, 0.5)} / {_ms(visible_after, 0.95)} ms ({len(visible_after)} probed)",
        ]
    )
    for name, values in read_latency.items():
        rows.append(
            [
                f"dashboard metrics p50 / p95 ({name})",
                f"{_percentile(values, 0.5) * 1000:.0f} / {_percentile(values, 0.95) * 1000:.0f} ms "
                f"({len(values)} reads)",
            ]
        )
    rows += [
        [
            "stored in the warehouse (rows / distinct ids)",
            f"{stored[0]:,} / {stored[1]:,} (posted {posted:,})",
        ],
        ["cases opened / detractors posted", f"{len(opened):,} / {len(detractors):,}"],
        ["re-posted batches: duplicates / new cases", f"{duplicates} of {repeat * BATCH} / {reopened}"],
        ["errors", str(len(errors)) + (f" (first: {errors[0]})" if errors else "")],
        ["load average (1 min) before / after", f"{load_before:.1f} / {load_after:.1f} on 2 cores"],
    ]
    verdict = (
        "nothing lost or duplicated"
        if stored[0] == stored[1] == posted
        and len(opened) == len(detractors)
        and reopened == 0
        and duplicates == repeat * BATCH
        and not errors
        else "**COUNTS DO NOT MATCH**"
    )
    size = pq.read_metadata(_demo(scale) / "responses.parquet").num_rows
    return (
        f"Demo company at scale {scale:g} ({size:,} responses, DuckDB) and SQLite; the writer posts {BATCH} "
        f"responses per request at {rate:g}/s for {seconds:.0f} s while two readers read dashboard metrics "
        f"back to back (warm-up post before the run: {warm_up:.1f} s). Counts checked after the run: "
        f"{verdict}.\n\n" + table(["measure", "value"], rows)
    )
