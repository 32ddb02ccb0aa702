"""churn prediction: trained model registry and outreach settings

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 13:20:00

Written by hand after Alembic's autogenerate output for ``cxloop.store.tables.predict``: the registry of
trained churn models (their cards and artefact paths) and the outreach assignments (contacted or held out).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "churn_models",
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("scope_unit_id", sa.String(length=64), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trained_by", sa.String(length=320), nullable=False),
        sa.Column("train_from", sa.Date(), nullable=False),
        sa.Column("train_to", sa.Date(), nullable=False),
        sa.Column("validation_from", sa.Date(), nullable=False),
        sa.Column("validation_to", sa.Date(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("card", sa.JSON(), nullable=False),
        sa.Column("artefact_path", sa.String(length=1000), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["scope_unit_id"], ["units.unit_id"], name=op.f("fk_churn_models_scope_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("model_id", name=op.f("pk_churn_models")),
    )
    op.create_index(op.f("ix_churn_models_scope_unit_id"), "churn_models", ["scope_unit_id"], unique=False)
    op.create_table(
        "churn_outreach",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("campaign", sa.String(length=100), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("risk", sa.Float(), nullable=False),
        sa.Column("clv", sa.Float(), nullable=True),
        sa.Column("expected_value_lost", sa.Float(), nullable=True),
        sa.Column("arm", sa.String(length=16), nullable=False),
        sa.Column("randomised", sa.Boolean(), nullable=False),
        sa.Column("holdout_share", sa.Float(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["model_id"], ["churn_models.model_id"], name=op.f("fk_churn_outreach_model_id_churn_models")
        ),
        sa.ForeignKeyConstraint(["unit_id"], ["units.unit_id"], name=op.f("fk_churn_outreach_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_churn_outreach")),
        sa.UniqueConstraint("campaign", "customer_id", name=op.f("uq_churn_outreach_campaign")),
    )
    op.create_index(op.f("ix_churn_outreach_campaign"), "churn_outreach", ["campaign"], unique=False)
    op.create_index(op.f("ix_churn_outreach_model_id"), "churn_outreach", ["model_id"], unique=False)
    op.create_index(op.f("ix_churn_outreach_unit_id"), "churn_outreach", ["unit_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_churn_outreach_unit_id"), table_name="churn_outreach")
    op.drop_index(op.f("ix_churn_outreach_model_id"), table_name="churn_outreach")
    op.drop_index(op.f("ix_churn_outreach_campaign"), table_name="churn_outreach")
    op.drop_table("churn_outreach")
    op.drop_index(op.f("ix_churn_models_scope_unit_id"), table_name="churn_models")
    op.drop_table("churn_models")
