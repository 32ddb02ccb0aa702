"""Invariants of cxloop.stats checked with hypothesis (derandomized: the same examples every run)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as hs

import cxloop.stats as st

# Derandomized so a run is reproducible; no deadline (no wall-clock limits in unit tests).
settings.register_profile("cxloop-stats", derandomize=True, deadline=None, max_examples=150)
PROFILE = settings.get_profile("cxloop-stats")

counts = hs.integers(min_value=0, max_value=5_000)
positive = hs.integers(min_value=1, max_value=5_000)
confidences = hs.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99, 0.999])
nps_methods = hs.sampled_from(["wald", "adjusted_wald"])
scales = hs.integers(min_value=2, max_value=50)
EPS = 1e-9


@hs.composite
def nonempty_trinomial(draw: hs.DrawFn) -> tuple[int, int, int]:
    d, pa, pr = draw(counts), draw(counts), draw(counts)
    if d + pa + pr == 0:
        pr = 1
    return d, pa, pr


@hs.composite
def binomial(draw: hs.DrawFn) -> tuple[int, int]:
    n = draw(positive)
    return draw(hs.integers(min_value=0, max_value=n)), n


# --- NPS --------------------------------------------------------------------------------------


@PROFILE
@given(nonempty_trinomial(), confidences, nps_methods)
# Where Rocks' adjusted interval alone would miss the observed score (it is centred on the
# adjusted one): a single promoter, and a unanimous cell at a low confidence level.
@example((0, 0, 1), 0.95, "adjusted_wald")
@example((10, 0, 0), 0.5, "adjusted_wald")
def test_nps_lies_in_range_and_inside_its_interval(
    trinomial: tuple[int, int, int], confidence: float, method: st.NPSMethod
) -> None:
    r = st.nps(*trinomial, confidence=confidence, method=method)
    assert -100 <= r.ci_low <= r.score <= r.ci_high <= 100
    assert r.se >= 0
    assert r.n == sum(trinomial)


@PROFILE
@given(nonempty_trinomial(), scales, nps_methods)
def test_nps_interval_shrinks_as_n_grows_with_the_same_shares(
    trinomial: tuple[int, int, int], k: int, method: st.NPSMethod
) -> None:
    small = st.nps(*trinomial, method=method)
    large = st.nps(*(k * c for c in trinomial), method=method)
    assert large.score == pytest.approx(small.score)
    assert large.se <= small.se + EPS
    assert large.ci_high - large.ci_low <= small.ci_high - small.ci_low + EPS


@PROFILE
@given(nonempty_trinomial(), nps_methods)
def test_nps_interval_widens_with_confidence(trinomial: tuple[int, int, int], method: st.NPSMethod) -> None:
    narrow = st.nps(*trinomial, confidence=0.8, method=method)
    wide = st.nps(*trinomial, confidence=0.99, method=method)
    assert wide.ci_low <= narrow.ci_low + EPS
    assert wide.ci_high >= narrow.ci_high - EPS


@PROFILE
@given(nonempty_trinomial(), nps_methods)
def test_swapping_promoters_and_detractors_mirrors_the_result(
    trinomial: tuple[int, int, int], method: st.NPSMethod
) -> None:
    d, pa, pr = trinomial
    r = st.nps(d, pa, pr, method=method)
    mirrored = st.nps(pr, pa, d, method=method)
    assert mirrored.score == pytest.approx(-r.score, abs=EPS)
    assert mirrored.se == pytest.approx(r.se, abs=EPS)
    assert mirrored.ci_low == pytest.approx(-r.ci_high, abs=1e-7)
    assert mirrored.ci_high == pytest.approx(-r.ci_low, abs=1e-7)


@PROFILE
@given(nonempty_trinomial(), confidences, nps_methods)
def test_difference_of_identical_groups_is_not_significant(
    trinomial: tuple[int, int, int], confidence: float, method: st.NPSMethod
) -> None:
    a = st.nps(*trinomial, confidence=confidence)
    d = st.nps_difference(a, a, method=method)
    assert d.difference == 0
    assert d.z == 0
    assert d.p_value == 1
    assert d.ci_low <= 0 <= d.ci_high


@PROFILE
@given(nonempty_trinomial(), nonempty_trinomial(), nps_methods)
def test_nps_difference_is_antisymmetric_and_p_value_valid(
    x: tuple[int, int, int], y: tuple[int, int, int], method: st.NPSMethod
) -> None:
    a, b = st.nps(*x), st.nps(*y)
    ab = st.nps_difference(a, b, method=method)
    ba = st.nps_difference(b, a, method=method)
    assert ab.difference == pytest.approx(-ba.difference, abs=EPS)
    assert ab.z == pytest.approx(-ba.z, abs=1e-7)
    assert ab.p_value == pytest.approx(ba.p_value, abs=1e-12)
    assert 0 <= ab.p_value <= 1
    assert -200 <= ab.ci_low <= ab.difference <= ab.ci_high <= 200
    # A two-sided test rejects at level 1 - confidence exactly when its interval excludes 0 (Wald).
    if method == "wald" and np.isfinite(ab.z) and ab.se > 0:
        assert (ab.p_value < 0.05) == (ab.ci_low > 0 or ab.ci_high < 0)


@PROFILE
@given(hs.lists(nonempty_trinomial(), min_size=1, max_size=30), nps_methods)
def test_nps_vectorised_equals_cell_by_cell(cells: list[tuple[int, int, int]], method: st.NPSMethod) -> None:
    d, pa, pr = (np.array(column) for column in zip(*cells, strict=True))
    vector = st.nps(d, pa, pr, method=method)
    for i, cell in enumerate(cells):
        one = st.nps(*cell, method=method)
        assert vector.score[i] == one.score
        assert vector.ci_low[i] == one.ci_low
        assert vector.ci_high[i] == one.ci_high


def test_empty_cells_give_nan_without_warnings() -> None:
    r = st.nps(np.array([0, 3]), np.array([0, 3]), np.array([0, 3]))
    assert np.isnan([r.score[0], r.se[0], r.ci_low[0], r.ci_high[0]]).all()
    assert not np.isnan([r.score[1], r.ci_low[1]]).any()
    d = st.nps_difference(r, st.nps(1, 1, 1))
    assert np.isnan(d.z[0]) and np.isnan(d.p_value[0]) and np.isnan(d.ci_low[0])
    assert not np.isnan(d.p_value[1])
    p = st.proportion(0, 0)
    assert np.isnan([p.share, p.se, p.ci_low, p.ci_high]).all()
    m = st.mean(np.array([0, 1]), np.array([0.0, 4.0]), np.array([0.0, 16.0]))
    assert np.isnan(m.mean[0]) and m.mean[1] == 4 and np.isnan(m.ci_low[1])
    md = st.mean_difference(m, m)
    assert np.isnan(md.p_value).all()


def test_single_category_cells_have_zero_wald_se_and_a_proper_adjusted_interval() -> None:
    wald = st.nps(0, 0, 40, method="wald")
    assert wald.se == 0 and wald.ci_low == wald.ci_high == 100
    adjusted = st.nps(0, 0, 40)
    assert adjusted.se == 0
    assert adjusted.ci_low < 95 and adjusted.ci_high == 100


# --- Shares -----------------------------------------------------------------------------------


@PROFILE
@given(binomial(), confidences)
def test_wilson_is_proper_and_contains_the_share(xn: tuple[int, int], confidence: float) -> None:
    x, n = xn
    r = st.proportion(x, n, confidence)
    assert 0 <= r.ci_low <= r.share <= r.ci_high <= 1
    assert r.ci_high - r.ci_low > 0  # even at 0/n and n/n
    if x in (0, n):
        assert r.se == 0


@PROFILE
@given(binomial(), scales)
def test_wilson_shrinks_as_n_grows_with_the_same_share(xn: tuple[int, int], k: int) -> None:
    x, n = xn
    small, large = st.proportion(x, n), st.proportion(k * x, k * n)
    assert large.ci_high - large.ci_low < small.ci_high - small.ci_low


@PROFILE
@given(binomial(), confidences)
def test_wilson_is_symmetric_in_success_and_failure(xn: tuple[int, int], confidence: float) -> None:
    x, n = xn
    low, high = st.wilson_interval(x, n, confidence)
    low_f, high_f = st.wilson_interval(n - x, n, confidence)
    assert low == pytest.approx(1 - high_f, abs=1e-12)
    assert high == pytest.approx(1 - low_f, abs=1e-12)


@PROFILE
@given(binomial(), binomial())
def test_share_difference_interval_contains_the_difference(a: tuple[int, int], b: tuple[int, int]) -> None:
    d = st.proportion_difference(st.proportion(*a), st.proportion(*b))
    assert -1 <= d.ci_low <= d.difference <= d.ci_high <= 1
    assert 0 <= d.p_value <= 1
    same = st.proportion_difference(st.proportion(*a), st.proportion(*a))
    assert same.z == 0 and same.p_value == 1


# --- Means ------------------------------------------------------------------------------------

ratings = hs.lists(hs.integers(min_value=1, max_value=7), min_size=2, max_size=200)


def _summary(values: list[int]) -> st.MeanResult:
    x = np.asarray(values, dtype=float)
    return st.mean(x.size, x.sum(), (x**2).sum())


@PROFILE
@given(ratings, confidences)
def test_mean_interval_contains_the_mean_within_the_scale(values: list[int], confidence: float) -> None:
    r = st.mean(len(values), sum(values), sum(v * v for v in values), confidence)
    assert min(values) - EPS <= r.mean <= max(values) + EPS
    assert r.ci_low <= r.mean <= r.ci_high
    assert r.sd >= 0
    assert r.sd == pytest.approx(np.std(values, ddof=1), abs=1e-9)


@PROFILE
@given(ratings, scales)
def test_mean_interval_shrinks_when_the_sample_is_replicated(values: list[int], k: int) -> None:
    small, large = _summary(values), _summary(values * k)
    assert large.mean == pytest.approx(small.mean)
    assert large.ci_high - large.ci_low <= small.ci_high - small.ci_low + EPS


@PROFILE
@given(ratings, ratings)
def test_welch_identical_groups_not_significant_and_antisymmetric(x: list[int], y: list[int]) -> None:
    a, b = _summary(x), _summary(y)
    same = st.mean_difference(a, a)
    assert same.t == 0 and same.p_value == 1
    ab, ba = st.mean_difference(a, b), st.mean_difference(b, a)
    assert ab.t == pytest.approx(-ba.t, abs=1e-9)
    assert ab.p_value == pytest.approx(ba.p_value, abs=1e-12)
    assert ab.ci_low <= ab.difference <= ab.ci_high
    assert 0 <= ab.p_value <= 1


# --- Benjamini-Hochberg -----------------------------------------------------------------------

p_lists = hs.lists(hs.floats(min_value=0, max_value=1, allow_nan=False), min_size=1, max_size=60)


@PROFILE
@given(p_lists, hs.sampled_from([0.01, 0.05, 0.1, 0.25]))
def test_bh_adjusted_values_are_valid_and_order_preserving(p: list[float], alpha: float) -> None:
    r = st.benjamini_hochberg(p, alpha)
    raw = np.asarray(p)
    assert (r.p_adjusted >= raw - 1e-15).all() and (r.p_adjusted <= 1).all()
    order = np.argsort(raw, kind="stable")
    assert (np.diff(r.p_adjusted[order]) >= -1e-15).all()
    # The step-up rule: reject the k smallest for the largest k with p_(k) <= k * alpha / m.
    m = raw.size
    sorted_p = raw[order]
    below = np.nonzero(sorted_p <= alpha * np.arange(1, m + 1) / m)[0]
    k = below[-1] + 1 if below.size else 0
    assert int(r.reject.sum()) == k
    assert r.n_tests == m


@PROFILE
@given(p_lists)
def test_bh_is_permutation_invariant_and_ignores_nan(p: list[float]) -> None:
    raw = np.asarray(p)
    rng = np.random.default_rng(len(p))
    perm = rng.permutation(raw.size)
    r, r_perm = st.benjamini_hochberg(raw), st.benjamini_hochberg(raw[perm])
    np.testing.assert_allclose(r_perm.p_adjusted, r.p_adjusted[perm])
    with_nan = st.benjamini_hochberg(np.append(raw, np.nan))
    assert with_nan.n_tests == raw.size
    np.testing.assert_allclose(with_nan.p_adjusted[:-1], r.p_adjusted)
    assert np.isnan(with_nan.p_adjusted[-1]) and not with_nan.reject[-1]


def test_bh_keeps_the_shape_of_a_cube() -> None:
    p = np.array([[0.001, 0.2, np.nan], [0.04, 0.03, 0.9]])
    r = st.benjamini_hochberg(p)
    assert r.p_adjusted.shape == r.reject.shape == (2, 3)
    assert r.n_tests == 5
    assert r.statement == "Benjamini-Hochberg FDR control at 5% over 5 comparisons"
    assert st.benjamini_hochberg([0.5], alpha=0.1).statement.endswith("at 10% over 1 comparison")


# --- Rating items -----------------------------------------------------------------------------


@PROFILE
@given(ratings)
def test_csat_and_ces_summaries_agree_with_their_parts(values: list[int]) -> None:
    x = np.asarray(values, dtype=float)
    n, total, total_sq = x.size, x.sum(), (x**2).sum()
    easy = int((x >= st.CES_EASY_MIN).sum())
    c = st.ces(n, easy, total, total_sq)
    assert c.metric == "CES"
    assert c.mean.mean == pytest.approx(x.mean())
    assert c.top_box.share == pytest.approx(easy / n)
    assert 0 <= c.top_box.ci_low <= c.top_box.share <= c.top_box.ci_high <= 1
    frame = c.to_frame()
    assert frame.loc[0, "share"] == pytest.approx(easy / n)
    assert frame.loc[0, "mean_ci_low"] == pytest.approx(c.mean.ci_low)
