"""Shared plumbing for result objects: array coercion and tabular views.

Every public function in :mod:`cxloop.stats` accepts scalars or numpy arrays (broadcast against each
other) and returns a frozen dataclass whose numeric fields are plain ``float`` for scalar inputs and
``numpy.ndarray`` otherwise. The mixin here turns any such result into a ``pandas.DataFrame`` (one
row per cell), the same table headed by what was computed (``summary()``) and that table as plain text.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats as sps

if TYPE_CHECKING:
    import pandas as pd

#: A numeric field of a result: ``float`` for scalar inputs, an array for vectorised inputs.
Number: TypeAlias = float | NDArray[np.float64]


def as_float_array(value: ArrayLike, name: str, *, nonnegative: bool = True) -> NDArray[np.float64]:
    """Return ``value`` as a float64 array, rejecting negative values when ``nonnegative``.

    NaN is allowed everywhere (it marks a missing cell and propagates to the result).
    """
    array = np.asarray(value, dtype=np.float64)
    if nonnegative and np.any(array < 0):
        raise ValueError(f"{name} must be non-negative, got a negative value")
    return array


def output(value: NDArray[np.float64] | np.floating[Any] | float) -> Number:
    """Return a 0-d array or numpy scalar as a Python ``float``, leave other arrays as they are."""
    array = np.asarray(value, dtype=np.float64)
    if array.ndim == 0:
        return float(array)
    return array


def z_critical(confidence: float) -> float:
    """Two-sided standard normal critical value for a ``confidence`` level in (0, 1)."""
    check_confidence(confidence)
    return float(sps.norm.ppf(0.5 + confidence / 2.0))


def check_confidence(confidence: float) -> None:
    if not 0.0 < float(confidence) < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence!r}")


def two_sided_normal_p(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """Two-sided p-value of a standard normal statistic (``sf`` keeps precision in the far tail)."""
    return np.asarray(2.0 * sps.norm.sf(np.abs(z)), dtype=np.float64)


class ResultMixin:
    """``to_frame()``, ``summary()``, ``summary_text()`` and ``_repr_html_`` for frozen result dataclasses.

    Scalar fields (strings, the confidence level) are repeated on every row; numeric fields are
    broadcast to a common shape and flattened in C order, so row ``i`` of the frame is cell ``i`` of
    the flattened inputs.
    """

    @property
    def _title(self) -> str:
        return type(self).__name__

    def _columns(self) -> dict[str, Any]:
        columns: dict[str, Any] = {}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            if isinstance(value, ResultMixin):
                for key, inner in value._columns().items():
                    columns[f"{field.name}_{key}"] = inner
            else:
                columns[field.name] = value
        return columns

    def to_frame(self) -> pd.DataFrame:
        """One row per cell, one column per field (nested results are prefixed by their name)."""
        import pandas as pd

        columns = self._columns()
        numeric = {k: np.asarray(v) for k, v in columns.items() if not isinstance(v, str)}
        shape = np.broadcast_shapes(*(a.shape for a in numeric.values())) if numeric else ()
        size = int(np.prod(shape)) if shape else 1
        data: dict[str, Any] = {}
        for key, value in columns.items():
            if isinstance(value, str):
                data[key] = [value] * size
            else:
                data[key] = np.broadcast_to(np.asarray(value), shape).reshape(size)
        return pd.DataFrame(data)

    def summary(self) -> pd.DataFrame:
        """The :meth:`to_frame` table, with what was computed in ``attrs["title"]``."""
        frame = self.to_frame()
        frame.attrs["title"] = self._title
        return frame

    def summary_text(self) -> str:
        """A plain-text table of the result, headed by what was computed."""
        frame = self.to_frame()
        return f"{self._title}\n{frame.to_string(index=frame.shape[0] > 1, float_format=_fmt)}"

    def _repr_html_(self) -> str:
        return f"<p>{self._title}</p>" + self.to_frame().to_html(float_format=_fmt)


def _fmt(value: float) -> str:
    return f"{value:.4g}"
