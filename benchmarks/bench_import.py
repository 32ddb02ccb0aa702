"""Import throughput: ``import_file`` (validated, quarantined, idempotent, all-or-nothing batches)
beside the obvious alternative, pandas ``read_csv``/``read_parquet`` + a DuckDB insert with no checks.

Both load the same generated responses file (12 driver items, so 12 answers per response) into the same
warehouse tables (``responses`` and the long ``answers``) from an empty DuckDB file.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from benchmarks._harness import DATA, table

TITLE = "Import throughput (responses with 12 driver items)"

ITEMS = [f"item{i:02d}" for i in range(1, 13)]
BRANCHES = [f"b{i:03d}" for i in range(200)]
TOUCHPOINTS = ["onboarding", "branch_visit", "call_centre", "app", "complaint"]
CHANNELS = ["branch", "phone", "web", "app"]


def _units_csv(path: Path) -> None:
    rows = ["unit_id,parent_id,name,level", "bank,,Bank,company"]
    rows += [f"r{r},bank,Region {r},region" for r in range(10)]
    rows += [f"{b},r{i % 10},Branch {b},branch" for i, b in enumerate(BRANCHES)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def generate(n: int, seed: int = 7) -> pa.Table:
    """``n`` canonical responses: ISO timestamps, ~10% without a customer, ~15% of items unanswered."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01T00:00:00")
    seconds = rng.integers(0, 365 * 24 * 3600, n).astype("timedelta64[s]")
    ids = np.char.add("r", np.char.zfill(np.arange(n).astype(str), 8))
    customers = np.char.add("c", np.char.zfill(rng.integers(0, n // 4 + 1, n).astype(str), 7))
    no_customer = rng.random(n) < 0.1
    columns: dict[str, pa.Array] = {
        "response_id": pa.array(ids),
        "submitted_at": pa.array(np.datetime_as_string(start + seconds)),
        "unit_id": pa.array(np.asarray(BRANCHES)[rng.integers(0, len(BRANCHES), n)]),
        "customer_id": pa.array(np.where(no_customer, None, customers).tolist(), pa.string()),
        "touchpoint": pa.array(np.asarray(TOUCHPOINTS)[rng.integers(0, len(TOUCHPOINTS), n)]),
        "channel": pa.array(np.asarray(CHANNELS)[rng.integers(0, len(CHANNELS), n)]),
        "nps": pa.array(rng.integers(0, 11, n).astype(np.float64)),
        "csat": pa.array(rng.integers(1, 6, n).astype(np.float64)),
        "ces": pa.array(rng.integers(1, 8, n).astype(np.float64)),
        "comment": pa.array(
            np.where(rng.random(n) < 0.2, "Staff were friendly but the wait was long", None).tolist()
        ),
    }
    for item in ITEMS:
        values = rng.integers(0, 11, n).astype(np.float64)
        columns[f"q_{item}"] = pa.array(values, mask=rng.random(n) < 0.15)
    return pa.table(columns)


def _files(n: int) -> tuple[Path, Path, Path]:
    DATA.mkdir(parents=True, exist_ok=True)
    csv_path, parquet_path, units = (
        DATA / f"import-responses-{n}.csv",
        DATA / f"import-responses-{n}.parquet",
        DATA / "import-units.csv",
    )
    if not csv_path.exists() or not parquet_path.exists():
        data = generate(n)
        pcsv.write_csv(data, csv_path)
        pq.write_table(data, parquet_path)
    _units_csv(units)
    return csv_path, parquet_path, units


def _cxloop(path: Path, units: Path, work: Path) -> tuple[float, float]:
    from cxloop.config import Settings
    from cxloop.services.listen.imports import import_file

    data_dir = work / "cxloop"
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = Settings(data_dir=data_dir, environment="test", secret_key="bench-" + "x" * 40)
    import_file("units", units, settings=settings)
    started, cpu = time.perf_counter(), time.process_time()
    summary = import_file("responses", path, settings=settings)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    assert summary.rejected == 0 and summary.accepted > 0, summary.to_dict()
    return seconds, cpu


def _pandas(path: Path, work: Path) -> tuple[float, float]:
    target = work / "pandas.duckdb"
    target.unlink(missing_ok=True)
    started, cpu = time.perf_counter(), time.process_time()
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    frame["submitted_at"] = pd.to_datetime(frame["submitted_at"])
    answers = frame.melt(id_vars=["response_id"], value_vars=[f"q_{i}" for i in ITEMS], var_name="item")
    answers = answers.dropna(subset=["value"])
    answers["item"] = answers["item"].str.removeprefix("q_")
    header = frame.drop(columns=[f"q_{i}" for i in ITEMS])
    con = duckdb.connect(str(target))
    con.register("header_frame", header)
    con.register("answers_frame", answers)
    con.execute("CREATE TABLE responses AS SELECT * FROM header_frame")
    con.execute("CREATE TABLE answers AS SELECT * FROM answers_frame")
    con.close()
    return time.perf_counter() - started, time.process_time() - cpu


def run(quick: bool) -> str:
    n = 50_000 if quick else 1_000_000
    csv_path, parquet_path, units = _files(n)
    rows = []
    with tempfile.TemporaryDirectory(dir=DATA) as scratch:
        work = Path(scratch)
        for label, path in (("CSV", csv_path), ("Parquet", parquet_path)):
            size = f"{path.stat().st_size / 2**20:,.0f} MiB"
            # Alternate the two loaders so that both see the same load on a shared machine.
            ours, theirs = [], []
            for _ in range(2):
                ours.append(_cxloop(path, units, work))
                theirs.append(_pandas(path, work))
            for loader, runs in (("cxloop import_file", ours), ("pandas + DuckDB, no checks", theirs)):
                seconds, cpu = min(runs)
                rows.append([label, size, loader, seconds, cpu, n / seconds, n * 12 * 0.85 / seconds])
                size = ""
    body = table(
        ["input", "size", "loader", "seconds", "CPU seconds", "responses/s", "answers/s (approx.)"], rows
    )
    return (
        f"{n:,} responses, 12 driver items (~{int(n * 12 * 0.85):,} answers), 200 branches, into an empty "
        "DuckDB file; default batch size (100,000 rows). Best of two runs per loader, the loaders "
        "alternating; CPU seconds (all threads) are less sensitive than wall time to other work on the "
        "machine.\n\n"
        + body
        + "\n\ncxloop validates every value (types, scales, units, dates, keys repeated in the file), checks "
        "customers and keys against the warehouse, commits each batch atomically and quarantines bad rows; "
        "the alternative does none of that and fails or loads bad data on the first malformed value."
    )
