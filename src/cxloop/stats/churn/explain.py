"""Why a customer is at risk: global permutation importance and per-customer what-if contributions.

**Global.** :func:`permutation_importance` shuffles one *group* of features at a time (e.g. all NPS
features together, so correlated columns do not hide each other) and reports the drop in AUC on
held-out customers, averaged over repeats (Breiman 2001; Fisher, Rudin & Dominici 2019).

**Per customer.** :func:`what_if_contributions` asks the fitted model, for each feature group, how much
lower the customer's risk would be if that group's features took *reference* values (the median of
customers who stayed, by default) while everything else stayed as it is:
``contribution_g = risk(x) - risk(x with group g set to the reference)``. Positive contributions are
reasons for the risk; the largest ones, put in words, are the customer's top reasons. This is a
one-at-a-time counterfactual on the model (not a Shapley decomposition: contributions need not add up
to the risk), cheap enough for every customer (one prediction per group) and easy to state.

References
----------
Breiman, L. (2001). Random forests. *Machine Learning* 45(1), 5-32.
Fisher, A., Rudin, C. & Dominici, F. (2019). All models are wrong, but many are useful: learning a
variable's importance by studying an entire class of prediction models simultaneously. *JMLR* 20(177).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import roc_auc_score

if TYPE_CHECKING:
    from pandas._typing import Scalar

__all__ = ["permutation_importance", "reference_values", "what_if_contributions"]

Predict = Callable[[pd.DataFrame], np.ndarray]


def permutation_importance(
    predict: Predict,
    features: pd.DataFrame,
    y: ArrayLike,
    groups: Mapping[str, Sequence[str]],
    *,
    repeats: int = 5,
    random_state: int = 0,
) -> pd.DataFrame:
    """Drop in AUC when each group's columns are shuffled together (rows permuted jointly).

    Returns ``group, importance, sd, features`` sorted by importance, highest first.
    """
    y_arr = np.asarray(y, dtype=float)
    baseline = roc_auc_score(y_arr, predict(features))
    rng = np.random.default_rng(random_state)
    rows = []
    for name, columns in groups.items():
        cols = [c for c in columns if c in features.columns]
        if not cols:
            continue
        drops = []
        for _ in range(repeats):
            shuffled = features.copy()
            order = rng.permutation(len(features))
            shuffled[cols] = features[cols].iloc[order].to_numpy()
            drops.append(baseline - roc_auc_score(y_arr, predict(shuffled)))
        rows.append(
            {
                "group": name,
                "importance": float(np.mean(drops)),
                "sd": float(np.std(drops, ddof=1)) if repeats > 1 else 0.0,
                "features": ", ".join(cols),
            }
        )
    table = pd.DataFrame(rows, columns=["group", "importance", "sd", "features"])
    return table.sort_values("importance", ascending=False, ignore_index=True)


def reference_values(features: pd.DataFrame, y: ArrayLike) -> dict[str, Scalar | None]:
    """Typical values of customers who stayed: the median of numeric columns (NaN kept where most
    are missing), the most common category otherwise."""
    stayed = features[np.asarray(y) == 0]
    out: dict[str, Scalar | None] = {}
    for column in features.columns:
        values = stayed[column]
        if pd.api.types.is_numeric_dtype(values):
            out[column] = float(values.median()) if values.notna().mean() >= 0.5 else float("nan")
        else:
            mode = values.dropna().mode()
            out[column] = mode.iloc[0] if len(mode) else None
    return out


def what_if_contributions(
    predict: Predict,
    features: pd.DataFrame,
    groups: Mapping[str, Sequence[str]],
    reference: Mapping[str, Scalar | None],
) -> pd.DataFrame:
    """Per customer and group: risk now minus risk with the group's features at ``reference``.

    Returns a frame with one column per group (same index as ``features``) plus ``risk``.
    """
    risk = predict(features)
    out = {"risk": risk}
    for name, columns in groups.items():
        cols = [c for c in columns if c in features.columns]
        if not cols:
            continue
        changed = features.copy()
        for column in cols:
            value = reference[column]
            if isinstance(features[column].dtype, pd.CategoricalDtype):
                changed[column] = pd.Categorical(
                    [value] * len(features), categories=features[column].cat.categories
                )
            else:
                changed[column] = value
        out[name] = risk - predict(changed)
    return pd.DataFrame(out, index=features.index)
