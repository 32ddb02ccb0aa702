"""The public API of cxloop.stats: names, scalar vs array outputs, frames and summaries."""

from __future__ import annotations

import doctest
import sys

import numpy as np
import pandas as pd
import pytest

import cxloop.stats as st


def test_all_names_are_exported() -> None:
    for name in st.__all__:
        assert hasattr(st, name), name


def test_scalar_inputs_give_float_fields() -> None:
    r = st.nps(20, 30, 50)
    for field in ("score", "se", "ci_low", "ci_high", "n"):
        assert type(getattr(r, field)) is float, field
    d = st.nps_difference(r, st.nps(30, 30, 40))
    for field in ("difference", "se", "z", "p_value", "ci_low", "ci_high"):
        assert type(getattr(d, field)) is float, field


def test_array_inputs_give_array_fields_of_the_broadcast_shape() -> None:
    detractors = np.array([[1, 2, 3], [4, 5, 6]])
    r = st.nps(detractors, 10, np.array([7, 8, 9]))
    assert isinstance(r.score, np.ndarray)
    assert r.score.shape == (2, 3)
    assert r.n.tolist() == [[18, 20, 22], [21, 23, 25]]


def test_vectorised_equals_cell_by_cell() -> None:
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 40, size=(3, 50))
    vector = st.nps(*counts)
    for i in range(counts.shape[1]):
        one = st.nps(*counts[:, i])
        assert vector.score[i] == pytest.approx(one.score, nan_ok=True)
        assert vector.ci_low[i] == pytest.approx(one.ci_low, nan_ok=True)
        assert vector.ci_high[i] == pytest.approx(one.ci_high, nan_ok=True)


def test_to_frame_has_one_row_per_cell_and_named_columns() -> None:
    r = st.nps(np.array([1, 0]), np.array([2, 0]), np.array([3, 0]))
    frame = r.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert len(frame) == 2
    assert {"score", "se", "ci_low", "ci_high", "n", "method", "confidence"} <= set(frame.columns)
    assert frame["method"].tolist() == ["adjusted_wald", "adjusted_wald"]
    assert np.isnan(frame["score"].iloc[1])


def test_summary_names_the_method_and_level() -> None:
    text = st.nps(20, 30, 50, confidence=0.9, method="wald").summary_text()
    assert "Wald 90% interval" in text
    assert "30" in text
    assert "adjusted Wald 95%" in st.nps(1, 1, 1).summary_text()
    assert st.nps(1, 1, 1)._repr_html_().startswith("<p>Net Promoter Score")


def test_rating_frame_is_flat() -> None:
    frame = st.csat(np.array([10, 0]), np.array([8, 0]), np.array([42, 0]), np.array([184, 0])).to_frame()
    assert list(frame.columns[:4]) == ["metric", "n", "mean", "mean_se"]
    assert frame["share"].iloc[0] == pytest.approx(0.8)


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        st.nps(-1, 2, 3)
    with pytest.raises(ValueError, match="confidence"):
        st.nps(1, 2, 3, confidence=1.5)
    with pytest.raises(ValueError, match="method"):
        st.nps(1, 2, 3, method="bootstrap")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exceed"):
        st.proportion(5, 4)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        st.benjamini_hochberg([0.5, 1.2])


@pytest.mark.parametrize("module", ["nps", "proportions", "means", "multiple", "ratings"])
def test_docstring_examples_run(module: str) -> None:
    # sys.modules, not attribute access: cxloop.stats.nps is also the name of the function.
    result = doctest.testmod(sys.modules[f"cxloop.stats.{module}"], optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
