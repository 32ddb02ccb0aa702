"""initial: org hierarchy, users, touchpoints, segments, surveys, questions, import runs

Revision ID: 0001
Revises:
Create Date: 2026-11-23 10:39:04

Written from Alembic's autogenerate output against ``cxloop.store.tables``, then edited: ``units`` and
``users`` reference each other (a unit's owner is a user; a user's scope is a unit), so ``units`` is
created without its owner foreign key, which is added once ``users`` exists and dropped before it goes.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "import_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("accepted", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("quarantine_path", sa.String(length=2000), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_runs")),
    )
    op.create_index("ix_import_runs_kind_started", "import_runs", ["kind", "started_at"], unique=False)

    op.create_table(
        "segments",
        sa.Column("segment_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("value_rank", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("segment_id", name=op.f("pk_segments")),
    )
    op.create_table(
        "surveys",
        sa.Column("survey_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("survey_id", name=op.f("pk_surveys")),
    )
    op.create_table(
        "touchpoints",
        sa.Column("touchpoint_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("stage_order", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("touchpoint_id", name=op.f("pk_touchpoints")),
    )

    op.create_table(
        "units",
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("parent_id", sa.String(length=64), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("level", sa.String(length=64), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=2000), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["units.unit_id"], name=op.f("fk_units_parent_id_units")),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_units")),
    )
    op.create_index(op.f("ix_units_parent_id"), "units", ["parent_id"], unique=False)
    op.create_index(op.f("ix_units_path"), "units", ["path"], unique=False)

    op.create_table(
        "questions",
        sa.Column("question_id", sa.String(length=64), nullable=False),
        sa.Column("survey_id", sa.String(length=64), nullable=True),
        sa.Column("label", sa.String(length=500), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "nps",
                "csat",
                "ces",
                "rating",
                "text",
                "choice",
                name="question_type",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("scale_min", sa.Float(), nullable=True),
        sa.Column("scale_max", sa.Float(), nullable=True),
        sa.Column("is_driver", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["survey_id"], ["surveys.survey_id"], name=op.f("fk_questions_survey_id_surveys")
        ),
        sa.PrimaryKeyConstraint("question_id", name=op.f("pk_questions")),
    )
    op.create_index(op.f("ix_questions_survey_id"), "questions", ["survey_id"], unique=False)

    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "executive",
                "manager",
                "analyst",
                "frontline",
                name="user_role",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["units.unit_id"], name=op.f("fk_users_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_index(op.f("ix_users_unit_id"), "users", ["unit_id"], unique=False)

    # The owner link closes the units <-> users cycle (batch mode rebuilds the table on SQLite).
    with op.batch_alter_table("units") as batch_op:
        batch_op.create_foreign_key("fk_units_owner_user_id_users", "users", ["owner_user_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("units") as batch_op:
        batch_op.drop_constraint("fk_units_owner_user_id_users", type_="foreignkey")

    op.drop_index(op.f("ix_users_unit_id"), table_name="users")
    op.drop_table("users")
    op.drop_index(op.f("ix_questions_survey_id"), table_name="questions")
    op.drop_table("questions")
    op.drop_index(op.f("ix_units_path"), table_name="units")
    op.drop_index(op.f("ix_units_parent_id"), table_name="units")
    op.drop_table("units")
    op.drop_table("touchpoints")
    op.drop_table("surveys")
    op.drop_table("segments")
    op.drop_index("ix_import_runs_kind_started", table_name="import_runs")
    op.drop_table("import_runs")
