"""Priorities: importance x gap against a benchmark (target -> top quartile of peers -> parent -> company ->
best child), expected gains, plain-words reasons, scope and the benchmark policy."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_drivers_fixtures import ITEMS, build_company

from cxloop.services.access.scope import ScopeError, Viewer
from cxloop.services.understand.priorities import priorities


@pytest.fixture
def company(settings):
    return build_company(settings)


def _rows(frames, units) -> pd.DataFrame:
    wide = frames["answers"].pivot(index="response_id", columns="item", values="value")
    df = frames["responses"].set_index("response_id").join(wide)
    return df[df.unit_id.isin(units)]


def test_slow_branch_puts_wait_first_against_its_region(settings, company, stores_for):
    result = priorities(Viewer("root"), stores=stores_for(settings), unit_id="b2", outcome="nps")
    table = result.priorities.set_index("driver")
    # three branches are too few peers (CXLOOP_MIN_PEERS 5): the benchmark is the parent region r1's mean
    assert result.benchmark == "parent"
    assert list(result.priorities.driver)[0] == "wait"
    assert list(result.priorities["rank"]) == [1, 2, 3]
    region = _rows(company, ["b1", "b2"])[["nps", *ITEMS]].dropna()
    mine = _rows(company, ["b2"])[["nps", *ITEMS]].dropna()
    assert table.loc["wait", "benchmark"] == pytest.approx(region.wait.mean())
    assert (
        table.loc["wait", "benchmark_kind"] == "parent"
        and table.loc["wait", "benchmark_label"] == "your region"
    )
    # no peer group to measure the spread of drivers between units: the importances are b2's own
    assert result.shrinkage is None and (table.importance_basis == "own").all()
    assert table.loc["wait", "mean"] == pytest.approx(mine.wait.mean())
    assert table.loc["wait", "gap"] == pytest.approx(region.wait.mean() - mine.wait.mean())
    # expected NPS points: 100 x (promoter slope - detractor slope) x half the gap, from plain least squares
    design = np.column_stack([np.ones(len(mine)), mine[list(ITEMS)].to_numpy()])
    promoter = np.linalg.lstsq(design, (mine.nps >= 9).to_numpy(float), rcond=None)[0][1]
    detractor = np.linalg.lstsq(design, (mine.nps <= 6).to_numpy(float), rcond=None)[0][1]
    expected = 100 * (promoter - detractor) * 0.5 * table.loc["wait", "gap"]
    assert table.loc["wait", "expected_nps_points"] == pytest.approx(expected, rel=1e-8)
    assert expected > 0.5
    why = table.loc["wait", "why"]
    assert (
        why.startswith("Wait: ") and "at your region" in why and "NPS points" in why and why.count(". ") == 0
    )
    details = table.loc["wait", "details"]
    assert details.startswith("Wait explains ")
    assert "against" in details and "NPS points" in details and "First because" in details


def test_items_without_gap_rank_below_and_say_so(settings, company, stores_for):
    result = priorities(Viewer("root"), stores=stores_for(settings), unit_id="r1")
    table = result.priorities.set_index("driver")
    # every reason says where it stands and why it ranks there
    assert all(" of NPS here (" in w and "most important of 3)." in w for w in table.details)
    second = result.priorities.iloc[1]
    if second.gap > 0:
        assert f"Ranked 2nd: {result.priorities.label.iloc[0]} " in second.details
    zero = table[table.gap == 0]
    assert len(zero) >= 1
    assert (zero["rank"] > table.loc["wait", "rank"]).all()
    assert all("nothing to close" in w for w in zero.details)
    assert all("at or above" in w for w in zero.why)


def test_viewer_sees_only_their_subtree_and_peers(settings, company, stores_for):
    with pytest.raises(ScopeError):
        priorities(Viewer("b1"), stores=stores_for(settings), unit_id="b2")
    # a branch manager: r1 minus b2 is b1 alone (withheld: subtraction would reveal it), too few peers; the
    # company minus b2 is b1 and r2: its aggregate is the benchmark, named by level, and nothing of b1 leaks
    own = priorities(Viewer("b2"), stores=stores_for(settings))
    assert own.benchmark == "company"
    assert set(own.priorities.benchmark_label) == {"the company"}
    everything = _rows(company, ["b1", "b2", "b3"])[["nps", *ITEMS]].dropna()
    table = own.priorities.set_index("driver")
    assert table.loc["wait", "benchmark"] == pytest.approx(everything.wait.mean())
    text = json.dumps(own.to_dict())
    assert not any(leak in text for leak in ('"b1"', '"r1"', '"root"', "B1", "R1"))
    # a region manager: the company minus r1 is r2 alone, withheld; they measure against their best branch
    region = priorities(Viewer("r1"), stores=stores_for(settings))
    assert region.benchmark == "children"
    assert "your best branch" in region.priorities.benchmark_label.iloc[0]


def test_target_benchmark(settings, company, stores_for):
    result = priorities(
        Viewer("root"), stores=stores_for(settings), unit_id="r2", target={"wait": 9.0, "staff": 9.0}
    )
    table = result.priorities.set_index("driver")
    assert result.benchmark == "target"
    assert table.loc["wait", "benchmark"] == 9.0
    assert np.isnan(table.loc["price", "benchmark"])
    assert table.loc["price", "gap"] == 0
    assert "the target" in table.loc["wait", "why"]


def test_segment_scope_compares_with_other_segments(settings, company, stores_for):
    result = priorities(Viewer("root"), stores=stores_for(settings), unit_id="r1", segment="mass")
    rows = _rows(company, ["b1", "b2"])
    table = result.priorities.set_index("driver")
    affluent = rows[rows.segment == "affluent"]
    assert table.loc["staff", "benchmark"] == pytest.approx(affluent.staff.mean())
    assert set(result.priorities.benchmark_label) == {"segment affluent"}


def test_suppressed_and_json(settings, company, stores_for):
    strict = settings.model_copy(update={"min_n": 100_000})
    hidden = priorities(Viewer("root"), stores=stores_for(strict), unit_id="b1")
    assert hidden.suppressed and hidden.priorities.empty and hidden.n is None
    shown = priorities(Viewer("root"), stores=stores_for(settings), unit_id="b2")
    payload = json.loads(json.dumps(shown.to_dict()))
    assert payload["priorities"][0]["driver"] == "wait"
    assert payload["customers"] > 0 and payload["annual_margin"] > 0
    assert "NPS points" in shown.summary()


def test_nps_money_falls_back_to_churn_when_an_nps_class_is_too_small(settings, company, stores_for):
    # this company's NPS is low: one promoter among its customers, too few to value an NPS point (the
    # demo tests in test_drivers_demo.py check the NPS-point route against the ground truth)
    result = priorities(Viewer("root"), stores=stores_for(settings), unit_id="r1", outcome="nps", target=10.0)
    assert result.nps_point_value is None
    assert any("Too few customers in an NPS class" in note for note in result.notes)
    assert result.to_dict()["nps_point_value"] is None
    # the churn route still prices the gaps (its formula is checked in the next test)
    assert (result.priorities.expected_margin > 0).any()
    assert result.priorities.details.str.contains("margin kept through lower churn").any()


def test_money_is_churn_slope_times_half_gap_times_customer_margin(settings, company, stores_for):
    from test_driver_stats import _reference_outcomes

    # a target of 10 gives every item a gap, so every item's churn slope enters the money figure; for an
    # outcome other than NPS the money comes from the churn regression
    result = priorities(
        Viewer("root"), stores=stores_for(settings), unit_id="b1", outcome="csat", target=10.0
    )
    table = result.priorities.set_index("driver")
    assert (table.gap > 0).all() and (table.expected_margin > 0).any()
    rows = _rows(company, ["b1"]).join(_reference_outcomes(company))
    complete = rows[["nps", "churn_180d", *ITEMS]].dropna()
    churn_rows = rows[["churn_180d", *ITEMS]].dropna()
    design = np.column_stack([np.ones(len(churn_rows)), churn_rows[list(ITEMS)].to_numpy()])
    churn_slopes = dict(
        zip(ITEMS, np.linalg.lstsq(design, churn_rows.churn_180d.to_numpy(), rcond=None)[0][1:], strict=True)
    )
    tx = company["transactions"]
    end = max(tx.occurred_at.max(), company["subscriptions"].ended_at.max())
    customers = set(rows.customer_id.dropna())
    recent = tx[(tx.occurred_at > end - pd.Timedelta(days=365)) & (tx.occurred_at <= end)]
    margin = recent[recent.customer_id.isin(customers)].margin.sum()
    assert result.customers == len(customers)
    assert result.annual_margin == pytest.approx(margin)
    assert len(complete) > 0
    for item in ITEMS:
        expected = max(0.0, -churn_slopes[item] * 0.5 * table.loc[item, "gap"]) * margin
        assert table.loc[item, "expected_margin"] == pytest.approx(expected, rel=1e-8, abs=1e-9)


def test_priorities_across_segments_rank_every_segment_item_together(settings, company, stores_for):
    from cxloop.services.understand.priorities import priorities_across

    across = priorities_across(Viewer("root"), stores=stores_for(settings), by="segment", unit_id="r1")
    table = across.priorities
    assert set(table.segment) == {"mass", "affluent"}
    assert len(table) == 2 * len(ITEMS)
    assert list(table["rank"]) == list(range(1, len(table) + 1))
    assert table.score.is_monotonic_decreasing
    # each segment's rows are that segment's own priorities, with the segment named in the reason
    mass = priorities(Viewer("root"), stores=stores_for(settings), unit_id="r1", segment="mass").priorities
    got = table[table.segment == "mass"].set_index("driver")
    np.testing.assert_allclose(got.loc[mass.driver, "score"], mass.score.to_numpy())
    assert got.why.str.startswith("Segment mass: ").all()
    strict = settings.model_copy(update={"min_n": 100_000})
    hidden = priorities_across(Viewer("root"), stores=stores_for(strict), by="touchpoint", unit_id="r1")
    assert hidden.suppressed and "app" in hidden.notes[0]
    with pytest.raises(ScopeError):
        priorities_across(Viewer("r2"), stores=stores_for(settings), unit_id="r1")


def test_too_few_responses_per_driver_are_not_ranked(settings, company, stores_for):
    from datetime import date

    result = priorities(
        Viewer("root"),
        stores=stores_for(settings),
        unit_id="b1",
        start=date(2025, 3, 1),
        end=date(2025, 3, 10),
    )
    assert result.suppressed and result.priorities.empty
    assert result.notes[0].startswith("Not ranked:") and "per driver" in result.notes[0]
