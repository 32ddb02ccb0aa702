"""Key-driver analysis: which drivers explain an outcome, and how sure we are.

``KeyDriverAnalysis`` is the estimator; the functions below are the pure computations it uses, on
correlation matrices (Shapley/LMG, Johnson's relative weights) or rows (logistic relative weights).

References
----------
Lindeman, Merenda & Gold (1980); Gromping (2006), Journal of Statistical Software 17(1); Johnson (2000),
Multivariate Behavioral Research 35(1); Tonidandel & LeBreton (2010), Organizational Research Methods
13(4); Tonidandel, LeBreton & Johnson (2009), Psychological Methods 14(4).
"""

from .._base import NotFittedError
from ._checks import DriverAnalysisError
from .analysis import KeyDriverAnalysis
from .logistic import LogisticRelativeWeights, fit_logistic, logistic_relative_weights
from .relative_weights import RelativeWeights, relative_weights
from .shapley import ShapleyDecomposition, shapley_r2, shapley_r2_with_last_removed, subset_r2

__all__ = [
    "DriverAnalysisError",
    "KeyDriverAnalysis",
    "LogisticRelativeWeights",
    "NotFittedError",
    "RelativeWeights",
    "ShapleyDecomposition",
    "fit_logistic",
    "logistic_relative_weights",
    "relative_weights",
    "shapley_r2",
    "shapley_r2_with_last_removed",
    "subset_r2",
]
