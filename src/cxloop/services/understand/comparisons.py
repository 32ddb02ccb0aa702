"""From sufficient statistics to answers: estimates, differences, tests against a target, league ranks.

Each headline metric is reported on one scale, with the estimator from :mod:`cxloop.stats`:

======  ===============================================  ==================================
metric  estimate                                         interval
======  ===============================================  ==================================
nps     promoters % - detractors %, -100..100            adjusted Wald (Rocks 2016)
csat    % satisfied (top-2-box, 4-5 on 1-5), 0..100      Wilson (1927)
ces     mean effort score, 1-7, higher = easier          Student t
======  ===============================================  ==================================

Differences between two independent samples use the matching two-sample test (NPS: Rocks' z test;
CSAT: two-proportion z test; CES: Welch's t test). A unit against a group that contains it (its parent,
the company) is tested against *the rest* of that group, which is independent of it; the difference
reported is still unit - group, which equals ``(1 - w) * (unit - rest)`` with ``w`` the unit's share of
the group's responses, and its standard error is scaled the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

from cxloop import stats
from cxloop.warehouse.queries.cube import STATISTICS

__all__ = [
    "METRIC_LABELS",
    "Estimates",
    "LeagueRanks",
    "Test",
    "estimate",
    "league_ranks",
    "nested_difference",
    "target_test",
    "two_sample_test",
]

Array = NDArray[np.float64]
Stats = Mapping[str, Array]

#: How each metric's estimate reads.
METRIC_LABELS: dict[str, str] = {
    "nps": "NPS: % promoters (9-10) - % detractors (0-6), -100..100, adjusted-Wald interval",
    "csat": "CSAT: % satisfied (4-5 on 1-5), 0..100, Wilson interval",
    "ces": "CES: mean effort score on 1-7 (higher = easier), t interval",
}


@dataclass(frozen=True)
class Estimates:
    """Estimate, standard error and interval per cell (NaN where a cell has no responses)."""

    estimate: Array
    se: Array
    ci_low: Array
    ci_high: Array


@dataclass(frozen=True)
class Test:
    """A difference per cell with its standard error and two-sided p-value (NaN: no test possible)."""

    difference: Array
    se: Array
    p_value: Array


def _nps(s: Stats, confidence: float) -> stats.NPSResult:
    return stats.nps(s["nps_detractors"], s["nps_passives"], s["nps_promoters"], confidence)


def _csat(s: Stats, confidence: float) -> stats.ProportionResult:
    return stats.csat(s["csat_n"], s["csat_top2"], s["csat_sum"], s["csat_sumsq"], confidence).top_box


def _ces(s: Stats, confidence: float) -> stats.MeanResult:
    return stats.ces(s["ces_n"], s["ces_easy"], s["ces_sum"], s["ces_sumsq"], confidence).mean


def _check(metric: str) -> None:
    if metric not in STATISTICS:
        raise ValueError(f"unknown metric {metric!r}; use one of {', '.join(STATISTICS)}")


def _arrays(*values: object) -> list[Array]:
    return [np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in values]


def estimate(metric: str, s: Stats, confidence: float) -> Estimates:
    """The metric's estimate, standard error and interval for every cell of ``s``."""
    _check(metric)
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "nps":
            r = _nps(s, confidence)
            values = _arrays(r.score, r.se, r.ci_low, r.ci_high)
        elif metric == "csat":
            p = _csat(s, confidence)
            values = [100.0 * v for v in _arrays(p.share, p.se, p.ci_low, p.ci_high)]
        else:
            m = _ces(s, confidence)
            values = _arrays(m.mean, m.se, m.ci_low, m.ci_high)
    return Estimates(*values)


def two_sample_test(metric: str, a: Stats, b: Stats, confidence: float) -> Test:
    """Difference ``a - b`` between independent samples, cell by cell, with its test."""
    _check(metric)
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "nps":
            d = stats.nps_difference(_nps(a, confidence), _nps(b, confidence), confidence)
            difference, se, p = _arrays(d.difference, d.se, d.p_value)
        elif metric == "csat":
            pd_ = stats.proportion_difference(_csat(a, confidence), _csat(b, confidence), confidence)
            difference, se, p = _arrays(pd_.difference, pd_.se, pd_.p_value)
            difference, se = 100.0 * difference, 100.0 * se
        else:
            md = stats.mean_difference(_ces(a, confidence), _ces(b, confidence), confidence)
            difference, se, p = _arrays(md.difference, md.se, md.p_value)
    return Test(difference=difference, se=se, p_value=p)


def _n(metric: str, s: Stats) -> Array:
    return np.asarray(s[f"{metric}_n"], dtype=np.float64)


def nested_difference(metric: str, unit: Stats, group: Stats, confidence: float) -> Test:
    """Difference ``unit - group`` for a unit inside the group (its parent, the company).

    The test compares the unit with the rest of the group (``group - unit``, an independent sample); the
    difference is the observed unit estimate minus the group estimate, and its standard error is the
    rest-test's scaled by ``1 - w``, ``w = n_unit / n_group``. Where the rest is empty there is no test.
    """
    # Clipped at 0: where the caller has no group for a cell it passes zeros, and scores are non-negative.
    rest = {key: np.maximum(np.asarray(group[key], dtype=np.float64) - unit[key], 0.0) for key in group}
    test = two_sample_test(metric, unit, rest, confidence)
    unit_est = estimate(metric, unit, confidence).estimate
    group_est = estimate(metric, group, confidence).estimate
    with np.errstate(divide="ignore", invalid="ignore"):
        share = _n(metric, unit) / _n(metric, group)
    has_rest = _n(metric, rest) > 0
    return Test(
        difference=unit_est - group_est,
        se=np.where(has_rest, (1.0 - share) * test.se, np.nan),
        p_value=np.where(has_rest, test.p_value, np.nan),
    )


