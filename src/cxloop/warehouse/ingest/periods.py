"""A file that dates its rows by period number (``t = 1, 2, ...``) instead of a timestamp.

:class:`PeriodSource` wraps any reader and adds one text column, :data:`PERIOD_COLUMN`, holding the first
day of each row's period (``2020-03-01`` for ``t = 3`` with ``start: 2020-01, every: month``); the mapping
then reads the kind's timestamp from it, so validation, quarantine and batches are the ordinary ones. A
value that is not a whole number is passed on as written and rejected as an impossible date, naming it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from cxloop.warehouse.ingest.mapping import PeriodMapping
from cxloop.warehouse.ingest.readers import Source, SourceBatch, SourceError

__all__ = ["PERIOD_COLUMN", "PeriodSource"]

PERIOD_COLUMN = "_period_start"


class PeriodSource(Source):
    """``source`` with :data:`PERIOD_COLUMN` added from the period numbers of ``period.column``."""

    def __init__(self, source: Source, period: PeriodMapping) -> None:
        super().__init__(source.path, source.format)
        if period.column not in source.columns:
            raise SourceError(
                f"{source.path.name}: the mapping's period column {period.column!r} is not in the file"
            )
        self.source = source
        self.period = period
        self.encoding = source.encoding
        self.columns = [*source.columns, PERIOD_COLUMN]

    def batches(self, size: int) -> Iterator[SourceBatch]:
        for batch in self.source.batches(size):
            values = batch.table.column(self.period.column)
            if pa.types.is_binary(values.type):
                values = pc.cast(values, pa.string(), safe=False)
            days = [self._day(v) for v in values.to_pylist()]
            table = batch.table.append_column(PERIOD_COLUMN, pa.array(days, pa.string()))
            yield SourceBatch(table, batch.rows, batch.malformed, batch.structured)

    def _day(self, value: object) -> str | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        text = str(value).strip()
        try:
            number = float(text)
        except ValueError:
            return text
        if not number.is_integer() or abs(number) > 100_000:
            return text
        try:
            return self.period.day_of(int(number)).isoformat()
        except (ValueError, OverflowError):
            return text

    def progress(self) -> tuple[int, int | None]:
        return self.source.progress()

    def notes(self) -> list[str]:
        return self.source.notes()

    def close(self) -> None:
        self.source.close()
