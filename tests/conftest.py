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
# Tests read right after they write and expect the new data: dashboard reads are as fresh as any other
# read here (CXLOOP_DASHBOARD_STALENESS_SECONDS=0). The tests of the interval set it on their own settings
# (tests/web/api/test_dashboard_freshness.py, tests/services/test_result_cache.py).
os.environ.setdefault("CXLOOP_DASHBOARD_STALENESS_SECONDS", "0")

import shutil  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from cxloop.config import Settings  # noqa: E402
from support.real_parts import unavailable  # noqa: E402

# Run-wide rules (support/ci_strict.py: no skip under CI=true, one hypothesis profile) and fixtures that tests
# in several folders use (tests/support/*_fixtures.py).
# demo_companies first: churn_fixtures imports it, and a plugin imported before it is registered cannot have
# its asserts rewritten.
pytest_plugins = [
    "pytester",  # tests/test_suite_honesty.py runs a planted suite
    "support.ci_strict",
    "support.demo_companies",
    "support.cases_fixtures",
    "support.churn_fixtures",
    "support.store_fixtures",
    "support.upload_fixtures",
]

POSTGRES_URL = os.environ.get("CXLOOP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


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
        unavailable(
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
        unavailable("Java (for Spark)", "apt-get install openjdk-17-jre-headless")
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        unavailable("pyspark", "pip install -e '.[dev]' (the spark extra)")
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
        "tests/services/understand/test_theme_drivers.py",
        "tests/services/value/test_value_demo.py",
        "tests/warehouse/derived/test_driver_moments_monthly.py",
        # subprocesses storing and reading 200 driver items (issue 23: they used to die with SIGFPE)
        "tests/cli/test_cli_catalogue.py::test_two_hundred_item_columns_get_the_ceiling_or_are_stored_never_a_crash",
        "tests/web/api/test_catalogue_api.py",
        "tests/warehouse/derived/test_driver_moments_items.py::test_two_hundred_items_are_stored_and_read_without_killing_the_engine",
        # measured: setup, call and teardown over 2.5 CPU seconds (docs/architecture.md, "Test suite")
        "tests/cli/test_case_outcomes_cli.py",
        "tests/test_suite_honesty.py::test_a_ci_run_that_skips_a_test_fails",
        "tests/cli/test_cli_clv.py::test_kpis_tiers_and_experience",
        "tests/cli/test_cli_drivers.py::test_priorities_across_segments",
        "tests/cli/test_demo_cli.py::test_every_next_step_the_overview_suggests_runs_on_the_demo",
        "tests/cli/test_demo_cli.py::test_generate_again_is_a_no_op_and_another_seed_replaces_the_demo",
        "tests/cli/test_demo_cli.py::test_generate_imports_every_file_cleanly_and_overview_reads_it_back",
        "tests/cli/test_demo_cli.py::test_generate_refuses_stores_holding_other_data_unless_replaced",
        "tests/services/access/test_suppression.py::test_no_suppressed_cell_can_be_recovered_by_subtraction",
        "tests/services/act/test_case_lifecycle.py::test_detractor_opens_one_case_for_the_units_owner_and_reposting_opens_none",
        "tests/services/act/test_case_lifecycle.py::test_full_lifecycle_with_sla_breach_and_escalation",
        "tests/services/act/test_case_lifecycle.py::test_rule_kinds_keywords_csat_ces_and_value_tier",
        "tests/services/act/test_case_lifecycle.py::test_unit_score_drop_opens_one_case_per_unit_not_per_response",
        "tests/services/act/test_case_lifecycle.py::test_workflow_refuses_moves_it_does_not_allow",
        "tests/services/act/test_rule_kinds.py::test_a_fresh_process_has_every_kind_after_importing_only_services",
        "tests/services/act/test_theme_rule.py::test_theme_rule_opens_cases_for_negative_mentions_only",
        "tests/services/act/test_theme_rule.py::test_without_a_codebook_the_kind_matches_nothing",
        "tests/services/listen/test_realtime_ingest.py",
        "tests/services/understand/test_drivers_service.py::test_bootstrap_intervals_in_json",
        "tests/services/understand/test_priorities.py::test_money_is_churn_slope_times_half_gap_times_customer_margin",
        "tests/services/understand/test_priorities.py::test_priorities_across_segments_rank_every_segment_item_together",
        "tests/services/understand/test_priorities.py::test_suppressed_and_json",
        "tests/stats/test_impact_simulation.py",
        "tests/text/test_text_extra.py::test_embedding_sentiment_beats_vader_on_held_out_examples",
        "tests/warehouse/queries/test_cube.py::test_rollup_equals_each_parent_computed_directly",
        "tests/warehouse/queries/test_driver_stats.py::test_behavioural_outcomes_match_pandas_reference",
        "tests/warehouse/queries/test_driver_stats.py::test_patterns_without_sampling_are_all_complete_rows",
        "tests/warehouse/queries/test_driver_stats.py::test_wide_response_items_table_gives_the_same_statistics",
        "tests/warehouse/queries/test_value_engines.py",
        # every navigation page as six logins at two widths with axe-core (about 4 min on two cores)
        "tests/web/browser/test_every_page.py",
        "tests/web/api/test_cases_api.py",
        "tests/web/api/test_openapi_fuzz.py",
        "tests/web/pages/test_form_fuzz.py",
        "tests/web/pages/test_case_pages.py",
        "tests/web/pages/test_dashboard_pages.py::test_home_shows_seven_tiles_with_n_interval_sparkline_and_comparisons",
        "tests/web/pages/test_upload_pages.py::test_only_admins_and_a_branch_admin_only_for_their_unit",
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
    "tests/warehouse/queries/test_predict_leakage.py": "churn-demo",
    "tests/web/api/test_predict_api.py": "churn-demo",
    "tests/demo/": "demo-0.2-11",
    "tests/services/understand/test_drivers_demo.py": "demo-0.2-11",
    "tests/services/value/test_value_demo.py": "demo-0.2-11",
    "tests/services/prove/test_pilots_demo.py": "demo-0.5-2026",
    "tests/cli/test_cli_pilot.py": "demo-0.5-2026",
    "tests/services/understand/test_text_demo.py": "demo-0.2-23",
    "tests/services/understand/test_theme_drivers.py": "demo-0.2-23",
    "tests/services/test_result_cache.py": "demo-0.02-3",
    "tests/warehouse/derived/test_driver_moments_monthly.py": "demo-0.02-3",
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
