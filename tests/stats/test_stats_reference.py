"""cxloop.stats against published numbers (tests/stats/reference) and against statsmodels/scipy."""

from __future__ import annotations

import numpy as np
import pytest
from reference import metrics_published as ref
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

import cxloop.stats as st


def _sufficient(values: list[float]) -> tuple[int, float, float]:
    x = np.asarray(values, dtype=float)
    return x.size, float(x.sum()), float((x**2).sum())


# --- Wilson -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("x", "n", "low", "high"), ref.WILSON_NEWCOMBE_1998)
def test_wilson_reproduces_newcombe_1998_table(x: int, n: int, low: float, high: float) -> None:
    got_low, got_high = st.wilson_interval(x, n)
    assert got_low == pytest.approx(low, abs=ref.WILSON_TOL)
    assert got_high == pytest.approx(high, abs=ref.WILSON_TOL)


def test_wilson_vectorised_reproduces_newcombe_1998_table() -> None:
    x, n, low, high = (
        np.array(column, dtype=float) for column in zip(*ref.WILSON_NEWCOMBE_1998, strict=True)
    )
    result = st.proportion(x, n)
    np.testing.assert_allclose(result.ci_low, low, atol=ref.WILSON_TOL)
    np.testing.assert_allclose(result.ci_high, high, atol=ref.WILSON_TOL)


def test_wilson_matches_statsmodels_over_a_grid() -> None:
    n = np.repeat(np.arange(1, 41), 41)
    x = np.tile(np.arange(0, 41), 40)
    keep = x <= n
    x, n = x[keep], n[keep]
    for confidence in (0.8, 0.95, 0.99):
        low, high = st.wilson_interval(x, n, confidence)
        sm_low, sm_high = proportion_confint(x, n, alpha=1 - confidence, method="wilson")
        np.testing.assert_allclose(low, sm_low, atol=1e-12)
        np.testing.assert_allclose(high, sm_high, atol=1e-12)


# --- Two proportions --------------------------------------------------------------------------


@pytest.mark.parametrize(("xa", "na", "xb", "nb", "low", "high"), ref.NEWCOMBE_DIFFERENCE_1998)
def test_difference_interval_reproduces_newcombe_1998b(
    xa: int, na: int, xb: int, nb: int, low: float, high: float
) -> None:
    d = st.proportion_difference(st.proportion(xa, na), st.proportion(xb, nb))
    assert d.ci_low == pytest.approx(low, abs=ref.NEWCOMBE_DIFFERENCE_TOL)
    assert d.ci_high == pytest.approx(high, abs=ref.NEWCOMBE_DIFFERENCE_TOL)


def test_difference_interval_reproduces_fagerland_2015_example() -> None:
    xa, na, xb, nb, low, high = ref.FAGERLAND_2015_NEWCOMBE
    d = st.proportion_difference(st.proportion(xa, na), st.proportion(xb, nb))
    assert d.ci_low == pytest.approx(low, abs=ref.FAGERLAND_TOL)
    assert d.ci_high == pytest.approx(high, abs=ref.FAGERLAND_TOL)


def test_difference_interval_and_test_match_statsmodels() -> None:
    rng = np.random.default_rng(11)
    na = rng.integers(1, 300, size=200)
    nb = rng.integers(1, 300, size=200)
    xa = rng.integers(0, na + 1)
    xb = rng.integers(0, nb + 1)
    d = st.proportion_difference(st.proportion(xa, na), st.proportion(xb, nb))
    for i in range(na.size):
        low, high = confint_proportions_2indep(xa[i], na[i], xb[i], nb[i], method="newcomb", compare="diff")
        assert d.ci_low[i] == pytest.approx(low, abs=1e-10)
        assert d.ci_high[i] == pytest.approx(high, abs=1e-10)
        pooled = (xa[i] + xb[i]) / (na[i] + nb[i])
        if 0 < pooled < 1:
            z, p = proportions_ztest([xa[i], xb[i]], [na[i], nb[i]])
            assert d.z[i] == pytest.approx(z, rel=1e-10)
            assert d.p_value[i] == pytest.approx(p, rel=1e-8, abs=1e-300)


# --- Means: t interval and Welch --------------------------------------------------------------


def test_t_interval_reproduces_student_sleep_paired_example() -> None:
    diffs = np.subtract(ref.SLEEP_GROUP_2, ref.SLEEP_GROUP_1)
    r = st.mean(*_sufficient(list(diffs)))
    published = ref.SLEEP_PAIRED_MEAN
    assert r.mean == pytest.approx(published["mean"], abs=1e-12)
    assert r.ci_low == pytest.approx(published["ci"][0], abs=5e-8)
    assert r.ci_high == pytest.approx(published["ci"][1], abs=5e-8)
    assert r.mean / r.se == pytest.approx(published["t"], abs=5e-5)


