"""The KPI and value expressions give the same numbers on DuckDB and Spark (one definition, many engines)."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cxloop.warehouse.connection import connect_spark, connect_url
from cxloop.warehouse.queries.kpis import (
    customer_facts,
    kpi_statistics,
    penetration_counts,
    retention_counts,
    subscription_durations,
)
from cxloop.warehouse.queries.rfm import rfm_expression
from cxloop.warehouse.queries.value import (
    concentration_buckets,
    experience_outcomes,
    outcome_statistics,
    scored_customers,
    tiered_customers,
)
from cxloop.warehouse.schemas import TABLES
from cxloop.warehouse.tables import ensure_tables
from cxloop.warehouse.write.hierarchy import build_hierarchy, write_hierarchy
from support.value_world import UNITS, simulate

FACTS = ("customers", "transactions", "contacts", "responses", "subscriptions")
SUBTREE = {"north", "n1", "n2"}


def _customer_value(world) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    ids = world.customers.customer_id
    return pd.DataFrame(
        {
            "customer_id": ids,
            "scored_at": pd.Timestamp("2024-07-01"),
            "horizon": np.int32(12),
            "p_alive": rng.uniform(0, 1, len(ids)),
            "expected_purchases": rng.gamma(2, 1, len(ids)),
            "expected_spend": rng.gamma(2, 50, len(ids)),
            "clv": rng.gamma(2, 40, len(ids)),
            "value_tier": "middle",
        }
    )


def _tables(world) -> dict[str, pa.Table]:
    frames = {name: getattr(world, name) for name in FACTS}
    frames["customer_value"] = _customer_value(world)
    tables = {name: pa.Table.from_pandas(frame, preserve_index=False) for name, frame in frames.items()}
    tables = {
        name: t.select(TABLES[name].schema.names).cast(TABLES[name].schema.to_pyarrow())
        for name, t in tables.items()
    }
    ids, parents, names, levels = zip(*UNITS, strict=True)
    hierarchy = build_hierarchy(ids, parents, names, levels)
    tables["units"], tables["unit_closure"] = hierarchy.units, hierarchy.closure
    return tables


@pytest.fixture(scope="module")
def world():
    return simulate(n=300, seed=8)


def duckdb_warehouse(world):
    con = connect_url("duckdb://:memory:")
    ensure_tables(con)
    tables = _tables(world)
    ids, parents, names, levels = zip(*UNITS, strict=True)
    write_hierarchy(con, build_hierarchy(ids, parents, names, levels))
    for name in (*FACTS, "customer_value"):
        con.insert(name, tables[name].to_pandas())
    return con


class _Views:
    """The Spark backend with temporary views (named with a suffix) standing in for the warehouse."""

    def __init__(self, con, session, tables: dict[str, pa.Table], suffix: str) -> None:
        self._con, self._suffix = con, suffix
        for name, table in tables.items():
            session.createDataFrame(table).createOrReplaceTempView(f"{name}_{suffix}")

    def table(self, name: str):
        return self._con.table(f"{name}_{self._suffix}")

    def execute(self, expr):
        return self._con.execute(expr)


def _same(left: pd.DataFrame, right: pd.DataFrame, keys: list[str]) -> None:
    left = left.sort_values(keys).reset_index(drop=True)
    right = right.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right, check_dtype=False, check_exact=False, rtol=1e-9)


def _all_results(con) -> dict[str, tuple[pd.DataFrame, list[str]]]:
    facts = customer_facts(con, start=date(2023, 4, 1), end=date(2023, 9, 30), units=None)
    outcomes = experience_outcomes(con, as_of=date(2023, 9, 30), horizon_days=180, units=SUBTREE)
    summary = rfm_expression(con, calibration_end=date(2024, 6, 30), time_unit="week", units=SUBTREE)
    rfm = con.execute(summary)
    triples = rfm[["frequency", "recency", "T"]].drop_duplicates().reset_index(drop=True)
    triples["p_alive"] = 1 / (1 + triples.frequency)
    triples["expected_purchases"] = triples.frequency * 0.1 + 1
    triples["discounted_purchases"] = triples.expected_purchases * 0.9
    spend = pd.DataFrame({"frequency": np.unique(rfm.frequency)})
    spend["spend_intercept"], spend["spend_slope"] = 10.0, 0.5
    scores = scored_customers(summary, triples, spend, scored_at=datetime(2024, 7, 1), horizon=12)
    tiers = tiered_customers(con, units=SUBTREE)
    return {
        "kpis": (kpi_statistics(con, facts, units=None, by_segment=True), ["unit", "segment"]),
        "penetration": (penetration_counts(con, end=date(2023, 9, 30), units=SUBTREE), ["unit", "category"]),
        "retention": (retention_counts(con, as_of=date(2024, 6, 30), months=6, units=None), ["unit", "t"]),
        "outcomes": (outcome_statistics(con, outcomes, "nps_class"), ["nps_class"]),
        "scores": (con.execute(scores), ["customer_id"]),
        "concentration": (concentration_buckets(con, units=SUBTREE, buckets=10), ["bucket"]),
        "tiers": (con.execute(tiers), ["customer_id"]),
        "durations": (
            subscription_durations(con, as_of=date(2024, 3, 31), units=SUBTREE),
            ["periods_observed", "churned"],
        ),
    }


def test_duckdb_results_are_sane(world):
    results = _all_results(duckdb_warehouse(world))
    kpis = results["kpis"][0]
    bank = kpis[kpis.unit == "bank"]
    assert bank.customers.sum() == (world.customers.acquired_at < pd.Timestamp("2023-10-01")).sum()
    assert set(results["tiers"][0].tier) == {"top", "middle", "bottom"}
    assert results["concentration"][0].customers.sum() == (world.customers.unit_id.isin(SUBTREE)).sum()
    assert (results["scores"][0].clv > 0).all()
    durations = results["durations"][0]
    started = world.subscriptions[
        world.subscriptions.customer_id.isin(
            world.customers[world.customers.unit_id.isin(SUBTREE)].customer_id
        )
    ]
    assert durations.subscriptions.sum() == len(started)
    assert (
        durations[durations.churned == 1].subscriptions.sum()
        == (started.ended_at < pd.Timestamp("2024-04-01")).sum()
    )


@pytest.mark.spark
def test_spark_gives_the_same_numbers(spark_session, world):
    reference = _all_results(duckdb_warehouse(world))
    spark = _Views(connect_spark(spark_session), spark_session, _tables(world), "value_engines")
    results = _all_results(spark)
    for name, (frame, keys) in reference.items():
        _same(results[name][0], frame, keys)
