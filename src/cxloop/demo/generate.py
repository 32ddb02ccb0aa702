"""Generate the demo company: the six canonical Parquet files and ``ground_truth.json``.

Scale: ``scale=1`` is about 100,000 responses from 20,000 customers at ~50 branches over 24 months
(~230,000 transactions, ~50,000 contacts); responses and customers grow linearly with ``scale``, branches
with its square root. ``scale=100`` gives about 10 million responses. Customers are simulated in chunks
(:mod:`cxloop.demo.simulate`), each with its own random generator spawned from the seed, and each chunk is
written as one row group per file (:mod:`cxloop.demo.files`), so memory stays bounded at any scale.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cxloop.config import get_settings
from cxloop.demo import truth
from cxloop.demo.files import (
    FILE_NAMES,
    ID_PREFIX,
    KINDS,
    THEMES_FILE,
    TRUTH_FILE,
    ParquetFiles,
    units_table,
    write_chunk,
)
from cxloop.demo.model import DEFAULT_MODEL, DEFAULT_SEED, DemoModel
from cxloop.demo.org import build_org
from cxloop.demo.simulate import Tally, build_context, draw_customers, simulate_chunk

__all__ = ["CHUNK_CUSTOMERS", "DemoDataset", "generate"]

CHUNK_CUSTOMERS = 100_000


@dataclass(frozen=True)
class DemoDataset:
    """What :func:`generate` wrote: the folder, one Parquet file per kind, the truth, the row counts."""

    directory: Path
    files: Mapping[str, Path]
    ground_truth: Path
    themes: Path
    counts: Mapping[str, int]
    scale: float
    seed: int
    seconds: float

    def truth(self) -> dict:
        """The ground truth, read from ``ground_truth.json``."""
        return json.loads(self.ground_truth.read_text(encoding="utf-8"))


def generate(
    out_dir: Path | str | None = None,
    *,
    scale: float = 1.0,
    seed: int = DEFAULT_SEED,
    model: DemoModel = DEFAULT_MODEL,
    chunk_customers: int = CHUNK_CUSTOMERS,
    progress: Callable[[str], None] | None = None,
) -> DemoDataset:
    """Generate the demo company into ``out_dir``: six canonical Parquet files and ``ground_truth.json``.

    Parameters
    ----------
    out_dir
        Folder to write into (created if needed; existing demo files in it are replaced). Default: the
        ``demo`` folder of the data folder in the settings (``./cxloop-data/demo``).
    scale
        Size multiplier: 1.0 is about 100,000 responses and 20,000 customers at ~50 branches; responses and
        customers grow linearly, branches with the square root (100 gives about 10 million responses).
    seed
        Seed of every random draw: the same seed, scale and model give the same files.
    model
        The causal model (:data:`~cxloop.demo.model.DEFAULT_MODEL`).
    chunk_customers
        Customers simulated (and written as one row group) at a time; bounds memory at large scales. Part
        of the random stream layout: change it and the data change.
    progress
        Called with a short message after each step.

    Returns
    -------
    DemoDataset
        The paths, row counts and generation time.

    Example
    -------
    >>> dataset = generate("/tmp/demo", scale=0.02, seed=1)  # doctest: +SKIP
    >>> dataset.counts["responses"]  # doctest: +SKIP
    2020
    """
    if not scale > 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if chunk_customers < 1:
        raise ValueError(f"chunk_customers must be at least 1, got {chunk_customers}")
    began = time.perf_counter()
    directory = Path(out_dir) if out_dir is not None else get_settings().data_dir / "demo"
    directory.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda _message: None)
    root = np.random.SeedSequence(seed)
    org_seed, chunk_seed = root.spawn(2)
    org = build_org(model, scale, np.random.default_rng(org_seed))
    ctx = build_context(model, org)
    n_customers = max(1, round(model.customers_at_scale_1 * scale))
    chunk_sizes = [min(chunk_customers, n_customers - s) for s in range(0, n_customers, chunk_customers)]
    tally = Tally(len(model.segments), len(model.touchpoints), len(model.themes))
    offsets = dict.fromkeys(ID_PREFIX, 0)

    for name in (*FILE_NAMES.values(), THEMES_FILE, TRUTH_FILE):
        (directory / name).unlink(missing_ok=True)
    writers = ParquetFiles(directory)
    try:
        writers.write(FILE_NAMES["units"], units_table(org))
        tally.count("units", len(org.unit_ids))
        for number, (size, sequence) in enumerate(
            zip(chunk_sizes, chunk_seed.spawn(len(chunk_sizes)), strict=True)
        ):
            rng = np.random.default_rng(sequence)
            customers = draw_customers(rng, ctx, size)
            pieces = simulate_chunk(rng, ctx, customers, tally)
            write_chunk(writers, ctx, rng, customers, offsets, pieces, tally)
            say(f"chunk {number + 1}/{len(chunk_sizes)}: {offsets['responses']:,} responses so far")
    finally:
        writers.close()

    files = {kind: directory / FILE_NAMES[kind] for kind in KINDS}
    truth_path = directory / TRUTH_FILE
    document = truth.build(model=model, org=org, tally=tally, scale=scale, seed=seed, files=files)
    truth_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    say(f"ground truth written to {truth_path}")
    return DemoDataset(
        directory=directory,
        files=files,
        ground_truth=truth_path,
        themes=directory / THEMES_FILE,
        counts={kind: tally.counts.get(kind, 0) for kind in KINDS},
        scale=scale,
        seed=seed,
        seconds=time.perf_counter() - began,
    )
