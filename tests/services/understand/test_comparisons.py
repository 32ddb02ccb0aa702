"""Estimates and comparisons from sufficient statistics: scales, nested differences, targets, leagues."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from cxloop import stats
from cxloop.services.understand.comparisons import (
    estimate,
    league_ranks,
    nested_difference,
    target_test,
    two_sample_test,
)


def nps_stats(detractors, passives, promoters):
    d, pa, pr = (np.asarray(x, dtype=float) for x in (detractors, passives, promoters))
    return {"nps_n": d + pa + pr, "nps_detractors": d, "nps_passives": pa, "nps_promoters": pr}


def rating_stats(metric, values_per_cell, top):
    n = np.array([len(v) for v in values_per_cell], dtype=float)
    total = np.array([sum(v) for v in values_per_cell], dtype=float)
    total_sq = np.array([sum(x * x for x in v) for v in values_per_cell], dtype=float)
    hits = np.array([sum(x >= top for x in v) for v in values_per_cell], dtype=float)
    name = "csat_top2" if metric == "csat" else "ces_easy"
    return {f"{metric}_n": n, name: hits, f"{metric}_sum": total, f"{metric}_sumsq": total_sq}


def test_scales():
    nps = estimate("nps", nps_stats([20], [30], [50]), 0.95)
    assert nps.estimate[0] == pytest.approx(30.0)
    csat = estimate("csat", rating_stats("csat", [[5, 4, 2, 1]], 4), 0.95)
    assert csat.estimate[0] == pytest.approx(50.0)
    assert 0 <= csat.ci_low[0] < 50 < csat.ci_high[0] <= 100
    ces = estimate("ces", rating_stats("ces", [[7, 5, 3]], 5), 0.95)
    assert ces.estimate[0] == pytest.approx(5.0)
    with pytest.raises(ValueError, match="unknown metric"):
        estimate("effort", {}, 0.95)


def test_nested_difference_tests_against_the_rest():
    rng = np.random.default_rng(3)
    unit = nps_stats(*rng.integers(5, 60, size=(3, 6)))
    rest = nps_stats(*rng.integers(5, 60, size=(3, 6)))
    group = {k: unit[k] + rest[k] for k in unit}
    nested = nested_difference("nps", unit, group, 0.95)
    direct = two_sample_test("nps", unit, rest, 0.95)
    unit_est = estimate("nps", unit, 0.95).estimate
    group_est = estimate("nps", group, 0.95).estimate
    share = unit["nps_n"] / group["nps_n"]
    np.testing.assert_allclose(nested.difference, unit_est - group_est)
    np.testing.assert_allclose(nested.difference, (1 - share) * direct.difference, rtol=1e-9)
    np.testing.assert_allclose(nested.se, (1 - share) * direct.se)
    np.testing.assert_allclose(nested.p_value, direct.p_value)


def test_nested_difference_without_a_rest_has_no_test():
    unit = nps_stats([5], [5], [10])
    result = nested_difference("nps", unit, unit, 0.95)
    assert result.difference[0] == 0 and np.isnan(result.p_value[0]) and np.isnan(result.se[0])


def test_target_tests():
    s = nps_stats([20], [30], [50])
    est = estimate("nps", s, 0.95)
    plain = stats.nps(20, 30, 50, method="wald")
    result = target_test("nps", est, s["nps_n"], 20.0)
    assert result.difference[0] == pytest.approx(10.0)
    assert result.p_value[0] == pytest.approx(2 * sps.norm.sf(10.0 / plain.se))
    ces = rating_stats("ces", [[7, 6, 6, 5, 7, 6]], 5)
    ces_est = estimate("ces", ces, 0.95)
    t = (ces_est.estimate[0] - 5.0) / ces_est.se[0]
    result = target_test("ces", ces_est, ces["ces_n"], 5.0)
    assert result.p_value[0] == pytest.approx(2 * sps.t.sf(t, 5))
    same = target_test(
        "ces", estimate("ces", rating_stats("ces", [[6, 6, 6]], 5), 0.95), np.array([3.0]), 6.0
    )
    assert same.p_value[0] == pytest.approx(1.0)  # zero spread, on target
    off = target_test("ces", estimate("ces", rating_stats("ces", [[6, 6, 6]], 5), 0.95), np.array([3.0]), 5.0)
    assert off.p_value[0] == 0.0  # zero spread, off target


def test_league_ranks_and_intervals():
    # a is clearly ahead of b and c; b and c are the same
    members = nps_stats([0, 40, 40], [0, 20, 20], [100, 40, 40])
    ranks = league_ranks("nps", members, 0.95)
    assert ranks.rank.tolist() == [1, 2, 2]
    assert ranks.rank_low.tolist() == [1, 2, 2]
    assert ranks.rank_high.tolist() == [1, 3, 3]
    assert ranks.pairs == 3


def test_league_of_one_and_indistinguishable_members():
    one = league_ranks("nps", nps_stats([3], [3], [4]), 0.95)
    assert one.rank.tolist() == [1] and one.pairs == 0
    close = league_ranks("csat", rating_stats("csat", [[5, 4, 3, 2, 5], [4, 4, 3, 2, 5]], 4), 0.95)
    assert close.rank_low.tolist() == [1, 1] and close.rank_high.tolist() == [2, 2]


def test_many_leagues_at_once_equal_one_league_at_a_time():
    rng = np.random.default_rng(5)
    size = 40
    members = nps_stats(*rng.integers(0, 80, size=(3, size)))
    leagues = rng.integers(0, 7, size)
    together = league_ranks("nps", members, 0.95, leagues)
    pairs = 0
    for league in np.unique(leagues):
        idx = np.flatnonzero(leagues == league)
        alone = league_ranks("nps", {k: v[idx] for k, v in members.items()}, 0.95)
        assert together.rank[idx].tolist() == alone.rank.tolist()
        assert together.rank_low[idx].tolist() == alone.rank_low.tolist()
        assert together.rank_high[idx].tolist() == alone.rank_high.tolist()
        assert (together.league_size[idx] == len(idx)).all()
        pairs += alone.pairs
    assert together.pairs == pairs
    assert (together.rank_low <= together.rank).all() and (together.rank <= together.rank_high).all()
