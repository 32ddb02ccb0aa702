"""The suite's own honesty: every test checks something, hypothesis has no hidden wall-clock limit, and a CI
run that skips a test fails.

A test "checks something" when its body (or a function it calls, defined anywhere under tests/) holds an
``assert``, raises, uses ``pytest.raises``/``pytest.warns``/``pytest.fail``, or calls an asserting library
function (``assert_*``, Playwright's ``expect``, schemathesis' ``call_and_validate``). Fixtures do not count:
a test that only sets up and calls, with every check in a fixture, proves nothing of its own.
"""

from __future__ import annotations

import ast
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

TESTS = Path(__file__).resolve().parent
_ASSERTING_NAMES = ("assert", "expect")
_ASSERTING_SUFFIXES = ("validate",)
_PYTEST_CHECKS = {"raises", "warns", "fail", "deprecated_call"}


@dataclass(frozen=True)
class _Function:
    where: str
    node: ast.FunctionDef | ast.AsyncFunctionDef
    is_test: bool


def _dotted(call: ast.Call) -> list[str]:
    """``a.b.c(...)`` -> ``["c", "b", "a"]``; calls on calls (``expect(x).to_be(...)``) continue inward."""
    parts: list[str] = []
    func: ast.expr = call.func
    while True:
        if isinstance(func, ast.Attribute):
            parts.append(func.attr)
            func = func.value
        elif isinstance(func, ast.Call):
            func = func.func
        else:
            break
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return parts


def _functions(source: str, where: str) -> list[_Function]:
    tree = ast.parse(source)
    found = []
    tests = set()
    for node in tree.body:
        members = node.body if isinstance(node, ast.ClassDef) and node.name.startswith("Test") else [node]
        for member in members:
            if isinstance(member, ast.FunctionDef | ast.AsyncFunctionDef) and member.name.startswith("test"):
                tests.add(id(member))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(_Function(f"{where}:{node.lineno} {node.name}", node, id(node) in tests))
    return found


def _checks_itself(node: ast.AST) -> tuple[bool, set[str]]:
    """Whether ``node`` checks something directly, and the names of the functions it calls."""
    called: set[str] = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Assert | ast.Raise):
            return True, called
        if isinstance(child, ast.Call):
            parts = _dotted(child)
            if any(p.startswith(_ASSERTING_NAMES) or p.endswith(_ASSERTING_SUFFIXES) for p in parts):
                return True, called
            if len(parts) >= 2 and parts[-1] == "pytest" and parts[0] in _PYTEST_CHECKS:
                return True, called
            if parts:
                called.add(parts[0])
    return False, called


def unchecked_tests(sources: dict[str, str]) -> list[str]:
    """The tests in ``sources`` (path -> text) that check nothing, directly or through functions they call."""
    functions = [f for where, text in sources.items() for f in _functions(text, where)]
    direct = {id(f.node): _checks_itself(f.node) for f in functions}
    checking = {f.node.name for f in functions if direct[id(f.node)][0]}
    grew = True
    while grew:  # a helper that calls a checking helper checks too
        grew = False
        for f in functions:
            if f.node.name not in checking and direct[id(f.node)][1] & checking:
                checking.add(f.node.name)
                grew = True
    return [
        f.where
        for f in functions
        if f.is_test and not direct[id(f.node)][0] and not direct[id(f.node)][1] & checking
    ]


def _suite() -> dict[str, str]:
    return {str(p.relative_to(TESTS)): p.read_text(encoding="utf-8") for p in sorted(TESTS.rglob("*.py"))}


def test_every_test_in_the_suite_checks_something():
    assert unchecked_tests(_suite()) == []


def test_the_check_finds_a_test_that_only_calls():
    planted = textwrap.dedent(
        """
        import pytest

        def helper(x):
            return x + 1

        def checking_helper(x):
            assert x

        def indirect(x):
            checking_helper(x)

        def test_only_calls():
            helper(1)

        def test_asserts():
            assert helper(1) == 2

        def test_through_two_helpers():
            indirect(1)

        def test_raises():
            with pytest.raises(ValueError):
                int("x")

        class TestGroup:
            def test_in_a_class_calls_only(self):
                helper(2)
        """
    )
    assert unchecked_tests({"planted.py": planted}) == [
        "planted.py:13 test_only_calls",
        "planted.py:27 test_in_a_class_calls_only",
    ]


def _deadlines(source: str) -> list[int]:
    """Lines that give hypothesis a deadline other than ``None``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                none = isinstance(keyword.value, ast.Constant) and keyword.value.value is None
                if keyword.arg == "deadline" and not none:
                    lines.append(node.lineno)
    return lines


def test_hypothesis_runs_without_a_deadline_everywhere():
    """The run's profile (support/ci_strict.py) has no deadline, and no test or profile sets one."""
    assert hypothesis_settings.default.deadline is None
    assert hypothesis_settings.default.derandomize
    found = {where: lines for where, text in _suite().items() if (lines := _deadlines(text))}
    assert found == {}
    assert _deadlines("settings(max_examples=5, deadline=200)\nsettings(deadline=None)") == [1]


@pytest.mark.parametrize("workers", [["-p", "no:xdist"], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_ci_run_that_skips_a_test_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: list[str]
):
    """Under CI=true one skipped test fails the run and is named; on a laptop it is only a skip. With xdist
    the skip happens in a worker and the controller fails the run."""
    # The planted suite's process imports support.ci_strict from tests/, whatever PYTHONPATH the run has.
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    )
    pytester.makeconftest('pytest_plugins = ["support.ci_strict"]')
    pytester.makepyfile(
        test_planted="""
        import pytest

        def test_runs():
            assert True

        def test_skips():
            pytest.skip("the server is not here")
        """
    )
    monkeypatch.setenv("CI", "true")
    in_ci = pytester.runpytest_subprocess(*workers, "-p", "no:cacheprovider", "-o", "addopts=")
    assert in_ci.ret == pytest.ExitCode.TESTS_FAILED
    in_ci.stdout.fnmatch_lines(["*skipped under CI=true*", "*test_skips*the server is not here*"])
    monkeypatch.setenv("CI", "")
    laptop = pytester.runpytest_subprocess(*workers, "-p", "no:cacheprovider", "-o", "addopts=")
    assert laptop.ret == pytest.ExitCode.OK
    laptop.assert_outcomes(passed=1, skipped=1)
