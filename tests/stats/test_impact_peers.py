"""PilotImpact's inference against outside implementations on the same data, and a published example.

- CR1 standard errors: linearmodels 7.1 (``IV2SLS`` on the dummy-variable design, ``cov_type="clustered"``,
  ``debiased=True``) and pyfixest 0.60.0 (``feols`` with ``vcov={"CRV1": unit}``,
  ``ssc(k_fixef="full")``), to 1e-8 relative. Both count the unit and period fixed effects in the
  ``(N - 1) / (N - K)`` factor, as PilotImpact does (Stata's ``regress ..., cluster()`` with dummies;
  statsmodels' cluster covariance); fixest's and pyfixest's *default* drops the unit effects nested in the
  clusters (``k_fixef="nonnested"``, K = T + 1) and is smaller by ``sqrt((N - G - T) / (N - T - 1))``.
- Wild cluster bootstrap (restricted, WCR-11): wildboottest 0.3.2 (Python port of fwildclusterboot,
  Roodman, MacKinnon, Nielsen & Webb 2019), same weights, null imposed. Rademacher with all 2^G sign vectors
  enumerated is deterministic on both sides: equal p-values (to 1e-12). Random draws (Webb six-point, or
  Rademacher with 2^G > B) agree within Monte Carlo error: 3 standard errors of the difference of two
  independent binomial proportions at B draws each.
- Randomisation inference (which units are treated, permuted): every assignment refitted by statsmodels
  0.15.0's OLS on the dummy-variable design; exact p-values equal, sampled ones within Monte Carlo error.
  (pyfixest's ``ritest`` draws each cluster's treatment independently, a Bernoulli design rather than
  PilotImpact's fixed number of treated units, so it is not the same test.)
- Published: the organ-donation difference-in-differences (Kessler & Roth 2014, data from causaldata 0.1.5)
  as printed in pyfixest's documentation (see ``reference/impact_organ_donations.py``).
"""

from __future__ import annotations

import itertools
import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from causaldata import organ_donations
from linearmodels.iv import IV2SLS
from reference.impact_organ_donations import (
    EVENT_STUDY_TOL,
    ORGAN_DONATIONS_DID,
    ORGAN_DONATIONS_EVENT_STUDY,
)
from wildboottest.wildboottest import WildboottestCL

from cxloop.stats.impact import PilotImpact


def _organ_donations() -> pd.DataFrame:
    od = organ_donations.load_pandas().data.copy()
    od["California"] = od["State"] == "California"
    od["After"] = od["Quarter_Num"] > 3
    return od


def _fit_organ(**kwargs: object) -> PilotImpact:
    return PilotImpact(**kwargs).fit(  # type: ignore[arg-type]
        _organ_donations(),
        outcome="Rate",
        unit="State",
        period="Quarter_Num",
        treated="California",
        post="After",
    )


def _panel(seed: int, *, n_units: int = 8, n_periods: int = 6, n_treated: int = 3) -> pd.DataFrame:
    """Unit x period panel with unit-level shocks after the start (errors correlated within units)."""
    rng = np.random.default_rng(seed)
    unit = np.repeat(np.arange(n_units), n_periods)
    period = np.tile(np.arange(n_periods), n_units)
    treated = unit < n_treated
    post = period >= n_periods // 2
    y = (
        rng.normal(0, 1, n_units)[unit]
        + rng.normal(0, 1, n_periods)[period]
        + 0.6 * (treated & post)
        + rng.normal(0, 1, n_units)[unit] * post
        + rng.normal(0, 1, len(unit))
    )
    return pd.DataFrame(
        {
            "y": y,
            "unit": unit,
            "period": period,
            "treated": treated,
            "post": post,
            "responses": rng.integers(20, 200, len(unit)).astype(float),
        }
    )


def _fit(panel: pd.DataFrame, **kwargs: object) -> PilotImpact:
    return PilotImpact(**kwargs).fit(  # type: ignore[arg-type]
        panel, outcome="y", unit="unit", period="period", treated="treated", post="post"
    )


def _design(unit: pd.Series, period: pd.Series, d: np.ndarray) -> pd.DataFrame:
    """Treatment, one dummy per unit and one per period but the first: the two-way FE regression."""
    dummies = pd.concat(
        [
            pd.get_dummies(unit.astype(str), prefix="u", dtype=float),
            pd.get_dummies(period.astype(str), prefix="t", drop_first=True, dtype=float),
        ],
        axis=1,
    )
    return pd.concat([pd.Series(d, index=unit.index, name="D"), dummies], axis=1)