def target_test(metric: str, est: Estimates, n: Array, target: ArrayLike) -> Test:
    """Difference from a target (one for all cells, or one per cell) with a two-sided one-sample test.

    NPS and CSAT: z test with the estimate's standard error. CES: t test with ``n - 1`` degrees of
    freedom. A cell whose standard error is 0 (every answer the same) is significant unless it sits
    exactly on the target.
    """
    _check(metric)
    difference = est.estimate - np.asarray(target, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = np.where(est.se > 0, difference / est.se, np.where(difference == 0, 0.0, np.inf))
        if metric == "ces":
            p = 2.0 * sps.t.sf(np.abs(statistic), np.asarray(n, dtype=np.float64) - 1.0)
        else:
            p = 2.0 * sps.norm.sf(np.abs(statistic))
    p = np.where(np.isnan(difference) | np.isnan(est.se), np.nan, p)
    return Test(difference=difference, se=est.se.copy(), p_value=np.asarray(p, dtype=np.float64))


@dataclass(frozen=True)
class LeagueRanks:
    """Rank of each member in its league (1 = highest estimate) and the range it could plausibly take."""

    rank: NDArray[np.int64]
    rank_low: NDArray[np.int64]
    rank_high: NDArray[np.int64]
    league_size: NDArray[np.int64]
    pairs: int


@functools.lru_cache(maxsize=64)
def _upper_pairs(size: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``np.triu_indices(size, k=1)``, made once per league size (leagues of one query mostly share it)."""
    i, j = np.triu_indices(size, k=1)
    i.flags.writeable = False
    j.flags.writeable = False
    return i, j


def _pairs_within(league: NDArray[np.int64], members: NDArray[np.int64]) -> tuple[np.ndarray, ...]:
    """Every pair of ``members`` that share a league: first index, second index, their league."""
    firsts, seconds, leagues = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    if members.size == 0:
        return firsts[0], seconds[0], leagues[0]
    order = members[np.argsort(league[members], kind="stable")]
    grouped = league[order]
    bounds = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1], True])
    for start, stop in zip(bounds[:-1], bounds[1:], strict=True):
        i, j = _upper_pairs(int(stop - start))
        firsts.append(order[start + i])
        seconds.append(order[start + j])
        leagues.append(np.full(i.size, grouped[start]))
    return np.concatenate(firsts), np.concatenate(seconds), np.concatenate(leagues)


def league_ranks(
    metric: str, members: Stats, confidence: float, leagues: ArrayLike | None = None
) -> LeagueRanks:
    """Ranks with intervals for members of leagues (sibling units in one slice), all leagues at once.

    ``rank`` is 1 + the members of the same league with a strictly higher estimate. The interval comes
    from every pairwise test between members of a league, Benjamini-Hochberg corrected within each league
    at ``1 - confidence``: ``rank_low`` is 1 + the members significantly above, ``rank_high`` the league
    size minus the members significantly below. Members with no estimate get rank 0 and are left out.

    Parameters
    ----------
    metric : str
        ``nps``, ``csat`` or ``ces``.
    members : mapping of str to array
        Sufficient statistics of every member, one element each.
    confidence : float
        Confidence level; the false discovery rate is ``1 - confidence``.
    leagues : array_like of int, optional
        League of each member (default: all in one league).
    """
    est = estimate(metric, members, confidence).estimate
    size = est.shape[0]
    league = np.zeros(size, np.int64) if leagues is None else np.asarray(leagues, dtype=np.int64)
    ok = ~np.isnan(est)
    i, j, pair_league = _pairs_within(league, np.flatnonzero(ok))
    rank = np.where(ok, 1, 0).astype(np.int64)
    np.add.at(rank, i[est[j] > est[i]], 1)
    np.add.at(rank, j[est[i] > est[j]], 1)
    league_size = np.where(ok, np.bincount(league[ok], minlength=league.max(initial=0) + 1)[league], 0)
    a = {key: np.asarray(v, dtype=np.float64)[i] for key, v in members.items()}
    b = {key: np.asarray(v, dtype=np.float64)[j] for key, v in members.items()}
    test = two_sample_test(metric, a, b, confidence)
    reject = np.zeros(i.size, dtype=bool)
    tested = 0
    for one in np.unique(pair_league):
        pairs = pair_league == one
        corrected = stats.benjamini_hochberg(test.p_value[pairs], alpha=1.0 - confidence)
        reject[pairs] = corrected.reject
        tested += corrected.n_tests
    above = np.zeros(size, dtype=np.int64)  # members significantly above each one
    below = np.zeros(size, dtype=np.int64)
    i_better = reject & (test.difference > 0)
    j_better = reject & (test.difference < 0)
    np.add.at(above, j[i_better], 1)
    np.add.at(below, i[i_better], 1)
    np.add.at(above, i[j_better], 1)
    np.add.at(below, j[j_better], 1)
    rank_low = np.where(ok, 1 + above, 0)
    rank_high = np.where(ok, league_size - below, 0)
    return LeagueRanks(
        rank=rank, rank_low=rank_low, rank_high=rank_high, league_size=league_size, pairs=tested
    )
