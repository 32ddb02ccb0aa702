"""Soak: the dashboard read by 5 clients while 2 responses a second are posted, for 10 minutes, on the
10M-response demo -- read latency per route, post latency and the server's memory over time.

The server is ``cxloop serve``'s app (one uvicorn worker, its own process) over the demo company that
``cxloop demo generate --scale 100`` builds (DuckDB warehouse, SQLite app database, the demo logins) in
``benchmarks/.data/soak-scale-100`` (generated on the first run and kept; the generation's time is
reported). Five reader threads, each with one keep-alive ``httpx.Client``, cycle through the dashboard's
API routes and pages -- readers 0, 2 and 4 as the demo's branch manager (``br-0001``), 1 and 3 as the
executive (``bank``) -- with no pause between requests. A writer thread posts one response every 0.5 s
to ``POST /api/v1/responses`` (the branch manager's token; each post is a write through the ingest layer,
a new data version, and the alert rules). The server's resident set size (``psutil``) is sampled every
5 s, and the 1-minute load average with it.

A warm-up (default 60 s) comes first: every route read once by both viewers (cold answers), then the
readers and the writer as in the run; its requests are not counted, and the RSS at its end is the
baseline for "growth". Settings: ``SOAK_SECONDS`` (default 600), ``SOAK_WARMUP_SECONDS`` (60),
``SOAK_STALENESS`` (the server's ``CXLOOP_DASHBOARD_STALENESS_SECONDS``; default: the app's default),
``SOAK_COMPARE_SECONDS`` (a second, shorter run with staleness 0, the behaviour before the setting existed;
default 180, 0 skips it), ``SOAK_NO_WRITES_SECONDS`` (a run of the readers alone, no posts: what the
machine gives without writes; default 0, skipped), ``SOAK_SCALE`` (100; ``--quick``: 0.2 and 20 s runs).
``SOAK_SECONDS=0`` skips the main run.

Run on its own: ``python -m benchmarks soak``.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx2 as httpx  # the dev dependency (starlette 1.10 runs its TestClient on it)
import psutil

from benchmarks._harness import DATA, table
from benchmarks.bench_api import _SERVER, PASSWORD, VIEWERS, _ms, _port, _token

TITLE = "Soak: dashboard reads under steady writes (5 readers + 2 posts/s)"

API_ROUTES = {
    "api tiles": "/api/v1/units/{unit}/tiles",
    "api touchpoints": "/api/v1/units/{unit}/touchpoints",
    "api trends": "/api/v1/units/{unit}/trends",
    "api metrics": "/api/v1/units/{unit}/metrics?by=month&compare=previous",
    "api comments": "/api/v1/units/{unit}/comments?limit=20",
    "api units": "/api/v1/units",
}
PAGES = {
    "page home": "/",
    "page touchpoints": "/units/{unit}/touchpoints",
    "page trends": "/units/{unit}/trends",
}
READERS = 5
POST_EVERY = 0.5
WRITERS = 4  # posts under way at once, at most
SAMPLE_EVERY = 5.0
_CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def _data_dir(scale: float) -> tuple[Path, float | None]:
    """The demo company's data folder, generated on first use (returns the seconds it took, or None)."""
    folder = DATA / f"soak-scale-{scale:g}"
    if (folder / "warehouse.duckdb").exists() and (folder / "cxloop.db").exists():
        return folder, None
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CXLOOP_DATA_DIR": str(folder)}
    began = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from cxloop.cli import app; app()",
            "demo",
            "generate",
            "--scale",
            f"{scale:g}",
        ],
        env=env,
        check=True,
    )
    return folder, time.perf_counter() - began


def _serve(folder: Path, staleness: str | None) -> tuple[subprocess.Popen, str]:
    port = _port()
    env = {**os.environ, "CXLOOP_DATA_DIR": str(folder)}
    env.pop("CXLOOP_DASHBOARD_STALENESS_SECONDS", None)
    if staleness is not None:
        env["CXLOOP_DASHBOARD_STALENESS_SECONDS"] = staleness
    server = subprocess.Popen([sys.executable, "-c", _SERVER, str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(1200):
        try:
            if httpx.get(f"{base}/healthz").status_code == 200:
                return server, base
        except httpx.TransportError:
            time.sleep(0.25)
    server.kill()
    raise RuntimeError("the server did not start")


def _reader_client(base: str, email: str) -> httpx.Client:
    """A client logged in both ways: a bearer token for the API, the session cookie for the pages."""
    http = httpx.Client(base_url=base, timeout=300, follow_redirects=False)
    http.headers["Authorization"] = f"Bearer {_token(base, email)}"
    form = http.get("/login")
    token = _CSRF.search(form.text)
    assert token is not None, "no CSRF token on the login page"
    answer = http.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)})
    assert answer.status_code == 303, f"page login answered {answer.status_code}"
    return http


