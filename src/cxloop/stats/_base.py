"""The estimator contract shared by every model in :mod:`cxloop.stats`.

An estimator's hyperparameters are the keyword arguments of its ``__init__``, which only stores them
under the same names; ``fit`` (or a ``fit_*`` variant for another kind of input) validates its input,
sets fitted attributes whose names end in ``_`` and returns ``self``; ``summary()`` returns a
:class:`pandas.DataFrame`. :class:`Estimator` derives ``get_params``, ``set_params`` and ``__repr__``
from the ``__init__`` signature, so a subclass declares each hyperparameter exactly once, and
:meth:`Estimator.check_fitted` raises the one :class:`NotFittedError` of the package.

References
----------
Buitinck, L. et al. (2013). API design for machine learning software: experiences from the scikit-learn
project. *ECML PKDD Workshop: Languages for Data Mining and Machine Learning*, 108-122.
"""

from __future__ import annotations

import inspect
from typing import Any, Self

__all__ = ["Estimator", "NotFittedError"]


class NotFittedError(ValueError, AttributeError):
    """An estimator was asked for a result before it was fitted.

    A subclass of both :class:`ValueError` and :class:`AttributeError`, like scikit-learn's, so code
    that catches either (a missing fitted attribute is an ``AttributeError``) keeps working.
    """


class Estimator:
    """Base class of the estimators: the parameter protocol, ``__repr__`` and the fitted check.

    Subclasses define ``__init__`` with keyword-only hyperparameters that it stores unchanged as
    attributes of the same name (no validation, no conversion: ``fit`` does that), so that
    ``type(est)(**est.get_params())`` builds an equal, unfitted estimator.

    References
    ----------
    Buitinck, L. et al. (2013). API design for machine learning software: experiences from the
    scikit-learn project. *ECML PKDD Workshop: Languages for Data Mining and Machine Learning*, 108-122.

    Examples
    --------
    >>> class Shrink(Estimator):
    ...     def __init__(self, *, factor: float = 0.5) -> None:
    ...         self.factor = factor
    ...     def fit(self, values):
    ...         self.mean_ = self.factor * sum(values) / len(values)
    ...         return self
    >>> Shrink(factor=0.9)
    Shrink(factor=0.9)
    >>> Shrink().get_params()
    {'factor': 0.5}
    >>> Shrink().check_fitted("mean_")
    Traceback (most recent call last):
    ...
    cxloop.stats._base.NotFittedError: this Shrink is not fitted yet: call fit() first
    """

    @classmethod
    def _param_defaults(cls) -> dict[str, Any]:
        """Each hyperparameter's default, in the order of ``__init__``'s signature."""
        if cls.__init__ is object.__init__:
            return {}
        defaults: dict[str, Any] = {}
        for name, parameter in inspect.signature(cls.__init__).parameters.items():
            if name == "self":
                continue
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ must name every hyperparameter, not take *{name}")
            defaults[name] = parameter.default
        return defaults

    def get_params(self, deep: bool = True) -> dict[str, Any]:  # noqa: ARG002 - scikit-learn's signature
        """The hyperparameters by name (``deep`` is scikit-learn's; no estimator here nests another)."""
        return {name: getattr(self, name) for name in self._param_defaults()}

    def set_params(self, **params: Any) -> Self:
        """Set hyperparameters by name; an unknown name is a ``ValueError``. Returns ``self``."""
        valid = self._param_defaults()
        for name, value in params.items():
            if name not in valid:
                raise ValueError(f"unknown parameter {name!r}; valid: {', '.join(sorted(valid))}")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = self._param_defaults()
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if _differs(value, defaults[name])
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    @classmethod
    def _fit_methods(cls) -> list[str]:
        """The public methods that fit this estimator: ``fit`` and its ``fit_*`` variants."""
        names = [name for name in dir(cls) if name == "fit" or name.startswith("fit_")]
        return sorted(names, key=lambda name: (name != "fit", name))

    def check_fitted(self, *attributes: str) -> None:
        """Raise :class:`NotFittedError` unless every one of the fitted ``attributes`` is set.

        Name the attributes ``fit`` sets last: a fit that failed half-way leaves the first ones behind.
        """
        if not attributes:
            raise TypeError("check_fitted needs the names of the fitted attributes to look for")
        if not all(hasattr(self, name) for name in attributes):
            methods = " or ".join(f"{name}()" for name in self._fit_methods()) or "fit()"
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call {methods} first")


def _differs(value: Any, default: Any) -> bool:
    """Whether a hyperparameter was changed from its default (arrays and generators count as changed)."""
    if value is default:
        return False
    try:
        return bool(value != default)
    except (TypeError, ValueError):
        return True
