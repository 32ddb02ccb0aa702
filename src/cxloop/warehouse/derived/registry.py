"""The derived tables, in the order the writer keeps them in step with each batch.

The one list of them: :func:`cxloop.warehouse.write.writer.append_batch` loops over it. The order matters:
``response_items`` first (a new driver item adds its column there, and ``driver_moments_monthly`` takes its
item set from that table's columns), the data version last (on engines without transactions it is written
after everything it versions).
"""

from __future__ import annotations

from cxloop.warehouse.derived import data_version, driver_moments_monthly, response_items, responses_monthly
from cxloop.warehouse.derived.projection import Projection

__all__ = ["DERIVED_TABLES", "following"]

DERIVED_TABLES: tuple[Projection, ...] = (
    response_items,
    responses_monthly,
    driver_moments_monthly,
    data_version,
)


def following(fact: str) -> tuple[Projection, ...]:
    """The derived tables kept from batches of fact table ``fact``, in order."""
    return tuple(table for table in DERIVED_TABLES if table.SOURCE in (None, fact))