def _requests(unit: str) -> list[tuple[str, str]]:
    routes = {**API_ROUTES, **PAGES}
    return [(name, path.format(unit=unit)) for name, path in routes.items()]


@dataclass
class Run:
    staleness: str
    seconds: float
    reads: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    posts: list[float] = field(default_factory=list)
    post_errors: list[str] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)  # (seconds since the run began, MiB)
    load: list[float] = field(default_factory=list)
    posts_skipped: int = 0
    writes: bool = True
    reads_total: int = 0
    data_age: list[float] = field(default_factory=list)  # seconds, from X-Data-As-Of
    cold: dict[str, float] = field(default_factory=dict)


def _soak(folder: Path, staleness: str | None, seconds: float, warmup: float, writes: bool = True) -> Run:
    server, base = _serve(folder, staleness)
    process = psutil.Process(server.pid)
    run = Run(staleness=staleness or "default", seconds=seconds, writes=writes)
    counting = threading.Event()
    stop = threading.Event()
    lock = threading.Lock()
    clients = [
        _reader_client(base, VIEWERS["branch manager" if i % 2 == 0 else "executive"][0])
        for i in range(READERS)
    ]
    units = [VIEWERS["branch manager" if i % 2 == 0 else "executive"][1] for i in range(READERS)]
    try:
        for http, unit in zip(clients[:2], units[:2], strict=True):  # cold answers, one viewer at a time
            for name, path in _requests(unit):
                began = time.perf_counter()
                http.get(path)
                run.cold[f"{name} ({'branch' if unit != 'bank' else 'executive'})"] = (
                    time.perf_counter() - began
                )

        def reader(index: int) -> None:
            http, plan = clients[index], _requests(units[index])
            k = index
            while not stop.is_set():
                name, path = plan[k % len(plan)]
                k += 1
                began = time.perf_counter()
                try:
                    answer = http.get(path)
                except httpx.TransportError as exc:
                    with lock:
                        run.errors.append(f"{name}: {exc!r}")
                    continue
                elapsed = time.perf_counter() - began
                if not counting.is_set():
                    continue
                as_of = answer.headers.get("x-data-as-of")
                with lock:
                    run.reads_total += 1
                    if as_of is not None:
                        run.data_age.append(time.time() - datetime.fromisoformat(as_of).timestamp())
                    if answer.status_code == 200:
                        run.reads.setdefault(name, []).append(elapsed)
                    else:
                        run.errors.append(f"{name}: {answer.status_code}")

        token = _token(base, VIEWERS["branch manager"][0])
        in_flight = threading.Semaphore(WRITERS)

        def post(number: int) -> None:
            """One response, in a thread of its own (posts keep their rate while one is slow)."""
            body = {
                "response_id": f"soak-{uuid.uuid4().hex}",
                "submitted_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "unit_id": VIEWERS["branch manager"][1],
                "nps": number % 11,
                "csat": 1 + number % 5,
                "ces": 1 + number % 7,
                "comment": f"soak write {number}",
            }
            try:
                began = time.perf_counter()
                with httpx.Client(base_url=base, timeout=300) as http:
                    answer = http.post(
                        "/api/v1/responses", json=body, headers={"Authorization": f"Bearer {token}"}
                    )
                elapsed = time.perf_counter() - began
                if counting.is_set():
                    with lock:
                        if answer.status_code == 201:
                            run.posts.append(elapsed)
                        else:
                            run.post_errors.append(f"{answer.status_code}: {answer.text[:200]}")
            finally:
                in_flight.release()

        def writer() -> None:
            """A post every POST_EVERY seconds, at most WRITERS under way (a tick without a free one is
            counted as skipped)."""
            number = 0
            tick = time.perf_counter()
            while not stop.is_set():
                number += 1
                if in_flight.acquire(blocking=False):
                    threading.Thread(target=post, args=(number,)).start()
                elif counting.is_set():
                    with lock:
                        run.posts_skipped += 1
                tick += POST_EVERY
                stop.wait(max(0.0, tick - time.perf_counter()))
            for _ in range(WRITERS):  # the posts under way finish
                in_flight.acquire()

        threads = [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
        if writes:
            threads.append(threading.Thread(target=writer))
        for thread in threads:
            thread.start()
        stop.wait(warmup)
        counting.set()
        began = time.perf_counter()
        while (now := time.perf_counter() - began) < seconds:
            run.rss.append((now, process.memory_info().rss / 2**20))
            run.load.append(os.getloadavg()[0])
            stop.wait(min(SAMPLE_EVERY, max(0.0, seconds - now)))
        run.rss.append((time.perf_counter() - began, process.memory_info().rss / 2**20))
        run.load.append(os.getloadavg()[0])
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        stop.set()
        for http in clients:
            http.close()
        server.terminate()
        try:
            server.wait(60)
        except subprocess.TimeoutExpired:
            server.kill()
    return run


def _report(run: Run) -> str:
    every = [v for values in run.reads.values() for v in values]
    rows = [
        [name, len(values), f"{_ms(values, 50):.0f}", f"{_ms(values, 95):.0f}", f"{_ms(values, 99):.0f}"]
        for name, values in sorted(run.reads.items())
    ]
    rows.append(
        [
            "**all reads**",
            len(every),
            f"{_ms(every, 50):.0f}",
            f"{_ms(every, 95):.0f}",
            f"{_ms(every, 99):.0f}",
        ]
    )
    rss = [mib for _, mib in run.rss]
    first, last, peak = rss[0], rss[-1], max(rss)
    timeline = ", ".join(f"{t / 60:.0f} min {mib:,.0f}" for t, mib in run.rss[:: max(1, len(run.rss) // 10)])
    errors = sorted({e for e in run.errors})[:5]
    parts = [
        f"**Staleness {run.staleness}** (`CXLOOP_DASHBOARD_STALENESS_SECONDS`)"
        + ("" if run.writes else ", **no posts** (the same readers alone, for the machine's floor)")
        + f", {run.seconds / 60:.0f} min "
        f"after the warm-up: {len(every):,} reads ({len(every) / run.seconds:.1f}/s), "
        f"{len(run.errors)} errors{': ' + '; '.join(errors) if errors else ''}; "
        f"{len(run.posts):,} posts ({len(run.posts) / run.seconds:.2f}/s), {len(run.post_errors)} failed, "
        f"{run.posts_skipped} skipped ({WRITERS} already under way). "
        f"Load average (1 min) during the run: {min(run.load):.1f}-{max(run.load):.1f}, "
        f"mean {statistics.fmean(run.load):.1f} on 2 cores.",
        table(["route", "reads", "p50 ms", "p95 ms", "p99 ms"], rows),
        f"Posts (one response each, until the 201): p50 {_ms(run.posts, 50):.0f} ms, "
        f"p95 {_ms(run.posts, 95):.0f} ms, p99 {_ms(run.posts, 99):.0f} ms.",
        "Age of the data read (`X-Data-As-Of` against the client's clock): "
        f"p50 {_ms(run.data_age, 50) / 1000:.1f} s, "
        f"p95 {_ms(run.data_age, 95) / 1000:.1f} s, max {max(run.data_age, default=float('nan')):.1f} s.",
        f"Server RSS after the warm-up {first:,.0f} MiB, at the end {last:,.0f} MiB "
        f"(**growth {last - first:+,.0f} MiB**), peak {peak:,.0f} MiB. Samples: {timeline}.",
    ]
    return "\n\n".join(parts)


def run(quick: bool) -> str:
    scale = 0.2 if quick else float(os.environ.get("SOAK_SCALE", "100"))
    seconds = 20.0 if quick else float(os.environ.get("SOAK_SECONDS", "600"))
    warmup = 10.0 if quick else float(os.environ.get("SOAK_WARMUP_SECONDS", "60"))
    compare = 10.0 if quick else float(os.environ.get("SOAK_COMPARE_SECONDS", "180"))
    staleness = os.environ.get("SOAK_STALENESS")
    folder, generated = _data_dir(scale)
    alone = 0.0 if quick else float(os.environ.get("SOAK_NO_WRITES_SECONDS", "0"))
    runs = [_soak(folder, staleness, seconds, warmup)] if seconds > 0 else []
    if alone > 0:
        runs.append(_soak(folder, staleness, alone, warmup, writes=False))
    if compare > 0:
        runs.append(_soak(folder, "0", compare, warmup))
    head = (
        f"Demo company at scale {scale:g} (`cxloop demo generate --scale {scale:g}`"
        + (f", generated and loaded in {generated / 60:.1f} min for this run" if generated else "")
        + f"); {READERS} readers cycling {len(API_ROUTES)} API routes and {len(PAGES)} pages "
        f"({', '.join(list(API_ROUTES) + list(PAGES))}) as the branch manager (3 readers) and the executive "
        f"(2); one response posted every {POST_EVERY:g} s; warm-up {warmup:g} s not counted. "
        "Reads and posts are wall clock at the client; server and clients share the machine's two cores "
        "(and other work was running on it: see the load average)."
    )
    cold = ", ".join(f"{name} {1000 * s:,.0f} ms" for name, s in runs[0].cold.items())
    return "\n\n".join(
        [head, *(_report(r) for r in runs), f"Cold answers of the first run (server start): {cold}."]
    )


if __name__ == "__main__":
    print(run(quick="--quick" in sys.argv))
