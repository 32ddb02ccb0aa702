"""Loading the demo company into the stores, through the same import pipeline users run.

The catalogue comes first (touchpoints in journey order, segments with their value ranks, the headline
questions and the driver items on their 1-10 scale), then the six files, units first, each through
:func:`cxloop.services.listen.imports.import_file`: the demo is the import pipeline's first customer.

The stores must be empty, or hold only an earlier demo (every import run read a file of the demo folder).
An earlier demo in the embedded default stores (SQLite + DuckDB under the data folder) is replaced; any
other data is never deleted without ``replace=True``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from cxloop.config import Settings
from cxloop.demo.files import FILE_NAMES, KINDS, TRUTH_FILE
from cxloop.demo.generate import DemoDataset
from cxloop.demo.model import DEFAULT_MODEL, DemoModel
from cxloop.demo.users import create_demo_users
from cxloop.services.listen.imports import ImportProgress, ImportSummary, import_file
from cxloop.store import catalog, migrate
from cxloop.store.db import engine_for, session_scope
from cxloop.store.tables import ImportRun, Unit
from cxloop.warehouse.connection import connect

__all__ = [
    "DemoLoadError",
    "StoreState",
    "demo_dir",
    "load",
    "loaded_demo",
    "register_catalogue",
    "reset_stores",
    "store_state",
]


class DemoLoadError(RuntimeError):
    """The demo cannot be loaded: the stores hold other data, or a file had rejected rows."""


def demo_dir(settings: Settings) -> Path:
    """Where ``cxloop demo generate`` writes the files: ``<data_dir>/demo``."""
    return settings.data_dir / "demo"


def _embedded(settings: Settings) -> bool:
    return settings.database_url is None and settings.warehouse_url is None


@dataclass(frozen=True)
class StoreState:
    """What the stores hold before a demo is loaded."""

    units: int
    import_runs: int
    foreign_sources: tuple[str, ...]  # files imported from outside the demo folder
    embedded: bool

    @property
    def empty(self) -> bool:
        return self.units == 0 and self.import_runs == 0

    @property
    def demo_only(self) -> bool:
        """Everything in the stores came from demo files."""
        return not self.empty and not self.foreign_sources


def store_state(settings: Settings) -> StoreState:
    """Inspect the app database (migrating it first) for units and import runs."""
    url = settings.resolved_database_url
    if not migrate.is_up_to_date(url):
        migrate.upgrade(url)
    engine = engine_for(settings)
    folder = demo_dir(settings).resolve()
    try:
        with session_scope(engine) as session:
            units = session.scalar(select(func.count()).select_from(Unit)) or 0
            sources = list(session.scalars(select(ImportRun.source)))
    finally:
        engine.dispose()
    foreign = tuple(sorted({s for s in sources if not Path(s).resolve().is_relative_to(folder)}))
    return StoreState(
        units=units, import_runs=len(sources), foreign_sources=foreign, embedded=_embedded(settings)
    )


def loaded_demo(settings: Settings) -> dict[str, Any] | None:
    """The ground truth of the demo the stores hold, if they hold exactly the files of the demo folder
    (every kind imported from there completely, without rejects, and nothing else); else ``None``."""
    folder = demo_dir(settings)
    truth_path = folder / TRUTH_FILE
    if not truth_path.exists():
        return None
    state = store_state(settings)
    if not state.demo_only:
        return None
    engine = engine_for(settings)
    try:
        with session_scope(engine) as session:
            runs = session.execute(
                select(ImportRun.kind, ImportRun.source, ImportRun.status, ImportRun.rejected)
            )
            done = {
                kind
                for kind, source, status, rejected in runs
                if status == "done" and not rejected and Path(source).name == FILE_NAMES.get(kind)
            }
    finally:
        engine.dispose()
    if set(KINDS) - done:
        return None
    truth: dict[str, Any] = json.loads(truth_path.read_text(encoding="utf-8"))
    return truth


def reset_stores(settings: Settings) -> list[Path]:
    """Delete the embedded stores (the SQLite and DuckDB files under the data folder, with their journals)
    and the quarantine folder. Returns what was deleted. Refuses for any configured external store."""
    if not _embedded(settings):
        raise DemoLoadError(
            "only the embedded stores under the data folder can be reset; CXLOOP_DATABASE_URL or "
            "CXLOOP_WAREHOUSE_URL points elsewhere: empty those databases yourself"
        )
    data = settings.data_dir
    deleted = []
    for name in ("cxloop.db", "cxloop.db-wal", "cxloop.db-shm", "warehouse.duckdb", "warehouse.duckdb.wal"):
        path = data / name
        if path.exists():
            path.unlink()
            deleted.append(path)
    if settings.quarantine_dir.exists():
        shutil.rmtree(settings.quarantine_dir)
        deleted.append(settings.quarantine_dir)
    return deleted


def register_catalogue(settings: Settings, model: DemoModel = DEFAULT_MODEL) -> None:
    """Declare the demo's touchpoints, segments and questions (driver items with their 1-10 scale)."""
    url = settings.resolved_database_url
    if not migrate.is_up_to_date(url):
        migrate.upgrade(url)
    engine = engine_for(settings)
    low, high = model.experience.item_scale
    try:
        with session_scope(engine) as session:
            catalog.upsert_touchpoints(
                session, [(t.touchpoint, t.name, t.stage_order) for t in model.touchpoints]
            )
            catalog.upsert_segments(session, [(s.segment, s.name, s.value_rank) for s in model.segments])
            catalog.ensure_standard_questions(session)
            for item in model.items:
                catalog.upsert_question(
                    session, item.item, item.label, type="rating", scale=(low, high), is_driver=True
                )
    finally:
        engine.dispose()


def load(
    dataset: DemoDataset,
    settings: Settings,
    *,
    model: DemoModel = DEFAULT_MODEL,
    replace: bool = False,
    progress: Callable[[str, ImportProgress | None], None] | None = None,
) -> Mapping[str, ImportSummary]:
    """Import a generated demo into the stores named by ``settings``; return each file's summary.

    Parameters
    ----------
    dataset
        What :func:`cxloop.demo.generate` wrote.
    settings
        The stores to load into.
    replace
        Delete whatever the embedded stores hold first (otherwise only an earlier demo is replaced).
    progress
        Called with the kind and an :class:`ImportProgress` after every batch (``None`` when a file starts).

    Raises
    ------
    DemoLoadError
        The stores hold other data (and ``replace`` is false), or a file had rejected rows.
    """
    state = store_state(settings)
    if not state.empty:
        if not (replace or state.demo_only):
            shown = ", ".join(state.foreign_sources[:3])
            raise DemoLoadError(
                f"the stores already hold data imported from other files ({shown}). Use --replace to delete "
                "the embedded stores first, or point CXLOOP_DATA_DIR at another folder."
            )
        reset_stores(settings)
    register_catalogue(settings, model)
    summaries: dict[str, ImportSummary] = {}
    con = connect(settings)
    try:
        for kind in KINDS:
            if progress is not None:
                progress(kind, None)
            callback = None if progress is None else (lambda p, kind=kind: progress(kind, p))
            summary = import_file(
                kind, dataset.files[kind], settings=settings, warehouse=con, progress=callback
            )
            summaries[kind] = summary
            if summary.rejected:
                raise DemoLoadError(
                    f"{summary.rejected} {kind} rows were rejected (see {summary.quarantine}): "
                    f"the demo generator and the import pipeline disagree; first problems: "
                    f"{list(summary.problems[:3])}"
                )
    finally:
        con.disconnect()
    create_demo_users(settings)
    return summaries
