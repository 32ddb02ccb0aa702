"""``cxloop demo generate`` loads the demo through the import pipeline; ``demo overview`` reads it back."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from cxloop import stats
from cxloop.cli import app
from cxloop.config import Settings
from cxloop.demo import DEFAULT_MODEL, KINDS, generate
from cxloop.demo.load import demo_dir, load
from cxloop.demo.overview import demo_overview
from cxloop.services.listen.imports import import_file
from cxloop.store import catalog
from cxloop.store.db import engine_for, session_scope
from cxloop.store.tables import Segment, Touchpoint
from cxloop.warehouse.connection import connect

SCALE = "0.02"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "cxloop-data"


def _invoke(data_dir: Path, *args: str):
    result = CliRunner().invoke(
        app, ["demo", *args], env={"CXLOOP_DATA_DIR": str(data_dir), "COLUMNS": "120"}
    )
    return result


def test_generate_imports_every_file_cleanly_and_overview_reads_it_back(data_dir):
    result = _invoke(data_dir, "generate", "--scale", SCALE, "--seed", "3")
    assert result.exit_code == 0, result.output
    assert "loaded through the import pipeline" in result.output
    folder = data_dir / "demo"
    files = {
        kind: pd.read_parquet(folder / f"{kind}.parquet") for kind in ("responses", "customers", "units")
    }

    settings = Settings(data_dir=data_dir)
    con = connect(settings)
    try:
        assert con.table("responses").count().to_pyarrow().as_py() == len(files["responses"])
        assert con.table("customers").count().to_pyarrow().as_py() == len(files["customers"])
        answered = int(files["responses"].filter(like="q_").notna().to_numpy().sum())
        assert con.table("answers").count().to_pyarrow().as_py() == answered
    finally:
        con.disconnect()

    overview = demo_overview(settings)
    responses = files["responses"]
    expected = stats.nps(
        (responses.nps <= 6).sum(), responses.nps.between(7, 8).sum(), (responses.nps >= 9).sum()
    )
    assert float(overview.nps.score) == pytest.approx(float(expected.score))
    assert overview.units_per_level == files["units"].level.value_counts().to_dict()
    assert overview.totals["responses"] == len(responses)
    assert overview.responses_by_month.to_numpy().sum() == len(responses)
    assert overview.pilot is not None and overview.pilot.true_effect is not None

    shown = _invoke(data_dir, "overview")
    assert shown.exit_code == 0, shown.output
    for text in ("Northwind Bank", "NPS", "responses per touchpoint and month", "pilot First-time resolution",
                 "ground truth", "explore next", "logins", "demo-branch@northwind.example",
                 "northwind-demo"):  # fmt: skip
        assert text in shown.output, text


def test_load_imports_every_kind_without_rejects_or_warnings(tmp_path):
    settings = Settings(data_dir=tmp_path / "cxloop-data")
    dataset = generate(demo_dir(settings), scale=0.02, seed=8)
    seen: list[str] = []
    summaries = load(
        dataset, settings, progress=lambda kind, event: seen.append(kind) if event is None else None
    )
    assert seen == list(KINDS) == list(summaries)
    for kind, summary in summaries.items():
        assert summary.rejected == 0 and summary.warnings == 0 and summary.duplicates == 0, kind
        assert summary.accepted == dataset.counts[kind], kind
    # the catalogue was declared before the import: journey order, value ranks, item scales
    engine = engine_for(settings)
    try:
        with session_scope(engine) as session:
            journey = list(session.scalars(select(Touchpoint.touchpoint_id).order_by(Touchpoint.stage_order)))
            ranks = dict(session.execute(select(Segment.segment_id, Segment.value_rank)).all())
            scales = catalog.item_scales(session)
    finally:
        engine.dispose()
    assert journey == list(DEFAULT_MODEL.touchpoint_names)
    assert ranks == {s.segment: s.value_rank for s in DEFAULT_MODEL.segments}
    assert all(scales[item] == (1.0, 10.0) for item in DEFAULT_MODEL.item_names)
    assert scales["nps"] == (0.0, 10.0)


def test_generate_again_is_a_no_op_and_another_seed_replaces_the_demo(data_dir):
    assert _invoke(data_dir, "generate", "--scale", SCALE, "--seed", "3").exit_code == 0
    again = _invoke(data_dir, "generate", "--scale", SCALE, "--seed", "3")
    assert again.exit_code == 0 and "already loaded" in again.output

    other = _invoke(data_dir, "generate", "--scale", SCALE, "--seed", "4")
    assert other.exit_code == 0, other.output
    responses = pd.read_parquet(data_dir / "demo" / "responses.parquet")
    con = connect(Settings(data_dir=data_dir))
    try:
        stored = con.table("responses").select("response_id", "nps").to_pandas()
    finally:
        con.disconnect()
    # the earlier demo is gone, not mixed with the new one
    merged = responses[["response_id", "nps"]].merge(stored, on="response_id", suffixes=("", "_stored"))
    assert len(stored) == len(responses) == len(merged)
    assert (merged.nps == merged.nps_stored).all()


def test_generate_refuses_stores_holding_other_data_unless_replaced(data_dir, tmp_path):
    own = tmp_path / "my_units.csv"
    own.write_text("unit_id,parent_id,name,level\nacme,,Acme,company\n", encoding="utf-8")
    settings = Settings(data_dir=data_dir)
    assert import_file("units", own, settings=settings).accepted == 1

    refused = _invoke(data_dir, "generate", "--scale", SCALE)
    assert refused.exit_code == 1
    assert "--replace" in refused.output and "my_units.csv" in refused.output

    replaced = _invoke(data_dir, "generate", "--scale", SCALE, "--replace")
    assert replaced.exit_code == 0, replaced.output
    overview = demo_overview(settings)
    assert overview.company == "Northwind Bank"
    assert overview.units_per_level["company"] == 1  # Acme is gone


def test_no_import_writes_files_only(data_dir):
    result = _invoke(data_dir, "generate", "--scale", SCALE, "--no-import")
    assert result.exit_code == 0, result.output
    assert (data_dir / "demo" / "ground_truth.json").exists()
    assert not (data_dir / "warehouse.duckdb").exists()
    missing = _invoke(data_dir, "overview")
    assert missing.exit_code == 1 and "cxloop demo generate" in missing.output


def test_every_next_step_the_overview_suggests_runs_on_the_demo(data_dir):
    """The overview's "explore next" commands are what a new user types first: each must work."""
    from cxloop.cli.demo import _NEXT_STEPS

    assert _invoke(data_dir, "generate", "--scale", "0.05", "--seed", "4").exit_code == 0
    for step in _NEXT_STEPS:
        args = step.split("   (")[0].split()
        assert args[0] == "cxloop"
        result = CliRunner().invoke(app, args[1:], env={"CXLOOP_DATA_DIR": str(data_dir), "COLUMNS": "120"})
        assert result.exit_code == 0, f"{step}\n{result.output}"
