"""pilots: pilots, their rollout waves, treated and control units, decisions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:38:00

Written from Alembic's autogenerate output against ``cxloop.store.tables`` (Pilot, PilotWave, PilotUnit,
PilotDecision), then checked: tables are created parents first and dropped children first; the list
columns of ``pilots`` are JSON (TEXT on SQLite, JSON on PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pilots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("hypothesis", sa.Text(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("one_off_cost", sa.Float(), nullable=False),
        sa.Column("running_cost", sa.Float(), nullable=False),
        sa.Column("touchpoints", sa.JSON(), nullable=False),
        sa.Column("segments", sa.JSON(), nullable=False),
        sa.Column("target_metrics", sa.JSON(), nullable=False),
        sa.Column("linked_actions", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], name=op.f("fk_pilots_created_by_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pilots")),
        sa.UniqueConstraint("name", name=op.f("uq_pilots_name")),
    )
    op.create_table(
        "pilot_waves",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pilot_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("one_off_cost", sa.Float(), nullable=False),
        sa.Column("running_cost", sa.Float(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pilot_id"], ["pilots.id"], name=op.f("fk_pilot_waves_pilot_id_pilots"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pilot_waves")),
    )
    with op.batch_alter_table("pilot_waves", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pilot_waves_pilot_id"), ["pilot_id"], unique=False)

    op.create_table(
        "pilot_decisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pilot_id", sa.Integer(), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=True),
        sa.Column(
            "decision",
            sa.Enum("scale", "iterate", "stop", name="pilot_decision", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=320), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["pilot_id"], ["pilots.id"], name=op.f("fk_pilot_decisions_pilot_id_pilots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["wave_id"],
            ["pilot_waves.id"],
            name=op.f("fk_pilot_decisions_wave_id_pilot_waves"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pilot_decisions")),
    )
    with op.batch_alter_table("pilot_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pilot_decisions_pilot_id"), ["pilot_id"], unique=False)

    op.create_table(
        "pilot_units",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("pilot_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("wave_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["pilot_id"], ["pilots.id"], name=op.f("fk_pilot_units_pilot_id_pilots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.unit_id"], name=op.f("fk_pilot_units_unit_id_units")),
        sa.ForeignKeyConstraint(
            ["wave_id"],
            ["pilot_waves.id"],
            name=op.f("fk_pilot_units_wave_id_pilot_waves"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pilot_units")),
    )
    with op.batch_alter_table("pilot_units", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pilot_units_pilot_id"), ["pilot_id"], unique=False)
        batch_op.create_index("ix_pilot_units_unit", ["unit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("pilot_units", schema=None) as batch_op:
        batch_op.drop_index("ix_pilot_units_unit")
        batch_op.drop_index(batch_op.f("ix_pilot_units_pilot_id"))

    op.drop_table("pilot_units")
    with op.batch_alter_table("pilot_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pilot_decisions_pilot_id"))

    op.drop_table("pilot_decisions")
    with op.batch_alter_table("pilot_waves", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pilot_waves_pilot_id"))

    op.drop_table("pilot_waves")
    op.drop_table("pilots")
