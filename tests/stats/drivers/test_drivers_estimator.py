"""KeyDriverAnalysis as an estimator: contract, errors that say what to do, missing answers, bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxloop.stats.drivers import DriverAnalysisError, KeyDriverAnalysis, NotFittedError, shapley_r2


def _survey(seed: int = 0, n: int = 300) -> tuple[pd.DataFrame, pd.Series]:
    """Three real drivers of decreasing weight and one pure-noise item."""
    rng = np.random.default_rng(seed)
    common = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "price": 0.5 * common + rng.normal(size=n),
            "staff": 0.5 * common + rng.normal(size=n),
            "speed": 0.5 * common + rng.normal(size=n),
            "noise": rng.normal(size=n),
        }
    )
    y = frame["price"] * 0.8 + frame["staff"] * 0.5 + frame["speed"] * 0.3 + rng.normal(size=n)
    return frame, y.rename("satisfaction")


# -- estimator contract ----------------------------------------------------------------------------------


def test_init_only_stores_keyword_hyperparameters() -> None:
    with pytest.raises(TypeError):
        KeyDriverAnalysis("shapley")  # type: ignore[misc]
    kda = KeyDriverAnalysis(method="relative_weights", bootstrap=10, random_state=3)
    assert kda.get_params()["method"] == "relative_weights" and kda.get_params()["bootstrap"] == 10
    assert not [name for name in vars(kda) if name.endswith("_")]
    assert repr(kda) == "KeyDriverAnalysis(method='relative_weights', bootstrap=10, random_state=3)"
    assert kda.set_params(method="shapley") is kda and kda.method == "shapley"
    with pytest.raises(ValueError, match="unknown parameter 'alpha'"):
        kda.set_params(alpha=1)
    # An invalid value is only refused when fitting (scikit-learn convention).
    bad = KeyDriverAnalysis(method="dominance")
    with pytest.raises(ValueError, match="method must be one of"):
        bad.fit(*_survey())


def test_fit_returns_self_with_underscore_attributes_and_no_assigned_methods() -> None:
    frame, y = _survey()
    kda = KeyDriverAnalysis()
    assert kda.fit(frame, y) is kda
    fitted = [name for name in vars(kda) if name.endswith("_")]
    assert {"importance_", "relative_importance_", "r2_", "n_", "n_dropped_", "p_value_"} <= set(fitted)
    assert not any(callable(value) for value in vars(kda).values())
    assert kda.outcome_ == "satisfaction" and kda.drivers_ == ["price", "staff", "speed", "noise"]
    assert kda.relative_importance_.sum() == pytest.approx(1.0, abs=1e-12)
    assert kda.importance_.sum() == pytest.approx(kda.r2_, abs=1e-12)


def test_summary_and_html() -> None:
    frame, y = _survey()
    kda = KeyDriverAnalysis().fit(frame, y)
    table = kda.summary()
    assert list(table.index) == ["price", "staff", "speed", "noise"]  # most important first
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert list(table.columns) == ["importance", "relative_importance", "rank", "p_value"]
    assert table.attrs["r2"] == kda.r2_ and table.attrs["n"] == 300
    assert table.loc["price", "p_value"] < 1e-10 and table.loc["noise", "p_value"] > 0.01
    page = kda._repr_html_()
    assert "Key drivers of satisfaction" in page and "price" in page and f"{kda.r2_:.3f}" in page
    with pytest.raises(NotFittedError, match="call fit"):
        KeyDriverAnalysis().summary()
    assert KeyDriverAnalysis()._repr_html_().startswith("<pre>KeyDriverAnalysis()")


# -- errors that say what to do --------------------------------------------------------------------------


def test_too_few_responses_per_driver() -> None:
    frame, y = _survey(n=35)
    with pytest.raises(DriverAnalysisError, match=r"35 responses for 4 drivers is fewer than 10 per driver"):
        KeyDriverAnalysis().fit(frame, y)
    assert KeyDriverAnalysis(min_n_per_driver=5).fit(frame, y).n_ == 35
    with pytest.raises(DriverAnalysisError, match=r"needs more than 5 complete responses"):
        KeyDriverAnalysis(min_n_per_driver=0).fit(frame.iloc[:5], y.iloc[:5])
    with pytest.raises(DriverAnalysisError, match="fewer than 10 per driver"):
        KeyDriverAnalysis().fit_correlation(
            pd.concat([y, frame], axis=1).corr(), n=39, outcome="satisfaction"
        )


def test_constant_items_are_named() -> None:
    frame, y = _survey()
    with pytest.raises(DriverAnalysisError, match=r"constant item\(s\) speed: every response gave the same"):
        KeyDriverAnalysis().fit(frame.assign(speed=4.0), y)
    with pytest.raises(DriverAnalysisError, match=r"constant item\(s\) satisfaction"):
        KeyDriverAnalysis().fit(frame, y * 0 + 7)


def test_perfectly_collinear_items_are_named() -> None:
    frame, y = _survey()
    with_total = frame.assign(total=frame["price"] + frame["staff"])
    with pytest.raises(DriverAnalysisError, match=r"perfectly collinear items: price, staff, total \(one is"):
        KeyDriverAnalysis().fit(with_total, y)
    corr = pd.concat([y, with_total], axis=1).corr()
    with pytest.raises(DriverAnalysisError, match="perfectly collinear items: price, staff, total"):
        KeyDriverAnalysis().fit_correlation(corr, n=300, outcome="satisfaction")
    with pytest.raises(DriverAnalysisError, match="perfectly collinear items: price, noise"):
        KeyDriverAnalysis().fit(frame.assign(noise=2 * frame["price"] - 1), y)


def test_bad_inputs_are_refused_with_a_reason() -> None:
    frame, y = _survey()
    with pytest.raises(DriverAnalysisError, match="non-numeric driver column"):
        KeyDriverAnalysis().fit(frame.assign(region="north"), y)
    with pytest.raises(DriverAnalysisError, match="is also listed as a driver"):
        KeyDriverAnalysis().fit(frame.assign(satisfaction=y), y)
    with pytest.raises(DriverAnalysisError, match="X has 300 rows but y has 299"):
        KeyDriverAnalysis().fit(frame, y.iloc[:-1])
    with pytest.raises(DriverAnalysisError, match="frequency weights"):
        KeyDriverAnalysis().fit(frame, y, sample_weight=np.full(300, 0.5))
    with pytest.raises(TypeError, match="pandas DataFrame"):
        KeyDriverAnalysis().fit(frame.to_numpy(), y)
    corr = pd.concat([y, frame], axis=1).corr()
    with pytest.raises(DriverAnalysisError, match="outcome 'nps' is not in the matrix"):
        KeyDriverAnalysis().fit_correlation(corr, n=300, outcome="nps")
    broken = corr.copy()
    broken.loc["noise", "price"] = broken.loc["price", "noise"] = np.nan
    with pytest.raises(DriverAnalysisError, match="missing or infinite entries for noise, price"):
        KeyDriverAnalysis().fit_correlation(broken, n=300, outcome="satisfaction")


def test_binary_outcome_rules() -> None:
    frame, y = _survey()
    churned = (y > y.median()).astype(float).rename("churned")
    with pytest.raises(ValueError, match="binary outcome is analysed with method='relative_weights'"):
        KeyDriverAnalysis(outcome_type="binary").fit(frame, churned)
    binary = KeyDriverAnalysis(method="relative_weights", outcome_type="binary")
    with pytest.raises(DriverAnalysisError, match="must be coded 0/1"):
        binary.fit(frame, churned * 2)
    with pytest.raises(DriverAnalysisError, match="has only one value"):
        binary.fit(frame, churned * 0)
    with pytest.raises(
        DriverAnalysisError, match=r"cannot be analysed from a correlation matrix.*sample_weight"
    ):
        binary.fit_correlation(pd.concat([churned, frame], axis=1).corr(), n=300, outcome="churned")
    separated = (frame["price"] > 0).astype(float).rename("churned")
    with pytest.raises(DriverAnalysisError, match="separate the binary outcome"):
        binary.fit(frame, separated)
    fitted = binary.fit(frame, churned)
    assert fitted.importance_.idxmax() == "price" and fitted.importance_.idxmin() == "noise"
    assert fitted.importance_.sum() == pytest.approx(fitted.r2_, abs=1e-12)
    assert "likelihood-ratio" in fitted.p_value_test_


# -- missing answers -------------------------------------------------------------------------------------


def _with_gaps(frame: pd.DataFrame, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return frame.mask(rng.random(frame.shape) < 0.08)


def test_listwise_deletion_counts_dropped_responses() -> None:
    frame, y = _survey()
    gappy = _with_gaps(frame)
    complete = gappy.notna().all(axis=1)
    kda = KeyDriverAnalysis().fit(gappy, y)
    assert kda.n_ == complete.sum() and kda.n_dropped_ == 300 - complete.sum() > 0
    direct = KeyDriverAnalysis().fit(gappy[complete], y[complete])
    assert kda.importance_.to_numpy() == pytest.approx(direct.importance_.to_numpy(), abs=1e-12)


def test_pairwise_deletion_uses_every_pair_of_answers() -> None:
    frame, y = _survey()
    gappy = _with_gaps(frame)
    data = pd.concat([y, gappy], axis=1)
    kda = KeyDriverAnalysis(missing="pairwise").fit(gappy, y)
    corr = data.corr()  # pandas: pairwise-complete Pearson correlations
    expected = shapley_r2(corr.iloc[1:, 1:].to_numpy(), corr.iloc[1:, 0].to_numpy()).importance
    assert kda.importance_.to_numpy() == pytest.approx(expected, abs=1e-12)
    pairs = data.notna().astype(int).T @ data.notna().astype(int)
    assert kda.n_ == pairs.to_numpy().min() and kda.n_dropped_ == 300 - kda.n_
    assert kda.pairwise_n_.loc["price", "staff"] == pairs.loc["price", "staff"]
    assert kda.n_ > KeyDriverAnalysis().fit(gappy, y).n_  # pairwise keeps more responses


def test_pairwise_correlations_that_are_not_a_valid_matrix_are_refused() -> None:
    rng = np.random.default_rng(1)
    t = rng.normal(size=(3, 40))
    nan = np.full(40, np.nan)
    # Each pair answered by a different group: a = b, b = c, but a = -c. No data set has these correlations.
    a = np.concatenate([t[0], nan, t[2]])
    b = np.concatenate([t[0], t[1], nan])
    c = np.concatenate([nan, t[1], -t[2]])
    frame = pd.DataFrame({"a": a, "b": b, "c": c})
    y = pd.Series(rng.normal(size=120), name="y")
    with pytest.raises(DriverAnalysisError, match="pairwise correlations do not form a valid"):
        KeyDriverAnalysis(missing="pairwise").fit(frame, y)


# -- bootstrap and the random-variable test --------------------------------------------------------------


@pytest.mark.parametrize("method", ["shapley", "relative_weights"])
def test_bootstrap_intervals_and_random_variable_test_on_rows(method: str) -> None:
    frame, y = _survey(seed=2)
    kda = KeyDriverAnalysis(method=method, bootstrap=200, random_state=7).fit(frame, y)
    ci = kda.ci_
    assert kda.bootstrap_scheme_ == "rows" and kda.n_bootstrap_failed_ == 0
    assert kda.bootstrap_importance_.shape == (200, 4)
    assert np.all(ci["importance_low"] <= kda.importance_) and np.all(
        kda.importance_ <= ci["importance_high"]
    )
    assert np.all(ci["relative_low"] < ci["relative_high"])
    verdict = kda.versus_random_["beats_random"]
    assert verdict["price"] and verdict["staff"] and verdict["speed"] and not verdict["noise"]
    table = kda.summary()
    assert {"importance_low", "importance_high", "beats_random"} <= set(table.columns)
    again = KeyDriverAnalysis(method=method, bootstrap=200, random_state=7).fit(frame, y)
    pd.testing.assert_frame_equal(again.ci_, kda.ci_)


def test_parametric_bootstrap_from_a_correlation_matrix() -> None:
    frame, y = _survey(seed=2)
    corr = pd.concat([y, frame], axis=1).corr()
    kda = KeyDriverAnalysis(bootstrap=200, random_state=1).fit_correlation(
        corr, n=300, outcome="satisfaction"
    )
    rows = KeyDriverAnalysis(bootstrap=200, random_state=1).fit(frame, y)
    assert kda.bootstrap_scheme_ == "parametric"
    assert kda.importance_.to_numpy() == pytest.approx(rows.importance_.to_numpy(), abs=1e-12)
    # Normal-theory and nonparametric interval widths agree roughly for normal data.
    width = kda.ci_["importance_high"] - kda.ci_["importance_low"]
    row_width = rows.ci_["importance_high"] - rows.ci_["importance_low"]
    assert np.all(width / row_width > 0.6) and np.all(width / row_width < 1.6)
    assert list(kda.versus_random_["beats_random"]) == [True, True, True, False]


def test_bootstrap_for_a_binary_outcome() -> None:
    frame, y = _survey(seed=3, n=400)
    churned = (y + np.random.default_rng(0).normal(size=400) > 0.5).astype(int).rename("churned")
    kda = KeyDriverAnalysis(method="relative_weights", outcome_type="binary", bootstrap=60, random_state=2)
    kda.fit(frame, churned)
    assert kda.bootstrap_scheme_ == "rows (binary)" and kda.n_bootstrap_failed_ == 0
    assert np.all(kda.ci_["importance_low"] <= kda.importance_)
    assert np.all(kda.importance_ <= kda.ci_["importance_high"])
    assert kda.versus_random_.loc["price", "beats_random"]
    assert not kda.versus_random_.loc["noise", "beats_random"]


def test_sampled_shapley_beyond_the_exact_limit_reports_its_error() -> None:
    rng = np.random.default_rng(8)
    p = 17
    frame = pd.DataFrame(
        rng.normal(size=(400, p)) + rng.normal(size=(400, 1)), columns=[f"q{i}" for i in range(p)]
    )
    y = pd.Series(frame.to_numpy() @ np.linspace(1, 0, p) + rng.normal(size=400), name="y")
    kda = KeyDriverAnalysis(n_permutations=1000, random_state=0).fit(frame, y)
    assert kda.approximation_ == "permutation sampling (1000 orders)"
    assert kda.importance_.sum() == pytest.approx(kda.r2_, abs=1e-12)
    assert np.all(kda.monte_carlo_se_ > 0) and "monte_carlo_se" in kda.summary().columns
    exact = KeyDriverAnalysis(max_exact_drivers=17).fit(frame, y)
    assert exact.approximation_ == "exact"
    assert np.all(np.abs(kda.importance_ - exact.importance_) < 4 * kda.monte_carlo_se_)


def test_shared_subset_table_gives_the_same_bootstrap_as_separate_decompositions() -> None:
    from cxloop.stats.drivers.bootstrap import bootstrap_rows
    from cxloop.stats.drivers.shapley import shapley_r2_with_last_removed

    frame, y = _survey(seed=5, n=200)
    values = np.column_stack([y.to_numpy(), frame.to_numpy()])

    def importance(corr_xx: np.ndarray, corr_xy: np.ndarray) -> np.ndarray:
        return shapley_r2(corr_xx, corr_xy).importance

    common = {"n_resamples": 30, "test_random": True}
    separate = bootstrap_rows(values, np.ones(200), importance, rng=np.random.default_rng(1), **common)
    shared = bootstrap_rows(
        values,
        np.ones(200),
        importance,
        rng=np.random.default_rng(1),
        paired=shapley_r2_with_last_removed,
        **common,
    )
    assert shared.importance == pytest.approx(separate.importance, abs=1e-12)
    assert shared.versus_random == pytest.approx(separate.versus_random, abs=1e-12)
