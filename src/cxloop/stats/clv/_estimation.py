"""Maximum-likelihood machinery shared by the customer-base models.

Every model here has strictly positive parameters. They are estimated on the log scale (unconstrained,
and the likelihood surface is far better conditioned there), the observed information is the numerical
Hessian of the negative log-likelihood at the optimum in that parametrisation, and the delta method takes
the covariance back to the natural scale. Confidence intervals are built on the log scale and
exponentiated, so they never cross zero.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize, stats

from cxloop.stats._base import Estimator

FloatArray = NDArray[np.float64]
#: An objective on the log-parameters returning (mean negative log-likelihood, its gradient).
Objective = Callable[[FloatArray], tuple[float, FloatArray]]

_LOG_BOUND = 25.0  # exp(25) ~ 7e10: far beyond any sensible parameter, small enough to keep terms finite


def dot(a: FloatArray, b: FloatArray) -> float:
    """Inner product of two long vectors without BLAS.

    BLAS ``ddot`` spreads a memory-bound loop over threads that spin-wait on a busy machine; this
    single-threaded ``einsum`` does not (measured in ``docs/value.md``).
    """
    return float(np.einsum("i,i->", a, b))


class ConvergenceError(RuntimeError):
    """The optimiser stopped away from a maximum of the likelihood."""


def compress(*columns: NDArray[Any]) -> tuple[FloatArray, FloatArray, NDArray[np.intp]]:
    """Distinct rows of the stacked ``columns`` with their counts.

    Customer-base likelihoods depend on a customer only through a few sufficient statistics, and real
    data repeat the same combinations many times: fitting on distinct rows with integer weights is
    exact and makes a million customers as cheap as a few thousand.

    The result is that of ``np.unique(np.column_stack(columns), axis=0, return_inverse=True,
    return_counts=True)`` (rows in lexicographic order), computed from 1-d ``np.unique`` calls on
    integer codes, which is much faster than the row-wise sort (``docs/value.md``).

    Returns
    -------
    rows : (k, len(columns)) array of the distinct combinations
    counts : (k,) float array, how many customers share each row
    inverse : (n,) index of each customer's row in ``rows``
    """
    stacked = np.column_stack([np.asarray(c, dtype=np.float64) for c in columns])
    n = len(stacked)
    key = np.zeros(n, dtype=np.int64)
    span = 1
    for j in range(stacked.shape[1]):
        codes, size = _rank_codes(stacked[:, j])
        if span * size >= 2**62:  # rare: re-number the codes so far densely before combining
            key = np.unique(key, return_inverse=True)[1].reshape(-1)
            span = int(key.max()) + 1
        key = key * size + codes
        span *= size
    # One unstable argsort of the combined integer code; groups are runs of equal codes.
    order = np.argsort(key)
    sorted_key = key[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_key[1:] != sorted_key[:-1])))
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.cumsum(np.concatenate(([False], sorted_key[1:] != sorted_key[:-1])))
    counts = np.diff(np.append(starts, n)).astype(np.float64)
    return stacked[order[starts]], counts, inverse


def _rank_codes(column: FloatArray) -> tuple[NDArray[np.int64], int]:
    """Integer codes that order like ``column`` (equal values, equal codes) and their range."""
    if len(column) and column.min() >= 0 and column.max() < 2**20 and np.all(column == np.floor(column)):
        # Counts (frequency, periods): the value is its own code, no sort needed.
        return column.astype(np.int64), int(column.max()) + 1
    values, codes = np.unique(column, return_inverse=True)
    return codes.reshape(-1).astype(np.int64), len(values)


def maximise(
    objective: Objective,
    start: FloatArray,
    *,
    tol: float,
    max_iter: int,
    warm_up: Objective | None = None,
) -> tuple[FloatArray, int]:
    """Minimise a mean negative log-likelihood over log-parameters; returns the optimum and iterations.

    ``warm_up``, when given, is the same mean objective on a systematic subsample of the rows: it is
    minimised first (cheaply), and its end point and curvature start the full problem, which then
    needs only a few evaluations of the expensive likelihood.

    A small BFGS with an Armijo line search does the travelling (these models have two to four
    parameters, so its matrices are tiny and it runs in plain numpy), then a few Newton steps on the
    finite-difference Hessian of the analytic gradient finish quadratically. scipy's L-BFGS-B reached
    the same optimum but its per-iteration LAPACK calls spin up BLAS threads: on a busy two-core
    machine that cost more than the likelihood of a million customers. Nelder-Mead is the last resort.
    Convergence means a gradient of the mean log-likelihood below ``tol`` on the log scale.
    """
    x = np.asarray(start, dtype=np.float64)
    inverse_hessian = None
    iterations = 0
    if warm_up is not None:
        x, inverse_hessian, iterations = _bfgs(warm_up, x, 100 * tol, max_iter, None)
    x, _, full_iterations = _bfgs(objective, x, tol, max_iter, inverse_hessian)
    iterations += full_iterations
    x, polish = _newton_polish(objective, x, tol)
    iterations += polish
    if _is_stationary(objective, x, tol):
        _refuse_boundary(x)
        return x, iterations
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(start)
    fallback = optimize.minimize(
        lambda u: objective(u)[0],
        x,
        method="Nelder-Mead",
        bounds=bounds,
        options={"maxiter": 400 * len(start), "xatol": 1e-10, "fatol": 1e-15},
    )
    x, polish = _newton_polish(objective, np.asarray(fallback.x, dtype=np.float64), tol)
    iterations += fallback.nit + polish
    if not _is_stationary(objective, x, 10 * tol):
        grad = objective(x)[1]
        drifting = _drifting(x)
        hint = f" {_boundary_hint(drifting)}" if drifting else ""
        raise ConvergenceError(
            f"the likelihood maximisation did not converge (|gradient| = {np.max(np.abs(grad)):.2e} "
            f"on the log-parameter scale).{hint} A small penalizer keeps the estimates finite."
        )
    _refuse_boundary(x)
    return x, iterations


def _drifting(x: FloatArray) -> list[int]:
    """Indices of log-parameters beyond +-12 (parameters above e^12 or below e^-12)."""
    return [i for i, u in enumerate(x) if abs(u) > 12]


def _boundary_hint(drifting: list[int]) -> str:
    return (
        f"Parameters {drifting} (in model order) ran off towards 0 or infinity: the maximum lies on the "
        "boundary, which usually means the data show no heterogeneity along that direction."
    )


def _refuse_boundary(x: FloatArray) -> None:
    """A flat likelihood far out on the boundary looks stationary; it is still not an estimate."""
    drifting = _drifting(x)
    if drifting:
        raise ConvergenceError(
            f"the likelihood maximum is not finite. {_boundary_hint(drifting)} "
            "A small penalizer keeps the estimates finite."
        )


def _bfgs(
    objective: Objective, x: FloatArray, tol: float, max_iter: int, inverse_hessian: FloatArray | None
) -> tuple[FloatArray, FloatArray, int]:
    """Quasi-Newton descent with backtracking; steps are capped so the log-parameters cannot fly off."""
    value, grad = objective(x)
    if not np.isfinite(value):
        raise ValueError("the log-likelihood is not finite at the starting values")
    k = len(x)
    warm = inverse_hessian is not None
    inverse_hessian = np.eye(k) if inverse_hessian is None else inverse_hessian
    iteration = 0
    for iteration in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        if np.max(np.abs(grad)) <= tol:
            break
        direction = -inverse_hessian @ grad
        slope = float(grad @ direction)
        if slope >= 0:  # lost positive definiteness: restart from steepest descent
            inverse_hessian = np.eye(k)
            direction, slope = -grad, -float(grad @ grad)
        longest = float(np.max(np.abs(direction)))
        if longest > 2.0:  # at most a factor e^2 per step on any parameter
            direction *= 2.0 / longest
            slope *= 2.0 / longest
        step = 1.0
        while True:
            candidate = np.clip(x + step * direction, -_LOG_BOUND, _LOG_BOUND)
            new_value, new_grad = objective(candidate)
            if np.isfinite(new_value) and new_value <= value + 1e-4 * step * slope:
                break
            step *= 0.5
            if step < 1e-12:
                return x, inverse_hessian, iteration  # no progress possible along this direction
        s, y = candidate - x, new_grad - grad
        sy = float(s @ y)
        if sy > 1e-12 * float(np.sqrt((s @ s) * (y @ y))):
            if iteration == 1 and not warm:
                inverse_hessian = np.eye(k) * sy / float(y @ y)
            rho = 1.0 / sy
            v = np.eye(k) - rho * np.outer(s, y)
            inverse_hessian = v @ inverse_hessian @ v.T + rho * np.outer(s, s)
        x, value, grad = candidate, new_value, new_grad
    return x, inverse_hessian, iteration


def _newton_polish(objective: Objective, x: FloatArray, tol: float, steps: int = 8) -> tuple[FloatArray, int]:
    """Damped Newton steps from ``x`` while they lower the objective; stops once stationary."""
    value, grad = objective(x)
    done = 0
    for done in range(steps):  # noqa: B007 - the count is reported
        if not np.isfinite(value) or np.max(np.abs(grad)) <= tol:
            break
        hessian = observed_information(lambda u: objective(u)[1], x)
        try:
            step = np.linalg.solve(hessian, grad)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)) or grad @ step <= 0:  # not a descent direction: not near a maximum
            break
        for scale in (1.0, 0.5, 0.25, 0.125):
            candidate = np.clip(x - scale * step, -_LOG_BOUND, _LOG_BOUND)
            new_value, new_grad = objective(candidate)
            if np.isfinite(new_value) and new_value <= value + 1e-15 * abs(value):
                x, value, grad = candidate, new_value, new_grad
                break
        else:
            break
    return x, done


def _is_stationary(objective: Objective, x: FloatArray, tol: float) -> bool:
    value, grad = objective(np.asarray(x, dtype=np.float64))
    return bool(np.isfinite(value) and np.all(np.isfinite(grad)) and np.max(np.abs(grad)) <= tol)


def observed_information(gradient: Callable[[FloatArray], FloatArray], x: FloatArray) -> FloatArray:
    """Hessian of the total negative log-likelihood by central differences of its analytic gradient."""
    k = len(x)
    hessian = np.empty((k, k))
    for i in range(k):
        h = 1e-5 * max(1.0, abs(float(x[i])))
        up, down = x.copy(), x.copy()
        up[i] += h
        down[i] -= h
        hessian[i] = (gradient(up) - gradient(down)) / (2 * h)
    return 0.5 * (hessian + hessian.T)


def log_scale_covariance(information: FloatArray) -> FloatArray:
    """Invert the observed information; NaN where it is singular (a parameter on a flat ridge)."""
    try:
        cov = np.linalg.inv(information)
    except np.linalg.LinAlgError:
        return np.full_like(information, np.nan)
    if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) <= 0):
        return np.full_like(information, np.nan)
    return np.asarray(cov, dtype=np.float64)


class FittedModel(Estimator):
    """Attributes and reporting common to the fitted customer-base models.

    Subclasses define ``_PARAMETER_NAMES`` and set, in ``fit``, the fitted attributes through
    :meth:`_store_fit`; the parameter protocol and the fitted check are :class:`Estimator`'s.
    """

    _PARAMETER_NAMES: tuple[str, ...] = ()
    _TITLE = ""

    params_: dict[str, float]
    log_likelihood_: float
    n_: int
    covariance_: FloatArray
    log_covariance_: FloatArray
    n_iter_: int

    def _store_fit(
        self,
        log_params: FloatArray,
        *,
        log_likelihood: float,
        n: int,
        information: FloatArray,
        n_iter: int,
    ) -> None:
        estimates = np.exp(log_params)
        self.params_ = {name: float(v) for name, v in zip(self._PARAMETER_NAMES, estimates, strict=True)}
        self.log_likelihood_ = float(log_likelihood)
        self.n_ = int(n)
        self.log_covariance_ = log_scale_covariance(information)
        # Delta method: d exp(u)/du = exp(u).
        self.covariance_ = self.log_covariance_ * np.outer(estimates, estimates)
        self.n_iter_ = int(n_iter)

    @property
    def standard_errors_(self) -> dict[str, float]:
        """Standard errors of the estimates on their natural scale (delta method)."""
        self.check_fitted("params_")
        se = np.sqrt(np.diag(self.covariance_))
        return {name: float(v) for name, v in zip(self._PARAMETER_NAMES, se, strict=True)}

    def _param_array(self) -> FloatArray:
        self.check_fitted("params_")
        return np.array([self.params_[name] for name in self._PARAMETER_NAMES])

    def summary(self, confidence: float = 0.95) -> pd.DataFrame:
        """The estimates with standard errors and confidence intervals.

        The interval is computed for the log of the parameter (where the likelihood is close to
        quadratic) and exponentiated, so it is asymmetric and always positive. The frame's ``attrs``
        carry ``n``, ``log_likelihood`` and ``confidence``.
        """
        self.check_fitted("params_")
        if not 0 < confidence < 1:
            raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
        estimates = self._param_array()
        log_se = np.sqrt(np.diag(self.log_covariance_))
        z = stats.norm.ppf(0.5 + confidence / 2)
        frame = pd.DataFrame(
            {
                "estimate": estimates,
                "se": np.sqrt(np.diag(self.covariance_)),
                "ci_lower": estimates * np.exp(-z * log_se),
                "ci_upper": estimates * np.exp(z * log_se),
            },
            index=pd.Index(self._PARAMETER_NAMES, name="parameter"),
        )
        frame.attrs.update(n=self.n_, log_likelihood=self.log_likelihood_, confidence=confidence)
        return frame

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return super().__repr__()
        fitted = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        ll = f"log-likelihood={self.log_likelihood_:.2f}"
        return f"<{super().__repr__()} fitted on n={self.n_:,}: {fitted}, {ll}>"

    def _repr_html_(self) -> str:
        hyperparameters = html.escape(Estimator.__repr__(self))
        head = f"<strong>{html.escape(self._TITLE)}</strong> <code>{hyperparameters}</code>"
        if not hasattr(self, "params_"):
            return f"<div>{head}<p>not fitted</p></div>"
        facts = f"<p>n = {self.n_:,} customers; log-likelihood = {self.log_likelihood_:,.2f}</p>"
        table = self.summary().to_html(float_format=lambda v: f"{v:.4g}")
        return f"<div>{head}{facts}{table}</div>"


def as_float_array(name: str, values: Any) -> FloatArray:
    """A finite 1-d float array, or a ValueError naming the input."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains missing or infinite values")
    return array


def same_length(**arrays: FloatArray) -> int:
    """The common length of the arrays, or a ValueError listing the lengths."""
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"inputs must have the same length, got {lengths}")
    (n,) = set(lengths.values())
    if n == 0:
        raise ValueError("no customers given")
    return n


def require_integers(name: str, array: FloatArray) -> None:
    if np.any(array != np.round(array)):
        raise ValueError(f"{name} must hold whole numbers")
