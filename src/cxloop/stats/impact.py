"""Pilot impact: two-way fixed-effects difference-in-differences with inference for few treated units.

:class:`PilotImpact` fits, on a unit x period panel (one row per cell, or several observations per cell),

.. math:: y_{it} = \\alpha_i + \\gamma_t + \\beta D_{it} + \\varepsilon_{it},
   \\qquad D_{it} = \\text{treated}_i \\times \\text{post}_{it}

by weighted least squares (weights, e.g. responses per cell, are optional), and reports ``beta`` (the
average effect on the treated units in the post periods) with an interval and a p-value from one of:

``"wild_cluster"`` (default)
    Wild cluster bootstrap-t, restricted (WCR: the null is imposed on the residuals), Rademacher or Webb
    six-point weights drawn per unit; all :math:`2^G` Rademacher sign vectors are enumerated when that is
    fewer than ``n_resamples``. The interval inverts the bootstrap test (the set of effects not rejected).
    Cameron, Gelbach & Miller (2008); MacKinnon & Webb (2017, 2018).
``"randomization"``
    Fisher randomisation inference: which units are treated is permuted among all units (same number
    treated, same post periods); exact (every assignment enumerated) when there are at most
    ``n_resamples`` assignments. The interval inverts the test under a constant additive effect.
    Valid with one or two treated units, where cluster-robust methods fail (Conley & Taber 2011;
    MacKinnon & Webb 2020).
``"cluster"``
    CR1 cluster-robust standard error by unit, t with G - 1 degrees of freedom; shown for comparison (it
    over-rejects when few units are treated).
``"ols"``
    Classical homoskedastic OLS standard error (for textbook comparisons only).

The event study uses the CR1 covariance: leads and lags of treatment relative to the first post period,
the period just before it as reference. The pre-trend check tests the slope of the treated-minus-control
gap over the pre-periods (one degree of freedom, CR1 t test with G - 1 df, so it stays usable with many
pre-periods and few units) and, when there are at least twice as many units as leads, the joint Wald F
test that all leads are zero. A non-significant pre-trend test is not proof of parallel trends (it has
little power with few units).

References
----------
Angrist, J. D. & Pischke, J.-S. (2009). *Mostly Harmless Econometrics*, ch. 5. Princeton University Press.
Cameron, A. C., Gelbach, J. B. & Miller, D. L. (2008). Bootstrap-based improvements for inference with
clustered errors. *Review of Economics and Statistics* 90(3), 414-427.
Conley, T. G. & Taber, C. R. (2011). Inference with "difference in differences" with a small number of
policy changes. *Review of Economics and Statistics* 93(1), 113-125.
MacKinnon, J. G. & Webb, M. D. (2017). Wild bootstrap inference for wildly different cluster sizes.
*Journal of Applied Econometrics* 32(2), 233-254.
MacKinnon, J. G. & Webb, M. D. (2020). Randomization inference for difference-in-differences with few
treated clusters. *Journal of Econometrics* 218(2), 435-450.
Webb, M. D. (2023). Reworking wild bootstrap-based inference for clustered errors. *Canadian Journal of
Economics* 56(3), 839-858.
Wooldridge, J. M. (2020). *Introductory Econometrics: A Modern Approach*, 7th ed., section 13.2.

Example
-------
>>> fit = PilotImpact(inference="cluster").fit(  # doctest: +SKIP
...     panel, outcome="nps", unit="branch", period="month", treated="pilot", post="after")
>>> fit.effect_, fit.ci_, fit.p_value_  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats as sps

from cxloop.stats._base import Estimator

__all__ = ["ASSUMPTIONS", "Inference", "PilotImpact", "PilotImpactSummary", "event_study_figure"]

Inference = Literal["wild_cluster", "randomization", "cluster", "ols"]
_INFERENCES = ("wild_cluster", "randomization", "cluster", "ols")

ASSUMPTIONS = (
    "Difference-in-differences assumes (1) parallel trends: without the pilot, treated and control units "
    "would have moved alike (the pre-trend test and event study can reveal a violation, not prove its "
    "absence); (2) no anticipation: nothing changed in the treated units before the start; (3) no "
    "spill-over to control units and no other change hitting only the treated units at the same time; "
    "(4) the effect is the same-timing average effect on the treated units over the post periods. "
    "Units are independent clusters; the wild cluster bootstrap and randomisation inference keep the "
    "error rate near its nominal level with few treated units, CR1 does not."
)

_WEBB = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])


@dataclass(frozen=True)
class PilotImpactSummary:
    """The headline numbers of a fitted :class:`PilotImpact`."""

    outcome: str
    effect: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float
    inference: str
    n_treated: int
    n_control: int
    n_periods: int
    pre_trend_p_value: float

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([self.__dict__])

    def summary(self) -> pd.DataFrame:
        """The headline numbers as a one-row table (the :meth:`to_frame` row)."""
        return self.to_frame()

    def summary_text(self) -> str:
        """One paragraph: effect, interval, p-value, method, sizes, pre-trend test."""
        level = f"{self.confidence:.0%}"
        return (
            f"Effect on {self.outcome}: {self.effect:+.3f} ({level} CI {self.ci_low:+.3f} to "
            f"{self.ci_high:+.3f}), p = {self.p_value:.3g} [{self.inference}]; se {self.se:.3f}; "
            f"{self.n_treated} treated vs {self.n_control} control units over {self.n_periods} periods; "
            f"pre-trend p = {self.pre_trend_p_value:.3g}"
        )


class _Projector:
    """Weighted residual maker of the unit and period fixed effects: ``M z = z - F (F'WF)^-1 F'W z``."""

    def __init__(self, unit_idx: NDArray[np.int64], period_idx: NDArray[np.int64], sw: NDArray[np.float64]):
        n_units = int(unit_idx.max()) + 1
        n_periods = int(period_idx.max()) + 1
        fe = np.zeros((len(unit_idx), n_units + n_periods - 1))
        fe[np.arange(len(unit_idx)), unit_idx] = 1.0
        later = period_idx > 0
        fe[np.flatnonzero(later), n_units + period_idx[later] - 1] = 1.0
        q, r = np.linalg.qr(sw[:, None] * fe)
        keep = np.abs(np.diag(r)) > 1e-10 * max(1.0, float(np.abs(np.diag(r)).max()))
        self.q = q[:, keep]
        self.sw = sw

    def residual(self, z: NDArray[np.float64]) -> NDArray[np.float64]:
        """Residual of ``z`` (N or N x B) on the fixed effects, in sqrt-weight-scaled units."""
        zs = z * (self.sw if z.ndim == 1 else self.sw[:, None])
        return zs - self.q @ (self.q.T @ zs)


class PilotImpact(Estimator):
    """Difference-in-differences estimate of a pilot's effect, with honest inference for few units.

    Parameters
    ----------
    inference : {"wild_cluster", "randomization", "cluster", "ols"}
        How the interval and p-value are computed (see the module docstring).
    confidence : float
        Level of the interval ``ci_``.
    n_resamples : int
        Bootstrap draws or random permutations (exact enumeration when fewer would do).
    bootstrap_weights : {"rademacher", "webb"}
        Wild-bootstrap weights per unit; Webb's six-point weights when there are few units (< 12).
    event_window : tuple of int, optional
        ``(first lead, last lag)`` of the event study relative to the start (e.g. ``(-6, 6)``); periods
        beyond are binned into the end points. Default: every period.
    random_state : int or numpy Generator, optional
        Seed of the resampling.

    Attributes
    ----------
    effect_, se_ : float
        Estimated effect (outcome units) and its standard error (CR1, or bootstrap/permutation spread).
    ci_ : tuple of float
        ``(low, high)`` interval at ``confidence``.
    p_value_ : float
        Two-sided p-value of "no effect".
    n_treated_, n_control_, n_periods_, n_obs_ : int
    pre_trend_p_value_, pre_trend_slope_ : float
        Test of parallel pre-trends: the slope of the treated-minus-control gap over the pre-periods
        (two-way FE on the pre-period rows, CR1 t test with G - 1 df); NaN with fewer than 3 pre-periods.
    pre_trend_joint_p_value_, pre_trend_f_ : float
        Joint Wald F test that all event-study leads are zero (CR1), only when leads <= (G - 1) / 2.
    event_study_ : pandas.DataFrame
        ``relative_period, period, effect, se, ci_low, ci_high`` (reference period -1 has effect 0).
    t_cluster_, se_cluster_ : float
        CR1 t statistic and standard error (always computed, for comparison).

    References
    ----------
    See the module docstring.
    """

    assumptions: str = ASSUMPTIONS

    def __init__(
        self,
        *,
        inference: Inference = "wild_cluster",
        confidence: float = 0.95,
        n_resamples: int = 999,
        bootstrap_weights: Literal["rademacher", "webb"] = "rademacher",
        event_window: tuple[int, int] | None = None,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.inference = inference
        self.confidence = confidence
        self.n_resamples = n_resamples
        self.bootstrap_weights = bootstrap_weights
        self.event_window = event_window
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        panel: pd.DataFrame,
        *,
        outcome: str,
        unit: str,
        period: str,
        treated: str,
        post: str,
        weights: str | None = None,
    ) -> PilotImpact:
        """Fit on ``panel``, whose columns are named by the keyword arguments.

        ``treated`` marks units in the pilot (constant within a unit); ``post`` marks periods on or after
        its start (the same for every unit); rows with a missing outcome or a non-positive weight are
        dropped. Returns ``self``.
        """
        if self.inference not in _INFERENCES:
            raise ValueError(f"inference must be one of {_INFERENCES}, got {self.inference!r}")
        if not 0.0 < float(self.confidence) < 1.0:
            raise ValueError(f"confidence must lie in (0, 1), got {self.confidence!r}")
        if self.bootstrap_weights not in ("rademacher", "webb"):
            raise ValueError(
                f"bootstrap_weights must be 'rademacher' or 'webb', got {self.bootstrap_weights!r}"
            )
        columns = list(dict.fromkeys([outcome, unit, period, treated, post] + ([weights] if weights else [])))
        missing = [c for c in columns if c not in panel.columns]
        if missing:
            raise KeyError(f"panel has no column(s) {missing}")
        data = panel[columns].copy()
        data = data[data[outcome].notna()]
        if weights:
            data = data[data[weights].notna() & (data[weights] > 0)]
        if data.empty:
            raise ValueError("no rows with an outcome")
        if data.groupby(unit)[treated].nunique().gt(1).any():
            raise ValueError(f"{treated!r} must be constant within each unit")
        if data.groupby(period)[post].nunique().gt(1).any():
            raise ValueError(f"{post!r} must be the same for every unit in a period (one start date)")
        self.outcome_name_ = outcome
        units, unit_idx = np.unique(data[unit].to_numpy(), return_inverse=True)
        periods, period_idx = np.unique(data[period].to_numpy(), return_inverse=True)
        treated_unit = np.zeros(len(units), dtype=bool)
        treated_unit[unit_idx] = data[treated].astype(bool).to_numpy()
        post_period = np.zeros(len(periods), dtype=bool)
        post_period[period_idx] = data[post].astype(bool).to_numpy()
        self.n_treated_ = int(treated_unit.sum())
        self.n_control_ = int((~treated_unit).sum())
        if self.n_treated_ == 0 or self.n_control_ == 0:
            raise ValueError("need at least one treated and one control unit")
        if post_period.all() or not post_period.any():
            raise ValueError("need periods both before and after the start")
        self.n_periods_ = len(periods)
        self.n_obs_ = len(data)
        self.units_ = units
        self.periods_ = periods
        self.treated_units_ = units[treated_unit]

        y = data[outcome].to_numpy(dtype=np.float64)
        w = data[weights].to_numpy(dtype=np.float64) if weights else np.ones(len(data))
        sw = np.sqrt(w)
        self._unit_idx = unit_idx.astype(np.int64)
        self._period_idx = period_idx.astype(np.int64)
        self._proj = _Projector(self._unit_idx, self._period_idx, sw)
        self._sw = sw
        self._y = y
        self._treated_unit = treated_unit
        self._post_period = post_period
        d = (treated_unit[unit_idx] & post_period[period_idx]).astype(np.float64)
        self._d = d

        ys = self._proj.residual(y)  # sqrt(w) * M y
        ds = self._proj.residual(d)
        sdd = float(ds @ ds)
        if sdd <= 1e-12:
            raise ValueError("treatment is collinear with the fixed effects")
        beta = float(ds @ ys) / sdd
        resid = ys - ds * beta
        self.effect_ = beta
        self.se_cluster_ = self._cr1_se(ds, resid, sdd)
        self.t_cluster_ = beta / self.se_cluster_ if self.se_cluster_ > 0 else float("nan")
        g = len(units)
        dof_resid = len(y) - (g + len(periods) - 1) - 1
        self.se_ols_ = math.sqrt(float(resid @ resid) / max(dof_resid, 1) / sdd)
        alpha = 1.0 - float(self.confidence)

        if self.inference == "ols":
            crit = float(sps.t.ppf(1 - alpha / 2, max(dof_resid, 1)))
            self.se_ = self.se_ols_
            self.ci_ = (beta - crit * self.se_, beta + crit * self.se_)
            self.p_value_ = float(2 * sps.t.sf(abs(beta / self.se_), max(dof_resid, 1)))
        elif self.inference == "cluster":
            crit = float(sps.t.ppf(1 - alpha / 2, g - 1))
            self.se_ = self.se_cluster_
            self.ci_ = (beta - crit * self.se_, beta + crit * self.se_)
            self.p_value_ = float(2 * sps.t.sf(abs(self.t_cluster_), g - 1))
        elif self.inference == "wild_cluster":
            self._wild(ys, ds, sdd, beta, alpha)
        else:
            self._randomization(ys, beta, alpha)
        self._event_study(alpha)
        return self

    # ------------------------------------------------------------ inference
    def _cluster_sums(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Sum rows of ``values`` (N or N x B) within each unit -> G or G x B."""
        g = len(self.units_)
        if values.ndim == 1:
            return np.asarray(np.bincount(self._unit_idx, weights=values, minlength=g), dtype=np.float64)
        out = np.zeros((g, values.shape[1]))
        np.add.at(out, self._unit_idx, values)
        return out

    def _cr1_factor(self) -> float:
        g, n = len(self.units_), len(self._y)
        k = g + self.n_periods_  # FE + treatment
        return g / (g - 1) * (n - 1) / max(n - k, 1)

    def _cr1_se(self, ds: NDArray[np.float64], resid: NDArray[np.float64], sdd: float) -> float:
        scores = self._cluster_sums(ds * resid)
        return math.sqrt(self._cr1_factor() * float(scores @ scores)) / sdd

    def _rng(self) -> np.random.Generator:
        if isinstance(self.random_state, np.random.Generator):
            return self.random_state
        return np.random.default_rng(self.random_state)

    def _wild(
        self, ys: NDArray[np.float64], ds: NDArray[np.float64], sdd: float, beta: float, alpha: float
    ) -> None:
        g = len(self.units_)
        if self.bootstrap_weights == "rademacher" and 2**g <= self.n_resamples:
            v = np.array(list(itertools.product((-1.0, 1.0), repeat=g))).T  # G x 2^G, exact
        elif self.bootstrap_weights == "rademacher":
            v = self._rng().choice(np.array([-1.0, 1.0]), size=(g, self.n_resamples))
        else:
            v = self._rng().choice(_WEBB, size=(g, self.n_resamples))
        vi = v[self._unit_idx]  # N x B
        # Restricted residuals under H0: beta = b0 are a - b0 * ds with a = M y (scaled). Everything the
        # bootstrap t needs is linear in b0, so the whole test is inverted from two sets of pieces.
        num_a = self._cluster_sums(ds * ys)  # G
        num_d = self._cluster_sums(ds * ds)  # G
        num_a_b = (num_a[:, None] * v).sum(axis=0) / sdd  # beta* - b0 (part a)
        num_d_b = (num_d[:, None] * v).sum(axis=0) / sdd  # (part multiplied by b0)
        # Unrestricted bootstrap residuals: M_X (u_r * v) = M_FE(u_r v) - ds * (beta* - b0).
        ra = self._proj.residual(ys[:, None] * vi / self._sw[:, None])
        rd = self._proj.residual(ds[:, None] * vi / self._sw[:, None])
        ra = ra - ds[:, None] * num_a_b[None, :]
        rd = rd - ds[:, None] * num_d_b[None, :]
        sa = self._cluster_sums(ds[:, None] * ra)  # G x B
        sd = self._cluster_sums(ds[:, None] * rd)
        factor = self._cr1_factor()
        se_obs = self.se_cluster_

        def p_value(b0: float) -> float:
            num = num_a_b - b0 * num_d_b
            scores = sa - b0 * sd
            se = np.sqrt(factor * (scores * scores).sum(axis=0)) / sdd
            with np.errstate(divide="ignore", invalid="ignore"):
                t_star = np.abs(num / se)
            t_obs = abs((beta - b0) / se_obs)
            return float(np.mean(t_star >= t_obs - 1e-12 * max(1.0, t_obs)))

        self.p_value_ = p_value(0.0)
        self.se_ = se_obs
        self.ci_ = self._invert(p_value, beta, se_obs, alpha)
        self.n_resamples_ = v.shape[1]

    def _randomization(self, ys: NDArray[np.float64], beta: float, alpha: float) -> None:
        g, n_treated = len(self.units_), self.n_treated_
        total = math.comb(g, n_treated)
        if total <= self.n_resamples:
            assignments = [np.array(c) for c in itertools.combinations(range(g), n_treated)]
        else:
            rng = self._rng()
            assignments = [np.sort(rng.choice(g, n_treated, replace=False)) for _ in range(self.n_resamples)]
            assignments.append(np.flatnonzero(self._treated_unit))
        post = self._post_period[self._period_idx]
        d_perm = np.zeros((len(ys), len(assignments)))
        for j, chosen in enumerate(assignments):
            mask = np.zeros(g, dtype=bool)
            mask[chosen] = True
            d_perm[:, j] = (mask[self._unit_idx] & post).astype(np.float64)
        dps = self._proj.residual(d_perm)  # N x P
        s_perm = (dps * dps).sum(axis=0)
        valid = s_perm > 1e-12
        dps, s_perm = dps[:, valid], s_perm[valid]
        c = (dps * ys[:, None]).sum(axis=0) / s_perm  # permuted estimate at b0 = 0
        k = (dps * (self._d * self._sw)[:, None]).sum(axis=0) / s_perm  # slope in b0

        def p_value(b0: float) -> float:
            stat = np.abs(c - b0 * k)
            obs = abs(beta - b0)
            return float(np.mean(stat >= obs - 1e-12 * max(1.0, obs)))

        self.p_value_ = p_value(0.0)
        self.se_ = float(np.std(c, ddof=1)) if len(c) > 1 else float("nan")
        self.ci_ = self._invert(p_value, beta, max(self.se_cluster_, self.se_), alpha)
        self.n_resamples_ = len(c)
        self.exact_ = total <= self.n_resamples

    @staticmethod
    def _invert(p_value: Any, beta: float, scale: float, alpha: float) -> tuple[float, float]:
        """The set {b0 : p(b0) > alpha} around ``beta``, by bracketing and bisection on each side."""
        if not math.isfinite(scale) or scale <= 0:
            scale = max(abs(beta), 1.0)

        def bound(direction: float) -> float:
            inside, step = beta, scale
            outside = beta + direction * step
            tries = 0
            while p_value(outside) > alpha:
                inside = outside
                step *= 2.0
                outside = beta + direction * step
                tries += 1
                if tries > 40:
                    return direction * math.inf
            for _ in range(50):
                mid = 0.5 * (inside + outside)
                if p_value(mid) > alpha:
                    inside = mid
                else:
                    outside = mid
                if abs(outside - inside) <= 1e-6 * scale:
                    break
            return 0.5 * (inside + outside)

        return (bound(-1.0), bound(1.0))

    # ---------------------------------------------------------- event study
    def _event_study(self, alpha: float) -> None:
        first_post = int(np.flatnonzero(self._post_period)[0])
        rel_period = np.arange(self.n_periods_) - first_post
        if self.event_window is not None:
            lo, hi = self.event_window
            rel_period = np.clip(rel_period, lo, hi)
        rel = rel_period[self._period_idx]
        treated = self._treated_unit[self._unit_idx]
        ks = [k for k in np.unique(rel_period) if k != -1]
        if -1 not in rel_period:
            ks = ks[1:]  # the earliest bin is the reference when -1 is binned away
        x = np.column_stack([(treated & (rel == k)).astype(np.float64) for k in ks])
        xs = self._proj.residual(x)
        ys = self._proj.residual(self._y)
        xtx = xs.T @ xs
        keep = np.abs(np.diag(xtx)) > 1e-12
        xs, ks = xs[:, keep], [k for k, kept in zip(ks, keep, strict=True) if kept]
        xtx_inv = np.linalg.pinv(xs.T @ xs)
        coef = xtx_inv @ (xs.T @ ys)
        resid = ys - xs @ coef
        scores = self._cluster_sums(xs * resid[:, None])  # G x K
        g, n = len(self.units_), len(self._y)
        factor = g / (g - 1) * (n - 1) / max(n - (g + self.n_periods_ - 1 + len(ks)), 1)
        vcov = factor * xtx_inv @ (scores.T @ scores) @ xtx_inv
        se = np.sqrt(np.clip(np.diag(vcov), 0, None))
        crit = float(sps.t.ppf(1 - alpha / 2, g - 1))
        ks_arr = np.array(ks)
        period_of = {
            int(k): self.periods_[int(np.flatnonzero(rel_period == k)[0])] for k in np.unique(rel_period)
        }
        rows = [
            {
                "relative_period": int(k),
                "period": period_of[int(k)],
                "effect": b,
                "se": s,
                "ci_low": b - crit * s,
                "ci_high": b + crit * s,
            }
            for k, b, s in zip(ks_arr, coef, se, strict=True)
        ]
        reference = -1 if -1 in rel_period else int(min(rel_period))
        rows.append(
            {
                "relative_period": reference,
                "period": period_of[reference],
                "effect": 0.0,
                "se": 0.0,
                "ci_low": 0.0,
                "ci_high": 0.0,
            }
        )
        self.event_study_ = pd.DataFrame(rows).sort_values("relative_period").reset_index(drop=True)
        leads = np.flatnonzero(ks_arr < -1) if -1 in rel_period else np.flatnonzero(ks_arr < 0)
        self.pre_trend_f_ = self.pre_trend_joint_p_value_ = float("nan")
        if len(leads) and len(leads) <= (g - 1) // 2:
            # The joint Wald test of all leads needs many more units than leads (its CR1 covariance has
            # rank G - 1); with fewer it explodes, so it is only reported when leads <= (G - 1) / 2.
            b = coef[leads]
            v = vcov[np.ix_(leads, leads)]
            q = len(leads)
            self.pre_trend_f_ = float(b @ np.linalg.pinv(v) @ b) / q
            self.pre_trend_joint_p_value_ = float(sps.f.sf(self.pre_trend_f_, q, max(g - 1, 1)))
        self._linear_pre_trend()

    def _linear_pre_trend(self) -> None:
        """Slope of the treated-minus-control gap over the pre-periods (unit and period FE), CR1 t test."""
        self.pre_trend_slope_ = self.pre_trend_p_value_ = float("nan")
        pre = ~self._post_period[self._period_idx]
        n_pre_periods = int((~self._post_period).sum())
        if n_pre_periods < 3:
            return
        units, unit_idx = np.unique(self._unit_idx[pre], return_inverse=True)
        _, period_idx = np.unique(self._period_idx[pre], return_inverse=True)
        proj = _Projector(unit_idx.astype(np.int64), period_idx.astype(np.int64), self._sw[pre])
        x = self._treated_unit[self._unit_idx[pre]] * self._period_idx[pre].astype(np.float64)
        xs = proj.residual(x)
        sxx = float(xs @ xs)
        if sxx <= 1e-12 or len(units) < 3:
            return
        ys = proj.residual(self._y[pre])
        slope = float(xs @ ys) / sxx
        resid = ys - xs * slope
        g, n = len(units), int(pre.sum())
        scores = np.bincount(unit_idx, weights=xs * resid, minlength=g)
        factor = g / (g - 1) * (n - 1) / max(n - (g + n_pre_periods), 1)
        se = float(np.sqrt(factor * scores @ scores)) / sxx
        self.pre_trend_slope_ = slope
        self.pre_trend_p_value_ = float(2 * sps.t.sf(abs(slope / se), g - 1)) if se > 0 else float("nan")

    # -------------------------------------------------------------- output
    def result(self) -> PilotImpactSummary:
        """The headline numbers as a frozen :class:`PilotImpactSummary`."""
        self.check_fitted("event_study_", "pre_trend_p_value_")
        return PilotImpactSummary(
            outcome=self.outcome_name_,
            effect=self.effect_,
            se=self.se_,
            ci_low=float(self.ci_[0]),
            ci_high=float(self.ci_[1]),
            p_value=self.p_value_,
            confidence=float(self.confidence),
            inference=str(self.inference),
            n_treated=self.n_treated_,
            n_control=self.n_control_,
            n_periods=self.n_periods_,
            pre_trend_p_value=self.pre_trend_p_value_,
        )

    def summary(self) -> pd.DataFrame:
        """The headline numbers as a one-row table (effect, se, interval, p-value, sizes, pre-trend p)."""
        return self.result().summary()

    def summary_text(self) -> str:
        """One paragraph: effect, interval, p-value, method, sizes, pre-trend test."""
        return self.result().summary_text()

    def to_frame(self) -> pd.DataFrame:
        return self.result().to_frame()

    def event_study_figure(self, title: str | None = None) -> Any:
        """The event study as a plotly figure (see :func:`event_study_figure`)."""
        self.check_fitted("event_study_")
        return event_study_figure(self.event_study_, self.outcome_name_, title=title)


def event_study_figure(event_study: pd.DataFrame, outcome: str, *, title: str | None = None) -> Any:
    """Plotly figure of an event study (``relative_period, effect, ci_low, ci_high``): the effect per period
    relative to the start with its interval, zero and the start marked. Works on ``event_study_`` or on a
    stored copy of it, so a page can draw it without refitting."""
    import plotly.graph_objects as go

    es = event_study
    fig = go.Figure(
        go.Scatter(
            x=es["relative_period"],
            y=es["effect"],
            mode="markers+lines",
            error_y={
                "type": "data",
                "symmetric": False,
                "array": es["ci_high"] - es["effect"],
                "arrayminus": es["effect"] - es["ci_low"],
            },
            name="effect",
        )
    )
    fig.add_hline(y=0.0, line_dash="dot")
    fig.add_vline(x=-0.5, line_dash="dash")
    fig.update_layout(
        title=title or f"Event study: effect on {outcome}",
        xaxis_title="periods relative to the pilot start",
        yaxis_title=f"effect on {outcome}",
    )
    return fig
