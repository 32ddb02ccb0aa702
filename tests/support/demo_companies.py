"""Demo companies built once per (scale, seed) and test process, shared read-only.

The ``demo_companies`` fixture generates a demo company the first time a (scale, seed) is asked for, and
hands the same files and stores to every later caller in the process (one xdist worker). Three ways in:

- :meth:`DemoCompanies.files`: the generated Parquet files and ground truth (nothing loaded);
- :meth:`DemoCompanies.loaded`: those files imported into an app database and a warehouse, with the demo
  logins. Read them, never write: other modules of the worker see the same stores;
- :meth:`DemoCompanies.copy`: a private copy of the loaded stores in a folder of the caller's, for modules
  that write (pilots, rules, tagged comments, imported rows). Copying the files costs far less than
  generating and importing again.

Generation is deterministic (the same scale and seed give the same files), so a shared company holds what a
module's own ``generate`` and ``load`` would have built.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cxloop.config import Settings
from cxloop.demo import DemoDataset, generate
from cxloop.demo.load import demo_dir, load

SECRET_KEY = "test-" + "d" * 40


@dataclass(frozen=True)
class DemoCompany:
    """A demo company's generated files and the stores they were loaded into."""

    settings: Settings
    dataset: DemoDataset

    def truth(self) -> dict[str, Any]:
        return self.dataset.truth()


def _settings(data_dir: Path, secret_key: str) -> Settings:
    return Settings(data_dir=data_dir, environment="test", secret_key=secret_key)


def _dataset_in(dataset: DemoDataset, directory: Path) -> DemoDataset:
    """``dataset`` with its paths moved from its folder to ``directory`` (a copy of that folder)."""

    def moved(path: Path) -> Path:
        return directory / path.relative_to(dataset.directory)

    return DemoDataset(
        directory=directory,
        files={kind: moved(path) for kind, path in dataset.files.items()},
        ground_truth=moved(dataset.ground_truth),
        themes=moved(dataset.themes),
        counts=dataset.counts,
        scale=dataset.scale,
        seed=dataset.seed,
        seconds=dataset.seconds,
    )


class DemoCompanies:
    """Demo companies of this test process, one folder per (scale, seed) under ``root``."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._files: dict[tuple[float, int], DemoDataset] = {}
        self._loaded: dict[tuple[float, int], DemoCompany] = {}

    def _data_dir(self, scale: float, seed: int) -> Path:
        return self._root / f"scale-{scale:g}-seed-{seed}" / "data"

    def files(self, scale: float, seed: int) -> DemoDataset:
        """The demo company's files, generated on first use (read-only)."""
        key = (scale, seed)
        if key not in self._files:
            folder = demo_dir(_settings(self._data_dir(scale, seed), SECRET_KEY))
            self._files[key] = generate(folder, scale=scale, seed=seed)
        return self._files[key]

    def loaded(self, scale: float, seed: int) -> DemoCompany:
        """The demo company loaded into its own stores on first use (read-only: never write to them)."""
        key = (scale, seed)
        if key not in self._loaded:
            settings = _settings(self._data_dir(scale, seed), SECRET_KEY)
            dataset = self.files(scale, seed)
            load(dataset, settings, replace=True)
            self._loaded[key] = DemoCompany(settings, dataset)
        return self._loaded[key]

    def copy(self, scale: float, seed: int, data_dir: Path, *, secret_key: str = SECRET_KEY) -> DemoCompany:
        """A writable copy of the loaded demo company in ``data_dir`` (which must not exist yet)."""
        shared = self.loaded(scale, seed)
        shutil.copytree(shared.settings.data_dir, data_dir)
        settings = _settings(data_dir, secret_key)
        return DemoCompany(settings, _dataset_in(shared.dataset, demo_dir(settings)))


@pytest.fixture(scope="session")
def demo_companies(tmp_path_factory: pytest.TempPathFactory) -> DemoCompanies:
    """This process's demo companies, built once per (scale, seed) and shared read-only (see the module)."""
    return DemoCompanies(tmp_path_factory.mktemp("demo-companies"))
