"""Churn risk: classifiers, validation metrics, explanations and the survival view (pure; no I/O).

See ``docs/predict.md`` for how the service layer uses them.
"""

from cxloop.stats.churn.explain import permutation_importance, reference_values, what_if_contributions
from cxloop.stats.churn.metrics import (
    ChurnMetrics,
    calibration_table,
    evaluate,
    expected_calibration_error,
    precision_at_top,
)
from cxloop.stats.churn.models import ChurnClassifier, GradientBoostedChurn, LogisticBaseline
from cxloop.stats.churn.survival import CoxResult, cox_model, kaplan_meier

__all__ = [
    "ChurnClassifier",
    "ChurnMetrics",
    "CoxResult",
    "GradientBoostedChurn",
    "LogisticBaseline",
    "calibration_table",
    "cox_model",
    "evaluate",
    "expected_calibration_error",
    "kaplan_meier",
    "permutation_importance",
    "precision_at_top",
    "reference_values",
    "what_if_contributions",
]