def _mc_tolerance(p_a: float, draws_a: int, p_b: float, draws_b: int) -> float:
    """Three standard errors of the difference of two independent bootstrap/permutation p-values."""
    pooled = (p_a * draws_a + p_b * draws_b) / (draws_a + draws_b)
    pooled = min(max(pooled, 1.0 / min(draws_a, draws_b)), 1.0 - 1.0 / min(draws_a, draws_b))
    return 3.0 * math.sqrt(pooled * (1.0 - pooled) * (1.0 / draws_a + 1.0 / draws_b))


# --- published example ---------------------------------------------------------------------------------


def test_organ_donations_match_the_effect_as_printed_by_pyfixest() -> None:
    """Kessler & Roth (2014) organ-donation DiD, *The Effect* ch. 18, as printed in pyfixest's docs
    ("Replicating Examples from The Effect", pyfixest 0.40.1, causaldata 0.1.5): Treated -0.022, iid se
    0.020, t -1.096, p 0.275; event-study coefficients to 6 decimals. Tolerance: half the last digit."""
    ref = ORGAN_DONATIONS_DID
    fit = _fit_organ(inference="ols")
    assert fit.n_obs_ == ref["n"]
    assert fit.n_treated_ == 1 and fit.n_control_ == 26
    assert fit.effect_ == pytest.approx(ref["effect"], abs=ref["effect_tol"])
    assert fit.se_ == pytest.approx(ref["se_ols"], abs=ref["se_tol"])
    assert fit.effect_ / fit.se_ == pytest.approx(ref["t_ols"], abs=ref["t_tol"])
    assert fit.p_value_ == pytest.approx(ref["p_ols"], abs=ref["p_tol"])
    es = fit.event_study_.set_index("relative_period")["effect"]
    assert es.loc[-1] == 0.0
    for relative, published in ORGAN_DONATIONS_EVENT_STUDY.items():
        assert es.loc[relative] == pytest.approx(published, abs=EVENT_STUDY_TOL), relative


# --- CR1 standard errors --------------------------------------------------------------------------------


def _linearmodels_cr1(y: pd.Series, design: pd.DataFrame, clusters: pd.Series, weights=None) -> float:
    result = IV2SLS(y, design, None, None, weights=weights).fit(
        cov_type="clustered", clusters=pd.Series(pd.factorize(clusters)[0], index=y.index), debiased=True
    )
    return float(result.std_errors["D"])


def test_cr1_matches_linearmodels_on_the_organ_donation_panel() -> None:
    """linearmodels 7.1, IV2SLS (OLS) on the dummy design, clustered by state, debiased: same CR1 se."""
    od = _organ_donations()
    fit = _fit_organ(inference="cluster")
    d = (od["California"] & od["After"]).to_numpy(float)
    se = _linearmodels_cr1(od["Rate"], _design(od["State"], od["Quarter_Num"], d), od["State"])
    assert fit.se_cluster_ == pytest.approx(se, rel=1e-8)
    assert fit.se_ == pytest.approx(se, rel=1e-8)


@pytest.mark.parametrize("weighted", [False, True])
def test_cr1_matches_linearmodels_on_a_weighted_panel(weighted: bool) -> None:
    """linearmodels 7.1 with regression weights (responses per cell): same WLS effect and CR1 se."""
    panel = _panel(11, n_units=10, n_treated=4)
    fit = PilotImpact(inference="cluster").fit(
        panel,
        outcome="y",
        unit="unit",
        period="period",
        treated="treated",
        post="post",
        weights="responses" if weighted else None,
    )
    d = (panel["treated"] & panel["post"]).to_numpy(float)
    design = _design(panel["unit"], panel["period"], d)
    weights = panel["responses"] if weighted else None
    result = IV2SLS(panel["y"], design, None, None, weights=weights).fit(
        cov_type="clustered", clusters=panel["unit"], debiased=True
    )
    assert fit.effect_ == pytest.approx(float(result.params["D"]), rel=1e-9)
    assert fit.se_cluster_ == pytest.approx(float(result.std_errors["D"]), rel=1e-8)


