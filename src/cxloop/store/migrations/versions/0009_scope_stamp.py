"""scope stamp: app_revision and the triggers that renew it on every change to users or units

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23 17:10:00

``cxloop.store.revision``: one row holding the database's id and a random stamp; triggers on ``users`` and
``units`` (insert, update, delete; any writer) give it a new value in the writing transaction, so the web
app can keep who-sees-what answers under ``(database id, stamp)`` instead of reading them per request.
SQLite triggers fire per row, PostgreSQL's per statement (one renewal however many rows change).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("users", "units")
EVENTS = ("insert", "update", "delete")


def upgrade() -> None:
    op.create_table(
        "app_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("database_id", sa.String(length=32), nullable=False),
        sa.Column("stamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_revision")),
    )
    op.execute(
        sa.text("INSERT INTO app_revision (id, database_id, stamp) VALUES (1, :database_id, 0)").bindparams(
            database_id=uuid.uuid4().hex
        )
    )
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION cxloop_renew_scope_stamp() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN UPDATE app_revision SET stamp = floor(random() * 9.2e18)::bigint WHERE id = 1; "
            "RETURN NULL; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_renew_scope_stamp AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION cxloop_renew_scope_stamp()"
            )
        return
    for table in TABLES:
        for when in EVENTS:
            trigger = f"CREATE TRIGGER {table}_{when}_renew_scope_stamp AFTER {when.upper()} ON {table} "
            op.execute(trigger + "BEGIN UPDATE app_revision SET stamp = random() WHERE id = 1; END")  # noqa: S608


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_renew_scope_stamp ON {table}")
        op.execute("DROP FUNCTION IF EXISTS cxloop_renew_scope_stamp()")
    else:
        for table in TABLES:
            for when in EVENTS:
                op.execute(f"DROP TRIGGER IF EXISTS {table}_{when}_renew_scope_stamp")
    op.drop_table("app_revision")
