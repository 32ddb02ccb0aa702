"""Sufficient statistics of key-driver analysis in the engine equal numpy/pandas on the same rows."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cxloop.warehouse.connection import connect_spark, connect_url
from cxloop.warehouse.derived.response_items import BASE_COLUMNS
from cxloop.warehouse.outcomes import observation_end, with_outcomes
from cxloop.warehouse.queries.driver_stats import (
    DriverScope,
    driver_items,
    driver_moments,
    driver_moments_by,
    driver_patterns,
    item_means,
)
from cxloop.warehouse.schemas import TABLES

ITEMS = ("wait", "staff", "price")
BRANCHES = {"b1": "r1", "b2": "r1", "b3": "r2"}
START = datetime(2025, 1, 1)


def _frames(n: int = 1500, seed: int = 1) -> dict[str, pd.DataFrame]:
    """A small company: root > r1 (b1, b2), r2 (b3); responses with three items, purchases, contracts."""
    rng = np.random.default_rng(seed)
    units = pd.DataFrame(
        {
            "unit_id": ["root", "r1", "r2", "b1", "b2", "b3"],
            "parent_id": [None, "root", "root", "r1", "r1", "r2"],
            "name": ["Root", "R1", "R2", "B1", "B2", "B3"],
            "level": ["company", "region", "region", "branch", "branch", "branch"],
            "depth": [0, 1, 1, 2, 2, 2],
        }
    )
    ancestors = {"root": [], "r1": ["root"], "r2": ["root"], "b1": ["r1", "root"], "b2": ["r1", "root"]}
    ancestors["b3"] = ["r2", "root"]
    pairs = [(u, u, 0) for u in ancestors] + [
        (a, u, d + 1) for u, above in ancestors.items() for d, a in enumerate(above)
    ]
    closure = pd.DataFrame(pairs, columns=["ancestor_id", "unit_id", "distance"])
    unit_of = rng.choice(sorted(BRANCHES), n)
    x = rng.integers(1, 11, size=(n, len(ITEMS))).astype(float)
    x[unit_of == "b2", 0] = np.clip(x[unit_of == "b2", 0] - 3, 1, 10)  # branch b2 keeps customers waiting
    nps = np.clip(np.round(0.5 * x[:, 0] + 0.3 * x[:, 1] + 0.1 * x[:, 2] + rng.normal(0, 1.5, n) - 1), 0, 10)
    customers = [f"C{i % 300:03d}" for i in range(n)]
    responses = pd.DataFrame(
        {
            "response_id": [f"R{i:05d}" for i in range(n)],
            "submitted_at": [START + timedelta(days=int(d), hours=9) for d in rng.integers(0, 365, n)],
            "unit_id": unit_of,
            "customer_id": [None if i % 97 == 0 else c for i, c in enumerate(customers)],
            "survey_id": "s1",
            "touchpoint": rng.choice(["branch", "app"], n),
            "channel": "web",
            "segment": rng.choice(["mass", "affluent"], n),
            "nps": np.where(rng.random(n) < 0.03, np.nan, nps),
            "csat": np.clip(np.round(nps / 2), 1, 5),
            "ces": 4.0,
            "comment": "",
        }
    )
    missing = rng.random((n, len(ITEMS))) < 0.05
    answers = pd.DataFrame(
        [
            (f"R{i:05d}", item, x[i, k])
            for i in range(n)
            for k, item in enumerate(ITEMS)
            if not missing[i, k] and i % 50 != 7  # every 50th response answered no item at all
        ],
        columns=["response_id", "item", "value"],
    )
    tx = []
    for c in sorted(set(customers)):
        for j in range(int(rng.integers(0, 9))):
            day = START + timedelta(days=int(rng.integers(-100, 520)), hours=12)
            tx.append((f"T{c}_{j}", c, day, float(rng.integers(10, 100)), 5.0, "b1", "loan"))
    transactions = pd.DataFrame(
        tx,
        columns=["transaction_id", "customer_id", "occurred_at", "amount", "margin", "unit_id", "category"],
    )
    subscribed = sorted(set(customers))[:120]
    ends = rng.integers(0, 700, len(subscribed))
    subscriptions = pd.DataFrame(
        {
            "subscription_id": [f"S{c}" for c in subscribed],
            "customer_id": subscribed,
            "plan": "basic",
            "started_at": [datetime(2024, 6, 1)] * len(subscribed),
            "ended_at": [START + timedelta(days=int(d)) if d < 450 else None for d in ends],
            "monthly_fee": 10.0,
            "unit_id": "b1",
        }
    )
    return {
        "units": units,
        "unit_closure": closure,
        "responses": responses,
        "answers": answers,
        "transactions": transactions,
        "subscriptions": subscriptions,
    }


def _load(con, frames: dict[str, pd.DataFrame]) -> None:
    for name, frame in frames.items():
        schema = TABLES[name].schema
        rows = pa.Table.from_pandas(
            frame[list(schema.names)], schema=schema.to_pyarrow(), preserve_index=False
        )
        if con.name == "pyspark":
            # through Python rows: pandas would turn a missing string into the text "NaN" on the way to Spark
            from ibis.backends.pyspark.datatypes import PySparkSchema

            spark = con._session
            spark.createDataFrame(rows.to_pylist(), PySparkSchema.from_ibis(schema)).createOrReplaceTempView(
                name
            )
        else:
            con.create_table(name, rows, overwrite=True)


@pytest.fixture(scope="module")
def frames() -> dict[str, pd.DataFrame]:
    return _frames()


@pytest.fixture
def spark_views(spark_session, frames):
    """The Spark session, for a test that loads ``frames`` as temporary views: dropped afterwards, since they
    are session-wide and would shadow the tables of a later module's Spark database (``units``, ``answers``:
    its inserts then fail with 'unresolved operator InsertIntoStatement')."""
    yield spark_session
    for name in (*frames, "response_items"):
        spark_session.catalog.dropTempView(name)


@pytest.fixture(scope="module")
def duck(frames):
    con = connect_url("duckdb://:memory:")
    _load(con, frames)
    return con


def _wide(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    wide = frames["answers"].pivot(index="response_id", columns="item", values="value")
    return frames["responses"].set_index("response_id").join(wide)


def _expected_rows(frames, units=None, segment=None) -> tuple[pd.DataFrame, int]:
    df = _wide(frames)
    if units is not None:
        df = df[df.unit_id.isin(units)]
    if segment is not None:
        df = df[df.segment == segment]
    return df[["nps", *ITEMS]].dropna(), len(df)


def _check_against_numpy(con, frames) -> None:
    moments = driver_moments(con, DriverScope(unit_id="r1", segments="mass"), ITEMS, "nps")
    rows, in_scope = _expected_rows(frames, units=["b1", "b2"], segment="mass")
    assert moments.n == len(rows)
    assert moments.n_responses == in_scope
    assert moments.n_dropped == in_scope - len(rows) > 0
    np.testing.assert_allclose(moments.correlation.to_numpy(), np.corrcoef(rows.to_numpy().T), atol=1e-10)
    np.testing.assert_allclose(moments.covariance.to_numpy(), np.cov(rows.to_numpy().T), rtol=1e-10)
    np.testing.assert_allclose(moments.mean.to_numpy(), rows.mean().to_numpy(), rtol=1e-12)


def test_correlation_matrix_equals_numpy_on_duckdb(duck, frames):
    _check_against_numpy(duck, frames)


@pytest.mark.spark
def test_correlation_matrix_equals_numpy_on_spark(spark_views, frames):
    con = connect_spark(spark_views)
    _load(con, frames)
    _check_against_numpy(con, frames)
    outcome = driver_moments(con, DriverScope(), ITEMS, ("nps", "repurchase_90d"))
    duck = connect_url("duckdb://:memory:")
    _load(duck, frames)
    expected = driver_moments(duck, DriverScope(), ITEMS, ("nps", "repurchase_90d"))
    assert outcome.n == expected.n
    np.testing.assert_allclose(outcome.cross, expected.cross, rtol=1e-12)


def test_whole_company_scope_and_several_outcomes(duck, frames):
    moments = driver_moments(duck, DriverScope(), ITEMS, ("nps", "nps_promoter", "nps_detractor"))
    df = _wide(frames)[["nps", *ITEMS]].dropna()
    assert moments.n == len(df)
    assert moments.names == ("nps", "nps_promoter", "nps_detractor", *ITEMS)
    assert moments.mean["nps_promoter"] == pytest.approx((df.nps >= 9).mean())
    assert moments.mean["nps_detractor"] == pytest.approx((df.nps <= 6).mean())
    corr = moments.for_outcome("nps")
    assert list(corr.columns) == ["nps", *ITEMS]
    slopes = moments.slopes("nps")
    design = np.column_stack([np.ones(len(df)), df[list(ITEMS)].to_numpy()])
    beta = np.linalg.lstsq(design, df.nps.to_numpy(), rcond=None)[0][1:]
    np.testing.assert_allclose(slopes.to_numpy(), beta, rtol=1e-9)


def test_date_and_touchpoint_filters(duck, frames):
    scope = DriverScope(touchpoints=["app"], start=date(2025, 3, 1), end=date(2025, 6, 30))
    moments = driver_moments(duck, scope, ITEMS, "nps")
    df = _wide(frames)
    df = df[(df.touchpoint == "app") & (df.submitted_at >= "2025-03-01") & (df.submitted_at < "2025-07-01")]
    assert moments.n_responses == len(df)
    assert moments.n == len(df[["nps", *ITEMS]].dropna())


def test_empty_scope_has_zero_n(duck):
    moments = driver_moments(duck, DriverScope(segments="nobody"), ITEMS, "nps")
    assert (moments.n, moments.n_responses) == (0, 0)
    with pytest.raises(ValueError, match="at least 2"):
        _ = moments.covariance


def test_refuses_outcome_named_as_item(duck):
    with pytest.raises(ValueError, match="both as outcome"):
        driver_moments(duck, DriverScope(), ("nps", "wait"), "nps")


def _reference_outcomes(frames) -> pd.DataFrame:
    """Behavioural outcomes response by response, in plain pandas, as documented in warehouse.outcomes."""
    resp, tx, subs = frames["responses"], frames["transactions"], frames["subscriptions"]
    end = max(tx.occurred_at.max(), subs.started_at.max(), subs.ended_at.max(), resp.submitted_at.max())
    out = {}
    for r in resp.itertuples():
        if pd.isna(r.customer_id):
            out[r.response_id] = (np.nan, np.nan, np.nan)
            continue
        t = tx[tx.customer_id == r.customer_id]
        delta = t.occurred_at - r.submitted_at
        after90 = (delta > pd.Timedelta(0)) & (delta <= pd.Timedelta(days=90))
        before90 = (delta <= pd.Timedelta(0)) & (delta > pd.Timedelta(days=-90))
        after180 = (delta > pd.Timedelta(0)) & (delta <= pd.Timedelta(days=180))
        s = subs[subs.customer_id == r.customer_id]
        horizon = r.submitted_at + pd.Timedelta(days=180)
        active = s[(s.started_at <= r.submitted_at) & (s.ended_at.isna() | (s.ended_at > r.submitted_at))]
        if len(active):
            still = active[active.ended_at.isna() | (active.ended_at > horizon)]
            new = s[(s.started_at > r.submitted_at) & (s.started_at <= horizon)]
            churn = float(len(still) == 0 and len(new) == 0)
        else:
            churn = float(after180.sum() == 0)
        repurchase = float(after90.any()) if r.submitted_at + pd.Timedelta(days=90) <= end else np.nan
        spend = t.amount[after90].sum() - t.amount[before90].sum()
        spend = spend if r.submitted_at + pd.Timedelta(days=90) <= end else np.nan
        out[r.response_id] = (repurchase, churn if horizon <= end else np.nan, spend)
    return pd.DataFrame.from_dict(
        out, orient="index", columns=["repurchase_90d", "churn_180d", "spend_change"]
    )


def test_behavioural_outcomes_match_pandas_reference(duck, frames):
    names = ("repurchase_90d", "churn_180d", "spend_change")
    table = with_outcomes(duck, duck.table("responses"), names)
    got = duck.execute(table).set_index("response_id").sort_index()[list(names)]
    expected = _reference_outcomes(frames).sort_index()
    pd.testing.assert_frame_equal(got, expected, check_names=False, check_dtype=False)
    # the outcomes vary, and censoring left some unknown
    assert 0 < got.repurchase_90d.mean() < 1 and 0 < got.churn_180d.mean() < 1
    assert got.churn_180d.isna().sum() > got.repurchase_90d.isna().sum() > 0


def test_observation_end_is_latest_event(duck, frames):
    subs = frames["subscriptions"]
    assert observation_end(duck) == max(frames["transactions"].occurred_at.max(), subs.ended_at.max())


def test_patterns_without_sampling_are_all_complete_rows(duck, frames):
    patterns = driver_patterns(duck, DriverScope(unit_id="r2"), ITEMS, "repurchase_90d")
    assert not patterns.sampled and patterns.fraction == 1.0
    assert patterns.n == patterns.n_complete
    assert list(patterns.frame.columns) == [*ITEMS, "repurchase_90d", "count"]
    assert set(patterns.frame.repurchase_90d) == {0.0, 1.0}
    reference = _wide(frames).join(_reference_outcomes(frames))
    reference = reference[reference.unit_id == "b3"][[*ITEMS, "repurchase_90d"]].dropna()
    assert patterns.n_complete == len(reference)
    assert (
        patterns.frame["repurchase_90d"].mul(patterns.frame["count"]).sum() == reference.repurchase_90d.sum()
    )


def test_patterns_sample_when_there_are_too_many_rows(duck):
    patterns = driver_patterns(duck, DriverScope(), ITEMS, "nps_promoter", max_rows=300, seed=3)
    assert patterns.sampled
    assert patterns.fraction == pytest.approx(300 / patterns.n_complete)
    assert 150 < patterns.n < 450  # Bernoulli sample around 300 of the complete rows


def test_item_means_by_unit_segment_touchpoint(duck, frames):
    df = _wide(frames)
    means = item_means(duck, DriverScope(), ITEMS, by="unit", groups=["r1", "b3"]).set_index(
        ["group", "item"]
    )
    assert means.loc[("r1", "wait"), "mean"] == pytest.approx(df[df.unit_id.isin(["b1", "b2"])].wait.mean())
    assert means.loc[("b3", "price"), "n"] == df[df.unit_id == "b3"].price.notna().sum()
    by_segment = item_means(duck, DriverScope(unit_id="r1"), ["staff"], by="segment").set_index("group")
    sub = df[df.unit_id.isin(["b1", "b2"])]
    assert by_segment.loc["mass", "mean"] == pytest.approx(sub[sub.segment == "mass"].staff.mean())
    by_tp = item_means(duck, DriverScope(), ["staff"], by="touchpoint", groups=["app"])
    assert list(by_tp.group) == ["app"]


def test_driver_items_lists_answered_items(duck):
    assert driver_items(duck) == sorted(ITEMS)
    assert driver_items(duck, DriverScope(segments="nobody")) == []


def _spark_ddl(schema: pa.Schema) -> str:
    kinds = {pa.string(): "string", pa.timestamp("us"): "timestamp"}
    return ", ".join(f"`{f.name}` {kinds.get(f.type, 'double')}" for f in schema)


def _with_wide_table(con, frames) -> None:
    """The response_items table as the importer maintains it (one row per response, q_<item> columns)."""
    wide = frames["answers"].pivot(index="response_id", columns="item", values="value").add_prefix("q_")
    table = frames["responses"].set_index("response_id")[list(BASE_COLUMNS[1:])].join(wide).reset_index()
    schema = pa.schema(
        [TABLES["responses"].schema.to_pyarrow().field(c).with_nullable(True) for c in BASE_COLUMNS]
        + [pa.field(c, pa.float64()) for c in wide.columns]
    )
    rows = pa.Table.from_pandas(table[schema.names], schema=schema, preserve_index=False)
    if con.name == "pyspark":
        spark = con._session
        spark.createDataFrame(rows.to_pylist(), schema=_spark_ddl(schema)).createOrReplaceTempView(
            "response_items"
        )
    else:
        con.create_table("response_items", rows, overwrite=True)


SCOPES = [
    DriverScope(),
    DriverScope(unit_id="b3", segments="mass"),
    DriverScope(touchpoints="app", start=date(2025, 2, 1), end=date(2025, 9, 30)),
]
OUTCOMES = ("nps", "nps_promoter", "churn_180d")


def _assert_same_moments(a, b) -> None:
    assert (a.n, a.n_responses) == (b.n, b.n_responses)
    np.testing.assert_allclose(a.sums, b.sums, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(a.cross, b.cross, rtol=1e-12, atol=1e-9)
    if a.n > len(a.names):
        np.testing.assert_allclose(a.correlation, b.correlation, atol=1e-9)


def _check_wide_equals_long(con) -> None:
    end = observation_end(con)
    for scope in SCOPES:
        long = driver_moments(con, scope, ITEMS, OUTCOMES, end=end, source="answers")
        wide = driver_moments(con, scope, ITEMS, OUTCOMES, end=end, source="response_items")
        assert long.n > 0
        _assert_same_moments(wide, long)
    # many scopes in one grouped pass: each equals its own query
    grouped = driver_moments_by(con, DriverScope(), ITEMS, "nps", units=["root", "r1", "b3"], by="segment")
    assert set(grouped) == {(u, s) for u in ("root", "r1", "b3") for s in ("mass", "affluent")}
    for (unit, segment), moments in grouped.items():
        alone = driver_moments(
            con, DriverScope(unit_id=unit, segments=segment), ITEMS, "nps", source="answers"
        )
        _assert_same_moments(moments, alone)
    by_unit = driver_moments_by(
        con, DriverScope(touchpoints="app"), ITEMS, OUTCOMES, units=["r1", "r2"], end=end
    )
    assert set(by_unit) == {("r1",), ("r2",)}
    for (unit,), moments in by_unit.items():
        alone = driver_moments(
            con, DriverScope(unit_id=unit, touchpoints="app"), ITEMS, OUTCOMES, end=end, source="answers"
        )
        _assert_same_moments(moments, alone)
    long_grouped = driver_moments_by(
        con, DriverScope(unit_id="r1"), ITEMS, "nps", by="touchpoint", source="answers"
    )
    wide_grouped = driver_moments_by(con, DriverScope(unit_id="r1"), ITEMS, "nps", by="touchpoint")
    assert set(long_grouped) == set(wide_grouped) == {("app",), ("branch",)}
    for key, moments in wide_grouped.items():
        _assert_same_moments(moments, long_grouped[key])


def test_wide_response_items_table_gives_the_same_statistics(frames):
    con = connect_url("duckdb://:memory:")
    _load(con, frames)
    from_answers = driver_moments(con, DriverScope(unit_id="r1"), ITEMS, ("nps", "repurchase_90d"))
    _with_wide_table(con, frames)
    _check_wide_equals_long(con)
    # "auto" reads the wide table when it mirrors every response: an altered copy changes the result,
    # "answers" ignores it
    con.raw_sql("UPDATE response_items SET q_wait = 1")
    altered = driver_moments(con, DriverScope(unit_id="r1"), ITEMS, "nps")
    assert np.isnan(altered.correlation.loc["wait", "nps"])
    forced = driver_moments(
        con, DriverScope(unit_id="r1"), ITEMS, ("nps", "repurchase_90d"), source="answers"
    )
    np.testing.assert_allclose(forced.cross, from_answers.cross, rtol=1e-12)
    patterns = driver_patterns(
        con, DriverScope(), ("staff", "price"), "nps_promoter", source="response_items"
    )
    assert patterns.n == patterns.n_complete > 0
    with pytest.raises(ValueError, match="no response_items"):
        driver_moments(con, DriverScope(), ("wait", "nope"), "nps", source="response_items")
    # the items answered in a scope: the wide table's count per column == DISTINCT over answers
    for scope in (
        None,
        DriverScope(unit_id="r1"),
        DriverScope(segments="mass"),
        DriverScope(segments="nobody"),
    ):
        assert driver_items(con, scope, source="response_items") == driver_items(con, scope, source="answers")
    con.raw_sql("UPDATE response_items SET q_price = NULL")
    assert "price" not in driver_items(con)  # "auto" reads the wide table (which mirrors every response)
    assert "price" in driver_items(con, source="answers")
    # a wide table missing responses is not read by "auto" (it falls back to the pivot)
    con.raw_sql("DELETE FROM response_items WHERE response_id = 'R00003'")
    assert "price" in driver_items(con)
    fallback = driver_moments(con, DriverScope(unit_id="r1"), ITEMS, ("nps", "repurchase_90d"))
    np.testing.assert_allclose(fallback.cross, from_answers.cross, rtol=1e-12)


@pytest.mark.spark
def test_wide_table_equals_long_path_on_spark(spark_views, frames):
    con = connect_spark(spark_views)
    _load(con, frames)
    _with_wide_table(con, frames)
    _check_wide_equals_long(con)
    duck = connect_url("duckdb://:memory:")
    _load(duck, frames)
    _with_wide_table(duck, frames)
    for scope in SCOPES:
        _assert_same_moments(
            driver_moments(con, scope, ITEMS, OUTCOMES), driver_moments(duck, scope, ITEMS, OUTCOMES)
        )
