"""plans: targets per unit, metric and period; action plans with notes and links to targets

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 13:20:00

Written from Alembic's autogenerate output against ``cxloop.store.tables.plans`` (Target, Action,
ActionTarget, ActionNote), then checked by hand: tables are created parents first (targets, actions, then
the link and note tables that point at them) and dropped children first; constraint names follow the
naming convention of ``cxloop.store.tables`` so SQLite and PostgreSQL get the same schema.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "targets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=80), nullable=False),
        sa.Column("granularity", sa.String(length=16), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("target_value", sa.Float(), nullable=False),
        sa.Column(
            "origin",
            sa.Enum("top_down", "own", name="target_origin", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("set_from_unit_id", sa.String(length=64), nullable=False),
        sa.Column("set_by_user_id", sa.Integer(), nullable=True),
        sa.Column("set_by", sa.String(length=320), nullable=False),
        sa.Column("rationale", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["set_by_user_id"], ["users.id"], name=op.f("fk_targets_set_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["set_from_unit_id"], ["units.unit_id"], name=op.f("fk_targets_set_from_unit_id_units")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.unit_id"], name=op.f("fk_targets_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_targets")),
        sa.UniqueConstraint(
            "unit_id", "metric", "granularity", "period_start", name="uq_targets_unit_period"
        ),
    )
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.create_index("ix_targets_period", ["granularity", "period_start"], unique=False)
        batch_op.create_index(batch_op.f("ix_targets_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("owner_user_id", sa.Integer(), nullable=False),
        sa.Column("driver", sa.String(length=64), nullable=True),
        sa.Column("touchpoint_id", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.String(length=200), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column(
            "horizon",
            sa.Enum("short_term", "long_term", name="action_horizon", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("cost", sa.Float(), nullable=True),
        sa.Column("impact_metric", sa.String(length=80), nullable=True),
        sa.Column("impact_points", sa.Float(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "in_progress",
                "done",
                "cancelled",
                name="action_status",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"], ["users.id"], name=op.f("fk_actions_created_by_user_id_users")
        ),
        sa.ForeignKeyConstraint(["owner_user_id"], ["users.id"], name=op.f("fk_actions_owner_user_id_users")),
        sa.ForeignKeyConstraint(
            ["touchpoint_id"],
            ["touchpoints.touchpoint_id"],
            name=op.f("fk_actions_touchpoint_id_touchpoints"),
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.unit_id"], name=op.f("fk_actions_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_actions")),
    )
    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_actions_due_date"), ["due_date"], unique=False)
        batch_op.create_index("ix_actions_owner_status", ["owner_user_id", "status"], unique=False)
        batch_op.create_index("ix_actions_unit_status", ["unit_id", "status"], unique=False)

    op.create_table(
        "action_notes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("author_user_id", sa.Integer(), nullable=True),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["actions.id"],
            name=op.f("fk_action_notes_action_id_actions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_user_id"], ["users.id"], name=op.f("fk_action_notes_author_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_notes")),
    )
    with op.batch_alter_table("action_notes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_action_notes_action_id"), ["action_id"], unique=False)

    op.create_table(
        "action_targets",
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["action_id"],
            ["actions.id"],
            name=op.f("fk_action_targets_action_id_actions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["targets.id"],
            name=op.f("fk_action_targets_target_id_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("action_id", "target_id", name=op.f("pk_action_targets")),
    )
    with op.batch_alter_table("action_targets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_action_targets_target_id"), ["target_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("action_targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_targets_target_id"))
    op.drop_table("action_targets")

    with op.batch_alter_table("action_notes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_action_notes_action_id"))
    op.drop_table("action_notes")

    with op.batch_alter_table("actions", schema=None) as batch_op:
        batch_op.drop_index("ix_actions_unit_status")
        batch_op.drop_index("ix_actions_owner_status")
        batch_op.drop_index(batch_op.f("ix_actions_due_date"))
    op.drop_table("actions")

    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_targets_unit_id"))
        batch_op.drop_index("ix_targets_period")
    op.drop_table("targets")
