"""The canonical files: Arrow tables built from the simulation's arrays, written as Parquet row groups.

Column names and order are the canonical import format (``docs/data-formats.md``). Strings are built
through Arrow dictionaries and ids with Arrow string kernels, so no Python loop runs per row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from cxloop.demo.comments import build_comments
from cxloop.demo.experience import nps_category
from cxloop.demo.org import Org
from cxloop.demo.simulate import Context, Customers, Pieces, Tally

__all__ = ["FILE_NAMES", "KINDS", "THEMES_FILE", "TRUTH_FILE", "ParquetFiles", "units_table", "write_chunk"]

KINDS = ("units", "customers", "subscriptions", "responses", "transactions", "contacts")
"""The canonical files, in the order they must be imported (parents before facts that point at them)."""

FILE_NAMES = {kind: f"{kind}.parquet" for kind in KINDS}
THEMES_FILE = "response_themes.parquet"
"""Which themes each comment was written from: ``response_id, theme`` (the truth for text analytics)."""
TRUTH_FILE = "ground_truth.json"
ID_PREFIX = {"customers": "C", "subscriptions": "S", "responses": "R", "transactions": "T", "contacts": "K"}
_ID_WIDTH = {"customers": 8, "subscriptions": 8, "responses": 9, "transactions": 10, "contacts": 9}


def _ids(kind: str, start: int, count: int) -> pa.Array:
    numbers = pa.array(np.arange(start + 1, start + count + 1, dtype=np.int64)).cast(pa.string())
    return pc.binary_join_element_wise(
        ID_PREFIX[kind], pc.utf8_lpad(numbers, width=_ID_WIDTH[kind], padding="0"), ""
    )


def _labels(indices: np.ndarray, names: tuple[str, ...] | list[str]) -> pa.Array:
    """Strings for ``indices`` into ``names`` (via an Arrow dictionary: no Python loop)."""
    dictionary = pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), pa.array(list(names)))
    return dictionary.cast(pa.string())


def _timestamps(seconds: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    return pa.array(seconds.astype(np.int64) * 1_000_000, type=pa.timestamp("us"), mask=missing)


class ParquetFiles:
    """One ``ParquetWriter`` per file, opened on first write; each write is one row group."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.writers: dict[str, pq.ParquetWriter] = {}

    def write(self, name: str, table: pa.Table) -> None:
        writer = self.writers.get(name)
        if writer is None:
            writer = pq.ParquetWriter(self.directory / name, table.schema, compression="zstd")
            self.writers[name] = writer
        writer.write_table(table, row_group_size=max(1, table.num_rows))

    def close(self) -> None:
        for writer in self.writers.values():
            writer.close()


def units_table(org: Org) -> pa.Table:
    return pa.table(
        {
            "unit_id": pa.array(org.unit_ids, pa.string()),
            "parent_id": pa.array(org.parent_ids, pa.string()),
            "name": pa.array(org.names, pa.string()),
            "level": pa.array(org.levels, pa.string()),
        }
    )


