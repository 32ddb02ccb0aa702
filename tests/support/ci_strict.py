"""Run-wide honesty rules, loaded by tests/conftest.py (``pytest_plugins``).

* Under ``CI=true`` a run that skips any test fails: every real part (PostgreSQL, Spark, Chromium, the text
  extra) is required there, so a skip means something was not tested. On a laptop skips stay skips.
* Hypothesis runs every ``@given`` test without a per-example deadline (a deadline is a wall-clock limit in
  a unit test, and fails on a loaded machine, not on a wrong answer) and derandomized, so a run is
  reproducible.
"""

from __future__ import annotations

import pytest
from hypothesis import settings as hypothesis_settings

from support.real_parts import IN_CI

hypothesis_settings.register_profile("cxloop", deadline=None, derandomize=True, database=None)
hypothesis_settings.load_profile("cxloop")

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Collect the skips (on the xdist controller, the workers' reports arrive here too)."""
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append(f"{report.nodeid}: {reason}")


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A module skipped as a whole (``pytest.skip(allow_module_level=True)``) is a skip too."""
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skipped.append(f"{report.nodeid}: {reason}")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if IN_CI and _skipped and not hasattr(config, "workerinput"):
        terminalreporter.section("skipped under CI=true", sep="=", red=True, bold=True)
        for line in _skipped:
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"{len(_skipped)} skipped: CI=true requires every test to run.")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if IN_CI and _skipped and not hasattr(session.config, "workerinput") and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
