"""The quarantine file: every rejected row, with where it was and why, next to its original values.

A UTF-8 CSV with the columns ``file, row, column, reason`` followed by the input file's own columns
(their original text, before any mapping). Fix the values, delete the first four columns (or keep them:
an import ignores columns it does not know) and import the file again. Written incrementally, so a
file with many bad rows never sits in memory; the file is only created when a first row is rejected.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from cxloop.warehouse.ingest.validate import RowProblem

__all__ = ["QUARANTINE_COLUMNS", "QuarantineWriter", "quarantine_path"]

QUARANTINE_COLUMNS = ("file", "row", "column", "reason")


def quarantine_path(folder: Path, kind: str, source: Path, run_id: int | None = None) -> Path:
    """``<folder>/<kind>-<UTC timestamp>[-run<id>]-<file stem>.csv``: unique per run, sorted by time."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    name = source.name.removesuffix(".gz").removesuffix(".GZ")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(name).stem) or "file"
    run = f"-run{run_id}" if run_id is not None else ""
    return folder / f"{kind}-{stamp}{run}-{stem}.csv"


class QuarantineWriter:
    """Append rejected rows to ``path``, creating it (and its folder) on the first one."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        # A source column that shares a name with ours keeps its value under "<name>.original".
        names = [f"{c}.original" if c in QUARANTINE_COLUMNS else c for c in columns]
        self._renamed = dict(zip(columns, names, strict=True))
        self.fieldnames = [*QUARANTINE_COLUMNS, *names]
        self.rows = 0
        self._handle: IO[str] | None = None
        self._writer: csv.DictWriter[str] | None = None

    @property
    def created(self) -> bool:
        return self._handle is not None

    def write(self, problems: Iterable[RowProblem]) -> None:
        for problem in problems:
            if self._writer is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self.path.open("w", encoding="utf-8", newline="")
                self._writer = csv.DictWriter(self._handle, fieldnames=self.fieldnames, extrasaction="ignore")
                self._writer.writeheader()
            # A key not in the header (a JSON Lines key first seen later) is dropped by extrasaction.
            record: dict[str, object] = {self._renamed.get(k, k): v for k, v in problem.values.items()}
            record.update(file=problem.file, row=problem.row, column=problem.column, reason=problem.reason)
            self._writer.writerow(record)
            self.rows += 1
        if self._handle is not None:
            self._handle.flush()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None
            self._writer = None
