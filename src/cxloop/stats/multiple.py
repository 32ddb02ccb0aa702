"""Multiple comparisons: Benjamini-Hochberg false-discovery-rate control.

When a dashboard tests many cells at once (every branch against its region, every touchpoint
against last quarter), some tests come out "significant" by chance alone. Benjamini-Hochberg keeps
the expected share of false discoveries among the flagged cells at or below ``alpha``, and is valid
for independent tests and for positively dependent ones (Benjamini & Yekutieli 2001), which covers
units compared with overlapping benchmarks.

References
----------
.. [1] Benjamini, Y. & Hochberg, Y. (1995). Controlling the false discovery rate: a practical and
   powerful approach to multiple testing. *Journal of the Royal Statistical Society, Series B*,
   57(1), 289-300.
.. [2] Benjamini, Y. & Yekutieli, D. (2001). The control of the false discovery rate in multiple
   testing under dependency. *The Annals of Statistics*, 29(4), 1165-1188.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from cxloop.stats._results import ResultMixin

__all__ = ["MultipleTestResult", "benjamini_hochberg"]


@dataclass(frozen=True)
class MultipleTestResult(ResultMixin):
    """p-values adjusted for multiple testing, with the decisions and a statement of the correction.

    Attributes
    ----------
    p_value : ndarray
        The p-values as given (same shape as the input).
    p_adjusted : ndarray
        Benjamini-Hochberg adjusted p-values (q-values): the smallest FDR level at which each test
        would be rejected. NaN where the input is NaN.
    reject : ndarray of bool
        ``p_adjusted <= alpha``; False where the input is NaN.
    alpha : float
        The false discovery rate controlled.
    n_tests : int
        Number of comparisons corrected for (non-NaN p-values).
    method : str
        ``"benjamini_hochberg"``.
    """

    p_value: NDArray[np.float64]
    p_adjusted: NDArray[np.float64]
    reject: NDArray[np.bool_]
    alpha: float
    n_tests: int
    method: str = "benjamini_hochberg"

    @property
    def statement(self) -> str:
        """One line saying how the p-values were corrected, for footnotes and API responses."""
        comparisons = "comparison" if self.n_tests == 1 else "comparisons"
        return f"Benjamini-Hochberg FDR control at {_percent(self.alpha)} over {self.n_tests} {comparisons}"

    @property
    def _title(self) -> str:
        return self.statement

    def _columns(self) -> dict[str, object]:
        # alpha and n_tests are stated in the title; the table is one row per test.
        return {"p_value": self.p_value, "p_adjusted": self.p_adjusted, "reject": self.reject}


def _percent(alpha: float) -> str:
    return f"{100 * alpha:.10g}%"


def benjamini_hochberg(p_values: ArrayLike, alpha: float = 0.05) -> MultipleTestResult:
    """Benjamini-Hochberg step-up procedure: adjusted p-values and rejections at FDR ``alpha``.

    Parameters
    ----------
    p_values : array_like
        p-values of the comparisons, any shape (e.g. one per cell of a metrics cube). NaN marks a
        comparison that was not made (e.g. a suppressed cell); it is left out of the count.
    alpha : float, default 0.05
        False discovery rate to control, in (0, 1).

    Returns
    -------
    MultipleTestResult
        ``p_adjusted`` and ``reject`` with the shape of ``p_values``, and ``statement``, e.g.
        ``"Benjamini-Hochberg FDR control at 5% over 42 comparisons"``.

    Notes
    -----
    With the ``m`` p-values sorted, ``p_(1) <= ... <= p_(m)``, the adjusted value of the ``i``-th is
    ``min_{j >= i} min(1, m p_(j) / j)``; rejecting every test whose adjusted value is at most
    ``alpha`` is the step-up rule of Benjamini & Hochberg (1995): reject ``H_(1..k)`` for the
    largest ``k`` with ``p_(k) <= k alpha / m``.

    References
    ----------
    Benjamini, Y. & Hochberg, Y. (1995). *JRSS B*, 57(1), 289-300.

    Examples
    --------
    >>> r = benjamini_hochberg([0.01, 0.04, 0.03, 0.2])
    >>> r.p_adjusted.round(3).tolist(), r.reject.tolist()
    ([0.04, 0.053, 0.053, 0.2], [True, False, False, False])
    >>> r.statement
    'Benjamini-Hochberg FDR control at 5% over 4 comparisons'
    """
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha must lie strictly between 0 and 1, got {alpha!r}")
    p = np.asarray(p_values, dtype=np.float64)
    if np.any((p < 0) | (p > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    flat = p.reshape(-1)
    observed = np.flatnonzero(~np.isnan(flat))
    m = observed.size
    adjusted_flat = np.full(flat.shape, np.nan)
    if m:
        order = observed[np.argsort(flat[observed], kind="stable")]
        ranked = flat[order] * m / np.arange(1, m + 1)
        # Step-up: running minimum from the largest p-value down.
        adjusted_flat[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    adjusted = adjusted_flat.reshape(p.shape)
    reject = np.asarray(np.nan_to_num(adjusted, nan=np.inf) <= alpha)
    return MultipleTestResult(
        p_value=p,
        p_adjusted=adjusted,
        reject=reject,
        alpha=float(alpha),
        n_tests=int(m),
    )
