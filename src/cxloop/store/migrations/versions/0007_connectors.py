"""survey-tool connectors: upload jobs of the admin upload page

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 13:20:00

Written from Alembic's autogenerate output against ``cxloop.store.tables.imports`` (UploadJob), then
checked by hand; constraint names follow the naming convention of ``cxloop.store.tables`` so SQLite and
PostgreSQL get the same schema. Saved mappings are YAML files, not rows (see the table module).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "upload_jobs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("stored_path", sa.Text(), nullable=False),
        sa.Column("detected_format", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by_user_id", sa.Integer(), nullable=True),
        sa.Column("mapping", sa.JSON(), nullable=False),
        sa.Column("include_preview", sa.Boolean(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"], ["users.id"], name=op.f("fk_upload_jobs_created_by_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_upload_jobs")),
    )


def downgrade() -> None:
    op.drop_table("upload_jobs")
