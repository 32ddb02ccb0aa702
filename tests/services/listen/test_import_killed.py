"""A real ``cxloop import`` process killed (SIGKILL) while a batch transaction is open leaves the warehouse
exactly as it was before that batch; running the same command again completes the import.

The failpoint ``import.inside_batch`` makes the loader write a marker file and sleep inside the open
transaction, after the batch's responses and answers were written: the kill lands there every time.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from cxloop.services.listen.imports import import_file
from support.import_helpers import RESPONSE_HEADER, response_row, write_csv

CXLOOP = str(Path(sys.executable).with_name("cxloop"))


def fingerprint(settings) -> dict[str, tuple[int, str]]:
    """Row count and a content hash of every fact table."""
    con = duckdb.connect(str(settings.data_dir / "warehouse.duckdb"), read_only=True)
    try:
        out = {}
        for table in ("responses", "answers", "units", "unit_closure"):
            rows = con.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()  # noqa: S608
            out[table] = (len(rows), hashlib.sha256(repr(rows).encode()).hexdigest())
        return out
    finally:
        con.close()


def env_for(settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CXLOOP_")}
    env.update(CXLOOP_DATA_DIR=str(settings.data_dir), CXLOOP_ENVIRONMENT="development", **extra)
    return env


@pytest.mark.slow
@pytest.mark.parametrize("batch", [1, 3], ids=["first_batch", "third_batch"])
def test_killed_inside_a_batch_leaves_no_half_batch(batch: int, org, tmp_path: Path) -> None:
    import_file(
        "responses", write_csv(tmp_path / "old.csv", RESPONSE_HEADER, [response_row(0)]), settings=org
    )
    big = write_csv(tmp_path / "big.csv", RESPONSE_HEADER, [response_row(i) for i in range(1, 2001)])
    before = fingerprint(org)
    marker = tmp_path / "inside-batch.marker"
    process = subprocess.Popen(  # noqa: S603 - our own console script
        [CXLOOP, "import", "responses", str(big), "--batch-size", "500", "--quiet"],
        env=env_for(
            org,
            CXLOOP_FAILPOINT="import.inside_batch",
            CXLOOP_FAILPOINT_AFTER=str(batch),
            CXLOOP_FAILPOINT_MARKER=str(marker),
        ),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        while not marker.exists():
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL

    if batch == 1:
        assert fingerprint(org) == before
    # The same state built in a second store from exactly the rows committed before the killed batch.
    committed = [response_row(0)] + [response_row(i) for i in range(1, 1 + 500 * (batch - 1))]
    expected_dir = tmp_path / "expected"
    expected = org.model_copy(update={"data_dir": expected_dir})
    import_file("units", tmp_path / "units.csv", settings=expected)
    import_file(
        "responses", write_csv(tmp_path / "committed.csv", RESPONSE_HEADER, committed), settings=expected
    )
    assert fingerprint(org) == fingerprint(expected)

    rerun = subprocess.run(  # noqa: S603
        [CXLOOP, "import", "responses", str(big), "--batch-size", "500", "--json"],
        env=env_for(org),
        capture_output=True,
        text=True,
        check=False,
    )
    assert rerun.returncode == 0, rerun.stderr
    assert '"accepted": ' + str(2000 - 500 * (batch - 1)) in rerun.stdout
    con = duckdb.connect(str(org.data_dir / "warehouse.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM responses").fetchone() == (2001,)
        assert con.execute("SELECT count(DISTINCT response_id) FROM answers").fetchone() == (2001,)
    finally:
        con.close()