def test_t_interval_matches_scipy_on_random_data() -> None:
    rng = np.random.default_rng(3)
    for size in (2, 3, 7, 30, 500):
        x = rng.integers(1, 8, size=size).astype(float)
        x[:2] = (1.0, 7.0)  # scipy's t.interval cannot take a zero scale
        r = st.mean(*_sufficient(list(x)), confidence=0.9)
        low, high = sps.t.interval(0.9, df=size - 1, loc=x.mean(), scale=sps.sem(x))
        assert r.ci_low == pytest.approx(low, abs=1e-10)
        assert r.ci_high == pytest.approx(high, abs=1e-10)
        assert r.sd == pytest.approx(x.std(ddof=1), rel=1e-10)


def test_welch_reproduces_student_sleep_two_sample_example() -> None:
    a = st.mean(*_sufficient(ref.SLEEP_GROUP_1))
    b = st.mean(*_sufficient(ref.SLEEP_GROUP_2))
    d = st.mean_difference(a, b)
    published = ref.SLEEP_WELCH
    assert (d.mean_a, d.mean_b) == pytest.approx(published["means"], abs=1e-12)
    assert d.t == pytest.approx(published["t"], abs=5e-5)
    assert d.df == pytest.approx(published["df"], abs=5e-4)
    assert d.p_value == pytest.approx(published["p_value"], abs=5e-6)
    assert d.ci_low == pytest.approx(published["ci"][0], abs=5e-8)
    assert d.ci_high == pytest.approx(published["ci"][1], abs=5e-8)


def test_welch_matches_scipy_ttest_ind_on_random_data() -> None:
    rng = np.random.default_rng(5)
    for size_a, size_b in ((2, 2), (5, 40), (120, 33)):
        x = rng.normal(3.0, 1.0, size=size_a)
        y = rng.normal(3.4, 2.0, size=size_b)
        d = st.mean_difference(st.mean(*_sufficient(list(x))), st.mean(*_sufficient(list(y))))
        expected = sps.ttest_ind(x, y, equal_var=False)
        assert d.t == pytest.approx(expected.statistic, rel=1e-9)
        assert d.p_value == pytest.approx(expected.pvalue, rel=1e-8)
        assert d.df == pytest.approx(expected.df, rel=1e-9)
        low, high = expected.confidence_interval(0.95)
        assert d.ci_low == pytest.approx(low, rel=1e-9)
        assert d.ci_high == pytest.approx(high, rel=1e-9)


# --- Benjamini-Hochberg -----------------------------------------------------------------------


def test_benjamini_hochberg_reproduces_the_1995_example() -> None:
    r = st.benjamini_hochberg(ref.BH_1995_P_VALUES, alpha=0.05)
    assert int(r.reject.sum()) == ref.BH_1995_REJECTED
    assert r.reject[: ref.BH_1995_REJECTED].all()
    assert r.statement == "Benjamini-Hochberg FDR control at 5% over 15 comparisons"
    bonferroni = np.asarray(ref.BH_1995_P_VALUES) <= 0.05 / len(ref.BH_1995_P_VALUES)
    assert int(bonferroni.sum()) == ref.BH_1995_BONFERRONI_REJECTED


