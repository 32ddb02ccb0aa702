"""`KeyDriverAnalysis`: which drivers matter for an outcome, with their uncertainty.

An estimator in the scikit-learn style: hyperparameters are keyword arguments stored by ``__init__``;
``fit`` (on responses) or ``fit_correlation`` (on a correlation matrix, the warehouse's sufficient
statistics) validates its input, sets attributes ending in ``_`` and returns ``self``.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._base import Estimator, NotFittedError
from ._checks import (
    DriverAnalysisError,
    check_collinearity,
    check_correlation_matrix,
    check_sample_size,
    constant_items,
    raise_constant,
)
from ._correlation import correlation_from_covariance, pairwise_moments
from .bootstrap import (
    BootstrapDraws,
    PairedImportance,
    bootstrap_binary_rows,
    bootstrap_correlation,
    bootstrap_rows,
    percentile_interval,
)
from .logistic import likelihood_ratio_pvalues, logistic_relative_weights
from .relative_weights import relative_weights
from .shapley import shapley_r2, shapley_r2_with_last_removed

__all__ = ["KeyDriverAnalysis", "NotFittedError"]

_METHODS = ("shapley", "relative_weights")
_OUTCOME_TYPES = ("continuous", "binary")
_MISSING = ("listwise", "pairwise")
_Importance = Callable[[np.ndarray, np.ndarray], np.ndarray]


class KeyDriverAnalysis(Estimator):
    """Key-driver analysis: each driver's share of the explained variation in an outcome.

    Parameters
    ----------
    method : {"shapley", "relative_weights"}, default "shapley"
        ``"shapley"``: the Shapley value / LMG decomposition of R-squared (general dominance), exact up to
        ``max_exact_drivers`` drivers, sampled beyond. ``"relative_weights"``: Johnson's (2000) relative
        weights. A binary outcome supports ``"relative_weights"`` only (Tonidandel & LeBreton 2010).
    outcome_type : {"continuous", "binary"}, default "continuous"
        ``"binary"`` for behaviour coded 0/1 (bought again within 90 days, churned within 180 days):
        logistic relative weights, whose shares add up to ``R_O**2``, the squared correlation between the
        outcome and the fitted probability.
    missing : {"listwise", "pairwise"}, default "listwise"
        Missing-answer policy for ``fit``. ``"listwise"`` drops every response with any missing answer
        (counted in ``n_dropped_``). ``"pairwise"`` (continuous outcome only) computes each correlation
        from the responses that answered both items; ``n_`` is then the smallest number of responses behind
        any correlation, and the analysis is refused if the pairwise correlations do not form a valid
        (positive definite) matrix.
    bootstrap : int, default 0
        Number of bootstrap resamples for percentile intervals and the random-variable test (0: none).
        Nonparametric on rows for ``fit``; parametric (Wishart, normal theory) for ``fit_correlation``.
    confidence : float, default 0.95
        Confidence level of the intervals.
    random_state : int or None
        Seed for the bootstrap and for sampled Shapley orders.
    random_variable_test : bool, default True
        With ``bootstrap > 0``, test each driver against an added pure-noise variable (Tonidandel,
        LeBreton & Johnson 2009): ``summary()["beats_random"]`` is True when the interval of (driver's
        importance minus the noise variable's) lies above zero.
    max_exact_drivers : int, default 15
        Largest number of drivers decomposed exactly by ``"shapley"`` (at most 22).
    n_permutations : int, default 2000
        Sampled orders of entry beyond ``max_exact_drivers``; ``monte_carlo_se_`` gives the error.
    min_n_per_driver : float, default 10
        Refuse fewer responses than this many per driver (and always refuse ``n <= p + 1``).

    Attributes
    ----------
    drivers_ : list of str
    outcome_ : str
    importance_ : pandas.Series
        Raw share of R-squared by driver; sums to ``r2_``.
    relative_importance_ : pandas.Series
        ``importance_ / r2_``; sums to 1.
    r2_ : float
        R-squared of the model on all drivers (``R_O**2`` for a binary outcome).
    n_ : float
        Responses behind the analysis.
    n_dropped_ : float
        Responses left out for missing answers (0 for ``fit_correlation``).
    p_value_ : pandas.Series
        Test that the driver adds nothing given all the others: incremental F test (continuous) or
        likelihood-ratio test (binary).
    p_value_test_ : str
    approximation_ : str
        ``"exact"`` or a description of the sampling used.
    monte_carlo_se_ : pandas.Series
        Monte Carlo standard error of each importance (zeros when exact).
    bootstrap_importance_ : pandas.DataFrame or None
        Importances on each resample.
    ci_ : pandas.DataFrame or None
        Percentile intervals of importance and relative importance.
    versus_random_ : pandas.DataFrame or None
        Interval of (importance minus the importance of a noise variable) and whether it is above zero.
    bootstrap_scheme_ : str or None
    n_bootstrap_failed_ : int
        Resamples that could not be fitted and were dropped.

    References
    ----------
    Lindeman, Merenda & Gold (1980); Gromping (2006), JSS 17(1); Johnson (2000), MBR 35(1);
    Tonidandel & LeBreton (2010), ORM 13(4); Tonidandel, LeBreton & Johnson (2009), Psych. Methods 14(4).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame(rng.normal(size=(200, 3)), columns=["price", "staff", "speed"])
    >>> y = pd.Series(X @ [0.6, 0.3, 0.0] + rng.normal(size=200), name="nps")
    >>> kda = KeyDriverAnalysis(method="shapley").fit(X, y)
    >>> kda.importance_.idxmax(), bool(abs(kda.importance_.sum() - kda.r2_) < 1e-12)
    ('price', True)
    """

    def __init__(
        self,
        *,
        method: str = "shapley",
        outcome_type: str = "continuous",
        missing: str = "listwise",
        bootstrap: int = 0,
        confidence: float = 0.95,
        random_state: int | None = None,
        random_variable_test: bool = True,
        max_exact_drivers: int = 15,
        n_permutations: int = 2000,
        min_n_per_driver: float = 10,
    ) -> None:
        self.method = method
        self.outcome_type = outcome_type
        self.missing = missing
        self.bootstrap = bootstrap
        self.confidence = confidence
        self.random_state = random_state
        self.random_variable_test = random_variable_test
        self.max_exact_drivers = max_exact_drivers
        self.n_permutations = n_permutations
        self.min_n_per_driver = min_n_per_driver

    # -- validation -----------------------------------------------------------------------------------
    def _validate_params(self) -> None:
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {self.method!r}")
        if self.outcome_type not in _OUTCOME_TYPES:
            raise ValueError(f"outcome_type must be one of {_OUTCOME_TYPES}, got {self.outcome_type!r}")
        if self.missing not in _MISSING:
            raise ValueError(f"missing must be one of {_MISSING}, got {self.missing!r}")
        if self.outcome_type == "binary" and self.method != "relative_weights":
            raise ValueError(
                "a binary outcome is analysed with method='relative_weights' (logistic relative weights, "
                "Tonidandel & LeBreton 2010); the Shapley decomposition here is of a linear R-squared"
            )
        if self.outcome_type == "binary" and self.missing != "listwise":
            raise ValueError("a binary outcome needs complete responses: use missing='listwise'")
        if int(self.bootstrap) != self.bootstrap or self.bootstrap < 0:
            raise ValueError(f"bootstrap must be a non-negative integer, got {self.bootstrap!r}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"confidence must be between 0 and 1, got {self.confidence!r}")
        if self.max_exact_drivers < 1 or self.max_exact_drivers > 22:
            raise ValueError("max_exact_drivers must be between 1 and 22 (2**22 subsets)")
        if self.n_permutations < 2:
            raise ValueError("n_permutations must be at least 2")
        if self.min_n_per_driver < 0:
            raise ValueError("min_n_per_driver must be non-negative")

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(self.random_state)

    def _paired_function(self, n_drivers: int) -> PairedImportance | None:
        """Exact Shapley with and without the bootstrap's noise driver, from one table of subsets."""
        if self.method != "shapley" or n_drivers + 1 > min(self.max_exact_drivers + 1, 22):
            return None
        return shapley_r2_with_last_removed

    def _importance_function(self, rng: np.random.Generator) -> _Importance:
        if self.method == "relative_weights":
            return lambda corr_xx, corr_xy: relative_weights(corr_xx, corr_xy).importance
        return lambda corr_xx, corr_xy: (
            shapley_r2(
                corr_xx,
                corr_xy,
                max_exact=self.max_exact_drivers,
                n_permutations=self.n_permutations,
                random_state=rng,
            ).importance
        )

    # -- fitting ------------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: pd.Series, sample_weight: Any = None) -> KeyDriverAnalysis:
        """Fit on responses: one row per response, one column per driver.

        Parameters
        ----------
        X : pandas.DataFrame
            Driver answers (numeric; NaN for a missing answer).
        y : pandas.Series or array-like
            Outcome (numeric; 0/1 for ``outcome_type="binary"``).
        sample_weight : array-like, optional
            Frequency weights: the number of respondents each row stands for (non-negative integers).
            Lets the warehouse pass distinct answer patterns with counts instead of every response.

        Returns
        -------
        self
        """
        self._validate_params()
        if not isinstance(X, pd.DataFrame):
            raise TypeError("X must be a pandas DataFrame with one column per driver")
        drivers = [str(c) for c in X.columns]
        if len(set(drivers)) != len(drivers):
            raise DriverAnalysisError("driver names must be unique")
        if len(drivers) == 0:
            raise DriverAnalysisError("no drivers: X has no columns")
        outcome = str(getattr(y, "name", None) or "outcome")
        if outcome in drivers:
            raise DriverAnalysisError(f"the outcome {outcome!r} is also listed as a driver; remove it from X")
        y_values = np.asarray(pd.to_numeric(pd.Series(np.asarray(y)), errors="coerce"), dtype=float)
        if y_values.shape[0] != X.shape[0]:
            raise DriverAnalysisError(f"X has {X.shape[0]} rows but y has {y_values.shape[0]}")
        non_numeric = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c].dtype)]
        if non_numeric:
            raise DriverAnalysisError(
                f"non-numeric driver column(s) {', '.join(map(str, non_numeric))}: code answers as numbers "
                f"(e.g. a 1-5 scale) or one-hot encode categories"
            )
        x_values = X.to_numpy(dtype=float, na_value=np.nan)
        weights = self._weights(sample_weight, X.shape[0])
        values = np.column_stack([y_values, x_values])
        names = [outcome, *drivers]

        keep = weights > 0
        if self.missing == "listwise":
            complete = keep & ~np.isnan(values).any(axis=1)
        else:
            complete = keep & ~np.isnan(values).all(axis=1)
        dropped_listwise = float(weights[keep & ~complete].sum())
        values, weights = values[complete], weights[complete]

        if self.outcome_type == "binary":
            self._fit_binary(values, weights, names, dropped_listwise)
        else:
            self._fit_rows(values, weights, names, dropped_listwise)
        return self

    @staticmethod
    def _weights(sample_weight: Any, n_rows: int) -> np.ndarray:
        if sample_weight is None:
            return np.ones(n_rows)
        weights = np.asarray(sample_weight, dtype=float)
        if weights.shape != (n_rows,):
            raise DriverAnalysisError(f"sample_weight must have one value per row ({n_rows})")
        if not np.all(np.isfinite(weights)) or np.any(weights < 0) or np.any(weights != np.round(weights)):
            raise DriverAnalysisError(
                "sample_weight must be non-negative whole numbers: frequency weights, the number of "
                "respondents a row stands for. Survey (probability) weights are not supported yet."
            )
        return weights

    def _fit_rows(self, values: np.ndarray, weights: np.ndarray, names: list[str], dropped: float) -> None:
        moments = pairwise_moments(values, weights[None, :])
        std_diag = np.diagonal(moments.std[0])
        raise_constant(constant_items(std_diag, np.nanmax(np.abs(values), axis=0, initial=0.0), names))
        pair_n = moments.n[0]
        n = float(pair_n.min()) if values.shape[0] else 0.0
        total = float(weights.sum())
        corr = moments.corr[0]
        self.pairwise_n_: pd.DataFrame | None = None
        if self.missing == "pairwise":
            self.n_dropped_ = dropped + (total - n)
            self.pairwise_n_ = pd.DataFrame(pair_n, index=names, columns=names)
        else:
            self.n_dropped_ = dropped
        p = len(names) - 1
        check_sample_size(n, p, self.min_n_per_driver)
        check_correlation_matrix(corr, names)
        if self.missing == "pairwise" and np.linalg.eigvalsh(corr)[0] < 0:
            raise DriverAnalysisError(
                "the pairwise correlations do not form a valid (positive definite) correlation matrix: too "
                "many responses answered different subsets of items. Use missing='listwise'."
            )
        check_collinearity(corr[1:, 1:], names[1:])
        self._set_linear_fit(corr, n, names)
        self._set_bootstrap(None)
        if self.bootstrap:
            rng = self._rng()
            draws = bootstrap_rows(
                values,
                weights,
                self._importance_function(rng),
                n_resamples=int(self.bootstrap),
                rng=rng,
                test_random=self.random_variable_test,
                paired=self._paired_function(p),
            )
            self._set_bootstrap(draws)

    def fit_correlation(self, corr: pd.DataFrame, n: float, *, outcome: str) -> KeyDriverAnalysis:
        """Fit on a correlation (or covariance) matrix of the outcome and the drivers.

        The warehouse can compute the matrix (counts, sums and cross-products) and pass it instead of rows.
        Bootstrap intervals are then parametric (Wishart, assuming multivariate normal responses).

        A binary outcome cannot be analysed from correlations (the logistic fit needs rows): pass the
        distinct answer patterns with their counts to ``fit(X, y, sample_weight=counts)`` instead.

        Parameters
        ----------
        corr : pandas.DataFrame
            Square matrix whose index and columns both list the outcome and the drivers.
        n : float
            Number of complete responses behind the matrix.
        outcome : str
            Name of the outcome in ``corr``; every other column is a driver, in column order.

        Returns
        -------
        self
        """
        self._validate_params()
        if self.outcome_type == "binary":
            raise DriverAnalysisError(
                "a binary outcome cannot be analysed from a correlation matrix: the logistic regression "
                "behind logistic relative weights needs rows. Pass the distinct answer patterns and their "
                "counts to fit(X, y, sample_weight=counts)."
            )
        if not isinstance(corr, pd.DataFrame):
            raise TypeError("corr must be a pandas DataFrame with the variable names as index and columns")
        if outcome not in corr.columns or outcome not in corr.index:
            raise DriverAnalysisError(f"outcome {outcome!r} is not in the matrix's index and columns")
        drivers = [str(c) for c in corr.columns if c != outcome]
        order = [outcome, *drivers]
        missing_rows = [c for c in order if c not in corr.index]
        if missing_rows:
            raise DriverAnalysisError(f"the matrix's index lacks {', '.join(missing_rows)}")
        matrix = corr.loc[order, order].to_numpy(dtype=float)
        diag = np.diag(matrix)
        raise_constant([name for name, d in zip(order, diag, strict=True) if not d > 0])
        if not np.allclose(diag, 1.0, atol=1e-8):
            matrix = correlation_from_covariance(matrix)
        check_correlation_matrix(matrix, order)
        check_sample_size(float(n), len(drivers), self.min_n_per_driver)
        check_collinearity(matrix[1:, 1:], drivers)
        self.n_dropped_ = 0.0
        self.pairwise_n_ = None
        self._set_linear_fit(matrix, float(n), order)
        self._set_bootstrap(None)
        if self.bootstrap:
            dims = len(order) + (1 if self.random_variable_test else 0)
            if n - 1 < dims:
                raise DriverAnalysisError(f"a parametric bootstrap of {dims} variables needs n > {dims}")
            rng = self._rng()
            draws = bootstrap_correlation(
                matrix,
                float(n),
                self._importance_function(rng),
                n_resamples=int(self.bootstrap),
                rng=rng,
                test_random=self.random_variable_test,
                paired=self._paired_function(len(drivers)),
            )
            self._set_bootstrap(draws)
        return self

    def _set_linear_fit(self, corr: np.ndarray, n: float, names: list[str]) -> None:
        corr_xx, corr_xy = corr[1:, 1:], corr[1:, 0]
        drivers = names[1:]
        p = len(drivers)
        if self.method == "shapley":
            result = shapley_r2(
                corr_xx,
                corr_xy,
                max_exact=self.max_exact_drivers,
                n_permutations=self.n_permutations,
                random_state=self._rng(),
            )
            importance, r2, se = result.importance, result.r2, result.standard_error
            self.approximation_ = (
                "exact" if result.exact else f"permutation sampling ({result.n_permutations} orders)"
            )
        else:
            rw = relative_weights(corr_xx, corr_xy)
            importance, r2, se = rw.importance, rw.r2, np.zeros(p)
            self.approximation_ = "exact"
        # Incremental F test: R-squared lost when driver j leaves, relative to the residual variance.
        inverse = np.linalg.inv(corr_xx)
        beta = inverse @ corr_xy
        usefulness = beta**2 / np.diag(inverse)
        df_resid = n - p - 1
        residual = max(1.0 - r2, np.finfo(float).tiny)
        f_stat = usefulness * df_resid / residual
        self._set_common(names, importance, r2, n, se)
        self.p_value_ = pd.Series(stats.f.sf(f_stat, 1, df_resid), index=drivers, name="p_value")
        self.p_value_test_ = f"incremental F test of the driver given all others (1, {df_resid:g} df)"

    def _fit_binary(self, values: np.ndarray, weights: np.ndarray, names: list[str], dropped: float) -> None:
        y, x = values[:, 0], values[:, 1:]
        drivers = names[1:]
        if not np.all(np.isin(y, (0.0, 1.0))):
            raise DriverAnalysisError(
                f"a binary outcome must be coded 0/1; {names[0]} has other values "
                f"({', '.join(map(str, np.unique(y[~np.isin(y, (0.0, 1.0))])[:5]))})"
            )
        positives = float(weights[y == 1].sum())
        total = float(weights.sum())
        if positives == 0 or positives == total:
            raise DriverAnalysisError(
                f"the outcome {names[0]} has only one value among the {total:g} responses; a binary driver "
                f"analysis needs both outcomes"
            )
        sd = np.sqrt(np.average((x - np.average(x, axis=0, weights=weights)) ** 2, axis=0, weights=weights))
        raise_constant(constant_items(sd, np.max(np.abs(x), axis=0, initial=0.0), drivers))
        self.n_dropped_ = dropped
        self.pairwise_n_ = None
        check_sample_size(total, len(drivers), self.min_n_per_driver)
        corr_xx = correlation_from_covariance(np.atleast_2d(np.cov(x, rowvar=False, aweights=weights)))
        check_collinearity(np.atleast_2d(corr_xx), drivers)
        result = logistic_relative_weights(x, y, weights)
        self.approximation_ = "exact"
        self._set_common(names, result.importance, result.r2, total, np.zeros(len(drivers)))
        self.p_value_ = pd.Series(
            likelihood_ratio_pvalues(x, y, weights, result.fit.deviance), index=drivers, name="p_value"
        )
        self.p_value_test_ = "likelihood-ratio test of the driver given all others (chi-squared, 1 df)"
        self.mcfadden_r2_ = 1.0 - result.fit.deviance / result.null_deviance
        self._set_bootstrap(None)
        if self.bootstrap:
            draws = bootstrap_binary_rows(
                x,
                y,
                weights,
                n_resamples=int(self.bootstrap),
                rng=self._rng(),
                test_random=self.random_variable_test,
            )
            self._set_bootstrap(draws)

    def _set_common(
        self, names: list[str], importance: np.ndarray, r2: float, n: float, se: np.ndarray
    ) -> None:
        drivers = names[1:]
        self.outcome_ = names[0]
        self.drivers_ = list(drivers)
        self.importance_ = pd.Series(importance, index=drivers, name="importance")
        self.r2_ = float(r2)
        self.relative_importance_ = pd.Series(importance / r2, index=drivers, name="relative_importance")
        self.n_ = float(n)
        self.monte_carlo_se_ = pd.Series(se, index=drivers, name="monte_carlo_se")

    def _set_bootstrap(self, draws: BootstrapDraws | None) -> None:
        if draws is None:
            self.bootstrap_importance_ = None
            self.ci_ = None
            self.versus_random_ = None
            self.bootstrap_scheme_ = None
            self.n_bootstrap_failed_ = 0
            return
        drivers = self.drivers_
        usable = ~np.isnan(draws.importance).any(axis=1)
        if usable.sum() < 2:
            raise DriverAnalysisError(
                "almost every bootstrap resample failed (constant or collinear items, or separation, in "
                "the resamples); the sample is too small or too degenerate for intervals"
            )
        shares = draws.importance
        with np.errstate(invalid="ignore", divide="ignore"):
            relative = shares / shares.sum(axis=1, keepdims=True)
        low, high = percentile_interval(shares, self.confidence)
        rel_low, rel_high = percentile_interval(relative, self.confidence)
        self.bootstrap_importance_ = pd.DataFrame(shares, columns=drivers)
        self.ci_ = pd.DataFrame(
            {
                "importance_low": low,
                "importance_high": high,
                "relative_low": rel_low,
                "relative_high": rel_high,
            },
            index=drivers,
        )
        if draws.versus_random is not None:
            diff_low, diff_high = percentile_interval(draws.versus_random, self.confidence)
            self.versus_random_ = pd.DataFrame(
                {"difference_low": diff_low, "difference_high": diff_high, "beats_random": diff_low > 0},
                index=drivers,
            )
        else:
            self.versus_random_ = None
        self.bootstrap_scheme_ = draws.scheme
        self.n_bootstrap_failed_ = draws.n_failed

    # -- results -----------------------------------------------------------------------------------
    def summary(self) -> pd.DataFrame:
        """One row per driver, most important first.

        Columns: ``importance``, ``relative_importance``, ``rank``, ``p_value``; ``monte_carlo_se`` when the
        Shapley shares were sampled; with a bootstrap, the percentile interval of each (``*_low``,
        ``*_high``) and, with the random-variable test, ``beats_random``. ``DataFrame.attrs`` carries the
        method, outcome, ``n``, ``r2`` and the tests used.
        """
        self.check_fitted("importance_", "n_bootstrap_failed_")
        table = pd.DataFrame(
            {
                "importance": self.importance_,
                "relative_importance": self.relative_importance_,
                "rank": self.importance_.rank(ascending=False, method="min").astype(int),
                "p_value": self.p_value_,
            }
        )
        if self.approximation_ != "exact":
            table["monte_carlo_se"] = self.monte_carlo_se_
        if self.ci_ is not None:
            table = table.join(self.ci_)
        if self.versus_random_ is not None:
            table = table.join(self.versus_random_)
        table = table.sort_values(["rank", "importance"], ascending=[True, False])
        table.index.name = "driver"
        table.attrs.update(
            method=self.method,
            outcome_type=self.outcome_type,
            outcome=self.outcome_,
            n=self.n_,
            n_dropped=self.n_dropped_,
            r2=self.r2_,
            approximation=self.approximation_,
            p_value_test=self.p_value_test_,
            bootstrap=self.bootstrap_scheme_,
            confidence=self.confidence if self.ci_ is not None else None,
        )
        return table

    def _repr_html_(self) -> str:
        if not hasattr(self, "importance_"):
            return f"<pre>{html.escape(repr(self))}</pre>"
        r2_label = "R<sub>O</sub>&sup2;" if self.outcome_type == "binary" else "R&sup2;"
        method = "Shapley / LMG" if self.method == "shapley" else "relative weights"
        if self.outcome_type == "binary":
            method = "logistic relative weights"
        caption = (
            f"<p><b>Key drivers of {html.escape(self.outcome_)}</b> &mdash; {method} "
            f"({html.escape(self.approximation_)}); n = {self.n_:g}"
            f"{f' ({self.n_dropped_:g} dropped for missing answers)' if self.n_dropped_ else ''}; "
            f"{r2_label} = {self.r2_:.3f}</p>"
        )
        notes = [f"p-value: {html.escape(self.p_value_test_)}."]
        if self.ci_ is not None:
            notes.append(
                f"{self.confidence:.0%} percentile intervals, {self.bootstrap_scheme_} bootstrap "
                f"({int(self.bootstrap) - self.n_bootstrap_failed_} usable resamples)."
            )
        table = self.summary().to_html(float_format=lambda v: f"{v:.4f}", border=0)
        return caption + table + f"<p><small>{' '.join(notes)}</small></p>"
