"""Key drivers through the warehouse path, against what an analyst would otherwise do.

Synthetic responses (50 branches under 5 regions, 3 segments) with 15 driver items (~5% of answers
missing) are generated in DuckDB (``benchmarks/.data/drivers_v2_<n>.duckdb``, reused between runs): the
long ``answers`` (one row per response and item) and the wide ``response_items`` table the importer
maintains beside it (one row per response, scope columns, NPS, one ``q_<item>`` column per item).

Timed, for the whole company and for one region (a fifth of the responses):

* **warehouse**: :func:`cxloop.warehouse.queries.driver_stats.driver_moments` with ``source="auto"`` (what the
  services call: it checks that ``response_items`` mirrors every response, then computes n, sums and all
  136 cross-products in one aggregate over it) then :class:`~cxloop.stats.drivers.KeyDriverAnalysis`
  ``fit_correlation`` with Johnson's relative weights and with exact Shapley (15 drivers, 32,768 subsets).
* **long**: the same from ``answers``, pivoted in the engine (the reference path; 1M only).
* **grouped**: every region x touchpoint (15 scopes) in one pass (:func:`driver_moments_by`) against 15
  separate calls.
* **analyst**: pull responses and answers into pandas, ``pivot`` the answers, ``dropna``, then the
  ``relativeImp`` package (Johnson's relative weights) — the usual notebook route; for Shapley/LMG, one
  statsmodels OLS per subset of drivers (2^15 fits, extrapolated from a timed sample). Run at 1M; at 10M
  (150M long rows, beyond this machine's memory for pandas) extrapolated linearly from 1M, and said so.
* **profile**: DuckDB's own operator timings for the company's aggregate (``EXPLAIN ANALYZE``).
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from benchmarks._harness import DATA, best_of, table
from cxloop.stats.drivers import KeyDriverAnalysis
from cxloop.warehouse.connection import connect_url
from cxloop.warehouse.derived.response_items import BASE_COLUMNS, WIDE_TABLE, item_column
from cxloop.warehouse.queries.driver_stats import DriverScope, driver_moments

TITLE = "Key drivers: 15 items through the warehouse vs pandas + relativeImp"

ITEMS = [f"item_{k:02d}" for k in range(15)]
BRANCHES, REGIONS = 50, 5


def _build(path: Path, n: int) -> None:
    """Write units, closure, responses and long answers for ``n`` responses with DuckDB SQL (seeded)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    con.execute("SET enable_progress_bar = false")
    con.execute("SELECT setseed(0.42)")
    regions = [f"reg-{r}" for r in range(REGIONS)]
    units = [("bank", None, "Bank", "company", 0)] + [(r, "bank", r, "region", 1) for r in regions]
    units += [(f"br-{b:02d}", regions[b % REGIONS], f"Branch {b}", "branch", 2) for b in range(BRANCHES)]
    con.execute(
        "CREATE TABLE units (unit_id VARCHAR, parent_id VARCHAR, name VARCHAR, level VARCHAR, depth INT)"
    )
    con.executemany("INSERT INTO units VALUES (?, ?, ?, ?, ?)", units)
    pairs = [(u[0], u[0], 0) for u in units] + [("bank", r, 1) for r in regions]
    pairs += [
        (a, f"br-{b:02d}", d) for b in range(BRANCHES) for a, d in ((regions[b % REGIONS], 1), ("bank", 2))
    ]
    con.execute("CREATE TABLE unit_closure (ancestor_id VARCHAR, unit_id VARCHAR, distance INT)")
    con.executemany("INSERT INTO unit_closure VALUES (?, ?, ?)", pairs)
    weights = " + ".join(f"{0.02 * (15 - k):.2f} * x{k}" for k in range(15))
    latent = ", ".join(
        f"least(10, greatest(0, round(5 + 2.2 * (0.6 * g + 0.8 * z{k}))))::DOUBLE AS x{k}" for k in range(15)
    )
    normals = ", ".join(f"sqrt(-2 * ln(random())) * cos(2 * pi() * random()) AS z{k}" for k in range(15))
    # ~5% of answers missing, the same ones in the long and the wide table
    answered = ", ".join(f"CASE WHEN random() >= 0.05 THEN x{k} END AS x{k}" for k in range(15))
    con.execute(
        f"""
        CREATE TABLE wide AS
        WITH base AS (
            SELECT i, sqrt(-2 * ln(random())) * cos(2 * pi() * random()) AS g,
                   sqrt(-2 * ln(random())) * cos(2 * pi() * random()) AS e, {normals}
            FROM range({n}) t(i)
        ), items AS (SELECT i, e, {latent} FROM base)
        SELECT 'R' || lpad(i::VARCHAR, 9, '0') AS response_id, i,
               least(10, greatest(0, round(-2.5 + {weights} + 1.5 * e)))::DOUBLE AS nps, {answered}
        FROM items
        """
    )
    con.execute(
        f"""
        CREATE TABLE responses AS
        SELECT response_id, TIMESTAMP '2025-01-01' + to_seconds((i % 31536000)::BIGINT) AS submitted_at,
               'br-' || lpad((i % {BRANCHES})::VARCHAR, 2, '0') AS unit_id,
               'C' || lpad((i // 4)::VARCHAR, 9, '0') AS customer_id, 's1' AS survey_id,
               CASE i % 3 WHEN 0 THEN 'branch' WHEN 1 THEN 'app' ELSE 'phone' END AS touchpoint,
               'web' AS channel,
               CASE i % 5 WHEN 0 THEN 'premier' WHEN 1 THEN 'affluent' ELSE 'mass' END AS segment,
               nps, NULL::DOUBLE AS csat, NULL::DOUBLE AS ces, NULL::VARCHAR AS comment
        FROM wide ORDER BY i
        """
    )
    selects = " UNION ALL ".join(
        f"SELECT response_id, '{item}' AS item, x{k} AS value FROM wide WHERE x{k} IS NOT NULL"
        for k, item in enumerate(ITEMS)
    )
    con.execute(f"CREATE TABLE answers AS {selects}")
    # what the importer maintains (cxloop.warehouse.derived.response_items), same columns, same order
    items = ", ".join(f'w.x{k} AS "{item_column(item)}"' for k, item in enumerate(ITEMS))
    con.execute(
        f"""
        CREATE TABLE {WIDE_TABLE} AS
        SELECT {", ".join("r." + c for c in BASE_COLUMNS)}, {items}
        FROM responses r JOIN wide w USING (response_id) ORDER BY w.i
        """
    )
    con.execute("DROP TABLE wide")
    for name in ("transactions", "subscriptions"):
        con.execute(
            f"CREATE TABLE {name} (customer_id VARCHAR, occurred_at TIMESTAMP, started_at TIMESTAMP, "
            "ended_at TIMESTAMP, amount DOUBLE, margin DOUBLE)"
        )
    con.close()


