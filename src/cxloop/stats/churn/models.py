"""Churn classifiers: a calibrated gradient-boosted model and a transparent logistic baseline.

Both take a DataFrame of features (numeric columns, plus categorical ones named in ``categorical``) and
a 0/1 outcome ("churned within N days"), and return risks in [0, 1] with :meth:`predict_risk`.

* :class:`GradientBoostedChurn` — scikit-learn's histogram gradient boosting (missing values handled
  natively, categorical columns split natively) wrapped in :class:`~sklearn.calibration.
  CalibratedClassifierCV` (Platt scaling by default: it keeps the ranking), so a risk of 0.2 means
  about one in five churn.
* :class:`LogisticBaseline` — L2-penalised logistic regression on standardised features (missing values
  imputed with the training median plus a missing-indicator column; categories one-hot). Its
  coefficients are per standard deviation of each feature and read directly.

References
----------
Friedman, J. H. (2001). Greedy function approximation: a gradient boosting machine. *Annals of
Statistics* 29(5), 1189-1232.
Zadrozny, B. & Elkan, C. (2002). Transforming classifier scores into accurate multiclass probability
estimates. *KDD*, 694-699 (isotonic calibration).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from cxloop.stats._base import Estimator

__all__ = ["ChurnClassifier", "GradientBoostedChurn", "LogisticBaseline"]


@overload
def _check(features: pd.DataFrame, y: None = None) -> None: ...
@overload
def _check(features: pd.DataFrame, y: ArrayLike) -> np.ndarray: ...
def _check(features: pd.DataFrame, y: ArrayLike | None = None) -> np.ndarray | None:
    if not isinstance(features, pd.DataFrame):
        raise TypeError("features must be a pandas DataFrame with named columns")
    if len(features) == 0:
        raise ValueError("no rows to fit or score")
    if y is None:
        return None
    y_arr = np.asarray(y, dtype=float)
    if y_arr.shape != (len(features),):
        raise ValueError(f"outcome has {y_arr.shape} values for {len(features)} rows")
    if not np.isin(y_arr, (0.0, 1.0)).all():
        raise ValueError("outcome must be 0 or 1")
    if y_arr.sum() < 2 or y_arr.sum() > len(y_arr) - 2:
        raise ValueError("need at least two churners and two retained customers to fit")
    return y_arr.astype(int)


class ChurnClassifier(Estimator):
    """The shared part: column bookkeeping, :meth:`predict_risk` and the feature :meth:`summary`."""

    numeric: Sequence[str]
    categorical: Sequence[str]
    # set by each subclass's fit: the scikit-learn estimator behind predict_prepared
    model_: CalibratedClassifierCV | Pipeline

    def _columns(self, features: pd.DataFrame) -> tuple[list[str], list[str]]:
        categorical = [c for c in self.categorical if c in features.columns]
        numeric = (
            list(self.numeric)
            if self.numeric
            else [
                c
                for c in features.columns
                if c not in categorical and pd.api.types.is_numeric_dtype(features[c])
            ]
        )
        missing = [c for c in (*numeric, *categorical) if c not in features.columns]
        if missing:
            raise ValueError(f"features lack columns {missing}")
        return numeric, categorical

    def _frame(self, features: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.feature_names_ if c not in features.columns]
        if missing:
            raise ValueError(f"features lack columns the model was trained on: {missing}")
        frame = features[list(self.feature_names_)].copy()
        for column in self.categorical_:
            frame[column] = pd.Categorical(
                frame[column].astype("string"), categories=self.categories_[column]
            )
        for column in self.numeric_:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        return frame

    def predict_risk(self, features: pd.DataFrame) -> np.ndarray:
        """Probability of churning within the model's horizon, one per row."""
        self.check_fitted("model_")
        _check(features)
        return self.predict_prepared(self._frame(features))

    def prepare(self, features: pd.DataFrame) -> pd.DataFrame:
        """The model's own view of ``features`` (columns selected, types fixed): for many predictions on
        variants of the same rows (what-if explanations) convert once, then :meth:`predict_prepared`."""
        self.check_fitted("model_")
        _check(features)
        return self._frame(features)

    def predict_prepared(self, frame: pd.DataFrame) -> np.ndarray:
        """:meth:`predict_risk` on a frame from :meth:`prepare`."""
        self.check_fitted("model_")
        return self.model_.predict_proba(frame)[:, 1]

    def summary(self) -> pd.DataFrame:
        """One row per feature column: its ``kind`` (numeric or categorical) and whether it is ``used``
        (a column with no values at all is dropped at fit)."""
        self.check_fitted("model_")
        rows = [
            *((c, "numeric", True) for c in self.numeric_),
            *((c, "categorical", True) for c in self.categorical_),
            *((c, "numeric", False) for c in self.dropped_),
        ]
        return pd.DataFrame(rows, columns=["feature", "kind", "used"]).set_index("feature")

    def _learn_columns(self, features: pd.DataFrame) -> None:
        numeric, categorical = self._columns(features)
        # a column with no values at all (e.g. comment sentiment before any tagging) carries nothing
        self.dropped_ = tuple(c for c in numeric if features[c].notna().sum() == 0)
        numeric = [c for c in numeric if c not in self.dropped_]
        self.numeric_ = tuple(numeric)
        self.categorical_ = tuple(categorical)
        self.feature_names_ = (*numeric, *categorical)
        self.categories_ = {
            c: sorted(features[c].dropna().astype("string").unique().tolist()) for c in categorical
        }


