"""api keys: long-lived, hashed keys for integrations, each scoped to a unit's subtree

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 11:40:00

Written by hand after Alembic's autogenerate output for ``cxloop.store.tables.ApiKey``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "admin",
                "executive",
                "manager",
                "analyst",
                "frontline",
                name="api_key_role",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["unit_id"], ["units.unit_id"], name=op.f("fk_api_keys_unit_id_units")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_index(op.f("ix_api_keys_unit_id"), "api_keys", ["unit_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_api_keys_unit_id"), table_name="api_keys")
    op.drop_table("api_keys")
