"""Response attributes: what a survey-tool export carries beyond scores, items and the comment.

Embedded data (Qualtrics), custom data (SurveyMonkey), hidden fields (Typeform), the tool's own topic
and sentiment columns, multi-select options and other answers are kept, long, in
``response_attributes(response_id, name, value)``: one row per response and export column, keyed by
``(response_id, name)``. :func:`append_attributes` adds only the rows of responses that are stored and
whose attribute is not stored yet, so re-importing an export never duplicates them, and attributes of a
rejected response are not kept.
"""

from __future__ import annotations

import ibis
import ibis.expr.datatypes as dt
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from ibis.backends import BaseBackend

from cxloop.warehouse.ingest.parse import mask
from cxloop.warehouse.schemas import RESPONSES, FactTable
from cxloop.warehouse.write.writer import writer_for

__all__ = ["RESPONSE_ATTRIBUTES", "append_attributes", "ensure_attributes_table"]

RESPONSE_ATTRIBUTES = FactTable(
    name="response_attributes",
    schema=ibis.schema(
        {
            "response_id": dt.String(nullable=False),
            "name": dt.String(nullable=False),
            "value": dt.string,
        }
    ),
    key=("response_id", "name"),
    description=(
        "One row per (response, export column) that is neither a score, a driver item nor the comment: "
        "embedded data, hidden fields, the survey tool's topics and sentiment, multi-select options."
    ),
)


def ensure_attributes_table(con: BaseBackend) -> None:
    if RESPONSE_ATTRIBUTES.name not in con.list_tables():
        con.create_table(RESPONSE_ATTRIBUTES.name, schema=RESPONSE_ATTRIBUTES.schema)


def append_attributes(con: BaseBackend, rows: pa.Table) -> int:
    """Append ``rows`` (``response_id, name, value``) of stored responses not stored yet; the count added."""
    if not rows.num_rows:
        return 0
    ensure_attributes_table(con)
    writer = writer_for(con)
    rows = rows.select(["response_id", "name", "value"])
    ids = pc.unique(rows.column("response_id").combine_chunks())
    stored_responses = writer.stored_rows(RESPONSES.name, RESPONSES.key, pa.table({"response_id": ids}))
    known = stored_responses.column("response_id").combine_chunks()
    rows = rows.filter(pc.is_in(rows.column("response_id"), value_set=known))
    if not rows.num_rows:
        return 0
    with writer.transaction():
        stored = writer.stored_rows(
            RESPONSE_ATTRIBUTES.name, RESPONSE_ATTRIBUTES.key, rows.select(["response_id", "name"])
        )
        if stored.num_rows:
            marker = "\x1f"
            have = pc.binary_join_element_wise(stored.column("response_id"), stored.column("name"), marker)
            want = pc.binary_join_element_wise(rows.column("response_id"), rows.column("name"), marker)
            if isinstance(have, pa.ChunkedArray):
                have = have.combine_chunks()
            fresh = ~mask(pc.is_in(want, value_set=have))
            rows = rows.filter(pa.array(np.asarray(fresh)))
        writer.insert(RESPONSE_ATTRIBUTES.name, rows)
    return rows.num_rows
