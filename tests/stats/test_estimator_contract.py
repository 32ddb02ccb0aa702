"""Every estimator in ``cxloop.stats`` keeps the one contract of ``cxloop.stats._base``.

The estimators are found by walking the package, not listed by hand: a class with a ``fit`` (or
``fit_*``) method must derive from :class:`Estimator` and must have a case below, so a new estimator
cannot escape these checks. Each case names the hyperparameters to change, how to fit it on a small data
set already used by the statistics tests, and a call of every other public method or property (each must
refuse an unfitted estimator with the one :class:`NotFittedError`).
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from reference.clv_sbg_retention import CALIBRATION_PERIODS, SURVIVORS

import cxloop.stats
from cxloop.stats import _base
from cxloop.stats._base import Estimator, NotFittedError
from cxloop.stats.churn import CoxResult, GradientBoostedChurn, LogisticBaseline, cox_model
from cxloop.stats.clv import BetaGeo, GammaGamma, ShiftedBetaGeometric
from cxloop.stats.drivers import KeyDriverAnalysis
from cxloop.stats.impact import PilotImpact
from cxloop.stats.roi import pilot_roi

# Positional and keyword arguments of one call.
Call = tuple[tuple[Any, ...], dict[str, Any]]
# Builds a fit method's arguments; fixtures come from the request (``request.getfixturevalue``).
FitArguments = Callable[[pytest.FixtureRequest], Call]
# Methods every estimator has from the base class: not results, so not asked to refuse an unfitted one.
_CONTRACT = {"get_params", "set_params", "check_fitted"}


def _modules() -> list[ModuleType]:
    names = pkgutil.walk_packages(cxloop.stats.__path__, prefix="cxloop.stats.")
    return [cxloop.stats, *(importlib.import_module(info.name) for info in names)]


def _classes() -> list[type]:
    return sorted(
        {
            value
            for module in _modules()
            for value in vars(module).values()
            if inspect.isclass(value) and value.__module__.startswith("cxloop.stats")
        },
        key=lambda cls: f"{cls.__module__}.{cls.__qualname__}",
    )


def _fit_methods(cls: type) -> list[str]:
    return [name for name in dir(cls) if name == "fit" or name.startswith("fit_")]


def _estimators() -> list[type]:
    return [cls for cls in _classes() if _fit_methods(cls)]


def _results_members(cls: type) -> list[str]:
    """The public methods and properties that need a fitted estimator."""
    members = []
    for name in dir(cls):
        if name.startswith("_") or name in _CONTRACT or name in _fit_methods(cls):
            continue
        static = inspect.getattr_static(cls, name)
        if isinstance(static, property) or inspect.isfunction(static):
            members.append(name)
    return members


# -- small data sets --------------------------------------------------------------------------------------


def _churn_frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    n = 600
    nps = rng.integers(0, 11, n).astype(float)
    churned = (rng.random(n) < np.where(nps <= 6, 0.3, 0.05)).astype(int)
    frame = pd.DataFrame(
        {"nps_latest": nps, "noise": rng.normal(size=n), "segment": rng.choice(["a", "b"], n)}
    )
    return frame, churned


def _pilot_panel() -> pd.DataFrame:
    """Six branches over six months, the first two in a pilot from month 3 that adds 2 points."""
    rng = np.random.default_rng(0)
    branch, month = np.divmod(np.arange(36), 6)
    pilot, after = branch < 2, month >= 3
    nps = rng.normal(size=36) + 2.0 * (pilot & after)
    return pd.DataFrame({"nps": nps, "branch": branch, "month": month, "pilot": pilot, "after": after})


def _swiss_rows(request: pytest.FixtureRequest) -> Call:
    swiss = request.getfixturevalue("swiss")
    return (swiss.drop(columns="Fertility"), swiss["Fertility"]), {}


def _swiss_correlation(request: pytest.FixtureRequest) -> Call:
    swiss = request.getfixturevalue("swiss")
    return (swiss.corr(), len(swiss)), {"outcome": "Fertility"}


def _cdnow_purchases(request: pytest.FixtureRequest) -> Call:
    cdnow = request.getfixturevalue("cdnow")
    return (cdnow["frequency"], cdnow["recency"], cdnow["T"]), {}


def _cdnow_spend(request: pytest.FixtureRequest) -> Call:
    cdnow = request.getfixturevalue("cdnow")
    return (cdnow["frequency"], cdnow["monetary_value"]), {}


def _cohort(_: pytest.FixtureRequest) -> Call:
    return (SURVIVORS["high_end"][: CALIBRATION_PERIODS + 1],), {}


def _cohort_records(_: pytest.FixtureRequest) -> Call:
    """The same cohort as one record per subscriber: the lost ones churned, the rest still active."""
    survivors = np.array(SURVIVORS["high_end"][: CALIBRATION_PERIODS + 1])
    lost, active = -np.diff(survivors), int(survivors[-1])
    periods = np.append(
        np.repeat(np.arange(1, CALIBRATION_PERIODS + 1), lost), np.full(active, CALIBRATION_PERIODS)
    )
    churned = np.append(np.ones(lost.sum(), dtype=bool), np.zeros(active, dtype=bool))
    return (periods, churned), {}


def _churners(_: pytest.FixtureRequest) -> Call:
    return _churn_frame(), {}


def _pilot(_: pytest.FixtureRequest) -> Call:
    keys = {"outcome": "nps", "unit": "branch", "period": "month", "treated": "pilot", "post": "after"}
    return (_pilot_panel(),), keys


# -- one case per estimator -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    changed: dict[str, Any]  # hyperparameters set away from their defaults
    fits: dict[str, FitArguments]  # every fit method and its arguments
    results: dict[str, tuple[Any, ...] | None]  # every other public method and its arguments (property: None)
    fit_params: dict[str, Any] = field(default_factory=dict)  # hyperparameters that keep the fit quick


_FRAME = _churn_frame()[0]
_CHURN_RESULTS: dict[str, tuple[Any, ...]] = {
    "predict_risk": (_FRAME,),
    "prepare": (_FRAME,),
    "predict_prepared": (_FRAME,),
    "summary": (),
}

CASES: dict[type, Case] = {
    KeyDriverAnalysis: Case(
        changed={"method": "relative_weights", "bootstrap": 10, "random_state": 3},
        fits={"fit": _swiss_rows, "fit_correlation": _swiss_correlation},
        results={"summary": ()},
        fit_params={"min_n_per_driver": 5},  # 47 provinces for 5 drivers
    ),
    BetaGeo: Case(
        changed={"penalizer": 0.001, "max_iter": 50},
        fits={"fit": _cdnow_purchases},
        results={
            "conditional_probability_alive": (1, 1.0, 2.0),
            "conditional_expected_number_of_purchases_up_to_time": (1.0, 1, 1.0, 2.0),
            "expected_number_of_purchases_up_to_time": (1.0,),
            "standard_errors_": None,
            "summary": (),
        },
    ),
    GammaGamma: Case(
        changed={"tol": 1e-6},
        fits={"fit": _cdnow_spend},
        results={
            "expected_average_profit": (),
            "conditional_expected_average_profit": (2, 10.0),
            "customer_lifetime_value": (BetaGeo(), 2, 1.0, 2.0, 10.0),
            "standard_errors_": None,
            "summary": (),
        },
    ),
    ShiftedBetaGeometric: Case(
        changed={"max_iter": 20},
        fits={"fit_survival": _cohort, "fit_durations": _cohort_records},
        results={
            "survival_function": (1,),
            "retention_rate": (1,),
            "churn_probability": (1,),
            "projected_survivors": (1,),
            "derl": (0.1,),
            "expected_lifetime_value": (0.1,),
            "standard_errors_": None,
            "summary": (),
        },
    ),
    GradientBoostedChurn: Case(
        changed={"numeric": ["nps_latest"], "max_iter": 50, "n_threads": None},
        fits={"fit": _churners},
        results=_CHURN_RESULTS,
        fit_params={"max_iter": 30, "min_samples_leaf": 20},
    ),
    LogisticBaseline: Case(
        changed={"categorical": [], "C": 0.5},
        fits={"fit": _churners},
        results={**_CHURN_RESULTS, "coefficients": ()},
    ),
    PilotImpact: Case(
        changed={"inference": "cluster", "n_resamples": 99, "event_window": (-2, 2)},
        fits={"fit": _pilot},
        results={"result": (), "summary": (), "summary_text": (), "to_frame": (), "event_study_figure": ()},
        fit_params={"inference": "cluster"},
    ),
}

FIT_METHODS = [(cls, name) for cls, case in CASES.items() for name in case.fits]


def _id(value: Any) -> str:
    return value.__name__ if inspect.isclass(value) else str(value)


# -- discovery -------------------------------------------------------------------------------------------


def test_every_class_that_fits_is_an_estimator_with_a_case() -> None:
    estimators = _estimators()
    assert set(CASES) <= set(estimators)
    assert not [cls for cls in estimators if not issubclass(cls, Estimator)], "derive it from _base.Estimator"
    assert not [cls for cls in estimators if cls not in CASES], "add a Case for it in this module"
    for cls, case in CASES.items():
        assert sorted(case.fits) == sorted(_fit_methods(cls)), cls
        assert sorted(case.results) == sorted(_results_members(cls)), cls


def test_one_not_fitted_error() -> None:
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)
    assert cxloop.stats.NotFittedError is NotFittedError
    errors = {
        (module.__name__, name): value
        for module in _modules()
        for name, value in vars(module).items()
        if inspect.isclass(value) and issubclass(value, Exception) and "fitted" in name.lower()
    }
    assert ("cxloop.stats.drivers", "NotFittedError") in errors  # the old import location still works
    assert set(errors.values()) == {NotFittedError}


def test_every_summary_returns_a_data_frame() -> None:
    with_summary = [cls for cls in _classes() if callable(getattr(cls, "summary", None))]
    assert set(CASES) <= set(with_summary)
    for cls in with_summary:
        returns = inspect.signature(cls.summary).return_annotation
        assert returns in ("pd.DataFrame", pd.DataFrame), f"{cls.__qualname__}.summary() returns {returns}"


def test_results_summaries_are_tables_and_their_text_is_kept() -> None:
    nps = cxloop.stats.nps(20, 30, 50)
    roi = pilot_roi(customers=1000, kept_margin=10.0, retention_uplift=0.01, one_off_cost=500.0, n_draws=100)
    rng = np.random.default_rng(1)
    covariates = pd.DataFrame({"detractor": rng.integers(0, 2, 200)})
    cox = cox_model(rng.exponential(10, 200) / (1 + covariates["detractor"]), np.ones(200), covariates)
    assert isinstance(cox, CoxResult)
    for result in (nps, roi, cox):
        table = result.summary()
        assert isinstance(table, pd.DataFrame) and table.equals(result.to_frame())
        assert isinstance(result.summary_text(), str)
    assert nps.summary().attrs["title"].startswith("Net Promoter Score")
    assert cox.summary().attrs["n"] == 200


def test_base_docstring_example_runs() -> None:
    failures, tried = doctest.testmod(_base, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0


# -- the contract, estimator by estimator ------------------------------------------------------------------


@pytest.mark.parametrize("cls", list(CASES), ids=_id)
def test_params_round_trip(cls: type[Estimator]) -> None:
    case = CASES[cls]
    estimator = cls()
    params = estimator.get_params()
    assert list(params) == [name for name in inspect.signature(cls).parameters]
    assert cls(**params).get_params() == params
    assert repr(estimator) == f"{cls.__name__}()"
    assert estimator.set_params(**case.changed) is estimator
    assert estimator.get_params() == {**params, **case.changed}
    shown = ", ".join(f"{name}={estimator.get_params()[name]!r}" for name in params if name in case.changed)
    assert repr(estimator) == f"{cls.__name__}({shown})"
    assert cls(**estimator.get_params()).get_params() == estimator.get_params()
    with pytest.raises(ValueError, match="unknown parameter 'no_such_parameter'"):
        estimator.set_params(no_such_parameter=1)


@pytest.mark.parametrize("cls", list(CASES), ids=_id)
def test_init_only_stores_keyword_hyperparameters(cls: type[Estimator]) -> None:
    changed = CASES[cls].changed
    estimator = cls(**changed)
    assert set(vars(estimator)) == set(estimator.get_params())
    assert all(getattr(estimator, name) is value for name, value in changed.items())
    with pytest.raises(TypeError):
        cls(*changed.values())


@pytest.mark.parametrize("cls", list(CASES), ids=_id)
def test_unfitted_estimator_raises_not_fitted_error(cls: type[Estimator]) -> None:
    for name, arguments in CASES[cls].results.items():
        estimator = cls()
        with pytest.raises(NotFittedError, match="not fitted"):
            member = getattr(estimator, name)
            if arguments is not None:
                member(*arguments)


@pytest.mark.parametrize(("cls", "method"), FIT_METHODS, ids=_id)
def test_fit_returns_self_with_fitted_attributes_and_a_summary_table(
    cls: type[Estimator], method: str, request: pytest.FixtureRequest
) -> None:
    case = CASES[cls]
    estimator = cls(**case.fit_params)
    before = dict(vars(estimator))
    args, kwargs = case.fits[method](request)
    assert getattr(estimator, method)(*args, **kwargs) is estimator
    assert estimator.get_params() == {
        **cls().get_params(),
        **case.fit_params,
    }  # fit changed no hyperparameter
    added = [name for name in vars(estimator) if name not in before]
    assert added and all(name.endswith("_") for name in added if not name.startswith("_"))
    assert not [name for name in added if inspect.ismethod(getattr(estimator, name))]  # no methods assigned
    assert all(vars(estimator)[name] is value for name, value in before.items())
    assert isinstance(estimator.summary(), pd.DataFrame)
