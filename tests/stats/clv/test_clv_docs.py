"""The numpy-style examples in the CLV docstrings run and print what they say."""

from __future__ import annotations

import doctest
from types import ModuleType

import pytest

from cxloop.stats.clv import beta_geo, gamma_gamma, shifted_beta_geometric


@pytest.mark.parametrize("module", [beta_geo, gamma_gamma, shifted_beta_geometric], ids=lambda m: m.__name__)
def test_docstring_examples(module: ModuleType, lifetimes: ModuleType) -> None:
    # the lifetimes fixture imports the package (and its CDNOW data) once, outside the examples
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