@pytest.mark.slow
# pyfixest 0.60 calls DataFrame.reset_index(inplace=True), deprecated in pandas 3.1.
@pytest.mark.filterwarnings("ignore:The inplace keyword:pandas.errors.Pandas4Warning")
def test_cr1_and_its_t_test_match_pyfixest() -> None:
    """pyfixest 0.60.0 ``feols(... | State + Quarter, vcov={"CRV1": "State"}, ssc(k_fixef="full"))``:
    same se and p-value (t with G - 1 = 26 df). Its default ``k_fixef="nonnested"`` gives the smaller
    fixest default se, off by exactly sqrt((N - G - T) / (N - T - 1)). (Marked slow: importing pyfixest takes
    several seconds.)"""
    import pyfixest as pf

    od = _organ_donations()
    od["Treated"] = (od["California"] & od["After"]).astype(float)
    fit = _fit_organ(inference="cluster")
    full = pf.feols(
        "Rate ~ Treated | State + Quarter", data=od, vcov={"CRV1": "State"}, ssc=pf.ssc(k_fixef="full")
    ).tidy()
    assert fit.effect_ == pytest.approx(float(full.loc["Treated", "Estimate"]), rel=1e-9)
    assert fit.se_ == pytest.approx(float(full.loc["Treated", "Std. Error"]), rel=1e-8)
    assert fit.p_value_ == pytest.approx(float(full.loc["Treated", "Pr(>|t|)"]), rel=1e-6)
    default = pf.feols("Rate ~ Treated | State + Quarter", data=od, vcov={"CRV1": "State"}).tidy()
    n, g, t = 162, 27, 6
    assert float(default.loc["Treated", "Std. Error"]) == pytest.approx(
        fit.se_ * math.sqrt((n - g - t) / (n - t - 1)), rel=1e-8
    )


# --- wild cluster bootstrap -----------------------------------------------------------------------------


