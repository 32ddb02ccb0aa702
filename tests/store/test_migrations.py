"""Alembic migrations: exactly the models' tables, a clean way back down, shipped in the package."""

from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from cxloop.store import migrate
from cxloop.store.db import make_engine
from cxloop.store.tables import Base

MODEL_TABLES = {"units", "users", "touchpoints", "segments", "surveys", "questions", "import_runs"}
MODEL_TABLES |= {"pilots", "pilot_waves", "pilot_units", "pilot_decisions"}  # 0002_pilots
MODEL_TABLES |= {"themes"}  # 0003_text_themes
MODEL_TABLES |= {"api_keys"}  # 0004_api_keys
MODEL_TABLES |= {"audit_events", "alert_rules", "cases", "notifications"}  # 0005_cases
MODEL_TABLES |= {"targets", "actions", "action_targets", "action_notes"}  # 0006_plans
MODEL_TABLES |= {"upload_jobs"}  # 0007_connectors
MODEL_TABLES |= {"churn_models", "churn_outreach"}  # 0008_predict
MODEL_TABLES |= {"app_revision"}  # 0009_scope_stamp
MODEL_TABLES |= {"login_sessions"}  # 0010_login_sessions
MODEL_TABLES |= {"pending_arrivals", "health_probe"}  # 0011_storage_failures
# The newest revision shipped: the highest-numbered script (the chain must be linear and end there).
HEAD = max(p.name.split("_")[0] for p in (migrate.MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_models_declare_the_tables_the_tests_expect():
    assert set(Base.metadata.tables) == MODEL_TABLES


def test_head_is_the_newest_revision_and_migrations_ship_in_the_package():
    assert migrate.head() == HEAD
    assert (migrate.MIGRATIONS_DIR / "env.py").is_file()
    assert (migrate.MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (migrate.MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()


def test_a_fresh_database_has_no_revision(db_url):
    assert migrate.current(db_url) is None
    assert not migrate.is_up_to_date(db_url)


def test_upgrade_to_head_creates_the_tables(db_url):
    migrate.upgrade(db_url)
    assert _tables(db_url) == MODEL_TABLES | {"alembic_version"}
    assert migrate.current(db_url) == migrate.head()
    assert migrate.is_up_to_date(db_url)


def test_upgrade_twice_is_a_no_op(db_url):
    migrate.upgrade(db_url)
    migrate.upgrade(db_url)
    assert migrate.current(db_url) == HEAD


def test_migrated_schema_matches_the_models(db_url):
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_migrated_schema_has_both_unit_foreign_keys_and_the_path_index(db_url):
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            foreign_keys = {fk["name"]: fk["referred_table"] for fk in inspector.get_foreign_keys("units")}
            indexes = {index["name"] for index in inspector.get_indexes("units")}
    finally:
        engine.dispose()
    assert foreign_keys == {"fk_units_parent_id_units": "units", "fk_units_owner_user_id_users": "users"}
    assert {"ix_units_path", "ix_units_parent_id"} <= indexes


def test_downgrade_to_base_removes_the_tables(db_url):
    migrate.upgrade(db_url)
    migrate.downgrade(db_url, "base")
    assert _tables(db_url) & MODEL_TABLES == set()
    assert migrate.current(db_url) is None


def test_downgrade_then_upgrade_again_round_trips(db_url):
    migrate.upgrade(db_url)
    migrate.downgrade(db_url, "base")
    migrate.upgrade(db_url)
    assert _tables(db_url) == MODEL_TABLES | {"alembic_version"}


def test_alembic_config_needs_no_ini_file_and_escapes_percent_signs():
    config = migrate.alembic_config("postgresql+psycopg://user:p%40ss@host/db")
    assert config.config_file_name is None
    assert config.get_main_option("sqlalchemy.url") == "postgresql+psycopg://user:p%40ss@host/db"
    assert config.get_main_option("script_location") == migrate.MIGRATIONS_DIR.as_posix()


BROKEN_REVISION = '''"""a revision that fails half-way"""

import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute("INSERT INTO half_done (id) VALUES (1)")
    with op.batch_alter_table("units") as batch_op:
        batch_op.add_column(sa.Column("half_done_flag", sa.Integer(), nullable=True))
    op.execute("SELECT no_such_column FROM units")


def downgrade():
    pass
'''


def test_a_failing_revision_leaves_no_trace(db_url, tmp_path):
    """Each revision runs in one transaction, on SQLite too: a failure rolls its DDL back."""
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "9999_broken.py").write_text(BROKEN_REVISION.replace("{head}", HEAD))
    config = migrate.alembic_config(db_url)
    config.set_main_option("script_location", scripts.as_posix())
    with pytest.raises(sa.exc.DBAPIError, match="no_such_column"):
        with migrate._migration_connection(db_url) as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    assert migrate.current(db_url) == HEAD  # the earlier revisions committed on their own
    assert _tables(db_url) == MODEL_TABLES | {"alembic_version"}
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            columns = {column["name"] for column in sa.inspect(connection).get_columns("units")}
    finally:
        engine.dispose()
    assert "half_done_flag" not in columns


def test_sqlite_migrations_run_with_foreign_keys_off_and_normal_engines_keep_them_on(tmp_path):
    url = f"sqlite:///{(tmp_path / 'fk.db').as_posix()}"
    with migrate._migration_connection(url) as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
