"""Shared fixtures: isolated settings, the real PostgreSQL server, one local Spark session per run.

PostgreSQL and Spark tests are required in CI (``CI=true``): there a missing server fails the run. On a
laptop without them, those tests skip with a message that says how to get them.

The run is split over two pytest-xdist workers (``addopts``) by test module (see
:func:`pytest_xdist_make_scheduler`), and numpy's BLAS, OpenMP and torch run one thread per worker.
"""

from __future__ import annotations

import os

# One BLAS/OpenMP thread per test process, set before numpy, scikit-learn or torch load (inherited by the
# xdist workers): on a 2-core machine shared with other work, more threads spin-wait on each other's cores
# (docs/architecture.md, "Test suite"). Results do not depend on it.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import shutil  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from cxloop.config import Settings  # noqa: E402

# Fixtures that tests in several folders use (tests/support/*_fixtures.py).
# demo_companies first: churn_fixtures imports it, and a plugin imported before it is registered cannot have
# its asserts rewritten.
pytest_plugins = [
    "support.demo_companies",
    "support.cases_fixtures",
    "support.churn_fixtures",
    "support.upload_fixtures",
]

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
POSTGRES_URL = os.environ.get("CXLOOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _unavailable(what: str, how: str) -> None:
    message = f"{what} is not available: {how}"
    if IN_CI:
        pytest.fail(f"{message} (CI=true requires it)")
    pytest.skip(message)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings whose stores live in a fresh temporary folder."""
    return Settings(data_dir=tmp_path / "cxloop-data", environment="test", secret_key="test-" + "x" * 40)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database on the local server, dropped after the test."""
    import sqlalchemy as sa

    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means the server is not there
        admin.dispose()
        _unavailable(
            "PostgreSQL at " + POSTGRES_URL,
            f"{type(exc).__name__}. Install and start it (apt-get install postgresql; "
            "pg_ctlcluster 15 main start) with trust auth for 127.0.0.1, or set CXLOOP_TEST_POSTGRES_URL.",
        )
    name = f"cxloop_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory):
    """One local[2] Spark session for the whole run, one per xdist worker (its start-up is costly)."""
    if shutil.which("java") is None:
        _unavailable("Java (for Spark)", "apt-get install openjdk-17-jre-headless")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        _unavailable("pyspark", "pip install -e '.[dev]' (the spark extra)")
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    warehouse_dir = tmp_path_factory.mktemp("spark-warehouse")
    session = (
        SparkSession.builder.master("local[2]")
        .appName("cxloop-tests")
        .config("spark.sql.warehouse.dir", str(warehouse_dir))
        # The tests' tables hold a few thousand rows: one shuffle partition, and no adaptive re-planning of
        # every query stage at run time (much of the Spark tests' time; the results do not depend on it).
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={warehouse_dir}")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


# Markers, applied here so that a new test cannot escape them (``--strict-markers`` in pyproject):
# - ``spark``: every test whose fixtures include the Spark session;
# - ``browser``: every test under tests/web/browser/, and any test module using support.browser_support;
# - ``slow``: the tests below (over ~5 s with their fixtures on this project's 2-core machine; the measured
#   times are in docs/architecture.md, "Test suite"), and every test of the scale-1 churn demo.
# ``make test-fast`` runs ``-m "not spark and not browser and not slow"``.
_BROWSER_FOLDER = "tests/web/browser/"
_SLOW_FIXTURES = frozenset({"churn_demo", "trained"})
_SLOW = frozenset(
    {
        # whole modules over a demo company they build, load or copy (every test shares the fixture)
        "tests/cli/test_cli_pilot.py",
        "tests/cli/test_cli_text.py",
        "tests/services/prove/test_pilots_demo.py",
        "tests/services/test_result_cache.py",
        "tests/services/understand/test_drivers_demo.py",
        "tests/services/understand/test_text_demo.py",
        "tests/services/value/test_value_demo.py",
        "tests/warehouse/test_driver_moments_monthly.py",
        # single tests
        "tests/warehouse/test_cube.py::test_rollup_equals_each_parent_computed_directly",
    }
)


def _is_slow(nodeid: str) -> bool:
    return any(nodeid == slow or nodeid.startswith((slow + "::", slow + "[")) for slow in _SLOW)


def _uses_browser(item: pytest.Item) -> bool:
    if item.nodeid.startswith(_BROWSER_FOLDER):
        return True
    module = getattr(item, "module", None)
    return module is not None and any(
        getattr(value, "__module__", None) == "support.browser_support" for value in vars(module).values()
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "spark_session" in fixtures:
            item.add_marker(pytest.mark.spark)
        if _uses_browser(item):
            item.add_marker(pytest.mark.browser)
        if fixtures & _SLOW_FIXTURES or _is_slow(item.nodeid):
            item.add_marker(pytest.mark.slow)


# Test modules that share a session-scoped fixture costly to build go to one xdist worker together, so it is
# built once per run: the scale-1 churn demo with its trained model (support/churn_fixtures.py), and the demo
# companies of ``demo_companies`` that several modules read or copy (by scale and seed).
_SHARED_SCOPES = {
    "tests/services/value/test_predict_demo.py": "churn-demo",
    "tests/warehouse/test_predict_leakage.py": "churn-demo",
    "tests/web/api/test_predict_api.py": "churn-demo",
    "tests/demo/": "demo-0.2-11",
    "tests/services/understand/test_drivers_demo.py": "demo-0.2-11",
    "tests/services/value/test_value_demo.py": "demo-0.2-11",
    "tests/services/prove/test_pilots_demo.py": "demo-0.5-2026",
    "tests/cli/test_cli_pilot.py": "demo-0.5-2026",
    "tests/services/test_result_cache.py": "demo-0.02-3",
    "tests/warehouse/test_driver_moments_monthly.py": "demo-0.02-3",
}


def _module_scope(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    return next((scope for prefix, scope in _SHARED_SCOPES.items() if path.startswith(prefix)), path)


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """With ``--dist loadfile`` (``addopts``): whole modules per worker, as xdist's loadfile, except that the
    modules in ``_SHARED_SCOPES`` travel together. Module-scoped fixtures (a served app, a browser, a Spark
    database) are then built once, as in a plain run. (xdist's ``loadgroup`` cannot be used: it renames
    ``item._nodeid``, which pytest 9 no longer reads.)"""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _module_scope(nodeid)

    return ModuleScheduling(config, log)
