"""Key drivers through the warehouse path, against what an analyst would otherwise do.

Synthetic responses (50 branches under 5 regions, 3 segments) with 15 driver items stored long in
``answers`` (one row per response and item, ~5% of answers missing) and NPS on the response row are
generated in DuckDB (``benchmarks/.data/drivers_<n>.duckdb``, reused between runs).

Timed, for the whole company and for one region (a fifth of the responses):

* **warehouse**: :func:`cxloop.warehouse.driver_stats.driver_moments` (pivot long answers in the engine,
  n, sums and cross-products in one aggregate) then :class:`~cxloop.stats.drivers.KeyDriverAnalysis`
  ``fit_correlation`` with Johnson's relative weights and with exact Shapley (15 drivers, 32,768 subsets).
* **response_items**: the same path reading a wide table with one column per item (``source=
  "response_items"``), i.e. what a materialised table maintained on import would cost; the difference
  is the pivot.
* **analyst**: pull responses and answers into pandas, ``pivot`` the answers, ``dropna``, then the
  ``relativeImp`` package (Johnson's relative weights) — the usual notebook route; for Shapley/LMG, one
  statsmodels OLS per subset of drivers (2^15 fits, extrapolated from a timed sample).
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pandas as pd

from benchmarks._harness import DATA, best_of, table
from cxloop.stats.drivers import KeyDriverAnalysis
from cxloop.warehouse.connection import connect_url
from cxloop.warehouse.driver_stats import DriverScope, driver_moments

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
    con.execute(
        f"""
        CREATE TABLE wide AS
        WITH base AS (
            SELECT i, sqrt(-2 * ln(random())) * cos(2 * pi() * random()) AS g,
                   sqrt(-2 * ln(random())) * cos(2 * pi() * random()) AS e, {normals}
            FROM range({n}) t(i)
        ), items AS (SELECT i, e, {latent} FROM base)
        SELECT 'R' || lpad(i::VARCHAR, 9, '0') AS response_id, i, e, *
        EXCLUDE (i, e) FROM items
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
               least(10, greatest(0, round(-2.5 + {weights} + 1.5 * e)))::DOUBLE AS nps,
               NULL::DOUBLE AS csat, NULL::DOUBLE AS ces, NULL::VARCHAR AS comment
        FROM wide
        """
    )
    selects = " UNION ALL ".join(
        f"SELECT response_id, '{item}' AS item, x{k} AS value FROM wide WHERE random() >= 0.05"
        for k, item in enumerate(ITEMS)
    )
    con.execute(f"CREATE TABLE answers AS {selects}")
    # the wide table a materialised response_items would hold (same missing answers)
    cols = ", ".join(f"max(CASE WHEN item = '{item}' THEN value END) AS \"{item}\"" for item in ITEMS)
    con.execute(
        f"CREATE TABLE response_items AS SELECT response_id, {cols} FROM answers GROUP BY response_id"
    )
    con.execute("DROP TABLE wide")
    for name in ("transactions", "subscriptions"):
        con.execute(
            f"CREATE TABLE {name} (customer_id VARCHAR, occurred_at TIMESTAMP, started_at TIMESTAMP, "
            "ended_at TIMESTAMP, amount DOUBLE, margin DOUBLE)"
        )
    con.close()


def _database(n: int) -> Path:
    path = DATA / f"drivers_{n}.duckdb"
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


def run(quick: bool) -> str:
    sizes = [100_000] if quick else [1_000_000, 10_000_000]
    analyst_max = 1_000_000  # pandas on 150M long rows does not fit this 24 GiB machine comfortably
    rows = []
    checks = []
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

            t_rw, (moments, kda) = best_of(
                lambda: warehouse("relative_weights", "answers"), repeat=3, warmup=1
            )
            t_sh, _ = best_of(lambda: warehouse("shapley", "answers"), repeat=2)
            t_wide, (_, wide_kda) = best_of(
                lambda: warehouse("relative_weights", "response_items"), repeat=3, warmup=1
            )
            t_wide_sh, _ = best_of(lambda: warehouse("shapley", "response_items"), repeat=2)
            same = float((wide_kda.importance_ - kda.importance_).abs().max())
            checks.append((f"{n:,}", f"{label}: response_items vs answers", f"{same:.1e}"))
            if n <= analyst_max:
                t_an, (peer, data) = best_of(lambda region=region, con=con: _analyst(con, region), repeat=1)
                ratio = f"{t_an / t_rw:,.0f}x / {t_an / t_wide:,.0f}x"
                t_subsets = t_an + _statsmodels_subsets(data)
                shapley_ratio = f"{t_subsets / t_sh:,.0f}x / {t_subsets / t_wide_sh:,.0f}x"
                diff = float((peer["rawRelaImpt"] - kda.importance_[peer.index]).abs().max())
                checks.append((f"{n:,}", f"{label}: warehouse vs relativeImp", f"{diff:.1e}"))
                analyst = t_an
            else:
                analyst, ratio = "not run (150M long rows)", "-"
                t_subsets, shapley_ratio = "-", "-"
            rows.append(
                (
                    f"{n:,}",
                    label,
                    f"{moments.n:,}",
                    t_rw,
                    t_sh,
                    t_wide,
                    t_wide_sh,
                    f"{1 - t_wide / t_rw:.0%}",
                    analyst,
                    ratio,
                    t_subsets,
                    shapley_ratio,
                )
            )
        con.disconnect()
        built = f"{build_seconds:.0f} s" if build_seconds >= 1 else "reused from benchmarks/.data"
        checks.append((f"{n:,}", "data build", built))
    body = table(
        [
            "responses",
            "scope",
            "complete n",
            "answers (long) + relative weights (s)",
            "answers (long) + exact Shapley (s)",
            "response_items (wide) + relative weights (s)",
            "response_items (wide) + exact Shapley (s)",
            "share of time in the pivot",
            "pandas pivot + relativeImp (s)",
            "speed-up (long / wide)",
            "pandas pivot + statsmodels all-subsets Shapley (s, est.)",
            "Shapley speed-up (long / wide)",
        ],
        rows,
    )
    notes = table(["responses", "check", "max abs difference of raw weights / build time"], checks)
    return (
        f"{__doc__.split(chr(10), 1)[1].strip()}\n\n{body}\n\n{notes}\n\n"
        "Speed-up = analyst time / warehouse time with relative weights (same numbers, checked above). "
        f"The all-subsets Shapley estimate is the pandas time plus 2^15 statsmodels OLS fits, timed on "
        f"{SUBSETS_TIMED} random subsets and extrapolated. "
        "Times are best of 2-3 runs on a 2-core machine shared with other jobs."
    )