class GradientBoostedChurn(ChurnClassifier):
    """Calibrated histogram gradient boosting.

    Parameters
    ----------
    numeric, categorical : sequence of str
        Feature columns (``numeric`` empty: every numeric column not in ``categorical``).
    learning_rate, max_iter, max_leaf_nodes, min_samples_leaf, l2_regularization
        Passed to :class:`~sklearn.ensemble.HistGradientBoostingClassifier`.
    calibration : {"isotonic", "sigmoid"}
        Calibration map, fitted on a held-out ``calibration_share`` of the training rows (stratified) that
        the booster never saw (one boosting fit, not one per fold: training stays fast).
    random_state : int
    n_threads : int or None
        OpenMP threads for boosting (None: all cores). One is the default: on a busy shared machine more
        threads spin-wait and run slower, not faster.
    """

    def __init__(
        self,
        *,
        numeric: Sequence[str] = (),
        categorical: Sequence[str] = ("segment",),
        learning_rate: float = 0.03,
        max_iter: int = 400,
        max_leaf_nodes: int = 4,
        min_samples_leaf: int = 500,
        l2_regularization: float = 1.0,
        calibration: str = "sigmoid",
        calibration_share: float = 0.25,
        random_state: int = 0,
        n_threads: int | None = 1,
    ) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.calibration = calibration
        self.calibration_share = calibration_share
        self.random_state = random_state
        self.n_threads = n_threads

    def fit(self, features: pd.DataFrame, y: ArrayLike) -> GradientBoostedChurn:
        y_arr = _check(features, y)
        if self.calibration not in ("isotonic", "sigmoid"):
            raise ValueError(f"calibration must be 'isotonic' or 'sigmoid', got {self.calibration!r}")
        self._learn_columns(features)
        booster = HistGradientBoostingClassifier(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            categorical_features="from_dtype",
            early_stopping=True,
            validation_fraction=0.15,
            n_iter_no_change=20,
            random_state=self.random_state,
        )
        frame = self._frame(features)
        fit_rows, calibration_rows = train_test_split(
            np.arange(len(frame)),
            test_size=self.calibration_share,
            stratify=y_arr,
            random_state=self.random_state,
        )
        with threadpool_limits(self.n_threads):
            booster.fit(frame.iloc[fit_rows], y_arr[fit_rows])
            calibrated = CalibratedClassifierCV(FrozenEstimator(booster), method=self.calibration)
            calibrated.fit(frame.iloc[calibration_rows], y_arr[calibration_rows])
        # model_ marks a finished fit (check_fitted), so it is set only once the calibration succeeded
        self.model_ = calibrated
        self.booster_ = booster
        self.n_iter_ = int(booster.n_iter_)
        return self

    def predict_prepared(self, frame: pd.DataFrame) -> np.ndarray:
        with threadpool_limits(self.n_threads):
            return super().predict_prepared(frame)


class LogisticBaseline(ChurnClassifier):
    """Standardised, L2-penalised logistic regression: the transparent baseline.

    Parameters
    ----------
    numeric, categorical : sequence of str
        Feature columns (``numeric`` empty: every numeric column not in ``categorical``).
    C : float
        Inverse L2 penalty strength (scikit-learn's convention).
    """

    def __init__(
        self, *, numeric: Sequence[str] = (), categorical: Sequence[str] = ("segment",), C: float = 1.0
    ) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.C = C

    def fit(self, features: pd.DataFrame, y: ArrayLike) -> LogisticBaseline:
        y_arr = _check(features, y)
        self._learn_columns(features)
        prepare = ColumnTransformer(
            [
                (
                    "numeric",
                    Pipeline(
                        [
                            (
                                "impute",
                                SimpleImputer(
                                    strategy="median", add_indicator=True, keep_empty_features=True
                                ),
                            ),
                            ("scale", StandardScaler()),
                        ]
                    ),
                    list(self.numeric_),
                ),
                ("categorical", OneHotEncoder(handle_unknown="ignore"), list(self.categorical_)),
            ]
        )
        model = Pipeline([("prepare", prepare), ("logistic", LogisticRegression(C=self.C, max_iter=2000))])
        frame = self._frame(features)
        for column in self.categorical_:
            frame[column] = frame[column].astype(object)
        self.model_ = model.fit(frame, y_arr)
        return self

    def _frame(self, features: pd.DataFrame) -> pd.DataFrame:
        frame = super()._frame(features)
        for column in self.categorical_:
            frame[column] = frame[column].astype(object)
        return frame

    def coefficients(self) -> pd.Series:
        """Log-odds per standard deviation of each (transformed) feature, by name."""
        self.check_fitted("model_")
        names = self.model_.named_steps["prepare"].get_feature_names_out()
        coef = self.model_.named_steps["logistic"].coef_[0]
        return pd.Series(coef, index=[n.split("__", 1)[1] for n in names])

    def summary(self) -> pd.DataFrame:
        """The :meth:`coefficients` as a table (one row per transformed feature); ``attrs`` carry the
        ``intercept`` and ``C``."""
        table = self.coefficients().rename("coefficient").to_frame()
        table.index.name = "feature"
        table.attrs.update(intercept=float(self.model_.named_steps["logistic"].intercept_[0]), C=self.C)
        return table