def write_chunk(
    writers: ParquetFiles,
    ctx: Context,
    rng: np.random.Generator,
    customers: Customers,
    offsets: dict[str, int],
    pieces: tuple[Pieces, Pieces, Pieces],
    tally: Tally,
) -> None:
    model, org = ctx.model, ctx.org
    n = len(customers.segment)
    customer_ids = _ids("customers", offsets["customers"], n)
    branch_ids = list(org.branch_ids)
    segment_names = list(model.segment_names)
    acquired = _timestamps(customers.acquired_at)
    home = _labels(customers.branch, branch_ids)
    segment = _labels(customers.segment, segment_names)
    writers.write(
        FILE_NAMES["customers"],
        pa.table(
            {
                "customer_id": customer_ids,
                "unit_id": home,
                "segment": segment,
                "acquired_at": acquired,
                "acquisition_cost": pa.array(customers.acquisition_cost),
            }
        ),
    )
    plans = [s.plan for s in model.segments]
    fees = np.array([s.plan_fee for s in model.segments])
    writers.write(
        FILE_NAMES["subscriptions"],
        pa.table(
            {
                "subscription_id": _ids("subscriptions", offsets["subscriptions"], n),
                "customer_id": customer_ids,
                "plan": _labels(customers.segment, plans),
                "started_at": acquired,
                "ended_at": _timestamps(customers.ended_at, customers.ended_at < 0),
                "monthly_fee": pa.array(fees[customers.segment]),
                "unit_id": home,
            }
        ),
    )
    tally.count("customers", n)
    tally.count("subscriptions", n)
    tally.count("churned", int((customers.ended_at >= 0).sum()))
    offsets["customers"] += n
    offsets["subscriptions"] += n

    responses, transactions, contacts = pieces
    if responses.parts:
        _write_responses(writers, ctx, rng, customers, customer_ids, offsets, responses, tally)
    if transactions.parts:
        order = np.argsort(transactions.get("at"), kind="stable")
        who = transactions.get("who")[order]
        count = len(order)
        writers.write(
            FILE_NAMES["transactions"],
            pa.table(
                {
                    "transaction_id": _ids("transactions", offsets["transactions"], count),
                    "customer_id": customer_ids.take(pa.array(who)),
                    "occurred_at": _timestamps(transactions.get("at")[order]),
                    "amount": pa.array(transactions.get("amount")[order]),
                    "margin": pa.array(transactions.get("margin")[order]),
                    "unit_id": _labels(customers.branch[who], branch_ids),
                    "category": _labels(transactions.get("category")[order], ctx.categories),
                }
            ),
        )
        offsets["transactions"] += count
        tally.count("transactions", count)
    if contacts.parts:
        order = np.argsort(contacts.get("at"), kind="stable")
        who = contacts.get("who")[order]
        count = len(order)
        behaviour = model.behaviour
        writers.write(
            FILE_NAMES["contacts"],
            pa.table(
                {
                    "contact_id": _ids("contacts", offsets["contacts"], count),
                    "customer_id": customer_ids.take(pa.array(who)),
                    "occurred_at": _timestamps(contacts.get("at")[order]),
                    "channel": _labels(
                        contacts.get("channel")[order], [c[0] for c in behaviour.contact_channels]
                    ),
                    "reason": _labels(
                        contacts.get("reason")[order], [r[0] for r in behaviour.contact_reasons]
                    ),
                    "cost": pa.array(contacts.get("cost")[order]),
                    "unit_id": _labels(customers.branch[who], branch_ids),
                    "resolved": pa.array(contacts.get("resolved")[order].astype(bool)),
                }
            ),
        )
        offsets["contacts"] += count
        tally.count("contacts", count)


def _write_responses(
    writers: ParquetFiles,
    ctx: Context,
    rng: np.random.Generator,
    customers: Customers,
    customer_ids: pa.Array,
    offsets: dict[str, int],
    responses: Pieces,
    tally: Tally,
) -> None:
    model = ctx.model
    order = np.argsort(responses.get("at"), kind="stable")
    who = responses.get("who")[order]
    count = len(order)
    nps = responses.get("nps")[order]
    themes = responses.get("themes")[order]
    response_ids = _ids("responses", offsets["responses"], count)
    columns: dict[str, pa.Array] = {
        "response_id": response_ids,
        "submitted_at": _timestamps(responses.get("at")[order]),
        "unit_id": _labels(customers.branch[who], ctx.org.branch_ids),
        "customer_id": customer_ids.take(pa.array(who)),
        "touchpoint": _labels(responses.get("touchpoint")[order], model.touchpoint_names),
        "channel": _labels(responses.get("channel")[order], ctx.channels),
        "segment": _labels(customers.segment[who], model.segment_names),
        "nps": pa.array(nps),
        "csat": pa.array(responses.get("csat")[order]),
        "ces": pa.array(responses.get("ces")[order]),
        "comment": build_comments(rng, themes, tuple(t.theme for t in model.themes), nps_category(nps)),
    }
    items = responses.get("items")[order]
    skipped = responses.get("skipped")[order]
    for k, item in enumerate(model.item_names):
        columns[f"q_{item}"] = pa.array(items[:, k], mask=skipped[:, k])
    writers.write(FILE_NAMES["responses"], pa.table(columns))

    row, theme = np.nonzero(themes)
    writers.write(
        THEMES_FILE,
        pa.table(
            {
                "response_id": response_ids.take(pa.array(row)),
                "theme": _labels(theme, [t.theme for t in model.themes]),
            }
        ),
    )
    offsets["responses"] += count
    tally.count("responses", count)
    tally.count("comments", count - columns["comment"].null_count)
