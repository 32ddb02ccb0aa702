"""The demo files: canonical columns, valid values, referential integrity, determinism for a seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from cxloop.demo import DEFAULT_MODEL, KINDS, generate
from cxloop.demo.comments import PHRASES

CANONICAL = {
    "units": ["unit_id", "parent_id", "name", "level"],
    "customers": ["customer_id", "unit_id", "segment", "acquired_at", "acquisition_cost"],
    "responses": [
        "response_id",
        "submitted_at",
        "unit_id",
        "customer_id",
        "touchpoint",
        "channel",
        "segment",
        "nps",
        "csat",
        "ces",
        "comment",
    ],  # fmt: skip
    "transactions": [
        "transaction_id",
        "customer_id",
        "occurred_at",
        "amount",
        "margin",
        "unit_id",
        "category",
    ],
    "contacts": [
        "contact_id",
        "customer_id",
        "occurred_at",
        "channel",
        "reason",
        "cost",
        "unit_id",
        "resolved",
    ],
    "subscriptions": [
        "subscription_id",
        "customer_id",
        "plan",
        "started_at",
        "ended_at",
        "monthly_fee",
        "unit_id",
    ],
}


def test_files_have_the_canonical_columns_in_order(demo):
    items = [f"q_{item['item']}" for item in demo.truth["items"]]
    assert 8 <= len(items) <= 15
    for kind in KINDS:
        expected = CANONICAL[kind] + (items if kind == "responses" else [])
        assert list(demo[kind].columns) == expected, kind


def test_sizes_follow_the_scale(demo):
    counts = demo.dataset.counts
    assert counts["customers"] == round(DEFAULT_MODEL.customers_at_scale_1 * 0.2)
    # scale 1 is documented as about 100,000 responses
    assert 0.85 * 20_000 < counts["responses"] < 1.15 * 20_000
    assert counts["transactions"] > counts["responses"] > counts["contacts"] > 0
    assert {kind: len(demo[kind]) for kind in KINDS} == dict(counts)


def test_scores_are_on_their_scales(demo):
    responses = demo["responses"]
    for column, (low, high) in {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}.items():
        values = responses[column]
        assert values.notna().all()
        assert values.between(low, high).all()
        assert set(values.unique()) == set(range(low, high + 1)), column  # the whole scale is used
    items = responses.filter(like="q_")
    answered = items.stack().dropna()
    assert answered.between(1, 10).all() and (answered == answered.round()).all()
    # items are skipped at random, at the declared rate
    skipped = items.isna().to_numpy().mean()
    assert skipped == pytest.approx(DEFAULT_MODEL.experience.nonresponse_rate, abs=0.005)


def test_hierarchy_is_company_divisions_regions_branches(demo):
    units = demo["units"]
    levels = units.set_index("unit_id").level
    assert units.unit_id.is_unique
    assert list(units.level.drop_duplicates()) == ["company", "division", "region", "branch"]
    roots = units[units.parent_id.isna()]
    assert len(roots) == 1 and roots.level.item() == "company"
    parent_level = units.dropna(subset=["parent_id"]).parent_id.map(levels)
    child_level = units.dropna(subset=["parent_id"]).level
    order = ["company", "division", "region", "branch"]
    assert all(order.index(c) == order.index(p) + 1 for c, p in zip(child_level, parent_level, strict=True))
    assert demo.truth["hierarchy"]["branches"] == (units.level == "branch").sum()


def test_facts_point_at_branches_and_known_customers(demo):
    branches = set(demo["units"].query("level == 'branch'").unit_id)
    customers = demo["customers"].set_index("customer_id")
    assert customers.index.is_unique
    for kind in ("customers", "responses", "transactions", "contacts", "subscriptions"):
        assert set(demo[kind].unit_id) <= branches, kind
    for kind in ("responses", "transactions", "contacts", "subscriptions"):
        assert set(demo[kind].customer_id) <= set(customers.index), kind
        key = demo[kind].columns[0]
        assert demo[kind][key].is_unique, kind
    # a fact's unit is the customer's home branch, its segment the customer's segment
    responses = demo["responses"].join(customers, on="customer_id", suffixes=("", "_customer"))
    assert (responses.unit_id == responses.unit_id_customer).all()
    assert (responses.segment == responses.segment_customer).all()


def test_activity_lies_between_acquisition_and_churn(demo):
    window = demo.truth["window"]
    start, end = pd.Timestamp(window["start"]), pd.Timestamp(window["end"]) + pd.Timedelta(days=1)
    life = demo["subscriptions"].set_index("customer_id")[["started_at", "ended_at"]]
    assert life.ended_at.dropna().between(start, end).all()
    for kind, column in (
        ("responses", "submitted_at"),
        ("transactions", "occurred_at"),
        ("contacts", "occurred_at"),
    ):
        facts = demo[kind].join(life, on="customer_id")
        at = facts[column]
        assert at.between(start, end, inclusive="left").all(), kind
        assert (at >= facts.started_at).all(), kind
        assert (facts.ended_at.isna() | (at < facts.ended_at)).all(), kind


def test_comments_are_written_from_their_themes(demo):
    responses = demo["responses"].set_index("response_id")
    themes = demo["themes"]
    assert set(themes.theme) == set(PHRASES)
    commented = responses.loc[themes.response_id, "comment"]
    assert commented.notna().all()
    for theme, comment in zip(themes.theme, commented, strict=True):
        assert any(phrase in comment for phrase in PHRASES[theme]), (theme, comment)
    without_theme = responses.drop(index=themes.response_id.unique()).comment.dropna()
    all_phrases = [p for phrases in PHRASES.values() for p in phrases]
    assert not any(p in c for c in without_theme.head(500) for p in all_phrases)


def _frames(directory: Path) -> dict[str, pd.DataFrame]:
    return {kind: pd.read_parquet(directory / f"{kind}.parquet") for kind in KINDS}


def test_a_seed_gives_identical_files_and_another_seed_differs(tmp_path):
    first = generate(tmp_path / "a", scale=0.02, seed=5)
    second = generate(tmp_path / "b", scale=0.02, seed=5)
    other = generate(tmp_path / "c", scale=0.02, seed=6)
    for kind in KINDS:
        assert first.files[kind].read_bytes() == second.files[kind].read_bytes(), kind
    assert first.themes.read_bytes() == second.themes.read_bytes()
    assert first.truth() == second.truth()
    a, c = _frames(tmp_path / "a"), _frames(tmp_path / "c")
    assert not a["responses"].equals(c["responses"])
    assert not a["customers"].acquisition_cost.equals(c["customers"].acquisition_cost)
    assert first.truth()["seed"] == 5 and other.truth()["seed"] == 6


def test_chunks_are_row_groups_and_ids_stay_unique(tmp_path):
    dataset = generate(tmp_path, scale=0.05, seed=3, chunk_customers=300)
    metadata = pq.ParquetFile(dataset.files["responses"]).metadata
    assert metadata.num_row_groups == int(np.ceil(1000 / 300))
    frames = _frames(tmp_path)
    for kind in KINDS:
        key = frames[kind].columns[0]
        assert frames[kind][key].is_unique, kind
    assert set(frames["responses"].customer_id) <= set(frames["customers"].customer_id)


def test_ground_truth_is_plain_json_with_the_run_settings(demo):
    truth = json.loads(demo.dataset.ground_truth.read_text(encoding="utf-8"))
    assert truth["seed"] == 11 and truth["scale"] == 0.2
    assert truth["window"] == {"start": "2024-10-01", "end": "2026-09-30", "months": 24}
    assert set(truth["files"]) == set(KINDS)
    assert truth["counts"]["responses"] == len(demo["responses"])


def test_rejects_a_non_positive_scale(tmp_path):
    with pytest.raises(ValueError, match="scale"):
        generate(tmp_path, scale=0)
