"""The effect of themes on a score: OLS of the score on theme-presence indicators, HC3 robust intervals.

``score = b0 + sum_j effect_j * theme_j [+ sum_k g_k * covariate_k] + e``. With the rated driver items as
covariates, ``effect_j`` is what a theme costs (or earns) beyond what the ratings already explain: the
theme's own weight, not the bad experience it is a symptom of. Without them it is the total association.

Rows may carry frequency weights (identical rows grouped in the warehouse): the estimates, and the HC0/HC3
sandwich, are then exactly those of the expanded data, since identical rows share residual and leverage.

References
----------
.. [1] MacKinnon, J. G. & White, H. (1985). Some heteroskedasticity-consistent covariance matrix
   estimators with improved finite sample properties. *Journal of Econometrics*, 29(3), 305-325.
.. [2] Long, J. S. & Ervin, L. H. (2000). Using heteroscedasticity consistent standard errors in the
   linear regression model. *The American Statistician*, 54(3), 217-224.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

__all__ = ["ThemeEffects", "theme_effects"]


@dataclass(frozen=True)
class ThemeEffects:
    """Per theme: ``effect`` (score points when the theme is present), ``se``, interval, p-value, ``n``."""

    frame: pd.DataFrame
    n: int
    r_squared: float
    confidence: float
    covariates: tuple[str, ...]

    def to_frame(self) -> pd.DataFrame:
        return self.frame

    def summary(self) -> str:
        head = (
            f"theme effects (OLS, HC3), n={self.n}, R2={self.r_squared:.3f}, "
            f"{len(self.covariates)} covariates"
        )
        return head + "\n" + self.frame.round(3).to_string()


def theme_effects(
    themes: np.ndarray,
    score: np.ndarray,
    names: tuple[str, ...] | list[str],
    *,
    covariates: np.ndarray | None = None,
    covariate_names: tuple[str, ...] | list[str] = (),
    weights: np.ndarray | None = None,
    confidence: float = 0.95,
) -> ThemeEffects:
    """OLS of ``score`` on an intercept, the 0/1 ``themes`` columns and optional ``covariates``.

    Parameters
    ----------
    themes : (n, k) array of 0/1
    score : (n,) array
    names : theme names (k)
    covariates : (n, m) array, optional
    weights : (n,) frequency weights, optional (default 1)
    confidence : interval level

    Returns
    -------
    ThemeEffects
        Rows for the themes only (covariates are controls). Themes never present get NaN.

    Raises
    ------
    ValueError
        If there are fewer rows (total weight) than parameters + 1.
    """
    themes = np.asarray(themes, dtype=float)
    y = np.asarray(score, dtype=float)
    n_rows, k = themes.shape
    w = np.ones(n_rows) if weights is None else np.asarray(weights, dtype=float)
    present = (w[:, None] * themes).sum(axis=0) > 0
    parts = [np.ones((n_rows, 1)), themes[:, present]]
    if covariates is not None and np.size(covariates):
        parts.append(np.asarray(covariates, dtype=float).reshape(n_rows, -1))
    x = np.hstack(parts)
    p = x.shape[1]
    n = float(w.sum())
    if n <= p:
        raise ValueError(f"{n:.0f} observations cannot fit {p} parameters")
    xtwx = x.T @ (w[:, None] * x)
    xtwx_inv = np.linalg.pinv(xtwx)
    beta = xtwx_inv @ (x.T @ (w * y))
    resid = y - x @ beta
    leverage = np.einsum("ij,jk,ik->i", x, xtwx_inv, x)
    scale = resid**2 / np.clip(1.0 - leverage, 1e-12, None) ** 2
    meat = x.T @ ((w * scale)[:, None] * x)
    cov = xtwx_inv @ meat @ xtwx_inv
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    t_crit = sps.t.ppf(0.5 + confidence / 2, n - p)
    mean = np.average(y, weights=w)
    r2 = 1.0 - float(w @ resid**2) / float(w @ (y - mean) ** 2)

    effect = np.full(k, np.nan)
    err = np.full(k, np.nan)
    effect[present] = beta[1 : 1 + present.sum()]
    err[present] = se[1 : 1 + present.sum()]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = effect / err
    frame = pd.DataFrame(
        {
            "theme": list(names),
            "n": (w[:, None] * themes).sum(axis=0).astype(np.int64),
            "effect": effect,
            "se": err,
            "ci_low": effect - t_crit * err,
            "ci_high": effect + t_crit * err,
            "p_value": 2 * sps.t.sf(np.abs(t), n - p),
        }
    )
    return ThemeEffects(
        frame=frame, n=int(n), r_squared=r2, confidence=confidence, covariates=tuple(covariate_names)
    )