def test_benjamini_hochberg_matches_statsmodels() -> None:
    rng = np.random.default_rng(13)
    for size in (1, 2, 15, 400):
        p = np.concatenate([rng.uniform(size=size), rng.uniform(0, 0.01, size=size // 3)])
        p[rng.integers(0, p.size, size=min(3, p.size))] = p[0]  # ties
        for alpha in (0.01, 0.05, 0.2):
            reject, adjusted, _, _ = multipletests(p, alpha=alpha, method="fdr_bh")
            r = st.benjamini_hochberg(p, alpha=alpha)
            np.testing.assert_allclose(r.p_adjusted, adjusted, rtol=1e-12)
            np.testing.assert_array_equal(r.reject, reject)


# --- NPS --------------------------------------------------------------------------------------


def test_nps_variance_and_se_reproduce_whuber_example() -> None:
    w = ref.WHUBER_NPS
    n = w["n"]
    detractors, passives, promoters = (share * n for share in w["shares"])
    r = st.nps(detractors, passives, promoters, method="wald")
    assert r.score == pytest.approx(w["nps"], abs=1e-9)
    variance = (r.se / 100) ** 2 * n
    assert variance == pytest.approx(w["variance"], abs=1e-12)
    assert np.sqrt(variance) == pytest.approx(w["sd"], abs=5e-3)
    assert r.se == pytest.approx(w["se_points"], abs=0.05)


def test_nps_variance_equals_the_recoded_mean_variance() -> None:
    """The NPS is the mean of -1/0/+1 scores: its se is the (ddof=0) sd of those scores over sqrt(n)."""
    rng = np.random.default_rng(17)
    counts = rng.integers(0, 60, size=(3, 100))
    counts[:, 0] = (0, 0, 9)
    counts[:, 1] = (4, 0, 4)
    r = st.nps(*counts, method="wald")
    for i in range(counts.shape[1]):
        scores = np.repeat([-1.0, 0.0, 1.0], counts[:, i])
        if scores.size == 0:
            assert np.isnan(r.score[i])
            continue
        assert r.score[i] == pytest.approx(100 * scores.mean(), abs=1e-9)
        assert r.se[i] == pytest.approx(100 * scores.std() / np.sqrt(scores.size), abs=1e-9)


def test_adjusted_wald_is_the_wald_interval_on_rocks_pseudo_observations() -> None:
    rng = np.random.default_rng(19)
    counts = rng.integers(0, 80, size=(3, 200)).astype(float)
    adjusted = st.nps(*counts, method="adjusted_wald")
    pseudo = np.asarray(ref.ROCKS_PSEUDO_OBSERVATIONS)[:, None]
    wald_on_pseudo = st.nps(*(counts + pseudo), method="wald")
    empty = counts.sum(axis=0) == 0
    # Where the adjusted interval reaches the observed score it was extended (documented).
    extended = (adjusted.ci_low == adjusted.score) | (adjusted.ci_high == adjusted.score)
    same = ~empty & ~extended
    assert same.sum() > 150
    np.testing.assert_allclose(adjusted.ci_low[same], wald_on_pseudo.ci_low[same], atol=1e-10)
    np.testing.assert_allclose(adjusted.ci_high[same], wald_on_pseudo.ci_high[same], atol=1e-10)
    # The reported score and se stay the plain ones.
    np.testing.assert_allclose(adjusted.score, st.nps(*counts, method="wald").score, equal_nan=True)


def test_nps_difference_wald_matches_rocks_nps_test_formula() -> None:
    """NPS::nps_test(x, y): se = sqrt(var_x/n_x + var_y/n_y), p = 1 - (2 * pnorm(|delta| / se) - 1)."""
    a = st.nps(30, 50, 120)
    b = st.nps(45, 60, 95)
    d = st.nps_difference(a, b, method="wald")

    def var(det: float, pas: float, pro: float) -> float:
        n = det + pas + pro
        return (pro / n + det / n) - (pro / n - det / n) ** 2

    se = np.sqrt(var(30, 50, 120) / 200 + var(45, 60, 95) / 200)
    delta = (120 - 30) / 200 - (95 - 45) / 200
    assert d.difference == pytest.approx(100 * delta)
    assert d.se == pytest.approx(100 * se)
    assert d.p_value == pytest.approx(1 - (2 * sps.norm.cdf(abs(delta) / se) - 1), rel=1e-12)
    assert d.ci_low == pytest.approx(100 * (delta - 1.959963984540054 * se))


def test_nps_difference_adjusted_wald_follows_lewis_sauro_steps() -> None:
    """Lewis & Sauro (2021): adjust each sample (+3/4 detractors and promoters, n + 3), then z test."""
    (d1, pa1, p1), (d2, pa2, p2) = (12, 18, 30), (20, 25, 15)
    d = st.nps_difference(st.nps(d1, pa1, p1), st.nps(d2, pa2, p2))

    def adjusted(det: float, pro: float, n: float) -> tuple[float, float, float]:
        n_adj = n + 3
        pro_adj, det_adj = (pro + 0.75) / n_adj, (det + 0.75) / n_adj
        return pro_adj - det_adj, pro_adj + det_adj - (pro_adj - det_adj) ** 2, n_adj

    nps1, var1, n1 = adjusted(d1, p1, 60)
    nps2, var2, n2 = adjusted(d2, p2, 60)
    se = np.sqrt(var1 / n1 + var2 / n2)
    z = (nps1 - nps2) / se
    assert d.method == "adjusted_wald"
    assert d.z == pytest.approx(z, rel=1e-12)
    assert d.p_value == pytest.approx(2 * sps.norm.sf(abs(z)), rel=1e-12)
    assert d.se == pytest.approx(100 * se, rel=1e-12)
    assert d.difference == pytest.approx(100 * ((p1 - d1) / 60 - (p2 - d2) / 60))