def _database(n: int) -> Path:
    path = DATA / f"drivers_v2_{n}.duckdb"
    if not path.exists():
        partial = path.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        _build(partial, n)
        partial.rename(path)  # an interrupted build leaves no half-filled database behind
    return path


def _analyst(con, region: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    from relativeImp import relativeImp

    responses = con.table("responses")
    answers = con.table("answers")
    if region is not None:
        closure = con.table("unit_closure")
        responses = responses.filter(
            responses.unit_id.isin(closure.filter(closure.ancestor_id == region).unit_id)
        )
    frame = responses.select("response_id", "nps").to_pandas()
    long = answers.to_pandas()
    wide = long.pivot(index="response_id", columns="item", values="value")
    data = frame.set_index("response_id").join(wide, how="inner").dropna()
    return relativeImp(data.reset_index(drop=True), "nps", ITEMS).set_index("driver"), data


SUBSETS_TIMED = 64


def _statsmodels_subsets(data: pd.DataFrame) -> float:
    """Seconds for the 2**15 OLS fits of an all-subsets Shapley with statsmodels, extrapolated from a
    seeded random sample of ``SUBSETS_TIMED`` subsets (the analyst's route without an LMG package)."""
    import numpy as np
    import statsmodels.api as sm

    rng = np.random.default_rng(0)
    y = data["nps"].to_numpy()
    x = data[ITEMS].to_numpy()
    started = time.perf_counter()
    for _ in range(SUBSETS_TIMED):
        mask = rng.random(len(ITEMS)) < 0.5
        columns = np.flatnonzero(mask) if mask.any() else np.array([0])
        sm.OLS(y, sm.add_constant(x[:, columns])).fit().rsquared  # noqa: B018 - the fit is what is timed
    return (time.perf_counter() - started) / SUBSETS_TIMED * 2 ** len(ITEMS)


def _load_average() -> str:
    import os

    return " / ".join(f"{v:.1f}" for v in os.getloadavg()) + " over 1 / 5 / 15 minutes"


def _profile(con, scope: DriverScope) -> str:
    """Where the company aggregate spends its time, by DuckDB operator (seconds, from its profiler)."""
    import json
    import tempfile

    from cxloop.warehouse.queries.driver_stats import _complete_rows, moments_sql

    _, complete, columns = _complete_rows(con, scope, ITEMS, ("nps",), None, "response_items")
    sql = moments_sql(con, complete, columns)
    db = con.con
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        db.execute("PRAGMA enable_profiling='json'")
        db.execute(f"PRAGMA profiling_output='{out.name}'")
        started = time.perf_counter()
        db.execute(sql).fetchall()
        wall = time.perf_counter() - started
        db.execute("PRAGMA disable_profiling")
        tree = json.loads(Path(out.name).read_text())
    parts: dict[str, float] = {}

    def walk(node: dict) -> None:
        name = node.get("operator_type") or node.get("operator_name") or "?"
        parts[name] = parts.get(name, 0.0) + float(node.get("operator_timing", 0.0))
        for child in node.get("children", []):
            walk(child)

    for child in tree.get("children", []):
        walk(child)
    total = sum(parts.values()) or 1.0
    shares = ", ".join(f"{k.lower()} {v:.2f} s ({v / total:.0%})" for k, v in parts.items() if v > 0.005)
    return f"{wall:.2f} s wall; operator time (both threads): {shares}"


def run(quick: bool) -> str:
    from cxloop.warehouse.queries.driver_stats import driver_moments_by

    sizes = [100_000] if quick else [1_000_000, 10_000_000]
    analyst_max = 1_000_000  # pandas on 150M long rows does not fit this 24 GiB machine comfortably
    rows, checks, grouped_rows, profiles = [], [], [], []
    analyst_at: dict[str, tuple[float, float]] = {}
    for n in sizes:
        started = time.perf_counter()
        path = _database(n)
        build_seconds = time.perf_counter() - started
        con = connect_url(f"duckdb://{path}")
        con.raw_sql("SET enable_progress_bar = false")
        for region in (None, "reg-0"):
            scope = DriverScope(unit_id=region) if region else DriverScope()
            label = "company" if region is None else "one region (1/5)"

            def warehouse(method, source, scope=scope, con=con):
                moments = driver_moments(con, scope, ITEMS, "nps", source=source)
                kda = KeyDriverAnalysis(method=method).fit_correlation(
                    moments.for_outcome("nps"), moments.n, outcome="nps"
                )
                return moments, kda

            big = n >= 10_000_000  # fewer repeats: each run scans 10M rows on a shared machine
            t_rw, (moments, kda) = best_of(
                lambda: warehouse("relative_weights", "auto"), repeat=2 if big else 3, warmup=1
            )
            t_sh, _ = best_of(lambda: warehouse("shapley", "auto"), repeat=1 if big else 2)
            t_stats, _ = best_of(
                lambda scope=scope, con=con: driver_moments(con, scope, ITEMS, "nps", source="auto"),
                repeat=2 if big else 3,
            )
            if n <= analyst_max:
                t_long, (long_moments, long_kda) = best_of(
                    lambda: warehouse("relative_weights", "answers"), repeat=2
                )
                same = float(
                    np.abs(long_moments.correlation.to_numpy() - moments.correlation.to_numpy()).max()
                )
                checks.append((f"{n:,}", f"{label}: correlation, response_items vs answers", f"{same:.1e}"))
                t_an, (peer, data) = best_of(lambda region=region, con=con: _analyst(con, region), repeat=1)
                t_subsets = t_an + _statsmodels_subsets(data)
                analyst_at[label] = (t_an / n, t_subsets / n)
                diff = float((peer["rawRelaImpt"] - kda.importance_[peer.index]).abs().max())
                checks.append((f"{n:,}", f"{label}: raw weights, warehouse vs relativeImp", f"{diff:.1e}"))
                analyst, subsets, note = t_an, t_subsets, "measured"
            else:
                t_long = "not run (34 s at 10M last measured)"
                per_row, per_row_subsets = analyst_at.get(label, (float("nan"), float("nan")))
                analyst, subsets, note = per_row * n, per_row_subsets * n, "extrapolated from 1M"
            rows.append(
                (
                    f"{n:,}",
                    label,
                    f"{moments.n:,}",
                    t_stats,
                    t_rw,
                    t_sh,
                    t_long,
                    analyst,
                    f"{analyst / t_rw:,.0f}x",
                    subsets,
                    f"{subsets / t_sh:,.0f}x",
                    note,
                )
            )
        regions = [f"reg-{r}" for r in range(REGIONS)]
        t_grouped, grouped = best_of(
            lambda con=con, regions=regions: driver_moments_by(
                con, DriverScope(), ITEMS, "nps", units=regions, by="touchpoint"
            ),
            repeat=2,
        )

        def separately(con=con, regions=regions):
            return {
                (u, t): driver_moments(con, DriverScope(unit_id=u, touchpoints=t), ITEMS, "nps")
                for u in regions
                for t in ("branch", "app", "phone")
            }

        t_separate, alone = best_of(separately, repeat=1)
        worst = max(
            float(np.abs(grouped[key].cross - alone[key].cross).max() / np.abs(alone[key].cross).max())
            for key in alone
        )
        checks.append((f"{n:,}", "grouped vs separate, max relative difference", f"{worst:.1e}"))
        grouped_rows.append((f"{n:,}", len(grouped), t_grouped, t_separate, f"{t_separate / t_grouped:.1f}x"))
        profiles.append((f"{n:,}", _profile(con, DriverScope())))
        con.disconnect()
        built = f"{build_seconds:.0f} s" if build_seconds >= 1 else "reused from benchmarks/.data"
        checks.append((f"{n:,}", "data build", built))
    body = table(
        [
            "responses",
            "scope",
            "complete n",
            "engine statistics only (s)",
            "warehouse + relative weights (s)",
            "warehouse + exact Shapley (s)",
            "long answers + relative weights (s)",
            "pandas pivot + relativeImp (s)",
            "speed-up",
            "pandas + statsmodels all-subsets Shapley (s, est.)",
            "Shapley speed-up",
            "analyst figures",
        ],
        rows,
    )
    grouped_table = table(
        [
            "responses",
            "scopes (region x touchpoint)",
            "one grouped pass (s)",
            "15 separate calls (s)",
            "gain",
        ],
        grouped_rows,
    )
    profile_table = table(["responses", "company aggregate, DuckDB profile"], profiles)
    notes = table(["responses", "check", "max difference / build time"], checks)
    return (
        f"{__doc__.split(chr(10), 1)[1].strip()}\n\n{body}\n\n{grouped_table}\n\n{profile_table}\n\n"
        f"{notes}\n\n"
        "Speed-up = analyst time / warehouse time for the same numbers (checked above). The all-subsets "
        "Shapley estimate is the pandas time plus 2^15 statsmodels OLS fits, timed on "
        f"{SUBSETS_TIMED} random subsets and extrapolated. Times are best of 2-3 runs on a 2-core machine "
        f"shared with other jobs (load average at the end of this run: {_load_average()})."
    )
