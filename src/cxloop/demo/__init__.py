"""The demo company: a retail bank generated from an explicit causal model, with its truth beside the data.

``generate(out_dir, scale=1.0, seed=2026)`` writes the six canonical Parquet files and
``ground_truth.json``; see :mod:`cxloop.demo.model` for the model and :mod:`cxloop.demo.truth` for what the
truth holds.
"""

from cxloop.demo.generate import FILE_NAMES, KINDS, DemoDataset, generate
from cxloop.demo.model import DEFAULT_MODEL, DEFAULT_SEED, DemoModel

__all__ = ["DEFAULT_MODEL", "DEFAULT_SEED", "FILE_NAMES", "KINDS", "DemoDataset", "DemoModel", "generate"]