def _wildboottest(panel: pd.DataFrame, y: str, unit: str, period: str, d: np.ndarray, **kwargs: object):
    """wildboottest 0.3.2, WCR-11 (null imposed), CR1 small-sample factors: (t, t*, p)."""
    design = _design(panel[unit], panel[period], d).to_numpy()
    restriction = np.zeros(design.shape[1])
    restriction[0] = 1.0
    boot = WildboottestCL(
        X=design,
        Y=panel[y].to_numpy(float),
        cluster=pd.factorize(panel[unit])[0],
        R=restriction,
        B=kwargs["draws"],
        seed=kwargs["seed"],
        parallel=False,
    )
    boot.get_scores(bootstrap_type="11", impose_null=True, adj=True, cluster_adj=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "2^G < the number of boot iterations, setting full_enumeration"
        boot.get_weights(weights_type=kwargs["weights"])
    boot.get_numer()
    boot.get_denom()
    boot.get_tboot()
    boot.get_vcov()
    boot.get_tstat()
    boot.get_pvalue(pval_type="two-tailed")
    return float(np.squeeze(boot.t_stat)), np.asarray(boot.t_boot, dtype=float).ravel(), float(boot.pvalue)


@pytest.mark.parametrize("seed", [0, 3, 4])
def test_enumerated_rademacher_wild_bootstrap_equals_wildboottest(seed: int) -> None:
    """8 units: both enumerate all 2^8 Rademacher sign vectors, so the p-values are equal, not just close.
    wildboottest counts |t*| > |t| strictly; PilotImpact counts |t*| >= |t| (the draws equal to the data,
    v = +1 and v = -1, included), so the peer's p is recomputed from its t* with the same rule."""
    panel = _panel(seed)
    d = (panel["treated"] & panel["post"]).to_numpy(float)
    t_peer, t_star, _ = _wildboottest(
        panel, "y", "unit", "period", d, draws=999, seed=1, weights="rademacher"
    )
    assert t_star.size == 2**8
    p_peer = float(np.mean(np.abs(t_star) >= abs(t_peer) * (1 - 1e-9)))
    fit = _fit(panel, inference="wild_cluster", bootstrap_weights="rademacher", n_resamples=999)
    assert fit.n_resamples_ == 2**8
    assert fit.t_cluster_ == pytest.approx(t_peer, rel=1e-8)
    assert fit.p_value_ == pytest.approx(p_peer, abs=1e-12)


@pytest.mark.parametrize("seed", [3, 4, 7])
def test_webb_wild_bootstrap_matches_wildboottest_within_monte_carlo_error(seed: int) -> None:
    """Webb six-point weights, 9,999 draws each, independent seeds: |p - p_peer| <= 3 MC standard errors."""
    panel = _panel(seed)
    d = (panel["treated"] & panel["post"]).to_numpy(float)
    draws = 9999
    _, _, p_peer = _wildboottest(
        panel, "y", "unit", "period", d, draws=draws, seed=1000 + seed, weights="webb"
    )
    fit = _fit(
        panel, inference="wild_cluster", bootstrap_weights="webb", n_resamples=draws, random_state=seed
    )
    assert fit.n_resamples_ == draws
    assert abs(fit.p_value_ - p_peer) <= _mc_tolerance(fit.p_value_, draws, p_peer, draws)


@pytest.mark.parametrize("weights", ["rademacher", "webb"])
def test_wild_bootstrap_on_the_organ_donation_panel_matches_wildboottest(weights: str) -> None:
    """27 states, one treated: 2^27 sign vectors, so both draw 9,999 at random; within 3 MC standard
    errors."""
    od = _organ_donations()
    d = (od["California"] & od["After"]).to_numpy(float)
    draws = 9999
    t_peer, _, p_peer = _wildboottest(
        od, "Rate", "State", "Quarter_Num", d, draws=draws, seed=5, weights=weights
    )
    fit = _fit_organ(inference="wild_cluster", bootstrap_weights=weights, n_resamples=draws, random_state=6)
    assert fit.t_cluster_ == pytest.approx(t_peer, rel=1e-8)
    assert abs(fit.p_value_ - p_peer) <= _mc_tolerance(fit.p_value_, draws, p_peer, draws)


# --- randomisation inference ----------------------------------------------------------------------------


def _refit_every_assignment(
    panel: pd.DataFrame, y: str, unit: str, period: str, post: str, n_treated: int
) -> tuple[np.ndarray, int]:
    """statsmodels OLS of y on D and the unit and period dummies, for every choice of treated units."""
    units = sorted(panel[unit].unique())
    observed = sorted(panel.loc[panel["_treated"], unit].unique())
    fixed_effects = _design(panel[unit], panel[period], np.zeros(len(panel))).to_numpy()[:, 1:]
    outcome = panel[y].to_numpy(float)
    effects, observed_index = [], -1
    for j, chosen in enumerate(itertools.combinations(units, n_treated)):
        d = (panel[unit].isin(chosen) & panel[post]).to_numpy(float)
        effects.append(float(sm.OLS(outcome, np.column_stack([d, fixed_effects])).fit().params[0]))
        if list(chosen) == observed:
            observed_index = j
    return np.asarray(effects), observed_index


def _exact_peer_p_value(effects: np.ndarray, observed_index: int) -> float:
    observed = abs(effects[observed_index])
    return float(np.mean(np.abs(effects) >= observed * (1 - 1e-9)))


def test_exact_randomization_p_value_equals_refits_on_the_organ_donation_panel() -> None:
    """Each of the 27 states in turn as the treated one, refitted by statsmodels: same exact p (5/27)."""
    od = _organ_donations()
    od["_treated"] = od["California"]
    effects, observed = _refit_every_assignment(od, "Rate", "State", "Quarter_Num", "After", 1)
    fit = _fit_organ(inference="randomization")
    assert fit.exact_ and fit.n_resamples_ == 27
    assert effects[observed] == pytest.approx(fit.effect_, rel=1e-9)
    assert fit.p_value_ == pytest.approx(_exact_peer_p_value(effects, observed), abs=1e-12)


def test_randomization_matches_refits_exactly_and_when_sampled() -> None:
    """12 units, 4 treated: 495 assignments. Enumerated: equal to the refits' exact p. Sampled (199 random
    assignments plus the observed one): within 3 MC standard errors of it."""
    panel = _panel(21, n_units=12, n_treated=4)
    panel["_treated"] = panel["treated"]
    effects, observed = _refit_every_assignment(panel, "y", "unit", "period", "post", 4)
    assert effects.size == math.comb(12, 4)
    p_exact = _exact_peer_p_value(effects, observed)
    exact = _fit(panel, inference="randomization", n_resamples=999)
    assert exact.exact_ and exact.n_resamples_ == 495
    assert exact.p_value_ == pytest.approx(p_exact, abs=1e-12)
    sampled = _fit(panel, inference="randomization", n_resamples=199, random_state=3)
    assert not sampled.exact_
    tolerance = 3.0 * math.sqrt(max(p_exact * (1 - p_exact), 1 / 200) / sampled.n_resamples_)
    assert abs(sampled.p_value_ - p_exact) <= tolerance
