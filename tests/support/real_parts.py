"""The real parts a test needs (a server, a browser, an optional extra): missing, a test skips with a message
that says how to get it on a laptop, and fails under ``CI=true``, where every real part is required."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

__all__ = ["IN_CI", "require_module", "unavailable"]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(what: str, how: str) -> None:
    """Skip (on a laptop) or fail (in CI) because ``what`` is missing; ``how`` says how to get it."""
    message = f"{what} is not available: {how}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true requires it)", pytrace=False)
    pytest.skip(message, allow_module_level=True)


def require_module(name: str, how: str) -> ModuleType:
    """``import name``, or :func:`unavailable` with ``how``."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        unavailable(f"the module {name} ({exc})", how)
        raise  # unreachable: unavailable() raises
